/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The conntrack snapshot: an open-addressing hash of one dump's entries. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/ct_table.h"

struct ct_table {
	struct ct_entry *v; /* cap slots; proto 0 marks an empty one */
	size_t cap, n;
	size_t max;   /* entries kept at most */
	bool partial; /* an entry past max was left out */
	uint64_t taken_ns;
	atomic_uint refs;
};

/* Slots for n entries: a power of two, at most three quarters full, so a
 * probe ends soon. */
static size_t
ct_table_slots(size_t n)
{
	size_t cap = 64;

	while (cap / 4 * 3 < n && cap < ((size_t)1 << 30))
		cap <<= 1;
	return cap;
}

size_t
ct_table_bytes_max(size_t entries)
{
	size_t cap = ct_table_slots(entries);

	/* While it grows the old slots are held beside the new. */
	return sizeof(struct ct_table) +
	       (cap + cap / 2) * sizeof(struct ct_entry);
}

/* The hashed part of a key: proto, addresses and ports, no padding. */
static uint64_t
ct_table_hash(const struct ct_key *k)
{
	uint8_t buf[1 + 2 * sizeof(struct sp_addr) + 4];
	size_t off = 0;

	buf[off++] = k->proto;
	memcpy(buf + off, &k->src, sizeof(k->src));
	off += sizeof(k->src);
	memcpy(buf + off, &k->dst, sizeof(k->dst));
	off += sizeof(k->dst);
	memcpy(buf + off, &k->sport, 2);
	memcpy(buf + off + 2, &k->dport, 2);
	return sp_hash(buf, sizeof(buf), 0x63745f7461626c65ull);
}

static bool
ct_table_same(const struct ct_key *a, const struct ct_key *b)
{
	return a->proto == b->proto && a->sport == b->sport &&
	       a->dport == b->dport &&
	       memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	       memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0;
}

/* The slot that holds k, or the empty one where it would go. */
static struct ct_entry *
ct_table_slot(struct ct_entry *v, size_t cap, const struct ct_key *k)
{
	size_t i = (size_t)ct_table_hash(k) & (cap - 1);

	while (v[i].key.proto != 0 && !ct_table_same(&v[i].key, k))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

struct ct_table *
ct_table_new(size_t hint, uint64_t taken_ns)
{
	struct ct_table *t = calloc(1, sizeof(*t));
	size_t cap = ct_table_slots(hint);

	if (t == NULL)
		return NULL;
	if ((t->v = calloc(cap, sizeof(*t->v))) == NULL) {
		free(t);
		return NULL;
	}
	t->cap = cap;
	t->max = SIZE_MAX;
	t->taken_ns = taken_ns;
	atomic_init(&t->refs, 1);
	return t;
}

void
ct_table_hold(struct ct_table *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void
ct_table_free(struct ct_table *t)
{
	if (t == NULL ||
	    atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(t->v);
	free(t);
}

/* Twice the slots, every entry placed again. */
static int
ct_table_grow(struct ct_table *t)
{
	size_t cap = t->cap * 2, i;
	struct ct_entry *v = calloc(cap, sizeof(*v));

	if (v == NULL)
		return -1;
	for (i = 0; i < t->cap; i++)
		if (t->v[i].key.proto != 0)
			*ct_table_slot(v, cap, &t->v[i].key) = t->v[i];
	free(t->v);
	t->v = v;
	t->cap = cap;
	return 0;
}

int
ct_table_add(struct ct_table *t, const struct ct_entry *e)
{
	struct ct_entry *slot;

	/* Protocol 0 (IPv6 hop-by-hop) never carries a flow: it marks the
	 * empty slot. */
	if (e->key.proto == 0)
		return 0;
	if (t->n >= t->max) {
		if (ct_table_slot(t->v, t->cap, &e->key)->key.proto == 0) {
			t->partial = true;
			return 0;
		}
	} else if (t->cap / 4 * 3 < t->n + 1 && ct_table_grow(t) != 0)
		return -1;
	slot = ct_table_slot(t->v, t->cap, &e->key);
	if (slot->key.proto == 0)
		t->n++;
	*slot = *e;
	return 0;
}

const struct ct_entry *
ct_table_find(const struct ct_table *t, const struct ct_key *k, int *dir)
{
	struct ct_key r;
	const struct ct_entry *e;

	if (t == NULL || k->proto == 0)
		return NULL;
	e = ct_table_slot(t->v, t->cap, k);
	if (e->key.proto != 0) {
		*dir = 0;
		return e;
	}
	r.proto = k->proto;
	r.src = k->dst;
	r.dst = k->src;
	r.sport = k->dport;
	r.dport = k->sport;
	e = ct_table_slot(t->v, t->cap, &r);
	if (e->key.proto != 0) {
		*dir = 1;
		return e;
	}
	return NULL;
}

void
ct_table_limit(struct ct_table *t, size_t max)
{
	t->max = max;
}

bool
ct_table_partial(const struct ct_table *t)
{
	return t != NULL && t->partial;
}

size_t
ct_table_count(const struct ct_table *t)
{
	return t != NULL ? t->n : 0;
}

uint64_t
ct_table_taken(const struct ct_table *t)
{
	return t != NULL ? t->taken_ns : 0;
}

struct ct_table_fill {
	struct ct_table *t;
	bool oom;
};

static void
ct_table_fill_one(const struct ct_entry *e, void *arg)
{
	struct ct_table_fill *x = arg;

	if (!x->oom && ct_table_add(x->t, e) != 0)
		x->oom = true;
}

struct ct_table *
ct_table_dump(struct ct *c, size_t hint, size_t max, uint64_t now_ns, char *err,
              size_t errlen)
{
	struct ct_table_fill x = {ct_table_new(hint < max ? hint : max, now_ns),
	                          false};

	if (x.t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ct_table_limit(x.t, max);
	if (ct_dump(c, ct_table_fill_one, &x) != 0 || x.oom) {
		snprintf(err, errlen, "%s",
		         x.oom ? "out of memory" : ct_error(c));
		ct_table_free(x.t);
		return NULL;
	}
	return x.t;
}

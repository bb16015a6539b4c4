/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The name cache: address -> names with expiry, capped, fed by DNS answers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "spackle/names.h"

#define NAMES_NIL     UINT32_MAX
#define NAMES_CAP_MAX (1u << 30)
#define NSEC          1000000000ull
/*
 * The names' bytes have a budget too: this much per address on average.
 * Beyond it the least recently added addresses go, as for the cap.
 */
#define NAMES_BYTES_PER_ADDR 128

struct names_name {
	uint64_t expires; /* valid while now_ns < expires */
	char *s;
};

struct names_entry {
	struct sp_addr addr;
	uint8_t n;           /* names held; 0 on the free list */
	uint32_t hnext;      /* hash chain, or free list */
	uint32_t prev, next; /* add order: head is the least recent */
	struct names_name v[SP_NAMES_PER_ADDR]; /* most recent first */
};

struct names_cache {
	struct names_entry *pool;
	uint32_t *bucket;
	uint32_t mask;
	uint32_t cap;
	uint32_t free_head;
	uint32_t head, tail;
	uint64_t seed;
	size_t bytes, bytes_max;
	struct names_stats st;
};

/*
 * Stats: entries = addresses held; added = names stored (a refresh is not
 * counted); expired = names dropped after their TTL; dropped = names dropped
 * to stay within a cap; answers = packets that gave addresses; bad = packets
 * from a DNS port that were short or malformed.
 */

struct names_cache *
names_new(size_t cap)
{
	struct names_cache *c;
	uint32_t nb = 1, i;
	ssize_t r;

	if (cap == 0)
		cap = SP_NAMES_DEFAULT;
	if (cap > NAMES_CAP_MAX) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < cap)
		nb <<= 1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->pool = calloc(cap, sizeof(*c->pool));
	c->bucket = malloc((size_t)nb * sizeof(*c->bucket));
	if (c->pool == NULL || c->bucket == NULL)
		goto fail;
	do {
		r = getrandom(&c->seed, sizeof(c->seed), 0);
	} while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(c->seed))
		goto fail;

	/* Every slot is written below: mapped first, in one go. */
	sp_prefault_zeroed(c->pool, cap * sizeof(*c->pool));
	sp_prefault_zeroed(c->bucket, (size_t)nb * sizeof(*c->bucket));
	c->cap = (uint32_t)cap;
	c->mask = nb - 1;
	memset(c->bucket, 0xff, (size_t)nb * sizeof(*c->bucket));
	for (i = 0; i < c->cap; i++)
		c->pool[i].hnext = i + 1 < c->cap ? i + 1 : NAMES_NIL;
	c->free_head = 0;
	c->head = c->tail = NAMES_NIL;
	c->bytes_max = cap * NAMES_BYTES_PER_ADDR;
	/* One address must always fit with all its names. */
	if (c->bytes_max < SP_NAMES_PER_ADDR * (SP_NAME_MAX + 1))
		c->bytes_max = SP_NAMES_PER_ADDR * (SP_NAME_MAX + 1);
	return c;

fail:
	names_free(c);
	return NULL;
}

size_t
names_bytes_max(size_t cap)
{
	size_t nb = 1, bytes;

	if (cap == 0)
		cap = SP_NAMES_DEFAULT;
	bytes = cap * NAMES_BYTES_PER_ADDR;
	while (nb < cap)
		nb <<= 1;
	if (bytes < SP_NAMES_PER_ADDR * (SP_NAME_MAX + 1))
		bytes = SP_NAMES_PER_ADDR * (SP_NAME_MAX + 1);
	/* A name's malloc carries up to 16 bytes beside it. */
	return sizeof(struct names_cache) + cap * sizeof(struct names_entry) +
	       nb * sizeof(uint32_t) + bytes + cap * SP_NAMES_PER_ADDR * 16;
}

void
names_free(struct names_cache *c)
{
	uint32_t i, j;

	if (c == NULL)
		return;
	if (c->pool != NULL) {
		for (i = 0; i < c->cap; i++) {
			for (j = 0; j < c->pool[i].n; j++)
				free(c->pool[i].v[j].s);
		}
	}
	free(c->pool);
	free(c->bucket);
	free(c);
}

static inline uint32_t
names_bucket(const struct names_cache *c, const struct sp_addr *a)
{
	return (uint32_t)sp_hash(a->b, sizeof(a->b), c->seed ^ a->family) &
	       c->mask;
}

static uint32_t
names_find(const struct names_cache *c, const struct sp_addr *a)
{
	uint32_t i;

	for (i = c->bucket[names_bucket(c, a)]; i != NAMES_NIL;
	     i = c->pool[i].hnext) {
		if (sp_addr_equal(&c->pool[i].addr, a))
			return i;
	}
	return NAMES_NIL;
}

static void
names_list_unlink(struct names_cache *c, uint32_t i)
{
	struct names_entry *e = &c->pool[i];

	if (e->prev != NAMES_NIL)
		c->pool[e->prev].next = e->next;
	else
		c->head = e->next;
	if (e->next != NAMES_NIL)
		c->pool[e->next].prev = e->prev;
	else
		c->tail = e->prev;
}

static void
names_list_append(struct names_cache *c, uint32_t i)
{
	struct names_entry *e = &c->pool[i];

	e->next = NAMES_NIL;
	e->prev = c->tail;
	if (c->tail != NAMES_NIL)
		c->pool[c->tail].next = i;
	else
		c->head = i;
	c->tail = i;
}

/* Drop name k of e; the caller counts why. */
static void
names_drop(struct names_cache *c, struct names_entry *e, unsigned k)
{
	c->bytes -= strlen(e->v[k].s) + 1;
	free(e->v[k].s);
	memmove(&e->v[k], &e->v[k + 1], (e->n - k - 1) * sizeof(e->v[0]));
	e->n--;
}

/* Drop the names of e that have expired; true when none is left. */
static bool
names_purge(struct names_cache *c, struct names_entry *e, uint64_t now_ns)
{
	unsigned k = 0;

	while (k < e->n) {
		if (e->v[k].expires > now_ns) {
			k++;
			continue;
		}
		names_drop(c, e, k);
		c->st.expired++;
	}
	return e->n == 0;
}

/* Take entry i out of the table, its names counted by the caller. */
static void
names_remove(struct names_cache *c, uint32_t i)
{
	struct names_entry *e = &c->pool[i];
	uint32_t *pp = &c->bucket[names_bucket(c, &e->addr)];

	while (*pp != i)
		pp = &c->pool[*pp].hnext;
	*pp = e->hnext;
	names_list_unlink(c, i);
	while (e->n > 0)
		names_drop(c, e, (unsigned)e->n - 1);
	e->hnext = c->free_head;
	c->free_head = i;
	c->st.entries--;
}

/* Make room by dropping the least recently added address. */
static void
names_evict_head(struct names_cache *c)
{
	c->st.dropped += c->pool[c->head].n;
	names_remove(c, c->head);
}

static uint32_t
names_insert(struct names_cache *c, const struct sp_addr *addr, uint64_t now_ns)
{
	struct names_entry *e;
	uint32_t i, b;

	/* An entry whose names have all expired at the head is free. */
	if (c->head != NAMES_NIL && names_purge(c, &c->pool[c->head], now_ns))
		names_remove(c, c->head);
	if (c->free_head == NAMES_NIL)
		names_evict_head(c);
	i = c->free_head;
	e = &c->pool[i];
	c->free_head = e->hnext;

	e->addr = *addr;
	e->n = 0;
	b = names_bucket(c, addr);
	e->hnext = c->bucket[b];
	c->bucket[b] = i;
	names_list_append(c, i);
	c->st.entries++;
	return i;
}

void
names_add(struct names_cache *c, const struct sp_addr *addr, const char *name,
          uint32_t ttl, uint64_t now_ns)
{
	char low[SP_NAME_MAX + 1];
	struct names_entry *e;
	struct names_name nn;
	size_t len, k;
	uint32_t i;

	if (name == NULL || addr->family == 0)
		return;
	len = strnlen(name, SP_NAME_MAX + 1);
	if (len == 0 || len > SP_NAME_MAX)
		return;
	for (k = 0; k < len; k++) {
		low[k] = name[k];
		if (low[k] >= 'A' && low[k] <= 'Z')
			low[k] = (char)(low[k] - 'A' + 'a');
	}
	low[len] = '\0';
	nn.expires = now_ns + (uint64_t)(ttl ? ttl : 1) * NSEC;

	if ((i = names_find(c, addr)) == NAMES_NIL) {
		i = names_insert(c, addr, now_ns);
	} else {
		names_list_unlink(c, i);
		names_list_append(c, i);
	}
	e = &c->pool[i];
	names_purge(c, e, now_ns);

	/* The same name again: refresh it and make it the most recent. */
	for (k = 0; k < e->n; k++) {
		if (strcmp(e->v[k].s, low) == 0)
			break;
	}
	if (k < e->n) {
		nn.s = e->v[k].s;
		memmove(&e->v[1], &e->v[0], k * sizeof(e->v[0]));
		e->v[0] = nn;
		return;
	}

	if (e->n == SP_NAMES_PER_ADDR) {
		names_drop(c, e, (unsigned)e->n - 1);
		c->st.dropped++;
	}
	/* e is the tail, so the head is another address until e is alone. */
	while (c->bytes + len + 1 > c->bytes_max && c->head != i)
		names_evict_head(c);
	if ((nn.s = malloc(len + 1)) == NULL) {
		c->st.dropped++;
		goto out;
	}
	memcpy(nn.s, low, len + 1);
	memmove(&e->v[1], &e->v[0], e->n * sizeof(e->v[0]));
	e->v[0] = nn;
	e->n++;
	c->bytes += len + 1;
	c->st.added++;
out:
	if (e->n == 0)
		names_remove(c, i);
}

size_t
names_lookup(struct names_cache *c, const struct sp_addr *addr, uint64_t now_ns,
             const char **out, size_t max)
{
	const struct names_entry *e;
	size_t n = 0;
	unsigned k;
	uint32_t i;

	if ((i = names_find(c, addr)) == NAMES_NIL)
		return 0;
	e = &c->pool[i];
	for (k = 0; k < e->n && n < max; k++) {
		if (e->v[k].expires > now_ns)
			out[n++] = e->v[k].s;
	}
	return n;
}

void
names_stats(const struct names_cache *c, struct names_stats *st)
{
	*st = c->st;
}

struct names_feed {
	struct names_cache *c;
	uint64_t now_ns;
	names_added_fn fn;
	void *arg;
};

/*
 * Add the chain from its end to the question, so that the question is the
 * most recent: names_lookup() then gives the chain in order, question first.
 */
static void
names_feed_answer(const struct dns_addr_names *an, void *arg)
{
	struct names_feed *fd = arg;
	unsigned k;

	for (k = an->n; k-- > 0;) {
		names_add(fd->c, &an->addr, an->names[k], an->ttl, fd->now_ns);
		if (fd->fn != NULL)
			fd->fn(&an->addr, an->names[k], an->ttl, fd->arg);
	}
}

enum dns_status
names_feed_packet(struct names_cache *c, const struct packet *pkt,
                  uint64_t now_ns)
{
	return names_feed_packet_cb(c, pkt, now_ns, NULL, NULL);
}

enum dns_status
names_feed_packet_cb(struct names_cache *c, const struct packet *pkt,
                     uint64_t now_ns, names_added_fn fn, void *arg)
{
	struct names_feed fd = {c, now_ns, fn, arg};
	enum dns_status s;

	if (pkt->flags & PACKET_F_FRAG_LATER)
		return DNS_NOT_ANSWER;
	if (pkt->sport != 53 && pkt->sport != 5353)
		return DNS_NOT_ANSWER;
	if (pkt->proto == SP_PROTO_UDP)
		s = dns_parse_response(pkt->payload.p, pkt->payload.len,
		                       names_feed_answer, &fd);
	else if (pkt->proto == SP_PROTO_TCP)
		s = dns_parse_tcp(pkt->payload.p, pkt->payload.len,
		                  names_feed_answer, &fd);
	else
		return DNS_NOT_ANSWER;
	if (s == DNS_OK)
		c->st.answers++;
	else if (s == DNS_SHORT || s == DNS_BAD)
		c->st.bad++;
	return s;
}

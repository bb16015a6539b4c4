/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The producers' side of the store: records put into lock-free rings. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spackle/flow.h"
#include "spackle/rules.h"
#include "src/store_int.h"

/* ---- table entries ------------------------------------------------------- */

bool
store_flow_due(const struct flow *f, uint64_t tick, uint64_t now_ns)
{
	return f->id % STORE_SWEEP_SLICES == tick % STORE_SWEEP_SLICES &&
	       f->last_ns + STORE_SWEEP_SLICES * 1000000000ull >= now_ns;
}

void
store_flow_from_entry(struct store_flow *r, const struct flow *f,
                      const char *host, const char *exe,
                      const struct ruleset *rules, char *rule_buf,
                      size_t rule_len)
{
	const struct sp_addr *la, *ra;
	const struct rules_rule *rr = NULL;
	/* Index 0 counts the first packet's sender: local for out flows
	 * (as `conns` reads it). */
	int out = f->dir == SP_DIR_OUT ? 0 : 1;

	memset(r, 0, sizeof(*r));
	r->id = f->id;
	r->first_ns = f->first_ns;
	r->last_ns = f->last_ns;
	r->packets_out = f->packets[out];
	r->packets_in = f->packets[!out];
	r->bytes_out = f->bytes[out];
	r->bytes_in = f->bytes[!out];
	flow_local(f, &la, &r->local_port);
	flow_remote(f, &ra, &r->remote_port);
	r->local = *la;
	r->remote = *ra;
	r->proto = f->key.proto;
	r->dir = f->dir;
	r->verdict = f->verdict;
	if (f->flags & FLOW_F_MONITOR)
		r->flags |= STORE_FLOW_MONITOR;
	if (f->flags & FLOW_F_EVICTED)
		r->flags |= STORE_FLOW_ENDED;
	r->pid = f->pid;
	r->uid = f->uid;
	r->exe = exe;
	r->host = host;
	r->rule = NULL;
	if (rule_buf == NULL || rule_len == 0)
		return;
	/* FILE:LINE of the deciding rule, or "default". */
	if (f->rule == FLOW_RULE_DEFAULT) {
		rules_format_where(rule_buf, rule_len, NULL);
		r->rule = rule_buf;
	} else if (f->rule != FLOW_RULE_NONE && rules != NULL &&
	           (rr = rules_get(rules, f->rule)) != NULL) {
		rules_format_where(rule_buf, rule_len, rr);
		r->rule = rule_buf;
	}
}

/* ---- the rings ----------------------------------------------------------- */

void
store_kick(struct store *s)
{
	uint64_t one = 1;

	if (atomic_load_explicit(&s->kicked, memory_order_relaxed) ||
	    atomic_exchange(&s->kicked, true))
		return;
	if (write(s->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the writer wakes anyway. */
	}
}

/* Single-writer counter: a plain add, visible to readers of stats. */
static inline void
bump(_Atomic uint64_t *c)
{
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/*
 * Reserve room for a record of `len` payload bytes; NULL when the ring is
 * full. *hp gets the head to publish with ring_commit().
 */
static uint8_t *
ring_reserve(struct store_producer *p, size_t len, enum ring_kind kind,
             uint64_t *hp)
{
	uint64_t h = atomic_load_explicit(&p->head, memory_order_relaxed);
	uint64_t need = (RING_HDR + len + 7) & ~(uint64_t)7;
	uint64_t off = h & p->mask, contig = p->cap - off, total = need;
	uint8_t hdr[RING_HDR] = {0};

	if (contig < need)
		total = contig + need;
	if (h + total - p->tail_cache > p->cap) {
		p->tail_cache =
		        atomic_load_explicit(&p->tail, memory_order_acquire);
		if (h + total - p->tail_cache > p->cap)
			return NULL;
	}
	if (contig < need) {
		put32(hdr, (uint32_t)(contig - RING_HDR));
		hdr[4] = RING_PAD;
		memcpy(p->buf + off, hdr, RING_HDR);
		h += contig;
		off = 0;
	}
	put32(hdr, (uint32_t)len);
	hdr[4] = (uint8_t)kind;
	memcpy(p->buf + off, hdr, RING_HDR);
	*hp = h + need;
	return p->buf + off + RING_HDR;
}

static void
ring_commit(struct store_producer *p, uint64_t h)
{
	struct store *s = p->s;
	uint64_t q = atomic_load_explicit(&p->queued, memory_order_relaxed) + 1;

	atomic_store_explicit(&p->queued, q, memory_order_relaxed);
	atomic_store_explicit(&p->head, h, memory_order_release);
	/* Wake the writer early when this ring holds a flush's worth. */
	if (q - p->popped_cache >= s->cfg.flush_records ||
	    h - p->tail_cache >= p->cap / 2) {
		p->popped_cache =
		        atomic_load_explicit(&p->popped, memory_order_acquire);
		p->tail_cache =
		        atomic_load_explicit(&p->tail, memory_order_acquire);
		if (q - p->popped_cache >= s->cfg.flush_records ||
		    h - p->tail_cache >= p->cap / 2)
			store_kick(s);
	}
}

static int
ring_full(struct store_producer *p, unsigned opts)
{
	bump((opts & STORE_PUT_RETRY) ? &p->deferred : &p->lost);
	store_kick(p->s);
	return -ENOBUFS;
}

int
store_put_flow(struct store_producer *p, const struct store_flow *r,
               unsigned opts)
{
	size_t n;
	uint64_t h;
	uint8_t *d;

	if (p == NULL || r == NULL)
		return -EINVAL;
	n = store_flow_size(r);
	if ((d = ring_reserve(p, 8 + n, RING_FLOW, &h)) == NULL)
		return ring_full(p, opts);
	putbe64(d, r->id);
	store_flow_encode(r, d + 8, n);
	ring_commit(p, h);
	return 0;
}

int
store_put_flow_entry(struct store_producer *p, const struct flow *f,
                     const char *host, const char *exe,
                     const struct ruleset *rules, uint32_t flags, unsigned opts)
{
	struct store_flow r;
	char rule[SP_PATH_MAX + 16];

	if (p == NULL || f == NULL)
		return -EINVAL;
	store_flow_from_entry(&r, f, host, exe, rules, rule, sizeof(rule));
	r.flags |= flags;
	return store_put_flow(p, &r, opts);
}

int
store_put_event(struct store_producer *p, uint64_t ts_ns,
                enum store_event_type type, uint64_t flow_id, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	uint64_t h;
	uint8_t *d;

	if (p == NULL)
		return -EINVAL;
	if (n > STORE_EVENT_MAX)
		n = STORE_EVENT_MAX;
	if ((d = ring_reserve(p, 8 + EVENT_FIXED + n + 1, RING_EVENT, &h)) ==
	    NULL)
		return ring_full(p, 0);
	put64(d, ts_ns ? ts_ns : sp_now_wall());
	store_event_encode(d + 8, type, flow_id, text, n);
	ring_commit(p, h);
	return 0;
}

int
store_put_name(struct store_producer *p, const struct sp_addr *addr,
               const char *name, enum store_name_source src, uint64_t expiry_ns)
{
	size_t n;
	uint64_t h;
	uint8_t *d;

	if (p == NULL || addr == NULL || name == NULL)
		return -EINVAL;
	if ((n = strlen(name)) > SP_NAME_MAX || n == 0)
		return -EINVAL;
	if ((d = ring_reserve(p, NAMES_KEY + 9 + n, RING_NAME, &h)) == NULL)
		return ring_full(p, 0);
	store_names_key(addr, d);
	put64(d + NAMES_KEY, expiry_ns);
	d[NAMES_KEY + 8] = (uint8_t)src;
	memcpy(d + NAMES_KEY + 9, name, n);
	ring_commit(p, h);
	return 0;
}

struct store_producer *
store_producer(struct store *s, unsigned i)
{
	if (s == NULL || i >= s->nprod)
		return NULL;
	return &s->prod[i];
}

bool
store_producer_ahead(struct store_producer *p)
{
	uint64_t h;

	if (p == NULL)
		return false;
	h = atomic_load_explicit(&p->head, memory_order_relaxed);
	/* After the first lap every page has been written once. */
	if (h >= p->cap)
		return false;
	return sp_ahead_fill(&p->ahead, p->buf + h);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The flow table: a preallocated pool, hash chains and per-class LRU lists. */
#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "spackle/flow.h"

#define FLOW_NIL     UINT32_MAX
#define FLOW_FREE    FLOW_CLASS_COUNT /* cls of a slot on the free list */
#define FLOW_CAP_MAX (1u << 30)
#define NSEC         1000000000ull

/*
 * Later fragments carry no ports: the first fragment's (src, dst, proto, id)
 * points at its flow. 256 sets of 4 entries; a new datagram takes an empty
 * entry of its set or the oldest one.
 */
#define FRAG_SETS 256
#define FRAG_WAYS 4

_Static_assert(sizeof(struct flow) <= 256, "struct flow outgrew 256 bytes");
/* The key is hashed and compared whole, so it must have no padding. */
_Static_assert(sizeof(struct flow_key) == 2 * sizeof(struct sp_addr) + 6,
               "struct flow_key has padding");
_Static_assert(sizeof(struct flow_key) % 8 == 0,
               "flow_key_equal() reads words");

/*
 * Idle timeouts in seconds, with what Linux conntrack allows for comparison.
 * We are shorter where an idle entry only holds a slot: an unanswered open
 * goes after 30 s, an idle established connection after an hour (TCP
 * keepalives, every 2 h by default, do not keep it: the next packet makes a
 * new flow, picked up mid-stream). A half-closed connection (one FIN) may
 * still carry data the other way, so it keeps the established timeout; a
 * closed one (both FINs, or a RST) lingers 10 s for the last ACKs.
 */
static const uint32_t flow_timeout_default[FLOW_CLASS_COUNT] = {
        [FLOW_CLASS_TCP_OPENING] = 30,       /* SYN_SENT 120, SYN_RECV 60 */
        [FLOW_CLASS_TCP_ESTABLISHED] = 3600, /* ESTABLISHED 432000 */
        [FLOW_CLASS_TCP_CLOSING] = 10,       /* CLOSE 10, TIME_WAIT 120 */
        [FLOW_CLASS_UDP] = 60,               /* 30 unreplied, 120 stream */
        [FLOW_CLASS_ICMP] = 30,              /* 30 */
        [FLOW_CLASS_OTHER] = 60,             /* generic 600 */
};

/* What a later fragment has: no ports. Hashed and compared whole. */
struct frag_key {
	uint8_t src[16], dst[16];
	uint32_t id;
	uint8_t proto, family;
	uint8_t pad[2];
};

struct frag_entry {
	struct frag_key key;
	uint64_t flow_id; /* what the slot held; stale when it differs */
	uint64_t seq;     /* insertion order within the table */
	uint32_t slot;    /* FLOW_NIL: empty */
	uint8_t dir;
};

struct flow_list {
	uint32_t head, tail; /* head: idle longest */
};

struct flow_table {
	struct flow *pool;
	uint32_t *bucket;
	uint32_t mask; /* buckets - 1 */
	uint32_t cap;
	uint32_t free_head; /* slots freed again; FLOW_NIL: none */
	/* Slots handed out at least once: every live flow lies below, and
	 * the slots above were never written (nor mapped: a fresh calloc of
	 * that size is). The free list gives the latest freed slot first and
	 * a new flow takes a slot above only when it is empty, so this stays
	 * near the most flows ever live at once, not the cap, and so does
	 * the memory the pool takes. */
	uint32_t used;
	struct sp_ahead ahead; /* the pool's pages mapped past `used` */
	uint64_t seed;
	uint64_t clock; /* the latest now_ns seen: lists stay ordered */
	uint64_t grain; /* a flow moves to its list's tail at most this often */
	uint64_t timeout_ns[FLOW_CLASS_COUNT];
	struct flow_list list[FLOW_CLASS_COUNT];
	struct flow_stats st;
	flow_cb cb;
	void *cb_arg;
	uint64_t frag_seq;
	struct frag_entry frag[FRAG_SETS * FRAG_WAYS];
};

/*
 * Flow ids come from one counter shared by every table of the process (one
 * per worker), so they are unique across shards. Each new table lifts it to
 * at least the wall clock in nanoseconds: ids grow with creation time within
 * a run and across restarts, as long as fewer than 10^9 flows a second are
 * created on average. Never 0.
 */
static _Atomic uint64_t flow_next_id;

static void
flow_ids_lift(void)
{
	uint64_t wall = sp_now_wall();
	uint64_t cur = atomic_load(&flow_next_id);

	while (cur < wall &&
	       !atomic_compare_exchange_weak(&flow_next_id, &cur, wall))
		;
}

static uint64_t
flow_id_next(void)
{
	return atomic_fetch_add_explicit(&flow_next_id, 1,
	                                 memory_order_relaxed);
}

uint64_t
flow_id_new(void)
{
	flow_ids_lift();
	return flow_id_next();
}

static int
flow_seed(uint64_t *seed)
{
	ssize_t n;

	do {
		n = getrandom(seed, sizeof(*seed), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*seed))
		return -1;
	return 0;
}

struct flow_table *
flow_table_new(const struct flow_config *cfg)
{
	struct flow_table *t;
	uint32_t cap = SP_FLOWS_DEFAULT, nb = 1, i;
	int c;

	if (cfg != NULL && cfg->max_flows != 0)
		cap = cfg->max_flows;
	if (cap > FLOW_CAP_MAX) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < cap)
		nb <<= 1;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->pool = calloc(cap, sizeof(*t->pool));
	t->bucket = malloc((size_t)nb * sizeof(*t->bucket));
	if (t->pool == NULL || t->bucket == NULL)
		goto fail;
	if (flow_seed(&t->seed) != 0)
		goto fail;
	/* Every bucket is written below: mapped first, in one go. The pool
	 * is left as calloc gave it: a slot is written when a flow first
	 * takes it (flow_create). */
	sp_prefault_zeroed(t->bucket, (size_t)nb * sizeof(*t->bucket));

	t->cap = cap;
	sp_ahead_init(&t->ahead, t->pool, (size_t)cap * sizeof(*t->pool));
	t->mask = nb - 1;
	memset(t->bucket, 0xff, (size_t)nb * sizeof(*t->bucket));
	t->free_head = FLOW_NIL;
	for (c = 0; c < FLOW_CLASS_COUNT; c++) {
		uint32_t s = flow_timeout_default[c];

		if (cfg != NULL && cfg->timeout[c] != 0)
			s = cfg->timeout[c];
		t->timeout_ns[c] = (uint64_t)s * NSEC;
		t->list[c].head = t->list[c].tail = FLOW_NIL;
	}
	t->grain = NSEC;
	for (c = 0; c < FLOW_CLASS_COUNT; c++) {
		if (t->timeout_ns[c] / 16 < t->grain)
			t->grain = t->timeout_ns[c] / 16;
	}
	for (i = 0; i < FRAG_SETS * FRAG_WAYS; i++)
		t->frag[i].slot = FLOW_NIL;
	flow_ids_lift();
	return t;

fail:
	flow_table_free(t);
	return NULL;
}

uint32_t
flow_table_slots(const struct flow_table *t)
{
	return t->used;
}

bool
flow_table_ahead(struct flow_table *t)
{
	return sp_ahead_fill(&t->ahead, t->pool + t->used);
}

void
flow_table_free(struct flow_table *t)
{
	if (t == NULL)
		return;
	free(t->pool);
	free(t->bucket);
	free(t);
}

void
flow_set_evict_cb(struct flow_table *t, flow_cb cb, void *arg)
{
	t->cb = cb;
	t->cb_arg = arg;
}

/* memcmp() order of two addresses, a word at a time. */
static inline int
flow_addr_cmp(const uint8_t *x, const uint8_t *y)
{
	uint64_t a, b;
	int i;

	for (i = 0; i < 16; i += 8) {
		memcpy(&a, x + i, 8);
		memcpy(&b, y + i, 8);
		if (a != b)
			return be64toh(a) < be64toh(b) ? -1 : 1;
	}
	return 0;
}

void
flow_key_from_packet(struct flow_key *k, const struct packet *pkt,
                     bool *sender_is_a)
{
	int c;
	bool sa;

	memset(k, 0, sizeof(*k));
	c = flow_addr_cmp(pkt->src.b, pkt->dst.b);
	sa = c < 0 || (c == 0 && pkt->sport <= pkt->dport);
	if (sa) {
		memcpy(k->a.b, pkt->src.b, sizeof(k->a.b));
		memcpy(k->b.b, pkt->dst.b, sizeof(k->b.b));
		k->pa = pkt->sport;
		k->pb = pkt->dport;
	} else {
		memcpy(k->a.b, pkt->dst.b, sizeof(k->a.b));
		memcpy(k->b.b, pkt->src.b, sizeof(k->b.b));
		k->pa = pkt->dport;
		k->pb = pkt->sport;
	}
	k->a.family = k->b.family = k->family = pkt->family;
	k->proto = pkt->proto;
	if (sender_is_a != NULL)
		*sender_is_a = sa;
}

/*
 * An IPv4 key's addresses are 12 constant bytes and 4 that matter: hash two
 * words built from what matters instead of 40 bytes, on every packet's path.
 */
static inline uint32_t
flow_bucket(const struct flow_table *t, const struct flow_key *k)
{
	uint64_t w[2];
	uint32_t a, b;

	if (k->family != AF_INET)
		return (uint32_t)sp_hash(k, sizeof(*k), t->seed) & t->mask;
	memcpy(&a, k->a.b + 12, 4);
	memcpy(&b, k->b.b + 12, 4);
	w[0] = (uint64_t)a << 32 | b;
	w[1] = (uint64_t)k->pa << 32 | (uint64_t)k->pb << 16 | k->proto;
	return (uint32_t)sp_hash(w, sizeof(w), t->seed) & t->mask;
}

/* Keys have no padding (asserted above): compare them as five words. */
static inline bool
flow_key_equal(const struct flow_key *x, const struct flow_key *y)
{
	const uint8_t *p = (const uint8_t *)x, *q = (const uint8_t *)y;
	uint64_t a, b, d = 0;
	size_t i;

	for (i = 0; i < sizeof(*x); i += 8) {
		memcpy(&a, p + i, 8);
		memcpy(&b, q + i, 8);
		d |= a ^ b;
	}
	return d == 0;
}

static uint8_t
flow_class_of(const struct flow *f)
{
	switch (f->key.proto) {
	case SP_PROTO_TCP:
		break;
	case SP_PROTO_UDP:
		return FLOW_CLASS_UDP;
	case SP_PROTO_ICMP:
	case SP_PROTO_ICMP6:
		return FLOW_CLASS_ICMP;
	default:
		return FLOW_CLASS_OTHER;
	}
	switch (f->tcp_state) {
	case FLOW_TCP_ESTABLISHED:
		return FLOW_CLASS_TCP_ESTABLISHED;
	case FLOW_TCP_FIN_WAIT:
		/* A FIN nobody answered (a FIN scan) holds no connection. */
		if (f->packets[0] > 0 && f->packets[1] > 0)
			return FLOW_CLASS_TCP_ESTABLISHED;
		return FLOW_CLASS_TCP_OPENING;
	case FLOW_TCP_CLOSED:
		return FLOW_CLASS_TCP_CLOSING;
	default:
		/* SYN_SENT, or one side seen mid-stream. */
		return FLOW_CLASS_TCP_OPENING;
	}
}

static void
flow_list_unlink(struct flow_table *t, uint32_t i)
{
	struct flow *f = &t->pool[i];
	struct flow_list *l = &t->list[f->cls];

	if (f->lprev != FLOW_NIL)
		t->pool[f->lprev].lnext = f->lnext;
	else
		l->head = f->lnext;
	if (f->lnext != FLOW_NIL)
		t->pool[f->lnext].lprev = f->lprev;
	else
		l->tail = f->lprev;
}

static void
flow_list_append(struct flow_table *t, uint32_t i, uint64_t now)
{
	struct flow *f = &t->pool[i];
	struct flow_list *l = &t->list[f->cls];

	f->lru_ns = now;
	f->lnext = FLOW_NIL;
	f->lprev = l->tail;
	if (l->tail != FLOW_NIL)
		t->pool[l->tail].lnext = i;
	else
		l->head = i;
	l->tail = i;
}

/* Why a flow leaves the table, for its counter. */
enum flow_gone {
	FLOW_GONE_EXPIRED = 0,
	FLOW_GONE_EVICTED,
	FLOW_GONE_CLEARED, /* flow_table_clear(): neither */
};

/* Take slot i out of the table, hand a copy to the callback, free it. */
static void
flow_remove(struct flow_table *t, uint32_t i, enum flow_gone why)
{
	struct flow *f = &t->pool[i];
	uint32_t *pp = &t->bucket[flow_bucket(t, &f->key)];
	struct flow copy;
	bool evicted = why == FLOW_GONE_EVICTED;

	while (*pp != i)
		pp = &t->pool[*pp].hnext;
	*pp = f->hnext;
	flow_list_unlink(t, i);
	t->st.live--;
	if (evicted)
		t->st.evicted++;
	else if (why == FLOW_GONE_EXPIRED)
		t->st.expired++;

	if (t->cb != NULL) {
		copy = *f;
		if (evicted)
			copy.flags |= FLOW_F_EVICTED;
		t->cb(&copy, t->cb_arg);
	}

	f->cls = FLOW_FREE;
	f->id = 0;
	f->hnext = t->free_head;
	t->free_head = i;
}

void
flow_end(struct flow_table *t, struct flow *f)
{
	flow_remove(t, (uint32_t)(f - t->pool), FLOW_GONE_EXPIRED);
}

/* The head idle longest among the class lists. */
static void
flow_evict_oldest(struct flow_table *t)
{
	uint32_t best = FLOW_NIL, h;
	int c;

	for (c = 0; c < FLOW_CLASS_COUNT; c++) {
		h = t->list[c].head;
		if (h == FLOW_NIL)
			continue;
		if (best == FLOW_NIL ||
		    t->pool[h].last_ns < t->pool[best].last_ns)
			best = h;
	}
	if (best != FLOW_NIL)
		flow_remove(t, best, FLOW_GONE_EVICTED);
}

/*
 * Time never goes back inside the table: packets of a capture may be a
 * little out of order, and the LRU lists must stay sorted.
 */
static inline uint64_t
flow_clock(struct flow_table *t, uint64_t now_ns)
{
	if (now_ns > t->clock)
		t->clock = now_ns;
	return t->clock;
}

static struct flow *
flow_create(struct flow_table *t, const struct flow_key *k, bool sender_is_a,
            uint32_t b, uint64_t now)
{
	struct flow *f;
	uint32_t i;

	if (t->free_head == FLOW_NIL && t->used < t->cap) {
		i = t->used++;
		f = &t->pool[i];
	} else {
		if (t->free_head == FLOW_NIL)
			flow_evict_oldest(t);
		i = t->free_head;
		f = &t->pool[i];
		t->free_head = f->hnext;
	}

	memset(f, 0, sizeof(*f));
	f->slot = i;
	f->key = *k;
	f->id = flow_id_next();
	f->first_ns = f->last_ns = now;
	f->rule = FLOW_RULE_NONE;
	f->pid = -1;
	f->uid = FLOW_UID_UNKNOWN;
	f->verdict = SP_VERDICT_NONE;
	f->tcp_state = FLOW_TCP_NONE;
	if (sender_is_a)
		f->flags |= FLOW_F_ORIG_A;
	f->cls = flow_class_of(f);

	f->hnext = t->bucket[b];
	t->bucket[b] = i;
	flow_list_append(t, i, now);
	t->st.created++;
	t->st.live++;
	return f;
}

static void
frag_key_from_packet(struct frag_key *k, const struct packet *pkt)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, pkt->src.b, sizeof(k->src));
	memcpy(k->dst, pkt->dst.b, sizeof(k->dst));
	k->id = pkt->frag_id;
	k->proto = pkt->proto;
	k->family = pkt->family;
}

static struct frag_entry *
frag_set(struct flow_table *t, const struct frag_key *k)
{
	uint64_t h = sp_hash(k, sizeof(*k), t->seed);

	return &t->frag[(h & (FRAG_SETS - 1)) * FRAG_WAYS];
}

static void
frag_remember(struct flow_table *t, const struct packet *pkt, uint32_t slot,
              int dir)
{
	struct frag_key k;
	struct frag_entry *set, *e = NULL;
	int w;

	frag_key_from_packet(&k, pkt);
	set = frag_set(t, &k);
	for (w = 0; w < FRAG_WAYS; w++) {
		if (set[w].slot != FLOW_NIL &&
		    memcmp(&set[w].key, &k, sizeof(k)) == 0) {
			e = &set[w];
			break;
		}
	}
	for (w = 0; e == NULL && w < FRAG_WAYS; w++) {
		if (set[w].slot == FLOW_NIL)
			e = &set[w];
	}
	if (e == NULL) {
		e = &set[0];
		for (w = 1; w < FRAG_WAYS; w++) {
			if (set[w].seq < e->seq)
				e = &set[w];
		}
	}
	e->key = k;
	e->slot = slot;
	e->flow_id = t->pool[slot].id;
	e->seq = ++t->frag_seq;
	e->dir = (uint8_t)dir;
}

struct flow *
flow_lookup_fragment(struct flow_table *t, const struct packet *pkt, int *dir)
{
	struct frag_key k;
	struct frag_entry *set;
	struct flow *f;
	int w;

	frag_key_from_packet(&k, pkt);
	set = frag_set(t, &k);
	for (w = 0; w < FRAG_WAYS; w++) {
		if (set[w].slot == FLOW_NIL ||
		    memcmp(&set[w].key, &k, sizeof(k)) != 0)
			continue;
		f = &t->pool[set[w].slot];
		/* The flow may have left and its slot been taken since. */
		if (f->cls == FLOW_FREE || f->id != set[w].flow_id)
			return NULL;
		*dir = set[w].dir;
		return f;
	}
	return NULL;
}

struct flow *
flow_find(struct flow_table *t, const struct flow_key *k)
{
	uint32_t i;

	for (i = t->bucket[flow_bucket(t, k)]; i != FLOW_NIL;
	     i = t->pool[i].hnext) {
		if (flow_key_equal(&t->pool[i].key, k))
			return &t->pool[i];
	}
	return NULL;
}

uint32_t
flow_prefetch_bucket(const struct flow_table *t, const struct packet *pkt)
{
	struct flow_key k;
	uint32_t b;

	if (pkt->flags & PACKET_F_FRAG_LATER)
		return FLOW_NIL;
	flow_key_from_packet(&k, pkt, NULL);
	b = flow_bucket(t, &k);
	__builtin_prefetch(&t->bucket[b]);
	return b;
}

void
flow_prefetch_entry(const struct flow_table *t, uint32_t bucket)
{
	const char *f;
	uint32_t i;

	if (bucket == FLOW_NIL || (i = t->bucket[bucket]) == FLOW_NIL)
		return;
	/* An entry spans three cache lines: key, counters, links. */
	f = (const char *)&t->pool[i];
	__builtin_prefetch(f);
	__builtin_prefetch(f + 64);
	__builtin_prefetch(f + sizeof(struct flow) - 1);
}

struct flow *
flow_lookup(struct flow_table *t, const struct packet *pkt, uint64_t now_ns,
            bool *created, int *dir)
{
	struct flow_key k;
	struct flow *f = NULL;
	uint32_t b, i;
	bool sa;

	*created = false;
	*dir = 0;
	if (pkt->flags & PACKET_F_FRAG_LATER)
		return NULL;

	flow_key_from_packet(&k, pkt, &sa);
	b = flow_bucket(t, &k);
	for (i = t->bucket[b]; i != FLOW_NIL; i = t->pool[i].hnext) {
		if (flow_key_equal(&t->pool[i].key, &k)) {
			f = &t->pool[i];
			break;
		}
	}
	/*
	 * A SYN on a closed connection opens a new one on the same ports
	 * (TIME_WAIT reuse): it is a new flow, decided anew.
	 */
	if (f != NULL && f->tcp_state == FLOW_TCP_CLOSED &&
	    k.proto == SP_PROTO_TCP &&
	    (pkt->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_ACK)) ==
	            PACKET_TCP_SYN) {
		flow_remove(t, i, FLOW_GONE_EXPIRED);
		f = NULL;
	}
	if (f == NULL) {
		f = flow_create(t, &k, sa, b, flow_clock(t, now_ns));
		*created = true;
	}
	*dir = ((f->flags & FLOW_F_ORIG_A) != 0) == sa ? 0 : 1;

	if ((pkt->flags & (PACKET_F_FRAG | PACKET_F_FRAG_LATER)) ==
	    PACKET_F_FRAG)
		frag_remember(t, pkt, (uint32_t)(f - t->pool), *dir);
	return f;
}

/*
 * Enough of RFC 9293 3.3.2 to pick a timeout: SYN, the handshake's last
 * ACK, a FIN from each side, RST. Sequence numbers are not checked.
 */
static void
flow_tcp_update(struct flow *f, uint8_t fl, unsigned d)
{
	if (fl & PACKET_TCP_RST) {
		f->tcp_state = FLOW_TCP_CLOSED;
		return;
	}
	if ((fl & (PACKET_TCP_SYN | PACKET_TCP_ACK)) == PACKET_TCP_SYN &&
	    f->tcp_state == FLOW_TCP_NONE) {
		f->tcp_state = FLOW_TCP_SYN_SENT;
		return;
	}
	switch (f->tcp_state) {
	case FLOW_TCP_NONE:
		/* Picked up mid-stream: established once both sides talk. */
		if (f->packets[0] > 0 && f->packets[1] > 0)
			f->tcp_state = FLOW_TCP_ESTABLISHED;
		break;
	case FLOW_TCP_SYN_SENT:
		/* The opener ACKs after the other side answered (SYN-ACK). */
		if (d == 0 && f->packets[1] > 0 && (fl & PACKET_TCP_ACK) &&
		    !(fl & PACKET_TCP_SYN))
			f->tcp_state = FLOW_TCP_ESTABLISHED;
		break;
	default:
		break;
	}
	if (fl & PACKET_TCP_FIN) {
		f->fin_seen |= (uint8_t)(1u << d);
		if (f->tcp_state != FLOW_TCP_CLOSED)
			f->tcp_state = f->fin_seen == 3 ? FLOW_TCP_CLOSED
			                                : FLOW_TCP_FIN_WAIT;
	}
}

/*
 * A flow moves to the tail of its list when its class changes, or when it
 * last moved a grain ago or more: a busy flow does not touch its neighbours
 * on every packet. Each list stays sorted by lru_ns, and lru_ns <= last_ns <
 * lru_ns + grain, so expiry and eviction are exact to within a grain.
 */
void
flow_update(struct flow_table *t, struct flow *f, const struct packet *pkt,
            int dir, uint64_t now_ns)
{
	uint32_t i = (uint32_t)(f - t->pool);
	uint64_t now = flow_clock(t, now_ns);
	unsigned d = dir != 0;
	uint8_t cls;

	f->packets[d]++;
	f->bytes[d] += pkt->ip_len;
	f->last_ns = now;
	if (f->key.proto == SP_PROTO_TCP &&
	    !(pkt->flags & (PACKET_F_FRAG_LATER | PACKET_F_L4_SHORT)))
		flow_tcp_update(f, pkt->tcp_flags, d);

	cls = flow_class_of(f);
	if (cls == f->cls && now - f->lru_ns < t->grain)
		return;
	flow_list_unlink(t, i);
	f->cls = cls;
	flow_list_append(t, i, now);
}

/*
 * Each list is sorted by lru_ns, close enough to last_ns: stop at the first
 * head still alive. A flow behind it is then late by less than a grain.
 */
void
flow_table_clear(struct flow_table *t)
{
	uint32_t i;
	int c;

	for (c = 0; c < FLOW_CLASS_COUNT; c++)
		while ((i = t->list[c].head) != FLOW_NIL)
			flow_remove(t, i, FLOW_GONE_CLEARED);
}

size_t
flow_expire(struct flow_table *t, uint64_t now_ns)
{
	uint64_t now = flow_clock(t, now_ns);
	size_t n = 0;
	uint32_t i;
	int c;

	for (c = 0; c < FLOW_CLASS_COUNT; c++) {
		while ((i = t->list[c].head) != FLOW_NIL &&
		       now - t->pool[i].last_ns > t->timeout_ns[c]) {
			flow_remove(t, i, FLOW_GONE_EXPIRED);
			n++;
		}
	}
	return n;
}

void
flow_foreach(struct flow_table *t, void (*fn)(struct flow *f, void *arg),
             void *arg)
{
	uint32_t i, next;
	int c;

	for (c = 0; c < FLOW_CLASS_COUNT; c++) {
		for (i = t->list[c].head; i != FLOW_NIL; i = next) {
			next = t->pool[i].lnext;
			fn(&t->pool[i], arg);
		}
	}
}

uint32_t
flow_walk(struct flow_table *t, uint32_t from, uint32_t n,
          void (*fn)(struct flow *f, void *arg), void *arg)
{
	uint32_t i, lim = t->used,
	            end = from < lim && n < lim - from ? from + n : lim;

	for (i = from; i < end; i++)
		if (t->pool[i].cls != FLOW_FREE)
			fn(&t->pool[i], arg);
	return end < lim ? end : 0;
}

void
flow_table_stats(const struct flow_table *t, struct flow_stats *st)
{
	*st = t->st;
}

void
flow_local(const struct flow *f, const struct sp_addr **addr, uint16_t *port)
{
	if (f->flags & FLOW_F_LOCAL_A) {
		*addr = &f->key.a;
		*port = f->key.pa;
	} else {
		*addr = &f->key.b;
		*port = f->key.pb;
	}
}

void
flow_remote(const struct flow *f, const struct sp_addr **addr, uint16_t *port)
{
	if (f->flags & FLOW_F_LOCAL_A) {
		*addr = &f->key.b;
		*port = f->key.pb;
	} else {
		*addr = &f->key.a;
		*port = f->key.pa;
	}
}

/* For a power-of-two cap, one bucket (a uint32_t) per slot. */
size_t
flow_table_bytes_per_flow(void)
{
	return sizeof(struct flow) + sizeof(uint32_t);
}

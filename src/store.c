/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The decision store in LMDB: lock-free queues in, one writer thread out. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/log.h"
#include "spackle/store.h"

#define NS_PER_MS        1000000ull
#define STORE_STARTS_MAX 100 /* daemon start times kept in meta */
#define NS_PER_S         1000000000ull

/* ---- little-endian fields ---------------------------------------------- */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static uint32_t
get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t
get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Keys are big-endian so that LMDB's byte order is numeric order. */
static void
putbe64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
getbe64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint8_t
family_code(const struct sp_addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 6 : 0;
}

static bool
family_from_code(uint8_t c, struct sp_addr *a)
{
	if (c == 4)
		a->family = AF_INET;
	else if (c == 6)
		a->family = AF_INET6;
	else if (c == 0)
		a->family = 0;
	else
		return false;
	return true;
}

static size_t
str_len(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	return n > STORE_STR_MAX ? STORE_STR_MAX : n;
}

/* ---- flow records ------------------------------------------------------- */

/*
 * v1 flow value (little-endian), 112 fixed bytes then three strings:
 *   0 format (1)  1 proto  2 dir  3 verdict  4 u32 flags
 *   8 family (4/6)  9..11 zero  12 local[16]  28 remote[16]
 *   44 u16 local port  46 u16 remote port  48 i32 pid  52 u32 uid
 *   56 first_ns  64 last_ns  72 packets_out  80 packets_in
 *   88 bytes_out  96 bytes_in  104 u16 exe len  106 u16 host len
 *   108 u16 rule len  110 zero  112 exe NUL host NUL rule NUL
 */
#define FLOW_V1_FIXED 112
/*
 * v0 (before the schema had a version): no format byte, no flags:
 *   0 proto  1 dir  2 verdict  3 family  4 local[16]  20 remote[16]
 *   36 u16 local port  38 u16 remote port  40 i32 pid  44 u32 uid
 *   48 first  56 last  64 packets_out  72 packets_in  80 bytes_out
 *   88 bytes_in  96 exe NUL host NUL rule NUL
 */
#define FLOW_V0_FIXED 96

size_t
store_flow_size(const struct store_flow *r)
{
	return FLOW_V1_FIXED + str_len(r->exe) + str_len(r->host) +
	       str_len(r->rule) + 3;
}

static uint8_t *
put_str(uint8_t *p, const char *s, size_t n)
{
	if (n > 0)
		memcpy(p, s, n);
	p[n] = 0;
	return p + n + 1;
}

size_t
store_flow_encode(const struct store_flow *r, uint8_t *buf, size_t len)
{
	size_t ne = str_len(r->exe), nh = str_len(r->host);
	size_t nr = str_len(r->rule);
	size_t need = FLOW_V1_FIXED + ne + nh + nr + 3;
	uint8_t *p;

	if (len < need)
		return 0;
	memset(buf, 0, FLOW_V1_FIXED);
	buf[0] = 1;
	buf[1] = r->proto;
	buf[2] = r->dir;
	buf[3] = r->verdict;
	put32(buf + 4, r->flags);
	buf[8] = family_code(&r->local);
	memcpy(buf + 12, r->local.b, 16);
	memcpy(buf + 28, r->remote.b, 16);
	put16(buf + 44, r->local_port);
	put16(buf + 46, r->remote_port);
	put32(buf + 48, (uint32_t)r->pid);
	put32(buf + 52, r->uid);
	put64(buf + 56, r->first_ns);
	put64(buf + 64, r->last_ns);
	put64(buf + 72, r->packets_out);
	put64(buf + 80, r->packets_in);
	put64(buf + 88, r->bytes_out);
	put64(buf + 96, r->bytes_in);
	put16(buf + 104, (uint16_t)ne);
	put16(buf + 106, (uint16_t)nh);
	put16(buf + 108, (uint16_t)nr);
	p = buf + FLOW_V1_FIXED;
	p = put_str(p, r->exe, ne);
	p = put_str(p, r->host, nh);
	put_str(p, r->rule, nr);
	return need;
}

/* A NUL-terminated string of n bytes at p[*off], within len. */
static const char *
get_str(const uint8_t *p, size_t len, size_t *off, size_t n)
{
	const char *s;

	if (*off > len || n >= len - *off || p[*off + n] != 0)
		return NULL;
	s = (const char *)p + *off;
	*off += n + 1;
	return s;
}

/* A NUL-terminated string starting at p[*off], within len. */
static const char *
get_cstr(const uint8_t *p, size_t len, size_t *off)
{
	const uint8_t *nul;
	const char *s;

	if (*off >= len)
		return NULL;
	nul = memchr(p + *off, 0, len - *off);
	if (nul == NULL)
		return NULL;
	s = (const char *)p + *off;
	*off = (size_t)(nul - p) + 1;
	return s;
}

static bool
flow_decode_v1(const uint8_t *p, size_t len, struct store_flow *r)
{
	size_t off = FLOW_V1_FIXED;

	if (len < FLOW_V1_FIXED || p[0] != 1)
		return false;
	r->proto = p[1];
	r->dir = p[2];
	r->verdict = p[3];
	r->flags = get32(p + 4);
	if (!family_from_code(p[8], &r->local))
		return false;
	r->remote.family = r->local.family;
	memcpy(r->local.b, p + 12, 16);
	memcpy(r->remote.b, p + 28, 16);
	r->local_port = get16(p + 44);
	r->remote_port = get16(p + 46);
	r->pid = (int32_t)get32(p + 48);
	r->uid = get32(p + 52);
	r->first_ns = get64(p + 56);
	r->last_ns = get64(p + 64);
	r->packets_out = get64(p + 72);
	r->packets_in = get64(p + 80);
	r->bytes_out = get64(p + 88);
	r->bytes_in = get64(p + 96);
	if ((r->exe = get_str(p, len, &off, get16(p + 104))) == NULL ||
	    (r->host = get_str(p, len, &off, get16(p + 106))) == NULL ||
	    (r->rule = get_str(p, len, &off, get16(p + 108))) == NULL)
		return false;
	return true;
}

static bool
flow_decode_v0(const uint8_t *p, size_t len, struct store_flow *r)
{
	size_t off = FLOW_V0_FIXED;

	if (len < FLOW_V0_FIXED)
		return false;
	r->proto = p[0];
	r->dir = p[1];
	r->verdict = p[2];
	r->flags = 0;
	if (!family_from_code(p[3], &r->local))
		return false;
	r->remote.family = r->local.family;
	memcpy(r->local.b, p + 4, 16);
	memcpy(r->remote.b, p + 20, 16);
	r->local_port = get16(p + 36);
	r->remote_port = get16(p + 38);
	r->pid = (int32_t)get32(p + 40);
	r->uid = get32(p + 44);
	r->first_ns = get64(p + 48);
	r->last_ns = get64(p + 56);
	r->packets_out = get64(p + 64);
	r->packets_in = get64(p + 72);
	r->bytes_out = get64(p + 80);
	r->bytes_in = get64(p + 88);
	if ((r->exe = get_cstr(p, len, &off)) == NULL ||
	    (r->host = get_cstr(p, len, &off)) == NULL ||
	    (r->rule = get_cstr(p, len, &off)) == NULL)
		return false;
	return true;
}

bool
store_flow_decode(unsigned version, uint64_t id, const uint8_t *p, size_t len,
                  struct store_flow *r)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	if (version == 0)
		return flow_decode_v0(p, len, r);
	return flow_decode_v1(p, len, r);
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
	if (f->flags & FLOW_F_HIDDEN)
		r->flags |= STORE_FLOW_HIDDEN;
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
	if (f->rule == FLOW_RULE_DEFAULT) {
		snprintf(rule_buf, rule_len, "default");
		r->rule = rule_buf;
	} else if (f->rule != FLOW_RULE_NONE && rules != NULL &&
	           (rr = rules_get(rules, f->rule)) != NULL) {
		snprintf(rule_buf, rule_len, "%s:%u", rr->file, rr->line);
		r->rule = rule_buf;
	}
}

/* ---- events and names --------------------------------------------------- */

/*
 * v1 event value: 0 format (1)  1 type  2 u16 text len  4 zero
 *   8 u64 flow id  16 text NUL. Key: ts_ns BE64, seq BE32.
 */
#define EVENT_FIXED 16
#define EVENT_KEY   12

/*
 * v1 names value: 0 format (1)  1 count  2 zero[2], then count entries of
 * u64 expiry_ns, u8 source, u8 len, name[len], NUL. Key: family code and
 * the 16 bytes of the (mapped) address.
 */
#define NAMES_FIXED 4
#define NAMES_KEY   17

struct name_entry {
	uint64_t expiry;
	uint8_t source;
	uint8_t len;
	const char *name;
};

static size_t
names_decode(const uint8_t *p, size_t len, struct name_entry *e, size_t max)
{
	size_t off = NAMES_FIXED, i, n;

	if (len < NAMES_FIXED || p[0] != 1)
		return 0;
	n = p[1];
	for (i = 0; i < n && i < max; i++) {
		if (len - off < 10)
			return i;
		e[i].expiry = get64(p + off);
		e[i].source = p[off + 8];
		e[i].len = p[off + 9];
		off += 10;
		if ((e[i].name = get_str(p, len, &off, e[i].len)) == NULL)
			return i;
	}
	return i;
}

static size_t
names_encode(const struct name_entry *e, size_t n, uint8_t *buf, size_t len)
{
	size_t off = NAMES_FIXED, i;

	if (len < NAMES_FIXED)
		return 0;
	memset(buf, 0, NAMES_FIXED);
	buf[0] = 1;
	buf[1] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		if (len - off < 11u + e[i].len)
			return 0;
		put64(buf + off, e[i].expiry);
		buf[off + 8] = e[i].source;
		buf[off + 9] = e[i].len;
		memcpy(buf + off + 10, e[i].name, e[i].len);
		buf[off + 10 + e[i].len] = 0;
		off += 11u + e[i].len;
	}
	return off;
}

static void
names_key(const struct sp_addr *a, uint8_t key[NAMES_KEY])
{
	key[0] = family_code(a);
	memcpy(key + 1, a->b, 16);
}

const char *
store_event_name(enum store_event_type t)
{
	static const char *const names[] = {
	        [STORE_EV_FLOW_NEW] = "flow", [STORE_EV_VERDICT] = "verdict",
	        [STORE_EV_RELOAD] = "reload", [STORE_EV_TAMPER] = "tamper",
	        [STORE_EV_DROPS] = "drops",   [STORE_EV_START] = "start",
	        [STORE_EV_STOP] = "stop",     [STORE_EV_AUDIT] = "audit",
	};

	if ((unsigned)t == 0 || (unsigned)t > STORE_EV_MAX)
		return "unknown";
	return names[t];
}

/* ---- the rings ----------------------------------------------------------- */

/*
 * A producer's ring holds records of an 8-byte header (u32 payload length,
 * u8 kind) and their payload, each padded to 8 bytes. A record never wraps:
 * when it does not fit before the end, a PAD record fills the rest and it
 * starts at offset 0, so the writer hands LMDB contiguous bytes.
 */
enum ring_kind { RING_PAD = 0, RING_FLOW, RING_EVENT, RING_NAME };

#define RING_HDR 8

struct store_producer {
	/* Written by the producer. */
	_Alignas(64) _Atomic uint64_t head; /* bytes ever written */
	_Atomic uint64_t queued;            /* records ever written */
	_Atomic uint64_t lost, deferred;
	uint64_t tail_cache, popped_cache;
	/* Written by the writer, after the commit holding the records. */
	_Alignas(64) _Atomic uint64_t tail;
	_Atomic uint64_t popped;
	/* Fixed. */
	_Alignas(64) struct store *s;
	uint8_t *buf;
	uint64_t cap, mask;
	/* The writer's own: where its uncommitted batch reached. */
	uint64_t w_tail, w_popped;
};

struct store {
	struct store_config cfg;
	char path[SP_PATH_MAX];
	MDB_env *env;
	MDB_dbi flows, events, names, meta;
	size_t psize;
	struct store_producer *prod;
	unsigned nprod;
	int efd;
	pthread_t th;
	bool started;
	_Atomic bool kicked;
	_Atomic bool stopping;
	_Atomic uint64_t sync_req;
	uint64_t sync_done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Writer's own. */
	uint64_t *snap; /* heads seen at the start of a flush */
	uint32_t seq;
	uint64_t lost_saved;  /* lost count last written to meta */
	uint64_t lost_noting; /* the count the open transaction writes */
	unsigned limit;       /* records per transaction, halved on MAP_FULL */
	uint64_t prune_stuck_until; /* mono ns: pruning did not help */
	uint64_t grown;             /* bytes the map grew past max_size */
	struct log_limit lim;
	/* Counters, read by store_stats() from any thread. */
	_Atomic uint64_t written, flushes, errors, map_full, pruned_full,
	        pruned_age, last_commit_ns, map_used;
	_Atomic uint64_t map_size;
	uint64_t txn_bytes; /* most record bytes per transaction: map / 32 */
};

static void
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
	memset(d + 8, 0, EVENT_FIXED);
	d[8] = 1;
	d[9] = (uint8_t)type;
	put16(d + 10, (uint16_t)n);
	put64(d + 16, flow_id);
	put_str(d + 8 + EVENT_FIXED, text, n);
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
	names_key(addr, d);
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

/* ---- the writer ---------------------------------------------------------- */

static void
writer_log(struct store *s, const char *what, int rc)
{
	uint64_t held = 0;

	if (log_limit_ok(&s->lim, sp_now_mono(), &held))
		log_err("store %s: %s: %s (%llu more not logged)", s->path,
		        what, mdb_strerror(rc), (unsigned long long)held);
}

/* Merge one name into the names kept for its address. */
static int
writer_name(struct store *s, MDB_txn *txn, const uint8_t *d, size_t len)
{
	struct name_entry e[SP_NAMES_PER_ADDR + 1];
	uint8_t buf[NAMES_FIXED + (SP_NAMES_PER_ADDR + 1) * (11 + 256)];
	MDB_val key = {NAMES_KEY, (void *)(uintptr_t)d}, val;
	size_t n = 0, i, nl, out;
	uint64_t expiry;
	const char *name = (const char *)d + NAMES_KEY + 9;
	int rc;

	if (len < NAMES_KEY + 9 || len - NAMES_KEY - 9 > SP_NAME_MAX)
		return 0;
	nl = len - NAMES_KEY - 9;
	expiry = get64(d + NAMES_KEY);
	rc = mdb_get(txn, s->names, &key, &val);
	if (rc == 0)
		n = names_decode(val.mv_data, val.mv_size, e,
		                 SP_NAMES_PER_ADDR);
	else if (rc != MDB_NOTFOUND)
		return rc;
	for (i = 0; i < n; i++)
		if (e[i].len == nl && memcmp(e[i].name, name, nl) == 0)
			break;
	if (i == n) {
		/* A new name: the one expiring first makes room. */
		if (n == SP_NAMES_PER_ADDR) {
			size_t j, min = 0;

			for (j = 1; j < n; j++)
				if (e[j].expiry < e[min].expiry)
					min = j;
			e[min] = e[n - 1];
			n--;
			i = n;
		}
		e[i].expiry = 0;
		n++;
	}
	e[i].name = name;
	e[i].len = (uint8_t)nl;
	e[i].source = d[NAMES_KEY + 8];
	if (expiry > e[i].expiry)
		e[i].expiry = expiry;
	/* Views into val die with the put: encode first, then put a copy. */
	if ((out = names_encode(e, n, buf, sizeof(buf))) == 0)
		return 0;
	val.mv_size = out;
	val.mv_data = buf;
	return mdb_put(txn, s->names, &key, &val, 0);
}

static int
writer_apply(struct store *s, MDB_txn *txn, uint8_t kind, const uint8_t *d,
             size_t len)
{
	MDB_val key, val;
	uint8_t k[EVENT_KEY];

	switch (kind) {
	case RING_FLOW:
		if (len < 8)
			return 0;
		key.mv_size = 8;
		key.mv_data = (void *)(uintptr_t)d;
		val.mv_size = len - 8;
		val.mv_data = (void *)(uintptr_t)(d + 8);
		return mdb_put(txn, s->flows, &key, &val, 0);
	case RING_EVENT:
		if (len < 8 + EVENT_FIXED)
			return 0;
		putbe64(k, get64(d));
		k[8] = (uint8_t)(s->seq >> 24);
		k[9] = (uint8_t)(s->seq >> 16);
		k[10] = (uint8_t)(s->seq >> 8);
		k[11] = (uint8_t)s->seq;
		s->seq++;
		key.mv_size = EVENT_KEY;
		key.mv_data = k;
		val.mv_size = len - 8;
		val.mv_data = (void *)(uintptr_t)(d + 8);
		return mdb_put(txn, s->events, &key, &val, 0);
	case RING_NAME:
		return writer_name(s, txn, d, len);
	}
	return 0;
}

static int
meta_put_u64(struct store *s, MDB_txn *txn, const char *k, uint64_t v)
{
	uint8_t b[8];
	MDB_val key = {strlen(k), (void *)(uintptr_t)k}, val = {8, b};

	put64(b, v);
	return mdb_put(txn, s->meta, &key, &val, 0);
}

static uint64_t
store_lost_total(const struct store *s)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < s->nprod; i++)
		n += atomic_load_explicit(&s->prod[i].lost,
		                          memory_order_relaxed);
	return n;
}

/*
 * Records lost since the last flush become an event, and the total a meta
 * key that `audit` reads without the daemon.
 */
static int
writer_note_lost(struct store *s, MDB_txn *txn)
{
	uint64_t lost = store_lost_total(s), prev;
	char text[128];
	uint8_t v[EVENT_FIXED + sizeof(text)], k[EVENT_KEY];
	MDB_val key = {EVENT_KEY, k}, val;
	size_t n;
	int rc;

	s->lost_noting = lost;
	if (lost == s->lost_saved)
		return 0;
	prev = 0;
	{
		MDB_val mk = {4, (void *)"lost"}, mv;

		if (mdb_get(txn, s->meta, &mk, &mv) == 0 && mv.mv_size == 8)
			prev = get64(mv.mv_data);
	}
	n = (size_t)snprintf(text, sizeof(text),
	                     "{\"store_lost\":%llu,\"since_open\":%llu}",
	                     (unsigned long long)(lost - s->lost_saved),
	                     (unsigned long long)lost);
	memset(v, 0, EVENT_FIXED);
	v[0] = 1;
	v[1] = STORE_EV_DROPS;
	put16(v + 2, (uint16_t)n);
	memcpy(v + EVENT_FIXED, text, n + 1);
	putbe64(k, sp_now_wall());
	memset(k + 8, 0xff, 4); /* after the records of the same instant */
	val.mv_size = EVENT_FIXED + n + 1;
	val.mv_data = v;
	if ((rc = mdb_put(txn, s->events, &key, &val, 0)) != 0)
		return rc;
	return meta_put_u64(s, txn, "lost", prev + (lost - s->lost_saved));
}

/* Free pages in the map: pages past the last used one, plus the freelist. */
static uint64_t
writer_used_pages(struct store *s, MDB_txn *txn)
{
	MDB_envinfo info;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t free_pages = 0;

	mdb_env_info(s->env, &info);
	if (mdb_cursor_open(txn, 0, &c) != 0)
		return info.me_last_pgno + 1;
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
		if (v.mv_size >= sizeof(size_t))
			free_pages += *(const size_t *)v.mv_data;
	mdb_cursor_close(c);
	return info.me_last_pgno + 1 > free_pages
	               ? info.me_last_pgno + 1 - free_pages
	               : 0;
}

/* Delete the first n records of dbi; returns how many went. */
static int
delete_oldest(MDB_txn *txn, MDB_dbi dbi, uint64_t n, uint64_t *done)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*done = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	while (*done < n && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		(*done)++;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * LMDB reuses a page only once a transaction newer than the one that freed
 * it has committed (the previous meta page still points at it). A small
 * commit right after a prune makes the pruned pages usable at once.
 * Returns an LMDB code.
 */
static int
writer_touch(struct store *s)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	if ((rc = meta_put_u64(s, txn, "last_prune", sp_now_wall())) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/*
 * Make room: delete the oldest flows and events, an eighth of each (at
 * least `min` records), in a transaction of its own. A map so full that
 * even the deletion fails is retried with halved batches. Returns the
 * records deleted.
 */
static uint64_t
writer_prune_full(struct store *s, uint64_t min)
{
	MDB_txn *txn;
	MDB_stat fs, es;
	uint64_t nf, ne, df = 0, de = 0, size, more, cap = UINT64_MAX;
	bool grown = false;
	int rc;

	for (;;) {
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
			return 0;
		mdb_stat(txn, s->flows, &fs);
		mdb_stat(txn, s->events, &es);
		if (fs.ms_entries + es.ms_entries == 0) {
			mdb_txn_abort(txn);
			return 0;
		}
		nf = fs.ms_entries / 8 > min ? fs.ms_entries / 8 : min;
		ne = es.ms_entries / 8 > min ? es.ms_entries / 8 : min;
		nf = nf < cap ? nf : cap;
		ne = ne < cap ? ne : cap;
		rc = delete_oldest(txn, s->flows, nf, &df);
		if (rc == 0)
			rc = delete_oldest(txn, s->events, ne, &de);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc == 0) {
			atomic_fetch_add(&s->pruned_full, df + de);
			/* The deletion stands; without the touch its pages are
			 * reused one commit later. */
			if ((rc = writer_touch(s)) != 0)
				writer_log(s,
				           "committing after pruning (the "
				           "freed pages wait for the next "
				           "commit)",
				           rc);
			return df + de;
		}
		if (rc == MDB_MAP_FULL && cap <= 1 && !grown &&
		    s->grown < (s->cfg.max_size / 16 > 32 * s->psize
		                        ? s->cfg.max_size / 16
		                        : 32 * s->psize)) {
			/* Not even one deletion fits (which the 1/32 batches
			 * should prevent): grow the map a little, once, so
			 * that writing can go on. */
			size = atomic_load(&s->map_size);
			more = size / 64 > 32 * s->psize ? size / 64
			                                 : 32 * s->psize;
			if (mdb_env_set_mapsize(s->env,
			                        (size_t)(size + more)) == 0) {
				atomic_store(&s->map_size, size + more);
				s->grown += more;
				log_warn("store %s: the map is too full to "
				         "delete from; grown by %llu KiB",
				         s->path,
				         (unsigned long long)more >> 10);
				grown = true;
				cap = UINT64_MAX;
				continue;
			}
		}
		if (rc != MDB_MAP_FULL || cap <= 1) {
			writer_log(s, "pruning the oldest records", rc);
			return 0;
		}
		/* Fewer at a time: each deletion copies pages too. */
		cap = (nf > ne ? nf : ne) / 2;
	}
}

/*
 * Map in use after a commit; prune ahead when it passes 80%. With at most
 * 1/32 of the map written per transaction, a commit never fills the map:
 * a full map cannot even delete (a deletion copies pages too).
 */
static void
writer_check_room(struct store *s)
{
	MDB_envinfo info;
	MDB_txn *txn;
	uint64_t pages = atomic_load(&s->map_size) / s->psize, used;

	mdb_env_info(s->env, &info);
	if ((info.me_last_pgno + 1) * 10 < pages * 7) {
		/* Pages past the last one used were never used: no need to
		 * count the free list. */
		atomic_store(&s->map_used, (info.me_last_pgno + 1) * s->psize);
		return;
	}
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return;
	used = writer_used_pages(s, txn);
	mdb_txn_abort(txn);
	atomic_store(&s->map_used, used * s->psize);
	if (used * 100 >= pages * s->cfg.prune_at_pct)
		writer_prune_full(s, 64);
}

/*
 * One transaction: up to `limit` records from the rings, oldest ring
 * position first, as far as the heads seen at the start of the flush.
 * When `apply` is false the records are skipped (dropped after an error).
 * On success the rings get their space back. Returns an LMDB code.
 */
static int
writer_batch(struct store *s, unsigned limit, bool apply, uint64_t *count)
{
	MDB_txn *txn = NULL;
	struct store_producer *p;
	uint64_t n = 0, t, bytes = 0;
	unsigned i;
	int rc = 0;

	*count = 0;
	if (apply && (rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return rc;
	for (i = 0; i < s->nprod; i++) {
		p = &s->prod[i];
		p->w_tail =
		        atomic_load_explicit(&p->tail, memory_order_relaxed);
		p->w_popped =
		        atomic_load_explicit(&p->popped, memory_order_relaxed);
		while (p->w_tail < s->snap[i] && n < limit &&
		       (n == 0 || bytes < s->txn_bytes)) {
			const uint8_t *h = p->buf + (p->w_tail & p->mask);
			uint32_t len = get32(h);

			t = (RING_HDR + (uint64_t)len + 7) & ~(uint64_t)7;
			if (h[4] != RING_PAD) {
				if (apply &&
				    (rc = writer_apply(s, txn, h[4],
				                       h + RING_HDR, len)) != 0)
					goto fail;
				n++;
				bytes += len;
				p->w_popped++;
			}
			p->w_tail += t;
		}
	}
	if (apply && (rc = writer_note_lost(s, txn)) != 0)
		goto fail;
	if (apply && (rc = mdb_txn_commit(txn)) != 0)
		return rc;
	if (apply)
		s->lost_saved = s->lost_noting;
	for (i = 0; i < s->nprod; i++) {
		p = &s->prod[i];
		atomic_store_explicit(&p->popped, p->w_popped,
		                      memory_order_release);
		atomic_store_explicit(&p->tail, p->w_tail,
		                      memory_order_release);
	}
	*count = n;
	return 0;
fail:
	mdb_txn_abort(txn);
	return rc;
}

static bool
writer_pending(struct store *s)
{
	unsigned i;

	for (i = 0; i < s->nprod; i++)
		if (atomic_load_explicit(&s->prod[i].tail,
		                         memory_order_relaxed) < s->snap[i])
			return true;
	return false;
}

/* Write what the rings hold now, a transaction per `limit` records. */
static void
writer_flush(struct store *s)
{
	uint64_t n, now;
	unsigned i, prunes = 0, resized = 0;
	bool lost = store_lost_total(s) != s->lost_saved;
	int rc;

	for (i = 0; i < s->nprod; i++)
		s->snap[i] = atomic_load_explicit(&s->prod[i].head,
		                                  memory_order_acquire);
	while (writer_pending(s) || lost) {
		rc = writer_batch(s, s->limit, true, &n);
		if (rc == 0) {
			lost = false;
			s->prune_stuck_until = 0;
			atomic_fetch_add(&s->written, n);
			atomic_fetch_add(&s->flushes, 1);
			atomic_store(&s->last_commit_ns, sp_now_wall());
			if (s->limit < s->cfg.flush_records)
				s->limit = s->limit * 2 < s->cfg.flush_records
				                   ? s->limit * 2
				                   : s->cfg.flush_records;
			writer_check_room(s);
			if (s->cfg.committed != NULL)
				s->cfg.committed(s->cfg.committed_arg);
			continue;
		}
		now = sp_now_mono();
		if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
			atomic_fetch_add(&s->map_full, 1);
			/*
			 * Make room and write the batch again. Pruning stops
			 * helping when a reader's old snapshot pins the pages
			 * it frees: then at most one try a second.
			 */
			if (rc == MDB_MAP_FULL && prunes < 3 &&
			    now >= s->prune_stuck_until &&
			    writer_prune_full(s, 64) > 0) {
				prunes++;
				continue;
			}
			/* The batch may be too big for the room left: write
			 * it in halves. */
			if (s->limit > 1) {
				s->limit /= 2;
				continue;
			}
			if (prunes > 0)
				s->prune_stuck_until = now + NS_PER_S;
		}
		if (rc == MDB_MAP_RESIZED && resized++ == 0 &&
		    mdb_env_set_mapsize(s->env, 0) == 0)
			continue;
		/* No way to write them now: drop what this flush holds (the
		 * rings must drain), count it, go on. */
		writer_log(s, "writing records, dropped", rc);
		while (writer_pending(s)) {
			writer_batch(s, UINT32_MAX, false, &n);
			atomic_fetch_add(&s->errors, n);
		}
		lost = false;
	}
}

/* Delete flows, events and names older than max_age, in batches. */
static void
writer_prune_age(struct store *s)
{
	uint64_t now = sp_now_wall(), cutoff, gone = 0;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	struct store_flow r;
	struct name_entry e[SP_NAMES_PER_ADDR];
	unsigned batch;
	size_t i, n;
	int rc, op;
	bool more = true;

	if (s->cfg.max_age_s == 0 || now < s->cfg.max_age_s * NS_PER_S)
		return;
	cutoff = now - s->cfg.max_age_s * NS_PER_S;
	mdb_reader_check(s->env, NULL);
	while (more) {
		more = false;
		batch = 0;
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
			break;
		/* Flows: ids are creation times, so only ids below the cutoff
		 * can be old; a long-lived one among them is kept. */
		if (mdb_cursor_open(txn, s->flows, &c) == 0) {
			for (op = MDB_FIRST; batch < 10000 &&
			                     mdb_cursor_get(c, &k, &v, op) == 0;
			     op = MDB_NEXT) {
				if (k.mv_size != 8 ||
				    getbe64(k.mv_data) >= cutoff)
					break;
				if (store_flow_decode(1, getbe64(k.mv_data),
				                      v.mv_data, v.mv_size,
				                      &r) &&
				    r.last_ns >= cutoff)
					continue;
				/* The cursor now sits on the next record,
				 * which MDB_NEXT returns without moving. */
				if (mdb_cursor_del(c, 0) != 0)
					break;
				batch++;
			}
			mdb_cursor_close(c);
		}
		if (mdb_cursor_open(txn, s->events, &c) == 0) {
			while (batch < 20000 &&
			       mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 &&
			       k.mv_size >= 8 && getbe64(k.mv_data) < cutoff &&
			       mdb_cursor_del(c, 0) == 0)
				batch++;
			mdb_cursor_close(c);
		}
		if (mdb_cursor_open(txn, s->names, &c) == 0) {
			for (op = MDB_FIRST; batch < 30000 &&
			                     mdb_cursor_get(c, &k, &v, op) == 0;
			     op = MDB_NEXT) {
				uint64_t last = 0;

				n = names_decode(v.mv_data, v.mv_size, e,
				                 SP_NAMES_PER_ADDR);
				for (i = 0; i < n; i++)
					if (e[i].expiry > last)
						last = e[i].expiry;
				if (last >= cutoff)
					continue;
				/* The cursor now sits on the next record,
				 * which MDB_NEXT returns without moving. */
				if (mdb_cursor_del(c, 0) != 0)
					break;
				batch++;
			}
			mdb_cursor_close(c);
		}
		if ((rc = mdb_txn_commit(txn)) != 0) {
			writer_log(s, "pruning old records", rc);
			break;
		}
		gone += batch;
		more = batch >= 10000;
	}
	atomic_fetch_add(&s->pruned_age, gone);
}

static void *
writer_main(void *arg)
{
	struct store *s = arg;
	struct pollfd pfd = {s->efd, POLLIN, 0};
	uint64_t now, next_flush, next_prune, buf, req;
	sigset_t all;
	int timeout;
	bool stop;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	now = sp_now_mono();
	next_flush = now + s->cfg.flush_ms * NS_PER_MS;
	next_prune = now;
	for (;;) {
		now = sp_now_mono();
		timeout = next_flush > now
		                  ? (int)((next_flush - now + NS_PER_MS - 1) /
		                          NS_PER_MS)
		                  : 0;
		if (poll(&pfd, 1, timeout) > 0 &&
		    read(s->efd, &buf, sizeof(buf)) < 0) {
			/* EAGAIN: another wake took it. */
		}
		atomic_store(&s->kicked, false);
		stop = atomic_load(&s->stopping);
		req = atomic_load(&s->sync_req);
		writer_flush(s);
		now = sp_now_mono();
		next_flush = now + s->cfg.flush_ms * NS_PER_MS;
		pthread_mutex_lock(&s->mu);
		s->sync_done = req;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		if (now >= next_prune) {
			writer_prune_age(s);
			next_prune = now + s->cfg.prune_interval_ms * NS_PER_MS;
		}
	}
	return NULL;
}

int
store_sync(struct store *s)
{
	uint64_t want;

	if (s == NULL || !s->started || atomic_load(&s->stopping))
		return -1;
	want = atomic_fetch_add(&s->sync_req, 1) + 1;
	store_kick(s);
	pthread_mutex_lock(&s->mu);
	while (s->sync_done < want)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void
store_stats(const struct store *s, struct store_stats *st)
{
	unsigned i;

	memset(st, 0, sizeof(*st));
	if (s == NULL)
		return;
	for (i = 0; i < s->nprod; i++) {
		st->queued += atomic_load_explicit(&s->prod[i].queued,
		                                   memory_order_relaxed);
		st->lost += atomic_load_explicit(&s->prod[i].lost,
		                                 memory_order_relaxed);
		st->deferred += atomic_load_explicit(&s->prod[i].deferred,
		                                     memory_order_relaxed);
	}
	st->written = atomic_load(&s->written);
	st->flushes = atomic_load(&s->flushes);
	st->errors = atomic_load(&s->errors);
	st->map_full = atomic_load(&s->map_full);
	st->pruned_full = atomic_load(&s->pruned_full);
	st->pruned_age = atomic_load(&s->pruned_age);
	st->last_commit_ns = atomic_load(&s->last_commit_ns);
	st->map_size = atomic_load(&s->map_size);
	st->map_used = atomic_load(&s->map_used);
}

/* ---- opening, migrations ------------------------------------------------- */

/*
 * Schema migrations: entry N takes a store of version N to N+1 inside the
 * opening transaction. Readers decode every older flow layout, so a store
 * the daemon has not reopened yet still reads.
 */
typedef int (*store_migration)(struct store *s, MDB_txn *txn);

/* v0 -> v1: flow records gain a format byte, flags and string lengths. */
static int
migrate_0_1(struct store *s, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct store_flow r;
	uint8_t *buf = NULL, key[8];
	size_t cap = 0, n;
	int rc, op;

	if ((rc = mdb_cursor_open(txn, s->flows, &c)) != 0)
		return rc;
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		if (k.mv_size != 8 ||
		    !store_flow_decode(0, getbe64(k.mv_data), v.mv_data,
		                       v.mv_size, &r)) {
			/* Unreadable in any version: it goes. */
			if ((rc = mdb_cursor_del(c, 0)) != 0)
				break;
			continue;
		}
		n = store_flow_size(&r);
		if (n > cap) {
			uint8_t *nb = realloc(buf, n);

			if (nb == NULL) {
				rc = ENOMEM;
				break;
			}
			buf = nb;
			cap = n;
		}
		/* r's views point into the old value: encode before the put. */
		store_flow_encode(&r, buf, n);
		memcpy(key, k.mv_data, 8);
		k.mv_data = key;
		v.mv_size = n;
		v.mv_data = buf;
		if ((rc = mdb_cursor_put(c, &k, &v, MDB_CURRENT)) != 0)
			break;
	}
	mdb_cursor_close(c);
	free(buf);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static const store_migration store_migrations[STORE_SCHEMA_VERSION] = {
        migrate_0_1,
};

static int
store_mkdir(const char *path, char *err, size_t errlen)
{
	char buf[SP_PATH_MAX], *p;

	if (strlen(path) >= sizeof(buf) || path[0] == '\0') {
		snprintf(err, errlen, "store path \"%s\" is empty or too long",
		         path);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
	return -1;
}

/*
 * The store is readable by the group STORE_GROUP when it exists (as the
 * control socket is): `spackle log` for its members without root.
 */
static void
store_share(const char *path)
{
	static const char *const files[] = {"", "/data.mdb", "/lock.mdb"};
	struct group gr, *res = NULL;
	char buf[4096], f[SP_PATH_MAX + 16];
	size_t i;

	if (geteuid() != 0 ||
	    getgrnam_r(STORE_GROUP, &gr, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(f, sizeof(f), "%s%s", path, files[i]);
		if (chown(f, (uid_t)-1, gr.gr_gid) != 0)
			log_warn("store %s: chown to group %s: %s", f,
			         STORE_GROUP, strerror(errno));
	}
}

/* Keep the last STORE_STARTS_MAX start times. */
static int
meta_trim_starts(struct store *s, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val k = {6, (void *)"start/"}, v;
	size_t n = 0;
	int rc, op;

	if ((rc = mdb_cursor_open(txn, s->meta, &c)) != 0)
		return rc;
	for (op = MDB_SET_RANGE;
	     mdb_cursor_get(c, &k, &v, op) == 0 && k.mv_size > 6 &&
	     memcmp(k.mv_data, "start/", 6) == 0;
	     op = MDB_NEXT)
		n++;
	k.mv_size = 6;
	k.mv_data = (void *)"start/";
	for (; n > STORE_STARTS_MAX; n--) {
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0 ||
		    (rc = mdb_cursor_del(c, 0)) != 0)
			break;
		k.mv_size = 6;
		k.mv_data = (void *)"start/";
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Open the databases, migrate, record this start. */
static int
store_prepare(struct store *s, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t now = sp_now_wall();
	unsigned version = STORE_SCHEMA_VERSION, i;
	uint8_t sk[6 + 8];
	char text[96];
	bool fresh;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail_nt;
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0)
		goto fail;
	rc = mdb_dbi_open(txn, "flows", 0, &s->flows);
	fresh = rc == MDB_NOTFOUND;
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "flows", MDB_CREATE, &s->flows)) != 0 ||
	    (rc = mdb_dbi_open(txn, "events", MDB_CREATE, &s->events)) != 0 ||
	    (rc = mdb_dbi_open(txn, "names", MDB_CREATE, &s->names)) != 0)
		goto fail;
	k.mv_size = 7;
	k.mv_data = (void *)"version";
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == 0 && v.mv_size == 4)
		version = get32(v.mv_data);
	else if (rc == MDB_NOTFOUND)
		version = fresh ? STORE_SCHEMA_VERSION : 0;
	else
		goto fail;
	if (version > STORE_SCHEMA_VERSION) {
		mdb_txn_abort(txn);
		snprintf(err, errlen,
		         "%s holds a store of schema version %u, newer than "
		         "this "
		         "spackle's (%u): use a newer spackle or another `db`",
		         s->path, version, STORE_SCHEMA_VERSION);
		return -1;
	}
	for (i = version; i < STORE_SCHEMA_VERSION; i++) {
		if ((rc = store_migrations[i](s, txn)) != 0) {
			mdb_txn_abort(txn);
			snprintf(err, errlen,
			         "%s: migrating the store from version %u to "
			         "%u: "
			         "%s",
			         s->path, i, i + 1, mdb_strerror(rc));
			return -1;
		}
		log_info("store %s: migrated from schema version %u to %u",
		         s->path, i, i + 1);
	}
	{
		uint8_t b[4];

		put32(b, STORE_SCHEMA_VERSION);
		v.mv_size = 4;
		v.mv_data = b;
		if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
			goto fail;
	}
	if ((rc = meta_put_u64(s, txn, "last_start", now)) != 0)
		goto fail;
	memcpy(sk, "start/", 6);
	putbe64(sk + 6, now);
	k.mv_size = sizeof(sk);
	k.mv_data = sk;
	snprintf(text, sizeof(text), "pid %d, spackle %s", (int)getpid(),
	         SPACKLE_VERSION);
	v.mv_size = strlen(text) + 1;
	v.mv_data = text;
	if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0 ||
	    (rc = meta_trim_starts(s, txn)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail_nt;
	return 0;
fail:
	mdb_txn_abort(txn);
fail_nt:
	snprintf(err, errlen, "%s: opening the store: %s", s->path,
	         mdb_strerror(rc));
	return -1;
}

static unsigned
pow2_at_least(uint64_t n)
{
	uint64_t v = STORE_MIN_QUEUE;

	while (v < n && v < (1ull << 30))
		v <<= 1;
	return (unsigned)v;
}

static void
store_free(struct store *s)
{
	unsigned i;

	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	if (s->prod != NULL)
		for (i = 0; i < s->nprod; i++)
			free(s->prod[i].buf);
	free(s->prod);
	free(s->snap);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int
store_open(struct store **sp, const struct store_config *cfg, char *err,
           size_t errlen)
{
	struct store *s;
	MDB_envinfo info;
	MDB_stat st;
	char lock[SP_PATH_MAX + 16];
	unsigned i, qb;
	int rc;

	*sp = NULL;
	if (cfg == NULL || cfg->path == NULL) {
		snprintf(err, errlen, "no store path");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto oom;
	s->efd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->cfg = *cfg;
	snprintf(s->path, sizeof(s->path), "%s", cfg->path);
	s->cfg.path = s->path;
	if (s->cfg.max_size == 0)
		s->cfg.max_size = STORE_DEFAULT_MAX_SIZE;
	if (s->cfg.max_size < STORE_MIN_MAX_SIZE)
		s->cfg.max_size = STORE_MIN_MAX_SIZE;
	if (s->cfg.flush_ms == 0)
		s->cfg.flush_ms = STORE_DEFAULT_FLUSH_MS;
	if (s->cfg.flush_records == 0)
		s->cfg.flush_records = STORE_DEFAULT_FLUSH_RECORDS;
	if (s->cfg.queue_bytes == 0)
		s->cfg.queue_bytes = STORE_DEFAULT_QUEUE;
	if (s->cfg.producers == 0)
		s->cfg.producers = 1;
	if (s->cfg.prune_interval_ms == 0)
		s->cfg.prune_interval_ms = 60000;
	if (s->cfg.prune_at_pct == 0 || s->cfg.prune_at_pct > 100)
		s->cfg.prune_at_pct = 80;
	s->limit = s->cfg.flush_records;
	s->lim.interval_s = 60;
	s->lim.burst = 5;
	if (store_mkdir(s->path, err, errlen) != 0)
		goto fail;
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)s->cfg.max_size)) != 0)
		goto fail_lmdb;
	if ((rc = mdb_env_open(s->env, s->path, MDB_NOTLS, 0640)) != 0) {
		mdb_env_close(s->env);
		s->env = NULL;
		goto fail_lmdb;
	}
	/* Readers register in lock.mdb: members of the group may read. */
	snprintf(lock, sizeof(lock), "%s/lock.mdb", s->path);
	chmod(lock, 0660);
	store_share(s->path);
	mdb_reader_check(s->env, NULL);
	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	s->map_size = info.me_mapsize;
	s->txn_bytes = s->map_size / 32;
	s->psize = st.ms_psize;
	if (store_prepare(s, err, errlen) != 0)
		goto fail;
	s->nprod = s->cfg.producers;
	qb = pow2_at_least(s->cfg.queue_bytes);
	s->prod = aligned_alloc(64, sizeof(*s->prod) * s->nprod);
	s->snap = calloc(s->nprod, sizeof(*s->snap));
	if (s->prod == NULL || s->snap == NULL)
		goto oom;
	memset(s->prod, 0, sizeof(*s->prod) * s->nprod);
	for (i = 0; i < s->nprod; i++) {
		s->prod[i].s = s;
		s->prod[i].cap = qb;
		s->prod[i].mask = qb - 1;
		if ((s->prod[i].buf = malloc(qb)) == NULL)
			goto oom;
	}
	if ((s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((rc = pthread_create(&s->th, NULL, writer_main, s)) != 0) {
		snprintf(err, errlen, "cannot start the store writer: %s",
		         strerror(rc));
		goto fail;
	}
	s->started = true;
	*sp = s;
	return 0;
fail_lmdb:
	snprintf(err, errlen, "%s: %s", s->path, mdb_strerror(rc));
	goto fail;
oom:
	snprintf(err, errlen, "store: out of memory");
fail:
	store_free(s);
	return -1;
}

void
store_close(struct store *s)
{
	uint64_t one = 1;

	if (s == NULL)
		return;
	if (s->started) {
		atomic_store(&s->stopping, true);
		if (write(s->efd, &one, sizeof(one)) < 0) {
			/* full counter: the writer is awake */
		}
		pthread_join(s->th, NULL);
		s->started = false;
	}
	store_free(s);
}

/* ---- reading ------------------------------------------------------------- */

struct store_reader {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi flows, events, names, meta;
	bool has_flows, has_events, has_names, has_meta;
	unsigned version;
	char path[SP_PATH_MAX];
};

static int
reader_snapshot(struct store_reader *r)
{
	MDB_val k = {7, (void *)"version"}, v;
	int rc;

	rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &r->txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(r->env, 0);
		rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &r->txn);
	}
	if (rc != 0)
		return rc;
	r->has_flows = mdb_dbi_open(r->txn, "flows", 0, &r->flows) == 0;
	r->has_events = mdb_dbi_open(r->txn, "events", 0, &r->events) == 0;
	r->has_names = mdb_dbi_open(r->txn, "names", 0, &r->names) == 0;
	r->has_meta = mdb_dbi_open(r->txn, "meta", 0, &r->meta) == 0;
	r->version = r->has_flows ? 0 : STORE_SCHEMA_VERSION;
	if (r->has_meta && mdb_get(r->txn, r->meta, &k, &v) == 0 &&
	    v.mv_size == 4)
		r->version = get32(v.mv_data);
	return 0;
}

int
store_reader_open(struct store_reader **rp, const char *path, char *err,
                  size_t errlen)
{
	struct store_reader *r;
	char data[SP_PATH_MAX + 16];
	int rc;

	*rp = NULL;
	snprintf(data, sizeof(data), "%s/data.mdb", path);
	if (access(data, F_OK) != 0) {
		snprintf(err, errlen,
		         "no store at %s (%s): the daemon creates it, with "
		         "`db = %s` in its config",
		         path, strerror(errno), path);
		return -1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(r->path, sizeof(r->path), "%s", path);
	if ((rc = mdb_env_create(&r->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(r->env, 8)) != 0)
		goto fail;
	rc = mdb_env_open(r->env, path, MDB_RDONLY | MDB_NOTLS, 0);
	if (rc == EACCES || rc == EROFS) {
		/* lock.mdb is not ours to write: read unregistered. */
		mdb_env_close(r->env);
		if ((rc = mdb_env_create(&r->env)) != 0 ||
		    (rc = mdb_env_set_maxdbs(r->env, 8)) != 0)
			goto fail;
		rc = mdb_env_open(r->env, path,
		                  MDB_RDONLY | MDB_NOTLS | MDB_NOLOCK, 0);
	}
	if (rc != 0)
		goto fail;
	if ((rc = reader_snapshot(r)) != 0)
		goto fail;
	if (r->version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen,
		         "%s: store schema version %u is newer than this "
		         "spackle's (%u)",
		         path, r->version, STORE_SCHEMA_VERSION);
		store_reader_close(r);
		return -1;
	}
	*rp = r;
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot open the store: %s", path,
	         mdb_strerror(rc));
	if (r->env != NULL)
		mdb_env_close(r->env);
	free(r);
	return -1;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	if (r->txn != NULL)
		mdb_txn_abort(r->txn);
	mdb_env_close(r->env);
	free(r);
}

int
store_reader_refresh(struct store_reader *r)
{
	if (r->txn != NULL)
		mdb_txn_abort(r->txn);
	r->txn = NULL;
	return reader_snapshot(r) == 0 ? 0 : -1;
}

unsigned
store_reader_version(const struct store_reader *r)
{
	return r->version;
}

int
store_reader_flows(struct store_reader *r, bool reverse, store_flow_fn fn,
                   void *arg, uint64_t *bad)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct store_flow f;
	int rc, op, ret = 0;

	if (!r->has_flows)
		return 0;
	if ((rc = mdb_cursor_open(r->txn, r->flows, &c)) != 0)
		return -EIO;
	for (op = reverse ? MDB_LAST : MDB_FIRST;
	     mdb_cursor_get(c, &k, &v, op) == 0;
	     op = reverse ? MDB_PREV : MDB_NEXT) {
		if (k.mv_size != 8 ||
		    !store_flow_decode(r->version, getbe64(k.mv_data),
		                       v.mv_data, v.mv_size, &f)) {
			if (bad != NULL)
				(*bad)++;
			continue;
		}
		if ((ret = fn(&f, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return ret;
}

int
store_reader_flow(struct store_reader *r, uint64_t id, struct store_flow *out)
{
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;

	if (!r->has_flows)
		return -ENOENT;
	putbe64(kb, id);
	if (mdb_get(r->txn, r->flows, &k, &v) != 0)
		return -ENOENT;
	if (!store_flow_decode(r->version, id, v.mv_data, v.mv_size, out))
		return -EBADMSG;
	return 0;
}

int
store_reader_events(struct store_reader *r, uint64_t since_ns,
                    store_event_fn fn, void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t kb[EVENT_KEY] = {0};
	struct store_event e;
	size_t off;
	const uint8_t *p;
	int op = MDB_SET_RANGE, ret = 0;

	if (!r->has_events)
		return 0;
	if (mdb_cursor_open(r->txn, r->events, &c) != 0)
		return -EIO;
	putbe64(kb, since_ns);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	for (; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
		p = v.mv_data;
		off = EVENT_FIXED;
		if (k.mv_size != EVENT_KEY || v.mv_size < EVENT_FIXED ||
		    p[0] != 1)
			continue;
		e.ts_ns = getbe64(k.mv_data);
		e.seq = (uint32_t)getbe64((const uint8_t *)k.mv_data + 4);
		e.type = p[1];
		e.flow_id = get64(p + 8);
		if ((e.text = get_str(p, v.mv_size, &off, get16(p + 2))) ==
		    NULL)
			continue;
		if ((ret = fn(&e, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return ret;
}

size_t
store_reader_names(struct store_reader *r, const struct sp_addr *addr,
                   const char **names, uint64_t *expiry, size_t max)
{
	struct name_entry e[SP_NAMES_PER_ADDR];
	uint8_t kb[NAMES_KEY];
	MDB_val k = {NAMES_KEY, kb}, v;
	size_t n, i;

	if (!r->has_names)
		return 0;
	names_key(addr, kb);
	if (mdb_get(r->txn, r->names, &k, &v) != 0)
		return 0;
	n = names_decode(v.mv_data, v.mv_size, e, SP_NAMES_PER_ADDR);
	for (i = 0; i < n && i < max; i++) {
		names[i] = e[i].name;
		expiry[i] = e[i].expiry;
	}
	return i;
}

int
store_reader_meta_u64(struct store_reader *r, const char *key, uint64_t *out)
{
	MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;

	if (!r->has_meta || mdb_get(r->txn, r->meta, &k, &v) != 0)
		return -ENOENT;
	if (v.mv_size == 4)
		*out = get32(v.mv_data);
	else if (v.mv_size == 8)
		*out = get64(v.mv_data);
	else
		return -ENOENT;
	return 0;
}

int
store_reader_counts(struct store_reader *r, struct store_counts *c)
{
	MDB_stat st;

	memset(c, 0, sizeof(*c));
	if (r->has_flows && mdb_stat(r->txn, r->flows, &st) == 0)
		c->flows = st.ms_entries;
	if (r->has_events && mdb_stat(r->txn, r->events, &st) == 0)
		c->events = st.ms_entries;
	if (r->has_names && mdb_stat(r->txn, r->names, &st) == 0)
		c->names = st.ms_entries;
	if (r->has_meta && mdb_stat(r->txn, r->meta, &st) == 0)
		c->meta = st.ms_entries;
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hand-over: per-thread lock-free rings drained by one writer thread. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "spackle/handoff.h"

/*
 * A ring is cap bytes (a power of two). head and tail count bytes ever
 * written and ever given back, so head - tail is what the ring holds and
 * head & mask is where the next record goes. A record is a 16-byte header
 * and its payload, padded to 16 bytes; it never wraps: when it does not fit
 * before the end, a pad record fills the rest (at least 16 bytes, as every
 * offset is a multiple of 16) and it starts at offset 0. The producer
 * publishes head with release after writing the bytes; the writer reads
 * head with acquire, calls the sink, then publishes tail with release, and
 * the producer reads tail with acquire before reusing the room.
 */
struct handoff_rec {
	uint32_t len;  /* payload bytes; for a pad, the bytes it covers */
	uint32_t sink; /* sink number, or HANDOFF_PAD */
	uint64_t ts_ns;
};

#define HANDOFF_PAD UINT32_MAX

_Static_assert(sizeof(struct handoff_rec) == HANDOFF_REC_HDR,
               "a record header is HANDOFF_REC_HDR bytes");

struct handoff_producer {
	/* Written by the producer. */
	_Alignas(64) _Atomic uint64_t head; /* bytes ever written */
	uint64_t tail_cache;                /* tail as last read */
	_Atomic uint64_t put, lost, refused;
	/* Written by the writer. */
	_Alignas(64) _Atomic uint64_t tail; /* bytes ever given back */
	_Atomic uint64_t written;
	/* Fixed. */
	_Alignas(64) struct handoff *h;
	uint8_t *buf;
	uint64_t cap, mask;
};

struct handoff {
	/* Read by every put; written seldom (sinks added, stop, sleep). */
	_Alignas(64) _Atomic unsigned nsinks;
	_Atomic bool stopping;
	_Atomic bool sleeping; /* the writer is about to sleep, or asleep */
	size_t max_record;
	int efd;
	/* The writer's own, apart from what puts read. */
	_Alignas(64) bool dirty[HANDOFF_MAX_SINKS]; /* sinks to flush */
	_Atomic uint64_t wakeups;
	/* Fixed once the writer runs, or under mu. */
	_Alignas(64) struct handoff_sink sinks[HANDOFF_MAX_SINKS];
	struct handoff_producer **prod; /* max_prod slots, nprod filled */
	_Atomic unsigned nprod;
	unsigned max_prod;
	size_t ring;
	unsigned wake_ms;
	pthread_mutex_t mu; /* making producers and sinks, start and stop */
	pthread_t th;
	bool started, joined; /* under mu */
};

/* A counter with one writing thread: a plain add, no locked instruction. */
static inline void
bump(_Atomic uint64_t *c, memory_order mo)
{
	atomic_store_explicit(
	        c, atomic_load_explicit(c, memory_order_relaxed) + 1, mo);
}

static size_t
round_pow2(size_t n)
{
	size_t r = HANDOFF_MIN_RING;

	while (r < n && r < HANDOFF_MAX_RING)
		r <<= 1;
	return r;
}

int
handoff_new(struct handoff **hp, const struct handoff_config *cfg, char *err,
            size_t errlen)
{
	struct handoff_config def = {0};
	struct handoff *h;
	size_t fit;
	int e;

	if (hp == NULL) {
		snprintf(err, errlen, "handoff: no place for the hand-over");
		errno = EINVAL;
		return -1;
	}
	*hp = NULL;
	if (cfg == NULL)
		cfg = &def;
	if ((h = aligned_alloc(64, (sizeof(*h) + 63) & ~(size_t)63)) == NULL)
		goto oom;
	memset(h, 0, sizeof(*h));
	h->efd = -1;
	h->ring = round_pow2(cfg->ring_bytes ? cfg->ring_bytes
	                                     : HANDOFF_DEFAULT_RING);
	/* Room an empty ring always has, wherever its head stands. */
	fit = h->ring / 2 - HANDOFF_REC_HDR;
	h->max_record =
	        cfg->max_record ? cfg->max_record : HANDOFF_DEFAULT_MAX_RECORD;
	if (h->max_record > fit)
		h->max_record = fit;
	h->wake_ms = cfg->wake_ms ? cfg->wake_ms : HANDOFF_DEFAULT_WAKE_MS;
	if (h->wake_ms > HANDOFF_MAX_WAKE_MS)
		h->wake_ms = HANDOFF_MAX_WAKE_MS;
	h->max_prod = cfg->max_producers ? cfg->max_producers
	                                 : HANDOFF_DEFAULT_PRODUCERS;
	if (h->max_prod > HANDOFF_MAX_PRODUCERS)
		h->max_prod = HANDOFF_MAX_PRODUCERS;
	if ((h->prod = calloc(h->max_prod, sizeof(*h->prod))) == NULL)
		goto oom;
	if ((h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		e = errno;
		snprintf(err, errlen, "handoff: eventfd: %s", strerror(e));
		goto fail;
	}
	pthread_mutex_init(&h->mu, NULL);
	*hp = h;
	return 0;
oom:
	e = ENOMEM;
	snprintf(err, errlen, "handoff: out of memory");
fail:
	if (h != NULL) {
		free(h->prod);
		free(h);
	}
	errno = e;
	return -1;
}

int
handoff_sink_add(struct handoff *h, const struct handoff_sink *sink,
                 unsigned *id)
{
	unsigned n;
	int rc = -1;

	if (h == NULL || sink == NULL || sink->fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&h->mu);
	n = atomic_load_explicit(&h->nsinks, memory_order_relaxed);
	if (h->started || atomic_load(&h->stopping) || n >= HANDOFF_MAX_SINKS) {
		errno = EINVAL;
		goto out;
	}
	h->sinks[n] = *sink;
	atomic_store_explicit(&h->nsinks, n + 1, memory_order_release);
	if (id != NULL)
		*id = n;
	rc = 0;
out:
	pthread_mutex_unlock(&h->mu);
	return rc;
}

struct handoff_producer *
handoff_producer_new(struct handoff *h)
{
	struct handoff_producer *p = NULL;
	unsigned n;

	if (h == NULL) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&h->mu);
	n = atomic_load_explicit(&h->nprod, memory_order_relaxed);
	if (atomic_load(&h->stopping)) {
		errno = EINVAL;
		goto out;
	}
	if (n >= h->max_prod) {
		errno = ENOSPC;
		goto out;
	}
	/* Aligned as its members ask: head and tail on lines of their own. */
	if ((p = aligned_alloc(64, (sizeof(*p) + 63) & ~(size_t)63)) == NULL)
		goto oom;
	memset(p, 0, sizeof(*p));
	if ((p->buf = aligned_alloc(64, h->ring)) == NULL) {
		free(p);
		p = NULL;
		goto oom;
	}
	p->h = h;
	p->cap = h->ring;
	p->mask = h->ring - 1;
	h->prod[n] = p;
	/* The writer reads prod[n] only after it sees the new count. */
	atomic_store_explicit(&h->nprod, n + 1, memory_order_release);
	goto out;
oom:
	errno = ENOMEM;
out:
	pthread_mutex_unlock(&h->mu);
	return p;
}

size_t
handoff_max_record(const struct handoff *h)
{
	return h != NULL ? h->max_record : 0;
}

static void
handoff_kick(struct handoff *h)
{
	uint64_t one = 1;

	if (write(h->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the writer wakes anyway. */
	}
}

bool
handoff_putv(struct handoff_producer *p, unsigned sink, const struct iovec *iov,
             unsigned iovcnt, uint64_t ts_ns)
{
	struct handoff *h;
	struct handoff_rec r = {0};
	uint64_t head, off, contig, need, total;
	size_t len = 0;
	unsigned i;

	if (p == NULL)
		return false;
	h = p->h;
	if (iov == NULL && iovcnt > 0)
		goto refused;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > h->max_record - len ||
		    (iov[i].iov_base == NULL && iov[i].iov_len > 0))
			goto refused;
		len += iov[i].iov_len;
	}
	if (sink >= atomic_load_explicit(&h->nsinks, memory_order_acquire))
		goto refused;
	if (atomic_load_explicit(&h->stopping, memory_order_relaxed))
		goto lost;

	head = atomic_load_explicit(&p->head, memory_order_relaxed);
	need = (HANDOFF_REC_HDR + len + 15) & ~(uint64_t)15;
	off = head & p->mask;
	contig = p->cap - off;
	total = need <= contig ? need : contig + need;
	if (head + total - p->tail_cache > p->cap) {
		p->tail_cache =
		        atomic_load_explicit(&p->tail, memory_order_acquire);
		if (head + total - p->tail_cache > p->cap)
			goto lost;
	}
	if (need > contig) {
		r.len = (uint32_t)contig;
		r.sink = HANDOFF_PAD;
		memcpy(p->buf + off, &r, sizeof(r));
		head += contig;
		off = 0;
	}
	r.len = (uint32_t)len;
	r.sink = sink;
	r.ts_ns = ts_ns;
	memcpy(p->buf + off, &r, sizeof(r));
	off += sizeof(r);
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(p->buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	/* Counted before it is visible, so a reader never sees written
	 * pass put. */
	bump(&p->put, memory_order_relaxed);
	atomic_store_explicit(&p->head, head + need, memory_order_release);
	/*
	 * Wake a sleeping writer. The fence pairs with the writer's between
	 * raising `sleeping` and looking at the heads: either it sees this
	 * record, or this sees `sleeping` and kicks it (one producer only).
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&h->sleeping, memory_order_relaxed) &&
	    atomic_exchange_explicit(&h->sleeping, false, memory_order_relaxed))
		handoff_kick(h);
	return true;
lost:
	bump(&p->lost, memory_order_relaxed);
	return false;
refused:
	bump(&p->refused, memory_order_relaxed);
	return false;
}

bool
handoff_put(struct handoff_producer *p, unsigned sink, const void *data,
            size_t len, uint64_t ts_ns)
{
	struct iovec iov = {(void *)(uintptr_t)data, len};

	return handoff_putv(p, sink, &iov, 1, ts_ns);
}

/* Our own producer wrote something we cannot read: a bug, stop loudly. */
static void
handoff_bug(const struct handoff_producer *p, uint64_t at,
            const struct handoff_rec *r)
{
	fprintf(stderr,
	        "spackle: handoff: bad record in a ring at byte %llu: sink "
	        "%u, length %u (ring %llu bytes); aborting\n",
	        (unsigned long long)at, r->sink, r->len,
	        (unsigned long long)p->cap);
	abort();
}

/* Give every record p holds now to its sink; returns how many. */
static uint64_t
writer_ring(struct handoff *h, struct handoff_producer *p, unsigned nsinks)
{
	struct handoff_rec r;
	const struct handoff_sink *s;
	uint64_t head, tail, off, n = 0;

	head = atomic_load_explicit(&p->head, memory_order_acquire);
	tail = atomic_load_explicit(&p->tail, memory_order_relaxed);
	while (tail != head) {
		off = tail & p->mask;
		memcpy(&r, p->buf + off, sizeof(r));
		if (r.sink == HANDOFF_PAD) {
			if (r.len != p->cap - off)
				handoff_bug(p, tail, &r);
			tail += r.len;
		} else {
			if (r.sink >= nsinks || r.len > h->max_record)
				handoff_bug(p, tail, &r);
			s = &h->sinks[r.sink];
			s->fn(s->arg, p->buf + off + sizeof(r), r.len, r.ts_ns);
			h->dirty[r.sink] = true;
			tail += (HANDOFF_REC_HDR + (uint64_t)r.len + 15) &
			        ~(uint64_t)15;
			n++;
			bump(&p->written, memory_order_release);
		}
		/* The room goes back as soon as the sink is done with it. */
		atomic_store_explicit(&p->tail, tail, memory_order_release);
	}
	return n;
}

/* One pass over every ring, then the flushes; returns records delivered. */
static uint64_t
writer_pass(struct handoff *h)
{
	unsigned i, np, ns;
	uint64_t n = 0;

	np = atomic_load_explicit(&h->nprod, memory_order_acquire);
	ns = atomic_load_explicit(&h->nsinks, memory_order_acquire);
	for (i = 0; i < np; i++)
		n += writer_ring(h, h->prod[i], ns);
	for (i = 0; i < ns; i++) {
		if (!h->dirty[i])
			continue;
		h->dirty[i] = false;
		if (h->sinks[i].flush != NULL)
			h->sinks[i].flush(h->sinks[i].arg);
	}
	return n;
}

static bool
writer_pending(struct handoff *h)
{
	unsigned i, np = atomic_load_explicit(&h->nprod, memory_order_acquire);
	struct handoff_producer *p;

	for (i = 0; i < np; i++) {
		p = h->prod[i];
		if (atomic_load_explicit(&p->head, memory_order_acquire) !=
		    atomic_load_explicit(&p->tail, memory_order_relaxed))
			return true;
	}
	return false;
}

static void *
writer_main(void *arg)
{
	struct handoff *h = arg;
	struct pollfd pfd = {h->efd, POLLIN, 0};
	uint64_t buf;
	sigset_t all;
	bool stop;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* It writes the denied-packet capture and the decision log. */
	pthread_setname_np(pthread_self(), "spackle-log");
	for (;;) {
		/* Read before the pass: what was put before the stop is in
		 * the heads the pass reads. */
		stop = atomic_load(&h->stopping);
		if (writer_pass(h) > 0)
			continue;
		if (stop)
			break;
		atomic_store_explicit(&h->sleeping, true, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (writer_pending(h) || atomic_load(&h->stopping)) {
			atomic_store(&h->sleeping, false);
			continue;
		}
		if (poll(&pfd, 1, (int)h->wake_ms) > 0 &&
		    read(h->efd, &buf, sizeof(buf)) < 0) {
			/* EAGAIN: nothing to take. */
		}
		atomic_store(&h->sleeping, false);
		bump(&h->wakeups, memory_order_relaxed);
	}
	return NULL;
}

int
handoff_start(struct handoff *h, char *err, size_t errlen)
{
	int rc;

	if (h == NULL) {
		snprintf(err, errlen, "handoff: no hand-over to start");
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&h->mu);
	if (h->started || atomic_load(&h->stopping)) {
		pthread_mutex_unlock(&h->mu);
		snprintf(err, errlen, "handoff: already started or stopped");
		errno = EINVAL;
		return -1;
	}
	if ((rc = pthread_create(&h->th, NULL, writer_main, h)) != 0) {
		pthread_mutex_unlock(&h->mu);
		snprintf(err, errlen, "handoff: cannot start the writer: %s",
		         strerror(rc));
		errno = rc;
		return -1;
	}
	h->started = true;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

void
handoff_stop(struct handoff *h)
{
	bool join;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	atomic_store(&h->stopping, true);
	join = h->started && !h->joined;
	h->joined = h->started;
	pthread_mutex_unlock(&h->mu);
	if (!join)
		return;
	handoff_kick(h);
	pthread_join(h->th, NULL);
}

void
handoff_free(struct handoff *h)
{
	unsigned i, np;

	if (h == NULL)
		return;
	handoff_stop(h);
	np = atomic_load(&h->nprod);
	for (i = 0; i < np; i++) {
		free(h->prod[i]->buf);
		free(h->prod[i]);
	}
	free(h->prod);
	close(h->efd);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static void
stats_add(struct handoff_stats *st, const struct handoff_producer *p)
{
	/* written first: put, read after it, is never behind it. */
	st->written += atomic_load_explicit(&p->written, memory_order_acquire);
	st->put += atomic_load_explicit(&p->put, memory_order_relaxed);
	st->lost += atomic_load_explicit(&p->lost, memory_order_relaxed);
	st->refused += atomic_load_explicit(&p->refused, memory_order_relaxed);
}

void
handoff_producer_stats(const struct handoff_producer *p,
                       struct handoff_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (p == NULL)
		return;
	stats_add(st, p);
}

void
handoff_stats(const struct handoff *h, struct handoff_stats *st)
{
	unsigned i, np;

	memset(st, 0, sizeof(*st));
	if (h == NULL)
		return;
	np = atomic_load_explicit(&h->nprod, memory_order_acquire);
	for (i = 0; i < np; i++)
		stats_add(st, h->prod[i]);
	st->wakeups = atomic_load_explicit(&h->wakeups, memory_order_relaxed);
}

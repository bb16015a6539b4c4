/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hand-over: order, no loss or double delivery, full rings, wrap, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guard.h"
#include "spackle/handoff.h"

#define NPROD_MAX 4
#define LOG_MAX   (1u << 18)

/*
 * A record's identity travels in its ts_ns: producer << 32 | seq. Its
 * payload is a pattern of (producer, seq, len), so a sink can tell a
 * record cut, shifted or mixed with another from an intact one.
 */
static uint64_t
rec_ts(unsigned prod, uint32_t seq)
{
	return (uint64_t)prod << 32 | seq;
}

static uint8_t
rec_byte(unsigned prod, uint32_t seq, size_t len, size_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + prod * 17u + len);
}

static void
rec_fill(uint8_t *p, unsigned prod, uint32_t seq, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = rec_byte(prod, seq, len, i);
}

/* FNV-1a of a record with its identity: summed over records, the
 * checksum of a set of deliveries. */
static uint64_t
rec_hash(const uint8_t *p, size_t len, uint64_t ts)
{
	uint64_t x = 1469598103934665603ull ^ ts;
	size_t i;

	for (i = 0; i < len; i++)
		x = (x ^ p[i]) * 1099511628211ull;
	return x + len;
}

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void
sleep_us(unsigned us)
{
	struct timespec t = {0, (long)us * 1000};

	nanosleep(&t, NULL);
}

/*
 * A checking sink. Touched only on the writer thread while it runs; the
 * test reads it after a stats reading shows the records written (which
 * orders it after the sink calls) or after handoff_stop().
 */
struct check {
	uint64_t count, sum;
	uint64_t bad;                  /* pattern or identity wrong */
	uint64_t disorder;             /* seq not above the previous */
	int64_t last[NPROD_MAX];       /* last seq seen per producer */
	uint64_t flushes, since_flush; /* records since the last flush */
	uint32_t *log;                 /* ts of each record, in order */
	size_t nlog;
	bool block_first; /* wait on `release` in the first call */
	sem_t entered, release;
};

static void
check_init(struct check *c)
{
	unsigned i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NPROD_MAX; i++)
		c->last[i] = -1;
	c->log = calloc(LOG_MAX, sizeof(*c->log));
	assert_non_null(c->log);
	sem_init(&c->entered, 0, 0);
	sem_init(&c->release, 0, 0);
}

static void
check_done(struct check *c)
{
	free(c->log);
	sem_destroy(&c->entered);
	sem_destroy(&c->release);
}

static void
check_fn(void *arg, const void *data, size_t len, uint64_t ts)
{
	struct check *c = arg;
	const uint8_t *p = data;
	unsigned prod = (unsigned)(ts >> 32);
	uint32_t seq = (uint32_t)ts;
	size_t i;

	if (c->block_first && c->count == 0) {
		sem_post(&c->entered);
		sem_wait(&c->release);
	}
	if (prod >= NPROD_MAX || ((uintptr_t)data & 15) != 0) {
		c->bad++;
		return;
	}
	for (i = 0; i < len; i++)
		if (p[i] != rec_byte(prod, seq, len, i)) {
			c->bad++;
			break;
		}
	if ((int64_t)seq <= c->last[prod])
		c->disorder++;
	c->last[prod] = seq;
	c->sum += rec_hash(p, len, ts);
	if (c->nlog < LOG_MAX)
		c->log[c->nlog++] = seq;
	c->count++;
	c->since_flush++;
}

static void
check_flush(void *arg)
{
	struct check *c = arg;

	c->flushes++;
	c->since_flush = 0;
}

static struct handoff *
make(size_t ring, unsigned wake_ms, struct check *c, unsigned nsinks)
{
	struct handoff_config cfg = {.ring_bytes = ring, .wake_ms = wake_ms};
	struct handoff_sink s = {check_fn, check_flush, NULL};
	struct handoff *h;
	char err[128];
	unsigned i, id;

	assert_int_equal(handoff_new(&h, &cfg, err, sizeof(err)), 0);
	for (i = 0; i < nsinks; i++) {
		s.arg = &c[i];
		assert_int_equal(handoff_sink_add(h, &s, &id), 0);
		assert_int_equal(id, i);
	}
	return h;
}

static void
start(struct handoff *h)
{
	char err[128];

	assert_int_equal(handoff_start(h, err, sizeof(err)), 0);
}

/* Wait (10 s at most) until n records have reached their sinks. */
static void
wait_written(struct handoff *h, uint64_t n)
{
	struct handoff_stats st;
	uint64_t deadline = now_ns() + 10000000000ull;

	for (;;) {
		handoff_stats(h, &st);
		if (st.written >= n)
			break;
		assert_true(now_ns() < deadline);
		sleep_us(100);
	}
	assert_int_equal(st.written, n);
}

/* Put record (prod, seq) of len bytes; its hash is added to *sum when the
 * ring took it. */
static bool
put_rec(struct handoff_producer *p, unsigned sink, unsigned prod, uint32_t seq,
        size_t len, uint64_t *sum)
{
	uint8_t buf[1024];

	assert_true(len <= sizeof(buf));
	rec_fill(buf, prod, seq, len);
	if (!handoff_put(p, sink, buf, len, rec_ts(prod, seq)))
		return false;
	if (sum != NULL)
		*sum += rec_hash(buf, len, rec_ts(prod, seq));
	return true;
}

/* One producer, two sinks: each sink sees its records in put order. */
static void
test_order(void **state)
{
	struct check c[2];
	struct handoff *h;
	struct handoff_producer *p;
	struct handoff_stats st;
	uint64_t sum[2] = {0, 0};
	uint32_t seq, n = 20000;
	unsigned i;

	(void)state;
	check_init(&c[0]);
	check_init(&c[1]);
	h = make(8u << 20, 0, c, 2);
	start(h);
	assert_non_null(p = handoff_producer_new(h));
	for (seq = 0; seq < n; seq++)
		assert_true(
		        put_rec(p, seq % 2, 0, seq, seq % 300, &sum[seq % 2]));
	handoff_stop(h);
	handoff_stats(h, &st);
	assert_int_equal(st.put, n);
	assert_int_equal(st.written, n);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.refused, 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(c[i].count, n / 2);
		assert_int_equal(c[i].bad, 0);
		assert_int_equal(c[i].disorder, 0);
		assert_int_equal(c[i].sum, sum[i]);
		for (seq = 0; seq < n / 2; seq++)
			assert_int_equal(c[i].log[seq], seq * 2 + i);
		/* Flushed after the last batch. */
		assert_true(c[i].flushes >= 1);
		assert_int_equal(c[i].since_flush, 0);
		check_done(&c[i]);
	}
	handoff_free(h);
}

struct producer_arg {
	struct handoff *h;
	unsigned idx;
	uint32_t n;
	pthread_barrier_t *go;
	uint64_t sum;
	uint32_t failed;
};

static void *
producer_main(void *arg)
{
	struct producer_arg *a = arg;
	struct handoff_producer *p = handoff_producer_new(a->h);
	uint32_t seq;

	pthread_barrier_wait(a->go);
	if (p == NULL) {
		a->failed = a->n;
		return NULL;
	}
	for (seq = 0; seq < a->n; seq++)
		if (!put_rec(p, 0, a->idx, seq, 8 + seq % 193, &a->sum))
			a->failed++;
	return NULL;
}

/* Two threads, one producer each: everything arrives, each in order. */
static void
test_two_producers(void **state)
{
	struct check c;
	struct handoff *h;
	struct handoff_stats st;
	struct producer_arg a[2];
	pthread_barrier_t go;
	pthread_t th[2];
	uint32_t n = 50000;
	unsigned i;

	(void)state;
	check_init(&c);
	/* 16 MiB a ring holds every record even if the writer never ran. */
	h = make(16u << 20, 0, &c, 1);
	start(h);
	pthread_barrier_init(&go, NULL, 3);
	for (i = 0; i < 2; i++) {
		a[i] = (struct producer_arg){h, i, n, &go, 0, 0};
		assert_int_equal(
		        pthread_create(&th[i], NULL, producer_main, &a[i]), 0);
	}
	pthread_barrier_wait(&go);
	/* Counters read while both put and the writer writes. */
	do {
		handoff_stats(h, &st);
		assert_true(st.written <= st.put);
		sleep_us(200);
	} while (st.put < 2ull * n);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	handoff_stop(h);
	handoff_stats(h, &st);
	assert_int_equal(a[0].failed + a[1].failed, 0);
	assert_int_equal(st.put, 2ull * n);
	assert_int_equal(st.written, 2ull * n);
	assert_int_equal(st.lost, 0);
	assert_int_equal(c.count, 2ull * n);
	assert_int_equal(c.sum, a[0].sum + a[1].sum);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.disorder, 0);
	assert_int_equal(c.last[0], n - 1);
	assert_int_equal(c.last[1], n - 1);
	check_done(&c);
	handoff_free(h);
}

struct stress_arg {
	struct handoff *h;
	unsigned idx;
	uint32_t n;
	uint64_t sum, lost;
};

/* Every record until the ring takes it: a false put is retried. */
static void *
stress_main(void *arg)
{
	struct stress_arg *a = arg;
	struct handoff_producer *p = handoff_producer_new(a->h);
	uint32_t seq;

	if (p == NULL)
		return NULL;
	for (seq = 0; seq < a->n; seq++)
		while (!put_rec(p, 0, a->idx, seq, seq % 97, &a->sum)) {
			a->lost++;
			sched_yield();
		}
	return NULL;
}

/*
 * Two producers on rings of 1 KiB, far too small: the rings wrap and fill
 * all the time while the writer reads them. Each false put is counted as
 * lost, no more, no less, and every record arrives once, intact, in order.
 */
static void
test_stress_small_ring(void **state)
{
	struct check c;
	struct handoff *h;
	struct handoff_stats st;
	struct stress_arg a[2];
	pthread_t th[2];
	uint32_t n = 50000;
	unsigned i;

	(void)state;
	check_init(&c);
	h = make(1024, 0, &c, 1);
	start(h);
	for (i = 0; i < 2; i++) {
		a[i] = (struct stress_arg){h, i, n, 0, 0};
		assert_int_equal(
		        pthread_create(&th[i], NULL, stress_main, &a[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	handoff_stop(h);
	handoff_stats(h, &st);
	assert_int_equal(st.put, 2ull * n);
	assert_int_equal(st.written, 2ull * n);
	assert_int_equal(st.lost, a[0].lost + a[1].lost);
	assert_int_equal(c.count, 2ull * n);
	assert_int_equal(c.sum, a[0].sum + a[1].sum);
	assert_int_equal(c.bad, 0);
	/* In order, and n of each: exactly 0, 1, ..., n - 1. */
	assert_int_equal(c.disorder, 0);
	assert_int_equal(c.last[0], n - 1);
	assert_int_equal(c.last[1], n - 1);
	check_done(&c);
	handoff_free(h);
}

/*
 * A ring of 1024 bytes and a sink held in its first call: the ring takes
 * exactly what fits, every other put fails and is counted as lost, and once
 * the sink lets go each accepted record arrives once, intact, in order.
 */
static void
test_full_ring(void **state)
{
	struct check c;
	struct handoff *h;
	struct handoff_producer *p;
	struct handoff_stats st, ps;
	uint64_t sum = 0;
	uint32_t seq, accepted = 0, lost = 0, want[128];
	unsigned i;

	(void)state;
	check_init(&c);
	c.block_first = true;
	h = make(1024, 0, &c, 1);
	start(h);
	assert_non_null(p = handoff_producer_new(h));
	/* 48 bytes of payload take 64 of the ring. */
	assert_true(put_rec(p, 0, 0, 0, 48, &sum));
	want[accepted++] = 0;
	sem_wait(&c.entered);
	for (seq = 1; seq <= 100; seq++) {
		if (put_rec(p, 0, 0, seq, 48, &sum))
			want[accepted++] = seq;
		else
			lost++;
	}
	/* The held record keeps its room: 1024 / 64 records in all. */
	assert_int_equal(accepted, 16);
	assert_int_equal(lost, 100 - 15);
	handoff_stats(h, &st);
	handoff_producer_stats(p, &ps);
	assert_int_equal(st.lost, lost);
	assert_int_equal(ps.lost, lost);
	assert_int_equal(st.put, accepted);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.written, 0);

	sem_post(&c.release);
	wait_written(h, accepted);
	assert_int_equal(c.count, accepted);
	for (i = 0; i < accepted; i++)
		assert_int_equal(c.log[i], want[i]);
	/* Room again: these wrap round the ring. */
	for (seq = 101; seq <= 120; seq++) {
		assert_true(put_rec(p, 0, 0, seq, 48 + seq % 5 * 16, &sum));
		want[accepted++] = seq;
		wait_written(h, accepted);
	}
	handoff_stop(h);
	handoff_stats(h, &st);
	assert_int_equal(st.lost, lost);
	assert_int_equal(st.put, accepted);
	assert_int_equal(st.written, accepted);
	assert_int_equal(c.count, accepted);
	assert_int_equal(c.sum, sum);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.disorder, 0);
	for (i = 0; i < accepted; i++)
		assert_int_equal(c.log[i], want[i]);
	check_done(&c);
	handoff_free(h);
}

/*
 * Every length from 0 to the longest, one record at a time, in rings small
 * enough that records land at every offset: some end exactly at the ring's
 * end, some need a pad record before them. The model of the head says how
 * often each case came; the data is put from a guard page (a read past its
 * end crashes).
 */
static void
test_wrap(void **state)
{
	static const size_t rings[] = {256, 512, 1024};
	struct check c;
	struct handoff *h;
	struct handoff_producer *p;
	uint64_t sum, head, need, exact, pads;
	uint8_t buf[1024], *g;
	uint32_t seq;
	size_t r, len, max;
	unsigned round;

	(void)state;
	for (r = 0; r < sizeof(rings) / sizeof(rings[0]); r++) {
		check_init(&c);
		h = make(rings[r], 0, &c, 1);
		max = handoff_max_record(h);
		assert_int_equal(max, rings[r] / 2 - HANDOFF_REC_HDR);
		start(h);
		assert_non_null(p = handoff_producer_new(h));
		seq = 0;
		sum = head = exact = pads = 0;
		for (round = 0; round < 3; round++) {
			for (len = round; len <= max; len += 1 + round) {
				need = (HANDOFF_REC_HDR + len + 15) & ~15ull;
				if (rings[r] - head % rings[r] < need) {
					head += rings[r] - head % rings[r];
					pads++;
				}
				head += need;
				if (head % rings[r] == 0)
					exact++;
				rec_fill(buf, 0, seq, len);
				g = guard_copy(buf, len);
				assert_true(handoff_put(p, 0, g, len,
				                        rec_ts(0, seq)));
				guard_free(g);
				sum += rec_hash(buf, len, rec_ts(0, seq));
				seq++;
				wait_written(h, seq);
			}
		}
		assert_true(exact >= 3);
		assert_true(pads >= 3);
		handoff_stop(h);
		assert_int_equal(c.count, seq);
		assert_int_equal(c.sum, sum);
		assert_int_equal(c.bad, 0);
		assert_int_equal(c.disorder, 0);
		check_done(&c);
		handoff_free(h);
	}
}

/* A record gathered from pieces arrives as one payload. */
static void
test_putv(void **state)
{
	struct check c;
	struct handoff *h;
	struct handoff_producer *p;
	uint8_t buf[300];
	struct iovec iov[3] = {{buf, 10}, {NULL, 0}, {buf + 10, 290}};
	uint64_t sum;

	(void)state;
	check_init(&c);
	h = make(4096, 0, &c, 1);
	start(h);
	assert_non_null(p = handoff_producer_new(h));
	rec_fill(buf, 1, 7, sizeof(buf));
	sum = rec_hash(buf, sizeof(buf), rec_ts(1, 7));
	assert_true(handoff_putv(p, 0, iov, 3, rec_ts(1, 7)));
	/* No piece at all: an empty record. */
	assert_true(handoff_putv(p, 0, NULL, 0, rec_ts(1, 8)));
	sum += rec_hash(buf, 0, rec_ts(1, 8));
	handoff_stop(h);
	assert_int_equal(c.count, 2);
	assert_int_equal(c.sum, sum);
	assert_int_equal(c.bad, 0);
	check_done(&c);
	handoff_free(h);
}

/* Too long, no such sink, no data: refused and counted, never lost. */
static void
test_refused(void **state)
{
	struct check c;
	struct handoff *h;
	struct handoff_producer *p;
	struct handoff_config cfg = {.max_record = 100};
	struct handoff_sink s = {check_fn, NULL, &c};
	struct handoff_stats st;
	uint8_t buf[512];
	char err[128];
	struct iovec big[2] = {{buf, 60}, {buf, 41}};

	(void)state;
	check_init(&c);
	assert_int_equal(handoff_new(&h, &cfg, err, sizeof(err)), 0);
	assert_int_equal(handoff_max_record(h), 100);
	assert_int_equal(handoff_sink_add(h, &s, NULL), 0);
	assert_non_null(p = handoff_producer_new(h));
	start(h);
	rec_fill(buf, 0, 0, 100);
	assert_true(handoff_put(p, 0, buf, 100, rec_ts(0, 0)));
	assert_false(handoff_put(p, 0, buf, 101, rec_ts(0, 1)));
	assert_false(handoff_putv(p, 0, big, 2, rec_ts(0, 1)));
	assert_false(handoff_put(p, 1, buf, 10, rec_ts(0, 1)));
	assert_false(handoff_put(p, 0, NULL, 10, rec_ts(0, 1)));
	assert_false(handoff_putv(p, 0, NULL, 1, rec_ts(0, 1)));
	assert_false(handoff_put(NULL, 0, buf, 10, 0));
	handoff_stop(h);
	handoff_stats(h, &st);
	assert_int_equal(st.put, 1);
	assert_int_equal(st.written, 1);
	assert_int_equal(st.refused, 5);
	assert_int_equal(st.lost, 0);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.bad, 0);
	check_done(&c);
	handoff_free(h);

	/* A max_record beyond half the ring is cut to it. */
	cfg = (struct handoff_config){.ring_bytes = 300, .max_record = 1000};
	assert_int_equal(handoff_new(&h, &cfg, err, sizeof(err)), 0);
	assert_int_equal(handoff_max_record(h), 512 / 2 - HANDOFF_REC_HDR);
	handoff_free(h);
}

/* Records put before the start, or still queued at the stop, are all
 * delivered; after the stop nothing is taken. */
static void
test_stop_drains(void **state)
{
	struct check c;
	struct handoff *h;
	struct handoff_producer *p;
	struct handoff_stats st;
	uint64_t sum = 0;
	uint32_t seq;

	(void)state;
	check_init(&c);
	h = make(1u << 20, 0, &c, 1);
	assert_non_null(p = handoff_producer_new(h));
	for (seq = 0; seq < 500; seq++)
		assert_true(put_rec(p, 0, 0, seq, seq % 100, &sum));
	start(h);
	handoff_stop(h);
	assert_int_equal(c.count, 500);
	assert_int_equal(c.sum, sum);
	assert_int_equal(c.since_flush, 0);
	/* Stopped: puts are lost, no producer is made, no restart. */
	assert_false(put_rec(p, 0, 0, 500, 10, NULL));
	assert_null(handoff_producer_new(h));
	handoff_stats(h, &st);
	assert_int_equal(st.put, 500);
	assert_int_equal(st.written, 500);
	assert_int_equal(st.lost, 1);
	handoff_stop(h);
	check_done(&c);
	handoff_free(h);

	/* The sink held in its first call: the rest are in the ring when the
	 * stop begins. */
	check_init(&c);
	c.block_first = true;
	sum = 0;
	h = make(1u << 20, 0, &c, 1);
	start(h);
	assert_non_null(p = handoff_producer_new(h));
	assert_true(put_rec(p, 0, 0, 0, 64, &sum));
	sem_wait(&c.entered);
	for (seq = 1; seq < 2000; seq++)
		assert_true(put_rec(p, 0, 0, seq, 64, &sum));
	handoff_stats(h, &st);
	assert_int_equal(st.written, 0);
	sem_post(&c.release);
	handoff_stop(h);
	handoff_stats(h, &st);
	assert_int_equal(st.written, 2000);
	assert_int_equal(c.count, 2000);
	assert_int_equal(c.sum, sum);
	assert_int_equal(c.disorder, 0);
	assert_int_equal(c.since_flush, 0);
	check_done(&c);
	handoff_free(h);

	/* Never started: stop and free, nothing delivered, nothing leaks. */
	check_init(&c);
	h = make(4096, 0, &c, 1);
	assert_non_null(p = handoff_producer_new(h));
	assert_true(put_rec(p, 0, 0, 0, 10, NULL));
	handoff_free(h);
	assert_int_equal(c.count, 0);
	check_done(&c);
}

/*
 * The writer sleeps when idle and is woken by a put: with a 30 s safety
 * timeout, records one by one still arrive at once, and an idle writer
 * wakes only on its timeout and takes next to no CPU.
 */
static void
test_wakeup(void **state)
{
	struct check c;
	struct handoff *h;
	struct handoff_producer *p;
	struct handoff_stats st;
	struct timespec c0, c1;
	uint64_t t0, cpu;
	uint32_t seq;

	(void)state;
	check_init(&c);
	h = make(4096, 30000, &c, 1);
	start(h);
	assert_non_null(p = handoff_producer_new(h));
	t0 = now_ns();
	for (seq = 0; seq < 50; seq++) {
		/* Long enough for the writer to fall asleep again. */
		sleep_us(2000);
		assert_true(put_rec(p, 0, 0, seq, 32, NULL));
		wait_written(h, seq + 1);
	}
	assert_true(now_ns() - t0 < 10000000000ull);
	handoff_stop(h);
	assert_int_equal(c.count, 50);
	check_done(&c);
	handoff_free(h);

	check_init(&c);
	h = make(4096, 50, &c, 1);
	start(h);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	sleep_us(500000);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	handoff_stats(h, &st);
	/* About ten timeouts in half a second. */
	assert_true(st.wakeups <= 20);
	cpu = (uint64_t)(c1.tv_sec - c0.tv_sec) * 1000000000ull +
	      (uint64_t)c1.tv_nsec - (uint64_t)c0.tv_nsec;
	assert_true(cpu < 100000000ull);
	handoff_stop(h);
	check_done(&c);
	handoff_free(h);
}

/* The limits: sinks, producers, starting twice, NULLs. */
static void
test_limits(void **state)
{
	struct handoff_config cfg = {.max_producers = 2};
	struct handoff_sink s = {check_fn, NULL, NULL},
	                    none = {NULL, NULL, NULL};
	struct handoff_stats st;
	struct handoff *h;
	char err[128];
	unsigned i, id;

	(void)state;
	assert_int_equal(handoff_new(&h, &cfg, err, sizeof(err)), 0);
	assert_int_equal(handoff_sink_add(h, &none, &id), -1);
	for (i = 0; i < HANDOFF_MAX_SINKS; i++)
		assert_int_equal(handoff_sink_add(h, &s, &id), 0);
	assert_int_equal(handoff_sink_add(h, &s, &id), -1);
	assert_non_null(handoff_producer_new(h));
	assert_non_null(handoff_producer_new(h));
	errno = 0;
	assert_null(handoff_producer_new(h));
	assert_int_equal(errno, ENOSPC);
	start(h);
	assert_int_equal(handoff_start(h, err, sizeof(err)), -1);
	handoff_free(h);

	assert_int_equal(handoff_new(&h, NULL, err, sizeof(err)), 0);
	assert_int_equal(handoff_max_record(h), HANDOFF_DEFAULT_MAX_RECORD);
	start(h);
	assert_int_equal(handoff_sink_add(h, &s, &id), -1);
	handoff_free(h);

	assert_int_equal(handoff_sink_add(NULL, &s, &id), -1);
	assert_null(handoff_producer_new(NULL));
	assert_int_equal(handoff_start(NULL, err, sizeof(err)), -1);
	handoff_stats(NULL, &st);
	assert_int_equal(st.put, 0);
	handoff_producer_stats(NULL, &st);
	assert_int_equal(st.put, 0);
	handoff_stop(NULL);
	handoff_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_order),
	        cmocka_unit_test(test_two_producers),
	        cmocka_unit_test(test_stress_small_ring),
	        cmocka_unit_test(test_full_ring),
	        cmocka_unit_test(test_wrap),
	        cmocka_unit_test(test_putv),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_stop_drains),
	        cmocka_unit_test(test_wakeup),
	        cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

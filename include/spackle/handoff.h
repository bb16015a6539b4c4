/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hand-over: workers pass records to one writer thread that owns files. */
#ifndef SPACKLE_HANDOFF_H
#define SPACKLE_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * A hand-over is one writer thread and the sinks it owns (a capture file,
 * the decision log: anything that may wait on disk or on a lock). Threads
 * that must never wait, the daemon's workers, hand it records instead of
 * writing themselves:
 *
 *   worker ── handoff_put() ──► its own ring ──► writer thread ──► sink fn
 *
 * Producers. Each producing thread owns one handoff_producer: a single-
 * producer single-consumer ring of variable-length records, ring_bytes long,
 * allocated when the producer is made. A put copies the record into the ring
 * and returns at once: it never blocks, never allocates, never takes a lock.
 * It makes one system call, an eventfd write that cannot block, only when
 * the writer is asleep (once per sleep, whichever producer comes first).
 * When the ring lacks room the record is refused and counted as lost; a
 * record longer than the maximum is refused and counted as refused. Any
 * thread may own a producer (the workers, the main thread); a producer is
 * used by one thread at a time: to pass it to another thread, hand it over
 * through something that orders memory (pthread_create, a mutex).
 *
 * The writer. handoff_start() starts it; it sleeps on the eventfd, with a
 * timeout of wake_ms as a safety net, never spinning. Woken, it passes over
 * every ring, oldest record first within each ring, calls the record's sink
 * on each, then calls the flush function of every sink that got a record in
 * that pass (a capture's fflush: once per batch, not per packet). A record's
 * room in the ring is given back once its sink has returned. Records of one
 * producer reach their sinks in the order they were put; records of two
 * producers have no order between them.
 *
 * Sinks run on the writer thread only, one at a time: a sink needs no lock
 * of its own against other sinks or against itself. A sink that blocks
 * stalls every sink, and the rings fill and lose records; it never stalls
 * a producer.
 *
 * Counters are atomics, readable from any thread at any time.
 */

#define HANDOFF_DEFAULT_RING       (1u << 20) /* ring bytes per producer */
#define HANDOFF_MIN_RING           256u
#define HANDOFF_MAX_RING           (1u << 30)
#define HANDOFF_DEFAULT_MAX_RECORD (64u << 10) /* payload bytes */
#define HANDOFF_DEFAULT_WAKE_MS    50u
#define HANDOFF_MAX_WAKE_MS        60000u
#define HANDOFF_DEFAULT_PRODUCERS  64u
#define HANDOFF_MAX_PRODUCERS      1024u
#define HANDOFF_MAX_SINKS          16u
#define HANDOFF_REC_HDR                                                        \
	16u /* ring bytes a record takes, besides                              \
	       its payload rounded up to 16 */

struct handoff;
struct handoff_producer;

struct handoff_config {
	/* Ring bytes per producer, rounded up to a power of two and kept
	 * within [HANDOFF_MIN_RING, HANDOFF_MAX_RING]; 0: the default. */
	size_t ring_bytes;
	/* Longest payload a put accepts; 0: the default. Cut to what an
	 * empty ring always has room for: ring_bytes / 2 - HANDOFF_REC_HDR. */
	size_t max_record;
	/* Longest sleep of the writer, ms, at most HANDOFF_MAX_WAKE_MS; 0:
	 * the default. */
	unsigned wake_ms;
	/* Producers that may be made, at most HANDOFF_MAX_PRODUCERS; 0: the
	 * default. */
	unsigned max_producers;
};

/*
 * A sink, called on the writer thread.
 *
 * fn     one record: its payload (len bytes, 16-byte aligned, valid only
 *        during the call: copy what must outlive it) and the ts_ns it was
 *        put with. Required.
 * flush  called after a pass in which fn got at least one record; NULL
 *        when the sink needs none.
 * arg    passed to both.
 */
struct handoff_sink {
	void (*fn)(void *arg, const void *data, size_t len, uint64_t ts_ns);
	void (*flush)(void *arg);
	void *arg;
};

/*
 * Counters since handoff_new(), of one producer or summed over all.
 * put - written records are in the rings. A stats reading that shows a
 * record as written was taken after its sink call returned.
 */
struct handoff_stats {
	uint64_t put;     /* records accepted into a ring */
	uint64_t written; /* records given to their sink */
	uint64_t lost;    /* refused: the ring was full, or the hand-over
	                     stopping */
	uint64_t refused; /* refused: longer than max_record, or an unknown
	                     sink */
	uint64_t wakeups; /* totals only: times the writer woke from sleep */
};

/*
 * Make a hand-over, its writer not yet running.
 *
 * hp      gets the hand-over.
 * cfg     NULL for every default; see struct handoff_config for limits.
 * err     gets the reason on failure, errlen bytes at most.
 *
 * Returns 0, or -1 with errno: hp is NULL (EINVAL), out of memory
 * (ENOMEM), no eventfd (EMFILE, ENFILE).
 */
int handoff_new(struct handoff **hp, const struct handoff_config *cfg,
                char *err, size_t errlen);

/*
 * Add a sink, before handoff_start(). The sink is copied.
 *
 * id      gets the sink's number for handoff_put(): 0, 1, ... in the order
 *         sinks were added.
 *
 * Returns 0, or -1 (errno EINVAL): h or sink or sink->fn is NULL, the
 * writer was started or stopped, HANDOFF_MAX_SINKS sinks are there.
 */
int handoff_sink_add(struct handoff *h, const struct handoff_sink *sink,
                     unsigned *id);

/*
 * Start the writer thread (it blocks every signal). Records put before it
 * starts wait in their rings.
 *
 * Returns 0, or -1 with the reason in err: h is NULL, already started or
 * stopped (errno EINVAL), the thread could not be made (errno EAGAIN).
 */
int handoff_start(struct handoff *h, char *err, size_t errlen);

/*
 * Make a producer for the calling thread (see "Producers" above), with an
 * empty ring of ring_bytes. It lives until handoff_free(); there is no
 * freeing one alone. May be called before or after handoff_start(), from
 * any thread.
 *
 * Returns the producer, or NULL (errno): h is NULL or stopping (EINVAL),
 * max_producers made already (ENOSPC), out of memory (ENOMEM).
 */
struct handoff_producer *handoff_producer_new(struct handoff *h);

/*
 * Hand a record over: copy len bytes at data into p's ring for sink, with
 * ts_ns (any value the sink wants, usually the wall clock time of the
 * event). Returns at once; the sink sees the record later, on the writer
 * thread. Only p's owner thread may call it.
 *
 * Returns true when the record was queued. false when it was not, counted
 * in p's stats and the totals:
 *   lost     the ring lacks room (the writer is behind or stalled), or
 *            handoff_stop() has begun;
 *   refused  len > handoff_max_record(), data NULL with len > 0, sink not
 *            a number handoff_sink_add() gave.
 * A NULL p returns false and counts nothing (the daemon without a
 * hand-over).
 */
bool handoff_put(struct handoff_producer *p, unsigned sink, const void *data,
                 size_t len, uint64_t ts_ns);

/*
 * The same for a record gathered from iovcnt pieces (a header and a
 * packet), written one after the other into one record: the sink sees one
 * payload of their summed length. iov may be NULL when iovcnt is 0.
 */
bool handoff_putv(struct handoff_producer *p, unsigned sink,
                  const struct iovec *iov, unsigned iovcnt, uint64_t ts_ns);

/* The longest payload a put accepts; 0 for a NULL h. */
size_t handoff_max_record(const struct handoff *h);

/*
 * Stop: refuse new records (counted as lost), let the writer deliver every
 * record the rings hold (flushing the sinks as usual), then join it. Call
 * it after every producer has stopped putting: a put racing with it may
 * stay in its ring, undelivered (put - written shows it). Without a
 * started writer, nothing is delivered. Call from one thread, not from a
 * sink; a second call does nothing. NULL is fine.
 */
void handoff_stop(struct handoff *h);

/* Stop (as handoff_stop()) and free h and all its producers. NULL is fine. */
void handoff_free(struct handoff *h);

/* Counters summed over every producer, plus the writer's wakeups. A NULL h
 * gives zeros. Any thread, any time. */
void handoff_stats(const struct handoff *h, struct handoff_stats *st);

/* One producer's counters (wakeups 0). A NULL p gives zeros. Any thread. */
void handoff_producer_stats(const struct handoff_producer *p,
                            struct handoff_stats *st);

#endif

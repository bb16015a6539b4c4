/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's own structures (rings, writer), private to src/store*.c. */
#ifndef SPACKLE_STORE_INT_H
#define SPACKLE_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "spackle/log.h"
#include "spackle/store.h"
#include "src/store_codec.h"

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
	struct sp_ahead ahead; /* buf's pages mapped past the first lap */
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

/* One open store: its environment, its producers' rings, its writer. */
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
	/* The open transaction's flow records, put in key order at its end
	 * (store_writer.c): views into the rings, whose space comes back
	 * only after the commit. */
	struct writer_flow *fl;
	size_t nfl, fl_cap;
	/* Counters, read by store_stats() from any thread. */
	_Atomic uint64_t written, flushes, errors, map_full, pruned_full,
	        pruned_age, last_commit_ns, map_used;
	_Atomic uint64_t map_size;
	uint64_t txn_bytes; /* most record bytes per transaction: map / 32 */
};

/* The rings (store_ring.c): wake the writer early, at most once a flush. */
void store_kick(struct store *s);

/* The writer (store_writer.c): its thread, and a u64 put into meta. */
void *store_writer_main(void *arg);
int store_meta_put_u64(struct store *s, MDB_txn *txn, const char *k,
                       uint64_t v);

#endif

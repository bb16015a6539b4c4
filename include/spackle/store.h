/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The decision store: every flow and event kept in LMDB, one writer thread. */
#ifndef SPACKLE_STORE_H
#define SPACKLE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spackle/spackle.h"

struct flow;    /* spackle/flow.h: a live table entry */
struct ruleset; /* spackle/rules.h: names the deciding rule */

/*
 * The store is one LMDB environment (a directory) with four named databases
 * (docs/store.md has the byte layouts):
 *
 *   flows   flow id, u64 big-endian (ids grow with time)  -> flow record
 *   events  time in ns, u64 big-endian + seq, u32 BE      -> event record
 *   names   family byte + 16-byte (mapped) address        -> names, expiry
 *   meta    text key                                      -> schema version,
 *                                                            start times, lost
 *
 * Writing: store_open() starts one writer thread. Producers (the daemon's
 * workers, its main thread) each own one store_producer: a single-producer
 * single-consumer byte ring. A put encodes the record straight into the ring
 * and never blocks, never takes a lock and makes no system call (bar one
 * eventfd write when its ring passes half full or store_flush_records
 * records, to wake the writer early); a full ring refuses the record and
 * counts it lost. The writer drains every ring into one transaction per
 * flush: every flush_ms, or sooner when a ring holds flush_records records.
 * A ring's space is given back only after the commit that holds its records,
 * so a failed commit loses nothing that it can retry.
 *
 * Retention: the map is db_max_size bytes. A transaction writes at most
 * 1/32 of it, and a commit that leaves prune_at_pct (80%) of it in use
 * deletes the oldest eighth of flows and events (by key: the oldest first),
 * so the map never fills to the page (a full LMDB map cannot even delete).
 * A put that still meets MDB_MAP_FULL aborts the transaction, prunes the
 * same way and writes the batch again, then in halves; a map too full to
 * delete from grows once by at most 1/16. Every prune_interval_ms the
 * writer deletes flows last seen, and events older than db_max_age, and
 * names whose every name expired that long ago.
 *
 * Failure: the store never stops the daemon. LMDB errors are logged (rate
 * limited) and counted; a batch that cannot be written after its retries is
 * dropped and counted in `errors`.
 *
 * Reading: store_reader_open() opens the environment read-only (MDB_RDONLY)
 * in any process, the daemon running or not, and reads one snapshot.
 */

#define STORE_SCHEMA_VERSION 1u        /* written to meta "version" */
#define STORE_GROUP          "spackle" /* may read the store, when it exists */

/* Defaults of the configuration keys (config.h carries the values). */
#define STORE_DEFAULT_MAX_SIZE      (1ull << 30)    /* db_max_size: 1 GiB */
#define STORE_DEFAULT_MAX_AGE_S     (90ull * 86400) /* db_max_age: 90 days */
#define STORE_DEFAULT_FLUSH_MS      100u            /* store_flush_ms */
#define STORE_DEFAULT_FLUSH_RECORDS 10000u          /* store_flush_records */
#define STORE_DEFAULT_QUEUE         (4u << 20) /* store_queue: ring bytes */
#define STORE_MIN_QUEUE             (64u << 10)
#define STORE_MIN_MAX_SIZE          (256u << 10)

/* Longest strings a record keeps; longer ones are cut. */
#define STORE_STR_MAX   (SP_PATH_MAX - 1)
#define STORE_EVENT_MAX 4000u /* bytes of an event's text */

/*
 * Periodic flow updates: the worker's one-second tick puts each live flow
 * whose id falls in this tick's slice (id % STORE_SWEEP_SLICES) and that saw
 * a packet within the last sweep, so every active flow is written about every
 * STORE_SWEEP_SLICES seconds and a tick never puts more than 1/10 of the
 * table at once.
 */
#define STORE_SWEEP_SLICES 10u

/* Is f due a periodic update at this tick (wall clock now_ns)? */
bool store_flow_due(const struct flow *f, uint64_t tick, uint64_t now_ns);

enum store_flow_flag {
	STORE_FLOW_HIDDEN = 1u << 0,  /* seen on a tap, never on the divert */
	STORE_FLOW_MONITOR = 1u << 1, /* monitor mode: verdict is what enforce
	                                 mode would have done; it was let be */
	STORE_FLOW_ENDED = 1u << 2, /* the flow left the table: final record */
	STORE_FLOW_AGGREGATE = 1u << 3, /* many flows that never completed
	                                   (spackle/incomplete.h) */
};

/*
 * One flow. Strings are NUL-terminated views: on a put they are the
 * caller's (copied into the queue at once; NULL means unknown); from a
 * reader they point into the snapshot and live until the reader is closed
 * or refreshed (never NULL there: "" means unknown).
 */
struct store_flow {
	uint64_t id; /* the key: unique, grows with creation time */
	uint64_t first_ns, last_ns; /* wall clock */
	uint64_t packets_out, packets_in, bytes_out, bytes_in;
	struct sp_addr local, remote; /* `src` and `dst` in output */
	uint16_t local_port, remote_port;
	uint8_t proto;    /* IP protocol number */
	uint8_t dir;      /* enum sp_dir: out when the local side began */
	uint8_t verdict;  /* enum sp_verdict */
	uint32_t flags;   /* enum store_flow_flag */
	int32_t pid;      /* -1 unknown */
	uint32_t uid;     /* UINT32_MAX (FLOW_UID_UNKNOWN) unknown */
	const char *exe;  /* executable path */
	const char *host; /* the remote name it was decided with */
	const char *rule; /* deciding rule as FILE:LINE, or "default" */
	/* STORE_FLOW_AGGREGATE: how many flows, and how many leading bits of
	 * each address they shared (in its family; 0: any). Else 0. */
	uint64_t flows;
	uint8_t local_plen, remote_plen;
};

enum store_event_type {
	STORE_EV_FLOW_NEW = 1, /* a new flow (the flow record has the rest) */
	STORE_EV_VERDICT,      /* a live flow's verdict changed (reload) */
	STORE_EV_RELOAD,       /* rules reloaded, or a reload refused */
	STORE_EV_TAMPER,       /* steering rules changed by someone else */
	STORE_EV_DROPS,        /* packets or records lost (queue overflow) */
	STORE_EV_START,        /* the daemon started */
	STORE_EV_STOP,         /* the daemon stopped */
	STORE_EV_AUDIT,        /* `spackle audit` reported its findings */
	STORE_EV_MAX = STORE_EV_AUDIT,
};

struct store_event {
	uint64_t ts_ns;   /* wall clock */
	uint32_t seq;     /* writer's order among equal times */
	uint8_t type;     /* enum store_event_type */
	uint64_t flow_id; /* 0: not about one flow */
	const char *text; /* free text or JSON, at most STORE_EVENT_MAX */
};

/* Where a name for an address was learnt. */
enum store_name_source {
	STORE_NAME_DNS = 1,
	STORE_NAME_SNI,
	STORE_NAME_HOST,
};

struct store_config {
	const char *path;       /* directory; created (0750) when missing */
	uint64_t max_size;      /* db_max_size, bytes; 0: default */
	uint64_t max_age_s;     /* db_max_age; 0: kept until the map fills */
	unsigned flush_ms;      /* 0: default */
	unsigned flush_records; /* 0: default */
	unsigned queue_bytes;   /* per producer, rounded up to a power of 2 */
	unsigned producers;     /* rings, one per producing thread; >= 1 */
	unsigned prune_interval_ms; /* age pruning period; 0: one minute */
	/* Prune ahead when a commit leaves this much of the map in use; 0:
	 * 80. 100 prunes only when a put meets MDB_MAP_FULL (tests). */
	unsigned prune_at_pct;
	/* Called on the writer thread after each commit (tests, tools). */
	void (*committed)(void *arg);
	void *committed_arg;
};

/*
 * Counters, all since store_open(); read at any time from any thread.
 * queued + lost = records offered; written <= queued.
 */
struct store_stats {
	uint64_t queued;      /* records accepted into a ring */
	uint64_t lost;        /* refused: the producer's ring was full */
	uint64_t deferred;    /* refused periodic updates (STORE_PUT_RETRY) */
	uint64_t written;     /* records committed */
	uint64_t flushes;     /* transactions committed */
	uint64_t errors;      /* records dropped on LMDB errors */
	uint64_t map_full;    /* MDB_MAP_FULL met */
	uint64_t pruned_full; /* records deleted to make room */
	uint64_t pruned_age;  /* records deleted as older than max_age */
	uint64_t last_commit_ns; /* wall clock of the last commit, 0 none */
	uint64_t map_size;       /* bytes */
	uint64_t map_used; /* bytes of the map in use at the last commit */
};

struct store;
struct store_producer;

/*
 * Open (creating, or migrating to STORE_SCHEMA_VERSION) the store at
 * cfg->path and start its writer thread. A data.mdb whose creation was cut
 * short (a writer killed before LMDB had written its first two pages: the
 * file is shorter than that, and holds nothing) is created again, with a
 * warning. Returns 0, or -1 with a message in err: cannot create the
 * directory, a store newer than this program, LMDB errors. The daemon logs
 * that and runs without a store: every put on a NULL producer is a no-op.
 */
int store_open(struct store **sp, const struct store_config *cfg, char *err,
               size_t errlen);

/*
 * Stop accepting records, write everything the rings hold (one last flush),
 * join the writer, close the environment. Call after every producer has
 * stopped putting. NULL is fine.
 */
void store_close(struct store *s);

/* Producer i (0 <= i < cfg->producers), for one thread only; NULL when s is
 * NULL or i is out of range. */
struct store_producer *store_producer(struct store *s, unsigned i);

/* Map the next page of p's ring ahead of its first lap (struct
 * sp_ahead), for a moment when its thread has nothing to put: true when
 * it did. */
bool store_producer_ahead(struct store_producer *p);

enum store_put_opt {
	/*
	 * A record the caller puts again when the ring is full (a periodic
	 * update the next sweep repeats, a shutdown's last record after the
	 * writer caught up): count it as `deferred`, not `lost`.
	 */
	STORE_PUT_RETRY = 1u << 0,
};

/*
 * Hand a flow record over (a put overwrites the record of the same id).
 * 0, or -ENOBUFS when the ring is full (counted), -EINVAL for a NULL
 * producer or record.
 */
int store_put_flow(struct store_producer *p, const struct store_flow *r,
                   unsigned opts);

/*
 * The same for a live table entry: fills a store_flow from f (local and
 * remote ends, out/in counters, flags), its host and exe (NULL unknown), the
 * rule as FILE:LINE from rules (f->rule; "default" for FLOW_RULE_DEFAULT),
 * and extra flags (STORE_FLOW_ENDED when it leaves the table).
 */
int store_put_flow_entry(struct store_producer *p, const struct flow *f,
                         const char *host, const char *exe,
                         const struct ruleset *rules, uint32_t flags,
                         unsigned opts);

/* Fill r from a table entry as store_put_flow_entry() does; rule_buf holds
 * the rule's name. */
void store_flow_from_entry(struct store_flow *r, const struct flow *f,
                           const char *host, const char *exe,
                           const struct ruleset *rules, char *rule_buf,
                           size_t rule_len);

/* An event at ts_ns (0: now); text may be NULL. Same returns. */
int store_put_event(struct store_producer *p, uint64_t ts_ns,
                    enum store_event_type type, uint64_t flow_id,
                    const char *text);

/* A name for addr, valid until expiry_ns; the writer merges it with the
 * names already kept for addr (SP_NAMES_PER_ADDR at most, latest expiry
 * kept). Same returns. */
int store_put_name(struct store_producer *p, const struct sp_addr *addr,
                   const char *name, enum store_name_source src,
                   uint64_t expiry_ns);

void store_stats(const struct store *s, struct store_stats *st);

/* Ask the writer to flush now and wait until it has (tests, shutdown of a
 * tool); 0 or -1 when the store is closing. */
int store_sync(struct store *s);

/* ---- reading ---------------------------------------------------------- */

struct store_reader;

/*
 * Open the store at path read-only and take a snapshot. A user who may not
 * write the lock file (lock.mdb; the daemon makes it group-writable) reads
 * without registering as a reader (MDB_NOLOCK): a long read racing a busy
 * writer may then meet a reused page, which the bounds-checked decoders
 * skip as a bad record. Returns 0 or -1 with a message in err (no store
 * there; an empty one, whose creation was cut short, which the daemon's
 * next store_open() creates; a newer schema).
 */
int store_reader_open(struct store_reader **rp, const char *path, char *err,
                      size_t errlen);
/*
 * A reader of the store s this process has open (the daemon's: LMDB
 * forbids opening one environment twice in a process), its snapshot
 * taken now; store_reader_close() leaves s open. Keep each one short:
 * the writer's rare emergency growth of the map (mdb_env_set_mapsize)
 * wants no snapshot open in the process. 0, or -1 with the reason in err.
 */
int store_reader_attach(struct store_reader **rp, struct store *s, char *err,
                        size_t errlen);
void store_reader_close(struct store_reader *r);

/* Drop the snapshot and take a new one: every view handed out dies. */
int store_reader_refresh(struct store_reader *r);

/* The schema version of the store (records of older ones still decode). */
unsigned store_reader_version(const struct store_reader *r);

/*
 * Visit flows in key order (oldest first), or newest first with reverse.
 * fn returns 0 to go on, anything else to stop (which is returned). Records
 * that do not decode are counted in *bad when bad is not NULL, and skipped.
 */
typedef int (*store_flow_fn)(const struct store_flow *r, void *arg);
int store_reader_flows(struct store_reader *r, bool reverse, store_flow_fn fn,
                       void *arg, uint64_t *bad);

/* One flow by id: 0, or -ENOENT, or -EBADMSG when it does not decode. */
int store_reader_flow(struct store_reader *r, uint64_t id,
                      struct store_flow *out);

/* Events with ts_ns >= since_ns, oldest first. */
typedef int (*store_event_fn)(const struct store_event *e, void *arg);
int store_reader_events(struct store_reader *r, uint64_t since_ns,
                        store_event_fn fn, void *arg);

/* Names kept for addr (not filtered by expiry), up to max, into names[]
 * (views) and expiry[]; returns how many. */
size_t store_reader_names(struct store_reader *r, const struct sp_addr *addr,
                          const char **names, uint64_t *expiry, size_t max);

/*
 * A u64 from meta: "version", "lost" (records lost since the store was
 * made, as the writer last knew), "last_start" (wall ns). 0 or -ENOENT.
 */
int store_reader_meta_u64(struct store_reader *r, const char *key, uint64_t *v);

/* Entries in each database, for tools and tests. */
struct store_counts {
	uint64_t flows, events, names, meta;
};
int store_reader_counts(struct store_reader *r, struct store_counts *c);

/* ---- record encoding (exposed for tests and the migration) ----------- */

/* Bytes the v1 encoding of r takes. */
size_t store_flow_size(const struct store_flow *r);
/* Encode r (v1) into buf of len >= store_flow_size(r); returns the size. */
size_t store_flow_encode(const struct store_flow *r, uint8_t *buf, size_t len);
/*
 * Decode a flow value of schema version `version` (0 or 1); views point
 * into p. false when it is malformed (lengths checked before every read).
 */
bool store_flow_decode(unsigned version, uint64_t id, const uint8_t *p,
                       size_t len, struct store_flow *r);

const char *store_event_name(enum store_event_type t);

#endif

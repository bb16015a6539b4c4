/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's parts, shared among the files of daemon/ (not a public
 * interface): the daemon, its workers, and what each file offers the
 * files above it. docs/layout.md draws the order. */
#ifndef SPACKLE_DAEMON_H
#define SPACKLE_DAEMON_H

#include <event2/event.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "divert/divert.h"
#include "spackle/capture.h"
#include "spackle/classify.h"
#include "spackle/config.h"
#include "spackle/control.h"
#include "spackle/ct.h"
#include "spackle/ct_table.h"
#include "spackle/declog.h"
#include "spackle/fwread.h"
#include "spackle/handoff.h"
#include "spackle/incomplete.h"
#include "spackle/log.h"
#include "spackle/memplan.h"
#include "spackle/proc.h"
#include "spackle/store.h"
#include "spackle/verdict.h"

#define NS_PER_S 1000000000ull
/*
 * Bytes of a packet copied from the kernel on the balanced queues: the
 * headers (IPv6 with extension headers, TCP with every option: 256 would
 * do) and the start of the payload, where a TLS ClientHello's SNI or an
 * HTTP Host header names a held flow's remote end (docs/attribution.md:
 * a ClientHello is 0.3 to 2 KB). DNS has a queue of its own, copied whole.
 */
#define DAEMON_COPY_BALANCED    4096
#define DAEMON_NAME_FLOW_S      3600 /* how long an SNI/Host names its address */
#define DAEMON_FLOW_MODE_IDLE_S 432000 /* conntrack's TCP established */
#define DAEMON_STALL_S          5 /* a worker silent this long fails the watchdog */

struct daemon;
struct worker;
struct peer_reset;

/* Work handed to a worker thread, run there, waited for by the caller. */
struct worker_call {
	void (*fn)(struct worker *w, void *arg);
	void *arg;
	bool done;
};

struct worker_stats {
	uint64_t received, accepted, dropped, rejected, malformed;
	uint64_t monitor_would_deny, monitor_would_reject;
	uint64_t verdict_errors;
	uint64_t bursts;      /* backend hand-overs: received / bursts = size */
	uint64_t ct_ended;    /* flow mode: flows ended by conntrack */
	uint64_t ct_lost;     /* ... destroy events lost (ENOBUFS) */
	uint64_t ct_events;   /* ... destroy events read */
	uint64_t ct_early;    /* ... of them read before a SYN's burst */
	uint64_t peer_resets; /* held flows denied: their servers reset */
	uint64_t
	        capture_lost; /* denied packets the hand-over had no room for */
};

struct worker {
	struct daemon *dm;
	unsigned idx;
	unsigned queue;
	char spec[128]; /* what the backend was opened with */
	pthread_t th;
	bool started;
	struct divert *d;
	struct event_base *base;
	struct event *ev_read, *ev_call, *ev_tick;
	int call_pipe[2];
	struct classifier *cls;
	const struct ruleset *rules; /* what cls decides with */
	struct verdict_policy pol;
	struct worker_stats st;
	struct log_limit bad_limit;
	/* Attribution: this thread's queries, and what the owner hook needs
	 * to know of the packet in hand. */
	struct proc_query *pq;
	struct proc_owner *po;
	struct event *ev_drain;
	uint64_t empty_ns; /* CLOCK_MONOTONIC: the queue was seen empty */
	/* Another process exited: look at the queue now (worker_kick). */
	int kick_fd;
	struct event *ev_kick;
	_Atomic bool kicked;
	struct log_limit attrib_limit;
	/* Flow mode: conntrack, for the counters and ends of flows whose
	 * later packets the kernel passes by their mark. */
	struct ct *ct;
	uint64_t ct_lost_seen; /* ct_lost(ct) when last told to the tick */
	struct event *ev_ct, *ev_ct_rest;
	/* A dump being synced in slices: its table and the next slot. */
	struct event *ev_ct_sync;
	struct ct_table *sync_t;
	uint32_t sync_at;
	bool ct_split; /* its socket gets its own flows' events alone */
	struct peer_reset *reset; /* NULL: cannot reset servers */
	/* The store: this worker's queue to the writer, and its sweep. */
	struct store_producer *sp;
	/* Flows that never complete, past a budget: aggregated. */
	struct incomplete *inc;
	/* Its queue to the hand-over's writer (capture, decision log), and
	 * the room a decision log entry is encoded in. */
	struct handoff_producer *hp;
	char line[DECLOG_ENTRY_MAX];
	uint64_t ticks;
	/* The store's sweep of the flows, in slices: the tick it began on
	 * and the next slot (ev_sweep pending: not done yet). */
	struct event *ev_sweep;
	uint64_t sweep_tick;
	uint32_t sweep_at;
	_Atomic uint64_t beat_ns; /* CLOCK_MONOTONIC of its last tick */
};

/* Packets or records lost, as the last second's tick saw them. */
struct daemon_drops {
	uint64_t enobufs, queue_dropped, user_dropped, store_lost;
	uint64_t unanswered;
	uint64_t passed_unseen;     /* fail-open: past a full queue, unseen */
	uint64_t received, waiting; /* for the sum, not lost */
};

struct daemon {
	struct config cfg;
	const char *conf_path;
	struct ruleset *rules;
	struct event_base *base;
	struct control *ctl;
	struct worker *w;
	unsigned nw;
	const struct divert_ops *ops; /* `backend` */
	bool steered;
	/* What status names the firewall: "nft", or iptables' variant;
	 * found once at start, as `firewall = auto` is decided then. */
	const char *fw_name;
	bool fw_auto; /* the config said `firewall = auto` */
	uint64_t start_mono, start_wall;
	uint64_t reloads, reload_failures;
	pthread_mutex_t call_mu;
	pthread_cond_t call_cv;
	struct names_cache *names; /* shared by the workers */
	pthread_mutex_t names_mu;
	struct proc *proc;         /* attribution, shared by the workers */
	struct store *store;       /* NULL: running without a store */
	struct store_producer *sp; /* the main thread's queue */
	struct capture *cap;       /* capture_denied, or NULL */
	/* The capture and the decision log are written by the hand-over's
	 * thread: the workers never touch a file. */
	struct handoff *ho;
	unsigned sink_cap, sink_dlog;
	struct ct *ct;       /* flow mode: the main thread's dumps */
	uint64_t ct_next_ns; /* when the tick dumps next (monotonic) */
	uint64_t ct_dump_ns; /* how long the last dump took */
	size_t ct_dump_n;    /* entries the last dump kept */
	uint64_t ct_partial; /* dumps cut at the plan's ct_entries */
	uint64_t ct_last_ns; /* when the last dump began (monotonic) */
	/* A worker's conntrack socket lost events (ENOBUFS) since the last
	 * dump: the tick dumps again soon, to end the flows they ended. */
	atomic_bool ct_events_lost;
	/* memory_max shared out among the parts (memplan.h), and what the
	 * tick (watch.c) measured: anonymous memory now and at most, and
	 * what malloc_trim gave back. */
	struct memplan mem;
	uint64_t mem_anon_peak, mem_trims, mem_trimmed;
	uint64_t mem_trim_ns;      /* the last trim (monotonic) */
	struct event *ev_tick;     /* the main thread's second */
	struct daemon_drops drops; /* as the last tick saw them */
	/* What status says of the daemon and its steering: starting until
	 * the steering is in place and every queue is served, stopping from
	 * the stop signal; the hooks as the last check (watch.c) found
	 * them, which families it read, and when (monotonic, 0 never). */
	enum { DAEMON_STARTING, DAEMON_RUNNING, DAEMON_STOPPING } state;
	unsigned steer_hooks, steer_hooks_ok, steer_families;
	uint64_t steer_checked_ns;
	char *tamper_seen; /* the steering's last problem, NULL when ok */
	uint64_t tampers;  /* times the steering was found changed */
	/* How the tick reads the steering (watch.c): with iptables-nft,
	 * iptables-save only when nf_tables' generation has moved since a
	 * check that found every hook in place (steer_gen, of the families
	 * in steer_gen_families), else its counters from nf_tables. */
	bool steer_nft;    /* iptables-nft: the generation can be used */
	bool steer_gen_ok; /* steer_gen is of such a check */
	uint32_t steer_gen;
	unsigned steer_gen_families;
	uint64_t steer_saves;  /* reads by iptables-save and ip6tables-save */
	uint64_t steer_counts; /* reads of the counters alone */
	/* What the steering sent to the queues and nobody saw (watch.c):
	 * the total, and the rules' figure it last grew from. */
	uint64_t passed_unseen;
	struct fw_unseen unseen; /* what its counting has seen so far */
	uint64_t repairs;        /* times it was put back (steering_repair) */
	bool watchdog;           /* the service manager wants WATCHDOG=1 */
	unsigned stalled;        /* a worker that stopped ticking, + 1 */
	struct declog *dlog;     /* `log`, or NULL */
	struct metrics *metrics; /* `metrics`, or NULL */
	struct web *web;         /* `web`, or NULL (daemon/web.h) */
	json_t *last_audit;      /* what `spackle audit` last reported */
	uid_t uid;               /* `user`'s, the daemon's after set-up */
	gid_t gid;
};

/* ---- worker_ct.c: flow mode's conntrack glue (the bottom) ------------- */

/* f's conntrack tuple: its first packet's sender to its receiver. */
void worker_ct_key(const struct flow *f, struct ct_key *k);
/* Take a conntrack entry's counters for f where they are ahead; dir 0
 * when the entry's original direction is the flow's. */
void worker_ct_apply(struct flow *f, const struct ct_entry *e, int dir,
                     uint64_t now_ns);
/* The conntrack socket is readable / its rest is over (libevent). */
void worker_ct_readable(evutil_socket_t fd, short what, void *arg);
void worker_ct_listen(evutil_socket_t fd, short what, void *arg);
void worker_ct_split(struct worker *w);
/* Flow mode, before a burst is classified: the destroy events its SYNs
 * caused, read first. */
void worker_ct_before(struct worker *w, const struct divert_packet *dp,
                      size_t n);
/* A reload decided f otherwise: its new verdict into its conntrack mark. */
void worker_ct_remark(struct worker *w, struct flow *f);
/* Apply one dump of the conntrack table (a struct ct_table) to every live
 * flow: counters, and the end of flows whose entry is gone. Run on the
 * worker's thread through worker_run(). */
void worker_ct_sync(struct worker *w, void *arg);
void worker_ct_sync_start(struct worker *w, void *arg);
void worker_ct_sync_slice(evutil_socket_t fd, short what, void *arg);

/* ---- flowlog.c: a flow as JSON, the decision log, store events -------- */

json_t *worker_flow_json(struct worker *w, struct flow *f);
/* The decision log's entry for f: what happened (event) and when. */
void worker_log_decision(struct worker *w, struct flow *f, const char *event);
/* A denied packet into the capture, through the hand-over. */
void worker_capture(struct worker *w, const struct divert_packet *dp,
                    uint64_t ts_ns);
/* The hand-over's sinks, on its writer thread. */
void daemon_capture_sink(void *arg, const void *data, size_t len,
                         uint64_t ts_ns);
void daemon_capture_flush(void *arg);
void daemon_declog_sink(void *arg, const void *data, size_t len,
                        uint64_t ts_ns);
/* An event for the store from the main thread, its text the object o. */
void daemon_event(struct daemon *dm, enum store_event_type type,
                  const json_t *o);

/* ---- worker.c: the packet path, the sweep, calls into the thread ------ */

/* The divert point (before the privilege drop), then the rest. */
int worker_open_divert(struct daemon *dm, struct worker *w);
int worker_open(struct daemon *dm, struct worker *w);
void worker_close(struct daemon *dm, struct worker *w);
/* From any thread: w is to read its queue empty as soon as it can, and
 * note when (a process exited: attribution's "when it was sent"). */
void worker_kick(struct worker *w);
void *worker_main(void *arg);
/* Run fn on w's thread and wait for it (or here when w has no thread). */
void worker_run(struct worker *w, void (*fn)(struct worker *, void *),
                void *arg);
/* Every live flow again with new rules (a struct worker_swap). */
struct worker_swap {
	const struct ruleset *rules;
	enum sp_verdict dflt;
	size_t changed;
};
void worker_swap_rules(struct worker *w, void *arg);
/* The worker's and its backend's counters, added to a struct
 * daemon_totals (on the worker's thread: the backend's are not atomic). */
struct daemon_totals {
	struct worker_stats st;
	struct divert_stats ds;
	struct incomplete_stats inc;
	struct classify_memory mem; /* summed over the workers */
	uint64_t strings_refused;
	uint64_t live, evicted, created, dns_answers, decisions;
	uint64_t name_holds, names_sni, names_http, names_missing, renewed;
};
void worker_get_stats(struct worker *w, void *arg);
/* The backend's counters only, added to a struct divert_stats. */
void worker_get_divert_stats(struct worker *w, void *arg);
/* Every live flow as JSON, appended to the json_t array arg. */
void worker_get_conns(struct worker *w, void *arg);

/* ---- watch.c: once a second on the main thread ------------------------ */

/* Drops as they stand now. */
void daemon_drops_now(struct daemon *dm, struct daemon_drops *d);
/* The process's anonymous memory (RssAnon), bytes; 0 unknown. */
uint64_t daemon_anon_bytes(void);
/* Flow mode: one conntrack dump, applied by every worker to its flows
 * (counters, ends); nothing otherwise. whole: every worker applies it
 * before this returns (an answer about the flows follows); else each
 * does it in slices between its packets. */
void daemon_ct_sync(struct daemon *dm, bool whole);
/* The main thread's second: drops, flow mode's conntrack dump, the
 * steering check, the watchdog. */
void daemon_tick(evutil_socket_t fd, short what, void *arg);
/* The steering check alone, once the steering is installed. */
void daemon_check_steering_now(struct daemon *dm);

/* ---- answers.c: the control socket's commands ------------------------- */

extern const struct control_command daemon_commands[];
extern const size_t daemon_ncommands;
json_t *daemon_status(const json_t *req, void *arg);
json_t *daemon_reload(const json_t *req, void *arg);
/* {"conns": [every live flow, as `conns --json`]}. */
json_t *daemon_conns(const json_t *req, void *arg);
/* For the metrics endpoint: a fresh status at each scrape. */
json_t *daemon_metrics_status(void *arg);

/*
 * One hidden flow of `spackle audit`'s report (a JSON object from the
 * control socket) into a store record, seen on the wire during the watch
 * (watch_ns before now), never across the divert; rule (rlen bytes) gets
 * "hidden: CAUSE". NULL, or why the object is refused.
 */
struct store_flow;
const char *daemon_audit_flow(const json_t *o, uint64_t now, uint64_t watch_ns,
                              struct store_flow *r, char *rule, size_t rlen);
/* Load cfg's rules; NULL with the diagnostics in *text on errors. */
struct ruleset *daemon_load_rules(const struct config *cfg, char **text);

#endif

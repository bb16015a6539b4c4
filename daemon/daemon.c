/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle run`: the divert daemon -- steering, one worker per queue, the
 * control socket, signals and reloads. */
#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "divert/divert.h"
#include "spackle/classify.h"
#include "cmd/cmd.h"
#include "spackle/config.h"
#include "spackle/control.h"
#include "spackle/ct.h"
#include "spackle/declog.h"
#include "spackle/log.h"
#include "daemon/metrics.h"
#include "spackle/packet.h"
#include "daemon/priv.h"
#include "spackle/proc.h"
#include "spackle/fwread.h"
#include "spackle/steer.h"
#include "spackle/store.h"
#include "spackle/capture.h"

#define DAEMON_DISPATCH_MAX 64 /* packets handled per dispatch call */
/*
 * Bytes of a packet copied from the kernel on the balanced queues: the
 * headers (IPv6 with extension headers, TCP with every option: 256 would
 * do) and the start of the payload, where a TLS ClientHello's SNI or an
 * HTTP Host header names a held flow's remote end (docs/attribution.md:
 * a ClientHello is 0.3 to 2 KB). DNS has a queue of its own, copied whole.
 */
#define DAEMON_COPY_BALANCED 4096
/* While processes exit (attribution may need to tell which one sent a
 * packet), and for a second after, each worker notes every this often that
 * its queue is empty; else seldom. */
#define DAEMON_DRAIN_BUSY_US    5000
#define DAEMON_DRAIN_IDLE_US    250000
#define NS_PER_S                1000000000ull
#define DAEMON_NAME_FLOW_S      3600 /* how long an SNI/Host names its address */
#define DAEMON_FLOW_MODE_IDLE_S 432000 /* conntrack's TCP established */
/*
 * Flow mode: after reading conntrack's destroy events a worker waits this
 * long before it listens again. Every worker's socket gets every event
 * (the kernel's queue hash cannot be told from user space), so at a high
 * connection rate each event would wake every worker; resting lets the
 * 8 MiB socket buffer (CT_RCVBUF) gather them into one read. A flow ends
 * at most this much later.
 */
#define DAEMON_CT_REST_US 10000
#define DAEMON_STALL_S    5 /* a worker silent this long fails the watchdog */

struct daemon;
struct worker;

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
	uint64_t ct_ended; /* flow mode: flows ended by conntrack */
	uint64_t ct_lost;  /* ... destroy events lost (ENOBUFS) */
};

struct worker {
	struct daemon *dm;
	unsigned idx;
	unsigned queue;
	pthread_t th;
	bool started;
	struct divert *d;
	struct event_base *base;
	struct event *ev_read, *ev_call, *ev_tick;
	int call_pipe[2];
	struct classifier *cls;
	const struct ruleset *rules; /* what cls decides with */
	struct worker_stats st;
	struct log_limit bad_limit;
	/* Attribution: this thread's queries, and what the owner hook needs
	 * to know of the packet in hand. */
	struct proc_query *pq;
	struct proc_owner *po;
	struct event *ev_drain;
	uint64_t empty_ns; /* CLOCK_MONOTONIC: the queue was seen empty */
	uint64_t exits_seen, busy_until;
	struct log_limit attrib_limit;
	uint32_t pkt_gid;
	int pkt_hook;
	/* Flow mode: conntrack, for the counters and ends of flows whose
	 * later packets the kernel passes by their mark. */
	struct ct *ct;
	struct event *ev_ct, *ev_ct_rest;
	/* The store: this worker's queue to the writer, and its sweep. */
	struct store_producer *sp;
	uint64_t ticks;
	_Atomic uint64_t beat_ns; /* CLOCK_MONOTONIC of its last tick */
};

struct daemon {
	struct config cfg;
	const char *conf_path;
	struct ruleset *rules;
	struct event_base *base;
	struct control *ctl;
	struct worker *w;
	unsigned nw;
	const struct divert_ops *ops;
	bool steered;
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
	struct event *ev_tick;     /* the main thread's second */
	struct daemon_drops {
		uint64_t enobufs, queue_dropped, user_dropped, store_lost;
	} drops;                 /* as the last tick saw them */
	char *tamper_seen;       /* the steering's last problem, NULL when ok */
	uint64_t tampers;        /* times the steering was found changed */
	uint64_t repairs;        /* times it was put back (steering_repair) */
	bool watchdog;           /* the service manager wants WATCHDOG=1 */
	unsigned stalled;        /* a worker that stopped ticking, + 1 */
	struct declog *dlog;     /* `log`, or NULL */
	struct metrics *metrics; /* `metrics`, or NULL */
	json_t *last_audit;      /* what `spackle audit` last reported */
	uid_t uid;               /* `user`'s, the daemon's after set-up */
	gid_t gid;
};

/* ---- worker side ------------------------------------------------------ */

static void worker_log_decision(struct worker *w, struct flow *f,
                                const char *event);
static void daemon_event(struct daemon *dm, enum store_event_type type,
                         const json_t *o);

static enum classify_hook
daemon_hook(int hook)
{
	switch (hook) {
	case DIVERT_HOOK_OUT:
		return CLASSIFY_HOOK_OUT;
	case DIVERT_HOOK_IN:
		return CLASSIFY_HOOK_IN;
	case DIVERT_HOOK_FORWARD:
		return CLASSIFY_HOOK_FORWARD;
	default:
		return CLASSIFY_HOOK_NONE;
	}
}

static void
worker_packet(const struct divert_packet *dp, void *arg)
{
	struct worker *w = arg;
	struct daemon *dm = w->dm;
	struct classify_input in;
	struct classify_result res;
	enum sp_verdict v;
	uint64_t held;
	uint32_t mark;
	bool rst_pass;

	w->pkt_gid = dp->gid;
	w->pkt_hook = dp->hook;
	in.p = dp->data;
	in.len = dp->caplen;
	in.wirelen = dp->wirelen;
	in.ts_ns = dp->ts_ns ? dp->ts_ns : sp_now_wall();
	in.uid_hint = dp->uid;
	in.link = PACKET_LINK_RAW;
	in.hook = daemon_hook(dp->hook);
	classify_burst(w->cls, &in, 1, &res);
	w->st.received++;
	v = res.verdict;
	if (res.status != PACKET_OK || v == SP_VERDICT_NONE) {
		/* No flow to judge it by: the default decides. */
		w->st.malformed++;
		v = dm->cfg.dflt;
		if (res.status != PACKET_OK &&
		    log_limit_ok(&w->bad_limit, sp_now_mono(), &held))
			log_warn("queue %u: %s packet of %zu bytes, %s by "
			         "default (%llu more not logged)",
			         w->queue, packet_status_name(res.status),
			         dp->wirelen, sp_verdict_name(v),
			         (unsigned long long)held);
	}
	/*
	 * A TCP reset on a rejected flow is let through: it is most often
	 * the reset the kernel's REJECT sent for that flow (for an inbound
	 * connection it leaves through the out hook and comes here), and a
	 * REJECT rule would drop it, leaving the peer to time out instead of
	 * being refused. A reset carries nothing to fear. In flow mode it
	 * passes alone (its flow keeps its mark).
	 */
	rst_pass = false;
	if (v == SP_VERDICT_REJECT) {
		struct packet pk;

		if (packet_parse_frame(PACKET_LINK_RAW, dp->data, dp->caplen,
		                       &pk) == PACKET_OK &&
		    pk.proto == SP_PROTO_TCP && (pk.tcp_flags & PACKET_TCP_RST))
			rst_pass = true;
	}
	if (dm->cfg.mode == CONFIG_MODE_MONITOR) {
		if (res.flow != NULL)
			res.flow->flags |= FLOW_F_MONITOR;
		if (v == SP_VERDICT_DENY)
			w->st.monitor_would_deny++;
		else if (v == SP_VERDICT_REJECT)
			w->st.monitor_would_reject++;
		v = SP_VERDICT_ALLOW;
	}
	/* Every decision is kept: the store writes a flow record when the
	 * flow is decided, while it lives, and when it ends. */
	if (res.new_flow && res.flow != NULL)
		store_put_flow_entry(
		        w->sp, res.flow, classify_flow_host(w->cls, res.flow),
		        classify_flow_exe(w->cls, res.flow), w->rules, 0, 0);
	/* The decision log: once, when the flow is decided (a held flow at
	 * its payload). */
	if (dm->dlog != NULL && res.flow != NULL &&
	    !(res.flow->flags & (FLOW_F_NAME_WAIT | FLOW_F_LOGGED))) {
		res.flow->flags |= FLOW_F_LOGGED;
		worker_log_decision(w, res.flow, "decision");
	}
	if (dm->cap != NULL && (v == SP_VERDICT_DENY || v == SP_VERDICT_REJECT))
		capture_write(dm->cap, dp->data, dp->caplen, dp->wirelen,
		              in.ts_ns);
	/*
	 * Flow mode: a deny is kept for the flow (the chain saves the mark,
	 * then drops); a flow held for its name, and DNS, whose answers feed
	 * the names, pass this packet alone and keep crossing.
	 */
	mark = 0;
	if (rst_pass) {
		v = SP_VERDICT_ALLOW;
		if (w->ct != NULL && dm->ops->verdict_mark != NULL)
			mark = STEER_MARK_ONCE;
	} else if (w->ct != NULL && dm->ops->verdict_mark != NULL &&
	           res.flow != NULL) {
		if (v == SP_VERDICT_DENY)
			mark = STEER_MARK_DENY;
		else if (v == SP_VERDICT_ALLOW &&
		         ((res.flow->flags & (FLOW_F_NAME_WAIT | FLOW_F_DNS)) ||
		          res.flow->key.pa == 53 || res.flow->key.pb == 53))
			mark = STEER_MARK_ONCE;
	}
	if (mark != 0 ? dm->ops->verdict_mark(w->d, dp->id, mark) != 0
	              : dm->ops->verdict(w->d, dp->id, v) != 0)
		w->st.verdict_errors++;
	else if (v == SP_VERDICT_ALLOW)
		w->st.accepted++;
	else if (v == SP_VERDICT_DENY)
		w->st.dropped++;
	else
		w->st.rejected++;
}

/*
 * Read the queue until it is empty. A dispatch that hands over fewer than
 * it may has read the socket empty, so every packet read later was sent
 * after that call began: attribution bounds when a packet was sent by it.
 */
static void
worker_drain(struct worker *w)
{
	uint64_t t;
	int n;

	do {
		t = sp_now_mono();
		n = w->dm->ops->dispatch(w->d, DAEMON_DISPATCH_MAX,
		                         worker_packet, w);
	} while (n == DAEMON_DISPATCH_MAX);
	if (n < 0)
		log_warn("queue %u: %s", w->queue, w->dm->ops->error(w->d));
	else
		w->empty_ns = t;
}

static void
worker_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_drain(arg);
}

/* Look at the queue often while processes exit, seldom otherwise. */
static void
worker_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct proc_stats ps;
	struct timeval tv = {0, DAEMON_DRAIN_IDLE_US};

	(void)fd;
	(void)what;
	worker_drain(w);
	if (w->dm->proc != NULL) {
		proc_stats(w->dm->proc, &ps);
		if (ps.exits != w->exits_seen)
			w->busy_until = w->empty_ns + NS_PER_S;
		w->exits_seen = ps.exits;
		if (w->empty_ns < w->busy_until)
			tv.tv_usec = DAEMON_DRAIN_BUSY_US;
	}
	event_add(w->ev_drain, &tv);
}

/* The classifier's other hook: has the flow's process exited? */
static bool
daemon_owner_gone(const struct flow *f, void *arg)
{
	struct worker *w = arg;

	return proc_pid_exited(w->dm->proc, f->pid);
}

/* Say (at a bounded rate) why a flow's process stays unknown. */
static void
daemon_owner_unknown(struct worker *w, const struct proc_flow *fl,
                     const struct proc_owner *po)
{
	char lb[64], rb[64];
	uint64_t held;

	if (!log_limit_ok(&w->attrib_limit, sp_now_mono(), &held))
		return;
	log_info("queue %u: %s %s:%u -> %s:%u: process %s after %llu us: %s "
	         "(%llu more not logged)",
	         w->queue, sp_proto_name(fl->proto),
	         sp_addr_format(&fl->local, lb, sizeof(lb)), fl->lport,
	         sp_addr_format(&fl->remote, rb, sizeof(rb)), fl->rport,
	         po->how == PROC_HOW_TIMEOUT ? "unknown (deadline)" : "unknown",
	         (unsigned long long)po->took_ns / 1000,
	         po->why != NULL ? po->why : "?", (unsigned long long)held);
}

/* The classifier's owner hook: who owns the new flow's local socket. */
static bool
daemon_owner(const struct flow *f, uint32_t uid_hint,
             struct classify_owner *out, void *arg)
{
	struct worker *w = arg;
	struct proc_owner *po = w->po;
	const struct sp_addr *a;
	struct proc_flow fl;
	uint16_t port;

	/* A forwarded packet has no socket of this host. */
	if (w->pq == NULL || w->pkt_hook == DIVERT_HOOK_FORWARD)
		return false;
	memset(&fl, 0, sizeof(fl));
	fl.proto = f->key.proto;
	flow_local(f, &a, &port);
	fl.local = *a;
	fl.lport = port;
	flow_remote(f, &a, &port);
	fl.remote = *a;
	fl.rport = port;
	fl.uid_hint = uid_hint;
	fl.gid_hint = w->pkt_gid;
	/* Only a packet this host sent can have a sender that exited. */
	fl.sent_after_ns = w->pkt_hook == DIVERT_HOOK_OUT ? w->empty_ns : 0;
	switch (proc_lookup(w->pq, &fl, po)) {
	case PROC_HOW_NONE:
		return false;
	case PROC_HOW_SOCKET:
		out->how = CLASSIFY_ATTRIB_SOCKET;
		break;
	case PROC_HOW_EXITED:
		out->how = CLASSIFY_ATTRIB_EXITED;
		break;
	case PROC_HOW_TIMEOUT:
		out->how = CLASSIFY_ATTRIB_TIMEOUT;
		break;
	default:
		out->how = CLASSIFY_ATTRIB_UNKNOWN;
		break;
	}
	if (out->how == CLASSIFY_ATTRIB_TIMEOUT ||
	    out->how == CLASSIFY_ATTRIB_UNKNOWN)
		daemon_owner_unknown(w, &fl, po);
	out->pid = po->pid;
	out->ppid = po->ppid;
	out->uid = po->uid;
	out->nprocs = po->nprocs;
	snprintf(out->exe, sizeof(out->exe), "%s", po->exe);
	snprintf(out->cmdline, sizeof(out->cmdline), "%s", po->cmdline);
	return true;
}

struct sweep_ctx {
	struct worker *w;
	uint64_t tick, now;
	/* Flow mode: flows whose conntrack entry is gone, ended after the
	 * walk (a walk cannot take flows out of the table). */
	struct flow **gone;
	size_t ngone, capgone;
};

/* ---- flow mode: conntrack -------------------------------------------- */

/* f's conntrack tuple: its first packet's sender to its receiver. */
static void
flow_ct_key(const struct flow *f, struct ct_key *k)
{
	bool orig_a = (f->flags & FLOW_F_ORIG_A) != 0;

	memset(k, 0, sizeof(*k));
	k->proto = f->key.proto;
	k->src = orig_a ? f->key.a : f->key.b;
	k->dst = orig_a ? f->key.b : f->key.a;
	k->sport = orig_a ? f->key.pa : f->key.pb;
	k->dport = orig_a ? f->key.pb : f->key.pa;
}

/*
 * Take conntrack's counters for f (which counted every packet, the ones
 * the kernel passed by mark too) where they are ahead of spackle's own; a
 * flow that moved is not idle. dir: 0 when the entry's original direction
 * is the flow's.
 */
static void
flow_ct_apply(struct flow *f, const struct ct_entry *e, int dir,
              uint64_t now_ns)
{
	int i, j;
	bool moved = false;

	for (i = 0; i < 2; i++) {
		j = dir == 0 ? i : 1 - i;
		if (e->packets[j] > f->packets[i]) {
			f->packets[i] = e->packets[j];
			moved = true;
		}
		if (e->bytes[j] > f->bytes[i])
			f->bytes[i] = e->bytes[j];
	}
	if (moved && now_ns > f->last_ns)
		f->last_ns = now_ns;
}

/* Refresh f from conntrack: 1 when its entry is gone, else 0. */
static int
worker_ct_refresh(struct worker *w, struct flow *f, uint64_t now_ns)
{
	struct ct_entry e;
	struct ct_key k;
	int dir;

	flow_ct_key(f, &k);
	switch (ct_get(w->ct, &k, &e)) {
	case 0:
		dir = memcmp(&e.key.src, &k.src, sizeof(k.src)) == 0 &&
		                      e.key.sport == k.sport
		              ? 0
		              : 1;
		flow_ct_apply(f, &e, dir, now_ns);
		return 0;
	case -ENOENT:
		return 1;
	default:
		return 0;
	}
}

/* A conntrack entry ended: its flow ends with its last counters. */
static void
worker_ct_destroyed(const struct ct_entry *e, void *arg)
{
	struct worker *w = arg;
	struct flow *f;
	int dir;

	f = classify_find(w->cls, e->key.proto, &e->key.src, e->key.sport,
	                  &e->key.dst, e->key.dport, &dir);
	if (f == NULL)
		return; /* another worker's, or a flow spackle never saw */
	flow_ct_apply(f, e, dir, sp_now_wall());
	w->st.ct_ended++;
	classify_end(w->cls, f);
}

static void
worker_ct_readable(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t held;

	(void)fd;
	(void)what;
	const struct timeval rest = {0, DAEMON_CT_REST_US};

	if (ct_read_events(w->ct, worker_ct_destroyed, w) < 0 &&
	    log_limit_ok(&w->bad_limit, sp_now_mono(), &held))
		log_warn("queue %u: conntrack events: %s", w->queue,
		         ct_error(w->ct));
	event_add(w->ev_ct_rest, &rest);
}

/* The rest after a read is over: listen for destroy events again. */
static void
worker_ct_listen(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	event_add(w->ev_ct, NULL);
}

/* The conntrack mark bits of a verdict (flow mode). */
static uint32_t
verdict_mark(enum sp_verdict v)
{
	return v == SP_VERDICT_DENY     ? STEER_MARK_DENY
	       : v == SP_VERDICT_REJECT ? STEER_MARK_REJECT
	                                : STEER_MARK_ACCEPT;
}

static void
worker_sweep_one(struct flow *f, void *arg)
{
	struct sweep_ctx *x = arg;

	if (f->verdict == SP_VERDICT_NONE ||
	    !store_flow_due(f, x->tick, x->now))
		return;
	/* Flow mode: counters from conntrack; an entry gone (its destroy
	 * event lost) ends the flow. A flow a second old may not have one
	 * yet. */
	if (x->w->ct != NULL && worker_ct_refresh(x->w, f, x->now) == 1 &&
	    x->now > f->first_ns + NS_PER_S) {
		if (x->ngone == x->capgone) {
			size_t cap = x->capgone ? 2 * x->capgone : 64;
			struct flow **v = realloc(x->gone, cap * sizeof(*v));

			if (v == NULL)
				return;
			x->gone = v;
			x->capgone = cap;
		}
		x->gone[x->ngone++] = f;
		return;
	}
	if (x->w->sp != NULL)
		store_put_flow_entry(x->w->sp, f,
		                     classify_flow_host(x->w->cls, f),
		                     classify_flow_exe(x->w->cls, f),
		                     x->w->rules, 0, STORE_PUT_RETRY);
}

static void
worker_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct sweep_ctx x = {w, ++w->ticks, sp_now_wall(), NULL, 0, 0};
	size_t i;

	(void)fd;
	(void)what;
	atomic_store(&w->beat_ns, sp_now_mono());
	classify_expire(w->cls, x.now);
	/* A tenth of the live flows a second: counters reach the store
	 * about every ten seconds while a flow lives (and in flow mode,
	 * conntrack is asked about each as often). */
	if (w->sp != NULL || w->ct != NULL)
		flow_foreach(classify_flows(w->cls), worker_sweep_one, &x);
	for (i = 0; i < x.ngone; i++) {
		w->st.ct_ended++;
		classify_end(w->cls, x.gone[i]);
	}
	free(x.gone);
	if (w->idx == 0)
		capture_flush(w->dm->cap);
}

/*
 * A name learnt, into the store's names table: a DNS answer's for its TTL,
 * a TLS SNI or HTTP Host for DAEMON_NAME_FLOW_S (it names the address as
 * long as such a connection may last).
 */
static void
worker_name_seen(const struct sp_addr *addr, const char *name,
                 enum classify_name_src src, uint32_t ttl, void *arg)
{
	struct worker *w = arg;
	uint64_t keep =
	        src == CLASSIFY_NAME_DNS ? (ttl ? ttl : 1) : DAEMON_NAME_FLOW_S;

	store_put_name(w->sp, addr, name,
	               src == CLASSIFY_NAME_DNS   ? STORE_NAME_DNS
	               : src == CLASSIFY_NAME_SNI ? STORE_NAME_SNI
	                                          : STORE_NAME_HOST,
	               sp_now_wall() + keep * NS_PER_S);
}

/* A flow leaves the table (expiry, eviction, shutdown): its final record. */
static void
worker_flow_ended(const struct flow *f, void *arg)
{
	struct worker *w = arg;
	int rc;

	if (f->verdict == SP_VERDICT_NONE)
		return;
	rc = store_put_flow_entry(w->sp, f, classify_flow_host(w->cls, f),
	                          classify_flow_exe(w->cls, f), w->rules,
	                          STORE_FLOW_ENDED, 0);
	/* At shutdown every flow ends at once: let the writer catch up. */
	if (rc == -ENOBUFS && w->dm->store != NULL && w->ticks == UINT64_MAX) {
		store_sync(w->dm->store);
		store_put_flow_entry(w->sp, f, classify_flow_host(w->cls, f),
		                     classify_flow_exe(w->cls, f), w->rules,
		                     STORE_FLOW_ENDED, 0);
	}
}

static void
worker_called(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct worker_call *call;

	(void)what;
	while (read(fd, &call, sizeof(call)) == sizeof(call)) {
		call->fn(w, call->arg);
		pthread_mutex_lock(&w->dm->call_mu);
		call->done = true;
		pthread_cond_broadcast(&w->dm->call_cv);
		pthread_mutex_unlock(&w->dm->call_mu);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	sigset_t all;

	/* Signals are the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	event_base_dispatch(w->base);
	return NULL;
}

/* Run fn on w's thread and wait for it (or run it here when w has none). */
static void
worker_run(struct worker *w, void (*fn)(struct worker *, void *), void *arg)
{
	struct worker_call call = {fn, arg, false};
	struct worker_call *p = &call;

	if (!w->started) {
		fn(w, arg);
		return;
	}
	if (write(w->call_pipe[1], &p, sizeof(p)) != sizeof(p)) {
		log_err("worker %u: cannot reach its thread: %s", w->idx,
		        strerror(errno));
		return;
	}
	pthread_mutex_lock(&w->dm->call_mu);
	while (!call.done)
		pthread_cond_wait(&w->dm->call_cv, &w->dm->call_mu);
	pthread_mutex_unlock(&w->dm->call_mu);
}

static void
worker_stop(struct worker *w, void *arg)
{
	(void)arg;
	/* Every live flow ends here: their final records go to the store. */
	w->ticks = UINT64_MAX;
	classify_flush(w->cls);
	event_base_loopbreak(w->base);
}

/* ---- queries, answered on each worker's thread ------------------------ */

/* Every worker's counters, summed. */
struct daemon_totals {
	struct worker_stats st;
	uint64_t live, evicted, created, dns_answers, decisions;
	uint64_t name_holds, names_sni, names_http, names_missing, renewed;
};

static void
worker_get_stats(struct worker *w, void *arg)
{
	struct daemon_totals *t = arg;
	struct flow_stats fs;
	struct classify_stats cs;

	t->st.received += w->st.received;
	t->st.accepted += w->st.accepted;
	t->st.dropped += w->st.dropped;
	t->st.rejected += w->st.rejected;
	t->st.malformed += w->st.malformed;
	t->st.monitor_would_deny += w->st.monitor_would_deny;
	t->st.monitor_would_reject += w->st.monitor_would_reject;
	t->st.verdict_errors += w->st.verdict_errors;
	t->st.ct_ended += w->st.ct_ended;
	t->st.ct_lost += w->ct != NULL ? ct_lost(w->ct) : 0;
	flow_table_stats(classify_flows(w->cls), &fs);
	classify_stats(w->cls, &cs);
	t->live += fs.live;
	t->evicted += fs.evicted;
	t->created += fs.created;
	t->dns_answers += cs.dns_answers;
	t->decisions += cs.decisions;
	t->name_holds += cs.name_holds;
	t->names_sni += cs.names_sni;
	t->names_http += cs.names_http;
	t->names_missing += cs.names_missing;
	t->renewed += cs.renewed;
}

struct conns_ctx {
	struct worker *w;
	json_t *arr;
};

static const char *
daemon_attrib_name(enum classify_attrib a)
{
	switch (a) {
	case CLASSIFY_ATTRIB_SOCKET:
		return "socket";
	case CLASSIFY_ATTRIB_EXITED:
		return "exited";
	case CLASSIFY_ATTRIB_TIMEOUT:
		return "timeout";
	default:
		return "unknown";
	}
}

static const char *
daemon_name_src(enum classify_name_src s)
{
	switch (s) {
	case CLASSIFY_NAME_SNI:
		return "sni";
	case CLASSIFY_NAME_HTTP:
		return "http";
	default:
		return "dns";
	}
}

/* A flow as `conns --json` shows it; flow mode reads conntrack's counters
 * first when refresh is set. */
static json_t *
worker_flow_json(struct worker *w, struct flow *f, bool refresh)
{
	const struct sp_addr *la, *ra;
	uint16_t lp, rp;
	char lb[64], rb[64], rule[SP_PATH_MAX + 16], pbuf[8];
	const char *proto = sp_proto_name(f->key.proto);
	struct classify_flow_info fi;
	const char *host, *exe;
	const struct rules_rule *r = NULL;
	int out = f->dir == SP_DIR_OUT ? 0 : 1;
	json_t *o;

	/* Flow mode: the kernel passed most of its packets; conntrack
	 * counted them. */
	if (refresh && w->ct != NULL)
		worker_ct_refresh(w, f, sp_now_wall());
	classify_flow_info(w->cls, f, &fi);
	host = fi.host;
	exe = fi.exe;
	flow_local(f, &la, &lp);
	flow_remote(f, &ra, &rp);
	if (f->rule != FLOW_RULE_DEFAULT && f->rule != FLOW_RULE_NONE &&
	    w->rules != NULL)
		r = rules_get(w->rules, f->rule);
	if (r != NULL)
		snprintf(rule, sizeof(rule), "%s:%u", r->file, r->line);
	else if (f->flags & FLOW_F_NAME_WAIT)
		snprintf(rule, sizeof(rule), "pending");
	else
		snprintf(rule, sizeof(rule), "default");
	if (proto == NULL) {
		snprintf(pbuf, sizeof(pbuf), "%u", f->key.proto);
		proto = pbuf;
	}
	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "id", json_integer((json_int_t)f->id));
	json_object_set_new(o, "proto", json_string(proto));
	json_object_set_new(o, "src", json_string(sp_addr_format(la, lb, 64)));
	json_object_set_new(o, "sport", json_integer(lp));
	json_object_set_new(o, "dst", json_string(sp_addr_format(ra, rb, 64)));
	json_object_set_new(o, "dport", json_integer(rp));
	json_object_set_new(o, "dir", json_string(sp_dir_name(f->dir)));
	json_object_set_new(o, "pid",
	                    f->pid >= 0 ? json_integer(f->pid) : json_null());
	json_object_set_new(o, "exe", exe ? json_string(exe) : json_null());
	json_object_set_new(o, "uid",
	                    f->uid != FLOW_UID_UNKNOWN ? json_integer(f->uid)
	                                               : json_null());
	json_object_set_new(o, "ppid",
	                    fi.ppid >= 0 ? json_integer(fi.ppid) : json_null());
	json_object_set_new(o, "cmdline",
	                    fi.cmdline ? json_string(fi.cmdline) : json_null());
	json_object_set_new(o, "procs",
	                    fi.nprocs > 0 ? json_integer(fi.nprocs)
	                                  : json_null());
	json_object_set_new(o, "attrib",
	                    fi.attrib != CLASSIFY_ATTRIB_NONE
	                            ? json_string(daemon_attrib_name(fi.attrib))
	                            : json_null());
	json_object_set_new(o, "host", host ? json_string(host) : json_null());
	json_object_set_new(o, "host_from",
	                    fi.host_src != CLASSIFY_NAME_NONE
	                            ? json_string(daemon_name_src(fi.host_src))
	                            : json_null());
	json_object_set_new(o, "name_wait",
	                    json_boolean(f->flags & FLOW_F_NAME_WAIT));
	json_object_set_new(o, "verdict",
	                    json_string(sp_verdict_name(f->verdict)));
	json_object_set_new(o, "rule", json_string(rule));
	json_object_set_new(o, "monitor",
	                    json_boolean(f->flags & FLOW_F_MONITOR));
	json_object_set_new(o, "packets_out",
	                    json_integer((json_int_t)f->packets[out]));
	json_object_set_new(o, "packets_in",
	                    json_integer((json_int_t)f->packets[!out]));
	json_object_set_new(o, "bytes_out",
	                    json_integer((json_int_t)f->bytes[out]));
	json_object_set_new(o, "bytes_in",
	                    json_integer((json_int_t)f->bytes[!out]));
	json_object_set_new(o, "first_ns",
	                    json_integer((json_int_t)f->first_ns));
	json_object_set_new(o, "last_ns", json_integer((json_int_t)f->last_ns));
	json_object_set_new(o, "queue", json_integer(w->queue));
	return o;
}

static void
conns_one(struct flow *f, void *arg)
{
	struct conns_ctx *x = arg;
	json_t *o = worker_flow_json(x->w, f, true);

	if (o != NULL)
		json_array_append_new(x->arr, o);
}

/* The decision log's entry for f: its conns object, what happened and
 * when. */
static void
worker_log_decision(struct worker *w, struct flow *f, const char *event)
{
	json_t *o = worker_flow_json(w, f, false);
	char ts[40];
	uint64_t now = sp_now_wall();
	time_t sec = (time_t)(now / NS_PER_S);
	struct tm tm;
	size_t n;

	if (o == NULL)
		return;
	gmtime_r(&sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03uZ",
	         (unsigned)(now % NS_PER_S / 1000000));
	json_object_set_new(o, "event", json_string(event));
	json_object_set_new(o, "time", json_string(ts));
	declog_write(w->dm->dlog, o);
	json_decref(o);
}

static void
worker_get_conns(struct worker *w, void *arg)
{
	struct conns_ctx x = {w, arg};

	flow_foreach(classify_flows(w->cls), conns_one, &x);
}

struct swap_ctx {
	const struct ruleset *rules;
	enum sp_verdict dflt;
	size_t changed;
};

/* A live flow that a reload decided otherwise: an event, and its record
 * with the new verdict and rule. */
static void
worker_verdict_changed(struct flow *f, enum sp_verdict before, void *arg)
{
	struct worker *w = arg;
	char text[64];

	snprintf(text, sizeof(text), "%s -> %s", sp_verdict_name(before),
	         sp_verdict_name((enum sp_verdict)f->verdict));
	store_put_event(w->sp, 0, STORE_EV_VERDICT, f->id, text);
	store_put_flow_entry(w->sp, f, classify_flow_host(w->cls, f),
	                     classify_flow_exe(w->cls, f), w->rules, 0,
	                     STORE_PUT_RETRY);
}

/* Flow mode: a live flow decided otherwise gets its new verdict in its
 * conntrack mark at once (spackle's bits only), so the kernel's fast path
 * acts on it from its next packet. */
static void
worker_ct_remark(struct worker *w, struct flow *f)
{
	struct ct_key k;
	uint64_t held;
	int rc;

	flow_ct_key(f, &k);
	rc = ct_set_mark(w->ct, &k, verdict_mark((enum sp_verdict)f->verdict),
	                 STEER_MARK_MASK);
	if (rc != 0 && rc != -ENOENT &&
	    log_limit_ok(&w->bad_limit, sp_now_mono(), &held))
		log_warn("queue %u: conntrack mark of flow %llu: %s", w->queue,
		         (unsigned long long)f->id, ct_error(w->ct));
}

/* A reload changed f's verdict: the store, and in flow mode the kernel. */
static void
worker_flow_redecided(struct flow *f, enum sp_verdict before, void *arg)
{
	struct worker *w = arg;

	if (w->sp != NULL)
		worker_verdict_changed(f, before, arg);
	if (w->dm->dlog != NULL)
		worker_log_decision(w, f, "verdict");
	if (w->ct != NULL && w->dm->cfg.mode == CONFIG_MODE_ENFORCE &&
	    !(f->flags & FLOW_F_NAME_WAIT))
		worker_ct_remark(w, f);
}

static void
worker_swap_rules(struct worker *w, void *arg)
{
	struct swap_ctx *s = arg;

	classify_set_rules(w->cls, s->rules, s->dflt);
	w->rules = s->rules;
	s->changed += classify_redecide(w->cls, sp_now_wall(),
	                                w->sp != NULL || w->ct != NULL ||
	                                                w->dm->dlog != NULL
	                                        ? worker_flow_redecided
	                                        : NULL,
	                                w);
}

/* ---- control commands, on the main thread ----------------------------- */

/* Attribution's counters into c, its state into a. */
static void
daemon_status_attrib(struct daemon *dm, json_t *a, json_t *c)
{
	struct proc_stats ps;

	memset(&ps, 0, sizeof(ps));
	if (dm->proc != NULL)
		proc_stats(dm->proc, &ps);
	json_object_set_new(a, "timeout_ms",
	                    json_integer(dm->cfg.attrib_timeout_ms));
	json_object_set_new(a, "events", json_boolean(ps.events_on));
	json_object_set_new(a, "processes", json_integer((json_int_t)ps.procs));
	json_object_set_new(a, "sockets", json_integer((json_int_t)ps.socks));
#define ATTRIB(key, field)                                                     \
	json_object_set_new(c, key, json_integer((json_int_t)ps.field))
	ATTRIB("attrib_lookups", lookups);
	json_object_set_new(c, "attrib_time_us",
	                    json_integer((json_int_t)(ps.took_ns / 1000)));
	ATTRIB("attrib_found", found);
	ATTRIB("attrib_exited", exited);
	ATTRIB("attrib_unknown", unknown);
	ATTRIB("attrib_timeouts", timeouts);
	ATTRIB("attrib_no_socket", no_socket);
	ATTRIB("attrib_cache_hits", sock_hits);
	ATTRIB("attrib_scans", scans);
	ATTRIB("attrib_scanned_processes", scanned_procs);
	ATTRIB("attrib_scanned_fds", scanned_fds);
	ATTRIB("attrib_fd_guesses", fd_guesses);
	ATTRIB("attrib_ambiguous", infer_ambiguous);
	ATTRIB("proc_events", events);
	ATTRIB("proc_events_lost", events_lost);
	ATTRIB("proc_execs", execs);
	ATTRIB("proc_exec_missed", exec_missed);
	ATTRIB("proc_exits", exits);
#undef ATTRIB
}

#define SET_U64(obj, key, v)                                                   \
	json_object_set_new(obj, key, json_integer((json_int_t)(v)))

/* The store's and the capture's counters, for status (and audit). */
static void
daemon_status_store(struct daemon *dm, json_t *c)
{
	struct store_stats ss;
	struct capture_stats cs;

	json_object_set_new(c, "store", json_boolean(dm->store != NULL));
	if (dm->store != NULL) {
		store_stats(dm->store, &ss);
		SET_U64(c, "store_queued", ss.queued);
		SET_U64(c, "store_lost", ss.lost);
		SET_U64(c, "store_deferred", ss.deferred);
		SET_U64(c, "store_written", ss.written);
		SET_U64(c, "store_flushes", ss.flushes);
		SET_U64(c, "store_errors", ss.errors);
		SET_U64(c, "store_map_full", ss.map_full);
		SET_U64(c, "store_pruned_full", ss.pruned_full);
		SET_U64(c, "store_pruned_age", ss.pruned_age);
		SET_U64(c, "store_last_commit_ns", ss.last_commit_ns);
		SET_U64(c, "store_map_size", ss.map_size);
		SET_U64(c, "store_map_used", ss.map_used);
	}
	if (dm->cap != NULL) {
		capture_stats(dm->cap, &cs);
		SET_U64(c, "capture_packets", cs.packets);
		SET_U64(c, "capture_rotations", cs.rotations);
		SET_U64(c, "capture_errors", cs.errors);
	}
}

static json_t *
daemon_status(const json_t *req, void *arg)
{
	struct daemon *dm = arg;
	struct daemon_totals sum;
	struct divert_stats ds, dsum;
	json_t *o, *c, *o0;
	unsigned i;

	(void)req;
	memset(&sum, 0, sizeof(sum));
	memset(&dsum, 0, sizeof(dsum));
	for (i = 0; i < dm->nw; i++) {
		worker_run(&dm->w[i], worker_get_stats, &sum);
		if (dm->ops->stats != NULL) {
			memset(&ds, 0, sizeof(ds));
			dm->ops->stats(dm->w[i].d, &ds);
			dsum.enobufs += ds.enobufs;
		}
	}
	c = json_object();
	json_object_set_new(c, "received",
	                    json_integer((json_int_t)sum.st.received));
	json_object_set_new(c, "accepted",
	                    json_integer((json_int_t)sum.st.accepted));
	json_object_set_new(c, "dropped",
	                    json_integer((json_int_t)sum.st.dropped));
	json_object_set_new(c, "rejected",
	                    json_integer((json_int_t)sum.st.rejected));
	json_object_set_new(c, "malformed",
	                    json_integer((json_int_t)sum.st.malformed));
	json_object_set_new(
	        c, "monitor_would_deny",
	        json_integer((json_int_t)sum.st.monitor_would_deny));
	json_object_set_new(
	        c, "monitor_would_reject",
	        json_integer((json_int_t)sum.st.monitor_would_reject));
	json_object_set_new(c, "verdict_errors",
	                    json_integer((json_int_t)sum.st.verdict_errors));
	json_object_set_new(c, "ct_flows_ended",
	                    json_integer((json_int_t)sum.st.ct_ended));
	json_object_set_new(c, "ct_events_lost",
	                    json_integer((json_int_t)sum.st.ct_lost));
	json_object_set_new(c, "enobufs",
	                    json_integer((json_int_t)dsum.enobufs));
	json_object_set_new(c, "flows_live",
	                    json_integer((json_int_t)sum.live));
	json_object_set_new(c, "flows_evicted",
	                    json_integer((json_int_t)sum.evicted));
	json_object_set_new(c, "flows_created",
	                    json_integer((json_int_t)sum.created));
	json_object_set_new(c, "dns_answers",
	                    json_integer((json_int_t)sum.dns_answers));
	json_object_set_new(c, "decisions",
	                    json_integer((json_int_t)sum.decisions));
	json_object_set_new(c, "name_holds",
	                    json_integer((json_int_t)sum.name_holds));
	json_object_set_new(c, "names_sni",
	                    json_integer((json_int_t)sum.names_sni));
	json_object_set_new(c, "names_http",
	                    json_integer((json_int_t)sum.names_http));
	json_object_set_new(c, "names_missing",
	                    json_integer((json_int_t)sum.names_missing));
	json_object_set_new(c, "flows_renewed",
	                    json_integer((json_int_t)sum.renewed));
	o0 = json_object();
	daemon_status_attrib(dm, o0, c);
	json_object_set_new(c, "rule_reloads",
	                    json_integer((json_int_t)dm->reloads));
	json_object_set_new(c, "tamper_events",
	                    json_integer((json_int_t)dm->tampers));
	json_object_set_new(c, "steering_repairs",
	                    json_integer((json_int_t)dm->repairs));
	json_object_set_new(c, "rule_reload_failures",
	                    json_integer((json_int_t)dm->reload_failures));
	daemon_status_store(dm, c);
	/* The kernel's queue drops, as the last second's tick read them. */
	SET_U64(c, "queue_dropped", dm->drops.queue_dropped);
	SET_U64(c, "user_dropped", dm->drops.user_dropped);
	if (dm->dlog != NULL) {
		unsigned long long wr, lost;

		declog_stats(dm->dlog, &wr, &lost);
		SET_U64(c, "decisions_logged", wr);
		SET_U64(c, "decisions_log_lost", lost);
	}
	o = json_object();
	json_object_set_new(o, "version", json_string(SPACKLE_VERSION));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "mode",
	                    json_string(dm->cfg.mode == CONFIG_MODE_MONITOR
	                                        ? "monitor"
	                                        : "enforce"));
	json_object_set_new(o, "divert",
	                    json_string(dm->cfg.divert == CONFIG_DIVERT_FLOW
	                                        ? "flow"
	                                        : "packet"));
	json_object_set_new(o, "default",
	                    json_string(sp_verdict_name(dm->cfg.dflt)));
	json_object_set_new(o, "failure",
	                    json_string(dm->cfg.failure == CONFIG_FAILURE_CLOSED
	                                        ? "closed"
	                                        : "open"));
	json_object_set_new(o, "backend", json_string(dm->ops->name));
	json_object_set_new(
	        o, "firewall",
	        json_string(steer_firewall(&dm->cfg) == CONFIG_FIREWALL_NFT
	                            ? "nft"
	                            : steer_ipt_variant_name(
	                                      steer_iptables_variant())));
	json_object_set_new(o, "queues", json_integer(dm->cfg.queues));
	json_object_set_new(o, "dns_queue",
	                    json_integer(STEER_DNS_QUEUE(&dm->cfg)));
	json_object_set_new(o, "queue_base", json_integer(dm->cfg.queue_base));
	json_object_set_new(o, "rules", json_string(dm->cfg.rules));
	json_object_set_new(o, "rules_loaded",
	                    json_integer((json_int_t)rules_count(dm->rules)));
	json_object_set_new(
	        o, "uptime",
	        json_integer((json_int_t)((sp_now_mono() - dm->start_mono) /
	                                  NS_PER_S)));
	json_object_set_new(o, "started_ns",
	                    json_integer((json_int_t)dm->start_wall));
	json_object_set_new(o, "user", json_string(dm->cfg.user));
	json_object_set_new(o, "counters", c);
	json_object_set_new(o, "attribution", o0);
	if (dm->last_audit != NULL)
		json_object_set(o, "audit", dm->last_audit);
	return o;
}

/* For the metrics endpoint: a fresh status at each scrape. */
static json_t *
daemon_metrics_status(void *arg)
{
	return daemon_status(NULL, arg);
}

/*
 * `spackle audit` reports what it found ({"hidden": N, "holes": B}):
 * status and the metrics show the last report, and the store keeps it.
 */
static json_t *
daemon_audit_report(const json_t *req, void *arg)
{
	struct daemon *dm = arg;
	const json_t *hidden = json_object_get(req, "hidden");
	const json_t *holes = json_object_get(req, "holes");
	json_t *o;

	if (!json_is_integer(hidden) || json_integer_value(hidden) < 0 ||
	    !json_is_boolean(holes))
		return json_pack("{s:s}", "error",
		                 "audit: needs \"hidden\" (a count) and "
		                 "\"holes\" (true or false)");
	o = json_pack("{s:I,s:b,s:I}", "hidden", json_integer_value(hidden),
	              "holes", json_is_true(holes), "at_ns",
	              (json_int_t)sp_now_wall());
	if (o == NULL)
		return json_pack("{s:s}", "error", "out of memory");
	json_decref(dm->last_audit);
	dm->last_audit = o;
	daemon_event(dm, STORE_EV_AUDIT, o);
	return json_pack("{s:b}", "ok", 1);
}

static json_t *
daemon_conns(const json_t *req, void *arg)
{
	struct daemon *dm = arg;
	json_t *arr = json_array();
	unsigned i;

	(void)req;
	for (i = 0; i < dm->nw; i++)
		worker_run(&dm->w[i], worker_get_conns, arr);
	return json_pack("{s:o}", "conns", arr);
}

/* Load cfg's rules; NULL with the diagnostics in *text on errors. */
static struct ruleset *
daemon_load_rules(const struct config *cfg, char **text)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;
	size_t len = 0;
	FILE *f;

	*text = NULL;
	memset(&d, 0, sizeof(d));
	if (rs == NULL)
		return NULL;
	if (rules_load_path(rs, cfg->rules, &d) != 0 || d.errors > 0 ||
	    rules_compile(rs, &d) != 0 || d.errors > 0) {
		rules_free(rs);
		rs = NULL;
	}
	if (d.n > 0 && (f = open_memstream(text, &len)) != NULL) {
		rules_diags_print(f, &d);
		fclose(f);
	}
	rules_diags_free(&d);
	return rs;
}

/* An event for the store, from the main thread, its text the object o. */
static void
daemon_event(struct daemon *dm, enum store_event_type type, const json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	store_put_event(dm->sp, 0, type, 0, text);
	free(text);
}

/* Packets or records lost, as they stand: the workers' receive overruns,
 * the kernel's queue drops for our queues, the store's lost records. */
static void
daemon_drops_now(struct daemon *dm, struct daemon_drops *d)
{
	struct nfq_kernel_stats ks;
	struct divert_stats ds;
	struct store_stats ss;
	unsigned i;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < dm->nw; i++) {
		if (dm->ops->stats != NULL) {
			memset(&ds, 0, sizeof(ds));
			dm->ops->stats(dm->w[i].d, &ds);
			d->enobufs += ds.enobufs;
		}
		if (dm->ops == &divert_nfqueue_ops &&
		    nfqueue_kernel_stats((uint16_t)dm->w[i].queue, &ks) == 0) {
			d->queue_dropped += ks.queue_dropped;
			d->user_dropped += ks.user_dropped;
		}
	}
	if (dm->store != NULL) {
		store_stats(dm->store, &ss);
		d->store_lost = ss.lost;
	}
}

/*
 * What is wrong with the steering as installed now (iptables firewall):
 * a JSON object per hook that is not as spackle installed it, NULL when
 * all are. Rules placed above spackle's are listed with their counters.
 */
static json_t *
daemon_steering_problems(struct daemon *dm)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	struct fw_ruleset rs = {0};
	struct fw_steer_check chk = {0};
	char err[512], *buf, desc[256];
	json_t *arr = NULL, *h, *above, *list;
	size_t len, i, k;
	unsigned f;

	for (f = 0; f < 2; f++) {
		if (steer_save(fams[f], &buf, &len, err, sizeof(err)) != 0)
			continue;
		if (fw_parse_save(buf, len, fams[f], "filter", &rs, err,
		                  sizeof(err)) == 0)
			fw_check_steering(&dm->cfg, fams[f], &rs, &chk);
		free(buf);
	}
	for (i = 0; i < chk.n; i++) {
		const struct fw_hook_check *hc = &chk.v[i];

		if (hc->ok)
			continue;
		above = json_array();
		for (k = 0; k < hc->nabove; k++) {
			const struct fw_rule *r = &rs.v[hc->above[k]];

			fw_rule_describe(r, desc, sizeof(desc));
			json_array_append_new(
			        above,
			        json_pack("{s:s,s:s,s:I}", "rule", r->spec,
			                  "matches", desc, "packets",
			                  (json_int_t)r->packets));
		}
		h = json_pack("{s:s,s:s,s:I,s:I,s:o}", "family",
		              hc->family == AF_INET6 ? "ipv6" : "ipv4", "hook",
		              hc->hook, "jumps", (json_int_t)hc->jumps,
		              "position", (json_int_t)hc->jump_pos, "above",
		              above);
		list = json_array();
		for (k = 0; k < hc->nmissing; k++)
			json_array_append_new(list,
			                      json_string(hc->missing[k]));
		json_object_set_new(h, "missing", list);
		list = json_array();
		for (k = 0; k < hc->nextra; k++)
			json_array_append_new(list, json_string(hc->extra[k]));
		json_object_set_new(h, "extra", list);
		if (arr == NULL)
			arr = json_array();
		json_array_append_new(arr, h);
	}
	fw_steer_check_free(&chk);
	fw_ruleset_free(&rs);
	return arr;
}

/*
 * Once a second: is spackle still first and whole in every hook? A change
 * is a tamper event and a log line (once per change); with
 * steering_repair the rules are put back at once.
 */
static void
daemon_check_steering(struct daemon *dm)
{
	json_t *probs, *o, *key, *h, *r;
	char *text, err[512];
	size_t i, k;
	int rc;

	if (!dm->steered ||
	    steer_firewall(&dm->cfg) != CONFIG_FIREWALL_IPTABLES)
		return;
	if ((probs = daemon_steering_problems(dm)) == NULL) {
		free(dm->tamper_seen);
		dm->tamper_seen = NULL;
		return;
	}
	/* What is wrong, without the counters that move every second. */
	key = json_deep_copy(probs);
	json_array_foreach(key, i, h)
	{
		json_array_foreach(json_object_get(h, "above"), k, r)
		        json_object_del(r, "packets");
	}
	text = json_dumps(key, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(key);
	if (text != NULL &&
	    (dm->tamper_seen == NULL || strcmp(text, dm->tamper_seen) != 0)) {
		dm->tampers++;
		log_warn("steering changed by someone else: %s", text);
		o = json_pack("{s:O,s:b}", "hooks", probs, "repair",
		              dm->cfg.steering_repair);
		daemon_event(dm, STORE_EV_TAMPER, o);
		json_decref(o);
		free(dm->tamper_seen);
		dm->tamper_seen = text;
		text = NULL;
	}
	free(text);
	json_decref(probs);
	if (!dm->cfg.steering_repair)
		return;
	if ((rc = steer_repair(&dm->cfg, err, sizeof(err))) < 0) {
		log_err("steering_repair: %s", err);
		return;
	}
	dm->repairs++;
	log_info("steering_repair: spackle's rules put back first in %d "
	         "hook%s",
	         rc, rc == 1 ? "" : "s");
	o = json_pack("{s:s,s:i}", "repaired", "steering", "hooks", rc);
	daemon_event(dm, STORE_EV_TAMPER, o);
	json_decref(o);
	/* Checked again next second: a repair that holds clears it. */
}

/*
 * Once a second on the main thread: whatever was lost since the last
 * second becomes a drops event (and a log line), with how many of each;
 * and the steering is checked.
 */
/*
 * The service manager's watchdog (WatchdogSec): pinged each second while
 * every worker ticked within DAEMON_STALL_S, so a worker stuck for good
 * has the service restarted (failure = open lets packets pass meanwhile).
 */
static void
daemon_watchdog(struct daemon *dm)
{
	uint64_t now = sp_now_mono();
	unsigned i;

	if (!dm->watchdog)
		return;
	for (i = 0; i < dm->nw; i++) {
		uint64_t beat = atomic_load(&dm->w[i].beat_ns);

		if (now - beat > DAEMON_STALL_S * NS_PER_S) {
			if (dm->stalled != i + 1)
				log_err("queue %u: its worker has not ticked "
				        "for %llu s; the watchdog is no "
				        "longer told all is well",
				        dm->w[i].queue,
				        (unsigned long long)((now - beat) /
				                             NS_PER_S));
			dm->stalled = i + 1;
			return;
		}
	}
	dm->stalled = 0;
	sd_notify(0, "WATCHDOG=1");
}

static void
daemon_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *dm = arg;
	struct daemon_drops now, *was = &dm->drops;
	json_t *o;

	(void)fd;
	(void)what;
	daemon_drops_now(dm, &now);
	if (now.enobufs > was->enobufs ||
	    now.queue_dropped > was->queue_dropped ||
	    now.user_dropped > was->user_dropped ||
	    now.store_lost > was->store_lost) {
		o = json_pack(
		        "{s:I,s:I,s:I,s:I}", "enobufs",
		        (json_int_t)(now.enobufs - was->enobufs),
		        "queue_dropped",
		        (json_int_t)(now.queue_dropped - was->queue_dropped),
		        "user_dropped",
		        (json_int_t)(now.user_dropped - was->user_dropped),
		        "store_lost",
		        (json_int_t)(now.store_lost - was->store_lost));
		if (o != NULL) {
			char *text = json_dumps(o, JSON_COMPACT |
			                                   JSON_PRESERVE_ORDER);

			log_warn("lost in the last second: %s",
			         text != NULL ? text : "?");
			free(text);
			daemon_event(dm, STORE_EV_DROPS, o);
			json_decref(o);
		}
	}
	*was = now;
	daemon_check_steering(dm);
	daemon_watchdog(dm);
}

/* Reload rules (and `default`) from the config file; the old set stays on
 * any error. Returns the reply for the control socket. */
static json_t *
daemon_reload(const json_t *req, void *arg)
{
	struct daemon *dm = arg;
	struct config cfg = dm->cfg;
	struct ruleset *rs, *old;
	struct swap_ctx s;
	char *diag = NULL, *cerr = NULL;
	size_t clen = 0;
	FILE *ef;
	json_t *o;
	unsigned i;

	(void)req;
	if (dm->conf_path != NULL && (ef = open_memstream(&cerr, &clen))) {
		int rc = config_load(&cfg, dm->conf_path, ef);

		fclose(ef);
		if (rc != 0) {
			dm->reload_failures++;
			log_err("reload refused, the old rules stay: %s", cerr);
			o = json_pack("{s:b,s:s}", "ok", 0, "errors", cerr);
			daemon_event(dm, STORE_EV_RELOAD, o);
			free(cerr);
			return o;
		}
		free(cerr);
	}
	rs = daemon_load_rules(&cfg, &diag);
	if (rs == NULL) {
		dm->reload_failures++;
		log_err("reload of %s refused, the old rules stay:\n%s",
		        cfg.rules, diag ? diag : "out of memory");
		o = json_pack("{s:b,s:s}", "ok", 0, "errors",
		              diag ? diag : "out of memory");
		daemon_event(dm, STORE_EV_RELOAD, o);
		free(diag);
		return o;
	}
	s.rules = rs;
	s.dflt = cfg.dflt;
	s.changed = 0;
	for (i = 0; i < dm->nw; i++)
		worker_run(&dm->w[i], worker_swap_rules, &s);
	old = dm->rules;
	dm->rules = rs;
	dm->cfg.dflt = cfg.dflt;
	snprintf(dm->cfg.rules, sizeof(dm->cfg.rules), "%s", cfg.rules);
	rules_free(old);
	dm->reloads++;
	log_info("rules reloaded from %s: %zu rules, %zu live flows "
	         "changed verdict",
	         cfg.rules, rules_count(rs), s.changed);
	o = json_pack("{s:b,s:I,s:I,s:s}", "ok", 1, "rules",
	              (json_int_t)rules_count(rs), "changed",
	              (json_int_t)s.changed, "warnings", diag ? diag : "");
	daemon_event(dm, STORE_EV_RELOAD, o);
	free(diag);
	return o;
}

static const struct control_command daemon_commands[] = {
        {"status", false, daemon_status},
        {"conns", false, daemon_conns},
        {"reload", true, daemon_reload},
        {"audit", true, daemon_audit_report},
};

/* ---- signals ---------------------------------------------------------- */

static void
daemon_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *dm = arg;
	json_t *r;

	(void)what;
	if (sig == SIGHUP) {
		char err[SP_PATH_MAX + 128];

		log_info("SIGHUP: reloading rules");
		r = daemon_reload(NULL, dm);
		json_decref(r);
		/* logrotate moved the decision log: a new file. */
		if (declog_reopen(dm->dlog, err, sizeof(err)) != 0)
			log_err("decision log: %s; still writing to the old "
			        "file",
			        err);
		return;
	}
	log_info("%s: removing steering and stopping",
	         sig == SIGTERM ? "SIGTERM" : "SIGINT");
	sd_notify(0, "STOPPING=1");
	event_base_loopbreak(dm->base);
}

/* ---- set-up and tear-down --------------------------------------------- */

static int
worker_open(struct daemon *dm, struct worker *w)
{
	struct classify_config cc;
	char spec[128], err[512];

	/* Headers and a first payload's names; DNS is read whole. */
	snprintf(spec, sizeof(spec), "%u,failure=%s,copy=%u", w->queue,
	         dm->cfg.failure == CONFIG_FAILURE_OPEN ? "open" : "closed",
	         w->queue == STEER_DNS_QUEUE(&dm->cfg) ? 65535u
	                                               : DAEMON_COPY_BALANCED);
	if (dm->ops->open(&w->d, spec, err, sizeof(err)) != 0) {
		log_err("%s", err);
		return -1;
	}
	memset(&cc, 0, sizeof(cc));
	cc.rules = dm->rules;
	cc.dflt = dm->cfg.dflt;
	cc.shared_names = dm->names;
	cc.names_lock = &dm->names_mu;
	cc.ended = worker_flow_ended;
	cc.ended_arg = w;
	/* In flow mode a held flow's handshake passes a packet at a time
	 * (STEER_MARK_ONCE), so its payload still comes to the divert. */
	cc.name_hold = true;
	if (dm->cfg.divert == CONFIG_DIVERT_FLOW) {
		unsigned k;

		/* The kernel passes a decided flow's packets without us:
		 * conntrack says when it ends (destroy events, and the sweep
		 * for lost ones), not idleness seen here. */
		for (k = 0; k < FLOW_CLASS_COUNT; k++)
			cc.flows.timeout[k] = DAEMON_FLOW_MODE_IDLE_S;
		if (ct_open(&w->ct, true, err, sizeof(err)) != 0) {
			log_err("queue %u: conntrack: %s", w->queue, err);
			return -1;
		}
	}
	if (w->sp != NULL) {
		cc.name_seen = worker_name_seen;
		cc.name_seen_arg = w;
	}
	if (dm->proc != NULL) {
		w->pq = proc_query_new(dm->proc, err, sizeof(err));
		w->po = malloc(sizeof(*w->po));
		if (w->pq == NULL || w->po == NULL) {
			log_err("queue %u: %s", w->queue,
			        w->pq == NULL ? err : "out of memory");
			return -1;
		}
		cc.owner = daemon_owner;
		cc.owner_gone = daemon_owner_gone;
		cc.owner_arg = w;
	}
	w->rules = dm->rules;
	if ((w->cls = classify_new(&cc)) == NULL) {
		log_err("queue %u: out of memory for the flow table", w->queue);
		return -1;
	}
	w->bad_limit.interval_s = 10;
	w->bad_limit.burst = 5;
	w->attrib_limit.interval_s = 10;
	w->attrib_limit.burst = 5;
	if (pipe2(w->call_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_err("pipe: %s", strerror(errno));
		return -1;
	}
	w->base = event_base_new();
	if (w->base == NULL)
		return -1;
	w->ev_read = event_new(w->base, dm->ops->fd(w->d), EV_READ | EV_PERSIST,
	                       worker_readable, w);
	w->ev_call = event_new(w->base, w->call_pipe[0], EV_READ | EV_PERSIST,
	                       worker_called, w);
	w->ev_tick = event_new(w->base, -1, EV_PERSIST, worker_tick, w);
	w->ev_drain = event_new(w->base, -1, 0, worker_drain_tick, w);
	if (w->ev_read == NULL || w->ev_call == NULL || w->ev_tick == NULL ||
	    w->ev_drain == NULL)
		return -1;
	if (w->ct != NULL &&
	    ((w->ev_ct = event_new(w->base, ct_fd(w->ct), EV_READ,
	                           worker_ct_readable, w)) == NULL ||
	     (w->ev_ct_rest = event_new(w->base, -1, 0, worker_ct_listen, w)) ==
	             NULL ||
	     event_add(w->ev_ct, NULL) != 0))
		return -1;
	{
		struct timeval one = {1, 0};
		struct timeval drain = {0, DAEMON_DRAIN_BUSY_US};

		atomic_store(&w->beat_ns, sp_now_mono());
		event_add(w->ev_read, NULL);
		event_add(w->ev_call, NULL);
		event_add(w->ev_tick, &one);
		event_add(w->ev_drain, &drain);
	}
	return 0;
}

static void
worker_close(struct daemon *dm, struct worker *w)
{
	if (w->started) {
		worker_run(w, worker_stop, NULL);
		pthread_join(w->th, NULL);
		w->started = false;
	}
	if (w->ev_read)
		event_free(w->ev_read);
	if (w->ev_call)
		event_free(w->ev_call);
	if (w->ev_tick)
		event_free(w->ev_tick);
	if (w->ev_drain)
		event_free(w->ev_drain);
	if (w->ev_ct)
		event_free(w->ev_ct);
	if (w->ev_ct_rest)
		event_free(w->ev_ct_rest);
	ct_close(w->ct);
	if (w->base)
		event_base_free(w->base);
	if (w->call_pipe[0] > 0) {
		close(w->call_pipe[0]);
		close(w->call_pipe[1]);
	}
	classify_free(w->cls);
	proc_query_free(w->pq);
	free(w->po);
	if (w->d != NULL)
		dm->ops->close(w->d);
}

/*
 * The control socket's directory, made the user's when it is missing, so
 * the socket can be removed at the end once root is gone (the unit's
 * RuntimeDirectory, or /run/spackle itself). A directory that exists is
 * left as it is: if the user cannot write it, the socket stays after a
 * stop and the next start replaces it.
 */
static int
daemon_control_dir(struct daemon *dm)
{
	char dir[SP_PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", dm->cfg.control);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0) {
		if (errno == EEXIST)
			return 0;
		log_err("control socket directory %s: %s", dir,
		        strerror(errno));
		return -1;
	}
	if (chown(dir, dm->uid, dm->gid) != 0) {
		log_err("control socket directory %s: chown: %s", dir,
		        strerror(errno));
		return -1;
	}
	return 0;
}

static void
daemon_usage(FILE *f)
{
	fprintf(f, "usage: spackle run [-c CONF]\n"
	           "  runs the firewall in the foreground; SIGTERM or SIGINT "
	           "stop it, SIGHUP reloads the rules\n");
}

int
cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct daemon dm;
	struct event *sigs[3] = {NULL, NULL, NULL};
	static const int signums[3] = {SIGINT, SIGTERM, SIGHUP};
	const struct timeval one_s = {1, 0};
	char err[1024], *diag = NULL;
	int ch, rc = 1;
	unsigned i;
	bool drop = false;

	memset(&dm, 0, sizeof(dm));
	dm.conf_path = CONFIG_DEFAULT_PATH;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			dm.conf_path = optarg;
			break;
		case 'h':
			daemon_usage(stdout);
			return 0;
		default:
			daemon_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		daemon_usage(stderr);
		return 2;
	}
	config_defaults(&dm.cfg);
	if (config_load(&dm.cfg, dm.conf_path, stderr) != 0)
		return 1;
	log_init("spackle", true, true);
	if (geteuid() != 0) {
		log_err("spackle run needs root (CAP_NET_ADMIN) to steer and "
		        "divert packets");
		goto out;
	}
	if (steer_validate(&dm.cfg, err, sizeof(err)) != 0) {
		log_err("%s: %s", dm.conf_path, err);
		goto out;
	}
	drop = strcmp(dm.cfg.user, CONFIG_USER_ROOT) != 0;
	if (drop &&
	    priv_lookup(dm.cfg.user, &dm.uid, &dm.gid, err, sizeof(err)) != 0) {
		log_err("%s: %s", dm.conf_path, err);
		goto out;
	}
	dm.rules = daemon_load_rules(&dm.cfg, &diag);
	if (diag != NULL)
		fputs(diag, stderr);
	if (dm.rules == NULL) {
		log_err("%s: the rules have errors; nothing was changed",
		        dm.cfg.rules);
		goto out;
	}
	dm.ops = &divert_nfqueue_ops;
	dm.start_mono = sp_now_mono();
	dm.start_wall = sp_now_wall();
	pthread_mutex_init(&dm.call_mu, NULL);
	pthread_cond_init(&dm.call_cv, NULL);
	pthread_mutex_init(&dm.names_mu, NULL);
	if ((dm.names = names_new(SP_NAMES_DEFAULT)) == NULL)
		goto out;
	/* Flow mode counts a flow's packets in conntrack: accounting on (in
	 * this namespace), before the first flow. */
	if (dm.cfg.divert == CONFIG_DIVERT_FLOW && ct_enable_acct() < 0)
		log_warn("flow mode: cannot turn on conntrack accounting "
		         "(net.netfilter.nf_conntrack_acct): the counters of "
		         "flows passed by the kernel will stay at what crossed "
		         "the divert");
	{
		/* The store: one queue per worker and one for this thread. A
		 * store that cannot open is logged; the wall runs without. */
		struct store_config sc = {
		        .path = dm.cfg.db,
		        .max_size = dm.cfg.db_max_size,
		        .max_age_s = dm.cfg.db_max_age,
		        .flush_ms = dm.cfg.store_flush_ms,
		        .flush_records = dm.cfg.store_flush_records,
		        .queue_bytes = dm.cfg.store_queue,
		        .producers = dm.cfg.queues + 2,
		};

		/* `db = none`: no history is kept (benchmarks, tests). */
		if (strcmp(dm.cfg.db, CONFIG_DB_NONE) == 0)
			log_info("db = none: decisions are not stored");
		else if (store_open(&dm.store, &sc, err, sizeof(err)) != 0)
			log_err("store %s: %s; running without a store",
			        dm.cfg.db, err);
		dm.sp = store_producer(dm.store, dm.cfg.queues + 1);
		store_put_event(dm.sp, 0, STORE_EV_START, 0, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	if ((dm.base = event_base_new()) == NULL)
		goto out;
	{
		/* Attribution: the caches and the proc connector now (it may
		 * need CAP_SYS_ADMIN to reach the initial namespace). */
		struct proc_config pc = {
		        .timeout_ms = dm.cfg.attrib_timeout_ms,
		        .events = true,
		        .initial_scan = true,
		        .infer_exited = true,
		        .deferred = true,
		};

		if (proc_new(&dm.proc, &pc, err, sizeof(err)) != 0) {
			log_err("%s", err);
			goto out;
		}
	}
	if (drop && daemon_control_dir(&dm) != 0)
		goto out;
	dm.ctl = control_listen(dm.base, dm.cfg.control, daemon_commands,
	                        sizeof(daemon_commands) /
	                                sizeof(daemon_commands[0]),
	                        &dm, err, sizeof(err));
	if (dm.ctl == NULL) {
		log_err("control socket: %s", err);
		goto out;
	}
	if (dm.cfg.metrics[0] != '\0') {
		dm.metrics = metrics_listen(dm.base, dm.cfg.metrics,
		                            daemon_metrics_status, &dm, err,
		                            sizeof(err));
		if (dm.metrics == NULL) {
			log_err("metrics: %s", err);
			goto out;
		}
	}
	/*
	 * What needs root is done: the rest runs as `user`, with the data
	 * path's capabilities only. The threads started so far (the store's
	 * writer) keep no capability; those started from here inherit this
	 * thread's.
	 */
	if (drop) {
		if (priv_drop(dm.uid, dm.gid, err, sizeof(err)) != 0) {
			log_err("%s", err);
			goto out;
		}
		log_info("running as %s (uid %u): capabilities net_admin, "
		         "net_raw, sys_ptrace, dac_read_search, sys_nice",
		         dm.cfg.user, (unsigned)dm.uid);
	} else {
		log_warn("user = root: the daemon keeps every privilege");
	}
	/* Files written from here on are the user's. */
	if (declog_open(&dm.dlog, dm.cfg.log, dm.cfg.log_path, err,
	                sizeof(err)) != 0) {
		log_err("log: %s", err);
		goto out;
	}
	if (dm.cfg.capture_denied[0] != '\0') {
		dm.cap = capture_open(dm.cfg.capture_denied,
		                      dm.cfg.capture_max_size,
		                      dm.cfg.capture_keep, err, sizeof(err));
		if (dm.cap == NULL)
			log_err("capture_denied: %s; not capturing", err);
	}
	/* Attribution: its threads and first scan, as the user. */
	proc_start(dm.proc, err, sizeof(err));
	if (err[0] != '\0')
		log_warn("%s", err);
	/* Bind every queue before the kernel steers into them: the balanced
	 * ones, then the DNS queue. */
	dm.nw = dm.cfg.queues + 1;
	if ((dm.w = calloc(dm.nw, sizeof(*dm.w))) == NULL)
		goto out;
	for (i = 0; i < dm.nw; i++) {
		dm.w[i].dm = &dm;
		dm.w[i].idx = i;
		dm.w[i].queue = dm.cfg.queue_base + i;
		dm.w[i].call_pipe[0] = dm.w[i].call_pipe[1] = -1;
		dm.w[i].sp = store_producer(dm.store, i);
		if (worker_open(&dm, &dm.w[i]) != 0)
			goto out;
	}
	if (steer_apply(&dm.cfg, err, sizeof(err)) != 0) {
		log_err("steering: %s", err);
		goto out;
	}
	dm.steered = true;
	for (i = 0; i < dm.nw; i++) {
		if (pthread_create(&dm.w[i].th, NULL, worker_main, &dm.w[i]) !=
		    0) {
			log_err("cannot start worker %u", i);
			goto out;
		}
		dm.w[i].started = true;
	}
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(dm.base, signums[i], daemon_signal, &dm);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0)
			goto out;
	}
	daemon_drops_now(&dm, &dm.drops);
	dm.ev_tick = event_new(dm.base, -1, EV_PERSIST, daemon_tick, &dm);
	if (dm.ev_tick == NULL || event_add(dm.ev_tick, &one_s) != 0)
		goto out;
	log_info("running: %s mode, %u queue%s from %u and DNS queue %u, "
	         "default %s, failure %s, %zu rules from %s, control %s",
	         dm.cfg.mode == CONFIG_MODE_MONITOR ? "monitor" : "enforce",
	         dm.cfg.queues, dm.cfg.queues == 1 ? "" : "s",
	         dm.cfg.queue_base, STEER_DNS_QUEUE(&dm.cfg),
	         sp_verdict_name(dm.cfg.dflt),
	         dm.cfg.failure == CONFIG_FAILURE_OPEN ? "open" : "closed",
	         rules_count(dm.rules), dm.cfg.rules, dm.cfg.control);
	/* Ready (Type=notify): the steering is in place and every queue is
	 * served, so what the unit orders after spackle is filtered. */
	{
		uint64_t usec;

		dm.watchdog = sd_watchdog_enabled(0, &usec) > 0;
		sd_notifyf(0,
		           "READY=1\nMAINPID=%lu\nSTATUS=%s mode, %s divert, "
		           "%zu rules",
		           (unsigned long)getpid(),
		           dm.cfg.mode == CONFIG_MODE_MONITOR ? "monitor"
		                                              : "enforce",
		           dm.cfg.divert == CONFIG_DIVERT_FLOW ? "flow"
		                                               : "packet",
		           rules_count(dm.rules));
	}
	event_base_dispatch(dm.base);
	rc = 0;
out:
	/* Steering goes first, so nothing waits on a queue that is closing. */
	if (dm.steered) {
		int r = steer_remove(&dm.cfg, err, sizeof(err));

		if (r < 0) {
			log_err("removing steering: %s", err);
			rc = 1;
		} else if (r > 0) {
			log_warn("steering had been changed by someone else; "
			         "removed what was left of it");
		}
	}
	for (i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (dm.ev_tick != NULL)
		event_free(dm.ev_tick);
	free(dm.tamper_seen);
	if (dm.w != NULL)
		for (i = 0; i < dm.nw; i++)
			worker_close(&dm, &dm.w[i]);
	free(dm.w);
	/* The workers are gone: nothing puts any more. */
	store_put_event(dm.sp, 0, STORE_EV_STOP, 0, NULL);
	store_close(dm.store);
	capture_close(dm.cap);
	declog_close(dm.dlog);
	metrics_close(dm.metrics);
	json_decref(dm.last_audit);
	control_close(dm.ctl);
	if (dm.base != NULL)
		event_base_free(dm.base);
	rules_free(dm.rules);
	names_free(dm.names);
	proc_free(dm.proc);
	free(diag);
	if (rc == 0)
		log_info("stopped; steering removed");
	log_close();
	return rc;
}

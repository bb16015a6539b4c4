/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A worker: one divert queue on its own thread -- bursts classified and
 * answered, flows attributed, swept to the store, and calls from the main
 * thread run between bursts. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/peer_reset.h"
#include "spackle/steer.h" /* STEER_DNS_QUEUE: the queue DNS crosses */

/* How often a worker looks at its queue with no packet and no exit to
 * wake it (worker_drain_tick). */
#define DAEMON_DRAIN_TICK_US 250000
#define DAEMON_DISPATCH_MAX  64 /* packets handled per dispatch call */
/* Flow slots the store's sweep visits before the queue's next turn: at
 * most some 100 us of work when every slot holds a live flow. */
#define DAEMON_SWEEP_SLICE 512

static enum classify_hook
worker_hook(int hook)
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

/* What the verdict policy said of one packet, counted and kept. */
static void
worker_decided(struct worker *w, const struct divert_packet *dp,
               const struct classify_input *in,
               const struct classify_result *res, const struct verdict_out *vo)
{
	struct daemon *dm = w->dm;
	uint64_t held;

	if (vo->malformed) {
		w->st.malformed++;
		if (res->status != PACKET_OK &&
		    log_limit_ok(&w->bad_limit, sp_now_mono(), &held))
			log_warn("queue %u: %s packet of %zu bytes, %s by "
			         "default (%llu more not logged)",
			         w->queue, packet_status_name(res->status),
			         dp->wirelen, sp_verdict_name(vo->decided),
			         (unsigned long long)held);
	}
	if (w->pol.monitor) {
		if (vo->decided == SP_VERDICT_DENY)
			w->st.monitor_would_deny++;
		else if (vo->decided == SP_VERDICT_REJECT)
			w->st.monitor_would_reject++;
	}
	/* Every decision is kept: the store writes a flow record when the
	 * flow is decided, while it lives, and when it ends; past the budget
	 * of incomplete flows, when it completes (incomplete.h). */
	if (res->flow != NULL &&
	    (res->new_flow ? incomplete_admit(w->inc, res->flow)
	                   : incomplete_progress(w->inc, res->flow)))
		store_put_flow_entry(
		        w->sp, res->flow, classify_flow_host(w->cls, res->flow),
		        classify_flow_exe(w->cls, res->flow), w->rules, 0, 0);
	/* The decision log: once, when the flow is decided (a held flow at
	 * its payload, a deferred one when it completes). */
	if (dm->dlog != NULL && res->flow != NULL &&
	    !(res->flow->flags &
	      (FLOW_F_NAME_WAIT | FLOW_F_LOGGED | FLOW_F_DEFERRED))) {
		res->flow->flags |= FLOW_F_LOGGED;
		worker_log_decision(w, res->flow, "decision");
	}
	if (dm->cap != NULL && vo->capture)
		worker_capture(w, dp, in->ts_ns);
	if (vo->verdict == SP_VERDICT_ALLOW)
		w->st.accepted++;
	else if (vo->verdict == SP_VERDICT_DENY)
		w->st.dropped++;
	else
		w->st.rejected++;
}

/* A held flow denied on its payload: its server's end too (peer_reset.h). */
static void
worker_reset_peer(struct worker *w, const struct divert_packet *p)
{
	char err[256];
	uint64_t held;

	if (w->reset != NULL && peer_reset_send(w->reset, p->data, p->caplen,
	                                        err, sizeof(err)) == 0) {
		w->st.peer_resets++;
		return;
	}
	if (w->reset != NULL &&
	    log_limit_ok(&w->bad_limit, sp_now_mono(), &held))
		log_warn("queue %u: %s (%llu more not logged)", w->queue, err,
		         (unsigned long long)held);
}

/*
 * What one read of the queue brought: classified as a burst (the flow
 * table's cache misses overlap), each packet's verdict from the policy,
 * and all of them answered in one batch.
 */
static void
worker_burst(const struct divert_packet *dp, size_t n, void *arg)
{
	struct worker *w = arg;
	struct classify_input in[CLASSIFY_BURST];
	struct classify_result res[CLASSIFY_BURST];
	struct divert_verdict vv[CLASSIFY_BURST];
	struct verdict_out vo;
	uint64_t held;
	size_t i, k, m;

	w->st.bursts++;
	if (w->ct != NULL)
		worker_ct_before(w, dp, n);
	for (i = 0; i < n; i += m) {
		m = n - i < CLASSIFY_BURST ? n - i : CLASSIFY_BURST;
		for (k = 0; k < m; k++) {
			const struct divert_packet *p = &dp[i + k];

			in[k].p = p->data;
			in[k].len = p->caplen;
			in[k].wirelen = p->wirelen;
			in[k].ts_ns = p->ts_ns ? p->ts_ns : sp_now_wall();
			in[k].uid_hint = p->uid;
			in[k].gid_hint = p->gid;
			in[k].link = PACKET_LINK_RAW;
			in[k].hook = worker_hook(p->hook);
		}
		classify_burst(w->cls, in, m, res);
		for (k = 0; k < m; k++) {
			verdict_decide(&w->pol, &res[k], dp[i + k].data,
			               dp[i + k].caplen, &vo);
			worker_decided(w, &dp[i + k], &in[k], &res[k], &vo);
			vv[k].id = dp[i + k].id;
			vv[k].v = vo.verdict;
			vv[k].mark = vo.mark;
		}
		w->st.received += m;
		if (w->dm->ops->verdict_batch(w->d, vv, m) != 0) {
			w->st.verdict_errors++;
			if (log_limit_ok(&w->bad_limit, sp_now_mono(), &held))
				log_warn("queue %u: %s (%llu more not logged)",
				         w->queue, w->dm->ops->error(w->d),
				         (unsigned long long)held);
		}
		for (k = 0; k < m; k++)
			if (res[k].reset_peer && !w->pol.monitor)
				worker_reset_peer(w, &dp[i + k]);
	}
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
		                         worker_burst, w);
	} while (n == DAEMON_DISPATCH_MAX);
	if (n < 0) {
		log_warn("queue %u: %s", w->queue, w->dm->ops->error(w->d));
		return;
	}
	w->empty_ns = t;
	/* The queue is empty: a moment to map the pages the next flows'
	 * entries and records will take, which a packet would otherwise
	 * wait for a fault at a time (struct sp_ahead). */
	(void)classify_ahead(w->cls);
	(void)store_producer_ahead(w->sp);
}

static void
worker_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_drain(arg);
}

/*
 * When the queue was last seen empty bounds when a packet read later was
 * sent, and so which exited processes may have sent it. A process's exit
 * wakes the workers to read their queues at once (worker_kick), so a
 * packet read after that was sent after the exit; this tick is the
 * safety net, and wakes an idle worker four times a second.
 */
static void
worker_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = {0, DAEMON_DRAIN_TICK_US};

	(void)fd;
	(void)what;
	worker_drain(w);
	event_add(w->ev_drain, &tv);
}

static void
worker_kicked(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t n;

	(void)what;
	/* Read, then cleared, then the drain: a kick before the clear is
	 * covered by this drain (its exit was read before it), one after it
	 * writes again and wakes this thread once more. Cleared first, a
	 * kick between the clear and the read would leave the flag set with
	 * nothing to read, and no exit would wake the worker again. */
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing pending; the drain is right either way. */
	}
	atomic_store(&w->kicked, false);
	worker_drain(w);
}

void
worker_kick(struct worker *w)
{
	uint64_t one = 1;

	if (w->kick_fd < 0 || atomic_exchange(&w->kicked, true))
		return;
	if (write(w->kick_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the worker wakes anyway. */
	}
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
daemon_owner(const struct flow *f, const struct classify_input *in,
             struct classify_owner *out, void *arg)
{
	struct worker *w = arg;
	struct proc_owner *po = w->po;
	const struct sp_addr *a;
	struct proc_flow fl;
	uint16_t port;

	/* A forwarded packet has no socket of this host. */
	if (w->pq == NULL || in->hook == CLASSIFY_HOOK_FORWARD)
		return false;
	memset(&fl, 0, sizeof(fl));
	fl.proto = f->key.proto;
	flow_local(f, &a, &port);
	fl.local = *a;
	fl.lport = port;
	flow_remote(f, &a, &port);
	fl.remote = *a;
	fl.rport = port;
	fl.uid_hint = in->uid_hint;
	fl.gid_hint = in->gid_hint;
	/* Only a packet this host sent can have a sender that exited. */
	fl.sent_after_ns = in->hook == CLASSIFY_HOOK_OUT ? w->empty_ns : 0;
	fl.inbound = in->hook == CLASSIFY_HOOK_IN;
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
};

static void
worker_sweep_one(struct flow *f, void *arg)
{
	struct sweep_ctx *x = arg;
	bool due = incomplete_progress(x->w->inc, f);

	/* In flow mode conntrack's counters say a flow completed. */
	if (due && x->w->dm->dlog != NULL && !(f->flags & FLOW_F_LOGGED)) {
		f->flags |= FLOW_F_LOGGED;
		worker_log_decision(x->w, f, "decision");
	}
	if (!due &&
	    (f->verdict == SP_VERDICT_NONE || (f->flags & FLOW_F_DEFERRED) ||
	     !store_flow_due(f, x->tick, x->now)))
		return;
	store_put_flow_entry(x->w->sp, f, classify_flow_host(x->w->cls, f),
	                     classify_flow_exe(x->w->cls, f), x->w->rules, 0,
	                     due ? 0 : STORE_PUT_RETRY);
}

/*
 * A slice of the store's sweep, then the next one after the queue had its
 * turn: a timer that is due at once fires only after the loop has looked
 * at the queue (an event made active from its own callback would run
 * again before that). A whole table at once held packets for
 * milliseconds a second once it held thousands of flows.
 */
static void
worker_sweep_slice(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = {0, 0};
	struct worker *w = arg;
	struct sweep_ctx x = {w, w->sweep_tick, sp_now_wall()};

	(void)fd;
	(void)what;
	w->sweep_at = flow_walk(classify_flows(w->cls), w->sweep_at,
	                        DAEMON_SWEEP_SLICE, worker_sweep_one, &x);
	if (w->sweep_at != 0)
		event_add(w->ev_sweep, &now);
}

/* A minute's aggregate of incomplete flows, into the store. */
static void
worker_put_aggregate(const struct store_flow *r, void *arg)
{
	struct worker *w = arg;

	store_put_flow(w->sp, r, w->ticks == UINT64_MAX ? STORE_PUT_RETRY : 0);
}

static void
worker_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t now = sp_now_wall();

	(void)fd;
	(void)what;
	w->ticks++;
	atomic_store(&w->beat_ns, sp_now_mono());
	classify_expire(w->cls, now);
	incomplete_tick(w->inc, now, false, worker_put_aggregate, w);
	/*
	 * A tenth of the live flows a second: counters reach the store
	 * about every ten seconds while a flow lives (in flow mode, as the
	 * main thread's last conntrack dump brought them). One sweep a
	 * tick, in slices; a sweep still going when the next tick comes
	 * (a table too big for a second) goes on instead.
	 */
	if (w->sp != NULL && !event_pending(w->ev_sweep, EV_TIMEOUT, NULL)) {
		w->sweep_tick = w->ticks;
		w->sweep_at = 0;
		worker_sweep_slice(-1, EV_TIMEOUT, w);
	}
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

/* A flow leaves the table (expiry, eviction, shutdown): its final record,
 * or its share of an aggregate (incomplete.h). */
static void
worker_flow_ended(const struct flow *f, void *arg)
{
	struct worker *w = arg;
	struct store_flow r;
	char rule[SP_PATH_MAX + 16];
	int rc;
	bool stopping = w->ticks == UINT64_MAX && w->dm->store != NULL;

	if (f->verdict == SP_VERDICT_NONE) {
		incomplete_forget(w->inc, f);
		return;
	}
	store_flow_from_entry(&r, f, classify_flow_host(w->cls, f),
	                      classify_flow_exe(w->cls, f), w->rules, rule,
	                      sizeof(rule));
	r.flags |= STORE_FLOW_ENDED;
	if (!incomplete_end(w->inc, f, &r))
		return;
	/*
	 * At shutdown every flow ends at once and may fill the hand-over:
	 * then the writer catches up and the record goes again. The first
	 * try is a retry's, so a record that then gets through is not
	 * counted lost (it made "drops" events at every stop).
	 */
	rc = store_put_flow(w->sp, &r, stopping ? STORE_PUT_RETRY : 0);
	if (rc == -ENOBUFS && stopping) {
		store_sync(w->dm->store);
		store_put_flow(w->sp, &r, 0);
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

void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	sigset_t all;

	/* Signals are the main thread's. Named for its queue, as top -H and
	 * ps -L show it. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	snprintf(name, sizeof(name), "spackle-q%u", w->queue);
	pthread_setname_np(pthread_self(), name);
	event_base_dispatch(w->base);
	return NULL;
}

/* Run fn on w's thread and wait for it (or run it here when w has none). */
void
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
	incomplete_tick(w->inc, sp_now_wall(), true, worker_put_aggregate, w);
	event_base_loopbreak(w->base);
}

void
worker_get_divert_stats(struct worker *w, void *arg)
{
	struct divert_stats *sum = arg, ds;

	if (w->d == NULL || w->dm->ops->stats == NULL)
		return;
	memset(&ds, 0, sizeof(ds));
	w->dm->ops->stats(w->d, &ds);
	sum->received += ds.received;
	sum->accepted += ds.accepted;
	sum->dropped += ds.dropped;
	sum->rejected += ds.rejected;
	sum->enobufs += ds.enobufs;
	sum->verdict_errors += ds.verdict_errors;
	sum->malformed += ds.malformed;
	sum->requeued += ds.requeued;
	sum->unanswered += ds.unanswered;
	sum->gso += ds.gso;
	sum->segments += ds.segments;
	sum->gso_in_extra += ds.gso_in_extra;
}

void
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
	t->st.bursts += w->st.bursts;
	t->st.capture_lost += w->st.capture_lost;
	t->st.ct_ended += w->st.ct_ended;
	t->st.ct_events += w->st.ct_events;
	t->st.ct_early += w->st.ct_early;
	t->st.peer_resets += w->st.peer_resets;
	t->st.ct_lost += w->ct != NULL ? ct_lost(w->ct) : 0;
	worker_get_divert_stats(w, &t->ds);
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
	t->strings_refused += cs.strings_refused;
	{
		struct classify_memory m;

		classify_memory(w->cls, &m);
		t->mem.tables += m.tables;
		t->mem.carried += m.carried;
		t->mem.carried_bytes += m.carried_bytes;
		t->mem.strings += m.strings;
		t->mem.strings_bytes += m.strings_bytes;
		t->mem.flows_cap += m.flows_cap;
	}
	{
		struct incomplete_stats is;

		incomplete_stats(w->inc, &is);
		t->inc.pending += is.pending;
		t->inc.ended += is.ended;
		t->inc.deferred += is.deferred;
		t->inc.promoted += is.promoted;
		t->inc.folded += is.folded;
		t->inc.unkept += is.unkept;
		t->inc.aggregates += is.aggregates;
		t->inc.keys += is.keys;
	}
}

struct conns_ctx {
	struct worker *w;
	json_t *arr;
};

static void
conns_one(struct flow *f, void *arg)
{
	struct conns_ctx *x = arg;
	json_t *o = worker_flow_json(x->w, f);

	if (o != NULL)
		json_array_append_new(x->arr, o);
}

void
worker_get_conns(struct worker *w, void *arg)
{
	struct conns_ctx x = {w, arg};

	flow_foreach(classify_flows(w->cls), conns_one, &x);
}

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

void
worker_swap_rules(struct worker *w, void *arg)
{
	struct worker_swap *s = arg;

	classify_set_rules(w->cls, s->rules, s->dflt);
	w->rules = s->rules;
	w->pol.dflt = s->dflt;
	s->changed += classify_redecide(w->cls, sp_now_wall(),
	                                w->sp != NULL || w->ct != NULL ||
	                                                w->dm->dlog != NULL
	                                        ? worker_flow_redecided
	                                        : NULL,
	                                w);
}

/*
 * Open the worker's divert point: its queue, or its queue of the tunnel.
 * Done before the daemon drops root, which /dev/net/tun may need (0600 on
 * some systems); the descriptor stays open after. 0, or -1 logged.
 */
int
worker_open_divert(struct daemon *dm, struct worker *w)
{
	char err[512];

	/* A tunnel queue per worker: the kernel spreads flows over them by
	 * their hash, both directions alike. */
	if (dm->cfg.backend == CONFIG_BACKEND_TUN)
#ifdef __OpenBSD__
		/* OpenBSD: the divert(4) port of pf's divert-packet rules.
		 * One socket binds it: the first worker reads, the rest
		 * fail to open (run with queues = 1; not yet run there). */
		snprintf(w->spec, sizeof(w->spec), "%u", dm->cfg.queue_base);
#else
		snprintf(w->spec, sizeof(w->spec), "%s", dm->cfg.tun_name);
#endif
	/* Headers and a first payload's names; DNS is read whole. */
	else
		snprintf(w->spec, sizeof(w->spec), "%u,failure=%s,copy=%u",
		         w->queue,
		         dm->cfg.failure == CONFIG_FAILURE_OPEN ? "open"
		                                                : "closed",
		         w->queue == STEER_DNS_QUEUE(&dm->cfg)
		                 ? 65535u
		                 : DAEMON_COPY_BALANCED);
	if (dm->ops->open(&w->d, w->spec, err, sizeof(err)) != 0) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

int
worker_open(struct daemon *dm, struct worker *w)
{
	struct classify_config cc;
	char err[512];

	memset(&cc, 0, sizeof(cc));
	cc.rules = dm->rules;
	cc.dflt = dm->cfg.dflt;
	cc.shared_names = dm->names;
	cc.names_lock = &dm->names_mu;
	cc.ended = worker_flow_ended;
	cc.ended_arg = w;
	/* What memory_max leaves the flow table (run.c). */
	cc.flows.max_flows = dm->mem.flows;
	cc.strings_max = dm->mem.strings;
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
	/* Held flows denied on their payload: their servers' ends too. */
	if ((w->reset = peer_reset_open(err, sizeof(err))) == NULL)
		log_warn("queue %u: %s; a denied held flow's server keeps its "
		         "end open",
		         w->queue, err);
	w->rules = dm->rules;
	w->pol.dflt = dm->cfg.dflt;
	w->pol.monitor = dm->cfg.mode == CONFIG_MODE_MONITOR;
	w->pol.flow_marks = dm->cfg.divert == CONFIG_DIVERT_FLOW &&
	                    dm->ops->verdict_mark != NULL;
	if (w->sp != NULL && dm->cfg.incomplete_budget > 0 &&
	    (w->inc = incomplete_new(dm->cfg.incomplete_budget)) == NULL) {
		log_err("queue %u: out of memory", w->queue);
		return -1;
	}
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
	if ((w->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		log_err("eventfd: %s", strerror(errno));
		return -1;
	}
	w->ev_kick = event_new(w->base, w->kick_fd, EV_READ | EV_PERSIST,
	                       worker_kicked, w);
	w->ev_tick = event_new(w->base, -1, EV_PERSIST, worker_tick, w);
	w->ev_drain = event_new(w->base, -1, 0, worker_drain_tick, w);
	w->ev_sweep = event_new(w->base, -1, 0, worker_sweep_slice, w);
	if (w->ev_read == NULL || w->ev_call == NULL || w->ev_tick == NULL ||
	    w->ev_drain == NULL || w->ev_sweep == NULL || w->ev_kick == NULL)
		return -1;
	if (w->ct != NULL &&
	    ((w->ev_ct = event_new(w->base, ct_fd(w->ct), EV_READ,
	                           worker_ct_readable, w)) == NULL ||
	     (w->ev_ct_rest = event_new(w->base, -1, 0, worker_ct_listen, w)) ==
	             NULL ||
	     (w->ev_ct_sync = event_new(w->base, -1, 0, worker_ct_sync_slice,
	                                w)) == NULL ||
	     event_add(w->ev_ct, NULL) != 0))
		return -1;
	{
		struct timeval one = {1, 0};
		struct timeval drain = {0, DAEMON_DRAIN_TICK_US};

		atomic_store(&w->beat_ns, sp_now_mono());
		event_add(w->ev_read, NULL);
		event_add(w->ev_call, NULL);
		event_add(w->ev_kick, NULL);
		event_add(w->ev_tick, &one);
		event_add(w->ev_drain, &drain);
	}
	return 0;
}

void
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
	if (w->ev_kick)
		event_free(w->ev_kick);
	if (w->ev_sweep)
		event_free(w->ev_sweep);
	if (w->ev_ct)
		event_free(w->ev_ct);
	if (w->ev_ct_rest)
		event_free(w->ev_ct_rest);
	if (w->ev_ct_sync)
		event_free(w->ev_ct_sync);
	ct_table_free(w->sync_t);
	w->sync_t = NULL;
	ct_close(w->ct);
	peer_reset_close(w->reset);
	if (w->base)
		event_base_free(w->base);
	if (w->call_pipe[0] > 0) {
		close(w->call_pipe[0]);
		close(w->call_pipe[1]);
	}
	if (w->kick_fd >= 0)
		close(w->kick_fd);
	w->kick_fd = -1;
	classify_free(w->cls);
	incomplete_free(w->inc);
	proc_query_free(w->pq);
	free(w->po);
	if (w->d != NULL)
		dm->ops->close(w->d);
}

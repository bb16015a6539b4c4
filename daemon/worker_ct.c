/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Flow mode's conntrack glue on a worker: destroy events end flows, the
 * main thread's dumps bring their counters, a reload rewrites their marks. */
#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "spackle/mark.h"
#include "spackle/packet.h"
#include "spackle/steer_text.h"

/*
 * Flow mode: after reading conntrack's destroy events a worker waits this
 * long before it listens again, so at a high connection rate the 8 MiB
 * socket buffer (CT_RCVBUF) gathers them into one read rather than each
 * waking the worker. A flow ends at most this much later. (Each worker's
 * socket gets its own flows' events, worker_ct_split(), where the
 * steering allows it; otherwise every worker gets every event.)
 */
#define DAEMON_CT_REST_US 10000
/*
 * Datagrams (one event each) read before the worker looks at its queue
 * again. A read of everything that gathered in a rest took up to 4.5 ms
 * under the connection benchmark's leftovers (2026-12-05), long enough
 * for every connect arriving meanwhile to wait it out: flow mode's
 * connect p99 was twice packet mode's. 32 events take about 150 us.
 */
#define DAEMON_CT_EVENTS_BATCH 32
/* Datagrams read at most before a burst with a SYN (worker_ct_before). */
#define DAEMON_CT_CATCH_UP 1024

void
worker_ct_key(const struct flow *f, struct ct_key *k)
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
 * Conntrack counted every packet, the ones the kernel passed by mark too:
 * take its counters where they are ahead of spackle's own; a flow that
 * moved is not idle.
 */
void
worker_ct_apply(struct flow *f, const struct ct_entry *e, int dir,
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
	worker_ct_apply(f, e, dir, sp_now_wall());
	w->st.ct_ended++;
	classify_end(w->cls, f);
}

/* Read up to max datagrams of destroy events; how many events, counted. */
static int
worker_ct_read(struct worker *w, unsigned max)
{
	uint64_t held;
	int n;

	n = ct_read_events(w->ct, max, worker_ct_destroyed, w);
	if (n > 0)
		w->st.ct_events += (uint64_t)n;
	else if (n < 0 && log_limit_ok(&w->bad_limit, sp_now_mono(), &held))
		log_warn("queue %u: conntrack events: %s", w->queue,
		         ct_error(w->ct));
	if (ct_lost(w->ct) != w->ct_lost_seen) {
		w->ct_lost_seen = ct_lost(w->ct);
		atomic_store(&w->dm->ct_events_lost, true);
	}
	return n;
}

void
worker_ct_readable(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	const struct timeval rest = {0, DAEMON_CT_REST_US};

	(void)fd;
	(void)what;
	worker_ct_read(w, DAEMON_CT_EVENTS_BATCH);
	/* More waiting: on with them once the queue had its turn. */
	if (ct_events_more(w->ct))
		event_active(w->ev_ct_rest, EV_TIMEOUT, 0);
	else
		event_add(w->ev_ct_rest, &rest);
}

/* Is p (an IP packet) a TCP SYN without ACK? An IPv6 SYN behind
 * extension headers is not looked for: its reopened entry's event may
 * come after it, as before. */
static bool
worker_is_syn(const struct divert_packet *p)
{
	const uint8_t *d = p->data;
	size_t l4;

	if (p->caplen < 20)
		return false;
	if (d[0] >> 4 == 4) {
		l4 = (size_t)(d[0] & 15) * 4;
		if (d[9] != 6 || ((d[6] & 0x1f) | d[7]) != 0)
			return false;
	} else if (d[0] >> 4 == 6 && p->caplen >= 40 && d[6] == 6) {
		l4 = 40;
	} else {
		return false;
	}
	return p->caplen > l4 + 13 && (d[l4 + 13] & 0x12) == 0x02;
}

/* Do the addresses and ports of p (a SYN) meet a live flow of this
 * worker's? True when p does not parse: the events are read, as before. */
static bool
worker_syn_meets_flow(struct worker *w, const struct divert_packet *p)
{
	struct packet pk;
	int dir;

	if (packet_parse_ip(p->data, p->caplen, &pk) != PACKET_OK)
		return true;
	return classify_find(w->cls, pk.proto, &pk.src, pk.sport, &pk.dst,
	                     pk.dport, &dir) != NULL;
}

/*
 * Flow mode sees a connection's first packets only, so a flow stays live
 * for the daemon until its conntrack entry ends. A SYN on ports whose
 * entry is closed (TIME_WAIT, CLOSE) makes the kernel end that entry,
 * which sends its destroy event, and open a new one, whose SYN is queued
 * after: classified before that event was read, the SYN met the old flow
 * and took its verdict, so another program's connection on the same
 * ports passed as the first program's. So before a burst that holds a
 * SYN on the addresses and ports of a live flow, the events already sent
 * are read: the old flow ends first and the SYN opens a flow of its own.
 * A SYN that meets no flow opens one whatever events wait, and they are
 * left to their own turn after the rest, where a read before every SYN
 * mostly found nothing (bench/divert.md, session 20).
 * Bounded (DAEMON_CT_CATCH_UP): behind a longer backlog (a flush of the
 * table) a SYN's event may still come after it.
 */
void
worker_ct_before(struct worker *w, const struct divert_packet *dp, size_t n)
{
	size_t i;
	int k;

	for (i = 0; i < n; i++)
		if (worker_is_syn(&dp[i]) && worker_syn_meets_flow(w, &dp[i]))
			break;
	if (i == n)
		return;
	if ((k = worker_ct_read(w, DAEMON_CT_CATCH_UP)) > 0)
		w->st.ct_early += (uint64_t)k;
}

/*
 * Give the worker's conntrack socket the events of its own flows alone:
 * the flows whose packets the steering's split sends to its queue, or, on
 * the DNS queue, DNS flows (pfconf/queue_split.c). Without it every
 * worker wakes for every flow's end. Only when the iptables steering's
 * split decides the queue: nft's symhash is the kernel's own hash. A
 * kernel that refuses the filter leaves every event to every worker, as
 * before.
 */
void
worker_ct_split(struct worker *w)
{
	const struct config *c = &w->dm->cfg;
	struct sock_filter prog[STEER_CT_FILTER_MAX];
	unsigned which = w->idx < c->queues ? w->idx : STEER_CT_DNS;
	int n;

	if (w->ct == NULL || c->firewall == CONFIG_FIREWALL_NFT ||
	    (which != STEER_CT_DNS && c->queues < 2))
		return;
	n = steer_ct_event_filter(c->queues, which, prog, STEER_CT_FILTER_MAX);
	if (n < 0 || ct_filter_events(w->ct, prog, (size_t)n) != 0) {
		log_warn("queue %u: conntrack events: %s; every flow's end "
		         "wakes this worker",
		         w->queue,
		         n < 0 ? "no event filter for this split"
		               : ct_error(w->ct));
		return;
	}
	w->ct_split = true;
}

/* The rest after a read is over: listen for destroy events again. */
void
worker_ct_listen(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	event_add(w->ev_ct, NULL);
}

/* The conntrack mark bits of a verdict (flow mode). */
static uint32_t
worker_ct_mark(enum sp_verdict v)
{
	return v == SP_VERDICT_DENY     ? STEER_MARK_DENY
	       : v == SP_VERDICT_REJECT ? STEER_MARK_REJECT
	                                : STEER_MARK_ACCEPT;
}

/* Flow mode: a live flow decided otherwise gets its new verdict in its
 * conntrack mark at once (spackle's bits only), so the kernel's fast path
 * acts on it from its next packet. */
void
worker_ct_remark(struct worker *w, struct flow *f)
{
	struct ct_key k;
	uint64_t held;
	int rc;

	worker_ct_key(f, &k);
	rc = ct_set_mark(w->ct, &k, worker_ct_mark((enum sp_verdict)f->verdict),
	                 STEER_MARK_MASK);
	if (rc != 0 && rc != -ENOENT &&
	    log_limit_ok(&w->bad_limit, sp_now_mono(), &held))
		log_warn("queue %u: conntrack mark of flow %llu: %s", w->queue,
		         (unsigned long long)f->id, ct_error(w->ct));
}

/*
 * Flows a worker syncs from a dump in one turn of its loop: about half a
 * millisecond. A SYN flood leaves some 150,000 flows a worker; synced in
 * one go they held it 50 ms, and every connect arriving meanwhile waited
 * that long (2026-12-05, 20,000 SYNs/s in flow mode).
 */
#define DAEMON_CT_SYNC_SLICE 2048

struct ct_sync_ctx {
	struct worker *w;
	const struct ct_table *t;
	uint64_t now;
};

/* One flow against the dump: its counters, or its end when its entry is
 * gone (its destroy event lost). */
static void
worker_ct_sync_one(struct flow *f, void *arg)
{
	struct ct_sync_ctx *x = arg;
	const struct ct_entry *e;
	struct ct_key k;
	int dir;

	if (f->verdict == SP_VERDICT_NONE)
		return;
	worker_ct_key(f, &k);
	if ((e = ct_table_find(x->t, &k, &dir)) != NULL) {
		worker_ct_apply(f, e, dir, x->now);
		return;
	}
	/* One that began less than a second before the dump (or after it)
	 * may not have an entry in it yet; a dump cut at its most
	 * (memory_max) may have left its entry out. */
	if (ct_table_taken(x->t) <= f->first_ns + NS_PER_S ||
	    ct_table_partial(x->t))
		return;
	x->w->st.ct_ended++;
	classify_end(x->w->cls, f);
}

/* The dump at once, every flow (`conns`: its answer follows). */
void
worker_ct_sync(struct worker *w, void *arg)
{
	struct ct_sync_ctx x = {w, arg, sp_now_wall()};
	uint32_t at = 0;

	if (w->cls == NULL || x.t == NULL)
		return;
	do
		at = flow_walk(classify_flows(w->cls), at, UINT32_MAX,
		               worker_ct_sync_one, &x);
	while (at != 0);
}

/* A slice of the sync begun by worker_ct_sync_start(), then the next one
 * after the queue had its turn. */
void
worker_ct_sync_slice(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = {0, 0};
	struct worker *w = arg;
	struct ct_sync_ctx x = {w, w->sync_t, sp_now_wall()};

	(void)fd;
	(void)what;
	if (x.t == NULL)
		return;
	w->sync_at = flow_walk(classify_flows(w->cls), w->sync_at,
	                       DAEMON_CT_SYNC_SLICE, worker_ct_sync_one, &x);
	if (w->sync_at != 0) {
		/* Due at once, so it fires after the loop looked at the
		 * queue (an event made active here would run first). */
		event_add(w->ev_ct_sync, &now);
		return;
	}
	ct_table_free(w->sync_t);
	w->sync_t = NULL;
}

/* The dump in slices, from the worker's own loop: it takes a reference to
 * the table and returns at once. A sync not done yet gives way to it. */
void
worker_ct_sync_start(struct worker *w, void *arg)
{
	struct ct_table *t = arg;

	if (w->cls == NULL || t == NULL || w->ev_ct_sync == NULL)
		return;
	ct_table_hold(t);
	ct_table_free(w->sync_t);
	w->sync_t = t;
	w->sync_at = 0;
	event_del(w->ev_ct_sync);
	event_active(w->ev_ct_sync, EV_TIMEOUT, 0);
}

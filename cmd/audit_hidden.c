/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spackle audit --watch: the flows the wire saw and the divert did not,
 * each with the process behind it and the probable cause.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd/audit.h"
#include "spackle/config.h"
#include "spackle/control.h"
#include "spackle/fwread.h"
#include "spackle/proc.h"
#include "spackle/spackle.h"
#include "spackle/store.h"

/* ---- the divert: flows spackle saw -------------------------------------- */

/* Flows that crossed the divert: the daemon's live ones and the store's
 * that were seen since `since` (wall ns). */
struct dflow {
	uint8_t proto;
	struct sp_addr local, remote;
	uint16_t lport, rport;
	uint64_t pkts[2];
};

struct divert_seen {
	struct dflow *v;
	size_t n, cap;
	uint64_t since_ns;
};

static void
seen_add(struct divert_seen *s, uint8_t proto, const struct sp_addr *l,
         uint16_t lp, const struct sp_addr *r, uint16_t rp, uint64_t out,
         uint64_t in)
{
	struct dflow *d;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct dflow *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return;
		s->v = v;
		s->cap = cap;
	}
	d = &s->v[s->n++];
	d->proto = proto;
	d->local = *l;
	d->remote = *r;
	d->lport = lp;
	d->rport = rp;
	d->pkts[0] = out;
	d->pkts[1] = in;
}

/* A flow's protocol as conns and the store print it: a name or a number. */
static uint8_t
proto_number(const char *name)
{
	int num = sp_proto_number(name, true);

	if (name == NULL)
		return 0;
	return num >= 0 ? (uint8_t)num : (uint8_t)strtoul(name, NULL, 10);
}

static void
seen_from_conns(struct divert_seen *s, const json_t *arr)
{
	struct sp_addr l, r;
	const json_t *o;
	size_t i;

	json_array_foreach(arr, i, o)
	{
		const char *src = json_string_value(json_object_get(o, "src"));
		const char *dst = json_string_value(json_object_get(o, "dst"));

		if (src == NULL || dst == NULL || !sp_addr_parse(&l, src) ||
		    !sp_addr_parse(&r, dst))
			continue;
		seen_add(s,
		         proto_number(json_string_value(
		                 json_object_get(o, "proto"))),
		         &l,
		         (uint16_t)json_integer_value(
		                 json_object_get(o, "sport")),
		         &r,
		         (uint16_t)json_integer_value(
		                 json_object_get(o, "dport")),
		         (uint64_t)json_integer_value(
		                 json_object_get(o, "packets_out")),
		         (uint64_t)json_integer_value(
		                 json_object_get(o, "packets_in")));
	}
}

static int
seen_store_one(const struct store_flow *r, void *arg)
{
	struct divert_seen *s = arg;

	/* A hidden flow an earlier audit reported never crossed. */
	if (r->last_ns >= s->since_ns && !(r->flags & STORE_FLOW_HIDDEN))
		seen_add(s, r->proto, &r->local, r->local_port, &r->remote,
		         r->remote_port, r->packets_out, r->packets_in);
	return 0;
}

/* The order of divert flows by their tuple, for seen_sort/seen_lookup. */
static int
seen_key_cmp(uint8_t pa, const struct sp_addr *la, uint16_t lpa,
             const struct sp_addr *ra, uint16_t rpa, const struct dflow *d)
{
	int c;

	if (pa != d->proto)
		return pa < d->proto ? -1 : 1;
	if (lpa != d->lport)
		return lpa < d->lport ? -1 : 1;
	if (rpa != d->rport)
		return rpa < d->rport ? -1 : 1;
	if ((c = memcmp(la, &d->local, sizeof(*la))) != 0)
		return c;
	return memcmp(ra, &d->remote, sizeof(*ra));
}

static int
seen_cmp(const void *x, const void *y)
{
	const struct dflow *a = x;

	return seen_key_cmp(a->proto, &a->local, a->lport, &a->remote, a->rport,
	                    y);
}

/* Sorted by tuple once every record is in, so a lookup is a search. */
static void
seen_sort(struct divert_seen *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), seen_cmp);
}

/* The divert's packets of wire flow f, each way, summed over its
 * records (a flow may have several: live, and stored); false when the
 * divert never saw it. */
static bool
seen_lookup(const struct divert_seen *s, const struct wflow *f,
            uint64_t pkts[2])
{
	size_t lo = 0, hi = s->n, mid;

	pkts[0] = pkts[1] = 0;
	/* The first record not below f's tuple. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (seen_key_cmp(f->proto, &f->local, f->lport, &f->remote,
		                 f->rport, &s->v[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (mid = lo;
	     mid < s->n && seen_key_cmp(f->proto, &f->local, f->lport,
	                                &f->remote, f->rport, &s->v[mid]) == 0;
	     mid++) {
		pkts[0] += s->v[mid].pkts[0];
		pkts[1] += s->v[mid].pkts[1];
	}
	return mid > lo;
}

/* ---- judging a flow ----------------------------------------------------- */

static json_t *
flow_json(const struct wflow *f, int dir)
{
	char lb[64], rb[64], ifn[IF_NAMESIZE] = "?";
	const char *pn = sp_proto_name(f->proto);
	json_t *o;

	if_indextoname((unsigned)f->ifindex, ifn);
	o = json_pack(
	        "{s:s,s:s,s:I,s:s,s:I,s:s,s:s}", "proto",
	        pn != NULL ? pn : "other", "src",
	        sp_addr_format(dir == 0 ? &f->local : &f->remote, lb,
	                       sizeof(lb)),
	        "sport", (json_int_t)(dir == 0 ? f->lport : f->rport), "dst",
	        sp_addr_format(dir == 0 ? &f->remote : &f->local, rb,
	                       sizeof(rb)),
	        "dport", (json_int_t)(dir == 0 ? f->rport : f->lport), "dir",
	        f->fwd     ? "forward"
	        : dir == 0 ? "out"
	                   : "in",
	        "interface", ifn);
	json_object_set_new(o, "packets",
	                    json_integer((json_int_t)f->pkts[dir]));
	json_object_set_new(o, "bytes",
	                    json_integer((json_int_t)f->bytes[dir]));
	json_object_set_new(o, "diverted",
	                    json_integer((json_int_t)f->dpkts[dir]));
	return o;
}

/* Is wire flow f, direction dir, covered by a declared exemption? */
static const char *
exempted(const struct audit *a, const struct wflow *f)
{
	char ifn[IF_NAMESIZE] = "";
	unsigned i;

	if_indextoname((unsigned)f->ifindex, ifn);
	for (i = 0; i < a->cfg.nexempt; i++) {
		const char *e = a->cfg.exempt[i];

		if (strcmp(e, ifn) == 0 ||
		    (strcmp(e, "icmp") == 0 && f->proto == SP_PROTO_ICMP) ||
		    (strcmp(e, "icmpv6") == 0 && f->proto == SP_PROTO_ICMP6))
			return e;
	}
	return NULL;
}

/* Lookups made while the tap ran, one per new flow this host sent. */
struct early {
	struct proc_query *pq;
	struct audit_ev *ev; /* the packet sockets seen meanwhile */
	struct proc_owner *v[AUDIT_EARLY_MAX];
	size_t n;
};

static void
flow_to_proc(const struct wflow *f, struct proc_flow *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->proto = f->proto;
	fl->local = f->local;
	fl->remote = f->remote;
	fl->lport = f->lport;
	fl->rport = f->rport;
	fl->uid_hint = fl->gid_hint = UINT32_MAX;
	/* sent_after_ns 0: a socket already gone is not put on a process
	 * by its user's exits alone (the audit knows no user for it). */
}

/* struct wire's on_new: who holds the new flow's socket, now. */
static void
early_lookup(struct wflow *f, void *arg)
{
	struct early *e = arg;
	struct proc_owner *po;
	struct proc_flow fl;

	if (e->pq == NULL || e->n == AUDIT_EARLY_MAX ||
	    (po = malloc(sizeof(*po))) == NULL)
		return;
	flow_to_proc(f, &fl);
	proc_lookup(e->pq, &fl, po);
	if (po->how != PROC_HOW_SOCKET && po->how != PROC_HOW_EXITED &&
	    po->inode == 0 && po->uid == UINT32_MAX) {
		/* No IP socket: a packet socket's frame? Note the packet
		 * sockets while its sender may still hold one. */
		audit_ev_tick(e->ev);
		free(po);
		return;
	}
	f->early = (int32_t)e->n;
	e->v[e->n++] = po;
}

/* struct wire's on_tick. */
static void
early_tick(void *arg)
{
	struct early *e = arg;

	audit_ev_tick(e->ev);
}

static void
early_free(struct early *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
}

/* Gone by now: an exit event seen, or no such process any more (the
 * event may not have been read yet, or lost with others under load). A
 * pid taken again since reads as alive: the report errs toward "not
 * exited". */
static bool
owner_exited(struct proc *proc, const struct proc_owner *who)
{
	if (who->how == PROC_HOW_EXITED || proc_pid_exited(proc, who->pid))
		return true;
	return who->pid > 0 && kill(who->pid, 0) != 0 && errno == ESRCH;
}

/*
 * The process behind a hidden flow's local socket, into o: the one that
 * holds it now, else the one the lookup found while the tap ran (the
 * socket held then, or found with no holder and put on the one process of
 * its user that had just exited: docs/attribution.md, step 4); else none.
 * Returns the socket's owner uid (-1 unknown); *socket: an IP socket of
 * the flow was found at either lookup.
 */
static int64_t
owner_json(struct proc *proc, struct proc_query *pq, const struct wflow *f,
           const struct proc_owner *early, json_t *o, bool *socket)
{
	struct proc_owner *po = malloc(sizeof(*po));
	const struct proc_owner *who = NULL;
	struct proc_flow fl;
	const char *ev = NULL;
	int64_t uid = -1;

	*socket = false;
	json_object_set_new(o, "pid", json_null());
	json_object_set_new(o, "exe", json_null());
	json_object_set_new(o, "uid", json_null());
	json_object_set_new(o, "process_evidence", json_null());
	if (po == NULL ||
	    (f->proto != SP_PROTO_TCP && f->proto != SP_PROTO_UDP) || f->fwd) {
		free(po);
		return -1;
	}
	memset(po, 0, sizeof(*po));
	po->how = PROC_HOW_NONE;
	po->uid = UINT32_MAX;
	if (pq != NULL) {
		flow_to_proc(f, &fl);
		proc_lookup(pq, &fl, po);
	}
	if (po->how == PROC_HOW_SOCKET) {
		who = po;
		ev = "holds the flow's socket";
	} else if (early != NULL && early->how == PROC_HOW_SOCKET) {
		who = early;
		ev = "held the flow's socket when the tap saw its first "
		     "packet";
	} else if (early != NULL && early->how == PROC_HOW_EXITED) {
		who = early;
		ev = "the flow's socket had no holder when the tap saw its "
		     "first packet: the one process of its user that had "
		     "just exited";
	} else if (po->how == PROC_HOW_EXITED) {
		who = po;
		ev = "the flow's socket has no holder: the one process of its "
		     "user that had just exited";
	}
	if (who != NULL) {
		json_object_set_new(o, "pid", json_integer(who->pid));
		json_object_set_new(o, "exe", json_string(who->exe));
		json_object_set_new(o, "cmdline", json_string(who->cmdline));
		json_object_set_new(o, "process_evidence", json_string(ev));
		json_object_set_new(o, "exited",
		                    json_boolean(owner_exited(proc, who)));
	}
	if (who != NULL && who->uid != UINT32_MAX)
		uid = who->uid;
	else if (po->uid != UINT32_MAX)
		uid = po->uid;
	else if (early != NULL && early->uid != UINT32_MAX)
		uid = early->uid;
	if (uid >= 0)
		json_object_set_new(o, "uid", json_integer(uid));
	*socket = po->how == PROC_HOW_SOCKET || po->inode != 0 ||
	          (early != NULL &&
	           (early->how == PROC_HOW_SOCKET || early->inode != 0));
	json_object_set_new(o, "socket", json_boolean(*socket));
	free(po);
	return uid;
}

/* Hidden flows: on the wire, never across the divert. */
int
audit_hidden(struct audit *a)
{
	struct wire w;
	struct divert_seen seen;
	struct store_reader *sr = NULL;
	struct proc *proc = NULL;
	/* Exec and exit events from before the tap on: a process that
	 * starts and ends during the watch is known by its exec. */
	struct proc_config pc = {.timeout_ms = AUDIT_EARLY_MS,
	                         .events = true,
	                         .initial_scan = true,
	                         .infer_exited = true};
	struct early *er = calloc(1, sizeof(*er));
	struct audit_ev ev;
	struct audit_hid *hv = NULL, *nv;
	size_t nh = 0, caph = 0, i;
	char err[1024];
	uint64_t start;
	json_t *conns, *o;
	int dir, ntaps;
	const char *ex;
	bool sock;

	memset(&w, 0, sizeof(w));
	memset(&seen, 0, sizeof(seen));
	if (er == NULL || audit_local_addrs(&w) != 0) {
		json_array_append_new(
		        a->notes, json_string("cannot list local addresses"));
		free(er);
		audit_wire_free(&w);
		return -1;
	}
	if (proc_new(&proc, &pc, err, sizeof(err)) == 0) {
		if (err[0] != '\0')
			json_array_append_new(
			        a->notes, json_sprintf("processes: %s", err));
		er->pq = proc_query_new(proc, err, sizeof(err));
	} else {
		json_array_append_new(a->notes,
		                      json_sprintf("processes: %s", err));
	}
	audit_ev_before(a, &ev);
	er->ev = &ev;
	w.on_new = early_lookup;
	w.on_tick = early_tick;
	w.on_new_arg = er;
	start = sp_now_wall();
	seen.since_ns = start;
	ntaps = audit_wire_watch(&w, a->watch, a->notes);
	if (ntaps <= 0) {
		json_array_append_new(
		        a->notes, json_string("no interface could be tapped "
		                              "(libpcap; root needed)"));
		audit_ev_free(&ev);
		proc_query_free(er->pq);
		early_free(er);
		free(er);
		audit_wire_free(&w);
		proc_free(proc);
		return -1;
	}
	/* What crossed the divert meanwhile: give the last packets time to
	 * be counted and the store its flush. */
	usleep((AUDIT_GRACE_MS + 2 * a->cfg.store_flush_ms) * 1000u);
	audit_ev_after(a, &ev);
	conns = control_call(a->cfg.control, "conns", err, sizeof(err));
	if (conns != NULL)
		seen_from_conns(&seen, json_object_get(conns, "conns"));
	json_decref(conns);
	if (strcmp(a->cfg.db, CONFIG_DB_NONE) == 0)
		json_array_append_new(
		        a->notes, json_string("db = none: flows that ended "
		                              "during the watch are not known "
		                              "and may show as hidden"));
	else if (store_reader_open(&sr, a->cfg.db, err, sizeof(err)) == 0)
		store_reader_flows(sr, true, seen_store_one, &seen, NULL);
	else
		json_array_append_new(a->notes, json_sprintf("store: %s", err));
	seen_sort(&seen);

	for (i = 0; i < w.n; i++) {
		struct wflow *f = &w.v[i];

		f->found = seen_lookup(&seen, f, f->dpkts);
		for (dir = 0; dir < 2; dir++) {
			unsigned need = f->fwd     ? CONFIG_HOOK_FORWARD
			                : dir == 0 ? CONFIG_HOOK_OUT
			                           : CONFIG_HOOK_IN;

			if (f->pkts[dir] == 0 || f->dpkts[dir] > 0)
				continue;
			/* A hook the config does not divert is not a hole,
			 * unless forwarding (reported as such). */
			if (!f->fwd && !(a->cfg.hooks & need))
				continue;
			o = flow_json(f, dir);
			if ((ex = exempted(a, f)) != NULL) {
				json_object_set_new(o, "exemption",
				                    json_string(ex));
				json_array_append_new(a->exempt, o);
				continue;
			}
			if (nh == caph) {
				caph = caph ? 2 * caph : 64;
				nv = realloc(hv, caph * sizeof(*hv));
				if (nv == NULL) {
					json_decref(o);
					break;
				}
				hv = nv;
			}
			memset(&hv[nh], 0, sizeof(hv[nh]));
			hv[nh].f = f;
			hv[nh].dir = dir;
			hv[nh].o = o;
			hv[nh].uid = owner_json(proc, er->pq, f,
			                        f->early >= 0 ? er->v[f->early]
			                                      : NULL,
			                        o, &sock);
			hv[nh].socket = sock;
			nh++;
		}
	}
	audit_causes(a, &ev, hv, nh);
	for (i = 0; i < nh; i++) {
		json_array_append_new(a->hidden, hv[i].o);
		a->holes = true;
	}
	free(hv);
	audit_ev_free(&ev);
	json_object_set_new(a->counters, "wire",
	                    json_pack("{s:I,s:I,s:I,s:I,s:I}", "seconds",
	                              (json_int_t)a->watch, "interfaces",
	                              (json_int_t)ntaps, "packets",
	                              (json_int_t)w.packets, "flows",
	                              (json_int_t)w.n, "flows_not_kept",
	                              (json_int_t)w.dropped));
	proc_query_free(er->pq);
	early_free(er);
	free(er);
	proc_free(proc);
	store_reader_close(sr);
	free(seen.v);
	audit_wire_free(&w);
	return 0;
}

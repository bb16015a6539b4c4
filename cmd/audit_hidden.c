/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spackle audit --watch: the flows the wire saw and the divert did not,
 * each with the process behind it and the probable cause.
 */
#include <dirent.h>
#include <jansson.h>
#include <net/if.h>
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

/* ---- packet sockets ----------------------------------------------------- */

struct psock {
	uint64_t inode;
	int ifindex; /* 0: every interface */
	int32_t pid; /* -1 unknown */
	uint32_t uid;
	char exe[SP_PATH_MAX];
};

/* /proc/net/packet: sk RefCnt Type Proto Iface R Rmem User Inode */
static size_t
psocks_read(struct psock *v, size_t max)
{
	char line[512];
	unsigned long long ino;
	unsigned iface, user;
	size_t n = 0;
	FILE *f;

	if ((f = fopen("/proc/net/packet", "re")) == NULL)
		return 0;
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %*s %*s %*s %u %*s %*s %u %llu", &iface,
		           &user, &ino) != 3)
			continue;
		v[n].inode = ino;
		v[n].ifindex = (int)iface;
		v[n].uid = user;
		v[n].pid = -1;
		v[n].exe[0] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

/* Who holds each packet socket: one walk of every process's fds. */
static void
psocks_owners(struct psock *v, size_t n)
{
	char path[64], link[64];
	struct dirent *de, *fe;
	DIR *d, *fd;
	unsigned long long ino;
	size_t i, left = n;
	int32_t pid, self = (int32_t)getpid();
	ssize_t len;

	if (n == 0 || (d = opendir("/proc")) == NULL)
		return;
	while (left > 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		pid = (int32_t)strtol(de->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		if ((fd = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(fd)) != NULL) {
			snprintf(path, sizeof(path), "/proc/%d/fd/%.16s",
			         (int)pid, fe->d_name);
			len = readlink(path, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) != 1)
				continue;
			for (i = 0; i < n; i++) {
				if (v[i].inode != ino || v[i].pid >= 0)
					continue;
				/* Our own taps are not the hole. */
				v[i].pid = pid == self ? 0 : pid;
				if (pid != self) {
					snprintf(path, sizeof(path),
					         "/proc/%d/exe", (int)pid);
					len = readlink(path, v[i].exe,
					               sizeof(v[i].exe) - 1);
					v[i].exe[len > 0 ? len : 0] = '\0';
				}
				left--;
			}
		}
		closedir(fd);
	}
	closedir(d);
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

/* The process behind a hidden flow's local socket, into o; its uid. */
static int64_t
owner_json(struct proc_query *pq, const struct wflow *f, json_t *o)
{
	struct proc_owner *po = malloc(sizeof(*po));
	struct proc_flow fl;
	int64_t uid = -1;

	json_object_set_new(o, "pid", json_null());
	json_object_set_new(o, "exe", json_null());
	json_object_set_new(o, "uid", json_null());
	if (po == NULL || pq == NULL ||
	    (f->proto != SP_PROTO_TCP && f->proto != SP_PROTO_UDP) || f->fwd) {
		free(po);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.proto = f->proto;
	fl.local = f->local;
	fl.remote = f->remote;
	fl.lport = f->lport;
	fl.rport = f->rport;
	fl.uid_hint = fl.gid_hint = UINT32_MAX;
	if (proc_lookup(pq, &fl, po) == PROC_HOW_SOCKET) {
		json_object_set_new(o, "pid", json_integer(po->pid));
		json_object_set_new(o, "exe", json_string(po->exe));
		json_object_set_new(o, "uid", json_integer(po->uid));
		json_object_set_new(o, "cmdline", json_string(po->cmdline));
		uid = po->uid;
	} else if (po->uid != UINT32_MAX) {
		json_object_set_new(o, "uid", json_integer(po->uid));
		uid = po->uid;
	}
	json_object_set_new(
	        o, "socket",
	        json_boolean(po->how == PROC_HOW_SOCKET || po->inode != 0));
	free(po);
	return uid;
}

/* A packet socket of another process that can send on f's interface. */
static const struct psock *
psock_of(const struct wflow *f, const struct psock *ps, size_t nps)
{
	size_t i;

	for (i = 0; i < nps; i++)
		if (ps[i].pid > 0 &&
		    (ps[i].ifindex == 0 || ps[i].ifindex == f->ifindex))
			return &ps[i];
	return NULL;
}

/* Why did direction dir of f skip the divert? Sets o's cause keys. */
static void
audit_cause(struct audit *a, const struct wflow *f, int dir, int64_t uid,
            const struct psock *ps, size_t nps, json_t *o)
{
	const char *hook = dir == 0 ? "OUTPUT" : "INPUT";
	int family = f->local.family == AF_INET ? AF_INET : AF_INET6;
	struct fw_pkt p;
	const struct fw_rule *r;
	const struct psock *q;
	char desc[512];
	bool socket = json_is_true(json_object_get(o, "socket"));

	if (f->fwd) {
		json_object_set_new(o, "cause", json_string("forward"));
		json_object_set_new(
		        o, "why",
		        json_string((a->cfg.hooks & CONFIG_HOOK_FORWARD)
		                            ? "a forwarded packet that did not "
		                              "reach the forward hook's divert"
		                            : "a forwarded path: the config "
		                              "does not divert the forward "
		                              "hook"));
		return;
	}
	if (!audit_hook_jumped(a, hook, family)) {
		json_object_set_new(o, "cause", json_string("no steering"));
		json_object_set_new(o, "why",
		                    json_sprintf("%s has no jump to spackle's "
		                                 "chain",
		                                 hook));
		return;
	}
	memset(&p, 0, sizeof(p));
	p.family = family;
	p.proto = f->proto;
	p.src = dir == 0 ? f->local : f->remote;
	p.dst = dir == 0 ? f->remote : f->local;
	p.sport = dir == 0 ? f->lport : f->rport;
	p.dport = dir == 0 ? f->rport : f->lport;
	{
		static char ifn[IF_NAMESIZE];

		if (if_indextoname((unsigned)f->ifindex, ifn) != NULL) {
			if (dir == 0)
				p.out_if = ifn;
			else
				p.in_if = ifn;
		}
	}
	p.uid = dir == 0 ? uid : -1;
	/* A rule that surely matches; else a packet socket (a frame that no
	 * hook saw cannot have been let past by a rule); else a rule that
	 * may match. */
	if ((r = audit_rule_above(a, hook, &p, FW_YES)) != NULL ||
	    (!(dir == 0 && !socket && psock_of(f, ps, nps) != NULL) &&
	     (r = audit_rule_above(a, hook, &p, FW_MAYBE)) != NULL)) {
		fw_rule_describe(r, desc, sizeof(desc));
		json_object_set_new(o, "cause", json_string("rule above"));
		json_object_set_new(o, "rule", json_string(r->spec));
		json_object_set_new(
		        o, "why",
		        json_sprintf("a rule placed before spackle's "
		                     "in %s lets it past: %s",
		                     hook, desc));
		json_object_set_new(o, "rule_packets",
		                    json_integer((json_int_t)r->packets));
		return;
	}
	if (dir == 0 && !socket && (q = psock_of(f, ps, nps)) != NULL) {
		json_object_set_new(o, "cause", json_string("packet socket"));
		json_object_set_new(
		        o, "why",
		        json_string("sent through an AF_PACKET "
		                    "socket, which skips netfilter "
		                    "(no IP socket holds the flow)"));
		json_object_set_new(o, "pid", json_integer(q->pid));
		json_object_set_new(o, "exe", json_string(q->exe));
		json_object_set_new(o, "uid", json_integer(q->uid));
		json_object_set_new(o, "socket_inode",
		                    json_integer((json_int_t)q->inode));
		return;
	}
	json_object_set_new(o, "cause", json_string("unknown"));
	json_object_set_new(o, "why",
	                    json_string("no rule above spackle's, "
	                                "exemption or packet "
	                                "socket explains it"));
}

/* Hidden flows: on the wire, never across the divert. */
int
audit_hidden(struct audit *a)
{
	struct wire w;
	struct divert_seen seen;
	struct store_reader *sr = NULL;
	struct proc *proc = NULL;
	struct proc_query *pq = NULL;
	struct proc_config pc = {.timeout_ms = 500};
	struct psock *ps;
	size_t nps = 0, i;
	char err[1024];
	uint64_t start;
	json_t *conns, *o;
	int dir, ntaps;
	const char *ex;

	memset(&w, 0, sizeof(w));
	memset(&seen, 0, sizeof(seen));
	if (audit_local_addrs(&w) != 0) {
		json_array_append_new(
		        a->notes, json_string("cannot list local addresses"));
		return -1;
	}
	start = sp_now_wall();
	seen.since_ns = start;
	ntaps = audit_wire_watch(&w, a->watch, a->notes);
	if (ntaps <= 0) {
		json_array_append_new(
		        a->notes, json_string("no interface could be tapped "
		                              "(libpcap; root needed)"));
		audit_wire_free(&w);
		return -1;
	}
	/* What crossed the divert meanwhile: give the last packets time to
	 * be counted and the store its flush. */
	usleep((AUDIT_GRACE_MS + 2 * a->cfg.store_flush_ms) * 1000u);
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
	if (proc_new(&proc, &pc, err, sizeof(err)) == 0)
		pq = proc_query_new(proc, err, sizeof(err));
	ps = calloc(AUDIT_PSOCK_MAX, sizeof(*ps));
	if (ps != NULL) {
		nps = psocks_read(ps, AUDIT_PSOCK_MAX);
		psocks_owners(ps, nps);
	}

	for (i = 0; i < w.n; i++) {
		struct wflow *f = &w.v[i];
		int64_t uid = -2;

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
			if (uid == -2)
				uid = owner_json(pq, f, o);
			else
				owner_json(pq, f, o);
			audit_cause(a, f, dir, uid, ps, nps, o);
			json_array_append_new(a->hidden, o);
			a->holes = true;
		}
	}
	json_object_set_new(a->counters, "wire",
	                    json_pack("{s:I,s:I,s:I,s:I,s:I}", "seconds",
	                              (json_int_t)a->watch, "interfaces",
	                              (json_int_t)ntaps, "packets",
	                              (json_int_t)w.packets, "flows",
	                              (json_int_t)w.n, "flows_not_kept",
	                              (json_int_t)w.dropped));
	free(ps);
	proc_query_free(pq);
	proc_free(proc);
	store_reader_close(sr);
	free(seen.v);
	audit_wire_free(&w);
	return 0;
}

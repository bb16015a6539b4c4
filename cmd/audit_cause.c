/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spackle audit --watch: why a hidden flow skipped the divert, decided
 * from what the kernel counted over the watch (the rules placed before
 * spackle's, its queues), and the packet sockets that may have written
 * it. docs/audit.md, "How a cause and a process are decided".
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
#include "spackle/fwread.h"
#include "spackle/spackle.h"
#include "spackle/steer.h"

/* ---- the counters before and after ------------------------------------- */

/* The packet sockets seen while the tap ran, but the audit's own. */
struct psock_watch {
	uint64_t own[2 * AUDIT_TAPS_MAX];
	size_t nown;
	bool own_read;
	struct {
		uint64_t inode;
		int ifindex;
	} v[AUDIT_PSOCK_MAX];
	size_t n;
	bool full; /* more than v holds: each one may be the sender */
};

void
audit_ev_before(struct audit *a, struct audit_ev *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->pw = calloc(1, sizeof(*ev->pw));
	ev->have_before = audit_read_ruleset(a, &ev->before);
	ev->unseen0 = a->cfg.backend == CONFIG_BACKEND_TUN
	                      ? -2
	                      : audit_unseen(a, &ev->before);
}

/* Same family, chain and text. */
static bool
same_rule(const struct fw_rule *x, const struct fw_rule *y)
{
	return x->family == y->family && strcmp(x->chain, y->chain) == 0 &&
	       strcmp(x->spec, y->spec) == 0;
}

/*
 * The packets rule i of after counted over the watch: against the same
 * rule in before (its k-th copy for the k-th, when a chain holds the same
 * rule twice); a rule not there was put in during the watch and counted
 * only then; counters lower than before were reset (the rule replaced),
 * and count since then.
 */
static uint64_t
rule_delta(const struct fw_ruleset *before, const struct fw_ruleset *after,
           size_t i)
{
	const struct fw_rule *r = &after->v[i];
	size_t j, k = 0;

	for (j = 0; j < i; j++)
		if (same_rule(&after->v[j], r))
			k++;
	for (j = 0; j < before->n; j++) {
		if (!same_rule(&before->v[j], r))
			continue;
		if (k-- > 0)
			continue;
		return r->packets >= before->v[j].packets
		               ? r->packets - before->v[j].packets
		               : r->packets;
	}
	return r->packets;
}

void
audit_ev_after(struct audit *a, struct audit_ev *ev)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	const struct fw_hook_check *hc;
	size_t i, k, n = 0;
	unsigned f;

	ev->have_after = audit_read_ruleset(a, &ev->after);
	ev->unseen1 = a->cfg.backend == CONFIG_BACKEND_TUN
	                      ? -2
	                      : audit_unseen(a, &ev->after);
	/* The hooks as they stand now: a rule put above spackle's during
	 * the watch is one of them. */
	ev->rs = ev->have_after ? &ev->after : &a->rs;
	if (a->cfg.backend != CONFIG_BACKEND_TUN &&
	    steer_firewall(&a->cfg) != CONFIG_FIREWALL_NFT)
		for (f = 0; f < 2; f++)
			fw_check_steering(&a->cfg, fams[f], ev->rs, &ev->chk);
	for (i = 0; i < ev->chk.n; i++)
		n += ev->chk.v[i].nabove;
	if (n == 0 || (ev->ab = calloc(n, sizeof(*ev->ab))) == NULL)
		return;
	for (i = 0; i < ev->chk.n; i++) {
		hc = &ev->chk.v[i];
		for (k = 0; k < hc->nabove; k++) {
			struct audit_above *ab = &ev->ab[ev->nab++];

			ab->r = &ev->rs->v[hc->above[k]];
			ab->hook = hc->hook;
			ab->known = ev->have_before && ev->have_after;
			if (ab->known)
				ab->delta = rule_delta(&ev->before, &ev->after,
				                       hc->above[k]);
		}
	}
}

void
audit_ev_free(struct audit_ev *ev)
{
	free(ev->pw);
	free(ev->ab);
	fw_steer_check_free(&ev->chk);
	fw_ruleset_free(&ev->before);
	fw_ruleset_free(&ev->after);
	memset(ev, 0, sizeof(*ev));
}

/* Does hook of family hold a jump to spackle's chain? */
static bool
ev_hook_jumped(const struct audit_ev *ev, const char *hook, int family)
{
	size_t i;

	for (i = 0; i < ev->chk.n; i++)
		if (ev->chk.v[i].family == family &&
		    strcmp(ev->chk.v[i].hook, hook) == 0)
			return ev->chk.v[i].jumps > 0;
	return false;
}

/* ---- packet sockets ----------------------------------------------------- */

struct psock {
	uint64_t inode;
	int ifindex; /* 0: every interface */
	int32_t pid; /* -1 unknown, 0 the audit's own */
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

/* The socket inodes the audit itself holds (its taps). */
static void
own_sockets(struct psock_watch *pw)
{
	char path[64], link[64];
	unsigned long long ino;
	struct dirent *fe;
	ssize_t len;
	DIR *d;

	pw->own_read = true;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((fe = readdir(d)) != NULL && pw->nown < 2 * AUDIT_TAPS_MAX) {
		snprintf(path, sizeof(path), "/proc/self/fd/%.16s", fe->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) == 1)
			pw->own[pw->nown++] = ino;
	}
	closedir(d);
}

/* The packet sockets that exist now, into the watch's list (cmd/audit.h). */
void
audit_ev_tick(struct audit_ev *ev)
{
	struct psock_watch *pw = ev->pw;
	struct psock ps[64];
	size_t n, i, k;

	if (pw == NULL)
		return;
	if (!pw->own_read)
		own_sockets(pw);
	n = psocks_read(ps, sizeof(ps) / sizeof(ps[0]));
	if (n == sizeof(ps) / sizeof(ps[0]))
		pw->full = true;
	for (i = 0; i < n; i++) {
		for (k = 0; k < pw->nown && pw->own[k] != ps[i].inode; k++)
			;
		if (k < pw->nown)
			continue;
		for (k = 0; k < pw->n && pw->v[k].inode != ps[i].inode; k++)
			;
		if (k < pw->n)
			continue;
		if (pw->n == AUDIT_PSOCK_MAX) {
			pw->full = true;
			continue;
		}
		pw->v[pw->n].inode = ps[i].inode;
		pw->v[pw->n].ifindex = ps[i].ifindex;
		pw->n++;
	}
}

/*
 * The processes other than the audit that hold a packet socket able to
 * send on ifindex (bound to it, or to none) at the end, and the packet
 * sockets seen during the watch that were gone by then (their holders
 * unknown): how many, and the one when there is exactly one and its
 * holder is known (*one, else NULL). Without the watch's list (pw NULL)
 * none is named: a sender may have come and gone.
 */
static size_t
psock_candidates(const struct psock *ps, size_t nps,
                 const struct psock_watch *pw, int ifindex,
                 const struct psock **one)
{
	size_t i, j, k, n = 0;

	*one = NULL;
	for (i = 0; i < nps; i++) {
		if (ps[i].pid == 0 ||
		    (ps[i].ifindex != 0 && ps[i].ifindex != ifindex))
			continue;
		/* Two sockets of one process are one candidate. */
		for (j = 0; j < i; j++)
			if (ps[i].pid > 0 && ps[j].pid == ps[i].pid &&
			    (ps[j].ifindex == 0 || ps[j].ifindex == ifindex))
				break;
		if (j < i)
			continue;
		n++;
		*one = &ps[i];
	}
	if (pw != NULL) {
		for (k = 0; k < pw->n; k++) {
			if (pw->v[k].ifindex != 0 &&
			    pw->v[k].ifindex != ifindex)
				continue;
			for (i = 0; i < nps && ps[i].inode != pw->v[k].inode;
			     i++)
				;
			if (i == nps)
				n++;
		}
		if (pw->full)
			n++;
	}
	if (n != 1 || pw == NULL || !pw->own_read || *one == NULL ||
	    (*one)->pid < 0)
		*one = NULL;
	return n;
}

/* ---- the rules above ---------------------------------------------------- */

/* The packet of h as the hook saw (or would have seen) it. */
static void
hid_pkt(const struct audit_hid *h, struct fw_pkt *p, char *ifn)
{
	const struct wflow *f = h->f;

	memset(p, 0, sizeof(*p));
	p->family = f->local.family == AF_INET ? AF_INET : AF_INET6;
	p->proto = f->proto;
	p->src = h->dir == 0 ? f->local : f->remote;
	p->dst = h->dir == 0 ? f->remote : f->local;
	p->sport = h->dir == 0 ? f->lport : f->rport;
	p->dport = h->dir == 0 ? f->rport : f->lport;
	if (if_indextoname((unsigned)f->ifindex, ifn) != NULL) {
		if (h->dir == 0)
			p->out_if = ifn;
		else
			p->in_if = ifn;
	}
	p->uid = h->dir == 0 ? h->uid : -1;
}

/* Rules that end a packet's way through the hook before spackle's jump
 * (a jump to another chain may: it is judged as such). */
static bool
ab_terminal(const struct audit_above *ab)
{
	return ab->r->kind != FW_K_OTHER && ab->r->kind != FW_K_NONE;
}

/*
 * Walk the rules above spackle's in h's hook, in their order, and put h on
 * the first that took it. A rule that surely matches the flow took it when
 * it counted any packet over the watch; one that counted none shows that
 * the flow's packets never came this way (they would have met it), and
 * the walk ends. A rule that may match (an owner match without a known
 * owner, a match this reader cannot judge) took it only when its counters
 * grew by at least the flow's packets beyond what flows it surely matches
 * used up. In the first pass only flows whose first candidate surely
 * matches are decided, so that a flow that only may match does not take
 * their share.
 */
static void
hid_walk(struct audit_ev *ev, struct audit_hid *h, bool first_pass)
{
	const char *hook = h->dir == 0 ? "OUTPUT" : "INPUT";
	char ifn[IF_NAMESIZE];
	uint64_t n = h->f->pkts[h->dir], budget;
	struct audit_above *ab;
	struct fw_pkt p;
	enum fw_match m;
	size_t i;

	hid_pkt(h, &p, ifn);
	for (i = 0; i < ev->nab; i++) {
		ab = &ev->ab[i];
		if (ab->r->family != p.family || strcmp(ab->hook, hook) != 0 ||
		    !ab_terminal(ab))
			continue;
		if ((m = fw_rule_match(ab->r, &p)) == FW_NO)
			continue;
		if (m == FW_YES) {
			if (!ab->known || ab->delta > 0) {
				h->rule = ab;
				ab->claimed += n;
			}
			h->done = true;
			return;
		}
		if (first_pass)
			return;
		budget = ab->delta > ab->claimed ? ab->delta - ab->claimed : 0;
		if (ab->known && budget >= n) {
			h->rule = ab;
			ab->claimed += n;
			h->done = true;
			return;
		}
	}
	if (!first_pass)
		h->done = true;
}

static void
set_rule_cause(struct audit_hid *h)
{
	const struct audit_above *ab = h->rule;
	const struct fw_rule *r = ab->r;
	char desc[512];
	json_t *o = h->o;

	fw_rule_describe(r, desc, sizeof(desc));
	json_object_set_new(o, "cause", json_string("rule above"));
	json_object_set_new(o, "rule", json_string(r->spec));
	json_object_set_new(o, "rule_at",
	                    json_sprintf("%s filter %s rule %u",
	                                 r->family == AF_INET ? "ipv4" : "ipv6",
	                                 r->chain, r->pos));
	json_object_set_new(o, "rule_packets",
	                    json_integer((json_int_t)r->packets));
	json_object_set_new(o, "rule_delta",
	                    ab->known ? json_integer((json_int_t)ab->delta)
	                              : json_null());
	if (ab->known)
		json_object_set_new(
		        o, "why",
		        json_sprintf("%s filter %s rule %u, before spackle's "
		                     "jump, counted %llu packets over the "
		                     "watch: %s",
		                     r->family == AF_INET ? "ipv4" : "ipv6",
		                     r->chain, r->pos,
		                     (unsigned long long)ab->delta, desc));
	else
		json_object_set_new(
		        o, "why",
		        json_sprintf("%s filter %s rule %u, before spackle's "
		                     "jump, matches it (its counters could not "
		                     "be read twice): %s",
		                     r->family == AF_INET ? "ipv4" : "ipv6",
		                     r->chain, r->pos, desc));
}

static void
set_cause(json_t *o, const char *cause, json_t *why)
{
	json_object_set_new(o, "cause", json_string(cause));
	json_object_set_new(o, "why", why);
}

/*
 * No rule above took h: the queue's bypass, a packet socket, or unknown.
 * ps: the packet sockets (NULL when they could not be listed).
 */
static void
hid_rest(const struct audit_ev *ev, struct audit_hid *h, const struct psock *ps,
         size_t nps)
{
	const char *hook = h->dir == 0 ? "OUTPUT" : "INPUT";
	char ifn[IF_NAMESIZE] = "?";
	const struct psock *one;
	json_t *o = h->o;
	size_t ncand;

	if_indextoname((unsigned)h->f->ifindex, ifn);
	if (ev->unseen0 == -1 || ev->unseen1 == -1) {
		set_cause(o, "queue bypass",
		          json_string("the daemon did not answer: its queue "
		                      "lets packets past (failure = open) or "
		                      "drops them"));
		return;
	}
	if (ev->unseen0 >= 0 && ev->unseen1 > ev->unseen0) {
		set_cause(o, "queue bypass",
		          json_sprintf("spackle's queues let %lld packets "
		                       "past unseen during the watch (a full "
		                       "queue, failure = open)",
		                       (long long)(ev->unseen1 - ev->unseen0)));
		return;
	}
	if (h->dir != 0 || h->socket || ev->unseen1 < 0 || !ev->have_before ||
	    !ev->have_after || ps == NULL) {
		set_cause(o, "unknown",
		          json_sprintf("no rule before spackle's in %s "
		                       "counted it, no exemption or queue "
		                       "bypass explains it",
		                       hook));
		return;
	}
	ncand = psock_candidates(ps, nps, ev->pw, h->f->ifindex, &one);
	set_cause(o, "packet socket",
	          json_sprintf("no IP socket holds it, no rule before "
	                       "spackle's in OUTPUT counted it and no queue "
	                       "let it past: it never crossed the hook, "
	                       "written to %s past netfilter (an AF_PACKET "
	                       "socket); %zu packet socket%s other than the "
	                       "audit's %s there during the watch",
	                       ifn, ncand, ncand == 1 ? "" : "s",
	                       ncand == 1 ? "was" : "were"));
	json_object_set_new(o, "packet_sockets",
	                    json_integer((json_int_t)ncand));
	if (one == NULL)
		return;
	/* The only process that can have written it. */
	json_object_set_new(o, "pid", json_integer(one->pid));
	json_object_set_new(o, "exe", json_string(one->exe));
	json_object_set_new(o, "uid", json_integer(one->uid));
	json_object_set_new(o, "socket_inode",
	                    json_integer((json_int_t)one->inode));
	json_object_set_new(o, "process_evidence",
	                    json_sprintf("the only packet socket on %s", ifn));
}

/* Each hidden direction's cause (cmd/audit.h). */
void
audit_causes(struct audit *a, struct audit_ev *ev, struct audit_hid *h,
             size_t n)
{
	struct psock *ps = calloc(AUDIT_PSOCK_MAX, sizeof(*ps));
	bool nft = a->cfg.backend != CONFIG_BACKEND_TUN &&
	           steer_firewall(&a->cfg) == CONFIG_FIREWALL_NFT;
	size_t nps = 0, i;
	const char *hook;
	int family;

	if (ps != NULL) {
		nps = psocks_read(ps, AUDIT_PSOCK_MAX);
		psocks_owners(ps, nps);
	}
	for (i = 0; i < n; i++) {
		hook = h[i].dir == 0 ? "OUTPUT" : "INPUT";
		family = h[i].f->local.family == AF_INET ? AF_INET : AF_INET6;
		if (h[i].f->fwd) {
			set_cause(
			        h[i].o, "forward",
			        json_string((a->cfg.hooks & CONFIG_HOOK_FORWARD)
			                            ? "a forwarded packet "
			                              "that did not reach the "
			                              "forward hook's divert"
			                            : "a forwarded path: the "
			                              "config does not divert "
			                              "the forward hook"));
			h[i].done = true;
		} else if (nft) {
			set_cause(
			        h[i].o, "unknown",
			        json_string("the nft firewall's rules are not "
			                    "read by the audit yet"));
			h[i].done = true;
		} else if (!ev_hook_jumped(ev, hook, family)) {
			set_cause(h[i].o, "no steering",
			          json_sprintf("%s has no jump to spackle's "
			                       "chain",
			                       hook));
			h[i].done = true;
		} else {
			hid_walk(ev, &h[i], true);
		}
	}
	for (i = 0; i < n; i++)
		if (!h[i].done)
			hid_walk(ev, &h[i], false);
	for (i = 0; i < n; i++) {
		if (h[i].rule != NULL)
			set_rule_cause(&h[i]);
		else if (json_object_get(h[i].o, "cause") == NULL)
			hid_rest(ev, &h[i], ps, nps);
	}
	free(ps);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The classifier: the data path from a frame to a verdict, shared by the
 * daemon and replay so both decide exactly alike. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/classify.h"

#define CLASSIFY_NAMES_QUERY 8 /* remote names handed to the rules */

/*
 * What a flow carries beyond its table entry ("names aside"): the remote
 * name it was decided with and its executable. Kept in an open-addressing
 * map keyed by flow id, sized for the flow cap, so struct flow stays small.
 */
struct classify_extra {
	uint64_t id; /* 0: empty slot */
	char *host;
	char *exe;
};

struct classifier {
	struct classify_config cfg;
	struct flow_table *flows;
	struct names_cache *names;
	struct classify_stats st;
	struct packet_stats pst;
	struct classify_extra *extra;
	size_t extra_mask;
	uint64_t seed;
};

static struct classify_extra *
extra_slot(const struct classifier *c, uint64_t id)
{
	size_t i = sp_hash(&id, sizeof(id), c->seed) & c->extra_mask;

	while (c->extra[i].id != 0 && c->extra[i].id != id)
		i = (i + 1) & c->extra_mask;
	return &c->extra[i];
}

static void
extra_del(struct classifier *c, uint64_t id)
{
	struct classify_extra *e = extra_slot(c, id);
	size_t i, j, k;

	if (e->id == 0)
		return;
	free(e->host);
	free(e->exe);
	memset(e, 0, sizeof(*e));
	/* Backward-shift deletion keeps every probe chain unbroken. */
	i = (size_t)(e - c->extra);
	j = i;
	for (;;) {
		j = (j + 1) & c->extra_mask;
		if (c->extra[j].id == 0)
			break;
		k = sp_hash(&c->extra[j].id, sizeof(uint64_t), c->seed) &
		    c->extra_mask;
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && k <= i && k > j)) {
			c->extra[i] = c->extra[j];
			memset(&c->extra[j], 0, sizeof(c->extra[j]));
			i = j;
		}
	}
}

static void
classify_flow_ended(const struct flow *f, void *arg)
{
	struct classifier *c = arg;

	if (c->cfg.ended != NULL)
		c->cfg.ended(f, c->cfg.ended_arg);
	extra_del(c, f->id);
}

struct classifier *
classify_new(const struct classify_config *cfg)
{
	struct classifier *c;
	size_t cap, n = 2;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->cfg = *cfg;
	c->seed = sp_now_mono() ^ (uintptr_t)c;
	cap = cfg->flows.max_flows ? cfg->flows.max_flows : SP_FLOWS_DEFAULT;
	while (n < cap * 2)
		n <<= 1;
	c->extra_mask = n - 1;
	c->extra = calloc(n, sizeof(*c->extra));
	c->flows = flow_table_new(&cfg->flows);
	if (cfg->shared_names != NULL)
		c->names = cfg->shared_names;
	else
		c->names = names_new(cfg->names_cap ? cfg->names_cap
		                                    : SP_NAMES_DEFAULT);
	if (c->extra == NULL || c->flows == NULL || c->names == NULL) {
		classify_free(c);
		return NULL;
	}
	flow_set_evict_cb(c->flows, classify_flow_ended, c);
	return c;
}

void
classify_free(struct classifier *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->extra != NULL) {
		for (i = 0; i <= c->extra_mask; i++) {
			free(c->extra[i].host);
			free(c->extra[i].exe);
		}
	}
	free(c->extra);
	flow_table_free(c->flows);
	if (c->cfg.shared_names == NULL)
		names_free(c->names);
	free(c);
}

static void
names_lock(struct classifier *c)
{
	if (c->cfg.names_lock != NULL)
		pthread_mutex_lock(c->cfg.names_lock);
}

static void
names_unlock(struct classifier *c)
{
	if (c->cfg.names_lock != NULL)
		pthread_mutex_unlock(c->cfg.names_lock);
}

static bool
classify_loopback(const struct sp_addr *a)
{
	static const uint8_t v6lo[16] = {[15] = 1};

	if (a->family == AF_INET)
		return a->b[12] == 127;
	return memcmp(a->b, v6lo, 16) == 0;
}

static bool
classify_is_local(const struct classifier *c, const struct sp_addr *a)
{
	size_t i;

	for (i = 0; i < c->cfg.nlocal; i++)
		if (sp_cidr_contains(&c->cfg.local[i], c->cfg.local_plen[i], a))
			return true;
	return false;
}

/*
 * Decide which end is local and so the flow's direction. A divert knows
 * where it saw the first packet: leaving this host (its sender is local) or
 * arriving (its receiver is). A capture does not: then the side inside a
 * --local network is local, else the first packet's sender.
 */
static void
classify_orient(struct classifier *c, struct flow *f, enum classify_hook hook)
{
	bool orig_a = (f->flags & FLOW_F_ORIG_A) != 0;
	bool local_a = orig_a;

	if (hook == CLASSIFY_HOOK_IN) {
		local_a = !orig_a;
	} else if (hook != CLASSIFY_HOOK_OUT && c->cfg.nlocal > 0) {
		bool la = classify_is_local(c, &f->key.a);
		bool lb = classify_is_local(c, &f->key.b);

		if (la != lb)
			local_a = la;
	}
	if (local_a)
		f->flags |= FLOW_F_LOCAL_A;
	else
		f->flags &= ~(uint32_t)FLOW_F_LOCAL_A;
	f->dir = local_a == orig_a ? SP_DIR_OUT : SP_DIR_IN;
}

static void
extra_set(char **slot, const char *v)
{
	if (*slot != NULL && v != NULL && strcmp(*slot, v) == 0)
		return;
	free(*slot);
	*slot = v != NULL ? strdup(v) : NULL;
}

/* Match f against the rules with what is known of it now. */
static void
classify_match(struct classifier *c, struct flow *f, uint64_t now_ns)
{
	const char *names[CLASSIFY_NAMES_QUERY];
	struct rules_query q;
	struct rules_result res;
	const struct sp_addr *raddr, *laddr;
	uint16_t rport, lport;
	struct classify_extra *e = extra_slot(c, f->id);
	size_t n;

	flow_remote(f, &raddr, &rport);
	flow_local(f, &laddr, &lport);
	memset(&q, 0, sizeof(q));
	q.dir = (enum sp_dir)f->dir;
	q.proto = f->key.proto;
	q.remote = *raddr;
	q.remote_port = rport;
	q.local_port = lport;
	names_lock(c);
	n = names_lookup(c->names, raddr, now_ns, names, CLASSIFY_NAMES_QUERY);
	q.names = names;
	q.nnames = n;
	q.exe = e->id == f->id ? e->exe : NULL;
	q.uid = f->uid;

	memset(&res, 0, sizeof(res));
	f->verdict =
	        (uint8_t)(c->cfg.rules != NULL ? rules_match(c->cfg.rules, &q,
	                                                     c->cfg.dflt, &res)
	                                       : c->cfg.dflt);
	f->rule = c->cfg.rules != NULL && res.rule != UINT32_MAX
	                  ? res.rule
	                  : FLOW_RULE_DEFAULT;
	c->st.decisions++;
	if (n == 0 && e->id != f->id) {
		names_unlock(c);
		return;
	}
	e->id = f->id;
	/* The host is the name that was asked for: names.h hands the newest
	 * answer's chain out question first. */
	extra_set(&e->host, n > 0 ? names[0] : NULL);
	names_unlock(c);
}

/* A new flow: which end is local, who owns it, then the rules. */
static void
classify_decide(struct classifier *c, struct flow *f, uint32_t uid_hint,
                enum classify_hook hook, uint64_t now_ns)
{
	struct classify_owner own;
	struct classify_extra *e;

	classify_orient(c, f, hook);
	f->uid = uid_hint;
	own.pid = -1;
	own.uid = uid_hint;
	own.exe[0] = '\0';
	if (c->cfg.owner != NULL &&
	    c->cfg.owner(f, uid_hint, &own, c->cfg.owner_arg)) {
		f->pid = own.pid;
		f->uid = own.uid;
		if (own.exe[0] != '\0') {
			e = extra_slot(c, f->id);
			e->id = f->id;
			extra_set(&e->exe, own.exe);
		}
	}
	classify_match(c, f, now_ns);
}

static void
classify_feed_dns(struct classifier *c, const struct packet *pkt,
                  uint64_t now_ns)
{
	enum dns_status st;

	names_lock(c);
	st = names_feed_packet(c->names, pkt, now_ns);
	names_unlock(c);
	switch (st) {
	case DNS_OK:
		c->st.dns_answers++;
		break;
	case DNS_SHORT:
	case DNS_BAD:
		c->st.dns_bad++;
		break;
	case DNS_NOT_ANSWER:
		break;
	}
}

/* Parse a frame and count it; PACKET_OK when it goes on to a flow. */
static enum packet_status
classify_parse(struct classifier *c, int link, const uint8_t *p, size_t len,
               size_t wirelen, struct packet *pkt)
{
	enum packet_status s;

	c->st.packets++;
	c->st.bytes += wirelen;
	s = packet_parse_frame(link, p, len, pkt);
	if (s == PACKET_OK &&
	    (pkt->flags & (PACKET_F_TRUNCATED | PACKET_F_L4_SHORT)) &&
	    wirelen <= len)
		s = PACKET_SHORT;
	packet_stats_count(&c->pst, s);
	if (s == PACKET_NOT_IP)
		c->st.not_ip++;
	else if (s != PACKET_OK)
		c->st.malformed++;
	return s;
}

/* The flow of a parsed packet, its decision when new, and its counters. */
static void
classify_packet(struct classifier *c, const struct packet *pkt, uint64_t now_ns,
                uint32_t uid_hint, enum classify_hook hook,
                struct classify_result *res)
{
	struct flow *f;
	bool created = false;
	int dir = 0;

	if (pkt->flags & PACKET_F_FRAG_LATER) {
		f = flow_lookup_fragment(c->flows, pkt, &dir);
		if (f == NULL) {
			c->st.fragments_unmatched++;
			return;
		}
	} else {
		f = flow_lookup(c->flows, pkt, now_ns, &created, &dir);
		if (f == NULL) {
			c->st.malformed++;
			return;
		}
	}
	/*
	 * DNS answers feed the names before the application can read them, so
	 * a domain rule is ready when its connection starts. Only an answer
	 * within a flow whose other end has sent something to the DNS port
	 * (the query) counts: an unsolicited "answer" cannot name addresses.
	 * A local resolver's answers (from a loopback address, port 53: a
	 * privileged port) count even when lo is exempt and its queries
	 * went unseen.
	 */
	if ((pkt->sport == 53 || pkt->sport == 5353) &&
	    ((!created && f->packets[!dir] > 0) ||
	     classify_loopback(&pkt->src)))
		classify_feed_dns(c, pkt, now_ns);
	if (created)
		classify_decide(c, f, uid_hint, hook, now_ns);
	flow_update(c->flows, f, pkt, dir, now_ns);
	c->st.verdicts[f->verdict & 3]++;
	res->verdict = (enum sp_verdict)f->verdict;
	res->flow = f;
	res->new_flow = created;
}

static void
classify_result_init(struct classify_result *res)
{
	res->status = PACKET_OK;
	res->verdict = SP_VERDICT_NONE;
	res->flow = NULL;
	res->new_flow = false;
}

void
classify_frame(struct classifier *c, int link, const uint8_t *p, size_t len,
               size_t wirelen, uint64_t now_ns, uint32_t uid_hint,
               struct classify_result *res)
{
	struct packet pkt;

	classify_result_init(res);
	res->status = classify_parse(c, link, p, len, wirelen, &pkt);
	if (res->status == PACKET_OK)
		classify_packet(c, &pkt, now_ns, uid_hint, CLASSIFY_HOOK_NONE,
		                res);
}

void
classify_burst(struct classifier *c, const struct classify_input *in, size_t n,
               struct classify_result *res)
{
	struct packet pkt[CLASSIFY_BURST];
	uint32_t bucket[CLASSIFY_BURST];
	size_t i;

	if (n > CLASSIFY_BURST)
		n = CLASSIFY_BURST;
	for (i = 0; i < n; i++) {
		classify_result_init(&res[i]);
		res[i].status =
		        classify_parse(c, in[i].link, in[i].p, in[i].len,
		                       in[i].wirelen, &pkt[i]);
		if (res[i].status == PACKET_OK)
			bucket[i] = flow_prefetch_bucket(c->flows, &pkt[i]);
	}
	for (i = 0; i < n; i++)
		if (res[i].status == PACKET_OK)
			flow_prefetch_entry(c->flows, bucket[i]);
	for (i = 0; i < n; i++)
		if (res[i].status == PACKET_OK)
			classify_packet(c, &pkt[i], in[i].ts_ns, in[i].uid_hint,
			                (enum classify_hook)in[i].hook,
			                &res[i]);
}

void
classify_set_rules(struct classifier *c, const struct ruleset *rules,
                   enum sp_verdict dflt)
{
	c->cfg.rules = rules;
	c->cfg.dflt = dflt;
}

struct classify_redo {
	struct classifier *c;
	uint64_t now_ns;
	size_t changed;
};

static void
classify_redecide_one(struct flow *f, void *arg)
{
	struct classify_redo *r = arg;
	uint8_t before = f->verdict;

	classify_match(r->c, f, r->now_ns);
	if (f->verdict != before)
		r->changed++;
}

size_t
classify_redecide(struct classifier *c, uint64_t now_ns)
{
	struct classify_redo r = {c, now_ns, 0};

	flow_foreach(c->flows, classify_redecide_one, &r);
	return r.changed;
}

size_t
classify_expire(struct classifier *c, uint64_t now_ns)
{
	return flow_expire(c->flows, now_ns);
}

static void
classify_end_one(struct flow *f, void *arg)
{
	classify_flow_ended(f, arg);
}

void
classify_flush(struct classifier *c)
{
	struct flow_table *t;

	flow_foreach(c->flows, classify_end_one, c);
	/* Start over with an empty table of the same shape. */
	t = flow_table_new(&c->cfg.flows);
	if (t == NULL)
		return;
	flow_table_free(c->flows);
	c->flows = t;
	flow_set_evict_cb(c->flows, classify_flow_ended, c);
}

void
classify_stats(const struct classifier *c, struct classify_stats *st)
{
	*st = c->st;
}

struct flow_table *
classify_flows(struct classifier *c)
{
	return c->flows;
}

const char *
classify_flow_host(const struct classifier *c, const struct flow *f)
{
	const struct classify_extra *e = extra_slot(c, f->id);

	return e->id == f->id ? e->host : NULL;
}

const char *
classify_flow_exe(const struct classifier *c, const struct flow *f)
{
	const struct classify_extra *e = extra_slot(c, f->id);

	return e->id == f->id ? e->exe : NULL;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The classifier: the data path from a frame to a verdict, shared by the
 * daemon and replay so both decide exactly alike. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/classify.h"
#include "spackle/sni.h"

#define CLASSIFY_NAMES_QUERY 8 /* remote names handed to the rules */

/* What attribution and the name hold found, allocated when there is any. */
struct classify_more {
	char *exe, *cmdline;
	char *name; /* from the flow's own payload (SNI, Host) */
	int32_t ppid;
	uint32_t nprocs;
	uint8_t attrib;   /* enum classify_attrib */
	uint8_t host_src; /* enum classify_name_src of the host */
	bool held;        /* decided on its first payload packet */
};

/*
 * What a flow carries beyond its table entry ("names aside"): the remote
 * name it was decided with, and its process. Kept in an open-addressing
 * map keyed by flow id, sized for the flow cap, so struct flow stays small.
 */
struct classify_extra {
	uint64_t id; /* 0: empty slot */
	char *host;
	struct classify_more *more;
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
	uint32_t *name_rules; /* rules naming hosts or domains */
	size_t nname_rules;
	struct classify_owner own; /* the owner hook's answer (big) */
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
more_free(struct classify_more *m)
{
	if (m == NULL)
		return;
	free(m->exe);
	free(m->cmdline);
	free(m->name);
	free(m);
}

/* f's extra entry, made if missing; NULL when out of memory. */
static struct classify_more *
extra_more(struct classifier *c, const struct flow *f)
{
	struct classify_extra *e = extra_slot(c, f->id);

	if (e->id != f->id) {
		e->id = f->id;
		e->host = NULL;
		e->more = NULL;
	}
	if (e->more == NULL && (e->more = calloc(1, sizeof(*e->more))) != NULL)
		e->more->ppid = -1;
	return e->more;
}

/* The rules that name hosts or domains, for the name hold. */
static void
classify_index_names(struct classifier *c)
{
	const struct rules_rule *r;
	size_t n, i;

	free(c->name_rules);
	c->name_rules = NULL;
	c->nname_rules = 0;
	if (c->cfg.rules == NULL || !c->cfg.name_hold)
		return;
	n = rules_count(c->cfg.rules);
	if ((c->name_rules = calloc(n + 1, sizeof(*c->name_rules))) == NULL)
		return; /* no hold: decided at once, without the name */
	for (i = 0; i < n; i++) {
		r = rules_get(c->cfg.rules, (uint32_t)i);
		if (r != NULL && rules_rule_names(r))
			c->name_rules[c->nname_rules++] = (uint32_t)i;
	}
}

static void
extra_del(struct classifier *c, uint64_t id)
{
	struct classify_extra *e = extra_slot(c, id);
	size_t i, j, k;

	if (e->id == 0)
		return;
	free(e->host);
	more_free(e->more);
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

static void classify_match(struct classifier *c, struct flow *f,
                           uint64_t now_ns, const char *carried,
                           uint8_t carried_src);

static void
classify_flow_ended(const struct flow *f, void *arg)
{
	struct classifier *c = arg;
	struct flow held;

	/* A flow still waiting for a name never carried a byte: what
	 * decides it without one is its record. */
	if (f->flags & FLOW_F_NAME_WAIT) {
		held = *f;
		held.flags &= ~(uint32_t)FLOW_F_NAME_WAIT;
		classify_match(c, &held, f->last_ns, NULL, 0);
		f = &held;
	}
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
	classify_index_names(c);
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
			more_free(c->extra[i].more);
		}
	}
	free(c->extra);
	free(c->name_rules);
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

/* DNS: UDP or TCP to or from port 53, whichever end is local. */
static bool
classify_is_dns(const struct flow *f)
{
	return (f->key.proto == SP_PROTO_UDP || f->key.proto == SP_PROTO_TCP) &&
	       (f->key.pa == 53 || f->key.pb == 53);
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

/* Keep a copy of v (NULL: none) in *slot. Out of memory: false, and *slot
 * keeps what it held. */
static bool
extra_set(char **slot, const char *v)
{
	char *copy = NULL;

	if (*slot != NULL && v != NULL && strcmp(*slot, v) == 0)
		return true;
	if (v != NULL && (copy = strdup(v)) == NULL)
		return false;
	free(*slot);
	*slot = copy;
	return true;
}

/*
 * The names the cache holds for addr (up to CLASSIFY_NAMES_QUERY), copied
 * into buf, out pointing at the copies. The cache's own strings live only
 * until its next add, so the copies let the lock be held for the lookup
 * alone, never while the rules run.
 */
static size_t
classify_names_copy(struct classifier *c, const struct sp_addr *addr,
                    uint64_t now_ns, char buf[][SP_NAME_MAX + 1],
                    const char **out)
{
	const char *found[CLASSIFY_NAMES_QUERY];
	size_t n, i, len;

	names_lock(c);
	n = names_lookup(c->names, addr, now_ns, found, CLASSIFY_NAMES_QUERY);
	for (i = 0; i < n; i++) {
		len = strnlen(found[i], SP_NAME_MAX);
		memcpy(buf[i], found[i], len);
		buf[i][len] = '\0';
		out[i] = buf[i];
	}
	names_unlock(c);
	return n;
}

/* The rules' view of f, names aside. */
static void
classify_query(const struct flow *f, const struct classify_more *m,
               struct rules_query *q)
{
	const struct sp_addr *raddr, *laddr;
	uint16_t rport, lport;

	flow_remote(f, &raddr, &rport);
	flow_local(f, &laddr, &lport);
	memset(q, 0, sizeof(*q));
	q->dir = (enum sp_dir)f->dir;
	q->proto = f->key.proto;
	q->remote = *raddr;
	q->remote_port = rport;
	q->local_port = lport;
	q->exe = m != NULL ? m->exe : NULL;
	q->uid = f->uid;
}

/*
 * Match f against the rules with what is known of it now. carried is the
 * name the packet at hand carried (SNI, Host; carried_src says which), or
 * NULL for the one the flow kept from it, if any.
 */
static void
classify_match(struct classifier *c, struct flow *f, uint64_t now_ns,
               const char *carried, uint8_t carried_src)
{
	char buf[CLASSIFY_NAMES_QUERY][SP_NAME_MAX + 1];
	const char *names[CLASSIFY_NAMES_QUERY];
	const struct sp_addr *raddr;
	struct rules_query q;
	struct rules_result res;
	struct classify_extra *e = extra_slot(c, f->id);
	struct classify_more *m = e->id == f->id ? e->more : NULL;
	uint16_t rport;
	uint8_t src;
	size_t n;

	flow_remote(f, &raddr, &rport);
	classify_query(f, m, &q);
	n = classify_names_copy(c, raddr, now_ns, buf, names);
	src = n > 0 ? CLASSIFY_NAME_DNS : CLASSIFY_NAME_NONE;
	if (carried == NULL && m != NULL && m->name != NULL) {
		carried = m->name;
		carried_src = m->host_src;
	}
	/* A name the flow itself carried counts when DNS gave none. */
	if (n == 0 && carried != NULL) {
		names[0] = carried;
		n = 1;
		src = carried_src;
	}
	q.names = names;
	q.nnames = n;

	memset(&res, 0, sizeof(res));
	f->verdict =
	        (uint8_t)(c->cfg.rules != NULL ? rules_match(c->cfg.rules, &q,
	                                                     c->cfg.dflt, &res)
	                                       : c->cfg.dflt);
	f->rule = c->cfg.rules != NULL && res.rule != UINT32_MAX
	                  ? res.rule
	                  : FLOW_RULE_DEFAULT;
	c->st.decisions++;
	if (n == 0 && e->id != f->id)
		return;
	e->id = f->id;
	/* The host is the name that was asked for: names.h hands the newest
	 * answer's chain out question first. Out of memory, the flow keeps
	 * the host (and its source) it had: decided all the same. */
	if (extra_set(&e->host, n > 0 ? names[0] : NULL) && e->more != NULL)
		e->more->host_src = src;
}

/*
 * Should new flow f wait for a name from its first payload? Only an
 * outbound TCP connection seen from its SYN, whose remote address has no
 * name, and only when some host/domain rule whose other clauses hold for
 * it would rank above what decides it without a name (RULES.md: a name
 * rule beats an address rule of the same priority and process class).
 */
static bool
classify_hold_wanted(struct classifier *c, const struct flow *f,
                     const struct packet *pkt, uint64_t now_ns)
{
	const char *names[1];
	const struct sp_addr *raddr;
	const struct rules_rule *r;
	struct rules_query q;
	struct rules_result res;
	struct classify_extra *e;
	uint16_t rport;
	size_t n, i;
	bool prio, proc;

	if (!c->cfg.name_hold || c->nname_rules == 0 ||
	    f->key.proto != SP_PROTO_TCP || f->dir != SP_DIR_OUT ||
	    (pkt->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_ACK)) !=
	            PACKET_TCP_SYN)
		return false;
	flow_remote(f, &raddr, &rport);
	names_lock(c);
	n = names_lookup(c->names, raddr, now_ns, names, 1);
	names_unlock(c);
	if (n > 0)
		return false;
	e = extra_slot(c, f->id);
	classify_query(f, e->id == f->id ? e->more : NULL, &q);
	memset(&res, 0, sizeof(res));
	rules_match(c->cfg.rules, &q, c->cfg.dflt, &res);
	for (i = 0; i < c->nname_rules; i++) {
		r = rules_get(c->cfg.rules, c->name_rules[i]);
		if (r == NULL || !rules_rule_holds(r, &q))
			continue;
		if (res.rule == UINT32_MAX)
			return true;
		prio = (r->clauses & RULES_C_PRIORITY) != 0;
		proc = r->process != NULL;
		if (prio != res.key.priority) {
			if (prio)
				return true;
			continue;
		}
		if (proc || !res.key.process)
			return true;
	}
	return false;
}

/*
 * The first payload of a held flow: take its name, then decide. The name
 * decides even when the flow cannot keep a copy of it (out of memory);
 * only a later re-decision (a reload) then goes without it.
 */
static void
classify_name_decide(struct classifier *c, struct flow *f,
                     const struct packet *pkt, int dir, uint64_t now_ns)
{
	char name[SP_NAME_MAX + 1];
	struct classify_more *m = extra_more(c, f);
	struct sp_view v;
	enum sni_kind kind = SNI_KIND_TLS;
	uint8_t src;

	f->flags &= ~(uint32_t)FLOW_F_NAME_WAIT;
	if (m != NULL)
		m->held = true;
	/* Only the local side's first bytes name the remote end; a server
	 * that speaks first (SSH, SMTP) means there is no name to wait for. */
	if (dir != 0 ||
	    sni_parse(pkt->payload.p, pkt->payload.len, &kind, &v) != SNI_OK ||
	    !sni_name_normalize(kind, &v, name)) {
		c->st.names_missing++;
		classify_match(c, f, now_ns, NULL, 0);
		return;
	}
	src = kind == SNI_KIND_TLS ? CLASSIFY_NAME_SNI : CLASSIFY_NAME_HTTP;
	if (m != NULL && extra_set(&m->name, name))
		m->host_src = src;
	if (kind == SNI_KIND_TLS)
		c->st.names_sni++;
	else
		c->st.names_http++;
	if (c->cfg.name_seen != NULL) {
		const struct sp_addr *ra;
		uint16_t rp;

		flow_remote(f, &ra, &rp);
		c->cfg.name_seen(ra, name, (enum classify_name_src)src, 0,
		                 c->cfg.name_seen_arg);
	}
	classify_match(c, f, now_ns, name, src);
}

/*
 * A new flow: which end is local, who owns it, then the rules, or a wait
 * for the name its first payload carries.
 */
static void
classify_decide(struct classifier *c, struct flow *f, uint32_t uid_hint,
                enum classify_hook hook, const struct packet *pkt,
                uint64_t now_ns)
{
	struct classify_owner *own = &c->own;
	struct classify_more *m;

	classify_orient(c, f, hook);
	if (classify_is_dns(f))
		f->flags |= FLOW_F_DNS;
	f->uid = uid_hint;
	own->pid = own->ppid = -1;
	own->uid = uid_hint;
	own->nprocs = 0;
	own->how = CLASSIFY_ATTRIB_NONE;
	own->exe[0] = own->cmdline[0] = '\0';
	if (c->cfg.owner != NULL &&
	    c->cfg.owner(f, uid_hint, own, c->cfg.owner_arg)) {
		f->pid = own->pid;
		f->uid = own->uid;
		if (own->how != CLASSIFY_ATTRIB_NONE &&
		    (m = extra_more(c, f)) != NULL) {
			extra_set(&m->exe, own->exe[0] ? own->exe : NULL);
			extra_set(&m->cmdline,
			          own->cmdline[0] ? own->cmdline : NULL);
			m->ppid = own->ppid;
			m->nprocs = own->nprocs;
			m->attrib = (uint8_t)own->how;
		}
	}
	if (classify_hold_wanted(c, f, pkt, now_ns)) {
		/* The handshake passes; nothing else can before the name. */
		f->flags |= FLOW_F_NAME_WAIT;
		f->verdict = SP_VERDICT_ALLOW;
		f->rule = FLOW_RULE_NONE;
		c->st.name_holds++;
		return;
	}
	classify_match(c, f, now_ns, NULL, 0);
}

static void
classify_dns_seen(const struct sp_addr *addr, const char *name, uint32_t ttl,
                  void *arg)
{
	struct classifier *c = arg;

	c->cfg.name_seen(addr, name, CLASSIFY_NAME_DNS, ttl,
	                 c->cfg.name_seen_arg);
}

static void
classify_feed_dns(struct classifier *c, const struct packet *pkt,
                  uint64_t now_ns)
{
	enum dns_status st;

	names_lock(c);
	st = names_feed_packet_cb(
	        c->names, pkt, now_ns,
	        c->cfg.name_seen != NULL ? classify_dns_seen : NULL, c);
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

/*
 * Is this packet, on a flow the table knows, the first of a new socket on
 * the same ports? For flows this host started, on its side: a TCP SYN
 * after the flow was rejected (the reset killed the old socket) or after
 * its process exited; a UDP packet after a pause, its process gone.
 */
static bool
classify_renew_wanted(struct classifier *c, const struct flow *f,
                      const struct packet *pkt, int dir, uint64_t now_ns)
{
	if (dir != 0 || f->dir != SP_DIR_OUT)
		return false;
	if (f->key.proto == SP_PROTO_TCP) {
		if ((pkt->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_ACK)) !=
		    PACKET_TCP_SYN)
			return false;
		if (f->verdict == SP_VERDICT_REJECT)
			return true;
	} else if (f->key.proto != SP_PROTO_UDP ||
	           now_ns < f->last_ns + CLASSIFY_RENEW_GAP_NS) {
		return false;
	}
	return f->pid > 0 && c->cfg.owner_gone != NULL &&
	       c->cfg.owner_gone(f, c->cfg.owner_arg);
}

/* Forget what belonged to the old socket. */
static void
classify_renew(struct classifier *c, struct flow *f)
{
	extra_del(c, f->id);
	f->flags &= ~(uint32_t)FLOW_F_NAME_WAIT;
	f->pid = -1;
	c->st.renewed++;
}

/* The flow of a parsed packet, its decision when new, and its counters. */
static void
classify_packet(struct classifier *c, const struct packet *pkt, uint64_t now_ns,
                uint32_t uid_hint, enum classify_hook hook,
                struct classify_result *res)
{
	struct flow *f;
	enum sp_verdict v;
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
		if (!created && classify_renew_wanted(c, f, pkt, dir, now_ns)) {
			classify_renew(c, f);
			created = true;
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
		classify_decide(c, f, uid_hint, hook, pkt, now_ns);
	if ((f->flags & FLOW_F_NAME_WAIT) && pkt->payload.len > 0 &&
	    !(pkt->flags & PACKET_F_FRAG_LATER))
		classify_name_decide(c, f, pkt, dir, now_ns);
	v = (enum sp_verdict)f->verdict;
	/*
	 * A held flow denied on its payload has an established connection:
	 * the local side's packets are rejected (a TCP reset to the local
	 * socket, which fails at once) rather than dropped in silence.
	 */
	if (v == SP_VERDICT_DENY && c->cfg.name_hold && dir == 0 &&
	    f->key.proto == SP_PROTO_TCP && f->dir == SP_DIR_OUT) {
		const struct classify_extra *e = extra_slot(c, f->id);

		if (e->id == f->id && e->more != NULL && e->more->held)
			v = SP_VERDICT_REJECT;
	}
	flow_update(c->flows, f, pkt, dir, now_ns);
	c->st.verdicts[v & 3]++;
	res->verdict = v;
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
	classify_index_names(c);
}

struct flow *
classify_find(struct classifier *c, uint8_t proto, const struct sp_addr *src,
              uint16_t sport, const struct sp_addr *dst, uint16_t dport,
              int *dir)
{
	struct packet pkt;
	struct flow_key k;
	struct flow *f;
	bool src_is_a;

	memset(&pkt, 0, sizeof(pkt));
	pkt.src = *src;
	pkt.dst = *dst;
	pkt.sport = sport;
	pkt.dport = dport;
	pkt.proto = proto;
	pkt.family = src->family;
	flow_key_from_packet(&k, &pkt, &src_is_a);
	if ((f = flow_find(c->flows, &k)) != NULL && dir != NULL)
		*dir = (src_is_a == ((f->flags & FLOW_F_ORIG_A) != 0)) ? 0 : 1;
	return f;
}

void
classify_end(struct classifier *c, struct flow *f)
{
	flow_end(c->flows, f);
}

struct classify_redo {
	struct classifier *c;
	uint64_t now_ns;
	size_t changed;
	classify_changed_fn fn;
	void *arg;
};

static void
classify_redecide_one(struct flow *f, void *arg)
{
	struct classify_redo *r = arg;
	uint8_t before = f->verdict;

	if (f->flags & FLOW_F_NAME_WAIT)
		return; /* decided when its name comes */
	classify_match(r->c, f, r->now_ns, NULL, 0);
	if (f->verdict != before) {
		r->changed++;
		if (r->fn != NULL)
			r->fn(f, (enum sp_verdict)before, r->arg);
	}
}

size_t
classify_redecide(struct classifier *c, uint64_t now_ns,
                  classify_changed_fn changed, void *arg)
{
	struct classify_redo r = {c, now_ns, 0, changed, arg};

	flow_foreach(c->flows, classify_redecide_one, &r);
	return r.changed;
}

size_t
classify_expire(struct classifier *c, uint64_t now_ns)
{
	return flow_expire(c->flows, now_ns);
}

void
classify_flush(struct classifier *c)
{
	/* Each flow goes through classify_flow_ended(), as at expiry. */
	flow_table_clear(c->flows);
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

	return e->id == f->id && e->more != NULL ? e->more->exe : NULL;
}

void
classify_flow_info(const struct classifier *c, const struct flow *f,
                   struct classify_flow_info *out)
{
	const struct classify_extra *e = extra_slot(c, f->id);
	const struct classify_more *m;

	memset(out, 0, sizeof(*out));
	out->ppid = -1;
	if (e->id != f->id)
		return;
	out->host = e->host;
	out->host_src =
	        e->host != NULL ? CLASSIFY_NAME_DNS : CLASSIFY_NAME_NONE;
	if ((m = e->more) == NULL)
		return;
	if (e->host != NULL && m->host_src != CLASSIFY_NAME_NONE)
		out->host_src = (enum classify_name_src)m->host_src;
	out->exe = m->exe;
	out->cmdline = m->cmdline;
	out->ppid = m->ppid;
	out->nprocs = m->nprocs;
	out->attrib = (enum classify_attrib)m->attrib;
	out->held = m->held;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A new flow's decision: which end is local, who owns it, the names its
 * remote has (copied out of the shared cache), the rules; or the wait for
 * the name (TLS SNI, HTTP Host) its first payload carries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "classify_int.h"
#include "spackle/sni.h"

void
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

void
classify_match(struct classifier *c, struct flow *f, uint64_t now_ns,
               const char *carried, uint8_t carried_src)
{
	char buf[CLASSIFY_NAMES_QUERY][SP_NAME_MAX + 1];
	const char *names[CLASSIFY_NAMES_QUERY];
	const struct sp_addr *raddr;
	struct rules_query q;
	struct rules_result res;
	struct classify_extra *e = classify_extra_of(c, f);
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
	if (f->rule != FLOW_RULE_DEFAULT)
		rules_decided_add(c->cfg.rules, f->rule);
	if (n == 0 && e->id != f->id)
		return;
	e = classify_extra_take(c, f);
	/* The host is the name that was asked for: names.h hands the newest
	 * answer's chain out question first. Out of memory, the flow keeps
	 * the host (and its source) it had: decided all the same. */
	if (classify_extra_share(c, &e->host, n > 0 ? names[0] : NULL) &&
	    e->more != NULL)
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
	e = classify_extra_of(c, f);
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

/* The name decides even when the flow cannot keep a copy of it (out of
 * memory); only a later re-decision (a reload) then goes without it. */
/* v as printable ASCII into *dst (replacing it): bytes outside 0x20-0x7e
 * and the backslash as \xNN, at most SP_NAME_MAX of them. false out of
 * memory. */
static bool
classify_name_raw(char **dst, const struct sp_view *v)
{
	size_t n = v->len < SP_NAME_MAX ? v->len : SP_NAME_MAX, i, o = 0;
	char *s = malloc(4 * n + 1);

	if (s == NULL)
		return false;
	for (i = 0; i < n; i++) {
		uint8_t b = v->p[i];

		if (b >= 0x20 && b < 0x7f && b != '\\')
			s[o++] = (char)b;
		else
			o += (size_t)snprintf(s + o, 5, "\\x%02x", b);
	}
	s[o] = '\0';
	free(*dst);
	*dst = s;
	return true;
}

void
classify_name_decide(struct classifier *c, struct flow *f,
                     const struct packet *pkt, int dir, uint64_t now_ns)
{
	char name[SP_NAME_MAX + 1];
	struct classify_more *m = classify_extra_more(c, f);
	struct sp_view v;
	enum sni_kind kind = SNI_KIND_TLS;
	uint8_t src;

	f->flags &= ~(uint32_t)FLOW_F_NAME_WAIT;
	if (m != NULL)
		m->held = true;
	/* Only the local side's first bytes name the remote end; a server
	 * that speaks first (SSH, SMTP) means there is no name to wait for. */
	if (dir != 0 ||
	    sni_parse(pkt->payload.p, pkt->payload.len, &kind, &v) != SNI_OK) {
		c->st.names_missing++;
		classify_match(c, f, now_ns, NULL, 0);
		return;
	}
	src = kind == SNI_KIND_TLS ? CLASSIFY_NAME_SNI : CLASSIFY_NAME_HTTP;
	if (!sni_name_normalize(kind, &v, name)) {
		/* No name a rule can match: it decides nothing, but is kept
		 * to be shown (conns, the web monitor) as the text it was. */
		if (m != NULL && classify_name_raw(&m->name_raw, &v))
			m->name_raw_src = src;
		c->st.names_missing++;
		classify_match(c, f, now_ns, NULL, 0);
		return;
	}
	if (m != NULL && classify_extra_set(&m->name, name))
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

void
classify_decide(struct classifier *c, struct flow *f,
                const struct classify_input *in, const struct packet *pkt,
                uint64_t now_ns)
{
	uint32_t uid_hint = in->uid_hint;
	enum classify_hook hook = (enum classify_hook)in->hook;
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
	    c->cfg.owner(f, in, own, c->cfg.owner_arg)) {
		f->pid = own->pid;
		f->uid = own->uid;
		if (own->how != CLASSIFY_ATTRIB_NONE &&
		    (m = classify_extra_more(c, f)) != NULL) {
			classify_extra_share(c, &m->exe,
			                     own->exe[0] ? own->exe : NULL);
			classify_extra_share(c, &m->cmdline,
			                     own->cmdline[0] ? own->cmdline
			                                     : NULL);
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

void
classify_set_rules(struct classifier *c, const struct ruleset *rules,
                   enum sp_verdict dflt)
{
	c->cfg.rules = rules;
	c->cfg.dflt = dflt;
	classify_index_names(c);
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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The classifier: the data path from a frame to a verdict (parse, flow, DNS
 * answers into the names, bursts), shared by the daemon and replay so both
 * decide exactly alike. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "classify_int.h"

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
	classify_extra_del(c, f);
}

struct classifier *
classify_new(const struct classify_config *cfg)
{
	struct classifier *c;
	size_t cap;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->cfg = *cfg;
	c->seed = sp_now_mono() ^ (uintptr_t)c;
	cap = cfg->flows.max_flows ? cfg->flows.max_flows : SP_FLOWS_DEFAULT;
	c->extra_cap = cap;
	/* Left as calloc gave it, so an idle daemon does not hold it: an
	 * entry is at its flow's slot, and the pool hands out low slots
	 * first (the one freed last), so pages are mapped as flows come. */
	c->extra = calloc(cap, sizeof(*c->extra));
	if (c->extra != NULL)
		sp_ahead_init(&c->extra_ahead, c->extra,
		              cap * sizeof(*c->extra));
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
	if (c == NULL)
		return;
	if (c->extra != NULL)
		classify_extra_clear(c);
	free(c->extra);
	free(c->name_rules);
	flow_table_free(c->flows);
	if (c->cfg.shared_names == NULL)
		names_free(c->names);
	free(c);
}

bool
classify_ahead(struct classifier *c)
{
	bool pool = flow_table_ahead(c->flows);

	return sp_ahead_fill(&c->extra_ahead,
	                     c->extra + flow_table_slots(c->flows)) ||
	       pool;
}

static bool
classify_loopback(const struct sp_addr *a)
{
	static const uint8_t v6lo[16] = {[15] = 1};

	if (a->family == AF_INET)
		return a->b[12] == 127;
	return memcmp(a->b, v6lo, 16) == 0;
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
	classify_extra_del(c, f);
	f->flags &= ~(uint32_t)FLOW_F_NAME_WAIT;
	f->pid = -1;
	c->st.renewed++;
}

/* The flow of a parsed packet, its decision when new, and its counters. */
static void
classify_packet(struct classifier *c, const struct packet *pkt,
                const struct classify_input *in, struct classify_result *res)
{
	uint64_t now_ns = in->ts_ns;
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
		classify_decide(c, f, in, pkt, now_ns);
	if ((f->flags & FLOW_F_NAME_WAIT) && pkt->payload.len > 0 &&
	    !(pkt->flags & PACKET_F_FRAG_LATER))
		classify_name_decide(c, f, pkt, dir, now_ns);
	v = (enum sp_verdict)f->verdict;
	/*
	 * A held flow refused on its payload has an established connection:
	 * the local side's packets are rejected (a TCP reset to the local
	 * socket, which fails at once) rather than dropped in silence, and
	 * the caller is asked, once, to reset the remote end too.
	 */
	if ((v == SP_VERDICT_DENY || v == SP_VERDICT_REJECT) &&
	    c->cfg.name_hold && dir == 0 && f->key.proto == SP_PROTO_TCP &&
	    f->dir == SP_DIR_OUT) {
		const struct classify_extra *e = classify_extra_of(c, f);

		if (e->id == f->id && e->more != NULL && e->more->held) {
			v = SP_VERDICT_REJECT;
			if (!(f->flags & FLOW_F_PEER_RESET) &&
			    pkt->payload.len > 0) {
				f->flags |= FLOW_F_PEER_RESET;
				res->reset_peer = true;
			}
		}
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
	res->reset_peer = false;
}

void
classify_frame(struct classifier *c, int link, const uint8_t *p, size_t len,
               size_t wirelen, uint64_t now_ns, uint32_t uid_hint,
               struct classify_result *res)
{
	struct classify_input in = {
	        .p = p,
	        .len = len,
	        .wirelen = wirelen,
	        .ts_ns = now_ns,
	        .uid_hint = uid_hint,
	        .gid_hint = UINT32_MAX,
	        .link = link,
	        .hook = CLASSIFY_HOOK_NONE,
	};
	struct packet pkt;

	classify_result_init(res);
	res->status = classify_parse(c, link, p, len, wirelen, &pkt);
	if (res->status == PACKET_OK)
		classify_packet(c, &pkt, &in, res);
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
			classify_packet(c, &pkt[i], &in[i], &res[i]);
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

void
classify_memory(const struct classifier *c, struct classify_memory *m)
{
	size_t cap = c->cfg.flows.max_flows ? c->cfg.flows.max_flows
	                                    : SP_FLOWS_DEFAULT;

	m->flows_cap = cap;
	m->tables = cap * flow_table_bytes_per_flow() +
	            c->extra_cap * sizeof(*c->extra);
	m->carried = c->nmore;
	m->carried_bytes = c->nmore * sizeof(struct classify_more);
	m->strings = c->strs.n;
	m->strings_bytes =
	        c->strs.bytes +
	        (c->strs.v != NULL ? (c->strs.mask + 1) * sizeof(*c->strs.v)
	                           : 0);
}

size_t
classify_bytes_per_flow(void)
{
	/* A record's malloc carries up to 16 bytes beside it. */
	return flow_table_bytes_per_flow() + sizeof(struct classify_extra) +
	       sizeof(struct classify_more) + 16;
}

struct flow_table *
classify_flows(struct classifier *c)
{
	return c->flows;
}

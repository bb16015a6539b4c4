/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The classifier: names before decisions, solicited answers only, bursts
 * decide exactly as single frames, cut packets told from snapped ones, the
 * names lock never held while the rules run, DNS flows marked, and a
 * failed allocation that still decides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/classify.h"
#include "tests/tools/capgen.h"

#define LOCAL  "192.0.2.10"
#define DNSSRV "198.51.100.53"
#define T0     1764326400000000000ull

struct frame {
	uint8_t b[CAPGEN_PKT_MAX];
	size_t len;
};

/*
 * The test links with -Wl,--wrap=strdup,--wrap=rules_match (CMakeLists):
 * every strdup and the classifier's rules_match come here first.
 */
char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);
enum sp_verdict __real_rules_match(const struct ruleset *rs,
                                   const struct rules_query *q,
                                   enum sp_verdict dflt,
                                   struct rules_result *res);
enum sp_verdict __wrap_rules_match(const struct ruleset *rs,
                                   const struct rules_query *q,
                                   enum sp_verdict dflt,
                                   struct rules_result *res);

static unsigned strdup_fail_in; /* the n-th strdup from now fails; 0 none */
static pthread_mutex_t *watched_lock; /* must be free while rules run */
static unsigned matches, matches_locked;

char *
__wrap_strdup(const char *s)
{
	if (strdup_fail_in > 0 && --strdup_fail_in == 0)
		return NULL;
	return __real_strdup(s);
}

enum sp_verdict
__wrap_rules_match(const struct ruleset *rs, const struct rules_query *q,
                   enum sp_verdict dflt, struct rules_result *res)
{
	matches++;
	if (watched_lock != NULL) {
		if (pthread_mutex_trylock(watched_lock) != 0)
			matches_locked++;
		else
			pthread_mutex_unlock(watched_lock);
	}
	return __real_rules_match(rs, q, dflt, res);
}

static struct ruleset *
load(const char *text)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;

	memset(&d, 0, sizeof(d));
	assert_int_equal(
	        rules_load_buffer(rs, "t.rules", text, strlen(text), &d), 0);
	assert_int_equal(rules_compile(rs, &d), 0);
	assert_int_equal(d.errors, 0);
	rules_diags_free(&d);
	return rs;
}

/* A classifier; with hold, new flows wait for a name (SNI, Host); with
 * names, it shares that cache under lock, as the daemon's workers do. */
static struct classifier *
make_with(const struct ruleset *rs, bool hold, struct names_cache *names,
          pthread_mutex_t *lock)
{
	struct classify_config cc;
	struct classifier *c;

	memset(&cc, 0, sizeof(cc));
	cc.rules = rs;
	cc.dflt = SP_VERDICT_ALLOW;
	cc.flows.max_flows = 1024;
	cc.name_hold = hold;
	cc.shared_names = names;
	cc.names_lock = lock;
	c = classify_new(&cc);
	assert_non_null(c);
	return c;
}

static struct classifier *
make(const struct ruleset *rs)
{
	return make_with(rs, false, NULL, NULL);
}

static void
build(struct frame *f, const struct capgen_pkt *p)
{
	f->len = capgen_build(f->b, sizeof(f->b), p);
	assert_true(f->len > 0);
}

static void
dns_pair(struct frame *q, struct frame *a, uint16_t port, const char *name,
         const char *addr)
{
	uint8_t msg[512];
	const char *const addrs[] = {addr};
	struct capgen_pkt p = {.src = LOCAL,
	                       .dst = DNSSRV,
	                       .proto = SP_PROTO_UDP,
	                       .sport = port,
	                       .dport = 53,
	                       .payload = msg};

	p.plen = capgen_dns_query(msg, sizeof(msg), port, name);
	build(q, &p);
	p.src = DNSSRV;
	p.dst = LOCAL;
	p.sport = 53;
	p.dport = port;
	p.plen = capgen_dns_response(msg, sizeof(msg), port, name, NULL, 0,
	                             addrs, 1, 300);
	build(a, &p);
}

/* A SYN from the local host; returns the new flow's result. */
static void
send_syn(struct classifier *c, const char *dst, uint16_t sport, uint64_t now,
         struct classify_result *res)
{
	struct capgen_pkt p = {.src = LOCAL,
	                       .dst = dst,
	                       .proto = SP_PROTO_TCP,
	                       .sport = sport,
	                       .dport = 443,
	                       .tcp_flags = 0x02};
	struct frame f;

	build(&f, &p);
	classify_frame(c, PACKET_LINK_RAW, f.b, f.len, f.len, now, UINT32_MAX,
	               res);
	assert_int_equal(res->status, PACKET_OK);
	assert_true(res->new_flow);
}

/* One packet through c; its result. */
static void
send_pkt(struct classifier *c, const struct capgen_pkt *p, uint64_t now,
         struct classify_result *res)
{
	struct frame f;

	build(&f, p);
	classify_frame(c, PACKET_LINK_RAW, f.b, f.len, f.len, now, UINT32_MAX,
	               res);
	assert_int_equal(res->status, PACKET_OK);
}

/* The local side's first payload on a flow of send_syn(): an HTTP request
 * naming host. */
static void
send_http(struct classifier *c, const char *dst, uint16_t sport,
          const char *host, uint64_t now, struct classify_result *res)
{
	char req[256];
	struct capgen_pkt p = {.src = LOCAL,
	                       .dst = dst,
	                       .proto = SP_PROTO_TCP,
	                       .sport = sport,
	                       .dport = 443,
	                       .tcp_flags = 0x18,
	                       .payload = (const uint8_t *)req};

	p.plen = (size_t)snprintf(req, sizeof(req),
	                          "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
	send_pkt(c, &p, now, res);
	assert_false(res->new_flow);
}

static void
feed(struct classifier *c, const struct frame *f, uint64_t now)
{
	struct classify_result res;

	classify_frame(c, PACKET_LINK_RAW, f->b, f->len, f->len, now,
	               UINT32_MAX, &res);
	assert_int_equal(res.status, PACKET_OK);
}

/* A name learnt from an answer decides the connection that follows it. */
static void
test_answer_then_connection(void **state)
{
	struct ruleset *rs = load("deny out to domain blocked.example\n");
	struct classifier *c = make(rs);
	struct classify_result res;
	struct frame q, a;

	(void)state;
	dns_pair(&q, &a, 4000, "www.blocked.example", "203.0.113.1");
	feed(c, &q, T0);
	feed(c, &a, T0 + 1000);
	send_syn(c, "203.0.113.1", 5000, T0 + 2000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_DENY);
	assert_string_equal(classify_flow_host(c, res.flow),
	                    "www.blocked.example");
	assert_int_equal(res.flow->dir, SP_DIR_OUT);
	/* the answer's TTL (300 s) runs out: the name no longer applies */
	send_syn(c, "203.0.113.1", 5001, T0 + 301000000000ull, &res);
	assert_int_equal(res.verdict, SP_VERDICT_ALLOW);
	assert_null(classify_flow_host(c, res.flow));
	classify_free(c);
	rules_free(rs);
}

/* An answer nobody asked for names nothing. */
static void
test_unsolicited_answer_ignored(void **state)
{
	struct ruleset *rs =
	        load("deny out to any\nallow out to host trusted.example\n");
	struct classifier *c = make(rs);
	struct classify_result res;
	struct classify_stats st;
	struct frame q, a;

	(void)state;
	dns_pair(&q, &a, 4001, "trusted.example", "203.0.113.2");
	feed(c, &a, T0);
	classify_stats(c, &st);
	assert_int_equal(st.dns_answers, 0);
	send_syn(c, "203.0.113.2", 5002, T0 + 1000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_DENY);
	/* asked for, the same answer counts */
	feed(c, &q, T0 + 2000);
	feed(c, &a, T0 + 3000);
	send_syn(c, "203.0.113.2", 5003, T0 + 4000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_ALLOW);
	classify_free(c);
	rules_free(rs);
}

/* Flows, packets and a hash of where they went, summed over a table. */
static void
sum_flow(struct flow *f, void *arg)
{
	uint64_t *s = arg;

	s[0]++;
	s[1] += f->packets[0] + f->packets[1];
	s[2] += (f->packets[0] * 31 + f->bytes[1]) ^ f->key.pa ^ f->rule;
}

/* Bursts decide and count exactly as frames one by one. */
static void
test_burst_equals_frames(void **state)
{
	struct ruleset *rs = load("deny out to domain d.example\n"
	                          "reject out proto udp port 9\n"
	                          "allow out priority to 203.0.113.7\n");
	struct classifier *one = make(rs), *many = make(rs);
	static struct frame f[200];
	struct classify_input in[CLASSIFY_BURST];
	struct classify_result r1, rn[CLASSIFY_BURST];
	struct classify_stats s1, sn;
	uint64_t seed = 1;
	size_t i, k, n, nf = 0;
	char dst[32];
	uint64_t sums[2][3];

	(void)state;
	dns_pair(&f[0], &f[1], 4002, "x.d.example", "203.0.113.9");
	nf = 2;
	while (nf < 200) {
		struct capgen_pkt p = {
		        .src = LOCAL, .proto = SP_PROTO_TCP, .tcp_flags = 0x10};

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		snprintf(dst, sizeof(dst), "203.0.113.%u",
		         (unsigned)(seed >> 60) + 1);
		p.dst = dst;
		p.sport = (uint16_t)(1000 + (seed >> 40) % 7);
		p.dport = (seed >> 33) & 1 ? 9 : 443;
		p.proto = (seed >> 35) & 1 ? SP_PROTO_UDP : SP_PROTO_TCP;
		if ((seed >> 37) & 1) { /* a reply */
			p.src = dst;
			p.dst = LOCAL;
			p.sport = p.dport;
			p.dport = (uint16_t)(1000 + (seed >> 40) % 7);
		}
		build(&f[nf++], &p);
	}
	for (i = 0; i < nf; i += n) {
		n = nf - i < CLASSIFY_BURST ? nf - i : CLASSIFY_BURST;
		for (k = 0; k < n; k++) {
			in[k].p = f[i + k].b;
			in[k].len = f[i + k].len;
			in[k].wirelen = f[i + k].len;
			in[k].ts_ns = T0 + (i + k) * 1000;
			in[k].uid_hint = UINT32_MAX;
			in[k].gid_hint = UINT32_MAX;
			in[k].link = PACKET_LINK_RAW;
			in[k].hook = CLASSIFY_HOOK_NONE;
		}
		classify_burst(many, in, n, rn);
		for (k = 0; k < n; k++) {
			classify_frame(one, PACKET_LINK_RAW, in[k].p, in[k].len,
			               in[k].wirelen, in[k].ts_ns, UINT32_MAX,
			               &r1);
			if (r1.verdict != rn[k].verdict ||
			    r1.status != rn[k].status ||
			    r1.new_flow != rn[k].new_flow ||
			    r1.flow->rule != rn[k].flow->rule)
				fail_msg("frame %zu: one by one %d/%d/%d/%u, "
				         "burst %d/%d/%d/%u",
				         i + k, r1.status, r1.verdict,
				         r1.new_flow, r1.flow->rule,
				         rn[k].status, rn[k].verdict,
				         rn[k].new_flow, rn[k].flow->rule);
			assert_int_equal(r1.status, rn[k].status);
			assert_int_equal(r1.verdict, rn[k].verdict);
			assert_int_equal(r1.new_flow, rn[k].new_flow);
			assert_int_equal(r1.flow->rule, rn[k].flow->rule);
		}
	}
	/* the same flows, with the same counters, in both tables */
	memset(sums, 0, sizeof(sums));
	flow_foreach(classify_flows(one), sum_flow, &sums[0]);
	flow_foreach(classify_flows(many), sum_flow, &sums[1]);
	assert_int_equal(sums[0][0], sums[1][0]);
	assert_int_equal(sums[0][1], sums[1][1]);
	assert_int_equal(sums[0][2], sums[1][2]);
	assert_int_equal(sums[0][1], nf);
	classify_stats(one, &s1);
	classify_stats(many, &sn);
	assert_int_equal(s1.decisions, sn.decisions);
	assert_true(s1.decisions > 10);
	assert_int_equal(s1.verdicts[SP_VERDICT_REJECT],
	                 sn.verdicts[SP_VERDICT_REJECT]);
	assert_true(s1.verdicts[SP_VERDICT_REJECT] > 0);
	assert_true(s1.verdicts[SP_VERDICT_DENY] > 0);
	classify_free(one);
	classify_free(many);
	rules_free(rs);
}

/*
 * A packet shorter than its IP header claims is malformed when that is the
 * whole packet, but classified when a snap length or copy range cut it.
 */
static void
test_cut_versus_snapped(void **state)
{
	static uint8_t data[600];
	struct capgen_pkt p = {.src = LOCAL,
	                       .dst = "203.0.113.3",
	                       .proto = SP_PROTO_UDP,
	                       .sport = 7,
	                       .dport = 7,
	                       .payload = data,
	                       .plen = sizeof(data)};
	struct classifier *c = make(NULL);
	struct classify_result res;
	struct classify_stats st;
	struct frame f;

	(void)state;
	build(&f, &p);
	classify_frame(c, PACKET_LINK_RAW, f.b, 100, 100, T0, UINT32_MAX, &res);
	assert_int_equal(res.status, PACKET_SHORT);
	assert_null(res.flow);
	classify_frame(c, PACKET_LINK_RAW, f.b, 100, f.len, T0, UINT32_MAX,
	               &res);
	assert_int_equal(res.status, PACKET_OK);
	assert_non_null(res.flow);
	assert_int_equal(res.flow->bytes[0], f.len);
	classify_stats(c, &st);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.packets, 2);
	classify_free(c);
}

/*
 * The shared names' lock is held to read the cache, never while the rules
 * run: not for a flow named by DNS, a held flow named by its Host, the
 * hold's own question, nor a re-decision.
 */
static void
test_names_lock_free_while_matching(void **state)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct names_cache *nc = names_new(64);
	struct ruleset *rs = load("deny out to domain blocked.example\n");
	struct classifier *c;
	struct classify_result res;
	struct frame q, a;

	(void)state;
	assert_non_null(nc);
	c = make_with(rs, true, nc, &mu);
	watched_lock = &mu;
	matches = matches_locked = 0;
	dns_pair(&q, &a, 4010, "www.blocked.example", "203.0.113.11");
	feed(c, &q, T0);
	feed(c, &a, T0 + 1000);
	send_syn(c, "203.0.113.11", 5010, T0 + 2000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_DENY);
	assert_string_equal(classify_flow_host(c, res.flow),
	                    "www.blocked.example");
	/* no name for this address: held, then its Host decides */
	send_syn(c, "203.0.113.12", 5011, T0 + 3000, &res);
	assert_true(res.flow->flags & FLOW_F_NAME_WAIT);
	send_http(c, "203.0.113.12", 5011, "a.blocked.example", T0 + 4000,
	          &res);
	assert_int_equal(res.flow->verdict, SP_VERDICT_DENY);
	assert_string_equal(classify_flow_host(c, res.flow),
	                    "a.blocked.example");
	assert_int_equal(classify_redecide(c, T0 + 5000, NULL, NULL), 0);
	assert_true(matches >= 5);
	assert_int_equal(matches_locked, 0);
	assert_int_equal(pthread_mutex_trylock(&mu), 0);
	pthread_mutex_unlock(&mu);
	watched_lock = NULL;
	classify_free(c);
	names_free(nc);
	rules_free(rs);
}

/* UDP or TCP to or from port 53 is DNS, whichever end is local; nothing
 * else is, an ICMP echo whose id is 53 neither. */
static void
test_dns_flag(void **state)
{
	struct classifier *c = make(NULL);
	struct classify_result res;
	struct capgen_pkt p = {.src = LOCAL,
	                       .dst = DNSSRV,
	                       .proto = SP_PROTO_UDP,
	                       .sport = 4100,
	                       .dport = 53};

	(void)state;
	send_pkt(c, &p, T0, &res);
	assert_true(res.new_flow);
	assert_true(res.flow->flags & FLOW_F_DNS);
	p.proto = SP_PROTO_TCP;
	p.tcp_flags = 0x02;
	send_pkt(c, &p, T0 + 1000, &res);
	assert_true(res.new_flow);
	assert_true(res.flow->flags & FLOW_F_DNS);
	/* a resolver on this host, asked from outside */
	p.src = "203.0.113.20";
	p.dst = LOCAL;
	p.proto = SP_PROTO_UDP;
	p.tcp_flags = 0;
	send_pkt(c, &p, T0 + 2000, &res);
	assert_true(res.new_flow);
	assert_int_equal(res.flow->dir, SP_DIR_OUT);
	assert_true(res.flow->flags & FLOW_F_DNS);

	p.src = LOCAL;
	p.dst = "203.0.113.21";
	p.dport = 443;
	send_pkt(c, &p, T0 + 3000, &res);
	assert_true(res.new_flow);
	assert_false(res.flow->flags & FLOW_F_DNS);
	p.proto = SP_PROTO_TCP;
	p.tcp_flags = 0x02;
	p.dport = 80;
	send_pkt(c, &p, T0 + 4000, &res);
	assert_true(res.new_flow);
	assert_false(res.flow->flags & FLOW_F_DNS);
	p.proto = SP_PROTO_ICMP;
	p.icmp_type = 8;
	p.sport = 53;
	p.tcp_flags = 0;
	send_pkt(c, &p, T0 + 5000, &res);
	assert_true(res.new_flow);
	assert_false(res.flow->flags & FLOW_F_DNS);
	classify_free(c);
}

/*
 * Out of memory copying a name, the flow is decided all the same: a held
 * flow by the name its payload carried, and a flow already named keeps
 * the host it had rather than losing it.
 */
static void
test_strdup_failure_still_decides(void **state)
{
	struct ruleset *rs = load("deny out proto tcp to domain evil.example\n"
	                          "deny out to domain b.example\n");
	struct classify_flow_info fi;
	struct classify_result res;
	struct classifier *c;
	struct frame q, a;

	(void)state;
	/* the held flow's own copy of its name fails: the name decides */
	c = make_with(rs, true, NULL, NULL);
	send_syn(c, "203.0.113.30", 5020, T0, &res);
	assert_true(res.flow->flags & FLOW_F_NAME_WAIT);
	strdup_fail_in = 1;
	send_http(c, "203.0.113.30", 5020, "www.evil.example", T0 + 1000, &res);
	assert_int_equal(strdup_fail_in, 0);
	assert_int_equal(res.verdict, SP_VERDICT_REJECT);
	assert_int_equal(res.flow->verdict, SP_VERDICT_DENY);
	assert_int_equal(res.flow->rule, 0);
	assert_string_equal(classify_flow_host(c, res.flow),
	                    "www.evil.example");
	classify_free(c);

	/* the copy of the host it was decided with fails: no host, decided */
	c = make_with(rs, true, NULL, NULL);
	send_syn(c, "203.0.113.31", 5021, T0, &res);
	strdup_fail_in = 2;
	send_http(c, "203.0.113.31", 5021, "www.evil.example", T0 + 1000, &res);
	assert_int_equal(strdup_fail_in, 0);
	assert_int_equal(res.flow->verdict, SP_VERDICT_DENY);
	classify_flow_info(c, res.flow, &fi);
	assert_null(fi.host);
	assert_int_equal(fi.host_src, CLASSIFY_NAME_NONE);
	assert_true(fi.held);
	classify_free(c);

	/* a re-decision by a new name whose copy fails: the new verdict,
	 * the old host kept */
	c = make(rs);
	dns_pair(&q, &a, 4020, "a.example", "203.0.113.32");
	feed(c, &q, T0);
	feed(c, &a, T0 + 1000);
	send_syn(c, "203.0.113.32", 5022, T0 + 2000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_ALLOW);
	dns_pair(&q, &a, 4021, "b.example", "203.0.113.32");
	feed(c, &q, T0 + 3000);
	feed(c, &a, T0 + 4000);
	strdup_fail_in = 1;
	assert_int_equal(classify_redecide(c, T0 + 5000, NULL, NULL), 1);
	assert_int_equal(strdup_fail_in, 0);
	assert_int_equal(res.flow->verdict, SP_VERDICT_DENY);
	assert_int_equal(res.flow->rule, 1);
	classify_flow_info(c, res.flow, &fi);
	assert_string_equal(fi.host, "a.example");
	assert_int_equal(fi.host_src, CLASSIFY_NAME_DNS);
	classify_free(c);
	rules_free(rs);
}

/*
 * A held flow refused on its payload asks, once, for its server's end to
 * be reset (the worker sends it): by a deny or a reject rule; an allowed
 * held flow and a flow refused on its first packet do not.
 */
/* The owner hook of test_shared_strings: even source ports belong to one
 * busy process, odd ones to another. */
static bool
busy_owner(const struct flow *f, const struct classify_input *in,
           struct classify_owner *out, void *arg)
{
	const struct sp_addr *addr;
	uint16_t port;
	bool odd;

	flow_local(f, &addr, &port);
	odd = port % 2 != 0;
	(void)in;
	(void)arg;
	out->pid = odd ? 200 : 100;
	out->uid = 1000;
	out->how = CLASSIFY_ATTRIB_SOCKET;
	snprintf(out->exe, sizeof(out->exe), "%s",
	         odd ? "/usr/bin/other" : "/usr/bin/busy");
	snprintf(out->cmdline, sizeof(out->cmdline), "%s --serve",
	         odd ? "other" : "busy");
	return true;
}

/*
 * A busy process's flows (or a flood's to one listener) share one copy
 * of its exe, its cmdline and their host's name: what the classifier
 * holds grows by a small record per flow, not by the strings, and the
 * copies go when the last flow holding them ends.
 */
static void
test_shared_strings(void **state)
{
	struct ruleset *rs = load("deny out to domain blocked.example\n");
	struct classifier *c;
	struct classify_config cc;
	struct classify_memory m;
	struct classify_flow_info a, b;
	struct classify_result res;
	struct flow *fl[600];
	struct frame q, an;
	unsigned i;

	(void)state;
	memset(&cc, 0, sizeof(cc));
	cc.rules = rs;
	cc.dflt = SP_VERDICT_ALLOW;
	cc.flows.max_flows = 1024;
	cc.owner = busy_owner;
	c = classify_new(&cc);
	assert_non_null(c);
	/* the query's own flow (odd port) is the other process's */
	dns_pair(&q, &an, 4101, "www.blocked.example", "203.0.113.40");
	feed(c, &q, T0);
	feed(c, &an, T0 + 1000);
	for (i = 0; i < 600; i++) {
		send_syn(c, "203.0.113.40", (uint16_t)(10000 + i),
		         T0 + 2000 + i, &res);
		assert_int_equal(res.verdict, SP_VERDICT_DENY);
		fl[i] = res.flow;
	}
	classify_memory(c, &m);
	assert_int_equal(m.carried, 601);
	/* one host, two exes, two cmdlines */
	assert_int_equal(m.strings, 5);
	assert_true(m.strings_bytes < 4096);
	classify_flow_info(c, fl[0], &a);
	classify_flow_info(c, fl[598], &b);
	assert_string_equal(a.exe, "/usr/bin/busy");
	assert_string_equal(b.cmdline, "busy --serve");
	assert_ptr_equal(a.exe, b.exe);
	assert_ptr_equal(a.cmdline, b.cmdline);
	assert_ptr_equal(a.host, b.host);
	classify_flow_info(c, fl[599], &b);
	assert_string_equal(b.exe, "/usr/bin/other");
	assert_string_equal(b.host, "www.blocked.example");
	/* the even flows end: the odd ones keep theirs */
	for (i = 0; i < 600; i += 2)
		classify_end(c, fl[i]);
	classify_memory(c, &m);
	assert_int_equal(m.carried, 301);
	assert_int_equal(m.strings, 3);
	classify_flow_info(c, fl[1], &a);
	assert_string_equal(a.exe, "/usr/bin/other");
	assert_string_equal(a.host, "www.blocked.example");
	/* A new flow takes the slot freed last, and nothing of what the
	 * flow before it there carried: an address without a name. */
	send_syn(c, "198.51.100.7", 20000, T0 + 9000, &res);
	assert_ptr_equal(res.flow, fl[598]);
	classify_flow_info(c, res.flow, &b);
	assert_null(b.host);
	assert_string_equal(b.exe, "/usr/bin/busy");
	classify_end(c, res.flow);
	for (i = 1; i < 600; i += 2)
		classify_end(c, fl[i]);
	/* what the DNS query's flow holds stays */
	classify_memory(c, &m);
	assert_int_equal(m.carried, 1);
	assert_int_equal(m.strings, 2);
	classify_free(c);
	rules_free(rs);
}

static void
test_held_refused_resets_peer(void **state)
{
	struct ruleset *rs = load("deny out proto tcp to domain evil.example\n"
	                          "allow out proto tcp to domain good.example\n"
	                          "reject out proto tcp to 203.0.113.40/29\n");
	struct classify_result res;
	struct classifier *c = make_with(rs, true, NULL, NULL);

	(void)state;
	send_syn(c, "203.0.113.41", 5030, T0, &res);
	assert_false(res.reset_peer);
	send_http(c, "203.0.113.41", 5030, "www.evil.example", T0 + 1000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_REJECT);
	assert_true(res.reset_peer);
	/* its retransmission: the server was asked once */
	send_http(c, "203.0.113.41", 5030, "www.evil.example", T0 + 2000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_REJECT);
	assert_false(res.reset_peer);

	/* no name a rule knows: the address rule rejects, after the hold */
	send_syn(c, "203.0.113.42", 5031, T0, &res);
	send_http(c, "203.0.113.42", 5031, "other.example", T0 + 1000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_REJECT);
	assert_true(res.reset_peer);

	/* allowed by its name: nothing to reset */
	send_syn(c, "203.0.113.43", 5032, T0, &res);
	send_http(c, "203.0.113.43", 5032, "good.example", T0 + 1000, &res);
	assert_int_equal(res.verdict, SP_VERDICT_ALLOW);
	assert_false(res.reset_peer);
	classify_free(c);
	rules_free(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_answer_then_connection),
	        cmocka_unit_test(test_unsolicited_answer_ignored),
	        cmocka_unit_test(test_burst_equals_frames),
	        cmocka_unit_test(test_cut_versus_snapped),
	        cmocka_unit_test(test_names_lock_free_while_matching),
	        cmocka_unit_test(test_dns_flag),
	        cmocka_unit_test(test_shared_strings),
	        cmocka_unit_test(test_strdup_failure_still_decides),
	        cmocka_unit_test(test_held_refused_resets_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle replay --json` over captures written here: verdicts per RULES.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/packet.h"
#include "tests/tools/capgen.h"

#define LOCAL4 "192.0.2.10"
#define LOCAL6 "2001:db8:1::10"
#define DNS4   "198.51.100.53"

/* One replay's output: the flows and the summary. */
struct run {
	json_t *flows; /* array */
	json_t *summary;
	int status;
};

static char tmpdir[] = "/tmp/spackle-replay-XXXXXX";
static uint64_t now = 1764326400ull * 1000000000ull;

static void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct capgen *
cap_open(const char *name, int link, enum capgen_format fmt)
{
	char path[512];
	struct capgen *g;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	g = capgen_open(path, link, fmt);
	assert_non_null(g);
	return g;
}

static void
tick(void)
{
	now += 1000000;
}

static void
dns_answer(struct capgen *g, uint16_t port, const char *qname,
           const char *const *cn, size_t ncn, const char *const *addrs,
           size_t naddrs)
{
	uint8_t msg[1024];
	struct capgen_pkt p = {.src = LOCAL4,
	                       .dst = DNS4,
	                       .proto = SP_PROTO_UDP,
	                       .sport = port,
	                       .dport = 53};

	p.payload = msg;
	p.plen = capgen_dns_query(msg, sizeof(msg), port, qname);
	assert_int_equal(capgen_write(g, now, &p), 0);
	tick();
	p.src = DNS4;
	p.dst = LOCAL4;
	p.sport = 53;
	p.dport = port;
	p.plen = capgen_dns_response(msg, sizeof(msg), port, qname, cn, ncn,
	                             addrs, naddrs, 300);
	assert_true(p.plen > 0);
	assert_int_equal(capgen_write(g, now, &p), 0);
	tick();
}

/* SYN from `from`, SYN-ACK back, ACK: three packets of one flow. */
static void
tcp_open(struct capgen *g, const char *from, uint16_t sport, const char *to,
         uint16_t dport)
{
	struct capgen_pkt c = {.src = from,
	                       .dst = to,
	                       .proto = SP_PROTO_TCP,
	                       .sport = sport,
	                       .dport = dport,
	                       .tcp_flags = PACKET_TCP_SYN};
	struct capgen_pkt s = {.src = to,
	                       .dst = from,
	                       .proto = SP_PROTO_TCP,
	                       .sport = dport,
	                       .dport = sport,
	                       .tcp_flags = PACKET_TCP_SYN | PACKET_TCP_ACK};

	assert_int_equal(capgen_write(g, now, &c), 0);
	tick();
	assert_int_equal(capgen_write(g, now, &s), 0);
	tick();
	c.tcp_flags = PACKET_TCP_ACK;
	assert_int_equal(capgen_write(g, now, &c), 0);
	tick();
}

static void
udp_send(struct capgen *g, const char *from, uint16_t sport, const char *to,
         uint16_t dport)
{
	static const uint8_t data[32];
	struct capgen_pkt p = {.src = from,
	                       .dst = to,
	                       .proto = SP_PROTO_UDP,
	                       .sport = sport,
	                       .dport = dport,
	                       .payload = data,
	                       .plen = sizeof(data)};

	assert_int_equal(capgen_write(g, now, &p), 0);
	tick();
}

static void
run_replay(struct run *r, const char *cap, const char *extra)
{
	char cmd[2048], line[8192];
	const char *bin = getenv("SPACKLE_BIN");
	json_error_t je;
	json_t *o;
	FILE *p;

	assert_non_null(bin);
	snprintf(cmd, sizeof(cmd),
	         "%s replay --json --rules %s/rules --local 192.0.2.0/24 "
	         "--local 2001:db8:1::/48 %s %s/%s 2>%s/stderr",
	         bin, tmpdir, extra ? extra : "", tmpdir, cap, tmpdir);
	p = popen(cmd, "r");
	assert_non_null(p);
	r->flows = json_array();
	r->summary = NULL;
	while (fgets(line, sizeof(line), p) != NULL) {
		o = json_loads(line, 0, &je);
		if (o == NULL)
			fail_msg("replay printed a line that is not JSON: %s",
			         line);
		if (json_object_get(o, "summary") != NULL) {
			r->summary = json_incref(json_object_get(o, "summary"));
			json_decref(o);
		} else {
			json_array_append_new(r->flows, o);
		}
	}
	r->status = pclose(p);
	assert_non_null(r->summary);
}

static void
run_free(struct run *r)
{
	json_decref(r->flows);
	json_decref(r->summary);
}

/* The flow to dst:dport (any proto when proto is NULL); fails when absent. */
static json_t *
flow_to(const struct run *r, const char *proto, const char *dst, int dport)
{
	size_t i;
	json_t *f;

	json_array_foreach(r->flows, i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "dst")), dst) !=
		    0)
			continue;
		if (dport >= 0 &&
		    json_integer_value(json_object_get(f, "dport")) != dport)
			continue;
		if (proto != NULL) {
			json_t *pj = json_object_get(f, "proto");

			if (!json_is_string(pj) ||
			    strcmp(json_string_value(pj), proto) != 0)
				continue;
		}
		return f;
	}
	fail_msg("no flow to %s:%d in the replay", dst, dport);
	return NULL;
}

static void
assert_flow(const struct run *r, const char *proto, const char *dst, int dport,
            const char *verdict, const char *rule_suffix)
{
	json_t *f = flow_to(r, proto, dst, dport);
	const char *v = json_string_value(json_object_get(f, "verdict"));
	const char *rule = json_string_value(json_object_get(f, "rule"));
	size_t rl, sl;

	assert_non_null(v);
	assert_non_null(rule);
	if (strcmp(v, verdict) != 0)
		fail_msg("flow to %s:%d: verdict %s (rule %s), expected %s",
		         dst, dport, v, rule, verdict);
	rl = strlen(rule);
	sl = strlen(rule_suffix);
	if (rl < sl || strcmp(rule + rl - sl, rule_suffix) != 0)
		fail_msg("flow to %s:%d: rule %s, expected ...%s", dst, dport,
		         rule, rule_suffix);
}

static json_int_t
summary_int(const struct run *r, const char *key)
{
	json_t *v = json_object_get(r->summary, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static int
setup(void **state)
{
	char path[600];

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/rules", tmpdir);
	return mkdir(path, 0700);
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
clear_rules(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/rules/*", tmpdir);
	assert_int_equal(system(cmd), 0);
}

/* Keys 1 and 2: priority first; a process rule never matches a capture. */
static void
test_priority_and_process(void **state)
{
	static const char *const a[] = {"203.0.113.5"};
	struct capgen *g =
	        cap_open("prio.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct run r;

	(void)state;
	clear_rules();
	write_file("rules/10.rules",
	           "deny out to host www.example.com port 443\n"
	           "allow out priority to 203.0.113.0/24\n"
	           "reject out process \"*\" to 198.51.100.0/24\n"
	           "deny out to 198.51.100.0/24\n");
	dns_answer(g, 1000, "www.example.com", NULL, 0, a, 1);
	tcp_open(g, LOCAL4, 2000, "203.0.113.5", 443);
	tcp_open(g, LOCAL4, 2001, "198.51.100.9", 80);
	capgen_close(g);
	run_replay(&r, "prio.pcap", NULL);
	/* host+port would win on every later key, but priority comes first */
	assert_flow(&r, "tcp", "203.0.113.5", 443, "allow", "10.rules:2");
	/* the process rule cannot match: a capture carries no process */
	assert_flow(&r, "tcp", "198.51.100.9", 80, "deny", "10.rules:4");
	run_free(&r);
}

/* Key 3: host > domain > longer domain > address/CIDR > any. */
static void
test_remote_specificity(void **state)
{
	static const char *const a1[] = {"203.0.113.11"};
	static const char *const a2[] = {"203.0.113.12"};
	static const char *const a3[] = {"203.0.113.13"};
	static const char *const a4[] = {"203.0.113.14"};
	struct capgen *g =
	        cap_open("spec.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct run r;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "deny out to any\n"
	                             "allow out to 203.0.113.0/24\n"
	                             "deny out to 203.0.113.0/28\n"
	                             "allow out to domain example.org\n"
	                             "deny out to domain ads.example.org\n"
	                             "allow out to host ok.ads.example.org\n");
	dns_answer(g, 1001, "ok.ads.example.org", NULL, 0, a1, 1);
	dns_answer(g, 1002, "x.ads.example.org", NULL, 0, a2, 1);
	dns_answer(g, 1003, "www.example.org", NULL, 0, a3, 1);
	dns_answer(g, 1004, "unrelated.example.net", NULL, 0, a4, 1);
	tcp_open(g, LOCAL4, 2001, a1[0], 443);
	tcp_open(g, LOCAL4, 2002, a2[0], 443);
	tcp_open(g, LOCAL4, 2003, a3[0], 443);
	tcp_open(g, LOCAL4, 2004, a4[0], 443);
	tcp_open(g, LOCAL4, 2005, "203.0.113.200", 443);
	tcp_open(g, LOCAL4, 2006, "198.51.100.1", 443);
	capgen_close(g);
	run_replay(&r, "spec.pcap", NULL);
	assert_flow(&r, "tcp", a1[0], 443, "allow", "10.rules:6"); /* host */
	assert_flow(&r, "tcp", a2[0], 443, "deny", "10.rules:5");  /* longer */
	assert_flow(&r, "tcp", a3[0], 443, "allow", "10.rules:4"); /* domain */
	/* a name no rule knows: the longest prefix decides */
	assert_flow(&r, "tcp", a4[0], 443, "deny", "10.rules:3");
	assert_flow(&r, "tcp", "203.0.113.200", 443, "allow", "10.rules:2");
	assert_flow(&r, "tcp", "198.51.100.1", 443, "deny", "10.rules:1");
	assert_string_equal(json_string_value(json_object_get(
	                            flow_to(&r, "tcp", a1[0], 443), "host")),
	                    "ok.ads.example.org");
	run_free(&r);
}

/* Keys 4, 5 and 6: port, then reject > deny > allow, then load order. */
static void
test_port_action_order(void **state)
{
	struct capgen *g =
	        cap_open("pao.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct run r;

	(void)state;
	clear_rules();
	write_file("rules/10-a.rules",
	           "deny out to 203.0.113.0/24\n"
	           "allow out proto tcp to 203.0.113.0/24 port { 80, 443 }\n"
	           "allow out to 198.51.100.77\n"
	           "reject out to 198.51.100.77\n"
	           "deny out to 198.51.100.77\n"
	           "deny out to 198.51.100.88 note \"first\"\n");
	write_file("rules/20-b.rules", "deny out to 198.51.100.88\n");
	tcp_open(g, LOCAL4, 3001, "203.0.113.7", 443);
	tcp_open(g, LOCAL4, 3002, "203.0.113.7", 8080);
	tcp_open(g, LOCAL4, 3003, "198.51.100.77", 80);
	udp_send(g, LOCAL4, 3004, "198.51.100.88", 5000);
	capgen_close(g);
	run_replay(&r, "pao.pcap", NULL);
	assert_flow(&r, "tcp", "203.0.113.7", 443, "allow", "10-a.rules:2");
	assert_flow(&r, "tcp", "203.0.113.7", 8080, "deny", "10-a.rules:1");
	assert_flow(&r, "tcp", "198.51.100.77", 80, "reject", "10-a.rules:4");
	/* equal on every other key: the rule loaded first decides */
	assert_flow(&r, "udp", "198.51.100.88", 5000, "deny", "10-a.rules:6");
	run_free(&r);
}

/* No candidate: the default decides and the rule reads "default". */
static void
test_default(void **state)
{
	struct capgen *g =
	        cap_open("dflt.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct run r;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "allow out proto udp to any port 53\n");
	tcp_open(g, LOCAL4, 4001, "203.0.113.9", 443);
	udp_send(g, LOCAL4, 4002, "198.51.100.53", 53);
	capgen_close(g);
	run_replay(&r, "dflt.pcap", "--default reject");
	assert_flow(&r, "tcp", "203.0.113.9", 443, "reject", "default");
	assert_flow(&r, "udp", "198.51.100.53", 53, "allow", "10.rules:1");
	run_free(&r);
}

/* Every name of a CNAME chain reaches the address (RULES.md). */
static void
test_cname_chain(void **state)
{
	static const char *const cn[] = {"a.cdn.example", "b.cdn.example"};
	static const char *const a[] = {"203.0.113.50"};
	static const char *const a6[] = {"2001:db8:50::1"};
	struct capgen *g =
	        cap_open("cname.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct run r;
	json_t *f;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "deny out to host a.cdn.example\n"
	                             "allow out to domain b.cdn.example\n");
	dns_answer(g, 1005, "www.chain.example", cn, 2, a, 1);
	dns_answer(g, 1006, "www.chain.example", cn, 2, a6, 1);
	tcp_open(g, LOCAL4, 5001, a[0], 443);
	tcp_open(g, LOCAL6, 5002, a6[0], 443);
	capgen_close(g);
	run_replay(&r, "cname.pcap", NULL);
	/* the alias in the middle of the chain names the address: host wins */
	assert_flow(&r, "tcp", a[0], 443, "deny", "10.rules:1");
	assert_flow(&r, "tcp", a6[0], 443, "deny", "10.rules:1");
	f = flow_to(&r, "tcp", a[0], 443);
	assert_string_equal(json_string_value(json_object_get(f, "host")),
	                    "www.chain.example");
	assert_int_equal(json_integer_value(json_object_get(f, "packets")), 3);
	assert_true(summary_int(&r, "dns_answers") >= 2);
	run_free(&r);
}

/* IPv6, ICMP echo (request and reply one flow), ICMPv6, inbound flows. */
static void
test_ipv6_icmp_inbound(void **state)
{
	struct capgen *g =
	        cap_open("v6.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct capgen_pkt p;
	struct run r;
	json_t *f;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "deny out to 2001:db8:dead::/48\n"
	                             "deny out proto icmp\n"
	                             "allow in proto tcp port 22\n"
	                             "deny in to any\n");
	tcp_open(g, LOCAL6, 6001, "2001:db8:dead::1", 443);
	tcp_open(g, LOCAL6, 6002, "2001:db8:beef::1", 443);
	memset(&p, 0, sizeof(p));
	p.src = LOCAL4;
	p.dst = "198.51.100.1";
	p.proto = SP_PROTO_ICMP;
	p.icmp_type = 8;
	p.sport = 99;
	assert_int_equal(capgen_write(g, now, &p), 0);
	p.src = "198.51.100.1";
	p.dst = LOCAL4;
	p.icmp_type = 0;
	assert_int_equal(capgen_write(g, now, &p), 0);
	p.src = LOCAL6;
	p.dst = "2001:db8:beef::1";
	p.proto = SP_PROTO_ICMP6;
	p.icmp_type = 128;
	assert_int_equal(capgen_write(g, now, &p), 0);
	tcp_open(g, "203.0.113.99", 6003, LOCAL4, 22);
	tcp_open(g, "203.0.113.99", 6004, LOCAL4, 23);
	capgen_close(g);
	run_replay(&r, "v6.pcap", NULL);
	assert_flow(&r, "tcp", "2001:db8:dead::1", 443, "deny", "10.rules:1");
	assert_flow(&r, "tcp", "2001:db8:beef::1", 443, "allow", "default");
	assert_flow(&r, "icmp", "198.51.100.1", -1, "deny", "10.rules:2");
	f = flow_to(&r, "icmp", "198.51.100.1", -1);
	assert_int_equal(json_integer_value(json_object_get(f, "packets")), 2);
	assert_int_equal(json_integer_value(json_object_get(f, "dport")), 99);
	assert_flow(&r, "icmp6", "2001:db8:beef::1", -1, "allow", "default");
	/* inbound: src is the local side, dst the remote, port is local */
	f = flow_to(&r, "tcp", "203.0.113.99", 6003);
	assert_string_equal(json_string_value(json_object_get(f, "dir")), "in");
	assert_int_equal(json_integer_value(json_object_get(f, "sport")), 22);
	assert_flow(&r, "tcp", "203.0.113.99", 6003, "allow", "10.rules:3");
	assert_flow(&r, "tcp", "203.0.113.99", 6004, "deny", "10.rules:4");
	run_free(&r);
}

/* Fragments join their datagram's flow; a lone later fragment is counted. */
static void
test_fragments(void **state)
{
	static uint8_t big[1200];
	struct capgen *g =
	        cap_open("frag.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct capgen_pkt p;
	struct run r;
	json_t *f;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "deny out proto udp port 9999\n");
	memset(&p, 0, sizeof(p));
	p.src = LOCAL4;
	p.dst = "198.51.100.200";
	p.proto = SP_PROTO_UDP;
	p.sport = 7000;
	p.dport = 9999;
	p.payload = big;
	p.plen = sizeof(big);
	p.frag = true;
	p.frag_id = 4242;
	p.frag_more = true;
	p.frag_len = 800;
	assert_int_equal(capgen_write(g, now, &p), 0);
	p.frag_more = false;
	p.frag_off = 800;
	p.frag_len = sizeof(big) + 8 - 800;
	assert_int_equal(capgen_write(g, now, &p), 0);
	/* the same over IPv6, with extension headers before the fragment */
	p.src = LOCAL6;
	p.dst = "2001:db8:99::1";
	p.v6_ext = true;
	p.frag_more = true;
	p.frag_off = 0;
	p.frag_len = 800;
	assert_int_equal(capgen_write(g, now, &p), 0);
	p.frag_more = false;
	p.frag_off = 800;
	p.frag_len = sizeof(big) + 8 - 800;
	assert_int_equal(capgen_write(g, now, &p), 0);
	/* a later fragment whose first was never seen */
	p.src = LOCAL4;
	p.dst = "198.51.100.201";
	p.v6_ext = false;
	p.frag_id = 9;
	assert_int_equal(capgen_write(g, now, &p), 0);
	capgen_close(g);
	run_replay(&r, "frag.pcap", NULL);
	assert_flow(&r, "udp", "198.51.100.200", 9999, "deny", "10.rules:1");
	f = flow_to(&r, "udp", "198.51.100.200", 9999);
	assert_int_equal(json_integer_value(json_object_get(f, "packets")), 2);
	assert_flow(&r, "udp", "2001:db8:99::1", 9999, "deny", "10.rules:1");
	f = flow_to(&r, "udp", "2001:db8:99::1", 9999);
	assert_int_equal(json_integer_value(json_object_get(f, "packets")), 2);
	assert_int_equal(summary_int(&r, "fragments_unmatched"), 1);
	assert_int_equal(summary_int(&r, "flows"), 2);
	run_free(&r);
}

/* The same traffic in every framing and in pcapng: the same verdicts. */
static void
test_link_types_and_pcapng(void **state)
{
	static const struct {
		int link;
		enum capgen_format fmt;
		const char *name;
	} kinds[] = {
	        {PACKET_LINK_ETHERNET, CAPGEN_PCAPNG, "eth.pcapng"},
	        {PACKET_LINK_SLL, CAPGEN_PCAP, "sll.pcap"},
	        {PACKET_LINK_SLL2, CAPGEN_PCAP, "sll2.pcap"},
	        {PACKET_LINK_RAW, CAPGEN_PCAP, "raw.pcap"},
	        {PACKET_LINK_NULL, CAPGEN_PCAP, "null.pcap"},
	        {PACKET_LINK_LOOP, CAPGEN_PCAPNG, "loop.pcapng"},
	};
	static const char *const a[] = {"203.0.113.33"};
	static const char *const a6[] = {"2001:db8:33::1"};
	struct capgen *g;
	struct run r;
	size_t i;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "deny out to domain blocked.example\n"
	                             "reject out proto udp port 5000\n");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		g = cap_open(kinds[i].name, kinds[i].link, kinds[i].fmt);
		dns_answer(g, 1100, "www.blocked.example", NULL, 0, a, 1);
		dns_answer(g, 1101, "www.blocked.example", NULL, 0, a6, 1);
		tcp_open(g, LOCAL4, 7001, a[0], 443);
		tcp_open(g, LOCAL6, 7002, a6[0], 443);
		udp_send(g, LOCAL6, 7003, "2001:db8:44::1", 5000);
		udp_send(g, LOCAL4, 7004, "198.51.100.44", 5001);
		capgen_close(g);
		run_replay(&r, kinds[i].name, NULL);
		assert_int_equal(summary_int(&r, "malformed"), 0);
		assert_flow(&r, "tcp", a[0], 443, "deny", "10.rules:1");
		assert_flow(&r, "tcp", a6[0], 443, "deny", "10.rules:1");
		assert_flow(&r, "udp", "2001:db8:44::1", 5000, "reject",
		            "10.rules:2");
		assert_flow(&r, "udp", "198.51.100.44", 5001, "allow",
		            "default");
		/* two DNS exchanges, two TCP, two UDP */
		assert_int_equal(summary_int(&r, "flows"), 6);
		run_free(&r);
	}
}

/* Garbled and cut packets are counted and skipped; ARP is not malformed. */
static void
test_garbled(void **state)
{
	static const uint8_t arp[42] = {
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0,
	        1,    0x08, 0x06, 0,    1,    0x08, 0, 6, 4, 0, 1};
	uint8_t ip[256], frame[300];
	struct capgen *g =
	        cap_open("garbled.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct capgen_pkt p = {.src = LOCAL4,
	                       .dst = "198.51.100.60",
	                       .proto = SP_PROTO_TCP,
	                       .sport = 8001,
	                       .dport = 443,
	                       .tcp_flags = PACKET_TCP_SYN};
	size_t n, cut;
	struct run r;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "deny out to 198.51.100.60\n");
	assert_int_equal(capgen_write(g, now, &p), 0);
	n = capgen_build(ip, sizeof(ip), &p);
	memcpy(frame, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	/* cut inside the IP header, and before the TCP ports end */
	for (cut = 10; cut < 30; cut += 12) {
		memcpy(frame + 14, ip, cut);
		assert_int_equal(capgen_write_raw(g, now, frame, 14 + cut), 0);
	}
	/* header length 4 words: impossible */
	memcpy(frame + 14, ip, n);
	frame[14] = 0x44;
	assert_int_equal(capgen_write_raw(g, now, frame, 14 + n), 0);
	/* version 7 */
	frame[14] = 0x75;
	assert_int_equal(capgen_write_raw(g, now, frame, 14 + n), 0);
	assert_int_equal(capgen_write_raw(g, now, arp, sizeof(arp)), 0);
	/* a good packet after the bad ones still counts */
	p.sport = 8002;
	assert_int_equal(capgen_write(g, now, &p), 0);
	capgen_close(g);
	run_replay(&r, "garbled.pcap", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(summary_int(&r, "malformed"), 4);
	assert_int_equal(summary_int(&r, "not_ip"), 1);
	assert_int_equal(summary_int(&r, "packets"), 7);
	assert_flow(&r, "tcp", "198.51.100.60", 443, "deny", "10.rules:1");
	assert_int_equal(summary_int(&r, "flows"), 2);
	run_free(&r);
}

/* A capture file cut in the middle of a record: what came before is shown,
 * the error names the file, the exit status says so. */
static void
test_truncated_file(void **state)
{
	char path[600], cmd[1400];
	struct capgen *g =
	        cap_open("cut.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct run r;
	FILE *f;
	char err[1024] = "";
	size_t n;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "deny out to 198.51.100.61\n");
	tcp_open(g, LOCAL4, 9001, "198.51.100.61", 443);
	capgen_close(g);
	snprintf(path, sizeof(path), "%s/cut.pcap", tmpdir);
	snprintf(cmd, sizeof(cmd), "truncate -s -10 '%s'", path);
	assert_int_equal(system(cmd), 0);
	run_replay(&r, "cut.pcap", NULL);
	assert_int_not_equal(r.status, 0);
	assert_flow(&r, "tcp", "198.51.100.61", 443, "deny", "10.rules:1");
	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(err, 1, sizeof(err) - 1, f);
	err[n] = '\0';
	fclose(f);
	assert_non_null(strstr(err, "cut.pcap"));
	run_free(&r);
}

/* DNS answers over TCP name addresses too. */
static void
test_dns_over_tcp(void **state)
{
	static const char *const a[] = {"203.0.113.70"};
	uint8_t msg[600];
	struct capgen *g =
	        cap_open("dnstcp.pcap", PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct capgen_pkt p;
	size_t n;
	struct run r;

	(void)state;
	clear_rules();
	write_file("rules/10.rules", "reject out to domain tcp.example\n");
	tcp_open(g, LOCAL4, 9100, DNS4, 53);
	n = capgen_dns_response(msg + 2, sizeof(msg) - 2, 1, "x.tcp.example",
	                        NULL, 0, a, 1, 60);
	msg[0] = (uint8_t)(n >> 8);
	msg[1] = (uint8_t)n;
	memset(&p, 0, sizeof(p));
	p.src = DNS4;
	p.dst = LOCAL4;
	p.proto = SP_PROTO_TCP;
	p.sport = 53;
	p.dport = 9100;
	p.tcp_flags = PACKET_TCP_ACK | PACKET_TCP_PSH;
	p.payload = msg;
	p.plen = n + 2;
	assert_int_equal(capgen_write(g, now, &p), 0);
	tick();
	tcp_open(g, LOCAL4, 9101, a[0], 443);
	capgen_close(g);
	run_replay(&r, "dnstcp.pcap", NULL);
	assert_flow(&r, "tcp", a[0], 443, "reject", "10.rules:1");
	run_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_priority_and_process),
	        cmocka_unit_test(test_remote_specificity),
	        cmocka_unit_test(test_port_action_order),
	        cmocka_unit_test(test_default),
	        cmocka_unit_test(test_cname_chain),
	        cmocka_unit_test(test_ipv6_icmp_inbound),
	        cmocka_unit_test(test_fragments),
	        cmocka_unit_test(test_link_types_and_pcapng),
	        cmocka_unit_test(test_garbled),
	        cmocka_unit_test(test_truncated_file),
	        cmocka_unit_test(test_dns_over_tcp),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

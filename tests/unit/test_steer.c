/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Steering rules: golden generator output, and apply/remove in a netns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <pcap/pcap.h>

#include "golden.h"
#include "guard.h"
#include "spackle/config.h"
#include "spackle/steer.h"
#include "spackle/steer_text.h"

#define TOOL_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A config: the defaults, then text over them. */
static void
conf(struct config *c, const char *text)
{
	char err[1024] = "";
	FILE *f = fmemopen(err, sizeof(err) - 1, "w");

	assert_non_null(f);
	config_defaults(c);
	if (config_parse(c, "test.conf", text, f) != 0) {
		fclose(f);
		fail_msg("config does not parse: %s", err);
	}
	fclose(f);
}

/* Generator output in memory; the return code in *rc. */
enum gen {
	GEN_IPT4,
	GEN_IPT6,
	GEN_REMOVE,
	GEN_NFT,
};

static char *
gen(const struct config *c, enum gen g, int *rc, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	switch (g) {
	case GEN_IPT4:
		*rc = steer_iptables_text(c, AF_INET, f);
		break;
	case GEN_IPT6:
		*rc = steer_iptables_text(c, AF_INET6, f);
		break;
	case GEN_REMOVE:
		*rc = steer_iptables_remove_text(c, f);
		break;
	case GEN_NFT:
		*rc = steer_nft_text(c, f);
		break;
	}
	assert_int_equal(fclose(f), 0);
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

static char *
gen_ok(const struct config *c, enum gen g)
{
	int rc;
	char *s = gen(c, g, &rc, NULL);

	assert_int_equal(rc, 0);
	return s;
}

/* How often needle occurs in text. */
static unsigned
count(const char *text, const char *needle)
{
	unsigned n = 0;

	while ((text = strstr(text, needle)) != NULL) {
		n++;
		text += strlen(needle);
	}
	return n;
}

struct golden_case {
	const char *name;
	const char *conf;
};

/* queues is set everywhere: its default is the number of CPUs. */
static const struct golden_case golden_cases[] = {
        {"default", "queues = 4\n"},
        {"queues1", "queues = 1\n"},
        {"closed", "queues = 4\nfailure = closed\n"},
        {"hooks-all", "queues = 4\nhooks = out, in, forward\n"
                      "exempt = lo, veth0\n"},
        {"flow", "queues = 2\nqueue_base = 100\ndivert = flow\n"
                 "hooks = out, in, forward\n"},
        {"out-only", "queues = 1\nqueue_base = 0\nfailure = closed\n"
                     "hooks = out\nexempt =\n"},
        {"icmp", "queues = 2\nhooks = out, in, forward\n"
                 "exempt = lo, icmp, icmpv6, veth0\n"},
};

static void
test_golden(void **state)
{
	struct config c;
	char name[128], *s, *r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]); i++) {
		conf(&c, golden_cases[i].conf);

		s = gen_ok(&c, GEN_IPT4);
		snprintf(name, sizeof(name), "%s.ip4.ok", golden_cases[i].name);
		golden_check("steer", name, s);
		free(s);

		s = gen_ok(&c, GEN_IPT6);
		snprintf(name, sizeof(name), "%s.ip6.ok", golden_cases[i].name);
		golden_check("steer", name, s);
		free(s);

		s = gen_ok(&c, GEN_NFT);
		snprintf(name, sizeof(name), "%s.nft.ok", golden_cases[i].name);
		golden_check("steer", name, s);
		free(s);

		r = gen_ok(&c, GEN_REMOVE);
		snprintf(name, sizeof(name), "%s.remove.ok",
		         golden_cases[i].name);
		golden_check("steer", name, r);
		free(r);
	}
}

/* The cleanup of a hand-made iptables-save dump. */
static void
test_golden_cleanup(void **state)
{
	char path[4096], *save, *out = NULL;
	size_t len, outlen = 0;
	FILE *f;
	int n;

	(void)state;
	golden_path(path, sizeof(path), "steer", "cleanup.save");
	save = golden_read_file(path, &len);
	if (save == NULL)
		fail_msg("%s: cannot read: %s", path, strerror(errno));
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	n = steer_iptables_cleanup_text(save, len, f);
	assert_int_equal(fclose(f), 0);
	/* filter: 4 jumps (one twice), 1 goto, 3 chains; mangle: 1 + 1. */
	assert_int_equal(n, 10);
	golden_check("steer", "cleanup.ok", out);
	free(out);
	free(save);
}

/* Each structural promise of the texts, for every golden config. */
static void
test_text_shape(void **state)
{
	static const char *const jumps[] = {"-I OUTPUT 1 -j SPACKLE-OUT\n",
	                                    "-I INPUT 1 -j SPACKLE-IN\n",
	                                    "-I FORWARD 1 -j SPACKLE-FWD\n"};
	static const char *const dels[] = {"-D OUTPUT -j SPACKLE-OUT\n",
	                                   "-D INPUT -j SPACKLE-IN\n",
	                                   "-D FORWARD -j SPACKLE-FWD\n"};
	struct config c;
	char *v4, *v6, *rm, *nft, *p, want[128];
	unsigned h, e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(golden_cases) / sizeof(golden_cases[0]); i++) {
		conf(&c, golden_cases[i].conf);
		v4 = gen_ok(&c, GEN_IPT4);
		v6 = gen_ok(&c, GEN_IPT6);
		rm = gen_ok(&c, GEN_REMOVE);
		nft = gen_ok(&c, GEN_NFT);
		for (h = 0; h < 3; h++) {
			bool on = (c.hooks & (1u << h)) != 0;

			assert_int_equal(strstr(v4, jumps[h]) != NULL, on);
			assert_int_equal(strstr(v6, jumps[h]) != NULL, on);
			assert_int_equal(strstr(rm, dels[h]) != NULL, on);
		}
		/* Each exemption is its own rule with its own comment
		 * (icmpv6 in the IPv6 text, the others in IPv4's). */
		for (e = 0; e < c.nexempt; e++) {
			snprintf(want, sizeof(want),
			         "-m comment --comment \"spackle exempt %s\" "
			         "-j RETURN",
			         c.exempt[e]);
			assert_non_null(
			        strstr(steer_exempt_proto(c.exempt[e]) ==
			                               SP_PROTO_ICMP6
			                       ? v6
			                       : v4,
			               want));
			snprintf(want, sizeof(want),
			         "counter accept comment \"spackle exempt "
			         "%s\"",
			         c.exempt[e]);
			assert_non_null(strstr(nft, want));
		}
		/* Bypass exactly when failing open. */
		assert_int_equal(strstr(v4, "--queue-bypass") != NULL,
		                 c.failure == CONFIG_FAILURE_OPEN);
		assert_int_equal(strstr(nft, " bypass") != NULL,
		                 c.failure == CONFIG_FAILURE_OPEN);
		/* Never CPU fanout: a flow must stay on one queue. */
		assert_null(strstr(v4, "fanout"));
		assert_null(strstr(nft, "fanout"));
		/* Queue numbers. */
		for (e = 0; e < c.queues; e++) {
			snprintf(want, sizeof(want), "--queue-num %u",
			         c.queue_base + e);
			assert_non_null(strstr(v4, want));
		}
		/* Several: split by a hash of the flow, ports included. */
		assert_null(strstr(v4, "--queue-balance"));
		if (c.queues > 1) {
			snprintf(want, sizeof(want),
			         "to symhash mod %u offset %u", c.queues,
			         c.queue_base);
			assert_non_null(strstr(nft, want));
			assert_non_null(strstr(v4, "-m bpf --bytecode"));
		} else {
			assert_null(strstr(v4, "-m bpf"));
		}
		/* Family-specific reject. */
		assert_non_null(strstr(v4, "icmp-port-unreachable"));
		assert_null(strstr(v4, "icmp6"));
		assert_non_null(strstr(v6, "icmp6-port-unreachable"));
		/* The mark rules come before the first exemption and queue. */
		p = strstr(v4, "spackle reject");
		assert_non_null(p);
		assert_true(strstr(v4, "spackle queue") > p);
		if (c.nexempt > 0)
			assert_true(strstr(v4, "spackle exempt") > p);
		free(v4);
		free(v6);
		free(rm);
		free(nft);
	}
}

/*
 * exempt = icmp / icmpv6: one rule per hook, only in the family it names,
 * with its own comment, where the config lists it among the exemptions.
 */
static void
test_exempt_icmp(void **state)
{
	static const char *const chains[] = {"SPACKLE-OUT", "SPACKLE-IN",
	                                     "SPACKLE-FWD"};
	struct config c;
	char *v4, *v6, *nft, want[256], *lo, *icmp, *veth;
	unsigned h;

	(void)state;
	conf(&c, "queues = 2\nhooks = out, in, forward\n"
	         "exempt = lo, icmp, icmpv6, veth0\n");
	assert_int_equal(steer_validate(&c, NULL, 0), 0);
	assert_int_equal(steer_exempt_proto("icmp"), SP_PROTO_ICMP);
	assert_int_equal(steer_exempt_proto("icmpv6"), SP_PROTO_ICMP6);
	assert_int_equal(steer_exempt_proto("lo"), 0);
	assert_int_equal(steer_exempt_proto("ICMP"), 0);
	assert_int_equal(steer_exempt_proto("icmp6"), 0);
	assert_int_equal(steer_exempt_proto(NULL), 0);
	v4 = gen_ok(&c, GEN_IPT4);
	v6 = gen_ok(&c, GEN_IPT6);
	nft = gen_ok(&c, GEN_NFT);
	for (h = 0; h < 3; h++) {
		snprintf(want, sizeof(want),
		         "\n-A %s -p icmp -m comment --comment \"spackle "
		         "exempt icmp\" -j RETURN\n",
		         chains[h]);
		assert_int_equal(count(v4, want), 1);
		assert_int_equal(count(v6, want), 0);
		/* in the config's order: after lo, before veth0 */
		icmp = strstr(v4, want);
		snprintf(want, sizeof(want), "-A %s -%c lo ", chains[h],
		         h == 0 ? 'o' : 'i');
		lo = strstr(v4, want);
		snprintf(want, sizeof(want), "-A %s -%c veth0 ", chains[h],
		         h == 0 ? 'o' : 'i');
		veth = strstr(v4, want);
		assert_non_null(lo);
		assert_non_null(veth);
		assert_true(lo < icmp && icmp < veth);

		/* ip6tables-save prints ICMPv6 as ipv6-icmp */
		snprintf(want, sizeof(want),
		         "\n-A %s -p ipv6-icmp -m comment --comment \"spackle "
		         "exempt icmpv6\" -j RETURN\n",
		         chains[h]);
		assert_int_equal(count(v6, want), 1);
		assert_int_equal(count(v4, want), 0);
	}
	/* Nothing else is said of them: no -i icmp, no -o icmpv6. */
	assert_null(strstr(v4, "-i icmp"));
	assert_null(strstr(v4, "-o icmp"));
	assert_null(strstr(v6, "-i icmp"));
	assert_null(strstr(v6, "icmpv6\" -j RETURN\n-A SPACKLE-FWD -o"));
	assert_int_equal(count(v4, "spackle exempt icmpv6"), 0);
	assert_int_equal(count(v6, "spackle exempt icmp\""), 0);
	/* the interfaces as before: both families, -i and -o in forward */
	assert_int_equal(count(v4, "\"spackle exempt veth0\""), 4);
	assert_int_equal(count(v6, "\"spackle exempt veth0\""), 4);

	/* nft: one inet table, so each rule says its family; one per hook */
	assert_int_equal(count(nft, "\t\tmeta nfproto ipv4 meta l4proto icmp "
	                            "counter accept comment \"spackle "
	                            "exempt icmp\"\n"),
	                 3);
	assert_int_equal(count(nft, "\t\tmeta nfproto ipv6 meta l4proto "
	                            "ipv6-icmp counter accept comment "
	                            "\"spackle exempt icmpv6\"\n"),
	                 3);
	assert_null(strstr(nft, "iifname \"icmp"));
	assert_null(strstr(nft, "oifname \"icmp"));
	free(v4);
	free(v6);
	free(nft);

	/* Only icmp: the IPv6 text has no exemption at all. */
	conf(&c, "queues = 2\nhooks = out\nexempt = icmp\n");
	v6 = gen_ok(&c, GEN_IPT6);
	assert_null(strstr(v6, "spackle exempt"));
	free(v6);
	v4 = gen_ok(&c, GEN_IPT4);
	assert_int_equal(count(v4, "spackle exempt"), 1);
	free(v4);
	conf(&c, "queues = 2\nhooks = in\nexempt = icmpv6\n");
	v4 = gen_ok(&c, GEN_IPT4);
	assert_null(strstr(v4, "spackle exempt"));
	free(v4);

	/* Case matters: ICMP is an interface name. */
	conf(&c, "queues = 2\nhooks = out\nexempt = ICMP\n");
	v4 = gen_ok(&c, GEN_IPT4);
	assert_non_null(strstr(v4, "-A SPACKLE-OUT -o ICMP -m comment "
	                           "--comment \"spackle exempt ICMP\" -j "
	                           "RETURN\n"));
	free(v4);
}

static void
expect_einval(const struct config *c, const char *why)
{
	size_t len;
	char *s;
	int rc;
	char err[256] = "";

	s = gen(c, GEN_IPT4, &rc, &len);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(len, 0);
	free(s);
	s = gen(c, GEN_NFT, &rc, &len);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(len, 0);
	free(s);
	s = gen(c, GEN_REMOVE, &rc, &len);
	assert_int_equal(rc, -EINVAL);
	free(s);
	assert_int_equal(steer_validate(c, err, sizeof(err)), -EINVAL);
	if (strstr(err, why) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, why);
}

static void
test_invalid(void **state)
{
	struct config c;
	FILE *f;

	(void)state;
	conf(&c, "queues = 4\n");
	assert_int_equal(steer_validate(&c, NULL, 0), 0);

	c.queues = 0;
	expect_einval(&c, "queue");
	/* 64 balanced queues 65471..65534, the DNS queue 65535 */
	conf(&c, "queues = 64\nqueue_base = 65471\n");
	assert_int_equal(steer_validate(&c, NULL, 0), 0);
	c.queue_base = 65472; /* the DNS queue would be 65536 */
	expect_einval(&c, "0-65535");

	conf(&c, "queues = 4\n");
	c.hooks = 0;
	expect_einval(&c, "hooks");
	c.hooks = CONFIG_HOOK_OUT | (1u << 5);
	expect_einval(&c, "hooks");

	conf(&c, "queues = 4\n");
	snprintf(c.exempt[0], sizeof(c.exempt[0]), "lo\" -j ACCEPT");
	expect_einval(&c, "not an interface name");
	snprintf(c.exempt[0], sizeof(c.exempt[0]), "a b");
	expect_einval(&c, "not an interface name");
	c.exempt[0][0] = '\0';
	expect_einval(&c, "not an interface name");
	memset(c.exempt[0], 'x', sizeof(c.exempt[0])); /* no terminator */
	expect_einval(&c, "not an interface name");
	conf(&c, "queues = 4\n");
	c.nexempt = CONFIG_EXEMPT_MAX + 1;
	expect_einval(&c, "exemptions");
	/* A protocol word once: a second rule would count twice. */
	conf(&c, "queues = 4\nexempt = icmp, lo, icmpv6\n");
	assert_int_equal(steer_validate(&c, NULL, 0), 0);
	snprintf(c.exempt[c.nexempt++], sizeof(c.exempt[0]), "icmpv6");
	expect_einval(&c, "exemption icmpv6 is listed twice");
	conf(&c, "queues = 4\nexempt = icmp\n");
	snprintf(c.exempt[c.nexempt++], sizeof(c.exempt[0]), "icmp");
	expect_einval(&c, "exemption icmp is listed twice");
	/* Interfaces may repeat, as before. */
	conf(&c, "queues = 4\nexempt = lo, lo\n");
	assert_int_equal(steer_validate(&c, NULL, 0), 0);

	conf(&c, "queues = 4\n");
	c.failure = (enum config_failure)7;
	expect_einval(&c, "failure");
	conf(&c, "queues = 4\n");
	c.divert = (enum config_divert)7;
	expect_einval(&c, "divert");

	expect_einval(NULL, "no configuration");

	/* Bad family, bad stream. */
	conf(&c, "queues = 4\n");
	f = fopen("/dev/null", "w");
	assert_non_null(f);
	assert_int_equal(steer_iptables_text(&c, AF_UNIX, f), -EINVAL);
	fclose(f);
	assert_int_equal(steer_iptables_text(&c, AF_INET, NULL), -EINVAL);
	assert_int_equal(steer_nft_text(&c, NULL), -EINVAL);
	assert_int_equal(steer_nft_remove_text(NULL), -EINVAL);
	assert_int_equal(steer_iptables_cleanup_text(NULL, 1, stdout), -EINVAL);
}

/* A stream that cannot be written is reported, not ignored. */
static void
test_write_error(void **state)
{
	struct config c;
	FILE *f;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	conf(&c, "queues = 4\n");
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(steer_iptables_text(&c, AF_INET, f), -EIO);
	fclose(f);
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(steer_nft_text(&c, f), -EIO);
	fclose(f);
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(steer_nft_remove_text(f), -EIO);
	fclose(f);
}

static char *
cleanup_of(const char *save, int *n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	*n = steer_iptables_cleanup_text(save, strlen(save), f);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void
test_cleanup_edges(void **state)
{
	char *out;
	int n;

	(void)state;
	/* Nothing of ours: nothing written. */
	out = cleanup_of("", &n);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	free(out);
	out = cleanup_of("*filter\n:INPUT ACCEPT [0:0]\n:SPACKLE - [0:0]\n"
	                 "-A INPUT -j SPACKLE\n-A INPUT -j ACCEPT -m comment "
	                 "--comment \"-j SPACKLE-OUT\"\nCOMMIT\n",
	                 &n);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	free(out);

	/* No final newline, no COMMIT, CRLF, counters (iptables-save -c). */
	out = cleanup_of("*filter\r\n:SPACKLE-IN - [0:0]\r\n"
	                 "[12:345] -A INPUT -i eth0 -j SPACKLE-IN",
	                 &n);
	assert_int_equal(n, 2);
	assert_non_null(strstr(out, "*filter\n-D INPUT -i eth0 -j SPACKLE-IN\n"
	                            "-F SPACKLE-IN\n-X SPACKLE-IN\nCOMMIT\n"));
	free(out);

	/* Rules inside spackle's chains are flushed, not deleted one by one. */
	out = cleanup_of("*filter\n:SPACKLE-A - [0:0]\n:SPACKLE-B - [0:0]\n"
	                 "-A SPACKLE-A -j SPACKLE-B\nCOMMIT\n",
	                 &n);
	assert_int_equal(n, 2);
	assert_null(strstr(out, "-D "));
	/* Both flushed before either is deleted. */
	assert_non_null(strstr(out, "-F SPACKLE-A\n-F SPACKLE-B\n"
	                            "-X SPACKLE-A\n-X SPACKLE-B\n"));
	free(out);
}

/*
 * Every prefix of a real dump, flush against a PROT_NONE page: the cleanup
 * never reads past the length it was given, wherever the text stops.
 */
static void
test_cleanup_guard(void **state)
{
	char path[4096], *save;
	uint8_t *g;
	size_t len, i;
	FILE *null;
	int n;

	(void)state;
	golden_path(path, sizeof(path), "steer", "cleanup.save");
	save = golden_read_file(path, &len);
	if (save == NULL)
		fail_msg("%s: cannot read: %s", path, strerror(errno));
	null = fopen("/dev/null", "w");
	assert_non_null(null);
	for (i = 1; i <= len; i++) {
		g = guard_copy(save, i);
		n = steer_iptables_cleanup_text((const char *)g, i, null);
		assert_true(n >= 0 && n <= 10);
		guard_free(g);
	}
	fclose(null);
	free(save);
}

static void
test_nft_remove_text(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(steer_nft_remove_text(f), 0);
	fclose(f);
	assert_string_equal(out, "delete table inet spackle\n");
	free(out);
}

/* ---- the queue split (pfconf/queue_split.c) ------------------------------
 * The programs run in libpcap's BPF interpreter, on packets built here. */

struct qs_pkt {
	int family;
	uint8_t proto;
	uint32_t a, b; /* the hosts' low address words */
	uint16_t sport, dport;
	uint16_t frag; /* IPv4 flags and offset */
};

static size_t
qs_build(const struct qs_pkt *k, unsigned char *p)
{
	size_t l3 = k->family == AF_INET ? 20 : 40;

	memset(p, 0, 64);
	if (k->family == AF_INET) {
		p[0] = 0x45;
		p[6] = (uint8_t)(k->frag >> 8);
		p[7] = (uint8_t)k->frag;
		p[9] = k->proto;
		p[12] = 192, p[14] = 2;
		p[16] = 192, p[18] = 2;
		p[15] = (uint8_t)k->a, p[19] = (uint8_t)k->b;
		p[13] = (uint8_t)(k->a >> 8), p[17] = (uint8_t)(k->b >> 8);
	} else {
		p[0] = 0x60;
		p[6] = k->proto;
		p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8;
		p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8;
		p[22] = (uint8_t)(k->a >> 8), p[23] = (uint8_t)k->a;
		p[38] = (uint8_t)(k->b >> 8), p[39] = (uint8_t)k->b;
	}
	p[l3] = (uint8_t)(k->sport >> 8), p[l3 + 1] = (uint8_t)k->sport;
	p[l3 + 2] = (uint8_t)(k->dport >> 8), p[l3 + 3] = (uint8_t)k->dport;
	return l3 + 20;
}

/* The queue a packet goes to: the first program that matches, else the
 * last queue (its rule has none); -1 when two match. */
static int
qs_queue(int family, unsigned queues, const unsigned char *p, size_t len)
{
	struct bpf_insn v[STEER_QUEUE_FILTER_MAX];
	int q, n, hit = (int)queues - 1, hits = 0;

	for (q = 0; q + 1 < (int)queues; q++) {
		n = steer_queue_filter(family, queues, (unsigned)q,
		                       (struct sock_filter *)v,
		                       STEER_QUEUE_FILTER_MAX);
		assert_true(n > 0);
		if (bpf_filter(v, p, (u_int)len, (u_int)len) != 0) {
			hit = q;
			hits++;
		}
	}
	return hits > 1 ? -1 : hit;
}

static int
qs_of(const struct qs_pkt *k, unsigned queues)
{
	unsigned char p[64];
	size_t len = qs_build(k, p);

	return qs_queue(k->family, queues, p, len);
}

static void
test_queue_split(void **state)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	static const uint8_t protos[2] = {6, 17};
	unsigned char p[64];
	unsigned per[4], f, queues, i, pr;
	struct qs_pkt k, r;
	struct bpf_insn v[STEER_QUEUE_FILTER_MAX];
	int q;

	(void)state;
	for (f = 0; f < 2; f++)
		for (queues = 2; queues <= 4; queues++)
			for (pr = 0; pr < 2; pr++) {
				memset(per, 0, sizeof(per));
				/* One host pair, 2,000 connections from even
				 * source ports (as connect() picks them) to
				 * one port: spread over every queue... */
				for (i = 0; i < 2000; i++) {
					k = (struct qs_pkt){
					        fams[f],
					        protos[pr],
					        1,
					        2,
					        (uint16_t)(32768 + 2 * i),
					        443,
					        0};
					q = qs_of(&k, queues);
					assert_in_range(q, 0, queues - 1);
					per[q]++;
					/* ...and each flow's two directions
					 * on one queue. */
					r = k;
					r.a = k.b, r.b = k.a;
					r.sport = k.dport, r.dport = k.sport;
					assert_int_equal(qs_of(&r, queues), q);
				}
				for (q = 0; q < (int)queues; q++)
					assert_true(per[q] >=
					            2000 / queues / 2);
			}

	/* Many hosts, one port pair (the addresses count too). */
	memset(per, 0, sizeof(per));
	for (i = 0; i < 1000; i++) {
		k = (struct qs_pkt){AF_INET6, 17, 0x100 + i, 1, 5353, 5353, 0};
		per[qs_of(&k, 2)]++;
	}
	assert_true(per[0] >= 250 && per[1] >= 250);

	/* IPv4 fragments, the first one included, hash their addresses
	 * alone, as ICMP does: a datagram's pieces meet one worker. */
	for (i = 0; i < 200; i++) {
		k = (struct qs_pkt){AF_INET, 17,    i, 7, (uint16_t)(1000 + i),
		                    53,      0x2000};
		q = qs_of(&k, 3);
		k.frag = 0x00b9; /* offset 1480, no MF */
		k.sport = k.dport = 0;
		assert_int_equal(qs_of(&k, 3), q);
		k.proto = 1;
		k.frag = 0;
		assert_int_equal(qs_of(&k, 3), q);
	}

	/* A packet too short to read its ports matches no program: the
	 * last queue takes it. */
	k = (struct qs_pkt){AF_INET, 6, 1, 2, 40000, 80, 0};
	qs_build(&k, p);
	assert_int_equal(qs_queue(AF_INET, 4, p, 21), 3);

	/* What it refuses, and the text iptables-save prints back. */
	assert_int_equal(
	        steer_queue_filter(AF_INET, 1, 0, (struct sock_filter *)v, 48),
	        -EINVAL);
	assert_int_equal(
	        steer_queue_filter(AF_INET, 2, 2, (struct sock_filter *)v, 48),
	        -EINVAL);
	assert_int_equal(
	        steer_queue_filter(AF_INET, 2, 0, (struct sock_filter *)v, 4),
	        -ENOSPC);
}

static void
test_variant(void **state)
{
	enum steer_ipt_variant v;
	struct config c;

	(void)state;
	assert_string_equal(steer_ipt_variant_name(STEER_IPT_NFT), "nf_tables");
	assert_string_equal(steer_ipt_variant_name(STEER_IPT_LEGACY), "legacy");
	assert_string_equal(steer_ipt_variant_name(STEER_IPT_NONE), "none");
	v = steer_iptables_variant();
	print_message("iptables backend: %s\n", steer_ipt_variant_name(v));
	if (access("/usr/sbin/iptables", X_OK) == 0)
		assert_int_not_equal(v, STEER_IPT_NONE);

	/* Set explicitly, the firewall is what the config says. */
	conf(&c, "firewall = iptables\n");
	assert_int_equal(steer_firewall(&c), CONFIG_FIREWALL_IPTABLES);
	conf(&c, "firewall = nft\n");
	assert_int_equal(steer_firewall(&c), CONFIG_FIREWALL_NFT);
}

/*
 * The namespace test. Everything that reads or changes netfilter state
 * runs in a child process that entered the test namespace with setns()
 * and checked, by inode, that it is there and not in the machine's own
 * namespace; otherwise the child exits without doing anything.
 */

struct netns {
	char name[64];
	char path[128];
	dev_t dev;
	ino_t ino;
	dev_t host_dev;
	ino_t host_ino;
};

#define NS_NOT_ENTERED 250

static struct netns ns_state;

static int
run_host(char *const argv[])
{
	pid_t pid;
	int st, fd;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 1);
		setenv("PATH", TOOL_PATH, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* In a child: enter ns and prove it. */
static bool
ns_enter(const struct netns *ns)
{
	struct stat st;
	int fd;

	fd = open(ns->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (setns(fd, CLONE_NEWNET) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	if (stat("/proc/self/ns/net", &st) < 0)
		return false;
	if (st.st_dev == ns->host_dev && st.st_ino == ns->host_ino)
		return false;
	return st.st_dev == ns->dev && st.st_ino == ns->ino;
}

static int
ns_setup(void **state)
{
	struct netns *ns = &ns_state;
	char *add[] = {"ip", "netns", "add", ns->name, NULL};
	struct stat st;

	*state = NULL;
	if (geteuid() != 0)
		return 0;
	snprintf(ns->name, sizeof(ns->name), "spackle-steer-test-%ld",
	         (long)getpid());
	snprintf(ns->path, sizeof(ns->path), "/run/netns/%.63s", ns->name);
	if (stat("/proc/self/ns/net", &st) < 0)
		return 0;
	ns->host_dev = st.st_dev;
	ns->host_ino = st.st_ino;
	if (run_host(add) != 0) {
		print_message("cannot create network namespace %s\n", ns->name);
		return 0;
	}
	if (stat(ns->path, &st) < 0)
		return 0;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	if (ns->dev == ns->host_dev && ns->ino == ns->host_ino)
		return 0;
	*state = ns;
	return 0;
}

static int
ns_teardown(void **state)
{
	struct netns *ns = *state;
	char *del[] = {"ip", "netns", "del", ns_state.name, NULL};

	if (ns != NULL || ns_state.name[0] != '\0')
		run_host(del);
	return 0;
}

/*
 * Run argv in ns; its stdout in *out (may be NULL), its stderr shown
 * unless quiet. Returns the exit status.
 */
static int
ns_run_q(const struct netns *ns, char *const argv[], char **out, bool quiet)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	char chunk[4096];
	ssize_t n;
	int p[2], st, devnull;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (!ns_enter(ns))
			_exit(NS_NOT_ENTERED);
		dup2(p[1], 1);
		devnull = open("/dev/null", O_WRONLY);
		if (out == NULL && devnull >= 0)
			dup2(devnull, 1);
		if (quiet && devnull >= 0)
			dup2(devnull, 2);
		setenv("PATH", TOOL_PATH, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	while ((n = read(p[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		fwrite(chunk, 1, (size_t)n, f);
	}
	close(p[0]);
	fclose(f);
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	if (WIFEXITED(st) && WEXITSTATUS(st) == NS_NOT_ENTERED)
		fail_msg("child could not enter namespace %s", ns->path);
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int
ns_run(const struct netns *ns, char *const argv[], char **out)
{
	return ns_run_q(ns, argv, out, false);
}

static void
ns_must(const struct netns *ns, char *const argv[])
{
	int rc = ns_run(ns, argv, NULL);

	if (rc != 0)
		fail_msg("%s %s ... exited %d", argv[0], argv[1], rc);
}

enum ns_op { OP_APPLY, OP_REMOVE, OP_CLEANUP, OP_DETECT, OP_FIREWALL };

/* Call steer_* in ns; returns its result, its message in err. */
static int
ns_steer(const struct netns *ns, enum ns_op op, const struct config *c,
         char *err, size_t errlen)
{
	char msg[1024] = "";
	int p[2], st, rc = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (!ns_enter(ns))
			_exit(NS_NOT_ENTERED);
		switch (op) {
		case OP_APPLY:
			rc = steer_apply(c, msg, sizeof(msg));
			break;
		case OP_REMOVE:
			rc = steer_remove(c, msg, sizeof(msg));
			break;
		case OP_CLEANUP:
			rc = steer_cleanup(msg, sizeof(msg));
			break;
		case OP_DETECT:
			rc = steer_detect_nft_queue();
			break;
		case OP_FIREWALL:
			rc = (int)steer_firewall(c);
			break;
		}
		if (write(p[1], msg, strlen(msg)) < 0)
			_exit(NS_NOT_ENTERED - 1);
		/* 0..63 as is, -errno as 64 + errno. */
		_exit(rc >= 0 ? rc : 64 + (-rc & 0x7f));
	}
	close(p[1]);
	memset(err, 0, errlen);
	n = read(p[0], err, errlen - 1);
	(void)n;
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	assert_true(WIFEXITED(st));
	st = WEXITSTATUS(st);
	if (st == NS_NOT_ENTERED)
		fail_msg("child could not enter namespace %s", ns->path);
	return st >= 64 ? -(st - 64) : st;
}

static void
ns_steer_ok(const struct netns *ns, enum ns_op op, const struct config *c)
{
	char err[1024];
	int rc = ns_steer(ns, op, c, err, sizeof(err));

	if (rc != 0)
		fail_msg("steer op %d returned %d: %s", (int)op, rc, err);
}

/* *-save output without "# ..." lines and with "[p:b]" counters cut. */
static char *
strip_save(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	const char *nl, *q, *r;

	assert_non_null(out);
	for (; *s != '\0'; s = *nl ? nl + 1 : nl) {
		nl = strchr(s, '\n');
		if (nl == NULL)
			nl = s + strlen(s);
		if (*s == '#')
			continue;
		for (q = s; q < nl; q++) {
			if (*q == '[') {
				r = q + 1;
				while (r < nl && (isdigit((unsigned char)*r) ||
				                  *r == ':'))
					r++;
				if (r < nl && *r == ']' && r > q + 1) {
					q = r;
					continue;
				}
			}
			*o++ = *q;
		}
		*o++ = '\n';
	}
	*o = '\0';
	return out;
}

static char *
ns_save(const struct netns *ns, int family)
{
	char *v4[] = {"iptables-save", NULL};
	char *v6[] = {"ip6tables-save", NULL};
	char *raw, *s;

	if (ns_run(ns, family == AF_INET6 ? v6 : v4, &raw) != 0)
		fail_msg("%s failed", family == AF_INET6 ? v6[0] : v4[0]);
	s = strip_save(raw);
	free(raw);
	return s;
}

static char *
ns_nft_ruleset(const struct netns *ns)
{
	char *argv[] = {"nft", "list", "ruleset", NULL};
	char *out;

	/* quiet: iptables-nft's tables come with a "do not touch" warning */
	if (ns_run_q(ns, argv, &out, true) != 0)
		fail_msg("nft list ruleset failed");
	return out;
}

/* The lines of text that start with prefix, in order. */
static char *
lines_with(const char *text, const char *prefix)
{
	char *out = malloc(strlen(text) + 1), *o = out;
	const char *nl;
	size_t n;

	assert_non_null(out);
	for (; *text != '\0'; text = *nl ? nl + 1 : nl) {
		nl = strchr(text, '\n');
		if (nl == NULL)
			nl = text + strlen(text);
		n = (size_t)(nl - text);
		if (strncmp(text, prefix, strlen(prefix)) == 0) {
			memcpy(o, text, n);
			o += n;
			*o++ = '\n';
		}
	}
	*o = '\0';
	return out;
}

/* Is text (n bytes) exactly "-A CHAIN -j SPACKLE-NAME"? */
static bool
is_jump(const char *text, size_t n)
{
	const char *sp, *end = text + n;

	if (n < 3 || strncmp(text, "-A ", 3) != 0)
		return false;
	sp = memchr(text + 3, ' ', n - 3);
	if (sp == NULL || (size_t)(end - sp) < 13 ||
	    strncmp(sp, " -j SPACKLE-", 12) != 0)
		return false;
	return memchr(sp + 12, ' ', (size_t)(end - sp - 12)) == NULL;
}

/* text without spackle's lines: chains, their rules, the jumps to them. */
static char *
without_spackle(const char *text)
{
	char *out = malloc(strlen(text) + 1), *o = out;
	const char *nl;
	size_t n;

	assert_non_null(out);
	for (; *text != '\0'; text = *nl ? nl + 1 : nl) {
		nl = strchr(text, '\n');
		if (nl == NULL)
			nl = text + strlen(text);
		n = (size_t)(nl - text);
		if (strncmp(text, ":SPACKLE-", 9) == 0 ||
		    strncmp(text, "-A SPACKLE-", 11) == 0)
			continue;
		if (is_jump(text, n))
			continue;
		memcpy(o, text, n);
		o += n;
		*o++ = '\n';
	}
	*o = '\0';
	return out;
}

/*
 * After steer_apply(c): the state is before plus exactly c's rules. The
 * jump is the first rule of each configured hook, the chains hold the
 * generated rules verbatim (the generator writes iptables-save's form),
 * and the host's rules are there, in their order.
 */
static void
check_installed(const char *before, const char *after, const char *gen_text,
                const struct config *c)
{
	static const char *const hook[] = {"OUTPUT", "INPUT", "FORWARD"};
	static const char *const chain[] = {"SPACKLE-OUT", "SPACKLE-IN",
	                                    "SPACKLE-FWD"};
	char want[128], *a, *b, *rest, *filter;
	unsigned h;

	rest = without_spackle(after);
	assert_string_equal(rest, before);
	free(rest);
	/* Only table filter is spackle's; other tables have an OUTPUT too. */
	a = strstr(after, "*filter\n");
	assert_non_null(a);
	b = strstr(a, "COMMIT\n");
	assert_non_null(b);
	filter = strndup(a, (size_t)(b - a));
	assert_non_null(filter);
	after = filter;
	for (h = 0; h < 3; h++) {
		bool on = (c->hooks & (1u << h)) != 0;

		snprintf(want, sizeof(want), "-A %s ", hook[h]);
		a = lines_with(after, want);
		snprintf(want, sizeof(want), "-A %s -j %s\n", hook[h],
		         chain[h]);
		if (on) {
			/* First in the hook, and only once. */
			if (strncmp(a, want, strlen(want)) != 0)
				fail_msg("%s does not start with the jump:\n%s",
				         hook[h], a);
			assert_int_equal(count(after, want), 1);
		} else {
			assert_int_equal(count(after, want), 0);
		}
		free(a);
		snprintf(want, sizeof(want), ":%s - \n", chain[h]);
		assert_int_equal(count(after, want), on ? 1 : 0);
		snprintf(want, sizeof(want), "-A %s ", chain[h]);
		a = lines_with(after, want);
		b = lines_with(gen_text, want);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	free(filter);
}

/* The host's own rules, added before spackle's and expected untouched. */
static void
add_foreign(const struct netns *ns)
{
	char *r1[] = {"iptables",
	              "-A",
	              "OUTPUT",
	              "-p",
	              "tcp",
	              "--dport",
	              "9",
	              "-m",
	              "comment",
	              "--comment",
	              "foreign -j SPACKLE-OUT",
	              "-j",
	              "ACCEPT",
	              NULL};
	char *r2[] = {"iptables",  "-A", "INPUT", "-s",
	              "192.0.2.1", "-j", "DROP",  NULL};
	char *r3[] = {"iptables", "-N", "FOREIGN", NULL};
	char *r4[] = {"iptables", "-A", "FOREIGN", "-j", "RETURN", NULL};
	char *r5[] = {"iptables", "-A", "FORWARD", "-j", "FOREIGN", NULL};
	char *r6[] = {"iptables", "-t",   "mangle",      "-A",      "OUTPUT",
	              "-j",       "MARK", "--set-xmark", "0x1/0x1", NULL};
	char *s1[] = {"ip6tables", "-A", "OUTPUT", "-p",     "tcp",
	              "--dport",   "9",  "-j",     "ACCEPT", NULL};
	char *s2[] = {"ip6tables",   "-A", "INPUT", "-s",
	              "2001:db8::1", "-j", "DROP",  NULL};
	char *s3[] = {"ip6tables", "-A", "FORWARD", "-o",
	              "eth9",      "-j", "ACCEPT",  NULL};

	ns_must(ns, r1);
	ns_must(ns, r2);
	ns_must(ns, r3);
	ns_must(ns, r4);
	ns_must(ns, r5);
	ns_must(ns, r6);
	ns_must(ns, s1);
	ns_must(ns, s2);
	ns_must(ns, s3);
}

/* The generated nft text passes `nft -c` once the queues are taken out. */
static void
check_nft_syntax(const struct netns *ns, const struct config *c)
{
	char *argv[] = {"nft", "-c", "-f", NULL, NULL};
	char path[] = "/tmp/spackle-steer-nft-XXXXXX";
	char *text = gen_ok(c, GEN_NFT), *q, *end;
	int fd, rc;
	FILE *f;

	/* "queue num|flags|to ... comment" -> "accept comment" */
	while ((q = strstr(text, "counter queue ")) != NULL) {
		q += strlen("counter ");
		end = strstr(q, " comment");
		assert_non_null(end);
		memcpy(q, "accept", 6);
		memmove(q + 6, end, strlen(end) + 1);
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	argv[3] = path;
	rc = ns_run(ns, argv, NULL);
	unlink(path);
	free(text);
	assert_int_equal(rc, 0);
}

/*
 * firewall = nft. With the kernel's queue statement: the table comes and
 * goes, once however often applied. Without it (this machine): apply
 * fails, saying why, and leaves every ruleset as it was (one transaction).
 */
static void
check_nft_apply(const struct netns *ns, const struct config *base, int detect)
{
	struct config c = *base;
	char *before, *before4, *s, err[1024];
	int rc;

	c.firewall = CONFIG_FIREWALL_NFT;
	before = ns_nft_ruleset(ns);
	before4 = ns_save(ns, AF_INET);
	rc = ns_steer(ns, OP_APPLY, &c, err, sizeof(err));
	if (detect) {
		if (rc != 0)
			fail_msg("nft apply returned %d: %s", rc, err);
		ns_steer_ok(ns, OP_APPLY, &c);
		s = ns_nft_ruleset(ns);
		assert_int_equal(count(s, "table inet spackle {"), 1);
		assert_int_equal(count(s, "comment \"spackle exempt veth0\""),
		                 4);
		free(s);
		ns_steer_ok(ns, OP_REMOVE, &c);
	} else {
		assert_int_equal(rc, -EIO);
		print_message("nft apply, as expected here: %s\n", err);
		assert_non_null(strstr(err, "nft -f (install) failed"));
	}
	s = ns_nft_ruleset(ns);
	assert_string_equal(s, before);
	free(s);
	s = ns_save(ns, AF_INET);
	assert_string_equal(s, before4);
	free(s);
	free(before);
	free(before4);
}

static void
test_netns_apply_remove(void **state)
{
	struct netns *ns = *state;
	struct config all, other;
	char *before4, *before6, *beforenft, *after4, *after6, *again4, *s;
	char *gen4, *gen6, err[1024];
	int rc, detect;

	if (geteuid() != 0) {
		print_message("skipped: the namespace test needs root "
		              "(ip netns add, iptables-restore)\n");
		skip();
	}
	if (ns == NULL) {
		print_message("skipped: no network namespace could be made "
		              "(ip netns add failed)\n");
		skip();
	}
	if (access("/usr/sbin/iptables-restore", X_OK) != 0 &&
	    access("/sbin/iptables-restore", X_OK) != 0) {
		print_message("skipped: iptables is not installed "
		              "(apt-get install iptables)\n");
		skip();
	}

	/* icmp and icmpv6 too: their rules compare verbatim once installed
	 * (ip6tables-save prints ICMPv6 as ipv6-icmp). */
	conf(&all, "queues = 4\nhooks = out, in, forward\n"
	           "exempt = lo, icmp, icmpv6, veth0\nfirewall = iptables\n");
	conf(&other, "queues = 1\nqueue_base = 0\nhooks = out\n"
	             "failure = closed\ndivert = flow\nfirewall = iptables\n");

	/* Detection works in the namespace and does not change it. */
	detect = ns_steer(ns, OP_DETECT, NULL, err, sizeof(err));
	print_message("nft queue statement: %s\n", detect ? "yes" : "no");
	conf(&other, "queues = 1\nqueue_base = 0\nhooks = out\n"
	             "failure = closed\ndivert = flow\nfirewall = auto\n");
	rc = ns_steer(ns, OP_FIREWALL, &other, err, sizeof(err));
	assert_int_equal(rc, detect ? CONFIG_FIREWALL_NFT
	                            : CONFIG_FIREWALL_IPTABLES);
	other.firewall = CONFIG_FIREWALL_IPTABLES;

	/* A config that does not validate is refused before anything runs. */
	other.queues = 0;
	assert_int_equal(ns_steer(ns, OP_APPLY, &other, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "queue"));
	assert_int_equal(ns_steer(ns, OP_REMOVE, &other, err, sizeof(err)),
	                 -EINVAL);
	other.queues = 1;

	add_foreign(ns);
	before4 = ns_save(ns, AF_INET);
	before6 = ns_save(ns, AF_INET6);
	beforenft = ns_nft_ruleset(ns);
	assert_non_null(strstr(before4, "-A FOREIGN -j RETURN"));

	/* Apply: spackle's rules added, the host's untouched. */
	ns_steer_ok(ns, OP_APPLY, &all);
	after4 = ns_save(ns, AF_INET);
	after6 = ns_save(ns, AF_INET6);
	gen4 = gen_ok(&all, GEN_IPT4);
	gen6 = gen_ok(&all, GEN_IPT6);
	check_installed(before4, after4, gen4, &all);
	check_installed(before6, after6, gen6, &all);
	free(gen4);
	free(gen6);
	s = ns_nft_ruleset(ns);
	assert_null(strstr(s, "table inet spackle"));
	free(s);

	/* A crash, then a start: still exactly one copy. */
	ns_steer_ok(ns, OP_APPLY, &all);
	again4 = ns_save(ns, AF_INET);
	assert_string_equal(again4, after4);
	free(again4);
	again4 = ns_save(ns, AF_INET6);
	assert_string_equal(again4, after6);
	free(again4);

	/* A crash, then a start with another config: nothing stale left. */
	ns_steer_ok(ns, OP_APPLY, &other);
	s = ns_save(ns, AF_INET);
	gen4 = gen_ok(&other, GEN_IPT4);
	check_installed(before4, s, gen4, &other);
	assert_null(strstr(s, "--queue-bypass"));
	assert_null(strstr(s, "SPACKLE-IN"));
	free(gen4);
	free(s);

	/* Exit: removal restores the state byte for byte. */
	ns_steer_ok(ns, OP_REMOVE, &other);
	s = ns_save(ns, AF_INET);
	assert_string_equal(s, before4);
	free(s);
	s = ns_save(ns, AF_INET6);
	assert_string_equal(s, before6);
	free(s);
	s = ns_nft_ruleset(ns);
	assert_string_equal(s, beforenft);
	free(s);

	/* Tampered: a jump deleted behind spackle's back. */
	ns_steer_ok(ns, OP_APPLY, &all);
	{
		char *del[] = {"iptables", "-D",         "INPUT",
		               "-j",       "SPACKLE-IN", NULL};

		ns_must(ns, del);
	}
	rc = ns_steer(ns, OP_REMOVE, &all, err, sizeof(err));
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "not as installed"));
	s = ns_save(ns, AF_INET);
	assert_string_equal(s, before4);
	free(s);
	s = ns_save(ns, AF_INET6);
	assert_string_equal(s, before6);
	free(s);

	/* Cleanup with nothing installed changes nothing. */
	ns_steer_ok(ns, OP_CLEANUP, NULL);
	s = ns_save(ns, AF_INET);
	assert_string_equal(s, before4);
	free(s);
	s = ns_nft_ruleset(ns);
	assert_string_equal(s, beforenft);
	assert_null(strstr(s, "spackle"));
	free(s);

	/* The nft text is valid nft, but for the queue statement. */
	if (access("/usr/sbin/nft", X_OK) == 0) {
		check_nft_syntax(ns, &all);
		check_nft_syntax(ns, &other);
		check_nft_apply(ns, &all, detect);
	}

	free(before4);
	free(before6);
	free(beforenft);
	free(after4);
	free(after6);
}

/*
 * backend = tun: the marking chain in mangle, the route and the fwmark
 * rule in spackle's table, the redirect on each interface given, the
 * blackhole only with failure closed, and removal of every piece.
 */
static void
test_tun_text(void **state)
{
	struct config c;
	struct steer_tun_if ifs[1];
	char *t, *r = NULL;
	size_t len;
	int rc;
	FILE *f;

	(void)state;
	conf(&c, "backend = tun\nexempt = lo, icmp\nfailure = open\n");
	t = gen(&c, GEN_IPT4, &rc, &len);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "*mangle\n:SPACKLE-TUN - [0:0]\n"));
	assert_non_null(strstr(t, "-A SPACKLE-TUN -o lo "));
	assert_non_null(strstr(t, "-A SPACKLE-TUN -p icmp "));
	assert_non_null(strstr(t, "-j MARK --set-xmark 0xc00000/0xe00000\n"));
	assert_non_null(strstr(t, "-I OUTPUT 1 -j SPACKLE-TUN\n"));
	assert_null(strstr(t, "NFQUEUE"));
	free(t);
	t = gen(&c, GEN_IPT6, &rc, &len);
	assert_int_equal(rc, 0);
	/* Neighbour discovery stays on its link. */
	assert_non_null(strstr(t, "--icmpv6-type 135 "));
	assert_non_null(strstr(t, "-d fe80::/10 "));
	free(t);
	t = gen(&c, GEN_NFT, &rc, &len);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "type route hook output priority mangle"));
	assert_non_null(strstr(t, "meta mark set meta mark & 0xff1fffff | "
	                          "0x00c00000"));
	free(t);

	memset(ifs, 0, sizeof(ifs));
	snprintf(ifs[0].name, sizeof(ifs[0].name), "eth7");
	ifs[0].nbcast = 1;
	memcpy(ifs[0].bcast[0], "\xc0\x00\x02\xff", 4);
	assert_non_null(f = open_memstream(&r, &len));
	assert_int_equal(steer_tun_route_text(&c, ifs, 1, f), 0);
	fclose(f);
	assert_non_null(strstr(r, "ip -4 route add default dev spackle0 "
	                          "table 21328\n"));
	assert_non_null(strstr(r, "ip -6 rule add pref 21328 fwmark "
	                          "0xc00000/0xe00000 table 21328\n"));
	assert_non_null(strstr(r, "tc qdisc add dev eth7 clsact\n"));
	/* Each filter that lets a packet be is final (a classid): a bare
	 * u32 match went on to the redirect. */
	assert_non_null(strstr(r, "match ip dst 192.0.2.255/32 classid :1\n"));
	assert_non_null(strstr(
	        r, "protocol ip u32 match ip protocol 1 0xff classid :1\n"));
	assert_non_null(strstr(r, "protocol ipv6 u32 match ip6 protocol 58 "
	                          "0xff match u8 255 0xff at 7 classid :1\n"));
	assert_non_null(strstr(r, "match ip6 dst ff00::/8 classid :1\n"));
	assert_non_null(strstr(r, "tc filter add dev eth7 ingress pref 21330 "
	                          "protocol ip u32 match u32 0 0 action "
	                          "mirred egress redirect dev spackle0\n"));
	assert_null(strstr(r, "blackhole"));
	free(r);

	/* failure closed: a route of last resort that drops. */
	conf(&c, "backend = tun\nfailure = closed\nhooks = out\n");
	assert_non_null(f = open_memstream(&r, &len));
	assert_int_equal(steer_tun_route_text(&c, ifs, 1, f), 0);
	fclose(f);
	assert_non_null(strstr(r, "ip -4 route add blackhole default table "
	                          "21328 metric 4294967295\n"));
	/* No `in` hook: no redirect. */
	assert_null(strstr(r, "tc "));
	free(r);

	assert_non_null(f = open_memstream(&r, &len));
	assert_int_equal(steer_tun_route_remove_text(ifs, 1, f), 0);
	fclose(f);
	assert_non_null(
	        strstr(r, "tc filter del dev eth7 ingress pref 21330\n"));
	assert_non_null(strstr(r, "ip -6 route flush table 21328\n"));
	assert_non_null(strstr(r, "ip -4 rule del pref 21328\n"));
	free(r);

	/* What the tunnel cannot do is refused with the reason. */
	config_defaults(&c);
	c.backend = CONFIG_BACKEND_TUN;
	c.divert = CONFIG_DIVERT_FLOW;
	{
		char err[256];

		assert_true(steer_validate(&c, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "divert = flow needs backend = "
		                            "nfqueue"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tun_text),
	        cmocka_unit_test(test_golden),
	        cmocka_unit_test(test_golden_cleanup),
	        cmocka_unit_test(test_text_shape),
	        cmocka_unit_test(test_exempt_icmp),
	        cmocka_unit_test(test_invalid),
	        cmocka_unit_test(test_write_error),
	        cmocka_unit_test(test_cleanup_edges),
	        cmocka_unit_test(test_cleanup_guard),
	        cmocka_unit_test(test_nft_remove_text),
	        cmocka_unit_test(test_variant),
	        cmocka_unit_test(test_queue_split),
	        cmocka_unit_test_setup_teardown(test_netns_apply_remove,
	                                        ns_setup, ns_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

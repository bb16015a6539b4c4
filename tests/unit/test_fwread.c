/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iptables-save reading, rule matching, steering check and repair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
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

#include "guard.h"
#include "spackle/config.h"
#include "spackle/fwread.h"
#include "spackle/steer.h"

/*
 * The config tests/golden/fwread/installed.ip{4,6}.save were made with:
 * its steering installed by iptables-restore in a namespace, then the
 * host rules below added with iptables (and a few packets sent over lo),
 * then `iptables-save -c` and `ip6tables-save -c` (iptables 1.8.9,
 * nf_tables). The saves are the kernel's own words.
 */
#define INSTALLED_CONF                                                         \
	"queues = 4\nhooks = out, in, forward\n"                               \
	"exempt = lo, icmp, icmpv6, veth0\nfirewall = iptables\n"

/* ---- helpers ----------------------------------------------------------- */

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

static char *
read_all(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

static void
golden_path(char *path, size_t len, const char *name)
{
	const char *src = getenv("SPACKLE_SOURCE");

	if (src == NULL || *src == '\0')
		fail_msg("SPACKLE_SOURCE is not set (ctest sets it; by hand: "
		         "SPACKLE_SOURCE=/path/to/spackle ./test_fwread)");
	snprintf(path, len, "%s/tests/golden/fwread/%s", src, name);
}

static char *
golden_read(const char *name)
{
	char path[4096], *s;

	golden_path(path, sizeof(path), name);
	s = read_all(path, NULL);
	if (s == NULL)
		fail_msg("%s: cannot read: %s", path, strerror(errno));
	return s;
}

/* got must equal tests/golden/fwread/name (SPACKLE_UPDATE_GOLDEN=1:
 * rewrite it instead). */
static void
golden(const char *name, const char *got)
{
	const char *upd = getenv("SPACKLE_UPDATE_GOLDEN");
	char path[4096], *want;
	FILE *f;

	golden_path(path, sizeof(path), name);
	if (upd != NULL && strcmp(upd, "1") == 0) {
		f = fopen(path, "w");
		if (f == NULL)
			fail_msg("%s: cannot write: %s", path, strerror(errno));
		fputs(got, f);
		assert_int_equal(fclose(f), 0);
		return;
	}
	want = read_all(path, NULL);
	if (want == NULL)
		fail_msg("%s: cannot read (%s); SPACKLE_UPDATE_GOLDEN=1 writes "
		         "it",
		         path, strerror(errno));
	if (strcmp(want, got) != 0) {
		print_error("%s differs:\n--- got\n%s--- want\n%s", path, got,
		            want);
		free(want);
		fail();
	}
	free(want);
}

static void
parse_ok(const char *text, int family, const char *table, struct fw_ruleset *rs)
{
	char err[256] = "";
	int rc = fw_parse_save(text, strlen(text), family, table, rs, err,
	                       sizeof(err));

	if (rc != 0)
		fail_msg("fw_parse_save returned %d: %s", rc, err);
}

/* The rule of rs with exactly this spec. */
static const struct fw_rule *
find(const struct fw_ruleset *rs, int family, const char *spec)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (rs->v[i].family == family &&
		    strcmp(rs->v[i].spec, spec) == 0)
			return &rs->v[i];
	fail_msg("no rule \"%s\"", spec);
	return NULL;
}

static const struct fw_chain *
find_chain(const struct fw_ruleset *rs, int family, const char *name)
{
	size_t i;

	for (i = 0; i < rs->nchains; i++)
		if (rs->chains[i].family == family &&
		    strcmp(rs->chains[i].name, name) == 0)
			return &rs->chains[i];
	fail_msg("no chain %s", name);
	return NULL;
}

/* One rule, parsed from its spec and two user chains' declarations. */
static struct fw_rule *
rule_of(struct fw_ruleset *rs, int family, const char *spec)
{
	char text[1024];

	snprintf(text, sizeof(text),
	         "*filter\n:SPACKLE-IN - [0:0]\n:DOCKER-USER - [0:0]\n%s\n"
	         "COMMIT\n",
	         spec);
	fw_ruleset_free(rs);
	parse_ok(text, family, "filter", rs);
	assert_int_equal(rs->n, 1);
	return &rs->v[0];
}

static char *
gen_text(const struct config *c, int family)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(steer_iptables_text(c, family, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/*
 * The generator's text as iptables-save -c would print it once installed
 * on an empty filter table: the built-in chains, spackle's chains, each
 * hook's jump as its only rule, then the chains' rules, with counters.
 */
static char *
as_saved(const struct config *c, int family)
{
	char *gen = gen_text(c, family), *buf = NULL, *p, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char hook[32], chain[32];

	assert_non_null(f);
	fputs("# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n"
	      ":INPUT ACCEPT [10:600]\n:FORWARD ACCEPT [0:0]\n"
	      ":OUTPUT ACCEPT [12:720]\n",
	      f);
	for (p = gen; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		if (*p == ':')
			fprintf(f, "%.*s\n", (int)(nl - p), p);
	}
	for (p = gen; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (strncmp(p, "-I ", 3) == 0) {
			assert_int_equal(
			        sscanf(p, "-I %31s 1 -j %31s", hook, chain), 2);
			fprintf(f, "[7:420] -A %s -j %s\n", hook, chain);
		}
	}
	for (p = gen; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (strncmp(p, "-A ", 3) == 0)
			fprintf(f, "[0:0] %.*s\n", (int)(nl - p), p);
	}
	fputs("COMMIT\n# Completed\n", f);
	assert_int_equal(fclose(f), 0);
	free(gen);
	return buf;
}

/* text with its first `old` replaced by `new` (which may be ""). */
static char *
edit(char *text, const char *old, const char *new)
{
	char *at = strstr(text, old), *out;
	size_t n;

	if (at == NULL)
		fail_msg("\"%s\" is not in the text", old);
	n = strlen(text) - strlen(old) + strlen(new) + 1;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - text), text, new,
	         at + strlen(old));
	free(text);
	return out;
}

static const struct fw_hook_check *
hook_of(const struct fw_steer_check *ch, int family, const char *hook)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (ch->v[i].family == family &&
		    strcmp(ch->v[i].hook, hook) == 0)
			return &ch->v[i];
	fail_msg("no check for %s", hook);
	return NULL;
}

static void
check_text(const struct config *c, int family, const char *text,
           struct fw_ruleset *rs, struct fw_steer_check *ch)
{
	parse_ok(text, family, "filter", rs);
	assert_int_equal(fw_check_steering(c, family, rs, ch), 0);
}

static char *
repair_of(const struct config *c, int family, const struct fw_steer_check *ch,
          int *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*n = fw_repair_text(c, family, ch, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void
assert_hook_ok(const struct fw_hook_check *h)
{
	assert_true(h->ok);
	assert_int_equal(h->jumps, 1);
	assert_int_equal(h->jump_pos, 1);
	assert_int_equal(h->nabove, 0);
	assert_true(h->chain_present);
	assert_int_equal(h->nmissing, 0);
	assert_int_equal(h->nextra, 0);
}

/* ---- reading ------------------------------------------------------------ */

static void
test_parse_installed_ip4(void **state)
{
	struct fw_ruleset rs = {0};
	const struct fw_rule *r;
	const struct fw_chain *ch;
	char *text = golden_read("installed.ip4.save");
	size_t i;

	(void)state;
	parse_ok(text, AF_INET, "filter", &rs);
	/* filter only: mangle's MARK and nat's DNAT/MASQUERADE left out. */
	assert_int_equal(rs.n, 50);
	assert_int_equal(rs.nchains, 7);
	for (i = 0; i < rs.n; i++) {
		assert_int_equal(rs.v[i].family, AF_INET);
		assert_string_not_equal(rs.v[i].target, "MARK");
		assert_string_not_equal(rs.v[i].target, "DNAT");
		assert_string_not_equal(rs.v[i].target, "MASQUERADE");
		assert_memory_equal(rs.v[i].spec, "-A ", 3);
	}
	ch = find_chain(&rs, AF_INET, "FORWARD");
	assert_string_equal(ch->policy, "DROP");
	ch = find_chain(&rs, AF_INET, "DOCKER-USER");
	assert_string_equal(ch->policy, "-");

	/* The jump, with its counters; the spec without them. */
	r = find(&rs, AF_INET, "-A INPUT -j SPACKLE-IN");
	assert_string_equal(r->chain, "INPUT");
	assert_int_equal(r->pos, 1);
	assert_int_equal(r->kind, FW_K_JUMP);
	assert_string_equal(r->target, "SPACKLE-IN");
	assert_int_equal(r->packets, 14);
	assert_int_equal(r->bytes, 750);
	assert_false(r->unknown);

	r = find(&rs, AF_INET,
	         "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j "
	         "ACCEPT");
	assert_int_equal(r->pos, 2);
	assert_int_equal(r->kind, FW_K_ACCEPT);
	assert_true(r->unknown);

	r = find(&rs, AF_INET,
	         "-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT");
	assert_int_equal(r->proto, 6);
	assert_true(r->unknown);
	assert_false(r->has_dport);

	r = find(&rs, AF_INET,
	         "-A INPUT ! -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j DROP");
	assert_int_equal(r->pos, 4);
	assert_int_equal(r->kind, FW_K_DROP);
	assert_true(r->has_src);
	assert_true(r->src_neg);
	assert_int_equal(r->src_plen, 24);
	assert_int_equal(r->src.family, AF_INET);
	/* v4-mapped, as sp_addr keeps IPv4 */
	assert_int_equal(r->src.b[10], 0xff);
	assert_int_equal(r->src.b[11], 0xff);
	assert_int_equal(r->src.b[12], 192);
	assert_int_equal(r->src.b[14], 2);
	assert_true(r->has_dport);
	assert_false(r->dport_neg);
	assert_int_equal(r->dport_lo, 22);
	assert_int_equal(r->dport_hi, 22);
	assert_false(r->unknown);

	r = find(
	        &rs, AF_INET,
	        "-A INPUT -i eth+ -p udp -m udp --sport 1000:2000 -m comment "
	        "--comment \"a \\\"quoted\\\" comment with spaces\" -j ACCEPT");
	assert_string_equal(r->comment, "a \"quoted\" comment with spaces");
	assert_string_equal(r->in_if, "eth+");
	assert_false(r->in_neg);
	assert_int_equal(r->proto, 17);
	assert_int_equal(r->sport_lo, 1000);
	assert_int_equal(r->sport_hi, 2000);
	assert_false(r->unknown);

	r = find(&rs, AF_INET,
	         "-A INPUT -m mark --mark 0x1 -j NFQUEUE --queue-num 5");
	assert_int_equal(r->kind, FW_K_QUEUE);
	assert_true(r->unknown);

	r = find(&rs, AF_INET, "-A FORWARD -j DOCKER-USER");
	assert_int_equal(r->pos, 2);
	assert_int_equal(r->kind, FW_K_JUMP);

	r = find(&rs, AF_INET,
	         "-A OUTPUT -m owner --uid-owner 1000-1999 -j ACCEPT");
	assert_true(r->has_uid);
	assert_false(r->uid_neg);
	assert_int_equal(r->uid_lo, 1000);
	assert_int_equal(r->uid_hi, 1999);

	r = find(&rs, AF_INET,
	         "-A OUTPUT -d 203.0.113.9/32 -p tcp -m tcp --dport 443 -m "
	         "owner ! --uid-owner 0 -j REJECT --reject-with tcp-reset");
	assert_int_equal(r->kind, FW_K_REJECT);
	assert_string_equal(r->target, "REJECT");
	assert_int_equal(r->dst_plen, 32);
	assert_true(r->uid_neg);
	assert_int_equal(r->uid_lo, 0);
	assert_int_equal(r->uid_hi, 0);
	assert_int_equal(r->dport_lo, 443);

	r = find(&rs, AF_INET, "-A OUTPUT -j LOG --log-prefix \"out: \"");
	assert_int_equal(r->kind, FW_K_OTHER);
	assert_string_equal(r->target, "LOG");
	assert_int_equal(r->packets, 14);
	assert_null(r->comment);

	r = find(&rs, AF_INET, "-A OUTPUT -p gre -j DROP");
	assert_int_equal(r->proto, 47);
	assert_false(r->unknown);

	r = find(&rs, AF_INET, "-A OUTPUT -o veth1 -g DOCKER-USER");
	assert_int_equal(r->kind, FW_K_JUMP);
	assert_string_equal(r->target, "DOCKER-USER");
	assert_string_equal(r->out_if, "veth1");

	r = find(&rs, AF_INET, "-A OUTPUT -d 198.51.100.0/24 ! -p udp");
	assert_int_equal(r->kind, FW_K_NONE);
	assert_string_equal(r->target, "");
	assert_true(r->proto_neg);
	assert_int_equal(r->proto, 17);
	assert_int_equal(r->pos, 7);

	/* spackle's own, with the ICMP exemption */
	r = find(&rs, AF_INET,
	         "-A SPACKLE-OUT -p icmp -m comment --comment \"spackle exempt "
	         "icmp\" -j RETURN");
	assert_int_equal(r->pos, 8);
	assert_int_equal(r->kind, FW_K_RETURN);
	assert_int_equal(r->proto, 1);
	assert_string_equal(r->comment, "spackle exempt icmp");
	r = find(&rs, AF_INET,
	         "-A SPACKLE-OUT -m comment --comment \"spackle queue\" -j "
	         "NFQUEUE --queue-balance 4200:4203 --queue-bypass");
	assert_int_equal(r->pos, 10);
	assert_int_equal(r->kind, FW_K_QUEUE);
	assert_false(r->unknown);

	fw_ruleset_free(&rs);
	assert_null(rs.v);
	assert_int_equal(rs.n, 0);
	free(text);
}

/* Both families in one ruleset, IPv6 addresses and escapes. */
static void
test_parse_installed_ip6(void **state)
{
	struct fw_ruleset rs = {0};
	const struct fw_rule *r;
	char *t4 = golden_read("installed.ip4.save");
	char *t6 = golden_read("installed.ip6.save");
	struct sp_addr a;

	(void)state;
	parse_ok(t4, AF_INET, "filter", &rs);
	parse_ok(t6, AF_INET6, "filter", &rs);
	assert_int_equal(rs.n, 50 + 41);

	r = find(&rs, AF_INET6,
	         "-A INPUT -s 2001:db8::/32 -p tcp -m tcp --dport 8000:8080 -j "
	         "ACCEPT");
	assert_int_equal(r->pos, 2); /* after the jump */
	assert_int_equal(r->src.family, AF_INET6);
	assert_true(sp_addr_parse(&a, "2001:db8::"));
	assert_true(sp_addr_equal(&r->src, &a));
	assert_int_equal(r->src_plen, 32);
	assert_int_equal(r->dport_lo, 8000);
	assert_int_equal(r->dport_hi, 8080);

	r = find(&rs, AF_INET6, "-A INPUT -p ipv6-icmp -j ACCEPT");
	assert_int_equal(r->proto, 58);
	assert_int_equal(r->packets, 3);
	assert_int_equal(r->bytes, 294);

	r = find(&rs, AF_INET6, "-A OUTPUT ! -d fe80::/10 -o veth+ -j DROP");
	assert_true(r->dst_neg);
	assert_int_equal(r->dst_plen, 10);
	assert_string_equal(r->out_if, "veth+");

	r = find(&rs, AF_INET6,
	         "-A OUTPUT -m owner --uid-owner 1234 -m comment --comment "
	         "\"backup \\\\\\\"job\\\\\\\"\" -j ACCEPT");
	assert_string_equal(r->comment, "backup \\\"job\\\"");
	assert_int_equal(r->uid_lo, 1234);

	r = find(&rs, AF_INET6,
	         "-A SPACKLE-IN -p ipv6-icmp -m comment --comment \"spackle "
	         "exempt icmpv6\" -j RETURN");
	assert_int_equal(r->proto, 58);
	/* the IPv6 reject */
	find(&rs, AF_INET6,
	     "-A SPACKLE-IN -m mark --mark 0x600000/0xe00000 -m comment "
	     "--comment \"spackle reject\" -j REJECT --reject-with "
	     "icmp6-port-unreachable");
	fw_ruleset_free(&rs);
	free(t4);
	free(t6);
}

static void
test_parse_tables(void **state)
{
	struct fw_ruleset rs = {0};
	const struct fw_rule *r;
	char *text = golden_read("installed.ip4.save");

	(void)state;
	parse_ok(text, AF_INET, "nat", &rs);
	assert_int_equal(rs.n, 2);
	r = find(&rs, AF_INET, "-A POSTROUTING -o eth0 -j MASQUERADE");
	assert_int_equal(r->kind, FW_K_OTHER);
	assert_int_equal(r->pos, 1);
	fw_ruleset_free(&rs);

	parse_ok(text, AF_INET, "mangle", &rs);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.v[0].target, "MARK");
	assert_int_equal(rs.v[0].packets, 14);
	fw_ruleset_free(&rs);

	parse_ok(text, AF_INET, "raw", &rs);
	assert_int_equal(rs.n, 0);
	assert_int_equal(rs.nchains, 0);
	fw_ruleset_free(&rs);

	/* Lines of other tables are not looked at. */
	parse_ok("*nat\nwhatever this is\nCOMMIT\n*filter\n:INPUT ACCEPT "
	         "[0:0]\n-A INPUT -j DROP\nCOMMIT\n",
	         AF_INET, "filter", &rs);
	assert_int_equal(rs.n, 1);
	fw_ruleset_free(&rs);
	free(text);
}

/* Forms iptables-save may print, or that a hand may write. */
static void
test_parse_forms(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_rule *r;
	char *big, *line;
	size_t n = 100000, i;

	(void)state;
	/* No counters (plain iptables-save), CRLF, no final newline. */
	parse_ok("*filter\r\n:INPUT ACCEPT [0:0]\r\n-A INPUT -i lo -j "
	         "ACCEPT\r\n-A FOO -j RETURN\r\n-A INPUT -j DROP\r\nCOMMIT",
	         AF_INET, "filter", &rs);
	assert_int_equal(rs.n, 3);
	assert_string_equal(rs.v[0].spec, "-A INPUT -i lo -j ACCEPT");
	assert_int_equal(rs.v[0].packets, 0);
	/* positions are per chain, even interleaved */
	assert_int_equal(rs.v[1].pos, 1);
	assert_int_equal(rs.v[2].pos, 2);
	/* FOO was never declared: not a jump target, RETURN anyway */
	assert_int_equal(rs.v[1].kind, FW_K_RETURN);
	fw_ruleset_free(&rs);

	r = rule_of(&rs, AF_INET6, "-A OUTPUT -p icmpv6 -j ACCEPT");
	assert_int_equal(r->proto, 58);
	r = rule_of(&rs, AF_INET6, "-A OUTPUT -p 58 -j ACCEPT");
	assert_int_equal(r->proto, 58);
	assert_false(r->unknown);
	r = rule_of(&rs, AF_INET, "-A OUTPUT -p all -j ACCEPT");
	assert_int_equal(r->proto, 0);
	assert_false(r->unknown);
	r = rule_of(&rs, AF_INET, "-A OUTPUT -p no-such-proto -j ACCEPT");
	assert_int_equal(r->proto, 0);
	assert_true(r->unknown);
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -m owner --uid-owner root -j "
	            "ACCEPT");
	assert_true(r->has_uid);
	assert_int_equal(r->uid_lo, 0);
	r = rule_of(
	        &rs, AF_INET,
	        "-A OUTPUT -m owner --uid-owner no-such-user-xyz -j ACCEPT");
	assert_false(r->has_uid);
	assert_true(r->unknown);
	r = rule_of(&rs, AF_INET, "-A OUTPUT -m owner --gid-owner 5 -j DROP");
	assert_true(r->unknown);
	r = rule_of(&rs, AF_INET, "-A OUTPUT -s 10.0.0.0/255.255.0.0 -j DROP");
	assert_true(r->has_src);
	assert_int_equal(r->src_plen, 16);
	assert_false(r->unknown);
	r = rule_of(&rs, AF_INET, "-A OUTPUT -s 10.0.0.0/255.0.255.0 -j DROP");
	assert_false(r->has_src);
	assert_true(r->unknown);
	r = rule_of(&rs, AF_INET, "-A OUTPUT -d 192.0.2.1 -j DROP");
	assert_int_equal(r->dst_plen, 32);
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -p tcp -m tcp --dport :100 "
	            "--sport 1024: -j DROP");
	assert_int_equal(r->dport_lo, 0);
	assert_int_equal(r->dport_hi, 100);
	assert_int_equal(r->sport_lo, 1024);
	assert_int_equal(r->sport_hi, 65535);
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -p tcp -m tcp ! --dport 22 "
	            "--tcp-flags FIN,SYN,RST,ACK SYN -j DROP");
	assert_true(r->dport_neg);
	assert_true(r->unknown);
	r = rule_of(&rs, AF_INET, "-A OUTPUT -f -j DROP");
	assert_true(r->unknown);
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -m comment --comment \"\" -j "
	            "DROP");
	assert_string_equal(r->comment, "");
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -m comment --comment \"-j "
	            "ACCEPT\" -j DROP");
	assert_int_equal(r->kind, FW_K_DROP);
	assert_string_equal(r->comment, "-j ACCEPT");
	r = rule_of(&rs, AF_INET, "-A OUTPUT -j QUEUE");
	assert_int_equal(r->kind, FW_K_QUEUE);
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -m string --string \"a b\" --algo bm -j DROP");
	assert_true(r->unknown);
	assert_int_equal(r->kind, FW_K_DROP);

	/* A long comment is kept whole. */
	fw_ruleset_free(&rs);
	big = malloc(n + 64);
	line = malloc(n + 256);
	assert_non_null(big);
	assert_non_null(line);
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	snprintf(line, n + 256,
	         "*filter\n-A OUTPUT -m comment --comment \"%s\" -j ACCEPT\n"
	         "COMMIT\n",
	         big);
	parse_ok(line, AF_INET, "filter", &rs);
	assert_string_equal(rs.v[0].comment, big);
	fw_ruleset_free(&rs);
	free(big);
	free(line);
}

struct bad_case {
	int family;
	const char *text;
	const char *err;
};

static const struct bad_case bad_cases[] = {
        {AF_INET, "*filter\n-A\nCOMMIT\n", "line 2: -A without a chain"},
        {AF_INET, "*filter\n[1:2 -A X -j ACCEPT\nCOMMIT\n",
         "line 2: bad counters"},
        {AF_INET, "*filter\n[1:x] -A X -j ACCEPT\nCOMMIT\n",
         "line 2: bad counters"},
        {AF_INET, "*filter\n-A X -s 300.1.1.1 -j ACCEPT\nCOMMIT\n",
         "line 2: bad address \"300.1.1.1\""},
        {AF_INET,
         "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "
         "\"open -j ACCEPT\nCOMMIT\n",
         "line 3: a quote is not closed"},
        {AF_INET, "-A INPUT -j ACCEPT\n",
         "line 1: \"-A INPUT -j ACCEPT\" "
         "outside a table"},
        {AF_INET, "*filter\n-A INPUT -j ACCEPT\n",
         "line 2: *filter has no COMMIT"},
        {AF_INET, "*filter\n*nat\nCOMMIT\n",
         "line 2: a new table before COMMIT of *filter"},
        {AF_INET,
         "*filter\n:A-VERY-LONG-CHAIN-NAME-OF-FORTY-CHARACTERS - [0:0]\n"
         "COMMIT\n",
         "line 2: chain name \"A-VERY-LONG-CHAIN-NAME-OF-FORTY-CHARACTERS\" "
         "is too long"},
        {AF_INET,
         "*filter\n-A A-VERY-LONG-CHAIN-NAME-OF-FORTY-CHARACTERS -j "
         "DROP\nCOMMIT\n",
         "line 2: chain name"},
        {AF_INET,
         "*filter\n-A INPUT -i an-interface-name-far-too-long-for-linux "
         "-j DROP\nCOMMIT\n",
         "line 2: bad interface"},
        {AF_INET,
         "*filter\n-A INPUT -j A-TARGET-NAME-FAR-TOO-LONG-FOR-IPTABLES\n"
         "COMMIT\n",
         "line 2: target"},
        {AF_INET,
         "*filter\n-A INPUT -p tcp -m tcp --dport 70000 -j DROP\n"
         "COMMIT\n",
         "line 2: bad port \"70000\""},
        {AF_INET,
         "*filter\n-A INPUT -p tcp -m tcp --dport 5:3 -j DROP\n"
         "COMMIT\n",
         "line 2: bad port range \"5:3\""},
        {AF_INET,
         "*filter\n-A INPUT -p tcp -m tcp --dport http -j DROP\n"
         "COMMIT\n",
         "line 2: bad port \"http\""},
        {AF_INET,
         "*filter\n-A OUTPUT -m owner --uid-owner 5-3 -j DROP\n"
         "COMMIT\n",
         "line 2: bad uid \"5-3\""},
        {AF_INET, "*filter\n-A OUTPUT -d 2001:db8::1/128 -j DROP\nCOMMIT\n",
         "line 2: an IPv6 address in IPv4 rules"},
        {AF_INET6, "*filter\n-A OUTPUT -d 192.0.2.1/32 -j DROP\nCOMMIT\n",
         "line 2: an IPv4 address in IPv6 rules"},
        {AF_INET6, "*filter\n-A OUTPUT -d 2001:db8::/129 -j DROP\nCOMMIT\n",
         "line 2: bad address"},
        {AF_INET, "*filter\n-A OUTPUT -p 300 -j DROP\nCOMMIT\n",
         "line 2: bad protocol \"300\""},
        {AF_INET, "*filter\n-A OUTPUT -j\nCOMMIT\n",
         "line 2: -j needs a value"},
        {AF_INET, "*filter\n-A OUTPUT -s\nCOMMIT\n",
         "line 2: -s needs a value"},
        {AF_INET, "*filter\n-A OUTPUT ! ! -s 1.2.3.4 -j DROP\nCOMMIT\n",
         "line 2: \"!\" twice"},
        {AF_INET, "*filter\n-A OUTPUT -j DROP !\nCOMMIT\n", NULL},
        {AF_INET, "*filter\n-A OUTPUT -s 1.2.3.4 oops -j DROP\nCOMMIT\n",
         "line 2: unexpected \"oops\""},
        {AF_INET, "*filter\nhello\nCOMMIT\n", "line 2: cannot read"},
        {AF_INET, "*filter\n-I OUTPUT 1 -j DROP\nCOMMIT\n",
         "line 2: \"-I\" where -A CHAIN should be"},
        {AF_INET, "*filter\n:INPUT\nCOMMIT\n",
         "line 2: chain INPUT has no "
         "policy"},
        {AF_INET, "*filter\n:INPUT ACCEPT [0:0] x\nCOMMIT\n",
         "line 2: chain INPUT: more than"},
        {AF_INET, "*\nCOMMIT\n", "line 1: bad table"},
        {AF_INET, "# c\n\n*filter\n-A OUTPUT -j ! DROP\nCOMMIT\n",
         "line 4: -j needs a value"},
};

static void
test_parse_bad(void **state)
{
	static const char kept[] = "*filter\n-A INPUT -j DROP\n"
	                           "-A INPUT -s x -j DROP\nCOMMIT\n";
	static const char nul[] = "*filter\n-A IN\0PUT -j DROP\nCOMMIT\n";
	static const char hello[] = "*filter\nhello\nCOMMIT\n";
	struct fw_ruleset rs = {0};
	char err[256];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];

		memset(err, 'x', sizeof(err));
		rc = fw_parse_save(b->text, strlen(b->text), b->family,
		                   "filter", &rs, err, sizeof(err));
		if (b->err == NULL) {
			/* a "!" that negates nothing, after the target's
			 * options: not looked at */
			assert_int_equal(rc, 0);
		} else {
			if (rc != -EINVAL)
				fail_msg("case %zu: returned %d", i, rc);
			if (strstr(err, b->err) == NULL)
				fail_msg("case %zu: \"%s\" lacks \"%s\"", i,
				         err, b->err);
		}
		fw_ruleset_free(&rs);
		/* err may be NULL */
		rc = fw_parse_save(b->text, strlen(b->text), b->family,
		                   "filter", &rs, NULL, 0);
		assert_int_equal(rc, b->err == NULL ? 0 : -EINVAL);
		fw_ruleset_free(&rs);
	}

	/* What came before the bad line stays. */
	rc = fw_parse_save(kept, sizeof(kept) - 1, AF_INET, "filter", &rs, err,
	                   sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(rs.n, 1);
	assert_string_equal(err, "line 3: bad address \"x\"");
	fw_ruleset_free(&rs);

	/* A NUL byte inside a line. */
	rc = fw_parse_save(nul, sizeof(nul) - 1, AF_INET, "filter", &rs, err,
	                   sizeof(err));
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, "line 2: a NUL byte");
	fw_ruleset_free(&rs);

	/* A tiny err is cut, NUL-terminated. */
	rc = fw_parse_save(hello, sizeof(hello) - 1, AF_INET, "filter", &rs,
	                   err, 8);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, "line 2:");

	/* Bad arguments. */
	assert_int_equal(fw_parse_save("", 0, AF_UNIX, "filter", &rs, NULL, 0),
	                 -EINVAL);
	assert_int_equal(
	        fw_parse_save(NULL, 1, AF_INET, "filter", &rs, NULL, 0),
	        -EINVAL);
	assert_int_equal(fw_parse_save("", 0, AF_INET, "filter", NULL, NULL, 0),
	                 -EINVAL);
	assert_int_equal(
	        fw_parse_save(NULL, 0, AF_INET, "filter", &rs, NULL, 0), 0);
	fw_ruleset_free(&rs);
}

/*
 * Every prefix of the real dumps, flush against a PROT_NONE page: the
 * reader never reads past the length it was given, wherever the text
 * stops, and says either 0 or -EINVAL.
 */
static void
test_parse_guard(void **state)
{
	static const char *const names[] = {"installed.ip4.save",
	                                    "installed.ip6.save"};
	struct fw_ruleset rs = {0};
	char *text, err[256];
	uint8_t *g;
	size_t len, i, k;
	int rc;

	(void)state;
	for (k = 0; k < 2; k++) {
		text = golden_read(names[k]);
		len = strlen(text);
		for (i = 0; i <= len; i++) {
			g = guard_copy(text, i);
			rc = fw_parse_save((const char *)g, i,
			                   k ? AF_INET6 : AF_INET, "filter",
			                   &rs, err, sizeof(err));
			assert_true(rc == 0 || rc == -EINVAL);
			fw_ruleset_free(&rs);
			guard_free(g);
		}
		free(text);
	}
}

/* ---- matching and describing ---------------------------------------------
 */

static struct fw_pkt
pkt(int family, uint8_t proto, const char *src, const char *dst, uint16_t sport,
    uint16_t dport, int64_t uid)
{
	struct fw_pkt p;

	memset(&p, 0, sizeof(p));
	p.family = family;
	p.proto = proto;
	assert_true(sp_addr_parse(&p.src, src));
	assert_true(sp_addr_parse(&p.dst, dst));
	p.sport = sport;
	p.dport = dport;
	p.uid = uid;
	return p;
}

static void
test_match(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_rule *r;
	struct fw_pkt p =
	        pkt(AF_INET, 6, "192.0.2.10", "203.0.113.9", 40000, 443, 1234);
	struct fw_pkt p6 = pkt(AF_INET6, 6, "2001:db8::10", "2001:db8:1::1",
	                       40000, 8080, -1);

	(void)state;
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -m owner --uid-owner 1234 -j "
	            "ACCEPT");
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	p.uid = 5;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.uid = -1;
	assert_int_equal(fw_rule_match(r, &p), FW_MAYBE);
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -m owner ! --uid-owner 0 -j "
	            "ACCEPT");
	p.uid = 0;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.uid = 1000;
	assert_int_equal(fw_rule_match(r, &p), FW_YES);

	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -d 203.0.113.0/24 -p tcp -m tcp --dport 443 -j "
	            "ACCEPT");
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	p.dport = 80;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.dport = 443;
	p.proto = 17;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.proto = 6;
	assert_true(sp_addr_parse(&p.dst, "198.51.100.1"));
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	assert_true(sp_addr_parse(&p.dst, "203.0.113.9"));
	/* the other family never matches */
	p6.dport = 443;
	assert_int_equal(fw_rule_match(r, &p6), FW_NO);
	p6.dport = 8080;

	r = rule_of(&rs, AF_INET, "-A OUTPUT ! -p udp -j DROP");
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	p.proto = 17;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.proto = 6;

	/* Interfaces: + is a prefix; none (NULL) is the empty name. */
	r = rule_of(&rs, AF_INET, "-A FORWARD -o eth+ -j DROP");
	p.out_if = "eth0";
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	p.out_if = "wlan0";
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.out_if = NULL;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	r = rule_of(&rs, AF_INET, "-A FORWARD ! -o eth+ -j DROP");
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	r = rule_of(&rs, AF_INET, "-A INPUT -i lo -j ACCEPT");
	p.in_if = "lo";
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	p.in_if = "lo0";
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.in_if = NULL;

	/* Not judged: maybe, unless something judged says no. */
	r = rule_of(&rs, AF_INET,
	            "-A OUTPUT -p tcp -m conntrack --ctstate "
	            "NEW -j ACCEPT");
	assert_int_equal(fw_rule_match(r, &p), FW_MAYBE);
	p.proto = 17;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.proto = 6;
	r = rule_of(&rs, AF_INET, "-A OUTPUT -j ACCEPT");
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	r = rule_of(&rs, AF_INET, "-A OUTPUT ! -s 192.0.2.0/24 -j ACCEPT");
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	r = rule_of(&rs, AF_INET, "-A OUTPUT -p gre -j ACCEPT");
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.proto = 47;
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	p.proto = 6;
	r = rule_of(&rs, AF_INET,
	            "-A INPUT -p udp -m udp --sport 1000:2000 "
	            "-j ACCEPT");
	p.proto = 17;
	p.sport = 999;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);
	p.sport = 1000;
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	p.sport = 2000;
	assert_int_equal(fw_rule_match(r, &p), FW_YES);
	p.sport = 2001;
	assert_int_equal(fw_rule_match(r, &p), FW_NO);

	/* IPv6 */
	r = rule_of(&rs, AF_INET6,
	            "-A INPUT -d 2001:db8::/32 -p tcp -m tcp --dport 8000:8080 "
	            "-j ACCEPT");
	assert_int_equal(fw_rule_match(r, &p6), FW_YES);
	p6.dport = 8081;
	assert_int_equal(fw_rule_match(r, &p6), FW_NO);
	p6.dport = 8080;
	assert_true(sp_addr_parse(&p6.dst, "2001:db9::1"));
	assert_int_equal(fw_rule_match(r, &p6), FW_NO);
	r = rule_of(&rs, AF_INET6, "-A OUTPUT -p ipv6-icmp -j ACCEPT");
	p6.proto = 58;
	assert_int_equal(fw_rule_match(r, &p6), FW_YES);
	/* uid unknown (-1): an owner match cannot say */
	r = rule_of(&rs, AF_INET6, "-A OUTPUT -m owner --uid-owner 5 -j DROP");
	assert_int_equal(fw_rule_match(r, &p6), FW_MAYBE);
	fw_ruleset_free(&rs);
}

struct describe_case {
	int family;
	const char *spec;
	const char *want;
};

static const struct describe_case describe_cases[] = {
        {AF_INET, "-A OUTPUT -m owner --uid-owner 1234 -j ACCEPT",
         "ACCEPT from uid 1234"},
        {AF_INET,
         "-A OUTPUT -d 203.0.113.9/32 -p tcp -m tcp --dport 443 -j ACCEPT",
         "ACCEPT tcp to 203.0.113.9/32 port 443"},
        {AF_INET,
         "-A OUTPUT -d 203.0.113.9/32 -p tcp -m tcp --dport 443 -m owner ! "
         "--uid-owner 0 -j REJECT --reject-with tcp-reset",
         "REJECT tcp to 203.0.113.9/32 port 443 not from uid 0"},
        {AF_INET, "-A INPUT ! -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j DROP",
         "DROP tcp from not 192.0.2.0/24 to port 22"},
        {AF_INET,
         "-A INPUT -i eth+ -p udp -m udp --sport 1000:2000 -m comment "
         "--comment \"a \\\"quoted\\\" comment\" -j ACCEPT",
         "ACCEPT udp from ports 1000-2000 in eth+ (\"a \"quoted\" "
         "comment\")"},
        {AF_INET, "-A INPUT -j SPACKLE-IN", "jump SPACKLE-IN all"},
        {AF_INET, "-A OUTPUT -o veth1 -g DOCKER-USER",
         "jump DOCKER-USER out veth1"},
        {AF_INET, "-A OUTPUT -d 198.51.100.0/24 ! -p udp",
         "count not udp to 198.51.100.0/24"},
        {AF_INET, "-A OUTPUT -j LOG --log-prefix \"out: \"", "LOG all"},
        {AF_INET, "-A INPUT -m conntrack --ctstate NEW -j ACCEPT",
         "ACCEPT and other matches"},
        {AF_INET, "-A OUTPUT -p gre -j DROP", "DROP gre"},
        {AF_INET, "-A OUTPUT -m owner --uid-owner 1000-1999 -j RETURN",
         "RETURN from uid 1000-1999"},
        {AF_INET6, "-A OUTPUT ! -d fe80::/10 ! -o veth+ -j DROP",
         "DROP to not fe80::/10 out not veth+"},
        {AF_INET6,
         "-A SPACKLE-IN -p ipv6-icmp -m comment --comment \"spackle exempt "
         "icmpv6\" -j RETURN",
         "RETURN icmpv6 (\"spackle exempt icmpv6\")"},
        {AF_INET,
         "-A SPACKLE-OUT -m comment --comment \"spackle queue\" -j NFQUEUE "
         "--queue-num 1",
         "NFQUEUE all (\"spackle queue\")"},
};

static void
test_describe(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_rule *r;
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(describe_cases) / sizeof(describe_cases[0]);
	     i++) {
		r = rule_of(&rs, describe_cases[i].family,
		            describe_cases[i].spec);
		fw_rule_describe(r, buf, sizeof(buf));
		assert_string_equal(buf, describe_cases[i].want);
	}
	/* Cut to the buffer, always terminated. */
	r = rule_of(&rs, AF_INET, describe_cases[1].spec);
	memset(buf, 'x', sizeof(buf));
	fw_rule_describe(r, buf, 8);
	assert_string_equal(buf, "ACCEPT ");
	fw_rule_describe(r, buf, 1);
	assert_string_equal(buf, "");
	fw_rule_describe(r, NULL, 0);
	fw_ruleset_free(&rs);
}

/* ---- steering check and repair ---------------------------------------- */

static const char *const check_confs[] = {
        INSTALLED_CONF,
        "queues = 4\n",
        "queues = 1\nqueue_base = 0\nfailure = closed\nhooks = out\n"
        "exempt =\n",
        "queues = 2\nqueue_base = 100\ndivert = flow\n"
        "hooks = out, in, forward\nexempt = icmpv6, lo\n",
};

/* (a) The generator's own text, as installed, checks ok; nothing to do. */
static void
test_check_generated_ok(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_steer_check ch = {0};
	struct config c;
	char *saved, *rep;
	size_t i, k;
	int fam, n, hooks;

	(void)state;
	for (i = 0; i < sizeof(check_confs) / sizeof(check_confs[0]); i++) {
		conf(&c, check_confs[i]);
		hooks = __builtin_popcount(c.hooks);
		for (fam = 0; fam < 2; fam++) {
			int family = fam ? AF_INET6 : AF_INET;

			saved = as_saved(&c, family);
			check_text(&c, family, saved, &rs, &ch);
			assert_true(ch.ok);
			assert_int_equal(ch.n, (size_t)hooks);
			for (k = 0; k < ch.n; k++) {
				assert_int_equal(ch.v[k].family, family);
				assert_hook_ok(&ch.v[k]);
			}
			rep = repair_of(&c, family, &ch, &n);
			assert_int_equal(n, 0);
			assert_string_equal(rep, "");
			free(rep);
			fw_steer_check_free(&ch);
			fw_ruleset_free(&rs);
			free(saved);
		}
	}
}

/* The real dumps, host rules and all, check ok, both families at once. */
static void
test_check_installed_ok(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_steer_check ch = {0};
	struct config c;
	char *t4 = golden_read("installed.ip4.save");
	char *t6 = golden_read("installed.ip6.save");
	size_t k;

	(void)state;
	conf(&c, INSTALLED_CONF);
	parse_ok(t4, AF_INET, "filter", &rs);
	parse_ok(t6, AF_INET6, "filter", &rs);
	assert_int_equal(fw_check_steering(&c, AF_INET, &rs, &ch), 0);
	assert_int_equal(ch.n, 3);
	assert_true(ch.ok);
	assert_int_equal(fw_check_steering(&c, AF_INET6, &rs, &ch), 0);
	assert_int_equal(ch.n, 6);
	assert_true(ch.ok);
	for (k = 0; k < ch.n; k++) {
		assert_hook_ok(&ch.v[k]);
		assert_int_equal(ch.v[k].family, k < 3 ? AF_INET : AF_INET6);
	}
	assert_string_equal(ch.v[0].hook, "OUTPUT");
	assert_string_equal(ch.v[0].chain, "SPACKLE-OUT");
	assert_string_equal(ch.v[1].hook, "INPUT");
	assert_string_equal(ch.v[2].hook, "FORWARD");
	assert_string_equal(ch.v[2].chain, "SPACKLE-FWD");
	assert_string_equal(ch.v[0].jump_specs[0], "-A OUTPUT -j SPACKLE-OUT");
	fw_steer_check_free(&ch);
	assert_null(ch.v);

	/* Another config does not match what is installed. */
	conf(&c, "queues = 4\nhooks = out, in, forward\nexempt = lo, veth0\n");
	assert_int_equal(fw_check_steering(&c, AF_INET, &rs, &ch), 0);
	assert_false(ch.ok);
	assert_int_equal(ch.v[0].nextra, 1);
	assert_string_equal(ch.v[0].extra[0],
	                    "-A SPACKLE-OUT -p icmp -m comment --comment "
	                    "\"spackle exempt icmp\" -j RETURN");
	assert_int_equal(ch.v[0].nmissing, 0);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);
	free(t4);
	free(t6);
}

/* (b) A foreign ACCEPT placed above the jump. */
static void
test_check_above(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_steer_check ch = {0};
	const struct fw_hook_check *h;
	struct config c;
	char *t = golden_read("installed.ip4.save"), *rep, desc[128];
	int n;

	(void)state;
	conf(&c, INSTALLED_CONF);
	t = edit(t, "[14:750] -A OUTPUT -j SPACKLE-OUT\n",
	         "[3:180] -A OUTPUT -m owner --uid-owner 1234 -j ACCEPT\n"
	         "[14:750] -A OUTPUT -j SPACKLE-OUT\n");
	check_text(&c, AF_INET, t, &rs, &ch);
	assert_false(ch.ok);
	h = hook_of(&ch, AF_INET, "OUTPUT");
	assert_false(h->ok);
	assert_int_equal(h->jumps, 1);
	assert_int_equal(h->jump_pos, 2);
	assert_int_equal(h->nabove, 1);
	assert_string_equal(rs.v[h->above[0]].spec,
	                    "-A OUTPUT -m owner --uid-owner 1234 -j ACCEPT");
	assert_int_equal(rs.v[h->above[0]].packets, 3);
	fw_rule_describe(&rs.v[h->above[0]], desc, sizeof(desc));
	assert_string_equal(desc, "ACCEPT from uid 1234");
	assert_true(h->chain_present);
	assert_int_equal(h->nmissing, 0);
	assert_int_equal(h->nextra, 0);
	assert_hook_ok(hook_of(&ch, AF_INET, "INPUT"));
	assert_hook_ok(hook_of(&ch, AF_INET, "FORWARD"));

	rep = repair_of(&c, AF_INET, &ch, &n);
	assert_int_equal(n, 1);
	golden("above.ip4.repair.ok", rep);
	free(rep);
	/* Entries of the other family are left alone. */
	rep = repair_of(&c, AF_INET6, &ch, &n);
	assert_int_equal(n, 0);
	assert_string_equal(rep, "");
	free(rep);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);
	free(t);
}

/* (c) A rule missing from spackle's chain; extra and moved rules. */
static void
test_check_missing_extra(void **state)
{
	static const char icmp_in[] =
	        "-A SPACKLE-IN -p icmp -m comment --comment \"spackle exempt "
	        "icmp\" -j RETURN";
	static const char queue_out[] =
	        "-A SPACKLE-OUT -m comment --comment \"spackle queue\" -j "
	        "NFQUEUE --queue-balance 4200:4203 --queue-bypass";
	struct fw_ruleset rs = {0};
	struct fw_steer_check ch = {0};
	const struct fw_hook_check *h;
	struct config c;
	char *t = golden_read("installed.ip4.save"), *rep, line[256];
	int n;

	(void)state;
	conf(&c, INSTALLED_CONF);
	snprintf(line, sizeof(line), "[0:0] %s\n", icmp_in);
	t = edit(t, line, "");
	check_text(&c, AF_INET, t, &rs, &ch);
	h = hook_of(&ch, AF_INET, "INPUT");
	assert_false(h->ok);
	assert_int_equal(h->jumps, 1);
	assert_int_equal(h->jump_pos, 1);
	assert_int_equal(h->nmissing, 1);
	assert_string_equal(h->missing[0], icmp_in);
	assert_int_equal(h->nextra, 0);
	assert_hook_ok(hook_of(&ch, AF_INET, "OUTPUT"));
	rep = repair_of(&c, AF_INET, &ch, &n);
	assert_int_equal(n, 1);
	golden("missing.ip4.repair.ok", rep);
	free(rep);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);
	free(t);

	/* An extra rule in the chain, and the queue rule moved first. */
	t = golden_read("installed.ip4.save");
	snprintf(line, sizeof(line), "[0:0] %s\n", queue_out);
	t = edit(t, line, "");
	snprintf(line, sizeof(line),
	         "[0:0] %s\n[0:0] -A SPACKLE-OUT -m mark --mark "
	         "0x200000/0xe00000 ",
	         queue_out);
	t = edit(t, "[0:0] -A SPACKLE-OUT -m mark --mark 0x200000/0xe00000 ",
	         line);
	t = edit(t, "[0:0] -A SPACKLE-FWD -m mark --mark 0x200000",
	         "[9:9] -A SPACKLE-FWD -j ACCEPT\n"
	         "[0:0] -A SPACKLE-FWD -m mark --mark 0x200000");
	check_text(&c, AF_INET, t, &rs, &ch);
	h = hook_of(&ch, AF_INET, "OUTPUT");
	assert_false(h->ok);
	assert_int_equal(h->nmissing, 1);
	assert_int_equal(h->nextra, 1);
	assert_string_equal(h->missing[0], queue_out);
	assert_string_equal(h->extra[0], queue_out);
	h = hook_of(&ch, AF_INET, "FORWARD");
	assert_int_equal(h->nmissing, 0);
	assert_int_equal(h->nextra, 1);
	assert_string_equal(h->extra[0], "-A SPACKLE-FWD -j ACCEPT");
	assert_hook_ok(hook_of(&ch, AF_INET, "INPUT"));
	rep = repair_of(&c, AF_INET, &ch, &n);
	assert_int_equal(n, 2);
	assert_non_null(strstr(rep, "-F SPACKLE-OUT\n"));
	assert_non_null(strstr(rep, "-F SPACKLE-FWD\n"));
	assert_null(strstr(rep, "SPACKLE-IN"));
	assert_null(strstr(rep, "-D ")); /* the jumps are right */
	assert_null(strstr(rep, "-I "));
	free(rep);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);
	free(t);
}

/* (d) No jump; a chain gone; two jumps; a jump with a condition. */
static void
test_check_jumps(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_steer_check ch = {0};
	const struct fw_hook_check *h;
	struct config c;
	char *t = golden_read("installed.ip4.save"), *rep, *p, *q;
	int n;

	(void)state;
	conf(&c, INSTALLED_CONF);
	t = edit(t, "[0:0] -A FORWARD -j SPACKLE-FWD\n", "");
	check_text(&c, AF_INET, t, &rs, &ch);
	h = hook_of(&ch, AF_INET, "FORWARD");
	assert_false(h->ok);
	assert_int_equal(h->jumps, 0);
	assert_int_equal(h->jump_pos, 0);
	assert_true(h->chain_present);
	assert_int_equal(h->nmissing, 0);
	/* every rule of the hook is "above" a jump that is not there */
	assert_int_equal(h->nabove, 1);
	assert_string_equal(rs.v[h->above[0]].spec,
	                    "-A FORWARD -j DOCKER-USER");
	rep = repair_of(&c, AF_INET, &ch, &n);
	assert_int_equal(n, 1);
	golden("nojump.ip4.repair.ok", rep);
	free(rep);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);

	/* SPACKLE-OUT gone altogether (its jump with it). */
	free(t);
	t = golden_read("installed.ip4.save");
	t = edit(t, ":SPACKLE-OUT - [0:0]\n", "");
	t = edit(t, "[14:750] -A OUTPUT -j SPACKLE-OUT\n", "");
	while ((q = strstr(t, "] -A SPACKLE-OUT ")) != NULL) {
		for (p = q; p > t && p[-1] != '\n'; p--)
			;
		q = strchr(q, '\n');
		memmove(p, q + 1, strlen(q + 1) + 1);
	}
	check_text(&c, AF_INET, t, &rs, &ch);
	h = hook_of(&ch, AF_INET, "OUTPUT");
	assert_false(h->chain_present);
	assert_int_equal(h->jumps, 0);
	assert_int_equal(h->nmissing, 10);
	assert_int_equal(h->nabove, 6);
	rep = repair_of(&c, AF_INET, &ch, &n);
	assert_int_equal(n, 1);
	golden("nochain.ip4.repair.ok", rep);
	free(rep);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);

	/* Two jumps (one conditional, at the end), and, in INPUT, a jump
	 * that is first but only for some packets. IPv6. */
	free(t);
	t = golden_read("installed.ip6.save");
	t = edit(t, "[0:0] -A SPACKLE-FWD -m mark --mark 0x200000",
	         "[0:0] -A OUTPUT -p tcp -m tcp --dport 443 -m comment "
	         "--comment \"a \\\"b\\\"\" -j SPACKLE-OUT\n"
	         "[0:0] -A SPACKLE-FWD -m mark --mark 0x200000");
	t = edit(t, "-A INPUT -j SPACKLE-IN", "-A INPUT -i eth0 -j SPACKLE-IN");
	check_text(&c, AF_INET6, t, &rs, &ch);
	h = hook_of(&ch, AF_INET6, "OUTPUT");
	assert_false(h->ok);
	assert_int_equal(h->jumps, 2);
	assert_int_equal(h->jump_pos, 1);
	assert_string_equal(h->jump_specs[1],
	                    "-A OUTPUT -p tcp -m tcp --dport 443 -m comment "
	                    "--comment \"a \\\"b\\\"\" -j SPACKLE-OUT");
	h = hook_of(&ch, AF_INET6, "INPUT");
	assert_false(h->ok);
	assert_int_equal(h->jumps, 1);
	assert_int_equal(h->jump_pos, 1);
	assert_int_equal(h->nmissing, 0);
	assert_int_equal(h->nextra, 0);
	assert_hook_ok(hook_of(&ch, AF_INET6, "FORWARD"));
	rep = repair_of(&c, AF_INET6, &ch, &n);
	assert_int_equal(n, 2);
	golden("jumps.ip6.repair.ok", rep);
	free(rep);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);
	free(t);
}

/* Both sides are compared in one form: spaces, -p names, /32. */
static void
test_check_normalised(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_steer_check ch = {0};
	struct config c;
	char *t;

	(void)state;
	conf(&c, INSTALLED_CONF);
	t = as_saved(&c, AF_INET6);
	t = edit(t, "-A SPACKLE-OUT -p ipv6-icmp", "-A SPACKLE-OUT -p icmpv6");
	t = edit(t, "-A SPACKLE-IN -p ipv6-icmp", "-A SPACKLE-IN  -p 58");
	t = edit(t, "-A OUTPUT -j SPACKLE-OUT", "-A OUTPUT  -j\tSPACKLE-OUT");
	check_text(&c, AF_INET6, t, &rs, &ch);
	assert_true(ch.ok);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);
	free(t);

	/* ...but not a different protocol. */
	t = as_saved(&c, AF_INET6);
	t = edit(t, "-A SPACKLE-OUT -p ipv6-icmp", "-A SPACKLE-OUT -p icmp");
	check_text(&c, AF_INET6, t, &rs, &ch);
	assert_false(ch.ok);
	assert_int_equal(hook_of(&ch, AF_INET6, "OUTPUT")->nmissing, 1);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);
	free(t);
}

static void
test_check_errors(void **state)
{
	struct fw_ruleset rs = {0};
	struct fw_steer_check ch = {0};
	struct config c;
	FILE *f;

	(void)state;
	conf(&c, "queues = 4\n");
	c.queues = 0;
	assert_int_equal(fw_check_steering(&c, AF_INET, &rs, &ch), -EINVAL);
	assert_int_equal(ch.n, 0);
	f = fopen("/dev/null", "w");
	assert_non_null(f);
	assert_int_equal(fw_repair_text(&c, AF_INET, &ch, f), -EINVAL);
	c.queues = 4;
	assert_int_equal(fw_check_steering(&c, AF_UNIX, &rs, &ch), -EINVAL);
	assert_int_equal(fw_check_steering(&c, AF_INET, NULL, &ch), -EINVAL);
	assert_int_equal(fw_check_steering(&c, AF_INET, &rs, NULL), -EINVAL);
	assert_int_equal(fw_repair_text(&c, AF_UNIX, &ch, f), -EINVAL);
	assert_int_equal(fw_repair_text(&c, AF_INET, NULL, f), -EINVAL);
	fclose(f);

	/* An empty ruleset: nothing there, all to be made. */
	assert_int_equal(fw_check_steering(&c, AF_INET, &rs, &ch), 0);
	assert_false(ch.ok);
	assert_int_equal(ch.n, 2);
	assert_false(ch.v[0].chain_present);
	assert_int_equal(ch.v[0].nabove, 0);
	if (access("/dev/full", W_OK) == 0) {
		f = fopen("/dev/full", "w");
		assert_non_null(f);
		assert_int_equal(fw_repair_text(&c, AF_INET, &ch, f), -EIO);
		fclose(f);
	}
	fw_steer_check_free(&ch);
	fw_steer_check_free(NULL);
	fw_ruleset_free(NULL);
}

/* ---- against the kernel ------------------------------------------------ */

#define TOOL_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* In the child: a failed check says where and exits 1. */
#define KCHECK(cond)                                                           \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "kernel test: line %d: %s\n",          \
			        __LINE__, #cond);                              \
			return 1;                                              \
		}                                                              \
	} while (0)

static int
kernel_run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		setenv("PATH", TOOL_PATH, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Read, parse and check one family in the current namespace. */
static int
kernel_check(const struct config *c, int family, struct fw_ruleset *rs,
             struct fw_steer_check *ch)
{
	char err[512] = "", *buf = NULL;
	size_t len = 0;
	int rc;

	fw_steer_check_free(ch);
	fw_ruleset_free(rs);
	rc = steer_save(family, &buf, &len, err, sizeof(err));
	if (rc == 0)
		rc = fw_parse_save(buf, len, family, "filter", rs, err,
		                   sizeof(err));
	if (rc == 0)
		rc = fw_check_steering(c, family, rs, ch);
	if (rc != 0)
		fprintf(stderr, "kernel test: %d: %s\n", rc, err);
	free(buf);
	return rc;
}

static int
kernel_child(void)
{
	char *foreign[] = {"iptables", "-I",     "OUTPUT",      "1",
	                   "-m",       "owner",  "--uid-owner", "1234",
	                   "-j",       "ACCEPT", NULL};
	char *drop_rule[] = {"iptables", "-D", "SPACKLE-FWD", "1", NULL};
	char *no_jump[] = {"ip6tables", "-D",         "INPUT",
	                   "-j",        "SPACKLE-IN", NULL};
	struct fw_ruleset rs = {0};
	struct fw_steer_check ch = {0};
	const struct fw_hook_check *h;
	struct stat host, here;
	struct config c;
	char err[1024] = "", desc[128];
	bool v6 = access("/proc/net/if_inet6", F_OK) == 0;
	int rc, fam;

	config_defaults(&c);
	if (config_parse(&c, "k.conf", INSTALLED_CONF, stderr) != 0)
		return 1;
	if (stat("/proc/self/ns/net", &host) < 0)
		return 1;
	if (unshare(CLONE_NEWNET) < 0)
		return 77;
	/* Never the machine's own firewall. */
	KCHECK(stat("/proc/self/ns/net", &here) == 0);
	KCHECK(here.st_ino != host.st_ino || here.st_dev != host.st_dev);

	rc = steer_apply(&c, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "kernel test: apply: %s\n", err);
	KCHECK(rc == 0);
	for (fam = 0; fam < (v6 ? 2 : 1); fam++) {
		KCHECK(kernel_check(&c, fam ? AF_INET6 : AF_INET, &rs, &ch) ==
		       0);
		KCHECK(ch.ok && ch.n == 3);
	}

	/* A host rule above spackle's jump; a rule taken from a chain. */
	KCHECK(kernel_run(foreign) == 0);
	KCHECK(kernel_run(drop_rule) == 0);
	KCHECK(kernel_check(&c, AF_INET, &rs, &ch) == 0);
	KCHECK(!ch.ok);
	h = &ch.v[0];
	KCHECK(strcmp(h->hook, "OUTPUT") == 0 && !h->ok && h->jump_pos == 2);
	KCHECK(h->nabove == 1);
	fw_rule_describe(&rs.v[h->above[0]], desc, sizeof(desc));
	KCHECK(strcmp(desc, "ACCEPT from uid 1234") == 0);
	KCHECK(ch.v[1].ok);
	KCHECK(!ch.v[2].ok && ch.v[2].nmissing == 1 && ch.v[2].nextra == 0);
	if (v6) {
		KCHECK(kernel_run(no_jump) == 0);
		KCHECK(kernel_check(&c, AF_INET6, &rs, &ch) == 0);
		KCHECK(!ch.v[1].ok && ch.v[1].jumps == 0);
	}

	/* Repair: back as installed, the host's rule kept, below. */
	rc = steer_repair(&c, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "kernel test: repair: %s\n", err);
	KCHECK(rc == (v6 ? 3 : 2));
	KCHECK(strstr(err, "IPv4 OUTPUT (jump at rule 2, 1 rule before it)") !=
	       NULL);
	for (fam = 0; fam < (v6 ? 2 : 1); fam++) {
		KCHECK(kernel_check(&c, fam ? AF_INET6 : AF_INET, &rs, &ch) ==
		       0);
		KCHECK(ch.ok);
	}
	KCHECK(kernel_check(&c, AF_INET, &rs, &ch) == 0);
	for (size_t i = 0; i < rs.n; i++)
		if (strcmp(rs.v[i].spec, "-A OUTPUT -m owner --uid-owner 1234 "
		                         "-j ACCEPT") == 0)
			KCHECK(rs.v[i].pos == 2);
	KCHECK(steer_repair(&c, err, sizeof(err)) == 0);
	KCHECK(err[0] == '\0');
	/* Put back exactly: the exact removal finds every rule. */
	rc = steer_remove(&c, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "kernel test: remove: %s\n", err);
	KCHECK(rc == 0);
	fw_steer_check_free(&ch);
	fw_ruleset_free(&rs);
	return 0;
}

/*
 * Root only: in a network namespace of its own (unshare in a forked
 * child, gone when the child exits), install, break, check and repair.
 */
static void
test_kernel(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: needs root (a network namespace, "
		              "iptables-restore)\n");
		skip();
	}
	if (access("/usr/sbin/iptables-restore", X_OK) != 0 &&
	    access("/sbin/iptables-restore", X_OK) != 0) {
		print_message("skipped: iptables is not installed\n");
		skip();
	}
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(kernel_child());
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		print_message("skipped: unshare(CLONE_NEWNET) failed\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* steer_repair() with nft: not yet. */
static void
test_repair_nft(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	conf(&c, "queues = 4\nfirewall = nft\n");
	assert_int_equal(steer_repair(&c, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "not supported"));
	c.queues = 0;
	assert_int_equal(steer_repair(&c, err, sizeof(err)), -EINVAL);
	assert_int_equal(steer_save(AF_UNIX, NULL, NULL, err, sizeof(err)),
	                 -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_installed_ip4),
	        cmocka_unit_test(test_parse_installed_ip6),
	        cmocka_unit_test(test_parse_tables),
	        cmocka_unit_test(test_parse_forms),
	        cmocka_unit_test(test_parse_bad),
	        cmocka_unit_test(test_parse_guard),
	        cmocka_unit_test(test_match),
	        cmocka_unit_test(test_describe),
	        cmocka_unit_test(test_check_generated_ok),
	        cmocka_unit_test(test_check_installed_ok),
	        cmocka_unit_test(test_check_above),
	        cmocka_unit_test(test_check_missing_extra),
	        cmocka_unit_test(test_check_jumps),
	        cmocka_unit_test(test_check_normalised),
	        cmocka_unit_test(test_check_errors),
	        cmocka_unit_test(test_repair_nft),
	        cmocka_unit_test(test_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

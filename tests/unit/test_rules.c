/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the rule language: parsing, printing, precedence, indices. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/rules.h"

#define NO_RULE 0u /* decide() for the default */

struct q {
	struct rules_query q;
	const char *names[4];
};

static void
q_init(struct q *x, enum sp_dir dir, uint8_t proto, const char *addr,
       uint16_t port)
{
	memset(x, 0, sizeof(*x));
	x->q.dir = dir;
	x->q.proto = proto;
	assert_true(sp_addr_parse(&x->q.remote, addr));
	if (dir == SP_DIR_IN)
		x->q.local_port = port;
	else
		x->q.remote_port = port;
	x->q.uid = UINT32_MAX;
	x->q.names = x->names;
}

static void
q_name(struct q *x, const char *name)
{
	x->names[x->q.nnames++] = name;
}

static struct ruleset *
load(const char *text)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;

	memset(&d, 0, sizeof(d));
	assert_non_null(rs);
	if (rules_load_buffer(rs, "t.rules", text, strlen(text), &d) != 0 ||
	    d.errors > 0) {
		rules_diags_print(stderr, &d);
		fail_msg("rules did not load");
	}
	rules_diags_free(&d);
	return rs;
}

/*
 * The line of the deciding rule (NO_RULE for the default), decided both by
 * walking every rule and through the indices, which must agree; *field gets
 * what settled it.
 */
static unsigned
decide(struct ruleset *rs, const struct q *x, const char **field)
{
	struct rules_result lin, idx;
	struct rules_candidate cands[64];
	struct rules_diags d;
	unsigned line;

	memset(&d, 0, sizeof(d));
	memset(&lin, 0, sizeof(lin));
	memset(&idx, 0, sizeof(idx));
	rules_index_free(rs->idx);
	rs->idx = NULL;
	rules_match(rs, &x->q, SP_VERDICT_NONE, &lin);
	assert_int_equal(rules_compile(rs, &d), 0);
	idx.cands = cands;
	idx.cands_cap = 64;
	rules_match(rs, &x->q, SP_VERDICT_NONE, &idx);
	assert_int_equal(lin.rule, idx.rule);
	assert_int_equal(lin.verdict, idx.verdict);
	assert_int_equal(rules_key_cmp(&lin.key, &idx.key), 0);
	assert_int_equal(rules_match(rs, &x->q, SP_VERDICT_NONE, NULL),
	                 idx.verdict);
	if (idx.ncands > 0)
		assert_int_equal(cands[0].rule, idx.rule);
	if (field != NULL)
		*field = idx.settled_by;
	line = idx.rule == UINT32_MAX ? NO_RULE : rules_get(rs, idx.rule)->line;
	rules_diags_free(&d);
	return line;
}

static void
expect(const char *text, const struct q *x, unsigned line, const char *field)
{
	struct ruleset *rs = load(text);
	const char *got = NULL;

	assert_int_equal(decide(rs, x, &got), line);
	if (field != NULL) {
		assert_non_null(got);
		assert_string_equal(got, field);
	}
	rules_free(rs);
}

/* ---- precedence, one key at a time ---- */

static void
test_priority_beats_process(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	x.q.exe = "/usr/bin/curl";
	expect("allow out process \"/usr/bin/curl\" to any\n"
	       "deny out to any priority\n",
	       &x, 2, "priority");
}

static void
test_process_beats_remote(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "www.example.com");
	x.q.exe = "/usr/bin/curl";
	expect("deny out to host www.example.com\n"
	       "allow out process \"*/curl\"\n",
	       &x, 2, "process");
}

static void
test_host_beats_domain(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "www.example.com");
	expect("deny out to domain www.example.com\n"
	       "allow out to host www.example.com\n",
	       &x, 2, "remote");
}

static void
test_longer_domain_wins(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "a.www.example.com");
	expect("deny out to domain example.com\n"
	       "allow out to domain www.example.com\n"
	       "reject out to domain com\n",
	       &x, 2, "remote");
}

static void
test_longer_prefix_wins(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "10.1.2.3", 443);
	expect("deny out to 10.0.0.0/8\n"
	       "allow out to 10.1.0.0/16\n"
	       "reject out to 0.0.0.0/0\n",
	       &x, 2, "remote");
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "2001:db8::1", 443);
	expect("deny out to 2001:db8::/32\n"
	       "allow out to 2001:db8::1\n",
	       &x, 2, "remote");
}

static void
test_address_beats_any(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "10.0.0.1", 443);
	expect("reject out to any\n"
	       "allow out to 10.0.0.1\n",
	       &x, 2, "remote");
	/* and a name beats an address */
	q_name(&x, "example.com");
	expect("reject out to 10.0.0.1\n"
	       "allow out to domain example.com\n",
	       &x, 2, "remote");
}

static void
test_port_beats_no_port(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "10.0.0.1", 443);
	expect("deny out proto tcp to any\n"
	       "allow out proto tcp to any port 443\n",
	       &x, 2, "port");
}

static void
test_action_order(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "10.0.0.1", 443);
	expect("allow out\ndeny out\nreject out\n", &x, 3, "action");
	expect("allow out\ndeny out\n", &x, 2, "action");
}

static void
test_load_order(void **state)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;
	struct q x;
	const char *field = NULL;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "10.0.0.1", 443);
	expect("deny out note \"first\"\ndeny out note \"second\"\n", &x, 1,
	       "order");
	memset(&d, 0, sizeof(d));
	assert_int_equal(
	        rules_load_buffer(rs, "a.rules", "allow out\n", 10, &d), 0);
	assert_int_equal(
	        rules_load_buffer(rs, "b.rules", "\nallow out\n", 11, &d), 0);
	assert_int_equal(decide(rs, &x, &field), 1);
	assert_string_equal(field, "order");
	rules_free(rs);
	rules_diags_free(&d);
}

/* ---- clauses ---- */

static void
test_dir_any_and_in(void **state)
{
	const char *text = "allow any proto tcp port 22\n"
	                   "deny in proto tcp port 80\n";
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_IN, SP_PROTO_TCP, "198.51.100.7", 22);
	expect(text, &x, 1, NULL);
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "198.51.100.7", 22);
	expect(text, &x, 1, NULL);
	/* in: the port clause is the local port, not the remote one */
	q_init(&x, SP_DIR_IN, SP_PROTO_TCP, "198.51.100.7", 5555);
	x.q.remote_port = 22;
	expect(text, &x, NO_RULE, NULL);
	q_init(&x, SP_DIR_IN, SP_PROTO_TCP, "198.51.100.7", 80);
	expect(text, &x, 2, NULL);
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "198.51.100.7", 80);
	expect(text, &x, NO_RULE, NULL);
	q_init(&x, SP_DIR_IN, SP_PROTO_UDP, "198.51.100.7", 22);
	expect(text, &x, NO_RULE, NULL);
}

static void
test_unknown_process_and_user(void **state)
{
	const char *text = "deny out process \"*\"\n"
	                   "reject out user 0\n"
	                   "allow out process any note \"no constraint\"\n";
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	expect(text, &x, 3, NULL);
	x.q.uid = 0;
	expect(text, &x, 2, NULL);
	x.q.exe = "/bin/true";
	expect(text, &x, 1, "process");
	x.q.uid = 1000;
	x.q.exe = NULL;
	expect(text, &x, 3, NULL);
	expect("allow out user root\n", &x, NO_RULE, NULL);
	x.q.uid = 0;
	expect("allow out user root\n", &x, 1, NULL);
}

static void
test_glob(void **state)
{
	(void)state;
	assert_true(rules_glob_match("*/firefox", "/usr/lib/firefox/firefox"));
	assert_true(rules_glob_match("/usr/lib/*/telemetry*",
	                             "/usr/lib/x/y/telemetry-agent"));
	assert_false(rules_glob_match("/usr/bin/curl", "/usr/bin/curl2"));
	assert_true(rules_glob_match("/usr/bin/?url", "/usr/bin/curl"));
	assert_false(rules_glob_match("/usr/bin/?url", "/usr/bin/url"));
	assert_true(rules_glob_match("*", ""));
	assert_true(rules_glob_match("**a*b*", "xxaxxbxx"));
	assert_false(rules_glob_match("*a*b", "xxaxxbxxc"));
}

static void
test_proto_numbers_and_sets(void **state)
{
	const char *text =
	        "deny out proto { 47, icmp }\n"
	        "allow out proto { tcp, udp } port { 53, 8000-8080 }\n";
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, 47, "192.0.2.1", 0);
	expect(text, &x, 1, NULL);
	q_init(&x, SP_DIR_OUT, SP_PROTO_UDP, "192.0.2.1", 8080);
	expect(text, &x, 2, NULL);
	q_init(&x, SP_DIR_OUT, SP_PROTO_UDP, "192.0.2.1", 8081);
	expect(text, &x, NO_RULE, NULL);
}

static void
test_set_ranks_as_entry(void **state)
{
	const char *text =
	        "deny out to { domain example.com, host www.example.com, "
	        "10.0.0.0/8 }\n"
	        "allow out to domain www.example.com\n"
	        "allow out to 10.1.0.0/16\n";
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "www.example.com");
	expect(text, &x, 1, "remote"); /* via its host entry */
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "a.www.example.com");
	expect(text, &x, 2, "remote"); /* via domain example.com: shorter */
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "10.1.0.9", 443);
	expect(text, &x, 3, "remote");
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "10.2.0.9", 443);
	expect(text, &x, 1, NULL);
	/* several names: the best entry over all of them */
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "cdn.example.net");
	q_name(&x, "WWW.Example.COM.");
	expect(text, &x, 1, "remote");
}

static void
test_no_names_no_name_rules(void **state)
{
	struct q x;

	(void)state;
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	expect("deny out to domain com\n", &x, NO_RULE, NULL);
}

/* ---- lists ---- */

static char tmpdir[64];

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_rules.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct ruleset *
load_tmp(const char *name, struct rules_diags *d)
{
	struct ruleset *rs = rules_new();
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	rules_load_path(rs, path, d);
	return rs;
}

static void
test_list_forms(void **state)
{
	struct rules_diags d;
	struct ruleset *rs;
	struct q x;
	const char *field;

	(void)state;
	memset(&d, 0, sizeof(d));
	write_file("ads.list", "# a blocklist\n"
	                       "\n"
	                       "0.0.0.0 ads.example.com\n"
	                       "127.0.0.1 Track.Example.NET  # trailing\n"
	                       ":: v6sink.example.org\n"
	                       "::1 one.example.org two.example.org\n"
	                       "||adblock.example.com^\n"
	                       "plain.example.net.\n"
	                       "203.0.113.5\n"
	                       "198.51.100.0/24\n"
	                       "2001:db8:bad::/48\n");
	write_file("lists.rules",
	           "deny out to list \"ads.list\"\n"
	           "allow out to host ok.ads.example.com\n"
	           "allow out to list \"./ads.list\" port 8080\n");
	rs = load_tmp("lists.rules", &d);
	assert_int_equal(d.errors, 0);
	assert_int_equal(rules_count(rs), 3);
	assert_int_equal(rules_list_entries(rs), 10);
	/* one list, read once, shared by both rules */
	assert_int_equal(rs->nlists, 1);
	assert_ptr_equal(rs->rules[0].targets[0].list,
	                 rs->rules[2].targets[0].list);

	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "x.ads.example.com");
	assert_int_equal(decide(rs, &x, NULL), 1);
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "ok.ads.example.com");
	assert_int_equal(decide(rs, &x, &field), 2);
	assert_string_equal(field, "remote");
	const char *names[] = {"track.example.net", "v6sink.example.org",
	                       "two.example.org", "adblock.example.com",
	                       "a.plain.example.net"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
		q_name(&x, names[i]);
		assert_int_equal(decide(rs, &x, NULL), 1);
	}
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "203.0.113.5", 443);
	assert_int_equal(decide(rs, &x, NULL), 1);
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "198.51.100.77", 8080);
	assert_int_equal(decide(rs, &x, &field), 3);
	assert_string_equal(field, "port");
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "2001:db8:bad::9", 443);
	assert_int_equal(decide(rs, &x, NULL), 1);
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "203.0.113.6", 443);
	q_name(&x, "example.com");
	assert_int_equal(decide(rs, &x, NULL), NO_RULE);
	rules_free(rs);
	rules_diags_free(&d);
}

static void
test_list_errors(void **state)
{
	struct rules_diags d;
	struct ruleset *rs;
	char path[256];

	(void)state;
	memset(&d, 0, sizeof(d));
	write_file("bad.list", "good.example.com\n"
	                       "10.0.0.1 not.a.sink.example\n"
	                       "||bad.example.com^$third-party\n"
	                       "  bad_name!.example\n");
	write_file("bad.rules", "allow out to host a.example\n"
	                        "deny out to list \"bad.list\"\n"
	                        "deny out to list \"bad.list\" port 1\n");
	rs = load_tmp("bad.rules", &d);
	assert_int_equal(rules_count(rs), 0);
	assert_int_equal(d.errors, 5);
	snprintf(path, sizeof(path), "%s/bad.list", tmpdir);
	assert_string_equal(d.v[0].file, path);
	assert_int_equal(d.v[0].line, 2);
	assert_int_equal(d.v[0].col, 1);
	assert_int_equal(d.v[1].line, 3);
	assert_int_equal(d.v[2].line, 4);
	assert_int_equal(d.v[2].col, 3);
	/* each rule naming the bad list is refused at the list's name */
	assert_int_equal(d.v[3].line, 2);
	assert_int_equal(d.v[3].col, 18);
	assert_int_equal(d.v[4].line, 3);
	assert_non_null(strstr(d.v[4].msg, "has errors"));
	rules_free(rs);
	rules_diags_free(&d);
}

/* A 200k-entry list loads whole and decides right (how fast it loads and
 * decides is measured in bench/import and bench/classify, not here). */
static void
test_big_list(void **state)
{
	enum { N = 200000, Q = 200000 };
	struct rules_diags d;
	struct ruleset *rs;
	struct rules_result res;
	struct q x;
	char path[256], (*qnames)[40];
	FILE *f;
	int i, hits = 0;

	(void)state;
	memset(&d, 0, sizeof(d));
	snprintf(path, sizeof(path), "%s/big.hosts", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	for (i = 0; i < N; i++) {
		if (i % 3 == 0)
			fprintf(f, "0.0.0.0 ads%d.tracker%d.example\n", i,
			        i % 1000);
		else if (i % 3 == 1)
			fprintf(f, "||ads%d.tracker%d.example^\n", i, i % 1000);
		else
			fprintf(f, "ads%d.tracker%d.example\n", i, i % 1000);
	}
	assert_int_equal(fclose(f), 0);
	write_file("big.rules", "allow out proto udp port 53\n"
	                        "deny out to list \"big.hosts\"\n"
	                        "allow out to host ads7.tracker7.example\n");
	rs = load_tmp("big.rules", &d);
	assert_int_equal(d.errors, 0);
	assert_int_equal(rules_list_entries(rs), N);
	assert_int_equal(rules_compile(rs, &d), 0);

	assert_non_null(qnames = malloc((size_t)Q * sizeof(*qnames)));
	for (i = 0; i < Q; i++)
		snprintf(qnames[i], sizeof(qnames[i]),
		         "www.ads%d.tracker%d.example", i * 7 % (2 * N),
		         i * 7 % (2 * N) % 1000);
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	x.q.nnames = 1;
	memset(&res, 0, sizeof(res));
	for (i = 0; i < Q; i++) {
		x.names[0] = qnames[i];
		if (rules_match(rs, &x.q, SP_VERDICT_ALLOW, &res) ==
		    SP_VERDICT_DENY)
			hits++;
	}
	/* i*7 % 2N < N for about half of the queries */
	assert_true(hits > Q / 3 && hits < Q * 2 / 3);
	free(qnames);

	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "ads199999.tracker999.example");
	assert_int_equal(decide(rs, &x, NULL), 2);
	q_init(&x, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.1", 443);
	q_name(&x, "ads7.tracker7.example");
	assert_int_equal(decide(rs, &x, NULL), 3);
	q_init(&x, SP_DIR_OUT, SP_PROTO_UDP, "192.0.2.1", 53);
	q_name(&x, "ads8.tracker8.example");
	assert_int_equal(decide(rs, &x, NULL), 2); /* domain beats any */
	q_init(&x, SP_DIR_OUT, SP_PROTO_UDP, "192.0.2.1", 53);
	q_name(&x, "tracker8.example");
	assert_int_equal(decide(rs, &x, NULL), 1);
	rules_free(rs);
	rules_diags_free(&d);
}

/* Many mixed rules: the indices agree with walking every rule. */
static void
test_index_agrees(void **state)
{
	static const char *const names[] = {
	        "example.com", "www.example.com", "a.b.example.com",
	        "example.net", "x.example.org",   "other.test"};
	static const char *const addrs[] = {
	        "192.0.2.1",   "192.0.2.200",   "198.51.100.9", "203.0.113.77",
	        "2001:db8::1", "2001:db8:1::5", "10.9.8.7"};
	static const char *const exes[] = {NULL, "/usr/bin/curl",
	                                   "/usr/lib/firefox/firefox"};
	const char *text =
	        "allow out to domain example.com\n"
	        "deny out to host www.example.com port 443\n"
	        "reject out proto udp to { 192.0.2.0/24, domain net }\n"
	        "allow out process \"/usr/bin/curl\" to 192.0.2.0/25\n"
	        "deny out process \"*/firefox\" to domain example.org\n"
	        "allow any to 2001:db8::/32 port 1-1024\n"
	        "deny in proto tcp port 22\n"
	        "allow out to any priority process \"*curl\" port 80\n"
	        "deny out to { 2001:db8::1, host example.net }\n"
	        "reject out user 1000\n"
	        "allow out to 0.0.0.0/0\n";
	struct ruleset *rs = load(text);
	struct q x;
	size_t a, n, e, p, dir;
	uint8_t protos[] = {SP_PROTO_TCP, SP_PROTO_UDP};
	uint16_t ports[] = {22, 80, 443, 5353};

	(void)state;
	for (a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++)
		for (n = 0; n <= sizeof(names) / sizeof(names[0]); n++)
			for (e = 0; e < 3; e++)
				for (p = 0; p < 8; p++)
					for (dir = 0; dir < 2; dir++) {
						q_init(&x,
						       dir ? SP_DIR_IN
						           : SP_DIR_OUT,
						       protos[p % 2], addrs[a],
						       ports[p / 2]);
						if (n < 6)
							q_name(&x, names[n]);
						x.q.exe = exes[e];
						x.q.uid = p % 3 == 0 ? 1000 : 0;
						decide(rs, &x, NULL);
					}
	rules_free(rs);
}

/* ---- essential ---- */

static size_t
essential_warnings(const char *text, struct rules_diags *d)
{
	struct ruleset *rs = load(text);

	memset(d, 0, sizeof(*d));
	rules_check_essential(rs, d);
	rules_free(rs);
	return d->warnings;
}

static void
test_essential_warns(void **state)
{
	struct rules_diags d;

	(void)state;
	assert_int_equal(
	        essential_warnings(
	                "allow out proto udp to any port 53 essential note "
	                "\"DNS: without it no name resolves\"\n"
	                "\n"
	                "  deny out proto { udp, tcp } to any port 53\n",
	                &d),
	        1);
	assert_int_equal(d.v[0].line, 3);
	assert_int_equal(d.v[0].col, 3);
	assert_true(d.v[0].warning);
	assert_string_equal(d.v[0].msg,
	                    "this deny rule would win over essential rule "
	                    "t.rules:1 (note: \"DNS: without it no name "
	                    "resolves\")");
	rules_diags_free(&d);
	/* a process rule wins over the essential rule for that process */
	assert_int_equal(
	        essential_warnings(
	                "allow out proto udp to 192.0.2.53 port 53 "
	                "essential note \"x\"\n"
	                "reject out process \"*/bad\" to 192.0.2.0/24\n",
	                &d),
	        1);
	assert_non_null(strstr(d.v[0].msg, "this reject rule"));
	rules_diags_free(&d);
	/* a domain covering the essential host */
	assert_int_equal(
	        essential_warnings("allow out to host ntp.example.org port 123 "
	                           "essential note \"time\"\n"
	                           "deny out to domain example.org port 1-1000 "
	                           "priority\n",
	                           &d),
	        1);
	rules_diags_free(&d);
}

static void
test_essential_quiet(void **state)
{
	struct rules_diags d;

	(void)state;
	/* narrower remote, other protocol, no port, other dir, other user */
	assert_int_equal(
	        essential_warnings(
	                "allow out proto udp to any port 53 essential note "
	                "\"DNS\"\n"
	                "deny out to domain doubleclick.net\n"
	                "deny out proto tcp to any port 53\n"
	                "deny out proto udp to any\n"
	                "deny in proto udp port 53\n"
	                "reject out proto udp to 192.0.2.0/24 port 53\n"
	                "deny out process \"/usr/bin/a\" to any port 1-100\n"
	                "allow out process \"/usr/bin/b\" to any port 53 "
	                "essential note \"b\"\n"
	                "deny out to host ntp.example.org\n",
	                &d),
	        1); /* only the /usr/bin/a rule over the first */
	assert_int_equal(d.v[0].line, 7);
	rules_diags_free(&d);
	assert_int_equal(essential_warnings("allow out to 192.0.2.1 port 123 "
	                                    "essential note \"t\"\n"
	                                    "deny out to domain example.org "
	                                    "port 123\n",
	                                    &d),
	                 0);
	rules_diags_free(&d);
}

/* ---- errors and printing ---- */

static void
test_all_errors_reported(void **state)
{
	const char *text = "allow out proto tcp port 80\n"
	                   "allow out frm any\n"
	                   "deny out to 10.0.0.1/8 # host bits\n"
	                   "# fine\n"
	                   "allow out port 80 port 81\n"
	                   "allow out note \"unterminated\n"
	                   "reject out to any \\\n"
	                   "   port 99999\n"
	                   "allow out to host example.com\n"
	                   "deny in essential\n";
	struct ruleset *rs = rules_new();
	struct rules_diags d;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(
	        rules_load_buffer(rs, "e.rules", text, strlen(text), &d), -1);
	assert_int_equal(rules_count(rs), 0);
	assert_int_equal(d.errors, 6);
	assert_int_equal(d.v[0].line, 2);
	assert_int_equal(d.v[0].col, 11);
	assert_string_equal(d.v[0].msg, "unknown keyword 'frm'");
	assert_int_equal(d.v[1].line, 3);
	assert_int_equal(d.v[1].col, 13);
	assert_int_equal(d.v[2].line, 5);
	assert_int_equal(d.v[2].col, 19);
	assert_int_equal(d.v[3].line, 6);
	assert_int_equal(d.v[3].col, 16);
	assert_int_equal(d.v[4].line, 8);
	assert_int_equal(d.v[4].col, 9);
	assert_string_equal(d.v[4].msg, "port 99999 out of range 1-65535");
	assert_int_equal(d.v[5].line, 10);
	assert_int_equal(d.v[5].col, 9);
	rules_diags_free(&d);
	rules_free(rs);
}

static void
round_trip(const char *in, const char *want)
{
	struct ruleset *rs = load(in), *rs2;
	char buf[1024], buf2[1024];

	assert_int_equal(rules_count(rs), 1);
	rules_format(buf, sizeof(buf), rules_get(rs, 0));
	assert_string_equal(buf, want);
	rs2 = load(buf);
	rules_format(buf2, sizeof(buf2), rules_get(rs2, 0));
	assert_string_equal(buf2, want);
	rules_free(rs);
	rules_free(rs2);
}

static void
test_print(void **state)
{
	char small[8];
	struct ruleset *rs;

	(void)state;
	round_trip("allow", "allow out");
	round_trip("deny\tin proto 6 port 22", "deny in proto tcp port 22");
	round_trip("allow any note \"a \\\"q\\\" \\\\ b\" priority "
	           "essential",
	           "allow any priority essential note \"a \\\"q\\\" \\\\ b\"");
	round_trip("allow out port { https, 80-90, 8080 } to { 2001:DB8:0::1, "
	           "host WWW.Example.COM., 192.0.2.0/24 } proto { udp,tcp }",
	           "allow out proto { udp, tcp } to { 2001:db8::1, host "
	           "www.example.com, 192.0.2.0/24 } port { https, 80-90, "
	           "8080 }");
	round_trip("allow out proto { icmp } process any user 0 from any",
	           "allow out proto icmp process any user 0 from any");
	round_trip("allow out port 80 - 90", "allow out port 80-90");
	round_trip("allow out port 80 -90", "allow out port 80-90");
	round_trip("allow out port 80-80", "allow out port 80");

	rs = load("allow out note \"0123456789\"");
	assert_int_equal(rules_format(small, sizeof(small), rules_get(rs, 0)),
	                 strlen("allow out note \"0123456789\""));
	assert_string_equal(small, "allow o");
	rules_free(rs);
}

/* A rule's place is FILE:LINE of its action word; no rule is "default". */
static void
test_format_where(void **state)
{
	char buf[32], small[6];
	struct ruleset *rs;

	(void)state;
	rs = load("# first\n\nallow out\n  deny out \\\n  to any\n");
	assert_int_equal(rules_format_where(buf, sizeof(buf), rules_get(rs, 0)),
	                 strlen("t.rules:3"));
	assert_string_equal(buf, "t.rules:3");
	rules_format_where(buf, sizeof(buf), rules_get(rs, 1));
	assert_string_equal(buf, "t.rules:4");
	/* cut short as snprintf cuts, the length it needed returned */
	assert_int_equal(
	        rules_format_where(small, sizeof(small), rules_get(rs, 1)),
	        strlen("t.rules:4"));
	assert_string_equal(small, "t.rul");
	assert_int_equal(rules_format_where(NULL, 0, rules_get(rs, 1)),
	                 strlen("t.rules:4"));
	rules_format_where(buf, sizeof(buf), NULL);
	assert_string_equal(buf, "default");
	rules_free(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_priority_beats_process),
	        cmocka_unit_test(test_process_beats_remote),
	        cmocka_unit_test(test_host_beats_domain),
	        cmocka_unit_test(test_longer_domain_wins),
	        cmocka_unit_test(test_longer_prefix_wins),
	        cmocka_unit_test(test_address_beats_any),
	        cmocka_unit_test(test_port_beats_no_port),
	        cmocka_unit_test(test_action_order),
	        cmocka_unit_test(test_load_order),
	        cmocka_unit_test(test_dir_any_and_in),
	        cmocka_unit_test(test_unknown_process_and_user),
	        cmocka_unit_test(test_glob),
	        cmocka_unit_test(test_proto_numbers_and_sets),
	        cmocka_unit_test(test_set_ranks_as_entry),
	        cmocka_unit_test(test_no_names_no_name_rules),
	        cmocka_unit_test(test_list_forms),
	        cmocka_unit_test(test_list_errors),
	        cmocka_unit_test(test_big_list),
	        cmocka_unit_test(test_index_agrees),
	        cmocka_unit_test(test_essential_warns),
	        cmocka_unit_test(test_essential_quiet),
	        cmocka_unit_test(test_all_errors_reported),
	        cmocka_unit_test(test_print),
	        cmocka_unit_test(test_format_where),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}

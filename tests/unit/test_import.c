/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the importers: regexps, ports, ranges, names, blocklists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guard.h"
#include "spackle/import.h"
#include "spackle/rules.h"

static char tmpdir[64];

static int
setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_import.XXXXXX");
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

/* An output stream into memory. */
struct mem {
	FILE *f;
	char *buf;
	size_t len;
};

static void
mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	assert_non_null(m->f = open_memstream(&m->buf, &m->len));
}

/* Close the stream; the text stays in m->buf (free it). */
static char *
mem_close(struct mem *m)
{
	assert_int_equal(fclose(m->f), 0);
	return m->buf;
}

/* Rule text must load with no error; returns the ruleset. */
static struct ruleset *
load_ok(const char *text)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;

	memset(&d, 0, sizeof(d));
	assert_non_null(rs);
	if (rules_load_buffer(rs, "t.rules", text, strlen(text), &d) != 0 ||
	    d.errors > 0) {
		rules_diags_print(stderr, &d);
		fprintf(stderr, "%s", text);
		fail_msg("rules did not load");
	}
	rules_diags_free(&d);
	return rs;
}

/* Does rule text load without an error? */
static bool
loads(const char *text)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;
	bool ok;

	memset(&d, 0, sizeof(d));
	assert_non_null(rs);
	ok = rules_load_buffer(rs, "t.rules", text, strlen(text), &d) == 0 &&
	     d.errors == 0;
	rules_diags_free(&d);
	rules_free(rs);
	return ok;
}

/* ---- regexps ---- */

static void
test_regexp_glob(void **state)
{
	static const struct {
		const char *re, *glob; /* NULL: not a glob */
	} cases[] = {
	        {"^/usr/bin/.*$", "/usr/bin/*"},
	        {"^/usr/bin/curl$", "/usr/bin/curl"},
	        {"^/usr/bin/python3\\.11$", "/usr/bin/python3.11"},
	        {"/telemetry", "*/telemetry*"},
	        {"^/opt/.+/bin/app$", "/opt/?*/bin/app"},
	        {"^/usr/bin/.$", "/usr/bin/?"},
	        {"^/usr/lib/.*?/x$", "/usr/lib/*/x"},
	        {"^/usr/.*.*/x$", "/usr/*/x"},
	        {"^/a\\-b\\/c$", "/a-b/c"},
	        {"^/a\\$", "/a$*"},
	        {"^/a\\\\$", "/a\\"},
	        {".*", "*"},
	        {"", "*"},
	        {"^$", ""},
	        {"^/usr/(s)?bin/nc$", NULL},
	        {"^/opt/app-\\d+/bin$", NULL},
	        {"^/usr/bin/[a-z]+$", NULL},
	        {"^/a|/b$", NULL},
	        {"^/usr/bin/x+$", NULL},
	        {"^/a\\*b$", NULL},
	        {"^/a\\?b$", NULL},
	        {"^/a.?b$", NULL},
	        {"^/a.{2}b$", NULL},
	        {"^/a.*+$", NULL},
	        {"^/a\\.+$", NULL},
	        {"^/a$b", NULL},
	        {"/a\\", NULL},
	        {"(?i)^/usr/bin/x$", NULL},
	};
	char buf[64];
	const char *g;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g = import_regexp_glob(cases[i].re, buf, sizeof(buf));
		if (cases[i].glob == NULL) {
			if (g != NULL)
				fail_msg("%s: got glob \"%s\", want none",
				         cases[i].re, g);
			continue;
		}
		if (g == NULL)
			fail_msg("%s: no glob, want \"%s\"", cases[i].re,
			         cases[i].glob);
		assert_string_equal(g, cases[i].glob);
	}
	/* A buffer too small for the glob gives none, not a cut one. */
	assert_null(import_regexp_glob("^/usr/bin/curl$", buf, 8));
	assert_non_null(import_regexp_glob("^/usr/bin/curl$", buf, 14));
	assert_null(import_regexp_glob("^/usr/bin/curl$", buf, 13));
}

static void
test_regexp_domain(void **state)
{
	static const struct {
		const char *re, *name;
	} cases[] = {
	        {"^(|.*\\.)example\\.com$", "example.com"},
	        {"^(.*\\.)?example\\.com$", "example.com"},
	        {"^(.+\\.)?example\\.com$", "example.com"},
	        {"(^|\\.)example\\.com$", "example.com"},
	        {"^(?:.*\\.)?www\\.example\\.org$", "www.example.org"},
	        {"^(.*\\.|)example\\.net$", "example.net"},
	        {"^(.*\\.)?example.com$", NULL},  /* '.' is any character */
	        {"^(|.*\\.)example\\.com", NULL}, /* no end anchor */
	        {"^www\\.example\\.com$", NULL},  /* one name: a host */
	        {"^(|.*\\.)$", NULL},             /* no name */
	        {"^(|.*\\.).*\\.example\\.com$", NULL},
	        {"^(|.*\\.)ex(a)mple\\.com$", NULL},
	        {"example\\.com$", NULL},
	};
	char buf[64];
	const char *n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = import_regexp_domain(cases[i].re, buf, sizeof(buf));
		if (cases[i].name == NULL) {
			if (n != NULL)
				fail_msg("%s: got \"%s\", want none",
				         cases[i].re, n);
			continue;
		}
		if (n == NULL)
			fail_msg("%s: none, want \"%s\"", cases[i].re,
			         cases[i].name);
		assert_string_equal(n, cases[i].name);
	}
}

/* ---- ports, ranges, addresses ---- */

static void
test_ports(void **state)
{
	struct import_port v[4];
	const char *why;
	size_t n;

	(void)state;
	assert_int_equal(import_ports_parse("80", v, 4, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].lo, 80);
	assert_int_equal(v[0].hi, 80);
	assert_int_equal(import_ports_parse("80-443", v, 4, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].lo, 80);
	assert_int_equal(v[0].hi, 443);
	assert_int_equal(import_ports_parse("80,443", v, 4, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].lo, 443);
	assert_int_equal(import_ports_parse(" 80 , 443 - 445 ", v, 4, &n, &why),
	                 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].lo, 443);
	assert_int_equal(v[1].hi, 445);
	assert_int_equal(import_ports_parse("1,65535", v, 4, &n, &why), 0);
	assert_int_equal(v[1].hi, 65535);

	assert_int_equal(import_ports_parse("0", v, 4, &n, &why), -1);
	assert_int_equal(import_ports_parse("65536", v, 4, &n, &why), -1);
	assert_int_equal(import_ports_parse("443-80", v, 4, &n, &why), -1);
	assert_string_equal(why, "the port range runs backwards");
	assert_int_equal(import_ports_parse("http", v, 4, &n, &why), -1);
	assert_int_equal(import_ports_parse("", v, 4, &n, &why), -1);
	assert_int_equal(import_ports_parse("80,", v, 4, &n, &why), -1);
	assert_int_equal(import_ports_parse("-80", v, 4, &n, &why), -1);
	assert_int_equal(import_ports_parse("80-", v, 4, &n, &why), -1);
	assert_int_equal(import_ports_parse("1-2-3", v, 4, &n, &why), -1);
	assert_int_equal(
	        import_ports_parse("99999999999999999999", v, 4, &n, &why), -1);
	assert_int_equal(import_ports_parse("1,2,3", v, 2, &n, &why), -1);
	assert_string_equal(why, "too many ports");
}

static void
test_range_cidr(void **state)
{
	static const struct {
		const char *range;
		int rc;
		const char *cidr;
	} cases[] = {
	        {"192.0.2.0-192.0.2.255", 1, "192.0.2.0/24"},
	        {"192.0.2.7-192.0.2.7", 1, "192.0.2.7"},
	        {"0.0.0.0-255.255.255.255", 1, "0.0.0.0/0"},
	        {"192.0.2.0 - 192.0.2.127", 1, "192.0.2.0/25"},
	        {"198.51.100.128-198.51.100.255", 1, "198.51.100.128/25"},
	        {"2001:db8::-2001:db8::ffff", 1, "2001:db8::/112"},
	        {"2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1,
	         "2001:db8::/32"},
	        {"192.0.2.1-192.0.2.2", 0, NULL},
	        {"192.0.2.0-192.0.2.2", 0, NULL},
	        {"192.0.2.10-192.0.2.20", 0, NULL},
	        {"192.0.2.1-192.0.2.255", 0, NULL},
	        {"2001:db8::1-2001:db8::ffff", 0, NULL},
	        {"192.0.2.9-192.0.2.1", -1, NULL},
	        {"192.0.2.1-2001:db8::1", -1, NULL},
	        {"192.0.2.1", -1, NULL},
	        {"192.0.2.0/24-192.0.2.255", -1, NULL},
	        {"a-b", -1, NULL},
	        {"-", -1, NULL},
	};
	char buf[IMPORT_ENTRY_BUF];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = import_range_cidr(cases[i].range, buf);
		if (rc != cases[i].rc)
			fail_msg("%s: %d, want %d", cases[i].range, rc,
			         cases[i].rc);
		if (rc == 1)
			assert_string_equal(buf, cases[i].cidr);
	}
}

static void
test_addr_canon(void **state)
{
	char buf[IMPORT_ENTRY_BUF];

	(void)state;
	assert_int_equal(import_addr_canon("2001:DB8:0::1", false, buf), 0);
	assert_string_equal(buf, "2001:db8::1");
	assert_int_equal(import_addr_canon("192.0.2.1/24", true, buf), 0);
	assert_string_equal(buf, "192.0.2.0/24");
	assert_int_equal(import_addr_canon("192.0.2.1/24", false, buf), -1);
	assert_int_equal(import_addr_canon("192.0.2.1/32", false, buf), 0);
	assert_string_equal(buf, "192.0.2.1/32");
	assert_int_equal(import_addr_canon("2001:db8::1/32", true, buf), 0);
	assert_string_equal(buf, "2001:db8::/32");
	assert_int_equal(import_addr_canon("192.0.2.0/33", true, buf), -1);
	assert_int_equal(import_addr_canon("192.0.2", true, buf), -1);
	assert_int_equal(import_addr_canon("example.com", true, buf), -1);
}

/* ---- names ---- */

static void
test_name_check_agrees(void **state)
{
	char l63[64], l64[65], n253[254], n254[255], rule[600];
	const char *names[] = {
	        "example.com",
	        "a",
	        "a.",
	        "A.Example.COM",
	        "a..b",
	        ".a",
	        "a.b.",
	        "1.2.3.4",
	        "123",
	        "a_b.example",
	        "-x.example",
	        "x-.example",
	        "ex*ample.com",
	        "*.example",
	        "a/b",
	        "a:b",
	        "caf\xc3\xa9.example",
	        "a%b",
	        "xn--caf-dma.example",
	        "1a.example",
	        "..",
	        ".",
	        l63,
	        l64,
	        n253,
	        n254,
	};
	bool ours, parser;
	size_t i;

	(void)state;
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'b', 64);
	l64[64] = '\0';
	for (i = 0; i < 253; i++)
		n253[i] = i % 2 ? '.' : 'c';
	n253[253] = '\0';
	memcpy(n254, n253, 253);
	n254[253] = 'd';
	n254[254] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ours = rules_name_check(names[i], strlen(names[i])) == NULL;
		snprintf(rule, sizeof(rule), "deny out to host %s\n", names[i]);
		parser = loads(rule);
		if (ours != parser)
			fail_msg("\"%s\": import %s it, the rule parser %s it",
			         names[i], ours ? "takes" : "refuses",
			         parser ? "takes" : "refuses");
	}
}

/* ---- strings and rules ---- */

static void
test_text_and_escapes(void **state)
{
	static const char *const texts[] = {
	        "plain",
	        "with \"quotes\" and \\ backslashes \\\\ and \\\"",
	        "new\nline, tab\tand\rreturn \x7f del",
	        "trailing backslash \\",
	        "caf\xc3\xa9 \xe2\x82\xac",
	};
	struct import_rule r;
	struct ruleset *rs;
	struct mem m;
	char *text, *clean;
	bool cut;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		clean = import_text_clean(texts[i], &cut);
		assert_non_null(clean);
		assert_false(cut);
		for (j = 0; clean[j] != '\0'; j++)
			assert_true((unsigned char)clean[j] >= 0x20 &&
			            clean[j] != 0x7f);
		import_rule_init(&r);
		r.action = SP_VERDICT_ALLOW;
		r.note = clean;
		assert_non_null(r.process = strdup(texts[i][0] == 'p'
		                                           ? "/usr/bin/a\"b\\c"
		                                           : "/x"));
		mem_open(&m);
		import_rule_print(m.f, &r, "");
		text = mem_close(&m);
		rs = load_ok(text);
		assert_int_equal(rules_count(rs), 1);
		assert_string_equal(rules_get(rs, 0)->note, clean);
		assert_string_equal(rules_get(rs, 0)->process, r.process);
		rules_free(rs);
		free(text);
		import_rule_free(&r);
	}
}

static void
test_text_cut(void **state)
{
	char *big = malloc(6001), *clean;
	bool cut;
	size_t i;

	(void)state;
	assert_non_null(big);
	/* "xy" then euro signs (3 bytes each), so 4096 falls inside one. */
	big[0] = 'x';
	big[1] = 'y';
	for (i = 2; i + 3 <= 6000; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	big[i] = '\0';
	clean = import_text_clean(big, &cut);
	assert_non_null(clean);
	assert_true(cut);
	assert_true(strlen(clean) < IMPORT_STRING_MAX);
	assert_int_equal(strlen(clean) % 3, 2);
	assert_int_equal(((unsigned char)clean[strlen(clean) - 1] & 0xc0),
	                 0x80);
	free(clean);
	free(big);
}

static void
test_rule_chunks(void **state)
{
	struct import_rule r;
	struct ruleset *rs;
	struct mem m;
	char name[64], *text, *p;
	size_t i, lines = 0;

	(void)state;
	import_rule_init(&r);
	r.proto = SP_PROTO_TCP;
	r.ports[0].lo = 443;
	r.ports[0].hi = 443;
	r.nports = 1;
	for (i = 0; i < 2 * IMPORT_SET_MAX + 2; i++) {
		snprintf(name, sizeof(name), "n%zu.example.com", i);
		assert_true(import_rule_target(&r, "domain", name));
	}
	mem_open(&m);
	import_rule_print(m.f, &r, "");
	text = mem_close(&m);
	for (p = text; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 3);
	rs = load_ok(text);
	assert_int_equal(rules_count(rs), 3);
	assert_int_equal(rules_get(rs, 0)->ntargets, IMPORT_SET_MAX);
	assert_int_equal(rules_get(rs, 2)->ntargets, 2);
	rules_free(rs);
	free(text);
	import_rule_free(&r);
}

/* ---- blocklists ---- */

static void
test_hosts_line(void **state)
{
	static const struct {
		const char *line;
		enum import_line_kind kind;
		enum import_skip why;
		const char *fields;
		bool sink;
	} cases[] = {
	        {"", IMPORT_LINE_BLANK, 0, NULL, false},
	        {"   \t\r", IMPORT_LINE_BLANK, 0, NULL, false},
	        {"  # a comment", IMPORT_LINE_BLANK, 0, NULL, false},
	        {"! adblock comment", IMPORT_LINE_BLANK, 0, NULL, false},
	        {"[Adblock Plus 2.0]", IMPORT_LINE_BLANK, 0, NULL, false},
	        {"##.banner", IMPORT_LINE_BLANK, 0, NULL, false},
	        {"0.0.0.0 a.example.com b.example.com # c", IMPORT_LINE_HOSTS,
	         0, "a.example.com b.example.com", true},
	        {"127.0.0.1\ta.example.com\r", IMPORT_LINE_HOSTS, 0,
	         "a.example.com", true},
	        {":: a.example.com", IMPORT_LINE_HOSTS, 0, "a.example.com",
	         true},
	        {"192.0.2.1 a.example.com", IMPORT_LINE_HOSTS, 0,
	         "a.example.com", false},
	        {"fe80::1%lo0 localhost", IMPORT_LINE_HOSTS, 0, "localhost",
	         false},
	        {"a.example.com", IMPORT_LINE_ENTRY, 0, "a.example.com", false},
	        {"  a.example.com  ", IMPORT_LINE_ENTRY, 0, "a.example.com",
	         false},
	        {"a.example.com#x", IMPORT_LINE_ENTRY, 0, "a.example.com",
	         false},
	        {"198.51.100.0/24", IMPORT_LINE_ENTRY, 0, "198.51.100.0/24",
	         false},
	        {"a.example.com##.ad", IMPORT_LINE_SKIP, IMPORT_SKIP_SYNTAX,
	         NULL, false},
	        {"a.example.com#@#.ad", IMPORT_LINE_SKIP, IMPORT_SKIP_SYNTAX,
	         NULL, false},
	        {"||a.example.com^", IMPORT_LINE_ADBLOCK, 0, "a.example.com",
	         false},
	        {"||a.example.com^$important", IMPORT_LINE_ADBLOCK, 0,
	         "a.example.com", false},
	        {"||a.example.com^$all,important", IMPORT_LINE_ADBLOCK, 0,
	         "a.example.com", false},
	        {"||a.example.com^|", IMPORT_LINE_ADBLOCK, 0, "a.example.com",
	         false},
	        {"||a.example.com^$important,third-party", IMPORT_LINE_SKIP,
	         IMPORT_SKIP_OPTIONS, NULL, false},
	        {"||a.example.com^$", IMPORT_LINE_ADBLOCK, 0, "a.example.com",
	         false},
	        {"||a.example.com/x", IMPORT_LINE_SKIP, IMPORT_SKIP_PATH, NULL,
	         false},
	        {"||a.example.com^x", IMPORT_LINE_SKIP, IMPORT_SKIP_PATH, NULL,
	         false},
	        {"||*.a.example.com^", IMPORT_LINE_SKIP, IMPORT_SKIP_PATH, NULL,
	         false},
	        {"||a.example.com:443^", IMPORT_LINE_SKIP, IMPORT_SKIP_PATH,
	         NULL, false},
	        {"||a.example.com", IMPORT_LINE_SKIP, IMPORT_SKIP_SYNTAX, NULL,
	         false},
	        {"||", IMPORT_LINE_SKIP, IMPORT_SKIP_SYNTAX, NULL, false},
	        {"@@||a.example.com^", IMPORT_LINE_SKIP, IMPORT_SKIP_EXCEPTION,
	         NULL, false},
	        {"|http://a.example.com/", IMPORT_LINE_SKIP, IMPORT_SKIP_SYNTAX,
	         NULL, false},
	        {"/ads[0-9]/", IMPORT_LINE_SKIP, IMPORT_SKIP_SYNTAX, NULL,
	         false},
	        {"a.example.com^", IMPORT_LINE_SKIP, IMPORT_SKIP_SYNTAX, NULL,
	         false},
	        {"two words", IMPORT_LINE_SKIP, IMPORT_SKIP_SYNTAX, NULL,
	         false},
	};
	struct import_hosts_line hl;
	struct sp_view v;
	uint8_t *g;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].line);
		/* Flush against a guard page: one byte too far crashes. */
		g = guard_copy(cases[i].line, n);
		v.p = g;
		v.len = n;
		import_hosts_line(v, &hl);
		if (hl.kind != cases[i].kind ||
		    (hl.kind == IMPORT_LINE_SKIP && hl.why != cases[i].why))
			fail_msg("\"%s\": kind %d why %d, want %d %d",
			         cases[i].line, hl.kind, hl.why, cases[i].kind,
			         cases[i].why);
		if (cases[i].fields != NULL) {
			assert_int_equal(hl.fields.len,
			                 strlen(cases[i].fields));
			assert_memory_equal(hl.fields.p, cases[i].fields,
			                    hl.fields.len);
		}
		if (hl.kind == IMPORT_LINE_HOSTS)
			assert_int_equal(hl.sink, cases[i].sink);
		guard_free(g);
	}
}

static void
test_field_next(void **state)
{
	const char *s = "  a\tbb  ccc ";
	struct sp_view rest = {(const uint8_t *)s, strlen(s)}, f;

	(void)state;
	assert_true(import_field_next(&rest, &f));
	assert_int_equal(f.len, 1);
	assert_true(import_field_next(&rest, &f));
	assert_memory_equal(f.p, "bb", 2);
	assert_true(import_field_next(&rest, &f));
	assert_int_equal(f.len, 3);
	assert_false(import_field_next(&rest, &f));
	assert_false(import_field_next(&rest, &f));
}

static void
test_hosts_entry(void **state)
{
	static const struct {
		const char *field;
		bool addr_ok;
		enum import_entry want;
		const char *text;
	} cases[] = {
	        {"A.Example.COM.", true, IMPORT_ENTRY_NAME, "a.example.com"},
	        {"*.x.example.com", true, IMPORT_ENTRY_WILDCARD,
	         "x.example.com"},
	        {"localhost", true, IMPORT_ENTRY_LOCAL, NULL},
	        {"LocalHost.", false, IMPORT_ENTRY_LOCAL, NULL},
	        {"ip6-allnodes", false, IMPORT_ENTRY_LOCAL, NULL},
	        {"broadcasthost", false, IMPORT_ENTRY_LOCAL, NULL},
	        {"0.0.0.0", false, IMPORT_ENTRY_LOCAL, NULL},
	        {"::1", true, IMPORT_ENTRY_LOCAL, NULL},
	        {"192.0.2.1", true, IMPORT_ENTRY_ADDR, "192.0.2.1"},
	        {"192.0.2.1", false, IMPORT_ENTRY_INVALID, NULL},
	        {"2001:DB8::1", true, IMPORT_ENTRY_ADDR, "2001:db8::1"},
	        {"192.0.2.0/24", true, IMPORT_ENTRY_ADDR, "192.0.2.0/24"},
	        {"192.0.2.1/24", true, IMPORT_ENTRY_INVALID, NULL},
	        {"1.2.3", true, IMPORT_ENTRY_INVALID, NULL},
	        {"bad..name", true, IMPORT_ENTRY_INVALID, NULL},
	        {"*.", true, IMPORT_ENTRY_INVALID, NULL},
	        {"*.*.x", true, IMPORT_ENTRY_INVALID, NULL},
	        {"*", true, IMPORT_ENTRY_INVALID, NULL},
	        {"a*b.example", true, IMPORT_ENTRY_INVALID, NULL},
	        {"", true, IMPORT_ENTRY_INVALID, NULL},
	};
	char buf[IMPORT_ENTRY_BUF], big[400];
	struct sp_view v;
	enum import_entry e;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v.p = (const uint8_t *)cases[i].field;
		v.len = strlen(cases[i].field);
		e = import_hosts_entry(v, cases[i].addr_ok, buf, &len);
		if (e != cases[i].want)
			fail_msg("\"%s\": %d, want %d", cases[i].field, e,
			         cases[i].want);
		if (cases[i].text != NULL) {
			assert_string_equal(buf, cases[i].text);
			assert_int_equal(len, strlen(cases[i].text));
		}
	}
	memset(big, 'a', sizeof(big));
	v.p = (const uint8_t *)big;
	v.len = sizeof(big);
	assert_int_equal(import_hosts_entry(v, true, buf, &len),
	                 IMPORT_ENTRY_INVALID);
	v.len = 63;
	assert_int_equal(import_hosts_entry(v, true, buf, &len),
	                 IMPORT_ENTRY_NAME);
}

/* Write text to tmpdir/name; its path into path. */
static void
write_tmp(const char *name, const char *text, size_t len, char *path,
          size_t plen)
{
	FILE *f;

	snprintf(path, plen, "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* `deny out to list "path"` must load with n entries. */
static void
list_loads(const char *path, size_t n)
{
	struct ruleset *rs;
	char rule[PATH_MAX + 64];

	snprintf(rule, sizeof(rule), "deny out to list \"%s\"\n", path);
	rs = load_ok(rule);
	assert_int_equal(rules_list_entries(rs), n);
	rules_free(rs);
}

static void
test_hosts_buffer(void **state)
{
	const char *text = "# header\n"
	                   "127.0.0.1 localhost\n"
	                   "0.0.0.0 a.example.com B.example.com\n"
	                   "0.0.0.0 a.example.com\n"
	                   "192.0.2.9 mapped.example.org\n"
	                   "||c.example.net^\n"
	                   "||c.example.net^$third-party\n"
	                   "@@||ok.example.net^\n"
	                   "*.d.example.org\n"
	                   "198.51.100.0/24\n"
	                   "0.0.0.0 bad..name\n"
	                   "e.example.org"; /* no final newline */
	struct import_hosts_stats st;
	struct mem out, err;
	char *list, *msgs, path[PATH_MAX];

	(void)state;
	mem_open(&out);
	mem_open(&err);
	assert_int_equal(import_hosts_buffer("t.hosts", text, strlen(text),
	                                     out.f, &st, err.f),
	                 IMPORT_OK);
	list = mem_close(&out);
	msgs = mem_close(&err);
	assert_string_equal(msgs, "");
	assert_string_equal(list, "a.example.com\nb.example.com\n"
	                          "c.example.net\nd.example.org\n"
	                          "198.51.100.0/24\ne.example.org\n");
	assert_int_equal(st.lines, 12);
	assert_int_equal(st.names, 5);
	assert_int_equal(st.addrs, 1);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.wildcards, 1);
	assert_int_equal(st.blank, 1);
	assert_int_equal(st.skipped[IMPORT_SKIP_LOCAL], 1);
	assert_int_equal(st.skipped[IMPORT_SKIP_ADDRESS], 1);
	assert_int_equal(st.skipped[IMPORT_SKIP_OPTIONS], 1);
	assert_int_equal(st.skipped[IMPORT_SKIP_EXCEPTION], 1);
	assert_int_equal(st.skipped[IMPORT_SKIP_INVALID], 1);
	write_tmp("t.list", list, strlen(list), path, sizeof(path));
	list_loads(path, 6);
	free(list);
	free(msgs);

	/* Nothing a list can hold: an error, and nothing written. */
	text = "127.0.0.1 localhost\n@@||x.example.com^\n";
	mem_open(&out);
	mem_open(&err);
	assert_int_equal(import_hosts_buffer("e.hosts", text, strlen(text),
	                                     out.f, &st, err.f),
	                 IMPORT_BAD_INPUT);
	list = mem_close(&out);
	msgs = mem_close(&err);
	assert_string_equal(list, "");
	assert_non_null(strstr(msgs, "e.hosts: no names"));
	free(list);
	free(msgs);
}

static void
test_hosts_big(void **state)
{
	enum { N = 200000 };
	struct import_hosts_stats st;
	struct mem in, out, err;
	char *text, *list, *msgs, path[PATH_MAX];
	size_t i;

	(void)state;
	mem_open(&in);
	for (i = 0; i < 2 * N; i++)
		fprintf(in.f, "0.0.0.0 h%zu.ads%zu.example.com\n", i % N,
		        i % N % 97);
	text = mem_close(&in);
	mem_open(&out);
	mem_open(&err);
	assert_int_equal(import_hosts_buffer("big.hosts", text, in.len, out.f,
	                                     &st, err.f),
	                 IMPORT_OK);
	list = mem_close(&out);
	msgs = mem_close(&err);
	assert_int_equal(st.names, N);
	assert_int_equal(st.duplicates, N);
	write_tmp("big.list", list, out.len, path, sizeof(path));
	list_loads(path, N);
	free(text);
	free(list);
	free(msgs);
}

static void
test_hosts_file(void **state)
{
	const char *text = "0.0.0.0 a.example.com\n0.0.0.0 b.example.com\n";
	char in[PATH_MAX], lst[PATH_MAX], *real, *got, want[PATH_MAX + 64];
	struct mem out, err;
	struct stat st;

	(void)state;
	write_tmp("f.hosts", text, strlen(text), in, sizeof(in));
	snprintf(lst, sizeof(lst), "%s/f.list", tmpdir);
	mem_open(&out);
	mem_open(&err);
	assert_int_equal(
	        import_hosts_file(in, lst, SP_VERDICT_REJECT, out.f, err.f),
	        IMPORT_OK);
	got = mem_close(&out);
	free(mem_close(&err));
	assert_non_null(real = realpath(lst, NULL));
	snprintf(want, sizeof(want), "reject out to list \"%s\"\n", real);
	assert_string_equal(got, want);
	list_loads(real, 2);
	assert_int_equal(stat(real, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	free(real);
	free(got);

	/* The list must not overwrite its input. */
	mem_open(&out);
	mem_open(&err);
	assert_int_equal(
	        import_hosts_file(in, in, SP_VERDICT_DENY, out.f, err.f),
	        IMPORT_FAILED);
	free(mem_close(&out));
	got = mem_close(&err);
	assert_non_null(strstr(got, "overwrite its own input"));
	free(got);
	assert_int_equal(stat(in, &st), 0);
	assert_int_equal((size_t)st.st_size, strlen(text));
}

/* ---- the JSON importers ---- */

static void
test_lsrules(void **state)
{
	const char *json =
	        "{\"name\": \"t\", \"rules\": ["
	        "{\"action\": \"allow\", \"process\": \"/usr/bin/curl\","
	        " \"remote-hosts\": [\"a.example.com\", \"b.example.com\"],"
	        " \"remote-addresses\": \"192.0.2.0-192.0.2.127\","
	        " \"ports\": \"443\", \"protocol\": \"tcp\"},"
	        "{\"action\": \"deny\", \"via\": \"/usr/bin/x\"},"
	        "{\"action\": \"deny\", \"ports\": \"x\"}]}";
	struct ruleset *rs;
	struct mem out, err;
	char *text, *msgs;

	(void)state;
	mem_open(&out);
	mem_open(&err);
	assert_int_equal(import_lsrules_buffer("t.lsrules", json, strlen(json),
	                                       out.f, err.f),
	                 IMPORT_BAD_INPUT);
	text = mem_close(&out);
	msgs = mem_close(&err);
	assert_non_null(strstr(text,
	                       "allow out proto tcp process "
	                       "\"/usr/bin/curl\" to { host a.example.com, "
	                       "host b.example.com, 192.0.2.0/25 } port "
	                       "443\n"));
	assert_non_null(strstr(text, "# rules[1]: left out: \"via\""));
	assert_null(strstr(text, "rules[2]"));
	assert_string_equal(msgs,
	                    "t.lsrules: rules[2]: \"ports\": \"x\": a port is "
	                    "a number 1-65535\n");
	rs = load_ok(text);
	assert_int_equal(rules_count(rs), 1);
	rules_free(rs);
	free(text);
	free(msgs);

	mem_open(&out);
	mem_open(&err);
	json = "{\n  \"rules\": [}";
	assert_int_equal(import_lsrules_buffer("m.lsrules", json, strlen(json),
	                                       out.f, err.f),
	                 IMPORT_BAD_INPUT);
	text = mem_close(&out);
	msgs = mem_close(&err);
	assert_string_equal(text, "");
	assert_true(strncmp(msgs, "m.lsrules:2:", 12) == 0);
	free(text);
	free(msgs);
}

static void
test_opensnitch(void **state)
{
	const char *json =
	        "{\"name\": \"r\", \"enabled\": true, \"action\": \"reject\","
	        " \"duration\": \"always\", \"operator\": {\"type\": \"list\","
	        " \"operand\": \"list\", \"list\": ["
	        "{\"type\": \"regexp\", \"operand\": \"process.path\","
	        " \"data\": \"^/opt/.*/bin/app$\"},"
	        "{\"type\": \"regexp\", \"operand\": \"dest.host\","
	        " \"data\": \"^(.*\\\\.)?example\\\\.org$\"},"
	        "{\"type\": \"simple\", \"operand\": \"protocol\","
	        " \"data\": \"UDP6\"}]}}";
	struct mem out, err;
	struct ruleset *rs;
	char *text, *msgs;

	(void)state;
	mem_open(&out);
	mem_open(&err);
	assert_int_equal(import_opensnitch_buffer("d/r.json", json,
	                                          strlen(json), out.f, err.f),
	                 IMPORT_OK);
	text = mem_close(&out);
	msgs = mem_close(&err);
	assert_string_equal(msgs, "");
	assert_string_equal(text, "reject out proto udp process "
	                          "\"/opt/*/bin/app\" to domain example.org "
	                          "note \"opensnitch: r\"\n");
	rs = load_ok(text);
	rules_free(rs);
	free(text);
	free(msgs);

	/* A bad file prints nothing at all. */
	json = "{\"name\": \"x\", \"enabled\": true, \"operator\": {}}";
	mem_open(&out);
	mem_open(&err);
	assert_int_equal(import_opensnitch_buffer("d/x.json", json,
	                                          strlen(json), out.f, err.f),
	                 IMPORT_BAD_INPUT);
	text = mem_close(&out);
	msgs = mem_close(&err);
	assert_string_equal(text, "");
	assert_string_equal(msgs, "d/x.json: no \"action\" string\n");
	free(text);
	free(msgs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_regexp_glob),
	        cmocka_unit_test(test_regexp_domain),
	        cmocka_unit_test(test_ports),
	        cmocka_unit_test(test_range_cidr),
	        cmocka_unit_test(test_addr_canon),
	        cmocka_unit_test(test_name_check_agrees),
	        cmocka_unit_test(test_text_and_escapes),
	        cmocka_unit_test(test_text_cut),
	        cmocka_unit_test(test_rule_chunks),
	        cmocka_unit_test(test_hosts_line),
	        cmocka_unit_test(test_field_next),
	        cmocka_unit_test(test_hosts_entry),
	        cmocka_unit_test(test_hosts_buffer),
	        cmocka_unit_test(test_hosts_big),
	        cmocka_unit_test(test_hosts_file),
	        cmocka_unit_test(test_lsrules),
	        cmocka_unit_test(test_opensnitch),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}

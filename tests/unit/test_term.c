/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The terminal views as a person reads them: `log`, `conns` and `status`
 * fit in 100 columns with an IPv6 flow, a long rule path and a long exe;
 * status puts what needs attention first; --json and --csv stay whole,
 * byte for byte what they were (tests/golden/term/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "spackle/flow.h"
#include "spackle/history.h"
#include "spackle/store.h"
#include "spackle/texttab.h"
#include "golden.h"

#define NS_PER_S ((uint64_t)1000000000)
#define T0       ((uint64_t)1795860000 * NS_PER_S) /* 2026-11-28T10:00Z */

static char tmpdir[64];
static char dbdir[128];

#define LONG_EXE                                                               \
	"/opt/vendor/backup-agent/libexec/backup-agent-uploader-service"
#define LONG_RULE                                                              \
	"/etc/spackle/rules.d/90-vendor-telemetry-and-crash-report-uploads."   \
	"rules:1234"
#define LONG_HOST "eu-west-1.telemetry.upload.backup-vendor.example.net"
#define V6_LOCAL  "2001:db8:1:2:3:4:5:10"
#define V6_REMOTE "2001:db8:85a3:1234:5678:8a2e:370:7334"

struct spec {
	const char *exe; /* NULL unknown */
	uint32_t uid;
	uint8_t dir, proto;
	const char *local, *remote;
	uint16_t lport, rport;
	const char *host;
	uint8_t verdict;
	const char *rule;
	uint32_t flags;
	uint64_t bytes_out, bytes_in;
};

static const struct spec flows[] = {
        {"/usr/bin/curl", 1000, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.10",
         "203.0.113.1", 50000, 443, "www.example.com", SP_VERDICT_ALLOW,
         "/etc/spackle/rules.d/50-web.rules:12", STORE_FLOW_ENDED, 1200,
         345678},
        {LONG_EXE, 0, SP_DIR_OUT, SP_PROTO_TCP, V6_LOCAL, V6_REMOTE, 51234,
         8443, LONG_HOST, SP_VERDICT_DENY, LONG_RULE, 0, 12345678901ull, 99},
        {"/usr/sbin/sshd", 0, SP_DIR_IN, SP_PROTO_TCP, V6_LOCAL, V6_REMOTE, 22,
         40000, NULL, SP_VERDICT_ALLOW, "default", STORE_FLOW_ENDED, 5000,
         4000},
        /* Names from the network and paths from any program: never a
         * terminal's escape sequence. */
        {"/tmp/evil\x1b[31mred", 1000, SP_DIR_OUT, SP_PROTO_UDP, "192.0.2.10",
         "198.51.100.7", 40001, 53, "x\x1b]0;pwned\x07.example",
         SP_VERDICT_DENY, "default", STORE_FLOW_ENDED | STORE_FLOW_MONITOR, 60,
         0},
        {NULL, FLOW_UID_UNKNOWN, SP_DIR_OUT, SP_PROTO_ICMP6, "2001:db8::10",
         "2001:db8::1", 0, 0, NULL, SP_VERDICT_ALLOW, "default",
         STORE_FLOW_ENDED, 64, 64},
        {NULL, 1000, SP_DIR_OUT, SP_PROTO_TCP, "192.0.2.10", "192.0.2.99",
         50008, 443, NULL, SP_VERDICT_NONE, "hidden: no daemon",
         STORE_FLOW_ENDED | STORE_FLOW_HIDDEN, 300, 0},
};
#define NFLOWS (sizeof(flows) / sizeof(flows[0]))

static int
setup(void **state)
{
	struct store_config cfg = {0};
	struct store_flow r;
	struct store *s;
	char err[512];
	unsigned i;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/spackle-term-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dbdir, sizeof(dbdir), "%s/db", tmpdir);
	cfg.path = dbdir;
	if (store_open(&s, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (i = 0; i < NFLOWS; i++) {
		const struct spec *f = &flows[i];

		memset(&r, 0, sizeof(r));
		r.id = T0 + i;
		r.first_ns = T0 + (uint64_t)i * 60 * NS_PER_S;
		r.last_ns = r.first_ns + 30 * NS_PER_S;
		sp_addr_parse(&r.local, f->local);
		sp_addr_parse(&r.remote, f->remote);
		r.local_port = f->lport;
		r.remote_port = f->rport;
		r.proto = f->proto;
		r.dir = f->dir;
		r.verdict = f->verdict;
		r.flags = f->flags;
		r.pid = f->exe != NULL ? (int32_t)(4000 + i) : -1;
		r.uid = f->uid;
		r.exe = f->exe;
		r.host = f->host;
		r.rule = f->rule;
		r.packets_out = 10 + i;
		r.packets_in = 20 + i;
		r.bytes_out = f->bytes_out;
		r.bytes_in = f->bytes_in;
		if (store_put_flow(store_producer(s, 0), &r, 0) != 0)
			return -1;
	}
	store_close(s);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* `spackle log` in format fmt, into a string. */
static char *
log_out(enum history_format fmt)
{
	struct store_reader *r;
	struct history_filter f;
	char err[512], *out = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&out, &len);

	memset(&f, 0, sizeof(f));
	if (store_reader_open(&r, dbdir, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(history_filter_prepare(&f, stderr));
	assert_int_equal(history_log(r, &f, 0, fmt, mf), (long)NFLOWS);
	fclose(mf);
	store_reader_close(r);
	return out;
}

/* --json and --csv: whole values, the bytes they were before the text
 * views changed (the golden files were written by the code before; the
 * CSV has had a last column, flows, since aggregates). */
static void
test_log_json_csv_unchanged(void **state)
{
	char *out;

	(void)state;
	out = log_out(HISTORY_JSON);
	assert_non_null(strstr(out, "\"exe\":\"" LONG_EXE "\""));
	assert_non_null(strstr(out, "\"rule\":\"" LONG_RULE "\""));
	assert_non_null(strstr(out, "\"dst\":\"" V6_REMOTE "\""));
	golden_check("term", "log.json.ok", out);
	free(out);
	out = log_out(HISTORY_CSV);
	golden_check("term", "log.csv.ok", out);
	free(out);
}

/* The widest line of text in terminal columns (UTF-8: a column per
 * character); fails on a control character other than the newline. */
static unsigned
widest(const char *text)
{
	unsigned w = 0, max = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p == '\n') {
			w = 0;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f)
			fail_msg("control character 0x%02x in:\n%s", *p, text);
		if ((*p & 0xc0) != 0x80 && ++w > max)
			max = w;
	}
	return max;
}

/* The line of text that holds needle (a copy), or fails. */
static char *
line_with(const char *text, const char *needle)
{
	const char *p = strstr(text, needle), *b, *e;

	if (p == NULL)
		fail_msg("no \"%s\" in:\n%s", needle, text);
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	return strndup(b, e != NULL ? (size_t)(e - b) : strlen(b));
}

static size_t
lines(const char *text)
{
	size_t n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

/* The shortenings themselves, in the C locale ("..."). */
static void
test_fit(void **state)
{
	char b[512];

	(void)state;
	setenv("LC_ALL", "C", 1);
	/* Fits: whole. */
	assert_string_equal(texttab_fit("/usr/bin/curl", TEXTTAB_CUT_PATH, 13,
	                                b, sizeof(b)),
	                    "/usr/bin/curl");
	/* A path loses its directories first, then the middle of its name;
	 * FILE:LINE keeps its line. */
	assert_string_equal(texttab_fit("/etc/spackle/rules.d/50-web.rules:12",
	                                TEXTTAB_CUT_PATH, 27, b, sizeof(b)),
	                    ".../rules.d/50-web.rules:12");
	assert_string_equal(texttab_fit("/etc/spackle/rules.d/50-web.rules:12",
	                                TEXTTAB_CUT_PATH, 20, b, sizeof(b)),
	                    ".../50-web.rules:12");
	assert_string_equal(texttab_fit("/etc/spackle/rules.d/50-web.rules:12",
	                                TEXTTAB_CUT_PATH, 15, b, sizeof(b)),
	                    "50-web.rules:12");
	assert_string_equal(texttab_fit("/etc/spackle/rules.d/50-web.rules:12",
	                                TEXTTAB_CUT_PATH, 12, b, sizeof(b)),
	                    "50-w...es:12");
	/* An address loses its middle, never the port or the brackets; a
	 * name its start. */
	assert_string_equal(texttab_fit("[" V6_REMOTE "]:8443",
	                                TEXTTAB_CUT_ADDR, 24, b, sizeof(b)),
	                    "[2001:db...70:7334]:8443");
	assert_string_equal(texttab_fit("203.0.113.100:65535", TEXTTAB_CUT_ADDR,
	                                16, b, sizeof(b)),
	                    "203....100:65535");
	assert_string_equal(texttab_fit(LONG_HOST ":443", TEXTTAB_CUT_ADDR, 20,
	                                b, sizeof(b)),
	                    "...r.example.net:443");
	assert_int_equal(texttab_width(b), 20);
	/* Text: its start. */
	assert_string_equal(texttab_fit("hidden: no daemon", TEXTTAB_CUT_END,
	                                10, b, sizeof(b)),
	                    "hidden:...");
	/* What a terminal could obey is shown as '?': C0 and C1 controls,
	 * bytes that are not UTF-8; UTF-8 itself stays. */
	assert_string_equal(texttab_fit("a\x1b[2Jb\xc2\x9b"
	                                "c\xff\xc3"
	                                "(d\xc3\xa9",
	                                TEXTTAB_CUT_END, 100, b, sizeof(b)),
	                    "a?[2Jb?c?"
	                    "?(d\xc3\xa9");
	assert_int_equal(texttab_width(b), 13);
	setenv("LC_ALL", "en_GB.UTF-8", 1);
	assert_string_equal(texttab_fit("hidden: no daemon", TEXTTAB_CUT_END,
	                                10, b, sizeof(b)),
	                    "hidden: n\u2026");
	unsetenv("LC_ALL");
	assert_string_equal(texttab_count(0, b, sizeof(b)), "0");
	assert_string_equal(texttab_count(999, b, sizeof(b)), "999");
	assert_string_equal(texttab_count(1000, b, sizeof(b)), "1,000");
	assert_string_equal(
	        texttab_count(18446744073709551615ull, b, sizeof(b)),
	        "18,446,744,073,709,551,615");
	assert_string_equal(texttab_size(1023, b, sizeof(b)), "1023");
	assert_string_equal(texttab_size(1024, b, sizeof(b)), "1.0K");
	assert_string_equal(texttab_size(283115520, b, sizeof(b)), "270M");
	assert_string_equal(texttab_size(1048575, b, sizeof(b)), "1.0M");
}

static const char *const locales[] = {"C", "C.UTF-8"};

/* `log`: every line in 100 columns, in either locale, with the IPv6 flow,
 * the long rule path and the long exe; what is cut is marked, what
 * identifies stays: the rule file's name and line, the exe's name, the
 * port. */
static void
test_log_text(void **state)
{
	char *out, *l, name[64];
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		const char *m = i == 0 ? "..." : "\u2026";

		setenv("LC_ALL", locales[i], 1);
		out = log_out(HISTORY_TEXT);
		assert_true(widest(out) <= 100);
		assert_int_equal(lines(out), NFLOWS + 1);
		assert_true(strncmp(out, "first (UTC)    dir proto remote ",
		                    32) == 0);
		/* The remote end by its name, the port kept. */
		l = line_with(out, "50-web.rules:12");
		assert_non_null(strstr(l, "www.example.com:443 "));
		assert_non_null(strstr(l, "curl"));
		free(l);
		l = line_with(out, "example.net:8443");
		assert_non_null(strstr(l, m));
		assert_non_null(strstr(l, "90-vendo"));
		assert_non_null(strstr(l, "les:1234"));
		assert_non_null(strstr(l, "deny"));
		/* The exe by (part of) its name, no directories. */
		assert_non_null(strstr(l, "backu"));
		assert_null(strstr(l, "/opt/"));
		assert_non_null(strstr(l, " [live]"));
		free(l);
		/* No name: the address, cut in its middle, the port kept. */
		l = line_with(out, "sshd");
		assert_non_null(strstr(l, " in  tcp   [2001:db"));
		assert_non_null(strstr(l, m));
		assert_non_null(strstr(l, "]:40000 "));
		free(l);
		l = line_with(out, "x?]0;pwned?.example:53");
		assert_non_null(strstr(l, "red [monitor]"));
		free(l);
		l = line_with(out, "[2001:db8::1]:0");
		assert_non_null(strstr(l, "icmp6"));
		free(l);
		l = line_with(out, "hidden: no daemon");
		assert_non_null(strstr(l, "uid 1000 [hidden]"));
		free(l);
		snprintf(name, sizeof(name), "log.%s.txt.ok", locales[i]);
		golden_check("term", name, out);
		free(out);
	}
	unsetenv("LC_ALL");
}

/* `log --wide`: every value whole, the local end and packets too. */
static void
test_log_wide(void **state)
{
	char *out, *l;

	(void)state;
	out = log_out(HISTORY_WIDE);
	widest(out);
	assert_true(strncmp(out, "first seen ", 11) == 0);
	l = line_with(out, "[" V6_REMOTE "]:8443");
	assert_non_null(strstr(l, "2026-11-28T10:01:00Z out tcp"));
	assert_non_null(strstr(l, "[" V6_LOCAL "]:51234"));
	assert_non_null(strstr(l, LONG_HOST));
	assert_non_null(strstr(l, LONG_RULE));
	assert_non_null(strstr(l, "11/21"));
	assert_non_null(strstr(l, "12,345,678,901/99"));
	assert_non_null(strstr(l, LONG_EXE " (pid 4001, uid 0) [live]"));
	free(l);
	golden_check("term", "log.wide.txt.ok", out);
	free(out);
}

static json_t *
load_json(const char *name)
{
	char *text = golden_load("term", name, NULL);
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	if (j == NULL)
		fail_msg("%s:%d: %s", name, je.line, je.text);
	free(text);
	return j;
}

static char *
conns_out(json_t *arr, bool wide)
{
	char *out = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&out, &len);

	assert_int_equal(conns_print_text(arr, wide, mf), 0);
	fclose(mf);
	return out;
}

/* `conns`: the same care, from the daemon's answer. */
static void
test_conns_text(void **state)
{
	json_t *r = load_json("conns.json");
	json_t *arr = json_object_get(r, "conns");
	char *out, *l, name[64];
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		setenv("LC_ALL", locales[i], 1);
		out = conns_out(arr, false);
		assert_true(widest(out) <= 100);
		assert_int_equal(lines(out), json_array_size(arr) + 1);
		assert_true(strncmp(out, "dir proto local ", 16) == 0);
		l = line_with(out, "50-web.rules:12");
		assert_non_null(strstr(l, " 192.0.2.10:50000 "));
		assert_non_null(strstr(l, " www.example.com:443 "));
		free(l);
		l = line_with(out, "example.net:8443");
		assert_non_null(strstr(l, " [20"));
		assert_non_null(strstr(l, "]:51234 "));
		assert_non_null(strstr(l, "les:1234"));
		free(l);
		l = line_with(out, "sshd");
		assert_non_null(strstr(l, "]:22 "));
		assert_non_null(strstr(l, "]:40000 "));
		free(l);
		l = line_with(out, "x?]0;pwned?.example:53");
		assert_non_null(strstr(l, "red [monitor]"));
		free(l);
		l = line_with(out, "pending");
		assert_non_null(strstr(l, "uid 1000"));
		free(l);
		snprintf(name, sizeof(name), "conns.%s.txt.ok", locales[i]);
		golden_check("term", name, out);
		free(out);
	}
	unsetenv("LC_ALL");
	out = conns_out(arr, true);
	widest(out);
	l = line_with(out, "[" V6_REMOTE "]:8443");
	assert_non_null(strstr(l, "[" V6_LOCAL "]:51234"));
	assert_non_null(strstr(l, LONG_HOST));
	assert_non_null(strstr(l, LONG_RULE));
	assert_non_null(strstr(l, "9,000,000/12"));
	assert_non_null(strstr(l, LONG_EXE " (pid 4001, uid 0)"));
	free(l);
	golden_check("term", "conns.wide.txt.ok", out);
	free(out);
	json_decref(r);
}

static char *
status_out(json_t *r)
{
	char *out = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&out, &len);

	assert_int_equal(status_print_text(r, mf), 0);
	fclose(mf);
	return out;
}

/* The headings of status, in order (lines that start with a letter after
 * the first blank line). */
static void
headings(const char *out, char *buf, size_t len)
{
	const char *p = strstr(out, "\n\n");
	size_t n = 0;

	buf[0] = '\0';
	for (p = p != NULL ? p + 2 : out; *p != '\0';) {
		const char *e = strchr(p, '\n');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l > 0 && *p != ' ' && n + l + 2 < len) {
			memcpy(buf + n, p, l);
			n += l;
			buf[n++] = ',';
			buf[n] = '\0';
		}
		p += l + (e != NULL);
	}
}

/* `status`: what needs attention first, then the counters under headings,
 * every line in 100 columns; nothing wrong is one line that says so. */
static void
test_status_text(void **state)
{
	json_t *r = load_json("status.json");
	json_t *c = json_object_get(r, "counters");
	char *out, *att, *l, h[512];

	(void)state;
	out = status_out(r);
	assert_true(widest(out) <= 100);
	headings(out, h, sizeof(h));
	assert_string_equal(h, "attention,divert,flows,names,attribution: "
	                       "bpf (cgroup sock_create),store,rules,"
	                       "steering,other,");
	/* The attention block: the drops and the timeouts, worst first. */
	att = strstr(out, "\nattention\n");
	assert_non_null(att);
	l = line_with(att, "queue_dropped");
	assert_non_null(strstr(l, "1,234"));
	assert_non_null(strstr(l, "a queue was full"));
	free(l);
	assert_true(strstr(att, "queue_dropped") <
	            strstr(att, "attrib_timeouts"));
	assert_true(strstr(att, "attrib_timeouts") < strstr(att, "\ndivert\n"));
	/* The steering, not in place in one hook of four. */
	assert_non_null(strstr(out, "\nstate running, steering NOT in place: "
	                            "3 of 4 hooks"));
	l = line_with(att, "  steering ");
	assert_non_null(l);
	assert_non_null(strstr(l, " 1  hooks without spackle's jump first"));
	free(l);
	assert_null(strstr(out, "nothing needs attention"));
	/* Counters with separators, right-aligned, under their heading. */
	assert_non_null(strstr(out, "  received                  48,213,907"));
	assert_true(strstr(out, "\nstore\n") < strstr(out, "store_map_used"));
	assert_non_null(strstr(out, "store_map_used               270 MiB"));
	l = line_with(out, "store_last_commit ");
	assert_non_null(strstr(l, " 2 s ago"));
	free(l);
	assert_non_null(strstr(out, "\nattribution: bpf (cgroup sock_create)\n"
	                            "  timeout 250 ms; 212 processes, 1,800 "
	                            "sockets known\n"));
	assert_non_null(strstr(out, "last audit 16 min 40 s ago: 0 hidden"));
	/* A counter this version does not know is still shown. */
	assert_true(strstr(out, "\nother\n") < strstr(out, "web_requests"));
	golden_check("term", "status.txt.ok", out);
	free(out);

	/* Nothing wrong: one line says so, first. */
	json_object_set_new(c, "queue_dropped", json_integer(0));
	json_object_set_new(c, "attrib_timeouts", json_integer(0));
	json_object_set_new(json_object_get(r, "steering"), "in_place",
	                    json_true());
	json_object_set_new(json_object_get(r, "steering"), "hooks_in_place",
	                    json_integer(4));
	out = status_out(r);
	assert_non_null(strstr(out, "\nstate running, steering in place in "
	                            "all 4 hooks, checked 412 ms ago\n"));
	headings(out, h, sizeof(h));
	assert_true(strncmp(h, "nothing needs attention,divert,", 31) == 0);
	free(out);

	/* Tamper and the audit's holes. */
	json_object_set_new(c, "tamper_events", json_integer(2));
	json_object_set_new(json_object_get(r, "audit"), "holes", json_true());
	out = status_out(r);
	att = strstr(out, "\nattention\n");
	assert_non_null(att);
	assert_true(strstr(att, "tamper_events") < strstr(att, "audit holes"));
	assert_true(strstr(att, "audit holes") < strstr(att, "\ndivert\n"));
	free(out);
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_log_json_csv_unchanged),
	        cmocka_unit_test(test_fit),
	        cmocka_unit_test(test_log_text),
	        cmocka_unit_test(test_log_wide),
	        cmocka_unit_test(test_conns_text),
	        cmocka_unit_test(test_status_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

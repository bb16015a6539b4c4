/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle log`, `top` and `rules suggest` over a store written here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "spackle/flow.h"
#include "spackle/history.h"
#include "spackle/rules.h"
#include "spackle/store.h"

#define NS_PER_S ((uint64_t)1000000000)
#define T0       ((uint64_t)1795860000 * NS_PER_S) /* 2026-11-28T10:00Z */

static char tmpdir[64];
static char dbdir[128];

/* The history: one line per flow. */
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
	unsigned minute; /* first seen T0 + minute, for 30 s */
};

#define U   FLOW_UID_UNKNOWN
#define A   SP_VERDICT_ALLOW
#define D   SP_VERDICT_DENY
#define OUT SP_DIR_OUT
#define IN  SP_DIR_IN
#define TCP SP_PROTO_TCP
#define UDP SP_PROTO_UDP

static const struct spec flows[] = {
        /* 0 */ {"/usr/bin/curl", 1000, OUT, TCP, "192.0.2.10", "203.0.113.1",
                 50000, 443, "www.example.com", A, "r.rules:1", 0, 0},
        /* 1 */
        {"/usr/bin/curl", 1000, OUT, TCP, "192.0.2.10", "203.0.113.2", 50001,
         443, "api.example.com", A, "default", 0, 1},
        /* 2 */
        {"/usr/bin/curl", 1000, OUT, TCP, "192.0.2.10", "203.0.113.1", 50002,
         80, "www.example.com", A, "default", 0, 2},
        /* 3 */
        {"/usr/bin/firefox", 1000, OUT, TCP, "192.0.2.10", "198.51.100.9",
         50003, 443, "www.bbc.co.uk", D, "r.rules:2", 0, 3},
        /* 4 */
        {"/usr/bin/firefox", 1000, OUT, UDP, "192.0.2.10", "198.51.100.1",
         50004, 53, NULL, A, "default", STORE_FLOW_MONITOR, 4},
        /* 5 */
        {"/usr/sbin/sshd", 0, IN, TCP, "192.0.2.10", "203.0.113.9", 22, 40000,
         NULL, A, "default", 0, 5},
        /* 6 */
        {NULL, 1000, OUT, TCP, "192.0.2.10", "198.51.100.20", 50006, 443,
         "ads.doubleclick.net", D, "default", 0, 6},
        /* 7 */
        {NULL, U, OUT, SP_PROTO_ICMP, "192.0.2.10", "192.0.2.1", 0, 0, NULL, A,
         "default", 0, 7},
        /* 8 */
        {"/usr/bin/hidden", 1000, OUT, TCP, "192.0.2.10", "192.0.2.99", 50008,
         443, NULL, A, "default", STORE_FLOW_HIDDEN, 8},
        /* 9 */
        {"/opt/we\"ird/app", 1000, OUT, TCP, "192.0.2.10", "192.0.2.77", 50009,
         8080, "X.io", A, "default", 0, 9},
        /* 10 */
        {"/usr/bin/curl", 1000, OUT, TCP, "2001:db8:1::10", "2001:db8::1",
         50010, 443, NULL, A, "default", 0, 10},
};
#define NFLOWS        (sizeof(flows) / sizeof(flows[0]))
#define SCANNER_PORTS 20 /* flows 11..30: one process, many ports */
#define NALL          (NFLOWS + SCANNER_PORTS)

static void
spec_flow(unsigned i, struct store_flow *r)
{
	const struct spec *s;

	memset(r, 0, sizeof(*r));
	if (i >= NFLOWS) {
		static const struct spec scan = {
		        "/usr/bin/scanner", 0,     OUT, TCP,  "192.0.2.10",
		        "192.0.2.50",       51000, 1,   NULL, A,
		        "default",          0,     20};
		s = &scan;
		r->remote_port = (uint16_t)(1000 + 2 * (i - NFLOWS));
	} else {
		s = &flows[i];
		r->remote_port = s->rport;
	}
	r->id = T0 + i;
	r->first_ns = T0 + (uint64_t)s->minute * 60 * NS_PER_S;
	r->last_ns = r->first_ns + 30 * NS_PER_S;
	sp_addr_parse(&r->local, s->local);
	sp_addr_parse(&r->remote, s->remote);
	r->local_port = s->lport;
	r->proto = s->proto;
	r->dir = s->dir;
	r->verdict = s->verdict;
	r->flags = s->flags | STORE_FLOW_ENDED;
	r->pid = s->exe ? (int32_t)(100 + i) : -1;
	r->uid = s->uid;
	r->exe = s->exe;
	r->host = s->host;
	r->rule = s->rule;
	r->packets_out = i + 1;
	r->packets_in = 2 * (i + 1);
	r->bytes_out = 100 * (i + 1);
	r->bytes_in = 1000 * (i + 1);
}

static int
setup(void **state)
{
	struct store_config cfg = {0};
	struct store_flow r;
	struct store *s;
	char err[512];
	unsigned i;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/spackle-history-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dbdir, sizeof(dbdir), "%s/db", tmpdir);
	cfg.path = dbdir;
	if (store_open(&s, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (i = 0; i < NALL; i++) {
		spec_flow(i, &r);
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

static struct store_reader *
reader(void)
{
	struct store_reader *r;
	char err[512];

	if (store_reader_open(&r, dbdir, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return r;
}

/* ---- times and names ------------------------------------------------------
 */

static void
test_parse_time(void **state)
{
	uint64_t now = T0 + 12345, t;
	static const char *const bad[] = {
	        "",
	        "x",
	        "2026-13-01",
	        "2026-02-29",
	        "2026-11-31",
	        "2026-11-28T",
	        "2026-11-28T25:00",
	        "2026-11-28T10:00:00Q",
	        "10x",
	        "1h30m",
	        "-1h",
	        "@",
	        "@12a",
	        "1969-12-31",
	        "2026-11-28T10:00:00.",
	        "2026-1-01",
	        "h",
	};
	size_t i;

	(void)state;
	assert_int_equal(history_parse_time("2026-11-28T10:00:00Z", now, &t),
	                 0);
	assert_int_equal(t, T0);
	assert_int_equal(history_parse_time("2026-11-28", now, &t), 0);
	assert_int_equal(t, T0 - 10 * 3600 * NS_PER_S);
	assert_int_equal(history_parse_time("2026-11-28 10:00", now, &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(history_parse_time("2026-11-28T10:00:00", now, &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(
	        history_parse_time("2026-11-28T11:30:00+01:30", now, &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(history_parse_time("2026-11-28T08:30-0130", now, &t),
	                 0);
	assert_int_equal(t, T0);
	assert_int_equal(history_parse_time("2026-11-28T10:00:00.25Z", now, &t),
	                 0);
	assert_int_equal(t, T0 + NS_PER_S / 4);
	assert_int_equal(history_parse_time("2024-02-29", now, &t), 0);
	assert_int_equal(t, (uint64_t)1709164800 * NS_PER_S);
	assert_int_equal(history_parse_time("30s", now, &t), 0);
	assert_int_equal(t, now - 30 * NS_PER_S);
	assert_int_equal(history_parse_time("15m", now, &t), 0);
	assert_int_equal(t, now - 15 * 60 * NS_PER_S);
	assert_int_equal(history_parse_time("1h", now, &t), 0);
	assert_int_equal(t, now - 3600 * NS_PER_S);
	assert_int_equal(history_parse_time("2d", now, &t), 0);
	assert_int_equal(t, now - 2 * 86400 * NS_PER_S);
	assert_int_equal(history_parse_time("1w", now, &t), 0);
	assert_int_equal(t, now - 7 * 86400 * NS_PER_S);
	assert_int_equal(history_parse_time("now", now, &t), 0);
	assert_int_equal(t, now);
	assert_int_equal(history_parse_time("@1795860000", now, &t), 0);
	assert_int_equal(t, T0);
	/* Further back than the epoch: the beginning. */
	assert_int_equal(history_parse_time("100000d", now, &t), 0);
	assert_int_equal(t, 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (history_parse_time(bad[i], now, &t) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
}

static void
test_format_time(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(history_format_time(T0, b, sizeof(b)),
	                    "2026-11-28T10:00:00Z");
	assert_string_equal(history_format_time(0, b, sizeof(b)), "-");
}

static void
test_domain(void **state)
{
	static const char *const cases[][2] = {
	        {"www.bbc.co.uk", "bbc.co.uk"},
	        {"bbc.co.uk", "bbc.co.uk"},
	        {"co.uk", "co.uk"},
	        {"a.b.example.com", "example.com"},
	        {"example.com", "example.com"},
	        {"localhost", "localhost"},
	        {"x.bit.ly", "bit.ly"},
	        {"WWW.Example.COM.", "example.com"},
	        {"a.b.com.au", "b.com.au"},
	        {"deep.a.b.gov.br", "b.gov.br"},
	        {"mail.example.co", "example.co"},
	        {"_dmarc.example.org", "example.org"},
	        {"1.2.3.4", NULL},
	        {"bad name", NULL},
	        {"a..b", NULL},
	        {"", NULL},
	        {"*.example.com", NULL},
	};
	char buf[300];
	const char *d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = history_domain(cases[i][0], buf, sizeof(buf));
		if (cases[i][1] == NULL)
			assert_null(d);
		else if (d == NULL || strcmp(d, cases[i][1]) != 0)
			fail_msg("%s -> %s, not %s", cases[i][0],
			         d ? d : "NULL", cases[i][1]);
	}
	assert_null(history_domain(NULL, buf, sizeof(buf)));
}

/* ---- log ------------------------------------------------------------------
 */

/* Run history_log; the ids printed (JSON lines) into ids[]. */
static long
log_ids(struct history_filter *f, size_t limit, uint64_t *ids, size_t max)
{
	struct store_reader *r = reader();
	char *out = NULL, *line, *save = NULL;
	size_t len = 0, n = 0;
	FILE *mf = open_memstream(&out, &len);
	json_error_t je;
	long rc;

	assert_true(history_filter_prepare(f, stderr));
	rc = history_log(r, f, limit, HISTORY_JSON, mf);
	fclose(mf);
	store_reader_close(r);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, &je);

		if (o == NULL)
			fail_msg("not JSON: %s", line);
		if (n < max)
			ids[n] = (uint64_t)json_integer_value(
			        json_object_get(o, "id"));
		n++;
		json_decref(o);
	}
	free(out);
	assert_int_equal(n, (size_t)rc);
	return rc;
}

static void
test_log_filters(void **state)
{
	struct history_filter f;
	uint64_t ids[64];

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(log_ids(&f, 0, ids, 64), NALL);
	assert_int_equal(ids[0], T0);
	assert_int_equal(ids[NALL - 1], T0 + NALL - 1);

	/* --process: a glob on the path; without '/', on the name too. */
	f.process = "/usr/bin/curl";
	assert_int_equal(log_ids(&f, 0, ids, 64), 4);
	f.process = "curl";
	assert_int_equal(log_ids(&f, 0, ids, 64), 4);
	f.process = "*fire*";
	assert_int_equal(log_ids(&f, 0, ids, 64), 2);
	f.process = "/usr/*/s?anner";
	assert_int_equal(log_ids(&f, 0, ids, 64), SCANNER_PORTS);
	f.process = NULL;

	/* --host: the name and the names under it; or an address/CIDR. */
	f.host = "example.com";
	assert_int_equal(log_ids(&f, 0, ids, 64), 3);
	f.host = "www.example.com";
	assert_int_equal(log_ids(&f, 0, ids, 64), 2);
	f.host = "ample.com";
	assert_int_equal(log_ids(&f, 0, ids, 64), 0);
	f.host = "198.51.100.0/24";
	assert_int_equal(log_ids(&f, 0, ids, 64), 3);
	f.host = "2001:db8::1";
	assert_int_equal(log_ids(&f, 0, ids, 64), 1);
	assert_int_equal(ids[0], T0 + 10);
	f.host = NULL;

	f.verdict = SP_VERDICT_DENY;
	assert_int_equal(log_ids(&f, 0, ids, 64), 2);
	assert_int_equal(ids[0], T0 + 3);
	assert_int_equal(ids[1], T0 + 6);
	f.verdict = SP_VERDICT_NONE;

	/* --since: alive at or after (last seen); --until: first seen by. */
	f.since_ns = T0 + 9 * 60 * NS_PER_S + 30 * NS_PER_S;
	assert_int_equal(log_ids(&f, 0, ids, 64), 1 + 1 + SCANNER_PORTS);
	f.since_ns = 0;
	f.until_ns = T0 + 2 * 60 * NS_PER_S;
	assert_int_equal(log_ids(&f, 0, ids, 64), 3);
	f.since_ns = T0 + 60 * NS_PER_S;
	assert_int_equal(log_ids(&f, 0, ids, 64), 2);
	assert_int_equal(ids[0], T0 + 1);
	f.since_ns = f.until_ns + 1;
	assert_false(history_filter_prepare(&f, stderr));

	/* --limit: the latest N, oldest first. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(log_ids(&f, 3, ids, 64), 3);
	assert_int_equal(ids[0], T0 + NALL - 3);
	assert_int_equal(ids[2], T0 + NALL - 1);
	f.process = "curl";
	assert_int_equal(log_ids(&f, 2, ids, 64), 2);
	assert_int_equal(ids[0], T0 + 2);
	assert_int_equal(ids[1], T0 + 10);
	assert_int_equal(log_ids(&f, 100, ids, 64), 4);
}

static char *
log_text(enum history_format fmt, struct history_filter *f)
{
	struct store_reader *r = reader();
	char *out = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&out, &len);

	assert_true(history_filter_prepare(f, stderr));
	assert_true(history_log(r, f, 0, fmt, mf) >= 0);
	fclose(mf);
	store_reader_close(r);
	return out;
}

static void
test_log_formats(void **state)
{
	struct history_filter f;
	char *out;
	json_t *o;
	json_error_t je;

	(void)state;
	memset(&f, 0, sizeof(f));
	/* Every field of `conns`, in JSON. */
	f.process = "/usr/bin/curl";
	f.host = "api.example.com";
	out = log_text(HISTORY_JSON, &f);
	o = json_loads(out, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "proto")),
	                    "tcp");
	assert_string_equal(json_string_value(json_object_get(o, "src")),
	                    "192.0.2.10");
	assert_int_equal(json_integer_value(json_object_get(o, "sport")),
	                 50001);
	assert_string_equal(json_string_value(json_object_get(o, "dst")),
	                    "203.0.113.2");
	assert_int_equal(json_integer_value(json_object_get(o, "dport")), 443);
	assert_string_equal(json_string_value(json_object_get(o, "dir")),
	                    "out");
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), 101);
	assert_string_equal(json_string_value(json_object_get(o, "exe")),
	                    "/usr/bin/curl");
	assert_int_equal(json_integer_value(json_object_get(o, "uid")), 1000);
	assert_string_equal(json_string_value(json_object_get(o, "host")),
	                    "api.example.com");
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
	                    "allow");
	assert_string_equal(json_string_value(json_object_get(o, "rule")),
	                    "default");
	assert_int_equal(json_integer_value(json_object_get(o, "packets_out")),
	                 2);
	assert_int_equal(json_integer_value(json_object_get(o, "packets_in")),
	                 4);
	assert_int_equal(json_integer_value(json_object_get(o, "bytes_out")),
	                 200);
	assert_int_equal(json_integer_value(json_object_get(o, "bytes_in")),
	                 2000);
	assert_int_equal(json_integer_value(json_object_get(o, "first_ns")),
	                 T0 + 60 * NS_PER_S);
	assert_string_equal(json_string_value(json_object_get(o, "first")),
	                    "2026-11-28T10:01:00Z");
	assert_true(json_is_true(json_object_get(o, "ended")));
	assert_true(json_is_false(json_object_get(o, "monitor")));
	json_decref(o);
	free(out);

	/* Unknowns are null. */
	memset(&f, 0, sizeof(f));
	f.host = "192.0.2.1";
	out = log_text(HISTORY_JSON, &f);
	o = json_loads(out, 0, &je);
	assert_non_null(o);
	assert_true(json_is_null(json_object_get(o, "exe")));
	assert_true(json_is_null(json_object_get(o, "pid")));
	assert_true(json_is_null(json_object_get(o, "uid")));
	assert_true(json_is_null(json_object_get(o, "host")));
	assert_string_equal(json_string_value(json_object_get(o, "proto")),
	                    "icmp");
	json_decref(o);
	free(out);

	/* CSV: a header, quotes doubled inside quoted fields. */
	memset(&f, 0, sizeof(f));
	f.process = "*app";
	out = log_text(HISTORY_CSV, &f);
	assert_true(strncmp(out, "first,last,id,proto,src,sport,", 30) == 0);
	assert_non_null(strstr(out, ",\"/opt/we\"\"ird/app\",1000,X.io,"
	                            "allow,default,false,true,10,20,1000,"
	                            "10000,1\n"));
	free(out);

	/* Text: a header and a line per flow (the layout: test_term.c). */
	memset(&f, 0, sizeof(f));
	f.process = "sshd";
	out = log_text(HISTORY_TEXT, &f);
	assert_non_null(strstr(out, "first (UTC)"));
	assert_non_null(strstr(out, "11-28 10:05:00 in  tcp   "
	                            "203.0.113.9:40000 "));
	assert_non_null(strstr(out, " /usr/sbin/sshd\n"));
	free(out);
	/* Wide: the year, the local end, the pid and uid too. */
	out = log_text(HISTORY_WIDE, &f);
	assert_non_null(strstr(out, "first seen"));
	assert_non_null(strstr(out, "2026-11-28T10:05:00Z in  tcp   "
	                            "192.0.2.10:22 203.0.113.9:40000 "));
	assert_non_null(strstr(out, "/usr/sbin/sshd (pid 105, uid 0)"));
	free(out);
	memset(&f, 0, sizeof(f));
	f.host = "2001:db8::1";
	out = log_text(HISTORY_TEXT, &f);
	assert_non_null(strstr(out, " [2001:db8::1]:443 "));
	free(out);
}

/* ---- top ------------------------------------------------------------------
 */

static json_t *
top_json(enum history_by by, struct history_filter *f)
{
	struct store_reader *r = reader();
	char *out = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&out, &len);
	json_error_t je;
	json_t *j;

	assert_true(history_filter_prepare(f, stderr));
	assert_true(history_top(r, f, by, true, mf) > 0);
	fclose(mf);
	store_reader_close(r);
	j = json_loads(out, 0, &je);
	assert_non_null(j);
	free(out);
	return j;
}

static json_t *
top_row(json_t *arr, const char *field, const char *key)
{
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o)
	{
		if (strcmp(json_string_value(json_object_get(o, field)), key) ==
		    0)
			return o;
	}
	fail_msg("no row %s", key);
	return NULL;
}

static void
test_top(void **state)
{
	struct history_filter f;
	json_t *j, *o;
	struct store_reader *r;
	char *out = NULL;
	size_t len = 0;
	FILE *mf;

	(void)state;
	memset(&f, 0, sizeof(f));
	j = top_json(HISTORY_BY_PROCESS, &f);
	/* curl: flows 0, 1, 2 and 10. */
	o = top_row(j, "process", "/usr/bin/curl");
	assert_int_equal(json_integer_value(json_object_get(o, "flows")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "allow")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "packets_out")),
	                 1 + 2 + 3 + 11);
	assert_int_equal(json_integer_value(json_object_get(o, "bytes_in")),
	                 1000 * (1 + 2 + 3 + 11));
	o = top_row(j, "process", "/usr/bin/firefox");
	assert_int_equal(json_integer_value(json_object_get(o, "deny")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "allow")), 1);
	o = top_row(j, "process", "(unknown process, uid 1000)");
	assert_int_equal(json_integer_value(json_object_get(o, "flows")), 1);
	/* Sorted by bytes, most first: the scanner's 20 flows lead. */
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(j, 0), "process")),
	                    "/usr/bin/scanner");
	json_decref(j);

	j = top_json(HISTORY_BY_HOST, &f);
	o = top_row(j, "host", "www.example.com");
	assert_int_equal(json_integer_value(json_object_get(o, "flows")), 2);
	o = top_row(j, "host", "192.0.2.50");
	assert_int_equal(json_integer_value(json_object_get(o, "flows")),
	                 SCANNER_PORTS);
	json_decref(j);

	f.since_ns = T0 + 3 * 60 * NS_PER_S;
	f.until_ns = T0 + 4 * 60 * NS_PER_S;
	j = top_json(HISTORY_BY_RULE, &f);
	assert_int_equal(json_array_size(j), 2);
	o = top_row(j, "rule", "r.rules:2");
	assert_int_equal(json_integer_value(json_object_get(o, "flows")), 1);
	json_decref(j);

	/* The table has a header and a row per key. */
	memset(&f, 0, sizeof(f));
	r = reader();
	mf = open_memstream(&out, &len);
	assert_int_equal(history_top(r, &f, HISTORY_BY_RULE, false, mf), 3);
	fclose(mf);
	store_reader_close(r);
	assert_true(strncmp(out, "rule ", 5) == 0);
	assert_non_null(strstr(out, "\ndefault "));
	free(out);
}

/* ---- suggest --------------------------------------------------------------
 */

static char *
suggest(struct history_filter *f)
{
	struct store_reader *r = reader();
	char *out = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&out, &len);

	assert_true(history_filter_prepare(f, stderr));
	assert_true(history_suggest(r, f, mf) > 0);
	fclose(mf);
	store_reader_close(r);
	return out;
}

static void
test_suggest(void **state)
{
	static const char *const expect[] = {
	        "allow out process \"/opt/we\\\"ird/app\" proto tcp to domain "
	        "x.io port 8080\n",
	        "# 3 flows: www.example.com api.example.com\n"
	        "allow out process \"/usr/bin/curl\" proto tcp to domain "
	        "example.com port { 80, 443 }\n",
	        "allow out process \"/usr/bin/curl\" proto tcp to 2001:db8::1 "
	        "port 443\n",
	        "allow out process \"/usr/bin/firefox\" proto udp to "
	        "198.51.100.1 port 53\n",
	        "# 20 flows (more than 16 ports: any port)\n"
	        "allow out process \"/usr/bin/scanner\" proto tcp to "
	        "192.0.2.50\n",
	        "allow in process \"/usr/sbin/sshd\" proto tcp port 22\n",
	        "# user 1000 (process unknown): 1 flow\n"
	        "# 1 flow: ads.doubleclick.net\n"
	        "allow out user 1000 proto tcp to domain doubleclick.net port "
	        "443\n",
	        "# unknown process and user: 1 flow\n"
	        "# 1 flow\n"
	        "allow out proto icmp to 192.0.2.1\n",
	        "# /usr/bin/curl: 4 flows\n",
	        "# Left out: 1 flow denied or rejected by a rule, 1 hidden.\n",
	};
	struct history_filter f;
	struct ruleset *rs = rules_new();
	struct rules_diags d = {0};
	struct rules_query q;
	struct rules_result res;
	struct store_flow r;
	const char *names[1];
	char *out, path[256], cmd[512];
	const char *bin = getenv("SPACKLE_BIN");
	size_t i;
	FILE *fp;

	(void)state;
	memset(&f, 0, sizeof(f));
	out = suggest(&f);
	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		if (strstr(out, expect[i]) == NULL)
			fail_msg("missing:\n%s\nin:\n%s", expect[i], out);
	/* What it prints is a valid rule file... */
	if (rules_load_buffer(rs, "suggest.rules", out, strlen(out), &d) != 0 ||
	    d.errors > 0 || rules_compile(rs, &d) != 0 || d.errors > 0) {
		rules_diags_print(stderr, &d);
		fail_msg("suggest output does not parse:\n%s", out);
	}
	assert_int_equal(d.warnings, 0);
	assert_int_equal(rules_count(rs), 8);
	/* ...under which every flow it covers is allowed with default deny. */
	for (i = 0; i < NALL; i++) {
		spec_flow((unsigned)i, &r);
		if (i == 3 || i == 8) /* denied by a rule; hidden */
			continue;
		memset(&q, 0, sizeof(q));
		memset(&res, 0, sizeof(res));
		q.dir = (enum sp_dir)r.dir;
		q.proto = r.proto;
		q.remote = r.remote;
		q.remote_port = r.remote_port;
		q.local_port = r.local_port;
		names[0] = r.host;
		q.names = names;
		q.nnames = r.host ? 1 : 0;
		q.exe = r.exe;
		q.uid = r.uid;
		if (rules_match(rs, &q, SP_VERDICT_DENY, &res) !=
		    SP_VERDICT_ALLOW)
			fail_msg("flow %zu is not allowed by:\n%s", i, out);
	}
	/* ...and `spackle rules check` says so too. */
	snprintf(path, sizeof(path), "%s/suggest.rules", tmpdir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(out, fp);
	fclose(fp);
	if (bin != NULL && access(bin, X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "%s rules check %s > /dev/null", bin,
		         path);
		assert_int_equal(system(cmd), 0);
	}
	free(out);
	rules_diags_free(&d);
	rules_free(rs);

	/* --since narrows it. */
	f.since_ns = T0 + 9 * 60 * NS_PER_S;
	out = suggest(&f);
	assert_non_null(strstr(out, "# spackle rules suggest: 3 rules for 22 "
	                            "flows"));
	assert_null(strstr(out, "firefox"));
	free(out);
}

/* ---- the commands, end to end ---------------------------------------------
 */

/* Run fn(argv) in a child with stdout to a file; its exit status, and its
 * output in *out. */
static int
run_cmd(int (*fn)(int, char **), char **argv, char **out)
{
	char path[256];
	int argc = 0, status, fd;
	pid_t pid;
	FILE *f;
	long n;

	while (argv[argc] != NULL)
		argc++;
	snprintf(path, sizeof(path), "%s/out.txt", tmpdir);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 2);
		_exit(fn(argc, argv));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*out = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void
test_commands(void **state)
{
	char conf[256], *out;
	FILE *f;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/spackle.conf", tmpdir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "db = %s\n", dbdir);
	fclose(f);
	{
		char *argv[] = {"log",    "-c",      conf, "--process", "curl",
		                "--json", "--limit", "1",  NULL};

		assert_int_equal(run_cmd(cmd_log, argv, &out), 0);
		assert_non_null(strstr(out, "\"dst\":\"2001:db8::1\""));
		/* One line: the latest curl flow. */
		assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
		free(out);
	}
	{
		char *argv[] = {"log",
		                "--db",
		                dbdir,
		                "--since",
		                "2026-11-28T10:10:31Z",
		                "--csv",
		                NULL};

		assert_int_equal(run_cmd(cmd_log, argv, &out), 0);
		assert_non_null(strstr(out, "/usr/bin/scanner"));
		assert_null(strstr(out, "curl"));
		free(out);
	}
	{
		char *argv[] = {"top", "-c", conf, "--by", "host", NULL};

		assert_int_equal(run_cmd(cmd_top, argv, &out), 0);
		assert_non_null(strstr(out, "www.example.com"));
		free(out);
	}
	{
		char *argv[] = {"suggest", "-c",         conf,
		                "--since", "2026-11-28", NULL};

		assert_int_equal(run_cmd(cmd_rules_suggest, argv, &out), 0);
		assert_non_null(strstr(out, "allow in process"));
		free(out);
	}
	/* Usage errors exit 2. */
	{
		char *argv[] = {"log",     "-c",        conf,
		                "--since", "yesterday", NULL};

		assert_int_equal(run_cmd(cmd_log, argv, &out), 2);
		free(out);
	}
	{
		char *argv[] = {"top", "-c", conf, "--csv", NULL};

		assert_int_equal(run_cmd(cmd_top, argv, &out), 2);
		free(out);
	}
	{
		char *argv[] = {"log", "--db", "/nonexistent/db", NULL};

		assert_int_equal(run_cmd(cmd_log, argv, &out), 2);
		free(out);
	}
	{
		char *argv[] = {"top", "-c", conf, "--by", "colour", NULL};

		assert_int_equal(run_cmd(cmd_top, argv, &out), 2);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_time),
	        cmocka_unit_test(test_format_time),
	        cmocka_unit_test(test_domain),
	        cmocka_unit_test(test_log_filters),
	        cmocka_unit_test(test_log_formats),
	        cmocka_unit_test(test_top),
	        cmocka_unit_test(test_suggest),
	        cmocka_unit_test(test_commands),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

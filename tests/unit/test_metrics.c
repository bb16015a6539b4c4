/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus text from a status object; the decision log's lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spackle/declog.h"
#include "daemon/metrics.h"

static const char status_text[] =
        "{\"version\":\"0.1.0\",\"mode\":\"enforce\",\"divert\":\"flow\","
        "\"uptime\":42,\"rules_loaded\":7,"
        "\"counters\":{\"accepted\":120,\"dropped\":3,\"rejected\":2,"
        "\"received\":125,\"flows_live\":9,\"queue_dropped\":4,"
        "\"enobufs\":1,\"store_lost\":5,\"tamper_events\":6,"
        "\"decisions\":11},"
        "\"steering\":{\"in_place\":false,\"hooks\":4,\"hooks_in_place\":3},"
        "\"audit\":{\"hidden\":2,\"holes\":true,\"at_ns\":1796000000123456789}"
        "}";

/* The value of the sample line that starts with `name `, -1 if none. */
static long long
sample(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p = text;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

static void
test_render(void **state)
{
	json_error_t je;
	json_t *st = json_loads(status_text, 0, &je);
	char *text;
	const char *line;
	unsigned types = 0;

	(void)state;
	assert_non_null(st);
	text = metrics_render(st);
	assert_non_null(text);
	assert_int_equal(
	        sample(text, "spackle_packets_total{verdict=\"allow\"}"), 120);
	assert_int_equal(
	        sample(text, "spackle_packets_total{verdict=\"deny\"}"), 3);
	assert_int_equal(
	        sample(text, "spackle_packets_total{verdict=\"reject\"}"), 2);
	assert_int_equal(sample(text, "spackle_flows_live"), 9);
	assert_int_equal(sample(text, "spackle_queue_drops_total"), 4);
	assert_int_equal(sample(text, "spackle_socket_drops_total"), 1);
	assert_int_equal(sample(text, "spackle_store_lost_records_total"), 5);
	assert_int_equal(sample(text, "spackle_tamper_events_total"), 6);
	assert_int_equal(sample(text, "spackle_audit_hidden_flows"), 2);
	assert_int_equal(sample(text, "spackle_audit_holes"), 1);
	assert_int_equal(sample(text, "spackle_steering_in_place"), 0);
	assert_int_equal(sample(text, "spackle_audit_timestamp_seconds"),
	                 1796000000);
	assert_int_equal(sample(text, "spackle_uptime_seconds"), 42);
	assert_non_null(strstr(text, "spackle_info{version=\"0.1.0\",mode="
	                             "\"enforce\",divert=\"flow\"} 1\n"));
	assert_non_null(strstr(text, "# TYPE spackle_flows_live gauge\n"));
	assert_non_null(
	        strstr(text, "# TYPE spackle_queue_drops_total counter\n"));
	/* A counter the status lacks is left out, not shown as 0. */
	assert_int_equal(sample(text, "spackle_store_errors_total"), -1);
	assert_null(strstr(text, "spackle_store_errors_total"));
	/* Every family: its HELP line, then its TYPE line. */
	for (line = strstr(text, "\n# TYPE "); line != NULL;
	     line = strstr(line + 1, "\n# TYPE ")) {
		const char *name = line + 8, *prev = line - 1;
		size_t n = strcspn(name, " ");

		while (prev > text && prev[-1] != '\n')
			prev--;
		assert_memory_equal(prev, "# HELP ", 7);
		assert_memory_equal(prev + 7, name, n);
		assert_int_equal(prev[7 + n], ' ');
		types++;
	}
	assert_true(types >= 10);
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	json_decref(st);
}

/* Label values are escaped: a version string with a quote or a newline
 * cannot break the exposition. */
static void
test_render_escapes(void **state)
{
	json_t *st =
	        json_pack("{s:s,s:s,s:s,s:{}}", "version", "1\"x\\\ny", "mode",
	                  "enforce", "divert", "packet", "counters");
	char *text;

	(void)state;
	text = metrics_render(st);
	assert_non_null(text);
	assert_non_null(strstr(text, "version=\"1\\\"x\\\\\\ny\""));
	/* No audit yet: no audit samples. */
	assert_null(strstr(text, "spackle_audit_hidden_flows "));
	free(text);
	json_decref(st);
}

static void
test_declog_json(void **state)
{
	char path[] = "/tmp/spackle-declog-XXXXXX", moved[64], buf[4096],
	     err[256];
	struct declog *l;
	json_t *o = json_pack("{s:s,s:i,s:s}", "proto", "tcp", "dport", 443,
	                      "verdict", "allow");
	unsigned long long wr, lost;
	FILE *f;
	size_t n;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(
	        declog_open(&l, CONFIG_LOG_JSON, path, err, sizeof(err)), 0);
	declog_write(l, o);
	declog_write(l, o);
	/* logrotate moves the file; SIGHUP reopens: the next line is in a
	 * new file, the moved one keeps its two. */
	snprintf(moved, sizeof(moved), "%s.1", path);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(declog_reopen(l, err, sizeof(err)), 0);
	declog_write(l, o);
	declog_stats(l, &wr, &lost);
	assert_int_equal(wr, 3);
	assert_int_equal(lost, 0);
	declog_close(l);
	f = fopen(moved, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "{\"proto\":\"tcp\",\"dport\":443,\"verdict\":"
	                         "\"allow\"}\n{\"proto\":\"tcp\",\"dport\":443,"
	                         "\"verdict\":\"allow\"}\n");
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(
	        buf,
	        "{\"proto\":\"tcp\",\"dport\":443,\"verdict\":\"allow\"}\n");
	unlink(path);
	unlink(moved);
	/* A path that cannot be opened is an error that names it. */
	assert_int_equal(declog_open(&l, CONFIG_LOG_JSON,
	                             "/nonexistent-dir/d.json", err,
	                             sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "/nonexistent-dir/d.json: cannot open"));
	assert_int_equal(
	        declog_open(&l, CONFIG_LOG_NONE, NULL, err, sizeof(err)), 0);
	assert_null(l);
	json_decref(o);
}

static void
test_declog_line(void **state)
{
	json_t *o = json_pack(
	        "{s:s,s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:s,s:i,s:i,s:s,s:b,s:s}",
	        "verdict", "deny", "dir", "out", "proto", "udp", "src",
	        "2001:db8::1", "sport", 5353, "dst", "192.0.2.9", "dport", 53,
	        "host", "example.com", "exe", "/usr/bin/dig", "pid", 77, "uid",
	        1000, "rule", "/etc/spackle/rules.d/10.rules:3", "monitor", 0,
	        "event", "verdict");
	char line[512];

	(void)state;
	declog_format_line(o, line, sizeof(line));
	assert_string_equal(line,
	                    "deny out udp [2001:db8::1]:5353 -> 192.0.2.9:53 "
	                    "host example.com exe /usr/bin/dig pid 77 uid 1000 "
	                    "rule /etc/spackle/rules.d/10.rules:3 (changed by "
	                    "a reload)");
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_render),
	        cmocka_unit_test(test_render_escapes),
	        cmocka_unit_test(test_declog_json),
	        cmocka_unit_test(test_declog_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's views of the store (src/history_web.c): traffic over
 * an hour in minutes with its top talkers, blocked, hidden and tamper,
 * read through a reader attached to the open store as the daemon does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spackle/flow.h"
#include "spackle/history.h"
#include "spackle/store.h"

#define S   1000000000ull
#define MIN (60 * S)
/* now: 30 s into a minute; the hour's window is the 60 minutes ending
 * with now's. */
#define NOW  (1800000000ull * S + 30 * S)
#define TO   (1800000000ull * S + MIN)
#define FROM (TO - 60 * MIN)

static char tmpdir[64];
static struct store *st;

struct fl {
	const char *exe, *host;
	uint64_t first, last, out, in;
	uint8_t verdict;
	uint32_t flags;
};

static const struct fl fls[] = {
        /* 0: two whole minutes, 10 and 11 */
        {"/usr/bin/curl", "a.example", FROM + 10 * MIN, FROM + 12 * MIN, 1200,
         2400, SP_VERDICT_ALLOW, 0},
        /* 1: one moment in minute 30 */
        {"/usr/bin/curl", "b.example", FROM + 30 * MIN + 5 * S,
         FROM + 30 * MIN + 5 * S, 100, 0, SP_VERDICT_ALLOW, 0},
        /* 2: begun half an hour before the window: half of it counts */
        {"/usr/bin/wget", "c.example", FROM - 30 * MIN, FROM + 30 * MIN, 6000,
         0, SP_VERDICT_ALLOW, 0},
        /* 3: over before the window */
        {"/usr/bin/old", "d.example", FROM - 180 * MIN, FROM - 120 * MIN, 99999,
         0, SP_VERDICT_ALLOW, 0},
        /* 4, 5: denied, rejected */
        {"/usr/bin/nc", "evil.example", FROM + 50 * MIN, FROM + 50 * MIN, 60, 0,
         SP_VERDICT_DENY, 0},
        {"/usr/bin/nc", "<b>x</b>", FROM + 55 * MIN, FROM + 55 * MIN, 60, 0,
         SP_VERDICT_REJECT, STORE_FLOW_MONITOR},
        /* 6: hidden: seen on the wire only */
        {"/usr/bin/sneaky", NULL, FROM + 56 * MIN, FROM + 57 * MIN, 10, 10,
         SP_VERDICT_NONE, STORE_FLOW_HIDDEN},
};
#define NFL (sizeof(fls) / sizeof(fls[0]))

static int
setup(void **state)
{
	struct store_config cfg = {0};
	struct store_flow r;
	char err[512], db[128];
	unsigned i;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/spackle-hweb-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(db, sizeof(db), "%s/db", tmpdir);
	cfg.path = db;
	if (store_open(&st, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (i = 0; i < NFL; i++) {
		memset(&r, 0, sizeof(r));
		/* Ids grow with the time a flow began, as the daemon's do. */
		r.id = fls[i].first + i;
		r.first_ns = fls[i].first;
		r.last_ns = fls[i].last;
		sp_addr_parse(&r.local, "192.0.2.10");
		sp_addr_parse(&r.remote, "198.51.100.7");
		r.local_port = (uint16_t)(40000 + i);
		r.remote_port = 443;
		r.proto = SP_PROTO_TCP;
		r.dir = SP_DIR_OUT;
		r.verdict = fls[i].verdict;
		r.flags = fls[i].flags;
		r.pid = (int32_t)(100 + i);
		r.uid = 1000;
		r.exe = fls[i].exe;
		r.host = fls[i].host;
		r.rule = fls[i].verdict == SP_VERDICT_ALLOW
		                 ? "default"
		                 : "/r/90-web.rules:7";
		r.bytes_out = fls[i].out;
		r.bytes_in = fls[i].in;
		if (store_put_flow(store_producer(st, 0), &r, 0) != 0)
			return -1;
	}
	for (i = 0; i < 5; i++) {
		char text[32];

		snprintf(text, sizeof(text), "{\"n\":%u}", i);
		store_put_event(store_producer(st, 0), NOW - (5 - i) * MIN,
		                i == 2 ? STORE_EV_RELOAD : STORE_EV_TAMPER, 0,
		                text);
	}
	return store_sync(st);
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store_reader *
attach(void)
{
	struct store_reader *r;
	char err[512];

	if (store_reader_attach(&r, st, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return r;
}

static json_int_t
geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const json_t *
bucket(const json_t *t, size_t i)
{
	return json_array_get(json_object_get(t, "buckets"), i);
}

static void
test_traffic(void **state)
{
	struct store_reader *r = attach();
	json_t *t = history_traffic(r, "hour", NOW, 3600, 60, 10, 1000);
	const json_t *procs, *hosts, *p;
	json_int_t flows = 0, out = 0;
	size_t i;

	(void)state;
	store_reader_close(r);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "span")),
	                    "hour");
	assert_int_equal(geti(t, "from_ns"), (json_int_t)FROM);
	assert_int_equal(geti(t, "to_ns"), (json_int_t)TO);
	assert_int_equal(json_array_size(json_object_get(t, "buckets")), 60);
	assert_int_equal(geti(bucket(t, 7), "t_ns"),
	                 (json_int_t)(FROM + 7 * MIN));
	/* Flow 0: 600 out and 1200 in in each of its two minutes (flow 2
	 * adds its 100 a minute out). */
	assert_int_equal(geti(bucket(t, 10), "bytes_out"), 700);
	assert_int_equal(geti(bucket(t, 11), "bytes_in"), 1200);
	assert_int_equal(geti(bucket(t, 10), "flows"), 1);
	/* Flow 2's half in the window: 100 a minute over 0..29, its flow
	 * counted in the first. */
	assert_int_equal(geti(bucket(t, 29), "bytes_out"), 100);
	assert_int_equal(geti(bucket(t, 0), "flows"), 1);
	/* Flow 1 whole in minute 30. */
	assert_int_equal(geti(bucket(t, 30), "bytes_out"), 100);
	for (i = 0; i < 60; i++) {
		flows += geti(bucket(t, i), "flows");
		out += geti(bucket(t, i), "bytes_out");
	}
	/* Every flow but the one over before the window. */
	assert_int_equal(flows, NFL - 1);
	assert_int_equal(out, 1200 + 100 + 3000 + 60 + 60 + 10);
	/* Top processes by bytes in the window: wget's half (3000), curl
	 * (1200 + 2400 + 100), ... with their own buckets. */
	procs = json_object_get(t, "processes");
	assert_int_equal(json_array_size(procs), 4);
	p = json_array_get(procs, 0);
	assert_string_equal(json_string_value(json_object_get(p, "exe")),
	                    "/usr/bin/curl");
	assert_int_equal(geti(p, "bytes_out"), 1300);
	assert_int_equal(geti(p, "bytes_in"), 2400);
	assert_int_equal(geti(p, "flows"), 2);
	assert_int_equal(
	        json_integer_value(json_array_get(
	                json_array_get(json_object_get(p, "buckets"), 11), 1)),
	        1800);
	p = json_array_get(procs, 1);
	assert_string_equal(json_string_value(json_object_get(p, "exe")),
	                    "/usr/bin/wget");
	assert_int_equal(geti(p, "bytes_out"), 3000);
	hosts = json_object_get(t, "hosts");
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(hosts, 0), "host")),
	                    "a.example");
	/* The hidden flow has no name: its address stands for it. */
	for (i = 0; i < json_array_size(hosts); i++)
		if (strcmp(json_string_value(json_object_get(
		                   json_array_get(hosts, i), "host")),
		           "198.51.100.7") == 0)
			break;
	assert_true(i < json_array_size(hosts));
	assert_false(json_is_true(json_object_get(t, "truncated")));
	json_decref(t);

	/* top 1; a scan of 2 records stops short and says so. */
	r = attach();
	t = history_traffic(r, "hour", NOW, 3600, 60, 1, 2);
	store_reader_close(r);
	assert_int_equal(json_array_size(json_object_get(t, "processes")), 1);
	assert_true(json_is_true(json_object_get(t, "truncated")));
	json_decref(t);
	/* A bucket that does not divide, or too many: refused. */
	r = attach();
	assert_null(history_traffic(r, "x", NOW, 3600, 0, 10, 10));
	assert_null(history_traffic(r, "x", NOW, 86400 * 7, 60, 10, 10));
	store_reader_close(r);
}

static void
test_blocked_hidden_tamper(void **state)
{
	struct store_reader *r = attach();
	json_t *b = history_blocked(r, 10, 1000), *f, *h, *t;

	(void)state;
	f = json_object_get(b, "flows");
	/* Newest first, denied and rejected only. */
	assert_int_equal(json_array_size(f), 2);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(f, 0), "verdict")),
	                    "reject");
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(f, 0), "host")),
	                    "<b>x</b>");
	assert_true(
	        json_is_true(json_object_get(json_array_get(f, 0), "monitor")));
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(f, 1), "rule")),
	                    "/r/90-web.rules:7");
	json_decref(b);
	b = history_blocked(r, 1, 1000);
	assert_int_equal(json_array_size(json_object_get(b, "flows")), 1);
	json_decref(b);

	h = history_hidden(r, 10, 1000);
	assert_int_equal(json_array_size(h), 1);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(h, 0), "exe")),
	        "/usr/bin/sneaky");
	json_decref(h);

	/* Tamper events: newest first, the reload left out, limit kept. */
	t = history_events_of(r, STORE_EV_TAMPER, NOW - 60 * MIN, 3);
	assert_int_equal(json_array_size(t), 3);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(t, 0), "what")),
	                    "{\"n\":4}");
	assert_int_equal(geti(json_array_get(t, 0), "time_ns"),
	                 (json_int_t)(NOW - MIN));
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(t, 2), "what")),
	                    "{\"n\":1}");
	json_decref(t);
	store_reader_close(r);
	/* No store: said so. */
	{
		struct store_reader *none;
		char err[128];

		assert_int_equal(
		        store_reader_attach(&none, NULL, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "without a store"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_traffic),
	        cmocka_unit_test(test_blocked_hidden_tamper),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Flows that never complete, past the budget, become aggregates; what
 * `log` and `top` then show of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/history.h"
#include "spackle/incomplete.h"
#include "spackle/store.h"

#define NS_PER_S ((uint64_t)1000000000)
#define T0       ((uint64_t)1795860000 * NS_PER_S) /* 2026-11-28T10:00Z */

/* A flow as the worker's table holds it: what incomplete.c reads. */
static struct flow
mkflow(uint8_t proto, uint64_t out_pkts, uint64_t reply_pkts)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.key.proto = proto;
	f.packets[0] = out_pkts;
	f.packets[1] = reply_pkts;
	return f;
}

/* An inbound SYN from src to 192.0.2.10:port, as its final record. */
static void
mkrecord(struct store_flow *r, const char *src, uint16_t port, uint8_t verdict,
         uint64_t t)
{
	memset(r, 0, sizeof(*r));
	r->id = t;
	r->first_ns = t;
	r->last_ns = t + NS_PER_S;
	assert_true(sp_addr_parse(&r->remote, src));
	assert_true(sp_addr_parse(&r->local, r->remote.family == AF_INET
	                                             ? "192.0.2.10"
	                                             : "2001:db8::10"));
	r->remote_port = 40000;
	r->local_port = port;
	r->proto = SP_PROTO_TCP;
	r->dir = SP_DIR_IN;
	r->verdict = verdict;
	r->flags = STORE_FLOW_ENDED;
	r->pid = -1;
	r->uid = FLOW_UID_UNKNOWN;
	r->exe = "";
	r->host = "";
	r->rule = "in.rules:3";
	r->packets_out = 0;
	r->packets_in = 1;
	r->bytes_in = 60;
}

/* What the tick hands over, copied (its strings are the book's). */
struct emitted {
	struct store_flow r[600];
	char exe[600][64], rule[600][64];
	size_t n;
};

static void
collect(const struct store_flow *r, void *arg)
{
	struct emitted *e = arg;

	assert_true(e->n < 600);
	e->r[e->n] = *r;
	snprintf(e->exe[e->n], sizeof(e->exe[0]), "%s", r->exe);
	snprintf(e->rule[e->n], sizeof(e->rule[0]), "%s", r->rule);
	e->r[e->n].exe = e->exe[e->n];
	e->r[e->n].rule = e->rule[e->n];
	e->n++;
}

static const struct store_flow *
find_net(const struct emitted *e, const char *net)
{
	char ab[64];
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strcmp(sp_addr_format(&e->r[i].remote, ab, sizeof(ab)),
		           net) == 0)
			return &e->r[i];
	return NULL;
}

static void
test_done(void **state)
{
	struct flow f;

	(void)state;
	/* TCP: the handshake's last ACK is what completes it. */
	f = mkflow(SP_PROTO_TCP, 1, 0); /* an unanswered SYN */
	assert_false(incomplete_flow_done(&f));
	f = mkflow(SP_PROTO_TCP, 1, 1); /* SYN-ACK to a spoofed SYN, or RST */
	assert_false(incomplete_flow_done(&f));
	f = mkflow(SP_PROTO_TCP, 3, 0); /* SYN retransmitted */
	assert_false(incomplete_flow_done(&f));
	f = mkflow(SP_PROTO_TCP, 2, 1);
	assert_true(incomplete_flow_done(&f));
	/* Anything else: a reply at all. */
	f = mkflow(SP_PROTO_UDP, 5, 0);
	assert_false(incomplete_flow_done(&f));
	f = mkflow(SP_PROTO_UDP, 1, 1);
	assert_true(incomplete_flow_done(&f));
	f = mkflow(SP_PROTO_ICMP, 1, 1);
	assert_true(incomplete_flow_done(&f));
}

/* Past the budget records wait; a completed flow gives its place back, and
 * a waiting one is written when it completes. */
static void
test_budget(void **state)
{
	struct incomplete *in = incomplete_new(3);
	struct incomplete_stats st;
	struct flow f[6];
	unsigned i;

	(void)state;
	assert_non_null(in);
	for (i = 0; i < 6; i++)
		f[i] = mkflow(SP_PROTO_TCP, 1, 0);
	for (i = 0; i < 3; i++) {
		assert_true(incomplete_admit(in, &f[i]));
		assert_true(f[i].flags & FLOW_F_UNANSWERED);
	}
	assert_false(incomplete_admit(in, &f[3]));
	assert_true(f[3].flags & FLOW_F_DEFERRED);
	/* Still incomplete: nothing changes. */
	assert_false(incomplete_progress(in, &f[0]));
	assert_false(incomplete_progress(in, &f[3]));
	/* f[0] completes: it was written, so nothing is due, and the budget
	 * has room again. */
	f[0].packets[0] = 2;
	f[0].packets[1] = 1;
	assert_false(incomplete_progress(in, &f[0]));
	assert_false(f[0].flags & FLOW_F_UNANSWERED);
	assert_true(incomplete_admit(in, &f[4]));
	assert_false(incomplete_admit(in, &f[5]));
	/* f[3] completes: its record is due now, once. */
	f[3].packets[0] = 2;
	f[3].packets[1] = 1;
	assert_true(incomplete_progress(in, &f[3]));
	assert_false(f[3].flags & FLOW_F_DEFERRED);
	assert_false(incomplete_progress(in, &f[3]));
	incomplete_stats(in, &st);
	assert_int_equal(st.pending, 3); /* f[1], f[2], f[4] */
	assert_int_equal(st.deferred, 2);
	assert_int_equal(st.promoted, 1);
	/* f[1] leaves undecided (held for a name that never came): its
	 * place comes back, or such flows would spend the budget for good. */
	incomplete_forget(in, &f[1]);
	f[5] = mkflow(SP_PROTO_TCP, 1, 0);
	assert_true(incomplete_admit(in, &f[5]));
	incomplete_free(in);

	/* Budget 0: every record at once, nothing tracked. */
	in = incomplete_new(0);
	f[0] = mkflow(SP_PROTO_TCP, 1, 0);
	for (i = 0; i < 100; i++)
		assert_true(incomplete_admit(in, &f[0]));
	assert_int_equal(f[0].flags, 0);
	incomplete_free(in);
}

/* Written flows that ended incomplete count against the minute's budget
 * until the minute turns. */
static void
test_budget_minute(void **state)
{
	struct incomplete *in = incomplete_new(2);
	struct emitted *e = calloc(1, sizeof(*e));
	struct store_flow r;
	struct flow f = mkflow(SP_PROTO_TCP, 1, 0), g;

	(void)state;
	incomplete_tick(in, T0, false, collect, e);
	assert_true(incomplete_admit(in, &f));
	mkrecord(&r, "198.51.100.7", 80, SP_VERDICT_ALLOW, T0);
	assert_true(incomplete_end(in, &f, &r)); /* written: its end too */
	g = mkflow(SP_PROTO_TCP, 1, 0);
	assert_true(incomplete_admit(in, &g));
	g = mkflow(SP_PROTO_TCP, 1, 0);
	assert_false(incomplete_admit(in, &g)); /* 1 ended + 1 pending */
	incomplete_tick(in, T0 + 30 * NS_PER_S, false, collect, e);
	g = mkflow(SP_PROTO_TCP, 1, 0);
	assert_false(incomplete_admit(in, &g));
	incomplete_tick(in, T0 + 60 * NS_PER_S, false, collect, e);
	g = mkflow(SP_PROTO_TCP, 1, 0);
	assert_true(incomplete_admit(in, &g));
	assert_int_equal(e->n, 0);
	free(e);
	incomplete_free(in);
}

/* A flood: 2,000 spoofed SYNs from two /24s and 200 from an IPv6 /64,
 * past the budget, become three aggregates when the minute turns. */
static void
test_fold(void **state)
{
	struct incomplete *in = incomplete_new(1);
	struct emitted *e = calloc(1, sizeof(*e));
	const struct store_flow *a;
	struct store_flow r;
	struct flow f;
	char src[64], ab[64];
	unsigned i;

	(void)state;
	incomplete_tick(in, T0, false, collect, e);
	f = mkflow(SP_PROTO_TCP, 1, 0);
	assert_true(incomplete_admit(in, &f)); /* the budget's one */
	for (i = 0; i < 2200; i++) {
		f = mkflow(SP_PROTO_TCP, 1, i % 3 == 0); /* some SYN-ACKed */
		assert_false(incomplete_admit(in, &f));
		if (i < 2000)
			snprintf(src, sizeof(src), "%s.%u",
			         i % 2 ? "198.51.100" : "203.0.113", i % 250);
		else
			snprintf(src, sizeof(src), "2001:db8:1::%x", i);
		mkrecord(&r, src, 80, SP_VERDICT_DENY,
		         T0 + (uint64_t)i * 10000000);
		r.packets_out = f.packets[1];
		assert_false(incomplete_end(in, &f, &r));
	}
	/* A deferred flow that completed by its end is written whole. */
	f = mkflow(SP_PROTO_TCP, 1, 0);
	assert_false(incomplete_admit(in, &f));
	f.packets[0] = 4;
	f.packets[1] = 3;
	mkrecord(&r, "192.0.2.77", 22, SP_VERDICT_ALLOW, T0);
	assert_true(incomplete_end(in, &f, &r));

	incomplete_tick(in, T0 + 59 * NS_PER_S, false, collect, e);
	assert_int_equal(e->n, 0);
	incomplete_tick(in, T0 + 61 * NS_PER_S, false, collect, e);
	assert_int_equal(e->n, 3);

	a = find_net(e, "198.51.100.0");
	assert_non_null(a);
	assert_int_equal(a->flows, 1000);
	assert_true(a->flags & STORE_FLOW_AGGREGATE);
	assert_true(a->flags & STORE_FLOW_ENDED);
	assert_int_equal(a->remote_plen, 24);
	assert_int_equal(a->remote_port, 0);
	assert_int_equal(a->local_plen, 32); /* one target */
	assert_string_equal(sp_addr_format(&a->local, ab, sizeof(ab)),
	                    "192.0.2.10");
	assert_int_equal(a->local_port, 80);
	assert_int_equal(a->verdict, SP_VERDICT_DENY);
	assert_int_equal(a->packets_in, 1000);
	assert_int_equal(a->bytes_in, 60000);
	assert_string_equal(a->rule, "in.rules:3");
	assert_string_equal(a->exe, "");
	assert_true(a->first_ns == T0 + 10000000);

	a = find_net(e, "203.0.113.0");
	assert_non_null(a);
	assert_int_equal(a->flows, 1000);
	a = find_net(e, "2001:db8:1::");
	assert_non_null(a);
	assert_int_equal(a->flows, 200);
	assert_int_equal(a->remote_plen, 64);
	assert_int_equal(a->local_plen, 128);
	{
		struct incomplete_stats st;

		incomplete_stats(in, &st);
		assert_int_equal(st.folded, 2200);
		assert_int_equal(st.aggregates, 3);
		assert_int_equal(st.keys, 0);
		assert_int_equal(st.unkept, 0);
	}
	free(e);
	incomplete_free(in);
}

/* More networks in a minute than the book keeps: the rest share one
 * aggregate whose network and port are "any"; nothing is lost. */
static void
test_fold_cap(void **state)
{
	struct incomplete *in = incomplete_new(1);
	struct emitted *e = calloc(1, sizeof(*e));
	struct incomplete_stats st;
	struct store_flow r;
	struct flow f;
	char src[64];
	uint64_t total = 0;
	unsigned i, any = 0;
	size_t k;

	(void)state;
	incomplete_tick(in, T0, false, collect, e);
	f = mkflow(SP_PROTO_TCP, 1, 0);
	assert_true(incomplete_admit(in, &f));
	for (i = 0; i < 300; i++) {
		f = mkflow(SP_PROTO_UDP, 1, 0);
		assert_false(incomplete_admit(in, &f));
		snprintf(src, sizeof(src), "10.%u.%u.1", i / 200, i % 200);
		mkrecord(&r, src, (uint16_t)(1000 + i), SP_VERDICT_ALLOW, T0);
		r.proto = SP_PROTO_UDP;
		assert_false(incomplete_end(in, &f, &r));
	}
	incomplete_tick(in, T0, true, collect, e); /* forced: shutdown */
	assert_int_equal(e->n, INCOMPLETE_MAX_KEYS + 1);
	for (k = 0; k < e->n; k++) {
		total += e->r[k].flows;
		if (e->r[k].remote_plen == 0) {
			any++;
			assert_int_equal(e->r[k].flows,
			                 300 - INCOMPLETE_MAX_KEYS);
			assert_int_equal(e->r[k].local_port, 0);
		}
	}
	assert_int_equal(any, 1);
	assert_int_equal(total, 300);
	incomplete_stats(in, &st);
	assert_int_equal(st.unkept, 0);
	free(e);
	incomplete_free(in);
}

/* ---- what a user reads: the store, `log` and `top` ----------------------
 */

static char *
run_log(const char *db, enum history_format fmt)
{
	struct history_filter hf;
	struct store_reader *rd;
	char err[512], *out = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&out, &len);

	memset(&hf, 0, sizeof(hf));
	assert_true(history_filter_prepare(&hf, stderr));
	assert_int_equal(store_reader_open(&rd, db, err, sizeof(err)), 0);
	assert_true(history_log(rd, &hf, 0, fmt, mf) >= 0);
	fclose(mf);
	store_reader_close(rd);
	return out;
}

static void
test_history(void **state)
{
	char dir[] = "/tmp/spackle-incomplete-XXXXXX", db[64], cmd[96];
	struct incomplete *in = incomplete_new(1);
	struct emitted *e = calloc(1, sizeof(*e));
	struct store_config cfg = {0};
	struct history_filter hf;
	struct store_reader *rd;
	struct store_flow r;
	struct store *s;
	struct flow f;
	char err[512], *out, *line, src[32];
	size_t len = 0;
	FILE *mf;
	json_t *o, *arr;
	unsigned i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/db", dir);
	incomplete_tick(in, T0, false, collect, e);
	f = mkflow(SP_PROTO_TCP, 1, 0);
	assert_true(incomplete_admit(in, &f));
	for (i = 0; i < 1200; i++) {
		f = mkflow(SP_PROTO_TCP, 1, 0);
		assert_false(incomplete_admit(in, &f));
		snprintf(src, sizeof(src), "198.51.100.%u", i % 240);
		mkrecord(&r, src, 80, SP_VERDICT_DENY, T0 + i);
		assert_false(incomplete_end(in, &f, &r));
	}
	incomplete_tick(in, T0 + 60 * NS_PER_S, false, collect, e);
	assert_int_equal(e->n, 1);

	/* Through the store: the record and its extra fields come back. */
	cfg.path = db;
	assert_int_equal(store_open(&s, &cfg, err, sizeof(err)), 0);
	assert_int_equal(store_put_flow(store_producer(s, 0), &e->r[0], 0), 0);
	mkrecord(&r, "203.0.113.5", 22, SP_VERDICT_ALLOW, T0 - NS_PER_S);
	r.packets_out = 12; /* an ordinary flow before it */
	assert_int_equal(store_put_flow(store_producer(s, 0), &r, 0), 0);
	store_close(s);

	/* The network in the remote column, and what the row stands for;
	 * in full with --wide. */
	out = run_log(db, HISTORY_TEXT);
	if (strstr(out, "198.51.100.0/24") == NULL ||
	    strstr(out, "[1200 incomplete flows]") == NULL)
		fail_msg("log text:\n%s", out);
	assert_non_null(strstr(out, "203.0.113.5:40000")); /* kept whole */
	free(out);
	out = run_log(db, HISTORY_WIDE);
	if (strstr(out, "[1200 incomplete flows from 198.51.100.0/24 to "
	                "192.0.2.10:80]") == NULL)
		fail_msg("log --wide:\n%s", out);
	free(out);

	out = run_log(db, HISTORY_JSON);
	line = strstr(out, "\"aggregate\":true");
	assert_non_null(line);
	while (line > out && line[-1] != '\n')
		line--;
	o = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "flows")), 1200);
	assert_string_equal(json_string_value(json_object_get(o, "dst")),
	                    "198.51.100.0");
	assert_int_equal(json_integer_value(json_object_get(o, "dst_prefix")),
	                 24);
	assert_int_equal(json_integer_value(json_object_get(o, "src_prefix")),
	                 32);
	assert_int_equal(json_integer_value(json_object_get(o, "sport")), 80);
	json_decref(o);
	assert_null(strstr(out, "\"aggregate\":false"));
	free(out);

	out = run_log(db, HISTORY_CSV);
	assert_non_null(strstr(out, ",bytes_in,flows\n"));
	assert_non_null(strstr(out, ",198.51.100.0/24,0,in,"));
	assert_non_null(strstr(out, ",1200\n"));
	free(out);

	/* top counts the flows an aggregate stands for. */
	out = NULL;
	mf = open_memstream(&out, &len);
	memset(&hf, 0, sizeof(hf));
	assert_true(history_filter_prepare(&hf, stderr));
	assert_int_equal(store_reader_open(&rd, db, err, sizeof(err)), 0);
	assert_int_equal(history_top(rd, &hf, HISTORY_BY_HOST, true, mf), 2);
	fclose(mf);
	store_reader_close(rd);
	arr = json_loads(out, 0, NULL);
	assert_non_null(arr);
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *row = json_array_get(arr, i);
		const char *h = json_string_value(json_object_get(row, "host"));

		if (strcmp(h, "198.51.100.0/24") == 0) {
			assert_int_equal(json_integer_value(
			                         json_object_get(row, "flows")),
			                 1200);
			assert_int_equal(json_integer_value(json_object_get(
			                         row, "incomplete")),
			                 1200);
			assert_int_equal(json_integer_value(
			                         json_object_get(row, "deny")),
			                 1200);
		} else {
			assert_string_equal(h, "203.0.113.5");
			assert_int_equal(json_integer_value(json_object_get(
			                         row, "incomplete")),
			                 0);
		}
	}
	json_decref(arr);
	free(out);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(e);
	incomplete_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_done),
	        cmocka_unit_test(test_budget),
	        cmocka_unit_test(test_budget_minute),
	        cmocka_unit_test(test_fold),
	        cmocka_unit_test(test_fold_cap),
	        cmocka_unit_test(test_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

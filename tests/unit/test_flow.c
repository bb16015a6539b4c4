/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the flow table: keys, directions, TCP states, expiry, eviction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "spackle/flow.h"

#define SEC 1000000000ull

/* Packets are filled by hand: these tests do not depend on the parser. */
static struct packet
mkpkt(const char *src, uint16_t sport, const char *dst, uint16_t dport,
      uint8_t proto, uint8_t tcp_flags, uint32_t ip_len)
{
	struct packet p;

	memset(&p, 0, sizeof(p));
	assert_true(sp_addr_parse(&p.src, src));
	assert_true(sp_addr_parse(&p.dst, dst));
	assert_int_equal(p.src.family, p.dst.family);
	p.family = p.src.family;
	p.sport = sport;
	p.dport = dport;
	p.proto = proto;
	p.tcp_flags = tcp_flags;
	p.ip_len = ip_len;
	return p;
}

static struct packet
reply(const struct packet *p, uint8_t tcp_flags, uint32_t ip_len)
{
	struct packet r = *p;

	r.src = p->dst;
	r.dst = p->src;
	r.sport = p->dport;
	r.dport = p->sport;
	r.tcp_flags = tcp_flags;
	r.ip_len = ip_len;
	return r;
}

static struct flow_table *
table(uint32_t cap)
{
	struct flow_config cfg;
	struct flow_table *t;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_flows = cap;
	t = flow_table_new(&cfg);
	assert_non_null(t);
	return t;
}

/* Look up and count, as the classifier does. */
static struct flow *
step(struct flow_table *t, const struct packet *p, uint64_t now, bool *created,
     int *dir)
{
	struct flow *f = flow_lookup(t, p, now, created, dir);

	assert_non_null(f);
	flow_update(t, f, p, *dir, now);
	return f;
}

/* Flows handed to the callback, in order. */
struct seen {
	struct flow f[16];
	size_t n;
};

static void
record(const struct flow *f, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	s->f[s->n++] = *f;
}

static void
test_new_flow_defaults(void **state)
{
	struct flow_table *t = table(16);
	struct packet p = mkpkt("192.0.2.1", 40000, "198.51.100.7", 443,
	                        SP_PROTO_TCP, PACKET_TCP_SYN, 60);
	struct flow_stats st;
	struct flow *f;
	bool created;
	int dir;

	(void)state;
	f = flow_lookup(t, &p, 5 * SEC, &created, &dir);
	assert_non_null(f);
	assert_true(created);
	assert_int_equal(dir, 0);
	assert_int_equal(f->pid, -1);
	assert_int_equal(f->uid, FLOW_UID_UNKNOWN);
	assert_int_equal(f->rule, FLOW_RULE_NONE);
	assert_int_equal(f->verdict, SP_VERDICT_NONE);
	assert_int_equal(f->first_ns, 5 * SEC);
	assert_int_equal(f->key.proto, SP_PROTO_TCP);
	assert_int_equal(f->key.family, AF_INET);
	assert_int_equal(f->key.a.family, AF_INET);
	assert_int_equal(f->key.b.family, AF_INET);
	/* 192.0.2.1 < 198.51.100.7: the sender is a and sent first. */
	assert_true(f->flags & FLOW_F_ORIG_A);
	assert_true(sp_addr_equal(&f->key.a, &p.src));
	assert_int_equal(f->key.pa, 40000);
	assert_true(f->id != 0);
	flow_table_stats(t, &st);
	assert_int_equal(st.created, 1);
	assert_int_equal(st.live, 1);
	assert_true(flow_table_bytes_per_flow() >= sizeof(struct flow));
	assert_true(sizeof(struct flow) <= 256);
	flow_table_free(t);
}

static void
test_reply_same_flow(void **state)
{
	struct flow_table *t = table(16);
	/* The sender sorts after its peer: key.a is the receiver. */
	struct packet p =
	        mkpkt("203.0.113.9", 5353, "10.0.0.1", 53, SP_PROTO_UDP, 0, 80);
	struct packet r = reply(&p, 0, 200);
	struct flow *f, *g;
	bool created;
	int dir;

	(void)state;
	f = step(t, &p, SEC, &created, &dir);
	assert_true(created);
	assert_int_equal(dir, 0);
	assert_false(f->flags & FLOW_F_ORIG_A);
	g = step(t, &r, 2 * SEC, &created, &dir);
	assert_ptr_equal(f, g);
	assert_false(created);
	assert_int_equal(dir, 1);
	step(t, &r, 3 * SEC, &created, &dir);
	step(t, &p, 4 * SEC, &created, &dir);
	assert_int_equal(dir, 0);
	assert_int_equal(f->packets[0], 2);
	assert_int_equal(f->packets[1], 2);
	assert_int_equal(f->bytes[0], 160);
	assert_int_equal(f->bytes[1], 400);
	assert_int_equal(f->first_ns, SEC);
	assert_int_equal(f->last_ns, 4 * SEC);

	/* Another port is another flow. */
	p.sport = 5354;
	g = step(t, &p, 5 * SEC, &created, &dir);
	assert_true(created);
	assert_ptr_not_equal(f, g);
	assert_true(g->id > f->id);
	flow_table_free(t);
}

static void
test_local_remote(void **state)
{
	struct flow_table *t = table(16);
	struct packet p = mkpkt("203.0.113.9", 1234, "10.0.0.1", 22,
	                        SP_PROTO_TCP, PACKET_TCP_SYN, 60);
	const struct sp_addr *a;
	struct sp_addr want;
	struct flow *f;
	uint16_t port;
	bool created;
	int dir;

	(void)state;
	f = step(t, &p, SEC, &created, &dir);
	/* 10.0.0.1 is key.a; say it is the local side. */
	f->flags |= FLOW_F_LOCAL_A;
	f->dir = SP_DIR_IN;
	flow_local(f, &a, &port);
	assert_true(sp_addr_parse(&want, "10.0.0.1"));
	assert_true(sp_addr_equal(a, &want));
	assert_int_equal(port, 22);
	flow_remote(f, &a, &port);
	assert_true(sp_addr_equal(a, &p.src));
	assert_int_equal(port, 1234);
	f->flags &= ~(uint32_t)FLOW_F_LOCAL_A;
	flow_local(f, &a, &port);
	assert_true(sp_addr_equal(a, &p.src));
	flow_table_free(t);
}

static void
test_tcp_states(void **state)
{
	struct flow_table *t = table(16);
	struct packet syn = mkpkt("192.0.2.1", 40000, "198.51.100.7", 443,
	                          SP_PROTO_TCP, PACKET_TCP_SYN, 60);
	struct packet synack = reply(&syn, PACKET_TCP_SYN | PACKET_TCP_ACK, 60);
	struct packet ack = reply(&synack, PACKET_TCP_ACK, 52);
	struct packet fin1 = ack, fin2 = synack, rst = ack;
	struct flow *f, *g;
	bool created;
	int dir;

	(void)state;
	fin1.tcp_flags = PACKET_TCP_FIN | PACKET_TCP_ACK;
	fin2.tcp_flags = PACKET_TCP_FIN | PACKET_TCP_ACK;
	rst.tcp_flags = PACKET_TCP_RST;

	f = step(t, &syn, SEC, &created, &dir);
	assert_int_equal(f->tcp_state, FLOW_TCP_SYN_SENT);
	assert_int_equal(f->cls, FLOW_CLASS_TCP_OPENING);
	step(t, &synack, SEC, &created, &dir);
	assert_int_equal(dir, 1);
	assert_int_equal(f->tcp_state, FLOW_TCP_SYN_SENT);
	step(t, &ack, SEC, &created, &dir);
	assert_int_equal(f->tcp_state, FLOW_TCP_ESTABLISHED);
	assert_int_equal(f->cls, FLOW_CLASS_TCP_ESTABLISHED);
	step(t, &fin1, 2 * SEC, &created, &dir);
	assert_int_equal(f->tcp_state, FLOW_TCP_FIN_WAIT);
	assert_int_equal(f->fin_seen, 1);
	/* Half closed: still the established timeout. */
	assert_int_equal(f->cls, FLOW_CLASS_TCP_ESTABLISHED);
	step(t, &fin2, 2 * SEC, &created, &dir);
	assert_int_equal(f->tcp_state, FLOW_TCP_CLOSED);
	assert_int_equal(f->fin_seen, 3);
	assert_int_equal(f->cls, FLOW_CLASS_TCP_CLOSING);
	step(t, &ack, 2 * SEC, &created, &dir);
	assert_int_equal(f->tcp_state, FLOW_TCP_CLOSED);

	/* A new SYN on the closed connection is a new flow. */
	g = step(t, &syn, 3 * SEC, &created, &dir);
	assert_true(created);
	assert_int_equal(g->tcp_state, FLOW_TCP_SYN_SENT);
	assert_int_equal(g->packets[0], 1);
	assert_int_equal(g->packets[1], 0);

	/* RST closes at once. */
	step(t, &rst, 4 * SEC, &created, &dir);
	assert_int_equal(g->tcp_state, FLOW_TCP_CLOSED);
	assert_int_equal(g->cls, FLOW_CLASS_TCP_CLOSING);
	flow_table_free(t);
}

static void
test_tcp_midstream(void **state)
{
	struct flow_table *t = table(16);
	struct packet p = mkpkt("192.0.2.1", 40000, "198.51.100.7", 443,
	                        SP_PROTO_TCP, PACKET_TCP_ACK, 1500);
	struct packet r = reply(&p, PACKET_TCP_ACK, 52);
	struct flow *f;
	bool created;
	int dir;

	(void)state;
	f = step(t, &p, SEC, &created, &dir);
	assert_int_equal(f->tcp_state, FLOW_TCP_NONE);
	assert_int_equal(f->cls, FLOW_CLASS_TCP_OPENING);
	step(t, &p, SEC, &created, &dir);
	assert_int_equal(f->tcp_state, FLOW_TCP_NONE);
	step(t, &r, SEC, &created, &dir);
	assert_int_equal(f->tcp_state, FLOW_TCP_ESTABLISHED);
	assert_int_equal(f->cls, FLOW_CLASS_TCP_ESTABLISHED);

	/* A lone FIN (a FIN scan) gets the opening timeout. */
	p.sport = 40001;
	p.tcp_flags = PACKET_TCP_FIN;
	f = step(t, &p, SEC, &created, &dir);
	assert_true(created);
	assert_int_equal(f->tcp_state, FLOW_TCP_FIN_WAIT);
	assert_int_equal(f->cls, FLOW_CLASS_TCP_OPENING);
	flow_table_free(t);
}

static void
test_class_timeouts(void **state)
{
	struct flow_table *t = table(64);
	struct packet syn = mkpkt("192.0.2.1", 1000, "198.51.100.7", 443,
	                          SP_PROTO_TCP, PACKET_TCP_SYN, 60);
	struct packet est = mkpkt("192.0.2.1", 1001, "198.51.100.7", 443,
	                          SP_PROTO_TCP, PACKET_TCP_SYN, 60);
	struct packet estr = reply(&est, PACKET_TCP_SYN | PACKET_TCP_ACK, 60);
	struct packet esta = reply(&estr, PACKET_TCP_ACK, 52);
	struct packet rst = mkpkt("192.0.2.1", 1002, "198.51.100.7", 443,
	                          SP_PROTO_TCP, PACKET_TCP_RST, 40);
	struct packet udp = mkpkt("192.0.2.1", 1003, "198.51.100.7", 53,
	                          SP_PROTO_UDP, 0, 60);
	struct packet icmp =
	        mkpkt("192.0.2.1", 7, "198.51.100.7", 7, SP_PROTO_ICMP, 0, 84);
	struct packet gre =
	        mkpkt("192.0.2.1", 0, "198.51.100.7", 0, 47, 0, 100);
	struct flow_key k;
	struct flow_stats st;
	struct seen seen = {.n = 0};
	bool created;
	int dir;
	uint64_t t0 = 1000 * SEC;

	(void)state;
	flow_set_evict_cb(t, record, &seen);
	step(t, &syn, t0, &created, &dir);
	step(t, &est, t0, &created, &dir);
	step(t, &estr, t0, &created, &dir);
	step(t, &esta, t0, &created, &dir);
	step(t, &rst, t0, &created, &dir);
	step(t, &udp, t0, &created, &dir);
	step(t, &icmp, t0, &created, &dir);
	step(t, &gre, t0, &created, &dir);

	/* Idle exactly the timeout is not yet past it. */
	assert_int_equal(flow_expire(t, t0 + 10 * SEC), 0);
	/* Closing: 10 s. */
	assert_int_equal(flow_expire(t, t0 + 11 * SEC), 1);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.f[0].key.pa, 1002);
	assert_false(seen.f[0].flags & FLOW_F_EVICTED);
	flow_key_from_packet(&k, &rst, NULL);
	assert_null(flow_find(t, &k));
	/* Opening and ICMP: 30 s. */
	assert_int_equal(flow_expire(t, t0 + 31 * SEC), 2);
	flow_key_from_packet(&k, &syn, NULL);
	assert_null(flow_find(t, &k));
	flow_key_from_packet(&k, &icmp, NULL);
	assert_null(flow_find(t, &k));
	/* UDP and other: 60 s. */
	flow_key_from_packet(&k, &udp, NULL);
	assert_non_null(flow_find(t, &k));
	assert_int_equal(flow_expire(t, t0 + 61 * SEC), 2);
	assert_null(flow_find(t, &k));
	flow_key_from_packet(&k, &gre, NULL);
	assert_null(flow_find(t, &k));
	/* Established: an hour. */
	flow_key_from_packet(&k, &est, NULL);
	assert_non_null(flow_find(t, &k));
	assert_int_equal(flow_expire(t, t0 + 3600 * SEC), 0);
	assert_int_equal(flow_expire(t, t0 + 3601 * SEC), 1);
	assert_null(flow_find(t, &k));
	assert_int_equal(seen.n, 6);

	flow_table_stats(t, &st);
	assert_int_equal(st.created, 6);
	assert_int_equal(st.expired, 6);
	assert_int_equal(st.evicted, 0);
	assert_int_equal(st.live, 0);
	flow_table_free(t);
}

static void
test_activity_keeps_alive(void **state)
{
	struct flow_config cfg;
	struct flow_table *t;
	struct packet a =
	        mkpkt("192.0.2.1", 1, "192.0.2.2", 2, SP_PROTO_UDP, 0, 60);
	struct packet b =
	        mkpkt("192.0.2.1", 3, "192.0.2.2", 4, SP_PROTO_UDP, 0, 60);
	struct flow_key k;
	bool created;
	int dir;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_flows = 8;
	cfg.timeout[FLOW_CLASS_UDP] = 5;
	t = flow_table_new(&cfg);
	assert_non_null(t);
	step(t, &a, 0, &created, &dir);
	step(t, &b, 1 * SEC, &created, &dir);
	step(t, &a, 4 * SEC, &created, &dir);
	/* b idle 6 s, a idle 3 s; a sits behind b in the list. */
	assert_int_equal(flow_expire(t, 7 * SEC), 1);
	flow_key_from_packet(&k, &a, NULL);
	assert_non_null(flow_find(t, &k));
	flow_key_from_packet(&k, &b, NULL);
	assert_null(flow_find(t, &k));
	/* Time going back does not reorder anything. */
	step(t, &a, 2 * SEC, &created, &dir);
	assert_int_equal(flow_expire(t, 7 * SEC), 0);
	assert_int_equal(flow_expire(t, 13 * SEC), 1);
	flow_table_free(t);
}

static void
test_busy_flow(void **state)
{
	struct flow_config cfg;
	struct flow_table *t;
	struct packet a =
	        mkpkt("192.0.2.1", 1, "192.0.2.2", 2, SP_PROTO_UDP, 0, 60);
	struct packet b =
	        mkpkt("192.0.2.1", 3, "192.0.2.2", 4, SP_PROTO_UDP, 0, 60);
	const uint64_t ms = SEC / 1000;
	struct flow *f;
	bool created;
	uint64_t now;
	int dir;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_flows = 8;
	cfg.timeout[FLOW_CLASS_UDP] = 5; /* a grain of 5 s / 16 */
	t = flow_table_new(&cfg);
	assert_non_null(t);

	/* b arrives just after a, and a's next packet is within a grain. */
	f = step(t, &a, 0, &created, &dir);
	step(t, &b, 100 * ms, &created, &dir);
	step(t, &a, 200 * ms, &created, &dir);
	/* b expired at 5.1 s but waits behind a, by less than a grain. */
	assert_int_equal(flow_expire(t, 5150 * ms), 0);
	assert_int_equal(flow_expire(t, 5250 * ms), 2);

	/* A flow busy for 10 s is never expired early. */
	for (now = 0; now <= 10 * SEC; now += 100 * ms) {
		f = step(t, &a, 20 * SEC + now, &created, &dir);
		if (now == 0)
			step(t, &b, 20 * SEC + 50 * ms, &created, &dir);
		assert_int_equal(flow_expire(t, 20 * SEC + now),
		                 now == 5100 * ms ? 1 : 0);
	}
	assert_int_equal(f->packets[0], 101);
	assert_int_equal(flow_expire(t, 35 * SEC), 0);
	assert_int_equal(flow_expire(t, 35 * SEC + 1), 1);
	flow_table_free(t);
}

static void
test_cap_eviction(void **state)
{
	struct flow_table *t = table(4);
	struct packet p[5];
	struct seen seen = {.n = 0};
	struct flow_stats st;
	struct flow_key k;
	struct flow *f;
	bool created;
	int dir, i;

	(void)state;
	flow_set_evict_cb(t, record, &seen);
	for (i = 0; i < 5; i++)
		p[i] = mkpkt("192.0.2.1", (uint16_t)(1000 + i), "192.0.2.2", 53,
		             SP_PROTO_UDP, 0, 60);
	/* One TCP flow in another class list, the oldest but one. */
	p[1].proto = SP_PROTO_TCP;
	p[1].tcp_flags = PACKET_TCP_SYN;
	for (i = 0; i < 4; i++)
		step(t, &p[i], (uint64_t)(i + 1) * SEC, &created, &dir);
	/* Touch flow 0: flow 1 (TCP) is now the one idle longest. */
	step(t, &p[0], 5 * SEC, &created, &dir);
	f = step(t, &p[4], 6 * SEC, &created, &dir);
	assert_true(created);
	assert_int_equal(f->key.pb == 1004 || f->key.pa == 1004, 1);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.f[0].key.proto, SP_PROTO_TCP);
	assert_true(seen.f[0].flags & FLOW_F_EVICTED);
	flow_key_from_packet(&k, &p[1], NULL);
	assert_null(flow_find(t, &k));
	flow_table_stats(t, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.live, 4);
	assert_int_equal(st.created, 5);

	/* Next goes flow 2 (UDP, idle since 3 s). */
	p[1].tcp_flags = PACKET_TCP_ACK;
	step(t, &p[1], 7 * SEC, &created, &dir);
	assert_int_equal(seen.n, 2);
	assert_true(seen.f[1].key.pa == 1002 || seen.f[1].key.pb == 1002);
	flow_table_free(t);
}

/* Pages of [p, p + len) the process has in memory. */
static size_t
resident_pages(const void *p, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n, k, in = 0;
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1);
	unsigned char *v;

	n = ((uintptr_t)p + len - a + pg - 1) / pg;
	v = malloc(n);
	assert_non_null(v);
	assert_int_equal(mincore((void *)a, n * pg, v), 0);
	for (k = 0; k < n; k++)
		in += v[k] & 1;
	free(v);
	return in;
}

/*
 * The table takes memory as flows come, not for its cap: a full-size table
 * (36 MiB of slots) holding 1,000 flows has in memory about the slots
 * those take, the flows sit in the lowest slots one after another, and a
 * slot freed is taken again before a new one.
 */
static void
test_pool_grows_with_flows(void **state)
{
	const uint32_t cap = SP_FLOWS_DEFAULT, n = 1000;
	struct flow_table *t = table(cap);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct flow *f, *base = NULL;
	struct packet p;
	uintptr_t next;
	size_t most;
	bool created;
	uint32_t i;
	int dir;

	(void)state;
	for (i = 0; i < n; i++) {
		p = mkpkt("192.0.2.1", (uint16_t)(1024 + i), "192.0.2.2", 53,
		          SP_PROTO_UDP, 0, 60);
		f = step(t, &p, SEC, &created, &dir);
		assert_true(created);
		if (base == NULL)
			base = f;
		assert_ptr_equal(f, base + i);
	}
	/* The slots of 1,000 flows, and a page either side at most: not the
	 * 9,216 pages of the whole pool. */
	assert_true(resident_pages(base, (size_t)cap * sizeof(*base)) <=
	            n * sizeof(*base) / pg + 2);
	/* Mapped ahead, the slots the next flows take are in memory before
	 * they come: a lead's worth, and at most the rest of the kernel's
	 * last stretch past it. */
	while (flow_table_ahead(t))
		;
	next = (uintptr_t)(base + n);
	assert_int_equal(resident_pages(base + n, SP_AHEAD_LEAD),
	                 (next + SP_AHEAD_LEAD - 1) / pg - next / pg + 1);
	most = (n * sizeof(*base) + SP_AHEAD_LEAD + SP_AHEAD_STRETCH) / pg + 2;
	assert_true(resident_pages(base, (size_t)cap * sizeof(*base)) <= most);

	/* Ten flows end; the next ten take their slots, none above. */
	for (i = 0; i < 10; i++)
		flow_end(t, base + 100 + i);
	for (i = 0; i < 10; i++) {
		p = mkpkt("192.0.2.1", (uint16_t)(1024 + i), "192.0.2.3", 53,
		          SP_PROTO_UDP, 0, 60);
		f = step(t, &p, 2 * SEC, &created, &dir);
		assert_true(created);
		assert_true(f >= base + 100 && f < base + 110);
	}
	flow_table_free(t);
}

/* Clearing hands every flow over once, counts none as expired or evicted,
 * and leaves the table ready for new flows. */
static void
test_clear(void **state)
{
	struct flow_table *t = table(8);
	struct seen seen = {.n = 0};
	struct flow_stats st;
	struct packet p;
	bool created;
	int dir, i;

	(void)state;
	flow_set_evict_cb(t, record, &seen);
	for (i = 0; i < 3; i++) {
		p = mkpkt("192.0.2.1", (uint16_t)(2000 + i), "192.0.2.2", 443,
		          i == 0 ? SP_PROTO_UDP : SP_PROTO_TCP,
		          i == 0 ? 0 : PACKET_TCP_SYN, 60);
		step(t, &p, SEC, &created, &dir);
	}
	flow_table_clear(t);
	assert_int_equal(seen.n, 3);
	assert_false(seen.f[0].flags & FLOW_F_EVICTED);
	flow_table_stats(t, &st);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.evicted, 0);
	step(t, &p, 2 * SEC, &created, &dir);
	assert_true(created);
	flow_table_stats(t, &st);
	assert_int_equal(st.live, 1);
	flow_table_free(t);
}

static void
test_ipv6(void **state)
{
	struct flow_table *t = table(16);
	struct packet p = mkpkt("2001:db8::1", 50000, "2001:db8:1::53", 53,
	                        SP_PROTO_UDP, 0, 100);
	struct packet r = reply(&p, 0, 300);
	/* The v4-mapped form of an address is not the same flow. */
	struct packet m = mkpkt("::ffff:192.0.2.1", 1, "::ffff:192.0.2.2", 2,
	                        SP_PROTO_UDP, 0, 60);
	struct packet v4 =
	        mkpkt("192.0.2.1", 1, "192.0.2.2", 2, SP_PROTO_UDP, 0, 60);
	struct flow *f, *g;
	bool created;
	int dir;

	(void)state;
	f = step(t, &p, SEC, &created, &dir);
	assert_int_equal(f->key.family, AF_INET6);
	assert_true(f->flags & FLOW_F_ORIG_A);
	g = step(t, &r, SEC, &created, &dir);
	assert_ptr_equal(f, g);
	assert_int_equal(dir, 1);
	assert_int_equal(f->bytes[0], 100);
	assert_int_equal(f->bytes[1], 300);

	f = step(t, &m, SEC, &created, &dir);
	assert_true(created);
	g = step(t, &v4, SEC, &created, &dir);
	assert_true(created);
	assert_ptr_not_equal(f, g);
	flow_table_free(t);
}

static void
test_fragments(void **state)
{
	struct flow_table *t = table(4);
	struct packet first = mkpkt("192.0.2.1", 40000, "198.51.100.7", 4500,
	                            SP_PROTO_UDP, 0, 1500);
	struct packet later, rfirst, rlater;
	struct flow *f, *g;
	bool created;
	int dir;

	(void)state;
	first.flags = PACKET_F_FRAG;
	first.frag_id = 0x1234;
	later = first;
	later.flags = PACKET_F_FRAG | PACKET_F_FRAG_LATER;
	later.sport = later.dport = 0;
	later.ip_len = 700;

	/* Before the first fragment: nothing. */
	assert_null(flow_lookup_fragment(t, &later, &dir));
	f = step(t, &first, SEC, &created, &dir);
	assert_null(flow_lookup(t, &later, SEC, &created, &dir));
	assert_false(created);
	dir = -1;
	g = flow_lookup_fragment(t, &later, &dir);
	assert_ptr_equal(f, g);
	assert_int_equal(dir, 0);
	flow_update(t, g, &later, dir, SEC);
	assert_int_equal(f->packets[0], 2);
	assert_int_equal(f->bytes[0], 2200);

	/* The reply's fragments, with their own id. */
	rfirst = reply(&first, 0, 1500);
	rfirst.frag_id = 0x9999;
	rlater = reply(&later, 0, 400);
	rlater.frag_id = 0x9999;
	rlater.sport = rlater.dport = 0;
	g = step(t, &rfirst, SEC, &created, &dir);
	assert_ptr_equal(f, g);
	g = flow_lookup_fragment(t, &rlater, &dir);
	assert_ptr_equal(f, g);
	assert_int_equal(dir, 1);

	/* Another id, or another source, is unknown. */
	later.frag_id = 0x1235;
	assert_null(flow_lookup_fragment(t, &later, &dir));
	later.frag_id = 0x1234;
	later.proto = SP_PROTO_TCP;
	assert_null(flow_lookup_fragment(t, &later, &dir));
	later.proto = SP_PROTO_UDP;

	/* Once the flow is gone, its fragments do not find its slot's heir. */
	assert_int_equal(flow_expire(t, 100 * SEC), 1);
	assert_null(flow_lookup_fragment(t, &later, &dir));
	first.frag_id = 7;
	first.sport = 1;
	step(t, &first, 101 * SEC, &created, &dir);
	assert_null(flow_lookup_fragment(t, &later, &dir));
	flow_table_free(t);
}

static void
test_fragment_table_overwrites(void **state)
{
	struct flow_table *t = table(16);
	struct packet first = mkpkt("192.0.2.1", 40000, "198.51.100.7", 4500,
	                            SP_PROTO_UDP, 0, 1500);
	struct packet later;
	struct flow *f;
	bool created;
	int dir;
	uint32_t id, found = 0;

	(void)state;
	first.flags = PACKET_F_FRAG;
	f = step(t, &first, SEC, &created, &dir);
	/* Far more datagrams than the side table holds. */
	for (id = 0; id < 5000; id++) {
		first.frag_id = id;
		assert_ptr_equal(flow_lookup(t, &first, SEC, &created, &dir),
		                 f);
	}
	later = first;
	later.flags |= PACKET_F_FRAG_LATER;
	for (id = 0; id < 5000; id++) {
		later.frag_id = id;
		if (flow_lookup_fragment(t, &later, &dir) == f)
			found++;
	}
	/* The newest ones are kept, no more than the table holds. */
	later.frag_id = 4999;
	assert_ptr_equal(flow_lookup_fragment(t, &later, &dir), f);
	assert_true(found >= 512 && found <= 1024);
	flow_table_free(t);
}

static void
count_flow(struct flow *f, void *arg)
{
	size_t *n = arg;

	(void)f;
	(*n)++;
}

static void
test_many_flows(void **state)
{
	const uint32_t n = 100000;
	struct flow_table *t = table(131072);
	struct packet p, r;
	struct flow_stats st;
	struct flow **v;
	struct flow *f;
	uint64_t prev = 0;
	size_t visited = 0;
	bool created;
	uint32_t i;
	uint8_t a[4] = {10, 0, 0, 0}, b[4] = {172, 16, 0, 1};
	int dir;

	(void)state;
	v = calloc(n, sizeof(*v));
	assert_non_null(v);
	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.proto = SP_PROTO_UDP;
	p.ip_len = 100;
	sp_addr_from_v4(&p.dst, b);
	p.dport = 443;
	for (i = 0; i < n; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		sp_addr_from_v4(&p.src, a);
		p.sport = (uint16_t)(1024 + (i >> 16));
		v[i] = step(t, &p, SEC + i, &created, &dir);
		assert_true(created);
		assert_true(v[i]->id > prev);
		prev = v[i]->id;
	}
	for (i = 0; i < n; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		sp_addr_from_v4(&p.src, a);
		p.sport = (uint16_t)(1024 + (i >> 16));
		r = reply(&p, 0, 50);
		f = step(t, &r, 2 * SEC, &created, &dir);
		assert_false(created);
		assert_ptr_equal(f, v[i]);
		assert_int_equal(dir, 1);
		assert_int_equal(f->packets[0], 1);
		assert_int_equal(f->packets[1], 1);
	}
	flow_table_stats(t, &st);
	assert_int_equal(st.live, n);
	assert_int_equal(st.created, n);
	assert_int_equal(st.evicted, 0);
	flow_foreach(t, count_flow, &visited);
	assert_int_equal(visited, n);
	assert_int_equal(flow_expire(t, 2 * SEC + 61 * SEC), n);
	flow_table_free(t);
	free(v);
}

static void
test_ids_unique_across_tables(void **state)
{
	struct flow_table *t1 = table(4), *t2 = table(4);
	struct packet p =
	        mkpkt("192.0.2.1", 1, "192.0.2.2", 2, SP_PROTO_UDP, 0, 60);
	struct flow *f1, *f2;
	bool created;
	int dir;

	(void)state;
	f1 = step(t1, &p, SEC, &created, &dir);
	f2 = step(t2, &p, SEC, &created, &dir);
	assert_true(f2->id > f1->id);
	/* Seeded from the wall clock. */
	assert_true(f1->id > 1600000000ull * SEC);
	flow_table_free(t1);
	flow_table_free(t2);
}

struct walk_ctx {
	struct flow_table *t;
	unsigned seen;
	uint8_t *mark; /* by sport - 1000: visits */
};

/* Count the flow; end every third one (as the conntrack sync ends a flow
 * whose entry is gone, in the middle of its walk). */
static void
walk_one(struct flow *f, void *arg)
{
	struct walk_ctx *x = arg;
	uint16_t port = f->key.pa != 80 ? f->key.pa : f->key.pb;

	x->seen++;
	x->mark[port - 1000]++;
	if (port % 3 == 0)
		flow_end(x->t, f);
}

/* flow_walk in slices of 7 slots visits every live flow once, even when
 * flows end during the walk; flows that came between slices are found
 * by the next walk. It walks the slots the table gave out (60), not its
 * cap (100), and new flows take the slots of ended ones first. */
static void
test_walk_slices(void **state)
{
	struct flow_config cfg = {.max_flows = 100};
	struct flow_table *t = flow_table_new(&cfg);
	uint8_t mark[100];
	struct walk_ctx x = {t, 0, mark};
	struct flow_stats st;
	uint32_t at = 0;
	unsigned i, slices = 0;
	bool created;
	int dir;

	(void)state;
	assert_non_null(t);
	memset(mark, 0, sizeof(mark));
	for (i = 0; i < 60; i++) {
		struct packet p =
		        mkpkt("192.0.2.1", (uint16_t)(1000 + i), "198.51.100.7",
		              80, SP_PROTO_TCP, PACKET_TCP_SYN, 60);

		assert_non_null(flow_lookup(t, &p, 1, &created, &dir));
	}
	do {
		at = flow_walk(t, at, 7, walk_one, &x);
		slices++;
	} while (at != 0);
	assert_int_equal(x.seen, 60);
	for (i = 0; i < 60; i++)
		assert_int_equal(mark[i], 1);
	assert_int_equal(slices, (60 + 6) / 7);
	flow_table_stats(t, &st);
	assert_int_equal(st.live, 40);
	/* Another walk, whole: the 40 left. */
	x.seen = 0;
	assert_int_equal(flow_walk(t, 0, UINT32_MAX, walk_one, &x), 0);
	assert_int_equal(x.seen, 40);
	/* 20 new flows fill the 20 slots freed: still 9 slices of 7. */
	for (i = 0; i < 20; i++) {
		struct packet p =
		        mkpkt("192.0.2.2", (uint16_t)(1000 + i), "198.51.100.7",
		              80, SP_PROTO_TCP, PACKET_TCP_SYN, 60);

		assert_non_null(flow_lookup(t, &p, 2, &created, &dir));
	}
	x.seen = 0;
	slices = 0;
	do {
		at = flow_walk(t, at, 7, walk_one, &x);
		slices++;
	} while (at != 0);
	assert_int_equal(slices, (60 + 6) / 7);
	flow_table_stats(t, &st);
	assert_int_equal(x.seen, 60);
	flow_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_new_flow_defaults),
	        cmocka_unit_test(test_reply_same_flow),
	        cmocka_unit_test(test_local_remote),
	        cmocka_unit_test(test_clear),
	        cmocka_unit_test(test_tcp_states),
	        cmocka_unit_test(test_tcp_midstream),
	        cmocka_unit_test(test_class_timeouts),
	        cmocka_unit_test(test_activity_keeps_alive),
	        cmocka_unit_test(test_busy_flow),
	        cmocka_unit_test(test_cap_eviction),
	        cmocka_unit_test(test_pool_grows_with_flows),
	        cmocka_unit_test(test_ipv6),
	        cmocka_unit_test(test_fragments),
	        cmocka_unit_test(test_fragment_table_overwrites),
	        cmocka_unit_test(test_many_flows),
	        cmocka_unit_test(test_ids_unique_across_tables),
	        cmocka_unit_test(test_walk_slices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

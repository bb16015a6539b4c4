/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spackle audit's wire flows: each tapped packet counted to the right flow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/capgen.h"
/* The flow table and wire_packet() are static: reach them as the fuzz
 * harnesses reach theirs; spackle_cmd's audit_tap.o is then never linked. */
#include "cmd/audit_tap.c"

/*
 * The reference: the lookup as it was before the hash, a walk of every
 * flow, and wire_packet() as it was around it. The table must count every
 * packet to the flow this did, in the same order, with the same totals.
 */
static struct wflow *
ref_find(struct wire *w, uint8_t proto, const struct sp_addr *l, uint16_t lp,
         const struct sp_addr *r, uint16_t rp)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		struct wflow *f = &w->v[i];

		if (f->proto == proto && f->lport == lp && f->rport == rp &&
		    memcmp(&f->local, l, sizeof(*l)) == 0 &&
		    memcmp(&f->remote, r, sizeof(*r)) == 0)
			return f;
	}
	return NULL;
}

static void
ref_packet(const struct divert_packet *dp, void *arg)
{
	struct wire *w = arg;
	struct packet pkt;
	struct wflow *f;
	const struct sp_addr *l, *r;
	uint16_t lp, rp;
	int dir;
	bool fwd = false;

	w->packets++;
	if (packet_parse_frame(dp->link, dp->data, dp->caplen, &pkt) !=
	    PACKET_OK) {
		w->not_ip++;
		return;
	}
	if (is_local(w, &pkt.src) &&
	    !(is_local(w, &pkt.dst) &&
	      ref_find(w, pkt.proto, &pkt.dst, pkt.dport, &pkt.src,
	               pkt.sport) != NULL)) {
		l = &pkt.src, lp = pkt.sport, r = &pkt.dst, rp = pkt.dport;
		dir = 0;
	} else if (is_local(w, &pkt.dst)) {
		l = &pkt.dst, lp = pkt.dport, r = &pkt.src, rp = pkt.sport;
		dir = 1;
	} else if (addr_is_group(&pkt.dst)) {
		w->not_ours++;
		return;
	} else {
		fwd = true;
		f = ref_find(w, pkt.proto, &pkt.dst, pkt.dport, &pkt.src,
		             pkt.sport);
		if (f != NULL) {
			f->pkts[1]++;
			f->bytes[1] += dp->wirelen;
			return;
		}
		l = &pkt.src, lp = pkt.sport, r = &pkt.dst, rp = pkt.dport;
		dir = 0;
	}
	if ((f = ref_find(w, pkt.proto, l, lp, r, rp)) == NULL) {
		if (w->n == AUDIT_FLOWS_MAX) {
			w->dropped++;
			return;
		}
		if (w->n == w->cap) {
			size_t cap = w->cap ? 2 * w->cap : 256;
			struct wflow *v = realloc(w->v, cap * sizeof(*v));

			if (v == NULL) {
				w->dropped++;
				return;
			}
			w->v = v;
			w->cap = cap;
		}
		f = &w->v[w->n++];
		memset(f, 0, sizeof(*f));
		f->proto = pkt.proto;
		f->local = *l;
		f->remote = *r;
		f->lport = lp;
		f->rport = rp;
		f->fwd = fwd;
		f->ifindex = w->ifindex;
	}
	f->pkts[dir]++;
	f->bytes[dir] += dp->wirelen;
}

/* ---- building packets ---------------------------------------------------- */

static const char *const locals[] = {
        "192.0.2.1",   "192.0.2.2",   "2001:db8::1",
        "2001:db8::2", "224.0.0.251", /* a group it joined */
};

static void
add_locals(struct wire *w)
{
	struct sp_addr a;
	size_t i;

	for (i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
		assert_true(sp_addr_parse(&a, locals[i]));
		local_add(w, &a);
	}
	assert_int_equal(w->nlocal, sizeof(locals) / sizeof(locals[0]));
}

/* Build p and hand it to cb as a tap would; the wire length is its own. */
/* One packet to a handler: the table's or the reference walk's. */
typedef void (*packet_fn)(const struct divert_packet *dp, void *arg);

static void
feed(struct wire *w, packet_fn cb, const struct capgen_pkt *p, int ifindex)
{
	uint8_t buf[256];
	struct divert_packet dp;

	memset(&dp, 0, sizeof(dp));
	dp.caplen = capgen_build(buf, sizeof(buf), p);
	assert_true(dp.caplen > 0);
	dp.data = buf;
	dp.wirelen = dp.caplen + (size_t)(p->sport % 7);
	dp.link = PACKET_LINK_RAW;
	w->ifindex = ifindex;
	cb(&dp, w);
}

static void
feed_both(struct wire *hashed, struct wire *ref, const struct capgen_pkt *p,
          int ifindex)
{
	feed(hashed, wire_packet, p, ifindex);
	feed(ref, ref_packet, p, ifindex);
}

/* Same flows, in the same order, with the same counts. */
static void
assert_same(const struct wire *a, const struct wire *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	assert_int_equal(a->dropped, b->dropped);
	assert_int_equal(a->packets, b->packets);
	assert_int_equal(a->not_ip, b->not_ip);
	assert_int_equal(a->not_ours, b->not_ours);
	for (i = 0; i < a->n; i++) {
		const struct wflow *x = &a->v[i], *y = &b->v[i];

		assert_int_equal(x->proto, y->proto);
		assert_int_equal(x->fwd, y->fwd);
		assert_memory_equal(&x->local, &y->local, sizeof(x->local));
		assert_memory_equal(&x->remote, &y->remote, sizeof(x->remote));
		assert_int_equal(x->lport, y->lport);
		assert_int_equal(x->rport, y->rport);
		assert_int_equal(x->ifindex, y->ifindex);
		assert_int_equal(x->pkts[0], y->pkts[0]);
		assert_int_equal(x->pkts[1], y->pkts[1]);
		assert_int_equal(x->bytes[0], y->bytes[0]);
		assert_int_equal(x->bytes[1], y->bytes[1]);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* ---- tests --------------------------------------------------------------- */

/*
 * Random traffic over a small world, so flows repeat, answer each other
 * and meet every branch: sent, received, both ends local, forwarded each
 * way, a group joined and one not joined, IPv4 and IPv6, TCP, UDP, ICMP.
 */
static void
test_same_as_walk(void **state)
{
	static const char *const v4[] = {
	        "192.0.2.1",   "192.0.2.2",   "198.51.100.7", "198.51.100.8",
	        "203.0.113.9", "224.0.0.251", "239.1.2.3",    "255.255.255.255",
	};
	static const char *const v6[] = {
	        "2001:db8::1",   "2001:db8::2", "2001:db8:1::7",
	        "2001:db8:2::8", "ff02::fb",
	};
	static const uint8_t protos[] = {SP_PROTO_TCP, SP_PROTO_UDP,
	                                 SP_PROTO_ICMP};
	struct wire hashed, ref;
	struct capgen_pkt p;
	unsigned i;

	(void)state;
	memset(&hashed, 0, sizeof(hashed));
	memset(&ref, 0, sizeof(ref));
	add_locals(&hashed);
	add_locals(&ref);
	for (i = 0; i < 20000; i++) {
		bool six = rnd(3) == 0;
		const char *const *pool = six ? v6 : v4;
		uint32_t npool = six ? sizeof(v6) / sizeof(v6[0])
		                     : sizeof(v4) / sizeof(v4[0]);

		memset(&p, 0, sizeof(p));
		p.src = pool[rnd(npool)];
		p.dst = pool[rnd(npool)];
		p.proto = protos[rnd(3)];
		if (p.proto == SP_PROTO_ICMP) {
			p.proto = six ? SP_PROTO_ICMP6 : SP_PROTO_ICMP;
			p.icmp_type = six ? 128 : 8;
			p.sport = (uint16_t)(1 + rnd(6));
		} else {
			p.sport = (uint16_t)(1000 + rnd(6));
			p.dport = (uint16_t)(1000 + rnd(6));
		}
		feed_both(&hashed, &ref, &p, 1 + (int)rnd(3));
	}
	/* Enough flows that the index grew and was rebuilt a few times. */
	assert_true(hashed.n > 2048);
	assert_true(hashed.idxcap >= 2 * hashed.n);
	assert_same(&hashed, &ref);
	audit_wire_free(&hashed);
	audit_wire_free(&ref);
}

/* A reply finds its flow: received, both ends local, and forwarded. */
static void
test_reply_finds_flow(void **state)
{
	struct capgen_pkt p = {.proto = SP_PROTO_TCP};
	struct wire w;

	(void)state;
	memset(&w, 0, sizeof(w));
	add_locals(&w);

	/* Out, then its answer in. */
	p.src = "192.0.2.1", p.dst = "198.51.100.7", p.sport = 4000,
	p.dport = 443;
	feed(&w, wire_packet, &p, 2);
	p.src = "198.51.100.7", p.dst = "192.0.2.1", p.sport = 443,
	p.dport = 4000;
	feed(&w, wire_packet, &p, 2);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.v[0].pkts[0], 1);
	assert_int_equal(w.v[0].pkts[1], 1);
	assert_false(w.v[0].fwd);

	/* Both ends local: the first sender is the local end. */
	p.src = "192.0.2.2", p.dst = "192.0.2.1", p.sport = 5000, p.dport = 22;
	feed(&w, wire_packet, &p, 1);
	p.src = "192.0.2.1", p.dst = "192.0.2.2", p.sport = 22, p.dport = 5000;
	feed(&w, wire_packet, &p, 1);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.v[1].lport, 5000);
	assert_int_equal(w.v[1].pkts[0], 1);
	assert_int_equal(w.v[1].pkts[1], 1);

	/* Forwarded: neither end local, the answer counted as received. */
	p.src = "203.0.113.9", p.dst = "198.51.100.8", p.sport = 6000,
	p.dport = 80;
	feed(&w, wire_packet, &p, 3);
	p.src = "198.51.100.8", p.dst = "203.0.113.9", p.sport = 80,
	p.dport = 6000;
	feed(&w, wire_packet, &p, 3);
	assert_int_equal(w.n, 3);
	assert_true(w.v[2].fwd);
	assert_int_equal(w.v[2].pkts[0], 1);
	assert_int_equal(w.v[2].pkts[1], 1);

	/* A group not joined is not a flow. */
	p.src = "198.51.100.8", p.dst = "239.1.2.3", p.sport = 1, p.dport = 2;
	feed(&w, wire_packet, &p, 3);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.not_ours, 1);
	audit_wire_free(&w);
}

/* Past AUDIT_FLOWS_MAX new flows are dropped; the kept ones still count. */
static void
test_cap(void **state)
{
	struct capgen_pkt p = {.proto = SP_PROTO_UDP,
	                       .src = "192.0.2.1",
	                       .dst = "198.51.100.7"};
	struct sp_addr l, r;
	struct wire w;
	uint32_t i;

	(void)state;
	memset(&w, 0, sizeof(w));
	add_locals(&w);
	for (i = 0; i < AUDIT_FLOWS_MAX + 10; i++) {
		p.sport = (uint16_t)(i & 0xffff);
		p.dport = (uint16_t)(53 + (i >> 16));
		feed(&w, wire_packet, &p, 1);
	}
	assert_int_equal(w.n, AUDIT_FLOWS_MAX);
	assert_int_equal(w.dropped, 10);
	assert_true(sp_addr_parse(&l, "192.0.2.1"));
	assert_true(sp_addr_parse(&r, "198.51.100.7"));
	for (i = 0; i < AUDIT_FLOWS_MAX; i++)
		assert_ptr_equal(wire_find(&w, SP_PROTO_UDP, &l,
		                           (uint16_t)(i & 0xffff), &r, 53),
		                 &w.v[i]);
	assert_null(wire_find(&w, SP_PROTO_UDP, &l, 0, &r, 54));
	assert_null(wire_find(&w, SP_PROTO_TCP, &l, 0, &r, 53));
	assert_null(wire_find(&w, SP_PROTO_UDP, &r, 0, &l, 53));
	/* An answer to a kept flow still counts. */
	p.src = "198.51.100.7", p.dst = "192.0.2.1", p.sport = 53, p.dport = 7;
	feed(&w, wire_packet, &p, 1);
	assert_int_equal(w.dropped, 10);
	assert_int_equal(w.v[7].pkts[1], 1);
	audit_wire_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_same_as_walk),
	        cmocka_unit_test(test_reply_finds_flow),
	        cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the name cache: expiry, order, dedup, caps, feeding from DNS. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "spackle/names.h"
#include "guard.h"

#define SEC 1000000000ull

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void
put8(struct msg *m, unsigned v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static void
put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void
put_name(struct msg *m, const char *name)
{
	const char *dot;
	size_t len;

	while (*name != '\0') {
		dot = strchr(name, '.');
		len = dot ? (size_t)(dot - name) : strlen(name);
		put8(m, (unsigned)len);
		memcpy(m->b + m->n, name, len);
		m->n += len;
		name += len;
		if (*name == '.')
			name++;
	}
	put8(m, 0);
}

/* An uncompressed record; rdata is a name when rdname is set. */
static void
put_rr(struct msg *m, const char *owner, unsigned type, unsigned ttl,
       const void *rdata, size_t rdlen, const char *rdname)
{
	size_t at;

	put_name(m, owner);
	put16(m, type);
	put16(m, 1);
	put16(m, ttl >> 16);
	put16(m, ttl & 0xffff);
	at = m->n;
	put16(m, 0);
	if (rdname != NULL) {
		put_name(m, rdname);
	} else {
		memcpy(m->b + m->n, rdata, rdlen);
		m->n += rdlen;
	}
	m->b[at] = (uint8_t)((m->n - at - 2) >> 8);
	m->b[at + 1] = (uint8_t)(m->n - at - 2);
}

static void
chain_message(struct msg *m, unsigned flags)
{
	uint8_t v4[4], v6[16];

	assert_int_equal(inet_pton(AF_INET, "192.0.2.10", v4), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::10", v6), 1);
	m->n = 0;
	put16(m, 0x4242);
	put16(m, flags);
	put16(m, 1);
	put16(m, 4);
	put16(m, 0);
	put16(m, 0);
	put_name(m, "www.example.com");
	put16(m, 1);
	put16(m, 1);
	put_rr(m, "www.example.com", 5, 300, NULL, 0, "a.cdn.net");
	put_rr(m, "a.cdn.net", 5, 300, NULL, 0, "b.cdn.net");
	put_rr(m, "b.cdn.net", 1, 20, v4, 4, NULL);
	put_rr(m, "b.cdn.net", 28, 30, v6, 16, NULL);
}

static struct sp_addr
addr(const char *s)
{
	struct sp_addr a;

	assert_true(sp_addr_parse(&a, s));
	return a;
}

static struct names_cache *
cache(size_t cap)
{
	struct names_cache *c = names_new(cap);

	assert_non_null(c);
	return c;
}

static void
test_order_and_max(void **state)
{
	struct names_cache *c = cache(16);
	struct sp_addr a = addr("192.0.2.1");
	struct sp_addr other = addr("192.0.2.2");
	const char *out[8];
	struct names_stats st;

	(void)state;
	names_add(c, &a, "one.example", 60, 0);
	names_add(c, &a, "two.example", 60, SEC);
	names_add(c, &a, "three.example", 60, 2 * SEC);
	assert_int_equal(names_lookup(c, &a, 3 * SEC, out, 8), 3);
	assert_string_equal(out[0], "three.example");
	assert_string_equal(out[1], "two.example");
	assert_string_equal(out[2], "one.example");
	assert_int_equal(names_lookup(c, &a, 3 * SEC, out, 2), 2);
	assert_string_equal(out[1], "two.example");
	assert_int_equal(names_lookup(c, &other, 3 * SEC, out, 8), 0);
	/* Refused: empty, too long, no address. */
	names_add(c, &a, "", 60, 0);
	memset(&other, 0, sizeof(other));
	names_add(c, &other, "x.example", 60, 0);
	names_stats(c, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.added, 3);
	names_free(c);
}

static void
test_ttl_expiry(void **state)
{
	struct names_cache *c = cache(16);
	struct sp_addr a = addr("2001:db8::1");
	const char *out[8];
	struct names_stats st;

	(void)state;
	names_add(c, &a, "short.example", 10, 100 * SEC);
	names_add(c, &a, "long.example", 100, 100 * SEC);
	names_add(c, &a, "zero.example", 0, 100 * SEC);
	assert_int_equal(names_lookup(c, &a, 100 * SEC, out, 8), 3);
	/* A TTL of 0 lasts a second. */
	assert_int_equal(names_lookup(c, &a, 101 * SEC - 1, out, 8), 3);
	assert_int_equal(names_lookup(c, &a, 101 * SEC, out, 8), 2);
	assert_int_equal(names_lookup(c, &a, 110 * SEC - 1, out, 8), 2);
	assert_int_equal(names_lookup(c, &a, 110 * SEC, out, 8), 1);
	assert_string_equal(out[0], "long.example");
	assert_int_equal(names_lookup(c, &a, 200 * SEC, out, 8), 0);

	/* The next add for the address drops what expired. */
	names_add(c, &a, "new.example", 10, 300 * SEC);
	assert_int_equal(names_lookup(c, &a, 300 * SEC, out, 8), 1);
	names_stats(c, &st);
	assert_int_equal(st.expired, 3);
	assert_int_equal(st.entries, 1);
	names_free(c);
}

static void
test_dedup(void **state)
{
	struct names_cache *c = cache(16);
	struct sp_addr a = addr("192.0.2.1");
	const char *out[8];
	struct names_stats st;

	(void)state;
	names_add(c, &a, "x.example", 10, 0);
	names_add(c, &a, "y.example", 10, SEC);
	/* The same name again, in another case: refreshed, made recent. */
	names_add(c, &a, "X.Example", 10, 5 * SEC);
	assert_int_equal(names_lookup(c, &a, 6 * SEC, out, 8), 2);
	assert_string_equal(out[0], "x.example");
	assert_string_equal(out[1], "y.example");
	assert_int_equal(names_lookup(c, &a, 12 * SEC, out, 8), 1);
	assert_string_equal(out[0], "x.example");
	assert_int_equal(names_lookup(c, &a, 15 * SEC, out, 8), 0);
	names_stats(c, &st);
	assert_int_equal(st.added, 2);
	names_free(c);
}

static void
test_per_address_limit(void **state)
{
	struct names_cache *c = cache(16);
	struct sp_addr a = addr("192.0.2.1");
	const char *out[16];
	char name[32];
	struct names_stats st;
	unsigned i;

	(void)state;
	for (i = 0; i < SP_NAMES_PER_ADDR + 1; i++) {
		snprintf(name, sizeof(name), "n%u.example", i);
		names_add(c, &a, name, 60, i);
	}
	assert_int_equal(names_lookup(c, &a, 100, out, 16), SP_NAMES_PER_ADDR);
	snprintf(name, sizeof(name), "n%u.example", SP_NAMES_PER_ADDR);
	assert_string_equal(out[0], name);
	assert_string_equal(out[SP_NAMES_PER_ADDR - 1], "n1.example");
	names_stats(c, &st);
	assert_int_equal(st.dropped, 1);
	names_free(c);
}

static void
test_cap_eviction(void **state)
{
	struct names_cache *c = cache(4);
	struct sp_addr a[5];
	const char *out[8];
	struct names_stats st;
	char s[32];
	unsigned i;

	(void)state;
	for (i = 0; i < 5; i++) {
		snprintf(s, sizeof(s), "192.0.2.%u", i + 1);
		a[i] = addr(s);
	}
	for (i = 0; i < 4; i++)
		names_add(c, &a[i], "x.example", 60, i * SEC);
	/* Adding to the first again makes it the most recent. */
	names_add(c, &a[0], "y.example", 60, 4 * SEC);
	names_add(c, &a[4], "x.example", 60, 5 * SEC);
	assert_int_equal(names_lookup(c, &a[1], 6 * SEC, out, 8), 0);
	assert_int_equal(names_lookup(c, &a[0], 6 * SEC, out, 8), 2);
	assert_int_equal(names_lookup(c, &a[2], 6 * SEC, out, 8), 1);
	assert_int_equal(names_lookup(c, &a[4], 6 * SEC, out, 8), 1);
	names_stats(c, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.expired, 0);

	/* An address whose names all expired goes first, as expired. */
	names_free(c);
	c = cache(2);
	names_add(c, &a[0], "old.example", 1, 0);
	names_add(c, &a[1], "live.example", 100, 0);
	names_add(c, &a[2], "new.example", 100, 50 * SEC);
	assert_int_equal(names_lookup(c, &a[1], 50 * SEC, out, 8), 1);
	assert_int_equal(names_lookup(c, &a[2], 50 * SEC, out, 8), 1);
	names_stats(c, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.dropped, 0);
	names_free(c);
}

static void
test_families(void **state)
{
	struct names_cache *c = cache(16);
	struct sp_addr v4 = addr("192.0.2.1");
	struct sp_addr mapped = addr("::ffff:192.0.2.1");
	const char *out[8];

	(void)state;
	names_add(c, &v4, "v4.example", 60, 0);
	names_add(c, &mapped, "v6.example", 60, 0);
	assert_int_equal(names_lookup(c, &v4, 0, out, 8), 1);
	assert_string_equal(out[0], "v4.example");
	assert_int_equal(names_lookup(c, &mapped, 0, out, 8), 1);
	assert_string_equal(out[0], "v6.example");
	names_free(c);
}

static struct packet
dns_packet(uint8_t proto, uint16_t sport, const uint8_t *payload, size_t len)
{
	struct packet p;

	memset(&p, 0, sizeof(p));
	p.src = addr("198.51.100.53");
	p.dst = addr("192.0.2.100");
	p.family = AF_INET;
	p.proto = proto;
	p.sport = sport;
	p.dport = 40000;
	p.payload.p = payload;
	p.payload.len = len;
	p.ip_len = (uint32_t)len + 28;
	return p;
}

static void
assert_chain(struct names_cache *c, const char *a, uint64_t now)
{
	struct sp_addr x = addr(a);
	const char *out[8];

	assert_int_equal(names_lookup(c, &x, now, out, 8), 3);
	/* The chain in its order: the question first. */
	assert_string_equal(out[0], "www.example.com");
	assert_string_equal(out[1], "a.cdn.net");
	assert_string_equal(out[2], "b.cdn.net");
}

static void
test_feed_udp(void **state)
{
	struct names_cache *c = cache(16);
	struct names_stats st;
	struct sp_addr x = addr("192.0.2.10");
	const char *out[8];
	struct packet p;
	struct msg m;
	uint8_t *g;

	(void)state;
	chain_message(&m, 0x8180);
	g = guard_copy(m.b, m.n);
	p = dns_packet(SP_PROTO_UDP, 53, g, m.n);
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_OK);
	assert_chain(c, "192.0.2.10", 0);
	assert_chain(c, "2001:db8::10", 0);
	/* The A record's TTL (20 s), not the CNAMEs' (300 s). */
	assert_int_equal(names_lookup(c, &x, 20 * SEC, out, 8), 0);
	x = addr("2001:db8::10");
	assert_int_equal(names_lookup(c, &x, 20 * SEC, out, 8), 3);

	/* mDNS's port too. */
	p.sport = 5353;
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_OK);
	names_stats(c, &st);
	assert_int_equal(st.answers, 2);
	assert_int_equal(st.bad, 0);
	assert_int_equal(st.added, 6);
	guard_free(g);
	names_free(c);
}

static void
test_feed_tcp(void **state)
{
	struct names_cache *c = cache(16);
	struct names_stats st;
	uint8_t seg[2048], *g;
	struct packet p;
	struct msg m;

	(void)state;
	chain_message(&m, 0x8180);
	seg[0] = (uint8_t)(m.n >> 8);
	seg[1] = (uint8_t)m.n;
	memcpy(seg + 2, m.b, m.n);
	g = guard_copy(seg, m.n + 2);
	p = dns_packet(SP_PROTO_TCP, 53, g, m.n + 2);
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_OK);
	assert_chain(c, "192.0.2.10", 0);
	/* The same bytes as UDP are not a length-prefixed message. */
	p.proto = SP_PROTO_UDP;
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_NOT_ANSWER);
	/* A bare ACK from port 53 carries nothing. */
	p = dns_packet(SP_PROTO_TCP, 53, NULL, 0);
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_NOT_ANSWER);
	names_stats(c, &st);
	assert_int_equal(st.answers, 1);
	assert_int_equal(st.bad, 0);
	guard_free(g);
	names_free(c);
}

static void
test_feed_ignored(void **state)
{
	struct names_cache *c = cache(16);
	struct names_stats st;
	struct packet p;
	struct msg m;
	uint8_t *g;

	(void)state;
	chain_message(&m, 0x8180);
	g = guard_copy(m.b, m.n);
	/* Not from a DNS port, not UDP/TCP, a later fragment. */
	p = dns_packet(SP_PROTO_UDP, 1053, g, m.n);
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_NOT_ANSWER);
	p = dns_packet(SP_PROTO_ICMP, 53, g, m.n);
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_NOT_ANSWER);
	p = dns_packet(SP_PROTO_UDP, 53, g, m.n);
	p.flags = PACKET_F_FRAG | PACKET_F_FRAG_LATER;
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_NOT_ANSWER);
	/* Cut short, or malformed: counted as bad, teaches nothing. */
	p = dns_packet(SP_PROTO_UDP, 53, g, 30);
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_SHORT);
	guard_free(g);
	m.b[12] = 0x41; /* the question's first label: a retired type */
	g = guard_copy(m.b, m.n);
	p = dns_packet(SP_PROTO_UDP, 53, g, m.n);
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_BAD);
	guard_free(g);

	/* A query from the mDNS port. */
	chain_message(&m, 0x0000);
	g = guard_copy(m.b, m.n);
	p = dns_packet(SP_PROTO_UDP, 5353, g, m.n);
	assert_int_equal(names_feed_packet(c, &p, 0), DNS_NOT_ANSWER);
	guard_free(g);

	names_stats(c, &st);
	assert_int_equal(st.answers, 0);
	assert_int_equal(st.bad, 2);
	assert_int_equal(st.entries, 0);
	names_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_order_and_max),
	        cmocka_unit_test(test_ttl_expiry),
	        cmocka_unit_test(test_dedup),
	        cmocka_unit_test(test_per_address_limit),
	        cmocka_unit_test(test_cap_eviction),
	        cmocka_unit_test(test_families),
	        cmocka_unit_test(test_feed_udp),
	        cmocka_unit_test(test_feed_tcp),
	        cmocka_unit_test(test_feed_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the DNS answer parser, every input flush against a guard page. */
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

#define T_A     1
#define T_CNAME 5
#define T_MX    15
#define T_TXT   16
#define T_AAAA  28
#define C_IN    1

/* A message being written. */
struct msg {
	uint8_t b[4096];
	size_t n;
};

/* What the callback was given. */
static struct {
	struct dns_addr_names v[80];
	size_t n;
} got;

static void
collect(const struct dns_addr_names *an, void *arg)
{
	(void)arg;
	assert_true(got.n < 80);
	assert_true(an->n >= 1 && an->n <= SP_NAMES_PER_ADDR);
	got.v[got.n++] = *an;
}

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
put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

/* Labels of a dotted name, uncompressed, with the final zero. */
static size_t
put_name(struct msg *m, const char *name)
{
	size_t at = m->n;
	const char *dot;
	size_t len;

	while (*name != '\0') {
		dot = strchr(name, '.');
		len = dot ? (size_t)(dot - name) : strlen(name);
		put8(m, (unsigned)len);
		assert_true(m->n + len <= sizeof(m->b));
		memcpy(m->b + m->n, name, len);
		m->n += len;
		name += len;
		if (*name == '.')
			name++;
	}
	put8(m, 0);
	return at;
}

static size_t
put_ptr(struct msg *m, size_t off)
{
	size_t at = m->n;

	put16(m, 0xc000 | (unsigned)off);
	return at;
}

static void
put_header(struct msg *m, unsigned flags, unsigned qd, unsigned an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

/* A question; returns where its name is. */
static size_t
put_question(struct msg *m, const char *name, unsigned type)
{
	size_t at = put_name(m, name);

	put16(m, type);
	put16(m, C_IN);
	return at;
}

/* TYPE .. RDLENGTH after an owner; returns where RDLENGTH is. */
static size_t
put_rr(struct msg *m, unsigned type, uint32_t ttl)
{
	size_t at;

	put16(m, type);
	put16(m, C_IN);
	put32(m, ttl);
	at = m->n;
	put16(m, 0);
	return at;
}

static void
end_rr(struct msg *m, size_t rdlen_at)
{
	size_t len = m->n - rdlen_at - 2;

	m->b[rdlen_at] = (uint8_t)(len >> 8);
	m->b[rdlen_at + 1] = (uint8_t)len;
}

static void
put_a(struct msg *m, uint32_t ttl, const char *addr)
{
	uint8_t buf[16];
	size_t at = put_rr(m, T_A, ttl);

	assert_int_equal(inet_pton(AF_INET, addr, buf), 1);
	memcpy(m->b + m->n, buf, 4);
	m->n += 4;
	end_rr(m, at);
}

static void
put_aaaa(struct msg *m, uint32_t ttl, const char *addr)
{
	uint8_t buf[16];
	size_t at = put_rr(m, T_AAAA, ttl);

	assert_int_equal(inet_pton(AF_INET6, addr, buf), 1);
	memcpy(m->b + m->n, buf, 16);
	m->n += 16;
	end_rr(m, at);
}

/* A CNAME with an uncompressed target; returns where the target is. */
static size_t
put_cname(struct msg *m, uint32_t ttl, const char *target)
{
	size_t at = put_rr(m, T_CNAME, ttl), name;

	name = put_name(m, target);
	end_rr(m, at);
	return name;
}

static enum dns_status
parse_len(const struct msg *m, size_t len)
{
	uint8_t *g = guard_copy(m->b, len);
	enum dns_status s;

	memset(&got, 0, sizeof(got));
	s = dns_parse_response(g, len, collect, NULL);
	guard_free(g);
	return s;
}

static enum dns_status
parse(const struct msg *m)
{
	return parse_len(m, m->n);
}

static enum dns_status
parse_tcp_len(const uint8_t *p, size_t len)
{
	uint8_t *g = guard_copy(p, len);
	enum dns_status s;

	memset(&got, 0, sizeof(got));
	s = dns_parse_tcp(g, len, collect, NULL);
	guard_free(g);
	return s;
}

static void
assert_addr(const struct dns_addr_names *an, const char *want)
{
	struct sp_addr a;

	assert_true(sp_addr_parse(&a, want));
	assert_true(sp_addr_equal(&an->addr, &a));
}

static void
assert_names(const struct dns_addr_names *an, const char *const *want,
             unsigned n)
{
	unsigned i;

	assert_int_equal(an->n, n);
	for (i = 0; i < n; i++)
		assert_string_equal(an->names[i], want[i]);
}

/*
 * www.example.com CNAME a.cdn.net CNAME b.cdn.net, A and AAAA, compressed
 * as a server writes it: owners point back, b.cdn.net reuses "cdn.net".
 */
static void
chain_message(struct msg *m)
{
	size_t q, a, b, at;

	put_header(m, 0x8180, 1, 4);
	q = put_question(m, "www.example.com", T_A);
	put_ptr(m, q);
	a = put_cname(m, 300, "a.cdn.net");
	put_ptr(m, a);
	at = put_rr(m, T_CNAME, 60);
	b = m->n;
	put8(m, 1);
	put8(m, 'b');
	put_ptr(m, a + 2);
	end_rr(m, at);
	put_ptr(m, b);
	put_a(m, 20, "192.0.2.10");
	put_ptr(m, b);
	put_aaaa(m, 30, "2001:db8::10");
}

static const char *const chain3[] = {"www.example.com", "a.cdn.net",
                                     "b.cdn.net"};

static void
test_cname_chain(void **state)
{
	struct msg m;

	(void)state;
	chain_message(&m);
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, 2);
	assert_addr(&got.v[0], "192.0.2.10");
	assert_int_equal(got.v[0].ttl, 20);
	assert_names(&got.v[0], chain3, 3);
	assert_addr(&got.v[1], "2001:db8::10");
	assert_int_equal(got.v[1].ttl, 30);
	assert_names(&got.v[1], chain3, 3);
}

static void
test_truncated_every_prefix(void **state)
{
	uint8_t framed[4098];
	struct msg m;
	size_t len;

	(void)state;
	chain_message(&m);
	for (len = 0; len < m.n; len++) {
		assert_int_equal(parse_len(&m, len), DNS_SHORT);
		assert_int_equal(got.n, 0);
	}
	framed[0] = (uint8_t)(m.n >> 8);
	framed[1] = (uint8_t)m.n;
	memcpy(framed + 2, m.b, m.n);
	assert_int_equal(parse_tcp_len(framed, 0), DNS_NOT_ANSWER);
	for (len = 1; len < m.n + 2; len++) {
		assert_int_equal(parse_tcp_len(framed, len), DNS_SHORT);
		assert_int_equal(got.n, 0);
	}
	assert_int_equal(parse_tcp_len(framed, m.n + 2), DNS_OK);
	assert_int_equal(got.n, 2);
}

static void
test_tcp_two_messages(void **state)
{
	uint8_t seg[8192];
	struct msg m1, m2;
	size_t n = 0;

	(void)state;
	chain_message(&m1);
	put_header(&m2, 0x8180, 1, 1);
	put_ptr(&m2, put_question(&m2, "ns.example.org", T_A));
	put_a(&m2, 5, "198.51.100.53");

	seg[n++] = (uint8_t)(m1.n >> 8);
	seg[n++] = (uint8_t)m1.n;
	memcpy(seg + n, m1.b, m1.n);
	n += m1.n;
	seg[n++] = (uint8_t)(m2.n >> 8);
	seg[n++] = (uint8_t)m2.n;
	memcpy(seg + n, m2.b, m2.n);
	n += m2.n;
	assert_int_equal(parse_tcp_len(seg, n), DNS_OK);
	assert_int_equal(got.n, 3);
	assert_addr(&got.v[2], "198.51.100.53");
	assert_string_equal(got.v[2].names[0], "ns.example.org");

	/* A third message cut at the segment's end: the first two count. */
	seg[n++] = 0;
	seg[n++] = 40;
	memcpy(seg + n, m2.b, 10);
	n += 10;
	assert_int_equal(parse_tcp_len(seg, n), DNS_SHORT);
	assert_int_equal(got.n, 3);

	/* A frame whose message is short of its own fields is bad. */
	n = 0;
	seg[n++] = 0;
	seg[n++] = 20;
	memcpy(seg + n, m2.b, 20);
	n += 20;
	assert_int_equal(parse_tcp_len(seg, n), DNS_BAD);
}

static void
test_query_not_answer(void **state)
{
	struct msg m;
	size_t q;

	(void)state;
	/* A query, even one that carries a record. */
	put_header(&m, 0x0100, 1, 0);
	put_question(&m, "www.example.com", T_A);
	assert_int_equal(parse(&m), DNS_NOT_ANSWER);
	put_header(&m, 0x0100, 1, 1);
	put_ptr(&m, put_question(&m, "www.example.com", T_A));
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_NOT_ANSWER);
	assert_int_equal(got.n, 0);

	/* NXDOMAIN: no answers. */
	put_header(&m, 0x8183, 1, 0);
	put_question(&m, "nx.example.com", T_A);
	assert_int_equal(parse(&m), DNS_NOT_ANSWER);

	/* Answers without any address. */
	put_header(&m, 0x8180, 1, 2);
	q = put_question(&m, "example.com", T_MX);
	put_ptr(&m, q);
	end_rr(&m, put_rr(&m, T_MX, 60));
	put_ptr(&m, q);
	put_cname(&m, 60, "other.example.com");
	assert_int_equal(parse(&m), DNS_NOT_ANSWER);

	/* An answer with a nonzero RCODE still teaches its addresses. */
	put_header(&m, 0x8182, 1, 1);
	put_ptr(&m, put_question(&m, "odd.example", T_A));
	put_a(&m, 5, "192.0.2.7");
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, 1);

	assert_string_equal(dns_status_name(DNS_NOT_ANSWER), "not an answer");
}

static void
test_compression_and_case(void **state)
{
	static const char *const want[] = {"www.example.com",
	                                   "cdn.example.com"};
	struct msg m;
	size_t q, at;

	(void)state;
	put_header(&m, 0x8180, 1, 2);
	q = put_question(&m, "WWW.Example.COM", T_A);
	put_ptr(&m, q);
	/* "cdn" + the suffix "example.com" of the question. */
	at = put_rr(&m, T_CNAME, 60);
	put8(&m, 3);
	put8(&m, 'C');
	put8(&m, 'd');
	put8(&m, 'N');
	put_ptr(&m, q + 4);
	end_rr(&m, at);
	/* The A owner written out, in another case. */
	put_name(&m, "cdn.EXAMPLE.com");
	put_a(&m, 7, "192.0.2.33");
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_names(&got.v[0], want, 2);
}

static void
test_pointer_loop(void **state)
{
	struct msg m;
	size_t at;

	(void)state;
	/* A pointer to itself. */
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, 12);
	put16(&m, T_A);
	put16(&m, C_IN);
	put_ptr(&m, 12);
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_BAD);

	/* A label, then a pointer back to that label: a loop. */
	put_header(&m, 0x8180, 1, 1);
	put8(&m, 1);
	put8(&m, 'a');
	put_ptr(&m, 12);
	put16(&m, T_A);
	put16(&m, C_IN);
	put_ptr(&m, 12);
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_BAD);

	/* Two names pointing at each other, met through the answer. */
	put_header(&m, 0x8180, 1, 2);
	put_question(&m, "q.example", T_A);
	at = m.n; /* owner of the first record: "x" then a pointer ahead */
	put8(&m, 1);
	put8(&m, 'x');
	put_ptr(&m, at + 4 + 10);
	end_rr(&m, put_rr(&m, T_TXT, 5));
	assert_int_equal(m.n, at + 14);
	put8(&m, 1); /* "y" then a pointer back to "x" */
	put8(&m, 'y');
	put_ptr(&m, at);
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_BAD);
	assert_int_equal(got.n, 0);
}

static void
test_forward_pointer(void **state)
{
	struct msg m;

	(void)state;
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, 20);
	put16(&m, T_A);
	put16(&m, C_IN);
	put_name(&m, "x.example"); /* at 18, so 20 is inside it */
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_BAD);

	/* Into the header. */
	put_header(&m, 0x8180, 1, 1);
	put_question(&m, "x.example", T_A);
	put_ptr(&m, 4);
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_BAD);
}

/* An A record whose owner is reached through 2 + j pointers. */
static enum dns_status
jumps_message(unsigned j)
{
	struct msg m;
	size_t q, at, p[32];
	unsigned i;

	put_header(&m, 0x8180, 1, 2);
	q = put_question(&m, "deep.example", T_A);
	put_ptr(&m, q);
	at = put_rr(&m, T_TXT, 5);
	p[0] = put_ptr(&m, q);
	for (i = 1; i <= j; i++)
		p[i] = put_ptr(&m, p[i - 1]);
	end_rr(&m, at);
	put_ptr(&m, p[j]);
	put_a(&m, 5, "192.0.2.2");
	return parse(&m);
}

static void
test_jumps_limit(void **state)
{
	(void)state;
	assert_int_equal(SP_DNS_JUMPS_MAX, 16);
	assert_int_equal(jumps_message(SP_DNS_JUMPS_MAX - 2), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.v[0].names[0], "deep.example");
	assert_int_equal(jumps_message(SP_DNS_JUMPS_MAX - 1), DNS_BAD);
}

static void
test_bad_names(void **state)
{
	char label[64], name[300];
	struct msg m;
	size_t i;

	(void)state;
	/* A label type 01 (RFC 6891 retired it). */
	put_header(&m, 0x8180, 1, 1);
	put8(&m, 0x41);
	put8(&m, 0);
	put16(&m, T_A);
	put16(&m, C_IN);
	put_ptr(&m, 12);
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_BAD);

	/* 253 characters fit, 255 do not. */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", label, label, label,
	         label);
	assert_int_equal(strlen(name), 253);
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, put_question(&m, name, T_A));
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_OK);
	assert_string_equal(got.v[0].names[0], name);
	snprintf(name, sizeof(name), "%s.%s.%s.%s", label, label, label, label);
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, put_question(&m, name, T_A));
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_BAD);

	/* A name put together from pointers that grows too long. */
	put_header(&m, 0x8180, 1, 1);
	snprintf(name, sizeof(name), "%s.%s.%s", label, label, label);
	i = put_question(&m, name, T_A);
	put8(&m, 63);
	memcpy(m.b + m.n, label, 63);
	m.n += 63;
	put_ptr(&m, i);
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_BAD);

	/* A byte we will not put in a name makes it unusable, not bad. */
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, put_question(&m, "a b.example", T_A));
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_NOT_ANSWER);
	put_header(&m, 0x8180, 1, 2);
	put_ptr(&m, put_question(&m, "good.example", T_A));
	/* The target's first label is "dot.in": six bytes with a dot. */
	i = put_rr(&m, T_CNAME, 5);
	put8(&m, 6);
	memcpy(m.b + m.n, "dot.in", 6);
	m.n += 6;
	put_name(&m, "example");
	end_rr(&m, i);
	put_ptr(&m, 12);
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].n, 1);
	assert_string_equal(got.v[0].names[0], "good.example");
}

static void
test_rdata_lengths(void **state)
{
	struct msg m;
	size_t at;

	(void)state;
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, put_question(&m, "x.example", T_A));
	at = put_rr(&m, T_A, 5);
	put32(&m, 0xc0000201);
	put8(&m, 0);
	end_rr(&m, at);
	assert_int_equal(parse(&m), DNS_BAD);

	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, put_question(&m, "x.example", T_AAAA));
	at = put_rr(&m, T_AAAA, 5);
	put32(&m, 0x20010db8);
	end_rr(&m, at);
	assert_int_equal(parse(&m), DNS_BAD);

	/* A CNAME whose name stops before its RDATA does. */
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, put_question(&m, "x.example", T_A));
	at = put_rr(&m, T_CNAME, 5);
	put_name(&m, "y.example");
	put8(&m, 0);
	end_rr(&m, at);
	assert_int_equal(parse(&m), DNS_BAD);

	/* RDLENGTH past the end. */
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, put_question(&m, "x.example", T_A));
	at = put_rr(&m, T_A, 5);
	put32(&m, 0xc0000201);
	end_rr(&m, at);
	m.b[at + 1] = 5;
	assert_int_equal(parse(&m), DNS_SHORT);
}

static void
test_owner_off_chain(void **state)
{
	static const char *const other[] = {"other.example"};
	static const char *const xy[] = {"x.example", "y.example"};
	struct msg m;
	size_t x;

	(void)state;
	put_header(&m, 0x8180, 1, 3);
	put_question(&m, "q.example", T_A);
	put_name(&m, "other.example");
	put_a(&m, 5, "192.0.2.1");
	x = put_name(&m, "x.example");
	put_cname(&m, 5, "y.example");
	put_name(&m, "y.example");
	put_a(&m, 5, "192.0.2.2");
	(void)x;
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, 2);
	assert_names(&got.v[0], other, 1);
	assert_names(&got.v[1], xy, 2);
}

static void
test_cname_loop(void **state)
{
	static const char *const a[] = {"a.example"};
	static const char *const ab[] = {"a.example", "b.example"};
	struct msg m;

	(void)state;
	put_header(&m, 0x8180, 1, 4);
	put_question(&m, "a.example", T_A);
	put_name(&m, "a.example");
	put_cname(&m, 5, "b.example");
	put_name(&m, "b.example");
	put_cname(&m, 5, "a.example");
	put_name(&m, "a.example");
	put_a(&m, 5, "192.0.2.1");
	put_name(&m, "b.example");
	put_a(&m, 5, "192.0.2.2");
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, 2);
	assert_names(&got.v[0], a, 1);
	assert_names(&got.v[1], ab, 2);
}

static void
test_long_chain(void **state)
{
	char name[32];
	struct msg m;
	unsigned i;

	(void)state;
	/* n0 -> n1 -> ... -> n11, A for n11: twelve names. */
	put_header(&m, 0x8180, 1, 12);
	put_question(&m, "n0.example", T_A);
	for (i = 0; i < 11; i++) {
		snprintf(name, sizeof(name), "n%u.example", i);
		put_name(&m, name);
		snprintf(name, sizeof(name), "n%u.example", i + 1);
		put_cname(&m, 5, name);
	}
	put_name(&m, "n11.example");
	put_a(&m, 5, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].n, SP_NAMES_PER_ADDR);
	/* The question, then the end of the chain. */
	assert_string_equal(got.v[0].names[0], "n0.example");
	assert_string_equal(got.v[0].names[1], "n5.example");
	assert_string_equal(got.v[0].names[SP_NAMES_PER_ADDR - 1],
	                    "n11.example");
}

static void
test_records_cap(void **state)
{
	char addr[32];
	struct msg m;
	size_t q;
	unsigned i;

	(void)state;
	put_header(&m, 0x8180, 1, 70);
	q = put_question(&m, "many.example", T_A);
	for (i = 0; i < 70; i++) {
		put_ptr(&m, q);
		snprintf(addr, sizeof(addr), "10.0.0.%u", i);
		put_a(&m, 5, addr);
	}
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, SP_DNS_RECORDS_MAX);
	assert_addr(&got.v[63], "10.0.0.63");
}

static void
test_mdns_and_ttl(void **state)
{
	static const char *const want[] = {"printer.local"};
	struct msg m;
	size_t at;

	(void)state;
	/* mDNS: no question, cache-flush bit in CLASS. */
	put_header(&m, 0x8400, 0, 2);
	put_name(&m, "Printer.local");
	at = m.n;
	put_a(&m, 120, "192.168.1.20");
	m.b[at + 2] = 0x80;
	/* Another class: not an address of ours. */
	put_name(&m, "chaos.local");
	at = m.n;
	put_a(&m, 120, "192.168.1.21");
	m.b[at + 3] = 3;
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.n, 1);
	assert_names(&got.v[0], want, 1);
	assert_int_equal(got.v[0].ttl, 120);

	/* A TTL with the top bit set means zero (RFC 2181 8). */
	put_header(&m, 0x8180, 1, 1);
	put_ptr(&m, put_question(&m, "x.example", T_A));
	put_a(&m, 0x80000000u, "192.0.2.1");
	assert_int_equal(parse(&m), DNS_OK);
	assert_int_equal(got.v[0].ttl, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cname_chain),
	        cmocka_unit_test(test_truncated_every_prefix),
	        cmocka_unit_test(test_tcp_two_messages),
	        cmocka_unit_test(test_query_not_answer),
	        cmocka_unit_test(test_compression_and_case),
	        cmocka_unit_test(test_pointer_loop),
	        cmocka_unit_test(test_forward_pointer),
	        cmocka_unit_test(test_jumps_limit),
	        cmocka_unit_test(test_bad_names),
	        cmocka_unit_test(test_rdata_lengths),
	        cmocka_unit_test(test_owner_off_chain),
	        cmocka_unit_test(test_cname_loop),
	        cmocka_unit_test(test_long_chain),
	        cmocka_unit_test(test_records_cap),
	        cmocka_unit_test(test_mdns_and_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

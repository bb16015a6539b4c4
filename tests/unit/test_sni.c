/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SNI and Host parsers: real and built ClientHellos, HTTP requests,
 * every prefix, each input flush against a PROT_NONE page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "spackle/classify.h"
#include "spackle/sni.h"
#include "tests/tools/capgen.h"

/* `openssl s_client -servername www.Example.com` (OpenSSL 3.0), whole. */
static const uint8_t real_hello[] = {
        0x16, 0x03, 0x01, 0x01, 0x3c, 0x01, 0x00, 0x01, 0x38, 0x03, 0x03, 0x18,
        0x62, 0x28, 0x50, 0x77, 0x97, 0x46, 0xae, 0x5b, 0x53, 0xd3, 0x66, 0xf2,
        0x98, 0xd2, 0x82, 0x00, 0x8a, 0x0b, 0x0c, 0x36, 0x90, 0xb3, 0x90, 0x48,
        0xa9, 0xca, 0x37, 0x9f, 0xae, 0x59, 0x62, 0x20, 0xc9, 0x6d, 0x36, 0xa5,
        0x70, 0xc6, 0x01, 0xdc, 0xa0, 0xd4, 0xc3, 0x34, 0xd7, 0x50, 0xdf, 0x9b,
        0x01, 0xf3, 0xea, 0x8b, 0x8a, 0x02, 0xe3, 0x12, 0xb2, 0xbe, 0x67, 0x9b,
        0x42, 0x3e, 0x15, 0x42, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
        0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
        0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
        0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
        0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
        0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xb1,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 0x77, 0x77, 0x77,
        0x2e, 0x45, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d,
        0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
        0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18,
        0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23,
        0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d,
        0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
        0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05,
        0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01,
        0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09,
        0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00,
        0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00,
        0x20, 0x6c, 0x4e, 0x9d, 0x39, 0xc5, 0xc9, 0xf9, 0xe8, 0x86, 0xea, 0x1c,
        0xd9, 0xed, 0x21, 0xe0, 0x26, 0xd4, 0xc2, 0x73, 0x3b, 0x47, 0xf0, 0x2a,
        0xda, 0x4a, 0x26, 0xf1, 0x0c, 0xc6, 0xa0, 0x10, 0x7c};

/* A ClientHello builder: lengths are patched when a vector closes. */
struct hb {
	uint8_t b[8192];
	size_t n;
	size_t open[8];
	size_t lenbytes[8];
	int depth;
};

static void
put8(struct hb *h, unsigned v)
{
	assert_true(h->n < sizeof(h->b));
	h->b[h->n++] = (uint8_t)v;
}

static void
put16(struct hb *h, unsigned v)
{
	put8(h, v >> 8);
	put8(h, v & 0xff);
}

static void
put_bytes(struct hb *h, const void *p, size_t n)
{
	assert_true(h->n + n <= sizeof(h->b));
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

/* Open a vector whose length takes lb bytes (1, 2 or 3). */
static void
vec_open(struct hb *h, size_t lb)
{
	h->open[h->depth] = h->n;
	h->lenbytes[h->depth] = lb;
	h->depth++;
	while (lb-- > 0)
		put8(h, 0);
}

static void
vec_close(struct hb *h)
{
	size_t at, lb, len, i;

	h->depth--;
	at = h->open[h->depth];
	lb = h->lenbytes[h->depth];
	len = h->n - at - lb;
	for (i = 0; i < lb; i++)
		h->b[at + i] = (uint8_t)(len >> (8 * (lb - 1 - i)));
}

static void
ext_sni(struct hb *h, const char *name)
{
	put16(h, 0); /* server_name */
	vec_open(h, 2);
	vec_open(h, 2);
	put8(h, 0); /* host_name */
	vec_open(h, 2);
	put_bytes(h, name, strlen(name));
	vec_close(h);
	vec_close(h);
	vec_close(h);
}

static void
ext_other(struct hb *h, unsigned type, size_t len)
{
	put16(h, type);
	vec_open(h, 2);
	while (len-- > 0)
		put8(h, 0x5a);
	vec_close(h);
}

/* Record header, handshake header, fixed fields; extensions left open. */
static void
hello_begin(struct hb *h)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	put8(h, 22);
	put16(h, 0x0301);
	vec_open(h, 2); /* record */
	put8(h, 1);
	vec_open(h, 3); /* handshake */
	put16(h, 0x0303);
	for (i = 0; i < 32; i++)
		put8(h, (unsigned)i);
	put8(h, 0); /* session id */
	put16(h, 4);
	put16(h, 0x1301);
	put16(h, 0x1302);
	put8(h, 1);
	put8(h, 0);
	vec_open(h, 2); /* extensions */
}

static void
hello_end(struct hb *h)
{
	vec_close(h);
	vec_close(h);
	vec_close(h);
	assert_int_equal(h->depth, 0);
}

static enum sni_status
tls(const uint8_t *p, size_t len, char *out)
{
	uint8_t *g = guard_copy(p, len);
	struct sp_view v;
	enum sni_status s = sni_parse_tls(g, len, &v);

	out[0] = '\0';
	if (s == SNI_OK) {
		assert_true(v.p >= g && v.p + v.len <= g + len);
		memcpy(out, v.p, v.len < 300 ? v.len : 299);
		out[v.len < 300 ? v.len : 299] = '\0';
	}
	guard_free(g);
	return s;
}

static enum sni_status
http(const char *text, size_t len, char *out)
{
	uint8_t *g = guard_copy(text, len);
	struct sp_view v;
	enum sni_status s = sni_parse_http(g, len, &v);

	out[0] = '\0';
	if (s == SNI_OK) {
		assert_true(v.p >= g && v.p + v.len <= g + len);
		memcpy(out, v.p, v.len < 300 ? v.len : 299);
		out[v.len < 300 ? v.len : 299] = '\0';
	}
	guard_free(g);
	return s;
}

static void
test_real_hello(void **state)
{
	char out[300], norm[SP_NAME_MAX + 1];
	struct sp_view v;
	enum sni_kind kind = 0;

	(void)state;
	assert_int_equal(tls(real_hello, sizeof(real_hello), out), SNI_OK);
	assert_string_equal(out, "www.Example.com");
	assert_int_equal(sni_parse(real_hello, sizeof(real_hello), &kind, &v),
	                 SNI_OK);
	assert_int_equal(kind, SNI_KIND_TLS);
	assert_true(sni_name_normalize(kind, &v, norm));
	assert_string_equal(norm, "www.example.com");
}

/* Every prefix: SHORT until the name is whole, then OK; never BAD. */
static void
prefixes_tls(const uint8_t *p, size_t len, const char *want)
{
	char out[300];
	size_t k, first_ok = 0;
	enum sni_status s;

	for (k = 0; k <= len; k++) {
		s = tls(p, k, out);
		if (s == SNI_OK) {
			assert_string_equal(out, want);
			if (first_ok == 0)
				first_ok = k;
		} else {
			assert_int_equal(s, SNI_SHORT);
			assert_int_equal(first_ok, 0);
		}
	}
	assert_true(first_ok > 0);
}

static void
test_real_hello_prefixes(void **state)
{
	(void)state;
	prefixes_tls(real_hello, sizeof(real_hello), "www.Example.com");
}

static void
test_built(void **state)
{
	struct hb h;
	char out[300];

	(void)state;
	/* SNI after other extensions, then more after it. */
	hello_begin(&h);
	ext_other(&h, 0x000a, 8);
	ext_other(&h, 0x002b, 3);
	ext_sni(&h, "late.example");
	ext_other(&h, 0x0010, 40);
	hello_end(&h);
	assert_int_equal(tls(h.b, h.n, out), SNI_OK);
	assert_string_equal(out, "late.example");
	prefixes_tls(h.b, h.n, "late.example");

	/* No server_name: NONE, and every prefix SHORT before that. */
	hello_begin(&h);
	ext_other(&h, 0x000a, 8);
	hello_end(&h);
	assert_int_equal(tls(h.b, h.n, out), SNI_NONE);
	assert_int_equal(tls(h.b, h.n - 1, out), SNI_SHORT);

	/* No extensions at all. */
	hello_begin(&h);
	h.n -= 2;
	h.depth--;
	vec_close(&h);
	vec_close(&h);
	assert_int_equal(tls(h.b, h.n, out), SNI_NONE);

	/* The second entry of the list is a host_name after an unknown one. */
	hello_begin(&h);
	put16(&h, 0);
	vec_open(&h, 2);
	vec_open(&h, 2);
	put8(&h, 7);
	put16(&h, 2);
	put16(&h, 0xabcd);
	put8(&h, 0);
	vec_open(&h, 2);
	put_bytes(&h, "second.example", 14);
	vec_close(&h);
	vec_close(&h);
	vec_close(&h);
	hello_end(&h);
	assert_int_equal(tls(h.b, h.n, out), SNI_OK);
	assert_string_equal(out, "second.example");
}

static void
test_not_hello(void **state)
{
	static const uint8_t appdata[] = {23, 3, 3, 0, 5, 1, 2, 3, 4, 5};
	static const uint8_t server_hello[] = {22, 3, 3, 0, 4, 2, 0, 0, 0};
	static const uint8_t v2[] = {0x80, 0x2e, 0x01, 0x00, 0x02};
	static const uint8_t notv3[] = {22, 2, 0, 0, 4, 1, 0, 0, 0};
	static const uint8_t tiny[] = {22, 3};
	char out[300];
	enum sni_kind kind;
	struct sp_view v;

	(void)state;
	assert_int_equal(tls(appdata, sizeof(appdata), out), SNI_NONE);
	assert_int_equal(tls(server_hello, sizeof(server_hello), out),
	                 SNI_NONE);
	assert_int_equal(tls(v2, sizeof(v2), out), SNI_NONE);
	assert_int_equal(tls(notv3, sizeof(notv3), out), SNI_NONE);
	assert_int_equal(tls(tiny, sizeof(tiny), out), SNI_SHORT);
	assert_int_equal(tls(tiny, 0, out), SNI_SHORT);
	assert_int_equal(sni_parse(v2, sizeof(v2), &kind, &v), SNI_NONE);
	assert_int_equal(sni_parse((const uint8_t *)"\x01\x02", 2, &kind, &v),
	                 SNI_NONE);
}

static void
test_bad_lengths(void **state)
{
	struct hb h;
	char out[300];
	size_t at;

	(void)state;
	/* Session id of 33 bytes. */
	hello_begin(&h);
	ext_sni(&h, "x.example");
	hello_end(&h);
	at = 5 + 4 + 34;
	h.b[at] = 33;
	assert_int_equal(tls(h.b, h.n, out), SNI_BAD);

	/* Odd cipher suites length. */
	hello_begin(&h);
	ext_sni(&h, "x.example");
	hello_end(&h);
	h.b[at + 2] = 3;
	assert_int_equal(tls(h.b, h.n, out), SNI_BAD);

	/* Extensions longer than the handshake. */
	hello_begin(&h);
	ext_sni(&h, "x.example");
	hello_end(&h);
	at = 5 + 4 + 34 + 1 + 2 + 4 + 2;
	h.b[at] = 0x40;
	assert_int_equal(tls(h.b, h.n, out), SNI_BAD);

	/* An empty host_name. */
	hello_begin(&h);
	ext_sni(&h, "");
	hello_end(&h);
	assert_int_equal(tls(h.b, h.n, out), SNI_BAD);

	/* A name longer than its list. */
	hello_begin(&h);
	ext_sni(&h, "x.example");
	hello_end(&h);
	h.b[h.n - 9 - 1] = 0x20;
	assert_int_equal(tls(h.b, h.n, out), SNI_BAD);

	/* A record longer than TLS allows. */
	hello_begin(&h);
	ext_sni(&h, "x.example");
	hello_end(&h);
	h.b[3] = 0x7f;
	assert_int_equal(tls(h.b, h.n, out), SNI_BAD);

	/* A record too short for a handshake header. */
	hello_begin(&h);
	hello_end(&h);
	h.b[3] = 0;
	h.b[4] = 2;
	assert_int_equal(tls(h.b, 7, out), SNI_BAD);
}

/* A ClientHello fragmented over two records (RFC 8446 5.1). */
static void
test_fragmented(void **state)
{
	struct hb h;
	char out[300];
	size_t cut;

	(void)state;
	hello_begin(&h);
	ext_sni(&h, "first.example");
	ext_other(&h, 0x0015, 300);
	hello_end(&h);
	/* The record says it ends 100 bytes early: the rest is "later". */
	cut = h.n - 100;
	h.b[3] = (uint8_t)((cut - 5) >> 8);
	h.b[4] = (uint8_t)(cut - 5);
	assert_int_equal(tls(h.b, cut, out), SNI_OK);
	assert_string_equal(out, "first.example");

	hello_begin(&h);
	ext_other(&h, 0x0015, 300);
	ext_sni(&h, "second.example");
	hello_end(&h);
	cut = h.n - 30;
	h.b[3] = (uint8_t)((cut - 5) >> 8);
	h.b[4] = (uint8_t)(cut - 5);
	/* The name is in the next record: not at hand. */
	assert_int_equal(tls(h.b, h.n, out), SNI_SHORT);
}

static const char get_req[] = "GET /index.html HTTP/1.1\r\n"
                              "User-Agent: t/1\r\n"
                              "Accept: */*\r\n"
                              "HOST:   Example.COM:8080 \r\n"
                              "Connection: close\r\n"
                              "\r\n";

static void
test_http(void **state)
{
	static const char lf[] = "POST /x HTTP/1.0\nHost: a.b\n\n";
	static const char nohost[] = "GET / HTTP/1.1\r\nA: b\r\n\r\n";
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const char lower[] = "get / HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char fold[] = "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n";
	static const char nocolon[] = "GET / HTTP/1.1\r\nHost a\r\n\r\n";
	static const char empty[] = "GET / HTTP/1.1\r\nHost: \r\n\r\n";
	static const char ssh[] = "SSH-2.0-OpenSSH_9.2\r\n";
	char out[300], norm[SP_NAME_MAX + 1];
	struct sp_view v;
	enum sni_kind kind = 0;

	(void)state;
	assert_int_equal(http(get_req, strlen(get_req), out), SNI_OK);
	assert_string_equal(out, "Example.COM:8080");
	assert_int_equal(
	        sni_parse((const uint8_t *)get_req, strlen(get_req), &kind, &v),
	        SNI_OK);
	assert_int_equal(kind, SNI_KIND_HTTP);
	assert_true(sni_name_normalize(kind, &v, norm));
	assert_string_equal(norm, "example.com");
	assert_int_equal(http(lf, strlen(lf), out), SNI_OK);
	assert_string_equal(out, "a.b");
	assert_int_equal(http(nohost, strlen(nohost), out), SNI_NONE);
	assert_int_equal(http(h2, strlen(h2), out), SNI_NONE);
	assert_int_equal(http(lower, strlen(lower), out), SNI_NONE);
	assert_int_equal(http(fold, strlen(fold), out), SNI_BAD);
	assert_int_equal(http(nocolon, strlen(nocolon), out), SNI_BAD);
	assert_int_equal(http(empty, strlen(empty), out), SNI_NONE);
	assert_int_equal(http(ssh, strlen(ssh), out), SNI_NONE);
}

static void
test_http_prefixes(void **state)
{
	size_t len = strlen(get_req), k, first_ok = 0;
	const char *host = strstr(get_req, "HOST");
	size_t host_end = (size_t)(strchr(host, '\n') - get_req) + 1;
	enum sni_status s;
	char out[300];

	(void)state;
	for (k = 0; k <= len; k++) {
		s = http(get_req, k, out);
		if (s == SNI_OK) {
			assert_string_equal(out, "Example.COM:8080");
			if (first_ok == 0)
				first_ok = k;
		} else {
			assert_int_equal(s, SNI_SHORT);
		}
	}
	assert_int_equal(first_ok, host_end);
}

static void
test_http_many_lines(void **state)
{
	char buf[4096], out[300];
	size_t n = 0;
	int i;

	(void)state;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "GET / HTTP/1.1\r\n");
	for (i = 0; i < SNI_HTTP_LINES_MAX + 2; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: y\r\n",
		                      i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Host: late\r\n\r\n");
	assert_int_equal(http(buf, n, out), SNI_NONE);
}

static bool
norm(enum sni_kind kind, const char *raw, char *out)
{
	struct sp_view v = {(const uint8_t *)raw, strlen(raw)};

	return sni_name_normalize(kind, &v, out);
}

static void
test_normalize(void **state)
{
	char out[SP_NAME_MAX + 1], big[300];

	(void)state;
	assert_true(norm(SNI_KIND_TLS, "WWW.Example.COM.", out));
	assert_string_equal(out, "www.example.com");
	assert_true(norm(SNI_KIND_TLS, "_srv.x-y.example", out));
	assert_string_equal(out, "_srv.x-y.example");
	assert_false(norm(SNI_KIND_TLS, "a..b", out));
	assert_false(norm(SNI_KIND_TLS, ".a", out));
	assert_false(norm(SNI_KIND_TLS, ".", out));
	assert_false(norm(SNI_KIND_TLS, "a b", out));
	assert_false(norm(SNI_KIND_TLS, "a:443", out));
	assert_false(norm(SNI_KIND_TLS, "192.0.2.1", out));
	assert_true(norm(SNI_KIND_HTTP, "a.example:443", out));
	assert_string_equal(out, "a.example");
	assert_false(norm(SNI_KIND_HTTP, "[2001:db8::1]:80", out));
	assert_false(norm(SNI_KIND_HTTP, "192.0.2.1:80", out));
	assert_false(norm(SNI_KIND_HTTP, "a.example:x", out));
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_false(norm(SNI_KIND_TLS, big, out));
	big[63] = '\0';
	assert_true(norm(SNI_KIND_TLS, big, out));
	/* 253 bytes is the longest name, 254 is too long. */
	memset(big, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		big[i] = '.';
	big[253] = '\0';
	assert_true(norm(SNI_KIND_TLS, big, out));
	big[253] = 'a';
	big[254] = '\0';
	assert_false(norm(SNI_KIND_TLS, big, out));
}

/* ---- the classifier's name hold ---------------------------------------- */

#define LOCAL  "192.0.2.10"
#define REMOTE "198.51.100.7"
#define T0     1764326400000000000ull

struct hold {
	struct ruleset *rs;
	struct classifier *c;
	uint64_t now;
	unsigned owner_calls;
	bool gone;
};

static struct ruleset *
load_rules(const char *text)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;

	memset(&d, 0, sizeof(d));
	assert_int_equal(
	        rules_load_buffer(rs, "t.rules", text, strlen(text), &d), 0);
	assert_int_equal(rules_compile(rs, &d), 0);
	assert_int_equal(d.errors, 0);
	rules_diags_free(&d);
	return rs;
}

static bool
fake_owner(const struct flow *f, const struct classify_input *in,
           struct classify_owner *out, void *arg)
{
	struct hold *h = arg;

	(void)f;
	(void)in;
	h->owner_calls++;
	out->pid = 4242;
	out->ppid = 1;
	out->uid = 1000;
	out->nprocs = 1;
	out->how = CLASSIFY_ATTRIB_SOCKET;
	snprintf(out->exe, sizeof(out->exe), "/usr/bin/client");
	snprintf(out->cmdline, sizeof(out->cmdline), "client --once");
	return true;
}

static bool
fake_gone(const struct flow *f, void *arg)
{
	struct hold *h = arg;

	(void)f;
	return h->gone;
}

static void
hold_open(struct hold *h, const char *rules, bool hold)
{
	struct classify_config cc;

	memset(h, 0, sizeof(*h));
	h->rs = load_rules(rules);
	memset(&cc, 0, sizeof(cc));
	cc.rules = h->rs;
	cc.dflt = SP_VERDICT_ALLOW;
	cc.flows.max_flows = 256;
	cc.name_hold = hold;
	cc.owner = fake_owner;
	cc.owner_gone = fake_gone;
	cc.owner_arg = h;
	h->c = classify_new(&cc);
	assert_non_null(h->c);
	h->now = T0;
}

static void
hold_close(struct hold *h)
{
	classify_free(h->c);
	rules_free(h->rs);
}

/* One packet through the classifier as the daemon sees it; its verdict. */
static enum sp_verdict
hold_pkt(struct hold *h, bool out, uint8_t proto, uint16_t lport, uint8_t flags,
         const void *payload, size_t plen, struct classify_result *res)
{
	uint8_t b[CAPGEN_PKT_MAX];
	struct capgen_pkt p = {.src = out ? LOCAL : REMOTE,
	                       .dst = out ? REMOTE : LOCAL,
	                       .proto = proto,
	                       .sport = out ? lport : 443,
	                       .dport = out ? 443 : lport,
	                       .tcp_flags = flags,
	                       .payload = payload,
	                       .plen = plen};
	struct classify_input in;

	memset(&in, 0, sizeof(in));
	in.len = in.wirelen = capgen_build(b, sizeof(b), &p);
	assert_true(in.len > 0);
	in.p = b;
	in.ts_ns = h->now;
	in.uid_hint = 1000;
	in.link = PACKET_LINK_RAW;
	in.hook = out ? CLASSIFY_HOOK_OUT : CLASSIFY_HOOK_IN;
	h->now += 1000000; /* 1 ms */
	classify_burst(h->c, &in, 1, res);
	assert_int_equal(res->status, PACKET_OK);
	return res->verdict;
}

/* The local side's ClientHello naming name. */
static enum sp_verdict
hold_hello(struct hold *h, uint16_t lport, const char *name,
           struct classify_result *res)
{
	struct hb hb;

	hello_begin(&hb);
	ext_other(&hb, 0x000a, 8);
	ext_sni(&hb, name);
	hello_end(&hb);
	return hold_pkt(h, true, SP_PROTO_TCP, lport, 0x18, hb.b, hb.n, res);
}

/* SYN, SYN-ACK, ACK pass; then the ClientHello's name decides. */
static void
handshake(struct hold *h, uint16_t lport, struct classify_result *res)
{
	assert_int_equal(
	        hold_pkt(h, true, SP_PROTO_TCP, lport, 0x02, NULL, 0, res),
	        SP_VERDICT_ALLOW);
	assert_true(res->new_flow);
	assert_true(res->flow->flags & FLOW_F_NAME_WAIT);
	assert_int_equal(
	        hold_pkt(h, false, SP_PROTO_TCP, lport, 0x12, NULL, 0, res),
	        SP_VERDICT_ALLOW);
	assert_int_equal(
	        hold_pkt(h, true, SP_PROTO_TCP, lport, 0x10, NULL, 0, res),
	        SP_VERDICT_ALLOW);
	assert_true(res->flow->flags & FLOW_F_NAME_WAIT);
}

static const char hold_rules[] =
        "allow out to domain good.example\n"
        "deny out proto tcp to domain evil.example\n"
        "reject out proto tcp to 198.51.100.0/24 port 443\n";

static void
test_hold_sni(void **state)
{
	struct classify_flow_info fi;
	struct classify_result res;
	struct classify_stats st;
	struct hold h;

	(void)state;
	hold_open(&h, hold_rules, true);
	/* good.example: allowed by its name, the host noted. */
	handshake(&h, 40001, &res);
	assert_int_equal(hold_hello(&h, 40001, "www.Good.example", &res),
	                 SP_VERDICT_ALLOW);
	assert_false(res.flow->flags & FLOW_F_NAME_WAIT);
	assert_int_equal(res.flow->rule, 0);
	classify_flow_info(h.c, res.flow, &fi);
	assert_string_equal(fi.host, "www.good.example");
	assert_int_equal(fi.host_src, CLASSIFY_NAME_SNI);
	assert_true(fi.held);
	assert_string_equal(fi.exe, "/usr/bin/client");
	assert_string_equal(fi.cmdline, "client --once");
	assert_int_equal(fi.attrib, CLASSIFY_ATTRIB_SOCKET);
	assert_int_equal(
	        hold_pkt(&h, false, SP_PROTO_TCP, 40001, 0x18, "x", 1, &res),
	        SP_VERDICT_ALLOW);

	/* evil.example: denied on the payload; the local side is reset,
	 * the remote's packets dropped. */
	handshake(&h, 40002, &res);
	assert_int_equal(hold_hello(&h, 40002, "a.evil.example", &res),
	                 SP_VERDICT_REJECT);
	assert_int_equal(res.flow->verdict, SP_VERDICT_DENY);
	assert_int_equal(res.flow->rule, 1);
	assert_int_equal(
	        hold_pkt(&h, false, SP_PROTO_TCP, 40002, 0x10, NULL, 0, &res),
	        SP_VERDICT_DENY);

	/* A name no rule has: the address rule rejects. */
	handshake(&h, 40003, &res);
	assert_int_equal(hold_hello(&h, 40003, "other.example", &res),
	                 SP_VERDICT_REJECT);
	assert_int_equal(res.flow->rule, 2);

	/* Not TLS or HTTP: decided without a name. */
	handshake(&h, 40004, &res);
	assert_int_equal(hold_pkt(&h, true, SP_PROTO_TCP, 40004, 0x18,
	                          "\x01\x02\x03", 3, &res),
	                 SP_VERDICT_REJECT);

	/* The server speaks first (SSH): no name to wait for. */
	handshake(&h, 40005, &res);
	assert_int_equal(hold_pkt(&h, false, SP_PROTO_TCP, 40005, 0x18,
	                          "SSH-2.0-x\r\n", 11, &res),
	                 SP_VERDICT_REJECT);
	assert_false(res.flow->flags & FLOW_F_NAME_WAIT);

	/* HTTP Host. */
	handshake(&h, 40006, &res);
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_TCP, 40006, 0x18,
	                 "GET / HTTP/1.1\r\nHost: good.example:443\r\n\r\n", 41,
	                 &res),
	        SP_VERDICT_ALLOW);
	classify_flow_info(h.c, res.flow, &fi);
	assert_int_equal(fi.host_src, CLASSIFY_NAME_HTTP);

	classify_stats(h.c, &st);
	assert_int_equal(st.name_holds, 6);
	assert_int_equal(st.names_sni, 3);
	assert_int_equal(st.names_http, 1);
	assert_int_equal(st.names_missing, 2);
	/* What each rule decided (the web monitor's Rules): good.example
	 * twice (SNI, Host), evil.example once, the address rule the
	 * other three. */
	assert_int_equal(rules_decided(h.rs, 0), 2);
	assert_int_equal(rules_decided(h.rs, 1), 1);
	assert_int_equal(rules_decided(h.rs, 2), 3);
	assert_int_equal(rules_decided(h.rs, 3), 0); /* no such rule */
	hold_close(&h);
}

/* A payload's name that is no DNS name decides nothing (the address rule
 * does) and is kept as text to be shown: printable ASCII as it was, other
 * bytes and the backslash as \xNN. */
static void
test_hold_raw_name(void **state)
{
	struct classify_flow_info fi;
	struct classify_result res;
	struct classify_stats st;
	struct hold h;
	json_t *o;

	(void)state;
	hold_open(&h, hold_rules, true);
	handshake(&h, 40021, &res);
	assert_int_equal(
	        hold_hello(&h, 40021, "<img src=x onerror=alert(1)>", &res),
	        SP_VERDICT_REJECT);
	assert_int_equal(res.flow->rule, 2);
	classify_flow_info(h.c, res.flow, &fi);
	assert_null(fi.host);
	assert_string_equal(fi.name_raw, "<img src=x onerror=alert(1)>");
	assert_int_equal(fi.name_raw_src, CLASSIFY_NAME_SNI);
	o = classify_flow_json(res.flow, &fi, h.rs);
	assert_true(json_is_null(json_object_get(o, "host")));
	assert_string_equal(json_string_value(json_object_get(o, "name_raw")),
	                    "<img src=x onerror=alert(1)>");
	assert_string_equal(
	        json_string_value(json_object_get(o, "name_raw_from")), "sni");
	json_decref(o);

	handshake(&h, 40022, &res);
	{
		static const char req[] =
		        "GET / HTTP/1.1\r\nHost: a\\b\x01\xc3\r\n\r\n";

		assert_int_equal(hold_pkt(&h, true, SP_PROTO_TCP, 40022, 0x18,
		                          req, sizeof(req) - 1, &res),
		                 SP_VERDICT_REJECT);
	}
	classify_flow_info(h.c, res.flow, &fi);
	assert_non_null(fi.name_raw);
	assert_string_equal(fi.name_raw, "a\\x5cb\\x01\\xc3");
	assert_int_equal(fi.name_raw_src, CLASSIFY_NAME_HTTP);
	/* A good name leaves none. */
	handshake(&h, 40023, &res);
	hold_hello(&h, 40023, "good.example", &res);
	classify_flow_info(h.c, res.flow, &fi);
	assert_null(fi.name_raw);
	classify_stats(h.c, &st);
	assert_int_equal(st.names_missing, 2);
	hold_close(&h);
}

/* When a hold cannot change the outcome, or is off, the SYN decides. */
static void
test_no_hold(void **state)
{
	struct classify_result res;
	struct hold h;

	(void)state;
	hold_open(&h, hold_rules, false);
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_TCP, 40011, 0x02, NULL, 0, &res),
	        SP_VERDICT_REJECT);
	hold_close(&h);

	/* A priority address rule outranks any name rule. */
	hold_open(&h,
	          "allow out to domain good.example\n"
	          "reject out to 198.51.100.0/24 priority\n",
	          true);
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_TCP, 40012, 0x02, NULL, 0, &res),
	        SP_VERDICT_REJECT);
	assert_false(res.flow->flags & FLOW_F_NAME_WAIT);
	hold_close(&h);

	/* A name rule for another port cannot match. */
	hold_open(&h,
	          "allow out to domain good.example port 80\n"
	          "reject out to 198.51.100.0/24\n",
	          true);
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_TCP, 40013, 0x02, NULL, 0, &res),
	        SP_VERDICT_REJECT);
	/* Nor does UDP wait. */
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_UDP, 40014, 0, "q", 1, &res),
	        SP_VERDICT_REJECT);
	hold_close(&h);
}

/* A port used again by a new socket: decided anew. */
static void
test_renew(void **state)
{
	struct classify_result res;
	struct classify_stats st;
	struct hold h;

	(void)state;
	hold_open(&h, "deny out proto udp to 198.51.100.7\n", false);
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_UDP, 40021, 0, "a", 1, &res),
	        SP_VERDICT_DENY);
	assert_int_equal(h.owner_calls, 1);
	/* Its process lives: the same flow. */
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_UDP, 40021, 0, "b", 1, &res),
	        SP_VERDICT_DENY);
	assert_false(res.new_flow);
	assert_int_equal(h.owner_calls, 1);
	/* It exited: the next datagram is a new socket's. */
	h.gone = true;
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_UDP, 40021, 0, "c", 1, &res),
	        SP_VERDICT_DENY);
	assert_true(res.new_flow);
	assert_int_equal(h.owner_calls, 2);
	/* Replies are never a new socket. */
	assert_int_equal(
	        hold_pkt(&h, false, SP_PROTO_UDP, 40021, 0, "d", 1, &res),
	        SP_VERDICT_DENY);
	assert_false(res.new_flow);
	classify_stats(h.c, &st);
	assert_int_equal(st.renewed, 1);
	hold_close(&h);

	/* A SYN after a reject: the old socket was reset. */
	hold_open(&h, "reject out proto tcp to 198.51.100.7\n", false);
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_TCP, 40022, 0x02, NULL, 0, &res),
	        SP_VERDICT_REJECT);
	assert_int_equal(
	        hold_pkt(&h, true, SP_PROTO_TCP, 40022, 0x02, NULL, 0, &res),
	        SP_VERDICT_REJECT);
	assert_true(res.new_flow);
	assert_int_equal(h.owner_calls, 2);
	hold_close(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_real_hello),
	        cmocka_unit_test(test_real_hello_prefixes),
	        cmocka_unit_test(test_built),
	        cmocka_unit_test(test_not_hello),
	        cmocka_unit_test(test_bad_lengths),
	        cmocka_unit_test(test_fragmented),
	        cmocka_unit_test(test_http),
	        cmocka_unit_test(test_http_prefixes),
	        cmocka_unit_test(test_http_many_lines),
	        cmocka_unit_test(test_normalize),
	        cmocka_unit_test(test_hold_sni),
	        cmocka_unit_test(test_hold_raw_name),
	        cmocka_unit_test(test_no_hold),
	        cmocka_unit_test(test_renew),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

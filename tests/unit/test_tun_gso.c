/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What leaves the tunnel through its raw socket (tun_gso.h): a super-packet
 * cut into the segments the kernel would have sent, each whole and with
 * checksums that hold; a checksum left open filled in; what cannot be cut
 * refused with a reason. Checksums are checked by a sum of this file's own,
 * over network-order words. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "divert/tun_gso.h"
#include "../tools/inetsum.h"

#define TH_FIN 0x01
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_CWR 0x80

/* A pseudo-header's sum as the stack leaves it in a checksum it left
 * open: folded, not complemented. */
static uint16_t
partial(uint32_t sum)
{
	return (uint16_t)~inetsum_fold(sum);
}

static unsigned
get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The transport checksum of the segment at l4 holds: pseudo-header and
 * segment sum to 0xffff. */
static bool
l4_sum_ok(const uint8_t *ip, bool v6, const uint8_t *l4, size_t n,
          unsigned proto)
{
	uint32_t s =
	        v6 ? inetsum_add(ip + 8, 32, 0) : inetsum_add(ip + 12, 8, 0);

	s += proto + (uint32_t)(n >> 16) + (uint32_t)(n & 0xffff);
	return inetsum_fold(inetsum_add(l4, n, s)) == 0;
}

static uint8_t pkt[70000], out[70000];

/* A TCP super-packet: 20 or 40 bytes of IP, a TCP header of 32 (a
 * timestamp option), payload bytes numbered; its checksum field holds
 * only the pseudo-header's sum, as the stack leaves it. Its length. */
static size_t
make_tcp(bool v6, size_t payload, uint8_t flags)
{
	size_t l3 = v6 ? 40 : 20, len = l3 + 32 + payload, i;
	uint8_t *t = pkt + l3;
	uint32_t s;

	memset(pkt, 0, len);
	if (v6) {
		static const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
		static const uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

		pkt[0] = 0x60;
		pkt[4] = (uint8_t)((len - 40) >> 8);
		pkt[5] = (uint8_t)(len - 40);
		pkt[6] = 6;
		pkt[7] = 64;
		memcpy(pkt + 8, a, 16);
		memcpy(pkt + 24, b, 16);
	} else {
		static const uint8_t a[4] = {192, 0, 2, 1},
		                     b[4] = {198, 51, 100, 2};

		pkt[0] = 0x45;
		pkt[2] = (uint8_t)(len >> 8);
		pkt[3] = (uint8_t)len;
		pkt[4] = 0x12;
		pkt[5] = 0x34;
		pkt[6] = 0x40; /* DF */
		pkt[8] = 64;
		pkt[9] = 6;
		memcpy(pkt + 12, a, 4);
		memcpy(pkt + 16, b, 4);
	}
	t[0] = 0xc3; /* port 50000 */
	t[1] = 0x50;
	t[3] = 80;
	t[4] = 0xff; /* seq 0xfffffc18: the numbers wrap inside the packet */
	t[5] = 0xff;
	t[6] = 0xfc;
	t[7] = 0x18;
	t[11] = 7; /* ack 7 */
	t[12] = 8 << 4;
	t[13] = flags;
	t[14] = 0xff;
	t[15] = 0xff;
	t[20] = 1; /* NOP NOP timestamp */
	t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	t[27] = 42;
	for (i = 0; i < payload; i++)
		t[32 + i] = (uint8_t)(i * 7 + i / 251);
	s = v6 ? inetsum_add(pkt + 8, 32, 0) : inetsum_add(pkt + 12, 8, 0);
	s += 6 + (uint32_t)(len - l3);
	t[16] = (uint8_t)(partial(s) >> 8);
	t[17] = (uint8_t)partial(s);
	return len;
}

/* Cut pkt and check every segment against it. */
static void
check_cut(bool v6, size_t payload, unsigned mss, uint8_t flags,
          unsigned want_segments)
{
	struct tun_offload o = {TUN_OFF_NEEDS_CSUM,
	                        v6 ? TUN_GSO_TCPV6
	                           : TUN_GSO_TCPV4 | TUN_GSO_ECN,
	                        0,
	                        (uint16_t)mss,
	                        v6 ? 40 : 20,
	                        16};
	size_t len = make_tcp(v6, payload, flags), l3 = v6 ? 40 : 20, n,
	       got = 0;
	struct tun_seg s;
	const char *why = NULL;
	unsigned i = 0;

	assert_int_equal(tun_seg_begin(&s, pkt, len, &o, &why), 0);
	while ((n = tun_seg_next(&s, out, sizeof(out))) > 0) {
		const uint8_t *t = out + l3;
		size_t seg = n - l3 - 32;
		bool first = i == 0, last = got + seg == payload;

		assert_true(seg <= mss);
		assert_true(seg == mss || last);
		if (v6) {
			assert_int_equal(get16(out + 4), n - 40);
		} else {
			assert_int_equal(get16(out + 2), n);
			assert_int_equal(get16(out + 4), 0x1234 + i);
			assert_int_equal(inetsum_fold(inetsum_add(out, 20, 0)),
			                 0);
			assert_int_equal(out[6], 0x40);
		}
		assert_int_equal(get32(t + 4), 0xfffffc18u + (uint32_t)got);
		assert_int_equal(get32(t + 8), 7);
		assert_int_equal(t[13] & TH_ACK, flags & TH_ACK);
		assert_int_equal(t[13] & (TH_FIN | TH_PSH),
		                 last ? flags & (TH_FIN | TH_PSH) : 0);
		assert_int_equal(t[13] & TH_CWR, first ? flags & TH_CWR : 0);
		assert_memory_equal(t + 20, pkt + l3 + 20, 12); /* options */
		assert_memory_equal(t + 32, pkt + l3 + 32 + got, seg);
		assert_true(l4_sum_ok(out, v6, t, n - l3, 6));
		got += seg;
		i++;
	}
	assert_int_equal(got, payload);
	assert_int_equal(i, want_segments);
	assert_int_equal(s.n, want_segments);
}

static void
test_v4_cut_in_four(void **state)
{
	(void)state;
	check_cut(false, 3500, 1000, TH_ACK | TH_PSH | TH_FIN | TH_CWR, 4);
}

static void
test_v6_cut_at_1428(void **state)
{
	(void)state;
	check_cut(true, 64000, 1428, TH_ACK | TH_PSH, 45);
}

/* A payload of one segment or none: one segment, every flag kept. */
static void
test_short_is_one_segment(void **state)
{
	(void)state;
	check_cut(false, 999, 1000, TH_ACK | TH_FIN | TH_CWR, 1);
	check_cut(true, 0, 1000, TH_ACK | TH_FIN, 1);
}

/* An odd payload: the last segment's odd byte is in its checksum. */
static void
test_odd_tail(void **state)
{
	(void)state;
	check_cut(false, 2001, 1000, TH_ACK, 3);
}

static void
test_refused(void **state)
{
	struct tun_offload o = {
	        TUN_OFF_NEEDS_CSUM, TUN_GSO_TCPV4, 0, 1000, 20, 16};
	struct tun_seg s;
	const char *why = NULL;
	size_t len;

	(void)state;
	len = make_tcp(false, 3000, TH_ACK);
	/* Not TCP. */
	pkt[9] = 17;
	assert_int_equal(tun_seg_begin(&s, pkt, len, &o, &why), -1);
	assert_non_null(strstr(why, "not TCP"));
	pkt[9] = 6;
	/* A fragment. */
	pkt[6] = 0x20;
	assert_int_equal(tun_seg_begin(&s, pkt, len, &o, &why), -1);
	pkt[6] = 0x40;
	/* The IP length says more than there is. */
	assert_int_equal(tun_seg_begin(&s, pkt, len - 1, &o, &why), -1);
	assert_non_null(strstr(why, "IP length"));
	/* A TCP header longer than the packet. */
	len = make_tcp(false, 0, TH_ACK);
	pkt[20 + 12] = 0xf0;
	assert_int_equal(tun_seg_begin(&s, pkt, len, &o, &why), -1);
	assert_non_null(strstr(why, "TCP header"));
	/* Segments of 0 bytes. */
	len = make_tcp(false, 100, TH_ACK);
	o.gso_size = 0;
	assert_int_equal(tun_seg_begin(&s, pkt, len, &o, &why), -1);
	o.gso_size = 1000;
	/* IPv4 said IPv6, and a kind never asked for (UDP). */
	o.gso_type = TUN_GSO_TCPV6;
	assert_int_equal(tun_seg_begin(&s, pkt, len, &o, &why), -1);
	o.gso_type = 3;
	assert_int_equal(tun_seg_begin(&s, pkt, len, &o, &why), -1);
	/* IPv6 with an extension header before TCP. */
	len = make_tcp(true, 100, TH_ACK);
	pkt[6] = 0;
	o.gso_type = TUN_GSO_TCPV6;
	assert_int_equal(tun_seg_begin(&s, pkt, len, &o, &why), -1);
	/* Nothing cut after a refusal. */
	assert_int_equal(tun_seg_next(&s, out, sizeof(out)), 0);
}

/* A UDP datagram whose checksum the stack left open (the pseudo-header's
 * sum in its field), odd and even. */
static void
test_fill_udp(void **state)
{
	static const uint8_t src[4] = {203, 0, 113, 9},
	                     dst[4] = {192, 0, 2, 77};
	struct tun_offload o = {TUN_OFF_NEEDS_CSUM, TUN_GSO_NONE, 0, 0, 20, 6};
	const char *why = NULL;
	size_t n, len, i;
	uint32_t s;

	(void)state;
	for (n = 0; n < 4; n++) {
		len = 20 + 8 + 60 + n;
		memset(pkt, 0, len);
		pkt[0] = 0x45;
		pkt[3] = (uint8_t)len;
		pkt[9] = 17;
		memcpy(pkt + 12, src, 4);
		memcpy(pkt + 16, dst, 4);
		pkt[21] = 53;
		pkt[23] = 99;
		pkt[25] = (uint8_t)(len - 20);
		for (i = 28; i < len; i++)
			pkt[i] = (uint8_t)(i * 13);
		s = inetsum_add(pkt + 12, 8, 17 + (uint32_t)(len - 20));
		pkt[26] = (uint8_t)(partial(s) >> 8);
		pkt[27] = (uint8_t)partial(s);
		assert_int_equal(tun_csum_fill(pkt, len, &o, &why), 0);
		assert_true(l4_sum_ok(pkt, false, pkt + 20, len - 20, 17));
		assert_true(get16(pkt + 26) != 0);
	}
	/* Offsets past the end: refused, the packet as it was. */
	memcpy(out, pkt, len);
	o.csum_offset = (uint16_t)(len - 20 - 1);
	assert_int_equal(tun_csum_fill(pkt, len, &o, &why), -1);
	assert_memory_equal(out, pkt, len);
	/* Nothing left open: nothing to do. */
	o.flags = 0;
	assert_int_equal(tun_csum_fill(pkt, len, &o, &why), 0);
	assert_memory_equal(out, pkt, len);
}

/* The running sum against the plain one, at every length and start. */
static void
test_sum_agrees(void **state)
{
	uint8_t b[300], h[2];
	size_t off, n, i;
	uint16_t c;

	(void)state;
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 151 + 7);
	for (off = 0; off < 16; off += 2)
		for (n = 0; n < 260; n++) {
			c = tun_csum_fold(tun_csum_add(0, b + off, n));
			memcpy(h, &c, 2);
			assert_int_equal(get16(h), inetsum_fold(inetsum_add(
			                                   b + off, n, 0)));
		}
}

static void
test_header_round_trip(void **state)
{
	struct tun_offload o = {TUN_OFF_NEEDS_CSUM | TUN_OFF_DATA_VALID,
	                        TUN_GSO_TCPV6 | TUN_GSO_ECN,
	                        74,
	                        1428,
	                        40,
	                        16},
	                   back;
	uint8_t h[TUN_OFFLOAD_HDR];

	(void)state;
	tun_offload_write(&o, h);
	tun_offload_read(&back, h);
	assert_memory_equal(&o, &back, sizeof(o));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_v4_cut_in_four),
	        cmocka_unit_test(test_v6_cut_at_1428),
	        cmocka_unit_test(test_short_is_one_segment),
	        cmocka_unit_test(test_odd_tail),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_fill_udp),
	        cmocka_unit_test(test_sum_agrees),
	        cmocka_unit_test(test_header_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the tunnel backend answers a rejected packet with (tun_reply.h):
 * the answer parses, goes the other way, and its checksums hold. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "divert/tun_reply.h"
#include "../tools/inetsum.h"
#include "spackle/packet.h"

static libnet_t *l4, *l6;

static int
setup(void **state)
{
	char e[LIBNET_ERRBUF_SIZE];

	(void)state;
	/* Building needs no socket: LIBNET_NONE when there is no root. */
	l4 = libnet_init(LIBNET_RAW4_ADV, NULL, e);
	if (l4 == NULL)
		l4 = libnet_init(LIBNET_NONE | LIBNET_ADV_MASK, NULL, e);
	l6 = libnet_init(LIBNET_RAW6_ADV, NULL, e);
	if (l6 == NULL)
		l6 = libnet_init(LIBNET_NONE | LIBNET_ADV_MASK, NULL, e);
	return l4 != NULL && l6 != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	libnet_destroy(l4);
	libnet_destroy(l6);
	return 0;
}

/* Does the transport checksum of the parsed packet hold (pseudo-header
 * included)? */
static bool
l4_sum_ok(const struct packet *p)
{
	uint32_t s = 0;
	uint8_t z[4] = {0, 0, 0, 0};

	if (p->family == AF_INET) {
		s = inetsum_add(p->src.b + 12, 4, s);
		s = inetsum_add(p->dst.b + 12, 4, s);
		z[1] = p->proto;
		s = inetsum_add(z, 2, s);
		s += (uint32_t)p->l4.len;
		if (p->proto == IPPROTO_ICMP)
			s = 0; /* ICMPv4: no pseudo-header */
	} else {
		s = inetsum_add(p->src.b, 16, s);
		s = inetsum_add(p->dst.b, 16, s);
		s += (uint32_t)p->l4.len;
		s += p->proto;
	}
	return inetsum_fold(inetsum_add(p->l4.p, p->l4.len, s)) == 0;
}

/* A TCP/IPv4 segment 192.0.2.1:40000 -> 192.0.2.2:7003 with flags. */
static size_t
tcp4(uint8_t *b, uint8_t flags, uint32_t seq, uint32_t ack, size_t payload)
{
	size_t len = 20 + 20 + payload;

	memset(b, 0, len);
	b[0] = 0x45;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	b[8] = 64;
	b[9] = IPPROTO_TCP;
	memcpy(b + 12, "\xc0\x00\x02\x01\xc0\x00\x02\x02", 8);
	b[20] = 40000 >> 8;
	b[21] = 40000 & 0xff;
	b[22] = 7003 >> 8;
	b[23] = 7003 & 0xff;
	b[24] = (uint8_t)(seq >> 24);
	b[25] = (uint8_t)(seq >> 16);
	b[26] = (uint8_t)(seq >> 8);
	b[27] = (uint8_t)seq;
	b[28] = (uint8_t)(ack >> 24);
	b[29] = (uint8_t)(ack >> 16);
	b[30] = (uint8_t)(ack >> 8);
	b[31] = (uint8_t)ack;
	b[32] = 0x50;
	b[33] = flags;
	return len;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
test_syn_gets_rst_ack(void **state)
{
	uint8_t in[64], out[TUN_REPLY_MAX];
	size_t n = tcp4(in, PACKET_TCP_SYN, 1000, 0, 0), olen;
	struct packet p;

	(void)state;
	assert_int_equal(tun_reply(l4, l6, in, n, out, &olen), TUN_REPLY_OK);
	assert_int_equal(packet_parse_ip(out, olen, &p), PACKET_OK);
	assert_int_equal(p.proto, IPPROTO_TCP);
	/* From the destination back to the sender, ports swapped. */
	assert_memory_equal(p.src.b + 12, "\xc0\x00\x02\x02", 4);
	assert_memory_equal(p.dst.b + 12, "\xc0\x00\x02\x01", 4);
	assert_int_equal(p.sport, 7003);
	assert_int_equal(p.dport, 40000);
	assert_int_equal(p.tcp_flags, PACKET_TCP_RST | PACKET_TCP_ACK);
	/* The SYN's sequence number acknowledged. */
	assert_int_equal(be32(p.l4.p + 8), 1001);
	assert_int_equal(be32(p.l4.p + 4), 0);
	assert_int_equal(inetsum_fold(inetsum_add(out, 20, 0)), 0);
	assert_true(l4_sum_ok(&p));
}

static void
test_ack_gets_rst_at_its_ack(void **state)
{
	uint8_t in[128], out[TUN_REPLY_MAX];
	size_t n = tcp4(in, PACKET_TCP_ACK | PACKET_TCP_PSH, 5, 777, 10), olen;
	struct packet p;

	(void)state;
	assert_int_equal(tun_reply(l4, l6, in, n, out, &olen), TUN_REPLY_OK);
	assert_int_equal(packet_parse_ip(out, olen, &p), PACKET_OK);
	assert_int_equal(p.tcp_flags, PACKET_TCP_RST);
	assert_int_equal(be32(p.l4.p + 4), 777);
	assert_true(l4_sum_ok(&p));
}

static void
test_rst_gets_nothing(void **state)
{
	uint8_t in[64], out[TUN_REPLY_MAX];
	size_t n = tcp4(in, PACKET_TCP_RST, 1, 0, 0), olen = 99;

	(void)state;
	assert_int_equal(tun_reply(l4, l6, in, n, out, &olen), TUN_REPLY_NONE);
	assert_int_equal(olen, 0);
}

static void
test_udp6_gets_port_unreachable(void **state)
{
	uint8_t in[40 + 8 + 5], out[TUN_REPLY_MAX];
	struct packet p, q;
	size_t olen;

	(void)state;
	memset(in, 0, sizeof(in));
	in[0] = 0x60;
	in[5] = 8 + 5;
	in[6] = IPPROTO_UDP;
	in[7] = 64;
	inet_pton(AF_INET6, "2001:db8::1", in + 8);
	inet_pton(AF_INET6, "2001:db8::2", in + 24);
	in[40] = 0x9c;
	in[41] = 0x40;
	in[42] = 7003 >> 8;
	in[43] = 7003 & 0xff;
	in[45] = 8 + 5;
	memcpy(in + 48, "hello", 5);
	assert_int_equal(tun_reply(l4, l6, in, sizeof(in), out, &olen),
	                 TUN_REPLY_OK);
	assert_int_equal(packet_parse_ip(out, olen, &p), PACKET_OK);
	assert_int_equal(p.proto, IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, 1);
	assert_int_equal(p.icmp_code, 4);
	assert_memory_equal(p.src.b, in + 24, 16);
	assert_memory_equal(p.dst.b, in + 8, 16);
	assert_true(l4_sum_ok(&p));
	/* It quotes the datagram whole. */
	assert_int_equal(olen, 40 + 8 + sizeof(in));
	assert_memory_equal(out + 48, in, sizeof(in));
	/* And an error about it gets nothing. */
	assert_int_equal(packet_parse_ip(out, olen, &q), PACKET_OK);
	assert_int_equal(tun_reply(l4, l6, out, olen, in, &olen),
	                 TUN_REPLY_NONE);
}

static void
test_udp4_gets_port_unreachable(void **state)
{
	uint8_t in[20 + 8], out[TUN_REPLY_MAX];
	struct packet p;
	size_t olen;

	(void)state;
	memset(in, 0, sizeof(in));
	in[0] = 0x45;
	in[3] = sizeof(in);
	in[8] = 64;
	in[9] = IPPROTO_UDP;
	memcpy(in + 12, "\xc0\x00\x02\x01\xc0\x00\x02\x02", 8);
	in[22] = 7003 >> 8;
	in[23] = 7003 & 0xff;
	in[25] = 8;
	assert_int_equal(tun_reply(l4, l6, in, sizeof(in), out, &olen),
	                 TUN_REPLY_OK);
	assert_int_equal(packet_parse_ip(out, olen, &p), PACKET_OK);
	assert_int_equal(p.proto, IPPROTO_ICMP);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 3);
	assert_memory_equal(p.src.b + 12, "\xc0\x00\x02\x02", 4);
	assert_int_equal(inetsum_fold(inetsum_add(out, 20, 0)), 0);
	assert_true(l4_sum_ok(&p));
}

static void
test_garbage_is_bad(void **state)
{
	uint8_t in[7] = {0x45, 1, 2, 3, 4, 5, 6}, out[TUN_REPLY_MAX];
	size_t olen;

	(void)state;
	assert_int_equal(tun_reply(l4, l6, in, sizeof(in), out, &olen),
	                 TUN_REPLY_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_syn_gets_rst_ack),
	        cmocka_unit_test(test_ack_gets_rst_at_its_ack),
	        cmocka_unit_test(test_rst_gets_nothing),
	        cmocka_unit_test(test_udp6_gets_port_unreachable),
	        cmocka_unit_test(test_udp4_gets_port_unreachable),
	        cmocka_unit_test(test_garbage_is_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

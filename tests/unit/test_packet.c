/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the packet parser, every input flush against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "spackle/packet.h"
#include "guard.h"

#define PKT_MAX 512

/* The guarded copy of the last input parsed; its views point into it. */
static uint8_t *g;
static size_t glen;

static void
unguard(void)
{
	if (g != NULL)
		guard_free(g);
	g = NULL;
	glen = 0;
}

static int
teardown(void **state)
{
	(void)state;
	unguard();
	return 0;
}

/* Is v within the guarded input? */
static bool
view_in(const struct sp_view *v, const uint8_t *base, size_t len)
{
	return v->p >= base && v->len <= len && v->p - base <= (ptrdiff_t)len &&
	       (size_t)(v->p - base) + v->len <= len;
}

static bool
view_within(const struct sp_view *in, const struct sp_view *out)
{
	return view_in(in, out->p, out->len);
}

/* What any PACKET_OK result must keep, whatever the input. */
static void
assert_sane(const struct packet *pkt)
{
	assert_true(view_in(&pkt->l3, g, glen));
	assert_true(view_within(&pkt->l4, &pkt->l3));
	assert_true(view_within(&pkt->payload, &pkt->l4));
	assert_true(pkt->l3.len <= pkt->ip_len);
	assert_int_equal(pkt->l3.len < pkt->ip_len,
	                 !!(pkt->flags & PACKET_F_TRUNCATED));
	if (pkt->flags & PACKET_F_FRAG_LATER) {
		assert_true(pkt->flags & PACKET_F_FRAG);
		assert_int_equal(pkt->sport, 0);
		assert_int_equal(pkt->dport, 0);
	}
}

/* Parse a guarded copy; link < 0 calls packet_parse_ip(). */
static enum packet_status
parse(int link, const uint8_t *b, size_t n, struct packet *pkt)
{
	enum packet_status s;

	unguard();
	g = guard_copy(b, n);
	glen = n;
	if (link < 0)
		s = packet_parse_ip(g, n, pkt);
	else
		s = packet_parse_frame(link, g, n, pkt);
	if (s == PACKET_OK)
		assert_sane(pkt);
	return s;
}

static size_t
off(const struct sp_view *v)
{
	return (size_t)(v->p - g);
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

static const uint8_t v4src[4] = {192, 0, 2, 1};
static const uint8_t v4dst[4] = {198, 51, 100, 2};
static const uint8_t v6src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t v6dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

/* IPv4 header (with optlen bytes of options) before l4len bytes of l4. */
static size_t
mk_ipv4(uint8_t *b, uint8_t proto, size_t optlen, uint16_t frag,
        const uint8_t *l4, size_t l4len)
{
	size_t hlen = 20 + optlen;

	memset(b, 0, hlen);
	b[0] = (uint8_t)(0x40 | hlen / 4);
	wr16(b + 2, (uint16_t)(hlen + l4len));
	wr16(b + 4, 0x1234);
	wr16(b + 6, frag);
	b[8] = 64;
	b[9] = proto;
	memcpy(b + 12, v4src, 4);
	memcpy(b + 16, v4dst, 4);
	if (optlen > 0)
		memset(b + 20, 1, optlen); /* NOPs */
	if (l4len > 0)
		memcpy(b + hlen, l4, l4len);
	return hlen + l4len;
}

static size_t
mk_ipv6(uint8_t *b, uint8_t nh, const uint8_t *pl, size_t plen)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	wr16(b + 4, (uint16_t)plen);
	b[6] = nh;
	b[7] = 255;
	memcpy(b + 8, v6src, 16);
	memcpy(b + 24, v6dst, 16);
	if (plen > 0)
		memcpy(b + 40, pl, plen);
	return 40 + plen;
}

/* TCP with optwords 4-byte words of options, then data. */
static size_t
mk_tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint8_t flags,
       unsigned optwords, const void *data, size_t dlen)
{
	size_t hlen = 20 + 4 * (size_t)optwords;

	memset(b, 0, hlen);
	wr16(b, sport);
	wr16(b + 2, dport);
	wr32(b + 4, 1000);
	b[12] = (uint8_t)((hlen / 4) << 4);
	b[13] = flags;
	wr16(b + 14, 65535);
	if (optwords > 0)
		memset(b + 20, 1, 4 * (size_t)optwords);
	if (dlen > 0)
		memcpy(b + hlen, data, dlen);
	return hlen + dlen;
}

static size_t
mk_udp(uint8_t *b, uint16_t sport, uint16_t dport, const void *data,
       size_t dlen)
{
	wr16(b, sport);
	wr16(b + 2, dport);
	wr16(b + 4, (uint16_t)(8 + dlen));
	wr16(b + 6, 0);
	memcpy(b + 8, data, dlen);
	return 8 + dlen;
}

static size_t
mk_icmp(uint8_t *b, uint8_t type, uint8_t code, uint16_t id)
{
	b[0] = type;
	b[1] = code;
	wr16(b + 2, 0);
	wr16(b + 4, id);
	wr16(b + 6, 7); /* sequence */
	memcpy(b + 8, "ping", 4);
	return 12;
}

static size_t
mk_ether(uint8_t *b, uint16_t type, const uint8_t *in, size_t n)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

	memcpy(b, macs, 12);
	wr16(b + 12, type);
	if (n > 0)
		memcpy(b + 14, in, n);
	return 14 + n;
}

/* An extension header of 8 * (1 + units) bytes: next header, length, pad. */
static size_t
mk_ext(uint8_t *b, uint8_t nh, uint8_t units)
{
	size_t n = 8 * ((size_t)units + 1);

	memset(b, 0, n);
	b[0] = nh;
	b[1] = units;
	b[2] = 1; /* PadN */
	b[3] = (uint8_t)(n - 4);
	return n;
}

static size_t
mk_frag6(uint8_t *b, uint8_t nh, uint16_t offbytes, bool more, uint32_t id)
{
	b[0] = nh;
	b[1] = 0;
	wr16(b + 2, (uint16_t)(offbytes | (more ? 1 : 0)));
	wr32(b + 4, id);
	return 8;
}

static size_t
tcp_syn_v4(uint8_t *b)
{
	uint8_t l4[64];
	size_t n = mk_tcp(l4, 40000, 443, PACKET_TCP_SYN, 0, NULL, 0);

	return mk_ipv4(b, SP_PROTO_TCP, 0, 0x4000, l4, n); /* DF */
}

static void
assert_addr_v4(const struct sp_addr *a, const uint8_t v4[4])
{
	struct sp_addr want;

	sp_addr_from_v4(&want, v4);
	assert_true(sp_addr_equal(a, &want));
}

static void
assert_addr_v6(const struct sp_addr *a, const uint8_t v6[16])
{
	struct sp_addr want;

	sp_addr_from_v6(&want, v6);
	assert_true(sp_addr_equal(a, &want));
}

static void
test_ipv4_tcp_syn(void **state)
{
	uint8_t b[PKT_MAX];
	struct packet pkt;
	size_t n = tcp_syn_v4(b);
	int links[] = {-1, PACKET_LINK_RAW, PACKET_LINK_RAW_DLT12,
	               PACKET_LINK_RAW_DLT14, PACKET_LINK_IPV4};

	(void)state;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		assert_int_equal(parse(links[i], b, n, &pkt), PACKET_OK);
		assert_int_equal(pkt.family, AF_INET);
		assert_int_equal(pkt.proto, SP_PROTO_TCP);
		assert_int_equal(pkt.sport, 40000);
		assert_int_equal(pkt.dport, 443);
		assert_int_equal(pkt.tcp_flags, PACKET_TCP_SYN);
		assert_int_equal(pkt.ttl, 64);
		assert_int_equal(pkt.flags, 0); /* DF is not fragmenting */
		assert_int_equal(pkt.ip_len, 40);
		assert_addr_v4(&pkt.src, v4src);
		assert_addr_v4(&pkt.dst, v4dst);
		assert_ptr_equal(pkt.l3.p, g);
		assert_int_equal(pkt.l3.len, 40);
		assert_int_equal(off(&pkt.l4), 20);
		assert_int_equal(pkt.l4.len, 20);
		assert_int_equal(pkt.payload.len, 0);
	}
}

static void
test_ipv4_options(void **state)
{
	uint8_t b[PKT_MAX], l4[64];
	struct packet pkt;
	size_t n = mk_tcp(l4, 1234, 80, PACKET_TCP_ACK | PACKET_TCP_PSH, 3,
	                  "GET", 3);

	(void)state;
	n = mk_ipv4(b, SP_PROTO_TCP, 8, 0, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_IP_OPTIONS);
	assert_int_equal(off(&pkt.l4), 28);
	assert_int_equal(pkt.sport, 1234);
	assert_int_equal(pkt.dport, 80);
	assert_int_equal(pkt.tcp_flags, PACKET_TCP_ACK | PACKET_TCP_PSH);
	/* TCP options are header, not payload. */
	assert_int_equal(off(&pkt.payload), 28 + 32);
	assert_int_equal(pkt.payload.len, 3);
	assert_memory_equal(pkt.payload.p, "GET", 3);
}

static void
test_udp_payload(void **state)
{
	static const char data[] = "\x12\x34\x01\x00\x00\x01payload";
	uint8_t b[PKT_MAX], l4[64];
	struct packet pkt;
	size_t n = mk_udp(l4, 5353, 53, data, sizeof(data));

	(void)state;
	n = mk_ipv4(b, SP_PROTO_UDP, 0, 0, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.proto, SP_PROTO_UDP);
	assert_int_equal(pkt.sport, 5353);
	assert_int_equal(pkt.dport, 53);
	assert_int_equal(off(&pkt.l4), 20);
	assert_int_equal(pkt.l4.len, 8 + sizeof(data));
	assert_int_equal(pkt.payload.len, sizeof(data));
	assert_memory_equal(pkt.payload.p, data, sizeof(data));

	/* Bytes after the UDP length but within the IP datagram are not data.
	 */
	b[20 + 5] = (uint8_t)(b[20 + 5] - 4);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.payload.len, sizeof(data) - 4);
	assert_memory_equal(pkt.payload.p, data, sizeof(data) - 4);
}

static void
test_ether_padding(void **state)
{
	uint8_t b[PKT_MAX], ip[PKT_MAX], l4[64];
	struct packet pkt;
	size_t n = mk_udp(l4, 1000, 2000, "hi", 2);

	(void)state;
	n = mk_ipv4(ip, SP_PROTO_UDP, 0, 0, l4, n);
	assert_int_equal(n, 30);
	n = mk_ether(b, 0x0800, ip, n);
	memset(b + n, 0xee, 60 - n); /* padded to the minimum frame */
	n = 60;
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, 0);
	assert_int_equal(off(&pkt.l3), 14);
	assert_int_equal(pkt.l3.len, 30);
	assert_int_equal(pkt.l4.len, 10);
	assert_int_equal(pkt.payload.len, 2);
	assert_memory_equal(pkt.payload.p, "hi", 2);

	/* The same for a TCP segment and for IPv6. */
	n = mk_tcp(l4, 1, 2, PACKET_TCP_ACK, 0, NULL, 0);
	n = mk_ipv6(ip, SP_PROTO_TCP, l4, n);
	n = mk_ether(b, 0x86dd, ip, n);
	memset(b + n, 0xee, 8);
	n += 8;
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, 0);
	assert_int_equal(pkt.l3.len, 60);
	assert_int_equal(pkt.l4.len, 20);
	assert_int_equal(pkt.payload.len, 0);
}

static void
test_vlan(void **state)
{
	uint8_t b[PKT_MAX], ip[PKT_MAX], tagged[PKT_MAX];
	struct packet pkt;
	size_t ipn = tcp_syn_v4(ip), n;

	(void)state;
	/* 802.1Q: TCI, then the inner type. */
	wr16(tagged, 100);
	wr16(tagged + 2, 0x0800);
	memcpy(tagged + 4, ip, ipn);
	n = mk_ether(b, 0x8100, tagged, ipn + 4);
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt), PACKET_OK);
	assert_int_equal(off(&pkt.l3), 18);
	assert_int_equal(pkt.dport, 443);

	/* 802.1ad outer, 802.1Q inner. */
	wr16(tagged, 200);
	wr16(tagged + 2, 0x8100);
	wr16(tagged + 4, 100);
	wr16(tagged + 6, 0x0800);
	memcpy(tagged + 8, ip, ipn);
	n = mk_ether(b, 0x88a8, tagged, ipn + 8);
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt), PACKET_OK);
	assert_int_equal(off(&pkt.l3), 22);
	assert_int_equal(pkt.sport, 40000);

	/* A third tag is refused rather than let IP pass unseen. */
	wr16(b + 14 + 6, 0x8100);
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt), PACKET_BAD);

	/* A tag cut short. */
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, 16, &pkt),
	                 PACKET_SHORT);
}

static void
test_not_ip(void **state)
{
	uint8_t b[PKT_MAX], arp[28] = {0, 1, 8, 0, 6, 4, 0, 1};
	uint8_t ip[PKT_MAX];
	struct packet pkt;
	size_t n = mk_ether(b, 0x0806, arp, sizeof(arp));

	(void)state;
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt),
	                 PACKET_NOT_IP);
	/* ARP inside a VLAN tag. */
	wr16(ip, 5);
	wr16(ip + 2, 0x0806);
	memcpy(ip + 4, arp, sizeof(arp));
	n = mk_ether(b, 0x8100, ip, sizeof(arp) + 4);
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt),
	                 PACKET_NOT_IP);
	/* An 802.3 length field, not a type (LLC follows). */
	n = mk_ether(b, 46, arp, sizeof(arp));
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt),
	                 PACKET_NOT_IP);
	/* The IPv4 type carrying an IPv6 packet. */
	n = mk_ipv6(ip, 59, NULL, 0);
	n = mk_ether(b, 0x0800, ip, n);
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt), PACKET_BAD);
	/* A header and nothing after it. */
	n = mk_ether(b, 0x0800, NULL, 0);
	assert_int_equal(parse(PACKET_LINK_ETHERNET, b, n, &pkt), PACKET_SHORT);
}

static void
test_sll(void **state)
{
	uint8_t b[PKT_MAX], ip[PKT_MAX];
	struct packet pkt;
	size_t ipn = tcp_syn_v4(ip);

	(void)state;
	/* v1: packet type, ARPHRD, address length, 8 bytes address, type. */
	memset(b, 0, 16);
	wr16(b + 2, 1); /* ARPHRD_ETHER */
	wr16(b + 4, 6);
	wr16(b + 14, 0x0800);
	memcpy(b + 16, ip, ipn);
	assert_int_equal(parse(PACKET_LINK_SLL, b, 16 + ipn, &pkt), PACKET_OK);
	assert_int_equal(off(&pkt.l3), 16);
	assert_int_equal(pkt.sport, 40000);
	assert_int_equal(pkt.dport, 443);
	wr16(b + 14, 0x0806);
	assert_int_equal(parse(PACKET_LINK_SLL, b, 16 + ipn, &pkt),
	                 PACKET_NOT_IP);
	assert_int_equal(parse(PACKET_LINK_SLL, b, 15, &pkt), PACKET_SHORT);

	/* v2: type first, then 18 bytes of interface, ARPHRD and address. */
	memset(b, 0, 20);
	wr16(b, 0x0800);
	wr32(b + 4, 3); /* interface index */
	wr16(b + 8, 1);
	memcpy(b + 20, ip, ipn);
	assert_int_equal(parse(PACKET_LINK_SLL2, b, 20 + ipn, &pkt), PACKET_OK);
	assert_int_equal(off(&pkt.l3), 20);
	assert_int_equal(pkt.dport, 443);
	wr16(b, 0x86dd); /* says IPv6, holds IPv4 */
	assert_int_equal(parse(PACKET_LINK_SLL2, b, 20 + ipn, &pkt),
	                 PACKET_BAD);
	wr16(b, 0x0806);
	assert_int_equal(parse(PACKET_LINK_SLL2, b, 20 + ipn, &pkt),
	                 PACKET_NOT_IP);
	assert_int_equal(parse(PACKET_LINK_SLL2, b, 19, &pkt), PACKET_SHORT);
}

static void
test_null_loop(void **state)
{
	uint8_t b[PKT_MAX], ip4[PKT_MAX], ip6[PKT_MAX], l4[64];
	struct packet pkt;
	size_t n4 = tcp_syn_v4(ip4), n6;
	static const uint32_t v6fams[] = {24, 28, 30};

	(void)state;
	n6 = mk_udp(l4, 546, 547, "x", 1);
	n6 = mk_ipv6(ip6, SP_PROTO_UDP, l4, n6);

	/* NULL: family 2 written by a little- or a big-endian host. */
	memcpy(b, "\x02\x00\x00\x00", 4);
	memcpy(b + 4, ip4, n4);
	assert_int_equal(parse(PACKET_LINK_NULL, b, 4 + n4, &pkt), PACKET_OK);
	assert_int_equal(pkt.family, AF_INET);
	assert_int_equal(off(&pkt.l3), 4);
	assert_int_equal(pkt.dport, 443);
	memcpy(b, "\x00\x00\x00\x02", 4);
	assert_int_equal(parse(PACKET_LINK_NULL, b, 4 + n4, &pkt), PACKET_OK);
	assert_int_equal(pkt.family, AF_INET);

	/* Every BSD's AF_INET6, both byte orders. */
	memcpy(b + 4, ip6, n6);
	for (size_t i = 0; i < 3; i++) {
		wr32(b, v6fams[i]);
		assert_int_equal(parse(PACKET_LINK_NULL, b, 4 + n6, &pkt),
		                 PACKET_OK);
		assert_int_equal(pkt.family, AF_INET6);
		assert_int_equal(pkt.dport, 547);
		memset(b, 0, 4);
		b[0] = (uint8_t)v6fams[i];
		assert_int_equal(parse(PACKET_LINK_NULL, b, 4 + n6, &pkt),
		                 PACKET_OK);
		assert_int_equal(pkt.family, AF_INET6);
	}
	/* AF_INET says IPv4 but the packet is IPv6. */
	memcpy(b, "\x02\x00\x00\x00", 4);
	assert_int_equal(parse(PACKET_LINK_NULL, b, 4 + n6, &pkt), PACKET_BAD);
	memcpy(b, "\x07\x00\x00\x00", 4);
	assert_int_equal(parse(PACKET_LINK_NULL, b, 4 + n6, &pkt),
	                 PACKET_NOT_IP);
	memcpy(b, "\x02\x00\x00\x01", 4); /* neither order is a family */
	assert_int_equal(parse(PACKET_LINK_NULL, b, 4 + n6, &pkt),
	                 PACKET_NOT_IP);
	assert_int_equal(parse(PACKET_LINK_NULL, b, 3, &pkt), PACKET_SHORT);

	/* LOOP: network order only. */
	wr32(b, 2);
	memcpy(b + 4, ip4, n4);
	assert_int_equal(parse(PACKET_LINK_LOOP, b, 4 + n4, &pkt), PACKET_OK);
	assert_int_equal(pkt.sport, 40000);
	wr32(b, 24);
	memcpy(b + 4, ip6, n6);
	assert_int_equal(parse(PACKET_LINK_LOOP, b, 4 + n6, &pkt), PACKET_OK);
	assert_int_equal(pkt.family, AF_INET6);
	memcpy(b, "\x18\x00\x00\x00", 4);
	assert_int_equal(parse(PACKET_LINK_LOOP, b, 4 + n6, &pkt),
	                 PACKET_NOT_IP);
	assert_int_equal(parse(PACKET_LINK_LOOP, b, 2, &pkt), PACKET_SHORT);
}

static void
test_raw_links(void **state)
{
	uint8_t ip4[PKT_MAX], ip6[PKT_MAX];
	struct packet pkt;
	size_t n4 = tcp_syn_v4(ip4), n6 = mk_ipv6(ip6, 59, NULL, 0);

	(void)state;
	assert_int_equal(parse(PACKET_LINK_IPV6, ip6, n6, &pkt), PACKET_OK);
	assert_int_equal(parse(PACKET_LINK_RAW, ip6, n6, &pkt), PACKET_OK);
	assert_int_equal(pkt.family, AF_INET6);
	assert_int_equal(parse(PACKET_LINK_IPV4, ip6, n6, &pkt), PACKET_BAD);
	assert_int_equal(parse(PACKET_LINK_IPV6, ip4, n4, &pkt), PACKET_BAD);
	assert_int_equal(parse(PACKET_LINK_IPV4, ip4, 0, &pkt), PACKET_SHORT);
	assert_int_equal(parse(PACKET_LINK_RAW, ip4, 0, &pkt), PACKET_SHORT);
	assert_int_equal(parse(-1, ip4, 0, &pkt), PACKET_SHORT);
}

static void
test_ipv6_ext_tcp(void **state)
{
	uint8_t b[PKT_MAX], pl[PKT_MAX];
	struct packet pkt;
	size_t n = 0;

	(void)state;
	n += mk_ext(pl + n, 60, 0);           /* hop-by-hop, 8 bytes */
	n += mk_ext(pl + n, SP_PROTO_TCP, 1); /* destination, 16 bytes */
	n += mk_tcp(pl + n, 50000, 22, PACKET_TCP_SYN | PACKET_TCP_ACK, 0,
	            "ssh", 3);
	n = mk_ipv6(b, 0, pl, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.family, AF_INET6);
	assert_int_equal(pkt.flags, PACKET_F_EXT_HDRS);
	assert_int_equal(pkt.proto, SP_PROTO_TCP);
	assert_int_equal(pkt.ttl, 255);
	assert_int_equal(pkt.ip_len, n);
	assert_addr_v6(&pkt.src, v6src);
	assert_addr_v6(&pkt.dst, v6dst);
	assert_int_equal(off(&pkt.l4), 40 + 24);
	assert_int_equal(pkt.sport, 50000);
	assert_int_equal(pkt.dport, 22);
	assert_int_equal(pkt.tcp_flags, PACKET_TCP_SYN | PACKET_TCP_ACK);
	assert_int_equal(pkt.payload.len, 3);
	assert_memory_equal(pkt.payload.p, "ssh", 3);

	/* Hop-by-hop anywhere but first is refused (RFC 8200 4.1). */
	pl[0] = 0;
	n = mk_ipv6(b, 60, pl, n - 40);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);
}

static void
test_ipv6_ah_esp(void **state)
{
	uint8_t b[PKT_MAX], pl[PKT_MAX];
	struct packet pkt;
	size_t n = 0;

	(void)state;
	/* AH counts 4-byte units minus 2: 4 means 24 bytes. */
	memset(pl, 0, 24);
	pl[0] = SP_PROTO_UDP;
	pl[1] = 4;
	n = 24 + mk_udp(pl + 24, 500, 4500, "ike", 3);
	n = mk_ipv6(b, 51, pl, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_EXT_HDRS);
	assert_int_equal(off(&pkt.l4), 64);
	assert_int_equal(pkt.dport, 4500);

	/* ESP ends the walk: what follows is ciphertext. */
	memset(pl, 0xaa, 32);
	n = mk_ipv6(b, 50, pl, 32);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.proto, 50);
	assert_int_equal(pkt.flags, 0);
	assert_int_equal(off(&pkt.l4), 40);
	assert_int_equal(pkt.l4.len, 32);
	assert_int_equal(pkt.sport, 0);

	/* No next header after a destination option. */
	n = mk_ext(pl, 59, 0);
	n = mk_ipv6(b, 60, pl, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.proto, 59);
	assert_int_equal(pkt.l4.len, 0);
}

static void
test_ipv6_frag(void **state)
{
	uint8_t b[PKT_MAX], pl[PKT_MAX];
	struct packet pkt;
	size_t n;

	(void)state;
	/* First fragment: the UDP length counts the reassembled datagram. */
	n = mk_frag6(pl, SP_PROTO_UDP, 0, true, 0xdeadbeef);
	n += mk_udp(pl + n, 53, 33333, "0123456789abcdef", 16);
	wr16(pl + 8 + 4, 3000);
	n = mk_ipv6(b, 44, pl, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_FRAG | PACKET_F_EXT_HDRS);
	assert_int_equal(pkt.frag_id, 0xdeadbeef);
	assert_int_equal(pkt.frag_off, 0);
	assert_int_equal(pkt.proto, SP_PROTO_UDP);
	assert_int_equal(pkt.sport, 53);
	assert_int_equal(pkt.dport, 33333);
	assert_int_equal(pkt.payload.len, 16);

	/* A later one: no transport header, its bytes in l4 and payload. */
	n = mk_frag6(pl, SP_PROTO_UDP, 1448, false, 0xdeadbeef);
	memcpy(pl + n, "continued", 9);
	n = mk_ipv6(b, 44, pl, n + 9);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_FRAG | PACKET_F_FRAG_LATER |
	                                    PACKET_F_EXT_HDRS);
	assert_int_equal(pkt.frag_off, 1448);
	assert_int_equal(pkt.frag_id, 0xdeadbeef);
	assert_int_equal(pkt.proto, SP_PROTO_UDP);
	assert_int_equal(pkt.sport, 0);
	assert_int_equal(pkt.dport, 0);
	assert_int_equal(off(&pkt.l4), 48);
	assert_int_equal(pkt.payload.len, 9);
	assert_memory_equal(pkt.payload.p, "continued", 9);

	/* An atomic fragment (RFC 6946) is a whole datagram. */
	n = mk_frag6(pl, SP_PROTO_TCP, 0, false, 1);
	n += mk_tcp(pl + n, 1, 2, PACKET_TCP_RST, 0, NULL, 0);
	n = mk_ipv6(b, 44, pl, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_EXT_HDRS);
	assert_int_equal(pkt.tcp_flags, PACKET_TCP_RST);

	/* Two fragment headers. */
	n = mk_frag6(pl, 44, 0, true, 1);
	n += mk_frag6(pl + n, SP_PROTO_TCP, 0, true, 2);
	n += mk_tcp(pl + n, 1, 2, PACKET_TCP_RST, 0, NULL, 0);
	n = mk_ipv6(b, 44, pl, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);
}

static void
test_ipv4_frag(void **state)
{
	uint8_t b[PKT_MAX], l4[PKT_MAX];
	struct packet pkt;
	size_t n;

	(void)state;
	/* First: MF, offset 0; UDP length beyond the fragment is fine. */
	n = mk_udp(l4, 4000, 53, "0123456789abcdef", 16);
	wr16(l4 + 4, 2000);
	n = mk_ipv4(b, SP_PROTO_UDP, 0, 0x2000, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_FRAG);
	assert_int_equal(pkt.frag_id, 0x1234);
	assert_int_equal(pkt.frag_off, 0);
	assert_int_equal(pkt.sport, 4000);
	assert_int_equal(pkt.dport, 53);
	assert_int_equal(pkt.payload.len, 16);

	/* Later: offset 185 units is 1480 bytes, MF clear (the last one). */
	n = mk_ipv4(b, SP_PROTO_UDP, 0, 185, (const uint8_t *)"tail!", 5);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_FRAG | PACKET_F_FRAG_LATER);
	assert_int_equal(pkt.frag_off, 1480);
	assert_int_equal(pkt.frag_id, 0x1234);
	assert_int_equal(pkt.proto, SP_PROTO_UDP);
	assert_int_equal(pkt.sport, 0);
	assert_int_equal(pkt.dport, 0);
	assert_int_equal(off(&pkt.payload), 20);
	assert_memory_equal(pkt.payload.p, "tail!", 5);

	/* A later fragment too small for any header is still fine. */
	n = mk_ipv4(b, SP_PROTO_TCP, 0, 0x2000 | 1, (const uint8_t *)"x", 1);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.frag_off, 8);

	/* A first TCP fragment without the whole header (RFC 1858). */
	n = mk_tcp(l4, 1, 2, PACKET_TCP_SYN, 0, NULL, 0);
	n = mk_ipv4(b, SP_PROTO_TCP, 0, 0x2000, l4, 8);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_SHORT);
}

static void
test_icmp_echo(void **state)
{
	uint8_t b[PKT_MAX], l4[64];
	struct packet pkt;
	size_t n;

	(void)state;
	n = mk_icmp(l4, 8, 0, 0x4242);
	n = mk_ipv4(b, SP_PROTO_ICMP, 0, 0, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.icmp_type, 8);
	assert_int_equal(pkt.icmp_code, 0);
	assert_int_equal(pkt.sport, 0x4242);
	assert_int_equal(pkt.dport, 0x4242);
	assert_memory_equal(pkt.payload.p, "ping", 4);
	n = mk_icmp(l4, 0, 0, 0x4242);
	n = mk_ipv4(b, SP_PROTO_ICMP, 0, 0, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.icmp_type, 0);
	assert_int_equal(pkt.sport, 0x4242);
	assert_int_equal(pkt.dport, 0x4242);
	/* Port unreachable: no id. */
	n = mk_icmp(l4, 3, 3, 0x4242);
	n = mk_ipv4(b, SP_PROTO_ICMP, 0, 0, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.icmp_type, 3);
	assert_int_equal(pkt.icmp_code, 3);
	assert_int_equal(pkt.sport, 0);
	assert_int_equal(pkt.dport, 0);

	n = mk_icmp(l4, 128, 0, 0x0777);
	n = mk_ipv6(b, SP_PROTO_ICMP6, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.proto, SP_PROTO_ICMP6);
	assert_int_equal(pkt.icmp_type, 128);
	assert_int_equal(pkt.sport, 0x0777);
	assert_int_equal(pkt.dport, 0x0777);
	n = mk_icmp(l4, 129, 0, 0x0777);
	n = mk_ipv6(b, SP_PROTO_ICMP6, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.icmp_type, 129);
	assert_int_equal(pkt.dport, 0x0777);
	/* Neighbour solicitation; and ICMPv4 echo numbers mean nothing. */
	n = mk_icmp(l4, 135, 0, 0x0777);
	n = mk_ipv6(b, SP_PROTO_ICMP6, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.icmp_type, 135);
	assert_int_equal(pkt.sport, 0);
	n = mk_icmp(l4, 8, 0, 0x0777);
	n = mk_ipv6(b, SP_PROTO_ICMP6, l4, n);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.sport, 0);

	/* An ICMP message shorter than its 8-byte header. */
	n = mk_ipv4(b, SP_PROTO_ICMP, 0, 0, l4, 4);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_SHORT);
}

static void
test_other_proto(void **state)
{
	uint8_t b[PKT_MAX];
	struct packet pkt;
	size_t n = mk_ipv4(b, 47, 0, 0, (const uint8_t *)"\0\0\x08\0gre", 7);

	(void)state;
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.proto, 47);
	assert_int_equal(pkt.sport, 0);
	assert_int_equal(pkt.dport, 0);
	assert_int_equal(off(&pkt.l4), 20);
	assert_int_equal(pkt.l4.len, 7);
	/* Nothing after the header at all. */
	n = mk_ipv4(b, 47, 0, 0, NULL, 0);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.l4.len, 0);
}

/* Valid frames, every prefix of which is parsed below. */
struct frame {
	int link;
	size_t n;
	uint8_t b[PKT_MAX];
};

static size_t
frames_make(struct frame *f)
{
	uint8_t ip[PKT_MAX], pl[PKT_MAX];
	struct frame *x = f;
	size_t n;

	x->link = PACKET_LINK_ETHERNET;
	n = tcp_syn_v4(ip);
	x->n = mk_ether(x->b, 0x0800, ip, n);
	x++;

	x->link = PACKET_LINK_RAW;
	n = mk_tcp(pl, 1, 2, PACKET_TCP_ACK, 2, "data", 4);
	x->n = mk_ipv4(x->b, SP_PROTO_TCP, 4, 0, pl, n);
	x++;

	x->link = PACKET_LINK_SLL;
	memset(x->b, 0, 16);
	wr16(x->b + 14, 0x0800);
	n = mk_udp(pl, 53, 9999, "answer", 6);
	x->n = 16 + mk_ipv4(x->b + 16, SP_PROTO_UDP, 0, 0, pl, n);
	x++;

	x->link = PACKET_LINK_ETHERNET;
	n = mk_icmp(pl, 8, 0, 99);
	n = mk_ipv4(ip, SP_PROTO_ICMP, 0, 0, pl, n);
	wr16(pl, 7);
	wr16(pl + 2, 0x0800);
	memcpy(pl + 4, ip, n);
	x->n = mk_ether(x->b, 0x8100, pl, n + 4);
	x++;

	x->link = PACKET_LINK_SLL2;
	memset(x->b, 0, 20);
	wr16(x->b, 0x86dd);
	n = mk_ext(pl, 60, 0);
	n += mk_ext(pl + n, 44, 1);
	n += mk_frag6(pl + n, SP_PROTO_TCP, 0, true, 5);
	n += mk_tcp(pl + n, 443, 40000, PACKET_TCP_ACK, 1, "tls", 3);
	x->n = 20 + mk_ipv6(x->b + 20, 0, pl, n);
	x++;

	x->link = PACKET_LINK_NULL;
	memcpy(x->b, "\x1e\0\0\0", 4);
	n = mk_icmp(pl, 128, 0, 3);
	x->n = 4 + mk_ipv6(x->b + 4, SP_PROTO_ICMP6, pl, n);
	x++;

	x->link = PACKET_LINK_IPV6;
	n = mk_udp(pl, 500, 500, "ikev2", 5);
	x->n = mk_ipv6(x->b, SP_PROTO_UDP, pl, n);
	x++;
	return (size_t)(x - f);
}

/*
 * Every prefix of a valid frame, as a snap length would leave it: it must
 * never crash, and when it is OK its views lie within the prefix and a cut
 * datagram says so.
 */
static void
test_truncated_every_length(void **state)
{
	struct frame f[16];
	struct packet pkt;
	size_t nf = frames_make(f), oks = 0;
	enum packet_status s;

	(void)state;
	assert_true(nf <= 16);
	for (size_t i = 0; i < nf; i++) {
		assert_int_equal(parse(f[i].link, f[i].b, f[i].n, &pkt),
		                 PACKET_OK);
		assert_int_equal(
		        pkt.flags & (PACKET_F_TRUNCATED | PACKET_F_L4_SHORT),
		        0);
		for (size_t len = 0; len < f[i].n; len++) {
			s = parse(f[i].link, f[i].b, len, &pkt);
			/* parse() asserted the views on OK. */
			assert_true(s == PACKET_OK || s == PACKET_SHORT);
			if (s != PACKET_OK)
				continue;
			oks++;
			assert_true(pkt.flags & PACKET_F_TRUNCATED);
			if (pkt.flags & PACKET_F_L4_SHORT)
				assert_int_equal(pkt.payload.len, 0);
		}
	}
	assert_true(oks > 0);
}

static void
test_truncated_semantics(void **state)
{
	uint8_t b[PKT_MAX], l4[PKT_MAX];
	struct packet pkt;
	size_t n;

	(void)state;
	/* Snap length inside the TCP header but after the ports. */
	n = mk_tcp(l4, 40000, 443, PACKET_TCP_SYN, 0, NULL, 0);
	n = mk_ipv4(b, SP_PROTO_TCP, 0, 0, l4, n);
	assert_int_equal(parse(-1, b, 30, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_TRUNCATED | PACKET_F_L4_SHORT);
	assert_int_equal(pkt.ip_len, 40);
	assert_int_equal(pkt.l3.len, 30);
	assert_int_equal(pkt.l4.len, 10);
	assert_int_equal(pkt.payload.len, 0);
	assert_int_equal(pkt.sport, 40000);
	assert_int_equal(pkt.dport, 443);
	/* ... and before the ports end. */
	assert_int_equal(parse(-1, b, 23, &pkt), PACKET_SHORT);
	/* TCP options cut: flags known, payload empty. */
	n = mk_tcp(l4, 1, 2, PACKET_TCP_SYN, 5, NULL, 0);
	n = mk_ipv4(b, SP_PROTO_TCP, 0, 0, l4, n);
	assert_int_equal(parse(-1, b, 50, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_TRUNCATED | PACKET_F_L4_SHORT);
	assert_int_equal(pkt.tcp_flags, PACKET_TCP_SYN);

	/* UDP payload cut: the header is whole, the payload what is there. */
	n = mk_udp(l4, 53, 1024, "0123456789", 10);
	n = mk_ipv4(b, SP_PROTO_UDP, 0, 0, l4, n);
	assert_int_equal(parse(-1, b, n - 4, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_TRUNCATED);
	assert_int_equal(pkt.payload.len, 6);
	assert_memory_equal(pkt.payload.p, "012345", 6);

	/* An IPv4 header cut before its options end. */
	n = mk_ipv4(b, SP_PROTO_UDP, 8, 0, l4, 18);
	assert_int_equal(parse(-1, b, 24, &pkt), PACKET_SHORT);

	/* An IPv6 extension header cut. */
	n = mk_ext(l4, SP_PROTO_TCP, 2);
	n += mk_tcp(l4 + n, 1, 2, 0, 0, NULL, 0);
	n = mk_ipv6(b, 60, l4, n);
	assert_int_equal(parse(-1, b, 60, &pkt), PACKET_SHORT);
	assert_int_equal(parse(-1, b, 64 + 4, &pkt), PACKET_OK);
	assert_int_equal(pkt.flags, PACKET_F_TRUNCATED | PACKET_F_EXT_HDRS |
	                                    PACKET_F_L4_SHORT);
}

static void
test_garbled(void **state)
{
	uint8_t b[PKT_MAX], good[PKT_MAX], l4[PKT_MAX], pl[PKT_MAX];
	struct packet pkt;
	size_t n, m;

	(void)state;
	n = tcp_syn_v4(good);

	/* Neither IPv4 nor IPv6. */
	for (unsigned v = 0; v < 16; v++) {
		if (v == 4 || v == 6)
			continue;
		memcpy(b, good, n);
		b[0] = (uint8_t)(v << 4 | 5);
		assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);
		assert_int_equal(parse(PACKET_LINK_RAW, b, n, &pkt),
		                 PACKET_BAD);
	}
	/* IHL below 5. */
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		memcpy(b, good, n);
		b[0] = (uint8_t)(0x40 | ihl);
		assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);
	}
	/* Total length below the header length. */
	memcpy(b, good, n);
	wr16(b + 2, 19);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);
	b[0] = 0x46;
	wr16(b + 2, 22);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);
	/* Total length too small for the TCP header it announces. */
	wr16(b + 2, 39);
	b[0] = 0x45;
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_SHORT);
	/* TCP data offset below 5, and beyond the datagram. */
	for (uint8_t doff = 0; doff < 5; doff++) {
		memcpy(b, good, n);
		b[20 + 12] = (uint8_t)(doff << 4);
		assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);
	}
	b[20 + 12] = 6 << 4;
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_SHORT);

	/* UDP length below 8, and beyond the datagram. */
	n = mk_udp(l4, 1, 2, "abcd", 4);
	n = mk_ipv4(b, SP_PROTO_UDP, 0, 0, l4, n);
	for (uint16_t ulen = 0; ulen < 8; ulen++) {
		wr16(b + 24, ulen);
		assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);
	}
	wr16(b + 24, 13);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_SHORT);
	wr16(b + 24, 12);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	/* A datagram too small for a UDP header. */
	n = mk_ipv4(b, SP_PROTO_UDP, 0, 0, l4, 6);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_SHORT);

	/* SP_IPV6_EXT_MAX extension headers pass; one more does not. */
	m = 0;
	for (unsigned i = 0; i < SP_IPV6_EXT_MAX; i++)
		m += mk_ext(pl + m, i + 1 < SP_IPV6_EXT_MAX ? 60 : SP_PROTO_TCP,
		            0);
	m += mk_tcp(pl + m, 1, 2, PACKET_TCP_SYN, 0, NULL, 0);
	n = mk_ipv6(b, 60, pl, m);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_OK);
	assert_int_equal(pkt.dport, 2);
	n = mk_ext(l4, 60, 0);
	memcpy(l4 + n, pl, m);
	n = mk_ipv6(b, 60, l4, n + m);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_BAD);

	/* An IPv6 payload length below the extension header it announces. */
	n = mk_ext(l4, SP_PROTO_TCP, 1);
	n += mk_tcp(l4 + n, 1, 2, 0, 0, NULL, 0);
	n = mk_ipv6(b, 43, l4, n);
	wr16(b + 4, 8);
	assert_int_equal(parse(-1, b, n, &pkt), PACKET_SHORT);
}

static void
test_names_stats_links(void **state)
{
	struct packet_stats st = {0};
	int yes[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276};
	int no[] = {-1, 2, 105, 127, 227, 230, 1000};

	(void)state;
	assert_string_equal(packet_status_name(PACKET_OK), "ok");
	assert_string_equal(packet_status_name(PACKET_SHORT), "short");
	assert_string_equal(packet_status_name(PACKET_BAD), "bad");
	assert_string_equal(packet_status_name(PACKET_NOT_IP), "not-ip");
	packet_stats_count(&st, PACKET_OK);
	packet_stats_count(&st, PACKET_OK);
	packet_stats_count(&st, PACKET_SHORT);
	packet_stats_count(&st, PACKET_BAD);
	packet_stats_count(&st, PACKET_NOT_IP);
	packet_stats_count(&st, PACKET_NOT_IP);
	packet_stats_count(&st, PACKET_NOT_IP);
	assert_int_equal(st.ok, 2);
	assert_int_equal(st.short_, 1);
	assert_int_equal(st.bad, 1);
	assert_int_equal(st.not_ip, 3);
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(packet_link_supported(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(packet_link_supported(no[i]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_ipv4_tcp_syn, teardown),
	        cmocka_unit_test_teardown(test_ipv4_options, teardown),
	        cmocka_unit_test_teardown(test_udp_payload, teardown),
	        cmocka_unit_test_teardown(test_ether_padding, teardown),
	        cmocka_unit_test_teardown(test_vlan, teardown),
	        cmocka_unit_test_teardown(test_not_ip, teardown),
	        cmocka_unit_test_teardown(test_sll, teardown),
	        cmocka_unit_test_teardown(test_null_loop, teardown),
	        cmocka_unit_test_teardown(test_raw_links, teardown),
	        cmocka_unit_test_teardown(test_ipv6_ext_tcp, teardown),
	        cmocka_unit_test_teardown(test_ipv6_ah_esp, teardown),
	        cmocka_unit_test_teardown(test_ipv6_frag, teardown),
	        cmocka_unit_test_teardown(test_ipv4_frag, teardown),
	        cmocka_unit_test_teardown(test_icmp_echo, teardown),
	        cmocka_unit_test_teardown(test_other_proto, teardown),
	        cmocka_unit_test_teardown(test_truncated_every_length,
	                                  teardown),
	        cmocka_unit_test_teardown(test_truncated_semantics, teardown),
	        cmocka_unit_test_teardown(test_garbled, teardown),
	        cmocka_unit_test_teardown(test_names_stats_links, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

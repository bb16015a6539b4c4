/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The answer to a rejected packet, built with libnet (tun_reply.h). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "divert/tun_reply.h"
#include "spackle/packet.h"

#define TUN_REPLY_TTL 64
/* How much of the rejected packet an ICMP error quotes: what fits in 576
 * bytes (IPv4, RFC 1812 4.3.2.3) or 1280 (IPv6, RFC 4443 2.4 (c)). */
#define TUN_QUOTE4 (576u - LIBNET_IPV4_H - LIBNET_ICMPV4_UNREACH_H)
#define TUN_QUOTE6 (TUN_REPLY_MAX - LIBNET_IPV6_H - LIBNET_ICMPV6_UNREACH_H)

static bool
tun_multicast(const struct packet *p)
{
	if (p->family == AF_INET)
		return (p->dst.b[12] & 0xf0) == 0xe0 ||
		       memcmp(p->dst.b + 12, "\xff\xff\xff\xff", 4) == 0;
	return p->dst.b[0] == 0xff;
}

/* No error about an error (RFC 1122 3.2.2, RFC 4443 2.4 (e)). */
static bool
tun_icmp_error(const struct packet *p)
{
	if (p->proto == IPPROTO_ICMP)
		return p->icmp_type != 0 && p->icmp_type != 8 &&
		       p->icmp_type != 13 && p->icmp_type != 15 &&
		       p->icmp_type != 17;
	if (p->proto == IPPROTO_ICMPV6)
		return p->icmp_type < 128;
	return false;
}

static libnet_ptag_t
tun_build_rst(libnet_t *l, const struct packet *p)
{
	const uint8_t *t = p->l4.p;
	uint32_t seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 |
	               (uint32_t)t[6] << 8 | t[7];
	uint32_t ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 |
	               (uint32_t)t[10] << 8 | t[11];
	uint32_t span = (uint32_t)p->payload.len;

	/* A segment with ACK is answered at the sequence it acknowledged;
	 * one without gets an ACK of everything it occupied. */
	if (p->tcp_flags & PACKET_TCP_ACK)
		return libnet_build_tcp(p->dport, p->sport, ack, 0, TH_RST, 0,
		                        0, 0, LIBNET_TCP_H, NULL, 0, l, 0);
	if (p->tcp_flags & PACKET_TCP_SYN)
		span++;
	if (p->tcp_flags & PACKET_TCP_FIN)
		span++;
	return libnet_build_tcp(p->dport, p->sport, 0, seq + span,
	                        TH_RST | TH_ACK, 0, 0, 0, LIBNET_TCP_H, NULL, 0,
	                        l, 0);
}

/* The IPv4 header checksum, written in: libnet leaves it to the kernel's
 * raw socket, and a packet written into a tun meets no raw socket. */
static void
tun_ip4_checksum(uint8_t *ip)
{
	size_t hl = (size_t)(ip[0] & 0x0f) * 4, i;
	uint32_t sum = 0;

	ip[10] = ip[11] = 0;
	for (i = 0; i + 1 < hl; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
}

static enum tun_reply_status
tun_build(libnet_t *l, const struct packet *p, const uint8_t *pkt, size_t len)
{
	bool tcp = p->proto == IPPROTO_TCP;
	uint8_t q[TUN_QUOTE6]; /* libnet's payload is not const */
	uint32_t quote, l4len;
	libnet_ptag_t t;

	memcpy(q, pkt, len < sizeof(q) ? len : sizeof(q));
	if (p->family == AF_INET) {
		uint32_t src, dst;

		quote = len < TUN_QUOTE4 ? (uint32_t)len : TUN_QUOTE4;
		t = tcp ? tun_build_rst(l, p)
		        : libnet_build_icmpv4_unreach(ICMP_UNREACH,
		                                      ICMP_UNREACH_PORT, 0, q,
		                                      quote, l, 0);
		l4len = tcp ? LIBNET_TCP_H : LIBNET_ICMPV4_UNREACH_H + quote;
		memcpy(&src, p->dst.b + 12, 4);
		memcpy(&dst, p->src.b + 12, 4);
		if (t == -1 ||
		    libnet_build_ipv4(LIBNET_IPV4_H + l4len, 0, 0, 0,
		                      TUN_REPLY_TTL,
		                      tcp ? IPPROTO_TCP : IPPROTO_ICMP, 0, src,
		                      dst, NULL, 0, l, 0) == -1)
			return TUN_REPLY_NO_BUILD;
	} else {
		struct libnet_in6_addr src, dst;

		quote = len < TUN_QUOTE6 ? (uint32_t)len : TUN_QUOTE6;
		t = tcp ? tun_build_rst(l, p)
		        : libnet_build_icmpv6_unreach(ICMP6_DST_UNREACH,
		                                      ICMP6_DST_UNREACH_NOPORT,
		                                      0, q, quote, l, 0);
		l4len = tcp ? LIBNET_TCP_H : LIBNET_ICMPV6_UNREACH_H + quote;
		memcpy(&src, p->dst.b, 16);
		memcpy(&dst, p->src.b, 16);
		if (t == -1 ||
		    libnet_build_ipv6(
		            0, 0, l4len, tcp ? IPPROTO_TCP : IPPROTO_ICMPV6,
		            TUN_REPLY_TTL, src, dst, NULL, 0, l, 0) == -1)
			return TUN_REPLY_NO_BUILD;
	}
	return TUN_REPLY_OK;
}

enum tun_reply_status
tun_reply(libnet_t *l4, libnet_t *l6, const uint8_t *pkt, size_t len,
          uint8_t *out, size_t *outlen)
{
	struct packet p;
	enum tun_reply_status st;
	libnet_t *l;
	uint8_t *built = NULL;
	uint32_t n = 0;

	*outlen = 0;
	if (packet_parse_ip(pkt, len, &p) != PACKET_OK)
		return TUN_REPLY_BAD;
	if ((p.flags & PACKET_F_FRAG_LATER) || tun_multicast(&p) ||
	    tun_icmp_error(&p) ||
	    (p.proto == IPPROTO_TCP &&
	     ((p.tcp_flags & PACKET_TCP_RST) || (p.flags & PACKET_F_L4_SHORT) ||
	      p.l4.len < LIBNET_TCP_H)))
		return TUN_REPLY_NONE;
	l = p.family == AF_INET ? l4 : l6;
	st = tun_build(l, &p, p.l3.p, p.l3.len);
	if (st == TUN_REPLY_OK) {
		/* libnet 1.1.6's libnet_adv_cull_packet() serves link-layer
		 * contexts alone; what it calls, libnet_pblock_coalesce()
		 * (declared in libnet-functions.h), serves any. */
		if (libnet_pblock_coalesce(l, &built, &n) != 1 ||
		    n > TUN_REPLY_MAX)
			st = TUN_REPLY_NO_BUILD;
		else {
			memcpy(out, built, n);
			*outlen = n;
			if (p.family == AF_INET)
				tun_ip4_checksum(out);
		}
		if (built != NULL)
			libnet_adv_free_packet(l, built);
	}
	libnet_clear_packet(l);
	return st;
}

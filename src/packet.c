/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The packet parser: strips link headers, walks IP and transport headers. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/packet.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100 /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8 /* 802.1ad */
#define ETHER_HDR_LEN  14
#define ETHER_TAGS_MAX 2
#define SLL_HDR_LEN    16
#define SLL2_HDR_LEN   20
#define NULL_HDR_LEN   4
#define IPV4_HDR_LEN   20
#define IPV6_HDR_LEN   40
#define TCP_HDR_LEN    20
#define UDP_HDR_LEN    8
#define ICMP_HDR_LEN   8 /* type, code, checksum and 4 bytes per type */
#define IPV4_MF        0x2000
#define IPV4_OFFMASK   0x1fff
#define IPV6_FRAG_M    0x0001
#define IPV6_FRAG_OFF  0xfff8 /* 13 bits in 8-byte units: already bytes */

/* IPv6 next-header values walked as extension headers (RFC 8200 4). */
enum {
	IP6_HOPOPTS = 0,
	IP6_ROUTING = 43,
	IP6_FRAGMENT = 44,
	IP6_AH = 51,
	IP6_DSTOPTS = 60,
};

/* Address families a NULL or LOOP header may carry, as BSDs number them. */
enum {
	BSD_AF_INET = 2,
	BSD_AF_INET6_BSD = 24, /* NetBSD, OpenBSD, BSD/OS */
	BSD_AF_INET6_FREEBSD = 28,
	BSD_AF_INET6_DARWIN = 30,
};

static inline void
view_set(struct sp_view *v, const uint8_t *p, size_t len)
{
	v->p = p;
	v->len = len;
}

/*
 * No transport header to parse (another protocol, or a fragment that does not
 * start the datagram): l4 and payload both cover what follows the IP headers.
 */
static enum packet_status
l4_opaque(struct packet *pkt, const uint8_t *p, size_t avail)
{
	view_set(&pkt->l4, p, avail);
	pkt->payload = pkt->l4;
	return PACKET_OK;
}

/*
 * Truncated captures. When the snap length cuts the transport header after the
 * bytes that make the flow key (ports; ICMP type, code and echo id), the
 * packet is PACKET_OK with PACKET_F_L4_SHORT: l4 holds what was captured, the
 * payload is empty and a flow can still be matched; tcp_flags is set only when
 * TCP's fixed 20 bytes are there. When even the key was cut, PACKET_SHORT. When
 * the IP layer itself announces a datagram too small for the transport header,
 * it is PACKET_SHORT whatever was captured: the header the packet announces is
 * not in it. This also refuses a first fragment too small for the TCP header
 * (RFC 1858 3.1).
 */
static enum packet_status
l4_cut(struct packet *pkt, const uint8_t *p, size_t avail)
{
	pkt->flags |= PACKET_F_L4_SHORT;
	view_set(&pkt->l4, p, avail);
	view_set(&pkt->payload, p + avail, 0);
	return PACKET_OK;
}

/* `avail` bytes of the transport header at p were captured of `claimed`. */
static enum packet_status
parse_tcp(struct packet *pkt, const uint8_t *p, size_t avail, size_t claimed)
{
	size_t off;

	if (claimed < TCP_HDR_LEN || avail < 4)
		return PACKET_SHORT;
	pkt->sport = sp_rd16(p);
	pkt->dport = sp_rd16(p + 2);
	if (avail < TCP_HDR_LEN)
		return l4_cut(pkt, p, avail);
	off = (size_t)(p[12] >> 4) << 2;
	if (off < TCP_HDR_LEN)
		return PACKET_BAD;
	if (off > claimed)
		return PACKET_SHORT;
	pkt->tcp_flags = p[13];
	if (off > avail)
		return l4_cut(pkt, p, avail);
	view_set(&pkt->l4, p, avail);
	view_set(&pkt->payload, p + off, avail - off);
	return PACKET_OK;
}

static enum packet_status
parse_udp(struct packet *pkt, const uint8_t *p, size_t avail, size_t claimed)
{
	size_t ulen;

	if (claimed < UDP_HDR_LEN || avail < 4)
		return PACKET_SHORT;
	pkt->sport = sp_rd16(p);
	pkt->dport = sp_rd16(p + 2);
	if (avail < UDP_HDR_LEN)
		return l4_cut(pkt, p, avail);
	ulen = sp_rd16(p + 4);
	if (ulen < UDP_HDR_LEN)
		return PACKET_BAD;
	/*
	 * In a first fragment the UDP length counts the whole reassembled
	 * datagram, so it may exceed what this fragment carries.
	 */
	if (ulen > claimed && !(pkt->flags & PACKET_F_FRAG))
		return PACKET_SHORT;
	/* The header is whole; a payload cut by the snap length is TRUNCATED.
	 */
	if (ulen > avail)
		ulen = avail;
	view_set(&pkt->l4, p, ulen);
	view_set(&pkt->payload, p + UDP_HDR_LEN, ulen - UDP_HDR_LEN);
	return PACKET_OK;
}

static enum packet_status
parse_icmp(struct packet *pkt, const uint8_t *p, size_t avail, size_t claimed)
{
	bool echo;

	if (claimed < ICMP_HDR_LEN || avail < 2)
		return PACKET_SHORT;
	pkt->icmp_type = p[0];
	pkt->icmp_code = p[1];
	if (pkt->proto == SP_PROTO_ICMP)
		echo = p[0] == 8 || p[0] == 0;
	else
		echo = p[0] == 128 || p[0] == 129;
	if (echo) {
		/* Request and reply share a flow key: the id in both ports. */
		if (avail < 6)
			return PACKET_SHORT;
		pkt->sport = sp_rd16(p + 4);
		pkt->dport = pkt->sport;
	}
	if (avail < ICMP_HDR_LEN)
		return l4_cut(pkt, p, avail);
	view_set(&pkt->l4, p, avail);
	view_set(&pkt->payload, p + ICMP_HDR_LEN, avail - ICMP_HDR_LEN);
	return PACKET_OK;
}

static enum packet_status
parse_l4(struct packet *pkt, const uint8_t *p, size_t avail, size_t claimed)
{
	switch (pkt->proto) {
	case SP_PROTO_TCP:
		return parse_tcp(pkt, p, avail, claimed);
	case SP_PROTO_UDP:
		return parse_udp(pkt, p, avail, claimed);
	case SP_PROTO_ICMP:
	case SP_PROTO_ICMP6:
		return parse_icmp(pkt, p, avail, claimed);
	}
	return l4_opaque(pkt, p, avail);
}

/*
 * Views end at the length the IP header claims, so link-layer padding never
 * becomes payload; when fewer bytes were captured than it claims, they end at
 * what was captured and PACKET_F_TRUNCATED is set.
 */
static enum packet_status
parse_ipv4(const uint8_t *p, size_t len, struct packet *pkt)
{
	size_t hlen, total, end;
	uint16_t frag;

	if (len < IPV4_HDR_LEN)
		return PACKET_SHORT;
	hlen = (size_t)(p[0] & 0x0f) << 2;
	if (hlen < IPV4_HDR_LEN)
		return PACKET_BAD;
	total = sp_rd16(p + 2);
	if (total < hlen)
		return PACKET_BAD;
	if (len < hlen)
		return PACKET_SHORT;
	end = total;
	if (total > len) {
		pkt->flags |= PACKET_F_TRUNCATED;
		end = len;
	}
	if (hlen > IPV4_HDR_LEN)
		pkt->flags |= PACKET_F_IP_OPTIONS;

	view_set(&pkt->l3, p, end);
	pkt->family = AF_INET;
	pkt->ip_len = (uint32_t)total;
	pkt->frag_id = sp_rd16(p + 4);
	pkt->ttl = p[8];
	pkt->proto = p[9];
	sp_addr_from_v4(&pkt->src, p + 12);
	sp_addr_from_v4(&pkt->dst, p + 16);

	frag = sp_rd16(p + 6);
	if (frag & (IPV4_MF | IPV4_OFFMASK)) {
		pkt->flags |= PACKET_F_FRAG;
		pkt->frag_off = (uint16_t)((frag & IPV4_OFFMASK) << 3);
		if (pkt->frag_off > 0) {
			pkt->flags |= PACKET_F_FRAG_LATER;
			return l4_opaque(pkt, p + hlen, end - hlen);
		}
	}
	return parse_l4(pkt, p + hlen, end - hlen, total - hlen);
}

/*
 * Extension headers are walked up to the transport header, ESP or "no next
 * header". Every one of them must lie whole within the bytes captured: a
 * chain cut short is PACKET_SHORT, as RFC 7112 asks a first fragment to carry
 * the whole chain. Hop-by-hop options anywhere but first (RFC 8200 4.1) and a
 * second fragment header are PACKET_BAD: both serve to evade filters.
 */
static enum packet_status
parse_ipv6(const uint8_t *p, size_t len, struct packet *pkt)
{
	size_t total, end, off, hlen;
	unsigned n;
	uint16_t frag;
	uint8_t nh;
	bool fragment = false;

	if (len < IPV6_HDR_LEN)
		return PACKET_SHORT;
	total = IPV6_HDR_LEN + (size_t)sp_rd16(p + 4);
	end = total;
	if (total > len) {
		pkt->flags |= PACKET_F_TRUNCATED;
		end = len;
	}

	view_set(&pkt->l3, p, end);
	pkt->family = AF_INET6;
	pkt->ip_len = (uint32_t)total;
	pkt->ttl = p[7];
	sp_addr_from_v6(&pkt->src, p + 8);
	sp_addr_from_v6(&pkt->dst, p + 24);

	nh = p[6];
	off = IPV6_HDR_LEN;
	for (n = 0;; n++) {
		switch (nh) {
		case IP6_HOPOPTS:
			if (n > 0)
				return PACKET_BAD;
			break;
		case IP6_ROUTING:
		case IP6_DSTOPTS:
		case IP6_FRAGMENT:
		case IP6_AH:
			break;
		default:
			goto done;
		}
		if (n == SP_IPV6_EXT_MAX)
			return PACKET_BAD;
		/* Every extension header is at least 8 bytes long. */
		if (end - off < 8)
			return PACKET_SHORT;
		if (nh == IP6_AH)
			hlen = ((size_t)p[off + 1] + 2) << 2; /* RFC 4302 2.2 */
		else if (nh == IP6_FRAGMENT)
			hlen = 8;
		else
			hlen = ((size_t)p[off + 1] + 1) << 3;
		if (end - off < hlen)
			return PACKET_SHORT;
		pkt->flags |= PACKET_F_EXT_HDRS;
		if (nh == IP6_FRAGMENT) {
			if (fragment)
				return PACKET_BAD;
			fragment = true;
			frag = sp_rd16(p + off + 2);
			pkt->frag_id = sp_rd32(p + off + 4);
			pkt->frag_off = frag & IPV6_FRAG_OFF;
			/* Offset 0 and no M is an atomic fragment (RFC 6946).
			 */
			if (frag & (IPV6_FRAG_OFF | IPV6_FRAG_M))
				pkt->flags |= PACKET_F_FRAG;
		}
		nh = p[off];
		off += hlen;
		if (pkt->frag_off > 0) {
			/* What follows continues a datagram; no header. */
			pkt->flags |= PACKET_F_FRAG_LATER;
			pkt->proto = nh;
			return l4_opaque(pkt, p + off, end - off);
		}
	}
done:
	pkt->proto = nh;
	return parse_l4(pkt, p + off, end - off, total - off);
}

enum packet_status
packet_parse_ip(const uint8_t *p, size_t len, struct packet *pkt)
{
	memset(pkt, 0, sizeof(*pkt));
	if (len < 1)
		return PACKET_SHORT;
	switch (p[0] >> 4) {
	case 4:
		return parse_ipv4(p, len, pkt);
	case 6:
		return parse_ipv6(p, len, pkt);
	}
	return PACKET_BAD;
}

/* An IP packet whose version the link layer already announced. */
static enum packet_status
parse_ip_version(const uint8_t *p, size_t len, struct packet *pkt,
                 unsigned version)
{
	if (len < 1)
		return PACKET_SHORT;
	if ((unsigned)(p[0] >> 4) != version)
		return PACKET_BAD;
	return packet_parse_ip(p, len, pkt);
}

static enum packet_status
parse_ethertype(uint16_t type, const uint8_t *p, size_t len, struct packet *pkt)
{
	switch (type) {
	case ETHERTYPE_IPV4:
		return parse_ip_version(p, len, pkt, 4);
	case ETHERTYPE_IPV6:
		return parse_ip_version(p, len, pkt, 6);
	}
	return PACKET_NOT_IP;
}

/* More than ETHER_TAGS_MAX tags is PACKET_BAD: it hides IP from filters. */
static enum packet_status
parse_ether(const uint8_t *p, size_t len, struct packet *pkt)
{
	size_t off = ETHER_HDR_LEN;
	uint16_t type;
	unsigned tags;

	if (len < ETHER_HDR_LEN)
		return PACKET_SHORT;
	type = sp_rd16(p + 12);
	for (tags = 0; type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ;
	     tags++) {
		if (tags == ETHER_TAGS_MAX)
			return PACKET_BAD;
		/* A tag: 2 bytes of TCI, then the next type. */
		if (len - off < 4)
			return PACKET_SHORT;
		type = sp_rd16(p + off + 2);
		off += 4;
	}
	return parse_ethertype(type, p + off, len - off, pkt);
}

/* NULL and LOOP carry a BSD address family, not an ethertype. */
static enum packet_status
parse_bsd_family(uint32_t af, const uint8_t *p, size_t len, struct packet *pkt)
{
	switch (af) {
	case BSD_AF_INET:
		return parse_ip_version(p, len, pkt, 4);
	case BSD_AF_INET6_BSD:
	case BSD_AF_INET6_FREEBSD:
	case BSD_AF_INET6_DARWIN:
		return parse_ip_version(p, len, pkt, 6);
	}
	return PACKET_NOT_IP;
}

/*
 * The NULL family is in the byte order of the host that captured, which need
 * not be ours; the families are below 256, so one order is always 0 there.
 */
static enum packet_status
parse_null(const uint8_t *p, size_t len, struct packet *pkt)
{
	uint32_t af;

	if (len < NULL_HDR_LEN)
		return PACKET_SHORT;
	af = sp_rd32(p);
	if (af > 0xff)
		af = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return parse_bsd_family(af, p + NULL_HDR_LEN, len - NULL_HDR_LEN, pkt);
}

enum packet_status
packet_parse_frame(int link, const uint8_t *p, size_t len, struct packet *pkt)
{
	switch (link) {
	case PACKET_LINK_ETHERNET:
		return parse_ether(p, len, pkt);
	case PACKET_LINK_RAW:
	case PACKET_LINK_RAW_DLT12:
	case PACKET_LINK_RAW_DLT14:
		return packet_parse_ip(p, len, pkt);
	case PACKET_LINK_IPV4:
		return parse_ip_version(p, len, pkt, 4);
	case PACKET_LINK_IPV6:
		return parse_ip_version(p, len, pkt, 6);
	case PACKET_LINK_SLL:
		if (len < SLL_HDR_LEN)
			return PACKET_SHORT;
		return parse_ethertype(sp_rd16(p + 14), p + SLL_HDR_LEN,
		                       len - SLL_HDR_LEN, pkt);
	case PACKET_LINK_SLL2:
		if (len < SLL2_HDR_LEN)
			return PACKET_SHORT;
		return parse_ethertype(sp_rd16(p), p + SLL2_HDR_LEN,
		                       len - SLL2_HDR_LEN, pkt);
	case PACKET_LINK_NULL:
		return parse_null(p, len, pkt);
	case PACKET_LINK_LOOP:
		if (len < NULL_HDR_LEN)
			return PACKET_SHORT;
		return parse_bsd_family(sp_rd32(p), p + NULL_HDR_LEN,
		                        len - NULL_HDR_LEN, pkt);
	}
	/* The caller asks packet_link_supported() first; this is a bug. */
	return PACKET_BAD;
}

bool
packet_link_supported(int link)
{
	switch (link) {
	case PACKET_LINK_NULL:
	case PACKET_LINK_ETHERNET:
	case PACKET_LINK_RAW:
	case PACKET_LINK_RAW_DLT12:
	case PACKET_LINK_RAW_DLT14:
	case PACKET_LINK_LOOP:
	case PACKET_LINK_SLL:
	case PACKET_LINK_IPV4:
	case PACKET_LINK_IPV6:
	case PACKET_LINK_SLL2:
		return true;
	}
	return false;
}

void
packet_stats_count(struct packet_stats *st, enum packet_status s)
{
	switch (s) {
	case PACKET_OK:
		st->ok++;
		return;
	case PACKET_SHORT:
		st->short_++;
		return;
	case PACKET_NOT_IP:
		st->not_ip++;
		return;
	case PACKET_BAD:
		break;
	}
	st->bad++;
}

const char *
packet_status_name(enum packet_status s)
{
	switch (s) {
	case PACKET_OK:
		return "ok";
	case PACKET_SHORT:
		return "short";
	case PACKET_BAD:
		return "bad";
	case PACKET_NOT_IP:
		return "not-ip";
	}
	return "?";
}

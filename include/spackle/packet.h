/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The packet parser: link, network and transport layers as bounded views. */
#ifndef SPACKLE_PACKET_H
#define SPACKLE_PACKET_H

#include "spackle/spackle.h"

/*
 * Every parser here walks the bytes it is given with a pointer and a
 * remaining length, checks the length before each read and never reads past
 * it. A result is one of these; only PACKET_OK fills every field.
 */
enum packet_status {
	PACKET_OK = 0,
	PACKET_SHORT,  /* ended before a header it announces */
	PACKET_BAD,    /* a field holds an impossible value */
	PACKET_NOT_IP, /* a well-formed frame that carries no IP (ARP, ...) */
};

/* Link types, with the numbers of pcap's LINKTYPE_* registry. */
enum packet_link {
	PACKET_LINK_NULL = 0,       /* BSD loopback, host-order family */
	PACKET_LINK_ETHERNET = 1,   /* Ethernet II, 802.1Q/802.1ad tags */
	PACKET_LINK_RAW = 101,      /* raw IPv4 or IPv6 */
	PACKET_LINK_LOOP = 108,     /* OpenBSD loopback, network-order family */
	PACKET_LINK_SLL = 113,      /* Linux cooked v1 */
	PACKET_LINK_IPV4 = 228,     /* raw IPv4 */
	PACKET_LINK_IPV6 = 229,     /* raw IPv6 */
	PACKET_LINK_SLL2 = 276,     /* Linux cooked v2 */
	PACKET_LINK_RAW_DLT12 = 12, /* DLT_RAW as some systems number it */
	PACKET_LINK_RAW_DLT14 = 14,
};

enum packet_flag {
	PACKET_F_FRAG = 1u << 0,       /* part of a fragmented datagram */
	PACKET_F_FRAG_LATER = 1u << 1, /* a fragment with offset > 0: no L4 */
	PACKET_F_IP_OPTIONS = 1u << 2, /* IPv4 header carries options */
	PACKET_F_EXT_HDRS = 1u << 3,   /* IPv6 extension headers walked */
	PACKET_F_L4_SHORT = 1u << 4,   /* L4 header cut short (snap length) */
	PACKET_F_TRUNCATED = 1u << 5,  /* captured fewer bytes than IP says */
};

/* TCP flags as on the wire. */
enum packet_tcp_flag {
	PACKET_TCP_FIN = 0x01,
	PACKET_TCP_SYN = 0x02,
	PACKET_TCP_RST = 0x04,
	PACKET_TCP_PSH = 0x08,
	PACKET_TCP_ACK = 0x10,
};

/*
 * The views point into the caller's buffer, payload within l4 within l3. They
 * end where the IP header says the datagram ends (link padding is not data),
 * or at the end of the capture when PACKET_F_TRUNCATED is set. With
 * PACKET_F_L4_SHORT the snap length cut the transport header after its ports
 * (ICMP: type, code, echo id): l4 is what was captured, payload is empty, and
 * tcp_flags is 0 unless TCP's first 20 bytes were captured. Where no transport
 * header is parsed (PACKET_F_FRAG_LATER, or a protocol other than TCP, UDP,
 * ICMP, ICMPv6), l4 and payload both hold the bytes after the IP headers and
 * the ports are 0.
 */
struct packet {
	struct sp_view l3;      /* from the IP header to the end of the data */
	struct sp_view l4;      /* from the transport header */
	struct sp_view payload; /* transport payload (may be empty) */
	struct sp_addr src, dst;
	uint32_t ip_len;  /* length the IP header claims for the datagram */
	uint32_t frag_id; /* IPv4 id or IPv6 fragment identification */
	uint32_t flags;   /* enum packet_flag */
	uint16_t sport, dport; /* host order; ICMP echo: the id in both */
	uint16_t frag_off;     /* fragment offset in bytes */
	uint8_t family;        /* AF_INET or AF_INET6 */
	uint8_t proto;         /* transport protocol after extension headers */
	uint8_t ttl;
	uint8_t tcp_flags;
	uint8_t icmp_type, icmp_code;
};

/* Counters kept by whoever calls the parser. */
struct packet_stats {
	uint64_t ok, short_, bad, not_ip;
};

/*
 * Parse an IPv4 or IPv6 packet starting at its IP header (the version nibble
 * decides). Fills *pkt; on anything but PACKET_OK its fields are undefined.
 */
enum packet_status packet_parse_ip(const uint8_t *p, size_t len,
                                   struct packet *pkt);

/* Strip a link-layer header of type `link`, then packet_parse_ip(). */
enum packet_status packet_parse_frame(int link, const uint8_t *p, size_t len,
                                      struct packet *pkt);

/* Is `link` a link type packet_parse_frame() knows? */
bool packet_link_supported(int link);

void packet_stats_count(struct packet_stats *st, enum packet_status s);
const char *packet_status_name(enum packet_status s);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Capture writer for tests, the demo capture and benchmarks. */
#ifndef SPACKLE_CAPGEN_H
#define SPACKLE_CAPGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spackle/spackle.h"

#define CAPGEN_PKT_MAX 9000

/* One packet to build: IPv4 or IPv6 by the addresses' form. */
struct capgen_pkt {
	const char *src, *dst;
	uint8_t proto;
	uint16_t sport, dport; /* TCP/UDP ports; ICMP echo: id in sport */
	uint8_t tcp_flags;     /* enum packet_tcp_flag */
	uint8_t icmp_type;     /* ICMP/ICMPv6 type (code 0) */
	const uint8_t *payload;
	size_t plen;
	uint8_t ttl; /* 0: 64 */
	/* Fragmentation: when frag is set, build a fragment carrying the
	 * transport bytes [frag_off, frag_off + frag_len) of the datagram,
	 * more fragments following when frag_more. */
	bool frag, frag_more;
	uint16_t frag_off, frag_len;
	uint32_t frag_id;
	bool ip_options; /* IPv4: add a 4-byte NOP option block */
	bool v6_ext;     /* IPv6: add hop-by-hop + dest options */
};

/*
 * Build the IP datagram of p into buf (checksums filled); returns its length,
 * 0 when it does not fit or an address does not parse.
 */
size_t capgen_build(uint8_t *buf, size_t cap, const struct capgen_pkt *p);

/* A DNS response: question qname (A or AAAA by the first address), the
 * CNAME chain cnames[0..ncnames) from qname on, then one A/AAAA record per
 * address owned by the last name of the chain. Names are compressed. */
size_t capgen_dns_response(uint8_t *buf, size_t cap, uint16_t id,
                           const char *qname, const char *const *cnames,
                           size_t ncnames, const char *const *addrs,
                           size_t naddrs, uint32_t ttl);

/* A DNS query for qname (type A). */
size_t capgen_dns_query(uint8_t *buf, size_t cap, uint16_t id,
                        const char *qname);

struct capgen;

enum capgen_format { CAPGEN_PCAP = 0, CAPGEN_PCAPNG };

/* Open path for writing frames of link type `link` (enum packet_link). */
struct capgen *capgen_open(const char *path, int link, enum capgen_format fmt);
/* Frame an IP datagram for the capture's link type and write it. */
int capgen_write_ip(struct capgen *g, uint64_t ts_ns, const uint8_t *ip,
                    size_t len);
/* Write a frame exactly as given (already framed, or garbage on purpose). */
int capgen_write_raw(struct capgen *g, uint64_t ts_ns, const uint8_t *frame,
                     size_t len);
/* Build p and write it; returns 0 or -1. */
int capgen_write(struct capgen *g, uint64_t ts_ns, const struct capgen_pkt *p);
int capgen_close(struct capgen *g);

#endif

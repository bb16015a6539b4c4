/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Names for addresses: a DNS answer parser and an address -> names cache. */
#ifndef SPACKLE_NAMES_H
#define SPACKLE_NAMES_H

#include "spackle/packet.h"
#include "spackle/spackle.h"

enum dns_status {
	DNS_OK = 0,
	DNS_SHORT,      /* message ends inside a field it announces */
	DNS_BAD,        /* impossible value, pointer loop, too many jumps */
	DNS_NOT_ANSWER, /* a well-formed query, or a response with no data */
};

/* One address learnt from a response, with every name that leads to it. */
struct dns_addr_names {
	struct sp_addr addr;
	uint32_t ttl; /* the A/AAAA record's TTL */
	unsigned n;   /* names[0] is the question, then each alias in order */
	char names[SP_NAMES_PER_ADDR][SP_NAME_MAX + 1];
};

typedef void (*dns_answer_cb)(const struct dns_addr_names *an, void *arg);

/*
 * Parse one DNS message (no TCP length prefix). Names are lower-cased, with
 * no trailing dot. For every A/AAAA record whose owner is reached from the
 * question through CNAMEs, cb gets the address and the chain's names.
 * Compression pointers are followed at most SP_DNS_JUMPS_MAX times per name
 * and only backwards; at most SP_DNS_RECORDS_MAX records are read.
 */
enum dns_status dns_parse_response(const uint8_t *msg, size_t len,
                                   dns_answer_cb cb, void *arg);

/*
 * Parse the DNS messages in a TCP segment's payload: a two-byte length, then
 * the message, possibly several. A message cut at the segment's end gives
 * DNS_SHORT after the complete ones were handed to cb.
 */
enum dns_status dns_parse_tcp(const uint8_t *p, size_t len, dns_answer_cb cb,
                              void *arg);

const char *dns_status_name(enum dns_status s);

struct names_cache;

/* cap: addresses kept at most; the least recently added is dropped first. */
struct names_cache *names_new(size_t cap);
/* The most a cache of cap addresses holds in memory, its names with it,
 * in bytes (each name's allocation counted at 16 bytes over its length). */
size_t names_bytes_max(size_t cap);
void names_free(struct names_cache *c);

/* Add name for addr, valid for ttl seconds from now_ns (0 ttl: 1 second). */
void names_add(struct names_cache *c, const struct sp_addr *addr,
               const char *name, uint32_t ttl, uint64_t now_ns);

/*
 * Names known for addr and not expired, most recent first, up to max.
 * The pointers stay valid until the next names_add() or names_free().
 */
size_t names_lookup(struct names_cache *c, const struct sp_addr *addr,
                    uint64_t now_ns, const char **out, size_t max);

/*
 * Feed a parsed packet: when it is a DNS answer (UDP or TCP from port 53,
 * or 5353), add what it carries. Returns DNS_NOT_ANSWER for anything else.
 */
enum dns_status names_feed_packet(struct names_cache *c,
                                  const struct packet *pkt, uint64_t now_ns);

/* The same, telling fn (when not NULL) each name added, with its TTL. */
typedef void (*names_added_fn)(const struct sp_addr *addr, const char *name,
                               uint32_t ttl, void *arg);
enum dns_status names_feed_packet_cb(struct names_cache *c,
                                     const struct packet *pkt, uint64_t now_ns,
                                     names_added_fn fn, void *arg);

struct names_stats {
	uint64_t entries, added, expired, dropped, answers, bad;
};
void names_stats(const struct names_cache *c, struct names_stats *st);

#endif

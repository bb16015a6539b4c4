/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Types, limits and small helpers shared by every spackle module. */
#ifndef SPACKLE_SPACKLE_H
#define SPACKLE_SPACKLE_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SPACKLE_VERSION "0.1.0"

/* Limits set at start; everything that grows has one. */
#define SP_NAME_MAX        253 /* longest DNS name, dotted, no final dot */
#define SP_PATH_MAX        4096
#define SP_FLOWS_DEFAULT   (1u << 18)
#define SP_NAMES_DEFAULT   (1u << 16)
#define SP_NAMES_PER_ADDR  8  /* names kept for one address */
#define SP_IPV6_EXT_MAX    8  /* IPv6 extension headers walked at most */
#define SP_DNS_JUMPS_MAX   16 /* compression pointers followed per name */
#define SP_DNS_RECORDS_MAX 64 /* resource records read per message */

/* IP protocol numbers used by name. */
enum sp_proto {
	SP_PROTO_ICMP = 1,
	SP_PROTO_TCP = 6,
	SP_PROTO_UDP = 17,
	SP_PROTO_ICMP6 = 58,
};

enum sp_verdict {
	SP_VERDICT_NONE = 0, /* not decided yet */
	SP_VERDICT_ALLOW,
	SP_VERDICT_DENY,
	SP_VERDICT_REJECT,
};

/* Direction of a flow or a rule, seen from this host. */
enum sp_dir {
	SP_DIR_OUT = 1u << 0, /* the local side started the flow */
	SP_DIR_IN = 1u << 1,  /* the remote side started it */
	SP_DIR_ANY = SP_DIR_OUT | SP_DIR_IN,
};

/*
 * An IPv4 or IPv6 address. IPv4 is stored as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d), so both families compare, hash and sit in one trie the
 * same way; family says which one it really is.
 */
struct sp_addr {
	uint8_t b[16];
	uint8_t family; /* AF_INET or AF_INET6; 0 when unset */
};

/* A bounded view of bytes, in the spirit of MDB_val. */
struct sp_view {
	const uint8_t *p;
	size_t len;
};

void sp_addr_from_v4(struct sp_addr *a, const uint8_t v4[4]);
void sp_addr_from_v6(struct sp_addr *a, const uint8_t v6[16]);
/* Parse a textual address; false when it is neither IPv4 nor IPv6. */
bool sp_addr_parse(struct sp_addr *a, const char *s);
/* Parse "ADDR" or "ADDR/LEN"; *plen is in the address's own family. */
bool sp_cidr_parse(struct sp_addr *a, unsigned *plen, const char *s);
/* Format into buf (at least 46 bytes); returns buf. */
char *sp_addr_format(const struct sp_addr *a, char *buf, size_t len);
int sp_addr_cmp(const struct sp_addr *a, const struct sp_addr *b);
bool sp_addr_equal(const struct sp_addr *a, const struct sp_addr *b);
/* Does a lie in net/plen (plen in net's family)? Families must agree. */
bool sp_cidr_contains(const struct sp_addr *net, unsigned plen,
                      const struct sp_addr *a);
/* Prefix length in the 128-bit mapped space (IPv4 /n is /96+n). */
unsigned sp_cidr_plen128(const struct sp_addr *net, unsigned plen);

const char *sp_verdict_name(enum sp_verdict v);
/* "allow", "deny" or "reject"; false for anything else. */
bool sp_verdict_parse(const char *s, enum sp_verdict *v);
const char *sp_dir_name(enum sp_dir d);
/* "tcp", "udp", "icmp", "icmp6", or NULL for other numbers. */
const char *sp_proto_name(unsigned proto);
/* The name, or the number in buf when it has none ("47"). */
const char *sp_proto_format(unsigned proto, char *buf, size_t len);
/*
 * The number a protocol name stands for, -1 unknown: with words_only, the
 * rule language's words alone, as written (tcp, udp, icmp, icmp6); else
 * also the names other tools use (icmpv6, ipv6-icmp, gre, sctp, udplite,
 * ...), in any case. Numerals are the caller's to read.
 */
int sp_proto_number(const char *name, bool words_only);
/* The name /etc/protocols gives proto, which iptables-save prints
 * (ipv6-icmp for ICMPv6, gre for 47); NULL when the table has none. */
const char *sp_proto_system_name(unsigned proto);

/*
 * A whole regular file (no FIFO or device: reading one must not hang) of
 * at most max bytes, NUL-terminated; NULL with errno set (EISDIR, EINVAL
 * for not a regular file, EFBIG past max).
 */
char *sp_read_file(const char *path, size_t max, size_t *lenp);
/* strerror(err), with the words sp_read_file's own errors deserve. */
const char *sp_read_error(int err);

/*
 * Map every page of a zero-filled allocation now: for tables the packet
 * path first reads and then writes at a hashed slot (a read of an
 * untouched page maps the shared zero page, and the write after it
 * replaces that mapping, which flushes the TLB of every other CPU running
 * the daemon: an interrupt on each). Huge pages are asked for (fewer TLB
 * misses at hashed slots), and the pages are mapped by one madvise
 * (MADV_POPULATE_WRITE, Linux 5.14) where the kernel has it, not by a
 * fault each: while the flow tables' pools were mapped at start (9,000
 * pages each), a daemon's start to its first status answer went from 675
 * to 392 ms at p50 on a virtual machine where a fault is dear. Elsewhere
 * a zero is written to each page. Used for what every start writes whole
 * (hash buckets, the name cache); a table that may stay mostly empty is
 * better left unmapped (flow.c, classify.c).
 */
void sp_prefault_zeroed(void *p, size_t len);

/*
 * A region that fills from its start as it is used (a pool whose new
 * entries take the lowest slot never used, a ring on its first lap), and
 * whose pages are mapped ahead of that use, when its owner has a moment (a
 * worker whose queue it has just read empty), not a page fault at a time
 * in the middle of a packet's classification. A call maps one page: the
 * kernel maps a stretch of them at once (MADV_POPULATE_WRITE, which leaves
 * their bytes as they are), and the page is then read once, which on a
 * virtual machine with shadow page tables is what makes the thread's first
 * write to it cheap. On the machine this was measured on, a first write
 * took 10.7 us a page and those two 6.3, and a page fault held up one new
 * flow in eleven in flow mode (bench/divert.md, session 24). Where the
 * kernel cannot, nothing is mapped ahead and pages fault in as before.
 */
struct sp_ahead {
	uint8_t *next; /* the first page not yet read ahead */
	uint8_t *pop;  /* the first page the kernel has not mapped ahead */
	uint8_t *end;  /* the end of the region's last whole page */
};

#define SP_AHEAD_STRETCH ((size_t)64 << 10) /* mapped by one madvise */
#define SP_AHEAD_LEAD    ((size_t)64 << 10) /* kept mapped past the use */

void sp_ahead_init(struct sp_ahead *a, void *p, size_t len);
/* Map one more page when the use, up to used_end, has come within
 * SP_AHEAD_LEAD of the mapped end: true when it did. */
bool sp_ahead_fill(struct sp_ahead *a, const void *used_end);

/* Monotonic and wall clocks in nanoseconds. */
uint64_t sp_now_mono(void);
uint64_t sp_now_wall(void);

/* Multi-byte fields from the wire: memcpy into a local, then to host order
 * (no unaligned access, no aliasing). The caller has checked the length. */
static inline uint16_t
sp_rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return ntohs(v);
}

static inline uint32_t
sp_rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

/* 64-bit keyed hash for tables whose keys come from the network. */
uint64_t sp_hash(const void *p, size_t len, uint64_t seed);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Offloads through the tunnel. With IFF_VNET_HDR and TUNSETOFFLOAD (Linux)
 * the kernel hands the tunnel's reader TCP super-packets of up to 64 KiB
 * (GSO: cut into segments later) and packets whose checksum is left for
 * the device to fill in, each behind a header that says so (struct
 * virtio_net_hdr; struct tun_offload below is its fields in host order).
 * What goes back into the tunnel carries its header again, so the stack
 * takes a super-packet whole. What leaves through the raw socket may be no
 * larger than the route's MTU and must carry its checksums: this file
 * fills in a checksum left open, and cuts a super-packet into the segments
 * the kernel would have sent (tcp_gso_segment's rules). Functions of their
 * bytes alone: tests/unit/test_tun_gso.c, tests/fuzz/fuzz_tun_gso.c.
 */
#ifndef SPACKLE_DIVERT_TUN_GSO_H
#define SPACKLE_DIVERT_TUN_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the kernel said of one packet. */
struct tun_offload {
	uint8_t flags;        /* TUN_OFF_* */
	uint8_t gso_type;     /* TUN_GSO_*, with TUN_GSO_ECN or not */
	uint16_t hdr_len;     /* the kernel's hint, given back, not used */
	uint16_t gso_size;    /* payload bytes of each segment but the last */
	uint16_t csum_start;  /* where the checksummed bytes start */
	uint16_t csum_offset; /* where the checksum goes, from csum_start */
};

#define TUN_OFF_NEEDS_CSUM 1u /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
#define TUN_OFF_DATA_VALID 2u /* VIRTIO_NET_HDR_F_DATA_VALID */

#define TUN_GSO_NONE  0u    /* VIRTIO_NET_HDR_GSO_NONE */
#define TUN_GSO_TCPV4 1u    /* VIRTIO_NET_HDR_GSO_TCPV4 */
#define TUN_GSO_TCPV6 4u    /* VIRTIO_NET_HDR_GSO_TCPV6 */
#define TUN_GSO_ECN   0x80u /* VIRTIO_NET_HDR_GSO_ECN: CWR on the first */

/* The offload header's size on the wire of the tunnel (virtio_net_hdr). */
#define TUN_OFFLOAD_HDR 10u

/* The header's bytes (host order, as the kernel writes them for a tun
 * without TUNSETVNETLE/BE) to and from its fields. */
void tun_offload_read(struct tun_offload *o, const uint8_t h[TUN_OFFLOAD_HDR]);
void tun_offload_write(const struct tun_offload *o, uint8_t h[TUN_OFFLOAD_HDR]);

/* The Internet checksum's running sum over len bytes at p, which start at
 * an even offset of what is summed (RFC 1071), added to sum. */
uint64_t tun_csum_add(uint64_t sum, const uint8_t *p, size_t len);
/* The checksum a running sum stands for, as it is stored (network order
 * bytes, loaded as a host-order word). */
uint16_t tun_csum_fold(uint64_t sum);

/*
 * Fill in the checksum o leaves open in the packet p (len bytes from its IP
 * header): the bytes from csum_start to the end summed, with the field at
 * csum_start + csum_offset (the pseudo-header's sum, put there by the
 * stack) among them, as the kernel's skb_checksum_help does. 0; -1 with
 * why when the offsets do not fit in the packet; nothing is changed then.
 * Without TUN_OFF_NEEDS_CSUM there is nothing to do.
 */
int tun_csum_fill(uint8_t *p, size_t len, const struct tun_offload *o,
                  const char **why);

/* How many segments p stands for, as the kernel counts them (its
 * gso_segs, what tc's counters add): 1 but for a super-packet that can be
 * cut. */
unsigned tun_gso_segments(const uint8_t *p, size_t len,
                          const struct tun_offload *o);

/* Cutting one super-packet: tun_seg_begin, then tun_seg_next until 0. */
struct tun_seg {
	const uint8_t *p;
	size_t len;  /* of the IP packet */
	size_t l3;   /* IP header bytes (IPv6: the fixed 40) */
	size_t hlen; /* IP and TCP headers */
	size_t mss;  /* payload bytes per segment */
	size_t off;  /* payload bytes cut so far */
	unsigned n;  /* segments made */
	bool v6;
};

/*
 * Check that p (len bytes) is a super-packet o says can be cut: TCP over
 * IPv4 or IPv6 (no extension headers), lengths that agree, gso_size at
 * least 1. 0; -1 with why.
 */
int tun_seg_begin(struct tun_seg *s, const uint8_t *p, size_t len,
                  const struct tun_offload *o, const char **why);
/*
 * The next segment into out (cap bytes; s->len is always enough), whole:
 * its own lengths, IPv4 id, sequence number, flags (FIN and PSH on the
 * last alone, CWR on the first alone) and both checksums. Its length, 0
 * when every payload byte has been cut (after the first: a super-packet
 * with no payload is one segment), or when cap is too small.
 */
size_t tun_seg_next(struct tun_seg *s, uint8_t *out, size_t cap);

#endif

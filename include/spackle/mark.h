/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The packet and conntrack mark bits that the steering rules (pfconf/) and
 * the divert backends (divert/) agree on; neither includes the other. */
#ifndef SPACKLE_MARK_H
#define SPACKLE_MARK_H

/*
 * Packet mark bits, owned by spackle: bits 21-23. Nothing else in the mark
 * is read or written, so other programs' mark bits pass untouched.
 *
 * The daemon answers a queued packet with NF_REPEAT and the packet's mark
 * set to (mark & ~STEER_MARK_MASK) | STEER_MARK_x, where mark is the value
 * the kernel delivered (NFQA_MARK, 0 when absent). The hook then runs again
 * from its first rule, spackle's jump, and the chain acts on the value:
 *
 *   STEER_MARK_ACCEPT  RETURN: the packet goes on through the rest of the
 *                      host's filter rules. (A plain NF_ACCEPT verdict would
 *                      skip every later rule of the filter table in that
 *                      hook, so with iptables the daemon uses this instead;
 *                      with nft, spackle's table is its own base chain and
 *                      NF_ACCEPT skips nothing.)
 *   STEER_MARK_DENY    DROP (the daemon may also answer NF_DROP directly;
 *                      the mark makes the kernel count it).
 *   STEER_MARK_REJECT  REJECT: TCP reset for TCP, ICMP (ICMPv6) port
 *                      unreachable for the rest.
 *
 * With `divert = flow` the value is also saved into the conntrack mark
 * (same bits) and the later packets of the flow are accepted, dropped or
 * rejected by kernel rules without crossing the divert; DNS answers still
 * cross it. The daemon may instead set the conntrack mark itself in the
 * verdict (NFQA_CT with CTA_MARK and CTA_MARK_MASK = STEER_MARK_MASK).
 *
 * Every NF_REPEAT must carry one of these values, or the packet is queued
 * again. A process with CAP_NET_ADMIN can set SO_MARK to STEER_MARK_ACCEPT
 * and skip the divert: the "spackle accept" rule's counters, compared with
 * the daemon's own count of accept-repeats, show it.
 */
#define STEER_MARK_MASK   0x00e00000u
#define STEER_MARK_ACCEPT 0x00200000u
#define STEER_MARK_DENY   0x00400000u
#define STEER_MARK_REJECT 0x00600000u
/*
 * Accept this packet alone (flow mode): the packet goes on as with
 * STEER_MARK_ACCEPT, but its flow keeps no verdict in its conntrack mark,
 * so its next packet crosses the divert again. A flow held for its name
 * (SNI, Host) passes its handshake so.
 */
#define STEER_MARK_ONCE 0x00800000u
/*
 * `backend = tun`: a packet leaving this host that the steering marks with
 * this value is routed into the tunnel (an `ip rule fwmark` to spackle's
 * table). What the tun backend sends out again carries STEER_MARK_ACCEPT
 * (SO_MARK on its raw sockets), which the marking rule passes by.
 */
#define STEER_MARK_TUN 0x00c00000u

#endif

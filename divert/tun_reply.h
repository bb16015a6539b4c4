/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the tunnel backends (divert/tun.c, and the BSD divert socket) answer
 * a rejected packet with, built with libnet: a TCP reset for TCP, an ICMP
 * or ICMPv6 port unreachable for the rest, addressed from the packet's
 * destination back to its source.
 */
#ifndef SPACKLE_DIVERT_TUN_REPLY_H
#define SPACKLE_DIVERT_TUN_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include <libnet.h>

/* Room for any answer: IPv6 + ICMPv6 + the quoted packet (1280 in all). */
#define TUN_REPLY_MAX 1280u

enum tun_reply_status {
	TUN_REPLY_OK = 0,
	TUN_REPLY_NONE,     /* nothing is sent back: a reset, an ICMP error,
	                       a fragment after the first, a broadcast */
	TUN_REPLY_BAD,      /* the packet does not parse (see packet.h) */
	TUN_REPLY_NO_BUILD, /* libnet could not build the answer */
};

/*
 * Build the answer to the IPv4 or IPv6 packet pkt (len bytes from its IP
 * header) into out (TUN_REPLY_MAX bytes), its length in *outlen. l4 and l6
 * are libnet contexts in advanced mode (LIBNET_RAW4_ADV, LIBNET_RAW6_ADV)
 * used for building only; they are cleared before return.
 *
 * A TCP segment gets RST (with ACK, acknowledging its sequence space when
 * it carried no ACK; RFC 9293 3.10.7.1); anything else gets ICMP
 * destination unreachable, port unreachable (ICMPv6: type 1 code 4)
 * quoting the packet's start as RFC 792 and RFC 4443 ask. ICMP errors,
 * resets and later fragments get nothing, as the kernel's REJECT does.
 */
enum tun_reply_status tun_reply(libnet_t *l4, libnet_t *l6, const uint8_t *pkt,
                                size_t len, uint8_t *out, size_t *outlen);

#endif

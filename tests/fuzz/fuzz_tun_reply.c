/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness of the tunnel backend's reject answer (divert/
 * tun_reply.c): whatever packet it is given, an answer it builds parses,
 * fits, and goes back from the packet's destination to its source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divert/tun_reply.h"
#include "spackle/packet.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static libnet_t *l4, *l6;
	char e[LIBNET_ERRBUF_SIZE];
	uint8_t out[TUN_REPLY_MAX];
	struct packet in, ans;
	size_t n = 0;
	enum tun_reply_status st;

	/* Building needs no socket: contexts that never send. */
	if (l4 == NULL)
		l4 = libnet_init(LIBNET_NONE | LIBNET_ADV_MASK, NULL, e);
	if (l6 == NULL)
		l6 = libnet_init(LIBNET_NONE | LIBNET_ADV_MASK, NULL, e);
	CHECK(l4 != NULL && l6 != NULL);
	st = tun_reply(l4, l6, data, size, out, &n);
	if (st != TUN_REPLY_OK) {
		CHECK(n == 0);
		return 0;
	}
	CHECK(n > 0 && n <= TUN_REPLY_MAX);
	CHECK(packet_parse_ip(data, size, &in) == PACKET_OK);
	CHECK(packet_parse_ip(out, n, &ans) == PACKET_OK);
	CHECK(ans.family == in.family);
	CHECK(sp_addr_equal(&ans.src, &in.dst));
	CHECK(sp_addr_equal(&ans.dst, &in.src));
	if (in.proto == IPPROTO_TCP) {
		CHECK(ans.proto == IPPROTO_TCP);
		CHECK(ans.tcp_flags & PACKET_TCP_RST);
		CHECK(ans.sport == in.dport && ans.dport == in.sport);
	} else {
		CHECK(ans.proto ==
		      (in.family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6));
	}
	return 0;
}

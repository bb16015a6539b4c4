/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness of what the tunnel does to a packet before its raw
 * socket sends it (divert/tun_gso.c). The input is an offload header
 * (TUN_OFFLOAD_HDR bytes, as the kernel writes it) and a packet. Filling
 * in a checksum changes those two bytes alone; a super-packet that can be
 * cut gives segments that carry its payload in order, each of them within
 * the packet's size and no larger than its headers and one segment's
 * payload, each with an IPv4 header checksum that holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divert/tun_gso.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pkt[65536], out[65536];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tun_offload o;
	struct tun_seg s;
	const char *why = NULL;
	size_t len, n, got = 0, at, i;
	unsigned segs = 0;

	if (size < TUN_OFFLOAD_HDR || size - TUN_OFFLOAD_HDR > sizeof(pkt))
		return 0;
	tun_offload_read(&o, data);
	len = size - TUN_OFFLOAD_HDR;
	memcpy(pkt, data + TUN_OFFLOAD_HDR, len);
	if (tun_csum_fill(pkt, len, &o, &why) == 0) {
		at = (size_t)o.csum_start + o.csum_offset;
		for (i = 0; i < len; i++)
			if (!(o.flags & TUN_OFF_NEEDS_CSUM) || i < at ||
			    i >= at + 2)
				CHECK(pkt[i] == data[TUN_OFFLOAD_HDR + i]);
	} else {
		CHECK(why != NULL);
		CHECK(memcmp(pkt, data + TUN_OFFLOAD_HDR, len) == 0);
	}
	why = NULL;
	if (tun_seg_begin(&s, data + TUN_OFFLOAD_HDR, len, &o, &why) != 0) {
		CHECK(why != NULL);
		CHECK(tun_seg_next(&s, out, sizeof(out)) == 0);
		return 0;
	}
	CHECK(s.hlen <= len && s.mss > 0);
	while ((n = tun_seg_next(&s, out, sizeof(out))) > 0) {
		CHECK(n >= s.hlen && n <= len && n - s.hlen <= s.mss);
		CHECK(memcmp(out + s.hlen,
		             data + TUN_OFFLOAD_HDR + s.hlen + got,
		             n - s.hlen) == 0);
		if (!s.v6)
			CHECK(tun_csum_fold(tun_csum_add(0, out, s.l3)) == 0);
		got += n - s.hlen;
		segs++;
		CHECK(segs <= (len - s.hlen) / s.mss + 1);
	}
	CHECK(got == len - s.hlen);
	CHECK(segs >= 1);
	return 0;
}

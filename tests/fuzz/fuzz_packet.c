/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the packet parser: a link type, then raw IP. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first input byte, modulo the count, picks one; seeds use the index. */
static const int links[] = {
        PACKET_LINK_ETHERNET,  /* 0 */
        PACKET_LINK_SLL,       /* 1 */
        PACKET_LINK_SLL2,      /* 2 */
        PACKET_LINK_NULL,      /* 3 */
        PACKET_LINK_LOOP,      /* 4 */
        PACKET_LINK_RAW,       /* 5 */
        PACKET_LINK_IPV4,      /* 6 */
        PACKET_LINK_IPV6,      /* 7 */
        PACKET_LINK_RAW_DLT12, /* 8 */
        PACKET_LINK_RAW_DLT14, /* 9 */
};

static volatile uint32_t sink;

/* Is v within [base, base + len)? */
static bool
within(const struct sp_view *v, const uint8_t *base, size_t len)
{
	if (v->len > len)
		return false;
	if (v->len == 0 && v->p == NULL)
		return false;
	return v->p >= base && v->p <= base + (len - v->len);
}

/* Read every byte of a view, so ASan sees a view that lies. */
static uint32_t
touch(const struct sp_view *v)
{
	uint32_t s = 0;

	for (size_t i = 0; i < v->len; i++)
		s += v->p[i];
	return s;
}

static void
check(enum packet_status st, const struct packet *pkt, const uint8_t *buf,
      size_t len)
{
	if (packet_status_name(st) == NULL)
		abort();
	if (st != PACKET_OK)
		return;
	if (!within(&pkt->l3, buf, len) ||
	    !within(&pkt->l4, pkt->l3.p, pkt->l3.len) ||
	    !within(&pkt->payload, pkt->l4.p, pkt->l4.len))
		abort();
	if (pkt->l3.len > pkt->ip_len ||
	    (pkt->l3.len < pkt->ip_len) !=
	            ((pkt->flags & PACKET_F_TRUNCATED) != 0))
		abort();
	if (pkt->family != AF_INET && pkt->family != AF_INET6)
		abort();
	if (pkt->src.family != pkt->family || pkt->dst.family != pkt->family)
		abort();
	if ((pkt->flags & PACKET_F_FRAG_LATER) &&
	    (!(pkt->flags & PACKET_F_FRAG) || pkt->sport != 0 ||
	     pkt->dport != 0 || pkt->frag_off == 0))
		abort();
	if ((pkt->flags & PACKET_F_L4_SHORT) &&
	    (pkt->payload.len != 0 || !(pkt->flags & PACKET_F_TRUNCATED)))
		abort();
	if (pkt->family == AF_INET && pkt->l3.len < 20)
		abort();
	if (pkt->family == AF_INET6 && pkt->l3.len < 40)
		abort();
	sink += touch(&pkt->l3) + touch(&pkt->l4) + touch(&pkt->payload);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet_stats stats = {0};
	struct packet pkt;
	enum packet_status st;
	uint8_t *buf;
	size_t len;
	int link;

	if (size < 1)
		return 0;
	link = links[data[0] % (sizeof(links) / sizeof(links[0]))];
	if (!packet_link_supported(link))
		abort();
	/* Exactly sized, so ASan flags a read one byte past the end. */
	len = size - 1;
	buf = malloc(len);
	if (buf == NULL && len > 0)
		return 0;
	if (len > 0)
		memcpy(buf, data + 1, len);

	st = packet_parse_frame(link, buf, len, &pkt);
	packet_stats_count(&stats, st);
	check(st, &pkt, buf, len);

	st = packet_parse_ip(buf, len, &pkt);
	packet_stats_count(&stats, st);
	check(st, &pkt, buf, len);

	if (stats.ok + stats.short_ + stats.bad + stats.not_ip != 2)
		abort();
	free(buf);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A denied held flow's remote end reset (peer_reset.h). */
#include <errno.h>
#include <libnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/peer_reset.h"
#include "spackle/mark.h"
#include "spackle/packet.h"

#define PEER_RESET_TTL 64

struct peer_reset {
	libnet_t *l4, *l6;
};

static libnet_t *
peer_reset_libnet(int type, char *err, size_t errlen)
{
	char ebuf[LIBNET_ERRBUF_SIZE] = "";
	libnet_t *l = libnet_init(type, NULL, ebuf);
	int mark = (int)STEER_MARK_ACCEPT;

	if (l == NULL) {
		snprintf(err, errlen, "resets: libnet: %s", ebuf);
		return NULL;
	}
	/* The reset leaves as the local end's packet, past the steering
	 * (mark.h): it is the daemon's own, not the application's. */
	if (setsockopt(libnet_getfd(l), SOL_SOCKET, SO_MARK, &mark,
	               sizeof(mark)) != 0) {
		snprintf(err, errlen, "resets: SO_MARK on a raw socket: %s",
		         strerror(errno));
		libnet_destroy(l);
		return NULL;
	}
	return l;
}

struct peer_reset *
peer_reset_open(char *err, size_t errlen)
{
	struct peer_reset *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "resets: out of memory");
		return NULL;
	}
	if ((r->l4 = peer_reset_libnet(LIBNET_RAW4, err, errlen)) == NULL ||
	    (r->l6 = peer_reset_libnet(LIBNET_RAW6, err, errlen)) == NULL) {
		peer_reset_close(r);
		return NULL;
	}
	return r;
}

void
peer_reset_close(struct peer_reset *r)
{
	if (r == NULL)
		return;
	if (r->l4 != NULL)
		libnet_destroy(r->l4);
	if (r->l6 != NULL)
		libnet_destroy(r->l6);
	free(r);
}

static uint32_t
peer_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int
peer_reset_send(struct peer_reset *r, const uint8_t *pkt, size_t len, char *err,
                size_t errlen)
{
	struct packet p;
	libnet_t *l;
	int rc;

	if (packet_parse_ip(pkt, len, &p) != PACKET_OK ||
	    p.proto != SP_PROTO_TCP || (p.flags & PACKET_F_FRAG_LATER) ||
	    p.l4.len < LIBNET_TCP_H) {
		snprintf(err, errlen, "resets: not a whole TCP segment");
		return -1;
	}
	l = p.family == AF_INET ? r->l4 : r->l6;
	if (libnet_build_tcp(p.sport, p.dport, peer_be32(p.l4.p + 4),
	                     peer_be32(p.l4.p + 8), TH_RST | TH_ACK, 0, 0, 0,
	                     LIBNET_TCP_H, NULL, 0, l, 0) == -1) {
		rc = -1;
	} else if (p.family == AF_INET) {
		uint32_t src, dst;

		memcpy(&src, p.src.b + 12, 4);
		memcpy(&dst, p.dst.b + 12, 4);
		rc = libnet_build_ipv4(LIBNET_IPV4_H + LIBNET_TCP_H, 0, 0, 0,
		                       PEER_RESET_TTL, IPPROTO_TCP, 0, src, dst,
		                       NULL, 0, l, 0) == -1
		             ? -1
		             : 0;
	} else {
		struct libnet_in6_addr src, dst;

		memcpy(&src, p.src.b, 16);
		memcpy(&dst, p.dst.b, 16);
		rc = libnet_build_ipv6(0, 0, LIBNET_TCP_H, IPPROTO_TCP,
		                       PEER_RESET_TTL, src, dst, NULL, 0, l,
		                       0) == -1
		             ? -1
		             : 0;
	}
	if (rc == 0 && libnet_write(l) == -1)
		rc = -1;
	if (rc != 0)
		snprintf(err, errlen, "resets: %s", libnet_geterror(l));
	libnet_clear_packet(l);
	return rc;
}

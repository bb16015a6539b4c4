/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checksums left open and super-packets cut, for what leaves the tunnel
 * through the raw socket (tun_gso.h). */
#include <string.h>

#include "divert/tun_gso.h"

#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_CWR 0x80u

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
tun_offload_read(struct tun_offload *o, const uint8_t h[TUN_OFFLOAD_HDR])
{
	o->flags = h[0];
	o->gso_type = h[1];
	memcpy(&o->hdr_len, h + 2, 2);
	memcpy(&o->gso_size, h + 4, 2);
	memcpy(&o->csum_start, h + 6, 2);
	memcpy(&o->csum_offset, h + 8, 2);
}

void
tun_offload_write(const struct tun_offload *o, uint8_t h[TUN_OFFLOAD_HDR])
{
	h[0] = o->flags;
	h[1] = o->gso_type;
	memcpy(h + 2, &o->hdr_len, 2);
	memcpy(h + 4, &o->gso_size, 2);
	memcpy(h + 6, &o->csum_start, 2);
	memcpy(h + 8, &o->csum_offset, 2);
}

/*
 * Eight bytes at a time with the carry added back in: a sum modulo
 * 2^64 - 1, which 2^16 - 1 divides, so folding it gives the 16-bit ones'
 * complement sum. Words are loaded in host order: the sum is then that of
 * the host-order words, and so is what it folds to (RFC 1071's byte order
 * independence), stored back the same way.
 */
uint64_t
tun_csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t w;
	uint16_t h;
	uint8_t last[2];

	while (len >= 8) {
		memcpy(&w, p, 8);
		sum += w;
		sum += sum < w;
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		sum += sum < h;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		/* An odd last byte is the high byte of a word padded with 0. */
		last[0] = p[0];
		last[1] = 0;
		memcpy(&h, last, 2);
		sum += h;
		sum += sum < h;
	}
	return sum;
}

uint16_t
tun_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

int
tun_csum_fill(uint8_t *p, size_t len, const struct tun_offload *o,
              const char **why)
{
	size_t start = o->csum_start, at = start + o->csum_offset;
	uint16_t c;

	if (!(o->flags & TUN_OFF_NEEDS_CSUM))
		return 0;
	if (start >= len || at + 2 > len) {
		*why = "the checksum to fill in lies past the packet's end";
		return -1;
	}
	c = tun_csum_fold(tun_csum_add(0, p + start, len - start));
	/* As skb_checksum_help: 0 is sent as its other form (UDP's 0 says
	 * "no checksum"). */
	if (c == 0)
		c = 0xffff;
	memcpy(p + at, &c, 2);
	return 0;
}

int
tun_seg_begin(struct tun_seg *s, const uint8_t *p, size_t len,
              const struct tun_offload *o, const char **why)
{
	unsigned type = o->gso_type & ~TUN_GSO_ECN;
	size_t ip_len, thl;

	memset(s, 0, sizeof(*s));
	if (type == TUN_GSO_TCPV4) {
		if (len < 20 || (p[0] >> 4) != 4) {
			*why = "TCPv4 super-packet that is not IPv4";
			return -1;
		}
		s->l3 = (size_t)(p[0] & 0x0fu) * 4;
		ip_len = get16(p + 2);
		if (s->l3 < 20 || s->l3 > len) {
			*why = "super-packet's IPv4 header length is wrong";
			return -1;
		}
		if (p[9] != 6) {
			*why = "TCPv4 super-packet that is not TCP";
			return -1;
		}
		if ((p[6] & 0x3fu) != 0 || p[7] != 0) {
			*why = "super-packet that is a fragment";
			return -1;
		}
	} else if (type == TUN_GSO_TCPV6) {
		if (len < 40 || (p[0] >> 4) != 6) {
			*why = "TCPv6 super-packet that is not IPv6";
			return -1;
		}
		s->l3 = 40;
		s->v6 = true;
		ip_len = 40 + (size_t)get16(p + 4);
		if (p[6] != 6) {
			*why = "TCPv6 super-packet whose next header is not "
			       "TCP";
			return -1;
		}
	} else {
		*why = "super-packet of a kind the tunnel does not ask for";
		return -1;
	}
	if (ip_len != len) {
		*why = "super-packet whose IP length is not its length";
		return -1;
	}
	if (len < s->l3 + 20 || (thl = (size_t)(p[s->l3 + 12] >> 4) * 4) < 20 ||
	    s->l3 + thl > len) {
		*why = "super-packet's TCP header does not fit";
		return -1;
	}
	if (o->gso_size == 0) {
		*why = "super-packet with a segment size of 0";
		return -1;
	}
	s->p = p;
	s->len = len;
	s->hlen = s->l3 + thl;
	s->mss = o->gso_size;
	return 0;
}

unsigned
tun_gso_segments(const uint8_t *p, size_t len, const struct tun_offload *o)
{
	struct tun_seg s;
	const char *why;
	size_t payload;

	if (o->gso_type == TUN_GSO_NONE ||
	    tun_seg_begin(&s, p, len, o, &why) != 0)
		return 1;
	payload = len - s.hlen;
	return payload == 0 ? 1 : (unsigned)((payload + s.mss - 1) / s.mss);
}

/* The TCP pseudo-header's sum: addresses, protocol, TCP length. */
static uint64_t
tun_pseudo(const uint8_t *ip, bool v6, size_t tcplen)
{
	uint8_t tail[8] = {0};

	if (v6) {
		put32(tail, (uint32_t)tcplen);
		tail[7] = 6;
		return tun_csum_add(tun_csum_add(0, ip + 8, 32), tail, 8);
	}
	tail[1] = 6;
	put16(tail + 2, (uint16_t)tcplen);
	return tun_csum_add(tun_csum_add(0, ip + 12, 8), tail, 4);
}

size_t
tun_seg_next(struct tun_seg *s, uint8_t *out, size_t cap)
{
	size_t payload, n, total;
	uint8_t *th = out + s->l3;
	uint16_t c;

	if (s->p == NULL)
		return 0;
	payload = s->len - s->hlen;
	if (s->n > 0 && s->off >= payload)
		return 0;
	n = payload - s->off < s->mss ? payload - s->off : s->mss;
	total = s->hlen + n;
	if (total > cap)
		return 0;
	memcpy(out, s->p, s->hlen);
	memcpy(out + s->hlen, s->p + s->hlen + s->off, n);
	if (s->v6) {
		put16(out + 4, (uint16_t)(total - 40));
	} else {
		/* Each segment its own id, as inet_gso_segment numbers them. */
		put16(out + 2, (uint16_t)total);
		put16(out + 4, (uint16_t)(get16(s->p + 4) + s->n));
		out[10] = out[11] = 0;
		c = tun_csum_fold(tun_csum_add(0, out, s->l3));
		memcpy(out + 10, &c, 2);
	}
	put32(th + 4, get32(s->p + s->l3 + 4) + (uint32_t)s->off);
	if (s->off + n < payload)
		th[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (s->n > 0)
		th[13] &= (uint8_t)~TCP_CWR;
	th[16] = th[17] = 0;
	c = tun_csum_fold(tun_csum_add(tun_pseudo(out, s->v6, total - s->l3),
	                               th, total - s->l3));
	memcpy(th + 16, &c, 2);
	s->off += n;
	s->n++;
	return total;
}

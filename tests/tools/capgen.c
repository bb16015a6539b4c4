/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Builds IP packets and DNS messages and writes them as pcap or pcapng. */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/packet.h"
#include "tests/tools/capgen.h"

struct capgen {
	int link;
	enum capgen_format fmt;
	pcap_t *dead;
	pcap_dumper_t *dumper;
	FILE *ng; /* pcapng: written by hand, libpcap only writes pcap */
};

static void
put16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static void
put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Transport header and payload, checksummed over the pseudo-header. */
static size_t
build_l4(uint8_t *seg, size_t cap, const struct capgen_pkt *p,
         const struct sp_addr *s, const struct sp_addr *d, bool v6)
{
	size_t hl, len;
	uint32_t sum = 0;
	uint8_t pseudo[40];
	uint16_t c;

	switch (p->proto) {
	case SP_PROTO_TCP:
		hl = 20;
		break;
	case SP_PROTO_UDP:
	case SP_PROTO_ICMP:
	case SP_PROTO_ICMP6:
		hl = 8;
		break;
	default:
		hl = 0;
	}
	len = hl + p->plen;
	if (len > cap)
		return 0;
	memset(seg, 0, hl);
	if (p->plen > 0)
		memcpy(seg + hl, p->payload, p->plen);
	switch (p->proto) {
	case SP_PROTO_TCP:
		put16(seg, p->sport);
		put16(seg + 2, p->dport);
		put32(seg + 4, 1000);
		put32(seg + 8, (p->tcp_flags & PACKET_TCP_ACK) ? 2000 : 0);
		seg[12] = 5 << 4;
		seg[13] = p->tcp_flags;
		put16(seg + 14, 65535);
		break;
	case SP_PROTO_UDP:
		put16(seg, p->sport);
		put16(seg + 2, p->dport);
		put16(seg + 4, (uint16_t)len);
		break;
	case SP_PROTO_ICMP:
	case SP_PROTO_ICMP6:
		seg[0] = p->icmp_type;
		put16(seg + 4, p->sport);
		put16(seg + 6, 1);
		break;
	}
	if (hl == 0)
		return len;
	/* Pseudo-header: ICMPv4 has none. */
	if (p->proto != SP_PROTO_ICMP) {
		if (v6) {
			memcpy(pseudo, s->b, 16);
			memcpy(pseudo + 16, d->b, 16);
			put32(pseudo + 32, (uint32_t)len);
			put32(pseudo + 36, p->proto);
			sum = csum_add(sum, pseudo, 40);
		} else {
			memcpy(pseudo, s->b + 12, 4);
			memcpy(pseudo + 4, d->b + 12, 4);
			pseudo[8] = 0;
			pseudo[9] = p->proto;
			put16(pseudo + 10, (uint16_t)len);
			sum = csum_add(sum, pseudo, 12);
		}
	}
	c = csum_fold(csum_add(sum, seg, len));
	switch (p->proto) {
	case SP_PROTO_TCP:
		put16(seg + 16, c);
		break;
	case SP_PROTO_UDP:
		put16(seg + 6, c ? c : 0xffff);
		break;
	default:
		put16(seg + 2, c);
	}
	return len;
}

size_t
capgen_build(uint8_t *buf, size_t cap, const struct capgen_pkt *p)
{
	static uint8_t seg[CAPGEN_PKT_MAX];
	struct sp_addr s, d;
	size_t seglen, body, hl, off = 0;
	const uint8_t *data;
	bool v6;

	if (!sp_addr_parse(&s, p->src) || !sp_addr_parse(&d, p->dst) ||
	    s.family != d.family)
		return 0;
	v6 = s.family != AF_INET;
	seglen = build_l4(seg, sizeof(seg), p, &s, &d, v6);
	if (seglen == 0 && p->plen + 20 > sizeof(seg))
		return 0;
	data = seg;
	body = seglen;
	if (p->frag) {
		if ((size_t)p->frag_off + p->frag_len > seglen)
			return 0;
		data = seg + p->frag_off;
		body = p->frag_len;
	}
	if (!v6) {
		hl = p->ip_options ? 24 : 20;
		if (hl + body > cap)
			return 0;
		memset(buf, 0, hl);
		buf[0] = (uint8_t)(0x40 | hl / 4);
		put16(buf + 2, (uint16_t)(hl + body));
		put16(buf + 4, (uint16_t)p->frag_id);
		if (p->frag)
			put16(buf + 6, (uint16_t)((p->frag_more ? 0x2000 : 0) |
			                          p->frag_off / 8));
		buf[8] = p->ttl ? p->ttl : 64;
		buf[9] = p->proto;
		memcpy(buf + 12, s.b + 12, 4);
		memcpy(buf + 16, d.b + 12, 4);
		if (p->ip_options)
			memcpy(buf + 20, "\x01\x01\x01\x00", 4);
		put16(buf + 10, csum_fold(csum_add(0, buf, hl)));
		memcpy(buf + hl, data, body);
		return hl + body;
	}
	hl = 40 + (p->v6_ext ? 16 : 0) + (p->frag ? 8 : 0);
	if (hl + body > cap)
		return 0;
	memset(buf, 0, hl);
	buf[0] = 0x60;
	put16(buf + 4, (uint16_t)(hl - 40 + body));
	buf[7] = p->ttl ? p->ttl : 64;
	memcpy(buf + 8, s.b, 16);
	memcpy(buf + 24, d.b, 16);
	off = 40;
	if (p->v6_ext) {
		buf[6] = 0;    /* hop-by-hop */
		buf[off] = 60; /* then destination options */
		memcpy(buf + off + 2, "\x01\x04\x00\x00\x00\x00", 6);
		off += 8;
		buf[off] = p->frag ? 44 : p->proto;
		memcpy(buf + off + 2, "\x01\x04\x00\x00\x00\x00", 6);
		off += 8;
	} else {
		buf[6] = p->frag ? 44 : p->proto;
	}
	if (p->frag) {
		buf[off] = p->proto;
		put16(buf + off + 2,
		      (uint16_t)((p->frag_off & ~7u) | (p->frag_more ? 1 : 0)));
		put32(buf + off + 4, p->frag_id);
		off += 8;
	}
	memcpy(buf + off, data, body);
	return off + body;
}

/* Write a dotted name as labels; returns bytes written or 0. */
static size_t
dns_name(uint8_t *p, size_t cap, const char *name)
{
	size_t n = 0, l;
	const char *dot;

	while (*name != '\0') {
		dot = strchr(name, '.');
		l = dot ? (size_t)(dot - name) : strlen(name);
		if (l == 0 || l > 63 || n + l + 2 > cap)
			return 0;
		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	if (n + 1 > cap)
		return 0;
	p[n++] = 0;
	return n;
}

static size_t
dns_header(uint8_t *buf, size_t cap, uint16_t id, bool response, uint16_t an,
           const char *qname, uint16_t qtype)
{
	size_t n;

	if (cap < 12)
		return 0;
	memset(buf, 0, 12);
	put16(buf, id);
	put16(buf + 2, response ? 0x8180 : 0x0100);
	put16(buf + 4, 1);
	put16(buf + 6, an);
	n = dns_name(buf + 12, cap - 12, qname);
	if (n == 0 || 12 + n + 4 > cap)
		return 0;
	put16(buf + 12 + n, qtype);
	put16(buf + 12 + n + 2, 1);
	return 12 + n + 4;
}

size_t
capgen_dns_query(uint8_t *buf, size_t cap, uint16_t id, const char *qname)
{
	return dns_header(buf, cap, id, false, 0, qname, 1);
}

size_t
capgen_dns_response(uint8_t *buf, size_t cap, uint16_t id, const char *qname,
                    const char *const *cnames, size_t ncnames,
                    const char *const *addrs, size_t naddrs, uint32_t ttl)
{
	struct sp_addr a;
	size_t n, i, w, owner_off = 12, rd;
	uint16_t qtype = 1;

	if (naddrs > 0 && sp_addr_parse(&a, addrs[0]) && a.family != AF_INET)
		qtype = 28;
	n = dns_header(buf, cap, id, true, (uint16_t)(ncnames + naddrs), qname,
	               qtype);
	if (n == 0)
		return 0;
	for (i = 0; i < ncnames; i++) {
		/* owner: a pointer to the previous name */
		if (n + 12 > cap)
			return 0;
		put16(buf + n, (uint16_t)(0xc000 | owner_off));
		put16(buf + n + 2, 5);
		put16(buf + n + 4, 1);
		put32(buf + n + 6, ttl);
		rd = n + 10;
		w = dns_name(buf + rd + 2, cap - rd - 2, cnames[i]);
		if (w == 0)
			return 0;
		put16(buf + rd, (uint16_t)w);
		owner_off = rd + 2;
		n = rd + 2 + w;
	}
	for (i = 0; i < naddrs; i++) {
		if (!sp_addr_parse(&a, addrs[i]) || n + 12 + 16 > cap)
			return 0;
		put16(buf + n, (uint16_t)(0xc000 | owner_off));
		put16(buf + n + 2, a.family == AF_INET ? 1 : 28);
		put16(buf + n + 4, 1);
		put32(buf + n + 6, ttl);
		if (a.family == AF_INET) {
			put16(buf + n + 10, 4);
			memcpy(buf + n + 12, a.b + 12, 4);
			n += 16;
		} else {
			put16(buf + n + 10, 16);
			memcpy(buf + n + 12, a.b, 16);
			n += 28;
		}
	}
	return n;
}

struct capgen *
capgen_open(const char *path, int link, enum capgen_format fmt)
{
	struct capgen *g = calloc(1, sizeof(*g));
	uint8_t b[64];

	if (g == NULL)
		return NULL;
	g->link = link;
	g->fmt = fmt;
	if (fmt == CAPGEN_PCAP) {
		/* libpcap speaks DLT_ numbers; LINKTYPE_RAW is DLT_RAW. */
		g->dead = pcap_open_dead_with_tstamp_precision(
		        link == PACKET_LINK_RAW ? DLT_RAW : link, 262144,
		        PCAP_TSTAMP_PRECISION_NANO);
		if (g->dead == NULL)
			goto fail;
		g->dumper = pcap_dump_open(g->dead, path);
		if (g->dumper == NULL)
			goto fail;
		return g;
	}
	if ((g->ng = fopen(path, "wb")) == NULL)
		goto fail;
	/* Section header block, in host byte order as pcapng allows. */
	{
		uint32_t t = 0x0A0D0D0A, len = 28, magic = 0x1A2B3C4D;
		uint16_t maj = 1, min = 0;
		int64_t seclen = -1;

		memcpy(b, &t, 4);
		memcpy(b + 4, &len, 4);
		memcpy(b + 8, &magic, 4);
		memcpy(b + 12, &maj, 2);
		memcpy(b + 14, &min, 2);
		memcpy(b + 16, &seclen, 8);
		memcpy(b + 24, &len, 4);
		fwrite(b, 1, 28, g->ng);
	}
	/* Interface description block with if_tsresol = 9 (ns). */
	{
		uint32_t t = 1, len = 32, snap = 262144, end;
		uint16_t lt = (uint16_t)link, res = 0, code = 9, olen = 1;

		memcpy(b, &t, 4);
		memcpy(b + 4, &len, 4);
		memcpy(b + 8, &lt, 2);
		memcpy(b + 10, &res, 2);
		memcpy(b + 12, &snap, 4);
		memcpy(b + 16, &code, 2);
		memcpy(b + 18, &olen, 2);
		memset(b + 20, 0, 4);
		b[20] = 9;
		end = 0; /* opt_endofopt */
		memcpy(b + 24, &end, 4);
		memcpy(b + 28, &len, 4);
		fwrite(b, 1, 32, g->ng);
	}
	return g;
fail:
	capgen_close(g);
	return NULL;
}

int
capgen_write_raw(struct capgen *g, uint64_t ts_ns, const uint8_t *frame,
                 size_t len)
{
	struct pcap_pkthdr h;
	uint32_t v[7], pad = 0;
	size_t padded = (len + 3) & ~(size_t)3;

	if (g->fmt == CAPGEN_PCAP) {
		memset(&h, 0, sizeof(h));
		h.ts.tv_sec = (time_t)(ts_ns / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000u);
		h.caplen = (bpf_u_int32)len;
		h.len = (bpf_u_int32)len;
		pcap_dump((u_char *)g->dumper, &h, frame);
		return 0;
	}
	v[0] = 6;
	v[1] = (uint32_t)(32 + padded);
	v[2] = 0;
	v[3] = (uint32_t)(ts_ns >> 32);
	v[4] = (uint32_t)ts_ns;
	v[5] = (uint32_t)len;
	v[6] = (uint32_t)len;
	fwrite(v, 4, 7, g->ng);
	fwrite(frame, 1, len, g->ng);
	fwrite(&pad, 1, padded - len, g->ng);
	fwrite(&v[1], 4, 1, g->ng);
	return ferror(g->ng) ? -1 : 0;
}

int
capgen_write_ip(struct capgen *g, uint64_t ts_ns, const uint8_t *ip, size_t len)
{
	uint8_t f[CAPGEN_PKT_MAX + 32];
	size_t hl = 0;
	uint16_t et = (ip[0] >> 4) == 6 ? 0x86dd : 0x0800;
	uint32_t fam;

	if (len > CAPGEN_PKT_MAX)
		return -1;
	switch (g->link) {
	case PACKET_LINK_ETHERNET:
		memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01",
		       12);
		put16(f + 12, et);
		hl = 14;
		break;
	case PACKET_LINK_SLL:
		memset(f, 0, 16);
		put16(f, 4); /* sent by us */
		put16(f + 2, 1);
		put16(f + 4, 6);
		memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
		put16(f + 14, et);
		hl = 16;
		break;
	case PACKET_LINK_SLL2:
		memset(f, 0, 20);
		put16(f, et);
		put32(f + 4, 2);
		put16(f + 8, 1);
		f[10] = 4;
		f[11] = 6;
		memcpy(f + 12, "\x02\x00\x00\x00\x00\x01", 6);
		hl = 20;
		break;
	case PACKET_LINK_NULL:
		fam = et == 0x0800 ? 2 : 30;
		memcpy(f, &fam, 4);
		hl = 4;
		break;
	case PACKET_LINK_LOOP:
		put32(f, et == 0x0800 ? 2 : 24);
		hl = 4;
		break;
	default: /* raw IP */
		break;
	}
	memcpy(f + hl, ip, len);
	return capgen_write_raw(g, ts_ns, f, hl + len);
}

int
capgen_write(struct capgen *g, uint64_t ts_ns, const struct capgen_pkt *p)
{
	uint8_t ip[CAPGEN_PKT_MAX];
	size_t n = capgen_build(ip, sizeof(ip), p);

	if (n == 0)
		return -1;
	return capgen_write_ip(g, ts_ns, ip, n);
}

int
capgen_close(struct capgen *g)
{
	int rc = 0;

	if (g == NULL)
		return 0;
	if (g->dumper != NULL)
		pcap_dump_close(g->dumper);
	if (g->dead != NULL)
		pcap_close(g->dead);
	if (g->ng != NULL && fclose(g->ng) != 0)
		rc = -1;
	free(g);
	return rc;
}

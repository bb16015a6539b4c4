/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mkcap: writes the demo capture that `make run` replays. */
#include <stdio.h>
#include <string.h>

#include "spackle/packet.h"
#include "tests/tools/capgen.h"

#define LOCAL4 "192.0.2.10"
#define LOCAL6 "2001:db8:1::10"
#define DNS4   "198.51.100.53"

static uint64_t now = 1764326400ull * 1000000000ull; /* 2025-11-28 */

static void
tick(void)
{
	now += 1000000; /* 1 ms */
}

static void
dns(struct capgen *g, const char *local, const char *server, uint16_t port,
    const char *qname, const char *const *cn, size_t ncn,
    const char *const *addrs, size_t naddrs)
{
	uint8_t msg[1024];
	struct capgen_pkt p = {.src = local,
	                       .dst = server,
	                       .proto = SP_PROTO_UDP,
	                       .sport = port,
	                       .dport = 53};

	p.plen = capgen_dns_query(msg, sizeof(msg), port, qname);
	p.payload = msg;
	capgen_write(g, now, &p);
	tick();
	p.src = server;
	p.dst = local;
	p.sport = 53;
	p.dport = port;
	p.plen = capgen_dns_response(msg, sizeof(msg), port, qname, cn, ncn,
	                             addrs, naddrs, 300);
	capgen_write(g, now, &p);
	tick();
}

/* A TCP connection: handshake, one request, one answer, close. When the
 * peer never answers (a denied flow), only SYN retries are written. */
static void
tcp(struct capgen *g, const char *from, uint16_t sport, const char *to,
    uint16_t dport, bool answered)
{
	static const uint8_t req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	static const uint8_t rsp[] = "HTTP/1.1 204 No Content\r\n\r\n";
	struct capgen_pkt c = {.src = from,
	                       .dst = to,
	                       .proto = SP_PROTO_TCP,
	                       .sport = sport,
	                       .dport = dport};
	struct capgen_pkt s = {.src = to,
	                       .dst = from,
	                       .proto = SP_PROTO_TCP,
	                       .sport = dport,
	                       .dport = sport};
	int i;

	c.tcp_flags = PACKET_TCP_SYN;
	if (!answered) {
		for (i = 0; i < 3; i++) {
			capgen_write(g, now, &c);
			now += 1000000000ull;
		}
		return;
	}
	capgen_write(g, now, &c);
	tick();
	s.tcp_flags = PACKET_TCP_SYN | PACKET_TCP_ACK;
	capgen_write(g, now, &s);
	tick();
	c.tcp_flags = PACKET_TCP_ACK;
	capgen_write(g, now, &c);
	c.tcp_flags = PACKET_TCP_ACK | PACKET_TCP_PSH;
	c.payload = req;
	c.plen = sizeof(req) - 1;
	capgen_write(g, now, &c);
	tick();
	s.tcp_flags = PACKET_TCP_ACK | PACKET_TCP_PSH;
	s.payload = rsp;
	s.plen = sizeof(rsp) - 1;
	capgen_write(g, now, &s);
	tick();
	c.tcp_flags = PACKET_TCP_ACK | PACKET_TCP_FIN;
	c.plen = 0;
	capgen_write(g, now, &c);
	s.tcp_flags = PACKET_TCP_ACK | PACKET_TCP_FIN;
	s.plen = 0;
	capgen_write(g, now, &s);
	c.tcp_flags = PACKET_TCP_ACK;
	capgen_write(g, now, &c);
	tick();
}

static int
demo(const char *path)
{
	static const char *const cn_www[] = {"edge.example.net"};
	static const char *const a_www[] = {"203.0.113.10"};
	static const char *const a6_www[] = {"2001:db8:2::10"};
	static const char *const a_ads[] = {"203.0.113.66"};
	static const char *const a_cdn[] = {"203.0.113.20"};
	static const uint8_t ntp[48] = {0x23};
	static const uint8_t arp[42] = {
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0,
	        1,    0x08, 0x06, 0,    1,    0x08, 0,    6, 4, 0, 1};
	static const uint8_t garbled[] = {0x02, 0,    0,    0,   0, 2,
	                                  0x02, 0,    0,    0,   0, 1,
	                                  0x08, 0x00, 0x4f, 0x00};
	uint8_t big[1400];
	struct capgen *g = capgen_open(path, PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	struct capgen_pkt p;

	if (g == NULL) {
		fprintf(stderr, "mkcap: cannot write %s\n", path);
		return 1;
	}
	/* www.example.com through a CNAME, over IPv4 and IPv6. */
	dns(g, LOCAL4, DNS4, 40001, "www.example.com", cn_www, 1, a_www, 1);
	tcp(g, LOCAL4, 50001, a_www[0], 443, true);
	dns(g, LOCAL4, DNS4, 40002, "www.example.com", cn_www, 1, a6_www, 1);
	tcp(g, LOCAL6, 50002, a6_www[0], 443, true);
	/* An ad server: the example rules deny its domain. */
	dns(g, LOCAL4, DNS4, 40003, "ads.example.org", NULL, 0, a_ads, 1);
	tcp(g, LOCAL4, 50003, a_ads[0], 443, false);
	/* A subdomain the example rules allow under a denied domain. */
	dns(g, LOCAL4, DNS4, 40004, "cdn.example.org", NULL, 0, a_cdn, 1);
	tcp(g, LOCAL4, 50004, a_cdn[0], 443, true);
	/* Outbound ssh (rejected by the examples), inbound ssh (allowed). */
	tcp(g, LOCAL4, 50005, "198.51.100.22", 22, false);
	tcp(g, "203.0.113.99", 50006, LOCAL4, 22, true);
	/* NTP, and a ping. */
	memset(&p, 0, sizeof(p));
	p.src = LOCAL4;
	p.dst = "198.51.100.123";
	p.proto = SP_PROTO_UDP;
	p.sport = 123;
	p.dport = 123;
	p.payload = ntp;
	p.plen = sizeof(ntp);
	capgen_write(g, now, &p);
	tick();
	memset(&p, 0, sizeof(p));
	p.src = LOCAL4;
	p.dst = "198.51.100.1";
	p.proto = SP_PROTO_ICMP;
	p.icmp_type = 8;
	p.sport = 7;
	capgen_write(g, now, &p);
	tick();
	p.src = "198.51.100.1";
	p.dst = LOCAL4;
	p.icmp_type = 0;
	capgen_write(g, now, &p);
	tick();
	/* A UDP datagram in two fragments, to the denied CIDR. */
	memset(&p, 0, sizeof(p));
	memset(big, 0xab, sizeof(big));
	p.src = LOCAL4;
	p.dst = "198.51.100.200";
	p.proto = SP_PROTO_UDP;
	p.sport = 40100;
	p.dport = 9999;
	p.payload = big;
	p.plen = sizeof(big);
	p.frag = true;
	p.frag_id = 77;
	p.frag_more = true;
	p.frag_off = 0;
	p.frag_len = 1000;
	capgen_write(g, now, &p);
	p.frag_more = false;
	p.frag_off = 1000;
	p.frag_len = sizeof(big) + 8 - 1000;
	capgen_write(g, now, &p);
	tick();
	/* Not IP, and not well formed: counted, never fatal. */
	capgen_write_raw(g, now, arp, sizeof(arp));
	capgen_write_raw(g, now, garbled, sizeof(garbled));
	return capgen_close(g) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "demo") == 0)
		return demo(argv[2]);
	fprintf(stderr, "usage: mkcap demo FILE\n");
	return 2;
}

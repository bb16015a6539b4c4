/* SPDX-License-Identifier: GPL-2.0-or-later */
/* make stress's hostile inputs: malformed frames at a daemon's queue, and
 * junk, an endless line, cut JSON and idle peers at its control socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>

#include "../tools/argnum.h"
#include "../tools/inetsum.h"

/*
 * Usage:
 *   abuse frames  -I IFACE -s SRC -a DST -m KIND [-n N]
 *   abuse kinds                   (the KINDs, one a line: "NAME 4|6 WHY")
 *   abuse control -a SOCKET -m junk|long|truncated|idle [-n N] [-L LEN]
 *                 [-H HOLD_MS] [-w WAIT_MS]
 *
 * frames: N copies of one malformed IP packet (or "ok-udp4"/"ok-udp6",
 * well formed, to compare), written through an AF_PACKET socket on IFACE
 * to the broadcast address: the peer's kernel takes them in and its
 * netfilter input hook sees them, as a packet from the wire. The IP header
 * is valid (the kernel drops the packet before any hook otherwise); what
 * is wrong lies behind it, where spackle's parser reads.
 *
 * control: N connections to the daemon's control socket, one after
 * another, each sending its abuse and waiting up to WAIT_MS for an answer
 * or a close; idle opens N at once, sends nothing and holds them HOLD_MS.
 *
 * Each prints one `result=` line; exit 0, or 64 on a usage error, 3 when
 * nothing could be sent.
 */
#define AB_MAX_N   100000
#define AB_MAX_LEN (64u << 20)
#define AB_FRAME   256
#define AB_STATUS  "{\"cmd\":\"status\"}"

struct ab_opts {
	const char *iface, *src, *addr, *mode;
	unsigned n, len, hold_ms, wait_ms;
};

static uint64_t
ab_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int
ab_left(uint64_t deadline)
{
	uint64_t now = ab_now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/* --- frames -----------------------------------------------------------------
 */

struct ab_ip {
	int family;
	uint8_t src[16], dst[16];
};

static void
ab_put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The IP header before `len` bytes of protocol `proto` (IPv4 flags and
 * fragment offset `frag`); its length. */
static size_t
ab_ip_header(uint8_t *p, const struct ab_ip *ip, int proto, size_t len,
             unsigned frag)
{
	if (ip->family == AF_INET6) {
		p[0] = 0x60;
		ab_put16(p + 4, (unsigned)len);
		p[6] = (uint8_t)proto;
		p[7] = 64;
		memcpy(p + 8, ip->src, 16);
		memcpy(p + 24, ip->dst, 16);
		return 40;
	}
	p[0] = 0x45;
	ab_put16(p + 2, (unsigned)(20 + len));
	ab_put16(p + 4, 0x5a5a);
	ab_put16(p + 6, frag);
	p[8] = 64;
	p[9] = (uint8_t)proto;
	memcpy(p + 12, ip->src, 4);
	memcpy(p + 16, ip->dst, 4);
	ab_put16(p + 10, inetsum_fold(inetsum_add(p, 20, 0)));
	return 20;
}

/* A TCP header with data offset `doff` (words), `len` bytes kept. */
static size_t
ab_tcp(uint8_t *p, unsigned doff, size_t len)
{
	memset(p, 0, 20);
	ab_put16(p, 40001);
	ab_put16(p + 2, 7390);
	p[12] = (uint8_t)(doff << 4);
	p[13] = 0x02; /* SYN */
	ab_put16(p + 14, 1024);
	return len;
}

/* A UDP header with length field `ulen`, then `len` - 8 bytes of payload. */
static size_t
ab_udp(uint8_t *p, unsigned ulen, size_t len)
{
	memset(p, 'u', len);
	ab_put16(p, 40002);
	ab_put16(p + 2, 7391);
	ab_put16(p + 4, ulen);
	ab_put16(p + 6, 0);
	return len;
}

/* The UDP checksum of a well-formed datagram at p (n bytes) over ip. */
static void
ab_udp_checksum(uint8_t *p, size_t n, const struct ab_ip *ip)
{
	size_t alen = ip->family == AF_INET6 ? 16 : 4;
	uint16_t sum;

	/* the pseudo-header (addresses, protocol, length), then the datagram */
	sum = inetsum_fold(inetsum_add(
	        p, n,
	        inetsum_add(ip->src, alen, inetsum_add(ip->dst, alen, 0)) +
	                IPPROTO_UDP + (uint32_t)n));
	ab_put16(p + 6, sum == 0 ? 0xffff : sum);
}

/* An IPv6 extension header of 8 bytes (a PadN option), next `nh`. */
static size_t
ab_ext(uint8_t *p, int type, int nh)
{
	memset(p, 0, 8);
	p[0] = (uint8_t)nh;
	if (type == IPPROTO_FRAGMENT)
		return 8; /* offset 0, no M: an atomic fragment */
	p[2] = 1;         /* PadN, 4 bytes */
	p[3] = 4;
	return 8;
}

enum ab_kind_id {
	K_OK_UDP,
	K_TCP_DOFF0,
	K_TCP_DOFF4,
	K_TCP_DOFF_PAST,
	K_TCP_SHORT,
	K_TCP_TINY,
	K_UDP_LEN0,
	K_UDP_LEN7,
	K_UDP_LEN_PAST,
	K_UDP_SHORT,
	K_ICMP_SHORT,
	K_ICMP_ECHO_SHORT,
	K_TCP_FRAG_TINY,
	K_EXT_HBH_LATE,
	K_EXT_TWO_FRAG,
	K_EXT_CUT,
	K_EXT_CHAIN,
};

static const struct ab_kind {
	const char *name;
	int family;
	enum ab_kind_id id;
	const char *why;
} ab_kinds[] = {
        {"ok-udp4", 4, K_OK_UDP, "well formed: must NOT count as malformed"},
        {"tcp4-doff0", 4, K_TCP_DOFF0, "TCP data offset 0"},
        {"tcp4-doff4", 4, K_TCP_DOFF4, "TCP data offset 4 (< 5)"},
        {"tcp4-doff-past", 4, K_TCP_DOFF_PAST, "TCP header of 60 bytes in 20"},
        {"tcp4-short", 4, K_TCP_SHORT, "10 bytes of a TCP header"},
        {"tcp4-tiny", 4, K_TCP_TINY, "3 bytes of TCP: not even the ports"},
        {"udp4-len0", 4, K_UDP_LEN0, "UDP length 0"},
        {"udp4-len7", 4, K_UDP_LEN7, "UDP length 7 (< 8)"},
        {"udp4-len-past", 4, K_UDP_LEN_PAST, "UDP length 200 in 16 bytes"},
        {"udp4-short", 4, K_UDP_SHORT, "4 bytes of a UDP header"},
        {"icmp4-short", 4, K_ICMP_SHORT, "4 bytes of ICMP"},
        {"icmp4-echo-short", 4, K_ICMP_ECHO_SHORT,
         "an echo request of 5 bytes: no id"},
        {"tcp4-frag-tiny", 4, K_TCP_FRAG_TINY,
         "first fragment with 8 bytes of TCP (RFC 1858)"},
        {"ok-udp6", 6, K_OK_UDP, "well formed: must NOT count as malformed"},
        {"tcp6-doff0", 6, K_TCP_DOFF0, "TCP data offset 0"},
        {"tcp6-short", 6, K_TCP_SHORT, "10 bytes of a TCP header"},
        {"udp6-len0", 6, K_UDP_LEN0, "UDP length 0"},
        {"udp6-len-past", 6, K_UDP_LEN_PAST, "UDP length 200 in 16 bytes"},
        {"icmp6-short", 6, K_ICMP_SHORT, "4 bytes of ICMPv6"},
        {"ext6-hbh-late", 6, K_EXT_HBH_LATE,
         "hop-by-hop options after another header (RFC 8200 4.1)"},
        {"ext6-two-frag", 6, K_EXT_TWO_FRAG, "two fragment headers"},
        {"ext6-cut", 6, K_EXT_CUT, "destination options of 16 bytes in 8"},
        {"ext6-chain", 6, K_EXT_CHAIN,
         "9 extension headers (more than spackle walks)"},
};
#define AB_NKINDS (sizeof(ab_kinds) / sizeof(ab_kinds[0]))

/* Packet seq of kind k into p (AB_FRAME bytes); its length. */
static size_t
ab_build(const struct ab_kind *k, const struct ab_ip *ip, unsigned seq,
         uint8_t *p)
{
	bool v6 = ip->family == AF_INET6;
	int icmp = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	uint8_t l4[AB_FRAME / 2];
	size_t n = 0, h, i;
	int proto = IPPROTO_UDP;
	unsigned frag = 0;

	memset(l4, 0, sizeof(l4));
	switch (k->id) {
	case K_OK_UDP:
		/* a new flow each: in flow mode a flow's later packets
		 * pass in the kernel, only its first crosses the divert */
		n = ab_udp(l4, 16, 16);
		ab_put16(l4, 40002 + seq % 20000);
		ab_udp_checksum(l4, n, ip);
		break;
	case K_TCP_DOFF0:
	case K_TCP_DOFF4:
	case K_TCP_DOFF_PAST:
		proto = IPPROTO_TCP;
		n = ab_tcp(l4,
		           k->id == K_TCP_DOFF0   ? 0
		           : k->id == K_TCP_DOFF4 ? 4
		                                  : 15,
		           20);
		break;
	case K_TCP_SHORT:
	case K_TCP_TINY:
		proto = IPPROTO_TCP;
		n = ab_tcp(l4, 5, k->id == K_TCP_SHORT ? 10 : 3);
		break;
	case K_UDP_LEN0:
	case K_UDP_LEN7:
	case K_UDP_LEN_PAST:
		n = ab_udp(l4,
		           k->id == K_UDP_LEN0   ? 0
		           : k->id == K_UDP_LEN7 ? 7
		                                 : 200,
		           16);
		break;
	case K_UDP_SHORT:
		n = ab_udp(l4, 8, 4);
		break;
	case K_ICMP_SHORT:
		proto = icmp;
		l4[0] = v6 ? 1 : 3; /* destination unreachable */
		n = 4;
		break;
	case K_ICMP_ECHO_SHORT:
		proto = icmp;
		l4[0] = v6 ? 128 : 8;
		n = 5;
		break;
	case K_TCP_FRAG_TINY:
		proto = IPPROTO_TCP;
		n = ab_tcp(l4, 5, 8);
		frag = 0x2000; /* more fragments, offset 0 */
		break;
	case K_EXT_HBH_LATE:
		proto = IPPROTO_DSTOPTS;
		n = ab_ext(l4, IPPROTO_DSTOPTS, IPPROTO_HOPOPTS);
		n += ab_ext(l4 + n, IPPROTO_HOPOPTS, IPPROTO_UDP);
		n += ab_udp(l4 + n, 16, 16);
		break;
	case K_EXT_TWO_FRAG:
		proto = IPPROTO_FRAGMENT;
		n = ab_ext(l4, IPPROTO_FRAGMENT, IPPROTO_FRAGMENT);
		n += ab_ext(l4 + n, IPPROTO_FRAGMENT, IPPROTO_UDP);
		n += ab_udp(l4 + n, 16, 16);
		break;
	case K_EXT_CUT:
		proto = IPPROTO_DSTOPTS;
		n = ab_ext(l4, IPPROTO_DSTOPTS, IPPROTO_UDP);
		l4[1] = 1; /* 16 bytes, of which 8 follow */
		break;
	case K_EXT_CHAIN:
		proto = IPPROTO_DSTOPTS;
		for (i = 0; i < 9; i++)
			n += ab_ext(l4 + n, IPPROTO_DSTOPTS,
			            i < 8 ? IPPROTO_DSTOPTS : IPPROTO_UDP);
		n += ab_udp(l4 + n, 16, 16);
		break;
	}
	h = ab_ip_header(p, ip, proto, n, frag);
	memcpy(p + h, l4, n);
	return h + n;
}

static int
ab_frames(const struct ab_opts *o)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const struct ab_kind *k = NULL;
	struct sockaddr_ll ll;
	struct ab_ip ip;
	uint8_t pkt[AB_FRAME];
	unsigned sent = 0, i;
	size_t len;
	int s;

	for (i = 0; i < AB_NKINDS && o->mode != NULL; i++)
		if (strcmp(ab_kinds[i].name, o->mode) == 0)
			k = &ab_kinds[i];
	memset(&ip, 0, sizeof(ip));
	ip.family = k != NULL && k->family == 6 ? AF_INET6 : AF_INET;
	if (k == NULL || o->iface == NULL || o->src == NULL ||
	    o->addr == NULL || inet_pton(ip.family, o->src, ip.src) != 1 ||
	    inet_pton(ip.family, o->addr, ip.dst) != 1) {
		fputs("abuse: frames -I IFACE -s SRC -a DST -m KIND, addresses "
		      "of the kind's family (abuse kinds)\n",
		      stderr);
		return 64;
	}
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_ifindex = (int)if_nametoindex(o->iface);
	ll.sll_protocol = htons(k->family == 6 ? ETH_P_IPV6 : ETH_P_IP);
	ll.sll_halen = 6;
	memcpy(ll.sll_addr, bcast, 6);
	s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ll.sll_ifindex == 0) {
		printf("result=error errno=%d\n", errno);
		return 3;
	}
	for (i = 0; i < o->n; i++) {
		memset(pkt, 0, sizeof(pkt));
		len = ab_build(k, &ip, i, pkt);
		if (sendto(s, pkt, len, 0, (struct sockaddr *)&ll,
		           sizeof(ll)) == (ssize_t)len)
			sent++;
	}
	close(s);
	printf("result=%s kind=%s sent=%u\n", sent ? "ok" : "error", k->name,
	       sent);
	return sent ? 0 : 3;
}

static int
ab_list(const struct ab_opts *o)
{
	size_t i;

	(void)o;
	for (i = 0; i < AB_NKINDS; i++)
		printf("%s %d %s\n", ab_kinds[i].name, ab_kinds[i].family,
		       ab_kinds[i].why);
	return 0;
}

/* --- control -----------------------------------------------------------------
 */

struct ab_tally {
	unsigned connected, refused, answered, closed, open;
	unsigned long long bytes;
};

static int
ab_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    fcntl(s, F_SETFL, O_NONBLOCK) != 0) {
		close(s);
		return -1;
	}
	return s;
}

/*
 * Send len bytes of buf (then shut the sending side when eof), reading
 * whatever comes back, until an answer, a close, or the wait runs out.
 */
static void
ab_exchange(int s, const char *buf, size_t len, bool eof, unsigned wait_ms,
            struct ab_tally *t)
{
	uint64_t deadline = ab_now_ms() + wait_ms;
	struct pollfd pfd = {.fd = s};
	size_t off = 0;
	char back[4096];
	ssize_t n;

	for (;;) {
		pfd.events = POLLIN | (off < len ? POLLOUT : 0);
		if (poll(&pfd, 1, ab_left(deadline)) <= 0) {
			t->open++;
			return;
		}
		if (pfd.revents & POLLIN) {
			n = recv(s, back, sizeof(back), 0);
			if (n > 0) {
				t->answered++;
				return;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				t->closed++;
				return;
			}
		}
		if (pfd.revents & (POLLERR | POLLHUP) &&
		    !(pfd.revents & POLLIN)) {
			t->closed++;
			return;
		}
		if (off < len && (pfd.revents & POLLOUT)) {
			n = send(s, buf + off, len - off, MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
				t->bytes += (unsigned long long)n;
				if (off == len && eof)
					shutdown(s, SHUT_WR);
			} else if (errno != EAGAIN && errno != EINTR) {
				t->closed++;
				return;
			}
		}
	}
}

/* Connection i's abuse into buf (cap bytes); its length, *eof whether the
 * sending side is shut after it. */
static size_t
ab_payload(const struct ab_opts *o, unsigned i, char *buf, size_t cap,
           bool *eof)
{
	uint32_t x = 2463534242u ^ (i * 2654435761u);
	size_t len, k;

	*eof = false;
	if (strcmp(o->mode, "junk") == 0) {
		len = o->len < cap ? o->len : cap;
		for (k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[k] = (char)(x & 0xff);
		}
		return len;
	}
	if (strcmp(o->mode, "long") == 0) {
		len = o->len < cap ? o->len : cap;
		memset(buf, 'a', len);
		buf[0] = '{';
		buf[len - 1] = '\n';
		return len;
	}
	/* truncated: a status request cut after 1..15 bytes, ended by a
	 * newline (every other one) or by the end of the stream. */
	len = 1 + i % (sizeof(AB_STATUS) - 2);
	memcpy(buf, AB_STATUS, len);
	if (i % 2 == 0)
		buf[len++] = '\n';
	else
		*eof = true;
	return len;
}

static int
ab_control_idle(const struct ab_opts *o, struct ab_tally *t)
{
	struct pollfd *pfd = calloc(o->n, sizeof(*pfd));
	uint64_t deadline;
	unsigned i, live = 0;
	char c;

	if (pfd == NULL)
		return 3;
	for (i = 0; i < o->n; i++) {
		pfd[i].fd = ab_unix_connect(o->addr);
		pfd[i].events = POLLIN;
		if (pfd[i].fd < 0)
			t->refused++;
		else
			t->connected++;
	}
	/* Held: a peer the daemon closes meanwhile is counted once. */
	deadline = ab_now_ms() + o->hold_ms;
	while (ab_left(deadline) > 0 &&
	       poll(pfd, o->n, ab_left(deadline)) > 0) {
		for (i = 0; i < o->n; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (recv(pfd[i].fd, &c, 1, 0) > 0)
				t->answered++;
			else
				t->closed++;
			close(pfd[i].fd);
			pfd[i].fd = -1;
		}
	}
	for (i = 0; i < o->n; i++)
		if (pfd[i].fd >= 0) {
			live++;
			close(pfd[i].fd);
		}
	t->open = live;
	free(pfd);
	return 0;
}

static int
ab_control(const struct ab_opts *o)
{
	struct ab_tally t;
	uint64_t t0 = ab_now_ms();
	char *buf;
	size_t len;
	unsigned i;
	bool eof;
	int s;

	memset(&t, 0, sizeof(t));
	if (o->addr == NULL || o->mode == NULL ||
	    (strcmp(o->mode, "junk") != 0 && strcmp(o->mode, "long") != 0 &&
	     strcmp(o->mode, "truncated") != 0 &&
	     strcmp(o->mode, "idle") != 0)) {
		fputs("abuse: control -a SOCKET -m junk|long|truncated|idle\n",
		      stderr);
		return 64;
	}
	if (strcmp(o->mode, "idle") == 0) {
		if (ab_control_idle(o, &t) != 0)
			return 3;
	} else {
		if ((buf = malloc(o->len + 32)) == NULL)
			return 3;
		for (i = 0; i < o->n; i++) {
			if ((s = ab_unix_connect(o->addr)) < 0) {
				t.refused++;
				continue;
			}
			t.connected++;
			len = ab_payload(o, i, buf, o->len + 32, &eof);
			ab_exchange(s, buf, len, eof, o->wait_ms, &t);
			close(s);
		}
		free(buf);
	}
	printf("result=%s mode=%s conns=%u connected=%u refused=%u "
	       "answered=%u closed=%u open=%u bytes=%llu ms=%llu\n",
	       t.connected ? "ok" : "error", o->mode, o->n, t.connected,
	       t.refused, t.answered, t.closed, t.open, t.bytes,
	       (unsigned long long)(ab_now_ms() - t0));
	return t.connected ? 0 : 3;
}

int
main(int argc, char **argv)
{
	struct ab_opts o = {
	        .n = 1, .len = 4096, .hold_ms = 1000, .wait_ms = 2000};
	int c;

	if (argc < 2) {
		fputs("usage: abuse frames|kinds|control [options] (see "
		      "tests/stress/abuse.c)\n",
		      stderr);
		return 64;
	}
	optind = 2;
	while ((c = getopt(argc, argv, "I:s:a:m:n:L:H:w:")) != -1) {
		switch (c) {
		case 'I':
			o.iface = optarg;
			break;
		case 's':
			o.src = optarg;
			break;
		case 'a':
			o.addr = optarg;
			break;
		case 'm':
			o.mode = optarg;
			break;
		case 'n':
			if (!argnum_uint(optarg, AB_MAX_N, &o.n) || o.n == 0)
				goto bad;
			break;
		case 'L':
			if (!argnum_uint(optarg, AB_MAX_LEN, &o.len) ||
			    o.len == 0)
				goto bad;
			break;
		case 'H':
			if (!argnum_uint(optarg, 600000, &o.hold_ms))
				goto bad;
			break;
		case 'w':
			if (!argnum_uint(optarg, 600000, &o.wait_ms))
				goto bad;
			break;
		default:
			return 64;
		}
	}
	if (strcmp(argv[1], "frames") == 0)
		return ab_frames(&o);
	if (strcmp(argv[1], "kinds") == 0)
		return ab_list(&o);
	if (strcmp(argv[1], "control") == 0)
		return ab_control(&o);
	fprintf(stderr, "abuse: unknown command \"%s\"\n", argv[1]);
	return 64;
bad:
	fprintf(stderr, "abuse: -%c: bad value \"%s\"\n", c, optarg);
	return 64;
}

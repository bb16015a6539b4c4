/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tunnel backend: packets routed into a tun device (Linux) or a utun
 * interface (macOS), read by the workers, and what is allowed re-injected:
 * a packet leaving this host through a raw socket written with libnet and
 * marked so the steering lets it pass (STEER_MARK_ACCEPT), a packet for
 * this host written back into the tunnel, which hands it to the stack as
 * if it had arrived there. A rejected packet is answered the same ways
 * (tun_reply.h). docs/divert.md has the whole path.
 *
 * Shared by every platform: the burst, the verdicts, the re-injection and
 * the counters. Per platform (tun_open_dev, tun_read, tun_write below):
 * Linux opens /dev/net/tun (IFF_MULTI_QUEUE: a queue per worker), macOS a
 * utun control socket whose packets carry a 4-byte family header. OpenBSD
 * has no tunnel here: pf's divert-packet hands packets to divert(4)
 * sockets, which also take them back (tun_hook and tun_inject are its own).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libnet.h>

#ifdef __linux__
#include <libmnl/libmnl.h>
#include <linux/if_tun.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#endif
#ifdef __APPLE__
#include <net/if_utun.h>
#include <sys/kern_control.h>
#include <sys/sys_domain.h>
#endif
#ifdef __OpenBSD__
#include <netinet/in.h>
#include <sys/event.h>
#endif

#include "divert/divert.h"
#include "divert/tun_gso.h"
#include "divert/tun_int.h"
#include "divert/tun_reply.h"
#include "spackle/mark.h"
#include "spackle/packet.h"

#define TUN_LOCAL_MAX 64u           /* local addresses remembered */
#define TUN_LOCAL_AGE 1000000000ull /* re-read them after 1 s */
#define TUN_TXQLEN    16384u        /* packets the tun holds for its reader */
#define TUN_SEG_BATCH 64u /* segments of a super-packet a system call */
#define TUN_SEG_ROOM  (2u * TUN_PKT_MAX) /* bytes for them */
#ifdef __APPLE__
#define TUN_HDR 4u /* utun's address family, network order */
#else
#define TUN_HDR 0u
#endif

struct divert {
	int fd;
	char name[IFNAMSIZ];
	libnet_t *ln4, *ln6; /* raw sockets out, and the reply builder */
	uint8_t *buf;        /* DIVERT_BURST_MAX reads of TUN_PKT_MAX */
	uint8_t *seg;        /* segments of a super-packet, TUN_SEG_ROOM */
	struct divert_packet pk[DIVERT_BURST_MAX];
	/* What the kernel said of each packet of the burst: a super-packet,
	 * a checksum left open (tun_gso.h; Linux alone, else all 0). */
	struct tun_offload off[DIVERT_BURST_MAX];
	size_t npk;        /* packets of the burst being answered */
	uint32_t next_id;  /* the id the next packet read gets */
	uint32_t first_id; /* the id of pk[0] */
	struct sp_addr local[TUN_LOCAL_MAX];
	size_t nlocal;
	uint64_t local_ns; /* when local was read */
	struct divert_stats st;
	char err[384];
#ifdef __OpenBSD__
	int sock[2]; /* the divert(4) sockets, IPv4 and IPv6; fd: a kqueue */
	int turn;    /* the socket read first next */
	struct sockaddr_storage from[DIVERT_BURST_MAX]; /* recvfrom's, per pk */
#endif
};

static uint64_t
tun_now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
tun_seterr(struct divert *d, const char *fmt, const char *what)
{
	snprintf(d->err, sizeof(d->err), fmt, d->name, what);
}

/* ---- this host's addresses -------------------------------------------------
 */

/* Re-read the addresses of this host's interfaces (in this namespace). */
static void
tun_local_read(struct divert *d)
{
	struct ifaddrs *ifa, *i;

	d->local_ns = tun_now(CLOCK_MONOTONIC);
	if (getifaddrs(&ifa) != 0)
		return;
	d->nlocal = 0;
	for (i = ifa; i != NULL && d->nlocal < TUN_LOCAL_MAX; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			sp_addr_from_v4(&d->local[d->nlocal++],
			                (const uint8_t *)&(
			                        (struct sockaddr_in *)(void *)
			                                i->ifa_addr)
			                        ->sin_addr);
		else if (i->ifa_addr->sa_family == AF_INET6)
			sp_addr_from_v6(
			        &d->local[d->nlocal++],
			        ((struct sockaddr_in6 *)(void *)i->ifa_addr)
			                ->sin6_addr.s6_addr);
	}
	freeifaddrs(ifa);
}

#ifndef __OpenBSD__ /* divert(4) says which way (below) */
static bool
tun_is_local(struct divert *d, const struct sp_addr *a)
{
	size_t i;

	if (tun_now(CLOCK_MONOTONIC) - d->local_ns > TUN_LOCAL_AGE)
		tun_local_read(d);
	for (i = 0; i < d->nlocal; i++)
		if (sp_addr_equal(&d->local[i], a))
			return true;
	return false;
}

/*
 * Which way a packet read from the tunnel goes: one for an address of this
 * host came in (redirected from an interface's ingress) and is delivered
 * by writing it back; any other is leaving (routed into the tunnel) and
 * goes out through the raw socket.
 */
static int
tun_hook(struct divert *d, const uint8_t *p, size_t len)
{
	struct sp_addr dst;

	if (len >= 20 && (p[0] >> 4) == 4)
		sp_addr_from_v4(&dst, p + 16);
	else if (len >= 40 && (p[0] >> 4) == 6)
		sp_addr_from_v6(&dst, p + 24);
	else
		return DIVERT_HOOK_UNKNOWN;
	return tun_is_local(d, &dst) ? DIVERT_HOOK_IN : DIVERT_HOOK_OUT;
}
#endif

#if defined(__linux__) || defined(__OpenBSD__)
/* A sockaddr of family af: addr (the packet's bytes), or the unspecified
 * address when NULL; with port (the divert port, to bind; 0 to send).
 * Its length. The raw sockets' batches (Linux) and divert(4) (OpenBSD)
 * address by it. */
static socklen_t
tun_sockaddr(struct sockaddr_storage *ss, int af, const uint8_t *addr,
             unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
#ifdef __OpenBSD__
		sin->sin_len = sizeof(*sin);
#endif
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (addr != NULL)
			memcpy(&sin->sin_addr, addr, 4);
		return sizeof(*sin);
	}
#ifdef __OpenBSD__
	sin6->sin6_len = sizeof(*sin6);
#endif
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	if (addr != NULL)
		memcpy(&sin6->sin6_addr, addr, 16);
	return sizeof(*sin6);
}
#endif

/* ---- the device, per platform ----------------------------------------------
 */

#ifdef __linux__
/*
 * Before the tun goes up, through rtnetlink (which CAP_NET_ADMIN allows,
 * where the sysctl files would need root's uid):
 * - reverse-path filtering loose (2): a packet written back into the tun
 *   comes from an address routed through another interface, which strict
 *   filtering (1) drops. (Loose also needs an IPv4 address on the tun:
 *   the steering gives it one, tun_text.c.)
 * - no IPv6 link-local address: the tun then sends nothing of its own
 *   (router solicitations, MLD reports) for the backend to read.
 */
static int
tun_link_conf(struct divert *d, unsigned ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	struct nlattr *spec, *af, *conf;
	unsigned seq = (unsigned)time(NULL);
	int rc = -1;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_SETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	/* A queue as deep as NFQUEUE's default: a burst from a fast sender
	 * waits for the reader instead of being dropped (500 by default). */
	mnl_attr_put_u32(nlh, IFLA_TXQLEN, TUN_TXQLEN);
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	af = mnl_attr_nest_start(nlh, AF_INET);
	conf = mnl_attr_nest_start(nlh, IFLA_INET_CONF);
	mnl_attr_put_u32(nlh, IPV4_DEVCONF_RP_FILTER, 2);
	mnl_attr_nest_end(nlh, conf);
	mnl_attr_nest_end(nlh, af);
	af = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, af);
	mnl_attr_nest_end(nlh, spec);
	if ((nl = mnl_socket_open(NETLINK_ROUTE)) == NULL)
		goto out;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0 &&
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n > 0)
			rc = mnl_cb_run(buf, (size_t)n, seq,
			                mnl_socket_get_portid(nl), NULL,
			                NULL) < 0
			             ? -1
			             : 0;
	}
	mnl_socket_close(nl);
out:
	if (rc != 0)
		tun_seterr(d, "tun %s: cannot configure it: %s",
		           strerror(errno));
	return rc;
}

/* Open (and, the first time, create) the tun queue of d->name, up. */
static int
tun_open_dev(struct divert *d)
{
	struct ifreq ifr;
	int s, hdrsz = TUN_OFFLOAD_HDR;

	d->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (d->fd < 0) {
		tun_seterr(d, "tun %s: /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	/* Every packet behind a virtio_net_hdr, which says what the device
	 * was left to do (tun_gso.h). */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->name);
	if (ioctl(d->fd, TUNSETIFF, &ifr) != 0) {
		tun_seterr(d, "tun %s: TUNSETIFF: %s", strerror(errno));
		return -1;
	}
	if (ioctl(d->fd, TUNSETVNETHDRSZ, &hdrsz) != 0) {
		tun_seterr(d, "tun %s: TUNSETVNETHDRSZ: %s", strerror(errno));
		return -1;
	}
	/* The device takes TCP whole (TSO) with its checksum open: one read
	 * and one verdict for up to 64 KiB, as NFQUEUE hands them over. A
	 * kernel that refuses hands over what it did before: packets of
	 * the MTU, checksums done (status's gso_received stays 0). */
	(void)ioctl(d->fd, TUNSETOFFLOAD,
	            (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
	                            TUN_F_TSO_ECN));
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		tun_seterr(d, "tun %s: socket: %s", strerror(errno));
		return -1;
	}
	if (ioctl(s, SIOCGIFINDEX, &ifr) != 0 ||
	    tun_link_conf(d, (unsigned)ifr.ifr_ifindex) != 0 ||
	    ioctl(s, SIOCGIFFLAGS, &ifr) != 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr)) != 0) {
		if (d->err[0] == '\0')
			tun_seterr(d, "tun %s: cannot set it up: %s",
			           strerror(errno));
		close(s);
		return -1;
	}
	close(s);
	return 0;
}
#elif defined(__APPLE__)
/*
 * macOS: a utun interface is a kernel control socket (PF_SYSTEM,
 * SYSPROTO_CONTROL) connected to com.apple.net.utun_control; the unit
 * asked for is N + 1 of the name utunN. Written to the manuals, not run
 * here (README's platform table).
 */
static int
tun_open_dev(struct divert *d)
{
	struct ctl_info ci;
	struct sockaddr_ctl sc;
	unsigned unit;

	if (sscanf(d->name, "utun%u", &unit) != 1) {
		tun_seterr(d, "tun %s: %s", "macOS names its tunnels utunN");
		return -1;
	}
	d->fd = socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL);
	if (d->fd < 0) {
		tun_seterr(d, "utun %s: socket: %s", strerror(errno));
		return -1;
	}
	memset(&ci, 0, sizeof(ci));
	snprintf(ci.ctl_name, sizeof(ci.ctl_name), "%s", UTUN_CONTROL_NAME);
	if (ioctl(d->fd, CTLIOCGINFO, &ci) != 0) {
		tun_seterr(d, "utun %s: CTLIOCGINFO: %s", strerror(errno));
		return -1;
	}
	memset(&sc, 0, sizeof(sc));
	sc.sc_len = sizeof(sc);
	sc.sc_family = AF_SYSTEM;
	sc.ss_sysaddr = AF_SYS_CONTROL;
	sc.sc_id = ci.ctl_id;
	sc.sc_unit = unit + 1;
	if (connect(d->fd, (struct sockaddr *)&sc, sizeof(sc)) != 0) {
		tun_seterr(d, "utun %s: connect: %s", strerror(errno));
		return -1;
	}
	fcntl(d->fd, F_SETFL, fcntl(d->fd, F_GETFL) | O_NONBLOCK);
	fcntl(d->fd, F_SETFD, FD_CLOEXEC);
	return 0;
}
#elif defined(__OpenBSD__)
/*
 * OpenBSD: divert(4). Written to the manual and not yet run: nothing
 * below has been compiled on OpenBSD. pf's `divert-packet port N` rules
 * (pfconf/pf.c) hand each packet to the divert socket of its family bound to
 * port N: the spec, N alone. recvfrom() gives the packet with an address that
 * says which way it went: the unspecified one for an outbound packet, else the
 * address of the interface an inbound one came in on. sendto() with that
 * address puts it back where pf took it (out, or in as if received on
 * that interface), and pf does not look at it again. A packet no socket
 * reads is dropped: failing closed. fd() is a kqueue over both sockets.
 */

/* recvfrom()'s address for the packet read into p, or NULL when p is not
 * in the burst's buffer (a reply). */
static const struct sockaddr_storage *
tun_from(const struct divert *d, const uint8_t *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)d->buf;

	if ((uintptr_t)p < (uintptr_t)d->buf ||
	    off >= (uintptr_t)DIVERT_BURST_MAX * TUN_PKT_MAX)
		return NULL;
	return &d->from[off / TUN_PKT_MAX];
}

static int
tun_divert_socket(struct divert *d, int af, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len = tun_sockaddr(&ss, af, NULL, port);
	int s, e;

	s = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_DIVERT);
	if (s < 0) {
		tun_seterr(d, "divert %s: socket: %s", strerror(errno));
		return -1;
	}
	if (bind(s, (struct sockaddr *)(void *)&ss, len) != 0) {
		e = errno;
		close(s);
		tun_seterr(d, "divert %s: bind (root only): %s", strerror(e));
		return -1;
	}
	return s;
}

/* Bind both families' sockets to the port d->name, and watch them. */
static int
tun_open_dev(struct divert *d)
{
	struct kevent ev[2];
	unsigned long port;
	char *end;
	int i;

	d->sock[0] = d->sock[1] = -1;
	port = strtoul(d->name, &end, 10);
	if (d->name[0] < '0' || d->name[0] > '9' || *end != '\0' || port == 0 ||
	    port > 65535) {
		tun_seterr(d, "divert %s: %s",
		           "not a divert port, 1-65535 (queue_base, as pf's "
		           "divert-packet port names it)");
		return -1;
	}
	for (i = 0; i < 2; i++)
		if ((d->sock[i] = tun_divert_socket(d, i ? AF_INET6 : AF_INET,
		                                    (unsigned)port)) < 0)
			return -1;
	if ((d->fd = kqueue()) < 0) {
		tun_seterr(d, "divert %s: kqueue: %s", strerror(errno));
		return -1;
	}
	fcntl(d->fd, F_SETFD, FD_CLOEXEC);
	EV_SET(&ev[0], d->sock[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
	EV_SET(&ev[1], d->sock[1], EVFILT_READ, EV_ADD, 0, 0, NULL);
	if (kevent(d->fd, ev, 2, NULL, 0, NULL) != 0) {
		tun_seterr(d, "divert %s: kevent: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* One packet from either socket into p (TUN_PKT_MAX bytes), its address
 * kept for the verdict: its length, 0 when none waits, -1 on error. */
static ssize_t
tun_read(struct divert *d, uint8_t *p, struct tun_offload *o)
{
	struct sockaddr_storage *from =
	        &d->from[(size_t)(p - d->buf) / TUN_PKT_MAX];
	struct kevent ev[2];
	struct timespec zero = {0, 0};
	socklen_t flen;
	ssize_t n;
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < 2; i++) {
		flen = sizeof(*from);
		n = recvfrom(d->sock[d->turn], p, TUN_PKT_MAX, 0,
		             (struct sockaddr *)(void *)from, &flen);
		d->turn ^= 1;
		if (n > 0)
			return n;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return -1;
	}
	/* Both empty: a scan drops their events, or fd() stays readable. */
	(void)kevent(d->fd, NULL, 0, ev, 2, &zero);
	return 0;
}

static int
tun_hook(struct divert *d, const uint8_t *p, size_t len)
{
	const struct sockaddr_storage *ss = tun_from(d, p);

	(void)len;
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)
		                               ->sin_addr.s_addr == INADDR_ANY
		               ? DIVERT_HOOK_OUT
		               : DIVERT_HOOK_IN;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		               &((const struct sockaddr_in6 *)(const void *)ss)
		                        ->sin6_addr)
		               ? DIVERT_HOOK_OUT
		               : DIVERT_HOOK_IN;
	return DIVERT_HOOK_UNKNOWN;
}

/*
 * Send p on its way through the socket of its family, skipping pf: a
 * packet read goes back with the address it came with; a reply (tun_reply,
 * not in the buffer) out with the unspecified address, or in with its own
 * destination, the address of this host the answered packet came from.
 * libnet's raw sockets only build replies here.
 */
static int
tun_inject(struct divert *d, uint8_t *p, size_t len, bool out,
           const struct tun_offload *o, const char **why)
{
	const struct sockaddr_storage *to = tun_from(d, p);
	struct sockaddr_storage reply;
	int v6 = (p[0] >> 4) == 6;

	(void)o; /* divert(4) hands over packets done */
	if (to == NULL) {
		tun_sockaddr(&reply, v6 ? AF_INET6 : AF_INET,
		             out ? NULL : p + (v6 ? 24 : 16), 0);
		to = &reply;
	}
	if (sendto(d->sock[v6], p, len, 0,
	           (const struct sockaddr *)(const void *)to,
	           to->ss_family == AF_INET6
	                   ? sizeof(struct sockaddr_in6)
	                   : sizeof(struct sockaddr_in)) == (ssize_t)len)
		return 0;
	*why = strerror(errno);
	return -1;
}
#else
static int
tun_open_dev(struct divert *d)
{
	tun_seterr(d, "tun %s: %s",
	           "no tunnel device or divert socket on this system");
	return -1;
}
#endif

#ifndef __OpenBSD__
/* One packet from the tunnel into p (TUN_PKT_MAX bytes), without utun's
 * header, and what the kernel said of it into o: its length, 0 when none
 * waits, -1 on error. */
static ssize_t
tun_read(struct divert *d, uint8_t *p, struct tun_offload *o)
{
#ifdef __linux__
	uint8_t h[TUN_OFFLOAD_HDR];
	struct iovec iov[2] = {{h, sizeof(h)}, {p, TUN_PKT_MAX}};
#endif
	ssize_t n;

	memset(o, 0, sizeof(*o));
#ifdef __linux__
	n = readv(d->fd, iov, 2);
#else
	n = read(d->fd, p, TUN_PKT_MAX);
#endif
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
		               ? 0
		               : -1;
#ifdef __linux__
	if ((size_t)n < sizeof(h)) {
		d->st.malformed++;
		return 0;
	}
	tun_offload_read(o, h);
	n -= (ssize_t)sizeof(h);
#endif
#if TUN_HDR > 0
	if ((size_t)n < TUN_HDR) {
		d->st.malformed++;
		return 0;
	}
	memmove(p, p + TUN_HDR, (size_t)n - TUN_HDR);
	n -= (ssize_t)TUN_HDR;
#endif
	return n;
}

/* Write the packet p back into the tunnel: the stack receives it, a
 * super-packet whole, a checksum left open still open (as o says). */
static int
tun_write(struct divert *d, const uint8_t *p, size_t len,
          const struct tun_offload *o)
{
#ifdef __linux__
	uint8_t h[TUN_OFFLOAD_HDR];
	struct iovec iov[2] = {{h, sizeof(h)}, {(void *)(uintptr_t)p, len}};

	tun_offload_write(o, h);
	return writev(d->fd, iov, 2) == (ssize_t)(sizeof(h) + len) ? 0 : -1;
#else
#if TUN_HDR > 0
	uint8_t frame[TUN_HDR + TUN_PKT_MAX];
	uint32_t fam = htonl((p[0] >> 4) == 6 ? AF_INET6 : AF_INET);

	if (len > TUN_PKT_MAX)
		return -1;
	memcpy(frame, &fam, TUN_HDR);
	memcpy(frame + TUN_HDR, p, len);
	p = frame;
	len += TUN_HDR;
#endif
	(void)o; /* utun takes no offload header */
	return write(d->fd, p, len) == (ssize_t)len ? 0 : -1;
#endif
}
#endif

/* ---- the backend
 * ------------------------------------------------------------- */

static void tun_close(struct divert *d);

static libnet_t *
tun_libnet(struct divert *d, int type)
{
	char ebuf[LIBNET_ERRBUF_SIZE] = "";
	libnet_t *l = libnet_init(type, NULL, ebuf);
	int mark = (int)STEER_MARK_ACCEPT;

	if (l == NULL) {
		tun_seterr(d, "tun %s: libnet: %s", ebuf);
		return NULL;
	}
#ifdef SO_MARK
	/* What goes out again skips the steering (mark.h). */
	if (setsockopt(libnet_getfd(l), SOL_SOCKET, SO_MARK, &mark,
	               sizeof(mark)) != 0) {
		tun_seterr(d, "tun %s: SO_MARK on libnet's socket: %s",
		           strerror(errno));
		libnet_destroy(l);
		return NULL;
	}
#else
	(void)mark;
#endif
	return l;
}

static int
tun_open(struct divert **out, const char *spec, char *err, size_t errlen)
{
	struct divert *d;

	*out = NULL;
	if (spec == NULL || spec[0] == '\0' || strlen(spec) >= IFNAMSIZ ||
	    strchr(spec, ',') != NULL || strchr(spec, '/') != NULL) {
		snprintf(err, errlen,
		         "tun: \"%s\" is not an interface name (at most %u "
		         "bytes, no ',' or '/')",
		         spec != NULL ? spec : "", IFNAMSIZ - 1);
		return -1;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->buf = malloc((size_t)DIVERT_BURST_MAX * TUN_PKT_MAX)) == NULL ||
	    (d->seg = malloc(TUN_SEG_ROOM)) == NULL) {
		if (d != NULL)
			free(d->buf);
		free(d);
		snprintf(err, errlen, "tun %s: out of memory", spec);
		return -1;
	}
	d->fd = -1;
	snprintf(d->name, sizeof(d->name), "%s", spec);
	if (tun_open_dev(d) != 0 ||
	    (d->ln4 = tun_libnet(d, LIBNET_RAW4_ADV)) == NULL ||
	    (d->ln6 = tun_libnet(d, LIBNET_RAW6_ADV)) == NULL) {
		snprintf(err, errlen, "%s", d->err);
		tun_close(d);
		return -1;
	}
	tun_local_read(d);
	*out = d;
	return 0;
}

static int
tun_dispatch(struct divert *d, int max, divert_burst_cb cb, void *arg)
{
	int total = 0;
	size_t n;
	ssize_t len;

	if (max <= 0)
		max = DIVERT_BURST_MAX;
	while (total < max) {
		uint64_t now = tun_now(CLOCK_REALTIME);

		for (n = 0; n < DIVERT_BURST_MAX && total + (int)n < max; n++) {
			uint8_t *p = d->buf + n * TUN_PKT_MAX;
			struct divert_packet *pk = &d->pk[n];

			if ((len = tun_read(d, p, &d->off[n])) < 0) {
				tun_seterr(d, "tun %s: read: %s",
				           strerror(errno));
				return -1;
			}
			if (len == 0)
				break;
			memset(pk, 0, sizeof(*pk));
			pk->data = p;
			pk->caplen = pk->wirelen = (size_t)len;
			pk->link = PACKET_LINK_RAW;
			pk->ts_ns = now;
			pk->id = d->next_id++;
			pk->uid = pk->gid = UINT32_MAX;
			pk->hook = tun_hook(d, p, (size_t)len);
			if (d->off[n].gso_type != TUN_GSO_NONE) {
				pk->flags |= DIVERT_PKT_GSO;
				d->st.gso++;
				if (pk->hook == DIVERT_HOOK_IN)
					d->st.gso_in_extra +=
					        tun_gso_segments(p, (size_t)len,
					                         &d->off[n]) -
					        1u;
			}
			if (d->off[n].flags & TUN_OFF_NEEDS_CSUM)
				pk->flags |= DIVERT_PKT_CSUM_TODO;
		}
		if (n == 0)
			break;
		d->npk = n;
		d->first_id = d->pk[0].id;
		d->st.received += n;
		cb(d->pk, n, arg);
		/* What the callback left unanswered is dropped with the
		 * burst's buffer. */
		d->npk = 0;
		total += (int)n;
		if (n < DIVERT_BURST_MAX)
			break;
	}
	return total;
}

#ifndef __OpenBSD__
/* p out through the raw socket of its family, marked past the steering. */
static int
tun_send(struct divert *d, const uint8_t *p, size_t len, const char **why)
{
	int n;

	if ((p[0] >> 4) == 4)
		n = libnet_adv_write_raw_ipv4(d->ln4, p, (uint32_t)len);
	else
		n = libnet_write_raw_ipv6(d->ln6, p, (uint32_t)len);
	if (n == (int)len)
		return 0;
	*why = errno != 0 ? strerror(errno) : "libnet failed";
	return -1;
}

#ifdef __linux__
/* n segments at d->seg out through libnet's raw socket of their family,
 * to their destination, as many a system call as the kernel takes. */
static int
tun_send_segments(struct divert *d, struct iovec *iov, size_t n,
                  const char **why)
{
	struct mmsghdr mh[TUN_SEG_BATCH];
	struct sockaddr_storage to;
	const uint8_t *p = iov[0].iov_base;
	bool v6 = (p[0] >> 4) == 6;
	socklen_t tolen = tun_sockaddr(&to, v6 ? AF_INET6 : AF_INET,
	                               p + (v6 ? 24 : 16), 0);
	size_t i;
	int fd = libnet_getfd(v6 ? d->ln6 : d->ln4), k;

	memset(mh, 0, n * sizeof(mh[0]));
	for (i = 0; i < n; i++) {
		mh[i].msg_hdr.msg_name = &to;
		mh[i].msg_hdr.msg_namelen = tolen;
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
	}
	for (i = 0; i < n; i += (size_t)k)
		if ((k = sendmmsg(fd, mh + i, (unsigned)(n - i), 0)) <= 0) {
			*why = k < 0 ? strerror(errno) : "sendmmsg sent none";
			return -1;
		}
	d->st.segments += n;
	return 0;
}
#endif

/* Cut the super-packet p (tun_gso.h) and send the segments out. */
static int
tun_send_cut(struct divert *d, const uint8_t *p, size_t len,
             const struct tun_offload *o, const char **why)
{
	struct tun_seg seg;
	struct iovec iov[TUN_SEG_BATCH];
	size_t used = 0, n = 0, most, k;

	if (tun_seg_begin(&seg, p, len, o, why) != 0)
		return -1;
	/* The largest a segment can be: headers and a full payload. */
	most = seg.hlen + seg.mss < len ? seg.hlen + seg.mss : len;
	for (;;) {
		k = 0;
		if (n < TUN_SEG_BATCH && TUN_SEG_ROOM - used >= most)
			k = tun_seg_next(&seg, d->seg + used, most);
		if (k > 0) {
			iov[n].iov_base = d->seg + used;
			iov[n++].iov_len = k;
			used += k;
			continue;
		}
		if (n == 0)
			return 0;
#ifdef __linux__
		if (tun_send_segments(d, iov, n, why) != 0)
			return -1;
#else
		for (k = 0; k < n; k++)
			if (tun_send(d, iov[k].iov_base, iov[k].iov_len, why) !=
			    0)
				return -1;
		d->st.segments += n;
#endif
		n = used = 0;
	}
}

/*
 * Send p on its way: into this host through the tunnel, as it came (o);
 * or out through the raw socket, which takes no more than the route's MTU
 * and computes no checksum but IPv4's: a super-packet cut into its
 * segments, a checksum left open filled in (tun_gso.h).
 */
static int
tun_inject(struct divert *d, uint8_t *p, size_t len, bool out,
           const struct tun_offload *o, const char **why)
{
	errno = 0;
	if (!out) {
		if (tun_write(d, p, len, o) == 0)
			return 0;
		*why = errno != 0 ? strerror(errno) : "short write";
		return -1;
	}
	if (o->gso_type == TUN_GSO_NONE)
		return tun_csum_fill(p, len, o, why) == 0
		               ? tun_send(d, p, len, why)
		               : -1;
	return tun_send_cut(d, p, len, o, why);
}
#endif

/* Packet k of the burst on its way as v says; -1 with why. */
static int
tun_answer(struct divert *d, size_t k, enum sp_verdict v, const char **why)
{
	static const struct tun_offload none;
	const struct divert_packet *pk = &d->pk[k];
	uint8_t reply[TUN_REPLY_MAX];
	size_t rlen;
	bool out = pk->hook != DIVERT_HOOK_IN;

	switch (v) {
	case SP_VERDICT_ALLOW:
		d->st.accepted++;
		return tun_inject(d, d->buf + k * TUN_PKT_MAX, pk->caplen, out,
		                  &d->off[k], why);
	case SP_VERDICT_DENY:
		d->st.dropped++;
		return 0;
	case SP_VERDICT_REJECT:
		d->st.rejected++;
		/* The answer goes the other way: to the local program
		 * through the tunnel, or out to the remote one. */
		if (tun_reply(d->ln4, d->ln6, pk->data, pk->caplen, reply,
		              &rlen) != TUN_REPLY_OK)
			return 0;
		return tun_inject(d, reply, rlen, !out, &none, why);
	default:
		*why = "no such verdict";
		return -1;
	}
}

static int
tun_verdict_batch(struct divert *d, const struct divert_verdict *v, size_t n)
{
	const char *why = NULL;
	size_t i, k;
	int rc = 0;

	for (i = 0; i < n; i++) {
		k = v[i].id - d->first_id;
		if (k >= d->npk || d->pk[k].id != v[i].id) {
			d->st.verdict_errors++;
			snprintf(d->err, sizeof(d->err),
			         "tun %s: no packet %u waits for a verdict "
			         "(answered once, or outside its burst)",
			         d->name, v[i].id);
			rc = -1;
			continue;
		}
		if (tun_answer(d, k, v[i].v, &why) != 0) {
			d->st.verdict_errors++;
			snprintf(d->err, sizeof(d->err),
			         "tun %s: cannot send packet %u on: %s",
			         d->name, v[i].id, why != NULL ? why : "?");
			rc = -1;
		}
		/* Answered: a second verdict for it is an error. */
		d->pk[k].id = v[i].id + 1u + (uint32_t)DIVERT_BURST_MAX;
	}
	return rc;
}

static int
tun_verdict(struct divert *d, uint32_t id, enum sp_verdict v)
{
	struct divert_verdict one = {id, v, 0};

	return tun_verdict_batch(d, &one, 1);
}

static const char *
tun_error(struct divert *d)
{
	return d->err;
}

static int
tun_fd(struct divert *d)
{
	return d->fd;
}

static void
tun_stats(struct divert *d, struct divert_stats *st)
{
	*st = d->st;
}

static void
tun_close(struct divert *d)
{
	if (d == NULL)
		return;
	if (d->ln4 != NULL)
		libnet_destroy(d->ln4);
	if (d->ln6 != NULL)
		libnet_destroy(d->ln6);
	if (d->fd >= 0)
		close(d->fd);
#ifdef __OpenBSD__
	if (d->sock[0] >= 0)
		close(d->sock[0]);
	if (d->sock[1] >= 0)
		close(d->sock[1]);
#endif
	free(d->buf);
	free(d->seg);
	free(d);
}

const struct divert_ops divert_tun_ops = {
        .name = "tun",
        .open = tun_open,
        .dispatch = tun_dispatch,
        .verdict = tun_verdict,
        .error = tun_error,
        .close = tun_close,
        .fd = tun_fd,
        .verdict_batch = tun_verdict_batch,
        .stats = tun_stats,
        .kernel_stats = tun_kernel_stats,
        .verdict_mark = NULL,
};

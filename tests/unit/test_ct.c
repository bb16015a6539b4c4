/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Conntrack: entries by either tuple with their counters, masked marks,
 * destroy events, dumps and ICMP echo ids, in a network namespace of the
 * test's own (root only); odd messages against the parser (anyone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "guard.h"
#include "own_netns.h"
/* The parser's and the request path's static functions, as the fuzz
 * harnesses reach theirs; spackle_core's ct.o is then never linked. */
#include "src/ct.c"

#define WAIT_MS 2000
#define MASK    0x00e00000u /* spackle's bits of a mark */

/* ---- the namespace ------------------------------------------------------ */

/*
 * The whole test process moves into a new network namespace (unshare), so
 * nothing it does reaches the host's, and the namespace, its rules and its
 * conntrack table vanish with the process however it ends. Every command
 * run checks first that it is not in the host's namespace.
 */
static struct {
	bool ready;
	char why[256];
	int acct_first, acct_again;
} ns;

static int
write_sysctl(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, v, strlen(v)) != (ssize_t)strlen(v))
		rc = -errno;
	close(fd);
	return rc;
}

static int
group_setup(void **state)
{
	/* lo up, an IPv6 address besides ::1 (an echo's reply tuple then
	 * differs from its request's), and a rule using conntrack in each
	 * family: without one, a namespace tracks nothing. */
	static char *const c_lo[] = {"ip", "link", "set", "lo", "up", NULL};
	static char *const c_v6[] = {"ip",  "-6", "addr",  "add", "fd00::2/128",
	                             "dev", "lo", "nodad", NULL};
	static char *const c_t4[] = {
	        "iptables", "-w",        "-A",        "OUTPUT",
	        "-m",       "conntrack", "--ctstate", "NEW,ESTABLISHED",
	        "-j",       "ACCEPT",    NULL};
	static char *const c_t6[] = {
	        "ip6tables", "-w",        "-A",        "OUTPUT",
	        "-m",        "conntrack", "--ctstate", "NEW,ESTABLISHED",
	        "-j",        "ACCEPT",    NULL};
	static char *const *const cmds[] = {c_lo, c_v6, c_t4, c_t6};

	(void)state;
	if (!own_netns_enter(cmds, sizeof(cmds) / sizeof(cmds[0]), ns.why,
	                     sizeof(ns.why))) {
		if (geteuid() == 0 && strstr(ns.why, "failed in") != NULL)
			strncat(ns.why, " (apt-get install iproute2 iptables)",
			        sizeof(ns.why) - strlen(ns.why) - 1);
		return 0;
	}
	/* Before any entry exists: accounting is given to entries created
	 * while it is on. */
	ns.acct_first = ct_enable_acct();
	ns.acct_again = ct_enable_acct();
	/* A closed TCP connection's entry lives 1 s, not 120 s. */
	if (write_sysctl("/proc/sys/net/netfilter/"
	                 "nf_conntrack_tcp_timeout_time_wait",
	                 "1") != 0) {
		snprintf(ns.why, sizeof(ns.why),
		         "cannot set nf_conntrack_tcp_timeout_time_wait");
		return 0;
	}
	ns.ready = true;
	return 0;
}

#define NEED_NS() OWN_NETNS_NEED(ns.ready, ns.why)

/* ---- helpers ------------------------------------------------------------ */

static uint64_t
ms_now(void)
{
	return sp_now_mono() / 1000000u;
}

static void
sa_to(const struct sockaddr_storage *ss, struct sp_addr *a, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		sp_addr_from_v4(a, (const uint8_t *)&s4->sin_addr);
		*port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		sp_addr_from_v6(a, (const uint8_t *)&s6->sin6_addr);
		*port = ntohs(s6->sin6_port);
	}
}

static void
sa_make(int family, const char *addr, uint16_t port,
        struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (void *)ss;

		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)ss;

		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
	}
}

/* The key of connected socket s, seen from s (its side sends first). */
static void
key_of(int s, uint8_t proto, struct ct_key *k)
{
	struct sockaddr_storage a, b;
	socklen_t la = sizeof(a), lb = sizeof(b);

	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &la), 0);
	assert_int_equal(getpeername(s, (struct sockaddr *)&b, &lb), 0);
	memset(k, 0, sizeof(*k));
	k->proto = proto;
	sa_to(&a, &k->src, &k->sport);
	sa_to(&b, &k->dst, &k->dport);
}

static void
key_reverse(const struct ct_key *k, struct ct_key *r)
{
	*r = *k;
	r->src = k->dst;
	r->dst = k->src;
	r->sport = k->dport;
	r->dport = k->sport;
}

static bool
key_eq(const struct ct_key *a, const struct ct_key *b)
{
	return a->proto == b->proto && sp_addr_equal(&a->src, &b->src) &&
	       sp_addr_equal(&a->dst, &b->dst) && a->sport == b->sport &&
	       a->dport == b->dport;
}

static void
assert_key(const struct ct_key *got, const struct ct_key *want)
{
	char g[160], w[160];

	if (key_eq(got, want))
		return;
	ct_key_format(got, g, sizeof(g));
	ct_key_format(want, w, sizeof(w));
	fail_msg("entry %s, expected %s", g, w);
}

static struct ct *
open_ct(bool events)
{
	struct ct *c;
	char err[256];

	if (ct_open(&c, events, err, sizeof(err)) != 0)
		fail_msg("ct_open: %s", err);
	return c;
}

static void
get_ok(struct ct *c, const struct ct_key *k, struct ct_entry *e)
{
	int rc = ct_get(c, k, e);

	if (rc != 0)
		fail_msg("ct_get: %d: %s", rc, ct_error(c));
}

static void
set_mark_ok(struct ct *c, const struct ct_key *k, uint32_t v, uint32_t m)
{
	int rc = ct_set_mark(c, k, v, m);

	if (rc != 0)
		fail_msg("ct_set_mark: %d: %s", rc, ct_error(c));
}

static uint32_t
mark_of(struct ct *c, const struct ct_key *k)
{
	struct ct_entry e;

	get_ok(c, k, &e);
	return e.mark;
}

/* The test's own deletes (a flow mode daemon has no use for them). */
static int
ct_delete(struct ct *c, const struct ct_key *k)
{
	return ct_query_key(c, "deleting", IPCTNL_MSG_CT_DELETE, NLM_F_ACK, k,
	                    NULL, 0, NULL, NULL);
}

static int
ct_flush(struct ct *c)
{
	return ct_request(
	        c, ct_msg_start(c, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, AF_UNSPEC),
	        NULL, NULL);
}

/* Entries handed to a callback. */
struct seen {
	struct ct_entry e[512];
	size_t n;
	uint64_t total;
};

static void
on_entry(const struct ct_entry *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < sizeof(s->e) / sizeof(s->e[0]))
		s->e[s->n++] = *e;
	s->total++;
}

static const struct ct_entry *
seen_find(const struct seen *s, const struct ct_key *k)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (key_eq(&s->e[i].key, k))
			return &s->e[i];
	return NULL;
}

/*
 * Poll for k's destroy event up to ms; the event, or fail. With nudge,
 * look k up every 100 ms: the kernel's garbage collector comes by an
 * expired entry only every minute or so, a lookup reaps it at once.
 */
static void
wait_destroy(struct ct *c, const struct ct_key *k, unsigned ms, bool nudge,
             struct ct_entry *out, uint64_t *waited_ms)
{
	struct pollfd pfd = {.fd = ct_fd(c), .events = POLLIN};
	uint64_t start = ms_now(), end = start + ms, now;
	struct seen *s = calloc(1, sizeof(*s));
	const struct ct_entry *e = NULL;
	struct ct_entry tmp;
	char ks[160];

	assert_non_null(s);
	assert_true(pfd.fd >= 0);
	for (;;) {
		if (ct_read_events(c, 0, on_entry, s) < 0)
			fail_msg("ct_read_events: %s", ct_error(c));
		e = seen_find(s, k);
		now = ms_now();
		if (e != NULL || now >= end)
			break;
		if (s->n == sizeof(s->e) / sizeof(s->e[0]))
			s->n = 0;
		if (nudge && ct_get(c, k, &tmp) == -1)
			fail_msg("ct_get: %s", ct_error(c));
		poll(&pfd, 1,
		     (int)(nudge && end - now > 100 ? 100 : end - now));
	}
	if (e == NULL) {
		ct_key_format(k, ks, sizeof(ks));
		free(s);
		fail_msg("no destroy event for %s within %u ms", ks, ms);
	}
	assert_true(e->destroyed);
	*out = *e;
	if (waited_ms != NULL)
		*waited_ms = ms_now() - start;
	free(s);
}

static void
dump_find(struct ct *c, const struct ct_key *k, struct ct_entry *out)
{
	struct seen *s = calloc(1, sizeof(*s));
	const struct ct_entry *e;

	assert_non_null(s);
	if (ct_dump(c, on_entry, s) != 0)
		fail_msg("ct_dump: %s", ct_error(c));
	e = seen_find(s, k);
	assert_non_null(e);
	assert_false(e->destroyed);
	*out = *e;
	free(s);
}

static void
xsend(int s, const void *p, size_t len)
{
	assert_int_equal(send(s, p, len, 0), (ssize_t)len);
}

static void
xrecv_all(int s, size_t len)
{
	uint8_t buf[4096];
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(s, buf,
		         len - got < sizeof(buf) ? len - got : sizeof(buf), 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
}

static int
udp_bound(int family, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct timeval tv = {.tv_sec = 2};
	int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	sa_make(family, addr, 0, &ss, &len);
	assert_int_equal(bind(s, (struct sockaddr *)&ss, len), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

static void
connect_to(int s, int t)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(t, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(connect(s, (struct sockaddr *)&ss, len), 0);
}

/* ---- acct --------------------------------------------------------------- */

static void
test_acct(void **state)
{
	char v[8] = "";
	int fd;

	(void)state;
	NEED_NS();
	/* A fresh namespace starts with accounting off, unless the module
	 * was loaded with acct=1. */
	assert_true(ns.acct_first == 0 || ns.acct_first == 1);
	assert_int_equal(ns.acct_again, 1);
	assert_int_equal(ct_enable_acct(), 1);
	fd = open("/proc/sys/net/netfilter/nf_conntrack_acct", O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, v, sizeof(v) - 1) >= 1);
	close(fd);
	assert_int_equal(v[0], '1');
}

/* Accounting is given to an entry when it is created: one made while it
 * was off keeps no counters after it is turned on. */
static void
test_acct_late(void **state)
{
	const char *path = "/proc/sys/net/netfilter/nf_conntrack_acct";
	struct ct *c;
	struct ct_key k;
	struct ct_entry e;
	uint8_t b = 1;
	int cli, srv;

	(void)state;
	NEED_NS();
	c = open_ct(false);
	assert_int_equal(write_sysctl(path, "0"), 0);
	srv = udp_bound(AF_INET, "127.0.0.1");
	cli = udp_bound(AF_INET, "127.0.0.1");
	connect_to(cli, srv);
	xsend(cli, &b, 1);
	assert_int_equal(ct_enable_acct(), 0);
	xsend(cli, &b, 1);
	key_of(cli, SP_PROTO_UDP, &k);
	get_ok(c, &k, &e);
	assert_int_equal(e.packets[0], 0);
	assert_int_equal(e.bytes[0], 0);
	assert_int_equal(ct_delete(c, &k), 0);
	close(cli);
	close(srv);
	ct_close(c);
}

/* ---- UDP ---------------------------------------------------------------- */

/*
 * Three datagrams of 100 bytes one way, two of 50 back: counters exact
 * from either tuple and in a dump; masked marks; the destroy event when
 * the entry is deleted carries the same counters and the mark.
 */
static void
udp_case(int family, const char *addr)
{
	const uint64_t iph = family == AF_INET ? 20 : 40;
	struct ct *c = open_ct(true); /* before the flow: see ct.h */
	struct ct_key k, r, missing;
	struct ct_entry e, e2, d;
	uint8_t payload[100];
	int cli, srv, i;

	memset(payload, 0x5a, sizeof(payload));
	srv = udp_bound(family, addr);
	cli = udp_bound(family, addr);
	connect_to(cli, srv);
	connect_to(srv, cli);
	for (i = 0; i < 3; i++)
		xsend(cli, payload, 100);
	for (i = 0; i < 3; i++)
		assert_int_equal(recv(srv, payload, sizeof(payload), 0), 100);
	for (i = 0; i < 2; i++)
		xsend(srv, payload, 50);
	for (i = 0; i < 2; i++)
		assert_int_equal(recv(cli, payload, sizeof(payload), 0), 50);
	key_of(cli, SP_PROTO_UDP, &k);
	key_reverse(&k, &r);

	get_ok(c, &k, &e);
	assert_key(&e.key, &k);
	assert_false(e.destroyed);
	assert_int_equal(e.packets[0], 3);
	assert_int_equal(e.bytes[0], 3 * (100 + 8 + iph));
	assert_int_equal(e.packets[1], 2);
	assert_int_equal(e.bytes[1], 2 * (50 + 8 + iph));
	assert_int_equal(e.mark, 0);

	/* The reply direction's tuple finds the same entry, which is named
	 * by its original tuple. */
	get_ok(c, &r, &e2);
	assert_key(&e2.key, &k);
	assert_memory_equal(e2.packets, e.packets, sizeof(e.packets));
	assert_memory_equal(e2.bytes, e.bytes, sizeof(e.bytes));

	missing = k;
	missing.dport = (uint16_t)(k.dport ^ 0x4000);
	assert_int_equal(ct_get(c, &missing, &e2), -ENOENT);
	assert_int_equal(ct_set_mark(c, &missing, 1, MASK), -ENOENT);

	/* A foreign bit, by a full-mask write; then spackle's field under
	 * its mask (bits of value outside the mask are ignored), from
	 * either tuple: the foreign bit stays. */
	set_mark_ok(c, &k, 0x00000001, 0xffffffff);
	assert_int_equal(mark_of(c, &k), 0x00000001);
	set_mark_ok(c, &k, 0x00a0000e, MASK);
	assert_int_equal(mark_of(c, &k), 0x00a00001);
	set_mark_ok(c, &r, 0x00400000, MASK);
	assert_int_equal(mark_of(c, &k), 0x00400001);
	set_mark_ok(c, &k, 0, MASK);
	assert_int_equal(mark_of(c, &k), 0x00000001);
	set_mark_ok(c, &k, 0x00c00000, MASK);

	dump_find(c, &k, &e2);
	assert_int_equal(e2.mark, 0x00c00001);
	assert_memory_equal(e2.packets, e.packets, sizeof(e.packets));
	assert_memory_equal(e2.bytes, e.bytes, sizeof(e.bytes));

	assert_int_equal(ct_delete(c, &k), 0);
	wait_destroy(c, &k, WAIT_MS, false, &d, NULL);
	assert_memory_equal(d.packets, e.packets, sizeof(e.packets));
	assert_memory_equal(d.bytes, e.bytes, sizeof(e.bytes));
	assert_int_equal(d.mark, 0x00c00001);
	assert_int_equal(ct_get(c, &k, &e2), -ENOENT);
	assert_int_equal(ct_get(c, &r, &e2), -ENOENT);
	assert_int_equal(ct_set_mark(c, &k, 0, MASK), -ENOENT);
	assert_int_equal(ct_lost(c), 0);

	close(cli);
	close(srv);
	ct_close(c);
}

static void
test_udp4(void **state)
{
	(void)state;
	NEED_NS();
	udp_case(AF_INET, "127.0.0.1");
}

static void
test_udp6(void **state)
{
	(void)state;
	NEED_NS();
	udp_case(AF_INET6, "::1");
}

/* ---- TCP ---------------------------------------------------------------- */

/* Headers of n TCP packets: IP, then TCP of 20 to 60 bytes. */
static void
assert_tcp_bytes(uint64_t bytes, uint64_t payload, uint64_t n, uint64_t iph)
{
	if (bytes < payload + n * (iph + 20) ||
	    bytes > payload + n * (iph + 60))
		fail_msg("%llu bytes in %llu packets cannot carry %llu bytes "
		         "of payload",
		         (unsigned long long)bytes, (unsigned long long)n,
		         (unsigned long long)payload);
}

static void
assert_between(uint64_t v, uint64_t lo, uint64_t hi, const char *what)
{
	if (v < lo || v > hi)
		fail_msg("%s: %llu, expected %llu..%llu", what,
		         (unsigned long long)v, (unsigned long long)lo,
		         (unsigned long long)hi);
}

/*
 * 3000 bytes one way in one send, 2000 back: the original direction is
 * the SYN, the handshake's ACK and the data, plus an ACK or two; the
 * reply, the SYN-ACK and the data plus an ACK or two. Then both close:
 * the destroy event comes once TIME_WAIT (1 s here) has run out and the
 * entry is reaped (by a lookup here; the garbage collector may take a
 * minute more).
 */
static void
tcp_case(int family, const char *addr)
{
	const uint64_t iph = family == AF_INET ? 20 : 40;
	struct ct *c = open_ct(true);
	struct sockaddr_storage ss;
	socklen_t len;
	struct ct_key k, r;
	struct ct_entry e, e2, d;
	static uint8_t buf[3000];
	uint64_t waited;
	int ls, cli, srv, one = 1;

	sa_make(family, addr, 0, &ss, &len);
	ls = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(ls, 4), 0);
	cli = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cli >= 0);
	connect_to(cli, ls);
	srv = accept(ls, NULL, NULL);
	assert_true(srv >= 0);
	setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	xsend(cli, buf, 3000);
	xrecv_all(srv, 3000);
	xsend(srv, buf, 2000);
	xrecv_all(cli, 2000);
	/* Delayed ACKs go out within 200 ms: counters are still after. */
	usleep(300 * 1000);
	key_of(cli, SP_PROTO_TCP, &k);
	key_reverse(&k, &r);

	get_ok(c, &k, &e);
	assert_key(&e.key, &k);
	assert_between(e.packets[0], 3, 5, "packets out");
	assert_between(e.packets[1], 2, 4, "packets back");
	assert_tcp_bytes(e.bytes[0], 3000, e.packets[0], iph);
	assert_tcp_bytes(e.bytes[1], 2000, e.packets[1], iph);
	get_ok(c, &r, &e2);
	assert_key(&e2.key, &k);
	assert_memory_equal(e2.packets, e.packets, sizeof(e.packets));
	assert_memory_equal(e2.bytes, e.bytes, sizeof(e.bytes));

	set_mark_ok(c, &k, 0x80000000, 0xffffffff);
	set_mark_ok(c, &r, 0x00200000, MASK);
	assert_int_equal(mark_of(c, &k), 0x80200000);
	dump_find(c, &k, &e2);
	assert_int_equal(e2.mark, 0x80200000);

	/* Each side's FIN and its ACK, and nothing else: the final
	 * counters are the ones read plus two packets each way. */
	close(cli);
	close(srv);
	close(ls);
	wait_destroy(c, &k, 1000 + WAIT_MS, true, &d, &waited);
	print_message("# tcp destroy event %llu ms after close\n",
	              (unsigned long long)waited);
	assert_key(&d.key, &k);
	assert_int_equal(d.mark, 0x80200000);
	assert_between(d.packets[0], e.packets[0] + 1, e.packets[0] + 2,
	               "packets out at the end");
	assert_between(d.packets[1], e.packets[1] + 1, e.packets[1] + 2,
	               "packets back at the end");
	assert_tcp_bytes(d.bytes[0], 3000, d.packets[0], iph);
	assert_tcp_bytes(d.bytes[1], 2000, d.packets[1], iph);
	assert_int_equal(ct_get(c, &k, &e2), -ENOENT);
	ct_close(c);
}

static void
test_tcp4(void **state)
{
	(void)state;
	NEED_NS();
	tcp_case(AF_INET, "127.0.0.1");
}

static void
test_tcp6(void **state)
{
	(void)state;
	NEED_NS();
	tcp_case(AF_INET6, "::1");
}

/* ---- ICMP echo ---------------------------------------------------------- */

static uint16_t
inet_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * One echo request with id from src to dst over a raw socket (the kernel
 * sums ICMPv6 itself), and its reply read back: 8 bytes of header and 32
 * of data each way.
 */
static void
echo(int family, const char *src, const char *dst, uint16_t id)
{
	const int proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	const uint8_t req = family == AF_INET ? 8 : 128;
	const uint8_t rep = family == AF_INET ? 0 : 129;
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t m[40], in[256], *icmp;
	uint64_t end = ms_now() + WAIT_MS;
	struct pollfd pfd;
	uint16_t v;
	ssize_t n;
	int s;

	s = socket(family, SOCK_RAW | SOCK_CLOEXEC, proto);
	assert_true(s >= 0);
	sa_make(family, src, 0, &ss, &len);
	assert_int_equal(bind(s, (struct sockaddr *)&ss, len), 0);
	memset(m, 0xa5, sizeof(m));
	m[0] = req;
	m[1] = 0;
	m[2] = m[3] = 0;
	v = htons(id);
	memcpy(m + 4, &v, 2);
	v = htons(1);
	memcpy(m + 6, &v, 2);
	if (family == AF_INET) {
		v = htons(inet_csum(m, sizeof(m)));
		memcpy(m + 2, &v, 2);
	}
	sa_make(family, dst, 0, &ss, &len);
	assert_int_equal(
	        sendto(s, m, sizeof(m), 0, (struct sockaddr *)&ss, len),
	        (ssize_t)sizeof(m));
	pfd.fd = s;
	pfd.events = POLLIN;
	for (;;) {
		assert_true(ms_now() < end);
		if (poll(&pfd, 1, (int)(end - ms_now())) <= 0)
			continue;
		n = recv(s, in, sizeof(in), 0);
		assert_true(n > 0);
		/* An IPv4 raw socket reads the IP header too. */
		icmp = in;
		if (family == AF_INET) {
			if (n < 20 || (size_t)n < (size_t)(in[0] & 0xf) * 4 + 8)
				continue;
			icmp = in + (in[0] & 0xf) * 4;
		} else if (n < 8) {
			continue;
		}
		if (icmp[0] == rep && sp_rd16(icmp + 4) == id)
			break;
	}
	close(s);
}

static void
icmp_case(int family, const char *src, const char *dst, uint16_t id)
{
	const uint64_t bytes = (family == AF_INET ? 20 : 40) + 8 + 32;
	struct ct *c = open_ct(false);
	struct ct_key k, r, other;
	struct ct_entry e;

	echo(family, src, dst, id);
	memset(&k, 0, sizeof(k));
	k.proto = family == AF_INET ? SP_PROTO_ICMP : SP_PROTO_ICMP6;
	assert_true(sp_addr_parse(&k.src, src));
	assert_true(sp_addr_parse(&k.dst, dst));
	k.sport = k.dport = id;
	key_reverse(&k, &r);

	get_ok(c, &k, &e);
	assert_key(&e.key, &k);
	assert_int_equal(e.packets[0], 1);
	assert_int_equal(e.packets[1], 1);
	assert_int_equal(e.bytes[0], bytes);
	assert_int_equal(e.bytes[1], bytes);
	/* The reply's tuple (an echo reply from dst): found too. */
	get_ok(c, &r, &e);
	assert_key(&e.key, &k);
	other = k;
	other.sport = other.dport = (uint16_t)(id + 1);
	assert_int_equal(ct_get(c, &other, &e), -ENOENT);
	key_reverse(&other, &other);
	assert_int_equal(ct_get(c, &other, &e), -ENOENT);

	set_mark_ok(c, &r, 0x00600000, MASK);
	dump_find(c, &k, &e);
	assert_int_equal(e.mark, 0x00600000);
	assert_int_equal(e.packets[0], 1);
	ct_close(c);
}

static void
test_icmp4(void **state)
{
	(void)state;
	NEED_NS();
	icmp_case(AF_INET, "127.0.0.1", "127.0.0.2", 0x5a17);
}

static void
test_icmp6(void **state)
{
	(void)state;
	NEED_NS();
	icmp_case(AF_INET6, "::1", "fd00::2", 0x6b28);
}

/* ---- events: overflow, forgery ------------------------------------------ */

/* n UDP entries on lo, one datagram each, to the server returned. */
static int
udp_entries(int n)
{
	uint8_t b = 1;
	int srv = udp_bound(AF_INET, "127.0.0.1"), cli, i;

	for (i = 0; i < n; i++) {
		cli = udp_bound(AF_INET, "127.0.0.1");
		connect_to(cli, srv);
		xsend(cli, &b, 1);
		close(cli);
	}
	return srv;
}

/*
 * A receive buffer shrunk to a few events, 100 entries flushed at once:
 * the overflow is counted, the events queued before it are read, and a
 * later event still arrives.
 */
static void
test_enobufs(void **state)
{
	struct ct *c, *q;
	struct seen *s;
	struct ct_key k;
	struct ct_entry d;
	uint8_t b = 1;
	int small = 4096, big = 1 << 20, srv, cli, n;

	(void)state;
	NEED_NS();
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	c = open_ct(true);
	q = open_ct(false);
	srv = udp_entries(100);
	assert_int_equal(setsockopt(ct_fd(c), SOL_SOCKET, SO_RCVBUFFORCE,
	                            &small, sizeof(small)),
	                 0);
	assert_int_equal(ct_flush(q), 0);
	do {
		n = ct_read_events(c, 0, on_entry, s);
		assert_true(n >= 0);
	} while (n > 0);
	print_message("# %llu of 100 destroy events read, %llu overflows\n",
	              (unsigned long long)s->total,
	              (unsigned long long)ct_lost(c));
	assert_true(ct_lost(c) >= 1);
	assert_true(s->total < 100);

	assert_int_equal(setsockopt(ct_fd(c), SOL_SOCKET, SO_RCVBUFFORCE, &big,
	                            sizeof(big)),
	                 0);
	cli = udp_bound(AF_INET, "127.0.0.1");
	connect_to(cli, srv);
	xsend(cli, &b, 1);
	key_of(cli, SP_PROTO_UDP, &k);
	assert_int_equal(ct_delete(q, &k), 0);
	wait_destroy(c, &k, WAIT_MS, false, &d, NULL);
	assert_int_equal(d.packets[0], 1);
	assert_int_equal(d.bytes[0], 20 + 8 + 1);
	close(cli);
	close(srv);
	ct_close(q);
	ct_close(c);
	free(s);
}

/*
 * Events waiting are read in batches of datagrams: a bounded read takes
 * exactly its bound and says more wait, an unbounded one the rest, and a
 * read after that finds none.
 */
static void
test_many_waiting(void **state)
{
	struct ct *c, *q;
	struct seen *s;
	int srv, n;

	(void)state;
	NEED_NS();
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	c = open_ct(true);
	q = open_ct(false);
	srv = udp_entries(40);
	/* The flush sends its destroy events before it returns. */
	assert_int_equal(ct_flush(q), 0);
	assert_int_equal(ct_read_events(c, 10, on_entry, s), 10);
	assert_true(ct_events_more(c));
	n = ct_read_events(c, 0, on_entry, s);
	assert_true(n >= 30);
	assert_false(ct_events_more(c));
	assert_int_equal(s->total, (uint64_t)n + 10);
	assert_int_equal(ct_read_events(c, 0, on_entry, s), 0);
	assert_int_equal(ct_lost(c), 0);
	close(srv);
	ct_close(q);
	ct_close(c);
	free(s);
}

/*
 * A destroy event forged by another process with CAP_NET_ADMIN, sent to
 * the event socket's port: not the kernel's, so never handed on.
 */
static size_t build_destroy(uint8_t *buf, size_t cap, uint16_t sport,
                            uint64_t packets, uint32_t mark);

static void
test_forged(void **state)
{
	struct ct *c;
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	socklen_t tl = sizeof(to);
	_Alignas(struct nlmsghdr) uint8_t m[512];
	struct seen *s;
	uint64_t bad;
	size_t len;
	int fd;

	(void)state;
	NEED_NS();
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	c = open_ct(true);
	assert_int_equal(getsockname(ct_fd(c), (struct sockaddr *)&to, &tl), 0);
	len = build_destroy(m, sizeof(m), 4242, 7, 0);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	assert_true(fd >= 0);
	bad = c->bad;
	assert_int_equal(
	        sendto(fd, m, len, 0, (struct sockaddr *)&to, sizeof(to)),
	        (ssize_t)len);
	usleep(50 * 1000);
	assert_int_equal(ct_read_events(c, 0, on_entry, s), 0);
	assert_int_equal(s->total, 0);
	assert_int_equal(c->bad, bad + 1);
	close(fd);
	ct_close(c);
	free(s);
}

/* ---- odd messages (no root) --------------------------------------------- */

/* A destroy event as the kernel writes one: IPv4 UDP 192.0.2.1:sport ->
 * 198.51.100.7:53, counters both ways, a mark. Its length. */
static size_t
build_destroy(uint8_t *buf, size_t cap, uint16_t sport, uint64_t packets,
              uint32_t mark)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct nlattr *t, *n;
	const int dirs[2] = {CTA_TUPLE_ORIG, CTA_TUPLE_REPLY};
	uint8_t a[4] = {192, 0, 2, 1}, b[4] = {198, 51, 100, 7};
	uint32_t v;
	int i;

	assert_true(cap >= 512);
	memset(buf, 0, cap);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	for (i = 0; i < 2; i++) {
		t = mnl_attr_nest_start(nlh, (uint16_t)dirs[i]);
		n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
		memcpy(&v, i == 0 ? a : b, 4);
		mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, v);
		memcpy(&v, i == 0 ? b : a, 4);
		mnl_attr_put_u32(nlh, CTA_IP_V4_DST, v);
		mnl_attr_nest_end(nlh, n);
		n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
		mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_UDP);
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT,
		                 htons(i == 0 ? sport : 53));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT,
		                 htons(i == 0 ? 53 : sport));
		mnl_attr_nest_end(nlh, n);
		mnl_attr_nest_end(nlh, t);
	}
	for (i = 0; i < 2; i++) {
		n = mnl_attr_nest_start(
		        nlh, (uint16_t)(i == 0 ? CTA_COUNTERS_ORIG
		                               : CTA_COUNTERS_REPLY));
		mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS,
		                 htobe64(packets + (uint64_t)i));
		mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES,
		                 htobe64(100 * (packets + (uint64_t)i)));
		mnl_attr_nest_end(nlh, n);
	}
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark));
	return nlh->nlmsg_len;
}

static void
check_sane(const struct ct_entry *e, void *arg)
{
	(void)arg;
	assert_true(e->destroyed);
	assert_true(e->key.src.family == AF_INET ||
	            e->key.src.family == AF_INET6);
	assert_int_equal(e->key.src.family, e->key.dst.family);
}

/* Walk len bytes of m placed flush against a guard page when they can be
 * aligned there, else in a heap block of exactly len (ASan's redzone). */
static int
walk_bounded(struct ct *c, const uint8_t *m, size_t len)
{
	uint8_t *p;
	int n;

	if (len % 4 == 0) {
		p = guard_copy(m, len);
		n = ct_walk_events(c, p, len, check_sane, NULL);
		guard_free(p);
	} else {
		p = malloc(len > 0 ? len : 1);
		assert_non_null(p);
		memcpy(p, m, len);
		n = ct_walk_events(c, p, len, check_sane, NULL);
		free(p);
	}
	return n;
}

static void
test_parse_event(void **state)
{
	_Alignas(struct nlmsghdr) uint8_t m[1024];
	struct ct c = {.portid = 0};
	struct seen *s = calloc(1, sizeof(*s));
	struct nlmsghdr *nlh;
	size_t one, len;

	(void)state;
	assert_non_null(s);
	one = build_destroy(m, 512, 40000, 5, 0x00a00001);
	assert_true(one % 4 == 0);
	len = one + build_destroy(m + one, 512, 40001, 9, 0);
	assert_int_equal(ct_walk_events(&c, m, len, on_entry, s), 2);
	assert_int_equal(c.bad, 0);
	assert_true(s->e[0].destroyed);
	assert_int_equal(s->e[0].key.proto, SP_PROTO_UDP);
	assert_int_equal(s->e[0].key.src.family, AF_INET);
	assert_memory_equal(s->e[0].key.src.b + 12, "\xc0\x00\x02\x01", 4);
	assert_memory_equal(s->e[0].key.dst.b + 12, "\xc6\x33\x64\x07", 4);
	assert_int_equal(s->e[0].key.sport, 40000);
	assert_int_equal(s->e[0].key.dport, 53);
	assert_int_equal(s->e[0].packets[0], 5);
	assert_int_equal(s->e[0].packets[1], 6);
	assert_int_equal(s->e[0].bytes[0], 500);
	assert_int_equal(s->e[0].bytes[1], 600);
	assert_int_equal(s->e[0].mark, 0x00a00001);
	assert_int_equal(s->e[1].key.sport, 40001);
	assert_int_equal(s->e[1].packets[0], 9);
	assert_int_equal(s->e[1].mark, 0);

	/* Not a destroy event; a length past the datagram; a length that
	 * is not aligned; no original tuple; an unknown family: skipped,
	 * counted, and the next message is still read. */
	nlh = (struct nlmsghdr *)m;
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	s->n = 0;
	assert_int_equal(ct_walk_events(&c, m, len, on_entry, s), 1);
	assert_int_equal(s->e[0].key.sport, 40001);
	assert_int_equal(c.bad, 1);
	build_destroy(m, 512, 40000, 5, 0);
	nlh->nlmsg_len = (uint32_t)len + 4;
	assert_int_equal(ct_walk_events(&c, m, len, on_entry, s), 0);
	nlh->nlmsg_len = (uint32_t)one - 1;
	assert_int_equal(walk_bounded(&c, m, one - 1), 0);
	build_destroy(m, 512, 40000, 5, 0);
	((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family = 7;
	assert_int_equal(walk_bounded(&c, m, one), 0);
	nlh->nlmsg_len = sizeof(*nlh) + 2;
	assert_int_equal(walk_bounded(&c, m, sizeof(*nlh) + 2), 0);
	nlh->nlmsg_len = sizeof(*nlh) + sizeof(struct nfgenmsg);
	assert_int_equal(walk_bounded(&c, m, nlh->nlmsg_len), 0);
	free(s);
}

/* Every prefix, and many random corruptions, of a two-message datagram:
 * nothing read past its end (guard page, ASan), nothing odd handed on. */
static void
test_parse_odd(void **state)
{
	_Alignas(struct nlmsghdr) uint8_t m[1024], x[1024];
	struct ct c = {.portid = 0};
	uint64_t rnd = 0x9e3779b97f4a7c15ull;
	size_t one, len, cut, i, j;
	int n;

	(void)state;
	one = build_destroy(m, 512, 1, 2, 3);
	len = one + build_destroy(m + one, 512, 4, 5, 6);
	for (cut = 0; cut <= len; cut++) {
		n = walk_bounded(&c, m, cut);
		assert_int_equal(n, cut < one ? 0 : cut < len ? 1 : 2);
	}
	for (i = 0; i < 20000; i++) {
		memcpy(x, m, len);
		for (j = 0; j < 1 + i % 4; j++) {
			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			x[(rnd >> 16) % len] = (uint8_t)(rnd >> 40);
		}
		cut = i % 8 == 0 ? (size_t)((rnd >> 8) % (len + 1)) : len;
		n = walk_bounded(&c, x, cut);
		assert_true(n >= 0 && n <= 2);
	}
}

/* Answers to a request: another request's are skipped; the kernel's error
 * is returned; a short error message is refused. */
static void
test_parse_answers(void **state)
{
	_Alignas(struct nlmsghdr) uint8_t m[1024];
	struct ct c = {.portid = 77};
	struct seen *s = calloc(1, sizeof(*s));
	struct nlmsghdr *nlh, *err;
	struct nlmsgerr *ne;
	size_t one;

	(void)state;
	assert_non_null(s);
	one = build_destroy(m, 512, 5353, 1, 0);
	nlh = (struct nlmsghdr *)m;
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nlh->nlmsg_pid = 77;
	nlh->nlmsg_seq = 9;
	err = mnl_nlmsg_put_header(m + one);
	err->nlmsg_type = NLMSG_ERROR;
	err->nlmsg_pid = 77;
	err->nlmsg_seq = 9;
	ne = mnl_nlmsg_put_extra_header(err, sizeof(*ne));
	ne->error = 0;
	assert_int_equal(
	        ct_walk_answers(&c, m, one + err->nlmsg_len, 9, on_entry, s),
	        0);
	assert_int_equal(s->total, 1);
	assert_int_equal(s->e[0].key.sport, 5353);
	assert_false(s->e[0].destroyed);

	/* A stale answer (seq 8) and its ack: skipped, more is due. */
	assert_int_equal(
	        ct_walk_answers(&c, m, one + err->nlmsg_len, 8, on_entry, s),
	        1);
	assert_int_equal(s->total, 1);
	ne->error = -ENOENT;
	assert_int_equal(
	        ct_walk_answers(&c, m + one, err->nlmsg_len, 9, on_entry, s),
	        -ENOENT);
	ne->error = 5;
	assert_int_equal(
	        ct_walk_answers(&c, m + one, err->nlmsg_len, 9, on_entry, s),
	        -EPROTO);
	err->nlmsg_len = sizeof(*err) + 4;
	assert_int_equal(
	        ct_walk_answers(&c, m + one, err->nlmsg_len, 9, on_entry, s),
	        -EPROTO);
	free(s);
}

/* Keys that name no tuple are refused before anything is sent. */
static void
test_bad_keys(void **state)
{
	struct ct c = {.portid = 0};
	struct ct_key k;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.proto = SP_PROTO_UDP;
	assert_true(sp_addr_parse(&k.src, "192.0.2.1"));
	assert_true(sp_addr_parse(&k.dst, "2001:db8::1"));
	assert_null(ct_msg_key(&c, IPCTNL_MSG_CT_GET, 0, &k, 0, NULL, 0));
	assert_non_null(strstr(c.err, "one family"));
	assert_true(sp_addr_parse(&k.dst, "192.0.2.2"));
	k.proto = SP_PROTO_ICMP6;
	assert_null(ct_msg_key(&c, IPCTNL_MSG_CT_GET, 0, &k, 0, NULL, 0));
	assert_non_null(strstr(c.err, "icmpv6 echo over IPv6"));
	k.proto = 47; /* GRE */
	assert_null(ct_msg_key(&c, IPCTNL_MSG_CT_GET, 0, &k, 0, NULL, 0));
}

/* A mark update: no NLM_F_CREATE, value under mask only, and the mask. */
static void
test_mark_request(void **state)
{
	struct ct c = {.portid = 0};
	const struct nlmsghdr *nlh;
	const struct nlattr *tb[CTA_MAX + 1];
	const uint8_t *mark, *mask;
	uint32_t v = 0xffffffff;
	struct ct_key k;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.proto = SP_PROTO_TCP;
	assert_true(sp_addr_parse(&k.src, "2001:db8::1"));
	assert_true(sp_addr_parse(&k.dst, "2001:db8::2"));
	nlh = ct_msg_key(&c, IPCTNL_MSG_CT_NEW, NLM_F_ACK, &k, 0, &v, MASK);
	assert_non_null(nlh);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_true(ct_attrs_in((const uint8_t *)mnl_nlmsg_get_payload(nlh) +
	                                sizeof(struct nfgenmsg),
	                        mnl_nlmsg_get_payload_len(nlh) -
	                                sizeof(struct nfgenmsg),
	                        tb, CTA_MAX));
	assert_non_null(tb[CTA_TUPLE_ORIG]);
	mark = ct_attr_exact(tb[CTA_MARK], 4);
	mask = ct_attr_exact(tb[CTA_MARK_MASK], 4);
	assert_non_null(mark);
	assert_non_null(mask);
	assert_int_equal(sp_rd32(mark), MASK);
	assert_int_equal(sp_rd32(mask), MASK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_event),
	        cmocka_unit_test(test_parse_odd),
	        cmocka_unit_test(test_parse_answers),
	        cmocka_unit_test(test_bad_keys),
	        cmocka_unit_test(test_mark_request),
	        cmocka_unit_test(test_acct),
	        cmocka_unit_test(test_acct_late),
	        cmocka_unit_test(test_udp4),
	        cmocka_unit_test(test_udp6),
	        cmocka_unit_test(test_tcp4),
	        cmocka_unit_test(test_tcp6),
	        cmocka_unit_test(test_icmp4),
	        cmocka_unit_test(test_icmp6),
	        cmocka_unit_test(test_forged),
	        cmocka_unit_test(test_many_waiting),
	        cmocka_unit_test(test_enobufs),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}

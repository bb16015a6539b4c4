/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Flow mode's conntrack event split (pfconf/queue_split.c): in a network
 * namespace of the test's own, real flows end while one event socket per
 * queue listens through its filter; each flow's destroy event must reach
 * the socket of the queue its packets go to (by the packet program, run
 * in libpcap's interpreter) and no other, DNS flows the DNS queue's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "own_netns.h"
#include "spackle/ct.h"
#include "spackle/steer_text.h"

#define FLOWS    40 /* per family, one of them to port 53 */
#define SERVERS  4  /* ports 5000.. */
#define MAX_Q    3
#define DNS_SOCK MAX_Q
#define ALL_SOCK (MAX_Q + 1)
#define NSOCK    (MAX_Q + 2)

static struct {
	bool ready;
	char why[256];
} ns;

static int
group_setup(void **state)
{
	static char *const lo[] = {"ip", "link", "set", "lo", "up", NULL};
	static char *const v4[] = {"ip",  "addr", "add", "192.0.2.1/32",
	                           "dev", "lo",   NULL};
	static char *const v4b[] = {"ip",  "addr", "add", "192.0.2.2/32",
	                            "dev", "lo",   NULL};
	static char *const v6[] = {
	        "ip",  "-6", "addr",  "add", "2001:db8::1/128",
	        "dev", "lo", "nodad", NULL};
	static char *const v6b[] = {
	        "ip",  "-6", "addr",  "add", "2001:db8::2/128",
	        "dev", "lo", "nodad", NULL};
	/* Without a rule using it, a namespace tracks nothing. */
	static char *const t4[] = {
	        "iptables", "-w",        "-A",        "OUTPUT",
	        "-m",       "conntrack", "--ctstate", "NEW,ESTABLISHED",
	        "-j",       "ACCEPT",    NULL};
	static char *const t6[] = {
	        "ip6tables", "-w",        "-A",        "OUTPUT",
	        "-m",        "conntrack", "--ctstate", "NEW,ESTABLISHED",
	        "-j",        "ACCEPT",    NULL};
	static char *const *const cmds[] = {lo, v4, v4b, v6, v6b, t4, t6};

	(void)state;
	ns.ready = own_netns_enter(cmds, sizeof(cmds) / sizeof(cmds[0]), ns.why,
	                           sizeof(ns.why));
	return 0;
}

#define NEED_NS() OWN_NETNS_NEED(ns.ready, ns.why)

/* ---- the flows ------------------------------------------------------------
 */

struct flow_key {
	int family;
	uint8_t a[16], b[16]; /* the client's address, the server's */
	uint16_t sport, dport;
	int seen[NSOCK]; /* its destroy events, per socket */
};

static void
sockaddr_of(int family, const uint8_t *addr, uint16_t port,
            struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, 16);
		*len = sizeof(*s6);
	}
}

static int
udp_bound(int family, const uint8_t *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sockaddr_of(family, addr, port, &ss, &len);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

static uint16_t
port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	return ntohs(ss.ss_family == AF_INET
	                     ? ((struct sockaddr_in *)&ss)->sin_port
	                     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* The queue the flow's first packet goes to: the first packet program
 * that matches, else the last queue (its rule has none). */
static unsigned
packet_queue(const struct flow_key *k, unsigned queues)
{
	struct bpf_insn v[STEER_QUEUE_FILTER_MAX];
	unsigned char p[64] = {0};
	size_t l3 = k->family == AF_INET ? 20 : 40;
	unsigned q;
	int n;

	if (k->family == AF_INET) {
		p[0] = 0x45;
		p[9] = 17;
		memcpy(p + 12, k->a, 4);
		memcpy(p + 16, k->b, 4);
	} else {
		p[0] = 0x60;
		p[6] = 17;
		memcpy(p + 8, k->a, 16);
		memcpy(p + 24, k->b, 16);
	}
	p[l3] = (uint8_t)(k->sport >> 8), p[l3 + 1] = (uint8_t)k->sport;
	p[l3 + 2] = (uint8_t)(k->dport >> 8), p[l3 + 3] = (uint8_t)k->dport;
	for (q = 0; q + 1 < queues; q++) {
		n = steer_queue_filter(k->family, queues, q,
		                       (struct sock_filter *)v,
		                       STEER_QUEUE_FILTER_MAX);
		assert_true(n > 0);
		if (bpf_filter(v, p, (u_int)(l3 + 8), (u_int)(l3 + 8)) != 0)
			return q;
	}
	return queues - 1;
}

/* Every entry of the namespace deleted (a ctnetlink delete without a
 * tuple): a destroy event each, on every socket whose filter keeps it,
 * before the kernel's answer comes. */
static void
ct_flush_all(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *h;
	struct nfgenmsg *g;
	ssize_t n;

	assert_non_null(nl);
	assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	assert_true(mnl_socket_sendto(nl, h, h->nlmsg_len) >= 0);
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	assert_true(n > 0);
	assert_true(mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl),
	                       NULL, NULL) >= 0);
	mnl_socket_close(nl);
}

struct events {
	struct flow_key *keys;
	size_t n;
	int sock;
	unsigned strangers;
};

static void
on_event(const struct ct_entry *e, void *arg)
{
	struct events *ev = arg;
	/* IPv4 sits in the last 4 bytes (::ffff:a.b.c.d, spackle.h). */
	size_t off = e->key.src.family == AF_INET ? 12 : 0, i;

	for (i = 0; i < ev->n; i++) {
		struct flow_key *k = &ev->keys[i];

		if (e->key.proto == 17 && e->key.src.family == k->family &&
		    e->key.sport == k->sport && e->key.dport == k->dport &&
		    memcmp(e->key.src.b + off, k->a, 16 - off) == 0 &&
		    memcmp(e->key.dst.b + off, k->b, 16 - off) == 0) {
			k->seen[ev->sock]++;
			return;
		}
	}
	ev->strangers++;
}

static void
split_case(int family, unsigned queues)
{
	struct sock_filter prog[STEER_CT_FILTER_MAX];
	struct flow_key keys[FLOWS];
	struct ct *c[NSOCK] = {0};
	struct events ev = {keys, FLOWS, 0, 0};
	char err[256], a[16], b[16];
	int srv[SERVERS + 1], cli[FLOWS], n, s;
	unsigned per[MAX_Q] = {0}, q, i;

	assert_int_equal(
	        inet_pton(family,
	                  family == AF_INET ? "192.0.2.1" : "2001:db8::1", a),
	        1);
	assert_int_equal(
	        inet_pton(family,
	                  family == AF_INET ? "192.0.2.2" : "2001:db8::2", b),
	        1);
	/* The sockets listen before the flows exist (ct.h says why). */
	for (s = 0; s < NSOCK; s++) {
		if (s < DNS_SOCK && (unsigned)s >= queues)
			continue;
		assert_int_equal(ct_open(&c[s], true, err, sizeof(err)), 0);
		if (s == ALL_SOCK)
			continue;
		n = steer_ct_event_filter(
		        queues, s == DNS_SOCK ? STEER_CT_DNS : (unsigned)s,
		        prog, STEER_CT_FILTER_MAX);
		assert_true(n > 0);
		if (ct_filter_events(c[s], prog, (size_t)n) != 0)
			fail_msg("%s", ct_error(c[s]));
	}
	for (i = 0; i <= SERVERS; i++)
		srv[i] = udp_bound(family, (const uint8_t *)b,
		                   (uint16_t)(i < SERVERS ? 5000 + i : 53));
	/* A datagram each from FLOWS client ends: the last to port 53. */
	for (i = 0; i < FLOWS; i++) {
		struct sockaddr_storage to;
		socklen_t tolen;
		struct flow_key *k = &keys[i];

		memset(k, 0, sizeof(*k));
		k->family = family;
		memcpy(k->a, a, sizeof(a));
		memcpy(k->b, b, sizeof(b));
		cli[i] = udp_bound(family, k->a, 0);
		k->sport = port_of(cli[i]);
		k->dport = (uint16_t)(i + 1 == FLOWS ? 53 : 5000 + i % SERVERS);
		sockaddr_of(family, k->b, k->dport, &to, &tolen);
		assert_int_equal(sendto(cli[i], "x", 1, 0,
		                        (struct sockaddr *)&to, tolen),
		                 1);
	}
	ct_flush_all();
	for (s = 0; s < NSOCK; s++) {
		if (c[s] == NULL)
			continue;
		ev.sock = s;
		while ((n = ct_read_events(c[s], 0, on_event, &ev)) > 0)
			;
		assert_int_equal(n, 0);
		assert_int_equal(ct_lost(c[s]), 0);
	}
	for (i = 0; i < FLOWS; i++) {
		const struct flow_key *k = &keys[i];

		/* Every flow ended where a socket without a filter saw it. */
		if (k->seen[ALL_SOCK] != 1)
			fail_msg("flow %u (port %u to %u): %d events on the "
			         "socket without a filter (%u others)",
			         i, k->sport, k->dport, k->seen[ALL_SOCK],
			         ev.strangers);
		/* The DNS queue's socket: DNS flows alone. */
		if (k->seen[DNS_SOCK] != (k->dport == 53))
			fail_msg("flow %u (port %u to %u): %d events on the "
			         "DNS queue's socket",
			         i, k->sport, k->dport, k->seen[DNS_SOCK]);
		/* The queue its packets go to, and no other. */
		q = packet_queue(k, queues);
		per[q]++;
		for (s = 0; s < (int)queues; s++)
			if (k->seen[s] != ((unsigned)s == q))
				fail_msg("flow %u (port %u to %u): %d events "
				         "on queue %d's socket, its packets go "
				         "to queue %u",
				         i, k->sport, k->dport, k->seen[s], s,
				         q);
	}
	/* Both ends of the split have flows to see (40 flows over 2 or 3
	 * queues: the hash spreads them). */
	for (q = 0; q < queues; q++)
		assert_true(per[q] > 0);
	for (i = 0; i < FLOWS; i++)
		close(cli[i]);
	for (i = 0; i <= SERVERS; i++)
		close(srv[i]);
	for (s = 0; s < NSOCK; s++)
		ct_close(c[s]);
}

static void
test_split_ipv4(void **state)
{
	(void)state;
	NEED_NS();
	split_case(AF_INET, 2);
	split_case(AF_INET, 3);
}

static void
test_split_ipv6(void **state)
{
	(void)state;
	NEED_NS();
	split_case(AF_INET6, 2);
	split_case(AF_INET6, 3);
}

/* What the generator refuses. */
static void
test_split_args(void **state)
{
	struct sock_filter prog[STEER_CT_FILTER_MAX];

	(void)state;
	assert_int_equal(steer_ct_event_filter(1, 0, prog, STEER_CT_FILTER_MAX),
	                 -EINVAL);
	assert_int_equal(steer_ct_event_filter(2, 2, prog, STEER_CT_FILTER_MAX),
	                 -EINVAL);
	assert_int_equal(steer_ct_event_filter(2, 0, prog, 10), -ENOSPC);
	assert_true(steer_ct_event_filter(4, 3, prog, STEER_CT_FILTER_MAX) > 0);
	assert_true(steer_ct_event_filter(1, STEER_CT_DNS, prog,
	                                  STEER_CT_FILTER_MAX) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_split_args),
	        cmocka_unit_test(test_split_ipv4),
	        cmocka_unit_test(test_split_ipv6),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Conntrack through ctnetlink: lookups, marks, dumps and destroy events. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include "spackle/ct.h"

#define CT_RCVBUF        (8u << 20) /* the event socket's receive buffer */
#define CT_BUFSZ         65536u     /* one datagram (the kernel's: <= 32 KiB) */
#define CT_OUTSZ         1024u      /* one request: a tuple and a mark */
#define CT_REPLY_WAIT_MS 2000u      /* the kernel's silence before we give up */
#define CT_EVENT_READS   256        /* datagrams read per ct_read_events() */
#define CT_EV_VLEN       16         /* event datagrams one recvmmsg() reads */
#define CT_EV_SLOT       32768u     /* room for one (the kernel's: far less) */
#define CT_ACCT_PATH     "/proc/sys/net/netfilter/nf_conntrack_acct"

/* Echo types: an ICMP tuple names its type (request one way, reply the
 * other), which struct ct_key does not keep. */
#define CT_ICMP_ECHO_REQUEST  8
#define CT_ICMP_ECHO_REPLY    0
#define CT_ICMP6_ECHO_REQUEST 128
#define CT_ICMP6_ECHO_REPLY   129

struct ct {
	struct mnl_socket *req; /* requests and their answers */
	struct mnl_socket *ev;  /* destroy events; NULL without */
	uint32_t portid;        /* req's */
	uint32_t seq;
	uint64_t lost; /* ENOBUFS on ev: each lost one event or more */
	bool more;     /* the last ct_read_events() stopped at its bound */
	uint64_t bad; /* messages skipped: malformed, stale, not the kernel's */
	uint8_t *buf; /* CT_BUFSZ, for whatever is read */
	/* With events: CT_EV_VLEN slots of CT_EV_SLOT, read by one call. */
	uint8_t *evbuf;
	struct mmsghdr evmsg[CT_EV_VLEN];
	struct iovec eviov[CT_EV_VLEN];
	struct sockaddr_nl evfrom[CT_EV_VLEN];
	_Alignas(struct nlmsghdr) uint8_t out[CT_OUTSZ]; /* a request */
	char err[256];
};

/* ---- messages ----------------------------------------------------------- */

static bool
ct_proto_has_ports(uint8_t proto)
{
	switch (proto) {
	case SP_PROTO_TCP:
	case SP_PROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		return true;
	default:
		return false;
	}
}

/* How many tuples name k: an echo's reply tuple has the reply type, so an
 * ICMP key is tried as a request, then as a reply. */
static int
ct_key_tries(const struct ct_key *k)
{
	return k->proto == SP_PROTO_ICMP || k->proto == SP_PROTO_ICMP6 ? 2 : 1;
}

static void
ct_key_format(const struct ct_key *k, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN + 1], d[INET6_ADDRSTRLEN + 1];
	const char *name = sp_proto_name(k->proto);

	sp_addr_format(&k->src, s, sizeof(s));
	sp_addr_format(&k->dst, d, sizeof(d));
	if (name != NULL)
		snprintf(buf, len, "%s %s:%u -> %s:%u", name, s, k->sport, d,
		         k->dport);
	else
		snprintf(buf, len, "proto %u %s:%u -> %s:%u", k->proto, s,
		         k->sport, d, k->dport);
}

/*
 * k as the original tuple of a request, try 0 or 1 of ct_key_tries();
 * its family in *family. 0, or -1 with c->err.
 */
static int
ct_key_to_nfct(struct ct *c, const struct ct_key *k, int try,
               struct nf_conntrack *ct, uint8_t *family)
{
	uint8_t fam = k->src.family;
	uint32_t v4;

	if ((fam != AF_INET && fam != AF_INET6) || k->dst.family != fam) {
		snprintf(c->err, sizeof(c->err),
		         "conntrack: a key needs two addresses of one family "
		         "(got families %u and %u)",
		         k->src.family, k->dst.family);
		return -1;
	}
	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, fam);
	nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, k->proto);
	if (fam == AF_INET) {
		memcpy(&v4, k->src.b + 12, sizeof(v4));
		nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, v4);
		memcpy(&v4, k->dst.b + 12, sizeof(v4));
		nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, v4);
	} else {
		nfct_set_attr(ct, ATTR_ORIG_IPV6_SRC, k->src.b);
		nfct_set_attr(ct, ATTR_ORIG_IPV6_DST, k->dst.b);
	}
	if (ct_proto_has_ports(k->proto)) {
		nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(k->sport));
		nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(k->dport));
	} else if (k->proto == SP_PROTO_ICMP && fam == AF_INET) {
		nfct_set_attr_u8(ct, ATTR_ICMP_TYPE,
		                 try == 0 ? CT_ICMP_ECHO_REQUEST
		                          : CT_ICMP_ECHO_REPLY);
		nfct_set_attr_u8(ct, ATTR_ICMP_CODE, 0);
		nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(k->sport));
	} else if (k->proto == SP_PROTO_ICMP6 && fam == AF_INET6) {
		nfct_set_attr_u8(ct, ATTR_ICMP_TYPE,
		                 try == 0 ? CT_ICMP6_ECHO_REQUEST
		                          : CT_ICMP6_ECHO_REPLY);
		nfct_set_attr_u8(ct, ATTR_ICMP_CODE, 0);
		nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(k->sport));
	} else {
		snprintf(c->err, sizeof(c->err),
		         "conntrack: no tuple for IP protocol %u over %s "
		         "(known: "
		         "tcp, udp, udplite, sctp, dccp; icmp echo over IPv4, "
		         "icmpv6 echo over IPv6)",
		         k->proto, fam == AF_INET ? "IPv4" : "IPv6");
		return -1;
	}
	*family = fam;
	return 0;
}

/* A ctnetlink request header in c->out, with its nfgenmsg. */
static struct nlmsghdr *
ct_msg_start(struct ct *c, uint8_t type, uint16_t flags, uint8_t family)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(c->out, 0, sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg));
	nlh = mnl_nlmsg_put_header(c->out);
	nlh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_CTNETLINK << 8) | type);
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	if (++c->seq == 0)
		c->seq = 1;
	nlh->nlmsg_seq = c->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

/*
 * A request about k in c->out: type with flags, the original tuple (try
 * of ct_key_tries()), and for a mark update CTA_MARK and CTA_MARK_MASK.
 * NULL with c->err.
 */
static struct nlmsghdr *
ct_msg_key(struct ct *c, uint8_t type, uint16_t flags, const struct ct_key *k,
           int try, const uint32_t *mark, uint32_t mask)
{
	struct nf_conntrack *ct = nfct_new();
	struct nlmsghdr *nlh = NULL;
	uint8_t family;

	if (ct == NULL) {
		snprintf(c->err, sizeof(c->err), "conntrack: out of memory");
		return NULL;
	}
	if (ct_key_to_nfct(c, k, try, ct, &family) != 0)
		goto out;
	/* The kernel computes (old & ~mask) ^ value and does not mask value
	 * itself (ctnetlink_change_mark): bits of value outside mask would
	 * flip other programs' bits. */
	if (mark != NULL)
		nfct_set_attr_u32(ct, ATTR_MARK, *mark & mask);
	nlh = ct_msg_start(c, type, flags, family);
	/* A tuple and a mark take about 120 bytes of CT_OUTSZ; the library
	 * does not check room. */
	if (nfct_nlmsg_build(nlh, ct) < 0) {
		snprintf(c->err, sizeof(c->err),
		         "conntrack: building a request failed: %s",
		         strerror(errno));
		nlh = NULL;
		goto out;
	}
	if (mark != NULL)
		mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
out:
	nfct_destroy(ct);
	return nlh;
}

/*
 * The attributes in len bytes at p by type (up to max), the first of each
 * type; false when one is torn (its length past the end). libmnl's
 * iteration macros are not used: they cast the const away.
 */
static bool
ct_attrs_in(const uint8_t *p, size_t len, const struct nlattr **tb,
            unsigned max)
{
	const struct nlattr *a;
	size_t adv;
	uint16_t type;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	while (len > 0) {
		a = (const void *)p;
		if (len < sizeof(*a) || a->nla_len < sizeof(*a) ||
		    a->nla_len > len)
			return false;
		type = a->nla_type & NLA_TYPE_MASK;
		if (type <= max && tb[type] == NULL)
			tb[type] = a;
		adv = MNL_ALIGN(a->nla_len);
		if (adv > len)
			adv = len; /* the last one's padding may be left out */
		p += adv;
		len -= adv;
	}
	return true;
}

/* The attributes inside nest, as ct_attrs_in(). */
static bool
ct_attrs(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	return ct_attrs_in(mnl_attr_get_payload(nest),
	                   mnl_attr_get_payload_len(nest), tb, max);
}

/* An attribute's payload when it is there and exactly len bytes long. */
static const uint8_t *
ct_attr_exact(const struct nlattr *a, size_t len)
{
	if (a == NULL || mnl_attr_get_payload_len(a) != len)
		return NULL;
	return mnl_attr_get_payload(a);
}

static bool
ct_attr_nested(const struct nlattr *a)
{
	return a != NULL && mnl_attr_get_payload_len(a) >= sizeof(*a);
}

/* A big-endian 16-bit attribute into *v; false when absent or odd-sized. */
static bool
ct_attr_be16(const struct nlattr *a, uint16_t *v)
{
	const uint8_t *p = ct_attr_exact(a, 2);

	if (p == NULL)
		return false;
	*v = sp_rd16(p);
	return true;
}

/* A counter: 64 bits, or the 32 of kernels before 2.6.27. */
static uint64_t
ct_attr_counter(const struct nlattr *a64, const struct nlattr *a32)
{
	const uint8_t *p;
	uint64_t v;

	p = ct_attr_exact(a64, 8);
	if (p != NULL) {
		memcpy(&v, p, sizeof(v));
		return be64toh(v);
	}
	p = ct_attr_exact(a32, 4);
	return p != NULL ? sp_rd32(p) : 0;
}

/* The original tuple (CTA_TUPLE_ORIG) of a message of family fam as k. */
static bool
ct_parse_tuple(const struct nlattr *t, uint8_t fam, struct ct_key *k)
{
	const struct nlattr *tt[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1];
	const struct nlattr *pr[CTA_PROTO_MAX + 1];
	const uint8_t *s, *d, *p;

	if (!ct_attrs(t, tt, CTA_TUPLE_MAX) ||
	    !ct_attr_nested(tt[CTA_TUPLE_IP]) ||
	    !ct_attr_nested(tt[CTA_TUPLE_PROTO]) ||
	    !ct_attrs(tt[CTA_TUPLE_IP], ip, CTA_IP_MAX))
		return false;
	if (fam == AF_INET) {
		s = ct_attr_exact(ip[CTA_IP_V4_SRC], 4);
		d = ct_attr_exact(ip[CTA_IP_V4_DST], 4);
		if (s == NULL || d == NULL)
			return false;
		sp_addr_from_v4(&k->src, s);
		sp_addr_from_v4(&k->dst, d);
	} else if (fam == AF_INET6) {
		s = ct_attr_exact(ip[CTA_IP_V6_SRC], 16);
		d = ct_attr_exact(ip[CTA_IP_V6_DST], 16);
		if (s == NULL || d == NULL)
			return false;
		sp_addr_from_v6(&k->src, s);
		sp_addr_from_v6(&k->dst, d);
	} else {
		return false;
	}
	if (!ct_attrs(tt[CTA_TUPLE_PROTO], pr, CTA_PROTO_MAX))
		return false;
	p = ct_attr_exact(pr[CTA_PROTO_NUM], 1);
	if (p == NULL)
		return false;
	k->proto = *p;
	if (k->proto == SP_PROTO_ICMP || k->proto == SP_PROTO_ICMP6) {
		if (!ct_attr_be16(
		            pr[k->proto == SP_PROTO_ICMP ? CTA_PROTO_ICMP_ID
		                                         : CTA_PROTO_ICMPV6_ID],
		            &k->sport))
			return false;
		k->dport = k->sport;
	} else if (ct_attr_be16(pr[CTA_PROTO_SRC_PORT], &k->sport) !=
	           ct_attr_be16(pr[CTA_PROTO_DST_PORT], &k->dport)) {
		/* both or neither: GRE's keys come as ports too, other
		 * protocols have none */
		return false;
	}
	return true;
}

/*
 * A ctnetlink entry message as *e: 0, or -1 when it is not one (another
 * subsystem, too short, no original tuple, an unknown family, an attribute
 * torn or of the wrong size). Parsed here with libmnl, not by
 * nfct_nlmsg_parse(), which exits the process on an attribute of an unexpected
 * size.
 */
static int
ct_parse(const struct nlmsghdr *nlh, struct ct_entry *e)
{
	const struct nlattr *tb[CTA_MAX + 1], *a, *cn[CTA_COUNTERS_MAX + 1];
	const struct nfgenmsg *nfg;
	const uint8_t *p;
	int dir;

	memset(e, 0, sizeof(*e));
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return -1;
	if (mnl_nlmsg_get_payload_len(nlh) < MNL_ALIGN(sizeof(*nfg)))
		return -1;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (!ct_attrs_in((const uint8_t *)nfg + MNL_ALIGN(sizeof(*nfg)),
	                 mnl_nlmsg_get_payload_len(nlh) -
	                         MNL_ALIGN(sizeof(*nfg)),
	                 tb, CTA_MAX))
		return -1;
	if (!ct_attr_nested(tb[CTA_TUPLE_ORIG]) ||
	    !ct_parse_tuple(tb[CTA_TUPLE_ORIG], nfg->nfgen_family, &e->key))
		return -1;
	for (dir = 0; dir < 2; dir++) {
		a = tb[dir == 0 ? CTA_COUNTERS_ORIG : CTA_COUNTERS_REPLY];
		if (!ct_attr_nested(a))
			continue;
		if (!ct_attrs(a, cn, CTA_COUNTERS_MAX))
			return -1;
		e->packets[dir] = ct_attr_counter(cn[CTA_COUNTERS_PACKETS],
		                                  cn[CTA_COUNTERS32_PACKETS]);
		e->bytes[dir] = ct_attr_counter(cn[CTA_COUNTERS_BYTES],
		                                cn[CTA_COUNTERS32_BYTES]);
	}
	p = ct_attr_exact(tb[CTA_MARK], 4);
	if (p != NULL)
		e->mark = sp_rd32(p);
	return 0;
}

/*
 * The next message of a datagram, or NULL at its end or at a torn one (*rem
 * then stays non-zero). libmnl's mnl_nlmsg_ok() takes an nlmsg_len past
 * 2^31 for a negative and then walks off the buffer; this compares unsigned.
 */
static const struct nlmsghdr *
ct_nlmsg_next(const uint8_t **p, size_t *rem)
{
	const struct nlmsghdr *nlh = (const void *)*p;
	size_t adv;

	if (*rem < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) ||
	    nlh->nlmsg_len > *rem)
		return NULL;
	adv = MNL_ALIGN(nlh->nlmsg_len);
	if (adv > *rem)
		adv = *rem;
	*p += adv;
	*rem -= adv;
	return nlh;
}

/*
 * The destroy events in one datagram to fn; anything else is counted in
 * c->bad and skipped. Returns how many were handed.
 */
static int
ct_walk_events(struct ct *c, const uint8_t *buf, size_t len, ct_entry_fn fn,
               void *arg)
{
	const uint16_t destroy =
	        (uint16_t)((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE);
	const struct nlmsghdr *nlh;
	size_t rem = len;
	struct ct_entry e;
	int n = 0;

	while ((nlh = ct_nlmsg_next(&buf, &rem)) != NULL) {
		if (nlh->nlmsg_type == NLMSG_NOOP)
			continue;
		if (nlh->nlmsg_type != destroy || ct_parse(nlh, &e) != 0) {
			c->bad++;
			continue;
		}
		e.destroyed = true;
		fn(&e, arg);
		n++;
	}
	if (rem != 0)
		c->bad++; /* a torn message at the end */
	return n;
}

/*
 * The answers in one datagram to request seq: entries to fn (if any), 1
 * while more are due, 0 at the ack or the end of a dump, or the kernel's
 * -errno. Answers to other (earlier, abandoned) requests are skipped.
 */
static int
ct_walk_answers(struct ct *c, const uint8_t *buf, size_t len, uint32_t seq,
                ct_entry_fn fn, void *arg)
{
	const struct nlmsghdr *nlh;
	size_t rem = len;
	struct nlmsgerr ne;
	struct ct_entry e;

	while ((nlh = ct_nlmsg_next(&buf, &rem)) != NULL) {
		if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != c->portid) {
			c->bad++;
			continue;
		}
		switch (nlh->nlmsg_type) {
		case NLMSG_NOOP:
			break;
		case NLMSG_DONE:
			return 0;
		case NLMSG_ERROR:
			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(ne)) {
				c->bad++;
				return -EPROTO;
			}
			memcpy(&ne, mnl_nlmsg_get_payload(nlh), sizeof(ne));
			return ne.error <= 0 ? ne.error : -EPROTO;
		default:
			if (ct_parse(nlh, &e) != 0)
				c->bad++;
			else if (fn != NULL)
				fn(&e, arg);
			break;
		}
	}
	if (rem != 0)
		c->bad++;
	return 1;
}

/* ---- sockets ------------------------------------------------------------ */

/*
 * Whether a datagram of len bytes that recvmsg() filled h and from for
 * came whole from the kernel: not empty, not truncated, and from port 0
 * (a process with CAP_NET_ADMIN can write to our port).
 */
static bool
ct_from_kernel(const struct msghdr *h, const struct sockaddr_nl *from,
               size_t len)
{
	return len > 0 && h->msg_namelen == sizeof(*from) &&
	       from->nl_family == AF_NETLINK && from->nl_pid == 0 &&
	       (h->msg_flags & MSG_TRUNC) == 0;
}

/*
 * One datagram from fd into c->buf: its length; 0 for one skipped (not
 * from the kernel: ct_from_kernel); -EAGAIN when none waits; or -errno.
 */
static ssize_t
ct_recv(struct ct *c, int fd)
{
	struct sockaddr_nl from;
	struct iovec iov = {.iov_base = c->buf, .iov_len = CT_BUFSZ};
	struct msghdr msg = {
	        .msg_name = &from,
	        .msg_namelen = sizeof(from),
	        .msg_iov = &iov,
	        .msg_iovlen = 1,
	};
	ssize_t n;

	do {
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (!ct_from_kernel(&msg, &from, (size_t)n)) {
		c->bad++;
		return 0;
	}
	return n;
}

static const char *
ct_errstr(int err)
{
	if (err == EPERM)
		return "permission denied (ctnetlink needs CAP_NET_ADMIN)";
	if (err == ETIMEDOUT)
		return "no answer from the kernel";
	return strerror(err);
}

/*
 * Send the request nlh and read its answers, entries to fn: 0, or -errno
 * (the kernel's, or -ETIMEDOUT when it stays silent CT_REPLY_WAIT_MS).
 */
static int
ct_request(struct ct *c, const struct nlmsghdr *nlh, ct_entry_fn fn, void *arg)
{
	int fd = mnl_socket_get_fd(c->req);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t deadline;
	ssize_t n;
	int64_t left;
	int rc;

	n = mnl_socket_sendto(c->req, nlh, nlh->nlmsg_len);
	if (n < 0)
		return -errno;
	if ((size_t)n != nlh->nlmsg_len)
		return -EPROTO;
	deadline = sp_now_mono() + (uint64_t)CT_REPLY_WAIT_MS * 1000000u;
	for (;;) {
		n = ct_recv(c, fd);
		if (n > 0) {
			rc = ct_walk_answers(c, c->buf, (size_t)n,
			                     nlh->nlmsg_seq, fn, arg);
			if (rc != 1)
				return rc;
			/* a long dump: wait for silence, not for the whole */
			deadline = sp_now_mono() +
			           (uint64_t)CT_REPLY_WAIT_MS * 1000000u;
			continue;
		}
		if (n < 0 && n != -EAGAIN)
			return (int)n;
		left = (int64_t)(deadline - sp_now_mono()) / 1000000;
		if (left <= 0)
			return -ETIMEDOUT;
		if (n == -EAGAIN && poll(&pfd, 1, (int)left) < 0 &&
		    errno != EINTR)
			return -errno;
	}
}

static struct mnl_socket *
ct_socket(char *err, size_t errlen)
{
	struct mnl_socket *nl;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (nl != NULL && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0)
		return nl;
	snprintf(err, errlen, "conntrack: cannot open a ctnetlink socket: %s",
	         strerror(errno));
	if (nl != NULL)
		mnl_socket_close(nl);
	return NULL;
}

int
ct_open(struct ct **out, bool events, char *err, size_t errlen)
{
	struct ct *c;
	int group = NFNLGRP_CONNTRACK_DESTROY, v = (int)CT_RCVBUF, fd;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->buf = malloc(CT_BUFSZ)) == NULL) {
		snprintf(err, errlen, "conntrack: out of memory");
		free(c);
		return -1;
	}
	c->req = ct_socket(err, errlen);
	if (c->req == NULL)
		goto fail;
	c->portid = mnl_socket_get_portid(c->req);
	if (events) {
		c->ev = ct_socket(err, errlen);
		if (c->ev == NULL)
			goto fail;
		if ((c->evbuf = malloc((size_t)CT_EV_VLEN * CT_EV_SLOT)) ==
		    NULL) {
			snprintf(err, errlen, "conntrack: out of memory");
			goto fail;
		}
		if (mnl_socket_setsockopt(c->ev, NETLINK_ADD_MEMBERSHIP, &group,
		                          sizeof(group)) < 0) {
			snprintf(err, errlen,
			         "conntrack: cannot subscribe to destroy "
			         "events: %s",
			         ct_errstr(errno));
			goto fail;
		}
		/* SO_RCVBUFFORCE passes rmem_max, with CAP_NET_ADMIN */
		fd = mnl_socket_get_fd(c->ev);
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) &&
		    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v))) {
			snprintf(err, errlen,
			         "conntrack: cannot set the event socket's "
			         "receive buffer to %d bytes: %s",
			         v, strerror(errno));
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	ct_close(c);
	return -1;
}

void
ct_close(struct ct *c)
{
	if (c == NULL)
		return;
	if (c->req != NULL)
		mnl_socket_close(c->req);
	if (c->ev != NULL)
		mnl_socket_close(c->ev);
	free(c->evbuf);
	free(c->buf);
	free(c);
}

int
ct_fd(const struct ct *c)
{
	return c->ev != NULL ? mnl_socket_get_fd(c->ev) : -1;
}

/*
 * Up to vlen event datagrams from the event socket by one recvmmsg(): how
 * many, or -errno (-EAGAIN: none waits).
 */
static int
ct_recv_events(struct ct *c, int fd, unsigned vlen)
{
	unsigned i;
	int k;

	for (i = 0; i < vlen; i++) {
		c->eviov[i].iov_base = c->evbuf + (size_t)i * CT_EV_SLOT;
		c->eviov[i].iov_len = CT_EV_SLOT;
		memset(&c->evmsg[i], 0, sizeof(c->evmsg[i]));
		c->evmsg[i].msg_hdr.msg_iov = &c->eviov[i];
		c->evmsg[i].msg_hdr.msg_iovlen = 1;
		c->evmsg[i].msg_hdr.msg_name = &c->evfrom[i];
		c->evmsg[i].msg_hdr.msg_namelen = sizeof(c->evfrom[i]);
	}
	do {
		k = recvmmsg(fd, c->evmsg, vlen, MSG_DONTWAIT, NULL);
	} while (k < 0 && errno == EINTR);
	if (k < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return k;
}

/*
 * The events are read CT_EV_VLEN datagrams a call. A read that brings
 * fewer than it asked for found the socket empty (or met an error, which
 * the next read reports), so it is the last: no call is spent on the
 * EAGAIN that ended a read of one datagram a recvmsg(). A worker catching
 * up before a SYN (daemon/worker_ct.c) reads its one waiting event in one
 * call instead of two.
 */
int
ct_read_events(struct ct *c, unsigned max_reads, ct_entry_fn fn, void *arg)
{
	unsigned i = 0, vlen;
	int fd, j, k, n = 0;

	c->more = false;
	if (c->ev == NULL) {
		snprintf(c->err, sizeof(c->err),
		         "conntrack: this handle was opened without events");
		return -1;
	}
	if (max_reads == 0)
		max_reads = CT_EVENT_READS;
	fd = mnl_socket_get_fd(c->ev);
	while (i < max_reads) {
		vlen = max_reads - i < CT_EV_VLEN ? max_reads - i : CT_EV_VLEN;
		k = ct_recv_events(c, fd, vlen);
		if (k == -EAGAIN)
			return n;
		if (k == -ENOBUFS) {
			/* The socket overflowed and events were dropped; the
			 * ones queued after are still good. */
			c->lost++;
			i++;
			continue;
		}
		if (k < 0) {
			snprintf(c->err, sizeof(c->err),
			         "conntrack: reading destroy events failed: %s",
			         strerror(-k));
			return -1;
		}
		for (j = 0; j < k; j++) {
			if (!ct_from_kernel(&c->evmsg[j].msg_hdr, &c->evfrom[j],
			                    c->evmsg[j].msg_len)) {
				c->bad++;
				continue;
			}
			n += ct_walk_events(c, c->eviov[j].iov_base,
			                    c->evmsg[j].msg_len, fn, arg);
		}
		i += (unsigned)k;
		if ((unsigned)k < vlen)
			return n;
	}
	/* Bounded: the caller comes back for the rest. */
	c->more = true;
	return n;
}

bool
ct_events_more(const struct ct *c)
{
	return c->more;
}

uint64_t
ct_lost(const struct ct *c)
{
	return c->lost;
}

/* ---- requests ----------------------------------------------------------- */

struct ct_get_arg {
	struct ct_entry e;
	bool found;
};

static void
ct_get_one(const struct ct_entry *e, void *arg)
{
	struct ct_get_arg *ga = arg;

	if (!ga->found) {
		ga->e = *e;
		ga->found = true;
	}
}

/* type about k with flags, each of k's tuples until one is found: 0,
 * -ENOENT, or -1 with c->err (what names the operation). */
static int
ct_query_key(struct ct *c, const char *what, uint8_t type, uint16_t flags,
             const struct ct_key *k, const uint32_t *mark, uint32_t mask,
             ct_entry_fn fn, void *arg)
{
	const struct nlmsghdr *nlh;
	char ks[160];
	int i, rc = -ENOENT;

	for (i = 0; i < ct_key_tries(k) && rc == -ENOENT; i++) {
		nlh = ct_msg_key(c, type, flags, k, i, mark, mask);
		if (nlh == NULL)
			return -1;
		rc = ct_request(c, nlh, fn, arg);
	}
	if (rc == 0 || rc == -ENOENT)
		return rc;
	ct_key_format(k, ks, sizeof(ks));
	snprintf(c->err, sizeof(c->err), "conntrack: %s %s failed: %s", what,
	         ks, ct_errstr(-rc));
	return -1;
}

int
ct_get(struct ct *c, const struct ct_key *k, struct ct_entry *out)
{
	struct ct_get_arg ga = {.found = false};
	int rc;

	/* The kernel finds a tuple of either direction (both are hashed). */
	rc = ct_query_key(c, "looking up", IPCTNL_MSG_CT_GET, NLM_F_ACK, k,
	                  NULL, 0, ct_get_one, &ga);
	if (rc != 0)
		return rc;
	if (!ga.found) {
		snprintf(c->err, sizeof(c->err),
		         "conntrack: the kernel acknowledged a lookup without "
		         "an entry");
		return -1;
	}
	*out = ga.e;
	return 0;
}

int
ct_set_mark(struct ct *c, const struct ct_key *k, uint32_t value, uint32_t mask)
{
	/* An update: IPCTNL_MSG_CT_NEW without NLM_F_CREATE is -ENOENT when
	 * the entry is gone, never a new entry. */
	return ct_query_key(c, "setting the mark of", IPCTNL_MSG_CT_NEW,
	                    NLM_F_ACK, k, &value, mask, NULL, NULL);
}

int
ct_dump(struct ct *c, ct_entry_fn fn, void *arg)
{
	const struct nlmsghdr *nlh;
	int rc;

	nlh = ct_msg_start(c, IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_UNSPEC);
	rc = ct_request(c, nlh, fn, arg);
	if (rc == 0)
		return 0;
	snprintf(c->err, sizeof(c->err),
	         "conntrack: dumping the table failed: %s", ct_errstr(-rc));
	return -1;
}

const char *
ct_error(const struct ct *c)
{
	return c->err;
}

int
ct_enable_acct(void)
{
	char v[8];
	ssize_t n;
	int fd, rc;

	fd = open(CT_ACCT_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, v, sizeof(v) - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc != 0)
		return rc;
	if (n >= 1 && v[0] == '1')
		return 1;
	/* A fresh descriptor: a sysctl ignores writes at a non-zero offset. */
	fd = open(CT_ACCT_PATH, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, "1\n", 2);
	rc = n < 0 ? -errno : n != 2 ? -EIO : 0;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int
ct_filter_events(struct ct *c, const struct sock_filter *prog, size_t n)
{
	struct sock_fprog fp;

	/* sock_fprog's pointer is not const; the kernel only reads it. */
	fp.len = (unsigned short)n;
	memcpy(&fp.filter, &prog, sizeof(prog));
	if (c->ev == NULL || n == 0 || n > BPF_MAXINSNS) {
		snprintf(c->err, sizeof(c->err),
		         "conntrack: no event socket, or a filter of %zu "
		         "instructions",
		         n);
		return -1;
	}
	if (setsockopt(mnl_socket_get_fd(c->ev), SOL_SOCKET, SO_ATTACH_FILTER,
	               &fp, sizeof(fp)) != 0) {
		snprintf(c->err, sizeof(c->err),
		         "conntrack: the kernel refused the event filter: %s",
		         strerror(errno));
		return -1;
	}
	return 0;
}

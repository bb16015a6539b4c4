/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attribution's step 1: sock_diag finds a flow's local socket, its inode and
 * owner. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "proc_int.h"

static void
diag_addr(const struct sp_addr *a, bool v4, __be32 out[4])
{
	memset(out, 0, 4 * sizeof(out[0]));
	if (v4)
		memcpy(out, a->b + 12, 4);
	else
		memcpy(out, a->b, 16);
}

/* What one request asks for: the flow's own socket; one bound to any
 * address and port (UDP's unconnected sockets); the listener on the
 * flow's local address and port (a TCP connection not accepted yet). */
enum diag_ask { DIAG_EXACT, DIAG_WILDCARD, DIAG_LISTENER };

/* One request; 0 found, -ENOENT, -ETIMEDOUT, -errno. */
static int
diag_one(struct proc_query *q, const struct proc_flow *fl, enum diag_ask ask,
         uint64_t deadline, uint64_t *inode, uint32_t *uid, uint8_t *state,
         uint64_t *cookie)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	struct sp_addr any;
	const struct sp_addr *local = &fl->local, *remote = &fl->remote;
	uint16_t rport = fl->rport;
	bool v4 = fl->local.family == AF_INET;
	struct nlmsghdr *nlh;
	const struct inet_diag_msg *m;
	const struct nlmsgerr *ne;
	struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
	uint64_t now;
	ssize_t n;
	size_t rem;
	int ms;

	if (ask != DIAG_EXACT) {
		memset(&any, 0, sizeof(any));
		any.family = fl->local.family;
		remote = &any;
		rport = 0;
		if (ask == DIAG_WILDCARD)
			local = &any;
	}
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = ++q->seq;
	req.r.sdiag_family = v4 ? AF_INET : AF_INET6;
	req.r.sdiag_protocol =
	        fl->proto == SP_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	req.r.idiag_states = ~0u;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (fl->proto == SP_PROTO_TCP) {
		diag_addr(local, v4, req.r.id.idiag_src);
		diag_addr(remote, v4, req.r.id.idiag_dst);
		req.r.id.idiag_sport = htons(fl->lport);
		req.r.id.idiag_dport = htons(rport);
	} else {
		/* udp_dump_one() takes src and dst swapped, "for historical
		 * reasons" (linux net/ipv4/udp_diag.c). */
		diag_addr(remote, v4, req.r.id.idiag_src);
		diag_addr(local, v4, req.r.id.idiag_dst);
		req.r.id.idiag_sport = htons(rport);
		req.r.id.idiag_dport = htons(fl->lport);
	}
	if (send(q->fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		return -errno;
	for (;;) {
		now = sp_now_mono();
		if (now >= deadline)
			return -ETIMEDOUT;
		ms = (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
		/* The kernel answers inside send(): read first, wait only
		 * when the answer is not there yet. */
		n = recv(q->fd, q->buf, sizeof(q->buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN)
				poll(&pfd, 1, ms);
			else if (errno != EINTR)
				return -errno;
			continue;
		}
		rem = (size_t)n;
		for (nlh = (struct nlmsghdr *)q->buf; NLMSG_OK(nlh, rem);
		     nlh = NLMSG_NEXT(nlh, rem)) {
			if (nlh->nlmsg_seq != q->seq)
				continue; /* a late answer to an earlier ask */
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				if (NLMSG_PAYLOAD(nlh, 0) < sizeof(*ne))
					return -EBADMSG;
				ne = NLMSG_DATA(nlh);
				return ne->error != 0 ? ne->error : -ENOENT;
			}
			if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    NLMSG_PAYLOAD(nlh, 0) < sizeof(*m))
				return -EBADMSG;
			m = NLMSG_DATA(nlh);
			*inode = m->idiag_inode;
			*uid = m->idiag_uid;
			*state = m->idiag_state;
			/* sock_diag_save_cookie(): low half first. */
			*cookie = (uint64_t)m->id.idiag_cookie[1] << 32 |
			          m->id.idiag_cookie[0];
			return 0;
		}
	}
}

int
proc_diag_find(struct proc_query *q, const struct proc_flow *fl,
               uint64_t deadline, uint64_t *inode, uint32_t *uid,
               uint8_t *state, uint64_t *cookie)
{
	int rc;

	rc = diag_one(q, fl, DIAG_EXACT, deadline, inode, uid, state, cookie);
	if (rc == -ENOENT && fl->proto == SP_PROTO_UDP)
		rc = diag_one(q, fl, DIAG_WILDCARD, deadline, inode, uid, state,
		              cookie);
	/*
	 * A connection the kernel holds for its listener until accept() (a
	 * request socket, the SYN answered; or a child waiting in the accept
	 * queue) has no file, as a closing one has, and a request socket
	 * reports uid 0. Its owner is the listener's: when one listens on
	 * the flow's local address and port, that is the answer. Before
	 * this, a SYN flood's retransmitted SYN-ACKs each held a worker
	 * 20 ms waiting for an exit that could not come.
	 */
	if (rc == 0 && fl->proto == SP_PROTO_TCP && *inode == 0 &&
	    *state != PROC_TCP_TIME_WAIT) {
		uint64_t l_inode, l_cookie;
		uint32_t l_uid;
		uint8_t l_state;

		if (diag_one(q, fl, DIAG_LISTENER, deadline, &l_inode, &l_uid,
		             &l_state, &l_cookie) == 0 &&
		    l_state == PROC_TCP_LISTEN && l_inode != 0) {
			*inode = l_inode;
			*uid = l_uid;
			*state = l_state;
			*cookie = l_cookie;
		}
	}
	return rc;
}

int
proc_sock_find(struct proc_query *q, const struct proc_flow *fl,
               uint64_t deadline_ns, uint64_t *inode, uint32_t *uid)
{
	uint64_t cookie;
	uint8_t state;

	if (fl->proto != SP_PROTO_TCP && fl->proto != SP_PROTO_UDP)
		return -EPROTONOSUPPORT;
	return proc_diag_find(q, fl, deadline_ns, inode, uid, &state, &cookie);
}

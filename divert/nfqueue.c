/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Linux divert backend: one NFQUEUE queue through nfnetlink_queue. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "divert/divert.h"
#include "spackle/packet.h"
#include "spackle/mark.h"
#include "divert/nfqueue_int.h"

#define NFQ_VLEN         16     /* messages per recvmmsg() */
#define NFQ_MSG_EXTRA    4096u  /* room for the attributes around a copy */
#define NFQ_OUT_MAX      16384u /* verdict messages sent together */
#define NFQ_VERDICT_ROOM 128u   /* one verdict message at most */
#define NFQ_ACK_WAIT_MS  2000

/* A packet given to the callback and not answered yet. */
struct nfqueue_pending {
	uint32_t id;
	uint32_t mark;
	bool live;
};

struct divert {
	struct mnl_socket *nl;
	int fd;
	uint16_t queue;
	uint32_t copy;
	uint32_t maxlen;
	size_t bufsz;
	uint8_t *bufs; /* NFQ_VLEN buffers of bufsz bytes */
	struct mmsghdr msgs[NFQ_VLEN];
	struct iovec iov[NFQ_VLEN];
	struct sockaddr_nl from[NFQ_VLEN];
	int nmsg;   /* messages of the last recvmmsg() */
	int cur;    /* the one being walked */
	size_t off; /* where in it */
	uint8_t *out;
	size_t outlen;
	bool deferred; /* inside dispatch or a batch: verdicts wait */
	struct nfqueue_pending *pend;
	struct divert_packet burst[DIVERT_BURST_MAX]; /* read, not handed */
	size_t nburst;
	struct divert_stats st;
	char err[512];
};

static int
nfqueue_flush(struct divert *d)
{
	ssize_t n;
	size_t len = d->outlen;

	if (len == 0)
		return 0;
	d->outlen = 0;
	n = mnl_socket_sendto(d->nl, d->out, len);
	if (n < 0 || (size_t)n != len) {
		snprintf(d->err, sizeof(d->err),
		         "sending verdicts to queue %u failed: %s (the packets "
		         "stay queued until the queue is closed)",
		         d->queue, n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

/* Append one verdict message; nfverdict NF_*, mark set when has_mark. */
static int
nfqueue_put_verdict(struct divert *d, uint32_t id, int nfverdict, bool has_mark,
                    uint32_t mark)
{
	struct nlmsghdr *nlh;

	if (d->outlen + NFQ_VERDICT_ROOM > NFQ_OUT_MAX && nfqueue_flush(d) != 0)
		return -1;
	nlh = nfq_nlmsg_put((char *)d->out + d->outlen, NFQNL_MSG_VERDICT,
	                    d->queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, nfverdict);
	if (has_mark)
		nfq_nlmsg_verdict_put_mark(nlh, mark);
	d->outlen += MNL_ALIGN(nlh->nlmsg_len);
	if (!d->deferred)
		return nfqueue_flush(d);
	return 0;
}

static int
nfqueue_verdict_one(struct divert *d, uint32_t id, enum sp_verdict v)
{
	struct nfqueue_pending *pe = &d->pend[id % DIVERT_NFQ_PENDING_MAX];
	uint32_t mark;

	if (!pe->live || pe->id != id) {
		snprintf(d->err, sizeof(d->err),
		         "queue %u: no packet %u waits for a verdict (answered "
		         "already, or more than %u packets old)",
		         d->queue, id, DIVERT_NFQ_PENDING_MAX);
		return -1;
	}
	mark = pe->mark & ~STEER_MARK_MASK;
	switch (v) {
	case SP_VERDICT_ALLOW:
		if (nfqueue_put_verdict(d, id, NF_REPEAT, true,
		                        mark | STEER_MARK_ACCEPT) != 0)
			return -1;
		d->st.accepted++;
		break;
	case SP_VERDICT_DENY:
		if (nfqueue_put_verdict(d, id, NF_DROP, false, 0) != 0)
			return -1;
		d->st.dropped++;
		break;
	case SP_VERDICT_REJECT:
		if (nfqueue_put_verdict(d, id, NF_REPEAT, true,
		                        mark | STEER_MARK_REJECT) != 0)
			return -1;
		d->st.rejected++;
		break;
	default:
		snprintf(d->err, sizeof(d->err),
		         "queue %u: packet %u: verdict %d is not allow, deny "
		         "or reject (a bug in the caller)",
		         d->queue, id, (int)v);
		return -1;
	}
	pe->live = false;
	return 0;
}

static int
nfqueue_verdict(struct divert *d, uint32_t id, enum sp_verdict v)
{
	return nfqueue_verdict_one(d, id, v);
}

static int
nfqueue_verdict_mark(struct divert *d, uint32_t id, uint32_t mark)
{
	struct nfqueue_pending *pe = &d->pend[id % DIVERT_NFQ_PENDING_MAX];

	if (!pe->live || pe->id != id || (mark & ~STEER_MARK_MASK) != 0 ||
	    mark == 0) {
		snprintf(d->err, sizeof(d->err),
		         "queue %u: packet %u: no such packet waits, or mark "
		         "0x%x is not a steering mark",
		         d->queue, id, mark);
		return -1;
	}
	if (nfqueue_put_verdict(d, id, NF_REPEAT, true,
	                        (pe->mark & ~STEER_MARK_MASK) | mark) != 0)
		return -1;
	if (mark == STEER_MARK_DENY)
		d->st.dropped++;
	else if (mark == STEER_MARK_REJECT)
		d->st.rejected++;
	else
		d->st.accepted++;
	pe->live = false;
	return 0;
}

static int
nfqueue_verdict_batch(struct divert *d, const struct divert_verdict *v,
                      size_t n)
{
	bool was = d->deferred;
	char first[sizeof(d->err)] = "";
	int rc = 0;
	size_t i;

	d->deferred = true;
	for (i = 0; i < n; i++) {
		if ((v[i].mark != 0
		             ? nfqueue_verdict_mark(d, v[i].id, v[i].mark)
		             : nfqueue_verdict_one(d, v[i].id, v[i].v)) != 0 &&
		    rc == 0) {
			rc = -1;
			memcpy(first, d->err, sizeof(first));
		}
	}
	d->deferred = was;
	if (!was && nfqueue_flush(d) != 0)
		return -1;
	if (rc != 0)
		memcpy(d->err, first, sizeof(d->err));
	return rc;
}

/* A 32-bit attribute, dflt when absent or not exactly 4 bytes long. */
static uint32_t
nfqueue_attr_u32(struct nlattr *const *attr, int type, uint32_t dflt)
{
	if (attr[type] == NULL ||
	    mnl_attr_get_payload_len(attr[type]) != sizeof(uint32_t))
		return dflt;
	return ntohl(mnl_attr_get_u32(attr[type]));
}

/* A packet message's attributes and header; NULL when it has no whole
 * NFQA_PACKET_HDR. */
static const struct nfqnl_msg_packet_hdr *
nfqueue_packet_hdr(const struct nlmsghdr *nlh, struct nlattr **attr)
{
	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) <
	            sizeof(struct nfqnl_msg_packet_hdr))
		return NULL;
	return mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
}

/*
 * One packet message, into *p. Returns 1 when it holds a packet, 0 when
 * the message was skipped (counted).
 */
static int
nfqueue_packet(struct divert *d, const struct nlmsghdr *nlh, uint64_t now,
               struct divert_packet *out)
{
	struct nlattr *attr[NFQA_MAX + 1] = {NULL};
	const struct nfqnl_msg_packet_hdr *ph;
	struct nfqnl_msg_packet_timestamp ts;
	struct divert_packet p;
	struct nfqueue_pending *pe;
	uint32_t skbinfo;
	uint64_t sec, usec;

	if ((ph = nfqueue_packet_hdr(nlh, attr)) == NULL) {
		d->st.malformed++;
		return 0;
	}
	memset(&p, 0, sizeof(p));
	p.id = ntohl(ph->packet_id);
	switch (ph->hook) {
	case NF_INET_LOCAL_OUT:
		p.hook = DIVERT_HOOK_OUT;
		break;
	case NF_INET_LOCAL_IN:
		p.hook = DIVERT_HOOK_IN;
		break;
	case NF_INET_FORWARD:
		p.hook = DIVERT_HOOK_FORWARD;
		break;
	default:
		p.hook = DIVERT_HOOK_UNKNOWN;
	}
	if (attr[NFQA_PAYLOAD] != NULL) {
		p.data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		p.caplen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	p.wirelen = nfqueue_attr_u32(attr, NFQA_CAP_LEN, (uint32_t)p.caplen);
	if (p.wirelen < p.caplen)
		p.wirelen = p.caplen;
	p.link = PACKET_LINK_RAW;
	p.ts_ns = now;
	if (attr[NFQA_TIMESTAMP] != NULL &&
	    mnl_attr_get_payload_len(attr[NFQA_TIMESTAMP]) >= sizeof(ts)) {
		/* Netlink attributes are 4-byte aligned; the struct wants 8:
		 * copy it out. */
		memcpy(&ts, mnl_attr_get_payload(attr[NFQA_TIMESTAMP]),
		       sizeof(ts));
		sec = be64toh(ts.sec);
		usec = be64toh(ts.usec);
		if (sec != 0)
			p.ts_ns = sec * 1000000000u + usec * 1000u;
	}
	p.uid = nfqueue_attr_u32(attr, NFQA_UID, UINT32_MAX);
	p.gid = nfqueue_attr_u32(attr, NFQA_GID, UINT32_MAX);
	p.mark = nfqueue_attr_u32(attr, NFQA_MARK, 0);
	skbinfo = nfqueue_attr_u32(attr, NFQA_SKB_INFO, 0);
	if (skbinfo & NFQA_SKB_GSO)
		p.flags |= DIVERT_PKT_GSO;
	if (skbinfo & NFQA_SKB_CSUMNOTREADY)
		p.flags |= DIVERT_PKT_CSUM_TODO;

	pe = &d->pend[p.id % DIVERT_NFQ_PENDING_MAX];
	/* The slot still waits for a verdict of an older packet: that one
	 * can no longer be answered (the kernel holds it until the queue
	 * closes, or drops it when failure = closed overflows). */
	if (pe->live)
		d->st.unanswered++;
	pe->id = p.id;
	pe->mark = p.mark;
	pe->live = true;
	d->st.received++;
	if (p.flags & DIVERT_PKT_GSO)
		d->st.gso++;
	*out = p;
	return 1;
}

/* A message that is not a packet: errors of our verdicts, or noise. */
static void
nfqueue_other(struct divert *d, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e;

	switch (nlh->nlmsg_type) {
	case NLMSG_NOOP:
	case NLMSG_DONE:
		return;
	case NLMSG_ERROR:
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
			d->st.malformed++;
			return;
		}
		e = mnl_nlmsg_get_payload(nlh);
		if (e->error == 0)
			return;
		d->st.verdict_errors++;
		snprintf(d->err, sizeof(d->err),
		         "queue %u: the kernel refused a verdict: %s", d->queue,
		         strerror(-e->error));
		return;
	default:
		d->st.malformed++;
		return;
	}
}

static bool
nfqueue_is_packet(const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET);
}

/* Read what is there: > 0 messages, 0 nothing, -1 error. */
static int
nfqueue_receive(struct divert *d)
{
	int i, n;

	for (;;) {
		for (i = 0; i < NFQ_VLEN; i++) {
			d->iov[i].iov_base = d->bufs + (size_t)i * d->bufsz;
			d->iov[i].iov_len = d->bufsz;
			memset(&d->msgs[i], 0, sizeof(d->msgs[i]));
			d->msgs[i].msg_hdr.msg_iov = &d->iov[i];
			d->msgs[i].msg_hdr.msg_iovlen = 1;
			d->msgs[i].msg_hdr.msg_name = &d->from[i];
			d->msgs[i].msg_hdr.msg_namelen = sizeof(d->from[i]);
		}
		n = recvmmsg(d->fd, d->msgs, NFQ_VLEN, MSG_DONTWAIT, NULL);
		if (n >= 0)
			break;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == ENOBUFS) {
			/* The kernel could not hand us some packets: with
			 * failure=open it accepted them, else dropped them.
			 * The socket is fine; read on. */
			d->st.enobufs++;
			continue;
		}
		snprintf(d->err, sizeof(d->err),
		         "reading from queue %u failed: %s", d->queue,
		         strerror(errno));
		return -1;
	}
	d->nmsg = n;
	d->cur = 0;
	d->off = 0;
	return n;
}

/* Hand the packets read so far to cb as one burst. */
static void
nfqueue_hand_over(struct divert *d, divert_burst_cb cb, void *arg)
{
	size_t n = d->nburst;

	if (n == 0)
		return;
	d->nburst = 0;
	cb(d->burst, n, arg);
}

static int
nfqueue_dispatch(struct divert *d, int max, divert_burst_cb cb, void *arg)
{
	const struct nlmsghdr *nlh;
	uint64_t now = 0;
	bool received = false;
	int got = 0, rc = 0, rem;
	uint8_t *base;

	d->deferred = true;
	d->nburst = 0;
	for (;;) {
		if (d->cur >= d->nmsg) {
			/* What one read brought is one burst: classified
			 * together, and answered before the next read, so a
			 * verdict waits one burst, never an extra system
			 * call. */
			nfqueue_hand_over(d, cb, arg);
			/* max <= 0: what one read brings. */
			if (max <= 0 && received)
				break;
			if (nfqueue_flush(d) != 0) {
				rc = -1;
				break;
			}
			rc = nfqueue_receive(d);
			if (rc <= 0)
				break;
			rc = 0;
			received = true;
			now = sp_now_wall();
		}
		if (now == 0)
			now = sp_now_wall();
		base = d->iov[d->cur].iov_base;
		rem = (int)d->msgs[d->cur].msg_len - (int)d->off;
		if ((d->msgs[d->cur].msg_hdr.msg_flags & MSG_TRUNC) ||
		    d->from[d->cur].nl_pid != 0) {
			d->st.malformed++;
			rem = 0;
		}
		nlh = (const struct nlmsghdr *)(base + d->off);
		while (mnl_nlmsg_ok(nlh, rem)) {
			if (nfqueue_is_packet(nlh)) {
				if (nfqueue_packet(d, nlh, now,
				                   &d->burst[d->nburst]) == 1) {
					got++;
					if (++d->nburst == DIVERT_BURST_MAX)
						nfqueue_hand_over(d, cb, arg);
				}
			} else {
				nfqueue_other(d, nlh);
			}
			nlh = mnl_nlmsg_next(nlh, &rem);
			if (max > 0 && got >= max)
				break;
		}
		if (max > 0 && got >= max && rem > 0 &&
		    mnl_nlmsg_ok(nlh, rem)) {
			d->off = (size_t)((const uint8_t *)nlh - base);
			break;
		}
		d->cur++;
		d->off = 0;
		if (max > 0 && got >= max)
			break;
	}
	nfqueue_hand_over(d, cb, arg);
	d->deferred = false;
	if (nfqueue_flush(d) != 0 || rc < 0)
		return -1;
	return got;
}

/*
 * Bind and configure in one message, then wait for its acknowledgement.
 * A packet that arrives before it (the queue exists from the bind on) is
 * repeated without a mark change: it crosses the hook again and comes
 * back once the queue is configured.
 */
static int
nfqueue_configure(struct divert *d, const struct nfqueue_opts *o, char *err,
                  size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	const struct nlmsghdr *m;
	const struct nlmsgerr *e;
	struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
	uint32_t flags, seq = (uint32_t)time(NULL);
	int i, rem, waited = 0;

	flags = NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID;
	if (o->fail_open)
		flags |= NFQA_CFG_F_FAIL_OPEN;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, o->queue);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)o->copy);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, o->maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK,
	                 htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID |
	                       NFQA_CFG_F_FAIL_OPEN));
	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, errlen, "binding queue %u: sending failed: %s",
		         o->queue, strerror(errno));
		return -1;
	}
	for (;;) {
		if (d->cur >= d->nmsg) {
			if (waited >= NFQ_ACK_WAIT_MS) {
				snprintf(err, errlen,
				         "binding queue %u: the kernel did not "
				         "answer within %d ms",
				         o->queue, NFQ_ACK_WAIT_MS);
				return -1;
			}
			i = poll(&pfd, 1, 100);
			waited += 100;
			if (i < 0 && errno != EINTR) {
				snprintf(err, errlen,
				         "binding queue %u: poll failed: %s",
				         o->queue, strerror(errno));
				return -1;
			}
			if (nfqueue_receive(d) < 0) {
				snprintf(err, errlen, "binding %s", d->err);
				return -1;
			}
			continue;
		}
		rem = (int)d->msgs[d->cur].msg_len;
		m = d->iov[d->cur].iov_base;
		d->cur++;
		for (; mnl_nlmsg_ok(m, rem); m = mnl_nlmsg_next(m, &rem)) {
			if (nfqueue_is_packet(m)) {
				struct nlattr *attr[NFQA_MAX + 1] = {NULL};
				const struct nfqnl_msg_packet_hdr *ph;

				if ((ph = nfqueue_packet_hdr(m, attr)) ==
				    NULL) {
					d->st.malformed++;
					continue;
				}
				if (nfqueue_put_verdict(d, ntohl(ph->packet_id),
				                        NF_REPEAT, false,
				                        0) == 0)
					d->st.requeued++;
				continue;
			}
			if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
				snprintf(err, errlen,
				         "binding queue %u: short answer from "
				         "the kernel",
				         o->queue);
				return -1;
			}
			e = mnl_nlmsg_get_payload(m);
			if (e->error == 0)
				return 0; /* what follows: dispatch() */
			nfqueue_bind_error(o->queue, -e->error, err, errlen);
			return -1;
		}
	}
}

static void
nfqueue_close(struct divert *d)
{
	if (d == NULL)
		return;
	/* Closing the socket unbinds the queue; the kernel drops what
	 * still waits in it. */
	if (d->nl != NULL)
		mnl_socket_close(d->nl);
	free(d->bufs);
	free(d->out);
	free(d->pend);
	free(d);
}

static int
nfqueue_open(struct divert **out, const char *spec, char *err, size_t errlen)
{
	struct nfqueue_opts o;
	struct divert *d;
	int v;

	*out = NULL;
	if (!nfqueue_parse_spec(spec, &o, err, errlen))
		return -1;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		goto nomem;
	d->fd = -1;
	d->queue = o.queue;
	d->copy = o.copy;
	d->maxlen = o.maxlen;
	/* Rounded so that every buffer starts aligned for nlmsghdr. */
	d->bufsz = ((size_t)o.copy + NFQ_MSG_EXTRA + 15) & ~(size_t)15;
	d->bufs = malloc(d->bufsz * NFQ_VLEN);
	d->out = malloc(NFQ_OUT_MAX);
	d->pend = calloc(DIVERT_NFQ_PENDING_MAX, sizeof(*d->pend));
	if (d->bufs == NULL || d->out == NULL || d->pend == NULL)
		goto nomem;

	d->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (d->nl == NULL) {
		snprintf(err, errlen,
		         "queue %u: cannot open a netfilter netlink socket: "
		         "%s (is the kernel built with nfnetlink?)",
		         o.queue, strerror(errno));
		goto fail;
	}
	d->fd = mnl_socket_get_fd(d->nl);
	if (mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen,
		         "queue %u: cannot bind the netlink socket: %s",
		         o.queue, strerror(errno));
		goto fail;
	}
	/* Bursts wait in the socket, not in the kernel's queue. */
	v = (int)o.rcvbuf;
	if (setsockopt(d->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0 &&
	    setsockopt(d->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) < 0) {
		snprintf(err, errlen,
		         "queue %u: cannot set the receive buffer to %d "
		         "bytes: %s",
		         o.queue, v, strerror(errno));
		goto fail;
	}
	if (nfqueue_configure(d, &o, err, errlen) != 0)
		goto fail;
	if (nfqueue_flush(d) != 0) {
		snprintf(err, errlen, "%s", d->err);
		goto fail;
	}
	*out = d;
	return 0;
nomem:
	snprintf(err, errlen, "queue %u: out of memory", o.queue);
fail:
	nfqueue_close(d);
	return -1;
}

static const char *
nfqueue_error(struct divert *d)
{
	return d->err;
}

static int
nfqueue_fd(struct divert *d)
{
	return d->fd;
}

static void
nfqueue_stats(struct divert *d, struct divert_stats *st)
{
	*st = d->st;
}

const struct divert_ops divert_nfqueue_ops = {
        .name = "nfqueue",
        .open = nfqueue_open,
        .dispatch = nfqueue_dispatch,
        .verdict = nfqueue_verdict,
        .error = nfqueue_error,
        .close = nfqueue_close,
        .fd = nfqueue_fd,
        .verdict_batch = nfqueue_verdict_batch,
        .stats = nfqueue_stats,
        .verdict_mark = nfqueue_verdict_mark,
        .kernel_stats = nfqueue_kernel_stats,
};

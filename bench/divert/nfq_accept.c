/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The naive NFQUEUE ceiling: accept every packet of one queue, unseen; with
 * -o, after finding the owner of each new TCP connection as spackle does;
 * with -n, of several queues, a thread each. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#include "spackle/packet.h"
#include "spackle/proc.h"

/*
 * One packet per recv, one NF_ACCEPT verdict per packet, nothing parsed:
 * what the libnetfilter_queue example does, minus the printing. The
 * configuration is the example's (whole-packet copy, GSO packets whole).
 * No batching, no fail-open, the default socket buffer: the ceiling a
 * first attempt reaches, against which spackle is measured.
 *
 * -o adds the one piece of work a per-application firewall cannot leave
 * out: before a connection's first packet (a TCP SYN, either way) is
 * accepted, its owner is looked up with spackle's own attribution
 * (proc_lookup, configured as `spackle run` configures it: the eBPF map
 * where it loads, the proc connector). What stays out is everything else
 * spackle does: flows, rules, the store, batching, a second queue. The
 * column it makes is the floor for packet mode's connects.
 *
 * -n N reads N queues, from QUEUE_NUM on, one thread each, the loop
 * unchanged in every thread: with the rules spackle steers by (bench/divert
 * installs its split), the floor that includes spreading connections over
 * several queues, whose cost a single queue does not pay: a connection
 * whose queue's thread sleeps waits for it to wake.
 *
 * -m MARK answers as flow mode does: NF_REPEAT with the packet mark MARK
 * (spackle's accept mark), where the rules spackle steers flow mode by save
 * it on the connection and let the connection's later packets by in the
 * kernel. With those rules loaded, the floor for flow mode: a queue round
 * trip and an owner for a connection's first packet, nothing for the rest.
 */

struct nfqa_stats {
	unsigned long long packets;
	unsigned long long enobufs;
	unsigned long long lookups, found; /* -o: owners asked, found */
};

#define NFQA_USAGE "usage: nfq_accept [-o] [-m MARK] [-n QUEUES] QUEUE_NUM\n"

/* -m: the packet mark of an NF_REPEAT verdict; 0: NF_ACCEPT. */
static uint32_t nfqa_mark;

/* Set by the main thread on a signal, or by a thread that failed. */
static atomic_bool nfqa_stop;

/* One queue and the thread that reads it. */
struct nfqa_ctx {
	uint16_t queue;
	struct mnl_socket *nl;
	unsigned portid;
	char *buf; /* one received message */
	size_t size;
	char *vbuf; /* one verdict */
	struct nfqa_stats st;
	struct proc_query *pq; /* -o, else NULL */
	struct proc_owner po;
	pthread_t thread;
	bool started;
	int rc;
};

static int
nfqa_send(struct mnl_socket *nl, const struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		fprintf(stderr, "nfq_accept: netlink send: %s\n",
		        strerror(errno));
		return -1;
	}
	return 0;
}

static int
nfqa_configure(struct mnl_socket *nl, char *buf, uint16_t queue)
{
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (nfqa_send(nl, nlh) < 0)
		return -1;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	return nfqa_send(nl, nlh);
}

/* -o: the owner of a connection's first packet (a SYN without ACK), its
 * local end the source going out and the destination coming in. */
static void
nfqa_owner(struct nfqa_ctx *x, struct nlattr *payload, uint8_t hook)
{
	struct proc_flow fl;
	struct packet pkt;
	bool out = hook == NF_INET_LOCAL_OUT;

	if (payload == NULL ||
	    packet_parse_ip(mnl_attr_get_payload(payload),
	                    mnl_attr_get_payload_len(payload),
	                    &pkt) != PACKET_OK ||
	    pkt.proto != SP_PROTO_TCP ||
	    (pkt.tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_ACK)) !=
	            PACKET_TCP_SYN)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.proto = pkt.proto;
	fl.local = out ? pkt.src : pkt.dst;
	fl.lport = out ? pkt.sport : pkt.dport;
	fl.remote = out ? pkt.dst : pkt.src;
	fl.rport = out ? pkt.dport : pkt.sport;
	fl.uid_hint = fl.gid_hint = UINT32_MAX;
	fl.inbound = !out;
	x->st.lookups++;
	if (proc_lookup(x->pq, &fl, &x->po) == PROC_HOW_SOCKET)
		x->st.found++;
}

static int
nfqa_packet(const struct nlmsghdr *nlh, void *data)
{
	struct nfqa_ctx *x = data;
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	struct nfqnl_msg_packet_hdr *ph;
	struct nfgenmsg *nfg;
	struct nlmsghdr *v;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) {
		fputs("nfq_accept: packet message without a header\n", stderr);
		return MNL_CB_ERROR;
	}
	nfg = mnl_nlmsg_get_payload(nlh);
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	if (x->pq != NULL)
		nfqa_owner(x, attr[NFQA_PAYLOAD], ph->hook);
	v = nfq_nlmsg_put(x->vbuf, NFQNL_MSG_VERDICT, ntohs(nfg->res_id));
	if (nfqa_mark != 0) {
		nfq_nlmsg_verdict_put(v, (int)ntohl(ph->packet_id), NF_REPEAT);
		nfq_nlmsg_verdict_put_mark(v, nfqa_mark);
	} else {
		nfq_nlmsg_verdict_put(v, (int)ntohl(ph->packet_id), NF_ACCEPT);
	}
	if (nfqa_send(x->nl, v) < 0)
		return MNL_CB_ERROR;
	x->st.packets++;
	return MNL_CB_OK;
}

/* A queue's socket, bound and configured; a timeout on receiving lets its
 * thread see the stop flag. */
static int
nfqa_open(struct nfqa_ctx *x)
{
	struct timeval tv = {0, 200000};

	x->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (x->nl == NULL ||
	    mnl_socket_bind(x->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(x->nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
	               sizeof(tv)) < 0) {
		fprintf(stderr, "nfq_accept: queue %u: netlink socket: %s\n",
		        x->queue, strerror(errno));
		return -1;
	}
	x->portid = mnl_socket_get_portid(x->nl);
	return nfqa_configure(x->nl, x->buf, x->queue);
}

/* One recv, one verdict, until told to stop. */
static void *
nfqa_run(void *arg)
{
	struct nfqa_ctx *x = arg;

	x->rc = 1;
	while (!atomic_load(&nfqa_stop)) {
		ssize_t n = mnl_socket_recvfrom(x->nl, x->buf, x->size);

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			if (errno == ENOBUFS) {
				/* The kernel dropped packets for us: go on. */
				x->st.enobufs++;
				continue;
			}
			fprintf(stderr, "nfq_accept: queue %u: recv: %s\n",
			        x->queue, strerror(errno));
			atomic_store(&nfqa_stop, true);
			return NULL;
		}
		if (mnl_cb_run(x->buf, (size_t)n, 0, x->portid, nfqa_packet,
		               x) < 0) {
			fprintf(stderr,
			        "nfq_accept: queue %u: netlink message: %s\n",
			        x->queue, strerror(errno));
			atomic_store(&nfqa_stop, true);
			return NULL;
		}
	}
	x->rc = 0;
	return NULL;
}

static int
nfqa_number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	*out = strtoul(s, &end, 10);
	return *s != '\0' && *end == '\0' && *out <= max ? 0 : -1;
}

int
main(int argc, char **argv)
{
	/* The largest packet payload plus netlink overhead (as the example). */
	size_t size = 0xffff + (MNL_SOCKET_BUFFER_SIZE / 2);
	struct nfqa_stats st = {0, 0, 0, 0};
	struct nfqa_ctx *xs = NULL;
	struct proc *proc = NULL;
	bool owners = false;
	unsigned long q, nq = 1, i;
	char err[256];
	sigset_t sigs;
	int opt, sig, rc = 1;

	while ((opt = getopt(argc, argv, "om:n:")) != -1) {
		switch (opt) {
		case 'o':
			owners = true;
			break;
		case 'm': {
			char *end;
			unsigned long m = strtoul(optarg, &end, 0);

			if (*optarg == '\0' || *end != '\0' || m == 0 ||
			    m > UINT32_MAX) {
				fprintf(stderr,
				        "nfq_accept: bad mark \"%s\" (1 to "
				        "0xffffffff)\n",
				        optarg);
				return 2;
			}
			nfqa_mark = (uint32_t)m;
			break;
		}
		case 'n':
			if (nfqa_number(optarg, 64, &nq) != 0 || nq == 0) {
				fprintf(stderr,
				        "nfq_accept: bad queue count \"%s\" "
				        "(1 to 64)\n",
				        optarg);
				return 2;
			}
			break;
		default:
			fputs(NFQA_USAGE, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(NFQA_USAGE, stderr);
		return 2;
	}
	if (nfqa_number(argv[optind], 65535 - (nq - 1), &q) != 0) {
		fprintf(stderr,
		        "nfq_accept: bad queue number \"%s\" (the last of %lu "
		        "queues must be at most 65535)\n",
		        argv[optind], nq);
		return 2;
	}
	/* Every thread inherits these blocked; the main thread waits for
	 * them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if ((xs = calloc(nq, sizeof(*xs))) == NULL) {
		fputs("nfq_accept: out of memory\n", stderr);
		return 1;
	}
	if (owners) {
		/* As daemon/run.c sets it up, but not deferred (no drop). */
		struct proc_config pc = {
		        .events = true,
		        .initial_scan = true,
		        .infer_exited = true,
		        .method = PROC_ATTRIB_AUTO,
		};

		err[0] = '\0';
		if (proc_new(&proc, &pc, err, sizeof(err)) != 0) {
			fprintf(stderr, "nfq_accept: attribution: %s\n", err);
			goto out;
		}
		if (err[0] != '\0')
			fprintf(stderr, "nfq_accept: attribution: %s\n", err);
		printf("attribution=%s\n", proc_method(proc));
	}
	for (i = 0; i < nq; i++) {
		struct nfqa_ctx *x = &xs[i];

		x->queue = (uint16_t)(q + i);
		x->size = size;
		if ((x->buf = malloc(size)) == NULL ||
		    (x->vbuf = malloc(MNL_SOCKET_BUFFER_SIZE)) == NULL) {
			fputs("nfq_accept: out of memory\n", stderr);
			goto out;
		}
		if (nfqa_open(x) != 0)
			goto out;
		if (owners &&
		    (x->pq = proc_query_new(proc, err, sizeof(err))) == NULL) {
			fprintf(stderr, "nfq_accept: attribution: %s\n", err);
			goto out;
		}
	}
	for (i = 0; i < nq; i++) {
		if ((errno = pthread_create(&xs[i].thread, NULL, nfqa_run,
		                            &xs[i])) != 0) {
			fprintf(stderr, "nfq_accept: thread: %s\n",
			        strerror(errno));
			goto out;
		}
		xs[i].started = true;
	}
	printf("ready queue=%lu queues=%lu\n", q, nq);
	fflush(stdout);
	/* A thread that fails sets the flag too: look at it now and then. */
	while (!atomic_load(&nfqa_stop)) {
		struct timespec ts = {0, 200000000};

		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			atomic_store(&nfqa_stop, true);
	}
	rc = 0;
out:
	atomic_store(&nfqa_stop, true);
	for (i = 0; i < nq; i++) {
		if (xs[i].started) {
			pthread_join(xs[i].thread, NULL);
			if (xs[i].rc != 0)
				rc = 1;
		}
		st.packets += xs[i].st.packets;
		st.enobufs += xs[i].st.enobufs;
		st.lookups += xs[i].st.lookups;
		st.found += xs[i].st.found;
	}
	printf("result=%s packets=%llu enobufs=%llu", rc == 0 ? "ok" : "error",
	       st.packets, st.enobufs);
	if (owners)
		printf(" lookups=%llu found=%llu", st.lookups, st.found);
	for (i = 0; nq > 1 && i < nq; i++)
		printf("%s%llu", i == 0 ? " per_queue=" : ",",
		       xs[i].st.packets);
	putchar('\n');
	for (i = 0; i < nq; i++) {
		if (xs[i].pq != NULL)
			proc_query_free(xs[i].pq);
		if (xs[i].nl != NULL)
			mnl_socket_close(xs[i].nl);
		free(xs[i].buf);
		free(xs[i].vbuf);
	}
	free(xs);
	if (proc != NULL)
		proc_free(proc);
	return rc;
}

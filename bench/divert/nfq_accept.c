/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The naive NFQUEUE ceiling: accept every packet of one queue, unseen; with
 * -o, after finding the owner of each new TCP connection as spackle does. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/types.h>
#include <sys/socket.h>

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
 */

struct nfqa_stats {
	unsigned long long packets;
	unsigned long long enobufs;
	unsigned long long lookups, found; /* -o: owners asked, found */
};

static volatile sig_atomic_t nfqa_stop;

static void
nfqa_on_signal(int sig)
{
	(void)sig;
	nfqa_stop = 1;
}

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

struct nfqa_ctx {
	struct mnl_socket *nl;
	struct nfqa_stats *st;
	char *vbuf;
	struct proc_query *pq; /* -o, else NULL */
	struct proc_owner po;
};

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
	x->st->lookups++;
	if (proc_lookup(x->pq, &fl, &x->po) == PROC_HOW_SOCKET)
		x->st->found++;
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
	nfq_nlmsg_verdict_put(v, (int)ntohl(ph->packet_id), NF_ACCEPT);
	if (nfqa_send(x->nl, v) < 0)
		return MNL_CB_ERROR;
	x->st->packets++;
	return MNL_CB_OK;
}

int
main(int argc, char **argv)
{
	/* The largest packet payload plus netlink overhead (as the example). */
	size_t size = 0xffff + (MNL_SOCKET_BUFFER_SIZE / 2);
	char vbuf[MNL_SOCKET_BUFFER_SIZE];
	struct nfqa_stats st = {0, 0, 0, 0};
	struct nfqa_ctx x;
	struct proc *proc = NULL;
	bool owners = argc == 3 && strcmp(argv[1], "-o") == 0;
	char err[256];
	struct sigaction sa;
	struct mnl_socket *nl;
	unsigned long q;
	unsigned portid;
	char *buf, *end;
	int rc = 1;

	if (argc != 2 && !owners) {
		fputs("usage: nfq_accept [-o] QUEUE_NUM\n", stderr);
		return 2;
	}
	q = strtoul(argv[argc - 1], &end, 10);
	if (*argv[argc - 1] == '\0' || *end != '\0' || q > 65535) {
		fprintf(stderr, "nfq_accept: bad queue number \"%s\"\n",
		        argv[argc - 1]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nfqa_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	buf = malloc(size);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (buf == NULL || nl == NULL ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		fprintf(stderr, "nfq_accept: netlink socket: %s\n",
		        strerror(errno));
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	if (nfqa_configure(nl, buf, (uint16_t)q) < 0)
		goto out;
	x.nl = nl;
	x.st = &st;
	x.vbuf = vbuf;
	x.pq = NULL;
	if (owners) {
		/* As daemon/run.c sets it up, but not deferred (no drop). */
		struct proc_config pc = {
		        .events = true,
		        .initial_scan = true,
		        .infer_exited = true,
		        .method = PROC_ATTRIB_AUTO,
		};

		err[0] = '\0';
		if (proc_new(&proc, &pc, err, sizeof(err)) != 0 ||
		    (x.pq = proc_query_new(proc, err, sizeof(err))) == NULL) {
			fprintf(stderr, "nfq_accept: attribution: %s\n", err);
			goto out;
		}
		if (err[0] != '\0')
			fprintf(stderr, "nfq_accept: attribution: %s\n", err);
		printf("attribution=%s\n", proc_method(proc));
	}
	printf("ready queue=%lu\n", q);
	fflush(stdout);

	while (!nfqa_stop) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, size);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* The kernel dropped packets for us: go on. */
				st.enobufs++;
				continue;
			}
			fprintf(stderr, "nfq_accept: recv: %s\n",
			        strerror(errno));
			goto out;
		}
		if (mnl_cb_run(buf, (size_t)n, 0, portid, nfqa_packet, &x) <
		    0) {
			fprintf(stderr, "nfq_accept: netlink message: %s\n",
			        strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	printf("result=%s packets=%llu enobufs=%llu", rc == 0 ? "ok" : "error",
	       st.packets, st.enobufs);
	if (owners)
		printf(" lookups=%llu found=%llu", st.lookups, st.found);
	putchar('\n');
	if (x.pq != NULL)
		proc_query_free(x.pq);
	if (proc != NULL)
		proc_free(proc);
	if (nl != NULL)
		mnl_socket_close(nl);
	free(buf);
	return rc;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The naive NFQUEUE ceiling: accept every packet of one queue, unseen. */
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

/*
 * One packet per recv, one NF_ACCEPT verdict per packet, nothing parsed:
 * what the libnetfilter_queue example does, minus the printing. The
 * configuration is the example's (whole-packet copy, GSO packets whole).
 * No batching, no fail-open, the default socket buffer: the ceiling a
 * first attempt reaches, against which spackle is measured.
 */

struct nfqa_stats {
	unsigned long long packets;
	unsigned long long enobufs;
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
};

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
	struct nfqa_stats st = {0, 0};
	struct nfqa_ctx x;
	struct sigaction sa;
	struct mnl_socket *nl;
	unsigned long q;
	unsigned portid;
	char *buf, *end;
	int rc = 1;

	if (argc != 2) {
		fputs("usage: nfq_accept QUEUE_NUM\n", stderr);
		return 2;
	}
	q = strtoul(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || q > 65535) {
		fprintf(stderr, "nfq_accept: bad queue number \"%s\"\n",
		        argv[1]);
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
	printf("result=%s packets=%llu enobufs=%llu\n",
	       rc == 0 ? "ok" : "error", st.packets, st.enobufs);
	if (nl != NULL)
		mnl_socket_close(nl);
	free(buf);
	return rc;
}

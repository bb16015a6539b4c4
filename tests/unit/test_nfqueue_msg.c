/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NFQUEUE backend's message walk, fed crafted netlink messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "divert/nfqueue.c"
#include "divert/nfqueue_spec.c"
#include "guard.h"

/* A queue with no socket: only what nfqueue_packet() needs. */
static struct divert *
fake_queue(void)
{
	struct divert *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->pend = calloc(DIVERT_NFQ_PENDING_MAX, sizeof(*d->pend));
	assert_non_null(d->pend);
	return d;
}

static void
fake_free(struct divert *d)
{
	free(d->pend);
	free(d);
}

/*
 * A packet message for queue 1 into buf: its header attribute hdr_len
 * bytes long (a whole one is sizeof(struct nfqnl_msg_packet_hdr)), then
 * a payload of 20 bytes.
 */
static size_t
packet_msg(uint8_t *buf, size_t len, uint32_t id, size_t hdr_len)
{
	struct nfqnl_msg_packet_hdr ph;
	uint8_t payload[20] = {0x45};
	struct nlmsghdr *nlh;

	memset(buf, 0, len);
	nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_PACKET, 1);
	memset(&ph, 0, sizeof(ph));
	ph.packet_id = htonl(id);
	ph.hook = NF_INET_LOCAL_OUT;
	mnl_attr_put(nlh, NFQA_PACKET_HDR, hdr_len, &ph);
	mnl_attr_put(nlh, NFQA_PAYLOAD, sizeof(payload), payload);
	return nlh->nlmsg_len;
}

/* A packet whose slot still held an unanswered older one is counted:
 * that older packet can no longer be answered. */
static void
test_unanswered_counted(void **state)
{
	struct divert *d = fake_queue();
	struct divert_packet p;
	uint8_t buf[512];

	(void)state;
	packet_msg(buf, sizeof(buf), 7, sizeof(struct nfqnl_msg_packet_hdr));
	assert_int_equal(nfqueue_packet(d, (struct nlmsghdr *)buf, 1, &p), 1);
	assert_int_equal(p.id, 7);
	assert_int_equal(p.hook, DIVERT_HOOK_OUT);
	assert_int_equal(p.caplen, 20);
	assert_int_equal(d->st.unanswered, 0);
	/* Answered: its slot is free for the packet DIVERT_NFQ_PENDING_MAX
	 * ids later. */
	d->pend[7].live = false;
	packet_msg(buf, sizeof(buf), 7 + DIVERT_NFQ_PENDING_MAX,
	           sizeof(struct nfqnl_msg_packet_hdr));
	assert_int_equal(nfqueue_packet(d, (struct nlmsghdr *)buf, 1, &p), 1);
	assert_int_equal(d->st.unanswered, 0);
	/* Not answered: the next one in the same slot counts it. */
	packet_msg(buf, sizeof(buf), 7 + 2 * DIVERT_NFQ_PENDING_MAX,
	           sizeof(struct nfqnl_msg_packet_hdr));
	assert_int_equal(nfqueue_packet(d, (struct nlmsghdr *)buf, 1, &p), 1);
	assert_int_equal(d->st.unanswered, 1);
	assert_int_equal(d->st.received, 3);
	fake_free(d);
}

/* A packet header attribute shorter than the header is malformed, and
 * nothing past it is read (the message sits flush against a guard page,
 * its header attribute last). */
static void
test_short_packet_header(void **state)
{
	struct nfqnl_msg_packet_hdr ph;
	struct divert *d = fake_queue();
	struct divert_packet p;
	struct nlattr *attr[NFQA_MAX + 1] = {NULL};
	struct nlmsghdr *nlh;
	uint8_t buf[256], *g;
	size_t n;

	(void)state;
	memset(buf, 0, sizeof(buf));
	memset(&ph, 0, sizeof(ph));
	nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_PACKET, 1);
	mnl_attr_put(nlh, NFQA_PACKET_HDR, 4, &ph);
	n = nlh->nlmsg_len;
	g = guard_copy(buf, n);
	assert_null(nfqueue_packet_hdr((struct nlmsghdr *)g, attr));
	assert_int_equal(nfqueue_packet(d, (struct nlmsghdr *)g, 1, &p), 0);
	assert_int_equal(d->st.malformed, 1);
	assert_int_equal(d->st.received, 0);
	guard_free(g);
	/* The whole header is accepted. */
	n = packet_msg(buf, sizeof(buf), 9, sizeof(ph));
	g = guard_copy(buf, n);
	assert_non_null(nfqueue_packet_hdr((struct nlmsghdr *)g, attr));
	guard_free(g);
	fake_free(d);
}

/* A 32-bit attribute of another length is taken as absent. */
static void
test_attr_u32_exact(void **state)
{
	struct nlattr *attr[NFQA_MAX + 1] = {NULL};
	struct nlmsghdr *nlh;
	uint8_t buf[256];
	uint16_t two = 0x0102;
	uint32_t mark = htonl(0x42);

	(void)state;
	memset(buf, 0, sizeof(buf));
	nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_PACKET, 1);
	mnl_attr_put(nlh, NFQA_MARK, sizeof(mark), &mark);
	mnl_attr_put(nlh, NFQA_UID, sizeof(two), &two);
	attr[NFQA_MARK] = (struct nlattr *)((uint8_t *)nlh + NLMSG_HDRLEN +
	                                    MNL_ALIGN(sizeof(struct nfgenmsg)));
	attr[NFQA_UID] = (struct nlattr *)((uint8_t *)attr[NFQA_MARK] +
	                                   MNL_ALIGN(attr[NFQA_MARK]->nla_len));
	assert_int_equal(nfqueue_attr_u32(attr, NFQA_MARK, 0), 0x42);
	assert_int_equal(nfqueue_attr_u32(attr, NFQA_UID, 77), 77);
	assert_int_equal(nfqueue_attr_u32(attr, NFQA_GID, 78), 78);
}

/* kernel_stats takes open's spec: a bad one reads nothing. */
static void
test_spec_kernel_stats_bad_spec(void **state)
{
	struct divert_kernel_stats ks;

	(void)state;
	assert_int_equal(nfqueue_kernel_stats("not-a-queue", &ks), -1);
	assert_int_equal(nfqueue_kernel_stats("70000", &ks), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unanswered_counted),
	        cmocka_unit_test(test_short_packet_header),
	        cmocka_unit_test(test_attr_u32_exact),
	        cmocka_unit_test(test_spec_kernel_stats_bad_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spackle's iptables-nft steering read from nf_tables itself, over
 * netlink (libmnl, libnftnl), where iptables-save would be a program run:
 * the ruleset's generation, and the counters of spackle's own rules. The
 * daemon's second (daemon/watch.c) reads these and runs iptables-save,
 * for the whole check of every hook, only when the generation has moved.
 *
 * iptables-nft keeps a rule's comment as an xtables "comment" match
 * (1.8.9) or, in later versions, in the rule's user data; both are read.
 */
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>

#include "pfconf/fwread_priv.h"
#include "spackle/nftread.h"
#include "spackle/steer_names.h"

#define NFTR_COMMENT_MAX 256    /* xt_comment's XT_MAX_COMMENT_LEN */
#define NFTR_BUFSZ       32768u /* a dump's datagram: MNL_SOCKET_DUMP_SIZE */

struct nftr {
	struct mnl_socket *nl;
	uint32_t portid, seq;
	char buf[NFTR_BUFSZ];
};

/* What one rule's expressions and user data said. */
struct nftr_rule {
	uint64_t packets, bytes;
	char comment[NFTR_COMMENT_MAX];
};

struct nftr_dump {
	struct fw_ruleset *rs;
	int family;
	char chain[FW_NAME_MAX]; /* the last rule's, for positions */
	unsigned pos;
	int rc;
};

static int
nftr_fail(char *err, size_t errlen, int rc, const char *what)
{
	snprintf(err, errlen, "nf_tables: %s: %s", what, strerror(-rc));
	return rc;
}

static int
nftr_open(struct nftr *x, char *err, size_t errlen)
{
	if ((x->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL)
		return nftr_fail(err, errlen, -errno, "netlink socket");
	if (mnl_socket_bind(x->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int rc = -errno;

		mnl_socket_close(x->nl);
		return nftr_fail(err, errlen, rc, "netlink bind");
	}
	x->portid = mnl_socket_get_portid(x->nl);
	x->seq = (uint32_t)time(NULL);
	return 0;
}

/* Send nlh and run cb over the answer: 0 or -errno. */
static int
nftr_talk(struct nftr *x, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	ssize_t n;
	int rc;

	if (mnl_socket_sendto(x->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(x->nl, x->buf, sizeof(x->buf));
		if (n < 0)
			return -errno;
		errno = 0;
		rc = mnl_cb_run(x->buf, (size_t)n, nlh->nlmsg_seq, x->portid,
		                cb, data);
		if (rc < 0)
			return errno != 0 ? -errno : -EIO;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

struct nftr_gen {
	uint32_t id;
	bool got;
};

static int
nftr_gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();
	struct nftr_gen *r = data;

	if (g == NULL) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0 &&
	    nftnl_gen_is_set(g, NFTNL_GEN_ID)) {
		r->id = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
		r->got = true;
	}
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

/* The generation: 0, or -errno (-EBADMSG: the answer did not hold it). */
static int
nftr_gen(struct nftr *x, uint32_t *gen)
{
	struct nftr_gen r = {0};
	struct nlmsghdr *nlh;
	int rc;

	/* Acknowledged, so that the answer has an end to wait for. */
	nlh = nftnl_nlmsg_build_hdr(x->buf, NFT_MSG_GETGEN, AF_UNSPEC,
	                            NLM_F_ACK, ++x->seq);
	if ((rc = nftr_talk(x, nlh, nftr_gen_cb, &r)) < 0)
		return rc;
	if (!r.got)
		return -EBADMSG;
	*gen = r.id;
	return 0;
}

static int
nftr_expr_cb(struct nftnl_expr *e, void *data)
{
	struct nftr_rule *r = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	const void *info;
	uint32_t len = 0;

	if (name == NULL)
		return MNL_CB_OK;
	if (strcmp(name, "counter") == 0) {
		r->packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		r->bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	} else if (strcmp(name, "match") == 0 &&
	           (name = nftnl_expr_get_str(e, NFTNL_EXPR_MT_NAME)) != NULL &&
	           strcmp(name, "comment") == 0 &&
	           (info = nftnl_expr_get(e, NFTNL_EXPR_MT_INFO, &len)) !=
	                   NULL) {
		/* struct xt_comment_info: the comment, NUL-padded. */
		if (len > sizeof(r->comment) - 1)
			len = sizeof(r->comment) - 1;
		memcpy(r->comment, info, len);
		r->comment[len] = '\0';
	}
	return MNL_CB_OK;
}

static int
nftr_udata_cb(const struct nftnl_udata *a, void *data)
{
	struct nftr_rule *r = data;
	size_t len = nftnl_udata_len(a);

	if (nftnl_udata_type(a) != NFTNL_UDATA_RULE_COMMENT || len == 0)
		return MNL_CB_OK;
	if (len > sizeof(r->comment) - 1)
		len = sizeof(r->comment) - 1;
	memcpy(r->comment, nftnl_udata_get(a), len);
	r->comment[len] = '\0';
	return MNL_CB_OK;
}

/* Keep one spackle rule of the dump. */
static int
nftr_keep(struct nftr_dump *d, const char *chain, const struct nftr_rule *nr)
{
	struct fw_ruleset *rs = d->rs;
	struct fw_rule *r;
	int rc;

	if ((rc = fw_grow((void **)&rs->v, &rs->cap, rs->n, sizeof(*rs->v))) <
	    0)
		return rc;
	r = &rs->v[rs->n];
	memset(r, 0, sizeof(*r));
	r->family = d->family;
	snprintf(r->chain, sizeof(r->chain), "%s", chain);
	r->pos = d->pos;
	r->packets = nr->packets;
	r->bytes = nr->bytes;
	if (nr->comment[0] != '\0' &&
	    (r->comment = strdup(nr->comment)) == NULL)
		return -ENOMEM;
	rs->n++;
	return 0;
}

static int
nftr_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftr_dump *d = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftr_rule nr = {0};
	const char *chain;
	const void *ud;
	uint32_t udlen = 0;
	int rc = MNL_CB_OK;

	if (r == NULL || nftnl_rule_nlmsg_parse(nlh, r) < 0 ||
	    (chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)) == NULL) {
		d->rc = r == NULL ? -ENOMEM : -EBADMSG;
		if (r != NULL)
			nftnl_rule_free(r);
		return MNL_CB_ERROR;
	}
	/* Positions count within a chain, as iptables-save's order. */
	if (strcmp(chain, d->chain) != 0) {
		snprintf(d->chain, sizeof(d->chain), "%s", chain);
		d->pos = 0;
	}
	d->pos++;
	if (strncmp(chain, STEER_CHAIN_PREFIX, strlen(STEER_CHAIN_PREFIX)) ==
	    0) {
		nftnl_expr_foreach(r, nftr_expr_cb, &nr);
		if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA) &&
		    (ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA,
		                              &udlen)) != NULL)
			nftnl_udata_parse(ud, udlen, nftr_udata_cb, &nr);
		if ((d->rc = nftr_keep(d, chain, &nr)) < 0)
			rc = MNL_CB_ERROR;
	}
	nftnl_rule_free(r);
	return rc;
}

static int
nftr_rules(struct nftr *x, int family, const char *table, struct fw_ruleset *rs)
{
	struct nftr_dump d = {.rs = rs, .family = family};
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	int rc;

	if ((r = nftnl_rule_alloc()) == NULL)
		return -ENOMEM;
	/* NFPROTO_IPV4 and NFPROTO_IPV6 are AF_INET and AF_INET6. */
	nlh = nftnl_nlmsg_build_hdr(x->buf, NFT_MSG_GETRULE, (uint16_t)family,
	                            NLM_F_DUMP, ++x->seq);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	rc = nftr_talk(x, nlh, nftr_rule_cb, &d);
	if (d.rc < 0)
		return d.rc;
	return rc == -ENOENT ? 0 : rc; /* no such table: no rules */
}

int
nft_generation(uint32_t *gen, char *err, size_t errlen)
{
	struct nftr *x = calloc(1, sizeof(*x));
	int rc;

	if (x == NULL)
		return nftr_fail(err, errlen, -ENOMEM, "generation");
	if ((rc = nftr_open(x, err, errlen)) == 0) {
		if ((rc = nftr_gen(x, gen)) < 0)
			nftr_fail(err, errlen, rc, "reading the generation");
		mnl_socket_close(x->nl);
	}
	free(x);
	return rc;
}

int
nft_read_steering(unsigned families, const char *table, uint32_t *gen,
                  struct fw_ruleset *rs, char *err, size_t errlen)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	struct nftr *x = calloc(1, sizeof(*x));
	size_t n0 = rs->n, i;
	uint32_t before = 0, after = 0;
	unsigned f;
	int rc;

	if (x == NULL)
		return nftr_fail(err, errlen, -ENOMEM, "reading the rules");
	if ((rc = nftr_open(x, err, errlen)) != 0) {
		free(x);
		return rc;
	}
	if ((rc = nftr_gen(x, &before)) < 0)
		nftr_fail(err, errlen, rc, "reading the generation");
	for (f = 0; rc == 0 && f < 2; f++)
		if ((families & (1u << f)) &&
		    (rc = nftr_rules(x, fams[f], table, rs)) < 0)
			nftr_fail(err, errlen, rc, "reading the rules");
	if (rc == 0 && (rc = nftr_gen(x, &after)) < 0)
		nftr_fail(err, errlen, rc, "reading the generation");
	if (rc == 0 && after != before) {
		rc = -EAGAIN;
		snprintf(err, errlen,
		         "nf_tables: the ruleset changed while it was read");
	}
	mnl_socket_close(x->nl);
	free(x);
	if (rc < 0) {
		for (i = n0; i < rs->n; i++)
			free(rs->v[i].comment);
		rs->n = n0;
		return rc;
	}
	*gen = before;
	return 0;
}

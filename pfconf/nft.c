/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nft ruleset text for spackle's steering table, and its removal. */

/*
 * For kernels with the native `queue` statement (nft_queue). One table,
 * inet spackle, covers IPv4 and IPv6; each configured hook gets a base
 * chain at priority filter - 1, ahead of the filter tables (iptables-nft's
 * included) at priority 0. Being its own base chain, it leaves the host's
 * chains alone: an accept here ends only spackle's chain, the packet then
 * meets every other chain of the hook. The rules are those of iptables.c,
 * in the same order, with the same comments; in flow mode the verdict
 * rules set the conntrack mark themselves (nft has no CONNMARK
 * --save-mark with masks), and without `fanout` the queue is chosen per
 * flow, by `symhash` (see queue_split.c).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "spackle/steer_text.h"

struct nft_hook {
	unsigned bit;      /* enum config_hook */
	const char *hook;  /* nft hook name */
	const char *chain; /* base chain name */
	bool in, out;      /* exemptions match iifname and/or oifname */
	bool dns_to;       /* DNS queries (to port 53) go to the DNS queue */
	bool dns_from;     /* DNS answers (from port 53) go to the DNS queue */
};

static const struct nft_hook nft_hooks[] = {
        {CONFIG_HOOK_OUT, "output", "spackle_out", false, true, true, false},
        {CONFIG_HOOK_IN, "input", "spackle_in", true, false, false, true},
        {CONFIG_HOOK_FORWARD, "forward", "spackle_fwd", true, true, true, true},
};
#define NFT_NHOOKS (sizeof(nft_hooks) / sizeof(nft_hooks[0]))

static int
nft_done(FILE *out)
{
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}

static void
nft_queue(FILE *out, const struct config *c, const char *comment)
{
	const char *flags =
	        c->failure == CONFIG_FAILURE_OPEN ? "flags bypass " : "";

	/* Several queues: by a symmetric hash of the flow, ports included
	 * (pfconf/queue_split.c). */
	if (c->queues == 1)
		fprintf(out, "counter queue num %u%s", c->queue_base,
		        *flags != '\0' ? " bypass" : "");
	else
		fprintf(out, "counter queue %sto symhash mod %u offset %u",
		        flags, c->queues, c->queue_base);
	fprintf(out, " comment \"%s\"\n", comment);
}

static void
nft_dns_queue(FILE *out, const struct config *c)
{
	fprintf(out, "counter queue num %u", STEER_DNS_QUEUE(c));
	if (c->failure == CONFIG_FAILURE_OPEN)
		fputs(" bypass", out);
	fprintf(out, " comment \"%s\"\n", STEER_COMMENT_DNS);
}

/* `ct mark set` keeping the conntrack mark's other bits. */
static void
nft_save(FILE *out, bool flow, unsigned value)
{
	if (flow)
		fprintf(out, "ct mark set ct mark & 0x%08x | 0x%08x ",
		        ~STEER_MARK_MASK, value);
}

/*
 * Accept, drop or reject by a mark value: the packet's mark (the daemon's
 * NF_REPEAT) or, with ct, the flow's conntrack mark.
 */
static void
nft_verdicts(FILE *out, const char *key, bool save, bool ct)
{
	fprintf(out, "\t\t%s & 0x%08x == 0x%08x ", key, STEER_MARK_MASK,
	        STEER_MARK_ACCEPT);
	nft_save(out, save, STEER_MARK_ACCEPT);
	fprintf(out, "counter accept comment \"%s\"\n",
	        ct ? STEER_COMMENT_FLOW_ACCEPT : STEER_COMMENT_ACCEPT);

	fprintf(out, "\t\t%s & 0x%08x == 0x%08x ", key, STEER_MARK_MASK,
	        STEER_MARK_DENY);
	nft_save(out, save, STEER_MARK_DENY);
	fprintf(out, "counter drop comment \"%s\"\n",
	        ct ? STEER_COMMENT_FLOW_DENY : STEER_COMMENT_DENY);

	/* A flow rejected by its mark: its own way only (the reset or ICMP
	 * error REJECT sends back is of the same entry; pfconf/iptables.c). */
	fprintf(out, "\t\t%s%s & 0x%08x == 0x%08x meta l4proto tcp ",
	        ct ? "ct direction original " : "", key, STEER_MARK_MASK,
	        STEER_MARK_REJECT);
	nft_save(out, save, STEER_MARK_REJECT);
	fprintf(out, "counter reject with tcp reset comment \"%s\"\n",
	        ct ? STEER_COMMENT_FLOW_REJECT : STEER_COMMENT_REJECT);

	fprintf(out, "\t\t%s%s & 0x%08x == 0x%08x ",
	        ct ? "ct direction original " : "", key, STEER_MARK_MASK,
	        STEER_MARK_REJECT);
	nft_save(out, save, STEER_MARK_REJECT);
	fprintf(out,
	        "counter reject with icmpx port-unreachable comment \"%s\"\n",
	        ct ? STEER_COMMENT_FLOW_REJECT : STEER_COMMENT_REJECT);
	/* Its reset passes (pfconf/iptables.c). */
	if (ct)
		fprintf(out,
		        "\t\tct direction reply %s & 0x%08x == 0x%08x tcp "
		        "flags "
		        "& rst == rst counter accept comment \"%s\"\n",
		        key, STEER_MARK_MASK, STEER_MARK_REJECT,
		        STEER_COMMENT_FLOW_RESET);
}

static void
nft_chain(FILE *out, const struct config *c, const struct nft_hook *h)
{
	bool flow = c->divert == CONFIG_DIVERT_FLOW;
	unsigned i, proto;

	fprintf(out,
	        "\tchain %s {\n"
	        "\t\ttype filter hook %s priority filter - %d; policy "
	        "accept;\n",
	        h->chain, h->hook, -STEER_NFT_PRIORITY);
	/* Flow mode: the fast path first (see pfconf/iptables.c). */
	if (flow) {
		nft_verdicts(out, "ct mark", false, true);
		fprintf(out,
		        "\t\tmeta mark & 0x%08x == 0x%08x counter accept "
		        "comment \"%s\"\n",
		        STEER_MARK_MASK, STEER_MARK_ONCE, STEER_COMMENT_ONCE);
	}
	nft_verdicts(out, "meta mark", flow, false);
	/* DNS whole to its own queue (see pfconf/iptables.c). */
	if (h->dns_to) {
		fputs("\t\tudp dport 53 ", out);
		nft_dns_queue(out, c);
		fputs("\t\ttcp dport 53 ", out);
		nft_dns_queue(out, c);
	}
	if (h->dns_from) {
		fputs("\t\tudp sport 53 ", out);
		nft_dns_queue(out, c);
		fputs("\t\ttcp sport 53 ", out);
		nft_dns_queue(out, c);
	}
	/* The protocol words: inet sees both families, so say which. */
	for (i = 0; i < c->nexempt; i++) {
		proto = steer_exempt_proto(c->exempt[i]);
		if (proto != 0) {
			fprintf(out,
			        "\t\tmeta nfproto %s meta l4proto %s counter "
			        "accept comment \"%s%s\"\n",
			        proto == SP_PROTO_ICMP ? "ipv4" : "ipv6",
			        proto == SP_PROTO_ICMP ? "icmp" : "ipv6-icmp",
			        STEER_COMMENT_EXEMPT, c->exempt[i]);
			continue;
		}
		if (h->in)
			fprintf(out,
			        "\t\tiifname \"%s\" counter accept "
			        "comment \"%s%s\"\n",
			        c->exempt[i], STEER_COMMENT_EXEMPT,
			        c->exempt[i]);
		if (h->out)
			fprintf(out,
			        "\t\toifname \"%s\" counter accept "
			        "comment \"%s%s\"\n",
			        c->exempt[i], STEER_COMMENT_EXEMPT,
			        c->exempt[i]);
	}
	fputs("\t\t", out);
	nft_queue(out, c, STEER_COMMENT_QUEUE);
	fputs("\t}\n", out);
}

int
steer_nft_text(const struct config *c, FILE *out)
{
	bool first = true;
	unsigned i;
	int rc;

	if (out == NULL)
		return -EINVAL;
	if ((rc = steer_validate(c, NULL, 0)) < 0)
		return rc;
	if (c->backend == CONFIG_BACKEND_TUN)
		return steer_tun_nft_text(c, out);

	fprintf(out,
	        "# spackle steering: nft -f\n"
	        "# queues %u-%u, failure %s, divert %s\n"
	        "# Declaring, then deleting the table makes one atomic run "
	        "replace a stale one.\n"
	        "table inet %s\n"
	        "delete table inet %s\n"
	        "table inet %s {\n",
	        c->queue_base, c->queue_base + c->queues - 1,
	        c->failure == CONFIG_FAILURE_OPEN ? "open" : "closed",
	        c->divert == CONFIG_DIVERT_FLOW ? "flow" : "packet",
	        STEER_NFT_TABLE, STEER_NFT_TABLE, STEER_NFT_TABLE);
	for (i = 0; i < NFT_NHOOKS; i++) {
		if (!(c->hooks & nft_hooks[i].bit))
			continue;
		if (!first)
			fputc('\n', out);
		first = false;
		nft_chain(out, c, &nft_hooks[i]);
	}
	fputs("}\n", out);
	return nft_done(out);
}

int
steer_nft_remove_text(FILE *out)
{
	if (out == NULL)
		return -EINVAL;
	fprintf(out, "delete table inet %s\n", STEER_NFT_TABLE);
	return nft_done(out);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pf anchor text for spackle's steering: macOS (route-to its utun) and
 * OpenBSD (divert-packet). */

/*
 * Written against pf.conf(5) of each and tested as text only: nothing here
 * has been loaded into a pf yet (docs/steering.md, "pf", says what is
 * still to be seen on a machine).
 *
 * Why every rule is `quick` and `no state`:
 *
 * - pf looks a packet's state up before it evaluates any rule. A rule
 *   that kept state would let the later packets of its flow pass on the
 *   state, past the steering; with `no state` every packet meets the
 *   rules, as every packet of a hook crosses NFQUEUE on Linux.
 * - pf has no RETURN: a rule that matched without `quick` is overridden by
 *   any later match, the steering rule below it included. So spackle's
 *   anchor decides every packet of the configured hooks (the main ruleset
 *   calls it before its own filter rules): steered, exempt, or, having
 *   come back from spackle, passed. Only `quick` rules count exactly: pf
 *   adds a packet to the counters of the rule that decided it.
 *
 * macOS (Apple's pf keeps OpenBSD 4.x's syntax: `route-to (if addr)`
 * between the interface and the family; no divert sockets): each hook
 * routes its packets into the tunnel `tun_name`, next hop `tun_peer`.
 * spackle reads them there and writes back what it allows, which the
 * kernel then receives on the tunnel: a packet for this host is delivered,
 * any other is forwarded out of its real interface (net.inet.ip.forwarding
 * and net.inet6.ip6.forwarding on). `in on` the tunnel it is tagged
 * STEER_PF_TAG, and on its way out that tag lets it pass, not be steered
 * again: pf keeps a tag on the packet from its way in to its way out
 * (Apple's pf has no `received-on`, which would say the same). What leaves
 * by the tunnel passes too: only steered packets go there.
 *
 * OpenBSD: each hook hands its packets to the divert(4) socket bound to
 * port `queue_base`. What spackle writes back to that socket skips pf
 * (divert(4)), so no rule is needed for it.
 *
 * Both: what never leaves its link (multicast, broadcast, link-local
 * addresses, neighbour discovery) is passed by rules of its own, labelled
 * STEER_COMMENT_LINK: the tunnel would hand it back on the wrong
 * interface (forwarding refuses it, and neighbour discovery needs its hop
 * limit of 255, which forwarding lowers), and divert(4) re-injects an
 * outgoing packet by routing it again, which cannot choose the link of a
 * multicast or link-local destination.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pfconf/steer_err.h"
#include "spackle/steer_pf.h"

struct pf_hook {
	unsigned bit;    /* enum config_hook */
	const char *dir; /* pf's direction, also the hook's config word */
};

static const struct pf_hook pf_hooks[] = {
        {CONFIG_HOOK_OUT, "out"},
        {CONFIG_HOOK_IN, "in"},
};
#define PF_NHOOKS (sizeof(pf_hooks) / sizeof(pf_hooks[0]))

/* What never leaves its link, per family: each a rule's match. */
static const char *const pf_link4[] = {
        "from any to 224.0.0.0/4",     /* multicast */
        "from any to 255.255.255.255", /* limited broadcast */
        "from 169.254.0.0/16 to any",  /* link-local, RFC 3927 */
        "from any to 169.254.0.0/16",
};
static const char *const pf_link6[] = {
        "from any to ff00::/8",  /* multicast */
        "from fe80::/10 to any", /* link-local */
        "from any to fe80::/10",
        /* Neighbour discovery between routed addresses too: its hop
         * limit must arrive as 255 (RFC 4861, 7.1). pfctl's names. */
        "proto ipv6-icmp all icmp6-type routersol",
        "proto ipv6-icmp all icmp6-type routeradv",
        "proto ipv6-icmp all icmp6-type neighbrsol",
        "proto ipv6-icmp all icmp6-type neighbradv",
        "proto ipv6-icmp all icmp6-type redir",
};

struct pf_gen {
	const struct config *c;
	enum steer_pf_flavour f;
	FILE *out;
	char peer4[INET6_ADDRSTRLEN], peer6[INET6_ADDRSTRLEN];
};

const char *
steer_pf_name(enum steer_pf_flavour f)
{
	return f == STEER_PF_OPENBSD ? "pf-openbsd" : "pf-macos";
}

bool
steer_pf_flavour(const char *name, enum steer_pf_flavour *f)
{
	if (name == NULL)
		return false;
	if (strcmp(name, "pf-macos") == 0)
		*f = STEER_PF_MACOS;
	else if (strcmp(name, "pf-openbsd") == 0)
		*f = STEER_PF_OPENBSD;
	else
		return false;
	return true;
}

/* utunN, N a number without leading zeros, as macOS names its tunnels. */
static bool
pf_utun_name(const char *s)
{
	size_t n;

	if (strncmp(s, "utun", 4) != 0)
		return false;
	s += 4;
	n = strspn(s, "0123456789");
	return n > 0 && s[n] == '\0' && (s[0] != '0' || n == 1);
}

static bool
pf_exempts(const struct config *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nexempt && i < CONFIG_EXEMPT_MAX; i++)
		if (strncmp(c->exempt[i], name, CONFIG_IFNAME_MAX) == 0)
			return true;
	return false;
}

int
steer_pf_validate(const struct config *c, enum steer_pf_flavour f, char *err,
                  size_t errlen)
{
	const char *name = steer_pf_name(f);
	char why[256];
	int rc;

	if (f != STEER_PF_MACOS && f != STEER_PF_OPENBSD) {
		steer_seterr(err, errlen, "pf: unknown flavour %d", (int)f);
		return -EINVAL;
	}
	if ((rc = steer_validate(c, why, sizeof(why))) < 0) {
		steer_seterr(err, errlen, "%s: %s", name, why);
		return rc;
	}
	if (c->hooks & CONFIG_HOOK_FORWARD) {
		steer_seterr(err, errlen,
		             "%s: hooks: pf has no forward hook (a forwarded "
		             "packet crosses pf as it comes in and as it goes "
		             "out): steer it with in or out",
		             name);
		return -EINVAL;
	}
	if (c->divert != CONFIG_DIVERT_PACKET) {
		steer_seterr(err, errlen,
		             "%s: divert = flow keeps verdicts in conntrack "
		             "marks, which pf has not: use divert = packet",
		             name);
		return -EINVAL;
	}
	if (f == STEER_PF_OPENBSD) {
		if (c->queue_base == 0) {
			steer_seterr(err, errlen,
			             "%s: queue_base 0 is not a divert port "
			             "(1-65535)",
			             name);
			return -EINVAL;
		}
		return 0;
	}
	if (memchr(c->tun_name, '\0', sizeof(c->tun_name)) == NULL ||
	    !pf_utun_name(c->tun_name)) {
		steer_seterr(err, errlen,
		             "%s: tun_name \"%.*s\" is not utunN: macOS names "
		             "its tunnels so",
		             name, (int)sizeof(c->tun_name), c->tun_name);
		return -EINVAL;
	}
	if (pf_exempts(c, c->tun_name)) {
		steer_seterr(err, errlen,
		             "%s: exempt lists %s, spackle's own tunnel "
		             "(tun_name)",
		             name, c->tun_name);
		return -EINVAL;
	}
	if (!pf_exempts(c, "lo0")) {
		steer_seterr(err, errlen,
		             "%s: exempt must list lo0: packets of 127.0.0.0/8 "
		             "and ::1 cannot come back in through %s",
		             name, c->tun_name);
		return -EINVAL;
	}
	if (c->tun_peer4.family != AF_INET || c->tun_peer6.family != AF_INET6) {
		steer_seterr(err, errlen,
		             "%s: tun_peer needs one IPv4 and one IPv6 address",
		             name);
		return -EINVAL;
	}
	return 0;
}

/* One rule: its text (printf), then its label and what follows it. */
static void pf_rule(struct pf_gen *g, const char *label, const char *after,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
pf_rule(struct pf_gen *g, const char *label, const char *after, const char *fmt,
        ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(g->out, fmt, ap);
	va_end(ap);
	fprintf(g->out, " no state label \"%s\"%s\n", label, after);
}

/* The rules that route one family's packets of a hook, or divert them. */
static void
pf_steer(struct pf_gen *g, const char *dir, int family)
{
	const char *af = family == AF_INET ? "inet" : "inet6";
	char label[STEER_PF_LABEL_MAX], after[32];
	size_t i, n;
	const char *const *link;

	snprintf(label, sizeof(label), "%s %s %s", STEER_COMMENT_LINK, dir, af);
	link = family == AF_INET ? pf_link4 : pf_link6;
	n = family == AF_INET ? sizeof(pf_link4) / sizeof(pf_link4[0])
	                      : sizeof(pf_link6) / sizeof(pf_link6[0]);
	for (i = 0; i < n; i++)
		pf_rule(g, label, "", "pass %s quick %s %s", dir, af, link[i]);

	snprintf(label, sizeof(label), "%s %s %s", STEER_COMMENT_QUEUE, dir,
	         af);
	if (g->f == STEER_PF_MACOS) {
		pf_rule(g, label, "",
		        "pass %s quick on ! %s route-to (%s %s) %s all", dir,
		        g->c->tun_name, g->c->tun_name,
		        family == AF_INET ? g->peer4 : g->peer6, af);
	} else {
		snprintf(after, sizeof(after), " divert-packet port %u",
		         g->c->queue_base);
		pf_rule(g, label, after, "pass %s quick %s all", dir, af);
	}
}

/* One hook: exemptions in the order `exempt` gives them, then each
 * family's link rules and steering. */
static void
pf_hook(struct pf_gen *g, const struct pf_hook *h)
{
	const struct config *c = g->c;
	char label[STEER_PF_LABEL_MAX];
	unsigned i, proto;

	/* What spackle passed, on its way out: not steered again. */
	if (g->f == STEER_PF_MACOS && h->bit == CONFIG_HOOK_OUT)
		pf_rule(g, STEER_COMMENT_REINJECTED, " tagged " STEER_PF_TAG,
		        "pass out quick all");
	for (i = 0; i < c->nexempt; i++) {
		snprintf(label, sizeof(label), "%s%s %s", STEER_COMMENT_EXEMPT,
		         c->exempt[i], h->dir);
		proto = steer_exempt_proto(c->exempt[i]);
		if (proto == SP_PROTO_ICMP)
			pf_rule(g, label, "",
			        "pass %s quick inet proto icmp all", h->dir);
		else if (proto == SP_PROTO_ICMP6)
			pf_rule(g, label, "",
			        "pass %s quick inet6 proto ipv6-icmp all",
			        h->dir);
		else
			pf_rule(g, label, "", "pass %s quick on %s all", h->dir,
			        c->exempt[i]);
	}
	pf_steer(g, h->dir, AF_INET);
	pf_steer(g, h->dir, AF_INET6);
}

static void
pf_header(struct pf_gen *g)
{
	const struct config *c = g->c;
	bool open = c->failure == CONFIG_FAILURE_OPEN;
	bool first = true;
	size_t i;

	fprintf(g->out,
	        "# spackle steering: pf anchor \"%s\", %s (pfctl -a %s -f -)\n",
	        STEER_PF_ANCHOR, g->f == STEER_PF_MACOS ? "macOS" : "OpenBSD",
	        STEER_PF_ANCHOR);
	if (g->f == STEER_PF_MACOS)
		fprintf(g->out, "# route-to %s (%s, %s), hooks", c->tun_name,
		        g->peer4, g->peer6);
	else
		fprintf(g->out, "# divert-packet port %u, hooks",
		        c->queue_base);
	for (i = 0; i < PF_NHOOKS; i++) {
		if (!(c->hooks & pf_hooks[i].bit))
			continue;
		fprintf(g->out, "%s %s", first ? "" : ",", pf_hooks[i].dir);
		first = false;
	}
	fprintf(g->out,
	        ", failure %s\n"
	        "# The main ruleset calls it before its own filter rules: "
	        "anchor \"%s\"\n",
	        open ? "open" : "closed", STEER_PF_ANCHOR);
	fprintf(g->out,
	        open ? "# failure = open is kept by flushing this anchor when "
	               "spackle stops; pf\n# itself fails closed (%s):\n# "
	               "after a crash the hooks stay closed until spackle runs "
	               "again\n"
	             : "# failure = closed: pf fails closed by itself (%s)\n",
	        g->f == STEER_PF_MACOS ? "spackle's tunnel is gone"
	                               : "divert(4) drops unread packets");
}

int
steer_pf_text(const struct config *c, enum steer_pf_flavour f, FILE *out)
{
	struct pf_gen g;
	size_t i;
	int rc;

	if (out == NULL)
		return -EINVAL;
	if ((rc = steer_pf_validate(c, f, NULL, 0)) < 0)
		return rc;
	memset(&g, 0, sizeof(g));
	g.c = c;
	g.f = f;
	g.out = out;
	sp_addr_format(&c->tun_peer4, g.peer4, sizeof(g.peer4));
	sp_addr_format(&c->tun_peer6, g.peer6, sizeof(g.peer6));

	pf_header(&g);
	if (f == STEER_PF_MACOS) {
		/* The tunnel: steered packets leave by it, what spackle
		 * passed comes back in by it, tagged. */
		pf_rule(&g, STEER_COMMENT_TUN, "", "pass out quick on %s all",
		        c->tun_name);
		pf_rule(&g, STEER_COMMENT_REINJECT, " tag " STEER_PF_TAG,
		        "pass in quick on %s all", c->tun_name);
	}
	for (i = 0; i < PF_NHOOKS; i++)
		if (c->hooks & pf_hooks[i].bit)
			pf_hook(&g, &pf_hooks[i]);
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}

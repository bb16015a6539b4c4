/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iptables-restore text for spackle's steering chains, and its removal. */

/*
 * Why table `filter` (docs/steering.md has the long form):
 *
 * - REJECT, which the reject verdict needs, is valid only in filter's
 *   INPUT, FORWARD and OUTPUT (and chains called from them). With filter,
 *   the mark rules, the exemptions and the queue rule sit in one chain per
 *   hook, with one set of counters for `spackle audit` to read.
 * - filter runs after raw, mangle and nat in every hook, so the packet
 *   spackle sees carries its final addresses (after DNAT) and routing
 *   marks; FORWARD exists in filter (and mangle) only.
 * - Jumping from rule 1 of the hook means no earlier rule of the table can
 *   let a packet past the divert in silence. Because an NF_ACCEPT verdict
 *   would skip every later rule of the table in that hook (the host's own
 *   rules included), the daemon answers NF_REPEAT with STEER_MARK_ACCEPT
 *   and the chain RETURNs: the host's rules still decide after spackle.
 *
 * OpenSnitch queues new connections in mangle OUTPUT; it never needs
 * REJECT in the same hook, and it queues new connections only, while
 * spackle queues every packet of the configured hooks.
 *
 * Several queues: see pfconf/queue_split.c. --queue-cpu-fanout (nft:
 * `fanout`) is not used: it picks the queue by CPU, not by flow, and the
 * workers rely on all packets of a flow reaching the same queue
 * (DESIGN.md).
 */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pfconf/savetext.h"
#include "spackle/steer_text.h"

struct ipt_hook {
	unsigned bit;      /* enum config_hook */
	const char *hook;  /* the built-in chain */
	const char *chain; /* spackle's chain */
	bool in, out;      /* exemptions match -i and/or -o */
	bool dns_to;       /* DNS queries (to port 53) go to the DNS queue */
	bool dns_from;     /* DNS answers (from port 53) go to the DNS queue */
};

static const struct ipt_hook ipt_hooks[] = {
        {CONFIG_HOOK_OUT, "OUTPUT", STEER_CHAIN_OUT, false, true, true, false},
        {CONFIG_HOOK_IN, "INPUT", STEER_CHAIN_IN, true, false, false, true},
        {CONFIG_HOOK_FORWARD, "FORWARD", STEER_CHAIN_FWD, true, true, true,
         true},
};
#define IPT_NHOOKS (sizeof(ipt_hooks) / sizeof(ipt_hooks[0]))

static int
ipt_done(FILE *out)
{
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}

/*
 * The queue rules, as iptables-save prints them: one queue, one rule; with
 * several, one rule per queue, each but the last matching its share of
 * the flows by a BPF hash (pfconf/queue_split.c says why not
 * --queue-balance). They share one comment, whose counters audit sums.
 */
static void
ipt_queue(FILE *out, const struct config *c, const char *chain, int family)
{
	unsigned q;

	for (q = 0; q < c->queues; q++) {
		fprintf(out, "-A %s ", chain);
		if (q + 1 < c->queues) {
			fputs("-m bpf --bytecode ", out);
			steer_queue_bytecode(family, c->queues, q, out);
			fputc(' ', out);
		}
		fprintf(out,
		        "-m comment --comment \"%s\" -j NFQUEUE "
		        "--queue-num %u",
		        STEER_COMMENT_QUEUE, c->queue_base + q);
		if (c->failure == CONFIG_FAILURE_OPEN)
			fputs(" --queue-bypass", out);
		fputc('\n', out);
	}
}

/* The DNS queue: one queue past the balanced ones, copied whole. */
static void
ipt_dns(FILE *out, const struct ipt_hook *h, const struct config *c,
        const char *dir)
{
	static const char *const protos[] = {"udp", "tcp"};
	unsigned i;

	for (i = 0; i < 2; i++) {
		fprintf(out,
		        "-A %s -p %s -m %s --%s 53 -m comment --comment \"%s\" "
		        "-j NFQUEUE --queue-num %u",
		        h->chain, protos[i], protos[i], dir, STEER_COMMENT_DNS,
		        STEER_DNS_QUEUE(c));
		if (c->failure == CONFIG_FAILURE_OPEN)
			fputs(" --queue-bypass", out);
		fputc('\n', out);
	}
}

/*
 * Accept, drop or reject by a mark value: the packet's mark, set by the
 * daemon's NF_REPEAT, or with flow the flow's conntrack mark.
 */
static void
ipt_verdicts(FILE *out, const char *chain, int family, bool flow)
{
	const char *unreach = family == AF_INET6 ? "icmp6-port-unreachable"
	                                         : "icmp-port-unreachable";
	const char *match = flow ? "connmark" : "mark";
	const char *what =
	        flow ? STEER_COMMENT_FLOW_REJECT : STEER_COMMENT_REJECT;
	/* A flow rejected by its mark: its own way only. The reset or
	 * ICMP error that REJECT sends back belongs to the same conntrack
	 * entry, going the other way, and must pass. */
	const char *dir = flow ? " -m conntrack --ctdir ORIGINAL" : "";

	fprintf(out,
	        "-A %s -m %s --mark 0x%x/0x%x -m comment --comment \"%s\" "
	        "-j RETURN\n",
	        chain, match, STEER_MARK_ACCEPT, STEER_MARK_MASK,
	        flow ? STEER_COMMENT_FLOW_ACCEPT : STEER_COMMENT_ACCEPT);
	fprintf(out,
	        "-A %s -m %s --mark 0x%x/0x%x -m comment --comment \"%s\" "
	        "-j DROP\n",
	        chain, match, STEER_MARK_DENY, STEER_MARK_MASK,
	        flow ? STEER_COMMENT_FLOW_DENY : STEER_COMMENT_DENY);
	fprintf(out,
	        "-A %s -p tcp%s -m %s --mark 0x%x/0x%x -m comment --comment "
	        "\"%s\" -j REJECT --reject-with tcp-reset\n",
	        chain, dir, match, STEER_MARK_REJECT, STEER_MARK_MASK, what);
	fprintf(out,
	        "-A %s%s -m %s --mark 0x%x/0x%x -m comment --comment \"%s\" "
	        "-j REJECT --reject-with %s\n",
	        chain, dir, match, STEER_MARK_REJECT, STEER_MARK_MASK, what,
	        unreach);
	/*
	 * That reset passes in the kernel, as the daemon lets a reset on a
	 * rejected flow pass in packet mode. It cannot cross the divert: it
	 * holds the conntrack entry of the rejected first packet, which is
	 * never confirmed, and queued it never reached the queue (counted by
	 * the NFQUEUE rule, given no queue id; docs/steering.md).
	 */
	if (flow)
		fprintf(out,
		        "-A %s -p tcp -m tcp --tcp-flags RST RST -m conntrack "
		        "--ctdir REPLY -m connmark --mark 0x%x/0x%x -m comment "
		        "--comment \"%s\" -j RETURN\n",
		        chain, STEER_MARK_REJECT, STEER_MARK_MASK,
		        STEER_COMMENT_FLOW_RESET);
}

static void
ipt_chain(FILE *out, const struct config *c, const struct ipt_hook *h,
          int family)
{
	bool flow = c->divert == CONFIG_DIVERT_FLOW;
	unsigned i, proto;

	/*
	 * Flow mode: first the fast path, a decided flow's packets by its
	 * conntrack mark (one rule for an allowed flow's packet). Flows that
	 * must keep crossing (DNS, a flow held for its name) are let through
	 * a packet at a time and never get a mark. Then the deciding packet,
	 * which comes back marked: keep its verdict for the flow before
	 * acting on it.
	 */
	if (flow) {
		ipt_verdicts(out, h->chain, family, true);
		fprintf(out,
		        "-A %s -m mark --mark 0x%x/0x%x -m comment --comment "
		        "\"%s\" -j RETURN\n",
		        h->chain, STEER_MARK_ONCE, STEER_MARK_MASK,
		        STEER_COMMENT_ONCE);
		fprintf(out,
		        "-A %s -m mark ! --mark 0x0/0x%x -m comment --comment "
		        "\"%s\" -j CONNMARK --save-mark --nfmask 0x%x --ctmask "
		        "0x%x\n",
		        h->chain, STEER_MARK_MASK, STEER_COMMENT_SAVE,
		        STEER_MARK_MASK, STEER_MARK_MASK);
	}
	ipt_verdicts(out, h->chain, family, false);

	/*
	 * DNS, exempt interface or not, goes whole to its own queue: its
	 * answers feed the name cache, and a query and its answer meet in
	 * one worker, which learns only from answers it saw asked for.
	 */
	if (h->dns_to)
		ipt_dns(out, h, c, "dport");
	if (h->dns_from)
		ipt_dns(out, h, c, "sport");

	/*
	 * Exemptions, in the config's order: an interface both families,
	 * icmp the IPv4 rules only, icmpv6 the IPv6 ones (in the form
	 * ip6tables-save prints: ipv6-icmp).
	 */
	for (i = 0; i < c->nexempt; i++) {
		proto = steer_exempt_proto(c->exempt[i]);
		if (proto != 0) {
			if ((proto == SP_PROTO_ICMP) == (family == AF_INET))
				fprintf(out,
				        "-A %s -p %s -m comment --comment "
				        "\"%s%s\" -j RETURN\n",
				        h->chain,
				        proto == SP_PROTO_ICMP ? "icmp"
				                               : "ipv6-icmp",
				        STEER_COMMENT_EXEMPT, c->exempt[i]);
			continue;
		}
		if (h->in)
			fprintf(out,
			        "-A %s -i %s -m comment --comment \"%s%s\" "
			        "-j RETURN\n",
			        h->chain, c->exempt[i], STEER_COMMENT_EXEMPT,
			        c->exempt[i]);
		if (h->out)
			fprintf(out,
			        "-A %s -o %s -m comment --comment \"%s%s\" "
			        "-j RETURN\n",
			        h->chain, c->exempt[i], STEER_COMMENT_EXEMPT,
			        c->exempt[i]);
	}

	ipt_queue(out, c, h->chain, family);
}

int
steer_iptables_text(const struct config *c, int family, FILE *out)
{
	unsigned i;
	int rc;

	if (out == NULL || (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	if ((rc = steer_validate(c, NULL, 0)) < 0)
		return rc;
	if (c->backend == CONFIG_BACKEND_TUN)
		return steer_tun_iptables_text(c, family, out);

	fprintf(out,
	        "# spackle steering, %s: %s-restore --noflush\n"
	        "# queues %u-%u, failure %s, divert %s\n",
	        family == AF_INET6 ? "IPv6" : "IPv4",
	        family == AF_INET6 ? "ip6tables" : "iptables", c->queue_base,
	        c->queue_base + c->queues - 1,
	        c->failure == CONFIG_FAILURE_OPEN ? "open" : "closed",
	        c->divert == CONFIG_DIVERT_FLOW ? "flow" : "packet");
	fputs("*filter\n", out);
	for (i = 0; i < IPT_NHOOKS; i++)
		if (c->hooks & ipt_hooks[i].bit)
			fprintf(out, ":%s - [0:0]\n", ipt_hooks[i].chain);
	for (i = 0; i < IPT_NHOOKS; i++)
		if (c->hooks & ipt_hooks[i].bit)
			ipt_chain(out, c, &ipt_hooks[i], family);
	for (i = 0; i < IPT_NHOOKS; i++)
		if (c->hooks & ipt_hooks[i].bit)
			fprintf(out, "-I %s 1 -j %s\n", ipt_hooks[i].hook,
			        ipt_hooks[i].chain);
	fputs("COMMIT\n", out);
	return ipt_done(out);
}

int
steer_iptables_remove_text(const struct config *c, FILE *out)
{
	unsigned i;
	int rc;

	if (out == NULL)
		return -EINVAL;
	if ((rc = steer_validate(c, NULL, 0)) < 0)
		return rc;
	if (c->backend == CONFIG_BACKEND_TUN)
		return steer_tun_iptables_remove_text(out);

	fputs("# spackle steering removal: ip(6)tables-restore --noflush\n"
	      "*filter\n",
	      out);
	for (i = 0; i < IPT_NHOOKS; i++)
		if (c->hooks & ipt_hooks[i].bit)
			fprintf(out, "-D %s -j %s\n", ipt_hooks[i].hook,
			        ipt_hooks[i].chain);
	for (i = 0; i < IPT_NHOOKS; i++)
		if (c->hooks & ipt_hooks[i].bit)
			fprintf(out, "-F %s\n-X %s\n", ipt_hooks[i].chain,
			        ipt_hooks[i].chain);
	fputs("COMMIT\n", out);
	return ipt_done(out);
}

/*
 * Crash cleanup from iptables-save output. The text is walked as bounded
 * views (pointer and length), never as C strings: it is another program's
 * output, and a line's fields are checked before use.
 */

static bool
ipt_is_spackle(struct save_view name)
{
	size_t plen = sizeof(STEER_CHAIN_PREFIX) - 1;

	return name.n > plen && memcmp(name.p, STEER_CHAIN_PREFIX, plen) == 0;
}

/* Strip a "[packets:bytes] " prefix (iptables-save -c). */
static struct save_view
ipt_strip_counters(struct save_view line)
{
	const char *close;

	if (line.n == 0 || line.p[0] != '[')
		return line;
	close = memchr(line.p, ']', line.n);
	if (close == NULL)
		return line;
	line.n -= (size_t)(close + 1 - line.p);
	line.p = close + 1;
	while (line.n > 0 && line.p[0] == ' ') {
		line.p++;
		line.n--;
	}
	return line;
}

/* ":NAME POLICY [p:b]": is NAME spackle's? */
static bool
ipt_line_chain(struct save_view line, struct save_view *name)
{
	struct save_view rest;

	if (line.n < 2 || line.p[0] != ':')
		return false;
	rest.p = line.p + 1;
	rest.n = line.n - 1;
	if (!save_token(&rest, name))
		return false;
	return ipt_is_spackle(*name);
}

/*
 * "-A CHAIN spec": does a rule of a chain that is not spackle's jump or go
 * to one of spackle's? *spec is then "CHAIN spec", ready for -D.
 */
static bool
ipt_line_jump(struct save_view line, struct save_view *spec)
{
	struct save_view rest, tok, chain;
	bool target = false;

	line = ipt_strip_counters(line);
	rest = line;
	if (!save_token(&rest, &tok) || !save_eq(tok, "-A"))
		return false;
	if (!save_token(&rest, &chain) || ipt_is_spackle(chain))
		return false;
	spec->p = chain.p;
	spec->n = (size_t)(line.p + line.n - chain.p);
	while (save_token(&rest, &tok)) {
		if (target && ipt_is_spackle(tok))
			return true;
		target = save_eq(tok, "-j") || save_eq(tok, "-g");
	}
	return false;
}

enum ipt_pass { IPT_COUNT, IPT_DELETE, IPT_FLUSH, IPT_REMOVE };

/* One pass over the lines of one table's section. */
static unsigned
ipt_section(FILE *out, const char *p, const char *end, enum ipt_pass pass)
{
	struct save_view line, v;
	const char *nl;
	unsigned n = 0;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		line.p = p;
		line.n = (size_t)(nl - p);
		if (line.n > 0 && line.p[line.n - 1] == '\r')
			line.n--;
		if (line.n > INT_MAX)
			continue;
		if (ipt_line_chain(line, &v)) {
			n++;
			if (pass == IPT_FLUSH)
				fprintf(out, "-F %.*s\n", (int)v.n, v.p);
			else if (pass == IPT_REMOVE)
				fprintf(out, "-X %.*s\n", (int)v.n, v.p);
		} else if (ipt_line_jump(line, &v)) {
			n++;
			if (pass == IPT_DELETE)
				fprintf(out, "-D %.*s\n", (int)v.n, v.p);
		}
	}
	return n;
}

int
steer_iptables_cleanup_text(const char *save, size_t len, FILE *out)
{
	const char *p, *end, *nl, *body, *stop;
	struct save_view table;
	unsigned total = 0;
	int rc;

	if ((save == NULL && len > 0) || out == NULL)
		return -EINVAL;
	if (len == 0)
		return 0;
	p = save;
	end = save + len;

	/* Sections run from "*table" to "COMMIT". */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (p[0] != '*' || nl - p < 2 || nl - p > 64) {
			p = nl < end ? nl + 1 : end;
			continue;
		}
		table.p = p + 1;
		table.n = (size_t)(nl - p - 1);
		if (table.p[table.n - 1] == '\r')
			table.n--;
		if (table.n == 0) {
			p = nl < end ? nl + 1 : end;
			continue;
		}
		body = nl < end ? nl + 1 : end;
		for (stop = body; stop < end;) {
			nl = memchr(stop, '\n', (size_t)(end - stop));
			if (nl == NULL)
				nl = end;
			if ((nl - stop == 6 ||
			     (nl - stop == 7 && nl[-1] == '\r')) &&
			    memcmp(stop, "COMMIT", 6) == 0)
				break;
			stop = nl < end ? nl + 1 : end;
		}
		if (ipt_section(out, body, stop, IPT_COUNT) > 0) {
			if (total == 0)
				fputs("# spackle steering cleanup: "
				      "ip(6)tables-restore --noflush\n",
				      out);
			fprintf(out, "*%.*s\n", (int)table.n, table.p);
			total += ipt_section(out, body, stop, IPT_DELETE);
			ipt_section(out, body, stop, IPT_FLUSH);
			ipt_section(out, body, stop, IPT_REMOVE);
			fputs("COMMIT\n", out);
		}
		p = stop;
		if (p < end) {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl == NULL ? end : nl + 1;
		}
	}
	if ((rc = ipt_done(out)) < 0)
		return rc;
	return total > INT_MAX ? INT_MAX : (int)total;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The tunnel backend's steering as text (`backend = tun`): the marking
 * chain for iptables-restore or nft, and the `ip` and `tc` commands that
 * route the mark into the tunnel and redirect each interface's ingress
 * there. Pure generators, as iptables.c and nft.c; steer_tun.c runs them.
 *
 * Leaving this host: mangle OUTPUT (nft: a `route` chain, the same hook)
 * marks every packet that has no spackle mark yet with STEER_MARK_TUN, and
 * the kernel routes it again by the mark: an `ip rule fwmark` sends it to
 * table STEER_TUN_TABLE, whose default route is the tun. Its addresses
 * stay those of the first route (the real interface's). Passed by: the
 * exempt interfaces (by the interface the first route chose), the exempt
 * protocols, and what must stay on its link: IPv6 neighbour discovery,
 * link-local and multicast destinations, IPv4 multicast and broadcast.
 * Packets the daemon sends on carry STEER_MARK_ACCEPT and pass too.
 *
 * Reaching this host: routing cannot see a packet for a local address (the
 * `local` rule, priority 0, comes before any other), so a tc filter on
 * each interface's ingress (clsact) redirects IP to the tun before the
 * stack sees it, and the daemon writes what it allows back into the tun.
 * The same link-local exceptions pass first, at their own priority.
 *
 * Failure policy: the tun's route goes with the device. With `failure =
 * closed` a blackhole route of last resort (metric 4294967295) stays in the
 * table, and tc's redirect to a device that is gone drops. With `failure =
 * open` the table is then empty, the lookup falls through to the main
 * table, and steer_tun.c's guard removes the ingress redirect.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "spackle/steer_text.h"

static int
tun_done(FILE *out)
{
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}

/* The exemptions of the mark chain, in iptables-save's own form. */
static void
tun_ipt_exempt(FILE *out, const struct config *c, int family)
{
	const char *ch = STEER_CHAIN_TUN;
	unsigned i, proto;

	fprintf(out,
	        "-A %s -m mark ! --mark 0x0/0x%x -m comment --comment \"%s\" "
	        "-j RETURN\n",
	        ch, STEER_MARK_MASK, STEER_COMMENT_ACCEPT);
	for (i = 0; i < c->nexempt; i++) {
		proto = steer_exempt_proto(c->exempt[i]);
		if (proto == 0)
			fprintf(out,
			        "-A %s -o %s -m comment --comment \"%s%s\" -j "
			        "RETURN\n",
			        ch, c->exempt[i], STEER_COMMENT_EXEMPT,
			        c->exempt[i]);
		else if ((proto == SP_PROTO_ICMP) == (family == AF_INET))
			fprintf(out,
			        "-A %s -p %s -m comment --comment \"%s%s\" -j "
			        "RETURN\n",
			        ch, family == AF_INET ? "icmp" : "ipv6-icmp",
			        STEER_COMMENT_EXEMPT, c->exempt[i]);
	}
	if (family == AF_INET) {
		fprintf(out,
		        "-A %s -d 224.0.0.0/4 -m comment --comment \"%slink\" "
		        "-j RETURN\n"
		        "-A %s -m addrtype --dst-type BROADCAST -m comment "
		        "--comment \"%slink\" -j RETURN\n",
		        ch, STEER_COMMENT_EXEMPT, ch, STEER_COMMENT_EXEMPT);
		return;
	}
	fprintf(out,
	        "-A %s -d fe80::/10 -m comment --comment \"%slink\" -j "
	        "RETURN\n"
	        "-A %s -d ff00::/8 -m comment --comment \"%slink\" -j "
	        "RETURN\n",
	        ch, STEER_COMMENT_EXEMPT, ch, STEER_COMMENT_EXEMPT);
	for (i = 133; i <= 137; i++)
		fprintf(out,
		        "-A %s -p ipv6-icmp -m icmp6 --icmpv6-type %u -m "
		        "comment --comment \"%slink\" -j RETURN\n",
		        ch, i, STEER_COMMENT_EXEMPT);
}

int
steer_tun_iptables_text(const struct config *c, int family, FILE *out)
{
	fprintf(out,
	        "# spackle steering, %s, backend tun: %s-restore --noflush\n"
	        "# marked packets are routed into %s (table %u)\n",
	        family == AF_INET6 ? "IPv6" : "IPv4",
	        family == AF_INET6 ? "ip6tables" : "iptables", c->tun_name,
	        STEER_TUN_TABLE);
	fputs("*mangle\n", out);
	fprintf(out, ":%s - [0:0]\n", STEER_CHAIN_TUN);
	if (c->hooks & CONFIG_HOOK_OUT) {
		tun_ipt_exempt(out, c, family);
		fprintf(out,
		        "-A %s -m comment --comment \"%s\" -j MARK "
		        "--set-xmark 0x%x/0x%x\n",
		        STEER_CHAIN_TUN, STEER_COMMENT_TUN, STEER_MARK_TUN,
		        STEER_MARK_MASK);
	}
	fprintf(out, "-I OUTPUT 1 -j %s\n", STEER_CHAIN_TUN);
	fputs("COMMIT\n", out);
	return tun_done(out);
}

int
steer_tun_iptables_remove_text(FILE *out)
{
	fprintf(out,
	        "# spackle steering removal, backend tun: ip(6)tables-restore "
	        "--noflush\n*mangle\n-D OUTPUT -j %s\n-F %s\n-X %s\nCOMMIT\n",
	        STEER_CHAIN_TUN, STEER_CHAIN_TUN, STEER_CHAIN_TUN);
	return tun_done(out);
}

int
steer_tun_nft_text(const struct config *c, FILE *out)
{
	unsigned i, proto;

	fprintf(out,
	        "# spackle steering, backend tun: nft -f\n"
	        "# marked packets are routed into %s (table %u)\n"
	        "table inet %s\ndelete table inet %s\ntable inet %s {\n"
	        "\tchain tun_out {\n"
	        "\t\ttype route hook output priority mangle; policy accept;\n",
	        c->tun_name, STEER_TUN_TABLE, STEER_NFT_TABLE, STEER_NFT_TABLE,
	        STEER_NFT_TABLE);
	if (c->hooks & CONFIG_HOOK_OUT) {
		fprintf(out,
		        "\t\tmeta mark & 0x%08x != 0x00000000 return comment "
		        "\"%s\"\n",
		        STEER_MARK_MASK, STEER_COMMENT_ACCEPT);
		for (i = 0; i < c->nexempt; i++) {
			proto = steer_exempt_proto(c->exempt[i]);
			if (proto == 0)
				fprintf(out,
				        "\t\toifname \"%s\" return comment "
				        "\"%s%s\"\n",
				        c->exempt[i], STEER_COMMENT_EXEMPT,
				        c->exempt[i]);
			else
				fprintf(out,
				        "\t\tmeta l4proto %s return comment "
				        "\"%s%s\"\n",
				        proto == SP_PROTO_ICMP ? "icmp"
				                               : "ipv6-icmp",
				        STEER_COMMENT_EXEMPT, c->exempt[i]);
		}
		fprintf(out,
		        "\t\tip daddr 224.0.0.0/4 return comment \"%slink\"\n"
		        "\t\tfib daddr type broadcast return comment "
		        "\"%slink\"\n"
		        "\t\tip6 daddr { fe80::/10, ff00::/8 } return comment "
		        "\"%slink\"\n"
		        "\t\ticmpv6 type { nd-router-solicit, "
		        "nd-router-advert, "
		        "nd-neighbor-solicit, nd-neighbor-advert, nd-redirect "
		        "} "
		        "return comment \"%slink\"\n"
		        "\t\tcounter meta mark set meta mark & 0x%08x | 0x%08x "
		        "comment \"%s\"\n",
		        STEER_COMMENT_EXEMPT, STEER_COMMENT_EXEMPT,
		        STEER_COMMENT_EXEMPT, STEER_COMMENT_EXEMPT,
		        ~STEER_MARK_MASK, STEER_MARK_TUN, STEER_COMMENT_TUN);
	}
	fputs("\t}\n}\n", out);
	return tun_done(out);
}

/*
 * tc: what stays on the interface, then the redirect of the rest. A u32
 * match ends the filters only when its key is terminal, which a classid
 * (or an action) makes it: each filter that lets a packet be carries
 * TUN_TC_STAY. Without it a match went on to the redirect, so the
 * neighbour advertisements a host asked for reached it through the tun,
 * where the stack ignores them: an IPv6 peer whose neighbour entry had
 * expired could not be found again.
 */
#define TUN_TC_STAY "classid :1"

static void
tun_tc_add(FILE *out, const struct config *c, const struct steer_tun_if *f)
{
	static const char *const v6pass[] = {
	        "ip6 dst fe80::/10",
	        "ip6 dst ff00::/8",
	        "ip6 protocol 58 0xff match u8 255 0xff at 7",
	};
	const char *dev = f->name;
	unsigned i, proto;

	for (i = 0; i < 3; i++)
		fprintf(out,
		        "tc filter add dev %s ingress pref %u protocol ipv6 "
		        "u32 match %s " TUN_TC_STAY "\n",
		        dev, STEER_TC_PASS6, v6pass[i]);
	fprintf(out,
	        "tc filter add dev %s ingress pref %u protocol ip u32 match ip "
	        "dst 224.0.0.0/4 " TUN_TC_STAY "\n"
	        "tc filter add dev %s ingress pref %u protocol ip u32 match ip "
	        "dst 255.255.255.255/32 " TUN_TC_STAY "\n",
	        dev, STEER_TC_PASS4, dev, STEER_TC_PASS4);
	for (i = 0; i < f->nbcast; i++)
		fprintf(out,
		        "tc filter add dev %s ingress pref %u protocol ip u32 "
		        "match ip dst %u.%u.%u.%u/32 " TUN_TC_STAY "\n",
		        dev, STEER_TC_PASS4, f->bcast[i][0], f->bcast[i][1],
		        f->bcast[i][2], f->bcast[i][3]);
	for (i = 0; i < c->nexempt; i++)
		if ((proto = steer_exempt_proto(c->exempt[i])) != 0)
			fprintf(out,
			        "tc filter add dev %s ingress pref %u protocol "
			        "%s u32 match %s protocol %u "
			        "0xff " TUN_TC_STAY "\n",
			        dev,
			        proto == SP_PROTO_ICMP ? STEER_TC_PASS4
			                               : STEER_TC_PASS6,
			        proto == SP_PROTO_ICMP ? "ip" : "ipv6",
			        proto == SP_PROTO_ICMP ? "ip" : "ip6", proto);
	fprintf(out,
	        "tc filter add dev %s ingress pref %u protocol ip u32 match "
	        "u32 "
	        "0 0 action mirred egress redirect dev %s\n"
	        "tc filter add dev %s ingress pref %u protocol ipv6 u32 match "
	        "u32 0 0 action mirred egress redirect dev %s\n",
	        dev, STEER_TC_DIVERT4, c->tun_name, dev, STEER_TC_DIVERT6,
	        c->tun_name);
}

int
steer_tun_route_text(const struct config *c, const struct steer_tun_if *ifs,
                     size_t nifs, FILE *out)
{
	static const char *const fam[2] = {"-4", "-6"};
	size_t i;

	/* An IPv4 address on the tun: what is written back into it passes
	 * loose reverse-path filtering only on an interface that has one. */
	fprintf(out, "ip -4 address add %s/32 dev %s\n", STEER_TUN_ADDR4,
	        c->tun_name);
	for (i = 0; i < 2; i++) {
		fprintf(out,
		        "ip %s route add default dev %s table %u\n"
		        "ip %s rule add pref %u fwmark 0x%x/0x%x table %u\n",
		        fam[i], c->tun_name, STEER_TUN_TABLE, fam[i],
		        STEER_TUN_PREF, STEER_MARK_TUN, STEER_MARK_MASK,
		        STEER_TUN_TABLE);
		if (c->failure == CONFIG_FAILURE_CLOSED)
			fprintf(out,
			        "ip %s route add blackhole default table %u "
			        "metric 4294967295\n",
			        fam[i], STEER_TUN_TABLE);
	}
	if (c->hooks & CONFIG_HOOK_IN)
		for (i = 0; i < nifs; i++) {
			if (!ifs[i].has_clsact)
				fprintf(out, "tc qdisc add dev %s clsact\n",
				        ifs[i].name);
			tun_tc_add(out, c, &ifs[i]);
		}
	return tun_done(out);
}

int
steer_tun_route_remove_text(const struct steer_tun_if *ifs, size_t nifs,
                            FILE *out)
{
	static const char *const fam[2] = {"-4", "-6"};
	static const unsigned prefs[4] = {STEER_TC_DIVERT4, STEER_TC_DIVERT6,
	                                  STEER_TC_PASS4, STEER_TC_PASS6};
	size_t i, k;

	for (i = 0; i < nifs; i++)
		for (k = 0; k < 4; k++)
			fprintf(out, "tc filter del dev %s ingress pref %u\n",
			        ifs[i].name, prefs[k]);
	for (i = 0; i < 2; i++)
		fprintf(out,
		        "ip %s rule del pref %u\n"
		        "ip %s route flush table %u\n",
		        fam[i], STEER_TUN_PREF, fam[i], STEER_TUN_TABLE);
	return tun_done(out);
}

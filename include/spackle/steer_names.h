/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What spackle's steering rules are called, and which configs make rules. */
#ifndef SPACKLE_STEER_NAMES_H
#define SPACKLE_STEER_NAMES_H

#include <stddef.h>

#include "spackle/config.h"
#include "spackle/mark.h"

/*
 * Where the rules live (docs/steering.md tells why).
 *
 * iptables (iptables-restore, nf_tables or legacy backend): table `filter`,
 * one chain per configured hook, jumped to by the first rule of the hook's
 * built-in chain: OUTPUT -> SPACKLE-OUT, INPUT -> SPACKLE-IN,
 * FORWARD -> SPACKLE-FWD, for IPv4 and IPv6 alike. Every chain whose name
 * starts with STEER_CHAIN_PREFIX, and every rule that jumps to one, is
 * spackle's: the crash cleanup removes exactly those.
 *
 * nft (kernels with the native `queue` statement): table `inet spackle`
 * with one base chain per hook at priority filter - 1 (STEER_NFT_PRIORITY).
 */
#define STEER_CHAIN_PREFIX "SPACKLE-"
#define STEER_CHAIN_OUT    "SPACKLE-OUT"
#define STEER_CHAIN_IN     "SPACKLE-IN"
#define STEER_CHAIN_FWD    "SPACKLE-FWD"
#define STEER_NFT_TABLE    "spackle" /* family inet */
#define STEER_NFT_PRIORITY (-1)      /* filter - 1 */

/*
 * DNS (to and from port 53, UDP and TCP) goes to one more queue past the
 * balanced ones, copied whole, while the balanced queues copy only headers:
 * queries and answers meet in one worker, whichever queue their flow would
 * hash to.
 */
#define STEER_DNS_QUEUE(c) ((c)->queue_base + (c)->queues)

/*
 * The tunnel backend's steering (pfconf/steer_tun.c): the chain that marks
 * what leaves this host (mangle OUTPUT; nft: a route chain of table inet
 * spackle), the policy-routing rule that sends the mark to spackle's
 * table, and the tc filters on each interface's ingress that redirect
 * what arrives into the tunnel. The numbers are spackle's: "SP".
 */
#define STEER_CHAIN_TUN "SPACKLE-TUN"
#define STEER_TUN_TABLE 21328u /* ip route ... table */
/* The tun's own IPv4 address (link-local; its peer is `tun_peer`). */
#define STEER_TUN_ADDR4 "169.254.42.1"
#define STEER_TUN_PREF  21328u /* ip rule priority */
/* tc prefs (one protocol each): what stays on its interface, then the
 * redirect into the tunnel, IPv4 and IPv6. */
#define STEER_TC_PASS4    21328u
#define STEER_TC_PASS6    21329u
#define STEER_TC_DIVERT4  21330u
#define STEER_TC_DIVERT6  21331u
#define STEER_COMMENT_TUN "spackle tun"

/*
 * Every rule carries a comment (iptables: `-m comment`, nft: `comment`),
 * so `spackle audit` can read each one's counters apart. An exemption's
 * comment is STEER_COMMENT_EXEMPT followed by the interface name, e.g.
 * "spackle exempt lo" (on the forward hook there are two such rules per
 * interface, one for -i and one for -o: sum them), or by the protocol
 * word: "spackle exempt icmp" (one rule per hook, in the IPv4 rules only:
 * `-p icmp`), "spackle exempt icmpv6" (one rule per hook, IPv6 rules only:
 * `-p ipv6-icmp`, as ip6tables-save prints it). nft has both in its inet
 * chains (`meta nfproto ipv4 meta l4proto icmp`, `meta nfproto ipv6 meta
 * l4proto ipv6-icmp`).
 */
#define STEER_COMMENT_ACCEPT      "spackle accept"
#define STEER_COMMENT_ONCE        "spackle once"
#define STEER_COMMENT_DENY        "spackle deny"
#define STEER_COMMENT_REJECT      "spackle reject"
#define STEER_COMMENT_SAVE        "spackle save"
#define STEER_COMMENT_DNS         "spackle dns"
#define STEER_COMMENT_EXEMPT      "spackle exempt "
#define STEER_COMMENT_FLOW_ACCEPT "spackle flow accept"
#define STEER_COMMENT_FLOW_DENY   "spackle flow deny"
#define STEER_COMMENT_FLOW_REJECT "spackle flow reject"
/* The reset REJECT sends back for a rejected TCP flow (pfconf/iptables.c). */
#define STEER_COMMENT_FLOW_RESET "spackle flow reset"
#define STEER_COMMENT_QUEUE      "spackle queue"

/*
 * Check that c can be turned into rules: queues >= 1 and the queue range
 * inside 0..65535, at least one hook and no unknown hook bit, every
 * exemption a non-empty interface name of [A-Za-z0-9._@-] shorter than
 * CONFIG_IFNAME_MAX, or one of the words CONFIG_EXEMPT_ICMP ("icmp") and
 * CONFIG_EXEMPT_ICMP6 ("icmpv6"), each at most once. Returns 0, or
 * -EINVAL with the reason in err (err may be NULL).
 */
int steer_validate(const struct config *c, char *err, size_t errlen);

/*
 * What exemption name stands for: SP_PROTO_ICMP for "icmp" (a rule in the
 * IPv4 text only), SP_PROTO_ICMP6 for "icmpv6" (IPv6 only), 0 for an
 * interface (rules in both families).
 */
unsigned steer_exempt_proto(const char *name);

#endif

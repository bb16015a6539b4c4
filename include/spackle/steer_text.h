/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The steering rules as text for iptables-restore and nft: pure generators. */
#ifndef SPACKLE_STEER_TEXT_H
#define SPACKLE_STEER_TEXT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h> /* AF_INET, AF_INET6 */

#include "spackle/config.h"
#include "spackle/steer_names.h"

/*
 * Generators: pure functions that write text to out and do nothing else.
 * Each returns 0, -EINVAL when c does not validate (nothing is written) or
 * -EIO when writing to out failed.
 */

/*
 * iptables-restore --noflush input for family AF_INET (iptables-restore)
 * or AF_INET6 (ip6tables-restore): declares spackle's chains, fills them
 * and inserts each jump as rule 1 of its hook. It adds to the host's rules
 * and replaces none of them; it is not idempotent (a second run adds a
 * second jump), so steer_apply() cleans up first. The rule lines are in
 * the form iptables-save prints them, so installed rules compare verbatim.
 */
int steer_iptables_text(const struct config *c, int family, FILE *out);

/*
 * iptables-restore --noflush input that removes what
 * steer_iptables_text(c, ...) installed: deletes the jumps by their spec,
 * then flushes and deletes the chains. It fails, changing nothing, when
 * any of these is missing (see steer_iptables_cleanup_text()). The same
 * text serves both families.
 */
int steer_iptables_remove_text(const struct config *c, FILE *out);

/*
 * From the output of iptables-save (or ip6tables-save), len bytes at save,
 * write iptables-restore --noflush input that removes everything of
 * spackle's it lists: every rule, in any chain, that jumps (-j) or goes
 * (-g) to a chain named STEER_CHAIN_PREFIX..., once per copy, then those
 * chains. This is the crash cleanup: it works whatever config installed
 * the rules and however often. Returns the number of jumps plus chains
 * found (0: nothing written, nothing to do), -EINVAL or -EIO.
 */
int steer_iptables_cleanup_text(const char *save, size_t len, FILE *out);

/*
 * nft -f input: the table inet spackle with its base chains. It begins by
 * declaring and deleting the table, so one run replaces a stale table
 * atomically and a re-run is harmless.
 */
int steer_nft_text(const struct config *c, FILE *out);

/* nft -f input that deletes table inet spackle (it must exist). */
int steer_nft_remove_text(FILE *out);

/*
 * With several queues, which one a packet goes to (pfconf/queue_split.c):
 * a classic BPF program, for iptables' -m bpf, that answers 1 when the
 * packet's flow hashes to queue `which` of `queues` (0-based), the same
 * for both directions, ports included. The last queue's rule needs none:
 * it takes what the others did not. steer_queue_filter() writes at most
 * max instructions to out and returns how many, -EINVAL or -ENOSPC;
 * steer_queue_bytecode() writes the program as xt_bpf's --bytecode
 * argument, quoted as iptables-save prints it.
 */
#define STEER_QUEUE_FILTER_MAX 48
struct sock_filter;
int steer_queue_filter(int family, unsigned queues, unsigned which,
                       struct sock_filter *out, size_t max);
int steer_queue_bytecode(int family, unsigned queues, unsigned which,
                         FILE *out);

/*
 * The same split for conntrack's events (flow mode): a socket filter, for
 * a ctnetlink event socket, that keeps an event when its flow's packets go
 * to queue `which` of `queues` by the program above (by its original or
 * its reply tuple, so a NATed flow is kept too), or, with which ==
 * STEER_CT_DNS, when it is a DNS flow (TCP or UDP, port 53 at either
 * end), which the DNS queue takes. An event without a tuple is kept. Each
 * worker then reads the destroy events of its own flows instead of every
 * one. Only for the iptables steering: nft's symhash is the kernel's own
 * hash. Returns the number of instructions written, -EINVAL or -ENOSPC.
 */
#define STEER_CT_FILTER_MAX 256
#define STEER_CT_DNS        (~0u)
int steer_ct_event_filter(unsigned queues, unsigned which,
                          struct sock_filter *out, size_t max);

/*
 * `backend = tun` (pfconf/tun_text.c has the why): steer_iptables_text(),
 * steer_iptables_remove_text() and steer_nft_text() give these for such a
 * config. The marking chain, in table mangle, hooked into OUTPUT.
 */
int steer_tun_iptables_text(const struct config *c, int family, FILE *out);
int steer_tun_iptables_remove_text(FILE *out);
int steer_tun_nft_text(const struct config *c, FILE *out);

/* An interface whose ingress the tunnel steering redirects. */
struct steer_tun_if {
	char name[CONFIG_IFNAME_MAX];
	unsigned char bcast[4][4]; /* its IPv4 broadcast addresses */
	unsigned nbcast;
	int has_clsact; /* it has a clsact qdisc already (not added) */
};

/*
 * The routing and tc commands, one a line, words separated by one space:
 * the tun's default route and the fwmark rule in both families (with
 * failure closed, the blackhole route), then per interface of ifs (with
 * the `in` hook) its clsact qdisc when it has none, the filters that let
 * link-local traffic be, and the redirect into the tun.
 */
int steer_tun_route_text(const struct config *c, const struct steer_tun_if *ifs,
                         size_t nifs, FILE *out);
/* Commands that remove all of that from ifs (and the rule and table),
 * whatever config installed it; the clsact qdiscs are steer_tun.c's. */
int steer_tun_route_remove_text(const struct steer_tun_if *ifs, size_t nifs,
                                FILE *out);

#endif

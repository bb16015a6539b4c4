/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel steering: the netfilter rules that send packets to the divert. */
#ifndef SPACKLE_STEER_H
#define SPACKLE_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h> /* AF_INET, AF_INET6 */

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
 * A tool's output (iptables-save: the whole filter table) is read up to
 * this many bytes; more is an error (-EFBIG).
 */
#define STEER_OUTPUT_MAX (64u << 20)

enum steer_ipt_variant {
	STEER_IPT_NONE = 0, /* iptables is not installed or does not run */
	STEER_IPT_NFT,      /* iptables-nft: "(nf_tables)" */
	STEER_IPT_LEGACY,   /* iptables-legacy: "(legacy)" or no suffix */
};

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
 * Kernel side: these run iptables-restore, ip6tables-restore, *-save, nft
 * and iptables -V (fork and exec, no shell; looked up along root's usual
 * PATH, /usr/local/sbin to /bin, not the caller's) in the calling
 * thread's network namespace, and need CAP_NET_ADMIN. They wait for the
 * child with waitpid(): the caller must not reap children it did not
 * start (nor set SIGCHLD to SIG_IGN). On failure, err (errlen bytes, may
 * be NULL) gets a message saying what failed and the tool's own words.
 */

/*
 * Which firewall c steers with: CONFIG_FIREWALL_IPTABLES or _NFT; `auto`
 * picks nft when steer_detect_nft_queue() says yes, else iptables.
 */
enum config_firewall steer_firewall(const struct config *c);

/*
 * Does the kernel take nft's `queue` statement? Checked with `nft -c`:
 * a check-only run of a tiny table whose regular chain holds a queue rule.
 * The kernel validates it inside a transaction that is then aborted, and
 * no hook is registered, so the running ruleset is not touched. False also
 * when nft is missing or fails.
 */
bool steer_detect_nft_queue(void);

/* Which iptables `iptables-restore` is (from `iptables -V`), for status. */
enum steer_ipt_variant steer_iptables_variant(void);
/* "nf_tables", "legacy" or "none". */
const char *steer_ipt_variant_name(enum steer_ipt_variant v);

/*
 * Install c's steering rules: first steer_cleanup() (stale rules of a
 * crashed run, of either backend), then, per steer_firewall(c), one
 * iptables-restore --noflush run per family (IPv6 only when the kernel
 * has it), each atomic; when IPv6 fails the IPv4 rules are taken out
 * again. Or one nft -f run. Returns 0, -EINVAL (c does not validate),
 * -ENOENT (a tool is missing) or -EIO (a tool failed).
 */
int steer_apply(const struct config *c, char *err, size_t errlen);

/*
 * Remove what steer_apply(c) installed, exactly: the jumps by their spec
 * and spackle's chains, or the nft table. If that fails because the rules
 * were changed meanwhile (tampering, or c is not what was applied), fall
 * back to steer_cleanup() and return 1 with err saying so. Returns 0, 1,
 * or -errno as steer_apply().
 */
int steer_remove(const struct config *c, char *err, size_t errlen);

/*
 * Remove every spackle rule of both backends and families, whatever
 * installed it (steer_iptables_cleanup_text() on iptables-save's output,
 * and table inet spackle if it exists). Nothing there is not an error;
 * a missing tool is skipped. Returns 0 or -errno.
 */
int steer_cleanup(char *err, size_t errlen);

/*
 * The firewall as it stands: the output of `iptables-save -c` (family
 * AF_INET) or `ip6tables-save -c` (AF_INET6), every table, with counters,
 * NUL-terminated, in *buf (malloc'd: the caller frees it), its length in
 * *len. Returns 0, -EINVAL (bad family), -ENOENT (the tool is missing),
 * -EIO (it failed), -EFBIG (more than STEER_OUTPUT_MAX) or another
 * -errno when it could not be run.
 */
int steer_save(int family, char **buf, size_t *len, char *err, size_t errlen);

/*
 * Put c's iptables steering back where it is not as steer_apply(c) left
 * it (fw_check_steering(), include/spackle/fwread.h): per family (IPv6
 * only when the kernel has it), read iptables-save -c, check, and when a
 * hook is wrong run fw_repair_text() through ip(6)tables-restore
 * --noflush, one transaction per family; then read and check again. The
 * host's rules are not touched, but for other rules that jump to
 * spackle's chains from its hooks, deleted with the stale jumps.
 * Returns the number of hooks repaired (0: all was well; then err is
 * ""), with err saying which and what was wrong, or -EINVAL (c does not
 * validate), -ENOENT (a tool is missing), -EIO (a tool failed, or the
 * steering is still wrong after the repair), -ENOMEM. With nft
 * (steer_firewall(c) == CONFIG_FIREWALL_NFT): -ENOTSUP, for now.
 */
int steer_repair(const struct config *c, char *err, size_t errlen);

#endif

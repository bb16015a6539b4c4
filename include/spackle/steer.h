/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel steering: install, remove, check and repair the netfilter rules
 * that send packets to the divert. */
#ifndef SPACKLE_STEER_H
#define SPACKLE_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h> /* AF_INET, AF_INET6 */

#include "spackle/config.h"
#include "spackle/mark.h"
/* What the rules are called (steer_names.h) and their text (steer_text.h):
 * included here too, so one include serves a user of the whole API. */
#include "spackle/steer_names.h"
#include "spackle/steer_text.h"

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
 * Kernel side: these run iptables-restore, ip6tables-restore, *-save, nft
 * and iptables -V (posix_spawn, no shell; looked up along root's usual
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

/*
 * `backend = tun`: the routing and tc half of its steering as it stands
 * (pfconf/steer_tun.c), for audit. The marking chain is read with
 * steer_save() like the NFQUEUE rules (table mangle).
 */
struct steer_tun_state {
	unsigned rules;                  /* fwmark rules found, of 2 families */
	unsigned ifaces;                 /* interfaces that should redirect */
	unsigned ifaces_redirected;      /* ... that do, both families */
	char missing[CONFIG_IFNAME_MAX]; /* the first that does not */
	uint64_t redirected; /* packets tc redirected into the tun */
	/* With the nft firewall: its marking chain (iptables' is read
	 * with steer_save()). */
	bool nft_chain;      /* table inet spackle has the tun_out chain */
	uint64_t nft_marked; /* its marking rule's counter */
};
/* 0, or -ENOENT when ip or tc is missing. */
int steer_tun_state(const struct config *c, struct steer_tun_state *st);
/* The `ip` and `tc` commands steer_apply() would run for c, for this
 * host's interfaces as they are now (`spackle steering print`). */
int steer_tun_print(const struct config *c, FILE *out);

#endif

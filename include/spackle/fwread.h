/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The firewall as it stands: iptables-save -c output read into rules with
 * their counters, spackle's steering checked against what it installs, and
 * other programs' rules matched against a flow (spackle audit).
 */
#ifndef SPACKLE_FWREAD_H
#define SPACKLE_FWREAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spackle/config.h"
#include "spackle/spackle.h"

#define FW_NAME_MAX 32 /* chain, target and interface names, with NUL */

/* What a rule does with a packet it matches. */
enum fw_kind {
	FW_K_OTHER = 0, /* a target this reader does not judge (LOG, MARK) */
	FW_K_ACCEPT,
	FW_K_DROP,
	FW_K_REJECT,
	FW_K_RETURN,
	FW_K_QUEUE, /* NFQUEUE */
	FW_K_JUMP,  /* -j or -g to a user chain (target holds its name) */
	FW_K_NONE,  /* no target: a counting rule */
};

struct fw_rule {
	int family;              /* AF_INET or AF_INET6 */
	char chain[FW_NAME_MAX]; /* OUTPUT, SPACKLE-OUT, ... */
	unsigned pos;            /* 1-based, within its chain */
	char *spec;              /* as iptables-save prints it, counters left
	                            out: "-A OUTPUT -m owner --uid-owner 1234
	                            -j ACCEPT" */
	uint64_t packets, bytes;
	char target[FW_NAME_MAX]; /* "" when none */
	enum fw_kind kind;
	char *comment; /* -m comment --comment, unquoted; NULL when none */

	/* What it matches, as far as fw_rule_match() can tell. */
	uint8_t proto; /* -p, 0: any */
	bool proto_neg;
	bool has_src, has_dst, src_neg, dst_neg;
	struct sp_addr src, dst; /* -s, -d (v4-mapped for IPv4) */
	unsigned src_plen, dst_plen;
	char in_if[FW_NAME_MAX], out_if[FW_NAME_MAX]; /* -i, -o; "" any; a
	                                                  trailing + is a
	                                                  prefix */
	bool in_neg, out_neg;
	bool has_sport, has_dport, sport_neg, dport_neg;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi; /* --sport A[:B] */
	bool has_uid, uid_neg;
	uint32_t uid_lo, uid_hi; /* -m owner --uid-owner A[-B] */
	bool unknown; /* a match this reader does not understand: the rule
	                 may match or not (fw_rule_match says MAYBE) */
};

/* A chain as iptables-save declares it: ":NAME POLICY [packets:bytes]". */
struct fw_chain {
	int family;
	char name[FW_NAME_MAX];
	char policy[FW_NAME_MAX]; /* ACCEPT, DROP; "-" for a user chain */
	uint64_t packets, bytes;  /* the policy's counters */
};

/*
 * The rules of one table of one family, in the order iptables-save gave,
 * and the chains it declared (an empty chain has no rule to show it).
 * Start from all zeroes ({0}).
 */
struct fw_ruleset {
	struct fw_rule *v;
	size_t n, cap;
	struct fw_chain *chains;
	size_t nchains, chaincap;
};

/*
 * Read iptables-save -c (or ip6tables-save -c) output: the rules of table
 * `table` ("filter") into rs, appended, each with its family, and the
 * chains it declares. Lines of other tables are skipped. A line it cannot
 * read is an error: -EINVAL, with "line N: what" in err (err may be
 * NULL); rs keeps what was read before it. So is a table left without
 * its COMMIT (output cut short). -ENOMEM when memory runs out.
 *
 * A rule's target: ACCEPT, DROP, REJECT, RETURN, NFQUEUE (and QUEUE) by
 * kind; -g CHAIN, and -j CHAIN to a chain the table declares, FW_K_JUMP;
 * any other target FW_K_OTHER. Matches judged: -p, -s, -d, -i, -o,
 * -m tcp/udp --sport/--dport, -m owner --uid-owner (numeric, or a name
 * getpwnam() knows); -m comment is kept. Anything else (multiport, mark,
 * conntrack, -f, a protocol or user name not known here...) sets unknown.
 */
int fw_parse_save(const char *text, size_t len, int family, const char *table,
                  struct fw_ruleset *rs, char *err, size_t errlen);
void fw_ruleset_free(struct fw_ruleset *rs);

/* The packets counted by spackle's rules (in its own chains) whose comment
 * is `comment`: what the steering sent to the queues, for one. */
uint64_t fw_rules_sum(const struct fw_ruleset *rs, const char *comment);
/* The same rules' bytes: an exemption's traffic. */
uint64_t fw_rules_bytes(const struct fw_ruleset *rs, const char *comment);

/*
 * What passed the queues unseen (fail-open), counted once a second from
 * the queue rules' packets (`sent`, read first) and what the queues and
 * the daemon account for (`seen`: received, waiting, dropped, read after).
 * A packet between the rule and the queue when they are read looks
 * unseen for that one read, so only what stays unseen over two reads in a
 * row is counted: the total never takes a packet back, and a packet in
 * flight never enters it. Counters that start again (a steering put back,
 * `sent` going down, or other `families` read) start a new epoch: only
 * what grows from there is added. Zero it to start.
 */
struct fw_unseen {
	uint64_t total; /* what passed unseen, all epochs */
	uint64_t base;  /* total when this epoch began */
	uint64_t seen0; /* `seen` when it began (0: from the install) */
	uint64_t sent_last, prev;
	unsigned families; /* read this epoch; 0 before the first read */
};
/* One read; the total after it. */
uint64_t fw_unseen_update(struct fw_unseen *u, uint64_t sent, uint64_t seen,
                          unsigned families);

/* One packet as a firewall hook would see it. */
struct fw_pkt {
	int family;
	uint8_t proto;
	struct sp_addr src, dst;
	uint16_t sport, dport;
	const char *in_if, *out_if; /* NULL: none in this hook */
	int64_t uid;                /* the sending socket's owner, -1 unknown */
};

enum fw_match { FW_NO = 0, FW_YES, FW_MAYBE };

/* Would r match p? MAYBE when it has a match this reader cannot judge
 * (r->unknown) or needs what p does not know (an owner match, uid -1). */
enum fw_match fw_rule_match(const struct fw_rule *r, const struct fw_pkt *p);

/*
 * A rule described for a person, its target first, then what it matches:
 * "ACCEPT tcp to 203.0.113.9/32 port 443 from uid 1234", "ACCEPT from uid
 * 1234", "DROP all", "jump FOO in eth0"; " and other matches" when
 * r->unknown, then the comment in ("..."). Cut to len (NUL-terminated).
 */
void fw_rule_describe(const struct fw_rule *r, char *buf, size_t len);

/*
 * spackle's steering in one hook of one family, as installed against what
 * c would install (steer_iptables_text(c, family)).
 */
struct fw_hook_check {
	int family;
	const char *hook;  /* "OUTPUT", "INPUT", "FORWARD" */
	const char *chain; /* "SPACKLE-OUT", ... */
	unsigned jumps;    /* rules of the hook that jump (or go) to chain */
	unsigned jump_pos; /* position of the first such rule, 0 when none */
	char **jump_specs; /* each of those rules' spec (malloc'd), in order:
	                      jumps of them; what the repair deletes */
	/* Rules of the hook placed before that jump (all of them when there
	 * is no jump): indexes into the ruleset, in order. */
	size_t *above;
	size_t nabove;
	bool chain_present;
	/* Rules c installs in chain that are not there, and rules there
	 * that c does not install: specs (malloc'd), in order. */
	char **missing, **extra;
	size_t nmissing, nextra;
	bool ok; /* one jump, first in the hook and unconditional ("-A HOOK
	            -j CHAIN"), chain complete, no extra, in c's order */
};

struct fw_steer_check {
	struct fw_hook_check *v; /* one per configured hook and family given */
	size_t n;
	bool ok; /* every hook ok */
};

/*
 * Check c's steering for family in rs (which may hold both families: only
 * family's rules are looked at). Appends one fw_hook_check per configured
 * hook to out (hooks in the order out, in, forward); out->ok is then true
 * when every entry of out is. The chain's rules are compared with the -A
 * lines of steer_iptables_text(c, family) as a diff (longest common
 * subsequence): a rule moved out of its place is both missing (where it
 * belongs) and extra (where it is). Specs are compared with single spaces,
 * -p by protocol number (ipv6-icmp, icmpv6 and 58 are one), and -s/-d
 * with their /32 or /128 written out. 0, -ENOMEM or -EINVAL (c does not
 * validate, bad family).
 */
int fw_check_steering(const struct config *c, int family,
                      const struct fw_ruleset *rs, struct fw_steer_check *out);
void fw_steer_check_free(struct fw_steer_check *ch);

/*
 * One hook's check as `spackle audit --json` and the daemon's tamper
 * events show it: family, hook, chain, ok, jumps, position, chain_present,
 * first, above (each rule before the jump: rule, position, matches,
 * packets, bytes, from rs), missing and extra. NULL out of memory.
 */
json_t *fw_hook_check_json(const struct fw_ruleset *rs,
                           const struct fw_hook_check *hc);

/*
 * iptables-restore --noflush input that puts c's steering for family back
 * as it should be, from what ch found for that family, in one transaction
 * (under *filter, ending with COMMIT). For each hook that is not ok:
 * when its jump is not one unconditional rule 1, every jump to spackle's
 * chain is deleted by its spec (one -D per copy) and "-I HOOK 1 -j CHAIN"
 * inserted; a missing chain is declared (":CHAIN - [0:0]") and filled; a
 * chain that is not complete, holds extra rules or has them out of order
 * is flushed (-F) and filled again. A part that is right is not touched,
 * nor are hooks that are ok, nor entries of ch of the other family.
 * Writes nothing and returns 0 when nothing needs repair; else the number
 * of hooks repaired, or -EINVAL (c does not validate) / -EIO / -ENOMEM.
 * A jump deleted by spec meanwhile makes iptables-restore fail, and the
 * whole transaction with it: nothing is half repaired.
 */
int fw_repair_text(const struct config *c, int family,
                   const struct fw_steer_check *ch, FILE *out);

#endif

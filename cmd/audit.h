/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the parts of `spackle audit` share: the run's state and its caps
 * (cmd/cmd_audit.c and the cmd/audit_*.c files; docs/audit.md).
 */
#ifndef SPACKLE_CMD_AUDIT_H
#define SPACKLE_CMD_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spackle/config.h"
#include "spackle/fwread.h"
#include "spackle/spackle.h"

#define AUDIT_WATCH_MAX  3600u  /* --watch at most, seconds */
#define AUDIT_TAPS_MAX   64     /* interfaces tapped at most */
#define AUDIT_FLOWS_MAX  65536u /* wire flows kept at most */
#define AUDIT_GRACE_MS   300    /* after the tap, before reading the divert */
#define AUDIT_PSOCK_MAX  256    /* packet sockets listed at most */
#define AUDIT_TELL_FLOWS 256    /* hidden flows told to the daemon at most */

struct audit {
	struct config cfg;
	bool json;
	unsigned watch;
	bool holes;
	json_t *counters, *steering, *hidden, *exempt, *notes;
	/* Read by the steering part, used by the hidden part. */
	struct fw_ruleset rs;
	struct fw_steer_check chk;
	bool have_rules;
	/* backend = tun: what the kernel marked into the tun and what tc
	 * redirected there, at the last read (audit_counters.c). */
	uint64_t tun_sent_out, tun_sent_in;
	json_t *status; /* the daemon's status reply, NULL when none */
};

/* ---- the counters (cmd/audit_counters.c) -------------------------------- */

/*
 * The kernel's counters for spackle's queue rules against the daemon's
 * and the queues' own: a->counters filled, a->rs and a->have_rules read,
 * a->status kept (NULL when the daemon did not answer), a->holes set when
 * they do not add up or something was dropped.
 */
void audit_counters(struct audit *a);

/* ---- the steering (cmd/audit_steering.c) -------------------------------- */

/* spackle's rules first and whole in every hook: a->steering and a->chk. */
void audit_steering(struct audit *a);
/* The first rule above spackle's in hook that matches p as surely as
 * `want` (FW_YES, or FW_MAYBE for YES or MAYBE), or NULL. */
const struct fw_rule *audit_rule_above(const struct audit *a, const char *hook,
                                       const struct fw_pkt *p,
                                       enum fw_match want);
/* Does hook of family hold a jump to spackle's chain? */
bool audit_hook_jumped(const struct audit *a, const char *hook, int family);

/* ---- the wire (cmd/audit_tap.c) ----------------------------------------- */

/* One flow seen on the wire, oriented local -> remote where one end is
 * local (else first sender -> receiver, and fwd set). */
struct wflow {
	uint8_t proto;
	bool fwd;
	struct sp_addr local, remote;
	uint16_t lport, rport;
	int ifindex;
	uint64_t pkts[2], bytes[2]; /* [0] sent by local, [1] received */
	/* Filled when it is judged. */
	uint64_t dpkts[2]; /* what crossed the divert, each way */
	bool found;        /* the divert knew the flow */
};

/* The flows the taps saw. Start from all zeroes; free with audit_wire_free. */
struct wire {
	struct wflow *v; /* in the order first seen */
	size_t n, cap;
	uint32_t *idx;    /* v by 5-tuple: a hash table (cmd/audit_tap.c) */
	size_t idxcap;    /* 0 or a power of two, at least 2 * n */
	uint64_t seed;    /* of its hash */
	uint64_t dropped; /* flows past AUDIT_FLOWS_MAX */
	uint64_t packets, not_ip;
	uint64_t not_ours;     /* to a group this host has not joined */
	struct sp_addr *local; /* this host's addresses */
	size_t nlocal;
	int ifindex; /* of the tap being read */
};

/* This host's addresses (every interface's, with the IPv4 broadcasts and
 * the groups it joined) into w, for telling local ends. 0 or -errno. */
int audit_local_addrs(struct wire *w);
/*
 * Tap every interface of this namespace for secs seconds (libpcap, one
 * handle each, headers only), counting each packet to its flow in w.
 * Notes on taps that could not open go to notes. Returns how many
 * interfaces were tapped, or -errno.
 */
int audit_wire_watch(struct wire *w, unsigned secs, json_t *notes);
void audit_wire_free(struct wire *w);

/* ---- hidden flows (cmd/audit_hidden.c) ---------------------------------- */

/*
 * --watch: tap for a->watch seconds, then list each direction of a flow
 * the wire saw and the divert did not in a->hidden (with its process and
 * probable cause) or a->exempt. 0, or -1 with a note when it could not.
 */
int audit_hidden(struct audit *a);

/* ---- the output (cmd/audit_report.c) ------------------------------------ */

/* The report on stdout: JSON with a->json, else text. */
void audit_print(const struct audit *a);
/* Tell the daemon what a watch found (its status and metrics show it). */
void audit_tell_daemon(struct audit *a);

#endif

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
#define AUDIT_EARLY_MAX  512    /* flows looked up while the tap runs */
#define AUDIT_EARLY_MS   100    /* the deadline of one such lookup */

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

/* Both families' filter (tun: mangle) tables into rs (freed first), notes
 * on what could not be read into a->notes; false when none was read. */
bool audit_read_ruleset(struct audit *a, struct fw_ruleset *rs);
/*
 * What spackle's queues let past unseen up to now, as the counters part
 * counts it: the queue rules' packets in rs (read just before) against
 * what the daemon received and the queues hold or dropped. -1 when that
 * cannot be told (the daemon does not answer; the tunnel backend).
 */
int64_t audit_unseen(const struct audit *a, const struct fw_ruleset *rs);

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
	int32_t early;     /* its lookup while the tap ran (struct wire's
	                      on_new): an index of the caller's, -1 none */
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
	/* Called once for each new flow that this host sent first (TCP or
	 * UDP, not forwarded), while its sender may still live; it sets
	 * f->early. NULL: none. */
	void (*on_new)(struct wflow *f, void *arg);
	/* Called before each wait for packets (at most 100 ms apart), with
	 * on_new_arg; the taps are open. NULL: none. */
	void (*on_tick)(void *arg);
	void *on_new_arg;
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

/* ---- why a flow was hidden, and who sent it (cmd/audit_cause.c) --------- */

/* A rule placed before spackle's jump, as read after the watch. */
struct audit_above {
	const struct fw_rule *r;
	const char *hook; /* OUTPUT, INPUT, FORWARD */
	uint64_t delta;   /* its packets over the watch */
	bool known;       /* delta known: read before and after the watch */
	uint64_t claimed; /* of delta, put on hidden flows it surely took */
};

/* What the kernel counted over a watch: read before and after the tap. */
struct audit_ev {
	struct fw_ruleset before, after;
	bool have_before, have_after;
	struct fw_steer_check chk;   /* of after (else of a->rs) */
	const struct fw_ruleset *rs; /* what chk indexes */
	struct audit_above *ab;      /* every hook's rules above, in order */
	size_t nab;
	/* What the queues had let past unseen (audit_unseen) before and
	 * after: -1 the daemon did not answer, -2 cannot be told. */
	int64_t unseen0, unseen1;
	struct psock_watch *pw; /* packet sockets seen during the watch */
};

/* One direction of a hidden flow whose cause is being decided. */
struct audit_hid {
	const struct wflow *f;
	int dir;     /* 0 sent by this host, 1 received */
	json_t *o;   /* its entry of a->hidden */
	int64_t uid; /* its socket's owner, -1 unknown */
	bool socket; /* an IP socket of this host held it (at a lookup) */
	const struct audit_above *rule; /* the rule above that took it */
	bool done;                      /* its cause is decided */
};

/* The counters before the tap: rules and queues. */
void audit_ev_before(struct audit *a, struct audit_ev *ev);
/* During it (the taps open): the packet sockets that exist now, so that
 * one that comes and goes during the watch is not missed. */
void audit_ev_tick(struct audit_ev *ev);
/* And after it (once the daemon had time to count its last packets). */
void audit_ev_after(struct audit *a, struct audit_ev *ev);
void audit_ev_free(struct audit_ev *ev);
/*
 * Each hidden direction's cause (cause, why and what applies of rule,
 * rule_at, rule_packets, rule_delta, socket_inode, packet_sockets) from
 * the evidence of the watch; a process only where it ties one to the
 * flow (docs/audit.md, "How a cause and a process are decided").
 */
void audit_causes(struct audit *a, struct audit_ev *ev, struct audit_hid *h,
                  size_t n);

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

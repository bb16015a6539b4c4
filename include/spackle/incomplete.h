/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Flows that never complete, beyond a budget, kept as aggregates: a flood
 * takes a bounded share of the store (docs/store.md). */
#ifndef SPACKLE_INCOMPLETE_H
#define SPACKLE_INCOMPLETE_H

#include <stdbool.h>
#include <stdint.h>

#include "spackle/flow.h"
#include "spackle/store.h"

/*
 * A flow is complete when both ends took part: for TCP the opener sent
 * again after the other end answered (the handshake's last ACK, or data);
 * for anything else, the other end answered at all. An unanswered SYN, a
 * SYN answered by a reset or a SYN-ACK to a spoofed source, a datagram
 * with no reply: incomplete.
 *
 * Each worker writes every flow's record when it is decided, as long as
 * fewer than `budget` of the flows it wrote are still incomplete or ended
 * incomplete this minute. Past the budget a new flow's record waits
 * (FLOW_F_DEFERRED): written as soon as the flow completes, or, when it
 * leaves the table incomplete, folded into an aggregate: one record per
 * (protocol, direction, verdict, opener's network (/24, /64), responder's
 * port) and minute, holding how many flows, packets and bytes. At most
 * INCOMPLETE_MAX_KEYS aggregates a minute per worker; past that they fold
 * into one per protocol, direction and verdict whose network and port are
 * "any". So a flood writes at most about
 * 2 * budget + INCOMPLETE_MAX_KEYS + 1 records a minute per worker, and
 * what the store held before it survives.
 */
#define INCOMPLETE_DEFAULT_BUDGET 256u
#define INCOMPLETE_MAX_BUDGET     1000000u
#define INCOMPLETE_MAX_KEYS       256u
#define INCOMPLETE_NET4           24u /* the opener's network */
#define INCOMPLETE_NET6           64u

/* Is f complete (above)? */
bool incomplete_flow_done(const struct flow *f);

struct incomplete;

/* One worker's book; budget 0 turns aggregation off (every record written
 * at once, as before). NULL when memory runs out. */
struct incomplete *incomplete_new(unsigned budget);
void incomplete_free(struct incomplete *in);

/*
 * A new flow was decided: true when its record is to be written now (it
 * counts against the budget until it completes: FLOW_F_UNANSWERED); false
 * when the budget is spent and the record waits (FLOW_F_DEFERRED).
 */
bool incomplete_admit(struct incomplete *in, struct flow *f);

/*
 * f's counters moved (a packet, a conntrack update): true when f was
 * deferred and has just completed, so its record is due now.
 */
bool incomplete_progress(struct incomplete *in, struct flow *f);

/*
 * f leaves the table; r is its final record. true: write r. false: f never
 * completed and its record was deferred: r went into an aggregate.
 */
bool incomplete_end(struct incomplete *in, const struct flow *f,
                    const struct store_flow *r);

/* f leaves the table undecided (held for a name that never came): it gives
 * its place in the budget back; no record is written of it. */
void incomplete_forget(struct incomplete *in, const struct flow *f);

/*
 * Once a second: when the minute (wall clock now_ns) changed since the
 * aggregates began, hand each to emit (an ended record, flag
 * STORE_FLOW_AGGREGATE, id from flow_id_new()) and start afresh. force:
 * hand them over whatever the minute (shutdown).
 */
void incomplete_tick(struct incomplete *in, uint64_t now_ns, bool force,
                     void (*emit)(const struct store_flow *r, void *arg),
                     void *arg);

struct incomplete_stats {
	uint64_t pending;    /* written, not complete yet */
	uint64_t ended;      /* written, ended incomplete this minute */
	uint64_t deferred;   /* records that waited (ever) */
	uint64_t promoted;   /* of which written when the flow completed */
	uint64_t folded;     /* of which went into an aggregate */
	uint64_t unkept;     /* folded but in none: >1000 kinds a minute */
	uint64_t aggregates; /* aggregate records handed over */
	uint64_t keys;       /* aggregates held now */
};

void incomplete_stats(const struct incomplete *in, struct incomplete_stats *st);

#endif

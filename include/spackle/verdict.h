/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict policy: what a packet gets, from the classifier's result and
 * the mode. One function, used by the daemon and by replay alike. */
#ifndef SPACKLE_VERDICT_H
#define SPACKLE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spackle/classify.h"

/* How the policy is set: from the config, fixed while a worker runs. */
struct verdict_policy {
	enum sp_verdict dflt; /* a packet with no flow to judge it by */
	bool monitor;         /* mode = monitor: decide, record, allow */
	/*
	 * divert = flow: the backend keeps a flow's verdict in its conntrack
	 * mark, so the kernel decides its later packets; a packet whose flow
	 * must keep crossing the divert passes alone (STEER_MARK_ONCE).
	 */
	bool flow_marks;
};

/* What one packet gets. */
struct verdict_out {
	enum sp_verdict verdict; /* what the backend answers */
	/* Flow mode: the steering mark (spackle/mark.h) to answer with
	 * instead of the verdict's own, 0 for the verdict's own. */
	uint32_t mark;
	enum sp_verdict decided; /* before monitor mode let it through */
	bool malformed;          /* no flow: the default decided */
	bool capture;            /* denied or rejected: the capture keeps it */
	bool reset_passed;       /* a TCP reset of a rejected flow, let go */
};

/*
 * Decide what the packet (len bytes at p, raw IP) that the classifier
 * gave res gets:
 *
 *   - no flow (a packet that cannot be parsed, or none that carries a
 *     flow): the default verdict, counted as malformed;
 *   - a TCP reset on a rejected flow passes (most often the reset the
 *     kernel's REJECT sent for it, which a REJECT would drop, leaving the
 *     peer to time out instead of being refused);
 *   - monitor mode: everything passes, the flow is marked FLOW_F_MONITOR
 *     and decided keeps what enforce mode would have done;
 *   - flow mode: a deny is kept in the flow's mark (STEER_MARK_DENY); a
 *     flow held for its name, and DNS (whose answers feed the names), pass
 *     this packet alone (STEER_MARK_ONCE), as does a passed reset.
 *
 * res->flow may be changed (its FLOW_F_MONITOR flag); nothing else is.
 */
void verdict_decide(const struct verdict_policy *pol,
                    const struct classify_result *res, const uint8_t *p,
                    size_t len, struct verdict_out *out);

#endif

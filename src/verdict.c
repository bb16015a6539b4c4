/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict policy: malformed packets, passed resets, monitor mode and
 * flow-mode marks, as one function of the classifier's result. */
#include <string.h>

#include "spackle/mark.h"
#include "spackle/packet.h"
#include "spackle/verdict.h"

/* Is the packet a TCP segment with RST set? */
static bool
verdict_is_reset(const uint8_t *p, size_t len)
{
	struct packet pk;

	return packet_parse_frame(PACKET_LINK_RAW, p, len, &pk) == PACKET_OK &&
	       pk.proto == SP_PROTO_TCP && (pk.tcp_flags & PACKET_TCP_RST);
}

/* A flow whose every packet must keep crossing the divert in flow mode. */
static bool
verdict_keeps_crossing(const struct flow *f)
{
	return (f->flags & (FLOW_F_NAME_WAIT | FLOW_F_DNS)) != 0;
}

void
verdict_decide(const struct verdict_policy *pol,
               const struct classify_result *res, const uint8_t *p, size_t len,
               struct verdict_out *out)
{
	enum sp_verdict v = res->verdict;

	memset(out, 0, sizeof(*out));
	if (res->status != PACKET_OK || v == SP_VERDICT_NONE) {
		out->malformed = true;
		v = pol->dflt;
	}
	out->decided = v;
	out->reset_passed = v == SP_VERDICT_REJECT && verdict_is_reset(p, len);
	if (pol->monitor) {
		if (res->flow != NULL)
			res->flow->flags |= FLOW_F_MONITOR;
		v = SP_VERDICT_ALLOW;
	}
	out->capture = v == SP_VERDICT_DENY || v == SP_VERDICT_REJECT;
	if (out->reset_passed) {
		v = SP_VERDICT_ALLOW;
		if (pol->flow_marks)
			out->mark = STEER_MARK_ONCE;
	} else if (pol->flow_marks && res->flow != NULL) {
		if (v == SP_VERDICT_DENY)
			out->mark = STEER_MARK_DENY;
		else if (v == SP_VERDICT_ALLOW &&
		         verdict_keeps_crossing(res->flow))
			out->mark = STEER_MARK_ONCE;
	}
	out->verdict = v;
}

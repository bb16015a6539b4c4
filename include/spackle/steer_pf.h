/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pf steering as text: the anchor spackle loads on macOS (route-to its
 * utun) and on OpenBSD (divert-packet), and what its rules are called. */
#ifndef SPACKLE_STEER_PF_H
#define SPACKLE_STEER_PF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "spackle/config.h"
#include "spackle/steer_names.h"

/*
 * Generated and tested as text on Linux; not yet loaded on macOS or
 * OpenBSD (docs/steering.md, "pf").
 *
 * Every rule lives in the anchor STEER_PF_ANCHOR, which the main ruleset
 * must call before any filter rule of its own; every rule is `quick` and
 * `no state` (pf looks a packet's state up before any rule, so a state
 * would let the later packets of a flow pass without meeting them), so
 * spackle's anchor decides every packet of the configured hooks: steered,
 * exempt, or passed back after spackle's verdict.
 */
enum steer_pf_flavour {
	STEER_PF_MACOS = 0, /* Apple's pf (OpenBSD 4.x syntax): route-to the
	                       tunnel `tun_name`, next hops `tun_peer` */
	STEER_PF_OPENBSD,   /* OpenBSD 7.x: divert-packet port `queue_base` */
};

#define STEER_PF_ANCHOR    "spackle"
#define STEER_PF_LABEL_MAX 64 /* pf's PF_RULE_LABEL_SIZE, NUL included */
/* macOS: what comes back in through the tunnel is tagged so. */
#define STEER_PF_TAG "SPACKLE"

/*
 * Labels. Every rule carries `label "..."`, so `pfctl -a spackle -vvsr`
 * (include/spackle/pfread.h) gives its counters apart. A label is a base,
 * then the hook (out, in), then for rules of one family the family
 * (inet, inet6):
 *
 *   STEER_COMMENT_EXEMPT NAME " " HOOK   "spackle exempt lo0 out": an
 *        interface, both families in one rule; the words icmp (an inet
 *        rule) and icmpv6 (an inet6 rule) likewise: "spackle exempt icmp
 *        in"
 *   STEER_COMMENT_LINK " " HOOK " " AF   "spackle link out inet6": what
 *        never leaves its link (multicast, broadcast, link-local
 *        addresses, neighbour discovery), which the divert cannot hand
 *        back to the right link: several rules under one label, sum them
 *   STEER_COMMENT_QUEUE " " HOOK " " AF  "spackle queue in inet": the
 *        steering itself (route-to the tunnel, or divert-packet)
 *
 * and on macOS three rules of the tunnel, without hook or family:
 *
 *   STEER_COMMENT_TUN         out on the tunnel: the steered packets on
 *                             their way to spackle
 *   STEER_COMMENT_REINJECT    in on the tunnel: what spackle wrote back,
 *                             tagged STEER_PF_TAG
 *   STEER_COMMENT_REINJECTED  out, tagged STEER_PF_TAG: what spackle
 *                             passed leaves without being steered again
 *                             (only with the out hook)
 */
#define STEER_COMMENT_TUN        "spackle tun"
#define STEER_COMMENT_REINJECT   "spackle reinject"
#define STEER_COMMENT_REINJECTED "spackle reinjected"
#define STEER_COMMENT_LINK       "spackle link"

/* "pf-macos", "pf-openbsd". */
const char *steer_pf_name(enum steer_pf_flavour f);
/* The flavour steer_pf_name() calls name; false for any other name. */
bool steer_pf_flavour(const char *name, enum steer_pf_flavour *f);

/*
 * Check that c can be made into f's anchor: steer_validate(), then what
 * pf needs. Both: hooks only out and in (pf has no forward hook: a
 * forwarded packet crosses pf as it comes in and as it goes out), divert
 * = packet (flow mode keeps verdicts in conntrack marks, which pf has
 * not). macOS: tun_name is utunN, not exempt, lo0 exempt (packets of
 * 127.0.0.0/8 and ::1 cannot come back in through a tunnel), both peers
 * set. OpenBSD: queue_base is a divert port (1-65535). Returns 0 or
 * -EINVAL with the reason in err, starting with f's name (err may be
 * NULL).
 */
int steer_pf_validate(const struct config *c, enum steer_pf_flavour f,
                      char *err, size_t errlen);

/*
 * The anchor's rules, as `pfctl -a spackle -f -` loads them, in the form
 * pfctl -sr prints them back (fields in pfctl's order). A generator as
 * those of steer_text.h: 0, -EINVAL when c does not validate for f
 * (nothing written), -EIO when writing failed. Removing them is
 * `pfctl -a spackle -F rules`: no text.
 */
int steer_pf_text(const struct config *c, enum steer_pf_flavour f, FILE *out);

#endif

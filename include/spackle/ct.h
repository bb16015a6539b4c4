/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Conntrack through ctnetlink (libnetfilter_conntrack), for flow mode: a
 * decided flow's later packets never cross the divert, so its packets and
 * bytes come from conntrack's accounting, its end from conntrack's destroy
 * events, and a reload re-decides it by rewriting its conntrack mark.
 */
#ifndef SPACKLE_CT_H
#define SPACKLE_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spackle/spackle.h"

/* One conntrack entry, as the original direction's tuple names it. For
 * ICMP and ICMPv6 echo, sport and dport both hold the echo id (as
 * packet.c does), type and code are not kept. */
struct ct_key {
	uint8_t proto; /* IP protocol number */
	struct sp_addr src, dst;
	uint16_t sport, dport;
};

struct ct_entry {
	struct ct_key key;             /* the original direction */
	uint64_t packets[2], bytes[2]; /* [0] original, [1] reply; 0 when
	                                  accounting is off */
	uint32_t mark;
	bool destroyed; /* a destroy event: these are its last counters */
};

struct ct;

/*
 * A ctnetlink handle in the calling thread's network namespace, non-blocking.
 * With events, it subscribes to destroy events (NFNLGRP_CONNTRACK_DESTROY),
 * read by ct_read_events(). 0, or -1 with a message in err. Needs
 * CAP_NET_ADMIN. With nf_conntrack_events = 2 (the kernel's default) an
 * entry gets its events only if some socket listened when it was created:
 * open with events before the flows start. One thread at a time per handle.
 */
int ct_open(struct ct **out, bool events, char *err, size_t errlen);
void ct_close(struct ct *c);

/* The descriptor to poll for events (libevent), -1 without events. */
int ct_fd(const struct ct *c);

typedef void (*ct_entry_fn)(const struct ct_entry *e, void *arg);

/*
 * Hand the destroy events waiting on the socket to fn, without blocking:
 * at most max_reads datagrams (0: 256), so a caller with other work (a
 * worker's queue) bounds how long one call keeps it; ct_events_more() then
 * says whether the call stopped at that bound rather than at an empty
 * socket. Returns how many, or -1 (err in ct_error()). Lost events
 * (ENOBUFS) are counted (ct_lost(): overflows, each one event or more) and
 * reading goes on. A closed TCP connection's entry ends when TIME_WAIT
 * runs out and the kernel reaps it: its garbage collector may take a
 * minute more, a lookup of the entry (ct_get) reaps it at once.
 */
int ct_read_events(struct ct *c, unsigned max_reads, ct_entry_fn fn, void *arg);
bool ct_events_more(const struct ct *c);
uint64_t ct_lost(const struct ct *c);

/*
 * Keep only the events a socket filter passes (classic BPF, n
 * instructions; steer_ct_event_filter() makes one per worker). Events
 * queued before the call may still come. 0, or -1 (err in ct_error()).
 */
struct sock_filter;
int ct_filter_events(struct ct *c, const struct sock_filter *prog, size_t n);

/*
 * The entry for k (either direction's tuple; the kernel hashes both) in
 * zone 0: 0 and *out, -ENOENT, or -1. An ICMP or ICMPv6 key is tried as an
 * echo request's tuple, then as an echo reply's (the reply direction's).
 */
int ct_get(struct ct *c, const struct ct_key *k, struct ct_entry *out);

/*
 * Set the bits of the entry's mark under mask to value (CTA_MARK with
 * CTA_MARK_MASK: the other bits stay, whoever set them; value's bits
 * outside mask are ignored). k as for ct_get(). 0, -ENOENT or -1.
 */
int ct_set_mark(struct ct *c, const struct ct_key *k, uint32_t value,
                uint32_t mask);

/* Every entry, counters and marks, to fn (a dump). 0 or -1. */
int ct_dump(struct ct *c, ct_entry_fn fn, void *arg);

const char *ct_error(const struct ct *c);

/*
 * Turn on conntrack accounting in this namespace
 * (/proc/sys/net/netfilter/nf_conntrack_acct = 1): entries created after
 * count packets and bytes. 0, 1 when it was on already, or -errno.
 */
int ct_enable_acct(void);

#endif

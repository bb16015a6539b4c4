/* SPDX-License-Identifier: GPL-2.0-or-later */
/* History from the store: `spackle log`, `spackle top`, `rules suggest`. */
#ifndef SPACKLE_HISTORY_H
#define SPACKLE_HISTORY_H

#include <jansson.h>
#include <stdio.h>

#include "spackle/store.h"

/*
 * Which flows a command looks at. A flow is in [since, until] when it was
 * alive at some moment of it: last seen at or after since, first seen at or
 * before until (0: no bound).
 */
struct history_filter {
	uint64_t since_ns, until_ns;
	const char *process;     /* glob on the exe path, `*` crossing '/';
	                            without a '/', on its last component too */
	const char *host;        /* the name or any name under it, or an
	                            address or CIDR of the remote end */
	enum sp_verdict verdict; /* SP_VERDICT_NONE: any */
	/* Filled by history_filter_prepare() from host. */
	bool host_is_net;
	struct sp_addr host_net;
	unsigned host_plen;
};

/* Check and pre-parse the filter; false with a message on err. */
bool history_filter_prepare(struct history_filter *f, FILE *err);
bool history_match(const struct history_filter *f, const struct store_flow *r);

/*
 * A time for --since/--until: ISO 8601 (2026-11-28T10:00:00Z, with
 * fractions, a +HH:MM/-HH:MM offset, a space for the T, or the date
 * alone; without a zone, UTC), a relative time back from now (30s, 15m,
 * 1h, 2d, 1w), "now", or @SECONDS since the epoch. 0 or -1.
 */
int history_parse_time(const char *s, uint64_t now_ns, uint64_t *out_ns);

/* Format wall-clock ns as 2026-11-28T10:00:00Z (buf >= 24). */
char *history_format_time(uint64_t ns, char *buf, size_t len);

/*
 * The registrable part of a host name, as `rules suggest` collapses names:
 * the last two labels, or the last three when the top label has two letters
 * (a country) and the one before it is a common second-level label (co,
 * com, net, org, gov, edu, ac, ...): www.bbc.co.uk -> bbc.co.uk,
 * a.b.example.com -> example.com. NULL when host is not a DNS name the rule
 * language accepts (then the address is used).
 */
const char *history_domain(const char *host, char *buf, size_t len);

/* Text fits in 100 columns (paths, names and addresses shortened, the
 * local end and packets left out); wide text has every column, whole. */
enum history_format {
	HISTORY_TEXT = 0,
	HISTORY_JSON,
	HISTORY_CSV,
	HISTORY_WIDE,
};
enum history_by { HISTORY_BY_PROCESS = 0, HISTORY_BY_HOST, HISTORY_BY_RULE };

/* One flow as `spackle log --json` prints it (the fields of `conns
 * --json` the store keeps, and first/last as text). NULL out of memory. */
json_t *history_flow_json(const struct store_flow *r);
/* An aggregate record (STORE_FLOW_AGGREGATE) in words: "1200 incomplete
 * flows from 198.51.100.0/24 to 192.0.2.1:80". */
const char *history_aggregate_text(const struct store_flow *r, char *buf,
                                   size_t len);

/*
 * The web monitor's views of the store (src/history_web.c), as JSON:
 *
 * history_traffic: bytes and flows over the last span_s seconds before
 * now_ns, in buckets of bucket_s: {"span", "bucket_s", "from_ns",
 * "to_ns", "buckets": [{"t_ns", "bytes_out", "bytes_in", "flows"}],
 * "processes": the top `top` by bytes, each {"exe", "bytes_out",
 * "bytes_in", "flows", "buckets": [[t_ns, bytes]]}, "hosts": the top
 * `top` {"host", "bytes_out", "bytes_in", "flows"}, "scanned",
 * "truncated"}. A flow's bytes are spread evenly over the time it was
 * seen (first to last), and count where that overlaps the window (the
 * top lists' totals too); its
 * flow counts in the bucket it began in (the first, when before). Flows
 * are read newest first, and the walk stops at those begun a day (or a
 * span, when longer) before the window, or after `max_scan` records
 * ("truncated": true).
 *
 * history_blocked: {"flows": [...]}, the latest `limit` denied or
 * rejected flows, newest first, as history_flow_json(); at most max_scan
 * records read.
 */
json_t *history_traffic(struct store_reader *r, const char *span,
                        uint64_t now_ns, uint64_t span_s, uint64_t bucket_s,
                        size_t top, size_t max_scan);
json_t *history_blocked(struct store_reader *r, size_t limit, size_t max_scan);
/* The latest `limit` hidden flows (`spackle audit` reported them: seen on
 * the wire, never across the divert), newest first, as
 * history_flow_json(); at most max_scan records read. */
json_t *history_hidden(struct store_reader *r, size_t limit, size_t max_scan);
/* The latest `limit` events of type since since_ns, newest first, each
 * {"time_ns", "what": its text}. */
json_t *history_events_of(struct store_reader *r, enum store_event_type type,
                          uint64_t since_ns, size_t limit);

/* The flows that pass f, oldest first; with limit, the latest `limit`.
 * Returns how many were printed, or -1. */
long history_log(struct store_reader *r, const struct history_filter *f,
                 size_t limit, enum history_format fmt, FILE *out);

/* The store's events (start, stop, reload, verdict changes, tamper,
 * drops) within f's times, oldest first; with limit, the latest `limit`.
 * Returns how many were printed, or -1. */
long history_events(struct store_reader *r, const struct history_filter *f,
                    size_t limit, enum history_format fmt, FILE *out);

/* Flows, packets, bytes and verdicts summed per key. Keys printed or -1. */
long history_top(struct store_reader *r, const struct history_filter *f,
                 enum history_by by, bool json, FILE *out);

/*
 * Rules (RULES.md syntax) that allow what the flows passing f show: one per
 * process (or user), direction, protocol and remote (a collapsed domain,
 * else the address; `in` flows: any remote), with their ports, each under a
 * comment saying how many flows it covers. Flows denied or rejected by a
 * rule of their own (not by `default`) and hidden flows are left out.
 * Returns the number of rules, or -1.
 */
long history_suggest(struct store_reader *r, const struct history_filter *f,
                     FILE *out);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the daemon writes down: a flow as JSON (conns, the decision log),
 * the decision log's entries and the store's events. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "daemon/daemon.h"

/* A flow as `conns --json` shows it (flow mode: conntrack's counters as
 * the main thread's last dump brought them, which `conns` asks for): what
 * every view of a flow shows, and the worker's queue. */
json_t *
worker_flow_json(struct worker *w, struct flow *f)
{
	struct classify_flow_info fi;
	json_t *o;

	classify_flow_info(w->cls, f, &fi);
	if ((o = classify_flow_json(f, &fi, w->rules)) != NULL)
		json_object_set_new(o, "queue", json_integer(w->queue));
	return o;
}

/* The decision log's entry for f: its conns object, what happened and
 * when. */
void
worker_log_decision(struct worker *w, struct flow *f, const char *event)
{
	json_t *o = worker_flow_json(w, f);
	char ts[40];
	uint64_t now = sp_now_wall();
	time_t sec = (time_t)(now / NS_PER_S);
	struct tm tm;
	size_t n;
	int rc;

	if (o == NULL)
		return;
	gmtime_r(&sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03uZ",
	         (unsigned)(now % NS_PER_S / 1000000));
	json_object_set_new(o, "event", json_string(event));
	json_object_set_new(o, "time", json_string(ts));
	/* Encoded here, written by the hand-over's thread: a worker never
	 * waits on the log's file or syslog. */
	n = 0;
	if ((rc = declog_encode(w->dm->dlog, o, w->line, sizeof(w->line))) <
	            0 ||
	    !handoff_put(w->hp, w->dm->sink_dlog, w->line, (size_t)rc, now))
		declog_count_lost(w->dm->dlog);
	json_decref(o);
}

/* A denied packet for the capture, through the hand-over: its length on
 * the wire, then its bytes. */
void
worker_capture(struct worker *w, const struct divert_packet *dp, uint64_t ts_ns)
{
	uint32_t wirelen = (uint32_t)dp->wirelen;
	size_t caplen =
	        dp->caplen < CAPTURE_SNAPLEN ? dp->caplen : CAPTURE_SNAPLEN;
	struct iovec v[2] = {{&wirelen, sizeof(wirelen)},
	                     {(void *)(uintptr_t)dp->data, caplen}};

	if (!handoff_putv(w->hp, w->dm->sink_cap, v, 2, ts_ns))
		w->st.capture_lost++;
}

/* ---- on the hand-over's writer thread ----------------------------------- */

void
daemon_capture_sink(void *arg, const void *data, size_t len, uint64_t ts_ns)
{
	uint32_t wirelen;

	if (len < sizeof(wirelen))
		return;
	memcpy(&wirelen, data, sizeof(wirelen));
	capture_write(arg, (const uint8_t *)data + sizeof(wirelen),
	              len - sizeof(wirelen), wirelen, ts_ns);
}

void
daemon_capture_flush(void *arg)
{
	capture_flush(arg);
}

void
daemon_declog_sink(void *arg, const void *data, size_t len, uint64_t ts_ns)
{
	declog_put_line(arg, data, len, ts_ns);
}

/* An event for the store, from the main thread, its text the object o. */
void
daemon_event(struct daemon *dm, enum store_event_type type, const json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	store_put_event(dm->sp, 0, type, 0, text);
	free(text);
}

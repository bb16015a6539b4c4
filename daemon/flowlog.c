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

static const char *
daemon_attrib_name(enum classify_attrib a)
{
	switch (a) {
	case CLASSIFY_ATTRIB_SOCKET:
		return "socket";
	case CLASSIFY_ATTRIB_EXITED:
		return "exited";
	case CLASSIFY_ATTRIB_TIMEOUT:
		return "timeout";
	default:
		return "unknown";
	}
}

static const char *
daemon_name_src(enum classify_name_src s)
{
	switch (s) {
	case CLASSIFY_NAME_SNI:
		return "sni";
	case CLASSIFY_NAME_HTTP:
		return "http";
	default:
		return "dns";
	}
}

/* A flow as `conns --json` shows it (flow mode: conntrack's counters as
 * the main thread's last dump brought them, at most a second old). */
json_t *
worker_flow_json(struct worker *w, struct flow *f)
{
	const struct sp_addr *la, *ra;
	uint16_t lp, rp;
	char lb[64], rb[64], rule[SP_PATH_MAX + 16], pbuf[8];
	const char *proto = sp_proto_name(f->key.proto);
	struct classify_flow_info fi;
	const char *host, *exe;
	const struct rules_rule *r = NULL;
	int out = f->dir == SP_DIR_OUT ? 0 : 1;
	json_t *o;

	classify_flow_info(w->cls, f, &fi);
	host = fi.host;
	exe = fi.exe;
	flow_local(f, &la, &lp);
	flow_remote(f, &ra, &rp);
	if (f->rule != FLOW_RULE_DEFAULT && f->rule != FLOW_RULE_NONE &&
	    w->rules != NULL)
		r = rules_get(w->rules, f->rule);
	if (r != NULL)
		snprintf(rule, sizeof(rule), "%s:%u", r->file, r->line);
	else if (f->flags & FLOW_F_NAME_WAIT)
		snprintf(rule, sizeof(rule), "pending");
	else
		snprintf(rule, sizeof(rule), "default");
	if (proto == NULL) {
		snprintf(pbuf, sizeof(pbuf), "%u", f->key.proto);
		proto = pbuf;
	}
	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "id", json_integer((json_int_t)f->id));
	json_object_set_new(o, "proto", json_string(proto));
	json_object_set_new(o, "src", json_string(sp_addr_format(la, lb, 64)));
	json_object_set_new(o, "sport", json_integer(lp));
	json_object_set_new(o, "dst", json_string(sp_addr_format(ra, rb, 64)));
	json_object_set_new(o, "dport", json_integer(rp));
	json_object_set_new(o, "dir", json_string(sp_dir_name(f->dir)));
	json_object_set_new(o, "pid",
	                    f->pid >= 0 ? json_integer(f->pid) : json_null());
	json_object_set_new(o, "exe", exe ? json_string(exe) : json_null());
	json_object_set_new(o, "uid",
	                    f->uid != FLOW_UID_UNKNOWN ? json_integer(f->uid)
	                                               : json_null());
	json_object_set_new(o, "ppid",
	                    fi.ppid >= 0 ? json_integer(fi.ppid) : json_null());
	json_object_set_new(o, "cmdline",
	                    fi.cmdline ? json_string(fi.cmdline) : json_null());
	json_object_set_new(o, "procs",
	                    fi.nprocs > 0 ? json_integer(fi.nprocs)
	                                  : json_null());
	json_object_set_new(o, "attrib",
	                    fi.attrib != CLASSIFY_ATTRIB_NONE
	                            ? json_string(daemon_attrib_name(fi.attrib))
	                            : json_null());
	json_object_set_new(o, "host", host ? json_string(host) : json_null());
	json_object_set_new(o, "host_from",
	                    fi.host_src != CLASSIFY_NAME_NONE
	                            ? json_string(daemon_name_src(fi.host_src))
	                            : json_null());
	json_object_set_new(o, "name_wait",
	                    json_boolean(f->flags & FLOW_F_NAME_WAIT));
	json_object_set_new(o, "verdict",
	                    json_string(sp_verdict_name(f->verdict)));
	json_object_set_new(o, "rule", json_string(rule));
	json_object_set_new(o, "monitor",
	                    json_boolean(f->flags & FLOW_F_MONITOR));
	json_object_set_new(o, "packets_out",
	                    json_integer((json_int_t)f->packets[out]));
	json_object_set_new(o, "packets_in",
	                    json_integer((json_int_t)f->packets[!out]));
	json_object_set_new(o, "bytes_out",
	                    json_integer((json_int_t)f->bytes[out]));
	json_object_set_new(o, "bytes_in",
	                    json_integer((json_int_t)f->bytes[!out]));
	json_object_set_new(o, "first_ns",
	                    json_integer((json_int_t)f->first_ns));
	json_object_set_new(o, "last_ns", json_integer((json_int_t)f->last_ns));
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

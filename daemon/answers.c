/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket's answers, on the main thread: status, conns, the
 * audit's report, and a reload of the rules. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "spackle/steer.h"

/* Attribution's counters into c, its state into a. */
static void
daemon_status_attrib(struct daemon *dm, json_t *a, json_t *c)
{
	struct proc_stats ps;

	memset(&ps, 0, sizeof(ps));
	if (dm->proc != NULL)
		proc_stats(dm->proc, &ps);
	json_object_set_new(a, "timeout_ms",
	                    json_integer(dm->cfg.attrib_timeout_ms));
	json_object_set_new(a, "events", json_boolean(ps.events_on));
	json_object_set_new(
	        a, "method",
	        json_string(dm->proc != NULL ? proc_method(dm->proc) : "none"));
	json_object_set_new(a, "bpf", json_boolean(ps.bpf_on));
	json_object_set_new(a, "exe_cache", json_boolean(ps.exe_cache));
	if (dm->proc != NULL && proc_exe_cache_off(dm->proc) != NULL)
		json_object_set_new(a, "exe_cache_off",
		                    json_string(proc_exe_cache_off(dm->proc)));
	json_object_set_new(a, "processes", json_integer((json_int_t)ps.procs));
	json_object_set_new(a, "sockets", json_integer((json_int_t)ps.socks));
#define ATTRIB(key, field)                                                     \
	json_object_set_new(c, key, json_integer((json_int_t)ps.field))
	ATTRIB("attrib_lookups", lookups);
	json_object_set_new(c, "attrib_time_us",
	                    json_integer((json_int_t)(ps.took_ns / 1000)));
	ATTRIB("attrib_found", found);
	ATTRIB("attrib_exited", exited);
	ATTRIB("attrib_unknown", unknown);
	ATTRIB("attrib_timeouts", timeouts);
	ATTRIB("attrib_no_socket", no_socket);
	ATTRIB("attrib_cache_hits", sock_hits);
	ATTRIB("attrib_bpf_hits", bpf_hits);
	ATTRIB("attrib_bpf_misses", bpf_misses);
	ATTRIB("attrib_bpf_conn_hits", bpf_conn_hits);
	ATTRIB("attrib_exe_cached", exe_cached);
	ATTRIB("attrib_scans", scans);
	ATTRIB("attrib_scanned_processes", scanned_procs);
	ATTRIB("attrib_scanned_fds", scanned_fds);
	ATTRIB("attrib_fd_guesses", fd_guesses);
	ATTRIB("attrib_ambiguous", infer_ambiguous);
	ATTRIB("proc_events", events);
	ATTRIB("proc_events_lost", events_lost);
	ATTRIB("proc_execs", execs);
	ATTRIB("proc_exec_missed", exec_missed);
	ATTRIB("proc_exec_by_main", exec_by_main);
	json_object_set_new(
	        c, "proc_exec_lag_max_us",
	        json_integer((json_int_t)(ps.exec_lag_max_ns / 1000)));
	ATTRIB("proc_exits", exits);
	ATTRIB("proc_own_exits", own_exits);
#undef ATTRIB
}

#define SET_U64(obj, key, v)                                                   \
	json_object_set_new(obj, key, json_integer((json_int_t)(v)))

/* The store's and the capture's counters, for status (and audit). */
static void
daemon_status_store(struct daemon *dm, json_t *c)
{
	struct store_stats ss;
	struct capture_stats cs;

	json_object_set_new(c, "store", json_boolean(dm->store != NULL));
	if (dm->store != NULL) {
		store_stats(dm->store, &ss);
		SET_U64(c, "store_queued", ss.queued);
		SET_U64(c, "store_lost", ss.lost);
		SET_U64(c, "store_deferred", ss.deferred);
		SET_U64(c, "store_written", ss.written);
		SET_U64(c, "store_flushes", ss.flushes);
		SET_U64(c, "store_errors", ss.errors);
		SET_U64(c, "store_map_full", ss.map_full);
		SET_U64(c, "store_pruned_full", ss.pruned_full);
		SET_U64(c, "store_pruned_age", ss.pruned_age);
		SET_U64(c, "store_last_commit_ns", ss.last_commit_ns);
		SET_U64(c, "store_map_size", ss.map_size);
		SET_U64(c, "store_map_used", ss.map_used);
	}
	if (dm->cap != NULL) {
		capture_stats(dm->cap, &cs);
		SET_U64(c, "capture_packets", cs.packets);
		SET_U64(c, "capture_rotations", cs.rotations);
		SET_U64(c, "capture_errors", cs.errors);
	}
}

/*
 * Whether every hook's steering is in place, as the last check (once a
 * second, and once at start) found it: in_place is true when every hook
 * of every family was read and is whole and first, false when one is
 * not, null when the firewall's rules are not read back (nft) or could
 * not be read.
 */
static json_t *
daemon_status_steering(struct daemon *dm)
{
	unsigned want = 3u; /* IPv4 and IPv6: both are steered */
	uint64_t now = sp_now_mono();
	json_t *s = json_object(), *in;

	if (!dm->steered)
		in = json_false();
	else if (dm->steer_checked_ns == 0 ||
	         dm->cfg.firewall != CONFIG_FIREWALL_IPTABLES)
		in = json_null();
	else if (dm->steer_hooks_ok < dm->steer_hooks)
		in = json_false();
	else if ((dm->steer_families & want) != want)
		in = json_null();
	else
		in = json_true();
	json_object_set_new(s, "in_place", in);
	/* How the last second read it (watch.c): its counters from
	 * nf_tables while the generation stands, else iptables-save. */
	if (dm->steered && dm->cfg.firewall == CONFIG_FIREWALL_IPTABLES)
		json_object_set_new(s, "read",
		                    json_string(dm->steer_gen_ok
		                                        ? "nf_tables"
		                                        : "iptables-save"));
	if (dm->steer_checked_ns != 0) {
		SET_U64(s, "hooks", dm->steer_hooks);
		SET_U64(s, "hooks_in_place", dm->steer_hooks_ok);
		SET_U64(s, "checked_ms_ago",
		        (now - dm->steer_checked_ns) / 1000000);
	}
	return s;
}

/*
 * What the daemon holds in memory against memory_max: the anonymous
 * memory now and at most (read by the tick), malloc's view, and each
 * part's bound from the plan (memplan.h) beside what it holds now.
 */
static json_t *
daemon_status_memory(struct daemon *dm, const struct daemon_totals *sum)
{
	struct mallinfo2 mi = mallinfo2();
	uint64_t anon = daemon_anon_bytes();
	json_t *m = json_object(), *p = json_object(), *x;

	SET_U64(m, "max", dm->mem.max);
	SET_U64(m, "bound", dm->mem.bound);
	SET_U64(m, "anon", anon);
	SET_U64(m, "anon_peak",
	        anon > dm->mem_anon_peak ? anon : dm->mem_anon_peak);
	SET_U64(m, "heap_in_use", mi.uordblks + mi.hblkhd);
	SET_U64(m, "heap_free", mi.fordblks);
	SET_U64(m, "trims", dm->mem_trims);
	SET_U64(m, "trimmed", dm->mem_trimmed);
	SET_U64(m, "flows_per_worker", dm->mem.flows);
	x = json_object();
	SET_U64(x, "bound", dm->mem.flow_bytes);
	SET_U64(x, "bytes", sum->mem.tables + sum->mem.carried_bytes);
	SET_U64(x, "flows", sum->live);
	SET_U64(x, "cap", sum->mem.flows_cap);
	json_object_set_new(p, "flows", x);
	x = json_object();
	SET_U64(x, "bound", dm->mem.string_bytes);
	SET_U64(x, "bytes", sum->mem.strings_bytes);
	SET_U64(x, "strings", sum->mem.strings);
	SET_U64(x, "refused", sum->strings_refused);
	json_object_set_new(p, "strings", x);
	x = json_object();
	SET_U64(x, "bound", dm->mem.name_bytes);
	json_object_set_new(p, "names", x);
	x = json_object();
	SET_U64(x, "bound", dm->mem.store_bytes);
	json_object_set_new(p, "store_queues", x);
	if (dm->ct != NULL) {
		x = json_object();
		SET_U64(x, "bound", dm->mem.ct_bytes);
		SET_U64(x, "entries", dm->ct_dump_n);
		SET_U64(x, "entries_max", dm->mem.ct_entries);
		SET_U64(x, "cut", dm->ct_partial);
		json_object_set_new(p, "ct_dumps", x);
	}
	x = json_object();
	SET_U64(x, "bound", dm->mem.base_bytes);
	json_object_set_new(p, "rest", x);
	json_object_set_new(m, "parts", p);
	return m;
}

json_t *
daemon_status(const json_t *req, void *arg)
{
	struct daemon *dm = arg;
	struct daemon_totals sum;
	json_t *o, *c, *o0;
	unsigned i;

	(void)req;
	memset(&sum, 0, sizeof(sum));
	/* On each worker's thread: its counters are not atomic. */
	for (i = 0; i < dm->nw; i++)
		worker_run(&dm->w[i], worker_get_stats, &sum);
	c = json_object();
	json_object_set_new(c, "received",
	                    json_integer((json_int_t)sum.st.received));
	json_object_set_new(c, "accepted",
	                    json_integer((json_int_t)sum.st.accepted));
	json_object_set_new(c, "dropped",
	                    json_integer((json_int_t)sum.st.dropped));
	json_object_set_new(c, "rejected",
	                    json_integer((json_int_t)sum.st.rejected));
	json_object_set_new(c, "malformed",
	                    json_integer((json_int_t)sum.st.malformed));
	json_object_set_new(
	        c, "monitor_would_deny",
	        json_integer((json_int_t)sum.st.monitor_would_deny));
	json_object_set_new(
	        c, "monitor_would_reject",
	        json_integer((json_int_t)sum.st.monitor_would_reject));
	json_object_set_new(c, "verdict_errors",
	                    json_integer((json_int_t)sum.st.verdict_errors));
	SET_U64(c, "peer_resets", sum.st.peer_resets);
	json_object_set_new(c, "ct_flows_ended",
	                    json_integer((json_int_t)sum.st.ct_ended));
	json_object_set_new(c, "ct_events_lost",
	                    json_integer((json_int_t)sum.st.ct_lost));
	if (dm->ct != NULL) {
		uint64_t split = 0;

		/* Set before the workers start, read-only since. */
		for (i = 0; i < dm->nw; i++)
			split += dm->w[i].ct_split;
		SET_U64(c, "ct_events_read", sum.st.ct_events);
		SET_U64(c, "ct_events_before_syn", sum.st.ct_early);
		SET_U64(c, "ct_split_workers", split);
	}
	/* Flow mode: how long the last conntrack dump took (the tick's
	 * dumps are spaced by it, watch.c). */
	if (dm->ct != NULL)
		SET_U64(c, "ct_dump_us", dm->ct_dump_ns / 1000);
	json_object_set_new(c, "enobufs",
	                    json_integer((json_int_t)sum.ds.enobufs));
	SET_U64(c, "unanswered", sum.ds.unanswered);
	SET_U64(c, "gso_received", sum.ds.gso);
	if (strcmp(dm->ops->name, "tun") == 0) {
		SET_U64(c, "gso_segments", sum.ds.segments);
		SET_U64(c, "gso_in_extra", sum.ds.gso_in_extra);
	}
	if (dm->cap != NULL)
		SET_U64(c, "capture_lost", sum.st.capture_lost);
	SET_U64(c, "bursts", sum.st.bursts);
	json_object_set_new(c, "flows_live",
	                    json_integer((json_int_t)sum.live));
	json_object_set_new(c, "flows_evicted",
	                    json_integer((json_int_t)sum.evicted));
	json_object_set_new(c, "flows_created",
	                    json_integer((json_int_t)sum.created));
	json_object_set_new(c, "dns_answers",
	                    json_integer((json_int_t)sum.dns_answers));
	json_object_set_new(c, "decisions",
	                    json_integer((json_int_t)sum.decisions));
	json_object_set_new(c, "name_holds",
	                    json_integer((json_int_t)sum.name_holds));
	json_object_set_new(c, "names_sni",
	                    json_integer((json_int_t)sum.names_sni));
	json_object_set_new(c, "names_http",
	                    json_integer((json_int_t)sum.names_http));
	json_object_set_new(c, "names_missing",
	                    json_integer((json_int_t)sum.names_missing));
	json_object_set_new(c, "flows_renewed",
	                    json_integer((json_int_t)sum.renewed));
	o0 = json_object();
	daemon_status_attrib(dm, o0, c);
	json_object_set_new(c, "rule_reloads",
	                    json_integer((json_int_t)dm->reloads));
	json_object_set_new(c, "tamper_events",
	                    json_integer((json_int_t)dm->tampers));
	json_object_set_new(c, "steering_repairs",
	                    json_integer((json_int_t)dm->repairs));
	json_object_set_new(c, "steering_saves",
	                    json_integer((json_int_t)dm->steer_saves));
	json_object_set_new(c, "steering_counter_reads",
	                    json_integer((json_int_t)dm->steer_counts));
	json_object_set_new(c, "rule_reload_failures",
	                    json_integer((json_int_t)dm->reload_failures));
	daemon_status_store(dm, c);
	/* Flows that never completed, past the budget (incomplete.h). */
	if (dm->store != NULL && dm->cfg.incomplete_budget > 0) {
		SET_U64(c, "incomplete_budget", dm->cfg.incomplete_budget);
		SET_U64(c, "incomplete_pending",
		        sum.inc.pending + sum.inc.ended);
		SET_U64(c, "incomplete_deferred", sum.inc.deferred);
		SET_U64(c, "incomplete_promoted", sum.inc.promoted);
		SET_U64(c, "incomplete_folded", sum.inc.folded);
		SET_U64(c, "incomplete_aggregates", sum.inc.aggregates);
		SET_U64(c, "incomplete_unkept", sum.inc.unkept);
	}
	/* The kernel's queue drops, as the last second's tick read them,
	 * and what a full queue let past unseen (failure = open). */
	SET_U64(c, "passed_unseen", dm->drops.passed_unseen);
	SET_U64(c, "queue_dropped", dm->drops.queue_dropped);
	SET_U64(c, "user_dropped", dm->drops.user_dropped);
	if (dm->dlog != NULL) {
		unsigned long long wr, lost;

		declog_stats(dm->dlog, &wr, &lost);
		SET_U64(c, "decisions_logged", wr);
		SET_U64(c, "decisions_log_lost", lost);
	}
	o = json_object();
	json_object_set_new(o, "version", json_string(SPACKLE_VERSION));
	json_object_set_new(o, "memory", daemon_status_memory(dm, &sum));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "state",
	                    json_string(dm->state == DAEMON_RUNNING ? "running"
	                                : dm->state == DAEMON_STOPPING
	                                        ? "stopping"
	                                        : "starting"));
	json_object_set_new(o, "steering", daemon_status_steering(dm));
	json_object_set_new(o, "mode",
	                    json_string(dm->cfg.mode == CONFIG_MODE_MONITOR
	                                        ? "monitor"
	                                        : "enforce"));
	json_object_set_new(o, "divert",
	                    json_string(dm->cfg.divert == CONFIG_DIVERT_FLOW
	                                        ? "flow"
	                                        : "packet"));
	json_object_set_new(o, "default",
	                    json_string(sp_verdict_name(dm->cfg.dflt)));
	json_object_set_new(o, "failure",
	                    json_string(dm->cfg.failure == CONFIG_FAILURE_CLOSED
	                                        ? "closed"
	                                        : "open"));
	json_object_set_new(o, "backend", json_string(dm->ops->name));
	json_object_set_new(o, "firewall",
	                    json_string(dm->fw_name ? dm->fw_name : "none"));
	json_object_set_new(o, "queues", json_integer(dm->cfg.queues));
	json_object_set_new(o, "dns_queue",
	                    json_integer(STEER_DNS_QUEUE(&dm->cfg)));
	json_object_set_new(o, "queue_base", json_integer(dm->cfg.queue_base));
	json_object_set_new(o, "rules", json_string(dm->cfg.rules));
	json_object_set_new(o, "rules_loaded",
	                    json_integer((json_int_t)rules_count(dm->rules)));
	json_object_set_new(
	        o, "uptime",
	        json_integer((json_int_t)((sp_now_mono() - dm->start_mono) /
	                                  NS_PER_S)));
	json_object_set_new(o, "started_ns",
	                    json_integer((json_int_t)dm->start_wall));
	json_object_set_new(o, "user", json_string(dm->cfg.user));
	json_object_set_new(o, "counters", c);
	json_object_set_new(o, "attribution", o0);
	if (dm->last_audit != NULL)
		json_object_set(o, "audit", dm->last_audit);
	return o;
}

/* For the metrics endpoint: a fresh status at each scrape. */
json_t *
daemon_metrics_status(void *arg)
{
	return daemon_status(NULL, arg);
}

/* An integer member within [lo, hi], or dflt when it is null or absent;
 * false when it is something else. */
static bool
audit_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi,
          json_int_t dflt, json_int_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v)) {
		*out = dflt;
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return false;
	*out = json_integer_value(v);
	return true;
}

/*
 * One hidden flow of an audit's report into a store record: seen on the
 * wire during the watch, never across the divert. NULL and the reason in
 * why when a field is missing or wrong.
 */
const char *
daemon_audit_flow(const json_t *o, uint64_t now, uint64_t watch_ns,
                  struct store_flow *r, char *rule, size_t rlen)
{
	const char *dir = json_string_value(json_object_get(o, "dir"));
	const char *pn = json_string_value(json_object_get(o, "proto"));
	const char *src = json_string_value(json_object_get(o, "src"));
	const char *dst = json_string_value(json_object_get(o, "dst"));
	const char *cause = json_string_value(json_object_get(o, "cause"));
	const json_t *exe = json_object_get(o, "exe");
	struct sp_addr a, b;
	json_int_t sport, dport, pkts, bytes, pid, uid;
	bool in;
	int proto;

	memset(r, 0, sizeof(*r));
	if (dir == NULL || (strcmp(dir, "out") != 0 && strcmp(dir, "in") != 0 &&
	                    strcmp(dir, "forward") != 0))
		return "\"dir\" is not out, in or forward";
	if (pn == NULL || (proto = sp_proto_number(pn, true)) < 0)
		return "\"proto\" is not tcp, udp, icmp or icmp6";
	if (src == NULL || dst == NULL || !sp_addr_parse(&a, src) ||
	    !sp_addr_parse(&b, dst))
		return "\"src\" and \"dst\" must be addresses";
	if (!audit_int(o, "sport", 0, 65535, -1, &sport) || sport < 0 ||
	    !audit_int(o, "dport", 0, 65535, -1, &dport) || dport < 0)
		return "\"sport\" and \"dport\" must be ports";
	if (!audit_int(o, "packets", 0, INT64_MAX, 0, &pkts) ||
	    !audit_int(o, "bytes", 0, INT64_MAX, 0, &bytes))
		return "\"packets\" and \"bytes\" must be counts";
	if (!audit_int(o, "pid", 1, INT32_MAX, -1, &pid) ||
	    !audit_int(o, "uid", 0, UINT32_MAX - 1, FLOW_UID_UNKNOWN, &uid))
		return "\"pid\" and \"uid\" must be ids or null";
	if (exe != NULL && !json_is_null(exe) && !json_is_string(exe))
		return "\"exe\" must be a path or null";
	/* The local end is the source of what left, the destination of
	 * what came in; forwarded traffic is told from its source. */
	in = strcmp(dir, "in") == 0;
	r->id = flow_id_new();
	r->first_ns = now > watch_ns ? now - watch_ns : now;
	r->last_ns = now;
	r->local = in ? b : a;
	r->remote = in ? a : b;
	r->local_port = (uint16_t)(in ? dport : sport);
	r->remote_port = (uint16_t)(in ? sport : dport);
	r->proto = (uint8_t)proto;
	r->dir = in ? SP_DIR_IN : SP_DIR_OUT;
	r->verdict = SP_VERDICT_NONE; /* it never met spackle */
	r->flags = STORE_FLOW_HIDDEN | STORE_FLOW_ENDED;
	if (in) {
		r->packets_in = (uint64_t)pkts;
		r->bytes_in = (uint64_t)bytes;
	} else {
		r->packets_out = (uint64_t)pkts;
		r->bytes_out = (uint64_t)bytes;
	}
	r->pid = (int32_t)pid;
	r->uid = (uint32_t)uid;
	r->exe = json_is_string(exe) ? json_string_value(exe) : NULL;
	snprintf(rule, rlen, "hidden: %s", cause != NULL ? cause : "unknown");
	r->rule = rule;
	return NULL;
}

/*
 * `spackle audit` reports what it found ({"hidden": N, "holes": B, and
 * the hidden flows themselves}): status and the metrics show the last
 * report; the store keeps it as an event, and each hidden flow as a flow
 * record marked hidden, so `spackle log` shows what passed unseen beside
 * what crossed. A flow that cannot be read is refused, named in the
 * answer; the others are kept.
 */
static json_t *
daemon_audit_report(const json_t *req, void *arg)
{
	struct daemon *dm = arg;
	const json_t *hidden = json_object_get(req, "hidden");
	const json_t *holes = json_object_get(req, "holes");
	const json_t *flows = json_object_get(req, "flows"), *f;
	json_int_t watch_s;
	struct store_flow r;
	char rule[64], why[160] = "";
	const char *bad;
	size_t i, stored = 0, refused = 0;
	uint64_t now = sp_now_wall();
	json_t *o;

	if (!json_is_integer(hidden) || json_integer_value(hidden) < 0 ||
	    !json_is_boolean(holes))
		return json_pack("{s:s}", "error",
		                 "audit: needs \"hidden\" (a count) and "
		                 "\"holes\" (true or false)");
	if ((flows != NULL && !json_is_array(flows)) ||
	    !audit_int(req, "watch_s", 0, 86400, 0, &watch_s))
		return json_pack("{s:s}", "error",
		                 "audit: \"flows\" must be an array and "
		                 "\"watch_s\" seconds");
	json_array_foreach(flows, i, f)
	{
		bad = json_is_object(f)
		              ? daemon_audit_flow(f, now,
		                                  (uint64_t)watch_s * NS_PER_S,
		                                  &r, rule, sizeof(rule))
		              : "not an object";
		if (bad == NULL && store_put_flow(dm->sp, &r, 0) == 0) {
			stored++;
			continue;
		}
		if (refused++ == 0)
			snprintf(why, sizeof(why), "flows[%zu]: %s", i,
			         bad != NULL ? bad
			                     : "the store's queue is full");
	}
	o = json_pack("{s:I,s:b,s:I,s:I}", "hidden", json_integer_value(hidden),
	              "holes", json_is_true(holes), "at_ns", (json_int_t)now,
	              "stored", (json_int_t)stored);
	if (o == NULL)
		return json_pack("{s:s}", "error", "out of memory");
	json_decref(dm->last_audit);
	dm->last_audit = o;
	daemon_event(dm, STORE_EV_AUDIT, o);
	if (refused > 0)
		log_warn("audit: %zu hidden flow%s not stored: %s", refused,
		         refused == 1 ? "" : "s", why);
	return json_pack("{s:b,s:I,s:I,s:s}", "ok", 1, "stored",
	                 (json_int_t)stored, "refused", (json_int_t)refused,
	                 "why", why);
}

json_t *
daemon_conns(const json_t *req, void *arg)
{
	struct daemon *dm = arg;
	json_t *arr = json_array();
	unsigned i;

	(void)req;
	/* Flow mode: the kernel passed most packets; conntrack counted
	 * them. One dump now, so the answer is as fresh as the question. */
	daemon_ct_sync(dm, true);
	for (i = 0; i < dm->nw; i++)
		worker_run(&dm->w[i], worker_get_conns, arr);
	return json_pack("{s:o}", "conns", arr);
}

/* Load cfg's rules; NULL with the diagnostics in *text on errors. */
struct ruleset *
daemon_load_rules(const struct config *cfg, char **text)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;
	size_t len = 0;
	FILE *f;

	*text = NULL;
	memset(&d, 0, sizeof(d));
	if (rs == NULL)
		return NULL;
	if (rules_load_path(rs, cfg->rules, &d) != 0 || d.errors > 0 ||
	    rules_compile(rs, &d) != 0 || d.errors > 0) {
		rules_free(rs);
		rs = NULL;
	}
	if (d.n > 0 && (f = open_memstream(text, &len)) != NULL) {
		rules_diags_print(f, &d);
		fclose(f);
	}
	rules_diags_free(&d);
	return rs;
}

/* Reload rules (and `default`) from the config file; the old set stays on
 * any error. Returns the reply for the control socket. */
json_t *
daemon_reload(const json_t *req, void *arg)
{
	struct daemon *dm = arg;
	struct config cfg = dm->cfg;
	struct ruleset *rs, *old;
	struct worker_swap s;
	char *diag = NULL, *cerr = NULL, restart[512];
	size_t clen = 0;
	FILE *ef;
	json_t *o;
	unsigned i;
	int nrestart;

	(void)req;
	/* The file as it is now, over the defaults: a key taken out of it
	 * goes back to its default. */
	config_defaults(&cfg);
	if (dm->conf_path != NULL && (ef = open_memstream(&cerr, &clen))) {
		int rc = config_load(&cfg, dm->conf_path, ef);

		fclose(ef);
		if (rc != 0) {
			dm->reload_failures++;
			log_err("reload refused, the old rules stay: %s", cerr);
			o = json_pack("{s:b,s:s}", "ok", 0, "errors", cerr);
			daemon_event(dm, STORE_EV_RELOAD, o);
			free(cerr);
			return o;
		}
		free(cerr);
	}
	rs = daemon_load_rules(&cfg, &diag);
	if (rs == NULL) {
		dm->reload_failures++;
		log_err("reload of %s refused, the old rules stay:\n%s",
		        cfg.rules, diag ? diag : "out of memory");
		o = json_pack("{s:b,s:s}", "ok", 0, "errors",
		              diag ? diag : "out of memory");
		daemon_event(dm, STORE_EV_RELOAD, o);
		free(diag);
		return o;
	}
	/* What a reload applies: the rules and `default`. Every other key
	 * that changed keeps its old value until a restart: say which. */
	{
		struct config same = cfg;

		snprintf(same.rules, sizeof(same.rules), "%s", dm->cfg.rules);
		same.dflt = dm->cfg.dflt;
		snprintf(same.path, sizeof(same.path), "%s", dm->cfg.path);
		/* auto was decided at start: still auto is no change. */
		if (dm->fw_auto && same.firewall == CONFIG_FIREWALL_AUTO)
			same.firewall = dm->cfg.firewall;
		nrestart = config_changed_keys(&dm->cfg, &same, restart,
		                               sizeof(restart));
		if (nrestart > 0)
			log_warn("reload: %s changed; a restart applies %s",
			         restart, nrestart == 1 ? "it" : "them");
		else
			restart[0] = '\0';
	}
	s.rules = rs;
	s.dflt = cfg.dflt;
	s.changed = 0;
	for (i = 0; i < dm->nw; i++)
		worker_run(&dm->w[i], worker_swap_rules, &s);
	old = dm->rules;
	dm->rules = rs;
	dm->cfg.dflt = cfg.dflt;
	snprintf(dm->cfg.rules, sizeof(dm->cfg.rules), "%s", cfg.rules);
	rules_free(old);
	dm->reloads++;
	log_info("rules reloaded from %s: %zu rules, %zu live flows "
	         "changed verdict",
	         cfg.rules, rules_count(rs), s.changed);
	o = json_pack("{s:b,s:I,s:I,s:s,s:s}", "ok", 1, "rules",
	              (json_int_t)rules_count(rs), "changed",
	              (json_int_t)s.changed, "warnings", diag ? diag : "",
	              "restart_needed", restart);
	daemon_event(dm, STORE_EV_RELOAD, o);
	free(diag);
	return o;
}

const struct control_command daemon_commands[] = {
        {"status", false, daemon_status},
        {"conns", false, daemon_conns},
        {"reload", true, daemon_reload},
        {"audit", true, daemon_audit_report},
};
const size_t daemon_ncommands =
        sizeof(daemon_commands) / sizeof(daemon_commands[0]);

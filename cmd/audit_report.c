/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spackle audit's report: text or JSON on stdout, and a word to the daemon. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cmd/audit.h"
#include "spackle/config.h"
#include "spackle/control.h"
#include "spackle/steer_names.h"

static void
audit_print_text(const struct audit *a)
{
	const json_t *c = a->counters, *h, *r, *o, *t;
	size_t i, k;
	const char *key;
	json_t *v;

#define CI(k) ((long long)json_integer_value(json_object_get(c, k)))
	if ((t = json_object_get(c, "tun")) != NULL) {
		/* The tunnel: two ways in, one device, one reader. */
		printf("counters (kernel rules, tc, tun %s, daemon)\n",
		       json_string_value(json_object_get(t, "device")));
		printf("  sent to the tun by the kernel           %lld\n"
		       "    marked out (mangle OUTPUT)            %lld\n"
		       "    redirected in (tc ingress)            %lld\n"
		       "    taken by the tun device               %lld\n",
		       CI("sent_to_queues"),
		       (long long)json_integer_value(
		               json_object_get(t, "marked_out")),
		       (long long)json_integer_value(
		               json_object_get(t, "redirected_in")),
		       (long long)json_integer_value(
		               json_object_get(t, "device_sent")));
	} else {
		printf("counters (kernel rules, nfnetlink_queue, daemon)\n");
		printf("  sent to spackle's queues by the kernel  %lld\n",
		       CI("sent_to_queues"));
	}
	printf("  = received by spackle                   %lld%s\n",
	       CI("received"),
	       json_is_true(json_object_get(c, "daemon"))
	               ? ""
	               : "   (the daemon does not answer)");
	/* tc counts a super-packet coming in as its segments. */
	if (t != NULL)
		printf("  + segments of super-packets, beyond one %lld\n",
		       (long long)json_integer_value(
		               json_object_get(t, "gso_in_extra")));
	printf("  + waiting in the queues now             %lld\n",
	       CI("waiting"));
	printf("  + dropped in the queue (full)           %lld%s\n",
	       CI("queue_dropped"), CI("queue_dropped") ? "   DROPS" : "");
	printf("  + dropped at the socket (buffer full)   %lld%s\n",
	       CI("socket_dropped"), CI("socket_dropped") ? "   DROPS" : "");
	printf("  + passed unseen (bypass, fail-open)     %lld%s\n",
	       CI("passed_unseen"), CI("passed_unseen") ? "   HOLE" : "");
	printf("  (receive overruns, ENOBUFS: %lld; %lld arrived while "
	       "reading)\n",
	       CI("enobufs"), CI("arrived_while_reading"));
	if (a->cfg.divert == CONFIG_DIVERT_FLOW)
		printf("  passed by conntrack mark (flow mode)    %lld\n",
		       CI("fast_path"));
	printf("  %s\n", json_is_true(json_object_get(c, "adds_up"))
	                         ? "adds up"
	                         : "DOES NOT ADD UP");
	json_object_foreach(json_object_get(c, "exempt"), key, v)
	        printf("  exempt %-10s %lld packets (declared)\n", key,
	               (long long)json_integer_value(v));
#undef CI

	printf("\nsteering%s\n",
	       json_is_true(json_object_get(a->steering, "ok"))
	               ? ": spackle first and whole in every hook"
	               : "");
	json_array_foreach(json_object_get(a->steering, "hooks"), i, h)
	{
		if (json_is_true(json_object_get(h, "ok")))
			continue;
		/* The tunnel's routing and tc: what was found. */
		if (json_object_get(h, "family") == NULL) {
			printf("  %s: NOT AS INSTALLED",
			       json_string_value(json_object_get(h, "hook")));
			if (json_object_get(h, "missing") != NULL &&
			    json_is_string(json_object_get(h, "missing")))
				printf(" (no redirect on %s)",
				       json_string_value(
				               json_object_get(h, "missing")));
			printf("\n");
			continue;
		}
		if (json_object_get(h, "chain") == NULL) {
			printf("  %s %s: NO JUMP first to %s\n",
			       json_string_value(json_object_get(h, "family")),
			       json_string_value(json_object_get(h, "hook")),
			       STEER_CHAIN_TUN);
			continue;
		}
		printf("  %s %s: ",
		       json_string_value(json_object_get(h, "family")),
		       json_string_value(json_object_get(h, "hook")));
		if (json_integer_value(json_object_get(h, "jumps")) == 0)
			printf("NO JUMP to %s\n",
			       json_string_value(json_object_get(h, "chain")));
		else
			printf("spackle's jump is rule %lld\n",
			       (long long)json_integer_value(
			               json_object_get(h, "position")));
		json_array_foreach(json_object_get(h, "above"), k, r) printf(
		        "    above it: %s   [%lld packets] (%s)\n",
		        json_string_value(json_object_get(r, "rule")),
		        (long long)json_integer_value(
		                json_object_get(r, "packets")),
		        json_string_value(json_object_get(r, "matches")));
		json_array_foreach(json_object_get(h, "missing"), k, r)
		        printf("    missing: %s\n", json_string_value(r));
		json_array_foreach(json_object_get(h, "extra"), k, r)
		        printf("    not spackle's: %s\n", json_string_value(r));
	}

	if (a->watch > 0) {
		printf("\nhidden flows (on the wire for %u s, never across the "
		       "divert): %zu\n",
		       a->watch, json_array_size(a->hidden));
		json_array_foreach(a->hidden, i, o)
		{
			const json_t *pid = json_object_get(o, "pid");
			const char *ev;

			printf("  %s %s %s:%lld -> %s:%lld on %s, %lld "
			       "packets, %lld bytes\n",
			       json_string_value(json_object_get(o, "dir")),
			       json_string_value(json_object_get(o, "proto")),
			       json_string_value(json_object_get(o, "src")),
			       (long long)json_integer_value(
			               json_object_get(o, "sport")),
			       json_string_value(json_object_get(o, "dst")),
			       (long long)json_integer_value(
			               json_object_get(o, "dport")),
			       json_string_value(
			               json_object_get(o, "interface")),
			       (long long)json_integer_value(
			               json_object_get(o, "packets")),
			       (long long)json_integer_value(
			               json_object_get(o, "bytes")));
			ev = json_string_value(
			        json_object_get(o, "process_evidence"));
			if (json_is_integer(pid))
				printf("    process: %s (pid %lld, uid "
				       "%lld%s)%s%s"
				       "\n",
				       json_string_value(
				               json_object_get(o, "exe")),
				       (long long)json_integer_value(pid),
				       (long long)json_integer_value(
				               json_object_get(o, "uid")),
				       json_is_true(
				               json_object_get(o, "exited"))
				               ? ", exited"
				               : "",
				       ev != NULL ? ": " : "",
				       ev != NULL ? ev : "");
			else if (json_is_integer(json_object_get(o, "uid")))
				printf("    process: unknown (its socket's uid "
				       "%lld)\n",
				       (long long)json_integer_value(
				               json_object_get(o, "uid")));
			else
				printf("    process: unknown\n");
			printf("    cause: %s: %s\n",
			       json_string_value(json_object_get(o, "cause")),
			       json_string_value(json_object_get(o, "why")));
		}
		printf("\nexempt flows (declared): %zu\n",
		       json_array_size(a->exempt));
		json_array_foreach(a->exempt, i, o) printf(
		        "  %s %s %s:%lld -> %s:%lld, %lld packets "
		        "(exempt %s)\n",
		        json_string_value(json_object_get(o, "dir")),
		        json_string_value(json_object_get(o, "proto")),
		        json_string_value(json_object_get(o, "src")),
		        (long long)json_integer_value(
		                json_object_get(o, "sport")),
		        json_string_value(json_object_get(o, "dst")),
		        (long long)json_integer_value(
		                json_object_get(o, "dport")),
		        (long long)json_integer_value(
		                json_object_get(o, "packets")),
		        json_string_value(json_object_get(o, "exemption")));
	}
	json_array_foreach(a->notes, i, o)
	        printf("note: %s\n", json_string_value(o));
	printf("\nverdict: %s\n", a->holes ? "holes" : "clean");
}

void
audit_print(const struct audit *a)
{
	json_t *out;

	out = json_pack("{s:O,s:O,s:O,s:O,s:s,s:O}", "counters", a->counters,
	                "steering", a->steering, "hidden", a->hidden, "exempt",
	                a->exempt, "verdict", a->holes ? "holes" : "clean",
	                "notes", a->notes);
	if (a->json) {
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		audit_print_text(a);
	}
	json_decref(out);
}

/* What the daemon keeps of a hidden flow (daemon_audit_flow()). */
static json_t *
tell_flow(const json_t *o)
{
	static const char *const keys[] = {"dir", "proto", "src",     "sport",
	                                   "dst", "dport", "packets", "bytes",
	                                   "pid", "uid",   "exe",     "cause"};
	json_t *t = json_object(), *v;
	size_t i;

	for (i = 0; t != NULL && i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_object_get(o, keys[i])) != NULL)
			json_object_set(t, keys[i], v);
	return t;
}

/* The request's length as control_request() sends it. */
static size_t
tell_len(const json_t *req)
{
	return json_dumpb(req, NULL, 0, JSON_COMPACT);
}

/*
 * Tell the daemon what a watch found, so its status and metrics show the
 * last audit's hidden flows. Only when a daemon answered status: without
 * one there is nobody to tell.
 */
void
audit_tell_daemon(struct audit *a)
{
	json_t *req, *r, *flows;
	const char *why;
	char err[512] = "out of memory";
	size_t i, n = json_array_size(a->hidden);

	if (a->status == NULL)
		return;
	/* The hidden flows themselves (at most AUDIT_TELL_FLOWS), for the
	 * store: `spackle log` shows them beside the flows that crossed.
	 * Only the keys it keeps, and as many as one request holds. */
	flows = json_array();
	for (i = 0; flows != NULL && i < n && i < AUDIT_TELL_FLOWS; i++)
		json_array_append_new(flows,
		                      tell_flow(json_array_get(a->hidden, i)));
	req = json_pack("{s:s,s:I,s:b,s:I,s:o*}", "cmd", "audit", "hidden",
	                (json_int_t)n, "holes", a->holes, "watch_s",
	                (json_int_t)a->watch, "flows", flows);
	while (req != NULL && flows != NULL && json_array_size(flows) > 0 &&
	       tell_len(req) >= CONTROL_LINE_MAX - 1)
		json_array_remove(flows, json_array_size(flows) - 1);
	if (flows != NULL && json_array_size(flows) < n)
		json_array_append_new(
		        a->notes,
		        json_sprintf(
		                "the daemon was told of %zu of the %zu "
		                "hidden flows (one request holds %d bytes)",
		                json_array_size(flows), n, CONTROL_LINE_MAX));
	r = req != NULL ? control_request(a->cfg.control, req, err, sizeof(err))
	                : NULL;
	if (r == NULL || json_object_get(r, "error") != NULL) {
		why = r == NULL
		              ? err
		              : json_string_value(json_object_get(r, "error"));
		json_array_append_new(
		        a->notes,
		        json_sprintf(
		                "the daemon was not told of this audit: %s",
		                why != NULL ? why : "refused"));
	}
	json_decref(r);
	json_decref(req);
}

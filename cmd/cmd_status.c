/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle status`: the daemon's mode, backend, queues and counters, what
 * needs attention first, the rest under headings. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/query.h"
#include "cmd/cmd.h"

/* What needs attention when it is not zero, and why. */
static const struct {
	const char *key, *why;
} status_alarms[] = {
        {"verdict_errors", "verdicts the kernel did not take"},
        {"enobufs", "packets lost: a divert socket's buffer was full"},
        {"queue_dropped", "packets the kernel dropped: a queue was full"},
        {"user_dropped", "packets the kernel could not hand to the daemon"},
        {"flows_evicted", "flows pushed out of a full flow table"},
        {"malformed", "packets that could not be parsed"},
        {"attrib_timeouts", "process lookups that ran out of time"},
        {"proc_events_lost", "process events lost (the proc connector)"},
        {"ct_events_lost", "conntrack events lost"},
        {"store_lost", "records lost before the store (a full queue)"},
        {"store_errors", "store records dropped on errors"},
        {"store_map_full", "the store's map was found full"},
        {"capture_lost", "denied packets the capture had no room for"},
        {"decisions_log_lost", "decision log entries lost"},
        {"tamper_events", "the steering was changed by someone else"},
        {"rule_reload_failures", "rule reloads refused for errors"},
};

/* The headings, each with the counters' names (a prefix ends in '_'),
 * in the order shown; what none names goes under "other". */
static const struct {
	const char *title;
	const char *keys[24];
} status_groups[] = {
        {"divert",
         {"received", "accepted", "dropped", "rejected", "malformed",
          "monitor_would_deny", "monitor_would_reject", "verdict_errors",
          "bursts", "enobufs", "unanswered", "queue_dropped", "user_dropped",
          "ct_", "capture_", NULL}},
        {"flows",
         {"flows_live", "flows_created", "flows_evicted", "flows_renewed",
          "decisions", "dns_answers", "name_holds", "names_", "rule_reloads",
          "rule_reload_failures", NULL}},
        {"attribution", {"attrib_", "proc_", NULL}},
        {"store", {"store", "store_", NULL}},
        {"steering", {"tamper_events", "steering_repairs", NULL}},
};
#define NGROUPS (sizeof(status_groups) / sizeof(status_groups[0]))

/* The group key belongs to; NGROUPS for none. */
static size_t
status_group(const char *key)
{
	size_t g, k, n;

	for (g = 0; g < NGROUPS; g++)
		for (k = 0; status_groups[g].keys[k] != NULL; k++) {
			const char *p = status_groups[g].keys[k];

			n = strlen(p);
			if (p[n - 1] == '_' ? strncmp(key, p, n) == 0
			                    : strcmp(key, p) == 0)
				return g;
		}
	return NGROUPS;
}

/* One counter, two to a line (46 columns each: a time in ns fits). */
static void
status_cell(const char *k, const json_t *v, unsigned *col)
{
	char val[32];

	if (json_is_boolean(v))
		snprintf(val, sizeof(val), "%s",
		         json_is_true(v) ? "yes" : "no");
	else
		snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
	printf("  %-24s %19s", k, val);
	if (++*col == 2) {
		putchar('\n');
		*col = 0;
	}
}

/* First what needs attention (or that nothing does), then each group. */
static void
status_counters(const json_t *r, json_t *c)
{
	const json_t *v, *audit = json_object_get(r, "audit");
	const char *k;
	unsigned col, n = 0;
	size_t i, g;

	for (i = 0; i < sizeof(status_alarms) / sizeof(status_alarms[0]); i++)
		if ((v = json_object_get(c, status_alarms[i].key)) != NULL &&
		    json_integer_value(v) > 0) {
			if (n++ == 0)
				printf("\nneeds attention:\n");
			printf("  %-24s %19" JSON_INTEGER_FORMAT "  %s\n",
			       status_alarms[i].key, json_integer_value(v),
			       status_alarms[i].why);
		}
	if (json_is_false(json_object_get(c, "store"))) {
		if (n++ == 0)
			printf("\nneeds attention:\n");
		printf("  running without a store: no history is kept\n");
	}
	if (json_is_true(json_object_get(audit, "holes"))) {
		if (n++ == 0)
			printf("\nneeds attention:\n");
		printf("  the last spackle audit found holes "
		       "(%" JSON_INTEGER_FORMAT " hidden flows)\n",
		       query_geti(audit, "hidden"));
	}
	if (n == 0)
		printf("\nneeds attention: nothing\n");
	for (g = 0; g <= NGROUPS; g++) {
		bool any = false;

		col = 0;
		json_object_foreach(c, k, v)
		{
			if (status_group(k) != g ||
			    (!json_is_integer(v) && !json_is_boolean(v)))
				continue;
			if (!any)
				printf("\n%s\n",
				       g < NGROUPS ? status_groups[g].title
				                   : "other");
			any = true;
			status_cell(k, v, &col);
		}
		if (col != 0)
			putchar('\n');
	}
}

int
cmd_status(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle status [-c CONF] [--json]\n";
	struct query_opts o;
	json_t *r, *c, *a;
	int rc = query_args(argc, argv, &o, usage);

	if (rc >= 0)
		return rc;
	if ((r = query_call(&o, "status", "status")) == NULL)
		return 2;
	if (o.json) {
		query_print_json(r);
		json_decref(r);
		return 0;
	}
	printf("spackle %s, pid %" JSON_INTEGER_FORMAT
	       ", up %" JSON_INTEGER_FORMAT " s\n",
	       query_gets(r, "version"), query_geti(r, "pid"),
	       query_geti(r, "uptime"));
	printf("mode %s, divert %s, default %s, failure %s\n",
	       query_gets(r, "mode"), query_gets(r, "divert"),
	       query_gets(r, "default"), query_gets(r, "failure"));
	printf("backend %s, firewall %s, %" JSON_INTEGER_FORMAT
	       " queues from %" JSON_INTEGER_FORMAT "\n",
	       query_gets(r, "backend"), query_gets(r, "firewall"),
	       query_geti(r, "queues"), query_geti(r, "queue_base"));
	printf("rules %s (%" JSON_INTEGER_FORMAT " loaded)\n",
	       query_gets(r, "rules"), query_geti(r, "rules_loaded"));
	c = json_object_get(r, "counters");
	a = json_object_get(r, "attribution");
	if (json_is_object(a))
		printf("attribution: %s; bpf hits %" JSON_INTEGER_FORMAT
		       ", misses %" JSON_INTEGER_FORMAT "\n",
		       query_gets(a, "method"),
		       query_geti(c, "attrib_bpf_hits"),
		       query_geti(c, "attrib_bpf_misses"));
	status_counters(r, c);
	json_decref(r);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle status`: the daemon's mode, backend, queues and counters; what
 * needs attention first, then the counters under headings. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/query.h"
#include "cmd/cmd.h"
#include "spackle/texttab.h"

#define NS_PER_SEC 1000000000ull

/* The headings, in the order printed. */
enum group {
	G_DIVERT = 0,
	G_FLOWS,
	G_NAMES,
	G_CONNTRACK,
	G_ATTRIB,
	G_STORE,
	G_CAPTURE,
	G_RULES,
	G_STEERING,
	G_OTHER, /* counters this table does not know yet */
	G_N,
};
static const char *const group_name[G_N] = {
        "divert", "flows",   "names", "conntrack", "attribution",
        "store",  "capture", "rules", "steering",  "other",
};

enum kind { K_COUNT = 0, K_BYTES, K_AGO };

/* Every counter of the daemon's status (daemon/answers.c), its heading and
 * how its value reads; the JSON's names, so text and --json match. */
static const struct counter {
	const char *key;
	enum group g;
	enum kind k;
} counters[] = {
        {"received", G_DIVERT, K_COUNT},
        {"accepted", G_DIVERT, K_COUNT},
        {"dropped", G_DIVERT, K_COUNT},
        {"rejected", G_DIVERT, K_COUNT},
        {"monitor_would_deny", G_DIVERT, K_COUNT},
        {"monitor_would_reject", G_DIVERT, K_COUNT},
        {"bursts", G_DIVERT, K_COUNT},
        {"gso_received", G_DIVERT, K_COUNT},
        {"gso_segments", G_DIVERT, K_COUNT},
        {"gso_in_extra", G_DIVERT, K_COUNT},
        {"malformed", G_DIVERT, K_COUNT},
        {"verdict_errors", G_DIVERT, K_COUNT},
        {"unanswered", G_DIVERT, K_COUNT},
        {"enobufs", G_DIVERT, K_COUNT},
        {"queue_dropped", G_DIVERT, K_COUNT},
        {"user_dropped", G_DIVERT, K_COUNT},
        {"passed_unseen", G_DIVERT, K_COUNT},
        {"flows_live", G_FLOWS, K_COUNT},
        {"flows_created", G_FLOWS, K_COUNT},
        {"flows_renewed", G_FLOWS, K_COUNT},
        {"flows_evicted", G_FLOWS, K_COUNT},
        {"decisions", G_FLOWS, K_COUNT},
        {"decisions_logged", G_FLOWS, K_COUNT},
        {"decisions_log_lost", G_FLOWS, K_COUNT},
        {"dns_answers", G_NAMES, K_COUNT},
        {"name_holds", G_NAMES, K_COUNT},
        {"names_sni", G_NAMES, K_COUNT},
        {"names_http", G_NAMES, K_COUNT},
        {"names_missing", G_NAMES, K_COUNT},
        {"peer_resets", G_NAMES, K_COUNT},
        {"ct_flows_ended", G_CONNTRACK, K_COUNT},
        {"ct_events_lost", G_CONNTRACK, K_COUNT},
        {"ct_dump_us", G_CONNTRACK, K_COUNT},
        {"ct_events_read", G_CONNTRACK, K_COUNT},
        {"ct_events_before_syn", G_CONNTRACK, K_COUNT},
        {"ct_split_workers", G_CONNTRACK, K_COUNT},
        {"attrib_lookups", G_ATTRIB, K_COUNT},
        {"attrib_time_us", G_ATTRIB, K_COUNT},
        {"attrib_found", G_ATTRIB, K_COUNT},
        {"attrib_exited", G_ATTRIB, K_COUNT},
        {"attrib_unknown", G_ATTRIB, K_COUNT},
        {"attrib_timeouts", G_ATTRIB, K_COUNT},
        {"attrib_no_socket", G_ATTRIB, K_COUNT},
        {"attrib_cache_hits", G_ATTRIB, K_COUNT},
        {"attrib_bpf_conn_hits", G_ATTRIB, K_COUNT},
        {"attrib_exe_cached", G_ATTRIB, K_COUNT},
        {"attrib_bpf_hits", G_ATTRIB, K_COUNT},
        {"attrib_bpf_misses", G_ATTRIB, K_COUNT},
        {"attrib_scans", G_ATTRIB, K_COUNT},
        {"attrib_scanned_processes", G_ATTRIB, K_COUNT},
        {"attrib_scanned_fds", G_ATTRIB, K_COUNT},
        {"attrib_fd_guesses", G_ATTRIB, K_COUNT},
        {"attrib_ambiguous", G_ATTRIB, K_COUNT},
        {"proc_events", G_ATTRIB, K_COUNT},
        {"proc_events_lost", G_ATTRIB, K_COUNT},
        {"proc_execs", G_ATTRIB, K_COUNT},
        {"proc_exec_missed", G_ATTRIB, K_COUNT},
        {"proc_exec_by_main", G_ATTRIB, K_COUNT},
        {"proc_exec_lag_max_us", G_ATTRIB, K_COUNT},
        {"proc_exits", G_ATTRIB, K_COUNT},
        {"proc_own_exits", G_ATTRIB, K_COUNT},
        {"store_queued", G_STORE, K_COUNT},
        {"store_written", G_STORE, K_COUNT},
        {"store_deferred", G_STORE, K_COUNT},
        {"store_flushes", G_STORE, K_COUNT},
        {"store_lost", G_STORE, K_COUNT},
        {"store_errors", G_STORE, K_COUNT},
        {"store_map_full", G_STORE, K_COUNT},
        {"store_pruned_full", G_STORE, K_COUNT},
        {"store_pruned_age", G_STORE, K_COUNT},
        {"store_map_size", G_STORE, K_BYTES},
        {"store_map_used", G_STORE, K_BYTES},
        {"store_last_commit_ns", G_STORE, K_AGO},
        {"incomplete_budget", G_STORE, K_COUNT},
        {"incomplete_pending", G_STORE, K_COUNT},
        {"incomplete_deferred", G_STORE, K_COUNT},
        {"incomplete_promoted", G_STORE, K_COUNT},
        {"incomplete_folded", G_STORE, K_COUNT},
        {"incomplete_aggregates", G_STORE, K_COUNT},
        {"incomplete_unkept", G_STORE, K_COUNT},
        {"capture_packets", G_CAPTURE, K_COUNT},
        {"capture_rotations", G_CAPTURE, K_COUNT},
        {"capture_lost", G_CAPTURE, K_COUNT},
        {"capture_errors", G_CAPTURE, K_COUNT},
        {"rule_reloads", G_RULES, K_COUNT},
        {"rule_reload_failures", G_RULES, K_COUNT},
        {"tamper_events", G_STEERING, K_COUNT},
        {"steering_repairs", G_STEERING, K_COUNT},
        {"steering_saves", G_STEERING, K_COUNT},
        {"steering_counter_reads", G_STEERING, K_COUNT},
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

/* Counters that say something went wrong when they are not zero, the
 * worst first, and what each means. */
static const struct trouble {
	const char *key, *why;
} troubles[] = {
        {"passed_unseen", "a full queue let packets past spackle unseen"},
        {"queue_dropped", "the kernel dropped packets: a queue was full"},
        {"user_dropped", "packets the kernel could not hand to spackle"},
        {"enobufs", "the queue socket overflowed (ENOBUFS)"},
        {"verdict_errors", "verdicts the kernel refused"},
        {"unanswered", "packets that never got a verdict"},
        {"malformed", "packets or messages spackle could not read"},
        {"tamper_events", "someone else changed the steering"},
        {"rule_reload_failures", "reloads refused; the old rules stayed"},
        {"flows_evicted", "the flow table was full: flows forgotten early"},
        {"ct_events_lost", "conntrack events lost"},
        {"attrib_timeouts", "flows decided before their process was known"},
        {"proc_events_lost", "process events lost"},
        {"store_lost", "flow records the store could not keep"},
        {"store_errors", "the store failed to write"},
        {"store_map_full", "the store's map was full"},
        {"incomplete_folded",
         "flows that never completed, past the budget: kept as "
         "aggregates (a flood?)"},
        {"incomplete_unkept", "incomplete flows in no aggregate"},
        {"decisions_log_lost", "decision log lines lost"},
        {"capture_lost", "packets the capture missed"},
        {"capture_errors", "the capture failed to write"},
};
#define NTROUBLES (sizeof(troubles) / sizeof(troubles[0]))

/* A key and its value as text. */
struct item {
	char key[40], val[40];
	const char *why; /* attention only */
};

struct items {
	struct item v[128];
	size_t n;
};

static struct item *
item_add(struct items *it, const char *key)
{
	struct item *i;

	if (it->n == sizeof(it->v) / sizeof(it->v[0]))
		return NULL;
	i = &it->v[it->n++];
	memset(i, 0, sizeof(*i));
	snprintf(i->key, sizeof(i->key), "%s", key);
	return i;
}

static uint64_t
uval(const json_t *v)
{
	json_int_t n = json_integer_value(v);

	return n > 0 ? (uint64_t)n : 0;
}

/* "3 h 12 min", "40 s": the two largest units. */
static char *
duration(uint64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%" PRIu64 " d %" PRIu64 " h", s / 86400,
		         s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 " h %" PRIu64 " min", s / 3600,
		         s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRIu64 " min %" PRIu64 " s", s / 60,
		         s % 60);
	else
		snprintf(buf, len, "%" PRIu64 " s", s);
	return buf;
}

/* The daemon's clock when it answered: its start plus its uptime. */
static uint64_t
answered_ns(const json_t *r)
{
	return uval(json_object_get(r, "started_ns")) +
	       uval(json_object_get(r, "uptime")) * NS_PER_SEC;
}

static void
item_value(struct item *i, const json_t *r, const json_t *v, enum kind k)
{
	char b[32];
	uint64_t n = uval(v), now;
	size_t l;

	if (json_is_boolean(v)) {
		snprintf(i->val, sizeof(i->val), "%s",
		         json_is_true(v) ? "yes" : "no");
	} else if (k == K_BYTES) {
		texttab_size(n, b, sizeof(b));
		l = strlen(b);
		if (l > 0 && b[l - 1] >= 'A' && b[l - 1] <= 'Z')
			snprintf(i->val, sizeof(i->val), "%.*s %ciB",
			         (int)(l - 1), b, b[l - 1]);
		else
			snprintf(i->val, sizeof(i->val), "%s B", b);
	} else if (k == K_AGO) {
		now = answered_ns(r);
		if (n == 0)
			snprintf(i->val, sizeof(i->val), "never");
		else
			snprintf(i->val, sizeof(i->val), "%s ago",
			         duration(now > n ? (now - n) / NS_PER_SEC : 0,
			                  b, sizeof(b)));
		/* Its name says what it is as text. */
		snprintf(i->key, sizeof(i->key), "store_last_commit");
	} else {
		texttab_count(n, i->val, sizeof(i->val));
	}
}

static const struct counter *
counter_of(const char *key)
{
	size_t i;

	for (i = 0; i < NCOUNTERS; i++)
		if (strcmp(counters[i].key, key) == 0)
			return &counters[i];
	return NULL;
}

/* What needs attention: the troubles that are not zero, and the last
 * audit's findings. */
static void
attention(const json_t *r, const json_t *c, struct items *it)
{
	const json_t *audit = json_object_get(r, "audit");
	const json_t *steer = json_object_get(r, "steering");
	struct item *i;
	size_t k;

	for (k = 0; k < NTROUBLES; k++) {
		const json_t *v = json_object_get(c, troubles[k].key);

		if (uval(v) == 0 || (i = item_add(it, troubles[k].key)) == NULL)
			continue;
		texttab_count(uval(v), i->val, sizeof(i->val));
		i->why = troubles[k].why;
	}
	if (uval(json_object_get(audit, "hidden")) > 0 &&
	    (i = item_add(it, "audit hidden")) != NULL) {
		texttab_count(uval(json_object_get(audit, "hidden")), i->val,
		              sizeof(i->val));
		i->why = "flows the last audit saw pass without spackle";
	}
	if (json_is_false(json_object_get(steer, "in_place")) &&
	    (i = item_add(it, "steering")) != NULL) {
		uint64_t n = uval(json_object_get(steer, "hooks")),
		         ok = uval(json_object_get(steer, "hooks_in_place"));

		texttab_count(n > ok ? n - ok : 1, i->val, sizeof(i->val));
		i->why = "hooks without spackle's jump first";
	}
	if (json_is_true(json_object_get(audit, "holes")) &&
	    (i = item_add(it, "audit holes")) != NULL) {
		snprintf(i->val, sizeof(i->val), "yes");
		i->why = "the last audit found holes in the steering";
	}
}

/* The widest key and value of all the items. */
static void
widths(const struct items *g, size_t ng, unsigned *kw, unsigned *vw)
{
	size_t a, b;

	for (a = 0; a < ng; a++)
		for (b = 0; b < g[a].n; b++) {
			if (strlen(g[a].v[b].key) > *kw)
				*kw = (unsigned)strlen(g[a].v[b].key);
			if (strlen(g[a].v[b].val) > *vw)
				*vw = (unsigned)strlen(g[a].v[b].val);
		}
}

/* A heading's items: two to a line, down then across, when two fit. */
static void
print_grid(const struct items *it, unsigned kw, unsigned vw, FILE *out)
{
	unsigned cw = 2 + kw + 2 + vw;
	size_t rows, r, k;
	bool two = 2 * cw + 2 <= TEXTTAB_WIDTH;

	rows = two ? (it->n + 1) / 2 : it->n;
	for (r = 0; r < rows; r++) {
		for (k = r; k < it->n; k += rows) {
			fprintf(out, "%s  %-*s  %*s", k == r ? "" : "  ",
			        (int)kw, it->v[k].key, (int)vw, it->v[k].val);
			if (!two)
				break;
		}
		fputc('\n', out);
	}
}

static void
print_attention(const struct items *a, unsigned kw, unsigned vw, FILE *out)
{
	char why[TEXTTAB_WIDTH * 4 + 1];
	unsigned used = 2 + kw + 2 + vw + 2;
	size_t k;

	if (a->n == 0) {
		fprintf(out, "nothing needs attention\n");
		return;
	}
	fprintf(out, "attention\n");
	for (k = 0; k < a->n; k++) {
		texttab_fit(a->v[k].why, TEXTTAB_CUT_END,
		            used < TEXTTAB_WIDTH - 8 ? TEXTTAB_WIDTH - used : 8,
		            why, sizeof(why));
		fprintf(out, "  %-*s  %*s  %s\n", (int)kw, a->v[k].key, (int)vw,
		        a->v[k].val, why);
	}
}

/* The daemon's state and its steering's, when the daemon says them. */
static void
print_state(const json_t *r, FILE *out)
{
	const json_t *st = json_object_get(r, "steering");
	const json_t *in = json_object_get(st, "in_place");
	uint64_t hooks = uval(json_object_get(st, "hooks"));

	if (json_object_get(r, "state") == NULL)
		return;
	fprintf(out, "state %s, steering ", query_gets(r, "state"));
	if (json_is_true(in))
		fprintf(out, "in place in all %" PRIu64 " hooks", hooks);
	else if (json_is_false(in) && hooks > 0)
		fprintf(out, "NOT in place: %" PRIu64 " of %" PRIu64 " hooks",
		        uval(json_object_get(st, "hooks_in_place")), hooks);
	else if (json_is_false(in))
		fprintf(out, "NOT in place");
	else
		fprintf(out, "not checked (the firewall's rules are not "
		             "read back)");
	if (json_object_get(st, "checked_ms_ago") != NULL)
		fprintf(out, ", checked %" PRIu64 " ms ago",
		        uval(json_object_get(st, "checked_ms_ago")));
	/* iptables-nft: its counters alone while nothing changed. */
	if (json_is_string(json_object_get(st, "read")))
		fprintf(out, " (%s %s)",
		        strcmp(query_gets(st, "read"), "nf_tables") == 0
		                ? "unchanged in"
		                : "read by",
		        query_gets(st, "read"));
	fputc('\n', out);
}

/* The first lines: who, in what state, how, what rules. */
static void
print_head(const json_t *r, FILE *out)
{
	char up[32], rules[TEXTTAB_WIDTH * 4 + 1];

	fprintf(out, "spackle %s, pid %" JSON_INTEGER_FORMAT ", up %s\n",
	        query_gets(r, "version"), query_geti(r, "pid"),
	        duration(uval(json_object_get(r, "uptime")), up, sizeof(up)));
	print_state(r, out);
	fprintf(out, "mode %s, divert %s, default %s, failure %s\n",
	        query_gets(r, "mode"), query_gets(r, "divert"),
	        query_gets(r, "default"), query_gets(r, "failure"));
	fprintf(out,
	        "backend %s, firewall %s, %" JSON_INTEGER_FORMAT
	        " queues from %" JSON_INTEGER_FORMAT "\n",
	        query_gets(r, "backend"), query_gets(r, "firewall"),
	        query_geti(r, "queues"), query_geti(r, "queue_base"));
	texttab_fit(query_gets(r, "rules"), TEXTTAB_CUT_PATH,
	            TEXTTAB_WIDTH - 30, rules, sizeof(rules));
	fprintf(out, "rules %s (%" JSON_INTEGER_FORMAT " loaded)\n", rules,
	        query_geti(r, "rules_loaded"));
}

/* attribution's heading names its method, as the line before it did
 * (attribution: bpf (cgroup sock_create)); then its state. */
static void
print_attrib_head(const json_t *a, FILE *out)
{
	char line[512], fit[TEXTTAB_WIDTH * 4 + 1], np[32], ns[32];

	snprintf(line, sizeof(line), "attribution: %s",
	         query_gets(a, "method"));
	fprintf(out, "\n%s\n",
	        texttab_fit(line, TEXTTAB_CUT_END, TEXTTAB_WIDTH, fit,
	                    sizeof(fit)));
	fprintf(out,
	        "  timeout %" JSON_INTEGER_FORMAT
	        " ms; %s processes, %s sockets known\n",
	        query_geti(a, "timeout_ms"),
	        texttab_count(uval(json_object_get(a, "processes")), np,
	                      sizeof(np)),
	        texttab_count(uval(json_object_get(a, "sockets")), ns,
	                      sizeof(ns)));
}

/* The last report of `spackle audit`, when there was one. */
static void
print_audit(const json_t *r, FILE *out)
{
	const json_t *au = json_object_get(r, "audit");
	uint64_t now = answered_ns(r), at = uval(json_object_get(au, "at_ns"));
	char ago[32];

	if (!json_is_object(au))
		return;
	fprintf(out,
	        "  last audit %s ago: %" JSON_INTEGER_FORMAT
	        " hidden flows, %s\n",
	        duration(now > at ? (now - at) / NS_PER_SEC : 0, ago,
	                 sizeof(ago)),
	        query_geti(au, "hidden"),
	        json_is_true(json_object_get(au, "holes"))
	                ? "holes in the steering"
	                : "no holes");
}

int
status_print_text(json_t *r, FILE *out)
{
	json_t *c = json_object_get(r, "counters"), *v;
	const json_t *a = json_object_get(r, "attribution");
	struct items *g = calloc(G_N + 1, sizeof(*g)), *att;
	const struct counter *ct;
	const char *k;
	struct item *i;
	unsigned kw = 0, vw = 1;
	size_t n;

	if (g == NULL)
		return -1;
	att = &g[G_N];
	/* Each heading's counters in the table's order, then unknown ones. */
	for (n = 0; n < NCOUNTERS; n++)
		if ((v = json_object_get(c, counters[n].key)) != NULL &&
		    (i = item_add(&g[counters[n].g], counters[n].key)) != NULL)
			item_value(i, r, v, counters[n].k);
	json_object_foreach(c, k, v)
	{
		if ((ct = counter_of(k)) != NULL || strcmp(k, "store") == 0 ||
		    !(json_is_integer(v) || json_is_boolean(v)))
			continue;
		if ((i = item_add(&g[G_OTHER], k)) != NULL)
			item_value(i, r, v, K_COUNT);
	}
	attention(r, c, att);
	widths(g, G_N + 1, &kw, &vw);

	print_head(r, out);
	fputc('\n', out);
	print_attention(att, kw, vw, out);
	for (n = 0; n < G_N; n++) {
		bool nostore = n == G_STORE &&
		               json_is_false(json_object_get(c, "store"));

		if (g[n].n == 0 && !nostore &&
		    !(n == G_ATTRIB && json_is_object(a)))
			continue;
		/* Packet mode: conntrack is not read. */
		if (n == G_CONNTRACK &&
		    strcmp(query_gets(r, "divert"), "flow") != 0)
			continue;
		if (n == G_ATTRIB && json_is_object(a))
			print_attrib_head(a, out);
		else
			fprintf(out, "\n%s\n", group_name[n]);
		if (nostore)
			fprintf(out, "  none (db = none): no history kept\n");
		if (n == G_STEERING)
			print_audit(r, out);
		print_grid(&g[n], kw, vw, out);
	}
	free(g);
	return 0;
}

int
cmd_status(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle status [-c CONF] [--json]\n";
	struct query_opts o;
	json_t *r;
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
	rc = status_print_text(r, stdout);
	json_decref(r);
	if (rc != 0) {
		fprintf(stderr, "spackle status: out of memory\n");
		return 2;
	}
	return fflush(stdout) != 0 ? 2 : 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus metrics: the daemon's counters as text at /metrics (evhttp). */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spackle/config.h"
#include "daemon/http.h"
#include "daemon/metrics.h"

#define METRICS_TIMEOUT_S 10
#define METRICS_BODY_MAX  1024 /* a scrape has no body */

struct metrics {
	struct evhttp *http;
	json_t *(*status)(void *arg);
	void *arg;
};

/* One metric from a field of the status's "counters" object. */
struct metric_def {
	const char *key;  /* in "counters" */
	const char *name; /* spackle_... */
	const char *type; /* counter | gauge */
	const char *help;
};

static const struct metric_def metric_defs[] = {
        {"received", "spackle_packets_received_total", "counter",
         "Packets that crossed the divert."},
        {"malformed", "spackle_packets_malformed_total", "counter",
         "Packets that could not be parsed, decided by the default."},
        {"verdict_errors", "spackle_verdict_errors_total", "counter",
         "Verdicts the kernel did not take."},
        {"monitor_would_deny", "spackle_monitor_would_deny_total", "counter",
         "Packets monitor mode let pass that enforce mode would deny."},
        {"monitor_would_reject", "spackle_monitor_would_reject_total",
         "counter",
         "Packets monitor mode let pass that enforce mode would reject."},
        {"decisions", "spackle_decisions_total", "counter",
         "Flows decided by the rules."},
        {"flows_created", "spackle_flows_created_total", "counter",
         "Flows seen."},
        {"flows_live", "spackle_flows_live", "gauge",
         "Flows in the flow tables now."},
        {"flows_evicted", "spackle_flows_evicted_total", "counter",
         "Flows evicted from a full flow table."},
        {"enobufs", "spackle_socket_drops_total", "counter",
         "Packets lost because a divert socket's buffer was full "
         "(ENOBUFS)."},
        {"queue_dropped", "spackle_queue_drops_total", "counter",
         "Packets the kernel dropped because a queue was full."},
        {"user_dropped", "spackle_queue_user_drops_total", "counter",
         "Packets the kernel could not hand to the daemon's socket."},
        {"passed_unseen", "spackle_packets_passed_unseen_total", "counter",
         "Packets the steering sent to a queue that a full queue let "
         "past unseen (failure = open)."},
        {"store_lost", "spackle_store_lost_records_total", "counter",
         "Records lost before the store (a full hand-over queue)."},
        {"store_written", "spackle_store_written_records_total", "counter",
         "Records written to the store."},
        {"store_errors", "spackle_store_errors_total", "counter",
         "Store transactions that failed."},
        {"incomplete_folded", "spackle_incomplete_flows_folded_total",
         "counter",
         "Flows that never completed, past the budget, kept in "
         "aggregates rather than one by one."},
        {"incomplete_aggregates", "spackle_store_aggregates_total", "counter",
         "Aggregate records of incomplete flows written."},
        {"tamper_events", "spackle_tamper_events_total", "counter",
         "Times the steering was found changed by someone else."},
        {"steering_repairs", "spackle_steering_repairs_total", "counter",
         "Times the steering was put back (steering_repair)."},
        {"rule_reloads", "spackle_rule_reloads_total", "counter",
         "Rule reloads that took effect."},
        {"rule_reload_failures", "spackle_rule_reload_failures_total",
         "counter", "Rule reloads refused for errors (old rules kept)."},
        {"attrib_lookups", "spackle_attrib_lookups_total", "counter",
         "Process lookups for new flows."},
        {"attrib_timeouts", "spackle_attrib_timeouts_total", "counter",
         "Process lookups that ran out of time."},
        {"ct_flows_ended", "spackle_ct_flows_ended_total", "counter",
         "Flow mode: flows ended by conntrack."},
};

static void
metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A JSON number as a sample value (integers exactly). */
static void
metric_value(FILE *f, const json_t *v)
{
	if (json_is_integer(v))
		fprintf(f, "%lld\n", (long long)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(f, "%.17g\n", json_real_value(v));
	else
		fprintf(f, "%d\n", json_is_true(v) ? 1 : 0);
}

/* A label value: backslash, quote and newline escaped. */
static void
metric_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* A string field of the status, "" when it has none. */
static const char *
metric_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

char *
metrics_render(const json_t *status)
{
	static const char *const verdicts[][2] = {{"accepted", "allow"},
	                                          {"dropped", "deny"},
	                                          {"rejected", "reject"}};
	const json_t *c = json_object_get(status, "counters");
	const json_t *audit = json_object_get(status, "audit");
	const json_t *v;
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	metric_head(f, "spackle_info", "gauge",
	            "The daemon's version and modes (always 1).");
	fputs("spackle_info{version=\"", f);
	metric_label(f, metric_str(status, "version"));
	fputs("\",mode=\"", f);
	metric_label(f, metric_str(status, "mode"));
	fputs("\",divert=\"", f);
	metric_label(f, metric_str(status, "divert"));
	fputs("\"} 1\n", f);
	if ((v = json_object_get(status, "uptime")) != NULL) {
		metric_head(f, "spackle_uptime_seconds", "gauge",
		            "Seconds since the daemon started.");
		fputs("spackle_uptime_seconds ", f);
		metric_value(f, v);
	}
	if ((v = json_object_get(status, "rules_loaded")) != NULL) {
		metric_head(f, "spackle_rules_loaded", "gauge",
		            "Rules in the set in force.");
		fputs("spackle_rules_loaded ", f);
		metric_value(f, v);
	}
	v = json_object_get(json_object_get(status, "steering"), "in_place");
	if (json_is_boolean(v)) {
		metric_head(f, "spackle_steering_in_place", "gauge",
		            "1 when spackle's jump is whole and first in every "
		            "hook, as the last check (each second) found it.");
		fputs("spackle_steering_in_place ", f);
		metric_value(f, v);
	}
	metric_head(
	        f, "spackle_packets_total", "counter",
	        "Packets that crossed the divert, by the verdict they got.");
	for (i = 0; i < 3; i++)
		if ((v = json_object_get(c, verdicts[i][0])) != NULL) {
			fprintf(f, "spackle_packets_total{verdict=\"%s\"} ",
			        verdicts[i][1]);
			metric_value(f, v);
		}
	for (i = 0; i < sizeof(metric_defs) / sizeof(metric_defs[0]); i++) {
		const struct metric_def *d = &metric_defs[i];

		if ((v = json_object_get(c, d->key)) == NULL)
			continue;
		metric_head(f, d->name, d->type, d->help);
		fprintf(f, "%s ", d->name);
		metric_value(f, v);
	}
	if (audit != NULL) {
		metric_head(f, "spackle_audit_hidden_flows", "gauge",
		            "Hidden flows found by the last spackle audit.");
		fputs("spackle_audit_hidden_flows ", f);
		metric_value(f, json_object_get(audit, "hidden"));
		metric_head(f, "spackle_audit_holes", "gauge",
		            "1 when the last spackle audit found holes.");
		fputs("spackle_audit_holes ", f);
		metric_value(f, json_object_get(audit, "holes"));
		metric_head(
		        f, "spackle_audit_timestamp_seconds", "gauge",
		        "When the last spackle audit reported (Unix time).");
		fprintf(f, "spackle_audit_timestamp_seconds %lld\n",
		        (long long)(json_integer_value(
		                            json_object_get(audit, "at_ns")) /
		                    1000000000));
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static void
metrics_reply(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *body;
	json_t *status;
	char *text;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "only GET and HEAD");
		return;
	}
	status = m->status(m->arg);
	text = status != NULL ? metrics_render(status) : NULL;
	json_decref(status);
	if (text == NULL || (body = evbuffer_new()) == NULL) {
		free(text);
		evhttp_send_error(req, 500, "no status");
		return;
	}
	evbuffer_add(body, text, strlen(text));
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Content-Type", METRICS_CONTENT);
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
}

static void
metrics_not_found(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "only " METRICS_PATH " is served here");
}

struct metrics *
metrics_listen(struct event_base *base, const char *spec,
               json_t *(*status)(void *arg), void *arg, char *err,
               size_t errlen)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->status = status;
	m->arg = arg;
	if ((m->http = daemon_http_listen(base, spec, err, errlen)) == NULL) {
		free(m);
		return NULL;
	}
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_max_body_size(m->http, METRICS_BODY_MAX);
	evhttp_set_max_headers_size(m->http, 8192);
	/* Methods it knows reach the handler, which answers 405 to all but
	 * GET and HEAD; the rest get evhttp's 501. */
	evhttp_set_allowed_methods(
	        m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_cb(m->http, METRICS_PATH, metrics_reply, m);
	evhttp_set_gencb(m->http, metrics_not_found, m);
	return m;
}

void
metrics_close(struct metrics *m)
{
	if (m == NULL)
		return;
	evhttp_free(m->http);
	free(m);
}

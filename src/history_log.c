/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle log`: flows and events from the store, as text, JSON or CSV. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/flow.h"
#include "src/history_int.h"

/* ---- flows ------------------------------------------------------------- */

static const char *
endpoint(const struct sp_addr *a, uint16_t port, char *buf, size_t len)
{
	char ab[64];

	sp_addr_format(a, ab, sizeof(ab));
	snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ab,
	         port);
	return buf;
}

json_t *
history_flow_json(const struct store_flow *r)
{
	char ab[64], pb[8], tb[32];
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer((json_int_t)r->id));
	json_object_set_new(
	        o, "proto",
	        json_string(sp_proto_format(r->proto, pb, sizeof(pb))));
	json_object_set_new(
	        o, "src",
	        json_string(sp_addr_format(&r->local, ab, sizeof(ab))));
	json_object_set_new(o, "sport", json_integer(r->local_port));
	json_object_set_new(
	        o, "dst",
	        json_string(sp_addr_format(&r->remote, ab, sizeof(ab))));
	json_object_set_new(o, "dport", json_integer(r->remote_port));
	json_object_set_new(o, "dir",
	                    json_string(sp_dir_name((enum sp_dir)r->dir)));
	json_object_set_new(o, "pid",
	                    r->pid >= 0 ? json_integer(r->pid) : json_null());
	json_object_set_new(o, "exe",
	                    r->exe[0] ? json_string(r->exe) : json_null());
	json_object_set_new(o, "uid",
	                    r->uid != FLOW_UID_UNKNOWN ? json_integer(r->uid)
	                                               : json_null());
	json_object_set_new(o, "host",
	                    r->host[0] ? json_string(r->host) : json_null());
	json_object_set_new(
	        o, "verdict",
	        json_string(sp_verdict_name((enum sp_verdict)r->verdict)));
	json_object_set_new(o, "rule",
	                    r->rule[0] ? json_string(r->rule) : json_null());
	json_object_set_new(o, "monitor",
	                    json_boolean(r->flags & STORE_FLOW_MONITOR));
	json_object_set_new(o, "hidden",
	                    json_boolean(r->flags & STORE_FLOW_HIDDEN));
	json_object_set_new(o, "ended",
	                    json_boolean(r->flags & STORE_FLOW_ENDED));
	json_object_set_new(o, "packets_out",
	                    json_integer((json_int_t)r->packets_out));
	json_object_set_new(o, "packets_in",
	                    json_integer((json_int_t)r->packets_in));
	json_object_set_new(o, "bytes_out",
	                    json_integer((json_int_t)r->bytes_out));
	json_object_set_new(o, "bytes_in",
	                    json_integer((json_int_t)r->bytes_in));
	json_object_set_new(o, "first_ns",
	                    json_integer((json_int_t)r->first_ns));
	json_object_set_new(o, "last_ns", json_integer((json_int_t)r->last_ns));
	json_object_set_new(
	        o, "first",
	        json_string(history_format_time(r->first_ns, tb, sizeof(tb))));
	json_object_set_new(
	        o, "last",
	        json_string(history_format_time(r->last_ns, tb, sizeof(tb))));
	return o;
}

/* A CSV field (RFC 4180): quoted when it holds a comma, quote or newline. */
static void
csv_field(FILE *out, const char *s, bool last)
{
	const char *p;

	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
	} else {
		fputc('"', out);
		for (p = s; *p; p++) {
			if (*p == '"')
				fputc('"', out);
			fputc(*p, out);
		}
		fputc('"', out);
	}
	fputc(last ? '\n' : ',', out);
}

static const char csv_header[] =
        "first,last,id,proto,src,sport,dst,dport,dir,pid,exe,uid,host,"
        "verdict,rule,monitor,ended,packets_out,packets_in,bytes_out,"
        "bytes_in\n";

static void
log_csv(FILE *out, const struct store_flow *r)
{
	char b[64], pb[8];

	csv_field(out, history_format_time(r->first_ns, b, sizeof(b)), false);
	csv_field(out, history_format_time(r->last_ns, b, sizeof(b)), false);
	fprintf(out, "%" PRIu64 ",", r->id);
	csv_field(out, sp_proto_format(r->proto, pb, sizeof(pb)), false);
	csv_field(out, sp_addr_format(&r->local, b, sizeof(b)), false);
	fprintf(out, "%u,", r->local_port);
	csv_field(out, sp_addr_format(&r->remote, b, sizeof(b)), false);
	fprintf(out, "%u,", r->remote_port);
	csv_field(out, sp_dir_name((enum sp_dir)r->dir), false);
	if (r->pid >= 0)
		fprintf(out, "%d", r->pid);
	fputc(',', out);
	csv_field(out, r->exe, false);
	if (r->uid != FLOW_UID_UNKNOWN)
		fprintf(out, "%u", r->uid);
	fputc(',', out);
	csv_field(out, r->host, false);
	csv_field(out, sp_verdict_name((enum sp_verdict)r->verdict), false);
	csv_field(out, r->rule, false);
	fprintf(out, "%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
	        (r->flags & STORE_FLOW_MONITOR) ? "true" : "false",
	        (r->flags & STORE_FLOW_ENDED) ? "true" : "false",
	        r->packets_out, r->packets_in, r->bytes_out, r->bytes_in);
}

static void
log_text_header(FILE *out)
{
	fprintf(out,
	        "%-20s %-3s %-5s %-28s %-2s %-28s %-24s %-7s %-24s %-13s "
	        "%-17s %s\n",
	        "first seen", "dir", "proto", "local", "", "remote", "host",
	        "verdict", "rule", "pkts out/in", "bytes out/in", "process");
}

static void
log_text(FILE *out, const struct store_flow *r)
{
	char tb[32], lb[80], rb[80], pb[8], pk[48], by[48], who[64];

	snprintf(pk, sizeof(pk), "%" PRIu64 "/%" PRIu64, r->packets_out,
	         r->packets_in);
	snprintf(by, sizeof(by), "%" PRIu64 "/%" PRIu64, r->bytes_out,
	         r->bytes_in);
	if (r->pid >= 0 && r->uid != FLOW_UID_UNKNOWN)
		snprintf(who, sizeof(who), " (pid %d, uid %u)", r->pid, r->uid);
	else if (r->uid != FLOW_UID_UNKNOWN)
		snprintf(who, sizeof(who), " (uid %u)", r->uid);
	else
		who[0] = '\0';
	fprintf(out,
	        "%-20s %-3s %-5s %-28s %-2s %-28s %-24s %-7s %-24s %-13s %-17s "
	        "%s%s%s%s\n",
	        history_format_time(r->first_ns, tb, sizeof(tb)),
	        sp_dir_name((enum sp_dir)r->dir),
	        sp_proto_format(r->proto, pb, sizeof(pb)),
	        endpoint(&r->local, r->local_port, lb, sizeof(lb)),
	        r->dir == SP_DIR_IN ? "<-" : "->",
	        endpoint(&r->remote, r->remote_port, rb, sizeof(rb)),
	        r->host[0] ? r->host : "-",
	        sp_verdict_name((enum sp_verdict)r->verdict),
	        r->rule[0] ? r->rule : "-", pk, by, r->exe[0] ? r->exe : "-",
	        who,
	        (r->flags & STORE_FLOW_HIDDEN)    ? " [hidden]"
	        : (r->flags & STORE_FLOW_MONITOR) ? " [monitor]"
	                                          : "",
	        (r->flags & STORE_FLOW_ENDED) ? "" : " [live]");
}

struct log_ctx {
	const struct history_filter *f;
	enum history_format fmt;
	FILE *out;
	long n;
	size_t limit;
	struct store_flow *keep; /* with limit: the latest matches */
};

static void
log_one(struct log_ctx *x, const struct store_flow *r)
{
	json_t *o;
	char *s;

	switch (x->fmt) {
	case HISTORY_JSON:
		o = history_flow_json(r);
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s != NULL)
			fprintf(x->out, "%s\n", s);
		free(s);
		json_decref(o);
		break;
	case HISTORY_CSV:
		log_csv(x->out, r);
		break;
	case HISTORY_TEXT:
		log_text(x->out, r);
		break;
	}
	x->n++;
}

static int
log_visit(const struct store_flow *r, void *arg)
{
	struct log_ctx *x = arg;

	if (!history_match(x->f, r))
		return 0;
	if (x->limit == 0) {
		log_one(x, r);
		return 0;
	}
	x->keep[x->n++] = *r;
	return (size_t)x->n >= x->limit ? 1 : 0;
}

long
history_log(struct store_reader *r, const struct history_filter *f,
            size_t limit, enum history_format fmt, FILE *out)
{
	struct log_ctx x = {f, fmt, out, 0, limit, NULL};
	long i, n;

	if (fmt == HISTORY_CSV)
		fputs(csv_header, out);
	else if (fmt == HISTORY_TEXT)
		log_text_header(out);
	if (limit == 0) {
		store_reader_flows(r, false, log_visit, &x, NULL);
		return x.n;
	}
	/* The latest `limit`: walk back from the newest, print oldest first. */
	if ((x.keep = calloc(limit, sizeof(*x.keep))) == NULL)
		return -1;
	store_reader_flows(r, true, log_visit, &x, NULL);
	n = x.n;
	x.n = 0;
	for (i = n - 1; i >= 0; i--)
		log_one(&x, &x.keep[i]);
	free(x.keep);
	return x.n;
}

/* ---- events ------------------------------------------------------------ */

struct ev_ctx {
	const struct history_filter *f;
	enum history_format fmt;
	FILE *out;
	json_t *arr;
	size_t limit, n, total; /* with limit: a ring of the last ones */
	struct ev_keep {
		uint64_t ts_ns, flow_id;
		uint8_t type;
		char *text;
	} * keep;
};

static void
ev_print(struct ev_ctx *x, uint64_t ts_ns, uint8_t type, uint64_t flow_id,
         const char *text)
{
	char tb[32];
	json_t *o, *d;
	size_t i;

	history_format_time(ts_ns, tb, sizeof(tb));
	if (x->fmt == HISTORY_TEXT) {
		fprintf(x->out, "%-20s %-7s ", tb,
		        store_event_name((enum store_event_type)type));
		if (flow_id != 0)
			fprintf(x->out, "flow %llu ",
			        (unsigned long long)flow_id);
		fprintf(x->out, "%s\n", text != NULL ? text : "");
		return;
	}
	if (x->fmt == HISTORY_CSV) {
		fprintf(x->out, "%s,%s,%llu,\"", tb,
		        store_event_name((enum store_event_type)type),
		        (unsigned long long)flow_id);
		for (i = 0; text != NULL && text[i] != '\0'; i++) {
			if (text[i] == '"')
				fputc('"', x->out);
			fputc(text[i], x->out);
		}
		fputs("\"\n", x->out);
		return;
	}
	o = json_pack("{s:s,s:I,s:s}", "time", tb, "time_ns", (json_int_t)ts_ns,
	              "type", store_event_name((enum store_event_type)type));
	if (o == NULL)
		return;
	if (flow_id != 0)
		json_object_set_new(o, "flow",
		                    json_integer((json_int_t)flow_id));
	/* Texts the daemon writes as JSON come out as objects. */
	d = text != NULL && text[0] == '{' ? json_loads(text, 0, NULL) : NULL;
	if (d != NULL)
		json_object_set_new(o, "detail", d);
	else if (text != NULL && text[0] != '\0')
		json_object_set_new(o, "text", json_string(text));
	json_array_append_new(x->arr, o);
}

static int
ev_visit(const struct store_event *e, void *arg)
{
	struct ev_ctx *x = arg;
	struct ev_keep *k;

	if (x->f->until_ns != 0 && e->ts_ns > x->f->until_ns)
		return 1;
	if (x->limit == 0) {
		ev_print(x, e->ts_ns, e->type, e->flow_id, e->text);
		x->n++;
		return 0;
	}
	k = &x->keep[x->total++ % x->limit];
	free(k->text);
	k->ts_ns = e->ts_ns;
	k->type = e->type;
	k->flow_id = e->flow_id;
	k->text = e->text != NULL ? strdup(e->text) : NULL;
	return 0;
}

long
history_events(struct store_reader *r, const struct history_filter *f,
               size_t limit, enum history_format fmt, FILE *out)
{
	struct ev_ctx x = {f, fmt, out, NULL, limit, 0, 0, NULL};
	size_t i, first, n;

	if (fmt == HISTORY_JSON && (x.arr = json_array()) == NULL)
		return -1;
	if (fmt == HISTORY_CSV)
		fputs("time,type,flow,text\n", out);
	if (limit > 0 && (x.keep = calloc(limit, sizeof(*x.keep))) == NULL) {
		json_decref(x.arr);
		return -1;
	}
	store_reader_events(r, f->since_ns, ev_visit, &x);
	if (limit > 0) {
		n = x.total < limit ? x.total : limit;
		first = x.total < limit ? 0 : x.total % limit;
		for (i = 0; i < n; i++) {
			struct ev_keep *k = &x.keep[(first + i) % limit];

			ev_print(&x, k->ts_ns, k->type, k->flow_id, k->text);
		}
		for (i = 0; i < limit; i++)
			free(x.keep[i].text);
		free(x.keep);
		x.n = n;
	}
	if (x.arr != NULL) {
		json_dumpf(x.arr, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
		json_decref(x.arr);
	}
	return (long)x.n;
}

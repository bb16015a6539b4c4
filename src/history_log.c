/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle log`: flows and events from the store, as text, JSON or CSV. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "spackle/flow.h"
#include "spackle/texttab.h"
#include "src/history_int.h"

#ifndef NS_PER_S
#define NS_PER_S 1000000000ull
#endif

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

/* One side of an aggregate: "198.51.100.0/24", "192.0.2.1:80", "*:80",
 * "[2001:db8::]/64"; the port left out when any (0). */
static const char *
agg_side(const struct sp_addr *a, unsigned plen, uint16_t port, char *buf,
         size_t len)
{
	char ab[64], net[80];
	unsigned full = a->family == AF_INET ? 32 : 128;

	if (plen == 0)
		snprintf(net, sizeof(net), "*");
	else if (plen >= full)
		snprintf(net, sizeof(net),
		         a->family == AF_INET6 && port ? "[%s]" : "%s",
		         sp_addr_format(a, ab, sizeof(ab)));
	else
		snprintf(net, sizeof(net), "%s/%u",
		         sp_addr_format(a, ab, sizeof(ab)), plen);
	if (port != 0)
		snprintf(buf, len, "%s:%u", net, port);
	else
		snprintf(buf, len, "%s", net);
	return buf;
}

const char *
history_host_key(const struct store_flow *r, char *buf, size_t len)
{
	char ab[64];

	if (r->host[0])
		snprintf(buf, len, "%s", r->host);
	else if (!(r->flags & STORE_FLOW_AGGREGATE))
		snprintf(buf, len, "%s",
		         sp_addr_format(&r->remote, ab, sizeof(ab)));
	else if (r->remote_plen == 0)
		snprintf(buf, len, "(any address)");
	else
		agg_side(&r->remote, r->remote_plen, 0, buf, len);
	return buf;
}

const char *
history_aggregate_text(const struct store_flow *r, char *buf, size_t len)
{
	char from[96], to[96];
	bool out = r->dir == SP_DIR_OUT;

	if (out) {
		agg_side(&r->local, r->local_plen, 0, from, sizeof(from));
		agg_side(&r->remote, r->remote_plen, r->remote_port, to,
		         sizeof(to));
	} else {
		agg_side(&r->remote, r->remote_plen, 0, from, sizeof(from));
		agg_side(&r->local, r->local_plen, r->local_port, to,
		         sizeof(to));
	}
	snprintf(buf, len, "%" PRIu64 " incomplete flow%s from %s to %s",
	         r->flows, r->flows == 1 ? "" : "s", from,
	         strncmp(to, "*:", 2) == 0 ? to + 1 : to);
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
	/* Many flows that never completed: how many, and how much of each
	 * address they shared (src and dst are then networks). Other records
	 * print as they did before aggregates. */
	if (r->flags & STORE_FLOW_AGGREGATE) {
		json_object_set_new(o, "aggregate", json_true());
		json_object_set_new(o, "flows",
		                    json_integer((json_int_t)r->flows));
		json_object_set_new(o, "src_prefix",
		                    json_integer(r->local_plen));
		json_object_set_new(o, "dst_prefix",
		                    json_integer(r->remote_plen));
	}
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
        "bytes_in,flows\n";

/* An address, as a network (a/plen) in an aggregate that shared less. */
static const char *
csv_addr(const struct store_flow *r, const struct sp_addr *a, unsigned plen,
         char *buf, size_t len)
{
	char ab[64];

	if (!(r->flags & STORE_FLOW_AGGREGATE) ||
	    plen >= (a->family == AF_INET ? 32u : 128u))
		return sp_addr_format(a, buf, len);
	snprintf(buf, len, "%s/%u", sp_addr_format(a, ab, sizeof(ab)), plen);
	return buf;
}

static void
log_csv(FILE *out, const struct store_flow *r)
{
	char b[80], pb[8];

	csv_field(out, history_format_time(r->first_ns, b, sizeof(b)), false);
	csv_field(out, history_format_time(r->last_ns, b, sizeof(b)), false);
	fprintf(out, "%" PRIu64 ",", r->id);
	csv_field(out, sp_proto_format(r->proto, pb, sizeof(pb)), false);
	csv_field(out, csv_addr(r, &r->local, r->local_plen, b, sizeof(b)),
	          false);
	fprintf(out, "%u,", r->local_port);
	csv_field(out, csv_addr(r, &r->remote, r->remote_plen, b, sizeof(b)),
	          false);
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
	fprintf(out,
	        "%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
	        "\n",
	        (r->flags & STORE_FLOW_MONITOR) ? "true" : "false",
	        (r->flags & STORE_FLOW_ENDED) ? "true" : "false",
	        r->packets_out, r->packets_in, r->bytes_out, r->bytes_in,
	        (r->flags & STORE_FLOW_AGGREGATE) ? r->flows : 1);
}

/* `log`'s columns: what fits in 100 columns (the remote end by its name
 * when it has one, else its address), and with --wide everything (the
 * year, the local end, the address and the name, packets and bytes), every
 * value whole. */
static const struct texttab_col log_cols[] = {
        {"first (UTC)", TEXTTAB_CUT_NONE, 0, 0, false},
        {"dir", TEXTTAB_CUT_NONE, 0, 0, false},
        {"proto", TEXTTAB_CUT_NONE, 0, 0, false},
        {"remote", TEXTTAB_CUT_ADDR, 20, 50, false},
        {"verdict", TEXTTAB_CUT_NONE, 0, 0, false},
        {"rule", TEXTTAB_CUT_PATH, 14, 40, false},
        {"process", TEXTTAB_CUT_PATH, 16, 0, false},
};
static const struct texttab_col log_cols_wide[] = {
        {"first seen", TEXTTAB_CUT_NONE, 0, 0, false},
        {"dir", TEXTTAB_CUT_NONE, 0, 0, false},
        {"proto", TEXTTAB_CUT_NONE, 0, 0, false},
        {"local", TEXTTAB_CUT_NONE, 0, 0, false},
        {"remote", TEXTTAB_CUT_NONE, 0, 0, false},
        {"host", TEXTTAB_CUT_NONE, 0, 0, false},
        {"verdict", TEXTTAB_CUT_NONE, 0, 0, false},
        {"rule", TEXTTAB_CUT_NONE, 0, 0, false},
        {"pkts out/in", TEXTTAB_CUT_NONE, 0, 0, true},
        {"bytes out/in", TEXTTAB_CUT_NONE, 0, 0, true},
        {"process", TEXTTAB_CUT_NONE, 0, 0, false},
};

/* a/b with thousands separators. */
static const char *
out_in(uint64_t a, uint64_t b, char *buf, size_t len)
{
	char x[32], y[32];

	snprintf(buf, len, "%s/%s", texttab_count(a, x, sizeof(x)),
	         texttab_count(b, y, sizeof(y)));
	return buf;
}

static const char *
name_port(const char *name, unsigned port, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%u", name, port);
	return buf;
}

/* 11-28 10:00:00: the zone (UTC) is in the header, the year in --wide. */
static const char *
short_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_S);
	struct tm tm;

	if (ns == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%m-%d %H:%M:%S", &tm);
	return buf;
}

static int
log_text(struct texttab *t, bool wide, const struct store_flow *r)
{
	char tb[32], lb[80], rb[SP_NAME_MAX + 16], pb[8], pk[64], by[64];
	char who[SP_PATH_MAX + 64], fl[256];
	struct texttab_cell c[11];
	bool agg = (r->flags & STORE_FLOW_AGGREGATE) != 0;
	size_t n = 0;

	memset(c, 0, sizeof(c));

	if (r->exe[0] && wide && r->pid >= 0 && r->uid != FLOW_UID_UNKNOWN)
		snprintf(who, sizeof(who), "%s (pid %d, uid %u)", r->exe,
		         r->pid, r->uid);
	else if (r->exe[0] && wide && r->uid != FLOW_UID_UNKNOWN)
		snprintf(who, sizeof(who), "%s (uid %u)", r->exe, r->uid);
	else if (r->exe[0])
		snprintf(who, sizeof(who), "%s", r->exe);
	else if (r->uid != FLOW_UID_UNKNOWN)
		snprintf(who, sizeof(who), "uid %u", r->uid);
	else
		snprintf(who, sizeof(who), "-");
	c[n++].text = wide ? history_format_time(r->first_ns, tb, sizeof(tb))
	                   : short_time(r->first_ns, tb, sizeof(tb));
	c[n++].text = sp_dir_name((enum sp_dir)r->dir);
	c[n++].text = sp_proto_format(r->proto, pb, sizeof(pb));
	if (wide)
		c[n++].text = agg ? agg_side(&r->local, r->local_plen,
		                             r->local_port, lb, sizeof(lb))
		                  : endpoint(&r->local, r->local_port, lb,
		                             sizeof(lb));
	if (agg)
		c[n++].text = agg_side(&r->remote, r->remote_plen,
		                       r->remote_port, rb, sizeof(rb));
	else if (wide || !r->host[0])
		c[n++].text =
		        endpoint(&r->remote, r->remote_port, rb, sizeof(rb));
	else
		c[n++].text =
		        name_port(r->host, r->remote_port, rb, sizeof(rb));
	if (wide)
		c[n++].text = r->host[0] ? r->host : "-";
	c[n++].text = sp_verdict_name((enum sp_verdict)r->verdict);
	c[n++].text = r->rule[0] ? r->rule : "-";
	if (wide)
		c[n++].text =
		        out_in(r->packets_out, r->packets_in, pk, sizeof(pk));
	if (wide)
		c[n++].text = out_in(r->bytes_out, r->bytes_in, by, sizeof(by));
	c[n].text = who;
	/* An aggregate says what it is: in full with --wide, else how many
	 * (the remote column has the network). */
	if (agg && wide) {
		char at[200];

		snprintf(fl, sizeof(fl), " [%s]%s",
		         history_aggregate_text(r, at, sizeof(at)),
		         (r->flags & STORE_FLOW_MONITOR) ? " [monitor]" : "");
	} else if (agg)
		snprintf(fl, sizeof(fl), " [%" PRIu64 " incomplete flows]%s",
		         r->flows,
		         (r->flags & STORE_FLOW_MONITOR) ? " [monitor]" : "");
	else
		snprintf(fl, sizeof(fl), "%s%s",
		         (r->flags & STORE_FLOW_HIDDEN)    ? " [hidden]"
		         : (r->flags & STORE_FLOW_MONITOR) ? " [monitor]"
		                                           : "",
		         (r->flags & STORE_FLOW_ENDED) ? "" : " [live]");
	c[n].tail = fl[0] != '\0' ? fl : NULL;
	return texttab_row(t, c);
}

struct log_ctx {
	const struct history_filter *f;
	enum history_format fmt;
	FILE *out;
	long n;
	size_t limit;
	struct store_flow *keep; /* with limit: the latest matches */
	struct texttab tab;      /* text: the table */
	bool oom;
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
	case HISTORY_WIDE:
		if (log_text(&x->tab, x->fmt == HISTORY_WIDE, r) != 0)
			x->oom = true;
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

/* Text: the rows kept are printed; -1 when out of memory. */
static long
log_end(struct log_ctx *x)
{
	if (x->fmt == HISTORY_TEXT || x->fmt == HISTORY_WIDE) {
		if (texttab_end(&x->tab) != 0)
			x->oom = true;
		texttab_free(&x->tab);
	}
	return x->oom ? -1 : x->n;
}

long
history_log(struct store_reader *r, const struct history_filter *f,
            size_t limit, enum history_format fmt, FILE *out)
{
	struct log_ctx x;
	long i, n;

	memset(&x, 0, sizeof(x));
	x.f = f;
	x.fmt = fmt;
	x.out = out;
	x.limit = limit;
	if (fmt == HISTORY_CSV)
		fputs(csv_header, out);
	else if (fmt == HISTORY_TEXT)
		texttab_init(&x.tab, log_cols,
		             sizeof(log_cols) / sizeof(log_cols[0]),
		             TEXTTAB_WIDTH, out);
	else if (fmt == HISTORY_WIDE)
		texttab_init(&x.tab, log_cols_wide,
		             sizeof(log_cols_wide) / sizeof(log_cols_wide[0]),
		             TEXTTAB_WIDE, out);
	if (limit == 0) {
		store_reader_flows(r, false, log_visit, &x, NULL);
		return log_end(&x);
	}
	/* The latest `limit`: walk back from the newest, print oldest first. */
	if ((x.keep = calloc(limit, sizeof(*x.keep))) == NULL) {
		log_end(&x);
		return -1;
	}
	store_reader_flows(r, true, log_visit, &x, NULL);
	n = x.n;
	x.n = 0;
	for (i = n - 1; i >= 0; i--)
		log_one(&x, &x.keep[i]);
	free(x.keep);
	return log_end(&x);
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
	if (x->fmt == HISTORY_TEXT || x->fmt == HISTORY_WIDE) {
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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* History from the store: `spackle log`, `spackle top`, `rules suggest`. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "spackle/config.h"
#include "spackle/flow.h"
#include "spackle/history.h"
#include "spackle/rules.h"

#define NS_PER_S 1000000000ull

/* ---- times ----------------------------------------------------------------
 */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Exactly n digits at *p; advances. */
static bool
digits(const char **p, unsigned n, unsigned *out)
{
	unsigned v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int
parse_iso(const char *s, uint64_t *out)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
	                                 31, 31, 30, 31, 30, 31};
	const char *p = s;
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, zh, zm = 0, i;
	uint64_t frac = 0, scale = NS_PER_S;
	int64_t days, t, off = 0;
	bool leap;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || y < 1970)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				for (i = 0; isdigit((unsigned char)*p);
				     i++, p++)
					if (i < 9) {
						scale /= 10;
						frac += (uint64_t)(*p - '0') *
						        scale;
					}
				if (i == 0)
					return -1;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1;

			p++;
			if (!digits(&p, 2, &zh))
				return -1;
			if (*p == ':')
				p++;
			if (*p != '\0' && !digits(&p, 2, &zm))
				return -1;
			if (zh > 23 || zm > 59)
				return -1;
			off = sign * (int64_t)(zh * 3600 + zm * 60);
		}
	}
	if (*p != '\0')
		return -1;
	days = days_from_civil(y, mo, d);
	t = days * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < 0)
		return -1;
	*out = (uint64_t)t * NS_PER_S + frac;
	return 0;
}

int
history_parse_time(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	static const char units[] = "smhdw";
	static const uint64_t secs[] = {1, 60, 3600, 86400, 604800};
	const char *u;
	char *end;
	unsigned long long n;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "now") == 0) {
		*out_ns = now_ns;
		return 0;
	}
	if (s[0] == '@') {
		if (!isdigit((unsigned char)s[1]))
			return -1;
		errno = 0;
		n = strtoull(s + 1, &end, 10);
		if (errno != 0 || *end != '\0' || n > UINT64_MAX / NS_PER_S)
			return -1;
		*out_ns = n * NS_PER_S;
		return 0;
	}
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == 0 && end[0] != '\0' && end[1] == '\0' &&
	    (u = strchr(units, end[0])) != NULL) {
		uint64_t back;

		if (n > UINT64_MAX / NS_PER_S / secs[u - units])
			return -1;
		back = n * secs[u - units] * NS_PER_S;
		*out_ns = back >= now_ns ? 1 : now_ns - back;
		return 0;
	}
	return parse_iso(s, out_ns);
}

char *
history_format_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_S);
	struct tm tm;

	if (ns == 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* ---- names ----------------------------------------------------------------
 */

/* The rule language's DNS name check (rules_parse.c): labels of 1-63
 * letters, digits, '-' or '_'; not all digits. */
static bool
name_ok(const char *s)
{
	size_t len = strlen(s), label = 0, i;
	bool numeric = true;

	if (len == 0 || len > SP_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-' || c == '_'))
			return false;
		if (!isdigit((unsigned char)c))
			numeric = false;
		if (++label > 63)
			return false;
	}
	return label > 0 && !numeric;
}

const char *
history_domain(const char *host, char *buf, size_t len)
{
	static const char *const second[] = {
	        "co", "com", "net", "org", "gov", "edu", "ac",  "or", "ne",
	        "go", "gv",  "mil", "ltd", "plc", "nom", "sch", "gob"};
	const char *labels[4] = {NULL, NULL, NULL, NULL}; /* last first */
	const char *p, *start;
	size_t n = 0, i, sl;
	char tmp[SP_NAME_MAX + 2];

	if (host == NULL)
		return NULL;
	snprintf(tmp, sizeof(tmp), "%s", host);
	sl = strlen(tmp);
	if (sl > 0 && tmp[sl - 1] == '.')
		tmp[--sl] = '\0';
	for (i = 0; i < sl; i++)
		tmp[i] = (char)tolower((unsigned char)tmp[i]);
	if (!name_ok(tmp) || strlen(tmp) >= len)
		return NULL;
	/* Walk labels from the end. */
	p = tmp + sl;
	while (p > tmp && n < 4) {
		start = p;
		while (start > tmp && start[-1] != '.')
			start--;
		labels[n++] = start;
		p = start > tmp ? start - 1 : tmp;
	}
	start = tmp;
	if (n >= 3) {
		size_t tld = strlen(labels[0]);
		size_t sld = (size_t)(labels[0] - 1 - labels[1]);
		bool common = false;

		for (i = 0; i < sizeof(second) / sizeof(second[0]); i++)
			if (strlen(second[i]) == sld &&
			    strncmp(labels[1], second[i], sld) == 0)
				common = true;
		start = tld == 2 && common ? labels[2] : labels[1];
	}
	snprintf(buf, len, "%s", start);
	return buf;
}

/* ---- the filter -----------------------------------------------------------
 */

bool
history_filter_prepare(struct history_filter *f, FILE *err)
{
	f->host_is_net = false;
	if (f->host != NULL &&
	    sp_cidr_parse(&f->host_net, &f->host_plen, f->host))
		f->host_is_net = true;
	if (f->since_ns != 0 && f->until_ns != 0 && f->since_ns > f->until_ns) {
		fprintf(err, "--since is after --until: no flow can match\n");
		return false;
	}
	return true;
}

static bool
host_match(const struct history_filter *f, const struct store_flow *r)
{
	size_t hl, nl;

	if (f->host_is_net)
		return sp_cidr_contains(&f->host_net, f->host_plen, &r->remote);
	if (r->host == NULL || r->host[0] == '\0')
		return false;
	hl = strlen(r->host);
	nl = strlen(f->host);
	if (hl == nl)
		return strcasecmp(r->host, f->host) == 0;
	return hl > nl && r->host[hl - nl - 1] == '.' &&
	       strcasecmp(r->host + hl - nl, f->host) == 0;
}

static bool
process_match(const char *glob, const char *exe)
{
	const char *base;

	if (exe == NULL || exe[0] == '\0')
		return false;
	/* The rule language's globs: `*` and `?`, `*` crossing '/'. */
	if (rules_glob_match(glob, exe))
		return true;
	if (strchr(glob, '/') == NULL && (base = strrchr(exe, '/')) != NULL)
		return rules_glob_match(glob, base + 1);
	return false;
}

bool
history_match(const struct history_filter *f, const struct store_flow *r)
{
	if (f->since_ns != 0 && r->last_ns < f->since_ns)
		return false;
	if (f->until_ns != 0 && r->first_ns > f->until_ns)
		return false;
	if (f->verdict != SP_VERDICT_NONE && r->verdict != f->verdict)
		return false;
	if (f->process != NULL && !process_match(f->process, r->exe))
		return false;
	if (f->host != NULL && !host_match(f, r))
		return false;
	return true;
}

/* ---- log ------------------------------------------------------------------
 */

static const char *
proto_str(unsigned proto, char *buf, size_t len)
{
	const char *p = sp_proto_name(proto);

	if (p != NULL)
		return p;
	snprintf(buf, len, "%u", proto);
	return buf;
}

static const char *
endpoint(const struct sp_addr *a, uint16_t port, char *buf, size_t len)
{
	char ab[64];

	sp_addr_format(a, ab, sizeof(ab));
	snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ab,
	         port);
	return buf;
}

static json_t *
flow_json(const struct store_flow *r)
{
	char ab[64], pb[8], tb[32];
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer((json_int_t)r->id));
	json_object_set_new(o, "proto",
	                    json_string(proto_str(r->proto, pb, sizeof(pb))));
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
	csv_field(out, proto_str(r->proto, pb, sizeof(pb)), false);
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
	        proto_str(r->proto, pb, sizeof(pb)),
	        endpoint(&r->local, r->local_port, lb, sizeof(lb)),
	        r->dir == SP_DIR_IN ? "<-" : "->",
	        endpoint(&r->remote, r->remote_port, rb, sizeof(rb)),
	        r->host[0] ? r->host : "-",
	        sp_verdict_name((enum sp_verdict)r->verdict),
	        r->rule[0] ? r->rule : "-", pk, by, r->exe[0] ? r->exe : "-",
	        who, (r->flags & STORE_FLOW_MONITOR) ? " [monitor]" : "",
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
		o = flow_json(r);
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

/* ---- events
 * ------------------------------------------------------------------
 */

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

/* ---- a small string-keyed table for top and suggest ------------------------
 */

struct smap_ent {
	char *key;
	void *val;
};

struct smap {
	struct smap_ent *v;
	size_t cap, n;
};

static uint64_t
smap_hash(const char *k)
{
	return sp_hash(k, strlen(k), 0x5eed);
}

static struct smap_ent *
smap_slot(struct smap *m, const char *k)
{
	size_t i = smap_hash(k) & (m->cap - 1);

	while (m->v[i].key != NULL && strcmp(m->v[i].key, k) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->v[i];
}

/*
 * The value for k, added zeroed (size bytes) when missing (*created). *keyp
 * gets the table's copy of k, which lives as long as the table. NULL when
 * memory runs out.
 */
static void *
smap_get(struct smap *m, const char *k, size_t size, bool *created,
         const char **keyp)
{
	struct smap_ent *e, *old;
	size_t i, oldcap;

	*created = false;
	if (m->n * 2 >= m->cap) {
		old = m->v;
		oldcap = m->cap;
		m->cap = m->cap ? m->cap * 2 : 256;
		if ((m->v = calloc(m->cap, sizeof(*m->v))) == NULL) {
			m->v = old;
			m->cap = oldcap;
			return NULL;
		}
		for (i = 0; i < oldcap; i++)
			if (old[i].key != NULL)
				*smap_slot(m, old[i].key) = old[i];
		free(old);
	}
	e = smap_slot(m, k);
	if (e->key != NULL) {
		*keyp = e->key;
		return e->val;
	}
	if ((e->key = strdup(k)) == NULL)
		return NULL;
	if ((e->val = calloc(1, size)) == NULL) {
		free(e->key);
		e->key = NULL;
		return NULL;
	}
	m->n++;
	*created = true;
	*keyp = e->key;
	return e->val;
}

/* Values into an array (the table keeps owning them). */
static void **
smap_values(const struct smap *m)
{
	void **v = calloc(m->n + 1, sizeof(*v));
	size_t i, j = 0;

	if (v == NULL)
		return NULL;
	for (i = 0; i < m->cap; i++)
		if (m->v[i].key != NULL)
			v[j++] = m->v[i].val;
	return v;
}

static void
smap_free(struct smap *m, void (*free_val)(void *))
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		if (m->v[i].key == NULL)
			continue;
		free(m->v[i].key);
		if (free_val != NULL)
			free_val(m->v[i].val);
		free(m->v[i].val);
	}
	free(m->v);
	m->v = NULL;
	m->cap = m->n = 0;
}

/* ---- top ------------------------------------------------------------------
 */

struct top_row {
	const char *key; /* the table's */
	uint64_t flows, verdicts[4];
	uint64_t packets_out, packets_in, bytes_out, bytes_in;
	uint64_t first_ns, last_ns;
};

struct top_ctx {
	const struct history_filter *f;
	enum history_by by;
	struct smap m;
	bool oom;
};

static void
top_key(const struct store_flow *r, enum history_by by, char *buf, size_t len)
{
	char ab[64];

	switch (by) {
	case HISTORY_BY_PROCESS:
		if (r->exe[0])
			snprintf(buf, len, "%s", r->exe);
		else if (r->uid != FLOW_UID_UNKNOWN)
			snprintf(buf, len, "(unknown process, uid %u)", r->uid);
		else
			snprintf(buf, len, "(unknown process)");
		break;
	case HISTORY_BY_HOST:
		snprintf(buf, len, "%s",
		         r->host[0]
		                 ? r->host
		                 : sp_addr_format(&r->remote, ab, sizeof(ab)));
		break;
	case HISTORY_BY_RULE:
		snprintf(buf, len, "%s", r->rule[0] ? r->rule : "(none)");
		break;
	}
}

static int
top_visit(const struct store_flow *r, void *arg)
{
	struct top_ctx *x = arg;
	char key[SP_PATH_MAX + 16];
	struct top_row *row;
	const char *k;
	bool created;

	if (!history_match(x->f, r))
		return 0;
	top_key(r, x->by, key, sizeof(key));
	if ((row = smap_get(&x->m, key, sizeof(*row), &created, &k)) == NULL) {
		x->oom = true;
		return 1;
	}
	if (created) {
		row->key = k;
		row->first_ns = r->first_ns;
	}
	row->flows++;
	row->verdicts[r->verdict < 4 ? r->verdict : 0]++;
	row->packets_out += r->packets_out;
	row->packets_in += r->packets_in;
	row->bytes_out += r->bytes_out;
	row->bytes_in += r->bytes_in;
	if (r->first_ns < row->first_ns)
		row->first_ns = r->first_ns;
	if (r->last_ns > row->last_ns)
		row->last_ns = r->last_ns;
	return 0;
}

static int
top_cmp(const void *a, const void *b)
{
	const struct top_row *x = *(const struct top_row *const *)a;
	const struct top_row *y = *(const struct top_row *const *)b;
	uint64_t bx = x->bytes_out + x->bytes_in,
	         by = y->bytes_out + y->bytes_in;

	if (bx != by)
		return bx > by ? -1 : 1;
	if (x->flows != y->flows)
		return x->flows > y->flows ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* 1234567 -> "1.2M"; under 10,000 the number itself. */
static const char *
human(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int i = -1;

	if (v < 10000) {
		snprintf(buf, len, "%" PRIu64, v);
		return buf;
	}
	while (d >= 1024 && i < 5) {
		d /= 1024;
		i++;
	}
	snprintf(buf, len, "%.1f%c", d, units[i]);
	return buf;
}

long
history_top(struct store_reader *r, const struct history_filter *f,
            enum history_by by, bool json, FILE *out)
{
	static const char *const bynames[] = {"process", "host", "rule"};
	struct top_ctx x;
	struct top_row **rows;
	json_t *arr, *o;
	char b1[16], b2[16], b3[16], b4[16], *s;
	size_t i;

	memset(&x, 0, sizeof(x));
	x.f = f;
	x.by = by;
	store_reader_flows(r, false, top_visit, &x, NULL);
	if (x.oom || (rows = (struct top_row **)smap_values(&x.m)) == NULL) {
		smap_free(&x.m, NULL);
		return -1;
	}
	qsort(rows, x.m.n, sizeof(*rows), top_cmp);
	if (json) {
		arr = json_array();
		for (i = 0; i < x.m.n; i++) {
			o = json_object();
			json_object_set_new(o, bynames[by],
			                    json_string(rows[i]->key));
			json_object_set_new(
			        o, "flows",
			        json_integer((json_int_t)rows[i]->flows));
			json_object_set_new(
			        o, "allow",
			        json_integer((json_int_t)rows[i]->verdicts[1]));
			json_object_set_new(
			        o, "deny",
			        json_integer((json_int_t)rows[i]->verdicts[2]));
			json_object_set_new(
			        o, "reject",
			        json_integer((json_int_t)rows[i]->verdicts[3]));
			json_object_set_new(
			        o, "packets_out",
			        json_integer((json_int_t)rows[i]->packets_out));
			json_object_set_new(
			        o, "packets_in",
			        json_integer((json_int_t)rows[i]->packets_in));
			json_object_set_new(
			        o, "bytes_out",
			        json_integer((json_int_t)rows[i]->bytes_out));
			json_object_set_new(
			        o, "bytes_in",
			        json_integer((json_int_t)rows[i]->bytes_in));
			json_object_set_new(
			        o, "first_ns",
			        json_integer((json_int_t)rows[i]->first_ns));
			json_object_set_new(
			        o, "last_ns",
			        json_integer((json_int_t)rows[i]->last_ns));
			json_array_append_new(arr, o);
		}
		s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s != NULL)
			fprintf(out, "%s\n", s);
		free(s);
		json_decref(arr);
	} else {
		fprintf(out, "%-40s %7s %7s %7s %7s %9s %9s %9s %9s\n",
		        bynames[by], "flows", "allow", "deny", "reject",
		        "pkts out", "pkts in", "bytes out", "bytes in");
		for (i = 0; i < x.m.n; i++)
			fprintf(out,
			        "%-40s %7" PRIu64 " %7" PRIu64 " %7" PRIu64
			        " %7" PRIu64 " %9s %9s %9s %9s\n",
			        rows[i]->key, rows[i]->flows,
			        rows[i]->verdicts[1], rows[i]->verdicts[2],
			        rows[i]->verdicts[3],
			        human(rows[i]->packets_out, b1, sizeof(b1)),
			        human(rows[i]->packets_in, b2, sizeof(b2)),
			        human(rows[i]->bytes_out, b3, sizeof(b3)),
			        human(rows[i]->bytes_in, b4, sizeof(b4)));
	}
	free(rows);
	i = x.m.n;
	smap_free(&x.m, NULL);
	return (long)i;
}

/* ---- suggest --------------------------------------------------------------
 */

#define SUGGEST_PORTS_MAX 16 /* more distinct ports: no port clause */
#define SUGGEST_HOSTS     3  /* example names in the comment */

struct sugg {
	char *exe; /* NULL: unknown process */
	uint32_t uid;
	uint8_t dir, proto;
	char *target; /* domain or address; NULL for any (in flows) */
	bool domain;
	uint16_t ports[SUGGEST_PORTS_MAX];
	size_t nports;
	bool many_ports;
	uint64_t flows;
	char *hosts[SUGGEST_HOSTS];
	size_t nhosts, more_hosts;
};

struct sugg_ctx {
	const struct history_filter *f;
	struct smap m;
	uint64_t flows, left_denied, left_hidden;
	uint64_t first_ns, last_ns;
	bool oom;
};

static void
sugg_free(void *v)
{
	struct sugg *g = v;
	size_t i;

	free(g->exe);
	free(g->target);
	for (i = 0; i < g->nhosts; i++)
		free(g->hosts[i]);
}

static bool
proto_ports(uint8_t p)
{
	return p == SP_PROTO_TCP || p == SP_PROTO_UDP;
}

static void
sugg_port(struct sugg *g, uint16_t port)
{
	size_t i;

	if (port == 0 || g->many_ports)
		return;
	for (i = 0; i < g->nports; i++)
		if (g->ports[i] == port)
			return;
	if (g->nports == SUGGEST_PORTS_MAX) {
		g->many_ports = true;
		return;
	}
	g->ports[g->nports++] = port;
}

static void
sugg_host(struct sugg *g, const char *host)
{
	size_t i;

	if (host == NULL || host[0] == '\0')
		return;
	for (i = 0; i < g->nhosts; i++)
		if (strcmp(g->hosts[i], host) == 0)
			return;
	if (g->nhosts == SUGGEST_HOSTS || strchr(host, '\n') != NULL) {
		g->more_hosts++;
		return;
	}
	g->hosts[g->nhosts] = strdup(host);
	if (g->hosts[g->nhosts] != NULL)
		g->nhosts++;
}

static int
sugg_visit(const struct store_flow *r, void *arg)
{
	struct sugg_ctx *x = arg;
	char dom[SP_NAME_MAX + 2], ab[64], key[SP_PATH_MAX + 400];
	const char *target = NULL;
	struct sugg *g;
	bool created, domain = false;
	const char *k;
	bool in = r->dir == SP_DIR_IN;

	if (!history_match(x->f, r))
		return 0;
	if (r->flags & STORE_FLOW_HIDDEN) {
		x->left_hidden++;
		return 0;
	}
	if ((r->verdict == SP_VERDICT_DENY ||
	     r->verdict == SP_VERDICT_REJECT) &&
	    strcmp(r->rule, "default") != 0) {
		x->left_denied++;
		return 0;
	}
	if (!in) {
		if ((target = history_domain(r->host, dom, sizeof(dom))) !=
		    NULL)
			domain = true;
		else if (r->remote.family != 0)
			target = sp_addr_format(&r->remote, ab, sizeof(ab));
	}
	snprintf(key, sizeof(key), "%s\x1f%u\x1f%u\x1f%u\x1f%s\x1f%d", r->exe,
	         r->exe[0] ? 0 : r->uid, in, r->proto, target ? target : "",
	         domain);
	if ((g = smap_get(&x->m, key, sizeof(*g), &created, &k)) == NULL) {
		x->oom = true;
		return 1;
	}
	if (created) {
		g->exe = r->exe[0] ? strdup(r->exe) : NULL;
		g->uid = r->exe[0] ? FLOW_UID_UNKNOWN : r->uid;
		g->dir = in ? SP_DIR_IN : SP_DIR_OUT;
		g->proto = r->proto;
		g->target = target ? strdup(target) : NULL;
		g->domain = domain;
	}
	g->flows++;
	if (proto_ports(r->proto))
		sugg_port(g, in ? r->local_port : r->remote_port);
	if (domain)
		sugg_host(g, r->host);
	x->flows++;
	if (x->first_ns == 0 || r->first_ns < x->first_ns)
		x->first_ns = r->first_ns;
	if (r->last_ns > x->last_ns)
		x->last_ns = r->last_ns;
	return 0;
}

/* Order: by process (unknown ones last, then by user), most flows first. */
static int
sugg_cmp(const void *a, const void *b)
{
	const struct sugg *x = *(const struct sugg *const *)a;
	const struct sugg *y = *(const struct sugg *const *)b;
	int c;

	if ((x->exe == NULL) != (y->exe == NULL))
		return x->exe == NULL ? 1 : -1;
	if (x->exe != NULL && (c = strcmp(x->exe, y->exe)) != 0)
		return c;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	if (x->flows != y->flows)
		return x->flows > y->flows ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return strcmp(x->target ? x->target : "", y->target ? y->target : "");
}

static int
port_cmp(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

/* A process path as a rule string: quotes and backslashes escaped, control
 * characters (which a rule string cannot hold) matched by '?'. */
static void
print_process(FILE *out, const char *exe)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *)exe; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', out);
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			fputc('?', out);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* The owner of a group in a comment: no newline may end the comment. */
static void
print_owner(FILE *out, const struct sugg *g)
{
	const unsigned char *p;

	if (g->exe == NULL) {
		if (g->uid != FLOW_UID_UNKNOWN)
			fprintf(out, "user %u (process unknown)", g->uid);
		else
			fprintf(out, "unknown process and user");
		return;
	}
	for (p = (const unsigned char *)g->exe; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

static void
print_rule(FILE *out, const struct sugg *g)
{
	char pb[8];
	size_t i, j;

	fprintf(out, "allow %s", g->dir == SP_DIR_IN ? "in" : "out");
	if (g->exe != NULL) {
		fprintf(out, " process ");
		print_process(out, g->exe);
	} else if (g->uid != FLOW_UID_UNKNOWN) {
		fprintf(out, " user %u", g->uid);
	}
	fprintf(out, " proto %s", proto_str(g->proto, pb, sizeof(pb)));
	if (g->target != NULL)
		fprintf(out, " to %s%s", g->domain ? "domain " : "", g->target);
	if (proto_ports(g->proto) && g->nports > 0 && !g->many_ports) {
		uint16_t ports[SUGGEST_PORTS_MAX], lo[SUGGEST_PORTS_MAX],
		        hi[SUGGEST_PORTS_MAX];
		size_t n = 0;

		memcpy(ports, g->ports, g->nports * sizeof(ports[0]));
		qsort(ports, g->nports, sizeof(ports[0]), port_cmp);
		/* Runs of consecutive ports become ranges. */
		for (i = 0; i < g->nports; i = j + 1, n++) {
			j = i;
			while (j + 1 < g->nports &&
			       ports[j + 1] == ports[j] + 1)
				j++;
			lo[n] = ports[i];
			hi[n] = ports[j];
		}
		fprintf(out, " port %s", n > 1 ? "{ " : "");
		for (i = 0; i < n; i++) {
			fprintf(out, "%s%u", i > 0 ? ", " : "", lo[i]);
			if (hi[i] > lo[i])
				fprintf(out, "-%u", hi[i]);
		}
		fprintf(out, "%s", n > 1 ? " }" : "");
	}
	fputc('\n', out);
}

long
history_suggest(struct store_reader *r, const struct history_filter *f,
                FILE *out)
{
	struct sugg_ctx x;
	struct sugg **g;
	char t1[32], t2[32];
	size_t i, j;
	uint64_t owner_flows;

	memset(&x, 0, sizeof(x));
	x.f = f;
	store_reader_flows(r, false, sugg_visit, &x, NULL);
	if (x.oom || (g = (struct sugg **)smap_values(&x.m)) == NULL) {
		smap_free(&x.m, sugg_free);
		return -1;
	}
	qsort(g, x.m.n, sizeof(*g), sugg_cmp);
	fprintf(out,
	        "# spackle rules suggest: %zu rule%s for %" PRIu64
	        " flow%s seen from %s to %s.\n",
	        x.m.n, x.m.n == 1 ? "" : "s", x.flows, x.flows == 1 ? "" : "s",
	        history_format_time(x.first_ns, t1, sizeof(t1)),
	        history_format_time(x.last_ns, t2, sizeof(t2)));
	fprintf(out,
	        "# Left out: %" PRIu64 " flow%s denied or rejected by a rule, "
	        "%" PRIu64 " hidden.\n",
	        x.left_denied, x.left_denied == 1 ? "" : "s", x.left_hidden);
	fprintf(out, "# Names are collapsed to their registrable domain "
	             "(docs/store.md).\n");
	for (i = 0; i < x.m.n; i = j) {
		owner_flows = 0;
		for (j = i;
		     j < x.m.n && (g[j]->exe == NULL) == (g[i]->exe == NULL) &&
		     (g[i]->exe == NULL || strcmp(g[i]->exe, g[j]->exe) == 0) &&
		     g[i]->uid == g[j]->uid;
		     j++)
			owner_flows += g[j]->flows;
		fprintf(out, "\n# ");
		print_owner(out, g[i]);
		fprintf(out, ": %" PRIu64 " flow%s\n", owner_flows,
		        owner_flows == 1 ? "" : "s");
		for (; i < j; i++) {
			size_t k;

			fprintf(out, "# %" PRIu64 " flow%s", g[i]->flows,
			        g[i]->flows == 1 ? "" : "s");
			if (g[i]->nhosts > 0) {
				fprintf(out, ":");
				for (k = 0; k < g[i]->nhosts; k++)
					fprintf(out, " %s", g[i]->hosts[k]);
				if (g[i]->more_hosts > 0)
					fprintf(out, " and more");
			}
			if (g[i]->many_ports)
				fprintf(out, " (more than %d ports: any port)",
				        SUGGEST_PORTS_MAX);
			fputc('\n', out);
			print_rule(out, g[i]);
		}
	}
	free(g);
	i = x.m.n;
	smap_free(&x.m, sugg_free);
	return (long)i;
}

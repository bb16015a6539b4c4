/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle top`: flows, packets, bytes and verdicts summed per key. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/flow.h"
#include "src/history_int.h"

struct top_row {
	const char *key; /* the table's */
	uint64_t flows, verdicts[4];
	uint64_t incomplete; /* of flows: those in aggregates */
	uint64_t packets_out, packets_in, bytes_out, bytes_in;
	uint64_t first_ns, last_ns;
};

struct top_ctx {
	const struct history_filter *f;
	enum history_by by;
	struct history_map m;
	bool oom;
};

static void
top_key(const struct store_flow *r, enum history_by by, char *buf, size_t len)
{
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
		history_host_key(r, buf, len);
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
	uint64_t n;

	if (!history_match(x->f, r))
		return 0;
	top_key(r, x->by, key, sizeof(key));
	if ((row = history_map_get(&x->m, key, sizeof(*row), &created, &k)) ==
	    NULL) {
		x->oom = true;
		return 1;
	}
	if (created) {
		row->key = k;
		row->first_ns = r->first_ns;
	}
	/* An aggregate stands for its many flows. */
	n = (r->flags & STORE_FLOW_AGGREGATE) ? r->flows : 1;
	row->flows += n;
	if (r->flags & STORE_FLOW_AGGREGATE)
		row->incomplete += n;
	row->verdicts[r->verdict < 4 ? r->verdict : 0] += n;
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
	if (x.oom ||
	    (rows = (struct top_row **)history_map_values(&x.m)) == NULL) {
		history_map_free(&x.m, NULL);
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
			        o, "incomplete",
			        json_integer((json_int_t)rows[i]->incomplete));
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
		fprintf(out, "%-40s %7s %7s %7s %7s %7s %9s %9s %9s %9s\n",
		        bynames[by], "flows", "incompl", "allow", "deny",
		        "reject", "pkts out", "pkts in", "bytes out",
		        "bytes in");
		for (i = 0; i < x.m.n; i++)
			fprintf(out,
			        "%-40s %7" PRIu64 " %7" PRIu64 " %7" PRIu64
			        " %7" PRIu64 " %7" PRIu64 " %9s %9s %9s %9s\n",
			        rows[i]->key, rows[i]->flows,
			        rows[i]->incomplete, rows[i]->verdicts[1],
			        rows[i]->verdicts[2], rows[i]->verdicts[3],
			        human(rows[i]->packets_out, b1, sizeof(b1)),
			        human(rows[i]->packets_in, b2, sizeof(b2)),
			        human(rows[i]->bytes_out, b3, sizeof(b3)),
			        human(rows[i]->bytes_in, b4, sizeof(b4)));
	}
	free(rows);
	i = x.m.n;
	history_map_free(&x.m, NULL);
	return (long)i;
}

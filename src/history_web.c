/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's views of the store: traffic over time with its top
 * talkers, and the latest blocked flows (history.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/flow.h"
#include "src/history_int.h"

#define NS                  1000000000ull
#define TRAFFIC_BUCKETS_MAX 2048

struct traffic_row {
	const char *key;
	uint64_t bytes_out, bytes_in, flows;
	uint64_t *bytes; /* per bucket, processes only */
};

struct traffic_ctx {
	uint64_t from, to, bucket, stop_id;
	size_t nb, scanned, max_scan;
	bool truncated, oom;
	uint64_t *out, *in, *flows; /* per bucket */
	struct history_map procs, hosts;
};

/* Where a flow's bytes fall: spread over [first, last], each bucket's
 * share of the overlap added to add[b] (out and in apart). */
static void
traffic_spread(struct traffic_ctx *x, const struct store_flow *r, uint64_t *out,
               uint64_t *in, uint64_t *both)
{
	uint64_t a = r->first_ns, z = r->last_ns > a ? r->last_ns : a;
	uint64_t dur = z - a, lo, hi, part;
	size_t b;

	for (b = 0; b < x->nb; b++) {
		uint64_t b0 = x->from + b * x->bucket, b1 = b0 + x->bucket;

		if (dur == 0) {
			if (a < b0 || a >= b1)
				continue;
			if (out != NULL) {
				out[b] += r->bytes_out;
				in[b] += r->bytes_in;
			}
			if (both != NULL)
				both[b] += r->bytes_out + r->bytes_in;
			return;
		}
		lo = a > b0 ? a : b0;
		hi = z < b1 ? z : b1;
		if (hi <= lo)
			continue;
		part = hi - lo;
		/* bytes * part / dur without overflow for any real count. */
		if (out != NULL) {
			out[b] += (uint64_t)((double)r->bytes_out * part / dur);
			in[b] += (uint64_t)((double)r->bytes_in * part / dur);
		}
		if (both != NULL)
			both[b] += (uint64_t)((double)(r->bytes_out +
			                               r->bytes_in) *
			                      part / dur);
	}
}

/* The part of r's time (first to last) within the window: 1 for a flow
 * seen at one moment in it. */
static double
traffic_share(const struct traffic_ctx *x, const struct store_flow *r)
{
	uint64_t a = r->first_ns, z = r->last_ns > a ? r->last_ns : a;
	uint64_t lo = a > x->from ? a : x->from, hi = z < x->to ? z : x->to;

	if (z == a)
		return a >= x->from && a < x->to ? 1.0 : 0.0;
	return hi > lo ? (double)(hi - lo) / (double)(z - a) : 0.0;
}

static struct traffic_row *
traffic_row(struct traffic_ctx *x, struct history_map *m, const char *key,
            bool buckets)
{
	struct traffic_row *row;
	const char *k;
	bool created;

	if ((row = history_map_get(m, key, sizeof(*row), &created, &k)) == NULL)
		return NULL;
	if (created) {
		row->key = k;
		if (buckets &&
		    (row->bytes = calloc(x->nb, sizeof(*row->bytes))) == NULL)
			return NULL;
	}
	return row;
}

static int
traffic_visit(const struct store_flow *r, void *arg)
{
	struct traffic_ctx *x = arg;
	struct traffic_row *p, *h;
	char key[SP_PATH_MAX + 32];
	uint64_t wout, win, n;
	double frac;
	size_t b;

	if (x->scanned++ >= x->max_scan) {
		x->truncated = true;
		return 1;
	}
	if (r->id < x->stop_id)
		return 1;
	if (r->last_ns < x->from || r->first_ns >= x->to)
		return 0;
	b = r->first_ns >= x->from
	            ? (size_t)((r->first_ns - x->from) / x->bucket)
	            : 0;
	/* An aggregate stands for its many flows. */
	n = (r->flags & STORE_FLOW_AGGREGATE) ? r->flows : 1;
	if (b < x->nb)
		x->flows[b] += n;
	traffic_spread(x, r, x->out, x->in, NULL);
	if (r->exe[0])
		snprintf(key, sizeof(key), "%s", r->exe);
	else if (r->uid != FLOW_UID_UNKNOWN)
		snprintf(key, sizeof(key), "(unknown process, uid %u)", r->uid);
	else
		snprintf(key, sizeof(key), "(unknown process)");
	if ((p = traffic_row(x, &x->procs, key, true)) == NULL) {
		x->oom = true;
		return 1;
	}
	history_host_key(r, key, sizeof(key));
	if ((h = traffic_row(x, &x->hosts, key, false)) == NULL) {
		x->oom = true;
		return 1;
	}
	traffic_spread(x, r, NULL, NULL, p->bytes);
	/* The totals are the window's share too. */
	frac = traffic_share(x, r);
	wout = (uint64_t)((double)r->bytes_out * frac);
	win = (uint64_t)((double)r->bytes_in * frac);
	p->flows += n;
	p->bytes_out += wout;
	p->bytes_in += win;
	h->flows += n;
	h->bytes_out += wout;
	h->bytes_in += win;
	return 0;
}

static int
traffic_cmp(const void *a, const void *b)
{
	const struct traffic_row *x = *(const struct traffic_row *const *)a;
	const struct traffic_row *y = *(const struct traffic_row *const *)b;
	uint64_t bx = x->bytes_out + x->bytes_in,
	         by = y->bytes_out + y->bytes_in;

	if (bx != by)
		return bx > by ? -1 : 1;
	if (x->flows != y->flows)
		return x->flows > y->flows ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void
traffic_row_free(void *v)
{
	free(((struct traffic_row *)v)->bytes);
}

/* The top `top` rows of m, as JSON objects named by `name`. */
static json_t *
traffic_top(struct traffic_ctx *x, struct history_map *m, const char *name,
            size_t top)
{
	struct traffic_row **rows =
	        (struct traffic_row **)history_map_values(m);
	json_t *arr = json_array(), *o, *bs;
	size_t i, b;

	if (rows == NULL || arr == NULL) {
		free(rows);
		json_decref(arr);
		return NULL;
	}
	qsort(rows, m->n, sizeof(*rows), traffic_cmp);
	for (i = 0; i < m->n && i < top; i++) {
		o = json_pack("{s:s,s:I,s:I,s:I}", name, rows[i]->key,
		              "bytes_out", (json_int_t)rows[i]->bytes_out,
		              "bytes_in", (json_int_t)rows[i]->bytes_in,
		              "flows", (json_int_t)rows[i]->flows);
		if (o != NULL && rows[i]->bytes != NULL) {
			bs = json_array();
			for (b = 0; b < x->nb; b++)
				json_array_append_new(
				        bs,
				        json_pack(
				                "[I,I]",
				                (json_int_t)(x->from +
				                             b * x->bucket),
				                (json_int_t)rows[i]->bytes[b]));
			json_object_set_new(o, "buckets", bs);
		}
		json_array_append_new(arr, o);
	}
	free(rows);
	return arr;
}

json_t *
history_traffic(struct store_reader *r, const char *span, uint64_t now_ns,
                uint64_t span_s, uint64_t bucket_s, size_t top, size_t max_scan)
{
	struct traffic_ctx x;
	json_t *o = NULL, *bs, *procs, *hosts;
	uint64_t back;
	size_t b;

	if (bucket_s == 0 || span_s / bucket_s > TRAFFIC_BUCKETS_MAX ||
	    span_s * NS > now_ns)
		return NULL;
	memset(&x, 0, sizeof(x));
	x.bucket = bucket_s * NS;
	x.nb = (size_t)(span_s / bucket_s);
	/* The window ends at the end of now's bucket: buckets line up with
	 * the clock, and the last one fills as time goes. */
	x.to = (now_ns / x.bucket + 1) * x.bucket;
	x.from = x.to - x.nb * x.bucket;
	back = (span_s > 86400 ? span_s : 86400) * NS;
	x.stop_id = x.from > back ? x.from - back : 0;
	x.max_scan = max_scan;
	x.out = calloc(x.nb, sizeof(uint64_t));
	x.in = calloc(x.nb, sizeof(uint64_t));
	x.flows = calloc(x.nb, sizeof(uint64_t));
	if (x.out == NULL || x.in == NULL || x.flows == NULL)
		goto out;
	store_reader_flows(r, true, traffic_visit, &x, NULL);
	if (x.oom)
		goto out;
	bs = json_array();
	for (b = 0; b < x.nb; b++)
		json_array_append_new(
		        bs, json_pack("{s:I,s:I,s:I,s:I}", "t_ns",
		                      (json_int_t)(x.from + b * x.bucket),
		                      "bytes_out", (json_int_t)x.out[b],
		                      "bytes_in", (json_int_t)x.in[b], "flows",
		                      (json_int_t)x.flows[b]));
	procs = traffic_top(&x, &x.procs, "exe", top);
	hosts = traffic_top(&x, &x.hosts, "host", top);
	o = json_pack("{s:s,s:I,s:I,s:I,s:o,s:o*,s:o*,s:I,s:b}", "span", span,
	              "bucket_s", (json_int_t)bucket_s, "from_ns",
	              (json_int_t)x.from, "to_ns", (json_int_t)x.to, "buckets",
	              bs, "processes", procs, "hosts", hosts, "scanned",
	              (json_int_t)x.scanned, "truncated", x.truncated);
out:
	free(x.out);
	free(x.in);
	free(x.flows);
	history_map_free(&x.procs, traffic_row_free);
	history_map_free(&x.hosts, NULL);
	return o;
}

struct blocked_ctx {
	json_t *arr;
	size_t limit, scanned, max_scan;
};

static int
blocked_visit(const struct store_flow *r, void *arg)
{
	struct blocked_ctx *x = arg;

	if (x->scanned++ >= x->max_scan)
		return 1;
	if (r->verdict != SP_VERDICT_DENY && r->verdict != SP_VERDICT_REJECT)
		return 0;
	json_array_append_new(x->arr, history_flow_json(r));
	return json_array_size(x->arr) >= x->limit ? 1 : 0;
}

json_t *
history_blocked(struct store_reader *r, size_t limit, size_t max_scan)
{
	struct blocked_ctx x = {json_array(), limit, 0, max_scan};

	if (x.arr == NULL)
		return NULL;
	if (limit > 0)
		store_reader_flows(r, true, blocked_visit, &x, NULL);
	return json_pack("{s:o,s:I}", "flows", x.arr, "scanned",
	                 (json_int_t)x.scanned);
}

struct hidden_ctx {
	json_t *arr;
	size_t limit, scanned, max_scan;
};

static int
hidden_visit(const struct store_flow *r, void *arg)
{
	struct hidden_ctx *x = arg;

	if (x->scanned++ >= x->max_scan)
		return 1;
	if (!(r->flags & STORE_FLOW_HIDDEN))
		return 0;
	json_array_append_new(x->arr, history_flow_json(r));
	return json_array_size(x->arr) >= x->limit ? 1 : 0;
}

json_t *
history_hidden(struct store_reader *r, size_t limit, size_t max_scan)
{
	struct hidden_ctx x = {json_array(), limit, 0, max_scan};

	if (x.arr != NULL && limit > 0)
		store_reader_flows(r, true, hidden_visit, &x, NULL);
	return x.arr;
}

struct events_ctx {
	uint8_t type;
	json_t *arr; /* oldest first; the oldest dropped past limit */
	size_t limit;
};

static int
events_visit(const struct store_event *e, void *arg)
{
	struct events_ctx *x = arg;

	if (e->type != x->type)
		return 0;
	if (json_array_size(x->arr) >= x->limit)
		json_array_remove(x->arr, 0);
	json_array_append_new(
	        x->arr, json_pack("{s:I,s:s}", "time_ns", (json_int_t)e->ts_ns,
	                          "what", e->text != NULL ? e->text : ""));
	return 0;
}

json_t *
history_events_of(struct store_reader *r, enum store_event_type type,
                  uint64_t since_ns, size_t limit)
{
	struct events_ctx x = {(uint8_t)type, json_array(), limit};
	json_t *out;
	size_t i, n;

	if (x.arr == NULL || limit == 0)
		return x.arr;
	store_reader_events(r, since_ns, events_visit, &x);
	/* Newest first. */
	out = json_array();
	n = json_array_size(x.arr);
	for (i = n; i > 0; i--)
		json_array_append(out, json_array_get(x.arr, i - 1));
	json_decref(x.arr);
	return out;
}

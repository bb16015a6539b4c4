/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle conns`: the daemon's live flows. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/query.h"
#include "cmd/cmd.h"
#include "spackle/spackle.h"
#include "spackle/texttab.h"

/* What fits in 100 columns (the remote end by its name when it has one,
 * else its address); with --wide every column (the address and the name,
 * packets and bytes), every value whole. */
static const struct texttab_col conns_cols[] = {
        {"dir", TEXTTAB_CUT_NONE, 0, 0, false},
        {"proto", TEXTTAB_CUT_NONE, 0, 0, false},
        {"local", TEXTTAB_CUT_ADDR, 14, 47, false},
        {"remote", TEXTTAB_CUT_ADDR, 20, 50, false},
        {"verdict", TEXTTAB_CUT_NONE, 0, 0, false},
        {"rule", TEXTTAB_CUT_PATH, 14, 40, false},
        {"process", TEXTTAB_CUT_PATH, 16, 0, false},
};
static const struct texttab_col conns_cols_wide[] = {
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

static uint64_t
geti(const json_t *o, const char *k)
{
	json_int_t v = query_geti(o, k);

	return v > 0 ? (uint64_t)v : 0;
}

/* "out/in" of the two members, with thousands separators. */
static const char *
out_in(const json_t *f, const char *a, const char *b, char *buf, size_t len)
{
	char x[32], y[32];

	snprintf(buf, len, "%s/%s", texttab_count(geti(f, a), x, sizeof(x)),
	         texttab_count(geti(f, b), y, sizeof(y)));
	return buf;
}

static int
conns_row(struct texttab *t, const json_t *f, bool wide)
{
	const char *exe = json_string_value(json_object_get(f, "exe"));
	const char *host = json_string_value(json_object_get(f, "host"));
	json_t *uid = json_object_get(f, "uid"),
	       *pid = json_object_get(f, "pid");
	char lb[80], rb[SP_NAME_MAX + 16], pk[64], by[64];
	char who[SP_PATH_MAX + 64];
	struct texttab_cell c[10];
	size_t n = 0;

	memset(c, 0, sizeof(c));
	if (exe != NULL && wide && json_is_integer(pid) && json_is_integer(uid))
		snprintf(who, sizeof(who),
		         "%s (pid %" JSON_INTEGER_FORMAT
		         ", uid %" JSON_INTEGER_FORMAT ")",
		         exe, json_integer_value(pid), json_integer_value(uid));
	else if (exe != NULL)
		snprintf(who, sizeof(who), "%s", exe);
	else if (json_is_integer(uid))
		snprintf(who, sizeof(who), "uid %" JSON_INTEGER_FORMAT,
		         json_integer_value(uid));
	else
		snprintf(who, sizeof(who), "-");
	c[n++].text = query_gets(f, "dir");
	c[n++].text = query_gets(f, "proto");
	c[n++].text =
	        texttab_endpoint(query_gets(f, "src"),
	                         (unsigned)geti(f, "sport"), lb, sizeof(lb));
	if (wide || host == NULL)
		texttab_endpoint(query_gets(f, "dst"),
		                 (unsigned)geti(f, "dport"), rb, sizeof(rb));
	else
		snprintf(rb, sizeof(rb), "%s:%u", host,
		         (unsigned)geti(f, "dport"));
	c[n++].text = rb;
	if (wide)
		c[n++].text = query_gets(f, "host");
	c[n++].text = query_gets(f, "verdict");
	c[n++].text = query_gets(f, "rule");
	if (wide) {
		c[n++].text =
		        out_in(f, "packets_out", "packets_in", pk, sizeof(pk));
		c[n++].text =
		        out_in(f, "bytes_out", "bytes_in", by, sizeof(by));
	}
	c[n].text = who;
	/* Monitor mode: what the verdict says was let through. */
	if (json_is_true(json_object_get(f, "monitor")))
		c[n].tail = " [monitor]";
	return texttab_row(t, c);
}

int
conns_print_text(const json_t *arr, bool wide, FILE *out)
{
	struct texttab t;
	const json_t *f;
	size_t i;
	int rc = 0;

	if (wide)
		texttab_init(&t, conns_cols_wide,
		             sizeof(conns_cols_wide) /
		                     sizeof(conns_cols_wide[0]),
		             TEXTTAB_WIDE, out);
	else
		texttab_init(&t, conns_cols,
		             sizeof(conns_cols) / sizeof(conns_cols[0]),
		             TEXTTAB_WIDTH, out);
	json_array_foreach(arr, i, f)
	{
		if (rc == 0)
			rc = conns_row(&t, f, wide);
	}
	if (rc == 0)
		rc = texttab_end(&t);
	texttab_free(&t);
	return rc;
}

int
cmd_conns(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle conns [-c CONF] [--json|-w|--wide]\n"
	        "  the text fits in 100 columns; -w, --wide: every column, "
	        "every value whole\n";
	struct query_opts o;
	json_t *r, *arr;
	int rc = query_args_wide(argc, argv, &o, usage, true);

	if (rc >= 0)
		return rc;
	if ((r = query_call(&o, "conns", "conns")) == NULL)
		return 2;
	arr = json_object_get(r, "conns");
	if (o.json) {
		query_print_json(arr);
		json_decref(r);
		return 0;
	}
	rc = conns_print_text(arr, o.wide, stdout);
	json_decref(r);
	if (rc != 0) {
		fprintf(stderr, "spackle conns: out of memory\n");
		return 2;
	}
	return fflush(stdout) != 0 ? 2 : 0;
}

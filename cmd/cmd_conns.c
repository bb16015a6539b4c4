/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle conns`: the daemon's live flows, one to a line within 100
 * columns (--json: every field). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/query.h"
#include "cmd/cmd.h"

/* The columns: together within 100, the process taking what is left. */
#define W_DIR     3
#define W_PROTO   5
#define W_LOCAL   6
#define W_REMOTE  24
#define W_HOST    17
#define W_VERDICT 7
#define W_RULE    14
#define W_LINE    100
#define W_PROCESS                                                              \
	(W_LINE - W_DIR - W_PROTO - W_LOCAL - W_REMOTE - W_HOST - W_VERDICT -  \
	 W_RULE - 7)

/* One flow on one line: the remote end (IPv6 in brackets, its middle cut
 * when too long), the local port, the host (or the payload's name that is
 * no DNS name, after a '?'), the rule's file cut from the start, and the
 * program's name with its pid. */
static void
conns_row(const json_t *f)
{
	const char *exe = json_string_value(json_object_get(f, "exe"));
	const char *host = json_string_value(json_object_get(f, "host"));
	const char *raw = json_string_value(json_object_get(f, "name_raw"));
	const char *dst = query_gets(f, "dst"), *slash;
	const json_t *uid = json_object_get(f, "uid"), *pid;
	char t[SP_PATH_MAX + 64], cell[SP_PATH_MAX + 64];

	sp_put(stdout, query_gets(f, "dir"), W_DIR + 1);
	sp_put(stdout, query_gets(f, "proto"), W_PROTO + 1);
	snprintf(t, sizeof(t), ":%" JSON_INTEGER_FORMAT,
	         query_geti(f, "sport"));
	sp_put(stdout, t, W_LOCAL + 1);
	snprintf(t, sizeof(t),
	         strchr(dst, ':') != NULL ? "[%s]:%" JSON_INTEGER_FORMAT
	                                  : "%s:%" JSON_INTEGER_FORMAT,
	         dst, query_geti(f, "dport"));
	sp_put(stdout, sp_fit(cell, sizeof(cell), t, W_REMOTE, false),
	       W_REMOTE + 1);
	if (host == NULL && raw != NULL)
		snprintf(t, sizeof(t), "?%s", raw);
	else
		snprintf(t, sizeof(t), "%s", host != NULL ? host : "-");
	sp_put(stdout, sp_fit(cell, sizeof(cell), t, W_HOST, true), W_HOST + 1);
	sp_put(stdout, query_gets(f, "verdict"), W_VERDICT + 1);
	sp_put(stdout,
	       sp_fit(cell, sizeof(cell), query_gets(f, "rule"), W_RULE, true),
	       W_RULE + 1);
	pid = json_object_get(f, "pid");
	if (exe != NULL) {
		slash = strrchr(exe, '/');
		snprintf(t, sizeof(t), "%s", slash != NULL ? slash + 1 : exe);
		if (json_is_integer(pid))
			snprintf(t + strlen(t), sizeof(t) - strlen(t),
			         " %" JSON_INTEGER_FORMAT,
			         json_integer_value(pid));
	} else if (json_is_integer(uid)) {
		snprintf(t, sizeof(t), "uid %" JSON_INTEGER_FORMAT,
		         json_integer_value(uid));
	} else {
		snprintf(t, sizeof(t), "-");
	}
	printf("%s\n", sp_fit(cell, sizeof(cell), t, W_PROCESS, true));
}

int
cmd_conns(int argc, char **argv)
{
	static const char usage[] = "usage: spackle conns [-c CONF] [--json]\n";
	struct query_opts o;
	json_t *r, *arr, *f;
	size_t i;
	int rc = query_args(argc, argv, &o, usage);

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
	printf("%-*s %-*s %-*s %-*s %-*s %-*s %-*s %s\n", W_DIR, "dir", W_PROTO,
	       "proto", W_LOCAL, "local", W_REMOTE, "remote", W_HOST, "host",
	       W_VERDICT, "verdict", W_RULE, "rule", "process");
	json_array_foreach(arr, i, f)
	{
		conns_row(f);
		if (json_is_true(json_object_get(f, "monitor")))
			printf("    (monitor mode: let through)\n");
	}
	json_decref(r);
	return 0;
}

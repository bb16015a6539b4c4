/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle conns`: the daemon's live flows. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/query.h"
#include "cmd/cmd.h"

int
cmd_conns(int argc, char **argv)
{
	static const char usage[] = "usage: spackle conns [-c CONF] [--json]\n";
	struct query_opts o;
	json_t *r, *arr, *f;
	size_t i;
	char l[96], rm[96];
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
	printf("%-3s %-5s %-28s %-2s %-28s %-24s %-8s %-28s %-6s %-16s\n",
	       "dir", "proto", "local", "", "remote", "host", "verdict", "rule",
	       "pkts", "process");
	json_array_foreach(arr, i, f)
	{
		bool v6 = strchr(query_gets(f, "src"), ':') != NULL;
		const char *exe = json_string_value(json_object_get(f, "exe"));
		json_t *uid = json_object_get(f, "uid");
		char who[64];

		snprintf(l, sizeof(l),
		         v6 ? "[%s]:%" JSON_INTEGER_FORMAT
		            : "%s:%" JSON_INTEGER_FORMAT,
		         query_gets(f, "src"), query_geti(f, "sport"));
		snprintf(rm, sizeof(rm),
		         v6 ? "[%s]:%" JSON_INTEGER_FORMAT
		            : "%s:%" JSON_INTEGER_FORMAT,
		         query_gets(f, "dst"), query_geti(f, "dport"));
		if (exe != NULL)
			snprintf(who, sizeof(who), "%s", exe);
		else if (json_is_integer(uid))
			snprintf(who, sizeof(who), "uid %" JSON_INTEGER_FORMAT,
			         json_integer_value(uid));
		else
			snprintf(who, sizeof(who), "-");
		printf("%-3s %-5s %-28s %-2s %-28s %-24s %-8s %-28s "
		       "%-6" JSON_INTEGER_FORMAT " %s\n",
		       query_gets(f, "dir"), query_gets(f, "proto"), l,
		       strcmp(query_gets(f, "dir"), "out") == 0 ? "->" : "<-",
		       rm, query_gets(f, "host"), query_gets(f, "verdict"),
		       query_gets(f, "rule"),
		       query_geti(f, "packets_out") +
		               query_geti(f, "packets_in"),
		       who);
		if (json_is_true(json_object_get(f, "monitor")))
			printf("    (monitor mode: let through)\n");
	}
	json_decref(r);
	return 0;
}

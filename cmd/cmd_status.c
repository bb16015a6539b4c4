/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle status`: the daemon's mode, backend, queues and counters. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/query.h"
#include "cmd/cmd.h"

int
cmd_status(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle status [-c CONF] [--json]\n";
	struct query_opts o;
	json_t *r, *c, *a;
	const char *k;
	json_t *v;
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
	printf("spackle %s, pid %" JSON_INTEGER_FORMAT
	       ", up %" JSON_INTEGER_FORMAT " s\n",
	       query_gets(r, "version"), query_geti(r, "pid"),
	       query_geti(r, "uptime"));
	printf("mode %s, divert %s, default %s, failure %s\n",
	       query_gets(r, "mode"), query_gets(r, "divert"),
	       query_gets(r, "default"), query_gets(r, "failure"));
	printf("backend %s, firewall %s, %" JSON_INTEGER_FORMAT
	       " queues from %" JSON_INTEGER_FORMAT "\n",
	       query_gets(r, "backend"), query_gets(r, "firewall"),
	       query_geti(r, "queues"), query_geti(r, "queue_base"));
	printf("rules %s (%" JSON_INTEGER_FORMAT " loaded)\n",
	       query_gets(r, "rules"), query_geti(r, "rules_loaded"));
	c = json_object_get(r, "counters");
	a = json_object_get(r, "attribution");
	if (json_is_object(a))
		printf("attribution: %s; bpf hits %" JSON_INTEGER_FORMAT
		       ", misses %" JSON_INTEGER_FORMAT "\n",
		       query_gets(a, "method"),
		       query_geti(c, "attrib_bpf_hits"),
		       query_geti(c, "attrib_bpf_misses"));
	json_object_foreach(c, k, v)
	{
		if (json_is_boolean(v))
			printf("  %-22s %s\n", k,
			       json_is_true(v) ? "yes" : "no");
		else if (json_is_integer(v))
			printf("  %-22s %" JSON_INTEGER_FORMAT "\n", k,
			       json_integer_value(v));
	}
	json_decref(r);
	return 0;
}

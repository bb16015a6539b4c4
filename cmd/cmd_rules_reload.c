/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle rules reload`: the daemon reads its rules again. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/query.h"
#include "cmd/cmd.h"

int
cmd_rules_reload(int argc, char **argv)
{
	static const char usage[] = "usage: spackle rules reload [-c CONF]\n";
	struct query_opts o;
	json_t *r;
	const char *errs;
	int rc = query_args(argc, argv, &o, usage);

	if (rc >= 0)
		return rc;
	if ((r = query_call(&o, "rules reload", "reload")) == NULL)
		return 2;
	if (!json_is_true(json_object_get(r, "ok"))) {
		errs = json_string_value(json_object_get(r, "errors"));
		fprintf(stderr,
		        "%sspackle rules reload: refused; the daemon "
		        "keeps its previous rules\n",
		        errs ? errs : "");
		json_decref(r);
		return 1;
	}
	errs = json_string_value(json_object_get(r, "warnings"));
	if (errs != NULL)
		fputs(errs, stderr);
	printf("reloaded: %" JSON_INTEGER_FORMAT " rules, %" JSON_INTEGER_FORMAT
	       " live flows changed verdict\n",
	       query_geti(r, "rules"), query_geti(r, "changed"));
	/* A reload applies the rules and `default`; other keys wait. */
	errs = json_string_value(json_object_get(r, "restart_needed"));
	if (errs != NULL && errs[0] != '\0')
		printf("changed in the config, applied only by a restart: "
		       "%s\n",
		       errs);
	json_decref(r);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Asking the daemon: the options and the control call that `status`,
 * `conns` and `rules reload` share. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/query.h"
#include "spackle/config.h"
#include "spackle/control.h"

int
query_args(int argc, char **argv, struct query_opts *o, const char *usage)
{
	return query_args_wide(argc, argv, o, usage, false);
}

int
query_args_wide(int argc, char **argv, struct query_opts *o, const char *usage,
                bool wide_ok)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        {"wide", no_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int ch;

	o->conf = CONFIG_DEFAULT_PATH;
	o->json = false;
	o->wide = false;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:jwh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (!wide_ok) {
				fprintf(stderr, "%s does not apply here\n%s",
				        argv[optind - 1], usage);
				return 2;
			}
			o->wide = true;
			break;
		case 'c':
			o->conf = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			printf("%s", usage);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	return -1;
}

/* Send cmd to the daemon of o->conf; NULL after printing why. */
json_t *
query_call(const struct query_opts *o, const char *name, const char *cmd)
{
	struct config cfg;
	char err[1024];
	json_t *r;
	const char *e;

	config_defaults(&cfg);
	if (config_load(&cfg, o->conf, stderr) != 0)
		return NULL;
	r = control_call(cfg.control, cmd, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "spackle %s: %s\n", name, err);
		return NULL;
	}
	if ((e = json_string_value(json_object_get(r, "error"))) != NULL) {
		fprintf(stderr, "spackle %s: the daemon says: %s\n", name, e);
		json_decref(r);
		return NULL;
	}
	return r;
}

void
query_print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL)
		puts(s);
	free(s);
}

json_int_t
query_geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

const char *
query_gets(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

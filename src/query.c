/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle status`, `spackle conns`, `spackle rules reload`: ask the daemon. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/cmd.h"
#include "spackle/config.h"
#include "spackle/control.h"

struct query_opts {
	const char *conf;
	bool json;
};

static int
query_args(int argc, char **argv, struct query_opts *o, const char *usage)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int ch;

	o->conf = CONFIG_DEFAULT_PATH;
	o->json = false;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:jh", longopts, NULL)) != -1) {
		switch (ch) {
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
static json_t *
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

static void
query_print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL)
		puts(s);
	free(s);
}

static json_int_t
geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
gets_(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

int
cmd_status(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle status [-c CONF] [--json]\n";
	struct query_opts o;
	json_t *r, *c;
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
	       gets_(r, "version"), geti(r, "pid"), geti(r, "uptime"));
	printf("mode %s, divert %s, default %s, failure %s\n", gets_(r, "mode"),
	       gets_(r, "divert"), gets_(r, "default"), gets_(r, "failure"));
	printf("backend %s, firewall %s, %" JSON_INTEGER_FORMAT
	       " queues from %" JSON_INTEGER_FORMAT "\n",
	       gets_(r, "backend"), gets_(r, "firewall"), geti(r, "queues"),
	       geti(r, "queue_base"));
	printf("rules %s (%" JSON_INTEGER_FORMAT " loaded)\n",
	       gets_(r, "rules"), geti(r, "rules_loaded"));
	c = json_object_get(r, "counters");
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
		bool v6 = strchr(gets_(f, "src"), ':') != NULL;
		const char *exe = json_string_value(json_object_get(f, "exe"));
		json_t *uid = json_object_get(f, "uid");
		char who[64];

		snprintf(l, sizeof(l),
		         v6 ? "[%s]:%" JSON_INTEGER_FORMAT
		            : "%s:%" JSON_INTEGER_FORMAT,
		         gets_(f, "src"), geti(f, "sport"));
		snprintf(rm, sizeof(rm),
		         v6 ? "[%s]:%" JSON_INTEGER_FORMAT
		            : "%s:%" JSON_INTEGER_FORMAT,
		         gets_(f, "dst"), geti(f, "dport"));
		if (exe != NULL)
			snprintf(who, sizeof(who), "%s", exe);
		else if (json_is_integer(uid))
			snprintf(who, sizeof(who), "uid %" JSON_INTEGER_FORMAT,
			         json_integer_value(uid));
		else
			snprintf(who, sizeof(who), "-");
		printf("%-3s %-5s %-28s %-2s %-28s %-24s %-8s %-28s "
		       "%-6" JSON_INTEGER_FORMAT " %s\n",
		       gets_(f, "dir"), gets_(f, "proto"), l,
		       strcmp(gets_(f, "dir"), "out") == 0 ? "->" : "<-", rm,
		       gets_(f, "host"), gets_(f, "verdict"), gets_(f, "rule"),
		       geti(f, "packets_out") + geti(f, "packets_in"), who);
		if (json_is_true(json_object_get(f, "monitor")))
			printf("    (monitor mode: let through)\n");
	}
	json_decref(r);
	return 0;
}

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
	       geti(r, "rules"), geti(r, "changed"));
	json_decref(r);
	return 0;
}

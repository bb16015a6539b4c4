/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle rules check|print`: validate rule files, or print them canonically.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "spackle/config.h"
#include "spackle/rules.h"

static void
rules_usage(FILE *f)
{
	fprintf(f,
	        "usage: spackle rules check [-c CONF] [FILE|DIR...]\n"
	        "       spackle rules print [-c CONF] [FILE|DIR...]\n"
	        "       spackle rules reload [-c CONF]\n"
	        "       spackle rules suggest [-c CONF] [--db DIR] [--since "
	        "T]\n"
	        "\n"
	        "check  report every error and warning as FILE:LINE:COL; "
	        "exit 1 on errors\n"
	        "print  each rule in canonical form, one per line\n"
	        "reload ask the running daemon to load its rules again; on "
	        "errors the old rules stay\n"
	        "suggest  rules that would allow what the store's history "
	        "shows\n"
	        "Without FILE or DIR, the `rules` folder of CONF (default "
	        "%s).\n",
	        CONFIG_DEFAULT_PATH);
}

/* The configured rules folder, when no path was given. */
static const char *
rules_from_config(struct config *cfg, const char *conf, const char *cmd)
{
	config_defaults(cfg);
	if (conf == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		conf = CONFIG_DEFAULT_PATH;
	if (conf == NULL) {
		fprintf(stderr,
		        "spackle rules %s: no rules given: pass FILE or DIR, "
		        "or -c CONF (%s does not exist)\n",
		        cmd, CONFIG_DEFAULT_PATH);
		return NULL;
	}
	if (config_load(cfg, conf, stderr) != 0)
		return NULL;
	return cfg->rules;
}

static const char *
plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int
cmd_rules(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct rules_diags d;
	struct ruleset *rs = NULL;
	struct config cfg;
	const char *conf = NULL, *sub, *path;
	bool check;
	size_t i, n;
	int ch, rc = 2;

	memset(&d, 0, sizeof(d));
	if (argc < 2) {
		rules_usage(stderr);
		return 2;
	}
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		rules_usage(stdout);
		return 0;
	}
	if (strcmp(sub, "reload") == 0)
		return cmd_rules_reload(argc - 1, argv + 1);
	if (strcmp(sub, "suggest") == 0)
		return cmd_rules_suggest(argc - 1, argv + 1);
	if (strcmp(sub, "check") != 0 && strcmp(sub, "print") != 0) {
		fprintf(stderr, "spackle rules: unknown command \"%s\"\n\n",
		        sub);
		rules_usage(stderr);
		return 2;
	}
	check = strcmp(sub, "check") == 0;
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			rules_usage(stdout);
			return 0;
		default:
			rules_usage(stderr);
			return 2;
		}
	}
	if ((rs = rules_new()) == NULL) {
		fprintf(stderr, "spackle rules %s: out of memory\n", sub);
		return 2;
	}
	if (optind == argc) {
		if ((path = rules_from_config(&cfg, conf, sub)) == NULL)
			goto out;
		rules_load_path(rs, path, &d);
	}
	for (; optind < argc; optind++)
		rules_load_path(rs, argv[optind], &d);
	if (d.errors == 0 && check) {
		rules_check_essential(rs, &d);
		rules_compile(rs, &d);
	}
	rules_diags_print(stderr, &d);
	if (d.errors > 0) {
		rc = 1;
		goto out;
	}
	if (check) {
		n = rules_count(rs);
		printf("%zu %s in %zu %s, %zu list %s: ok", n,
		       plural(n, "rule", "rules"), rules_file_count(rs),
		       plural(rules_file_count(rs), "file", "files"),
		       rules_list_entries(rs),
		       plural(rules_list_entries(rs), "entry", "entries"));
		if (d.warnings > 0)
			printf(" (%zu %s)", d.warnings,
			       plural(d.warnings, "warning", "warnings"));
		printf("\n");
	} else {
		for (i = 0; i < rules_count(rs); i++) {
			rules_print(stdout, rules_get(rs, (uint32_t)i));
			putchar('\n');
		}
	}
	rc = fflush(stdout) == 0 ? 0 : 2;
out:
	rules_diags_free(&d);
	rules_free(rs);
	return rc;
}

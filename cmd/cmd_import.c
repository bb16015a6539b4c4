/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle import lsrules|opensnitch|hosts`: rules from other firewalls. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "spackle/import.h"

static void
import_usage(FILE *f)
{
	fprintf(f,
	        "usage: spackle import lsrules FILE\n"
	        "       spackle import opensnitch DIR|FILE\n"
	        "       spackle import hosts FILE [-o LIST] [--action "
	        "deny|reject]\n"
	        "\n"
	        "lsrules     a Little Snitch rule group (.lsrules): rules on "
	        "stdout\n"
	        "opensnitch  the *.json rule files of an OpenSnitch rules "
	        "folder: rules on stdout\n"
	        "hosts       a blocklist (hosts file, names, adblock "
	        "||name^) into the list\n"
	        "            file LIST (default: FILE's name with .list "
	        "appended, in the\n"
	        "            current folder); the rule naming it on stdout, "
	        "a summary on stderr\n"
	        "\n"
	        "What cannot be carried over becomes a # comment saying so "
	        "(docs/import.md).\n"
	        "Exit status: 0 done, 1 the input had errors (reported, bad "
	        "parts left out),\n"
	        "2 usage or operational error.\n");
}

static bool
is_help(const char *s)
{
	return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

/* lsrules FILE, opensnitch DIR: one operand, no options. */
static int
import_one(int argc, char **argv, int (*fn)(const char *, FILE *, FILE *))
{
	int rc;

	if (argc == 2 && is_help(argv[1])) {
		import_usage(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "spackle import %s: %s\n\n", argv[0],
		        argc < 2 ? "which file?" : "one file, no options");
		import_usage(stderr);
		return 2;
	}
	rc = fn(argv[1], stdout, stderr);
	if (fflush(stdout) != 0) {
		perror("spackle import: stdout");
		return 2;
	}
	return rc;
}

static int
import_hosts_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"output", required_argument, NULL, 'o'},
	        {"action", required_argument, NULL, 'a'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	enum sp_verdict action = SP_VERDICT_DENY;
	const char *list = NULL;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			list = optarg;
			break;
		case 'a':
			if (strcmp(optarg, "deny") == 0) {
				action = SP_VERDICT_DENY;
			} else if (strcmp(optarg, "reject") == 0) {
				action = SP_VERDICT_REJECT;
			} else {
				fprintf(stderr,
				        "spackle import hosts: --action is "
				        "deny "
				        "or reject, not \"%s\"\n",
				        optarg);
				return 2;
			}
			break;
		case 'h':
			import_usage(stdout);
			return 0;
		default:
			import_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "spackle import hosts: %s\n\n",
		        argc == optind ? "which file?" : "one file only");
		import_usage(stderr);
		return 2;
	}
	if (list != NULL && list[0] == '\0') {
		fprintf(stderr, "spackle import hosts: -o needs a file name\n");
		return 2;
	}
	rc = import_hosts_file(argv[optind], list, action, stdout, stderr);
	if (fflush(stdout) != 0) {
		perror("spackle import: stdout");
		return 2;
	}
	return rc;
}

int
cmd_import(int argc, char **argv)
{
	const char *sub;

	if (argc < 2) {
		import_usage(stderr);
		return 2;
	}
	sub = argv[1];
	if (is_help(sub)) {
		import_usage(stdout);
		return 0;
	}
	if (strcmp(sub, "lsrules") == 0)
		return import_one(argc - 1, argv + 1, import_lsrules_file);
	if (strcmp(sub, "opensnitch") == 0)
		return import_one(argc - 1, argv + 1, import_opensnitch_path);
	if (strcmp(sub, "hosts") == 0)
		return import_hosts_cmd(argc - 1, argv + 1);
	fprintf(stderr, "spackle import: unknown format \"%s\"\n\n", sub);
	import_usage(stderr);
	return 2;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The spackle binary: dispatches to a subcommand from a table, as wg does. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "spackle/spackle.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *description;
};

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct subcommand subcommands[] = {
        {"run", cmd_run, "the firewall daemon, in the foreground"},
        {"status", cmd_status, "the daemon's mode, queues and counters"},
        {"conns", cmd_conns, "the daemon's live flows and their verdicts"},
        {"log", cmd_log, "history of decisions from the store"},
        {"top", cmd_top,
         "traffic and decisions summed by process, host or rule"},
        {"audit", cmd_audit,
         "counters reconciled, steering integrity, hidden flows"},
        {"replay", cmd_replay, "run the classifier and rules over a capture"},
        {"rules", cmd_rules,
         "check, print or reload rules (check, print, reload)"},
        {"steering", cmd_steering,
         "print the rules spackle would load into a firewall"},
        {"web", cmd_web, "the web monitor's URL, with its token"},
        {"explain", cmd_explain,
         "which rule decides a described flow, and why"},
        {"import", cmd_import,
         "rules from Little Snitch, OpenSnitch or a blocklist"},
        {"version", cmd_version, "print the version"},
        {"help", cmd_help, "show this help"},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: spackle <command> [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-9s %s\n", subcommands[i].name,
		        subcommands[i].description);
	fprintf(f, "\n`spackle <command> --help` describes a command.\n");
}

static int
cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("spackle %s\n", SPACKLE_VERSION);
	return 0;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(argc - 1, argv + 1);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "spackle: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}

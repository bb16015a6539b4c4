/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Subcommands of the spackle binary; main.c dispatches to them. */
#ifndef SPACKLE_CMD_H
#define SPACKLE_CMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "spackle/rules.h"

/*
 * Each takes the arguments after its own name (argv[0] is the subcommand's
 * name) and returns the process exit status: 0 success, 1 the answer is
 * "no" (errors found, holes found), 2 usage or operational error.
 */
int cmd_replay(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_conns(int argc, char **argv);
/* `spackle web`: the web monitor's URL with its token. */
int cmd_web(int argc, char **argv);

/* The text of `status` and `conns` from the daemon's answer (its "conns"
 * array): headings with what needs attention first; a table within 100
 * columns, or with wide every column whole. 0, or -1 out of memory. */
int status_print_text(json_t *r, FILE *out);
int conns_print_text(const json_t *arr, bool wide, FILE *out);
/* `spackle audit` (cmd/cmd_audit.c). */
int cmd_audit(int argc, char **argv);
/* `spackle steering print` (cmd/cmd_steering.c): a firewall's rules as
 * text, touching no firewall. */
int cmd_steering(int argc, char **argv);

/* `spackle rules reload`: ask the daemon of -c CONF to reload. */
int cmd_rules_reload(int argc, char **argv);

/* History from the store, without the daemon (src/history_*.c). */
int cmd_log(int argc, char **argv);
int cmd_top(int argc, char **argv);
/* `spackle rules suggest`: cmd_rules() hands "suggest" to it. */
int cmd_rules_suggest(int argc, char **argv);
int cmd_import(int argc, char **argv); /* src/cmd_import.c */

/*
 * Where a command takes its rules from: --rules PATH, or -c CONF's `rules`
 * and `default`, or the default config file when it exists. --default
 * overrides the verdict either way.
 */
struct cmd_rules_source {
	const char *rules;       /* --rules */
	const char *config;      /* -c */
	const char *dflt;        /* --default */
	bool optional;           /* no rules at all is fine (replay) */
	struct ruleset *rs;      /* out: loaded and compiled, or NULL */
	enum sp_verdict verdict; /* out: the default verdict */
};

/* Load and compile; on errors print them (FILE:LINE:COL) and return -1. */
int cmd_rules_open(struct cmd_rules_source *src, const char *cmd, FILE *err);

#endif

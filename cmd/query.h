/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the commands that ask the daemon share (cmd/query.c). */
#ifndef SPACKLE_CMD_QUERY_H
#define SPACKLE_CMD_QUERY_H

#include <jansson.h>
#include <stdbool.h>

struct query_opts {
	const char *conf;
	bool json;
	bool wide; /* -w, --wide: the text with every column, whole */
};

/* -c CONF and --json; -1 to go on, else the exit status. */
int query_args(int argc, char **argv, struct query_opts *o, const char *usage);
/* The same, and -w/--wide when wide_ok. */
int query_args_wide(int argc, char **argv, struct query_opts *o,
                    const char *usage, bool wide_ok);
/* Send cmd to the daemon of o->conf; NULL after printing why. */
json_t *query_call(const struct query_opts *o, const char *name,
                   const char *cmd);
void query_print_json(const json_t *j);
/* A member as an integer (0 when absent) or a string ("-" when absent). */
json_int_t query_geti(const json_t *o, const char *k);
const char *query_gets(const json_t *o, const char *k);

#endif

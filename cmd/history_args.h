/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What `log`, `top` and `rules suggest` share: their options, the store. */
#ifndef SPACKLE_CMD_HISTORY_ARGS_H
#define SPACKLE_CMD_HISTORY_ARGS_H

#include "spackle/history.h"

struct history_args {
	const char *conf, *db;
	struct history_filter f;
	size_t limit;
	enum history_format fmt;
	enum history_by by;
	bool events; /* log --events */
	struct store_reader *r;
};

/* Options shared by the three commands; which says which are allowed. */
enum { OPT_FILTER = 1, OPT_LOG = 2, OPT_TOP = 4 };

/* Parse argv; -1 to go on, else the exit status (--help, a usage error).
 * which says which options beyond the filter are allowed. */
int history_args_parse(int argc, char **argv, struct history_args *a,
                       unsigned which, const char *usage);
/* Open the store named by --db or by -c CONF's `db`; 0 or 2. */
int history_args_open(struct history_args *a, const char *cmd);
/* Close the store; the exit status for a command that printed n (-1: out
 * of memory). */
int history_args_done(struct history_args *a, long n, const char *cmd);

#endif

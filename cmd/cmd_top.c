/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle top`: flows, packets, bytes and verdicts summed from the store. */
#include <stdio.h>
#include <string.h>

#include "cmd/history_args.h"
#include "cmd/cmd.h"

int
cmd_top(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle top [-c CONF] [--db DIR] [--since T] [--until "
	        "T] [--by process|host|rule] [--json]\n"
	        "  flows, packets, bytes and verdicts summed per process "
	        "(default), host or rule\n";
	struct history_args a;
	int rc = history_args_parse(argc, argv, &a, OPT_TOP, usage);

	if (rc >= 0)
		return rc;
	if ((rc = history_args_open(&a, "top")) != 0) {
		store_reader_close(a.r);
		return rc;
	}
	return history_args_done(
	        &a, history_top(a.r, &a.f, a.by, a.fmt == HISTORY_JSON, stdout),
	        "top");
}

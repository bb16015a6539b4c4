/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle rules suggest`: rules that would allow what the store shows. */
#include <stdio.h>
#include <string.h>

#include "cmd/history_args.h"
#include "cmd/cmd.h"

int
cmd_rules_suggest(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle rules suggest [-c CONF] [--db DIR] [--since T] "
	        "[--until T]\n"
	        "  rules that would allow the flows the store holds, "
	        "grouped by process and domain\n";
	struct history_args a;
	int rc = history_args_parse(argc, argv, &a, 0, usage);

	if (rc >= 0)
		return rc;
	if ((rc = history_args_open(&a, "rules suggest")) != 0) {
		store_reader_close(a.r);
		return rc;
	}
	return history_args_done(&a, history_suggest(a.r, &a.f, stdout),
	                         "rules suggest");
}

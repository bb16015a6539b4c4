/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle log`: the history of flows or events from the store. */
#include <stdio.h>
#include <string.h>

#include "cmd/history_args.h"
#include "cmd/cmd.h"

int
cmd_log(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle log [-c CONF] [--db DIR] [--since T] [--until "
	        "T] [--process GLOB]\n"
	        "                   [--host NAME|ADDR|CIDR] [--verdict "
	        "allow|deny|reject] [--limit N]\n"
	        "                   [--json|--csv|-w|--wide] [--events]\n"
	        "  flows from the store, oldest first (--limit: the latest "
	        "N); T is ISO 8601\n"
	        "  (2026-11-28T10:00:00Z, 2026-11-28) or back from now (30s, "
	        "15m, 1h, 2d, 1w)\n"
	        "  the text fits in 100 columns; -w, --wide: every column, "
	        "every value whole\n"
	        "  --events: the daemon's events instead (start, stop, "
	        "reload, verdict,\n"
	        "  tamper, drops)\n";
	struct history_args a;
	int rc = history_args_parse(argc, argv, &a, OPT_LOG, usage);

	if (rc >= 0)
		return rc;
	if ((rc = history_args_open(&a, "log")) != 0) {
		store_reader_close(a.r);
		return rc;
	}
	if (a.events && (a.f.process != NULL || a.f.host != NULL ||
	                 a.f.verdict != SP_VERDICT_NONE)) {
		fprintf(stderr, "spackle log: --events takes only --since, "
		                "--until, --limit and a format\n");
		store_reader_close(a.r);
		return 2;
	}
	return history_args_done(
	        &a,
	        a.events ? history_events(a.r, &a.f, a.limit, a.fmt, stdout)
	                 : history_log(a.r, &a.f, a.limit, a.fmt, stdout),
	        "log");
}

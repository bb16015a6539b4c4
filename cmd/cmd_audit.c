/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `spackle audit`: does the wall hold? The kernel's counters for the
 * steering rules against the daemon's own (audit_counters.c), spackle's
 * rules first and whole in every hook (audit_steering.c), and with --watch,
 * the flows a tap sees on the wire (audit_tap.c) against the flows that
 * crossed the divert (audit_hidden.c); the report in audit_report.c.
 * docs/audit.md says what each line means. This file: the options, the
 * run and the exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/audit.h"
#include "cmd/cmd.h"
#include "spackle/config.h"
#include "spackle/fwread.h"

int
cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"watch", required_argument, NULL, 'w'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static const char usage[] =
	        "usage: spackle audit [-c CONF] [--watch SECONDS] [--json]\n"
	        "  reconcile the kernel's counters with the daemon's, check "
	        "that spackle's\n"
	        "  steering is first and whole in every hook, and with "
	        "--watch tap the\n"
	        "  interfaces that long and list the flows that never "
	        "crossed the divert.\n"
	        "  Exit 0 clean, 1 holes, 2 error. Root (or CAP_NET_ADMIN "
	        "and CAP_NET_RAW).\n";
	const char *conf = CONFIG_DEFAULT_PATH;
	struct audit a;
	char *end;
	unsigned long v;
	int ch, rc;

	memset(&a, 0, sizeof(a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:w:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'w':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v == 0 ||
			    v > AUDIT_WATCH_MAX) {
				fprintf(stderr,
				        "spackle audit: --watch \"%s\": "
				        "seconds, "
				        "1 to %u\n",
				        optarg, AUDIT_WATCH_MAX);
				return 2;
			}
			a.watch = (unsigned)v;
			break;
		case 'j':
			a.json = true;
			break;
		case 'h':
			fputs(usage, stdout);
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
	config_defaults(&a.cfg);
	if (config_load(&a.cfg, conf, stderr) != 0)
		return 2;
	a.counters = json_object();
	a.steering = json_object();
	a.hidden = json_array();
	a.exempt = json_array();
	a.notes = json_array();

	audit_counters(&a);
	audit_steering(&a);
	if (a.watch > 0) {
		audit_hidden(&a);
		audit_tell_daemon(&a);
	}

	audit_print(&a);
	rc = fflush(stdout) != 0 ? 2 : a.holes ? 1 : 0;
	json_decref(a.counters);
	json_decref(a.steering);
	json_decref(a.hidden);
	json_decref(a.exempt);
	json_decref(a.notes);
	json_decref(a.status);
	fw_steer_check_free(&a.chk);
	fw_ruleset_free(&a.rs);
	return rc;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle run`: the firewall daemon in the foreground (daemon/run.c). */
#include <getopt.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "daemon/run.h"
#include "spackle/config.h"

static void
run_usage(FILE *f)
{
	fprintf(f, "usage: spackle run [-c CONF]\n"
	           "  runs the firewall in the foreground; SIGTERM or SIGINT "
	           "stop it, SIGHUP reloads the rules\n");
}

int
cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *conf_path = CONFIG_DEFAULT_PATH;
	struct config cfg;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		run_usage(stderr);
		return 2;
	}
	config_defaults(&cfg);
	if (config_load(&cfg, conf_path, stderr) != 0)
		return 1;
	return daemon_run(conf_path, &cfg);
}

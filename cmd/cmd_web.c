/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle web`: the web monitor's URL with its token, as Jupyter prints
 * its own (docs/web.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "spackle/config.h"
#include "spackle/web.h"

int
cmd_web(int argc, char **argv)
{
	static const char usage[] =
	        "usage: spackle web [-c CONF]\n"
	        "The web monitor's URL, with the token the daemon wrote at "
	        "start\n(web_token; root and the group spackle may read "
	        "it).\n";
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *conf = NULL;
	char tok[WEB_TOKEN_HEX + 1], err[SP_PATH_MAX + 128];
	struct config cfg;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
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
	config_defaults(&cfg);
	if (conf == NULL)
		conf = CONFIG_DEFAULT_PATH;
	if (config_load(&cfg, conf, stderr) != 0)
		return 2;
	if (cfg.web[0] == '\0') {
		fprintf(stderr,
		        "spackle web: the web monitor is off in %s: set `web "
		        "= 127.0.0.1:3031` there and restart the daemon\n",
		        conf);
		return 2;
	}
	if (web_token_read(cfg.web_token, tok, err, sizeof(err)) != 0) {
		fprintf(stderr, "spackle web: %s\n", err);
		return 2;
	}
	printf("http://%s/?token=%s\n", cfg.web, tok);
	return fflush(stdout) == 0 ? 0 : 2;
}

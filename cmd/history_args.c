/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The options and store opening shared by `log`, `top` and `rules suggest`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/history_args.h"
#include "spackle/config.h"

/* Open the store named by --db or by -c CONF's `db`; 0 or 2. */
int
history_args_open(struct history_args *a, const char *cmd)
{
	struct config cfg;
	char err[SP_PATH_MAX + 256];
	const char *db = a->db;

	if (db == NULL) {
		config_defaults(&cfg);
		if (config_load(&cfg, a->conf, stderr) != 0)
			return 2;
		db = cfg.db;
	}
	if (strcmp(db, CONFIG_DB_NONE) == 0) {
		fprintf(stderr,
		        "spackle %s: the config says `db = none`: no history "
		        "is kept\n",
		        cmd);
		return 2;
	}
	if (store_reader_open(&a->r, db, err, sizeof(err)) != 0) {
		fprintf(stderr, "spackle %s: %s\n", cmd, err);
		return 2;
	}
	if (!history_filter_prepare(&a->f, stderr))
		return 2;
	return 0;
}

int
history_args_parse(int argc, char **argv, struct history_args *a,
                   unsigned which, const char *usage)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"db", required_argument, NULL, 'd'},
	        {"since", required_argument, NULL, 's'},
	        {"until", required_argument, NULL, 'u'},
	        {"process", required_argument, NULL, 'p'},
	        {"host", required_argument, NULL, 'H'},
	        {"verdict", required_argument, NULL, 'v'},
	        {"limit", required_argument, NULL, 'n'},
	        {"json", no_argument, NULL, 'j'},
	        {"csv", no_argument, NULL, 'C'},
	        {"by", required_argument, NULL, 'b'},
	        {"events", no_argument, NULL, 'e'},
	        {"wide", no_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	uint64_t now = sp_now_wall();
	char *end;
	unsigned long long n;
	int ch;
	bool wide = false;

	memset(a, 0, sizeof(*a));
	a->conf = CONFIG_DEFAULT_PATH;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:hw", longopts, NULL)) != -1) {
		unsigned need = 0;

		switch (ch) {
		case 'c':
			a->conf = optarg;
			continue;
		case 'd':
			a->db = optarg;
			continue;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 's':
		case 'u':
			if (history_parse_time(optarg, now,
			                       ch == 's'
			                               ? &a->f.since_ns
			                               : &a->f.until_ns) != 0) {
				fprintf(stderr,
				        "--%s \"%s\": use "
				        "2026-11-28T10:00:00Z, "
				        "2026-11-28, or 30s, 15m, 1h, 2d, 1w "
				        "back from now\n",
				        ch == 's' ? "since" : "until", optarg);
				return 2;
			}
			continue;
		case 'p':
			need = OPT_LOG;
			a->f.process = optarg;
			break;
		case 'H':
			need = OPT_LOG;
			a->f.host = optarg;
			break;
		case 'v':
			need = OPT_LOG;
			if (!sp_verdict_parse(optarg, &a->f.verdict)) {
				fprintf(stderr,
				        "--verdict \"%s\": use allow, "
				        "deny or reject\n",
				        optarg);
				return 2;
			}
			break;
		case 'n':
			need = OPT_LOG;
			errno = 0;
			n = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || n == 0 ||
			    n > 10000000) {
				fprintf(stderr,
				        "--limit \"%s\": a number from "
				        "1 to 10000000\n",
				        optarg);
				return 2;
			}
			a->limit = (size_t)n;
			break;
		case 'j':
			need = OPT_LOG | OPT_TOP;
			a->fmt = HISTORY_JSON;
			break;
		case 'C':
			need = OPT_LOG;
			a->fmt = HISTORY_CSV;
			break;
		case 'e':
			need = OPT_LOG;
			a->events = true;
			break;
		case 'w':
			need = OPT_LOG;
			wide = true;
			break;
		case 'b':
			need = OPT_TOP;
			if (strcmp(optarg, "process") == 0)
				a->by = HISTORY_BY_PROCESS;
			else if (strcmp(optarg, "host") == 0)
				a->by = HISTORY_BY_HOST;
			else if (strcmp(optarg, "rule") == 0)
				a->by = HISTORY_BY_RULE;
			else {
				fprintf(stderr,
				        "--by \"%s\": use process, "
				        "host or rule\n",
				        optarg);
				return 2;
			}
			break;
		default:
			fputs(usage, stderr);
			return 2;
		}
		if ((need & which) == 0) {
			fprintf(stderr, "%s does not apply here\n%s",
			        argv[optind - 1], usage);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	/* JSON and CSV are whole anyway. */
	if (wide && a->fmt == HISTORY_TEXT)
		a->fmt = HISTORY_WIDE;
	return -1;
}

int
history_args_done(struct history_args *a, long n, const char *cmd)
{
	store_reader_close(a->r);
	if (n < 0) {
		fprintf(stderr, "spackle %s: out of memory\n", cmd);
		return 2;
	}
	if (fflush(stdout) != 0)
		return 2;
	return 0;
}

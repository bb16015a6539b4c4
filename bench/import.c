/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/import: a blocklist of a million names (a third each hosts lines,
 * adblock ||name^ lines and plain names) through `spackle import hosts`,
 * and the list it writes loaded and compiled as the daemon loads rules,
 * each beside a baseline of the same run: reading the same bytes and
 * counting their lines. Target (issue 8): a million names in about a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "spackle/import.h"
#include "spackle/rules.h"
#include "spackle/spackle.h"

#define BENCH_NAMES 1000000u

static double
secs_since(uint64_t t0)
{
	return (double)(sp_now_mono() - t0) / 1e9;
}

/* The baseline: read path whole and count its lines. */
static double
read_and_count(const char *path, size_t *lines)
{
	uint64_t t0 = sp_now_mono();
	size_t len, n = 0;
	char *text = sp_read_file(path, 1u << 30, &len);
	const char *p, *end;

	if (text == NULL)
		return -1;
	for (p = text, end = text + len;
	     (p = memchr(p, '\n', (size_t)(end - p))); p++)
		n++;
	free(text);
	*lines = n;
	return secs_since(t0);
}

static long
peak_rss_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/spackle-bench-import-XXXXXX", src[64], list[80],
	     rule[128];
	struct ruleset *rs;
	struct rules_diags d;
	FILE *f, *devnull;
	uint64_t t0;
	double t_read_src, t_import, t_read_list, t_load;
	size_t nsrc, nlist;
	long rss_before;
	unsigned i;
	int rc = 1;

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL) {
		perror("bench: mkdtemp");
		return 2;
	}
	snprintf(src, sizeof(src), "%s/block.txt", dir);
	snprintf(list, sizeof(list), "%s/block.list", dir);
	snprintf(rule, sizeof(rule), "%s/10-block.rules", dir);
	if ((f = fopen(src, "w")) == NULL) {
		perror(src);
		return 2;
	}
	fputs("# a blocklist as published: hosts, adblock and plain lines\n",
	      f);
	for (i = 0; i < BENCH_NAMES; i++) {
		if (i % 3 == 0)
			fprintf(f, "0.0.0.0 ads%u.tracker%u.example.com\n", i,
			        i % 97);
		else if (i % 3 == 1)
			fprintf(f, "||ads%u.tracker%u.example.net^\n", i,
			        i % 89);
		else
			fprintf(f, "ads%u.tracker%u.example.org\n", i, i % 83);
	}
	fclose(f);
	devnull = fopen("/dev/null", "w");

	t_read_src = read_and_count(src, &nsrc);
	t0 = sp_now_mono();
	if (import_hosts_file(src, list, SP_VERDICT_DENY, devnull, devnull) !=
	    0) {
		fprintf(stderr, "bench: import hosts %s failed\n", src);
		goto out;
	}
	t_import = secs_since(t0);

	if ((f = fopen(rule, "w")) == NULL) {
		perror(rule);
		goto out;
	}
	fprintf(f, "deny out to list \"%s\"\n", list);
	fclose(f);
	t_read_list = read_and_count(list, &nlist);
	rss_before = peak_rss_mib();
	memset(&d, 0, sizeof(d));
	rs = rules_new();
	t0 = sp_now_mono();
	if (rs == NULL || rules_load_path(rs, rule, &d) != 0 ||
	    rules_compile(rs, &d) != 0) {
		fprintf(stderr, "bench: loading %s failed (%zu errors)\n", rule,
		        d.errors);
		goto out;
	}
	t_load = secs_since(t0);
	/* Every name once, after the list's one comment line. */
	if (nlist != BENCH_NAMES + 1 || rules_count(rs) != 1) {
		fprintf(stderr,
		        "bench: the list has %zu lines, want %u; %zu rules\n",
		        nlist, BENCH_NAMES + 1, rules_count(rs));
		goto out;
	}

	printf("bench/import: %u names (hosts, adblock and plain lines, a "
	       "third each)\n",
	       BENCH_NAMES);
	printf("%-40s %10s %10s %12s\n", "row", "seconds", "names/s",
	       "x baseline");
	printf("%-40s %10.3f %10.0f %12s\n",
	       "read + count the blocklist (baseline)", t_read_src,
	       nsrc / t_read_src, "1.00");
	printf("%-40s %10.3f %10.0f %12.1f\n", "spackle import hosts", t_import,
	       BENCH_NAMES / t_import, t_import / t_read_src);
	printf("%-40s %10.3f %10.0f %12s\n", "read + count the list (baseline)",
	       t_read_list, nlist / t_read_list, "1.00");
	printf("%-40s %10.3f %10.0f %12.1f\n", "load + compile the list rule",
	       t_load, BENCH_NAMES / t_load, t_load / t_read_list);
	printf("peak RSS growth while loading: %ld MiB (peak RSS %ld MiB)\n",
	       peak_rss_mib() - rss_before, peak_rss_mib());
	printf("target: a million names in about a second: import %s, load "
	       "%s\n",
	       t_import <= 1.5 ? "met" : "NOT met",
	       t_load <= 1.5 ? "met" : "NOT met");
	rules_free(rs);
	rules_diags_free(&d);
	rc = 0;
out:
	fclose(devnull);
	unlink(src);
	unlink(list);
	unlink(rule);
	rmdir(dir);
	return rc;
}

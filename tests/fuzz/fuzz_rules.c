/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness of the rule language: load, compile, match, round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/rules.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fq {
	enum sp_dir dir;
	uint8_t proto;
	const char *addr;
	uint16_t rport, lport;
	const char *names[3];
	size_t nnames;
	const char *exe;
	uint32_t uid;
};

static const struct fq queries[] = {
        {SP_DIR_OUT,
         6,
         "192.0.2.1",
         443,
         50000,
         {"www.example.com", "edge.example.net"},
         2,
         "/usr/bin/curl",
         0},
        {SP_DIR_IN, 17, "2001:db8::1", 5353, 53, {NULL}, 0, NULL, UINT32_MAX},
        {SP_DIR_OUT,
         1,
         "10.0.0.1",
         0,
         0,
         {"a.b.c.example.org"},
         1,
         "/x/y",
         1000},
        {SP_DIR_OUT,
         17,
         "203.0.113.9",
         53,
         40000,
         {"ads.example.com"},
         1,
         "/usr/lib/firefox/firefox",
         1000},
};

/* Indexed and walking every rule must decide alike. */
static void
match_both(struct ruleset *rs, const struct fq *f)
{
	struct rules_query q;
	struct rules_result a, b;
	struct rules_candidate cands[8];
	struct rules_index *idx;

	memset(&q, 0, sizeof(q));
	q.dir = f->dir;
	q.proto = f->proto;
	CHECK(sp_addr_parse(&q.remote, f->addr));
	q.remote_port = f->rport;
	q.local_port = f->lport;
	q.names = f->names;
	q.nnames = f->nnames;
	q.exe = f->exe;
	q.uid = f->uid;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	b.cands = cands;
	b.cands_cap = sizeof(cands) / sizeof(cands[0]);
	rules_match(rs, &q, SP_VERDICT_ALLOW, &a);
	rules_match(rs, &q, SP_VERDICT_ALLOW, &b);
	CHECK(a.rule == b.rule && a.verdict == b.verdict);
	CHECK(b.ncands == 0 || cands[0].rule == b.rule);
	idx = rs->idx;
	rs->idx = NULL;
	memset(&b, 0, sizeof(b));
	rules_match(rs, &q, SP_VERDICT_ALLOW, &b);
	rs->idx = idx;
	CHECK(a.rule == b.rule && a.verdict == b.verdict);
	CHECK(rules_key_cmp(&a.key, &b.key) == 0);
}

/* The printed form parses back to a rule that prints the same. */
static void
round_trip(const struct rules_rule *r)
{
	struct ruleset *rs2 = rules_new();
	struct rules_diags d;
	size_t n = rules_format(NULL, 0, r);
	char *text = malloc(n + 1), *again = malloc(n + 1);

	CHECK(rs2 != NULL && text != NULL && again != NULL);
	memset(&d, 0, sizeof(d));
	CHECK(rules_format(text, n + 1, r) == n);
	CHECK(strlen(text) == n);
	if (rules_load_buffer(rs2, "fuzz.rules", text, n, &d) != 0 ||
	    d.errors != 0) {
		fprintf(stderr, "printed: %s\n", text);
		rules_diags_print(stderr, &d);
		abort();
	}
	CHECK(rules_count(rs2) == 1);
	CHECK(rules_format(again, n + 1, rules_get(rs2, 0)) == n);
	CHECK(memcmp(text, again, n) == 0);
	rules_diags_free(&d);
	rules_free(rs2);
	free(text);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;
	size_t i;
	int rc;

	CHECK(rs != NULL);
	memset(&d, 0, sizeof(d));
	rc = rules_load_buffer(rs, "fuzz.rules", (const char *)data, size, &d);
	CHECK((rc == 0) == (d.errors == 0));
	CHECK(rc == 0 || rules_count(rs) == 0);
	if (rc == 0) {
		rules_check_essential(rs, &d);
		CHECK(rules_compile(rs, &d) == 0);
		for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
			match_both(rs, &queries[i]);
		for (i = 0; i < rules_count(rs); i++)
			round_trip(rules_get(rs, (uint32_t)i));
	}
	rules_diags_free(&d);
	rules_free(rs);
	return 0;
}

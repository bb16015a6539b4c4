/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness of the pfctl -vvsr reader (pfconf/pfread.c): what it
 * takes prints canonically and reads back the same. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/pfread.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* pc printed canonically (labels: the sums), in a malloc'd string. */
static char *
print(const struct pf_counters *pc, bool labels, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	CHECK(f != NULL);
	CHECK((labels ? pf_counters_print_labels(pc, f)
	              : pf_counters_print(pc, f)) == 0);
	CHECK(fclose(f) == 0);
	return buf;
}

/* What pfread.h promises of every rule it took. */
static void
check_rules(const struct pf_counters *pc)
{
	struct pf_label_counters s;
	size_t i, k;
	unsigned m;

	CHECK(pc->n <= PF_RULES_MAX && pc->n <= pc->cap);
	for (i = 0; i < pc->n; i++) {
		const struct pf_rule_counters *r = &pc->v[i];

		CHECK(r->text != NULL && r->text[0] != '\0' &&
		      r->text[0] != ' ');
		CHECK(strlen(r->text) < PF_LINE_MAX);
		for (k = 0; r->text[k] != '\0'; k++)
			CHECK((unsigned char)r->text[k] >= 0x20 &&
			      r->text[k] != 0x7f);
		CHECK(strlen(r->label) < PF_LABEL_MAX);
		CHECK(strchr(r->label, '"') == NULL);
		if (r->label[0] != '\0')
			CHECK(strstr(r->text, r->label) != NULL);
		CHECK(i == 0 || r->nr > pc->v[i - 1].nr);
		CHECK(i == 0 || r->line > pc->v[i - 1].line);
		CHECK(!r->has_creations || r->has_inserted);
		m = pf_counters_label(pc, r->label, &s);
		CHECK(m == s.rules && (m == 0) == (r->label[0] == '\0'));
		CHECK(r->label[0] == '\0' ||
		      (s.rules >= 1 && s.packets >= r->packets &&
		       s.bytes >= r->bytes));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_counters pc = {0}, again = {0};
	char err[256], *out, *out2, *labels;
	size_t len, len2, llen, i;
	uint8_t *buf;
	int rc;

	/* Exactly sized, so ASan sees a read one byte past the end. */
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	rc = pf_counters_parse((const char *)buf, size, &pc, err, sizeof(err));
	if (rc == -ENOMEM)
		goto out;
	if (rc != 0) {
		CHECK(rc == -EINVAL);
		CHECK(strncmp(err, "line ", 5) == 0);
		/* What came before the bad line is whole. */
		check_rules(&pc);
		goto out;
	}
	check_rules(&pc);
	/* Round trip: the canonical form reads back to the same rules and
	 * prints the same. */
	out = print(&pc, false, &len);
	rc = pf_counters_parse(out, len, &again, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "canonical form refused: %s\n%s", err, out);
		abort();
	}
	CHECK(again.n == pc.n);
	for (i = 0; i < pc.n; i++) {
		const struct pf_rule_counters *a = &pc.v[i], *b = &again.v[i];

		CHECK(a->nr == b->nr && strcmp(a->text, b->text) == 0);
		CHECK(strcmp(a->label, b->label) == 0);
		CHECK(a->evaluations == b->evaluations &&
		      a->packets == b->packets && a->bytes == b->bytes &&
		      a->states == b->states);
		CHECK(a->has_inserted == b->has_inserted &&
		      a->has_creations == b->has_creations);
		CHECK(!a->has_inserted ||
		      (a->uid == b->uid && a->pid == b->pid));
		CHECK(!a->has_creations || a->creations == b->creations);
	}
	out2 = print(&again, false, &len2);
	CHECK(len2 == len && memcmp(out, out2, len) == 0);
	labels = print(&pc, true, &llen);
	free(labels);
	free(out2);
	free(out);
out:
	pf_counters_free(&again);
	pf_counters_free(&pc);
	free(buf);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness of the importers: blocklists, lsrules and OpenSnitch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spackle/import.h"
#include "spackle/rules.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rule text must load with no error and no warning; its rule count. */
static size_t
load_clean(const char *text, size_t len)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;
	size_t n;

	CHECK(rs != NULL);
	memset(&d, 0, sizeof(d));
	if (rules_load_buffer(rs, "fuzz.rules", text, len, &d) != 0 ||
	    d.errors != 0 || d.warnings != 0) {
		fprintf(stderr, "printed:\n%.*s", (int)len, text);
		rules_diags_print(stderr, &d);
		abort();
	}
	n = rules_count(rs);
	rules_diags_free(&d);
	rules_free(rs);
	return n;
}

/* Lines of text that are not comments: the rules printed. */
static size_t
rule_lines(const char *text, size_t len)
{
	size_t i, n = 0;
	bool bol = true;

	for (i = 0; i < len; i++) {
		if (bol && text[i] != '#')
			n++;
		bol = text[i] == '\n';
	}
	return n;
}

/* Every line and field alone: entries are what the rule parser takes. */
static void
hosts_lines(const uint8_t *data, size_t size)
{
	struct import_hosts_line hl;
	struct sp_view line, rest, field;
	char buf[IMPORT_ENTRY_BUF];
	const uint8_t *p = data, *end = data + size, *eol;
	enum import_entry e;
	size_t len;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		line.p = p;
		line.len = (size_t)(eol - p);
		import_hosts_line(line, &hl);
		if (hl.kind == IMPORT_LINE_HOSTS ||
		    hl.kind == IMPORT_LINE_ENTRY ||
		    hl.kind == IMPORT_LINE_ADBLOCK) {
			CHECK(hl.fields.p >= line.p &&
			      hl.fields.p + hl.fields.len <= line.p + line.len);
			rest = hl.fields;
			while (import_field_next(&rest, &field)) {
				e = import_hosts_entry(field, true, buf, &len);
				CHECK(len < IMPORT_ENTRY_BUF);
				if (e == IMPORT_ENTRY_NAME ||
				    e == IMPORT_ENTRY_WILDCARD)
					CHECK(rules_name_check(buf, len) ==
					              NULL &&
					      buf[len - 1] != '.');
			}
		}
		p = eol + 1;
	}
}

static char list_file[64];

static void
list_remove(void)
{
	unlink(list_file);
}

/* One scratch file for the lists, removed when the fuzzer exits. */
static const char *
list_path(void)
{
	int fd;

	if (list_file[0] != '\0')
		return list_file;
	snprintf(list_file, sizeof(list_file), "/tmp/fuzz_import.XXXXXX");
	fd = mkstemp(list_file);
	CHECK(fd >= 0);
	close(fd);
	atexit(list_remove);
	return list_file;
}

/* The whole blocklist: the list written must load, each entry once. */
static void
hosts_whole(const uint8_t *data, size_t size)
{
	struct import_hosts_stats st;
	char *list = NULL, *rule = NULL;
	size_t llen = 0;
	FILE *f = open_memstream(&list, &llen), *err = fopen("/dev/null", "w");
	struct ruleset *rs;
	struct rules_diags d;
	int rc;

	CHECK(f != NULL && err != NULL);
	rc = import_hosts_buffer("fuzz.hosts", (const char *)data, size, f, &st,
	                         err);
	CHECK(fclose(f) == 0);
	fclose(err);
	CHECK(rc == IMPORT_OK || rc == IMPORT_BAD_INPUT);
	if (rc == IMPORT_OK) {
		f = fopen(list_path(), "w");
		CHECK(f != NULL);
		CHECK(fwrite(list, 1, llen, f) == llen);
		CHECK(fclose(f) == 0);
		CHECK(asprintf(&rule, "deny out to list \"%s\"\n",
		               list_path()) > 0);
		rs = rules_new();
		CHECK(rs != NULL);
		memset(&d, 0, sizeof(d));
		if (rules_load_buffer(rs, "fuzz.rules", rule, strlen(rule),
		                      &d) != 0 ||
		    d.errors != 0) {
			rules_diags_print(stderr, &d);
			abort();
		}
		CHECK(rules_list_entries(rs) == st.names + st.addrs);
		rules_diags_free(&d);
		rules_free(rs);
		free(rule);
	}
	free(list);
}

/* lsrules or OpenSnitch JSON: whatever is printed loads cleanly. */
static void
json_import(const uint8_t *data, size_t size, bool ls)
{
	char *out = NULL;
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen), *err = fopen("/dev/null", "w");
	int rc;

	CHECK(f != NULL && err != NULL);
	if (ls)
		rc = import_lsrules_buffer("fuzz.lsrules", (const char *)data,
		                           size, f, err);
	else
		rc = import_opensnitch_buffer("fuzz.json", (const char *)data,
		                              size, f, err);
	CHECK(fclose(f) == 0);
	fclose(err);
	CHECK(rc == IMPORT_OK || rc == IMPORT_BAD_INPUT);
	CHECK(load_clean(out, olen) == rule_lines(out, olen));
	free(out);
}

/*
 * The first byte picks the importer ('h' blocklist, 'l' lsrules, 'o'
 * OpenSnitch, or by its value modulo 3), the rest is the input.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode;

	if (size == 0)
		return 0;
	mode = data[0] == 'h'   ? 0
	       : data[0] == 'l' ? 1
	       : data[0] == 'o' ? 2
	                        : data[0] % 3;
	data++;
	size--;
	switch (mode) {
	case 0:
		hosts_lines(data, size);
		hosts_whole(data, size);
		break;
	case 1:
		json_import(data, size, true);
		break;
	default:
		json_import(data, size, false);
		break;
	}
	return 0;
}

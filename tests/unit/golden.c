/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Golden files for the unit tests (golden.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"

void
golden_path(char *path, size_t len, const char *dir, const char *name)
{
	const char *src = getenv("SPACKLE_SOURCE");

	if (src == NULL || *src == '\0')
		fail_msg("SPACKLE_SOURCE is not set (ctest sets it; by hand: "
		         "SPACKLE_SOURCE=/path/to/spackle ./test_...)");
	snprintf(path, len, "%s/tests/golden/%s/%s", src, dir, name);
}

char *
golden_read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

char *
golden_load(const char *dir, const char *name, size_t *lenp)
{
	char path[4096], *s;

	golden_path(path, sizeof(path), dir, name);
	if ((s = golden_read_file(path, lenp)) == NULL)
		fail_msg("%s: cannot read: %s", path, strerror(errno));
	return s;
}

void
golden_check(const char *dir, const char *name, const char *got)
{
	const char *upd = getenv("SPACKLE_UPDATE_GOLDEN");
	char path[4096], *want;
	size_t line = 1, i;
	FILE *f;

	golden_path(path, sizeof(path), dir, name);
	if (upd != NULL && strcmp(upd, "1") == 0) {
		if ((f = fopen(path, "w")) == NULL)
			fail_msg("%s: cannot write: %s", path, strerror(errno));
		fputs(got, f);
		assert_int_equal(fclose(f), 0);
		return;
	}
	if ((want = golden_read_file(path, NULL)) == NULL)
		fail_msg("%s: cannot read (%s); SPACKLE_UPDATE_GOLDEN=1 writes "
		         "it",
		         path, strerror(errno));
	for (i = 0; want[i] != '\0' && want[i] == got[i]; i++)
		if (want[i] == '\n')
			line++;
	if (want[i] != got[i]) {
		print_error("%s differs at line %zu:\n--- got\n%s--- want\n%s",
		            path, line, got, want);
		free(want);
		fail();
	}
	free(want);
}

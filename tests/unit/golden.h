/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Golden files for the unit tests: tests/golden/DIR/NAME, found through
 * SPACKLE_SOURCE (ctest sets it). */
#ifndef SPACKLE_TEST_GOLDEN_H
#define SPACKLE_TEST_GOLDEN_H

#include <stddef.h>

/* The path of tests/golden/dir/name into path (len bytes); fails the test
 * when SPACKLE_SOURCE is not set. */
void golden_path(char *path, size_t len, const char *dir, const char *name);

/* A whole file, NUL-terminated (malloc'd), its length into *lenp when not
 * NULL; NULL when it cannot be opened. */
char *golden_read_file(const char *path, size_t *lenp);

/* tests/golden/dir/name whole; fails the test when it cannot be read. */
char *golden_load(const char *dir, const char *name, size_t *lenp);

/*
 * got must equal tests/golden/dir/name: else the test fails, saying at
 * which line they part and showing both. With SPACKLE_UPDATE_GOLDEN=1 the
 * file is rewritten with got instead.
 */
void golden_check(const char *dir, const char *name, const char *got);

#endif

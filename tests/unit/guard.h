/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test inputs placed flush against a PROT_NONE page (as picohttpparser does).
 */
#ifndef SPACKLE_TEST_GUARD_H
#define SPACKLE_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>

/*
 * Copy len bytes so that the last one is followed at once by an inaccessible
 * page: a read one byte past the end crashes instead of passing by luck.
 * Free with guard_free(). Aborts when memory cannot be had.
 */
uint8_t *guard_copy(const void *p, size_t len);
void guard_free(uint8_t *p);

#endif

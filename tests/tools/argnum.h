/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A command-line number for the test tools (nettool, abuse). */
#ifndef SPACKLE_ARGNUM_H
#define SPACKLE_ARGNUM_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* s as a decimal number of at most max: digits only, no sign or space. */
static inline bool
argnum_uint(const char *s, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

#endif

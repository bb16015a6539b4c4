/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text cut and padded to a terminal's columns, for the commands' tables
 * (conns, log): a UTF-8 character is one column, an ellipsis marks a cut. */
#include <stdio.h>
#include <string.h>

#include "spackle/spackle.h"

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, one column */

static bool
cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

size_t
sp_text_cols(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += !cont((unsigned char)*s);
	return n;
}

/* Where the text of the first `cols` columns of s ends. */
static size_t
cols_bytes(const char *s, size_t cols)
{
	size_t i = 0;

	while (s[i] != '\0' && cols > 0) {
		i++;
		while (cont((unsigned char)s[i]))
			i++;
		cols--;
	}
	return i;
}

char *
sp_fit(char *buf, size_t len, const char *s, unsigned width, bool tail)
{
	size_t n = sp_text_cols(s), head, keep, hb, tb;

	if (len == 0)
		return buf;
	if (n <= width || width < 2) {
		snprintf(buf, len, "%s", n <= width ? s : "");
		return buf;
	}
	keep = width - 1; /* the ellipsis takes one */
	head = tail ? 0 : keep / 2;
	hb = cols_bytes(s, head);
	tb = cols_bytes(s, n - (keep - head)); /* where the kept end starts */
	snprintf(buf, len, "%.*s" ELLIPSIS "%s", (int)hb, s, s + tb);
	return buf;
}

void
sp_put(FILE *f, const char *s, unsigned width)
{
	size_t n = sp_text_cols(s);

	fputs(s, f);
	for (; n < width; n++)
		fputc(' ', f);
}

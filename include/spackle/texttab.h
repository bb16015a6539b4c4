/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text tables for the terminal views (`conns`, `log`, `status`): columns
 * sized from the rows shown, capped, and fitted to a width by shortening
 * values where they lose the least (src/texttab.c). */
#ifndef SPACKLE_TEXTTAB_H
#define SPACKLE_TEXTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TEXTTAB_WIDTH  100 /* what every line of the views fits in */
#define TEXTTAB_WIDE   0   /* a width of 0: no limit, nothing cut */
#define TEXTTAB_MAXCOL 16
#define TEXTTAB_BATCH  1000 /* rows whose widths set the columns' */

/* How a value too long for its column is shortened; the marker is "…"
 * in a UTF-8 locale, else "...". */
enum texttab_cut {
	TEXTTAB_CUT_NONE = 0, /* never (fixed-width values: verdicts) */
	TEXTTAB_CUT_END,      /* text: its start kept */
	TEXTTAB_CUT_PATH,     /* paths and FILE:LINE: leading directories
	                         dropped (…/rules.d/50-web.rules:12, then
	                         50-web.rules:12), then the middle of the name */
	TEXTTAB_CUT_ADDR,     /* ADDR:PORT, [ADDR]:PORT: the address's middle,
	                         the port whole; NAME:PORT: the name's start */
};

struct texttab_col {
	const char *head;
	enum texttab_cut cut;
	unsigned min, max; /* width bounds in columns; max 0: no cap */
	bool right;        /* right-aligned (numbers) */
};

/* A cell: text, and a tail that is never cut (" [live]"); tail may be
 * NULL. Control characters in either are shown as '?'. */
struct texttab_cell {
	const char *text, *tail;
};

struct texttab {
	const struct texttab_col *col;
	size_t ncol;
	unsigned width; /* TEXTTAB_WIDE: every value whole */
	FILE *out;
	char **buf; /* buffered rows: text and tail of each cell */
	size_t nrow, cap;
	unsigned w[TEXTTAB_MAXCOL];
	bool fixed;  /* the widths are set and the header printed */
	bool failed; /* out of memory */
};

/* A table of ncol (<= TEXTTAB_MAXCOL) columns printed to out, each line
 * at most width columns (TEXTTAB_WIDE: no limit). */
void texttab_init(struct texttab *t, const struct texttab_col *col, size_t ncol,
                  unsigned width, FILE *out);
/*
 * A row of ncol cells. The first TEXTTAB_BATCH rows are kept; then (or at
 * texttab_end) the columns are sized from them: each as wide as its widest
 * value or header, at most its max; while the line is too wide, the column
 * with the most room above its min gives a column. Later rows are printed
 * at once in those widths. 0, or -1 when out of memory.
 */
int texttab_row(struct texttab *t, const struct texttab_cell *cells);
/* Print what is kept (with the header: even with no rows); 0 or -1. */
int texttab_end(struct texttab *t);
void texttab_free(struct texttab *t);

/* The columns s takes on a terminal (UTF-8: a column per character). */
unsigned texttab_width(const char *s);
/* s shortened by cut to at most w columns, into buf (len bytes, at least
 * 4 * w + 1); control characters as '?'. Returns buf. */
char *texttab_fit(const char *s, enum texttab_cut cut, unsigned w, char *buf,
                  size_t len);
/* The marker of a shortened value: "…" in a UTF-8 locale (LC_ALL, then
 * LC_CTYPE, then LANG), else "...". */
const char *texttab_ellipsis(void);

/* v with thousands separators: 1,234,567. Returns buf (>= 27 bytes). */
char *texttab_count(uint64_t v, char *buf, size_t len);
/* A byte count in three or four characters, as ls -h: 999, 1.2K, 340K,
 * 12M, 1.0G. Returns buf (>= 8 bytes). */
char *texttab_size(uint64_t v, char *buf, size_t len);
/* ADDR:PORT, or [ADDR]:PORT for an IPv6 address. Returns buf. */
char *texttab_endpoint(const char *addr, unsigned port, char *buf, size_t len);

#endif

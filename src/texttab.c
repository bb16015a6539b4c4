/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text tables for the terminal views: columns sized from the rows shown,
 * values shortened where they lose the least, every line within a width. */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/texttab.h"

#define FIT_MAX 256 /* the widest column a value is cut to */

static bool
cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

unsigned
texttab_width(const char *s)
{
	unsigned n = 0;

	for (; *s != '\0'; s++)
		if (!cont((unsigned char)*s))
			n++;
	return n;
}

/* The bytes of s's first n characters. */
static size_t
head_bytes(const char *s, unsigned n)
{
	size_t i = 0;

	while (s[i] != '\0') {
		if (!cont((unsigned char)s[i]) && n-- == 0)
			break;
		i++;
	}
	return i;
}

/* Where s's last n characters begin. */
static const char *
tail_start(const char *s, unsigned n)
{
	unsigned w = texttab_width(s);

	return n >= w ? s : s + head_bytes(s, w - n);
}

const char *
texttab_ellipsis(void)
{
	static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
	const char *v = NULL;
	size_t i;
	char low[64];

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if ((v = getenv(vars[i])) != NULL && v[0] != '\0')
			break;
	if (v == NULL || v[0] == '\0')
		return "...";
	for (i = 0; v[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)v[i]);
	low[i] = '\0';
	return strstr(low, "utf-8") || strstr(low, "utf8") ? "\u2026" : "...";
}

/* The bytes of the UTF-8 character at s (at most n bytes), or 0 when it
 * is not one: a stray or missing continuation, an overlong form, a
 * surrogate, past U+10FFFF. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	k = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < k)
		return 0;
	for (i = 1; i < k; i++)
		if (!cont(s[i]))
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return k;
}

/* Append n bytes of s to buf (len bytes, *pos used), what a terminal
 * could take for a command (control characters, C1, bytes that are not
 * UTF-8) as '?'; always NUL-terminated. */
static void
put(char *buf, size_t len, size_t *pos, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n && u[i] != '\0' && *pos + 1 < len) {
		if (u[i] >= 0x20 && u[i] < 0x7f) {
			buf[(*pos)++] = (char)u[i++];
			continue;
		}
		k = u[i] < 0x80 ? 0 : utf8_len(u + i, n - i);
		/* A C1 control (U+0080-U+009F): a terminal may obey it. */
		if (k == 0 || *pos + k >= len ||
		    (u[i] == 0xc2 && u[i + 1] < 0xa0)) {
			buf[(*pos)++] = '?';
			i += k > 0 ? k : 1;
			continue;
		}
		memcpy(buf + *pos, u + i, k);
		*pos += k;
		i += k;
	}
	buf[*pos] = '\0';
}

/* head characters of s, the marker, tail characters of s's end. */
static char *
cut3(const char *s, unsigned head, unsigned tail, char *buf, size_t len)
{
	const char *m = texttab_ellipsis();
	size_t pos = 0;

	put(buf, len, &pos, s, head_bytes(s, head));
	put(buf, len, &pos, m, strlen(m));
	if (tail > 0)
		put(buf, len, &pos, tail_start(s, tail), SIZE_MAX);
	return buf;
}

static char *
fit_middle(const char *s, unsigned w, unsigned mw, char *buf, size_t len)
{
	unsigned room = w - mw;

	/* The end carries the most: a path's :LINE, a name's extension. */
	return cut3(s, room / 2, room - room / 2, buf, len);
}

static char *
fit_path(const char *s, unsigned w, unsigned mw, char *buf, size_t len)
{
	const char *m = texttab_ellipsis(), *p, *base;
	size_t pos = 0;

	/* …/rules.d/50-web.rules:12, then …/50-web.rules:12 */
	for (p = strchr(s + 1, '/'); p != NULL; p = strchr(p + 1, '/'))
		if (mw + texttab_width(p) <= w) {
			put(buf, len, &pos, m, strlen(m));
			put(buf, len, &pos, p, SIZE_MAX);
			return buf;
		}
	base = strrchr(s, '/');
	base = base != NULL && base[1] != '\0' ? base + 1 : s;
	if (texttab_width(base) <= w) {
		put(buf, len, &pos, base, SIZE_MAX);
		return buf;
	}
	return fit_middle(base, w, mw, buf, len);
}

static char *
fit_addr(const char *s, unsigned w, unsigned mw, char *buf, size_t len)
{
	const char *m = texttab_ellipsis(), *body = s, *end;
	unsigned room, head;
	size_t pos = 0;

	/* [2001:db8:…:7334]:443: the brackets and the port whole. */
	if (s[0] == '[' && (end = strstr(s, "]:")) != NULL)
		body = s + 1;
	else if ((end = strrchr(s, ':')) == NULL)
		return fit_middle(s, w, mw, buf, len);
	if (w < texttab_width(end) + (unsigned)(body - s) + mw + 2)
		return fit_middle(s, w, mw, buf, len);
	room = w - texttab_width(end) - (unsigned)(body - s) - mw;
	/* A name keeps its end (the domain), an address its two ends. */
	head = strspn(body, "0123456789abcdefABCDEF:.") < (size_t)(end - body)
	               ? 0
	               : (room + 1) / 2;
	put(buf, len, &pos, s, (size_t)(body - s) + head_bytes(body, head));
	put(buf, len, &pos, m, strlen(m));
	{
		/* The body's last room - head characters before end. */
		size_t bl = (size_t)(end - body);
		char tmp[FIT_MAX * 4 + 1];
		size_t tp = 0;

		put(tmp, sizeof(tmp), &tp, body, bl);
		put(buf, len, &pos, tail_start(tmp, room - head), SIZE_MAX);
	}
	put(buf, len, &pos, end, SIZE_MAX);
	return buf;
}

char *
texttab_fit(const char *s, enum texttab_cut cut, unsigned w, char *buf,
            size_t len)
{
	unsigned mw = texttab_width(texttab_ellipsis());
	size_t pos = 0;

	buf[0] = '\0';
	if (w > FIT_MAX)
		w = FIT_MAX;
	if (texttab_width(s) <= w || cut == TEXTTAB_CUT_NONE) {
		put(buf, len, &pos, s, SIZE_MAX);
		return buf;
	}
	if (w <= mw) {
		put(buf, len, &pos, s, head_bytes(s, w));
		return buf;
	}
	switch (cut) {
	case TEXTTAB_CUT_PATH:
		return fit_path(s, w, mw, buf, len);
	case TEXTTAB_CUT_ADDR:
		return fit_addr(s, w, mw, buf, len);
	case TEXTTAB_CUT_END:
	case TEXTTAB_CUT_NONE:
		break;
	}
	return cut3(s, w - mw, 0, buf, len);
}

char *
texttab_count(uint64_t v, char *buf, size_t len)
{
	char d[24];
	size_t n, i, pos = 0;

	n = (size_t)snprintf(d, sizeof(d), "%" PRIu64, v);
	for (i = 0; i < n && pos + 1 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0 && pos + 2 < len)
			buf[pos++] = ',';
		buf[pos++] = d[i];
	}
	buf[pos] = '\0';
	return buf;
}

char *
texttab_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double x = (double)v;
	size_t u = 0;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64, v);
		return buf;
	}
	x /= 1024;
	while (x >= 1023.5 && u + 1 < sizeof(units) - 1) {
		x /= 1024;
		u++;
	}
	if (x < 9.95)
		snprintf(buf, len, "%.1f%c", x, units[u]);
	else
		snprintf(buf, len, "%.0f%c", x, units[u]);
	return buf;
}

char *
texttab_endpoint(const char *addr, unsigned port, char *buf, size_t len)
{
	snprintf(buf, len, strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u",
	         addr, port);
	return buf;
}

/* ---- the table --------------------------------------------------------- */

void
texttab_init(struct texttab *t, const struct texttab_col *col, size_t ncol,
             unsigned width, FILE *out)
{
	memset(t, 0, sizeof(*t));
	t->col = col;
	t->ncol = ncol < TEXTTAB_MAXCOL ? ncol : TEXTTAB_MAXCOL;
	t->width = width;
	t->out = out;
}

static char *
dup_clean(const char *s)
{
	size_t n = strlen(s) + 1, pos = 0;
	char *d = malloc(n);

	if (d != NULL)
		put(d, n, &pos, s, SIZE_MAX);
	return d;
}

static unsigned
cell_width(char *const *c)
{
	return texttab_width(c[0]) + (c[1] != NULL ? texttab_width(c[1]) : 0);
}

/* The width c takes with its directories cut (…/name), for a path. */
static unsigned
cell_soft(char *const *c, enum texttab_cut cut)
{
	const char *base = strrchr(c[0], '/');
	unsigned w = cell_width(c);

	if (cut != TEXTTAB_CUT_PATH || base == NULL || base == c[0])
		return w;
	w = texttab_width(texttab_ellipsis()) + texttab_width(base) +
	    (c[1] != NULL ? texttab_width(c[1]) : 0);
	return w < cell_width(c) ? w : cell_width(c);
}

/* The column with the most room above its bound; ncol when none. */
static size_t
roomiest(const struct texttab *t, const unsigned *bound)
{
	size_t i, best = t->ncol;

	for (i = 0; i < t->ncol; i++) {
		if (t->col[i].cut == TEXTTAB_CUT_NONE || t->w[i] <= bound[i])
			continue;
		if (best == t->ncol ||
		    t->w[i] - bound[i] > t->w[best] - bound[best])
			best = i;
	}
	return best;
}

/*
 * Set the widths from the kept rows: as wide as the widest value, capped.
 * While the line is too wide, paths lose their directories first (the
 * column with the most to lose gives a column), then every cut column
 * gives, the roomiest first, down to its min.
 */
static void
texttab_size_cols(struct texttab *t)
{
	unsigned floor[TEXTTAB_MAXCOL], soft[TEXTTAB_MAXCOL], total = 0, hw;
	size_t i, r, best;

	for (i = 0; i < t->ncol; i++) {
		const struct texttab_col *c = &t->col[i];

		hw = texttab_width(c->head);
		t->w[i] = soft[i] = hw;
		for (r = 0; r < t->nrow; r++) {
			char *const *cell = &t->buf[(r * t->ncol + i) * 2];
			unsigned cw = cell_width(cell), sw;

			sw = cell_soft(cell, c->cut);
			if (cw > t->w[i])
				t->w[i] = cw;
			if (sw > soft[i])
				soft[i] = sw;
		}
		if (t->width != TEXTTAB_WIDE && c->max > 0 && t->w[i] > c->max)
			t->w[i] = c->max > hw ? c->max : hw;
		floor[i] = c->min > hw ? c->min : hw;
		if (floor[i] > t->w[i])
			floor[i] = t->w[i];
		if (soft[i] < floor[i])
			soft[i] = floor[i];
		total += t->w[i] + (i > 0 ? 1 : 0);
	}
	if (t->width == TEXTTAB_WIDE)
		return;
	while (total > t->width) {
		if ((best = roomiest(t, soft)) == t->ncol &&
		    (best = roomiest(t, floor)) == t->ncol)
			break;
		t->w[best]--;
		total--;
	}
}

/* Print n columns of s, pending spaces first; the pending count after. */
static void
emit(struct texttab *t, unsigned *pend, const char *s)
{
	if (s[0] == '\0')
		return;
	fprintf(t->out, "%*s%s", (int)*pend, "", s);
	*pend = 0;
}

static void
texttab_print(struct texttab *t, char *const *cells, bool head)
{
	char fb[FIT_MAX * 4 + 16];
	unsigned pend = 0, used, w;
	size_t i;

	for (i = 0; i < t->ncol; i++) {
		const struct texttab_col *c = &t->col[i];
		const char *text = head ? c->head : cells[2 * i];
		const char *tail = head ? NULL : cells[2 * i + 1];
		unsigned tw = tail != NULL ? texttab_width(tail) : 0;

		if (i > 0)
			pend++;
		w = t->w[i];
		used = texttab_width(text) + tw;
		if (t->width != TEXTTAB_WIDE && used > w) {
			if (tw + 4 > w) {
				/* No room for the tail: the two as one. */
				char both[FIT_MAX * 4 + 16];

				snprintf(both, sizeof(both), "%s%s", text,
				         tail);
				texttab_fit(both, TEXTTAB_CUT_END, w, fb,
				            sizeof(fb));
				tail = NULL;
			} else {
				texttab_fit(text, c->cut, w - tw, fb,
				            sizeof(fb));
			}
			text = fb;
			used = texttab_width(text) +
			       (tail != NULL ? texttab_width(tail) : 0);
		}
		if (c->right)
			pend += w > used ? w - used : 0;
		emit(t, &pend, text);
		if (tail != NULL)
			emit(t, &pend, tail);
		if (!c->right)
			pend += w > used ? w - used : 0;
	}
	fputc('\n', t->out);
}

static void
texttab_fix(struct texttab *t)
{
	size_t r, i;

	if (t->fixed)
		return;
	texttab_size_cols(t);
	texttab_print(t, NULL, true);
	for (r = 0; r < t->nrow; r++)
		texttab_print(t, &t->buf[r * t->ncol * 2], false);
	for (i = 0; i < t->nrow * t->ncol * 2; i++)
		free(t->buf[i]);
	free(t->buf);
	t->buf = NULL;
	t->nrow = t->cap = 0;
	t->fixed = true;
}

int
texttab_row(struct texttab *t, const struct texttab_cell *cells)
{
	char *row[TEXTTAB_MAXCOL * 2], **nb;
	size_t i;

	if (t->failed)
		return -1;
	memset(row, 0, sizeof(row));
	for (i = 0; i < t->ncol; i++) {
		row[2 * i] =
		        dup_clean(cells[i].text != NULL ? cells[i].text : "");
		if (cells[i].tail != NULL)
			row[2 * i + 1] = dup_clean(cells[i].tail);
		if (row[2 * i] == NULL ||
		    (cells[i].tail != NULL && row[2 * i + 1] == NULL))
			goto oom;
	}
	if (t->fixed) {
		texttab_print(t, row, false);
		for (i = 0; i < 2 * t->ncol; i++)
			free(row[i]);
		return 0;
	}
	if (t->nrow == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		if ((nb = realloc(t->buf, cap * t->ncol * 2 * sizeof(*nb))) ==
		    NULL)
			goto oom;
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(&t->buf[t->nrow * t->ncol * 2], row, t->ncol * 2 * sizeof(*row));
	if (++t->nrow >= TEXTTAB_BATCH)
		texttab_fix(t);
	return 0;
oom:
	for (i = 0; i < 2 * t->ncol; i++)
		free(row[i]);
	t->failed = true;
	return -1;
}

int
texttab_end(struct texttab *t)
{
	if (t->failed)
		return -1;
	texttab_fix(t);
	return 0;
}

void
texttab_free(struct texttab *t)
{
	size_t i;

	for (i = 0; i < t->nrow * t->ncol * 2; i++)
		free(t->buf[i]);
	free(t->buf);
	t->buf = NULL;
	t->nrow = t->cap = 0;
}

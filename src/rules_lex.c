/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rule language's lexer: a logical line into tokens, and what a name is. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define STRING_MAX 4096 /* longest quoted string */
#define WORD_MAX   1024 /* longest bare word */

static bool
is_word_char(int c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("{},\"#\\", c) == NULL;
}

/*
 * Is s[0..len) a DNS name we can match? NULL when it is, else why not. A
 * final dot is allowed (the caller drops it); labels are 1-63 letters,
 * digits, '-' or '_'; 253 characters at most.
 */
const char *
rules_name_check(const char *s, size_t len)
{
	size_t i, label = 0;
	bool numeric = true;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return "a name cannot be empty";
	if (len > SP_NAME_MAX)
		return "a name has at most 253 characters";
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return "it has an empty label (two dots, or a "
				       "leading dot)";
			label = 0;
			continue;
		}
		if (c == '*')
			return "use domain NAME, which covers every name "
			       "under NAME";
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return "a name has only letters, digits, '-', '_' "
			       "and dots";
		if (!(c >= '0' && c <= '9'))
			numeric = false;
		if (++label > 63)
			return "a label has at most 63 characters";
	}
	if (label == 0)
		return "it has an empty label (two dots, or a leading dot)";
	if (numeric)
		return "it is an address";
	return NULL;
}

bool
rules_looks_numeric(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == ':' || s[i] == '/')
			return true;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			return false;
	return len > 0;
}

static void
lex_newline(struct rules_lexer *lx)
{
	lx->p++; /* the '\n' */
	lx->line++;
	lx->bol = lx->p;
}

static unsigned
lex_col(const struct rules_lexer *lx, const char *p)
{
	return (unsigned)(p - lx->bol) + 1;
}

/* Skip the rest of a logical line after an error, continuations too. */
static void
lex_skip(struct rules_lexer *lx)
{
	const char *q;
	bool cont;

	while (lx->p < lx->end) {
		if (*lx->p != '\n') {
			lx->p++;
			continue;
		}
		q = lx->p;
		while (q > lx->bol && rules_is_blank(q[-1]))
			q--;
		cont = q > lx->bol && q[-1] == '\\';
		lex_newline(lx);
		if (!cont)
			return;
	}
}

static bool
toks_push(struct rules_toks *t, enum rules_tok_kind kind, unsigned line,
          unsigned col, unsigned ecol, char *s)
{
	struct rules_tok *v;
	size_t cap;

	if (t->n == t->cap) {
		cap = t->cap ? t->cap * 2 : 16;
		if ((v = realloc(t->v, cap * sizeof(*v))) == NULL) {
			free(s);
			t->oom = true;
			return false;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n].kind = kind;
	t->v[t->n].line = line;
	t->v[t->n].col = col;
	t->v[t->n].ecol = ecol;
	t->v[t->n].s = s;
	t->n++;
	return true;
}

void
rules_toks_clear(struct rules_toks *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].s);
	t->n = 0;
	t->oom = false;
}

/* End the line's tokens with an error token at p; skip the line's rest. */
static void lex_error(struct rules_lexer *lx, struct rules_toks *t,
                      const char *p, bool skip, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static void
lex_error(struct rules_lexer *lx, struct rules_toks *t, const char *p,
          bool skip, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	unsigned col = lex_col(lx, p);

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg != NULL)
		toks_push(t, RULES_TOK_ERROR, lx->line, col, col, msg);
	else
		t->oom = true;
	if (skip) {
		lex_skip(lx);
	} else {
		while (lx->p < lx->end && *lx->p != '\n')
			lx->p++;
		if (lx->p < lx->end)
			lex_newline(lx);
	}
}

/* A quoted string; lx->p is on the opening quote. */
static bool
lex_string(struct rules_lexer *lx, struct rules_toks *t)
{
	const char *start = lx->p;
	unsigned col = lex_col(lx, start);
	char *buf;
	size_t n = 0;
	unsigned char c;

	if ((buf = malloc(STRING_MAX + 1)) == NULL) {
		t->oom = true;
		lex_skip(lx);
		return false;
	}
	lx->p++;
	for (;;) {
		if (lx->p == lx->end || *lx->p == '\n') {
			free(buf);
			lx->p = start;
			lex_error(lx, t, start, false,
			          "unterminated string: a string ends with "
			          "\" on its own line");
			return false;
		}
		c = (unsigned char)*lx->p;
		if (c == '"') {
			lx->p++;
			break;
		}
		if (c == '\\') {
			if (lx->p + 1 < lx->end &&
			    (lx->p[1] == '"' || lx->p[1] == '\\')) {
				c = (unsigned char)lx->p[1];
				lx->p++;
			} else {
				free(buf);
				lex_error(lx, t, lx->p, false,
				          "unknown escape in string: only \\\" "
				          "and \\\\ are escapes");
				return false;
			}
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			free(buf);
			lex_error(lx, t, lx->p, false,
			          "control character 0x%02x in string", c);
			return false;
		}
		if (n == STRING_MAX) {
			free(buf);
			lex_error(lx, t, start, false,
			          "string longer than %d bytes", STRING_MAX);
			return false;
		}
		buf[n++] = (char)c;
		lx->p++;
	}
	buf[n] = '\0';
	return toks_push(t, RULES_TOK_STRING, lx->line, col, lex_col(lx, lx->p),
	                 buf);
}

void
rules_lex_line(struct rules_lexer *lx, struct rules_toks *t)
{
	const char *q, *s;
	unsigned char c;
	char *w;

	while (lx->p < lx->end) {
		c = (unsigned char)*lx->p;
		if (rules_is_blank(c)) {
			lx->p++;
			continue;
		}
		if (c == '\n') {
			lex_newline(lx);
			return;
		}
		if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (c == '\\') {
			q = lx->p + 1;
			while (q < lx->end && rules_is_blank(*q))
				q++;
			if (q == lx->end) {
				lx->p = q;
				return;
			}
			if (*q == '\n') {
				lx->p = q;
				lex_newline(lx);
				continue;
			}
			lex_error(lx, t, lx->p, true,
			          "stray '\\': only the last character of a "
			          "line may be a backslash");
			return;
		}
		if (c == '{' || c == '}' || c == ',') {
			unsigned col = lex_col(lx, lx->p);

			if (!toks_push(t,
			               c == '{'   ? RULES_TOK_LBRACE
			               : c == '}' ? RULES_TOK_RBRACE
			                          : RULES_TOK_COMMA,
			               lx->line, col, col + 1, NULL))
				goto nomem;
			lx->p++;
			continue;
		}
		if (c == '"') {
			if (!lex_string(lx, t))
				return;
			continue;
		}
		if (!is_word_char(c)) {
			lex_error(lx, t, lx->p, true,
			          "unexpected character 0x%02x", c);
			return;
		}
		s = lx->p;
		while (lx->p < lx->end && is_word_char((unsigned char)*lx->p))
			lx->p++;
		if (lx->p - s > WORD_MAX) {
			lex_error(lx, t, s, true, "word longer than %d bytes",
			          WORD_MAX);
			return;
		}
		if ((w = strndup(s, (size_t)(lx->p - s))) == NULL)
			goto nomem;
		if (!toks_push(t, RULES_TOK_WORD, lx->line, lex_col(lx, s),
		               lex_col(lx, lx->p), w))
			goto nomem;
	}
	return;
nomem:
	lex_error(lx, t, lx->p, true, "out of memory");
}

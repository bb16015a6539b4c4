/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rule files and list files (RULES.md): the lexer, the parser, the loaders. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/rules.h"

#define STRING_MAX 4096 /* longest quoted string */
#define WORD_MAX   1024 /* longest bare word */

enum tok_kind {
	TOK_WORD,
	TOK_STRING,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_COMMA,
	TOK_ERROR, /* the lexer failed here; s is the message */
};

struct tok {
	enum tok_kind kind;
	unsigned line, col, ecol; /* ecol: the column just past it */
	char *s;                  /* WORD, STRING, ERROR */
};

struct toks {
	struct tok *v;
	size_t n, cap;
	bool oom; /* a token was lost: the line must not be parsed */
};

struct lexer {
	const char *p, *end;
	const char *bol; /* start of the current physical line */
	unsigned line;
};

struct parser {
	struct ruleset *rs;
	struct rules_diags *d;
	const char *file;
	const char *dir; /* relative list paths are taken from here */
	struct toks *t;
	size_t i;
};

/* Rules of one file, kept apart until the whole file proved good. */
struct rulevec {
	struct rules_rule *v;
	size_t n, cap;
};

/* ---- small helpers ---- */

static bool
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_word_char(int c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("{},\"#\\", c) == NULL;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A decimal number no bigger than max; false on anything else. */
static bool
parse_number(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!all_digits(s))
		return false;
	for (; *s != '\0'; s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

static void
lower(char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
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

/* Looks like an address attempt rather than a name: digits, dots, ':' '/'. */
static bool
looks_numeric(const char *s, size_t len)
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

/*
 * Room for element n of an array that holds n: the capacity doubles at each
 * power of two, so a rule's sets need no capacity field.
 */
static void *
grow(void *v, size_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return v;
	return realloc(v, (n ? n * 2 : 1) * size);
}

/* Does net/plen have bits set past its prefix? */
static bool
host_bits_set(const struct sp_addr *a, unsigned plen)
{
	unsigned bits = sp_cidr_plen128(a, plen), i;

	for (i = bits; i < 128; i++)
		if (a->b[i / 8] & (0x80u >> (i % 8)))
			return true;
	return false;
}

static void
mask_addr(struct sp_addr *a, unsigned plen)
{
	unsigned bits = sp_cidr_plen128(a, plen), i;

	for (i = bits; i < 128; i++)
		a->b[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

/* "dir/path", or path alone when it is absolute or dir is NULL. */
static char *
path_join(const char *dir, const char *path)
{
	char *s;
	size_t n;

	if (dir == NULL || path[0] == '/')
		return strdup(path);
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (asprintf(&s, "%.*s%s%s", (int)n, dir, dir[n - 1] == '/' ? "" : "/",
	             path) < 0)
		return NULL;
	return s;
}

/* The folder of a file name, or NULL when it has no '/'. */
static char *
dir_of(const char *name)
{
	const char *slash = strrchr(name, '/');

	if (slash == NULL)
		return NULL;
	if (slash == name)
		return strdup("/");
	return strndup(name, (size_t)(slash - name));
}

/* ---- lists ---- */

static bool
list_push(struct rules_list *l, size_t *cap, const struct rules_list_entry *e)
{
	struct rules_list_entry *v;
	size_t ncap;

	if (l->n == *cap) {
		ncap = *cap ? *cap * 2 : 1024;
		if ((v = realloc(l->v, ncap * sizeof(*v))) == NULL)
			return false;
		l->v = v;
		*cap = ncap;
	}
	l->v[l->n++] = *e;
	return true;
}

/* One field of a list line, [s, e), at column col. */
static bool
list_name(struct rules_list *l, size_t *cap, char *s, char *e, unsigned line,
          unsigned col, struct rules_diags *d)
{
	struct rules_list_entry ent;
	const char *why;
	size_t len = (size_t)(e - s);

	if ((why = rules_name_check(s, len)) != NULL) {
		rules_diag_add(d, false, l->path, line, col,
		               "'%.*s' is not a name: %s", (int)len, s, why);
		return false;
	}
	if (s[len - 1] == '.')
		len--;
	lower(s, len);
	s[len] = '\0';
	memset(&ent, 0, sizeof(ent));
	ent.kind = RULES_T_DOMAIN;
	ent.name = s;
	return list_push(l, cap, &ent);
}

static bool
list_addr(struct rules_list *l, size_t *cap, char *s, char *e, unsigned line,
          unsigned col, struct rules_diags *d)
{
	struct rules_list_entry ent;
	unsigned plen;
	size_t len = (size_t)(e - s);
	bool nul = memchr(s, '\0', len) != NULL;

	memset(&ent, 0, sizeof(ent));
	*e = '\0';
	if (nul || !sp_cidr_parse(&ent.addr, &plen, s)) {
		rules_diag_add(d, false, l->path, line, col,
		               "bad address or CIDR '%s'", s);
		return false;
	}
	if (host_bits_set(&ent.addr, plen)) {
		rules_diag_add(d, false, l->path, line, col,
		               "%s has bits set past its /%u prefix", s, plen);
		return false;
	}
	ent.plen = (uint8_t)plen;
	ent.kind = memchr(s, '/', len) ? RULES_T_CIDR : RULES_T_ADDR;
	ent.name = s;
	return list_push(l, cap, &ent);
}

bool
rules_hosts_sink(const char *s, size_t len)
{
	static const char *const sinks[] = {"0.0.0.0", "127.0.0.1",
	                                    "::", "::1"};
	size_t i;

	for (i = 0; i < sizeof(sinks) / sizeof(sinks[0]); i++)
		if (strlen(sinks[i]) == len && memcmp(sinks[i], s, len) == 0)
			return true;
	return false;
}

/* Parse one list line [p, end) in place; false after reporting an error. */
static bool
list_line(struct rules_list *l, size_t *cap, char *bol, char *end,
          unsigned line, struct rules_diags *d)
{
	char *s, *e, *p = bol, *hash;
	unsigned col;

	if ((hash = memchr(bol, '#', (size_t)(end - bol))) != NULL)
		end = hash;
	while (p < end && is_blank(*p))
		p++;
	if (p == end)
		return true;
	s = p;
	while (p < end && !is_blank(*p))
		p++;
	e = p;
	col = (unsigned)(s - bol) + 1;
	while (p < end && is_blank(*p))
		p++;

	if (e - s >= 2 && s[0] == '|' && s[1] == '|') {
		if (p != end || e - s < 4 || e[-1] != '^' ||
		    memchr(s + 2, '^', (size_t)(e - s - 3)) != NULL) {
			rules_diag_add(d, false, l->path, line, col,
			               "bad adblock line: only ||name^ is "
			               "understood");
			return false;
		}
		return list_name(l, cap, s + 2, e - 1, line, col + 2, d);
	}
	if (p == end) {
		if (looks_numeric(s, (size_t)(e - s)))
			return list_addr(l, cap, s, e, line, col, d);
		return list_name(l, cap, s, e, line, col, d);
	}
	/* A hosts-file line: a sink address, then one or more names. */
	if (!rules_hosts_sink(s, (size_t)(e - s))) {
		rules_diag_add(d, false, l->path, line, col,
		               "hosts line with address '%.*s': only 0.0.0.0, "
		               "127.0.0.1, :: and ::1 mark a blocked name",
		               (int)(e - s), s);
		return false;
	}
	while (p < end) {
		s = p;
		while (p < end && !is_blank(*p))
			p++;
		e = p;
		col = (unsigned)(s - bol) + 1;
		while (p < end && is_blank(*p))
			p++;
		if (!list_name(l, cap, s, e, line, col, d))
			return false;
	}
	return true;
}

static void
list_parse(struct rules_list *l, size_t len, struct rules_diags *d)
{
	char *p = l->buf, *end = l->buf + len, *eol;
	size_t cap = 0, errs = 0;
	unsigned line = 0;

	while (p < end) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		*eol = '\0';
		if (!list_line(l, &cap, p, eol, line, d) &&
		    ++errs == RULES_ERRORS_MAX) {
			rules_diag_add(d, false, l->path, line, 1,
			               "too many errors: the rest of the list "
			               "is not read");
			break;
		}
		if (l->n >= RULES_ENTRIES_MAX) {
			rules_diag_add(d, false, l->path, line, 1,
			               "a list has at most %u entries",
			               RULES_ENTRIES_MAX);
			errs++;
			break;
		}
		p = eol + 1;
	}
	if (errs > 0)
		l->bad = true;
}

static void
list_free(struct rules_list *l)
{
	if (l == NULL)
		return;
	free(l->path);
	free(l->key);
	free(l->v);
	free(l->buf);
	free(l);
}

/*
 * The list a `list STRING` token names, read on first use. NULL after an
 * error, reported at the token (and in the list file for bad lines).
 */
static struct rules_list *
list_get(struct parser *ps, const struct tok *tk)
{
	struct ruleset *rs = ps->rs;
	struct rules_list *l = NULL, **v;
	char *path, *key;
	size_t i, len, ncap;

	if ((path = path_join(ps->dir, tk->s)) == NULL)
		goto nomem;
	if ((key = realpath(path, NULL)) == NULL) {
		rules_diag_add(ps->d, false, ps->file, tk->line, tk->col,
		               "cannot read list \"%s\": %s", path,
		               strerror(errno));
		free(path);
		return NULL;
	}
	for (i = 0; i < rs->nlists; i++) {
		if (strcmp(rs->lists[i]->key, key) == 0) {
			l = rs->lists[i];
			free(path);
			free(key);
			goto found;
		}
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		free(path);
		free(key);
		goto nomem;
	}
	l->path = path;
	l->key = key;
	if ((l->buf = sp_read_file(path, RULES_LIST_MAX, &len)) == NULL) {
		rules_diag_add(ps->d, false, ps->file, tk->line, tk->col,
		               "cannot read list \"%s\": %s", path,
		               sp_read_error(errno));
		list_free(l);
		return NULL;
	}
	if (rs->nlists == rs->caplists) {
		ncap = rs->caplists ? rs->caplists * 2 : 8;
		if ((v = realloc(rs->lists, ncap * sizeof(*v))) == NULL) {
			list_free(l);
			goto nomem;
		}
		rs->lists = v;
		rs->caplists = ncap;
	}
	rs->lists[rs->nlists++] = l;
	list_parse(l, len, ps->d);
	if (!l->bad && l->n > 0) {
		/* Give back what doubling over-reserved. */
		struct rules_list_entry *shrunk =
		        realloc(l->v, l->n * sizeof(*l->v));
		if (shrunk != NULL)
			l->v = shrunk;
	}
found:
	if (l->bad) {
		rules_diag_add(ps->d, false, ps->file, tk->line, tk->col,
		               "list \"%s\" has errors, so this rule is "
		               "refused",
		               l->path);
		return NULL;
	}
	return l;
nomem:
	rules_diag_add(ps->d, false, ps->file, tk->line, tk->col,
	               "out of memory");
	return NULL;
}

/* ---- the lexer ---- */

static void
lex_newline(struct lexer *lx)
{
	lx->p++; /* the '\n' */
	lx->line++;
	lx->bol = lx->p;
}

static unsigned
lex_col(const struct lexer *lx, const char *p)
{
	return (unsigned)(p - lx->bol) + 1;
}

/* Skip the rest of a logical line after an error, continuations too. */
static void
lex_skip(struct lexer *lx)
{
	const char *q;
	bool cont;

	while (lx->p < lx->end) {
		if (*lx->p != '\n') {
			lx->p++;
			continue;
		}
		q = lx->p;
		while (q > lx->bol && is_blank(q[-1]))
			q--;
		cont = q > lx->bol && q[-1] == '\\';
		lex_newline(lx);
		if (!cont)
			return;
	}
}

static bool
toks_push(struct toks *t, enum tok_kind kind, unsigned line, unsigned col,
          unsigned ecol, char *s)
{
	struct tok *v;
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

static void
toks_clear(struct toks *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].s);
	t->n = 0;
	t->oom = false;
}

/* End the line's tokens with an error token at p; skip the line's rest. */
static void lex_error(struct lexer *lx, struct toks *t, const char *p,
                      bool skip, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static void
lex_error(struct lexer *lx, struct toks *t, const char *p, bool skip,
          const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	unsigned col = lex_col(lx, p);

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg != NULL)
		toks_push(t, TOK_ERROR, lx->line, col, col, msg);
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
lex_string(struct lexer *lx, struct toks *t)
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
	return toks_push(t, TOK_STRING, lx->line, col, lex_col(lx, lx->p), buf);
}

/*
 * Tokens of one logical line into t: physical lines joined by a trailing
 * backslash, comments dropped. A lexer error ends t with a TOK_ERROR.
 */
static void
lex_line(struct lexer *lx, struct toks *t)
{
	const char *q, *s;
	unsigned char c;
	char *w;

	while (lx->p < lx->end) {
		c = (unsigned char)*lx->p;
		if (is_blank(c)) {
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
			while (q < lx->end && is_blank(*q))
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
			               c == '{'   ? TOK_LBRACE
			               : c == '}' ? TOK_RBRACE
			                          : TOK_COMMA,
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
		if (!toks_push(t, TOK_WORD, lx->line, lex_col(lx, s),
		               lex_col(lx, lx->p), w))
			goto nomem;
	}
	return;
nomem:
	lex_error(lx, t, lx->p, true, "out of memory");
}

/* ---- the parser ---- */

static const struct tok *
peek(const struct parser *ps)
{
	return ps->i < ps->t->n ? &ps->t->v[ps->i] : NULL;
}

static const struct tok *
next(struct parser *ps)
{
	return ps->i < ps->t->n ? &ps->t->v[ps->i++] : NULL;
}

static bool
is_word(const struct tok *tk, const char *w)
{
	return tk != NULL && tk->kind == TOK_WORD && strcmp(tk->s, w) == 0;
}

static void perr(struct parser *ps, const struct tok *tk, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
perr(struct parser *ps, const struct tok *tk, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	const struct tok *last;
	unsigned line, col;

	if (tk != NULL) {
		line = tk->line;
		col = tk->col;
	} else {
		last = &ps->t->v[ps->t->n - 1];
		line = last->line;
		col = last->ecol;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	rules_diag_add(ps->d, false, ps->file, line, col, "%s",
	               msg ? msg : "out of memory");
	free(msg);
}

static void pwarn(struct parser *ps, const struct tok *tk, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
pwarn(struct parser *ps, const struct tok *tk, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	rules_diag_add(ps->d, true, ps->file, tk->line, tk->col, "%s",
	               msg ? msg : "out of memory");
	free(msg);
}

/* Report that tk is not what was expected (or the lexer's own error). */
static bool
bad(struct parser *ps, const struct tok *tk, const char *expected)
{
	if (tk == NULL) {
		perr(ps, NULL, "expected %s, got the end of the line",
		     expected);
		return false;
	}
	switch (tk->kind) {
	case TOK_ERROR:
		perr(ps, tk, "%s", tk->s);
		break;
	case TOK_WORD:
		perr(ps, tk, "expected %s, got '%s'", expected, tk->s);
		break;
	case TOK_STRING:
		perr(ps, tk, "expected %s, got a string", expected);
		break;
	case TOK_LBRACE:
		perr(ps, tk, "expected %s, got '{'", expected);
		break;
	case TOK_RBRACE:
		perr(ps, tk, "expected %s, got '}'", expected);
		break;
	case TOK_COMMA:
		perr(ps, tk, "expected %s, got ',' (a set is written { a, b })",
		     expected);
		break;
	}
	return false;
}

typedef bool (*item_fn)(struct parser *ps, struct rules_rule *r);

/* One item, or a set `{ item, item }` of at least one. */
static bool
parse_one_or_set(struct parser *ps, struct rules_rule *r, item_fn item,
                 const char *what)
{
	const struct tok *tk = peek(ps);

	if (tk == NULL || tk->kind != TOK_LBRACE)
		return item(ps, r);
	next(ps);
	if ((tk = peek(ps)) != NULL && tk->kind == TOK_RBRACE) {
		perr(ps, tk, "an empty set: a set has at least one %s", what);
		return false;
	}
	for (;;) {
		if (!item(ps, r))
			return false;
		tk = next(ps);
		if (tk != NULL && tk->kind == TOK_RBRACE)
			return true;
		if (tk == NULL || tk->kind != TOK_COMMA)
			return bad(ps, tk, "',' or '}'");
	}
}

static bool
proto_item(struct parser *ps, struct rules_rule *r)
{
	const struct tok *tk = next(ps);
	unsigned long v;
	uint16_t p, *set;

	if (tk == NULL || tk->kind != TOK_WORD)
		return bad(ps, tk,
		           "a protocol (tcp, udp, icmp, icmp6, any "
		           "or a number)");
	if (strcmp(tk->s, "tcp") == 0)
		p = SP_PROTO_TCP;
	else if (strcmp(tk->s, "udp") == 0)
		p = SP_PROTO_UDP;
	else if (strcmp(tk->s, "icmp") == 0)
		p = SP_PROTO_ICMP;
	else if (strcmp(tk->s, "icmp6") == 0)
		p = SP_PROTO_ICMP6;
	else if (strcmp(tk->s, "any") == 0)
		p = RULES_PROTO_ANY;
	else if (parse_number(tk->s, 255, &v))
		p = (uint16_t)v;
	else if (all_digits(tk->s)) {
		perr(ps, tk, "protocol %s out of range 0-255", tk->s);
		return false;
	} else
		return bad(ps, tk,
		           "a protocol (tcp, udp, icmp, icmp6, any or a "
		           "number)");
	set = grow(r->proto_set, r->nproto_set, sizeof(*set));
	if (set == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	r->proto_set = set;
	r->proto_set[r->nproto_set++] = p;
	if (p == RULES_PROTO_ANY) {
		r->proto_any = true;
		memset(r->protos, 0xff, sizeof(r->protos));
	} else {
		r->protos[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	return true;
}

static bool
add_target(struct parser *ps, struct rules_rule *r, const struct tok *tk,
           const struct rules_target *t)
{
	struct rules_target *v;

	v = grow(r->targets, r->ntargets, sizeof(*v));
	if (v == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	r->targets = v;
	r->targets[r->ntargets++] = *t;
	return true;
}

static bool
target_name(struct parser *ps, struct rules_rule *r, enum rules_target_kind k,
            const char *kw)
{
	struct rules_target t;
	const struct tok *tk = next(ps);
	const char *why;
	char what[32];
	size_t len;

	snprintf(what, sizeof(what), "a name after '%s'", kw);
	if (tk == NULL || tk->kind != TOK_WORD)
		return bad(ps, tk, what);
	len = strlen(tk->s);
	if ((why = rules_name_check(tk->s, len)) != NULL) {
		perr(ps, tk, "'%s' is not a name: %s", tk->s, why);
		return false;
	}
	memset(&t, 0, sizeof(t));
	t.kind = k;
	if (tk->s[len - 1] == '.')
		len--;
	if ((t.name = strndup(tk->s, len)) == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	lower(t.name, len);
	if (!add_target(ps, r, tk, &t)) {
		free(t.name);
		return false;
	}
	return true;
}

static bool
target_addr(struct parser *ps, struct rules_rule *r, const struct tok *tk)
{
	struct rules_target t;
	struct sp_addr net;
	char buf[INET6_ADDRSTRLEN];
	int n;

	memset(&t, 0, sizeof(t));
	if (!sp_cidr_parse(&t.addr, &t.plen, tk->s)) {
		if (!looks_numeric(tk->s, strlen(tk->s)) &&
		    rules_name_check(tk->s, strlen(tk->s)) == NULL)
			perr(ps, tk,
			     "'%s' is not an address: write host %s or "
			     "domain %s",
			     tk->s, tk->s, tk->s);
		else
			perr(ps, tk, "bad address or CIDR '%s'", tk->s);
		return false;
	}
	if (host_bits_set(&t.addr, t.plen)) {
		net = t.addr;
		mask_addr(&net, t.plen);
		perr(ps, tk,
		     "%s has bits set past its /%u prefix: did you mean "
		     "%s/%u?",
		     tk->s, t.plen, sp_addr_format(&net, buf, sizeof(buf)),
		     t.plen);
		return false;
	}
	sp_addr_format(&t.addr, buf, sizeof(buf));
	if (strchr(tk->s, '/') != NULL) {
		t.kind = RULES_T_CIDR;
		n = asprintf(&t.name, "%s/%u", buf, t.plen);
	} else {
		t.kind = RULES_T_ADDR;
		n = (t.name = strdup(buf)) == NULL ? -1 : 0;
	}
	if (n < 0) {
		perr(ps, tk, "out of memory");
		return false;
	}
	if (!add_target(ps, r, tk, &t)) {
		free(t.name);
		return false;
	}
	return true;
}

static bool
is_keyword(const char *w)
{
	static const char *const kw[] = {
	        "allow", "deny",     "reject",    "out",  "in",
	        "proto", "process",  "user",      "to",   "from",
	        "port",  "priority", "essential", "note",
	};
	size_t i;

	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strcmp(w, kw[i]) == 0)
			return true;
	return false;
}

static bool
target_item(struct parser *ps, struct rules_rule *r)
{
	const struct tok *tk = next(ps);
	const char *expected = "a target (any, an address, a CIDR, host "
	                       "NAME, domain NAME or list \"FILE\")";
	struct rules_target t;
	struct rules_list *l;

	if (tk == NULL || tk->kind != TOK_WORD)
		return bad(ps, tk, expected);
	memset(&t, 0, sizeof(t));
	if (strcmp(tk->s, "any") == 0) {
		t.kind = RULES_T_ANY;
		return add_target(ps, r, tk, &t);
	}
	if (strcmp(tk->s, "host") == 0)
		return target_name(ps, r, RULES_T_HOST, "host");
	if (strcmp(tk->s, "domain") == 0)
		return target_name(ps, r, RULES_T_DOMAIN, "domain");
	if (strcmp(tk->s, "list") == 0) {
		tk = next(ps);
		if (tk == NULL || tk->kind != TOK_STRING)
			return bad(ps, tk, "a quoted file name after 'list'");
		if (tk->s[0] == '\0') {
			perr(ps, tk, "an empty list file name");
			return false;
		}
		if ((l = list_get(ps, tk)) == NULL)
			return false;
		t.kind = RULES_T_LIST;
		t.list = l;
		if ((t.name = strdup(tk->s)) == NULL) {
			perr(ps, tk, "out of memory");
			return false;
		}
		if (!add_target(ps, r, tk, &t)) {
			free(t.name);
			return false;
		}
		return true;
	}
	if (is_keyword(tk->s))
		return bad(ps, tk, expected);
	return target_addr(ps, r, tk);
}

/* A port number word; 0 is refused with its own message. */
static bool
port_number(struct parser *ps, const struct tok *tk, const char *s,
            uint16_t *out)
{
	unsigned long v;

	if (!parse_number(s, 65535, &v)) {
		if (all_digits(s))
			perr(ps, tk, "port %s out of range 1-65535", s);
		else
			perr(ps, tk, "bad port '%s'", tk->s);
		return false;
	}
	if (v == 0) {
		perr(ps, tk, "port 0 is not a port: ports are 1-65535");
		return false;
	}
	*out = (uint16_t)v;
	return true;
}

static bool
port_item(struct parser *ps, struct rules_rule *r)
{
	const struct tok *tk = next(ps), *t2;
	struct rules_port pt, *v;
	struct servent *se;
	char lo[16];
	const char *dash, *hi;
	size_t n;

	memset(&pt, 0, sizeof(pt));
	if (tk == NULL || tk->kind != TOK_WORD)
		return bad(ps, tk,
		           "a port (a number, a range N-M or a "
		           "service name)");
	if (tk->s[0] >= '0' && tk->s[0] <= '9') {
		dash = strchr(tk->s, '-');
		n = dash ? (size_t)(dash - tk->s) : strlen(tk->s);
		if (n >= sizeof(lo)) {
			perr(ps, tk, "port %.*s out of range 1-65535", (int)n,
			     tk->s);
			return false;
		}
		memcpy(lo, tk->s, n);
		lo[n] = '\0';
		if (!port_number(ps, tk, lo, &pt.lo))
			return false;
		pt.hi = pt.lo;
		hi = NULL;
		if (dash != NULL && dash[1] != '\0') {
			hi = dash + 1;
		} else if (dash != NULL ||
		           ((t2 = peek(ps)) != NULL && t2->kind == TOK_WORD &&
		            t2->s[0] == '-')) {
			/* "80-" "443", or "80" "-443", or "80" "-" "443" */
			if (dash == NULL) {
				t2 = next(ps);
				hi = t2->s[1] != '\0' ? t2->s + 1 : NULL;
			}
			if (hi == NULL) {
				t2 = next(ps);
				if (t2 == NULL || t2->kind != TOK_WORD)
					return bad(ps, t2,
					           "the end of the port range");
				hi = t2->s;
			}
		}
		if (hi != NULL) {
			if (!port_number(ps, tk, hi, &pt.hi))
				return false;
			if (pt.lo > pt.hi) {
				perr(ps, tk,
				     "port range %u-%u runs backwards: "
				     "write %u-%u",
				     pt.lo, pt.hi, pt.hi, pt.lo);
				return false;
			}
		}
	} else {
		if (strcmp(tk->s, "any") == 0) {
			perr(ps, tk,
			     "'port any' is no port clause: leave it out");
			return false;
		}
		se = getservbyname(tk->s, NULL);
		if (se == NULL) {
			perr(ps, tk,
			     "unknown service '%s': not in /etc/services (give "
			     "the port number)",
			     tk->s);
			return false;
		}
		pt.lo = pt.hi = ntohs((uint16_t)se->s_port);
		if ((pt.name = strdup(tk->s)) == NULL) {
			perr(ps, tk, "out of memory");
			return false;
		}
	}
	v = grow(r->ports, r->nports, sizeof(*v));
	if (v == NULL) {
		free(pt.name);
		perr(ps, tk, "out of memory");
		return false;
	}
	r->ports = v;
	r->ports[r->nports++] = pt;
	return true;
}

static bool
parse_user(struct parser *ps, struct rules_rule *r)
{
	const struct tok *tk = next(ps);
	struct passwd *pw;
	unsigned long v;

	if (tk == NULL || tk->kind != TOK_WORD)
		return bad(ps, tk, "a user name or number");
	if (all_digits(tk->s)) {
		if (!parse_number(tk->s, UINT32_MAX - 1, &v)) {
			perr(ps, tk, "user id %s out of range 0-%u", tk->s,
			     UINT32_MAX - 1);
			return false;
		}
		r->uid = (uint32_t)v;
		return true;
	}
	errno = 0;
	if ((pw = getpwnam(tk->s)) == NULL) {
		perr(ps, tk,
		     "unknown user '%s': not in this system's user database "
		     "(a number names any user)",
		     tk->s);
		return false;
	}
	r->uid = (uint32_t)pw->pw_uid;
	if ((r->user = strdup(tk->s)) == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	return true;
}

static bool
parse_process(struct parser *ps, struct rules_rule *r)
{
	const struct tok *tk = next(ps);

	if (is_word(tk, "any"))
		return true;
	if (tk == NULL || tk->kind != TOK_STRING)
		return bad(ps, tk, "a quoted path pattern or any");
	if (tk->s[0] == '\0') {
		perr(ps, tk, "an empty process pattern matches nothing");
		return false;
	}
	if ((r->process = strdup(tk->s)) == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	if (tk->s[0] != '/' && tk->s[0] != '*' && tk->s[0] != '?')
		pwarn(ps, tk,
		      "process \"%s\" is matched against the whole path and "
		      "can never match: did you mean \"*/%s\"?",
		      tk->s, tk->s);
	return true;
}

static bool
proto_has_ports(unsigned p)
{
	/* tcp, udp, dccp, sctp, udplite */
	return p == 6 || p == 17 || p == 33 || p == 132 || p == 136 ||
	       p == RULES_PROTO_ANY;
}

static const struct {
	const char *word;
	uint32_t bit;
} clause_words[] = {
        {"proto", RULES_C_PROTO},       {"process", RULES_C_PROCESS},
        {"user", RULES_C_USER},         {"to", RULES_C_REMOTE},
        {"from", RULES_C_REMOTE},       {"port", RULES_C_PORT},
        {"priority", RULES_C_PRIORITY}, {"essential", RULES_C_ESSENTIAL},
        {"note", RULES_C_NOTE},
};

static bool
parse_clause(struct parser *ps, struct rules_rule *r, const struct tok *tk,
             uint32_t bit)
{
	const struct tok *s;

	switch (bit) {
	case RULES_C_PROTO:
		memset(r->protos, 0, sizeof(r->protos));
		r->proto_any = false;
		return parse_one_or_set(ps, r, proto_item, "protocol");
	case RULES_C_PROCESS:
		return parse_process(ps, r);
	case RULES_C_USER:
		return parse_user(ps, r);
	case RULES_C_REMOTE:
		r->remote_from = strcmp(tk->s, "from") == 0;
		return parse_one_or_set(ps, r, target_item, "target");
	case RULES_C_PORT:
		return parse_one_or_set(ps, r, port_item, "port");
	case RULES_C_PRIORITY:
	case RULES_C_ESSENTIAL:
		return true;
	case RULES_C_NOTE:
		s = next(ps);
		if (s == NULL || s->kind != TOK_STRING)
			return bad(ps, s, "a quoted note");
		if ((r->note = strdup(s->s)) == NULL) {
			perr(ps, s, "out of memory");
			return false;
		}
		return true;
	}
	return false;
}

static bool
parse_rule(struct parser *ps, struct rules_rule *r)
{
	const struct tok *tk = next(ps), *port_tk = NULL, *ess_tk = NULL;
	const struct tok *remote_tk = NULL;
	uint32_t bit;
	size_t i;
	bool ok = true, has_ports;

	r->line = tk->line;
	r->col = tk->col;
	r->dir = SP_DIR_OUT;
	r->proto_any = true;
	memset(r->protos, 0xff, sizeof(r->protos));
	if (is_word(tk, "allow"))
		r->action = SP_VERDICT_ALLOW;
	else if (is_word(tk, "deny"))
		r->action = SP_VERDICT_DENY;
	else if (is_word(tk, "reject"))
		r->action = SP_VERDICT_REJECT;
	else
		return bad(ps, tk, "allow, deny or reject");

	tk = peek(ps);
	if (is_word(tk, "out") || is_word(tk, "in") || is_word(tk, "any")) {
		r->dir = is_word(tk, "out")  ? SP_DIR_OUT
		         : is_word(tk, "in") ? SP_DIR_IN
		                             : SP_DIR_ANY;
		next(ps);
	}

	while ((tk = next(ps)) != NULL) {
		if (tk->kind != TOK_WORD)
			return bad(ps, tk, "a clause keyword");
		bit = 0;
		for (i = 0; i < sizeof(clause_words) / sizeof(clause_words[0]);
		     i++)
			if (strcmp(tk->s, clause_words[i].word) == 0)
				bit = clause_words[i].bit;
		if (bit == 0) {
			if (is_word(tk, "out") || is_word(tk, "in") ||
			    is_word(tk, "any"))
				perr(ps, tk,
				     "the direction '%s' goes right after the "
				     "action",
				     tk->s);
			else if (is_word(tk, "allow") || is_word(tk, "deny") ||
			         is_word(tk, "reject"))
				perr(ps, tk,
				     "'%s' starts a rule: one rule per line "
				     "(end a line with \\ to continue it)",
				     tk->s);
			else
				perr(ps, tk, "unknown keyword '%s'", tk->s);
			return false;
		}
		if (r->clauses & bit) {
			if (bit == RULES_C_REMOTE)
				perr(ps, tk,
				     "repeated clause '%s': a rule has one "
				     "remote (to or from, at column %u)",
				     tk->s, remote_tk->col);
			else
				perr(ps, tk,
				     "repeated clause '%s': each clause may "
				     "appear once in a rule",
				     tk->s);
			return false;
		}
		r->clauses |= bit;
		if (bit == RULES_C_PORT)
			port_tk = tk;
		else if (bit == RULES_C_ESSENTIAL)
			ess_tk = tk;
		else if (bit == RULES_C_REMOTE)
			remote_tk = tk;
		if (!parse_clause(ps, r, tk, bit))
			return false;
	}

	if (ess_tk != NULL && r->action != SP_VERDICT_ALLOW) {
		perr(ps, ess_tk,
		     "'essential' marks allow rules only, not a %s rule",
		     sp_verdict_name(r->action));
		ok = false;
	} else if (ess_tk != NULL && r->note == NULL) {
		pwarn(ps, ess_tk,
		      "essential rule without a note: add note \"...\" saying "
		      "what breaks without it");
	}
	if (port_tk != NULL && (r->clauses & RULES_C_PROTO)) {
		has_ports = false;
		for (i = 0; i < r->nproto_set; i++)
			if (proto_has_ports(r->proto_set[i]))
				has_ports = true;
		if (!has_ports) {
			perr(ps, port_tk,
			     "'port' with a protocol that has no ports: use "
			     "tcp or udp, or drop the port");
			ok = false;
		}
	}
	return ok;
}

/* ---- rules and the ruleset ---- */

static void
rule_clear(struct rules_rule *r)
{
	size_t i;

	free(r->proto_set);
	free(r->process);
	free(r->user);
	for (i = 0; i < r->ntargets; i++)
		free(r->targets[i].name);
	free(r->targets);
	for (i = 0; i < r->nports; i++)
		free(r->ports[i].name);
	free(r->ports);
	free(r->note);
	memset(r, 0, sizeof(*r));
}

static bool
rulevec_push(struct rulevec *rv, const struct rules_rule *r)
{
	struct rules_rule *v;
	size_t cap;

	if (rv->n == rv->cap) {
		cap = rv->cap ? rv->cap * 2 : 16;
		if ((v = realloc(rv->v, cap * sizeof(*v))) == NULL)
			return false;
		rv->v = v;
		rv->cap = cap;
	}
	rv->v[rv->n++] = *r;
	return true;
}

static void
rulevec_free(struct rulevec *rv)
{
	size_t i;

	for (i = 0; i < rv->n; i++)
		rule_clear(&rv->v[i]);
	free(rv->v);
}

struct ruleset *
rules_new(void)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));

	if (rs == NULL)
		return NULL;
	if (getrandom(&rs->seed, sizeof(rs->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(rs->seed))
		rs->seed = sp_now_mono() ^ (uint64_t)(uintptr_t)rs;
	return rs;
}

void
rules_free(struct ruleset *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	rules_index_free(rs->idx);
	for (i = 0; i < rs->nrules; i++)
		rule_clear(&rs->rules[i]);
	free(rs->rules);
	for (i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	for (i = 0; i < rs->nlists; i++)
		list_free(rs->lists[i]);
	free(rs->lists);
	free(rs);
}

/* Move the rules of a good file into rs; false (rs unchanged) on ENOMEM. */
static bool
commit(struct ruleset *rs, const char *name, struct rulevec *rv)
{
	struct rules_rule *v;
	char **fv, *fname;
	size_t i, j, cap;

	if (rs->nrules + rv->n > rs->caprules) {
		cap = rs->caprules ? rs->caprules : 64;
		while (cap < rs->nrules + rv->n)
			cap *= 2;
		if ((v = realloc(rs->rules, cap * sizeof(*v))) == NULL)
			return false;
		rs->rules = v;
		rs->caprules = cap;
	}
	if (rs->nfiles == rs->capfiles) {
		cap = rs->capfiles ? rs->capfiles * 2 : 8;
		if ((fv = realloc(rs->files, cap * sizeof(*fv))) == NULL)
			return false;
		rs->files = fv;
		rs->capfiles = cap;
	}
	if ((fname = strdup(name)) == NULL)
		return false;
	rs->files[rs->nfiles++] = fname;
	for (i = 0; i < rv->n; i++) {
		rv->v[i].file = fname;
		rv->v[i].index = (uint32_t)rs->nrules;
		for (j = 0; j < rv->v[i].ntargets; j++)
			if (rv->v[i].targets[j].list != NULL)
				rv->v[i].targets[j].list->used = true;
		rs->rules[rs->nrules++] = rv->v[i];
	}
	rv->n = 0;
	rules_index_free(rs->idx);
	rs->idx = NULL;
	return true;
}

int
rules_load_buffer(struct ruleset *rs, const char *name, const char *text,
                  size_t len, struct rules_diags *d)
{
	struct lexer lx;
	struct toks t;
	struct parser ps;
	struct rulevec rv;
	struct rules_rule r;
	size_t errors0 = d->errors;
	char *dir = dir_of(name);
	int ret = -1;

	memset(&t, 0, sizeof(t));
	memset(&rv, 0, sizeof(rv));
	memset(&ps, 0, sizeof(ps));
	lx.p = lx.bol = text;
	lx.end = text + len;
	lx.line = 1;
	ps.rs = rs;
	ps.d = d;
	ps.file = name;
	ps.dir = dir;
	ps.t = &t;

	while (lx.p < lx.end) {
		lex_line(&lx, &t);
		if (t.oom) {
			rules_diag_add(d, false, name, lx.line, 1,
			               "out of memory");
			toks_clear(&t);
			continue;
		}
		if (t.n == 0)
			continue;
		ps.i = 0;
		memset(&r, 0, sizeof(r));
		if (parse_rule(&ps, &r)) {
			if (!rulevec_push(&rv, &r)) {
				rules_diag_add(d, false, name, r.line, r.col,
				               "out of memory");
				rule_clear(&r);
			}
		} else {
			rule_clear(&r);
		}
		toks_clear(&t);
		if (d->errors - errors0 >= RULES_ERRORS_MAX) {
			rules_diag_add(d, false, name, lx.line, 1,
			               "too many errors: the rest of the file "
			               "is not read");
			break;
		}
	}
	if (d->errors > errors0)
		goto out;
	if (!commit(rs, name, &rv)) {
		rules_diag_add(d, false, name, 0, 0, "out of memory");
		goto out;
	}
	ret = 0;
out:
	toks_clear(&t);
	free(t.v);
	rulevec_free(&rv);
	free(dir);
	return ret;
}

int
rules_load_file(struct ruleset *rs, const char *path, struct rules_diags *d)
{
	char *buf;
	size_t len;
	int ret;

	if ((buf = sp_read_file(path, RULES_FILE_MAX, &len)) == NULL) {
		rules_diag_add(d, false, path, 0, 0, "cannot read: %s",
		               sp_read_error(errno));
		return -1;
	}
	ret = rules_load_buffer(rs, path, buf, len, d);
	free(buf);
	return ret;
}

static int
rules_file_filter(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 6 &&
	       strcmp(e->d_name + n - 6, ".rules") == 0;
}

static int
rules_file_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
rules_load_path(struct ruleset *rs, const char *path, struct rules_diags *d)
{
	struct dirent **ents = NULL;
	struct stat st;
	size_t errors0 = d->errors;
	char *p;
	int i, n;

	if (stat(path, &st) != 0) {
		rules_diag_add(d, false, path, 0, 0, "cannot read: %s",
		               strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return rules_load_file(rs, path, d);
	if ((n = scandir(path, &ents, rules_file_filter, rules_file_cmp)) < 0) {
		rules_diag_add(d, false, path, 0, 0, "cannot read: %s",
		               strerror(errno));
		return -1;
	}
	if (n == 0)
		rules_diag_add(d, true, path, 0, 0,
		               "no *.rules files: every flow gets the default");
	for (i = 0; i < n; i++) {
		if ((p = path_join(path, ents[i]->d_name)) == NULL)
			rules_diag_add(d, false, path, 0, 0, "out of memory");
		else
			rules_load_file(rs, p, d);
		free(p);
		free(ents[i]);
	}
	free(ents);
	return d->errors > errors0 ? -1 : 0;
}

size_t
rules_count(const struct ruleset *rs)
{
	return rs->nrules;
}

const struct rules_rule *
rules_get(const struct ruleset *rs, uint32_t index)
{
	return index < rs->nrules ? &rs->rules[index] : NULL;
}

size_t
rules_list_entries(const struct ruleset *rs)
{
	size_t i, n = 0;

	for (i = 0; i < rs->nlists; i++)
		if (rs->lists[i]->used)
			n += rs->lists[i]->n;
	return n;
}

size_t
rules_file_count(const struct ruleset *rs)
{
	return rs->nfiles;
}

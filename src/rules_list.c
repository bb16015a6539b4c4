/* SPDX-License-Identifier: GPL-2.0-or-later */
/* List files (RULES.md): one target per line, read once per path and shared. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

char *
rules_path_join(const char *dir, const char *path)
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
	rules_lower(s, len);
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
	if (rules_host_bits_set(&ent.addr, plen)) {
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
	while (p < end && rules_is_blank(*p))
		p++;
	if (p == end)
		return true;
	s = p;
	while (p < end && !rules_is_blank(*p))
		p++;
	e = p;
	col = (unsigned)(s - bol) + 1;
	while (p < end && rules_is_blank(*p))
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
		if (rules_looks_numeric(s, (size_t)(e - s)))
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
		while (p < end && !rules_is_blank(*p))
			p++;
		e = p;
		col = (unsigned)(s - bol) + 1;
		while (p < end && rules_is_blank(*p))
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

void
rules_list_free(struct rules_list *l)
{
	if (l == NULL)
		return;
	free(l->path);
	free(l->key);
	free(l->v);
	free(l->buf);
	free(l);
}

struct rules_list *
rules_list_get(struct ruleset *rs, struct rules_diags *d, const char *file,
               const char *dir, const struct rules_tok *tk)
{
	struct rules_list *l = NULL, **v;
	char *path, *key;
	size_t i, len, ncap;

	if ((path = rules_path_join(dir, tk->s)) == NULL)
		goto nomem;
	if ((key = realpath(path, NULL)) == NULL) {
		rules_diag_add(d, false, file, tk->line, tk->col,
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
		rules_diag_add(d, false, file, tk->line, tk->col,
		               "cannot read list \"%s\": %s", path,
		               sp_read_error(errno));
		rules_list_free(l);
		return NULL;
	}
	if (rs->nlists == rs->caplists) {
		ncap = rs->caplists ? rs->caplists * 2 : 8;
		if ((v = realloc(rs->lists, ncap * sizeof(*v))) == NULL) {
			rules_list_free(l);
			goto nomem;
		}
		rs->lists = v;
		rs->caplists = ncap;
	}
	rs->lists[rs->nlists++] = l;
	list_parse(l, len, d);
	if (!l->bad && l->n > 0) {
		/* Give back what doubling over-reserved. */
		struct rules_list_entry *shrunk =
		        realloc(l->v, l->n * sizeof(*l->v));
		if (shrunk != NULL)
			l->v = shrunk;
	}
found:
	if (l->bad) {
		rules_diag_add(d, false, file, tk->line, tk->col,
		               "list \"%s\" has errors, so this rule is "
		               "refused",
		               l->path);
		return NULL;
	}
	return l;
nomem:
	rules_diag_add(d, false, file, tk->line, tk->col, "out of memory");
	return NULL;
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

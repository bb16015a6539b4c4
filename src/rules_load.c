/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A ruleset, and the rule files and folders loaded into it, all or nothing. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules_int.h"

/* Rules of one file, kept apart until the whole file proved good. */
struct rulevec {
	struct rules_rule *v;
	size_t n, cap;
};

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
		rules_rule_clear(&rv->v[i]);
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
		rules_rule_clear(&rs->rules[i]);
	free(rs->rules);
	for (i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	for (i = 0; i < rs->nlists; i++)
		rules_list_free(rs->lists[i]);
	free(rs->lists);
	free(rs->decided);
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
	struct rules_lexer lx;
	struct rules_toks t;
	struct rules_parser ps;
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
		rules_lex_line(&lx, &t);
		if (t.oom) {
			rules_diag_add(d, false, name, lx.line, 1,
			               "out of memory");
			rules_toks_clear(&t);
			continue;
		}
		if (t.n == 0)
			continue;
		ps.i = 0;
		memset(&r, 0, sizeof(r));
		if (rules_parse_rule(&ps, &r)) {
			if (!rulevec_push(&rv, &r)) {
				rules_diag_add(d, false, name, r.line, r.col,
				               "out of memory");
				rules_rule_clear(&r);
			}
		} else {
			rules_rule_clear(&r);
		}
		rules_toks_clear(&t);
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
	rules_toks_clear(&t);
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
		if ((p = rules_path_join(path, ents[i]->d_name)) == NULL)
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
rules_file_count(const struct ruleset *rs)
{
	return rs->nfiles;
}

/* dir's *.rules, with file's base name among them when it is not. */
static int
rules_names_with(const char *dir, const char *base, struct dirent ***out)
{
	struct dirent **ents = NULL, **v, *e;
	size_t blen = strlen(base);
	int n, i;

	if ((n = scandir(dir, &ents, rules_file_filter, rules_file_cmp)) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(ents[i]->d_name, base) == 0) {
			*out = ents;
			return n;
		}
	e = calloc(1, offsetof(struct dirent, d_name) + blen + 1);
	v = realloc(ents, (size_t)(n + 1) * sizeof(*v));
	if (e == NULL || v == NULL) {
		free(e);
		for (i = 0; i < n; i++)
			free((v != NULL ? v : ents)[i]);
		free(v != NULL ? v : ents);
		errno = ENOMEM;
		return -1;
	}
	memcpy(e->d_name, base, blen + 1);
	for (i = n; i > 0 && strcmp(v[i - 1]->d_name, base) > 0; i--)
		v[i] = v[i - 1];
	v[i] = e;
	*out = v;
	return n + 1;
}

int
rules_load_path_with(struct ruleset *rs, const char *dir, const char *file,
                     const char *text, size_t len, struct rules_diags *d)
{
	const char *base = strrchr(file, '/');
	struct dirent **ents = NULL;
	size_t errors0 = d->errors;
	char *p;
	int i, n;

	base = base != NULL ? base + 1 : file;
	if ((n = rules_names_with(dir, base, &ents)) < 0) {
		rules_diag_add(d, false, dir, 0, 0, "cannot read: %s",
		               strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		p = NULL;
		if (strcmp(ents[i]->d_name, base) == 0)
			rules_load_buffer(rs, file, text, len, d);
		else if ((p = rules_path_join(dir, ents[i]->d_name)) == NULL)
			rules_diag_add(d, false, dir, 0, 0, "out of memory");
		else
			rules_load_file(rs, p, d);
		free(p);
		free(ents[i]);
	}
	free(ents);
	return d->errors > errors0 ? -1 : 0;
}

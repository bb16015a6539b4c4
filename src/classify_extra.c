/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a flow carries beside its table entry (its remote name and its
 * process), kept by flow id in an open-addressing map. */
#include <stdlib.h>
#include <string.h>

#include "classify_int.h"

struct classify_extra *
classify_extra_slot(const struct classifier *c, uint64_t id)
{
	size_t i = sp_hash(&id, sizeof(id), c->seed) & c->extra_mask;

	while (c->extra[i].id != 0 && c->extra[i].id != id)
		i = (i + 1) & c->extra_mask;
	return &c->extra[i];
}

/* ---- shared strings ---- */

/* v's slot: the string, or the empty slot where it would go. */
static size_t
str_slot(const struct classify_strs *t, const char *v, uint32_t h)
{
	size_t i = h & t->mask;

	while (t->v[i].s != NULL &&
	       (t->v[i].hash != h || strcmp(t->v[i].s, v) != 0))
		i = (i + 1) & t->mask;
	return i;
}

static bool
str_grow(struct classify_strs *t)
{
	struct classify_str *old = t->v;
	size_t oldn = old == NULL ? 0 : t->mask + 1, n = oldn ? oldn * 2 : 64;
	size_t i, j;

	if ((t->v = calloc(n, sizeof(*t->v))) == NULL) {
		t->v = old;
		return false;
	}
	t->mask = n - 1;
	for (i = 0; i < oldn; i++) {
		if (old[i].s == NULL)
			continue;
		for (j = old[i].hash & t->mask; t->v[j].s != NULL;
		     j = (j + 1) & t->mask)
			;
		t->v[j] = old[i];
	}
	free(old);
	return true;
}

/* The shared copy of v, one more flow holding it; NULL out of memory. */
static char *
str_get(struct classifier *c, const char *v)
{
	struct classify_strs *t = &c->strs;
	uint32_t h = (uint32_t)sp_hash(v, strlen(v), c->seed);
	struct classify_str *e;

	if ((t->n + 1) * 2 > (t->v == NULL ? 0 : t->mask + 1) && !str_grow(t))
		return NULL;
	e = &t->v[str_slot(t, v, h)];
	if (e->s == NULL) {
		if (c->cfg.strings_max != 0 &&
		    t->bytes + strlen(v) + 1 > c->cfg.strings_max) {
			c->st.strings_refused++;
			return NULL;
		}
		if ((e->s = strdup(v)) == NULL)
			return NULL;
		e->refs = 0;
		e->hash = h;
		t->n++;
		t->bytes += strlen(v) + 1;
	}
	e->refs++;
	return e->s;
}

/* One flow fewer holds v (a shared copy, or NULL). */
static void
str_put(struct classifier *c, char *v)
{
	struct classify_strs *t = &c->strs;
	uint32_t h;
	size_t i, j, k;

	if (v == NULL)
		return;
	h = (uint32_t)sp_hash(v, strlen(v), c->seed);
	for (i = h & t->mask; t->v[i].s != v; i = (i + 1) & t->mask)
		;
	if (--t->v[i].refs > 0)
		return;
	t->n--;
	t->bytes -= strlen(v) + 1;
	free(v);
	t->v[i].s = NULL;
	/* Backward-shift deletion, as for the flows' entries. */
	for (j = i;;) {
		j = (j + 1) & t->mask;
		if (t->v[j].s == NULL)
			break;
		k = t->v[j].hash & t->mask;
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && k <= i && k > j)) {
			t->v[i] = t->v[j];
			t->v[j].s = NULL;
			i = j;
		}
	}
}

bool
classify_extra_share(struct classifier *c, char **slot, const char *v)
{
	char *s = NULL;

	if (*slot != NULL && v != NULL && strcmp(*slot, v) == 0)
		return true;
	if (v != NULL && (s = str_get(c, v)) == NULL)
		return false;
	str_put(c, *slot);
	*slot = s;
	return true;
}

/* ---- the flows' entries ---- */

static void
more_free(struct classifier *c, struct classify_more *m)
{
	if (m == NULL)
		return;
	c->nmore--;
	str_put(c, m->exe);
	str_put(c, m->cmdline);
	free(m->name);
	free(m->name_raw);
	free(m);
}

struct classify_more *
classify_extra_more(struct classifier *c, const struct flow *f)
{
	struct classify_extra *e = classify_extra_slot(c, f->id);

	if (e->id != f->id) {
		e->id = f->id;
		e->host = NULL;
		e->more = NULL;
	}
	if (e->more == NULL &&
	    (e->more = calloc(1, sizeof(*e->more))) != NULL) {
		e->more->ppid = -1;
		c->nmore++;
	}
	return e->more;
}

void
classify_extra_del(struct classifier *c, uint64_t id)
{
	struct classify_extra *e = classify_extra_slot(c, id);
	size_t i, j, k;

	if (e->id == 0)
		return;
	str_put(c, e->host);
	more_free(c, e->more);
	memset(e, 0, sizeof(*e));
	/* Backward-shift deletion keeps every probe chain unbroken. */
	i = (size_t)(e - c->extra);
	j = i;
	for (;;) {
		j = (j + 1) & c->extra_mask;
		if (c->extra[j].id == 0)
			break;
		k = sp_hash(&c->extra[j].id, sizeof(uint64_t), c->seed) &
		    c->extra_mask;
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && k <= i && k > j)) {
			c->extra[i] = c->extra[j];
			memset(&c->extra[j], 0, sizeof(c->extra[j]));
			i = j;
		}
	}
}

void
classify_extra_clear(struct classifier *c)
{
	size_t i;

	for (i = 0; i <= c->extra_mask; i++) {
		str_put(c, c->extra[i].host);
		more_free(c, c->extra[i].more);
	}
	free(c->strs.v);
	memset(&c->strs, 0, sizeof(c->strs));
}

bool
classify_extra_set(char **slot, const char *v)
{
	char *copy = NULL;

	if (*slot != NULL && v != NULL && strcmp(*slot, v) == 0)
		return true;
	if (v != NULL && (copy = strdup(v)) == NULL)
		return false;
	free(*slot);
	*slot = copy;
	return true;
}

const char *
classify_flow_host(const struct classifier *c, const struct flow *f)
{
	const struct classify_extra *e = classify_extra_slot(c, f->id);

	return e->id == f->id ? e->host : NULL;
}

const char *
classify_flow_exe(const struct classifier *c, const struct flow *f)
{
	const struct classify_extra *e = classify_extra_slot(c, f->id);

	return e->id == f->id && e->more != NULL ? e->more->exe : NULL;
}

void
classify_flow_info(const struct classifier *c, const struct flow *f,
                   struct classify_flow_info *out)
{
	const struct classify_extra *e = classify_extra_slot(c, f->id);
	const struct classify_more *m;

	memset(out, 0, sizeof(*out));
	out->ppid = -1;
	if (e->id != f->id)
		return;
	out->host = e->host;
	out->host_src =
	        e->host != NULL ? CLASSIFY_NAME_DNS : CLASSIFY_NAME_NONE;
	if ((m = e->more) == NULL)
		return;
	if (e->host != NULL && m->host_src != CLASSIFY_NAME_NONE)
		out->host_src = (enum classify_name_src)m->host_src;
	out->exe = m->exe;
	out->cmdline = m->cmdline;
	out->ppid = m->ppid;
	out->nprocs = m->nprocs;
	out->attrib = (enum classify_attrib)m->attrib;
	out->held = m->held;
	out->name_raw = m->name_raw;
	out->name_raw_src = (enum classify_name_src)m->name_raw_src;
}

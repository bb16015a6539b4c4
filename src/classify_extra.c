/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a flow carries beside its table entry (its remote name and its
 * process), kept at the flow's slot of the pool. */
#include <stdlib.h>
#include <string.h>

#include "classify_int.h"

struct classify_extra *
classify_extra_of(const struct classifier *c, const struct flow *f)
{
	return &c->extra[f->slot < c->extra_cap ? f->slot : 0];
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

/* Free what e holds and empty it. */
static void
extra_empty(struct classifier *c, struct classify_extra *e)
{
	str_put(c, e->host);
	more_free(c, e->more);
	memset(e, 0, sizeof(*e));
}

struct classify_extra *
classify_extra_take(struct classifier *c, const struct flow *f)
{
	struct classify_extra *e = classify_extra_of(c, f);

	if (e->id != f->id) {
		/* A flow before it in the slot ended without a word (every
		 * end says one: classify_flow_ended): what it left goes. */
		if (e->id != 0)
			extra_empty(c, e);
		e->id = f->id;
	}
	return e;
}

struct classify_more *
classify_extra_more(struct classifier *c, const struct flow *f)
{
	struct classify_extra *e = classify_extra_take(c, f);

	if (e->more == NULL &&
	    (e->more = calloc(1, sizeof(*e->more))) != NULL) {
		e->more->ppid = -1;
		c->nmore++;
	}
	return e->more;
}

void
classify_extra_del(struct classifier *c, const struct flow *f)
{
	struct classify_extra *e = classify_extra_of(c, f);

	if (e->id == f->id && e->id != 0)
		extra_empty(c, e);
}

void
classify_extra_clear(struct classifier *c)
{
	size_t i, n = c->flows != NULL ? flow_table_slots(c->flows) : 0;

	/* No flow ever took a slot above. */
	for (i = 0; i < n && i < c->extra_cap; i++)
		extra_empty(c, &c->extra[i]);
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
	const struct classify_extra *e = classify_extra_of(c, f);

	return e->id == f->id ? e->host : NULL;
}

const char *
classify_flow_exe(const struct classifier *c, const struct flow *f)
{
	const struct classify_extra *e = classify_extra_of(c, f);

	return e->id == f->id && e->more != NULL ? e->more->exe : NULL;
}

void
classify_flow_info(const struct classifier *c, const struct flow *f,
                   struct classify_flow_info *out)
{
	const struct classify_extra *e = classify_extra_of(c, f);
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

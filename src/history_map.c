/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small string-keyed table (open addressing) for top and rules suggest. */
#include <stdlib.h>
#include <string.h>

#include "src/history_int.h"

static uint64_t
map_hash(const char *k)
{
	return sp_hash(k, strlen(k), 0x5eed);
}

static struct history_map_ent *
map_slot(struct history_map *m, const char *k)
{
	size_t i = map_hash(k) & (m->cap - 1);

	while (m->v[i].key != NULL && strcmp(m->v[i].key, k) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->v[i];
}

void *
history_map_get(struct history_map *m, const char *k, size_t size,
                bool *created, const char **keyp)
{
	struct history_map_ent *e, *old;
	size_t i, oldcap;

	*created = false;
	if (m->n * 2 >= m->cap) {
		old = m->v;
		oldcap = m->cap;
		m->cap = m->cap ? m->cap * 2 : 256;
		if ((m->v = calloc(m->cap, sizeof(*m->v))) == NULL) {
			m->v = old;
			m->cap = oldcap;
			return NULL;
		}
		for (i = 0; i < oldcap; i++)
			if (old[i].key != NULL)
				*map_slot(m, old[i].key) = old[i];
		free(old);
	}
	e = map_slot(m, k);
	if (e->key != NULL) {
		*keyp = e->key;
		return e->val;
	}
	if ((e->key = strdup(k)) == NULL)
		return NULL;
	if ((e->val = calloc(1, size)) == NULL) {
		free(e->key);
		e->key = NULL;
		return NULL;
	}
	m->n++;
	*created = true;
	*keyp = e->key;
	return e->val;
}

void **
history_map_values(const struct history_map *m)
{
	void **v = calloc(m->n + 1, sizeof(*v));
	size_t i, j = 0;

	if (v == NULL)
		return NULL;
	for (i = 0; i < m->cap; i++)
		if (m->v[i].key != NULL)
			v[j++] = m->v[i].val;
	return v;
}

void
history_map_free(struct history_map *m, void (*free_val)(void *))
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		if (m->v[i].key == NULL)
			continue;
		free(m->v[i].key);
		if (free_val != NULL)
			free_val(m->v[i].val);
		free(m->v[i].val);
	}
	free(m->v);
	m->v = NULL;
	m->cap = m->n = 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the history files share, private to src/history*.c. */
#ifndef SPACKLE_HISTORY_INT_H
#define SPACKLE_HISTORY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "spackle/history.h"

/* A small string-keyed table for top and suggest (history_map.c). */
struct history_map_ent {
	char *key;
	void *val;
};

struct history_map {
	struct history_map_ent *v;
	size_t cap, n;
};

/*
 * The value for k, added zeroed (size bytes) when missing (*created). *keyp
 * gets the table's copy of k, which lives as long as the table. NULL when
 * memory runs out.
 */
void *history_map_get(struct history_map *m, const char *k, size_t size,
                      bool *created, const char **keyp);
/* Values into an array (the table keeps owning them); NULL out of memory. */
void **history_map_values(const struct history_map *m);
/* Free the keys and values, free_val (may be NULL) first on each value. */
void history_map_free(struct history_map *m, void (*free_val)(void *));

/* The remote end as `top --by host` and the web's traffic name it: its
 * name, else its address, or an aggregate's network ("198.51.100.0/24"). */
const char *history_host_key(const struct store_flow *r, char *buf, size_t len);

#endif

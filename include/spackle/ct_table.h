/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A snapshot of the conntrack table (one dump), looked up in memory, so a
 * worker never asks the kernel about its flows one by one. */
#ifndef SPACKLE_CT_TABLE_H
#define SPACKLE_CT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spackle/ct.h"

struct ct_table;

/* An empty table for about hint entries (it grows), taken at taken_ns
 * (wall clock), with one reference. NULL when out of memory. */
struct ct_table *ct_table_new(size_t hint, uint64_t taken_ns);
/* One more reference, for another thread that reads it later (a filled
 * table is only read: any number of threads may read it at once). */
void ct_table_hold(struct ct_table *t);
/* Drop a reference; the last one frees the table. */
void ct_table_free(struct ct_table *t);

/* Add e (a later entry with the same tuple replaces it). 0, or -1 when
 * out of memory (the table stays as it was). */
int ct_table_add(struct ct_table *t, const struct ct_entry *e);

/*
 * The entry whose original tuple is k, or whose reply tuple is (k's dst
 * and dport as source, src and sport as destination); NULL when none.
 * *dir gets 0 when k is the entry's original direction, 1 otherwise.
 */
const struct ct_entry *ct_table_find(const struct ct_table *t,
                                     const struct ct_key *k, int *dir);

size_t ct_table_count(const struct ct_table *t);
uint64_t ct_table_taken(const struct ct_table *t);

/* Keep at most max entries: a new tuple past it is left out, and the
 * table is partial (SIZE_MAX until set). */
void ct_table_limit(struct ct_table *t, size_t max);
/* Whether an entry was left out: a tuple not found may then still be in
 * the kernel's table. */
bool ct_table_partial(const struct ct_table *t);
/* The most a table of at most `entries` entries holds in memory while it
 * is filled, in bytes. */
size_t ct_table_bytes_max(size_t entries);
/* Fill a new table from one dump through c, sized for about hint entries,
 * keeping at most max: NULL with ct_error(c) or "out of memory" in err. */
struct ct_table *ct_table_dump(struct ct *c, size_t hint, size_t max,
                               uint64_t now_ns, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The decision log (`log`): one entry per decided flow, for collectors. */
#ifndef SPACKLE_DECLOG_H
#define SPACKLE_DECLOG_H

#include <jansson.h>
#include <stddef.h>

#include "spackle/config.h"

struct declog;

/*
 * Open the log of kind (CONFIG_LOG_NONE gives NULL and 0: no log). json:
 * path is opened for appending (created 0640). 0, or -1 with the reason
 * in err.
 */
int declog_open(struct declog **out, enum config_log kind, const char *path,
                char *err, size_t errlen);

/* The longest entry: a JSON object with a full path and command line. */
#define DECLOG_ENTRY_MAX 16384

/*
 * One decision: o has the fields of `spackle conns --json` and "event"
 * ("decision", or "verdict" for a live flow a reload decided otherwise).
 * json: the object on one line, written whole with one write(2), so lines
 * never interleave; syslog and stderr: a line for a person. Safe from any
 * thread, but it waits on the file: the daemon's workers encode instead
 * and hand the line to a writer thread (declog_encode, declog_put_line).
 * Entries that cannot be written are counted.
 */
void declog_write(struct declog *l, const json_t *o);

/*
 * The entry for o as declog_put_line() takes it, into buf: its length, or
 * -1 when it does not fit (count it with declog_count_lost). Uses the CPU
 * only: safe on the data path.
 */
int declog_encode(const struct declog *l, const json_t *o, char *buf,
                  size_t len);
/* Write an encoded entry seen at ts_ns (wall clock); counted. */
void declog_put_line(struct declog *l, const char *line, size_t len,
                     uint64_t ts_ns);
/* An entry lost before it reached the log (a full hand-over). */
void declog_count_lost(struct declog *l);

/*
 * json: open the path again (after logrotate moved it) and go on in the
 * new file; the old descriptor is swapped atomically, so no writer sees
 * a closed one. 0, or -1 with the reason in err (the old file is kept).
 */
int declog_reopen(struct declog *l, char *err, size_t errlen);

/* Entries written, and those lost (write errors). */
void declog_stats(const struct declog *l, unsigned long long *written,
                  unsigned long long *lost);

void declog_close(struct declog *l);

/* The line a person reads (syslog, stderr), from a decision object. */
void declog_format_line(const json_t *o, char *buf, size_t len);

#endif

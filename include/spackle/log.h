/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging for the daemon: stderr and syslog, with a rate limit per source. */
#ifndef SPACKLE_LOG_H
#define SPACKLE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERR = 3, LOG_LEVEL_WARN = 4, LOG_LEVEL_INFO = 6 };

/* Where messages go; before log_init() they go to stderr only. */
void log_init(const char *ident, bool to_stderr, bool to_syslog);
void log_close(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define log_err(...)  log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)

/*
 * A rate limit: at most `burst` messages per `interval_s` seconds; the rest
 * are counted and their number reported with the next message let through.
 * For things the network controls (bad packets), so a flood cannot flood
 * the log.
 */
struct log_limit {
	uint64_t window_start;
	unsigned interval_s, burst, used;
	uint64_t suppressed;
};

/* True when a message may be logged now; *suppressed gets how many were
 * held back since the last one let through. */
bool log_limit_ok(struct log_limit *l, uint64_t now_ns, uint64_t *suppressed);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus metrics: the daemon's counters as text at /metrics (evhttp). */
#ifndef SPACKLE_METRICS_H
#define SPACKLE_METRICS_H

#include <event2/event.h>
#include <jansson.h>

#define METRICS_PATH    "/metrics"
#define METRICS_CONTENT "text/plain; version=0.0.4; charset=utf-8"

/*
 * The exposition text (Prometheus text format 0.0.4) of a daemon status
 * object, as `spackle status --json` prints it. Every metric has its HELP
 * and TYPE; counters the status lacks are left out. The caller frees the
 * text; NULL when out of memory.
 */
char *metrics_render(const json_t *status);

struct metrics;

/*
 * Serve GET /metrics on spec (config `metrics`, ADDR:PORT) from base's
 * thread; each scrape calls status(arg) for a fresh status object (it
 * gets the reference) and renders it. NULL with the reason in err.
 */
struct metrics *metrics_listen(struct event_base *base, const char *spec,
                               json_t *(*status)(void *arg), void *arg,
                               char *err, size_t errlen);
void metrics_close(struct metrics *m);

#endif

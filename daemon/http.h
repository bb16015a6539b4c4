/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An HTTP listener for the daemon's own servers (metrics, web monitor). */
#ifndef SPACKLE_DAEMON_HTTP_H
#define SPACKLE_DAEMON_HTTP_H

#include <stddef.h>

struct event_base;
struct evhttp;

/*
 * Listen on spec (`ADDR:PORT`, IPv6 as [ADDR]:PORT, numeric) and serve
 * HTTP there on base: the evhttp, or NULL with the reason in err.
 */
struct evhttp *daemon_http_listen(struct event_base *base, const char *spec,
                                  char *err, size_t errlen);

#endif

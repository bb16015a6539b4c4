/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor (docs/web.md), served by the daemon's main thread:
 * shared by daemon/web*.c and run.c. */
#ifndef SPACKLE_DAEMON_WEB_H
#define SPACKLE_DAEMON_WEB_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "spackle/web.h"

#define WEB_PATH_RULE "/api/rule"
#define WEB_PATH_UNDO "/api/undo"

struct daemon;

struct web {
	struct daemon *dm;
	struct evhttp *http;
	char token[WEB_TOKEN_HEX + 1];
	char rules_path[SP_PATH_MAX]; /* web_rules, resolved */
	bool can_change;              /* the rule file is there, ours */
	unsigned long refused;        /* 401 and 403 answers */
};

/*
 * Before the privilege drop: a fresh token into web_token, the page's
 * rule file made and given to the daemon's user, the socket bound to
 * `web`. NULL with the reason in err.
 */
struct web *web_listen(struct daemon *dm, char *err, size_t errlen);
void web_close(struct web *w);

/* web_send.c: answers, a body of type (none to a HEAD), JSON (o's reference
 * taken), an error as {"error": msg}. */
void web_send(struct evhttp_request *req, int code, const char *type,
              const void *data, size_t len);
void web_send_json(struct evhttp_request *req, int code, json_t *o);
void web_send_error(struct evhttp_request *req, int code, const char *msg);

/* web_api.c: GET /api/... (status, conns, traffic, blocked, wall,
 * rules); q is the query's parameters. */
void web_api(struct web *w, struct evhttp_request *req, const char *path,
             const struct evkeyvalq *q);

/* web_wall.c: what `spackle audit` reports, as far as the daemon knows
 * it cheaply (GET /api/wall). */
json_t *web_wall(struct web *w);

/* web_change.c: POST /api/rule and /api/undo. */
void web_change(struct web *w, struct evhttp_request *req, const char *path);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor (docs/web.md): evhttp on the main thread, the token
 * checked on every path, the page's assets from the binary, the JSON API
 * (web_api.c) and the page's changes (web_change.c). */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/http.h"
#include "daemon/web.h"
#include "daemon/web_assets.h"

#define WEB_TIMEOUT_S  10
#define WEB_BODY_MAX   16384
#define WEB_HEADER_MAX 16384

static const char web_401[] = "401: this page needs its token: run spackle web";

/* What every answer carries, whatever it is (docs/web.md). */
static void
web_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy",
	                  "default-src 'none'; script-src 'self'; "
	                  "style-src 'self'; img-src 'self' data:; "
	                  "connect-src 'self'; base-uri 'none'; "
	                  "form-action 'none'; frame-ancestors 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

/* The Content-Type of an asset, by its name's ending. */
static const char *
web_type(const char *path)
{
	static const char *const types[][2] = {
	        {".html", "text/html; charset=utf-8"},
	        {".js", "text/javascript; charset=utf-8"},
	        {".css", "text/css; charset=utf-8"},
	        {".svg", "image/svg+xml"},
	        {".png", "image/png"},
	        {".ico", "image/x-icon"},
	        {".json", "application/json"},
	        {".txt", "text/plain; charset=utf-8"},
	        {".woff2", "font/woff2"},
	};
	const char *dot = strrchr(path, '.');
	size_t i;

	for (i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i][0]) == 0)
			return types[i][1];
	return "application/octet-stream";
}

static const struct web_asset *
web_asset_find(const char *path)
{
	unsigned i;

	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (i = 0; i < web_nassets; i++)
		if (strcmp(web_assets[i].path, path) == 0)
			return &web_assets[i];
	return NULL;
}

static void
web_asset(struct evhttp_request *req, const char *path)
{
	const struct web_asset *a = web_asset_find(path);

	if (a == NULL) {
		web_send(req, 404, "text/plain; charset=utf-8",
		         "404: no such page\n", 19);
		return;
	}
	web_send(req, 200, web_type(a->path), a->data, a->len);
}

/* GET and HEAD only; else 405 with Allow. */
static bool
web_method_get(struct evhttp_request *req)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD)
		return true;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	                  "GET, HEAD");
	web_send_error(req, 405, "this path answers GET only");
	return false;
}

static void
web_request(struct evhttp_request *req, void *arg)
{
	struct web *w = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq q = {0};
	struct web_creds c = {0};
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	bool change, post;
	char cookie[WEB_TOKEN_HEX + 64];

	web_headers(req);
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (query != NULL && evhttp_parse_query_str(query, &q) == 0)
		c.query = evhttp_find_header(&q, "token");
	c.cookie = evhttp_find_header(in, "Cookie");
	c.header = evhttp_find_header(in, WEB_HEADER);
	post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
	change = post && (strcmp(path, WEB_PATH_RULE) == 0 ||
	                  strcmp(path, WEB_PATH_UNDO) == 0);
	switch (web_auth_decide(w->token, &c, change)) {
	case WEB_AUTH_NO_TOKEN:
		w->refused++;
		web_send(req, 401, "text/plain; charset=utf-8", web_401,
		         sizeof(web_401) - 1);
		goto out;
	case WEB_AUTH_NO_HEADER:
		w->refused++;
		web_send_error(req, 403,
		               "a change needs the token in the "
		               "X-Spackle-Token header");
		goto out;
	case WEB_AUTH_SET_COOKIE:
		snprintf(cookie, sizeof(cookie),
		         WEB_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/",
		         w->token);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "Set-Cookie", cookie);
		break;
	case WEB_AUTH_OK:
		break;
	}
	if (strcmp(path, WEB_PATH_RULE) == 0 ||
	    strcmp(path, WEB_PATH_UNDO) == 0) {
		if (!post) {
			evhttp_add_header(
			        evhttp_request_get_output_headers(req), "Allow",
			        "POST");
			web_send_error(req, 405, "a change is a POST");
		} else {
			web_change(w, req, path);
		}
	} else if (strncmp(path, "/api/", 5) == 0) {
		if (web_method_get(req))
			web_api(w, req, path, &q);
	} else if (web_method_get(req)) {
		web_asset(req, path);
	}
out:
	evhttp_clear_headers(&q);
}

/*
 * The page's rule file, before the privilege drop: made when missing (a
 * comment saying whose it is) and given to the daemon's user, who
 * rewrites it after. Not made when `rules` is a file: the page then
 * cannot add rules, and says so when asked.
 */
static int
web_rules_file(struct web *w, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	static const char head[] =
	        "# The web monitor's rules (docs/web.md): written by the "
	        "page's\n"
	        "# block, allow and undo, each line noted \"web:ID\". Edit it\n"
	        "# by hand as any other rule file; the page finds its lines "
	        "by\n"
	        "# their notes.\n";
	struct stat st;
	FILE *f;

	if (stat(w->dm->cfg.rules, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_warn("web: %s is not a folder: the page cannot add rules "
		         "(web_rules must lie in it)",
		         w->dm->cfg.rules);
		return 0;
	}
	if (lstat(w->rules_path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A link would have the daemon's user own what it points
		 * to. */
		snprintf(err, errlen, "web_rules: %s is not a regular file",
		         w->rules_path);
		return -1;
	}
	if (lstat(w->rules_path, &st) != 0) {
		if ((f = fopen(w->rules_path, "wx")) == NULL ||
		    fputs(head, f) < 0 || fclose(f) != 0) {
			snprintf(err, errlen, "%s: %s", w->rules_path,
			         strerror(errno));
			return -1;
		}
	}
	if (chown(w->rules_path, uid, gid) != 0) {
		snprintf(err, errlen, "%s: chown: %s", w->rules_path,
		         strerror(errno));
		return -1;
	}
	w->can_change = true;
	return 0;
}

struct web *
web_listen(struct daemon *dm, char *err, size_t errlen)
{
	struct web *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->dm = dm;
	config_web_rules(&dm->cfg, w->rules_path, sizeof(w->rules_path));
	if (web_token_make(w->token) != 0) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		goto fail;
	}
	if (web_token_write(dm->cfg.web_token, w->token, err, errlen) != 0 ||
	    web_rules_file(w, dm->uid, dm->gid, err, errlen) != 0)
		goto fail;
	if ((w->http = daemon_http_listen(dm->base, dm->cfg.web, err,
	                                  errlen)) == NULL)
		goto fail;
	evhttp_set_timeout(w->http, WEB_TIMEOUT_S);
	evhttp_set_max_body_size(w->http, WEB_BODY_MAX);
	evhttp_set_max_headers_size(w->http, WEB_HEADER_MAX);
	evhttp_set_allowed_methods(
	        w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                         EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(w->http, web_request, w);
	log_info("web: http://%s/ (the token is in %s: spackle web prints "
	         "the URL)",
	         dm->cfg.web, dm->cfg.web_token);
	return w;
fail:
	if (w->http != NULL)
		evhttp_free(w->http);
	free(w);
	return NULL;
}

void
web_close(struct web *w)
{
	if (w == NULL)
		return;
	evhttp_free(w->http);
	free(w);
}

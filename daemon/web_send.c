/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's answers: a body, JSON, an error as JSON. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/web.h"

static const char *
web_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	}
	return "Error";
}

void
web_send(struct evhttp_request *req, int code, const char *type,
         const void *data, size_t len)
{
	struct evbuffer *body = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Content-Type", type);
	if (body != NULL && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(body, data, len);
	evhttp_send_reply(req, code, web_reason(code), body);
	if (body != NULL)
		evbuffer_free(body);
}

void
web_send_json(struct evhttp_request *req, int code, json_t *o)
{
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (text == NULL) {
		web_send_error(req, 500, "out of memory");
		return;
	}
	web_send(req, code, "application/json", text, strlen(text));
	free(text);
}

void
web_send_error(struct evhttp_request *req, int code, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);

	if (o == NULL) {
		web_send(req, 500, "text/plain; charset=utf-8", "", 0);
		return;
	}
	web_send_json(req, code, o);
}

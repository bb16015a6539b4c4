/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's JSON API, GET only: the control socket's answers
 * (status, conns), the store's views (traffic, blocked), the wall's
 * health (web_wall.c) and the rules with what each decided. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/web.h"
#include "spackle/history.h"
#include "spackle/rules.h"

#define WEB_TOP          10
#define WEB_BLOCKED_DFLT 200
#define WEB_BLOCKED_MAX  5000
/* Records one request reads at most: the main thread must stay quick. */
#define WEB_SCAN_MAX 300000

/* The spans /api/traffic knows: {name, seconds, bucket seconds}. */
static const struct {
	const char *name;
	unsigned span_s, bucket_s;
} web_spans[] = {
        {"hour", 3600, 60},
        {"day", 86400, 900},
        {"week", 7 * 86400, 3 * 3600},
};

static void
web_rules_json(struct web *w, struct evhttp_request *req)
{
	const struct ruleset *rs = w->dm->rules;
	const struct rules_rule *r;
	char small[512], *text;
	json_t *arr = json_array(), *o;
	size_t i, n;

	for (i = 0; i < rules_count(rs); i++) {
		r = rules_get(rs, (uint32_t)i);
		n = rules_format(small, sizeof(small), r);
		text = small;
		if (n >= sizeof(small) && (text = malloc(n + 1)) != NULL)
			rules_format(text, n + 1, r);
		o = json_pack("{s:s,s:i,s:s?,s:s,s:I}", "file", r->file, "line",
		              (int)r->line, "text", text, "action",
		              sp_verdict_name(r->action), "decided",
		              (json_int_t)rules_decided(rs, (uint32_t)i));
		/* The page's own rules carry the id its undo takes. */
		if (o != NULL && r->note != NULL &&
		    strcmp(r->file, w->rules_path) == 0 &&
		    strncmp(r->note, WEB_NOTE_PREFIX,
		            strlen(WEB_NOTE_PREFIX)) == 0 &&
		    web_rule_id_ok(r->note + strlen(WEB_NOTE_PREFIX)))
			json_object_set_new(
			        o, "id",
			        json_string(r->note + strlen(WEB_NOTE_PREFIX)));
		if (text != small)
			free(text);
		json_array_append_new(arr, o);
	}
	web_send_json(req, 200,
	              json_pack("{s:s,s:b,s:o}", "web_rules", w->rules_path,
	                        "can_change", w->can_change, "rules", arr));
}

/* ?NAME=N as a count within [0, max], dflt when absent; -1 when bad. */
static long
web_count(const struct evkeyvalq *q, const char *name, long dflt, long max)
{
	const char *v = evhttp_find_header(q, name);
	char *end;
	long n;

	if (v == NULL)
		return dflt;
	if (v[0] < '0' || v[0] > '9')
		return -1;
	n = strtol(v, &end, 10);
	return *end != '\0' || n > max ? -1 : n;
}

static void
web_traffic(struct web *w, struct evhttp_request *req,
            const struct evkeyvalq *q)
{
	const char *span = evhttp_find_header(q, "span");
	struct store_reader *r;
	char err[SP_PATH_MAX + 128];
	size_t i;
	json_t *o;

	if (span == NULL)
		span = "hour";
	for (i = 0; i < sizeof(web_spans) / sizeof(web_spans[0]); i++)
		if (strcmp(span, web_spans[i].name) == 0)
			break;
	if (i == sizeof(web_spans) / sizeof(web_spans[0])) {
		web_send_error(req, 400, "span must be hour, day or week");
		return;
	}
	if (store_reader_attach(&r, w->dm->store, err, sizeof(err)) != 0) {
		web_send_error(req, 503, err);
		return;
	}
	o = history_traffic(r, web_spans[i].name, sp_now_wall(),
	                    web_spans[i].span_s, web_spans[i].bucket_s, WEB_TOP,
	                    WEB_SCAN_MAX);
	store_reader_close(r);
	if (o == NULL)
		web_send_error(req, 500, "out of memory");
	else
		web_send_json(req, 200, o);
}

static void
web_blocked(struct web *w, struct evhttp_request *req,
            const struct evkeyvalq *q)
{
	long limit = web_count(q, "limit", WEB_BLOCKED_DFLT, WEB_BLOCKED_MAX);
	struct store_reader *r;
	char err[SP_PATH_MAX + 128];
	json_t *o;

	if (limit < 0) {
		web_send_error(req, 400, "limit must be a count up to 5000");
		return;
	}
	if (store_reader_attach(&r, w->dm->store, err, sizeof(err)) != 0) {
		web_send_error(req, 503, err);
		return;
	}
	o = history_blocked(r, (size_t)limit, WEB_SCAN_MAX);
	store_reader_close(r);
	if (o == NULL)
		web_send_error(req, 500, "out of memory");
	else
		web_send_json(req, 200, o);
}

/* "user": the name of each flow's uid (the passwd database, each uid
 * looked up once per answer); absent when it has none. */
static void
web_users(json_t *arr)
{
	struct {
		json_int_t uid;
		char name[64];
	} seen[32];
	size_t nseen = 0, i, k;
	struct passwd pw, *res;
	char buf[1024];
	json_t *f, *uid;
	const char *name;

	json_array_foreach(arr, i, f)
	{
		if (!json_is_integer(uid = json_object_get(f, "uid")))
			continue;
		name = NULL;
		for (k = 0; k < nseen; k++)
			if (seen[k].uid == json_integer_value(uid))
				name = seen[k].name;
		if (k == nseen) {
			if (getpwuid_r((uid_t)json_integer_value(uid), &pw, buf,
			               sizeof(buf), &res) == 0 &&
			    res != NULL)
				name = pw.pw_name;
			if (nseen < sizeof(seen) / sizeof(seen[0])) {
				seen[nseen].uid = json_integer_value(uid);
				snprintf(seen[nseen].name,
				         sizeof(seen[nseen].name), "%s",
				         name != NULL ? name : "");
				nseen++;
			}
		}
		if (name != NULL && name[0] != '\0')
			json_object_set_new(f, "user", json_string(name));
	}
}

void
web_api(struct web *w, struct evhttp_request *req, const char *path,
        const struct evkeyvalq *q)
{
	json_t *o, *arr;

	if (strcmp(path, "/api/status") == 0) {
		web_send_json(req, 200, daemon_status(NULL, w->dm));
	} else if (strcmp(path, "/api/conns") == 0) {
		/* As `conns --json` prints it, the array itself, and each
		 * flow's user by name. */
		o = daemon_conns(NULL, w->dm);
		arr = json_incref(json_object_get(o, "conns"));
		json_decref(o);
		web_users(arr);
		web_send_json(req, 200, arr);
	} else if (strcmp(path, "/api/traffic") == 0) {
		web_traffic(w, req, q);
	} else if (strcmp(path, "/api/blocked") == 0) {
		web_blocked(w, req, q);
	} else if (strcmp(path, "/api/wall") == 0) {
		web_send_json(req, 200, web_wall(w));
	} else if (strcmp(path, "/api/rules") == 0) {
		web_rules_json(w, req);
	} else {
		web_send_error(req, 404,
		               "no such API: status, conns, traffic, blocked, "
		               "wall, rules; POST rule, undo");
	}
}

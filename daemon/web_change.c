/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's changes: POST /api/rule appends a rule to the page's
 * rule file, POST /api/undo takes one out; each checked as `spackle rules
 * check` checks, written, and applied by the daemon's reload. */
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/web.h"
#include "spackle/rules.h"

#define WEB_REQ_BODY_MAX 8192

/* The request's body, NUL-terminated, into buf; its length or -1. */
static long
web_body(struct evhttp_request *req, char *buf, size_t len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);

	if (n >= len)
		return -1;
	evbuffer_copyout(in, buf, n);
	buf[n] = '\0';
	return (long)n;
}

/*
 * What `spackle rules check` would say of the rules folder with the
 * page's file holding text: NULL when it passes (warnings pass), else its
 * messages (the caller frees them).
 */
static char *
web_check(struct web *w, const char *text, size_t len)
{
	struct ruleset *rs = rules_new();
	struct rules_diags d;
	char *msg = NULL;
	size_t mlen = 0;
	FILE *f;

	memset(&d, 0, sizeof(d));
	if (rs == NULL)
		return strdup("out of memory");
	rules_load_path_with(rs, w->dm->cfg.rules, w->rules_path, text, len,
	                     &d);
	if (d.errors == 0) {
		rules_check_essential(rs, &d);
		rules_compile(rs, &d);
	}
	if (d.errors > 0 && (f = open_memstream(&msg, &mlen)) != NULL) {
		size_t i;

		/* Errors only: the warnings of other files are not this
		 * change's fault. */
		for (i = 0; i < d.n; i++)
			if (!d.v[i].warning)
				fprintf(f, "%s:%u:%u: %s\n", d.v[i].file,
				        d.v[i].line, d.v[i].col, d.v[i].msg);
		fclose(f);
	}
	rules_diags_free(&d);
	rules_free(rs);
	if (msg != NULL && mlen > 0 && msg[mlen - 1] == '\n')
		msg[mlen - 1] = '\0';
	return msg;
}

/* Replace the file's bytes with text[0..len) in place (the folder is not
 * the daemon's to make files in). 0, or -1 with err. */
static int
web_write(struct web *w, const char *text, size_t len, char *err, size_t errlen)
{
	size_t done = 0;
	ssize_t n;
	int fd = open(w->rules_path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		goto fail;
	while (done < len) {
		n = pwrite(fd, text + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (ftruncate(fd, (off_t)len) != 0 || fsync(fd) != 0)
		goto fail;
	close(fd);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", w->rules_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * Write text, reload, and put old back when the reload refuses (the
 * config file may have gone bad meanwhile): NULL, or the message.
 */
static char *
web_apply(struct web *w, const char *text, size_t len, const char *old,
          size_t oldlen)
{
	char err[SP_PATH_MAX + 128], *msg;
	json_t *r;

	if (web_write(w, text, len, err, sizeof(err)) != 0)
		return strdup(err);
	r = daemon_reload(NULL, w->dm);
	if (json_is_true(json_object_get(r, "ok"))) {
		json_decref(r);
		return NULL;
	}
	msg = strdup(json_string_value(json_object_get(r, "errors"))
	                     ?: "the reload was refused");
	json_decref(r);
	if (web_write(w, old, oldlen, err, sizeof(err)) != 0)
		log_err("web: putting %s back: %s", w->rules_path, err);
	return msg;
}

static void
web_rule(struct web *w, struct evhttp_request *req, const char *body,
         size_t blen)
{
	struct web_rule_req rr;
	char err[SP_PATH_MAX + 256], id[WEB_ID_LEN + 1], *line = NULL,
	                                                 *old = NULL;
	char *text = NULL, *msg = NULL;
	size_t n, oldlen = 0, len, off, ll;
	unsigned lineno;

	if (web_rule_parse(body, blen, &rr, err, sizeof(err)) != 0) {
		web_send_error(req, 400, err);
		return;
	}
	if (web_rule_id(id) != 0 ||
	    (n = web_rule_text(&rr, id, NULL, 0)) == 0 ||
	    (line = malloc(n + 1)) == NULL) {
		web_send_error(req, 500, "out of memory");
		return;
	}
	web_rule_text(&rr, id, line, n + 1);
	if ((old = sp_read_file(w->rules_path, RULES_FILE_MAX, &oldlen)) ==
	    NULL) {
		snprintf(err, sizeof(err), "%s: %s", w->rules_path,
		         sp_read_error(errno));
		web_send_error(req, 500, err);
		goto out;
	}
	/* The file as it would be: the line appended, on a line of its
	 * own. */
	if ((text = malloc(oldlen + n + 2)) == NULL) {
		web_send_error(req, 500, "out of memory");
		goto out;
	}
	memcpy(text, old, oldlen);
	len = oldlen;
	if (len > 0 && text[len - 1] != '\n')
		text[len++] = '\n';
	memcpy(text + len, line, n);
	len += n;
	text[len++] = '\n';
	if ((msg = web_check(w, text, len)) != NULL) {
		web_send_error(req, 400, msg);
		goto out;
	}
	if ((msg = web_apply(w, text, len, old, oldlen)) != NULL) {
		web_send_error(req, 500, msg);
		goto out;
	}
	lineno = web_rule_find(text, len, id, &off, &ll);
	log_info("web: %s:%u: %s", w->rules_path, lineno, line);
	web_send_json(req, 200,
	              json_pack("{s:s,s:s,s:s,s:i}", "id", id, "rule", line,
	                        "file", w->rules_path, "line", (int)lineno));
out:
	free(line);
	free(old);
	free(text);
	free(msg);
}

static void
web_undo(struct web *w, struct evhttp_request *req, const char *body,
         size_t blen)
{
	char err[SP_PATH_MAX + 256], id[WEB_ID_LEN + 1], *old, *text = NULL,
	                                                       *msg;
	size_t oldlen, off, ll;
	unsigned lineno;

	if (web_undo_parse(body, blen, id, err, sizeof(err)) != 0) {
		web_send_error(req, 400, err);
		return;
	}
	if ((old = sp_read_file(w->rules_path, RULES_FILE_MAX, &oldlen)) ==
	    NULL) {
		snprintf(err, sizeof(err), "%s: %s", w->rules_path,
		         sp_read_error(errno));
		web_send_error(req, 500, err);
		return;
	}
	if ((lineno = web_rule_find(old, oldlen, id, &off, &ll)) == 0) {
		snprintf(err, sizeof(err), "no rule of id %s in %s", id,
		         w->rules_path);
		web_send_error(req, 404, err);
		goto out;
	}
	if ((text = malloc(oldlen + 1)) == NULL) {
		web_send_error(req, 500, "out of memory");
		goto out;
	}
	memcpy(text, old, off);
	memcpy(text + off, old + off + ll, oldlen - off - ll);
	if ((msg = web_apply(w, text, oldlen - ll, old, oldlen)) != NULL) {
		web_send_error(req, 500, msg);
		free(msg);
		goto out;
	}
	log_info("web: %s:%u removed (web:%s)", w->rules_path, lineno, id);
	web_send_json(req, 200, json_pack("{s:s}", "removed", id));
out:
	free(old);
	free(text);
}

void
web_change(struct web *w, struct evhttp_request *req, const char *path)
{
	char body[WEB_REQ_BODY_MAX];
	long n = web_body(req, body, sizeof(body));

	if (!w->can_change) {
		web_send_error(req, 409,
		               "the page cannot add rules: `rules` is not a "
		               "folder (docs/web.md)");
		return;
	}
	if (n < 0) {
		web_send_error(req, 400, "the body is too long");
		return;
	}
	if (strcmp(path, WEB_PATH_RULE) == 0)
		web_rule(w, req, body, (size_t)n);
	else
		web_undo(w, req, body, (size_t)n);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rules the web monitor's page writes: its requests read and checked,
 * each rule's one line composed, found again by its id for an undo. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "spackle/rules.h"
#include "spackle/web.h"

#define WEB_BODY_MAX 8192

/* The body as a JSON object; NULL with the reason in err. */
static json_t *
web_body_object(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;

	if (len > WEB_BODY_MAX) {
		snprintf(err, errlen, "the body is longer than %u bytes",
		         WEB_BODY_MAX);
		return NULL;
	}
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		snprintf(err, errlen, "the body is not JSON: %s (at %d)",
		         je.text, je.position);
		return NULL;
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "the body is not a JSON object");
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A string member, or NULL; *bad set when it is there but no string or
 * holds a NUL. */
static const char *
web_str(const json_t *o, const char *key, bool *bad)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		return NULL;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/* Why a process path cannot go in a rule as it is, or NULL. */
static const char *
web_process_bad(const char *p)
{
	const unsigned char *s;

	if (p[0] != '/')
		return "is not an absolute path";
	if (strlen(p) >= SP_PATH_MAX)
		return "is too long";
	for (s = (const unsigned char *)p; *s; s++) {
		if (*s < 0x20 || *s == 0x7f)
			return "holds a control character (a newline?)";
		if (*s == '*' || *s == '?')
			return "holds * or ?, which a rule takes as a "
			       "pattern";
	}
	return NULL;
}

int
web_rule_parse(const char *body, size_t len, struct web_rule_req *r, char *err,
               size_t errlen)
{
	const char *action, *dir, *process, *host, *addr, *key, *why;
	const json_t *any, *v;
	struct sp_addr a;
	bool bad = false;
	size_t i, targets;
	json_t *o;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((o = web_body_object(body, len, err, errlen)) == NULL)
		return -1;
	json_object_foreach((json_t *)o, key, v)
	{
		if (strcmp(key, "action") != 0 && strcmp(key, "dir") != 0 &&
		    strcmp(key, "process") != 0 && strcmp(key, "host") != 0 &&
		    strcmp(key, "address") != 0 && strcmp(key, "any") != 0) {
			snprintf(err, errlen,
			         "unknown field \"%.64s\" (action, dir, "
			         "process, "
			         "host, address, any)",
			         key);
			goto out;
		}
	}
	action = web_str(o, "action", &bad);
	dir = web_str(o, "dir", &bad);
	process = web_str(o, "process", &bad);
	host = web_str(o, "host", &bad);
	addr = web_str(o, "address", &bad);
	any = json_object_get(o, "any");
	if (bad) {
		snprintf(err, errlen,
		         "action, dir, process, host and address must be "
		         "strings");
		goto out;
	}
	if (action == NULL ||
	    (strcmp(action, "deny") != 0 && strcmp(action, "allow") != 0)) {
		snprintf(err, errlen,
		         "\"action\" must be \"deny\" or \"allow\"");
		goto out;
	}
	r->action = action[0] == 'd' ? SP_VERDICT_DENY : SP_VERDICT_ALLOW;
	if (dir != NULL && strcmp(dir, "out") != 0 && strcmp(dir, "in") != 0) {
		snprintf(err, errlen, "\"dir\" must be \"out\" or \"in\"");
		goto out;
	}
	r->dir = dir != NULL && strcmp(dir, "in") == 0 ? SP_DIR_IN : SP_DIR_OUT;
	if (any != NULL && !json_is_true(any)) {
		snprintf(err, errlen, "\"any\" can only be true");
		goto out;
	}
	targets = (host != NULL) + (addr != NULL) + (any != NULL);
	if (targets != 1) {
		snprintf(err, errlen,
		         "give one of \"host\", \"address\" or \"any\" "
		         "(%zu given)",
		         targets);
		goto out;
	}
	if (process != NULL) {
		if ((why = web_process_bad(process)) != NULL) {
			snprintf(err, errlen, "process %s", why);
			goto out;
		}
		snprintf(r->process, sizeof(r->process), "%s", process);
	}
	if (host != NULL) {
		size_t hl = strlen(host);

		if (hl > 0 && host[hl - 1] == '.')
			hl--;
		if ((why = rules_name_check(host, hl)) != NULL) {
			snprintf(err, errlen, "host is not a name: %s", why);
			goto out;
		}
		for (i = 0; i < hl; i++)
			r->host[i] = (char)tolower((unsigned char)host[i]);
		r->host[hl] = '\0';
	}
	if (addr != NULL) {
		if (!sp_addr_parse(&a, addr)) {
			snprintf(err, errlen,
			         "address is not an IPv4 or IPv6 address");
			goto out;
		}
		sp_addr_format(&a, r->address, sizeof(r->address));
	}
	r->any = any != NULL;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

size_t
web_rule_text(const struct web_rule_req *r, const char *id, char *buf,
              size_t len)
{
	char *text = NULL;
	size_t n = 0, need;
	const char *s, *to;
	FILE *f = open_memstream(&text, &n);

	if (f == NULL) {
		if (len > 0)
			buf[0] = '\0';
		return 0;
	}
	fprintf(f, "%s %s", r->action == SP_VERDICT_DENY ? "deny" : "allow",
	        r->dir == SP_DIR_IN ? "in" : "out");
	/* `from` reads as the remote end of an inbound flow (RULES.md: both
	 * mean the remote end). */
	to = r->dir == SP_DIR_IN ? "from" : "to";
	if (r->process[0] != '\0') {
		fputs(" process \"", f);
		/* RULES.md's two escapes; parse refused every control
		 * character, so a line stays one line. */
		for (s = r->process; *s; s++) {
			if (*s == '"' || *s == '\\')
				fputc('\\', f);
			fputc(*s, f);
		}
		fputc('"', f);
	}
	if (r->host[0] != '\0')
		fprintf(f, " %s host %s", to, r->host);
	else if (r->address[0] != '\0')
		fprintf(f, " %s %s", to, r->address);
	else
		fprintf(f, " %s any", to);
	fprintf(f, " note \"" WEB_NOTE_PREFIX "%s\"", id);
	if (fclose(f) != 0) {
		free(text);
		if (len > 0)
			buf[0] = '\0';
		return 0;
	}
	need = n;
	if (len > 0)
		snprintf(buf, len, "%s", text);
	free(text);
	return need;
}

int
web_rule_id(char *id)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[WEB_ID_LEN / 2];
	size_t i;

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -1;
	for (i = 0; i < sizeof(b); i++) {
		id[2 * i] = hex[b[i] >> 4];
		id[2 * i + 1] = hex[b[i] & 15];
	}
	id[WEB_ID_LEN] = '\0';
	return 0;
}

bool
web_rule_id_ok(const char *id)
{
	size_t i;

	for (i = 0; i < WEB_ID_LEN; i++)
		if (!strchr("0123456789abcdef", id[i]) || id[i] == '\0')
			return false;
	return id[WEB_ID_LEN] == '\0';
}

unsigned
web_rule_find(const char *text, size_t len, const char *id, size_t *off,
              size_t *n)
{
	char want[32];
	size_t wl, ll, p = 0;
	const char *nl;
	unsigned line = 0;

	wl = (size_t)snprintf(want, sizeof(want),
	                      " note \"" WEB_NOTE_PREFIX "%s\"", id);
	while (p < len) {
		line++;
		nl = memchr(text + p, '\n', len - p);
		ll = nl != NULL ? (size_t)(nl - (text + p)) : len - p;
		/* The note the page wrote ends the line; a comment line
		 * never counts. */
		if (ll >= wl && text[p] != '#' &&
		    memcmp(text + p + ll - wl, want, wl) == 0) {
			*off = p;
			*n = ll + (nl != NULL);
			return line;
		}
		p += ll + 1;
	}
	return 0;
}

int
web_undo_parse(const char *body, size_t len, char *id, char *err, size_t errlen)
{
	const char *key, *s;
	const json_t *v;
	bool bad = false;
	json_t *o;
	int rc = -1;

	if ((o = web_body_object(body, len, err, errlen)) == NULL)
		return -1;
	json_object_foreach((json_t *)o, key, v)
	{
		if (strcmp(key, "id") != 0) {
			snprintf(err, errlen, "unknown field \"%.64s\" (id)",
			         key);
			goto out;
		}
	}
	s = web_str(o, "id", &bad);
	if (s == NULL || bad || !web_rule_id_ok(s)) {
		snprintf(err, errlen,
		         "\"id\" must be the id a rule was given (%d hex "
		         "characters)",
		         WEB_ID_LEN);
		goto out;
	}
	memcpy(id, s, WEB_ID_LEN + 1);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

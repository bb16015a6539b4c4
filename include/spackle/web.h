/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's parts that need no server (docs/web.md): its token,
 * who may ask what, and the rules its page writes. */
#ifndef SPACKLE_WEB_H
#define SPACKLE_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "spackle/spackle.h"

#define WEB_TOKEN_BYTES 32
#define WEB_TOKEN_HEX   (2 * WEB_TOKEN_BYTES) /* characters, no NUL */
#define WEB_TOKEN_GROUP "spackle"             /* may read the token file */
#define WEB_COOKIE      "spackle_token"
#define WEB_HEADER      "X-Spackle-Token"
#define WEB_ID_LEN      8 /* hex characters of a page rule's id */
#define WEB_NOTE_PREFIX "web:"

/* ---- the token (src/web_token.c) -------------------------------------- */

/* WEB_TOKEN_BYTES from getrandom(2) as lower-case hex into tok (room for
 * WEB_TOKEN_HEX + 1). 0, or -1 with errno. */
int web_token_make(char *tok);

/*
 * Write tok and a newline to path, replacing it: mode 0640, owner root,
 * group WEB_TOKEN_GROUP; when that group does not exist, 0600 root:root.
 * The folder is made (0755) when missing. Written to a new file renamed
 * over path, so a reader never sees half a token. 0, or -1 with the
 * reason in err.
 */
int web_token_write(const char *path, const char *tok, char *err,
                    size_t errlen);

/* The token in path (WEB_TOKEN_HEX hex characters, a newline optional)
 * into tok. 0, or -1 with the reason in err. */
int web_token_read(const char *path, char *tok, char *err, size_t errlen);

/* Is got (NUL-terminated, any length, NULL for none) the token want? In
 * time that depends on got's length only, never on where they differ. */
bool web_token_equal(const char *want, const char *got);

/* ---- who may ask what ------------------------------------------------- */

/* What a request carried: each NULL when absent. */
struct web_creds {
	const char *query;  /* ?token=T, decoded */
	const char *cookie; /* the whole Cookie header */
	const char *header; /* X-Spackle-Token */
};

enum web_auth {
	WEB_AUTH_OK = 0,
	WEB_AUTH_SET_COOKIE, /* OK, by ?token=: answer with Set-Cookie */
	WEB_AUTH_NO_TOKEN,   /* 401 */
	WEB_AUTH_NO_HEADER,  /* a change without X-Spackle-Token: 403 */
};

/*
 * Whether a request may be answered. A view (change false) takes the
 * token from the header, else the query, else the cookie: the first of
 * them given decides, so a cookie left from before a restart does not
 * stand in the way of the new URL. A change takes it only from the
 * header (NO_HEADER when the query or cookie is right), so another
 * site in the same browser, which sends the cookie but cannot set the
 * header, cannot make one.
 */
enum web_auth web_auth_decide(const char *token, const struct web_creds *c,
                              bool change);

/* The value of cookie `name` in a Cookie header into buf; false when it
 * is not there (or too long for buf). */
bool web_cookie_get(const char *header, const char *name, char *buf,
                    size_t len);

/* ---- the page's rules (src/web_rule.c) -------------------------------- */

/* POST /api/rule's body. */
struct web_rule_req {
	enum sp_verdict action;     /* SP_VERDICT_ALLOW or SP_VERDICT_DENY */
	enum sp_dir dir;            /* SP_DIR_OUT (the default) or SP_DIR_IN */
	char process[SP_PATH_MAX];  /* "" for any process */
	char host[SP_NAME_MAX + 1]; /* lower case; "" when not by name */
	char address[64];           /* canonical text; "" when not */
	bool any;                   /* to any remote */
};

/*
 * Parse a JSON body {"action":"deny"|"allow", "dir":"out"|"in" (optional,
 * out by default), "process":PATH (optional), and one of "host":NAME,
 * "address":ADDR, "any":true}. Every string is
 * checked here: a process path with a control character (a newline), a
 * `*` or a `?` (a rule would read those as a pattern), a host that is not
 * a name a rule can match, an address that is none: refused. 0, or -1
 * with what is wrong in err.
 */
int web_rule_parse(const char *body, size_t len, struct web_rule_req *r,
                   char *err, size_t errlen);

/*
 * The rule's line (no newline) into buf: `deny out process "PATH" to host
 * NAME note "web:ID"` (an inbound one `deny in ... from ...`), the path with
 * `"` and `\` escaped as RULES.md says. Returns the length it needed (like
 * snprintf).
 */
size_t web_rule_text(const struct web_rule_req *r, const char *id, char *buf,
                     size_t len);

/* A fresh id (WEB_ID_LEN hex characters and a NUL into id). 0 or -1. */
int web_rule_id(char *id);

/* Is id WEB_ID_LEN lower-case hex characters? */
bool web_rule_id_ok(const char *id);

/*
 * The line of text (a rule file's) whose rule has note "web:ID": its
 * offset and length (with its newline) in *off and *n, and its 1-based
 * number as the return value; 0 when no line has it.
 */
unsigned web_rule_find(const char *text, size_t len, const char *id,
                       size_t *off, size_t *n);

/* POST /api/undo's body {"id":ID} into id. 0, or -1 with err. */
int web_undo_parse(const char *body, size_t len, char *id, char *err,
                   size_t errlen);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the web monitor's request bodies: whatever a
 * POST /api/rule body holds, a rule it is taken for is one line that
 * loads as exactly one rule of the process it named; and the undo body,
 * the Cookie header and the auth decision never crash. */
#include <stdlib.h>
#include <string.h>

#include "spackle/rules.h"
#include "spackle/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_rule(const struct web_rule_req *r)
{
	char text[SP_PATH_MAX + 512];
	const struct rules_rule *got;
	struct rules_diags d;
	struct ruleset *rs;
	size_t n = web_rule_text(r, "0123abcd", text, sizeof(text) - 1);

	if (n == 0 || n >= sizeof(text) - 1 || memchr(text, '\n', n) != NULL ||
	    memchr(text, '\r', n) != NULL)
		abort();
	text[n++] = '\n';
	text[n] = '\0';
	memset(&d, 0, sizeof(d));
	if ((rs = rules_new()) == NULL)
		return;
	if (rules_load_buffer(rs, "90-web.rules", text, n, &d) != 0 ||
	    d.errors != 0 || rules_count(rs) != 1)
		abort();
	got = rules_get(rs, 0);
	if (got->action != r->action || got->dir != r->dir ||
	    (r->process[0] == '\0') != (got->process == NULL) ||
	    (got->process != NULL && strcmp(got->process, r->process) != 0) ||
	    got->note == NULL || strcmp(got->note, "web:0123abcd") != 0)
		abort();
	rules_diags_free(&d);
	rules_free(rs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char tok[] = "00112233445566778899aabbccddeeff"
	                          "00112233445566778899aabbccddeeff";
	struct web_rule_req *r = malloc(sizeof(*r));
	struct web_creds c = {0};
	char err[512], id[WEB_ID_LEN + 1], v[80], *s;

	if (r == NULL)
		return 0;
	if (web_rule_parse((const char *)data, size, r, err, sizeof(err)) == 0)
		check_rule(r);
	free(r);
	if (web_undo_parse((const char *)data, size, id, err, sizeof(err)) ==
	            0 &&
	    !web_rule_id_ok(id))
		abort();
	/* As text: a Cookie header, a query token, a header token. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	web_cookie_get(s, WEB_COOKIE, v, sizeof(v));
	c.cookie = s;
	if (web_auth_decide(tok, &c, false) != WEB_AUTH_NO_TOKEN &&
	    strstr(s, tok) == NULL)
		abort();
	c.query = s;
	if (web_auth_decide(tok, &c, false) == WEB_AUTH_SET_COOKIE &&
	    strcmp(s, tok) != 0)
		abort();
	free(s);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's parts without a server: the token, who may ask what,
 * the rules the page writes (hostile names stay one rule), the bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/rules.h"
#include "spackle/web.h"

static const char tok[] =
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void
test_token_make_and_equal(void **state)
{
	char a[WEB_TOKEN_HEX + 1], b[WEB_TOKEN_HEX + 1],
	        wrong[WEB_TOKEN_HEX + 1];
	size_t i;

	(void)state;
	assert_int_equal(web_token_make(a), 0);
	assert_int_equal(web_token_make(b), 0);
	assert_int_equal(strlen(a), WEB_TOKEN_HEX);
	assert_int_equal(strspn(a, "0123456789abcdef"), WEB_TOKEN_HEX);
	assert_string_not_equal(a, b);
	assert_true(web_token_equal(a, a));
	assert_false(web_token_equal(a, b));
	assert_false(web_token_equal(a, NULL));
	assert_false(web_token_equal(a, ""));
	/* A prefix, the token with more after it, one character changed
	 * at either end: all wrong. */
	memcpy(wrong, a, sizeof(wrong));
	wrong[WEB_TOKEN_HEX - 1] = '\0';
	assert_false(web_token_equal(a, wrong));
	{
		char longer[WEB_TOKEN_HEX + 2];

		snprintf(longer, sizeof(longer), "%s0", a);
		assert_false(web_token_equal(a, longer));
	}
	for (i = 0; i < WEB_TOKEN_HEX; i += WEB_TOKEN_HEX - 1) {
		memcpy(wrong, a, sizeof(wrong));
		wrong[i] = wrong[i] == 'a' ? 'b' : 'a';
		assert_false(web_token_equal(a, wrong));
	}
}

static void
test_token_file(void **state)
{
	char dir[] = "/tmp/spackle-webtok.XXXXXX", path[128], got[65];
	char err[256];
	struct group *g;
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/web.token", dir);
	if (geteuid() != 0) {
		/* Owner root needs root: the write is refused, said so. */
		assert_int_equal(web_token_write(path, tok, err, sizeof(err)),
		                 -1);
		assert_non_null(strstr(err, "web.token.new"));
	} else {
		assert_int_equal(web_token_write(path, tok, err, sizeof(err)),
		                 0);
		assert_int_equal(stat(path, &st), 0);
		g = getgrnam(WEB_TOKEN_GROUP);
		assert_int_equal(st.st_uid, 0);
		assert_int_equal(st.st_gid, g != NULL ? g->gr_gid : 0);
		assert_int_equal(st.st_mode & 07777, g != NULL ? 0640 : 0600);
		assert_int_equal(web_token_read(path, got, err, sizeof(err)),
		                 0);
		assert_string_equal(got, tok);
		/* The next start replaces it. */
		{
			char next[WEB_TOKEN_HEX + 1];

			assert_int_equal(web_token_make(next), 0);
			assert_int_equal(
			        web_token_write(path, next, err, sizeof(err)),
			        0);
			assert_int_equal(
			        web_token_read(path, got, err, sizeof(err)), 0);
			assert_string_equal(got, next);
		}
	}
	/* Not a token: refused with the path and why. */
	snprintf(path, sizeof(path), "%s/bad", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("<html>\n", f);
	fclose(f);
	assert_int_equal(web_token_read(path, got, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a token"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(web_token_read(path, got, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static void
test_cookie(void **state)
{
	char v[80];

	(void)state;
	assert_true(
	        web_cookie_get("spackle_token=abc", WEB_COOKIE, v, sizeof(v)));
	assert_string_equal(v, "abc");
	assert_true(web_cookie_get("a=1; spackle_token=xyz; b=2", WEB_COOKIE, v,
	                           sizeof(v)));
	assert_string_equal(v, "xyz");
	/* A cookie whose name ends in ours is not ours. */
	assert_false(web_cookie_get("my_spackle_token=abc", WEB_COOKIE, v,
	                            sizeof(v)));
	assert_false(web_cookie_get("", WEB_COOKIE, v, sizeof(v)));
	/* Too long for the room: not taken, not cut. */
	assert_false(
	        web_cookie_get("spackle_token=0123456789", WEB_COOKIE, v, 4));
}

static void
test_auth(void **state)
{
	char cookie[128], bad[128];
	struct web_creds c;

	(void)state;
	snprintf(cookie, sizeof(cookie), "theme=dark; " WEB_COOKIE "=%s", tok);
	snprintf(bad, sizeof(bad), WEB_COOKIE "=%.63s0", tok);
	/* Nothing: 401, for a view and a change alike. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(web_auth_decide(tok, &c, false), WEB_AUTH_NO_TOKEN);
	assert_int_equal(web_auth_decide(tok, &c, true), WEB_AUTH_NO_TOKEN);
	/* The page load: the query, answered with the cookie. */
	c.query = tok;
	assert_int_equal(web_auth_decide(tok, &c, false), WEB_AUTH_SET_COOKIE);
	c.query = "0";
	assert_int_equal(web_auth_decide(tok, &c, false), WEB_AUTH_NO_TOKEN);
	/* A right query wins over a cookie left from an earlier token. */
	c.query = tok;
	c.cookie = bad;
	assert_int_equal(web_auth_decide(tok, &c, false), WEB_AUTH_SET_COOKIE);
	/* The cookie alone: a view yes, a change no (another site's form
	 * sends it too). */
	memset(&c, 0, sizeof(c));
	c.cookie = cookie;
	assert_int_equal(web_auth_decide(tok, &c, false), WEB_AUTH_OK);
	assert_int_equal(web_auth_decide(tok, &c, true), WEB_AUTH_NO_HEADER);
	c.cookie = bad;
	assert_int_equal(web_auth_decide(tok, &c, false), WEB_AUTH_NO_TOKEN);
	assert_int_equal(web_auth_decide(tok, &c, true), WEB_AUTH_NO_TOKEN);
	/* The header: views and changes; a wrong one is a 401 even with a
	 * right cookie. */
	memset(&c, 0, sizeof(c));
	c.header = tok;
	assert_int_equal(web_auth_decide(tok, &c, false), WEB_AUTH_OK);
	assert_int_equal(web_auth_decide(tok, &c, true), WEB_AUTH_OK);
	c.header = "x";
	c.cookie = cookie;
	assert_int_equal(web_auth_decide(tok, &c, true), WEB_AUTH_NO_TOKEN);
	assert_int_equal(web_auth_decide(tok, &c, false), WEB_AUTH_NO_TOKEN);
}

/* body -> the rule line, or NULL when it must be refused (err then has
 * `why` in it). The line is loaded as a rule file: exactly one rule, of
 * the action, process and remote asked for. */
static void
rule_case(const char *body, const char *line, const char *process,
          const char *why)
{
	struct web_rule_req r;
	struct ruleset *rs;
	struct rules_diags d;
	const struct rules_rule *got;
	char err[256], text[SP_PATH_MAX + 256];
	int rc = web_rule_parse(body, strlen(body), &r, err, sizeof(err));

	if (why != NULL) {
		if (rc == 0 || strstr(err, why) == NULL)
			fail_msg("%s: want refused for \"%s\", got %d \"%s\"",
			         body, why, rc, rc == 0 ? "" : err);
		return;
	}
	if (rc != 0)
		fail_msg("%s: refused: %s", body, err);
	web_rule_text(&r, "0123abcd", text, sizeof(text));
	assert_string_equal(text, line);
	memset(&d, 0, sizeof(d));
	rs = rules_new();
	assert_non_null(rs);
	strcat(text, "\n");
	assert_int_equal(
	        rules_load_buffer(rs, "90-web.rules", text, strlen(text), &d),
	        0);
	assert_int_equal(d.errors, 0);
	assert_int_equal(rules_count(rs), 1);
	got = rules_get(rs, 0);
	if (process == NULL)
		assert_null(got->process);
	else
		assert_string_equal(got->process, process);
	assert_string_equal(got->note, "web:0123abcd");
	rules_diags_free(&d);
	rules_free(rs);
}

static void
test_rule_text(void **state)
{
	(void)state;
	rule_case("{\"action\":\"deny\",\"process\":\"/usr/bin/curl\","
	          "\"host\":\"Example.COM.\"}",
	          "deny out process \"/usr/bin/curl\" to host example.com "
	          "note \"web:0123abcd\"",
	          "/usr/bin/curl", NULL);
	rule_case("{\"action\":\"allow\",\"address\":\"2001:DB8::0:1\"}",
	          "allow out to 2001:db8::1 note \"web:0123abcd\"", NULL, NULL);
	/* An inbound flow's rule: in, from its remote end. */
	rule_case("{\"action\":\"deny\",\"dir\":\"in\",\"process\":"
	          "\"/usr/sbin/sshd\",\"address\":\"203.0.113.9\"}",
	          "deny in process \"/usr/sbin/sshd\" from 203.0.113.9 note "
	          "\"web:0123abcd\"",
	          "/usr/sbin/sshd", NULL);
	rule_case("{\"action\":\"allow\",\"dir\":\"out\",\"host\":"
	          "\"a.example\"}",
	          "allow out to host a.example note \"web:0123abcd\"", NULL,
	          NULL);
	rule_case("{\"any\":true,\"action\":\"deny\",\"process\":\"/bin/x\"}",
	          "deny out process \"/bin/x\" to any note \"web:0123abcd\"",
	          "/bin/x", NULL);
	/* Quotes and backslashes: escaped, the path read back whole. */
	rule_case("{\"action\":\"deny\",\"process\":"
	          "\"/tmp/a\\\" to any note \\\"x\",\"host\":\"a.example\"}",
	          "deny out process \"/tmp/a\\\" to any note \\\"x\" to host "
	          "a.example note \"web:0123abcd\"",
	          "/tmp/a\" to any note \"x", NULL);
	rule_case("{\"action\":\"deny\",\"process\":\"/tmp/b\\\\\","
	          "\"host\":\"a.example\"}",
	          "deny out process \"/tmp/b\\\\\" to host a.example note "
	          "\"web:0123abcd\"",
	          "/tmp/b\\", NULL);
	rule_case("{\"action\":\"deny\",\"process\":\"/tmp/\\u00e9t\\u00e9\","
	          "\"any\":true}",
	          "deny out process \"/tmp/\xc3\xa9t\xc3\xa9\" to any note "
	          "\"web:0123abcd\"",
	          "/tmp/\xc3\xa9t\xc3\xa9", NULL);
	/* A newline, a carriage return, a NUL, a pattern: refused, so no
	 * second rule can ride along. */
	rule_case("{\"action\":\"deny\",\"process\":\"/a\\nallow out to "
	          "any\",\"any\":true}",
	          NULL, NULL, "control character");
	rule_case("{\"action\":\"deny\",\"process\":\"/a\\r\",\"any\":true}",
	          NULL, NULL, "control character");
	rule_case("{\"action\":\"deny\",\"process\":\"/a\\u0000b\",\"any\":"
	          "true}",
	          NULL, NULL, "u0000 is not allowed");
	rule_case("{\"action\":\"deny\",\"process\":\"/usr/*\",\"any\":true}",
	          NULL, NULL, "pattern");
	rule_case("{\"action\":\"deny\",\"process\":\"curl\",\"any\":true}",
	          NULL, NULL, "not an absolute path");
	/* Hosts: only names a rule can match. */
	rule_case("{\"action\":\"deny\",\"host\":\"a.example\\nallow out to "
	          "any\"}",
	          NULL, NULL, "host is not a name");
	rule_case("{\"action\":\"deny\",\"host\":\"<img src=x "
	          "onerror=alert(1)>\"}",
	          NULL, NULL, "host is not a name");
	rule_case("{\"action\":\"deny\",\"host\":\"a\\\"b\"}", NULL, NULL,
	          "host is not a name");
	rule_case("{\"action\":\"deny\",\"address\":\"192.0.2.1 port 22\"}",
	          NULL, NULL, "not an IPv4 or IPv6 address");
	/* The shape: one remote, known fields, right types. */
	rule_case("{\"action\":\"reject\",\"any\":true}", NULL, NULL,
	          "\"action\" must be");
	rule_case("{\"action\":\"deny\"}", NULL, NULL, "(0 given)");
	rule_case("{\"action\":\"deny\",\"any\":true,\"host\":\"a.b\"}", NULL,
	          NULL, "(2 given)");
	rule_case("{\"action\":\"deny\",\"any\":false}", NULL, NULL,
	          "\"any\" can only be true");
	rule_case("{\"action\":\"deny\",\"any\":true,\"port\":22}", NULL, NULL,
	          "unknown field \"port\"");
	rule_case("{\"action\":\"deny\",\"any\":true,\"dir\":\"forward\"}",
	          NULL, NULL, "\"dir\" must be");
	rule_case("{\"action\":\"deny\",\"any\":true,\"any\":true}", NULL, NULL,
	          "not JSON");
	rule_case("[1]", NULL, NULL, "not a JSON object");
	rule_case("{\"action\":1,\"any\":true}", NULL, NULL, "must be strings");
	rule_case("deny out to any", NULL, NULL, "not JSON");
}

static void
test_find_and_undo(void **state)
{
	static const char text[] =
	        "# note \"web:0123abcd\"\n"
	        "deny out to any note \"web:aaaaaaaa\"\n"
	        "deny out to host x.example note \"web:0123abcd\"\n"
	        "allow out to any note \"web:0123abcd\" # moved\n";
	size_t off, n;
	char id[WEB_ID_LEN + 1], err[256];

	(void)state;
	assert_int_equal(
	        web_rule_find(text, strlen(text), "0123abcd", &off, &n), 3);
	assert_memory_equal(text + off, "deny out to host x.example", 26);
	assert_int_equal(text[off + n - 1], '\n');
	assert_int_equal(
	        web_rule_find(text, strlen(text), "bbbbbbbb", &off, &n), 0);
	/* The last line without its newline. */
	assert_int_equal(web_rule_find("x note \"web:aaaaaaaa\"", 21,
	                               "aaaaaaaa", &off, &n),
	                 1);
	assert_int_equal(n, 21);

	assert_int_equal(web_rule_id(id), 0);
	assert_true(web_rule_id_ok(id));
	assert_false(web_rule_id_ok("0123abc"));
	assert_false(web_rule_id_ok("0123abcde"));
	assert_false(web_rule_id_ok("0123ABCD"));
	assert_int_equal(web_undo_parse("{\"id\":\"0123abcd\"}", 17, id, err,
	                                sizeof(err)),
	                 0);
	assert_string_equal(id, "0123abcd");
	assert_int_equal(web_undo_parse("{\"id\":\"0123abcd\\n\"}", 19, id, err,
	                                sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "\"id\" must be"));
	assert_int_equal(web_undo_parse("{\"id\":\"0123abcd\",\"x\":1}", 23, id,
	                                err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "unknown field \"x\""));
	assert_int_equal(web_undo_parse("{", 1, id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not JSON"));
}

/* What `rules check` would load with one file's text replaced, or added
 * where it is not yet, in its place among the others. */
static void
test_load_path_with(void **state)
{
	char dir[] = "/tmp/spackle-webrules.XXXXXX", path[128], file[128];
	struct rules_diags d;
	struct ruleset *rs;
	const char *t = "deny out to host b.example\n";
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/10-a.rules", dir);
	f = fopen(path, "w");
	fputs("allow out to host a.example\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/99-z.rules", dir);
	f = fopen(path, "w");
	fputs("allow out to host z.example\n", f);
	fclose(f);
	snprintf(file, sizeof(file), "%s/50-web.rules", dir);
	memset(&d, 0, sizeof(d));
	rs = rules_new();
	assert_int_equal(rules_load_path_with(rs, dir, file, t, strlen(t), &d),
	                 0);
	assert_int_equal(rules_count(rs), 3);
	assert_string_equal(rules_get(rs, 1)->targets[0].name, "b.example");
	assert_string_equal(rules_get(rs, 1)->file, file);
	assert_string_equal(rules_get(rs, 2)->targets[0].name, "z.example");
	rules_free(rs);
	/* A bad text: its error, named by the file's path and line. */
	rs = rules_new();
	assert_int_equal(rules_load_path_with(rs, dir, file,
	                                      "\ndeny out to hots x\n", 19, &d),
	                 -1);
	assert_true(d.errors > 0);
	assert_string_equal(d.v[0].file, file);
	assert_int_equal(d.v[0].line, 2);
	rules_diags_free(&d);
	rules_free(rs);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_token_make_and_equal),
	        cmocka_unit_test(test_token_file),
	        cmocka_unit_test(test_cookie),
	        cmocka_unit_test(test_auth),
	        cmocka_unit_test(test_rule_text),
	        cmocka_unit_test(test_find_and_undo),
	        cmocka_unit_test(test_load_path_with),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

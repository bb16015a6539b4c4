/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spackle.conf: defaults, every key, and errors that name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spackle/config.h"

/* Parse text; the messages it printed land in err (NUL-terminated). */
static int
parse(struct config *c, const char *text, char *err, size_t errlen)
{
	FILE *f = fmemopen(err, errlen, "w");
	int rc;

	assert_non_null(f);
	memset(err, 0, errlen);
	rc = config_parse(c, "t.conf", text, f);
	fclose(f);
	return rc;
}

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.mode, CONFIG_MODE_ENFORCE);
	assert_int_equal(c.divert, CONFIG_DIVERT_PACKET);
	assert_int_equal(c.dflt, SP_VERDICT_ALLOW);
	assert_int_equal(c.failure, CONFIG_FAILURE_OPEN);
	assert_string_equal(c.rules, "/etc/spackle/rules.d");
	assert_string_equal(c.db, "/var/lib/spackle");
	assert_string_equal(c.control, "/run/spackle.sock");
	assert_int_equal(c.queue_base, 4200);
	assert_true(c.queues >= 1);
	assert_int_equal(c.hooks, CONFIG_HOOK_OUT | CONFIG_HOOK_IN);
	assert_int_equal(c.nexempt, 1);
	assert_string_equal(c.exempt[0], "lo");
	assert_int_equal(c.firewall, CONFIG_FIREWALL_AUTO);
}

static void
test_every_key(void **state)
{
	static const char text[] =
	        "# a comment\n"
	        "mode = monitor\n"
	        "divert=flow\n"
	        "  default   =  reject   # trailing comment\n"
	        "failure = closed\n"
	        "rules = /tmp/r.d\n"
	        "db = /tmp/db\n"
	        "control = /tmp/s.sock\n"
	        "queues = 4\n"
	        "queue_base = 100\n"
	        "hooks = out, forward\n"
	        "exempt = lo, veth0\n"
	        "firewall = iptables\n";
	struct config c;
	char err[512];
	char out[2048];
	FILE *f;
	struct config again;

	(void)state;
	config_defaults(&c);
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.mode, CONFIG_MODE_MONITOR);
	assert_int_equal(c.divert, CONFIG_DIVERT_FLOW);
	assert_int_equal(c.dflt, SP_VERDICT_REJECT);
	assert_int_equal(c.failure, CONFIG_FAILURE_CLOSED);
	assert_string_equal(c.rules, "/tmp/r.d");
	assert_string_equal(c.db, "/tmp/db");
	assert_string_equal(c.control, "/tmp/s.sock");
	assert_int_equal(c.queues, 4);
	assert_int_equal(c.queue_base, 100);
	assert_int_equal(c.hooks, CONFIG_HOOK_OUT | CONFIG_HOOK_FORWARD);
	assert_int_equal(c.nexempt, 2);
	assert_string_equal(c.exempt[1], "veth0");
	assert_int_equal(c.firewall, CONFIG_FIREWALL_IPTABLES);

	/* What config_print writes reads back the same. */
	f = fmemopen(out, sizeof(out), "w");
	config_print(f, &c);
	fclose(f);
	config_defaults(&again);
	assert_int_equal(parse(&again, out, err, sizeof(err)), 0);
	assert_int_equal(again.mode, c.mode);
	assert_int_equal(again.hooks, c.hooks);
	assert_int_equal(again.nexempt, c.nexempt);
	assert_string_equal(again.exempt[1], c.exempt[1]);
	assert_int_equal(again.dflt, c.dflt);
}

/* Every bad line is reported with its number; nothing is applied. */
static void
test_errors_name_the_line(void **state)
{
	static const char text[] = "mode = enforce\n"
	                           "colour = blue\n"
	                           "default = maybe\n"
	                           "queues = 0\n"
	                           "queues = 12x\n"
	                           "hooks = out, sideways\n"
	                           "no equals sign here\n"
	                           "mode = monitor\n";
	struct config c;
	char err[2048];

	(void)state;
	config_defaults(&c);
	assert_int_equal(parse(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.conf:2: unknown key \"colour\""));
	assert_non_null(strstr(err, "t.conf:3: default: \"maybe\""));
	assert_non_null(strstr(err, "t.conf:4: queues: \"0\""));
	assert_non_null(strstr(err, "t.conf:5: queues: \"12x\""));
	assert_non_null(
	        strstr(err, "t.conf:6: hooks: unknown hook \"sideways\""));
	assert_non_null(strstr(err, "t.conf:7: expected `key = value`"));
	/* the earlier config is untouched, even the good lines */
	assert_int_equal(c.mode, CONFIG_MODE_ENFORCE);
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/spackle-conf-XXXXXX";
	struct config c;
	FILE *f, *err;
	char ebuf[512];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("rules = /srv/rules\n", f);
	fclose(f);
	config_defaults(&c);
	err = fmemopen(ebuf, sizeof(ebuf), "w");
	assert_int_equal(config_load(&c, path, err), 0);
	assert_string_equal(c.rules, "/srv/rules");
	assert_string_equal(c.path, path);
	unlink(path);
	assert_int_equal(config_load(&c, path, err), -1);
	fclose(err);
	assert_non_null(strstr(ebuf, "cannot open"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_every_key),
	        cmocka_unit_test(test_errors_name_the_line),
	        cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

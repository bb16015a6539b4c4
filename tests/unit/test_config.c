/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spackle.conf: defaults, every key, and errors that name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
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
	assert_string_equal(c.control, "/run/spackle/spackle.sock");
	assert_string_equal(c.user, "spackle");
	assert_string_equal(c.metrics, "");
	assert_false(c.metrics_public);
	assert_string_equal(c.web, "");
	assert_false(c.web_public);
	assert_string_equal(c.web_token, "/run/spackle/web.token");
	assert_string_equal(c.web_rules, "");
	assert_int_equal(c.log, CONFIG_LOG_NONE);
	assert_int_equal(c.queue_base, 4200);
	assert_true(c.queues >= 1);
	assert_int_equal(c.hooks, CONFIG_HOOK_OUT | CONFIG_HOOK_IN);
	assert_int_equal(c.nexempt, 1);
	assert_string_equal(c.exempt[0], "lo");
	assert_int_equal(c.firewall, CONFIG_FIREWALL_AUTO);
	assert_string_equal(c.tun_name, "spackle0");
	assert_int_equal(c.tun_peer4.family, AF_INET);
	assert_int_equal(c.tun_peer6.family, AF_INET6);
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
	        "firewall = iptables\n"
	        "backend = nfqueue\n";
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
	assert_int_equal(c.backend, CONFIG_BACKEND_NFQUEUE);

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

/*
 * exempt: the words icmp and icmpv6 name protocols (reserved: no
 * interface has those names here), once each; they print back as given.
 */
static void
test_exempt_words(void **state)
{
	struct config c, again;
	char err[512], out[2048];
	FILE *f;

	(void)state;
	config_defaults(&c);
	assert_int_equal(
	        parse(&c, "exempt = icmp, lo icmpv6\n", err, sizeof(err)), 0);
	assert_int_equal(c.nexempt, 3);
	assert_string_equal(c.exempt[0], CONFIG_EXEMPT_ICMP);
	assert_string_equal(c.exempt[1], "lo");
	assert_string_equal(c.exempt[2], CONFIG_EXEMPT_ICMP6);
	f = fmemopen(out, sizeof(out), "w");
	config_print(f, &c);
	fclose(f);
	assert_non_null(strstr(out, "\nexempt = icmp, lo, icmpv6\n"));
	config_defaults(&again);
	assert_int_equal(parse(&again, out, err, sizeof(err)), 0);
	assert_int_equal(again.nexempt, 3);
	assert_string_equal(again.exempt[2], "icmpv6");

	config_defaults(&c);
	assert_int_equal(
	        parse(&c, "exempt = icmp, lo, icmp\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.conf:1: exempt: icmp is listed twice"));
	assert_int_equal(c.nexempt, 1); /* unchanged: the default lo */
	assert_string_equal(c.exempt[0], "lo");
	assert_int_equal(
	        parse(&c, "exempt = icmpv6 icmpv6\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "icmpv6 is listed twice"));
	/* Interface names may still repeat; other spellings are names. */
	assert_int_equal(
	        parse(&c, "exempt = lo, lo, ICMP, icmp6\n", err, sizeof(err)),
	        0);
	assert_int_equal(c.nexempt, 4);
}

/* c's tun_peer as config_print writes it: "A, B". */
static const char *
peers(const struct config *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s, %s",
	         sp_addr_format(&c->tun_peer4, a, sizeof(a)),
	         sp_addr_format(&c->tun_peer6, b, sizeof(b)));
	return buf;
}

/*
 * tun_name and tun_peer (the pf-macos steering's tunnel): an interface
 * name; one IPv4 and one IPv6 unicast address in either order. Both
 * print back and read again the same.
 */
static void
test_tun_keys(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
	        {"tun_name =\n",
	         "t.conf:1: tun_name: \"\" is not an interface"},
	        {"tun_name = utun1234567890123\n",
	         "t.conf:1: tun_name: \"utun1234567890123\" is not an "
	         "interface name (1 to 15"},
	        {"tun_name = ut un\n", "t.conf:1: tun_name: \"ut un\" is not"},
	        {"tun_name = tun/0\n", "(letters, digits, - _ . @)"},
	        {"tun_peer = 169.254.1.1\n",
	         "t.conf:1: tun_peer: needs one IPv4 and one IPv6 address "
	         "(IPv6 is missing)"},
	        {"tun_peer = fe80::1\n", "(IPv4 is missing)"},
	        {"tun_peer =\n", "(IPv4 is missing)"},
	        {"tun_peer = 10.0.0.1, 10.0.0.2\n",
	         "t.conf:1: tun_peer: two IPv4 addresses"},
	        {"tun_peer = fe80::1 fe80::2\n", "two IPv6 addresses"},
	        {"tun_peer = 10.0.0.1, fe80::1, 10.0.0.2\n",
	         "more than two addresses (at \"10.0.0.2\")"},
	        {"tun_peer = 10.0.0.1, peer\n",
	         "t.conf:1: tun_peer: \"peer\" is not an IPv4 or IPv6 address"},
	        {"tun_peer = 10.0.0.1/32, fe80::1\n", "\"10.0.0.1/32\" is not"},
	        {"tun_peer = 0.0.0.0, fe80::1\n",
	         "t.conf:1: tun_peer: 0.0.0.0 is the unspecified address, not "
	         "a tunnel's peer"},
	        {"tun_peer = 127.0.0.2, fe80::1\n", "is a loopback address"},
	        {"tun_peer = 224.0.0.1, fe80::1\n",
	         "is a multicast or reserved address"},
	        {"tun_peer = 255.255.255.255, fe80::1\n",
	         "multicast or reserved"},
	        {"tun_peer = 10.0.0.1, ::\n", ":: is the unspecified address"},
	        {"tun_peer = 10.0.0.1, ::1\n", "::1 is the loopback address"},
	        {"tun_peer = 10.0.0.1, ff02::1\n", "is a multicast address"},
	        {"tun_peer = 10.0.0.1, ::ffff:10.0.0.2\n",
	         "is an IPv4-mapped address"},
	};
	struct config c, again;
	char err[512], out[2048], p[128];
	FILE *f;
	size_t i;

	(void)state;
	config_defaults(&c);
	assert_string_equal(peers(&c, p, sizeof(p)),
	                    "169.254.42.2, fe80::2a:2");
	assert_int_equal(parse(&c,
	                       "tun_name = utun7\n"
	                       "tun_peer = fe80::1:2,169.254.7.2\n",
	                       err, sizeof(err)),
	                 0);
	assert_string_equal(err, "");
	assert_string_equal(c.tun_name, "utun7");
	assert_string_equal(peers(&c, p, sizeof(p)), "169.254.7.2, fe80::1:2");
	f = fmemopen(out, sizeof(out), "w");
	config_print(f, &c);
	fclose(f);
	assert_non_null(strstr(out, "\ntun_name = utun7\n"));
	assert_non_null(strstr(out, "\ntun_peer = 169.254.7.2, fe80::1:2\n"));
	config_defaults(&again);
	assert_int_equal(parse(&again, out, err, sizeof(err)), 0);
	assert_string_equal(again.tun_name, "utun7");
	assert_true(sp_addr_equal(&again.tun_peer4, &c.tun_peer4));
	assert_true(sp_addr_equal(&again.tun_peer6, &c.tun_peer6));

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		if (parse(&c, bad[i].text, err, sizeof(err)) != -1)
			fail_msg("case %zu (%s) was taken", i, bad[i].text);
		if (strstr(err, bad[i].err) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
			         bad[i].err);
		/* Nothing applied. */
		assert_string_equal(c.tun_name, "spackle0");
		assert_string_equal(peers(&c, p, sizeof(p)),
		                    "169.254.42.2, fe80::2a:2");
	}
	/* A reload names them as needing a restart. */
	config_defaults(&c);
	again = c;
	assert_int_equal(parse(&again, "tun_name = tun5\n", err, sizeof(err)),
	                 0);
	assert_int_equal(config_changed_keys(&c, &again, out, sizeof(out)), 1);
	assert_string_equal(out, "tun_name");
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

/* The store's and the capture's keys: sizes and durations with units. */
static void
test_store_keys(void **state)
{
	static const char text[] = "db_max_size = 2G\n"
	                           "db_max_age = 30d\n"
	                           "store_flush_ms = 50\n"
	                           "store_flush_records = 500\n"
	                           "store_queue = 1MiB\n"
	                           "capture_denied = /tmp/denied.pcap\n"
	                           "capture_max_size = 16M\n"
	                           "capture_keep = 3\n";
	static const char bad[] = "db_max_size = 10\n"
	                          "db_max_age = 5x\n"
	                          "store_queue = 1K\n"
	                          "capture_max_size = lots\n"
	                          "store_flush_ms = 0\n"
	                          "db_max_size = 2Q\n";
	struct config c, again;
	char err[2048], out[4096];
	FILE *f;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.db_max_size, 1ull << 30);
	assert_int_equal(c.db_max_age, 90 * 86400);
	assert_int_equal(c.store_flush_ms, 100);
	assert_int_equal(c.store_flush_records, 10000);
	assert_int_equal(c.store_queue, 4u << 20);
	assert_string_equal(c.capture_denied, "");
	assert_int_equal(c.capture_max_size, 64u << 20);
	assert_int_equal(c.capture_keep, 4);

	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.db_max_size, 2ull << 30);
	assert_int_equal(c.db_max_age, 30 * 86400);
	assert_int_equal(c.store_flush_ms, 50);
	assert_int_equal(c.store_flush_records, 500);
	assert_int_equal(c.store_queue, 1u << 20);
	assert_string_equal(c.capture_denied, "/tmp/denied.pcap");
	assert_int_equal(c.capture_max_size, 16u << 20);
	assert_int_equal(c.capture_keep, 3);
	assert_int_equal(parse(&c, "db_max_age = 0\n", err, sizeof(err)), 0);
	assert_int_equal(c.db_max_age, 0);
	assert_int_equal(parse(&c, "db_max_age = 90\n", err, sizeof(err)), 0);
	assert_int_equal(c.db_max_age, 90);
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);

	/* Printed and read back alike. */
	f = fmemopen(out, sizeof(out), "w");
	config_print(f, &c);
	fclose(f);
	config_defaults(&again);
	assert_int_equal(parse(&again, out, err, sizeof(err)), 0);
	assert_int_equal(again.db_max_size, c.db_max_size);
	assert_int_equal(again.db_max_age, c.db_max_age);
	assert_int_equal(again.store_queue, c.store_queue);
	assert_string_equal(again.capture_denied, c.capture_denied);
	assert_int_equal(again.capture_max_size, c.capture_max_size);
	assert_int_equal(again.capture_keep, c.capture_keep);

	assert_int_equal(parse(&c, bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.conf:1: db_max_size: \"10\""));
	assert_non_null(strstr(err, "t.conf:2: db_max_age: \"5x\""));
	assert_non_null(strstr(err, "t.conf:3: store_queue: \"1K\""));
	assert_non_null(strstr(err, "t.conf:4: capture_max_size"));
	assert_non_null(strstr(err, "t.conf:5: store_flush_ms"));
	assert_non_null(strstr(err, "t.conf:6: db_max_size: \"2Q\""));
	assert_int_equal(c.db_max_size, 2ull << 30);
}

/* The service's keys: user, metrics (loopback unless public), log. */
static void
test_service_keys(void **state)
{
	struct config c, again;
	char err[2048], out[4096];
	FILE *f;

	(void)state;
	config_defaults(&c);
	assert_int_equal(parse(&c,
	                       "user = _spackle-2\n"
	                       "metrics = 127.0.0.1:9477\n"
	                       "log = json:/var/log/spackle/decisions.json\n",
	                       err, sizeof(err)),
	                 0);
	assert_string_equal(c.user, "_spackle-2");
	assert_string_equal(c.metrics, "127.0.0.1:9477");
	assert_int_equal(c.log, CONFIG_LOG_JSON);
	assert_string_equal(c.log_path, "/var/log/spackle/decisions.json");
	f = fmemopen(out, sizeof(out), "w");
	config_print(f, &c);
	fclose(f);
	config_defaults(&again);
	assert_int_equal(parse(&again, out, err, sizeof(err)), 0);
	assert_string_equal(again.user, c.user);
	assert_string_equal(again.metrics, c.metrics);
	assert_int_equal(again.log, CONFIG_LOG_JSON);
	assert_string_equal(again.log_path, c.log_path);

	assert_int_equal(parse(&c, "metrics = [::1]:9477\nlog = stderr\n", err,
	                       sizeof(err)),
	                 0);
	assert_int_equal(c.log, CONFIG_LOG_STDERR);
	assert_string_equal(c.log_path, "");
	/* A public address needs metrics_public, before or after it. */
	assert_int_equal(parse(&c, "log = syslog\nmetrics = 192.0.2.1:9477\n",
	                       err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:2: metrics: 192.0.2.1:9477 is not "
	                            "a loopback address"));
	assert_int_equal(c.log, CONFIG_LOG_STDERR); /* nothing applied */
	assert_int_equal(parse(&c,
	                       "metrics = [2001:db8::1]:80\n"
	                       "metrics_public = yes\n",
	                       err, sizeof(err)),
	                 0);
	assert_true(c.metrics_public);

	assert_int_equal(parse(&c,
	                       "user = Root!\n"
	                       "metrics = localhost:9477\n"
	                       "metrics = 127.0.0.1:70000\n"
	                       "metrics = ::1:9477\n"
	                       "log = json:relative.json\n"
	                       "log = file\n"
	                       "metrics_public = maybe\n",
	                       err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:1: user: \"Root!\" is not a user"));
	assert_non_null(strstr(err, "t.conf:2: metrics: \"localhost:9477\""));
	assert_non_null(strstr(err, "t.conf:3: metrics: \"127.0.0.1:70000\""));
	assert_non_null(strstr(err, "t.conf:4: metrics: \"::1:9477\""));
	assert_non_null(strstr(err, "t.conf:5: log: \"json:relative.json\": "
	                            "json: needs an absolute path"));
	assert_non_null(strstr(err, "t.conf:6: log: \"file\" is not one of"));
	assert_non_null(strstr(err, "t.conf:7: metrics_public: \"maybe\""));
}

/* The web monitor's keys: web (loopback unless web_public), web_token,
 * web_rules (in the rules folder, *.rules); each error names its line. */
static void
test_web_keys(void **state)
{
	struct config c, again;
	char err[2048], out[8192], buf[SP_PATH_MAX];
	FILE *f;

	(void)state;
	config_defaults(&c);
	assert_string_equal(config_web_rules(&c, buf, sizeof(buf)),
	                    "/etc/spackle/rules.d/90-web.rules");
	assert_int_equal(parse(&c,
	                       "web = 127.0.0.1:3031\n"
	                       "web_token = /run/sp/tok\n"
	                       "web_rules = /etc/sp/r/50-page.rules\n"
	                       "rules = /etc/sp/r/\n",
	                       err, sizeof(err)),
	                 0);
	assert_string_equal(c.web, "127.0.0.1:3031");
	assert_string_equal(c.web_token, "/run/sp/tok");
	assert_string_equal(config_web_rules(&c, buf, sizeof(buf)),
	                    "/etc/sp/r/50-page.rules");
	/* Round trip through config_print(). */
	f = fmemopen(out, sizeof(out), "w");
	config_print(f, &c);
	fclose(f);
	config_defaults(&again);
	assert_int_equal(parse(&again, out, err, sizeof(err)), 0);
	assert_string_equal(again.web, c.web);
	assert_string_equal(again.web_token, c.web_token);
	assert_string_equal(again.web_rules, c.web_rules);
	/* The default rule file follows `rules`, a trailing slash or not. */
	config_defaults(&c);
	assert_int_equal(parse(&c, "rules = /srv/rules/\nweb = [::1]:3031\n",
	                       err, sizeof(err)),
	                 0);
	assert_string_equal(config_web_rules(&c, buf, sizeof(buf)),
	                    "/srv/rules/90-web.rules");
	/* Public only with web_public, which may come after. */
	assert_int_equal(parse(&c, "web = 192.0.2.1:3031\n", err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:1: web: 192.0.2.1:3031 is not a "
	                            "loopback address; serving it to the "
	                            "network needs web_public = yes"));
	assert_int_equal(parse(&c,
	                       "web = [2001:db8::1]:3031\n"
	                       "web_public = yes\n",
	                       err, sizeof(err)),
	                 0);
	assert_true(c.web_public);
	/* Bad values, each on its line; nothing applied. */
	config_defaults(&c);
	assert_int_equal(parse(&c,
	                       "web = localhost:3031\n"
	                       "web_public = sure\n"
	                       "web_token = run/web.token\n"
	                       "web = 127.0.0.1:0\n"
	                       "web_rules = relative.rules\n",
	                       err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:1: web: \"localhost:3031\" is "
	                            "not ADDR:PORT"));
	assert_non_null(strstr(err, "t.conf:2: web_public: \"sure\": use "
	                            "yes or no"));
	assert_non_null(strstr(err, "t.conf:3: web_token: \"run/web.token\" "
	                            "is not an absolute path"));
	assert_non_null(strstr(err, "t.conf:4: web: \"127.0.0.1:0\""));
	assert_non_null(strstr(err, "t.conf:5: web_rules: \"relative.rules\" "
	                            "is not an absolute path"));
	assert_string_equal(c.web, "");
	/* The page's file must be one a reload reads. */
	assert_int_equal(parse(&c,
	                       "rules = /etc/sp/r\n"
	                       "web_rules = /etc/sp/other/90-web.rules\n",
	                       err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:2: web_rules: "
	                            "/etc/sp/other/90-web.rules is not in the "
	                            "rules folder /etc/sp/r"));
	assert_int_equal(parse(&c,
	                       "web_rules = /etc/sp/r/web.txt\n"
	                       "rules = /etc/sp/r\n",
	                       err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:1: web_rules: /etc/sp/r/web.txt: "
	                            "the name must end in .rules"));
	assert_int_equal(parse(&c,
	                       "web_rules = /etc/sp/r/.rules\n"
	                       "rules = /etc/sp/r\n",
	                       err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:1: web_rules:"));
}

/* `backend` names a divert backend; an unknown one is an error with its
 * line. */
static void
test_backend_key(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.backend, CONFIG_BACKEND_NFQUEUE);
	assert_string_equal(config_backend_name(c.backend), "nfqueue");
	assert_int_equal(
	        parse(&c, "backend = divert-sockets\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.conf:1: backend: \"divert-sockets\" "
	                            "is not one of nfqueue"));
}

/* What a reload can name as needing a restart: every key that differs,
 * once, whichever side has it; nothing when the two are the same. */
static void
test_changed_keys(void **state)
{
	struct config a, b;
	char buf[256];

	(void)state;
	config_defaults(&a);
	b = a;
	assert_int_equal(config_changed_keys(&a, &b, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	b.queues = a.queues + 1;
	b.divert = CONFIG_DIVERT_FLOW;
	snprintf(b.capture_denied, sizeof(b.capture_denied), "/tmp/d.pcap");
	assert_int_equal(config_changed_keys(&a, &b, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "divert, queues, capture_denied");
	/* The other way round, the key only b printed comes last too. */
	assert_int_equal(config_changed_keys(&b, &a, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "divert, queues, capture_denied");
	/* A key that is a prefix of another is not taken for it. */
	b = a;
	b.metrics_public = !a.metrics_public;
	assert_int_equal(config_changed_keys(&a, &b, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "metrics_public");
	/* A buffer too small is cut, the count is still whole. */
	b.queues = a.queues + 1;
	assert_int_equal(config_changed_keys(&a, &b, buf, 4), 2);
	assert_int_equal(strlen(buf), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_every_key),
	        cmocka_unit_test(test_errors_name_the_line),
	        cmocka_unit_test(test_exempt_words),
	        cmocka_unit_test(test_tun_keys),
	        cmocka_unit_test(test_load_file),
	        cmocka_unit_test(test_store_keys),
	        cmocka_unit_test(test_service_keys),
	        cmocka_unit_test(test_backend_key),
	        cmocka_unit_test(test_web_keys),
	        cmocka_unit_test(test_changed_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

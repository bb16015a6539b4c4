/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shared vocabulary of src/common.c: protocol names, the one table
 * every part reads them from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/spackle.h"

/* The rule language's words, as written, and nothing else. */
static void
test_proto_words(void **state)
{
	(void)state;
	assert_int_equal(sp_proto_number("tcp", true), SP_PROTO_TCP);
	assert_int_equal(sp_proto_number("udp", true), SP_PROTO_UDP);
	assert_int_equal(sp_proto_number("icmp", true), SP_PROTO_ICMP);
	assert_int_equal(sp_proto_number("icmp6", true), SP_PROTO_ICMP6);
	assert_int_equal(sp_proto_number("TCP", true), -1);
	assert_int_equal(sp_proto_number("icmpv6", true), -1);
	assert_int_equal(sp_proto_number("gre", true), -1);
	assert_int_equal(sp_proto_number("6", true), -1);
	assert_int_equal(sp_proto_number("", true), -1);
	assert_int_equal(sp_proto_number(NULL, true), -1);
}

/* Other tools' names, in any case. */
static void
test_proto_other_names(void **state)
{
	(void)state;
	assert_int_equal(sp_proto_number("TCP", false), SP_PROTO_TCP);
	assert_int_equal(sp_proto_number("icmpv6", false), SP_PROTO_ICMP6);
	assert_int_equal(sp_proto_number("IPv6-ICMP", false), SP_PROTO_ICMP6);
	assert_int_equal(sp_proto_number("gre", false), 47);
	assert_int_equal(sp_proto_number("sctp", false), 132);
	assert_int_equal(sp_proto_number("udplite", false), 136);
	assert_int_equal(sp_proto_number("tcp6", false), -1);
	assert_int_equal(sp_proto_number("nonsense", false), -1);
}

/* What spackle prints, and what iptables-save prints. */
static void
test_proto_printed(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(sp_proto_name(SP_PROTO_ICMP6), "icmp6");
	assert_null(sp_proto_name(47));
	assert_string_equal(sp_proto_format(SP_PROTO_UDP, buf, sizeof(buf)),
	                    "udp");
	assert_string_equal(sp_proto_format(47, buf, sizeof(buf)), "47");
	assert_string_equal(sp_proto_system_name(SP_PROTO_ICMP6), "ipv6-icmp");
	assert_string_equal(sp_proto_system_name(SP_PROTO_TCP), "tcp");
	assert_string_equal(sp_proto_system_name(47), "gre");
	assert_null(sp_proto_system_name(253));
}

/* Text for a terminal's columns: cut with an ellipsis at the start (a
 * path) or in the middle (an address), a UTF-8 character one column. */
static void
test_fit(void **state)
{
	char b[128], *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_string_equal(sp_fit(b, sizeof(b), "default", 14, true),
	                    "default");
	assert_string_equal(sp_fit(b, sizeof(b),
	                           "/etc/spackle/rules.d/90-web.rules:12", 14,
	                           true),
	                    "\xe2\x80\xa6-web.rules:12");
	assert_int_equal(sp_text_cols(b), 14);
	assert_string_equal(
	        sp_fit(b, sizeof(b),
	               "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:443", 20,
	               false),
	        "[2001:db8\xe2\x80\xa6:ffff]:443");
	assert_int_equal(sp_text_cols(b), 20);
	assert_string_equal(
	        sp_fit(b, sizeof(b), "/tmp/\xc3\xa9t\xc3\xa9/prog", 6, true),
	        "\xe2\x80\xa6/prog");
	assert_string_equal(sp_fit(b, sizeof(b),
	                           "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	                           3, false),
	                    "\xc3\xa9\xe2\x80\xa6\xc3\xa9");
	/* Too small a buffer is cut, never overrun. */
	assert_string_equal(sp_fit(b, 4, "abcdefgh", 8, true), "abc");
	f = open_memstream(&out, &len);
	sp_put(f, "\xc3\xa9", 3);
	sp_put(f, "toolong", 3);
	fclose(f);
	assert_string_equal(out, "\xc3\xa9  toolong");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_proto_words),
	        cmocka_unit_test(test_proto_other_names),
	        cmocka_unit_test(test_proto_printed),
	        cmocka_unit_test(test_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

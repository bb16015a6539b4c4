/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shared vocabulary of src/common.c: protocol names, the one table
 * every part reads them from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_proto_words),
	        cmocka_unit_test(test_proto_other_names),
	        cmocka_unit_test(test_proto_printed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

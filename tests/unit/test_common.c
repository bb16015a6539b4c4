/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shared vocabulary of src/common.c: protocol names, the one table
 * every part reads them from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* A fresh mapping's pages, resident or not, from mincore. */
static size_t
resident_pages(void *p, size_t len, size_t page)
{
	unsigned char vec[64];
	size_t i, n = 0;

	assert_true(len / page <= sizeof(vec));
	assert_int_equal(mincore(p, len, vec), 0);
	for (i = 0; i < len / page; i++)
		n += vec[i] & 1;
	return n;
}

/* Prefaulting maps every page the range touches, partial pages at either
 * end included, keeps the range zero and leaves the bytes beside it. (The
 * pages beside it may be mapped too, where the kernel faults in folios of
 * several pages: only the range's are asked for.) */
static void
test_prefault_maps_range(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 16 * page;
	uint8_t *p;
	size_t i;

	(void)state;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	         -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(resident_pages(p, len, page), 0);
	/* Pages 2 to 12, starting and ending inside a page. */
	sp_prefault_zeroed(p + 2 * page + 100, 10 * page);
	assert_int_equal(resident_pages(p + 2 * page, 11 * page, page), 11);
	for (i = 0; i < len; i++)
		assert_int_equal(p[i], 0);

	/* Bytes beside the range keep what they hold. */
	memset(p, 0xaa, len);
	memset(p + page + 7, 0, 3 * page);
	sp_prefault_zeroed(p + page + 7, 3 * page);
	assert_int_equal(p[page + 6], 0xaa);
	assert_int_equal(p[4 * page + 7], 0xaa);
	sp_prefault_zeroed(p, 0);
	assert_int_equal(p[0], 0xaa);
	assert_int_equal(munmap(p, len), 0);
}

/* The pages of a region filled from its start are mapped ahead of its
 * use, one a call, a lead's worth past it and no further; what they hold
 * stays; a use that jumps ahead moves the mapping with it. */
static void
test_ahead_maps_before_use(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 64 * page;
	size_t lead = SP_AHEAD_LEAD / page, calls = 0;
	struct sp_ahead a;
	uint8_t *p;

	(void)state;
	assert_true(lead >= 1 && 2 * lead + 30 <= 64);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	         -1, 0);
	assert_true(p != MAP_FAILED);
	p[5 * page + 9] = 0x5a;
	/* Its whole pages are 1 to 62: the partial ones at the ends are the
	 * user's to fault in. */
	sp_ahead_init(&a, p + 100, len - 200);
	while (sp_ahead_fill(&a, p + 100))
		calls++;
	assert_int_equal(calls, lead);
	assert_int_equal(resident_pages(p + page, lead * page, page), lead);
	assert_int_equal(resident_pages(p + 48 * page, 16 * page, page), 0);
	assert_int_equal(p[5 * page + 9], 0x5a);
	assert_int_equal(p[5 * page + 8], 0);
	/* Nothing to do while the use stays where it was. */
	assert_false(sp_ahead_fill(&a, p + 100));

	/* The use jumps to page 30: what it passed is its own, the lead
	 * after it is mapped. */
	calls = 0;
	while (sp_ahead_fill(&a, p + 30 * page))
		calls++;
	assert_int_equal(calls, lead);
	assert_int_equal(resident_pages(p + 30 * page, lead * page, page),
	                 lead);
	/* At the end: no page past the region's last whole one. */
	calls = 0;
	while (sp_ahead_fill(&a, p + 62 * page + 50))
		calls++;
	assert_int_equal(calls, 0);
	assert_int_equal(munmap(p, len), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_proto_words),
	        cmocka_unit_test(test_proto_other_names),
	        cmocka_unit_test(test_proto_printed),
	        cmocka_unit_test(test_prefault_maps_range),
	        cmocka_unit_test(test_ahead_maps_before_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

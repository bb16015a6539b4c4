/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The conntrack snapshot: entries found by either direction's tuple, the
 * table growing past its first size, nothing found that was not added. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <string.h>

#include "spackle/ct_table.h"

static struct ct_entry
entry(uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
      uint64_t pkts)
{
	struct ct_entry e;
	uint32_t s = htonl(src), d = htonl(dst);

	memset(&e, 0, sizeof(e));
	e.key.proto = proto;
	e.key.src.family = e.key.dst.family = AF_INET;
	memcpy(e.key.src.b, &s, 4);
	memcpy(e.key.dst.b, &d, 4);
	e.key.sport = sport;
	e.key.dport = dport;
	e.packets[0] = pkts;
	e.packets[1] = pkts + 1;
	return e;
}

static void
test_find_both_ways(void **state)
{
	struct ct_table *t = ct_table_new(4, 1234);
	struct ct_entry e = entry(6, 0xc000020a, 40000, 0xcb007107, 443, 10);
	struct ct_key rev;
	const struct ct_entry *got;
	int dir = -1;

	(void)state;
	assert_non_null(t);
	assert_int_equal(ct_table_add(t, &e), 0);
	assert_int_equal(ct_table_count(t), 1);
	assert_int_equal(ct_table_taken(t), 1234);
	got = ct_table_find(t, &e.key, &dir);
	assert_non_null(got);
	assert_int_equal(dir, 0);
	assert_int_equal(got->packets[0], 10);
	rev = e.key;
	rev.src = e.key.dst;
	rev.dst = e.key.src;
	rev.sport = e.key.dport;
	rev.dport = e.key.sport;
	got = ct_table_find(t, &rev, &dir);
	assert_non_null(got);
	assert_int_equal(dir, 1);
	/* Another port, another protocol: not there. */
	rev.sport = 444;
	assert_null(ct_table_find(t, &rev, &dir));
	e.key.proto = 17;
	assert_null(ct_table_find(t, &e.key, &dir));
	ct_table_free(t);
}

static void
test_grows_and_replaces(void **state)
{
	struct ct_table *t = ct_table_new(1, 0);
	struct ct_entry e;
	const struct ct_entry *got;
	uint32_t i;
	int dir;

	(void)state;
	for (i = 0; i < 5000; i++) {
		e = entry(17, 0xc0000200 + (i & 0xff), (uint16_t)(1024 + i),
		          0xc6336401, 53, i);
		assert_int_equal(ct_table_add(t, &e), 0);
	}
	assert_int_equal(ct_table_count(t), 5000);
	for (i = 0; i < 5000; i++) {
		e = entry(17, 0xc0000200 + (i & 0xff), (uint16_t)(1024 + i),
		          0xc6336401, 53, 0);
		got = ct_table_find(t, &e.key, &dir);
		assert_non_null(got);
		assert_int_equal(got->packets[0], i);
	}
	/* The same tuple again: replaced, not added. */
	e = entry(17, 0xc0000200, 1024, 0xc6336401, 53, 99);
	assert_int_equal(ct_table_add(t, &e), 0);
	assert_int_equal(ct_table_count(t), 5000);
	assert_int_equal(ct_table_find(t, &e.key, &dir)->packets[0], 99);
	/* Protocol 0 never holds a flow: not added. */
	e.key.proto = 0;
	assert_int_equal(ct_table_add(t, &e), 0);
	assert_int_equal(ct_table_count(t), 5000);
	assert_null(ct_table_find(t, &e.key, &dir));
	assert_null(ct_table_find(NULL, &e.key, &dir));
	ct_table_free(t);
}

/*
 * A table limited to what memory_max leaves a dump keeps that many
 * entries: a new tuple past them is left out and marks the table partial
 * (the sync then ends no flow for a missing entry); a tuple already in it
 * is still brought up to date. Its memory stays under ct_table_bytes_max.
 */
static void
test_limit(void **state)
{
	struct ct_table *t = ct_table_new(4, 1);
	struct ct_entry e;
	const struct ct_entry *got;
	int dir;
	uint32_t i;

	(void)state;
	assert_non_null(t);
	ct_table_limit(t, 100);
	for (i = 0; i < 100; i++) {
		e = entry(17, 0xc0000201, (uint16_t)(1000 + i), 0xc0000202, 53,
		          i);
		assert_int_equal(ct_table_add(t, &e), 0);
	}
	assert_false(ct_table_partial(t));
	assert_int_equal(ct_table_count(t), 100);
	e = entry(17, 0xc0000201, 5000, 0xc0000202, 53, 7);
	assert_int_equal(ct_table_add(t, &e), 0);
	assert_true(ct_table_partial(t));
	assert_int_equal(ct_table_count(t), 100);
	assert_null(ct_table_find(t, &e.key, &dir));
	e = entry(17, 0xc0000201, 1042, 0xc0000202, 53, 999);
	assert_int_equal(ct_table_add(t, &e), 0);
	got = ct_table_find(t, &e.key, &dir);
	assert_non_null(got);
	assert_int_equal(got->packets[0], 999);
	assert_int_equal(ct_table_count(t), 100);
	ct_table_free(t);
	/* the bound: every slot's entry, and the old slots while growing */
	assert_true(ct_table_bytes_max(100) >= 100 * sizeof(struct ct_entry));
	assert_true(ct_table_bytes_max(262144) < 64u << 20);
	assert_true(ct_table_bytes_max(262144) > ct_table_bytes_max(100000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_find_both_ways),
	        cmocka_unit_test(test_grows_and_replaces),
	        cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

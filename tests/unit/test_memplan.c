/* SPDX-License-Identifier: GPL-2.0-or-later */
/* memory_max shared out among the daemon's parts: the sum of the parts'
 * bounds never passes the cap, the flow tables give way first, and a cap
 * too small for the least tables is refused with what they need. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "spackle/classify.h"
#include "spackle/memplan.h"
#include "spackle/spackle.h"

#define MiB (1ull << 20)

static void
sum_is_bound(const struct memplan *p)
{
	assert_int_equal(p->flow_bytes + p->string_bytes + p->name_bytes +
	                         p->store_bytes + p->ct_bytes + p->base_bytes,
	                 p->bound);
	assert_true(p->bound <= p->max);
	/* a power of two */
	assert_int_equal(p->flows & (p->flows - 1), 0);
	assert_true(p->ct_entries <= (size_t)p->workers * p->flows);
}

/* The defaults (512M, two queues and the DNS worker, 4 MiB store queues,
 * this machine's 262,144 conntrack entries): the full tables fit. */
static void
test_defaults_fit(void **state)
{
	struct memplan p;
	char err[256] = "";

	(void)state;
	assert_int_equal(memplan_make(MEMPLAN_DEFAULT, 3, 4 * MiB, 262144, &p,
	                              err, sizeof(err)),
	                 0);
	sum_is_bound(&p);
	assert_int_equal(p.flows, SP_FLOWS_DEFAULT);
	assert_int_equal(p.ct_entries, 262144);
	assert_true(p.ct_bytes > 0);
	assert_int_equal(p.store_bytes, 5 * 4 * MiB);
	assert_int_equal(p.flow_bytes,
	                 3ull * SP_FLOWS_DEFAULT * classify_bytes_per_flow());
	/* packet mode dumps nothing */
	assert_int_equal(memplan_make(MEMPLAN_DEFAULT, 3, 4 * MiB, 0, &p, err,
	                              sizeof(err)),
	                 0);
	sum_is_bound(&p);
	assert_int_equal(p.ct_bytes, 0);
	assert_int_equal(p.ct_entries, 0);
}

/* A smaller cap takes from the tables (and the dumps with them), never
 * past the cap; a larger one never gives fewer flows. */
static void
test_smaller_cap(void **state)
{
	struct memplan p;
	char err[256];
	uint64_t max;
	uint32_t last = 0;

	(void)state;
	assert_int_equal(memplan_make(256 * MiB, 3, 4 * MiB, 262144, &p, err,
	                              sizeof(err)),
	                 0);
	sum_is_bound(&p);
	assert_true(p.flows < SP_FLOWS_DEFAULT);
	assert_true(p.flows >= MEMPLAN_FLOWS_MIN);
	for (max = 128 * MiB; max <= 2048 * MiB; max += 64 * MiB) {
		assert_int_equal(memplan_make(max, 3, 4 * MiB, 262144, &p, err,
		                              sizeof(err)),
		                 0);
		sum_is_bound(&p);
		assert_true(p.flows >= last);
		last = p.flows;
	}
	assert_int_equal(last, SP_FLOWS_DEFAULT);
}

/* Too small: refused, saying how much is needed and where it goes. */
static void
test_too_small(void **state)
{
	struct memplan p;
	char err[512] = "";

	(void)state;
	assert_int_equal(memplan_make(32 * MiB, 3, 4 * MiB, 262144, &p, err,
	                              sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "memory_max = 32M is too small"));
	assert_non_null(strstr(err, "3 workers need at least"));
	assert_non_null(strstr(err, "store queues 20M"));
	/* the most queues (64, and the DNS worker) still start under the
	 * default: the strings' share is split, the tables shrink */
	assert_int_equal(memplan_make(MEMPLAN_DEFAULT, 65, 4 * MiB, 262144, &p,
	                              err, sizeof(err)),
	                 0);
	sum_is_bound(&p);
	assert_true(p.strings < MEMPLAN_STRINGS);
	assert_true(p.string_bytes <= MEMPLAN_STRINGS_ALL);
	assert_true(p.flows >= MEMPLAN_FLOWS_MIN);
	/* 9 workers with 64 MiB store queues do not fit in 512M either */
	assert_int_equal(memplan_make(MEMPLAN_DEFAULT, 9, 64 * MiB, 0, &p, err,
	                              sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "store queues 704M"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_fit),
	        cmocka_unit_test(test_smaller_cap),
	        cmocka_unit_test(test_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The divert backends' table: chosen by name, as `backend =` names them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "divert/divert.h"

static void
test_backend_by_name(void **state)
{
	(void)state;
	assert_ptr_equal(divert_backend("nfqueue"), &divert_nfqueue_ops);
	assert_ptr_equal(divert_backend("pcap"), &divert_pcap_ops);
	assert_null(divert_backend("NFQUEUE"));
	assert_null(divert_backend(""));
	assert_null(divert_backend(NULL));
	assert_string_equal(divert_backend_names(), "nfqueue, pcap");
}

/* Every backend that gives verdicts has what the daemon calls. */
static void
test_backend_ops_whole(void **state)
{
	const struct divert_ops *o = divert_backend("nfqueue");

	(void)state;
	assert_non_null(o->open);
	assert_non_null(o->dispatch);
	assert_non_null(o->verdict);
	assert_non_null(o->verdict_batch);
	assert_non_null(o->verdict_mark);
	assert_non_null(o->stats);
	assert_non_null(o->kernel_stats);
	assert_non_null(o->fd);
	assert_non_null(o->error);
	assert_non_null(o->close);
	assert_string_equal(o->name, "nfqueue");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_backend_by_name),
	        cmocka_unit_test(test_backend_ops_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
	assert_ptr_equal(divert_backend("tun"), &divert_tun_ops);
	assert_ptr_equal(divert_backend("pcap"), &divert_pcap_ops);
	assert_null(divert_backend("NFQUEUE"));
	assert_null(divert_backend(""));
	assert_null(divert_backend(NULL));
	assert_string_equal(divert_backend_names(), "nfqueue, tun, pcap");
}

/* Every backend that gives verdicts has what the daemon calls; flow
 * mode's verdict_mark is NFQUEUE's alone. */
static void
test_backend_ops_whole(void **state)
{
	static const char *const names[] = {"nfqueue", "tun"};
	unsigned i;

	(void)state;
	for (i = 0; i < 2; i++) {
		const struct divert_ops *o = divert_backend(names[i]);

		assert_non_null(o->open);
		assert_non_null(o->dispatch);
		assert_non_null(o->verdict);
		assert_non_null(o->verdict_batch);
		assert_non_null(o->stats);
		assert_non_null(o->kernel_stats);
		assert_non_null(o->fd);
		assert_non_null(o->error);
		assert_non_null(o->close);
		assert_string_equal(o->name, names[i]);
	}
	assert_non_null(divert_backend("nfqueue")->verdict_mark);
	assert_null(divert_backend("tun")->verdict_mark);
}

/* A tun spec is an interface name; anything else is refused with the
 * spec named, before any device is touched. */
static void
test_tun_spec_refused(void **state)
{
	static const char *const bad[] = {"", "a,b", "a/b",
	                                  "name-longer-than-sixteen"};
	struct divert *d = (struct divert *)1;
	char err[256];
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		        divert_tun_ops.open(&d, bad[i], err, sizeof(err)), -1);
		assert_null(d);
		assert_non_null(strstr(err, "is not an interface name"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_backend_by_name),
	        cmocka_unit_test(test_backend_ops_whole),
	        cmocka_unit_test(test_tun_spec_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

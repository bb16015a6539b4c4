/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the harnesses share: CHECK(x), which stops the run with the place
 * and the expression when an invariant does not hold (libFuzzer keeps
 * the input that broke it), under sanitizers or not. */
#ifndef SPACKLE_TESTS_FUZZ_CHECK_H
#define SPACKLE_TESTS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                               \
	do {                                                                   \
		if (!(x)) {                                                    \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,     \
			        #x);                                           \
			abort();                                               \
		}                                                              \
	} while (0)

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The counters of spackle's own rules, summed by their comment: what
 * `spackle audit` and the web monitor's wall reconcile (fwread.h). */
#include <string.h>

#include "spackle/fwread.h"
#include "spackle/steer_names.h"

uint64_t
fw_comment_sum(const struct fw_ruleset *rs, const char *comment,
               uint64_t *bytes)
{
	uint64_t sum = 0, b = 0;
	size_t i;

	for (i = 0; i < rs->n; i++) {
		const struct fw_rule *r = &rs->v[i];

		if (r->comment != NULL && strcmp(r->comment, comment) == 0 &&
		    strncmp(r->chain, STEER_CHAIN_PREFIX,
		            strlen(STEER_CHAIN_PREFIX)) == 0) {
			sum += r->packets;
			b += r->bytes;
		}
	}
	if (bytes != NULL)
		*bytes = b;
	return sum;
}

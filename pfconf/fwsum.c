/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The bytes of spackle's own rules, summed by their comment: what the
 * web monitor's wall shows of each exemption (fwread.h; the packets are
 * fw_rules_sum's, pfconf/fwcheck.c). */
#include <string.h>

#include "spackle/fwread.h"
#include "spackle/steer_names.h"

uint64_t
fw_rules_bytes(const struct fw_ruleset *rs, const char *comment)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < rs->n; i++) {
		const struct fw_rule *r = &rs->v[i];

		if (r->comment != NULL && strcmp(r->comment, comment) == 0 &&
		    strncmp(r->chain, STEER_CHAIN_PREFIX,
		            strlen(STEER_CHAIN_PREFIX)) == 0)
			sum += r->bytes;
	}
	return sum;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* memory_max shared out among the daemon's parts (spackle/memplan.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "spackle/classify.h"
#include "spackle/ct_table.h"
#include "spackle/memplan.h"
#include "spackle/names.h"
#include "spackle/spackle.h"

/* The flow tables' part for `flows` per worker. */
static uint64_t
memplan_flows(unsigned workers, uint32_t flows)
{
	return (uint64_t)workers * flows * classify_bytes_per_flow();
}

int
memplan_make(uint64_t max, unsigned workers, uint64_t store_queue,
             size_t ct_max, struct memplan *p, char *err, size_t errlen)
{
	uint64_t fixed;
	uint32_t flows = SP_FLOWS_DEFAULT;

	memset(p, 0, sizeof(*p));
	p->max = max;
	p->workers = workers;
	p->strings = MEMPLAN_STRINGS_ALL / (workers ? workers : 1);
	if (p->strings > MEMPLAN_STRINGS)
		p->strings = MEMPLAN_STRINGS;
	p->string_bytes = (uint64_t)workers * p->strings;
	p->name_bytes = names_bytes_max(SP_NAMES_DEFAULT);
	p->store_bytes = (uint64_t)(workers + 2) * store_queue;
	p->base_bytes = MEMPLAN_BASE;
	fixed = p->string_bytes + p->name_bytes + p->store_bytes +
	        p->base_bytes;
	/* Halve the tables until they fit; a dump need not hold more entries
	 * than the tables hold flows. */
	for (;;) {
		p->flows = flows;
		p->ct_entries = ct_max;
		if (p->ct_entries > (size_t)workers * flows)
			p->ct_entries = (size_t)workers * flows;
		p->ct_bytes = p->ct_entries
		                      ? 2 * ct_table_bytes_max(p->ct_entries)
		                      : 0;
		p->flow_bytes = memplan_flows(workers, flows);
		p->bound = fixed + p->ct_bytes + p->flow_bytes;
		if (p->bound <= max || flows <= MEMPLAN_FLOWS_MIN)
			break;
		flows /= 2;
	}
	if (p->bound > max) {
		snprintf(err, errlen,
		         "memory_max = %" PRIu64 "M is too small: %u workers "
		         "need at least %" PRIu64 "M (%u flows each: %" PRIu64
		         "M; conntrack dumps %" PRIu64 "M; names %" PRIu64
		         "M; store queues %" PRIu64 "M; strings %" PRIu64
		         "M; the rest %" PRIu64 "M)",
		         max >> 20, workers, (p->bound + (1u << 20) - 1) >> 20,
		         flows, p->flow_bytes >> 20, p->ct_bytes >> 20,
		         p->name_bytes >> 20, p->store_bytes >> 20,
		         p->string_bytes >> 20, p->base_bytes >> 20);
		return -1;
	}
	return 0;
}

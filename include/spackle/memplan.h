/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the daemon may hold in memory: `memory_max` shared out among the
 * parts that grow with the traffic, each given a bound it keeps, so that
 * no flood can take the daemon past the cap (docs/reliability.md,
 * "Memory"). The flow tables take what the rest leaves, up to
 * SP_FLOWS_DEFAULT flows per worker.
 */
#ifndef SPACKLE_MEMPLAN_H
#define SPACKLE_MEMPLAN_H

#include <stddef.h>
#include <stdint.h>

/* Everything not planned part by part: attribution's process tables,
 * libevent, the rules, control and web peers, the incomplete flows' book,
 * the program itself; measured at 12 to 20 MiB on start (2026-12-06). */
#define MEMPLAN_BASE (40ull << 20)
/* Shared strings (hosts, exes, cmdlines) per worker, and over all of
 * them (many queues get less each). */
#define MEMPLAN_STRINGS     (8ull << 20)
#define MEMPLAN_STRINGS_ALL (64ull << 20)
/* The fewest flows per worker a plan gives; below it memory_max is too
 * small. */
#define MEMPLAN_FLOWS_MIN 1024u
#define MEMPLAN_DEFAULT   (512ull << 20)

struct memplan {
	uint64_t max;      /* memory_max */
	unsigned workers;  /* each with a flow table */
	uint32_t flows;    /* per worker: a power of two */
	uint64_t strings;  /* shared strings' bytes per worker */
	size_t ct_entries; /* a conntrack dump keeps at most; 0: no dumps */
	/* Each part's bound, in bytes. */
	uint64_t flow_bytes;   /* the flow tables and what flows carry */
	uint64_t string_bytes; /* the workers' shared strings */
	uint64_t name_bytes;   /* the name cache */
	uint64_t store_bytes;  /* the queues to the store's writer */
	uint64_t ct_bytes;     /* two conntrack dumps (one read, one filled) */
	uint64_t base_bytes;   /* MEMPLAN_BASE */
	uint64_t bound;        /* their sum: at most max */
};

/*
 * Share max out among `workers` workers, whose store queues take
 * store_queue bytes each (and two more queues), with conntrack dumps of
 * at most ct_max entries (flow mode; 0: none). 0, or -1 with what is
 * missing in err when even MEMPLAN_FLOWS_MIN flows per worker do not fit.
 */
int memplan_make(uint64_t max, unsigned workers, uint64_t store_queue,
                 size_t ct_max, struct memplan *p, char *err, size_t errlen);

#endif

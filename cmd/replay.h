/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replay: run the daemon's classifier over a capture file. */
#ifndef SPACKLE_REPLAY_H
#define SPACKLE_REPLAY_H

#include <stdio.h>

#include "spackle/rules.h"

#define REPLAY_LOCAL_MAX 32

struct replay_options {
	const char *file;
	const struct ruleset *rules; /* compiled, or NULL: dflt decides all */
	enum sp_verdict dflt;
	struct sp_addr local[REPLAY_LOCAL_MAX];
	unsigned local_plen[REPLAY_LOCAL_MAX];
	size_t nlocal;
	uint32_t max_flows; /* 0: the default cap */
	bool json;
	bool quiet; /* print nothing (benchmarks) */
};

/*
 * Replay opt->file, printing one line per flow in the order flows began,
 * then a summary. Returns 0, 1 when the capture turned unreadable part way
 * (what came before is still printed), 2 when it could not be read at all.
 */
int replay_run(const struct replay_options *opt, FILE *err);

#endif

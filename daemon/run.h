/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon, as `spackle run` starts it: the one way into daemon/. */
#ifndef SPACKLE_DAEMON_RUN_H
#define SPACKLE_DAEMON_RUN_H

#include "spackle/config.h"

/*
 * Run the firewall with cfg (read from conf_path, which a reload reads
 * again) until SIGTERM or SIGINT; SIGHUP reloads. Needs root to start;
 * drops to cfg->user once set up. Returns the exit status: 0 after a
 * clean stop, 1 when it could not start or could not remove its steering.
 */
int daemon_run(const char *conf_path, const struct config *cfg);

#endif

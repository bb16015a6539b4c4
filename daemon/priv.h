/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Privilege drop: the daemon leaves root for its user once set up. */
#ifndef SPACKLE_PRIV_H
#define SPACKLE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The capabilities the data path keeps after the drop, as a mask of
 * CAP_* bits (the value /proc/PID/status shows as CapEff):
 *   CAP_NET_ADMIN        verdicts on the queues, conntrack marks, the
 *                        steering's checks, repair and removal
 *   CAP_NET_RAW          the same for iptables-legacy's raw sockets
 *   CAP_SYS_PTRACE       /proc/PID/exe and /proc/PID/fd/N of other users
 *   CAP_DAC_READ_SEARCH  listing other users' /proc/PID/fd
 *   CAP_SYS_NICE         the proc connector's readers run SCHED_FIFO (or
 *                        at nice -20), to read a short-lived program's
 *                        /proc before it exits (src/proc_connector.c, cn_sched)
 * Of these, CAP_NET_ADMIN and CAP_NET_RAW are also ambient, so the
 * iptables tools the daemon runs get them (and nothing else).
 */
#define PRIV_KEEP_MASK                                                         \
	((1ull << 12) | (1ull << 13) | (1ull << 19) | (1ull << 2) |            \
	 (1ull << 23))
#define PRIV_AMBIENT_MASK ((1ull << 12) | (1ull << 13))

/* The user's ids, from its name; -1 with the reason in err. */
int priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err,
                size_t errlen);

/*
 * Become uid/gid (supplementary groups: gid only) keeping PRIV_KEEP_MASK
 * in this thread, for the threads it starts later, and for the programs
 * it runs (ambient: PRIV_AMBIENT_MASK); every other capability leaves
 * the bounding set, and no_new_privs is set. Threads started before keep
 * the new uid and no capability at all. Call it from the main thread,
 * as root. 0, or -1 with the reason in err (the process must then stop:
 * it may be half dropped).
 */
int priv_drop(uid_t uid, gid_t gid, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running the firewall tools, for pfconf/ alone: the install (steer.c) and
 * the repair (steer_repair.c) feed their texts through these (steer_run.c).
 */
#ifndef SPACKLE_PFCONF_STEER_RUN_H
#define SPACKLE_PFCONF_STEER_RUN_H

#include "pfconf/steer_err.h"
#include <stdbool.h>
#include <stddef.h>

/* What a tool printed and how it ended. */
struct steer_out {
	char *out; /* stdout, NUL-terminated */
	size_t outlen;
	char *err; /* stderr, NUL-terminated */
	size_t errlen;
	int status; /* exit status, 128 + signal when killed */
};

/*
 * Run argv[0] (looked up in root's usual directories) with in as stdin.
 * Returns 0 when it ran (whatever its exit status, in o->status), -ENOENT
 * when it is not installed, or another -errno when it could not be run.
 * o is then to be freed with steer_out_free().
 */
int steer_exec(char *const argv[], const char *in, size_t inlen,
               struct steer_out *o);
/* Where steer_exec() finds the tool name: 0, or -ENOENT. */
int steer_tool(const char *name, char *path, size_t len);
void steer_out_free(struct steer_out *o);

/*
 * "WHAT failed (exit N): the tool's first words (HINT)" into err: its
 * stderr lines joined with "; ", without iptables' "Try `iptables-restore
 * -h'" advice and nft's echo of the input line and its ^^^ marker, at
 * most 3 lines. hint may be NULL.
 */
void steer_fail(char *err, size_t errlen, const char *what,
                const struct steer_out *o, const char *hint);

/* Does the kernel have IPv6 (/proc/net/if_inet6)? */
bool steer_has_ipv6(void);

/*
 * Feed text to ip(6)tables-restore --noflush (family AF_INET or
 * AF_INET6), or to nft -f; what names the run in the message. 0, -EIO
 * when the tool failed, or -errno as steer_exec().
 */
int steer_restore(int family, const char *text, size_t len, const char *what,
                  char *err, size_t errlen);
int steer_nft_run(const char *text, size_t len, const char *what,
                  const char *hint, char *err, size_t errlen);

#endif

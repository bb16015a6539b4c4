/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading iptables-save text, for pfconf/ alone: the crash cleanup
 * (iptables.c) and the firewall reader (fwread.c) split lines alike.
 */
#ifndef SPACKLE_PFCONF_SAVETEXT_H
#define SPACKLE_PFCONF_SAVETEXT_H

#include <stdbool.h>
#include <stddef.h>

/* A stretch of the text: not NUL-terminated. */
struct save_view {
	const char *p;
	size_t n;
};

/*
 * The next whitespace-separated token of *rest into *tok, where "..." (with
 * \" escapes, as iptables-save quotes comments) is part of one token.
 * Returns 1, 0 at the end of *rest, or -1 for a token whose quote does not
 * close (*tok still holds it).
 */
int save_token(struct save_view *rest, struct save_view *tok);

/* Is v exactly s? */
bool save_eq(struct save_view v, const char *s);

#endif

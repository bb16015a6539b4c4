/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading iptables-save text, for pfconf/ alone: the crash cleanup
 * (iptables.c) and the firewall reader (fwread.c, fwmatch.c, fwcheck.c)
 * split lines, read values and name protocols alike.
 */
#ifndef SPACKLE_PFCONF_SAVETEXT_H
#define SPACKLE_PFCONF_SAVETEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * tok without its quotes and escapes into out (outlen bytes, with the
 * NUL). false when it does not fit.
 */
bool save_unquote(struct save_view tok, char *out, size_t outlen);

/* A whole decimal number, at most max. */
bool save_number(struct save_view v, uint64_t max, uint64_t *out);

/* "line N: " and the message into err (errlen bytes; nothing when err is
 * NULL): how the readers of saved text word a bad line. */
void save_line_error(char *err, size_t errlen, unsigned long line,
                     const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));

/*
 * The protocol number of a -p value (a number, a name iptables-save
 * prints, or one getprotobyname_r() knows); -1 when not known here.
 */
int save_proto_num(const char *s);

/* The name iptables-save gives protocol num (ICMPv6: ipv6-icmp), or NULL. */
const char *save_proto_name(unsigned num);

#endif

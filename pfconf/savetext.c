/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading iptables-save text (pfconf/savetext.h). */
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pfconf/savetext.h"
#include "spackle/spackle.h"

int
save_token(struct save_view *rest, struct save_view *tok)
{
	const char *p = rest->p, *end = rest->p + rest->n;
	bool quoted = false;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end) {
		rest->p = p;
		rest->n = 0;
		return 0;
	}
	tok->p = p;
	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == ' ' || *p == '\t'))
			break;
	}
	tok->n = (size_t)(p - tok->p);
	rest->p = p;
	rest->n = (size_t)(end - p);
	return quoted ? -1 : 1;
}

bool
save_eq(struct save_view v, const char *s)
{
	size_t n = strlen(s);

	return v.n == n && memcmp(v.p, s, n) == 0;
}

/*
 * tok without its quotes and escapes into out (outlen bytes, with the
 * NUL). false when it does not fit.
 */
bool
save_unquote(struct save_view tok, char *out, size_t outlen)
{
	const char *p = tok.p, *end = tok.p + tok.n;
	bool quoted = false;
	size_t o = 0;

	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = *p;
	}
	if (outlen == 0)
		return false;
	out[o] = '\0';
	return true;
}

/* A whole decimal number, at most max. */
bool
save_number(struct save_view v, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (v.n == 0)
		return false;
	for (i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		if (n > (max - (uint64_t)(v.p[i] - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = n;
	return true;
}

void
save_line_error(char *err, size_t errlen, unsigned long line, const char *fmt,
                va_list ap)
{
	int n;

	if (err == NULL || errlen == 0)
		return;
	n = snprintf(err, errlen, "line %lu: ", line);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

/* The protocol number of a -p value; -1 when not known here. */
int
save_proto_num(const char *s)
{
	struct protoent pe, *res = NULL;
	char buf[1024];
	struct save_view v = {s, strlen(s)};
	uint64_t n;
	int num;

	if (save_number(v, 255, &n))
		return (int)n;
	if ((num = sp_proto_number(s, false)) >= 0)
		return num;
	if (getprotobyname_r(s, &pe, buf, sizeof(buf), &res) == 0 &&
	    res != NULL && res->p_proto >= 0 && res->p_proto <= 255)
		return res->p_proto;
	return -1;
}

/* The name iptables-save gives protocol num, or NULL. */
const char *
save_proto_name(unsigned num)
{
	return sp_proto_system_name(num);
}

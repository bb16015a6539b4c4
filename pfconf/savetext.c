/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading iptables-save text (pfconf/savetext.h). */
#include <string.h>

#include "pfconf/savetext.h"

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

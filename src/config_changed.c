/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which keys differ between two configs, for a reload to name those that
 * need a restart (config_changed_keys). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/config.h"

/* c as config_print() writes it, in a string of the caller's. */
static char *
config_text(const struct config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	config_print(f, c);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* The line of text that sets key, or NULL; *n gets its length. */
static const char *
config_text_line(const char *text, const char *key, size_t klen, size_t *n)
{
	const char *p = text, *nl;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if ((size_t)(nl - p) > klen && strncmp(p, key, klen) == 0 &&
		    p[klen] == ' ') {
			*n = (size_t)(nl - p);
			return p;
		}
		if (*nl == '\0')
			break;
	}
	*n = 0;
	return NULL;
}

/*
 * Both as config_print() writes them, compared key by key: every key
 * either prints is a line "key = value" of its own, so a key differs when
 * its line does (or is in one only).
 */
int
config_changed_keys(const struct config *a, const struct config *b, char *buf,
                    size_t len)
{
	char *ta = config_text(a), *tb = config_text(b);
	const char *texts[2] = {ta, tb}, *p, *sp, *la, *lb;
	size_t used = 0, klen, na, nb;
	int n = 0, t;

	if (len > 0)
		buf[0] = '\0';
	if (ta == NULL || tb == NULL) {
		free(ta);
		free(tb);
		return -1;
	}
	for (t = 0; t < 2; t++) {
		for (p = texts[t]; *p != '\0';) {
			const char *nl = strchr(p, '\n');

			if (nl == NULL)
				nl = p + strlen(p);
			sp = memchr(p, ' ', (size_t)(nl - p));
			klen = sp != NULL ? (size_t)(sp - p) : 0;
			la = config_text_line(ta, p, klen, &na);
			lb = config_text_line(tb, p, klen, &nb);
			/* Each key once: from a's text, or from b's when a
			 * has no line for it. */
			if (klen > 0 && (t == 0 || la == NULL) &&
			    (la == NULL || lb == NULL || na != nb ||
			     memcmp(la, lb, na) != 0)) {
				if (used < len)
					used += (size_t)snprintf(
					        buf + used, len - used,
					        "%s%.*s", n > 0 ? ", " : "",
					        (int)klen, p);
				n++;
			}
			p = *nl != '\0' ? nl + 1 : nl;
		}
	}
	free(ta);
	free(tb);
	return n;
}

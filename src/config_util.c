/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every file of spackle.conf's reader uses: errors that name the
 * line, paths, yes and no (src/config_int.h). */
#include <stdio.h>
#include <string.h>

#include "src/config_int.h"

void
config_error(struct config_ctx *x, const char *fmt, const char *a,
             const char *b)
{
	fprintf(x->err, "%s:%u: ", x->name, x->line);
	fprintf(x->err, fmt, a, b);
	fputc('\n', x->err);
	x->errors++;
}

bool
config_path(struct config_ctx *x, const char *key, const char *v, char *out,
            size_t len)
{
	if (v[0] == '\0' || strlen(v) >= len) {
		config_error(x, "%s: path \"%s\" is empty or too long", key, v);
		return false;
	}
	snprintf(out, len, "%s", v);
	return true;
}

bool
config_yesno(struct config_ctx *x, const char *key, const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0)
		*out = false;
	else {
		config_error(x, "%s: \"%s\": use yes or no", key, v);
		return false;
	}
	return true;
}

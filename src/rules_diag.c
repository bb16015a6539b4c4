/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Errors and warnings of the rule loader, kept to print as FILE:LINE:COL. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/rules.h"

void
rules_diag_add(struct rules_diags *d, bool warning, const char *file,
               unsigned line, unsigned col, const char *fmt, ...)
{
	struct rules_diag *v, *dg;
	va_list ap;
	char *msg = NULL;
	char *fcopy = NULL;
	size_t cap;
	int n;

	if (warning)
		d->warnings++;
	else
		d->errors++;
	if (d->n == d->cap) {
		cap = d->cap ? d->cap * 2 : 16;
		v = realloc(d->v, cap * sizeof(*v));
		if (v == NULL)
			return; /* counted, not kept: the count still fails */
		d->v = v;
		d->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	fcopy = strdup(file != NULL ? file : "-");
	if (n < 0 || fcopy == NULL) {
		if (n >= 0)
			free(msg);
		free(fcopy);
		return;
	}
	dg = &d->v[d->n++];
	dg->file = fcopy;
	dg->line = line;
	dg->col = col;
	dg->msg = msg;
	dg->warning = warning;
}

void
rules_diags_free(struct rules_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void
rules_diags_print(FILE *f, const struct rules_diags *d)
{
	const struct rules_diag *dg;
	const char *kind;
	size_t i;

	for (i = 0; i < d->n; i++) {
		dg = &d->v[i];
		kind = dg->warning ? "warning: " : "";
		if (dg->line == 0)
			fprintf(f, "%s: %s%s\n", dg->file, kind, dg->msg);
		else
			fprintf(f, "%s:%u:%u: %s%s\n", dg->file, dg->line,
			        dg->col, kind, dg->msg);
	}
}

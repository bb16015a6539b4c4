/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the files of spackle.conf's reader share (src/config*.c only). */
#ifndef SPACKLE_CONFIG_INT_H
#define SPACKLE_CONFIG_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "spackle/config.h"

struct config_ctx {
	struct config *c;
	const char *name;
	unsigned line;
	FILE *err;
	unsigned errors;
	/* Where keys checked after the whole file were set, for messages. */
	unsigned metrics_line, web_line, web_rules_line;
};

/* "NAME:LINE: " and the message (fmt takes two strings), counted. */
void config_error(struct config_ctx *x, const char *fmt, const char *a,
                  const char *b);
bool config_path(struct config_ctx *x, const char *key, const char *v,
                 char *out, size_t len);
bool config_yesno(struct config_ctx *x, const char *key, const char *v,
                  bool *out);

/* ---- config_net.c: metrics and the web monitor ------------------------ */

/* One of the keys metrics, metrics_public, web, web_public, web_token,
 * web_rules: set it and return true; false for any other key. */
bool config_net_set(struct config_ctx *x, const char *key, const char *v);
/* Once the file is read: public addresses, web_rules in `rules`. */
void config_net_check(struct config_ctx *x);
/* Their lines, as config_print() writes them. */
void config_net_print(FILE *f, const struct config *c);

#endif

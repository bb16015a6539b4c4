/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The canonical one-line form of a rule (parsing it gives the rule back),
 * and where a rule is written (FILE:LINE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/rules.h"

/* Appends what fits, counts all: the snprintf contract. */
struct sbuf {
	char *buf;
	size_t len, pos;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	size_t room;

	if (b->pos < b->len) {
		room = b->len - b->pos;
		memcpy(b->buf + b->pos, s, n < room ? n : room);
	}
	b->pos += n;
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void
sb_uint(struct sbuf *b, unsigned long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lu", v);

	sb_put(b, tmp, (size_t)n);
}

/* A quoted string with `"` and `\` escaped again. */
static void
sb_quoted(struct sbuf *b, const char *s)
{
	sb_put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			sb_put(b, "\\", 1);
		sb_put(b, s, 1);
	}
	sb_put(b, "\"", 1);
}

static void
sb_proto(struct sbuf *b, uint16_t p)
{
	const char *name = p == RULES_PROTO_ANY ? "any" : sp_proto_name(p);

	if (name != NULL)
		sb_str(b, name);
	else
		sb_uint(b, p);
}

static void
sb_target(struct sbuf *b, const struct rules_target *t)
{
	switch (t->kind) {
	case RULES_T_ANY:
		sb_str(b, "any");
		break;
	case RULES_T_ADDR:
	case RULES_T_CIDR:
		sb_str(b, t->name);
		break;
	case RULES_T_HOST:
		sb_str(b, "host ");
		sb_str(b, t->name);
		break;
	case RULES_T_DOMAIN:
		sb_str(b, "domain ");
		sb_str(b, t->name);
		break;
	case RULES_T_LIST:
		sb_str(b, "list ");
		sb_quoted(b, t->name);
		break;
	}
}

static void
sb_port(struct sbuf *b, const struct rules_port *p)
{
	if (p->name != NULL) {
		sb_str(b, p->name);
		return;
	}
	sb_uint(b, p->lo);
	if (p->hi != p->lo) {
		sb_put(b, "-", 1);
		sb_uint(b, p->hi);
	}
}

/* " { " before the first of several, ", " between, " }" after the last. */
static void
sb_open(struct sbuf *b, size_t n)
{
	sb_str(b, n > 1 ? " { " : " ");
}

static void
sb_sep(struct sbuf *b, size_t i, size_t n)
{
	if (i + 1 < n)
		sb_str(b, ", ");
	else if (n > 1)
		sb_str(b, " }");
}

size_t
rules_format(char *buf, size_t len, const struct rules_rule *r)
{
	struct sbuf b = {buf, len, 0};
	size_t i;

	sb_str(&b, sp_verdict_name(r->action));
	sb_put(&b, " ", 1);
	sb_str(&b, sp_dir_name(r->dir));
	if (r->clauses & RULES_C_PROTO) {
		sb_str(&b, " proto");
		sb_open(&b, r->nproto_set);
		for (i = 0; i < r->nproto_set; i++) {
			sb_proto(&b, r->proto_set[i]);
			sb_sep(&b, i, r->nproto_set);
		}
	}
	if (r->clauses & RULES_C_PROCESS) {
		sb_str(&b, " process ");
		if (r->process != NULL)
			sb_quoted(&b, r->process);
		else
			sb_str(&b, "any");
	}
	if (r->clauses & RULES_C_USER) {
		sb_str(&b, " user ");
		if (r->user != NULL)
			sb_str(&b, r->user);
		else
			sb_uint(&b, r->uid);
	}
	if (r->clauses & RULES_C_REMOTE) {
		sb_str(&b, r->remote_from ? " from" : " to");
		sb_open(&b, r->ntargets);
		for (i = 0; i < r->ntargets; i++) {
			sb_target(&b, &r->targets[i]);
			sb_sep(&b, i, r->ntargets);
		}
	}
	if (r->clauses & RULES_C_PORT) {
		sb_str(&b, " port");
		sb_open(&b, r->nports);
		for (i = 0; i < r->nports; i++) {
			sb_port(&b, &r->ports[i]);
			sb_sep(&b, i, r->nports);
		}
	}
	if (r->clauses & RULES_C_PRIORITY)
		sb_str(&b, " priority");
	if (r->clauses & RULES_C_ESSENTIAL)
		sb_str(&b, " essential");
	if (r->clauses & RULES_C_NOTE) {
		sb_str(&b, " note ");
		sb_quoted(&b, r->note != NULL ? r->note : "");
	}
	if (len > 0)
		buf[b.pos < len ? b.pos : len - 1] = '\0';
	return b.pos;
}

void
rules_print(FILE *f, const struct rules_rule *r)
{
	char small[512], *big;
	size_t n = rules_format(small, sizeof(small), r);

	if (n < sizeof(small)) {
		fputs(small, f);
		return;
	}
	if ((big = malloc(n + 1)) == NULL) {
		fputs(small, f); /* cut short rather than nothing */
		return;
	}
	rules_format(big, n + 1, r);
	fputs(big, f);
	free(big);
}

size_t
rules_format_where(char *buf, size_t len, const struct rules_rule *r)
{
	int n;

	if (r == NULL)
		n = snprintf(buf, len, "default");
	else
		n = snprintf(buf, len, "%s:%u", r->file, r->line);
	return n < 0 ? 0 : (size_t)n;
}

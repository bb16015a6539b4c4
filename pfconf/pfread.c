/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading pf's counters back: pfctl -vvsr text into rules with their
 * counters (include/spackle/pfread.h). */

/*
 * The text comes from pfctl, another program, maybe another machine's: it
 * is walked as bounded views (pointer and length), never past len, every
 * number checked for overflow before it is stored, names copied only when
 * they fit, and a line that is not what pfctl prints is an error that
 * names the line. Nothing here runs pfctl, and nothing calls another file
 * of pfconf/.
 *
 * The format (pfctl.c, pfctl_print_rule_counters): with -vv, print_rule
 * puts "@N " before each rule; -v adds
 *   "  [ Evaluations: %-8llu  Packets: %-8llu  Bytes: %-10llu  States: %-6u]"
 * and, without -g,
 *   "  [ Inserted: uid %u pid %u State Creations: %-6u]"
 * (macOS: "  [ Inserted: uid %u pid %u ]"). The %-Nu padding means a long
 * number runs into the "]" with no blank before it.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfconf/savetext.h"
#include "spackle/pfread.h"

/* A bounded view of one line, or of what is left of it. */
struct pf_parse {
	struct pf_counters *pc;
	char *err;
	size_t errlen;
	unsigned long line;
	bool have_rule; /* the last rule of pc is this text's */
	bool counted;   /* it has its Evaluations line */
	bool inserted;  /* and its Inserted line */
	unsigned long nr_last;
	bool any_nr;
};

static int pf_fail(struct pf_parse *x, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
pf_fail(struct pf_parse *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	save_line_error(x->err, x->errlen, x->line, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* At most 48 bytes of a view, for a message. */
#define PF_SHOW(v) (int)((v).n > 48 ? 48 : (v).n), (v).p

static void
pf_skip_blanks(struct save_view *v)
{
	while (v->n > 0 && *v->p == ' ') {
		v->p++;
		v->n--;
	}
}

/* The next token: "]" alone, or bytes up to a blank or a "]". */
static struct save_view
pf_token(struct save_view *v)
{
	struct save_view t;

	pf_skip_blanks(v);
	t.p = v->p;
	t.n = 0;
	if (v->n > 0 && *v->p == ']')
		t.n = 1;
	else
		while (t.n < v->n && t.p[t.n] != ' ' && t.p[t.n] != ']')
			t.n++;
	v->p += t.n;
	v->n -= t.n;
	return t;
}

/* A decimal number, no sign, at most max (save_number), told apart for a
 * person: not a number, or too large. */
static int
pf_number(struct pf_parse *x, struct save_view t, uint64_t max, uint64_t *out)
{
	size_t i;

	if (t.n == 0)
		return pf_fail(x, "a number is missing");
	for (i = 0; i < t.n; i++)
		if (t.p[i] < '0' || t.p[i] > '9')
			return pf_fail(x, "\"%.*s\" is not a number",
			               PF_SHOW(t));
	if (!save_number(t, max, out))
		return pf_fail(x, "%.*s is too large (at most %llu)",
		               PF_SHOW(t), (unsigned long long)max);
	return 0;
}

/* "KEY N" (KEY may be two words, "State Creations:"). */
static int
pf_field(struct pf_parse *x, struct save_view *v, const char *key,
         const char *key2, uint64_t *out)
{
	struct save_view t = pf_token(v);

	if (t.n == 0)
		return pf_fail(x, "counters cut short before \"%s%s%s\"", key,
		               key2 ? " " : "", key2 ? key2 : "");
	if (!save_eq(t, key) ||
	    (key2 != NULL && !save_eq((t = pf_token(v)), key2)))
		return pf_fail(x, "expected \"%s%s%s\", found \"%.*s\"", key,
		               key2 ? " " : "", key2 ? key2 : "", PF_SHOW(t));
	return pf_number(x, pf_token(v), UINT64_MAX, out);
}

/* The "]" that ends a counter line, and nothing after it. */
static int
pf_close(struct pf_parse *x, struct save_view *v)
{
	struct save_view t = pf_token(v);

	if (t.n == 0)
		return pf_fail(x, "counters cut short (no \"]\")");
	if (!save_eq(t, "]"))
		return pf_fail(x, "expected \"]\", found \"%.*s\"", PF_SHOW(t));
	pf_skip_blanks(v);
	if (v->n > 0)
		return pf_fail(x, "\"%.*s\" after \"]\"", PF_SHOW(*v));
	return 0;
}

static struct pf_rule_counters *
pf_last(struct pf_parse *x)
{
	return &x->pc->v[x->pc->n - 1];
}

/* "  [ Evaluations: ...]", "  [ Inserted: ...]" or another "  [ ...]". */
static int
pf_counter_line(struct pf_parse *x, struct save_view v)
{
	struct pf_rule_counters *r;
	struct save_view t;
	uint64_t ev, packets, bytes, states, uid, pid, creations = 0;
	bool creations_seen = false;
	size_t i;
	int rc;

	pf_skip_blanks(&v);
	if (v.n == 0 || *v.p != '[')
		return pf_fail(x, "an indented line that is not \"[ ... ]\"");
	v.p++;
	v.n--;
	if (!x->have_rule)
		return pf_fail(x, "counters before any rule");
	r = pf_last(x);
	t = pf_token(&v);
	if (save_eq(t, "Evaluations:")) {
		if (x->counted)
			return pf_fail(x, "a second Evaluations line for @%u",
			               r->nr);
		v.p = t.p; /* read the key again with its number */
		v.n += t.n;
		/* Kept only when the whole line reads. */
		if ((rc = pf_field(x, &v, "Evaluations:", NULL, &ev)) < 0 ||
		    (rc = pf_field(x, &v, "Packets:", NULL, &packets)) < 0 ||
		    (rc = pf_field(x, &v, "Bytes:", NULL, &bytes)) < 0 ||
		    (rc = pf_field(x, &v, "States:", NULL, &states)) < 0 ||
		    (rc = pf_close(x, &v)) < 0)
			return rc;
		r->evaluations = ev;
		r->packets = packets;
		r->bytes = bytes;
		r->states = states;
		x->counted = true;
		return 0;
	}
	if (save_eq(t, "Inserted:")) {
		if (!x->counted)
			return pf_fail(x, "Inserted before Evaluations for @%u",
			               r->nr);
		if (x->inserted)
			return pf_fail(x, "a second Inserted line for @%u",
			               r->nr);
		/* Kept only when the whole line reads. */
		if ((rc = pf_field(x, &v, "uid", NULL, &uid)) < 0 ||
		    (rc = pf_field(x, &v, "pid", NULL, &pid)) < 0)
			return rc;
		pf_skip_blanks(&v);
		if (v.n > 0 && *v.p != ']') {
			if ((rc = pf_field(x, &v, "State",
			                   "Creations:", &creations)) < 0)
				return rc;
			creations_seen = true;
		}
		if ((rc = pf_close(x, &v)) < 0)
			return rc;
		r->uid = uid;
		r->pid = pid;
		r->creations = creations;
		r->has_creations = creations_seen;
		r->has_inserted = true;
		x->inserted = true;
		return 0;
	}
	/* Skip steps, queue, Last Active Time: a word, then whole up to its
	 * "]", but not read. */
	for (i = 0; i < t.n; i++)
		if (!isalpha((unsigned char)t.p[i]) &&
		    !(t.p[i] == ':' && i + 1 == t.n && i > 0))
			break;
	if (t.n == 0 || i < t.n)
		return pf_fail(x,
		               "\"[ %.*s\" is not a counter line pfctl "
		               "prints",
		               PF_SHOW(t));
	while (v.n > 0 && v.p[v.n - 1] == ' ')
		v.n--;
	if (v.n == 0 || v.p[v.n - 1] != ']')
		return pf_fail(x, "counters cut short (no \"]\")");
	return 0;
}

/* The label "..." of a rule's text, into r->label. */
static int
pf_label(struct pf_parse *x, struct save_view text, struct pf_rule_counters *r)
{
	static const char key[] = " label \"";
	const size_t klen = sizeof(key) - 1;
	const char *q;
	size_t i, n;

	r->label[0] = '\0';
	for (i = 0; i + klen <= text.n; i++)
		if (memcmp(text.p + i, key, klen) == 0)
			break;
	if (i + klen > text.n)
		return 0;
	i += klen;
	q = memchr(text.p + i, '"', text.n - i);
	if (q == NULL)
		return pf_fail(x, "a label without its closing quote");
	n = (size_t)(q - (text.p + i));
	if (n >= PF_LABEL_MAX)
		return pf_fail(x, "a label of %zu bytes (pf's hold at most %d)",
		               n, PF_LABEL_MAX - 1);
	memcpy(r->label, text.p + i, n);
	r->label[n] = '\0';
	return 0;
}

/* "@N TEXT": a new rule at the end of pc. */
static int
pf_rule_line(struct pf_parse *x, struct save_view v)
{
	struct pf_rule_counters *r, *nv;
	struct save_view t;
	uint64_t nr;
	size_t cap;
	int rc;

	if (x->have_rule && !x->counted) {
		x->line = pf_last(x)->line;
		return pf_fail(x, "@%u has no counters (is this pfctl -vvsr?)",
		               pf_last(x)->nr);
	}
	v.p++; /* '@' */
	v.n--;
	t.p = v.p;
	for (t.n = 0; t.n < v.n && v.p[t.n] != ' '; t.n++)
		;
	if ((rc = pf_number(x, t, UINT32_MAX, &nr)) < 0)
		return rc;
	v.p += t.n;
	v.n -= t.n;
	if (v.n < 2 || *v.p != ' ' || v.p[1] == ' ')
		return pf_fail(x, "@%llu has no rule after it",
		               (unsigned long long)nr);
	v.p++;
	v.n--;
	if (x->any_nr && nr <= x->nr_last)
		return pf_fail(x,
		               "rule @%llu after @%lu: the numbers must "
		               "increase",
		               (unsigned long long)nr, x->nr_last);
	if (x->pc->n >= PF_RULES_MAX)
		return pf_fail(x, "more than %d rules", PF_RULES_MAX);
	if (x->pc->n == x->pc->cap) {
		cap = x->pc->cap ? x->pc->cap * 2 : 16;
		nv = realloc(x->pc->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		x->pc->v = nv;
		x->pc->cap = cap;
	}
	r = &x->pc->v[x->pc->n];
	memset(r, 0, sizeof(*r));
	if ((rc = pf_label(x, v, r)) < 0)
		return rc;
	if ((r->text = malloc(v.n + 1)) == NULL)
		return -ENOMEM;
	memcpy(r->text, v.p, v.n);
	r->text[v.n] = '\0';
	r->nr = (uint32_t)nr;
	r->line = x->line;
	x->pc->n++;
	x->have_rule = true;
	x->counted = false;
	x->inserted = false;
	x->nr_last = (unsigned long)nr;
	x->any_nr = true;
	return 0;
}

static int
pf_line(struct pf_parse *x, struct save_view v)
{
	size_t i;

	if (v.n > PF_LINE_MAX)
		return pf_fail(x, "longer than %d bytes", PF_LINE_MAX);
	for (i = 0; i < v.n; i++) {
		unsigned char ch = (unsigned char)v.p[i];

		if (ch == '\0')
			return pf_fail(x, "a NUL byte");
		if (ch < 0x20 || ch == 0x7f)
			return pf_fail(x, "a control byte 0x%02x", ch);
	}
	for (i = 0; i < v.n && v.p[i] == ' '; i++)
		;
	if (i == v.n)
		return 0; /* blank */
	if (v.p[0] == '@')
		return pf_rule_line(x, v);
	if (i > 0)
		return pf_counter_line(x, v);
	return pf_fail(x,
	               "\"%.*s\" is not a line of pfctl -vvsr (a rule "
	               "starts with @N)",
	               PF_SHOW(v));
}

int
pf_counters_parse(const char *text, size_t len, struct pf_counters *pc,
                  char *err, size_t errlen)
{
	struct pf_parse x;
	struct save_view line;
	const char *nl;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (pc == NULL || (text == NULL && len > 0))
		return -EINVAL;
	memset(&x, 0, sizeof(x));
	x.pc = pc;
	x.err = err;
	x.errlen = errlen;
	while (len > 0) {
		x.line++;
		nl = memchr(text, '\n', len);
		line.p = text;
		line.n = nl != NULL ? (size_t)(nl - text) : len;
		if ((rc = pf_line(&x, line)) < 0)
			goto fail;
		if (nl == NULL)
			break;
		len -= line.n + 1;
		text += line.n + 1;
	}
	if (x.have_rule && !x.counted) {
		x.line = pf_last(&x)->line;
		rc = pf_fail(&x,
		             "@%u has no counters (output cut short, or "
		             "not pfctl -vvsr)",
		             pf_last(&x)->nr);
		goto fail;
	}
	return 0;
fail:
	/* pc keeps whole rules only, not one that lacks its counters. */
	if (x.have_rule && !x.counted) {
		free(pf_last(&x)->text);
		pc->n--;
	}
	return rc;
}

void
pf_counters_free(struct pf_counters *pc)
{
	size_t i;

	if (pc == NULL)
		return;
	for (i = 0; i < pc->n; i++)
		free(pc->v[i].text);
	free(pc->v);
	memset(pc, 0, sizeof(*pc));
}

static uint64_t
pf_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

unsigned
pf_counters_label(const struct pf_counters *pc, const char *label,
                  struct pf_label_counters *sum)
{
	const struct pf_rule_counters *r;
	size_t i;

	memset(sum, 0, sizeof(*sum));
	if (pc == NULL || label == NULL || label[0] == '\0')
		return 0;
	for (i = 0; i < pc->n; i++) {
		r = &pc->v[i];
		if (strcmp(r->label, label) != 0)
			continue;
		sum->rules++;
		sum->evaluations = pf_add(sum->evaluations, r->evaluations);
		sum->packets = pf_add(sum->packets, r->packets);
		sum->bytes = pf_add(sum->bytes, r->bytes);
		sum->states = pf_add(sum->states, r->states);
	}
	return sum->rules;
}

static int
pf_done(FILE *out)
{
	return fflush(out) != 0 || ferror(out) ? -EIO : 0;
}

int
pf_counters_print(const struct pf_counters *pc, FILE *out)
{
	const struct pf_rule_counters *r;
	size_t i;

	for (i = 0; pc != NULL && i < pc->n; i++) {
		r = &pc->v[i];
		fprintf(out,
		        "@%u %s\n"
		        "  [ Evaluations: %-8llu  Packets: %-8llu  Bytes: "
		        "%-10llu  States: %-6llu]\n",
		        r->nr, r->text, (unsigned long long)r->evaluations,
		        (unsigned long long)r->packets,
		        (unsigned long long)r->bytes,
		        (unsigned long long)r->states);
		if (!r->has_inserted)
			continue;
		fprintf(out, "  [ Inserted: uid %llu pid %llu",
		        (unsigned long long)r->uid, (unsigned long long)r->pid);
		if (r->has_creations)
			fprintf(out, " State Creations: %-6llu]\n",
			        (unsigned long long)r->creations);
		else
			fputs(" ]\n", out);
	}
	return pf_done(out);
}

int
pf_counters_print_labels(const struct pf_counters *pc, FILE *out)
{
	struct pf_label_counters s;
	size_t i, j;

	for (i = 0; pc != NULL && i < pc->n; i++) {
		if (pc->v[i].label[0] == '\0')
			continue;
		/* Each label once, where it first appears. */
		for (j = 0; j < i; j++)
			if (strcmp(pc->v[j].label, pc->v[i].label) == 0)
				break;
		if (j < i)
			continue;
		pf_counters_label(pc, pc->v[i].label, &s);
		fprintf(out,
		        "\"%s\": rules %u, evaluations %llu, packets %llu, "
		        "bytes %llu, states %llu\n",
		        pc->v[i].label, s.rules,
		        (unsigned long long)s.evaluations,
		        (unsigned long long)s.packets,
		        (unsigned long long)s.bytes,
		        (unsigned long long)s.states);
	}
	return pf_done(out);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading pf's counters back: `pfctl -a spackle -vvsr` output into rules
 * with their counters, found by label (spackle audit on macOS, OpenBSD). */
#ifndef SPACKLE_PFREAD_H
#define SPACKLE_PFREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PF_LABEL_MAX 64    /* pf's PF_RULE_LABEL_SIZE, NUL included */
#define PF_LINE_MAX  4096  /* a longer line is not pfctl's */
#define PF_RULES_MAX 65536 /* rules read at most */

/*
 * The text is what pfctl prints for -vv -s rules (OpenBSD 7, FreeBSD,
 * macOS): each rule on a line of its own, numbered, then its counters on
 * indented lines:
 *
 *   @0 pass out quick on lo0 all no state label "spackle exempt lo0 out"
 *     [ Evaluations: 10        Packets: 4         Bytes: 240         States: 0
 * ] [ Inserted: uid 0 pid 4321 State Creations: 0     ]
 *
 * macOS prints "[ Inserted: uid 0 pid 4321 ]", without State Creations.
 * Other bracketed lines (-g's "Skip steps" and "queue", FreeBSD's "Last
 * Active Time") are passed over; blank lines too.
 */
struct pf_rule_counters {
	unsigned long line; /* its @N line in the text, from 1 */
	uint32_t nr;        /* N */
	char *text;         /* the rule as printed, after "@N " (malloc'd) */
	char label[PF_LABEL_MAX]; /* its label "..." unquoted; "" when none */
	uint64_t evaluations;     /* times pf evaluated the rule */
	uint64_t packets;         /* packets it decided, both directions */
	uint64_t bytes;
	uint64_t states;    /* states it holds now */
	bool has_inserted;  /* an Inserted line was there */
	uint64_t uid, pid;  /* who loaded it */
	bool has_creations; /* "State Creations" (not on macOS) */
	uint64_t creations; /* states it ever created */
};

/* The rules in the order pfctl printed them. Start from all zeroes ({0}). */
struct pf_counters {
	struct pf_rule_counters *v;
	size_t n, cap;
};

/*
 * Read len bytes of pfctl -vvsr output at text (not NUL-terminated; text
 * may be NULL when len is 0), appending its rules to pc. The text is
 * another program's, read as untrusted: a line that is not what pfctl
 * prints is an error, -EINVAL with "line N: what" in err (err may be
 * NULL), and pc keeps the whole rules before it (a rule whose counters
 * were not read by then is dropped). Errors: a NUL or control
 * byte; a line longer than PF_LINE_MAX; a rule without its number (not
 * -vv output), with numbers that do not increase, with no text, a label
 * without its closing quote or longer than PF_LABEL_MAX - 1; counters
 * before any rule, cut short, given twice, with a field missing, out of
 * order, or a number above 2^64 - 1 (@N: above 2^32 - 1); a rule without
 * its Evaluations line (pfctl -sr without -v), also the last one (output
 * cut short); more than PF_RULES_MAX rules. -ENOMEM when memory runs out.
 */
int pf_counters_parse(const char *text, size_t len, struct pf_counters *pc,
                      char *err, size_t errlen);
void pf_counters_free(struct pf_counters *pc);

/* Every rule of one label summed (a label may name several rules). */
struct pf_label_counters {
	unsigned rules;
	uint64_t evaluations, packets, bytes, states; /* saturating sums */
};

/*
 * The rules of pc whose label is label, summed into *sum (zeroed first).
 * Returns how many there are: 0 when none.
 */
unsigned pf_counters_label(const struct pf_counters *pc, const char *label,
                           struct pf_label_counters *sum);

/*
 * pc in canonical form: pfctl -vvsr's own, each rule and its Evaluations
 * line, its Inserted line as it was read (with or without State
 * Creations), nothing else. Reading it back gives pc again. 0 or -EIO.
 */
int pf_counters_print(const struct pf_counters *pc, FILE *out);

/*
 * One line per label, in the order labels first appear:
 * "LABEL": rules N, evaluations N, packets N, bytes N, states N
 * Rules without a label are left out. 0 or -EIO.
 */
int pf_counters_print_labels(const struct pf_counters *pc, FILE *out);

#endif

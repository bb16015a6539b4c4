/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the firewall reader's files share, for pfconf/ alone: the parse
 * (fwread.c), the check (fwcheck.c), the repair text (fwrepair.c) and
 * the reader of nf_tables (nftread.c).
 */
#ifndef SPACKLE_PFCONF_FWREAD_PRIV_H
#define SPACKLE_PFCONF_FWREAD_PRIV_H

#include <stddef.h>

#include "spackle/config.h"
#include "spackle/fwread.h"

/* Grow *v (elements of size bytes) to hold n + 1: 0 or -ENOMEM. */
int fw_grow(void **v, size_t *cap, size_t n, size_t size);

/* The hooks spackle steers, in the order out, in, forward (fwcheck.c). */
#define FW_NHOOKS 3
struct fw_hook {
	unsigned bit;      /* enum config_hook */
	const char *hook;  /* the built-in chain: "OUTPUT" */
	const char *chain; /* spackle's chain: "SPACKLE-OUT" */
};
extern const struct fw_hook fw_hooks[FW_NHOOKS];

/* What c installs in one family: each chain's rules, each hook's jump. */
struct fw_exp_rule {
	char chain[FW_NAME_MAX];
	char *line; /* "-A CHAIN ...", as generated */
	char *norm;
};

struct fw_expected {
	struct fw_exp_rule *v;
	size_t n, cap;
	char *jump[FW_NHOOKS]; /* "-A HOOK -j CHAIN", normalised */
};

/*
 * Build e from steer_iptables_text(c, family): 0, -ENOMEM, or -EINVAL (c
 * does not validate, or the text lost a jump). Free with
 * fw_expected_free(), also after a failure.
 */
int fw_expected_build(const struct config *c, int family,
                      struct fw_expected *e);
void fw_expected_free(struct fw_expected *e);

/*
 * A spec in one form for comparison: tokens joined by single spaces, -p as
 * iptables-save names the protocol, -s/-d with their prefix length. Only
 * the part before the target is rewritten. malloc'd; NULL: out of memory.
 */
char *fw_norm(const char *spec);

#endif

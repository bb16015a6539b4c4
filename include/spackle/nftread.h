/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spackle's iptables-nft steering read from nf_tables itself. */
#ifndef SPACKLE_NFTREAD_H
#define SPACKLE_NFTREAD_H

#include <stddef.h>
#include <stdint.h>

#include "spackle/fwread.h"

/*
 * The ruleset's generation: nf_tables moves it on every change to any
 * table of this network namespace, iptables-nft's included (not
 * iptables-legacy's). 0, or -errno with a message in err.
 */
int nft_generation(uint32_t *gen, char *err, size_t errlen);

/*
 * Append to rs the rules of table `table` (iptables-nft's "filter") whose
 * chain's name starts with STEER_CHAIN_PREFIX, for each family in
 * `families` (bit 0 IPv4, bit 1 IPv6): chain, position, comment and
 * counters, no spec, what fw_rules_sum() reads. *gen gets the generation
 * they were read at. 0; -EAGAIN when the ruleset changed during the read
 * (rs then holds nothing of it); or another -errno with a message in err.
 * A family whose table does not exist reads as no rules.
 */
int nft_read_steering(unsigned families, const char *table, uint32_t *gen,
                      struct fw_ruleset *rs, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rule precedence (RULES.md "Which rule decides"): the key, which candidate
 * wins, and which key set it apart (what `explain` shows). */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

/* ---- the key ---- */

static unsigned
labels(const char *name)
{
	unsigned n = 1;

	for (; *name != '\0'; name++)
		if (*name == '.')
			n++;
	return n > 255 ? 255 : n;
}

unsigned
rules_spec_name(bool host, const char *name)
{
	return host ? RULES_SPEC_HOST : RULES_SPEC_DOMAIN(labels(name));
}

unsigned
rules_spec_cidr(const struct sp_addr *net, unsigned plen)
{
	return RULES_SPEC_CIDR(sp_cidr_plen128(net, plen));
}

int
rules_key_cmp(const struct rules_key *a, const struct rules_key *b)
{
	if (a->priority != b->priority)
		return a->priority ? -1 : 1;
	if (a->process != b->process)
		return a->process ? -1 : 1;
	if (a->remote_class != b->remote_class)
		return a->remote_class > b->remote_class ? -1 : 1;
	if (a->remote_len != b->remote_len)
		return a->remote_len > b->remote_len ? -1 : 1;
	if (a->port != b->port)
		return a->port ? -1 : 1;
	if (a->action_rank != b->action_rank)
		return a->action_rank > b->action_rank ? -1 : 1;
	if (a->index != b->index)
		return a->index < b->index ? -1 : 1;
	return 0;
}

const char *
rules_key_field(const struct rules_key *a, const struct rules_key *b)
{
	if (a->priority != b->priority)
		return "priority";
	if (a->process != b->process)
		return "process";
	if (a->remote_class != b->remote_class ||
	    a->remote_len != b->remote_len)
		return "remote";
	if (a->port != b->port)
		return "port";
	if (a->action_rank != b->action_rank)
		return "action";
	if (a->index != b->index)
		return "order";
	return NULL;
}

void
rules_key_make(const struct rules_rule *r, unsigned spec, struct rules_key *k)
{
	k->priority = (r->clauses & RULES_C_PRIORITY) != 0;
	k->process = r->process != NULL;
	k->remote_class = (uint8_t)(spec >> 8);
	k->remote_len = (uint16_t)(spec & 0xff);
	k->port = (r->clauses & RULES_C_PORT) != 0;
	k->action_rank = r->action == SP_VERDICT_REJECT ? 2
	                 : r->action == SP_VERDICT_DENY ? 1
	                                                : 0;
	k->index = r->index;
}

/* ---- ranking the candidates ---- */

static void
collect(struct rules_ranking *rk, uint32_t ri, const struct rules_key *k,
        const char *matched)
{
	struct rules_result *res = rk->res;
	struct rules_candidate *c;
	size_t i, worst = 0;

	for (i = 0; i < res->ncands; i++) {
		c = &res->cands[i];
		if (c->rule != ri)
			continue;
		if (rules_key_cmp(k, &c->key) < 0) {
			c->key = *k;
			c->matched = matched;
		}
		return;
	}
	if (res->ncands < res->cands_cap) {
		c = &res->cands[res->ncands++];
	} else {
		for (i = 1; i < res->ncands; i++)
			if (rules_key_cmp(&res->cands[i].key,
			                  &res->cands[worst].key) > 0)
				worst = i;
		if (rules_key_cmp(k, &res->cands[worst].key) >= 0)
			return;
		c = &res->cands[worst];
	}
	c->rule = ri;
	c->key = *k;
	c->matched = matched;
}

static void
best_set(struct rules_best *b, uint32_t ri, const struct rules_key *k,
         const char *matched)
{
	b->have = true;
	b->rule = ri;
	b->key = *k;
	b->matched = matched;
}

/* Keep the best and, when collecting, the best of the other rules. */
static void
rank(struct rules_ranking *rk, uint32_t ri, const struct rules_key *k,
     const char *matched)
{
	struct rules_best tmp;

	if (rk->first.have && rk->first.rule == ri) {
		if (rules_key_cmp(k, &rk->first.key) < 0)
			best_set(&rk->first, ri, k, matched);
		return;
	}
	if (rk->second.have && rk->second.rule == ri) {
		if (rules_key_cmp(k, &rk->second.key) < 0)
			best_set(&rk->second, ri, k, matched);
		if (rules_key_cmp(&rk->second.key, &rk->first.key) < 0) {
			tmp = rk->first;
			rk->first = rk->second;
			rk->second = tmp;
		}
		return;
	}
	if (!rk->first.have || rules_key_cmp(k, &rk->first.key) < 0) {
		rk->second = rk->first;
		best_set(&rk->first, ri, k, matched);
	} else if (!rk->second.have || rules_key_cmp(k, &rk->second.key) < 0) {
		best_set(&rk->second, ri, k, matched);
	}
}

void
rules_rank_init(struct rules_ranking *rk, struct rules_result *res)
{
	memset(rk, 0, sizeof(*rk));
	if (res != NULL) {
		res->ncands = 0;
		res->settled_by = NULL;
		res->matched = NULL;
		if (res->cands != NULL && res->cands_cap > 0)
			rk->res = res;
	}
}

bool
rules_rank_wants(const struct rules_ranking *rk, const struct rules_key *k)
{
	return rk->res != NULL || !rk->first.have ||
	       rules_key_cmp(k, &rk->first.key) < 0;
}

void
rules_rank_offer(struct rules_ranking *rk, uint32_t rule,
                 const struct rules_key *k, const char *matched)
{
	if (rk->res != NULL) {
		collect(rk, rule, k, matched);
		rank(rk, rule, k, matched);
		return;
	}
	best_set(&rk->first, rule, k, matched);
}

static int
cand_cmp(const void *a, const void *b)
{
	return rules_key_cmp(&((const struct rules_candidate *)a)->key,
	                     &((const struct rules_candidate *)b)->key);
}

enum sp_verdict
rules_rank_result(const struct rules_ranking *rk, const struct ruleset *rs,
                  enum sp_verdict dflt, struct rules_result *res)
{
	if (res == NULL)
		return rk->first.have ? rs->rules[rk->first.rule].action : dflt;
	memset(&res->key, 0, sizeof(res->key));
	res->rule = UINT32_MAX;
	res->verdict = dflt;
	if (rk->first.have) {
		res->rule = rk->first.rule;
		res->key = rk->first.key;
		res->matched = rk->first.matched;
		res->verdict = rs->rules[rk->first.rule].action;
	}
	if (rk->res != NULL) {
		qsort(res->cands, res->ncands, sizeof(*res->cands), cand_cmp);
		if (rk->second.have)
			res->settled_by = rules_key_field(&rk->first.key,
			                                  &rk->second.key);
	}
	return res->verdict;
}

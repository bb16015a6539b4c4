/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Matching: the rules whose clauses all hold for a flow, through the indices
 * or rule by rule, offered to the ranking that picks the winner. */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define QUERY_NAMES_MAX 32 /* names of a flow looked at; more are ignored */

/* ---- clauses other than the remote ---- */

bool
rules_glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	/* Greedy with one backtrack point: the last '*' seen. */
	while (*s != '\0') {
		if (*p == '*') {
			star = ++p;
			resume = s;
			continue;
		}
		if (*p != '\0' && (*p == '?' || *p == *s)) {
			p++;
			s++;
			continue;
		}
		if (star == NULL)
			return false;
		p = star;
		s = ++resume;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static bool
ports_hold(const struct rules_rule *r, uint16_t port)
{
	size_t i;

	for (i = 0; i < r->nports; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return true;
	return false;
}

static bool
clauses_hold(const struct rules_rule *r, const struct rules_query *q)
{
	uint16_t port;

	if ((r->dir & q->dir) == 0)
		return false;
	if ((r->protos[q->proto / 8] & (1u << (q->proto % 8))) == 0)
		return false;
	if (r->clauses & RULES_C_PORT) {
		port = q->dir == SP_DIR_IN ? q->local_port : q->remote_port;
		if (!ports_hold(r, port))
			return false;
	}
	if (r->clauses & RULES_C_USER) {
		if (q->uid == UINT32_MAX || q->uid != r->uid)
			return false;
	}
	if (r->process != NULL) {
		if (q->exe == NULL || !rules_glob_match(r->process, q->exe))
			return false;
	}
	return true;
}

/* ---- matching ---- */

struct mstate {
	const struct ruleset *rs;
	const struct rules_query *q;
	struct rules_ranking rk;
};

static void
consider(struct mstate *st, const struct rules_ient *e)
{
	const struct rules_rule *r = &st->rs->rules[e->rule];
	struct rules_key k;

	rules_key_make(r, e->spec, &k);
	/* The key needs no clause check: prune before checking them. */
	if (!rules_rank_wants(&st->rk, &k))
		return;
	if (!clauses_hold(r, st->q))
		return;
	rules_rank_offer(&st->rk, e->rule, &k, e->matched);
}

static void
consider_run(struct mstate *st, const struct rules_htab *t,
             const struct rules_hslot *s)
{
	uint32_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->count; i++)
		consider(st, &t->ents[s->first + i]);
}

/* Lower-cased copies of the query's names, without a final dot. */
static size_t
query_names(const struct rules_query *q, char nb[][SP_NAME_MAX + 1],
            size_t *lens)
{
	size_t i, j, n = 0, len;
	const char *s;

	for (i = 0; i < q->nnames && n < QUERY_NAMES_MAX; i++) {
		if ((s = q->names[i]) == NULL)
			continue;
		len = strlen(s);
		if (len > 0 && s[len - 1] == '.')
			len--;
		if (len == 0 || len > SP_NAME_MAX)
			continue;
		for (j = 0; j < len; j++)
			nb[n][j] = (char)(s[j] >= 'A' && s[j] <= 'Z'
			                          ? s[j] - 'A' + 'a'
			                          : s[j]);
		nb[n][len] = '\0';
		lens[n++] = len;
	}
	return n;
}

static void
match_indexed(struct mstate *st, char nb[][SP_NAME_MAX + 1], const size_t *lens,
              size_t nnames)
{
	const struct rules_index *idx = st->rs->idx;
	const struct rules_query *q = st->q;
	const struct rules_hslot *s;
	struct sp_addr a;
	const char *name;
	size_t i, j, len;
	unsigned plen;
	int f;

	for (i = 0; i < nnames; i++) {
		name = nb[i];
		len = lens[i];
		s = rules_htab_find(&idx->hosts, name, len,
		                    sp_hash(name, len, idx->seed));
		consider_run(st, &idx->hosts, s);
		for (j = 0;;) {
			s = rules_htab_find(
			        &idx->domains, name + j, len - j,
			        sp_hash(name + j, len - j, idx->seed));
			consider_run(st, &idx->domains, s);
			while (j < len && name[j] != '.')
				j++;
			if (j++ == len)
				break;
		}
	}
	if (q->remote.family == AF_INET || q->remote.family == AF_INET6) {
		f = rules_fam(&q->remote);
		for (i = 0; i < idx->nlens[f]; i++) {
			plen = idx->lens[f][i];
			a = q->remote;
			for (j = sp_cidr_plen128(&a, plen); j < 128; j++)
				a.b[j / 8] &= (uint8_t) ~(0x80u >> (j % 8));
			s = rules_htab_find(&idx->cidr[f][plen], &a, sizeof(a),
			                    sp_hash(&a, sizeof(a), idx->seed));
			consider_run(st, &idx->cidr[f][plen], s);
		}
	}
	for (i = 0; i < idx->nnoproc; i++)
		consider(st, &idx->noproc[i]);
	if (q->exe != NULL) {
		len = strlen(q->exe);
		s = rules_htab_find(&idx->exact, q->exe, len,
		                    sp_hash(q->exe, len, idx->seed));
		consider_run(st, &idx->exact, s);
		for (i = 0; i < idx->nglob; i++)
			consider(st, &idx->glob[i]);
	}
}

/* How specific the best match of one name against a host/domain entry is. */
static int
name_spec(bool host, const char *entry, char nb[][SP_NAME_MAX + 1],
          const size_t *lens, size_t nnames)
{
	size_t i, el = strlen(entry);

	for (i = 0; i < nnames; i++) {
		if (lens[i] == el && memcmp(nb[i], entry, el) == 0)
			return (int)rules_spec_name(host, entry);
		if (!host && lens[i] > el && nb[i][lens[i] - el - 1] == '.' &&
		    memcmp(nb[i] + lens[i] - el, entry, el) == 0)
			return (int)rules_spec_name(false, entry);
	}
	return -1;
}

static int
addr_spec(const struct sp_addr *net, unsigned plen, const struct sp_addr *a)
{
	if (!sp_cidr_contains(net, plen, a))
		return -1;
	return (int)rules_spec_cidr(net, plen);
}

/* Without indices: every rule, every target (the reference matcher). */
static void
match_linear(struct mstate *st, char nb[][SP_NAME_MAX + 1], const size_t *lens,
             size_t nnames)
{
	const struct rules_rule *r;
	const struct rules_target *t;
	const struct rules_list_entry *le;
	struct rules_ient e;
	size_t i, j, k;
	int spec;

	for (i = 0; i < st->rs->nrules; i++) {
		r = &st->rs->rules[i];
		e.rule = (uint32_t)i;
		if (!(r->clauses & RULES_C_REMOTE)) {
			e.spec = RULES_SPEC_ANY;
			e.matched = "any";
			consider(st, &e);
			continue;
		}
		for (j = 0; j < r->ntargets; j++) {
			t = &r->targets[j];
			spec = -1;
			e.matched = t->name;
			switch (t->kind) {
			case RULES_T_ANY:
				spec = RULES_SPEC_ANY;
				e.matched = "any";
				break;
			case RULES_T_ADDR:
			case RULES_T_CIDR:
				spec = addr_spec(&t->addr, t->plen,
				                 &st->q->remote);
				break;
			case RULES_T_HOST:
			case RULES_T_DOMAIN:
				spec = name_spec(t->kind == RULES_T_HOST,
				                 t->name, nb, lens, nnames);
				break;
			case RULES_T_LIST:
				for (k = 0; k < t->list->n; k++) {
					le = &t->list->v[k];
					spec = le->kind == RULES_T_DOMAIN
					               ? name_spec(false,
					                           le->name, nb,
					                           lens, nnames)
					               : addr_spec(
					                         &le->addr,
					                         le->plen,
					                         &st->q->remote);
					if (spec < 0)
						continue;
					e.spec = (uint16_t)spec;
					e.matched = le->name;
					consider(st, &e);
				}
				spec = -1;
				break;
			}
			if (spec < 0)
				continue;
			e.spec = (uint16_t)spec;
			consider(st, &e);
		}
	}
}

enum sp_verdict
rules_match(const struct ruleset *rs, const struct rules_query *q,
            enum sp_verdict dflt, struct rules_result *res)
{
	char nb[QUERY_NAMES_MAX][SP_NAME_MAX + 1];
	size_t lens[QUERY_NAMES_MAX], nnames;
	struct mstate st;

	st.rs = rs;
	st.q = q;
	rules_rank_init(&st.rk, res);
	nnames = query_names(q, nb, lens);
	if (rs->idx != NULL)
		match_indexed(&st, nb, lens, nnames);
	else
		match_linear(&st, nb, lens, nnames);
	return rules_rank_result(&st.rk, rs, dflt, res);
}

/* ---- for the classifier: could a name decide? ---- */

bool
rules_rule_holds(const struct rules_rule *r, const struct rules_query *q)
{
	return clauses_hold(r, q);
}

bool
rules_rule_names(const struct rules_rule *r)
{
	const struct rules_target *t;
	size_t i, j;

	for (i = 0; i < r->ntargets; i++) {
		t = &r->targets[i];
		if (t->kind == RULES_T_HOST || t->kind == RULES_T_DOMAIN)
			return true;
		if (t->kind != RULES_T_LIST || t->list == NULL)
			continue;
		for (j = 0; j < t->list->n; j++)
			if (t->list->v[j].kind == RULES_T_DOMAIN)
				return true;
	}
	return false;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rule indices (rules_compile): hash tables by name, address prefix and
 * process, so a match touches no more rules than can match. */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

/* ---- hash tables ---- */

/* An entry on its way into a table, with the slot its key took. */
struct hitem {
	const void *key;
	size_t klen;
	uint64_t h;
	struct rules_ient e;
	size_t slot;
};

struct hitems {
	struct hitem *v;
	size_t n, cap;
};

static bool
items_push(struct hitems *it, const void *key, size_t klen, uint64_t h,
           uint32_t rule, unsigned spec, const char *matched)
{
	struct hitem *v;
	size_t cap;

	if (it->n == it->cap) {
		cap = it->cap ? it->cap * 2 : 64;
		if ((v = realloc(it->v, cap * sizeof(*v))) == NULL)
			return false;
		it->v = v;
		it->cap = cap;
	}
	v = &it->v[it->n++];
	v->key = key;
	v->klen = klen;
	v->h = h;
	v->e.rule = rule;
	v->e.spec = (uint16_t)spec;
	v->e.matched = matched;
	return true;
}

static bool
key_eq(const struct rules_htab *t, const struct rules_hslot *s, const void *key,
       size_t len)
{
	if (t->klen != 0)
		return memcmp(s->key, key, t->klen) == 0;
	return memcmp(s->key, key, len) == 0 &&
	       ((const char *)s->key)[len] == '\0';
}

const struct rules_hslot *
rules_htab_find(const struct rules_htab *t, const void *key, size_t len,
                uint64_t h)
{
	const struct rules_hslot *s;
	size_t i;

	if (t->slots == NULL)
		return NULL;
	for (i = h & t->mask;; i = (i + 1) & t->mask) {
		s = &t->slots[i];
		if (s->key == NULL)
			return NULL;
		if (s->h == h && key_eq(t, s, key, len))
			return s;
	}
}

/* Build t from items in three passes: place keys, lay out runs, fill. */
static bool
htab_build(struct rules_htab *t, struct hitems *it, size_t klen)
{
	struct rules_hslot *s;
	size_t nslots = 16, i, j, run = 0;

	t->klen = klen;
	if (it->n == 0)
		return true;
	while (nslots < it->n + it->n / 3 + 1)
		nslots *= 2;
	if ((t->slots = calloc(nslots, sizeof(*t->slots))) == NULL)
		return false;
	if ((t->ents = malloc(it->n * sizeof(*t->ents))) == NULL)
		return false;
	t->mask = nslots - 1;
	t->nents = it->n;
	for (i = 0; i < it->n; i++) {
		for (j = it->v[i].h & t->mask;; j = (j + 1) & t->mask) {
			s = &t->slots[j];
			if (s->key == NULL) {
				s->key = it->v[i].key;
				s->h = it->v[i].h;
				break;
			}
			if (s->h == it->v[i].h &&
			    key_eq(t, s, it->v[i].key, it->v[i].klen))
				break;
		}
		s->count++;
		it->v[i].slot = j;
	}
	for (j = 0; j < nslots; j++) {
		t->slots[j].first = (uint32_t)run;
		run += t->slots[j].count;
		t->slots[j].count = 0;
	}
	for (i = 0; i < it->n; i++) {
		s = &t->slots[it->v[i].slot];
		t->ents[s->first + s->count++] = it->v[i].e;
	}
	return true;
}

static void
htab_free(struct rules_htab *t)
{
	free(t->slots);
	free(t->ents);
	memset(t, 0, sizeof(*t));
}

void
rules_index_free(struct rules_index *idx)
{
	int f, l;

	if (idx == NULL)
		return;
	htab_free(&idx->hosts);
	htab_free(&idx->domains);
	for (f = 0; f < 2; f++)
		for (l = 0; l < 129; l++)
			htab_free(&idx->cidr[f][l]);
	free(idx->noproc);
	htab_free(&idx->exact);
	free(idx->glob);
	free(idx);
}

/* ---- compile ---- */

struct builder {
	struct rules_index *idx;
	struct hitems hosts, domains, exact;
	struct hitems cidr[2][129];
	size_t capnoproc, capglob;
};

static bool
ient_push(struct rules_ient **v, size_t *n, size_t *cap, uint32_t rule)
{
	struct rules_ient *nv;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 16;
		if ((nv = realloc(*v, ncap * sizeof(*nv))) == NULL)
			return false;
		*v = nv;
		*cap = ncap;
	}
	(*v)[*n].rule = rule;
	(*v)[*n].spec = RULES_SPEC_ANY;
	(*v)[*n].matched = "any";
	(*n)++;
	return true;
}

static bool
add_any(struct builder *b, const struct rules_rule *r)
{
	struct rules_index *idx = b->idx;
	const char *p = r->process;

	if (p == NULL)
		return ient_push(&idx->noproc, &idx->nnoproc, &b->capnoproc,
		                 r->index);
	if (rules_has_glob(p))
		return ient_push(&idx->glob, &idx->nglob, &b->capglob,
		                 r->index);
	return items_push(&b->exact, p, strlen(p),
	                  sp_hash(p, strlen(p), idx->seed), r->index,
	                  RULES_SPEC_ANY, "any");
}

static bool
add_name(struct builder *b, uint32_t rule, bool host, const char *name)
{
	size_t len = strlen(name);
	uint64_t h = sp_hash(name, len, b->idx->seed);

	return items_push(host ? &b->hosts : &b->domains, name, len, h, rule,
	                  rules_spec_name(host, name), name);
}

static bool
add_cidr(struct builder *b, uint32_t rule, const struct sp_addr *a,
         unsigned plen, const char *text)
{
	int f = rules_fam(a);

	return items_push(&b->cidr[f][plen], a, sizeof(*a),
	                  sp_hash(a, sizeof(*a), b->idx->seed), rule,
	                  rules_spec_cidr(a, plen), text);
}

static bool
add_rule(struct builder *b, const struct rules_rule *r)
{
	const struct rules_target *t;
	const struct rules_list_entry *e;
	size_t i, j;
	bool ok = true;

	if (!(r->clauses & RULES_C_REMOTE))
		return add_any(b, r);
	for (i = 0; i < r->ntargets && ok; i++) {
		t = &r->targets[i];
		switch (t->kind) {
		case RULES_T_ANY:
			ok = add_any(b, r);
			break;
		case RULES_T_ADDR:
		case RULES_T_CIDR:
			ok = add_cidr(b, r->index, &t->addr, t->plen, t->name);
			break;
		case RULES_T_HOST:
		case RULES_T_DOMAIN:
			ok = add_name(b, r->index, t->kind == RULES_T_HOST,
			              t->name);
			break;
		case RULES_T_LIST:
			for (j = 0; j < t->list->n && ok; j++) {
				e = &t->list->v[j];
				if (e->kind == RULES_T_DOMAIN)
					ok = add_name(b, r->index, false,
					              e->name);
				else
					ok = add_cidr(b, r->index, &e->addr,
					              e->plen, e->name);
			}
			break;
		}
	}
	return ok;
}

int
rules_compile(struct ruleset *rs, struct rules_diags *d)
{
	struct builder b;
	struct rules_index *idx;
	size_t i;
	int f, l;
	bool ok = true;

	rules_index_free(rs->idx);
	rs->idx = NULL;
	memset(&b, 0, sizeof(b));
	if ((idx = calloc(1, sizeof(*idx))) == NULL)
		goto nomem;
	idx->seed = rs->seed;
	b.idx = idx;
	for (i = 0; i < rs->nrules && ok; i++)
		ok = add_rule(&b, &rs->rules[i]);
	ok = ok && htab_build(&idx->hosts, &b.hosts, 0) &&
	     htab_build(&idx->domains, &b.domains, 0) &&
	     htab_build(&idx->exact, &b.exact, 0);
	for (f = 0; f < 2; f++) {
		for (l = 128; l >= 0; l--) {
			if (b.cidr[f][l].n == 0)
				continue;
			ok = ok && htab_build(&idx->cidr[f][l], &b.cidr[f][l],
			                      sizeof(struct sp_addr));
			idx->lens[f][idx->nlens[f]++] = (uint8_t)l;
		}
	}
	free(b.hosts.v);
	free(b.domains.v);
	free(b.exact.v);
	for (f = 0; f < 2; f++)
		for (l = 0; l < 129; l++)
			free(b.cidr[f][l].v);
	free(rs->decided);
	rs->decided =
	        calloc(rs->nrules > 0 ? rs->nrules : 1, sizeof(*rs->decided));
	if (!ok || rs->decided == NULL)
		goto nomem;
	rs->idx = idx;
	return 0;
nomem:
	rules_index_free(idx);
	rules_diag_add(d, false, "rules", 0, 0,
	               "out of memory building the rule indices");
	return -1;
}

void
rules_decided_add(const struct ruleset *rs, uint32_t index)
{
	if (rs->decided != NULL && index < rs->nrules)
		__atomic_fetch_add(&rs->decided[index], 1, __ATOMIC_RELAXED);
}

uint64_t
rules_decided(const struct ruleset *rs, uint32_t index)
{
	if (rs->decided == NULL || index >= rs->nrules)
		return 0;
	return __atomic_load_n(&rs->decided[index], __ATOMIC_RELAXED);
}

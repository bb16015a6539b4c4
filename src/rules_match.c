/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rule indices, the decision for a flow, and the essential-rule analysis. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/rules.h"

#define QUERY_NAMES_MAX 32 /* names of a flow looked at; more are ignored */

/* Specificity of a matched entry: remote_class << 8 | remote_len. */
#define SPEC_ANY       0u
#define SPEC_CIDR(len) ((1u << 8) | (len))
#define SPEC_DOMAIN(n) ((2u << 8) | (n))
#define SPEC_HOST      (3u << 8)

/* One index entry: which rule, how specific the entry that led to it is. */
struct ient {
	uint32_t rule;
	uint16_t spec;
	const char *matched;
};

struct hslot {
	uint64_t h;
	const void *key; /* NULL: empty slot */
	uint32_t first, count;
};

/* Open addressing, linear probing; each key owns a run of ents. */
struct htab {
	struct hslot *slots;
	size_t mask;
	size_t klen; /* fixed key length; 0 for NUL-terminated names */
	struct ient *ents;
	size_t nents;
};

struct hitem {
	const void *key;
	size_t klen;
	uint64_t h;
	struct ient e;
	size_t slot;
};

struct hitems {
	struct hitem *v;
	size_t n, cap;
};

enum { FAM_V4 = 0, FAM_V6 = 1 };

struct rules_index {
	uint64_t seed;
	struct htab hosts;   /* exact name */
	struct htab domains; /* name; queried with every suffix */
	/* Per family and prefix length (in the family): masked address. */
	struct htab cidr[2][129];
	uint8_t lens[2][129]; /* the lengths present, longest first */
	size_t nlens[2];
	/* Rules whose remote is any, by process. */
	struct ient *noproc;
	size_t nnoproc;
	struct htab exact; /* literal path */
	struct ient *glob;
	size_t nglob;
};

/* ---- keys ---- */

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

static void
make_key(const struct rules_rule *r, unsigned spec, struct rules_key *k)
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
has_glob(const char *p)
{
	return strpbrk(p, "*?") != NULL;
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

/* ---- hash tables ---- */

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
key_eq(const struct htab *t, const struct hslot *s, const void *key, size_t len)
{
	if (t->klen != 0)
		return memcmp(s->key, key, t->klen) == 0;
	return memcmp(s->key, key, len) == 0 &&
	       ((const char *)s->key)[len] == '\0';
}

static const struct hslot *
htab_find(const struct htab *t, const void *key, size_t len, uint64_t h)
{
	const struct hslot *s;
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
htab_build(struct htab *t, struct hitems *it, size_t klen)
{
	struct hslot *s;
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
htab_free(struct htab *t)
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

static unsigned
labels(const char *name)
{
	unsigned n = 1;

	for (; *name != '\0'; name++)
		if (*name == '.')
			n++;
	return n > 255 ? 255 : n;
}

static int
fam(const struct sp_addr *a)
{
	return a->family == AF_INET ? FAM_V4 : FAM_V6;
}

struct builder {
	struct rules_index *idx;
	struct hitems hosts, domains, exact;
	struct hitems cidr[2][129];
	size_t capnoproc, capglob;
};

static bool
ient_push(struct ient **v, size_t *n, size_t *cap, uint32_t rule)
{
	struct ient *nv;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 16;
		if ((nv = realloc(*v, ncap * sizeof(*nv))) == NULL)
			return false;
		*v = nv;
		*cap = ncap;
	}
	(*v)[*n].rule = rule;
	(*v)[*n].spec = SPEC_ANY;
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
	if (has_glob(p))
		return ient_push(&idx->glob, &idx->nglob, &b->capglob,
		                 r->index);
	return items_push(&b->exact, p, strlen(p),
	                  sp_hash(p, strlen(p), idx->seed), r->index, SPEC_ANY,
	                  "any");
}

static bool
add_name(struct builder *b, uint32_t rule, bool host, const char *name)
{
	size_t len = strlen(name);
	uint64_t h = sp_hash(name, len, b->idx->seed);

	if (host)
		return items_push(&b->hosts, name, len, h, rule, SPEC_HOST,
		                  name);
	return items_push(&b->domains, name, len, h, rule,
	                  SPEC_DOMAIN(labels(name)), name);
}

static bool
add_cidr(struct builder *b, uint32_t rule, const struct sp_addr *a,
         unsigned plen, const char *text)
{
	int f = fam(a);

	return items_push(&b->cidr[f][plen], a, sizeof(*a),
	                  sp_hash(a, sizeof(*a), b->idx->seed), rule,
	                  SPEC_CIDR(sp_cidr_plen128(a, plen)), text);
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
	if (!ok)
		goto nomem;
	rs->idx = idx;
	return 0;
nomem:
	rules_index_free(idx);
	rules_diag_add(d, false, "rules", 0, 0,
	               "out of memory building the rule indices");
	return -1;
}

/* ---- matching ---- */

struct best {
	bool have;
	uint32_t rule;
	struct rules_key key;
	const char *matched;
};

struct mstate {
	const struct ruleset *rs;
	const struct rules_query *q;
	struct rules_result *res; /* collecting candidates when non-NULL */
	struct best first, second;
};

static void
collect(struct mstate *st, uint32_t ri, const struct rules_key *k,
        const char *matched)
{
	struct rules_result *res = st->res;
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
best_set(struct best *b, uint32_t ri, const struct rules_key *k,
         const char *matched)
{
	b->have = true;
	b->rule = ri;
	b->key = *k;
	b->matched = matched;
}

/* Keep the best and, when collecting, the best of the other rules. */
static void
rank(struct mstate *st, uint32_t ri, const struct rules_key *k,
     const char *matched)
{
	struct best tmp;

	if (st->first.have && st->first.rule == ri) {
		if (rules_key_cmp(k, &st->first.key) < 0)
			best_set(&st->first, ri, k, matched);
		return;
	}
	if (st->second.have && st->second.rule == ri) {
		if (rules_key_cmp(k, &st->second.key) < 0)
			best_set(&st->second, ri, k, matched);
		if (rules_key_cmp(&st->second.key, &st->first.key) < 0) {
			tmp = st->first;
			st->first = st->second;
			st->second = tmp;
		}
		return;
	}
	if (!st->first.have || rules_key_cmp(k, &st->first.key) < 0) {
		st->second = st->first;
		best_set(&st->first, ri, k, matched);
	} else if (!st->second.have || rules_key_cmp(k, &st->second.key) < 0) {
		best_set(&st->second, ri, k, matched);
	}
}

static void
consider(struct mstate *st, const struct ient *e)
{
	const struct rules_rule *r = &st->rs->rules[e->rule];
	struct rules_key k;

	make_key(r, e->spec, &k);
	/* The key needs no clause check: prune before checking them. */
	if (st->res == NULL && st->first.have &&
	    rules_key_cmp(&k, &st->first.key) >= 0)
		return;
	if (!clauses_hold(r, st->q))
		return;
	if (st->res != NULL) {
		collect(st, e->rule, &k, e->matched);
		rank(st, e->rule, &k, e->matched);
		return;
	}
	best_set(&st->first, e->rule, &k, e->matched);
}

static void
consider_run(struct mstate *st, const struct htab *t, const struct hslot *s)
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
	const struct hslot *s;
	struct sp_addr a;
	const char *name;
	size_t i, j, len;
	unsigned plen;
	int f;

	for (i = 0; i < nnames; i++) {
		name = nb[i];
		len = lens[i];
		s = htab_find(&idx->hosts, name, len,
		              sp_hash(name, len, idx->seed));
		consider_run(st, &idx->hosts, s);
		for (j = 0;;) {
			s = htab_find(&idx->domains, name + j, len - j,
			              sp_hash(name + j, len - j, idx->seed));
			consider_run(st, &idx->domains, s);
			while (j < len && name[j] != '.')
				j++;
			if (j++ == len)
				break;
		}
	}
	if (q->remote.family == AF_INET || q->remote.family == AF_INET6) {
		f = fam(&q->remote);
		for (i = 0; i < idx->nlens[f]; i++) {
			plen = idx->lens[f][i];
			a = q->remote;
			for (j = sp_cidr_plen128(&a, plen); j < 128; j++)
				a.b[j / 8] &= (uint8_t) ~(0x80u >> (j % 8));
			s = htab_find(&idx->cidr[f][plen], &a, sizeof(a),
			              sp_hash(&a, sizeof(a), idx->seed));
			consider_run(st, &idx->cidr[f][plen], s);
		}
	}
	for (i = 0; i < idx->nnoproc; i++)
		consider(st, &idx->noproc[i]);
	if (q->exe != NULL) {
		len = strlen(q->exe);
		s = htab_find(&idx->exact, q->exe, len,
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
			return host ? (int)SPEC_HOST
			            : (int)SPEC_DOMAIN(labels(entry));
		if (!host && lens[i] > el && nb[i][lens[i] - el - 1] == '.' &&
		    memcmp(nb[i] + lens[i] - el, entry, el) == 0)
			return (int)SPEC_DOMAIN(labels(entry));
	}
	return -1;
}

static int
addr_spec(const struct sp_addr *net, unsigned plen, const struct sp_addr *a)
{
	if (!sp_cidr_contains(net, plen, a))
		return -1;
	return (int)SPEC_CIDR(sp_cidr_plen128(net, plen));
}

/* Without indices: every rule, every target (the reference matcher). */
static void
match_linear(struct mstate *st, char nb[][SP_NAME_MAX + 1], const size_t *lens,
             size_t nnames)
{
	const struct rules_rule *r;
	const struct rules_target *t;
	const struct rules_list_entry *le;
	struct ient e;
	size_t i, j, k;
	int spec;

	for (i = 0; i < st->rs->nrules; i++) {
		r = &st->rs->rules[i];
		e.rule = (uint32_t)i;
		if (!(r->clauses & RULES_C_REMOTE)) {
			e.spec = SPEC_ANY;
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
				spec = SPEC_ANY;
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

static int
cand_cmp(const void *a, const void *b)
{
	return rules_key_cmp(&((const struct rules_candidate *)a)->key,
	                     &((const struct rules_candidate *)b)->key);
}

enum sp_verdict
rules_match(const struct ruleset *rs, const struct rules_query *q,
            enum sp_verdict dflt, struct rules_result *res)
{
	char nb[QUERY_NAMES_MAX][SP_NAME_MAX + 1];
	size_t lens[QUERY_NAMES_MAX], nnames;
	struct mstate st;

	memset(&st, 0, sizeof(st));
	st.rs = rs;
	st.q = q;
	if (res != NULL) {
		res->ncands = 0;
		res->settled_by = NULL;
		res->matched = NULL;
		if (res->cands != NULL && res->cands_cap > 0)
			st.res = res;
	}
	nnames = query_names(q, nb, lens);
	if (rs->idx != NULL)
		match_indexed(&st, nb, lens, nnames);
	else
		match_linear(&st, nb, lens, nnames);

	if (res == NULL)
		return st.first.have ? rs->rules[st.first.rule].action : dflt;
	memset(&res->key, 0, sizeof(res->key));
	res->rule = UINT32_MAX;
	res->verdict = dflt;
	if (st.first.have) {
		res->rule = st.first.rule;
		res->key = st.first.key;
		res->matched = st.first.matched;
		res->verdict = rs->rules[st.first.rule].action;
	}
	if (st.res != NULL) {
		qsort(res->cands, res->ncands, sizeof(*res->cands), cand_cmp);
		if (st.second.have)
			res->settled_by =
			        rules_key_field(&st.first.key, &st.second.key);
	}
	return res->verdict;
}

/* ---- essential rules ---- */

/* One entry of a rule's remote, lists unfolded. */
struct rview {
	uint8_t kind; /* ANY, ADDR/CIDR, HOST, DOMAIN */
	const struct sp_addr *addr;
	unsigned plen;
	const char *name;
};

struct rviews {
	struct rview *v;
	size_t n, cap;
};

static bool
rviews_push(struct rviews *rv, uint8_t kind, const struct sp_addr *a,
            unsigned plen, const char *name)
{
	struct rview *v;
	size_t cap;

	if (rv->n == rv->cap) {
		cap = rv->cap ? rv->cap * 2 : 8;
		if ((v = realloc(rv->v, cap * sizeof(*v))) == NULL)
			return false;
		rv->v = v;
		rv->cap = cap;
	}
	rv->v[rv->n].kind = kind;
	rv->v[rv->n].addr = a;
	rv->v[rv->n].plen = plen;
	rv->v[rv->n].name = name;
	rv->n++;
	return true;
}

static bool
rviews_of(const struct rules_rule *r, struct rviews *rv)
{
	const struct rules_target *t;
	const struct rules_list_entry *e;
	size_t i, j;
	bool ok = true;

	rv->n = 0;
	if (!(r->clauses & RULES_C_REMOTE))
		return rviews_push(rv, RULES_T_ANY, NULL, 0, NULL);
	for (i = 0; i < r->ntargets && ok; i++) {
		t = &r->targets[i];
		if (t->kind != RULES_T_LIST) {
			ok = rviews_push(rv, (uint8_t)t->kind, &t->addr,
			                 t->plen, t->name);
			continue;
		}
		for (j = 0; j < t->list->n && ok; j++) {
			e = &t->list->v[j];
			ok = rviews_push(rv, e->kind, &e->addr, e->plen,
			                 e->name);
		}
	}
	return ok;
}

static unsigned
view_spec(const struct rview *v)
{
	switch (v->kind) {
	case RULES_T_ADDR:
	case RULES_T_CIDR:
		return SPEC_CIDR(sp_cidr_plen128(v->addr, v->plen));
	case RULES_T_HOST:
		return SPEC_HOST;
	case RULES_T_DOMAIN:
		return SPEC_DOMAIN(labels(v->name));
	}
	return SPEC_ANY;
}

static bool
is_addr(uint8_t kind)
{
	return kind == RULES_T_ADDR || kind == RULES_T_CIDR;
}

/* Does every flow that e admits also meet d? */
static bool
covers(const struct rview *d, const struct rview *e)
{
	size_t dl, el;

	if (d->kind == RULES_T_ANY)
		return true;
	if (e->kind == RULES_T_ANY)
		return false;
	if (is_addr(d->kind))
		return is_addr(e->kind) && d->addr->family == e->addr->family &&
		       d->plen <= e->plen &&
		       sp_cidr_contains(d->addr, d->plen, e->addr);
	if (is_addr(e->kind))
		return false;
	if (d->kind == RULES_T_HOST)
		return e->kind == RULES_T_HOST && strcmp(d->name, e->name) == 0;
	dl = strlen(d->name);
	el = strlen(e->name);
	if (el == dl)
		return strcmp(d->name, e->name) == 0;
	return el > dl && e->name[el - dl - 1] == '.' &&
	       strcmp(e->name + el - dl, d->name) == 0;
}

static bool
protos_overlap(const struct rules_rule *a, const struct rules_rule *b)
{
	size_t i;

	for (i = 0; i < sizeof(a->protos); i++)
		if (a->protos[i] & b->protos[i])
			return true;
	return false;
}

static bool
ports_overlap(const struct rules_rule *a, const struct rules_rule *b)
{
	size_t i, j;

	if (!(a->clauses & RULES_C_PORT) || !(b->clauses & RULES_C_PORT))
		return true;
	for (i = 0; i < a->nports; i++)
		for (j = 0; j < b->nports; j++)
			if (a->ports[i].lo <= b->ports[j].hi &&
			    b->ports[j].lo <= a->ports[i].hi)
				return true;
	return false;
}

static bool
processes_overlap(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return true;
	if (!has_glob(a))
		return rules_glob_match(b, a);
	if (!has_glob(b))
		return rules_glob_match(a, b);
	return true; /* two patterns: assume some path fits both */
}

/* Everything but the remote can hold for one flow at once. */
static bool
others_overlap(const struct rules_rule *d, const struct rules_rule *e)
{
	if ((d->dir & e->dir) == 0 || !protos_overlap(d, e) ||
	    !ports_overlap(d, e))
		return false;
	if ((d->clauses & RULES_C_USER) && (e->clauses & RULES_C_USER) &&
	    d->uid != e->uid)
		return false;
	return processes_overlap(d->process, e->process);
}

/* Some entry of e's remote wholly inside one of d's, where d ranks first. */
static bool
wins_over(const struct rules_rule *d, const struct rviews *dv,
          const struct rules_rule *e, const struct rviews *ev)
{
	struct rules_key kd, ke;
	size_t i, j;
	int best;

	for (i = 0; i < ev->n; i++) {
		best = -1;
		for (j = 0; j < dv->n; j++)
			if (covers(&dv->v[j], &ev->v[i]) &&
			    (int)view_spec(&dv->v[j]) > best)
				best = (int)view_spec(&dv->v[j]);
		if (best < 0)
			continue;
		make_key(d, (unsigned)best, &kd);
		make_key(e, view_spec(&ev->v[i]), &ke);
		if (rules_key_cmp(&kd, &ke) < 0)
			return true;
	}
	return false;
}

void
rules_check_essential(const struct ruleset *rs, struct rules_diags *d)
{
	const struct rules_rule *dr, *er;
	struct rviews dv, ev;
	size_t i, j;

	memset(&dv, 0, sizeof(dv));
	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < rs->nrules; i++) {
		dr = &rs->rules[i];
		if (dr->action == SP_VERDICT_ALLOW)
			continue;
		if (!rviews_of(dr, &dv))
			goto nomem;
		for (j = 0; j < rs->nrules; j++) {
			er = &rs->rules[j];
			if (!(er->clauses & RULES_C_ESSENTIAL) ||
			    er->action != SP_VERDICT_ALLOW ||
			    !others_overlap(dr, er))
				continue;
			if (!rviews_of(er, &ev))
				goto nomem;
			if (!wins_over(dr, &dv, er, &ev))
				continue;
			if (er->note != NULL)
				rules_diag_add(d, true, dr->file, dr->line,
				               dr->col,
				               "this %s rule would win over "
				               "essential rule %s:%u (note: "
				               "\"%s\")",
				               sp_verdict_name(dr->action),
				               er->file, er->line, er->note);
			else
				rules_diag_add(d, true, dr->file, dr->line,
				               dr->col,
				               "this %s rule would win over "
				               "essential rule %s:%u",
				               sp_verdict_name(dr->action),
				               er->file, er->line);
		}
	}
	goto out;
nomem:
	rules_diag_add(d, false, "rules", 0, 0,
	               "out of memory checking essential rules");
out:
	free(dv.v);
	free(ev.v);
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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The essential-rule check of `rules check`: a deny or reject rule that
 * would win over an essential allow rule for some traffic. */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

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
		return rules_spec_cidr(v->addr, v->plen);
	case RULES_T_HOST:
	case RULES_T_DOMAIN:
		return rules_spec_name(v->kind == RULES_T_HOST, v->name);
	}
	return RULES_SPEC_ANY;
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
	if (!rules_has_glob(a))
		return rules_glob_match(b, a);
	if (!rules_has_glob(b))
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
		rules_key_make(d, (unsigned)best, &kd);
		rules_key_make(e, view_spec(&ev->v[i]), &ke);
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
	char where[SP_PATH_MAX + 16]; /* a file that was read, and its line */
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
			rules_format_where(where, sizeof(where), er);
			if (er->note != NULL)
				rules_diag_add(
				        d, true, dr->file, dr->line, dr->col,
				        "this %s rule would win over "
				        "essential rule %s (note: \"%s\")",
				        sp_verdict_name(dr->action), where,
				        er->note);
			else
				rules_diag_add(
				        d, true, dr->file, dr->line, dr->col,
				        "this %s rule would win over "
				        "essential rule %s",
				        sp_verdict_name(dr->action), where);
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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Is spackle's iptables steering first and whole in each hook? The rules
 * read back against what steer_iptables_text() installs. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pfconf/fwread_priv.h"
#include "pfconf/savetext.h"
#include "spackle/fwread.h"
#include "spackle/steer_text.h"

/* At most this many cells for the chain diff; past it, a plain walk. */
#define FW_DIFF_CELLS (1u << 22)

/* The hooks spackle steers, as pfconf/iptables.c writes them. */
const struct fw_hook fw_hooks[FW_NHOOKS] = {
        {CONFIG_HOOK_OUT, "OUTPUT", STEER_CHAIN_OUT},
        {CONFIG_HOOK_IN, "INPUT", STEER_CHAIN_IN},
        {CONFIG_HOOK_FORWARD, "FORWARD", STEER_CHAIN_FWD},
};

/*
 * A spec in one form for comparison: tokens joined by single spaces,
 * -p as iptables-save names the protocol, -s/-d with their prefix length.
 * Only the part before the target is rewritten. NULL: out of memory.
 */
char *
fw_norm(const char *spec)
{
	struct save_view rest = {spec, strlen(spec)}, tok;
	enum { PLAIN, PROTO, ADDR } next = PLAIN;
	bool target = false;
	char *buf = NULL, name[FW_NAME_MAX];
	const char *pname;
	size_t len = 0;
	FILE *f;
	int num, t;

	f = open_memstream(&buf, &len);
	if (f == NULL)
		return NULL;
	for (bool first = true; (t = save_token(&rest, &tok)) != 0;
	     first = false) {
		if (!first)
			fputc(' ', f);
		if (t > 0 && next == PROTO &&
		    save_unquote(tok, name, sizeof(name)) &&
		    (num = save_proto_num(name)) > 0 &&
		    (pname = save_proto_name((unsigned)num)) != NULL)
			fputs(pname, f);
		else
			fwrite(tok.p, 1, tok.n, f);
		if (t > 0 && next == ADDR && memchr(tok.p, '/', tok.n) == NULL)
			fputs(memchr(tok.p, ':', tok.n) != NULL ? "/128"
			                                        : "/32",
			      f);
		next = PLAIN;
		if (target)
			continue;
		if (save_eq(tok, "-j") || save_eq(tok, "-g"))
			target = true;
		else if (save_eq(tok, "-p") || save_eq(tok, "--protocol"))
			next = PROTO;
		else if (save_eq(tok, "-s") || save_eq(tok, "-d") ||
		         save_eq(tok, "--source") ||
		         save_eq(tok, "--destination"))
			next = ADDR;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void
fw_expected_free(struct fw_expected *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->v[i].line);
		free(e->v[i].norm);
	}
	free(e->v);
	for (i = 0; i < FW_NHOOKS; i++)
		free(e->jump[i]);
	memset(e, 0, sizeof(*e));
}

static int
fw_expected_line(struct fw_expected *e, const char *line)
{
	struct save_view rest = {line, strlen(line)}, tok, hook, chain;
	char *spec;
	size_t i;
	int rc;

	if (strncmp(line, "-A ", 3) == 0) {
		if (save_token(&rest, &tok) != 1 ||
		    save_token(&rest, &chain) != 1 || chain.n >= FW_NAME_MAX)
			return -EINVAL;
		if ((rc = fw_grow((void **)&e->v, &e->cap, e->n,
		                  sizeof(*e->v))) < 0)
			return rc;
		memset(&e->v[e->n], 0, sizeof(e->v[e->n]));
		memcpy(e->v[e->n].chain, chain.p, chain.n);
		e->v[e->n].line = strdup(line);
		e->v[e->n].norm = fw_norm(line);
		e->n++;
		if (e->v[e->n - 1].line == NULL || e->v[e->n - 1].norm == NULL)
			return -ENOMEM;
		return 0;
	}
	if (strncmp(line, "-I ", 3) != 0)
		return 0;
	/* "-I HOOK 1 rest" is "-A HOOK rest" once installed. */
	if (save_token(&rest, &tok) != 1 || save_token(&rest, &hook) != 1 ||
	    save_token(&rest, &tok) != 1 || !save_eq(tok, "1"))
		return -EINVAL;
	for (i = 0; i < FW_NHOOKS; i++) {
		if (!save_eq(hook, fw_hooks[i].hook))
			continue;
		if (asprintf(&spec, "-A %s%.*s", fw_hooks[i].hook, (int)rest.n,
		             rest.p) < 0)
			return -ENOMEM;
		free(e->jump[i]);
		e->jump[i] = fw_norm(spec);
		free(spec);
		return e->jump[i] == NULL ? -ENOMEM : 0;
	}
	return -EINVAL;
}

int
fw_expected_build(const struct config *c, int family, struct fw_expected *e)
{
	char *text = NULL, *p, *nl;
	size_t len = 0, i;
	FILE *f;
	int rc;

	memset(e, 0, sizeof(*e));
	f = open_memstream(&text, &len);
	if (f == NULL)
		return -ENOMEM;
	rc = steer_iptables_text(c, family, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(text);
		return rc;
	}
	for (p = text; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if (*nl == '\0') {
			rc = fw_expected_line(e, p);
			break;
		}
		*nl = '\0';
		if ((rc = fw_expected_line(e, p)) < 0)
			break;
	}
	free(text);
	for (i = 0; rc == 0 && i < FW_NHOOKS; i++)
		if ((c->hooks & fw_hooks[i].bit) && e->jump[i] == NULL)
			rc = -EINVAL; /* the generator lost a jump */
	if (rc < 0)
		fw_expected_free(e);
	return rc;
}

static void
fw_hook_check_free(struct fw_hook_check *h)
{
	size_t i;

	for (i = 0; i < h->jumps && h->jump_specs != NULL; i++)
		free(h->jump_specs[i]);
	free(h->jump_specs);
	free(h->above);
	for (i = 0; i < h->nmissing; i++)
		free(h->missing[i]);
	free(h->missing);
	for (i = 0; i < h->nextra; i++)
		free(h->extra[i]);
	free(h->extra);
	memset(h, 0, sizeof(*h));
}

void
fw_steer_check_free(struct fw_steer_check *ch)
{
	size_t i;

	if (ch == NULL)
		return;
	for (i = 0; i < ch->n; i++)
		fw_hook_check_free(&ch->v[i]);
	free(ch->v);
	memset(ch, 0, sizeof(*ch));
}

/* Append a copy of s to a list of n strings (room for n + 1 made). */
static int
fw_push_str(char ***v, size_t *n, const char *s)
{
	char **p, *d;

	if (*n >= SIZE_MAX / sizeof(**v) - 1)
		return -ENOMEM;
	d = strdup(s);
	if (d == NULL)
		return -ENOMEM;
	p = realloc(*v, (*n + 1) * sizeof(**v));
	if (p == NULL) {
		free(d);
		return -ENOMEM;
	}
	p[(*n)++] = d;
	*v = p;
	return 0;
}

/*
 * Diff the chain as found (na rules: specs spec[], normalised norm[])
 * against what c installs there (want[], nw of them): what is in the
 * longest common subsequence matched, the rest missing or extra.
 */
static int
fw_diff(struct fw_hook_check *h, struct fw_exp_rule *const *want, size_t nw,
        char *const *spec, char *const *norm, size_t na)
{
	uint16_t *L = NULL;
	size_t i = 0, j = 0, w = na + 1;
	int rc = 0;

#define FW_L(a, b) L[(a)*w + (b)]
	if (nw < UINT16_MAX && na < UINT16_MAX &&
	    (nw + 1) * (na + 1) <= FW_DIFF_CELLS) {
		L = calloc((nw + 1) * (na + 1), sizeof(*L));
		if (L == NULL)
			return -ENOMEM;
		for (i = nw; i-- > 0;) {
			for (j = na; j-- > 0;) {
				if (strcmp(want[i]->norm, norm[j]) == 0)
					FW_L(i, j) = FW_L(i + 1, j + 1) + 1;
				else if (FW_L(i + 1, j) >= FW_L(i, j + 1))
					FW_L(i, j) = FW_L(i + 1, j);
				else
					FW_L(i, j) = FW_L(i, j + 1);
			}
		}
	}
	/* Without the table (a chain of tens of thousands of rules): match
	 * in order only, which may list more than it has to, never less. */
	i = j = 0;
	while (rc == 0 && i < nw && j < na) {
		if (strcmp(want[i]->norm, norm[j]) == 0) {
			i++;
			j++;
		} else if (L != NULL && FW_L(i + 1, j) >= FW_L(i, j + 1)) {
			rc = fw_push_str(&h->missing, &h->nmissing,
			                 want[i++]->line);
		} else {
			rc = fw_push_str(&h->extra, &h->nextra, spec[j++]);
		}
	}
#undef FW_L
	while (rc == 0 && i < nw)
		rc = fw_push_str(&h->missing, &h->nmissing, want[i++]->line);
	while (rc == 0 && j < na)
		rc = fw_push_str(&h->extra, &h->nextra, spec[j++]);
	free(L);
	return rc;
}

static void
fw_shrink(void **v, size_t n, size_t size)
{
	void *p;

	if (*v == NULL)
		return;
	if (n == 0) {
		free(*v);
		*v = NULL;
		return;
	}
	p = realloc(*v, n * size);
	if (p != NULL)
		*v = p;
}

static int
fw_check_hook(const struct fw_hook *hk, size_t hi, int family,
              const struct fw_ruleset *rs, const struct fw_expected *e,
              struct fw_hook_check *h)
{
	struct fw_exp_rule **want = NULL;
	char **spec = NULL, **norm = NULL, *jn = NULL;
	size_t nw = 0, na = 0, i, k;
	bool exact = false;
	int rc = -ENOMEM;

	h->family = family;
	h->hook = hk->hook;
	h->chain = hk->chain;
	for (i = 0; i < rs->nchains; i++)
		if (rs->chains[i].family == family &&
		    strcmp(rs->chains[i].name, hk->chain) == 0)
			h->chain_present = true;

	/* Room for every rule of the family, at most. */
	if (rs->n > 0) {
		spec = calloc(rs->n, sizeof(*spec));
		norm = calloc(rs->n, sizeof(*norm));
		h->above = calloc(rs->n, sizeof(*h->above));
		h->jump_specs = calloc(rs->n, sizeof(*h->jump_specs));
		if (spec == NULL || norm == NULL || h->above == NULL ||
		    h->jump_specs == NULL)
			goto out;
	}
	if (e->n > 0 && (want = calloc(e->n, sizeof(*want))) == NULL)
		goto out;
	for (k = 0; k < e->n; k++)
		if (strcmp(e->v[k].chain, hk->chain) == 0)
			want[nw++] = &e->v[k];

	for (i = 0; i < rs->n; i++) {
		const struct fw_rule *r = &rs->v[i];

		if (r->family != family)
			continue;
		if (strcmp(r->chain, hk->hook) == 0) {
			if (strcmp(r->target, hk->chain) == 0) {
				h->jump_specs[h->jumps] = strdup(r->spec);
				if (h->jump_specs[h->jumps] == NULL)
					goto out;
				if (h->jumps++ == 0) {
					h->jump_pos = r->pos;
					jn = fw_norm(r->spec);
					if (jn == NULL)
						goto out;
					exact = strcmp(jn, e->jump[hi]) == 0;
				}
			} else if (h->jumps == 0) {
				h->above[h->nabove++] = i;
			}
		} else if (strcmp(r->chain, hk->chain) == 0) {
			h->chain_present = true;
			spec[na] = r->spec;
			norm[na] = fw_norm(r->spec);
			if (norm[na++] == NULL)
				goto out;
		}
	}
	if ((rc = fw_diff(h, want, nw, spec, norm, na)) < 0)
		goto out;
	h->ok = h->jumps == 1 && h->jump_pos == 1 && exact &&
	        h->chain_present && h->nmissing == 0 && h->nextra == 0;
	/* Keep only what was used of the room made above. */
	fw_shrink((void **)&h->above, h->nabove, sizeof(*h->above));
	fw_shrink((void **)&h->jump_specs, h->jumps, sizeof(*h->jump_specs));
	rc = 0;
out:
	for (i = 0; i < na; i++)
		free(norm[i]);
	free(norm);
	free(spec);
	free(want);
	free(jn);
	return rc;
}

int
fw_check_steering(const struct config *c, int family,
                  const struct fw_ruleset *rs, struct fw_steer_check *out)
{
	struct fw_expected e;
	struct fw_hook_check *v;
	size_t i;
	int rc;

	if (rs == NULL || out == NULL ||
	    (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	if ((rc = fw_expected_build(c, family, &e)) < 0)
		return rc;
	for (i = 0; i < FW_NHOOKS; i++) {
		if (!(c->hooks & fw_hooks[i].bit))
			continue;
		v = realloc(out->v, (out->n + 1) * sizeof(*out->v));
		if (v == NULL) {
			rc = -ENOMEM;
			break;
		}
		out->v = v;
		memset(&v[out->n], 0, sizeof(v[out->n]));
		if ((rc = fw_check_hook(&fw_hooks[i], i, family, rs, &e,
		                        &v[out->n])) < 0) {
			fw_hook_check_free(&v[out->n]);
			break;
		}
		out->n++;
	}
	fw_expected_free(&e);
	out->ok = out->n > 0;
	for (i = 0; i < out->n; i++)
		if (!out->v[i].ok)
			out->ok = false;
	return rc;
}

json_t *
fw_hook_check_json(const struct fw_ruleset *rs, const struct fw_hook_check *hc)
{
	json_t *h, *above, *missing, *extra;
	char desc[512];
	size_t k;

	above = json_array();
	for (k = 0; above != NULL && k < hc->nabove; k++) {
		const struct fw_rule *r = &rs->v[hc->above[k]];

		fw_rule_describe(r, desc, sizeof(desc));
		json_array_append_new(
		        above,
		        json_pack("{s:s,s:I,s:s,s:I,s:I}", "rule", r->spec,
		                  "position", (json_int_t)r->pos, "matches",
		                  desc, "packets", (json_int_t)r->packets,
		                  "bytes", (json_int_t)r->bytes));
	}
	missing = json_array();
	for (k = 0; missing != NULL && k < hc->nmissing; k++)
		json_array_append_new(missing, json_string(hc->missing[k]));
	extra = json_array();
	for (k = 0; extra != NULL && k < hc->nextra; k++)
		json_array_append_new(extra, json_string(hc->extra[k]));
	h = json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:b,s:b,s:o*,s:o*,s:o*}",
	              "family", hc->family == AF_INET6 ? "ipv6" : "ipv4",
	              "hook", hc->hook, "chain", hc->chain, "ok", hc->ok,
	              "jumps", (json_int_t)hc->jumps, "position",
	              (json_int_t)hc->jump_pos, "chain_present",
	              hc->chain_present, "first", hc->jump_pos == 1, "above",
	              above, "missing", missing, "extra", extra);
	return h;
}

/* The packets or the bytes of spackle's rules with this comment. */
static uint64_t
fw_rules_total(const struct fw_ruleset *rs, const char *comment, bool bytes)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < rs->n; i++) {
		const struct fw_rule *r = &rs->v[i];

		if (r->comment != NULL && strcmp(r->comment, comment) == 0 &&
		    strncmp(r->chain, STEER_CHAIN_PREFIX,
		            strlen(STEER_CHAIN_PREFIX)) == 0)
			sum += bytes ? r->bytes : r->packets;
	}
	return sum;
}

uint64_t
fw_rules_sum(const struct fw_ruleset *rs, const char *comment)
{
	return fw_rules_total(rs, comment, false);
}

uint64_t
fw_rules_bytes(const struct fw_ruleset *rs, const char *comment)
{
	return fw_rules_total(rs, comment, true);
}

uint64_t
fw_unseen_update(struct fw_unseen *u, uint64_t sent, uint64_t seen,
                 unsigned families)
{
	uint64_t now, settled;

	if (u->families != 0 &&
	    (families != u->families || sent < u->sent_last)) {
		/* This read is the new epoch's zero. */
		u->base = u->total;
		u->seen0 = seen > sent ? seen - sent : 0;
		u->prev = 0;
	}
	u->families = families;
	u->sent_last = sent;
	seen -= seen < u->seen0 ? seen : u->seen0;
	now = sent > seen ? sent - seen : 0;
	settled = now < u->prev ? now : u->prev;
	if (u->base + settled > u->total)
		u->total = u->base + settled;
	u->prev = now;
	return u->total;
}

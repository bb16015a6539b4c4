/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rule grammar (RULES.md): the tokens of one line into a rule. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A decimal number no bigger than max; false on anything else. */
static bool
parse_number(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!all_digits(s))
		return false;
	for (; *s != '\0'; s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/*
 * Room for element n of an array that holds n: the capacity doubles at each
 * power of two, so a rule's sets need no capacity field.
 */
static void *
grow(void *v, size_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return v;
	return realloc(v, (n ? n * 2 : 1) * size);
}

static void
mask_addr(struct sp_addr *a, unsigned plen)
{
	unsigned bits = sp_cidr_plen128(a, plen), i;

	for (i = bits; i < 128; i++)
		a->b[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

static const struct rules_tok *
peek(const struct rules_parser *ps)
{
	return ps->i < ps->t->n ? &ps->t->v[ps->i] : NULL;
}

static const struct rules_tok *
next(struct rules_parser *ps)
{
	return ps->i < ps->t->n ? &ps->t->v[ps->i++] : NULL;
}

static bool
is_word(const struct rules_tok *tk, const char *w)
{
	return tk != NULL && tk->kind == RULES_TOK_WORD &&
	       strcmp(tk->s, w) == 0;
}

static void perr(struct rules_parser *ps, const struct rules_tok *tk,
                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
perr(struct rules_parser *ps, const struct rules_tok *tk, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	const struct rules_tok *last;
	unsigned line, col;

	if (tk != NULL) {
		line = tk->line;
		col = tk->col;
	} else {
		last = &ps->t->v[ps->t->n - 1];
		line = last->line;
		col = last->ecol;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	rules_diag_add(ps->d, false, ps->file, line, col, "%s",
	               msg ? msg : "out of memory");
	free(msg);
}

static void pwarn(struct rules_parser *ps, const struct rules_tok *tk,
                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
pwarn(struct rules_parser *ps, const struct rules_tok *tk, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	rules_diag_add(ps->d, true, ps->file, tk->line, tk->col, "%s",
	               msg ? msg : "out of memory");
	free(msg);
}

/* Report that tk is not what was expected (or the lexer's own error). */
static bool
bad(struct rules_parser *ps, const struct rules_tok *tk, const char *expected)
{
	if (tk == NULL) {
		perr(ps, NULL, "expected %s, got the end of the line",
		     expected);
		return false;
	}
	switch (tk->kind) {
	case RULES_TOK_ERROR:
		perr(ps, tk, "%s", tk->s);
		break;
	case RULES_TOK_WORD:
		perr(ps, tk, "expected %s, got '%s'", expected, tk->s);
		break;
	case RULES_TOK_STRING:
		perr(ps, tk, "expected %s, got a string", expected);
		break;
	case RULES_TOK_LBRACE:
		perr(ps, tk, "expected %s, got '{'", expected);
		break;
	case RULES_TOK_RBRACE:
		perr(ps, tk, "expected %s, got '}'", expected);
		break;
	case RULES_TOK_COMMA:
		perr(ps, tk, "expected %s, got ',' (a set is written { a, b })",
		     expected);
		break;
	}
	return false;
}

typedef bool (*item_fn)(struct rules_parser *ps, struct rules_rule *r);

/* One item, or a set `{ item, item }` of at least one. */
static bool
parse_one_or_set(struct rules_parser *ps, struct rules_rule *r, item_fn item,
                 const char *what)
{
	const struct rules_tok *tk = peek(ps);

	if (tk == NULL || tk->kind != RULES_TOK_LBRACE)
		return item(ps, r);
	next(ps);
	if ((tk = peek(ps)) != NULL && tk->kind == RULES_TOK_RBRACE) {
		perr(ps, tk, "an empty set: a set has at least one %s", what);
		return false;
	}
	for (;;) {
		if (!item(ps, r))
			return false;
		tk = next(ps);
		if (tk != NULL && tk->kind == RULES_TOK_RBRACE)
			return true;
		if (tk == NULL || tk->kind != RULES_TOK_COMMA)
			return bad(ps, tk, "',' or '}'");
	}
}

static bool
proto_item(struct rules_parser *ps, struct rules_rule *r)
{
	const struct rules_tok *tk = next(ps);
	unsigned long v;
	uint16_t p, *set;
	int num;

	if (tk == NULL || tk->kind != RULES_TOK_WORD)
		return bad(ps, tk,
		           "a protocol (tcp, udp, icmp, icmp6, any "
		           "or a number)");
	if ((num = sp_proto_number(tk->s, true)) >= 0)
		p = (uint16_t)num;
	else if (strcmp(tk->s, "any") == 0)
		p = RULES_PROTO_ANY;
	else if (parse_number(tk->s, 255, &v))
		p = (uint16_t)v;
	else if (all_digits(tk->s)) {
		perr(ps, tk, "protocol %s out of range 0-255", tk->s);
		return false;
	} else
		return bad(ps, tk,
		           "a protocol (tcp, udp, icmp, icmp6, any or a "
		           "number)");
	set = grow(r->proto_set, r->nproto_set, sizeof(*set));
	if (set == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	r->proto_set = set;
	r->proto_set[r->nproto_set++] = p;
	if (p == RULES_PROTO_ANY) {
		r->proto_any = true;
		memset(r->protos, 0xff, sizeof(r->protos));
	} else {
		r->protos[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	return true;
}

static bool
add_target(struct rules_parser *ps, struct rules_rule *r,
           const struct rules_tok *tk, const struct rules_target *t)
{
	struct rules_target *v;

	v = grow(r->targets, r->ntargets, sizeof(*v));
	if (v == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	r->targets = v;
	r->targets[r->ntargets++] = *t;
	return true;
}

static bool
target_name(struct rules_parser *ps, struct rules_rule *r,
            enum rules_target_kind k, const char *kw)
{
	struct rules_target t;
	const struct rules_tok *tk = next(ps);
	const char *why;
	char what[32];
	size_t len;

	snprintf(what, sizeof(what), "a name after '%s'", kw);
	if (tk == NULL || tk->kind != RULES_TOK_WORD)
		return bad(ps, tk, what);
	len = strlen(tk->s);
	if ((why = rules_name_check(tk->s, len)) != NULL) {
		perr(ps, tk, "'%s' is not a name: %s", tk->s, why);
		return false;
	}
	memset(&t, 0, sizeof(t));
	t.kind = k;
	if (tk->s[len - 1] == '.')
		len--;
	if ((t.name = strndup(tk->s, len)) == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	rules_lower(t.name, len);
	if (!add_target(ps, r, tk, &t)) {
		free(t.name);
		return false;
	}
	return true;
}

static bool
target_addr(struct rules_parser *ps, struct rules_rule *r,
            const struct rules_tok *tk)
{
	struct rules_target t;
	struct sp_addr net;
	char buf[INET6_ADDRSTRLEN];
	int n;

	memset(&t, 0, sizeof(t));
	if (!sp_cidr_parse(&t.addr, &t.plen, tk->s)) {
		if (!rules_looks_numeric(tk->s, strlen(tk->s)) &&
		    rules_name_check(tk->s, strlen(tk->s)) == NULL)
			perr(ps, tk,
			     "'%s' is not an address: write host %s or "
			     "domain %s",
			     tk->s, tk->s, tk->s);
		else
			perr(ps, tk, "bad address or CIDR '%s'", tk->s);
		return false;
	}
	if (rules_host_bits_set(&t.addr, t.plen)) {
		net = t.addr;
		mask_addr(&net, t.plen);
		perr(ps, tk,
		     "%s has bits set past its /%u prefix: did you mean "
		     "%s/%u?",
		     tk->s, t.plen, sp_addr_format(&net, buf, sizeof(buf)),
		     t.plen);
		return false;
	}
	sp_addr_format(&t.addr, buf, sizeof(buf));
	if (strchr(tk->s, '/') != NULL) {
		t.kind = RULES_T_CIDR;
		n = asprintf(&t.name, "%s/%u", buf, t.plen);
	} else {
		t.kind = RULES_T_ADDR;
		n = (t.name = strdup(buf)) == NULL ? -1 : 0;
	}
	if (n < 0) {
		perr(ps, tk, "out of memory");
		return false;
	}
	if (!add_target(ps, r, tk, &t)) {
		free(t.name);
		return false;
	}
	return true;
}

static bool
is_keyword(const char *w)
{
	static const char *const kw[] = {
	        "allow", "deny",     "reject",    "out",  "in",
	        "proto", "process",  "user",      "to",   "from",
	        "port",  "priority", "essential", "note",
	};
	size_t i;

	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strcmp(w, kw[i]) == 0)
			return true;
	return false;
}

static bool
target_item(struct rules_parser *ps, struct rules_rule *r)
{
	const struct rules_tok *tk = next(ps);
	const char *expected = "a target (any, an address, a CIDR, host "
	                       "NAME, domain NAME or list \"FILE\")";
	struct rules_target t;
	struct rules_list *l;

	if (tk == NULL || tk->kind != RULES_TOK_WORD)
		return bad(ps, tk, expected);
	memset(&t, 0, sizeof(t));
	if (strcmp(tk->s, "any") == 0) {
		t.kind = RULES_T_ANY;
		return add_target(ps, r, tk, &t);
	}
	if (strcmp(tk->s, "host") == 0)
		return target_name(ps, r, RULES_T_HOST, "host");
	if (strcmp(tk->s, "domain") == 0)
		return target_name(ps, r, RULES_T_DOMAIN, "domain");
	if (strcmp(tk->s, "list") == 0) {
		tk = next(ps);
		if (tk == NULL || tk->kind != RULES_TOK_STRING)
			return bad(ps, tk, "a quoted file name after 'list'");
		if (tk->s[0] == '\0') {
			perr(ps, tk, "an empty list file name");
			return false;
		}
		if ((l = rules_list_get(ps->rs, ps->d, ps->file, ps->dir,
		                        tk)) == NULL)
			return false;
		t.kind = RULES_T_LIST;
		t.list = l;
		if ((t.name = strdup(tk->s)) == NULL) {
			perr(ps, tk, "out of memory");
			return false;
		}
		if (!add_target(ps, r, tk, &t)) {
			free(t.name);
			return false;
		}
		return true;
	}
	if (is_keyword(tk->s))
		return bad(ps, tk, expected);
	return target_addr(ps, r, tk);
}

/* A port number word; 0 is refused with its own message. */
static bool
port_number(struct rules_parser *ps, const struct rules_tok *tk, const char *s,
            uint16_t *out)
{
	unsigned long v;

	if (!parse_number(s, 65535, &v)) {
		if (all_digits(s))
			perr(ps, tk, "port %s out of range 1-65535", s);
		else
			perr(ps, tk, "bad port '%s'", tk->s);
		return false;
	}
	if (v == 0) {
		perr(ps, tk, "port 0 is not a port: ports are 1-65535");
		return false;
	}
	*out = (uint16_t)v;
	return true;
}

static bool
port_item(struct rules_parser *ps, struct rules_rule *r)
{
	const struct rules_tok *tk = next(ps), *t2;
	struct rules_port pt, *v;
	struct servent *se;
	char lo[16];
	const char *dash, *hi;
	size_t n;

	memset(&pt, 0, sizeof(pt));
	if (tk == NULL || tk->kind != RULES_TOK_WORD)
		return bad(ps, tk,
		           "a port (a number, a range N-M or a "
		           "service name)");
	if (tk->s[0] >= '0' && tk->s[0] <= '9') {
		dash = strchr(tk->s, '-');
		n = dash ? (size_t)(dash - tk->s) : strlen(tk->s);
		if (n >= sizeof(lo)) {
			perr(ps, tk, "port %.*s out of range 1-65535", (int)n,
			     tk->s);
			return false;
		}
		memcpy(lo, tk->s, n);
		lo[n] = '\0';
		if (!port_number(ps, tk, lo, &pt.lo))
			return false;
		pt.hi = pt.lo;
		hi = NULL;
		if (dash != NULL && dash[1] != '\0') {
			hi = dash + 1;
		} else if (dash != NULL ||
		           ((t2 = peek(ps)) != NULL &&
		            t2->kind == RULES_TOK_WORD && t2->s[0] == '-')) {
			/* "80-" "443", or "80" "-443", or "80" "-" "443" */
			if (dash == NULL) {
				t2 = next(ps);
				hi = t2->s[1] != '\0' ? t2->s + 1 : NULL;
			}
			if (hi == NULL) {
				t2 = next(ps);
				if (t2 == NULL || t2->kind != RULES_TOK_WORD)
					return bad(ps, t2,
					           "the end of the port range");
				hi = t2->s;
			}
		}
		if (hi != NULL) {
			if (!port_number(ps, tk, hi, &pt.hi))
				return false;
			if (pt.lo > pt.hi) {
				perr(ps, tk,
				     "port range %u-%u runs backwards: "
				     "write %u-%u",
				     pt.lo, pt.hi, pt.hi, pt.lo);
				return false;
			}
		}
	} else {
		if (strcmp(tk->s, "any") == 0) {
			perr(ps, tk,
			     "'port any' is no port clause: leave it out");
			return false;
		}
		se = getservbyname(tk->s, NULL);
		if (se == NULL) {
			perr(ps, tk,
			     "unknown service '%s': not in /etc/services (give "
			     "the port number)",
			     tk->s);
			return false;
		}
		pt.lo = pt.hi = ntohs((uint16_t)se->s_port);
		if ((pt.name = strdup(tk->s)) == NULL) {
			perr(ps, tk, "out of memory");
			return false;
		}
	}
	v = grow(r->ports, r->nports, sizeof(*v));
	if (v == NULL) {
		free(pt.name);
		perr(ps, tk, "out of memory");
		return false;
	}
	r->ports = v;
	r->ports[r->nports++] = pt;
	return true;
}

static bool
parse_user(struct rules_parser *ps, struct rules_rule *r)
{
	const struct rules_tok *tk = next(ps);
	struct passwd *pw;
	unsigned long v;

	if (tk == NULL || tk->kind != RULES_TOK_WORD)
		return bad(ps, tk, "a user name or number");
	if (all_digits(tk->s)) {
		if (!parse_number(tk->s, UINT32_MAX - 1, &v)) {
			perr(ps, tk, "user id %s out of range 0-%u", tk->s,
			     UINT32_MAX - 1);
			return false;
		}
		r->uid = (uint32_t)v;
		return true;
	}
	errno = 0;
	if ((pw = getpwnam(tk->s)) == NULL) {
		perr(ps, tk,
		     "unknown user '%s': not in this system's user database "
		     "(a number names any user)",
		     tk->s);
		return false;
	}
	r->uid = (uint32_t)pw->pw_uid;
	if ((r->user = strdup(tk->s)) == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	return true;
}

static bool
parse_process(struct rules_parser *ps, struct rules_rule *r)
{
	const struct rules_tok *tk = next(ps);

	if (is_word(tk, "any"))
		return true;
	if (tk == NULL || tk->kind != RULES_TOK_STRING)
		return bad(ps, tk, "a quoted path pattern or any");
	if (tk->s[0] == '\0') {
		perr(ps, tk, "an empty process pattern matches nothing");
		return false;
	}
	if ((r->process = strdup(tk->s)) == NULL) {
		perr(ps, tk, "out of memory");
		return false;
	}
	if (tk->s[0] != '/' && tk->s[0] != '*' && tk->s[0] != '?')
		pwarn(ps, tk,
		      "process \"%s\" is matched against the whole path and "
		      "can never match: did you mean \"*/%s\"?",
		      tk->s, tk->s);
	return true;
}

static bool
proto_has_ports(unsigned p)
{
	/* tcp, udp, dccp, sctp, udplite */
	return p == 6 || p == 17 || p == 33 || p == 132 || p == 136 ||
	       p == RULES_PROTO_ANY;
}

static const struct {
	const char *word;
	uint32_t bit;
} clause_words[] = {
        {"proto", RULES_C_PROTO},       {"process", RULES_C_PROCESS},
        {"user", RULES_C_USER},         {"to", RULES_C_REMOTE},
        {"from", RULES_C_REMOTE},       {"port", RULES_C_PORT},
        {"priority", RULES_C_PRIORITY}, {"essential", RULES_C_ESSENTIAL},
        {"note", RULES_C_NOTE},
};

static bool
parse_clause(struct rules_parser *ps, struct rules_rule *r,
             const struct rules_tok *tk, uint32_t bit)
{
	const struct rules_tok *s;

	switch (bit) {
	case RULES_C_PROTO:
		memset(r->protos, 0, sizeof(r->protos));
		r->proto_any = false;
		return parse_one_or_set(ps, r, proto_item, "protocol");
	case RULES_C_PROCESS:
		return parse_process(ps, r);
	case RULES_C_USER:
		return parse_user(ps, r);
	case RULES_C_REMOTE:
		r->remote_from = strcmp(tk->s, "from") == 0;
		return parse_one_or_set(ps, r, target_item, "target");
	case RULES_C_PORT:
		return parse_one_or_set(ps, r, port_item, "port");
	case RULES_C_PRIORITY:
	case RULES_C_ESSENTIAL:
		return true;
	case RULES_C_NOTE:
		s = next(ps);
		if (s == NULL || s->kind != RULES_TOK_STRING)
			return bad(ps, s, "a quoted note");
		if ((r->note = strdup(s->s)) == NULL) {
			perr(ps, s, "out of memory");
			return false;
		}
		return true;
	}
	return false;
}

bool
rules_parse_rule(struct rules_parser *ps, struct rules_rule *r)
{
	const struct rules_tok *tk = next(ps), *port_tk = NULL, *ess_tk = NULL;
	const struct rules_tok *remote_tk = NULL;
	uint32_t bit;
	size_t i;
	bool ok = true, has_ports;

	r->line = tk->line;
	r->col = tk->col;
	r->dir = SP_DIR_OUT;
	r->proto_any = true;
	memset(r->protos, 0xff, sizeof(r->protos));
	if (is_word(tk, "allow"))
		r->action = SP_VERDICT_ALLOW;
	else if (is_word(tk, "deny"))
		r->action = SP_VERDICT_DENY;
	else if (is_word(tk, "reject"))
		r->action = SP_VERDICT_REJECT;
	else
		return bad(ps, tk, "allow, deny or reject");

	tk = peek(ps);
	if (is_word(tk, "out") || is_word(tk, "in") || is_word(tk, "any")) {
		r->dir = is_word(tk, "out")  ? SP_DIR_OUT
		         : is_word(tk, "in") ? SP_DIR_IN
		                             : SP_DIR_ANY;
		next(ps);
	}

	while ((tk = next(ps)) != NULL) {
		if (tk->kind != RULES_TOK_WORD)
			return bad(ps, tk, "a clause keyword");
		bit = 0;
		for (i = 0; i < sizeof(clause_words) / sizeof(clause_words[0]);
		     i++)
			if (strcmp(tk->s, clause_words[i].word) == 0)
				bit = clause_words[i].bit;
		if (bit == 0) {
			if (is_word(tk, "out") || is_word(tk, "in") ||
			    is_word(tk, "any"))
				perr(ps, tk,
				     "the direction '%s' goes right after the "
				     "action",
				     tk->s);
			else if (is_word(tk, "allow") || is_word(tk, "deny") ||
			         is_word(tk, "reject"))
				perr(ps, tk,
				     "'%s' starts a rule: one rule per line "
				     "(end a line with \\ to continue it)",
				     tk->s);
			else
				perr(ps, tk, "unknown keyword '%s'", tk->s);
			return false;
		}
		if (r->clauses & bit) {
			if (bit == RULES_C_REMOTE)
				perr(ps, tk,
				     "repeated clause '%s': a rule has one "
				     "remote (to or from, at column %u)",
				     tk->s, remote_tk->col);
			else
				perr(ps, tk,
				     "repeated clause '%s': each clause may "
				     "appear once in a rule",
				     tk->s);
			return false;
		}
		r->clauses |= bit;
		if (bit == RULES_C_PORT)
			port_tk = tk;
		else if (bit == RULES_C_ESSENTIAL)
			ess_tk = tk;
		else if (bit == RULES_C_REMOTE)
			remote_tk = tk;
		if (!parse_clause(ps, r, tk, bit))
			return false;
	}

	if (ess_tk != NULL && r->action != SP_VERDICT_ALLOW) {
		perr(ps, ess_tk,
		     "'essential' marks allow rules only, not a %s rule",
		     sp_verdict_name(r->action));
		ok = false;
	} else if (ess_tk != NULL && r->note == NULL) {
		pwarn(ps, ess_tk,
		      "essential rule without a note: add note \"...\" saying "
		      "what breaks without it");
	}
	if (port_tk != NULL && (r->clauses & RULES_C_PROTO)) {
		has_ports = false;
		for (i = 0; i < r->nproto_set; i++)
			if (proto_has_ports(r->proto_set[i]))
				has_ports = true;
		if (!has_ports) {
			perr(ps, port_tk,
			     "'port' with a protocol that has no ports: use "
			     "tcp or udp, or drop the port");
			ok = false;
		}
	}
	return ok;
}

void
rules_rule_clear(struct rules_rule *r)
{
	size_t i;

	free(r->proto_set);
	free(r->process);
	free(r->user);
	for (i = 0; i < r->ntargets; i++)
		free(r->targets[i].name);
	free(r->targets);
	for (i = 0; i < r->nports; i++)
		free(r->ports[i].name);
	free(r->ports);
	free(r->note);
	memset(r, 0, sizeof(*r));
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading iptables-save -c back: its text into rules with their counters. */

/*
 * The text comes from iptables-save, another program: it is walked as
 * bounded views (pointer and length), every field is checked before use,
 * names are copied only when they fit, and a line that is not what
 * iptables-save prints is an error that names the line. Nothing here runs
 * a tool: steer_save() (pfconf/steer_run.c) does. What a rule matches is
 * judged in fwmatch.c, spackle's steering checked in fwcheck.c.
 */

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "pfconf/fwread_priv.h"
#include "pfconf/savetext.h"
#include "spackle/fwread.h"

/* Standard targets by kind. */
static const struct fw_target {
	const char *name;
	enum fw_kind kind;
} fw_targets[] = {
        {"ACCEPT", FW_K_ACCEPT}, {"DROP", FW_K_DROP},
        {"REJECT", FW_K_REJECT}, {"RETURN", FW_K_RETURN},
        {"NFQUEUE", FW_K_QUEUE}, {"QUEUE", FW_K_QUEUE},
};
#define FW_NTARGETS (sizeof(fw_targets) / sizeof(fw_targets[0]))

/* Grow *v (elements of size bytes) to hold n + 1. */
int
fw_grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap < *cap || ncap > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(*v, ncap * size);
	if (p == NULL)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

/*
 * The chains of the table being read, in a hash table (a table may have
 * thousands): how many rules each has so far (the next one's position),
 * and whether it was declared as a user chain (a -j target to it is a
 * jump).
 */
struct fw_count {
	char name[FW_NAME_MAX]; /* "" : a free slot */
	unsigned n;
	bool user;
};

struct fw_parse {
	int family;
	struct fw_ruleset *rs;
	char *err;
	size_t errlen;
	unsigned long line;
	size_t rule0; /* the table's first rule in rs */
	struct fw_count *tab;
	size_t tabcap, tabn; /* tabcap: 0 or a power of two */
};

static int
fw_fail(struct fw_parse *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	save_line_error(x->err, x->errlen, x->line, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A token for a message: at most 64 bytes of it. */
#define FW_SHOW(v) (int)((v).n > 64 ? 64 : (v).n), (v).p

static size_t
fw_hash(const char *name, size_t mask)
{
	return (size_t)sp_hash(name, strlen(name), 0x73706b6cu) & mask;
}

/* The slot of chain name; with add, made when missing. NULL: not there,
 * or no memory. */
static struct fw_count *
fw_slot(struct fw_parse *x, const char *name, bool add)
{
	struct fw_count *old = x->tab, *nt;
	size_t i, k, cap, mask;

	if (x->tabcap > 0) {
		mask = x->tabcap - 1;
		for (i = fw_hash(name, mask); x->tab[i].name[0] != '\0';
		     i = (i + 1) & mask)
			if (strcmp(x->tab[i].name, name) == 0)
				return &x->tab[i];
	}
	if (!add)
		return NULL;
	/* At most half full, so every probe ends at a free slot. */
	if ((x->tabn + 1) * 2 > x->tabcap) {
		cap = x->tabcap ? x->tabcap * 2 : 64;
		if (cap > SIZE_MAX / sizeof(*nt))
			return NULL;
		nt = calloc(cap, sizeof(*nt));
		if (nt == NULL)
			return NULL;
		for (k = 0; k < x->tabcap; k++) {
			if (old[k].name[0] == '\0')
				continue;
			for (i = fw_hash(old[k].name, cap - 1);
			     nt[i].name[0] != '\0'; i = (i + 1) & (cap - 1))
				;
			nt[i] = old[k];
		}
		free(old);
		x->tab = nt;
		x->tabcap = cap;
	}
	mask = x->tabcap - 1;
	for (i = fw_hash(name, mask); x->tab[i].name[0] != '\0';
	     i = (i + 1) & mask)
		;
	snprintf(x->tab[i].name, FW_NAME_MAX, "%s", name);
	x->tabn++;
	return &x->tab[i];
}

/* The next rule's position in chain name. */
static int
fw_next_pos(struct fw_parse *x, const char *name, unsigned *pos)
{
	struct fw_count *c = fw_slot(x, name, true);

	if (c == NULL)
		return -ENOMEM;
	*pos = ++c->n;
	return 0;
}

/* "[packets:bytes]" */
static bool
fw_counters(struct save_view v, uint64_t *packets, uint64_t *bytes)
{
	const char *colon;
	struct save_view a, b;

	if (v.n < 5 || v.p[0] != '[' || v.p[v.n - 1] != ']')
		return false;
	colon = memchr(v.p, ':', v.n);
	if (colon == NULL)
		return false;
	a.p = v.p + 1;
	a.n = (size_t)(colon - a.p);
	b.p = colon + 1;
	b.n = (size_t)(v.p + v.n - 1 - b.p);
	return save_number(a, UINT64_MAX, packets) &&
	       save_number(b, UINT64_MAX, bytes);
}

/* ":NAME POLICY [packets:bytes]" */
static int
fw_chain_line(struct fw_parse *x, struct save_view line)
{
	struct fw_ruleset *rs = x->rs;
	struct save_view rest = {line.p + 1, line.n - 1}, name, policy, cnt;
	struct fw_count *slot;
	struct fw_chain ch;
	int rc;

	memset(&ch, 0, sizeof(ch));
	ch.family = x->family;
	if (save_token(&rest, &name) != 1 || name.p != line.p + 1)
		return fw_fail(x, "a chain without a name");
	if (name.n >= FW_NAME_MAX || memchr(name.p, '"', name.n) != NULL)
		return fw_fail(x, "chain name \"%.*s\" is too long or quoted",
		               FW_SHOW(name));
	memcpy(ch.name, name.p, name.n);
	if (save_token(&rest, &policy) != 1)
		return fw_fail(x, "chain %s has no policy", ch.name);
	if (policy.n >= FW_NAME_MAX || memchr(policy.p, '"', policy.n) != NULL)
		return fw_fail(x, "chain %s: bad policy \"%.*s\"", ch.name,
		               FW_SHOW(policy));
	memcpy(ch.policy, policy.p, policy.n);
	rc = save_token(&rest, &cnt);
	if (rc < 0)
		return fw_fail(x, "a quote is not closed");
	if (rc == 1 && !fw_counters(cnt, &ch.packets, &ch.bytes))
		return fw_fail(x, "chain %s: bad counters \"%.*s\"", ch.name,
		               FW_SHOW(cnt));
	if (rc != 0 && save_token(&rest, &cnt) != 0)
		return fw_fail(x, "chain %s: more than a policy and counters",
		               ch.name);
	if (fw_grow((void **)&rs->chains, &rs->chaincap, rs->nchains,
	            sizeof(*rs->chains)) < 0 ||
	    (slot = fw_slot(x, ch.name, true)) == NULL)
		return -ENOMEM;
	if (strcmp(ch.policy, "-") == 0)
		slot->user = true;
	rs->chains[rs->nchains++] = ch;
	return 0;
}

/*
 * -s / -d: ADDR[/LEN] or ADDR/MASK, in the table's family. 1 when the mask
 * is not a prefix (iptables allows it; fw_rule_match does not judge it).
 */
static int
fw_addr(struct fw_parse *x, struct save_view v, struct sp_addr *a,
        unsigned *plen)
{
	char buf[128], *slash;
	struct sp_addr mask;
	unsigned i, bits;
	bool zero, prefix = true;

	if (!save_unquote(v, buf, sizeof(buf)))
		return fw_fail(x, "address \"%.*s\" is too long", FW_SHOW(v));
	if (!sp_cidr_parse(a, plen, buf)) {
		/* A netmask iptables-save could not write as a length. */
		slash = strchr(buf, '/');
		if (slash == NULL)
			return fw_fail(x, "bad address \"%s\"", buf);
		*slash = '\0';
		if (!sp_addr_parse(a, buf) ||
		    !sp_addr_parse(&mask, slash + 1) ||
		    mask.family != a->family)
			return fw_fail(x, "bad address \"%s/%s\"", buf,
			               slash + 1);
		i = a->family == AF_INET ? 12 : 0;
		bits = 0;
		zero = false;
		for (; i < 16; i++) {
			unsigned b;

			for (b = 0x80; b != 0; b >>= 1) {
				if (mask.b[i] & b) {
					if (zero)
						prefix = false;
					bits++;
				} else {
					zero = true;
				}
			}
		}
		*plen = bits;
	}
	if ((x->family == AF_INET) != (a->family == AF_INET))
		return fw_fail(x, "an %s address in %s rules",
		               a->family == AF_INET ? "IPv4" : "IPv6",
		               x->family == AF_INET ? "IPv4" : "IPv6");
	return prefix ? 0 : 1;
}

/* --sport / --dport: A, A:B, :B or A: */
static int
fw_ports(struct fw_parse *x, struct save_view v, uint16_t *lo, uint16_t *hi)
{
	const char *colon = memchr(v.p, ':', v.n);
	struct save_view a = v, b;
	uint64_t l = 0, h = 65535;

	if (colon != NULL) {
		a.n = (size_t)(colon - v.p);
		b.p = colon + 1;
		b.n = (size_t)(v.p + v.n - b.p);
		if ((a.n > 0 && !save_number(a, 65535, &l)) ||
		    (b.n > 0 && !save_number(b, 65535, &h)))
			return fw_fail(x, "bad port range \"%.*s\"",
			               FW_SHOW(v));
	} else {
		if (!save_number(a, 65535, &l))
			return fw_fail(x, "bad port \"%.*s\"", FW_SHOW(v));
		h = l;
	}
	if (l > h)
		return fw_fail(x, "bad port range \"%.*s\"", FW_SHOW(v));
	*lo = (uint16_t)l;
	*hi = (uint16_t)h;
	return 0;
}

/* --uid-owner A[-B], or a user name. */
static int
fw_uid(struct fw_parse *x, struct fw_rule *r, struct save_view v)
{
	const char *dash = memchr(v.p, '-', v.n);
	struct save_view a = v, b;
	struct passwd pw, *res = NULL;
	uint64_t l, h;
	char name[256], buf[4096];

	if (v.n > 0 && v.p[0] >= '0' && v.p[0] <= '9') {
		if (dash != NULL) {
			a.n = (size_t)(dash - v.p);
			b.p = dash + 1;
			b.n = (size_t)(v.p + v.n - b.p);
		} else {
			b = a;
		}
		if (!save_number(a, UINT32_MAX, &l) ||
		    !save_number(b, UINT32_MAX, &h) || l > h)
			return fw_fail(x, "bad uid \"%.*s\"", FW_SHOW(v));
		r->uid_lo = (uint32_t)l;
		r->uid_hi = (uint32_t)h;
		r->has_uid = true;
		return 0;
	}
	if (!save_unquote(v, name, sizeof(name)) || name[0] == '\0')
		return fw_fail(x, "bad user \"%.*s\"", FW_SHOW(v));
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) == 0 && res != NULL) {
		r->uid_lo = r->uid_hi = (uint32_t)res->pw_uid;
		r->has_uid = true;
	} else {
		r->unknown = true; /* a user this host does not know */
	}
	return 0;
}

/* -i / -o */
static int
fw_iface(struct fw_parse *x, struct save_view v, char *out)
{
	if (!save_unquote(v, out, FW_NAME_MAX) || out[0] == '\0')
		return fw_fail(x, "bad interface \"%.*s\"", FW_SHOW(v));
	return 0;
}

enum fw_opt_state {
	FW_OPT_TOP,    /* before the target */
	FW_OPT_SKIP,   /* the values of an option not judged here */
	FW_OPT_TARGET, /* after -j or -g: the target's options */
};

/*
 * The matches and target of a rule: tokens after "-A CHAIN". Each known
 * option takes its value from the next token; a field given twice, an
 * option or module not known here marks the rule unknown.
 */
static int
fw_rule_body(struct fw_parse *x, struct fw_rule *r, struct save_view rest)
{
	enum fw_opt_state st = FW_OPT_TOP;
	char module[FW_NAME_MAX] = "", name[FW_NAME_MAX];
	struct save_view tok, val;
	bool neg = false, isopt;
	size_t i;
	int t, rc, num;

	while ((t = save_token(&rest, &tok)) != 0) {
		if (t < 0)
			return fw_fail(x, "a quote is not closed");
		if (st == FW_OPT_TARGET)
			continue; /* REJECT --reject-with ..., LOG ... */
		if (save_eq(tok, "!")) {
			if (neg)
				return fw_fail(x, "\"!\" twice");
			neg = true;
			continue;
		}
		isopt = tok.n >= 2 && tok.p[0] == '-';
		if (!isopt) {
			if (st == FW_OPT_SKIP && !neg)
				continue;
			return fw_fail(x, "unexpected \"%.*s\"", FW_SHOW(tok));
		}
		st = FW_OPT_TOP;
		/* Options without a value. */
		if (save_eq(tok, "-f") || save_eq(tok, "--fragment")) {
			r->unknown = true;
			neg = false;
			continue;
		}
		/* Every other option known here takes one value. */
		if (save_eq(tok, "-j") || save_eq(tok, "-g") ||
		    save_eq(tok, "--jump") || save_eq(tok, "--goto") ||
		    save_eq(tok, "-m") || save_eq(tok, "--match") ||
		    save_eq(tok, "-s") || save_eq(tok, "--source") ||
		    save_eq(tok, "-d") || save_eq(tok, "--destination") ||
		    save_eq(tok, "-i") || save_eq(tok, "--in-interface") ||
		    save_eq(tok, "-o") || save_eq(tok, "--out-interface") ||
		    save_eq(tok, "-p") || save_eq(tok, "--protocol")) {
			rc = save_token(&rest, &val);
			if (rc < 0)
				return fw_fail(x, "a quote is not closed");
			if (rc == 0 || save_eq(val, "!") ||
			    (val.p[0] == '-' && !save_eq(tok, "-p")))
				return fw_fail(x, "%.*s needs a value",
				               FW_SHOW(tok));
		} else {
			val.p = NULL;
			val.n = 0;
		}
		if (save_eq(tok, "-j") || save_eq(tok, "-g") ||
		    save_eq(tok, "--jump") || save_eq(tok, "--goto")) {
			if (neg)
				return fw_fail(x, "a negated target");
			if (!save_unquote(val, r->target, FW_NAME_MAX) ||
			    r->target[0] == '\0')
				return fw_fail(x, "target \"%.*s\" is too long",
				               FW_SHOW(val));
			r->kind = FW_K_OTHER;
			for (i = 0; i < FW_NTARGETS; i++)
				if (strcmp(r->target, fw_targets[i].name) == 0)
					r->kind = fw_targets[i].kind;
			if (tok.p[1] == 'g' || save_eq(tok, "--goto"))
				r->kind = FW_K_JUMP;
			st = FW_OPT_TARGET;
		} else if (save_eq(tok, "-m") || save_eq(tok, "--match")) {
			if (neg)
				return fw_fail(x, "a negated -m");
			if (!save_unquote(val, module, sizeof(module)))
				snprintf(module, sizeof(module), "?");
			if (strcmp(module, "tcp") != 0 &&
			    strcmp(module, "udp") != 0 &&
			    strcmp(module, "owner") != 0 &&
			    strcmp(module, "comment") != 0)
				r->unknown = true;
		} else if (save_eq(tok, "-s") || save_eq(tok, "--source")) {
			if (r->has_src)
				r->unknown = true;
			if ((rc = fw_addr(x, val, &r->src, &r->src_plen)) < 0)
				return rc;
			if (rc > 0)
				r->unknown = true;
			r->has_src = rc == 0;
			r->src_neg = neg;
		} else if (save_eq(tok, "-d") ||
		           save_eq(tok, "--destination")) {
			if (r->has_dst)
				r->unknown = true;
			if ((rc = fw_addr(x, val, &r->dst, &r->dst_plen)) < 0)
				return rc;
			if (rc > 0)
				r->unknown = true;
			r->has_dst = rc == 0;
			r->dst_neg = neg;
		} else if (save_eq(tok, "-i") ||
		           save_eq(tok, "--in-interface")) {
			if (r->in_if[0] != '\0')
				r->unknown = true;
			if ((rc = fw_iface(x, val, r->in_if)) < 0)
				return rc;
			r->in_neg = neg;
		} else if (save_eq(tok, "-o") ||
		           save_eq(tok, "--out-interface")) {
			if (r->out_if[0] != '\0')
				r->unknown = true;
			if ((rc = fw_iface(x, val, r->out_if)) < 0)
				return rc;
			r->out_neg = neg;
		} else if (save_eq(tok, "-p") || save_eq(tok, "--protocol")) {
			if (!save_unquote(val, name, sizeof(name)) ||
			    name[0] == '\0')
				return fw_fail(x, "bad protocol \"%.*s\"",
				               FW_SHOW(val));
			num = strcasecmp(name, "all") == 0
			              ? 0
			              : save_proto_num(name);
			if (num < 0 && name[0] >= '0' && name[0] <= '9')
				return fw_fail(x, "bad protocol \"%s\"", name);
			/* Not known here, given twice, or "! -p all". */
			if (num < 0 || r->proto != 0 || (num == 0 && neg))
				r->unknown = true;
			if (num > 0) {
				r->proto = (uint8_t)num;
				r->proto_neg = neg;
			}
		} else if ((strcmp(module, "tcp") == 0 ||
		            strcmp(module, "udp") == 0 ||
		            (module[0] == '\0' &&
		             (r->proto == SP_PROTO_TCP ||
		              r->proto == SP_PROTO_UDP))) &&
		           (save_eq(tok, "--sport") ||
		            save_eq(tok, "--source-port") ||
		            save_eq(tok, "--dport") ||
		            save_eq(tok, "--destination-port"))) {
			bool src = save_eq(tok, "--sport") ||
			           save_eq(tok, "--source-port");

			if ((rc = save_token(&rest, &val)) != 1)
				return rc < 0 ? fw_fail(x, "a quote is not "
				                           "closed")
				              : fw_fail(x, "%.*s needs a value",
				                        FW_SHOW(tok));
			if (src) {
				if (r->has_sport)
					r->unknown = true;
				if ((rc = fw_ports(x, val, &r->sport_lo,
				                   &r->sport_hi)) < 0)
					return rc;
				r->has_sport = true;
				r->sport_neg = neg;
			} else {
				if (r->has_dport)
					r->unknown = true;
				if ((rc = fw_ports(x, val, &r->dport_lo,
				                   &r->dport_hi)) < 0)
					return rc;
				r->has_dport = true;
				r->dport_neg = neg;
			}
		} else if (strcmp(module, "owner") == 0 &&
		           save_eq(tok, "--uid-owner")) {
			if ((rc = save_token(&rest, &val)) != 1)
				return rc < 0 ? fw_fail(x, "a quote is not "
				                           "closed")
				              : fw_fail(x,
				                        "--uid-owner needs a "
				                        "value");
			if (r->has_uid)
				r->unknown = true;
			if ((rc = fw_uid(x, r, val)) < 0)
				return rc;
			r->uid_neg = neg;
		} else if (strcmp(module, "comment") == 0 &&
		           save_eq(tok, "--comment")) {
			if ((rc = save_token(&rest, &val)) != 1)
				return rc < 0 ? fw_fail(x, "a quote is not "
				                           "closed")
				              : fw_fail(x, "--comment needs a "
				                           "value");
			if (r->comment == NULL) {
				r->comment = malloc(val.n + 1);
				if (r->comment == NULL)
					return -ENOMEM;
				save_unquote(val, r->comment, val.n + 1);
			}
		} else {
			/* Not judged here: skip it and its values. */
			r->unknown = true;
			st = FW_OPT_SKIP;
		}
		neg = false;
	}
	if (neg)
		return fw_fail(x, "\"!\" at the end of the rule");
	return 0;
}

/* "[packets:bytes] -A CHAIN matches... -j TARGET options..." */
static int
fw_rule_line(struct fw_parse *x, struct save_view line)
{
	struct fw_ruleset *rs = x->rs;
	struct save_view rest = line, tok, spec;
	struct fw_rule r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.family = x->family;
	r.kind = FW_K_NONE;
	if ((rc = save_token(&rest, &tok)) != 1)
		return fw_fail(x, "a quote is not closed");
	if (tok.p[0] == '[') {
		if (!fw_counters(tok, &r.packets, &r.bytes))
			return fw_fail(x, "bad counters \"%.*s\"",
			               FW_SHOW(tok));
		if (save_token(&rest, &tok) != 1)
			return fw_fail(x, "counters without a rule");
	}
	if (!save_eq(tok, "-A") && !save_eq(tok, "--append"))
		return fw_fail(x, "\"%.*s\" where -A CHAIN should be",
		               FW_SHOW(tok));
	spec.p = tok.p;
	spec.n = (size_t)(line.p + line.n - tok.p);
	if (save_token(&rest, &tok) != 1 || tok.p[0] == '-')
		return fw_fail(x, "-A without a chain");
	if (tok.n >= FW_NAME_MAX || memchr(tok.p, '"', tok.n) != NULL)
		return fw_fail(x, "chain name \"%.*s\" is too long or quoted",
		               FW_SHOW(tok));
	memcpy(r.chain, tok.p, tok.n);
	if ((rc = fw_rule_body(x, &r, rest)) < 0)
		goto fail;
	if ((rc = fw_next_pos(x, r.chain, &r.pos)) < 0)
		goto fail;
	r.spec = strndup(spec.p, spec.n);
	if (r.spec == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = fw_grow((void **)&rs->v, &rs->cap, rs->n, sizeof(*rs->v))) <
	    0)
		goto fail;
	rs->v[rs->n++] = r;
	return 0;
fail:
	free(r.spec);
	free(r.comment);
	return rc;
}

/* At COMMIT: -j to a chain the table declared is a jump. */
static void
fw_resolve_jumps(struct fw_parse *x)
{
	struct fw_ruleset *rs = x->rs;
	const struct fw_count *c;
	size_t i;

	for (i = x->rule0; i < rs->n; i++) {
		if (rs->v[i].kind != FW_K_OTHER)
			continue;
		c = fw_slot(x, rs->v[i].target, false);
		if (c != NULL && c->user)
			rs->v[i].kind = FW_K_JUMP;
	}
}

int
fw_parse_save(const char *text, size_t len, int family, const char *table,
              struct fw_ruleset *rs, char *err, size_t errlen)
{
	struct fw_parse x;
	struct save_view line, name;
	const char *p, *end, *nl;
	bool in = false, mine = false;
	char tname[FW_NAME_MAX] = "";
	int rc = 0;

	if ((text == NULL && len > 0) || rs == NULL || table == NULL ||
	    (family != AF_INET && family != AF_INET6)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "fw_parse_save: bad arguments");
		return -EINVAL;
	}
	memset(&x, 0, sizeof(x));
	x.family = family;
	x.rs = rs;
	x.err = err;
	x.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len == 0)
		return 0;
	p = text;
	end = text + len;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		line.p = p;
		line.n = (size_t)(nl - p);
		p = nl < end ? nl + 1 : end;
		x.line++;
		while (line.n > 0 && (line.p[line.n - 1] == '\r' ||
		                      line.p[line.n - 1] == ' ' ||
		                      line.p[line.n - 1] == '\t'))
			line.n--;
		if (memchr(line.p, '\0', line.n) != NULL) {
			rc = fw_fail(&x, "a NUL byte");
			goto out;
		}
		if (line.n == 0 || line.p[0] == '#')
			continue;
		if (line.p[0] == '*') {
			if (in) {
				rc = fw_fail(&x,
				             "a new table before COMMIT "
				             "of *%s",
				             tname);
				goto out;
			}
			name.p = line.p + 1;
			name.n = line.n - 1;
			if (name.n == 0 || name.n >= FW_NAME_MAX ||
			    memchr(name.p, ' ', name.n) != NULL ||
			    memchr(name.p, '\t', name.n) != NULL) {
				rc = fw_fail(&x, "bad table \"%.*s\"",
				             FW_SHOW(line));
				goto out;
			}
			memcpy(tname, name.p, name.n);
			tname[name.n] = '\0';
			in = true;
			mine = strcmp(tname, table) == 0;
			x.rule0 = rs->n;
			if (x.tabcap > 0)
				memset(x.tab, 0, x.tabcap * sizeof(*x.tab));
			x.tabn = 0;
			continue;
		}
		if (!in) {
			rc = fw_fail(&x, "\"%.*s\" outside a table",
			             FW_SHOW(line));
			goto out;
		}
		if (save_eq(line, "COMMIT")) {
			if (mine)
				fw_resolve_jumps(&x);
			in = mine = false;
			continue;
		}
		if (!mine)
			continue;
		if (line.p[0] == ':')
			rc = fw_chain_line(&x, line);
		else if (line.p[0] == '[' || line.p[0] == '-')
			rc = fw_rule_line(&x, line);
		else
			rc = fw_fail(&x, "cannot read \"%.*s\"", FW_SHOW(line));
		if (rc < 0)
			goto out;
	}
	if (in)
		rc = fw_fail(&x, "*%s has no COMMIT (output cut short?)",
		             tname);
out:
	if (rc == -ENOMEM && err != NULL && errlen > 0)
		snprintf(err, errlen, "line %lu: out of memory", x.line);
	free(x.tab);
	return rc;
}

void
fw_ruleset_free(struct fw_ruleset *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].spec);
		free(rs->v[i].comment);
	}
	free(rs->v);
	free(rs->chains);
	memset(rs, 0, sizeof(*rs));
}

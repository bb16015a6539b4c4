/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The firewall as it stands: iptables-save -c read, steering checked. */

/*
 * The text comes from iptables-save, another program: it is walked as
 * bounded views (pointer and length), every field is checked before use,
 * names are copied only when they fit, and a line that is not what
 * iptables-save prints is an error that names the line. Nothing here runs
 * a tool; pfconf/steer.c does (steer_save(), steer_repair()).
 */

#include <errno.h>
#include <limits.h>
#include <netdb.h>
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

#include "pfconf/savetext.h"
#include "spackle/fwread.h"
#include "spackle/steer_text.h"

/* The hooks spackle steers, as pfconf/iptables.c writes them. */
static const struct fw_hook {
	unsigned bit;
	const char *hook;
	const char *chain;
} fw_hooks[] = {
        {CONFIG_HOOK_OUT, "OUTPUT", STEER_CHAIN_OUT},
        {CONFIG_HOOK_IN, "INPUT", STEER_CHAIN_IN},
        {CONFIG_HOOK_FORWARD, "FORWARD", STEER_CHAIN_FWD},
};
#define FW_NHOOKS (sizeof(fw_hooks) / sizeof(fw_hooks[0]))

/*
 * Protocols by name, the first name of a number being the one
 * iptables-save prints (ICMPv6 as ipv6-icmp); then getprotobyname_r().
 */
static const struct fw_proto {
	const char *name;
	uint8_t num;
} fw_protos[] = {
        {"tcp", SP_PROTO_TCP},
        {"udp", SP_PROTO_UDP},
        {"icmp", SP_PROTO_ICMP},
        {"ipv6-icmp", SP_PROTO_ICMP6},
        {"icmpv6", SP_PROTO_ICMP6},
        {"icmp6", SP_PROTO_ICMP6},
        {"igmp", 2},
        {"ipencap", 4},
        {"dccp", 33},
        {"ipv6", 41},
        {"gre", 47},
        {"esp", 50},
        {"ah", 51},
        {"ospf", 89},
        {"pim", 103},
        {"vrrp", 112},
        {"l2tp", 115},
        {"sctp", 132},
        {"mh", 135},
        {"udplite", 136},
};
#define FW_NPROTOS (sizeof(fw_protos) / sizeof(fw_protos[0]))

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

/* At most this many cells for the chain diff; past it, a plain walk. */
#define FW_DIFF_CELLS (1u << 22)

/* Grow *v (elements of size bytes) to hold n + 1. */
static int
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
 * tok without its quotes and escapes into out (outlen bytes, with the
 * NUL). false when it does not fit.
 */
static bool
fw_unquote(struct save_view tok, char *out, size_t outlen)
{
	const char *p = tok.p, *end = tok.p + tok.n;
	bool quoted = false;
	size_t o = 0;

	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = *p;
	}
	if (outlen == 0)
		return false;
	out[o] = '\0';
	return true;
}

/* A whole decimal number, at most max. */
static bool
fw_number(struct save_view v, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (v.n == 0)
		return false;
	for (i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		if (n > (max - (uint64_t)(v.p[i] - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = n;
	return true;
}

/* The protocol number of a -p value; -1 when not known here. */
static int
fw_proto_num(const char *s)
{
	struct protoent pe, *res = NULL;
	char buf[1024];
	struct save_view v = {s, strlen(s)};
	uint64_t n;
	size_t i;

	if (fw_number(v, 255, &n))
		return (int)n;
	for (i = 0; i < FW_NPROTOS; i++)
		if (strcasecmp(s, fw_protos[i].name) == 0)
			return fw_protos[i].num;
	if (getprotobyname_r(s, &pe, buf, sizeof(buf), &res) == 0 &&
	    res != NULL && res->p_proto >= 0 && res->p_proto <= 255)
		return res->p_proto;
	return -1;
}

/* The name iptables-save gives protocol num, or NULL. */
static const char *
fw_proto_name(unsigned num)
{
	size_t i;

	for (i = 0; i < FW_NPROTOS; i++)
		if (fw_protos[i].num == num)
			return fw_protos[i].name;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Reading iptables-save */

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
	int n;

	if (x->err == NULL || x->errlen == 0)
		return -EINVAL;
	n = snprintf(x->err, x->errlen, "line %lu: ", x->line);
	if (n >= 0 && (size_t)n < x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
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
	return fw_number(a, UINT64_MAX, packets) &&
	       fw_number(b, UINT64_MAX, bytes);
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

	if (!fw_unquote(v, buf, sizeof(buf)))
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
		if ((a.n > 0 && !fw_number(a, 65535, &l)) ||
		    (b.n > 0 && !fw_number(b, 65535, &h)))
			return fw_fail(x, "bad port range \"%.*s\"",
			               FW_SHOW(v));
	} else {
		if (!fw_number(a, 65535, &l))
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
		if (!fw_number(a, UINT32_MAX, &l) ||
		    !fw_number(b, UINT32_MAX, &h) || l > h)
			return fw_fail(x, "bad uid \"%.*s\"", FW_SHOW(v));
		r->uid_lo = (uint32_t)l;
		r->uid_hi = (uint32_t)h;
		r->has_uid = true;
		return 0;
	}
	if (!fw_unquote(v, name, sizeof(name)) || name[0] == '\0')
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
	if (!fw_unquote(v, out, FW_NAME_MAX) || out[0] == '\0')
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
			if (!fw_unquote(val, r->target, FW_NAME_MAX) ||
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
			if (!fw_unquote(val, module, sizeof(module)))
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
			if (!fw_unquote(val, name, sizeof(name)) ||
			    name[0] == '\0')
				return fw_fail(x, "bad protocol \"%.*s\"",
				               FW_SHOW(val));
			num = strcasecmp(name, "all") == 0 ? 0
			                                   : fw_proto_num(name);
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
				fw_unquote(val, r->comment, val.n + 1);
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

/* ------------------------------------------------------------------ */
/* Matching and describing */

static bool
fw_if_match(const char *rule, const char *pkt)
{
	size_t n = strlen(rule);

	if (pkt == NULL)
		pkt = "";
	if (n > 0 && rule[n - 1] == '+')
		return strncmp(rule, pkt, n - 1) == 0;
	return strcmp(rule, pkt) == 0;
}

enum fw_match
fw_rule_match(const struct fw_rule *r, const struct fw_pkt *p)
{
	bool maybe = r->unknown, m;

	if (r->family != p->family)
		return FW_NO;
	if (r->proto != 0 && (p->proto == r->proto) == r->proto_neg)
		return FW_NO;
	if (r->has_src) {
		if (p->src.family != r->src.family)
			maybe = true;
		else if (sp_cidr_contains(&r->src, r->src_plen, &p->src) ==
		         r->src_neg)
			return FW_NO;
	}
	if (r->has_dst) {
		if (p->dst.family != r->dst.family)
			maybe = true;
		else if (sp_cidr_contains(&r->dst, r->dst_plen, &p->dst) ==
		         r->dst_neg)
			return FW_NO;
	}
	if (r->in_if[0] != '\0' && fw_if_match(r->in_if, p->in_if) == r->in_neg)
		return FW_NO;
	if (r->out_if[0] != '\0' &&
	    fw_if_match(r->out_if, p->out_if) == r->out_neg)
		return FW_NO;
	if (r->has_sport) {
		m = p->sport >= r->sport_lo && p->sport <= r->sport_hi;
		if (m == r->sport_neg)
			return FW_NO;
	}
	if (r->has_dport) {
		m = p->dport >= r->dport_lo && p->dport <= r->dport_hi;
		if (m == r->dport_neg)
			return FW_NO;
	}
	if (r->has_uid) {
		if (p->uid < 0 || p->uid > UINT32_MAX) {
			maybe = true;
		} else {
			m = (uint64_t)p->uid >= r->uid_lo &&
			    (uint64_t)p->uid <= r->uid_hi;
			if (m == r->uid_neg)
				return FW_NO;
		}
	}
	return maybe ? FW_MAYBE : FW_YES;
}

/* Appends to a bounded buffer; once full, stays full. */
struct fw_out {
	char *buf;
	size_t len, used;
};

static void
fw_add(struct fw_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len == 0 || o->used + 1 >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->used += (size_t)n;
	if (o->used >= o->len)
		o->used = o->len - 1;
}

static void
fw_add_ports(struct fw_out *o, bool neg, uint16_t lo, uint16_t hi)
{
	if (lo == hi)
		fw_add(o, " port %s%u", neg ? "not " : "", lo);
	else
		fw_add(o, " ports %s%u-%u", neg ? "not " : "", lo, hi);
}

static void
fw_add_addr(struct fw_out *o, const char *dir, bool has, bool neg,
            const struct sp_addr *a, unsigned plen, bool has_port,
            bool port_neg, uint16_t lo, uint16_t hi)
{
	char buf[64];

	if (!has && !has_port)
		return;
	fw_add(o, " %s", dir);
	if (has)
		fw_add(o, " %s%s/%u", neg ? "not " : "",
		       sp_addr_format(a, buf, sizeof(buf)), plen);
	if (has_port)
		fw_add_ports(o, port_neg, lo, hi);
}

void
fw_rule_describe(const struct fw_rule *r, char *buf, size_t len)
{
	struct fw_out o = {buf, len, 0};
	const char *pname;
	size_t mark;

	if (buf == NULL || len == 0)
		return;
	buf[0] = '\0';
	switch (r->kind) {
	case FW_K_ACCEPT:
		fw_add(&o, "ACCEPT");
		break;
	case FW_K_DROP:
		fw_add(&o, "DROP");
		break;
	case FW_K_REJECT:
		fw_add(&o, "REJECT");
		break;
	case FW_K_RETURN:
		fw_add(&o, "RETURN");
		break;
	case FW_K_QUEUE:
		fw_add(&o, "NFQUEUE");
		break;
	case FW_K_JUMP:
		fw_add(&o, "jump %s", r->target);
		break;
	case FW_K_NONE:
		fw_add(&o, "count");
		break;
	case FW_K_OTHER:
		fw_add(&o, "%s", r->target[0] != '\0' ? r->target : "?");
		break;
	}
	mark = o.used;
	if (r->proto != 0) {
		pname = sp_proto_name(r->proto);
		if (r->proto == SP_PROTO_ICMP6)
			pname = "icmpv6";
		if (pname == NULL)
			pname = fw_proto_name(r->proto);
		if (pname != NULL)
			fw_add(&o, " %s%s", r->proto_neg ? "not " : "", pname);
		else
			fw_add(&o, " %sproto %u", r->proto_neg ? "not " : "",
			       r->proto);
	}
	fw_add_addr(&o, "from", r->has_src, r->src_neg, &r->src, r->src_plen,
	            r->has_sport, r->sport_neg, r->sport_lo, r->sport_hi);
	fw_add_addr(&o, "to", r->has_dst, r->dst_neg, &r->dst, r->dst_plen,
	            r->has_dport, r->dport_neg, r->dport_lo, r->dport_hi);
	if (r->in_if[0] != '\0')
		fw_add(&o, " in %s%s", r->in_neg ? "not " : "", r->in_if);
	if (r->out_if[0] != '\0')
		fw_add(&o, " out %s%s", r->out_neg ? "not " : "", r->out_if);
	if (r->has_uid) {
		fw_add(&o, " %sfrom uid %u", r->uid_neg ? "not " : "",
		       r->uid_lo);
		if (r->uid_hi != r->uid_lo)
			fw_add(&o, "-%u", r->uid_hi);
	}
	if (r->unknown)
		fw_add(&o, " and other matches");
	else if (o.used == mark)
		fw_add(&o, " all");
	if (r->comment != NULL)
		fw_add(&o, " (\"%s\")", r->comment);
}

/* ------------------------------------------------------------------ */
/* Checking spackle's steering */

/*
 * A spec in one form for comparison: tokens joined by single spaces,
 * -p as iptables-save names the protocol, -s/-d with their prefix length.
 * Only the part before the target is rewritten. NULL: out of memory.
 */
static char *
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
		    fw_unquote(tok, name, sizeof(name)) &&
		    (num = fw_proto_num(name)) > 0 &&
		    (pname = fw_proto_name((unsigned)num)) != NULL)
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

static void
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

static int
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

/* Is the jump part of h right: one unconditional rule 1? */
static bool
fw_jump_ok(const struct fw_hook_check *h, const struct fw_expected *e,
           size_t hi)
{
	char *n;
	bool ok;

	if (h->jumps != 1 || h->jump_pos != 1 || h->jump_specs == NULL)
		return false;
	n = fw_norm(h->jump_specs[0]);
	ok = n != NULL && strcmp(n, e->jump[hi]) == 0;
	free(n);
	return ok;
}

int
fw_repair_text(const struct config *c, int family,
               const struct fw_steer_check *ch, FILE *out)
{
	struct fw_expected e;
	const struct fw_hook_check *h;
	bool fix_jump[FW_NHOOKS] = {false}, fix_chain[FW_NHOOKS] = {false};
	bool present[FW_NHOOKS] = {false};
	const struct fw_hook_check *which[FW_NHOOKS] = {NULL};
	size_t i, k;
	unsigned j;
	int rc, n = 0;

	if (ch == NULL || out == NULL ||
	    (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	if ((rc = fw_expected_build(c, family, &e)) < 0)
		return rc;
	for (k = 0; k < ch->n; k++) {
		h = &ch->v[k];
		if (h->family != family || h->ok)
			continue;
		for (i = 0; i < FW_NHOOKS; i++)
			if ((c->hooks & fw_hooks[i].bit) && h->hook != NULL &&
			    strcmp(h->hook, fw_hooks[i].hook) == 0)
				break;
		if (i == FW_NHOOKS || which[i] != NULL)
			continue; /* not c's hook, or seen already */
		which[i] = h;
		fix_jump[i] = !fw_jump_ok(h, &e, i);
		fix_chain[i] =
		        !h->chain_present || h->nmissing > 0 || h->nextra > 0;
		present[i] = h->chain_present;
		/* ok but for nothing found wrong: put the jump back anyway */
		if (!fix_jump[i] && !fix_chain[i])
			fix_jump[i] = true;
		n++;
	}
	if (n == 0) {
		fw_expected_free(&e);
		return 0;
	}
	fprintf(out, "# spackle steering repair, %s: %s-restore --noflush\n",
	        family == AF_INET6 ? "IPv6" : "IPv4",
	        family == AF_INET6 ? "ip6tables" : "iptables");
	fputs("*filter\n", out);
	for (i = 0; i < FW_NHOOKS; i++)
		if (fix_chain[i] && !present[i])
			fprintf(out, ":%s - [0:0]\n", fw_hooks[i].chain);
	for (i = 0; i < FW_NHOOKS; i++) {
		h = which[i];
		if (!fix_jump[i])
			continue;
		for (j = 0; j < h->jumps && h->jump_specs != NULL; j++) {
			/* "-A HOOK spec" -> "-D HOOK spec" */
			const char *s = h->jump_specs[j];

			if (strncmp(s, "-A ", 3) == 0)
				fprintf(out, "-D %s\n", s + 3);
		}
	}
	for (i = 0; i < FW_NHOOKS; i++) {
		if (!fix_chain[i])
			continue;
		if (present[i])
			fprintf(out, "-F %s\n", fw_hooks[i].chain);
		for (k = 0; k < e.n; k++)
			if (strcmp(e.v[k].chain, fw_hooks[i].chain) == 0)
				fprintf(out, "%s\n", e.v[k].line);
	}
	for (i = 0; i < FW_NHOOKS; i++)
		if (fix_jump[i])
			fprintf(out, "-I %s 1 -j %s\n", fw_hooks[i].hook,
			        fw_hooks[i].chain);
	fputs("COMMIT\n", out);
	fw_expected_free(&e);
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return n;
}

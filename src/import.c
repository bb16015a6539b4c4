/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The importers' shared pieces: names, addresses, ports, regexps, rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/import.h"

/* ---- names and addresses ---- */

size_t
import_name_canon(const char *s, size_t len, char *buf)
{
	size_t i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len > IMPORT_ENTRY_BUF - 1)
		len = IMPORT_ENTRY_BUF - 1;
	for (i = 0; i < len; i++)
		buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a'
		                                           : s[i]);
	buf[len] = '\0';
	return len;
}

static unsigned
family_bits(const struct sp_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

/* Bit i of a's own family's address (bit 0 is the top one). */
static unsigned
addr_bit(const struct sp_addr *a, unsigned i)
{
	unsigned off = a->family == AF_INET ? 96 : 0;

	i += off;
	return (a->b[i / 8] >> (7 - i % 8)) & 1u;
}

/* Clear the bits past plen; true when any was set. */
static bool
addr_mask(struct sp_addr *a, unsigned plen)
{
	unsigned off = a->family == AF_INET ? 96 : 0, i;
	bool set = false;

	for (i = off + plen; i < 128; i++) {
		if (a->b[i / 8] & (0x80u >> (i % 8)))
			set = true;
		a->b[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	}
	return set;
}

static void
addr_write(const struct sp_addr *a, unsigned plen, bool cidr, char *buf)
{
	char tmp[INET6_ADDRSTRLEN];

	sp_addr_format(a, tmp, sizeof(tmp));
	if (cidr)
		snprintf(buf, IMPORT_ENTRY_BUF, "%s/%u", tmp, plen);
	else
		snprintf(buf, IMPORT_ENTRY_BUF, "%s", tmp);
}

int
import_addr_canon(const char *s, bool mask, char *buf)
{
	struct sp_addr a;
	unsigned plen;

	if (!sp_cidr_parse(&a, &plen, s))
		return -1;
	if (addr_mask(&a, plen) && !mask)
		return -1;
	addr_write(&a, plen, strchr(s, '/') != NULL, buf);
	return 0;
}

/* s[0..n) without the blanks around it, as a string in buf (len bytes). */
static bool
trim_copy(const char *s, size_t n, char *buf, size_t len)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= len)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

int
import_range_cidr(const char *s, char *buf)
{
	struct sp_addr lo, hi;
	char a[64], b[64];
	const char *dash = strchr(s, '-');
	unsigned bits, i, first;

	if (dash == NULL || !trim_copy(s, (size_t)(dash - s), a, sizeof(a)) ||
	    !trim_copy(dash + 1, strlen(dash + 1), b, sizeof(b)))
		return -1;
	if (!sp_addr_parse(&lo, a) || !sp_addr_parse(&hi, b) ||
	    lo.family != hi.family || sp_addr_cmp(&lo, &hi) > 0)
		return -1;
	bits = family_bits(&lo);
	/* One CIDR: the same bits down to the first that differs, then all
	 * zeros in lo and all ones in hi. */
	for (first = 0; first < bits; first++)
		if (addr_bit(&lo, first) != addr_bit(&hi, first))
			break;
	for (i = first; i < bits; i++)
		if (addr_bit(&lo, i) != 0 || addr_bit(&hi, i) != 1)
			return 0;
	addr_write(&lo, first, first < bits, buf);
	return 1;
}

/* ---- ports ---- */

/* A port number 1-65535 from s[0..n), blanks around it allowed. */
static bool
port_number(const char *s, size_t n, uint16_t *out)
{
	char tmp[8];
	unsigned long v = 0;
	size_t i;

	if (!trim_copy(s, n, tmp, sizeof(tmp)))
		return false;
	for (i = 0; tmp[i] != '\0'; i++) {
		if (tmp[i] < '0' || tmp[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(tmp[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

int
import_ports_parse(const char *s, struct import_port *v, size_t cap, size_t *n,
                   const char **why)
{
	const char *p = s, *comma, *dash;
	size_t len;

	*n = 0;
	for (;;) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (*n == cap) {
			*why = "too many ports";
			return -1;
		}
		dash = memchr(p, '-', len);
		if (dash == NULL) {
			if (!port_number(p, len, &v[*n].lo)) {
				*why = "a port is a number 1-65535";
				return -1;
			}
			v[*n].hi = v[*n].lo;
		} else {
			if (!port_number(p, (size_t)(dash - p), &v[*n].lo) ||
			    !port_number(dash + 1, len - (size_t)(dash - p) - 1,
			                 &v[*n].hi)) {
				*why = "a port range is N-M, each 1-65535";
				return -1;
			}
			if (v[*n].lo > v[*n].hi) {
				*why = "the port range runs backwards";
				return -1;
			}
		}
		(*n)++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* ---- regexps ---- */

struct gbuf {
	char *buf;
	size_t len, pos;
	bool full;
};

static void
gput(struct gbuf *g, char c)
{
	/* Two stars in a row match what one does. */
	if (c == '*' && g->pos > 0 && g->buf[g->pos - 1] == '*')
		return;
	if (g->pos + 1 >= g->len) {
		g->full = true;
		return;
	}
	g->buf[g->pos++] = c;
}

static bool
is_quantifier(char c)
{
	return c == '*' || c == '+' || c == '?' || c == '{';
}

/*
 * The body re[0..n) of a regexp (anchors already taken off) as a glob
 * appended to g; false when it is more than a glob can say.
 */
static bool
regexp_body(const char *re, size_t n, struct gbuf *g)
{
	size_t i = 0;
	char c;

	while (i < n) {
		c = re[i];
		if (c == '.') {
			if (i + 1 < n &&
			    (re[i + 1] == '*' || re[i + 1] == '+')) {
				if (re[i + 1] == '+')
					gput(g, '?');
				gput(g, '*');
				i += 2;
				/* A lazy `.*?` matches the same strings. */
				if (i < n && re[i] == '?')
					i++;
				if (i < n && is_quantifier(re[i]))
					return false;
				continue;
			}
			if (i + 1 < n && is_quantifier(re[i + 1]))
				return false;
			gput(g, '?');
			i++;
			continue;
		}
		if (c == '\\') {
			if (i + 1 >= n)
				return false;
			c = re[i + 1];
			/* Only escaped punctuation is a literal; \d, \w, \b...
			 * are classes or assertions. A literal '*' or '?' is
			 * a wildcard in a glob. */
			if (!((c >= '!' && c <= '/') ||
			      (c >= ':' && c <= '@') ||
			      (c >= '[' && c <= '`') || (c >= '{' && c <= '~')))
				return false;
			if (c == '*' || c == '?')
				return false;
			i += 2;
		} else {
			if (strchr("[](){}|^$*+?", c) != NULL)
				return false;
			i++;
		}
		if (i < n && is_quantifier(re[i]))
			return false;
		gput(g, c);
	}
	return true;
}

/* Does re end with a '$' that is not escaped? */
static bool
ends_anchored(const char *re, size_t n)
{
	size_t bs = 0;

	if (n == 0 || re[n - 1] != '$')
		return false;
	while (bs + 1 < n && re[n - 2 - bs] == '\\')
		bs++;
	return bs % 2 == 0;
}

const char *
import_regexp_glob(const char *re, char *buf, size_t len)
{
	struct gbuf g = {buf, len, 0, false};
	size_t n = strlen(re);
	bool start = false, end;

	if (len == 0)
		return NULL;
	if (n > 0 && re[0] == '^') {
		start = true;
		re++;
		n--;
	}
	end = ends_anchored(re, n);
	if (end)
		n--;
	if (!start)
		gput(&g, '*');
	if (!regexp_body(re, n, &g))
		return NULL;
	if (!end)
		gput(&g, '*');
	if (g.full)
		return NULL;
	buf[g.pos] = '\0';
	return buf;
}

const char *
import_regexp_domain(const char *re, char *buf, size_t len)
{
	/* The forms people and the OpenSnitch UI write for "NAME and every
	 * name under it"; each must be followed by NAME and '$'. */
	static const char *const prefixes[] = {
	        "^(|.*\\.)",   "^(.*\\.)?",   "^(.+\\.)?",   "^(|.+\\.)",
	        "^(.*\\.|)",   "^(.+\\.|)",   "^(?:.*\\.)?", "^(?:.+\\.)?",
	        "^(?:|.*\\.)", "^(?:.*\\.|)", "(^|\\.)",     "(^|.*\\.)",
	        "^(^|.*\\.)",
	};
	struct gbuf g = {buf, len, 0, false};
	size_t i, n, pl;

	if (len == 0)
		return NULL;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		pl = strlen(prefixes[i]);
		if (strncmp(re, prefixes[i], pl) == 0)
			break;
	}
	if (i == sizeof(prefixes) / sizeof(prefixes[0]))
		return NULL;
	re += pl;
	n = strlen(re);
	if (!ends_anchored(re, n))
		return NULL;
	n--;
	if (!regexp_body(re, n, &g) || g.full || g.pos == 0)
		return NULL;
	buf[g.pos] = '\0';
	/* Wildcards in NAME (an unescaped '.') are not one name. */
	if (strpbrk(buf, "*?") != NULL)
		return NULL;
	return buf;
}

/* ---- strings ---- */

char *
import_text_clean(const char *s, bool *cut)
{
	size_t n = strlen(s), i;
	char *t;

	*cut = false;
	if (n > IMPORT_STRING_MAX) {
		n = IMPORT_STRING_MAX;
		/* Back off to the start of a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		*cut = true;
	}
	if ((t = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		t[i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
	}
	t[n] = '\0';
	return t;
}

void
import_put_string(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putc('\\', f);
		putc(*s, f);
	}
	putc('"', f);
}

void
import_json_text(const json_t *v, char *buf, size_t len)
{
	char *s;
	size_t n;

	if (len == 0)
		return;
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s == NULL) {
		snprintf(buf, len, "(a value)");
		return;
	}
	n = strlen(s);
	if (n < len) {
		memcpy(buf, s, n + 1);
	} else {
		/* "..." says it was cut; back off to a UTF-8 boundary. */
		n = len > 4 ? len - 4 : 0;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		memcpy(buf, s, n);
		snprintf(buf + n, len - n, "...");
	}
	free(s);
}

/* Control characters (a '\n' would end a comment) become spaces. */
static void
text_blank(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

void
import_comment(FILE *f, const char *where, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	size_t i;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL) {
		fprintf(f, "# %s: (out of memory)\n", where);
		return;
	}
	text_blank(msg);
	fputs("# ", f);
	for (i = 0; where[i] != '\0'; i++)
		putc((unsigned char)where[i] < 0x20 || where[i] == 0x7f
		             ? ' '
		             : where[i],
		     f);
	fprintf(f, ": %s\n", msg);
	free(msg);
}

/* ---- the rule ---- */

void
import_rule_init(struct import_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->action = SP_VERDICT_DENY;
	r->dir = SP_DIR_OUT;
	r->proto = -1;
}

void
import_rule_free(struct import_rule *r)
{
	size_t i;

	for (i = 0; i < r->ntargets; i++)
		free(r->targets[i]);
	free(r->targets);
	free(r->process);
	free(r->note);
	memset(r, 0, sizeof(*r));
}

bool
import_rule_target(struct import_rule *r, const char *kind, const char *text)
{
	char **v, *t;
	size_t cap;

	r->remote = true;
	if (asprintf(&t, "%s%s%s", kind, kind[0] != '\0' ? " " : "", text) <
	    0) {
		r->oom = true;
		return false;
	}
	if (r->ntargets == r->captargets) {
		cap = r->captargets ? r->captargets * 2 : 8;
		if ((v = realloc(r->targets, cap * sizeof(*v))) == NULL) {
			free(t);
			r->oom = true;
			return false;
		}
		r->targets = v;
		r->captargets = cap;
	}
	r->targets[r->ntargets++] = t;
	return true;
}

static void
rule_print_part(FILE *f, const struct import_rule *r, const char *prefix,
                size_t from, size_t to)
{
	char num[12];
	size_t i;

	fprintf(f, "%s%s %s", prefix, sp_verdict_name(r->action),
	        sp_dir_name(r->dir));
	if (r->proto >= 0)
		fprintf(f, " proto %s", import_proto_text(r->proto, num));
	if (r->process != NULL) {
		fputs(" process ", f);
		import_put_string(f, r->process);
	}
	if (r->user[0] != '\0')
		fprintf(f, " user %s", r->user);
	if (to > from) {
		fputs(r->dir == SP_DIR_IN ? " from" : " to", f);
		fputs(to - from > 1 ? " { " : " ", f);
		for (i = from; i < to; i++)
			fprintf(f, "%s%s", r->targets[i],
			        i + 1 < to ? ", "
			                   : (to - from > 1 ? " }" : ""));
	}
	if (r->nports > 0) {
		fputs(r->nports > 1 ? " port { " : " port ", f);
		for (i = 0; i < r->nports; i++) {
			fprintf(f, "%u", r->ports[i].lo);
			if (r->ports[i].hi != r->ports[i].lo)
				fprintf(f, "-%u", r->ports[i].hi);
			fputs(i + 1 < r->nports ? ", "
			      : r->nports > 1   ? " }"
			                        : "",
			      f);
		}
	}
	if (r->priority)
		fputs(" priority", f);
	if (r->note != NULL) {
		fputs(" note ", f);
		import_put_string(f, r->note);
	}
	putc('\n', f);
}

void
import_rule_print(FILE *f, const struct import_rule *r, const char *prefix)
{
	size_t from;

	if (r->ntargets == 0) {
		rule_print_part(f, r, prefix, 0, 0);
		return;
	}
	for (from = 0; from < r->ntargets; from += IMPORT_SET_MAX)
		rule_print_part(f, r, prefix, from,
		                r->ntargets - from > IMPORT_SET_MAX
		                        ? from + IMPORT_SET_MAX
		                        : r->ntargets);
}

/* ---- units ---- */

bool
import_unit_begin(struct import_unit *u, const char *where)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->where, sizeof(u->where), "%s", where);
	text_blank(u->where);
	import_rule_init(&u->r);
	u->f = open_memstream(&u->buf, &u->len);
	return u->f != NULL;
}

int
import_unit_end(struct import_unit *u, FILE *out)
{
	char prefix[sizeof(u->where) + 40];
	int rc = IMPORT_OK;

	if (u->r.oom) {
		rc = IMPORT_FAILED;
	} else if (u->error || u->silent) {
		/* an error prints nothing; silent, only the comments */
	} else if (u->drop) {
		snprintf(prefix, sizeof(prefix),
		         "# %s: without what is left out: ", u->where);
		import_rule_print(u->f, &u->r, prefix);
	} else {
		import_rule_print(u->f, &u->r, "");
	}
	if (fclose(u->f) != 0)
		rc = IMPORT_FAILED;
	if (rc == IMPORT_OK && !u->error && u->len > 0)
		fwrite(u->buf, 1, u->len, out);
	free(u->buf);
	import_rule_free(&u->r);
	u->f = NULL;
	u->buf = NULL;
	return rc;
}

static void
unit_vcomment(struct import_unit *u, const char *what, const char *fmt,
              va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	import_comment(u->f, u->where, "%s: %s", what,
	               msg ? msg : "(out of memory)");
	free(msg);
}

void
import_unit_drop(struct import_unit *u, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	unit_vcomment(u, "left out", fmt, ap);
	va_end(ap);
	u->drop = true;
}

void
import_unit_lost(struct import_unit *u, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	unit_vcomment(u, "not carried over", fmt, ap);
	va_end(ap);
}

const char *
import_proto_text(int proto, char *buf)
{
	const char *name = sp_proto_name((unsigned)proto);

	if (name != NULL)
		return name;
	snprintf(buf, 8, "%d", proto & 0xff);
	return buf;
}

bool
import_proto_has_ports(int p)
{
	/* tcp, udp, dccp, sctp, udplite: as the rule parser has it */
	return p < 0 || p == 6 || p == 17 || p == 33 || p == 132 || p == 136;
}

int
import_json_file(const char *path,
                 int (*buffer)(const char *file, const char *text, size_t len,
                               FILE *out, FILE *err),
                 FILE *out, FILE *err)
{
	char *text;
	size_t len;
	int rc;

	if ((text = sp_read_file(path, IMPORT_JSON_MAX, &len)) == NULL) {
		fprintf(err, "%s: cannot read: %s\n", path,
		        sp_read_error(errno));
		return IMPORT_BAD_INPUT;
	}
	rc = buffer(path, text, len, out, err);
	free(text);
	return rc;
}

json_t *
import_json_object(const char *file, const char *text, size_t len, FILE *err)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

	if (root == NULL) {
		fprintf(err, "%s:%d:%d: %s\n", file, je.line, je.column,
		        je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		fprintf(err, "%s: the top level is not a JSON object\n", file);
		json_decref(root);
		return NULL;
	}
	return root;
}

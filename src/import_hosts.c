/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle import hosts`: a blocklist as a spackle list file and its rule. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/import.h"

/* ---- lines ---- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static struct sp_view
view(const char *s, const char *e)
{
	struct sp_view v = {(const uint8_t *)s, (size_t)(e - s)};

	return v;
}

bool
import_field_next(struct sp_view *rest, struct sp_view *field)
{
	const char *s = (const char *)rest->p, *e = s + rest->len, *f;

	while (s < e && is_blank(*s))
		s++;
	if (s == e) {
		*rest = view(e, e);
		return false;
	}
	for (f = s; f < e && !is_blank(*f); f++)
		;
	*field = view(s, f);
	*rest = view(f, e);
	return true;
}

/* Digits and dots only, or a ':' or '/' anywhere: an address attempt. */
static bool
looks_numeric(const char *s, size_t n)
{
	size_t i;

	if (memchr(s, ':', n) != NULL || memchr(s, '/', n) != NULL)
		return true;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			return false;
	return n > 0;
}

static bool
adblock_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* Options after '$' that change nothing for a name blocked whole. */
static bool
adblock_options_ok(const char *s, const char *e)
{
	const char *comma;
	size_t n;

	while (s < e) {
		comma = memchr(s, ',', (size_t)(e - s));
		n = comma ? (size_t)(comma - s) : (size_t)(e - s);
		if (!((n == 9 && strncmp(s, "important", 9) == 0) ||
		      (n == 3 && strncmp(s, "all", 3) == 0)))
			return false;
		s += n + (comma != NULL);
	}
	return true;
}

/* [s, e) after "||". */
static void
adblock_line(const char *s, const char *e, struct import_hosts_line *hl)
{
	const char *p = s;

	while (p < e && adblock_name_char(*p))
		p++;
	hl->kind = IMPORT_LINE_SKIP;
	if (p == e || p == s) {
		/* ||name without ^ also matches names that go on */
		hl->why =
		        p == s && p < e ? IMPORT_SKIP_PATH : IMPORT_SKIP_SYNTAX;
		return;
	}
	if (*p != '^') {
		hl->why = is_blank(*p) ? IMPORT_SKIP_SYNTAX : IMPORT_SKIP_PATH;
		return;
	}
	hl->fields = view(s, p);
	p++;
	if (p < e && *p == '|')
		p++;
	if (p < e && *p == '$') {
		if (!adblock_options_ok(p + 1, e)) {
			hl->why = IMPORT_SKIP_OPTIONS;
			return;
		}
		p = e;
	}
	if (p != e) {
		hl->why = IMPORT_SKIP_PATH;
		return;
	}
	hl->kind = IMPORT_LINE_ADBLOCK;
}

void
import_hosts_line(struct sp_view line, struct import_hosts_line *hl)
{
	const char *s = (const char *)line.p, *e = s + line.len, *h;
	struct sp_view rest, f1, f2;

	memset(hl, 0, sizeof(*hl));
	hl->kind = IMPORT_LINE_SKIP;
	hl->why = IMPORT_SKIP_SYNTAX;
	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	if (s == e || *s == '#' || *s == '!' || (*s == '[' && e[-1] == ']')) {
		hl->kind = IMPORT_LINE_BLANK;
		return;
	}
	for (h = s; h < e; h++) {
		if (*h != '#')
			continue;
		if (h > s && !is_blank(h[-1]) && h + 1 < e &&
		    strchr("#@?$%", h[1]) != NULL)
			return; /* cosmetic: example.com##.banner */
		e = h;
		break;
	}
	while (e > s && is_blank(e[-1]))
		e--;
	if (e - s >= 2 && s[0] == '@' && s[1] == '@') {
		hl->why = IMPORT_SKIP_EXCEPTION;
		return;
	}
	if (e - s >= 2 && s[0] == '|' && s[1] == '|') {
		adblock_line(s + 2, e, hl);
		return;
	}
	rest = view(s, e);
	import_field_next(&rest, &f1);
	if (!import_field_next(&rest, &f2)) {
		/* Other adblock syntax: |url, /regexp/, name^, $option. */
		if (memchr(f1.p, '|', f1.len) != NULL ||
		    memchr(f1.p, '^', f1.len) != NULL ||
		    memchr(f1.p, '$', f1.len) != NULL || *s == '/')
			return;
		hl->kind = IMPORT_LINE_ENTRY;
		hl->fields = f1;
		return;
	}
	if (!looks_numeric((const char *)f1.p, f1.len))
		return;
	hl->kind = IMPORT_LINE_HOSTS;
	hl->sink = rules_hosts_sink((const char *)f1.p, f1.len);
	hl->fields = view((const char *)f2.p, e);
}

/* ---- entries ---- */

static bool
is_local(const char *s, size_t n)
{
	static const char *const local[] = {
	        "localhost",     "localhost.localdomain",
	        "local",         "broadcasthost",
	        "localhost4",    "localhost4.localdomain4",
	        "localhost6",    "localhost6.localdomain6",
	        "ip6-localhost", "ip6-loopback",
	        "ip6-localnet",  "ip6-mcastprefix",
	        "ip6-allnodes",  "ip6-allrouters",
	        "ip6-allhosts",
	};
	size_t i;

	if (n > 0 && s[n - 1] == '.')
		n--;
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (strlen(local[i]) == n && strncasecmp(local[i], s, n) == 0)
			return true;
	return false;
}

enum import_entry
import_hosts_entry(struct sp_view field, bool addr_ok, char *buf, size_t *lenp)
{
	const char *s = (const char *)field.p;
	size_t n = field.len;
	char tmp[64];

	*lenp = 0;
	buf[0] = '\0';
	if (n == 0)
		return IMPORT_ENTRY_INVALID;
	if (is_local(s, n) || rules_hosts_sink(s, n))
		return IMPORT_ENTRY_LOCAL;
	if (n > 2 && s[0] == '*' && s[1] == '.') {
		if (rules_name_check(s + 2, n - 2) != NULL)
			return IMPORT_ENTRY_INVALID;
		*lenp = import_name_canon(s + 2, n - 2, buf);
		return IMPORT_ENTRY_WILDCARD;
	}
	if (looks_numeric(s, n)) {
		if (!addr_ok || n >= sizeof(tmp))
			return IMPORT_ENTRY_INVALID;
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		/* A CIDR with bits past its prefix: the list refuses it. */
		if (import_addr_canon(tmp, false, buf) != 0)
			return IMPORT_ENTRY_INVALID;
		*lenp = strlen(buf);
		return IMPORT_ENTRY_ADDR;
	}
	if (rules_name_check(s, n) != NULL)
		return IMPORT_ENTRY_INVALID;
	*lenp = import_name_canon(s, n, buf);
	return IMPORT_ENTRY_NAME;
}

/* ---- the set of entries written ---- */

struct slot {
	uint32_t off; /* into the arena, plus one; 0: empty */
	uint32_t hash;
};

struct nameset {
	struct slot *slots;
	size_t nslots, n;
	uint8_t *arena; /* each entry: a length byte, then the bytes */
	size_t alen, acap;
	uint64_t seed;
};

static bool
nameset_init(struct nameset *ns)
{
	memset(ns, 0, sizeof(*ns));
	if (getrandom(&ns->seed, sizeof(ns->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(ns->seed))
		ns->seed = sp_now_mono();
	ns->nslots = 1u << 12;
	ns->slots = calloc(ns->nslots, sizeof(*ns->slots));
	return ns->slots != NULL;
}

static void
nameset_free(struct nameset *ns)
{
	free(ns->slots);
	free(ns->arena);
}

static bool
nameset_grow(struct nameset *ns)
{
	size_t n = ns->nslots * 2, i, j;
	struct slot *v = calloc(n, sizeof(*v));

	if (v == NULL)
		return false;
	for (i = 0; i < ns->nslots; i++) {
		if (ns->slots[i].off == 0)
			continue;
		for (j = ns->slots[i].hash & (n - 1); v[j].off != 0;
		     j = (j + 1) & (n - 1))
			;
		v[j] = ns->slots[i];
	}
	free(ns->slots);
	ns->slots = v;
	ns->nslots = n;
	return true;
}

/* 1 when s was added, 0 when it was there, -1 when out of room. */
static int
nameset_add(struct nameset *ns, const char *s, size_t len)
{
	uint32_t h = (uint32_t)sp_hash(s, len, ns->seed);
	const uint8_t *e;
	uint8_t *a;
	size_t i, cap;

	for (i = h & (ns->nslots - 1); ns->slots[i].off != 0;
	     i = (i + 1) & (ns->nslots - 1)) {
		if (ns->slots[i].hash != h)
			continue;
		e = ns->arena + ns->slots[i].off - 1;
		if (e[0] == len && memcmp(e + 1, s, len) == 0)
			return 0;
	}
	if (ns->alen + 1 + len > ns->acap) {
		cap = ns->acap ? ns->acap * 2 : 1u << 20;
		if (cap >= UINT32_MAX - 1)
			return -1;
		if ((a = realloc(ns->arena, cap)) == NULL)
			return -1;
		ns->arena = a;
		ns->acap = cap;
	}
	ns->slots[i].off = (uint32_t)ns->alen + 1;
	ns->slots[i].hash = h;
	ns->arena[ns->alen] = (uint8_t)len;
	memcpy(ns->arena + ns->alen + 1, s, len);
	ns->alen += 1 + len;
	ns->n++;
	if (ns->n * 2 >= ns->nslots && !nameset_grow(ns))
		return -1;
	return 1;
}

/* ---- the blocklist ---- */

struct hosts_ctx {
	const char *file;
	FILE *list, *err;
	struct import_hosts_stats *st;
	struct nameset ns;
	int rc;
};

static void
hosts_take(struct hosts_ctx *c, struct sp_view field, bool addr_ok)
{
	char buf[IMPORT_ENTRY_BUF];
	size_t len;
	enum import_entry e = import_hosts_entry(field, addr_ok, buf, &len);
	int added;

	if (e == IMPORT_ENTRY_LOCAL) {
		c->st->skipped[IMPORT_SKIP_LOCAL]++;
		return;
	}
	if (e == IMPORT_ENTRY_INVALID) {
		c->st->skipped[IMPORT_SKIP_INVALID]++;
		return;
	}
	if (c->ns.n >= IMPORT_NAMES_MAX) {
		fprintf(c->err,
		        "%s:%zu: more than %u entries: a list holds at most "
		        "that many\n",
		        c->file, c->st->lines, IMPORT_NAMES_MAX);
		c->rc = IMPORT_BAD_INPUT;
		return;
	}
	if ((added = nameset_add(&c->ns, buf, len)) < 0) {
		fprintf(c->err, "%s: out of memory\n", c->file);
		c->rc = IMPORT_FAILED;
		return;
	}
	if (e == IMPORT_ENTRY_WILDCARD)
		c->st->wildcards++;
	if (added == 0) {
		c->st->duplicates++;
		return;
	}
	if (e == IMPORT_ENTRY_ADDR)
		c->st->addrs++;
	else
		c->st->names++;
	buf[len] = '\n';
	fwrite(buf, 1, len + 1, c->list);
}

int
import_hosts_buffer(const char *file, const char *text, size_t len, FILE *list,
                    struct import_hosts_stats *st, FILE *err)
{
	struct hosts_ctx c;
	struct import_hosts_line hl;
	struct sp_view rest, field;
	const char *p = text, *end = text + len, *eol;

	memset(st, 0, sizeof(*st));
	memset(&c, 0, sizeof(c));
	c.file = file;
	c.list = list;
	c.err = err;
	c.st = st;
	if (!nameset_init(&c.ns)) {
		fprintf(err, "%s: out of memory\n", file);
		return IMPORT_FAILED;
	}
	while (p < end && c.rc == IMPORT_OK) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		st->lines++;
		import_hosts_line(view(p, eol), &hl);
		switch (hl.kind) {
		case IMPORT_LINE_BLANK:
			st->blank++;
			break;
		case IMPORT_LINE_SKIP:
			st->skipped[hl.why]++;
			break;
		case IMPORT_LINE_HOSTS:
			rest = hl.fields;
			while (import_field_next(&rest, &field)) {
				char buf[IMPORT_ENTRY_BUF];
				size_t n;

				if (!hl.sink &&
				    import_hosts_entry(field, false, buf, &n) !=
				            IMPORT_ENTRY_LOCAL)
					st->skipped[IMPORT_SKIP_ADDRESS]++;
				else
					hosts_take(&c, field, false);
			}
			break;
		case IMPORT_LINE_ENTRY:
		case IMPORT_LINE_ADBLOCK:
			hosts_take(&c, hl.fields, true);
			break;
		}
		p = eol + 1;
	}
	nameset_free(&c.ns);
	if (c.rc == IMPORT_OK && st->names + st->addrs == 0) {
		fprintf(err,
		        "%s: no names or addresses found: is it a hosts file, "
		        "a list of names or an adblock list?\n",
		        file);
		c.rc = IMPORT_BAD_INPUT;
	}
	return c.rc;
}

static const char *
plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void
hosts_summary(FILE *err, const char *file, const char *real,
              const struct import_hosts_stats *st)
{
	static const struct {
		enum import_skip why;
		const char *what;
	} reasons[] = {
	        {IMPORT_SKIP_LOCAL, "local names (localhost, broadcasthost, "
	                            "sink addresses)"},
	        {IMPORT_SKIP_INVALID, "invalid names"},
	        {IMPORT_SKIP_ADDRESS, "names mapped to an address other than "
	                              "0.0.0.0, 127.0.0.1, :: or ::1"},
	        {IMPORT_SKIP_EXCEPTION,
	         "adblock exception lines (@@): a listed "
	         "domain still covers their names"},
	        {IMPORT_SKIP_OPTIONS, "adblock lines with options other than "
	                              "$important"},
	        {IMPORT_SKIP_PATH, "adblock lines with a path, a port or a "
	                           "wildcard"},
	        {IMPORT_SKIP_SYNTAX, "lines of other syntax"},
	};
	size_t i, total = st->names + st->addrs;

	fprintf(err, "%s: %zu %s written to %s (%zu %s, %zu %s)\n", file, total,
	        plural(total, "entry", "entries"), real, st->names,
	        plural(st->names, "name", "names"), st->addrs,
	        plural(st->addrs, "address", "addresses"));
	if (st->duplicates > 0)
		fprintf(err, "  duplicates left out: %zu\n", st->duplicates);
	if (st->wildcards > 0)
		fprintf(err,
		        "  *.name written as name, which also covers name "
		        "itself: %zu\n",
		        st->wildcards);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (st->skipped[reasons[i].why] > 0)
			fprintf(err, "  skipped, %s: %zu\n", reasons[i].what,
			        st->skipped[reasons[i].why]);
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* Write the list into a temporary file beside list_path. */
static int
hosts_write(const char *path, const char *text, size_t len,
            const char *list_path, struct import_hosts_stats *st, FILE *err)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd, rc;

	if (asprintf(&tmp, "%s.XXXXXX", list_path) < 0) {
		fprintf(err, "%s: out of memory\n", path);
		return IMPORT_FAILED;
	}
	if ((fd = mkstemp(tmp)) < 0 || fchmod(fd, 0644) != 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		fprintf(err, "%s: cannot write: %s\n", list_path,
		        strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return IMPORT_FAILED;
	}
	import_comment(f, base_name(path), "written by spackle import hosts");
	rc = import_hosts_buffer(path, text, len, f, st, err);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fprintf(err, "%s: cannot write: %s\n", list_path,
		        strerror(errno));
		rc = IMPORT_FAILED;
	}
	if (fclose(f) != 0 && rc == IMPORT_OK) {
		fprintf(err, "%s: cannot write: %s\n", list_path,
		        strerror(errno));
		rc = IMPORT_FAILED;
	}
	if (rc == IMPORT_OK && rename(tmp, list_path) != 0) {
		fprintf(err, "%s: cannot write: %s\n", list_path,
		        strerror(errno));
		rc = IMPORT_FAILED;
	}
	if (rc != IMPORT_OK)
		unlink(tmp);
	free(tmp);
	return rc;
}

int
import_hosts_file(const char *path, const char *list_path,
                  enum sp_verdict action, FILE *out, FILE *err)
{
	struct import_hosts_stats st;
	struct stat in, lst;
	char *text = NULL, *def = NULL, *real = NULL;
	size_t len, i;
	int rc;

	if ((text = sp_read_file(path, IMPORT_HOSTS_MAX, &len)) == NULL) {
		fprintf(err, "%s: cannot read: %s\n", path,
		        sp_read_error(errno));
		return IMPORT_BAD_INPUT;
	}
	if (list_path == NULL) {
		if (asprintf(&def, "%s.list", base_name(path)) < 0) {
			fprintf(err, "%s: out of memory\n", path);
			free(text);
			return IMPORT_FAILED;
		}
		list_path = def;
	}
	rc = IMPORT_FAILED;
	if (stat(path, &in) == 0 && stat(list_path, &lst) == 0 &&
	    in.st_dev == lst.st_dev && in.st_ino == lst.st_ino) {
		fprintf(err, "%s: the list would overwrite its own input\n",
		        list_path);
		goto out;
	}
	if ((rc = hosts_write(path, text, len, list_path, &st, err)) !=
	    IMPORT_OK)
		goto out;
	rc = IMPORT_FAILED;
	if ((real = realpath(list_path, NULL)) == NULL) {
		fprintf(err, "%s: %s\n", list_path, strerror(errno));
		goto out;
	}
	for (i = 0; real[i] != '\0'; i++) {
		if ((unsigned char)real[i] < 0x20 || real[i] == 0x7f) {
			fprintf(err,
			        "%s: a rule cannot name a path with a control "
			        "character\n",
			        list_path);
			goto out;
		}
	}
	if (i > IMPORT_STRING_MAX) {
		fprintf(err, "%s: a path longer than a rule's string\n",
		        list_path);
		goto out;
	}
	fprintf(out, "%s out to list ", sp_verdict_name(action));
	import_put_string(out, real);
	fputc('\n', out);
	hosts_summary(err, path, real, &st);
	rc = IMPORT_OK;
out:
	free(real);
	free(def);
	free(text);
	return rc;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* History's filter, times and names: which flows a command looks at. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "spackle/rules.h"
#include "src/history_int.h"

#define NS_PER_S 1000000000ull

/* ---- times ------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Exactly n digits at *p; advances. */
static bool
digits(const char **p, unsigned n, unsigned *out)
{
	unsigned v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int
parse_iso(const char *s, uint64_t *out)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
	                                 31, 31, 30, 31, 30, 31};
	const char *p = s;
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, zh, zm = 0, i;
	uint64_t frac = 0, scale = NS_PER_S;
	int64_t days, t, off = 0;
	bool leap;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || y < 1970)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				for (i = 0; isdigit((unsigned char)*p);
				     i++, p++)
					if (i < 9) {
						scale /= 10;
						frac += (uint64_t)(*p - '0') *
						        scale;
					}
				if (i == 0)
					return -1;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1;

			p++;
			if (!digits(&p, 2, &zh))
				return -1;
			if (*p == ':')
				p++;
			if (*p != '\0' && !digits(&p, 2, &zm))
				return -1;
			if (zh > 23 || zm > 59)
				return -1;
			off = sign * (int64_t)(zh * 3600 + zm * 60);
		}
	}
	if (*p != '\0')
		return -1;
	days = days_from_civil(y, mo, d);
	t = days * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < 0)
		return -1;
	*out = (uint64_t)t * NS_PER_S + frac;
	return 0;
}

int
history_parse_time(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	static const char units[] = "smhdw";
	static const uint64_t secs[] = {1, 60, 3600, 86400, 604800};
	const char *u;
	char *end;
	unsigned long long n;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "now") == 0) {
		*out_ns = now_ns;
		return 0;
	}
	if (s[0] == '@') {
		if (!isdigit((unsigned char)s[1]))
			return -1;
		errno = 0;
		n = strtoull(s + 1, &end, 10);
		if (errno != 0 || *end != '\0' || n > UINT64_MAX / NS_PER_S)
			return -1;
		*out_ns = n * NS_PER_S;
		return 0;
	}
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == 0 && end[0] != '\0' && end[1] == '\0' &&
	    (u = strchr(units, end[0])) != NULL) {
		uint64_t back;

		if (n > UINT64_MAX / NS_PER_S / secs[u - units])
			return -1;
		back = n * secs[u - units] * NS_PER_S;
		*out_ns = back >= now_ns ? 1 : now_ns - back;
		return 0;
	}
	return parse_iso(s, out_ns);
}

char *
history_format_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_S);
	struct tm tm;

	if (ns == 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* ---- names ------------------------------------------------------------- */

/* The rule language's DNS name check (rules_parse.c): labels of 1-63
 * letters, digits, '-' or '_'; not all digits. */
static bool
name_ok(const char *s)
{
	size_t len = strlen(s), label = 0, i;
	bool numeric = true;

	if (len == 0 || len > SP_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-' || c == '_'))
			return false;
		if (!isdigit((unsigned char)c))
			numeric = false;
		if (++label > 63)
			return false;
	}
	return label > 0 && !numeric;
}

const char *
history_domain(const char *host, char *buf, size_t len)
{
	static const char *const second[] = {
	        "co", "com", "net", "org", "gov", "edu", "ac",  "or", "ne",
	        "go", "gv",  "mil", "ltd", "plc", "nom", "sch", "gob"};
	const char *labels[4] = {NULL, NULL, NULL, NULL}; /* last first */
	const char *p, *start;
	size_t n = 0, i, sl;
	char tmp[SP_NAME_MAX + 2];

	if (host == NULL)
		return NULL;
	snprintf(tmp, sizeof(tmp), "%s", host);
	sl = strlen(tmp);
	if (sl > 0 && tmp[sl - 1] == '.')
		tmp[--sl] = '\0';
	for (i = 0; i < sl; i++)
		tmp[i] = (char)tolower((unsigned char)tmp[i]);
	if (!name_ok(tmp) || strlen(tmp) >= len)
		return NULL;
	/* Walk labels from the end. */
	p = tmp + sl;
	while (p > tmp && n < 4) {
		start = p;
		while (start > tmp && start[-1] != '.')
			start--;
		labels[n++] = start;
		p = start > tmp ? start - 1 : tmp;
	}
	start = tmp;
	if (n >= 3) {
		size_t tld = strlen(labels[0]);
		size_t sld = (size_t)(labels[0] - 1 - labels[1]);
		bool common = false;

		for (i = 0; i < sizeof(second) / sizeof(second[0]); i++)
			if (strlen(second[i]) == sld &&
			    strncmp(labels[1], second[i], sld) == 0)
				common = true;
		start = tld == 2 && common ? labels[2] : labels[1];
	}
	snprintf(buf, len, "%s", start);
	return buf;
}

/* ---- the filter -------------------------------------------------------- */

bool
history_filter_prepare(struct history_filter *f, FILE *err)
{
	f->host_is_net = false;
	if (f->host != NULL &&
	    sp_cidr_parse(&f->host_net, &f->host_plen, f->host))
		f->host_is_net = true;
	if (f->since_ns != 0 && f->until_ns != 0 && f->since_ns > f->until_ns) {
		fprintf(err, "--since is after --until: no flow can match\n");
		return false;
	}
	return true;
}

static bool
host_match(const struct history_filter *f, const struct store_flow *r)
{
	size_t hl, nl;

	if (f->host_is_net)
		return sp_cidr_contains(&f->host_net, f->host_plen, &r->remote);
	if (r->host == NULL || r->host[0] == '\0')
		return false;
	hl = strlen(r->host);
	nl = strlen(f->host);
	if (hl == nl)
		return strcasecmp(r->host, f->host) == 0;
	return hl > nl && r->host[hl - nl - 1] == '.' &&
	       strcasecmp(r->host + hl - nl, f->host) == 0;
}

static bool
process_match(const char *glob, const char *exe)
{
	const char *base;

	if (exe == NULL || exe[0] == '\0')
		return false;
	/* The rule language's globs: `*` and `?`, `*` crossing '/'. */
	if (rules_glob_match(glob, exe))
		return true;
	if (strchr(glob, '/') == NULL && (base = strrchr(exe, '/')) != NULL)
		return rules_glob_match(glob, base + 1);
	return false;
}

bool
history_match(const struct history_filter *f, const struct store_flow *r)
{
	if (f->since_ns != 0 && r->last_ns < f->since_ns)
		return false;
	if (f->until_ns != 0 && r->first_ns > f->until_ns)
		return false;
	if (f->verdict != SP_VERDICT_NONE && r->verdict != f->verdict)
		return false;
	if (f->process != NULL && !process_match(f->process, r->exe))
		return false;
	if (f->host != NULL && !host_match(f, r))
		return false;
	return true;
}

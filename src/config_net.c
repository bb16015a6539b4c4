/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spackle.conf's listening keys: metrics and the web monitor (web,
 * web_public, web_token, web_rules). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/config.h"
#include "src/config_int.h"

int
config_metrics_addr(const char *spec, struct sockaddr_storage *ss,
                    unsigned *sslen, bool *loopback, char *err, size_t errlen)
{
	char host[CONFIG_METRICS_MAX];
	const char *colon, *h = spec;
	size_t hl;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		h = spec + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL)
			goto bad;
		hl = (size_t)(colon - spec);
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	if (!isdigit((unsigned char)colon[1]))
		goto bad;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		goto bad;
	if (spec[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*s6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*s4);
		*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	return 0;
bad:
	snprintf(err, errlen,
	         "\"%s\" is not ADDR:PORT (a numeric address, IPv6 in "
	         "brackets: 127.0.0.1:9477, [::1]:9477)",
	         spec);
	return -1;
}

static void
config_addr(struct config_ctx *x, const char *key, const char *v, char *out)
{
	struct sockaddr_storage ss;
	unsigned len;
	bool lo;
	char err[160];

	if (v[0] == '\0') {
		out[0] = '\0';
		return;
	}
	if (strlen(v) >= CONFIG_METRICS_MAX ||
	    config_metrics_addr(v, &ss, &len, &lo, err, sizeof(err)) != 0) {
		config_error(x, "%s: %s", key,
		             strlen(v) >= CONFIG_METRICS_MAX ? "too long"
		                                             : err);
		return;
	}
	snprintf(out, CONFIG_METRICS_MAX, "%s", v);
}

/* web_token, web_rules: an absolute path. */
static void
config_abs_path(struct config_ctx *x, const char *key, const char *v, char *out,
                size_t len)
{
	if (v[0] != '/') {
		config_error(x, "%s: \"%s\" is not an absolute path", key, v);
		return;
	}
	config_path(x, key, v, out, len);
}

bool
config_net_set(struct config_ctx *x, const char *key, const char *v)
{
	struct config *c = x->c;

	if (strcmp(key, "metrics") == 0) {
		config_addr(x, key, v, c->metrics);
		x->metrics_line = x->line;
	} else if (strcmp(key, "metrics_public") == 0)
		config_yesno(x, key, v, &c->metrics_public);
	else if (strcmp(key, "web") == 0) {
		config_addr(x, key, v, c->web);
		x->web_line = x->line;
	} else if (strcmp(key, "web_public") == 0)
		config_yesno(x, key, v, &c->web_public);
	else if (strcmp(key, "web_token") == 0)
		config_abs_path(x, key, v, c->web_token, sizeof(c->web_token));
	else if (strcmp(key, "web_rules") == 0) {
		config_abs_path(x, key, v, c->web_rules, sizeof(c->web_rules));
		x->web_rules_line = x->line;
	} else
		return false;
	return true;
}

/* ADDR:PORT that parses and is not loopback: the line it was set on
 * gets an error unless its *_public key said yes. */
static void
config_public_check(struct config_ctx *x, const char *key, const char *spec,
                    bool public, unsigned line)
{
	struct sockaddr_storage ss;
	unsigned len;
	bool lo = false;
	char e[160], what[CONFIG_METRICS_MAX + 32];

	if (spec[0] == '\0' || public ||
	    config_metrics_addr(spec, &ss, &len, &lo, e, sizeof(e)) != 0 || lo)
		return;
	x->line = line;
	snprintf(what, sizeof(what), "%s: %s", key, spec);
	config_error(x,
	             "%s is not a loopback address; serving it to the "
	             "network needs %s_public = yes",
	             what, key);
}

/* The length of path's folder part, trailing slashes left out. */
static size_t
config_dir_len(const char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	return n;
}

void
config_net_check(struct config_ctx *x)
{
	const struct config *c = x->c;
	const char *base, *p = c->web_rules;
	size_t dl;

	config_public_check(x, "metrics", c->metrics, c->metrics_public,
	                    x->metrics_line);
	config_public_check(x, "web", c->web, c->web_public, x->web_line);
	if (p[0] == '\0')
		return;
	/* A reload reads the *.rules of `rules`: the page's file must be one.
	 */
	x->line = x->web_rules_line;
	base = strrchr(p, '/') + 1;
	dl = config_dir_len(c->rules);
	if ((size_t)(base - p - 1) != dl || strncmp(p, c->rules, dl) != 0)
		config_error(x,
		             "web_rules: %s is not in the rules folder %s "
		             "(a reload reads only that folder)",
		             p, c->rules);
	else if (base[0] == '.' || strlen(base) <= 6 ||
	         strcmp(base + strlen(base) - 6, ".rules") != 0)
		config_error(x,
		             "web_rules: %s: the name must end in .rules and "
		             "not begin with a dot (a reload reads only "
		             "those)%s",
		             p, "");
}

const char *
config_web_rules(const struct config *c, char *buf, size_t len)
{
	if (c->web_rules[0] != '\0')
		snprintf(buf, len, "%s", c->web_rules);
	else
		snprintf(buf, len, "%.*s/%s", (int)config_dir_len(c->rules),
		         c->rules, CONFIG_WEB_RULES_NAME);
	return buf;
}

void
config_net_print(FILE *f, const struct config *c)
{
	if (c->metrics[0] != '\0')
		fprintf(f, "metrics = %s\n", c->metrics);
	fprintf(f, "metrics_public = %s\n", c->metrics_public ? "yes" : "no");
	if (c->web[0] != '\0')
		fprintf(f, "web = %s\n", c->web);
	fprintf(f, "web_public = %s\n", c->web_public ? "yes" : "no");
	fprintf(f, "web_token = %s\n", c->web_token);
	if (c->web_rules[0] != '\0')
		fprintf(f, "web_rules = %s\n", c->web_rules);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's token: made, written for root and the group spackle,
 * read back by `spackle web`, compared in constant time; and who may ask
 * what with it. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/web.h"

int
web_token_make(char *tok)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[WEB_TOKEN_BYTES];
	size_t got = 0, i;
	ssize_t n;

	while (got < sizeof(b)) {
		n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (i = 0; i < sizeof(b); i++) {
		tok[2 * i] = hex[b[i] >> 4];
		tok[2 * i + 1] = hex[b[i] & 15];
	}
	tok[WEB_TOKEN_HEX] = '\0';
	return 0;
}

int
web_token_write(const char *path, const char *tok, char *err, size_t errlen)
{
	char tmp[SP_PATH_MAX + 16], dir[SP_PATH_MAX], *slash;
	struct group *g = getgrnam(WEB_TOKEN_GROUP);
	gid_t gid = g != NULL ? g->gr_gid : 0;
	mode_t mode = g != NULL ? 0640 : 0600;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return -1;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	/* Owner and mode before the token goes in. */
	if (fchown(fd, 0, gid) != 0 || fchmod(fd, mode) != 0 ||
	    dprintf(fd, "%s\n", tok) != WEB_TOKEN_HEX + 1 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
web_token_read(const char *path, char *tok, char *err, size_t errlen)
{
	char buf[WEB_TOKEN_HEX + 3];
	size_t n, i;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		         errno == EACCES ? " (root and the group "
		                           "spackle may read it)"
		                         : "");
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", buf[i]) || buf[i] == '\0')
			break;
	if (n != WEB_TOKEN_HEX || i != n) {
		snprintf(err, errlen,
		         "%s: not a token (%d hex characters); the daemon "
		         "writes it when it starts with `web` set",
		         path, WEB_TOKEN_HEX);
		return -1;
	}
	memcpy(tok, buf, WEB_TOKEN_HEX + 1);
	return 0;
}

bool
web_token_equal(const char *want, const char *got)
{
	size_t i, n;
	unsigned char d = 0;

	if (got == NULL)
		return false;
	n = strlen(got);
	/* Every byte of got is looked at, against want's or a zero past
	 * its end: the time says how long got is, nothing more. */
	for (i = 0; i < n; i++)
		d |= (unsigned char)got[i] ^
		     (unsigned char)(i < WEB_TOKEN_HEX ? want[i] : 0);
	return d == 0 && n == WEB_TOKEN_HEX;
}

bool
web_cookie_get(const char *header, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name), vl;
	const char *p = header, *end;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			p += nl + 1;
			vl = (size_t)(end - p);
			while (vl > 0 &&
			       (p[vl - 1] == ' ' || p[vl - 1] == '\t'))
				vl--;
			if (vl >= len)
				return false;
			memcpy(buf, p, vl);
			buf[vl] = '\0';
			return true;
		}
		p = *end != '\0' ? end + 1 : NULL;
	}
	return false;
}

enum web_auth
web_auth_decide(const char *token, const struct web_creds *c, bool change)
{
	char cookie[WEB_TOKEN_HEX + 2];
	bool ok;

	/* The first given of header, query, cookie decides: a cookie left
	 * from before a restart (a token since replaced) does not stand in
	 * the way of the new URL or of the page's header. */
	if (c->header != NULL)
		return web_token_equal(token, c->header) ? WEB_AUTH_OK
		                                         : WEB_AUTH_NO_TOKEN;
	if (c->query != NULL)
		ok = web_token_equal(token, c->query);
	else
		ok = c->cookie != NULL &&
		     web_cookie_get(c->cookie, WEB_COOKIE, cookie,
		                    sizeof(cookie)) &&
		     web_token_equal(token, cookie);
	/* A change by the cookie alone is what another site could make. */
	if (!ok)
		return WEB_AUTH_NO_TOKEN;
	if (change)
		return WEB_AUTH_NO_HEADER;
	return c->query != NULL ? WEB_AUTH_SET_COOKIE : WEB_AUTH_OK;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Names in a TCP flow's first payload: TLS ClientHello SNI, HTTP/1 Host. */
#include <ctype.h>
#include <string.h>

#include "spackle/sni.h"

#define TLS_CT_HANDSHAKE   22
#define TLS_HS_CLIENTHELLO 1
#define TLS_EXT_SNI        0
#define TLS_SNI_HOST_NAME  0

/*
 * A cursor over bytes that were announced by a length field (ann) of which
 * only rem are at hand: running past rem but not past ann is SHORT (the
 * rest was cut by the copy range or waits in a later segment), running past
 * ann is BAD (an inner length contradicts an outer one).
 */
struct sni_cur {
	const uint8_t *p;
	size_t rem;
	size_t ann;
};

static enum sni_status
cur_need(const struct sni_cur *c, size_t n)
{
	if (n > c->ann)
		return SNI_BAD;
	if (n > c->rem)
		return SNI_SHORT;
	return SNI_OK;
}

static void
cur_skip(struct sni_cur *c, size_t n)
{
	c->p += n;
	c->rem -= n;
	c->ann -= n;
}

/* A sub-cursor over the next n announced bytes (n <= c->ann checked). */
static void
cur_sub(const struct sni_cur *c, size_t n, struct sni_cur *sub)
{
	sub->p = c->p;
	sub->ann = n;
	sub->rem = n < c->rem ? n : c->rem;
}

/* Skip a vector with a 1- or 2-byte length; lo..hi bounds its length. */
static enum sni_status
cur_skip_vec(struct sni_cur *c, size_t lenbytes, size_t lo, size_t hi)
{
	enum sni_status s;
	size_t n;

	if ((s = cur_need(c, lenbytes)) != SNI_OK)
		return s;
	n = lenbytes == 1 ? c->p[0] : sp_rd16(c->p);
	if (n < lo || n > hi)
		return SNI_BAD;
	cur_skip(c, lenbytes);
	if ((s = cur_need(c, n)) != SNI_OK)
		return s;
	cur_skip(c, n);
	return SNI_OK;
}

/* RFC 6066 section 3: ServerNameList, the first host_name. */
static enum sni_status
tls_server_name(struct sni_cur *e, struct sp_view *name)
{
	struct sni_cur l;
	enum sni_status s;
	size_t n;
	uint8_t type;

	if ((s = cur_need(e, 2)) != SNI_OK)
		return s;
	n = sp_rd16(e->p);
	cur_skip(e, 2);
	if (n == 0 || n > e->ann)
		return SNI_BAD;
	cur_sub(e, n, &l);
	while (l.ann > 0) {
		if ((s = cur_need(&l, 3)) != SNI_OK)
			return s;
		type = l.p[0];
		n = sp_rd16(l.p + 1);
		cur_skip(&l, 3);
		if ((s = cur_need(&l, n)) != SNI_OK)
			return s;
		if (type == TLS_SNI_HOST_NAME) {
			if (n == 0)
				return SNI_BAD;
			name->p = l.p;
			name->len = n;
			return SNI_OK;
		}
		cur_skip(&l, n);
	}
	return SNI_NONE;
}

enum sni_status
sni_parse_tls(const uint8_t *p, size_t len, struct sp_view *name)
{
	struct sni_cur c, hs, ex, e;
	enum sni_status s;
	size_t rlen, hlen, n;
	uint16_t type;

	name->p = NULL;
	name->len = 0;
	if (len < 1)
		return SNI_SHORT;
	if (p[0] != TLS_CT_HANDSHAKE)
		return SNI_NONE;
	if (len < 5)
		return len < 2 || p[1] == 3 ? SNI_SHORT : SNI_NONE;
	/* Record: type, legacy_record_version 3.x, length (RFC 8446 5.1). */
	if (p[1] != 3 || p[2] > 4)
		return SNI_NONE;
	rlen = sp_rd16(p + 3);
	if (rlen < 4 || rlen > SNI_TLS_RECORD_MAX)
		return SNI_BAD;
	c.p = p + 5;
	c.ann = rlen;
	c.rem = len - 5 < rlen ? len - 5 : rlen;
	if ((s = cur_need(&c, 4)) != SNI_OK)
		return s;
	if (c.p[0] != TLS_HS_CLIENTHELLO)
		return SNI_NONE;
	hlen = (size_t)c.p[1] << 16 | (size_t)c.p[2] << 8 | c.p[3];
	cur_skip(&c, 4);
	/*
	 * A ClientHello longer than its record continues in the next record
	 * (RFC 8446 5.1 allows fragmenting handshakes): bytes past this one
	 * are announced but not at hand.
	 */
	hs.p = c.p;
	hs.ann = hlen;
	hs.rem = hlen < c.rem ? hlen : c.rem;
	if (hlen > c.ann && hlen > SNI_TLS_RECORD_MAX * 4)
		return SNI_BAD;
	/* legacy_version, random[32] */
	if ((s = cur_need(&hs, 34)) != SNI_OK)
		return s;
	cur_skip(&hs, 34);
	if ((s = cur_skip_vec(&hs, 1, 0, 32)) != SNI_OK) /* session id */
		return s;
	if ((s = cur_need(&hs, 2)) != SNI_OK) /* cipher suites */
		return s;
	n = sp_rd16(hs.p);
	if (n < 2 || n % 2 != 0)
		return SNI_BAD;
	if ((s = cur_skip_vec(&hs, 2, 2, 65534)) != SNI_OK)
		return s;
	if ((s = cur_skip_vec(&hs, 1, 1, 255)) != SNI_OK) /* compression */
		return s;
	if (hs.ann == 0)
		return SNI_NONE; /* no extensions at all (TLS 1.0 style) */
	if ((s = cur_need(&hs, 2)) != SNI_OK)
		return s;
	n = sp_rd16(hs.p);
	cur_skip(&hs, 2);
	if (n > hs.ann)
		return SNI_BAD;
	cur_sub(&hs, n, &ex);
	while (ex.ann > 0) {
		if ((s = cur_need(&ex, 4)) != SNI_OK)
			return s;
		type = sp_rd16(ex.p);
		n = sp_rd16(ex.p + 2);
		cur_skip(&ex, 4);
		if (n > ex.ann)
			return SNI_BAD;
		if (type == TLS_EXT_SNI) {
			cur_sub(&ex, n, &e);
			return tls_server_name(&e, name);
		}
		if ((s = cur_need(&ex, n)) != SNI_OK)
			return s;
		cur_skip(&ex, n);
	}
	return SNI_NONE;
}

/* RFC 9110 5.6.2: tchar. */
static bool
http_tchar(uint8_t ch)
{
	return isalnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * The next line from p (rem bytes): its length without the CR LF or LF,
 * and what it takes with them. SNI_SHORT when no LF is at hand.
 */
static enum sni_status
http_line(const uint8_t *p, size_t rem, size_t *linelen, size_t *used)
{
	const uint8_t *lf = memchr(p, '\n', rem);
	size_t n;

	if (lf == NULL)
		return SNI_SHORT;
	n = (size_t)(lf - p);
	*used = n + 1;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	*linelen = n;
	return SNI_OK;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3) */
static enum sni_status
http_request_line(const uint8_t *p, size_t n, bool complete)
{
	size_t i = 0, t;

	while (i < n && i <= SNI_HTTP_METHOD_MAX && p[i] >= 'A' && p[i] <= 'Z')
		i++;
	if (i == n)
		return complete || i > SNI_HTTP_METHOD_MAX ? SNI_NONE
		                                           : SNI_SHORT;
	if (i == 0 || i > SNI_HTTP_METHOD_MAX || p[i] != ' ')
		return SNI_NONE;
	t = ++i;
	while (i < n && p[i] > ' ' && p[i] != 0x7f)
		i++;
	if (i == n)
		return complete ? SNI_NONE : SNI_SHORT;
	if (i == t || p[i] != ' ')
		return SNI_NONE;
	i++;
	/* "HTTP/1.D", whole or, when the line is cut, as far as it goes. */
	for (t = 0; t < 8 && i + t < n; t++) {
		uint8_t want = "HTTP/1.0"[t];

		if (t == 7 ? !isdigit(p[i + t]) : p[i + t] != want)
			return SNI_NONE;
	}
	if (t < 8)
		return complete ? SNI_NONE : SNI_SHORT;
	if (i + 8 == n)
		return complete ? SNI_OK : SNI_SHORT;
	/* Only the CR of a CR LF may follow, in a line cut before its LF. */
	return !complete && i + 9 == n && p[i + 8] == '\r' ? SNI_SHORT
	                                                   : SNI_NONE;
}

enum sni_status
sni_parse_http(const uint8_t *p, size_t len, struct sp_view *name)
{
	enum sni_status s;
	size_t n, used, i, k;
	unsigned lines;

	name->p = NULL;
	name->len = 0;
	if (len == 0)
		return SNI_SHORT;
	s = http_line(p, len, &n, &used);
	if (s == SNI_SHORT)
		return http_request_line(p, len, false);
	if ((s = http_request_line(p, n, true)) != SNI_OK)
		return s;
	p += used;
	len -= used;
	for (lines = 0; lines < SNI_HTTP_LINES_MAX; lines++) {
		if (http_line(p, len, &n, &used) != SNI_OK)
			return SNI_SHORT;
		if (n == 0)
			return SNI_NONE; /* end of the header: no Host */
		/* RFC 9112 5.2: obsolete line folding is refused. */
		if (p[0] == ' ' || p[0] == '\t')
			return SNI_BAD;
		for (i = 0; i < n && http_tchar(p[i]); i++)
			;
		if (i == 0 || i == n || p[i] != ':')
			return SNI_BAD;
		if (i == 4 && strncasecmp((const char *)p, "host", 4) == 0) {
			for (i = 5; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
				;
			for (k = n;
			     k > i && (p[k - 1] == ' ' || p[k - 1] == '\t');
			     k--)
				;
			if (k == i)
				return SNI_NONE;
			name->p = p + i;
			name->len = k - i;
			return SNI_OK;
		}
		p += used;
		len -= used;
	}
	return SNI_NONE;
}

enum sni_status
sni_parse(const uint8_t *p, size_t len, enum sni_kind *kind,
          struct sp_view *name)
{
	name->p = NULL;
	name->len = 0;
	if (len == 0)
		return SNI_SHORT;
	if (p[0] == TLS_CT_HANDSHAKE) {
		*kind = SNI_KIND_TLS;
		return sni_parse_tls(p, len, name);
	}
	if (p[0] >= 'A' && p[0] <= 'Z') {
		*kind = SNI_KIND_HTTP;
		return sni_parse_http(p, len, name);
	}
	return SNI_NONE;
}

bool
sni_name_normalize(enum sni_kind kind, const struct sp_view *raw,
                   char out[SP_NAME_MAX + 1])
{
	struct sp_addr a;
	size_t n = raw->len, i, label = 0;

	if (raw->p == NULL || n == 0)
		return false;
	if (kind == SNI_KIND_HTTP) {
		if (raw->p[0] == '[')
			return false; /* an IPv6 literal */
		for (i = n; i > 0 && isdigit(raw->p[i - 1]); i--)
			;
		if (i > 0 && raw->p[i - 1] == ':')
			n = i - 1;
	}
	if (n > 0 && raw->p[n - 1] == '.')
		n--;
	if (n == 0 || n > SP_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		uint8_t ch = raw->p[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		out[i] = (char)tolower(ch);
	}
	if (label == 0)
		return false;
	out[n] = '\0';
	/* An address is not a name (RFC 6066 3: no literal IPs in SNI). */
	return !sp_addr_parse(&a, out);
}

const char *
sni_status_name(enum sni_status s)
{
	switch (s) {
	case SNI_OK:
		return "ok";
	case SNI_SHORT:
		return "short";
	case SNI_BAD:
		return "bad";
	case SNI_NONE:
		return "none";
	}
	return "?";
}

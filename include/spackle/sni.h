/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Names in a TCP flow's first payload: TLS ClientHello SNI, HTTP/1 Host. */
#ifndef SPACKLE_SNI_H
#define SPACKLE_SNI_H

#include "spackle/spackle.h"

/*
 * The parsers walk the bytes they are given with a pointer and a remaining
 * length and never read past it. On SNI_OK the name is a view into the
 * caller's buffer, as the peer wrote it (sni_name_normalize() turns it into
 * a name the rules can match).
 */
enum sni_status {
	SNI_OK = 0,
	SNI_SHORT, /* the bytes end before the name, and more were announced */
	SNI_BAD,   /* a field holds an impossible value */
	SNI_NONE,  /* well formed (as far as given) but carries no name: not a
	              ClientHello / HTTP/1 request, no server_name, no Host */
};

enum sni_kind {
	SNI_KIND_TLS = 1, /* TLS ClientHello server_name (RFC 6066 section 3) */
	SNI_KIND_HTTP,    /* HTTP/1.x Host header (RFC 9112 section 3.2) */
};

/* Bounds: a ClientHello record is at most 2^14 bytes (RFC 8446 5.1). */
#define SNI_TLS_RECORD_MAX  (16384 + 256)
#define SNI_HTTP_LINES_MAX  64 /* header lines read before giving up */
#define SNI_HTTP_METHOD_MAX 16

/*
 * The server_name of a TLS ClientHello at the start of p (a TLS record:
 * content type 22, then a handshake of type 1). Only the first record is
 * read; a ClientHello that continues in a second record is SNI_SHORT when
 * the name was not in the first.
 */
enum sni_status sni_parse_tls(const uint8_t *p, size_t len,
                              struct sp_view *name);

/*
 * The Host of an HTTP/1.0 or 1.1 request at the start of p: the request
 * line must be `TOKEN SP TARGET SP HTTP/1.D CRLF` (a bare LF is taken too).
 * The view is the header's value without surrounding blanks, port included
 * (sni_name_normalize() drops it). An absolute-form target's authority is
 * not used: RFC 9112 3.2.2 has Host carry it too.
 */
enum sni_status sni_parse_http(const uint8_t *p, size_t len,
                               struct sp_view *name);

/* Either, by the first byte (22: TLS; a letter: HTTP). */
enum sni_status sni_parse(const uint8_t *p, size_t len, enum sni_kind *kind,
                          struct sp_view *name);

/*
 * Turn a raw name into the form the rules match: lower case, a trailing
 * dot dropped, a ":PORT" suffix dropped (kind HTTP), every label 1..63 of
 * [a-z0-9_-], 253 bytes at most, and not an address (an IPv4 literal or a
 * bracketed IPv6 literal is no name). out holds SP_NAME_MAX + 1 bytes.
 * Returns false when the name is not one.
 */
bool sni_name_normalize(enum sni_kind kind, const struct sp_view *raw,
                        char out[SP_NAME_MAX + 1]);

const char *sni_status_name(enum sni_status s);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's record codec: flows, events and names to bytes and back. */
#include <string.h>
#include <sys/socket.h>

#include "src/store_codec.h"

static uint8_t
family_code(const struct sp_addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 6 : 0;
}

static bool
family_from_code(uint8_t c, struct sp_addr *a)
{
	if (c == 4)
		a->family = AF_INET;
	else if (c == 6)
		a->family = AF_INET6;
	else if (c == 0)
		a->family = 0;
	else
		return false;
	return true;
}

static size_t
str_len(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	return n > STORE_STR_MAX ? STORE_STR_MAX : n;
}

/* ---- flow records ------------------------------------------------------- */

/*
 * v1 flow value (little-endian), 112 fixed bytes then three strings:
 *   0 format (1)  1 proto  2 dir  3 verdict  4 u32 flags
 *   8 family (4/6)  9..11 zero  12 local[16]  28 remote[16]
 *   44 u16 local port  46 u16 remote port  48 i32 pid  52 u32 uid
 *   56 first_ns  64 last_ns  72 packets_out  80 packets_in
 *   88 bytes_out  96 bytes_in  104 u16 exe len  106 u16 host len
 *   108 u16 rule len  110 zero  112 exe NUL host NUL rule NUL
 * and, for flag STORE_FLOW_AGGREGATE (1 << 3) alone, 10 bytes after the
 * strings: u64 flows, u8 local prefix length, u8 remote prefix length (a
 * reader older than aggregates reads the record and not these).
 */
#define FLOW_V1_FIXED 112
#define FLOW_V1_AGG   10
/*
 * v0 (before the schema had a version): no format byte, no flags:
 *   0 proto  1 dir  2 verdict  3 family  4 local[16]  20 remote[16]
 *   36 u16 local port  38 u16 remote port  40 i32 pid  44 u32 uid
 *   48 first  56 last  64 packets_out  72 packets_in  80 bytes_out
 *   88 bytes_in  96 exe NUL host NUL rule NUL
 */
#define FLOW_V0_FIXED 96

static size_t
agg_len(const struct store_flow *r)
{
	return (r->flags & STORE_FLOW_AGGREGATE) ? FLOW_V1_AGG : 0;
}

size_t
store_flow_size(const struct store_flow *r)
{
	return FLOW_V1_FIXED + str_len(r->exe) + str_len(r->host) +
	       str_len(r->rule) + 3 + agg_len(r);
}

static uint8_t *
put_str(uint8_t *p, const char *s, size_t n)
{
	if (n > 0)
		memcpy(p, s, n);
	p[n] = 0;
	return p + n + 1;
}

size_t
store_flow_encode(const struct store_flow *r, uint8_t *buf, size_t len)
{
	size_t ne = str_len(r->exe), nh = str_len(r->host);
	size_t nr = str_len(r->rule);
	size_t need = FLOW_V1_FIXED + ne + nh + nr + 3 + agg_len(r);
	uint8_t *p;

	if (len < need)
		return 0;
	memset(buf, 0, FLOW_V1_FIXED);
	buf[0] = 1;
	buf[1] = r->proto;
	buf[2] = r->dir;
	buf[3] = r->verdict;
	put32(buf + 4, r->flags);
	buf[8] = family_code(&r->local);
	memcpy(buf + 12, r->local.b, 16);
	memcpy(buf + 28, r->remote.b, 16);
	put16(buf + 44, r->local_port);
	put16(buf + 46, r->remote_port);
	put32(buf + 48, (uint32_t)r->pid);
	put32(buf + 52, r->uid);
	put64(buf + 56, r->first_ns);
	put64(buf + 64, r->last_ns);
	put64(buf + 72, r->packets_out);
	put64(buf + 80, r->packets_in);
	put64(buf + 88, r->bytes_out);
	put64(buf + 96, r->bytes_in);
	put16(buf + 104, (uint16_t)ne);
	put16(buf + 106, (uint16_t)nh);
	put16(buf + 108, (uint16_t)nr);
	p = buf + FLOW_V1_FIXED;
	p = put_str(p, r->exe, ne);
	p = put_str(p, r->host, nh);
	p = put_str(p, r->rule, nr);
	if (agg_len(r) > 0) {
		put64(p, r->flows);
		p[8] = r->local_plen;
		p[9] = r->remote_plen;
	}
	return need;
}

/* A NUL-terminated string of n bytes at p[*off], within len. */
static const char *
get_str(const uint8_t *p, size_t len, size_t *off, size_t n)
{
	const char *s;

	if (*off > len || n >= len - *off || p[*off + n] != 0)
		return NULL;
	s = (const char *)p + *off;
	*off += n + 1;
	return s;
}

/* A NUL-terminated string starting at p[*off], within len. */
static const char *
get_cstr(const uint8_t *p, size_t len, size_t *off)
{
	const uint8_t *nul;
	const char *s;

	if (*off >= len)
		return NULL;
	nul = memchr(p + *off, 0, len - *off);
	if (nul == NULL)
		return NULL;
	s = (const char *)p + *off;
	*off = (size_t)(nul - p) + 1;
	return s;
}

static bool
flow_decode_v1(const uint8_t *p, size_t len, struct store_flow *r)
{
	size_t off = FLOW_V1_FIXED;

	if (len < FLOW_V1_FIXED || p[0] != 1)
		return false;
	r->proto = p[1];
	r->dir = p[2];
	r->verdict = p[3];
	r->flags = get32(p + 4);
	if (!family_from_code(p[8], &r->local))
		return false;
	r->remote.family = r->local.family;
	memcpy(r->local.b, p + 12, 16);
	memcpy(r->remote.b, p + 28, 16);
	r->local_port = get16(p + 44);
	r->remote_port = get16(p + 46);
	r->pid = (int32_t)get32(p + 48);
	r->uid = get32(p + 52);
	r->first_ns = get64(p + 56);
	r->last_ns = get64(p + 64);
	r->packets_out = get64(p + 72);
	r->packets_in = get64(p + 80);
	r->bytes_out = get64(p + 88);
	r->bytes_in = get64(p + 96);
	if ((r->exe = get_str(p, len, &off, get16(p + 104))) == NULL ||
	    (r->host = get_str(p, len, &off, get16(p + 106))) == NULL ||
	    (r->rule = get_str(p, len, &off, get16(p + 108))) == NULL)
		return false;
	if (r->flags & STORE_FLOW_AGGREGATE) {
		if (len - off < FLOW_V1_AGG)
			return false;
		r->flows = get64(p + off);
		r->local_plen = p[off + 8];
		r->remote_plen = p[off + 9];
		if (r->local_plen > 128 || r->remote_plen > 128)
			return false;
	}
	return true;
}

static bool
flow_decode_v0(const uint8_t *p, size_t len, struct store_flow *r)
{
	size_t off = FLOW_V0_FIXED;

	if (len < FLOW_V0_FIXED)
		return false;
	r->proto = p[0];
	r->dir = p[1];
	r->verdict = p[2];
	r->flags = 0;
	if (!family_from_code(p[3], &r->local))
		return false;
	r->remote.family = r->local.family;
	memcpy(r->local.b, p + 4, 16);
	memcpy(r->remote.b, p + 20, 16);
	r->local_port = get16(p + 36);
	r->remote_port = get16(p + 38);
	r->pid = (int32_t)get32(p + 40);
	r->uid = get32(p + 44);
	r->first_ns = get64(p + 48);
	r->last_ns = get64(p + 56);
	r->packets_out = get64(p + 64);
	r->packets_in = get64(p + 72);
	r->bytes_out = get64(p + 80);
	r->bytes_in = get64(p + 88);
	if ((r->exe = get_cstr(p, len, &off)) == NULL ||
	    (r->host = get_cstr(p, len, &off)) == NULL ||
	    (r->rule = get_cstr(p, len, &off)) == NULL)
		return false;
	return true;
}

bool
store_flow_decode(unsigned version, uint64_t id, const uint8_t *p, size_t len,
                  struct store_flow *r)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	if (version == 0)
		return flow_decode_v0(p, len, r);
	return flow_decode_v1(p, len, r);
}

/* ---- events -------------------------------------------------------------- */

size_t
store_event_encode(uint8_t *v, enum store_event_type type, uint64_t flow_id,
                   const char *text, size_t n)
{
	memset(v, 0, EVENT_FIXED);
	v[0] = 1;
	v[1] = (uint8_t)type;
	put16(v + 2, (uint16_t)n);
	put64(v + 8, flow_id);
	put_str(v + EVENT_FIXED, text, n);
	return EVENT_FIXED + n + 1;
}

bool
store_event_decode(const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                   struct store_event *e)
{
	size_t off = EVENT_FIXED;

	if (klen != EVENT_KEY || vlen < EVENT_FIXED || v[0] != 1)
		return false;
	e->ts_ns = getbe64(k);
	e->seq = (uint32_t)getbe64(k + 4);
	e->type = v[1];
	e->flow_id = get64(v + 8);
	if ((e->text = get_str(v, vlen, &off, get16(v + 2))) == NULL)
		return false;
	return true;
}

const char *
store_event_name(enum store_event_type t)
{
	static const char *const names[] = {
	        [STORE_EV_FLOW_NEW] = "flow", [STORE_EV_VERDICT] = "verdict",
	        [STORE_EV_RELOAD] = "reload", [STORE_EV_TAMPER] = "tamper",
	        [STORE_EV_DROPS] = "drops",   [STORE_EV_START] = "start",
	        [STORE_EV_STOP] = "stop",     [STORE_EV_AUDIT] = "audit",
	};

	if ((unsigned)t == 0 || (unsigned)t > STORE_EV_MAX)
		return "unknown";
	return names[t];
}

/* ---- names --------------------------------------------------------------- */

size_t
store_names_decode(const uint8_t *p, size_t len, struct store_name_entry *e,
                   size_t max)
{
	size_t off = NAMES_FIXED, i, n;

	if (len < NAMES_FIXED || p[0] != 1)
		return 0;
	n = p[1];
	for (i = 0; i < n && i < max; i++) {
		if (len - off < 10)
			return i;
		e[i].expiry = get64(p + off);
		e[i].source = p[off + 8];
		e[i].len = p[off + 9];
		off += 10;
		if ((e[i].name = get_str(p, len, &off, e[i].len)) == NULL)
			return i;
	}
	return i;
}

size_t
store_names_encode(const struct store_name_entry *e, size_t n, uint8_t *buf,
                   size_t len)
{
	size_t off = NAMES_FIXED, i;

	if (len < NAMES_FIXED)
		return 0;
	memset(buf, 0, NAMES_FIXED);
	buf[0] = 1;
	buf[1] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		if (len - off < 11u + e[i].len)
			return 0;
		put64(buf + off, e[i].expiry);
		buf[off + 8] = e[i].source;
		buf[off + 9] = e[i].len;
		memcpy(buf + off + 10, e[i].name, e[i].len);
		buf[off + 10 + e[i].len] = 0;
		off += 11u + e[i].len;
	}
	return off;
}

void
store_names_key(const struct sp_addr *a, uint8_t key[NAMES_KEY])
{
	key[0] = family_code(a);
	memcpy(key + 1, a->b, 16);
}

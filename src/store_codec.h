/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's record layouts and byte order, private to src/store*.c. */
#ifndef SPACKLE_STORE_CODEC_H
#define SPACKLE_STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spackle/spackle.h"
#include "spackle/store.h"

/* ---- little-endian fields ---------------------------------------------- */

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static inline uint64_t
get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Keys are big-endian so that LMDB's byte order is numeric order. */
static inline void
putbe64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t
getbe64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- events and names --------------------------------------------------- */

/*
 * v1 event value: 0 format (1)  1 type  2 u16 text len  4 zero
 *   8 u64 flow id  16 text NUL. Key: ts_ns BE64, seq BE32.
 */
#define EVENT_FIXED 16
#define EVENT_KEY   12

/*
 * v1 names value: 0 format (1)  1 count  2 zero[2], then count entries of
 * u64 expiry_ns, u8 source, u8 len, name[len], NUL. Key: family code and
 * the 16 bytes of the (mapped) address.
 */
#define NAMES_FIXED 4
#define NAMES_KEY   17

struct store_name_entry {
	uint64_t expiry;
	uint8_t source;
	uint8_t len;
	const char *name;
};

/*
 * Encode an event value (text of n bytes, NUL added) into v, which has
 * room for EVENT_FIXED + n + 1 bytes; returns that size.
 */
size_t store_event_encode(uint8_t *v, enum store_event_type type,
                          uint64_t flow_id, const char *text, size_t n);
/*
 * Decode an event from its key and value; the text is a view into v.
 * false when either is malformed (lengths checked before every read).
 */
bool store_event_decode(const uint8_t *k, size_t klen, const uint8_t *v,
                        size_t vlen, struct store_event *e);

/* The names kept for an address, up to max, into e (views into p); returns
 * how many decode. */
size_t store_names_decode(const uint8_t *p, size_t len,
                          struct store_name_entry *e, size_t max);
/* Encode n entries into buf; the size, or 0 when they do not fit in len. */
size_t store_names_encode(const struct store_name_entry *e, size_t n,
                          uint8_t *buf, size_t len);
/* The names key of an address: its family code, then its 16 bytes. */
void store_names_key(const struct sp_addr *a, uint8_t key[NAMES_KEY]);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The DNS answer parser: addresses from A/AAAA records, names from CNAMEs. */
#include <arpa/inet.h>
#include <string.h>

#include "spackle/names.h"

#define DNS_HDR_LEN    12
#define DNS_QFIXED_LEN 4  /* QTYPE, QCLASS */
#define DNS_RFIXED_LEN 10 /* TYPE, CLASS, TTL, RDLENGTH */
#define DNS_QR         0x8000
#define DNS_OPCODE     0x7800
#define DNS_T_A        1
#define DNS_T_CNAME    5
#define DNS_T_AAAA     28
#define DNS_C_IN       1
/* mDNS uses the top bit of CLASS as cache-flush (RFC 6762 10.2). */
#define DNS_CLASS_MASK 0x7fff
#define DNS_TTL_MAX    0x7fffffffu /* RFC 2181 8: larger means zero */
#define DNS_PTR_MASK   0xc0
#define DNS_LABEL_MAX  63

/* The question, and an owner and a CNAME target for each record. */
#define DNS_NAMES_MAX (1 + 2 * SP_DNS_RECORDS_MAX)
#define DNS_NONE      UINT16_MAX

struct dns_rr {
	uint16_t type;
	uint16_t owner;  /* name index */
	uint16_t target; /* CNAME: name index */
	uint32_t ttl;
	uint8_t addr[16];
};

/*
 * One message being parsed. Each distinct name is decoded once and then
 * known by its index, so chains are followed by comparing integers. About
 * 40 KB, on the caller's stack.
 */
struct dns_msg {
	const uint8_t *p;
	size_t len;
	uint16_t qname;
	size_t nnames, nrr;
	bool clean; /* the name dns_name() decoded last */
	char names[DNS_NAMES_MAX][SP_NAME_MAX + 1];
	uint16_t nlen[DNS_NAMES_MAX];
	uint64_t hash[DNS_NAMES_MAX];
	struct dns_rr rr[SP_DNS_RECORDS_MAX];
	/* Following chains. */
	uint16_t next[DNS_NAMES_MAX];  /* CNAME target of a name */
	uint16_t prev[DNS_NAMES_MAX];  /* a name whose CNAME this is */
	uint16_t chain[DNS_NAMES_MAX]; /* from the question */
	uint16_t pos[DNS_NAMES_MAX];   /* index in chain */
	uint16_t seen[DNS_NAMES_MAX];  /* stamp of the last walk back */
	struct dns_addr_names an;
};

const char *
dns_status_name(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_SHORT:
		return "short";
	case DNS_BAD:
		return "bad";
	case DNS_NOT_ANSWER:
		return "not an answer";
	}
	return "?";
}

/*
 * Decode the name at off into out: lower case, dotted, no final dot, NUL
 * ended. *next gets the offset just past the name where it is written (after
 * its first pointer, if any). A pointer (RFC 1035 4.1.4) must go strictly
 * before the start of the labels being read, so the offsets visited only go
 * down and no loop can form; at most SP_DNS_JUMPS_MAX are followed. *clean
 * is false when a label holds a byte we do not put in a name (a dot, a space,
 * a control or non-ASCII byte): the structure is sound, the name unusable.
 */
static enum dns_status
dns_read_name(const uint8_t *msg, size_t len, size_t off, char *out,
              uint16_t *outlen, bool *clean, size_t *next)
{
	size_t pos = off, start = off, n = 0, i;
	unsigned jumps = 0;
	bool jumped = false;
	uint8_t b, c;
	size_t ptr;

	*clean = true;
	for (;;) {
		if (pos >= len)
			return DNS_SHORT;
		b = msg[pos];
		if (b == 0) {
			if (!jumped)
				*next = pos + 1;
			break;
		}
		if ((b & DNS_PTR_MASK) == DNS_PTR_MASK) {
			if (len - pos < 2)
				return DNS_SHORT;
			ptr = (size_t)(b & ~DNS_PTR_MASK) << 8 | msg[pos + 1];
			if (ptr >= start || ptr < DNS_HDR_LEN ||
			    ++jumps > SP_DNS_JUMPS_MAX)
				return DNS_BAD;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = start = ptr;
			continue;
		}
		/* 01 and 10 label types: retired (RFC 6891 5). */
		if (b > DNS_LABEL_MAX)
			return DNS_BAD;
		if (len - pos - 1 < b)
			return DNS_SHORT;
		if (n + (n > 0) + b > SP_NAME_MAX)
			return DNS_BAD;
		if (n > 0)
			out[n++] = '.';
		for (i = 0; i < b; i++) {
			c = msg[pos + 1 + i];
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			else if (c <= ' ' || c >= 0x7f || c == '.')
				*clean = false;
			out[n++] = (char)c;
		}
		pos += 1 + (size_t)b;
	}
	out[n] = '\0';
	*outlen = (uint16_t)n;
	return DNS_OK;
}

/*
 * Decode the name at off into the next free name slot, a scratch space until
 * dns_keep() keeps it.
 */
static enum dns_status
dns_name(struct dns_msg *m, size_t off, size_t *next)
{
	/* Cannot happen: one question and two names per record at most. */
	if (m->nnames >= DNS_NAMES_MAX)
		return DNS_BAD;
	return dns_read_name(m->p, m->len, off, m->names[m->nnames],
	                     &m->nlen[m->nnames], &m->clean, next);
}

/*
 * Keep the name dns_name() just decoded and give its index: an existing one
 * when the same name was kept before, DNS_NONE when it is empty (the root)
 * or unusable.
 */
static uint16_t
dns_keep(struct dns_msg *m)
{
	const char *s = m->names[m->nnames];
	size_t n = m->nlen[m->nnames], i;
	uint64_t h;

	if (!m->clean || n == 0)
		return DNS_NONE;
	h = sp_hash(s, n, 0);
	for (i = 0; i < m->nnames; i++) {
		if (m->hash[i] == h && m->nlen[i] == n &&
		    memcmp(m->names[i], s, n) == 0)
			return (uint16_t)i;
	}
	m->hash[m->nnames] = h;
	return (uint16_t)m->nnames++;
}

/* Header, questions, answers (RFC 1035 4.1): fill m's records. */
static enum dns_status
dns_read(struct dns_msg *m)
{
	enum dns_status s;
	uint16_t flags, qd, an, type, cls, rdlen;
	size_t off = DNS_HDR_LEN, next = 0, rd, i;
	struct dns_rr *rr;

	if (m->len < DNS_HDR_LEN)
		return DNS_SHORT;
	flags = sp_rd16(m->p + 2);
	qd = sp_rd16(m->p + 4);
	an = sp_rd16(m->p + 6);
	if (!(flags & DNS_QR) || (flags & DNS_OPCODE) != 0)
		return DNS_NOT_ANSWER;
	/* The RCODE matters only through what it leaves: no answers. */
	if (an == 0)
		return DNS_NOT_ANSWER;

	/* Usually one question; the first one is the name asked for. */
	for (i = 0; i < qd; i++) {
		if ((s = dns_name(m, off, &next)) != DNS_OK)
			return s;
		if (m->len - next < DNS_QFIXED_LEN)
			return DNS_SHORT;
		if (i == 0)
			m->qname = dns_keep(m);
		off = next + DNS_QFIXED_LEN;
	}

	for (i = 0; i < an && i < SP_DNS_RECORDS_MAX; i++) {
		if ((s = dns_name(m, off, &next)) != DNS_OK)
			return s;
		if (m->len - next < DNS_RFIXED_LEN)
			return DNS_SHORT;
		type = sp_rd16(m->p + next);
		cls = sp_rd16(m->p + next + 2);
		rdlen = sp_rd16(m->p + next + 8);
		rd = next + DNS_RFIXED_LEN;
		if (m->len - rd < rdlen)
			return DNS_SHORT;
		off = rd + rdlen;

		if ((cls & DNS_CLASS_MASK) != DNS_C_IN ||
		    (type != DNS_T_A && type != DNS_T_AAAA &&
		     type != DNS_T_CNAME))
			continue;
		rr = &m->rr[m->nrr];
		rr->type = type;
		rr->owner = dns_keep(m);
		rr->target = DNS_NONE;
		rr->ttl = sp_rd32(m->p + next + 4);
		if (rr->ttl > DNS_TTL_MAX)
			rr->ttl = 0;
		switch (type) {
		case DNS_T_A:
			if (rdlen != 4)
				return DNS_BAD;
			memcpy(rr->addr, m->p + rd, 4);
			break;
		case DNS_T_AAAA:
			if (rdlen != 16)
				return DNS_BAD;
			memcpy(rr->addr, m->p + rd, 16);
			break;
		default:
			if ((s = dns_name(m, rd, &next)) != DNS_OK)
				return s;
			/* The name must fill RDATA exactly. */
			if (next != off)
				return DNS_BAD;
			rr->target = dns_keep(m);
			if (rr->target == DNS_NONE)
				continue;
			break;
		}
		if (rr->owner != DNS_NONE)
			m->nrr++;
	}
	return DNS_OK;
}

/* Hand one address with names chain[0..n) to cb. */
static void
dns_emit(struct dns_msg *m, const struct dns_rr *rr, const uint16_t *chain,
         size_t n, dns_answer_cb cb, void *arg)
{
	struct dns_addr_names *an = &m->an;
	size_t i, k = 0;
	/* A chain too long keeps its first name (the question) and its end. */
	size_t from = n > SP_NAMES_PER_ADDR ? n - (SP_NAMES_PER_ADDR - 1) : 0;

	if (rr->type == DNS_T_A)
		sp_addr_from_v4(&an->addr, rr->addr);
	else
		sp_addr_from_v6(&an->addr, rr->addr);
	an->ttl = rr->ttl;
	for (i = 0; i < n; i++) {
		if (i > 0 && i < from)
			continue;
		memcpy(an->names[k], m->names[chain[i]],
		       (size_t)m->nlen[chain[i]] + 1);
		k++;
	}
	an->n = (unsigned)k;
	cb(an, arg);
}

/*
 * RULES.md: an address reached through a CNAME chain carries every name of
 * the chain. The chain from the question follows each name's first CNAME; an
 * address whose owner is not on it gets the names that lead to its owner
 * instead (at least the owner itself). Returns how many addresses cb got.
 */
static size_t
dns_chains(struct dns_msg *m, dns_answer_cb cb, void *arg)
{
	uint16_t back[DNS_NAMES_MAX], rev[DNS_NAMES_MAX];
	size_t nchain = 0, nback, i, j, emitted = 0;
	const struct dns_rr *rr;
	uint16_t cur;

	for (i = 0; i < m->nnames; i++) {
		m->next[i] = m->prev[i] = m->pos[i] = DNS_NONE;
		m->seen[i] = 0;
	}
	for (i = 0; i < m->nrr; i++) {
		rr = &m->rr[i];
		if (rr->type != DNS_T_CNAME)
			continue;
		if (m->next[rr->owner] == DNS_NONE)
			m->next[rr->owner] = rr->target;
		if (m->prev[rr->target] == DNS_NONE)
			m->prev[rr->target] = rr->owner;
	}
	for (cur = m->qname; cur != DNS_NONE && m->pos[cur] == DNS_NONE;
	     cur = m->next[cur]) {
		m->pos[cur] = (uint16_t)nchain;
		m->chain[nchain++] = cur;
	}

	for (i = 0; i < m->nrr; i++) {
		rr = &m->rr[i];
		if (rr->type != DNS_T_A && rr->type != DNS_T_AAAA)
			continue;
		if (m->pos[rr->owner] != DNS_NONE) {
			dns_emit(m, rr, m->chain, (size_t)m->pos[rr->owner] + 1,
			         cb, arg);
			emitted++;
			continue;
		}
		nback = 0;
		for (cur = rr->owner; cur != DNS_NONE && m->seen[cur] != i + 1;
		     cur = m->prev[cur]) {
			m->seen[cur] = (uint16_t)(i + 1);
			back[nback++] = cur;
		}
		for (j = 0; j < nback; j++)
			rev[j] = back[nback - 1 - j];
		dns_emit(m, rr, rev, nback, cb, arg);
		emitted++;
	}
	return emitted;
}

/*
 * All or nothing: cb is called only once the whole message has been read,
 * so a message cut short or malformed teaches no name.
 */
enum dns_status
dns_parse_response(const uint8_t *msg, size_t len, dns_answer_cb cb, void *arg)
{
	struct dns_msg m;
	enum dns_status s;

	m.p = msg;
	m.len = len;
	m.qname = DNS_NONE;
	m.nnames = 0;
	m.nrr = 0;
	if ((s = dns_read(&m)) != DNS_OK)
		return s;
	if (dns_chains(&m, cb, arg) == 0)
		return DNS_NOT_ANSWER;
	return DNS_OK;
}

/*
 * RFC 1035 4.2.2 / RFC 7766 8: each message follows its two-byte length.
 * Messages are not reassembled across segments. Within a complete frame, a
 * message that runs short of its own fields is bad, not short.
 */
enum dns_status
dns_parse_tcp(const uint8_t *p, size_t len, dns_answer_cb cb, void *arg)
{
	enum dns_status s, res = DNS_NOT_ANSWER;
	size_t off = 0, mlen;

	while (off < len) {
		if (len - off < 2)
			return res == DNS_BAD ? DNS_BAD : DNS_SHORT;
		mlen = sp_rd16(p + off);
		off += 2;
		if (len - off < mlen)
			return res == DNS_BAD ? DNS_BAD : DNS_SHORT;
		s = dns_parse_response(p + off, mlen, cb, arg);
		off += mlen;
		if (s == DNS_SHORT || s == DNS_BAD)
			res = DNS_BAD;
		else if (s == DNS_OK && res != DNS_BAD)
			res = DNS_OK;
	}
	return res;
}

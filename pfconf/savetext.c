/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading iptables-save text (pfconf/savetext.h). */
#include <netdb.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "pfconf/savetext.h"
#include "spackle/spackle.h"

int
save_token(struct save_view *rest, struct save_view *tok)
{
	const char *p = rest->p, *end = rest->p + rest->n;
	bool quoted = false;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end) {
		rest->p = p;
		rest->n = 0;
		return 0;
	}
	tok->p = p;
	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == ' ' || *p == '\t'))
			break;
	}
	tok->n = (size_t)(p - tok->p);
	rest->p = p;
	rest->n = (size_t)(end - p);
	return quoted ? -1 : 1;
}

bool
save_eq(struct save_view v, const char *s)
{
	size_t n = strlen(s);

	return v.n == n && memcmp(v.p, s, n) == 0;
}

/*
 * Protocols by name, the first name of a number being the one
 * iptables-save prints (ICMPv6 as ipv6-icmp); then getprotobyname_r().
 */
static const struct save_proto {
	const char *name;
	uint8_t num;
} save_protos[] = {
        {"tcp", SP_PROTO_TCP},
        {"udp", SP_PROTO_UDP},
        {"icmp", SP_PROTO_ICMP},
        {"ipv6-icmp", SP_PROTO_ICMP6},
        {"icmpv6", SP_PROTO_ICMP6},
        {"icmp6", SP_PROTO_ICMP6},
        {"igmp", 2},
        {"ipencap", 4},
        {"dccp", 33},
        {"ipv6", 41},
        {"gre", 47},
        {"esp", 50},
        {"ah", 51},
        {"ospf", 89},
        {"pim", 103},
        {"vrrp", 112},
        {"l2tp", 115},
        {"sctp", 132},
        {"mh", 135},
        {"udplite", 136},
};
#define SAVE_NPROTOS (sizeof(save_protos) / sizeof(save_protos[0]))

/*
 * tok without its quotes and escapes into out (outlen bytes, with the
 * NUL). false when it does not fit.
 */
bool
save_unquote(struct save_view tok, char *out, size_t outlen)
{
	const char *p = tok.p, *end = tok.p + tok.n;
	bool quoted = false;
	size_t o = 0;

	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = *p;
	}
	if (outlen == 0)
		return false;
	out[o] = '\0';
	return true;
}

/* A whole decimal number, at most max. */
bool
save_number(struct save_view v, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (v.n == 0)
		return false;
	for (i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		if (n > (max - (uint64_t)(v.p[i] - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = n;
	return true;
}

/* The protocol number of a -p value; -1 when not known here. */
int
save_proto_num(const char *s)
{
	struct protoent pe, *res = NULL;
	char buf[1024];
	struct save_view v = {s, strlen(s)};
	uint64_t n;
	size_t i;

	if (save_number(v, 255, &n))
		return (int)n;
	for (i = 0; i < SAVE_NPROTOS; i++)
		if (strcasecmp(s, save_protos[i].name) == 0)
			return save_protos[i].num;
	if (getprotobyname_r(s, &pe, buf, sizeof(buf), &res) == 0 &&
	    res != NULL && res->p_proto >= 0 && res->p_proto <= 255)
		return res->p_proto;
	return -1;
}

/* The name iptables-save gives protocol num, or NULL. */
const char *
save_proto_name(unsigned num)
{
	size_t i;

	for (i = 0; i < SAVE_NPROTOS; i++)
		if (save_protos[i].num == num)
			return save_protos[i].name;
	return NULL;
}

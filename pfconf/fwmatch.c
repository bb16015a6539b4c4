/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A rule read from iptables-save against a packet, and told for a person. */

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "pfconf/savetext.h"
#include "spackle/fwread.h"

static bool
fw_if_match(const char *rule, const char *pkt)
{
	size_t n = strlen(rule);

	if (pkt == NULL)
		pkt = "";
	if (n > 0 && rule[n - 1] == '+')
		return strncmp(rule, pkt, n - 1) == 0;
	return strcmp(rule, pkt) == 0;
}

enum fw_match
fw_rule_match(const struct fw_rule *r, const struct fw_pkt *p)
{
	bool maybe = r->unknown, m;

	if (r->family != p->family)
		return FW_NO;
	if (r->proto != 0 && (p->proto == r->proto) == r->proto_neg)
		return FW_NO;
	if (r->has_src) {
		if (p->src.family != r->src.family)
			maybe = true;
		else if (sp_cidr_contains(&r->src, r->src_plen, &p->src) ==
		         r->src_neg)
			return FW_NO;
	}
	if (r->has_dst) {
		if (p->dst.family != r->dst.family)
			maybe = true;
		else if (sp_cidr_contains(&r->dst, r->dst_plen, &p->dst) ==
		         r->dst_neg)
			return FW_NO;
	}
	if (r->in_if[0] != '\0' && fw_if_match(r->in_if, p->in_if) == r->in_neg)
		return FW_NO;
	if (r->out_if[0] != '\0' &&
	    fw_if_match(r->out_if, p->out_if) == r->out_neg)
		return FW_NO;
	if (r->has_sport) {
		m = p->sport >= r->sport_lo && p->sport <= r->sport_hi;
		if (m == r->sport_neg)
			return FW_NO;
	}
	if (r->has_dport) {
		m = p->dport >= r->dport_lo && p->dport <= r->dport_hi;
		if (m == r->dport_neg)
			return FW_NO;
	}
	if (r->has_uid) {
		if (p->uid < 0 || p->uid > UINT32_MAX) {
			maybe = true;
		} else {
			m = (uint64_t)p->uid >= r->uid_lo &&
			    (uint64_t)p->uid <= r->uid_hi;
			if (m == r->uid_neg)
				return FW_NO;
		}
	}
	return maybe ? FW_MAYBE : FW_YES;
}

/* Appends to a bounded buffer; once full, stays full. */
struct fw_out {
	char *buf;
	size_t len, used;
};

static void
fw_add(struct fw_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len == 0 || o->used + 1 >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->used += (size_t)n;
	if (o->used >= o->len)
		o->used = o->len - 1;
}

static void
fw_add_ports(struct fw_out *o, bool neg, uint16_t lo, uint16_t hi)
{
	if (lo == hi)
		fw_add(o, " port %s%u", neg ? "not " : "", lo);
	else
		fw_add(o, " ports %s%u-%u", neg ? "not " : "", lo, hi);
}

static void
fw_add_addr(struct fw_out *o, const char *dir, bool has, bool neg,
            const struct sp_addr *a, unsigned plen, bool has_port,
            bool port_neg, uint16_t lo, uint16_t hi)
{
	char buf[64];

	if (!has && !has_port)
		return;
	fw_add(o, " %s", dir);
	if (has)
		fw_add(o, " %s%s/%u", neg ? "not " : "",
		       sp_addr_format(a, buf, sizeof(buf)), plen);
	if (has_port)
		fw_add_ports(o, port_neg, lo, hi);
}

void
fw_rule_describe(const struct fw_rule *r, char *buf, size_t len)
{
	struct fw_out o = {buf, len, 0};
	const char *pname;
	size_t mark;

	if (buf == NULL || len == 0)
		return;
	buf[0] = '\0';
	switch (r->kind) {
	case FW_K_ACCEPT:
		fw_add(&o, "ACCEPT");
		break;
	case FW_K_DROP:
		fw_add(&o, "DROP");
		break;
	case FW_K_REJECT:
		fw_add(&o, "REJECT");
		break;
	case FW_K_RETURN:
		fw_add(&o, "RETURN");
		break;
	case FW_K_QUEUE:
		fw_add(&o, "NFQUEUE");
		break;
	case FW_K_JUMP:
		fw_add(&o, "jump %s", r->target);
		break;
	case FW_K_NONE:
		fw_add(&o, "count");
		break;
	case FW_K_OTHER:
		fw_add(&o, "%s", r->target[0] != '\0' ? r->target : "?");
		break;
	}
	mark = o.used;
	if (r->proto != 0) {
		pname = sp_proto_name(r->proto);
		if (r->proto == SP_PROTO_ICMP6)
			pname = "icmpv6";
		if (pname == NULL)
			pname = save_proto_name(r->proto);
		if (pname != NULL)
			fw_add(&o, " %s%s", r->proto_neg ? "not " : "", pname);
		else
			fw_add(&o, " %sproto %u", r->proto_neg ? "not " : "",
			       r->proto);
	}
	fw_add_addr(&o, "from", r->has_src, r->src_neg, &r->src, r->src_plen,
	            r->has_sport, r->sport_neg, r->sport_lo, r->sport_hi);
	fw_add_addr(&o, "to", r->has_dst, r->dst_neg, &r->dst, r->dst_plen,
	            r->has_dport, r->dport_neg, r->dport_lo, r->dport_hi);
	if (r->in_if[0] != '\0')
		fw_add(&o, " in %s%s", r->in_neg ? "not " : "", r->in_if);
	if (r->out_if[0] != '\0')
		fw_add(&o, " out %s%s", r->out_neg ? "not " : "", r->out_if);
	if (r->has_uid) {
		fw_add(&o, " %sfrom uid %u", r->uid_neg ? "not " : "",
		       r->uid_lo);
		if (r->uid_hi != r->uid_lo)
			fw_add(&o, "-%u", r->uid_hi);
	}
	if (r->unknown)
		fw_add(&o, " and other matches");
	else if (o.used == mark)
		fw_add(&o, " all");
	if (r->comment != NULL)
		fw_add(&o, " (\"%s\")", r->comment);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which queue a packet goes to, when there are several: a classic BPF
 * program for iptables' `-m bpf` match that hashes the flow, ports
 * included, the same in both directions.
 *
 * Why not the kernel's own choices (docs/steering.md has the long form):
 * NFQUEUE's --queue-balance hashes the two addresses and the protocol, so
 * every connection between one pair of hosts lands on one worker;
 * --queue-cpu-fanout picks by CPU, which splits a flow; HMARK hashes ports
 * but writes the whole packet mark. nft's `queue to symhash` does what is
 * wanted, and pfconf/nft.c uses it, but this kernel lacks nft's queue.
 *
 * The hash: the addresses XORed (the last 64 bits of IPv6 ones), XORed
 * with the two ports XORed, times a 32-bit odd constant, bits 16 and up,
 * modulo the number of queues. XOR makes it symmetric; the product makes
 * every input bit count (connect() picks even source ports on Linux, so
 * the ports' low bit alone would not split anything). A packet without
 * ports to read (ICMP, another protocol, an IPv6 extension header, any
 * IPv4 fragment) hashes its addresses alone: all fragments of a datagram
 * meet one worker, which knows them by their id (src/packet.c).
 * A packet too short for a load makes the program answer 0: no match, so
 * it falls to the last queue's rule, which has no program.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>

#include "spackle/steer_text.h"

#define QS_GOLDEN 0x9e3779b1u /* 2^32 / the golden ratio, odd */

struct qs_prog {
	struct sock_filter *v;
	size_t n, max;
};

static void
qs_put(struct qs_prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (p->n < p->max) {
		p->v[p->n].code = code;
		p->v[p->n].jt = jt;
		p->v[p->n].jf = jf;
		p->v[p->n].k = k;
	}
	p->n++;
}

/* A ^= the 32-bit word at off (X is clobbered). */
static void
qs_xor_word(struct qs_prog *p, uint32_t off)
{
	qs_put(p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, off);
	qs_put(p, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
}

/* The protocols with ports at the transport header's start: TCP, UDP,
 * SCTP, UDP-Lite. */
#define QS_NPROTO 4
static const uint32_t qs_protos[QS_NPROTO] = {6, 17, 132, 136};

/* Point the jump at index `at` (its jt, or its jf) to index `to`. */
static void
qs_patch(struct qs_prog *p, size_t at, bool jt, size_t to)
{
	if (at < p->n && at < p->max) {
		if (jt)
			p->v[at].jt = (uint8_t)(to - at - 1);
		else
			p->v[at].jf = (uint8_t)(to - at - 1);
	}
}

int
steer_queue_filter(int family, unsigned queues, unsigned which,
                   struct sock_filter *out, size_t max)
{
	struct qs_prog p = {out, 0, max};
	size_t frag = 0, proto, ports, noports, i;

	if ((family != AF_INET && family != AF_INET6) || queues < 2 ||
	    which >= queues)
		return -EINVAL;
	if (family == AF_INET) {
		/* M[0] = saddr ^ daddr. */
		qs_put(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, 12);
		qs_xor_word(&p, 16);
		qs_put(&p, BPF_ST, 0, 0, 0);
		/* Any fragment (MF or an offset): no ports. */
		qs_put(&p, BPF_LD | BPF_H | BPF_ABS, 0, 0, 6);
		frag = p.n;
		qs_put(&p, BPF_JMP | BPF_JSET | BPF_K, 0, 0, 0x3fff);
		qs_put(&p, BPF_LD | BPF_B | BPF_ABS, 0, 0, 9);
	} else {
		/* M[0] = the interface identifiers (words 2 and 3 of each
		 * address) XORed. */
		qs_put(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, 16);
		qs_xor_word(&p, 20);
		qs_xor_word(&p, 32);
		qs_xor_word(&p, 36);
		qs_put(&p, BPF_ST, 0, 0, 0);
		qs_put(&p, BPF_LD | BPF_B | BPF_ABS, 0, 0, 6);
	}
	proto = p.n;
	for (i = 0; i < QS_NPROTO; i++)
		qs_put(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, qs_protos[i]);
	ports = p.n;
	if (family == AF_INET) {
		qs_put(&p, BPF_LDX | BPF_B | BPF_MSH, 0, 0, 0);
		qs_put(&p, BPF_LD | BPF_H | BPF_IND, 0, 0, 0);
		qs_put(&p, BPF_ST, 0, 0, 1);
		qs_put(&p, BPF_LD | BPF_H | BPF_IND, 0, 0, 2);
	} else {
		qs_put(&p, BPF_LD | BPF_H | BPF_ABS, 0, 0, 40);
		qs_put(&p, BPF_ST, 0, 0, 1);
		qs_put(&p, BPF_LD | BPF_H | BPF_ABS, 0, 0, 42);
	}
	/* A = dport ^ sport ^ M[0], on to the mix. */
	qs_put(&p, BPF_LDX | BPF_MEM, 0, 0, 1);
	qs_put(&p, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
	qs_put(&p, BPF_LDX | BPF_MEM, 0, 0, 0);
	qs_put(&p, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
	qs_put(&p, BPF_JMP | BPF_JA, 0, 0, 1);
	/* No ports: the addresses alone. */
	noports = p.n;
	qs_put(&p, BPF_LD | BPF_MEM, 0, 0, 0);
	/* The mix, and this queue or not. */
	qs_put(&p, BPF_ALU | BPF_MUL | BPF_K, 0, 0, QS_GOLDEN);
	qs_put(&p, BPF_ALU | BPF_RSH | BPF_K, 0, 0, 16);
	qs_put(&p, BPF_ALU | BPF_MOD | BPF_K, 0, 0, queues);
	qs_put(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, which);
	qs_put(&p, BPF_RET | BPF_K, 0, 0, 1);
	qs_put(&p, BPF_RET | BPF_K, 0, 0, 0);
	if (p.n > max)
		return -ENOSPC;
	if (family == AF_INET)
		qs_patch(&p, frag, true, noports);
	for (i = 0; i < QS_NPROTO; i++)
		qs_patch(&p, proto + i, true, ports);
	qs_patch(&p, proto + QS_NPROTO - 1, false, noports);
	return (int)p.n;
}

int
steer_queue_bytecode(int family, unsigned queues, unsigned which, FILE *out)
{
	struct sock_filter v[STEER_QUEUE_FILTER_MAX];
	int n, i;

	n = steer_queue_filter(family, queues, which, v,
	                       STEER_QUEUE_FILTER_MAX);
	if (n < 0)
		return n;
	/* As iptables-save prints xt_bpf's: "N,code jt jf k,...". */
	fprintf(out, "\"%d", n);
	for (i = 0; i < n; i++)
		fprintf(out, ",%u %u %u %u", v[i].code, v[i].jt, v[i].jf,
		        v[i].k);
	fputc('"', out);
	return 0;
}

/*
 * Conntrack's events, split the same way (steer_text.h). A ctnetlink
 * message is a netlink header and nfgenmsg (20 bytes), then attributes;
 * the tuple's fields are nested two deep, so the program finds them with
 * the kernel's netlink extensions: SKF_AD_NLATTR (A: where attributes
 * start, X: the type wanted; A becomes the attribute's offset, or 0) and
 * SKF_AD_NLATTR_NEST (A: a nest's offset, X: the type wanted). A field's
 * value is 4 bytes past its attribute's offset.
 */
#define CT_MSG_ATTRS 20 /* struct nlmsghdr + struct nfgenmsg */
enum {
	CT_TUPLE_ORIG = 1,
	CT_TUPLE_REPLY = 2,
	CT_TUPLE_IP = 1,
	CT_TUPLE_PROTO = 2,
	CT_IP_V4_SRC = 1,
	CT_IP_V4_DST = 2,
	CT_IP_V6_SRC = 3,
	CT_IP_V6_DST = 4,
	CT_PROTO_NUM = 1,
	CT_PROTO_SRC_PORT = 2,
	CT_PROTO_DST_PORT = 3,
};

/*
 * Jumps to labels, resolved once the program is whole. Labels: accept,
 * drop, and a set per tuple (ct_tuple_hash()'s lb + CT_L_...).
 */
#define CT_LABELS 16
#define CT_FIXUPS 64
struct ct_asm {
	struct qs_prog p;
	size_t label[CT_LABELS];
	struct {
		size_t at;
		bool jt;
		unsigned label;
	} fix[CT_FIXUPS];
	size_t nfix;
	bool bad;
};

enum { CT_ACCEPT, CT_DROP, CT_ORIG_LB, CT_REPLY_LB = CT_ORIG_LB + 5 };
enum { CT_L_V6, CT_L_PROTO, CT_L_PORTS, CT_L_NOPORTS, CT_L_MIX };
#define CT_NONE (~0u)

static void
ct_label(struct ct_asm *a, unsigned l)
{
	a->label[l] = a->p.n;
}

/* A conditional jump: to label jt when true, jf when false (CT_NONE: on
 * to the next instruction). Both the same label: a jump always taken. */
static void
ct_jump(struct ct_asm *a, uint32_t k, unsigned jt, unsigned jf)
{
	if (a->nfix + 2 > CT_FIXUPS) {
		a->bad = true;
		return;
	}
	if (jt != CT_NONE) {
		a->fix[a->nfix].at = a->p.n;
		a->fix[a->nfix].jt = true;
		a->fix[a->nfix++].label = jt;
	}
	if (jf != CT_NONE) {
		a->fix[a->nfix].at = a->p.n;
		a->fix[a->nfix].jt = false;
		a->fix[a->nfix++].label = jf;
	}
	qs_put(&a->p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, k);
}

/* A = the offset of attribute `type` in the nest at X; 0: to `none`. */
static void
ct_nested(struct ct_asm *a, uint32_t type, unsigned none)
{
	qs_put(&a->p, BPF_MISC | BPF_TXA, 0, 0, 0);
	qs_put(&a->p, BPF_LDX | BPF_IMM, 0, 0, type);
	qs_put(&a->p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
	       (uint32_t)(SKF_AD_OFF + SKF_AD_NLATTR_NEST));
	ct_jump(a, 0, none, CT_NONE);
}

/* A = M[5] ^ the word at X + off (X is clobbered). */
static void
ct_xor_at(struct ct_asm *a, uint32_t off)
{
	qs_put(&a->p, BPF_LD | BPF_W | BPF_IND, 0, 0, off);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 5);
	qs_put(&a->p, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
}

/*
 * One tuple, the original or the reply one: on to CT_ACCEPT when its flow
 * hashes to `which`, else to `next`. Scratch: M[0] the addresses' mix,
 * M[1] a port, M[2] the address nest, M[3] the tuple, M[4] the protocol
 * nest, M[5] a word on its way.
 */
static void
ct_tuple_hash(struct ct_asm *a, uint32_t tuple, unsigned queues, unsigned which,
              unsigned lb, unsigned next)
{
	size_t i;

	qs_put(&a->p, BPF_LD | BPF_IMM, 0, 0, CT_MSG_ATTRS);
	qs_put(&a->p, BPF_LDX | BPF_IMM, 0, 0, tuple);
	qs_put(&a->p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
	       (uint32_t)(SKF_AD_OFF + SKF_AD_NLATTR));
	/* No original tuple: not a flow's event; keep it. */
	ct_jump(a, 0, tuple == CT_TUPLE_ORIG ? CT_ACCEPT : next, CT_NONE);
	qs_put(&a->p, BPF_ST, 0, 0, 3);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	ct_nested(a, CT_TUPLE_IP, next);
	qs_put(&a->p, BPF_ST, 0, 0, 2);
	/* IPv4: M[0] = src ^ dst. */
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	ct_nested(a, CT_IP_V4_SRC, lb + CT_L_V6);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(&a->p, BPF_LD | BPF_W | BPF_IND, 0, 0, 4);
	qs_put(&a->p, BPF_ST, 0, 0, 5);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 2);
	ct_nested(a, CT_IP_V4_DST, next);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	ct_xor_at(a, 4);
	qs_put(&a->p, BPF_ST, 0, 0, 0);
	ct_jump(a, 0, lb + CT_L_PROTO, lb + CT_L_PROTO);
	/* IPv6: M[0] = the last 64 bits of both addresses XORed. */
	ct_label(a, lb + CT_L_V6);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 2);
	ct_nested(a, CT_IP_V6_SRC, next);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(&a->p, BPF_LD | BPF_W | BPF_IND, 0, 0, 4 + 8);
	qs_put(&a->p, BPF_ST, 0, 0, 5);
	ct_xor_at(a, 4 + 12);
	qs_put(&a->p, BPF_ST, 0, 0, 0);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 2);
	ct_nested(a, CT_IP_V6_DST, next);
	qs_put(&a->p, BPF_ST, 0, 0, 2); /* the address nest is done with */
	qs_put(&a->p, BPF_LD | BPF_MEM, 0, 0, 0);
	qs_put(&a->p, BPF_ST, 0, 0, 5);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 2);
	ct_xor_at(a, 4 + 8);
	qs_put(&a->p, BPF_ST, 0, 0, 5);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 2);
	ct_xor_at(a, 4 + 12);
	qs_put(&a->p, BPF_ST, 0, 0, 0);
	/* The protocol: ports for those the packet program reads them of. */
	ct_label(a, lb + CT_L_PROTO);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 3);
	ct_nested(a, CT_TUPLE_PROTO, lb + CT_L_NOPORTS);
	qs_put(&a->p, BPF_ST, 0, 0, 4);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	ct_nested(a, CT_PROTO_NUM, lb + CT_L_NOPORTS);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(&a->p, BPF_LD | BPF_B | BPF_IND, 0, 0, 4);
	for (i = 0; i < QS_NPROTO; i++)
		ct_jump(a, qs_protos[i], lb + CT_L_PORTS,
		        i + 1 == QS_NPROTO ? lb + CT_L_NOPORTS : CT_NONE);
	ct_label(a, lb + CT_L_PORTS);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 4);
	ct_nested(a, CT_PROTO_SRC_PORT, lb + CT_L_NOPORTS);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(&a->p, BPF_LD | BPF_H | BPF_IND, 0, 0, 4);
	qs_put(&a->p, BPF_ST, 0, 0, 1);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 4);
	ct_nested(a, CT_PROTO_DST_PORT, lb + CT_L_NOPORTS);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(&a->p, BPF_LD | BPF_H | BPF_IND, 0, 0, 4);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 1);
	qs_put(&a->p, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 0);
	qs_put(&a->p, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
	ct_jump(a, 0, lb + CT_L_MIX, lb + CT_L_MIX);
	ct_label(a, lb + CT_L_NOPORTS);
	qs_put(&a->p, BPF_LD | BPF_MEM, 0, 0, 0);
	/* The mix, as the packet program's. */
	ct_label(a, lb + CT_L_MIX);
	qs_put(&a->p, BPF_ALU | BPF_MUL | BPF_K, 0, 0, QS_GOLDEN);
	qs_put(&a->p, BPF_ALU | BPF_RSH | BPF_K, 0, 0, 16);
	qs_put(&a->p, BPF_ALU | BPF_MOD | BPF_K, 0, 0, queues);
	ct_jump(a, which, CT_ACCEPT, next);
}

/* The DNS queue's: TCP or UDP with port 53 at either end (original
 * tuple). */
static void
ct_dns(struct ct_asm *a)
{
	qs_put(&a->p, BPF_LD | BPF_IMM, 0, 0, CT_MSG_ATTRS);
	qs_put(&a->p, BPF_LDX | BPF_IMM, 0, 0, CT_TUPLE_ORIG);
	qs_put(&a->p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
	       (uint32_t)(SKF_AD_OFF + SKF_AD_NLATTR));
	ct_jump(a, 0, CT_ACCEPT, CT_NONE);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	ct_nested(a, CT_TUPLE_PROTO, CT_DROP);
	qs_put(&a->p, BPF_ST, 0, 0, 4);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	ct_nested(a, CT_PROTO_NUM, CT_DROP);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(&a->p, BPF_LD | BPF_B | BPF_IND, 0, 0, 4);
	ct_jump(a, 6, CT_ORIG_LB, CT_NONE);
	ct_jump(a, 17, CT_ORIG_LB, CT_DROP);
	ct_label(a, CT_ORIG_LB);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 4);
	ct_nested(a, CT_PROTO_SRC_PORT, CT_DROP);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(&a->p, BPF_LD | BPF_H | BPF_IND, 0, 0, 4);
	ct_jump(a, 53, CT_ACCEPT, CT_NONE);
	qs_put(&a->p, BPF_LDX | BPF_MEM, 0, 0, 4);
	ct_nested(a, CT_PROTO_DST_PORT, CT_DROP);
	qs_put(&a->p, BPF_MISC | BPF_TAX, 0, 0, 0);
	qs_put(&a->p, BPF_LD | BPF_H | BPF_IND, 0, 0, 4);
	ct_jump(a, 53, CT_ACCEPT, CT_DROP);
}

int
steer_ct_event_filter(unsigned queues, unsigned which, struct sock_filter *out,
                      size_t max)
{
	struct ct_asm a;
	size_t i, to;

	if (which != STEER_CT_DNS && (queues < 2 || which >= queues))
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.p = (struct qs_prog){out, 0, max};
	if (which == STEER_CT_DNS) {
		ct_dns(&a);
	} else {
		ct_tuple_hash(&a, CT_TUPLE_ORIG, queues, which, CT_ORIG_LB,
		              CT_REPLY_LB + CT_L_MIX + 1);
		ct_label(&a, CT_REPLY_LB + CT_L_MIX + 1);
		ct_tuple_hash(&a, CT_TUPLE_REPLY, queues, which, CT_REPLY_LB,
		              CT_DROP);
	}
	ct_label(&a, CT_DROP);
	qs_put(&a.p, BPF_RET | BPF_K, 0, 0, 0);
	ct_label(&a, CT_ACCEPT);
	qs_put(&a.p, BPF_RET | BPF_K, 0, 0, 0xffffffffu);
	if (a.bad || a.p.n > max)
		return -ENOSPC;
	for (i = 0; i < a.nfix; i++) {
		to = a.label[a.fix[i].label];
		if (to <= a.fix[i].at || to - a.fix[i].at - 1 > 255)
			return -ENOSPC;
		qs_patch(&a.p, a.fix[i].at, a.fix[i].jt, to);
	}
	return (int)a.p.n;
}

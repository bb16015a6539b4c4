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

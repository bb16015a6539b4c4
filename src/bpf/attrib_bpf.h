/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the attribution eBPF program (attrib.bpf.c) records per socket, shared
 * by the program and its loader (src/proc_bpf.c). */
#ifndef SPACKLE_ATTRIB_BPF_H
#define SPACKLE_ATTRIB_BPF_H

/* Sockets remembered at once; the least recently used goes first. */
#define ATTRIB_BPF_SOCKS_MAX 262144
#define ATTRIB_BPF_COMM_LEN  16

/*
 * The map's value, keyed by the socket cookie (a __u64, as sock_diag's
 * idiag_cookie gives it): who created the socket, and when. The includer
 * has the __u32/__u64 types (vmlinux.h in the program, linux/types.h in
 * the loader).
 */
struct attrib_bpf_owner {
	__u32 tgid;       /* the process */
	__u32 pid;        /* the thread that called socket() */
	__u32 uid, gid;   /* its uid and gid then */
	__u64 created_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	char comm[ATTRIB_BPF_COMM_LEN];
};

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the attribution eBPF program (attrib.bpf.c) records per socket, shared
 * by the program and its loader (src/proc_bpf.c). */
#ifndef SPACKLE_ATTRIB_BPF_H
#define SPACKLE_ATTRIB_BPF_H

/* Sockets remembered at once; the least recently used goes first. */
#define ATTRIB_BPF_SOCKS_MAX 262144
/* TCP connections remembered by their addresses and ports, the least
 * recently used going first: an entry is needed only until the daemon
 * looks the connection's first packet up, a few ms after the connect. */
#define ATTRIB_BPF_CONNS_MAX 65536
#define ATTRIB_BPF_COMM_LEN  16
/*
 * Execs and forks by pid: slot pid % ATTRIB_BPF_PROCS of the map `procs`
 * (an array of __u64, mapped read-only by the daemon) counts every exec
 * and fork of a pid of that slot, as it happens, before the new program
 * or process runs. An exe read for a process is still its exe while its
 * slot's count has not moved (docs/attribution.md, "The exe cache").
 */
#define ATTRIB_BPF_PROCS 65536

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

/*
 * The key of the connections map: a TCP connection this host opened, as
 * its first packet leaves. Addresses as struct sp_addr holds them (IPv4
 * as ::ffff:a.b.c.d), ports in host order, and the network namespace's
 * cookie (SO_NETNS_COOKIE): the same addresses and ports may be in use in
 * another namespace. Every byte is set (no padding), so a key made here
 * and one made by the loader compare equal.
 */
struct attrib_bpf_conn {
	__u64 netns;
	__u8 local[16];
	__u8 remote[16];
	__u16 lport, rport;
	__u32 zero;
};

#endif

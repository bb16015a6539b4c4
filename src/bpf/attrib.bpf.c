/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attribution without scanning: every TCP and UDP socket a process creates,
 * by its socket cookie -> the process (docs/attribution.md, "The bpf
 * method"). Compiled with clang -target bpf; loaded by src/proc_bpf.c. */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "attrib_bpf.h"

#define SP_AF_INET     2
#define SP_AF_INET6    10
#define SP_IPPROTO_TCP 6
#define SP_IPPROTO_UDP 17

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ATTRIB_BPF_SOCKS_MAX);
	__type(key, __u64);
	__type(value, struct attrib_bpf_owner);
} owners SEC(".maps");

static __always_inline int
wanted(const struct bpf_sock *sk)
{
	if (sk->family != SP_AF_INET && sk->family != SP_AF_INET6)
		return 0;
	return sk->protocol == SP_IPPROTO_TCP || sk->protocol == SP_IPPROTO_UDP;
}

/*
 * inet_create()/inet6_create() run this for every socket a process makes
 * (not for the kernel's own, nor for accepted ones: those are clones of
 * their listener). Always 1: the socket is allowed, whatever happens here.
 */
SEC("cgroup/sock_create")
int
attrib_sock_create(struct bpf_sock *sk)
{
	struct attrib_bpf_owner o = {};
	__u64 cookie, id;

	if (!wanted(sk))
		return 1;
	cookie = bpf_get_socket_cookie(sk);
	id = bpf_get_current_pid_tgid();
	o.tgid = (__u32)(id >> 32);
	o.pid = (__u32)id;
	id = bpf_get_current_uid_gid();
	o.uid = (__u32)id;
	o.gid = (__u32)(id >> 32);
	o.created_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(o.comm, sizeof(o.comm));
	bpf_map_update_elem(&owners, &cookie, &o, BPF_ANY);
	return 1;
}

/* inet_release(): the socket's last file is closed. */
SEC("cgroup/sock_release")
int
attrib_sock_release(struct bpf_sock *sk)
{
	__u64 cookie;

	if (!wanted(sk))
		return 1;
	cookie = bpf_get_socket_cookie(sk);
	bpf_map_delete_elem(&owners, &cookie);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attribution without scanning: every TCP and UDP socket a process creates,
 * by its socket cookie -> the process, and every TCP connection it opens,
 * by its addresses and ports -> the same (docs/attribution.md, "The bpf
 * method"). Compiled with clang -target bpf; loaded by src/proc_bpf.c. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ATTRIB_BPF_CONNS_MAX);
	__type(key, struct attrib_bpf_conn);
	__type(value, struct attrib_bpf_owner);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, ATTRIB_BPF_PROCS);
	__type(key, __u32);
	__type(value, __u64);
} procs SEC(".maps");

/* An IPv4 address (network order) as ::ffff:a.b.c.d. */
static __always_inline void
v4_mapped(__u8 out[16], __u32 a)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &a, 4);
}

static __always_inline void
v6_copy(__u8 out[16], __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	__builtin_memcpy(out, &w0, 4);
	__builtin_memcpy(out + 4, &w1, 4);
	__builtin_memcpy(out + 8, &w2, 4);
	__builtin_memcpy(out + 12, &w3, 4);
}

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

/* A TCP connection's key, from its sock_ops context; 0 when it is not IPv4
 * or IPv6. */
static __always_inline int
conn_key(struct bpf_sock_ops *ops, struct attrib_bpf_conn *k)
{
	if (ops->family == SP_AF_INET) {
		v4_mapped(k->local, ops->local_ip4);
		v4_mapped(k->remote, ops->remote_ip4);
	} else if (ops->family == SP_AF_INET6) {
		v6_copy(k->local, ops->local_ip6[0], ops->local_ip6[1],
		        ops->local_ip6[2], ops->local_ip6[3]);
		v6_copy(k->remote, ops->remote_ip6[0], ops->remote_ip6[1],
		        ops->remote_ip6[2], ops->remote_ip6[3]);
	} else {
		return 0;
	}
	k->netns = bpf_get_netns_cookie(ops);
	k->lport = (__u16)ops->local_port;
	/* remote_port: network order, in the upper half on little endian */
	k->rport = (__u16)bpf_ntohl(ops->remote_port);
	return 1;
}

/*
 * tcp_connect(), as the SYN is about to be sent (the local port chosen):
 * the connection's addresses and ports -> its socket's creator, so that
 * the daemon finds the owner of an outgoing connection in one lookup,
 * without asking sock_diag for the socket first; and the state changes of
 * the socket asked for. When it closes (TCP_CLOSE: reset, or handed to a
 * TIME_WAIT socket), the connection leaves the map: a later connection
 * with the same addresses and ports (accepted, say) is not this one.
 * Always 1.
 */
SEC("sockops")
int
attrib_connect(struct bpf_sock_ops *ops)
{
	struct attrib_bpf_conn k = {};
	struct attrib_bpf_owner *o;
	__u64 cookie;

	if (ops->op == BPF_SOCK_OPS_STATE_CB) {
		if (ops->args[1] == BPF_TCP_CLOSE && conn_key(ops, &k))
			bpf_map_delete_elem(&conns, &k);
		return 1;
	}
	if (ops->op != BPF_SOCK_OPS_TCP_CONNECT_CB)
		return 1;
	cookie = bpf_get_socket_cookie(ops);
	if ((o = bpf_map_lookup_elem(&owners, &cookie)) == NULL ||
	    !conn_key(ops, &k))
		return 1;
	bpf_map_update_elem(&conns, &k, o, BPF_ANY);
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
	                                       BPF_SOCK_OPS_STATE_CB_FLAG);
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

/* One more exec or fork in pid's slot of `procs`. */
static __always_inline void
proc_moved(__u32 pid)
{
	__u32 slot = pid % ATTRIB_BPF_PROCS;
	__u64 *n = bpf_map_lookup_elem(&procs, &slot);

	if (n != NULL)
		__sync_fetch_and_add(n, 1);
}

/*
 * Raw tracepoints, attached by name: no tracefs needed (a daemon started
 * by `ip netns exec` sees a /sys of its own, without it).
 *
 * exec(): the new program is in place and has not run yet; the current
 * task is the process (the thread that called exec took the leader's id).
 */
SEC("raw_tp/sched_process_exec")
int
attrib_exec(struct bpf_raw_tracepoint_args *ctx)
{
	(void)ctx;
	proc_moved((__u32)(bpf_get_current_pid_tgid() >> 32));
	return 0;
}

/* fork() or clone(): the child (args[1]) exists and has not run yet. A new
 * thread's id counts in a slot too (the slot's process, if any, is read
 * again). */
SEC("raw_tp/sched_process_fork")
int
attrib_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx->args[1];

	proc_moved((__u32)BPF_CORE_READ(child, pid));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

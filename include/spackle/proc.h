/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Process attribution: which process owns a flow's local socket (Linux). */
#ifndef SPACKLE_PROC_H
#define SPACKLE_PROC_H

#include "spackle/spackle.h"

/*
 * How it works (docs/attribution.md says more):
 *
 *  1. sock_diag (NETLINK_SOCK_DIAG, one inet_diag_req_v2 by exact 5-tuple,
 *     TCP or UDP, IPv4 or IPv6) finds the socket: its inode and owner uid.
 *     TCP finds a connecting socket (SYN_SENT) or, for a new inbound
 *     connection, the listening socket; UDP finds a connected socket or an
 *     unconnected one bound to the local port, then tries the wildcard.
 *  1b. With the eBPF method (PROC_ATTRIB_BPF, AUTO), the socket's cookie
 *     from step 1 is looked up in a map that a program on the cgroup v2
 *     root's sock_create hook fills with each socket's creating process:
 *     one bpf(2) call, no scan. A miss (a socket made before the program
 *     was loaded, its creator exited) goes on to step 2.
 *  2. The inode leads to a process through a cache of socket inode ->
 *     processes, filled by every /proc/PID/fd read; on a miss, a targeted
 *     scan reads the fd tables of likely processes first (just started,
 *     same user, recent owners), never all of /proc per packet, within the
 *     lookup's deadline.
 *  3. The process cache (pid -> exe, cmdline, ppid, uid, gid) is kept fresh
 *     by the proc connector (NETLINK_CONNECTOR, CN_IDX_PROC): a main thread
 *     takes every event and records each exit with its time; an exec reader
 *     per CPU (pinned, SCHED_FIFO) reads a new program's exe, status and
 *     cmdline before it runs, so even one that exits at once is known.
 *  4. A socket that is already gone (a program that sent one datagram and
 *     exited at once) is attributed to the processes of the socket's user
 *     and group that exited between the packet's sending and the lookup,
 *     when there are some and they all ran one executable
 *     (PROC_HOW_EXITED); else unknown. An inference: docs/attribution.md
 *     says when it can be wrong.
 *
 * Thread safety: one struct proc is shared; each thread that looks up
 * owns a struct proc_query (its own netlink socket). Caches sit behind one
 * mutex that is never held across a system call other than the clock.
 */

#define PROC_CMDLINE_MAX        1024
#define PROC_TIMEOUT_DEFAULT_MS 50
#define PROC_PROCS_DEFAULT      32768  /* processes cached */
#define PROC_SOCKS_DEFAULT      131072 /* socket inodes cached */
#define PROC_HOLDERS_MAX        8      /* holders remembered per socket */
/* An exited process stays in the cache this long (its flows may be
 * decided after it exits). */
#define PROC_EXITED_KEEP_NS (10ull * 1000000000ull)
/* After a socket was found gone, wait this long for its process's exit
 * event, and again until one came or PROC_EXIT_WAIT_MAX_NS passed (within
 * the lookup's deadline). */
#define PROC_EXIT_WAIT_NS     (2ull * 1000000ull)
#define PROC_EXIT_WAIT_MAX_NS (20ull * 1000000ull)

enum proc_how {
	PROC_HOW_NONE = 0, /* not looked up (no TCP/UDP socket to find) */
	PROC_HOW_SOCKET,   /* socket found, and a process that holds it */
	PROC_HOW_EXITED,   /* socket gone (or unheld): the one process of its
	                      user that exited meanwhile */
	PROC_HOW_UNKNOWN,  /* no owner found; uid may still be known */
	PROC_HOW_TIMEOUT,  /* the deadline passed first */
};

/* A flow's local socket, as the first packet shows it. */
struct proc_flow {
	uint8_t proto; /* SP_PROTO_TCP or SP_PROTO_UDP; others: none */
	struct sp_addr local, remote;
	uint16_t lport, rport;
	/* The socket's owner as the divert saw it (NFQA_UID/GID: the socket
	 * file's fsuid/fsgid when the packet was sent), UINT32_MAX unknown. */
	uint32_t uid_hint, gid_hint;
	/* CLOCK_MONOTONIC ns: the packet was sent after this (the last time
	 * its queue was seen empty); 0 unknown, which turns off step 4. */
	uint64_t sent_after_ns;
	/* The flow's first packet came in from the network (a connection this
	 * host accepts): the eBPF connections map, which holds connections
	 * this host made, is not asked. False: sent here, or not known. */
	bool inbound;
};

struct proc_owner {
	enum proc_how how;
	int32_t pid, ppid; /* -1 unknown */
	uint32_t uid;      /* the socket's owner (sock_diag), else the
	                      process's fsuid, else the hint; UINT32_MAX */
	uint32_t nprocs;   /* processes seen holding the socket, 0 unknown */
	uint64_t inode;    /* the socket's inode, 0 unknown */
	uint64_t took_ns;  /* how long the lookup took */
	const char *why;   /* UNKNOWN, TIMEOUT: why, for a person; static */
	char exe[SP_PATH_MAX];          /* /proc/PID/exe target, "" unknown */
	char cmdline[PROC_CMDLINE_MAX]; /* argv joined by spaces, "" unknown */
};

/* How a socket leads to its process (config key `attribution`). */
enum proc_attrib_method {
	PROC_ATTRIB_PROC = 0, /* fd tables and the proc connector only */
	PROC_ATTRIB_AUTO,     /* the eBPF map when it loads, else as PROC */
	PROC_ATTRIB_BPF,      /* the eBPF map; proc_new() fails without it */
};

struct proc_config {
	unsigned timeout_ms; /* deadline of one lookup; 0: the default */
	/* AUTO and BPF load the eBPF program in proc_new() (CAP_BPF and
	 * CAP_NET_ADMIN, a cgroup2 mount); lookups work on without them. */
	enum proc_attrib_method method;
	bool events;       /* run the proc connector thread */
	bool initial_scan; /* read all of /proc once at start */
	bool infer_exited; /* step 4 (needs events) */
	bool deferred;     /* threads and scan wait for proc_start() */
	size_t procs_max, socks_max; /* 0: the defaults */
};

struct proc_stats {
	uint64_t lookups;
	uint64_t took_ns;                          /* all lookups together */
	uint64_t found, exited, unknown, timeouts; /* by outcome */
	uint64_t no_socket;                        /* sock_diag found none */
	uint64_t sock_hits, sock_misses;           /* inode cache */
	uint64_t scans;                            /* targeted scans (misses) */
	uint64_t scanned_procs, scanned_fds;
	uint64_t fd_guesses;      /* scans that a guessed fd ended (docs) */
	uint64_t infer_ambiguous; /* gone, and not exactly one exit */
	uint64_t events, events_lost, execs, exits;
	uint64_t own_exits;       /* exits of this process's own children
	                             (its firewall reads), among exits */
	uint64_t exec_missed;     /* gone before its exe could be read */
	uint64_t exec_by_main;    /* read by the main connector thread, its
	                             CPU's exec reader being behind */
	uint64_t exec_lag_max_ns; /* longest from an exec to reading its exe */
	uint64_t procs, socks;    /* cache entries now */
	uint64_t socks_flushed;   /* the inode cache filled up */
	uint64_t bpf_hits;        /* owners found by the eBPF map */
	uint64_t bpf_misses;      /* sockets it did not know (or stale) */
	uint64_t bpf_conn_hits;   /* TCP connections found by the connections
	                             map, sock_diag not asked */
	uint64_t exe_cached;      /* owners whose exe came from the cache, no
	                             exec or fork of the pid since it was read */
	bool events_on;
	bool bpf_on;    /* the eBPF method is in use */
	bool exe_cache; /* its exec and fork counts keep an exe cache */
};

struct proc;
struct proc_query;

/*
 * Start attribution: the caches, the initial scan and the proc connector
 * thread, as cfg asks. The connector lives in the initial network
 * namespace: from another one it is reached through /proc/1/ns/net (needs
 * CAP_SYS_ADMIN); without it, events_on is false and step 4 is off. Returns
 * 0, or -1 with a message in err (events failing alone is not an error:
 * see proc_stats().events_on and err holds a warning, "" when none).
 */
int proc_new(struct proc **out, const struct proc_config *cfg, char *err,
             size_t errlen);

/*
 * With cfg->deferred, proc_new() only opens the connector (which may need
 * CAP_SYS_ADMIN to reach the initial namespace); this starts its threads
 * and the initial scan, so a daemon can drop its privileges in between.
 * err as for proc_new().
 */
void proc_start(struct proc *p, char *err, size_t errlen);
void proc_free(struct proc *p);

/* One per thread that calls proc_lookup(); NULL with err on failure. */
struct proc_query *proc_query_new(struct proc *p, char *err, size_t errlen);
void proc_query_free(struct proc_query *q);

/*
 * Who owns fl's local socket. Never takes longer than the timeout (plus
 * one system call): past it the answer is PROC_HOW_TIMEOUT with what was
 * known by then (uid, inode). out is always filled.
 */
enum proc_how proc_lookup(struct proc_query *q, const struct proc_flow *fl,
                          struct proc_owner *out);

void proc_stats(struct proc *p, struct proc_stats *st);

/*
 * fn(arg) after each exit the connector reads of a process that is not
 * this one's own child: from the connector's thread, under the cache's
 * lock, so it must be short and call no proc_* function (a daemon wakes
 * its workers with it). NULL turns it off; once this returns, fn runs no
 * more.
 */
void proc_on_exit(struct proc *p, void (*fn)(void *arg), void *arg);

/*
 * The method in use, for a person: "bpf (cgroup sock_create)", or "proc
 * connector (bpf: REASON)" (REASON: why not; "attribution = proc" when not
 * asked for). Set in proc_new(); proc_start() turns the map off (with a
 * warning in its err) when a privilege drop took the right to read it.
 */
const char *proc_method(const struct proc *p);
/* Why the eBPF method runs without its exe cache (the exe of a known
 * process read at every lookup), or NULL: the cache is on, or the method
 * is not bpf. */
const char *proc_exe_cache_off(const struct proc *p);

/*
 * Has process pid exited (an exit event seen, and no fork has reused the
 * pid since)? Lock-free, for the data path: a flow whose owner is gone
 * and that shows a new packet from this host is a new socket on the same
 * ports. False when events are off or unknown.
 */
bool proc_pid_exited(struct proc *p, int32_t pid);
const char *proc_how_name(enum proc_how how);

/* ---- the pieces, for tests and bench/attrib ----------------------------- */

/*
 * Step 1 alone: 0 and *inode, *uid when found; -ENOENT when there is no
 * such socket; -ETIMEDOUT past deadline_ns (CLOCK_MONOTONIC); -errno.
 */
int proc_sock_find(struct proc_query *q, const struct proc_flow *fl,
                   uint64_t deadline_ns, uint64_t *inode, uint32_t *uid);

/* exe, cmdline, ppid and fsuid of pid read from /proc now; 0 or -errno
 * (-ENOENT: no such process). Fields it cannot read stay unknown. */
int proc_read_process(int32_t pid, struct proc_owner *out);

/* Does pid hold a socket with this inode? 1 yes, 0 no, -errno. */
int proc_pid_holds(int32_t pid, uint64_t inode);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Process attribution's insides: what src/proc*.c share, and nobody else. */
#ifndef SPACKLE_PROC_INT_H
#define SPACKLE_PROC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spackle/proc.h"

/*
 * The files, each calling only those below it (never one above, never
 * round a circle):
 *
 *   proc.c            set-up, and the lookup through steps 1 to 4
 *   proc_exited.c     step 4: a socket already gone
 *   proc_connector.c  step 3: process events keep the process cache fresh
 *   proc_scan.c       fd tables into the caches: all of /proc, or the
 *                     candidates for one socket (steps 2 and 3)
 *   proc_diag.c       step 1: sock_diag
 *   proc_bpf.c        the eBPF map of socket cookie -> creator (before 2)
 *   proc_cache.c      processes, socket inodes and their holders, exits
 *   proc_read.c       reading /proc
 *
 * proc_cache.c, proc_diag.c, proc_bpf.c and proc_read.c call none of the
 * others.
 */

#define NS_PER_MS          1000000ull
#define NS_PER_S           1000000000ull
#define PROC_RECENT        64   /* processes that forked or exec'd lately */
#define PROC_ACTIVE        64   /* processes found owning sockets lately */
#define PROC_EXITS         1024 /* exits remembered, with their times */
#define PROC_FOUND         512  /* socket inodes recorded per fd table read */
#define PROC_FDS_MAX       (1 << 20) /* fds read per process at most */
#define PROC_FDS_KEPT      (1 << 16) /* fd numbers kept per process */
#define PROC_SOCKFDS       8 /* fds where a process held sockets, to try first */
#define PROC_GUESS_OWNERS  4  /* latest socket owners guessed at first */
#define PROC_KIN_MAX       16 /* relatives read to count a socket's holders */
#define PROC_CN_BUF        16384
#define PROC_TCP_TIME_WAIT 6
#define PROC_TCP_LISTEN    10
#define PROC_CPUS_MAX      1024 /* CPUs that may have an exec reader */
#define PROC_READERS_MAX   256

/* One process (thread group). */
struct pentry {
	int32_t tgid; /* 0: empty slot */
	int32_t ppid;
	uint32_t uid, gid; /* fsuid, fsgid; UINT32_MAX unknown */
	uint32_t gen;      /* which incarnation of this pid */
	uint32_t nfds;     /* open fds when last read, 0 unknown */
	int *fdv;          /* which (descending), NULL unknown */
	uint32_t dense_ix; /* where in proc.dense */
	uint64_t start_ns; /* fork/exec seen (CLOCK_MONOTONIC), 0: by a scan */
	uint64_t exec_ns;  /* the last exec applied */
	uint64_t exit_ns;  /* exit seen, 0 while alive */
	char *exe, *cmdline;
	/* The count of its slot in the eBPF map `procs` (execs and forks)
	 * when exe was read; exe_seq_ok false when exe came another way. */
	uint64_t exe_seq;
	bool exe_seq_ok;
	/* fds (ascending) where sockets were found: a closed socket's number
	 * is the one a new socket most often gets again */
	uint8_t nsockfd;
	int sockfd[PROC_SOCKFDS];
	/* where its last looked-for socket was found (-1 none): a client
	 * that closes a socket and opens the next gets this number again,
	 * however many sockets it holds below it */
	int hit_fd;
};

/* An entry as walks see it (proc.dense); proc_psync() keeps it in step. */
struct dent {
	int32_t tgid;
	uint32_t uid;
	uint32_t alive;
};

struct holder {
	int32_t tgid;
	uint32_t gen;
};

/* One socket inode and the processes seen holding it. */
struct sentry {
	uint64_t inode; /* 0: empty slot */
	uint8_t n;
	struct holder h[PROC_HOLDERS_MAX];
};

struct proc;

/* An exec reader: one connector socket that sees the execs of one CPU. */
struct cn_reader {
	struct proc *p;
	int fd;
	unsigned cpu;
	pthread_t th;
	bool started;
	/* The latest exec of its CPU that a thread took to read: this
	 * reader, or the main one when the reader is behind (cn_claim). */
	_Atomic uint64_t claimed;
};

struct exit_rec {
	int32_t tgid;
	uint32_t uid, gid;
	uint64_t ns;
};

/* A socket's creator, from the eBPF map (proc_bpf.c). */
struct proc_bpf_rec {
	int32_t tgid, tid;
	uint32_t uid, gid;
	uint64_t created_ns; /* CLOCK_MONOTONIC */
	char comm[16];
};

struct proc {
	struct proc_config cfg;
	char cnerr[256]; /* why the proc connector could not be had */
	/* The eBPF method: the loaded object (NULL when off), its map, and
	 * what status says of the method in use (set in proc_new, changed
	 * by proc_start only, before any lookup). */
	void *bpf_obj;
	int bpf_map_fd;
	int bpf_conns_fd; /* TCP connections -> creator; -1 when off */
	/* The map `procs` (execs and forks counted by pid), mapped read-only;
	 * NULL when the exe cache is off (why in exe_cache_why). */
	const uint64_t *procs_seq;
	char exe_cache_why[200];
	char method[320];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pentry *procs;
	size_t procs_mask, nprocs;
	/* Every entry's tgid, user and liveness, packed: a walk reads nprocs
	 * of these in a row, not the whole table (the lock is held). */
	struct dent *dense;
	uint32_t gen;
	struct sentry *socks;
	size_t socks_mask, nsocks;
	int32_t recent[PROC_RECENT];
	unsigned recent_n;
	int32_t active[PROC_ACTIVE];
	unsigned active_n;
	struct exit_rec exits[PROC_EXITS];
	uint64_t exits_n;
	int32_t self; /* this process: its children's exits are its own */
	/* proc_on_exit(): called under mu after another process's exit. */
	void (*exit_hook)(void *arg);
	void *exit_hook_arg;
	uint64_t idle_ns; /* the connector found its socket empty then */
	uint64_t lost_ns; /* events were lost then (0 never) */
	struct proc_stats st;
	bool inited;
	/* The connector: the main thread, and an exec reader per CPU. */
	int cn_fd;
	int wake[2]; /* pokes the main thread (proc_cn_sync) */
	int stop_fd; /* an eventfd: readable once they must stop */
	pthread_t th;
	bool th_started;
	atomic_bool stop;
	atomic_bool cn_busy; /* the main thread is applying what it read */
	uint64_t next_expire;
	struct cn_reader readers[PROC_READERS_MAX];
	unsigned nreaders;
	struct cn_reader *reader_on[PROC_CPUS_MAX]; /* by CPU, NULL: none */
	/* One bit per pid: its process exited (events only), read without
	 * the lock by proc_pid_exited() on the data path. */
	uint64_t *gone; /* __atomic_* access */
	uint32_t pid_max;
};

/* What /proc says of a new process; read before taking the lock. */
struct pinfo {
	int32_t ppid;
	uint32_t uid, gid;
	bool have_status;
	char exe[SP_PATH_MAX];
	char cmdline[PROC_CMDLINE_MAX];
};

struct proc_query {
	struct proc *p;
	int fd;
	uint32_t seq;
	/* The cookie of the network namespace the query looks in (its
	 * sock_diag socket's, SO_NETNS_COOKIE); 0 unknown. */
	uint64_t netns;
	uint32_t *mark; /* per process slot: the scan that listed it */
	uint32_t markgen;
	int32_t *cand;
	size_t ncand, capcand;
	int *known; /* a process's fds at its last read, for scan_one */
	size_t capknown;
	int pdir;          /* /proc/PID (O_PATH) of the last process read, */
	int32_t pdir_pid;  /* -1 when none; which pid, and which */
	uint32_t pdir_gen; /* incarnation of it (pentry.gen) */
	struct pinfo pi;
	uint8_t buf[8192];
};

/* ---- proc_read.c: reading /proc ------------------------------------------ */

ssize_t proc_read_small(const char *path, char *buf, size_t cap);
int proc_read_status(int32_t pid, int32_t *ppid, uint32_t *uid, uint32_t *gid);
int proc_read_exe_at(int dfd, char *buf, size_t cap);
uint64_t proc_socket_inode(const char *link, ssize_t n);
int proc_cmp_int_desc(const void *a, const void *b);
ssize_t proc_read_fds(int32_t pid, uint64_t target, uint64_t deadline,
                      const int *known, size_t nknown, uint64_t *found,
                      int *found_fd, size_t cap, size_t *nfound, bool *hit,
                      bool *cut, int **fdv, uint32_t *total);
ssize_t proc_read_fd_names(int32_t pid, int **fdv);
void proc_pinfo_read(int32_t tgid, struct pinfo *pi, bool full);
size_t proc_read_children(int32_t pid, int32_t *out, size_t cap);

/* ---- proc_cache.c: the caches (p->mu held) ------------------------------- */

void proc_gone_mark(struct proc *p, int32_t pid, bool gone);
struct pentry *proc_pget(struct proc *p, int32_t tgid);
void proc_pexpire(struct proc *p, uint64_t now, uint64_t keep);
struct pentry *proc_pnew(struct proc *p, int32_t tgid, uint64_t now);
void proc_psync(struct proc *p, const struct pentry *e);
void proc_pset_str(char **slot, const char *v);
void proc_ring_push(int32_t *ring, unsigned *n, unsigned cap, int32_t tgid);
void proc_sadd(struct proc *p, uint64_t inode, int32_t tgid);
unsigned proc_holders_live(struct proc *p, uint64_t inode, int32_t *pid);
void proc_pset_fds(struct proc *p, int32_t pid, int *fdv, uint32_t n);
void proc_pentry_fill(struct proc *p, struct pentry *e, const struct pinfo *pi);
void proc_owner_from(struct proc_owner *out, const struct pentry *e);

/* ---- proc_diag.c: step 1 ------------------------------------------------- */

int proc_diag_find(struct proc_query *q, const struct proc_flow *fl,
                   uint64_t deadline, uint64_t *inode, uint32_t *uid,
                   uint8_t *state, uint64_t *cookie);

/* ---- proc_bpf.c: the eBPF socket map ------------------------------------- */

/* Load the program and attach it to the cgroup v2 root (needs CAP_BPF and
 * CAP_NET_ADMIN, or root): 0, or -1 with the reason in why. */
int proc_bpf_open(struct proc *p, char *why, size_t whylen);
/* Lookups still allowed (after a privilege drop)? 0, or -1 with why. */
int proc_bpf_check(struct proc *p, char *why, size_t whylen);
void proc_bpf_close(struct proc *p);
/* The creator of the socket with this cookie: 1 found, 0 not, -errno. One
 * bpf(2) call on the map's fd, no lock. */
int proc_bpf_owner(struct proc *p, uint64_t cookie, struct proc_bpf_rec *out);
/* The creator of the socket of this outgoing TCP connection in network
 * namespace netns, by its addresses and ports: 1 found, 0 not, -errno. One
 * bpf(2) call, no lock, no sock_diag. */
int proc_bpf_conn(struct proc *p, uint64_t netns, const struct proc_flow *fl,
                  struct proc_bpf_rec *out);
/* The count of execs and forks in pid's slot, without a system call;
 * false when the exe cache is off. */
bool proc_bpf_seq(const struct proc *p, int32_t pid, uint64_t *out);

/* ---- proc_scan.c: steps 2 and 3 ------------------------------------------ */

void proc_scan_all(struct proc *p, bool fds, bool mark_gone);
void proc_cands_build(struct proc_query *q, uint32_t uid, bool all);
void proc_cands_more(struct proc_query *q);
void proc_cands_unknown(struct proc_query *q);
int proc_scan_cands(struct proc_query *q, size_t from, uint64_t inode,
                    uint64_t deadline, bool defer, int32_t *pid);
int proc_guess_owners(struct proc_query *q, uint64_t inode, uint32_t uid,
                      int32_t *pid);
void proc_count_kin(struct proc_query *q, int32_t pid, uint64_t inode,
                    uint64_t deadline);
int proc_q_pdir(struct proc_query *q, int32_t pid, uint32_t gen);

/* ---- proc_connector.c: process events ------------------------------------ */

int proc_cn_open(struct proc *p, char *err, size_t errlen);
void proc_cn_start(struct proc *p);
int proc_cn_sync(struct proc *p, uint64_t t, uint64_t deadline);
bool proc_cn_behind(struct proc *p);

/* ---- proc_exited.c: step 4 ----------------------------------------------- */

enum proc_how proc_infer_exited(struct proc_query *q, uint32_t uid,
                                uint32_t gid, uint64_t t_lo, uint64_t deadline,
                                struct proc_owner *out);

#endif

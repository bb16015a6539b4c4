/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Process attribution's entry points: set-up, and the lookup that takes a flow
 * through steps 1 to 4 (spackle/proc.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* asm-generic/socket.h, Linux 5.14 */
#endif

#include "proc_int.h"

static size_t
pow2_at_least(size_t n)
{
	size_t v = 16;

	while (v < n)
		v <<= 1;
	return v;
}

/* ---- set-up -----------------------------------------------------------------
 */

int
proc_new(struct proc **out, const struct proc_config *cfg, char *err,
         size_t errlen)
{
	pthread_condattr_t ca;
	struct proc *p;
	char why[256];

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	p->cfg = *cfg;
	if (p->cfg.timeout_ms == 0)
		p->cfg.timeout_ms = PROC_TIMEOUT_DEFAULT_MS;
	if (p->cfg.procs_max == 0)
		p->cfg.procs_max = PROC_PROCS_DEFAULT;
	if (p->cfg.socks_max == 0)
		p->cfg.socks_max = PROC_SOCKS_DEFAULT;
	p->cn_fd = -1;
	p->self = (int32_t)getpid();
	p->bpf_map_fd = -1;
	p->bpf_conns_fd = -1;
	p->stop_fd = -1;
	p->wake[0] = p->wake[1] = -1;
	atomic_init(&p->stop, false);
	p->procs_mask = pow2_at_least(p->cfg.procs_max * 2) - 1;
	p->socks_mask = pow2_at_least(p->cfg.socks_max * 2) - 1;
	p->procs = calloc(p->procs_mask + 1, sizeof(*p->procs));
	p->dense = calloc(p->cfg.procs_max, sizeof(*p->dense));
	p->socks = calloc(p->socks_mask + 1, sizeof(*p->socks));
	if (p->procs == NULL || p->dense == NULL || p->socks == NULL)
		goto nomem;
	if (cfg->events) {
		char buf[32];
		ssize_t n = proc_read_small("/proc/sys/kernel/pid_max", buf,
		                            sizeof(buf) - 1);
		long v = 0;

		if (n > 0) {
			buf[n] = '\0';
			v = strtol(buf, NULL, 10);
		}
		/* 4M is the kernel's limit (PID_MAX_LIMIT, 64-bit). */
		p->pid_max = v > 0 && v <= (1 << 22) ? (uint32_t)v + 1
		                                     : (1u << 22) + 1;
		p->gone = calloc((p->pid_max + 63) / 64, sizeof(*p->gone));
		if (p->gone == NULL)
			goto nomem;
	}
	/* The eBPF method now: loading it needs privileges that the daemon
	 * drops before proc_start(). */
	if (p->cfg.method == PROC_ATTRIB_PROC) {
		snprintf(p->method, sizeof(p->method),
		         "proc connector (bpf: attribution = proc)");
	} else if (proc_bpf_open(p, why, sizeof(why)) == 0) {
		snprintf(p->method, sizeof(p->method),
		         "bpf (cgroup sock_create)");
		p->st.bpf_on = true;
		p->st.exe_cache = p->procs_seq != NULL;
	} else if (p->cfg.method == PROC_ATTRIB_BPF) {
		snprintf(
		        err, errlen,
		        "attribution = bpf: the eBPF program cannot be loaded: "
		        "%s (attribution = auto or proc runs without it)",
		        why);
		proc_free(p);
		return -1;
	} else {
		snprintf(p->method, sizeof(p->method),
		         "proc connector (bpf: %s)", why);
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	p->inited = true;
	if (cfg->events && proc_cn_open(p, p->cnerr, sizeof(p->cnerr)) == 0) {
		p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->stop_fd < 0 ||
		    pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
			snprintf(p->cnerr, sizeof(p->cnerr), "eventfd/pipe: %s",
			         strerror(errno));
			close(p->cn_fd);
			p->cn_fd = -1;
		}
	}
	*out = p;
	if (!cfg->deferred)
		proc_start(p, err, errlen);
	return 0;
nomem:
	snprintf(err, errlen, "attribution: out of memory");
	proc_free(p);
	return -1;
}

void
proc_start(struct proc *p, char *err, size_t errlen)
{
	char why[256];

	if (errlen > 0)
		err[0] = '\0';
	if (p->bpf_obj != NULL && proc_bpf_check(p, why, sizeof(why)) != 0) {
		proc_bpf_close(p);
		p->st.bpf_on = false;
		p->st.exe_cache = false;
		snprintf(p->method, sizeof(p->method),
		         "proc connector (bpf: %s)", why);
		snprintf(err, errlen, "attribution: %s", p->method);
	}
	if (p->cn_fd >= 0)
		proc_cn_start(p);
	/* After the events started, so nothing started meanwhile is missed. */
	if (p->cfg.initial_scan)
		proc_scan_all(p, true, false);
	if (p->cfg.events && !p->st.events_on && errlen > 0 && err[0] == '\0')
		snprintf(err, errlen,
		         "%s; attribution goes on without process events (a "
		         "program that exits at once may stay unknown)",
		         p->cnerr);
}

void
proc_on_exit(struct proc *p, void (*fn)(void *arg), void *arg)
{
	if (p == NULL || !p->inited)
		return;
	pthread_mutex_lock(&p->mu);
	p->exit_hook = fn;
	p->exit_hook_arg = arg;
	pthread_mutex_unlock(&p->mu);
}

void
proc_free(struct proc *p)
{
	uint64_t one = 1;
	size_t i;

	if (p == NULL)
		return;
	atomic_store(&p->stop, true);
	if (p->stop_fd >= 0 && write(p->stop_fd, &one, sizeof(one)) < 0)
		(void)0; /* the poll timeout ends them anyway */
	if (p->th_started)
		pthread_join(p->th, NULL);
	for (i = 0; i < p->nreaders; i++) {
		if (p->readers[i].started)
			pthread_join(p->readers[i].th, NULL);
		close(p->readers[i].fd);
	}
	if (p->inited) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
	}
	if (p->cn_fd >= 0)
		close(p->cn_fd);
	if (p->bpf_obj != NULL)
		proc_bpf_close(p);
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	if (p->wake[0] >= 0) {
		close(p->wake[0]);
		close(p->wake[1]);
	}
	if (p->procs != NULL)
		for (i = 0; i <= p->procs_mask; i++) {
			free(p->procs[i].exe);
			free(p->procs[i].cmdline);
			free(p->procs[i].fdv);
		}
	free(p->procs);
	free(p->dense);
	free(p->socks);
	free(p->gone);
	free(p);
}

struct proc_query *
proc_query_new(struct proc *p, char *err, size_t errlen)
{
	struct proc_query *q = calloc(1, sizeof(*q));
	socklen_t len;

	if (q == NULL) {
		snprintf(err, errlen, "attribution: out of memory");
		return NULL;
	}
	q->p = p;
	q->pdir = -1;
	q->pdir_pid = -1;
	q->mark = calloc(p->cfg.procs_max, sizeof(*q->mark));
	q->capcand = p->procs_mask + 1;
	q->cand = calloc(q->capcand, sizeof(*q->cand));
	q->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	               NETLINK_SOCK_DIAG);
	if (q->mark == NULL || q->cand == NULL || q->fd < 0) {
		snprintf(err, errlen, "attribution: sock_diag socket: %s",
		         q->fd < 0 ? strerror(errno) : "out of memory");
		proc_query_free(q);
		return NULL;
	}
	/* Before Linux 5.14 there is no such option: the connections map is
	 * then not asked (q->netns 0), sock_diag and the socket map are. */
	len = sizeof(q->netns);
	if (getsockopt(q->fd, SOL_SOCKET, SO_NETNS_COOKIE, &q->netns, &len) !=
	    0)
		q->netns = 0;
	return q;
}

void
proc_query_free(struct proc_query *q)
{
	if (q == NULL)
		return;
	if (q->fd >= 0)
		close(q->fd);
	if (q->pdir >= 0)
		close(q->pdir);
	free(q->mark);
	free(q->cand);
	free(q->known);
	free(q);
}

/* ---- the lookup
 * ------------------------------------------------------------------ */

/* The cache's exe of e is current: no exec or fork in its pid's slot
 * since it was read (the eBPF program counts them as they happen, before
 * the new program or process runs). With p->mu held. */
static bool
exe_current(const struct proc *p, const struct pentry *e)
{
	uint64_t seq;

	return e->exe_seq_ok && e->exe != NULL &&
	       proc_bpf_seq(p, e->tgid, &seq) && seq == e->exe_seq;
}

/* e's exe was read between two looks at its slot that saw seq: it is the
 * exe of that count. With p->mu held. */
static void
exe_counted(const struct proc *p, struct pentry *e, bool have_seq, uint64_t seq)
{
	uint64_t now;

	e->exe_seq_ok =
	        have_seq && proc_bpf_seq(p, e->tgid, &now) && now == seq;
	e->exe_seq = seq;
}

/*
 * Fill out for holder pid. The cache knows what it runs (the exec readers
 * saw its exec, or the first scan found it). With the exe cache (the eBPF
 * method's exec and fork counts) that is all when nothing moved in the
 * pid's slot since its exe was read; else its exe is read again to be
 * sure (an exec the readers have not told yet), and when that differs or
 * the cache knows too little, all of it is read. A holder already past
 * exit_mm() has no exe to read; then the cache, once the connector has
 * read every event up to now (its exec included), says what it ran.
 */
static void
owner_fill(struct proc_query *q, int32_t pid, uint64_t deadline,
           struct proc_owner *out)
{
	struct proc *p = q->p;
	struct pinfo *pi = &q->pi;
	struct pentry *e;
	uint64_t seq = 0;
	uint32_t gen;
	bool have, have_seq;

	pthread_mutex_lock(&p->mu);
	e = proc_pget(p, pid);
	if (e != NULL && e->ppid >= 0 && e->uid != UINT32_MAX &&
	    exe_current(p, e)) {
		proc_owner_from(out, e);
		proc_ring_push(p->active, &p->active_n, PROC_ACTIVE, pid);
		p->st.exe_cached++;
		pthread_mutex_unlock(&p->mu);
		return;
	}
	gen = e != NULL ? e->gen : 0;
	pthread_mutex_unlock(&p->mu);
	/* Looked at before the exe is read: an exec after it moves it. */
	have_seq = proc_bpf_seq(p, pid, &seq);
	have = proc_read_exe_at(proc_q_pdir(q, pid, gen), pi->exe,
	                        sizeof(pi->exe)) == 0;
	pthread_mutex_lock(&p->mu);
	e = proc_pget(p, pid);
	if (have && e != NULL && e->exe != NULL && e->ppid >= 0 &&
	    e->uid != UINT32_MAX && strcmp(e->exe, pi->exe) == 0) {
		exe_counted(p, e, have_seq, seq);
		proc_owner_from(out, e);
		proc_ring_push(p->active, &p->active_n, PROC_ACTIVE, pid);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_unlock(&p->mu);
	have_seq = proc_bpf_seq(p, pid, &seq);
	proc_pinfo_read(pid, pi, true);
	if (pi->exe[0] == '\0' && p->st.events_on)
		proc_cn_sync(p, sp_now_mono(), deadline);
	pthread_mutex_lock(&p->mu);
	if ((e = proc_pget(p, pid)) == NULL && pi->have_status)
		e = proc_pnew(p, pid, sp_now_mono());
	if (e != NULL) {
		if (pi->exe[0] != '\0') {
			proc_pset_str(&e->exe, pi->exe);
			proc_pset_str(&e->cmdline, pi->cmdline);
			exe_counted(p, e, have_seq, seq);
		}
		if (pi->have_status) {
			e->ppid = pi->ppid;
			e->uid = pi->uid;
			e->gid = pi->gid;
			proc_psync(p, e);
		}
		proc_owner_from(out, e);
	} else {
		out->pid = pid;
	}
	proc_ring_push(p->active, &p->active_n, PROC_ACTIVE, pid);
	pthread_mutex_unlock(&p->mu);
}

/*
 * Does the creator the eBPF program recorded live on: not exited (an exit
 * event, or no such pid without events)? Without the lock.
 */
static bool
bpf_rec_alive(struct proc *p, const struct proc_bpf_rec *r)
{
	if (r->tgid <= 0 || proc_pid_exited(p, r->tgid))
		return false;
	return p->st.events_on || kill(r->tgid, 0) == 0 || errno != ESRCH;
}

/* And is its pid not used again since (a fork of it seen after the socket
 * was made)? With p->mu held. */
static bool
bpf_rec_fresh(struct proc *p, const struct proc_bpf_rec *r)
{
	const struct pentry *e = proc_pget(p, r->tgid);

	return e == NULL || e->start_ns <= r->created_ns;
}

/*
 * Step 1a: an outgoing TCP connection's creator from the eBPF connections
 * map, by its addresses and ports, before sock_diag is asked anything.
 * The socket's inode is not known then, so neither is whether other
 * processes hold it too: nprocs says the one. Its uid is the socket's
 * owner as the queue delivered it (the socket file's fsuid, what sock_diag
 * would have said and `-m owner` matches), the creator's uid only when
 * the queue said none: the two differ for a setuid program. True when out
 * is filled.
 */
static bool
lookup_bpf_conn(struct proc_query *q, const struct proc_flow *fl,
                uint64_t deadline, struct proc_owner *out)
{
	struct proc *p = q->p;
	struct proc_bpf_rec r;
	bool ok;

	if (proc_bpf_conn(p, q->netns, fl, &r) != 1 || !bpf_rec_alive(p, &r))
		return false;
	pthread_mutex_lock(&p->mu);
	ok = bpf_rec_fresh(p, &r);
	if (ok)
		p->st.bpf_conn_hits++;
	pthread_mutex_unlock(&p->mu);
	if (!ok)
		return false;
	out->uid = fl->uid_hint != UINT32_MAX ? fl->uid_hint : r.uid;
	out->nprocs = 1;
	owner_fill(q, r.tgid, deadline, out);
	return true;
}

/*
 * Step 1b: the socket's creator from the eBPF map, when the program knows
 * the socket and its creator lives on (bpf_rec_alive, bpf_rec_fresh).
 * True when out is filled.
 */
static bool
lookup_bpf(struct proc_query *q, uint64_t cookie, uint64_t inode,
           uint64_t deadline, struct proc_owner *out)
{
	struct proc *p = q->p;
	struct proc_bpf_rec r;
	unsigned live = 0;
	int32_t pid;
	bool ok;

	ok = proc_bpf_owner(p, cookie, &r) == 1 && bpf_rec_alive(p, &r);
	pthread_mutex_lock(&p->mu);
	ok = ok && bpf_rec_fresh(p, &r);
	if (ok) {
		live = proc_holders_live(p, inode, &pid);
		p->st.bpf_hits++;
	} else {
		p->st.bpf_misses++;
	}
	pthread_mutex_unlock(&p->mu);
	if (!ok)
		return false;
	out->nprocs = live > 0 ? live : 1;
	owner_fill(q, r.tgid, deadline, out);
	return true;
}

static enum proc_how
lookup(struct proc_query *q, const struct proc_flow *fl, struct proc_owner *out,
       uint64_t t0)
{
	struct proc *p = q->p;
	uint64_t deadline = t0 + (uint64_t)p->cfg.timeout_ms * NS_PER_MS;
	uint64_t inode = 0, cookie = 0, t_diag;
	uint32_t suid = UINT32_MAX;
	int32_t pid = -1;
	uint8_t state = 0;
	unsigned live;
	size_t first;
	bool can_infer, lost;
	int rc;

	if (p->bpf_conns_fd >= 0 && fl->proto == SP_PROTO_TCP && !fl->inbound &&
	    lookup_bpf_conn(q, fl, deadline, out))
		return PROC_HOW_SOCKET;
	t_diag = sp_now_mono();
	rc = proc_diag_find(q, fl, deadline, &inode, &suid, &state, &cookie);
	can_infer = p->cfg.infer_exited && p->st.events_on;
	if (rc == -ETIMEDOUT) {
		out->why = "deadline: sock_diag did not answer";
		return PROC_HOW_TIMEOUT;
	}
	if (rc != 0) {
		pthread_mutex_lock(&p->mu);
		p->st.no_socket++;
		pthread_mutex_unlock(&p->mu);
		out->why = "no such socket (closed before the lookup)";
		if (!can_infer || fl->uid_hint == UINT32_MAX ||
		    fl->sent_after_ns == 0)
			return PROC_HOW_UNKNOWN;
		return proc_infer_exited(q, fl->uid_hint, fl->gid_hint,
		                         fl->sent_after_ns, deadline, out);
	}
	out->uid = suid;
	out->inode = inode;
	if (inode == 0) {
		/* Its file is gone: it is being closed, by an exiting
		 * process as often as not (or it is orphaned, TIME_WAIT). */
		out->why = "the socket has no file (closing, orphaned)";
		if (!can_infer || fl->sent_after_ns == 0)
			return PROC_HOW_UNKNOWN;
		return proc_infer_exited(q, suid, fl->gid_hint,
		                         fl->sent_after_ns, deadline, out);
	}
	/*
	 * What the caches below say of processes is as of the last event
	 * the connector applied. A process forked just before it made this
	 * socket (or a child forked to share it) may be in events not yet
	 * applied: it would be missed by the scans, or not counted. Those
	 * are applied first; when none wait, this is one poll(2).
	 */
	if (p->st.events_on && proc_cn_behind(p))
		proc_cn_sync(p, sp_now_mono(), deadline);
	if (p->bpf_map_fd >= 0 && lookup_bpf(q, cookie, inode, deadline, out))
		return PROC_HOW_SOCKET;

	/* Step 2: the cache. */
	pthread_mutex_lock(&p->mu);
	live = proc_holders_live(p, inode, &pid);
	if (live > 0 && !p->st.events_on) {
		/* Without exit events a cached pid may be stale: check. */
		pthread_mutex_unlock(&p->mu);
		if (proc_pid_holds(pid, inode) != 1)
			live = 0;
		pthread_mutex_lock(&p->mu);
	}
	if (live > 0)
		p->st.sock_hits++;
	else
		p->st.sock_misses++;
	pthread_mutex_unlock(&p->mu);
	if (live > 0) {
		out->nprocs = live;
		owner_fill(q, pid, deadline, out);
		return PROC_HOW_SOCKET;
	}

	/* Then a targeted scan: the socket owner's processes first. */
	pthread_mutex_lock(&p->mu);
	p->st.scans++;
	pthread_mutex_unlock(&p->mu);
	/* Processes just started, each read at once (small tables); then
	 * recent owners and the rest of its user, those whose fd count
	 * moved first. */
	rc = proc_guess_owners(q, inode, suid, &pid);
	if (rc == 0) {
		proc_cands_build(q, suid, false);
		rc = proc_scan_cands(q, 0, inode, deadline, false, &pid);
	}
	if (rc == 0) {
		first = q->ncand;
		proc_cands_build(q, suid, true);
		rc = proc_scan_cands(q, first, inode, deadline, true, &pid);
	}
	if (rc == 0) {
		/* A socket handed to another user's process, or one that
		 * the cache never saw (no events, or events lost). */
		first = q->ncand;
		proc_cands_more(q);
		pthread_mutex_lock(&p->mu);
		lost = p->lost_ns != 0;
		pthread_mutex_unlock(&p->mu);
		if (!p->st.events_on || lost)
			proc_cands_unknown(q);
		rc = proc_scan_cands(q, first, inode, deadline, true, &pid);
	}
	if (rc == 0 && can_infer) {
		/* No live process holds it: it may be closing with its
		 * process's exit. Only now, after every live process was
		 * read: a live holder the connector has not yet seen fork
		 * must not be put on another process of its user that
		 * happened to exit meanwhile. */
		enum proc_how how = proc_infer_exited(q, suid, fl->gid_hint,
		                                      t_diag, deadline, out);

		if (how != PROC_HOW_UNKNOWN)
			return how;
	}
	if (rc == -2) {
		out->why = "deadline: still reading fd tables";
		return PROC_HOW_TIMEOUT;
	}
	if (rc != 1) {
		out->why = "no process holds the socket";
		return PROC_HOW_UNKNOWN;
	}
	if (state == PROC_TCP_LISTEN)
		proc_count_kin(q, pid, inode, deadline);
	pthread_mutex_lock(&p->mu);
	live = proc_holders_live(p, inode, &pid);
	pthread_mutex_unlock(&p->mu);
	out->nprocs = live > 0 ? live : 1;
	owner_fill(q, pid, deadline, out);
	return PROC_HOW_SOCKET;
}

enum proc_how
proc_lookup(struct proc_query *q, const struct proc_flow *fl,
            struct proc_owner *out)
{
	struct proc *p = q->p;
	uint64_t t0 = sp_now_mono();
	enum proc_how how;

	memset(out, 0, offsetof(struct proc_owner, exe));
	out->why = NULL;
	out->exe[0] = '\0';
	out->cmdline[0] = '\0';
	out->pid = out->ppid = -1;
	out->uid = UINT32_MAX;
	if (fl->proto != SP_PROTO_TCP && fl->proto != SP_PROTO_UDP) {
		out->uid = fl->uid_hint;
		out->how = PROC_HOW_NONE;
		return PROC_HOW_NONE;
	}
	how = lookup(q, fl, out, t0);
	if (how == PROC_HOW_TIMEOUT || how == PROC_HOW_UNKNOWN) {
		/* What was found stays; who is unknown. */
		out->pid = out->ppid = -1;
		out->exe[0] = '\0';
		out->cmdline[0] = '\0';
		out->nprocs = 0;
	}
	if (out->uid == UINT32_MAX)
		out->uid = fl->uid_hint;
	out->how = how;
	out->took_ns = sp_now_mono() - t0;
	pthread_mutex_lock(&p->mu);
	p->st.lookups++;
	p->st.took_ns += out->took_ns;
	switch (how) {
	case PROC_HOW_SOCKET:
		p->st.found++;
		break;
	case PROC_HOW_EXITED:
		p->st.exited++;
		break;
	case PROC_HOW_TIMEOUT:
		p->st.timeouts++;
		break;
	default:
		p->st.unknown++;
		break;
	}
	pthread_mutex_unlock(&p->mu);
	return how;
}

void
proc_stats(struct proc *p, struct proc_stats *st)
{
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	st->procs = p->nprocs;
	st->socks = p->nsocks;
	pthread_mutex_unlock(&p->mu);
}

const char *
proc_method(const struct proc *p)
{
	return p->method;
}

const char *
proc_exe_cache_off(const struct proc *p)
{
	return p->st.bpf_on && p->procs_seq == NULL ? p->exe_cache_why : NULL;
}

const char *
proc_how_name(enum proc_how how)
{
	switch (how) {
	case PROC_HOW_NONE:
		return "none";
	case PROC_HOW_SOCKET:
		return "socket";
	case PROC_HOW_EXITED:
		return "exited";
	case PROC_HOW_UNKNOWN:
		return "unknown";
	case PROC_HOW_TIMEOUT:
		return "timeout";
	}
	return "?";
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The proc connector: process events keep the caches fresh, and an exec reader
 * per CPU reads each new program's /proc before it runs (the main thread
 * does, when that reader is behind). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/cn_proc.h>
#include <linux/filter.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include "proc_int.h"

/*
 * An exec of tgid at ts, as read from /proc (pi, NULL when not read). The
 * exec readers and the main connector thread both report execs, in either
 * order: the one with what /proc said wins, the first one clears what the
 * process inherited at fork (wrong now, even when the new program was gone
 * before anyone could read it).
 */
static void
exec_apply(struct proc *p, int32_t tgid, uint64_t ts, const struct pinfo *pi,
           uint64_t read_ns)
{
	struct pentry *e;

	pthread_mutex_lock(&p->mu);
	if ((e = proc_pget(p, tgid)) == NULL &&
	    (e = proc_pnew(p, tgid, ts)) == NULL)
		goto out;
	if (ts < e->exec_ns || (ts == e->exec_ns && (pi == NULL || e->exe)))
		goto out; /* already applied */
	if (ts > e->exec_ns) {
		proc_pset_str(&e->exe, NULL);
		e->exe_seq_ok = false;
		proc_pset_str(&e->cmdline, NULL);
		e->exec_ns = ts;
		if (e->start_ns == 0)
			e->start_ns = ts;
		proc_ring_push(p->recent, &p->recent_n, PROC_RECENT, tgid);
		p->st.execs++;
	}
	if (pi != NULL) {
		proc_pentry_fill(p, e, pi);
		if (pi->exe[0] == '\0')
			p->st.exec_missed++;
		if (read_ns > ts && read_ns - ts > p->st.exec_lag_max_ns)
			p->st.exec_lag_max_ns = read_ns - ts;
	}
out:
	pthread_mutex_unlock(&p->mu);
}

/*
 * A child whose user /proc could not tell (it was gone before it could be
 * read) has its parent's at the fork: the events of its own changes
 * (PROC_EVENT_UID, _GID) come after this one. Without it, its exit is one
 * of an unknown user, and step 4 answers unknown for every user meanwhile.
 * p->mu held.
 */
static void
fork_user(struct proc *p, struct pentry *e, int32_t parent)
{
	const struct pentry *pe;

	if (e->uid != UINT32_MAX || (pe = proc_pget(p, parent)) == NULL)
		return;
	e->uid = pe->uid;
	e->gid = pe->gid;
	proc_psync(p, e);
}

static void
on_fork(struct proc *p, int32_t parent, int32_t child, uint64_t ts,
        struct pinfo *pi)
{
	struct pentry *pe, *e;
	bool known;

	proc_gone_mark(p, child, false);
	pthread_mutex_lock(&p->mu);
	/* An exec reader may have seen the child's exec first. */
	e = proc_pget(p, child);
	if (e != NULL && e->exit_ns == 0 && e->exec_ns >= ts) {
		e->ppid = parent;
		fork_user(p, e, parent);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pe = proc_pget(p, parent);
	known = pe != NULL && pe->exe != NULL;
	if (known && (e = proc_pnew(p, child, ts)) != NULL) {
		pe = proc_pget(p, parent); /* proc_pnew may have moved it */
		e->ppid = parent;
		if (pe != NULL) {
			e->uid = pe->uid;
			e->gid = pe->gid;
			proc_pset_str(&e->exe, pe->exe);
			proc_pset_str(&e->cmdline, pe->cmdline);
			e->exe_seq_ok = false;
			proc_psync(p, e);
		}
		e->start_ns = ts;
		proc_ring_push(p->recent, &p->recent_n, PROC_RECENT, child);
	}
	pthread_mutex_unlock(&p->mu);
	if (known)
		return;
	proc_pinfo_read(child, pi, true);
	pthread_mutex_lock(&p->mu);
	e = proc_pget(p, child);
	if (e == NULL || e->exit_ns != 0 || e->exec_ns < ts) {
		if ((e = proc_pnew(p, child, ts)) != NULL) {
			proc_pentry_fill(p, e, pi);
			e->start_ns = ts;
			proc_ring_push(p->recent, &p->recent_n, PROC_RECENT,
			               child);
		}
	}
	if (e != NULL) {
		e->ppid = parent;
		fork_user(p, e, parent);
	}
	pthread_mutex_unlock(&p->mu);
}

static void
on_exit_event(struct proc *p, int32_t tgid, int32_t parent, uint64_t ts,
              struct pinfo *pi)
{
	struct pentry *e;
	struct exit_rec *r;

	pthread_mutex_lock(&p->mu);
	e = proc_pget(p, tgid);
	if (e == NULL) {
		/* Never seen: ask /proc (a zombie still has a status). */
		pthread_mutex_unlock(&p->mu);
		proc_pinfo_read(tgid, pi, false);
		pthread_mutex_lock(&p->mu);
		if ((e = proc_pget(p, tgid)) == NULL &&
		    (e = proc_pnew(p, tgid, ts)) != NULL)
			proc_pentry_fill(p, e, pi);
	}
	p->st.exits++;
	if (parent == p->self)
		p->st.own_exits++;
	else if (p->exit_hook != NULL)
		p->exit_hook(p->exit_hook_arg);
	proc_gone_mark(p, tgid, true);
	r = &p->exits[p->exits_n % PROC_EXITS];
	r->tgid = tgid;
	r->ns = ts;
	r->uid = e != NULL ? e->uid : UINT32_MAX;
	r->gid = e != NULL ? e->gid : UINT32_MAX;
	p->exits_n++;
	if (e != NULL) {
		e->exit_ns = ts;
		proc_psync(p, e);
	}
	pthread_mutex_unlock(&p->mu);
}

static void
on_id_change(struct proc *p, int32_t tgid, bool is_uid, uint32_t id)
{
	struct pentry *e;

	pthread_mutex_lock(&p->mu);
	if ((e = proc_pget(p, tgid)) != NULL) {
		if (is_uid)
			e->uid = id;
		else
			e->gid = id;
		proc_psync(p, e);
	}
	pthread_mutex_unlock(&p->mu);
}

/* The exec reader of a CPU, or NULL. */
static struct cn_reader *
cn_reader_of(const struct proc *p, uint32_t cpu)
{
	return cpu < PROC_CPUS_MAX ? p->reader_on[cpu] : NULL;
}

/*
 * Take the exec of r's CPU numbered seq (the connector numbers a CPU's
 * events in the order it sends them) to read its /proc: true for the
 * first thread that asks, false for the other. The reader asks as it
 * takes the event from its socket, the main thread as soon as it sees it:
 * a reader that is behind (busy with earlier execs, not scheduled yet, or
 * its CPU taken from the machine for a while) loses a new program to its
 * exit, and the main thread, on another CPU, may still catch it. Both
 * take a CPU's execs in the order sent, so the latest claimed tells.
 */
static bool
cn_claim(struct cn_reader *r, uint32_t seq)
{
	const uint64_t want = 1ull << 32 | seq; /* 0: none claimed yet */
	uint64_t cur = atomic_load(&r->claimed);

	for (;;) {
		if (cur != 0 && (int32_t)(seq - (uint32_t)cur) <= 0)
			return false;
		if (atomic_compare_exchange_weak(&r->claimed, &cur, want))
			return true;
	}
}

/*
 * A new program's fd table as it starts (what it inherited), read soon
 * after the exec: a socket it opens later is then a new fd number, the
 * first one a lookup reads (read_fd_guess). The exec readers take the
 * numbers alone, before the program runs; this is for CPUs without one.
 */
static void
cn_prefetch_fds(struct proc *p, int32_t tgid)
{
	uint64_t found[PROC_FOUND];
	size_t nfound, i;
	bool hit, cut;
	uint32_t total;
	int *fdv;

	if (proc_read_fds(tgid, 0, 0, NULL, 0, found, NULL, PROC_FOUND, &nfound,
	                  &hit, &cut, &fdv, &total) < 0)
		return;
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < nfound; i++)
		proc_sadd(p, found[i], tgid);
	proc_pset_fds(p, tgid, fdv, total);
	pthread_mutex_unlock(&p->mu);
}

static void
cn_event(struct proc *p, const struct proc_event *ev, uint32_t seq,
         struct pinfo *pi)
{
	uint64_t ts = ev->timestamp_ns;
	struct cn_reader *r;
	int32_t tgid;

	switch (ev->what) {
	case PROC_EVENT_FORK:
		/* A new thread is no new process. */
		if (ev->event_data.fork.child_pid ==
		    ev->event_data.fork.child_tgid)
			on_fork(p, ev->event_data.fork.parent_tgid,
			        ev->event_data.fork.child_tgid, ts, pi);
		break;
	case PROC_EVENT_EXEC:
		tgid = ev->event_data.exec.process_tgid;
		r = cn_reader_of(p, ev->cpu);
		if (r != NULL && !cn_claim(r, seq)) {
			exec_apply(p, tgid, ts, NULL, 0);
		} else {
			uint64_t t = sp_now_mono();

			proc_pinfo_read(tgid, pi, true);
			exec_apply(p, tgid, ts, pi, t);
			if (r == NULL) { /* else its reader takes them */
				cn_prefetch_fds(p, tgid);
			} else {
				pthread_mutex_lock(&p->mu);
				p->st.exec_by_main++;
				pthread_mutex_unlock(&p->mu);
			}
		}
		break;
	case PROC_EVENT_EXIT:
		if (ev->event_data.exit.process_pid ==
		    ev->event_data.exit.process_tgid)
			on_exit_event(p, ev->event_data.exit.process_tgid,
			              ev->event_data.exit.parent_tgid, ts, pi);
		break;
	case PROC_EVENT_UID:
		on_id_change(p, ev->event_data.id.process_tgid, true,
		             ev->event_data.id.e.euid);
		break;
	case PROC_EVENT_GID:
		on_id_change(p, ev->event_data.id.process_tgid, false,
		             ev->event_data.id.e.egid);
		break;
	default:
		break;
	}
}

/* The next proc_event of a datagram of connector messages into *ev, and
 * its number among its CPU's events into *seq. */
static bool
cn_next(uint8_t *buf, size_t *off, size_t len, struct proc_event *ev,
        uint32_t *seq)
{
	struct nlmsghdr *nlh;
	const struct cn_msg *cn;
	size_t rem;
	uint32_t plen;

	while (*off < len) {
		nlh = (struct nlmsghdr *)(buf + *off);
		rem = len - *off;
		if (!NLMSG_OK(nlh, rem))
			return false;
		*off += NLMSG_ALIGN(nlh->nlmsg_len);
		if (nlh->nlmsg_type != NLMSG_DONE)
			continue;
		plen = (uint32_t)NLMSG_PAYLOAD(nlh, 0);
		if (plen < sizeof(*cn))
			continue;
		cn = NLMSG_DATA(nlh);
		if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
		    cn->len < sizeof(*ev) || plen < sizeof(*cn) + cn->len)
			continue;
		memcpy(ev, cn->data, sizeof(*ev));
		*seq = cn->seq;
		return true;
	}
	return false;
}

static int
cn_listen(int fd, bool on)
{
	uint8_t buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(uint32_t))];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct cn_msg *cn;
	uint32_t op = on ? PROC_CN_MCAST_LISTEN : PROC_CN_MCAST_IGNORE;

	memset(buf, 0, sizeof(buf));
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*cn) + sizeof(op));
	nlh->nlmsg_type = NLMSG_DONE;
	cn = NLMSG_DATA(nlh);
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof(op);
	memcpy(cn->data, &op, sizeof(op));
	return send(fd, buf, nlh->nlmsg_len, 0) == (ssize_t)nlh->nlmsg_len
	               ? 0
	               : -errno;
}

/*
 * A socket filter that lets through exec events of one CPU only: the
 * offsets are those of struct proc_event after the netlink and connector
 * headers; classic BPF loads words big-endian, the event is host order
 * (little-endian here; the filter is built for the host's order).
 */
static int
cn_filter_exec(int fd, uint32_t cpu)
{
	const uint32_t off = NLMSG_HDRLEN + sizeof(struct cn_msg);
	uint32_t what = PROC_EVENT_EXEC, c = cpu;
	struct sock_filter f[6];
	struct sock_fprog prog = {6, f};

	if (htonl(1) != 1) {
		what = __builtin_bswap32(what);
		c = __builtin_bswap32(c);
	}
	f[0] = (struct sock_filter)BPF_STMT(
	        BPF_LD | BPF_W | BPF_ABS,
	        off + offsetof(struct proc_event, what));
	f[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, what, 0,
	                                    3);
	f[2] = (struct sock_filter)BPF_STMT(
	        BPF_LD | BPF_W | BPF_ABS,
	        off + offsetof(struct proc_event, cpu));
	f[3] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, c, 0, 1);
	f[4] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffff);
	f[5] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	                  sizeof(prog)) == 0
	               ? 0
	               : -errno;
}

/* One connector socket, bound and listening (in the current netns). */
static int
cn_socket(int rcvbuf)
{
	struct sockaddr_nl sa;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	                NETLINK_CONNECTOR);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	               sizeof(rcvbuf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = CN_IDX_PROC;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    cn_listen(fd, true) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Enter the network namespace where the proc connector is (it exists in
 * the initial one only): the daemon's own when it works there, else that
 * of the nearest ancestor process where it does (a daemon started by `ip
 * netns exec` from the host). /proc/1 may be closed to us, so the ancestors
 * are asked instead. *here gets an fd of the namespace to come back to
 * (-1: no move). Returns 0, or -1 with err set.
 */
static int
cn_find_netns(int *here, char *err, size_t errlen)
{
	char path[64];
	struct stat st, cur;
	int32_t pid = (int32_t)getppid(), ppid;
	uint32_t uid, gid;
	int fd, hops, tried = 0;

	*here = -1;
	if ((fd = cn_socket(4096)) >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ECONNREFUSED && errno != EPROTONOSUPPORT) {
		snprintf(err, errlen, "proc connector: %s (needs root)",
		         strerror(errno));
		return -1;
	}
	if (stat("/proc/thread-self/ns/net", &cur) != 0 ||
	    (*here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) <
	            0) {
		snprintf(err, errlen,
		         "proc connector: not in this network "
		         "namespace, and cannot leave it");
		return -1;
	}
	for (hops = 0; hops < 32 && pid > 1; hops++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		if (stat(path, &st) == 0 && st.st_ino != cur.st_ino &&
		    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			tried++;
			if (setns(fd, CLONE_NEWNET) == 0) {
				int probe = cn_socket(4096);

				close(fd);
				if (probe >= 0) {
					close(probe);
					return 0;
				}
				if (setns(*here, CLONE_NEWNET) != 0)
					abort(); /* cannot be: we were there */
			} else {
				close(fd);
			}
		}
		if (proc_read_status(pid, &ppid, &uid, &gid) != 0)
			break;
		pid = ppid;
	}
	close(*here);
	*here = -1;
	snprintf(err, errlen,
	         "proc connector: only in the initial network namespace, "
	         "and no ancestor process (%d tried) is there or lets us in",
	         tried);
	return -1;
}

/*
 * Open the connector sockets: the main one, then one per CPU the daemon
 * may run on, for the exec readers. Sockets keep the namespace they were
 * made in, so the thread comes back to its own at once.
 */
int
proc_cn_open(struct proc *p, char *err, size_t errlen)
{
	cpu_set_t set;
	int here, rc = -1, fd;
	unsigned cpu;

	if (cn_find_netns(&here, err, errlen) != 0)
		return -1;
	if ((p->cn_fd = cn_socket(8 << 20)) < 0) {
		snprintf(err, errlen, "proc connector: %s (needs root)",
		         strerror(errno));
		goto back;
	}
	rc = 0;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		goto back;
	for (cpu = 0; cpu < PROC_CPUS_MAX && p->nreaders < PROC_READERS_MAX;
	     cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if ((fd = cn_socket(1 << 20)) < 0)
			break;
		if (cn_filter_exec(fd, cpu) != 0) {
			close(fd);
			break;
		}
		p->readers[p->nreaders].p = p;
		p->readers[p->nreaders].fd = fd;
		p->readers[p->nreaders].cpu = cpu;
		p->nreaders++;
	}
back:
	if (here >= 0) {
		if (setns(here, CLONE_NEWNET) != 0) {
			/* In the wrong namespace this thread must not go on. */
			fprintf(stderr,
			        "spackle: cannot return to the daemon's "
			        "network "
			        "namespace: %s\n",
			        strerror(errno));
			abort();
		}
		close(here);
	}
	return rc;
}

/*
 * Scheduling. An exec reader must read a new program's exe before the
 * program can exit, which a short-lived one does within a millisecond: on
 * a busy machine (or a virtual one, whose idle CPUs wake slowly) an
 * ordinary thread waits longer than that. So each reader is pinned to its
 * CPU and runs SCHED_FIFO at the lowest priority: woken by an exec on its
 * CPU, it preempts the new program before that runs a single instruction
 * and reads its /proc. While execs come faster than PROC_RT_EXECS per 100
 * ms on its CPU (an exec storm must not take a CPU from everyone), or when
 * real-time scheduling is not allowed, it is an ordinary thread at nice
 * -20. The main connector thread runs at nice -10.
 */
#define PROC_RT_EXECS 200

static bool
cn_sched(bool rt, int nice)
{
	struct sched_param sp;

	memset(&sp, 0, sizeof(sp));
	if (rt) {
		sp.sched_priority = 1;
		if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0)
			return true;
	}
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	/* Linux: a thread's nice value, by its tid. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), nice);
	return false;
}

static void *
cn_reader_main(void *arg)
{
	struct cn_reader *r = arg;
	struct proc *p = r->p;
	struct pollfd pfd[2];
	struct pinfo *pi = malloc(sizeof(*pi));
	uint8_t buf[4096];
	char name[16];
	struct proc_event ev;
	cpu_set_t set;
	uint64_t window, now, n = 0;
	bool rt, rt_ok;
	uint32_t seq;
	size_t off;
	ssize_t len;

	if (pi == NULL)
		return NULL;
	snprintf(name, sizeof(name), "spackle-exec%u", r->cpu);
	pthread_setname_np(pthread_self(), name);
	CPU_ZERO(&set);
	CPU_SET(r->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	rt = rt_ok = cn_sched(true, -20);
	window = sp_now_mono();
	pfd[0].fd = r->fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = p->stop_fd;
	pfd[1].events = POLLIN;
	while (!atomic_load(&p->stop)) {
		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			break;
		while ((len = recv(r->fd, buf, sizeof(buf), 0)) > 0 ||
		       (len < 0 && (errno == EINTR || errno == ENOBUFS))) {
			if (len <= 0)
				continue; /* the main thread counts losses */
			for (off = 0;
			     cn_next(buf, &off, (size_t)len, &ev, &seq);) {
				if (ev.what != PROC_EVENT_EXEC)
					continue;
				int32_t tgid = ev.event_data.exec.process_tgid;
				ssize_t nfd;
				int *fdv;

				if (cn_claim(r, seq)) {
					now = sp_now_mono();
					proc_pinfo_read(tgid, pi, true);
					exec_apply(p, tgid, ev.timestamp_ns, pi,
					           now);
				}
				/* Its inherited fds (numbers alone, cheap). */
				if ((nfd = proc_read_fd_names(tgid, &fdv)) >=
				    0) {
					pthread_mutex_lock(&p->mu);
					proc_pset_fds(p, tgid, fdv,
					              (uint32_t)nfd);
					pthread_mutex_unlock(&p->mu);
				}
				n++;
			}
		}
		now = sp_now_mono();
		if (now - window >= 100 * NS_PER_MS) {
			if (rt && n > PROC_RT_EXECS)
				rt = cn_sched(false, -20);
			else if (!rt && rt_ok && n < PROC_RT_EXECS / 2)
				rt = cn_sched(true, -20);
			n = 0;
			window = now;
		}
	}
	free(pi);
	return NULL;
}

static void *
cn_main(void *arg)
{
	struct proc *p = arg;
	struct pollfd pfd[3];
	struct pinfo *pi = malloc(sizeof(*pi));
	uint8_t *buf = malloc(PROC_CN_BUF);
	struct proc_event ev;
	uint64_t before, now;
	bool resync = false;
	uint32_t seq;
	size_t off;
	ssize_t n;
	char junk[64];

	if (pi == NULL || buf == NULL) {
		free(pi);
		free(buf);
		return NULL;
	}
	pthread_setname_np(pthread_self(), "spackle-proc");
	cn_sched(false, -10);
	pfd[0].fd = p->cn_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = p->wake[0];
	pfd[1].events = POLLIN;
	pfd[2].fd = p->stop_fd;
	pfd[2].events = POLLIN;
	while (!atomic_load(&p->stop)) {
		if (poll(pfd, 3, 1000) < 0 && errno != EINTR)
			break;
		while (read(p->wake[0], junk, sizeof(junk)) > 0)
			;
		/* Before the first recv(): proc_cn_behind() sees the events
		 * in the socket, or this. */
		atomic_store(&p->cn_busy, true);
		for (;;) {
			before = sp_now_mono();
			n = recv(p->cn_fd, buf, PROC_CN_BUF, 0);
			if (n > 0) {
				for (off = 0; cn_next(buf, &off, (size_t)n, &ev,
				                      &seq);) {
					pthread_mutex_lock(&p->mu);
					p->st.events++;
					pthread_mutex_unlock(&p->mu);
					cn_event(p, &ev, seq, pi);
				}
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == ENOBUFS) {
				/* The kernel dropped events: the cache may
				 * miss processes until /proc is read again. */
				pthread_mutex_lock(&p->mu);
				p->st.events_lost++;
				p->lost_ns = sp_now_mono();
				pthread_mutex_unlock(&p->mu);
				resync = true;
				continue;
			}
			break; /* EAGAIN: drained */
		}
		pthread_mutex_lock(&p->mu);
		p->idle_ns = before;
		atomic_store(&p->cn_busy, false);
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (resync) {
			resync = false;
			proc_scan_all(p, false, true);
		}
		now = sp_now_mono();
		if (now >= p->next_expire) {
			pthread_mutex_lock(&p->mu);
			proc_pexpire(p, now, PROC_EXITED_KEEP_NS);
			pthread_mutex_unlock(&p->mu);
			p->next_expire = now + NS_PER_S;
		}
	}
	free(pi);
	free(buf);
	return NULL;
}

/* Start the exec readers, then the main thread (p->cn_fd is open); the
 * events are on once it runs, else p->cnerr says why not. */
void
proc_cn_start(struct proc *p)
{
	unsigned i;

	/* The readers first: the main thread leaves the execs of their
	 * CPUs to them. */
	for (i = 0; i < p->nreaders; i++) {
		struct cn_reader *r = &p->readers[i];

		p->reader_on[r->cpu] = r;
		if (pthread_create(&r->th, NULL, cn_reader_main, r) == 0)
			r->started = true;
		else
			p->reader_on[r->cpu] = NULL;
	}
	p->next_expire = sp_now_mono() + NS_PER_S;
	if (pthread_create(&p->th, NULL, cn_main, p) == 0) {
		p->th_started = true;
		p->st.events_on = true;
	} else {
		snprintf(p->cnerr, sizeof(p->cnerr),
		         "proc connector: cannot start its thread");
	}
}

/*
 * Are there events the main thread has not applied yet: waiting in its
 * socket, or read and being applied? One poll(2), no wait. The socket is
 * looked at first: an event the thread takes from it meanwhile was taken
 * with cn_busy already set.
 */
bool
proc_cn_behind(struct proc *p)
{
	struct pollfd pfd = {.fd = p->cn_fd, .events = POLLIN};

	return poll(&pfd, 1, 0) > 0 || atomic_load(&p->cn_busy);
}

/*
 * Have the connector read every event sent before t (it drains its socket
 * when poked, and notes when it found it empty). 0, or -1 at the deadline.
 */
int
proc_cn_sync(struct proc *p, uint64_t t, uint64_t deadline)
{
	struct timespec ts;
	int rc = 0;

	if (write(p->wake[1], "x", 1) < 0 && errno != EAGAIN)
		return -1;
	ts.tv_sec = (time_t)(deadline / NS_PER_S);
	ts.tv_nsec = (long)(deadline % NS_PER_S);
	pthread_mutex_lock(&p->mu);
	while (p->idle_ns < t && rc == 0)
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
			rc = -1;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

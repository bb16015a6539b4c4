/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Process attribution: sock_diag, the proc connector, targeted /proc scans. */
#include <ctype.h>
#include <dirent.h>
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
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/cn_proc.h>
#include <linux/filter.h>
#include <linux/connector.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "proc_int.h"

static size_t
pow2_at_least(size_t n)
{
	size_t v = 16;

	while (v < n)
		v <<= 1;
	return v;
}

/* ---- the proc connector ---------------------------------------------------
 */

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
	if (e != NULL)
		e->ppid = parent;
	pthread_mutex_unlock(&p->mu);
}

static void
on_exit_event(struct proc *p, int32_t tgid, uint64_t ts, struct pinfo *pi)
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

static bool
cn_cpu_covered(const struct proc *p, uint32_t cpu)
{
	return cpu < PROC_CPUS_MAX &&
	       p->reader_cpu[cpu / 64] & (1ull << (cpu % 64));
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
cn_event(struct proc *p, const struct proc_event *ev, struct pinfo *pi)
{
	uint64_t ts = ev->timestamp_ns;
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
		if (cn_cpu_covered(p, ev->cpu)) {
			exec_apply(p, tgid, ts, NULL, 0);
		} else {
			uint64_t t = sp_now_mono();

			proc_pinfo_read(tgid, pi, true);
			exec_apply(p, tgid, ts, pi, t);
			cn_prefetch_fds(p, tgid);
		}
		break;
	case PROC_EVENT_EXIT:
		if (ev->event_data.exit.process_pid ==
		    ev->event_data.exit.process_tgid)
			on_exit_event(p, ev->event_data.exit.process_tgid, ts,
			              pi);
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

/* The next proc_event of a datagram of connector messages into *ev. */
static bool
cn_next(uint8_t *buf, size_t *off, size_t len, struct proc_event *ev)
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
	struct proc_event ev;
	cpu_set_t set;
	uint64_t window, now, n = 0;
	bool rt, rt_ok;
	size_t off;
	ssize_t len;

	if (pi == NULL)
		return NULL;
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
			for (off = 0; cn_next(buf, &off, (size_t)len, &ev);) {
				if (ev.what != PROC_EVENT_EXEC)
					continue;
				int32_t tgid = ev.event_data.exec.process_tgid;
				ssize_t nfd;
				int *fdv;

				now = sp_now_mono();
				proc_pinfo_read(tgid, pi, true);
				exec_apply(p, tgid, ev.timestamp_ns, pi, now);
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
	size_t off;
	ssize_t n;
	char junk[64];

	if (pi == NULL || buf == NULL) {
		free(pi);
		free(buf);
		return NULL;
	}
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
		for (;;) {
			before = sp_now_mono();
			n = recv(p->cn_fd, buf, PROC_CN_BUF, 0);
			if (n > 0) {
				for (off = 0;
				     cn_next(buf, &off, (size_t)n, &ev);) {
					pthread_mutex_lock(&p->mu);
					p->st.events++;
					pthread_mutex_unlock(&p->mu);
					cn_event(p, &ev, pi);
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

		p->reader_cpu[r->cpu / 64] |= 1ull << (r->cpu % 64);
		if (pthread_create(&r->th, NULL, cn_reader_main, r) == 0)
			r->started = true;
		else
			p->reader_cpu[r->cpu / 64] &= ~(1ull << (r->cpu % 64));
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

/* ---- set-up -----------------------------------------------------------------
 */

int
proc_new(struct proc **out, const struct proc_config *cfg, char *err,
         size_t errlen)
{
	pthread_condattr_t ca;
	struct proc *p;

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
	if (errlen > 0)
		err[0] = '\0';
	if (p->cn_fd >= 0)
		proc_cn_start(p);
	/* After the events started, so nothing started meanwhile is missed. */
	if (p->cfg.initial_scan)
		proc_scan_all(p, true, false);
	if (p->cfg.events && !p->st.events_on && errlen > 0)
		snprintf(err, errlen,
		         "%s; attribution goes on without process events (a "
		         "program that exits at once may stay unknown)",
		         p->cnerr);
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

/*
 * Fill out for holder pid. The cache knows what it runs (the exec readers
 * saw its exec, or the first scan found it); its exe is read again to be
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
	uint32_t gen;
	bool have;

	pthread_mutex_lock(&p->mu);
	e = proc_pget(p, pid);
	gen = e != NULL ? e->gen : 0;
	pthread_mutex_unlock(&p->mu);
	have = proc_read_exe_at(proc_q_pdir(q, pid, gen), pi->exe,
	                        sizeof(pi->exe)) == 0;
	pthread_mutex_lock(&p->mu);
	e = proc_pget(p, pid);
	if (have && e != NULL && e->exe != NULL && e->ppid >= 0 &&
	    e->uid != UINT32_MAX && strcmp(e->exe, pi->exe) == 0) {
		proc_owner_from(out, e);
		proc_ring_push(p->active, &p->active_n, PROC_ACTIVE, pid);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_unlock(&p->mu);
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

/* ---- step 4: a socket that is gone
 * ---------------------------------------------- */

/*
 * The exits of processes of uid (and gid) in [t_lo, t_hi], into c (at
 * most PROC_HOLDERS_MAX). p->mu held. Returns how many, or -1 when that
 * cannot be told: events were lost, the ring wrapped, or one of them has
 * no known user or executable (it could be anyone).
 */
static int
exits_between(struct proc *p, uint32_t uid, uint32_t gid, uint64_t t_lo,
              uint64_t t_hi, struct pentry **c)
{
	const struct exit_rec *r;
	struct pentry *e;
	uint64_t k;
	int n = 0;

	if (p->lost_ns >= t_lo)
		return -1;
	for (k = 0; k < p->exits_n; k++) {
		if (k == PROC_EXITS)
			return -1; /* more exits since t_lo than the ring holds
			            */
		r = &p->exits[(p->exits_n - 1 - k) % PROC_EXITS];
		if (r->ns < t_lo)
			break;
		if (r->ns > t_hi)
			continue;
		if (r->uid != UINT32_MAX && r->uid != uid)
			continue;
		if (r->gid != UINT32_MAX && gid != UINT32_MAX && r->gid != gid)
			continue;
		if (r->uid == UINT32_MAX || n == PROC_HOLDERS_MAX ||
		    (e = proc_pget(p, r->tgid)) == NULL || e->exe == NULL)
			return -1;
		c[n++] = e;
	}
	return n;
}

/*
 * The sender closed its socket before we looked. If it exited, its exit
 * event follows at once (or, when the exiting process lost its CPU in
 * between, a little later): from PROC_EXIT_WAIT_NS past the lookup on,
 * up to PROC_EXIT_WAIT_MAX_NS or the deadline, have the connector read
 * every event sent so far, and look at the processes of the socket's user
 * (and group) that exited since t_lo, until there are some. When they are
 * at most PROC_HOLDERS_MAX and all ran one executable, that is the owner
 * for the rules: one process exited, or a program and helpers it forked
 * (a sanitizer's tracer, a shell's subshell). The one reported is the
 * candidate whose parent is not a candidate; nprocs says how many.
 * Returns PROC_HOW_EXITED, PROC_HOW_UNKNOWN or PROC_HOW_TIMEOUT.
 */
enum proc_how
proc_infer_exited(struct proc_query *q, uint32_t uid, uint32_t gid,
                  uint64_t t_lo, uint64_t deadline, struct proc_owner *out)
{
	struct proc *p = q->p;
	struct timespec ts;
	uint64_t now = sp_now_mono(), target = now + PROC_EXIT_WAIT_NS;
	uint64_t limit = now + PROC_EXIT_WAIT_MAX_NS;
	struct pentry *c[PROC_HOLDERS_MAX], *pick = NULL;
	int n, i, j;

	if (limit > deadline)
		limit = deadline;
	if (target > limit) {
		out->why = "deadline: no time left to wait for an exit";
		return PROC_HOW_TIMEOUT;
	}
	for (;;) {
		ts.tv_sec = (time_t)(target / NS_PER_S);
		ts.tv_nsec = (long)(target % NS_PER_S);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		                       NULL) == EINTR)
			;
		if (proc_cn_sync(p, target, deadline) != 0) {
			out->why = "deadline: waiting for process events";
			return PROC_HOW_TIMEOUT;
		}
		pthread_mutex_lock(&p->mu);
		n = exits_between(p, uid, gid, t_lo, target, c);
		if (n != 0 || target >= limit)
			break;
		pthread_mutex_unlock(&p->mu);
		target += PROC_EXIT_WAIT_NS;
		if (target > limit)
			target = limit;
	}
	for (i = 1; i < n; i++)
		if (strcmp(c[i]->exe, c[0]->exe) != 0)
			n = -1;
	if (n <= 0) {
		if (n < 0)
			p->st.infer_ambiguous++;
		out->why = n < 0 ? "socket gone; processes of its user that "
		                   "exited meanwhile ran different programs "
		                   "(or some are unknown)"
		                 : "socket gone; no process of its user exited "
		                   "meanwhile";
		pthread_mutex_unlock(&p->mu);
		return PROC_HOW_UNKNOWN;
	}
	for (i = 0; i < n && pick == NULL; i++) {
		for (j = 0; j < n; j++)
			if (c[j]->tgid == c[i]->ppid)
				break;
		if (j == n)
			pick = c[i];
	}
	proc_owner_from(out, pick != NULL ? pick : c[0]);
	out->nprocs = (uint32_t)n;
	pthread_mutex_unlock(&p->mu);
	return PROC_HOW_EXITED;
}

/* ---- the lookup
 * ------------------------------------------------------------------ */

static enum proc_how
lookup(struct proc_query *q, const struct proc_flow *fl, struct proc_owner *out,
       uint64_t t0)
{
	struct proc *p = q->p;
	uint64_t deadline = t0 + (uint64_t)p->cfg.timeout_ms * NS_PER_MS;
	uint64_t inode = 0, t_diag;
	uint32_t suid = UINT32_MAX;
	int32_t pid = -1;
	uint8_t state = 0;
	unsigned live;
	size_t first;
	bool can_infer, lost;
	int rc;

	t_diag = sp_now_mono();
	rc = proc_diag_find(q, fl, deadline, &inode, &suid, &state);
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
	if (rc == 0 && can_infer) {
		/* No live process of its user holds it: it may be closing
		 * with its process's exit. */
		enum proc_how how = proc_infer_exited(q, suid, fl->gid_hint,
		                                      t_diag, deadline, out);

		if (how != PROC_HOW_UNKNOWN)
			return how;
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

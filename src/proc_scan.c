/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fd tables read into the caches: all of /proc at once, or a targeted scan
 * for the holder of one socket (steps 2 and 3). */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc_int.h"

/* Read every process of /proc into the cache; with fds, their sockets. */
void
proc_scan_all(struct proc *p, bool fds, bool mark_gone)
{
	static const size_t cap = 4096;
	struct pinfo *pi = malloc(sizeof(*pi));
	uint64_t *found = malloc(cap * sizeof(*found));
	struct dirent *de;
	struct pentry *e;
	size_t nfound, i;
	bool hit, cut;
	uint64_t now = sp_now_mono();
	uint32_t total;
	int32_t pid;
	int *fdv;
	DIR *d;

	if (pi == NULL || found == NULL || (d = opendir("/proc")) == NULL) {
		free(pi);
		free(found);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (int32_t)strtol(de->d_name, NULL, 10);
		pthread_mutex_lock(&p->mu);
		e = proc_pget(p, pid);
		pthread_mutex_unlock(&p->mu);
		if (e == NULL) {
			proc_pinfo_read(pid, pi, true);
			if (!pi->have_status)
				continue;
			pthread_mutex_lock(&p->mu);
			if (proc_pget(p, pid) == NULL &&
			    (e = proc_pnew(p, pid, now)))
				proc_pentry_fill(p, e, pi);
			pthread_mutex_unlock(&p->mu);
		}
		if (!fds)
			continue;
		if (proc_read_fds(pid, 0, 0, NULL, 0, found, NULL, cap, &nfound,
		                  &hit, &cut, &fdv, &total) < 0)
			continue;
		pthread_mutex_lock(&p->mu);
		for (i = 0; i < nfound; i++)
			proc_sadd(p, found[i], pid);
		proc_pset_fds(p, pid, fdv, total);
		pthread_mutex_unlock(&p->mu);
	}
	closedir(d);
	if (mark_gone) {
		/* Processes that died while events were lost. */
		char path[64];
		size_t s;

		pthread_mutex_lock(&p->mu);
		for (s = 0; s < p->nprocs; s++) {
			e = proc_pget(p, p->dense[s].tgid);
			if (e->exit_ns != 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d", (int)e->tgid);
			if (access(path, F_OK) != 0) {
				e->exit_ns = now;
				proc_psync(p, e);
			}
		}
		pthread_mutex_unlock(&p->mu);
	}
	free(pi);
	free(found);
}

/* ---- steps 2 and 3
 * ------------------------------------------------------------ */

/* Add a process to the candidates once, by its dense index (p->mu held). */
static void
cand_add_ix(struct proc_query *q, uint32_t ix, int32_t tgid)
{
	if (q->mark[ix] == q->markgen || q->ncand >= q->capcand)
		return;
	q->mark[ix] = q->markgen;
	q->cand[q->ncand++] = tgid;
}

static void
cand_add(struct proc_query *q, const struct pentry *e)
{
	cand_add_ix(q, e->dense_ix, e->tgid);
}

/*
 * Candidates for holding a socket of user uid, likeliest first: processes
 * just started (each of that user); with all, recent owners, then the rest
 * of that user, newest pid first.
 */
void
proc_cands_build(struct proc_query *q, uint32_t uid, bool all)
{
	struct proc *p = q->p;
	const struct dent *d;
	struct pentry *e;
	size_t i, from;
	unsigned k;

	if (all)
		goto rest;
	q->ncand = 0;
	if (++q->markgen == 0) {
		memset(q->mark, 0, p->cfg.procs_max * sizeof(*q->mark));
		q->markgen = 1;
	}
	pthread_mutex_lock(&p->mu);
	for (k = 0; k < PROC_RECENT && k < p->recent_n; k++) {
		e = proc_pget(p,
		              p->recent[(p->recent_n - 1 - k) % PROC_RECENT]);
		if (e != NULL && e->exit_ns == 0 && e->uid == uid)
			cand_add(q, e);
	}
	pthread_mutex_unlock(&p->mu);
	return;
rest:
	pthread_mutex_lock(&p->mu);
	for (k = 0; k < PROC_ACTIVE && k < p->active_n; k++) {
		e = proc_pget(p,
		              p->active[(p->active_n - 1 - k) % PROC_ACTIVE]);
		if (e != NULL && e->exit_ns == 0 && e->uid == uid)
			cand_add(q, e);
	}
	from = q->ncand;
	for (i = 0; i < p->nprocs; i++) {
		d = &p->dense[i];
		if (d->alive && (d->uid == uid || d->uid == UINT32_MAX))
			cand_add_ix(q, (uint32_t)i, d->tgid);
	}
	qsort(q->cand + from, q->ncand - from, sizeof(*q->cand),
	      proc_cmp_int_desc);
	pthread_mutex_unlock(&p->mu);
}

/* Then every other live process, newest pid first. */
void
proc_cands_more(struct proc_query *q)
{
	struct proc *p = q->p;
	size_t from = q->ncand, i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nprocs; i++)
		if (p->dense[i].alive)
			cand_add_ix(q, (uint32_t)i, p->dense[i].tgid);
	pthread_mutex_unlock(&p->mu);
	qsort(q->cand + from, q->ncand - from, sizeof(*q->cand),
	      proc_cmp_int_desc);
}

/* Remember that pid held a socket at fd. p->mu held. */
static void
psock_add(struct pentry *e, int fd)
{
	unsigned i, n = e->nsockfd;

	for (i = 0; i < n && e->sockfd[i] < fd; i++)
		;
	if (i < n && e->sockfd[i] == fd)
		return;
	if (n == PROC_SOCKFDS) {
		/* Full: the highest goes, lower numbers come back sooner. */
		if (i == n)
			return;
		n--;
	}
	memmove(e->sockfd + i + 1, e->sockfd + i, (n - i) * sizeof(int));
	e->sockfd[i] = fd;
	e->nsockfd = (uint8_t)(n + 1);
}

/* /proc/PID (O_PATH) for this query's reads of pid, kept open while the
 * reads stay on one process (of incarnation gen); -1 when it is gone. */
int
proc_q_pdir(struct proc_query *q, int32_t pid, uint32_t gen)
{
	char path[32];

	if (q->pdir >= 0 && q->pdir_pid == pid && q->pdir_gen == gen)
		return q->pdir;
	if (q->pdir >= 0)
		close(q->pdir);
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	q->pdir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	q->pdir_pid = q->pdir >= 0 ? pid : -1;
	q->pdir_gen = gen;
	return q->pdir;
}

/*
 * A new socket of a process whose fd table was read before is most often
 * where its last looked-for socket was (closed since: a client connecting
 * again and again, however many sockets it holds below that number), at
 * the lowest number that was free then, or at a number where one of its
 * sockets was: try those alone, a readlink each, before reading the whole
 * table. The fd that holds inode, or -1.
 */
static int
fd_guess(int dfd, uint64_t inode, const int *known, size_t nknown,
         const int *sockfd, unsigned nsock, int hit)
{
	char name[24], link[64];
	unsigned i;
	size_t k;
	int guess = 0, fd;
	ssize_t n;

	/* known is descending: walk it from its lowest. */
	for (k = nknown; k > 0 && known[k - 1] <= guess; k--)
		if (known[k - 1] == guess)
			guess++;
	for (i = 0; i <= nsock + 1; i++) {
		fd = i == 0 ? hit : i == 1 ? guess : sockfd[i - 2];
		if (fd < 0 || (i > 0 && fd == hit) || (i > 1 && fd == guess))
			continue;
		snprintf(name, sizeof(name), "fd/%d", fd);
		n = readlinkat(dfd, name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (proc_socket_inode(link, n) == inode)
			return fd;
	}
	return -1;
}

/* known (n, descending) with fd in its place; into out (n + 1). */
static uint32_t
fds_with(const int *known, size_t n, int fd, int *out)
{
	size_t i, k = 0;

	for (i = 0; i < n && known[i] > fd; i++)
		out[k++] = known[i];
	if (i == n || known[i] != fd)
		out[k++] = fd;
	for (; i < n; i++)
		out[k++] = known[i];
	return (uint32_t)k;
}

/* What the cache knows of a process's fds besides their list (q->known):
 * where its sockets were, where its last looked-for one was, and which
 * incarnation of the pid that is. */
struct known_socks {
	int sockfd[PROC_SOCKFDS];
	unsigned nsock;
	int hit;
	uint32_t gen;
};

/* What the cache knows of pid's fds into q->known (its count returned)
 * and *k. */
static size_t
known_load(struct proc_query *q, int32_t pid, struct known_socks *k)
{
	struct proc *p = q->p;
	struct pentry *e;
	size_t nknown = 0;
	int *nv;

	k->nsock = 0;
	k->hit = -1;
	k->gen = 0;
	pthread_mutex_lock(&p->mu);
	if ((e = proc_pget(p, pid)) != NULL && e->fdv != NULL && e->nfds > 0) {
		if (e->nfds > q->capknown &&
		    (nv = realloc(q->known, e->nfds * sizeof(*nv))) != NULL) {
			q->known = nv;
			q->capknown = e->nfds;
		}
		if (e->nfds <= q->capknown) {
			nknown = e->nfds;
			memcpy(q->known, e->fdv, nknown * sizeof(*q->known));
		}
		k->nsock = e->nsockfd;
		memcpy(k->sockfd, e->sockfd, k->nsock * sizeof(*k->sockfd));
		k->hit = e->hit_fd;
		k->gen = e->gen;
	}
	pthread_mutex_unlock(&p->mu);
	return nknown;
}

/* fd_guess on pid (what known_load gave); on a hit, record it: true. */
static bool
guess_hit(struct proc_query *q, int32_t pid, uint64_t inode, size_t nknown,
          const struct known_socks *k)
{
	struct proc *p = q->p;
	struct pentry *e;
	uint32_t total;
	int dfd, fd, *fdv;

	if (nknown == 0 || (dfd = proc_q_pdir(q, pid, k->gen)) < 0 ||
	    (fd = fd_guess(dfd, inode, q->known, nknown, k->sockfd, k->nsock,
	                   k->hit)) < 0 ||
	    (fdv = malloc((nknown + 1) * sizeof(*fdv))) == NULL)
		return false;
	total = fds_with(q->known, nknown, fd, fdv);
	pthread_mutex_lock(&p->mu);
	p->st.scanned_procs++;
	p->st.fd_guesses++;
	proc_sadd(p, inode, pid);
	proc_pset_fds(p, pid, fdv, total);
	if ((e = proc_pget(p, pid)) != NULL) {
		psock_add(e, fd);
		e->hit_fd = fd;
	}
	pthread_mutex_unlock(&p->mu);
	return true;
}

/* Read one process's fd table and record its sockets; 1 when it holds
 * inode, 0 not, -1 gone, -2 cut by the deadline. */
static int
scan_one(struct proc_query *q, int32_t pid, uint64_t inode, uint64_t deadline)
{
	struct proc *p = q->p;
	uint64_t found[PROC_FOUND];
	int found_fd[PROC_FOUND];
	struct known_socks known;
	struct pentry *e;
	size_t nfound, i, nknown;
	uint32_t total;
	bool hit, cut;
	int *fdv;
	ssize_t n;

	/* What was open at the last read: its likely new socket alone,
	 * then what is new first. */
	nknown = known_load(q, pid, &known);
	if (guess_hit(q, pid, inode, nknown, &known))
		return 1;
	n = proc_read_fds(pid, inode, deadline, nknown > 0 ? q->known : NULL,
	                  nknown, found, found_fd, PROC_FOUND, &nfound, &hit,
	                  &cut, &fdv, &total);
	pthread_mutex_lock(&p->mu);
	p->st.scanned_procs++;
	if (n > 0)
		p->st.scanned_fds += (uint64_t)n;
	for (i = 0; i < nfound; i++)
		proc_sadd(p, found[i], pid);
	if (n >= 0)
		proc_pset_fds(p, pid, fdv, total);
	else
		free(fdv);
	if ((e = proc_pget(p, pid)) != NULL) {
		for (i = 0; i < nfound; i++)
			psock_add(e, found_fd[i]);
		/* The read stops at the socket it looks for: the last found. */
		if (hit && nfound > 0 && found[nfound - 1] == inode)
			e->hit_fd = found_fd[nfound - 1];
	}
	pthread_mutex_unlock(&p->mu);
	if (hit)
		return 1;
	if (n < 0)
		return -1;
	return cut ? -2 : 0;
}

/*
 * The cheapest try first: the few processes of user uid that owned
 * sockets last, a guess each (fd_guess), no fd table read. 1 found (*pid).
 */
int
proc_guess_owners(struct proc_query *q, uint64_t inode, uint32_t uid,
                  int32_t *pid)
{
	struct proc *p = q->p;
	int32_t who[PROC_GUESS_OWNERS];
	struct known_socks known;
	struct pentry *e;
	unsigned k, i, n = 0;
	size_t nknown;

	pthread_mutex_lock(&p->mu);
	for (k = 0; k < PROC_ACTIVE && k < p->active_n && n < PROC_GUESS_OWNERS;
	     k++) {
		e = proc_pget(p,
		              p->active[(p->active_n - 1 - k) % PROC_ACTIVE]);
		if (e == NULL || e->exit_ns != 0 || e->uid != uid ||
		    e->fdv == NULL)
			continue;
		for (i = 0; i < n && who[i] != e->tgid; i++)
			;
		if (i == n)
			who[n++] = e->tgid;
	}
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n; i++) {
		nknown = known_load(q, who[i], &known);
		if (guess_hit(q, who[i], inode, nknown, &known)) {
			*pid = who[i];
			return 1;
		}
	}
	return 0;
}

/*
 * /proc pids the cache does not know (no events, or events were lost):
 * read them in (newest first), then as candidates.
 */
void
proc_cands_unknown(struct proc_query *q)
{
	struct proc *p = q->p;
	struct pinfo *pi;
	struct pentry *e;
	struct dirent *de;
	size_t from = q->ncand, i;
	int32_t pid;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL && q->ncand < q->capcand) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (int32_t)strtol(de->d_name, NULL, 10);
		pthread_mutex_lock(&p->mu);
		e = proc_pget(p, pid);
		pthread_mutex_unlock(&p->mu);
		if (e == NULL)
			q->cand[q->ncand++] = pid;
	}
	closedir(d);
	qsort(q->cand + from, q->ncand - from, sizeof(*q->cand),
	      proc_cmp_int_desc);
	if ((pi = malloc(sizeof(*pi))) == NULL)
		return;
	for (i = from; i < q->ncand; i++) {
		proc_pinfo_read(q->cand[i], pi, true);
		if (!pi->have_status)
			continue;
		pthread_mutex_lock(&p->mu);
		if (proc_pget(p, q->cand[i]) == NULL &&
		    (e = proc_pnew(p, q->cand[i], sp_now_mono())) != NULL)
			proc_pentry_fill(p, e, pi);
		pthread_mutex_unlock(&p->mu);
	}
	free(pi);
}

/*
 * Scan the candidates from index from on. 1 found (*pid), 0 none, -2 cut
 * by the deadline.
 */
int
proc_scan_cands(struct proc_query *q, size_t from, uint64_t inode,
                uint64_t deadline, bool defer, int32_t *pid)
{
	struct proc *p = q->p;
	struct pentry *e;
	char path[64];
	struct stat st;
	size_t i, nlater = 0;
	uint32_t nfds;
	int rc, pass;

	/*
	 * A process whose number of open files (st_size of /proc/PID/fd,
	 * Linux 6.2 on) has not grown since its last read most likely did
	 * not open this socket: such ones wait for a second pass. A new
	 * socket of a process holding hundreds costs one stat() of the
	 * others.
	 */
	for (pass = defer ? 0 : 1; pass < 2; pass++) {
		for (i = from; i < q->ncand; i++) {
			if (sp_now_mono() > deadline)
				return -2;
			if (pass == 0) {
				pthread_mutex_lock(&p->mu);
				e = proc_pget(p, q->cand[i]);
				nfds = e != NULL ? e->nfds : 0;
				pthread_mutex_unlock(&p->mu);
				snprintf(path, sizeof(path), "/proc/%d/fd",
				         (int)q->cand[i]);
				if (nfds > 0 && stat(path, &st) == 0 &&
				    st.st_size > 0 &&
				    st.st_size <= (off_t)nfds) {
					/* Keep it for later, in order. */
					q->cand[from + nlater++] = q->cand[i];
					continue;
				}
			}
			rc = scan_one(q, q->cand[i], inode, deadline);
			if (rc == 1) {
				*pid = q->cand[i];
				return 1;
			}
			if (rc == -2)
				return -2;
		}
		if (pass == 0)
			q->ncand = from + nlater;
	}
	return 0;
}

static void
kin_add(int32_t *kin, size_t *n, int32_t pid, int32_t self)
{
	size_t i;

	if (pid <= 1 || pid == self || *n >= PROC_KIN_MAX)
		return;
	for (i = 0; i < *n; i++)
		if (kin[i] == pid)
			return;
	kin[(*n)++] = pid;
}

/*
 * Count a listening socket's holders among its holder's parent, children
 * and siblings (a prefork server's master and workers share it).
 */
void
proc_count_kin(struct proc_query *q, int32_t pid, uint64_t inode,
               uint64_t deadline)
{
	struct proc *p = q->p;
	int32_t kin[PROC_KIN_MAX], kids[PROC_KIN_MAX], ppid = -1;
	struct pentry *e;
	size_t n = 0, i, k;

	pthread_mutex_lock(&p->mu);
	if ((e = proc_pget(p, pid)) != NULL)
		ppid = e->ppid;
	pthread_mutex_unlock(&p->mu);
	if (ppid < 0) {
		uint32_t uid, gid;

		proc_read_status(pid, &ppid, &uid, &gid);
	}
	kin_add(kin, &n, ppid, pid);
	k = proc_read_children(pid, kids, PROC_KIN_MAX);
	for (i = 0; i < k; i++)
		kin_add(kin, &n, kids[i], pid);
	if (ppid > 1) {
		k = proc_read_children(ppid, kids, PROC_KIN_MAX);
		for (i = 0; i < k; i++)
			kin_add(kin, &n, kids[i], pid);
	}
	/* And what the cache knows, for kernels without the children file. */
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nprocs && n < PROC_KIN_MAX; i++) {
		e = proc_pget(p, p->dense[i].tgid);
		if (e->exit_ns == 0 &&
		    (e->ppid == pid || (ppid > 1 && e->ppid == ppid)))
			kin_add(kin, &n, e->tgid, pid);
	}
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n && sp_now_mono() < deadline; i++)
		scan_one(q, kin[i], inode, deadline);
}

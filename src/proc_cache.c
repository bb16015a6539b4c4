/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attribution's caches: processes by pid, socket inodes and their holders,
 * and which pids exited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_int.h"

void
proc_gone_mark(struct proc *p, int32_t pid, bool gone)
{
	uint64_t bit;

	if (p->gone == NULL || pid <= 0 || (uint32_t)pid >= p->pid_max)
		return;
	bit = 1ull << ((uint32_t)pid % 64);
	if (gone)
		__atomic_fetch_or(&p->gone[(uint32_t)pid / 64], bit,
		                  __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&p->gone[(uint32_t)pid / 64], ~bit,
		                   __ATOMIC_RELAXED);
}

bool
proc_pid_exited(struct proc *p, int32_t pid)
{
	if (p->gone == NULL || pid <= 0 || (uint32_t)pid >= p->pid_max)
		return false;
	return (__atomic_load_n(&p->gone[(uint32_t)pid / 64],
	                        __ATOMIC_RELAXED) >>
	        ((uint32_t)pid % 64)) &
	       1;
}

static size_t
pslot_of(const struct proc *p, int32_t tgid)
{
	return ((uint32_t)tgid * 2654435761u) & p->procs_mask;
}

/* The slot of tgid, or the empty slot where it would go. */
static struct pentry *
pfind(struct proc *p, int32_t tgid)
{
	size_t i = pslot_of(p, tgid);

	while (p->procs[i].tgid != 0 && p->procs[i].tgid != tgid)
		i = (i + 1) & p->procs_mask;
	return &p->procs[i];
}

struct pentry *
proc_pget(struct proc *p, int32_t tgid)
{
	struct pentry *e = pfind(p, tgid);

	return e->tgid == tgid ? e : NULL;
}

static void
pdel(struct proc *p, struct pentry *e)
{
	size_t i = (size_t)(e - p->procs), j = i, k;
	struct dent last = p->dense[p->nprocs - 1];

	p->dense[e->dense_ix] = last;
	if (last.tgid != e->tgid)
		proc_pget(p, last.tgid)->dense_ix = e->dense_ix;
	free(e->exe);
	free(e->cmdline);
	free(e->fdv);
	memset(e, 0, sizeof(*e));
	p->nprocs--;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (;;) {
		j = (j + 1) & p->procs_mask;
		if (p->procs[j].tgid == 0)
			break;
		k = pslot_of(p, p->procs[j].tgid);
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && k <= i && k > j)) {
			p->procs[i] = p->procs[j];
			memset(&p->procs[j], 0, sizeof(p->procs[j]));
			i = j;
		}
	}
}

/* Drop exited processes kept past PROC_EXITED_KEEP_NS (all of them with
 * keep 0). */
void
proc_pexpire(struct proc *p, uint64_t now, uint64_t keep)
{
	size_t i = 0;
	struct pentry *e;

	while (i < p->nprocs) {
		e = proc_pget(p, p->dense[i].tgid);
		if (e->exit_ns != 0 && e->exit_ns + keep <= now) {
			pdel(p, e); /* moves the last tgid to dense[i] */
			continue;
		}
		i++;
	}
}

/*
 * A fresh entry for tgid (replacing what was there: a pid is reused only
 * after its process is gone). NULL when the cache is full of live ones.
 */
struct pentry *
proc_pnew(struct proc *p, int32_t tgid, uint64_t now)
{
	struct pentry *e = pfind(p, tgid);
	uint32_t ix;

	if (e->tgid == tgid) {
		free(e->exe);
		free(e->cmdline);
		free(e->fdv);
		ix = e->dense_ix;
	} else {
		if (p->nprocs >= p->cfg.procs_max) {
			proc_pexpire(p, now, 0);
			if (p->nprocs >= p->cfg.procs_max)
				return NULL;
			e = pfind(p, tgid);
		}
		ix = (uint32_t)p->nprocs++;
	}
	memset(e, 0, sizeof(*e));
	e->dense_ix = ix;
	e->tgid = tgid;
	e->ppid = -1;
	e->hit_fd = -1;
	e->uid = e->gid = UINT32_MAX;
	e->gen = ++p->gen;
	proc_psync(p, e);
	return e;
}

/* After an entry's user or liveness changed. */
void
proc_psync(struct proc *p, const struct pentry *e)
{
	struct dent *d = &p->dense[e->dense_ix];

	d->tgid = e->tgid;
	d->uid = e->uid;
	d->alive = e->exit_ns == 0;
}

void
proc_pset_str(char **slot, const char *v)
{
	free(*slot);
	*slot = v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

void
proc_ring_push(int32_t *ring, unsigned *n, unsigned cap, int32_t tgid)
{
	/* A process already at the head stays there. */
	if (*n > 0 && ring[(*n - 1) % cap] == tgid)
		return;
	ring[*n % cap] = tgid;
	(*n)++;
}

static size_t
sslot_of(const struct proc *p, uint64_t inode)
{
	uint64_t h = inode * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & p->socks_mask;
}

static struct sentry *
sfind(struct proc *p, uint64_t inode)
{
	size_t i = sslot_of(p, inode);

	while (p->socks[i].inode != 0 && p->socks[i].inode != inode)
		i = (i + 1) & p->socks_mask;
	return &p->socks[i];
}

/* Record that tgid holds inode. */
void
proc_sadd(struct proc *p, uint64_t inode, int32_t tgid)
{
	struct pentry *pe = proc_pget(p, tgid);
	struct sentry *s;
	unsigned i;

	/* A process the cache does not know yet: a bare entry, filled in
	 * from /proc when it is someone's owner (owner_fill). */
	if (pe == NULL && (pe = proc_pnew(p, tgid, sp_now_mono())) == NULL)
		return;
	s = sfind(p, inode);
	if (s->inode == 0) {
		if (p->nsocks >= p->cfg.socks_max) {
			/* Full: start over; every socket is found again by
			 * a scan (counted, so a too-small cap shows). */
			memset(p->socks, 0,
			       (p->socks_mask + 1) * sizeof(*p->socks));
			p->nsocks = 0;
			p->st.socks_flushed++;
			s = sfind(p, inode);
		}
		s->inode = inode;
		p->nsocks++;
	}
	for (i = 0; i < s->n; i++) {
		if (s->h[i].tgid == tgid) {
			s->h[i].gen = pe->gen;
			return;
		}
	}
	if (s->n < PROC_HOLDERS_MAX) {
		s->h[s->n].tgid = tgid;
		s->h[s->n].gen = pe->gen;
		s->n++;
	}
}

/* Is holder h a live process now (as far as the cache knows)? */
static struct pentry *
holder_live(struct proc *p, const struct holder *h)
{
	struct pentry *pe = proc_pget(p, h->tgid);

	if (pe == NULL || pe->gen != h->gen || pe->exit_ns != 0)
		return NULL;
	return pe;
}

/* Holders of inode that the cache knows alive; the first into *pid. */
unsigned
proc_holders_live(struct proc *p, uint64_t inode, int32_t *pid)
{
	struct sentry *s = sfind(p, inode);
	unsigned i, n = 0;

	if (s->inode != inode)
		return 0;
	for (i = 0; i < s->n; i++) {
		if (holder_live(p, &s->h[i]) == NULL)
			continue;
		if (n++ == 0)
			*pid = s->h[i].tgid;
	}
	return n;
}

/* Keep fdv (n, descending) as pid's open fds; it takes fdv. p->mu held. */
void
proc_pset_fds(struct proc *p, int32_t pid, int *fdv, uint32_t n)
{
	struct pentry *e = proc_pget(p, pid);

	if (e == NULL || n > PROC_FDS_KEPT) {
		free(fdv);
		if (e != NULL) {
			free(e->fdv);
			e->fdv = NULL;
			e->nfds = n;
		}
		return;
	}
	free(e->fdv);
	e->fdv = fdv;
	e->nfds = n;
}

void
proc_pentry_fill(struct proc *p, struct pentry *e, const struct pinfo *pi)
{
	if (pi->have_status) {
		e->ppid = pi->ppid;
		e->uid = pi->uid;
		e->gid = pi->gid;
		proc_psync(p, e);
	}
	if (pi->exe[0] != '\0') {
		proc_pset_str(&e->exe, pi->exe);
		e->exe_seq_ok = false;
	}
	if (pi->cmdline[0] != '\0')
		proc_pset_str(&e->cmdline, pi->cmdline);
}

void
proc_owner_from(struct proc_owner *out, const struct pentry *e)
{
	out->pid = e->tgid;
	out->ppid = e->ppid;
	snprintf(out->exe, sizeof(out->exe), "%s", e->exe ? e->exe : "");
	snprintf(out->cmdline, sizeof(out->cmdline), "%s",
	         e->cmdline ? e->cmdline : "");
	if (out->uid == UINT32_MAX)
		out->uid = e->uid;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attribution's step 4: a socket already gone goes to the processes of its user
 * that exited meanwhile, when they all ran one program. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "proc_int.h"

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

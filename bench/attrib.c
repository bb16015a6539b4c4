/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/attrib: process attribution latency per new flow, by both methods
 * (the eBPF map, and fd tables with the proc connector) in one run, and a
 * /proc scan per lookup, with live sockets and new processes all around. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spackle/proc.h"

#define HOLDERS 5

struct opts {
	unsigned flows;   /* new flows from new processes */
	unsigned lflows;  /* new flows from long-lived processes */
	unsigned bflows;  /* new flows from the big long-lived process */
	unsigned big;     /* sockets the big one holds */
	unsigned sockets; /* live sockets around */
	unsigned rate;    /* new processes per second */
	bool same;        /* -P: proc against proc */
};

struct series {
	uint64_t *v;
	size_t n;
};

static char self_exe[4096];
static atomic_bool spawn_stop;
/* New processes started and not yet taken by measure(): the spawner waits
 * while there are SPAWN_AHEAD, so a slow turn of the bench (the baseline's
 * scan on a busy machine) cannot pile up waiting children that make /proc
 * ever longer, nor let them give up before their flow is measured. */
#define SPAWN_AHEAD 8
static atomic_int spawn_pending;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench/attrib: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(struct series *s, unsigned p)
{
	size_t i;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	i = s->n * p / 100;
	if (i >= s->n)
		i = s->n - 1;
	return (double)s->v[i] / 1000.0;
}

static void
push(struct series *s, uint64_t v)
{
	s->v[s->n++] = v;
}

/* A listening TCP socket on 127.0.0.1, its port into *port. */
static int
listen_local(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t sl = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s, 4096) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &sl) != 0)
		die("listen");
	*port = ntohs(a.sin_port);
	return s;
}

static int
connect_local(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* `attrib child PORT`: one new process, one new flow, then exit. */
static int
child_main(const char *port)
{
	int32_t pid = getpid();
	int s = connect_local((uint16_t)atoi(port));
	char go;

	struct pollfd pfd = {.fd = s, .events = POLLIN};

	if (s < 0 || write(s, &pid, sizeof(pid)) != sizeof(pid))
		return 1;
	/* Wait for the bench to be done with this flow (10 s at most). */
	if (poll(&pfd, 1, 10000) != 1 || read(s, &go, 1) < 0)
		return 1;
	return 0;
}

/* A process holding n accepted sockets until killed. */
static pid_t
start_sink(unsigned n, uint16_t *port)
{
	int ls = listen_local(port), *fds;
	pid_t pid = fork();
	unsigned i;

	if (pid != 0) {
		close(ls);
		return pid;
	}
	fds = calloc(n, sizeof(*fds));
	for (i = 0; i < n && fds != NULL; i++)
		fds[i] = accept(ls, NULL, NULL);
	for (;;)
		pause();
}

/*
 * A long-lived process: n connections to the sink, then on each byte from
 * ctl one more connection to the bench (the flow to attribute), which it
 * closes when told.
 */
static pid_t
start_holder(unsigned n, uint16_t sink, uint16_t bench, int *ctl)
{
	int p[2];
	pid_t pid;
	unsigned i;
	char b;

	if (pipe(p) != 0)
		die("pipe");
	if ((pid = fork()) != 0) {
		close(p[0]);
		*ctl = p[1];
		return pid;
	}
	close(p[1]);
	for (i = 0; i < n; i++)
		if (connect_local(sink) < 0)
			_exit(1);
	while (read(p[0], &b, 1) == 1) {
		int32_t me = getpid();
		int s = connect_local(bench);

		if (s < 0 || write(s, &me, sizeof(me)) != sizeof(me))
			_exit(1);
		if (read(s, &b, 1) < 0)
			_exit(1);
		close(s);
	}
	_exit(0);
}

struct spawner {
	uint16_t port;
	unsigned rate;
	unsigned long started;
};

/* New processes at a steady rate: each is `attrib child PORT`. */
static void *
spawn_main(void *arg)
{
	struct spawner *sp = arg;
	uint64_t next = now_ns(), step = 1000000000ull / sp->rate;
	struct timespec ts;
	char port[16];
	pid_t pid;

	snprintf(port, sizeof(port), "%u", sp->port);
	while (!atomic_load(&spawn_stop)) {
		if (atomic_load(&spawn_pending) >= SPAWN_AHEAD) {
			/* Skip this turn: the rate stays at most sp->rate. */
			next = now_ns() + step;
			ts.tv_sec = (time_t)(next / 1000000000ull);
			ts.tv_nsec = (long)(next % 1000000000ull);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
			                NULL);
			continue;
		}
		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		next += step;
		pid = fork();
		if (pid == 0) {
			execl(self_exe, "attrib", "child", port, (char *)NULL);
			_exit(127);
		}
		if (pid > 0) {
			sp->started++;
			atomic_fetch_add(&spawn_pending, 1);
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	return NULL;
}

/* The baseline: the socket by sock_diag, then /proc/ /fd/ read in order
 * until some process holds it, then its exe and cmdline. */
static int32_t
baseline_lookup(struct proc_query *q, const struct proc_flow *fl,
                struct proc_owner *o)
{
	char want[64], path[300], link[64];
	struct dirent *de, *fe;
	uint64_t inode;
	uint32_t uid;
	DIR *d, *fd;
	ssize_t n;
	int32_t found = -1;

	if (proc_sock_find(q, fl, now_ns() + 1000000000ull, &inode, &uid) != 0)
		return -1;
	snprintf(want, sizeof(want), "socket:[%llu]",
	         (unsigned long long)inode);
	if ((d = opendir("/proc")) == NULL)
		return -1;
	while (found < 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		if ((fd = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(fd)) != NULL) {
			if (fe->d_name[0] == '.')
				continue;
			n = readlinkat(dirfd(fd), fe->d_name, link,
			               sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				found = atoi(de->d_name);
				break;
			}
		}
		closedir(fd);
	}
	closedir(d);
	if (found > 0) {
		o->uid = UINT32_MAX;
		proc_read_process(found, o);
	}
	return found;
}

/* The flow of an accepted connection, seen from its client's side. */
static void
flow_of(int s, struct proc_flow *fl)
{
	struct sockaddr_in a;
	socklen_t sl = sizeof(a);

	memset(fl, 0, sizeof(*fl));
	fl->proto = SP_PROTO_TCP;
	fl->uid_hint = fl->gid_hint = UINT32_MAX;
	getpeername(s, (struct sockaddr *)&a, &sl);
	sp_addr_from_v4(&fl->local, (const uint8_t *)&a.sin_addr);
	fl->lport = ntohs(a.sin_port);
	sl = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &sl);
	sp_addr_from_v4(&fl->remote, (const uint8_t *)&a.sin_addr);
	fl->rport = ntohs(a.sin_port);
}

struct rows {
	/* each method's first lookup of the flow, then the same again */
	struct series proc, proc_again, bpf, bpf_again, base, diag;
	unsigned wrong, wrong_bpf, bpf_hits;
	size_t cap;
};

/* The two attribution methods side by side, each its own caches. */
struct methods {
	struct proc_query *proc, *bpf; /* bpf NULL: it did not load */
	struct proc_query *base;       /* sock_diag alone, the baseline */
	struct proc *pb;
	struct proc_owner *o;
};

static void
time_lookup(struct proc_query *q, const struct proc_flow *fl,
            struct proc_owner *o, struct series *s)
{
	uint64_t t0 = now_ns();

	proc_lookup(q, fl, o);
	push(s, now_ns() - t0);
}

/*
 * Accept one flow (2 s at most), time the lookups on it, let it go. The
 * flow of holder pid `want` goes to lr, any other to nr while it has room
 * (then it is let go unmeasured). Returns the flow's pid, or -1. The two
 * methods take turns at going first, so neither always finds the other's
 * reads of /proc warm, and sock_diag alone and the baseline have a query
 * of their own, so neither method's socket is always the warm one.
 */
static int32_t
measure(int ls, struct methods *m, int32_t want, struct rows *nr,
        struct rows *lr)
{
	struct pollfd pfd = {.fd = ls, .events = POLLIN};
	struct proc_owner *o = m->o;
	struct proc_stats st;
	struct proc_flow fl;
	struct rows *r;
	int32_t pid = 0;
	uint64_t t0, t1, hits = 0;
	int s;

	if (poll(&pfd, 1, 2000) != 1 || (s = accept(ls, NULL, NULL)) < 0)
		return -1;
	if (read(s, &pid, sizeof(pid)) != sizeof(pid)) {
		close(s);
		return -1;
	}
	r = want != 0 && pid == want ? lr : nr;
	if (r == nr)
		atomic_fetch_sub(&spawn_pending, 1);
	if (r->proc.n < r->cap) {
		uint64_t ino;
		uint32_t uid;
		bool bpf_first = m->bpf != NULL && r->proc.n % 2 == 1;

		flow_of(s, &fl);
		t0 = now_ns();
		proc_sock_find(m->base, &fl, t0 + 1000000000ull, &ino, &uid);
		t1 = now_ns();
		push(&r->diag, t1 - t0);
		if (m->bpf != NULL) {
			proc_stats(m->pb, &st);
			hits = st.bpf_hits + st.bpf_conn_hits;
		}
		if (bpf_first) {
			time_lookup(m->bpf, &fl, o, &r->bpf);
			if (o->pid != pid || o->exe[0] == '\0')
				r->wrong_bpf++;
		}
		time_lookup(m->proc, &fl, o, &r->proc);
		if (o->pid != pid || o->exe[0] == '\0')
			r->wrong++;
		if (m->bpf != NULL && !bpf_first) {
			time_lookup(m->bpf, &fl, o, &r->bpf);
			if (o->pid != pid || o->exe[0] == '\0')
				r->wrong_bpf++;
		}
		if (m->bpf != NULL) {
			proc_stats(m->pb, &st);
			r->bpf_hits += st.bpf_hits + st.bpf_conn_hits > hits;
			time_lookup(m->bpf, &fl, o, &r->bpf_again);
		}
		time_lookup(m->proc, &fl, o, &r->proc_again);
		t0 = now_ns();
		if (baseline_lookup(m->base, &fl, o) != pid)
			r->wrong++;
		t1 = now_ns();
		push(&r->base, t1 - t0);
	}
	if (write(s, "g", 1) < 0)
		(void)0;
	close(s);
	return pid;
}

static void
rows_init(struct rows *r, size_t cap)
{
	struct series *all[] = {&r->proc,      &r->proc_again, &r->bpf,
	                        &r->bpf_again, &r->base,       &r->diag};
	size_t i;

	memset(r, 0, sizeof(*r));
	r->cap = cap;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if ((all[i]->v = calloc(cap + 1, sizeof(uint64_t))) == NULL)
			die("calloc");
}

static void
lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		die("lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
		die("lo up");
	close(s);
}

static unsigned
count_procs(void)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir("/proc");

	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			n++;
	if (d != NULL)
		closedir(d);
	return n;
}

/* One row: p50, p99, max, and how many times faster than ref (the proc
 * method's first lookup of the same flows) at p50 and p99. */
static void
row(const char *name, struct series *s, struct series *ref)
{
	double p50 = pct(s, 50), p99 = pct(s, 99), mx = pct(s, 100);
	double r50 = pct(ref, 50), r99 = pct(ref, 99);

	if (s->n == 0)
		return;
	printf("  %-36s %5zu %9.1f %9.1f %9.1f %8.2fx %7.2fx\n", name, s->n,
	       p50, p99, mx, p50 > 0 ? r50 / p50 : 0, p99 > 0 ? r99 / p99 : 0);
}

static void
table(const char *title, struct rows *r, bool diag)
{
	printf("%s\n", title);
	row("proc: fd tables + connector", &r->proc, &r->proc);
	row("bpf: socket maps", &r->bpf, &r->proc);
	row("proc, same flow again (cached)", &r->proc_again, &r->proc);
	row("bpf, same flow again", &r->bpf_again, &r->proc);
	row("baseline: /proc/*/fd scan", &r->base, &r->proc);
	if (diag)
		row("sock_diag alone (step 1)", &r->diag, &r->proc);
}

static void
usage(void)
{
	fprintf(stderr, "usage: attrib [-n FLOWS] [-l LONG_LIVED_FLOWS] "
	                "[-b BIG_HOLDER_FLOWS] [-B BIG_HOLDER_SOCKETS] "
	                "[-s SOCKETS] [-r PROCESSES_PER_S] [-P]\n"
	                "  -P: the bpf column by the proc method too (a "
	                "check that the comparison is fair)\n"
	                "  as root: runs in a network namespace of its own\n");
}

int
main(int argc, char **argv)
{
	struct opts o = {.flows = 500,
	                 .lflows = 200,
	                 .bflows = 200,
	                 .big = 1000,
	                 .sockets = 1000,
	                 .rate = 50};
	struct proc_config pc = {.timeout_ms = PROC_TIMEOUT_DEFAULT_MS,
	                         .events = true,
	                         .initial_scan = true,
	                         .infer_exited = true};
	struct rows nr, lr, br;
	struct spawner sp;
	struct proc_stats st, sb;
	struct methods m;
	struct rlimit rl;
	struct proc *p, *pb = NULL;
	pthread_t th;
	pid_t sink, holder[HOLDERS], big;
	int ctl[HOLDERS], bctl, ls, c, i;
	uint16_t port, sport;
	unsigned procs, wrong;
	uint64_t t0, t1;
	char err[512], why[512];
	ssize_t n;

	if (argc == 3 && strcmp(argv[1], "child") == 0)
		return child_main(argv[2]);
	while ((c = getopt(argc, argv, "n:l:b:B:s:r:Ph")) != -1) {
		switch (c) {
		case 'n':
			o.flows = (unsigned)atoi(optarg);
			break;
		case 'l':
			o.lflows = (unsigned)atoi(optarg);
			break;
		case 'b':
			o.bflows = (unsigned)atoi(optarg);
			break;
		case 'B':
			o.big = (unsigned)atoi(optarg);
			break;
		case 's':
			o.sockets = (unsigned)atoi(optarg);
			break;
		case 'r':
			o.rate = (unsigned)atoi(optarg);
			break;
		case 'P':
			o.same = true;
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (o.flows == 0 || o.rate == 0 || o.sockets < 2 * HOLDERS) {
		usage();
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench/attrib: needs root (a network namespace "
		                "of its own, the proc connector, eBPF)\n");
		return 77;
	}
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		die("/proc/self/exe");
	self_exe[n] = '\0';
	signal(SIGPIPE, SIG_IGN);
	/* The sink and the big holder keep more than 1024 files open. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
		rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (unshare(CLONE_NEWNET) != 0)
		die("unshare(CLONE_NEWNET)");
	lo_up();

	/* The live sockets: o.sockets / 2 connections from the holders to a
	 * sink, each end a socket, and the big holder's o.big. */
	ls = listen_local(&port);
	sink = start_sink(o.sockets / 2 + o.big, &sport);
	for (i = 0; i < HOLDERS; i++)
		holder[i] = start_holder(o.sockets / 2 / HOLDERS, sport, port,
		                         &ctl[i]);
	big = start_holder(o.big, sport, port, &bctl);
	sleep(1);

	/* Both methods, each with its own caches and connector threads;
	 * the eBPF program sees only sockets made from here on (the live
	 * ones above are older: as for a daemon started after them). */
	if (proc_new(&p, &pc, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench/attrib: %s\n", err);
		return 2;
	}
	if (err[0] != '\0')
		fprintf(stderr, "bench/attrib: %s\n", err);
	/* -P: the second one by the proc method too, to see that the
	 * comparison is fair (both columns alike). */
	pc.method = o.same ? PROC_ATTRIB_PROC : PROC_ATTRIB_BPF;
	why[0] = '\0';
	if (proc_new(&pb, &pc, why, sizeof(why)) != 0) {
		fprintf(stderr, "bench/attrib: %s; the proc method alone\n",
		        why);
		pb = NULL;
	}
	memset(&m, 0, sizeof(m));
	m.pb = pb;
	if ((m.proc = proc_query_new(p, err, sizeof(err))) == NULL ||
	    (m.base = proc_query_new(p, err, sizeof(err))) == NULL ||
	    (pb != NULL &&
	     (m.bpf = proc_query_new(pb, err, sizeof(err))) == NULL) ||
	    (m.o = malloc(sizeof(*m.o))) == NULL) {
		fprintf(stderr, "bench/attrib: %s\n", err);
		return 2;
	}
	rows_init(&nr, o.flows);
	rows_init(&lr, o.lflows);
	rows_init(&br, o.bflows);

	/* New processes, each with a new flow, 50 a second. */
	memset(&sp, 0, sizeof(sp));
	sp.port = port;
	sp.rate = o.rate;
	atomic_init(&spawn_stop, false);
	atomic_init(&spawn_pending, 0);
	if (pthread_create(&th, NULL, spawn_main, &sp) != 0)
		die("pthread_create");
	t0 = now_ns();
	procs = count_procs();
	while (nr.proc.n < o.flows)
		if (measure(ls, &m, 0, &nr, &lr) < 0)
			break;
	t1 = now_ns();
	/* New flows of long-lived processes with many sockets, while new
	 * processes keep coming (and are let go as they come). */
	for (unsigned k = 0; k < o.lflows; k++) {
		int32_t got;

		if (write(ctl[k % HOLDERS], "c", 1) != 1)
			break;
		while ((got = measure(ls, &m, holder[k % HOLDERS], &nr, &lr)) >=
		               0 &&
		       got != holder[k % HOLDERS])
			;
		if (got < 0)
			break;
	}
	for (unsigned k = 0; k < o.bflows; k++) {
		int32_t got;

		if (write(bctl, "c", 1) != 1)
			break;
		while ((got = measure(ls, &m, big, &nr, &br)) >= 0 &&
		       got != big)
			;
		if (got < 0)
			break;
	}
	atomic_store(&spawn_stop, true);
	pthread_join(th, NULL);
	proc_stats(p, &st);
	memset(&sb, 0, sizeof(sb));
	if (pb != NULL)
		proc_stats(pb, &sb);

	printf("bench/attrib: process attribution per new flow (us), both "
	       "methods, in a network namespace\n");
	printf("  %u live sockets (%d processes holding %u each, one "
	       "holding %u) and one process holding %u, %u processes in "
	       "/proc, %.1f new processes/s (%lu started)\n",
	       o.sockets, HOLDERS, o.sockets / 2 / HOLDERS,
	       o.sockets / 2 + o.big, o.big, procs,
	       (double)sp.started * 1e9 / (double)(now_ns() - t0), sp.started);
	printf("  proc: connector %s; %llu lookups, %llu socket-cache hits, "
	       "%llu scans reading %.1f processes each\n",
	       st.events_on ? "on" : "OFF", (unsigned long long)st.lookups,
	       (unsigned long long)st.sock_hits, (unsigned long long)st.scans,
	       st.scans ? (double)st.scanned_procs / (double)st.scans : 0.0);
	printf("  bpf:  %s; %llu lookups, %llu by the connections map (no "
	       "sock_diag), %llu by the socket map, %llu misses, %llu scans\n",
	       pb != NULL ? proc_method(pb) : why,
	       (unsigned long long)sb.lookups,
	       (unsigned long long)sb.bpf_conn_hits,
	       (unsigned long long)sb.bpf_hits,
	       (unsigned long long)sb.bpf_misses, (unsigned long long)sb.scans);
	printf("  x: how many times faster than the proc method's first "
	       "lookup of the same flows\n");
	printf("  baseline: sock_diag, then /proc/*/fd read in order until "
	       "the socket's holder, then its exe and cmdline\n\n");
	printf("  %-36s %5s %9s %9s %9s %9s %8s\n", "new flow", "n", "p50",
	       "p99", "max", "p50 x", "p99 x");
	table("new process (cache warm)", &nr, true);
	table("long-lived process, 100 sockets", &lr, false);
	snprintf(err, sizeof(err), "long-lived process, %u sockets", o.big);
	table(err, &br, false);
	wrong = nr.wrong + lr.wrong + br.wrong + nr.wrong_bpf + lr.wrong_bpf +
	        br.wrong_bpf;
	printf("\nwrong or missing owners: proc %u of %zu, %u of %zu, %u of "
	       "%zu (long-lived); bpf %u, %u, %u; bpf hits %u of %zu, %u of "
	       "%zu, %u of %zu; first part %.1f s\n",
	       nr.wrong, nr.proc.n, lr.wrong, lr.proc.n, br.wrong, br.proc.n,
	       nr.wrong_bpf, lr.wrong_bpf, br.wrong_bpf, nr.bpf_hits, nr.bpf.n,
	       lr.bpf_hits, lr.bpf.n, br.bpf_hits, br.bpf.n,
	       (double)(t1 - t0) / 1e9);

	fflush(stdout);
	/* Children still waiting for their turn see the listener go. */
	close(ls);
	for (i = 0; i < HOLDERS; i++) {
		close(ctl[i]);
		kill(holder[i], SIGKILL);
	}
	close(bctl);
	kill(big, SIGKILL);
	kill(sink, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	proc_query_free(m.proc);
	proc_query_free(m.base);
	proc_query_free(m.bpf);
	proc_free(p);
	proc_free(pb);
	free(m.o);
	return wrong == 0 ? 0 : 1;
}

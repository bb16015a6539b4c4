/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attribution: sockets of this process found by 5-tuple, listeners and
 * wildcard UDP, shared sockets, gone sockets, and (as root, with the proc
 * connector) a process that sent one datagram and exited at once. The two
 * methods (attribution = bpf, proc): test_proc_bpf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "spackle/config.h"
#include "spackle/proc.h"

static char self_exe[SP_PATH_MAX];
/* The short-lived senders run as this user, the client of test_reused_fd
 * as test_uid + 2; test_uid + 1 is a user with no process. */
static uid_t test_uid;

static uint64_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
sa_to(const struct sockaddr_storage *ss, struct sp_addr *a, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		sp_addr_from_v4(a, (const uint8_t *)&s4->sin_addr);
		*port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		sp_addr_from_v6(a, (const uint8_t *)&s6->sin6_addr);
		*port = ntohs(s6->sin6_port);
	}
}

/* The flow of a connected socket s, seen from its own side. */
static void
flow_of(int s, uint8_t proto, struct proc_flow *fl)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(fl, 0, sizeof(*fl));
	fl->proto = proto;
	fl->uid_hint = fl->gid_hint = UINT32_MAX;
	assert_int_equal(getsockname(s, (struct sockaddr *)&ss, &sl), 0);
	sa_to(&ss, &fl->local, &fl->lport);
	sl = sizeof(ss);
	assert_int_equal(getpeername(s, (struct sockaddr *)&ss, &sl), 0);
	sa_to(&ss, &fl->remote, &fl->rport);
}

static int
listener(int family, int type, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int s = socket(family, type | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		        htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	assert_int_equal(bind(s, (struct sockaddr *)&ss,
	                      family == AF_INET ? sizeof(struct sockaddr_in)
	                                        : sizeof(struct sockaddr_in6)),
	                 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&ss, &sl), 0);
	*port = ntohs(family == AF_INET
	                      ? ((struct sockaddr_in *)&ss)->sin_port
	                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return s;
}

static int
connect_to(int family, int type, uint16_t port)
{
	struct sockaddr_storage ss;
	int s = socket(family, type | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		        htonl(INADDR_LOOPBACK);
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	}
	assert_int_equal(connect(s, (struct sockaddr *)&ss,
	                         family == AF_INET
	                                 ? sizeof(struct sockaddr_in)
	                                 : sizeof(struct sockaddr_in6)),
	                 0);
	return s;
}

struct fixture {
	struct proc *p;
	struct proc_query *q;
};

/*
 * The deadline of the fixture's lookups: the most attrib_timeout_ms takes.
 * None of these tests is about the deadline (test_bounded is): on a loaded
 * machine a lookup must not turn into a timeout and fail a test of who
 * owns a socket.
 */
#define LOOKUP_TIMEOUT_MS 10000

static int
setup(void **state)
{
	struct proc_config cfg = {.timeout_ms = LOOKUP_TIMEOUT_MS,
	                          .events = geteuid() == 0,
	                          .initial_scan = true,
	                          .infer_exited = true};
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[512];

	assert_non_null(fx);
	assert_int_equal(proc_new(&fx->p, &cfg, err, sizeof(err)), 0);
	if (err[0] != '\0')
		fprintf(stderr, "# %s\n", err);
	fx->q = proc_query_new(fx->p, err, sizeof(err));
	assert_non_null(fx->q);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct proc_stats st;

	proc_stats(fx->p, &st);
	fprintf(stderr,
	        "# lookups %llu found %llu exited %llu unknown %llu timeouts "
	        "%llu; execs %llu, exe missed %llu, exec lag max %llu us\n",
	        (unsigned long long)st.lookups, (unsigned long long)st.found,
	        (unsigned long long)st.exited, (unsigned long long)st.unknown,
	        (unsigned long long)st.timeouts, (unsigned long long)st.execs,
	        (unsigned long long)st.exec_missed,
	        (unsigned long long)st.exec_lag_max_ns / 1000);

	proc_query_free(fx->q);
	proc_free(fx->p);
	free(fx);
	return 0;
}

static void
expect_me(const struct proc_owner *o)
{
	assert_int_equal(o->how, PROC_HOW_SOCKET);
	assert_int_equal(o->pid, getpid());
	assert_int_equal(o->ppid, getppid());
	assert_int_equal(o->uid, geteuid());
	assert_string_equal(o->exe, self_exe);
	assert_non_null(strstr(o->cmdline, "test_proc"));
	assert_true(o->inode != 0);
}

/* TCP both families: the connecting side, then (as an inbound connection
 * would be) the listener. */
static void
test_tcp(void **state)
{
	struct fixture *fx = *state;
	static const int fams[2] = {AF_INET, AF_INET6};
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_flow fl, in;
	uint16_t port;
	int f, ls, cs, as;

	assert_non_null(o);
	for (f = 0; f < 2; f++) {
		ls = listener(fams[f], SOCK_STREAM, &port);
		cs = connect_to(fams[f], SOCK_STREAM, port);
		as = accept(ls, NULL, NULL);
		assert_true(as >= 0);
		flow_of(cs, SP_PROTO_TCP, &fl);
		assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_SOCKET);
		expect_me(o);
		/* Found again from the cache. */
		assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_SOCKET);
		expect_me(o);
		/* A new inbound connection: the listening socket. */
		in = fl;
		in.local = fl.remote;
		in.lport = port;
		in.remote = fl.local;
		in.rport = (uint16_t)(fl.lport + 1);
		assert_int_equal(proc_lookup(fx->q, &in, o), PROC_HOW_SOCKET);
		expect_me(o);
		assert_int_equal(o->nprocs, 1);
		close(as);
		close(cs);
		close(ls);
	}
	free(o);
}

/*
 * A connection waiting in the accept queue, seen from the server's side
 * (its packets reach spackle before the server accepts it): the kernel's
 * socket has no file yet, as a closing one has. Its owner is the
 * listener's process, found at once; before, this was taken for a socket
 * closed by an exiting process and waited for an exit.
 */
static void
test_accept_queue(void **state)
{
	struct fixture *fx = *state;
	static const int fams[2] = {AF_INET, AF_INET6};
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_flow cl, sv;
	uint16_t port;
	int f, ls, cs;

	assert_non_null(o);
	for (f = 0; f < 2; f++) {
		ls = listener(fams[f], SOCK_STREAM, &port);
		cs = connect_to(fams[f], SOCK_STREAM, port); /* not accepted */
		flow_of(cs, SP_PROTO_TCP, &cl);
		sv = cl;
		sv.local = cl.remote;
		sv.lport = cl.rport;
		sv.remote = cl.local;
		sv.rport = cl.lport;
		assert_int_equal(proc_lookup(fx->q, &sv, o), PROC_HOW_SOCKET);
		expect_me(o);
		close(cs);
		close(ls);
	}
	free(o);
}

/* In a child: run as uid alone, a user no other process of the machine
 * runs as (the test runs as root). */
static void
child_become(uid_t uid)
{
	if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
		_exit(126);
}

/*
 * The client of test_reused_fd, in a child: connect to 127.0.0.1:port, tell
 * the parent the fd, wait for its byte, close, again, REUSED_ROUNDS times.
 * It holds nothing else (its fds past stderr closed) and runs one thread,
 * so each new socket gets the number the last one had, as in a client
 * program. In the test's own process the attribution's threads open files
 * now and then and may take that number first.
 *
 * As root it runs as a user of its own (uid): the first lookup may come
 * before the cache has seen the fork (the connector's thread lags on a
 * busy machine); then no live process of the socket's user holds it, and
 * the exits of that user are looked at first (step 4), which must not be
 * the busy machine's root processes.
 */
#define REUSED_ROUNDS 20

static void
reused_client(uid_t uid, uint16_t port, int go, int rep, int held)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int i, s, fd;
	char ch;

	if (uid != geteuid())
		child_become(uid);
	if (dup2(go, 0) != 0 || dup2(rep, 1) != 1)
		_exit(1);
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	/*
	 * A busy client: sockets it keeps open below the one it reuses,
	 * bound to 127.0.0.1; the lowest one's port goes to the parent, which
	 * looks it up (as the daemon looked up each when it began) and says
	 * when to go on.
	 */
	for (i = 0; i < held; i++) {
		struct sockaddr_in b = {.sin_family = AF_INET};
		socklen_t blen = sizeof(b);

		b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&b, sizeof(b)) != 0 ||
		    getsockname(s, (struct sockaddr *)&b, &blen) != 0)
			_exit(3);
		if (i == 0)
			fd = ntohs(b.sin_port);
	}
	if (held > 0 &&
	    (write(1, &fd, sizeof(fd)) != sizeof(fd) || read(0, &ch, 1) != 1))
		_exit(4);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	for (i = 0; i < REUSED_ROUNDS; i++) {
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 ||
		    connect(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    write(1, &s, sizeof(s)) != sizeof(s) ||
		    read(0, &ch, 1) != 1)
			_exit(2);
		close(s);
	}
	_exit(0);
}

/*
 * A process that closes a socket and opens the next (a client connecting
 * again and again) gets the same fd number: each new socket is found by a
 * guess at that number, without reading the fd table, and found right (its
 * own inode, not the closed one's). With held sockets the client keeps that
 * many open below it: the guess still finds the new one, and no round reads
 * the table (it was read once, at the first).
 */
static void
reused_rounds(struct fixture *fx, int held)
{
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_stats before, after;
	struct proc_flow fl, mine;
	uid_t uid = geteuid() == 0 ? test_uid + 2 : geteuid();
	uint64_t last = 0;
	uint16_t port;
	int i, ls, as, fd, fd0 = -1, go[2], rep[2], st;
	pid_t child;

	assert_non_null(o);
	ls = listener(AF_INET, SOCK_STREAM, &port);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(rep), 0);
	proc_stats(fx->p, &before);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		reused_client(uid, port, go[0], rep[1], held);
	close(go[0]);
	close(rep[1]);
	if (held > 0) {
		/* The held sockets seen: the lowest one looked up, which reads
		 * the client's table (every socket in it recorded). */
		assert_int_equal(read(rep[0], &fd, sizeof(fd)), sizeof(fd));
		memset(&fl, 0, sizeof(fl));
		fl.proto = SP_PROTO_UDP;
		fl.uid_hint = fl.gid_hint = UINT32_MAX;
		assert_true(sp_addr_parse(&fl.local, "127.0.0.1"));
		assert_true(sp_addr_parse(&fl.remote, "127.0.0.9"));
		fl.lport = (uint16_t)fd;
		fl.rport = 5353;
		assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_SOCKET);
		assert_int_equal(o->pid, child);
		proc_stats(fx->p, &before);
		assert_int_equal(write(go[1], "x", 1), 1);
	}
	for (i = 0; i < REUSED_ROUNDS; i++) {
		assert_int_equal(read(rep[0], &fd, sizeof(fd)), sizeof(fd));
		if (fd0 < 0)
			fd0 = fd;
		assert_int_equal(fd, fd0);
		as = accept(ls, NULL, NULL);
		assert_true(as >= 0);
		/* The client's side of the connection. */
		flow_of(as, SP_PROTO_TCP, &mine);
		fl = mine;
		fl.local = mine.remote;
		fl.lport = mine.rport;
		fl.remote = mine.local;
		fl.rport = mine.lport;
		assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_SOCKET);
		assert_int_equal(o->pid, child);
		assert_int_equal(o->ppid, getpid());
		assert_int_equal(o->uid, uid);
		assert_string_equal(o->exe, self_exe);
		assert_non_null(strstr(o->cmdline, "test_proc"));
		assert_int_equal(o->nprocs, 1);
		assert_true(o->inode != 0 && o->inode != last);
		last = o->inode;
		close(as);
		assert_int_equal(write(go[1], "x", 1), 1);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	proc_stats(fx->p, &after);
	/* The first may need a read of the table; the others are guesses. */
	assert_true(after.fd_guesses - before.fd_guesses >= REUSED_ROUNDS - 1);
	/* No round reads the held sockets again: at most one small table
	 * read (the first round's, when nothing was held); reading them
	 * each round would be 20 times held. */
	assert_true(after.scanned_fds - before.scanned_fds <= 16);
	close(go[1]);
	close(rep[0]);
	close(ls);
	free(o);
}

static void
test_reused_fd(void **state)
{
	reused_rounds(*state, 0);
}

/* A client holding 300 sockets (a browser, a database pool). */
static void
test_reused_fd_busy(void **state)
{
	reused_rounds(*state, 300);
}

/* UDP: a connected socket, and an unconnected one bound to a port that
 * sends anywhere (found by its local port). */
static void
test_udp(void **state)
{
	struct fixture *fx = *state;
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_flow fl;
	uint16_t port;
	int s, c;

	assert_non_null(o);
	s = listener(AF_INET, SOCK_DGRAM, &port);
	c = connect_to(AF_INET, SOCK_DGRAM, port);
	flow_of(c, SP_PROTO_UDP, &fl);
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_SOCKET);
	expect_me(o);
	/* s is unconnected: any remote finds it by its port. */
	memset(&fl, 0, sizeof(fl));
	fl.proto = SP_PROTO_UDP;
	fl.uid_hint = fl.gid_hint = UINT32_MAX;
	assert_true(sp_addr_parse(&fl.local, "127.0.0.1"));
	assert_true(sp_addr_parse(&fl.remote, "127.0.0.9"));
	fl.lport = port;
	fl.rport = 5353;
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_SOCKET);
	expect_me(o);
	close(c);
	close(s);
	free(o);
}

/* A socket nobody has: unknown, quickly, with the hint as uid. */
static void
test_gone(void **state)
{
	struct fixture *fx = *state;
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_flow fl;
	struct proc_stats st;

	assert_non_null(o);
	memset(&fl, 0, sizeof(fl));
	fl.proto = SP_PROTO_TCP;
	fl.uid_hint = 4321;
	fl.gid_hint = UINT32_MAX;
	assert_true(sp_addr_parse(&fl.local, "127.0.0.1"));
	assert_true(sp_addr_parse(&fl.remote, "127.0.0.2"));
	fl.lport = 1;
	fl.rport = 2;
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_UNKNOWN);
	assert_int_equal(o->pid, -1);
	assert_int_equal(o->uid, 4321);
	assert_string_equal(o->exe, "");
	proc_stats(fx->p, &st);
	assert_true(st.no_socket >= 1);
	/* Not TCP or UDP: nothing to look up. */
	fl.proto = SP_PROTO_ICMP;
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_NONE);
	free(o);
}

/* A listening socket shared by a forked child counts both. */
static void
test_shared(void **state)
{
	struct fixture *fx = *state;
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_flow fl;
	int ls, pfd[2], st;
	uint16_t port;
	pid_t child;
	char ch;

	assert_non_null(o);
	ls = listener(AF_INET, SOCK_STREAM, &port);
	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* Hold ls until the parent closes the pipe. */
		close(pfd[1]);
		if (read(pfd[0], &ch, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[0]);
	memset(&fl, 0, sizeof(fl));
	fl.proto = SP_PROTO_TCP;
	fl.uid_hint = fl.gid_hint = UINT32_MAX;
	assert_true(sp_addr_parse(&fl.local, "127.0.0.1"));
	assert_true(sp_addr_parse(&fl.remote, "127.0.0.7"));
	fl.lport = port;
	fl.rport = 40000;
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_SOCKET);
	assert_true(o->pid == getpid() || o->pid == child);
	assert_int_equal(o->nprocs, 2);
	close(pfd[1]);
	assert_int_equal(waitpid(child, &st, 0), child);
	close(ls);
	free(o);
}

struct thr {
	struct proc *p;
	int ok;
};

static void *
thr_main(void *arg)
{
	struct thr *t = arg;
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_query *q;
	struct proc_flow fl;
	char err[256];
	uint16_t port;
	int i, ls, cs, as;

	q = proc_query_new(t->p, err, sizeof(err));
	if (q == NULL || o == NULL)
		return NULL;
	for (i = 0; i < 50; i++) {
		ls = listener(AF_INET, SOCK_STREAM, &port);
		cs = connect_to(AF_INET, SOCK_STREAM, port);
		as = accept(ls, NULL, NULL);
		flow_of(cs, SP_PROTO_TCP, &fl);
		if (proc_lookup(q, &fl, o) == PROC_HOW_SOCKET &&
		    o->pid == getpid() && strcmp(o->exe, self_exe) == 0)
			t->ok++;
		close(as);
		close(cs);
		close(ls);
	}
	proc_query_free(q);
	free(o);
	return NULL;
}

/* Four threads, each with its own query, one shared cache. */
static void
test_threads(void **state)
{
	struct fixture *fx = *state;
	struct thr t[4];
	pthread_t th[4];
	int i;

	for (i = 0; i < 4; i++) {
		t[i].p = fx->p;
		t[i].ok = 0;
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]),
		                 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].ok, 50);
	}
}

/*
 * Wait for a byte on stdin, send one datagram to 127.0.0.1:PORT from an
 * unconnected socket, then print the local port and the time
 * (CLOCK_MONOTONIC ns) taken just before the sending. In a forked sender,
 * or started again as "child-udp PORT".
 */
static int
child_udp(const char *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct sockaddr_in me;
	socklen_t sl = sizeof(me);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	char line[48], ch;
	uint64_t t;
	int n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)atoi(port));
	if (s < 0 || read(0, &ch, 1) != 1)
		return 1;
	t = mono();
	if (sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) != 1 ||
	    getsockname(s, (struct sockaddr *)&me, &sl) != 0)
		return 1;
	n = snprintf(line, sizeof(line), "%u %llu\n", ntohs(me.sin_port),
	             (unsigned long long)t);
	return write(1, line, (size_t)n) == n ? 0 : 1;
}

/*
 * A sender as test_uid (a user of its own: no other process of the machine
 * exits as it) which, when told, sends one datagram and exits at once: a
 * fork of this process, or `exe child-udp PORT`.
 *
 * A fork runs what this process runs, which the cache knows from the
 * fork. A program started anew is known only if the exec readers read it
 * before it exits, which they cannot promise on a machine busy starting
 * programs (proc_connector.c, "Scheduling"): it serves only where its
 * executable may stay unknown.
 */
struct sender {
	pid_t pid;
	int go, rep;    /* its stdin and stdout */
	uint16_t lport; /* its socket's port */
};

static void
sender_start(struct sender *sd, const char *exe, uint16_t port)
{
	char arg[16];
	int go[2], rep[2];

	snprintf(arg, sizeof(arg), "%u", port);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(rep), 0);
	sd->pid = fork();
	assert_true(sd->pid >= 0);
	if (sd->pid == 0) {
		if (dup2(go[0], 0) != 0 || dup2(rep[1], 1) != 1)
			_exit(125);
		close(go[0]);
		close(go[1]);
		close(rep[0]);
		close(rep[1]);
		child_become(test_uid);
		if (exe == NULL)
			_exit(child_udp(arg));
		execl(exe, "test_proc", "child-udp", arg, (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	close(rep[1]);
	sd->go = go[1];
	sd->rep = rep[0];
}

/*
 * Started senders send together, and exit. *sent: the time before the
 * first sent, where the exits a lookup looks at begin (no fork of theirs
 * falls among them).
 */
static void
senders_run(struct sender *sd, size_t n, uint64_t *sent)
{
	unsigned long long t;
	char buf[64];
	unsigned lp;
	ssize_t len;
	size_t i;
	int st;

	for (i = 0; i < n; i++)
		assert_int_equal(write(sd[i].go, "x", 1), 1);
	*sent = UINT64_MAX;
	for (i = 0; i < n; i++) {
		len = read(sd[i].rep, buf, sizeof(buf) - 1);
		assert_true(len > 0);
		buf[len] = '\0';
		assert_int_equal(sscanf(buf, "%u %llu", &lp, &t), 2);
		sd[i].lport = (uint16_t)lp;
		if (t < *sent)
			*sent = t;
		assert_int_equal(waitpid(sd[i].pid, &st, 0), sd[i].pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		close(sd[i].go);
		close(sd[i].rep);
	}
}

/* The flow of a sender's datagram; it was sent after `after`. */
static void
sender_flow(struct proc_flow *fl, uint16_t lport, uint16_t port, uint64_t after)
{
	memset(fl, 0, sizeof(*fl));
	fl->proto = SP_PROTO_UDP;
	assert_true(sp_addr_parse(&fl->local, "127.0.0.1"));
	assert_true(sp_addr_parse(&fl->remote, "127.0.0.1"));
	fl->lport = lport;
	fl->rport = port;
	fl->uid_hint = test_uid;
	fl->gid_hint = test_uid;
	fl->sent_after_ns = after;
}

/* A copy of this program under another path, for a second executable. */
static void
copy_self(char *path, size_t len)
{
	char cmd[SP_PATH_MAX * 2 + 32];
	int fd;

	snprintf(path, len, "/tmp/spackle-test-proc-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 755 '%s'", self_exe,
	         path, path);
	assert_int_equal(system(cmd), 0);
}

/*
 * The short-lived case, as root (the proc connector needs it): the sender
 * exited before the lookup, so its socket is gone; the processes of its
 * user that exited since it sent all ran one executable, so that is the
 * owner. When they ran different executables the answer is unknown, not a
 * guess.
 */
static void
test_exited(void **state)
{
	struct fixture *fx = *state;
	static struct proc_owner owner;
	struct proc_owner *o = &owner;
	struct proc_flow fl;
	struct proc_stats st;
	struct sender sd[2];
	char other[64];
	uint16_t port;
	uint64_t sent;
	int s;

	proc_stats(fx->p, &st);
	if (!st.events_on)
		skip();
	s = listener(AF_INET, SOCK_DGRAM, &port);
	sender_start(&sd[0], NULL, port);
	senders_run(sd, 1, &sent);
	sender_flow(&fl, sd[0].lport, port, sent);
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_EXITED);
	assert_int_equal(o->pid, sd[0].pid);
	assert_int_equal(o->ppid, getpid());
	assert_string_equal(o->exe, self_exe);
	assert_non_null(strstr(o->cmdline, "test_proc"));
	assert_int_equal(o->uid, test_uid);
	assert_int_equal(o->nprocs, 1);

	/* Two senders of one executable: it, one of them, and the count. */
	sender_start(&sd[0], NULL, port);
	sender_start(&sd[1], NULL, port);
	senders_run(sd, 2, &sent);
	sender_flow(&fl, sd[0].lport, port, sent);
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_EXITED);
	assert_true(o->pid == sd[0].pid || o->pid == sd[1].pid);
	assert_int_equal(o->nprocs, 2);
	assert_string_equal(o->exe, self_exe);
	assert_int_equal(o->uid, test_uid);

	/* Two executables: no guess. */
	copy_self(other, sizeof(other));
	sender_start(&sd[0], NULL, port);
	sender_start(&sd[1], other, port);
	senders_run(sd, 2, &sent);
	sender_flow(&fl, sd[0].lport, port, sent);
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_UNKNOWN);
	assert_int_equal(o->pid, -1);
	assert_string_equal(o->exe, "");
	unlink(other);

	/* Another user's exit is no candidate. */
	sender_start(&sd[0], NULL, port);
	senders_run(sd, 1, &sent);
	sender_flow(&fl, sd[0].lport, port, sent);
	fl.uid_hint = test_uid + 1;
	fl.gid_hint = test_uid + 1;
	assert_int_equal(proc_lookup(fx->q, &fl, o), PROC_HOW_UNKNOWN);
	assert_int_equal(o->pid, -1);
	close(s);
}

static atomic_uint exit_calls;

static void
exit_counted(void *arg)
{
	(void)arg;
	atomic_fetch_add(&exit_calls, 1);
}

/* A child that forks a grandchild, waits for it, and exits: the
 * grandchild's parent is the child, the child's is this process. */
static void
child_and_grandchild(void)
{
	pid_t c = fork(), g;
	int st;

	assert_true(c >= 0);
	if (c == 0) {
		g = fork();
		if (g == 0)
			_exit(0);
		_exit(g > 0 && waitpid(g, &st, 0) == g ? 0 : 1);
	}
	assert_int_equal(waitpid(c, &st, 0), c);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Until the connector has read `want` exits of this process's children
 * (10 s at most): the exits before them are read too, in order. */
static void
own_exits_wait(struct proc *p, uint64_t want, struct proc_stats *st)
{
	int i;

	for (i = 0; i < 1000; i++) {
		proc_stats(p, st);
		if (st->own_exits >= want)
			return;
		usleep(10000);
	}
	fail_msg("the connector read %llu exits of this process's children "
	         "in 10 s, want %llu",
	         (unsigned long long)st->own_exits, (unsigned long long)want);
}

/*
 * The exit hook (a daemon's workers note when their queues were empty on
 * it): called for another process's exit, not for this process's own
 * child's (the daemon's firewall reads), and not once turned off. Other
 * processes of the machine may exit too, so a call is asked for, not a
 * count.
 */
static void
test_exit_hook(void **state)
{
	struct fixture *fx = *state;
	struct proc_stats st0, st;
	unsigned calls;

	proc_stats(fx->p, &st0);
	if (!st0.events_on)
		skip();
	atomic_store(&exit_calls, 0);
	proc_on_exit(fx->p, exit_counted, NULL);
	child_and_grandchild();
	own_exits_wait(fx->p, st0.own_exits + 1, &st);
	assert_int_equal(st.own_exits, st0.own_exits + 1);
	assert_true(st.exits >= st0.exits + 2);
	assert_true(atomic_load(&exit_calls) >= 1);

	proc_on_exit(fx->p, NULL, NULL);
	calls = atomic_load(&exit_calls);
	child_and_grandchild();
	own_exits_wait(fx->p, st0.own_exits + 2, &st);
	assert_int_equal(atomic_load(&exit_calls), calls);
}

/*
 * A deadline of 1 ms, no events and no first scan (every lookup has fd
 * tables to read): each lookup returns, with its owner or a timeout that
 * says why and names no one, and each is counted in the stats by its
 * outcome, with the time it took. How fast is not asserted (bench/attrib
 * measures it): a loaded machine may take longer than any bound.
 */
static void
test_bounded(void **state)
{
	struct proc_config cfg = {.timeout_ms = 1, .initial_scan = false};
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_query *q;
	struct proc_flow fl;
	struct proc_stats st;
	struct proc *p;
	char err[256];
	uint16_t port;
	uint64_t took = 0, found = 0, timeouts = 0;
	int ls, cs, as, i;

	(void)state;
	assert_non_null(o);
	assert_int_equal(proc_new(&p, &cfg, err, sizeof(err)), 0);
	q = proc_query_new(p, err, sizeof(err));
	assert_non_null(q);
	for (i = 0; i < 20; i++) {
		ls = listener(AF_INET, SOCK_STREAM, &port);
		cs = connect_to(AF_INET, SOCK_STREAM, port);
		as = accept(ls, NULL, NULL);
		flow_of(cs, SP_PROTO_TCP, &fl);
		switch (proc_lookup(q, &fl, o)) {
		case PROC_HOW_SOCKET:
			expect_me(o);
			found++;
			break;
		case PROC_HOW_TIMEOUT:
			assert_int_equal(o->how, PROC_HOW_TIMEOUT);
			assert_non_null(o->why);
			assert_non_null(strstr(o->why, "deadline"));
			assert_int_equal(o->pid, -1);
			assert_string_equal(o->exe, "");
			timeouts++;
			break;
		default:
			fail_msg("lookup %d: %s (%s)", i, proc_how_name(o->how),
			         o->why != NULL ? o->why : "");
		}
		took += o->took_ns;
		close(as);
		close(cs);
		close(ls);
	}
	proc_stats(p, &st);
	assert_int_equal(st.lookups, 20);
	assert_int_equal(st.found, found);
	assert_int_equal(st.timeouts, timeouts);
	assert_int_equal(st.exited + st.unknown, 0);
	assert_int_equal(st.took_ns, took);
	proc_query_free(q);
	proc_free(p);
	free(o);
}

/* attrib_timeout_ms: the default, a value, and values refused. */
static void
test_config_key(void **state)
{
	struct config c;
	FILE *err = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(err);
	config_defaults(&c);
	assert_int_equal(c.attrib_timeout_ms, PROC_TIMEOUT_DEFAULT_MS);
	assert_int_equal(config_parse(&c, "t", "attrib_timeout_ms = 7\n", err),
	                 0);
	assert_int_equal(c.attrib_timeout_ms, 7);
	assert_int_equal(config_parse(&c, "t", "attrib_timeout_ms = 0\n", err),
	                 -1);
	assert_int_equal(
	        config_parse(&c, "t", "attrib_timeout_ms = 10001\n", err), -1);
	assert_int_equal(c.attrib_timeout_ms, 7);
	fclose(err);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tcp),
	        cmocka_unit_test(test_accept_queue),
	        cmocka_unit_test(test_reused_fd),
	        cmocka_unit_test(test_reused_fd_busy),
	        cmocka_unit_test(test_udp),
	        cmocka_unit_test(test_gone),
	        cmocka_unit_test(test_shared),
	        cmocka_unit_test(test_threads),
	        cmocka_unit_test(test_exited),
	        cmocka_unit_test(test_exit_hook),
	        cmocka_unit_test(test_bounded),
	        cmocka_unit_test(test_config_key),
	};
	ssize_t n;

	if (argc == 3 && strcmp(argv[1], "child-udp") == 0)
		return child_udp(argv[2]);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	/* Three users of their own, apart from those of another run of
	 * this test at the same time (by its pid). */
	test_uid = (uid_t)(40000 + getpid() % 6000 * 3);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}

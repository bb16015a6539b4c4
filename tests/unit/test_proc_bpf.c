/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attribution's two methods: as root, a child's socket in a network
 * namespace of its own found by the eBPF map (attribution = bpf) and by the
 * scan (attribution = proc); a socket older than the program; the config
 * key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "spackle/config.h"
#include "spackle/proc.h"

/* None of these tests is about the deadline: on a loaded machine a lookup
 * must not turn into a timeout and fail a test of who owns a socket. */
#define LOOKUP_TIMEOUT_MS 10000

static char self_exe[SP_PATH_MAX];

/* A TCP connection on 127.0.0.1 of this process: *cs the client's end. */
static void
connected_pair(int *ls, int *cs, int *as)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t sl = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*ls >= 0);
	assert_int_equal(bind(*ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(*ls, 4), 0);
	assert_int_equal(getsockname(*ls, (struct sockaddr *)&a, &sl), 0);
	*cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*cs >= 0);
	assert_int_equal(connect(*cs, (struct sockaddr *)&a, sizeof(a)), 0);
	*as = accept(*ls, NULL, NULL);
	assert_true(*as >= 0);
}

/* The flow of connected TCP socket s, seen from its own side (IPv4). */
static void
flow_of(int s, struct proc_flow *fl)
{
	struct sockaddr_in a;
	socklen_t sl = sizeof(a);

	memset(fl, 0, sizeof(*fl));
	fl->proto = SP_PROTO_TCP;
	fl->uid_hint = fl->gid_hint = UINT32_MAX;
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &sl), 0);
	sp_addr_from_v4(&fl->local, (const uint8_t *)&a.sin_addr);
	fl->lport = ntohs(a.sin_port);
	sl = sizeof(a);
	assert_int_equal(getpeername(s, (struct sockaddr *)&a, &sl), 0);
	sp_addr_from_v4(&fl->remote, (const uint8_t *)&a.sin_addr);
	fl->rport = ntohs(a.sin_port);
}

struct ns_child {
	uid_t ruid; /* 0, or the real uid it takes (euid and fsuid stay 0),
	               as a setuid-root program started by that user runs */
	pid_t pid;
	int go;               /* a byte here, or its close, ends the child */
	int rep;              /* its answers */
	uint16_t lport, port; /* its connection: 127.0.0.1:lport -> :port */
};

/*
 * A child in a network namespace of its own (as a program in a container
 * is): loopback up, a listener and a connection to it, made after the
 * attribution was set up; it waits for the parent's byte: 'c' resets the
 * connection's client end (and says so), 'x' runs /bin/cat in its place
 * (exec, the connection kept open; cat copies the next bytes of the
 * parent's to its answers), anything else or none ends it.
 */
static void
ns_child_main(uid_t ruid, int rep, int go)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct ifreq ifr;
	socklen_t sl = sizeof(a);
	uint16_t ports[2];
	char ch;
	int s, ls, cs;

	if (unshare(CLONE_NEWNET) != 0)
		_exit(3);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		_exit(4);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
		_exit(5);
	close(s);
	if (ruid != 0 && setresuid(ruid, 0, 0) != 0)
		_exit(11);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(ls, 4) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &sl) != 0)
		_exit(6);
	ports[1] = ntohs(a.sin_port);
	cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sl = sizeof(a);
	if (cs < 0 || connect(cs, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(cs, (struct sockaddr *)&a, &sl) != 0)
		_exit(7);
	ports[0] = ntohs(a.sin_port);
	if (write(rep, ports, sizeof(ports)) != sizeof(ports))
		_exit(8);
	while (read(go, &ch, 1) == 1 && (ch == 'c' || ch == 'x')) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		if (ch == 'x') {
			/* Both ends stay: the listener's close would reset
			 * the connection it has not accepted. */
			if (fcntl(cs, F_SETFD, 0) != 0 ||
			    fcntl(ls, F_SETFD, 0) != 0 || dup2(go, 0) != 0 ||
			    dup2(rep, 1) != 1)
				_exit(12);
			execl("/bin/cat", "cat", (char *)NULL);
			_exit(13);
		}

		if (setsockopt(cs, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
			_exit(10);
		close(cs);
		if (write(rep, &ch, 1) != 1)
			_exit(9);
	}
	_exit(0);
}

static void
ns_child_start(struct ns_child *c)
{
	int rep[2], go[2];
	uint16_t ports[2];

	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		close(rep[0]);
		close(go[1]);
		ns_child_main(c->ruid, rep[1], go[0]);
	}
	close(rep[1]);
	close(go[0]);
	c->go = go[1];
	c->rep = rep[0];
	assert_int_equal(read(rep[0], ports, sizeof(ports)), sizeof(ports));
	c->lport = ports[0];
	c->port = ports[1];
}

static void
ns_child_stop(struct ns_child *c)
{
	int st;

	close(c->go);
	close(c->rep);
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* A query whose sock_diag socket is in the child's network namespace. */
static struct proc_query *
ns_query(struct proc *p, pid_t pid)
{
	struct proc_query *q;
	char path[64], err[256];
	int self, ns;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(self >= 0 && ns >= 0);
	assert_int_equal(setns(ns, CLONE_NEWNET), 0);
	q = proc_query_new(p, err, sizeof(err));
	assert_int_equal(setns(self, CLONE_NEWNET), 0);
	close(ns);
	close(self);
	assert_non_null(q);
	return q;
}

static void
ns_flow(const struct ns_child *c, struct proc_flow *fl)
{
	uint8_t lo[4] = {127, 0, 0, 1};

	memset(fl, 0, sizeof(*fl));
	fl->proto = SP_PROTO_TCP;
	sp_addr_from_v4(&fl->local, lo);
	sp_addr_from_v4(&fl->remote, lo);
	fl->lport = c->lport;
	fl->rport = c->port;
	fl->uid_hint = fl->gid_hint = UINT32_MAX;
}

/* The same connection as ns_flow(), from its server's end. */
static void
ns_flow_server(const struct ns_child *c, struct proc_flow *fl)
{
	ns_flow(c, fl);
	fl->lport = c->port;
	fl->rport = c->lport;
}

/*
 * attribution = bpf: a connection a child in another network namespace
 * opened is the child's, found by the connections map without sock_diag,
 * with the socket owner's uid the queue gives (fsuid 0 for a child running
 * as a setuid program would: real uid 65534, effective 0), else the
 * creator's;
 * the same from its server's end (the child's listener) by sock_diag and
 * the socket map; a flow marked as come in is not asked of the
 * connections map; the same addresses and ports asked in this namespace
 * are not the child's; once the child closes it, the connections map
 * forgets it. A socket made before the program was loaded is in neither
 * map and is found by the scan (a bpf miss). Skipped in a build without
 * BPF.
 */
static void
test_bpf(void **state)
{
	struct proc_config cfg = {.timeout_ms = LOOKUP_TIMEOUT_MS,
	                          .events = true,
	                          .initial_scan = true,
	                          .infer_exited = true,
	                          .method = PROC_ATTRIB_BPF};
	struct proc_owner *o;
	struct proc_stats st;
	struct proc_flow fl;
	struct proc_query *q, *q2;
	struct ns_child c = {0};
	struct proc *p;
	char err[512], ch;
	int ls, cs, as;

	(void)state;
	if (geteuid() != 0)
		skip();
#ifndef HAVE_BPF
	assert_int_equal(proc_new(&p, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "built without BPF"));
	skip();
#endif
	o = malloc(sizeof(*o));
	assert_non_null(o);
	/* Made before the program is loaded. */
	connected_pair(&ls, &cs, &as);

	if (proc_new(&p, &cfg, err, sizeof(err)) != 0)
		fail_msg("attribution = bpf did not load: %s", err);
	assert_string_equal(proc_method(p), "bpf (cgroup sock_create)");
	c.ruid = 65534;
	ns_child_start(&c);
	q = ns_query(p, c.pid);
	ns_flow(&c, &fl);
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_int_equal(o->pid, c.pid);
	assert_int_equal(o->ppid, getpid());
	assert_string_equal(o->exe, self_exe);
	/* With no owner from the queue: the creator's uid, as the program
	 * saw it (its real uid). */
	assert_int_equal(o->uid, 65534);
	proc_stats(p, &st);
	assert_true(st.bpf_on);
	assert_int_equal(st.bpf_conn_hits, 1);
	/* With one: the socket's owner, as the queue delivers it (the
	 * socket file's fsuid, 0 here), which `user` rules match. */
	fl.uid_hint = 0;
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_int_equal(o->pid, c.pid);
	assert_int_equal(o->uid, 0);
	proc_stats(p, &st);
	assert_int_equal(st.bpf_conn_hits, 2);
	assert_int_equal(st.bpf_hits, 0);
	assert_int_equal(st.bpf_misses, 0);
	assert_int_equal(st.scans, 0);

	/* From the server's end: not accepted yet, so the listener's. */
	ns_flow_server(&c, &fl);
	fl.inbound = true;
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_int_equal(o->pid, c.pid);
	proc_stats(p, &st);
	assert_int_equal(st.bpf_conn_hits, 2);
	assert_int_equal(st.bpf_hits, 1);
	assert_int_equal(st.scans, 0);

	/* The same addresses and ports in this test's own namespace: no
	 * such connection here, whatever the map holds for the child's. */
	q2 = proc_query_new(p, err, sizeof(err));
	assert_non_null(q2);
	ns_flow(&c, &fl);
	assert_int_not_equal(proc_lookup(q2, &fl, o), PROC_HOW_SOCKET);
	proc_stats(p, &st);
	assert_int_equal(st.bpf_conn_hits, 2);
	proc_query_free(q2);

	/* The client's addresses and ports marked as a flow that came in
	 * (the daemon's input hook): the connections map, which holds the
	 * connections made here, is not asked; sock_diag and the socket map
	 * find the same owner. */
	ns_flow(&c, &fl);
	fl.inbound = true;
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_int_equal(o->pid, c.pid);
	proc_stats(p, &st);
	assert_int_equal(st.bpf_conn_hits, 2);
	assert_int_equal(st.bpf_hits, 2);
	ns_flow(&c, &fl);

	/* Reset by the child, which lives on (a close with linger 0 ends the
	 * connection inside close()): the map forgets it. */
	assert_int_equal(write(c.go, "c", 1), 1);
	assert_int_equal(read(c.rep, &ch, 1), 1);
	assert_int_not_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	proc_stats(p, &st);
	assert_int_equal(st.bpf_conn_hits, 2);
	proc_query_free(q);
	ns_child_stop(&c);

	/* The socket from before: a miss, then the scan finds it. */
	q = proc_query_new(p, err, sizeof(err));
	assert_non_null(q);
	flow_of(cs, &fl);
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_int_equal(o->pid, getpid());
	assert_string_equal(o->exe, self_exe);
	proc_stats(p, &st);
	assert_int_equal(st.bpf_hits, 2);
	assert_int_equal(st.bpf_misses, 1);
	proc_query_free(q);
	proc_free(p);
	close(as);
	close(cs);
	close(ls);
	free(o);
}

/* Does path name the program `name` (any directory)? */
static bool
is_prog(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL && strcmp(slash + 1, name) == 0;
}

/*
 * The exe cache (attribution = bpf): a second lookup of one process takes
 * its exe from the cache, no read of /proc; once the process has exec'd
 * another program (its connection kept across the exec), the next lookup
 * gives that program, not the one the cache held, as soon as the program
 * runs (the exec counts in the pid's slot before that), and the lookup
 * after it is a cache hit again. Without the proc connector, whose exec
 * event would also clear the cache: with the count ignored, this fails.
 * Skipped without BPF.
 */
static void
test_exe_cache(void **state)
{
	/* Without the proc connector's events, which would also tell of
	 * the exec (a little later): the count alone must. */
	struct proc_config cfg = {.timeout_ms = LOOKUP_TIMEOUT_MS,
	                          .events = false,
	                          .initial_scan = true,
	                          .infer_exited = true,
	                          .method = PROC_ATTRIB_BPF};
	struct proc_owner *o;
	struct proc_stats st;
	struct proc_flow fl;
	struct proc_query *q;
	struct ns_child c = {0};
	struct proc *p;
	char err[512], ch;
	int status;

	(void)state;
	if (geteuid() != 0)
		skip();
#ifndef HAVE_BPF
	skip();
#endif
	o = malloc(sizeof(*o));
	assert_non_null(o);
	if (proc_new(&p, &cfg, err, sizeof(err)) != 0)
		fail_msg("attribution = bpf did not load: %s", err);
	proc_stats(p, &st);
	if (!st.exe_cache)
		fail_msg("no exe cache: %s", proc_exe_cache_off(p));
	ns_child_start(&c);
	q = ns_query(p, c.pid);
	ns_flow(&c, &fl);
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_int_equal(o->pid, c.pid);
	assert_string_equal(o->exe, self_exe);
	proc_stats(p, &st);
	assert_int_equal(st.exe_cached, 0);
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_string_equal(o->exe, self_exe);
	proc_stats(p, &st);
	assert_int_equal(st.exe_cached, 1);

	/* The exec, then a lookup as soon as cat runs (it copied a byte). */
	assert_int_equal(write(c.go, "x", 1), 1);
	assert_int_equal(write(c.go, "y", 1), 1);
	assert_int_equal(read(c.rep, &ch, 1), 1);
	assert_int_equal(ch, 'y');
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_int_equal(o->pid, c.pid);
	if (!is_prog(o->exe, "cat"))
		fail_msg("after the exec: %s, want .../cat", o->exe);
	proc_stats(p, &st);
	assert_int_equal(st.exe_cached, 1);
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_true(is_prog(o->exe, "cat"));
	proc_stats(p, &st);
	assert_int_equal(st.exe_cached, 2);

	proc_query_free(q);
	close(c.go); /* cat's end of input: it exits */
	close(c.rep);
	assert_int_equal(waitpid(c.pid, &status, 0), c.pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	proc_free(p);
	free(o);
}

/* attribution = proc: the same child's socket is found by the scan, and
 * no map is there. */
static void
test_method_proc(void **state)
{
	struct proc_config cfg = {.timeout_ms = LOOKUP_TIMEOUT_MS,
	                          .events = true,
	                          .initial_scan = true,
	                          .infer_exited = true,
	                          .method = PROC_ATTRIB_PROC};
	struct proc_owner *o = malloc(sizeof(*o));
	struct proc_stats st;
	struct proc_flow fl;
	struct proc_query *q;
	struct ns_child c = {0};
	struct proc *p;
	char err[512];

	(void)state;
	assert_non_null(o);
	if (geteuid() != 0) {
		free(o);
		skip();
	}
	assert_int_equal(proc_new(&p, &cfg, err, sizeof(err)), 0);
	assert_string_equal(proc_method(p),
	                    "proc connector (bpf: attribution = proc)");
	ns_child_start(&c);
	q = ns_query(p, c.pid);
	ns_flow(&c, &fl);
	assert_int_equal(proc_lookup(q, &fl, o), PROC_HOW_SOCKET);
	assert_int_equal(o->pid, c.pid);
	assert_string_equal(o->exe, self_exe);
	proc_stats(p, &st);
	assert_false(st.bpf_on);
	assert_int_equal(st.bpf_hits + st.bpf_misses, 0);
	proc_query_free(q);
	proc_free(p);
	ns_child_stop(&c);
	free(o);
}

/* attribution: auto by default, then each word; others refused. */
static void
test_config_key(void **state)
{
	struct config c;
	FILE *err = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(err);
	config_defaults(&c);
	assert_int_equal(c.attribution, CONFIG_ATTRIB_AUTO);
	assert_int_equal(config_parse(&c, "t", "attribution = bpf\n", err), 0);
	assert_int_equal(c.attribution, CONFIG_ATTRIB_BPF);
	assert_int_equal(config_parse(&c, "t", "attribution = proc\n", err), 0);
	assert_int_equal(c.attribution, CONFIG_ATTRIB_PROC);
	assert_int_equal(config_parse(&c, "t", "attribution = ebpf\n", err),
	                 -1);
	assert_int_equal(c.attribution, CONFIG_ATTRIB_PROC);
	fclose(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bpf),
	        cmocka_unit_test(test_exe_cache),
	        cmocka_unit_test(test_method_proc),
	        cmocka_unit_test(test_config_key),
	};
	ssize_t n;

	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	return cmocka_run_group_tests(tests, NULL, NULL);
}

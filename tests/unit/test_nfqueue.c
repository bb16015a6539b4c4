/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NFQUEUE backend with real traffic between two network namespaces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "divert/divert.h"
#include "spackle/config.h"
#include "spackle/steer.h"

#define TOOL_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define UDP_PORT   9000
#define TCP_PORT   9001
#define NOBODY     65534u
#define USER_MARK  0x1u /* outside STEER_MARK_MASK */
#define PHASE_MS   6000 /* every phase ends within this */
#define PER_FAMILY 20   /* datagrams per family in the accept phase */
#define MAC_A      "02:00:5e:00:53:01"
#define MAC_B      "02:00:5e:00:53:02"

/*
 * The test process itself enters namespace A with setns() (after proving,
 * by inode, that A is not the machine's namespace) and leaves it again in
 * the teardown; namespace B holds the servers, in forked children.
 */
struct nfqt {
	char a[64], b[64];
	char apath[128], bpath[128];
	dev_t host_dev;
	ino_t host_ino;
	int host_fd;
	bool made_a, made_b;
	bool in_a;
	bool steered;
	bool ready;
	struct config cfg;
	struct divert *d;
	char why[256];
};

static struct nfqt T = {.host_fd = -1};

/* What the callback saw of the test's own traffic in one phase. */
struct seen {
	enum sp_verdict v; /* the verdict for test packets */
	bool batch;        /* collect ids and answer with verdict_batch */
	unsigned test_pkts, other_pkts;
	unsigned uid_nobody, uid_root, uid_none, gid_nobody;
	unsigned mark_user;
	struct divert_verdict pend[256];
	size_t npend;
	bool verdict_failed;
	uint64_t ts_min, ts_max; /* test packets' timestamps (wall ns) */
	unsigned bursts;         /* callbacks */
	size_t max_burst;        /* the most packets one brought */
};

static int
run_argv(char *const argv[], bool quiet)
{
	pid_t pid;
	int st, fd;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			if (quiet)
				dup2(fd, 2);
		}
		setenv("PATH", TOOL_PATH, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run a command line (split at spaces, no quoting). */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char line[512], *argv[32], *save = NULL, *t;
	va_list ap;
	int n = 0;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (t = strtok_r(line, " ", &save); t != NULL && n < 31;
	     t = strtok_r(NULL, " ", &save))
		argv[n++] = t;
	argv[n] = NULL;
	return run_argv(argv, false);
}

static bool
ns_is(const char *path)
{
	struct stat self, want;

	if (stat("/proc/self/ns/net", &self) < 0 || stat(path, &want) < 0)
		return false;
	if (self.st_dev == T.host_dev && self.st_ino == T.host_ino)
		return false;
	return self.st_dev == want.st_dev && self.st_ino == want.st_ino;
}

static bool
ns_enter(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (setns(fd, CLONE_NEWNET) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return ns_is(path);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Namespaces of an earlier run of this test that died before its teardown
 * (a sanitizer abort, a kill): the name holds the pid of the run.
 */
static void
remove_stale(void)
{
	static const char prefix[] = "spackle-nfq-test-";
	struct dirent *e;
	char name[300];
	long pid;
	DIR *dir;

	if ((dir = opendir("/run/netns")) == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) != 0)
			continue;
		pid = strtol(e->d_name + sizeof(prefix) - 1, NULL, 10);
		if (pid <= 0 || pid == (long)getpid() ||
		    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(name, sizeof(name), "%s", e->d_name);
		run("ip netns del %s", name);
	}
	closedir(dir);
}

static int
group_setup(void **state)
{
	struct stat st;
	char cfgtext[256], err[1024] = "";
	FILE *f;

	*state = &T;
	if (geteuid() != 0) {
		snprintf(T.why, sizeof(T.why),
		         "the NFQUEUE test needs root (ip netns, iptables, "
		         "nfnetlink_queue)");
		return 0;
	}
	if (stat("/proc/self/ns/net", &st) < 0)
		return 0;
	T.host_dev = st.st_dev;
	T.host_ino = st.st_ino;
	T.host_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	remove_stale();
	snprintf(T.a, sizeof(T.a), "spackle-nfq-test-%ld", (long)getpid());
	snprintf(T.b, sizeof(T.b), "spackle-nfq-test-%ld-b", (long)getpid());
	snprintf(T.apath, sizeof(T.apath), "/run/netns/%s", T.a);
	snprintf(T.bpath, sizeof(T.bpath), "/run/netns/%s", T.b);
	if (T.host_fd < 0 || run("ip netns add %s", T.a) != 0) {
		snprintf(T.why, sizeof(T.why), "ip netns add failed");
		return 0;
	}
	T.made_a = true;
	if (run("ip netns add %s", T.b) != 0) {
		snprintf(T.why, sizeof(T.why), "ip netns add failed");
		return 0;
	}
	T.made_b = true;
	/* ip -n enters the namespace itself: nothing here touches the
	 * host's network. */
	if (run("ip -n %s link set lo up", T.a) != 0 ||
	    run("ip -n %s link set lo up", T.b) != 0 ||
	    run("ip -n %s link add veth0 address " MAC_A " type veth peer "
	        "name veth1 address " MAC_B " netns %s",
	        T.a, T.b) != 0 ||
	    run("ip -n %s addr add 192.0.2.1/24 dev veth0", T.a) != 0 ||
	    run("ip -n %s addr add 2001:db8::1/64 dev veth0 nodad", T.a) != 0 ||
	    run("ip -n %s addr add 192.0.2.2/24 dev veth1", T.b) != 0 ||
	    run("ip -n %s addr add 2001:db8::2/64 dev veth1 nodad", T.b) != 0 ||
	    run("ip -n %s link set veth0 up", T.a) != 0 ||
	    run("ip -n %s link set veth1 up", T.b) != 0 ||
	    /* Fixed neighbours: no neighbour discovery races the test's
	     * first packets (a lost solicitation holds IPv6 for a second). */
	    run("ip -n %s neigh replace 192.0.2.2 lladdr " MAC_B
	        " dev veth0 nud permanent",
	        T.a) != 0 ||
	    run("ip -n %s neigh replace 2001:db8::2 lladdr " MAC_B
	        " dev veth0 nud permanent",
	        T.a) != 0 ||
	    run("ip -n %s neigh replace 192.0.2.1 lladdr " MAC_A
	        " dev veth1 nud permanent",
	        T.b) != 0 ||
	    run("ip -n %s neigh replace 2001:db8::1 lladdr " MAC_A
	        " dev veth1 nud permanent",
	        T.b) != 0) {
		snprintf(T.why, sizeof(T.why),
		         "setting up the veth pair failed");
		return 0;
	}
	if (!ns_enter(T.apath)) {
		snprintf(T.why, sizeof(T.why),
		         "could not enter namespace %s (or it is the host's)",
		         T.a);
		return 0;
	}
	T.in_a = true;

	snprintf(cfgtext, sizeof(cfgtext),
	         "queues = 1\nqueue_base = %u\nhooks = out\nexempt = lo\n"
	         "failure = open\nfirewall = iptables\n",
	         4200u + (unsigned)getpid() % 1000u);
	config_defaults(&T.cfg);
	f = fmemopen(err, sizeof(err) - 1, "w");
	assert_non_null(f);
	if (config_parse(&T.cfg, "nfq-test.conf", cfgtext, f) != 0) {
		fclose(f);
		snprintf(T.why, sizeof(T.why), "config: %.200s", err);
		return 0;
	}
	fclose(f);
	/* The last look before changing netfilter state. */
	if (!ns_is(T.apath)) {
		snprintf(T.why, sizeof(T.why), "not in the test namespace");
		return 0;
	}
	if (steer_apply(&T.cfg, err, sizeof(err)) != 0) {
		snprintf(T.why, sizeof(T.why), "steer_apply: %.200s", err);
		return 0;
	}
	T.steered = true;
	T.ready = true;
	return 0;
}

static int
group_teardown(void **state)
{
	char err[1024];

	(void)state;
	if (T.d != NULL)
		divert_nfqueue_ops.close(T.d);
	T.d = NULL;
	if (T.steered && ns_is(T.apath)) {
		if (steer_remove(&T.cfg, err, sizeof(err)) < 0)
			print_message("steer_remove: %s\n", err);
	}
	if (T.in_a) {
		if (setns(T.host_fd, CLONE_NEWNET) < 0)
			print_message("cannot go back to the host namespace\n");
	}
	if (T.made_a)
		run("ip netns del %s", T.a);
	if (T.made_b)
		run("ip netns del %s", T.b);
	if (T.host_fd >= 0)
		close(T.host_fd);
	return 0;
}

static void
need_ready(void)
{
	if (!T.ready) {
		print_message("skipped: %s\n", T.why);
		skip();
	}
}

/* Open the backend on the steered queue once. */
static void
need_backend(void)
{
	char spec[64], err[512] = "";

	need_ready();
	if (T.d != NULL)
		return;
	snprintf(spec, sizeof(spec), "%u,failure=open", T.cfg.queue_base);
	if (divert_nfqueue_ops.open(&T.d, spec, err, sizeof(err)) != 0)
		fail_msg("open %s: %s", spec, err);
	assert_true(divert_nfqueue_ops.fd(T.d) >= 0);
}

/* Is this the test's traffic (UDP to UDP_PORT, TCP to TCP_PORT)? */
static bool
is_test_packet(const uint8_t *p, size_t len)
{
	size_t l4;
	unsigned proto;
	uint16_t dport;

	if (len < 1)
		return false;
	if ((p[0] >> 4) == 4) {
		if (len < 20)
			return false;
		l4 = (size_t)(p[0] & 0x0f) * 4;
		proto = p[9];
	} else if ((p[0] >> 4) == 6) {
		l4 = 40;
		proto = p[6];
	} else {
		return false;
	}
	if (len < l4 + 4)
		return false;
	memcpy(&dport, p + l4 + 2, 2);
	dport = ntohs(dport);
	return (proto == 17 && dport == UDP_PORT) ||
	       (proto == 6 && dport == TCP_PORT);
}

static void
on_one(const struct divert_packet *pkt, void *arg)
{
	struct seen *s = arg;
	enum sp_verdict v = SP_VERDICT_ALLOW;

	if (is_test_packet(pkt->data, pkt->caplen)) {
		s->test_pkts++;
		v = s->v;
		if (s->ts_min == 0 || pkt->ts_ns < s->ts_min)
			s->ts_min = pkt->ts_ns;
		if (pkt->ts_ns > s->ts_max)
			s->ts_max = pkt->ts_ns;
		if (pkt->uid == NOBODY)
			s->uid_nobody++;
		else if (pkt->uid == 0)
			s->uid_root++;
		else if (pkt->uid == UINT32_MAX)
			s->uid_none++;
		if (pkt->gid == NOBODY)
			s->gid_nobody++;
		if ((pkt->mark & ~STEER_MARK_MASK) == USER_MARK)
			s->mark_user++;
		assert_true(pkt->wirelen >= pkt->caplen);
	} else {
		s->other_pkts++;
	}
	if (s->batch && s->npend < sizeof(s->pend) / sizeof(s->pend[0])) {
		s->pend[s->npend].id = pkt->id;
		s->pend[s->npend].v = v;
		s->npend++;
		return;
	}
	if (divert_nfqueue_ops.verdict(T.d, pkt->id, v) != 0) {
		print_message("verdict: %s\n", divert_nfqueue_ops.error(T.d));
		s->verdict_failed = true;
	}
}

/* A burst: what one read brought, at least one packet, each as above. */
static void
on_packet(const struct divert_packet *pkts, size_t n, void *arg)
{
	struct seen *s = arg;
	size_t i;

	assert_true(n >= 1 && n <= DIVERT_BURST_MAX);
	s->bursts++;
	if (n > s->max_burst)
		s->max_burst = n;
	for (i = 0; i < n; i++)
		on_one(&pkts[i], arg);
}

/* Answer the queue until child exits (and 200 ms after), or PHASE_MS. */
static int
serve_until_exit(pid_t child, struct seen *s)
{
	struct pollfd pfd = {.fd = divert_nfqueue_ops.fd(T.d),
	                     .events = POLLIN};
	uint64_t start = now_ms(), done_at = 0;
	int st = -1, n, rounds;
	pid_t r;

	while (now_ms() - start < PHASE_MS) {
		if (done_at == 0) {
			r = waitpid(child, &st, WNOHANG);
			if (r == child)
				done_at = now_ms();
		} else if (now_ms() - done_at > 200) {
			break;
		}
		poll(&pfd, 1, 20);
		rounds = 0;
		do {
			n = divert_nfqueue_ops.dispatch(T.d, 8, on_packet, s);
			if (n < 0)
				fail_msg("dispatch: %s",
				         divert_nfqueue_ops.error(T.d));
			if (s->batch && s->npend > 0) {
				if (divert_nfqueue_ops.verdict_batch(
				            T.d, s->pend, s->npend) != 0) {
					print_message(
					        "verdict_batch: %s\n",
					        divert_nfqueue_ops.error(T.d));
					s->verdict_failed = true;
				}
				s->npend = 0;
			}
		} while (n == 8 && ++rounds < 1000);
	}
	if (done_at == 0) {
		kill(child, SIGKILL);
		waitpid(child, &st, 0);
		fail_msg("the sender did not finish within %d ms", PHASE_MS);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The server in B: counts datagrams until its control pipe closes. */
struct server {
	pid_t pid;
	int ctl;    /* write end; close to stop */
	int result; /* read end: two unsigned counts, v4 and v6 */
};

static void
server_child(int ctl, int result, int ready)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET,
	                         .sin_port = htons(UDP_PORT)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
	                          .sin6_port = htons(UDP_PORT)};
	struct pollfd pfd[3];
	unsigned count[2] = {0, 0};
	uint64_t start;
	char buf[2048];
	int one = 1, s4, s6, i;

	if (!ns_enter(T.bpath))
		_exit(90);
	s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s4 < 0 || s6 < 0 ||
	    setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    bind(s4, (struct sockaddr *)&a4, sizeof(a4)) < 0 ||
	    bind(s6, (struct sockaddr *)&a6, sizeof(a6)) < 0)
		_exit(91);
	if (write(ready, "r", 1) != 1)
		_exit(92);
	close(ready);
	pfd[0] = (struct pollfd){.fd = s4, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = s6, .events = POLLIN};
	pfd[2] = (struct pollfd){.fd = ctl, .events = POLLIN};
	start = now_ms();
	while (now_ms() - start < 3 * PHASE_MS) {
		if (poll(pfd, 3, 100) < 0)
			continue;
		for (i = 0; i < 2; i++)
			if (pfd[i].revents & POLLIN)
				if (recv(pfd[i].fd, buf, sizeof(buf),
				         MSG_DONTWAIT) >= 0)
					count[i]++;
		if (pfd[2].revents & (POLLIN | POLLHUP))
			break;
	}
	if (write(result, count, sizeof(count)) != sizeof(count))
		_exit(93);
	_exit(0);
}

static void
server_start(struct server *sv)
{
	int ctl[2], res[2], rdy[2];
	char c;

	assert_int_equal(pipe(ctl), 0);
	assert_int_equal(pipe(res), 0);
	assert_int_equal(pipe(rdy), 0);
	sv->pid = fork();
	assert_true(sv->pid >= 0);
	if (sv->pid == 0) {
		close(ctl[1]);
		close(res[0]);
		close(rdy[0]);
		server_child(ctl[0], res[1], rdy[1]);
	}
	close(ctl[0]);
	close(res[1]);
	close(rdy[1]);
	sv->ctl = ctl[1];
	sv->result = res[0];
	if (read(rdy[0], &c, 1) != 1)
		fail_msg("the server in %s did not start", T.b);
	close(rdy[0]);
}

static void
server_stop(struct server *sv, unsigned count[2])
{
	int st;

	close(sv->ctl);
	if (read(sv->result, count, 2 * sizeof(unsigned)) !=
	    (ssize_t)(2 * sizeof(unsigned)))
		fail_msg("the server did not report");
	close(sv->result);
	waitpid(sv->pid, &st, 0);
}

/* Sender (in A): n datagrams to each family, as uid (or root), with mark. */
static void
send_udp(unsigned n, bool v4, bool v6, uint32_t uid, uint32_t mark)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET,
	                         .sin_port = htons(UDP_PORT)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
	                          .sin6_port = htons(UDP_PORT)};
	unsigned i;
	int s4, s6;

	inet_pton(AF_INET, "192.0.2.2", &a4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::2", &a6.sin6_addr);
	if (uid != 0) {
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 ||
		    setuid(uid) < 0)
			_exit(80);
	}
	s4 = socket(AF_INET, SOCK_DGRAM, 0);
	s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s4 < 0 || s6 < 0)
		_exit(81);
	if (mark != 0 &&
	    (setsockopt(s4, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ||
	     setsockopt(s6, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0))
		_exit(82);
	for (i = 0; i < n; i++) {
		if (v4 && sendto(s4, "spackle", 7, 0, (struct sockaddr *)&a4,
		                 sizeof(a4)) != 7)
			_exit(83);
		if (v6 && sendto(s6, "spackle", 7, 0, (struct sockaddr *)&a6,
		                 sizeof(a6)) != 7)
			_exit(84);
		usleep(2000);
	}
	_exit(0);
}

/* One phase: a server in B, a sender in A, the queue answered. */
static void
udp_phase(struct seen *s, unsigned n, bool v4, bool v6, uint32_t uid,
          uint32_t mark, unsigned count[2])
{
	struct server sv;
	pid_t pid;
	int rc;

	server_start(&sv);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		send_udp(n, v4, v6, uid, mark);
	rc = serve_until_exit(pid, s);
	server_stop(&sv, count);
	if (rc != 0)
		fail_msg("the sender failed (exit %d)", rc);
	assert_false(s->verdict_failed);
}

static void
test_accept(void **state)
{
	struct seen s = {.v = SP_VERDICT_ALLOW};
	unsigned count[2];
	uint64_t t0;
	int on = 1, ts;

	(void)state;
	need_backend();
	/* A socket that asks for timestamps turns them on for every packet
	 * (net_enable_timestamp): the queue then carries NFQA_TIMESTAMP,
	 * whose payload netlink aligns to 4 bytes only. */
	ts = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(ts >= 0);
	assert_int_equal(
	        setsockopt(ts, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)), 0);
	t0 = sp_now_wall();
	udp_phase(&s, PER_FAMILY, true, true, 0, 0, count);
	close(ts);
	/* The kernel's timestamps, not ours: within the phase. */
	assert_true(s.ts_min >= t0 - 1000000000ull);
	assert_true(s.ts_max <= sp_now_wall() + 1000000000ull);
	print_message("accept: %u test packets queued, %u other; arrived "
	              "IPv4 %u IPv6 %u of %u each\n",
	              s.test_pkts, s.other_pkts, count[0], count[1],
	              PER_FAMILY);
	assert_int_equal(s.test_pkts, 2 * PER_FAMILY);
	assert_int_equal(count[0], PER_FAMILY);
	assert_int_equal(count[1], PER_FAMILY);
	assert_int_equal(s.uid_root, 2 * PER_FAMILY);
	/* Packets come in bursts, each what one read brought. */
	print_message("accept: %u bursts, the largest %zu packets\n", s.bursts,
	              s.max_burst);
	assert_true(s.bursts >= 1 && s.bursts <= s.test_pkts + s.other_pkts);
}

static void
test_accept_batch(void **state)
{
	struct seen s = {.v = SP_VERDICT_ALLOW, .batch = true};
	unsigned count[2];

	(void)state;
	need_backend();
	udp_phase(&s, PER_FAMILY, true, true, 0, 0, count);
	print_message("accept (batched verdicts): %u queued, arrived IPv4 %u "
	              "IPv6 %u\n",
	              s.test_pkts, count[0], count[1]);
	assert_int_equal(s.test_pkts, 2 * PER_FAMILY);
	assert_int_equal(count[0], PER_FAMILY);
	assert_int_equal(count[1], PER_FAMILY);
}

static void
test_uid(void **state)
{
	struct seen s = {.v = SP_VERDICT_ALLOW};
	unsigned count[2];

	(void)state;
	need_backend();
	udp_phase(&s, 5, true, true, NOBODY, 0, count);
	print_message("uid: %u packets from uid %u: %u carried uid %u, "
	              "%u gid %u; arrived %u + %u\n",
	              s.test_pkts, NOBODY, s.uid_nobody, NOBODY, s.gid_nobody,
	              NOBODY, count[0], count[1]);
	assert_int_equal(s.test_pkts, 10);
	assert_int_equal(s.uid_nobody, 10);
	assert_int_equal(s.gid_nobody, 10);
	assert_int_equal(count[0] + count[1], 10);
}

/* Packets of iptables' OUTPUT rule with this comment, -1 if none. */
static long
rule_packets(const char *tool, const char *comment)
{
	char cmd[256], line[1024];
	long pk = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "PATH=%s %s -w -v -x -n -L OUTPUT",
	         TOOL_PATH, tool);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, comment) != NULL)
			pk = strtol(line, NULL, 10);
	pclose(f);
	return pk;
}

static void
test_mark_kept(void **state)
{
	struct seen s = {.v = SP_VERDICT_ALLOW};
	unsigned count[2];
	char rule[256];
	long pk4, pk6;

	(void)state;
	need_backend();
	assert_true(ns_is(T.apath));
	/* After spackle's jump: counts packets whose mark is the user's
	 * bit plus spackle's accept value, nothing else. */
	snprintf(rule, sizeof(rule),
	         "-w -A OUTPUT -p udp --dport %d -m mark --mark 0x%x "
	         "-m comment --comment nfqtest-mark",
	         UDP_PORT, USER_MARK | STEER_MARK_ACCEPT);
	assert_int_equal(run("iptables %s", rule), 0);
	assert_int_equal(run("ip6tables %s", rule), 0);
	udp_phase(&s, 5, true, true, 0, USER_MARK, count);
	pk4 = rule_packets("iptables", "nfqtest-mark");
	pk6 = rule_packets("ip6tables", "nfqtest-mark");
	print_message("mark: %u packets delivered with mark 0x%x: %u; after "
	              "the verdict the kernel saw mark 0x%x on %ld (IPv4) + "
	              "%ld (IPv6); arrived %u + %u\n",
	              s.test_pkts, USER_MARK, s.mark_user,
	              USER_MARK | STEER_MARK_ACCEPT, pk4, pk6, count[0],
	              count[1]);
	assert_int_equal(s.mark_user, 10);
	assert_int_equal(pk4, 5);
	assert_int_equal(pk6, 5);
	assert_int_equal(count[0] + count[1], 10);
}

static void
test_deny(void **state)
{
	struct seen s = {.v = SP_VERDICT_DENY};
	struct divert_stats st;
	unsigned count[2];

	(void)state;
	need_backend();
	udp_phase(&s, 10, true, true, 0, 0, count);
	print_message("deny: %u test packets queued and denied; arrived "
	              "%u + %u\n",
	              s.test_pkts, count[0], count[1]);
	assert_int_equal(s.test_pkts, 20);
	assert_int_equal(count[0], 0);
	assert_int_equal(count[1], 0);
	divert_nfqueue_ops.stats(T.d, &st);
	assert_true(st.dropped >= 20);
}

/* Child: connect()ed UDP or TCP to B; exit 0 on ECONNREFUSED within 1 s
 * (the time it took, in microseconds, written to tell), 70..77 otherwise. */
static void
reject_child(int family, int type, int tell)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len, elen = sizeof(int);
	struct pollfd pfd;
	uint64_t start;
	char buf[16];
	int s, e = 0;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(type == SOCK_DGRAM ? UDP_PORT : TCP_PORT);
		inet_pton(AF_INET, "192.0.2.2", &a4->sin_addr);
		len = sizeof(*a4);
	} else {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(type == SOCK_DGRAM ? UDP_PORT : TCP_PORT);
		inet_pton(AF_INET6, "2001:db8::2", &a6->sin6_addr);
		len = sizeof(*a6);
	}
	s = socket(family, type | SOCK_NONBLOCK, 0);
	if (s < 0)
		_exit(70);
	start = now_us();
	if (connect(s, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
		_exit(errno == ECONNREFUSED ? 0 : 71);
	if (type == SOCK_DGRAM && send(s, "spackle", 7, 0) != 7)
		_exit(72);
	pfd = (struct pollfd){.fd = s, .events = POLLIN | POLLOUT};
	if (type == SOCK_DGRAM)
		pfd.events = POLLIN;
	if (poll(&pfd, 1, 1000) <= 0)
		_exit(73); /* nothing within a second */
	if (type == SOCK_DGRAM) {
		if (recv(s, buf, sizeof(buf), 0) >= 0 || errno != ECONNREFUSED)
			_exit(74);
	} else {
		if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 ||
		    e != ECONNREFUSED)
			_exit(75);
	}
	start = now_us() - start;
	if (write(tell, &start, sizeof(start)) != sizeof(start))
		_exit(77);
	if (start > 1000000)
		_exit(76);
	_exit(0);
}

static void
reject_case(int family, int type)
{
	struct seen s = {.v = SP_VERDICT_REJECT};
	uint64_t us = UINT64_MAX;
	int rc, p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		reject_child(family, type, p[1]);
	}
	close(p[1]);
	rc = serve_until_exit(pid, &s);
	if (read(p[0], &us, sizeof(us)) != sizeof(us))
		us = UINT64_MAX;
	close(p[0]);
	print_message("reject %s/%s: sender exit %d (0: ECONNREFUSED) after "
	              "%llu us, %u packets queued\n",
	              type == SOCK_DGRAM ? "udp" : "tcp",
	              family == AF_INET ? "ipv4" : "ipv6", rc,
	              (unsigned long long)us, s.test_pkts);
	assert_int_equal(rc, 0);
	assert_true(s.test_pkts >= 1);
	assert_false(s.verdict_failed);
}

static void
test_reject_udp(void **state)
{
	(void)state;
	need_backend();
	reject_case(AF_INET, SOCK_DGRAM);
	reject_case(AF_INET6, SOCK_DGRAM);
}

static void
test_reject_tcp(void **state)
{
	(void)state;
	need_backend();
	reject_case(AF_INET, SOCK_STREAM);
	reject_case(AF_INET6, SOCK_STREAM);
}

static void
test_errors(void **state)
{
	struct divert *d2 = NULL;
	char spec[64], err[512] = "";

	(void)state;
	need_backend();
	/* The queue is ours: a second bind must say who may hold it. */
	snprintf(spec, sizeof(spec), "%u", T.cfg.queue_base);
	assert_int_equal(divert_nfqueue_ops.open(&d2, spec, err, sizeof(err)),
	                 -1);
	print_message("second open: %s\n", err);
	assert_non_null(strstr(err, "already bound"));
	assert_null(d2);
	assert_int_equal(
	        divert_nfqueue_ops.open(&d2, "70000", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "queue number"));
	assert_int_equal(
	        divert_nfqueue_ops.open(&d2, "1,copy=0", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "copy=0"));
	assert_int_equal(
	        divert_nfqueue_ops.open(&d2, "1,bogus", err, sizeof(err)), -1);
	/* Unknown ids and SP_VERDICT_NONE are refused, not sent. */
	assert_int_equal(
	        divert_nfqueue_ops.verdict(T.d, 0xfffffff0u, SP_VERDICT_ALLOW),
	        -1);
	assert_non_null(strstr(divert_nfqueue_ops.error(T.d), "no packet"));
}

static void
test_stats(void **state)
{
	struct divert_stats st;

	(void)state;
	need_backend();
	divert_nfqueue_ops.stats(T.d, &st);
	print_message(
	        "stats: received %llu accepted %llu dropped %llu "
	        "rejected %llu enobufs %llu verdict errors %llu "
	        "malformed %llu requeued %llu\n",
	        (unsigned long long)st.received,
	        (unsigned long long)st.accepted, (unsigned long long)st.dropped,
	        (unsigned long long)st.rejected, (unsigned long long)st.enobufs,
	        (unsigned long long)st.verdict_errors,
	        (unsigned long long)st.malformed,
	        (unsigned long long)st.requeued);
	assert_int_equal(st.verdict_errors, 0);
	assert_int_equal(st.malformed, 0);
	assert_true(st.received >= st.accepted + st.dropped + st.rejected);
}

/*
 * A tiny receive buffer and a burst nobody reads: the kernel cannot hand
 * over every packet, the backend counts ENOBUFS and goes on, and with
 * failure=open the packets it never saw pass anyway.
 */
static void
test_enobufs(void **state)
{
	struct seen s = {.v = SP_VERDICT_ALLOW};
	struct divert_stats st;
	struct server sv;
	unsigned count[2];
	char spec[96], err[512] = "";
	uint64_t start;
	int rc, n;
	pid_t pid;

	(void)state;
	need_backend();
	divert_nfqueue_ops.close(T.d);
	T.d = NULL;
	snprintf(spec, sizeof(spec), "%u,failure=open,rcvbuf=4096",
	         T.cfg.queue_base);
	if (divert_nfqueue_ops.open(&T.d, spec, err, sizeof(err)) != 0)
		fail_msg("open %s: %s", spec, err);
	server_start(&sv);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		send_udp(200, true, false, 0, 0);
	/* Let the burst hit the full socket before reading. */
	start = now_ms();
	while (waitpid(pid, &rc, WNOHANG) != pid) {
		if (now_ms() - start > PHASE_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &rc, 0);
			break;
		}
		usleep(10000);
	}
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	start = now_ms();
	while (now_ms() - start < 500) {
		n = divert_nfqueue_ops.dispatch(T.d, 0, on_packet, &s);
		if (n < 0)
			fail_msg("dispatch: %s", divert_nfqueue_ops.error(T.d));
		if (n == 0)
			usleep(5000);
	}
	server_stop(&sv, count);
	divert_nfqueue_ops.stats(T.d, &st);
	print_message("enobufs: 200 sent, %u reached the backend, ENOBUFS "
	              "seen %llu times, %u arrived\n",
	              s.test_pkts, (unsigned long long)st.enobufs, count[0]);
	assert_true(st.enobufs >= 1);
	assert_true(s.test_pkts < 200);
	assert_int_equal(count[0], 200);
	assert_false(s.verdict_failed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_accept_batch),
	        cmocka_unit_test(test_uid),
	        cmocka_unit_test(test_mark_kept),
	        cmocka_unit_test(test_deny),
	        cmocka_unit_test(test_reject_udp),
	        cmocka_unit_test(test_reject_tcp),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_stats),
	        cmocka_unit_test(test_enobufs),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

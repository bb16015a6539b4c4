/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running the tunnel backend's routing and tc steering (tun_text.c says
 * what it is), its removal, the crash cleanup, and the guard that opens
 * the ingress again when the daemon dies with `failure = open`.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pfconf/steer_run.h"
#include "pfconf/steer_tun.h"
#include "spackle/steer.h"

#define TUN_IFS_MAX 64

/* The guard of this process's daemon (one per process, as steer.c's note
 * of the tables it made): its pid and the pipe whose end it waits on. */
static pid_t tun_guard_pid = -1;
static int tun_guard_fd = -1;

/*
 * A guard holds this abstract socket name while it lives; abstract names
 * belong to the network namespace, as the steering does. A daemon that
 * starts waits until no guard of a killed one holds it, so that guard's
 * late deletes cannot take away the redirects the new one installs.
 */
#define TUN_GUARD_NAME "spackle-tun-guard"
#define TUN_GUARD_WAIT 60 /* tries, 50 ms apart: 3 s */

static socklen_t
tun_guard_addr(struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, TUN_GUARD_NAME, sizeof(TUN_GUARD_NAME) - 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                   sizeof(TUN_GUARD_NAME) - 1);
}

/* Bind the guard's name: the socket, or -1 (errno EADDRINUSE: a guard
 * lives). Only calls that are safe in a child forked from threads. */
static int
tun_guard_bind(void)
{
	struct sockaddr_un a;
	socklen_t len = tun_guard_addr(&a);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&a, len) != 0) {
		int e = errno;

		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* Wait (3 s at most) until no guard of another daemon lives here. */
static void
tun_guard_wait(void)
{
	const struct timespec step = {0, 50 * 1000 * 1000};
	int i, s;

	for (i = 0; i < TUN_GUARD_WAIT; i++) {
		if ((s = tun_guard_bind()) >= 0) {
			close(s);
			return;
		}
		if (errno != EADDRINUSE)
			return;
		nanosleep(&step, NULL);
	}
}

/*
 * Which of ifs have a clsact qdisc: one `tc qdisc show` for all (a host
 * may have hundreds of interfaces, and this runs at every start).
 */
static void
tun_mark_clsact(struct steer_tun_if *ifs, size_t n)
{
	char *argv[] = {"tc", "qdisc", "show", NULL};
	struct steer_out o;
	const char *p, *dev;
	size_t i, len;

	for (i = 0; i < n; i++)
		ifs[i].has_clsact = 0;
	if (steer_exec(argv, NULL, 0, &o) < 0)
		return;
	for (p = o.status == 0 ? o.out : NULL; p != NULL && *p != '\0';
	     p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "qdisc clsact ", 13) != 0 ||
		    (dev = strstr(p, " dev ")) == NULL)
			continue;
		dev += 5;
		len = strcspn(dev, " \n");
		for (i = 0; i < n; i++)
			if (strlen(ifs[i].name) == len &&
			    strncmp(ifs[i].name, dev, len) == 0)
				ifs[i].has_clsact = 1;
	}
	steer_out_free(&o);
}

static bool
tun_exempt(const struct config *c, const char *name)
{
	unsigned i;

	if (c == NULL)
		return false;
	if (strcmp(name, c->tun_name) == 0)
		return true;
	for (i = 0; i < c->nexempt; i++)
		if (strcmp(c->exempt[i], name) == 0)
			return true;
	return false;
}

/*
 * An IPv4 address's broadcast address, for the filter that lets it be.
 * An address set without one (`ip address add 192.0.2.1/24`, no `brd`)
 * comes from getifaddrs() with the address itself in its place: a filter
 * for that would let every packet for this host pass the tun unseen.
 */
static void
tun_add_bcast(struct steer_tun_if *f, const struct ifaddrs *i)
{
	const struct in_addr *b =
	        &((const struct sockaddr_in *)(const void *)i->ifa_broadaddr)
	                 ->sin_addr;
	const struct in_addr *a =
	        &((const struct sockaddr_in *)(const void *)i->ifa_addr)
	                 ->sin_addr;

	if (b->s_addr == INADDR_ANY || b->s_addr == a->s_addr)
		return;
	memcpy(f->bcast[f->nbcast++], b, 4);
}

/*
 * The interfaces whose ingress is redirected: every one of this namespace
 * but loopback, the tun and the exempt ones (c NULL: all but loopback,
 * for the cleanup), with their IPv4 broadcast addresses. Returns how many.
 */
static size_t
tun_ifaces(const struct config *c, struct steer_tun_if *ifs, size_t max)
{
	struct ifaddrs *ifa, *i;
	size_t n = 0, k;

	if (getifaddrs(&ifa) != 0)
		return 0;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if ((i->ifa_flags & IFF_LOOPBACK) ||
		    strlen(i->ifa_name) >= sizeof(ifs[0].name) ||
		    tun_exempt(c, i->ifa_name))
			continue;
		for (k = 0; k < n && strcmp(ifs[k].name, i->ifa_name); k++)
			;
		if (k == n) {
			if (n == max)
				continue;
			memset(&ifs[n], 0, sizeof(ifs[n]));
			snprintf(ifs[n].name, sizeof(ifs[n].name), "%s",
			         i->ifa_name);
			n++;
		}
		if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET &&
		    (i->ifa_flags & IFF_BROADCAST) &&
		    i->ifa_broadaddr != NULL && ifs[k].nbcast < 4)
			tun_add_bcast(&ifs[k], i);
	}
	freeifaddrs(ifa);
	return n;
}

/*
 * Run each line of text as a command (words split at spaces). strict: stop
 * at the first that fails, saying which in err; else run them all.
 * Returns 0, -EIO (one failed), or -ENOENT (ip or tc is missing).
 */
static int
tun_run(char *text, bool strict, char *err, size_t errlen)
{
	char *line, *save = NULL, *argv[40], *w, *wsave;
	struct steer_out o;
	int rc = 0, r;
	size_t n;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char shown[256];

		snprintf(shown, sizeof(shown), "%s", line);
		n = 0;
		for (w = strtok_r(line, " ", &wsave);
		     w != NULL && n + 1 < sizeof(argv) / sizeof(argv[0]);
		     w = strtok_r(NULL, " ", &wsave))
			argv[n++] = w;
		argv[n] = NULL;
		if (n == 0)
			continue;
		r = steer_exec(argv, NULL, 0, &o);
		if (r < 0) {
			if (strict) {
				steer_seterr(err, errlen, "%s: cannot run: %s",
				             argv[0], strerror(-r));
				return r;
			}
			continue;
		}
		if (o.status != 0 && strict) {
			steer_fail(err, errlen, shown, &o, NULL);
			rc = -EIO;
		}
		steer_out_free(&o);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Remove what the tun steering put on ifs, the rule and the table; the
 * clsact qdiscs that are left with no filter go too. */
static void
tun_unroute(struct steer_tun_if *ifs, size_t n)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		return;
	steer_tun_route_remove_text(ifs, n, f);
	if (fclose(f) == 0)
		tun_run(text, false, NULL, 0);
	free(text);
	for (i = 0; i < n; i++) {
		char *in[] = {"tc",        "filter",  "show", "dev",
		              ifs[i].name, "ingress", NULL};
		char *eg[] = {"tc",        "filter", "show", "dev",
		              ifs[i].name, "egress", NULL};
		char *del[] = {"tc",        "qdisc",  "del", "dev",
		               ifs[i].name, "clsact", NULL};
		struct steer_out o;
		bool empty = true;

		if (!ifs[i].has_clsact)
			continue;
		if (steer_exec(in, NULL, 0, &o) == 0) {
			empty = empty && o.status == 0 && o.outlen == 0;
			steer_out_free(&o);
		}
		if (steer_exec(eg, NULL, 0, &o) == 0) {
			empty = empty && o.status == 0 && o.outlen == 0;
			steer_out_free(&o);
		}
		if (empty && steer_exec(del, NULL, 0, &o) == 0)
			steer_out_free(&o);
	}
}

/*
 * The guard: a child that waits for the daemon's end on a pipe. A clean
 * stop writes a byte first and the guard leaves; an end without it (a
 * crash, SIGKILL) makes it delete the ingress redirects, so with `failure
 * = open` what arrives reaches the host again, as what leaves does once
 * the tun's route is gone. It is forked from a process with threads, so
 * it calls only what is safe there (read, fork, execve, waitpid): its
 * commands are built before the fork.
 */
static int
tun_guard(struct steer_tun_if *ifs, size_t n, char *err, size_t errlen)
{
	static char pref[2][16];
	static char *argvs[2 * TUN_IFS_MAX][9];
	static char tc[256];
	char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	int p[2];
	size_t i, k;
	pid_t pid;

	if (steer_tool("tc", tc, sizeof(tc)) != 0) {
		steer_seterr(err, errlen,
		             "tc: not installed (apt-get install iproute2)");
		return -ENOENT;
	}
	snprintf(pref[0], sizeof(pref[0]), "%u", STEER_TC_DIVERT4);
	snprintf(pref[1], sizeof(pref[1]), "%u", STEER_TC_DIVERT6);
	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++) {
			char *a[9] = {"tc",   "filter",    "del",
			              "dev",  ifs[i].name, "ingress",
			              "pref", pref[k],     NULL};

			memcpy(argvs[2 * i + k], a, sizeof(a));
		}
	if (pipe(p) != 0)
		return -errno;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		char b;
		ssize_t r;
		int fd;

		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		for (fd = 3; fd < 4096; fd++)
			if (fd != p[0])
				close(fd);
		/* Held until it exits (see TUN_GUARD_NAME). */
		(void)tun_guard_bind();
		do
			r = read(p[0], &b, 1);
		while (r < 0 && errno == EINTR);
		if (r == 1)
			_exit(0);
		for (i = 0; i < 2 * n; i++) {
			pid_t c = fork();

			if (c == 0) {
				execve(tc, argvs[i], envp);
				_exit(127);
			}
			if (c > 0)
				while (waitpid(c, NULL, 0) < 0 &&
				       errno == EINTR)
					;
		}
		_exit(0);
	}
	close(p[0]);
	tun_guard_fd = p[1];
	tun_guard_pid = pid;
	return 0;
}

static void
tun_guard_stop(void)
{
	if (tun_guard_fd >= 0) {
		(void)!write(tun_guard_fd, "q", 1);
		close(tun_guard_fd);
		tun_guard_fd = -1;
	}
	if (tun_guard_pid > 0) {
		while (waitpid(tun_guard_pid, NULL, 0) < 0 && errno == EINTR)
			;
		tun_guard_pid = -1;
	}
}

int
steer_tun_apply(const struct config *c, char *err, size_t errlen)
{
	struct steer_tun_if ifs[TUN_IFS_MAX];
	size_t n = 0, len = 0, i;
	char *text = NULL;
	FILE *f;
	int rc;

	if (c->hooks & CONFIG_HOOK_IN) {
		n = tun_ifaces(c, ifs, TUN_IFS_MAX);
		tun_mark_clsact(ifs, n);
	}
	if ((f = open_memstream(&text, &len)) == NULL)
		return -errno;
	rc = steer_tun_route_text(c, ifs, n, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc == 0)
		rc = tun_run(text, true, err, errlen);
	free(text);
	if (rc == 0 && c->failure == CONFIG_FAILURE_OPEN && n > 0)
		rc = tun_guard(ifs, n, err, errlen);
	if (rc != 0) {
		/* Nothing half-done stays: the qdiscs added go too. */
		for (i = 0; i < n; i++)
			ifs[i].has_clsact = 1;
		tun_unroute(ifs, n);
	}
	return rc;
}

void
steer_tun_remove(void)
{
	struct steer_tun_if ifs[TUN_IFS_MAX];
	size_t n, i, k;

	tun_guard_stop();
	tun_guard_wait();
	/* Only an interface with a clsact qdisc can hold our filters. */
	n = tun_ifaces(NULL, ifs, TUN_IFS_MAX);
	tun_mark_clsact(ifs, n);
	for (i = k = 0; i < n; i++)
		if (ifs[i].has_clsact)
			ifs[k++] = ifs[i];
	tun_unroute(ifs, k);
}

/*
 * "Sent B bytes N pkt" of the tc action lines of one filter listing,
 * summed over the filters at the redirect prefs; the number of redirects
 * found in *found.
 */
static uint64_t
tun_tc_sent(const char *out, unsigned *found)
{
	const char *p = out, *l;
	bool ours = false;
	uint64_t sum = 0;
	unsigned long long b, n;
	unsigned pref;

	for (; p != NULL && *p != '\0'; p = l != NULL ? l + 1 : NULL) {
		l = strchr(p, '\n');
		if (sscanf(p, "filter protocol %*s pref %u", &pref) == 1)
			ours = pref == STEER_TC_DIVERT4 ||
			       pref == STEER_TC_DIVERT6;
		else if (ours && strstr(p, "Egress Redirect") != NULL &&
		         (l == NULL || strstr(p, "Egress Redirect") < l))
			(*found)++;
		else if (ours &&
		         sscanf(p, " Sent %llu bytes %llu pkt", &b, &n) == 2)
			sum += n;
	}
	return sum;
}

/* The nft marking chain, when table inet spackle has one: present, and
 * its marking rule's "counter packets N" (the rule commented "spackle
 * tun"). */
static void
tun_nft_state(struct steer_tun_state *st)
{
	char *argv[] = {"nft", "list", "table", "inet", STEER_NFT_TABLE, NULL};
	char want[64];
	struct steer_out o;
	const char *p, *l;
	unsigned long long n;

	if (steer_exec(argv, NULL, 0, &o) < 0)
		return;
	snprintf(want, sizeof(want), "comment \"%s\"", STEER_COMMENT_TUN);
	if (o.status == 0 && o.out != NULL) {
		st->nft_chain = strstr(o.out, "chain tun_out {") != NULL;
		for (p = o.out; p != NULL && *p != '\0';
		     p = l != NULL ? l + 1 : NULL) {
			const char *c;

			l = strchr(p, '\n');
			c = strstr(p, "counter packets ");
			if (c != NULL && (l == NULL || c < l) &&
			    strstr(p, want) != NULL &&
			    (l == NULL || strstr(p, want) < l) &&
			    sscanf(c, "counter packets %llu", &n) == 1)
				st->nft_marked += n;
		}
	}
	steer_out_free(&o);
}

int
steer_tun_state(const struct config *c, struct steer_tun_state *st)
{
	struct steer_tun_if ifs[TUN_IFS_MAX];
	size_t n, i;
	int f;

	memset(st, 0, sizeof(*st));
	for (f = 0; f < 2; f++) {
		char *argv[] = {"ip", f ? "-6" : "-4", "rule", "show", NULL};
		char want[64];
		struct steer_out o;

		snprintf(want, sizeof(want), "%u:", STEER_TUN_PREF);
		if (steer_exec(argv, NULL, 0, &o) < 0)
			return -ENOENT;
		if (o.status == 0 && o.out != NULL &&
		    (strncmp(o.out, want, strlen(want)) == 0 ||
		     strstr(o.out, want) != NULL))
			st->rules++;
		steer_out_free(&o);
	}
	tun_nft_state(st);
	n = tun_ifaces(c, ifs, TUN_IFS_MAX);
	for (i = 0; i < n; i++) {
		char *argv[] = {"tc",  "-s",        "filter",  "show",
		                "dev", ifs[i].name, "ingress", NULL};
		struct steer_out o;
		unsigned found = 0;

		if (steer_exec(argv, NULL, 0, &o) < 0)
			return -ENOENT;
		if (o.status == 0 && o.out != NULL)
			st->redirected += tun_tc_sent(o.out, &found);
		steer_out_free(&o);
		st->ifaces++;
		if (found == 2)
			st->ifaces_redirected++;
		else if (st->missing[0] == '\0')
			memcpy(st->missing, ifs[i].name, sizeof(st->missing));
	}
	return 0;
}

int
steer_tun_print(const struct config *c, FILE *out)
{
	struct steer_tun_if ifs[TUN_IFS_MAX];
	size_t n = 0;

	if (c->hooks & CONFIG_HOOK_IN)
		n = tun_ifaces(c, ifs, TUN_IFS_MAX);
	fprintf(out,
	        "# routing and tc (ip, tc), for this host's %zu "
	        "interface%s now:\n",
	        n, n == 1 ? "" : "s");
	return steer_tun_route_text(c, ifs, n, out);
}

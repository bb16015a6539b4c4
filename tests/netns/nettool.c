/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bounded TCP/UDP clients, servers and load generators for netns tests. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libnet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "../tools/argnum.h"
#include "../tools/inetsum.h"

/*
 * Every client prints one line of `key=value` pairs that starts with
 * `result=`, and exits with the code of that result, so a shell script can
 * tell a timeout from a refusal without parsing text.
 */
enum nt_result {
	NT_OK = 0,
	NT_TIMEOUT = 1,
	NT_REFUSED = 2,
	NT_ERROR = 3, /* any other failure: unreachable, EPERM, short echo */
	NT_USAGE = 64,
};

#define NT_MAX_CLIENTS 1024
/* tcp-latency -K: connections a busy process keeps open. */
#define NT_MAX_HELD    10000
#define NT_BATCH       64
#define NT_MSG_LEN     16
#define NT_LINE_MAX    256
#define NT_MAX_THREADS 64
#define NT_MAX_COUNT   1000000

struct nt_opts {
	const char *addr;
	const char *port;
	const char *tag;
	const char *log;
	const char *mode;
	const char *iface;     /* -I */
	const char *src;       /* -s: udp-spray's, syn-flood's first source */
	unsigned lifetime_s;   /* -t: servers and sink exit after this */
	unsigned wait_ms;      /* -w: connect, echo and error wait */
	unsigned hold_ms;      /* -H: keep a connection open after the result */
	unsigned count;        /* -n */
	unsigned duration_s;   /* -d */
	bool duration_set;     /* -d given (tcp-latency: run by time) */
	unsigned interval_ms;  /* -i */
	unsigned len;          /* -L */
	unsigned threads;      /* -j */
	unsigned srcs;         /* -k: udp-spray's source addresses */
	unsigned rate;         /* -r: udp-spray's flows a second, 0 no limit */
	unsigned held;         /* -K: tcp-latency's connections kept open */
	unsigned first_port;   /* -b: tcp-ports' first local port */
	const char *held_port; /* -P: where they go (an echo server) */
	long uid;              /* -u, -1 when absent */
	bool echo;             /* -e */
};

static volatile sig_atomic_t nt_stop;

static void
nt_on_signal(int sig)
{
	(void)sig;
	nt_stop = 1;
}

static uint64_t
nt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
nt_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double
nt_ms_since(uint64_t t0)
{
	return (double)(nt_now_ns() - t0) / 1e6;
}

/* Milliseconds left before deadline (ns), at least 0, for poll(). */
static int
nt_left_ms(uint64_t deadline)
{
	uint64_t now = nt_now_ns();

	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999u) / 1000000u);
}

static void
nt_usage(void)
{
	fputs("usage: nettool COMMAND [options]\n"
	      "servers (print `ready` once listening, exit after -t s):\n"
	      "  tcp-server -a ADDR -p PORT [-t S] [-m echo|close] [-o LOG]\n"
	      "  udp-server -a ADDR -p PORT [-t S] [-o LOG]   (echoes)\n"
	      "  udp-sink   -a ADDR -p PORT [-t S] [-i IDLE_MS]\n"
	      "clients (one `result=` line; exit 0 ok, 1 timeout, 2 refused, "
	      "3 other):\n"
	      "  tcp-connect -a ADDR -p PORT [-w MS] [-e] [-H MS] [-u UID]\n"
	      "  udp-send    -a ADDR -p PORT [-n N] [-T TAG] [-w MS] [-u UID]\n"
	      "  tcp-stream  -a ADDR -p PORT [-d S] [-i MS] [-w MS] [-u UID]\n"
	      "  tcp-bulk    -a ADDR -p PORT -n KIB [-w MS]   (KIB KiB to an "
	      "echo server\n"
	      "              and back, every byte checked)\n"
	      "  tcp-ports   -a ADDR -p PORT -b FIRST [-n N] [-w MS] [-H MS]\n"
	      "              (N connects at once from local ports FIRST.., "
	      "then a reset\n"
	      "              each; the process stays -H ms after)\n"
	      "  ping        -a ADDR [-n N] [-i MS] [-w MS]   (ICMP echo, "
	      "IPv4, root)\n"
	      "  packet-send -I IFACE -a ADDR -p PORT [-d S] [-i MS]   (UDP "
	      "through an\n"
	      "              AF_PACKET socket, past netfilter: libnet)\n"
	      "load:\n"
	      "  udp-flood   -a ADDR -p PORT [-d S] [-L LEN]\n"
	      "  tcp-rate    -a ADDR -p PORT [-d S] [-j THREADS] [-w MS]\n"
	      "  tcp-latency -a ADDR -p PORT [-n N] [-d S] [-w MS] [-o LOG]\n"
	      "              [-K HELD -P PORT2]   (first open HELD "
	      "connections to\n"
	      "              ADDR PORT2 and keep them open: a busy process)\n"
	      "  udp-spray   -a ADDR -p PORT -s SRC [-k ADDRS] [-n FLOWS] "
	      "[-r PER_S]\n"
	      "              [-d S] [-w MS] [-L LEN]   (a datagram from each "
	      "of -n source\n"
	      "              ends, raw socket, IPv4, root; counts the "
	      "answers)\n"
	      "  syn-flood   -a ADDR -p PORT -s SRC [-k ADDRS] [-n SYNS] "
	      "[-r PER_S] [-d S]\n"
	      "              (the same with TCP SYNs, from addresses no "
	      "host holds)\n"
	      "service manager:\n"
	      "  notify-sink -a SOCKET_PATH [-t S]   (sd_notify messages, a "
	      "line each)\n",
	      stderr);
}

static int
nt_parse_opts(int argc, char **argv, struct nt_opts *o)
{
	unsigned v;
	int c;

	memset(o, 0, sizeof(*o));
	o->port = NULL;
	o->tag = "t";
	o->mode = "echo";
	o->lifetime_s = 60;
	o->wait_ms = 2000;
	o->count = 1;
	o->duration_s = 5;
	o->interval_ms = 100;
	o->len = 64;
	o->threads = 4;
	o->srcs = 1;
	o->uid = -1;
	while ((c = getopt(argc, argv,
	                   "a:p:t:w:H:n:T:d:i:I:L:j:m:o:u:s:k:r:K:P:b:e")) !=
	       -1) {
		unsigned *dst = NULL;
		unsigned long max = UINT_MAX;

		switch (c) {
		case 'a':
			o->addr = optarg;
			continue;
		case 'p':
			o->port = optarg;
			continue;
		case 'T':
			o->tag = optarg;
			continue;
		case 'o':
			o->log = optarg;
			continue;
		case 'm':
			o->mode = optarg;
			continue;
		case 'I':
			o->iface = optarg;
			continue;
		case 's':
			o->src = optarg;
			continue;
		case 'P':
			o->held_port = optarg;
			continue;
		case 'e':
			o->echo = true;
			continue;
		case 'u':
			if (!argnum_uint(optarg, 65535, &v))
				goto bad;
			o->uid = v;
			continue;
		case 't':
			dst = &o->lifetime_s;
			max = 86400;
			break;
		case 'w':
			dst = &o->wait_ms;
			max = 600000;
			break;
		case 'H':
			dst = &o->hold_ms;
			max = 600000;
			break;
		case 'n':
			dst = &o->count;
			max = NT_MAX_COUNT;
			break;
		case 'd':
			o->duration_set = true;
			dst = &o->duration_s;
			max = 3600;
			break;
		case 'i':
			dst = &o->interval_ms;
			max = 600000;
			break;
		case 'L':
			dst = &o->len;
			max = 65000;
			break;
		case 'j':
			dst = &o->threads;
			max = NT_MAX_THREADS;
			break;
		case 'k':
			dst = &o->srcs;
			max = 256;
			break;
		case 'r':
			dst = &o->rate;
			max = 10000000;
			break;
		case 'K':
			dst = &o->held;
			max = NT_MAX_HELD;
			break;
		case 'b':
			dst = &o->first_port;
			max = 65535;
			break;
		default:
			nt_usage();
			return -1;
		}
		if (!argnum_uint(optarg, max, dst))
			goto bad;
	}
	if (optind != argc) {
		fprintf(stderr, "nettool: unexpected argument \"%s\"\n",
		        argv[optind]);
		return -1;
	}
	/* ping and notify-sink have no port. */
	if (o->addr == NULL ||
	    (o->port == NULL && strcmp(argv[0], "ping") != 0 &&
	     strcmp(argv[0], "notify-sink") != 0)) {
		fputs("nettool: -a ADDR and -p PORT are required\n", stderr);
		return -1;
	}
	if (o->threads == 0)
		o->threads = 1;
	if (o->count == 0)
		o->count = 1;
	if (o->srcs == 0)
		o->srcs = 1;
	return 0;
bad:
	fprintf(stderr, "nettool: -%c: bad value \"%s\"\n", c, optarg);
	return -1;
}

/* Numeric address and port to a sockaddr; no name lookups. */
static int
nt_resolve(const struct nt_opts *o, int type, struct sockaddr_storage *ss,
           socklen_t *len)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(o->addr, o->port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "nettool: %s port %s: %s\n", o->addr, o->port,
		        gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * A socket's uid is the creator's (sk_uid), which `user` rules match: drop
 * to the uid before the socket exists.
 */
static int
nt_drop_uid(long uid)
{
	uid_t u = (uid_t)uid;

	if (uid < 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(u, u, u) < 0 ||
	    setresuid(u, u, u) < 0) {
		fprintf(stderr, "nettool: cannot become uid %ld: %s\n", uid,
		        strerror(errno));
		return -1;
	}
	return 0;
}

static const char *
nt_errname(int err, enum nt_result *res)
{
	switch (err) {
	case 0:
		*res = NT_OK;
		return "ok";
	case ETIMEDOUT:
		*res = NT_TIMEOUT;
		return "timeout";
	case ECONNREFUSED:
	case ECONNRESET:
		*res = NT_REFUSED;
		return "refused";
	case EHOSTUNREACH:
	case ENETUNREACH:
		*res = NT_ERROR;
		return "unreachable";
	case EPERM:
	case EACCES:
		*res = NT_ERROR;
		return "eperm";
	default:
		*res = NT_ERROR;
		return "error";
	}
}

static void
nt_print_sockname(const char *key, int s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(s, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	printf(" %s=%s %s_port=%u", key, host, key, port);
}

/*
 * Non-blocking connect bounded by wait_ms. Returns the socket, or -1 with
 * *err set to the errno of the failure (ETIMEDOUT when the wait ran out).
 */
static int
nt_connect(const struct sockaddr_storage *ss, socklen_t len, unsigned wait_ms,
           int *err)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(*err);
	int s, rc;

	s = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	           0);
	if (s < 0) {
		*err = errno;
		return -1;
	}
	if (connect(s, (const struct sockaddr *)ss, len) == 0) {
		*err = 0;
		return s;
	}
	if (errno != EINPROGRESS) {
		*err = errno;
		goto fail;
	}
	pfd.fd = s;
	pfd.events = POLLOUT;
	do
		rc = poll(&pfd, 1, (int)wait_ms);
	while (rc < 0 && errno == EINTR && !nt_stop);
	if (rc < 0) {
		*err = errno;
		goto fail;
	}
	if (rc == 0) {
		*err = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, err, &elen) < 0)
		*err = errno;
	if (*err != 0)
		goto fail;
	return s;
fail:
	close(s);
	return -1;
}

/* Close without TIME_WAIT, so load loops do not run out of ports. */
static void
nt_close_reset(int s)
{
	struct linger lg = {1, 0};

	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(s);
}

/* Read exactly len bytes before deadline; 0, or an errno (ETIMEDOUT). */
static int
nt_read_full(int s, char *buf, size_t len, uint64_t deadline)
{
	struct pollfd pfd = {.fd = s, .events = POLLIN};
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		int rc = poll(&pfd, 1, nt_left_ms(deadline));

		if (rc < 0 && errno == EINTR && !nt_stop)
			continue;
		if (rc < 0)
			return errno;
		if (rc == 0)
			return ETIMEDOUT;
		n = recv(s, buf + got, len - got, 0);
		if (n == 0)
			return ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return errno;
		}
		got += (size_t)n;
	}
	return 0;
}

static int
nt_write_full(int s, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(s, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
nt_sleep_ms(unsigned ms)
{
	uint64_t end = nt_now_ns() + (uint64_t)ms * 1000000u;

	while (!nt_stop && nt_left_ms(end) > 0)
		poll(NULL, 0, nt_left_ms(end));
}

/* tcp-connect: result, connect time, optional echo and hold. */
static int
nt_tcp_connect(const struct nt_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	enum nt_result res;
	const char *name;
	char msg[NT_MSG_LEN] = "spackle-echo-01\n", back[NT_MSG_LEN];
	uint64_t t0;
	double conn_ms;
	int s, err;

	if (nt_resolve(o, SOCK_STREAM, &ss, &len) < 0 ||
	    nt_drop_uid(o->uid) < 0)
		return NT_USAGE;
	t0 = nt_now_ns();
	s = nt_connect(&ss, len, o->wait_ms, &err);
	conn_ms = nt_ms_since(t0);
	name = nt_errname(s < 0 ? err : 0, &res);
	if (s < 0) {
		printf("result=%s connect_ms=%.1f errno=%d\n", name, conn_ms,
		       err);
		return res;
	}
	if (o->echo) {
		uint64_t t1 = nt_now_ns();

		err = nt_write_full(s, msg, sizeof(msg));
		if (err == 0)
			err = nt_read_full(s, back, sizeof(back),
			                   t1 + (uint64_t)o->wait_ms *
			                                   1000000u);
		if (err == 0 && memcmp(msg, back, sizeof(msg)) != 0)
			err = EBADMSG;
		name = nt_errname(err, &res);
		printf("result=%s connect_ms=%.1f echo=%s echo_ms=%.1f",
		       err == 0 ? "ok" : "echo-failed", conn_ms, name,
		       nt_ms_since(t1));
		if (err != 0 && res == NT_OK)
			res = NT_ERROR;
	} else {
		printf("result=ok connect_ms=%.1f", conn_ms);
	}
	nt_print_sockname("local", s);
	putchar('\n');
	fflush(stdout);
	nt_sleep_ms(o->hold_ms);
	close(s);
	return res;
}

/*
 * udp-send: a connected socket (so ICMP errors come back as ECONNREFUSED),
 * `count` datagrams "TAG SEQ" 20 ms apart, then up to wait_ms for the echoes.
 */
static int
nt_udp_send(const struct nt_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pollfd pfd;
	enum nt_result res = NT_OK;
	char buf[NT_LINE_MAX];
	unsigned sent = 0, echoed = 0, i;
	uint64_t t0, deadline, next;
	int s, err = 0;

	if (nt_resolve(o, SOCK_DGRAM, &ss, &len) < 0 || nt_drop_uid(o->uid) < 0)
		return NT_USAGE;
	s = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&ss, len) < 0) {
		printf("result=error errno=%d\n", errno);
		return NT_ERROR;
	}
	t0 = nt_now_ns();
	deadline = UINT64_MAX;
	next = t0;
	pfd.fd = s;
	pfd.events = POLLIN;
	for (i = 0; err == 0 && !nt_stop;) {
		int wait, rc;
		ssize_t n;

		if (i < o->count && nt_now_ns() >= next) {
			int l = snprintf(buf, sizeof(buf), "%s %u\n", o->tag,
			                 i);

			if (send(s, buf, (size_t)l, 0) < 0)
				err = errno;
			else
				sent++;
			i++;
			next = nt_now_ns() + 20000000u;
			if (i == o->count)
				deadline = nt_now_ns() +
				           (uint64_t)o->wait_ms * 1000000u;
			continue;
		}
		if (echoed >= o->count)
			break;
		wait = i < o->count ? nt_left_ms(next) : nt_left_ms(deadline);
		if (i >= o->count && wait == 0)
			break;
		rc = poll(&pfd, 1, wait);
		if (rc <= 0)
			continue;
		n = recv(s, buf, sizeof(buf), 0);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			err = errno;
		else if (n >= 0)
			echoed++;
	}
	if (err != 0) {
		const char *name = nt_errname(err, &res);

		printf("result=%s ms=%.1f sent=%u echoed=%u errno=%d", name,
		       nt_ms_since(t0), sent, echoed, err);
	} else {
		res = echoed == o->count ? NT_OK
		      : echoed == 0      ? NT_TIMEOUT
		                         : NT_ERROR;
		printf("result=%s ms=%.1f sent=%u echoed=%u",
		       res == NT_OK        ? "ok"
		       : res == NT_TIMEOUT ? "timeout"
		                           : "partial",
		       nt_ms_since(t0), sent, echoed);
	}
	nt_print_sockname("local", s);
	putchar('\n');
	close(s);
	return res;
}

/* The local port of ss (IPv4 or IPv6) set to port. */
static void
nt_set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

/*
 * tcp-ports: -n connects begun at once, from local ports -b FIRST and up,
 * each waited for until -w ms have passed; how many connected. Then each
 * is closed by a reset (its conntrack entry ends CLOSE, and a SYN on the
 * same ports opens a new connection there) and the process stays -H ms: a
 * program whose flows ended on ports another program takes next.
 */
static int
nt_tcp_ports(const struct nt_opts *o)
{
	static struct pollfd pfd[NT_MAX_CLIENTS];
	static int fds[NT_MAX_CLIENTS];
	struct sockaddr_storage ss, local;
	socklen_t len;
	unsigned i, n = o->count, connected = 0, left = 0;
	uint64_t deadline;
	int one = 1, err;
	socklen_t elen;

	if (o->first_port == 0 || n > NT_MAX_CLIENTS ||
	    o->first_port + n - 1 > 65535) {
		fputs("nettool: tcp-ports needs -b FIRST and -n N with "
		      "FIRST+N-1 <= 65535, N <= 1024\n",
		      stderr);
		return NT_USAGE;
	}
	if (nt_resolve(o, SOCK_STREAM, &ss, &len) < 0)
		return NT_USAGE;
	for (i = 0; i < n; i++) {
		pfd[i].fd =
		        socket(ss.ss_family,
		               SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		pfd[i].events = POLLOUT;
		pfd[i].revents = 0;
		fds[i] = -1;
		if (pfd[i].fd < 0)
			continue;
		memset(&local, 0, sizeof(local));
		local.ss_family = ss.ss_family;
		nt_set_port(&local, o->first_port + i);
		setsockopt(pfd[i].fd, SOL_SOCKET, SO_REUSEADDR, &one,
		           sizeof(one));
		if (bind(pfd[i].fd, (struct sockaddr *)&local, len) < 0 ||
		    (connect(pfd[i].fd, (struct sockaddr *)&ss, len) < 0 &&
		     errno != EINPROGRESS)) {
			fprintf(stderr, "nettool: port %u: %s\n",
			        o->first_port + i, strerror(errno));
			close(pfd[i].fd);
			pfd[i].fd = -1;
		}
		fds[i] = pfd[i].fd;
		left += pfd[i].fd >= 0;
	}
	deadline = nt_now_ns() + (uint64_t)o->wait_ms * 1000000u;
	while (left > 0 && !nt_stop && nt_left_ms(deadline) > 0) {
		if (poll(pfd, n, nt_left_ms(deadline)) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			elen = sizeof(err);
			if (getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &err,
			               &elen) == 0 &&
			    err == 0)
				connected++;
			/* Settled: poll looks at it no more (an error
			 * would be reported again at once). */
			pfd[i].fd = -1;
			left--;
		}
	}
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			nt_close_reset(fds[i]);
	printf("result=ok connected=%u of=%u\n", connected, n);
	fflush(stdout);
	nt_sleep_ms(o->hold_ms);
	return NT_OK;
}

/* A TCP connection to o's address within -w ms, as -u's user when given:
 * NT_OK and the socket in *s, else the result, its line printed. */
static int
nt_dial(const struct nt_opts *o, int *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	enum nt_result res;
	int err;

	if (nt_resolve(o, SOCK_STREAM, &ss, &len) < 0 ||
	    nt_drop_uid(o->uid) < 0)
		return NT_USAGE;
	if ((*s = nt_connect(&ss, len, o->wait_ms, &err)) < 0) {
		printf("result=%s phase=connect errno=%d\n",
		       nt_errname(err, &res), err);
		return res;
	}
	return NT_OK;
}

/*
 * tcp-stream: one connection, a 16-byte message every interval, each echo
 * printed with the wall clock (ms) so a script can count the echoes after
 * an event. A message not echoed within wait_ms ends it as "stalled".
 */
static int
nt_tcp_stream(const struct nt_opts *o)
{
	char msg[NT_MSG_LEN + 1], back[NT_MSG_LEN];
	uint64_t t0, end, last, gap, maxgap = 0;
	unsigned seq = 0;
	int s, err;

	if ((err = nt_dial(o, &s)) != NT_OK)
		return err;
	t0 = nt_now_ns();
	end = t0 + (uint64_t)o->duration_s * 1000000000u;
	last = t0;
	printf("connected wall_ms=%llu\n", (unsigned long long)nt_wall_ms());
	fflush(stdout);
	while (!nt_stop && nt_now_ns() < end) {
		snprintf(msg, sizeof(msg), "seq %011u\n", seq);
		err = nt_write_full(s, msg, NT_MSG_LEN);
		if (err == 0)
			err = nt_read_full(s, back, sizeof(back),
			                   nt_now_ns() + (uint64_t)o->wait_ms *
			                                         1000000u);
		if (err == 0 && memcmp(msg, back, NT_MSG_LEN) != 0)
			err = EBADMSG;
		if (err != 0) {
			printf("result=%s echoes=%u maxgap_ms=%.1f errno=%d\n",
			       err == ETIMEDOUT ? "stalled" : "error", seq,
			       (double)maxgap / 1e6, err);
			close(s);
			return err == ETIMEDOUT ? NT_TIMEOUT : NT_ERROR;
		}
		gap = nt_now_ns() - last;
		last = nt_now_ns();
		if (gap > maxgap)
			maxgap = gap;
		printf("echo %u wall_ms=%llu\n", seq,
		       (unsigned long long)nt_wall_ms());
		fflush(stdout);
		seq++;
		nt_sleep_ms(o->interval_ms);
	}
	printf("result=ok echoes=%u maxgap_ms=%.1f\n", seq,
	       (double)maxgap / 1e6);
	close(s);
	return NT_OK;
}

/* tcp-bulk's byte at offset i of the stream: a function of i alone, so a
 * byte lost, repeated, moved or changed shows. */
static uint8_t
nt_bulk_byte(uint64_t i)
{
	return (uint8_t)(i * 131u + (i >> 13) + (i >> 21));
}

/*
 * tcp-bulk: o->count KiB to an echo server, written and read back at
 * once (non-blocking, so neither side's buffers stall the other), each
 * byte read compared with the one written there. Stalled when nothing
 * moves for -w ms.
 */
static int
nt_tcp_bulk(const struct nt_opts *o)
{
	struct pollfd pfd;
	uint64_t want = (uint64_t)o->count * 1024u, sent = 0, got = 0, t0,
	         moved, i;
	uint8_t buf[65536];
	ssize_t n;
	size_t k;
	int s, err;

	if ((err = nt_dial(o, &s)) != NT_OK)
		return err;
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	t0 = moved = nt_now_ns();
	while (got < want && !nt_stop) {
		pfd.fd = s;
		pfd.events = (short)(POLLIN | (sent < want ? POLLOUT : 0));
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			break;
		if (nt_now_ns() - moved > (uint64_t)o->wait_ms * 1000000u) {
			printf("result=stalled sent=%llu got=%llu\n",
			       (unsigned long long)sent,
			       (unsigned long long)got);
			close(s);
			return NT_TIMEOUT;
		}
		if (sent < want && (pfd.revents & POLLOUT)) {
			k = want - sent < sizeof(buf) ? (size_t)(want - sent)
			                              : sizeof(buf);
			for (i = 0; i < k; i++)
				buf[i] = nt_bulk_byte(sent + i);
			n = send(s, buf, k, MSG_NOSIGNAL);
			if (n > 0) {
				sent += (uint64_t)n;
				moved = nt_now_ns();
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				break;
			}
		}
		n = recv(s, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		for (i = 0; n > 0 && i < (uint64_t)n; i++)
			if (buf[i] != nt_bulk_byte(got + i)) {
				printf("result=corrupt at=%llu\n",
				       (unsigned long long)(got + i));
				close(s);
				return NT_ERROR;
			}
		if (n > 0) {
			got += (uint64_t)n;
			moved = nt_now_ns();
		}
	}
	close(s);
	if (got < want) {
		printf("result=error sent=%llu got=%llu errno=%d\n",
		       (unsigned long long)sent, (unsigned long long)got,
		       errno);
		return NT_ERROR;
	}
	printf("result=ok bytes=%llu ms=%.1f\n", (unsigned long long)got,
	       (double)(nt_now_ns() - t0) / 1e6);
	return NT_OK;
}

static int
nt_listen(const struct nt_opts *o, int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int s, one = 1;

	if (nt_resolve(o, type, &ss, &len) < 0)
		return -1;
	s = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto fail;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(s, 4096) < 0)
		goto fail;
	return s;
fail:
	fprintf(stderr, "nettool: listen on %s port %s: %s\n", o->addr, o->port,
	        strerror(errno));
	if (s >= 0)
		close(s);
	return -1;
}

static FILE *
nt_open_log(const struct nt_opts *o)
{
	FILE *f;

	if (o->log == NULL)
		return NULL;
	f = fopen(o->log, "a");
	if (f == NULL)
		fprintf(stderr, "nettool: %s: %s\n", o->log, strerror(errno));
	else
		setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

static void
nt_addr_text(const struct sockaddr_storage *ss, char *host, size_t hlen,
             unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)hlen);
		*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 =
		        (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)hlen);
		*port = ntohs(sin6->sin6_port);
	}
}

/*
 * tcp-server: accepts until the lifetime ends. `echo` mode echoes every
 * client (up to NT_MAX_CLIENTS at once); `close` mode closes each
 * connection at once (connection-rate and latency loads). With -o, one
 * line per accepted connection: "accept ADDR PORT".
 */
static int
nt_tcp_server(const struct nt_opts *o)
{
	static struct pollfd pfd[NT_MAX_CLIENTS + 1];
	unsigned long long accepted = 0;
	bool echo = strcmp(o->mode, "echo") == 0;
	uint64_t end;
	nfds_t n = 1, i;
	FILE *log;
	int ls;

	if (!echo && strcmp(o->mode, "close") != 0) {
		fprintf(stderr, "nettool: -m echo|close\n");
		return NT_USAGE;
	}
	ls = nt_listen(o, SOCK_STREAM);
	if (ls < 0)
		return NT_ERROR;
	log = nt_open_log(o);
	end = nt_now_ns() + (uint64_t)o->lifetime_s * 1000000000u;
	pfd[0].fd = ls;
	pfd[0].events = POLLIN;
	printf("ready\n");
	fflush(stdout);
	while (!nt_stop && nt_left_ms(end) > 0) {
		int rc = poll(pfd, n,
		              nt_left_ms(end) < 200 ? nt_left_ms(end) : 200);

		if (rc <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			int c;

			while ((c = accept4(ls, (struct sockaddr *)&ss, &sl,
			                    SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
			       0) {
				accepted++;
				if (log != NULL) {
					char host[INET6_ADDRSTRLEN];
					unsigned port;

					nt_addr_text(&ss, host, sizeof(host),
					             &port);
					fprintf(log, "accept %s %u\n", host,
					        port);
				}
				if (!echo || n > NT_MAX_CLIENTS) {
					close(c);
				} else {
					pfd[n].fd = c;
					pfd[n].events = POLLIN;
					pfd[n].revents = 0;
					n++;
				}
				sl = sizeof(ss);
			}
		}
		for (i = 1; i < n; i++) {
			char buf[4096];
			ssize_t r;

			if (pfd[i].revents == 0)
				continue;
			r = recv(pfd[i].fd, buf, sizeof(buf), 0);
			if (r > 0 &&
			    nt_write_full(pfd[i].fd, buf, (size_t)r) == 0)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			close(pfd[i].fd);
			pfd[i] = pfd[n - 1];
			n--;
			i--;
		}
	}
	for (i = 1; i < n; i++)
		close(pfd[i].fd);
	close(ls);
	if (log != NULL)
		fclose(log);
	printf("result=ok accepted=%llu\n", accepted);
	return NT_OK;
}

/* udp-server: echoes each datagram; with -o logs "ADDR PAYLOAD" per one. */
static int
nt_udp_server(const struct nt_opts *o)
{
	struct pollfd pfd;
	unsigned long long received = 0;
	uint64_t end;
	FILE *log;
	int s, size = 8 << 20;

	s = nt_listen(o, SOCK_DGRAM);
	if (s < 0)
		return NT_ERROR;
	/* A burst of new flows (udp-spray) outruns the default buffers;
	 * and each answer held in a queue of the daemon is still charged
	 * to this socket's send buffer. */
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	log = nt_open_log(o);
	end = nt_now_ns() + (uint64_t)o->lifetime_s * 1000000000u;
	pfd.fd = s;
	pfd.events = POLLIN;
	printf("ready\n");
	fflush(stdout);
	while (!nt_stop && nt_left_ms(end) > 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char buf[NT_LINE_MAX], host[INET6_ADDRSTRLEN];
		unsigned port;
		ssize_t r;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		r = recvfrom(s, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&ss,
		             &sl);
		if (r < 0)
			continue;
		received++;
		sendto(s, buf, (size_t)r, 0, (struct sockaddr *)&ss, sl);
		if (log == NULL)
			continue;
		buf[r] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		nt_addr_text(&ss, host, sizeof(host), &port);
		fprintf(log, "%s %s\n", host, buf);
	}
	close(s);
	if (log != NULL)
		fclose(log);
	printf("result=ok received=%llu\n", received);
	return NT_OK;
}

/* udp-sink: counts datagrams; ends idle_ms after the last one, or -t. */
static int
nt_udp_sink(const struct nt_opts *o)
{
	static char bufs[NT_BATCH][2048];
	struct mmsghdr msgs[NT_BATCH];
	struct iovec iov[NT_BATCH];
	struct pollfd pfd;
	unsigned long long received = 0;
	uint64_t end, first = 0, last = 0;
	int s, size = 8 << 20, i;

	s = nt_listen(o, SOCK_DGRAM);
	if (s < 0)
		return NT_ERROR;
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	for (i = 0; i < NT_BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = nt_now_ns() + (uint64_t)o->lifetime_s * 1000000000u;
	pfd.fd = s;
	pfd.events = POLLIN;
	printf("ready\n");
	fflush(stdout);
	while (!nt_stop && nt_left_ms(end) > 0) {
		int r;

		if (received > 0 &&
		    nt_now_ns() - last > (uint64_t)o->interval_ms * 1000000u)
			break;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		r = recvmmsg(s, msgs, NT_BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			continue;
		last = nt_now_ns();
		if (received == 0)
			first = last;
		received += (unsigned)r;
	}
	close(s);
	printf("result=ok received=%llu span_ms=%.1f\n", received,
	       (double)(last - first) / 1e6);
	return NT_OK;
}

/* udp-flood: sendmmsg bursts of LEN-byte datagrams for -d seconds. */
static int
nt_udp_flood(const struct nt_opts *o)
{
	static char payload[65000];
	struct mmsghdr msgs[NT_BATCH];
	struct iovec iov;
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned long long sent = 0, errors = 0;
	uint64_t t0, end;
	int s, i;

	if (nt_resolve(o, SOCK_DGRAM, &ss, &len) < 0)
		return NT_USAGE;
	s = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&ss, len) < 0) {
		printf("result=error errno=%d\n", errno);
		return NT_ERROR;
	}
	memset(payload, 'x', o->len);
	iov.iov_base = payload;
	iov.iov_len = o->len;
	for (i = 0; i < NT_BATCH; i++) {
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = nt_now_ns();
	end = t0 + (uint64_t)o->duration_s * 1000000000u;
	while (!nt_stop && nt_now_ns() < end) {
		int r = sendmmsg(s, msgs, NT_BATCH, 0);

		if (r > 0)
			sent += (unsigned)r;
		else
			errors++;
	}
	printf("result=ok sent=%llu errors=%llu pps=%.0f\n", sent, errors,
	       (double)sent / ((double)(nt_now_ns() - t0) / 1e9));
	close(s);
	return NT_OK;
}

/*
 * udp-spray's datagrams and syn-flood's segments: an IPv4 header, then a UDP
 * header and the payload, or a TCP header with SYN and no payload.
 */
#define NT_SPRAY_IP    20
#define NT_SPRAY_UDP   8
#define NT_SPRAY_TCP   20
#define NT_SPRAY_PORT0 1024u

/* The one's complement sum of n bytes at p (RFC 1071), added to sum. */
/* The TCP checksum of the segment after the IPv4 header h (RFC 793 3.1). */
static void
nt_tcp4_checksum(uint8_t *h, size_t l4len)
{
	uint16_t sum;

	h[NT_SPRAY_IP + 16] = 0;
	h[NT_SPRAY_IP + 17] = 0;
	sum = inetsum_fold(inetsum_add(h + NT_SPRAY_IP, l4len,
	                               inetsum_add(h + 12, 8, 0) + IPPROTO_TCP +
	                                       (uint32_t)l4len));
	h[NT_SPRAY_IP + 16] = (uint8_t)(sum >> 8);
	h[NT_SPRAY_IP + 17] = (uint8_t)sum;
}

/* Count the answers from dst:port waiting on the raw socket r. */
static void
nt_spray_drain(int r, uint32_t dst, uint16_t port, unsigned long long *answered)
{
	uint8_t buf[2048];
	uint32_t a;
	uint16_t p;
	ssize_t n;
	size_t hl;

	while ((n = recv(r, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if ((size_t)n < 20)
			continue;
		hl = (size_t)(buf[0] & 0x0f) * 4;
		if (hl < 20 || (size_t)n < hl + 8)
			continue;
		memcpy(&a, buf + 12, 4);
		memcpy(&p, buf + hl, 2);
		if (a == dst && p == port)
			(*answered)++;
	}
}

/* One packet of the batch: the headers that stay the same for every flow. */
static size_t
nt_spray_template(uint8_t *h, int proto, struct in_addr dst, uint16_t dport,
                  unsigned len)
{
	size_t l4 = proto == IPPROTO_TCP ? NT_SPRAY_TCP : NT_SPRAY_UDP + len;
	uint16_t tot = htons((uint16_t)(NT_SPRAY_IP + l4));
	uint16_t ulen = htons((uint16_t)l4);

	h[0] = 0x45; /* IPv4, 20-byte header */
	memcpy(h + 2, &tot, 2);
	h[8] = 64; /* TTL */
	h[9] = (uint8_t)proto;
	/* the kernel fills in the id and the header checksum */
	memcpy(h + 16, &dst, 4);
	memcpy(h + NT_SPRAY_IP + 2, &dport, 2);
	if (proto == IPPROTO_TCP) {
		h[NT_SPRAY_IP + 12] = 5 << 4; /* data offset: 20 bytes */
		h[NT_SPRAY_IP + 13] = 0x02;   /* SYN */
		h[NT_SPRAY_IP + 14] = 0xfa;   /* window 64240 */
		h[NT_SPRAY_IP + 15] = 0xf0;
	} else {
		memcpy(h + NT_SPRAY_IP + 4, &ulen, 2);
		/* UDP checksum 0: none (RFC 768) */
		memset(h + NT_SPRAY_IP + NT_SPRAY_UDP, 'x', len);
	}
	return NT_SPRAY_IP + l4;
}

/*
 * udp-spray and syn-flood: one datagram (or SYN) from each of -n source ends
 * (address SRC + i % k, port 1024 + i / k) to ADDR:PORT, -r a second at
 * most, for -d seconds at most; then -w ms for the answers. A raw socket,
 * so no socket per flow: the sources are addresses nothing listens on
 * (for a SYN flood, addresses no host holds: the answers go nowhere).
 */
static int
nt_spray(const struct nt_opts *o, int proto)
{
	static uint8_t pkts[NT_BATCH][NT_SPRAY_IP + NT_SPRAY_UDP + 1024];
	struct mmsghdr msgs[NT_BATCH];
	struct iovec iov[NT_BATCH];
	struct sockaddr_in to;
	struct in_addr src0;
	unsigned long long sent = 0, answered = 0, errors = 0;
	uint64_t t0, end, quiet;
	unsigned port, per_src, i;
	uint16_t dport;
	size_t plen = 0;
	int s, r, size = 32 << 20;

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	if (o->src == NULL || !argnum_uint(o->port, 65535, &port) ||
	    inet_pton(AF_INET, o->addr, &to.sin_addr) != 1 ||
	    inet_pton(AF_INET, o->src, &src0) != 1 || o->len > 1024) {
		fputs("nettool: udp-spray and syn-flood need IPv4 -a and -s, "
		      "-L at most 1024\n",
		      stderr);
		return NT_USAGE;
	}
	per_src = (o->count + o->srcs - 1) / o->srcs;
	if (per_src > 65536 - NT_SPRAY_PORT0) {
		fprintf(stderr,
		        "nettool: %u flows need more than %u "
		        "addresses (-k)\n",
		        o->count, o->srcs);
		return NT_USAGE;
	}
	s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	r = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (s < 0 || r < 0) {
		printf("result=error errno=%d\n", errno);
		return NT_ERROR;
	}
	if (setsockopt(r, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(r, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	dport = htons((uint16_t)port);
	for (i = 0; i < NT_BATCH; i++) {
		memset(pkts[i], 0, sizeof(pkts[i]));
		plen = nt_spray_template(pkts[i], proto, to.sin_addr, dport,
		                         o->len);
		iov[i].iov_base = pkts[i];
		iov[i].iov_len = plen;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = nt_now_ns();
	end = t0 + (uint64_t)o->duration_s * 1000000000u;
	while (!nt_stop && sent < o->count && nt_now_ns() < end) {
		unsigned n = 0;
		int k;

		for (; n < NT_BATCH && sent + n < o->count; n++) {
			unsigned long long f = sent + n;
			uint32_t a = htonl(ntohl(src0.s_addr) +
			                   (uint32_t)(f % o->srcs));
			uint16_t sp =
			        htons((uint16_t)(NT_SPRAY_PORT0 + f / o->srcs));
			uint32_t seq = htonl((uint32_t)(f * 2654435761u));

			memcpy(pkts[n] + 12, &a, 4);
			memcpy(pkts[n] + NT_SPRAY_IP, &sp, 2);
			if (proto != IPPROTO_TCP)
				continue;
			memcpy(pkts[n] + NT_SPRAY_IP + 4, &seq, 4);
			nt_tcp4_checksum(pkts[n], plen - NT_SPRAY_IP);
		}
		k = sendmmsg(s, msgs, n, 0);
		if (k > 0)
			sent += (unsigned)k;
		else if (errno != EINTR)
			errors++;
		nt_spray_drain(r, to.sin_addr.s_addr, dport, &answered);
		if (o->rate == 0)
			continue;
		/* Ahead of the rate: wait, counting answers meanwhile. */
		for (;;) {
			uint64_t due = t0 + sent * 1000000000ull / o->rate;
			uint64_t now = nt_now_ns();
			struct pollfd pfd = {.fd = r, .events = POLLIN};
			struct timespec ts;

			if (now >= due || nt_stop)
				break;
			ts.tv_sec = (time_t)((due - now) / 1000000000u);
			ts.tv_nsec = (long)((due - now) % 1000000000u);
			if (ppoll(&pfd, 1, &ts, NULL) > 0)
				nt_spray_drain(r, to.sin_addr.s_addr, dport,
				               &answered);
		}
	}
	end = nt_now_ns();
	quiet = end;
	while (!nt_stop && answered < sent &&
	       nt_now_ns() - quiet < (uint64_t)o->wait_ms * 1000000u) {
		unsigned long long before = answered;
		struct pollfd pfd = {.fd = r, .events = POLLIN};

		if (poll(&pfd, 1, 50) > 0)
			nt_spray_drain(r, to.sin_addr.s_addr, dport, &answered);
		if (answered != before)
			quiet = nt_now_ns();
	}
	printf("result=%s sent=%llu answered=%llu errors=%llu secs=%.2f "
	       "per_s=%.0f\n",
	       sent > 0 ? "ok" : "error", sent, answered, errors,
	       (double)(end - t0) / 1e9,
	       (double)sent / ((double)(end - t0) / 1e9));
	close(s);
	close(r);
	return sent > 0 ? NT_OK : NT_ERROR;
}

static int
nt_udp_spray(const struct nt_opts *o)
{
	return nt_spray(o, IPPROTO_UDP);
}

static int
nt_syn_flood(const struct nt_opts *o)
{
	return nt_spray(o, IPPROTO_TCP);
}

struct nt_rate {
	const struct nt_opts *o;
	const struct sockaddr_storage *ss;
	socklen_t len;
	uint64_t end;
	unsigned long long ok, failed;
};

static void *
nt_rate_thread(void *arg)
{
	struct nt_rate *r = arg;
	int s, err;

	while (!nt_stop && nt_now_ns() < r->end) {
		s = nt_connect(r->ss, r->len, r->o->wait_ms, &err);
		if (s < 0) {
			r->failed++;
			continue;
		}
		r->ok++;
		nt_close_reset(s);
	}
	return NULL;
}

/* tcp-rate: -j threads connect and close (RST) for -d seconds. */
static int
nt_tcp_rate(const struct nt_opts *o)
{
	struct nt_rate r[NT_MAX_THREADS];
	pthread_t th[NT_MAX_THREADS];
	struct sockaddr_storage ss;
	unsigned long long ok = 0, failed = 0;
	uint64_t t0;
	socklen_t len;
	unsigned i, started = 0;

	if (nt_resolve(o, SOCK_STREAM, &ss, &len) < 0)
		return NT_USAGE;
	t0 = nt_now_ns();
	for (i = 0; i < o->threads; i++) {
		r[i] = (struct nt_rate){
		        o, &ss, len, t0 + (uint64_t)o->duration_s * 1000000000u,
		        0, 0};
		if (pthread_create(&th[i], NULL, nt_rate_thread, &r[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		ok += r[i].ok;
		failed += r[i].failed;
	}
	printf("result=%s connects=%llu failed=%llu threads=%u rate=%.0f\n",
	       ok > 0 ? "ok" : "error", ok, failed, started,
	       (double)ok / ((double)(nt_now_ns() - t0) / 1e9));
	return ok > 0 ? NT_OK : NT_ERROR;
}

static int
nt_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * tcp-latency -K: open n connections to o's address and -P port (an echo
 * server keeps them established) before the measured connects, so that
 * they come from a process that holds many sockets, as a browser or a
 * database does. Their fds in held (n of them), or -1 with why.
 */
static int
nt_hold_open(const struct nt_opts *o, unsigned n, int *held)
{
	struct nt_opts h = *o;
	struct sockaddr_storage ss;
	struct rlimit rl;
	socklen_t len;
	unsigned i;
	int err;

	h.port = o->held_port != NULL ? o->held_port : o->port;
	if (nt_resolve(&h, SOCK_STREAM, &ss, &len) < 0)
		return -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
		rl.rlim_cur = n + 64 < rl.rlim_max ? n + 64 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < n; i++) {
		if ((held[i] = nt_connect(&ss, len, o->wait_ms, &err)) < 0) {
			fprintf(stderr,
			        "nettool: holding connection %u of %u to %s "
			        "port %s: %s\n",
			        i + 1, n, h.addr, h.port, strerror(err));
			while (i > 0)
				close(held[--i]);
			return -1;
		}
	}
	return 0;
}

/*
 * tcp-latency: -n sequential connects, each timed until it completes; with
 * -d, connects for that many seconds instead, the first -n of them timed
 * (a load that outlasts whatever it runs beside). With -o LOG, a line per
 * completed connect: its wall-clock time (ns) and local port, written at
 * once (a reader may look while it runs). With -K, from a process holding
 * that many other connections open (nt_hold_open).
 */
static int
nt_tcp_latency(const struct nt_opts *o)
{
	struct sockaddr_storage ss, ls;
	struct timespec ts;
	socklen_t len, llen;
	uint64_t *lat, t0, end, done = 0;
	unsigned i, n = 0, failed = 0;
	int s, err, logfd = -1, k, *held;
	char line[64], host[INET6_ADDRSTRLEN];
	unsigned port;

	if (nt_resolve(o, SOCK_STREAM, &ss, &len) < 0)
		return NT_USAGE;
	if (o->log != NULL &&
	    (logfd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	                  0644)) < 0) {
		fprintf(stderr, "nettool: %s: %s\n", o->log, strerror(errno));
		return NT_ERROR;
	}
	lat = calloc(o->count, sizeof(*lat));
	held = calloc(o->held + 1, sizeof(*held));
	if (lat == NULL || held == NULL || nt_hold_open(o, o->held, held) < 0) {
		if (logfd >= 0)
			close(logfd);
		free(lat);
		free(held);
		return NT_ERROR;
	}
	end = o->duration_set
	              ? nt_now_ns() + (uint64_t)o->duration_s * 1000000000u
	              : 0;
	for (i = 0; !nt_stop; i++) {
		if (end != 0 ? nt_now_ns() >= end : i >= o->count)
			break;
		t0 = nt_now_ns();
		s = nt_connect(&ss, len, o->wait_ms, &err);
		if (s < 0) {
			failed++;
			continue;
		}
		if (n < o->count)
			lat[n++] = nt_now_ns() - t0;
		done++;
		llen = sizeof(ls);
		if (logfd >= 0 &&
		    getsockname(s, (struct sockaddr *)&ls, &llen) == 0) {
			clock_gettime(CLOCK_REALTIME, &ts);
			nt_addr_text(&ls, host, sizeof(host), &port);
			k = snprintf(line, sizeof(line), "%llu %u\n",
			             (unsigned long long)ts.tv_sec *
			                             1000000000ull +
			                     (unsigned long long)ts.tv_nsec,
			             port);
			if (write(logfd, line, (size_t)k) != k)
				failed++;
		}
		nt_close_reset(s);
	}
	if (logfd >= 0)
		close(logfd);
	for (i = 0; i < o->held; i++)
		close(held[i]);
	free(held);
	if (n == 0) {
		printf("result=error n=0 done=0 failed=%u\n", failed);
		free(lat);
		return NT_ERROR;
	}
	qsort(lat, n, sizeof(*lat), nt_cmp_u64);
	printf("result=ok n=%u done=%llu failed=%u p50_us=%.1f p99_us=%.1f "
	       "max_us=%.1f\n",
	       n, (unsigned long long)done, failed,
	       (double)lat[(n - 1) / 2] / 1e3,
	       (double)lat[(size_t)((n - 1) * 0.99)] / 1e3,
	       (double)lat[n - 1] / 1e3);
	free(lat);
	return NT_OK;
}

/*
 * packet-send: UDP datagrams to -a ADDR (IPv4) port -p, every -i ms for -d
 * s, written whole (Ethernet, IPv4, UDP, built by libnet) to an AF_PACKET
 * socket on -I IFACE, to the broadcast MAC: the way a DHCP client sends,
 * which no netfilter hook sees. One `result=` line with the count.
 */
static int
nt_packet_send(const struct nt_opts *o)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	char ebuf[LIBNET_ERRBUF_SIZE], payload[32];
	struct libnet_ether_addr *mac;
	uint32_t src, dst;
	unsigned port, sent = 0;
	uint64_t end;
	libnet_t *ln;
	int n;

	if (o->iface == NULL || o->addr == NULL || o->port == NULL ||
	    !argnum_uint(o->port, 65535, &port)) {
		nt_usage();
		return NT_USAGE;
	}
	if ((ln = libnet_init(LIBNET_LINK, o->iface, ebuf)) == NULL) {
		fprintf(stderr, "nettool: libnet: %s\n", ebuf);
		return NT_ERROR;
	}
	dst = libnet_name2addr4(ln, (char *)(uintptr_t)o->addr,
	                        LIBNET_DONT_RESOLVE);
	src = libnet_get_ipaddr4(ln);
	mac = libnet_get_hwaddr(ln);
	if (dst == (uint32_t)-1 || mac == NULL) {
		fprintf(stderr, "nettool: %s\n", libnet_geterror(ln));
		libnet_destroy(ln);
		return NT_ERROR;
	}
	end = nt_now_ns() + (uint64_t)o->duration_s * 1000000000u;
	while (!nt_stop && nt_now_ns() < end) {
		n = snprintf(payload, sizeof(payload), "raw %u\n", sent);
		libnet_clear_packet(ln);
		if (libnet_build_udp(
		            40000, (uint16_t)port, (uint16_t)(LIBNET_UDP_H + n),
		            0, (uint8_t *)payload, (uint32_t)n, ln, 0) == -1 ||
		    libnet_build_ipv4(
		            (uint16_t)(LIBNET_IPV4_H + LIBNET_UDP_H + n), 0,
		            (uint16_t)sent, 0, 64, IPPROTO_UDP, 0, src, dst,
		            NULL, 0, ln, 0) == -1 ||
		    libnet_build_ethernet(bcast, mac->ether_addr_octet,
		                          ETHERTYPE_IP, NULL, 0, ln, 0) == -1 ||
		    libnet_write(ln) == -1) {
			fprintf(stderr, "nettool: %s\n", libnet_geterror(ln));
			break;
		}
		sent++;
		usleep(o->interval_ms * 1000u);
	}
	libnet_destroy(ln);
	printf("result=%s sent=%u\n", sent > 0 ? "ok" : "error", sent);
	return sent > 0 ? NT_OK : NT_ERROR;
}

/* ping: -n ICMP echo requests to -a ADDR (IPv4), one every -i ms; the
 * replies that came back within -w ms of the last, and the longest round
 * trip. */
static int
nt_ping(const struct nt_opts *o)
{
	struct sockaddr_in to;
	struct pollfd pfd;
	uint8_t pkt[64], back[256];
	unsigned i, replies = 0;
	uint16_t sum;
	static uint64_t sent_ns[65536]; /* by sequence number */
	uint64_t deadline, rtt, max_rtt = 0;
	ssize_t n;
	int s;

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	if (o->addr == NULL || inet_pton(AF_INET, o->addr, &to.sin_addr) != 1) {
		nt_usage();
		return NT_USAGE;
	}
	if ((s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)) < 0) {
		printf("result=error errno=%d\n", errno);
		return NT_ERROR;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	for (i = 0; i < o->count && !nt_stop; i++) {
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = 8; /* echo request */
		pkt[4] = (uint8_t)(getpid() >> 8);
		pkt[5] = (uint8_t)getpid();
		pkt[6] = (uint8_t)(i >> 8);
		pkt[7] = (uint8_t)i;
		sum = inetsum_fold(inetsum_add(pkt, sizeof(pkt), 0));
		pkt[2] = (uint8_t)(sum >> 8);
		pkt[3] = (uint8_t)sum;
		if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
		           sizeof(to)) < 0)
			break;
		sent_ns[i & 0xffff] = nt_now_ns();
		deadline = nt_now_ns() + (uint64_t)(i + 1 == o->count
		                                            ? o->wait_ms
		                                            : o->interval_ms) *
		                                 1000000u;
		while (poll(&pfd, 1, nt_left_ms(deadline)) > 0) {
			n = recv(s, back, sizeof(back), 0);
			/* IPv4 header, then an echo reply (type 0) of ours */
			if (n < 28 || back[20] != 0 ||
			    back[24] != (uint8_t)(getpid() >> 8) ||
			    back[25] != (uint8_t)getpid())
				continue;
			replies++;
			rtt = nt_now_ns() -
			      sent_ns[(unsigned)back[26] << 8 | back[27]];
			if (rtt > max_rtt)
				max_rtt = rtt;
		}
	}
	close(s);
	printf("result=%s sent=%u replies=%u max_ms=%.2f\n",
	       replies ? "ok" : "timeout", i, replies, (double)max_rtt / 1e6);
	return replies ? NT_OK : NT_TIMEOUT;
}

struct nt_command {
	const char *name;
	int (*fn)(const struct nt_opts *o);
};

/*
 * notify-sink: what a service manager hears. Binds the datagram socket -a
 * PATH (as systemd's NOTIFY_SOCKET), prints `ready`, then each message it
 * gets as one line `MS FIELD;FIELD;...` (ms since start, the message's
 * newlines as ';'), until -t s pass.
 */
static int
nt_notify_sink(const struct nt_opts *o)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	char buf[4096];
	uint64_t start, end;
	ssize_t n, i;
	int s;

	if (o->addr == NULL || strlen(o->addr) >= sizeof(sun.sun_path)) {
		nt_usage();
		return NT_USAGE;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, o->addr, strlen(o->addr));
	unlink(o->addr);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "nettool: %s: %s\n", o->addr, strerror(errno));
		return NT_ERROR;
	}
	/* The daemon that reports here may have left root. */
	chmod(o->addr, 0666);
	start = nt_now_ns();
	end = start + (uint64_t)o->lifetime_s * 1000000000u;
	pfd.fd = s;
	pfd.events = POLLIN;
	printf("ready\n");
	fflush(stdout);
	while (!nt_stop && nt_left_ms(end) > 0) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (buf[i] == '\n' || buf[i] == '\0')
				buf[i] = ';';
		buf[n] = '\0';
		printf("%llu %s\n",
		       (unsigned long long)((nt_now_ns() - start) / 1000000u),
		       buf);
		fflush(stdout);
	}
	close(s);
	unlink(o->addr);
	return NT_OK;
}

static const struct nt_command nt_commands[] = {
        {"tcp-server", nt_tcp_server},   {"udp-server", nt_udp_server},
        {"udp-sink", nt_udp_sink},       {"tcp-connect", nt_tcp_connect},
        {"tcp-ports", nt_tcp_ports},     {"udp-send", nt_udp_send},
        {"tcp-stream", nt_tcp_stream},   {"tcp-bulk", nt_tcp_bulk},
        {"packet-send", nt_packet_send}, {"ping", nt_ping},
        {"udp-flood", nt_udp_flood},     {"tcp-rate", nt_tcp_rate},
        {"tcp-latency", nt_tcp_latency}, {"notify-sink", nt_notify_sink},
        {"udp-spray", nt_udp_spray},     {"syn-flood", nt_syn_flood},
};

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct nt_opts o;
	size_t i;

	if (argc < 2) {
		nt_usage();
		return NT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nt_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(nt_commands) / sizeof(nt_commands[0]); i++) {
		if (strcmp(argv[1], nt_commands[i].name) != 0)
			continue;
		if (nt_parse_opts(argc - 1, argv + 1, &o) < 0)
			return NT_USAGE;
		return nt_commands[i].fn(&o);
	}
	fprintf(stderr, "nettool: unknown command \"%s\"\n", argv[1]);
	nt_usage();
	return NT_USAGE;
}

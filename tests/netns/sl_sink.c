/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The namespace tests' receiving end: what arrived over TCP and UDP, logged. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#define SINK_CLIENTS 256
#define SINK_LINE    512

struct client {
	int fd;
	size_t n;
	char buf[SINK_LINE];
};

static volatile sig_atomic_t sink_stop;

static void
on_signal(int sig)
{
	(void)sig;
	sink_stop = 1;
}

static int
sink_listen(int family, int type, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int s, one = 1;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		inet_pton(AF_INET, addr,
		          &((struct sockaddr_in *)&ss)->sin_addr);
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else {
		inet_pton(AF_INET6, addr,
		          &((struct sockaddr_in6 *)&ss)->sin6_addr);
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	}
	s = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, len) != 0 ||
	    (type == SOCK_STREAM && listen(s, 128) != 0)) {
		close(s);
		return -1;
	}
	return s;
}

/* A whole line (or the request line of an HTTP request) was read. */
static void
sink_line(FILE *log, struct client *c, char *line)
{
	static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n"
	                         "Connection: close\r\n\r\nok\n";

	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "GET ", 4) == 0) {
		/* The Host header matters to spackle, not to us. */
		fprintf(log, "http %s\n", line);
		if (send(c->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) < 0)
			return;
		shutdown(c->fd, SHUT_WR);
		return;
	}
	fprintf(log, "tcp %s\n", line);
}

/*
 * Usage: sl-sink ADDR PORT LOG SECONDS. TCP and UDP on ADDR:PORT; each
 * line read over TCP is logged "tcp LINE", each datagram "udp DATA"; a GET
 * request gets a tiny answer and is logged "http REQUEST-LINE". Prints
 * "ready" once listening; exits after SECONDS or on SIGTERM.
 */
int
main(int argc, char **argv)
{
	static struct client cl[SINK_CLIENTS];
	struct pollfd pfd[SINK_CLIENTS + 2];
	int family, ts, us, i, n, port;
	time_t end;
	FILE *log;
	char *nl;
	ssize_t r;

	if (argc != 5)
		return 64;
	family = strchr(argv[1], ':') ? AF_INET6 : AF_INET;
	port = atoi(argv[2]);
	ts = sink_listen(family, SOCK_STREAM, argv[1], port);
	us = sink_listen(family, SOCK_DGRAM, argv[1], port);
	log = fopen(argv[3], "a");
	if (ts < 0 || us < 0 || log == NULL) {
		perror("sl-sink");
		return 1;
	}
	setvbuf(log, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (i = 0; i < SINK_CLIENTS; i++)
		cl[i].fd = -1;
	end = time(NULL) + atoi(argv[4]);
	printf("ready\n");
	fflush(stdout);
	while (!sink_stop && time(NULL) < end) {
		pfd[0].fd = ts;
		pfd[0].events = POLLIN;
		pfd[1].fd = us;
		pfd[1].events = POLLIN;
		for (i = 0; i < SINK_CLIENTS; i++) {
			pfd[i + 2].fd = cl[i].fd;
			pfd[i + 2].events = POLLIN;
		}
		if (poll(pfd, SINK_CLIENTS + 2, 200) <= 0)
			continue;
		if (pfd[1].revents & POLLIN) {
			char d[SINK_LINE];

			while ((r = recv(us, d, sizeof(d) - 1, 0)) >= 0) {
				d[r] = '\0';
				d[strcspn(d, "\r\n")] = '\0';
				fprintf(log, "udp %s\n", d);
			}
		}
		if (pfd[0].revents & POLLIN) {
			while ((n = accept4(ts, NULL, NULL,
			                    SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
			       0) {
				for (i = 0; i < SINK_CLIENTS && cl[i].fd >= 0;
				     i++)
					;
				if (i == SINK_CLIENTS) {
					close(n);
					continue;
				}
				cl[i].fd = n;
				cl[i].n = 0;
			}
		}
		for (i = 0; i < SINK_CLIENTS; i++) {
			struct client *c = &cl[i];

			if (c->fd < 0 || pfd[i + 2].revents == 0)
				continue;
			r = recv(c->fd, c->buf + c->n,
			         sizeof(c->buf) - 1 - c->n, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r > 0) {
				c->n += (size_t)r;
				c->buf[c->n] = '\0';
				while ((nl = strchr(c->buf, '\n')) != NULL) {
					*nl = '\0';
					sink_line(log, c, c->buf);
					c->n -= (size_t)(nl + 1 - c->buf);
					memmove(c->buf, nl + 1, c->n + 1);
				}
				if (c->n < sizeof(c->buf) - 1)
					continue;
			}
			close(c->fd);
			c->fd = -1;
		}
	}
	fclose(log);
	return 0;
}

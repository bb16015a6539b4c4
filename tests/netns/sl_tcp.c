/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A short-lived TCP client: connect, send one line, exit at once. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

/*
 * Usage: sl-tcp ADDR PORT TAG. Exit 0 when the line was sent, 2 when the
 * connection was refused or reset, 1 on a timeout (3 s) or anything else.
 * Nothing is printed: the server's log says what arrived.
 */
int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct pollfd pfd;
	socklen_t len, el = sizeof(int);
	char line[128];
	int s, err = 0, n;

	memset(&ss, 0, sizeof(ss));
	if (argc != 4)
		return 64;
	if (inet_pton(AF_INET, argv[1],
	              &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(atoi(argv[2]));
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1],
	                     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(atoi(argv[2]));
		len = sizeof(struct sockaddr_in6);
	} else {
		return 64;
	}
	n = snprintf(line, sizeof(line), "%s\n", argv[3]);
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		return 1;
	if (connect(s, (struct sockaddr *)&ss, len) != 0 &&
	    errno != EINPROGRESS)
		return errno == ECONNREFUSED ? 2 : 1;
	pfd.fd = s;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 3000) != 1)
		return 1;
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
		return err == ECONNREFUSED || err == ECONNRESET ? 2 : 1;
	if (send(s, line, (size_t)n, MSG_NOSIGNAL) != n)
		return errno == ECONNRESET || errno == EPIPE ? 2 : 1;
	return 0; /* exit closes the socket: the line, then a FIN */
}

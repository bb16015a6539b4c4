/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An HTTP/1.1 GET by address with a given Host, for the name tests. */
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
 * Usage: sl-http ADDR PORT HOST. Prints one line "result=ok|reset|refused|
 * timeout" and exits 0, 2 (refused or reset), 1 (timeout or other).
 */
int
main(int argc, char **argv)
{
	struct sockaddr_in a;
	struct pollfd pfd;
	char req[512], buf[512];
	int s, n;
	ssize_t r;

	if (argc != 4)
		return 64;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1)
		return 64;
	n = snprintf(req, sizeof(req),
	             "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: sl-http\r\n"
	             "Connection: close\r\n\r\n",
	             argv[3]);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 1;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		puts(errno == ECONNREFUSED ? "result=refused" : "result=error");
		return errno == ECONNREFUSED ? 2 : 1;
	}
	if (send(s, req, (size_t)n, MSG_NOSIGNAL) != n) {
		puts("result=reset");
		return 2;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 3000) != 1) {
		puts("result=timeout");
		return 1;
	}
	r = recv(s, buf, sizeof(buf) - 1, 0);
	if (r < 0 && (errno == ECONNRESET || errno == ECONNREFUSED)) {
		puts("result=reset");
		return 2;
	}
	if (r <= 0 || strncmp(buf, "HTTP/1.0 200", 12) != 0) {
		puts("result=error");
		return 1;
	}
	puts("result=ok");
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A short-lived UDP sender: one datagram from an unconnected socket, exit. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

/* Usage: sl-udp ADDR PORT TAG. Exit 0 when sendto() took it, else 1. */
int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int s;

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
	s = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (s < 0 || sendto(s, argv[3], strlen(argv[3]), 0,
	                    (struct sockaddr *)&ss, len) < 0)
		return 1;
	return 0;
}

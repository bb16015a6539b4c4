/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An HTTP listener for the daemon's own servers (http.h). */
#include <errno.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/http.h"
#include "spackle/config.h"

#define HTTP_BACKLOG 16

struct evhttp *
daemon_http_listen(struct event_base *base, const char *spec, char *err,
                   size_t errlen)
{
	struct sockaddr_storage ss;
	struct evhttp *http;
	unsigned sslen;
	bool loopback;
	int fd, one = 1;

	if (config_metrics_addr(spec, &ss, &sslen, &loopback, err, errlen) != 0)
		return NULL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) !=
	             0) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) != 0 ||
	    listen(fd, HTTP_BACKLOG) != 0) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if ((http = evhttp_new(base)) == NULL ||
	    evhttp_accept_socket(http, fd) != 0) {
		snprintf(err, errlen, "%s: cannot serve HTTP", spec);
		if (http != NULL)
			evhttp_free(http);
		close(fd);
		return NULL;
	}
	/* The listener owns fd now: evhttp_free closes it. */
	return http;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The decision log (`log`): one entry per decided flow, for collectors. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "spackle/declog.h"

#define DECLOG_LINE_MAX 1024 /* syslog and stderr lines */

struct declog {
	enum config_log kind;
	char path[SP_PATH_MAX];
	int fd; /* json: the file; swapped by dup2 on reopen */
	atomic_ullong written, lost;
	pthread_mutex_t mu; /* stderr lines, and reopens */
};

static int
declog_open_fd(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		snprintf(err, errlen, "%s: cannot open for appending: %s", path,
		         strerror(errno));
	return fd;
}

int
declog_open(struct declog **out, enum config_log kind, const char *path,
            char *err, size_t errlen)
{
	struct declog *l;

	*out = NULL;
	if (kind == CONFIG_LOG_NONE)
		return 0;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->kind = kind;
	l->fd = -1;
	pthread_mutex_init(&l->mu, NULL);
	if (kind == CONFIG_LOG_JSON) {
		snprintf(l->path, sizeof(l->path), "%s", path);
		if ((l->fd = declog_open_fd(path, err, errlen)) < 0) {
			declog_close(l);
			return -1;
		}
	}
	*out = l;
	return 0;
}

static const char *
str_field(const json_t *o, const char *key, const char *none)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : none;
}

void
declog_format_line(const json_t *o, char *buf, size_t len)
{
	const json_t *pid = json_object_get(o, "pid");
	const json_t *uid = json_object_get(o, "uid");
	const char *src = str_field(o, "src", "?"),
	           *dst = str_field(o, "dst", "?");
	bool v6s = strchr(src, ':') != NULL, v6d = strchr(dst, ':') != NULL;

	snprintf(
	        buf, len,
	        "%s %s %s %s%s%s:%lld -> %s%s%s:%lld host %s exe %s pid %lld "
	        "uid %lld rule %s%s%s",
	        str_field(o, "verdict", "?"), str_field(o, "dir", "?"),
	        str_field(o, "proto", "?"), v6s ? "[" : "", src, v6s ? "]" : "",
	        (long long)json_integer_value(json_object_get(o, "sport")),
	        v6d ? "[" : "", dst, v6d ? "]" : "",
	        (long long)json_integer_value(json_object_get(o, "dport")),
	        str_field(o, "host", "-"), str_field(o, "exe", "-"),
	        json_is_integer(pid) ? (long long)json_integer_value(pid) : -1,
	        json_is_integer(uid) ? (long long)json_integer_value(uid) : -1,
	        str_field(o, "rule", "?"),
	        json_is_true(json_object_get(o, "monitor")) ? " (monitor)" : "",
	        strcmp(str_field(o, "event", ""), "verdict") == 0
	                ? " (changed by a reload)"
	                : "");
}

int
declog_encode(const struct declog *l, const json_t *o, char *buf, size_t len)
{
	size_t n;

	if (l == NULL || len < 2)
		return -1;
	if (l->kind == CONFIG_LOG_JSON) {
		n = json_dumpb(o, buf, len - 1,
		               JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (n == 0 || n >= len - 1)
			return -1;
		buf[n++] = '\n';
		return (int)n;
	}
	declog_format_line(o, buf,
	                   len < DECLOG_LINE_MAX ? len : DECLOG_LINE_MAX);
	return (int)strlen(buf);
}

void
declog_put_line(struct declog *l, const char *line, size_t len, uint64_t ts_ns)
{
	ssize_t w;

	if (l == NULL)
		return;
	if (l->kind == CONFIG_LOG_JSON) {
		do
			w = write(l->fd, line, len);
		while (w < 0 && errno == EINTR);
		atomic_fetch_add(w == (ssize_t)len ? &l->written : &l->lost, 1);
		return;
	}
	if (l->kind == CONFIG_LOG_SYSLOG) {
		syslog(LOG_INFO, "decision: %.*s", (int)len, line);
	} else {
		char ts[32];
		time_t sec = (time_t)(ts_ns / 1000000000u);
		struct tm tm;

		gmtime_r(&sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		pthread_mutex_lock(&l->mu);
		fprintf(stderr, "%s.%03uZ spackle decision: %.*s\n", ts,
		        (unsigned)(ts_ns % 1000000000u / 1000000u), (int)len,
		        line);
		pthread_mutex_unlock(&l->mu);
	}
	atomic_fetch_add(&l->written, 1);
}

void
declog_count_lost(struct declog *l)
{
	if (l != NULL)
		atomic_fetch_add(&l->lost, 1);
}

void
declog_write(struct declog *l, const json_t *o)
{
	char line[DECLOG_ENTRY_MAX];
	struct timespec now;
	int n;

	if (l == NULL)
		return;
	if ((n = declog_encode(l, o, line, sizeof(line))) < 0) {
		declog_count_lost(l);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	declog_put_line(l, line, (size_t)n,
	                (uint64_t)now.tv_sec * 1000000000u +
	                        (uint64_t)now.tv_nsec);
}

int
declog_reopen(struct declog *l, char *err, size_t errlen)
{
	int fd, rc = 0;

	if (l == NULL || l->kind != CONFIG_LOG_JSON)
		return 0;
	if ((fd = declog_open_fd(l->path, err, errlen)) < 0)
		return -1;
	pthread_mutex_lock(&l->mu);
	if (dup3(fd, l->fd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: dup3: %s", l->path, strerror(errno));
		rc = -1;
	}
	pthread_mutex_unlock(&l->mu);
	close(fd);
	return rc;
}

void
declog_stats(const struct declog *l, unsigned long long *written,
             unsigned long long *lost)
{
	*written = l != NULL ? atomic_load(&l->written) : 0;
	*lost = l != NULL ? atomic_load(&l->lost) : 0;
}

void
declog_close(struct declog *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging for the daemon: stderr and syslog, with a rate limit per source. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "spackle/log.h"

static bool log_stderr = true;
static bool log_syslog;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void
log_init(const char *ident, bool to_stderr, bool to_syslog)
{
	log_stderr = to_stderr;
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_close(void)
{
	if (log_syslog)
		closelog();
	log_syslog = false;
	log_stderr = true;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {[LOG_LEVEL_ERR] = "error",
	                                    [LOG_LEVEL_WARN] = "warning",
	                                    [LOG_LEVEL_INFO] = "info"};
	char buf[1024], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_syslog)
		syslog((int)lvl, "%s", buf);
	if (!log_stderr)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "%s.%03ldZ spackle %s: %s\n", ts, now.tv_nsec / 1000000,
	        names[lvl], buf);
	pthread_mutex_unlock(&log_mu);
}

bool
log_limit_ok(struct log_limit *l, uint64_t now_ns, uint64_t *suppressed)
{
	uint64_t interval =
	        (uint64_t)(l->interval_s ? l->interval_s : 1) * 1000000000u;

	if (now_ns - l->window_start >= interval) {
		l->window_start = now_ns;
		l->used = 0;
	}
	if (l->used >= (l->burst ? l->burst : 1)) {
		l->suppressed++;
		return false;
	}
	l->used++;
	*suppressed = l->suppressed;
	l->suppressed = 0;
	return true;
}

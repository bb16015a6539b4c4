/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NFQUEUE backend's words with people and the kernel: its spec, what
 * /proc says of a queue, and why a bind failed. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divert/nfqueue_int.h"

static bool
nfqueue_parse_u32(const char *s, size_t len, uint32_t lo, uint32_t hi,
                  uint32_t *out)
{
	char tmp[32], *end;
	unsigned long v;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (tmp[0] < '0' || tmp[0] > '9')
		return false;
	errno = 0;
	v = strtoul(tmp, &end, 0);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* "QUEUE[,failure=open|closed][,copy=N][,maxlen=N][,rcvbuf=N]" */
bool
nfqueue_parse_spec(const char *spec, struct nfqueue_opts *o, char *err,
                   size_t errlen)
{
	const char *p = spec, *end, *eq;
	uint32_t v;
	size_t len;
	bool first = true;

	o->fail_open = false;
	o->copy = NFQ_COPY_DEFAULT;
	o->maxlen = NFQ_MAXLEN_DEFAULT;
	o->rcvbuf = NFQ_RCVBUF_DEFAULT;
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		eq = memchr(p, '=', len);
		if (first) {
			if (!nfqueue_parse_u32(p, len, 0, 65535, &v)) {
				snprintf(
				        err, errlen,
				        "nfqueue: \"%s\" does not start with a "
				        "queue number 0..65535",
				        spec);
				return false;
			}
			o->queue = (uint16_t)v;
			first = false;
		} else if (eq != NULL && (size_t)(eq - p) == 7 &&
		           memcmp(p, "failure", 7) == 0) {
			len -= 8;
			if (len == 4 && memcmp(eq + 1, "open", 4) == 0)
				o->fail_open = true;
			else if (len == 6 && memcmp(eq + 1, "closed", 6) == 0)
				o->fail_open = false;
			else
				goto bad;
		} else if (eq != NULL && (size_t)(eq - p) == 4 &&
		           memcmp(p, "copy", 4) == 0) {
			if (!nfqueue_parse_u32(eq + 1, len - 5, 1, 65535,
			                       &o->copy))
				goto bad;
		} else if (eq != NULL && (size_t)(eq - p) == 6 &&
		           memcmp(p, "maxlen", 6) == 0) {
			if (!nfqueue_parse_u32(eq + 1, len - 7, 1, 65536,
			                       &o->maxlen))
				goto bad;
		} else if (eq != NULL && (size_t)(eq - p) == 6 &&
		           memcmp(p, "rcvbuf", 6) == 0) {
			if (!nfqueue_parse_u32(eq + 1, len - 7, 4096,
			                       INT_MAX / 2, &o->rcvbuf))
				goto bad;
		} else {
			goto bad;
		}
		if (end == NULL)
			return true;
		p = end + 1;
	}
bad:
	snprintf(err, errlen,
	         "nfqueue: bad option \"%.*s\" in \"%s\" (known: "
	         "failure=open|closed, copy=1..65535, maxlen=1..65536, "
	         "rcvbuf=BYTES)",
	         (int)len, p, spec);
	return false;
}

/*
 * What the kernel says of queue q of this network namespace
 * (/proc/net/netfilter/nfnetlink_queue): 0, or -1 when it lists no such
 * queue.
 */
static int
nfqueue_read_kernel_stats(uint16_t q, struct divert_kernel_stats *st)
{
	unsigned num, portid, total, mode, range;
	unsigned long long qd, ud, seq;
	char line[256];
	int rc = -1;
	FILE *f;

	memset(st, 0, sizeof(*st));
	if ((f = fopen("/proc/net/netfilter/nfnetlink_queue", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%u %u %u %u %u %llu %llu %llu", &num, &portid,
		           &total, &mode, &range, &qd, &ud, &seq) != 8 ||
		    num != q)
			continue;
		st->holder = portid;
		st->waiting = total;
		st->copy_range = range;
		st->dropped_full = qd;
		st->dropped_user = ud;
		st->diverted = seq;
		rc = 0;
	}
	fclose(f);
	return rc;
}

int
nfqueue_kernel_stats(const char *spec, struct divert_kernel_stats *st)
{
	struct nfqueue_opts o;
	char err[256];

	memset(st, 0, sizeof(*st));
	if (!nfqueue_parse_spec(spec, &o, err, sizeof(err)))
		return -1;
	return nfqueue_read_kernel_stats(o.queue, st);
}

/* Who holds queue q in this namespace: the netlink port id, 0 when the
 * queue is not bound. */
static uint32_t
nfqueue_holder(uint16_t q)
{
	struct divert_kernel_stats st;

	return nfqueue_read_kernel_stats(q, &st) == 0 ? st.holder : 0;
}

/* Why the bind failed, for a person. */
void
nfqueue_bind_error(uint16_t q, int error, char *err, size_t errlen)
{
	uint32_t holder;

	/* The kernel answers EPERM, not EBUSY, when another socket holds
	 * the queue; the queue list tells the two EPERMs apart. */
	if ((error == EPERM || error == EBUSY) &&
	    (holder = nfqueue_holder(q)) != 0) {
		snprintf(err, errlen,
		         "cannot bind queue %u: it is already bound by another "
		         "program, netlink port id %u (usually its pid; is "
		         "another spackle or opensnitch running?)",
		         q, holder);
		return;
	}
	switch (error) {
	case EPERM:
		snprintf(err, errlen,
		         "cannot bind queue %u: %s: binding a queue needs "
		         "CAP_NET_ADMIN (run as root)",
		         q, strerror(error));
		return;
	case EOPNOTSUPP:
	case EINVAL:
		snprintf(err, errlen,
		         "cannot bind queue %u: %s: the kernel refused the "
		         "queue flags GSO, UID_GID or FAIL_OPEN (they need "
		         "Linux 3.8 or newer)",
		         q, strerror(error));
		return;
	default:
		snprintf(err, errlen,
		         "cannot bind queue %u: %s (see the kernel log)", q,
		         strerror(error));
		return;
	}
}

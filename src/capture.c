/* SPDX-License-Identifier: GPL-2.0-or-later */
/* capture_denied: denied packets to a pcap file, size-capped and rotated. */
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spackle/capture.h"
#include "spackle/log.h"
#include "spackle/spackle.h"

#define CAPTURE_BUF       (64u << 10)
#define CAPTURE_FILE_HDR  24u /* struct pcap_file_header */
#define CAPTURE_REC_HDR   16u /* struct pcap_sf_pkthdr */
#define CAPTURE_FLUSH_NS  1000000000ull
#define CAPTURE_REOPEN_NS 1000000000ull

struct capture {
	pthread_mutex_t mu;
	char *path;
	uint64_t max_size;
	unsigned keep;
	pcap_t *dead;
	pcap_dumper_t *dumper;
	char *buf;     /* the stdio buffer of the open file */
	uint64_t size; /* bytes of the current file */
	uint64_t flushed_ns, failed_ns;
	struct capture_stats st;
	struct log_limit lim;
};

static void
capture_log(struct capture *c, const char *what, const char *why)
{
	uint64_t held = 0;

	if (log_limit_ok(&c->lim, sp_now_mono(), &held))
		log_err("capture %s: %s: %s (%llu more not logged)", c->path,
		        what, why, (unsigned long long)held);
}

/* PATH.(keep-1) -> PATH.keep, ..., PATH -> PATH.1; keep 0 removes PATH. */
static int
capture_rotate_files(struct capture *c, char *err, size_t errlen)
{
	size_t n = strlen(c->path) + 16;
	char *from = malloc(n), *to = malloc(n);
	unsigned i;
	int rc = 0;

	if (from == NULL || to == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
		goto out;
	}
	if (c->keep == 0) {
		if (unlink(c->path) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove %s: %s", c->path,
			         strerror(errno));
			rc = -1;
		}
		goto out;
	}
	for (i = c->keep; i >= 1; i--) {
		snprintf(to, n, "%s.%u", c->path, i);
		if (i == 1)
			snprintf(from, n, "%s", c->path);
		else
			snprintf(from, n, "%s.%u", c->path, i - 1);
		if (rename(from, to) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot rename %s to %s: %s",
			         from, to, strerror(errno));
			rc = -1;
			goto out;
		}
	}
out:
	free(from);
	free(to);
	return rc;
}

static int
capture_start_file(struct capture *c, char *err, size_t errlen)
{
	FILE *f;

	if ((f = fopen(c->path, "we")) == NULL) {
		snprintf(err, errlen, "cannot create %s: %s", c->path,
		         strerror(errno));
		return -1;
	}
	setvbuf(f, c->buf, _IOFBF, CAPTURE_BUF);
	if ((c->dumper = pcap_dump_fopen(c->dead, f)) == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", c->path,
		         pcap_geterr(c->dead));
		fclose(f);
		return -1;
	}
	c->size = CAPTURE_FILE_HDR;
	c->st.bytes += CAPTURE_FILE_HDR;
	return 0;
}

static void
capture_end_file(struct capture *c)
{
	if (c->dumper == NULL)
		return;
	pcap_dump_close(c->dumper);
	c->dumper = NULL;
}

struct capture *
capture_open(const char *path, uint64_t max_size, unsigned keep, char *err,
             size_t errlen)
{
	struct capture *c;

	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "capture_denied: no path");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL ||
	    (c->buf = malloc(CAPTURE_BUF)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->max_size = max_size < CAPTURE_MIN_SIZE ? CAPTURE_MIN_SIZE : max_size;
	c->keep = keep;
	c->lim.interval_s = 60;
	c->lim.burst = 3;
	c->dead = pcap_open_dead_with_tstamp_precision(
	        DLT_RAW, CAPTURE_SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
	if (c->dead == NULL) {
		snprintf(err, errlen, "libpcap: cannot make a dump handle");
		goto fail;
	}
	if (access(path, F_OK) == 0 &&
	    capture_rotate_files(c, err, errlen) != 0)
		goto fail;
	if (capture_start_file(c, err, errlen) != 0)
		goto fail;
	c->flushed_ns = sp_now_mono();
	return c;
fail:
	if (c != NULL) {
		if (c->dead != NULL)
			pcap_close(c->dead);
		free(c->path);
		free(c->buf);
		free(c);
	}
	return NULL;
}

/* The current file is full or gone: rotate and start another. */
static int
capture_next_file(struct capture *c, uint64_t now)
{
	char err[SP_PATH_MAX + 128];

	if (c->dumper == NULL && c->failed_ns != 0 &&
	    now - c->failed_ns < CAPTURE_REOPEN_NS)
		return -1;
	capture_end_file(c);
	if (capture_rotate_files(c, err, sizeof(err)) != 0 ||
	    capture_start_file(c, err, sizeof(err)) != 0) {
		c->failed_ns = now ? now : 1;
		capture_log(c, "rotating", err);
		return -1;
	}
	c->failed_ns = 0;
	c->st.rotations++;
	return 0;
}

int
capture_write(struct capture *c, const uint8_t *pkt, size_t caplen,
              size_t wirelen, uint64_t ts_ns)
{
	struct pcap_pkthdr h;
	uint64_t now;
	int rc = 0;

	if (c == NULL || pkt == NULL)
		return -1;
	if (caplen > CAPTURE_SNAPLEN)
		caplen = CAPTURE_SNAPLEN;
	if (wirelen < caplen)
		wirelen = caplen;
	h.ts.tv_sec = (time_t)(ts_ns / 1000000000ull);
	/* With nanosecond precision the field holds nanoseconds. */
	h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000ull);
	h.caplen = (bpf_u_int32)caplen;
	h.len = (bpf_u_int32)(wirelen > UINT32_MAX ? UINT32_MAX : wirelen);
	now = sp_now_mono();
	pthread_mutex_lock(&c->mu);
	if ((c->dumper == NULL ||
	     c->size + CAPTURE_REC_HDR + caplen > c->max_size) &&
	    capture_next_file(c, now) != 0) {
		c->st.errors++;
		rc = -1;
		goto out;
	}
	pcap_dump((u_char *)c->dumper, &h, pkt);
	c->size += CAPTURE_REC_HDR + caplen;
	c->st.bytes += CAPTURE_REC_HDR + caplen;
	c->st.packets++;
	if (now - c->flushed_ns >= CAPTURE_FLUSH_NS) {
		c->flushed_ns = now;
		if (pcap_dump_flush(c->dumper) != 0) {
			capture_log(c, "writing", strerror(errno));
			c->st.errors++;
			rc = -1;
		}
	}
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void
capture_flush(struct capture *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->dumper != NULL && pcap_dump_flush(c->dumper) != 0) {
		capture_log(c, "writing", strerror(errno));
		c->st.errors++;
	}
	c->flushed_ns = sp_now_mono();
	pthread_mutex_unlock(&c->mu);
}

void
capture_stats(struct capture *c, struct capture_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	pthread_mutex_unlock(&c->mu);
}

void
capture_close(struct capture *c)
{
	if (c == NULL)
		return;
	capture_end_file(c);
	pcap_close(c->dead);
	pthread_mutex_destroy(&c->mu);
	free(c->path);
	free(c->buf);
	free(c);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* capture_denied: pcap files that tcpdump reads, capped, rotated, shared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/capture.h"
#include "spackle/spackle.h"

#define NS_PER_S ((uint64_t)1000000000)
#define T0       ((uint64_t)1795860000 * NS_PER_S)

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/spackle-capture-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	/* tcpdump may drop to its own user before reading. */
	chmod(tmpdir, 0755);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* An IPv4 UDP datagram (or IPv6 with v6) of len bytes carrying seq. */
static size_t
packet(uint8_t *p, size_t len, uint32_t seq, bool v6)
{
	size_t ip = v6 ? 40 : 20;

	memset(p, 0, len);
	if (v6) {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		p[6] = SP_PROTO_UDP;
		p[7] = 64;
		p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8;
		p[23] = 1;
		p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8;
		p[39] = 2;
	} else {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[8] = 64;
		p[9] = SP_PROTO_UDP;
		p[12] = 192, p[13] = 0, p[14] = 2, p[15] = 10;
		p[16] = 203, p[17] = 0, p[18] = 113, p[19] = 5;
	}
	p[ip + 0] = 0xc3, p[ip + 1] = 0x50; /* 50000 */
	p[ip + 2] = 0x00, p[ip + 3] = 0x35; /* 53 */
	p[ip + 4] = (uint8_t)((len - ip) >> 8);
	p[ip + 5] = (uint8_t)(len - ip);
	memcpy(p + ip + 8, &seq, sizeof(seq));
	return len;
}

/* Packets of a file, their seqs into seqs[] (oldest first). */
static int
read_file(const char *path, uint32_t *seqs, size_t max, uint64_t *first_ns)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(
	        path, PCAP_TSTAMP_PRECISION_NANO, err);
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t n = 0;

	if (p == NULL)
		fail_msg("%s: %s", path, err);
	assert_int_equal(pcap_datalink(p), DLT_RAW);
	while (pcap_next_ex(p, &h, &d) == 1) {
		size_t ip = (d[0] >> 4) == 6 ? 40 : 20;

		if (n == 0 && first_ns != NULL)
			*first_ns = (uint64_t)h->ts.tv_sec * NS_PER_S +
			            (uint64_t)h->ts.tv_usec;
		assert_true(h->caplen >= ip + 12);
		if (n < max)
			memcpy(&seqs[n], d + ip + 8, sizeof(seqs[0]));
		n++;
	}
	pcap_close(p);
	return (int)n;
}

static long
file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return (long)st.st_size;
}

/* tcpdump -r reads it: one line per packet. */
static int
tcpdump_count(const char *path)
{
	char cmd[512], line[512];
	FILE *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "tcpdump -n -r %s 2>/dev/null", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p) != NULL) {
		if (strstr(line, "UDP") == NULL &&
		    strstr(line, "domain") == NULL &&
		    strstr(line, ".53:") == NULL)
			fail_msg("tcpdump: %s", line);
		n++;
	}
	assert_int_equal(pclose(p), 0);
	return n;
}

static void
test_write_and_read(void **state)
{
	char path[256], err[256];
	struct capture *c;
	struct capture_stats st;
	uint8_t pkt[200];
	uint32_t seqs[16];
	uint64_t first = 0;
	unsigned i;

	(void)state;
	snprintf(path, sizeof(path), "%s/denied.pcap", tmpdir);
	c = capture_open(path, 1u << 20, 2, err, sizeof(err));
	assert_non_null(c);
	for (i = 0; i < 6; i++) {
		packet(pkt, 80 + i, i, i % 2);
		/* A packet cut by the copy range: wirelen says how long it
		 * really was. */
		assert_int_equal(
		        capture_write(c, pkt, 80 + i, 1500, T0 + i * 1000 + 7),
		        0);
	}
	/* Buffered until a flush. */
	capture_flush(c);
	assert_int_equal(read_file(path, seqs, 16, &first), 6);
	assert_int_equal(first, T0 + 7);
	assert_int_equal(tcpdump_count(path), 6);
	capture_stats(c, &st);
	assert_int_equal(st.packets, 6);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.bytes, file_size(path));
	capture_close(c);
	assert_int_equal(capture_write(NULL, pkt, 10, 10, 0), -1);
	assert_null(capture_open("/nonexistent/dir/x.pcap", 1u << 20, 1, err,
	                         sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dir/x.pcap"));
}

static void
test_rotation(void **state)
{
	char path[256], name[300], err[256];
	struct capture *c;
	struct capture_stats st;
	uint8_t pkt[100];
	uint32_t seqs[64], next = 0, total = 0;
	int k, n;
	unsigned i;

	(void)state;
	snprintf(path, sizeof(path), "%s/rot.pcap", tmpdir);
	c = capture_open(path, 2048, 2, err, sizeof(err));
	assert_non_null(c);
	for (i = 0; i < 100; i++) {
		packet(pkt, sizeof(pkt), i, false);
		assert_int_equal(
		        capture_write(c, pkt, sizeof(pkt), sizeof(pkt), T0 + i),
		        0);
	}
	capture_stats(c, &st);
	capture_close(c);
	/* 24 + 17 * (16 + 100) = 1996 bytes per file: 100 packets made five
	 * rotations; PATH and two older files are kept. */
	assert_int_equal(st.rotations, 5);
	snprintf(name, sizeof(name), "%s.3", path);
	assert_int_equal(access(name, F_OK), -1);
	/* Oldest first: PATH.2, PATH.1, PATH; the sequence runs on. */
	for (k = 2; k >= 0; k--) {
		if (k > 0)
			snprintf(name, sizeof(name), "%s.%d", path, k);
		else
			snprintf(name, sizeof(name), "%s", path);
		assert_true(file_size(name) <= 2048);
		n = read_file(name, seqs, 64, NULL);
		assert_true(n > 0);
		assert_int_equal(tcpdump_count(name), n);
		if (k == 2)
			next = seqs[0];
		for (i = 0; i < (unsigned)n; i++)
			assert_int_equal(seqs[i], next++);
		total += (uint32_t)n;
	}
	assert_int_equal(next, 100);
	assert_int_equal(total, 17 * 2 + 100 - 17 * 5);

	/* A restart keeps the last capture: PATH moves to PATH.1. */
	c = capture_open(path, 2048, 2, err, sizeof(err));
	assert_non_null(c);
	capture_close(c);
	snprintf(name, sizeof(name), "%s.1", path);
	assert_int_equal(read_file(name, seqs, 64, NULL), 100 - 17 * 5);
	assert_int_equal(read_file(path, seqs, 64, NULL), 0);

	/* keep 0: one file, started again. */
	c = capture_open(path, 2048, 0, err, sizeof(err));
	assert_non_null(c);
	for (i = 0; i < 40; i++) {
		packet(pkt, sizeof(pkt), i, false);
		capture_write(c, pkt, sizeof(pkt), sizeof(pkt), T0 + i);
	}
	capture_close(c);
	n = read_file(path, seqs, 64, NULL);
	assert_int_equal(n, 40 - 34);
	assert_int_equal(seqs[0], 34);
}

struct writer_arg {
	struct capture *c;
	unsigned id;
};

static void *
writer(void *arg)
{
	struct writer_arg *w = arg;
	uint8_t pkt[120];
	unsigned i;

	for (i = 0; i < 500; i++) {
		packet(pkt, sizeof(pkt), w->id << 16 | i, w->id % 2);
		if (capture_write(w->c, pkt, sizeof(pkt), sizeof(pkt),
		                  T0 + i) != 0)
			return (void *)1;
	}
	return NULL;
}

/* Workers share one capture: every packet lands whole, none interleaved. */
static void
test_threads(void **state)
{
	char path[256], name[300], err[256];
	struct writer_arg w[4];
	pthread_t th[4];
	struct capture *c;
	uint32_t *seqs = calloc(4000, sizeof(*seqs));
	unsigned seen[4] = {0};
	void *ret;
	int n = 0, k;
	unsigned i;

	(void)state;
	snprintf(path, sizeof(path), "%s/mt.pcap", tmpdir);
	/* Small files: rotations happen while threads write. */
	c = capture_open(path, 64u << 10, 8, err, sizeof(err));
	assert_non_null(c);
	for (i = 0; i < 4; i++) {
		w[i].c = c;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, writer, &w[i]),
		                 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	capture_close(c);
	for (k = 8; k >= 0; k--) {
		if (k > 0)
			snprintf(name, sizeof(name), "%s.%d", path, k);
		else
			snprintf(name, sizeof(name), "%s", path);
		if (access(name, F_OK) != 0)
			continue;
		n += read_file(name, seqs + n, (size_t)(4000 - n), NULL);
	}
	assert_int_equal(n, 2000);
	/* Each thread's packets in its own order. */
	for (i = 0; i < 2000; i++) {
		unsigned t = seqs[i] >> 16;

		assert_true(t < 4);
		assert_int_equal(seqs[i] & 0xffff, seen[t]);
		seen[t]++;
	}
	free(seqs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_write_and_read),
	        cmocka_unit_test(test_rotation),
	        cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

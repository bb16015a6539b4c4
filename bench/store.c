/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/store: records/s into the LMDB store and the worker's hand-over cost.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spackle/spackle.h"
#include "spackle/store.h"

struct bench_opts {
	unsigned records, single, producers;
	const char *dir;
	bool divert; /* --divert: the on/off rows through bench/divert */
};

/* One row of bench/divert's table: spackle with the store, and without. */
struct divert_row {
	const char *label; /* as divert.sh prints it */
	const char *name;  /* as this table does */
	double on, off;
};

struct run {
	double rps;           /* records/s, first put to last commit */
	double p50, p99, max; /* ns per accepted put */
	uint64_t full_waits;  /* puts that found the ring full and waited */
	struct store_stats st;
};

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* A flow record as the daemon hands them over: a path, a name, a rule. */
static void
record(struct store_flow *r, uint64_t id, unsigned i)
{
	static const char *const exes[] = {
	        "/usr/bin/curl", "/usr/lib/firefox/firefox",
	        "/usr/sbin/chronyd", "/usr/libexec/gnome-shell-calendar"};
	static const char *const hosts[] = {
	        "www.example.com", "detectportal.firefox.com",
	        "2.debian.pool.ntp.org", "api.github.com"};
	uint8_t a[4] = {192, 0, 2, 10}, b[4] = {203, 0, 113, (uint8_t)i};

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->first_ns = id;
	r->last_ns = id + 1000000;
	r->packets_out = i % 100;
	r->packets_in = i % 77;
	r->bytes_out = i * 60ull;
	r->bytes_in = i * 1400ull;
	sp_addr_from_v4(&r->local, a);
	sp_addr_from_v4(&r->remote, b);
	r->local_port = (uint16_t)(32768 + i % 28000);
	r->remote_port = 443;
	r->proto = SP_PROTO_TCP;
	r->dir = SP_DIR_OUT;
	r->verdict = SP_VERDICT_ALLOW;
	r->pid = (int32_t)(1000 + i % 300);
	r->uid = 1000;
	r->exe = exes[i % 4];
	r->host = hosts[i % 4];
	r->rule = "/etc/spackle/rules.d/50-user.rules:12";
}

static void
percentiles(uint32_t *lat, size_t n, struct run *out)
{
	qsort(lat, n, sizeof(*lat), cmp_u32);
	out->p50 = n ? lat[n / 2] : 0;
	out->p99 = n ? lat[n * 99 / 100] : 0;
	out->max = n ? lat[n - 1] : 0;
}

/*
 * The baseline of a hand-over: encoding the record into a buffer, as a put
 * does, with no queue and no store behind it.
 */
static void
run_encode_only(unsigned n, uint32_t *lat, struct run *out)
{
	static uint8_t buf[8192];
	struct store_flow r;
	uint64_t t0, t1, start = sp_now_mono();
	volatile size_t sink = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		record(&r, start + i, i);
		t0 = sp_now_mono();
		sink += store_flow_encode(&r, buf, sizeof(buf));
		t1 = sp_now_mono();
		lat[i] = (uint32_t)(t1 - t0);
	}
	(void)sink;
	out->rps = n / ((double)(sp_now_mono() - start) / 1e9);
	percentiles(lat, n, out);
}

/* The clock read alone: what every timed put carries besides its cost. */
static void
run_timer_only(unsigned n, uint32_t *lat, struct run *out)
{
	uint64_t t0, t1;
	unsigned i;

	for (i = 0; i < n; i++) {
		t0 = sp_now_mono();
		t1 = sp_now_mono();
		lat[i] = (uint32_t)(t1 - t0);
	}
	percentiles(lat, n, out);
}

/* n records through the store from one producer, as fast as it takes
 * them; a full ring makes the producer yield and retry. */
static int
run_store(const struct bench_opts *o, const char *name, unsigned n,
          unsigned flush_records, uint32_t *lat, struct run *out)
{
	struct store_config cfg = {0};
	struct store *s;
	struct store_producer *p;
	struct store_flow r;
	char path[512], err[512], cmd[600];
	uint64_t t0, t1, start, base = sp_now_wall();
	size_t nl = 0;
	unsigned i;

	snprintf(path, sizeof(path), "%s/%s", o->dir, name);
	cfg.path = path;
	cfg.max_size = 8ull << 30;
	cfg.flush_records = flush_records;
	cfg.producers = 1;
	if (store_open(&s, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	p = store_producer(s, 0);
	memset(out, 0, sizeof(*out));
	start = sp_now_mono();
	for (i = 0; i < n; i++) {
		record(&r, base + i, i);
		t0 = sp_now_mono();
		if (store_put_flow(p, &r, STORE_PUT_RETRY) == 0) {
			t1 = sp_now_mono();
			lat[nl++] = (uint32_t)(t1 - t0);
			continue;
		}
		out->full_waits++;
		while (store_put_flow(p, &r, STORE_PUT_RETRY) != 0)
			sched_yield();
	}
	store_sync(s);
	out->rps = n / ((double)(sp_now_mono() - start) / 1e9);
	store_stats(s, &out->st);
	store_close(s);
	percentiles(lat, nl, out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", path);
	return 0;
}

/*
 * The divert rows: bench/divert/divert.sh in this run with the columns
 * `spackle` (store on) and `spackle-nostore` (db = none), everything else
 * alike, in the order on, off, off, on. Root only (namespaces). 0, or -1
 * with why in err.
 */
static int
run_divert(struct divert_row *rows, size_t n, char *err, size_t errlen)
{
	char cmd[2048], line[512];
	double a, b, c, d;
	size_t i, got = 0;
	FILE *f;

	if (geteuid() != 0) {
		snprintf(err, errlen, "needs root (network namespaces)");
		return -1;
	}
	snprintf(cmd, sizeof(cmd),
	         "BENCH_COLUMNS='spackle spackle-nostore spackle-nostore "
	         "spackle' "
	         "BENCH_ROWS='bulk udp rate' '%s/bench/divert/divert.sh' "
	         "'%s/spackle' '%s/tests/netns/nettool' "
	         "'%s/bench/divert/nfq_accept' 2>/dev/null",
	         SPACKLE_SOURCE_DIR, SPACKLE_BUILD_DIR, SPACKLE_BUILD_DIR,
	         SPACKLE_BUILD_DIR);
	if ((f = popen(cmd, "r")) == NULL) {
		snprintf(err, errlen, "cannot run bench/divert: %s",
		         strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		for (i = 0; i < n; i++) {
			size_t l = strlen(rows[i].label);

			/* No "no filter" column, so values alone: on, off,
			 * off, on; the mean of each pair, the order
			 * cancelling a drift of the machine. */
			if (strncmp(line, rows[i].label, l) == 0 &&
			    sscanf(line + l, "%lf %lf %lf %lf", &a, &b, &c,
			           &d) == 4) {
				rows[i].on = (a + d) / 2;
				rows[i].off = (b + c) / 2;
				got++;
			}
		}
	if (pclose(f) != 0 || got != n) {
		snprintf(err, errlen,
		         "bench/divert gave %zu of %zu rows (is spackle "
		         "built, and iperf3 installed?)",
		         got, n);
		return -1;
	}
	return 0;
}

/*
 * How fresh the store is when the daemon is killed: a writer process puts
 * records as a busy daemon would (about 60k/s), flushing every
 * CRASH_FLUSH_MS; it is SIGKILLed after a random delay, and the oldest
 * record it had handed over that is not in the store says how far behind
 * the commits were. (test_store's crash test checks what is committed
 * survives; the time belongs here.)
 */
#define CRASH_RUNS     30
#define CRASH_FLUSH_MS 20
#define CRASH_MAX      (1u << 21)

struct crash_shm {
	_Atomic uint64_t produced;
	uint64_t push_ns[CRASH_MAX];
};

static void
crash_sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
	                      (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void
crash_writer(const char *dir, uint64_t base, struct crash_shm *shm)
{
	struct store_config cfg = {0};
	struct store *st;
	struct store_producer *p;
	struct store_flow f;
	char err[512];
	uint64_t i;

	cfg.path = dir;
	cfg.max_size = 256u << 20;
	cfg.flush_ms = CRASH_FLUSH_MS;
	cfg.queue_bytes = 1u << 20;
	if (store_open(&st, &cfg, err, sizeof(err)) != 0)
		_exit(6);
	p = store_producer(st, 0);
	for (i = 0; i < CRASH_MAX; i++) {
		record(&f, base + i, (unsigned)i);
		while (store_put_flow(p, &f, STORE_PUT_RETRY) != 0)
			crash_sleep_ms(1);
		shm->push_ns[i] = sp_now_mono();
		atomic_store(&shm->produced, i + 1);
		if (i % 64 == 63)
			crash_sleep_ms(1);
	}
	_exit(0);
}

static int
crash_count(const struct store_flow *r, void *arg)
{
	(void)r;
	(*(uint64_t *)arg)++;
	return 0;
}

/* The oldest missing record's age at each kill, ns, sorted into ages[]
 * (CRASH_RUNS); 0 when none was missing. -1 when it could not run. */
static int
run_crash(const char *parent, uint64_t *ages)
{
	struct crash_shm *shm;
	char dir[600], cmd[700];
	uint64_t base = 1, have, kill_ns, got;
	unsigned run, seed = (unsigned)sp_now_mono();
	int status;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/crash", parent);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
	           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		return -1;
	for (run = 0; run < CRASH_RUNS; run++) {
		struct store_reader *r;
		char err[512];

		atomic_store(&shm->produced, 0);
		fflush(NULL);
		if ((pid = fork()) < 0)
			return -1;
		if (pid == 0)
			crash_writer(dir, base, shm);
		crash_sleep_ms(50 + (unsigned)(rand_r(&seed) % 150));
		kill_ns = sp_now_mono();
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		have = 0;
		if (store_reader_open(&r, dir, err, sizeof(err)) == 0) {
			store_reader_flows(r, false, crash_count, &have, NULL);
			store_reader_close(r);
		}
		got = have > base - 1 ? have - (base - 1) : 0;
		ages[run] = atomic_load(&shm->produced) > got
		                    ? kill_ns - shm->push_ns[got]
		                    : 0;
		base += got;
	}
	munmap(shm, sizeof(*shm));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
	qsort(ages, CRASH_RUNS, sizeof(*ages), cmp_u64);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench/store [--records N] [--single N] "
	                "[--dir DIR] [--divert]\n"
	                "  N records through the store (default 1000000), N "
	                "with one transaction per record (default 5000), "
	                "in DIR (default /tmp);\n"
	                "  --divert: also divert throughput with the store on "
	                "and off (root; runs bench/divert)\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"records", required_argument, NULL, 'n'},
	        {"single", required_argument, NULL, 's'},
	        {"dir", required_argument, NULL, 'd'},
	        {"divert", no_argument, NULL, 'D'},
	        {NULL, 0, NULL, 0},
	};
	struct divert_row rows[] = {
	        {"TCP bulk, Gbit/s", "divert TCP bulk, store on / off", 0, 0},
	        {"UDP 64 B delivered, kpkt/s",
	         "divert UDP 64 B, store on / off", 0, 0},
	        {"new TCP connections/s", "divert new TCP conn/s, on / off", 0,
	         0},
	};
	struct bench_opts o = {1000000, 5000, 1, "/tmp", false};
	char derr[256] = "not asked (--divert)";
	bool have_divert = false;
	size_t i;
	struct run timer, enc, batched, single;
	uint64_t ages[CRASH_RUNS];
	bool crashed;
	struct store_flow r;
	char dir[512];
	uint32_t *lat;
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o.records = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o.single = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 'D':
			o.divert = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (o.records == 0 || o.single == 0) {
		usage();
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/spackle-bench-store-XXXXXX", o.dir);
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "bench: %s: %s\n", dir, strerror(errno));
		return 2;
	}
	o.dir = dir;
	if ((lat = calloc(o.records, sizeof(*lat))) == NULL)
		return 2;
	run_timer_only(o.records, lat, &timer);
	run_encode_only(o.records, lat, &enc);
	if (run_store(&o, "batched", o.records, STORE_DEFAULT_FLUSH_RECORDS,
	              lat, &batched) != 0 ||
	    run_store(&o, "single", o.single, 1, lat, &single) != 0)
		return 2;
	crashed = run_crash(dir, ages) == 0;
	rmdir(dir);
	record(&r, 1, 1);
	if (o.divert)
		have_divert = run_divert(rows, sizeof(rows) / sizeof(rows[0]),
		                         derr, sizeof(derr)) == 0;

	printf("bench/store: %u flow records of %zu bytes from one producer "
	       "thread; flush every %u ms or %u records; LMDB in %s\n\n",
	       o.records, store_flow_size(&r), STORE_DEFAULT_FLUSH_MS,
	       STORE_DEFAULT_FLUSH_RECORDS, o.dir);
	printf("%-46s %12s %9s %9s %9s\n", "row", "records/s", "p50 ns",
	       "p99 ns", "ratio");
	printf("%-46s %12s %9.0f %9.0f %9s\n",
	       "clock read alone (in every ns "
	       "below)",
	       "-", timer.p50, timer.p99, "-");
	printf("%-46s %12.0f %9.0f %9.0f %9s\n",
	       "encode only, no queue (hand-over baseline)", enc.rps, enc.p50,
	       enc.p99, "1.00");
	printf("%-46s %12s %9.0f %9.0f %9.2f\n",
	       "hand-over into the store's queue (put)", "-", batched.p50,
	       batched.p99, enc.p50 > 0 ? batched.p50 / enc.p50 : 0);
	printf("%-46s %12.0f %9s %9s %9s\n",
	       "one transaction per record (write baseline)", single.rps, "-",
	       "-", "1.00");
	printf("%-46s %12.0f %9s %9s %9.1f\n",
	       "store: batched, sustained (target 200000)", batched.rps, "-",
	       "-", batched.rps / single.rps);
	/* The kill rows: ms behind, and the ratio to the flush interval
	 * (target: within one interval and the scheduling of a busy
	 * machine, < 2x at the median). */
	if (crashed) {
		printf("%-46s %12s %9.1f %9.1f %9.2f\n",
		       "SIGKILL: oldest record lost, ms (p50, max)", "-",
		       (double)ages[CRASH_RUNS / 2] / 1e6,
		       (double)ages[CRASH_RUNS - 1] / 1e6,
		       (double)ages[CRASH_RUNS / 2] / 1e6 / CRASH_FLUSH_MS);
	} else {
		printf("%-46s %12s\n", "SIGKILL: oldest record lost", "n/a");
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!have_divert) {
			printf("%-46s %12s %9s %9s %9s\n", rows[i].name, "n/a",
			       "", "", "-");
			continue;
		}
		printf("%-46s %5.1f/%-6.1f %9s %9s %9.2f\n", rows[i].name,
		       rows[i].on, rows[i].off, "", "",
		       rows[i].off > 0 ? rows[i].on / rows[i].off : 0);
	}
	if (!have_divert)
		printf("(divert rows: %s)\n", derr);
	else
		printf("(divert rows: bench/divert in this run, `spackle` "
		       "against `db = none`, target ratio >= 0.95)\n");
	printf("\nSIGKILL rows: %d kills of a writer flushing every %d ms, "
	       "after 50-200 ms each; ratio: the median age over the flush "
	       "interval\n",
	       CRASH_RUNS, CRASH_FLUSH_MS);
	printf("batched run: %llu transactions, %llu records written, %llu "
	       "puts found the queue full and waited, %llu errors, map used "
	       "%.1f MiB; p50/p99 ns include the clock read; max put %.0f ns\n",
	       (unsigned long long)batched.st.flushes,
	       (unsigned long long)batched.st.written,
	       (unsigned long long)batched.full_waits,
	       (unsigned long long)batched.st.errors,
	       (double)batched.st.map_used / (1 << 20), batched.max);
	free(lat);
	return 0;
}

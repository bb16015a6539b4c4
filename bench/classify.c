/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/classify: the classifier's speed and memory against a libpcap read. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spackle/classify.h"
#include "tests/tools/capgen.h"

struct bench_opts {
	unsigned packets, flows, names, list, rounds;
	const char *dir;
};

struct frame {
	uint32_t off, len;
	uint64_t ts;
};

/* The capture held in memory, so timing sees the classifier alone. */
struct corpus {
	uint8_t *data;
	struct frame *f;
	size_t n, cap, used, dcap;
};

static double
secs(uint64_t a, uint64_t b)
{
	return (double)(b - a) / 1e9;
}

static long
peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint32_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

static void
addr4(char *buf, size_t len, unsigned net, unsigned i)
{
	static const char *const nets[] = {"203.0.113", "198.51.100"};

	snprintf(buf, len, "%s.%u", nets[net], i % 250 + 1);
}

/*
 * The synthetic capture: DNS answers for `names` names (each a CNAME and an
 * address), then packets spread over `flows` flows; one flow in eight
 * goes to a name of the deny list.
 */
static int
make_capture(const struct bench_opts *o, const char *path)
{
	struct capgen *g = capgen_open(path, PACKET_LINK_ETHERNET, CAPGEN_PCAP);
	uint8_t msg[512], payload[64];
	uint64_t now = 1764326400ull * 1000000000ull, seed = 42;
	char qname[64], cname[64], addr[48], local[48], remote[48];
	const char *cn[1], *ad[1];
	struct capgen_pkt p;
	unsigned i, fl;

	if (g == NULL)
		return -1;
	memset(payload, 0x5a, sizeof(payload));
	for (i = 0; i < o->names; i++) {
		snprintf(qname, sizeof(qname), "host%u.list%u.example", i,
		         i % o->list);
		snprintf(cname, sizeof(cname), "edge%u.cdn.example", i);
		snprintf(addr, sizeof(addr), "2001:db8:%x::%x",
		         0x100 + i / 60000, i % 60000 + 1);
		cn[0] = cname;
		ad[0] = addr;
		/* the query, then its answer: only solicited answers name */
		memset(&p, 0, sizeof(p));
		p.src = "192.0.2.10";
		p.dst = "198.51.100.53";
		p.proto = SP_PROTO_UDP;
		p.sport = (uint16_t)(10000 + i);
		p.dport = 53;
		p.payload = msg;
		p.plen = capgen_dns_query(msg, sizeof(msg), (uint16_t)i, qname);
		if (capgen_write(g, now, &p) != 0)
			goto fail;
		p.src = "198.51.100.53";
		p.dst = "192.0.2.10";
		p.sport = 53;
		p.dport = (uint16_t)(10000 + i);
		p.plen = capgen_dns_response(msg, sizeof(msg), (uint16_t)i,
		                             qname, cn, 1, ad, 1, 3600);
		if (capgen_write(g, now, &p) != 0)
			goto fail;
		now += 1000;
	}
	for (i = 2 * o->names; i < o->packets; i++) {
		fl = rnd(&seed) % o->flows;
		memset(&p, 0, sizeof(p));
		if (fl % 8 == 0) {
			/* to one of the named (IPv6) hosts */
			snprintf(local, sizeof(local), "2001:db8:1::%x",
			         fl % 1000 + 1);
			snprintf(remote, sizeof(remote), "2001:db8:%x::%x",
			         0x100 + (fl % o->names) / 60000,
			         (fl % o->names) % 60000 + 1);
		} else {
			snprintf(local, sizeof(local), "192.0.2.%u",
			         fl % 200 + 1);
			addr4(remote, sizeof(remote), fl & 1, fl / 2);
		}
		p.src = local;
		p.dst = remote;
		p.proto = fl % 3 == 0 ? SP_PROTO_UDP : SP_PROTO_TCP;
		p.sport = (uint16_t)(20000 + fl % 40000);
		p.dport = p.proto == SP_PROTO_UDP ? 4000 : 443;
		p.tcp_flags = PACKET_TCP_ACK;
		p.payload = payload;
		p.plen = rnd(&seed) % sizeof(payload);
		if (rnd(&seed) & 1) { /* a reply */
			p.src = remote;
			p.dst = local;
			p.sport = p.dport;
			p.dport = (uint16_t)(20000 + fl % 40000);
		}
		if (capgen_write(g, now, &p) != 0)
			goto fail;
		now += 1000;
	}
	return capgen_close(g);
fail:
	capgen_close(g);
	return -1;
}

static int
make_rules(const struct bench_opts *o, const char *dir)
{
	char path[SP_PATH_MAX + 32];
	FILE *f;
	unsigned i;

	/* Half hosts-file lines, half plain names, as blocklists come. */
	snprintf(path, sizeof(path), "%s/deny.list", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	for (i = 0; i < o->list; i++)
		fprintf(f, "%slist%u.example\n", i % 2 ? "0.0.0.0 " : "", i);
	fclose(f);
	snprintf(path, sizeof(path), "%s/10-bench.rules", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "allow out proto udp to any port 53 essential note \"DNS\"\n"
	           "deny out to list \"deny.list\"\n"
	           "allow out process \"/usr/bin/curl\" to domain example "
	           "port 443\n"
	           "reject out proto tcp to 198.51.100.0/24 port 22\n"
	           "allow in proto tcp port 22\n"
	           "deny out to 203.0.113.128/25\n"
	           "allow out proto tcp to 203.0.113.0/24 port { 80, 443 }\n");
	fclose(f);
	return 0;
}

/* Every frame to the classifier, one call each, as replay does. */
static void
run_frames(struct classifier *cls, const struct corpus *c)
{
	struct classify_result res;
	size_t i;

	for (i = 0; i < c->n; i++)
		classify_frame(cls, PACKET_LINK_ETHERNET, c->data + c->f[i].off,
		               c->f[i].len, c->f[i].len, c->f[i].ts, UINT32_MAX,
		               &res);
}

/* The same in bursts, as the divert daemon receives them. */
static void
run_bursts(struct classifier *cls, const struct corpus *c)
{
	struct classify_input in[CLASSIFY_BURST];
	struct classify_result res[CLASSIFY_BURST];
	size_t i, k, n;

	for (i = 0; i < c->n; i += n) {
		n = c->n - i < CLASSIFY_BURST ? c->n - i : CLASSIFY_BURST;
		for (k = 0; k < n; k++) {
			in[k].p = c->data + c->f[i + k].off;
			in[k].len = c->f[i + k].len;
			in[k].wirelen = c->f[i + k].len;
			in[k].ts_ns = c->f[i + k].ts;
			in[k].uid_hint = UINT32_MAX;
			in[k].gid_hint = UINT32_MAX;
			in[k].link = PACKET_LINK_ETHERNET;
			in[k].hook = CLASSIFY_HOOK_NONE;
		}
		classify_burst(cls, in, n, res);
	}
}

static void
load_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *b)
{
	struct corpus *c = (struct corpus *)user;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1 << 16;
		c->f = realloc(c->f, c->cap * sizeof(*c->f));
	}
	if (c->used + h->caplen > c->dcap) {
		c->dcap = c->dcap ? c->dcap * 2 : 1 << 24;
		c->data = realloc(c->data, c->dcap);
	}
	if (c->f == NULL || c->data == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		exit(2);
	}
	memcpy(c->data + c->used, b, h->caplen);
	c->f[c->n].off = (uint32_t)c->used;
	c->f[c->n].len = h->caplen;
	c->f[c->n].ts =
	        (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
	c->used += h->caplen;
	c->n++;
}

static void
count_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *b)
{
	uint64_t *sum = (uint64_t *)user;

	*sum += h->caplen + b[0];
}

static double
pcap_read_rate(const char *path, size_t *n)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
	        path, PCAP_TSTAMP_PRECISION_NANO, eb);
	uint64_t t0, sum = 0;
	int k;

	*n = 0;
	if (pc == NULL)
		return 0;
	t0 = sp_now_mono();
	while ((k = pcap_dispatch(pc, -1, count_frame, (u_char *)&sum)) > 0)
		*n += (size_t)k;
	pcap_close(pc);
	return (double)*n / secs(t0, sp_now_mono()) + (double)(sum & 0);
}

int
main(int argc, char **argv)
{
	struct bench_opts o = {1000000, 10000, 1000, 200000, 3, NULL};
	char dir[] = "/tmp/spackle-bench-XXXXXX", cap[512], rules[512];
	struct {
		struct ruleset *rs;
	} R;
	struct rules_diags d;
	struct classify_config cc;
	struct classifier *cls;
	struct corpus corp;
	struct classify_stats st;
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc;
	size_t i, npcap = 0, r, nq;
	uint64_t t0, t1;
	uint64_t best[2][2] = {{UINT64_MAX, UINT64_MAX},
	                       {UINT64_MAX, UINT64_MAX}};
	double base_pps, load_s, decide_us, all_pps[2], cached_pps[2];
	long rss_before, rss_rules;
	int opt, mode;

	while ((opt = getopt(argc, argv, "p:f:n:l:r:")) != -1) {
		switch (opt) {
		case 'p':
			o.packets = (unsigned)atoi(optarg);
			break;
		case 'f':
			o.flows = (unsigned)atoi(optarg);
			break;
		case 'n':
			o.names = (unsigned)atoi(optarg);
			break;
		case 'l':
			o.list = (unsigned)atoi(optarg);
			break;
		case 'r':
			o.rounds = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: classify [-p packets] [-f flows] "
			        "[-n names] [-l list] [-r rounds]\n");
			return 2;
		}
	}
	if (o.flows == 0 || o.list == 0 || o.names == 0 || o.rounds == 0 ||
	    2 * o.names >= o.packets) {
		fprintf(stderr,
		        "bench: -f, -l, -n, -r must be > 0 and -p > 2 * -n\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(cap, sizeof(cap), "%s/bench.pcap", dir);
	snprintf(rules, sizeof(rules), "%s/rules", dir);
	if (mkdir(rules, 0700) != 0 || make_capture(&o, cap) != 0 ||
	    make_rules(&o, rules) != 0) {
		fprintf(stderr, "bench: cannot write the inputs under %s\n",
		        dir);
		return 2;
	}

	/* Baseline: libpcap reading the same capture, nothing else. */
	base_pps = 0;
	for (r = 0; r < o.rounds; r++) {
		double pps = pcap_read_rate(cap, &npcap);

		if (pps > base_pps)
			base_pps = pps;
	}

	rss_before = rss_kib();
	memset(&d, 0, sizeof(d));
	R.rs = rules_new();
	t0 = sp_now_mono();
	if (rules_load_path(R.rs, rules, &d) != 0 || d.errors > 0 ||
	    rules_compile(R.rs, &d) != 0 || d.errors > 0) {
		rules_diags_print(stderr, &d);
		return 2;
	}
	load_s = secs(t0, sp_now_mono());
	rss_rules = rss_kib() - rss_before;
	rules_diags_free(&d);

	/* New-flow decisions against the 200k-entry list, names attached. */
	{
		enum { NQ = 200000 };
		char names[64][64];
		const char *np[1];
		struct rules_query q;
		struct rules_result rr;
		uint64_t s = 7;
		unsigned hit = 0;

		for (i = 0; i < 64; i++)
			snprintf(names[i], sizeof(names[i]),
			         i % 2 ? "www.list%u.example"
			               : "a.b.miss%u.test",
			         rnd(&s) % o.list);
		memset(&q, 0, sizeof(q));
		q.dir = SP_DIR_OUT;
		q.proto = SP_PROTO_TCP;
		q.remote_port = 443;
		q.uid = UINT32_MAX;
		q.names = np;
		q.nnames = 1;
		t0 = sp_now_mono();
		for (nq = 0; nq < NQ; nq++) {
			np[0] = names[nq & 63];
			q.remote.family = AF_INET6;
			q.remote.b[15] = (uint8_t)nq;
			memset(&rr, 0, sizeof(rr));
			if (rules_match(R.rs, &q, SP_VERDICT_ALLOW, &rr) ==
			    SP_VERDICT_DENY)
				hit++;
		}
		t1 = sp_now_mono();
		decide_us = (double)(t1 - t0) / 1e3 / NQ;
		if (hit != NQ / 2) {
			fprintf(stderr,
			        "bench: %u of %d list lookups denied, "
			        "expected %d\n",
			        hit, NQ, NQ / 2);
			return 1;
		}
	}

	/* The capture in memory, then classified: all packets, and cached. */
	memset(&corp, 0, sizeof(corp));
	pc = pcap_open_offline_with_tstamp_precision(
	        cap, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (pc == NULL) {
		fprintf(stderr, "bench: %s\n", eb);
		return 2;
	}
	while (pcap_dispatch(pc, -1, load_frame, (u_char *)&corp) > 0)
		;
	pcap_close(pc);

	memset(&cc, 0, sizeof(cc));
	cc.rules = R.rs;
	cc.dflt = SP_VERDICT_ALLOW;
	cc.flows.max_flows = 1u << 16;
	for (r = 0; r < o.rounds; r++) {
		for (mode = 0; mode < 2; mode++) {
			uint64_t pass[2];
			int k;

			cls = classify_new(&cc);
			/* first pass: new flows and DNS; second: all cached */
			for (k = 0; k < 2; k++) {
				t0 = sp_now_mono();
				if (mode == 0)
					run_frames(cls, &corp);
				else
					run_bursts(cls, &corp);
				pass[k] = sp_now_mono() - t0;
			}
			if (pass[0] < best[mode][0])
				best[mode][0] = pass[0];
			if (pass[1] < best[mode][1])
				best[mode][1] = pass[1];
			classify_stats(cls, &st);
			classify_free(cls);
		}
	}
	for (mode = 0; mode < 2; mode++) {
		all_pps[mode] = (double)corp.n / ((double)best[mode][0] / 1e9);
		cached_pps[mode] =
		        (double)corp.n / ((double)best[mode][1] / 1e9);
	}

	printf("bench/classify: %zu packets, %u flows, %u DNS names, "
	       "%u-entry deny list, best of %u rounds\n\n",
	       corp.n, o.flows, o.names, o.list, o.rounds);
	printf("%-44s %14s %10s %10s\n", "row", "value", "unit", "vs libpcap");
	printf("%-44s %14.0f %10s %10s\n", "libpcap read only (baseline)",
	       base_pps, "pkt/s", "1.00");
	for (mode = 0; mode < 2; mode++) {
		const char *how = mode == 0 ? "one by one" : "bursts of 32";
		char row[64];

		snprintf(row, sizeof(row), "classify %s, first pass", how);
		printf("%-44s %14.0f %10s %10.2f\n", row, all_pps[mode],
		       "pkt/s", all_pps[mode] / base_pps);
		snprintf(row, sizeof(row), "classify %s, cached verdicts", how);
		printf("%-44s %14.0f %10s %10.2f\n", row, cached_pps[mode],
		       "pkt/s", cached_pps[mode] / base_pps);
		snprintf(row, sizeof(row), "  ns per packet, %s, cached", how);
		printf("%-44s %14.1f %10s %10s\n", row, 1e9 / cached_pps[mode],
		       "ns", "");
	}
	printf("%-44s %14.1f %10s %10.2f\n", "ns per packet, libpcap read",
	       1e9 / base_pps, "ns", 1.0);
	printf("%-44s %14.3f %10s %10s\n", "new-flow decision, 200k rules",
	       decide_us, "us", "");
	printf("%-44s %14.3f %10s %10s\n", "rule + list load and compile",
	       load_s, "s", "");
	printf("%-44s %14ld %10s %10s\n", "memory of the compiled rules",
	       rss_rules, "KiB", "");
	printf("%-44s %14zu %10s %10s\n", "flow table bytes per flow",
	       flow_table_bytes_per_flow(), "B", "");
	printf("%-44s %14ld %10s %10s\n", "peak memory (RSS)", peak_rss_kib(),
	       "KiB", "");
	printf("\nlast round: %llu packets, %llu malformed, %llu decisions, "
	       "%llu DNS answers; targets: >= 5M pkt/s cached, < 2 "
	       "us/decision\n",
	       (unsigned long long)st.packets, (unsigned long long)st.malformed,
	       (unsigned long long)st.decisions,
	       (unsigned long long)st.dns_answers);

	rules_free(R.rs);
	free(corp.data);
	free(corp.f);
	snprintf(eb, sizeof(eb), "rm -rf '%s'", dir);
	if (system(eb) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
	return 0;
}

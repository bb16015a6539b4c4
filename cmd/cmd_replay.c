/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle replay`: the classifier and rules over a capture, a line a flow. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "divert/divert.h"
#include "spackle/classify.h"
#include "spackle/verdict.h"
#include "cmd/cmd.h"
#include "cmd/replay.h"

#define NS_PER_S 1000000000ull

struct replay_flow {
	struct flow f;
	char *host;
};

struct replay {
	struct classifier *cls;
	struct verdict_policy pol; /* the daemon's, enforce mode */
	uint64_t verdicts[4];      /* packets by what they got */
	const struct ruleset *rules;
	struct replay_flow *v;
	size_t n, cap;
	uint64_t last_expire;
	bool oom;
};

static void
replay_ended(const struct flow *f, void *arg)
{
	struct replay *r = arg;
	const char *host = classify_flow_host(r->cls, f);
	struct replay_flow *nv;

	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 256;

		nv = realloc(r->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			r->oom = true;
			return;
		}
		r->v = nv;
		r->cap = ncap;
	}
	r->v[r->n].f = *f;
	r->v[r->n].host = host ? strdup(host) : NULL;
	r->n++;
}

/* Each packet of a burst as the daemon decides it: the classifier, then
 * the verdict policy, counted by what the packet got. */
static void
replay_burst(const struct divert_packet *dp, size_t n, void *arg)
{
	struct replay *r = arg;
	struct classify_result res;
	struct verdict_out vo;
	size_t i;

	for (i = 0; i < n; i++) {
		classify_frame(r->cls, dp[i].link, dp[i].data, dp[i].caplen,
		               dp[i].wirelen, dp[i].ts_ns, dp[i].uid, &res);
		/* A frame without IP never reaches a divert. */
		if (res.status != PACKET_NOT_IP) {
			verdict_decide(&r->pol, &res, dp[i].data, dp[i].caplen,
			               &vo);
			r->verdicts[vo.verdict & 3]++;
		}
		if (dp[i].ts_ns >= r->last_expire + NS_PER_S) {
			classify_expire(r->cls, dp[i].ts_ns);
			r->last_expire = dp[i].ts_ns;
		}
	}
}

static int
replay_cmp(const void *a, const void *b)
{
	const struct replay_flow *x = a, *y = b;

	return x->f.id < y->f.id ? -1 : x->f.id > y->f.id;
}

/* Local and remote ends, and the packets/bytes each way from the local end. */
struct replay_view {
	const struct sp_addr *laddr, *raddr;
	uint16_t lport, rport;
	uint64_t pkts_out, pkts_in, bytes_out, bytes_in;
	char lbuf[64], rbuf[64], rule[SP_PATH_MAX + 16];
	const char *proto;
	char pbuf[8];
};

static void
replay_view(const struct replay *r, const struct flow *f, struct replay_view *v)
{
	int out = f->dir == SP_DIR_OUT ? 0 : 1; /* index the local end sent */
	const struct rules_rule *rule;

	flow_local(f, &v->laddr, &v->lport);
	flow_remote(f, &v->raddr, &v->rport);
	v->pkts_out = f->packets[out];
	v->pkts_in = f->packets[!out];
	v->bytes_out = f->bytes[out];
	v->bytes_in = f->bytes[!out];
	sp_addr_format(v->laddr, v->lbuf, sizeof(v->lbuf));
	sp_addr_format(v->raddr, v->rbuf, sizeof(v->rbuf));
	rule = f->rule == FLOW_RULE_DEFAULT || r->rules == NULL
	               ? NULL
	               : rules_get(r->rules, f->rule);
	rules_format_where(v->rule, sizeof(v->rule), rule);
	v->proto = sp_proto_format(f->key.proto, v->pbuf, sizeof(v->pbuf));
}

/* A flow as conns shows one, with no process (a capture carries none),
 * and its packets and bytes summed. */
static void
replay_print_json(const struct replay *r, const struct replay_flow *rf)
{
	struct classify_flow_info fi = {
	        .host = rf->host, .ppid = -1, .attrib = CLASSIFY_ATTRIB_NONE};
	const struct flow *f = &rf->f;
	json_t *o = classify_flow_json(f, &fi, r->rules);
	char *s;

	if (o == NULL)
		return;
	json_object_set_new(
	        o, "packets",
	        json_integer((json_int_t)(f->packets[0] + f->packets[1])));
	json_object_set_new(
	        o, "bytes",
	        json_integer((json_int_t)(f->bytes[0] + f->bytes[1])));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s != NULL)
		puts(s);
	free(s);
	json_decref(o);
}

static void
replay_print_text(const struct replay *r, const struct replay_flow *rf)
{
	struct replay_view v;
	char l[80], rm[80];

	replay_view(r, &rf->f, &v);
	snprintf(l, sizeof(l), v.laddr->family == 10 ? "[%s]:%u" : "%s:%u",
	         v.lbuf, v.lport);
	snprintf(rm, sizeof(rm), v.raddr->family == 10 ? "[%s]:%u" : "%s:%u",
	         v.rbuf, v.rport);
	printf("%-3s %-5s %-24s %-3s %-28s %-24s %-6s %-28s %6llu pkts "
	       "%9llu bytes\n",
	       sp_dir_name(rf->f.dir), v.proto, l,
	       rf->f.dir == SP_DIR_OUT ? "->" : "<-", rm,
	       rf->host ? rf->host : "-", sp_verdict_name(rf->f.verdict),
	       v.rule, (unsigned long long)(v.pkts_out + v.pkts_in),
	       (unsigned long long)(v.bytes_out + v.bytes_in));
}

static void
replay_print_summary(const struct replay *r, bool json)
{
	struct classify_stats st;
	json_t *o, *s, *vd;
	char *txt;

	classify_stats(r->cls, &st);
	if (!json) {
		printf("\n%llu packets, %llu flows, %llu malformed, %llu not "
		       "IP, "
		       "%llu unmatched fragments, %llu DNS answers\n"
		       "packets allowed %llu, denied %llu, rejected %llu\n",
		       (unsigned long long)st.packets, (unsigned long long)r->n,
		       (unsigned long long)st.malformed,
		       (unsigned long long)st.not_ip,
		       (unsigned long long)st.fragments_unmatched,
		       (unsigned long long)st.dns_answers,
		       (unsigned long long)r->verdicts[SP_VERDICT_ALLOW],
		       (unsigned long long)r->verdicts[SP_VERDICT_DENY],
		       (unsigned long long)r->verdicts[SP_VERDICT_REJECT]);
		return;
	}
	s = json_object();
	json_object_set_new(s, "packets", json_integer((json_int_t)st.packets));
	json_object_set_new(s, "bytes", json_integer((json_int_t)st.bytes));
	json_object_set_new(s, "flows", json_integer((json_int_t)r->n));
	json_object_set_new(s, "malformed",
	                    json_integer((json_int_t)st.malformed));
	json_object_set_new(s, "not_ip", json_integer((json_int_t)st.not_ip));
	json_object_set_new(s, "fragments_unmatched",
	                    json_integer((json_int_t)st.fragments_unmatched));
	json_object_set_new(s, "dns_answers",
	                    json_integer((json_int_t)st.dns_answers));
	json_object_set_new(s, "dns_bad", json_integer((json_int_t)st.dns_bad));
	vd = json_object();
	json_object_set_new(
	        vd, "allow",
	        json_integer((json_int_t)r->verdicts[SP_VERDICT_ALLOW]));
	json_object_set_new(
	        vd, "deny",
	        json_integer((json_int_t)r->verdicts[SP_VERDICT_DENY]));
	json_object_set_new(
	        vd, "reject",
	        json_integer((json_int_t)r->verdicts[SP_VERDICT_REJECT]));
	json_object_set_new(s, "packets_by_verdict", vd);
	o = json_object();
	json_object_set_new(o, "summary", s);
	txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (txt != NULL)
		puts(txt);
	free(txt);
	json_decref(o);
}

int
replay_run(const struct replay_options *opt, FILE *err)
{
	struct classify_config cc;
	struct replay r;
	struct divert *d = NULL;
	char ebuf[512];
	size_t i;
	int n, rc = 0;

	memset(&r, 0, sizeof(r));
	memset(&cc, 0, sizeof(cc));
	cc.rules = opt->rules;
	cc.dflt = opt->dflt;
	for (i = 0; i < opt->nlocal && i < CLASSIFY_LOCAL_MAX; i++) {
		cc.local[i] = opt->local[i];
		cc.local_plen[i] = opt->local_plen[i];
	}
	cc.nlocal = i;
	cc.flows.max_flows = opt->max_flows;
	cc.ended = replay_ended;
	cc.ended_arg = &r;
	/* A capture has every packet: names from SNI/Host decide as in the
	 * daemon's packet mode. */
	cc.name_hold = true;
	r.rules = opt->rules;
	r.pol.dflt = opt->dflt;
	if ((r.cls = classify_new(&cc)) == NULL) {
		fprintf(err,
		        "spackle replay: out of memory for the flow table\n");
		return 2;
	}
	if (divert_pcap_ops.open(&d, opt->file, ebuf, sizeof(ebuf)) != 0) {
		fprintf(err, "spackle replay: %s\n", ebuf);
		classify_free(r.cls);
		return 2;
	}
	while ((n = divert_pcap_ops.dispatch(d, 0, replay_burst, &r)) > 0)
		;
	if (n < 0) {
		struct classify_stats st;

		classify_stats(r.cls, &st);
		fprintf(err,
		        "spackle replay: %s: unreadable after packet %llu: %s "
		        "(flows up to there are shown)\n",
		        opt->file, (unsigned long long)st.packets,
		        divert_pcap_ops.error(d));
		rc = 1;
	}
	divert_pcap_ops.close(d);
	classify_flush(r.cls);
	if (r.oom) {
		fprintf(err, "spackle replay: out of memory keeping flows\n");
		rc = 2;
	}
	qsort(r.v, r.n, sizeof(*r.v), replay_cmp);
	if (!opt->quiet) {
		for (i = 0; i < r.n; i++) {
			if (opt->json)
				replay_print_json(&r, &r.v[i]);
			else
				replay_print_text(&r, &r.v[i]);
		}
		replay_print_summary(&r, opt->json);
	}
	for (i = 0; i < r.n; i++)
		free(r.v[i].host);
	free(r.v);
	classify_free(r.cls);
	return rc;
}

static void
replay_usage(FILE *f)
{
	fprintf(f, "usage: spackle replay FILE [--rules DIR|FILE | -c CONF]\n"
	           "         [--default allow|deny|reject] [--local CIDR]... "
	           "[--json]\n");
}

int
cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"rules", required_argument, NULL, 'r'},
	        {"config", required_argument, NULL, 'c'},
	        {"default", required_argument, NULL, 'd'},
	        {"local", required_argument, NULL, 'l'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct replay_options opt;
	struct cmd_rules_source src;
	int ch, rc;

	memset(&opt, 0, sizeof(opt));
	memset(&src, 0, sizeof(src));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "r:c:d:l:jh", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'r':
			src.rules = optarg;
			break;
		case 'c':
			src.config = optarg;
			break;
		case 'd':
			src.dflt = optarg;
			break;
		case 'l':
			if (opt.nlocal == REPLAY_LOCAL_MAX) {
				fprintf(stderr,
				        "spackle replay: more than %d "
				        "--local networks\n",
				        REPLAY_LOCAL_MAX);
				return 2;
			}
			if (!sp_cidr_parse(&opt.local[opt.nlocal],
			                   &opt.local_plen[opt.nlocal],
			                   optarg)) {
				fprintf(stderr,
				        "spackle replay: --local \"%s\": not "
				        "an "
				        "address or CIDR\n",
				        optarg);
				return 2;
			}
			opt.nlocal++;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'h':
			replay_usage(stdout);
			return 0;
		default:
			replay_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		replay_usage(stderr);
		return 2;
	}
	opt.file = argv[optind];
	src.optional = true;
	if (cmd_rules_open(&src, "replay", stderr) != 0)
		return 2;
	opt.rules = src.rs;
	opt.dflt = src.verdict;
	rc = replay_run(&opt, stderr);
	rules_free(src.rs);
	return rc;
}

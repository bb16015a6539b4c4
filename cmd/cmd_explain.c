/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle explain`: which rule decides a described flow, and why. */
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "spackle/rules.h"

#define EXPLAIN_HOSTS_MAX 32

struct explain_opts {
	struct rules_query q;
	const char *hosts[EXPLAIN_HOSTS_MAX];
	bool json;
	bool have_dst, have_proto;
};

static void
explain_usage(FILE *f)
{
	fprintf(f,
	        "usage: spackle explain [--rules DIR|FILE | -c CONF] "
	        "[--dir out|in]\n"
	        "         --proto P --dst ADDR [--dport N] [--host NAME]...\n"
	        "         [--process PATH] [--user UID|NAME]\n"
	        "         [--default allow|deny|reject] [--json]\n"
	        "\n"
	        "--dst is the remote address and --host its names; --dport is "
	        "the remote\nport for --dir out (the default) and the local "
	        "port for --dir in.\n");
}

static bool
parse_proto(const char *s, uint8_t *p)
{
	int num = sp_proto_number(s, true);
	char *end;
	unsigned long v;

	if (num >= 0)
		*p = (uint8_t)num;
	else {
		v = strtoul(s, &end, 10);
		if (s[0] < '0' || s[0] > '9' || *end != '\0' || v > 255)
			return false;
		*p = (uint8_t)v;
	}
	return true;
}

static bool
parse_user(const char *s, uint32_t *uid)
{
	struct passwd *pw;
	char *end;
	unsigned long v;

	if (s[0] >= '0' && s[0] <= '9') {
		v = strtoul(s, &end, 10);
		if (*end != '\0' || v >= UINT32_MAX)
			return false;
		*uid = (uint32_t)v;
		return true;
	}
	if ((pw = getpwnam(s)) == NULL)
		return false;
	*uid = (uint32_t)pw->pw_uid;
	return true;
}

static const char *
remote_kind(uint8_t cls)
{
	switch (cls) {
	case 3:
		return "host";
	case 2:
		return "domain";
	case 1:
		return "address";
	}
	return "any";
}

static const char *
yes(bool b)
{
	return b ? "yes" : "no";
}

static void
print_key(const struct rules_key *k, const char *matched)
{
	printf("    key: priority %s, process %s, remote %s", yes(k->priority),
	       yes(k->process), remote_kind(k->remote_class));
	if (k->remote_class == 2)
		printf(" %s (%u labels)", matched ? matched : "?",
		       k->remote_len);
	else if (k->remote_class != 0)
		printf(" %s", matched ? matched : "?");
	printf(", port %s, action %s, order %u\n", yes(k->port),
	       k->action_rank == 2   ? "reject"
	       : k->action_rank == 1 ? "deny"
	                             : "allow",
	       k->index + 1);
}

static void
print_rule(const struct ruleset *rs, const struct rules_candidate *c)
{
	const struct rules_rule *r = rules_get(rs, c->rule);

	printf("  %s:%u: ", r->file, r->line);
	rules_print(stdout, r);
	printf("\n");
	print_key(&c->key, c->matched);
}

static int
explain_text(const struct ruleset *rs, const struct rules_result *res)
{
	size_t i;

	printf("verdict: %s\n", sp_verdict_name(res->verdict));
	if (res->rule == UINT32_MAX) {
		printf("rule: default (no rule matched)\n");
		printf("settled by: default\n");
		return 0;
	}
	printf("rule:\n");
	print_rule(rs, &res->cands[0]);
	if (res->ncands > 1)
		printf("beat:\n");
	for (i = 1; i < res->ncands; i++)
		print_rule(rs, &res->cands[i]);
	printf("settled by: %s\n",
	       res->settled_by ? res->settled_by : "only candidate");
	return 0;
}

static json_t *
json_cand(const struct ruleset *rs, const struct rules_candidate *c)
{
	const struct rules_rule *r = rules_get(rs, c->rule);
	const struct rules_key *k = &c->key;
	char buf[1024], *text = buf;
	size_t n;
	json_t *o;

	n = rules_format(buf, sizeof(buf), r);
	if (n >= sizeof(buf) && (text = malloc(n + 1)) != NULL)
		rules_format(text, n + 1, r);
	o = json_pack(
	        "{s:s, s:i, s:s, s:s?, s:{s:b, s:b, s:s, s:i, s:b, s:s, s:i}}",
	        "file", r->file, "line", (json_int_t)r->line, "text",
	        text ? text : buf, "matched", c->matched, "key", "priority",
	        k->priority, "process", k->process, "remote",
	        remote_kind(k->remote_class), "remote_len",
	        (json_int_t)k->remote_len, "port", k->port, "action",
	        sp_verdict_name(r->action), "index", (json_int_t)k->index);
	if (text != buf)
		free(text);
	return o;
}

static int
explain_json(const struct ruleset *rs, const struct rules_result *res)
{
	json_t *root, *beat;
	size_t i;
	int rc = 0;

	beat = json_array();
	for (i = 1; i < res->ncands; i++)
		json_array_append_new(beat, json_cand(rs, &res->cands[i]));
	root = json_pack("{s:s, s:b, s:o, s:o, s:s?}", "verdict",
	                 sp_verdict_name(res->verdict), "default",
	                 res->rule == UINT32_MAX, "rule",
	                 res->rule == UINT32_MAX
	                         ? json_null()
	                         : json_cand(rs, &res->cands[0]),
	                 "beat", beat, "settled_by",
	                 res->rule == UINT32_MAX ? "default" : res->settled_by);
	if (root == NULL || json_dumpf(root, stdout, JSON_INDENT(2)) != 0)
		rc = 2;
	printf("\n");
	json_decref(root);
	return rc;
}

static int
explain_args(int argc, char **argv, struct explain_opts *o,
             struct cmd_rules_source *src)
{
	static const struct option longopts[] = {
	        {"rules", required_argument, NULL, 'r'},
	        {"config", required_argument, NULL, 'c'},
	        {"default", required_argument, NULL, 'D'},
	        {"dir", required_argument, NULL, 'd'},
	        {"proto", required_argument, NULL, 'p'},
	        {"dst", required_argument, NULL, 'a'},
	        {"dport", required_argument, NULL, 'P'},
	        {"host", required_argument, NULL, 'n'},
	        {"process", required_argument, NULL, 'e'},
	        {"user", required_argument, NULL, 'u'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const struct option *lo;
	char *end;
	unsigned long v;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "r:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			src->rules = optarg;
			break;
		case 'c':
			src->config = optarg;
			break;
		case 'D':
			src->dflt = optarg;
			break;
		case 'd':
			if (strcmp(optarg, "out") == 0)
				o->q.dir = SP_DIR_OUT;
			else if (strcmp(optarg, "in") == 0)
				o->q.dir = SP_DIR_IN;
			else
				goto bad;
			break;
		case 'p':
			if (!parse_proto(optarg, &o->q.proto))
				goto bad;
			o->have_proto = true;
			break;
		case 'a':
			if (!sp_addr_parse(&o->q.remote, optarg))
				goto bad;
			o->have_dst = true;
			break;
		case 'P':
			v = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    *end != '\0' || v == 0 || v > 65535)
				goto bad;
			o->q.remote_port = (uint16_t)v;
			break;
		case 'n':
			if (o->q.nnames == EXPLAIN_HOSTS_MAX) {
				fprintf(stderr,
				        "spackle explain: more than %d "
				        "--host names\n",
				        EXPLAIN_HOSTS_MAX);
				return 2;
			}
			o->hosts[o->q.nnames++] = optarg;
			break;
		case 'e':
			o->q.exe = optarg;
			break;
		case 'u':
			if (!parse_user(optarg, &o->q.uid))
				goto bad;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			explain_usage(stdout);
			return 0;
		default:
			explain_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !o->have_dst || !o->have_proto) {
		explain_usage(stderr);
		return 2;
	}
	if (o->q.dir == SP_DIR_IN) {
		o->q.local_port = o->q.remote_port;
		o->q.remote_port = 0;
	}
	return -1;
bad:
	for (lo = longopts; lo->name != NULL && lo->val != ch; lo++)
		;
	fprintf(stderr, "spackle explain: --%s \"%s\": %s\n", lo->name, optarg,
	        ch == 'd'   ? "use out or in"
	        : ch == 'p' ? "use tcp, udp, icmp, icmp6 or a number"
	        : ch == 'a' ? "not an IPv4 or IPv6 address"
	        : ch == 'P' ? "a port is 1-65535"
	                    : "no such user");
	return 2;
}

int
cmd_explain(int argc, char **argv)
{
	struct explain_opts o;
	struct cmd_rules_source src;
	struct rules_result res;
	size_t cap;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&src, 0, sizeof(src));
	memset(&res, 0, sizeof(res));
	o.q.dir = SP_DIR_OUT;
	o.q.uid = UINT32_MAX;
	o.q.names = o.hosts;
	if ((rc = explain_args(argc, argv, &o, &src)) >= 0)
		return rc;
	if (cmd_rules_open(&src, "explain", stderr) != 0)
		return 2;
	cap = rules_count(src.rs) > 0 ? rules_count(src.rs) : 1;
	if ((res.cands = calloc(cap, sizeof(*res.cands))) == NULL) {
		fprintf(stderr, "spackle explain: out of memory\n");
		rules_free(src.rs);
		return 2;
	}
	res.cands_cap = cap;
	rules_match(src.rs, &o.q, src.verdict, &res);
	rc = o.json ? explain_json(src.rs, &res) : explain_text(src.rs, &res);
	if (fflush(stdout) != 0)
		rc = 2;
	free(res.cands);
	rules_free(src.rs);
	return rc;
}

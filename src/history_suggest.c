/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle rules suggest`: rules that allow what the stored flows show. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spackle/flow.h"
#include "src/history_int.h"

#define SUGGEST_PORTS_MAX 16 /* more distinct ports: no port clause */
#define SUGGEST_HOSTS     3  /* example names in the comment */

struct sugg {
	char *exe; /* NULL: unknown process */
	uint32_t uid;
	uint8_t dir, proto;
	char *target; /* domain or address; NULL for any (in flows) */
	bool domain;
	uint16_t ports[SUGGEST_PORTS_MAX];
	size_t nports;
	bool many_ports;
	uint64_t flows;
	char *hosts[SUGGEST_HOSTS];
	size_t nhosts, more_hosts;
};

struct sugg_ctx {
	const struct history_filter *f;
	struct history_map m;
	uint64_t flows, left_denied, left_hidden;
	uint64_t first_ns, last_ns;
	bool oom;
};

static void
sugg_free(void *v)
{
	struct sugg *g = v;
	size_t i;

	free(g->exe);
	free(g->target);
	for (i = 0; i < g->nhosts; i++)
		free(g->hosts[i]);
}

static bool
proto_ports(uint8_t p)
{
	return p == SP_PROTO_TCP || p == SP_PROTO_UDP;
}

static void
sugg_port(struct sugg *g, uint16_t port)
{
	size_t i;

	if (port == 0 || g->many_ports)
		return;
	for (i = 0; i < g->nports; i++)
		if (g->ports[i] == port)
			return;
	if (g->nports == SUGGEST_PORTS_MAX) {
		g->many_ports = true;
		return;
	}
	g->ports[g->nports++] = port;
}

static void
sugg_host(struct sugg *g, const char *host)
{
	size_t i;

	if (host == NULL || host[0] == '\0')
		return;
	for (i = 0; i < g->nhosts; i++)
		if (strcmp(g->hosts[i], host) == 0)
			return;
	if (g->nhosts == SUGGEST_HOSTS || strchr(host, '\n') != NULL) {
		g->more_hosts++;
		return;
	}
	g->hosts[g->nhosts] = strdup(host);
	if (g->hosts[g->nhosts] != NULL)
		g->nhosts++;
}

static int
sugg_visit(const struct store_flow *r, void *arg)
{
	struct sugg_ctx *x = arg;
	char dom[SP_NAME_MAX + 2], ab[64], key[SP_PATH_MAX + 400];
	const char *target = NULL;
	struct sugg *g;
	bool created, domain = false;
	const char *k;
	bool in = r->dir == SP_DIR_IN;

	/* Aggregates of flows that never completed name no one thing a rule
	 * could be about (a flood, a scan). */
	if (!history_match(x->f, r) || (r->flags & STORE_FLOW_AGGREGATE))
		return 0;
	if (r->flags & STORE_FLOW_HIDDEN) {
		x->left_hidden++;
		return 0;
	}
	if ((r->verdict == SP_VERDICT_DENY ||
	     r->verdict == SP_VERDICT_REJECT) &&
	    strcmp(r->rule, "default") != 0) {
		x->left_denied++;
		return 0;
	}
	if (!in) {
		if ((target = history_domain(r->host, dom, sizeof(dom))) !=
		    NULL)
			domain = true;
		else if (r->remote.family != 0)
			target = sp_addr_format(&r->remote, ab, sizeof(ab));
	}
	snprintf(key, sizeof(key), "%s\x1f%u\x1f%u\x1f%u\x1f%s\x1f%d", r->exe,
	         r->exe[0] ? 0 : r->uid, in, r->proto, target ? target : "",
	         domain);
	if ((g = history_map_get(&x->m, key, sizeof(*g), &created, &k)) ==
	    NULL) {
		x->oom = true;
		return 1;
	}
	if (created) {
		g->exe = r->exe[0] ? strdup(r->exe) : NULL;
		g->uid = r->exe[0] ? FLOW_UID_UNKNOWN : r->uid;
		g->dir = in ? SP_DIR_IN : SP_DIR_OUT;
		g->proto = r->proto;
		g->target = target ? strdup(target) : NULL;
		g->domain = domain;
	}
	g->flows++;
	if (proto_ports(r->proto))
		sugg_port(g, in ? r->local_port : r->remote_port);
	if (domain)
		sugg_host(g, r->host);
	x->flows++;
	if (x->first_ns == 0 || r->first_ns < x->first_ns)
		x->first_ns = r->first_ns;
	if (r->last_ns > x->last_ns)
		x->last_ns = r->last_ns;
	return 0;
}

/* Order: by process (unknown ones last, then by user), most flows first. */
static int
sugg_cmp(const void *a, const void *b)
{
	const struct sugg *x = *(const struct sugg *const *)a;
	const struct sugg *y = *(const struct sugg *const *)b;
	int c;

	if ((x->exe == NULL) != (y->exe == NULL))
		return x->exe == NULL ? 1 : -1;
	if (x->exe != NULL && (c = strcmp(x->exe, y->exe)) != 0)
		return c;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	if (x->flows != y->flows)
		return x->flows > y->flows ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return strcmp(x->target ? x->target : "", y->target ? y->target : "");
}

static int
port_cmp(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

/* A process path as a rule string: quotes and backslashes escaped, control
 * characters (which a rule string cannot hold) matched by '?'. */
static void
print_process(FILE *out, const char *exe)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *)exe; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', out);
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			fputc('?', out);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* The owner of a group in a comment: no newline may end the comment. */
static void
print_owner(FILE *out, const struct sugg *g)
{
	const unsigned char *p;

	if (g->exe == NULL) {
		if (g->uid != FLOW_UID_UNKNOWN)
			fprintf(out, "user %u (process unknown)", g->uid);
		else
			fprintf(out, "unknown process and user");
		return;
	}
	for (p = (const unsigned char *)g->exe; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

static void
print_rule(FILE *out, const struct sugg *g)
{
	char pb[8];
	size_t i, j;

	fprintf(out, "allow %s", g->dir == SP_DIR_IN ? "in" : "out");
	if (g->exe != NULL) {
		fprintf(out, " process ");
		print_process(out, g->exe);
	} else if (g->uid != FLOW_UID_UNKNOWN) {
		fprintf(out, " user %u", g->uid);
	}
	fprintf(out, " proto %s", sp_proto_format(g->proto, pb, sizeof(pb)));
	if (g->target != NULL)
		fprintf(out, " to %s%s", g->domain ? "domain " : "", g->target);
	if (proto_ports(g->proto) && g->nports > 0 && !g->many_ports) {
		uint16_t ports[SUGGEST_PORTS_MAX], lo[SUGGEST_PORTS_MAX],
		        hi[SUGGEST_PORTS_MAX];
		size_t n = 0;

		memcpy(ports, g->ports, g->nports * sizeof(ports[0]));
		qsort(ports, g->nports, sizeof(ports[0]), port_cmp);
		/* Runs of consecutive ports become ranges. */
		for (i = 0; i < g->nports; i = j + 1, n++) {
			j = i;
			while (j + 1 < g->nports &&
			       ports[j + 1] == ports[j] + 1)
				j++;
			lo[n] = ports[i];
			hi[n] = ports[j];
		}
		fprintf(out, " port %s", n > 1 ? "{ " : "");
		for (i = 0; i < n; i++) {
			fprintf(out, "%s%u", i > 0 ? ", " : "", lo[i]);
			if (hi[i] > lo[i])
				fprintf(out, "-%u", hi[i]);
		}
		fprintf(out, "%s", n > 1 ? " }" : "");
	}
	fputc('\n', out);
}

long
history_suggest(struct store_reader *r, const struct history_filter *f,
                FILE *out)
{
	struct sugg_ctx x;
	struct sugg **g;
	char t1[32], t2[32];
	size_t i, j;
	uint64_t owner_flows;

	memset(&x, 0, sizeof(x));
	x.f = f;
	store_reader_flows(r, false, sugg_visit, &x, NULL);
	if (x.oom || (g = (struct sugg **)history_map_values(&x.m)) == NULL) {
		history_map_free(&x.m, sugg_free);
		return -1;
	}
	qsort(g, x.m.n, sizeof(*g), sugg_cmp);
	fprintf(out,
	        "# spackle rules suggest: %zu rule%s for %" PRIu64
	        " flow%s seen from %s to %s.\n",
	        x.m.n, x.m.n == 1 ? "" : "s", x.flows, x.flows == 1 ? "" : "s",
	        history_format_time(x.first_ns, t1, sizeof(t1)),
	        history_format_time(x.last_ns, t2, sizeof(t2)));
	fprintf(out,
	        "# Left out: %" PRIu64 " flow%s denied or rejected by a rule, "
	        "%" PRIu64 " hidden.\n",
	        x.left_denied, x.left_denied == 1 ? "" : "s", x.left_hidden);
	fprintf(out, "# Names are collapsed to their registrable domain "
	             "(docs/store.md).\n");
	for (i = 0; i < x.m.n; i = j) {
		owner_flows = 0;
		for (j = i;
		     j < x.m.n && (g[j]->exe == NULL) == (g[i]->exe == NULL) &&
		     (g[i]->exe == NULL || strcmp(g[i]->exe, g[j]->exe) == 0) &&
		     g[i]->uid == g[j]->uid;
		     j++)
			owner_flows += g[j]->flows;
		fprintf(out, "\n# ");
		print_owner(out, g[i]);
		fprintf(out, ": %" PRIu64 " flow%s\n", owner_flows,
		        owner_flows == 1 ? "" : "s");
		for (; i < j; i++) {
			size_t k;

			fprintf(out, "# %" PRIu64 " flow%s", g[i]->flows,
			        g[i]->flows == 1 ? "" : "s");
			if (g[i]->nhosts > 0) {
				fprintf(out, ":");
				for (k = 0; k < g[i]->nhosts; k++)
					fprintf(out, " %s", g[i]->hosts[k]);
				if (g[i]->more_hosts > 0)
					fprintf(out, " and more");
			}
			if (g[i]->many_ports)
				fprintf(out, " (more than %d ports: any port)",
				        SUGGEST_PORTS_MAX);
			fputc('\n', out);
			print_rule(out, g[i]);
		}
	}
	free(g);
	i = x.m.n;
	history_map_free(&x.m, sugg_free);
	return (long)i;
}

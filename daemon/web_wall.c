/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GET /api/wall: what `spackle audit` reports, as far as the daemon knows
 * it cheaply: its steering first and whole in every hook (iptables), the
 * kernel's counters against its own, the exemptions with their counters,
 * the hidden flows audit told it of and the tamper events, from the
 * store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/daemon.h"
#include "daemon/web.h"
#include "spackle/fwread.h"
#include "spackle/history.h"
#include "spackle/steer.h"

#define WALL_LIST_MAX 50
#define WALL_SCAN_MAX 300000
#define WALL_TAMPER_S (7 * 86400)

/* Both families' steering tables into rs; false when neither reads. */
static bool
wall_read(struct daemon *dm, struct fw_ruleset *rs, json_t *problems)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	char err[512], *buf;
	size_t len;
	unsigned f;
	bool any = false;

	for (f = 0; f < 2; f++) {
		if (steer_save(fams[f], &buf, &len, err, sizeof(err)) != 0) {
			json_array_append_new(problems, json_string(err));
			continue;
		}
		if (fw_parse_save(buf, len, fams[f],
		                  dm->cfg.backend == CONFIG_BACKEND_TUN
		                          ? "mangle"
		                          : "filter",
		                  rs, err, sizeof(err)) == 0)
			any = true;
		else
			json_array_append_new(problems, json_string(err));
		free(buf);
	}
	return any;
}

/* Each hook: first (one unconditional jump, at the top) and whole (the
 * chain as installed, nothing missing or extra); a problem per hook
 * that is not. */
static json_t *
wall_steering(struct daemon *dm, const struct fw_ruleset *rs, bool read,
              json_t *problems)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	struct fw_steer_check chk = {0};
	json_t *hooks = json_array();
	char msg[256];
	bool checked = read && dm->steered &&
	               steer_firewall(&dm->cfg) == CONFIG_FIREWALL_IPTABLES &&
	               dm->cfg.backend != CONFIG_BACKEND_TUN;
	size_t i;
	unsigned f;
	bool ok;

	if (!checked) {
		/* What the watch found last, when it could look. */
		if (dm->tamper_seen != NULL)
			json_array_append_new(
			        problems,
			        json_sprintf("changed by someone else: %s",
			                     dm->tamper_seen));
		json_array_append_new(
		        problems,
		        json_string("the daemon checks its steering with "
		                    "iptables and packet queues only: run "
		                    "spackle audit"));
	} else {
		for (f = 0; f < 2; f++)
			fw_check_steering(&dm->cfg, fams[f], rs, &chk);
	}
	ok = checked && chk.n > 0;
	for (i = 0; i < chk.n; i++) {
		const struct fw_hook_check *hc = &chk.v[i];
		bool first = hc->jumps == 1 && hc->jump_pos == 1;
		bool whole = hc->chain_present && hc->nmissing == 0 &&
		             hc->nextra == 0;
		const char *fam = hc->family == AF_INET6 ? "IPv6" : "IPv4";

		json_array_append_new(
		        hooks,
		        json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:i}", "family",
		                  fam, "hook", hc->hook, "chain", hc->chain,
		                  "first", first, "whole", whole, "ok", hc->ok,
		                  "above", (int)hc->nabove));
		if (hc->ok)
			continue;
		ok = false;
		if (!hc->chain_present)
			snprintf(msg, sizeof(msg),
			         "%s %s: the chain %s is gone", fam, hc->hook,
			         hc->chain);
		else if (hc->jumps == 0)
			snprintf(msg, sizeof(msg),
			         "%s %s: no jump to %s: nothing is steered",
			         fam, hc->hook, hc->chain);
		else if (!first)
			snprintf(msg, sizeof(msg),
			         "%s %s: %zu rule%s above spackle's jump", fam,
			         hc->hook, hc->nabove,
			         hc->nabove == 1 ? "" : "s");
		else
			snprintf(msg, sizeof(msg),
			         "%s %s: %s has %zu rule%s missing, %zu extra",
			         fam, hc->hook, hc->chain, hc->nmissing,
			         hc->nmissing == 1 ? "" : "s", hc->nextra);
		json_array_append_new(problems, json_string(msg));
	}
	fw_steer_check_free(&chk);
	return json_pack("{s:b,s:b,s:o,s:o}", "ok", ok, "checked", checked,
	                 "problems", json_incref(problems), "hooks", hooks);
}

/* The kernel's counts against the daemon's, as audit adds them up: what
 * the queue rules sent is what the daemon received, what waits in the
 * queues and what they dropped. */
static json_t *
wall_counters(struct daemon *dm, const struct fw_ruleset *rs, bool read)
{
	struct divert_kernel_stats ks;
	char spec[16];
	uint64_t sent, waiting = 0, qdrop = 0, udrop = 0, received = 0;
	int64_t rest;
	unsigned q, i;
	json_t *lines;
	struct daemon_totals sum;

	if (!read || dm->cfg.backend == CONFIG_BACKEND_TUN)
		return json_pack("{s:n,s:[],s:s}", "adds_up", "lines", "note",
		                 "the tunnel's counters: run spackle audit");
	sent = fw_rules_sum(rs, STEER_COMMENT_QUEUE) +
	       fw_rules_sum(rs, STEER_COMMENT_DNS);
	for (q = dm->cfg.queue_base; q <= STEER_DNS_QUEUE(&dm->cfg); q++) {
		snprintf(spec, sizeof(spec), "%u", q);
		if (dm->ops->kernel_stats == NULL ||
		    dm->ops->kernel_stats(spec, &ks) != 0)
			continue;
		waiting += ks.waiting;
		qdrop += ks.dropped_full;
		udrop += ks.dropped_user;
	}
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < dm->nw; i++)
		worker_run(&dm->w[i], worker_get_stats, &sum);
	received = sum.st.received;
	/* Read after the rules: the daemon has at least what they counted,
	 * and what arrived meanwhile makes it more, never less. */
	rest = (int64_t)sent - (int64_t)(received + waiting + qdrop + udrop);
	lines = json_pack("[{s:s,s:I,s:I},{s:s,s:I,s:I},{s:s,s:I,s:I}]", "what",
	                  "packets the queue rules sent / the daemon received",
	                  "kernel", (json_int_t)sent, "daemon",
	                  (json_int_t)received, "what", "waiting in the queues",
	                  "kernel", (json_int_t)waiting, "daemon",
	                  (json_int_t)0, "what",
	                  "dropped: a queue or the daemon's socket was full",
	                  "kernel", (json_int_t)(qdrop + udrop), "daemon",
	                  (json_int_t)sum.ds.enobufs);
	return json_pack("{s:b,s:I,s:o}", "adds_up", rest <= 0, "difference",
	                 (json_int_t)rest, "lines", lines);
}

json_t *
web_wall(struct web *w)
{
	struct daemon *dm = w->dm;
	struct fw_ruleset rs = {0};
	struct store_reader *r = NULL;
	json_t *problems = json_array(), *ex = json_array(), *o;
	json_t *hidden, *tamper;
	char comment[CONFIG_IFNAME_MAX + 32], err[SP_PATH_MAX + 128];
	uint64_t pk, by;
	bool read = wall_read(dm, &rs, problems);
	unsigned i;

	for (i = 0; i < dm->cfg.nexempt; i++) {
		snprintf(comment, sizeof(comment), "%s%s", STEER_COMMENT_EXEMPT,
		         dm->cfg.exempt[i]);
		pk = read ? fw_rules_sum(&rs, comment) : 0;
		by = read ? fw_rules_bytes(&rs, comment) : 0;
		json_array_append_new(ex,
		                      json_pack("{s:s,s:I,s:I}", "name",
		                                dm->cfg.exempt[i], "packets",
		                                (json_int_t)pk, "bytes",
		                                (json_int_t)(read ? by : 0)));
	}
	if (store_reader_attach(&r, dm->store, err, sizeof(err)) == 0) {
		hidden = history_hidden(r, WALL_LIST_MAX, WALL_SCAN_MAX);
		tamper = history_events_of(
		        r, STORE_EV_TAMPER,
		        sp_now_wall() - (uint64_t)WALL_TAMPER_S * NS_PER_S,
		        WALL_LIST_MAX);
		store_reader_close(r);
	} else {
		hidden = json_array();
		tamper = json_array();
	}
	o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:O?,s:I}", "steering",
	              wall_steering(dm, &rs, read, problems), "counters",
	              wall_counters(dm, &rs, read), "exemptions", ex, "hidden",
	              hidden, "tamper", tamper, "last_audit", dm->last_audit,
	              "tamper_events", (json_int_t)dm->tampers);
	json_decref(problems);
	fw_ruleset_free(&rs);
	return o;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spackle audit, part 1: what the kernel sent to spackle's queues against
 * what the daemon received, the queues dropped and bypass let past unseen.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd/audit.h"
#include "divert/divert.h"
#include "spackle/config.h"
#include "spackle/control.h"
#include "spackle/fwread.h"
#include "spackle/steer.h"

/* Both families' filter (tun: mangle) tables into rs (cmd/audit.h). */
bool
audit_read_ruleset(struct audit *a, struct fw_ruleset *rs)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	char err[1024], *buf;
	size_t len;
	unsigned k;
	bool any = false;

	fw_ruleset_free(rs);
	for (k = 0; k < 2; k++) {
		if (steer_save(fams[k], &buf, &len, err, sizeof(err)) != 0) {
			if (k == 0)
				json_array_append_new(a->notes,
				                      json_string(err));
			continue;
		}
		/* The tunnel's marking chain is in mangle. */
		if (fw_parse_save(buf, len, fams[k],
		                  a->cfg.backend == CONFIG_BACKEND_TUN
		                          ? "mangle"
		                          : "filter",
		                  rs, err, sizeof(err)) != 0)
			json_array_append_new(a->notes, json_string(err));
		else
			any = true;
		free(buf);
	}
	return any;
}

static bool
audit_read_rules(struct audit *a)
{
	return audit_read_ruleset(a, &a->rs);
}

/*
 * What the kernel sent to spackle: the packets of the queue rules, or with
 * the tunnel the packets its chain marked to route into the tun and those
 * tc redirected there (a->tun_sent_out and a->tun_sent_in keep the two).
 */
static uint64_t
audit_sent(struct audit *a)
{
	struct steer_tun_state st;

	if (a->cfg.backend != CONFIG_BACKEND_TUN)
		return fw_rules_sum(&a->rs, STEER_COMMENT_QUEUE) +
		       fw_rules_sum(&a->rs, STEER_COMMENT_DNS);
	a->tun_sent_out = fw_rules_sum(&a->rs, STEER_COMMENT_TUN);
	if (steer_tun_state(&a->cfg, &st) != 0) {
		json_array_append_new(
		        a->notes, json_string("tun: cannot run ip or tc; the "
		                              "redirected packets are not "
		                              "counted"));
	} else {
		a->tun_sent_in = st.redirected;
		/* The nft firewall marks in its own table. */
		if (steer_firewall(&a->cfg) == CONFIG_FIREWALL_NFT)
			a->tun_sent_out = st.nft_marked;
	}
	return a->tun_sent_out + a->tun_sent_in;
}

/* One reading of the counters (audit_counters). */
struct reading {
	uint64_t sent1, sent2, waiting, qdrop, udrop, seq, received, enobufs;
	/* The tunnel: tc counts an inbound super-packet as its segments, the
	 * daemon as one; what it stood for beyond one (gso_in_extra). */
	uint64_t in_extra;
	unsigned nq;
	bool daemon;
	char err[1024]; /* why the daemon did not answer */
};

/*
 * Read in the order kernel rules, queues, daemon, kernel rules again: the
 * daemon's figures include everything the first read counted, and the
 * second read bounds what arrived while reading. a->rs and a->status are
 * this reading's.
 */
static void
read_counters(struct audit *a, bool tun, struct reading *r)
{
	const struct divert_ops *ops =
	        divert_backend(config_backend_name(a->cfg.backend));
	struct divert_kernel_stats ks;
	char spec[CONFIG_IFNAME_MAX + 16];
	json_t *ctr;
	unsigned q;

	memset(r, 0, sizeof(*r));
	a->have_rules = audit_read_rules(a) ||
	                (tun && steer_firewall(&a->cfg) == CONFIG_FIREWALL_NFT);
	r->sent1 = audit_sent(a);
	for (q = a->cfg.queue_base; q <= STEER_DNS_QUEUE(&a->cfg); q++) {
		/* The tunnel is one divert point, whatever the queues. */
		if (tun && q > a->cfg.queue_base)
			break;
		if (tun)
			snprintf(spec, sizeof(spec), "%s", a->cfg.tun_name);
		else
			snprintf(spec, sizeof(spec), "%u", q);
		if (ops == NULL || ops->kernel_stats == NULL ||
		    ops->kernel_stats(spec, &ks) != 0)
			continue;
		r->nq++;
		r->waiting += ks.waiting;
		r->qdrop += ks.dropped_full;
		r->udrop += ks.dropped_user;
		r->seq += ks.diverted;
	}
	json_decref(a->status);
	a->status =
	        control_call(a->cfg.control, "status", r->err, sizeof(r->err));
	if (a->status != NULL &&
	    (ctr = json_object_get(a->status, "counters")) != NULL) {
		r->daemon = true;
		r->received = (uint64_t)json_integer_value(
		        json_object_get(ctr, "received"));
		r->enobufs = (uint64_t)json_integer_value(
		        json_object_get(ctr, "enobufs"));
		r->in_extra = (uint64_t)json_integer_value(
		        json_object_get(ctr, "gso_in_extra"));
	} else {
		json_decref(a->status);
		a->status = NULL;
	}
	audit_read_rules(a);
	r->sent2 = audit_sent(a);
}

/* Readings taken, AUDIT_READ_GAP_MS apart, while one does not add up. */
#define AUDIT_READS       5
#define AUDIT_READ_GAP_MS 50

/*
 * Counters: what the kernel sent to spackle's queues against what the
 * daemon received, the queues dropped and bypass let through unseen. A
 * packet the rules counted may still be on its way when the daemon is
 * asked (the tunnel's device counts a packet when the daemon reads it, and
 * no figure shows what waits in it): a reading that does not add up is
 * taken again, up to AUDIT_READS times, and the last one is reported. What
 * passed unseen stays in every reading; a packet in flight leaves the next.
 * The daemon's own count (`counters.passed_unseen` in status) likewise
 * counts only what stays unseen over two reads.
 */
void
audit_counters(struct audit *a)
{
	bool tun = a->cfg.backend == CONFIG_BACKEND_TUN;
	struct reading rd, *r = &rd;
	uint64_t unseen, slack;
	int64_t rest;
	unsigned i;
	json_t *c = a->counters, *ex;
	bool adds_up;

	for (i = 0;; i++) {
		read_counters(a, tun, r);
		slack = r->sent2 > r->sent1 ? r->sent2 - r->sent1 : 0;
		rest = (int64_t)r->sent1 -
		       (int64_t)(r->received + r->in_extra + r->waiting +
		                 r->qdrop + r->udrop);
		if (rest <= 0 || !r->daemon || i + 1 == AUDIT_READS)
			break;
		usleep(AUDIT_READ_GAP_MS * 1000u);
	}
	if (!r->daemon)
		json_array_append_new(
		        a->notes,
		        json_sprintf("daemon: %s; every packet the kernel sent "
		                     "to the queues since is counted as passed "
		                     "unseen (failure = open) or dropped "
		                     "(failure = closed)",
		                     r->err));
	unseen = rest > 0 ? (uint64_t)rest : 0;
	/* More received than sent, beyond what arrived while reading: the
	 * rules' counters were reset (re-installed, repaired) after start. */
	adds_up = rest == 0 || (rest < 0 && (uint64_t)-rest <= slack + 16);
	if (!a->have_rules)
		adds_up = false;
	json_object_set_new(c, "sent_to_queues",
	                    json_integer((json_int_t)r->sent1));
	json_object_set_new(c, "received",
	                    json_integer((json_int_t)r->received));
	json_object_set_new(c, "waiting", json_integer((json_int_t)r->waiting));
	json_object_set_new(c, "queue_dropped",
	                    json_integer((json_int_t)r->qdrop));
	json_object_set_new(c, "socket_dropped",
	                    json_integer((json_int_t)r->udrop));
	json_object_set_new(c, "passed_unseen",
	                    json_integer((json_int_t)unseen));
	json_object_set_new(c, "difference", json_integer((json_int_t)rest));
	json_object_set_new(c, "arrived_while_reading",
	                    json_integer((json_int_t)slack));
	json_object_set_new(c, "enobufs", json_integer((json_int_t)r->enobufs));
	/* Flow mode: the later packets of decided flows, which the kernel
	 * accepted, dropped or rejected by their conntrack mark. */
	json_object_set_new(
	        c, "fast_path",
	        json_integer(
	                (json_int_t)(fw_rules_sum(&a->rs,
	                                          STEER_COMMENT_FLOW_ACCEPT) +
	                             fw_rules_sum(&a->rs,
	                                          STEER_COMMENT_FLOW_DENY) +
	                             fw_rules_sum(&a->rs,
	                                          STEER_COMMENT_FLOW_REJECT) +
	                             fw_rules_sum(&a->rs,
	                                          STEER_COMMENT_FLOW_RESET))));
	json_object_set_new(c, "queued_since_bound",
	                    json_integer((json_int_t)r->seq));
	json_object_set_new(c, "queues_bound", json_integer((json_int_t)r->nq));
	/* The tunnel: the two ways in, and its device's own count. */
	if (tun)
		json_object_set_new(
		        c, "tun",
		        json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "device",
		                  a->cfg.tun_name, "marked_out",
		                  (json_int_t)a->tun_sent_out, "redirected_in",
		                  (json_int_t)a->tun_sent_in, "device_sent",
		                  (json_int_t)r->seq, "device_dropped",
		                  (json_int_t)r->qdrop, "gso_in_extra",
		                  (json_int_t)r->in_extra));
	json_object_set_new(c, "daemon", json_boolean(r->daemon));
	json_object_set_new(c, "adds_up", json_boolean(adds_up && r->daemon));
	json_object_set_new(
	        c, "drops",
	        json_boolean(r->qdrop + r->udrop + r->enobufs + unseen > 0));
	/* Each declared exemption with its own counter. */
	ex = json_object();
	for (i = 0; i < a->cfg.nexempt; i++) {
		char comment[CONFIG_IFNAME_MAX + 32];

		snprintf(comment, sizeof(comment), "%s%s", STEER_COMMENT_EXEMPT,
		         a->cfg.exempt[i]);
		json_object_set_new(ex, a->cfg.exempt[i],
		                    json_integer((json_int_t)fw_rules_sum(
		                            &a->rs, comment)));
	}
	json_object_set_new(c, "exempt", ex);
	if (!adds_up || !r->daemon ||
	    r->qdrop + r->udrop + r->enobufs + unseen > 0)
		a->holes = true;
}

/* What the queues let past unseen up to now (cmd/audit.h). */
int64_t
audit_unseen(const struct audit *a, const struct fw_ruleset *rs)
{
	const struct divert_ops *ops =
	        divert_backend(config_backend_name(a->cfg.backend));
	struct divert_kernel_stats ks;
	char spec[16], err[512];
	uint64_t sent, rest = 0;
	json_t *st;
	const json_t *ctr;
	unsigned q;

	if (a->cfg.backend == CONFIG_BACKEND_TUN)
		return -1;
	/* In the counters part's order: the rules, the queues, the
	 * daemon, so that what the rules counted has been received. */
	sent = fw_rules_sum(rs, STEER_COMMENT_QUEUE) +
	       fw_rules_sum(rs, STEER_COMMENT_DNS);
	for (q = a->cfg.queue_base; q <= STEER_DNS_QUEUE(&a->cfg); q++) {
		snprintf(spec, sizeof(spec), "%u", q);
		if (ops == NULL || ops->kernel_stats == NULL ||
		    ops->kernel_stats(spec, &ks) != 0)
			continue;
		rest += ks.waiting + ks.dropped_full + ks.dropped_user;
	}
	st = control_call(a->cfg.control, "status", err, sizeof(err));
	if (st == NULL || (ctr = json_object_get(st, "counters")) == NULL) {
		json_decref(st);
		return -1;
	}
	rest += (uint64_t)json_integer_value(json_object_get(ctr, "received"));
	json_decref(st);
	return sent > rest ? (int64_t)(sent - rest) : 0;
}

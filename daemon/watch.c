/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The main thread's second: what was lost, flow mode's conntrack dump,
 * whether the steering is still first and whole, the service watchdog. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "daemon/daemon.h"
#include "spackle/fwread.h"
#include "spackle/nftread.h"
#include "spackle/steer.h"

/* Packets or records lost, as they stand: the workers' receive overruns
 * and unanswered packets, the kernel's drops at our divert points, the
 * store's lost records. */
void
daemon_drops_now(struct daemon *dm, struct daemon_drops *d)
{
	struct divert_kernel_stats ks;
	struct divert_stats ds;
	struct store_stats ss;
	unsigned i;

	memset(d, 0, sizeof(*d));
	memset(&ds, 0, sizeof(ds));
	for (i = 0; i < dm->nw; i++) {
		/* The backend's counters are the worker's to read. */
		worker_run(&dm->w[i], worker_get_divert_stats, &ds);
		if (dm->ops->kernel_stats != NULL &&
		    dm->ops->kernel_stats(dm->w[i].spec, &ks) == 0) {
			d->queue_dropped += ks.dropped_full;
			d->user_dropped += ks.dropped_user;
			d->waiting += ks.waiting;
		}
	}
	d->received = ds.received;
	d->passed_unseen = dm->passed_unseen;
	d->enobufs = ds.enobufs;
	d->unanswered = ds.unanswered;
	if (dm->store != NULL) {
		store_stats(dm->store, &ss);
		d->store_lost = ss.lost;
	}
}

/*
 * Flow mode's periodic dump costs the kernel and this thread about a
 * microsecond per conntrack entry: 64 to 99 ms for the connection
 * benchmark's leftovers (2026-12-05), which on two cores took a CPU from
 * the connections for a twentieth of every second, flow mode's connect
 * p99 with it. So the tick dumps every second while a dump is short
 * (under DAEMON_CT_DUMP_QUICK_NS), and every 10 s when it is long: the
 * store's flow records carry counters about every 10 s anyway, and
 * `conns` dumps for itself (answers.c). When a worker's socket lost
 * destroy events, the flows they ended end at the next dump, which then
 * comes as soon as it may: a second after the last, or twenty times the
 * last dump's length (at most a twentieth of the time).
 */
#define DAEMON_CT_DUMP_SHARE    20
#define DAEMON_CT_DUMP_QUICK_NS (5 * NS_PER_S / 1000)
#define DAEMON_CT_DUMP_MAX_NS   (10 * NS_PER_S)

/* When the tick dumps next: from the last dump's start and length, and
 * whether events were lost since. */
static uint64_t
daemon_ct_next(uint64_t start, uint64_t took, bool lost)
{
	uint64_t gap = took * DAEMON_CT_DUMP_SHARE;

	if (!lost && took >= DAEMON_CT_DUMP_QUICK_NS)
		return start + DAEMON_CT_DUMP_MAX_NS;
	gap = gap < NS_PER_S                ? NS_PER_S
	      : gap > DAEMON_CT_DUMP_MAX_NS ? DAEMON_CT_DUMP_MAX_NS
	                                    : gap;
	return start + gap;
}

/*
 * Flow mode: one dump of the conntrack table here, on the main thread,
 * then each worker takes its flows' counters (and the ends of flows
 * whose entry is gone) from it in memory: a worker never asks the kernel
 * about its flows one by one.
 */
void
daemon_ct_sync(struct daemon *dm, bool whole)
{
	struct ct_table *t;
	uint64_t t0 = sp_now_mono(), took;
	char err[256];
	unsigned i;

	if (dm->ct == NULL)
		return;
	/* What is lost from here on is for the next dump. */
	atomic_store(&dm->ct_events_lost, false);
	/* Sized for what the last dump brought and an eighth more; at most
	 * what the memory plan gives the dumps. */
	t = ct_table_dump(dm->ct, dm->ct_dump_n + dm->ct_dump_n / 8 + 1024,
	                  dm->mem.ct_entries, sp_now_wall(), err, sizeof(err));
	took = sp_now_mono() - t0;
	dm->ct_dump_ns = took;
	dm->ct_last_ns = t0;
	dm->ct_next_ns = daemon_ct_next(t0, took, false);
	if (t == NULL) {
		log_warn("flow mode: conntrack dump: %s", err);
		return;
	}
	dm->ct_dump_n = ct_table_count(t);
	if (ct_table_partial(t) && dm->ct_partial++ == 0)
		log_warn("flow mode: the conntrack table holds more than the "
		         "%zu entries memory_max leaves a dump; flows whose "
		         "entry is past them end by their events only",
		         dm->mem.ct_entries);
	for (i = 0; i < dm->nw; i++)
		worker_run(&dm->w[i],
		           whole ? worker_ct_sync : worker_ct_sync_start, t);
	ct_table_free(t);
}

/*
 * The steering as installed now, with its counters (iptables firewall:
 * what the second's checks read). Which families were read (bit 0 IPv4,
 * bit 1 IPv6); 0 when none. *whole: rs holds both families' whole filter
 * tables, as the check needs; else only the rules of spackle's chains.
 *
 * The whole tables come from iptables-save and ip6tables-save, two
 * programs run: 14 ms of CPU a second on an idle machine here, two thirds
 * of what an idle daemon took (docs/steering.md). With iptables-nft they
 * run only when they can tell something new. nf_tables moves its
 * generation on every change to any table, so while it stands where a
 * check found every hook in place the steering is as that check saw it,
 * and the counters alone are read over netlink (pfconf/nftread.c). A
 * check that found a problem is made again every second, as before.
 */
static const int daemon_fams[2] = {AF_INET, AF_INET6};

static unsigned
daemon_read_steering(struct daemon *dm, struct fw_ruleset *rs, bool *whole)
{
	char err[512], *buf;
	size_t len;
	unsigned f, read = 0;
	uint32_t gen = 0;
	bool gen_ok = false;

	*whole = false;
	if (!dm->steered || dm->cfg.firewall != CONFIG_FIREWALL_IPTABLES)
		return 0;
	if (dm->steer_gen_ok &&
	    nft_read_steering(dm->steer_gen_families, "filter", &gen, rs, err,
	                      sizeof(err)) == 0) {
		if (gen == dm->steer_gen) {
			/* As the last check found it: every hook in place. */
			dm->steer_counts++;
			dm->steer_checked_ns = sp_now_mono();
			return dm->steer_gen_families;
		}
		/* Moved: gen, read before the programs run, is theirs. */
		gen_ok = true;
		fw_ruleset_free(rs);
		memset(rs, 0, sizeof(*rs));
	}
	/* The generation before the rules: a change after this moves it,
	 * and the next second reads the rules again. */
	if (!gen_ok)
		gen_ok = dm->steer_nft &&
		         nft_generation(&gen, err, sizeof(err)) == 0;
	for (f = 0; f < 2; f++) {
		if (steer_save(daemon_fams[f], &buf, &len, err, sizeof(err)) !=
		    0)
			continue;
		if (fw_parse_save(buf, len, daemon_fams[f], "filter", rs, err,
		                  sizeof(err)) == 0)
			read |= 1u << f;
		free(buf);
	}
	dm->steer_saves++;
	/* Usable once the check of these rules finds every hook in place
	 * (daemon_check_steering). */
	dm->steer_gen_ok = false;
	dm->steer_gen = gen_ok ? gen : 0;
	dm->steer_gen_families = gen_ok ? read : 0;
	*whole = true;
	return read;
}

/*
 * What the kernel sent to the queues and nobody saw: the queue rules'
 * packets, read before the daemon's and the queues' counters (d), less
 * what the daemon received, what waits and what the kernel dropped. With
 * `failure = open` a full queue accepts the rest (NFQUEUE's fail-open),
 * and the kernel counts that nowhere else; `spackle audit` computes the
 * same. What stays unseen over two reads counts (fw_unseen_update): a
 * packet in flight between the reads never does. A steering put back
 * from scratch starts its counters at 0 again, and a family whose rules
 * could not be read this time leaves its queue rules out of the sum: then
 * only what grows from there counts.
 */
static void
daemon_count_unseen(struct daemon *dm, const struct fw_ruleset *rs,
                    unsigned families, struct daemon_drops *d)
{
	uint64_t sent = fw_rules_sum(rs, STEER_COMMENT_QUEUE) +
	                fw_rules_sum(rs, STEER_COMMENT_DNS);
	uint64_t seen =
	        d->received + d->waiting + d->queue_dropped + d->user_dropped;

	dm->passed_unseen = fw_unseen_update(&dm->unseen, sent, seen, families);
	d->passed_unseen = dm->passed_unseen;
}

/*
 * What is wrong with the steering as installed now (rs, with the families
 * in `read`): a JSON object per hook that is not as spackle installed it,
 * NULL when all are. Rules placed above spackle's are listed with their
 * counters.
 */
static json_t *
daemon_steering_problems(struct daemon *dm, const struct fw_ruleset *rs,
                         unsigned read)
{
	struct fw_steer_check chk = {0};
	json_t *arr = NULL, *h;
	size_t i;
	unsigned f;

	for (f = 0; f < 2; f++)
		if (read & (1u << f))
			fw_check_steering(&dm->cfg, daemon_fams[f], rs, &chk);
	dm->steer_hooks = (unsigned)chk.n;
	dm->steer_hooks_ok = 0;
	dm->steer_families = read;
	dm->steer_checked_ns = sp_now_mono();
	for (i = 0; i < chk.n; i++)
		dm->steer_hooks_ok += chk.v[i].ok;
	for (i = 0; i < chk.n; i++) {
		const struct fw_hook_check *hc = &chk.v[i];

		if (hc->ok)
			continue;
		if ((h = fw_hook_check_json(rs, hc)) == NULL)
			continue;
		if (arr == NULL)
			arr = json_array();
		json_array_append_new(arr, h);
	}
	fw_steer_check_free(&chk);
	return arr;
}

/*
 * Once a second: is spackle still first and whole in every hook? A change
 * is a tamper event and a log line (once per change); with
 * steering_repair the rules are put back at once.
 */
static void
daemon_check_steering(struct daemon *dm, const struct fw_ruleset *rs,
                      unsigned read)
{
	json_t *probs, *o, *key, *h, *r;
	char *text, err[512];
	size_t i, k;
	int rc;

	if (!dm->steered ||
	    steer_firewall(&dm->cfg) != CONFIG_FIREWALL_IPTABLES)
		return;
	if ((probs = daemon_steering_problems(dm, rs, read)) == NULL) {
		free(dm->tamper_seen);
		dm->tamper_seen = NULL;
		/* Every hook in place: counters alone while nothing moves. */
		dm->steer_gen_ok = dm->steer_gen_families == 3u;
		return;
	}
	/* What is wrong, without the counters that move every second. */
	key = json_deep_copy(probs);
	json_array_foreach(key, i, h)
	{
		json_array_foreach(json_object_get(h, "above"), k, r)
		{
			json_object_del(r, "packets");
			json_object_del(r, "bytes");
		}
	}
	text = json_dumps(key, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(key);
	if (text != NULL &&
	    (dm->tamper_seen == NULL || strcmp(text, dm->tamper_seen) != 0)) {
		dm->tampers++;
		log_warn("steering changed by someone else: %s", text);
		o = json_pack("{s:O,s:b}", "hooks", probs, "repair",
		              dm->cfg.steering_repair);
		daemon_event(dm, STORE_EV_TAMPER, o);
		json_decref(o);
		free(dm->tamper_seen);
		dm->tamper_seen = text;
		text = NULL;
	}
	free(text);
	json_decref(probs);
	if (!dm->cfg.steering_repair)
		return;
	if ((rc = steer_repair(&dm->cfg, err, sizeof(err))) < 0) {
		log_err("steering_repair: %s", err);
		return;
	}
	dm->repairs++;
	log_info("steering_repair: spackle's rules put back first in %d "
	         "hook%s",
	         rc, rc == 1 ? "" : "s");
	o = json_pack("{s:s,s:i}", "repaired", "steering", "hooks", rc);
	daemon_event(dm, STORE_EV_TAMPER, o);
	json_decref(o);
	/* Checked again next second: a repair that holds clears it. */
}

/*
 * The service manager's watchdog (WatchdogSec): pinged each second while
 * every worker ticked within DAEMON_STALL_S, so a worker stuck for good
 * has the service restarted (failure = open lets packets pass meanwhile).
 */
static void
daemon_watchdog(struct daemon *dm)
{
	uint64_t now = sp_now_mono();
	unsigned i;

	if (!dm->watchdog)
		return;
	for (i = 0; i < dm->nw; i++) {
		uint64_t beat = atomic_load(&dm->w[i].beat_ns);

		if (now - beat > DAEMON_STALL_S * NS_PER_S) {
			if (dm->stalled != i + 1)
				log_err("queue %u: its worker has not ticked "
				        "for %llu s; the watchdog is no "
				        "longer told all is well",
				        dm->w[i].queue,
				        (unsigned long long)((now - beat) /
				                             NS_PER_S));
			dm->stalled = i + 1;
			return;
		}
	}
	dm->stalled = 0;
	sd_notify(0, "WATCHDOG=1");
}

/* The steering checked once, as soon as it is installed: status's first
 * answer says whether every hook is in place. */
void
daemon_check_steering_now(struct daemon *dm)
{
	struct fw_ruleset rs = {0};
	bool whole;
	unsigned families = daemon_read_steering(dm, &rs, &whole);

	if (families && whole)
		daemon_check_steering(dm, &rs, families);
	fw_ruleset_free(&rs);
}

/* The process's anonymous memory (RssAnon), bytes; 0 unknown. */
uint64_t
daemon_anon_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned long long kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/*
 * Once a second: the daemon's memory against its cap. What the flows of
 * a flood took is freed when they end, but malloc keeps it in its arenas
 * (one per thread); past DAEMON_TRIM_FREE bytes kept free it is given
 * back to the system, at most every DAEMON_TRIM_GAP_NS.
 */
#define DAEMON_TRIM_FREE   (16ull << 20)
#define DAEMON_TRIM_GAP_NS (5 * NS_PER_S)

static void
daemon_memory_tick(struct daemon *dm)
{
	struct mallinfo2 mi = mallinfo2();
	uint64_t anon = daemon_anon_bytes(), now = sp_now_mono(), after;

	if (mi.fordblks > DAEMON_TRIM_FREE &&
	    now - dm->mem_trim_ns >= DAEMON_TRIM_GAP_NS) {
		malloc_trim(0);
		dm->mem_trim_ns = now;
		dm->mem_trims++;
		after = daemon_anon_bytes();
		if (after < anon)
			dm->mem_trimmed += anon - after;
		anon = after;
	}
	if (anon > dm->mem_anon_peak)
		dm->mem_anon_peak = anon;
}

void
daemon_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *dm = arg;
	struct daemon_drops now, *was = &dm->drops;
	struct fw_ruleset rs = {0};
	unsigned families;
	bool whole;
	json_t *o;

	(void)fd;
	(void)what;
	/* The rules' counters first: everything they counted is in the
	 * daemon's and the queues' counters read after them. */
	families = daemon_read_steering(dm, &rs, &whole);
	daemon_drops_now(dm, &now);
	if (families && dm->cfg.backend == CONFIG_BACKEND_NFQUEUE)
		daemon_count_unseen(dm, &rs, families, &now);
	if (now.enobufs > was->enobufs ||
	    now.queue_dropped > was->queue_dropped ||
	    now.user_dropped > was->user_dropped ||
	    now.store_lost > was->store_lost ||
	    now.unanswered > was->unanswered ||
	    now.passed_unseen > was->passed_unseen) {
		o = json_pack(
		        "{s:I,s:I,s:I,s:I,s:I,s:I}", "enobufs",
		        (json_int_t)(now.enobufs - was->enobufs),
		        "queue_dropped",
		        (json_int_t)(now.queue_dropped - was->queue_dropped),
		        "user_dropped",
		        (json_int_t)(now.user_dropped - was->user_dropped),
		        "store_lost",
		        (json_int_t)(now.store_lost - was->store_lost),
		        "unanswered",
		        (json_int_t)(now.unanswered - was->unanswered),
		        "passed_unseen",
		        (json_int_t)(now.passed_unseen - was->passed_unseen));
		if (o != NULL) {
			char *text = json_dumps(o, JSON_COMPACT |
			                                   JSON_PRESERVE_ORDER);

			log_warn("lost in the last second: %s",
			         text != NULL ? text : "?");
			free(text);
			daemon_event(dm, STORE_EV_DROPS, o);
			json_decref(o);
		}
	}
	*was = now;
	if (dm->ct != NULL && atomic_load(&dm->ct_events_lost))
		dm->ct_next_ns =
		        daemon_ct_next(dm->ct_last_ns, dm->ct_dump_ns, true);
	if (sp_now_mono() >= dm->ct_next_ns)
		daemon_ct_sync(dm, false);
	if (families && whole)
		daemon_check_steering(dm, &rs, families);
	fw_ruleset_free(&rs);
	daemon_memory_tick(dm);
	daemon_watchdog(dm);
}

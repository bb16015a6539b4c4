/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's set-up and tear-down: config in hand, it opens the store,
 * attribution and the control socket, drops privileges, binds every
 * queue, steers, starts the workers, and undoes it all in reverse. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "daemon/priv.h"
#include "daemon/run.h"
#include "daemon/web.h"
#include "spackle/steer.h"

/* ---- signals ---------------------------------------------------------- */

static void
daemon_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *dm = arg;
	json_t *r;

	(void)what;
	if (sig == SIGHUP) {
		char err[SP_PATH_MAX + 128];

		log_info("SIGHUP: reloading rules");
		r = daemon_reload(NULL, dm);
		json_decref(r);
		/* logrotate moved the decision log: a new file. */
		if (declog_reopen(dm->dlog, err, sizeof(err)) != 0)
			log_err("decision log: %s; still writing to the old "
			        "file",
			        err);
		return;
	}
	log_info("%s: removing steering and stopping",
	         sig == SIGTERM ? "SIGTERM" : "SIGINT");
	sd_notify(0, "STOPPING=1");
	dm->state = DAEMON_STOPPING;
	event_base_loopbreak(dm->base);
}

/*
 * The control socket's directory, made the user's when it is missing, so
 * the socket can be removed at the end once root is gone (the unit's
 * RuntimeDirectory, or /run/spackle itself). A directory that exists is
 * left as it is: if the user cannot write it, the socket stays after a
 * stop and the next start replaces it.
 */
static int
daemon_control_dir(struct daemon *dm)
{
	char dir[SP_PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", dm->cfg.control);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0) {
		if (errno == EEXIST)
			return 0;
		log_err("control socket directory %s: %s", dir,
		        strerror(errno));
		return -1;
	}
	if (chown(dir, dm->uid, dm->gid) != 0) {
		log_err("control socket directory %s: chown: %s", dir,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* Another process exited (the connector's thread): every worker reads
 * its queue, so that it knows the packets read after were sent after the
 * exit (docs/attribution.md, "When it was sent"). */
static void
daemon_exit_seen(void *arg)
{
	struct daemon *dm = arg;
	unsigned i;

	for (i = 0; i < dm->nw; i++)
		worker_kick(&dm->w[i]);
}

/*
 * The hand-over's writer thread owns the capture and the decision log:
 * workers hand it what to write and never wait on a file. None when
 * neither is on. 0, or -1 with the reason in err.
 */
static int
daemon_handoff_open(struct daemon *dm, char *err, size_t errlen)
{
	/* A whole packet of the DNS queue and its length. */
	struct handoff_config hc = {.max_record = 4 + CAPTURE_SNAPLEN};
	struct handoff_sink cap = {daemon_capture_sink, daemon_capture_flush,
	                           dm->cap};
	struct handoff_sink dlog = {daemon_declog_sink, NULL, dm->dlog};

	if (dm->cap == NULL && dm->dlog == NULL)
		return 0;
	if (handoff_new(&dm->ho, &hc, err, errlen) != 0)
		return -1;
	if ((dm->cap != NULL &&
	     handoff_sink_add(dm->ho, &cap, &dm->sink_cap) != 0) ||
	    (dm->dlog != NULL &&
	     handoff_sink_add(dm->ho, &dlog, &dm->sink_dlog) != 0)) {
		snprintf(err, errlen, "the hand-over: cannot add a sink");
		return -1;
	}
	return handoff_start(dm->ho, err, errlen);
}

/*
 * Flow mode: the most entries the kernel's conntrack table holds here,
 * which bounds what a dump brings (memplan.h); the kernel's usual default
 * when it cannot be read.
 */
static size_t
daemon_ct_max(void)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_max", "re");
	unsigned long long n = 0;

	if (f != NULL) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n > 0 && n < (1ull << 26) ? (size_t)n : 262144;
}

int
daemon_run(const char *conf_path, const struct config *cfg)
{
	struct daemon dm;
	struct event *sigs[3] = {NULL, NULL, NULL};
	static const int signums[3] = {SIGINT, SIGTERM, SIGHUP};
	const struct timeval one_s = {1, 0};
	char err[1024], *diag = NULL;
	int rc = 1;
	unsigned i;
	bool drop = false;

	memset(&dm, 0, sizeof(dm));
	dm.conf_path = conf_path;
	dm.cfg = *cfg;
	log_init("spackle", true, true);
	if (geteuid() != 0) {
		log_err("spackle run needs root (CAP_NET_ADMIN) to steer and "
		        "divert packets");
		goto out;
	}
	if (steer_validate(&dm.cfg, err, sizeof(err)) != 0) {
		log_err("%s: %s", dm.conf_path, err);
		goto out;
	}
	drop = strcmp(dm.cfg.user, CONFIG_USER_ROOT) != 0;
	if (drop &&
	    priv_lookup(dm.cfg.user, &dm.uid, &dm.gid, err, sizeof(err)) != 0) {
		log_err("%s: %s", dm.conf_path, err);
		goto out;
	}
	dm.rules = daemon_load_rules(&dm.cfg, &diag);
	if (diag != NULL)
		fputs(diag, stderr);
	if (dm.rules == NULL) {
		log_err("%s: the rules have errors; nothing was changed",
		        dm.cfg.rules);
		goto out;
	}
	dm.ops = divert_backend(config_backend_name(dm.cfg.backend));
	if (dm.ops == NULL || dm.ops->verdict == NULL) {
		log_err("%s: backend %s is not built in (built in: %s)",
		        dm.conf_path, config_backend_name(dm.cfg.backend),
		        divert_backend_names());
		goto out;
	}
	dm.start_mono = sp_now_mono();
	dm.start_wall = sp_now_wall();
	pthread_mutex_init(&dm.call_mu, NULL);
	pthread_cond_init(&dm.call_cv, NULL);
	pthread_mutex_init(&dm.names_mu, NULL);
	if ((dm.names = names_new(SP_NAMES_DEFAULT)) == NULL)
		goto out;
	/* Flow mode counts a flow's packets in conntrack: accounting on (in
	 * this namespace), before the first flow. */
	if (dm.cfg.divert == CONFIG_DIVERT_FLOW && ct_enable_acct() < 0)
		log_warn("flow mode: cannot turn on conntrack accounting "
		         "(net.netfilter.nf_conntrack_acct): the counters of "
		         "flows passed by the kernel will stay at what crossed "
		         "the divert");
	/* Flow mode: the main thread's handle for the dumps that bring the
	 * counters of flows the kernel passes. */
	if (dm.cfg.divert == CONFIG_DIVERT_FLOW &&
	    ct_open(&dm.ct, false, err, sizeof(err)) != 0) {
		log_err("flow mode: conntrack: %s", err);
		goto out;
	}
	{
		/* The store: one queue per worker and one for this thread. A
		 * store that cannot open is logged; the wall runs without. */
		struct store_config sc = {
		        .path = dm.cfg.db,
		        .max_size = dm.cfg.db_max_size,
		        .max_age_s = dm.cfg.db_max_age,
		        .flush_ms = dm.cfg.store_flush_ms,
		        .flush_records = dm.cfg.store_flush_records,
		        .queue_bytes = dm.cfg.store_queue,
		        .producers = dm.cfg.queues + 2,
		};

		/* `db = none`: no history is kept (benchmarks, tests). */
		if (strcmp(dm.cfg.db, CONFIG_DB_NONE) == 0)
			log_info("db = none: decisions are not stored");
		else if (store_open(&dm.store, &sc, err, sizeof(err)) != 0)
			log_err("store %s: %s; running without a store",
			        dm.cfg.db, err);
		dm.sp = store_producer(dm.store, dm.cfg.queues + 1);
		store_put_event(dm.sp, 0, STORE_EV_START, 0, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	if ((dm.base = event_base_new()) == NULL)
		goto out;
	{
		/* Attribution: the caches, the proc connector (it may need
		 * CAP_SYS_ADMIN to reach the initial namespace) and the eBPF
		 * program (CAP_BPF, CAP_NET_ADMIN) now, before the drop. */
		struct proc_config pc = {
		        .timeout_ms = dm.cfg.attrib_timeout_ms,
		        .events = true,
		        .initial_scan = true,
		        .infer_exited = true,
		        .deferred = true,
		        .method = dm.cfg.attribution == CONFIG_ATTRIB_BPF
		                          ? PROC_ATTRIB_BPF
		                  : dm.cfg.attribution == CONFIG_ATTRIB_PROC
		                          ? PROC_ATTRIB_PROC
		                          : PROC_ATTRIB_AUTO,
		};

		if (proc_new(&dm.proc, &pc, err, sizeof(err)) != 0) {
			log_err("%s", err);
			goto out;
		}
		log_info("attribution: %s", proc_method(dm.proc));
	}
	if (drop && daemon_control_dir(&dm) != 0)
		goto out;
	dm.ctl = control_listen(dm.base, dm.cfg.control, daemon_commands,
	                        daemon_ncommands, &dm, err, sizeof(err));
	if (dm.ctl == NULL) {
		log_err("control socket: %s", err);
		goto out;
	}
	if (dm.cfg.metrics[0] != '\0') {
		dm.metrics = metrics_listen(dm.base, dm.cfg.metrics,
		                            daemon_metrics_status, &dm, err,
		                            sizeof(err));
		if (dm.metrics == NULL) {
			log_err("metrics: %s", err);
			goto out;
		}
	}
	/* The web monitor: its token file (root's, the group spackle's)
	 * and its socket, while root may write /run and bind any port. */
	if (dm.cfg.web[0] != '\0') {
		if ((dm.web = web_listen(&dm, err, sizeof(err))) == NULL) {
			log_err("web: %s", err);
			goto out;
		}
	}
	/* Bind every queue (open the tunnel's) before the kernel steers
	 * into them, and while root may still be needed for it: the
	 * balanced ones, then the DNS queue. */
	dm.nw = dm.cfg.queues + 1;
	if (memplan_make(dm.cfg.memory_max, dm.nw, dm.cfg.store_queue,
	                 dm.ct != NULL ? daemon_ct_max() : 0, &dm.mem, err,
	                 sizeof(err)) != 0) {
		log_err("%s: %s", dm.conf_path, err);
		goto out;
	}
	if (dm.mem.flows < SP_FLOWS_DEFAULT)
		log_info("memory_max = %lluM: %u flows per worker",
		         (unsigned long long)(dm.cfg.memory_max >> 20),
		         dm.mem.flows);
	if ((dm.w = calloc(dm.nw, sizeof(*dm.w))) == NULL)
		goto out;
	for (i = 0; i < dm.nw; i++) {
		dm.w[i].dm = &dm;
		dm.w[i].idx = i;
		dm.w[i].queue = dm.cfg.queue_base + i;
		dm.w[i].call_pipe[0] = dm.w[i].call_pipe[1] = -1;
		dm.w[i].kick_fd = -1;
		if (worker_open_divert(&dm, &dm.w[i]) != 0)
			goto out;
	}
	/*
	 * What needs root is done: the rest runs as `user`, with the data
	 * path's capabilities only. The threads started so far (the store's
	 * writer) keep no capability; those started from here inherit this
	 * thread's.
	 */
	if (drop) {
		if (priv_drop(dm.uid, dm.gid, err, sizeof(err)) != 0) {
			log_err("%s", err);
			goto out;
		}
		log_info("running as %s (uid %u): capabilities net_admin, "
		         "net_raw, sys_ptrace, dac_read_search, sys_nice",
		         dm.cfg.user, (unsigned)dm.uid);
	} else {
		log_warn("user = root: the daemon keeps every privilege");
	}
	/* Files written from here on are the user's. */
	if (declog_open(&dm.dlog, dm.cfg.log, dm.cfg.log_path, err,
	                sizeof(err)) != 0) {
		log_err("log: %s", err);
		goto out;
	}
	if (dm.cfg.capture_denied[0] != '\0') {
		dm.cap = capture_open(dm.cfg.capture_denied,
		                      dm.cfg.capture_max_size,
		                      dm.cfg.capture_keep, err, sizeof(err));
		if (dm.cap == NULL)
			log_err("capture_denied: %s; not capturing", err);
	}
	if (daemon_handoff_open(&dm, err, sizeof(err)) != 0) {
		log_err("%s", err);
		goto out;
	}
	/* Attribution: its threads and first scan, as the user. */
	proc_start(dm.proc, err, sizeof(err));
	if (err[0] != '\0')
		log_warn("%s", err);
	/* The workers' store and hand-over producers, and the rest. */
	for (i = 0; i < dm.nw; i++) {
		dm.w[i].sp = store_producer(dm.store, i);
		if (dm.ho != NULL &&
		    (dm.w[i].hp = handoff_producer_new(dm.ho)) == NULL) {
			log_err("queue %u: the hand-over: %s", dm.w[i].queue,
			        strerror(errno));
			goto out;
		}
		if (worker_open(&dm, &dm.w[i]) != 0)
			goto out;
	}
	/* `firewall = auto` is decided here, once: each steer_firewall()
	 * of auto runs `nft -c`, and the steering check runs every second,
	 * status at every call; and the rules go with the firewall that
	 * took them even if a later probe would say otherwise. */
	dm.fw_auto = dm.cfg.firewall == CONFIG_FIREWALL_AUTO;
	dm.cfg.firewall = steer_firewall(&dm.cfg);
	if (dm.cfg.firewall == CONFIG_FIREWALL_NFT) {
		dm.fw_name = "nft";
	} else {
		enum steer_ipt_variant v = steer_iptables_variant();

		dm.fw_name = steer_ipt_variant_name(v);
		dm.steer_nft = v == STEER_IPT_NFT;
	}
	if (steer_apply(&dm.cfg, err, sizeof(err)) != 0) {
		log_err("steering: %s", err);
		goto out;
	}
	dm.steered = true;
	daemon_check_steering_now(&dm);
	if (dm.cfg.divert == CONFIG_DIVERT_FLOW)
		for (i = 0; i < dm.nw; i++)
			worker_ct_split(&dm.w[i]);
	for (i = 0; i < dm.nw; i++) {
		if (pthread_create(&dm.w[i].th, NULL, worker_main, &dm.w[i]) !=
		    0) {
			log_err("cannot start worker %u", i);
			goto out;
		}
		dm.w[i].started = true;
	}
	proc_on_exit(dm.proc, daemon_exit_seen, &dm);
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(dm.base, signums[i], daemon_signal, &dm);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0)
			goto out;
	}
	daemon_drops_now(&dm, &dm.drops);
	dm.ev_tick = event_new(dm.base, -1, EV_PERSIST, daemon_tick, &dm);
	if (dm.ev_tick == NULL || event_add(dm.ev_tick, &one_s) != 0)
		goto out;
	log_info("running: %s mode, backend %s, %u queue%s from %u and DNS "
	         "queue %u, default %s, failure %s, %zu rules from %s, "
	         "control %s",
	         dm.cfg.mode == CONFIG_MODE_MONITOR ? "monitor" : "enforce",
	         dm.ops->name, dm.cfg.queues, dm.cfg.queues == 1 ? "" : "s",
	         dm.cfg.queue_base, STEER_DNS_QUEUE(&dm.cfg),
	         sp_verdict_name(dm.cfg.dflt),
	         dm.cfg.failure == CONFIG_FAILURE_OPEN ? "open" : "closed",
	         rules_count(dm.rules), dm.cfg.rules, dm.cfg.control);
	/* Ready (Type=notify): the steering is in place and every queue is
	 * served, so what the unit orders after spackle is filtered. The
	 * control socket, bound earlier, answers from here on: a request
	 * sent while starting waits for this. */
	dm.state = DAEMON_RUNNING;
	{
		uint64_t usec;

		dm.watchdog = sd_watchdog_enabled(0, &usec) > 0;
		sd_notifyf(0,
		           "READY=1\nMAINPID=%lu\nSTATUS=%s mode, %s divert, "
		           "%zu rules",
		           (unsigned long)getpid(),
		           dm.cfg.mode == CONFIG_MODE_MONITOR ? "monitor"
		                                              : "enforce",
		           dm.cfg.divert == CONFIG_DIVERT_FLOW ? "flow"
		                                               : "packet",
		           rules_count(dm.rules));
	}
	event_base_dispatch(dm.base);
	rc = 0;
out:
	/* Steering goes first, so nothing waits on a queue that is closing. */
	if (dm.steered) {
		int r = steer_remove(&dm.cfg, err, sizeof(err));

		if (r < 0) {
			log_err("removing steering: %s", err);
			rc = 1;
		} else if (r > 0) {
			log_warn("steering had been changed by someone else; "
			         "removed what was left of it");
		}
	}
	/* No worker is kicked from here on: they are closing. */
	proc_on_exit(dm.proc, NULL, NULL);
	for (i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (dm.ev_tick != NULL)
		event_free(dm.ev_tick);
	free(dm.tamper_seen);
	if (dm.w != NULL)
		for (i = 0; i < dm.nw; i++)
			worker_close(&dm, &dm.w[i]);
	free(dm.w);
	/* The workers are gone: nothing puts any more. */
	store_put_event(dm.sp, 0, STORE_EV_STOP, 0, NULL);
	store_close(dm.store);
	/* What the workers handed over is written before the files close. */
	handoff_stop(dm.ho);
	capture_close(dm.cap);
	declog_close(dm.dlog);
	handoff_free(dm.ho);
	ct_close(dm.ct);
	metrics_close(dm.metrics);
	web_close(dm.web);
	json_decref(dm.last_audit);
	control_close(dm.ctl);
	if (dm.base != NULL)
		event_base_free(dm.base);
	rules_free(dm.rules);
	names_free(dm.names);
	proc_free(dm.proc);
	free(diag);
	if (rc == 0)
		log_info("stopped; steering removed");
	log_close();
	return rc;
}

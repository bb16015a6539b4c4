/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `spackle audit`: does the wall hold? The kernel's counters for the
 * steering rules against the daemon's own, spackle's rules first and whole
 * in every hook, and with --watch, the flows a tap sees on the wire against
 * the flows that crossed the divert. docs/audit.md says what each line
 * means.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "divert/divert.h"
#include "cmd/cmd.h"
#include "spackle/config.h"
#include "spackle/control.h"
#include "spackle/fwread.h"
#include "spackle/packet.h"
#include "spackle/proc.h"
#include "spackle/spackle.h"
#include "spackle/steer.h"
#include "spackle/store.h"

#define AUDIT_WATCH_MAX 3600u  /* --watch at most, seconds */
#define AUDIT_TAPS_MAX  64     /* interfaces tapped at most */
#define AUDIT_FLOWS_MAX 65536u /* wire flows kept at most */
#define AUDIT_GRACE_MS  300    /* after the tap, before reading the divert */
#define AUDIT_PSOCK_MAX 256    /* packet sockets listed at most */

/* ---- the wire: flows a tap saw ------------------------------------------ */

/* One flow seen on the wire, oriented local -> remote where one end is
 * local (else first sender -> receiver, and fwd set). */
struct wflow {
	uint8_t proto;
	bool fwd;
	struct sp_addr local, remote;
	uint16_t lport, rport;
	int ifindex;
	uint64_t pkts[2], bytes[2]; /* [0] sent by local, [1] received */
	/* Filled when it is judged. */
	uint64_t dpkts[2]; /* what crossed the divert, each way */
	bool found;        /* the divert knew the flow */
};

struct wire {
	struct wflow *v;
	size_t n, cap;
	uint64_t dropped; /* flows past AUDIT_FLOWS_MAX */
	uint64_t packets, not_ip;
	uint64_t not_ours;     /* to a group this host has not joined */
	struct sp_addr *local; /* this host's addresses */
	size_t nlocal;
	int ifindex; /* of the tap being read */
};

static bool
is_local(const struct wire *w, const struct sp_addr *a)
{
	size_t i;

	for (i = 0; i < w->nlocal; i++)
		if (memcmp(&w->local[i], a, sizeof(*a)) == 0)
			return true;
	return false;
}

/* Multicast, or the IPv4 limited broadcast. */
static bool
addr_is_group(const struct sp_addr *a)
{
	if (a->family == AF_INET)
		return (a->b[12] & 0xf0) == 0xe0 ||
		       (a->b[12] == 255 && a->b[13] == 255 && a->b[14] == 255 &&
		        a->b[15] == 255);
	return a->b[0] == 0xff;
}

static struct wflow *
wire_find(struct wire *w, uint8_t proto, const struct sp_addr *l, uint16_t lp,
          const struct sp_addr *r, uint16_t rp)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		struct wflow *f = &w->v[i];

		if (f->proto == proto && f->lport == lp && f->rport == rp &&
		    memcmp(&f->local, l, sizeof(*l)) == 0 &&
		    memcmp(&f->remote, r, sizeof(*r)) == 0)
			return f;
	}
	return NULL;
}

static void
wire_packet(const struct divert_packet *dp, void *arg)
{
	struct wire *w = arg;
	struct packet pkt;
	struct wflow *f;
	const struct sp_addr *l, *r;
	uint16_t lp, rp;
	int dir;
	bool fwd = false;

	w->packets++;
	if (packet_parse_frame(dp->link, dp->data, dp->caplen, &pkt) !=
	    PACKET_OK) {
		w->not_ip++;
		return;
	}
	if (is_local(w, &pkt.src) &&
	    !(is_local(w, &pkt.dst) &&
	      wire_find(w, pkt.proto, &pkt.dst, pkt.dport, &pkt.src,
	                pkt.sport) != NULL)) {
		/* Sent by this host (both ends local: the first sender is
		 * the flow's local end). */
		l = &pkt.src, lp = pkt.sport, r = &pkt.dst, rp = pkt.dport;
		dir = 0;
	} else if (is_local(w, &pkt.dst)) {
		l = &pkt.dst, lp = pkt.dport, r = &pkt.src, rp = pkt.sport;
		dir = 1;
	} else if (addr_is_group(&pkt.dst)) {
		/* Multicast or broadcast of a group this host has not joined:
		 * the stack drops it before any hook. */
		w->not_ours++;
		return;
	} else {
		/* Neither end is this host: forwarded (or not for us). */
		fwd = true;
		f = wire_find(w, pkt.proto, &pkt.dst, pkt.dport, &pkt.src,
		              pkt.sport);
		if (f != NULL) {
			f->pkts[1]++;
			f->bytes[1] += dp->wirelen;
			return;
		}
		l = &pkt.src, lp = pkt.sport, r = &pkt.dst, rp = pkt.dport;
		dir = 0;
	}
	if ((f = wire_find(w, pkt.proto, l, lp, r, rp)) == NULL) {
		if (w->n == AUDIT_FLOWS_MAX) {
			w->dropped++;
			return;
		}
		if (w->n == w->cap) {
			size_t cap = w->cap ? 2 * w->cap : 256;
			struct wflow *v = realloc(w->v, cap * sizeof(*v));

			if (v == NULL) {
				w->dropped++;
				return;
			}
			w->v = v;
			w->cap = cap;
		}
		f = &w->v[w->n++];
		memset(f, 0, sizeof(*f));
		f->proto = pkt.proto;
		f->local = *l;
		f->remote = *r;
		f->lport = lp;
		f->rport = rp;
		f->fwd = fwd;
		f->ifindex = w->ifindex;
	}
	f->pkts[dir]++;
	f->bytes[dir] += dp->wirelen;
}

/* What the tap read: a burst, each packet as above. */
static void
wire_burst(const struct divert_packet *dp, size_t n, void *arg)
{
	size_t i;

	for (i = 0; i < n; i++)
		wire_packet(&dp[i], arg);
}

static void
local_add(struct wire *w, const struct sp_addr *a)
{
	struct sp_addr *v = realloc(w->local, (w->nlocal + 1) * sizeof(*v));

	if (v == NULL)
		return;
	w->local = v;
	w->local[w->nlocal++] = *a;
}

/*
 * The multicast groups this host has joined (/proc/net/igmp, igmp6): their
 * packets reach the input hook like unicast to one of its addresses.
 */
static void
local_groups(struct wire *w)
{
	char line[256], hex[33];
	uint8_t b[16];
	unsigned v, k;
	struct sp_addr a;
	FILE *f;

	if ((f = fopen("/proc/net/igmp", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			/* Group lines start with a tab: "\t\t\t\t010000E0 ..."
			 */
			if (line[0] != '\t' || sscanf(line, " %8x", &v) != 1)
				continue;
			/* The __be32 printed as a host-order number. */
			b[0] = (uint8_t)v;
			b[1] = (uint8_t)(v >> 8);
			b[2] = (uint8_t)(v >> 16);
			b[3] = (uint8_t)(v >> 24);
			sp_addr_from_v4(&a, b);
			local_add(w, &a);
		}
		fclose(f);
	}
	if ((f = fopen("/proc/net/igmp6", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "%*u %*s %32s", hex) != 1 ||
			    strlen(hex) != 32)
				continue;
			for (k = 0; k < 16; k++) {
				sscanf(hex + 2 * k, "%2x", &v);
				b[k] = (uint8_t)v;
			}
			sp_addr_from_v6(&a, b);
			local_add(w, &a);
		}
		fclose(f);
	}
}

/* This host's addresses (every interface's, with the IPv4 broadcasts and
 * the groups it joined), for telling local ends. */
static int
local_addrs(struct wire *w)
{
	static const uint8_t all[4] = {255, 255, 255, 255};
	struct ifaddrs *ifa, *i;
	struct sp_addr a;

	if (getifaddrs(&ifa) != 0)
		return -errno;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			sp_addr_from_v4(&a,
			                (const uint8_t *)&(
			                        (struct sockaddr_in *)(void *)
			                                i->ifa_addr)
			                        ->sin_addr);
		else if (i->ifa_addr->sa_family == AF_INET6)
			sp_addr_from_v6(&a,
			                (const uint8_t *)&(
			                        (struct sockaddr_in6 *)(void *)
			                                i->ifa_addr)
			                        ->sin6_addr);
		else
			continue;
		local_add(w, &a);
		if (i->ifa_addr->sa_family == AF_INET &&
		    (i->ifa_flags & IFF_BROADCAST) &&
		    i->ifa_broadaddr != NULL) {
			sp_addr_from_v4(&a,
			                (const uint8_t *)&(
			                        (struct sockaddr_in *)(void *)
			                                i->ifa_broadaddr)
			                        ->sin_addr);
			local_add(w, &a);
		}
	}
	freeifaddrs(ifa);
	sp_addr_from_v4(&a, all);
	local_add(w, &a);
	local_groups(w);
	return 0;
}

struct tap {
	struct divert *d;
	int fd;
	int ifindex;
	char name[IF_NAMESIZE];
};

/*
 * Tap every interface of this namespace for secs seconds (libpcap, one
 * handle each, headers only). Notes on taps that could not open go to
 * notes.
 */
static int
wire_watch(struct wire *w, unsigned secs, json_t *notes)
{
	struct if_nameindex *ifs, *i;
	struct tap taps[AUDIT_TAPS_MAX];
	struct pollfd pfd[AUDIT_TAPS_MAX];
	char spec[IF_NAMESIZE + 16], err[512];
	size_t n = 0, k;
	uint64_t end;
	int ms;

	if ((ifs = if_nameindex()) == NULL)
		return -errno;
	for (i = ifs; i->if_index != 0 && n < AUDIT_TAPS_MAX; i++) {
		snprintf(spec, sizeof(spec), "live:%s,headers", i->if_name);
		if (divert_pcap_ops.open(&taps[n].d, spec, err, sizeof(err)) !=
		    0) {
			json_array_append_new(notes, json_string(err));
			continue;
		}
		taps[n].fd = divert_pcap_ops.fd(taps[n].d);
		taps[n].ifindex = (int)i->if_index;
		snprintf(taps[n].name, sizeof(taps[n].name), "%s", i->if_name);
		pfd[n].fd = taps[n].fd;
		pfd[n].events = POLLIN;
		n++;
	}
	if_freenameindex(ifs);
	end = sp_now_mono() + (uint64_t)secs * 1000000000ull;
	while (sp_now_mono() < end) {
		ms = (int)((end - sp_now_mono()) / 1000000ull) + 1;
		if (poll(pfd, n, ms > 100 ? 100 : ms) < 0 && errno != EINTR)
			break;
		for (k = 0; k < n; k++) {
			w->ifindex = taps[k].ifindex;
			while (divert_pcap_ops.dispatch(taps[k].d, 64,
			                                wire_burst, w) > 0)
				;
		}
	}
	for (k = 0; k < n; k++)
		divert_pcap_ops.close(taps[k].d);
	return (int)n;
}

/* ---- the divert: flows spackle saw -------------------------------------- */

/* Flows that crossed the divert: the daemon's live ones and the store's
 * that were seen since `since` (wall ns). */
struct dflow {
	uint8_t proto;
	struct sp_addr local, remote;
	uint16_t lport, rport;
	uint64_t pkts[2];
};

struct divert_seen {
	struct dflow *v;
	size_t n, cap;
	uint64_t since_ns;
};

static void
seen_add(struct divert_seen *s, uint8_t proto, const struct sp_addr *l,
         uint16_t lp, const struct sp_addr *r, uint16_t rp, uint64_t out,
         uint64_t in)
{
	struct dflow *d;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct dflow *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return;
		s->v = v;
		s->cap = cap;
	}
	d = &s->v[s->n++];
	d->proto = proto;
	d->local = *l;
	d->remote = *r;
	d->lport = lp;
	d->rport = rp;
	d->pkts[0] = out;
	d->pkts[1] = in;
}

static uint8_t
proto_number(const char *name)
{
	static const struct {
		const char *n;
		uint8_t v;
	} t[] = {{"tcp", SP_PROTO_TCP},
	         {"udp", SP_PROTO_UDP},
	         {"icmp", SP_PROTO_ICMP},
	         {"icmp6", SP_PROTO_ICMP6}};
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(name, t[i].n) == 0)
			return t[i].v;
	return (uint8_t)strtoul(name, NULL, 10);
}

static void
seen_from_conns(struct divert_seen *s, const json_t *arr)
{
	struct sp_addr l, r;
	const json_t *o;
	size_t i;

	json_array_foreach(arr, i, o)
	{
		const char *src = json_string_value(json_object_get(o, "src"));
		const char *dst = json_string_value(json_object_get(o, "dst"));

		if (src == NULL || dst == NULL || !sp_addr_parse(&l, src) ||
		    !sp_addr_parse(&r, dst))
			continue;
		seen_add(s,
		         proto_number(json_string_value(
		                 json_object_get(o, "proto"))),
		         &l,
		         (uint16_t)json_integer_value(
		                 json_object_get(o, "sport")),
		         &r,
		         (uint16_t)json_integer_value(
		                 json_object_get(o, "dport")),
		         (uint64_t)json_integer_value(
		                 json_object_get(o, "packets_out")),
		         (uint64_t)json_integer_value(
		                 json_object_get(o, "packets_in")));
	}
}

static int
seen_store_one(const struct store_flow *r, void *arg)
{
	struct divert_seen *s = arg;

	if (r->last_ns >= s->since_ns)
		seen_add(s, r->proto, &r->local, r->local_port, &r->remote,
		         r->remote_port, r->packets_out, r->packets_in);
	return 0;
}

/* The divert's packets of wire flow f, each way, summed over its
 * records; false when the divert never saw it. */
static bool
seen_lookup(const struct divert_seen *s, const struct wflow *f,
            uint64_t pkts[2])
{
	bool any = false;
	size_t i;

	pkts[0] = pkts[1] = 0;
	for (i = 0; i < s->n; i++) {
		const struct dflow *d = &s->v[i];

		if (d->proto != f->proto || d->lport != f->lport ||
		    d->rport != f->rport ||
		    memcmp(&d->local, &f->local, sizeof(d->local)) != 0 ||
		    memcmp(&d->remote, &f->remote, sizeof(d->remote)) != 0)
			continue;
		pkts[0] += d->pkts[0];
		pkts[1] += d->pkts[1];
		any = true;
	}
	return any;
}

/* ---- packet sockets ----------------------------------------------------- */

struct psock {
	uint64_t inode;
	int ifindex; /* 0: every interface */
	int32_t pid; /* -1 unknown */
	uint32_t uid;
	char exe[SP_PATH_MAX];
};

/* /proc/net/packet: sk RefCnt Type Proto Iface R Rmem User Inode */
static size_t
psocks_read(struct psock *v, size_t max)
{
	char line[512];
	unsigned long long ino;
	unsigned iface, user;
	size_t n = 0;
	FILE *f;

	if ((f = fopen("/proc/net/packet", "re")) == NULL)
		return 0;
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %*s %*s %*s %u %*s %*s %u %llu", &iface,
		           &user, &ino) != 3)
			continue;
		v[n].inode = ino;
		v[n].ifindex = (int)iface;
		v[n].uid = user;
		v[n].pid = -1;
		v[n].exe[0] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

/* Who holds each packet socket: one walk of every process's fds. */
static void
psocks_owners(struct psock *v, size_t n)
{
	char path[64], link[64];
	struct dirent *de, *fe;
	DIR *d, *fd;
	unsigned long long ino;
	size_t i, left = n;
	int32_t pid, self = (int32_t)getpid();
	ssize_t len;

	if (n == 0 || (d = opendir("/proc")) == NULL)
		return;
	while (left > 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		pid = (int32_t)strtol(de->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		if ((fd = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(fd)) != NULL) {
			snprintf(path, sizeof(path), "/proc/%d/fd/%.16s",
			         (int)pid, fe->d_name);
			len = readlink(path, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) != 1)
				continue;
			for (i = 0; i < n; i++) {
				if (v[i].inode != ino || v[i].pid >= 0)
					continue;
				/* Our own taps are not the hole. */
				v[i].pid = pid == self ? 0 : pid;
				if (pid != self) {
					snprintf(path, sizeof(path),
					         "/proc/%d/exe", (int)pid);
					len = readlink(path, v[i].exe,
					               sizeof(v[i].exe) - 1);
					v[i].exe[len > 0 ? len : 0] = '\0';
				}
				left--;
			}
		}
		closedir(fd);
	}
	closedir(d);
}

/* ---- the report --------------------------------------------------------- */

struct audit {
	struct config cfg;
	bool json;
	unsigned watch;
	bool holes;
	json_t *counters, *steering, *hidden, *exempt, *notes;
	/* Read by the steering part, used by the hidden part. */
	struct fw_ruleset rs;
	struct fw_steer_check chk;
	bool have_rules;
	json_t *status; /* the daemon's status reply, NULL when none */
};

/* Sum the packets of spackle's rules with this comment. */
static uint64_t
rules_sum(const struct fw_ruleset *rs, const char *comment)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < rs->n; i++) {
		const struct fw_rule *r = &rs->v[i];

		if (r->comment != NULL && strcmp(r->comment, comment) == 0 &&
		    strncmp(r->chain, STEER_CHAIN_PREFIX,
		            strlen(STEER_CHAIN_PREFIX)) == 0)
			sum += r->packets;
	}
	return sum;
}

/* Read both families' filter tables into a->rs; false when none. */
static bool
audit_read_rules(struct audit *a)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	char err[1024], *buf;
	size_t len;
	unsigned k;
	bool any = false;

	fw_ruleset_free(&a->rs);
	for (k = 0; k < 2; k++) {
		if (steer_save(fams[k], &buf, &len, err, sizeof(err)) != 0) {
			if (k == 0)
				json_array_append_new(a->notes,
				                      json_string(err));
			continue;
		}
		if (fw_parse_save(buf, len, fams[k], "filter", &a->rs, err,
		                  sizeof(err)) != 0)
			json_array_append_new(a->notes, json_string(err));
		else
			any = true;
		free(buf);
	}
	return any;
}

/*
 * Counters: what the kernel sent to spackle's queues against what the
 * daemon received, the queues dropped and bypass let through unseen.
 * Read in the order kernel rules, queues, daemon, kernel rules again:
 * the daemon's figures include everything the first read counted, and
 * the second read bounds what arrived while reading.
 */
static void
audit_counters(struct audit *a)
{
	const struct divert_ops *ops =
	        divert_backend(config_backend_name(a->cfg.backend));
	struct divert_kernel_stats ks;
	char err[1024], spec[16];
	uint64_t sent1, sent2, waiting = 0, qdrop = 0, udrop = 0, seq = 0;
	uint64_t received = 0, enobufs = 0, unseen, slack;
	int64_t rest;
	unsigned q, nq = 0, i;
	json_t *c = a->counters, *ex, *ctr;
	bool daemon = false, adds_up;

	a->have_rules = audit_read_rules(a);
	sent1 = rules_sum(&a->rs, STEER_COMMENT_QUEUE) +
	        rules_sum(&a->rs, STEER_COMMENT_DNS);
	for (q = a->cfg.queue_base; q <= STEER_DNS_QUEUE(&a->cfg); q++) {
		snprintf(spec, sizeof(spec), "%u", q);
		if (ops == NULL || ops->kernel_stats == NULL ||
		    ops->kernel_stats(spec, &ks) != 0)
			continue;
		nq++;
		waiting += ks.waiting;
		qdrop += ks.dropped_full;
		udrop += ks.dropped_user;
		seq += ks.diverted;
	}
	a->status = control_call(a->cfg.control, "status", err, sizeof(err));
	if (a->status != NULL &&
	    (ctr = json_object_get(a->status, "counters")) != NULL) {
		daemon = true;
		received = (uint64_t)json_integer_value(
		        json_object_get(ctr, "received"));
		enobufs = (uint64_t)json_integer_value(
		        json_object_get(ctr, "enobufs"));
	} else {
		json_decref(a->status);
		a->status = NULL;
		json_array_append_new(
		        a->notes,
		        json_sprintf("daemon: %s; every packet the kernel sent "
		                     "to the queues since is counted as passed "
		                     "unseen (failure = open) or dropped "
		                     "(failure = closed)",
		                     err));
	}
	audit_read_rules(a);
	sent2 = rules_sum(&a->rs, STEER_COMMENT_QUEUE) +
	        rules_sum(&a->rs, STEER_COMMENT_DNS);
	slack = sent2 > sent1 ? sent2 - sent1 : 0;

	rest = (int64_t)sent1 - (int64_t)(received + waiting + qdrop + udrop);
	unseen = rest > 0 ? (uint64_t)rest : 0;
	/* More received than sent, beyond what arrived while reading: the
	 * rules' counters were reset (re-installed, repaired) after start. */
	adds_up = rest == 0 || (rest < 0 && (uint64_t)-rest <= slack + 16);
	if (!a->have_rules)
		adds_up = false;
	json_object_set_new(c, "sent_to_queues",
	                    json_integer((json_int_t)sent1));
	json_object_set_new(c, "received", json_integer((json_int_t)received));
	json_object_set_new(c, "waiting", json_integer((json_int_t)waiting));
	json_object_set_new(c, "queue_dropped",
	                    json_integer((json_int_t)qdrop));
	json_object_set_new(c, "socket_dropped",
	                    json_integer((json_int_t)udrop));
	json_object_set_new(c, "passed_unseen",
	                    json_integer((json_int_t)unseen));
	json_object_set_new(c, "difference", json_integer((json_int_t)rest));
	json_object_set_new(c, "arrived_while_reading",
	                    json_integer((json_int_t)slack));
	json_object_set_new(c, "enobufs", json_integer((json_int_t)enobufs));
	/* Flow mode: the later packets of decided flows, which the kernel
	 * accepted, dropped or rejected by their conntrack mark. */
	json_object_set_new(
	        c, "fast_path",
	        json_integer((
	                json_int_t)(rules_sum(&a->rs,
	                                      STEER_COMMENT_FLOW_ACCEPT) +
	                            rules_sum(&a->rs, STEER_COMMENT_FLOW_DENY) +
	                            rules_sum(&a->rs,
	                                      STEER_COMMENT_FLOW_REJECT) +
	                            rules_sum(&a->rs,
	                                      STEER_COMMENT_FLOW_RESET))));
	json_object_set_new(c, "queued_since_bound",
	                    json_integer((json_int_t)seq));
	json_object_set_new(c, "queues_bound", json_integer((json_int_t)nq));
	json_object_set_new(c, "daemon", json_boolean(daemon));
	json_object_set_new(c, "adds_up", json_boolean(adds_up && daemon));
	json_object_set_new(c, "drops",
	                    json_boolean(qdrop + udrop + enobufs + unseen > 0));
	/* Each declared exemption with its own counter. */
	ex = json_object();
	for (i = 0; i < a->cfg.nexempt; i++) {
		char comment[CONFIG_IFNAME_MAX + 32];

		snprintf(comment, sizeof(comment), "%s%s", STEER_COMMENT_EXEMPT,
		         a->cfg.exempt[i]);
		json_object_set_new(
		        ex, a->cfg.exempt[i],
		        json_integer((json_int_t)rules_sum(&a->rs, comment)));
	}
	json_object_set_new(c, "exempt", ex);
	if (!adds_up || !daemon || qdrop + udrop + enobufs + unseen > 0)
		a->holes = true;
}

/* Steering: spackle's rules present, whole and first in every hook. */
static void
audit_steering(struct audit *a)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	char desc[512];
	size_t i, k, f;
	json_t *hooks = json_array(), *h, *above, *o, *list;

	if (steer_firewall(&a->cfg) == CONFIG_FIREWALL_NFT) {
		json_array_append_new(
		        a->notes, json_string("steering: the nft firewall's "
		                              "integrity is not checked yet"));
		json_object_set_new(a->steering, "hooks", hooks);
		json_object_set_new(a->steering, "ok", json_null());
		return;
	}
	fw_steer_check_free(&a->chk);
	for (f = 0; f < 2; f++)
		if (fw_check_steering(&a->cfg, fams[f], &a->rs, &a->chk) != 0)
			json_array_append_new(
			        a->notes,
			        json_string("steering: cannot check"));
	for (i = 0; i < a->chk.n; i++) {
		const struct fw_hook_check *hc = &a->chk.v[i];

		above = json_array();
		for (k = 0; k < hc->nabove; k++) {
			const struct fw_rule *r = &a->rs.v[hc->above[k]];

			fw_rule_describe(r, desc, sizeof(desc));
			o = json_pack("{s:s,s:I,s:s,s:I,s:I}", "rule", r->spec,
			              "position", (json_int_t)r->pos, "matches",
			              desc, "packets", (json_int_t)r->packets,
			              "bytes", (json_int_t)r->bytes);
			json_array_append_new(above, o);
		}
		h = json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:b,s:o,s:b}", "family",
		              hc->family == AF_INET6 ? "ipv6" : "ipv4", "hook",
		              hc->hook, "chain", hc->chain, "ok", hc->ok,
		              "jumps", (json_int_t)hc->jumps, "position",
		              (json_int_t)hc->jump_pos, "chain_present",
		              hc->chain_present, "above", above, "first",
		              hc->jump_pos == 1);
		list = json_array();
		for (k = 0; k < hc->nmissing; k++)
			json_array_append_new(list,
			                      json_string(hc->missing[k]));
		json_object_set_new(h, "missing", list);
		list = json_array();
		for (k = 0; k < hc->nextra; k++)
			json_array_append_new(list, json_string(hc->extra[k]));
		json_object_set_new(h, "extra", list);
		json_array_append_new(hooks, h);
	}
	json_object_set_new(a->steering, "hooks", hooks);
	json_object_set_new(a->steering, "ok", json_boolean(a->chk.ok));
	if (!a->chk.ok)
		a->holes = true;
}

/* The first rule above spackle's in hook that matches p as surely as
 * `want` (FW_YES, or FW_MAYBE for YES or MAYBE), or NULL. */
static const struct fw_rule *
rule_above(const struct audit *a, const char *hook, const struct fw_pkt *p,
           enum fw_match want)
{
	size_t i, k;

	for (i = 0; i < a->chk.n; i++) {
		const struct fw_hook_check *hc = &a->chk.v[i];

		if (hc->family != p->family || strcmp(hc->hook, hook) != 0)
			continue;
		for (k = 0; k < hc->nabove; k++) {
			const struct fw_rule *r = &a->rs.v[hc->above[k]];

			if (r->kind == FW_K_OTHER || r->kind == FW_K_NONE)
				continue;
			enum fw_match m = fw_rule_match(r, p);

			if (m == FW_YES || (m == FW_MAYBE && want == FW_MAYBE))
				return r;
		}
	}
	return NULL;
}

static bool
hook_jumped(const struct audit *a, const char *hook, int family)
{
	size_t i;

	for (i = 0; i < a->chk.n; i++)
		if (a->chk.v[i].family == family &&
		    strcmp(a->chk.v[i].hook, hook) == 0)
			return a->chk.v[i].jumps > 0;
	return false;
}

static json_t *
flow_json(const struct wflow *f, int dir)
{
	char lb[64], rb[64], ifn[IF_NAMESIZE] = "?";
	const char *pn = sp_proto_name(f->proto);
	json_t *o;

	if_indextoname((unsigned)f->ifindex, ifn);
	o = json_pack(
	        "{s:s,s:s,s:I,s:s,s:I,s:s,s:s}", "proto",
	        pn != NULL ? pn : "other", "src",
	        sp_addr_format(dir == 0 ? &f->local : &f->remote, lb,
	                       sizeof(lb)),
	        "sport", (json_int_t)(dir == 0 ? f->lport : f->rport), "dst",
	        sp_addr_format(dir == 0 ? &f->remote : &f->local, rb,
	                       sizeof(rb)),
	        "dport", (json_int_t)(dir == 0 ? f->rport : f->lport), "dir",
	        f->fwd     ? "forward"
	        : dir == 0 ? "out"
	                   : "in",
	        "interface", ifn);
	json_object_set_new(o, "packets",
	                    json_integer((json_int_t)f->pkts[dir]));
	json_object_set_new(o, "bytes",
	                    json_integer((json_int_t)f->bytes[dir]));
	json_object_set_new(o, "diverted",
	                    json_integer((json_int_t)f->dpkts[dir]));
	return o;
}

/* Is wire flow f, direction dir, covered by a declared exemption? */
static const char *
exempted(const struct audit *a, const struct wflow *f)
{
	char ifn[IF_NAMESIZE] = "";
	unsigned i;

	if_indextoname((unsigned)f->ifindex, ifn);
	for (i = 0; i < a->cfg.nexempt; i++) {
		const char *e = a->cfg.exempt[i];

		if (strcmp(e, ifn) == 0 ||
		    (strcmp(e, "icmp") == 0 && f->proto == SP_PROTO_ICMP) ||
		    (strcmp(e, "icmpv6") == 0 && f->proto == SP_PROTO_ICMP6))
			return e;
	}
	return NULL;
}

/* The process behind a hidden flow's local socket, into o; its uid. */
static int64_t
owner_json(struct proc_query *pq, const struct wflow *f, json_t *o)
{
	struct proc_owner *po = malloc(sizeof(*po));
	struct proc_flow fl;
	int64_t uid = -1;

	json_object_set_new(o, "pid", json_null());
	json_object_set_new(o, "exe", json_null());
	json_object_set_new(o, "uid", json_null());
	if (po == NULL || pq == NULL ||
	    (f->proto != SP_PROTO_TCP && f->proto != SP_PROTO_UDP) || f->fwd) {
		free(po);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.proto = f->proto;
	fl.local = f->local;
	fl.remote = f->remote;
	fl.lport = f->lport;
	fl.rport = f->rport;
	fl.uid_hint = fl.gid_hint = UINT32_MAX;
	if (proc_lookup(pq, &fl, po) == PROC_HOW_SOCKET) {
		json_object_set_new(o, "pid", json_integer(po->pid));
		json_object_set_new(o, "exe", json_string(po->exe));
		json_object_set_new(o, "uid", json_integer(po->uid));
		json_object_set_new(o, "cmdline", json_string(po->cmdline));
		uid = po->uid;
	} else if (po->uid != UINT32_MAX) {
		json_object_set_new(o, "uid", json_integer(po->uid));
		uid = po->uid;
	}
	json_object_set_new(
	        o, "socket",
	        json_boolean(po->how == PROC_HOW_SOCKET || po->inode != 0));
	free(po);
	return uid;
}

/* A packet socket of another process that can send on f's interface. */
static const struct psock *
psock_of(const struct wflow *f, const struct psock *ps, size_t nps)
{
	size_t i;

	for (i = 0; i < nps; i++)
		if (ps[i].pid > 0 &&
		    (ps[i].ifindex == 0 || ps[i].ifindex == f->ifindex))
			return &ps[i];
	return NULL;
}

/* Why did direction dir of f skip the divert? Sets o's cause keys. */
static void
audit_cause(struct audit *a, const struct wflow *f, int dir, int64_t uid,
            const struct psock *ps, size_t nps, json_t *o)
{
	const char *hook = dir == 0 ? "OUTPUT" : "INPUT";
	int family = f->local.family == AF_INET ? AF_INET : AF_INET6;
	struct fw_pkt p;
	const struct fw_rule *r;
	const struct psock *q;
	char desc[512];
	bool socket = json_is_true(json_object_get(o, "socket"));

	if (f->fwd) {
		json_object_set_new(o, "cause", json_string("forward"));
		json_object_set_new(
		        o, "why",
		        json_string((a->cfg.hooks & CONFIG_HOOK_FORWARD)
		                            ? "a forwarded packet that did not "
		                              "reach the forward hook's divert"
		                            : "a forwarded path: the config "
		                              "does not divert the forward "
		                              "hook"));
		return;
	}
	if (!hook_jumped(a, hook, family)) {
		json_object_set_new(o, "cause", json_string("no steering"));
		json_object_set_new(o, "why",
		                    json_sprintf("%s has no jump to spackle's "
		                                 "chain",
		                                 hook));
		return;
	}
	memset(&p, 0, sizeof(p));
	p.family = family;
	p.proto = f->proto;
	p.src = dir == 0 ? f->local : f->remote;
	p.dst = dir == 0 ? f->remote : f->local;
	p.sport = dir == 0 ? f->lport : f->rport;
	p.dport = dir == 0 ? f->rport : f->lport;
	{
		static char ifn[IF_NAMESIZE];

		if (if_indextoname((unsigned)f->ifindex, ifn) != NULL) {
			if (dir == 0)
				p.out_if = ifn;
			else
				p.in_if = ifn;
		}
	}
	p.uid = dir == 0 ? uid : -1;
	/* A rule that surely matches; else a packet socket (a frame that no
	 * hook saw cannot have been let past by a rule); else a rule that
	 * may match. */
	if ((r = rule_above(a, hook, &p, FW_YES)) != NULL ||
	    (!(dir == 0 && !socket && psock_of(f, ps, nps) != NULL) &&
	     (r = rule_above(a, hook, &p, FW_MAYBE)) != NULL)) {
		fw_rule_describe(r, desc, sizeof(desc));
		json_object_set_new(o, "cause", json_string("rule above"));
		json_object_set_new(o, "rule", json_string(r->spec));
		json_object_set_new(
		        o, "why",
		        json_sprintf("a rule placed before spackle's "
		                     "in %s lets it past: %s",
		                     hook, desc));
		json_object_set_new(o, "rule_packets",
		                    json_integer((json_int_t)r->packets));
		return;
	}
	if (dir == 0 && !socket && (q = psock_of(f, ps, nps)) != NULL) {
		json_object_set_new(o, "cause", json_string("packet socket"));
		json_object_set_new(
		        o, "why",
		        json_string("sent through an AF_PACKET "
		                    "socket, which skips netfilter "
		                    "(no IP socket holds the flow)"));
		json_object_set_new(o, "pid", json_integer(q->pid));
		json_object_set_new(o, "exe", json_string(q->exe));
		json_object_set_new(o, "uid", json_integer(q->uid));
		json_object_set_new(o, "socket_inode",
		                    json_integer((json_int_t)q->inode));
		return;
	}
	json_object_set_new(o, "cause", json_string("unknown"));
	json_object_set_new(o, "why",
	                    json_string("no rule above spackle's, "
	                                "exemption or packet "
	                                "socket explains it"));
}

/* Hidden flows: on the wire, never across the divert. */
static int
audit_hidden(struct audit *a)
{
	struct wire w;
	struct divert_seen seen;
	struct store_reader *sr = NULL;
	struct proc *proc = NULL;
	struct proc_query *pq = NULL;
	struct proc_config pc = {.timeout_ms = 500};
	struct psock *ps;
	size_t nps = 0, i;
	char err[1024];
	uint64_t start;
	json_t *conns, *o;
	int dir, ntaps;
	const char *ex;

	memset(&w, 0, sizeof(w));
	memset(&seen, 0, sizeof(seen));
	if (local_addrs(&w) != 0) {
		json_array_append_new(
		        a->notes, json_string("cannot list local addresses"));
		return -1;
	}
	start = sp_now_wall();
	seen.since_ns = start;
	ntaps = wire_watch(&w, a->watch, a->notes);
	if (ntaps <= 0) {
		json_array_append_new(
		        a->notes, json_string("no interface could be tapped "
		                              "(libpcap; root needed)"));
		free(w.local);
		return -1;
	}
	/* What crossed the divert meanwhile: give the last packets time to
	 * be counted and the store its flush. */
	usleep((AUDIT_GRACE_MS + 2 * a->cfg.store_flush_ms) * 1000u);
	conns = control_call(a->cfg.control, "conns", err, sizeof(err));
	if (conns != NULL)
		seen_from_conns(&seen, json_object_get(conns, "conns"));
	json_decref(conns);
	if (strcmp(a->cfg.db, CONFIG_DB_NONE) == 0)
		json_array_append_new(
		        a->notes, json_string("db = none: flows that ended "
		                              "during the watch are not known "
		                              "and may show as hidden"));
	else if (store_reader_open(&sr, a->cfg.db, err, sizeof(err)) == 0)
		store_reader_flows(sr, true, seen_store_one, &seen, NULL);
	else
		json_array_append_new(a->notes, json_sprintf("store: %s", err));
	if (proc_new(&proc, &pc, err, sizeof(err)) == 0)
		pq = proc_query_new(proc, err, sizeof(err));
	ps = calloc(AUDIT_PSOCK_MAX, sizeof(*ps));
	if (ps != NULL) {
		nps = psocks_read(ps, AUDIT_PSOCK_MAX);
		psocks_owners(ps, nps);
	}

	for (i = 0; i < w.n; i++) {
		struct wflow *f = &w.v[i];
		int64_t uid = -2;

		f->found = seen_lookup(&seen, f, f->dpkts);
		for (dir = 0; dir < 2; dir++) {
			unsigned need = f->fwd     ? CONFIG_HOOK_FORWARD
			                : dir == 0 ? CONFIG_HOOK_OUT
			                           : CONFIG_HOOK_IN;

			if (f->pkts[dir] == 0 || f->dpkts[dir] > 0)
				continue;
			/* A hook the config does not divert is not a hole,
			 * unless forwarding (reported as such). */
			if (!f->fwd && !(a->cfg.hooks & need))
				continue;
			o = flow_json(f, dir);
			if ((ex = exempted(a, f)) != NULL) {
				json_object_set_new(o, "exemption",
				                    json_string(ex));
				json_array_append_new(a->exempt, o);
				continue;
			}
			if (uid == -2)
				uid = owner_json(pq, f, o);
			else
				owner_json(pq, f, o);
			audit_cause(a, f, dir, uid, ps, nps, o);
			json_array_append_new(a->hidden, o);
			a->holes = true;
		}
	}
	json_object_set_new(a->counters, "wire",
	                    json_pack("{s:I,s:I,s:I,s:I,s:I}", "seconds",
	                              (json_int_t)a->watch, "interfaces",
	                              (json_int_t)ntaps, "packets",
	                              (json_int_t)w.packets, "flows",
	                              (json_int_t)w.n, "flows_not_kept",
	                              (json_int_t)w.dropped));
	free(ps);
	proc_query_free(pq);
	proc_free(proc);
	store_reader_close(sr);
	free(seen.v);
	free(w.v);
	free(w.local);
	return 0;
}

/* ---- output ------------------------------------------------------------- */

static void
print_human(const struct audit *a)
{
	const json_t *c = a->counters, *h, *r, *o;
	size_t i, k;
	const char *key;
	json_t *v;

#define CI(k) ((long long)json_integer_value(json_object_get(c, k)))
	printf("counters (kernel rules, nfnetlink_queue, daemon)\n");
	printf("  sent to spackle's queues by the kernel  %lld\n",
	       CI("sent_to_queues"));
	printf("  = received by spackle                   %lld%s\n",
	       CI("received"),
	       json_is_true(json_object_get(c, "daemon"))
	               ? ""
	               : "   (the daemon does not answer)");
	printf("  + waiting in the queues now             %lld\n",
	       CI("waiting"));
	printf("  + dropped in the queue (full)           %lld%s\n",
	       CI("queue_dropped"), CI("queue_dropped") ? "   DROPS" : "");
	printf("  + dropped at the socket (buffer full)   %lld%s\n",
	       CI("socket_dropped"), CI("socket_dropped") ? "   DROPS" : "");
	printf("  + passed unseen (bypass, fail-open)     %lld%s\n",
	       CI("passed_unseen"), CI("passed_unseen") ? "   HOLE" : "");
	printf("  (receive overruns, ENOBUFS: %lld; %lld arrived while "
	       "reading)\n",
	       CI("enobufs"), CI("arrived_while_reading"));
	if (a->cfg.divert == CONFIG_DIVERT_FLOW)
		printf("  passed by conntrack mark (flow mode)    %lld\n",
		       CI("fast_path"));
	printf("  %s\n", json_is_true(json_object_get(c, "adds_up"))
	                         ? "adds up"
	                         : "DOES NOT ADD UP");
	json_object_foreach(json_object_get(c, "exempt"), key, v)
	        printf("  exempt %-10s %lld packets (declared)\n", key,
	               (long long)json_integer_value(v));
#undef CI

	printf("\nsteering%s\n",
	       json_is_true(json_object_get(a->steering, "ok"))
	               ? ": spackle first and whole in every hook"
	               : "");
	json_array_foreach(json_object_get(a->steering, "hooks"), i, h)
	{
		if (json_is_true(json_object_get(h, "ok")))
			continue;
		printf("  %s %s: ",
		       json_string_value(json_object_get(h, "family")),
		       json_string_value(json_object_get(h, "hook")));
		if (json_integer_value(json_object_get(h, "jumps")) == 0)
			printf("NO JUMP to %s\n",
			       json_string_value(json_object_get(h, "chain")));
		else
			printf("spackle's jump is rule %lld\n",
			       (long long)json_integer_value(
			               json_object_get(h, "position")));
		json_array_foreach(json_object_get(h, "above"), k, r) printf(
		        "    above it: %s   [%lld packets] (%s)\n",
		        json_string_value(json_object_get(r, "rule")),
		        (long long)json_integer_value(
		                json_object_get(r, "packets")),
		        json_string_value(json_object_get(r, "matches")));
		json_array_foreach(json_object_get(h, "missing"), k, r)
		        printf("    missing: %s\n", json_string_value(r));
		json_array_foreach(json_object_get(h, "extra"), k, r)
		        printf("    not spackle's: %s\n", json_string_value(r));
	}

	if (a->watch > 0) {
		printf("\nhidden flows (on the wire for %u s, never across the "
		       "divert): %zu\n",
		       a->watch, json_array_size(a->hidden));
		json_array_foreach(a->hidden, i, o)
		{
			const json_t *pid = json_object_get(o, "pid");

			printf("  %s %s %s:%lld -> %s:%lld on %s, %lld "
			       "packets, %lld bytes\n",
			       json_string_value(json_object_get(o, "dir")),
			       json_string_value(json_object_get(o, "proto")),
			       json_string_value(json_object_get(o, "src")),
			       (long long)json_integer_value(
			               json_object_get(o, "sport")),
			       json_string_value(json_object_get(o, "dst")),
			       (long long)json_integer_value(
			               json_object_get(o, "dport")),
			       json_string_value(
			               json_object_get(o, "interface")),
			       (long long)json_integer_value(
			               json_object_get(o, "packets")),
			       (long long)json_integer_value(
			               json_object_get(o, "bytes")));
			if (json_is_integer(pid))
				printf("    process: %s (pid %lld, uid %lld)\n",
				       json_string_value(
				               json_object_get(o, "exe")),
				       (long long)json_integer_value(pid),
				       (long long)json_integer_value(
				               json_object_get(o, "uid")));
			else
				printf("    process: unknown\n");
			printf("    cause: %s: %s\n",
			       json_string_value(json_object_get(o, "cause")),
			       json_string_value(json_object_get(o, "why")));
		}
		printf("\nexempt flows (declared): %zu\n",
		       json_array_size(a->exempt));
		json_array_foreach(a->exempt, i, o) printf(
		        "  %s %s %s:%lld -> %s:%lld, %lld packets "
		        "(exempt %s)\n",
		        json_string_value(json_object_get(o, "dir")),
		        json_string_value(json_object_get(o, "proto")),
		        json_string_value(json_object_get(o, "src")),
		        (long long)json_integer_value(
		                json_object_get(o, "sport")),
		        json_string_value(json_object_get(o, "dst")),
		        (long long)json_integer_value(
		                json_object_get(o, "dport")),
		        (long long)json_integer_value(
		                json_object_get(o, "packets")),
		        json_string_value(json_object_get(o, "exemption")));
	}
	json_array_foreach(a->notes, i, o)
	        printf("note: %s\n", json_string_value(o));
	printf("\nverdict: %s\n", a->holes ? "holes" : "clean");
}

/*
 * Tell the daemon what a watch found, so its status and metrics show the
 * last audit's hidden flows. Only when a daemon answered status: without
 * one there is nobody to tell.
 */
static void
audit_report(struct audit *a)
{
	json_t *req, *r;
	const char *why;
	char err[512] = "out of memory";

	if (a->status == NULL)
		return;
	req = json_pack("{s:s,s:I,s:b}", "cmd", "audit", "hidden",
	                (json_int_t)json_array_size(a->hidden), "holes",
	                a->holes);
	r = req != NULL ? control_request(a->cfg.control, req, err, sizeof(err))
	                : NULL;
	if (r == NULL || json_object_get(r, "error") != NULL) {
		why = r == NULL
		              ? err
		              : json_string_value(json_object_get(r, "error"));
		json_array_append_new(
		        a->notes,
		        json_sprintf(
		                "the daemon was not told of this audit: %s",
		                why != NULL ? why : "refused"));
	}
	json_decref(r);
	json_decref(req);
}

int
cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"watch", required_argument, NULL, 'w'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static const char usage[] =
	        "usage: spackle audit [-c CONF] [--watch SECONDS] [--json]\n"
	        "  reconcile the kernel's counters with the daemon's, check "
	        "that spackle's\n"
	        "  steering is first and whole in every hook, and with "
	        "--watch tap the\n"
	        "  interfaces that long and list the flows that never "
	        "crossed the divert.\n"
	        "  Exit 0 clean, 1 holes, 2 error. Root (or CAP_NET_ADMIN "
	        "and CAP_NET_RAW).\n";
	const char *conf = CONFIG_DEFAULT_PATH;
	struct audit a;
	json_t *out;
	char *end;
	unsigned long v;
	int ch, rc;

	memset(&a, 0, sizeof(a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:w:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'w':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v == 0 ||
			    v > AUDIT_WATCH_MAX) {
				fprintf(stderr,
				        "spackle audit: --watch \"%s\": "
				        "seconds, "
				        "1 to %u\n",
				        optarg, AUDIT_WATCH_MAX);
				return 2;
			}
			a.watch = (unsigned)v;
			break;
		case 'j':
			a.json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	config_defaults(&a.cfg);
	if (config_load(&a.cfg, conf, stderr) != 0)
		return 2;
	a.counters = json_object();
	a.steering = json_object();
	a.hidden = json_array();
	a.exempt = json_array();
	a.notes = json_array();

	audit_counters(&a);
	audit_steering(&a);
	if (a.watch > 0) {
		audit_hidden(&a);
		audit_report(&a);
	}

	out = json_pack("{s:O,s:O,s:O,s:O,s:s,s:O}", "counters", a.counters,
	                "steering", a.steering, "hidden", a.hidden, "exempt",
	                a.exempt, "verdict", a.holes ? "holes" : "clean",
	                "notes", a.notes);
	if (a.json) {
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		print_human(&a);
	}
	rc = fflush(stdout) != 0 ? 2 : a.holes ? 1 : 0;
	json_decref(out);
	json_decref(a.counters);
	json_decref(a.steering);
	json_decref(a.hidden);
	json_decref(a.exempt);
	json_decref(a.notes);
	json_decref(a.status);
	fw_steer_check_free(&a.chk);
	fw_ruleset_free(&a.rs);
	return rc;
}

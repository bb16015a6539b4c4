/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spackle.conf: `key = value` lines, every key of DESIGN.md, checked. */
#ifndef SPACKLE_CONFIG_H
#define SPACKLE_CONFIG_H

#include <stdio.h>

#include "spackle/spackle.h"

#define CONFIG_DEFAULT_PATH "/etc/spackle/spackle.conf"
/* `db = none`: the daemon keeps no history. */
#define CONFIG_DB_NONE    "none"
#define CONFIG_EXEMPT_MAX 16
#define CONFIG_IFNAME_MAX 16
/*
 * `exempt` words that name a protocol, not an interface: reserved, so no
 * interface can be exempted by these names. Each may be given once.
 */
#define CONFIG_EXEMPT_ICMP  "icmp"   /* ICMP, in the IPv4 rules */
#define CONFIG_EXEMPT_ICMP6 "icmpv6" /* ICMPv6, in the IPv6 rules */

#define CONFIG_ATTRIB_TIMEOUT_MS 50 /* attrib_timeout_ms's default */

/*
 * The loopback interface, exempt by default, and the tunnel spackle opens
 * (`tun_name`): macOS names its tunnels utunN and spackle asks for that
 * unit; elsewhere a tun device of spackle's own name (`backend = tun`;
 * OpenBSD diverts without one).
 */
#if defined(__APPLE__)
#define CONFIG_LOOPBACK_IFNAME "lo0"
#define CONFIG_TUN_NAME        "utun99"
#elif defined(__OpenBSD__)
#define CONFIG_LOOPBACK_IFNAME "lo0"
#define CONFIG_TUN_NAME        "spackle0"
#else
#define CONFIG_LOOPBACK_IFNAME "lo"
#define CONFIG_TUN_NAME        "spackle0"
#endif
/*
 * `tun_peer`: the far end of the tunnel, one IPv4 and one IPv6 address,
 * the next hops pf's route-to sends the diverted packets to (docs/
 * steering.md). Link-local, so they never meet a routed address.
 */
#define CONFIG_TUN_PEER4 "169.254.42.2"
#define CONFIG_TUN_PEER6 "fe80::2a:2"

#define CONFIG_USER_MAX    33     /* a user name, as useradd allows */
#define CONFIG_USER_ROOT   "root" /* `user = root`: no privilege drop */
#define CONFIG_METRICS_MAX 64     /* "[v6 address]:port" */
/* The web monitor (docs/web.md): its token file, and the name of its rule
 * file in the `rules` folder when web_rules is not set. */
#define CONFIG_WEB_TOKEN_PATH "/run/spackle/web.token"
#define CONFIG_WEB_RULES_NAME "90-web.rules"

enum config_mode { CONFIG_MODE_ENFORCE = 0, CONFIG_MODE_MONITOR };
enum config_divert { CONFIG_DIVERT_PACKET = 0, CONFIG_DIVERT_FLOW };
enum config_failure { CONFIG_FAILURE_OPEN = 0, CONFIG_FAILURE_CLOSED };
/* `log`: where the decision log goes (one entry per decided flow). */
enum config_log {
	CONFIG_LOG_NONE = 0,
	CONFIG_LOG_SYSLOG,
	CONFIG_LOG_STDERR,
	CONFIG_LOG_JSON, /* log_path: one JSON object per line */
};
/* `backend`: how packets reach spackle (divert/; docs/divert.md). */
enum config_backend {
	CONFIG_BACKEND_NFQUEUE = 0,
	CONFIG_BACKEND_TUN, /* tun_name, steered by policy routing */
};
/* `attribution`: how a socket leads to its process (docs/attribution.md). */
enum config_attribution {
	CONFIG_ATTRIB_AUTO = 0, /* the eBPF map when it loads, else proc */
	CONFIG_ATTRIB_BPF,      /* the eBPF map, or the daemon does not start */
	CONFIG_ATTRIB_PROC,     /* fd tables and the proc connector only */
};
enum config_firewall {
	CONFIG_FIREWALL_AUTO = 0,
	CONFIG_FIREWALL_IPTABLES,
	CONFIG_FIREWALL_NFT,
};

struct config {
	enum config_mode mode;
	enum config_divert divert;
	enum config_backend backend;
	enum sp_verdict dflt; /* `default` */
	enum config_failure failure;
	char rules[SP_PATH_MAX];
	char db[SP_PATH_MAX];
	char control[SP_PATH_MAX];
	unsigned queues;
	unsigned queue_base;
	unsigned hooks; /* enum config_hook bits */
	/* Interface names, and the words CONFIG_EXEMPT_ICMP(6). */
	char exempt[CONFIG_EXEMPT_MAX][CONFIG_IFNAME_MAX];
	unsigned nexempt;
	/* Deadline of one process attribution, ms (docs/attribution.md). */
	unsigned attrib_timeout_ms;
	enum config_attribution attribution;
	enum config_firewall firewall;
	/* The tunnel of the pf-macos steering: its name and its peers. */
	char tun_name[CONFIG_IFNAME_MAX];
	struct sp_addr tun_peer4, tun_peer6;
	/* Put spackle's steering back first when someone changes it. */
	bool steering_repair;
	/* The store (docs/store.md) and the capture of denied packets. */
	uint64_t db_max_size;         /* bytes: the LMDB map */
	uint64_t db_max_age;          /* seconds; 0: until the map fills */
	unsigned store_flush_ms;      /* a transaction at least this often */
	unsigned store_flush_records; /* or when a queue holds this many */
	unsigned store_queue;         /* bytes of each producer's queue */
	unsigned incomplete_budget;   /* per worker; 0: no aggregates */
	uint64_t memory_max;          /* bytes the daemon holds at most */
	char capture_denied[SP_PATH_MAX]; /* pcap of denied packets; "" off */
	uint64_t capture_max_size;        /* bytes per file */
	unsigned capture_keep;            /* rotated files kept */
	/* The service: the user the daemon becomes after set-up, the
	 * Prometheus endpoint ("" off) and the decision log. */
	char user[CONFIG_USER_MAX];
	char metrics[CONFIG_METRICS_MAX];
	bool metrics_public; /* a non-loopback metrics address is allowed */
	/* The web monitor: ADDR:PORT ("" off), a non-loopback one allowed,
	 * its token file, its rule file ("": `rules`/90-web.rules). */
	char web[CONFIG_METRICS_MAX];
	bool web_public;
	char web_token[SP_PATH_MAX];
	char web_rules[SP_PATH_MAX];
	enum config_log log;
	char log_path[SP_PATH_MAX]; /* `log = json:PATH` */
	char path[SP_PATH_MAX]; /* the file it was read from, "" for defaults */
};

enum config_hook {
	CONFIG_HOOK_OUT = 1u << 0,
	CONFIG_HOOK_IN = 1u << 1,
	CONFIG_HOOK_FORWARD = 1u << 2,
};

/* Fill c with DESIGN.md's defaults. */
void config_defaults(struct config *c);

/*
 * Read path over the defaults. On an error, print every problem as
 * FILE:LINE: message to err and return -1; c is then unchanged.
 */
int config_load(struct config *c, const char *path, FILE *err);

/* Parse text held in memory; name is used in messages. */
int config_parse(struct config *c, const char *name, const char *text,
                 FILE *err);

/*
 * `metrics = ADDR:PORT` (IPv6 as [ADDR]:PORT), numeric only, into ss;
 * *loopback tells whether ADDR is 127.0.0.0/8 or ::1. 0, or -1 with the
 * reason in err.
 */
struct sockaddr_storage;
int config_metrics_addr(const char *spec, struct sockaddr_storage *ss,
                        unsigned *sslen, bool *loopback, char *err,
                        size_t errlen);

/* The web monitor's rule file: web_rules, or `rules`/90-web.rules. */
const char *config_web_rules(const struct config *c, char *buf, size_t len);

/* Write c back as a config file (round trip for tests and `status`). */
void config_print(FILE *f, const struct config *c);

/* The name of a backend as `backend =` spells it ("nfqueue"). */
const char *config_backend_name(enum config_backend b);

/*
 * The keys whose values differ between a and b, as "key1, key2" in buf
 * (empty when none): a reload applies `rules` and `default` and names the
 * rest as needing a restart. Returns how many differ, -1 out of memory.
 */
int config_changed_keys(const struct config *a, const struct config *b,
                        char *buf, size_t len);

#endif

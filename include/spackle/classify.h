/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The classifier: parse, names, flow, rules -- one packet in, one verdict out.
 */
#ifndef SPACKLE_CLASSIFY_H
#define SPACKLE_CLASSIFY_H

#include <jansson.h>
#include <pthread.h>

#include "spackle/flow.h"
#include "spackle/names.h"
#include "spackle/packet.h"
#include "spackle/rules.h"

#define CLASSIFY_LOCAL_MAX 32

#define CLASSIFY_CMDLINE_MAX 1024

/* How a flow's owner was found (docs/attribution.md). */
enum classify_attrib {
	CLASSIFY_ATTRIB_NONE = 0, /* not asked: replay, or no local socket */
	CLASSIFY_ATTRIB_SOCKET,   /* its socket, and a process holding it */
	CLASSIFY_ATTRIB_EXITED,   /* socket gone: the process that exited */
	CLASSIFY_ATTRIB_UNKNOWN,  /* not found: only rules without process */
	CLASSIFY_ATTRIB_TIMEOUT,  /* the deadline passed: as unknown */
};

/* Who owns a flow's local socket, when attribution can tell. */
struct classify_owner {
	int32_t pid;     /* -1 unknown */
	int32_t ppid;    /* -1 unknown */
	uint32_t uid;    /* FLOW_UID_UNKNOWN unknown */
	uint32_t nprocs; /* processes sharing the socket, 0 unknown */
	enum classify_attrib how;
	char exe[SP_PATH_MAX];              /* "" unknown */
	char cmdline[CLASSIFY_CMDLINE_MAX]; /* "" unknown */
};

/* Where a flow's remote name came from. */
enum classify_name_src {
	CLASSIFY_NAME_NONE = 0,
	CLASSIFY_NAME_DNS,  /* an answer that named the address */
	CLASSIFY_NAME_SNI,  /* the flow's TLS ClientHello */
	CLASSIFY_NAME_HTTP, /* the flow's HTTP/1 Host header */
};

/* What a live flow carries beside its table entry. */
struct classify_flow_info {
	const char *host; /* the name it was decided with, NULL none */
	enum classify_name_src host_src;
	const char *exe;     /* NULL unknown */
	const char *cmdline; /* NULL unknown */
	int32_t ppid;        /* -1 unknown */
	uint32_t nprocs;     /* 0 unknown */
	enum classify_attrib attrib;
	bool held; /* its decision waited for a name (SNI/Host) */
	/* A name its payload carried that is no DNS name (it decided
	 * nothing), escaped to printable ASCII; NULL none. */
	const char *name_raw;
	enum classify_name_src name_raw_src;
};

struct classify_input;

/*
 * Attribution hook, asked once per new flow with the packet that made it
 * (its hook, the uid and gid hints the divert gave); the daemon plugs the
 * process lookup in here. Replay has none: a capture carries no process.
 */
typedef bool (*classify_owner_fn)(const struct flow *f,
                                  const struct classify_input *in,
                                  struct classify_owner *out, void *arg);

/*
 * Has the process that owned f's socket gone? Then a new packet from this
 * host on f's ports comes from a new socket (a port used again by another
 * short-lived program) and f is decided anew. Asked on the data path, for
 * a UDP flow's local packet after a pause of CLASSIFY_RENEW_GAP_NS, and
 * for a TCP SYN on a known flow: must be quick and never block.
 */
typedef bool (*classify_gone_fn)(const struct flow *f, void *arg);

#define CLASSIFY_RENEW_GAP_NS 1000000ull

struct classify_config {
	const struct ruleset *rules; /* compiled; NULL decides by dflt */
	enum sp_verdict dflt;
	/* Networks that hold the local side; none: the first sender is. */
	struct sp_addr local[CLASSIFY_LOCAL_MAX];
	unsigned local_plen[CLASSIFY_LOCAL_MAX];
	size_t nlocal;
	struct flow_config flows;
	size_t names_cap; /* 0: SP_NAMES_DEFAULT */
	/* Bytes of shared strings (hosts, exes, cmdlines) kept at most; past
	 * it a flow keeps none (decided all the same). 0: no limit. */
	size_t strings_max;
	/*
	 * Workers of one daemon share one name cache, so an answer read by one
	 * names the flows of all: give it here with the lock that guards it
	 * (held only to feed an answer or to copy out an address's names,
	 * never while the rules run). NULL: the classifier keeps a cache of
	 * its own.
	 */
	struct names_cache *shared_names;
	pthread_mutex_t *names_lock;
	classify_owner_fn owner;
	classify_gone_fn owner_gone;
	void *owner_arg; /* for both */
	/*
	 * Hold a new outbound TCP flow whose remote address has no name,
	 * when a host/domain rule could decide it: its handshake passes, and
	 * it is decided on its first payload packet with the name that
	 * carries (TLS SNI, HTTP Host). Needs every packet of the flow
	 * (divert = packet, captures), so the daemon's flow mode leaves it
	 * off. docs/attribution.md.
	 */
	bool name_hold;
	/* Each name learnt (a DNS answer's, a held flow's SNI or Host), for
	 * the store; ttl in seconds (0 for SNI/Host: valid while the flow
	 * lives). Called from inside classify_burst(). */
	void (*name_seen)(const struct sp_addr *addr, const char *name,
	                  enum classify_name_src src, uint32_t ttl, void *arg);
	void *name_seen_arg;
	flow_cb ended; /* a flow leaves the table (expiry or eviction) */
	void *ended_arg;
};

struct classify_stats {
	uint64_t packets, bytes;
	uint64_t malformed;           /* PACKET_SHORT or PACKET_BAD */
	uint64_t not_ip;              /* frames without IP (ARP, ...) */
	uint64_t fragments_unmatched; /* later fragments of unseen datagrams */
	uint64_t decisions;
	uint64_t verdicts[4]; /* packets by enum sp_verdict */
	uint64_t dns_answers, dns_bad;
	uint64_t name_holds;      /* flows held for a name */
	uint64_t names_sni;       /* held flows decided with a TLS SNI */
	uint64_t names_http;      /* ... with an HTTP Host */
	uint64_t names_missing;   /* ... with no name (none in the payload) */
	uint64_t renewed;         /* flows decided anew: a new socket */
	uint64_t strings_refused; /* a string not kept: strings_max reached */
};

/*
 * The outcome for one packet. After a burst, flow points at the flow's
 * entry as the whole burst left it (later packets of the burst counted);
 * verdict and new_flow are this packet's own.
 */
struct classify_result {
	enum packet_status status;
	enum sp_verdict verdict; /* SP_VERDICT_NONE: no flow (malformed) */
	struct flow *flow;       /* NULL unless a flow took the packet */
	bool new_flow;
	/* A flow held for its name was denied on this payload packet: the
	 * local end gets a reset by the reject, and the remote end, which
	 * has an established connection, should get one too (the packet's
	 * own sequence number resets it). Once per flow. */
	bool reset_peer;
};

struct classifier;

struct classifier *classify_new(const struct classify_config *cfg);
void classify_free(struct classifier *c);

/*
 * Classify one frame of link type `link` (enum packet_link) seen at now_ns
 * (wall clock or capture time: the clock only has to move forward). len
 * bytes are at p; wirelen is how long the packet really was. A packet cut by
 * a snap length or a copy range (len < wirelen) is classified on what is
 * there; one whose IP header claims more than the whole packet held
 * (wirelen <= len) is malformed.
 */
void classify_frame(struct classifier *c, int link, const uint8_t *p,
                    size_t len, size_t wirelen, uint64_t now_ns,
                    uint32_t uid_hint, struct classify_result *res);

/* Where a divert saw a packet; a capture cannot tell (NONE). */
enum classify_hook {
	CLASSIFY_HOOK_NONE = 0,
	CLASSIFY_HOOK_OUT, /* leaving this host: its sender is local */
	CLASSIFY_HOOK_IN,  /* arriving at this host: its receiver is local */
	CLASSIFY_HOOK_FORWARD,
};

/* One frame of a burst. */
struct classify_input {
	const uint8_t *p;
	size_t len, wirelen;
	uint64_t ts_ns;
	uint32_t uid_hint; /* the socket owner's, UINT32_MAX unknown */
	uint32_t gid_hint; /* ... group's */
	int link;
	int hook; /* enum classify_hook */
};

#define CLASSIFY_BURST 32

/*
 * Classify up to CLASSIFY_BURST frames received together (a capture read, a
 * batch from the divert socket), exactly as classify_frame() one by one
 * would, but overlapping the flow table's cache misses across the burst.
 */
void classify_burst(struct classifier *c, const struct classify_input *in,
                    size_t n, struct classify_result *res);

/* Use other rules from now on (a reload); the caller keeps them alive. */
void classify_set_rules(struct classifier *c, const struct ruleset *rules,
                        enum sp_verdict dflt);

/* Decide every live flow again with the current rules and names (after a
 * reload); returns how many changed verdict, and hands each of those to
 * changed (when not NULL) with the verdict it had. */
typedef void (*classify_changed_fn)(struct flow *f, enum sp_verdict before,
                                    void *arg);
size_t classify_redecide(struct classifier *c, uint64_t now_ns,
                         classify_changed_fn changed, void *arg);

/*
 * The live flow between src:sport and dst:dport (either way round), or
 * NULL; *dir gets 0 when src sent the flow's first packet, 1 otherwise.
 */
struct flow *classify_find(struct classifier *c, uint8_t proto,
                           const struct sp_addr *src, uint16_t sport,
                           const struct sp_addr *dst, uint16_t dport, int *dir);

/* End f now (handing it to cfg->ended), as an expiry would. */
void classify_end(struct classifier *c, struct flow *f);

/* Expire idle flows (handing each to cfg->ended); call about once a second. */
size_t classify_expire(struct classifier *c, uint64_t now_ns);

/* Hand every live flow to cfg->ended and empty the table. */
void classify_flush(struct classifier *c);

/* Map the next page of the flow tables ahead of the slots given out
 * (struct sp_ahead), for a moment when no packet waits: true when it did. */
bool classify_ahead(struct classifier *c);

void classify_stats(const struct classifier *c, struct classify_stats *st);
/*
 * What a classifier holds in memory, in bytes: the tables sized at start
 * for its flow cap (allocated once), and what grows with the flows in
 * them (a record per flow with a process or name beside it, and the
 * strings those share: one copy per distinct host, exe and cmdline).
 */
struct classify_memory {
	size_t tables;        /* flow table and the map beside it */
	size_t carried;       /* flows with a process or name beside */
	size_t carried_bytes; /* their records */
	size_t strings;       /* distinct shared strings */
	size_t strings_bytes; /* their bytes */
	size_t flows_cap;
};
void classify_memory(const struct classifier *c, struct classify_memory *m);
/* The most a classifier holds per flow of its table, in bytes, its shared
 * strings aside: the table, the entry beside it, and a record for each
 * flow with a process or a name. */
size_t classify_bytes_per_flow(void);
struct flow_table *classify_flows(struct classifier *c);
/*
 * The remote name a live flow was decided with (NULL when its address had
 * none), and its process's executable (NULL when unknown). Valid while the
 * flow is in the table and during the cfg->ended callback.
 */
const char *classify_flow_host(const struct classifier *c,
                               const struct flow *f);
const char *classify_flow_exe(const struct classifier *c, const struct flow *f);
/* All of it (same validity). */
void classify_flow_info(const struct classifier *c, const struct flow *f,
                        struct classify_flow_info *out);

/* How an owner was found, as conns shows it: "socket", "exited",
 * "timeout", "unknown". */
const char *classify_attrib_name(enum classify_attrib a);
/* Where a name came from: "dns", "sni", "http". */
const char *classify_name_src_name(enum classify_name_src s);

/*
 * f as JSON: id, proto, both ends, dir, the process (pid, exe, uid, ppid,
 * cmdline, procs, attrib; null where fi knows none), host and host_from,
 * name_raw and name_raw_from (null when none), name_wait, verdict, rule
 * (FILE:LINE of rs's rule, "default", or "pending" while held), monitor,
 * packets and bytes each way, first_ns and last_ns. fi as classify_flow_info()
 * fills it. NULL out of memory.
 */
json_t *classify_flow_json(const struct flow *f,
                           const struct classify_flow_info *fi,
                           const struct ruleset *rs);

#endif

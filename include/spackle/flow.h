/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The flow table: one entry per connection, found in O(1), capped. */
#ifndef SPACKLE_FLOW_H
#define SPACKLE_FLOW_H

#include "spackle/packet.h"
#include "spackle/spackle.h"

/*
 * Direction-independent key: the two ends are stored in a canonical order
 * (lower address/port first), so a packet and its reply find one entry.
 */
struct flow_key {
	struct sp_addr a, b; /* family byte of each mirrors `family` */
	uint16_t pa, pb;
	uint8_t proto;
	uint8_t family;
};

enum flow_tcp_state {
	FLOW_TCP_NONE = 0, /* not TCP, or TCP picked up mid-stream */
	FLOW_TCP_SYN_SENT,
	FLOW_TCP_ESTABLISHED,
	FLOW_TCP_FIN_WAIT, /* one side sent FIN */
	FLOW_TCP_CLOSED,   /* both FINs, or a RST */
};

/* Timeout classes, each an LRU list ordered by last activity. */
enum flow_class {
	FLOW_CLASS_TCP_OPENING = 0,
	FLOW_CLASS_TCP_ESTABLISHED,
	FLOW_CLASS_TCP_CLOSING,
	FLOW_CLASS_UDP,
	FLOW_CLASS_ICMP,
	FLOW_CLASS_OTHER,
	FLOW_CLASS_COUNT,
};

enum flow_flag {
	/* 1u << 0 is free: a flow seen on a tap only never enters a table;
	 * the store marks its record STORE_FLOW_HIDDEN (audit's report). */
	FLOW_F_MONITOR = 1u << 1,    /* decided in monitor mode */
	FLOW_F_LOCAL_A = 1u << 2,    /* key.a is the local side */
	FLOW_F_ORIG_A = 1u << 3,     /* key.a sent the first packet */
	FLOW_F_DNS = 1u << 4,        /* UDP or TCP to or from port 53 */
	FLOW_F_EVICTED = 1u << 5,    /* set on the copy handed to a callback */
	FLOW_F_NAME_WAIT = 1u << 6,  /* decision held for a name (SNI/Host) */
	FLOW_F_LOGGED = 1u << 7,     /* its decision is in the decision log */
	FLOW_F_PEER_RESET = 1u << 8, /* a held flow denied: its remote end
	                                was asked to be reset */
	/* incomplete.h: its record is written, it counts against the budget
	 * until it completes; or its record waits for it to complete. */
	FLOW_F_UNANSWERED = 1u << 9,
	FLOW_F_DEFERRED = 1u << 10,
};

/* Index 0 = original direction (first packet's sender), 1 = reply. */
struct flow {
	struct flow_key key;
	uint64_t id; /* time-ordered, unique within a table */
	uint64_t first_ns, last_ns;
	uint64_t packets[2], bytes[2];
	uint32_t rule;   /* deciding rule's index, or FLOW_RULE_DEFAULT */
	int32_t pid;     /* owning process, -1 unknown */
	uint32_t uid;    /* owning user, FLOW_UID_UNKNOWN unknown */
	uint32_t flags;  /* enum flow_flag */
	uint8_t verdict; /* enum sp_verdict */
	uint8_t dir;     /* enum sp_dir: out when the local side started it */
	uint8_t tcp_state;
	uint8_t fin_seen; /* bit 0: orig sent FIN, bit 1: reply sent FIN */
	/* Table links, by index into the table's pool. */
	uint32_t hnext;
	uint32_t lprev, lnext;
	uint8_t cls;     /* enum flow_class */
	uint32_t slot;   /* its own index in the pool: what it carries beside
	                    (classify's extra entries) is kept there too */
	uint64_t lru_ns; /* when it last moved to its list's tail */
};

#define FLOW_RULE_DEFAULT UINT32_MAX
#define FLOW_RULE_NONE    (UINT32_MAX - 1)
#define FLOW_UID_UNKNOWN  UINT32_MAX

struct flow_config {
	uint32_t max_flows; /* hard cap; 0 means SP_FLOWS_DEFAULT */
	/* Idle timeouts per class in seconds; 0 means the default. */
	uint32_t timeout[FLOW_CLASS_COUNT];
};

struct flow_stats {
	uint64_t created, expired, evicted, live;
};

struct flow_table;

/* Called with a flow about to leave the table (expired or evicted). */
typedef void (*flow_cb)(const struct flow *f, void *arg);

struct flow_table *flow_table_new(const struct flow_config *cfg);
void flow_table_free(struct flow_table *t);

/* Canonical key of a parsed packet; *orig_a is true when its sender is a. */
void flow_key_from_packet(struct flow_key *k, const struct packet *pkt,
                          bool *sender_is_a);

/*
 * Find the flow of pkt, or create it (evicting the oldest idle flow when the
 * table is full, after handing it to the eviction callback). *created tells
 * which; *dir gets 0 when pkt goes the flow's original way, 1 for a reply.
 * Returns NULL only for a packet that has no flow key (a later fragment).
 */
struct flow *flow_lookup(struct flow_table *t, const struct packet *pkt,
                         uint64_t now_ns, bool *created, int *dir);

/*
 * Fragments. The first fragment of a datagram (offset 0) carries the ports
 * and finds its flow as any packet does; flow_lookup() remembers its
 * (src, dst, proto, id) in a small capped side table, so later fragments,
 * which carry no transport header, return the same flow through here.
 * NULL when the first fragment was not seen (out of order or lost).
 */
struct flow *flow_lookup_fragment(struct flow_table *t,
                                  const struct packet *pkt, int *dir);

/*
 * Bursts. A table larger than the CPU's caches costs a cache miss or two per
 * packet; a caller holding several packets at once overlaps them: first
 * flow_prefetch_bucket() for each (returns the bucket and prefetches it),
 * then flow_prefetch_entry() for each bucket (prefetches the first entry of
 * its chain), then flow_lookup() for each as usual.
 */
uint32_t flow_prefetch_bucket(const struct flow_table *t,
                              const struct packet *pkt);
void flow_prefetch_entry(const struct flow_table *t, uint32_t bucket);

/* Find without creating. */
struct flow *flow_find(struct flow_table *t, const struct flow_key *k);

/* Count pkt against f in direction dir, advance TCP state, refresh LRU. */
void flow_update(struct flow_table *t, struct flow *f, const struct packet *pkt,
                 int dir, uint64_t now_ns);

/* Take f out of the table now, through the eviction callback, as an
 * expiry (its conntrack entry ended: flow mode). */
void flow_end(struct flow_table *t, struct flow *f);

/* Remove flows idle past their class timeout; returns how many. */
size_t flow_expire(struct flow_table *t, uint64_t now_ns);

/* Remove every flow, handing each to the eviction callback (counted as
 * neither expired nor evicted); the table stays ready for new flows. */
void flow_table_clear(struct flow_table *t);

void flow_set_evict_cb(struct flow_table *t, flow_cb cb, void *arg);

/* Visit every live flow in creation order is not promised; any order. */
void flow_foreach(struct flow_table *t, void (*fn)(struct flow *f, void *arg),
                  void *arg);
/*
 * A walk in slices, for a caller that must not hold its thread for a whole
 * table: visit the live flows among the n slots from slot `from` on; the
 * slot to go on from, or 0 when the walk reached the end (the highest slot
 * the table ever gave out, which follows the most flows live at once, not
 * the cap: the free list hands out the latest freed first). Between slices
 * flows may come and go: one that comes may be visited or not, one that
 * went is not. fn may end the flow it is given.
 */
uint32_t flow_walk(struct flow_table *t, uint32_t from, uint32_t n,
                   void (*fn)(struct flow *f, void *arg), void *arg);

void flow_table_stats(const struct flow_table *t, struct flow_stats *st);

/* The slots ever given out: every live flow lies below (flow_walk's end). */
uint32_t flow_table_slots(const struct flow_table *t);

/* Map the pool's next page ahead of the slots given out (struct
 * sp_ahead), for a moment when no packet waits: true when it did. */
bool flow_table_ahead(struct flow_table *t);

/* A flow id for a flow no table holds (one the audit saw on the wire
 * only), from the counter the tables' ids come from: unique, and growing
 * with the time it was made. */
uint64_t flow_id_new(void);

/* Remote and local ends of a decided flow (FLOW_F_LOCAL_A says which). */
void flow_local(const struct flow *f, const struct sp_addr **addr,
                uint16_t *port);
void flow_remote(const struct flow *f, const struct sp_addr **addr,
                 uint16_t *port);

/* Bytes of table memory per flow slot, for the README and bench. */
size_t flow_table_bytes_per_flow(void);

#endif

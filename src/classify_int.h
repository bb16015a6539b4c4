/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the classify*.c files share and nothing outside them may use. */
#ifndef SPACKLE_CLASSIFY_INT_H
#define SPACKLE_CLASSIFY_INT_H

#include "spackle/classify.h"

/*
 * classify.c (the packet path) calls classify_decide.c (a new flow's
 * decision) and classify_extra.c (what a flow carries beside its entry);
 * classify_decide.c calls classify_extra.c; never the other way.
 */

#define CLASSIFY_NAMES_QUERY 8 /* remote names handed to the rules */

/* What attribution and the name hold found, allocated when there is any. */
struct classify_more {
	char *exe, *cmdline;
	char *name; /* from the flow's own payload (SNI, Host) */
	/* A payload's name that is no DNS name (refused, decides nothing),
	 * kept to be shown: printable ASCII, other bytes and \ as \xNN. */
	char *name_raw;
	uint8_t name_raw_src; /* enum classify_name_src */
	int32_t ppid;
	uint32_t nprocs;
	uint8_t attrib;   /* enum classify_attrib */
	uint8_t host_src; /* enum classify_name_src of the host */
	bool held;        /* decided on its first payload packet */
};

/*
 * What a flow carries beyond its table entry ("names aside"): the remote
 * name it was decided with, and its process. Kept in an array beside the
 * flow pool, at the flow's own slot (struct flow's `slot`), so struct
 * flow stays small and a flow's entry is one index away, no hashing: the
 * pool hands out the slot freed last, so entries in use stay few pages.
 */
struct classify_extra {
	uint64_t id; /* 0: empty slot */
	char *host;
	struct classify_more *more;
};

/*
 * The strings flows share (a host, a process's exe and cmdline), each
 * kept once per classifier with a count of the flows holding it: a busy
 * process's thousands of flows, or a flood's to one listener, hold one
 * copy, not one each. Open addressing by the string's hash.
 */
struct classify_str {
	char *s; /* NULL: an empty slot */
	uint32_t refs;
	uint32_t hash;
};

struct classify_strs {
	struct classify_str *v;
	size_t mask, n;
	size_t bytes; /* of the strings held */
};

struct classifier {
	struct classify_config cfg;
	struct flow_table *flows;
	struct names_cache *names;
	struct classify_stats st;
	struct packet_stats pst;
	struct classify_extra *extra; /* one per slot of the flow pool */
	size_t extra_cap;
	struct sp_ahead extra_ahead; /* its pages mapped past the slots used */
	struct classify_strs strs;
	size_t nmore; /* extra entries with a struct classify_more */
	uint64_t seed;
	uint32_t *name_rules; /* rules naming hosts or domains */
	size_t nname_rules;
	struct classify_owner own; /* the owner hook's answer (big) */
};

static inline void
names_lock(struct classifier *c)
{
	if (c->cfg.names_lock != NULL)
		pthread_mutex_lock(c->cfg.names_lock);
}

static inline void
names_unlock(struct classifier *c)
{
	if (c->cfg.names_lock != NULL)
		pthread_mutex_unlock(c->cfg.names_lock);
}

/* ---- classify_extra.c ---- */

/* f's entry, at f's slot of the pool: f's own when its id is f's, else
 * not f's (empty, or left by a flow that ended without a word). */
struct classify_extra *classify_extra_of(const struct classifier *c,
                                         const struct flow *f);
/* f's entry, made f's when it was not (emptied first). */
struct classify_extra *classify_extra_take(struct classifier *c,
                                           const struct flow *f);
/* f's extra entry, made if missing; NULL when out of memory. */
struct classify_more *classify_extra_more(struct classifier *c,
                                          const struct flow *f);
void classify_extra_del(struct classifier *c, const struct flow *f);
/* Free what every entry holds (the map itself stays). */
void classify_extra_clear(struct classifier *c);
/* Keep a copy of v (NULL: none) in *slot. Out of memory: false, and *slot
 * keeps what it held. */
bool classify_extra_set(char **slot, const char *v);
/* The same with the classifier's shared copy of v (a host, exe, cmdline):
 * *slot must hold one too, or NULL. */
bool classify_extra_share(struct classifier *c, char **slot, const char *v);

/* ---- classify_decide.c ---- */

/* The rules that name hosts or domains, for the name hold. */
void classify_index_names(struct classifier *c);
/*
 * Match f against the rules with what is known of it now. carried is the
 * name the packet at hand carried (SNI, Host; carried_src says which), or
 * NULL for the one the flow kept from it, if any.
 */
void classify_match(struct classifier *c, struct flow *f, uint64_t now_ns,
                    const char *carried, uint8_t carried_src);
/*
 * A new flow: which end is local, who owns it, then the rules, or a wait
 * for the name its first payload carries.
 */
void classify_decide(struct classifier *c, struct flow *f,
                     const struct classify_input *in, const struct packet *pkt,
                     uint64_t now_ns);
/* The first payload of a held flow (dir 0: the local side's): take its
 * name, then decide. */
void classify_name_decide(struct classifier *c, struct flow *f,
                          const struct packet *pkt, int dir, uint64_t now_ns);

#endif

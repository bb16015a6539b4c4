/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Flows that never complete, beyond a budget, kept as aggregates
 * (incomplete.h says what and why). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spackle/incomplete.h"

#define NS_PER_MIN (60ull * 1000000000ull)
#define SLOTS      1024u /* open addressing, at most SLOTS - 1 used */

/* What flows share to be folded into one aggregate. */
struct agg_key {
	struct sp_addr net; /* the opener's network, masked */
	uint16_t port;      /* the responder's */
	uint8_t proto, dir, verdict;
	uint8_t monitor;
	uint8_t any; /* past INCOMPLETE_MAX_KEYS: any network, any port */
};

/* What differs between them is kept while it does not: `same_*`. */
struct agg {
	struct agg_key k;
	struct store_flow r;  /* the sums; its strings are the ones below */
	struct sp_addr other; /* the responder's address */
	bool same_other, same_uid, same_exe, same_rule, same_host;
	char *exe, *rule, *host;
};

struct incomplete {
	unsigned budget;
	uint64_t minute; /* of the aggregates held, and of `ended` */
	unsigned nkeys;
	/* Which slots hold an aggregate, looked at before the slot is: a
	 * slot's page is mapped when an aggregate first takes it, not when
	 * a probe or the minute's walk passes it (a read of a page never
	 * written is a fault too). */
	uint64_t used[SLOTS / 64];
	struct agg slot[SLOTS];
	struct incomplete_stats st;
};

bool
incomplete_flow_done(const struct flow *f)
{
	if (f->key.proto == SP_PROTO_TCP)
		return f->packets[0] >= 2 && f->packets[1] >= 1;
	return f->packets[1] >= 1;
}

struct incomplete *
incomplete_new(unsigned budget)
{
	struct incomplete *in = calloc(1, sizeof(*in));

	if (in != NULL)
		in->budget = budget;
	return in;
}

static void
agg_clear(struct agg *a)
{
	free(a->exe);
	free(a->rule);
	free(a->host);
	memset(a, 0, sizeof(*a));
}

static bool
slot_used(const struct incomplete *in, size_t i)
{
	return (in->used[i / 64] >> (i % 64) & 1) != 0;
}

static void
slot_free(struct incomplete *in, size_t i)
{
	agg_clear(&in->slot[i]);
	in->used[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

void
incomplete_free(struct incomplete *in)
{
	size_t i;

	if (in == NULL)
		return;
	for (i = 0; i < SLOTS; i++)
		if (slot_used(in, i))
			slot_free(in, i);
	free(in);
}

bool
incomplete_admit(struct incomplete *in, struct flow *f)
{
	if (in == NULL || in->budget == 0)
		return true;
	if (in->st.pending + in->st.ended < in->budget) {
		in->st.pending++;
		f->flags |= FLOW_F_UNANSWERED;
		return true;
	}
	in->st.deferred++;
	f->flags |= FLOW_F_DEFERRED;
	return false;
}

bool
incomplete_progress(struct incomplete *in, struct flow *f)
{
	if (in == NULL || !(f->flags & (FLOW_F_UNANSWERED | FLOW_F_DEFERRED)) ||
	    !incomplete_flow_done(f))
		return false;
	if (f->flags & FLOW_F_UNANSWERED) {
		f->flags &= ~(uint32_t)FLOW_F_UNANSWERED;
		in->st.pending--;
		return false;
	}
	f->flags &= ~(uint32_t)FLOW_F_DEFERRED;
	in->st.promoted++;
	return true;
}

/* The first plen bits of a (family's own prefix length). */
static void
net_of(const struct sp_addr *a, unsigned plen, struct sp_addr *net)
{
	unsigned bits = a->family == AF_INET ? 96 + plen : plen, i;

	*net = *a;
	for (i = 0; i < 16; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		net->b[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

static uint64_t
key_hash(const struct agg_key *k)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	const uint8_t *p;
	size_t i;

	for (i = 0, p = k->net.b; i < 16; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	h = (h ^ k->net.family) * 1099511628211ull;
	h = (h ^ k->port) * 1099511628211ull;
	h = (h ^ k->proto) * 1099511628211ull;
	h = (h ^ ((unsigned)k->dir << 8 | k->verdict)) * 1099511628211ull;
	h = (h ^ k->monitor) * 1099511628211ull;
	return (h ^ k->any) * 1099511628211ull;
}

static bool
key_equal(const struct agg_key *a, const struct agg_key *b)
{
	return sp_addr_equal(&a->net, &b->net) &&
	       a->net.family == b->net.family && a->port == b->port &&
	       a->proto == b->proto && a->dir == b->dir &&
	       a->verdict == b->verdict && a->monitor == b->monitor &&
	       a->any == b->any;
}

/* k's aggregate, made when missing and there are fewer than max; NULL
 * when there is none and may be none. */
static struct agg *
agg_find(struct incomplete *in, const struct agg_key *k, unsigned max)
{
	size_t i = (size_t)(key_hash(k) % SLOTS), n;

	for (n = 0; n < SLOTS; n++, i = (i + 1) % SLOTS) {
		struct agg *a = &in->slot[i];

		if (slot_used(in, i) && key_equal(&a->k, k))
			return a;
		if (!slot_used(in, i)) {
			if (in->nkeys >= max)
				return NULL;
			in->used[i / 64] |= UINT64_C(1) << (i % 64);
			a->k = *k;
			in->nkeys++;
			return a;
		}
	}
	return NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

static bool
same_str(const char *kept, const char *s)
{
	return strcmp(kept != NULL ? kept : "", s != NULL ? s : "") == 0;
}

static void
agg_add(struct agg *a, const struct store_flow *r, const struct sp_addr *other)
{
	if (a->r.flows == 0) {
		a->r = *r;
		a->r.flows = 0;
		a->r.packets_out = a->r.packets_in = 0;
		a->r.bytes_out = a->r.bytes_in = 0;
		a->other = *other;
		a->same_other = a->same_uid = a->same_exe = true;
		a->same_rule = a->same_host = true;
		a->exe = dup_or_null(r->exe);
		a->rule = dup_or_null(r->rule);
		a->host = dup_or_null(r->host);
	}
	a->r.flows++;
	a->r.packets_out += r->packets_out;
	a->r.packets_in += r->packets_in;
	a->r.bytes_out += r->bytes_out;
	a->r.bytes_in += r->bytes_in;
	if (r->first_ns < a->r.first_ns)
		a->r.first_ns = r->first_ns;
	if (r->last_ns > a->r.last_ns)
		a->r.last_ns = r->last_ns;
	if (a->r.pid != r->pid)
		a->r.pid = -1;
	a->same_other = a->same_other && sp_addr_equal(&a->other, other);
	a->same_uid = a->same_uid && a->r.uid == r->uid;
	a->same_exe = a->same_exe && same_str(a->exe, r->exe);
	a->same_rule = a->same_rule && same_str(a->rule, r->rule);
	a->same_host = a->same_host && same_str(a->host, r->host);
}

/* Fold r (an incomplete flow's final record) into its aggregate. */
static void
fold(struct incomplete *in, const struct store_flow *r)
{
	bool out = r->dir == SP_DIR_OUT;
	const struct sp_addr *opener = out ? &r->local : &r->remote;
	const struct sp_addr *other = out ? &r->remote : &r->local;
	struct agg_key k;
	struct agg *a;

	memset(&k, 0, sizeof(k));
	net_of(opener,
	       opener->family == AF_INET ? INCOMPLETE_NET4 : INCOMPLETE_NET6,
	       &k.net);
	k.port = out ? r->remote_port : r->local_port;
	k.proto = r->proto;
	k.dir = r->dir;
	k.verdict = r->verdict;
	k.monitor = (r->flags & STORE_FLOW_MONITOR) != 0;
	a = agg_find(in, &k, INCOMPLETE_MAX_KEYS);
	if (a == NULL) {
		/* Past the keys a minute may hold: any network, any port
		 * (the family, protocol, direction and verdict kept). */
		memset(&k.net, 0, sizeof(k.net));
		k.net.family = opener->family;
		k.port = 0;
		k.any = 1;
		a = agg_find(in, &k, SLOTS - 1);
	}
	in->st.folded++;
	if (a != NULL)
		agg_add(a, r, other);
	else
		in->st.unkept++; /* as many kinds as the table holds */
}

bool
incomplete_end(struct incomplete *in, const struct flow *f,
               const struct store_flow *r)
{
	bool done;

	if (in == NULL || !(f->flags & (FLOW_F_UNANSWERED | FLOW_F_DEFERRED)))
		return true;
	done = incomplete_flow_done(f);
	if (f->flags & FLOW_F_UNANSWERED) {
		in->st.pending--;
		if (!done)
			in->st.ended++;
		return true;
	}
	if (done) {
		in->st.promoted++;
		return true;
	}
	fold(in, r);
	return false;
}

void
incomplete_forget(struct incomplete *in, const struct flow *f)
{
	if (in != NULL && (f->flags & FLOW_F_UNANSWERED))
		in->st.pending--;
}

/* An aggregate as its record: the sides the key names, what all its flows
 * shared, unknown what they did not. */
static void
agg_record(const struct agg *a, struct store_flow *r)
{
	bool out = a->k.dir == SP_DIR_OUT;
	struct sp_addr *opener = out ? &r->local : &r->remote;
	struct sp_addr *other = out ? &r->remote : &r->local;
	uint8_t *opener_plen = out ? &r->local_plen : &r->remote_plen;
	uint8_t *other_plen = out ? &r->remote_plen : &r->local_plen;
	bool v4 = a->k.net.family == AF_INET;

	*r = a->r;
	r->id = flow_id_new();
	r->flags = STORE_FLOW_AGGREGATE | STORE_FLOW_ENDED |
	           (a->k.monitor ? STORE_FLOW_MONITOR : 0);
	*opener = a->k.net;
	*opener_plen = (uint8_t)(a->k.any ? 0
	                         : v4     ? INCOMPLETE_NET4
	                                  : INCOMPLETE_NET6);
	if (a->same_other) {
		*other = a->other;
		*other_plen = v4 ? 32 : 128;
	} else {
		memset(other, 0, sizeof(*other));
		other->family = a->k.net.family;
		*other_plen = 0;
	}
	r->local.family = r->remote.family = a->k.net.family;
	r->local_port = out ? 0 : a->k.port;
	r->remote_port = out ? a->k.port : 0;
	if (!a->same_uid)
		r->uid = FLOW_UID_UNKNOWN;
	r->exe = a->same_exe && a->exe != NULL ? a->exe : "";
	r->rule = a->same_rule && a->rule != NULL ? a->rule : "";
	r->host = a->same_host && a->host != NULL ? a->host : "";
}

void
incomplete_tick(struct incomplete *in, uint64_t now_ns, bool force,
                void (*emit)(const struct store_flow *r, void *arg), void *arg)
{
	uint64_t minute = now_ns / NS_PER_MIN;
	struct store_flow r;
	size_t i;

	if (in == NULL || (!force && minute == in->minute))
		return;
	for (i = 0; i < SLOTS; i++) {
		if (!slot_used(in, i))
			continue;
		agg_record(&in->slot[i], &r);
		emit(&r, arg);
		in->st.aggregates++;
		slot_free(in, i);
	}
	in->nkeys = 0;
	in->minute = minute;
	in->st.ended = 0;
}

void
incomplete_stats(const struct incomplete *in, struct incomplete_stats *st)
{
	if (in == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = in->st;
	st->keys = in->nkeys;
}

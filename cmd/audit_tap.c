/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spackle audit --watch: tap every interface, count the flows on the wire. */
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cmd/audit.h"
#include "divert/divert.h"
#include "spackle/packet.h"
#include "spackle/spackle.h"

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

/*
 * The flows by their 5-tuple as oriented in w->v (local end first), in an
 * open-addressing table of indexes into w->v (w->idx: 0 a free slot, else
 * the index + 1), kept at most half full so every probe ends at a free
 * slot. The tuples come from the network: the hash is keyed with a
 * random seed.
 */
static uint64_t
wire_hash(const struct wire *w, uint8_t proto, const struct sp_addr *l,
          uint16_t lp, const struct sp_addr *r, uint16_t rp)
{
	uint8_t k[2 * sizeof(struct sp_addr) + 2 * sizeof(uint16_t) + 1];

	memcpy(k, l, sizeof(*l));
	memcpy(k + sizeof(*l), r, sizeof(*r));
	memcpy(k + 2 * sizeof(*l), &lp, sizeof(lp));
	memcpy(k + 2 * sizeof(*l) + sizeof(lp), &rp, sizeof(rp));
	k[sizeof(k) - 1] = proto;
	return sp_hash(k, sizeof(k), w->seed);
}

static struct wflow *
wire_find(struct wire *w, uint8_t proto, const struct sp_addr *l, uint16_t lp,
          const struct sp_addr *r, uint16_t rp)
{
	size_t i, mask;
	uint32_t slot;

	if (w->idxcap == 0)
		return NULL;
	mask = w->idxcap - 1;
	for (i = (size_t)wire_hash(w, proto, l, lp, r, rp) & mask;
	     (slot = w->idx[i]) != 0; i = (i + 1) & mask) {
		struct wflow *f = &w->v[slot - 1];

		if (f->proto == proto && f->lport == lp && f->rport == rp &&
		    memcmp(&f->local, l, sizeof(*l)) == 0 &&
		    memcmp(&f->remote, r, sizeof(*r)) == 0)
			return f;
	}
	return NULL;
}

/* Put w->v[at] in the index, which has room for it. */
static void
wire_index_put(struct wire *w, uint32_t *idx, size_t cap, size_t at)
{
	const struct wflow *f = &w->v[at];
	size_t i;

	for (i = (size_t)wire_hash(w, f->proto, &f->local, f->lport, &f->remote,
	                           f->rport) &
	         (cap - 1);
	     idx[i] != 0; i = (i + 1) & (cap - 1))
		;
	idx[i] = (uint32_t)at + 1;
}

/* Room in the index for one more flow: 0, or -1 out of memory. */
static int
wire_index_room(struct wire *w)
{
	size_t cap, i;
	uint32_t *idx;

	if ((w->n + 1) * 2 <= w->idxcap)
		return 0;
	cap = w->idxcap ? 2 * w->idxcap : 512;
	if (cap > SIZE_MAX / sizeof(*idx) || w->n >= UINT32_MAX)
		return -1;
	if ((idx = calloc(cap, sizeof(*idx))) == NULL)
		return -1;
	if (w->idxcap == 0 &&
	    getrandom(&w->seed, sizeof(w->seed), GRND_NONBLOCK) !=
	            (ssize_t)sizeof(w->seed))
		w->seed = sp_now_mono() ^ (uintptr_t)w;
	for (i = 0; i < w->n; i++)
		wire_index_put(w, idx, cap, i);
	free(w->idx);
	w->idx = idx;
	w->idxcap = cap;
	return 0;
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
	bool fwd = false, fresh = false;

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
		if (wire_index_room(w) != 0) {
			w->dropped++;
			return;
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
		f->early = -1;
		wire_index_put(w, w->idx, w->idxcap, w->n - 1);
		fresh = true;
	}
	f->pkts[dir]++;
	f->bytes[dir] += dp->wirelen;
	/* Sent by this host: ask who sent it now, while it may still live. */
	if (fresh && dir == 0 && !fwd && w->on_new != NULL &&
	    (f->proto == SP_PROTO_TCP || f->proto == SP_PROTO_UDP))
		w->on_new(f, w->on_new_arg);
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

/* This host's addresses, for telling local ends (cmd/audit.h). */
int
audit_local_addrs(struct wire *w)
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

/* Tap every interface for secs seconds (cmd/audit.h). */
int
audit_wire_watch(struct wire *w, unsigned secs, json_t *notes)
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
		if (w->on_tick != NULL)
			w->on_tick(w->on_new_arg);
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

void
audit_wire_free(struct wire *w)
{
	free(w->v);
	free(w->idx);
	free(w->local);
	memset(w, 0, sizeof(*w));
}

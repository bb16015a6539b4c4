/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The divert interface: where packets come from and where verdicts go. */
#ifndef SPACKLE_DIVERT_H
#define SPACKLE_DIVERT_H

#include <stddef.h>
#include <stdint.h>

#include "spackle/spackle.h"

/* One packet as a backend hands it over; valid during the callback only. */
struct divert_packet {
	const uint8_t *data;
	size_t caplen;  /* bytes in data */
	size_t wirelen; /* bytes the packet had */
	int link;       /* enum packet_link of data */
	uint64_t ts_ns; /* wall-clock time of capture or queueing */
	uint32_t id;    /* the backend's id for divert_ops.verdict */
	uint32_t uid;   /* socket owner when the backend knows it */
};

typedef void (*divert_cb)(const struct divert_packet *pkt, void *arg);

struct divert;

/*
 * A backend. Platform backends (nfqueue, tun, BSD divert) fill every
 * operation; observe-only backends (pcap) leave verdict NULL.
 */
struct divert_ops {
	const char *name;
	/* Open `spec` (a file, an interface, a queue number); on failure
	 * return -1 with a message for a person in err. */
	int (*open)(struct divert **d, const char *spec, char *err,
	            size_t errlen);
	/* Hand at most max packets (0: all available) to cb. Returns how
	 * many, 0 at the end of a finite source, -1 on error (see err). */
	int (*dispatch)(struct divert *d, int max, divert_cb cb, void *arg);
	int (*verdict)(struct divert *d, uint32_t id, enum sp_verdict v);
	/* The last error, for a person. */
	const char *(*error)(struct divert *d);
	void (*close)(struct divert *d);
};

/* Captures and live taps through libpcap: pcap and pcapng files, or an
 * interface name when spec starts with "live:". Observe only. */
extern const struct divert_ops divert_pcap_ops;

#endif

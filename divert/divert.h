/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The divert interface: where packets come from and where verdicts go.
 * Backends are chosen by name (divert_backend()); the daemon and the
 * commands never name one. */
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
	/* Backends with verdicts (nfqueue) also fill these; others may not. */
	uint32_t gid;   /* socket owner's group, UINT32_MAX unknown */
	uint32_t mark;  /* packet mark as delivered, 0 when none */
	uint32_t flags; /* enum divert_packet_flag */
	int hook;       /* enum divert_hook: where the kernel saw it */
};

/* Where a packet was diverted; captures cannot tell. */
enum divert_hook {
	DIVERT_HOOK_UNKNOWN = 0,
	DIVERT_HOOK_OUT,     /* leaving this host (netfilter LOCAL_OUT) */
	DIVERT_HOOK_IN,      /* for this host (LOCAL_IN) */
	DIVERT_HOOK_FORWARD, /* through this host (FORWARD) */
};

enum divert_packet_flag {
	DIVERT_PKT_GSO = 1u << 0,       /* a GSO super-packet, held whole */
	DIVERT_PKT_CSUM_TODO = 1u << 1, /* checksums not filled in yet */
};

/*
 * One verdict of a batch. With mark 0 the packet gets v; with one of the
 * STEER_MARK_* values of spackle/mark.h it goes on with that mark instead
 * (as verdict_mark() says) and v only names the verdict it is counted as.
 */
struct divert_verdict {
	uint32_t id;
	enum sp_verdict v;
	uint32_t mark;
};

/* Counters a backend keeps (all since open). */
struct divert_stats {
	uint64_t received; /* packets handed to the callback */
	uint64_t accepted; /* verdicts sent, by kind */
	uint64_t dropped;
	uint64_t rejected;
	uint64_t enobufs; /* receive overruns: the kernel lost messages */
	uint64_t verdict_errors; /* verdicts the kernel refused */
	uint64_t malformed;    /* messages from the kernel we could not read */
	uint64_t requeued;     /* packets queued again before open finished */
	uint64_t unanswered;   /* packets never answered: their id's slot was
	                          needed for a newer packet */
	uint64_t gso;          /* GSO super-packets received whole */
	uint64_t segments;     /* what the tunnel sent out for them, cut to the
	                          MTU (its raw socket takes no more) */
	uint64_t gso_in_extra; /* the tunnel: segments beyond one each that
	                          the super-packets coming in stood for (tc's
	                          redirect counts every segment) */
};

/*
 * What the kernel counts for one divert point (a queue, a device), read
 * from the kernel, not from the backend's socket: the figures `spackle
 * audit` and the daemon's drop watch reconcile with their own.
 */
struct divert_kernel_stats {
	uint32_t holder;       /* who holds it (nfqueue: netlink port id) */
	uint64_t waiting;      /* packets waiting for user space now */
	uint64_t diverted;     /* packets diverted to it since it was bound */
	uint64_t dropped_full; /* lost: the kernel's queue was full */
	uint64_t dropped_user; /* lost: the reader's socket buffer was */
	uint32_t copy_range;   /* bytes of each packet copied to user space */
};

/*
 * The packets one read of the source brought (at most DIVERT_BURST_MAX),
 * handed over together so the caller can classify them as a burst and
 * answer them with one batched verdict send. Valid during the callback.
 */
#define DIVERT_BURST_MAX 32
typedef void (*divert_burst_cb)(const struct divert_packet *pkts, size_t n,
                                void *arg);

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
	/* Hand at most max packets (0: what one read of the source brings)
	 * to cb, in bursts. Returns how many, 0 at the end of a finite
	 * source, -1 on error (see err). */
	int (*dispatch)(struct divert *d, int max, divert_burst_cb cb,
	                void *arg);
	int (*verdict)(struct divert *d, uint32_t id, enum sp_verdict v);
	/* The last error, for a person. */
	const char *(*error)(struct divert *d);
	void (*close)(struct divert *d);
	/* Optional (NULL in observe-only backends). */
	/* The descriptor to watch for reading (libevent), or -1. */
	int (*fd)(struct divert *d);
	/* n verdicts with as few system calls as the backend can manage
	 * (from inside dispatch's callback: none until the burst's read is
	 * answered). 0, or -1 when any failed (see err; the rest are sent). */
	int (*verdict_batch)(struct divert *d, const struct divert_verdict *v,
	                     size_t n);
	/* The backend's own counters; call it from the thread that
	 * dispatches (they are not atomic). */
	void (*stats)(struct divert *d, struct divert_stats *st);
	/* What the kernel counts for the divert point spec names (the same
	 * spec as open's; its options are ignored): 0, or -1 when the kernel
	 * has no such point now. Needs no open divert: audit reads it from
	 * another process. */
	int (*kernel_stats)(const char *spec, struct divert_kernel_stats *st);
	/* Let the packet go on by repeating it with the steering mark bits
	 * set to mark (one of STEER_MARK_*: the chain acts on it; flow mode
	 * keeps DENY for the flow and ONCE for nothing). Counted as the
	 * verdict the mark stands for. */
	int (*verdict_mark)(struct divert *d, uint32_t id, uint32_t mark);
};

/* The backend called name ("nfqueue"), or NULL. */
const struct divert_ops *divert_backend(const char *name);
/* The backends' names, for a message: "nfqueue, pcap". */
const char *divert_backend_names(void);

/* Captures and live taps through libpcap: pcap and pcapng files, or an
 * interface name when spec starts with "live:" ("live:eth0,headers": only
 * the first 256 bytes of each packet). Observe only. */
extern const struct divert_ops divert_pcap_ops;

/*
 * Linux NFQUEUE (nfnetlink_queue), one struct divert per queue: spec is
 * "QUEUE[,OPTION...]", e.g. "4200" or "4200,failure=open,copy=128".
 * docs/divert.md describes it in full. Options:
 *
 *   failure=open|closed  NFQA_CFG_F_FAIL_OPEN or not (default closed: the
 *                        kernel drops what overflows the queue)
 *   copy=N               bytes of each packet copied to user space, 1..65535
 *                        (default 65535: DNS answers need the whole packet)
 *   maxlen=N             kernel queue length, 1..65536 (default 4096)
 *   rcvbuf=N             socket receive buffer, bytes (default 8 MiB)
 *
 * The socket is non-blocking: dispatch() reads what is there (up to 16
 * packets per system call, one burst) and returns 0 when nothing is. When it
 * returns max, call it again before waiting on fd(): packets may wait in the
 * backend's buffer. Verdicts given from inside the callback are sent
 * together when dispatch() returns (or its buffer fills); verdicts given
 * outside go at once.
 *
 * verdict() answers as docs/steering.md says: SP_VERDICT_ALLOW repeats the
 * packet with the mark STEER_MARK_ACCEPT, SP_VERDICT_REJECT repeats it with
 * STEER_MARK_REJECT (in both only the STEER_MARK_MASK bits of the
 * delivered mark change), SP_VERDICT_DENY drops it (NF_DROP). It returns
 * -1 for SP_VERDICT_NONE and for an id the backend no longer remembers
 * (answered already, or DIVERT_NFQ_PENDING_MAX or more ids older than the
 * newest packet).
 */
#define DIVERT_NFQ_PENDING_MAX 16384u
extern const struct divert_ops divert_nfqueue_ops;

/*
 * The tunnel: spec is the interface name ("spackle0"; macOS "utunN"). Each
 * open attaches one queue of the tun device (IFF_MULTI_QUEUE), creating it
 * the first time, sets it up with reverse-path filtering loose; the device
 * goes when the last queue closes. Packets the kernel routes or redirects
 * into it are read in bursts; a packet for an address of this host is
 * taken as inbound (DIVERT_HOOK_IN), any other as outbound. Verdicts must
 * be given from inside the burst's callback (its packets are not kept):
 * ALLOW re-injects (outbound through a libnet raw socket whose packets
 * carry STEER_MARK_ACCEPT, inbound by writing into the tunnel), DENY drops,
 * REJECT sends tun_reply()'s answer the other way. No verdict_mark: flow
 * mode needs NFQUEUE. kernel_stats reads the device's counters (tx: into
 * the tunnel). docs/divert.md describes it in full.
 *
 * OpenBSD (written to divert(4), not yet run): no tunnel; spec is the
 * divert port alone, "4200" (1-65535: queue_base, as pfconf/pf.c writes
 * `divert-packet port 4200`). Open binds a divert(4) socket of each family
 * to it (root only; one reader per port, so open it once) and fd() is a
 * kqueue over both. The address recvfrom() gives a packet says its way:
 * unspecified, outbound; else inbound on the interface of that address.
 * ALLOW sends it back with sendto() on its socket with that address,
 * skipping pf; DENY drops; REJECT sends the reply the other way (out
 * with the unspecified address, in with the reply's destination). With
 * no socket bound, pf's divert drops: it fails closed. No kernel_stats.
 */
extern const struct divert_ops divert_tun_ops;

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* capture_denied: denied packets to a pcap file, size-capped and rotated. */
#ifndef SPACKLE_CAPTURE_H
#define SPACKLE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#define CAPTURE_DEFAULT_MAX_SIZE (64ull << 20) /* capture_max_size */
#define CAPTURE_DEFAULT_KEEP     4u            /* capture_keep */
#define CAPTURE_MIN_SIZE         1024u
#define CAPTURE_SNAPLEN          65535u

/*
 * A capture is a classic pcap file (nanosecond timestamps, link type
 * LINKTYPE_RAW: each record starts at the IPv4 or IPv6 header), written with
 * libpcap's dump API, so tcpdump -r and Wireshark open it. A file never
 * grows past max_size bytes: the record that would cross it first rotates
 * the files, PATH to PATH.1, PATH.1 to PATH.2, ... and PATH.keep is removed
 * (keep 0: PATH alone, started again). A PATH found at open is rotated the
 * same way, so a restart keeps the previous capture.
 *
 * Threads: one capture is shared by every worker. A write takes a mutex,
 * copies the packet into a 64 KiB stdio buffer and returns; the buffer goes
 * to the file when full, when a second has passed since the last write-out,
 * at a rotation and at close. A worker may thus wait for another one's
 * write (microseconds) or for a rotation (a rename per kept file). Errors
 * (disk full) are counted, never fatal; a file that cannot be reopened is
 * retried at most once a second.
 */
struct capture;

struct capture_stats {
	uint64_t packets;   /* written */
	uint64_t bytes;     /* of file written, headers included */
	uint64_t rotations; /* files rotated */
	uint64_t errors;    /* packets not written: I/O errors, no file */
};

/* Open (rotating an existing PATH away); NULL with a message in err. */
struct capture *capture_open(const char *path, uint64_t max_size, unsigned keep,
                             char *err, size_t errlen);

/*
 * Write one packet: caplen bytes at pkt (cut to CAPTURE_SNAPLEN) of a packet
 * wirelen bytes long, seen at ts_ns (wall clock). 0, or -1 when it could not
 * be written (counted).
 */
int capture_write(struct capture *c, const uint8_t *pkt, size_t caplen,
                  size_t wirelen, uint64_t ts_ns);

/* Push buffered packets to the file (the daemon's tick; tests). */
void capture_flush(struct capture *c);

void capture_stats(struct capture *c, struct capture_stats *st);

/* Flush and close; NULL is fine. */
void capture_close(struct capture *c);

#endif

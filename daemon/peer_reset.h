/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The remote end of a flow held for its name and denied on its payload:
 * the local end gets its reset from the reject, but the server holds an
 * established connection that will never carry a byte, and a server that
 * serves one client at a time stops answering anyone. A worker sends the
 * server a reset in the local end's name (libnet, a raw socket marked to
 * pass the steering).
 */
#ifndef SPACKLE_DAEMON_PEER_RESET_H
#define SPACKLE_DAEMON_PEER_RESET_H

#include <stddef.h>
#include <stdint.h>

struct peer_reset;

/* Raw sockets for both families; NULL with a message in err. Needs
 * CAP_NET_RAW, and CAP_NET_ADMIN for the mark. */
struct peer_reset *peer_reset_open(char *err, size_t errlen);
void peer_reset_close(struct peer_reset *r);

/*
 * Reset the connection of the TCP segment pkt (len bytes from its IP
 * header) at its receiver: a RST with ACK from its source to its
 * destination, at the segment's own sequence number (what the receiver
 * expects next, as the segment never reached it) and acknowledging what
 * the segment acknowledged. 0, or -1 with a message in err.
 */
int peer_reset_send(struct peer_reset *r, const uint8_t *pkt, size_t len,
                    char *err, size_t errlen);

#endif

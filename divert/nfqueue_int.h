/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the NFQUEUE backend's two files share (divert/nfqueue.c, the
 * socket and its messages; divert/nfqueue_spec.c, specs and the kernel's
 * figures). Not an interface: the backend's is divert_nfqueue_ops. */
#ifndef SPACKLE_DIVERT_NFQUEUE_INT_H
#define SPACKLE_DIVERT_NFQUEUE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "divert/divert.h"

#define NFQ_COPY_DEFAULT   0xffffu
#define NFQ_MAXLEN_DEFAULT 4096u
#define NFQ_RCVBUF_DEFAULT (8u << 20)

struct nfqueue_opts {
	uint16_t queue;
	bool fail_open;
	uint32_t copy;
	uint32_t maxlen;
	uint32_t rcvbuf;
};

/* "QUEUE[,failure=open|closed][,copy=N][,maxlen=N][,rcvbuf=N]" into o;
 * false with the reason in err. */
bool nfqueue_parse_spec(const char *spec, struct nfqueue_opts *o, char *err,
                        size_t errlen);
/* divert_ops.kernel_stats: /proc/net/netfilter/nfnetlink_queue's line for
 * the queue spec names. */
int nfqueue_kernel_stats(const char *spec, struct divert_kernel_stats *st);
/* Why binding queue q failed with error, for a person, into err. */
void nfqueue_bind_error(uint16_t q, int error, char *err, size_t errlen);

#endif

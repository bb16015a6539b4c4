/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the tunnel backend's files share (divert/tun.c, the device, its
 * reads and verdicts; divert/tun_counters.c, the kernel's figures). Not an
 * interface: the backend's is divert_tun_ops. */
#ifndef SPACKLE_DIVERT_TUN_INT_H
#define SPACKLE_DIVERT_TUN_INT_H

#include "divert/divert.h"

#define TUN_PKT_MAX 65536u /* one read: the largest IP packet */

/* divert_ops.kernel_stats: the device spec names, from sysfs (Linux). */
int tun_kernel_stats(const char *spec, struct divert_kernel_stats *st);

#endif

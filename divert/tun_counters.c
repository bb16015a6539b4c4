/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tunnel's figures as the kernel counts them, read from sysfs by any
 * process (`spackle audit` too), no open tunnel needed (tun_int.h). */
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "divert/tun_int.h"

/* A counter of the interface, from sysfs; -1 when there is none. */
static int
tun_sys_counter(const char *dev, const char *what, uint64_t *v)
{
	char path[128];
	unsigned long long x;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", dev, what);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	rc = fscanf(f, "%llu", &x) == 1 ? 0 : -1;
	fclose(f);
	*v = x;
	return rc;
}

/*
 * The tun's own counters: what the kernel sent into it (tx: every packet
 * steered to spackle) and what it dropped there, a reader too slow or
 * gone. Linux alone (sysfs).
 */
int
tun_kernel_stats(const char *spec, struct divert_kernel_stats *st)
{
	uint64_t idx = 0;

	memset(st, 0, sizeof(*st));
	if (strchr(spec, '/') != NULL || strlen(spec) >= IFNAMSIZ ||
	    tun_sys_counter(spec, "ifindex", &idx) != 0 ||
	    tun_sys_counter(spec, "statistics/tx_packets", &st->diverted) !=
	            0 ||
	    tun_sys_counter(spec, "statistics/tx_dropped", &st->dropped_full) !=
	            0)
		return -1;
	st->holder = (uint32_t)idx;
	st->copy_range = TUN_PKT_MAX - 1;
	return 0;
}

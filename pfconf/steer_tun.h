/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tunnel backend's routing and tc steering, for pfconf/ alone
 * (steer_tun.c; what it installs: tun_text.c). */
#ifndef SPACKLE_PFCONF_STEER_TUN_H
#define SPACKLE_PFCONF_STEER_TUN_H

#include <stddef.h>

#include "spackle/config.h"

/*
 * After the marking rules: the tun's route and fwmark rule, and with the
 * `in` hook each interface's ingress redirect (and, with failure open, the
 * guard that removes the redirects if the daemon dies). The tun must be
 * up. All or nothing: 0, or -errno with err saying which command failed.
 */
int steer_tun_apply(const struct config *c, char *err, size_t errlen);

/* Remove all of it from every interface, whatever config installed it
 * (a clean stop, and the crash cleanup at start); stops this process's
 * guard first. Failures are not reported: what is not there is fine. */
void steer_tun_remove(void);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which configs can be made into steering rules: the check every generator
 * and the install run first (include/spackle/steer_names.h). */

/*
 * The bottom of pfconf/: the generators (iptables.c, nft.c), the reader
 * (fw*.c) and the install (steer*.c) all call down to here, and this file
 * calls nothing of pfconf/.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pfconf/steer_err.h"
#include "spackle/steer_names.h"

void
steer_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
steer_validate(const struct config *c, char *err, size_t errlen)
{
	const unsigned known =
	        CONFIG_HOOK_OUT | CONFIG_HOOK_IN | CONFIG_HOOK_FORWARD;
	const char *name, *s;
	unsigned i, j;

	if (c == NULL) {
		steer_seterr(err, errlen, "steering: no configuration");
		return -EINVAL;
	}
	/* The balanced queues, then the DNS queue. */
	if (c->queues < 1 || (unsigned long)c->queue_base + c->queues > 65535) {
		steer_seterr(err, errlen,
		             "steering: queues %u from queue_base %u do not "
		             "fit in the queue numbers 0-65535",
		             c->queues, c->queue_base);
		return -EINVAL;
	}
	if (c->hooks == 0 || (c->hooks & ~known) != 0) {
		steer_seterr(err, errlen,
		             "steering: hooks must be some of out, in, "
		             "forward (bits 0x%x)",
		             c->hooks);
		return -EINVAL;
	}
	if (c->failure != CONFIG_FAILURE_OPEN &&
	    c->failure != CONFIG_FAILURE_CLOSED) {
		steer_seterr(err, errlen, "steering: bad failure policy %d",
		             (int)c->failure);
		return -EINVAL;
	}
	if (c->divert != CONFIG_DIVERT_PACKET &&
	    c->divert != CONFIG_DIVERT_FLOW) {
		steer_seterr(err, errlen, "steering: bad divert mode %d",
		             (int)c->divert);
		return -EINVAL;
	}
	if (c->nexempt > CONFIG_EXEMPT_MAX) {
		steer_seterr(err, errlen, "steering: %u exemptions, at most %d",
		             c->nexempt, CONFIG_EXEMPT_MAX);
		return -EINVAL;
	}
	/* The tunnel backend is steered by routing and tc, per packet. */
	if (c->backend == CONFIG_BACKEND_TUN &&
	    (c->divert == CONFIG_DIVERT_FLOW ||
	     (c->hooks & CONFIG_HOOK_FORWARD) != 0)) {
		steer_seterr(err, errlen,
		             "steering: backend = tun diverts packets leaving "
		             "and reaching this host, one at a time: %s needs "
		             "backend = nfqueue",
		             c->divert == CONFIG_DIVERT_FLOW
		                     ? "divert = flow"
		                     : "hooks = forward");
		return -EINVAL;
	}
	if (c->backend == CONFIG_BACKEND_TUN) {
		for (s = c->tun_name; *s; s++)
			if (!isalnum((unsigned char)*s) &&
			    strchr("-_.@", *s) == NULL)
				break;
		if (*s != '\0' || c->tun_name[0] == '\0') {
			steer_seterr(err, errlen,
			             "steering: tun_name \"%s\" is not an "
			             "interface name",
			             c->tun_name);
			return -EINVAL;
		}
	}
	for (i = 0; i < c->nexempt; i++) {
		/* The name goes into rule text: only plain characters. */
		name = c->exempt[i];
		if (memchr(name, '\0', CONFIG_IFNAME_MAX) == NULL ||
		    name[0] == '\0') {
			steer_seterr(err, errlen,
			             "steering: exemption %u is not an "
			             "interface name",
			             i + 1);
			return -EINVAL;
		}
		/* A protocol word: one rule per hook, so only once. */
		for (j = 0; steer_exempt_proto(name) != 0 && j < i; j++) {
			if (strcmp(c->exempt[j], name) == 0) {
				steer_seterr(err, errlen,
				             "steering: exemption %s is "
				             "listed twice",
				             name);
				return -EINVAL;
			}
		}
		for (s = name; *s; s++) {
			if (!isalnum((unsigned char)*s) &&
			    strchr("-_.@", *s) == NULL) {
				steer_seterr(err, errlen,
				             "steering: exemption \"%s\" is "
				             "not an interface name",
				             name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

unsigned
steer_exempt_proto(const char *name)
{
	if (name == NULL)
		return 0;
	if (strcmp(name, CONFIG_EXEMPT_ICMP) == 0)
		return SP_PROTO_ICMP;
	if (strcmp(name, CONFIG_EXEMPT_ICMP6) == 0)
		return SP_PROTO_ICMP6;
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iptables-restore text that puts spackle's steering back as installed. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pfconf/fwread_priv.h"
#include "spackle/fwread.h"

/* Is the jump part of h right: one unconditional rule 1? */
static bool
fw_jump_ok(const struct fw_hook_check *h, const struct fw_expected *e,
           size_t hi)
{
	char *n;
	bool ok;

	if (h->jumps != 1 || h->jump_pos != 1 || h->jump_specs == NULL)
		return false;
	n = fw_norm(h->jump_specs[0]);
	ok = n != NULL && strcmp(n, e->jump[hi]) == 0;
	free(n);
	return ok;
}

int
fw_repair_text(const struct config *c, int family,
               const struct fw_steer_check *ch, FILE *out)
{
	struct fw_expected e;
	const struct fw_hook_check *h;
	bool fix_jump[FW_NHOOKS] = {false}, fix_chain[FW_NHOOKS] = {false};
	bool present[FW_NHOOKS] = {false};
	const struct fw_hook_check *which[FW_NHOOKS] = {NULL};
	size_t i, k;
	unsigned j;
	int rc, n = 0;

	if (ch == NULL || out == NULL ||
	    (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	if ((rc = fw_expected_build(c, family, &e)) < 0)
		return rc;
	for (k = 0; k < ch->n; k++) {
		h = &ch->v[k];
		if (h->family != family || h->ok)
			continue;
		for (i = 0; i < FW_NHOOKS; i++)
			if ((c->hooks & fw_hooks[i].bit) && h->hook != NULL &&
			    strcmp(h->hook, fw_hooks[i].hook) == 0)
				break;
		if (i == FW_NHOOKS || which[i] != NULL)
			continue; /* not c's hook, or seen already */
		which[i] = h;
		fix_jump[i] = !fw_jump_ok(h, &e, i);
		fix_chain[i] =
		        !h->chain_present || h->nmissing > 0 || h->nextra > 0;
		present[i] = h->chain_present;
		/* ok but for nothing found wrong: put the jump back anyway */
		if (!fix_jump[i] && !fix_chain[i])
			fix_jump[i] = true;
		n++;
	}
	if (n == 0) {
		fw_expected_free(&e);
		return 0;
	}
	fprintf(out, "# spackle steering repair, %s: %s-restore --noflush\n",
	        family == AF_INET6 ? "IPv6" : "IPv4",
	        family == AF_INET6 ? "ip6tables" : "iptables");
	fputs("*filter\n", out);
	for (i = 0; i < FW_NHOOKS; i++)
		if (fix_chain[i] && !present[i])
			fprintf(out, ":%s - [0:0]\n", fw_hooks[i].chain);
	for (i = 0; i < FW_NHOOKS; i++) {
		h = which[i];
		if (!fix_jump[i])
			continue;
		for (j = 0; j < h->jumps && h->jump_specs != NULL; j++) {
			/* "-A HOOK spec" -> "-D HOOK spec" */
			const char *s = h->jump_specs[j];

			if (strncmp(s, "-A ", 3) == 0)
				fprintf(out, "-D %s\n", s + 3);
		}
	}
	for (i = 0; i < FW_NHOOKS; i++) {
		if (!fix_chain[i])
			continue;
		if (present[i])
			fprintf(out, "-F %s\n", fw_hooks[i].chain);
		for (k = 0; k < e.n; k++)
			if (strcmp(e.v[k].chain, fw_hooks[i].chain) == 0)
				fprintf(out, "%s\n", e.v[k].line);
	}
	for (i = 0; i < FW_NHOOKS; i++)
		if (fix_jump[i])
			fprintf(out, "-I %s 1 -j %s\n", fw_hooks[i].hook,
			        fw_hooks[i].chain);
	fputs("COMMIT\n", out);
	fw_expected_free(&e);
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return n;
}

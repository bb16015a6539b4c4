/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Check that spackle's iptables steering is first and whole, and put it back
 * where it is not (steer_repair()). */

/*
 * Reading iptables-save, comparing it with what c installs and writing the
 * repair are the firewall reader's (include/spackle/fwread.h); this file
 * runs iptables-save and iptables-restore around them (steer_run.c).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfconf/steer_run.h"
#include "spackle/fwread.h"
#include "spackle/steer.h"

/* Read and check one family's steering; ch is filled (caller frees). */
static int
steer_check_family(const struct config *c, int family,
                   struct fw_steer_check *ch, char *err, size_t errlen)
{
	struct fw_ruleset rs = {0};
	char *save = NULL, perr[256] = "";
	size_t len;
	int rc;

	if ((rc = steer_save(family, &save, &len, err, errlen)) < 0)
		return rc;
	rc = fw_parse_save(save, len, family, "filter", &rs, perr,
	                   sizeof(perr));
	free(save);
	if (rc < 0) {
		steer_seterr(err, errlen, "%s -c: cannot read its output: %s",
		             family == AF_INET6 ? "ip6tables-save"
		                                : "iptables-save",
		             rc == -ENOMEM ? strerror(ENOMEM) : perr);
		fw_ruleset_free(&rs);
		return rc;
	}
	rc = fw_check_steering(c, family, &rs, ch);
	fw_ruleset_free(&rs);
	if (rc < 0)
		steer_seterr(err, errlen, "steering: cannot check: %s",
		             strerror(-rc));
	return rc;
}

/* "IPv4 OUTPUT (what was wrong)" for each hook of ch that is not ok. */
static void
steer_describe_check(const struct fw_steer_check *ch, FILE *f)
{
	const struct fw_hook_check *h;
	const char *sep;
	char jump[96];
	size_t i;

	for (i = 0; i < ch->n; i++) {
		h = &ch->v[i];
		if (h->ok)
			continue;
		fprintf(f, "%s%s %s (", ftell(f) > 0 ? ", " : "",
		        h->family == AF_INET6 ? "IPv6" : "IPv4", h->hook);
		snprintf(jump, sizeof(jump), "-A %s -j %s", h->hook, h->chain);
		sep = ", ";
		if (h->jumps == 0)
			fprintf(f, "no jump to %s", h->chain);
		else if (h->jumps > 1)
			fprintf(f, "%u jumps to %s", h->jumps, h->chain);
		else if (h->jump_pos != 1)
			fprintf(f, "jump at rule %u", h->jump_pos);
		else if (h->jump_specs != NULL &&
		         strcmp(h->jump_specs[0], jump) != 0)
			fprintf(f, "jump not as installed");
		else
			sep = "";
		if (h->nabove > 0)
			fprintf(f, ", %zu rule%s before it", h->nabove,
			        h->nabove == 1 ? "" : "s");
		if (!h->chain_present)
			fprintf(f, "%s%s missing", sep, h->chain);
		else if (h->nmissing > 0 || h->nextra > 0)
			fprintf(f, "%s%s: %zu rule%s missing, %zu extra", sep,
			        h->chain, h->nmissing,
			        h->nmissing == 1 ? "" : "s", h->nextra);
		fputc(')', f);
	}
}

static int
steer_repair_family(const struct config *c, int family, FILE *what, char *err,
                    size_t errlen)
{
	struct fw_steer_check ch = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc, n;

	if ((rc = steer_check_family(c, family, &ch, err, errlen)) < 0)
		goto out;
	if (ch.ok)
		goto out;
	steer_describe_check(&ch, what);
	f = open_memstream(&text, &len);
	if (f == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	n = fw_repair_text(c, family, &ch, f);
	if (fclose(f) != 0 && n >= 0)
		n = -ENOMEM;
	if (n <= 0) {
		rc = n;
		if (n < 0)
			steer_seterr(err, errlen,
			             "steering: cannot write the repair: %s",
			             strerror(-n));
		goto out;
	}
	if ((rc = steer_restore(family, text, len, "repair", err, errlen)) < 0)
		goto out;

	/* Read it back: a repair that does not take must not pass for one. */
	fw_steer_check_free(&ch);
	if ((rc = steer_check_family(c, family, &ch, err, errlen)) < 0)
		goto out;
	if (!ch.ok) {
		char still[512] = "";
		FILE *s = fmemopen(still, sizeof(still) - 1, "w");

		if (s != NULL) {
			steer_describe_check(&ch, s);
			fclose(s);
		}
		steer_seterr(err, errlen,
		             "steering: repaired, yet still not as installed: "
		             "%s",
		             still);
		rc = -EIO;
		goto out;
	}
	rc = n;
out:
	fw_steer_check_free(&ch);
	free(text);
	return rc;
}

int
steer_repair(const struct config *c, char *err, size_t errlen)
{
	char *what = NULL;
	size_t wlen = 0;
	FILE *f;
	int rc, total = 0, i;

	if ((rc = steer_validate(c, err, errlen)) < 0)
		return rc;
	if (steer_firewall(c) == CONFIG_FIREWALL_NFT) {
		steer_seterr(err, errlen,
		             "steering: repair of the nft table inet %s is not "
		             "supported yet",
		             STEER_NFT_TABLE);
		return -ENOTSUP;
	}
	f = open_memstream(&what, &wlen);
	if (f == NULL)
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		if (i == 1 && !steer_has_ipv6())
			break;
		rc = steer_repair_family(c, i ? AF_INET6 : AF_INET, f, err,
		                         errlen);
		if (rc < 0)
			break;
		total += rc;
	}
	if (fclose(f) != 0 && rc >= 0)
		rc = -ENOMEM;
	if (rc >= 0) {
		rc = total;
		if (total > 0)
			steer_seterr(err, errlen, "steering repaired: %s",
			             what != NULL ? what : "");
		else
			steer_seterr(err, errlen, "%s", "");
	}
	free(what);
	return rc;
}

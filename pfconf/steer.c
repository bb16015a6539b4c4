/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Install and remove the steering rules by running iptables-restore or nft. */

/*
 * The texts come from iptables.c and nft.c; this file only feeds them to
 * the tools (steer_run.c runs them). iptables-restore applies one family's
 * text in one commit, nft -f one ruleset in one transaction: the host never
 * sees half of spackle's rules.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfconf/steer_run.h"
#include "pfconf/steer_tun.h"
#include "spackle/steer.h"

/* Text of one generator, in memory. */
enum steer_kind {
	STEER_IPT4,
	STEER_IPT6,
	STEER_IPT_REMOVE,
	STEER_NFT,
	STEER_NFT_REMOVE,
};

static int
steer_text(const struct config *c, enum steer_kind kind, char **buf,
           size_t *len)
{
	FILE *f;
	int rc = -EINVAL;

	*buf = NULL;
	*len = 0;
	f = open_memstream(buf, len);
	if (f == NULL)
		return -errno;
	switch (kind) {
	case STEER_IPT4:
		rc = steer_iptables_text(c, AF_INET, f);
		break;
	case STEER_IPT6:
		rc = steer_iptables_text(c, AF_INET6, f);
		break;
	case STEER_IPT_REMOVE:
		rc = steer_iptables_remove_text(c, f);
		break;
	case STEER_NFT:
		rc = steer_nft_text(c, f);
		break;
	case STEER_NFT_REMOVE:
		rc = steer_nft_remove_text(f);
		break;
	}
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return rc;
}

/* Remove whatever of spackle's ip(6)tables-save lists in table (filter:
 * the NFQUEUE chains; mangle: the tun's marking). */
static int
steer_ipt_cleanup(int family, const char *table, char *err, size_t errlen)
{
	char t[8];
	char *argv[] = {family == AF_INET6 ? "ip6tables-save" : "iptables-save",
	                "-t", t, NULL};
	struct steer_out o;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc, n;

	snprintf(t, sizeof(t), "%s", table);
	rc = steer_exec(argv, NULL, 0, &o);
	if (rc == -ENOENT)
		return 0; /* no iptables, so none of its rules are ours */
	if (rc < 0) {
		steer_seterr(err, errlen, "%s: cannot run: %s", argv[0],
		             strerror(-rc));
		return rc;
	}
	if (o.status != 0) {
		steer_fail(err, errlen, argv[0], &o, NULL);
		steer_out_free(&o);
		return -EIO;
	}
	f = open_memstream(&text, &len);
	if (f == NULL) {
		rc = -errno;
		steer_out_free(&o);
		return rc;
	}
	n = steer_iptables_cleanup_text(o.out, o.outlen, f);
	if (fclose(f) != 0 && n >= 0)
		n = -EIO;
	steer_out_free(&o);
	if (n < 0) {
		steer_seterr(err, errlen, "%s: cannot write the cleanup: %s",
		             argv[0], strerror(-n));
		rc = n;
	} else if (n > 0) {
		rc = steer_restore(family, text, len, "stale rules", err,
		                   errlen);
	}
	free(text);
	return rc;
}

static int
steer_nft_cleanup(char *err, size_t errlen)
{
	char *argv[] = {"nft", "list", "table", "inet", STEER_NFT_TABLE, NULL};
	char remove[64];
	struct steer_out o;
	int rc, n;

	rc = steer_exec(argv, NULL, 0, &o);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		steer_seterr(err, errlen, "nft: cannot run: %s", strerror(-rc));
		return rc;
	}
	n = o.status;
	steer_out_free(&o);
	if (n != 0)
		return 0; /* no such table (or no nf_tables at all) */
	n = snprintf(remove, sizeof(remove), "delete table inet %s\n",
	             STEER_NFT_TABLE);
	return steer_nft_run(remove, (size_t)n, "stale table", NULL, err,
	                     errlen);
}

int
steer_cleanup(char *err, size_t errlen)
{
	static const char *const tables[] = {"filter", "mangle"};
	unsigned i;
	int rc;

	for (i = 0; i < 2; i++) {
		if ((rc = steer_ipt_cleanup(AF_INET, tables[i], err, errlen)) <
		    0)
			return rc;
		if (steer_has_ipv6() &&
		    (rc = steer_ipt_cleanup(AF_INET6, tables[i], err, errlen)) <
		            0)
			return rc;
	}
	/* The tun backend's routing and tc, whichever backend ran. */
	steer_tun_remove();
	return steer_nft_cleanup(err, errlen);
}

/*
 * iptables-nft creates the kernel table `ip filter` (`ip6 filter`) on first
 * use, with its three base chains, and iptables-restore cannot delete it
 * again. To leave the host's firewall exactly as it was, spackle notes
 * whether the table existed before it installed anything (one daemon per
 * process: a file-level note), and on removal deletes a table it made, if
 * nothing but empty accepting base chains is left in it.
 */
static bool steer_made_table[2];
/* Which table: filter (NFQUEUE) or mangle (the tun's marking). */
static char steer_made_name[8] = "filter";

static bool
steer_nft_table_exists(int family)
{
	char *argv[] = {"nft",           "list",
	                "table",         family == AF_INET6 ? "ip6" : "ip",
	                steer_made_name, NULL};
	struct steer_out o;
	bool exists;

	if (steer_exec(argv, NULL, 0, &o) < 0)
		return true; /* no nft: cannot tell, so never delete */
	exists = o.status == 0;
	steer_out_free(&o);
	return exists;
}

/* Is the table of this family nothing but ACCEPT base chains? */
static bool
steer_filter_empty(int family)
{
	char *argv[] = {family == AF_INET6 ? "ip6tables-save" : "iptables-save",
	                "-t", steer_made_name, NULL};
	struct steer_out o;
	const char *p, *nl;
	bool empty = true;

	if (steer_exec(argv, NULL, 0, &o) < 0)
		return false;
	if (o.status != 0 || o.out == NULL) {
		steer_out_free(&o);
		return false;
	}
	for (p = o.out; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		/* A rule, or a chain that is not a built-in accepting one
		 * (":NAME ACCEPT [p:b]"; a chain of the user's has "-"). */
		if (*p == '-' ||
		    (*p == ':' &&
		     (strcspn(p, " \n") >= (size_t)(nl - p) ||
		      strncmp(p + strcspn(p, " \n"), " ACCEPT ", 8) != 0)))
			empty = false;
		if (*nl == '\0')
			break;
	}
	steer_out_free(&o);
	return empty;
}

static void
steer_note_tables(const struct config *c)
{
	int i;

	snprintf(steer_made_name, sizeof(steer_made_name), "%s",
	         c->backend == CONFIG_BACKEND_TUN ? "mangle" : "filter");
	for (i = 0; i < 2; i++)
		steer_made_table[i] =
		        steer_iptables_variant() == STEER_IPT_NFT &&
		        !steer_nft_table_exists(i ? AF_INET6 : AF_INET);
}

static void
steer_drop_made_tables(void)
{
	int i, fam;

	for (i = 0; i < 2; i++) {
		char *argv[] = {"nft",           "delete",
		                "table",         i ? "ip6" : "ip",
		                steer_made_name, NULL};
		struct steer_out o;

		fam = i ? AF_INET6 : AF_INET;
		if (!steer_made_table[i] || !steer_filter_empty(fam))
			continue;
		if (steer_exec(argv, NULL, 0, &o) == 0)
			steer_out_free(&o);
		steer_made_table[i] = false;
	}
}

static int
steer_apply_iptables(const struct config *c, char *err, size_t errlen)
{
	char *text = NULL, scratch[256];
	size_t len;
	int rc;

	if ((rc = steer_text(c, STEER_IPT4, &text, &len)) < 0)
		goto text;
	rc = steer_restore(AF_INET, text, len, "install", err, errlen);
	free(text);
	if (rc < 0 || !steer_has_ipv6())
		return rc;

	if ((rc = steer_text(c, STEER_IPT6, &text, &len)) < 0)
		goto text;
	rc = steer_restore(AF_INET6, text, len, "install", err, errlen);
	free(text);
	if (rc == 0)
		return 0;
	/* All or nothing: take the IPv4 half out again. */
	if (steer_text(c, STEER_IPT_REMOVE, &text, &len) == 0) {
		steer_restore(AF_INET, text, len, "undo", scratch,
		              sizeof(scratch));
		free(text);
	}
	return rc;
text:
	steer_seterr(err, errlen, "steering: cannot build the rules: %s",
	             strerror(-rc));
	return rc;
}

static int
steer_apply_nft(const struct config *c, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	int rc;

	if ((rc = steer_text(c, STEER_NFT, &text, &len)) < 0) {
		steer_seterr(err, errlen,
		             "steering: cannot build the rules: %s",
		             strerror(-rc));
		return rc;
	}
	rc = steer_nft_run(text, len, "install",
	                   "a kernel without nft's queue statement refuses "
	                   "`queue`: firewall = iptables or auto avoids it",
	                   err, errlen);
	free(text);
	return rc;
}

int
steer_apply(const struct config *c, char *err, size_t errlen)
{
	int rc;

	if ((rc = steer_validate(c, err, errlen)) < 0)
		return rc;
	if ((rc = steer_cleanup(err, errlen)) < 0)
		return rc;
	/*
	 * The tunnel first: its route and ingress redirects, then the marks
	 * that route packets into it. The other way round, a packet marked
	 * before the route was there left by the main table, past the tunnel
	 * and its device's count: a host's stray packet at start passed
	 * unseen, and `spackle audit` said so (netns/divert saw two).
	 * steer_tun_apply() leaves nothing behind when it fails.
	 */
	if (c->backend == CONFIG_BACKEND_TUN &&
	    (rc = steer_tun_apply(c, err, errlen)) != 0)
		return rc;
	if (steer_firewall(c) == CONFIG_FIREWALL_IPTABLES) {
		steer_note_tables(c);
		rc = steer_apply_iptables(c, err, errlen);
	} else {
		rc = steer_apply_nft(c, err, errlen);
	}
	if (rc != 0 && c->backend == CONFIG_BACKEND_TUN) {
		char scratch[256];

		steer_remove(c, scratch, sizeof(scratch));
	}
	return rc;
}

/* steer_remove() but the tunnel's route and redirects. */
static int
steer_remove_marks(const struct config *c, char *err, size_t errlen)
{
	char first[512] = "", *text = NULL;
	bool changed = false;
	size_t len;
	int rc, i;

	if (steer_firewall(c) == CONFIG_FIREWALL_NFT) {
		if ((rc = steer_text(c, STEER_NFT_REMOVE, &text, &len)) < 0)
			goto text;
		rc = steer_nft_run(text, len, "remove", NULL, first,
		                   sizeof(first));
		free(text);
		if (rc == -EIO)
			changed = true;
		else if (rc < 0)
			goto fail;
	} else {
		if ((rc = steer_text(c, STEER_IPT_REMOVE, &text, &len)) < 0)
			goto text;
		for (i = 0; i < 2; i++) {
			if (i == 1 && !steer_has_ipv6())
				break;
			rc = steer_restore(i ? AF_INET6 : AF_INET, text, len,
			                   "remove", changed ? NULL : first,
			                   sizeof(first));
			if (rc == -EIO)
				changed = true;
			else if (rc < 0)
				break;
		}
		free(text);
		if (rc < 0 && rc != -EIO)
			goto fail;
		steer_drop_made_tables();
	}
	if (!changed)
		return 0;

	/* Not as installed: take away whatever of ours is left. */
	if ((rc = steer_cleanup(err, errlen)) < 0)
		return rc;
	steer_seterr(err, errlen,
	             "steering: the rules were not as installed (changed "
	             "since, or removed with another config); removed what "
	             "was left of them. First error: %s",
	             first);
	return 1;
text:
	steer_seterr(err, errlen, "steering: cannot build the rules: %s",
	             strerror(-rc));
	return rc;
fail:
	steer_seterr(err, errlen, "%s", first);
	return rc;
}

int
steer_remove(const struct config *c, char *err, size_t errlen)
{
	int rc;

	if ((rc = steer_validate(c, err, errlen)) < 0)
		return rc;
	/* The marks go first and the tunnel's route after them (the other
	 * order from steer_apply()'s): no packet is marked while the route
	 * into the tunnel is gone. */
	rc = steer_remove_marks(c, err, errlen);
	/* 1: the rules were not as installed and steer_cleanup() took away
	 * what was left, the tunnel's route and redirects with it. */
	if (c->backend == CONFIG_BACKEND_TUN && rc != 1)
		steer_tun_remove();
	return rc;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Privilege drop: the daemon leaves root for its user once set up. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon/priv.h"

int
priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen,
		         "user %s: %s; create it (useradd --system --no-create-"
		         "home --shell /usr/sbin/nologin %s, as `cmake "
		         "--install` does) or set `user = root`",
		         user, rc != 0 ? strerror(rc) : "no such user", user);
		return -1;
	}
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

/* The capabilities of mask, as a list for cap_set_flag. */
static int
priv_caps(unsigned long long mask, cap_value_t *v, int max)
{
	int n = 0;
	cap_value_t c;

	for (c = 0; c <= CAP_LAST_CAP && n < max; c++)
		if (mask & (1ull << c))
			v[n++] = c;
	return n;
}

int
priv_drop(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	cap_value_t keep[8], amb[8];
	int nkeep = priv_caps(PRIV_KEEP_MASK, keep, 8);
	int namb = priv_caps(PRIV_AMBIENT_MASK, amb, 8);
	cap_t caps = NULL;
	cap_value_t c;
	const char *what;
	int i;

	if (uid == 0) {
		snprintf(err, errlen, "refusing to drop to uid 0");
		return -1;
	}
	/* The bounding set first: dropping needs CAP_SETPCAP, which goes.
	 * Every capability the running kernel has, not only those these
	 * headers name. */
	what = "PR_CAPBSET_DROP";
	for (c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (!(PRIV_KEEP_MASK & (1ull << c)) && cap_get_bound(c) == 1 &&
		    cap_drop_bound(c) != 0)
			goto fail;
	what = "PR_SET_KEEPCAPS";
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0)
		goto fail;
	/* glibc sets the ids of every thread of the process. */
	what = "setgroups";
	if (setgroups(1, &gid) != 0)
		goto fail;
	what = "setresgid";
	if (setresgid(gid, gid, gid) != 0)
		goto fail;
	what = "setresuid";
	if (setresuid(uid, uid, uid) != 0)
		goto fail;
	what = "cap_set_proc";
	if ((caps = cap_init()) == NULL ||
	    cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) != 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) != 0 ||
	    cap_set_flag(caps, CAP_INHERITABLE, namb, amb, CAP_SET) != 0 ||
	    cap_set_proc(caps) != 0)
		goto fail;
	what = "PR_CAP_AMBIENT_RAISE";
	for (i = 0; i < namb; i++)
		if (cap_set_ambient(amb[i], CAP_SET) != 0)
			goto fail;
	what = "PR_SET_KEEPCAPS";
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) != 0)
		goto fail;
	what = "PR_SET_NO_NEW_PRIVS";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0)
		goto fail;
	cap_free(caps);
	/* Root must be out of reach now. */
	if (setresuid(0, 0, 0) == 0 || getuid() != uid || geteuid() != uid) {
		snprintf(err, errlen,
		         "still able to become root after the drop");
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "privilege drop to uid %u: %s: %s", (unsigned)uid,
	         what, strerror(errno));
	if (caps != NULL)
		cap_free(caps);
	return -1;
}

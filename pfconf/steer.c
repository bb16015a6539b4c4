/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Install and remove the steering rules by running iptables-restore or nft. */

/*
 * The texts come from iptables.c and nft.c; this file only feeds them to
 * the tools. Each tool runs by fork and exec, no shell, with its stdin,
 * stdout and stderr on memfds: the whole text is written before the tool
 * starts (no pipe to deadlock on, no SIGPIPE when it exits early), and its
 * output is read back after it exits, for the caller's error message.
 * iptables-restore applies one family's text in one commit, nft -f one
 * ruleset in one transaction: the host never sees half of spackle's rules.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spackle/fwread.h"
#include "spackle/steer.h"

/* root's PATH on Debian, in its order; the daemon's own PATH is not used. */
static const char *const steer_dirs[] = {
        "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
        "/usr/bin",        "/sbin",          "/bin",
};

/* What a tool printed and how it ended. */
struct steer_out {
	char *out; /* stdout, NUL-terminated */
	size_t outlen;
	char *err; /* stderr, NUL-terminated */
	size_t errlen;
	int status; /* exit status, 128 + signal when killed */
};

static void
steer_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
steer_tool(const char *name, char *path, size_t len)
{
	size_t i;
	int n;

	for (i = 0; i < sizeof(steer_dirs) / sizeof(steer_dirs[0]); i++) {
		n = snprintf(path, len, "%s/%s", steer_dirs[i], name);
		if (n < 0 || (size_t)n >= len)
			continue;
		if (access(path, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/* The whole content of a memfd, NUL-terminated. */
static int
steer_slurp(int fd, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	char *p;

	*buf = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (unsigned long long)st.st_size > STEER_OUTPUT_MAX)
		return -EFBIG;
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		n = pread(fd, p + got, (size_t)st.st_size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	return 0;
}

static int
steer_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
steer_out_free(struct steer_out *o)
{
	free(o->out);
	free(o->err);
	memset(o, 0, sizeof(*o));
}

/*
 * Run argv[0] (looked up in steer_dirs) with in as stdin. Returns 0 when
 * it ran (whatever its exit status, in o->status), -ENOENT when it is not
 * installed, or another -errno when it could not be run.
 */
static int
steer_exec(char *const argv[], const char *in, size_t inlen,
           struct steer_out *o)
{
	int fd[3] = {-1, -1, -1}, st, rc, i;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char path[256];
	sigset_t none, dflt;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	if ((rc = steer_tool(argv[0], path, sizeof(path))) < 0)
		return rc;
	for (i = 0; i < 3; i++) {
		fd[i] = memfd_create("spackle-steer", MFD_CLOEXEC);
		if (fd[i] < 0) {
			rc = -errno;
			goto out;
		}
	}
	if (in != NULL && (rc = steer_write_all(fd[0], in, inlen)) < 0)
		goto out;
	if (lseek(fd[0], 0, SEEK_SET) < 0) {
		rc = -errno;
		goto out;
	}
	/*
	 * posix_spawn, not fork: the daemon maps a large flow table and
	 * store, and a fork would copy their page tables (holding the memory
	 * map's lock while the workers run) every time the steering is
	 * checked. glibc spawns with CLONE_VM | CLONE_VFORK. The child gets
	 * the memfds as 0-2 (dup2 to the same number clears CLOEXEC too),
	 * nothing else, an empty signal mask and SIGPIPE at its default.
	 */
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		rc = -rc;
		goto out;
	}
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		rc = -rc;
		goto out;
	}
	for (i = 0; i < 3 && rc == 0; i++)
		rc = posix_spawn_file_actions_adddup2(&fa, fd[i], i);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&at, &dflt);
	if (rc == 0)
		rc = posix_spawnattr_setflags(
		        &at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = posix_spawn(&pid, path, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		rc = -rc;
		goto out;
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			goto out;
		}
	}
	o->status = WIFEXITED(st)     ? WEXITSTATUS(st)
	            : WIFSIGNALED(st) ? 128 + WTERMSIG(st)
	                              : 255;
	if ((rc = steer_slurp(fd[1], &o->out, &o->outlen)) < 0 ||
	    (rc = steer_slurp(fd[2], &o->err, &o->errlen)) < 0) {
		steer_out_free(o);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < 3; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return rc;
}

/*
 * "WHAT failed (exit N): the tool's first words (HINT)": its stderr lines
 * joined with "; ", without iptables' "Try `iptables-restore -h'" advice
 * and nft's echo of the input line and its ^^^ marker, at most 3 lines.
 */
static void
steer_fail(char *err, size_t errlen, const char *what,
           const struct steer_out *o, const char *hint)
{
	const char *p = o->err != NULL ? o->err : "", *nl, *q;
	size_t used, n, reserve = hint != NULL ? strlen(hint) + 4 : 0;
	unsigned lines = 0;

	if (err == NULL || errlen == 0)
		return;
	snprintf(err, errlen, "%s failed (exit %d)", what, o->status);
	for (; *p != '\0' && lines < 3; p = *nl ? nl + 1 : nl) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		n = (size_t)(nl - p);
		if (n == 0 || strncmp(p, "Try `", 5) == 0 ||
		    isspace((unsigned char)*p))
			continue;
		for (q = p; q < nl && strchr(" \t^~", *q) != NULL; q++)
			;
		if (q == nl)
			continue;
		used = strlen(err);
		if (used + reserve + 3 >= errlen)
			break;
		snprintf(err + used, errlen - used - reserve, "%s%.*s",
		         lines == 0 ? ": " : "; ", (int)(n > 512 ? 512 : n), p);
		lines++;
	}
	if (hint != NULL) {
		used = strlen(err);
		snprintf(err + used, errlen - used, " (%s)", hint);
	}
}

static bool
steer_has_ipv6(void)
{
	return access("/proc/net/if_inet6", F_OK) == 0;
}

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

/* Feed text to ip(6)tables-restore --noflush. */
static int
steer_restore(int family, const char *text, size_t len, const char *what,
              char *err, size_t errlen)
{
	char *argv[] = {family == AF_INET6 ? "ip6tables-restore"
	                                   : "iptables-restore",
	                "--noflush", "--wait=10", NULL};
	char label[96];
	struct steer_out o;
	int rc;

	snprintf(label, sizeof(label), "%s --noflush (%s, %s)", argv[0],
	         family == AF_INET6 ? "IPv6" : "IPv4", what);
	rc = steer_exec(argv, text, len, &o);
	if (rc < 0) {
		steer_seterr(err, errlen,
		             "%s: cannot run: %s (install iptables, or set "
		             "firewall = nft)",
		             label, strerror(-rc));
		return rc;
	}
	if (o.status != 0) {
		steer_fail(err, errlen, label, &o,
		           "iptables-save shows the rules as they are");
		rc = -EIO;
	}
	steer_out_free(&o);
	return rc;
}

/* Feed text to nft -f. */
static int
steer_nft_run(const char *text, size_t len, const char *what, const char *hint,
              char *err, size_t errlen)
{
	char *argv[] = {"nft", "-f", "-", NULL};
	char label[96];
	struct steer_out o;
	int rc;

	snprintf(label, sizeof(label), "nft -f (%s)", what);
	rc = steer_exec(argv, text, len, &o);
	if (rc < 0) {
		steer_seterr(err, errlen,
		             "%s: cannot run: %s (install nftables, or set "
		             "firewall = iptables)",
		             label, strerror(-rc));
		return rc;
	}
	if (o.status != 0) {
		steer_fail(err, errlen, label, &o, hint);
		rc = -EIO;
	}
	steer_out_free(&o);
	return rc;
}

bool
steer_detect_nft_queue(void)
{
	/* A regular chain: the kernel checks the expression, no hook. */
	static const char probe[] = "table inet spackle_probe {\n"
	                            "\tchain probe {\n"
	                            "\t\tqueue num 0 bypass\n"
	                            "\t}\n"
	                            "}\n";
	char *argv[] = {"nft", "-c", "-f", "-", NULL};
	struct steer_out o;
	bool yes;

	if (steer_exec(argv, probe, sizeof(probe) - 1, &o) < 0)
		return false;
	yes = o.status == 0;
	steer_out_free(&o);
	return yes;
}

enum config_firewall
steer_firewall(const struct config *c)
{
	if (c != NULL && c->firewall == CONFIG_FIREWALL_NFT)
		return CONFIG_FIREWALL_NFT;
	if (c != NULL && c->firewall == CONFIG_FIREWALL_IPTABLES)
		return CONFIG_FIREWALL_IPTABLES;
	return steer_detect_nft_queue() ? CONFIG_FIREWALL_NFT
	                                : CONFIG_FIREWALL_IPTABLES;
}

enum steer_ipt_variant
steer_iptables_variant(void)
{
	char *argv[] = {"iptables", "-V", NULL};
	enum steer_ipt_variant v = STEER_IPT_NONE;
	struct steer_out o;

	if (steer_exec(argv, NULL, 0, &o) < 0)
		return STEER_IPT_NONE;
	if (o.status == 0 && o.out != NULL) {
		if (strstr(o.out, "(nf_tables)") != NULL)
			v = STEER_IPT_NFT;
		else if (strstr(o.out, "(legacy)") != NULL ||
		         strncmp(o.out, "iptables v", 10) == 0)
			v = STEER_IPT_LEGACY; /* before 1.8: no suffix */
	}
	steer_out_free(&o);
	return v;
}

const char *
steer_ipt_variant_name(enum steer_ipt_variant v)
{
	switch (v) {
	case STEER_IPT_NFT:
		return "nf_tables";
	case STEER_IPT_LEGACY:
		return "legacy";
	case STEER_IPT_NONE:
		break;
	}
	return "none";
}

/* Remove whatever of spackle's ip(6)tables-save lists. */
static int
steer_ipt_cleanup(int family, char *err, size_t errlen)
{
	char *argv[] = {family == AF_INET6 ? "ip6tables-save" : "iptables-save",
	                "-t", "filter", NULL};
	struct steer_out o;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc, n;

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
	int rc;

	if ((rc = steer_ipt_cleanup(AF_INET, err, errlen)) < 0)
		return rc;
	if (steer_has_ipv6() &&
	    (rc = steer_ipt_cleanup(AF_INET6, err, errlen)) < 0)
		return rc;
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

static bool
steer_nft_table_exists(int family)
{
	char *argv[] = {"nft",    "list",
	                "table",  family == AF_INET6 ? "ip6" : "ip",
	                "filter", NULL};
	struct steer_out o;
	bool exists;

	if (steer_exec(argv, NULL, 0, &o) < 0)
		return true; /* no nft: cannot tell, so never delete */
	exists = o.status == 0;
	steer_out_free(&o);
	return exists;
}

/* Is the filter table of this family nothing but ACCEPT base chains? */
static bool
steer_filter_empty(int family)
{
	char *argv[] = {family == AF_INET6 ? "ip6tables-save" : "iptables-save",
	                "-t", "filter", NULL};
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
		if (*p == '-' ||
		    (*p == ':' && strncmp(p, ":INPUT ACCEPT", 13) != 0 &&
		     strncmp(p, ":FORWARD ACCEPT", 15) != 0 &&
		     strncmp(p, ":OUTPUT ACCEPT", 14) != 0))
			empty = false;
		if (*nl == '\0')
			break;
	}
	steer_out_free(&o);
	return empty;
}

static void
steer_note_tables(void)
{
	int i;

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
		char *argv[] = {"nft",    "delete", "table", i ? "ip6" : "ip",
		                "filter", NULL};
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

int
steer_apply(const struct config *c, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	int rc;

	if ((rc = steer_validate(c, err, errlen)) < 0)
		return rc;
	if ((rc = steer_cleanup(err, errlen)) < 0)
		return rc;
	if (steer_firewall(c) == CONFIG_FIREWALL_IPTABLES) {
		steer_note_tables();
		return steer_apply_iptables(c, err, errlen);
	}

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
steer_remove(const struct config *c, char *err, size_t errlen)
{
	char first[512] = "", *text = NULL;
	bool changed = false;
	size_t len;
	int rc, i;

	if ((rc = steer_validate(c, err, errlen)) < 0)
		return rc;
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
steer_save(int family, char **buf, size_t *len, char *err, size_t errlen)
{
	char *argv[] = {family == AF_INET6 ? "ip6tables-save" : "iptables-save",
	                "-c", NULL};
	struct steer_out o;
	int rc;

	if (buf == NULL || len == NULL ||
	    (family != AF_INET && family != AF_INET6)) {
		steer_seterr(err, errlen, "steer_save: bad arguments");
		return -EINVAL;
	}
	*buf = NULL;
	*len = 0;
	rc = steer_exec(argv, NULL, 0, &o);
	if (rc < 0) {
		steer_seterr(err, errlen, "%s -c: cannot run: %s%s", argv[0],
		             strerror(-rc),
		             rc == -ENOENT ? " (install iptables)" : "");
		return rc;
	}
	if (o.status != 0) {
		steer_fail(err, errlen, argv[0], &o, NULL);
		steer_out_free(&o);
		return -EIO;
	}
	*buf = o.out;
	*len = o.outlen;
	o.out = NULL;
	steer_out_free(&o);
	return 0;
}

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

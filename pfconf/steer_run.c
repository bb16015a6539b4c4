/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running the firewall tools: iptables-restore, *-save, nft, iptables -V. */

/*
 * Each tool runs by posix_spawn, no shell, with its stdin, stdout and
 * stderr on memfds: the whole text is written before the tool starts (no
 * pipe to deadlock on, no SIGPIPE when it exits early), and its output is
 * read back after it exits, for the caller's error message.
 * iptables-restore applies one family's text in one commit, nft -f one
 * ruleset in one transaction: the host never sees half of spackle's rules.
 * Besides the runners for pfconf/ (steer_run.h), the public calls that
 * only ask a tool: which firewall, which iptables, iptables-save -c.
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

#include "pfconf/steer_run.h"
#include "spackle/steer.h"

/* root's PATH on Debian, in its order; the daemon's own PATH is not used. */
static const char *const steer_dirs[] = {
        "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
        "/usr/bin",        "/sbin",          "/bin",
};

int
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

void
steer_out_free(struct steer_out *o)
{
	free(o->out);
	free(o->err);
	memset(o, 0, sizeof(*o));
}

/* Run argv[0], looked up in steer_dirs (pfconf/steer_run.h). */
int
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

/* The tool's own words in the message (pfconf/steer_run.h). */
void
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

bool
steer_has_ipv6(void)
{
	return access("/proc/net/if_inet6", F_OK) == 0;
}

/* Feed text to ip(6)tables-restore --noflush. */
int
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
int
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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading /proc: a process's status, exe, command line, fds and children. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_int.h"

/* Read a small file whole; bytes read or -errno. */
ssize_t
proc_read_small(const char *path, char *buf, size_t cap)
{
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)got < cap) {
		n = read(fd, buf + got, cap - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	return got;
}

/* The fourth number of a "Uid:" or "Gid:" line: the fs id. */
static uint32_t
status_fsid(const char *line)
{
	unsigned long v[4];

	if (sscanf(line, "%*s %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]) !=
	    4)
		return UINT32_MAX;
	return (uint32_t)v[3];
}

/* /proc/PID/status: PPid, fsuid, fsgid. 0 or -errno. */
int
proc_read_status(int32_t pid, int32_t *ppid, uint32_t *uid, uint32_t *gid)
{
	char path[64], buf[2048], *line, *save = NULL;
	ssize_t n;

	*ppid = -1;
	*uid = *gid = UINT32_MAX;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((n = proc_read_small(path, buf, sizeof(buf) - 1)) < 0)
		return (int)n;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "PPid:", 5) == 0)
			*ppid = (int32_t)strtol(line + 5, NULL, 10);
		else if (strncmp(line, "Uid:", 4) == 0)
			*uid = status_fsid(line);
		else if (strncmp(line, "Gid:", 4) == 0) {
			*gid = status_fsid(line);
			break; /* Uid and PPid come first */
		}
	}
	return 0;
}

static int
read_exe(int32_t pid, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, cap - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* read_exe through an open /proc/PID (dfd < 0: gone). */
int
proc_read_exe_at(int dfd, char *buf, size_t cap)
{
	ssize_t n;

	buf[0] = '\0';
	if (dfd < 0)
		return -ESRCH;
	n = readlinkat(dfd, "exe", buf, cap - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* argv joined by spaces; an empty command line (a kernel thread, or a
 * process past exit_mm) reads as "". */
static int
read_cmdline(int32_t pid, char *buf, size_t cap)
{
	char path[64];
	ssize_t n, i;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((n = proc_read_small(path, buf, cap - 1)) < 0)
		return (int)n;
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (i = 0; i < n; i++)
		if (buf[i] == '\0' || (unsigned char)buf[i] < 0x20)
			buf[i] = ' ';
	buf[n] = '\0';
	return 0;
}

int
proc_read_process(int32_t pid, struct proc_owner *out)
{
	int32_t ppid;
	uint32_t uid, gid;
	int rc;

	out->pid = pid;
	if ((rc = proc_read_status(pid, &ppid, &uid, &gid)) != 0)
		return rc;
	out->ppid = ppid;
	if (out->uid == UINT32_MAX)
		out->uid = uid;
	read_exe(pid, out->exe, sizeof(out->exe));
	read_cmdline(pid, out->cmdline, sizeof(out->cmdline));
	return 0;
}

/* "socket:[12345]" -> 12345, else 0. */
uint64_t
proc_socket_inode(const char *link, ssize_t n)
{
	uint64_t v = 0;
	ssize_t i;

	if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
		return 0;
	for (i = 8; i < n - 1; i++) {
		if (!isdigit((unsigned char)link[i]))
			return 0;
		v = v * 10 + (uint64_t)(link[i] - '0');
	}
	return v;
}

/* Descending, for fd numbers and pids (int32_t is int here). */
_Static_assert(sizeof(int32_t) == sizeof(int), "pids sort as ints");

int
proc_cmp_int_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Is fd in v (n, descending)? */
static bool
fd_known(const int *v, size_t n, int fd)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v[mid] == fd)
			return true;
		if (v[mid] > fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Read pid's fd table: every socket inode into found (up to cap), and
 * whether target (0: none) is among them, which ends the read. The order
 * finds a new socket soon: fds that were not open at the last read (known,
 * descending; NULL: none known) first, highest first, then the others,
 * lowest first (a number closed since is used again before any higher). Stops
 * at deadline (0: none). *fdv gets the fds open now (malloc'd, descending; the
 * caller frees it) and *total how many. Returns fds read, or -errno when the
 * table cannot be read (the process is gone or exiting).
 */
ssize_t
proc_read_fds(int32_t pid, uint64_t target, uint64_t deadline, const int *known,
              size_t nknown, uint64_t *found, int *found_fd, size_t cap,
              size_t *nfound, bool *hit, bool *cut, int **fdv, uint32_t *total)
{
	char path[64], name[16], link[64];
	struct dirent *de;
	ssize_t n, fds = 0;
	size_t nfd = 0, capfd = 256, i, k;
	int *fd = malloc(capfd * sizeof(*fd)), *nv, dfd, pass;
	uint64_t ino;
	DIR *d;

	*nfound = 0;
	*hit = false;
	*cut = false;
	*fdv = NULL;
	*total = 0;
	if (fd == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		n = -errno;
		if (dfd >= 0)
			close(dfd);
		free(fd);
		return n;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (nfd == capfd) {
			if (capfd >= PROC_FDS_MAX ||
			    (nv = realloc(fd, 2 * capfd * sizeof(*fd))) == NULL)
				break;
			fd = nv;
			capfd *= 2;
		}
		fd[nfd++] = atoi(de->d_name);
	}
	qsort(fd, nfd, sizeof(*fd), proc_cmp_int_desc);
	*total = (uint32_t)nfd;
	for (pass = known != NULL ? 0 : 1; pass < 2 && !*hit; pass++) {
		for (k = 0; k < nfd && !*hit; k++) {
			/* Known numbers lowest first: a closed one is used
			 * again before any higher number. */
			i = known != NULL && pass == 1 ? nfd - 1 - k : k;
			if (known != NULL &&
			    fd_known(known, nknown, fd[i]) != (pass == 1))
				continue;
			fds++;
			if (deadline != 0 && (fds & 31) == 0 &&
			    sp_now_mono() > deadline) {
				*cut = true;
				pass = 2;
				break;
			}
			snprintf(name, sizeof(name), "%d", fd[i]);
			n = readlinkat(dirfd(d), name, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if ((ino = proc_socket_inode(link, n)) == 0)
				continue;
			if (ino == target)
				*hit = true;
			if (*nfound < cap) {
				if (found_fd != NULL)
					found_fd[*nfound] = fd[i];
				found[(*nfound)++] = ino;
			}
		}
	}
	closedir(d);
	*fdv = fd;
	return fds;
}

/* pid's open fd numbers alone (descending, malloc'd): a readdir. */
ssize_t
proc_read_fd_names(int32_t pid, int **fdv)
{
	char path[64];
	struct dirent *de;
	size_t nfd = 0, capfd = 64;
	int *fd = malloc(capfd * sizeof(*fd)), *nv;
	DIR *d;

	*fdv = NULL;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (fd == NULL || (d = opendir(path)) == NULL) {
		free(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (nfd == capfd) {
			if (capfd >= PROC_FDS_KEPT ||
			    (nv = realloc(fd, 2 * capfd * sizeof(*fd))) == NULL)
				break;
			fd = nv;
			capfd *= 2;
		}
		fd[nfd++] = atoi(de->d_name);
	}
	closedir(d);
	qsort(fd, nfd, sizeof(*fd), proc_cmp_int_desc);
	*fdv = fd;
	return (ssize_t)nfd;
}

int
proc_pid_holds(int32_t pid, uint64_t inode)
{
	uint64_t found[1];
	size_t nfound;
	bool hit, cut;
	uint32_t total;
	int *fdv;
	ssize_t n = proc_read_fds(pid, inode, 0, NULL, 0, found, NULL, 0,
	                          &nfound, &hit, &cut, &fdv, &total);

	free(fdv);
	if (n < 0)
		return (int)n;
	return hit ? 1 : 0;
}

void
proc_pinfo_read(int32_t tgid, struct pinfo *pi, bool full)
{
	/* exe first: a short-lived program loses it at exit_mm(). */
	if (full)
		read_exe(tgid, pi->exe, sizeof(pi->exe));
	else
		pi->exe[0] = '\0';
	pi->have_status =
	        proc_read_status(tgid, &pi->ppid, &pi->uid, &pi->gid) == 0;
	if (full)
		read_cmdline(tgid, pi->cmdline, sizeof(pi->cmdline));
	else
		pi->cmdline[0] = '\0';
}

/* Children of pid's main thread, from /proc (CONFIG_PROC_CHILDREN). */
size_t
proc_read_children(int32_t pid, int32_t *out, size_t cap)
{
	char path[64], buf[2048], *s, *end;
	ssize_t n;
	size_t k = 0;
	long v;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	         (int)pid);
	if ((n = proc_read_small(path, buf, sizeof(buf) - 1)) <= 0)
		return 0;
	buf[n] = '\0';
	for (s = buf; k < cap; s = end) {
		v = strtol(s, &end, 10);
		if (end == s)
			break;
		if (v > 0)
			out[k++] = (int32_t)v;
	}
	return k;
}

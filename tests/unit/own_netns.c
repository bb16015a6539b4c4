/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "own_netns.h"

#define OWN_NETNS_PATH                                                         \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static dev_t host_dev;
static ino_t host_ino;
static bool entered;

static bool
in_own_netns(void)
{
	struct stat st;

	if (!entered || stat("/proc/self/ns/net", &st) < 0)
		return false;
	return st.st_dev != host_dev || st.st_ino != host_ino;
}

int
own_netns_run(char *const argv[])
{
	pid_t pid;
	int st, fd;

	if (!in_own_netns())
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("PATH", OWN_NETNS_PATH, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool
own_netns_enter(char *const *const cmds[], size_t n, char *why, size_t whylen)
{
	struct stat st;
	size_t i;

	if (geteuid() != 0) {
		snprintf(why, whylen, "needs root (a network namespace)");
		return false;
	}
	if (stat("/proc/self/ns/net", &st) < 0) {
		snprintf(why, whylen, "no /proc/self/ns/net");
		return false;
	}
	host_dev = st.st_dev;
	host_ino = st.st_ino;
	entered = true;
	if (unshare(CLONE_NEWNET) < 0 || !in_own_netns()) {
		snprintf(why, whylen, "unshare(CLONE_NEWNET) failed: %s",
		         strerror(errno));
		entered = false;
		return false;
	}
	for (i = 0; i < n; i++)
		if (own_netns_run(cmds[i]) != 0) {
			snprintf(
			        why, whylen,
			        "\"%s %s %s ...\" failed in the test namespace",
			        cmds[i][0], cmds[i][1], cmds[i][2]);
			return false;
		}
	return true;
}

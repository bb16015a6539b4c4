/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A unit test that touches the kernel moves into a network namespace of
 * its own, which vanishes with the process however it ends. */
#ifndef SPACKLE_TEST_OWN_NETNS_H
#define SPACKLE_TEST_OWN_NETNS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Move this process into a new network namespace and run each command of
 * cmds (NULL-terminated argv arrays, n of them) there. true, or false with
 * why the test cannot run (not root, no namespace, a command failed).
 */
bool own_netns_enter(char *const *const cmds[], size_t n, char *why,
                     size_t whylen);
/* argv, quietly, in the namespace entered (never in the host's): its exit
 * status. */
int own_netns_run(char *const argv[]);

/* In a cmocka test: skip it, saying why, unless the namespace is ready. */
#define OWN_NETNS_NEED(ready, why)                                             \
	do {                                                                   \
		if (!(ready)) {                                                \
			print_message("skipped: %s\n", (why));                 \
			skip();                                                \
		}                                                              \
	} while (0)

#endif

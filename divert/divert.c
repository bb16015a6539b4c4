/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The table of divert backends, looked up by the name `backend =` gives. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "divert/divert.h"

static const struct divert_ops *const divert_backends[] = {
        &divert_nfqueue_ops,
        &divert_tun_ops,
        &divert_pcap_ops,
};

const struct divert_ops *
divert_backend(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(divert_backends) / sizeof(divert_backends[0]);
	     i++)
		if (strcmp(divert_backends[i]->name, name) == 0)
			return divert_backends[i];
	return NULL;
}

const char *
divert_backend_names(void)
{
	static char names[128];
	size_t i, len = 0;

	if (names[0] != '\0')
		return names;
	for (i = 0; i < sizeof(divert_backends) / sizeof(divert_backends[0]);
	     i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len,
		                        "%s%s", i > 0 ? ", " : "",
		                        divert_backends[i]->name);
	return names;
}

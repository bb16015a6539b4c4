/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The web monitor's assets, compiled in from web/ at build time
 * (cmake/embed-web.cmake writes web_assets.c in the build folder). */
#ifndef SPACKLE_WEB_ASSETS_H
#define SPACKLE_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path; /* "/index.html": web/'s relative path */
	const unsigned char *data;
	size_t len;
};

/* web_nassets entries, sorted by path, then one of NULLs. */
extern const struct web_asset web_assets[];
extern const unsigned web_nassets;

#endif

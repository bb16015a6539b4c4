/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GET /api/wall: the wall's health as the daemon knows it (placeholder
 * until the steering and counters are read here). */
#include "daemon/daemon.h"
#include "daemon/web.h"

json_t *
web_wall(struct web *w)
{
	struct daemon *dm = w->dm;

	return json_pack("{s:{s:b,s:[],s:[]}}", "steering", "ok",
	                 dm->tamper_seen == NULL, "problems", "hooks");
}

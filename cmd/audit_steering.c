/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spackle audit, part 2: spackle's jump first in every hook and its chains
 * whole, and the rules placed above it that a flow may have taken.
 */
#include <jansson.h>
#include <string.h>
#include <sys/socket.h>

#include "cmd/audit.h"
#include "spackle/config.h"
#include "spackle/fwread.h"
#include "spackle/steer.h"

/* Steering: spackle's rules present, whole and first in every hook. */
void
audit_steering(struct audit *a)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	size_t i, f;
	json_t *hooks = json_array(), *h;

	if (steer_firewall(&a->cfg) == CONFIG_FIREWALL_NFT) {
		json_array_append_new(
		        a->notes, json_string("steering: the nft firewall's "
		                              "integrity is not checked yet"));
		json_object_set_new(a->steering, "hooks", hooks);
		json_object_set_new(a->steering, "ok", json_null());
		return;
	}
	fw_steer_check_free(&a->chk);
	for (f = 0; f < 2; f++)
		if (fw_check_steering(&a->cfg, fams[f], &a->rs, &a->chk) != 0)
			json_array_append_new(
			        a->notes,
			        json_string("steering: cannot check"));
	for (i = 0; i < a->chk.n; i++) {
		const struct fw_hook_check *hc = &a->chk.v[i];

		h = fw_hook_check_json(&a->rs, hc);
		if (h != NULL)
			json_array_append_new(hooks, h);
	}
	json_object_set_new(a->steering, "hooks", hooks);
	json_object_set_new(a->steering, "ok", json_boolean(a->chk.ok));
	if (!a->chk.ok)
		a->holes = true;
}

/* The first rule above spackle's that matches p (cmd/audit.h). */
const struct fw_rule *
audit_rule_above(const struct audit *a, const char *hook,
                 const struct fw_pkt *p, enum fw_match want)
{
	size_t i, k;

	for (i = 0; i < a->chk.n; i++) {
		const struct fw_hook_check *hc = &a->chk.v[i];

		if (hc->family != p->family || strcmp(hc->hook, hook) != 0)
			continue;
		for (k = 0; k < hc->nabove; k++) {
			const struct fw_rule *r = &a->rs.v[hc->above[k]];

			if (r->kind == FW_K_OTHER || r->kind == FW_K_NONE)
				continue;
			enum fw_match m = fw_rule_match(r, p);

			if (m == FW_YES || (m == FW_MAYBE && want == FW_MAYBE))
				return r;
		}
	}
	return NULL;
}

bool
audit_hook_jumped(const struct audit *a, const char *hook, int family)
{
	size_t i;

	for (i = 0; i < a->chk.n; i++)
		if (a->chk.v[i].family == family &&
		    strcmp(a->chk.v[i].hook, hook) == 0)
			return a->chk.v[i].jumps > 0;
	return false;
}

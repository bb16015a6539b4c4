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

/*
 * The tunnel's steering: in each family the jump to its marking chain
 * first in mangle OUTPUT and the fwmark rule, and the redirect on every
 * interface that should have one.
 */
static void
audit_steering_tun(struct audit *a, json_t *hooks)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	struct steer_tun_state st;
	bool ok = true, first;
	size_t i, f;

	if (steer_firewall(&a->cfg) == CONFIG_FIREWALL_NFT) {
		/* Its own base chain: nothing of the host's comes first. */
		if (steer_tun_state(&a->cfg, &st) == 0)
			first = st.nft_chain;
		else
			first = false;
		json_array_append_new(hooks, json_pack("{s:s, s:s, s:b}",
		                                       "family", "inet", "hook",
		                                       "nft route output", "ok",
		                                       first));
		ok = first;
		f = 2;
	} else {
		f = 0;
	}
	for (; f < 2; f++) {
		first = false;
		for (i = 0; i < a->rs.n; i++) {
			const struct fw_rule *r = &a->rs.v[i];

			if (r->family == fams[f] &&
			    strcmp(r->chain, "OUTPUT") == 0 && r->pos == 1)
				first = strcmp(r->target, STEER_CHAIN_TUN) == 0;
		}
		json_array_append_new(
		        hooks, json_pack("{s:s, s:s, s:b}", "family",
		                         fams[f] == AF_INET ? "ipv4" : "ipv6",
		                         "hook", "mangle OUTPUT", "ok", first));
		ok = ok && first;
	}
	if (steer_tun_state(&a->cfg, &st) != 0) {
		json_array_append_new(
		        a->notes, json_string("steering: ip or tc is missing"));
		ok = false;
	} else {
		json_array_append_new(hooks,
		                      json_pack("{s:s, s:i, s:b}", "hook",
		                                "ip rule", "found", st.rules,
		                                "ok", st.rules == 2));
		json_array_append_new(
		        hooks,
		        json_pack("{s:s, s:i, s:i, s:s?, s:b}", "hook",
		                  "tc ingress", "interfaces", st.ifaces,
		                  "redirected", st.ifaces_redirected, "missing",
		                  st.missing[0] != '\0' ? st.missing : NULL,
		                  "ok", st.ifaces == st.ifaces_redirected));
		ok = ok && st.rules == 2 && st.ifaces == st.ifaces_redirected;
	}
	json_object_set_new(a->steering, "hooks", hooks);
	json_object_set_new(a->steering, "ok", json_boolean(ok));
	if (!ok)
		a->holes = true;
}

/* Steering: spackle's rules present, whole and first in every hook. */
void
audit_steering(struct audit *a)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	size_t i, f;
	json_t *hooks = json_array(), *h;

	if (a->cfg.backend == CONFIG_BACKEND_TUN) {
		audit_steering_tun(a, hooks);
		return;
	}

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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness of the control socket's requests: one line against
 * the daemon's own command table (control_parse) with each right a peer
 * may have, and an audit report's hidden flows through the daemon's
 * reader (daemon_audit_flow). Every refusal is an {"error": TEXT} reply; a
 * peer that may only ask never reaches a command that changes state; a
 * flow taken is a record with sane fields.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "spackle/control.h"
#include "spackle/store.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The audit report's flows, as the daemon reads them. */
static void
audit_flows(const json_t *req)
{
	const json_t *flows = json_object_get(req, "flows"), *f;
	struct store_flow r;
	char rule[64];
	const char *bad;
	size_t i;

	json_array_foreach(flows, i, f)
	{
		memset(rule, 'x', sizeof(rule));
		bad = daemon_audit_flow(f, 2000000000000000000ull,
		                        60000000000ull, &r, rule, sizeof(rule));
		if (bad != NULL) {
			CHECK(bad[0] != '\0');
			continue;
		}
		CHECK(memchr(rule, '\0', sizeof(rule)) != NULL);
		CHECK(strncmp(rule, "hidden: ", 8) == 0);
		CHECK(r.rule == rule);
		CHECK(r.local.family != 0 && r.remote.family != 0);
		CHECK(r.first_ns <= r.last_ns);
		CHECK(r.exe == NULL || strlen(r.exe) < 65536);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum control_right rights[3] = {CONTROL_NONE, CONTROL_READ,
	                                             CONTROL_ALL};
	const struct control_command *cmd;
	json_t *req, *reply;
	char *line;
	unsigned k;

	if (size > 8192)
		return 0;
	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0'; /* the socket hands over a line, NUL-ended */
	for (k = 0; k < 3; k++) {
		cmd = control_parse(daemon_commands, daemon_ncommands,
		                    rights[k], line, &req, &reply);
		if (cmd == NULL) {
			CHECK(req == NULL);
			CHECK(json_is_string(json_object_get(reply, "error")));
			json_decref(reply);
			continue;
		}
		CHECK(reply == NULL && json_is_object(req));
		CHECK(rights[k] != CONTROL_NONE);
		CHECK(!cmd->changes_state || rights[k] == CONTROL_ALL);
		CHECK(strcmp(cmd->name, json_string_value(json_object_get(
		                                req, "cmd"))) == 0);
		if (strcmp(cmd->name, "audit") == 0)
			audit_flows(req);
		json_decref(req);
	}
	free(line);
	return 0;
}

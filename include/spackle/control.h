/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket: one JSON request per line, one JSON reply per line. */
#ifndef SPACKLE_CONTROL_H
#define SPACKLE_CONTROL_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CONTROL_GROUP     "spackle" /* members may read, not change */
#define CONTROL_LINE_MAX  4096      /* a request longer than this is refused */
#define CONTROL_TIMEOUT_S 10

/*
 * A request is {"cmd": NAME}; the reply is an object, {"error": TEXT} when
 * the request could not be served. A handler gets the request and says
 * whether it changes state (then only root may call it).
 */
struct control_command {
	const char *name;
	bool changes_state;
	json_t *(*fn)(const json_t *req, void *arg);
};

/* What a peer may do: nothing, ask, or also change the daemon's state. */
enum control_right { CONTROL_NONE = 0, CONTROL_READ, CONTROL_ALL };

/*
 * One request line from a peer with the given right, against the n
 * commands of cmds: the command it names, with the request in *req (the
 * caller's to free); or NULL, with *req NULL and the error reply in *reply
 * (the peer may not ask, the line is not a JSON object, it has no "cmd"
 * string, the command is unknown, or it changes state and the peer may
 * only ask).
 */
const struct control_command *control_parse(const struct control_command *cmds,
                                            size_t n, enum control_right right,
                                            const char *line, json_t **req,
                                            json_t **reply);

struct control;

/*
 * Listen on path (a stale socket file is replaced; a live one, where a
 * daemon answers, is an error), mode 0660, group CONTROL_GROUP when it
 * exists. Peers are checked with SO_PEERCRED: root may run every command,
 * members of CONTROL_GROUP only those that do not change state, anyone
 * else is refused.
 */
struct control *control_listen(struct event_base *base, const char *path,
                               const struct control_command *cmds, size_t n,
                               void *arg, char *err, size_t errlen);
void control_close(struct control *c);

/*
 * Client side: send {"cmd": cmd} to the daemon at path and return its reply
 * (the caller json_decref()s it), or NULL with a message for a person in
 * err (no daemon, permission, timeout).
 */
json_t *control_call(const char *path, const char *cmd, char *err,
                     size_t errlen);

/* The same with a whole request object ({"cmd": NAME, ...}), at most
 * CONTROL_LINE_MAX bytes as JSON. */
json_t *control_request(const char *path, const json_t *request, char *err,
                        size_t errlen);

#endif

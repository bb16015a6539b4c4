/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket: requests from `spackle status|conns|rules reload`. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "spackle/control.h"
#include "spackle/log.h"

struct control {
	struct evconnlistener *lis;
	const struct control_command *cmds;
	size_t ncmds;
	void *arg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t group;
	bool have_group;
};

struct control_conn {
	struct control *c;
	enum control_right right;
	uid_t uid;
};

static bool
control_path(struct sockaddr_un *sun, const char *path, char *err,
             size_t errlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen,
		         "control socket path \"%s\" is longer than %zu bytes",
		         path, sizeof(sun->sun_path) - 1);
		return false;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return true;
}

static bool
control_in_group(uid_t uid, gid_t gid, gid_t group)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256, i;

	if (gid == group)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == group)
			return true;
	return false;
}

static void
control_reply(struct bufferevent *bev, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		bufferevent_write(bev, s, strlen(s));
		bufferevent_write(bev, "\n", 1);
	}
	free(s);
	json_decref(reply);
}

/* An error reply. What it quotes of the request may cut a UTF-8
 * character (jansson's "near '...'" is cut by bytes, and the request may
 * hold none): then its bytes above 127 are written as '?', so the reply
 * is still made and still says where. */
static json_t *
control_error(const char *fmt, const char *a)
{
	char buf[512], *p;
	json_t *r;

	snprintf(buf, sizeof(buf), fmt, a);
	if ((r = json_pack("{s:s}", "error", buf)) != NULL)
		return r;
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p > 127)
			*p = '?';
	return json_pack("{s:s}", "error", buf);
}

static void
control_done(struct bufferevent *bev, void *arg)
{
	struct control_conn *cc = arg;

	/* The reply is out: close. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		bufferevent_free(bev);
		free(cc);
	}
}

const struct control_command *
control_parse(const struct control_command *cmds, size_t n,
              enum control_right right, const char *line, json_t **req,
              json_t **reply)
{
	const struct control_command *cmd = NULL;
	json_error_t je;
	const char *name;
	size_t i;

	*req = NULL;
	*reply = NULL;
	if (right == CONTROL_NONE) {
		*reply = control_error("permission denied: only root and "
		                       "members of group \"%s\" may ask",
		                       CONTROL_GROUP);
		return NULL;
	}
	*req = json_loads(line, 0, &je);
	if (*req == NULL || !json_is_object(*req)) {
		*reply = control_error("request is not a JSON object: %s",
		                       *req == NULL ? je.text : "wrong type");
		goto refused;
	}
	name = json_string_value(json_object_get(*req, "cmd"));
	if (name == NULL) {
		*reply = control_error("request has no \"cmd\" string%s", "");
		goto refused;
	}
	for (i = 0; i < n; i++)
		if (strcmp(cmds[i].name, name) == 0)
			cmd = &cmds[i];
	if (cmd == NULL) {
		*reply = control_error("unknown command \"%s\"", name);
		goto refused;
	}
	if (cmd->changes_state && right != CONTROL_ALL) {
		*reply = control_error("permission denied: \"%s\" changes the "
		                       "daemon's state and needs root",
		                       name);
		goto refused;
	}
	return cmd;
refused:
	json_decref(*req);
	*req = NULL;
	return NULL;
}

static void
control_serve(struct control_conn *cc, struct bufferevent *bev,
              const char *line)
{
	const struct control_command *cmd;
	json_t *req, *reply;

	cmd = control_parse(cc->c->cmds, cc->c->ncmds, cc->right, line, &req,
	                    &reply);
	if (cmd != NULL) {
		reply = cmd->fn(req, cc->c->arg);
		if (reply == NULL)
			reply = control_error("\"%s\" failed: out of memory",
			                      cmd->name);
		json_decref(req);
	}
	control_reply(bev, reply);
}

static void
control_read(struct bufferevent *bev, void *arg)
{
	struct control_conn *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line;

	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
			control_reply(
			        bev,
			        control_error("request longer than %s bytes",
			                      "4096"));
			bufferevent_disable(bev, EV_READ);
			bufferevent_setcb(bev, NULL, control_done, NULL, cc);
		}
		return;
	}
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, control_done, NULL, cc);
	control_serve(cc, bev, line);
	free(line);
}

static void
control_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	bufferevent_free(bev);
	free(arg);
}

static void
control_accept(struct evconnlistener *lis, evutil_socket_t fd,
               struct sockaddr *sa, int salen, void *arg)
{
	struct control *c = arg;
	struct event_base *base = evconnlistener_get_base(lis);
	struct bufferevent *bev;
	struct control_conn *cc;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct timeval tv = {CONTROL_TIMEOUT_S, 0};

	(void)sa;
	(void)salen;
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	cc = calloc(1, sizeof(*cc));
	if (bev == NULL || cc == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		else
			close(fd);
		free(cc);
		return;
	}
	cc->c = c;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		cc->uid = cred.uid;
		if (cred.uid == 0)
			cc->right = CONTROL_ALL;
		else if (c->have_group &&
		         control_in_group(cred.uid, cred.gid, c->group))
			cc->right = CONTROL_READ;
	}
	/* Even a refused peer's request is read before the answer, so the
	 * answer is not lost to a reset. */
	bufferevent_setcb(bev, control_read, NULL, control_event, cc);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

/* Is a daemon answering on path? */
static bool
control_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

struct control *
control_listen(struct event_base *base, const char *path,
               const struct control_command *cmds, size_t n, void *arg,
               char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct control *c;
	struct group gr, *gres = NULL;
	char gbuf[4096];
	struct stat st;
	mode_t old;
	int fd = -1;

	if (!control_path(&sun, path, err, errlen))
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->cmds = cmds;
	c->ncmds = n;
	c->arg = arg;
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
			         "%s exists and is not a socket: remove it or "
			         "set `control` to another path",
			         path);
			goto fail;
		}
		if (control_alive(&sun)) {
			snprintf(err, errlen,
			         "a spackle daemon already answers on %s: stop "
			         "it first",
			         path);
			goto fail;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		umask(old);
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	umask(old);
	if (getgrnam_r(CONTROL_GROUP, &gr, gbuf, sizeof(gbuf), &gres) == 0 &&
	    gres != NULL) {
		c->group = gr.gr_gid;
		c->have_group = true;
		if (chown(path, 0, gr.gr_gid) != 0)
			log_warn("control socket %s: chown to group %s: %s",
			         path, CONTROL_GROUP, strerror(errno));
	}
	if (chmod(path, 0660) != 0) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		goto fail;
	}
	c->lis = evconnlistener_new(base, control_accept, c,
	                            LEV_OPT_CLOSE_ON_FREE, 16, fd);
	if (c->lis == NULL) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		goto fail;
	}
	return c;
fail:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(c);
	return NULL;
}

void
control_close(struct control *c)
{
	if (c == NULL)
		return;
	evconnlistener_free(c->lis);
	unlink(c->path);
	free(c);
}

json_t *
control_call(const char *path, const char *cmd, char *err, size_t errlen)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd), *reply;

	if (req == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	reply = control_request(path, req, err, errlen);
	json_decref(req);
	return reply;
}

json_t *
control_request(const char *path, const json_t *request, char *err,
                size_t errlen)
{
	struct sockaddr_un sun;
	struct timeval tv = {CONTROL_TIMEOUT_S, 0};
	json_error_t je;
	json_t *reply = NULL;
	char *buf = NULL, req[CONTROL_LINE_MAX];
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rl;

	if (!control_path(&sun, path, err, errlen))
		return NULL;
	rl = json_dumpb(request, req, sizeof(req) - 1, JSON_COMPACT);
	if (rl <= 0 || (size_t)rl >= sizeof(req) - 1) {
		snprintf(err, errlen, "request longer than %u bytes",
		         CONTROL_LINE_MAX);
		return NULL;
	}
	req[rl] = '\n';
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errlen,
		         "cannot reach the daemon at %s: %s (is `spackle run` "
		         "running with this config?)",
		         path, strerror(errno));
		goto out;
	}
	/* The daemon may have answered (refused) and closed already: no
	 * SIGPIPE, read its answer instead. */
	if (send(fd, req, (size_t)rl + 1, MSG_NOSIGNAL) != (ssize_t)rl + 1 &&
	    errno != EPIPE) {
		snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (len + 65536 > cap) {
			char *nb =
			        realloc(buf, cap = cap ? cap * 2 : 65536 * 2);

			if (nb == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: no reply: %s", path,
			         errno == EAGAIN ? "timed out"
			                         : strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	reply = json_loads(buf, 0, &je);
	if (reply == NULL)
		snprintf(err, errlen, "%s: the reply is not JSON: %s", path,
		         je.text);
out:
	free(buf);
	close(fd);
	return reply;
}

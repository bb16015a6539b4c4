/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket: requests and replies, rights by SO_PEERCRED, stale
 * and live sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spackle/control.h"

static int pokes;
static mode_t widen; /* when set, chmod the socket to it after listen */

static json_t *
cmd_status(const json_t *req, void *arg)
{
	(void)req;
	return json_pack("{s:s,s:i}", "mode", (const char *)arg, "pokes",
	                 pokes);
}

static json_t *
cmd_poke(const json_t *req, void *arg)
{
	(void)req;
	(void)arg;
	pokes++;
	return json_pack("{s:b}", "ok", 1);
}

static const struct control_command cmds[] = {
        {"status", false, cmd_status},
        {"poke", true, cmd_poke},
};

struct server {
	struct event_base *base;
	struct control *ctl;
	pid_t child;
	int status;
	struct event *tick;
};

static void
server_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	(void)fd;
	(void)what;
	if (waitpid(s->child, &s->status, WNOHANG) == s->child)
		event_base_loopbreak(s->base);
}

/*
 * Serve on path while `client` runs in a child process; returns the
 * child's exit status (0 when every check it made held).
 */
static int
serve_while(const char *path, int (*client)(const char *path))
{
	struct server s;
	struct timeval tv = {0, 10000};
	char err[256];

	memset(&s, 0, sizeof(s));
	s.base = event_base_new();
	assert_non_null(s.base);
	s.ctl = control_listen(s.base, path, cmds, 2, (void *)"enforce", err,
	                       sizeof(err));
	if (s.ctl == NULL)
		fail_msg("control_listen: %s", err);
	if (widen != 0)
		assert_int_equal(chmod(path, widen), 0);
	s.child = fork();
	assert_true(s.child >= 0);
	if (s.child == 0)
		_exit(client(path));
	s.tick = event_new(s.base, -1, EV_PERSIST, server_tick, &s);
	event_add(s.tick, &tv);
	event_base_dispatch(s.base);
	event_free(s.tick);
	control_close(s.ctl);
	event_base_free(s.base);
	return WIFEXITED(s.status) ? WEXITSTATUS(s.status) : 99;
}

static char sockpath[108];

static int
setup(void **state)
{
	(void)state;
	snprintf(sockpath, sizeof(sockpath), "/tmp/spackle-ctl-test-%d.sock",
	         (int)getpid());
	unlink(sockpath);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(sockpath);
	return 0;
}

/* As the user running the test: read, and change state when root. */
static int
client_owner(const char *path)
{
	char err[256];
	json_t *r;
	int bad = 0;

	r = control_call(path, "status", err, sizeof(err));
	if (r == NULL || strcmp(json_string_value(json_object_get(r, "mode")),
	                        "enforce") != 0)
		bad |= 1;
	json_decref(r);
	r = control_call(path, "nonsense", err, sizeof(err));
	if (r == NULL || json_object_get(r, "error") == NULL ||
	    strstr(json_string_value(json_object_get(r, "error")),
	           "unknown command") == NULL)
		bad |= 2;
	json_decref(r);
	r = control_call(path, "poke", err, sizeof(err));
	if (geteuid() == 0 &&
	    (r == NULL || !json_is_true(json_object_get(r, "ok"))))
		bad |= 4;
	json_decref(r);
	r = control_call(path, "status", err, sizeof(err));
	if (geteuid() == 0 &&
	    (r == NULL || json_integer_value(json_object_get(r, "pokes")) != 1))
		bad |= 8;
	json_decref(r);
	return bad;
}

/* A request that is not JSON gets an error, not a hang or a crash. */
static int
client_garbage(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char buf[512];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		return 1;
	if (write(fd, "{not json\n", 10) != 10)
		return 2;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 3;
	buf[n] = '\0';
	close(fd);
	return strstr(buf, "\"error\"") != NULL ? 0 : 4;
}

/* Neither root nor in group spackle: refused, whatever it asks. */
static int
client_stranger(const char *path)
{
	char err[256];
	json_t *r;

	if (setgid(65534) != 0 || setuid(65534) != 0)
		return 1;
	r = control_call(path, "status", err, sizeof(err));
	if (r == NULL) /* the socket's mode keeps it out (0660) */
		return widen == 0 && strstr(err, "ermission") != NULL ? 0 : 2;
	/* with the mode widened, SO_PEERCRED keeps it out */
	if (json_object_get(r, "error") == NULL ||
	    strstr(json_string_value(json_object_get(r, "error")),
	           "permission denied") == NULL)
		return 3;
	json_decref(r);
	return 0;
}

static void
test_requests(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(serve_while(sockpath, client_owner), 0);
	assert_int_equal(serve_while(sockpath, client_garbage), 0);
	/* closing removes the socket file */
	assert_int_not_equal(stat(sockpath, &st), 0);
}

static void
test_socket_mode(void **state)
{
	struct event_base *base = event_base_new();
	struct control *c;
	struct stat st;
	char err[256];

	(void)state;
	c = control_listen(base, sockpath, cmds, 2, (void *)"enforce", err,
	                   sizeof(err));
	assert_non_null(c);
	assert_int_equal(stat(sockpath, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	control_close(c);
	event_base_free(base);
}

static void
test_stranger_refused(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(serve_while(sockpath, client_stranger), 0);
	widen = 0666;
	assert_int_equal(serve_while(sockpath, client_stranger), 0);
	widen = 0;
}

/* A socket file nobody answers on is replaced; a live one is refused;
 * something else at the path is left alone. */
static void
test_stale_and_live(void **state)
{
	struct event_base *base = event_base_new();
	struct control *c1, *c2;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char err[256];
	int fd;
	FILE *f;

	(void)state;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd); /* stale: bound, nobody listens */
	c1 = control_listen(base, sockpath, cmds, 2, NULL, err, sizeof(err));
	assert_non_null(c1);
	c2 = control_listen(base, sockpath, cmds, 2, NULL, err, sizeof(err));
	assert_null(c2);
	assert_non_null(strstr(err, "already answers"));
	control_close(c1);
	f = fopen(sockpath, "w");
	assert_non_null(f);
	fclose(f);
	c2 = control_listen(base, sockpath, cmds, 2, NULL, err, sizeof(err));
	assert_null(c2);
	assert_non_null(strstr(err, "not a socket"));
	unlink(sockpath);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_socket_mode, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_stranger_refused, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_stale_and_live, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

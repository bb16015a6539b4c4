/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle import opensnitch`: OpenSnitch rule files as spackle rules. */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "spackle/import.h"

#define OSN_VALUE_TEXT 160 /* bytes of a JSON value quoted in a comment */
#define OSN_LISTS_WHY                                                          \
	"OpenSnitch reads a folder of list files here: convert each with "     \
	"spackle import hosts, and name it with to list \"FILE\""

/* One rule file being converted. */
struct osn {
	const char *file; /* as given, for errors */
	FILE *err;
	struct import_unit u; /* where: the file's base name */
	size_t errors;
	/* Clauses set so far: OpenSnitch ANDs its conditions, and a spackle
	 * rule has each clause once. */
	const char *remote_by, *port_by, *proto_by, *user_by, *process_by;
};

static void osn_error(struct osn *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
osn_error(struct osn *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(o->err, "%s: ", o->file);
	va_start(ap, fmt);
	vfprintf(o->err, fmt, ap);
	va_end(ap);
	fputc('\n', o->err);
	o->errors++;
	o->u.error = true;
}

/* One condition: operand, type and data, as it is shown in comments. */
struct osn_cond {
	const char *operand, *type, *data;
	char text[OSN_VALUE_TEXT]; /* `operand is "data"` */
};

static void
cond_describe(struct osn_cond *k, const json_t *data)
{
	char q[OSN_VALUE_TEXT - 32];

	import_json_text(data, q, sizeof(q));
	snprintf(k->text, sizeof(k->text), "%s %s %s", k->operand,
	         strcmp(k->type, "regexp") == 0    ? "matches"
	         : strcmp(k->type, "network") == 0 ? "in"
	         : strcmp(k->type, "range") == 0   ? "in range"
	                                           : "is",
	         q);
}

/*
 * A second condition on a clause spackle writes once: the same value is
 * harmless, another one cannot be written (they would have to hold both).
 */
static bool
osn_once(struct osn *o, const char **by, const char *operand, bool same)
{
	if (*by == NULL) {
		*by = operand;
		return true;
	}
	if (!same)
		import_unit_drop(
		        &o->u,
		        "both %s and %s: a spackle rule has one clause "
		        "for them, which cannot require both",
		        *by, operand);
	return false;
}

static void
osn_process(struct osn *o, const struct osn_cond *k)
{
	char glob[IMPORT_STRING_MAX + 1];
	const char *p = k->data;
	size_t i;

	if (strcmp(k->type, "regexp") == 0) {
		if ((p = import_regexp_glob(k->data, glob, sizeof(glob))) ==
		    NULL) {
			import_unit_drop(
			        &o->u, "%s: more than a glob (* and ?) can say",
			        k->text);
			return;
		}
	} else if (strpbrk(p, "*?") != NULL) {
		import_unit_drop(&o->u,
		                 "%s: spackle would take its '*' or '?' as a "
		                 "wildcard",
		                 k->text);
		return;
	}
	if (p[0] != '/' && p[0] != '*' && p[0] != '?') {
		import_unit_drop(
		        &o->u,
		        "%s: not an absolute path, and spackle matches "
		        "whole paths",
		        k->text);
		return;
	}
	for (i = 0; p[i] != '\0'; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			import_unit_drop(
			        &o->u,
			        "%s: a control character, which a rule "
			        "cannot write",
			        k->text);
			return;
		}
	}
	if (i > IMPORT_STRING_MAX) {
		import_unit_drop(&o->u, "%s: longer than a rule's string",
		                 k->text);
		return;
	}
	if (!osn_once(o, &o->process_by, k->operand,
	              o->u.r.process != NULL && strcmp(o->u.r.process, p) == 0))
		return;
	if ((o->u.r.process = strdup(p)) == NULL)
		o->u.r.oom = true;
}

static void
osn_remote(struct osn *o, const struct osn_cond *k, const char *kind,
           const char *text)
{
	char t[IMPORT_ENTRY_BUF + 8];

	snprintf(t, sizeof(t), "%s%s%s", kind, kind[0] ? " " : "", text);
	if (!osn_once(o, &o->remote_by, k->operand,
	              o->u.r.ntargets == 1 &&
	                      strcmp(o->u.r.targets[0], t) == 0))
		return;
	import_rule_target(&o->u.r, kind, text);
}

/* The literal a regexp (or a simple condition) stands for, or NULL. */
static const char *
osn_literal(const struct osn_cond *k, char *buf, size_t len)
{
	if (strcmp(k->type, "simple") == 0)
		return k->data;
	if (strcmp(k->type, "regexp") != 0)
		return NULL;
	if (import_regexp_glob(k->data, buf, len) == NULL ||
	    strpbrk(buf, "*?") != NULL)
		return NULL;
	return buf;
}

static void
osn_host(struct osn *o, const struct osn_cond *k)
{
	char buf[IMPORT_ENTRY_BUF], name[IMPORT_ENTRY_BUF];
	const char *s;

	if (strcmp(k->type, "regexp") == 0 &&
	    import_regexp_domain(k->data, buf, sizeof(buf)) != NULL &&
	    rules_name_check(buf, strlen(buf)) == NULL) {
		import_name_canon(buf, strlen(buf), name);
		osn_remote(o, k, "domain", name);
		return;
	}
	if ((s = osn_literal(k, buf, sizeof(buf))) == NULL) {
		import_unit_drop(&o->u,
		                 "%s: neither one name nor a name and every "
		                 "name under it",
		                 k->text);
		return;
	}
	if (rules_name_check(s, strlen(s)) != NULL) {
		import_unit_drop(&o->u, "%s: not a name spackle can match",
		                 k->text);
		return;
	}
	import_name_canon(s, strlen(s), name);
	osn_remote(o, k, "host", name);
}

static void
osn_ip(struct osn *o, const struct osn_cond *k)
{
	char buf[IMPORT_ENTRY_BUF], addr[IMPORT_ENTRY_BUF];
	const char *s = osn_literal(k, buf, sizeof(buf));

	if (s == NULL || strchr(s, '/') != NULL ||
	    import_addr_canon(s, false, addr) != 0) {
		import_unit_drop(&o->u, "%s: not one address", k->text);
		return;
	}
	osn_remote(o, k, "", addr);
}

static void
osn_network(struct osn *o, const struct osn_cond *k)
{
	char addr[IMPORT_ENTRY_BUF];
	const char *s = k->data;
	size_t i;

	if (strcmp(k->type, "regexp") == 0) {
		import_unit_drop(&o->u, "%s: a regexp on a network", k->text);
		return;
	}
	/* net.ParseCIDR takes the network of 192.0.2.1/24: so does this. */
	if (strchr(s, '/') != NULL && import_addr_canon(s, true, addr) == 0) {
		osn_remote(o, k, "", addr);
		return;
	}
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
		      s[i] == '-'))
			break;
	if (i > 0 && s[i] == '\0')
		import_unit_drop(
		        &o->u,
		        "%s: an OpenSnitch network alias, which spackle "
		        "does not have (name its CIDRs)",
		        k->text);
	else
		import_unit_drop(&o->u, "%s: not a CIDR", k->text);
}

static void
osn_port(struct osn *o, const struct osn_cond *k)
{
	struct import_port p;
	char buf[IMPORT_ENTRY_BUF];
	bool range = strcmp(k->type, "range") == 0;
	const char *s = range ? k->data : osn_literal(k, buf, sizeof(buf));
	const char *why;
	size_t n;

	if (s == NULL) {
		import_unit_drop(&o->u, "%s: more than one port", k->text);
		return;
	}
	/* One port, or for type range one range "N-M". */
	if (strchr(s, ',') != NULL || (strchr(s, '-') != NULL) != range ||
	    import_ports_parse(s, &p, 1, &n, &why) != 0) {
		import_unit_drop(&o->u, "%s: not a port 1-65535%s", k->text,
		                 range ? " range" : "");
		return;
	}
	if (!osn_once(o, &o->port_by, k->operand,
	              o->u.r.nports == 1 && o->u.r.ports[0].lo == p.lo &&
	                      o->u.r.ports[0].hi == p.hi))
		return;
	o->u.r.ports[0] = p;
	o->u.r.nports = 1;
}

static void
osn_proto(struct osn *o, const struct osn_cond *k)
{
	char buf[IMPORT_ENTRY_BUF], bare[IMPORT_ENTRY_BUF];
	const char *s = osn_literal(k, buf, sizeof(buf));
	size_t n;
	int num;

	/* OpenSnitch names a protocol over IPv6 with a 6: tcp6, udp6. */
	num = sp_proto_number(s, false);
	if (num < 0 && s != NULL && (n = strlen(s)) > 1 && s[n - 1] == '6') {
		snprintf(bare, sizeof(bare), "%.*s", (int)(n - 1), s);
		num = sp_proto_number(bare, false);
	}
	if (num >= 0) {
		if (osn_once(o, &o->proto_by, k->operand, o->u.r.proto == num))
			o->u.r.proto = num;
		return;
	}
	import_unit_drop(&o->u, "%s: not a protocol spackle knows", k->text);
}

/* A user name the rule parser takes: a word, not a number. */
static bool
user_word(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-' || s[i] == '.'))
			return false;
	return i > 0 && s[0] != '-' && strspn(s, "0123456789") != i;
}

static void
osn_user(struct osn *o, const struct osn_cond *k)
{
	char buf[IMPORT_ENTRY_BUF];
	const char *s = osn_literal(k, buf, sizeof(buf));
	unsigned long long v = 0;
	size_t i;

	if (s == NULL) {
		import_unit_drop(&o->u, "%s: more than one user", k->text);
		return;
	}
	if (strcmp(k->operand, "user.name") == 0) {
		/* The rule parser resolves a name when it loads the rule. */
		if (!user_word(s) || strlen(s) >= sizeof(o->u.r.user) ||
		    getpwnam(s) == NULL) {
			import_unit_drop(&o->u, "%s: not a user of this system",
			                 k->text);
			return;
		}
	} else {
		for (i = 0; s[i] >= '0' && s[i] <= '9' && v <= UINT32_MAX; i++)
			v = v * 10 + (unsigned)(s[i] - '0');
		if (i == 0 || s[i] != '\0' || v >= UINT32_MAX) {
			import_unit_drop(&o->u, "%s: not a user id", k->text);
			return;
		}
	}
	if (!osn_once(o, &o->user_by, k->operand, strcmp(o->u.r.user, s) == 0))
		return;
	snprintf(o->u.r.user, sizeof(o->u.r.user), "%s", s);
}

/* Operands spackle cannot match, and why. */
static const struct {
	const char *operand; /* a prefix when it ends in '.' */
	const char *why;
} osn_cannot[] = {
        {"process.command", "spackle matches the executable's path, not "
                            "its command line"},
        {"process.id", "spackle does not match process ids"},
        {"process.parent.path", "spackle matches the process that owns the "
                                "connection, not its parents"},
        {"process.env.", "spackle does not read a process's environment"},
        {"process.hash.", "spackle does not check executables' checksums"},
        {"source.ip", "spackle matches the remote end of a connection"},
        {"source.port", "spackle matches the remote end of a connection"},
        {"source.network", "spackle matches the remote end of a connection"},
        {"iface.in", "spackle does not match network interfaces"},
        {"iface.out", "spackle does not match network interfaces"},
        {"lists.", OSN_LISTS_WHY},
};

static void osn_operator(struct osn *o, json_t *op, unsigned depth);

static void
osn_list(struct osn *o, json_t *op, unsigned depth)
{
	json_t *list = json_object_get(op, "list"), *parsed = NULL, *e;
	const char *data = json_string_value(json_object_get(op, "data"));
	json_error_t je;
	size_t i;

	if (depth >= IMPORT_DEPTH_MAX) {
		osn_error(o, "lists nested deeper than %u", IMPORT_DEPTH_MAX);
		return;
	}
	/* The daemon fills "list" from "data" (the same list as JSON text)
	 * when a rule comes from the UI; read either. */
	if ((list == NULL || json_is_null(list)) && data != NULL) {
		parsed = json_loads(data, 0, &je);
		if (parsed == NULL) {
			osn_error(o,
			          "operator \"data\" of a list is not JSON: "
			          "%d:%d: %s",
			          je.line, je.column, je.text);
			return;
		}
		list = parsed;
	}
	if (!json_is_array(list)) {
		osn_error(o, "a list operator without a \"list\" array");
		json_decref(parsed);
		return;
	}
	json_array_foreach(list, i, e)
	{
		osn_operator(o, e, depth + 1);
	}
	json_decref(parsed);
}

static void
osn_operator(struct osn *o, json_t *op, unsigned depth)
{
	struct osn_cond k;
	const json_t *data;
	size_t i, n;

	if (!json_is_object(op)) {
		osn_error(o, "an operator is not a JSON object");
		return;
	}
	k.type = json_string_value(json_object_get(op, "type"));
	k.operand = json_string_value(json_object_get(op, "operand"));
	data = json_object_get(op, "data");
	k.data = json_string_value(data);
	if (k.type == NULL) {
		osn_error(o, "an operator without a \"type\" string");
		return;
	}
	if (strcmp(k.type, "list") == 0) {
		osn_list(o, op, depth);
		return;
	}
	if (k.operand == NULL || k.data == NULL) {
		osn_error(o,
		          "an operator without an \"operand\" and a \"data\" "
		          "string");
		return;
	}
	cond_describe(&k, data);
	if (strcmp(k.operand, "true") == 0)
		return;
	for (i = 0; i < sizeof(osn_cannot) / sizeof(osn_cannot[0]); i++) {
		n = strlen(osn_cannot[i].operand);
		if (osn_cannot[i].operand[n - 1] == '.'
		            ? strncmp(k.operand, osn_cannot[i].operand, n) == 0
		            : strcmp(k.operand, osn_cannot[i].operand) == 0) {
			import_unit_drop(&o->u, "%s: %s", k.text,
			                 osn_cannot[i].why);
			return;
		}
	}
	if (strcmp(k.type, "lists") == 0) {
		import_unit_drop(&o->u, "%s: %s", k.text, OSN_LISTS_WHY);
		return;
	}
	if (strcmp(k.type, "simple") != 0 && strcmp(k.type, "regexp") != 0 &&
	    strcmp(k.type, "network") != 0 && strcmp(k.type, "range") != 0) {
		import_unit_drop(&o->u,
		                 "%s: an operator type (\"%s\") spackle "
		                 "does not know",
		                 k.text, k.type);
		return;
	}
	if (strcmp(k.type, "range") == 0 &&
	    strcmp(k.operand, "dest.port") != 0) {
		import_unit_drop(&o->u, "%s: a range on other than dest.port",
		                 k.text);
		return;
	}
	if (strcmp(k.type, "network") == 0 &&
	    strcmp(k.operand, "dest.network") != 0 &&
	    strcmp(k.operand, "dest.ip") != 0) {
		import_unit_drop(&o->u,
		                 "%s: a network on other than dest.network",
		                 k.text);
		return;
	}
	if (strcmp(k.operand, "process.path") == 0)
		osn_process(o, &k);
	else if (strcmp(k.operand, "dest.host") == 0)
		osn_host(o, &k);
	else if (strcmp(k.operand, "dest.ip") == 0 &&
	         strcmp(k.type, "network") != 0)
		osn_ip(o, &k);
	else if (strcmp(k.operand, "dest.network") == 0 ||
	         strcmp(k.operand, "dest.ip") == 0)
		osn_network(o, &k);
	else if (strcmp(k.operand, "dest.port") == 0)
		osn_port(o, &k);
	else if (strcmp(k.operand, "protocol") == 0)
		osn_proto(o, &k);
	else if (strcmp(k.operand, "user.id") == 0 ||
	         strcmp(k.operand, "user.name") == 0)
		osn_user(o, &k);
	else
		import_unit_drop(&o->u, "%s: an operand spackle does not know",
		                 k.text);
}

/* A boolean field: false when absent; -1 (reported) when not a boolean. */
static int
osn_bool(struct osn *o, const json_t *root, const char *key)
{
	const json_t *v = json_object_get(root, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		osn_error(o, "\"%s\" is not true or false", key);
		return -1;
	}
	return json_is_true(v);
}

static const char *const osn_keys[] = {
        "created",    "updated", "name",   "description", "enabled",
        "precedence", "nolog",   "action", "duration",    "operator",
};

static void
osn_note(struct osn *o, const char *name, const char *desc)
{
	char *text = NULL;
	bool cut;

	if (asprintf(&text, "opensnitch: %s%s%s", name,
	             desc != NULL && desc[0] != '\0' ? ": " : "",
	             desc != NULL ? desc : "") < 0) {
		o->u.r.oom = true;
		return;
	}
	if ((o->u.r.note = import_text_clean(text, &cut)) == NULL)
		o->u.r.oom = true;
	if (cut)
		import_unit_lost(&o->u,
		                 "the end of the note, past the %u bytes "
		                 "a note holds",
		                 IMPORT_STRING_MAX);
	free(text);
}

static void
osn_rule(struct osn *o, json_t *root, const char *base)
{
	const char *name, *desc, *action, *duration, *key;
	char buf[OSN_VALUE_TEXT], stem[IMPORT_ENTRY_BUF];
	json_t *op, *v;
	size_t i, n;
	int enabled, precedence, nolog;

	name = json_string_value(json_object_get(root, "name"));
	desc = json_string_value(json_object_get(root, "description"));
	action = json_string_value(json_object_get(root, "action"));
	duration = json_string_value(json_object_get(root, "duration"));
	op = json_object_get(root, "operator");
	if (json_object_get(root, "name") != NULL && name == NULL)
		osn_error(o, "\"name\" is not a string");
	if (json_object_get(root, "description") != NULL && desc == NULL)
		osn_error(o, "\"description\" is not a string");
	if (json_object_get(root, "duration") != NULL && duration == NULL)
		osn_error(o, "\"duration\" is not a string");
	if (action == NULL)
		osn_error(o, "no \"action\" string");
	else if (strcmp(action, "allow") == 0)
		o->u.r.action = SP_VERDICT_ALLOW;
	else if (strcmp(action, "deny") == 0)
		o->u.r.action = SP_VERDICT_DENY;
	else if (strcmp(action, "reject") == 0)
		o->u.r.action = SP_VERDICT_REJECT;
	else
		osn_error(o, "\"action\": \"%s\" is not allow, deny or reject",
		          action);
	if (op == NULL)
		osn_error(o, "no \"operator\"");
	enabled = osn_bool(o, root, "enabled");
	precedence = osn_bool(o, root, "precedence");
	nolog = osn_bool(o, root, "nolog");
	if (o->u.error)
		return;
	if (!enabled) {
		import_comment(
		        o->u.f, o->u.where,
		        json_object_get(root, "enabled") != NULL
		                ? "disabled in OpenSnitch, left out"
		                : "no \"enabled\", which OpenSnitch reads "
		                  "as false: left out");
		o->u.silent = true;
		return;
	}
	if (name == NULL || name[0] == '\0') {
		n = strlen(base);
		if (n > 5 && strcmp(base + n - 5, ".json") == 0)
			n -= 5;
		snprintf(stem, sizeof(stem), "%.*s", (int)n, base);
		name = stem;
	}
	osn_note(o, name, desc);
	if (duration != NULL && duration[0] != '\0' &&
	    strcmp(duration, "always") != 0)
		import_unit_drop(
		        &o->u,
		        "\"duration\": \"%s\": a rule OpenSnitch keeps "
		        "for a while only",
		        duration);
	osn_operator(o, op, 0);
	if (precedence > 0) {
		o->u.r.priority = true;
		import_unit_lost(&o->u,
		                 "\"precedence\": true is written as priority: "
		                 "spackle ranks priority rules by its own keys "
		                 "(docs/import.md), not by file name");
	}
	if (nolog > 0)
		import_unit_lost(&o->u,
		                 "\"nolog\": true: spackle records every "
		                 "decision");
	json_object_foreach(root, key, v)
	{
		for (i = 0; i < sizeof(osn_keys) / sizeof(osn_keys[0]); i++)
			if (strcmp(key, osn_keys[i]) == 0)
				break;
		if (i == sizeof(osn_keys) / sizeof(osn_keys[0])) {
			import_json_text(v, buf, sizeof(buf));
			import_unit_lost(&o->u,
			                 "\"%s\": %s (a field spackle does not "
			                 "know)",
			                 key, buf);
		}
	}
	if (o->u.r.nports > 0 && !import_proto_has_ports(o->u.r.proto))
		import_unit_drop(&o->u,
		                 "a port with protocol %s, which has no "
		                 "ports",
		                 import_proto_text(o->u.r.proto, buf));
}

int
import_opensnitch_buffer(const char *file, const char *text, size_t len,
                         FILE *out, FILE *err)
{
	struct osn o;
	const char *base = strrchr(file, '/');
	json_t *root;
	int rc;

	base = base != NULL ? base + 1 : file;
	memset(&o, 0, sizeof(o));
	o.file = file;
	o.err = err;
	if ((root = import_json_object(file, text, len, err)) == NULL)
		return IMPORT_BAD_INPUT;
	if (!import_unit_begin(&o.u, base)) {
		json_decref(root);
		fprintf(err, "%s: out of memory\n", file);
		return IMPORT_FAILED;
	}
	osn_rule(&o, root, base);
	json_decref(root);
	rc = import_unit_end(&o.u, out);
	if (rc == IMPORT_FAILED)
		fprintf(err, "%s: out of memory\n", file);
	if (rc == IMPORT_OK && o.errors > 0)
		rc = IMPORT_BAD_INPUT;
	return rc;
}

static int
osn_file_filter(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 5 &&
	       strcmp(e->d_name + n - 5, ".json") == 0;
}

static int
osn_file_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
import_opensnitch_path(const char *path, FILE *out, FILE *err)
{
	struct dirent **ents = NULL;
	struct stat st;
	char *p;
	int i, n, rc = IMPORT_OK, r;

	if (stat(path, &st) != 0) {
		fprintf(err, "%s: cannot read: %s\n", path, strerror(errno));
		return IMPORT_BAD_INPUT;
	}
	import_comment(out, "OpenSnitch rules",
	               "%s, imported by spackle "
	               "import opensnitch",
	               path);
	if (!S_ISDIR(st.st_mode))
		return import_json_file(path, import_opensnitch_buffer, out,
		                        err);
	if ((n = scandir(path, &ents, osn_file_filter, osn_file_cmp)) < 0) {
		fprintf(err, "%s: cannot read: %s\n", path, strerror(errno));
		return IMPORT_BAD_INPUT;
	}
	if (n == 0) {
		fprintf(err, "%s: no *.json rule files\n", path);
		rc = IMPORT_BAD_INPUT;
	} else if ((unsigned)n > IMPORT_FILES_MAX) {
		fprintf(err, "%s: more than %u rule files\n", path,
		        IMPORT_FILES_MAX);
		rc = IMPORT_BAD_INPUT;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned)n <= IMPORT_FILES_MAX && rc != IMPORT_FAILED) {
			if (asprintf(&p, "%s%s%s", path,
			             path[strlen(path) - 1] == '/' ? "" : "/",
			             ents[i]->d_name) < 0) {
				fprintf(err, "%s: out of memory\n", path);
				rc = IMPORT_FAILED;
			} else {
				if ((r = import_json_file(
				             p, import_opensnitch_buffer, out,
				             err)) > rc)
					rc = r;
				free(p);
			}
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

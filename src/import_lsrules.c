/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `spackle import lsrules`: a Little Snitch rule group as spackle rules. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spackle/import.h"

#define LS_VALUE_TEXT 160 /* bytes of a JSON value quoted in a comment */

struct ls_ctx {
	const char *file;
	FILE *err;
	size_t errors;
};

/* One rule being converted, and where its errors go. */
struct ls_rule {
	struct ls_ctx *c;
	struct import_unit u;
	bool keep_going; /* an error leaves out only the bad entry */
};

static void ls_error(struct ls_rule *lr, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
ls_error(struct ls_rule *lr, const char *fmt, ...)
{
	va_list ap;

	fprintf(lr->c->err, "%s: %s: ", lr->c->file, lr->u.where);
	va_start(ap, fmt);
	vfprintf(lr->c->err, fmt, ap);
	va_end(ap);
	fputc('\n', lr->c->err);
	lr->c->errors++;
	if (!lr->keep_going)
		lr->u.error = true;
}

#define ls_drop(lr, ...) import_unit_drop(&(lr)->u, __VA_ARGS__)
#define ls_lost(lr, ...) import_unit_lost(&(lr)->u, __VA_ARGS__)

static const char *
vtext(const json_t *v, char *buf)
{
	import_json_text(v, buf, LS_VALUE_TEXT);
	return buf;
}

static bool
ls_begin(struct ls_rule *lr, struct ls_ctx *c, const char *where)
{
	memset(lr, 0, sizeof(*lr));
	lr->c = c;
	return import_unit_begin(&lr->u, where);
}

static int
ls_end(struct ls_rule *lr, FILE *out)
{
	int rc = import_unit_end(&lr->u, out);

	if (rc == IMPORT_FAILED)
		fprintf(lr->c->err, "%s: %s: out of memory\n", lr->c->file,
		        lr->u.where);
	return rc;
}

/* ---- remotes ---- */

static void
ls_host(struct ls_rule *lr, const char *key, const char *kind, const char *s)
{
	char buf[IMPORT_ENTRY_BUF];
	const char *why;

	if ((why = rules_name_check(s, strlen(s))) != NULL) {
		ls_error(lr, "\"%s\": \"%s\" is not a name: %s", key, s, why);
		return;
	}
	import_name_canon(s, strlen(s), buf);
	import_rule_target(&lr->u.r, kind, buf);
}

static void
ls_address(struct ls_rule *lr, const char *key, const char *s)
{
	char buf[IMPORT_ENTRY_BUF];

	lr->u.r.remote = true;
	if (strchr(s, '-') != NULL) {
		switch (import_range_cidr(s, buf)) {
		case 1:
			import_rule_target(&lr->u.r, "", buf);
			return;
		case 0:
			ls_lost(lr,
			        "\"%s\" entry \"%s\": a range that is not one "
			        "CIDR (write it as CIDRs)",
			        key, s);
			return;
		}
		ls_error(lr,
		         "\"%s\": \"%s\" is not a range of two addresses, the "
		         "lower first",
		         key, s);
		return;
	}
	/* A CIDR with bits set past its prefix means its network. */
	if (import_addr_canon(s, true, buf) != 0) {
		ls_error(lr,
		         "\"%s\": \"%s\" is not an address, a CIDR or a range",
		         key, s);
		return;
	}
	import_rule_target(&lr->u.r, "", buf);
}

typedef void (*ls_item_fn)(struct ls_rule *lr, const char *key,
                           const char *kind, const char *s);

static void
ls_address_item(struct ls_rule *lr, const char *key, const char *kind,
                const char *s)
{
	(void)kind;
	ls_address(lr, key, s);
}

/* One entry, blanks around it taken off; empty entries are skipped. */
static void
ls_item(struct ls_rule *lr, const char *key, const char *kind, const char *s,
        size_t n, ls_item_fn fn)
{
	char *t;

	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n')) {
		s++;
		n--;
	}
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	if (n == 0)
		return;
	if ((t = strndup(s, n)) == NULL) {
		lr->u.r.oom = true;
		return;
	}
	fn(lr, key, kind, t);
	free(t);
}

/* A string of comma-separated entries, or an array of strings. */
static void
ls_each(struct ls_rule *lr, const char *key, const char *kind, const json_t *v,
        ls_item_fn fn)
{
	const char *s, *comma;
	const json_t *e;
	size_t i;

	if (json_is_string(v)) {
		s = json_string_value(v);
		for (;;) {
			comma = strchr(s, ',');
			ls_item(lr, key, kind, s,
			        comma ? (size_t)(comma - s) : strlen(s), fn);
			if (comma == NULL)
				break;
			s = comma + 1;
		}
		lr->u.r.remote = true;
		return;
	}
	if (!json_is_array(v)) {
		ls_error(lr, "\"%s\" is neither a string nor an array", key);
		return;
	}
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			ls_error(lr, "\"%s\"[%zu] is not a string", key, i);
			continue;
		}
		s = json_string_value(e);
		ls_item(lr, key, kind, s, strlen(s), fn);
	}
	lr->u.r.remote = true;
}

static void
ls_remote(struct ls_rule *lr, const json_t *v)
{
	static const struct {
		const char *word, *why;
	} unknown[] = {
	        {"local-net", "spackle has no target for the local networks "
	                      "(name their CIDRs)"},
	        {"broadcast", "spackle has no target for broadcast addresses"},
	        {"bonjour", "spackle has no target for Bonjour (mDNS is udp "
	                    "port 5353 to { 224.0.0.251, ff02::fb })"},
	        {"dns-servers", "spackle has no target for the configured DNS "
	                        "servers (name their addresses)"},
	        {"bpf", "spackle has no target for Berkeley Packet Filter "
	                "traffic"},
	};
	const char *s;
	size_t i;

	if (!json_is_string(v)) {
		ls_error(lr, "\"remote\" is not a string");
		return;
	}
	s = json_string_value(v);
	lr->u.r.remote = true;
	if (strcmp(s, "any") == 0) {
		import_rule_target(&lr->u.r, "", "any");
		return;
	}
	if (strcmp(s, "multicast") == 0) {
		import_rule_target(&lr->u.r, "", "224.0.0.0/4");
		import_rule_target(&lr->u.r, "", "ff00::/8");
		return;
	}
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		if (strcmp(s, unknown[i].word) == 0) {
			ls_drop(lr, "\"remote\": \"%s\": %s", s,
			        unknown[i].why);
			return;
		}
	}
	ls_drop(lr, "\"remote\": \"%s\" is not a remote spackle knows", s);
}

/* ---- the other fields ---- */

static void
ls_action(struct ls_rule *lr, const json_t *v)
{
	const char *s = json_string_value(v);

	if (v == NULL) {
		ls_error(lr, "the rule has no \"action\"");
		return;
	}
	if (s == NULL) {
		ls_error(lr, "\"action\" is not a string");
		return;
	}
	if (strcmp(s, "allow") == 0) {
		lr->u.r.action = SP_VERDICT_ALLOW;
	} else if (strcmp(s, "deny") == 0) {
		lr->u.r.action = SP_VERDICT_DENY;
	} else if (strcmp(s, "ask") == 0) {
		lr->u.r.action = SP_VERDICT_DENY;
		ls_drop(lr, "\"action\": \"ask\": spackle never asks, and the "
		            "configuration's default decides these flows "
		            "(shown below as deny)");
	} else {
		ls_error(lr, "\"action\": \"%s\" is not allow, deny or ask", s);
	}
}

static void
ls_process(struct ls_rule *lr, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t i;

	if (s == NULL) {
		ls_error(lr, "\"process\" is not a string");
		return;
	}
	if (strcmp(s, "any") == 0)
		return;
	if (s[0] == '\0') {
		ls_error(lr, "\"process\" is empty (any process is \"any\")");
		return;
	}
	if (s[0] != '/') {
		ls_drop(lr,
		        "\"process\": \"%s\" is not an absolute path, and "
		        "spackle matches whole paths",
		        s);
		return;
	}
	if (strpbrk(s, "*?") != NULL) {
		ls_drop(lr,
		        "\"process\": \"%s\": spackle would take its '*' or "
		        "'?' "
		        "as a wildcard",
		        s);
		return;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			ls_drop(lr, "\"process\" holds a control character, "
			            "which a rule cannot write");
			return;
		}
	}
	if (i > IMPORT_STRING_MAX) {
		ls_drop(lr,
		        "\"process\" is longer than a rule's %u-byte "
		        "string",
		        IMPORT_STRING_MAX);
		return;
	}
	if ((lr->u.r.process = strdup(s)) == NULL)
		lr->u.r.oom = true;
}

static void
ls_protocol(struct ls_rule *lr, const json_t *v)
{
	char buf[LS_VALUE_TEXT];
	const char *s;
	json_int_t n;
	size_t i;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n < 0 || n > 255) {
			ls_error(lr, "\"protocol\": %s is not a protocol 0-255",
			         vtext(v, buf));
			return;
		}
		lr->u.r.proto = (int)n;
		return;
	}
	if ((s = json_string_value(v)) == NULL) {
		ls_error(lr, "\"protocol\" is neither a string nor a number");
		return;
	}
	if (strcasecmp(s, "any") == 0) {
		lr->u.r.proto = -1;
		return;
	}
	if ((n = sp_proto_number(s, false)) >= 0) {
		lr->u.r.proto = (int)n;
		return;
	}
	n = 0;
	for (i = 0; s[i] >= '0' && s[i] <= '9' && n <= 255; i++)
		n = n * 10 + (s[i] - '0');
	if (i == 0 || s[i] != '\0' || n > 255) {
		ls_error(
		        lr,
		        "\"protocol\": \"%s\" is not tcp, udp, icmp, icmpv6 or "
		        "a number 0-255",
		        s);
		return;
	}
	lr->u.r.proto = (int)n;
}

static void
ls_ports(struct ls_rule *lr, const json_t *v)
{
	char buf[LS_VALUE_TEXT];
	const char *s, *why;
	json_int_t n;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n < 1 || n > 65535) {
			ls_error(lr, "\"ports\": %s is not a port 1-65535",
			         vtext(v, buf));
			return;
		}
		lr->u.r.ports[0].lo = lr->u.r.ports[0].hi = (uint16_t)n;
		lr->u.r.nports = 1;
		return;
	}
	if ((s = json_string_value(v)) == NULL) {
		ls_error(lr, "\"ports\" is neither a string nor a number");
		return;
	}
	if (strcmp(s, "any") == 0 || s[0] == '\0')
		return;
	if (import_ports_parse(s, lr->u.r.ports, IMPORT_PORTS_MAX,
	                       &lr->u.r.nports, &why) != 0) {
		lr->u.r.nports = 0;
		ls_error(lr, "\"ports\": \"%s\": %s", s, why);
	}
}

/* A string field with one of two words; the index of the word, or -1. */
static int
ls_word(struct ls_rule *lr, const char *key, const json_t *v, const char *a,
        const char *b)
{
	const char *s = json_string_value(v);

	if (s == NULL) {
		ls_error(lr, "\"%s\" is not a string", key);
		return -1;
	}
	if (strcmp(s, a) == 0)
		return 0;
	if (strcmp(s, b) == 0)
		return 1;
	ls_error(lr, "\"%s\": \"%s\" is neither %s nor %s", key, s, a, b);
	return -1;
}

static void
ls_notes(struct ls_rule *lr, const char *key, const json_t *v)
{
	const char *s = json_string_value(v);
	bool cut;

	if (s == NULL) {
		ls_error(lr, "\"%s\" is not a string", key);
		return;
	}
	if (s[0] == '\0')
		return;
	if ((lr->u.r.note = import_text_clean(s, &cut)) == NULL) {
		lr->u.r.oom = true;
		return;
	}
	if (cut)
		ls_lost(lr, "the end of \"%s\", past the %u bytes a note holds",
		        key, IMPORT_STRING_MAX);
}

static const char *const rule_keys[] = {
        "action",         "process",          "via",
        "owner",          "direction",        "protocol",
        "ports",          "remote",           "remote-hosts",
        "remote-domains", "remote-addresses", "priority",
        "notes",          "disabled",
};

static bool
known(const char *key, const char *const *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static int
ls_rule(struct ls_ctx *c, size_t index, json_t *obj, FILE *out)
{
	struct ls_rule lr;
	char where[32], buf[LS_VALUE_TEXT];
	const json_t *v;
	const char *key, *s;
	int w;

	snprintf(where, sizeof(where), "rules[%zu]", index);
	if (!ls_begin(&lr, c, where))
		return IMPORT_FAILED;
	if (!json_is_object(obj)) {
		ls_error(&lr, "a rule is a JSON object");
		return ls_end(&lr, out);
	}
	if ((v = json_object_get(obj, "disabled")) != NULL) {
		if (!json_is_boolean(v)) {
			ls_error(&lr, "\"disabled\" is not true or false");
			return ls_end(&lr, out);
		}
		if (json_is_true(v)) {
			import_comment(lr.u.f, lr.u.where,
			               "disabled in Little Snitch, left out");
			lr.u.silent = true;
			return ls_end(&lr, out);
		}
	}
	ls_action(&lr, json_object_get(obj, "action"));
	if ((v = json_object_get(obj, "process")) != NULL)
		ls_process(&lr, v);
	if ((v = json_object_get(obj, "via")) != NULL) {
		if ((s = json_string_value(v)) == NULL)
			ls_error(&lr, "\"via\" is not a string");
		else if (s[0] != '\0')
			ls_drop(&lr,
			        "\"via\": \"%s\": spackle knows only the "
			        "process that owns the connection",
			        s);
	}
	if ((v = json_object_get(obj, "owner")) != NULL &&
	    ls_word(&lr, "owner", v, "any", "me") == 1)
		ls_drop(&lr,
		        "\"owner\": \"me\": spackle cannot tell which user "
		        "that was (add user UID to the rule)");
	if ((v = json_object_get(obj, "direction")) != NULL) {
		w = ls_word(&lr, "direction", v, "outgoing", "incoming");
		lr.u.r.dir = w == 1 ? SP_DIR_IN : SP_DIR_OUT;
	}
	if ((v = json_object_get(obj, "protocol")) != NULL)
		ls_protocol(&lr, v);
	if ((v = json_object_get(obj, "ports")) != NULL)
		ls_ports(&lr, v);
	if ((v = json_object_get(obj, "remote")) != NULL)
		ls_remote(&lr, v);
	if ((v = json_object_get(obj, "remote-hosts")) != NULL)
		ls_each(&lr, "remote-hosts", "host", v, ls_host);
	if ((v = json_object_get(obj, "remote-domains")) != NULL)
		ls_each(&lr, "remote-domains", "domain", v, ls_host);
	if ((v = json_object_get(obj, "remote-addresses")) != NULL)
		ls_each(&lr, "remote-addresses", "", v, ls_address_item);
	if ((v = json_object_get(obj, "priority")) != NULL)
		lr.u.r.priority =
		        ls_word(&lr, "priority", v, "regular", "high") == 1;
	if ((v = json_object_get(obj, "notes")) != NULL)
		ls_notes(&lr, "notes", v);
	json_object_foreach(obj, key, v)
	{
		if (!known(key, rule_keys,
		           sizeof(rule_keys) / sizeof(rule_keys[0])))
			ls_lost(&lr,
			        "\"%s\": %s (a field spackle does not know)",
			        key, vtext(v, buf));
	}
	if (lr.u.r.nports > 0 && !import_proto_has_ports(lr.u.r.proto))
		ls_drop(&lr, "\"ports\" with protocol %s, which has no ports",
		        import_proto_text(lr.u.r.proto, buf));
	if (!lr.u.drop && lr.u.r.remote && lr.u.r.ntargets == 0)
		ls_drop(&lr, "none of the remotes it names can be written");
	return ls_end(&lr, out);
}

/* The denied-remote-* lists: one deny rule, or one per IMPORT_SET_MAX. */
static int
ls_denied(struct ls_ctx *c, const json_t *root, FILE *out)
{
	static const struct {
		const char *key, *kind;
	} lists[] = {
	        {"denied-remote-domains", "domain"},
	        {"denied-remote-hosts", "host"},
	        {"denied-remote-addresses", ""},
	};
	struct ls_rule lr;
	const json_t *v;
	size_t i;

	if (!ls_begin(&lr, c, "denied-remote-*"))
		return IMPORT_FAILED;
	lr.keep_going = true;
	lr.u.r.action = SP_VERDICT_DENY;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if ((v = json_object_get(root, lists[i].key)) == NULL)
			continue;
		ls_each(&lr, lists[i].key, lists[i].kind, v,
		        lists[i].kind[0] != '\0' ? ls_host : ls_address_item);
	}
	if ((v = json_object_get(root, "denied-remote-notes")) != NULL)
		ls_notes(&lr, "denied-remote-notes", v);
	/* Nothing to deny: no rule, only the comments, if any. */
	lr.u.silent = lr.u.r.ntargets == 0;
	return ls_end(&lr, out);
}

static void
ls_header(struct ls_ctx *c, const json_t *root, FILE *out)
{
	const char *name = json_string_value(json_object_get(root, "name"));
	const char *desc =
	        json_string_value(json_object_get(root, "description"));
	const char *nl;
	char *line, quoted[LS_VALUE_TEXT];
	bool cut;

	if (name != NULL && name[0] != '\0')
		import_comment(out, "Little Snitch rule group",
		               "%s (%s), imported by spackle import lsrules",
		               vtext(json_object_get(root, "name"), quoted),
		               c->file);
	else
		import_comment(out, "Little Snitch rule group",
		               "%s, imported by spackle import lsrules",
		               c->file);
	for (; desc != NULL && desc[0] != '\0'; desc = nl + 1) {
		nl = strchr(desc, '\n');
		line = strndup(desc, nl ? (size_t)(nl - desc) : strlen(desc));
		if (line != NULL) {
			char *clean = import_text_clean(line, &cut);

			if (clean != NULL)
				fprintf(out, "#   %s\n", clean);
			free(clean);
		}
		free(line);
		if (nl == NULL)
			break;
	}
}

static const char *const top_keys[] = {
        "name",
        "description",
        "rules",
        "denied-remote-domains",
        "denied-remote-hosts",
        "denied-remote-addresses",
        "denied-remote-notes",
};

int
import_lsrules_buffer(const char *file, const char *text, size_t len, FILE *out,
                      FILE *err)
{
	struct ls_ctx c = {file, err, 0};
	struct ls_rule top;
	json_t *root;
	const json_t *v, *rules;
	const char *key;
	char buf[LS_VALUE_TEXT];
	size_t i;
	int rc = IMPORT_OK, r;

	if ((root = import_json_object(file, text, len, err)) == NULL)
		return IMPORT_BAD_INPUT;
	for (i = 0; i < 2; i++) {
		v = json_object_get(root, top_keys[i]);
		if (v != NULL && !json_is_string(v)) {
			fprintf(err, "%s: \"%s\" is not a string\n", file,
			        top_keys[i]);
			c.errors++;
		}
	}
	rules = json_object_get(root, "rules");
	if (rules != NULL && !json_is_array(rules)) {
		fprintf(err, "%s: \"rules\" is not an array\n", file);
		c.errors++;
		rules = NULL;
	}
	ls_header(&c, root, out);
	if (!ls_begin(&top, &c, "group")) {
		json_decref(root);
		return IMPORT_FAILED;
	}
	json_object_foreach(root, key, v)
	{
		if (!known(key, top_keys,
		           sizeof(top_keys) / sizeof(top_keys[0])))
			ls_lost(&top,
			        "\"%s\": %s (a field spackle does not know)",
			        key, vtext(v, buf));
	}
	top.u.silent = true;
	if ((r = ls_end(&top, out)) > rc)
		rc = r;

	for (i = 0; rules != NULL && i < json_array_size(rules); i++) {
		r = ls_rule(&c, i, json_array_get(rules, i), out);
		if (r > rc)
			rc = r;
	}
	r = ls_denied(&c, root, out);
	if (r > rc)
		rc = r;
	json_decref(root);
	if (rc == IMPORT_OK && c.errors > 0)
		rc = IMPORT_BAD_INPUT;
	return rc;
}

int
import_lsrules_file(const char *path, FILE *out, FILE *err)
{
	return import_json_file(path, import_lsrules_buffer, out, err);
}

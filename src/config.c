/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reads spackle.conf: one `key = value` per line, every key checked. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spackle/capture.h"
#include "spackle/config.h"
#include "spackle/incomplete.h"
#include "spackle/memplan.h"
#include "src/config_int.h"
#include "spackle/store.h"

#define CONFIG_FILE_MAX (1u << 20)

void
config_defaults(struct config *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	c->mode = CONFIG_MODE_ENFORCE;
	c->divert = CONFIG_DIVERT_PACKET;
	c->dflt = SP_VERDICT_ALLOW;
	c->failure = CONFIG_FAILURE_OPEN;
	snprintf(c->rules, sizeof(c->rules), "/etc/spackle/rules.d");
	snprintf(c->db, sizeof(c->db), "/var/lib/spackle");
	snprintf(c->control, sizeof(c->control), "/run/spackle/spackle.sock");
	c->queues = n > 0 && n <= 64 ? (unsigned)n : 1;
	c->queue_base = 4200;
	c->hooks = CONFIG_HOOK_OUT | CONFIG_HOOK_IN;
	snprintf(c->exempt[0], sizeof(c->exempt[0]), "%s",
	         CONFIG_LOOPBACK_IFNAME);
	c->nexempt = 1;
	snprintf(c->tun_name, sizeof(c->tun_name), "%s", CONFIG_TUN_NAME);
	sp_addr_parse(&c->tun_peer4, CONFIG_TUN_PEER4);
	sp_addr_parse(&c->tun_peer6, CONFIG_TUN_PEER6);
	c->attrib_timeout_ms = CONFIG_ATTRIB_TIMEOUT_MS;
	c->attribution = CONFIG_ATTRIB_AUTO;
	c->firewall = CONFIG_FIREWALL_AUTO;
	c->db_max_size = STORE_DEFAULT_MAX_SIZE;
	c->db_max_age = STORE_DEFAULT_MAX_AGE_S;
	c->store_flush_ms = STORE_DEFAULT_FLUSH_MS;
	c->store_flush_records = STORE_DEFAULT_FLUSH_RECORDS;
	c->store_queue = STORE_DEFAULT_QUEUE;
	c->memory_max = MEMPLAN_DEFAULT;
	c->incomplete_budget = INCOMPLETE_DEFAULT_BUDGET;
	c->capture_max_size = CAPTURE_DEFAULT_MAX_SIZE;
	c->capture_keep = CAPTURE_DEFAULT_KEEP;
	snprintf(c->user, sizeof(c->user), "spackle");
	snprintf(c->web_token, sizeof(c->web_token), "%s",
	         CONFIG_WEB_TOKEN_PATH);
	c->log = CONFIG_LOG_NONE;
}

/* Match value against a table of words; -1 when none. */
static int
config_word(const char *v, const char *const *words, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v, words[i]) == 0)
			return (int)i;
	return -1;
}

static bool
config_uint(struct config_ctx *x, const char *key, const char *v,
            unsigned long lo, unsigned long hi, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	if (!isdigit((unsigned char)v[0]))
		goto bad;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi)
		goto bad;
	*out = (unsigned)n;
	return true;
bad:
	fprintf(x->err, "%s:%u: %s: \"%s\" is not a number from %lu to %lu\n",
	        x->name, x->line, key, v, lo, hi);
	x->errors++;
	return false;
}

/*
 * A number with a unit, from lo to hi: sizes take K, M, G, T (powers of
 * 1024, "iB" or "B" after them optional), durations s, m, h, d, w (none:
 * seconds).
 */
static bool
config_scaled(struct config_ctx *x, const char *key, const char *v,
              bool duration, uint64_t lo, uint64_t hi, uint64_t *out)
{
	static const char sizes[] = "KMGT";
	static const uint64_t secs[] = {1, 60, 3600, 86400, 604800};
	static const char units[] = "smhdw";
	const char *u;
	char *end;
	unsigned long long n;
	uint64_t mul = 1;

	errno = 0;
	if (!isdigit((unsigned char)v[0]))
		goto bad;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		goto bad;
	if (*end != '\0' && duration) {
		if ((u = strchr(units, *end)) == NULL || end[1] != '\0')
			goto bad;
		mul = secs[u - units];
	} else if (*end != '\0') {
		if ((u = strchr(sizes, toupper((unsigned char)*end))) == NULL ||
		    (end[1] != '\0' && strcmp(end + 1, "iB") != 0 &&
		     strcmp(end + 1, "B") != 0))
			goto bad;
		mul = 1ull << (10 * (u - sizes + 1));
	}
	if (n > hi / mul || n * mul < lo)
		goto bad;
	*out = n * mul;
	return true;
bad:
	fprintf(x->err, "%s:%u: %s: \"%s\" is not %s from %llu to %llu%s\n",
	        x->name, x->line, key, v,
	        duration ? "a duration (30s, 15m, 1h, 2d, 1w)"
	                 : "a size (bytes, or with K, M, G, T)",
	        (unsigned long long)lo, (unsigned long long)hi,
	        duration ? " seconds" : " bytes");
	x->errors++;
	return false;
}

/* Split a comma- or space-separated list in place; calls fn per item. */
static bool
config_list(struct config_ctx *x, const char *key, char *v,
            bool (*fn)(struct config_ctx *, const char *, const char *))
{
	char *save = NULL, *tok;
	bool ok = true, any = false;

	for (tok = strtok_r(v, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		any = true;
		if (!fn(x, key, tok))
			ok = false;
	}
	if (!any && strcmp(key, "exempt") != 0) {
		config_error(x, "%s: needs at least one value%s", key, "");
		return false;
	}
	return ok;
}

static bool
config_hook(struct config_ctx *x, const char *key, const char *tok)
{
	static const char *const words[] = {"out", "in", "forward"};
	int w = config_word(tok, words, 3);

	if (w < 0) {
		config_error(x, "%s: unknown hook \"%s\" (out, in, forward)",
		             key, tok);
		return false;
	}
	x->c->hooks |= 1u << w;
	return true;
}

static bool
config_exempt(struct config_ctx *x, const char *key, const char *tok)
{
	const char *s;
	unsigned i;

	if (strlen(tok) >= CONFIG_IFNAME_MAX) {
		config_error(x, "%s: interface name \"%s\" is too long", key,
		             tok);
		return false;
	}
	for (s = tok; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_.@", *s)) {
			config_error(x, "%s: \"%s\" is not an interface name",
			             key, tok);
			return false;
		}
	}
	if (x->c->nexempt >= CONFIG_EXEMPT_MAX) {
		config_error(x, "%s: more than 16 exemptions (at \"%s\")", key,
		             tok);
		return false;
	}
	/* icmp and icmpv6 are protocols, each one rule per hook: once. */
	if (strcmp(tok, CONFIG_EXEMPT_ICMP) == 0 ||
	    strcmp(tok, CONFIG_EXEMPT_ICMP6) == 0) {
		for (i = 0; i < x->c->nexempt; i++) {
			if (strcmp(x->c->exempt[i], tok) == 0) {
				config_error(x, "%s: %s is listed twice", key,
				             tok);
				return false;
			}
		}
	}
	snprintf(x->c->exempt[x->c->nexempt++], CONFIG_IFNAME_MAX, "%s", tok);
	return true;
}

/*
 * tun_name: an interface name as `exempt` takes one; on macOS, where the
 * kernel names every tunnel, utunN (N without leading zeros).
 */
static void
config_tun_name(struct config_ctx *x, const char *key, const char *v)
{
	const char *s;

	if (v[0] == '\0' || strlen(v) >= CONFIG_IFNAME_MAX) {
		config_error(x,
		             "%s: \"%s\" is not an interface name (1 to 15 "
		             "characters)",
		             key, v);
		return;
	}
	for (s = v; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_.@", *s)) {
			config_error(x,
			             "%s: \"%s\" is not an interface name "
			             "(letters, digits, - _ . @)",
			             key, v);
			return;
		}
	}
#ifdef __APPLE__
	if (strncmp(v, "utun", 4) != 0 || !isdigit((unsigned char)v[4]) ||
	    (v[4] == '0' && v[5] != '\0') ||
	    strspn(v + 4, "0123456789") != strlen(v + 4)) {
		config_error(x, "%s: \"%s\": macOS names its tunnels utunN",
		             key, v);
		return;
	}
#endif
	snprintf(x->c->tun_name, sizeof(x->c->tun_name), "%s", v);
}

/* Why a can be no tunnel peer, or NULL when it can. */
static const char *
config_peer_bad(const struct sp_addr *a)
{
	static const uint8_t zero[16];
	const uint8_t *v4 = a->b + 12;

	if (a->family == AF_INET) {
		if (memcmp(v4, zero, 4) == 0)
			return "the unspecified address";
		if (v4[0] == 127)
			return "a loopback address";
		if (v4[0] >= 224)
			return "a multicast or reserved address";
		return NULL;
	}
	if (memcmp(a->b, zero, 16) == 0)
		return "the unspecified address";
	if (memcmp(a->b, zero, 15) == 0 && a->b[15] == 1)
		return "the loopback address";
	if (a->b[0] == 0xff)
		return "a multicast address";
	if (memcmp(a->b, zero, 10) == 0 && a->b[10] == 0xff && a->b[11] == 0xff)
		return "an IPv4-mapped address";
	return NULL;
}

/* tun_peer = IPV4, IPV6 (either order): one unicast address of each. */
static void
config_tun_peer(struct config_ctx *x, const char *key, char *v)
{
	struct sp_addr a, p4 = {0}, p6 = {0};
	char *save = NULL, *tok;
	const char *why;
	char msg[96];
	unsigned n = 0;

	for (tok = strtok_r(v, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if (++n > 2) {
			config_error(x,
			             "%s: more than two addresses (at \"%s\"): "
			             "give one IPv4 and one IPv6",
			             key, tok);
			return;
		}
		if (!sp_addr_parse(&a, tok)) {
			config_error(
			        x, "%s: \"%s\" is not an IPv4 or IPv6 address",
			        key, tok);
			return;
		}
		if ((why = config_peer_bad(&a)) != NULL) {
			snprintf(msg, sizeof(msg), "%s is %s", tok, why);
			config_error(x, "%s: %s, not a tunnel's peer", key,
			             msg);
			return;
		}
		if ((a.family == AF_INET ? p4 : p6).family != 0) {
			config_error(x,
			             "%s: two %s addresses: give one IPv4 "
			             "and one IPv6",
			             key,
			             a.family == AF_INET ? "IPv4" : "IPv6");
			return;
		}
		if (a.family == AF_INET)
			p4 = a;
		else
			p6 = a;
	}
	if (p4.family == 0 || p6.family == 0) {
		config_error(x,
		             "%s: needs one IPv4 and one IPv6 address (%s "
		             "is missing)",
		             key, p4.family == 0 ? "IPv4" : "IPv6");
		return;
	}
	x->c->tun_peer4 = p4;
	x->c->tun_peer6 = p6;
}

/* A user name as useradd takes it: [a-z_][a-z0-9_-]*, at most 32. */
static void
config_user(struct config_ctx *x, const char *key, const char *v)
{
	const char *s;

	if (v[0] == '\0' || strlen(v) >= CONFIG_USER_MAX ||
	    !(islower((unsigned char)v[0]) || v[0] == '_'))
		goto bad;
	for (s = v; *s; s++)
		if (!islower((unsigned char)*s) &&
		    !isdigit((unsigned char)*s) && *s != '_' && *s != '-')
			goto bad;
	snprintf(x->c->user, sizeof(x->c->user), "%s", v);
	return;
bad:
	config_error(x, "%s: \"%s\" is not a user name", key, v);
}

/* log = none | syslog | stderr | json:PATH */
static void
config_log(struct config_ctx *x, const char *key, const char *v)
{
	static const char *const words[] = {"none", "syslog", "stderr"};
	int w = config_word(v, words, 3);

	if (w >= 0) {
		x->c->log = (enum config_log)w;
		x->c->log_path[0] = '\0';
	} else if (strncmp(v, "json:", 5) == 0) {
		if (v[5] != '/') {
			config_error(x,
			             "%s: \"%s\": json: needs an absolute path",
			             key, v);
			return;
		}
		if (config_path(x, key, v + 5, x->c->log_path,
		                sizeof(x->c->log_path)))
			x->c->log = CONFIG_LOG_JSON;
	} else
		config_error(x,
		             "%s: \"%s\" is not one of none, syslog, stderr, "
		             "json:PATH",
		             key, v);
}

static void
config_set(struct config_ctx *x, const char *key, char *v)
{
	static const char *const modes[] = {"enforce", "monitor"};
	static const char *const diverts[] = {"packet", "flow"};
	static const char *const dflts[] = {"allow", "deny", "reject"};
	static const char *const failures[] = {"open", "closed"};
	static const char *const firewalls[] = {"auto", "iptables", "nft"};
	static const char *const attribs[] = {"auto", "bpf", "proc"};
	struct config *c = x->c;
	const char *backends[CONFIG_BACKEND_TUN + 1];
	int w;

	backends[CONFIG_BACKEND_NFQUEUE] =
	        config_backend_name(CONFIG_BACKEND_NFQUEUE);
	backends[CONFIG_BACKEND_TUN] = config_backend_name(CONFIG_BACKEND_TUN);

#define WORD(table, field, type, what)                                         \
	do {                                                                   \
		w = config_word(v, table, sizeof(table) / sizeof(table[0]));   \
		if (w < 0)                                                     \
			config_error(x, "%s: \"%s\" is not one of " what, key, \
			             v);                                       \
		else                                                           \
			field = (type)w;                                       \
	} while (0)

	if (strcmp(key, "mode") == 0)
		WORD(modes, c->mode, enum config_mode, "enforce, monitor");
	else if (strcmp(key, "divert") == 0)
		WORD(diverts, c->divert, enum config_divert, "packet, flow");
	else if (strcmp(key, "default") == 0) {
		w = config_word(v, dflts, 3);
		if (w < 0)
			config_error(x,
			             "%s: \"%s\" is not one of allow, deny, "
			             "reject",
			             key, v);
		else
			c->dflt = (enum sp_verdict)(SP_VERDICT_ALLOW + w);
	} else if (strcmp(key, "failure") == 0)
		WORD(failures, c->failure, enum config_failure, "open, closed");
	else if (strcmp(key, "backend") == 0)
		WORD(backends, c->backend, enum config_backend, "nfqueue, tun");
	else if (strcmp(key, "firewall") == 0)
		WORD(firewalls, c->firewall, enum config_firewall,
		     "auto, iptables, nft");
	else if (strcmp(key, "rules") == 0)
		config_path(x, key, v, c->rules, sizeof(c->rules));
	else if (strcmp(key, "db") == 0)
		config_path(x, key, v, c->db, sizeof(c->db));
	else if (strcmp(key, "control") == 0)
		config_path(x, key, v, c->control, sizeof(c->control));
	else if (strcmp(key, "queues") == 0)
		config_uint(x, key, v, 1, 64, &c->queues);
	else if (strcmp(key, "queue_base") == 0)
		config_uint(x, key, v, 0, 65535 - 64, &c->queue_base);
	else if (strcmp(key, "attrib_timeout_ms") == 0)
		config_uint(x, key, v, 1, 10000, &c->attrib_timeout_ms);
	else if (strcmp(key, "attribution") == 0)
		WORD(attribs, c->attribution, enum config_attribution,
		     "auto, bpf, proc");
	else if (strcmp(key, "hooks") == 0) {
		c->hooks = 0;
		config_list(x, key, v, config_hook);
	} else if (strcmp(key, "exempt") == 0) {
		c->nexempt = 0;
		config_list(x, key, v, config_exempt);
	} else if (strcmp(key, "tun_name") == 0)
		config_tun_name(x, key, v);
	else if (strcmp(key, "tun_peer") == 0)
		config_tun_peer(x, key, v);
	else if (strcmp(key, "db_max_size") == 0)
		config_scaled(x, key, v, false, STORE_MIN_MAX_SIZE, 1ull << 40,
		              &c->db_max_size);
	else if (strcmp(key, "db_max_age") == 0)
		config_scaled(x, key, v, true, 0, 100ull * 365 * 86400,
		              &c->db_max_age);
	else if (strcmp(key, "store_flush_ms") == 0)
		config_uint(x, key, v, 1, 60000, &c->store_flush_ms);
	else if (strcmp(key, "store_flush_records") == 0)
		config_uint(x, key, v, 1, 1000000, &c->store_flush_records);
	else if (strcmp(key, "store_queue") == 0) {
		uint64_t q;

		if (config_scaled(x, key, v, false, STORE_MIN_QUEUE, 1ull << 30,
		                  &q))
			c->store_queue = (unsigned)q;
	} else if (strcmp(key, "memory_max") == 0)
		config_scaled(x, key, v, false, 16ull << 20, 1ull << 40,
		              &c->memory_max);
	else if (strcmp(key, "incomplete_budget") == 0)
		config_uint(x, key, v, 0, INCOMPLETE_MAX_BUDGET,
		            &c->incomplete_budget);
	else if (strcmp(key, "capture_denied") == 0)
		config_path(x, key, v, c->capture_denied,
		            sizeof(c->capture_denied));
	else if (strcmp(key, "capture_max_size") == 0)
		config_scaled(x, key, v, false, CAPTURE_MIN_SIZE, 1ull << 40,
		              &c->capture_max_size);
	else if (strcmp(key, "capture_keep") == 0)
		config_uint(x, key, v, 0, 1000, &c->capture_keep);
	else if (strcmp(key, "steering_repair") == 0)
		config_yesno(x, key, v, &c->steering_repair);
	else if (strcmp(key, "user") == 0)
		config_user(x, key, v);
	else if (config_net_set(x, key, v))
		;
	else if (strcmp(key, "log") == 0)
		config_log(x, key, v);
	else
		config_error(x, "unknown key \"%s\"%s", key, "");
#undef WORD
}

static char *
config_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_parse(struct config *c, const char *name, const char *text, FILE *err)
{
	struct config tmp = *c;
	struct config_ctx x = {&tmp, name, 0, err, 0, 0, 0, 0};
	const char *p = text, *nl;
	char buf[SP_PATH_MAX + 64], *line, *eq, *key, *val, *hash;
	size_t n;

	while (*p != '\0') {
		x.line++;
		nl = strchr(p, '\n');
		n = nl ? (size_t)(nl - p) : strlen(p);
		if (n >= sizeof(buf)) {
			config_error(&x, "line is longer than %s bytes%s",
			             "4160", "");
			goto next;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		if ((hash = strchr(buf, '#')) != NULL)
			*hash = '\0';
		line = config_trim(buf);
		if (*line == '\0')
			goto next;
		if ((eq = strchr(line, '=')) == NULL) {
			config_error(&x, "expected `key = value`, got \"%s\"%s",
			             line, "");
			goto next;
		}
		*eq = '\0';
		key = config_trim(line);
		val = config_trim(eq + 1);
		if (*key == '\0') {
			config_error(&x, "missing key before '='%s%s", "", "");
			goto next;
		}
		config_set(&x, key, val);
	next:
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	/* Checked once the whole file is read: the *_public keys and
	 * `rules` may follow. */
	config_net_check(&x);
	if (x.errors > 0)
		return -1;
	snprintf(tmp.path, sizeof(tmp.path), "%s", name);
	*c = tmp;
	return 0;
}

int
config_load(struct config *c, const char *path, FILE *err)
{
	FILE *f;
	char *text = NULL;
	size_t len;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(err, "%s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	if ((text = malloc(CONFIG_FILE_MAX + 1)) == NULL) {
		fprintf(err, "%s: out of memory\n", path);
		goto out;
	}
	len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		fprintf(err, "%s: read error: %s\n", path, strerror(errno));
		goto out;
	}
	if (len > CONFIG_FILE_MAX) {
		fprintf(err, "%s: larger than 1 MiB, not a config file\n",
		        path);
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		fprintf(err, "%s: holds a NUL byte, not a config file\n", path);
		goto out;
	}
	text[len] = '\0';
	rc = config_parse(c, path, text, err);
out:
	free(text);
	fclose(f);
	return rc;
}

void
config_print(FILE *f, const struct config *c)
{
	static const char *const fw[] = {"auto", "iptables", "nft"};
	static const char *const attribs[] = {"auto", "bpf", "proc"};
	char p4[INET6_ADDRSTRLEN], p6[INET6_ADDRSTRLEN];
	unsigned i;
	bool first = true;

	fprintf(f, "mode = %s\n",
	        c->mode == CONFIG_MODE_MONITOR ? "monitor" : "enforce");
	fprintf(f, "divert = %s\n",
	        c->divert == CONFIG_DIVERT_FLOW ? "flow" : "packet");
	fprintf(f, "backend = %s\n", config_backend_name(c->backend));
	fprintf(f, "default = %s\n", sp_verdict_name(c->dflt));
	fprintf(f, "failure = %s\n",
	        c->failure == CONFIG_FAILURE_CLOSED ? "closed" : "open");
	fprintf(f, "rules = %s\n", c->rules);
	fprintf(f, "db = %s\n", c->db);
	fprintf(f, "control = %s\n", c->control);
	fprintf(f, "queues = %u\n", c->queues);
	fprintf(f, "queue_base = %u\n", c->queue_base);
	fprintf(f, "attrib_timeout_ms = %u\n", c->attrib_timeout_ms);
	fprintf(f, "attribution = %s\n", attribs[c->attribution]);
	fprintf(f, "hooks =");
	for (i = 0; i < 3; i++) {
		static const char *const names[] = {"out", "in", "forward"};
		if (c->hooks & (1u << i)) {
			fprintf(f, "%s %s", first ? "" : ",", names[i]);
			first = false;
		}
	}
	fprintf(f, "\nexempt =");
	for (i = 0; i < c->nexempt; i++)
		fprintf(f, "%s %s", i ? "," : "", c->exempt[i]);
	fprintf(f, "\nfirewall = %s\n", fw[c->firewall]);
	fprintf(f, "tun_name = %s\n", c->tun_name);
	fprintf(f, "tun_peer = %s, %s\n",
	        sp_addr_format(&c->tun_peer4, p4, sizeof(p4)),
	        sp_addr_format(&c->tun_peer6, p6, sizeof(p6)));
	fprintf(f, "db_max_size = %llu\n", (unsigned long long)c->db_max_size);
	fprintf(f, "db_max_age = %llus\n", (unsigned long long)c->db_max_age);
	fprintf(f, "store_flush_ms = %u\n", c->store_flush_ms);
	fprintf(f, "store_flush_records = %u\n", c->store_flush_records);
	fprintf(f, "store_queue = %u\n", c->store_queue);
	fprintf(f, "incomplete_budget = %u\n", c->incomplete_budget);
	fprintf(f, "memory_max = %llu\n", (unsigned long long)c->memory_max);
	if (c->capture_denied[0] != '\0')
		fprintf(f, "capture_denied = %s\n", c->capture_denied);
	fprintf(f, "capture_max_size = %llu\n",
	        (unsigned long long)c->capture_max_size);
	fprintf(f, "capture_keep = %u\n", c->capture_keep);
	fprintf(f, "steering_repair = %s\n", c->steering_repair ? "yes" : "no");
	fprintf(f, "user = %s\n", c->user);
	config_net_print(f, c);
	if (c->log == CONFIG_LOG_JSON)
		fprintf(f, "log = json:%s\n", c->log_path);
	else
		fprintf(f, "log = %s\n",
		        c->log == CONFIG_LOG_SYSLOG   ? "syslog"
		        : c->log == CONFIG_LOG_STDERR ? "stderr"
		                                      : "none");
}

const char *
config_backend_name(enum config_backend b)
{
	switch (b) {
	case CONFIG_BACKEND_NFQUEUE:
		return "nfqueue";
	case CONFIG_BACKEND_TUN:
		return "tun";
	}
	return "?";
}

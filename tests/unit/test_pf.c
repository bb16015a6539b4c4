/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pf steering: golden anchor texts for macOS and OpenBSD, and the
 * reader of pfctl -vvsr counters, golden, round trip and bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "guard.h"
#include "spackle/config.h"
#include "spackle/pfread.h"
#include "spackle/steer_pf.h"

static const enum steer_pf_flavour flavours[] = {STEER_PF_MACOS,
                                                 STEER_PF_OPENBSD};
/* The golden files' name for a flavour: NAME.macos.ok, NAME.openbsd.ok. */
static const char *const flavour_files[] = {"macos", "openbsd"};

/* qsort's comparison takes pointers to the elements. */
static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of tests/golden/pf/SUB ending in suffix, sorted; NULL-ended. */
static char **
golden_names(const char *sub, const char *suffix)
{
	char dir[4096], **v = NULL;
	size_t n = 0, sl = strlen(suffix), len;
	struct dirent *e;
	DIR *d;

	golden_path(dir, sizeof(dir), "pf", sub);
	if ((d = opendir(dir)) == NULL)
		fail_msg("%s: cannot open: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
			continue;
		v = realloc(v, (n + 2) * sizeof(*v));
		assert_non_null(v);
		v[n] = strdup(e->d_name);
		assert_non_null(v[n++]);
	}
	closedir(d);
	assert_true(n > 0);
	v[n] = NULL;
	qsort(v, n, sizeof(*v), cmp_names);
	return v;
}

static void
names_free(char **v)
{
	size_t i;

	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Is tests/golden/pf/REL there? */
static bool
golden_exists(const char *rel)
{
	char path[4096];

	golden_path(path, sizeof(path), "pf", rel);
	return access(path, F_OK) == 0;
}

static bool
updating(void)
{
	const char *u = getenv("SPACKLE_UPDATE_GOLDEN");

	return u != NULL && strcmp(u, "1") == 0;
}

/* tests/golden/pf/anchor/NAME.conf over the defaults. */
static void
load_conf(struct config *c, const char *name)
{
	char rel[512], path[4096], err[1024] = "";
	FILE *f = fmemopen(err, sizeof(err) - 1, "w");

	assert_non_null(f);
	snprintf(rel, sizeof(rel), "anchor/%s", name);
	golden_path(path, sizeof(path), "pf", rel);
	config_defaults(c);
	if (config_load(c, path, f) != 0) {
		fclose(f);
		fail_msg("%s does not load: %s", path, err);
	}
	fclose(f);
}

/* The anchor text in memory; *rc the generator's answer. */
static char *
anchor(const struct config *c, enum steer_pf_flavour fl, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*rc = steer_pf_text(c, fl, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/*
 * Every NAME.conf gives, per flavour, the text in NAME.FLAVOUR.ok or the
 * reason in NAME.FLAVOUR.err (exactly one of them exists).
 */
static void
test_anchor_golden(void **state)
{
	char **confs = golden_names("anchor", ".conf"), base[256], ok[300],
	     bad[300], err[512], *text;
	const char *name;
	struct config c;
	bool has_ok, has_bad;
	size_t i, k;
	int rc, vrc;

	(void)state;
	for (i = 0; confs[i] != NULL; i++) {
		load_conf(&c, confs[i]);
		snprintf(base, sizeof(base), "%.*s",
		         (int)(strlen(confs[i]) - 5), confs[i]);
		for (k = 0; k < 2; k++) {
			snprintf(ok, sizeof(ok), "anchor/%s.%s.ok", base,
			         flavour_files[k]);
			snprintf(bad, sizeof(bad), "anchor/%s.%s.err", base,
			         flavour_files[k]);
			has_ok = golden_exists(ok);
			has_bad = golden_exists(bad);
			if (!updating() && has_ok == has_bad)
				fail_msg("%s: want exactly one of %s and %s",
				         confs[i], ok, bad);
			vrc = steer_pf_validate(&c, flavours[k], err,
			                        sizeof(err));
			text = anchor(&c, flavours[k], &rc);
			/* The generator validates as validate does. */
			assert_int_equal(rc, vrc);
			if (vrc == 0) {
				if (!updating() && !has_ok)
					fail_msg("%s: refused nothing, but %s "
					         "is there",
					         confs[i], bad);
				golden_check("pf", ok, text);
			} else {
				assert_int_equal(vrc, -EINVAL);
				assert_string_equal(text, "");
				if (!updating() && !has_bad)
					fail_msg("%s: %s refused it: %s",
					         confs[i], flavour_files[k],
					         err);
				/* The reason names the flavour. */
				name = steer_pf_name(flavours[k]);
				assert_true(strncmp(err, name, strlen(name)) ==
				            0);
				strcat(err, "\n");
				golden_check("pf", bad, err);
			}
			free(text);
		}
	}
	names_free(confs);
}

/* The rule lines of a text, its comments and blank lines left out. */
static char **
rule_lines(const char *text, size_t *np)
{
	char **v = NULL;
	const char *p = text, *nl;
	size_t n = 0;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl); /* every line ends */
		if (*p == '#' || nl == p)
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		v[n] = strndup(p, (size_t)(nl - p));
		assert_non_null(v[n]);
		n++;
	}
	*np = n;
	return v;
}

static unsigned
count(const char *text, const char *needle)
{
	unsigned n = 0;

	while ((text = strstr(text, needle)) != NULL) {
		n++;
		text += strlen(needle);
	}
	return n;
}

/* The label of a generated rule line (it has one, at the end or before
 * tag, tagged or divert-packet). */
static void
line_label(const char *line, char *out, size_t len)
{
	const char *l = strstr(line, " label \""), *q;

	assert_non_null(l);
	l += 8;
	q = strchr(l, '"');
	assert_non_null(q);
	assert_true((size_t)(q - l) < len);
	snprintf(out, len, "%.*s", (int)(q - l), l);
}

/*
 * What every generated anchor promises: each line a quick, stateless pass
 * with a spackle label pf can hold; each exemption in each hook; one
 * steering rule per hook and family, after that hook's exemptions; the
 * tunnel's rules on macOS, the divert port on OpenBSD.
 */
static void
test_anchor_shape(void **state)
{
	static const char *const dirs[] = {"out", "in"};
	char **confs = golden_names("anchor", ".conf"), **lines, label[80],
	     want[128], *text;
	struct config c;
	size_t i, k, j, n, h, e, queue_at, last_exempt;
	int rc;

	(void)state;
	for (i = 0; confs[i] != NULL; i++) {
		load_conf(&c, confs[i]);
		for (k = 0; k < 2; k++) {
			if (steer_pf_validate(&c, flavours[k], NULL, 0) != 0)
				continue;
			text = anchor(&c, flavours[k], &rc);
			assert_int_equal(rc, 0);
			lines = rule_lines(text, &n);
			for (j = 0; j < n; j++) {
				assert_true(strncmp(lines[j], "pass ", 5) == 0);
				assert_non_null(strstr(lines[j], " quick "));
				assert_non_null(strstr(lines[j], " no state "));
				line_label(lines[j], label, sizeof(label));
				assert_true(strlen(label) < STEER_PF_LABEL_MAX);
				assert_true(strncmp(label, "spackle ", 8) == 0);
			}
			assert_null(strstr(text, "keep state"));
			assert_null(strstr(text, "forward"));
			for (h = 0; h < 2; h++) {
				bool on = (c.hooks & (1u << h)) != 0;

				/* Exemptions before the steering. */
				last_exempt = 0;
				for (e = 0; e < c.nexempt; e++) {
					snprintf(want, sizeof(want),
					         "label \"spackle exempt %s "
					         "%s\"",
					         c.exempt[e], dirs[h]);
					assert_int_equal(count(text, want), on);
					for (j = 0; j < n; j++)
						if (strstr(lines[j], want))
							last_exempt = j;
				}
				snprintf(want, sizeof(want),
				         "label \"spackle queue %s inet\"",
				         dirs[h]);
				assert_int_equal(count(text, want), on);
				for (queue_at = 0; on && queue_at < n;
				     queue_at++)
					if (strstr(lines[queue_at], want))
						break;
				if (on && c.nexempt > 0)
					assert_true(queue_at > last_exempt);
				snprintf(want, sizeof(want),
				         "label \"spackle queue %s inet6\"",
				         dirs[h]);
				assert_int_equal(count(text, want), on);
			}
			if (flavours[k] == STEER_PF_MACOS) {
				snprintf(want, sizeof(want),
				         "pass out quick on %s all no state "
				         "label \"spackle tun\"\n",
				         c.tun_name);
				assert_true(strncmp(lines[0], want,
				                    strlen(want) - 1) == 0);
				assert_int_equal(count(text, " tag SPACKLE\n"),
				                 1);
				assert_int_equal(
				        count(text, " tagged SPACKLE\n"),
				        (c.hooks & CONFIG_HOOK_OUT) != 0);
				assert_int_equal(
				        count(text, " route-to ("),
				        2 * __builtin_popcount(c.hooks));
				assert_null(strstr(text, "divert-packet"));
			} else {
				snprintf(want, sizeof(want),
				         "\" divert-packet port %u\n",
				         c.queue_base);
				assert_int_equal(
				        count(text, want),
				        2 * __builtin_popcount(c.hooks));
				assert_int_equal(
				        count(text, "\" divert-packet port "),
				        count(text, want));
				assert_null(strstr(text, "route-to"));
				assert_null(strstr(text, "tag"));
			}
			for (j = 0; j < n; j++)
				free(lines[j]);
			free(lines);
			free(text);
		}
	}
	names_free(confs);
}

/*
 * Round trip through the reader: each generated anchor, as pfctl -vvsr
 * would print it back (the rules numbered, counters under each), reads
 * into the same rules, each with the label it was given, and prints back
 * as it was.
 */
static void
test_anchor_read_back(void **state)
{
	char **confs = golden_names("anchor", ".conf"), **lines, label[80],
	     err[256], *text, *vv = NULL, *again = NULL;
	struct pf_counters pc = {0};
	struct pf_label_counters sum;
	struct config c;
	size_t i, k, j, n, vvlen = 0, alen = 0;
	FILE *f;
	int rc;

	(void)state;
	for (i = 0; confs[i] != NULL; i++) {
		load_conf(&c, confs[i]);
		for (k = 0; k < 2; k++) {
			if (steer_pf_validate(&c, flavours[k], NULL, 0) != 0)
				continue;
			text = anchor(&c, flavours[k], &rc);
			lines = rule_lines(text, &n);
			f = open_memstream(&vv, &vvlen);
			assert_non_null(f);
			for (j = 0; j < n; j++)
				fprintf(f,
				        "@%zu %s\n  [ Evaluations: %-8zu  "
				        "Packets: %-8zu  Bytes: %-10zu  "
				        "States: %-6u]\n  [ Inserted: uid 0 "
				        "pid 4321 State Creations: %-6u]\n",
				        j, lines[j], 3 * j, j, 100 * j, 0u, 0u);
			assert_int_equal(fclose(f), 0);
			rc = pf_counters_parse(vv, vvlen, &pc, err,
			                       sizeof(err));
			if (rc != 0)
				fail_msg("%s: %s", confs[i], err);
			assert_int_equal(pc.n, n);
			for (j = 0; j < n; j++) {
				assert_string_equal(pc.v[j].text, lines[j]);
				line_label(lines[j], label, sizeof(label));
				assert_string_equal(pc.v[j].label, label);
				assert_int_equal(pc.v[j].nr, j);
				assert_int_equal(pc.v[j].packets, j);
				assert_true(pf_counters_label(&pc, label,
				                              &sum) >= 1);
			}
			f = open_memstream(&again, &alen);
			assert_int_equal(pf_counters_print(&pc, f), 0);
			assert_int_equal(fclose(f), 0);
			assert_string_equal(again, vv);
			pf_counters_free(&pc);
			for (j = 0; j < n; j++)
				free(lines[j]);
			free(lines);
			free(text);
			free(vv);
			free(again);
			vv = again = NULL;
		}
	}
	names_free(confs);
}

/* The edges of the generator's interface. */
static void
test_anchor_args(void **state)
{
	struct config c;
	enum steer_pf_flavour fl;
	char err[256], tiny[8];
	FILE *f;

	(void)state;
	assert_true(steer_pf_flavour("pf-macos", &fl));
	assert_int_equal(fl, STEER_PF_MACOS);
	assert_true(steer_pf_flavour("pf-openbsd", &fl));
	assert_int_equal(fl, STEER_PF_OPENBSD);
	assert_false(steer_pf_flavour("pf", &fl));
	assert_false(steer_pf_flavour("iptables", &fl));
	assert_false(steer_pf_flavour(NULL, &fl));
	assert_string_equal(steer_pf_name(STEER_PF_MACOS), "pf-macos");
	assert_string_equal(steer_pf_name(STEER_PF_OPENBSD), "pf-openbsd");

	config_defaults(&c);
	snprintf(c.exempt[0], sizeof(c.exempt[0]), "lo0");
	snprintf(c.tun_name, sizeof(c.tun_name), "utun3");
	assert_int_equal(steer_pf_validate(&c, STEER_PF_MACOS, NULL, 0), 0);
	assert_int_equal(steer_pf_text(&c, STEER_PF_MACOS, NULL), -EINVAL);
	assert_int_equal(
	        steer_pf_validate(NULL, STEER_PF_MACOS, err, sizeof(err)),
	        -EINVAL);
	assert_string_equal(err, "pf-macos: steering: no configuration");
	assert_int_equal(steer_pf_validate(&c, (enum steer_pf_flavour)7, err,
	                                   sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err, "pf: unknown flavour 7");
	/* A tiny err is cut, NUL-terminated. */
	c.hooks = 0;
	assert_int_equal(
	        steer_pf_validate(&c, STEER_PF_OPENBSD, tiny, sizeof(tiny)),
	        -EINVAL);
	assert_string_equal(tiny, "pf-open");
	/* The tunnel's name: utunN, N without leading zeros. */
	config_defaults(&c);
	snprintf(c.exempt[0], sizeof(c.exempt[0]), "lo0");
	snprintf(c.tun_name, sizeof(c.tun_name), "utun0");
	assert_int_equal(steer_pf_validate(&c, STEER_PF_MACOS, NULL, 0), 0);
	snprintf(c.tun_name, sizeof(c.tun_name), "utun");
	assert_int_equal(steer_pf_validate(&c, STEER_PF_MACOS, NULL, 0),
	                 -EINVAL);
	snprintf(c.tun_name, sizeof(c.tun_name), "utun1a");
	assert_int_equal(steer_pf_validate(&c, STEER_PF_MACOS, NULL, 0),
	                 -EINVAL);
	/* A peer missing (not from a config file). */
	snprintf(c.tun_name, sizeof(c.tun_name), "utun1");
	c.tun_peer6.family = 0;
	assert_int_equal(
	        steer_pf_validate(&c, STEER_PF_MACOS, err, sizeof(err)),
	        -EINVAL);
	assert_string_equal(err, "pf-macos: tun_peer needs one IPv4 and one "
	                         "IPv6 address");
	/* OpenBSD does not read the tunnel's keys. */
	assert_int_equal(steer_pf_validate(&c, STEER_PF_OPENBSD, NULL, 0), 0);
	/* A write that fails is -EIO. */
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(steer_pf_text(&c, STEER_PF_OPENBSD, f), -EIO);
	fclose(f);
}

/* ---- the reader ----------------------------------------------------- */

static char *
print_counters(const struct pf_counters *pc, bool labels)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (labels)
		assert_int_equal(pf_counters_print_labels(pc, f), 0);
	else
		assert_int_equal(pf_counters_print(pc, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/*
 * NN.in (pfctl -vvsr output, in each system's form) reads into the
 * rules of NN.ok, printed canonically, whose labels sum to NN.labels.ok;
 * NN.ok reads back to itself. failNN.in is refused with failNN.err.
 */
static void
test_read_golden(void **state)
{
	char **ins = golden_names("read", ".in"), rel[300], err[512], *text,
	     *out, *again;
	struct pf_counters pc = {0};
	size_t i, len, blen;
	int rc;

	(void)state;
	for (i = 0; ins[i] != NULL; i++) {
		blen = strlen(ins[i]) - 3;
		snprintf(rel, sizeof(rel), "read/%s", ins[i]);
		text = golden_load("pf", rel, &len);
		rc = pf_counters_parse(text, len, &pc, err, sizeof(err));
		if (strncmp(ins[i], "fail", 4) == 0) {
			if (rc != -EINVAL)
				fail_msg("%s: returned %d", ins[i], rc);
			strcat(err, "\n");
			snprintf(rel, sizeof(rel), "read/%.*s.err", (int)blen,
			         ins[i]);
			golden_check("pf", rel, err);
			pf_counters_free(&pc);
			/* err may be NULL */
			assert_int_equal(
			        pf_counters_parse(text, len, &pc, NULL, 0),
			        -EINVAL);
			pf_counters_free(&pc);
			free(text);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", ins[i], err);
		out = print_counters(&pc, false);
		snprintf(rel, sizeof(rel), "read/%.*s.ok", (int)blen, ins[i]);
		golden_check("pf", rel, out);
		again = print_counters(&pc, true);
		snprintf(rel, sizeof(rel), "read/%.*s.labels.ok", (int)blen,
		         ins[i]);
		golden_check("pf", rel, again);
		free(again);
		pf_counters_free(&pc);
		/* Round trip: the canonical form reads back to itself. */
		assert_int_equal(pf_counters_parse(out, strlen(out), &pc, err,
		                                   sizeof(err)),
		                 0);
		again = print_counters(&pc, false);
		assert_string_equal(again, out);
		free(again);
		free(out);
		pf_counters_free(&pc);
		free(text);
	}
	names_free(ins);
}

/*
 * Every prefix of every golden input, flush against a PROT_NONE page:
 * the reader never reads past the length it was given, wherever the text
 * stops, and says 0 or -EINVAL.
 */
static void
test_read_guard(void **state)
{
	char **ins = golden_names("read", ".in"), rel[300], err[256], *text;
	struct pf_counters pc = {0};
	uint8_t *g;
	size_t i, k, len;
	int rc;

	(void)state;
	for (i = 0; ins[i] != NULL; i++) {
		snprintf(rel, sizeof(rel), "read/%s", ins[i]);
		text = golden_load("pf", rel, &len);
		for (k = 0; k <= len; k++) {
			g = guard_copy(text, k);
			rc = pf_counters_parse((const char *)g, k, &pc, err,
			                       sizeof(err));
			assert_true(rc == 0 || rc == -EINVAL);
			if (rc == -EINVAL)
				assert_true(strncmp(err, "line ", 5) == 0);
			pf_counters_free(&pc);
			guard_free(g);
		}
		free(text);
	}
	names_free(ins);
}

struct bad_case {
	const char *text;
	size_t len; /* 0: strlen */
	const char *err;
};

#define EV       "  [ Evaluations: 1 Packets: 1 Bytes: 1 States: 0 ]\n"
#define NUL_CASE "@0 pass all\n" EV "@1 pass\0out all\n" EV

static const struct bad_case bad_cases[] = {
        {NUL_CASE, sizeof(NUL_CASE) - 1, "line 3: a NUL byte"},
        {"@0 pass\tall\n" EV, 0, "line 1: a control byte 0x09"},
        {"@0 pass all\r\n" EV, 0, "line 1: a control byte 0x0d"},
        {"@0 pass all\n  [ Evaluations: 1 Packets: 1 Bytes: 1 States: 0 ]x\n",
         0, "line 2: \"x\" after \"]\""},
        {"@0 pass all\n  [ Evaluations: 1 Packets: 1 Bytes: 1 States: 0 ] "
         "x\n",
         0, "line 2: \"x\" after \"]\""},
        {"@0 pass all\n  [ Evaluations: 1 Packets: 1 Bytes: 1 States: 0\n", 0,
         "line 2: counters cut short (no \"]\")"},
        {"@0 pass all\n  [ Evaluations: 1 Packets: -1 Bytes: 1 States: 0 "
         "]\n",
         0, "line 2: \"-1\" is not a number"},
        {"@0 pass all\n  [ Evaluations: 1 Packets: 0x10 Bytes: 1 States: 0 "
         "]\n",
         0, "line 2: \"0x10\" is not a number"},
        {"@0 pass all\n  [ Evaluations: 1 Packets: Bytes: 1 States: 0 ]\n", 0,
         "line 2: \"Bytes:\" is not a number"},
        {"@0 pass all\n  [ Evaluations: 1 Packets: 1 Bytes: 1 States: ]\n", 0,
         "line 2: \"]\" is not a number"},
        {"@0 pass all\n  [ Evaluations: 99999999999999999999 Packets: 1 "
         "Bytes: 1 States: 0 ]\n",
         0, "line 2: 99999999999999999999 is too large"},
        {"@0 pass all\n  [ Evaluations: 1 Bytes: 1 Packets: 1 States: 0 ]\n", 0,
         "line 2: expected \"Packets:\", found \"Bytes:\""},
        {"@0 pass all\n  Evaluations: 1\n", 0,
         "line 2: an indented line that is not \"[ ... ]\""},
        {"@0 pass all\n  [ 12 ]\n", 0,
         "line 2: \"[ 12\" is not a counter line pfctl prints"},
        {"@0 pass all\n  [ Last Active Time: N/A\n", 0,
         "line 2: counters cut short"},
        {"@0 pass all\n" EV "  [ Inserted: uid 0 pid ]\n", 0,
         "line 3: \"]\" is not a number"},
        {"@0 pass all\n" EV "  [ Inserted: uid 0 pid 1 State 3 ]\n", 0,
         "line 3: expected \"State Creations:\", found \"3\""},
        {"@0 pass all\n" EV "  [ Inserted: uid 0 pid 1 ]\n"
         "  [ Inserted: uid 0 pid 1 ]\n",
         0, "line 4: a second Inserted line for @0"},
        {"@0 pass all\n  [ Inserted: uid 0 pid 1 ]\n" EV, 0,
         "line 2: Inserted before Evaluations for @0"},
        {"@ pass all\n" EV, 0, "line 1: a number is missing"},
        {"@0\n" EV, 0, "line 1: @0 has no rule after it"},
        {"@0  pass all\n" EV, 0, "line 1: @0 has no rule after it"},
        {"@x pass all\n" EV, 0, "line 1: \"x\" is not a number"},
        {"@5 pass all\n" EV "@3 pass all\n" EV, 0,
         "line 3: rule @3 after @5: the numbers must increase"},
        {"@0 pass all\n@1 pass all\n" EV, 0,
         "line 1: @0 has no counters (is this pfctl -vvsr?)"},
        {"@0 pass all label \"x\n" EV, 0,
         "line 1: a label without its closing quote"},
        {"@0 pass all label "
         "\"0123456789012345678901234567890123456789012345678901234567890123"
         "\"\n" EV,
         0, "line 1: a label of 64 bytes (pf's hold at most 63)"},
        {"anchor \"spackle\" all {\n", 0,
         "line 1: \"anchor \"spackle\" all {\" is not a line of pfctl -vvsr"},
};

static void
test_read_bad(void **state)
{
	struct pf_counters pc = {0};
	char err[256];
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];

		len = b->len ? b->len : strlen(b->text);
		memset(err, 'x', sizeof(err));
		rc = pf_counters_parse(b->text, len, &pc, err, sizeof(err));
		if (rc != -EINVAL)
			fail_msg("case %zu: returned %d", i, rc);
		if (strncmp(err, b->err, strlen(b->err)) != 0)
			fail_msg("case %zu: \"%s\" is not \"%s...\"", i, err,
			         b->err);
		pf_counters_free(&pc);
	}
}

/* What the reader keeps, sums and takes. */
static void
test_read_api(void **state)
{
	static const char two[] =
	        "@0 pass out quick all no state label \"a\"\n"
	        "  [ Evaluations: 18446744073709551615  Packets: "
	        "18446744073709551615  Bytes: 1  States: 4294967295]\n"
	        "@1 pass in quick all no state label \"a\"\n"
	        "  [ Evaluations: 1  Packets: 2  Bytes: 3  States: 4]\n"
	        "@7 pass in quick all no state\n"
	        "  [ Evaluations: 5  Packets: 6  Bytes: 7  States: 8]\n";
	static const char bad_after[] = "@8 pass all\n" EV "@9 pass all\n"
	                                "  [ Evaluations: x ]\n";
	struct pf_counters pc = {0};
	struct pf_label_counters s;
	char err[256], tiny[8], *out;

	(void)state;
	assert_int_equal(
	        pf_counters_parse(two, sizeof(two) - 1, &pc, err, sizeof(err)),
	        0);
	assert_int_equal(pc.n, 3);
	assert_string_equal(pc.v[0].text,
	                    "pass out quick all no state label \"a\"");
	assert_int_equal(pc.v[0].line, 1);
	assert_int_equal(pc.v[2].line, 5);
	assert_int_equal(pc.v[2].nr, 7);
	assert_string_equal(pc.v[2].label, "");
	assert_false(pc.v[0].has_inserted);
	/* Sums of a label saturate; an unknown label is none. */
	assert_int_equal(pf_counters_label(&pc, "a", &s), 2);
	assert_int_equal(s.rules, 2);
	assert_true(s.evaluations == UINT64_MAX);
	assert_true(s.packets == UINT64_MAX);
	assert_int_equal(s.bytes, 4);
	assert_int_equal(s.states, 4294967299ull);
	assert_int_equal(pf_counters_label(&pc, "b", &s), 0);
	assert_int_equal(s.packets, 0);
	assert_int_equal(pf_counters_label(&pc, "", &s), 0);
	assert_int_equal(pf_counters_label(&pc, NULL, &s), 0);
	out = print_counters(&pc, true);
	assert_string_equal(out, "\"a\": rules 2, evaluations "
	                         "18446744073709551615, packets "
	                         "18446744073709551615, bytes 4, states "
	                         "4294967299\n");
	free(out);

	/* Appended: whole rules before a bad line stay, the one whose
	 * counters were bad does not. */
	assert_int_equal(pf_counters_parse(bad_after, sizeof(bad_after) - 1,
	                                   &pc, err, sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err, "line 4: \"x\" is not a number");
	assert_int_equal(pc.n, 4);
	assert_int_equal(pc.v[3].nr, 8);
	pf_counters_free(&pc);
	assert_int_equal(pc.n, 0);
	pf_counters_free(&pc);
	pf_counters_free(NULL);

	/* A tiny err is cut, NUL-terminated. */
	assert_int_equal(
	        pf_counters_parse("hello\n", 6, &pc, tiny, sizeof(tiny)),
	        -EINVAL);
	assert_string_equal(tiny, "line 1:");
	/* Bad arguments; nothing at all is no rules. */
	assert_int_equal(pf_counters_parse(NULL, 1, &pc, NULL, 0), -EINVAL);
	assert_int_equal(pf_counters_parse("", 0, NULL, NULL, 0), -EINVAL);
	assert_int_equal(pf_counters_parse(NULL, 0, &pc, NULL, 0), 0);
	assert_int_equal(pc.n, 0);
}

/* Bounds: a line past PF_LINE_MAX, more than PF_RULES_MAX rules. */
static void
test_read_limits(void **state)
{
	struct pf_counters pc = {0};
	char err[256], *text, *p;
	size_t i, len;

	(void)state;
	text = malloc(PF_LINE_MAX + 64);
	assert_non_null(text);
	memcpy(text, "@0 ", 3);
	memset(text + 3, 'a', PF_LINE_MAX);
	text[PF_LINE_MAX + 3] = '\n';
	assert_int_equal(
	        pf_counters_parse(text, PF_LINE_MAX + 4, &pc, err, sizeof(err)),
	        -EINVAL);
	assert_string_equal(err, "line 1: longer than 4096 bytes");
	/* Exactly PF_LINE_MAX is a line. */
	memcpy(text + PF_LINE_MAX, "\n" EV, sizeof(EV));
	assert_int_equal(pf_counters_parse(text, PF_LINE_MAX + sizeof(EV), &pc,
	                                   err, sizeof(err)),
	                 0);
	assert_int_equal(strlen(pc.v[0].text), PF_LINE_MAX - 3);
	pf_counters_free(&pc);
	free(text);

	len = (size_t)(PF_RULES_MAX + 1) * 96;
	text = p = malloc(len);
	assert_non_null(text);
	for (i = 0; i <= PF_RULES_MAX; i++)
		p += sprintf(p,
		             "@%zu pass all\n  [ Evaluations: 0 Packets: 0 "
		             "Bytes: 0 States: 0]\n",
		             i);
	assert_int_equal(pf_counters_parse(text, (size_t)(p - text), &pc, err,
	                                   sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err, "line 131073: more than 65536 rules");
	assert_int_equal(pc.n, PF_RULES_MAX);
	pf_counters_free(&pc);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_anchor_golden),
	        cmocka_unit_test(test_anchor_shape),
	        cmocka_unit_test(test_anchor_read_back),
	        cmocka_unit_test(test_anchor_args),
	        cmocka_unit_test(test_read_golden),
	        cmocka_unit_test(test_read_guard),
	        cmocka_unit_test(test_read_bad),
	        cmocka_unit_test(test_read_api),
	        cmocka_unit_test(test_read_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Importers: Little Snitch rule groups, OpenSnitch rules and blocklists. */
#ifndef SPACKLE_IMPORT_H
#define SPACKLE_IMPORT_H

#include <jansson.h>
#include <stdio.h>

#include "spackle/rules.h"
#include "spackle/spackle.h"

/*
 * What every importer returns, which is also the exit status of
 * `spackle import`. Each error has been reported on the caller's err stream,
 * once, naming the file (and the JSON line:column or the rule) and the
 * problem.
 */
enum import_status {
	IMPORT_OK = 0,
	IMPORT_BAD_INPUT = 1, /* input errors: the bad parts are left out */
	IMPORT_FAILED = 2,    /* out of memory, or cannot write the output */
};

/* Caps: what is bigger is refused with a message saying so. */
#define IMPORT_JSON_MAX   RULES_FILE_MAX    /* bytes of one JSON input */
#define IMPORT_FILES_MAX  65536u            /* rule files of one folder */
#define IMPORT_HOSTS_MAX  RULES_LIST_MAX    /* bytes of one blocklist */
#define IMPORT_NAMES_MAX  RULES_ENTRIES_MAX /* entries of the written list */
#define IMPORT_SET_MAX    64u   /* targets per printed rule; more: more rules */
#define IMPORT_PORTS_MAX  64u   /* ports of one rule */
#define IMPORT_DEPTH_MAX  8u    /* nested OpenSnitch list operators */
#define IMPORT_STRING_MAX 4096u /* a quoted string of the rule language */
#define IMPORT_ENTRY_BUF  256u  /* a canonical name, address or CIDR, NUL */

/* ---- the importers ---- */

/*
 * A Little Snitch rule group (.lsrules JSON) as spackle rules on out,
 * comments saying what could not be carried over. `file` names the input in
 * messages and in the header. A rule with an error is reported on err and
 * left out; the others are printed. Returns an enum import_status.
 */
int import_lsrules_buffer(const char *file, const char *text, size_t len,
                          FILE *out, FILE *err);
int import_lsrules_file(const char *path, FILE *out, FILE *err);

/*
 * One OpenSnitch rule file (JSON) as a spackle rule on out; comments name
 * the file's base name. A file with an error (malformed JSON: FILE:LINE:COL)
 * is reported on err and prints nothing at all.
 */
int import_opensnitch_buffer(const char *file, const char *text, size_t len,
                             FILE *out, FILE *err);
/*
 * Every *.json of an OpenSnitch rules folder, in strcmp(3) order of their
 * names (or path itself when it is a file). Every bad file is reported and
 * left out, and the result is then IMPORT_BAD_INPUT; the others are printed.
 */
int import_opensnitch_path(const char *path, FILE *out, FILE *err);

/* text as a JSON object (duplicate keys refused); NULL when it is not,
 * with FILE:LINE:COL and the reason on err. */
json_t *import_json_object(const char *file, const char *text, size_t len,
                           FILE *err);

/* Read the JSON file at path (at most IMPORT_JSON_MAX bytes) and hand it to
 * buffer (import_lsrules_buffer, import_opensnitch_buffer). */
int import_json_file(const char *path,
                     int (*buffer)(const char *file, const char *text,
                                   size_t len, FILE *out, FILE *err),
                     FILE *out, FILE *err);

/* Why a blocklist line, or a name on it, is not carried over. */
enum import_skip {
	IMPORT_SKIP_NONE = 0,
	IMPORT_SKIP_LOCAL,     /* name: localhost, broadcasthost, a sink */
	IMPORT_SKIP_INVALID,   /* name: not one the rule language takes */
	IMPORT_SKIP_ADDRESS,   /* name: mapped to an address, not blocked */
	IMPORT_SKIP_EXCEPTION, /* line: adblock @@ exception */
	IMPORT_SKIP_OPTIONS,   /* line: adblock $options but important */
	IMPORT_SKIP_PATH,      /* line: adblock path, port or wildcard */
	IMPORT_SKIP_SYNTAX,    /* line: other syntax (cosmetic, regexp) */
	IMPORT_SKIP_COUNT,
};

/* What a blocklist held, for the summary. */
struct import_hosts_stats {
	size_t lines;
	size_t names;      /* names written */
	size_t addrs;      /* addresses and CIDRs written */
	size_t duplicates; /* entries written already */
	size_t wildcards;  /* `*.name` lines, written as name */
	size_t blank;      /* blank and comment lines, adblock headers */
	size_t skipped[IMPORT_SKIP_COUNT];
};

/*
 * The entries of a blocklist (hosts file, plain names, adblock ||name^)
 * as list lines on `list`: one per line, lower case, in the order first
 * seen, each once. `file` names the input in messages. IMPORT_BAD_INPUT when
 * it has more than IMPORT_NAMES_MAX entries or none at all.
 */
int import_hosts_buffer(const char *file, const char *text, size_t len,
                        FILE *list, struct import_hosts_stats *st, FILE *err);

/*
 * Convert the blocklist at path into the list file list_path (written to a
 * temporary file beside it, then renamed over it), print the rule
 * `ACTION out to list "REALPATH"` on out and a summary on err. list_path
 * NULL: path's base name with ".list" appended, in the current folder.
 */
int import_hosts_file(const char *path, const char *list_path,
                      enum sp_verdict action, FILE *out, FILE *err);

/* ---- the pieces, shared by the importers and tested on their own ---- */

/* What one blocklist line is. */
enum import_line_kind {
	IMPORT_LINE_BLANK,   /* blank, a comment, an adblock header or ! line */
	IMPORT_LINE_HOSTS,   /* ADDRESS NAME...: the names in `fields` */
	IMPORT_LINE_ENTRY,   /* one field: a name, an address or a CIDR */
	IMPORT_LINE_ADBLOCK, /* ||name^ (or ||name^$important): the name */
	IMPORT_LINE_SKIP,    /* cannot be carried over: `why` */
};

struct import_hosts_line {
	enum import_line_kind kind;
	enum import_skip why; /* SKIP */
	bool sink; /* HOSTS: the address is 0.0.0.0, 127.0.0.1, :: or ::1 */
	struct sp_view fields; /* HOSTS: the names; ENTRY, ADBLOCK: the one */
};

/*
 * Classify one line (without its '\n'; a final '\r' is allowed). `fields`
 * points into line. A '#' that starts a field starts a comment; one stuck
 * to a field is adblock's cosmetic syntax (##, #@#...) and skips the line.
 */
void import_hosts_line(struct sp_view line, struct import_hosts_line *hl);
/* The next blank-separated field of *rest into *field; false at the end. */
bool import_field_next(struct sp_view *rest, struct sp_view *field);

/* What one field of a blocklist is. */
enum import_entry {
	IMPORT_ENTRY_NAME,     /* a name: lower case, without a final dot */
	IMPORT_ENTRY_WILDCARD, /* "*.name": name, which covers the rest */
	IMPORT_ENTRY_ADDR,     /* an address or CIDR, canonical */
	IMPORT_ENTRY_LOCAL,    /* localhost and the like, or a sink address */
	IMPORT_ENTRY_INVALID,
};

/*
 * One field as a list entry, canonical into buf (IMPORT_ENTRY_BUF) and its
 * length into *lenp. Addresses are entries only when addr_ok (a hosts
 * line's names are names).
 */
enum import_entry import_hosts_entry(struct sp_view field, bool addr_ok,
                                     char *buf, size_t *lenp);

/* Names are checked with rules_name_check() (spackle/rules.h), as the
 * rule loader checks them. */
/* A checked name into buf (IMPORT_ENTRY_BUF): lower case, no final dot. */
size_t import_name_canon(const char *s, size_t len, char *buf);

/*
 * An address or CIDR as the rule language prints it (inet_ntop, "/LEN" for
 * a CIDR) into buf (IMPORT_ENTRY_BUF). Bits past a CIDR's prefix are
 * cleared when mask, else refused. -1 when s is neither.
 */
int import_addr_canon(const char *s, bool mask, char *buf);

/*
 * An address range "A-B" (blanks allowed around '-'): 1 when it is exactly
 * one CIDR (or one address), written canonically into buf
 * (IMPORT_ENTRY_BUF); 0 when it is a good range that no single CIDR covers
 * exactly; -1 when it is no range of two addresses of one family, A <= B.
 */
int import_range_cidr(const char *s, char *buf);

struct import_port {
	uint16_t lo, hi;
};

/*
 * Ports "80", "80-443", "80,443" or "80, 443-445" into v (cap entries), the
 * count into *n. -1 with *why set when one is not a port 1-65535, a range
 * runs backwards, or there are more than cap.
 */
int import_ports_parse(const char *s, struct import_port *v, size_t cap,
                       size_t *n, const char **why);

/*
 * The glob (RULES.md: `*` and `?`, where `*` also matches '/') that matches
 * exactly the strings the Go regexp re matches as OpenSnitch applies it
 * (a missing ^ or $ leaves that end open), into buf (len bytes). It reduces
 * `.*` to `*`, `.+` to `?*`, `.` to `?` and `\c` to c for punctuation c; NULL
 * when re holds anything else (classes, groups, alternation, other quantifiers,
 * \d and the like, a literal '*' or '?').
 */
const char *import_regexp_glob(const char *re, char *buf, size_t len);
/*
 * The NAME of a "this name and every name under it" pattern, such as
 * ^(|.*\.)NAME$, ^(.*\.)?NAME$ or (^|\.)NAME$ with NAME's dots escaped,
 * into buf (len bytes); NULL for any other regexp.
 */
const char *import_regexp_domain(const char *re, char *buf, size_t len);

/*
 * Text as a rule-language string: control characters (which a string
 * cannot hold) become spaces, and it is cut at IMPORT_STRING_MAX bytes, on
 * a UTF-8 boundary (*cut then says so). NULL when out of memory.
 */
char *import_text_clean(const char *s, bool *cut);
/* A string in double quotes with `"` and `\` escaped (RULES.md). */
void import_put_string(FILE *f, const char *s);

/*
 * One rule being built, printed in the canonical form of docs/rules.md
 * (`rules print` gives it back unchanged).
 */
struct import_rule {
	enum sp_verdict action;
	enum sp_dir dir;
	int proto;      /* -1: no proto clause */
	char *process;  /* a glob; NULL: no process clause */
	char user[64];  /* a number or a name; "": no user clause */
	char **targets; /* canonical: "any", "host N", "domain N", ADDR, CIDR */
	size_t ntargets, captargets;
	bool remote; /* the source named a remote, even if no target is left */
	struct import_port ports[IMPORT_PORTS_MAX];
	size_t nports;
	bool priority;
	char *note;
	bool oom;
};

void import_rule_init(struct import_rule *r);
void import_rule_free(struct import_rule *r);
/* Add a target: kind "host" or "domain" and a name, or "" and an address. */
bool import_rule_target(struct import_rule *r, const char *kind,
                        const char *text);
/*
 * The rule as lines on f, each started with prefix: one line, or one per
 * IMPORT_SET_MAX targets (each the same rule for a part of the set, which
 * together decide as the whole would).
 */
void import_rule_print(FILE *f, const struct import_rule *r,
                       const char *prefix);

/*
 * One input rule on its way out: its comments and its rule line gather in
 * memory, and reach the output only when it had no error.
 */
struct import_unit {
	struct import_rule r;
	char where[64]; /* what comments name: "rules[3]", "10-curl.json" */
	FILE *f;        /* the unit's lines */
	char *buf;
	size_t len;
	bool drop;   /* left out: a condition it has cannot be written */
	bool error;  /* left out, and nothing printed: it is not good input */
	bool silent; /* no rule line, only the comments */
};

bool import_unit_begin(struct import_unit *u, const char *where);
/*
 * Finish u: unless it had an error, its comments and then its rule (as a
 * comment "without what is left out" when dropped) go to out. Returns an
 * enum import_status; frees u.
 */
int import_unit_end(struct import_unit *u, FILE *out);
/* "# where: left out: ...": a condition that cannot be written. */
void import_unit_drop(struct import_unit *u, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* "# where: not carried over: ...": the rule holds without it. */
void import_unit_lost(struct import_unit *u, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* A protocol as the rule language prints it: a name, or its number in
 * buf (8 bytes). */
const char *import_proto_text(int proto, char *buf);
/* Do rules with this protocol (-1: none) take a port clause? */
bool import_proto_has_ports(int proto);

/* A JSON value as compact JSON text for a comment, cut at len - 1 bytes. */
void import_json_text(const json_t *v, char *buf, size_t len);

/* "# where: message" and a newline; control characters become spaces. */
void import_comment(FILE *f, const char *where, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif

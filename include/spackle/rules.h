/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rule language (RULES.md): parse, print, compile into indices, match. */
#ifndef SPACKLE_RULES_H
#define SPACKLE_RULES_H

#include <stdio.h>

#include "spackle/spackle.h"

enum rules_target_kind {
	RULES_T_ANY = 0,
	RULES_T_ADDR, /* an address, kept as a full-length CIDR */
	RULES_T_CIDR,
	RULES_T_HOST,
	RULES_T_DOMAIN,
	RULES_T_LIST,
};

struct rules_target {
	enum rules_target_kind kind;
	struct sp_addr addr; /* ADDR, CIDR */
	unsigned plen;       /* ADDR, CIDR: in the address's family */
	/*
	 * HOST, DOMAIN: lower case; LIST: the path as written; ADDR, CIDR:
	 * the canonical text (what `explain` shows as the matched entry).
	 */
	char *name;
	struct rules_list *list; /* LIST: shared, loaded once per path */
};

/* One line of a list file: an address, a CIDR or a name (a domain). */
struct rules_list_entry {
	struct sp_addr addr; /* ADDR, CIDR */
	uint8_t plen;        /* ADDR, CIDR: in the address's family */
	uint8_t kind;        /* enum rules_target_kind */
	const char *name;    /* DOMAIN: lower case; else the text */
};

/* A list file, loaded once per path and shared by the rules naming it. */
struct rules_list {
	char *path; /* resolved against the naming rule file's folder */
	char *key;  /* realpath(3) of path: what "once per path" compares */
	struct rules_list_entry *v;
	size_t n;
	char *buf; /* the file's text; entries' names point into it */
	bool bad;  /* it had errors: every rule naming it is refused */
	bool used; /* named by a rule that was loaded */
};

/* Caps: a bigger file is refused with a message saying so. */
#define RULES_FILE_MAX    (16u << 20)  /* bytes of one rule file */
#define RULES_LIST_MAX    (256u << 20) /* bytes of one list file */
#define RULES_ENTRIES_MAX (8u << 20)   /* entries of one list file */
#define RULES_ERRORS_MAX  1000u        /* errors reported per file */

#define RULES_PROTO_ANY 256 /* `any` in rules_rule.proto_set */

struct rules_port {
	uint16_t lo, hi;
	char *name; /* as written when it came from /etc/services, else NULL */
};

/* Which clauses a rule has; each may appear at most once. */
enum rules_clause {
	RULES_C_PROTO = 1u << 0,
	RULES_C_PROCESS = 1u << 1,
	RULES_C_USER = 1u << 2,
	RULES_C_REMOTE = 1u << 3, /* to or from */
	RULES_C_PORT = 1u << 4,
	RULES_C_PRIORITY = 1u << 5,
	RULES_C_ESSENTIAL = 1u << 6,
	RULES_C_NOTE = 1u << 7,
};

struct rules_rule {
	enum sp_verdict action;
	enum sp_dir dir;
	uint32_t clauses;   /* enum rules_clause */
	uint8_t protos[32]; /* bitmap of protocol numbers; all set for any */
	bool proto_any;
	uint16_t *proto_set; /* as written, in order; RULES_PROTO_ANY for any */
	size_t nproto_set;
	char *process;    /* glob, NULL for none or "any" (no constraint) */
	uint32_t uid;     /* with RULES_C_USER */
	char *user;       /* the name as written, NULL when numeric */
	bool remote_from; /* written with "from" rather than "to" */
	struct rules_target *targets;
	size_t ntargets;
	struct rules_port *ports;
	size_t nports;
	char *note;
	const char *file;   /* owned by the ruleset */
	unsigned line, col; /* where its action word is */
	uint32_t index;     /* load order, 0-based: the last precedence key */
};

/* One error or warning, as FILE:LINE:COL: message. */
struct rules_diag {
	char *file;
	unsigned line, col;
	char *msg;
	bool warning;
};

struct rules_diags {
	struct rules_diag *v;
	size_t n, cap;
	size_t errors, warnings;
};

struct rules_index;

/* Fields are private to src/rules_*.c; other modules use the functions. */
struct ruleset {
	struct rules_rule *rules;
	size_t nrules, caprules;
	char **files; /* names the rules' `file` point to */
	size_t nfiles, capfiles;
	struct rules_list **lists; /* every list read, once per path */
	size_t nlists, caplists;
	struct rules_index *idx; /* built by rules_compile() */
	uint64_t seed;           /* keys the index hashes */
	/* Flows each rule decided, by index (rules_compile() makes it);
	 * added to and read with relaxed atomics (rules_decided_add). */
	uint64_t *decided;
};

struct ruleset *rules_new(void);
void rules_free(struct ruleset *rs);

/*
 * Parse one rule file into rs. Every error of the file is added to d; a file
 * with an error adds no rule at all (the set stays as it was). Returns 0 or
 * -1. `name` is how the file is named in diagnostics and FILE:LINE.
 */
int rules_load_file(struct ruleset *rs, const char *path,
                    struct rules_diags *d);

/*
 * Is s[0..len) a DNS name a rule can match? NULL when it is, else why not
 * (a phrase to follow "is not a name: "). A final dot is allowed (the
 * caller drops it); labels are 1-63 letters, digits, '-' or '_'; 253
 * characters at most; no '*'; not all digits and dots (an address).
 */
const char *rules_name_check(const char *s, size_t len);

/* Is s[0..len) the address of a hosts-file line that names a name to
 * block (0.0.0.0, 127.0.0.1, ::, ::1)? List files and `spackle import
 * hosts` take such lines by their names. */
bool rules_hosts_sink(const char *s, size_t len);

/* Parse rule text held in memory (fuzzers, tests, `explain`). */
int rules_load_buffer(struct ruleset *rs, const char *name, const char *text,
                      size_t len, struct rules_diags *d);

/* Load *.rules of dir in lexical order, or path itself when it is a file. */
int rules_load_path(struct ruleset *rs, const char *path,
                    struct rules_diags *d);
/*
 * The same, as if the file `file` of dir held text[0..len) instead of what
 * it holds (or as if it were there, when it is not): what a change to one
 * file would load, checked before the file is written (the web monitor).
 * file must be dir/NAME.rules.
 */
int rules_load_path_with(struct ruleset *rs, const char *dir, const char *file,
                         const char *text, size_t len, struct rules_diags *d);

/*
 * Build the indices; call once after loading, before rules_match(). Loading
 * more rules afterwards drops the indices, and rules_match() then walks every
 * rule (correct, slow) until the next rules_compile().
 */
int rules_compile(struct ruleset *rs, struct rules_diags *d);
/* Free what rules_compile() built (rules_free() does it too). */
void rules_index_free(struct rules_index *idx);

/* Entries of the lists named by loaded rules, for summaries. */
size_t rules_list_entries(const struct ruleset *rs);
size_t rules_file_count(const struct ruleset *rs);

/*
 * Essential-rule analysis for `rules check`: a warning for each deny/reject
 * rule that would win over an essential allow rule for some traffic.
 */
void rules_check_essential(const struct ruleset *rs, struct rules_diags *d);

size_t rules_count(const struct ruleset *rs);

/*
 * Flows rule index decided: the classifier counts each decision (a new
 * flow's, or a live flow's again at a reload) with rules_decided_add(), a
 * relaxed atomic add, from any worker. 0 before rules_compile().
 */
void rules_decided_add(const struct ruleset *rs, uint32_t index);
uint64_t rules_decided(const struct ruleset *rs, uint32_t index);
const struct rules_rule *rules_get(const struct ruleset *rs, uint32_t index);

/* Print a rule in canonical form, one line, no newline. */
void rules_print(FILE *f, const struct rules_rule *r);
/* The same into a buffer; returns the length it needed (like snprintf). */
size_t rules_format(char *buf, size_t len, const struct rules_rule *r);
/*
 * Where r is written, FILE:LINE (the line of its action word), into buf;
 * "default" when r is NULL: no rule decided, and RULES.md records such a
 * decision as `default`. Returns the length it needed (like snprintf).
 */
size_t rules_format_where(char *buf, size_t len, const struct rules_rule *r);

/* A flow described for matching. */
struct rules_query {
	enum sp_dir dir; /* SP_DIR_OUT or SP_DIR_IN */
	uint8_t proto;
	struct sp_addr remote;
	uint16_t remote_port;     /* the port clause's port for dir out */
	uint16_t local_port;      /* the port clause's port for dir in */
	const char *const *names; /* names of the remote address */
	size_t nnames;
	const char *exe; /* NULL when the process is unknown */
	uint32_t uid;    /* FLOW_UID_UNKNOWN (UINT32_MAX) when unknown */
};

/* The precedence key of a candidate (RULES.md "Which rule decides"). */
struct rules_key {
	bool priority;
	bool process;
	uint8_t remote_class; /* 3 host, 2 domain, 1 address/CIDR, 0 any */
	uint16_t remote_len;  /* domain labels, or prefix length in the 128-bit
	                         mapped space (IPv4 /24 is 120); 0 for host */
	bool port;
	uint8_t action_rank; /* 2 reject, 1 deny, 0 allow */
	uint32_t index;
};

struct rules_candidate {
	uint32_t rule;
	struct rules_key key;
	const char *matched; /* the target entry that matched, for explain */
};

struct rules_result {
	enum sp_verdict verdict;
	uint32_t rule; /* index, or UINT32_MAX when the default decided */
	struct rules_key key;
	/* Filled only when the caller gives room: every candidate, best first.
	 */
	struct rules_candidate *cands;
	size_t ncands, cands_cap;
	/*
	 * With cands: the key field that set the winner apart from the
	 * runner-up ("priority", "process", "remote", "port", "action",
	 * "order"); NULL when fewer than two rules matched.
	 */
	const char *settled_by;
	const char *matched; /* the winner's matching entry, "any" for any */
};

/*
 * Decide q. Without candidates room this uses only the indices and touches
 * no more rules than can match. Returns the verdict (dflt when no rule
 * matches).
 */
enum sp_verdict rules_match(const struct ruleset *rs,
                            const struct rules_query *q, enum sp_verdict dflt,
                            struct rules_result *res);

/*
 * For the classifier's name hold (docs/attribution.md): does r name a host
 * or a domain (itself or in a list)? Do r's clauses other than its remote
 * (direction, protocol, port, user, process) hold for q?
 */
bool rules_rule_names(const struct rules_rule *r);
bool rules_rule_holds(const struct rules_rule *r, const struct rules_query *q);

/* -1 when a ranks before b, 1 after, 0 equal. */
int rules_key_cmp(const struct rules_key *a, const struct rules_key *b);
/* The name of the first field where a and b differ, NULL when equal. */
const char *rules_key_field(const struct rules_key *a,
                            const struct rules_key *b);

/* Shell-style match of a whole path: `*` (also over `/`) and `?`. */
bool rules_glob_match(const char *pattern, const char *s);

void rules_diags_free(struct rules_diags *d);
void rules_diags_print(FILE *f, const struct rules_diags *d);
/* Add a diagnostic (printf-style message). */
void rules_diag_add(struct rules_diags *d, bool warning, const char *file,
                    unsigned line, unsigned col, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

#endif

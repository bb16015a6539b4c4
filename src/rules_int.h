/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the rules_*.c files share and nothing outside them may use. */
#ifndef SPACKLE_RULES_INT_H
#define SPACKLE_RULES_INT_H

#include <string.h>
#include <sys/socket.h>

#include "spackle/rules.h"

/*
 * The files of the rules module, each calling only files listed below it
 * (tests/layers/check-layers.sh fails on a cycle):
 *
 *   rules_essential.c   the essential-rule warnings of `rules check`
 *   rules_load.c        a ruleset; rule files and folders loaded into it
 *   rules_parse.c       the grammar: one rule line's tokens into a rule
 *   rules_list.c        list files, read once per path
 *   rules_lex.c         the lexer, and what a name looks like
 *   rules_match.c       the decision for a flow
 *   rules_index.c       the indices rules_compile() builds
 *   rules_precedence.c  the precedence key: which candidate wins, and why
 *   rules_print.c       a rule's canonical text
 *   rules_diag.c        errors and warnings as FILE:LINE:COL
 */

/* ---- small helpers ---- */

static inline bool
rules_is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static inline void
rules_lower(char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

/* Does net/plen have bits set past its prefix? */
static inline bool
rules_host_bits_set(const struct sp_addr *a, unsigned plen)
{
	unsigned bits = sp_cidr_plen128(a, plen), i;

	for (i = bits; i < 128; i++)
		if (a->b[i / 8] & (0x80u >> (i % 8)))
			return true;
	return false;
}

/* Is a process pattern a glob (rather than one literal path)? */
static inline bool
rules_has_glob(const char *p)
{
	return strpbrk(p, "*?") != NULL;
}

/* ---- rules_lex.c: tokens ---- */

enum rules_tok_kind {
	RULES_TOK_WORD,
	RULES_TOK_STRING,
	RULES_TOK_LBRACE,
	RULES_TOK_RBRACE,
	RULES_TOK_COMMA,
	RULES_TOK_ERROR, /* the lexer failed here; s is the message */
};

struct rules_tok {
	enum rules_tok_kind kind;
	unsigned line, col, ecol; /* ecol: the column just past it */
	char *s;                  /* WORD, STRING, ERROR */
};

struct rules_toks {
	struct rules_tok *v;
	size_t n, cap;
	bool oom; /* a token was lost: the line must not be parsed */
};

struct rules_lexer {
	const char *p, *end;
	const char *bol; /* start of the current physical line */
	unsigned line;
};

/*
 * Tokens of one logical line into t: physical lines joined by a trailing
 * backslash, comments dropped. A lexer error ends t with a RULES_TOK_ERROR.
 */
void rules_lex_line(struct rules_lexer *lx, struct rules_toks *t);
/* Free the tokens' text; t is ready for the next line. */
void rules_toks_clear(struct rules_toks *t);
/* Looks like an address attempt rather than a name: digits, dots, ':' '/'. */
bool rules_looks_numeric(const char *s, size_t len);

/* ---- rules_list.c: list files ---- */

/*
 * The list that `list STRING` token tk of rule file `file` names, read into
 * rs on first use; a relative name is taken from dir. NULL after an error,
 * reported at the token (and in the list file for bad lines).
 */
struct rules_list *rules_list_get(struct ruleset *rs, struct rules_diags *d,
                                  const char *file, const char *dir,
                                  const struct rules_tok *tk);
void rules_list_free(struct rules_list *l);
/* "dir/path", or path alone when it is absolute or dir is NULL. */
char *rules_path_join(const char *dir, const char *path);

/* ---- rules_parse.c: the grammar of one rule line ---- */

struct rules_parser {
	struct ruleset *rs;
	struct rules_diags *d;
	const char *file;
	const char *dir; /* relative list paths are taken from here */
	struct rules_toks *t;
	size_t i;
};

/*
 * The rule of the tokens ps->t (at least one), into r, which starts
 * zeroed. false after reporting every error in ps->d; r is then to be
 * cleared.
 */
bool rules_parse_rule(struct rules_parser *ps, struct rules_rule *r);
/* Free what a rule owns and zero it. */
void rules_rule_clear(struct rules_rule *r);

/* ---- rules_precedence.c: which candidate wins ---- */

/*
 * How specific a matched remote entry is: remote_class << 8 | remote_len,
 * the two keys of RULES.md's third rule, so one number orders them.
 */
#define RULES_SPEC_ANY       0u
#define RULES_SPEC_CIDR(len) ((1u << 8) | (len))
#define RULES_SPEC_DOMAIN(n) ((2u << 8) | (n))
#define RULES_SPEC_HOST      (3u << 8)

/* A host or a domain entry; a domain ranks by its labels. */
unsigned rules_spec_name(bool host, const char *name);
/* An address or CIDR entry; ranks by its prefix in the 128-bit space. */
unsigned rules_spec_cidr(const struct sp_addr *net, unsigned plen);

/* r's precedence key when its remote entry of specificity spec matched. */
void rules_key_make(const struct rules_rule *r, unsigned spec,
                    struct rules_key *k);

struct rules_best {
	bool have;
	uint32_t rule;
	struct rules_key key;
	const char *matched;
};

/* The candidates of one match, ranked as they are offered. */
struct rules_ranking {
	struct rules_result *res; /* collecting candidates when non-NULL */
	struct rules_best first, second;
};

/* Start ranking; collects every candidate when res has room for them. */
void rules_rank_init(struct rules_ranking *rk, struct rules_result *res);
/*
 * Could a candidate with key k change the outcome? The key needs no
 * clause check, so the matcher asks before it checks them.
 */
bool rules_rank_wants(const struct rules_ranking *rk,
                      const struct rules_key *k);
/* Rule `rule`, whose clauses all hold, matched by entry `matched`. */
void rules_rank_offer(struct rules_ranking *rk, uint32_t rule,
                      const struct rules_key *k, const char *matched);
/* The verdict, and res (when given) filled: winner, candidates, why. */
enum sp_verdict rules_rank_result(const struct rules_ranking *rk,
                                  const struct ruleset *rs,
                                  enum sp_verdict dflt,
                                  struct rules_result *res);

/* ---- rules_index.c: the indices ---- */

enum { RULES_FAM_V4 = 0, RULES_FAM_V6 = 1 };

static inline int
rules_fam(const struct sp_addr *a)
{
	return a->family == AF_INET ? RULES_FAM_V4 : RULES_FAM_V6;
}

/* One index entry: which rule, how specific the entry that led to it is. */
struct rules_ient {
	uint32_t rule;
	uint16_t spec;
	const char *matched;
};

struct rules_hslot {
	uint64_t h;
	const void *key; /* NULL: empty slot */
	uint32_t first, count;
};

/* Open addressing, linear probing; each key owns a run of ents. */
struct rules_htab {
	struct rules_hslot *slots;
	size_t mask;
	size_t klen; /* fixed key length; 0 for NUL-terminated names */
	struct rules_ient *ents;
	size_t nents;
};

struct rules_index {
	uint64_t seed;
	struct rules_htab hosts;   /* exact name */
	struct rules_htab domains; /* name; queried with every suffix */
	/* Per family and prefix length (in the family): masked address. */
	struct rules_htab cidr[2][129];
	uint8_t lens[2][129]; /* the lengths present, longest first */
	size_t nlens[2];
	/* Rules whose remote is any, by process. */
	struct rules_ient *noproc;
	size_t nnoproc;
	struct rules_htab exact; /* literal path */
	struct rules_ient *glob;
	size_t nglob;
};

/* The slot of key (len bytes, hashed to h) in t, or NULL. */
const struct rules_hslot *rules_htab_find(const struct rules_htab *t,
                                          const void *key, size_t len,
                                          uint64_t h);

#endif

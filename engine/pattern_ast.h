/*
 * The syntax tree pattern.c parses a pattern into (the subset of PCRE2 syntax a dial plan
 * uses), shared by the analysis (pattern.c) and the sampler (pattern_sample.c). Engine
 * internal.
 */
#ifndef CR_PATTERN_AST_H
#define CR_PATTERN_AST_H

#include "route_index.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYM_COUNT     13
#define MASK_ALL      CR_PX_SYMS
#define MASK_DIGIT    0x3FFu
#define MASK_NONDIGIT 0x1C00u /* + * # */

/* the symbols in ce_px_symbol order */
extern const char ce_pat_sym_char[SYM_COUNT];

/* A_NLA: a negative lookahead "(?!...)" whose content (child) has no anchors nor lookarounds
 * of its own; only the analysis models it (pattern.c), with inexact set for every other reader */
enum { A_SET, A_EMPTY, A_CAT, A_ALT, A_REP, A_BEGIN, A_END, A_NLA };

#define MAX_AST   1024
#define MAX_DEPTH 64
#define REP_INF   -1
#define REP_MAX   64 /* larger bounds are widened to "no upper bound" */

typedef struct anode {
    uint8_t kind;
    bool capture; /* the content of a capturing group "(...)" (groups are otherwise transparent) */
    uint16_t mask;
    int min, max;
    int child, last, next, prev; /* first/last child, next/previous sibling; -1 = none */
} anode;

typedef struct parser {
    const char *s;
    size_t i;
    anode n[MAX_AST];
    int count, depth;
    bool bail;
    /* something was widened (an assertion taken as true, an atomic group or possessive
     * quantifier as a plain one, a large bound as none) or might not compile as the analysis
     * reads it: the analysis is then no exact model of PCRE2 */
    bool inexact;
    /* inexact for a reason other than an A_NLA node: the analysis's exactness (pattern.c) */
    bool widened;
    int widenings;
    bool nla; /* the tree holds A_NLA nodes */
} parser;

/* Parses `pattern` into P: the root node, or -1; P->bail when the pattern is outside the
 * subset, P->inexact when the tree only over-approximates it. */
int ce_pat_parse(parser *P, const char *pattern);

/* ce_pattern_analyse_with without the memo of literal runs' shapes (tests compare them). */
void ce_pattern_analyse_whole(cr_pattern_analyser *a, const char *pattern, cr_pattern_info *out);

#endif

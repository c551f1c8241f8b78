/*
 * Candidate routes for a usage and a number, and candidate normalization rules for a
 * profile and a number (rule_index.c).
 *
 * Each pattern is analysed once at compile time (ce_pattern_analyse): when it is anchored
 * at the start, the set of literal prefixes every match must begin with and the bounds on
 * the length of a number it can match are pulled out of it. Those prefixes go into a digit
 * trie (symbols 0-9 + * #); a lookup walks the number down the trie and merges the item
 * lists met on the way, so only patterns that can possibly match are candidates, in
 * configuration order. Patterns the analyser cannot read are candidates for every number.
 * The full regex still decides: the index never drops an item that could match.
 *
 * Numbers that contain a character outside the alphabet (0-9 + * #) or are longer than
 * CR_NUMBER_MAX are not pre-selected at all: every item is a candidate.
 */
#ifndef CR_ROUTE_INDEX_H
#define CR_ROUTE_INDEX_H

#include "cr_index.h"
#include "model.h"

#include <stdatomic.h>
#include <string.h>

/* ---- pattern analysis (shared by routes and rules) ---------------------------------- */

#define CR_PX_MAX_PREFIXES CR_PATTERN_PREFIXES_MAX /* literal prefixes kept per pattern */
#define CR_PX_MAX_DEPTH    CR_PATTERN_PREFIX_MAX   /* longest prefix kept, in symbols */
#define CR_PX_LEN_INF      255                     /* no upper bound on the number's length */

typedef enum {
    CR_PX_ANY,   /* not analysable: a candidate for every number */
    CR_PX_SET,   /* candidate only for numbers starting with one of `prefixes` */
    CR_PX_NEVER, /* can match no number made of the alphabet */
} cr_px_kind;

/*
 * A prefix is "exact" when what may follow it is read exactly: `tail` symbols (a mask of
 * the 13), between tmin and tmax of them (CR_PX_LEN_INF: no bound), and nothing else. A
 * number of the alphabet starting with an exact prefix then matches if and only if the rest
 * is made of tail symbols and its length is within the bounds, which the index checks
 * without PCRE2.
 */
#define CR_PX_EXACT     0x8000u /* in cr_px_item.tail: the bits below are the tail's symbols */
#define CR_PX_SYMS      0x1FFFu /* every symbol's bit (0-9 + * #, in ce_px_symbol order) */
#define CR_PX_SKIP_SYMS 14u     /* a skip table's rows: the 13 symbols and the end (cr_px_walk) */

typedef struct cr_pattern_info {
    cr_px_kind kind;
    bool strict;            /* read exactly as PCRE2 does (no widening, compiles as read) */
    uint8_t minlen, maxlen; /* bounds on the length of a number it can match */
    size_t nprefixes;
    uint8_t plen[CR_PX_MAX_PREFIXES];
    uint16_t tail[CR_PX_MAX_PREFIXES];                          /* CR_PX_EXACT | symbols, or 0 */
    uint8_t tmin[CR_PX_MAX_PREFIXES], tmax[CR_PX_MAX_PREFIXES]; /* lengths after the prefix */
    char prefixes[CR_PX_MAX_PREFIXES][CR_PX_MAX_DEPTH + 1];     /* NUL-terminated */
} cr_pattern_info;

/* True when the index decides every number of the alphabet for this pattern by itself. */
bool ce_pattern_exact(const cr_pattern_info *info);

/* Analyses a PCRE2 pattern (default options). Sound by construction: every number of the
 * alphabet that PCRE2 can match is accepted by the returned info. Never fails (CR_PX_ANY). */
void ce_pattern_analyse(const char *pattern, cr_pattern_info *out);

/* The same with scratch memory reused across calls (index builds analyse thousands of
 * patterns). ce_pattern_analyser_new returns NULL when out of memory. */
typedef struct cr_pattern_analyser cr_pattern_analyser;
cr_pattern_analyser *ce_pattern_analyser_new(void);
void ce_pattern_analyser_free(cr_pattern_analyser *a);
void ce_pattern_analyse_with(cr_pattern_analyser *a, const char *pattern, cr_pattern_info *out);

/* Numbers a pattern can match, drawn at random from the same syntax tree (lint's shadowed
 * rules). ce_pattern_sampler_new returns NULL when the pattern is outside what the tree
 * models exactly (lookarounds, back-references, inline options...) or out of memory.
 * ce_pattern_sample writes one candidate (NUL-terminated, symbols of the alphabet; `*` and
 * `+` repeat up to 4 times beyond their minimum) and returns false when it does not fit in
 * cap; *rng is a xorshift32 state (not 0). PCRE2 has the last word on each candidate. */
typedef struct cr_pattern_sampler cr_pattern_sampler;
cr_pattern_sampler *ce_pattern_sampler_new(const char *pattern);
bool ce_pattern_sample(const cr_pattern_sampler *s, uint32_t *rng, char *out, size_t cap);
void ce_pattern_sampler_free(cr_pattern_sampler *s);

/*
 * A pattern the analysis reads exactly (cr_pattern_info.strict, negative lookaheads included)
 * as a deterministic automaton over the 13 symbols: for a number of the alphabet it answers
 * as PCRE2 does, in one table read a symbol. tr[s][sym] is the state after symbol sym in state
 * s (0: no match whatever follows; 1: the start; 2: matched), and tr[s][CR_PX_SYM_END] after
 * the number's end (2 when a number ending in state s matches, else 0). tr[s][CR_PX_DFA_STOP]
 * is 0 in a state the number's next symbol decides, else the answer: CR_PX_DFA_NO (state 0),
 * CR_PX_DFA_YES (state 2, and a state that matches whatever follows), or CR_PX_DFA_DIGITS (a
 * state that matches, stays on every digit and goes to 0 on every other symbol: the rest of
 * the number decides alone, digits only or not, the key's digits_from, without reading it: the
 * tail of `(\d*)$`).
 */
#define CR_PX_DFA_STATES 64
#define CR_PX_DFA_STOP   14
#define CR_PX_DFA_NO     1
#define CR_PX_DFA_YES    2
#define CR_PX_DFA_DIGITS 3

typedef struct cr_px_dfa {
    uint8_t tr[CR_PX_DFA_STATES][16];
} cr_px_dfa;

/* The automaton of `pattern` (malloc'd: free() it), NULL when the analysis does not read it
 * exactly, it is not anchored at the start, it needs more than CR_PX_DFA_STATES states, or
 * out of memory. */
cr_px_dfa *ce_pattern_dfa_new(cr_pattern_analyser *a, const char *pattern);

/* The automaton of a broad route (route_index.c), in an open-addressed table of cr_config
 * (route_dfa, route_dfa_mask + 1 slots; an empty slot's route is UINT32_MAX), the table's first
 * also in cr_config (route_dfa1): the table is kept only for more than one. */
typedef struct cr_route_dfa {
    uint32_t route, unused;
    const cr_px_dfa *dfa;
} cr_route_dfa;

static inline uint32_t ce_route_dfa_slot(uint32_t route, uint32_t mask)
{
    return (route * 0x9E3779B1u >> 16) & mask;
}

/* ---- the trie ------------------------------------------------------------------------ */

typedef struct cr_px_item {
    uint32_t id; /* route index, or rule index within its profile */
    uint8_t minlen, maxlen;
    uint16_t tail; /* CR_PX_EXACT | tail symbols, or 0 */
} cr_px_item;

/*
 * A node's children are contiguous nodes, in symbol order (child i: first_child + i), unless
 * the node has CR_PX_LEAVES in its mask: every child is then a leaf (no children) with exactly
 * one item, and is not a node at all: child i is item items_off + items_n + i (its items follow
 * the node's own) and first_child is 0. A walk then goes from the node straight to the item,
 * one dependent load fewer at the bottom of a trie, and the trie's nodes are the ones with
 * children only (at 400,000 routes about 60,000 nodes instead of 445,000 in a policy's trie).
 */
#define CR_PX_LEAVES 0x8000u /* in cr_px_node.mask */

typedef struct cr_px_node {
    uint32_t first_child; /* children are contiguous, in symbol order (0 with CR_PX_LEAVES) */
    uint32_t items_off, items_n;
    uint16_t mask; /* which symbols have a child (CR_PX_SYMS), and CR_PX_LEAVES */
    /* in a node with a dense block (cr_px_walk): bit a set when the child for digit a holds its
     * leaves as items and has no items of its own, so that the walk takes the leaf from the
     * block instead of reading the child; 0 in every other node */
    uint16_t dense_kids;
} cr_px_node;

/* A compiled trie over a set of items (ids ascending in every node's list). */
typedef struct cr_px_trie {
    cr_px_node *nodes;
    size_t nnodes;
    cr_px_item *items;
    size_t nitems;
    bool borrowed; /* nodes and items live in a mapped plan image: not freed */
} cr_px_trie;

/* Plan images hold tries as they are in memory (plan_image.c borrows them in place). */
_Static_assert(sizeof(cr_px_node) == 16 && offsetof(cr_px_node, mask) == 12 &&
                   offsetof(cr_px_node, dense_kids) == 14,
               "trie node layout");
_Static_assert(sizeof(cr_px_item) == 8 && offsetof(cr_px_item, tail) == 6, "trie item layout");

#define CR_PX_MAX_RUNS (CR_PX_MAX_DEPTH + 2)

/* A lazy merge of the item lists met along the number's path. */
typedef struct cr_px_iter {
    const cr_px_item *run[CR_PX_MAX_RUNS], *end[CR_PX_MAX_RUNS];
    uint8_t depth[CR_PX_MAX_RUNS]; /* depth of each run's node: exact tails are read after it */
    size_t nruns;
    size_t len;          /* length of the number, for the length bounds */
    const char *number;  /* the number walked (read again for exact tails, on demand) */
    uint8_t digits_from; /* number[digits_from..len) is digits only */
    bool match;          /* the last id returned matches for sure (exact prefix) */
    /* every run is one item: run[0..pos) sorted by id, the smallest last (ce_px_next_item, from
     * three runs) */
    bool sorted;
    uint8_t pos;
} cr_px_iter;

/* The symbol after the last of a key's (cr_px_key.sym): no bit of CR_PX_SYMS nor CR_PX_LEAVES. */
#define CR_PX_SYM_END 13

/* Maps a character to its trie symbol, or -1 outside the alphabet. */
int ce_px_symbol(unsigned char c);

/* A number read into trie symbols once, for the walks of several tries (a decision walks one
 * trie per phone usage with the same number). The symbols after a node, which exact tails
 * are checked against, are not collected here: ce_px_next reads them from the number when
 * an exact tail needs them (digits_from answers the common case, a tail of every digit). */
typedef struct cr_px_key {
    size_t n;
    bool ok;             /* in the alphabet and at most CR_NUMBER_MAX long */
    uint8_t digits_from; /* number[digits_from..n) is digits only */
    const char *number;  /* the number read: must outlive the walks */
    /* symbol of each character, then CR_PX_SYM_END at sym[n]: no node has a child for it, so a
     * walk stops at the end of the number without counting */
    uint8_t sym[CR_NUMBER_MAX + 1];
} cr_px_key;

/* Reads number[0..n) into k; false (k->ok) when it is outside the alphabet or too long. The
 * number must outlive k and the iterators walked with it. */
bool ce_px_key_init(cr_px_key *k, const char *number, size_t n);

/* ce_px_key_init's key of the usual normalized number, 8 to 16 digits after an optional '+'
 * (two words that overlap: eight digits a word, a byte b a digit when b ^ '0' is 0-9, no bit in
 * its high nibble and no carry into it when 6 is added); false, k untouched, for any other
 * number. */
static inline __attribute__((always_inline)) bool ce_px_key_words(cr_px_key *k, const char *number,
                                                                  size_t n)
{
    size_t d = n && number[0] == '+';
    if (n >= d + 8 && n <= d + 16) {
        uint64_t a, b;
        memcpy(&a, number + d, 8);
        memcpy(&b, number + n - 8, 8);
        a ^= 0x3030303030303030ull;
        b ^= 0x3030303030303030ull;
        uint64_t bad =
            ((a | b) & 0xF0F0F0F0F0F0F0F0ull) |
            (((a + 0x0606060606060606ull) | (b + 0x0606060606060606ull)) & 0x1010101010101010ull);
        if (!bad) {
            k->n = n;
            k->number = number;
            k->sym[0] = 10; /* '+' (overwritten when there is none) */
            memcpy(k->sym + d, &a, sizeof a);
            memcpy(k->sym + n - 8, &b, sizeof b);
            k->sym[n] = CR_PX_SYM_END;
            k->digits_from = (uint8_t)d;
            k->ok = true;
            return true;
        }
    }
    return false;
}

/* ce_px_key_init in line for the usual normalized number (ce_px_key_words); any other number
 * out of line. The same key. */
static inline __attribute__((always_inline)) bool
ce_px_key_init_in_line(cr_px_key *k, const char *number, size_t n)
{
    return ce_px_key_words(k, number, n) || ce_px_key_init(k, number, n);
}

/* Whether the number read as k (ce_px_key_init, k->ok) matches: its symbols up to the end's
 * (CR_PX_SYM_END), unless a state answers before. */
static inline bool ce_px_dfa_match(const cr_px_dfa *d, const cr_px_key *k)
{
    const uint8_t *row = d->tr[1];
    size_t i = 0;
    unsigned stop;
    while (!(stop = row[CR_PX_DFA_STOP]))
        row = d->tr[row[k->sym[i++]]];
    return stop == CR_PX_DFA_YES || (stop == CR_PX_DFA_DIGITS && i >= k->digits_from);
}

/* Collects analysed patterns, then builds the trie. Items may be added in any order. */
typedef struct cr_px_builder {
    struct cr_px_entry *entries;
    size_t n, cap;
} cr_px_builder;

/* Adds item `id` with its analysis (CR_PX_NEVER adds nothing). CR_OK or CR_ENOMEM. */
int ce_px_builder_add(cr_px_builder *b, const cr_pattern_info *info, uint32_t id);
/* Builds the trie and releases the builder (also on failure). CR_OK or CR_ENOMEM. */
int ce_px_builder_finish(cr_px_builder *b, cr_px_trie *t);
void ce_px_trie_free(cr_px_trie *t);
/* Memory held by the trie, in bytes. */
size_t ce_px_trie_bytes(const cr_px_trie *t);
/* Starts a walk for `number` (n characters and a NUL after them, kept until the walk ends).
 * Returns false, leaving `it` unusable, when the number has a character outside the alphabet or
 * is longer than CR_NUMBER_MAX. */
bool ce_px_trie_begin(const cr_px_trie *t, const char *number, size_t n, cr_px_iter *it);
/* The same for a number read by ce_px_key_init; false when !k->ok. */
bool ce_px_trie_walk(const cr_px_trie *t, const cr_px_key *k, cr_px_iter *it);
/* Next candidate id in ascending order, or UINT32_MAX at the end; it->match tells that the
 * index has decided it matches (an exact prefix); otherwise the pattern decides. */
uint32_t ce_px_next(cr_px_iter *it);

/* Symbol + 1 of each character (0 outside the alphabet), and bits set in each byte value. */
extern const uint8_t ce_px_sym_of[256], ce_px_bits_in[256];

/* Bits set in a 16-bit mask (no popcnt instruction is assumed): two lookups in a 256-byte
 * table that stays in L1, fewer instructions and a shorter dependency than the bit-parallel sum
 * on a walk's chain from one node to the next. */
static inline unsigned ce_px_popcount16(unsigned x)
{
    return (unsigned)ce_px_bits_in[x & 0xFFu] + ce_px_bits_in[(x >> 8) & 0xFFu];
}

/* number[i..n) is made of the alphabet; *digits_from moved past its last symbol that is not a
 * digit (ce_px_trie_begin's check of the characters below the node it stopped at). */
bool ce_px_rest(const char *number, size_t i, size_t n, size_t *digits_from);

/* ce_px_trie_begin_in_line's run of node's items at `depth`, from its first item whose length
 * bounds hold n (items of other lengths dropped: ce_px_next would skip them; none: no run). */
static inline __attribute__((always_inline)) size_t ce_px_fit_run(cr_px_iter *it, size_t nruns,
                                                                  const cr_px_trie *t,
                                                                  const cr_px_node *node,
                                                                  size_t depth, size_t n)
{
    const cr_px_item *a = t->items + node->items_off, *e = a + node->items_n;
    while (a < e && (n < a->minlen || n > a->maxlen))
        a++;
    if (a < e) {
        it->run[nruns] = a;
        it->end[nruns] = e;
        it->depth[nruns++] = (uint8_t)depth;
    }
    return nruns;
}

/*
 * ce_px_trie_begin, in line for a decision's normalization (the rule trie's walk, without a
 * call: ce_rule_index_begin), and out of line in route_index.c. ce_px_trie_walk of ce_px_key_init's
 * key without the key: the walk reads each character's symbol as it goes down (a normalization's
 * one walk of a profile's rule trie reads the number once), then the characters below the node it
 * stopped at are only checked (the alphabet, and digits_from; with `plain`, a number of digits
 * after an optional '+', not at all). The same runs as px_walk, node for node, less the items whose
 * length bounds leave the number out (each run starts at its first item that fits, a run none fits
 * is dropped).
 */
static inline __attribute__((always_inline)) bool
ce_px_trie_begin_in_line(const cr_px_trie *t, const uint32_t *skip, const char *number, size_t n,
                         cr_px_iter *it, bool plain)
{
    const cr_px_node *nodes = t->nodes;
    size_t nruns = 0, digits_from = 0, depth = 0;
    const cr_px_node *node = nodes;
    /* the node at depth 2 (cr_px_walk's skip): plain, the first two characters are symbols */
    uint32_t two;
    if (plain && skip && n >= 2 &&
        (two = skip[(ce_px_sym_of[(unsigned char)number[0]] - 1u) * CR_PX_SKIP_SYMS +
                    ce_px_sym_of[(unsigned char)number[1]] - 1u]) != 0) {
        if (node->items_n) /* the root's */
            nruns = ce_px_fit_run(it, nruns, t, node, 0, n);
        node = nodes + two;
        depth = 2;
    }
    for (;; depth++) {
        if (node->items_n)
            nruns = ce_px_fit_run(it, nruns, t, node, depth, n);
        unsigned s = ce_px_sym_of[(unsigned char)number[depth]];
        if (!s) {
            if (plain || depth == n) /* the NUL after the number (n <= CR_NUMBER_MAX, checked) */
                break;
            return false;
        }
        if (s > 10) /* + * # */
            digits_from = depth + 1;
        unsigned bit = 1u << (s - 1), mask = node->mask;
        if (!(mask & bit))
            break; /* number[depth] is read: the check below starts after it */
        unsigned child = ce_px_popcount16(mask & (bit - 1u));
        if (mask & CR_PX_LEAVES) { /* the child is one item, and has no children */
            const cr_px_item *a = t->items + node->items_off + node->items_n + child;
            if (n >= a->minlen && n <= a->maxlen) {
                it->run[nruns] = a;
                it->end[nruns] = a + 1;
                it->depth[nruns++] = (uint8_t)(depth + 1);
            }
            break;
        }
        node = nodes + node->first_child + child;
    }
    if (plain) /* digits after an optional '+' */
        digits_from = n && number[0] == '+';
    else if (depth < n && !ce_px_rest(number, depth + 1, n, &digits_from))
        return false;
    it->nruns = nruns;
    it->len = n;
    it->number = number;
    it->digits_from = (uint8_t)digits_from;
    it->match = false;
    it->sorted = false;
    return true;
}

/* ---- routes ------------------------------------------------------------------------------ */

typedef struct cr_route_index cr_route_index;

typedef struct cr_route_iter {
    const uint32_t *routes; /* naive mode: every route of the usage, ascending */
    size_t count, pos;
    bool indexed;
    cr_px_iter px;
} cr_route_iter;

/* Route patterns analysed once while compiling, kept for the index build. */
typedef struct cr_route_analysis cr_route_analysis;
cr_route_analysis *ce_route_analysis_new(size_t nroutes);
void ce_route_analysis_free(cr_route_analysis *a);
/* Analyses route r's pattern. Returns 1 when the index decides the pattern exactly (it need
 * not be compiled before a naive scan asks for it), 0 otherwise, CR_ENOMEM. */
int ce_route_analysis_add(cr_route_analysis *a, const cr_config *cfg, size_t r);

/* Builds cfg->route_index (routes per usage) from the analysis, and every profile's rule
 * index. On failure (CR_ENOMEM) nothing is left half-built: decisions then scan every route
 * and rule. */
int ce_route_index_build(cr_config *cfg, cr_route_analysis *a);
/* Frees the route index and the rule indexes of the profiles it built. NULL is fine. */
void ce_route_index_free(cr_route_index *ix);

/* Candidate routes of a usage for `number` (n characters, NUL-terminated), ascending. */
void ce_route_index_begin(const cr_config *cfg, size_t usage, const char *number, size_t n,
                          cr_route_iter *it);
/* The same with the number already read (ce_px_key_init), for the usages of one decision. */
void ce_route_index_begin_key(const cr_config *cfg, size_t usage, const cr_px_key *k,
                              cr_route_iter *it);

static inline size_t ce_route_index_next(cr_route_iter *it)
{
    if (it->indexed) {
        uint32_t id = ce_px_next(&it->px);
        return id == UINT32_MAX ? SIZE_MAX : id;
    }
    return it->pos < it->count ? it->routes[it->pos++] : SIZE_MAX;
}

/* The route last returned matches for sure (no need to run its pattern). */
static inline bool ce_route_index_match(const cr_route_iter *it)
{
    return it->indexed && it->px.match;
}

/* ---- merged walks: one trie per distinct usage list of the voice policies --------------- */

/*
 * A policy's candidates in one walk. For each distinct ordered usage list among the policies
 * (policies with the same list share it) the compile builds one trie over every route of
 * every usage of the list: candidate `seq` is the seq-th (usage rank, route) pair of the list,
 * in usage order, then route order within the usage (a route of two usages is two candidates),
 * so one walk yields the candidates in the order of one walk per usage. Each item of the trie
 * carries what the decision reads next inline, beside the candidate's seq: the route, the
 * usage's rank and the route's first gateways (the route's gateway list is only read for a
 * route with more). A candidate with several prefixes has one item per prefix, each with the
 * same inline data; no separate slot is read after the item.
 */
#define CR_SLOT_GW_INLINE 2u /* gateways kept in an item */
#define CR_SLOT_GW_ROUTE                                                                           \
    0xFFFFu /* cr_px_witem.ngw: more than CR_SLOT_GW_INLINE, read the route                        \
             */

typedef struct cr_px_witem {
    cr_px_item px; /* id: the candidate's seq (ascending in each node's list), length, tail */
    uint32_t route;
    uint16_t rank; /* position of the usage in the list */
    uint16_t ngw;  /* the route's gateways (0..CR_SLOT_GW_INLINE), or CR_SLOT_GW_ROUTE */
    uint32_t gw[CR_SLOT_GW_INLINE]; /* their indexes (0 past ngw) */
} cr_px_witem;

_Static_assert(sizeof(cr_px_witem) == 24 && offsetof(cr_px_witem, route) == 8 &&
                   offsetof(cr_px_witem, gw) == 16,
               "merged item layout");

/*
 * Dense leaf blocks (plan image format 11). In a large merged trie the walk's last steps are
 * dependent misses: a node, its child, then the leaf's item under that child. Take the nodes
 * that hold their leaves as items (CR_PX_LEAVES) of the depth with most of them, and their
 * parents, one depth up: each parent gets a block of one 32-byte slot for every two digits, slot
 * 10 a + b a copy of the item of leaf b of the parent's child for digit a, when that child holds
 * its leaves as items and has no items of its own (bit a of the parent's dense_kids), all zero
 * otherwise. Block i is for node dense_node + i: the walk knows a node's index at the node's
 * parent, so it asks for the node and for the slot of the number's next two digits together
 * (a prefetch, never waited for in the walk), and when the node's dense_kids has the child's bit
 * it takes the slot as the leaf's run without reading the child. An all-zero slot (the child
 * has no leaf b) is a run whose one item can match no number (its length bounds are 0, and a
 * number reaching the slot has at least two digits): a walk through it yields what a walk that
 * stopped at the child would. A slot never straddles two cache lines. The nodes of a trie with
 * blocks are in breadth-first order (each depth contiguous, children still contiguous in symbol
 * order), so that the range holds one depth's nodes. (Format 10's blocks, one slot a digit for
 * the nodes holding leaves, saved the leaf's miss but not the child's: its chain ended parent ->
 * {child, slot}; it is now grandparent -> {parent, slot}.)
 */
#define CR_PX_DENSE_SLOTS 100u /* two digits: the child's, then its leaf's */

typedef struct cr_px_dslot {
    cr_px_witem item; /* a copy of the leaf's item, or all zero */
    uint32_t zero[2]; /* padding to 32 bytes, zero */
} cr_px_dslot;

typedef struct cr_px_dblock {
    cr_px_dslot slot[CR_PX_DENSE_SLOTS];
} cr_px_dblock;

_Static_assert(sizeof(cr_px_dslot) == 32 && sizeof(cr_px_dblock) == 3200, "dense block layout");

/* A walk's first two steps in one read: skip[a * CR_PX_SKIP_SYMS + b] is the node at depth 2
 * for symbols a, b (CR_PX_SYM_END included, never with a node) when the walk would only pass
 * through the node at depth 1 (no items, no leaves as items, no dense slot taken there), 0 (the
 * root, never at depth 2) otherwise: the walk then steps down as usual. The top of a trie is the
 * same few nodes for every number ('+', a country code), so two steps of ~16 instructions each,
 * on the walk's chain of dependent loads, become one read of a table that stays in L1. Kept in
 * memory only (ce_px_skip_fill), from the nodes, also for a plan image's walks (and in a rule
 * index, cr_rule_index.skip, for a plain number's walk). */
/* Fills skip[CR_PX_SKIP_SYMS * CR_PX_SKIP_SYMS] for the trie nodes[nnodes] (a rule trie's too). */
void ce_px_skip_fill(const cr_px_node *nodes, size_t nnodes, uint32_t *skip);

/* The merged trie of one usage list: nodes as in cr_px_trie, items with their candidates. */
typedef struct cr_px_walk {
    uint32_t skip[CR_PX_SKIP_SYMS * CR_PX_SKIP_SYMS];
    cr_px_node *nodes;
    size_t nnodes;
    cr_px_witem *items;
    size_t nitems;
    size_t ncands;       /* candidates (items' ids are below) */
    cr_px_dblock *dense; /* [ndense] blocks of nodes dense_node.., NULL: none */
    size_t ndense;
    uint32_t dense_node;
    uint32_t policy; /* the first policy with this list (a plan image checks the others') */
    bool borrowed;   /* nodes, items and blocks live in a mapped plan image: not freed */
} cr_px_walk;

/* Merged tries whose items take at least this many bytes get dense leaf blocks (past the L2,
 * where the leaf's item comes from the L3 or DRAM: at 100,000 routes 2.4 MB of items, 3.9 MB of
 * blocks; at 400,000 routes 9.6 MB and 15.2 MB; at 10,000 routes, 0.25 MB of items, none), when
 * the blocks take at most CR_WALK_DENSE_FACTOR times the items' bytes (a trie whose parents have
 * few children holding leaves would fill few of their slots).
 * ce_route_index_dense_min sets another bound for the builds that follow in this process (tests:
 * 0 gives every trie with leaves its blocks, whatever their size); it returns the previous one. */
#ifndef CR_WALK_DENSE_MIN
#define CR_WALK_DENSE_MIN ((size_t)1 << 20)
#endif
#define CR_WALK_DENSE_FACTOR 2u
size_t ce_route_index_dense_min(size_t bytes);

/* What the dense block of node x (route_index.h) of the trie nodes[], items[] holds: x's
 * dense_kids (ce_px_dense_kids), and slot s (ce_px_dense_slot, into *out: the leaf's item or all
 * zero). x's children and their leaves must lie inside the trie (as the walk's build makes them,
 * and a plan image's check of the nodes proves them). */
uint16_t ce_px_dense_kids(const cr_px_node *nodes, const cr_px_node *x);
void ce_px_dense_slot(const cr_px_node *nodes, const cr_px_witem *items, const cr_px_node *x,
                      unsigned s, cr_px_dslot *out);

typedef struct cr_policy_iter {
    cr_px_iter px;
} cr_policy_iter;

/* Every symbol of number[d..n) is one of `tail`'s, read character by character. */
bool ce_px_tail_holds_slow(const char *number, size_t d, size_t n, uint16_t tail);

/* Every symbol of the number after run r's node is one of `tail`'s: at once for a tail of
 * every digit over digits only (the usual exact tail, \d{n}), else read from the number. */
static inline bool ce_px_tail_holds(const cr_px_iter *it, size_t r, uint16_t tail)
{
    size_t d = it->depth[r];
    if ((tail & 0x3FFu) == 0x3FFu && d >= it->digits_from)
        return true;
    return ce_px_tail_holds_slow(it->number, d, it->len, tail);
}

/* Reads run r's items from `item` (to end) that have id `id` into *verdict (0 cannot match, 1
 * the pattern decides, 2 matches: the best one met); returns the first item past them. */
static inline __attribute__((always_inline)) const cr_px_item *
ce_px_scan(const cr_px_iter *it, size_t r, const cr_px_item *item, const cr_px_item *end,
           uint32_t id, size_t stride, int *verdict)
{
    for (; item < end && item->id == id; item = (const cr_px_item *)((const char *)item + stride)) {
        if (it->len < item->minlen || it->len > item->maxlen)
            continue;
        if (!(item->tail & CR_PX_EXACT))
            *verdict = *verdict > 1 ? *verdict : 1;
        else if (ce_px_tail_holds(it, r, item->tail))
            *verdict = 2;
    }
    return item;
}

/* The walk's next item (ce_px_next's, inline for the decision's loop). Runs are never empty
 * (ce_px_trie_walk keeps only nodes with items, and a run that ends is
 * dropped here), so the smallest id is read without bounds checks and the later calls of a
 * walk look only at the runs left. Items are `stride` bytes apart (each starts with a
 * cr_px_item); returns the first item of the next id met, NULL at the end. Every occurrence of
 * the id (one per prefix met) is read: the best verdict wins. One run and two runs left (most
 * of a walk's calls) are read without the loops over the runs. */
/* ce_px_next_item once the runs are single items sorted by id, the smallest last
 * (ce_px_sort_single): run[0..pos) are left. */
static inline __attribute__((always_inline)) const cr_px_item *ce_px_next_sorted(cr_px_iter *it)
{
    size_t p = it->pos;
    while (p > 0) {
        const cr_px_item *best;
        uint32_t id = it->run[p - 1]->id;
        int verdict = 0;
        do { /* every occurrence of the id (one per prefix met): the best verdict wins, and the
              * item returned is the one of the shallowest run, as the merge's */
            const cr_px_item *item = best = it->run[--p];
            if (it->len >= item->minlen && it->len <= item->maxlen) {
                if (!(item->tail & CR_PX_EXACT))
                    verdict = verdict > 1 ? verdict : 1;
                else if (ce_px_tail_holds(it, p, item->tail))
                    verdict = 2;
            }
        } while (p > 0 && it->run[p - 1]->id == id);
        if (verdict) {
            it->pos = (uint8_t)p;
            it->match = verdict == 2;
            return best;
        }
    }
    it->pos = 0;
    return NULL;
}

/* True when each of the nr runs is one item (of `stride` bytes); they are then sorted by id,
 * the largest first, with their depths, runs of one id in their order (insertion: a walk meets
 * a few, most often from the root down in descending ids: the usages' routes, the last usage's
 * broadest). */
static inline __attribute__((always_inline)) bool ce_px_sort_single(cr_px_iter *it, size_t nr,
                                                                    size_t stride)
{
    for (size_t r = 0; r < nr; r++)
        if ((const char *)it->end[r] - (const char *)it->run[r] != (ptrdiff_t)stride)
            return false;
    for (size_t r = 1; r < nr; r++) {
        const cr_px_item *x = it->run[r];
        uint8_t d = it->depth[r];
        size_t q = r;
        for (; q > 0 && it->run[q - 1]->id < x->id; q--) {
            it->run[q] = it->run[q - 1];
            it->depth[q] = it->depth[q - 1];
        }
        it->run[q] = x;
        it->depth[q] = d;
    }
    it->sorted = true;
    it->pos = (uint8_t)nr;
    return true;
}

static inline __attribute__((always_inline)) const cr_px_item *ce_px_next_item(cr_px_iter *it,
                                                                               size_t stride)
{
    if (it->sorted)
        return ce_px_next_sorted(it);
    for (;;) {
        size_t nr = it->nruns, w = 0;
        int verdict = 0;
        if (nr == 1) { /* its items in order */
            const cr_px_item *item = it->run[0], *end = it->end[0], *best;
            do {
                best = item;
                item = ce_px_scan(it, 0, item, end, item->id, stride, &verdict);
            } while (!verdict && item < end);
            it->run[0] = item;
            it->nruns = item < end;
            if (!verdict)
                return NULL;
            it->match = verdict == 2;
            return best;
        }
        if (nr == 2) {
            const cr_px_item *a = it->run[0], *b = it->run[1], *ea = it->end[0], *eb = it->end[1];
            const cr_px_item *best = b->id < a->id ? b : a;
            uint32_t id = best->id;
            a = ce_px_scan(it, 0, a, ea, id, stride, &verdict);
            b = ce_px_scan(it, 1, b, eb, id, stride, &verdict);
            if (a < ea) {
                it->run[0] = a;
                it->run[1] = b;
                it->nruns = 1 + (b < eb);
            } else if (b < eb) {
                it->run[0] = b;
                it->end[0] = eb;
                it->depth[0] = it->depth[1];
                it->nruns = 1;
            } else {
                it->nruns = 0;
            }
            if (verdict) {
                it->match = verdict == 2;
                return best;
            }
            continue;
        }
        if (!nr)
            return NULL;
        if (ce_px_sort_single(it, nr, stride)) /* three runs or more of one item each */
            return ce_px_next_sorted(it);
        const cr_px_item *best = it->run[0];
        for (size_t r = 1; r < nr; r++)
            if (it->run[r]->id < best->id)
                best = it->run[r];
        uint32_t id = best->id;
        for (size_t r = 0; r < nr; r++) {
            const cr_px_item *end = it->end[r];
            const cr_px_item *item = ce_px_scan(it, r, it->run[r], end, id, stride, &verdict);
            if (item < end) { /* kept (w <= r: run r was read before slot w is written) */
                it->run[w] = item;
                if (w != r) {
                    it->end[w] = end;
                    it->depth[w] = it->depth[r];
                }
                w++;
            }
        }
        it->nruns = w;
        if (verdict) {
            it->match = verdict == 2;
            return best;
        }
    }
}

/* Route r's automaton, NULL when it has none (it is no broad route, or the analysis does not
 * read it exactly). */
static inline const cr_px_dfa *ce_route_dfa(const cr_config *cfg, uint32_t r)
{
    if (r == cfg->route_dfa1_route) /* most plans have one broad route of their own */
        return cfg->route_dfa1;
    const cr_route_dfa *t = cfg->route_dfa;
    if (!t)
        return NULL;
    uint32_t mask = cfg->route_dfa_mask;
    for (uint32_t i = ce_route_dfa_slot(r, mask);; i = (i + 1) & mask) {
        if (t[i].route == r)
            return t[i].dfa;
        if (t[i].route == UINT32_MAX)
            return NULL;
    }
}

/* Starts the merged walk of policy p (an index into cfg->policies) for the number read as k;
 * false when the policy has none (over the memory bound), the index is off, or the number is
 * outside the alphabet: the caller then walks usage by usage (ce_route_index_begin_key). */
bool ce_policy_walk_begin(const cr_config *cfg, size_t p, const cr_px_key *k, cr_policy_iter *it);

/* The next candidate, NULL at the end; it->px.match tells that the index decided it matches. */
static inline __attribute__((always_inline)) const cr_px_witem *
ce_policy_walk_next(cr_policy_iter *it)
{
    /* px is the witem's first member: the item found is its witem */
    return (const cr_px_witem *)ce_px_next_item(&it->px, sizeof(cr_px_witem));
}

/* Merged tries are bounded in all to this many times the items and routes of the usage tries
 * (plus CR_WALK_SLACK): lists past the bound keep the walk per usage. */
#define CR_WALK_FACTOR 4u
#define CR_WALK_SLACK  4096u

/* Whether decisions use the merged walks (on by default; tests compare them with the walk per
 * usage, which must give the same attempts and the same trace). */
void ce_route_index_use_walks(cr_config *cfg, bool on);

/* The merged walks (plan images): *n of them, and each policy's (UINT32_MAX: none). */
const cr_px_walk *ce_route_index_walks(const cr_config *cfg, size_t *n);
const uint32_t *ce_route_index_policy_walks(const cr_config *cfg);

/* ---- plan images (plan_image.c): the compiled index written out and adopted in place ---- */

/* What ce_route_index_kind returns: the analysis (cr_px_kind + 1, 0 = not analysed) in the
 * low bits, and whether the index decides the pattern exactly (its PCRE2 code is then only
 * compiled when a naive scan asks). */
#define CR_RK_KIND  0x0Fu
#define CR_RK_EXACT 0x10u
uint8_t ce_route_index_kind(const cr_config *cfg, size_t route);
/* The trie of a usage / of a profile's rules, NULL when there is none. */
const cr_px_trie *ce_route_index_trie(const cr_config *cfg, size_t usage);
const cr_px_trie *ce_rule_index_trie(const cr_profile *p);
/*
 * Builds cfg->route_index and every profile's rule index over tries and route kinds that live
 * in a mapped plan image (borrowed: read in place, never freed), JIT-compiling the patterns the
 * full build would (ce_route_index_build). usage_tries[nusages], rule_tries[nprofiles],
 * kinds[nroutes]. CR_OK or CR_ENOMEM (nothing left half-built).
 */
int ce_route_index_adopt(cr_config *cfg, const cr_px_trie *usage_tries,
                         const cr_px_trie *rule_tries, const uint8_t *kinds,
                         const cr_index_stats *stats);
/* Attaches merged walks read in place from a plan image (after ce_route_index_adopt):
 * walks[nwalks] (borrowed), policy_walk[npolicies]. CR_OK or CR_ENOMEM. */
int ce_route_index_adopt_walks(cr_config *cfg, const cr_px_walk *walks, size_t nwalks,
                               const uint32_t *policy_walk);

/* Switching the index off, and its statistics: cr_index.h. Whether it is off: */
bool ce_config_naive(const cr_config *cfg);

/* ---- rules (rule_index.c) ---------------------------------------------------------------- */

typedef struct cr_rule_index cr_rule_index;

struct cr_rule_index {
    cr_px_trie trie;
    uint32_t skip[CR_PX_SKIP_SYMS * CR_PX_SKIP_SYMS]; /* the trie's first two steps (cr_px_walk) */
    const _Atomic bool *naive; /* the config-wide switch (cr_config_set_naive) */
    /* [nrules]: each rule's compiled translation, which a normalization reads first: from
     * this array (a few lines every decision reads) rather than through the rule's record, a
     * dependent miss fewer at the start of every decision */
    const void **xlat;
    size_t nrules;
};

typedef struct cr_rule_iter {
    size_t nrules, pos; /* naive mode: 0..nrules */
    bool indexed;
    const void *const *xlat; /* indexed: each rule's compiled translation (its `xlat`) */
    cr_px_iter px;
} cr_rule_iter;

/* Builds p->rule_index over a trie borrowed from a plan image (not copied). */
int ce_rule_index_adopt(cr_profile *p, const _Atomic bool *naive, const cr_px_trie *trie);
/* Builds p->rule_index; `naive` is the config-wide switch it follows. */
int ce_rule_index_build(cr_profile *p, const _Atomic bool *naive, cr_pattern_analyser *an,
                        cr_index_stats *stats);
void ce_rule_index_free(cr_rule_index *ix);
size_t ce_rule_index_bytes(const cr_rule_index *ix);

/* Candidate rules of p for `digits` (n characters, NUL-terminated), ascending: the first that
 * matches is the first in the profile's order that matches. Works on a profile without an index
 * (every rule). `plain`: digits is decimal digits after an optional '+' (ce_number_parse's). */
static inline void ce_rule_index_begin(const cr_profile *p, const char *digits, size_t n,
                                       bool plain, cr_rule_iter *it)
{
    it->nrules = p ? p->nrules : 0;
    it->pos = 0;
    it->indexed = false;
    it->xlat = NULL;
    const cr_rule_index *ix = p ? p->rule_index : NULL;
    if (ix && !atomic_load_explicit(ix->naive, memory_order_relaxed) &&
        (plain ? ix->trie.nnodes && n <= CR_NUMBER_MAX &&
                     ce_px_trie_begin_in_line(&ix->trie, ix->skip, digits, n, &it->px, true)
               : ce_px_trie_begin(&ix->trie, digits, n, &it->px))) {
        it->indexed = true;
        it->xlat = ix->xlat;
    }
}

static inline size_t ce_rule_index_next(cr_rule_iter *it)
{
    if (it->indexed) {
        cr_px_iter *px = &it->px;
        /* one run of one item (most walks of a rule trie, once ce_px_trie_begin dropped the
         * items of other lengths): ce_px_next's answer read here. Its length bounds are checked
         * all the same: a run that ce_px_next has moved on (a walk's later call) may start at
         * an item ce_px_trie_begin did not check (test_index_property fails without it). */
        if (px->nruns == 1 && !px->sorted && px->end[0] - px->run[0] == 1) {
            const cr_px_item *item = px->run[0];
            px->nruns = 0;
            if (px->len < item->minlen || px->len > item->maxlen)
                return SIZE_MAX;
            px->match = (item->tail & CR_PX_EXACT) != 0;
            if (px->match && !ce_px_tail_holds(px, 0, item->tail))
                return SIZE_MAX;
            return item->id;
        }
        uint32_t id = ce_px_next(&it->px);
        return id == UINT32_MAX ? SIZE_MAX : id;
    }
    return it->pos < it->nrules ? it->pos++ : SIZE_MAX;
}

/* ce_profile_normalize_n (normalize.c), in line: a decision's normalization ahead calls it
 * without a trace (its branches then compiled out), and without the call. */
static inline __attribute__((always_inline)) int
ce_normalize_in_line(const cr_profile *p, const char *digits, size_t n, bool plain, char *out,
                     size_t outlen, size_t *outn, const cr_rule **rule, cr_trace *trace)
{
    *rule = NULL;
    /* Candidate rules only, in order (rule_index.c): the first match is the same. */
    cr_rule_iter it;
    ce_rule_index_begin(p, digits, n, plain, &it);
    /* the index walked the number: it is made of the alphabet and not too long, which is
     * what rules of the simple shape need to be decided without PCRE2 (and a rule the index
     * decided, it.px.match, is not checked again) */
    for (size_t i; (i = ce_rule_index_next(&it)) != SIZE_MAX;) {
        const cr_rule *r = &p->rules[i]; /* its record is read only when not of the simple shape */
        int rc = it.indexed && n
                     ? ce_xlat_apply_simple(it.xlat[i], digits, n, it.px.match, out, outlen, outn)
                     : -1;
        if (rc == -1 && (rc = cr_rule_apply(r, digits, out, outlen)) == 1)
            *outn = strlen(out);
        if (rc == 1) {
            *rule = r;
            if (trace)
                cr_trace_add(trace, "rule '%s' (%s) matched: %s -> %s", r->name, r->pattern, digits,
                             out);
            return CR_OK;
        }
        if (rc == CR_ERANGE) {
            /* the number matched this rule: routing it raw (or by a later rule) would be a
             * different call than the admin configured; the decision fails visibly */
            *rule = r;
            if (trace)
                cr_trace_add(trace,
                             "rule '%s' matched %s but its result is longer than %d characters: "
                             "the number cannot be normalized",
                             r->name, digits, CR_NUMBER_MAX);
            return CR_ERANGE;
        } else if (rc == CR_ENOMEM) {
            /* the rule's translation could not be compiled on first use (a trusted read of an
             * image, ce_xlat_lazy): skipping it could route the call as a later rule says */
            *rule = r;
            if (trace)
                cr_trace_add(trace, "rule '%s' could not be compiled on its first use", r->name);
            return CR_ENOMEM;
        } else if (rc == CR_ELIMIT) {
            if (trace)
                cr_trace_add(trace, "rule '%s' hit the PCRE2 match limit: skipped", r->name);
        } else if (trace) {
            cr_trace_add(trace, "rule '%s' (%s) does not match", r->name, r->pattern);
        }
    }
    if (n >= outlen)
        return CR_ERANGE;
    memcpy(out, digits, n + 1);
    *outn = n;
    if (trace)
        cr_trace_add(trace, "no rule of profile '%s' matches: %s continues unchanged",
                     p ? p->name : "(none)", digits);
    return CR_OK;
}

#endif

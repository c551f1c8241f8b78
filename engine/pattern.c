/*
 * Pattern analysis for the compiled indexes: which numbers a route or normalization pattern
 * can match, as prefixes, length bounds and an exact tail (route_index.h, cr_pattern_*).
 *
 * A pattern is parsed (the subset of PCRE2 syntax a dial plan uses) into a small NFA over
 * the 13 symbols a number can hold (0-9 + * #). Anything outside that subset (back
 * references, recursion, \Q, inline options, ...) makes the pattern "not analysable" and a
 * candidate for every number. A negative lookahead "(?!...)" whose content is read exactly
 * is modelled (nla_product); other zero-width assertions (lookbehinds, positive lookaheads, \b,
 * \G, \K) are taken as always true, and atomic groups and possessive quantifiers as plain
 * ones: both only widen what the NFA accepts, so the analysis stays an over-approximation
 * of what PCRE2 can match. Characters outside the alphabet match nothing here, which is
 * why numbers holding one are never pre-selected (route_index.h).
 */
#include "pattern_ast.h"

#include <stdlib.h>
#include <string.h>

int ce_px_symbol(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c == '+')
        return 10;
    if (c == '*')
        return 11;
    if (c == '#')
        return 12;
    return -1;
}

const char ce_pat_sym_char[SYM_COUNT] = "0123456789+*#";

static uint16_t char_mask(unsigned char c)
{
    int s = ce_px_symbol(c);
    return s < 0 ? 0 : (uint16_t)(1u << s);
}

/* ---- parsing into a syntax tree --------------------------------------------------------- */

/* The tree over-approximates the pattern. */
static void widen(parser *P)
{
    P->inexact = true;
    P->widened = true;
    P->widenings++;
}

static int new_node(parser *P, int kind)
{
    if (P->count == MAX_AST) {
        P->bail = true;
        return -1;
    }
    anode *a = &P->n[P->count];
    memset(a, 0, sizeof *a);
    a->kind = (uint8_t)kind;
    a->child = a->last = a->next = a->prev = -1;
    return P->count++;
}

static void append_child(parser *P, int parent, int child)
{
    anode *p = &P->n[parent];
    if (p->last < 0)
        p->child = child;
    else
        P->n[p->last].next = child;
    P->n[child].prev = p->last;
    p->last = child;
}

static int set_node(parser *P, uint16_t mask)
{
    int k = new_node(P, A_SET);
    if (k >= 0)
        P->n[k].mask = mask;
    return k;
}

/* Reads "{n}", "{n,}" or "{n,m}" at s; returns its length (0 when it is not a quantifier,
 * -1 for forms this analysis does not model). */
static int read_braces(const char *s, int *min, int *max)
{
    size_t k = 1;
    long a = 0, b;
    if (s[k] == ',')
        return -1; /* "{,m}" changed meaning across PCRE2 versions */
    if (s[k] < '0' || s[k] > '9')
        return 0;
    while (s[k] >= '0' && s[k] <= '9') {
        a = a * 10 + (s[k++] - '0');
        if (a > 65535)
            return -1;
    }
    if (s[k] == '}') {
        b = a;
    } else if (s[k] == ',' && s[k + 1] == '}') {
        b = REP_INF;
        k++;
    } else if (s[k] == ',' && s[k + 1] >= '0' && s[k + 1] <= '9') {
        k++;
        b = 0;
        while (s[k] >= '0' && s[k] <= '9') {
            b = b * 10 + (s[k++] - '0');
            if (b > 65535)
                return -1;
        }
        if (s[k] != '}' || b < a)
            return s[k] == '}' ? -1 : 0;
    } else {
        return 0;
    }
    *min = (int)a;
    *max = (int)b;
    return (int)k + 1;
}

/* An escape outside a class: a set of symbols, an assertion, or bail. */
static int parse_escape(parser *P)
{
    char e = P->s[P->i + 1];
    P->i += 2;
    switch (e) {
    case 'd':
    case 'w':
        return set_node(P, MASK_DIGIT);
    case 'D':
    case 'W':
        return set_node(P, MASK_NONDIGIT);
    case 's':
    case 'h':
    case 'v':
        return set_node(P, 0);
    case 'S':
    case 'H':
    case 'V':
    case 'N':
        return set_node(P, MASK_ALL);
    case 'A':
        return new_node(P, A_BEGIN);
    case 'z':
    case 'Z':
        return new_node(P, A_END);
    case 'b':
    case 'B':
    case 'G':
    case 'K':
        widen(P);
        return new_node(P, A_EMPTY);
    }
    if (e == 0 || (e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
        P->bail = true;
        return -1;
    }
    return set_node(P, char_mask((unsigned char)e));
}

/* One end of a class range or a single class member; -1 when it is a class escape. */
static int class_char(parser *P, uint16_t *mask)
{
    const char *s = P->s;
    char c = s[P->i];
    if (c == '[' && (s[P->i + 1] == ':' || s[P->i + 1] == '.' || s[P->i + 1] == '=')) {
        P->bail = true; /* POSIX classes */
        return 0;
    }
    if (c != '\\') {
        P->i++;
        return (unsigned char)c;
    }
    char e = s[P->i + 1];
    P->i += 2;
    switch (e) {
    case 'd':
    case 'w':
        *mask |= MASK_DIGIT;
        return -1;
    case 'D':
    case 'W':
        *mask |= MASK_NONDIGIT;
        return -1;
    case 's':
    case 'h':
    case 'v':
        return -1;
    case 'S':
    case 'H':
    case 'V':
        *mask |= MASK_ALL;
        return -1;
    }
    if (e == 0 || (e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
        P->bail = true;
    return (unsigned char)e;
}

static int parse_class(parser *P)
{
    const char *s = P->s;
    uint16_t mask = 0;
    bool neg = false, first = true;
    P->i++;
    if (s[P->i] == '^') {
        neg = true;
        P->i++;
    }
    for (;;) {
        char c = s[P->i];
        if (c == 0) {
            P->bail = true;
            return -1;
        }
        if (c == ']' && !first) {
            P->i++;
            break;
        }
        first = false;
        int lo = class_char(P, &mask);
        if (P->bail)
            return -1;
        bool range = s[P->i] == '-' && s[P->i + 1] != ']' && s[P->i + 1] != 0;
        if (lo < 0) {
            if (range) {
                P->bail = true; /* "[\d-9]": not worth modelling */
                return -1;
            }
            continue;
        }
        if (!range) {
            mask |= char_mask((unsigned char)lo);
            continue;
        }
        P->i++;
        int hi = class_char(P, &mask);
        if (P->bail || hi < 0 || hi < lo) {
            P->bail = true;
            return -1;
        }
        for (int k = 0; k < SYM_COUNT; k++)
            if ((unsigned char)ce_pat_sym_char[k] >= lo && (unsigned char)ce_pat_sym_char[k] <= hi)
                mask |= (uint16_t)(1u << k);
    }
    return set_node(P, neg ? (uint16_t)(MASK_ALL & ~mask) : mask);
}

static int parse_alt(parser *P);

/* True when node k can be the content of an A_NLA: no anchors and no lookaheads of its own
 * (what is widened inside is refused where it is parsed: a widened content would narrow what
 * the pattern matches, and the analysis must only ever widen). */
static bool nla_body(const parser *P, int k)
{
    const anode *a = &P->n[k];
    if (a->kind == A_BEGIN || a->kind == A_END || a->kind == A_NLA)
        return false;
    for (int c = a->child; c >= 0; c = P->n[c].next)
        if (!nla_body(P, c))
            return false;
    return true;
}

/* "(...)" in its forms; lookarounds and comments become an empty (always true) node. */
static int parse_group(parser *P)
{
    const char *s = P->s;
    const size_t old_i = P->i; /* at the '(' */
    bool zero_width = false;
    size_t j = P->i + 1;
    if (s[j] == '*') {
        P->bail = true;
        return -1;
    }
    if (s[j] == '?') {
        j++;
        char c = s[j];
        if (c != ':' && c != '!')
            widen(P); /* only "(?:" is read exactly, and "(?!" where it becomes an A_NLA */
        if (c == ':' || c == '|' || c == '>') {
            j++;
        } else if (c == '=' || c == '!') {
            zero_width = true;
            j++;
        } else if (c == '<' && (s[j + 1] == '=' || s[j + 1] == '!')) {
            zero_width = true;
            j += 2;
        } else if (c == '<' || c == '\'' || (c == 'P' && s[j + 1] == '<')) {
            char close = c == '\'' ? '\'' : '>';
            const char *e = strchr(s + j + (c == 'P' ? 2 : 1), close);
            if (!e) {
                P->bail = true;
                return -1;
            }
            j = (size_t)(e - s) + 1;
        } else if (c == '#') {
            const char *e = strchr(s + j, ')');
            if (!e) {
                P->bail = true;
                return -1;
            }
            P->i = (size_t)(e - s) + 1;
            return new_node(P, A_EMPTY);
        } else {
            P->bail = true; /* options, conditionals, recursion, callouts */
            return -1;
        }
    }
    P->i = j;
    int widenings = P->widenings;
    if (++P->depth > MAX_DEPTH) {
        P->bail = true;
        return -1;
    }
    int inner = parse_alt(P);
    P->depth--;
    if (P->bail || s[P->i] != ')') {
        P->bail = true;
        return -1;
    }
    P->i++;
    if (zero_width && s[old_i + 2] == '!' && P->widenings == widenings && nla_body(P, inner)) {
        int k = new_node(P, A_NLA);
        if (k >= 0)
            append_child(P, k, inner);
        P->inexact = true; /* for every reader but the analysis */
        P->nla = true;
        return k;
    }
    if (zero_width) {
        if (s[old_i + 2] == '!')
            widen(P);
        return new_node(P, A_EMPTY);
    }
    if (s[old_i + 1] != '?') /* "(...)", not "(?:...)" nor a named group */
        P->n[inner].capture = true;
    return inner;
}

static int parse_atom(parser *P)
{
    const char *s = P->s;
    char c = s[P->i];
    switch (c) {
    case '(':
        return parse_group(P);
    case '[':
        return parse_class(P);
    case '.':
        P->i++;
        return set_node(P, MASK_ALL);
    case '^':
        P->i++;
        return new_node(P, A_BEGIN);
    case '$':
        P->i++;
        return new_node(P, A_END);
    case '\\':
        return parse_escape(P);
    case '*':
    case '+':
    case '?':
        P->bail = true;
        return -1;
    case '{':
        /* a quantifier with nothing to repeat, or a literal brace whose reading differs
         * across PCRE2 versions: neither belongs in a dial plan */
        P->bail = true;
        return -1;
    }
    P->i++;
    return set_node(P, char_mask((unsigned char)c));
}

/* True when node k can be repeated without surprises: no anchors or nested repeats inside
 * (PCRE2 refuses some, and nested repeats can backtrack into its match limit). */
static bool repeatable(const parser *P, int k)
{
    const anode *a = &P->n[k];
    if (a->kind == A_BEGIN || a->kind == A_END || a->kind == A_REP)
        return false;
    for (int c = a->child; c >= 0; c = P->n[c].next)
        if (!repeatable(P, c))
            return false;
    return true;
}

static bool has_nla(const parser *P, int k)
{
    if (P->n[k].kind == A_NLA)
        return true;
    for (int c = P->n[k].child; c >= 0; c = P->n[c].next)
        if (has_nla(P, c))
            return true;
    return false;
}

static int parse_seq(parser *P)
{
    int cat = new_node(P, A_CAT);
    while (!P->bail) {
        char c = P->s[P->i];
        if (c == 0 || c == '|' || c == ')')
            break;
        int atom = parse_atom(P);
        if (P->bail)
            return -1;
        int min = -2, max = 0;
        c = P->s[P->i];
        if (c == '*')
            min = 0, max = REP_INF, P->i++;
        else if (c == '+')
            min = 1, max = REP_INF, P->i++;
        else if (c == '?')
            min = 0, max = 1, P->i++;
        else if (c == '{') {
            int k = read_braces(P->s + P->i, &min, &max);
            if (k <= 0) {
                P->bail = true;
                return -1;
            }
            P->i += (size_t)k;
        }
        if (min != -2) {
            if (min > REP_MAX || has_nla(P, atom)) { /* PCRE2 may skip a repeated assertion */
                P->bail = true;
                return -1;
            }
            if (max > REP_MAX) {
                max = REP_INF;
                widen(P);
            }
            c = P->s[P->i];
            if (c == '?' || c == '+') /* lazy, possessive: same language or less */
                P->i++;
            if (c == '+' || !repeatable(P, atom))
                widen(P);
            int rep = new_node(P, A_REP);
            if (rep < 0)
                return -1;
            P->n[rep].min = min;
            P->n[rep].max = max;
            append_child(P, rep, atom);
            atom = rep;
        }
        append_child(P, cat, atom);
    }
    return cat;
}

static int parse_alt(parser *P)
{
    int first = parse_seq(P);
    if (P->bail || P->s[P->i] != '|')
        return first;
    int alt = new_node(P, A_ALT);
    if (alt < 0)
        return -1;
    append_child(P, alt, first);
    while (!P->bail && P->s[P->i] == '|') {
        P->i++;
        int b = parse_seq(P);
        if (P->bail)
            return -1;
        append_child(P, alt, b);
    }
    return alt;
}

/* ---- the NFA ----------------------------------------------------------------------------- */

/* N_NLA: a negative lookahead, its content from out1 to an N_LAOK (the content matched), the
 * pattern going on at out. Both are gone once nla_product has run. */
enum { N_SYM, N_SPLIT, N_BEGIN, N_END, N_MATCH, N_NLA, N_LAOK };

#define MAX_STATES 1024
#define MAX_BODY   64 /* states of every lookahead's content together: one 64-bit set */

typedef struct nstate {
    uint8_t kind;
    uint16_t mask;
    int out, out1;
} nstate;

typedef struct nfa {
    nstate st[MAX_STATES];
    int count;
    bool bail;
    size_t words;   /* 64-bit words of a state set */
    bool nla_empty; /* emit A_NLA as always true (what the tree did before lookaheads) */
    bool widened;   /* nla_product met a match with a lookahead still open */
    int nbody;      /* lookahead content states, numbered 0.. in loc[] */
    uint64_t laok;  /* their N_LAOK states */
    int8_t loc[MAX_STATES];
    int16_t glob[MAX_BODY];
} nfa;

static int add_state(nfa *N, int kind, uint16_t mask, int out, int out1)
{
    if (N->count == MAX_STATES) {
        N->bail = true;
        return out;
    }
    N->st[N->count] = (nstate){(uint8_t)kind, mask, out, out1};
    N->loc[N->count] = -1;
    return N->count++;
}

/* Emits node k so that it continues into state `next`; returns its entry state. Built back
 * to front, so no patch lists are needed. */
static int emit(nfa *N, const parser *P, int k, int next, int depth)
{
    if (N->bail || depth > 2 * MAX_DEPTH + 8) {
        N->bail = true;
        return next;
    }
    const anode *a = &P->n[k];
    switch (a->kind) {
    case A_SET:
        return add_state(N, N_SYM, a->mask, next, -1);
    case A_EMPTY:
        return next;
    case A_NLA: {
        if (N->nla_empty)
            return next;
        int first = N->count;
        int ok = add_state(N, N_LAOK, 0, -1, -1);
        int body = emit(N, P, a->child, ok, depth + 1);
        if (N->bail || N->nbody + (N->count - first) > MAX_BODY) {
            N->bail = true;
            return next;
        }
        for (int k = first; k < N->count; k++) {
            N->glob[N->nbody] = (int16_t)k;
            N->loc[k] = (int8_t)N->nbody++;
        }
        N->laok |= 1ull << N->loc[ok];
        return add_state(N, N_NLA, 0, next, body);
    }
    case A_BEGIN:
        return add_state(N, N_BEGIN, 0, next, -1);
    case A_END:
        return add_state(N, N_END, 0, next, -1);
    case A_CAT:
        for (int c = a->last; c >= 0; c = P->n[c].prev)
            next = emit(N, P, c, next, depth + 1);
        return next;
    case A_ALT: {
        int entry = -1;
        for (int c = a->child; c >= 0; c = P->n[c].next) {
            int e = emit(N, P, c, next, depth + 1);
            entry = entry < 0 ? e : add_state(N, N_SPLIT, 0, e, entry);
        }
        return entry < 0 ? next : entry;
    }
    case A_REP: {
        int t = next;
        if (a->max == REP_INF) {
            int loop = add_state(N, N_SPLIT, 0, -1, next);
            if (N->bail)
                return next;
            N->st[loop].out = emit(N, P, a->child, loop, depth + 1);
            t = loop;
        } else {
            for (int r = 0; r < a->max - a->min; r++)
                t = add_state(N, N_SPLIT, 0, emit(N, P, a->child, t, depth + 1), next);
        }
        for (int r = 0; r < a->min; r++)
            t = emit(N, P, a->child, t, depth + 1);
        return t;
    }
    }
    N->bail = true;
    return next;
}

/* ---- state sets ---------------------------------------------------------------------------- */

typedef struct closure {
    bool accept;     /* a match can end here, whatever follows */
    bool end_accept; /* a match can end here if the number ends here */
} closure;

static inline void set_add(uint64_t *s, int k)
{
    s[k >> 6] |= 1ull << (k & 63);
}

static inline bool set_has(const uint64_t *s, int k)
{
    return (s[k >> 6] >> (k & 63)) & 1;
}

/* Epsilon closure of `in` at a position (at0: the start of the number) into `out`; follows
 * END states only to see whether they lead to a match at the end. `stack` holds
 * 4 * MAX_STATES ints (a state is pushed at most once per incoming edge); `seen_end` is a
 * scratch set. */
static closure do_closure(const nfa *N, const uint64_t *in, bool at0, uint64_t *out,
                          uint64_t *seen_end, int *stack)
{
    closure c = {false, false};
    size_t w = N->words;
    memset(out, 0, w * sizeof *out);
    int sp = 0;
    for (size_t i = 0; i < w; i++)
        for (uint64_t b = in[i]; b; b &= b - 1)
            stack[sp++] = (int)(i * 64 + (size_t)__builtin_ctzll(b));
    while (sp) {
        int k = stack[--sp];
        if (k < 0 || set_has(out, k))
            continue;
        set_add(out, k);
        const nstate *s = &N->st[k];
        if (s->kind == N_SPLIT) {
            stack[sp++] = s->out;
            if (s->out1 >= 0)
                stack[sp++] = s->out1;
        } else if (s->kind == N_BEGIN) {
            if (at0)
                stack[sp++] = s->out;
        } else if (s->kind == N_MATCH) {
            c.accept = true;
        }
    }
    if (c.accept)
        return c;
    /* END states: what is reachable once the number has ended */
    memset(seen_end, 0, w * sizeof *seen_end);
    for (int k = 0; k < N->count; k++)
        if (set_has(out, k) && N->st[k].kind == N_END)
            stack[sp++] = N->st[k].out;
    while (sp) {
        int k = stack[--sp];
        if (k < 0 || set_has(seen_end, k))
            continue;
        set_add(seen_end, k);
        const nstate *s = &N->st[k];
        if (s->kind == N_SPLIT) {
            stack[sp++] = s->out;
            if (s->out1 >= 0)
                stack[sp++] = s->out1;
        } else if (s->kind == N_END || (s->kind == N_BEGIN && at0)) {
            stack[sp++] = s->out;
        } else if (s->kind == N_MATCH) {
            c.end_accept = true;
        }
    }
    return c;
}

/* The states reached from closure `cl` by a symbol in `mask`. Returns false when none. */
static bool step(const nfa *N, const uint64_t *cl, uint16_t mask, uint64_t *out)
{
    bool any = false;
    memset(out, 0, N->words * sizeof *out);
    for (size_t i = 0; i < N->words; i++)
        for (uint64_t b = cl[i]; b; b &= b - 1) {
            const nstate *s = &N->st[i * 64 + (size_t)__builtin_ctzll(b)];
            if (s->kind == N_SYM && (s->mask & mask)) {
                set_add(out, s->out);
                any = true;
            }
        }
    return any;
}

/* ---- analysis ------------------------------------------------------------------------------ */

typedef struct memo_slot memo_slot;

/* A state of the product of the NFA and the open lookaheads' contents (nla_product). */
typedef struct prod {
    int q;      /* the NFA's state */
    uint64_t L; /* the lookahead content states alive (closed), none at an N_LAOK */
    int id;     /* its state in the product */
} prod;

#define PROD_SLOTS 4096 /* > 2 * MAX_STATES, a power of two */

typedef struct scratch {
    nfa N;
    parser P;
    nfa M; /* nla_product's output */
    prod pr[MAX_STATES];
    int npr;
    int16_t ph[PROD_SLOTS];
    memo_slot *memo; /* MEMO_SLOTS analyses of literal runs' shapes (NULL: none kept) */
    int stack[4 * MAX_STATES];
    uint64_t pool[]; /* state sets, POOL_SETS of MAX_STATES bits */
} scratch;

#define MEMO_SLOTS    64
#define MEMO_REST_MAX 120

struct memo_slot {
    bool used;
    uint8_t n; /* symbols in the run */
    char rest[MEMO_REST_MAX + 1];
    cr_pattern_info info; /* of "^" 0...0 rest */
};

#define POOL_SETS (2 * CR_PX_MAX_PREFIXES + SYM_COUNT + 8 + 4) /* 4 for tail_exact */

typedef struct frontier {
    uint8_t syms[CR_PX_MAX_DEPTH];
    uint8_t len;
    uint64_t *set;
} frontier;

/*
 * Reads what may follow a prefix exactly, when that is "m symbols of one set, between lo and
 * hi of them" (the usual "(\d{4})$"): from the states after the prefix, every step must offer
 * one and the same symbol set, the lengths at which a match may end must form one interval,
 * and a match must need the end of the number. False when the tail is anything else.
 */
static bool tail_exact(scratch *X, const uint64_t *set0, bool at0, uint16_t *mask, int *lo, int *hi)
{
    nfa *N = &X->N;
    size_t w = N->words;
    uint64_t *cur = X->pool + (POOL_SETS - 4) * w, *cl = cur + w, *nxt = cl + w, *tmp = nxt + w;
    memcpy(cur, set0, w * sizeof *cur);
    int a = -1, b = -1;
    uint16_t m = 0;
    bool have_m = false;
    for (int pos = 0;; pos++) {
        if (pos > 40)
            return false; /* no fixed point soon: not modelled */
        closure c = do_closure(N, cur, at0 && pos == 0, cl, tmp, X->stack);
        if (c.accept)
            return false;
        if (c.end_accept) {
            if (a < 0)
                a = pos;
            else if (b != pos - 1)
                return false;
            b = pos;
        }
        uint16_t sm = 0;
        bool any = false;
        for (size_t i = 0; i < w; i++)
            for (uint64_t bits = cl[i]; bits; bits &= bits - 1) {
                const nstate *st = &N->st[i * 64 + (size_t)__builtin_ctzll(bits)];
                if (st->kind != N_SYM || !st->mask)
                    continue;
                if (any && st->mask != sm)
                    return false;
                sm = st->mask;
                any = true;
            }
        if (!any)
            break;
        if (have_m && sm != m)
            return false;
        m = sm;
        have_m = true;
        step(N, cl, m, nxt);
        if ((pos > 0 || !at0) && memcmp(nxt, cur, w * sizeof *cur) == 0) {
            if (c.end_accept)
                b = CR_PX_LEN_INF; /* the same answer at every longer length */
            break;
        }
        uint64_t *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (a < 0)
        return false;
    *mask = m;
    *lo = a;
    *hi = b;
    return true;
}

static void add_prefix(scratch *X, cr_pattern_info *out, const uint8_t *syms, size_t len,
                       const uint64_t *set)
{
    size_t k = out->nprefixes++;
    for (size_t i = 0; i < len; i++)
        out->prefixes[k][i] = ce_pat_sym_char[syms[i]];
    out->prefixes[k][len] = 0;
    out->plen[k] = (uint8_t)len;
    out->tail[k] = 0;
    uint16_t m;
    int lo, hi;
    if (out->strict && tail_exact(X, set, len == 0, &m, &lo, &hi)) {
        out->tail[k] = (uint16_t)(CR_PX_EXACT | m);
        out->tmin[k] = (uint8_t)lo;
        out->tmax[k] = hi >= CR_PX_LEN_INF ? CR_PX_LEN_INF : (uint8_t)hi;
    }
}

bool ce_pattern_exact(const cr_pattern_info *info)
{
    if (!info->strict || info->kind == CR_PX_ANY)
        return false;
    for (size_t i = 0; i < info->nprefixes; i++)
        if (!(info->tail[i] & CR_PX_EXACT))
            return false;
    return true;
}

/* Length bounds of a number the NFA can match; false when it can match none. */
static bool length_bounds(scratch *X, int start, cr_pattern_info *out)
{
    nfa *N = &X->N;
    size_t w = N->words;
    uint64_t *cur = X->pool, *cl = cur + w, *nxt = cl + w, *tmp = nxt + w;
    memset(cur, 0, w * sizeof *cur);
    set_add(cur, start);
    int a_min = -1, b_min = -1, b_max = -1;
    bool b_inf = false;
    for (int pos = 0; pos <= CR_NUMBER_MAX; pos++) {
        closure c = do_closure(N, cur, pos == 0, cl, tmp, X->stack);
        if (c.accept) {
            a_min = pos;
            break;
        }
        if (c.end_accept) {
            if (b_min < 0)
                b_min = pos;
            b_max = pos;
        }
        if (!step(N, cl, MASK_ALL, nxt))
            break;
        if (pos > 0 && memcmp(nxt, cur, w * sizeof *cur) == 0) {
            /* the same set from here on: the same answer at every longer length */
            b_inf = c.end_accept;
            break;
        }
        if (pos == CR_NUMBER_MAX)
            b_inf = true; /* unknown past the longest number: no bound */
        uint64_t *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (a_min < 0 && b_min < 0)
        return false;
    int mn = a_min < 0 ? b_min : (b_min < 0 ? a_min : (a_min < b_min ? a_min : b_min));
    out->minlen = (uint8_t)(mn > 254 ? 254 : mn);
    out->maxlen = (a_min >= 0 || b_inf || b_max > 254) ? CR_PX_LEN_INF : (uint8_t)b_max;
    return true;
}

/* Literal prefixes: follows the NFA symbol by symbol while the choices stay few. */
static void prefixes(scratch *X, int start, cr_pattern_info *out)
{
    nfa *N = &X->N;
    size_t w = N->words;
    enum { WORK = 2 * CR_PX_MAX_PREFIXES + SYM_COUNT }; /* > pending + SYM_COUNT */
    frontier work[WORK];
    size_t head = 0, tail = 0, nextset = 0;
    uint64_t *cl = X->pool, *tmp = cl + w;
    uint64_t *sets = tmp + w; /* POOL_SETS - 2 sets, used as a ring */
    size_t nsets = POOL_SETS - 6;
    work[0].len = 0;
    work[0].set = sets + (nextset++ % nsets) * w;
    memset(work[0].set, 0, w * sizeof(uint64_t));
    set_add(work[0].set, start);
    tail++;
    while (head < tail) {
        frontier *f = &work[head++ % WORK];
        closure c = do_closure(N, f->set, f->len == 0, cl, tmp, X->stack);
        if (c.accept || c.end_accept) {
            add_prefix(X, out, f->syms, f->len, f->set);
            continue;
        }
        uint16_t live = 0;
        for (size_t i = 0; i < w; i++)
            for (uint64_t b = cl[i]; b; b &= b - 1) {
                const nstate *st = &N->st[i * 64 + (size_t)__builtin_ctzll(b)];
                if (st->kind == N_SYM)
                    live |= st->mask;
            }
        int k = __builtin_popcount(live);
        if (k == 0)
            continue; /* a dead end: no number goes this way */
        size_t pending = tail - head;
        if (k >= 10 || f->len == CR_PX_MAX_DEPTH ||
            out->nprefixes + pending + (size_t)k > CR_PX_MAX_PREFIXES) {
            add_prefix(X, out, f->syms, f->len, f->set);
            continue;
        }
        for (int s = 0; s < SYM_COUNT; s++) {
            if (!(live >> s & 1))
                continue;
            frontier *g = &work[tail % WORK];
            tail++;
            memcpy(g->syms, f->syms, f->len);
            g->syms[f->len] = (uint8_t)s;
            g->len = (uint8_t)(f->len + 1);
            g->set = sets + (nextset++ % nsets) * w;
            step(N, cl, (uint16_t)(1u << s), g->set);
        }
    }
}

/* Drops prefixes that an other prefix of the same pattern already covers (the tails are then
 * no longer read exactly). */
static void dedupe(cr_pattern_info *out)
{
    size_t w = 0, n = out->nprefixes;
    for (size_t i = 0; i < out->nprefixes; i++) {
        bool covered = false;
        for (size_t j = 0; j < out->nprefixes && !covered; j++) {
            if (j == i || out->plen[j] > out->plen[i])
                continue;
            if (memcmp(out->prefixes[j], out->prefixes[i], out->plen[j]) == 0)
                covered = out->plen[j] < out->plen[i] || j < i;
        }
        if (!covered) {
            if (w != i) {
                memcpy(out->prefixes[w], out->prefixes[i], sizeof out->prefixes[0]);
                out->plen[w] = out->plen[i];
                out->tail[w] = out->tail[i];
                out->tmin[w] = out->tmin[i];
                out->tmax[w] = out->tmax[i];
            }
            w++;
        }
    }
    out->nprefixes = w;
    if (w != n)
        for (size_t i = 0; i < w; i++)
            out->tail[i] = 0;
}

cr_pattern_analyser *ce_pattern_analyser_new(void)
{
    scratch *X = malloc(sizeof(scratch) + POOL_SETS * (MAX_STATES / 64) * sizeof(uint64_t));
    if (X)
        X->memo = calloc(MEMO_SLOTS, sizeof *X->memo); /* NULL: every pattern analysed whole */
    return (cr_pattern_analyser *)X;
}

void ce_pattern_analyser_free(cr_pattern_analyser *a)
{
    if (a)
        free(((scratch *)a)->memo);
    free(a);
}

void ce_pattern_analyse(const char *pattern, cr_pattern_info *out)
{
    cr_pattern_analyser *a = ce_pattern_analyser_new();
    ce_pattern_analyse_with(a, pattern, out);
    ce_pattern_analyser_free(a);
}

void cr_pattern_prefixes_of(const char *pattern, cr_pattern_prefixes *out)
{
    cr_pattern_info *info = malloc(sizeof *info);
    memset(out, 0, offsetof(cr_pattern_prefixes, prefix));
    if (!info)
        return;
    ce_pattern_analyse(pattern, info);
    out->prefixed = info->kind == CR_PX_SET;
    out->minlen = info->minlen;
    if (out->prefixed) {
        out->n = info->nprefixes;
        memcpy(out->prefix, info->prefixes, info->nprefixes * sizeof info->prefixes[0]);
    }
    free(info);
}

static int build_nfa(scratch *X, const parser *P, int root, bool *exact);

/* True when the NFA from `start` can match nothing that begins anywhere but at the start (a
 * pattern PCRE2 only matches anchored). */
static bool anchored(scratch *X, int start)
{
    nfa *N = &X->N;
    uint64_t *s0 = X->pool, *cl = s0 + N->words, *tmp = cl + N->words;
    memset(s0, 0, N->words * sizeof *s0);
    set_add(s0, start);
    closure c = do_closure(N, s0, false, cl, tmp, X->stack);
    for (int k = 0; k < N->count; k++)
        if (set_has(cl, k) && N->st[k].kind == N_SYM && N->st[k].mask)
            return false;
    return !c.accept && !c.end_accept;
}

/* Groups in a pattern, at most: ovectors hold 255 (regex.c), more is not read exactly. */
static size_t group_bound(const char *pattern)
{
    size_t groups = 0;
    for (const char *q = pattern; *q; q++)
        groups += *q == '(';
    return groups;
}

/* The analysis itself (no memo). */
static void analyse(scratch *X, const char *pattern, cr_pattern_info *out)
{
    memset(out, 0, offsetof(cr_pattern_info, plen));
    out->kind = CR_PX_ANY;
    out->strict = false;
    out->minlen = 0;
    out->maxlen = CR_PX_LEN_INF;
    if (!pattern || !X)
        return;
    parser *P = &X->P;
    int root = ce_pat_parse(P, pattern);
    if (P->bail || root < 0 || pattern[P->i] != 0)
        goto done;
    bool exact;
    int start = build_nfa(X, P, root, &exact);
    if (start < 0)
        goto done;
    out->strict = !P->widened && exact && group_bound(pattern) < 200;
    /* Anchored: with ^ failing (any start but the first), nothing can be matched. */
    if (!anchored(X, start))
        goto done;
    if (!length_bounds(X, start, out)) {
        out->kind = CR_PX_NEVER;
        goto done;
    }
    prefixes(X, start, out);
    dedupe(out);
    out->kind = out->nprefixes ? CR_PX_SET : CR_PX_NEVER;
done:
    return;
}

/* ---- negative lookaheads ------------------------------------------------------------------- */

/*
 * A negative lookahead holds when its content matches no start of what follows. The NFA runs
 * its content beside the pattern: a state of the product is an NFA state and the set L of the
 * content states alive (each open lookahead's threads, begun where it was met), and a symbol
 * that brings any of them to its end (N_LAOK: the content matched) goes nowhere. The end of the
 * number closes every lookahead (a content matches nothing empty: it would have been refused
 * where it opened). A match with a lookahead still open depends on what follows unread: it is
 * taken as a match (the analysis only widens) and the product is no exact model (`widened`).
 */

static uint64_t body_close(const nfa *N, uint64_t set)
{
    uint64_t out = 0;
    while (set) {
        int b = __builtin_ctzll(set);
        set &= set - 1;
        if (out >> b & 1)
            continue;
        out |= 1ull << b;
        const nstate *st = &N->st[N->glob[b]];
        if (st->kind == N_SPLIT) {
            set |= 1ull << N->loc[st->out];
            if (st->out1 >= 0)
                set |= 1ull << N->loc[st->out1];
        }
    }
    return out;
}

static uint64_t body_step(const nfa *N, uint64_t L, int sym)
{
    uint64_t out = 0;
    for (uint64_t b = L; b; b &= b - 1) {
        const nstate *st = &N->st[N->glob[__builtin_ctzll(b)]];
        if (st->kind == N_SYM && (st->mask >> sym & 1))
            out |= 1ull << N->loc[st->out];
    }
    return out ? body_close(N, out) : 0;
}

/* The product's state for (q, L), made on first use (-1 for q < 0, and when out of room). */
static int prod_id(scratch *X, int q, uint64_t L)
{
    if (q < 0)
        return -1;
    uint64_t h = (uint64_t)q * 0x9E3779B97F4A7C15ull ^ L * 0xC2B2AE3D27D4EB4Full;
    size_t i = (size_t)(h ^ h >> 29) & (PROD_SLOTS - 1);
    for (; X->ph[i] >= 0; i = (i + 1) & (PROD_SLOTS - 1))
        if (X->pr[X->ph[i]].q == q && X->pr[X->ph[i]].L == L)
            return X->pr[X->ph[i]].id;
    if (X->npr == MAX_STATES || X->M.count == MAX_STATES) {
        X->M.bail = true;
        return -1;
    }
    X->ph[i] = (int16_t)X->npr;
    X->pr[X->npr] = (prod){q, L, add_state(&X->M, N_SPLIT, 0, -1, -1)};
    return X->pr[X->npr++].id;
}

/* Replaces X->N (with N_NLA states) by its product; *start is the new start. False when the
 * product does not fit (X->N is then unchanged). */
static bool nla_product(scratch *X, int *start)
{
    const nfa *N = &X->N;
    nfa *M = &X->M;
    M->count = 0;
    M->bail = false;
    M->widened = false;
    X->npr = 0;
    memset(X->ph, 0xFF, sizeof X->ph);
    int s0 = prod_id(X, *start, 0);
    for (int i = 0; i < X->npr && !M->bail; i++) {
        const nstate *st = &N->st[X->pr[i].q];
        uint64_t L = X->pr[i].L;
        int id = X->pr[i].id;
        nstate o = {N_SPLIT, 0, -1, -1};
        switch (st->kind) {
        case N_SPLIT:
            o.out = prod_id(X, st->out, L);
            o.out1 = prod_id(X, st->out1, L);
            break;
        case N_BEGIN:
            o = (nstate){N_BEGIN, 0, prod_id(X, st->out, L), -1};
            break;
        case N_END: /* the number ends here: no lookahead content can match any more */
            o = (nstate){N_END, 0, prod_id(X, st->out, 0), -1};
            break;
        case N_MATCH:
            o.kind = N_MATCH;
            M->widened |= L != 0;
            break;
        case N_NLA: {
            uint64_t L2 = L | body_close(N, 1ull << N->loc[st->out1]);
            if (L2 & N->laok)
                o = (nstate){N_SYM, 0, -1, -1}; /* the content matches here: never holds */
            else
                o.out = prod_id(X, st->out, L2);
            break;
        }
        case N_SYM: {
            uint64_t gl[SYM_COUNT];
            uint16_t gm[SYM_COUNT];
            int ng = 0;
            for (int sym = 0; sym < SYM_COUNT; sym++) {
                if (!(st->mask >> sym & 1))
                    continue;
                uint64_t Ls = L ? body_step(N, L, sym) : 0;
                if (Ls & N->laok)
                    continue;
                int g = 0;
                while (g < ng && gl[g] != Ls)
                    g++;
                if (g == ng) {
                    gl[ng] = Ls;
                    gm[ng++] = 0;
                }
                gm[g] |= (uint16_t)(1u << sym);
            }
            if (ng == 0) {
                o = (nstate){N_SYM, 0, -1, -1};
            } else if (ng == 1) {
                o = (nstate){N_SYM, gm[0], prod_id(X, st->out, gl[0]), -1};
            } else {
                int chain = -1;
                for (int g = ng; g-- > 0;) {
                    int to = prod_id(X, st->out, gl[g]);
                    int sy = add_state(M, N_SYM, gm[g], to, -1);
                    chain = chain < 0 ? sy : add_state(M, N_SPLIT, 0, sy, chain);
                }
                o.out = chain;
            }
            break;
        }
        default: /* N_LAOK: content states are never states of the pattern */
            M->bail = true;
            break;
        }
        if (!M->bail)
            M->st[id] = o;
    }
    if (M->bail)
        return false;
    memcpy(X->N.st, M->st, (size_t)M->count * sizeof M->st[0]);
    X->N.count = M->count;
    X->N.widened = M->widened;
    *start = s0;
    return true;
}

/* The NFA of the tree at root into X->N; its start, -1 when it does not fit. *exact is false
 * when the NFA only over-approximates the tree (a lookahead taken as always true). */
static int build_nfa(scratch *X, const parser *P, int root, bool *exact)
{
    nfa *N = &X->N;
    *exact = true;
    for (int pass = 0; pass < 2; pass++) {
        N->count = 0;
        N->bail = false;
        N->nla_empty = pass == 1;
        N->widened = false;
        N->nbody = 0;
        N->laok = 0;
        int match = add_state(N, N_MATCH, 0, -1, -1);
        int start = emit(N, P, root, match, 0);
        if (!N->bail && (!P->nla || N->nla_empty || nla_product(X, &start))) {
            *exact = !N->nla_empty && !N->widened;
            N->words = ((size_t)N->count + 63) / 64;
            return start;
        }
        if (!P->nla)
            break;
    }
    *exact = false;
    return -1;
}

/* ---- automata ------------------------------------------------------------------------------ */

cr_px_dfa *ce_pattern_dfa_new(cr_pattern_analyser *a, const char *pattern)
{
    scratch *X = (scratch *)a;
    if (!X || !pattern)
        return NULL;
    parser *P = &X->P;
    int root = ce_pat_parse(P, pattern);
    if (P->bail || root < 0 || pattern[P->i] != 0 || P->widened || group_bound(pattern) >= 200)
        return NULL;
    bool exact;
    int start = build_nfa(X, P, root, &exact);
    if (start < 0 || !exact || !anchored(X, start))
        return NULL;
    nfa *N = &X->N;
    size_t w = N->words;
    cr_px_dfa *d = calloc(1, sizeof *d);
    uint64_t *sets = malloc(CR_PX_DFA_STATES * w * sizeof *sets);
    if (!d || !sets)
        goto fail;
    uint64_t *cl = X->pool, *tmp = cl + w, *nxt = tmp + w;
    /* state 0: no match whatever follows; 1: the start (where ^ holds); 2: matched; the others
     * by their NFA state sets, made as they are met */
    _Static_assert(CR_PX_SYM_END == SYM_COUNT && CR_PX_DFA_STOP > CR_PX_SYM_END, "DFA columns");
    d->tr[0][CR_PX_DFA_STOP] = CR_PX_DFA_NO;
    d->tr[2][CR_PX_DFA_STOP] = CR_PX_DFA_YES;
    memset(sets + w, 0, w * sizeof *sets);
    set_add(sets + w, start);
    size_t n = 3;
    for (size_t k = 1; k < n; k++) {
        if (k == 2)
            continue;
        closure c = do_closure(N, sets + k * w, k == 1, cl, tmp, X->stack);
        if (c.accept) { /* a match whatever follows */
            d->tr[k][CR_PX_DFA_STOP] = CR_PX_DFA_YES;
            continue;
        }
        d->tr[k][CR_PX_SYM_END] = c.end_accept ? 2 : 0;
        bool digits = c.end_accept; /* stays k on every digit, dies on the rest */
        for (int sym = 0; sym < SYM_COUNT; sym++) {
            if (!step(N, cl, (uint16_t)(1u << sym), nxt))
                continue;
            size_t j = 3;
            while (j < n && memcmp(sets + j * w, nxt, w * sizeof *sets) != 0)
                j++;
            if (j == n) {
                if (n == CR_PX_DFA_STATES)
                    goto fail;
                memcpy(sets + n++ * w, nxt, w * sizeof *sets);
            }
            d->tr[k][sym] = (uint8_t)j;
        }
        for (int sym = 0; sym < SYM_COUNT; sym++)
            digits &= d->tr[k][sym] == (sym < 10 ? k : 0);
        if (digits)
            d->tr[k][CR_PX_DFA_STOP] = CR_PX_DFA_DIGITS;
    }
    free(sets);
    return d;
fail:
    free(sets);
    free(d);
    return NULL;
}

/* ---- literal runs: one analysis per shape -------------------------------------------------- */

/*
 * A dial plan's patterns mostly differ only in a run of literal symbols after the ^ (the
 * NPA-NXX of "^\+1425555(\d{4})$", the country and city code of an international route).
 * Every match reads such a run first, one symbol after the other, and nothing in the
 * analysis depends on which symbols they are: the NFA is a chain through them (one live
 * symbol a step, so the prefixes all go through it), the length bounds and the tails after
 * it are those of what follows, and the prefixes differ only after it. So the analysis of
 * "^" L R is the analysis of "^" 0...0 R (as many zeros as L has symbols) with L written
 * over the first symbols of every prefix; it is kept per (|L|, R) and reused. The run stops
 * before a quantified symbol ("^91?..." keeps "9") and short of the prefix depth bound, and
 * a pattern with a '|' outside every group (where the ^ and the run belong to the first
 * branch only), a comment or an option setting is analysed whole. test_index_property checks memo =
 * whole analysis.
 */

/* The literal run after a leading ^ (digits, \+ \* \#, none quantified) into lit, its
 * length returned and *rest after it; 0 when there is none or the pattern may not read it
 * first (a '|' outside every group, \Q quoting, a rest too long to keep). */
static size_t literal_run(const char *p, char lit[CR_PX_MAX_DEPTH], const char **rest)
{
    if (p[0] != '^')
        return 0;
    const char *q = p + 1;
    size_t n = 0;
    while (n < CR_PX_MAX_DEPTH - 1) {
        const char *atom = q;
        char c;
        if (*q >= '0' && *q <= '9')
            c = *q++;
        else if (q[0] == '\\' && (q[1] == '+' || q[1] == '*' || q[1] == '#'))
            c = q[1], q += 2;
        else
            break;
        if (*q == '?' || *q == '*' || *q == '+' || *q == '{') {
            q = atom; /* quantified: left to what follows */
            break;
        }
        lit[n++] = c;
    }
    if (!n || strlen(q) > MEMO_REST_MAX)
        return 0;
    int depth = 0;
    bool in_class = false;
    for (const char *r = q; *r; r++) {
        if (*r == '\\') {
            if (r[1] == 'Q' || r[1] == 'E' || !r[1])
                return 0;
            r++;
        } else if (in_class) {
            in_class = *r != ']';
        } else if (*r == '[') {
            in_class = true;
            if (r[1] == '^')
                r++;
            if (r[1] == ']')
                r++; /* a ']' first in a class is a member */
        } else if (*r == '(') {
            /* groups and lookarounds; other "(?" forms (comments, options) are not followed */
            if (r[1] == '?' && (!r[2] || !strchr(":=!<>", r[2])))
                return 0;
            depth++;
        } else if (*r == ')') {
            depth--;
        } else if (*r == '|' && depth <= 0) {
            return 0;
        }
    }
    *rest = q;
    return n;
}

void ce_pattern_analyse_whole(cr_pattern_analyser *a, const char *pattern, cr_pattern_info *out)
{
    analyse((scratch *)a, pattern, out);
}

void ce_pattern_analyse_with(cr_pattern_analyser *a, const char *pattern, cr_pattern_info *out)
{
    scratch *X = (scratch *)a;
    char lit[CR_PX_MAX_DEPTH];
    const char *rest = NULL;
    size_t n = X && X->memo && pattern ? literal_run(pattern, lit, &rest) : 0;
    if (!n) {
        analyse(X, pattern, out);
        return;
    }
    uint64_t h = ce_hash(rest, strlen(rest), false) ^ (uint64_t)n * 0x9E3779B97F4A7C15ull;
    memo_slot *m = &X->memo[h % MEMO_SLOTS];
    if (!m->used || m->n != n || strcmp(m->rest, rest) != 0) {
        char shape[1 + CR_PX_MAX_DEPTH + MEMO_REST_MAX + 1];
        shape[0] = '^';
        memset(shape + 1, '0', n);
        strcpy(shape + 1 + n, rest);
        analyse(X, shape, &m->info);
        m->used = true;
        m->n = (uint8_t)n;
        strcpy(m->rest, rest);
    }
    size_t np = m->info.nprefixes;
    memcpy(out, &m->info, offsetof(cr_pattern_info, plen));
    memcpy(out->plen, m->info.plen, np * sizeof out->plen[0]);
    memcpy(out->tail, m->info.tail, np * sizeof out->tail[0]);
    memcpy(out->tmin, m->info.tmin, np * sizeof out->tmin[0]);
    memcpy(out->tmax, m->info.tmax, np * sizeof out->tmax[0]);
    for (size_t i = 0; i < np; i++) {
        memcpy(out->prefixes[i], m->info.prefixes[i], (size_t)m->info.plen[i] + 1);
        memcpy(out->prefixes[i], lit, n < m->info.plen[i] ? n : m->info.plen[i]);
    }
}

int ce_pat_parse(parser *P, const char *pattern)
{
    P->s = pattern;
    P->i = 0;
    P->count = 0;
    P->depth = 0;
    P->bail = false;
    P->inexact = false;
    P->widened = false;
    P->widenings = 0;
    P->nla = false;
    return parse_alt(P);
}

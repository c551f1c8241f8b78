/*
 * Normalization rules' translations: .NET replacement strings ($1, ${name}, $&, $`, $', $+,
 * $_, $$) compiled against their pattern's groups (numbered as .NET numbers them), applied
 * with PCRE2 or, for patterns of the simple shape, without it (ce_rule_apply_simple).
 */
#include "model.h"
#include "cr_grow.h"
#include "pattern_ast.h"
#include "route_index.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { X_LIT, X_GROUP, X_WHOLE, X_LEFT, X_RIGHT, X_LAST, X_INPUT } xtype;

typedef struct xtok {
    xtype type;
    int group;       /* PCRE2 group number for X_GROUP */
    size_t off, len; /* literal text in the translation copy */
} xtok;

#define SHAPE_LIT_MAX 32
#define SHAPE_INF     255 /* no upper bound (numbers are at most CR_NUMBER_MAX long) */

/*
 * A pattern of the shape `^LIT$`, `^LIT CLASS Q$` or `^LIT(CLASS Q)$`, where LIT is literal
 * symbols of the alphabet, CLASS is \d, . or a bracket class of symbols and Q a quantifier:
 * on a number of the alphabet it matches exactly when the number starts with LIT and the
 * rest is between tmin and tmax symbols of CLASS, and the match is the whole number with
 * group 1 (when there is one) the rest. Most normalization rules have this shape; for them
 * the index's walk skips PCRE2 (cr_profile_normalize).
 */
typedef struct shape {
    bool simple;
    bool group;   /* the tail is capture group 1 */
    uint8_t plen; /* literal length */
    uint8_t tmin, tmax;
    uint16_t tmask; /* symbols allowed in the tail, bit = trie symbol */
    char lit[SHAPE_LIT_MAX];
} shape;

/* A lazy translation's state (ce_xlat_lazy), read and written atomically; an xlat compiled
 * at once is XS_READY from the start. */
enum { XS_READY = 0, XS_EMPTY = 1, XS_FILLING = 2 };

#define FAST_LIT_INLINE 16 /* a fast form's literal up to this long is kept in the xlat itself */

typedef struct xlat {
    /* first, what a normalization reads when the rule index decided the rule (the state, then
     * the fast form): the bytes below, without the shape, the tokens or the text. On a number
     * the simple shape matches, the translation as one literal then one tail of the number
     * (the usual "+1425555$1", "+$&", "$1"): fast_len characters of text from fast_off (also
     * in fast_lit when at most FAST_LIT_INLINE), then in[fast_from..n) (nothing of the number
     * with FAST_NO_TAIL). Set by fast_form when the tokens reduce to that (fast, which implies
     * sh.simple); apply_simple then writes two copies. */
    uint8_t state; /* XS_*: a lazy translation is filled in place on first use */
    bool fast;
    uint8_t fast_from;
    bool anchored; /* the pattern can only match at the start of the subject */
    bool packed;   /* toks and text live in the same block, after the xlat (pack) */
    uint32_t fast_off, fast_len;
    char fast_lit[FAST_LIT_INLINE];
    char *text;
    xtok *toks;
    size_t ntoks;
    int last_group; /* PCRE2 number of .NET's last group ($+), 0 if none */
    shape sh;
    /* a lazy translation: the rule it is compiled for, and once filled the compiled block its
     * tokens and text are in (freed with it) */
    const cr_rule *rule;
    struct xlat *block;
} xlat;

#define FAST_NO_TAIL 255u

/*
 * .NET numbers unnamed groups first, left to right, then named groups in order of first
 * appearance; PCRE2 numbers all groups left to right. net2pcre maps .NET numbers to PCRE2's.
 */
typedef struct groupmap {
    int *net2pcre; /* index: .NET number, value: PCRE2 number */
    int count;     /* groups + 1 */
    bool *named;   /* by PCRE2 number */
} groupmap;

static void mark_named(void *ud, const char *name, int num)
{
    (void)name;
    groupmap *m = ud;
    if (num > 0 && num < m->count)
        m->named[num] = true;
}

static bool groupmap_build(const void *re, groupmap *m)
{
    m->count = (int)ce_re_capture_count(re) + 1;
    m->net2pcre = calloc((size_t)m->count, sizeof *m->net2pcre);
    m->named = calloc((size_t)m->count, sizeof *m->named);
    if (!m->net2pcre || !m->named)
        return false;
    ce_re_names(re, mark_named, m);
    int k = 1;
    for (int i = 1; i < m->count; i++)
        if (!m->named[i])
            m->net2pcre[k++] = i;
    for (int i = 1; i < m->count; i++)
        if (m->named[i])
            m->net2pcre[k++] = i;
    return true;
}

static void groupmap_free(groupmap *m)
{
    free(m->net2pcre);
    free(m->named);
}

static bool push(xlat *x, size_t *cap, xtok t)
{
    if (!CR_GROW(x->toks, x->ntoks, *cap))
        return false;
    /* merge adjacent literals */
    if (t.type == X_LIT && x->ntoks && x->toks[x->ntoks - 1].type == X_LIT &&
        x->toks[x->ntoks - 1].off + x->toks[x->ntoks - 1].len == t.off) {
        x->toks[x->ntoks - 1].len += t.len;
        return true;
    }
    x->toks[x->ntoks++] = t;
    return true;
}

static bool is_word(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Trie symbol bit of each byte (0-9 + * #), 0 outside the alphabet: a simple shape's tail
 * check is one load and a test a character. */
static const uint16_t sym_bits[256] = {
    ['0'] = 1u << 0,  ['1'] = 1u << 1,  ['2'] = 1u << 2,  ['3'] = 1u << 3, ['4'] = 1u << 4,
    ['5'] = 1u << 5,  ['6'] = 1u << 6,  ['7'] = 1u << 7,  ['8'] = 1u << 8, ['9'] = 1u << 9,
    ['+'] = 1u << 10, ['*'] = 1u << 11, ['#'] = 1u << 12,
};

static uint16_t sym_bit(char c)
{
    return sym_bits[(unsigned char)c];
}

/* The leaves of the tree under k, in order, through concatenations and non-capturing groups;
 * in_group marks those inside a capturing group. False for alternations, empty nodes (from
 * lookarounds and comments) and more than `max` leaves. */
static bool leaves(const parser *P, int k, bool captured, int *out, bool *in_group, int *n, int max)
{
    const anode *a = &P->n[k];
    captured = captured || a->capture;
    if (a->kind == A_CAT) {
        for (int c = a->child; c >= 0; c = P->n[c].next)
            if (!leaves(P, c, captured, out, in_group, n, max))
                return false;
        return true;
    }
    if (a->kind == A_ALT || a->kind == A_EMPTY || *n == max)
        return false;
    in_group[*n] = captured;
    out[(*n)++] = k;
    return true;
}

/* The symbol set node k stands for when it is one (a single-child concatenation that is no
 * capture is looked through), else -1. */
static int set_of(const parser *P, int k)
{
    while (P->n[k].kind == A_CAT && !P->n[k].capture && P->n[k].child >= 0 &&
           P->n[k].child == P->n[k].last)
        k = P->n[k].child;
    return P->n[k].kind == A_SET ? k : -1;
}

/* Recognises the simple shape (see `shape`) in the syntax tree of pattern.c; sh->simple
 * stays false for anything else, and for any pattern the tree only over-approximates. */
static void shape_read(const char *pattern, shape *sh)
{
    memset(sh, 0, sizeof *sh);
    parser *P = malloc(sizeof *P);
    if (!P || !pattern)
        goto out;
    int root = ce_pat_parse(P, pattern);
    enum { MAXL = SHAPE_LIT_MAX + 3 };
    int leaf[MAXL], n = 0;
    bool in_group[MAXL];
    if (root < 0 || P->bail || P->inexact || P->n[root].capture ||
        !leaves(P, root, false, leaf, in_group, &n, MAXL))
        goto out;
    /* ^ LIT... [tail] $ */
    if (n < 2 || P->n[leaf[0]].kind != A_BEGIN || P->n[leaf[n - 1]].kind != A_END || in_group[0] ||
        in_group[n - 1])
        goto out;
    int i = 1;
    for (; i < n - 1 && !in_group[i] && P->n[leaf[i]].kind == A_SET; i++) {
        uint16_t m = P->n[leaf[i]].mask;
        if (!m || (m & (m - 1)) || sh->plen == SHAPE_LIT_MAX)
            break; /* a class of several symbols: the tail */
        sh->lit[sh->plen++] = ce_pat_sym_char[__builtin_ctz(m)];
    }
    unsigned lo = 0, hi = 0;
    if (i < n - 1) { /* the tail: one class, maybe repeated, maybe the one group */
        const anode *t = &P->n[leaf[i]];
        int set = t->kind == A_REP ? set_of(P, t->child) : t->kind == A_SET ? leaf[i] : -1;
        if (set < 0 || i != n - 2 || !P->n[set].mask)
            goto out;
        sh->group = in_group[i];
        sh->tmask = P->n[set].mask;
        lo = t->kind == A_REP ? (unsigned)t->min : 1;
        hi = t->kind != A_REP ? 1 : t->max == REP_INF ? UINT32_MAX : (unsigned)t->max;
    }
    sh->tmin = (uint8_t)(lo > SHAPE_INF - 1 ? SHAPE_INF - 1 : lo);
    sh->tmax = (uint8_t)(hi > SHAPE_INF - 1 ? SHAPE_INF : hi);
    sh->simple = true;
out:
    free(P);
}

/* True when every top-level branch of the pattern starts with '^' (no multiline): it then
 * matches at the start of the subject or nowhere, and Regex.Replace needs one match only.
 * Conservative: inline options, \Q, comments and conditionals give false. */
static bool anchored_at_start(const char *p)
{
    if (!p || *p != '^')
        return false;
    int depth = 0;
    for (; *p; p++) {
        if (*p == '\\') {
            if (p[1] == 'Q' || p[1] == 'c' || p[1] == 0)
                return false; /* quoting; \c takes the next character, even '(' */
            p++;
        } else if (*p == '[') {
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            for (; *p != ']'; p++) {
                if (!*p)
                    return false;
                if (*p == '\\') {
                    if (p[1] == 'Q' || p[1] == 'c' || p[1] == 0)
                        return false;
                    p++;
                } else if (*p == '[' && p[1] == ':') {
                    return false; /* POSIX classes: not read here */
                }
            }
        } else if (*p == '(') {
            if (p[1] == '?' && !strchr(":=!<>", p[2]))
                return false; /* options, comments, conditionals, ... */
            if (p[1] == '?' && p[2] == '<' && p[3] && !strchr("=!", p[3]) &&
                !((p[3] >= 'a' && p[3] <= 'z') || (p[3] >= 'A' && p[3] <= 'Z') || p[3] == '_'))
                return false;
            if (p[1] == '*')
                return false; /* verbs */
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (*p == '|' && depth <= 0) {
            return false;
        }
    }
    return true;
}

/* One piece of the translation on a number of the simple shape (the match is the whole
 * number, group 1 its tail when the shape has the group): literal text (*lit), a tail of the
 * number from *from, or nothing. As emit_translation reads the token with ov = {0, n, plen, n}
 * and rc = 2 with the group, 1 without. */
enum { PIECE_NONE, PIECE_LIT, PIECE_TAIL };
static int piece_of(const xlat *x, const xtok *t, unsigned *from)
{
    int rc = x->sh.group ? 2 : 1;
    switch (t->type) {
    case X_LIT:
        return PIECE_LIT;
    case X_GROUP:
    case X_LAST: {
        int g = t->type == X_GROUP ? t->group : x->last_group;
        if (g < 0 || g >= rc)
            return PIECE_NONE;
        *from = g == 0 ? 0 : x->sh.plen;
        return PIECE_TAIL;
    }
    case X_WHOLE:
    case X_INPUT:
        *from = 0;
        return PIECE_TAIL;
    case X_LEFT:  /* the match starts at 0 */
    case X_RIGHT: /* and ends at n */
        break;
    }
    return PIECE_NONE;
}

/* Sets x->fast when, on a number of the simple shape, the tokens reduce to one literal (one
 * run of the text) followed by one tail of the number, either possibly empty. */
static void fast_form(xlat *x)
{
    x->fast = false;
    if (!x->sh.simple)
        return;
    size_t off = 0, len = 0;
    unsigned from = FAST_NO_TAIL;
    for (size_t k = 0; k < x->ntoks; k++) {
        const xtok *t = &x->toks[k];
        unsigned f = 0;
        int kind = piece_of(x, t, &f);
        if (kind == PIECE_LIT) {
            if (from != FAST_NO_TAIL || (len && off + len != t->off))
                return; /* text after the tail, or two runs of the text */
            if (!len)
                off = t->off;
            len += t->len;
        } else if (kind == PIECE_TAIL) {
            if (from != FAST_NO_TAIL)
                return; /* two tails */
            from = f;
        }
    }
    if (len > UINT32_MAX)
        return;
    x->fast_off = (uint32_t)off;
    x->fast_len = (uint32_t)len;
    if (len <= FAST_LIT_INLINE)
        memcpy(x->fast_lit, x->text + off, len);
    x->fast_from = (uint8_t)from;
    x->fast = true;
}

/* x, its tokens and its text moved into one block (x freed): a normalization reads all three,
 * which would otherwise be three allocations, two dependent misses apart. x itself when the
 * block cannot be had. */
static xlat *pack(xlat *x)
{
    size_t toks = x->ntoks * sizeof *x->toks, text = strlen(x->text) + 1;
    xlat *b = malloc(sizeof *b + toks + text);
    if (!b)
        return x;
    *b = *x;
    b->toks = (xtok *)(b + 1);
    if (toks)
        memcpy(b->toks, x->toks, toks);
    b->text = (char *)b->toks + toks;
    memcpy(b->text, x->text, text);
    b->packed = true;
    ce_xlat_free(x);
    return b;
}

/* The groups of a pattern of the simple shape, from the shape: none, or the tail as group 1
 * (compile checked, against PCRE2's count, that the shape's groups are the pattern's). */
static bool groupmap_of_shape(const shape *sh, groupmap *m)
{
    m->count = sh->group ? 2 : 1;
    m->net2pcre = calloc(2, sizeof *m->net2pcre);
    m->named = calloc(2, sizeof *m->named);
    if (!m->net2pcre || !m->named)
        return false;
    m->net2pcre[1] = 1;
    return true;
}

/* ce_xlat_compile; with re NULL, only for a pattern of the simple shape whose translation
 * names no group by name (*lazy_ok false otherwise, and NULL returned without a message). */
static void *xlat_compile(const char *translation, const char *pattern, const void *re,
                          bool *lazy_ok, char *err, size_t errlen)
{
    xlat *x = calloc(1, sizeof *x);
    groupmap gm = {0};
    size_t cap = 0;
    if (errlen)
        err[0] = 0; /* set on success too: a warning (a group the pattern lacks) */
    if (!re) {
        if (x)
            shape_read(pattern, &x->sh);
        /* the shape's groups must be the pattern's, as compile checks against PCRE2's count
         * (the shape reads "()" and "((...))" as fewer groups than PCRE2 numbers) */
        *lazy_ok = x && x->sh.simple && !strstr(translation ? translation : "", "${") &&
                   ce_re_group_count(pattern) == (x->sh.group ? 1 : 0);
        if (!*lazy_ok) {
            ce_xlat_free(x);
            return NULL;
        }
    }
    if (!x || !(x->text = strdup(translation ? translation : "")) ||
        !(re ? groupmap_build(re, &gm) : groupmap_of_shape(&x->sh, &gm))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    x->last_group = gm.count > 1 ? gm.net2pcre[gm.count - 1] : 0;
    const char *t = x->text;
    size_t n = strlen(t);
    for (size_t i = 0; i < n;) {
        if (t[i] != '$' || i + 1 >= n) {
            if (!push(x, &cap, (xtok){X_LIT, 0, i, 1}))
                goto oom;
            i++;
            continue;
        }
        char c = t[i + 1];
        xtok tok = {X_LIT, 0, i, 1};
        size_t adv = 1;
        if (c == '$') {
            tok = (xtok){X_LIT, 0, i + 1, 1};
            adv = 2;
        } else if (c == '&') {
            tok.type = X_WHOLE, adv = 2;
        } else if (c == '`') {
            tok.type = X_LEFT, adv = 2;
        } else if (c == '\'') {
            tok.type = X_RIGHT, adv = 2;
        } else if (c == '+') {
            tok.type = X_LAST, adv = 2;
        } else if (c == '_') {
            tok.type = X_INPUT, adv = 2;
        } else if (c >= '0' && c <= '9') {
            size_t j = i + 1;
            long num = 0;
            while (j < n && t[j] >= '0' && t[j] <= '9' && num < 100000)
                num = num * 10 + (t[j++] - '0');
            adv = j - i;
            if (num >= gm.count) { /* .NET: no such group, the text stays literal */
                snprintf(err, errlen,
                         "translation '%s' names group $%ld; the pattern has %d: '%.*s' is "
                         "literal text",
                         translation, num, gm.count - 1, (int)adv, t + i);
                tok = (xtok){X_LIT, 0, i, adv};
            } else {
                tok.type = X_GROUP;
                tok.group = gm.net2pcre[num];
            }
        } else if (c == '{') {
            size_t j = i + 2;
            while (j < n && is_word(t[j]))
                j++;
            if (j < n && t[j] == '}' && j > i + 2) {
                char name[128];
                size_t nl = j - (i + 2);
                if (nl >= sizeof name)
                    nl = sizeof name - 1;
                memcpy(name, t + i + 2, nl);
                name[nl] = 0;
                if (name[0] >= '0' && name[0] <= '9') {
                    bool alldigits = true;
                    for (size_t k = 0; k < nl; k++)
                        alldigits &= name[k] >= '0' && name[k] <= '9';
                    long num = alldigits ? strtol(name, NULL, 10) : -1;
                    if (num < 0 || num >= gm.count) {
                        snprintf(err, errlen,
                                 "translation '%s' names group ${%s}; the pattern has %d: it is "
                                 "literal text",
                                 translation, name, gm.count - 1);
                        tok = (xtok){X_LIT, 0, i, j + 1 - i};
                    } else {
                        tok.type = X_GROUP;
                        tok.group = gm.net2pcre[num];
                    }
                } else {
                    int g = ce_re_group_number(re, name);
                    if (g < 0) {
                        snprintf(err, errlen,
                                 "translation '%s' names group ${%s}, which the pattern lacks: it "
                                 "is literal text",
                                 translation, name);
                        tok = (xtok){X_LIT, 0, i, j + 1 - i};
                    } else {
                        tok.type = X_GROUP;
                        tok.group = g;
                    }
                }
                adv = j + 1 - i;
            }
        }
        /* anything else: the '$' is a literal, as in .NET */
        if (!push(x, &cap, tok))
            goto oom;
        i += adv;
    }
    x->anchored = anchored_at_start(pattern);
    if (re) {
        shape_read(pattern, &x->sh);
        /* the shape's groups must be the pattern's (one when it has a group, none otherwise) */
        if (x->sh.simple && gm.count != (x->sh.group ? 2 : 1))
            x->sh.simple = false;
    }
    fast_form(x);
    groupmap_free(&gm);
    return pack(x);
oom:
    snprintf(err, errlen, "out of memory");
fail:
    groupmap_free(&gm);
    ce_xlat_free(x);
    return NULL;
}

void *ce_xlat_compile(const char *translation, const char *pattern, const void *re, char *err,
                      size_t errlen)
{
    bool unused;
    if (!re) {
        snprintf(err, errlen, "no compiled pattern");
        return NULL;
    }
    return xlat_compile(translation, pattern, re, &unused, err, errlen);
}

void *ce_xlat_compile_shape(const char *translation, const char *pattern, char *err, size_t errlen)
{
    bool lazy_ok = false;
    void *x = xlat_compile(translation, pattern, NULL, &lazy_ok, err, errlen);
    if (!x && !lazy_ok && errlen)
        err[0] = 0;
    return x;
}

void ce_xlat_free(void *p)
{
    xlat *x = p;
    if (!x)
        return;
    if (!x->packed) {
        free(x->text);
        free(x->toks);
    }
    ce_xlat_free(x->block); /* a lazy translation's compiled block, once filled */
    free(x);
}

void *ce_xlat_lazy(const cr_rule *r)
{
    /* the header alone until it is used: what a process never uses costs no tokens or text */
    xlat *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->packed = true; /* its tokens and text are in `block` once filled */
    x->state = XS_EMPTY;
    x->rule = r;
    return x;
}

/* The translation of rule r compiled now, as compile_profiles does it (from the pattern's
 * shape, else with the pattern's code, compiled with JIT as an index adopting it would). NULL
 * when out of memory. */
static xlat *xlat_build(const cr_rule *r)
{
    bool lazy_ok = false;
    char err[8];
    xlat *c = xlat_compile(r->translation, r->pattern, NULL, &lazy_ok, err, sizeof err);
    if (c || lazy_ok)
        return c;
    const void *re = ce_rule_re_jit(r);
    return re ? xlat_compile(r->translation, r->pattern, re, &lazy_ok, err, sizeof err) : NULL;
}

/*
 * A lazy translation (ce_xlat_lazy), filled in place the first time it is used: the rule index
 * and the profile hold its address, so it cannot be replaced. The thread that moves it from
 * XS_EMPTY to XS_FILLING fills it and publishes it with XS_READY; one that finds it being
 * filled builds a private copy for its call (*tmp, freed by the caller) rather than wait, so no
 * thread ever spins on another (nor a process forked while one was filling). NULL when out of
 * memory (the translation stays unfilled: tried again on its next use).
 */
static __attribute__((noinline)) const xlat *xlat_fill(const xlat *cx, xlat **tmp)
{
    xlat *x = (xlat *)(uintptr_t)cx; /* the lazy cell is this translation's own memory */
    uint8_t expect = XS_EMPTY;
    bool mine = __atomic_compare_exchange_n(&x->state, &expect, XS_FILLING, false, __ATOMIC_ACQUIRE,
                                            __ATOMIC_ACQUIRE);
    if (!mine && expect == XS_READY)
        return x;
    xlat *c = xlat_build(x->rule);
    if (c && !mine) {
        *tmp = c; /* another thread fills it: this call uses its own copy */
        return c;
    }
    if (!c) {
        if (mine)
            __atomic_store_n(&x->state, XS_EMPTY, __ATOMIC_RELEASE);
        return NULL;
    }
    /* the header's fields copied, the tokens and text read where c holds them */
    x->block = c;
    x->toks = c->toks;
    x->text = c->text;
    x->ntoks = c->ntoks;
    x->last_group = c->last_group;
    x->anchored = c->anchored;
    x->sh = c->sh;
    x->fast = c->fast;
    x->fast_from = c->fast_from;
    x->fast_off = c->fast_off;
    x->fast_len = c->fast_len;
    memcpy(x->fast_lit, c->fast_lit, sizeof x->fast_lit);
    __atomic_store_n(&x->state, XS_READY, __ATOMIC_RELEASE);
    return x;
}

/* x ready to read: itself, filled now if it was a lazy translation never used, or a private
 * copy (*tmp) while another thread fills it. NULL when out of memory. */
static inline const xlat *xlat_ready(const xlat *x, xlat **tmp)
{
    *tmp = NULL;
    if (!x || __atomic_load_n(&x->state, __ATOMIC_ACQUIRE) == XS_READY)
        return x;
    return xlat_fill(x, tmp);
}

bool ce_xlat_lazy_filled(const void *p)
{
    const xlat *x = p;
    return x && __atomic_load_n(&x->state, __ATOMIC_ACQUIRE) == XS_READY;
}

static bool emit(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    if (*o + n >= outlen)
        return false;
    memcpy(out + *o, s, n);
    *o += n;
    return true;
}

/* Appends the translation of the match [ms, me) of `in` (n characters; ov and rc as from
 * ce_re_exec) to out at *o. False when it does not fit. */
static bool emit_translation(const xlat *x, const char *in, size_t n, const size_t *ov, int rc,
                             char *out, size_t outlen, size_t *o)
{
    size_t ms = ov[0], me = ov[1];
    for (size_t k = 0; k < x->ntoks; k++) {
        const xtok *t = &x->toks[k];
        const char *s = NULL;
        size_t len = 0;
        switch (t->type) {
        case X_LIT:
            s = x->text + t->off, len = t->len;
            break;
        case X_GROUP:
        case X_LAST: {
            int g = t->type == X_GROUP ? t->group : x->last_group;
            if (g >= 0 && g < rc && ov[2 * g] != SIZE_MAX)
                s = in + ov[2 * g], len = ov[2 * g + 1] - ov[2 * g];
            break;
        }
        case X_WHOLE:
            s = in + ms, len = me - ms;
            break;
        case X_LEFT:
            s = in, len = ms;
            break;
        case X_RIGHT:
            s = in + me, len = n - me;
            break;
        case X_INPUT:
            s = in, len = n;
            break;
        }
        if (len && !emit(out, outlen, o, s, len))
            return false;
    }
    return true;
}

static int rule_apply(const cr_rule *r, const xlat *x, const char *in, char *out, size_t outlen);

int cr_rule_apply(const cr_rule *r, const char *in, char *out, size_t outlen)
{
    xlat *tmp;
    const xlat *x = xlat_ready(r->xlat, &tmp);
    if (r->xlat && !x)
        return CR_ENOMEM;
    int rc = rule_apply(r, x, in, out, outlen);
    ce_xlat_free(tmp);
    return rc;
}

static int rule_apply(const cr_rule *r, const xlat *x, const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in), o = 0, pos = 0, copied = 0;
    int matched = 0;
    if (!x || !outlen)
        return CR_EINVAL;
    /* Regex.Replace: every non-overlapping match, left to right; after an empty match the
     * next attempt starts one character further (.NET's "bump"). */
    while (pos <= n) {
        const size_t *ov;
        int rc = ce_re_exec(ce_rule_re(r), in, n, pos, 0, &ov);
        if (rc < 0)
            return rc == CR_RE_PARTIAL_MATCH ? 0 : rc;
        if (rc == 0)
            break;
        size_t ms = ov[0], me = ov[1];
        matched = 1;
        if (!emit(out, outlen, &o, in + copied, ms - copied) ||
            !emit_translation(x, in, n, ov, rc, out, outlen, &o))
            return CR_ERANGE;
        copied = me;
        if (x->anchored) /* no match can start after the first one */
            break;
        if (me == ms) {
            if (me >= n)
                break;
            pos = me + 1;
        } else {
            pos = me;
        }
    }
    if (!emit(out, outlen, &o, in + copied, n - copied))
        return CR_ERANGE;
    out[o] = 0;
    return matched;
}

bool ce_xlat_is_simple(const void *p)
{
    xlat *tmp;
    const xlat *x = xlat_ready(p, &tmp);
    bool simple = x && x->sh.simple;
    ce_xlat_free(tmp);
    return simple;
}

/* cr_rule_apply for a rule of the simple shape and `in` (n characters, 1 to CR_NUMBER_MAX)
 * made of the alphabet, without PCRE2; -1 when the rule is not of that shape. */
int ce_rule_apply_simple(const cr_rule *r, const char *in, size_t n, char *out, size_t outlen)
{
    size_t o;
    return ce_xlat_apply_simple(r->xlat, in, n, false, out, outlen, &o);
}

static inline __attribute__((always_inline)) int apply_simple(const xlat *x, const char *in,
                                                              size_t n, bool sure, char *out,
                                                              size_t outlen, size_t *outn);

/* ce_xlat_apply_simple of a lazy translation not filled yet. */
static __attribute__((noinline)) int apply_simple_lazy(const xlat *lazy, const char *in, size_t n,
                                                       bool sure, char *out, size_t outlen,
                                                       size_t *outn)
{
    xlat *tmp;
    const xlat *x = xlat_ready(lazy, &tmp);
    /* -1: cr_rule_apply says why */
    int rc = x ? apply_simple(x, in, n, sure, out, outlen, outn) : -1;
    ce_xlat_free(tmp);
    return rc;
}

/* ce_xlat_apply_simple in every case. */
static __attribute__((noinline)) int apply_simple_any(const xlat *x, const char *in, size_t n,
                                                      bool sure, char *out, size_t outlen,
                                                      size_t *outn)
{
    if (x && __atomic_load_n(&x->state, __ATOMIC_ACQUIRE) != XS_READY)
        return apply_simple_lazy(x, in, n, sure, out, outlen, outn);
    return apply_simple(x, in, n, sure, out, outlen, outn);
}

int ce_xlat_apply_simple(const void *xv, const char *in, size_t n, bool sure, char *out,
                         size_t outlen, size_t *outn)
{
    const xlat *x = xv;
    /* The usual case without a call, so without saving registers: the index decided the rule
     * (sure), its fast form's literal is held inline (its 16 bytes copied whole, the tail
     * written over what follows the literal) and the tail is 4 to 16 characters (two
     * overlapping words). apply_simple's result, byte for byte up to the NUL. */
    if (x && sure && outlen > FAST_LIT_INLINE && x->fast && x->fast_len <= FAST_LIT_INLINE &&
        __atomic_load_n(&x->state, __ATOMIC_ACQUIRE) == XS_READY) {
        size_t from = x->fast_from == FAST_NO_TAIL ? n : x->fast_from, t = n - from;
        size_t o = x->fast_len + t;
        if (o < outlen && t >= 4 && t <= 16) {
            memcpy(out, x->fast_lit, FAST_LIT_INLINE);
            char *dst = out + x->fast_len;
            const char *src = in + from;
            if (t >= 8) {
                uint64_t a, b;
                memcpy(&a, src, 8);
                memcpy(&b, src + t - 8, 8);
                memcpy(dst, &a, 8);
                memcpy(dst + t - 8, &b, 8);
            } else {
                uint32_t a, b;
                memcpy(&a, src, 4);
                memcpy(&b, src + t - 4, 4);
                memcpy(dst, &a, 4);
                memcpy(dst + t - 4, &b, 4);
            }
            out[o] = 0;
            *outn = o;
            return 1;
        }
    }
    return apply_simple_any(x, in, n, sure, out, outlen, outn);
}

/* Whether the simple shape matches `in` (n characters of the alphabet). */
static inline bool shape_matches(const shape *sh, const char *in, size_t n)
{
    if (n < sh->plen || memcmp(in, sh->lit, sh->plen) != 0)
        return false;
    size_t tail = n - sh->plen;
    if (tail < sh->tmin || tail > sh->tmax)
        return false;
    for (size_t i = sh->plen; i < n; i++)
        if (!(sym_bit(in[i]) & sh->tmask))
            return false;
    return true;
}

/* memcpy(dst, src, n) for the short copies of a fast form: up to 16 bytes as two words (or
 * halves) that overlap, reading and writing no byte outside [0, n); longer ones by memcpy. */
static inline __attribute__((always_inline)) void copy_short(char *dst, const char *src, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
    } else {
        memcpy(dst, src, n);
    }
}

static inline __attribute__((always_inline)) int apply_simple(const xlat *x, const char *in,
                                                              size_t n, bool sure, char *out,
                                                              size_t outlen, size_t *outn)
{
    if (!x || !outlen || !(x->fast || x->sh.simple)) /* fast: simple, the shape not read */
        return -1;
    const shape *sh = &x->sh;
    if (!sure && !shape_matches(sh, in, n))
        return 0;
    if (x->fast) { /* a literal, then a tail of the number: as emit_translation writes it */
        size_t from = x->fast_from == FAST_NO_TAIL ? n : x->fast_from, o = x->fast_len + n - from;
        if (o >= outlen)
            return CR_ERANGE;
        copy_short(out, x->fast_len <= FAST_LIT_INLINE ? x->fast_lit : x->text + x->fast_off,
                   x->fast_len);
        copy_short(out + x->fast_len, in + from, n - from);
        out[o] = 0;
        *outn = o;
        return 1;
    }
    size_t ov[4] = {0, n, sh->plen, n}, o = 0;
    if (!emit_translation(x, in, n, ov, sh->group ? 2 : 1, out, outlen, &o))
        return CR_ERANGE;
    out[o] = 0;
    *outn = o;
    return 1;
}

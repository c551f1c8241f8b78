/*
 * The compiled route index: digit tries over the prefixes pattern analysis found
 * (pattern.c), and the candidate routes per usage.
 */
#include "route_index.h"
#include "cr_grow.h"

#include <stdlib.h>
#include <string.h>

/* ---- tries ------------------------------------------------------------------------------- */

typedef struct cr_px_entry {
    uint8_t syms[CR_PX_MAX_DEPTH];
    uint8_t len, minlen, maxlen;
    uint16_t tail;
    uint32_t id;
} cr_px_entry;

static int push_entry(cr_px_builder *b, const char *prefix, size_t len, uint8_t mn, uint8_t mx,
                      uint16_t tail, uint32_t id)
{
    if (!CR_GROW(b->entries, b->n, b->cap))
        return CR_ENOMEM;
    cr_px_entry *e = &b->entries[b->n++];
    memset(e->syms, 0, sizeof e->syms);
    for (size_t i = 0; i < len; i++)
        e->syms[i] = (uint8_t)ce_px_symbol((unsigned char)prefix[i]);
    e->len = (uint8_t)len;
    e->minlen = mn;
    e->maxlen = mx;
    e->tail = tail;
    e->id = id;
    return CR_OK;
}

int ce_px_builder_add(cr_px_builder *b, const cr_pattern_info *info, uint32_t id)
{
    if (info->kind == CR_PX_NEVER)
        return CR_OK;
    if (info->kind == CR_PX_ANY)
        return push_entry(b, "", 0, 0, CR_PX_LEN_INF, 0, id);
    for (size_t i = 0; i < info->nprefixes; i++) {
        uint8_t mn = info->minlen, mx = info->maxlen;
        uint16_t tail = info->strict ? info->tail[i] : 0;
        if (tail & CR_PX_EXACT) { /* this prefix's own bounds */
            mn = (uint8_t)(info->plen[i] + info->tmin[i]);
            mx = info->tmax[i] == CR_PX_LEN_INF || info->plen[i] + info->tmax[i] >= CR_PX_LEN_INF
                     ? CR_PX_LEN_INF
                     : (uint8_t)(info->plen[i] + info->tmax[i]);
        }
        if (push_entry(b, info->prefixes[i], info->plen[i], mn, mx, tail, id) != CR_OK)
            return CR_ENOMEM;
    }
    return CR_OK;
}

/* Prefix order (a prefix before its extensions), then id. */
static int entry_cmp(const void *a, const void *b)
{
    const cr_px_entry *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->syms, y->syms, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

typedef struct build {
    cr_px_trie *t;
    size_t capnodes;
    const cr_px_entry *e;
} build;

static int new_nodes(build *B, size_t k, uint32_t *first)
{
    cr_px_trie *t = B->t;
    if (t->nnodes + k > B->capnodes) {
        size_t cap = B->capnodes ? B->capnodes * 2 : 16;
        while (cap < t->nnodes + k)
            cap *= 2;
        cr_px_node *n = realloc(t->nodes, cap * sizeof *n);
        if (!n)
            return CR_ENOMEM;
        t->nodes = n;
        B->capnodes = cap;
    }
    memset(t->nodes + t->nnodes, 0, k * sizeof *t->nodes);
    *first = (uint32_t)t->nnodes;
    t->nnodes += k;
    return CR_OK;
}

/* Fills node `at` from entries [lo, hi), which share their first `depth` symbols. */
static int build_node(build *B, uint32_t at, size_t lo, size_t hi, size_t depth)
{
    cr_px_trie *t = B->t;
    size_t k = lo;
    while (k < hi && B->e[k].len == depth)
        k++;
    t->nodes[at].items_off = (uint32_t)t->nitems;
    t->nodes[at].items_n = (uint32_t)(k - lo);
    for (size_t i = lo; i < k; i++)
        t->items[t->nitems++] =
            (cr_px_item){B->e[i].id, B->e[i].minlen, B->e[i].maxlen, B->e[i].tail};
    uint16_t mask = 0;
    size_t nkids = 0;
    bool leaves = true; /* every child one entry ending there: a leaf with one item */
    for (size_t i = k; i < hi; i++) {
        uint16_t bit = (uint16_t)(1u << B->e[i].syms[depth]);
        if (!(mask & bit))
            nkids++;
        else
            leaves = false; /* a second entry under the same child */
        if (B->e[i].len != depth + 1)
            leaves = false;
        mask |= bit;
    }
    if (!nkids)
        return CR_OK;
    if (leaves) { /* the children are their items, right after the node's own */
        t->nodes[at].mask = (uint16_t)(mask | CR_PX_LEAVES);
        for (size_t i = k; i < hi; i++)
            t->items[t->nitems++] =
                (cr_px_item){B->e[i].id, B->e[i].minlen, B->e[i].maxlen, B->e[i].tail};
        return CR_OK;
    }
    uint32_t first;
    if (new_nodes(B, nkids, &first) != CR_OK)
        return CR_ENOMEM;
    t->nodes[at].mask = mask;
    t->nodes[at].first_child = first;
    size_t i = k;
    uint32_t child = first;
    while (i < hi) {
        size_t j = i;
        uint8_t s = B->e[i].syms[depth];
        while (j < hi && B->e[j].syms[depth] == s)
            j++;
        if (build_node(B, child++, i, j, depth + 1) != CR_OK)
            return CR_ENOMEM;
        i = j;
    }
    return CR_OK;
}

int ce_px_builder_finish(cr_px_builder *b, cr_px_trie *t)
{
    memset(t, 0, sizeof *t);
    int rc = CR_ENOMEM;
    if (b->n)
        qsort(b->entries, b->n, sizeof *b->entries, entry_cmp);
    t->items = malloc((b->n ? b->n : 1) * sizeof *t->items);
    build B = {t, 0, b->entries};
    uint32_t root;
    if (t->items && new_nodes(&B, 1, &root) == CR_OK && build_node(&B, root, 0, b->n, 0) == CR_OK)
        rc = CR_OK;
    free(b->entries);
    memset(b, 0, sizeof *b);
    if (rc != CR_OK) {
        ce_px_trie_free(t);
        return rc;
    }
    /* give back what the doubling over-allocated */
    cr_px_node *n = realloc(t->nodes, t->nnodes * sizeof *n);
    if (n)
        t->nodes = n;
    cr_px_item *it = realloc(t->items, (t->nitems ? t->nitems : 1) * sizeof *it);
    if (it)
        t->items = it;
    return CR_OK;
}

void ce_px_trie_free(cr_px_trie *t)
{
    if (!t->borrowed) {
        free(t->nodes);
        free(t->items);
    }
    memset(t, 0, sizeof *t);
}

size_t ce_px_trie_bytes(const cr_px_trie *t)
{
    return t->nnodes * sizeof *t->nodes + t->nitems * sizeof *t->items;
}

/* Bits set in each byte value. */
#define B2(n) n, n + 1, n + 1, n + 2
#define B4(n) B2(n), B2(n + 1), B2(n + 1), B2(n + 2)
#define B6(n) B4(n), B4(n + 1), B4(n + 1), B4(n + 2)
const uint8_t ce_px_bits_in[256] = {B6(0), B6(1), B6(1), B6(2)};
#undef B2
#undef B4
#undef B6

/* The same in a walk: with `hw`, the popcnt instruction (the walk is then compiled for it,
 * WALK_POPCNT, and runs where the processor has it: have_popcnt), one instruction for the
 * table's five on every step down a trie. */
static inline __attribute__((always_inline)) unsigned walk_popcount(unsigned x, bool hw)
{
    return hw ? (unsigned)__builtin_popcount(x) : ce_px_popcount16(x);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define WALK_POPCNT __attribute__((target("popcnt")))
static inline bool have_popcnt(void)
{
    return __builtin_cpu_supports("popcnt");
}
#else /* elsewhere popcount is the compiler's own (an instruction, or the same table) */
#define WALK_POPCNT
static inline bool have_popcnt(void)
{
    return false;
}
#endif

/* Trie symbol + 1 of each byte, 0 outside the alphabet. */
const uint8_t ce_px_sym_of[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,
    ['7'] = 8, ['8'] = 9, ['9'] = 10, ['+'] = 11, ['*'] = 12, ['#'] = 13,
};

/* Eight characters that are all digits, read as one word: their symbols (the digit values,
 * one a byte in the characters' order) in *sym. False when any of them is not a digit (the
 * caller then reads them one by one). A byte b is a digit when b ^ '0' is 0-9: no bit in its
 * high nibble, and no carry into it when 6 is added; a carry out of a byte comes only from a
 * byte already refused, so it can refuse a good neighbour (read one by one) but never pass a
 * bad one. */
static inline bool eight_digits(const char *s, uint64_t *sym)
{
    uint64_t w;
    memcpy(&w, s, sizeof w);
    uint64_t t = w ^ 0x3030303030303030ull;
    uint64_t bad =
        (t & 0xF0F0F0F0F0F0F0F0ull) | ((t + 0x0606060606060606ull) & 0x1010101010101010ull);
    *sym = t;
    return bad == 0;
}

bool ce_px_key_init(cr_px_key *k, const char *number, size_t n)
{
    k->n = n;
    k->ok = false;
    k->number = number;
    if (n > CR_NUMBER_MAX)
        return false;
    size_t digits_from = 0, i = 0;
    if (ce_px_key_words(k, number, n)) /* the usual normalized number */
        return true;
    /* numbers are mostly digits: eight at a time where they are (their symbols are their
     * values; the last block overlaps the one before, "+1425" + "5550100" reads as '+' and two
     * blocks), a character that is not a digit, and the start of a number shorter than 8, one
     * by one; the leading '+' of an E.164 number is taken before the blocks */
    if (n && number[0] == '+') {
        k->sym[0] = (uint8_t)(ce_px_sym_of['+'] - 1);
        digits_from = i = 1;
    }
    while (i < n) {
        size_t at = i + 8 <= n ? i : n >= 8 ? n - 8 : SIZE_MAX;
        uint64_t sym;
        if (at != SIZE_MAX && eight_digits(number + at, &sym)) {
            memcpy(k->sym + at, &sym, sizeof sym);
            i = at + 8;
            continue;
        }
        unsigned s = ce_px_sym_of[(unsigned char)number[i]];
        if (!s)
            return false;
        k->sym[i] = (uint8_t)(s - 1);
        if (s > 10) /* + * # */
            digits_from = i + 1;
        i++;
    }
    k->sym[n] = CR_PX_SYM_END;
    k->digits_from = (uint8_t)digits_from;
    k->ok = true;
    return true;
}

/* Walks k down nodes[], collecting the item lists met (items of `stride` bytes, each starting
 * with a cr_px_item): the one walk of plain and merged tries. */
/* Records node's item list as the iterator's next run (met at `depth`); the runs counted. With
 * `pf`, its first item is asked for (a merged walk's: read by the first next). */
static inline __attribute__((always_inline)) size_t px_run(cr_px_iter *it, size_t nruns,
                                                           const char *items, size_t stride,
                                                           const cr_px_node *node, size_t depth,
                                                           bool pf)
{
    it->run[nruns] = (const cr_px_item *)(items + (size_t)node->items_off * stride);
    if (pf)
        __builtin_prefetch(it->run[nruns]);
    it->end[nruns] =
        (const cr_px_item *)(items + ((size_t)node->items_off + node->items_n) * stride);
    it->depth[nruns] = (uint8_t)depth;
    return nruns + 1;
}

/* The same for the child'th leaf of a CR_PX_LEAVES node: its one item, held after the node's own
 * (format 8), at depth. */
static inline __attribute__((always_inline)) size_t
px_leaf_run(cr_px_iter *it, size_t nruns, const char *items, size_t stride, const cr_px_node *node,
            unsigned child, size_t depth, bool pf)
{
    const char *leaf = items + ((size_t)node->items_off + node->items_n + child) * stride;
    if (pf)
        __builtin_prefetch(leaf);
    it->run[nruns] = (const cr_px_item *)leaf;
    it->end[nruns] = (const cr_px_item *)(leaf + stride);
    it->depth[nruns] = (uint8_t)depth;
    return nruns + 1;
}

/* The walk: with dense leaf blocks (a merged trie's dense[ndense] for nodes dense_node..,
 * route_index.h), the slot of the next node's child and leaf for the number's next two digits is
 * asked for with the node, and taken as the leaf's run when the node's dense_kids has the
 * child's bit, instead of reading the child (the same bytes: the child has no items of its own,
 * and the slot is a copy of its leaf's item, or an item that matches nothing where it has no such
 * leaf). The slot is not read here: the walk waits for the nodes only. Plain tries pass none
 * (ndense 0). */
static inline __attribute__((always_inline)) bool
px_walk(const cr_px_node *nodes, const char *items, size_t stride, const cr_px_key *k,
        cr_px_iter *it, const cr_px_dblock *dense, size_t ndense, uint32_t dense_node,
        const uint32_t *skip, bool hw, bool pf)
{
    if (!k->ok)
        return false;
    size_t n = k->n, nruns = 0;
    it->len = n;
    it->number = k->number;
    it->digits_from = k->digits_from;
    it->match = false;
    it->sorted = false;
    const cr_px_node *node = nodes;
    /* when node has a block: its child for k->sym[depth] and that child's leaf for
     * k->sym[depth + 1] */
    const cr_px_dslot *slot = NULL;
    size_t depth = 0;
    uint32_t two; /* the node at depth 2, when the skip table has it (k->sym[n] ends the key) */
    if (skip && n >= 1 && (two = skip[k->sym[0] * CR_PX_SKIP_SYMS + k->sym[1]]) != 0) {
        if (node->items_n)
            nruns = px_run(it, nruns, items, stride, node, 0, pf);
        depth = 2;
        /* the slot the step from depth 1 would have asked for */
        if (two - dense_node < ndense && 3 < n && k->sym[2] < 10 && k->sym[3] < 10) {
            slot = &dense[two - dense_node].slot[k->sym[2] * 10u + k->sym[3]];
            __builtin_prefetch(slot);
        }
        node = nodes + two;
    }
    for (;; depth++) {
        if (node->items_n)
            nruns = px_run(it, nruns, items, stride, node, depth, pf);
        /* at depth n, CR_PX_SYM_END: no node has that child */
        unsigned bit = 1u << k->sym[depth], mask = node->mask;
        if (!(mask & bit))
            break;
        unsigned child = walk_popcount(mask & (bit - 1u), hw);
        if (mask & CR_PX_LEAVES) { /* the child is one item, and has no children */
            nruns = px_leaf_run(it, nruns, items, stride, node, child, depth + 1, pf);
            break;
        }
        if (slot && (node->dense_kids & bit)) { /* the child's leaf (asked for already) */
            it->run[nruns] = &slot->item.px;
            it->end[nruns] = (const cr_px_item *)((const char *)slot + stride);
            it->depth[nruns++] = (uint8_t)(depth + 2);
            break;
        }
        size_t next = (uint32_t)(node->first_child + child); /* 32 bits: no widening */
        slot = NULL;
        if (next - dense_node < ndense && depth + 2 < n && k->sym[depth + 1] < 10 &&
            k->sym[depth + 2] < 10) {
            slot = &dense[next - dense_node].slot[k->sym[depth + 1] * 10u + k->sym[depth + 2]];
            __builtin_prefetch(slot); /* with the node, not after it */
        }
        node = nodes + next;
    }
    it->nruns = nruns;
    return true;
}

static WALK_POPCNT bool trie_walk_popcnt(const cr_px_trie *t, const cr_px_key *k, cr_px_iter *it)
{
    return px_walk(t->nodes, (const char *)t->items, sizeof *t->items, k, it, NULL, 0, 0, NULL,
                   true, false);
}

bool ce_px_trie_walk(const cr_px_trie *t, const cr_px_key *k, cr_px_iter *it)
{
    if (t->nnodes == 0)
        return false; /* a usage trie a plan image left out: the caller scans the routes */
    if (have_popcnt())
        return trie_walk_popcnt(t, k, it);
    return px_walk(t->nodes, (const char *)t->items, sizeof *t->items, k, it, NULL, 0, 0, NULL,
                   false, false);
}

bool ce_px_tail_holds_slow(const char *number, size_t d, size_t n, uint16_t tail)
{
    for (size_t i = d; i < n; i++)
        if (!(tail & (1u << (ce_px_sym_of[(unsigned char)number[i]] - 1))))
            return false;
    return true;
}

/* number[i..n) is made of the alphabet; *digits_from moved past its last symbol that is not
 * a digit. Eight digits at a time where they are, as ce_px_key_init reads them: fewer than eight
 * left, the number's last eight (the ones before i already read) answer for them at once. */
bool ce_px_rest(const char *number, size_t i, size_t n, size_t *digits_from)
{
    while (i < n) {
        uint64_t sym;
        if (i + 8 <= n) {
            if (eight_digits(number + i, &sym)) {
                i += 8;
                continue;
            }
        } else if (n >= 8 && eight_digits(number + n - 8, &sym)) {
            return true; /* number[i..n) is digits: digits_from stays */
        }
        unsigned s = ce_px_sym_of[(unsigned char)number[i]];
        if (!s)
            return false;
        if (s > 10) /* + * # */
            *digits_from = i + 1;
        i++;
    }
    return true;
}

/* (A rule trie is a few nodes deep: popcnt would not pay for the call that picks it.) */
bool ce_px_trie_begin(const cr_px_trie *t, const char *number, size_t n, cr_px_iter *it)
{
    if (__builtin_expect(t->nnodes == 0 || n > CR_NUMBER_MAX, 0))
        return false;
    return ce_px_trie_begin_in_line(t, NULL, number, n, it, false);
}

uint32_t ce_px_next(cr_px_iter *it)
{
    const cr_px_item *item = ce_px_next_item(it, sizeof(cr_px_item));
    return item ? item->id : UINT32_MAX;
}

/* ---- routes per usage ------------------------------------------------------------------------ */

/* Up to this many routes every route pattern compiled up front is JIT-compiled; beyond, only
 * the ones the index cannot pre-select (they run on every decision): the others run a few
 * times per decision at most, and JIT code would cost 1-3 KB and ~30 us of load time each.
 * Patterns the index decides exactly are not compiled at all unless a naive scan asks. */

struct cr_route_index {
    _Atomic bool naive;
    _Atomic bool no_walks; /* ce_route_index_use_walks(cfg, false) */
    size_t nusages;
    cr_px_trie *tries; /* [nusages] */
    cr_rule_index **rules;
    size_t nrules;
    cr_index_stats stats;
    uint8_t *kinds; /* [nroutes]: CR_RK_* of each route, for plan images */
    bool kinds_borrowed;
    cr_px_walk *walks; /* [nwalks]: the merged tries (slots and tries borrowed when adopted) */
    size_t nwalks;
    const uint32_t *policy_walk; /* [npolicies]: each policy's walk, UINT32_MAX: per usage */
    bool walks_borrowed;
    cr_route_dfa *dfas; /* [dfa_mask + 1]: the broad routes' automata (broad_routes), or NULL */
    uint32_t dfa_mask;
};

static void dfas_free(cr_route_index *ix)
{
    for (uint32_t i = 0; ix->dfas && i <= ix->dfa_mask; i++)
        free((void *)(uintptr_t)ix->dfas[i].dfa);
    free(ix->dfas);
    ix->dfas = NULL;
}

static void walks_free(cr_route_index *ix)
{
    for (size_t w = 0; w < ix->nwalks && !ix->walks_borrowed; w++) {
        cr_table_free(ix->walks[w].nodes, ix->walks[w].nnodes * sizeof *ix->walks[w].nodes);
        cr_table_free(ix->walks[w].items, ix->walks[w].nitems * sizeof *ix->walks[w].items);
        cr_table_free(ix->walks[w].dense, ix->walks[w].ndense * sizeof *ix->walks[w].dense);
    }
    free(ix->walks);
    if (!ix->walks_borrowed)
        free((void *)(uintptr_t)ix->policy_walk);
    ix->walks = NULL;
    ix->policy_walk = NULL;
    ix->nwalks = 0;
}

void ce_route_index_free(cr_route_index *ix)
{
    if (!ix)
        return;
    for (size_t u = 0; u < ix->nusages; u++)
        ce_px_trie_free(&ix->tries[u]);
    free(ix->tries);
    for (size_t i = 0; i < ix->nrules; i++)
        ce_rule_index_free(ix->rules[i]);
    free(ix->rules);
    if (!ix->kinds_borrowed)
        free(ix->kinds);
    walks_free(ix);
    dfas_free(ix);
    free(ix);
}

struct cr_route_analysis {
    cr_pattern_analyser *an;
    cr_pattern_info info;
    cr_px_builder all; /* every route's entries, by route */
    uint32_t *first;   /* [nroutes]: first entry of the route */
    uint8_t *kind;     /* [nroutes]: cr_px_kind + 1, 0 = not analysed */
    size_t nroutes;
};

cr_route_analysis *ce_route_analysis_new(size_t nroutes)
{
    cr_route_analysis *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->nroutes = nroutes;
    a->an = ce_pattern_analyser_new();
    a->first = calloc(nroutes + 1, sizeof *a->first);
    a->kind = calloc(nroutes + 1, 1);
    if (!a->an || !a->first || !a->kind) {
        ce_route_analysis_free(a);
        return NULL;
    }
    return a;
}

void ce_route_analysis_free(cr_route_analysis *a)
{
    if (!a)
        return;
    ce_pattern_analyser_free(a->an);
    free(a->all.entries);
    free(a->first);
    free(a->kind);
    free(a);
}

int ce_route_analysis_add(cr_route_analysis *a, const cr_config *cfg, size_t r)
{
    if (r >= a->nroutes)
        return 0;
    ce_pattern_analyse_with(a->an, cfg->routes[r].pattern, &a->info);
    a->first[r] = (uint32_t)a->all.n;
    if (ce_px_builder_add(&a->all, &a->info, (uint32_t)r) != CR_OK)
        return CR_ENOMEM;
    a->kind[r] = (uint8_t)(a->info.kind + 1);
    return ce_pattern_exact(&a->info) ? 1 : 0;
}

/* An empty index with room for cfg's usages and profiles, or NULL. */
static cr_route_index *index_new(const cr_config *cfg)
{
    cr_route_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NULL;
    ix->tries = calloc(cfg->nusages ? cfg->nusages : 1, sizeof *ix->tries);
    ix->rules = calloc(cfg->nprofiles ? cfg->nprofiles : 1, sizeof *ix->rules);
    if (!ix->tries || !ix->rules) {
        ce_route_index_free(ix);
        return NULL;
    }
    return ix;
}

/* Out of memory half-way: nothing is left half-built. */
static int index_fail(cr_config *cfg, cr_route_index *ix)
{
    cfg->route_dfa = NULL;
    cfg->route_dfa_mask = 0;
    cfg->route_dfa1_route = 0;
    cfg->route_dfa1 = NULL;
    for (size_t p = 0; p < cfg->nprofiles; p++)
        cfg->profiles[p].rule_index = NULL;
    ce_route_index_free(ix);
    return CR_ENOMEM;
}

/* ---- merged walks ------------------------------------------------------------------------ */

static bool same_list(const cr_namelist *x, const cr_namelist *y)
{
    return x->count == y->count &&
           (!x->count || !memcmp(x->idx, y->idx, x->count * sizeof *x->idx));
}

static size_t list_hash(const cr_namelist *l)
{
    uint64_t h = 1469598103934665603u ^ l->count;
    for (size_t k = 0; k < l->count; k++)
        h = (h ^ l->idx[k]) * 1099511628211u;
    return (size_t)(h ^ h >> 29);
}

/* Candidate (route r in rank `rank`) inline in merged item `it`: its first gateways when it
 * has few. */
static void set_cand(const cr_config *cfg, size_t r, size_t rank, cr_px_witem *it)
{
    const cr_namelist *g = &cfg->routes[r].gateways;
    it->route = (uint32_t)r;
    it->rank = (uint16_t)rank;
    it->ngw = CR_SLOT_GW_ROUTE;
    memset(it->gw, 0, sizeof it->gw);
    if (g->count <= CR_SLOT_GW_INLINE) {
        it->ngw = (uint16_t)g->count;
        for (size_t k = 0; k < g->count; k++)
            it->gw[k] = g->idx[k];
    }
}

/* The merged trie t (items' ids: candidate seqs) with each item's candidate inline, into w;
 * cands[seq] holds each candidate's inline data. Frees t. CR_OK or CR_ENOMEM. */
static int inline_cands(cr_px_trie *t, const cr_px_witem *cands, cr_px_walk *w)
{
    /* a decision walks these at random: large ones on huge pages (cr_table_alloc) */
    size_t nbytes = t->nnodes * sizeof *t->nodes;
    cr_px_witem *items = cr_table_alloc(t->nitems * sizeof *items);
    cr_px_node *nodes = nbytes >= CR_TABLE_HUGE ? cr_table_alloc(nbytes) : t->nodes;
    if (!items || (!nodes && t->nnodes)) {
        cr_table_free(items, t->nitems * sizeof *items);
        ce_px_trie_free(t);
        return CR_ENOMEM;
    }
    for (size_t k = 0; k < t->nitems; k++) {
        items[k] = cands[t->items[k].id];
        items[k].px = t->items[k];
    }
    if (nodes != t->nodes) {
        memcpy(nodes, t->nodes, nbytes);
        free(t->nodes);
    }
    w->nodes = nodes;
    w->nnodes = t->nnodes;
    w->items = items;
    w->nitems = t->nitems;
    free(t->items);
    return CR_OK;
}

static _Atomic size_t dense_min = CR_WALK_DENSE_MIN;

size_t ce_route_index_dense_min(size_t bytes)
{
    return atomic_exchange(&dense_min, bytes);
}

/* w's nodes in breadth-first order (children still contiguous, in symbol order), with the depth
 * of each into depth[nnodes]. False, w unchanged, when out of memory. */
static bool walk_bfs(cr_px_walk *w, uint8_t *depth)
{
    size_t n = w->nnodes, bytes = n * sizeof *w->nodes;
    uint32_t *order = malloc(n * sizeof *order); /* new index -> old */
    cr_px_node *nodes = cr_table_alloc(bytes);
    if (!order || !nodes) {
        free(order);
        cr_table_free(nodes, bytes);
        return false;
    }
    size_t tail = 1, at = 0;
    order[0] = 0;
    depth[0] = 0;
    for (; at < tail; at++) {
        cr_px_node x = w->nodes[order[at]];
        unsigned kids = ce_px_popcount16(x.mask & CR_PX_SYMS);
        if (!(x.mask & CR_PX_LEAVES) && kids) {
            if (tail + kids > n)
                break;
            x.first_child = (uint32_t)tail;
            for (unsigned c = 0; c < kids; c++) {
                order[tail] = w->nodes[order[at]].first_child + c;
                depth[tail++] = (uint8_t)(depth[at] + 1);
            }
        }
        nodes[at] = x;
    }
    free(order);
    if (at != n || tail != n) { /* not a tree from the root: never built so; keep the order */
        cr_table_free(nodes, bytes);
        return false;
    }
    cr_table_free(w->nodes, bytes);
    w->nodes = nodes;
    return true;
}

uint16_t ce_px_dense_kids(const cr_px_node *nodes, const cr_px_node *x)
{
    uint16_t kids = 0;
    if (x->mask & CR_PX_LEAVES)
        return 0;
    for (unsigned a = 0, c = 0; a < 10; a++) {
        if (!(x->mask & (1u << a)))
            continue;
        const cr_px_node *k = &nodes[x->first_child + c++];
        if ((k->mask & CR_PX_LEAVES) && !k->items_n)
            kids |= (uint16_t)(1u << a);
    }
    return kids;
}

void ce_px_dense_slot(const cr_px_node *nodes, const cr_px_witem *items, const cr_px_node *x,
                      unsigned s, cr_px_dslot *out)
{
    memset(out, 0, sizeof *out);
    unsigned a = s / 10u, b = s % 10u, bbit = 1u << b;
    if (!(ce_px_dense_kids(nodes, x) & (1u << a)))
        return;
    const cr_px_node *c = &nodes[x->first_child + ce_px_popcount16(x->mask & ((1u << a) - 1u))];
    if (c->mask & bbit)
        out->item = items[c->items_off + c->items_n + ce_px_popcount16(c->mask & (bbit - 1u))];
}

/* Dense leaf blocks (route_index.h) for the parents of the depth of w whose nodes most often hold
 * their leaves as items: w's nodes put in breadth-first order, then one block per node of the
 * depth above from the first such parent to the last. Out of memory, or when the blocks would take
 * more than CR_WALK_DENSE_FACTOR times the items' bytes (and the bound is not 0), w is left
 * without blocks. */
static void walk_dense(cr_px_walk *w, size_t min)
{
    uint8_t *depth = malloc(w->nnodes ? w->nnodes : 1);
    if (!depth || w->nnodes < 2 || !walk_bfs(w, depth)) {
        free(depth);
        return;
    }
    size_t holders[256] = {0}, best = 0;
    for (size_t i = 0; i < w->nnodes; i++)
        if (w->nodes[i].mask & CR_PX_LEAVES)
            holders[depth[i]]++;
    for (size_t d = 1; d < 256; d++)
        if (holders[d] > holders[best])
            best = d;
    /* the parents: the walk asks for a node's slot at the node's parent, so not the root */
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 1; i < w->nnodes && best >= 2; i++)
        if (depth[i] == best - 1 && ce_px_dense_kids(w->nodes, &w->nodes[i])) {
            lo = lo < i ? lo : i;
            hi = i + 1;
        }
    free(depth);
    if (lo == SIZE_MAX)
        return;
    size_t bytes = (hi - lo) * sizeof(cr_px_dblock);
    if (min && bytes / CR_WALK_DENSE_FACTOR > w->nitems * sizeof *w->items)
        return;
    cr_px_dblock *dense = cr_table_alloc(bytes); /* zero */
    if (!dense)
        return;
    for (size_t b = 0; b < hi - lo; b++)
        for (unsigned s = 0; s < CR_PX_DENSE_SLOTS; s++)
            ce_px_dense_slot(w->nodes, w->items, &w->nodes[lo + b], s, &dense[b].slot[s]);
    for (size_t b = 0; b < hi - lo; b++)
        w->nodes[lo + b].dense_kids = ce_px_dense_kids(w->nodes, &w->nodes[lo + b]);
    w->dense = dense;
    w->ndense = hi - lo;
    w->dense_node = (uint32_t)lo;
}

/* Builds the merged trie of usage list l into w: every route of every usage, as candidate seq
 * (items' ids), with a copy of its analysed entries. CR_OK or CR_ENOMEM (w left empty). */
static int build_walk(const cr_config *cfg, const cr_route_analysis *a, const uint32_t *next,
                      const cr_namelist *l, cr_px_walk *w)
{
    size_t ncands = 0, total = 0;
    for (size_t j = 0; j < l->count; j++) {
        const cr_usage_routes *ur = &cfg->usage_routes[l->idx[j]];
        ncands += ur->count;
        for (size_t k = 0; k < ur->count; k++) {
            size_t r = ur->routes[k];
            total += a->kind[r] ? next[r + 1] - a->first[r] : 0;
        }
    }
    cr_px_witem *cands = malloc((ncands ? ncands : 1) * sizeof *cands);
    cr_px_builder b = {malloc((total ? total : 1) * sizeof *b.entries), 0, total ? total : 1};
    if (!cands || !b.entries) {
        free(cands);
        free(b.entries);
        return CR_ENOMEM;
    }
    uint32_t seq = 0;
    for (size_t j = 0; j < l->count; j++) {
        const cr_usage_routes *ur = &cfg->usage_routes[l->idx[j]];
        for (size_t k = 0; k < ur->count; k++, seq++) {
            size_t r = ur->routes[k];
            set_cand(cfg, r, j, &cands[seq]);
            size_t n = a->kind[r] ? next[r + 1] - a->first[r] : 0;
            for (size_t e = 0; e < n; e++) {
                b.entries[b.n] = a->all.entries[a->first[r] + e];
                b.entries[b.n++].id = seq;
            }
        }
    }
    cr_px_trie t;
    int rc = ce_px_builder_finish(&b, &t);
    if (rc == CR_OK)
        rc = inline_cands(&t, cands, w);
    free(cands);
    if (rc != CR_OK)
        return rc;
    w->ncands = ncands;
    size_t min = atomic_load(&dense_min);
    if (w->nitems * sizeof *w->items >= min)
        walk_dense(w, min); /* an optimisation: out of memory, the walk has no blocks */
    return CR_OK;
}

/* What list l's merged trie would hold (items and slots), or SIZE_MAX when it cannot be built
 * (more ranks or candidates than a slot or an item can name). */
static size_t walk_size(const cr_config *cfg, const cr_route_index *ix, const cr_namelist *l)
{
    if (l->count > UINT16_MAX)
        return SIZE_MAX;
    size_t n = 0, slots = 0;
    for (size_t j = 0; j < l->count; j++) {
        n += ix->tries[l->idx[j]].nitems + cfg->usage_routes[l->idx[j]].count;
        slots += cfg->usage_routes[l->idx[j]].count;
    }
    return slots >= UINT32_MAX ? SIZE_MAX : n;
}

/*
 * One merged trie per distinct usage list of the policies, in the order of their first
 * policy, while their items and slots stay within CR_WALK_FACTOR times those of the usage
 * tries (+ CR_WALK_SLACK): the policies of the lists past that keep the walk per usage.
 */
/* Fills skip[] (cr_px_walk's, route_index.h) from nodes[nnodes]: every index read is checked
 * against nnodes, a plan image's nodes included. */
void ce_px_skip_fill(const cr_px_node *nodes, size_t nnodes, uint32_t *skip)
{
    memset(skip, 0, CR_PX_SKIP_SYMS * CR_PX_SKIP_SYMS * sizeof *skip);
    const cr_px_node *root = nodes;
    if (!nnodes || (root->mask & CR_PX_LEAVES))
        return;
    for (unsigned a = 0; a < CR_PX_SYM_END; a++) {
        unsigned bit = 1u << a;
        if (!(root->mask & bit))
            continue;
        size_t m = (size_t)root->first_child + ce_px_popcount16(root->mask & (bit - 1u));
        if (m >= nnodes)
            continue;
        const cr_px_node *mid = nodes + m;
        if (mid->items_n || (mid->mask & CR_PX_LEAVES))
            continue;
        for (unsigned b = 0; b < CR_PX_SYM_END; b++) {
            unsigned bb = 1u << b;
            if (!(mid->mask & bb) || (mid->dense_kids & bb))
                continue;
            size_t x = (size_t)mid->first_child + ce_px_popcount16(mid->mask & (bb - 1u));
            if (x && x < nnodes)
                skip[a * CR_PX_SKIP_SYMS + b] = (uint32_t)x;
        }
    }
}

static void walk_skip(cr_px_walk *w)
{
    ce_px_skip_fill(w->nodes, w->nnodes, w->skip);
}

static int build_walks(const cr_config *cfg, const cr_route_analysis *a, const uint32_t *next,
                       cr_route_index *ix)
{
    size_t np = cfg->npolicies, cap = 2;
    while (cap < 2 * np)
        cap *= 2;
    uint32_t *pw = malloc((np ? np : 1) * sizeof *pw), *first = calloc(cap, sizeof *first);
    ix->walks = calloc(np ? np : 1, sizeof *ix->walks);
    ix->policy_walk = pw;
    if (!pw || !first || !ix->walks) {
        free(first);
        return CR_ENOMEM;
    }
    size_t base = 0, used = 0;
    for (size_t u = 0; u < cfg->nusages; u++)
        base += ix->tries[u].nitems + cfg->usage_routes[u].count;
    size_t budget = CR_WALK_FACTOR * base + CR_WALK_SLACK;
    for (size_t p = 0; p < np; p++) {
        const cr_namelist *l = &cfg->policies[p].usages;
        size_t h = list_hash(l) & (cap - 1);
        while (first[h] && !same_list(&cfg->policies[first[h] - 1].usages, l))
            h = (h + 1) & (cap - 1);
        if (first[h]) { /* an earlier policy has the same list */
            pw[p] = pw[first[h] - 1];
            continue;
        }
        first[h] = (uint32_t)p + 1;
        pw[p] = UINT32_MAX;
        size_t need = walk_size(cfg, ix, l);
        if (!l->count || need == SIZE_MAX || need > budget - used)
            continue;
        cr_px_walk *w = &ix->walks[ix->nwalks];
        if (build_walk(cfg, a, next, l, w) != CR_OK) {
            free(first);
            return CR_ENOMEM;
        }
        w->policy = (uint32_t)p;
        walk_skip(w);
        used += need;
        pw[p] = (uint32_t)ix->nwalks++;
        ix->stats.bytes += w->nnodes * sizeof *w->nodes + w->nitems * sizeof *w->items +
                           w->ndense * sizeof *w->dense;
    }
    free(first);
    return CR_OK;
}

/* The merged walk x for k (ce_policy_walk_begin), with the popcnt instruction or not (hw). */
static inline __attribute__((always_inline)) bool
merged_walk(const cr_px_walk *x, const cr_px_key *k, cr_policy_iter *it, bool hw)
{
    const char *items = (const char *)x->items;
    /* the runs' first items asked for as they are met (read by the first next) */
    return x->ndense ? px_walk(x->nodes, items, sizeof *x->items, k, &it->px, x->dense, x->ndense,
                               x->dense_node, x->skip, hw, true)
                     : px_walk(x->nodes, items, sizeof *x->items, k, &it->px, NULL, 0, 0, x->skip,
                               hw, true);
}

/* merged_walk without the popcnt instruction, out of line: ce_policy_walk_begin is compiled for
 * popcnt and takes merged_walk in line (one call fewer a decision), where the processor has it. */
static __attribute__((noinline)) bool merged_walk_table(const cr_px_walk *x, const cr_px_key *k,
                                                        cr_policy_iter *it)
{
    return merged_walk(x, k, it, false);
}

WALK_POPCNT bool ce_policy_walk_begin(const cr_config *cfg, size_t p, const cr_px_key *k,
                                      cr_policy_iter *it)
{
    const cr_route_index *ix = cfg->route_index;
    if (!ix || !ix->policy_walk || p >= cfg->npolicies ||
        atomic_load_explicit(&ix->naive, memory_order_relaxed) ||
        atomic_load_explicit(&ix->no_walks, memory_order_relaxed))
        return false;
    uint32_t w = ix->policy_walk[p];
    if (w >= ix->nwalks)
        return false;
    if (!have_popcnt())
        return merged_walk_table(&ix->walks[w], k, it);
    return merged_walk(&ix->walks[w], k, it, true);
}

void ce_route_index_use_walks(cr_config *cfg, bool on)
{
    if (cfg && cfg->route_index)
        atomic_store(&cfg->route_index->no_walks, !on);
}

const cr_px_walk *ce_route_index_walks(const cr_config *cfg, size_t *n)
{
    const cr_route_index *ix = cfg->route_index;
    *n = ix ? ix->nwalks : 0;
    return ix ? ix->walks : NULL;
}

const uint32_t *ce_route_index_policy_walks(const cr_config *cfg)
{
    const cr_route_index *ix = cfg->route_index;
    return ix ? ix->policy_walk : NULL;
}

/*
 * Routes that are candidates for most numbers run on most decisions: a pattern the index does
 * not decide (it is compiled) met at a trie node of depth CR_JIT_BROAD_DEPTH or less, in a
 * usage trie or a merged walk, is "broad". Its pattern is JIT-compiled whatever the plan's size
 * (beyond CR_JIT_ALL_ROUTES routes only the unanalysable ones were: the planning guide's
 * Universal Route, `^\+?(?!(1900|1411))(\d*)$`, has the prefix "" and ran through PCRE2's
 * interpreter on most decisions of a 400,000-route plan, ~1,700 instructions instead of ~430),
 * and when the analysis reads it exactly it gets an automaton (ce_pattern_dfa_new), which a
 * merged walk runs instead of PCRE2 (~60 instructions for a 12-digit number instead of ~390
 * through the JIT code). Both are optimisations: out of memory, nothing more is built.
 */
#define CR_JIT_BROAD_DEPTH 2u

/* The routes met at a node of depth CR_JIT_BROAD_DEPTH or less that the index does not decide,
 * appended to *out (duplicates kept: broad_routes sorts them out). False when out of memory. */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} broad_set;

static bool broad_node_items(const cr_config *cfg, const cr_route_index *ix,
                             const cr_px_node *nodes, size_t nnodes, const char *items,
                             size_t stride, size_t route_off, size_t at, unsigned depth,
                             broad_set *out)
{
    const cr_px_node *n = &nodes[at];
    unsigned nkids = ce_px_popcount16(n->mask & CR_PX_SYMS);
    bool leaves = (n->mask & CR_PX_LEAVES) && depth < CR_JIT_BROAD_DEPTH;
    /* the node's own items, and its leaves' (its children's, one item each) when it has them */
    for (size_t k = 0; k < n->items_n + (leaves ? nkids : 0); k++) {
        const char *item = items + ((size_t)n->items_off + k) * stride;
        uint32_t r;
        memcpy(&r, item + route_off, sizeof r);
        /* the index does not decide it: its pattern runs in an indexed walk */
        if (r >= cfg->nroutes || !ix->kinds || (ix->kinds[r] & CR_RK_EXACT) || !ix->kinds[r])
            continue;
        if (!CR_GROW(out->v, out->n, out->cap))
            return false;
        out->v[out->n++] = r;
    }
    if (depth == CR_JIT_BROAD_DEPTH || (n->mask & CR_PX_LEAVES))
        return true;
    for (unsigned c = 0; c < nkids && (size_t)n->first_child + c < nnodes; c++)
        if (!broad_node_items(cfg, ix, nodes, nnodes, items, stride, route_off, n->first_child + c,
                              depth + 1, out))
            return false;
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The automata of the broad routes `broad[0..n)` into ix's table and cfg's view of it. */
static void broad_dfas(cr_config *cfg, cr_route_index *ix, const uint32_t *broad, size_t n)
{
    dfas_free(ix);
    cfg->route_dfa = NULL;
    cfg->route_dfa_mask = 0;
    cfg->route_dfa1_route = 0;
    cfg->route_dfa1 = NULL;
    if (!n)
        return;
    uint32_t size = 2;
    while (size < 2 * n)
        size *= 2;
    cr_pattern_analyser *an = ce_pattern_analyser_new();
    cr_route_dfa *t = malloc(size * sizeof *t);
    if (!an || !t) {
        ce_pattern_analyser_free(an);
        free(t);
        return;
    }
    for (uint32_t i = 0; i < size; i++)
        t[i] = (cr_route_dfa){UINT32_MAX, 0, NULL};
    size_t made = 0;
    for (size_t k = 0; k < n; k++) {
        cr_px_dfa *d = ce_pattern_dfa_new(an, ce_route(cfg, broad[k])->pattern);
        if (!d)
            continue;
        uint32_t i = ce_route_dfa_slot(broad[k], size - 1);
        while (t[i].route != UINT32_MAX)
            i = (i + 1) & (size - 1);
        t[i] = (cr_route_dfa){broad[k], 0, d};
        made++;
    }
    ce_pattern_analyser_free(an);
    if (!made) {
        free(t);
        return;
    }
    ix->dfas = t;
    ix->dfa_mask = size - 1;
    for (uint32_t i = 0; i < size; i++)
        if (t[i].dfa) { /* the table's first, answered without it */
            cfg->route_dfa1_route = t[i].route;
            cfg->route_dfa1 = t[i].dfa;
            break;
        }
    if (made > 1) {
        cfg->route_dfa = t;
        cfg->route_dfa_mask = size - 1;
    }
}

/* Only the nodes near the tries' roots are read (no pass over every route: a worker adopting a
 * 400,000-route image spent 41 % of its read on two such passes and their zeroed array). */
static void broad_routes(cr_config *cfg, cr_route_index *ix)
{
    broad_set set = {0};
    bool ok = true;
    for (size_t u = 0; ok && u < ix->nusages; u++) {
        const cr_px_trie *t = &ix->tries[u];
        if (t->nnodes)
            ok = broad_node_items(cfg, ix, t->nodes, t->nnodes, (const char *)t->items,
                                  sizeof *t->items, offsetof(cr_px_item, id), 0, 0, &set);
    }
    for (size_t w = 0; ok && w < ix->nwalks; w++) {
        const cr_px_walk *x = &ix->walks[w];
        if (x->nnodes)
            ok = broad_node_items(cfg, ix, x->nodes, x->nnodes, (const char *)x->items,
                                  sizeof *x->items, offsetof(cr_px_witem, route), 0, 0, &set);
    }
    size_t n = 0;
    if (ok && set.n) { /* in route order, each once */
        qsort(set.v, set.n, sizeof *set.v, cmp_u32);
        for (size_t k = 0; k < set.n; k++)
            if (!n || set.v[n - 1] != set.v[k])
                set.v[n++] = set.v[k];
    }
    for (size_t k = 0; cfg->nroutes > CR_JIT_ALL_ROUTES && k < n; k++) {
        /* below, every compiled pattern has JIT code */
        const void *re =
            ce_route_re(ce_route(cfg, set.v[k])); /* an image's routes compile lazily */
        if (re)
            ce_re_jit((void *)(uintptr_t)re);
    }
    broad_dfas(cfg, ix, set.v, n); /* out of memory: none */
    free(set.v);
}

int ce_route_index_adopt_walks(cr_config *cfg, const cr_px_walk *walks, size_t nwalks,
                               const uint32_t *policy_walk)
{
    cr_route_index *ix = cfg->route_index;
    if (!ix)
        return CR_ENOMEM;
    ix->walks = malloc((nwalks ? nwalks : 1) * sizeof *ix->walks);
    if (!ix->walks)
        return CR_ENOMEM;
    for (size_t w = 0; w < nwalks; w++) {
        ix->walks[w] = walks[w];
        ix->walks[w].borrowed = true;
        walk_skip(&ix->walks[w]);
    }
    ix->nwalks = nwalks;
    ix->policy_walk = policy_walk;
    ix->walks_borrowed = true;
    broad_routes(cfg, ix);
    return CR_OK;
}

int ce_route_index_build(cr_config *cfg, cr_route_analysis *a)
{
    cfg->route_index = NULL;
    cr_route_index *ix = a ? index_new(cfg) : NULL;
    if (!ix)
        return CR_ENOMEM;
    /* the next analysed route after each route, for the entry ranges */
    uint32_t *next = malloc((cfg->nroutes + 1) * sizeof *next);
    if (!next)
        goto oom;
    next[cfg->nroutes] = (uint32_t)a->all.n;
    for (size_t r = cfg->nroutes; r-- > 0;)
        next[r] = a->kind[r] ? a->first[r] : next[r + 1];
    for (size_t u = 0; u < cfg->nusages; u++) {
        const cr_usage_routes *ur = &cfg->usage_routes[u];
        cr_px_builder b = {0};
        size_t total = 0;
        for (size_t k = 0; k < ur->count; k++) {
            size_t r = ur->routes[k];
            total += a->kind[r] ? next[r + 1] - a->first[r] : 0;
        }
        b.entries = malloc((total ? total : 1) * sizeof *b.entries);
        if (!b.entries) {
            free(next);
            goto oom;
        }
        b.cap = total ? total : 1;
        for (size_t k = 0; k < ur->count; k++) {
            size_t r = ur->routes[k];
            size_t n = a->kind[r] ? next[r + 1] - a->first[r] : 0;
            if (n == 0)
                continue; /* a->all.entries may be NULL when no route has entries */
            memcpy(b.entries + b.n, a->all.entries + a->first[r], n * sizeof *b.entries);
            b.n += n;
        }
        if (ce_px_builder_finish(&b, &ix->tries[u]) != CR_OK) {
            free(next);
            goto oom;
        }
        ix->nusages = u + 1;
        ix->stats.bytes += ce_px_trie_bytes(&ix->tries[u]);
    }
    int wrc = build_walks(cfg, a, next, ix);
    free(next);
    if (wrc != CR_OK)
        goto oom;
    for (size_t r = 0; r < cfg->nroutes; r++) {
        uint8_t kind = a->kind[r];
        /* patterns compiled up front run through JIT where it pays: routes the index cannot
         * pre-select run on every decision */
        if (cfg->routes[r].re && (kind == CR_PX_ANY + 1 || cfg->nroutes <= CR_JIT_ALL_ROUTES))
            ce_re_jit(cfg->routes[r].re);
        if (kind == CR_PX_SET + 1)
            ix->stats.routes_indexed++;
        else if (kind == CR_PX_NEVER + 1)
            ix->stats.routes_never++;
        else
            ix->stats.routes_fallback++;
        if (cfg->routes[r].pattern && a->kind[r] && !cfg->routes[r].re)
            a->kind[r] |= CR_RK_EXACT; /* ce_route_analysis_add left it uncompiled */
    }
    ix->kinds = a->kind; /* the analysis is freed after the build: the kinds stay here */
    a->kind = NULL;
    for (size_t p = 0; p < cfg->nprofiles; p++) {
        if (ce_rule_index_build(&cfg->profiles[p], &ix->naive, a->an, &ix->stats) != CR_OK)
            goto oom;
        ix->rules[ix->nrules++] = cfg->profiles[p].rule_index;
        ix->stats.bytes += ce_rule_index_bytes(cfg->profiles[p].rule_index);
    }
    broad_routes(cfg, ix);
    cfg->route_index = ix;
    return CR_OK;
oom:
    return index_fail(cfg, ix);
}

void ce_route_index_begin(const cr_config *cfg, size_t usage, const char *number, size_t n,
                          cr_route_iter *it)
{
    const cr_route_index *ix = cfg->route_index;
    it->indexed = false;
    it->routes = cfg->usage_routes[usage].routes;
    it->count = cfg->usage_routes[usage].count;
    it->pos = 0;
    if (ix && !atomic_load_explicit(&ix->naive, memory_order_relaxed) &&
        ce_px_trie_begin(&ix->tries[usage], number, n, &it->px))
        it->indexed = true;
}

void ce_route_index_begin_key(const cr_config *cfg, size_t usage, const cr_px_key *k,
                              cr_route_iter *it)
{
    const cr_route_index *ix = cfg->route_index;
    it->indexed = false;
    it->routes = cfg->usage_routes[usage].routes;
    it->count = cfg->usage_routes[usage].count;
    it->pos = 0;
    if (ix && !atomic_load_explicit(&ix->naive, memory_order_relaxed) &&
        ce_px_trie_walk(&ix->tries[usage], k, &it->px))
        it->indexed = true;
}

void cr_config_set_naive(cr_config *cfg, bool naive)
{
    if (cfg && cfg->route_index)
        atomic_store(&cfg->route_index->naive, naive);
}

bool ce_config_naive(const cr_config *cfg)
{
    return !cfg || !cfg->route_index || atomic_load(&cfg->route_index->naive);
}

void cr_config_index_stats(const cr_config *cfg, cr_index_stats *out)
{
    memset(out, 0, sizeof *out);
    if (cfg && cfg->route_index)
        *out = cfg->route_index->stats;
}

/* ---- plan images --------------------------------------------------------------------------- */

uint8_t ce_route_index_kind(const cr_config *cfg, size_t route)
{
    const cr_route_index *ix = cfg->route_index;
    return ix && ix->kinds && route < cfg->nroutes ? ix->kinds[route] : 0;
}

const cr_px_trie *ce_route_index_trie(const cr_config *cfg, size_t usage)
{
    const cr_route_index *ix = cfg->route_index;
    return ix && usage < ix->nusages ? &ix->tries[usage] : NULL;
}

int ce_route_index_adopt(cr_config *cfg, const cr_px_trie *usage_tries,
                         const cr_px_trie *rule_tries, const uint8_t *kinds,
                         const cr_index_stats *stats)
{
    cfg->route_index = NULL;
    cr_route_index *ix = index_new(cfg);
    if (!ix)
        return CR_ENOMEM;
    for (size_t u = 0; u < cfg->nusages; u++) {
        ix->tries[u] = usage_tries[u];
        ix->tries[u].borrowed = true;
    }
    ix->nusages = cfg->nusages;
    ix->kinds = (uint8_t *)(uintptr_t)kinds;
    ix->kinds_borrowed = true;
    ix->stats = *stats;
    /* as ce_route_index_build does; beyond CR_JIT_ALL_ROUTES only the unanalysable routes get
     * JIT code there, and those are candidates at the tries' roots: broad_routes (adopting the
     * walks, next) gives it to them without a pass over every route's kind, which read the whole
     * kind array (400 KB of the image at 400,000 routes) in every process adopting it */
    for (size_t r = 0; cfg->nroutes <= CR_JIT_ALL_ROUTES && r < cfg->nroutes; r++)
        if (!(kinds[r] & CR_RK_EXACT) && ce_route(cfg, r)->re)
            ce_re_jit(ce_route(cfg, r)->re);
    for (size_t p = 0; p < cfg->nprofiles; p++) {
        if (ce_rule_index_adopt(&cfg->profiles[p], &ix->naive, &rule_tries[p]) != CR_OK)
            goto oom;
        ix->rules[ix->nrules++] = cfg->profiles[p].rule_index;
    }
    cfg->route_index = ix;
    return CR_OK;
oom:
    return index_fail(cfg, ix);
}

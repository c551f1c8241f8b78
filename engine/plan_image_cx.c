/*
 * The compiled sections of a plan image (version 2): what compile built, written as it lies in
 * memory, so that a process adopting the image reads it in place instead of analysing every
 * pattern and indexing every user again.
 *
 * Written: the digit tries of every usage and of every profile's rules (nodes and items as
 * they are), each route's pattern analysis (CR_RK_*), the routes of each usage, the user
 * indexes (slots) with their key cells, the resolved index of every name of a resolved list,
 * each user's line number, extension, policy and profile, the index statistics and the likely
 * profile. A process reading the image with CR_IMAGE_BORROW points at these bytes: every
 * process that maps the same image shares those pages. Its routes and users are not copied
 * out either: each is filled from its record the first time a decision (or anything else)
 * asks for it (ce_route, ce_user), into an anonymous mapping whose untouched pages cost
 * nothing, so adopting a plan costs the same at 100 routes and at 400,000. Whether one is
 * filled is a bit (route_done, user_done: ce_fill_done), the one read a decision from an image
 * makes that a decision from a plan compiled in process does not; as a byte each (route_state,
 * now read only to claim a fill) it cost 0.57 last-level misses a decision at 400,000 routes
 * (image_instructions under callgrind), 0.12 as a bit.
 *
 * Nothing is trusted: every node, item, slot, cell, index and offset is checked against the
 * configuration read so far before the configuration may point at it (a forged image with a
 * valid checksum is refused, never followed). An image whose hash function differs from this
 * build's (the slots would be in the wrong places) is read without its compiled sections and
 * compiled again.
 */
#include "plan_image_int.h"
#include "cr_grow.h"
#include "route_index.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { CX_FLAG_COMPLETE = 1u };

/* Changes when ce_hash does: the slots were placed with it. */
static uint32_t hash_check(void)
{
    static const char probe[] = "callroute plan image: sip:alice@contoso.com +14255550100";
    return (uint32_t)ce_hash(probe, sizeof probe - 1, false) ^
           (uint32_t)(ce_hash(probe, sizeof probe - 1, true) >> 32);
}

/* ---- writing ----------------------------------------------------------------------------- */

/* Trie nodes, appended to S_NODES. */
static void put_nodes(builder *b, const cr_px_node *nodes, size_t nnodes)
{
    for (size_t i = 0; i < nnodes; i++) {
        cr_px_node n;
        memset(&n, 0, sizeof n); /* no stray padding bytes: images are byte for byte the same */
        n.first_child = nodes[i].first_child;
        n.items_off = nodes[i].items_off;
        n.items_n = nodes[i].items_n;
        n.mask = nodes[i].mask;
        n.dense_kids = nodes[i].dense_kids; /* format 11: 0 but in the nodes with dense blocks */
        ce_pi_put_raw(b, S_NODES, &n, 1);
    }
}

/* A trie's nodes and items, appended to S_NODES and S_ITEMS. */
static void put_trie_nodes(builder *b, const cr_px_trie *t)
{
    put_nodes(b, t->nodes, t->nnodes);
    ce_pi_put_raw(b, S_ITEMS, t->items, t->nitems);
}

static void put_trie(builder *b, const cr_px_trie *t)
{
    ce_pi_put(b, S_TRIES, (uint32_t)b->nraw[S_NODES]);
    ce_pi_put(b, S_TRIES, (uint32_t)t->nnodes);
    ce_pi_put(b, S_TRIES, (uint32_t)b->nraw[S_ITEMS]);
    ce_pi_put(b, S_TRIES, (uint32_t)t->nitems);
    put_trie_nodes(b, t);
}

/* The merged tries: nodes after the usage and profile tries, items (their candidates inline) in
 * their own section, and each policy's walk. */
static void put_walks(builder *b)
{
    const cr_config *c = b->cfg;
    size_t n;
    const cr_px_walk *w = ce_route_index_walks(c, &n);
    for (size_t k = 0; k < n; k++) {
        ce_pi_put(b, S_WALKS, (uint32_t)b->nraw[S_NODES]);
        ce_pi_put(b, S_WALKS, (uint32_t)w[k].nnodes);
        ce_pi_put(b, S_WALKS, (uint32_t)b->nraw[S_WITEMS]);
        ce_pi_put(b, S_WALKS, (uint32_t)w[k].nitems);
        ce_pi_put(b, S_WALKS, (uint32_t)w[k].ncands);
        ce_pi_put(b, S_WALKS, w[k].policy);
        ce_pi_put(b, S_WALKS, w[k].ndense ? w[k].dense_node : 0);
        ce_pi_put(b, S_WALKS, w[k].ndense ? (uint32_t)b->nraw[S_DENSE] : 0);
        ce_pi_put(b, S_WALKS, (uint32_t)w[k].ndense);
        put_nodes(b, w[k].nodes, w[k].nnodes);
        ce_pi_put_raw(b, S_WITEMS, w[k].items, w[k].nitems);
        ce_pi_put_raw(b, S_DENSE, w[k].dense, w[k].ndense);
    }
    const uint32_t *pw = ce_route_index_policy_walks(c);
    for (size_t p = 0; p < c->npolicies; p++)
        ce_pi_put(b, S_POLWALK, pw[p]);
}

static void put_user_lines(builder *b)
{
    const cr_config *c = b->cfg;
    for (size_t i = 0; i < c->nusers; i++) {
        const cr_user *u = ce_user(c, i);
        ce_pi_put(b, S_USERCX, ce_pi_str(b, u->line_number));
        ce_pi_put(b, S_USERCX, ce_pi_str(b, u->line_ext));
        ce_pi_put(b, S_USERCX, u->policy_idx < 0 ? NONE : (uint32_t)u->policy_idx);
        ce_pi_put(b, S_USERCX, u->profile_idx < 0 ? NONE : (uint32_t)u->profile_idx);
    }
}

/* Everything compile built is there (an index build that ran out of memory leaves none). */
static bool complete(const cr_config *c)
{
    if (!c->route_index || !c->usage_routes || (c->nusers && !c->user_keys) ||
        (c->npolicies && !ce_route_index_policy_walks(c)))
        return false;
    for (size_t p = 0; p < c->nprofiles; p++)
        if (!ce_rule_index_trie(&c->profiles[p]))
            return false;
    return true;
}

static void put_meta(builder *b, bool full)
{
    const cr_config *c = b->cfg;
    cr_index_stats st;
    cr_config_index_stats(c, &st);
    uint32_t m[CX_FIELDS] = {0};
    m[CX_HASHCHECK] = hash_check();
    m[CX_LIKELY] = c->likely_profile ? (uint32_t)(c->likely_profile - c->profiles) : NONE;
    m[CX_LIKELY_POLICY] = c->likely_policy ? (uint32_t)(c->likely_policy - c->policies) : NONE;
    m[CX_RIX] = (uint32_t)st.routes_indexed;
    m[CX_RFB] = (uint32_t)st.routes_fallback;
    m[CX_RNV] = (uint32_t)st.routes_never;
    m[CX_UIX] = (uint32_t)st.rules_indexed;
    m[CX_UFB] = (uint32_t)st.rules_fallback;
    m[CX_UNV] = (uint32_t)st.rules_never;
    m[CX_BYTES_LO] = (uint32_t)st.bytes;
    m[CX_BYTES_HI] = (uint32_t)((uint64_t)st.bytes >> 32);
    m[CX_FLAGS] = full ? CX_FLAG_COMPLETE : 0;
    for (int i = 0; i < CX_FIELDS; i++)
        ce_pi_put(b, S_CXMETA, m[i]);
}

/* Which usages' own tries a decision can walk, given each policy's merged walk (pw, NULL:
 * none): those of a policy without one (a list past the walks' memory bound). The image
 * leaves the others out (a record of no nodes); its reader checks the same rule. NULL when
 * out of memory. */
static bool *usage_tries_needed(const cr_config *c, const uint32_t *pw)
{
    bool *needed = calloc(c->nusages + 1, sizeof *needed);
    for (size_t p = 0; needed && p < c->npolicies; p++)
        if (!pw || pw[p] == NONE)
            for (size_t i = 0; i < c->policies[p].usages.count; i++)
                if (c->policies[p].usages.idx[i] < c->nusages)
                    needed[c->policies[p].usages.idx[i]] = true;
    return needed;
}

void ce_pi_build_compiled(builder *b)
{
    const cr_config *c = b->cfg;
    bool full = complete(c);
    put_meta(b, full);
    put_user_lines(b);
    if (!full)
        return;
    bool *needed = usage_tries_needed(c, ce_route_index_policy_walks(c));
    if (!needed) {
        b->oom = true;
        return;
    }
    for (size_t u = 0; u < c->nusages; u++)
        put_trie(b, needed[u] ? ce_route_index_trie(c, u) : &(cr_px_trie){0});
    free(needed);
    for (size_t p = 0; p < c->nprofiles; p++)
        put_trie(b, ce_rule_index_trie(&c->profiles[p]));
    put_walks(b);
    uint8_t *kinds = malloc(c->nroutes ? c->nroutes : 1);
    if (!kinds) {
        b->oom = true;
        return;
    }
    for (size_t r = 0; r < c->nroutes; r++)
        kinds[r] = ce_route_index_kind(c, r);
    ce_pi_put_raw(b, S_KINDS, kinds, c->nroutes);
    free(kinds);
    for (size_t u = 0; u < c->nusages; u++) {
        ce_pi_put(b, S_UHEAD, (uint32_t)b->sec[S_ROUTEIDS].n);
        ce_pi_put(b, S_UHEAD, (uint32_t)c->usage_routes[u].count);
        for (size_t k = 0; k < c->usage_routes[u].count; k++)
            ce_pi_put(b, S_ROUTEIDS, c->usage_routes[u].routes[k]);
    }
    ce_pi_put_raw(b, S_UKEYS, c->user_keys, c->nusers);
    ce_pi_put_raw(b, S_USLOTS, c->user_uri_tab.cells, c->user_uri_tab.cap);
    ce_pi_put_raw(b, S_UKSLOTS, c->user_uri_tab.keys, c->user_uri_tab.cap);
    ce_pi_put_raw(b, S_LSLOTS, c->user_line_ix.slots, c->user_line_ix.cap);
}

/* ---- reading ----------------------------------------------------------------------------- */

static const void *sec_base(const reader *r, int s)
{
    return r->base + r->h->sec[s].off;
}

bool ce_pi_adoptable(const reader *r)
{
    if (ce_pi_nrecs(r, S_CXMETA) != 1)
        return false;
    const uint32_t *m = ce_pi_recs(r, S_CXMETA);
    return (m[CX_FLAGS] & CX_FLAG_COMPLETE) && m[CX_HASHCHECK] == hash_check() &&
           ce_pi_nrecs(r, S_NAMEIX) == ce_pi_nrecs(r, S_NAMES);
}

/* The distinct lists of an image, built final once (adopting). */
typedef struct ce_list_table {
    cr_namelist *lists; /* [n] */
    uint8_t *kind;      /* [n] */
    uint32_t *by_first; /* [names + 1]: list id + 1 of the list starting at each name */
    size_t n;
} ce_list_table;

/* How a route adopted from an image is filled on first use (ce_route_fill). */
typedef struct ce_route_src {
    const uint32_t *recs;  /* S_ROUTES */
    const uint32_t *urecs; /* S_USERS */
    const uint32_t *ucx;   /* S_USERCX */
    const char *pool;
    const char **files; /* [nfiles]: the configuration's interned file names */
    size_t nfiles;
    ce_list_table lists;
} ce_route_src;

void ce_route_src_free(ce_route_src *s)
{
    if (!s)
        return;
    free(s->files);
    free(s->lists.lists);
    free(s->lists.kind);
    free(s->lists.by_first);
    free(s);
}

/* What each kind of list names, as counted by the image's sections. */
static uint32_t kind_limit(const reader *r, uint32_t kind)
{
    return kind == LK_USAGES     ? (uint32_t)ce_pi_nrecs(r, S_USAGES)
           : kind == LK_GATEWAYS ? (uint32_t)ce_pi_nrecs(r, S_GATEWAYS)
                                 : 0;
}

void ce_pi_lists_build(reader *r)
{
    cr_config *c = r->cfg;
    ce_route_src *src = calloc(1, sizeof *src);
    size_t n = ce_pi_nrecs(r, S_LISTS), nnames = ce_pi_nrecs(r, S_NAMES);
    if (!src) {
        r->oom = true;
        return;
    }
    c->route_src = src; /* freed with the configuration from here on */
    ce_list_table *t = &src->lists;
    t->lists = calloc(n + 1, sizeof *t->lists);
    t->kind = calloc(n + 1, 1);
    t->by_first = calloc(nnames + 1, sizeof *t->by_first);
    if (!t->lists || !t->kind || !t->by_first) {
        r->oom = true;
        return;
    }
    const uint32_t *x = ce_pi_recs(r, S_LISTS), *names = ce_pi_recs(r, S_NAMES),
                   *ix = ce_pi_recs(r, S_NAMEIX);
    for (size_t id = 0; id < n; id++, x += sec_fields[S_LISTS]) {
        uint32_t first = x[LI_FIRST], count = x[LI_COUNT], kind = x[LI_KIND];
        if (!count || kind >= LK_COUNT || (uint64_t)first + count > nnames || t->by_first[first]) {
            ce_pi_broken(r, "list", id);
            return;
        }
        uint32_t limit = kind_limit(r, kind);
        char **v = ce_arena_alloc(c, count * sizeof *v);
        if (!v) {
            r->oom = true;
            return;
        }
        for (uint32_t k = 0; k < count; k++) {
            const char *s = ce_pi_rstr(r, names[first + k], id);
            if (!s || (limit && ix[first + k] >= limit) || (!limit && kind != LK_PLAIN)) {
                ce_pi_broken(r, "list name", id);
                return;
            }
            v[k] = (char *)(uintptr_t)s;
        }
        t->lists[id] =
            (cr_namelist){v, limit ? (uint32_t *)(uintptr_t)(ix + first) : NULL, count, count};
        t->kind[id] = (uint8_t)kind;
        t->by_first[first] = (uint32_t)id + 1;
    }
    t->n = n;
}

/* The distinct list of that kind that starts at `first` with `count` names: its 1-based id, 0
 * when there is none (count 0: the empty list, id 0 too; the checks ask list_ok). */
static inline uint32_t list_id(const ce_list_table *t, uint32_t first, uint32_t count, int kind,
                               size_t nnames)
{
    uint32_t id = count && first < nnames ? t->by_first[first] : 0;
    return id && t->lists[id - 1].count == count && t->kind[id - 1] == kind ? id : 0;
}

static inline bool list_ok(const ce_list_table *t, uint32_t first, uint32_t count, int kind,
                           size_t nnames)
{
    return !count || list_id(t, first, count, kind, nnames);
}

/* The list at names[first, first+count) of `kind` into *l, or false. */
static bool list_at(const ce_list_table *t, uint32_t first, uint32_t count, int kind, size_t nnames,
                    cr_namelist *l)
{
    memset(l, 0, sizeof *l);
    if (!count)
        return true;
    uint32_t id = list_id(t, first, count, kind, nnames);
    if (!id)
        return false;
    *l = t->lists[id - 1];
    return true;
}

void ce_pi_list_final(reader *r, cr_namelist *l, uint32_t first, uint32_t count, int kind, size_t i)
{
    if (r->broken || r->oom)
        return;
    if (!r->cfg->route_src ||
        !list_at(&r->cfg->route_src->lists, first, count, kind, ce_pi_nrecs(r, S_NAMES), l))
        ce_pi_broken(r, "name list", i);
}

/*
 * A check of records [from, to): the first index it refuses, SIZE_MAX when none. check_split
 * runs one over [0, n) on two threads when n is large: a first start checks every record while
 * the checksum takes the other core for a fraction of that time. The answer is the one a single
 * pass in order gives. The split falls on a multiple of 64 (a bit set of the records, one word
 * per 64, is written by one thread only).
 */
typedef size_t (*range_check)(const reader *r, size_t from, size_t to);
enum { SPLIT_MIN = 16384 };

typedef struct split_job {
    const reader *r;
    range_check fn;
    size_t from, to, bad;
} split_job;

static void *split_run(void *arg)
{
    split_job *j = arg;
    j->bad = j->fn(j->r, j->from, j->to);
    return NULL;
}

static size_t check_split(const reader *r, size_t n, range_check fn)
{
    size_t mid = n < SPLIT_MIN ? n : (n / 2) & ~(size_t)63;
    split_job j = {r, fn, mid, n, SIZE_MAX};
    pthread_t t;
    bool two = mid < n && cr_thread_start(&t, split_run, &j) == 0;
    size_t bad = fn(r, 0, two ? mid : n);
    if (two) {
        pthread_join(t, NULL);
        if (bad == SIZE_MAX)
            bad = j.bad;
    }
    return bad;
}

/* An anonymous mapping of n objects of `size`, NULL on failure; `flags` adds to mmap's (e.g.
 * MAP_POPULATE for memory written whole at once). */
static void *zero_map_ex(size_t n, size_t size, int flags)
{
    void *p =
        mmap(NULL, n * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* The same, its pages the kernel's zero page until written. */
static void *zero_map(size_t n, size_t size)
{
    return zero_map_ex(n, size, 0);
}

/* Fills object i once, whichever thread comes first; the others wait for it (its state 2:
 * filled; fill_done then publishes it to the fast path's check, ce_fill_done). */
static bool fill_claim(_Atomic uint8_t *st)
{
    uint8_t expect = 0;
    if (atomic_compare_exchange_strong_explicit(st, &expect, 1, memory_order_acquire,
                                                memory_order_acquire))
        return true;
    while (atomic_load_explicit(st, memory_order_acquire) != 2)
        sched_yield(); /* another thread fills it: a few hundred nanoseconds */
    return false;
}

/* Object i (state st) filled: its bit in `done` set after it is written (release), so that a
 * thread seeing the bit (ce_fill_done, acquire) sees the object. */
static void fill_done(_Atomic uint8_t *st, _Atomic uint64_t *done, size_t i)
{
    atomic_store_explicit(st, 2, memory_order_release);
    atomic_fetch_or_explicit(&done[i / 64], (uint64_t)1 << (i % 64), memory_order_release);
}

/* Route records [from, to) (check_split): strings, file, line and name lists in range. */
static size_t routes_ok(const reader *r, size_t from, size_t to)
{
    const ce_route_src *src = r->cfg->route_src;
    size_t nnames = ce_pi_nrecs(r, S_NAMES);
    const uint32_t *x = ce_pi_recs(r, S_ROUTES) + from * sec_fields[S_ROUTES];
    for (size_t i = from; i < to; i++, x += sec_fields[S_ROUTES])
        if (x[RO_NAME] >= r->npool || (x[RO_DESC] != NONE && x[RO_DESC] >= r->npool) ||
            (x[RO_PATTERN] != NONE && x[RO_PATTERN] >= r->npool) ||
            (x[RO_FILE] != NONE && x[RO_FILE] >= r->nfiles) || x[RO_LINE] > (uint32_t)INT32_MAX ||
            !list_ok(&src->lists, x[RO_UFIRST], x[RO_UCOUNT], LK_USAGES, nnames) ||
            !list_ok(&src->lists, x[RO_GFIRST], x[RO_GCOUNT], LK_GATEWAYS, nnames))
            return i;
    return SIZE_MAX;
}

void ce_pi_routes_lazy(reader *r)
{
    cr_config *c = r->cfg;
    ce_route_src *src = c->route_src;
    size_t n = ce_pi_nrecs(r, S_ROUTES);
    size_t bad = r->trusted ? SIZE_MAX : check_split(r, n, routes_ok); /* checked now */
    if (bad != SIZE_MAX) {
        ce_pi_broken(r, "route", bad);
        return;
    }
    src->recs = ce_pi_recs(r, S_ROUTES);
    src->pool = r->pool;
    src->nfiles = r->nfiles;
    src->files = calloc(r->nfiles + 1, sizeof *src->files);
    c->route_state = calloc(n + 1, sizeof *c->route_state);
    c->route_done = calloc(n / 64 + 1, sizeof *c->route_done);
    if (!src->files || !c->route_state || !c->route_done) {
        r->oom = true;
        return;
    }
    memcpy(src->files, r->files, r->nfiles * sizeof *src->files);
    /* mapped, not calloc'd: the pages are the kernel's zero page until a route is filled
     * (calloc may hand back heap memory it has to clear, all of it, now) */
    if (n && !(c->routes = zero_map(n, sizeof *c->routes))) {
        r->oom = true;
        return;
    }
    c->routes_mapped = n > 0;
    c->nroutes = c->caproutes = n;
}

const cr_route *ce_route_fill(const cr_config *c, size_t i)
{
    _Atomic uint8_t *st = &c->route_state[i];
    cr_route *r = (cr_route *)(uintptr_t)&c->routes[i];
    if (fill_claim(st)) {
        const ce_route_src *s = c->route_src;
        const uint32_t *x = s->recs + i * sec_fields[S_ROUTES];
        size_t nnames = (size_t)-1; /* the records were checked when the image was read */
        r->name = (char *)(uintptr_t)(s->pool + x[RO_NAME]);
        r->description = x[RO_DESC] == NONE ? NULL : (char *)(uintptr_t)(s->pool + x[RO_DESC]);
        r->pattern = x[RO_PATTERN] == NONE ? NULL : (char *)(uintptr_t)(s->pool + x[RO_PATTERN]);
        list_at(&s->lists, x[RO_UFIRST], x[RO_UCOUNT], LK_USAGES, nnames, &r->usages);
        list_at(&s->lists, x[RO_GFIRST], x[RO_GCOUNT], LK_GATEWAYS, nnames, &r->gateways);
        r->loc = (cr_srcloc){x[RO_FILE] == NONE ? NULL : s->files[x[RO_FILE]], (int)x[RO_LINE]};
        fill_done(st, c->route_done, i);
    }
    return r;
}

/* The string at pool offset off, NULL for NONE (checked when the image was read). */
static char *pstr(const ce_route_src *s, uint32_t off)
{
    return off == NONE ? NULL : (char *)(uintptr_t)(s->pool + off);
}

static void fill_user(const ce_route_src *s, size_t i, cr_user *u)
{
    const uint32_t *x = s->urecs + i * sec_fields[S_USERS], *y = s->ucx + i * sec_fields[S_USERCX];
    size_t nnames = (size_t)-1; /* the records were checked when the image was read */
    u->uri = pstr(s, x[UR_URI]);
    u->line = pstr(s, x[UR_LINEURI]);
    u->line_number = pstr(s, y[UC_NUMBER]);
    u->line_ext = pstr(s, y[UC_EXT]);
    u->enterprise_voice = x[UR_FLAGS] & 1u;
    u->pbx_integration = (x[UR_FLAGS] & 2u) != 0;
    u->policy = pstr(s, x[UR_POLICY]);
    u->profile = pstr(s, x[UR_PROFILE]);
    u->policy_idx = y[UC_POLICY] == NONE ? -1 : (long)y[UC_POLICY];
    u->profile_idx = y[UC_PROFILE] == NONE ? -1 : (long)y[UC_PROFILE];
    u->simultaneous_ring = pstr(s, x[UR_SIMRING]);
    u->forwarding.immediate = pstr(s, x[UR_FWD_IMM]);
    u->forwarding.no_answer_after = (int)x[UR_FWD_AFTER];
    u->forwarding.no_answer_target = pstr(s, x[UR_FWD_TARGET]);
    u->team_call_delay = (int)x[UR_TEAM_DELAY];
    list_at(&s->lists, x[UR_TFIRST], x[UR_TCOUNT], LK_PLAIN, nnames, &u->team_call);
    list_at(&s->lists, x[UR_DFIRST], x[UR_DCOUNT], LK_PLAIN, nnames, &u->delegates);
    u->voicemail = pstr(s, x[UR_VOICEMAIL]);
    u->loc = (cr_srcloc){x[UR_FILE] == NONE ? NULL : s->files[x[UR_FILE]], (int)x[UR_LINE]};
}

const cr_user *ce_user_fill(const cr_config *c, size_t i)
{
    cr_user *u = (cr_user *)(uintptr_t)&c->users[i];
    if (fill_claim(&c->user_state[i])) {
        fill_user(c->route_src, i, u);
        fill_done(&c->user_state[i], c->user_done, i);
    }
    return u;
}

/* Bits set in a 16-bit mask. */
static unsigned bits16(unsigned x)
{
    unsigned n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

/* A node's children are inside the trie: nodes, or with CR_PX_LEAVES one item each after the
 * node's own (and first_child 0: images are byte for byte the same). */
static bool node_ok(const cr_px_node *n, uint32_t nnodes, uint32_t nitems)
{
    unsigned syms = n->mask & CR_PX_SYMS, kids = bits16(syms);
    if ((n->mask & ~(CR_PX_SYMS | CR_PX_LEAVES)) || (uint64_t)n->items_off + n->items_n > nitems)
        return false;
    if (n->mask & CR_PX_LEAVES)
        return syms && n->first_child == 0 && (uint64_t)n->items_off + n->items_n + kids <= nitems;
    return !syms || (uint64_t)n->first_child + kids <= nnodes;
}

/* The nodes of a trie whose record x (first node, nodes, first item, items; i-th of `what`)
 * lie inside S_NODES, its items inside section `items`, every child and item range of every
 * node inside the trie. */
static bool nodes_ok(reader *r, const uint32_t *x, int items, const char *what, size_t i)
{
    if (x[TR_NNODES] == 0 || (uint64_t)x[TR_NODE] + x[TR_NNODES] > ce_pi_nrecs(r, S_NODES) ||
        (uint64_t)x[TR_ITEM] + x[TR_NITEMS] > ce_pi_nrecs(r, items)) {
        ce_pi_broken(r, what, i);
        return false;
    }
    const cr_px_node *nodes = (const cr_px_node *)sec_base(r, S_NODES) + x[TR_NODE];
    for (size_t k = 0; k < x[TR_NNODES] && !r->trusted; k++) {
        /* dense_kids only in a merged trie's nodes with blocks (dense_ok) */
        if (!node_ok(&nodes[k], x[TR_NNODES], x[TR_NITEMS]) ||
            (items != S_WITEMS && nodes[k].dense_kids)) {
            ce_pi_broken(r, "trie node", i);
            return false;
        }
    }
    return true;
}

/* A trie whose record x (first node, nodes, first item, items) is the i-th of section `what`
 * lies inside the node and item sections, every child and item range of every node inside
 * the trie, every item's id below `ids`. */
static bool read_trie_at(reader *r, const uint32_t *x, const char *what, size_t i, uint32_t ids,
                         cr_px_trie *t)
{
    if (!nodes_ok(r, x, S_ITEMS, what, i))
        return false;
    const cr_px_node *nodes = (const cr_px_node *)sec_base(r, S_NODES) + x[TR_NODE];
    const cr_px_item *items = (const cr_px_item *)sec_base(r, S_ITEMS) + x[TR_ITEM];
    for (size_t k = 0; k < x[TR_NITEMS] && !r->trusted; k++)
        if (items[k].id >= ids) {
            ce_pi_broken(r, "trie item", i);
            return false;
        }
    *t = (cr_px_trie){(cr_px_node *)(uintptr_t)nodes, x[TR_NNODES], (cr_px_item *)(uintptr_t)items,
                      x[TR_NITEMS], true};
    return true;
}

/* Usage u's trie was left out of the image (no nodes, no items: a real trie has its root):
 * it stays empty, and walkless_usages_have_tries checks that no decision needs it. */
static bool usage_trie_absent(reader *r, size_t u)
{
    const uint32_t *x = ce_pi_recs(r, S_TRIES) + u * sec_fields[S_TRIES];
    return x[TR_NNODES] == 0 && x[TR_NITEMS] == 0;
}

/* Every usage of a policy without a merged walk has its own trie (the image leaves out only
 * the tries of usages every policy listing them walks merged). */
static bool walkless_usages_have_tries(reader *r, const ce_image_cx *x)
{
    const cr_config *c = r->cfg;
    bool *needed = usage_tries_needed(c, x->policy_walk);
    if (!needed) {
        r->oom = true;
        return false;
    }
    size_t u = 0;
    while (u < c->nusages && !(needed[u] && x->usage_tries[u].nnodes == 0))
        u++;
    free(needed);
    if (u < c->nusages) {
        ce_pi_broken(r, "usage trie (a policy without a merged walk needs it)", u);
        return false;
    }
    return true;
}

/* Trie `t`, record i of S_TRIES. */
static bool read_trie(reader *r, size_t i, uint32_t ids, cr_px_trie *t)
{
    return read_trie_at(r, ce_pi_recs(r, S_TRIES) + i * sec_fields[S_TRIES], "trie", i, ids, t);
}

/* Slots of the line index: a power of two of them, one empty at least (a probe ends), every
 * value a user with a line, every packed number the one of the key the user's key cell says
 * the slot has (the compare it stands for: line_probe_at, users.c). */
static bool read_line_slots(reader *r, cr_line_slot **out, size_t *cap)
{
    const cr_config *c = r->cfg;
    size_t n = ce_pi_nrecs(r, S_LSLOTS), used = 0;
    const cr_line_slot *slots = sec_base(r, S_LSLOTS);
    const cr_user_keys *keys = sec_base(r, S_UKEYS); /* [nusers]: counts_match */
    if (n == 0 || (n & (n - 1))) {
        ce_pi_broken(r, sec_names[S_LSLOTS], n);
        return false;
    }
    for (size_t k = 0; k < n && !r->trusted; k++) {
        if (!slots[k].val) {
            if (slots[k].num) {
                ce_pi_broken(r, sec_names[S_LSLOTS], k);
                return false;
            }
            continue;
        }
        uint32_t v = slots[k].val - 1, u = v & CR_USER_IX_MASK;
        /* the users' bit set rather than their records: slots are in hash order */
        if (u >= c->nusers || !(r->lined[u / 64] >> (u % 64) & 1)) {
            ce_pi_broken(r, sec_names[S_LSLOTS], k);
            return false;
        }
        /* the bare number (flagged, or a line without extension) in a cell: packed, or 0 */
        const cr_key_cell *cell = &keys[u].line;
        uint64_t num =
            cell->len <= sizeof cell->s && ((v & CR_USER_IX_FLAG) || !(cell->flags & CR_KEY_EXT))
                ? ce_line_pack(cell->s, cell->len)
                : 0;
        if (slots[k].num != num) {
            ce_pi_broken(r, sec_names[S_LSLOTS], k);
            return false;
        }
        used++;
    }
    if (used == n && !r->trusted) {
        ce_pi_broken(r, sec_names[S_LSLOTS], n);
        return false;
    }
    *out = (cr_line_slot *)(uintptr_t)slots;
    *cap = n;
    return true;
}

/* The hot fields the caller table's cell of the user of records x and y holds: the cell's last
 * 8 bytes (the users themselves are filled on first use). */
static uint64_t expected_hot(const reader *r, const uint32_t *x, const uint32_t *y)
{
    cr_user user = {0};
    user.enterprise_voice = x[UR_FLAGS] & 1u;
    user.policy_idx = y[UC_POLICY] == NONE ? -1 : (long)y[UC_POLICY];
    user.profile_idx = y[UC_PROFILE] == NONE ? -1 : (long)y[UC_PROFILE];
    cr_user_cell e = {0};
    ce_user_cell_hot(r->cfg, &user, &e);
    uint64_t hot;
    memcpy(&hot, (const char *)&e + 8, 8);
    return hot;
}

_Static_assert(offsetof(cr_user_cell, policy) == 8 && sizeof(cr_user_cell) == 16,
               "a cell's hot fields: its last 8 bytes");

/* The key cell of user u (its record checked): the user's URI key, as compile_users sets it. */
static cr_key_cell expected_key(const reader *r, size_t u)
{
    const uint32_t *x = ce_pi_recs(r, S_USERS) + u * sec_fields[S_USERS];
    const char *uri = r->pool + x[UR_URI];
    char key[CR_URI_MAX];
    cr_key_cell e;
    memset(&e, 0, sizeof e);
    size_t kn = cr_uri_key(uri, key, sizeof key);
    if (!kn)
        return e; /* no key (compile refuses such a user): no cell is one */
    ce_key_cell_set(&e, key, kn, strcmp(key, uri) == 0 ? CR_KEY_SAME : 0);
    return e;
}

/* The caller table: a power of two of cells, one empty at least (a probe ends), an empty cell
 * all zero, every other naming a user with exactly that user's hot fields; its keys by slot as
 * many, an empty cell's all zero, every other exactly its user's key (a damaged key would
 * give a caller another user's policies). */
static bool read_uri_cells(reader *r, ce_image_cx *x)
{
    size_t n = ce_pi_nrecs(r, S_USLOTS), used = 0;
    const cr_user_cell *cells = sec_base(r, S_USLOTS);
    const cr_key_cell *keys = sec_base(r, S_UKSLOTS);
    if (n == 0 || (n & (n - 1))) {
        ce_pi_broken(r, sec_names[S_USLOTS], n);
        return false;
    }
    if (ce_pi_nrecs(r, S_UKSLOTS) != n) {
        ce_pi_broken(r, sec_names[S_UKSLOTS], ce_pi_nrecs(r, S_UKSLOTS));
        return false;
    }
    for (size_t k = 0; k < n && !r->trusted; k++) {
        const cr_user_cell *s = &cells[k];
        cr_user_cell e = {0};
        if (s->val) {
            uint32_t u = (s->val - 1) & CR_USER_IX_MASK;
            if (u >= r->cfg->nusers) {
                ce_pi_broken(r, sec_names[S_USLOTS], k);
                return false;
            }
            memcpy((char *)&e + 8, &r->hot[u], 8); /* ce_pi_users_lazy */
            e.tag = s->tag;
            e.val = s->val;
            used++;
        }
        if (memcmp(s, &e, sizeof e) != 0) {
            ce_pi_broken(r, sec_names[S_USLOTS], k);
            return false;
        }
    }
    if (used == n && !r->trusted) {
        ce_pi_broken(r, sec_names[S_USLOTS], n);
        return false;
    }
    for (size_t k = 0; k < n && !r->trusted; k++) {
        cr_key_cell e;
        memset(&e, 0, sizeof e);
        if (cells[k].val)
            e = expected_key(r, (cells[k].val - 1) & CR_USER_IX_MASK);
        if (memcmp(&keys[k], &e, sizeof e) != 0) {
            ce_pi_broken(r, sec_names[S_UKSLOTS], k);
            return false;
        }
    }
    x->uri_cells = (cr_user_cell *)(uintptr_t)cells;
    x->uri_keys = (cr_key_cell *)(uintptr_t)keys;
    x->uri_cap = n;
    return true;
}

/* Every user's two key cells: each a key that fits or none (CR_KEY_LONG). */
static bool read_cells(reader *r, cr_user_keys **out)
{
    const cr_user_keys *cells = sec_base(r, S_UKEYS);
    for (size_t k = 0; k < r->cfg->nusers && !r->trusted; k++)
        if ((cells[k].uri.len > sizeof cells[k].uri.s && cells[k].uri.len != CR_KEY_LONG) ||
            (cells[k].line.len > sizeof cells[k].line.s && cells[k].line.len != CR_KEY_LONG)) {
            ce_pi_broken(r, sec_names[S_UKEYS], k);
            return false;
        }
    *out = (cr_user_keys *)(uintptr_t)cells;
    return true;
}

static bool str_ok(const reader *r, uint32_t off)
{
    return off == NONE || off < r->npool;
}

/* User record i and its compiled record are whole: strings in the pool, lists of the image,
 * the line number there exactly when a line is, the policy and profile indexes exactly when
 * they are named, and in range. */
static bool user_ok(const reader *r, const uint32_t *x, const uint32_t *y)
{
    const ce_list_table *t = &r->cfg->route_src->lists;
    size_t nnames = ce_pi_nrecs(r, S_NAMES);
    for (int f = UR_URI; f <= UR_FWD_IMM; f++)
        if (!str_ok(r, x[f]))
            return false;
    return x[UR_URI] != NONE && str_ok(r, x[UR_FWD_TARGET]) && str_ok(r, x[UR_VOICEMAIL]) &&
           x[UR_FWD_AFTER] <= 86400 && x[UR_TEAM_DELAY] <= 86400 &&
           (x[UR_FILE] == NONE || x[UR_FILE] < r->nfiles) && x[UR_LINE] <= (uint32_t)INT32_MAX &&
           list_ok(t, x[UR_TFIRST], x[UR_TCOUNT], LK_PLAIN, nnames) &&
           list_ok(t, x[UR_DFIRST], x[UR_DCOUNT], LK_PLAIN, nnames) && str_ok(r, y[UC_NUMBER]) &&
           str_ok(r, y[UC_EXT]) && (y[UC_NUMBER] == NONE) == (x[UR_LINEURI] == NONE) &&
           (y[UC_EXT] == NONE || y[UC_NUMBER] != NONE) &&
           (y[UC_POLICY] == NONE) == (x[UR_POLICY] == NONE) &&
           (y[UC_PROFILE] == NONE) == (x[UR_PROFILE] == NONE) &&
           (y[UC_POLICY] == NONE || y[UC_POLICY] < r->cfg->npolicies) &&
           (y[UC_PROFILE] == NONE || y[UC_PROFILE] < r->cfg->nprofiles);
}

/* User records [from, to) (check_split), each with the line bit and the cell's hot fields it
 * must have. */
static size_t users_ok(const reader *r, size_t from, size_t to)
{
    const uint32_t *x = ce_pi_recs(r, S_USERS) + from * sec_fields[S_USERS];
    const uint32_t *y = ce_pi_recs(r, S_USERCX) + from * sec_fields[S_USERCX];
    for (size_t i = from; i < to; i++, x += sec_fields[S_USERS], y += sec_fields[S_USERCX]) {
        if (!user_ok(r, x, y))
            return i;
        if (y[UC_NUMBER] != NONE) /* read_slots checks the line index against it */
            r->lined[i / 64] |= (uint64_t)1 << (i % 64);
        r->hot[i] = expected_hot(r, x, y); /* read_uri_cells checks the cells against it */
    }
    return SIZE_MAX;
}

void ce_pi_users_lazy(reader *r)
{
    cr_config *c = r->cfg;
    size_t n = ce_pi_nrecs(r, S_USERS);
    if (ce_pi_nrecs(r, S_USERCX) != n) {
        ce_pi_broken(r, "user lines", n);
        return;
    }
    if (!r->trusted && (!(r->lined = calloc(n / 64 + 1, sizeof *r->lined)) ||
                        !(r->hot = malloc((n + 1) * sizeof *r->hot)))) {
        r->oom = true;
        return;
    }
    size_t bad = r->trusted ? SIZE_MAX : check_split(r, n, users_ok);
    if (bad != SIZE_MAX) {
        ce_pi_broken(r, "user", bad);
        return;
    }
    c->route_src->urecs = ce_pi_recs(r, S_USERS);
    c->route_src->ucx = ce_pi_recs(r, S_USERCX);
    c->user_state = calloc(n + 1, sizeof *c->user_state);
    c->user_done = calloc(n / 64 + 1, sizeof *c->user_done);
    if (!c->user_state || !c->user_done || (n && !(c->users = zero_map(n, sizeof *c->users)))) {
        r->oom = true;
        return;
    }
    c->users_mapped = n > 0;
    c->nusers = c->capusers = n;
}

/* The routes of each usage: ranges of S_ROUTEIDS, every id a route. */
static bool read_usage_routes(reader *r, ce_image_cx *x)
{
    const cr_config *c = r->cfg;
    const uint32_t *head = ce_pi_recs(r, S_UHEAD), *ids = ce_pi_recs(r, S_ROUTEIDS);
    for (size_t u = 0; u < c->nusages; u++)
        if ((uint64_t)head[2 * u] + head[2 * u + 1] > ce_pi_nrecs(r, S_ROUTEIDS)) {
            ce_pi_broken(r, "usage routes", u);
            return false;
        }
    for (size_t k = 0; k < ce_pi_nrecs(r, S_ROUTEIDS) && !r->trusted; k++)
        if (ids[k] >= c->nroutes) {
            ce_pi_broken(r, "usage route", k);
            return false;
        }
    x->usage_head = head;
    x->route_ids = ids;
    return true;
}

/* How many candidates the usages of list l hold (the image's own routes of each usage, read
 * by read_usage_routes). */
static uint64_t count_cands(const ce_image_cx *x, const cr_namelist *l)
{
    uint64_t n = 0;
    for (size_t j = 0; j < l->count; j++)
        n += x->usage_head[2 * l->idx[j] + 1];
    return n;
}

/* What a merged item carries after its cr_px_item: its candidate's data. */
typedef struct cand_data {
    uint32_t route;
    uint16_t rank, ngw;
    uint32_t gw[CR_SLOT_GW_INLINE];
} cand_data;

_Static_assert(sizeof(cand_data) == sizeof(cr_px_witem) - offsetof(cr_px_witem, route) &&
                   offsetof(cand_data, gw) ==
                       offsetof(cr_px_witem, gw) - offsetof(cr_px_witem, route),
               "a merged item's candidate data");

/* How many records ahead a check asks for one it will read in no order. */
enum { PREFETCH_AHEAD = 16 };

/* The candidates of list l in order, into cands[ncands] (zero), each what the decision must read
 * inline: the route, the usage's rank and the route's first gateways as its record lists them (or
 * marked as more than an item holds). ncands is count_cands' (the lists were checked: every
 * gateway index in range). */
static void expected_cands(const reader *r, const ce_image_cx *x, const cr_namelist *l,
                           cand_data *cands)
{
    const uint32_t *ix = ce_pi_recs(r, S_NAMEIX);
    size_t seq = 0;
    for (size_t j = 0; j < l->count; j++) {
        const uint32_t *head = x->usage_head + 2 * l->idx[j];
        for (uint32_t k = 0; k < head[1]; k++) {
            uint32_t route = x->route_ids[head[0] + k];
            const uint32_t *rec = ce_pi_recs(r, S_ROUTES) + (size_t)route * sec_fields[S_ROUTES];
            if (k + PREFETCH_AHEAD < head[1]) /* the records are read in no order: ask early */
                __builtin_prefetch(ce_pi_recs(r, S_ROUTES) +
                                   (size_t)x->route_ids[head[0] + k + PREFETCH_AHEAD] *
                                       sec_fields[S_ROUTES] +
                                   RO_GCOUNT);
            cand_data *c = &cands[seq++]; /* zero: freshly mapped */
            c->route = route;
            c->rank = (uint16_t)j;
            c->ngw = CR_SLOT_GW_ROUTE;
            if (rec[RO_GCOUNT] <= CR_SLOT_GW_INLINE) {
                c->ngw = (uint16_t)rec[RO_GCOUNT];
                for (uint32_t g = 0; g < rec[RO_GCOUNT]; g++)
                    c->gw[g] = ix[rec[RO_GFIRST] + g];
            }
        }
    }
}

/* Every item of merged trie w names one of its candidates and carries exactly that candidate's
 * inline data (every item of a candidate with several prefixes the same). The expected data
 * (16 bytes a candidate, 6 MB at 400,000) is mapped for the check and unmapped after it, so
 * that the adopting process does not keep it in its heap. */
static bool walk_items_ok(reader *r, const ce_image_cx *x, const cr_namelist *l,
                          const cr_px_walk *w)
{
    size_t n = w->ncands ? w->ncands : 1;
    cand_data *cands = zero_map_ex(n, sizeof *cands, MAP_POPULATE); /* all written next */
    if (!cands) {
        r->oom = true;
        return false;
    }
    expected_cands(r, x, l, cands);
    bool ok = true;
    for (size_t k = 0; k < w->nitems && ok; k++) {
        const cr_px_witem *it = &w->items[k];
        if (k + PREFETCH_AHEAD < w->nitems && it[PREFETCH_AHEAD].px.id < w->ncands)
            __builtin_prefetch(&cands[it[PREFETCH_AHEAD].px.id]);
        ok = it->px.id < w->ncands &&
             !memcmp(&it->route, &cands[it->px.id], sizeof cands[it->px.id]);
    }
    munmap(cands, n * sizeof *cands);
    return ok;
}

/* Merged trie w's dense leaf blocks from its record rec lie inside S_DENSE, each for one of its
 * nodes, and mirror them: each node's dense_kids is what ce_px_dense_kids makes of it in the
 * blocks' range (which children hold their leaves as items and have none of their own) and 0
 * outside it, and each slot is byte for byte what ce_px_dense_slot makes of its node (a copy of
 * the leaf's item, or all zero). A trusted read checks the bounds only. Run after nodes_ok:
 * every node's children lie inside the trie and their leaves inside its items. */
static bool dense_ok(reader *r, const uint32_t *rec, cr_px_walk *w)
{
    uint32_t node = rec[WK_DNODE], first = rec[WK_DENSE], n = rec[WK_NDENSE];
    if (!n && (node || first))
        return false;
    if ((uint64_t)first + n > ce_pi_nrecs(r, S_DENSE) || (uint64_t)node + n > w->nnodes)
        return false;
    if (n) {
        w->dense = (cr_px_dblock *)(uintptr_t)((const cr_px_dblock *)sec_base(r, S_DENSE) + first);
        w->ndense = n;
        w->dense_node = node;
    }
    for (size_t k = 0; k < w->nnodes && !r->trusted; k++) {
        const cr_px_node *x = &w->nodes[k];
        if (k - node >= n) {
            if (x->dense_kids)
                return false;
            continue;
        }
        if (x->dense_kids != ce_px_dense_kids(w->nodes, x))
            return false;
        const cr_px_dslot *slot = w->dense[k - node].slot;
        for (unsigned s = 0; s < CR_PX_DENSE_SLOTS; s++) {
            cr_px_dslot want;
            ce_px_dense_slot(w->nodes, w->items, x, s, &want);
            if (memcmp(&slot[s], &want, sizeof want))
                return false;
        }
    }
    return true;
}

static bool same_usages(const cr_namelist *a, const cr_namelist *b)
{
    return a->count == b->count &&
           (!a->count || !memcmp(a->idx, b->idx, a->count * sizeof *a->idx));
}

/* Merged trie w from its record rec: nodes whole, as many candidates as its policy's usages
 * hold, every item one of them with its data (a trusted read checks the record only). */
static bool read_walk(reader *r, const ce_image_cx *x, const uint32_t *rec, size_t w, cr_px_walk *k)
{
    const cr_config *c = r->cfg;
    const uint32_t *pw = ce_pi_recs(r, S_POLWALK);
    if (rec[WK_POLICY] >= c->npolicies || pw[rec[WK_POLICY]] != w ||
        !c->policies[rec[WK_POLICY]].usages.count ||
        c->policies[rec[WK_POLICY]].usages.count > UINT16_MAX ||
        count_cands(x, &c->policies[rec[WK_POLICY]].usages) != rec[WK_NCANDS] ||
        !nodes_ok(r, rec, S_WITEMS, "merged trie", w)) {
        if (!r->broken)
            ce_pi_broken(r, "merged trie", w);
        return false;
    }
    k->nodes = (cr_px_node *)(uintptr_t)((const cr_px_node *)sec_base(r, S_NODES) + rec[WK_NODE]);
    k->nnodes = rec[WK_NNODES];
    k->items =
        (cr_px_witem *)(uintptr_t)((const cr_px_witem *)sec_base(r, S_WITEMS) + rec[WK_ITEM]);
    k->nitems = rec[WK_NITEMS];
    k->ncands = rec[WK_NCANDS];
    k->policy = rec[WK_POLICY];
    k->borrowed = true;
    if (!r->trusted && !walk_items_ok(r, x, &c->policies[k->policy].usages, k)) {
        if (!r->oom)
            ce_pi_broken(r, "merged items", w);
        return false;
    }
    if (!dense_ok(r, rec, k)) {
        ce_pi_broken(r, "dense leaf blocks", w);
        return false;
    }
    return true;
}

/* The merged tries (S_WALKS, S_WITEMS) and each policy's (S_POLWALK): every trie whole, every
 * item the candidate of its policy's usages it names, every policy's walk one of a policy with
 * the same usages. A trusted read (CR_IMAGE_TRUSTED) checks the walks' records only. */
static bool read_walks(reader *r, ce_image_cx *x)
{
    const cr_config *c = r->cfg;
    size_t n = ce_pi_nrecs(r, S_WALKS);
    const uint32_t *rec = ce_pi_recs(r, S_WALKS), *pw = ce_pi_recs(r, S_POLWALK);
    x->walks = calloc(n + 1, sizeof *x->walks);
    if (!x->walks) {
        r->oom = true;
        return false;
    }
    for (size_t w = 0; w < n; w++, rec += sec_fields[S_WALKS])
        if (!read_walk(r, x, rec, w, &x->walks[w]))
            return false;
    for (size_t p = 0; p < c->npolicies; p++)
        if (pw[p] != NONE &&
            (pw[p] >= n ||
             (!r->trusted &&
              !same_usages(&c->policies[p].usages, &c->policies[x->walks[pw[p]].policy].usages)))) {
            ce_pi_broken(r, "policy walk", p);
            return false;
        }
    x->nwalks = n;
    x->policy_walk = pw;
    return true;
}

static bool counts_match(const reader *r)
{
    const cr_config *c = r->cfg;
    return ce_pi_nrecs(r, S_USERCX) == c->nusers && ce_pi_nrecs(r, S_UKEYS) == c->nusers &&
           ce_pi_nrecs(r, S_KINDS) == c->nroutes && ce_pi_nrecs(r, S_UHEAD) == c->nusages &&
           ce_pi_nrecs(r, S_TRIES) == c->nusages + c->nprofiles &&
           ce_pi_nrecs(r, S_POLWALK) == c->npolicies;
}

static void read_stats(const uint32_t *m, ce_image_cx *x)
{
    x->stats = (cr_index_stats){m[CX_RIX],
                                m[CX_RFB],
                                m[CX_RNV],
                                m[CX_UIX],
                                m[CX_UFB],
                                m[CX_UNV],
                                (size_t)((uint64_t)m[CX_BYTES_HI] << 32 | m[CX_BYTES_LO])};
    x->likely_profile = m[CX_LIKELY];
    x->likely_policy = m[CX_LIKELY_POLICY];
}

/* The caller table, the line index and the key cells (read_compiled's last three). */
static bool read_user_tables(reader *r, ce_image_cx *x)
{
    return read_uri_cells(r, x) && read_cells(r, &x->user_keys) &&
           read_line_slots(r, &x->line_slots, &x->line_cap);
}

typedef struct walks_job {
    reader r; /* a copy: its errors are the job's */
    ce_image_cx *x;
    bool ok;
} walks_job;

static void *walks_run(void *arg)
{
    walks_job *j = arg;
    j->ok = read_walks(&j->r, j->x);
    return NULL;
}

void ce_pi_read_compiled(reader *r)
{
    cr_config *c = r->cfg;
    const uint32_t *m = ce_pi_recs(r, S_CXMETA);
    if (!counts_match(r) || (m[CX_LIKELY] != NONE && m[CX_LIKELY] >= c->nprofiles) ||
        (m[CX_LIKELY_POLICY] != NONE && m[CX_LIKELY_POLICY] >= c->npolicies)) {
        ce_pi_broken(r, "compiled section", 0);
        return;
    }
    ce_image_cx *x = calloc(1, sizeof *x);
    if (!x) {
        r->oom = true;
        return;
    }
    c->cx = x; /* freed with the configuration from here on */
    read_stats(m, x);
    x->usage_tries = calloc(c->nusages + 1, sizeof *x->usage_tries);
    x->rule_tries = calloc(c->nprofiles + 1, sizeof *x->rule_tries);
    if (!x->usage_tries || !x->rule_tries) {
        r->oom = true;
        return;
    }
    for (size_t u = 0; u < c->nusages; u++)
        if (!usage_trie_absent(r, u) && !read_trie(r, u, (uint32_t)c->nroutes, &x->usage_tries[u]))
            return;
    for (size_t p = 0; p < c->nprofiles; p++)
        if (!read_trie(r, c->nusages + p, (uint32_t)c->profiles[p].nrules, &x->rule_tries[p]))
            return;
    x->route_kinds = sec_base(r, S_KINDS);
    if (!read_usage_routes(r, x))
        return;
    if (r->trusted || c->nusers < SPLIT_MIN) {
        (void)(read_walks(r, x) && walkless_usages_have_tries(r, x) && read_user_tables(r, x));
        return;
    }
    /* a first start: the merged walks checked on a second core while the user tables are
     * checked here, each on a copy of the reader; the first error in the order above wins */
    walks_job w = {*r, x, false};
    reader u = *r;
    pthread_t t;
    bool two = cr_thread_start(&t, walks_run, &w) == 0;
    if (!two)
        walks_run(&w);
    bool users = read_user_tables(&u, x);
    if (two)
        pthread_join(t, NULL);
    r->oom |= w.r.oom || u.oom;
    const reader *failed = !w.ok ? &w.r : NULL;
    if (!failed && !walkless_usages_have_tries(r, x))
        return;
    if (!failed && !users)
        failed = &u;
    if (failed && failed->broken && !r->broken) {
        r->broken = true;
        memcpy(r->why, failed->why, sizeof r->why);
    }
}

void ce_image_cx_free(ce_image_cx *x)
{
    if (!x)
        return;
    free(x->usage_tries);
    free(x->rule_tries);
    free(x->walks);
    free(x);
}

/* Inside of the engine: the cr_config struct and its indexes. Not for other layers. */
#ifndef CR_ENGINE_MODEL_H
#define CR_ENGINE_MODEL_H

#include "cr_engine.h"
#include "cr_grow.h"
#include "cr_index.h"
#include "cr_model.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * String -> index map, open addressing. A slot holds the upper half of the key's 64-bit hash
 * and the value + 1 (0 = empty); keys are not copied: `eq` compares a probe with the key of
 * a value (the object's own name), so the map costs 8 bytes a slot. `fold` makes the hash
 * case-insensitive (ASCII); `eq` must then compare the same way.
 */
typedef bool (*cr_index_eq)(const void *ud, uint32_t val, const char *key, size_t n);

typedef struct cr_index_slot {
    uint32_t hash;
    uint32_t val; /* value + 1, 0 = empty */
} cr_index_slot;

typedef struct cr_index {
    cr_index_slot *slots;
    size_t cap;
    bool fold;
    bool borrowed; /* slots live in a mapped plan image: not freed */
    cr_index_eq eq;
    const void *ud;
} cr_index;

/*
 * The reverse number lookup's table (user_line_ix): cr_index's open addressing over 16-byte
 * slots, four a cache line. Besides the tag and the value a slot holds its key packed
 * (ce_line_pack) when the key is a number of up to 16 digits and '+' (every E.164 line without
 * an extension): the lookup that meets such a slot compares the number there, in the line it
 * read to find the slot, not in the user's key cell (a second, dependent cache miss).
 */
typedef struct cr_line_slot {
    uint32_t hash;
    uint32_t val; /* value + 1, 0 = empty */
    uint64_t num; /* ce_line_pack of the key, 0: compared by `eq` */
} cr_line_slot;

typedef struct cr_line_table {
    cr_line_slot *slots;
    size_t cap;
    bool borrowed; /* slots live in a mapped plan image: not freed */
    cr_index_eq eq;
    const void *ud;
} cr_line_table;

#define CR_INDEX_NONE UINT32_MAX
/* Values of the user indexes carry a flag in their top bit (compile.c). */
#define CR_USER_IX_FLAG 0x80000000u
#define CR_USER_IX_MASK 0x7FFFFFFFu

int ce_index_init(cr_index *ix, size_t n, bool fold, cr_index_eq eq, const void *ud);
/* Slots of an open-addressing table of n keys: a power of two, at least 16, under 2/3 full
 * (every hash table of a plan: the indexes and the caller table). */
size_t ce_index_cap(size_t n);
/* The table of such a hash table: ce_index_cap(n) elements of `size` bytes, zeroed
 * (cr_table_alloc), their count in *cap; NULL (*cap unchanged) when out of memory. The cr_index,
 * the caller table and the line table each hold one, with a flag telling it borrowed from a plan
 * image. */
void *ce_index_table_new(size_t n, size_t size, size_t *cap);
/* Frees a table of ce_index_table_new (cap elements of `size` bytes) unless it is borrowed. */
void ce_index_table_free(void *slots, size_t cap, size_t size, bool borrowed);
void ce_index_free(cr_index *ix);
/* Inserts key -> val; returns the existing value (and does not replace) when present, or
 * CR_INDEX_NONE when inserted. */
uint32_t ce_index_put(cr_index *ix, const char *key, size_t n, uint32_t val);
uint32_t ce_index_get(const cr_index *ix, const char *key, size_t n);
/* The same with the key's hash already computed (ce_hash with the index's fold). */
uint32_t ce_index_get_hashed(const cr_index *ix, const char *key, size_t n, uint64_t h);
/* ce_index_get_hashed's probe with the key compare given: inlined, a compare known where it is
 * called (a lookup's own fast compare of the key cells) is called directly, not through ix->eq. */
static inline __attribute__((always_inline)) uint32_t ce_index_probe(const cr_index *ix,
                                                                     const char *key, size_t n,
                                                                     uint64_t h, cr_index_eq eq,
                                                                     const void *ud)
{
    if (!ix->cap)
        return CR_INDEX_NONE;
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        const cr_index_slot *s = &ix->slots[i];
        if (!s->val)
            return CR_INDEX_NONE;
        if (s->hash == tag && eq(ud, s->val - 1, key, n))
            return s->val - 1;
    }
}
/* Asks the CPU for the slot a lookup of hash h starts at, ahead of the lookup. */
static inline void ce_index_prefetch(const cr_index *ix, uint64_t h)
{
    if (ix->cap)
        __builtin_prefetch(&ix->slots[h & (ix->cap - 1)]);
}

uint64_t ce_hash(const char *s, size_t n, bool fold);
/* ce_hash in parts, for a caller that hashes words it reads anyway (cr_uri_key): the start
 * for n bytes, one 8-byte word (little-endian; the last one shifted down to the bytes left),
 * the end. The tables of a plan image are placed with these: they do not change. */
#define CE_HASH_M 0x9E3779B97F4A7C15ull
static inline uint64_t ce_hash_start(size_t n)
{
    return n * CE_HASH_M;
}
static inline uint64_t ce_hash_step(uint64_t h, uint64_t w)
{
    h = (h ^ w) * CE_HASH_M;
    return h ^ (h >> 29);
}
static inline uint64_t ce_hash_end(uint64_t h)
{
    h *= CE_HASH_M;
    return h ^ (h >> 32);
}
/* ce_hash(s, n, false), inline: eight bytes a step from 8 bytes on (little-endian). */
static inline uint64_t ce_hash_bytes(const char *s, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n >= 8) {
        uint64_t h = ce_hash_start(n), w;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __builtin_memcpy(&w, s + i, 8);
            h = ce_hash_step(h, w);
        }
        if (i < n) {
            __builtin_memcpy(&w, s + n - 8, 8);
            h = ce_hash_step(h, w >> 8 * (8 - (n - i)));
        }
        return ce_hash_end(h);
    }
#endif
    return ce_hash(s, n, false);
}

/* s[0..n) packed four bits a character (digits 1..10, '+' 12; character i < 8 in the low half of
 * byte i, character 8 + i in its high half) when it is 1 to 16 digits and '+'; 0 otherwise. Two
 * strings packed alike (not 0) are equal. */
uint64_t ce_line_pack(const char *s, size_t n);

/* Room for n keys (ce_index_cap slots), compared by eq(ud, ...) (cr_index's) where a slot holds
 * none packed. CR_OK or CR_ENOMEM. */
int ce_line_table_init(cr_line_table *t, size_t n, cr_index_eq eq, const void *ud);
/* Frees the slots unless borrowed (a plan image's); t is left empty. */
void ce_line_table_free(cr_line_table *t);
/* ce_index_put on the line table (its slot's key packed). */
uint32_t ce_line_table_put(cr_line_table *t, const char *key, size_t n, uint32_t val);

/* A reverse number lookup in the same two steps (cr_user_by_number). */
typedef struct cr_line_probe {
    const char *number, *ext;
    size_t n;
    uint64_t h; /* of the bare number, when there is no extension */
    /* the slot the probe starts at (asked for from memory), NULL with an extension or an
     * empty index */
    const cr_line_slot *slot;
} cr_line_probe;
/* The lookup's first step: the number's hash and its slot asked for from memory (inline: one
 * call fewer in a decision). */
static inline void ce_line_probe_start(const cr_config *c, const char *number, size_t n,
                                       const char *ext, cr_line_probe *p);
/* ce_line_probe_finish when a host source is asked, or the probe has no slot. */
const cr_user *ce_line_probe_finish_slow(const cr_config *c, const cr_runtime *rt,
                                         const cr_line_probe *p);
/* ce_line_probe_finish of a probe with a slot, no host source asked, once slot i (the first
 * slot of the number's tag from the probe's) is met: the lookup goes on from slot i. */
const cr_user *ce_line_probe_finish_at(const cr_config *c, const cr_line_probe *p, size_t i);
/* The user cr_user_by_number finds (configuration, then rt->users). A number whose probe
 * meets an empty slot before any slot of its tag (a number that is no line, most often) is
 * answered NULL here, when no host source is asked. */
static inline const cr_user *ce_line_probe_finish(const cr_config *c, const cr_runtime *rt,
                                                  const cr_line_probe *p);

/*
 * The caller table: users by URI key, open addressing over 16-byte cells (four a cache line).
 * A cell holds the upper half of the key's hash, the user (index + 1, flagged as the values of
 * cr_index: CR_USER_IX_FLAG when the user's uri is not its key) and what an outbound decision
 * reads of its caller (voice policy and location profile indexes, Enterprise Voice), so that
 * a decision goes on from the cell while the key, at the same slot of the table's keys (asked
 * for with the cell), is still on its way; the key is compared before the decision's answer is
 * final (cr_route_decide).
 */
#define CR_CELL_NONE 0xFFFFu /* policy or profile: none (index -1) */
#define CR_CELL_HOT  1u      /* hot: policy, profile and CR_CELL_EV are the user's */
#define CR_CELL_EV   2u      /* hot: the user is enabled for Enterprise Voice */
typedef struct cr_user_cell {
    uint32_t tag;     /* (uint32_t)(hash >> 32) */
    uint32_t val;     /* user index + 1 (flagged), 0: empty */
    uint16_t policy;  /* the user's policy_idx, CR_CELL_NONE: -1 */
    uint16_t profile; /* the user's profile_idx, CR_CELL_NONE: -1 */
    uint8_t hot;      /* CR_CELL_*; 0 when an index does not fit (the user is read instead) */
    uint8_t pad[3];   /* 0 */
} cr_user_cell;

/* The table's keys by slot: keys[i] is the URI key of the user of cells[i] (its user's key
 * cell, CR_KEY_LONG when the key does not fit: compared with the user), all zero for an empty
 * cell. A lookup knows both addresses from the hash alone, so the cell and the key are fetched
 * together rather than the key after the cell. */
typedef struct cr_key_cell cr_key_cell;
typedef struct cr_user_table {
    cr_user_cell *cells; /* [cap], cap a power of two, 64-byte aligned */
    cr_key_cell *keys;   /* [cap], 64-byte aligned */
    size_t cap;
    bool borrowed; /* cells and keys live in a mapped plan image: not freed */
} cr_user_table;

/* Room for n users (load at most 2/3). */
int ce_user_table_init(cr_user_table *t, size_t n);
void ce_user_table_free(cr_user_table *t);
/* Inserts key -> val (a user index, flagged); returns the value already there (and does not
 * replace it), or CR_INDEX_NONE when inserted. The users' key cells must be set. */
uint32_t ce_user_table_put(cr_config *c, const char *key, size_t n, uint32_t val);
/* Sets every cell's hot fields from its user (after compile resolved policies and profiles). */
void ce_user_table_set_hot(cr_config *c);
/* The hot fields a cell of user u holds. */
void ce_user_cell_hot(const cr_config *c, const cr_user *u, cr_user_cell *cell);
/* The value of key (n characters, hash h: ce_uri_hash), CR_INDEX_NONE when none. */
uint32_t ce_user_table_get(const cr_config *c, const char *key, size_t n, uint64_t h);
/* The hash of a URI key in the caller table. */
static inline uint64_t ce_uri_hash(const char *key, size_t n)
{
    return ce_hash(key, n, false);
}
/* cr_uri_key, and the key's ce_uri_hash in *h (from the same pass when it can). */
size_t ce_uri_key_hash(const char *uri, char *out, size_t len, uint64_t *h);

/* A caller lookup in steps (cr_route_decide): the key, its hash and the prefetch of its cell
 * first, other work while the cell comes, then the peek at the cell, then the probe or the
 * confirmation of the cell's user. */
typedef struct cr_user_probe {
    const char *uri;
    const char *k; /* the key (n characters): `uri` itself when it is its own key, else `key` */
    size_t n;      /* 0: not a SIP URI */
    uint64_t h;
    const cr_user_cell *cell; /* ce_user_probe_peek: the probe's first cell of its tag, or NULL */
    bool peeked;
    char key[CR_URI_MAX];
} cr_user_probe;
/* Computes the key and its hash and asks for the cell at the hash's slot and the key at the
 * same slot (cr_user_table.keys) together. */
void ce_user_probe_start(const cr_config *c, const char *uri, cr_user_probe *p);
/* Reads the probe's cache line of cells (once it has come): sets p->cell to the first cell of
 * the probe's tag when it lies there, with hot fields (the user is not read). NULL when the lookup
 * needs more (ce_user_probe_finish). */
void ce_user_probe_peek(const cr_config *c, cr_user_probe *p);
/* Whether p->cell's user is the one the probe finds: its key compared with the probe's. */
bool ce_user_probe_confirm(const cr_config *c, const cr_user_probe *p);
/* The user cr_user_find would return (configuration, then rt->users). */
const cr_user *ce_user_probe_finish(const cr_config *c, const cr_runtime *rt,
                                    const cr_user_probe *p);
/* Routes of one usage, in configuration order (pre-selection by usage). */
typedef struct cr_usage_routes {
    uint32_t *routes;
    size_t count;
} cr_usage_routes;

/*
 * A user's lookup key in a fixed-size cell by user number. An index slot names the user, so
 * the key is read from an address known from the slot alone while the user itself is fetched
 * in parallel: two dependent cache misses a lookup instead of three (slot, user, string).
 * Keys that do not fit are compared with the user's own strings.
 */
#define CR_KEY_CELL 32
#define CR_KEY_LONG 0xFF /* len of a key that does not fit */
#define CR_KEY_SAME 1u   /* flags: the URI key is the user's uri as written */
#define CR_KEY_EXT  2u   /* flags: the line has an extension */
struct cr_key_cell {
    uint8_t len;
    uint8_t flags;
    char s[CR_KEY_CELL - 2];
};

/* A user's two key cells side by side, one cache line: a line lookup that finds the user
 * compares the number and names the user by its URI key from that one line. */
typedef struct cr_user_keys {
    cr_key_cell uri;  /* the URI key */
    cr_key_cell line; /* the line number (flags: CR_KEY_EXT) */
} cr_user_keys;

/* Fills a cell with key[0..n). */
void ce_key_cell_set(cr_key_cell *cell, const char *key, size_t n, unsigned flags);

/* What follows the user part in a gateway's Request-URIs: the host of its address (after
 * "sip:" and any "user@"), set by compile so that decisions need not search for it; with the
 * gateway's remove_plus, all a decision reads of a gateway it adds (16 bytes: four to a cache
 * line, where the gateway's record is 72 bytes). */
typedef struct cr_gateway_host {
    const char *host;
    uint32_t len;     /* hosts are shorter than CR_URI_SHORT in any attempt */
    bool remove_plus; /* the gateway's */
} cr_gateway_host;
_Static_assert(sizeof(cr_gateway_host) == 16, "gateway host layout");

/* Memory the configuration's strings and compiled name lists live in: one free at the end. */
typedef struct cr_arena_chunk {
    struct cr_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
} cr_arena_chunk;

void *ce_arena_alloc(cr_config *cfg, size_t n);
/* Moves a compiled configuration's routes into a table on huge pages when large (model.c). */
void ce_routes_to_table(cr_config *c);

/* Where each name of a list built by cr_namelist_add was given: after the names, until
 * compile moves the list into the arena. */
static inline cr_srcloc *ce_namelist_locs(const cr_namelist *l)
{
    return (cr_srcloc *)(void *)(l->names + l->cap);
}

/* Bytes another layer compiled into the plan image under a name (cr_config_attach). */
typedef struct cr_attachment {
    char *name;
    void *bytes;
    size_t len;
} cr_attachment;

struct cr_config {
    bool has_response_groups;
    char **domains;
    size_t ndomains, capdomains;
    cr_profile *profiles;
    size_t nprofiles, capprofiles;
    cr_usage *usages;
    size_t nusages, capusages;
    cr_policy *policies;
    size_t npolicies, cappolicies;
    cr_gateway *gateways;
    size_t ngateways, capgateways;
    cr_route *routes;
    size_t nroutes, caproutes;
    cr_user *users;
    size_t nusers, capusers;
    char **interned;
    size_t ninterned, capinterned;
    cr_arena_chunk *arena;
    /* names of lists, interned while loading (usages and gateways repeat in every route) */
    const char **names_set;
    size_t names_n, names_cap;
    bool lists_in_arena; /* set by compile: name lists no longer own malloc'd blocks */

    char *default_profile_name, *default_policy_name;
    cr_srcloc default_profile_loc, default_policy_loc;
    char *directory; /* <directory path>, resolved; NULL when none */
    cr_srcloc directory_loc;
    uint64_t source_digest;         /* of the source files (plan images) */
    struct cr_attachment *attached; /* carried by plan images (the response groups) */
    size_t nattached, capattached;
    /* A read-only block the configuration's strings may point into instead of being copied
     * (a mapped plan image: ce_config_borrow), released by cr_config_free. */
    const char *borrow_lo, *borrow_hi;
    void (*borrow_release)(void *ud);
    void *borrow_ud;

    /* set by compile */
    bool compiled;
    const cr_profile *default_profile;
    const cr_policy *default_policy;
    cr_index profile_ix, profile_fold_ix, gateway_ix;
    cr_user_table user_uri_tab;       /* the caller table */
    cr_line_table user_line_ix;       /* the reverse number lookup */
    cr_user_keys *user_keys;          /* [nusers]: URI keys and line numbers, 64-byte aligned */
    size_t user_keys_bytes;           /* what cr_table_alloc gave user_keys (compile) */
    const cr_profile *likely_profile; /* most users' profile, NULL when no half have one */
    const cr_policy *likely_policy;   /* most users' voice policy, NULL when no half */
    cr_index usage_ix, policy_ix, route_ix; /* while compiling only */
    struct cr_route_analysis *analysis;     /* while compiling only (route_index.c) */
    cr_usage_routes *usage_routes;          /* [nusages] */
    cr_gateway_host *gateway_hosts;         /* [ngateways], in the arena */
    uint32_t gateway_host_max;              /* the longest of their hosts (0: none) */
    struct cr_route_index *route_index;
    /* the broad routes' automata (route_index.h, ce_route_dfa), owned by route_index */
    const struct cr_route_dfa *route_dfa; /* NULL when there is one at most: */
    uint32_t route_dfa_mask;
    uint32_t route_dfa1_route; /* that route's (0 with route_dfa1 NULL: none) */
    const struct cr_px_dfa *route_dfa1;
    /* what a plan image read in place holds compiled (plan_image_cx.c): cr_config_compile
     * adopts it instead of building, then drops it */
    struct ce_image_cx *cx;
    bool cells_borrowed, usage_routes_borrowed; /* user_keys, usage_routes[].routes */
    /* Routes of a configuration adopted from a plan image are filled on first use (ce_route):
     * route_state[i] is 0 not yet, 1 being filled, 2 filled; route_src says from what. NULL
     * for a configuration built any other way (every route filled). route_done has bit i set
     * once route i is filled: what ce_route reads on every use, a bit a route rather than a
     * byte so that at 400,000 routes the checks' lines (50 KB) stay in the caches where
     * route_state's (400 KB) did not; route_state is read only to claim a fill. */
    _Atomic uint8_t *route_state;
    _Atomic uint64_t *route_done;
    struct ce_route_src *route_src;
    bool routes_mapped; /* routes is an anonymous mapping of caproutes routes (munmap) */
    bool routes_table;  /* routes is a cr_table_alloc table of caproutes routes (compile) */
    bool small_pages;   /* cr_config_set_image_only: no huge pages for strings and routes */
    _Atomic uint8_t *user_state; /* the same for users (ce_user) */
    _Atomic uint64_t *user_done;
    bool users_mapped;
    bool image_whole; /* adopted from the borrowed block, a plan image: writing an image of this
                       * configuration is copying that one (cr_image_build) */
    cr_workflow *workflows; /* call targets of response groups (workflow.c) */
    size_t nworkflows, capworkflows;
    cr_index workflow_uri_ix, workflow_line_ix; /* set by compile */
};

static inline void ce_line_probe_start(const cr_config *c, const char *number, size_t n,
                                       const char *ext, cr_line_probe *p)
{
    p->number = number;
    p->ext = ext;
    p->n = n;
    p->slot = NULL;
    if (ext && *ext) /* the probe starts with "number;ext=...": cr_config_user_by_number */
        return;
    const cr_line_table *ix = &c->user_line_ix;
    p->h = ce_hash_bytes(number, n);
    if (ix->cap) {
        p->slot = &ix->slots[p->h & (ix->cap - 1)];
        __builtin_prefetch(p->slot);
    }
}

/* Cells per cache line: a peek reads the line its probe starts in, and the next one when it
 * starts in the second half of its line (a key placed a few cells on by linear probing is
 * then still found from its cell, not by ce_user_probe_finish and the user's record). */
#define CE_CELLS_PER_LINE (64 / sizeof(cr_user_cell))
static inline bool ce_peek_two_lines(const cr_user_table *t, size_t i)
{
    return (i & (CE_CELLS_PER_LINE - 1)) >= CE_CELLS_PER_LINE / 2 && t->cap > CE_CELLS_PER_LINE;
}

/* ce_user_probe_peek (users.c), in line for a decision. */
static inline __attribute__((always_inline)) void ce_user_probe_peek_in_line(const cr_config *c,
                                                                             cr_user_probe *p)
{
    const cr_user_table *t = &c->user_uri_tab;
    p->cell = NULL;
    p->peeked = true;
    if (!p->n || !t->cap)
        return;
    uint32_t tag = (uint32_t)(p->h >> 32);
    size_t i = p->h & (t->cap - 1);
    size_t k = CE_CELLS_PER_LINE - (i & (CE_CELLS_PER_LINE - 1)); /* cells to the end of the line */
    if (ce_peek_two_lines(t, i))
        k += CE_CELLS_PER_LINE;
    for (; k; k--, i = (i + 1) & (t->cap - 1)) {
        const cr_user_cell *s = &t->cells[i];
        if (!s->val)
            return; /* no such key here: ce_user_probe_finish says so (or asks rt->users) */
        if (s->tag == tag) {
            if (!(s->hot & CR_CELL_HOT))
                return;
            __builtin_prefetch(&t->keys[i]); /* asked for already at the home slot */
            p->cell = s;
            return;
        }
    }
}

/* Whether a[0..n) equals b[0..n): eight bytes a step from 8 bytes on (the last word overlaps
 * the one before it), for keys of a key cell and the like. */
static inline bool ce_key_bytes_eq(const char *a, const char *b, size_t n)
{
    if (n < 8)
        return memcmp(a, b, n) == 0;
    uint64_t x, y, d;
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    d = x ^ y;
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        d |= x ^ y;
    }
    return d == 0;
}

/* ce_uri_key_eq for a user whose key is not in a cell: compared with its uri (users.c). */
bool ce_uri_key_eq_user(const cr_config *c, uint32_t v, const char *key, size_t n);

/* Whether user value v (flagged) has URI key key[0..n): its key cell, else its uri. */
static inline bool ce_uri_key_eq(const cr_config *c, uint32_t v, const char *key, size_t n)
{
    uint32_t i = v & CR_USER_IX_MASK;
    if (c->user_keys && c->user_keys[i].uri.len != CR_KEY_LONG)
        return c->user_keys[i].uri.len == n && ce_key_bytes_eq(c->user_keys[i].uri.s, key, n);
    return ce_uri_key_eq_user(c, v, key, n);
}

/* Whether the user of the caller table's slot i has URI key key[0..n): the key at that slot,
 * else (a key that does not fit) the user's uri. */
static inline __attribute__((always_inline)) bool ce_uri_slot_eq(const cr_config *c, size_t i,
                                                                 const char *key, size_t n)
{
    const cr_key_cell *k = &c->user_uri_tab.keys[i];
    if (k->len != CR_KEY_LONG)
        return k->len == n && ce_key_bytes_eq(k->s, key, n);
    return ce_uri_key_eq_user(c, c->user_uri_tab.cells[i].val - 1, key, n);
}

/* ce_user_probe_confirm (users.c), in line for a decision. */
static inline __attribute__((always_inline)) bool
ce_user_probe_confirm_in_line(const cr_config *c, const cr_user_probe *p)
{
    return p->cell && ce_uri_slot_eq(c, (size_t)(p->cell - c->user_uri_tab.cells), p->k, p->n);
}

static inline const cr_user *ce_line_probe_finish(const cr_config *c, const cr_runtime *rt,
                                                  const cr_line_probe *p)
{
    if (p->slot && !(rt && rt->users && rt->users->by_number)) {
        const cr_line_slot *slots = p->slot - (p->h & (c->user_line_ix.cap - 1));
        uint32_t tag = (uint32_t)(p->h >> 32);
        for (size_t i = (size_t)(p->slot - slots);; i = (i + 1) & (c->user_line_ix.cap - 1)) {
            if (!slots[i].val)
                return NULL;
            if (slots[i].hash == tag) /* the key compared there, the probe going on from it */
                return ce_line_probe_finish_at(c, p, i);
        }
    }
    return ce_line_probe_finish_slow(c, rt, p);
}

/*
 * Strings given to the cr_config_add_* functions (and cr_config_strdup, cr_config_intern) that
 * lie NUL-terminated inside [base, base + len) are kept where they are instead of being copied:
 * the block must stay mapped, unchanged, for the configuration's whole life; cr_config_free
 * calls release(ud) last (release may be NULL). One block per configuration.
 */
void ce_config_borrow(cr_config *cfg, const void *base, size_t len, void (*release)(void *ud),
                      void *ud);
/* True when s points into the borrowed block. */
bool ce_config_borrowed(const cr_config *cfg, const void *s);

/*
 * The compiled part of a configuration as a plan image holds it, read in place: every pointer
 * points into the mapped image except the two trie arrays (malloc'd, owned here). Set by
 * cr_image_read_ex with CR_IMAGE_BORROW after checking every index and offset in it;
 * cr_config_compile then adopts it (ce_config_adopt) rather than analysing and indexing again.
 */
typedef struct ce_image_cx {
    struct cr_px_trie *usage_tries; /* [nusages] */
    struct cr_px_trie *rule_tries;  /* [nprofiles] */
    const uint8_t *route_kinds;     /* [nroutes], CR_RK_* */
    cr_index_stats stats;
    cr_user_cell *uri_cells;
    cr_key_cell *uri_keys; /* [uri_cap] */
    cr_line_slot *line_slots;
    size_t uri_cap, line_cap;
    cr_user_keys *user_keys;    /* [nusers] */
    const uint32_t *route_ids;  /* the routes of every usage, one after another */
    const uint32_t *usage_head; /* [nusages][2]: first and count in route_ids */
    uint32_t likely_profile;    /* profile index, UINT32_MAX: none */
    uint32_t likely_policy;     /* policy index, UINT32_MAX: none */
    bool lint;                  /* run lint after adopting (CR_IMAGE_NOLINT not given) */
    bool trusted;               /* read with CR_IMAGE_TRUSTED: translations compiled on use */
    /* the merged tries read in place: walks[nwalks], each policy's in policy_walk[npolicies] */
    struct cr_px_walk *walks;
    size_t nwalks;
    const uint32_t *policy_walk;
} ce_image_cx;
void ce_image_cx_free(ce_image_cx *x);

/* Route i of a configuration (filled from its plan image on first use, plan_image_cx.c). */
const cr_route *ce_route_fill(const cr_config *c, size_t i);
void ce_route_src_free(struct ce_route_src *s);
/* Whether bit i of a fill bit set (route_done, user_done) is set: object i filled. */
static inline bool ce_fill_done(_Atomic uint64_t *done, size_t i)
{
    return (atomic_load_explicit(&done[i / 64], memory_order_acquire) >> (i % 64)) & 1u;
}
static inline const cr_route *ce_route(const cr_config *c, size_t i)
{
    if (__builtin_expect(c->route_done != NULL, 0) && !ce_fill_done(c->route_done, i))
        return ce_route_fill(c, i);
    return &c->routes[i];
}
const cr_user *ce_user_fill(const cr_config *c, size_t i);
/* User i of a configuration (filled from its plan image on first use). */
static inline const cr_user *ce_user(const cr_config *c, size_t i)
{
    if (__builtin_expect(c->user_done != NULL, 0) && !ce_fill_done(c->user_done, i))
        return ce_user_fill(c, i);
    return &c->users[i];
}
/* Whether route i has been filled (nothing to free in one that was not). */
static inline bool ce_route_filled(const cr_config *c, size_t i)
{
    return !c->route_done || ce_fill_done(c->route_done, i);
}

/* Frees what compile built (patterns, indexes). */
void ce_compiled_free(cr_config *cfg);

/* workflow.c: indexes the workflow call targets (errors into d); frees the array and indexes. */
void ce_workflows_compile(cr_config *cfg, cr_diag *d);
void ce_workflows_free(cr_config *cfg);

/* ---- regex.c: PCRE2 with JIT and match limits ---- */

/* PCRE2 limits: a pattern that backtracks catastrophically stops here. */
#define CR_MATCH_LIMIT 200000
#define CR_DEPTH_LIMIT 10000

/* Compiles `pattern` (no JIT: see ce_re_jit). On error returns NULL with the PCRE2 message and
 * the offset. */
void *ce_re_compile(const char *pattern, char *err, size_t errlen, size_t *erroffset);
/* Offset + 1 of a .NET character-class subtraction ("-[" inside a class), 0 when none. */
size_t ce_re_class_subtraction(const char *pattern);
/* The capture groups of `pattern` read from its syntax (PCRE2's count: named or not), without
 * compiling it; -1 when there are more than two. */
int ce_re_group_count(const char *pattern);
/* JIT-compiles a compiled pattern (before the config is shared between threads). */
void ce_re_jit(void *re);
/* The compiled pattern of a route, compiled on first use when compile left it out (patterns
 * the route index decides exactly); published with a compare-and-swap, so that decisions on
 * many threads may race here. No JIT: a naive scan runs thousands of patterns once each,
 * where the interpreter is faster than JIT code spread over thousands of pages. NULL when
 * out of memory. */
const void *ce_route_re(const cr_route *r);
/* ce_route_re, inline when the pattern is compiled already (a decision's case). */
static inline const void *ce_route_re_now(const cr_route *r)
{
    const void *re = __atomic_load_n(&r->re, __ATOMIC_ACQUIRE);
    return re ? re : ce_route_re(r);
}
/* The compiled pattern of a normalization rule, compiled on first use when compile left it
 * out (a rule of a plan image whose translation is decided without PCRE2:
 * ce_xlat_compile_shape); published like ce_route_re's. NULL when out of memory. */
const void *ce_rule_re(const cr_rule *r);
/* The same with JIT code, as an index gives the rules it runs through PCRE2 (a lazy
 * translation of a rule not of the simple shape, ce_xlat_lazy). */
const void *ce_rule_re_jit(const cr_rule *r);
/* Up to this many routes every route pattern gets JIT code (route_index.c). */
#define CR_JIT_ALL_ROUTES 20000
void ce_re_free(void *re);
uint32_t ce_re_capture_count(const void *re);
/* Group number of a named group, or -1. */
int ce_re_group_number(const void *re, const char *name);
/* Names and numbers of named groups: calls fn for each. */
void ce_re_names(const void *re, void (*fn)(void *ud, const char *name, int num), void *ud);

#define CR_RE_PARTIAL  1u /* PCRE2_PARTIAL_HARD */
#define CR_RE_ANCHORED 2u

/*
 * Matches s[0..n) from `start`. Returns the number of groups + 1 on a match (ovector pairs in
 * *ov, unset groups as SIZE_MAX; 1 when ov is NULL), 0 no match, CR_RE_PARTIAL_MATCH for a partial
 * match (with CR_RE_PARTIAL), CR_ELIMIT when a limit was hit. The ovector lives in thread-local
 * storage and is valid until the next match on the same thread.
 */
#define CR_RE_PARTIAL_MATCH (-100)
int ce_re_exec(const void *re, const char *s, size_t n, size_t start, unsigned flags,
               const size_t **ov);
/* ce_re_exec(re, s, n, 0, 0, NULL): whether re matches s[0..n) (1, 0, or CR_ELIMIT...), in
 * fewer instructions once the thread has matched before (a route's pattern in a decision). */
int ce_re_test(const void *re, const char *s, size_t n);

/* ---- translation.c ---- */

/* Parses a .NET replacement string against a compiled pattern (`pattern` is its source, read
 * for shapes that need no PCRE2). Returns the compiled form (free with ce_xlat_free), or NULL
 * with a message in err (a group the pattern lacks). */
void *ce_xlat_compile(const char *translation, const char *pattern, const void *re, char *err,
                      size_t errlen);
/* The same without the compiled pattern, for a pattern of the simple shape whose translation
 * names no group by name: the groups are read from the shape. NULL with err empty when the
 * pattern needs its code (then use ce_xlat_compile), NULL with a message when out of memory. */
void *ce_xlat_compile_shape(const char *translation, const char *pattern, char *err, size_t errlen);
void ce_xlat_free(void *x);
/* A rule's translation compiled on first use, in place (a trusted read of a plan image,
 * whose writer compiled every translation: compile_profiles). Every function below, and
 * cr_rule_apply, fills it when it is used first. NULL when out of memory. */
void *ce_xlat_lazy(const cr_rule *r);
/* False while a lazy translation has not been used yet (tests). */
bool ce_xlat_lazy_filled(const void *x);
/* True when the rule's pattern has the simple shape that normalization decides and
 * translates without PCRE2 (PCRE2 then only serves device dialing and naive scans). */
bool ce_xlat_is_simple(const void *x);
/* cr_rule_apply for a rule of the simple shape and `in` (n characters, 1 to CR_NUMBER_MAX)
 * made of the alphabet, without PCRE2: 1 match (out written), 0 no match, CR_ERANGE result
 * too long, -1 when the rule is not of that shape. */
int ce_rule_apply_simple(const cr_rule *r, const char *in, size_t n, char *out, size_t outlen);
/* The same for a rule's compiled translation (its `xlat`), without reading the rule; with
 * `sure`, the caller knows the pattern matches `in` (the rule index decided it: an exact
 * prefix), which is then not checked again. *outn: the length written, on a match. */
int ce_xlat_apply_simple(const void *x, const char *in, size_t n, bool sure, char *out,
                         size_t outlen, size_t *outn);

/* ---- engine-internal helpers that no other layer calls --------------------------------- */

/* True for "+" followed by 1-15 digits. */
bool ce_is_e164(const char *s);
/* cr_number_parse, and whether out->digits is decimal digits after an optional '+' (*plain:
 * the usual dialed number, read by words; false does not say it is not). */
int ce_number_parse(const char *in, cr_number *out, bool *plain);
/* cr_number_parse of anything but the usual dialed number (its start already cleared;
 * `tried`: ce_parse_digits tried `in` already). */
int ce_number_parse_any(const char *in, cr_number *out, bool tried);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The top bit of each byte of w that is not a decimal digit: a byte over 0x7F, or one whose
 * sums with 0x50 and 0x46 (carrying into no other byte) say it is below '0' or above '9'. */
static inline uint64_t ce_not_digits(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t x = w & ~highs;
    return ((~(x + (0x80 - '0') * ones) | (x + (0x7F - '9') * ones)) | w) & highs;
}

/* A number written "+C (AAA) BBB-CCCC" (17 characters; C, A, B decimal digits): what
 * parse_plain makes of it ("+CAAABBBCCCC", its separators dropped), three words read. False for
 * anything else, n not 17 included (parse_plain then reads it). */
static inline __attribute__((always_inline)) bool ce_parse_nanp(const char *in, size_t n,
                                                                cr_number *out)
{
    if (n != 17)
        return false;
    const uint64_t zeros = 0x3030303030303030ull;
    /* in[0..8): '+', digit, ' ', '(', 3 digits, ')'; in[9..17): 3 digits, '-', 4 digits */
    const uint64_t m0 = 0xFF000000FFFF00FFull, t0 = 0x2900000028200000ull | '+';
    const uint64_t m2 = 0x00000000FF000000ull, t2 = 0x000000002D000000ull;
    uint64_t w0, w2;
    memcpy(&w0, in, 8);
    memcpy(&w2, in + 9, 8);
    uint64_t bad = ((w0 & m0) ^ t0) | ((w2 & m2) ^ t2) | (uint64_t)(in[8] ^ ' ') |
                   ce_not_digits((w0 & ~m0) | (zeros & m0)) |
                   ce_not_digits((w2 & ~m2) | (zeros & m2));
    if (bad)
        return false;
    memcpy(out->digits, in, 2);         /* "+C" */
    memcpy(out->digits + 2, in + 4, 4); /* "AAA)", its ')' written over next */
    memcpy(out->digits + 5, in + 9, 4); /* "BBB-", its '-' written over next */
    memcpy(out->digits + 8, in + 13, 4);
    out->digits[12] = 0;
    out->ndigits = 12;
    out->dialable = true;
    return true;
}

/* A number of 1 to CR_NUMBER_MAX decimal digits after an optional '+' ("+14255550100",
 * "5550100", "911"), eight bytes a step (the last word overlaps the one before it; under 8
 * bytes, two words of four; under 4, its first, middle and last characters): what parse_plain
 * makes of it, or of a number ce_parse_nanp reads. False for anything else (parse_plain then
 * reads it). */
static inline __attribute__((always_inline)) bool ce_parse_digits(const char *in, cr_number *out)
{
    size_t n = strlen(in);
    if (n - 4 > CR_NUMBER_MAX - 4) { /* under 4 (a short code), or too long */
        if (n - 1 >= 3)
            return false;
        unsigned a = (unsigned char)in[0], b = (unsigned char)in[n >> 1];
        unsigned e = (unsigned char)in[n - 1];
        if ((a - '0' > 9 && (a != '+' || n == 1)) || (n > 1 && (b - '0' > 9 || e - '0' > 9)))
            return false;
        out->digits[0] = (char)a;
        out->digits[n >> 1] = (char)b;
        out->digits[n - 1] = (char)e;
        out->digits[n] = 0;
        out->ndigits = n;
        out->dialable = true;
        return true;
    }
    uint64_t w, bad;
    if (n < 8) {
        uint32_t lo, hi;
        memcpy(&lo, in, 4);
        memcpy(&hi, in + n - 4, 4);
        memcpy(out->digits, &lo, 4);
        memcpy(out->digits + n - 4, &hi, 4);
        w = lo | (uint64_t)hi << 32;
    } else {
        memcpy(&w, in, 8);
        memcpy(out->digits, &w, 8);
    }
    bad = ce_not_digits(in[0] == '+' ? (w & ~0xFFull) | '0' : w);
    size_t i = 8;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, in + i, 8);
        memcpy(out->digits + i, &w, 8);
        bad |= ce_not_digits(w);
    }
    if (i < n) {
        memcpy(&w, in + n - 8, 8);
        memcpy(out->digits + n - 8, &w, 8);
        bad |= ce_not_digits(w);
    }
    if (bad) /* "+1 (425) 555-0100" read here too */
        return ce_parse_nanp(in, n, out);
    out->digits[n] = 0;
    out->ndigits = n;
    out->dialable = true;
    return true;
}
#endif

/* ce_number_parse (number.c), in line for a decision: the usual dialed number read here,
 * anything else by ce_number_parse_any. */
static inline __attribute__((always_inline)) int
ce_number_parse_in_line(const char *in, cr_number *out, bool *plain)
{
    *plain = false;
    /* the strings are read up to their NUL: no need to clear all of them */
    out->digits[0] = out->context[0] = out->ext[0] = out->host[0] = 0;
    out->ndigits = 0;
    out->is_sip = out->secure = out->dialable = false;
    out->invalid = NULL;
    if (!in)
        return CR_EINVAL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the usual dialed number, digits after an optional '+', read here (in the caller's frame:
     * what ce_number_parse_any reads would have it save registers on every call) */
    bool digits = (*in >= '0' && *in <= '9') || *in == '+';
    if (digits && ce_parse_digits(in, out)) {
        *plain = true;
        return CR_OK;
    }
    return ce_number_parse_any(in, out, digits);
#else
    return ce_number_parse_any(in, out, false);
#endif
}

/* cr_profile_normalize of `digits` (n characters, n == strlen(digits)), which also gives the
 * normalized number's length (*outn, on CR_OK): a decision reads neither length again. With
 * `plain`, digits is known to be decimal digits after an optional '+' (ce_number_parse's), not
 * checked again. */
int ce_profile_normalize_n(const cr_profile *p, const char *digits, size_t n, bool plain, char *out,
                           size_t outlen, size_t *outn, const cr_rule **rule, cr_trace *trace);
/* The voice policy that applies to a user (the default when unset). */
const cr_policy *ce_user_policy(const cr_config *cfg, const cr_user *u);
/* The source digest the loader set (cr_config_set_source_digest), for the plan image. */
uint64_t ce_config_source_digest(const cr_config *cfg);
/* Frees the attachments (cr_config_attach). */
void ce_config_drop_attached(cr_config *cfg);
const cr_usage *ce_config_usage_at(const cr_config *cfg, size_t i);
/* Warnings about a compiled configuration (lint.c), run by cr_config_compile. */
void ce_lint(const cr_config *cfg, cr_diag *diag);
/* The part of ce_lint that reads only the compiled rules of the location profiles (the
 * shadowed rules): compile runs it on a second thread while it compiles the routes, then
 * ce_lint_with places its findings (`rules`, NULL: found there) where ce_lint puts them. */
void ce_lint_rules(const cr_config *cfg, cr_diag *diag);
void ce_lint_with(const cr_config *cfg, cr_diag *diag, const cr_diag *rules);

#endif

/* A string-keyed hash map (open addressing, linear probing, backward-shift deletion).
 * Keys are borrowed: they must outlive their entry. Internal to workflows/. */
#ifndef CR_RGS_MAP_H
#define CR_RGS_MAP_H

#include "cr_grow.h"
#include "rgs_hot.h"

#include <stddef.h>
#include <stdint.h>

/* Large tables (the call maps, the call slots, the agents, the workflow table): the engine's
 * table allocator (cr_table_alloc in cr_grow.h: zeroed, 64-byte aligned, from RGS_HUGE bytes
 * on a mapping of whole huge pages advised MADV_HUGEPAGE). Freed by rgs_big_free with the
 * same size; NULL when out of memory. */
#define RGS_HUGE CR_TABLE_HUGE
void *rgs_big_alloc(size_t bytes);
void rgs_big_free(void *p, size_t bytes);
/* Grows p (of old bytes, from rgs_big_alloc or rgs_big_grow) to `bytes`, contents kept, the
 * rest zeroed; NULL (p kept) when out of memory. A mapping's pages are moved, not copied. */
void *rgs_big_grow(void *p, size_t old, size_t bytes);

typedef struct rgs_map_slot {
    const char *key; /* NULL = empty */
    uint64_t hash;
    long value;
} rgs_map_slot;

typedef struct rgs_map {
    rgs_map_slot *slots;
    size_t cap, count; /* cap is a power of two or 0 */
} rgs_map;

void rgs_map_free(rgs_map *m);
/* Grows the table so that n keys fit without a rehash. 0, or -1 when out of memory. */
int rgs_map_reserve(rgs_map *m, size_t n);
/* Inserts or replaces. Returns 0, or -1 when out of memory. */
int rgs_map_put(rgs_map *m, const char *key, long value);
/* Inserts unless the key is there: 0 (inserted), 1 (present: nothing changed) or -1 (out of
 * memory). One hash and one probe, where get + put take two. */
int rgs_map_add(rgs_map *m, const char *key, long value);
/* The same with the key's hash (rgs_map_hash) computed by the caller, who keeps it to
 * delete the key without hashing it again. */
uint64_t rgs_map_hash(const char *key);
int rgs_map_add_hashed(rgs_map *m, const char *key, uint64_t hash, long value);
/* The value, or -1 when absent. */
long rgs_map_get(const rgs_map *m, const char *key);
/* Removes the key if present. */
void rgs_map_del(rgs_map *m, const char *key);
/* Removes the key of that hash (rgs_map_hash) if present. */
void rgs_map_del_hashed(rgs_map *m, const char *key, uint64_t hash);

/* The same over uint64 keys (0 is not a key): call handles. */
typedef struct rgs_hmap_slot {
    uint64_t key; /* 0 = empty */
    long value;
} rgs_hmap_slot;

typedef struct rgs_hmap {
    rgs_hmap_slot *slots;
    size_t cap, count;
} rgs_hmap;

void rgs_hmap_free(rgs_hmap *m);
int rgs_hmap_reserve(rgs_hmap *m, size_t n);
int rgs_hmap_put(rgs_hmap *m, uint64_t key, long value);
/* Inserts unless the key is there: 0 (inserted), 1 (present: nothing changed) or -1 (out of
 * memory or key 0). One probe, where get + put take two. */
int rgs_hmap_add(rgs_hmap *m, uint64_t key, long value);
long rgs_hmap_get(const rgs_hmap *m, uint64_t key);
void rgs_hmap_del(rgs_hmap *m, uint64_t key);

/* A string map with the keys inside its slots: a slot is one aligned cache line (hash, value,
 * length and a key of up to RGS_KMAP_INLINE - 1 bytes; longer keys are borrowed and pointed
 * to), so a lookup reads one line where rgs_map reads its slot and then the key stored
 * elsewhere; loaded to 3/8 at most (kfull in rgs_map.c), so that few lookups read two. No
 * deletion: the workflows' URIs and lines, set once. */
#define RGS_KMAP_INLINE 48
typedef struct rgs_kmap_slot {
    _Alignas(64) uint64_t hash;
    uint32_t ref; /* value + 1; 0 = empty */
    uint32_t len;
    char key[RGS_KMAP_INLINE]; /* the key and its NUL, or (len >= RGS_KMAP_INLINE) a pointer */
} rgs_kmap_slot;

typedef struct rgs_kmap {
    rgs_kmap_slot *slots;
    size_t cap, count; /* cap is a power of two or 0 */
} rgs_kmap;

void rgs_kmap_free(rgs_kmap *m);
/* Inserts unless the key is there: 0 (inserted), 1 (present: nothing changed) or -1 (out of
 * memory, or a value of UINT32_MAX or more). A long key must outlive the map. */
int rgs_kmap_add(rgs_kmap *m, const char *key, long value);
/* The value, or -1 when absent; the key's first n bytes (n: its length, or less). */
long rgs_kmap_get_n(const rgs_kmap *m, const char *key, size_t n);
long rgs_kmap_get(const rgs_kmap *m, const char *key);
/* The hash of a key's first n bytes, and the lookup with it: a caller that hashes first can
 * start loading the key's home slot (rgs_kmap_prefetch) while it does other work. */
uint64_t rgs_kmap_hash(const char *key, size_t n);
long rgs_kmap_get_h(const rgs_kmap *m, const char *key, size_t n, uint64_t h);
static inline void rgs_kmap_prefetch(const rgs_kmap *m, uint64_t h)
{
    if (m->cap)
        __builtin_prefetch(&m->slots[h & (m->cap - 1)]);
}

/* An index map: slots of 8 bytes (a 32-bit tag, the key's hash, and the value + 1), the keys
 * themselves kept by the caller in the records the values index (call ids and handles in the
 * call slots), so the table is a third of a string map's and a half of rgs_hmap's and a
 * lookup compares against the record it returns. The tag is the key's home too (tag & (cap -
 * 1)), so the table grows without reading a record; values are below UINT32_MAX. Removal is
 * by value (the slot holding it along the tag's run): no key compared. Callers probe with
 * rgs_imap_home / rgs_imap_next (see rgs_call_by_handle). */
typedef struct rgs_islot {
    uint32_t tag;
    uint32_t ref; /* value + 1; 0 = empty */
} rgs_islot;

typedef struct rgs_imap {
    rgs_islot *slots;
    size_t cap, count; /* cap is a power of two or 0 */
} rgs_imap;

void rgs_imap_free(rgs_imap *m);
/* Room for n entries without a rehash. 0, or -1 when out of memory. */
int rgs_imap_reserve(rgs_imap *m, size_t n);
/* Room for one more entry (call before rgs_imap_set_at on a probe's empty slot, or before a
 * probe that ends in one). 0, or -1 when out of memory. */
int rgs_imap_room(rgs_imap *m);
/* Adds (tag, value) at `slot`, an empty slot its probe reached. */
static inline void rgs_imap_set_at(rgs_imap *m, size_t slot, uint32_t tag, uint32_t value)
{
    m->slots[slot] = (rgs_islot){tag, value + 1};
    m->count++;
}
/* Removes the entry of that tag and value, if present. */
void rgs_imap_del(rgs_imap *m, uint32_t tag, uint32_t value);

/* The first slot of tag's probe run (cap > 0), and the slot after j. */
static inline size_t rgs_imap_home(const rgs_imap *m, uint32_t tag)
{
    return tag & (m->cap - 1);
}
static inline size_t rgs_imap_next(const rgs_imap *m, size_t j)
{
    return (j + 1) & (m->cap - 1);
}
/* Starts loading tag's home slot (a lookup or an add of it follows). */
static inline void rgs_imap_prefetch(const rgs_imap *m, uint32_t tag)
{
    if (m->cap)
        __builtin_prefetch(&m->slots[rgs_imap_home(m, tag)]);
}

/* The mix of a uint64 key: rgs_hmap's hash, and the tag of a call handle (inline: every
 * event about a call computes it). */
static inline uint64_t rgs_hash_u64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

/* The 32-bit tag of a call handle and of a string key. */
static inline uint32_t rgs_imap_tag_u64(uint64_t key)
{
    return (uint32_t)rgs_hash_u64(key);
}
static inline uint32_t rgs_imap_tag_str(uint64_t hash)
{
    return (uint32_t)hash; /* rgs_map_hash(key) */
}

#endif

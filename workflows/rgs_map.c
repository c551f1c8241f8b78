#define _GNU_SOURCE /* mremap */
#include "rgs_map.h"

#include "cr_grow.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *rgs_big_alloc(size_t bytes)
{
    return cr_table_alloc(bytes);
}

void rgs_big_free(void *p, size_t bytes)
{
    cr_table_free(p, bytes);
}

void *rgs_big_grow(void *p, size_t old, size_t bytes)
{
    if (!p)
        return rgs_big_alloc(bytes);
    if (bytes <= old)
        return p;
    if (old >= RGS_HUGE && cr_table_len(bytes) == cr_table_len(old))
        return p; /* the mapping has the room, zero */
    char *n = rgs_big_alloc(bytes);
    if (!n)
        return NULL;
#ifdef MREMAP_FIXED
    /* the old pages moved to the start of the new mapping: huge pages stay whole (both ends
     * are RGS_HUGE-aligned), nothing is copied */
    if (old >= RGS_HUGE && mremap(p, cr_table_len(old), cr_table_len(old),
                                  MREMAP_MAYMOVE | MREMAP_FIXED, n) != MAP_FAILED)
        return n;
#endif
    memcpy(n, p, old);
    rgs_big_free(p, old);
    return n;
}

/* The last n < 8 bytes of a key as memcpy(&w, s, n) into a zeroed w reads them, in at most
 * three loads (a variable-length copy was a byte loop, a third of a hash). */
static inline uint64_t tail_word(const char *s, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 4) { /* two 4-byte loads that overlap on equal bytes */
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        return lo | (uint64_t)hi << (8 * (n - 4));
    }
    if (n)
        return u[0] | (uint64_t)u[n / 2] << (8 * (n / 2)) | (uint64_t)u[n - 1] << (8 * (n - 1));
    return 0;
#else
    uint64_t w = 0;
    memcpy(&w, s, n);
    return w;
#endif
}

/* Eight bytes at a time (URIs and call ids are 10-40 bytes; byte-wise FNV cost 4
 * instructions a byte), then a final mix. In-memory only: byte order does not matter. */
static RGS_HOT uint64_t hash_mem(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; n >= 8; n -= 8, s += 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = tail_word(s, n);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    return h ? h : 1;
}

static uint64_t hash_str(const char *s)
{
    return hash_mem(s, strlen(s));
}

/* ---- the table both maps are: slots of `size` bytes, all zero when empty ------------------ */

typedef struct slot_ops {
    size_t size;
    bool (*used)(const void *slot);
    uint64_t (*hash)(const void *slot); /* where the slot's entry hashes to */
} slot_ops;

/* The table doubled (16 slots when it has none), every entry placed anew and the old table
 * freed; NULL (the old table kept) when out of memory. */
static void *grow_table(void *slots, size_t *cap, const slot_ops *ops)
{
    size_t ncap = *cap ? *cap * 2 : 16, z = ops->size;
    char *ns = ncap <= SIZE_MAX / z ? rgs_big_alloc(ncap * z) : NULL, *old = slots;
    if (!ns)
        return NULL;
    for (size_t i = 0; i < *cap; i++) {
        const char *s = old + i * z;
        if (!ops->used(s))
            continue;
        size_t j = ops->hash(s) & (ncap - 1);
        while (ops->used(ns + j * z))
            j = (j + 1) & (ncap - 1);
        memcpy(ns + j * z, s, z);
    }
    rgs_big_free(old, *cap * z);
    *cap = ncap;
    return ns;
}

/* Empties slot `i` and moves later entries of its probe run back (backward-shift deletion).
 * Inlined where it is called, with the ops a constant: the call maps delete an entry per
 * call, and through the function pointers each slot of the run cost two indirect calls. */
static inline __attribute__((always_inline)) void remove_at(void *slots, size_t cap, size_t i,
                                                            const slot_ops *ops)
{
    char *t = slots;
    size_t mask = cap - 1, j = i, z = ops->size;
    memset(t + i * z, 0, z);
    for (;;) {
        j = (j + 1) & mask;
        if (!ops->used(t + j * z))
            return;
        size_t home = ops->hash(t + j * z) & mask;
        /* move j back to i when its home is not in the cyclic range (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            memcpy(t + i * z, t + j * z, z);
            memset(t + j * z, 0, z);
            i = j;
        }
    }
}

/* Room for n entries at a load of 3/4 at most: 0, or -1 when out of memory. */
static int reserve_table(void **slots, size_t *cap, size_t n, const slot_ops *ops)
{
    while (n * 4 > *cap * 3) {
        void *ns = grow_table(*slots, cap, ops);
        if (!ns)
            return -1;
        *slots = ns;
    }
    return 0;
}

/* Room for one more entry at a load of 3/4 at most. */
static bool full(size_t count, size_t cap)
{
    return (count + 1) * 4 > cap * 3;
}

/* ---- string keys ---------------------------------------------------------------------------- */

static bool str_used(const void *slot)
{
    return ((const rgs_map_slot *)slot)->key != NULL;
}

static uint64_t str_hash(const void *slot)
{
    return ((const rgs_map_slot *)slot)->hash;
}

static const slot_ops str_ops = {sizeof(rgs_map_slot), str_used, str_hash};

/* Room for one more entry: 0, or -1 when out of memory. */
static int make_room(rgs_map *m)
{
    rgs_map_slot *ns = full(m->count, m->cap) ? grow_table(m->slots, &m->cap, &str_ops) : m->slots;
    if (!ns)
        return -1;
    m->slots = ns;
    return 0;
}

void rgs_map_free(rgs_map *m)
{
    rgs_big_free(m->slots, m->cap * sizeof *m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

int rgs_map_reserve(rgs_map *m, size_t n)
{
    return reserve_table((void **)&m->slots, &m->cap, n, &str_ops);
}

RGS_HOT uint64_t rgs_map_hash(const char *key)
{
    return hash_str(key);
}

int rgs_map_add(rgs_map *m, const char *key, long value)
{
    return rgs_map_add_hashed(m, key, hash_str(key), value);
}

int rgs_map_add_hashed(rgs_map *m, const char *key, uint64_t h, long value)
{
    if (make_room(m) < 0)
        return -1;
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0)
            return 1;
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j] = (rgs_map_slot){key, h, value};
    m->count++;
    return 0;
}

int rgs_map_put(rgs_map *m, const char *key, long value)
{
    if (make_room(m) < 0)
        return -1;
    uint64_t h = hash_str(key);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0) {
            m->slots[j].key = key;
            m->slots[j].value = value;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j] = (rgs_map_slot){key, h, value};
    m->count++;
    return 0;
}

/* The slot of key (hash h), or -1. The key's own pointer matches without a compare. */
static long find_hashed(const rgs_map *m, const char *key, uint64_t h)
{
    if (!m->cap)
        return -1;
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].hash == h && (m->slots[j].key == key || strcmp(m->slots[j].key, key) == 0))
            return (long)j;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

static long find(const rgs_map *m, const char *key)
{
    return m->cap ? find_hashed(m, key, hash_str(key)) : -1;
}

long rgs_map_get(const rgs_map *m, const char *key)
{
    long j = find(m, key);
    return j < 0 ? -1 : m->slots[j].value;
}

void rgs_map_del(rgs_map *m, const char *key)
{
    if (m->cap)
        rgs_map_del_hashed(m, key, hash_str(key));
}

void rgs_map_del_hashed(rgs_map *m, const char *key, uint64_t h)
{
    long f = find_hashed(m, key, h);
    if (f < 0)
        return;
    remove_at(m->slots, m->cap, (size_t)f, &str_ops);
    m->count--;
}

/* ---- uint64 keys ---------------------------------------------------------------------------- */

void rgs_hmap_free(rgs_hmap *m)
{
    rgs_big_free(m->slots, m->cap * sizeof *m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static bool u64_used(const void *slot)
{
    return ((const rgs_hmap_slot *)slot)->key != 0;
}

static uint64_t u64_hash(const void *slot)
{
    return rgs_hash_u64(((const rgs_hmap_slot *)slot)->key);
}

static const slot_ops u64_ops = {sizeof(rgs_hmap_slot), u64_used, u64_hash};

static int hmake_room(rgs_hmap *m)
{
    rgs_hmap_slot *ns = full(m->count, m->cap) ? grow_table(m->slots, &m->cap, &u64_ops) : m->slots;
    if (!ns)
        return -1;
    m->slots = ns;
    return 0;
}

int rgs_hmap_put(rgs_hmap *m, uint64_t key, long value)
{
    if (!key || hmake_room(m) < 0)
        return -1;
    size_t j = rgs_hash_u64(key) & (m->cap - 1);
    while (m->slots[j].key && m->slots[j].key != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->slots[j].key)
        m->count++;
    m->slots[j] = (rgs_hmap_slot){key, value};
    return 0;
}

int rgs_hmap_reserve(rgs_hmap *m, size_t n)
{
    return reserve_table((void **)&m->slots, &m->cap, n, &u64_ops);
}

int rgs_hmap_add(rgs_hmap *m, uint64_t key, long value)
{
    if (!key || hmake_room(m) < 0)
        return -1;
    size_t j = rgs_hash_u64(key) & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].key == key)
            return 1;
        j = (j + 1) & (m->cap - 1);
    }
    m->count++;
    m->slots[j] = (rgs_hmap_slot){key, value};
    return 0;
}

static long hfind(const rgs_hmap *m, uint64_t key)
{
    if (!m->cap || !key)
        return -1;
    size_t j = rgs_hash_u64(key) & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].key == key)
            return (long)j;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

long rgs_hmap_get(const rgs_hmap *m, uint64_t key)
{
    long j = hfind(m, key);
    return j < 0 ? -1 : m->slots[j].value;
}

void rgs_hmap_del(rgs_hmap *m, uint64_t key)
{
    long f = hfind(m, key);
    if (f < 0)
        return;
    remove_at(m->slots, m->cap, (size_t)f, &u64_ops);
    m->count--;
}

/* ---- index maps: the keys live in the caller's records -------------------------------------- */

static bool idx_used(const void *slot)
{
    return ((const rgs_islot *)slot)->ref != 0;
}

static uint64_t idx_hash(const void *slot)
{
    return ((const rgs_islot *)slot)->tag;
}

static const slot_ops idx_ops = {sizeof(rgs_islot), idx_used, idx_hash};

void rgs_imap_free(rgs_imap *m)
{
    rgs_big_free(m->slots, m->cap * sizeof *m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

int rgs_imap_reserve(rgs_imap *m, size_t n)
{
    /* the tag is the home: a table past 2^32 slots would leave its upper half unused */
    if (n > ((size_t)UINT32_MAX / 4) * 3)
        return -1;
    return reserve_table((void **)&m->slots, &m->cap, n, &idx_ops);
}

RGS_HOT int rgs_imap_room(rgs_imap *m)
{
    if (!full(m->count, m->cap))
        return 0;
    if (m->cap > UINT32_MAX / 2)
        return -1;
    rgs_islot *ns = grow_table(m->slots, &m->cap, &idx_ops);
    if (!ns)
        return -1;
    m->slots = ns;
    return 0;
}

RGS_HOT void rgs_imap_del(rgs_imap *m, uint32_t tag, uint32_t value)
{
    if (!m->cap)
        return;
    for (size_t j = rgs_imap_home(m, tag); m->slots[j].ref; j = rgs_imap_next(m, j))
        if (m->slots[j].ref == value + 1) {
            remove_at(m->slots, m->cap, j, &idx_ops);
            m->count--;
            return;
        }
}

/* ---- string keys inside the slots ----------------------------------------------------------- */

void rgs_kmap_free(rgs_kmap *m)
{
    rgs_big_free(m->slots, m->cap * sizeof *m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static const char *kslot_key(const rgs_kmap_slot *s)
{
    const char *p;
    if (s->len < RGS_KMAP_INLINE)
        return s->key;
    memcpy(&p, s->key, sizeof p);
    return p;
}

/* The slot of key (n bytes, hash h), or the empty slot where it would go. */
static RGS_HOT size_t kfind(const rgs_kmap *m, const char *key, size_t n, uint64_t h)
{
    size_t j = h & (m->cap - 1);
    for (; m->slots[j].ref; j = (j + 1) & (m->cap - 1)) {
        const rgs_kmap_slot *s = &m->slots[j];
        if (s->hash == h && s->len == n && memcmp(kslot_key(s), key, n) == 0)
            break;
    }
    return j;
}

/* Room for one more entry at a load of 3/8 at most. A slot is a line: each slot a lookup
 * passes is a miss, and a hit passes (1 + 1 / (1 - load)) / 2 slots on average with linear
 * probing (1.3 at most here, where 3/4 allowed 2.5: 1.8 for the bench's 10,000 workflows).
 * Twice the memory of 3/4, the lines in use unchanged. */
static bool kfull(size_t count, size_t cap)
{
    return (count + 1) * 8 > cap * 3;
}

/* The table doubled (8 slots when it has none), one aligned line a slot: 0, or -1. */
static int kgrow(rgs_kmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 8;
    rgs_kmap_slot *ns = ncap <= SIZE_MAX / sizeof *ns ? rgs_big_alloc(ncap * sizeof *ns) : NULL;
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].ref)
            continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].ref)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    rgs_big_free(m->slots, m->cap * sizeof *m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

int rgs_kmap_add(rgs_kmap *m, const char *key, long value)
{
    size_t n = strlen(key);
    if (value < 0 || (unsigned long)value >= UINT32_MAX || n >= UINT32_MAX)
        return -1;
    if (kfull(m->count, m->cap) && kgrow(m) < 0)
        return -1;
    uint64_t h = hash_mem(key, n);
    size_t j = kfind(m, key, n, h);
    rgs_kmap_slot *s = &m->slots[j];
    if (s->ref)
        return 1;
    s->hash = h;
    s->ref = (uint32_t)value + 1;
    s->len = (uint32_t)n;
    if (n < RGS_KMAP_INLINE)
        memcpy(s->key, key, n + 1);
    else
        memcpy(s->key, &key, sizeof key);
    m->count++;
    return 0;
}

RGS_HOT uint64_t rgs_kmap_hash(const char *key, size_t n)
{
    return hash_mem(key, n);
}

RGS_HOT long rgs_kmap_get_h(const rgs_kmap *m, const char *key, size_t n, uint64_t h)
{
    if (!m->cap)
        return -1;
    const rgs_kmap_slot *s = &m->slots[kfind(m, key, n, h)];
    return s->ref ? (long)s->ref - 1 : -1;
}

long rgs_kmap_get_n(const rgs_kmap *m, const char *key, size_t n)
{
    return rgs_kmap_get_h(m, key, n, hash_mem(key, n));
}

long rgs_kmap_get(const rgs_kmap *m, const char *key)
{
    return rgs_kmap_get_n(m, key, strlen(key));
}

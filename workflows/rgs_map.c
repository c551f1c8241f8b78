#include "rgs_map.h"

#include <stdlib.h>
#include <string.h>

/* Eight bytes at a time (URIs and call ids are 10-40 bytes; byte-wise FNV cost 4
 * instructions a byte), then a final mix. In-memory only: byte order does not matter. */
static uint64_t hash_str(const char *s)
{
    size_t n = strlen(s);
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; n >= 8; n -= 8, s += 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    return h ? h : 1;
}

void rgs_map_free(rgs_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static int grow(rgs_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    rgs_map_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

int rgs_map_reserve(rgs_map *m, size_t n)
{
    while (n * 4 > m->cap * 3)
        if (grow(m) < 0)
            return -1;
    return 0;
}

uint64_t rgs_map_hash(const char *key)
{
    return hash_str(key);
}

int rgs_map_add(rgs_map *m, const char *key, long value)
{
    return rgs_map_add_hashed(m, key, hash_str(key), value);
}

int rgs_map_add_hashed(rgs_map *m, const char *key, uint64_t h, long value)
{
    if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0)
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
    if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0)
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
    size_t mask = m->cap - 1, i = (size_t)f, j = i;
    m->slots[i].key = NULL;
    m->count--;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].key)
            return;
        size_t home = m->slots[j].hash & mask;
        /* move j back to i when its home is not in the cyclic range (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
}

/* ---- uint64 keys ---------------------------------------------------------------------------- */

static size_t hash_u64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

void rgs_hmap_free(rgs_hmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static int hgrow(rgs_hmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    rgs_hmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = hash_u64(m->slots[i].key) & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

int rgs_hmap_put(rgs_hmap *m, uint64_t key, long value)
{
    if (!key || ((m->count + 1) * 4 > m->cap * 3 && hgrow(m) < 0))
        return -1;
    size_t j = hash_u64(key) & (m->cap - 1);
    while (m->slots[j].key && m->slots[j].key != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->slots[j].key)
        m->count++;
    m->slots[j] = (rgs_hmap_slot){key, value};
    return 0;
}

int rgs_hmap_reserve(rgs_hmap *m, size_t n)
{
    while (n * 4 > m->cap * 3)
        if (hgrow(m) < 0)
            return -1;
    return 0;
}

int rgs_hmap_add(rgs_hmap *m, uint64_t key, long value)
{
    if (!key || ((m->count + 1) * 4 > m->cap * 3 && hgrow(m) < 0))
        return -1;
    size_t j = hash_u64(key) & (m->cap - 1);
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
    size_t j = hash_u64(key) & (m->cap - 1);
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
    size_t mask = m->cap - 1, i = (size_t)f, j = i;
    m->slots[i].key = 0;
    m->count--;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].key)
            return;
        size_t home = hash_u64(m->slots[j].key) & mask;
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = 0;
            i = j;
        }
    }
}

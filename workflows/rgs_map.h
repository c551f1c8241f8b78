/* A string-keyed hash map (open addressing, linear probing, backward-shift deletion).
 * Keys are borrowed: they must outlive their entry. Internal to workflows/. */
#ifndef CR_RGS_MAP_H
#define CR_RGS_MAP_H

#include <stddef.h>
#include <stdint.h>

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

#endif

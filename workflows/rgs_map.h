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
/* Inserts or replaces. Returns 0, or -1 when out of memory. */
int rgs_map_put(rgs_map *m, const char *key, long value);
/* The value, or -1 when absent. */
long rgs_map_get(const rgs_map *m, const char *key);
/* Removes the key if present. */
void rgs_map_del(rgs_map *m, const char *key);

#endif

/*
 * FNV-1a, 64-bit: the one string hash of every layer (the library's gateway table, the user
 * directory's lookup index, the Kamailio module's call table, the CLI's digests). Header
 * only, so that the module, which links no library code, uses it too.
 */
#ifndef CR_HASH_H
#define CR_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV's published 64-bit offset basis. (The copies this header replaced started from
 * 1469598103934665603, a digit short; the directory's lookup index is version 3 since, and the
 * CLI's digests changed with it.) */
#define CR_FNV_OFFSET 0xcbf29ce484222325ULL
#define CR_FNV_PRIME  1099511628211ULL

/* Folds the n bytes at p into h (start with CR_FNV_OFFSET). */
static inline uint64_t cr_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * CR_FNV_PRIME;
    return h;
}

/* Folds the NUL-terminated string s into h. */
static inline uint64_t cr_fnv_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * CR_FNV_PRIME;
    return h;
}

#endif

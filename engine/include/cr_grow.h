/*
 * Growing an array by doubling: the one helper for it in every layer (engine, xml,
 * directory, rules, workflows, lua and the library).
 */
#ifndef CR_GROW_H
#define CR_GROW_H

#include <stdbool.h>
#include <stddef.h>

/* Makes room for element n of *arr, an array of *cap elements of `size` bytes: when n has
 * reached the capacity, doubles it (8 at first) and zeroes the new elements. False when out
 * of memory (the array is then unchanged). */
bool cr_grow(void **arr, size_t n, size_t *cap, size_t size);
#define CR_GROW(arr, n, cap) cr_grow((void **)&(arr), (n), &(cap), sizeof *(arr))

/* Makes room for `need` more bytes after the first `len` of *buf, a byte buffer of *cap
 * bytes: doubles the capacity (`first` bytes at first) until they fit. The new bytes are not
 * zeroed. False when out of memory or the size overflows (the buffer is then unchanged). */
bool cr_grow_bytes(unsigned char **buf, size_t len, size_t need, size_t *cap, size_t first);

/* A fresh anonymous private mapping of len bytes (zero) at an address aligned to `align`, a
 * power of two: the tables kept on huge pages (the caller advises MADV_HUGEPAGE on the part it
 * wants there). NULL when none. Freed with munmap(p, len). */
void *cr_map_aligned(size_t len, size_t align);

#endif

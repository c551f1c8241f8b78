/*
 * Growing an array by doubling: the one helper for it in every layer (engine, xml,
 * directory, rules, workflows, lua and the library).
 */
#ifndef CR_GROW_H
#define CR_GROW_H

#include <stdbool.h>
#include <pthread.h>
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

/* cr_map_aligned on a 2 MB boundary (CR_TABLE_HUGE), advised MADV_HUGEPAGE before anything
 * touches it (advice: a refusal changes nothing). NULL when none. Freed with munmap(p, len). */
void *cr_map_huge(size_t len);

/* A shared mapping of the first len bytes of the file open as fd, with prot (PROT_READ, or
 * with PROT_WRITE), at a 2 MB-aligned address advised MADV_HUGEPAGE before its first fault, so
 * that the file's pages that are 2 MB folios in the page cache (a file system caching files in
 * large folios; tmpfs mounted huge=within_size, always or advise) are mapped by one entry each
 * rather than 512; then, when populate, every page faulted in (as MAP_POPULATE would, which
 * faults before the advice could be given). Where no aligned room is had, mapped where the
 * kernel puts it, without advice. MAP_FAILED with errno on failure. Freed with munmap(p, len). */
void *cr_map_file(int fd, size_t len, int prot, bool populate);

/* A large table read at random (a decision's caller table, line index, key cells and merged
 * tries; the response groups' call maps, call slots and agents), zeroed and 64-byte aligned:
 * from CR_TABLE_HUGE bytes on, an anonymous mapping of whole 2 MB pages (cr_table_len) at a
 * 2 MB-aligned address advised MADV_HUGEPAGE before anything touches it, so that it takes a
 * few TLB entries rather than one per 4 KB page (reads at random otherwise each wait for a
 * page walk); below, from the heap. NULL when out of memory. Freed with cr_table_free and the
 * same size. Tables read in place from a plan image are not copied: they keep the image's
 * (shared) pages. */
#define CR_TABLE_HUGE ((size_t)2 << 20)
void *cr_table_alloc(size_t bytes);
void cr_table_free(void *p, size_t bytes);
/* The length of the mapping a table of `bytes` (>= CR_TABLE_HUGE) gets: whole huge pages. */
size_t cr_table_len(size_t bytes);

/* pthread_create of a thread that takes no signal (every signal blocked while it is created,
 * so it inherits that mask): a host's signal handling (Kamailio's) stays with its own threads.
 * Every thread the library starts is started so. */
int cr_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif

/*
 * dir_cells_probe: what a directory layout that puts each record where its number's hash says
 * would give the uniform reverse lookup, measured against today's index on the same records,
 * the same numbers and the same decoding, in one process (issue 17's < 300 ns goal).
 *
 *   dir_cells_probe --dir DB --users N [--fill F ...] [--lookups M] [--runs R]
 *
 * DB is a directory directory_bench wrote and kept (`directory_bench --users N --keep --dir
 * D`: DB is D/db; its users have the numbers +1425 and 7 digits, 0 .. N-1). The probe copies
 * every record into fixed cells of 256 bytes (4 cache lines) in anonymous memory on huge
 * pages: F of the cells used (default 0.4, 0.6 and 0.8), each record in the cell its packed
 * number hashes to, or the next free one (placed in the order of their home cells, so a lookup
 * stops at the first cell of a later home). A lookup prefetches its home cell's four lines
 * at once, compares the number key, and decodes the record (dir_decode) as the index lookup's
 * record is decoded.
 *
 * Per run and fill, p50 and p90 (clock included, as directory_bench times lookups) of:
 * cr_dir_reader_by_number (the directory_bench figure, without the cache of hot numbers);
 * the index's line lookup + dir_decode; the cells' + dir_decode; the cells' lookup reading
 * only the record's last byte (what fetching the cell costs, with no decoding). Every user's
 * record in the cells must be the index's, byte for byte, and every timed lookup must find
 * its user: exit 1 otherwise. Not a layout
 * callroute writes: a bound, for deciding whether such a directory format is worth its
 * memory.
 */
#define _GNU_SOURCE
#include "cr_directory.h"
#include "dir_bench_draw.h"
#include "directory_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define CELL      256
#define CELL_HEAD 16 /* u64 number key, u16 record length, u32 home cell, 2 bytes 0 */

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

typedef struct placed {
    uint64_t home;
    size_t user;
} placed;

static int cmp_home(const void *a, const void *b)
{
    const placed *x = a, *y = b;
    return x->home < y->home ? -1 : x->home > y->home;
}

static volatile size_t sink;

typedef struct cells {
    unsigned char *p;
    uint64_t n;      /* home cells */
    uint64_t ntotal; /* with the cells the last homes spill into */
    size_t bytes;
} cells;

/* The home cell of a number key among n: a full mix (MurmurHash3's finalizer), so that
 * numbers handed out in blocks spread as random keys would, not more evenly. */
static uint64_t cell_home(uint64_t key, uint64_t n)
{
    uint64_t h = key;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return (uint64_t)(((unsigned __int128)h * n) >> 64);
}

static const unsigned char *cell_find(const cells *c, uint64_t key, size_t *rlen)
{
    uint64_t home = cell_home(key, c->n);
    for (uint64_t i = home; i < c->ntotal; i++) {
        const unsigned char *p = c->p + i * CELL;
        for (int l = 0; l < CELL; l += 64)
            __builtin_prefetch(p + l);
        uint64_t k;
        uint32_t h;
        memcpy(&k, p, 8);
        memcpy(&h, p + 10, 4);
        if (!k || h > home)
            return NULL;
        if (k == key && h == home) {
            uint16_t l;
            memcpy(&l, p + 8, 2);
            *rlen = l;
            return p + CELL_HEAD;
        }
    }
    return NULL;
}

typedef struct user_rec {
    const unsigned char *rec;
    size_t len;
    uint64_t key;
} user_rec;

/* The cells of the records u[0..n) at fill f: false when a record does not fit in a cell. */
static bool build(cells *c, const user_rec *u, size_t n, double f, double *at_home)
{
    c->n = (uint64_t)((double)n / f) + 1;
    c->ntotal = c->n + c->n / 64 + 64;
    c->bytes = c->ntotal * CELL;
    c->p = mmap(NULL, c->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    placed *order = malloc(n * sizeof *order);
    if (c->p == MAP_FAILED || !order) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(c->p, c->bytes, MADV_HUGEPAGE);
#endif
    memset(c->p, 0, c->bytes);
    for (size_t i = 0; i < n; i++)
        order[i] = (placed){cell_home(u[i].key, c->n), i};
    qsort(order, n, sizeof *order, cmp_home);
    uint64_t next = 0, home = 0;
    for (size_t j = 0; j < n; j++) {
        const user_rec *r = &u[order[j].user];
        uint64_t at = order[j].home > next ? order[j].home : next;
        if (at >= c->ntotal || r->len > CELL - CELL_HEAD) {
            free(order);
            return false;
        }
        unsigned char *p = c->p + at * CELL;
        uint16_t len = (uint16_t)r->len;
        uint32_t h = (uint32_t)order[j].home;
        memcpy(p, &r->key, 8);
        memcpy(p + 8, &len, 2);
        memcpy(p + 10, &h, 4);
        memcpy(p + CELL_HEAD, r->rec, r->len);
        home += at == order[j].home;
        next = at + 1;
    }
    *at_home = (double)home / (double)n;
    free(order);
    return true;
}

int main(int argc, char **argv)
{
    const char *db = NULL;
    size_t users = 0, m = 300000, runs = 2, nfill = 0;
    double fills[8];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--users") == 0 && i + 1 < argc)
            users = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--lookups") == 0 && i + 1 < argc)
            m = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--fill") == 0 && i + 1 < argc && nfill < 8 &&
                 (fills[nfill] = atof(argv[i + 1])) > 0.05 && fills[nfill] <= 1.0)
            nfill++, i++;
        else {
            fprintf(stderr,
                    "usage: %s --dir DB --users N [--fill F ...] [--lookups M] [--runs R]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!db || !users || !m || !runs)
        return 2;
    if (!nfill) {
        fills[0] = 0.4, fills[1] = 0.6, fills[2] = 0.8;
        nfill = 3;
    }
    cr_directory *d;
    char err[512];
    if (cr_directory_open(db, false, &d, err, sizeof err) != CR_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    cr_dir_reader r;
    if (cr_dir_reader_begin(d, NULL, &r) != CR_OK || !r.index) {
        fprintf(stderr, "%s: no lookup index\n", db);
        return 2;
    }
    r.uncached = true;
    /* every user's record, from the index (pointers into the map, valid in this snapshot) */
    user_rec *u = calloc(users, sizeof *u);
    char num[32];
    if (!u)
        return 2;
    for (size_t i = 0; i < users; i++) {
        snprintf(num, sizeof num, "+1425%07zu", i);
        size_t nlen = strlen(num);
        u[i].rec = dir_index_line(r.index, num, nlen, NULL, NULL, 0, &u[i].len);
        if (!u[i].rec || !dir_pack_number(num, nlen, 16, &u[i].key)) {
            fprintf(stderr,
                    "%s: no user with the number %s (not a directory_bench directory of "
                    "%zu users?)\n",
                    db, num, users);
            return 2;
        }
    }
    long long *t = malloc(m * sizeof *t);
    size_t *which = malloc(m * sizeof *which);
    if (!t || !which)
        return 2;
    dir_bench_uniform(which, m, users);
    static const char *const what[4] = {"cr_dir_reader_by_number", "index + decode",
                                        "cells + decode", "cells, fetch only"};
    size_t wrong = 0;
    for (size_t fi = 0; fi < nfill; fi++) {
        cells c;
        double home;
        if (!build(&c, u, users, fills[fi], &home)) {
            printf("fill %.2f: a record larger than a cell, or no room: not measured\n", fills[fi]);
            continue;
        }
        printf("fill %.2f: %.1f %% of the records in their home cell, %.0f bytes a user in "
               "cells (data.mdb's index: see directory_bench)\n",
               fills[fi], 100.0 * home, (double)c.bytes / (double)users);
        for (size_t i = 0; i < users; i++) { /* every user: the index's record, byte for byte */
            size_t rlen;
            const unsigned char *rec = cell_find(&c, u[i].key, &rlen);
            wrong += !rec || rlen != u[i].len || memcmp(rec, u[i].rec, rlen) != 0;
        }
        for (size_t run = 0; run < runs; run++) {
            for (int how = 0; how < 4; how++) {
                for (size_t i = 0; i < m; i++) {
                    snprintf(num, sizeof num, "+1425%07zu", which[(i * 7919 + run * 13) % m]);
                    long long a = now_ns();
                    bool ok;
                    const unsigned char *rec = NULL;
                    size_t rlen = 0, nlen = strlen(num);
                    cr_user user;
                    char *names[8], **heap = NULL;
                    uint64_t key;
                    if (how == 0) {
                        const cr_user *found = cr_dir_reader_by_number(&r, num, NULL);
                        ok = found != NULL;
                        if (ok)
                            sink += (size_t)found->uri[0];
                    } else {
                        if (how == 1)
                            rec = dir_index_line(r.index, num, nlen, NULL, NULL, 0, &rlen);
                        else if (dir_pack_number(num, nlen, 16, &key))
                            rec = cell_find(&c, key, &rlen);
                        if (how == 3) {
                            ok = rec != NULL;
                            if (ok)
                                sink += rec[rlen - 1];
                        } else {
                            ok = rec && dir_decode(rec, rlen, &user, names, 8, &heap);
                            if (ok)
                                sink += (size_t)user.uri[0];
                        }
                    }
                    t[i] = now_ns() - a;
                    free(heap);
                    wrong += !ok;
                    if (how == 0 && r.used >= CR_DIR_SLOTS)
                        cr_dir_reader_forget(&r);
                }
                qsort(t, m, sizeof *t, cmp_ll);
                printf("  run %zu  %-26s p50 %4lld ns  p90 %4lld ns\n", run + 1, what[how],
                       t[m / 2], t[m * 9 / 10]);
            }
        }
        munmap(c.p, c.bytes);
    }
    printf("lookups whose record differed from the index's, or missed: %zu (must be 0)\n", wrong);
    cr_dir_reader_end(&r);
    cr_directory_close(d);
    free(u);
    free(t);
    free(which);
    return wrong ? 1 : 0;
}

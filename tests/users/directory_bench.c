/*
 * directory_bench: the user directory at scale. Generates N users (CSV or XML), imports them
 * into a fresh LMDB directory, reports the import time and the file size, then the latency
 * of reverse number lookups and SIP URI lookups (p50 / p99 / max, in ns) on random users:
 * inside one read snapshot (what one decision pays per lookup) and with a snapshot per
 * lookup (begin + lookup + end), and reverse lookups of numbers drawn as traffic repeats them
 * (Zipf, s = 1, over all users); these reverse lookups again through the cache of hot numbers
 * (cr_dir_reader_by_number); then the floors (one random read in the map, two dependent
 * ones) and the p50s as multiples of them.
 *
 *   directory_bench [--users N] [--lookups M] [--dir DIR] [--xml] [--keep] [--only PASS]
 *                   [--cold]
 *
 * --only runs one pass (0 the uniform reverse lookups, 1 SIP URI, ... in the order printed) and
 * no floors: for profiling one path (callgrind, perf) without the others mixed in.
 *
 * After the lookups, a line says how much of data.mdb's map (LMDB's, as the lookups read it)
 * the kernel maps with huge pages (FilePmdMapped of that mapping in /proc/self/smaps): after an
 * import the file's page cache is in large folios, but a directory faulted in at random after
 * its cache was dropped (a restart after a reboot) may be on 4 KB pages, and a lookup then
 * pays a TLB miss more. --cold makes that case measurable without root: after the import the
 * directory is closed, data.mdb's page cache dropped (fsync, then posix_fadvise DONTNEED; a
 * line says how much of the file stayed cached), and the directory opened again; the warm-up
 * lookups then fault it in at random, before the timed ones.
 */
#include "cr_directory.h"
#include "../bench/bench_pages.h"
#include "dir_bench_draw.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Every third user has an extension, every fifth a simultaneous-ring number, every seventh
 * a team; all have voicemail. */
static void generate(const char *path, size_t n, bool xml)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    if (xml)
        fputs("<users xmlns=\"urn:callroute:config:1\">\n", f);
    else
        fputs("uri,line,enterpriseVoice,voicePolicy,voicemail,simultaneousRing,noAnswerAfter,"
              "teamCallDelay,teamCall\n",
              f);
    for (size_t i = 0; i < n; i++) {
        char line[64], ring[32] = "", team[64] = "";
        if (i % 3 == 0)
            snprintf(line, sizeof line, "tel:+1425%07zu;ext=%zu", i, i % 100000);
        else
            snprintf(line, sizeof line, "tel:+1425%07zu", i);
        if (i % 5 == 0)
            snprintf(ring, sizeof ring, "+1206%07zu", i);
        if (i % 7 == 0)
            snprintf(team, sizeof team, "sip:u%zu@contoso.com", (i + 1) % n);
        if (xml) {
            fprintf(f,
                    "<user uri=\"sip:u%zu@contoso.com\" line=\"%s\" enterpriseVoice=\"true\" "
                    "voicePolicy=\"Default Calling Policy\" voicemail=\"sip:u%zu-vm@contoso.com\">",
                    i, line, i);
            if (*ring)
                fprintf(f, "<simultaneousRing target=\"%s\"/>", ring);
            fputs("<forwarding noAnswerAfter=\"20\"/>", f);
            if (*team)
                fprintf(f, "<teamCall delay=\"10\"><member>%s</member></teamCall>", team);
            fputs("</user>\n", f);
        } else {
            fprintf(f,
                    "sip:u%zu@contoso.com,%s,true,Default Calling Policy,sip:u%zu-vm@contoso.com,"
                    "%s,20,%s,%s\n",
                    i, line, i, ring, *team ? "10" : "", team);
        }
    }
    if (xml)
        fputs("</users>\n", f);
    fclose(f);
}

static int cmp_ll(const void *a, const void *b);

/* CPU seconds this process used so far (user + system): the import's share of a loaded
 * machine, which its wall-clock time is not. */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* What the timed reads go to, so that none is optimised away. */
static volatile unsigned sink;

/*
 * data.mdb's page cache dropped, without root: fsync (DONTNEED leaves dirty pages), then
 * POSIX_FADV_DONTNEED on the whole file; pages some process maps stay (the caller has closed
 * its directory first). Prints how much of the file is still cached (mincore over a fresh
 * map of it), so that a drop that did not happen is seen.
 */
static void drop_cache(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    int fd = open(path, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        perror(path);
        exit(2);
    }
    size_t n = (size_t)st.st_size, pages = (n + 4095) / 4096, cached = 0;
    if (fsync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
        perror("dropping data.mdb's page cache");
    void *p = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *v = malloc(pages);
    if (p != MAP_FAILED && v && mincore(p, n, v) == 0)
        for (size_t i = 0; i < pages; i++)
            cached += v[i] & 1;
    printf("--cold: data.mdb's page cache dropped: %zu of %zu MB still cached\n", cached >> 8,
           n >> 20);
    free(v);
    if (p != MAP_FAILED)
        munmap(p, n);
    close(fd);
}

/*
 * How much of data.mdb's map, the mapping of `dir`/data.mdb as long as LMDB's (not the floors'
 * map of the file's size), is mapped with huge pages, from /proc/self/smaps: FilePmdMapped
 * and Rss in kB, or -1 when no such mapping is found.
 */
static void map_huge_kb(const char *dir, long *pmd, long *rss)
{
    char path[600], line[1024];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat st;
    *pmd = *rss = -1;
    FILE *f = stat(path, &st) == 0 ? fopen("/proc/self/smaps", "r") : NULL;
    bool in = false;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, ino;
        long kb;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &ino) == 3) {
            if (in) /* the mapping read before */
                break;
            in = ino == (unsigned long)st.st_ino && hi - lo > (unsigned long)st.st_size;
        } else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1) {
            *rss = kb;
        } else if (in && sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1) {
            *pmd = kb;
        }
    }
    if (f)
        fclose(f);
}

/*
 * One random read in n bytes of private anonymous memory asked for in huge pages
 * (MADV_HUGEPAGE), timed as the floors in the map are: whether the map's 4 KB pages, not the
 * memory itself, are what one read in the map costs. Prints its p50 and how much of the
 * buffer the kernel gave in huge pages; returns the p50.
 */
static long long anon_floor(size_t n, long long *t, size_t m)
{
    unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    long before = anon_huge_kb();
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE);
#endif
    memset(p, 1, n);
    long huge = anon_huge_kb() - before;
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < m; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t a = (size_t)(x % n);
        long long t0 = now_ns();
        unsigned y = p[a];
        t[i] = now_ns() - t0;
        sink += y;
    }
    qsort(t, m, sizeof *t, cmp_ll);
    printf("%-34s p50 %5lld ns  p99 %6lld ns  (%ld of %zu MB in huge pages)\n",
           "floor: 1 read in anonymous memory", t[m / 2], t[m * 99 / 100],
           huge < 0 ? 0 : huge / 1024, n >> 20);
    munmap(p, n);
    return t[m / 2];
}

/*
 * The floors of a lookup on this machine, read at random places of data.mdb mapped as LMDB
 * maps it and timed as the lookups are: one read (what a lookup that computes where its
 * record is must at least do: the bucket), and two dependent reads (a slot, then the record
 * it points to), then one read in anonymous memory (anon_floor). Prints their p50; returns
 * the one-read p50, the two-read p50 in *two and the anonymous one in *anon.
 */
static long long floor_p50(const char *dir, long long *t, size_t m, long long *two, long long *anon)
{
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 8192)
        return 0;
    size_t n = (size_t)st.st_size;
    const unsigned char *p = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 0;
    for (size_t i = 0; i < n; i += 4096)
        sink += p[i];
    long long p50[2];
    for (int reads = 1; reads <= 2; reads++) {
        uint64_t x = 88172645463325252ULL;
        for (size_t i = 0; i < m; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t a = (size_t)(x % n), b = (size_t)((x >> 24) % n);
            long long t0 = now_ns();
            unsigned y = p[a];
            if (reads == 2)
                y += p[(b + y) % n];
            t[i] = now_ns() - t0;
            sink += y;
        }
        qsort(t, m, sizeof *t, cmp_ll);
        printf("%-34s p50 %5lld ns  p99 %6lld ns\n",
               reads == 1 ? "floor: 1 read in the map" : "floor: 2 dependent reads in the map",
               t[m / 2], t[m * 99 / 100]);
        p50[reads - 1] = t[m / 2];
    }
    munmap((void *)p, n);
    *two = p50[1];
    *anon = anon_floor(n, t, m);
    return p50[0];
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* The passes: uniform draws (a number not looked up lately: what a miss into the map
 * costs), Zipf draws (numbers repeated as traffic repeats them); without the cache of hot
 * numbers, then with it (a build whose directory has none runs the first four only). */
static const struct {
    const char *what;
    bool zipf, cached;
} passes[] = {
    {"reverse number lookup (snapshot)", false, false},
    {"SIP URI lookup (snapshot)", false, false},
    {"reverse lookup, snapshot per call", false, false},
    {"reverse lookup, Zipf s=1 (snapshot)", true, false},
    {"reverse lookup, cached (snapshot)", false, true},
    {"reverse lookup, Zipf s=1, cached", true, true},
};
#ifdef CR_DIR_HOT_RECORD
#define NPASSES 6
#else
#define NPASSES 4
#endif

static long long p50s[NPASSES];

/* The thread's lookups answered by the cache so far (0 in a build without the count). */
#ifdef CR_DIR_HOT_COUNT
#define HOT_HITS() cr_dir_hot_count().hits
#else
#define HOT_HITS() (size_t)0
#endif

/* A snapshot; lookups through the cache of hot numbers or not. */
static void begin(cr_directory *d, cr_dir_reader *r, bool cached)
{
    cr_dir_reader_begin(d, NULL, r);
#ifdef CR_DIR_HOT_RECORD
    r->uncached = !cached;
#else
    (void)cached;
#endif
}

/*
 * Lookups as traffic makes them: user k drawn with probability proportional to 1 / rank (Zipf,
 * s = 1) over all n users, the ranks given to users in a random order (hot numbers are not
 * neighbours). The uniform draw above is what a lookup costs when its number was not looked
 * up lately (a miss into the map); this one, what a mix with repeated numbers costs.
 */
static void zipf_draw(size_t *out, size_t m, size_t n)
{
    double *cdf = malloc(n * sizeof *cdf), sum = 0;
    size_t *perm = malloc(n * sizeof *perm);
    if (!cdf || !perm) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) {
        sum += 1.0 / (double)(i + 1);
        cdf[i] = sum;
        perm[i] = i;
    }
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % (i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < m; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0 * sum;
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        out[i] = perm[lo];
    }
    free(cdf);
    free(perm);
}

/* The share of a cached pass's lookups the cache answered, and the p50 / p99 of those and of
 * the others (hit[i]: whether lookup i was answered from it). */
static void report_hits(const long long *t, const unsigned char *hit, size_t m, char *out,
                        size_t cap)
{
    *out = 0;
    long long *a = malloc((m + 1) * sizeof *a);
    if (!a)
        return;
    for (int want = 1; want >= 0; want--) {
        size_t k = 0;
        for (size_t i = 0; i < m; i++)
            if (hit[i] == want)
                a[k++] = t[i];
        if (!k)
            continue;
        qsort(a, k, sizeof *a, cmp_ll);
        size_t at = strlen(out);
        snprintf(out + at, cap - at, "  %-32s p50 %5lld ns  p99 %6lld ns  (%.1f %% of them)\n",
                 want ? "answered by the cache" : "not in the cache", a[k / 2], a[k * 99 / 100],
                 100.0 * (double)k / (double)m);
    }
    free(a);
}

static void report(const char *what, long long *t, size_t m, int pass)
{
    qsort(t, m, sizeof *t, cmp_ll);
    printf("%-34s p50 %5lld ns  p99 %6lld ns  max %8lld ns  (%zu lookups)\n", what, t[m / 2],
           t[m * 99 / 100], t[m - 1], m);
    p50s[pass] = t[m / 2];
}

int main(int argc, char **argv)
{
    size_t n = 1000000, m = 1000000;
    const char *base = NULL;
    bool xml = false, keep = false, cold = false;
    int only = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--users") == 0 && i + 1 < argc)
            n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--lookups") == 0 && i + 1 < argc)
            m = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            base = argv[++i];
        else if (strcmp(argv[i], "--xml") == 0)
            xml = true;
        else if (strcmp(argv[i], "--keep") == 0)
            keep = true;
        else if (strcmp(argv[i], "--cold") == 0)
            cold = true;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
                 (only = atoi(argv[i + 1])) >= 0 && only < NPASSES)
            i++;
        else {
            fprintf(stderr,
                    "usage: %s [--users N] [--lookups M] [--dir DIR] [--xml] [--keep] "
                    "[--only PASS] [--cold]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n == 0 || m == 0)
        return 2;
    char tmpl[] = "/tmp/cr_dirbench_XXXXXX", dir[512], file[600];
    if (!base && !(base = mkdtemp(tmpl))) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s/db", base);
    snprintf(file, sizeof file, "%s/users.%s", base, xml ? "xml" : "csv");
    double t0 = now();
    generate(file, n, xml);
    printf("generated %zu users as %s in %.2f s: %s\n", n, xml ? "XML" : "CSV", now() - t0, file);

    cr_directory *d;
    char err[512];
    if (cr_directory_open(dir, true, &d, err, sizeof err) != CR_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    cr_diag diag;
    cr_diag_init(&diag);
    cr_import_report rep;
    t0 = now();
    double c0 = cpu_now();
    int rc = cr_directory_import(d, file, true, &rep, &diag);
    double secs = now() - t0, cpu = cpu_now() - c0;
    if (rc != CR_OK) {
        for (size_t i = 0; i < diag.count; i++)
            fprintf(stderr, "%s:%d: %s\n", diag.items[i].file, diag.items[i].line,
                    diag.items[i].message);
        return 1;
    }
    cr_diag_free(&diag);
    cr_directory_stats st;
    cr_directory_stat(d, &st);
    printf("import: %zu users in %.2f s (%.0f users/s, %.2f s of CPU); %zu users, %zu line keys\n",
           rep.read, secs, rep.read / secs, cpu, st.users, st.lines);
    printf("data.mdb: %llu bytes (%.1f MiB), %llu in use (%.0f bytes per user)\n",
           (unsigned long long)st.file_bytes, st.file_bytes / 1048576.0,
           (unsigned long long)st.used_bytes, (double)st.used_bytes / (double)n);

    if (cold) { /* closed, so that no page of the file is mapped while its cache is dropped */
        cr_directory_close(d);
        drop_cache(dir);
        if (cr_directory_open(dir, false, &d, err, sizeof err) != CR_OK) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
    }

    long long *t = malloc(m * sizeof *t);
    size_t *which = malloc(m * sizeof *which);
    if (!t || !which)
        return 2;
    dir_bench_uniform(which, m, n);
    char num[32], uri[64];
    cr_dir_reader r;
    size_t misses = 0;
    /* warm the map: the figures are for a directory in the page cache, as in production */
    begin(d, &r, false);
    for (size_t i = 0; i < n; i += 7) {
        snprintf(num, sizeof num, "+1425%07zu", i);
        misses += cr_dir_reader_by_number(&r, num, NULL) == NULL;
    }
    cr_dir_reader_end(&r);
    size_t *zipf = malloc(m * sizeof *zipf);
    unsigned char *hit = malloc(m);
    if (!zipf || !hit)
        return 2;
    zipf_draw(zipf, m, n);
    for (int pass = 0; pass < NPASSES; pass++) {
        if (only >= 0 && pass != only)
            continue;
        bool cached = passes[pass].cached, per_call = pass == 2;
        begin(d, &r, cached);
        size_t seen = HOT_HITS();
        for (size_t i = 0; i < m; i++) {
            size_t k = passes[pass].zipf ? zipf[i] : which[i];
            if (pass == 1)
                snprintf(uri, sizeof uri, "sip:u%zu@contoso.com", k);
            else
                snprintf(num, sizeof num, "+1425%07zu", k);
            long long a = now_ns();
            const cr_user *u;
            if (pass == 1) {
                u = cr_dir_reader_find(&r, uri);
            } else {
                if (per_call) {
                    cr_dir_reader_end(&r);
                    begin(d, &r, cached);
                }
                u = cr_dir_reader_by_number(&r, num, NULL);
            }
            t[i] = now_ns() - a;
            size_t now_hits = HOT_HITS();
            hit[i] = now_hits != seen;
            seen = now_hits;
            misses += u == NULL;
            if (!per_call && r.used >= CR_DIR_SLOTS) { /* keep to the fixed slots */
                cr_dir_reader_end(&r);
                begin(d, &r, cached);
            }
        }
        cr_dir_reader_end(&r);
        char split[256] = "";
        if (cached)
            report_hits(t, hit, m, split, sizeof split); /* before report() sorts t */
        report(passes[pass].what, t, m, pass);
        fputs(split, stdout);
    }
    long pmd, rss;
    map_huge_kb(dir, &pmd, &rss);
    if (pmd >= 0)
        printf("data.mdb map: %ld of %ld MB mapped in huge pages (FilePmdMapped)%s\n", pmd >> 10,
               rss >> 10, cold ? ", faulted in after --cold" : "");
    long long fl = 0, anon = 0, one = only >= 0 ? 0 : floor_p50(dir, t, m, &fl, &anon);
    if (fl > 0)
        printf("p50 as a multiple of the floor: reverse %.2fx, SIP URI %.2fx, snapshot per call "
               "%.2fx\n",
               (double)p50s[0] / fl, (double)p50s[1] / fl, (double)p50s[2] / fl);
    if (one > 0)
        printf("p50 as a multiple of one read: reverse %.2fx, Zipf cached %.2fx\n",
               (double)p50s[0] / one, (double)p50s[NPASSES - 1] / one);
    if (anon > 0)
        printf("one read in the map as a multiple of one in anonymous memory: %.2fx\n",
               (double)one / anon);
    long long a = now_ns();
    (void)now_ns();
    printf("clock overhead per measurement: %lld ns (included above)\n", (now_ns() - a) / 2);
    printf("misses: %zu (must be 0)\n", misses);
    cr_directory_close(d);
    free(t);
    free(which);
    free(zipf);
    free(hit);
    if (!keep) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", base);
    } else {
        printf("kept %s\n", base);
    }
    return misses ? 1 : 0;
}

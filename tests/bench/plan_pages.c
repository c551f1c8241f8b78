/*
 * plan_pages — what the page size under a plan costs a decision, and which page size a
 * measurement ran on.
 *
 *   plan_pages PLAN.xml [--dir DIR]... [--seconds S] [--rounds R] [--numbers N] [--json]
 *
 * The goals' decision benchmarks (`callroute bench`, growth) decide from the plan compiled in
 * their own process, whose large tables are anonymous memory advised onto 2 MB pages
 * (cr_map_huge). A Kamailio SIP worker decides from the published plan image mapped from the
 * runtime directory (MAP_SHARED: /dev/shm by default, where tmpfs gives 4 KB pages unless
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled allows more). This program decides the
 * same calls from:
 *   in-process        the plan compiled from PLAN.xml (what the goals measure)
 *   DIR plain         its image written into DIR and mapped as the library mapped it before it
 *                     asked for huge pages (mmap MAP_SHARED|MAP_POPULATE, no advice)
 *   DIR library       another copy of the image in DIR mapped by cr_image_map_file_ex, as a
 *                     worker adopting the published plan maps it
 *   DIR private copy  (the first DIR only) another copy read into private anonymous memory
 *                     on 2 MB pages (cr_image_load_ex): a plan decided from an image's bytes,
 *                     without the shared mapping, so that what the page size costs can be
 *                     told from what deciding from an image costs otherwise
 * (DIR: each --dir, /dev/shm when none is given), all in one process in alternating 20 ms
 * blocks (as growth does, so every variant sees the same minutes of the machine), each decision
 * timed. Each round prints every variant's p50; the end, each one's min-max over the rounds,
 * and the min-max of its p50 over the in-process plan's p50 of the same round.
 * Each image is its own file (written with cr_image_write, as a publisher writes it), so that
 * one mapping's page-cache folios are not the other's.
 *
 * For each variant it prints the share of its memory on huge pages, read from
 * /proc/self/smaps: for an image, of the mapping's resident bytes, AnonHugePages +
 * ShmemPmdMapped + FilePmdMapped (the bytes mapped by 2 MB entries); for the in-process plan,
 * AnonHugePages over Rss of what loading it added to the process (smaps_rollup before and
 * after). Every decision of each image is compared with the in-process plan's first (a
 * difference: exit 1). Nothing is asserted on time: this is a measuring program.
 * Exit status 0; 1 when the plan, its numbers or an image fail; 2 on a usage error.
 */
#include "cr_engine.h"
#include "cr_image.h"
#include "cr_rules.h"

#include "bench_decide.h"
#include "bench_numbers.h"
#include "bench_timing_opts.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BUCKETS  8192
#define BLOCK_NS 20000000ull
#define MAX_DIRS 4
#define MAX_VARS (2 + 2 * MAX_DIRS)

typedef struct pages {
    long rss, huge_kb; /* kB: resident, of which mapped by 2 MB entries */
    long anon_huge, shmem_pmd, file_pmd;
    bool advised; /* VmFlags has hg: MADV_HUGEPAGE was given (a mapping's, not the rollup's) */
} pages;

typedef struct variant {
    char name[300], path[4096];
    cr_config *cfg;
    const void *base; /* the image's mapping (NULL: the in-process plan) */
    pages pg;
    uint32_t counter;
    size_t next;
    uint64_t hist[BUCKETS], count;
    double p50[2], ratio[2]; /* min-max over the rounds; ratio: to the in-process plan's p50
                              * of the same round */
} variant;

static char **from, **dialed;
static size_t ncalls;

/* Adds the kB figures of one smaps line to *p. */
static void pages_line(const char *line, pages *p)
{
    char key[64];
    long v;
    if (!strncmp(line, "VmFlags:", 8)) {
        p->advised = strstr(line, " hg") != NULL;
        return;
    }
    if (sscanf(line, "%63[^:]: %ld", key, &v) != 2)
        return;
    if (!strcmp(key, "Rss"))
        p->rss += v;
    else if (!strcmp(key, "AnonHugePages"))
        p->anon_huge += v;
    else if (!strcmp(key, "ShmemPmdMapped"))
        p->shmem_pmd += v;
    else if (!strcmp(key, "FilePmdMapped"))
        p->file_pmd += v;
    p->huge_kb = p->anon_huge + p->shmem_pmd + p->file_pmd;
}

/* The figures of the mapping holding addr (/proc/self/smaps), or of the whole process
 * (smaps_rollup) when addr is NULL. */
static pages pages_of(const void *addr)
{
    pages p = {0};
    FILE *f = fopen(addr ? "/proc/self/smaps" : "/proc/self/smaps_rollup", "r");
    char line[512];
    bool in = addr == NULL;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char c;
        /* a mapping's first line: "lo-hi perms ..."; its fields are "Key:   value kB" (no key
         * reads as "hex-hex c") */
        if (addr && sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3) {
            if (in)
                break;
            in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
            continue;
        }
        if (in)
            pages_line(line, &p);
    }
    if (f)
        fclose(f);
    return p;
}

static void pages_print(const char *name, const pages *p)
{
    printf("  %-28s resident %8ld kB, on 2 MB pages %8ld kB (%3.0f%%: AnonHugePages %ld, "
           "ShmemPmdMapped %ld, FilePmdMapped %ld)%s\n",
           name, p->rss, p->huge_kb, p->rss > 0 ? 100.0 * (double)p->huge_kb / (double)p->rss : 0,
           p->anon_huge, p->shmem_pmd, p->file_pmd, p->advised ? ", advised" : "");
}

static void block(variant *v, uint64_t ns, bool timed)
{
    static cr_decision d;
    cr_runtime rt = {.ud = &v->counter, .spread = bench_spread_counter};
    uint64_t t0 = bench_now_ns();
    do {
        for (size_t k = 0; k < 256; k++) {
            size_t i = v->next++ % ncalls;
            uint64_t s = bench_now_ns();
            cr_route_decide(v->cfg, from[i], dialed[i], &rt, &d, NULL);
            uint64_t dt = bench_now_ns() - s;
            if (timed) {
                v->hist[dt < BUCKETS - 1 ? dt : BUCKETS - 1]++;
                v->count++;
            }
        }
    } while (bench_now_ns() - t0 < ns);
}

/* The image of model written to path and mapped: by the library, or (plain) as it was mapped
 * before it asked for huge pages; or (copy) read into private memory. */
static int image_variant(variant *v, const cr_config *model, bool plain, bool copy)
{
    char err[600];
    if (cr_image_write(v->path, model, 1, NULL, err, sizeof err) != CR_OK) {
        fprintf(stderr, "plan_pages: %s\n", err);
        return -1;
    }
    if (copy) {
        /* the image read into private anonymous memory on 2 MB pages (cr_image_load_ex, as for
         * an admin's file): the image's own code path without the shared mapping */
        cr_diag d;
        cr_diag_init(&d);
        int rc = cr_image_load_ex(v->path, CR_IMAGE_NOLINT, &v->cfg, &d);
        cr_diag_free(&d);
        if (rc != CR_OK) {
            fprintf(stderr, "plan_pages: %s does not load\n", v->path);
            return -1;
        }
        const void *span = NULL;
        size_t len = 0;
        v->base = cr_config_borrowed_span(v->cfg, &span, &len) ? span : NULL;
        return 0;
    }
    cr_image_map m;
    if (cr_image_map_file_ex(v->path, CR_IMAGE_TRUSTED, &m, err, sizeof err) != CR_OK) {
        fprintf(stderr, "plan_pages: %s\n", err);
        return -1;
    }
    if (plain) {
        /* the same file mapped again the old way, in place of the library's mapping */
        FILE *f = fopen(v->path, "r");
        void *p =
            f ? mmap(NULL, m.len, PROT_READ, MAP_SHARED | MAP_POPULATE, fileno(f), 0) : MAP_FAILED;
        if (f)
            fclose(f);
        if (p == MAP_FAILED) {
            perror(v->path);
            cr_image_unmap(&m);
            return -1;
        }
        munmap((void *)(uintptr_t)m.base, m.len);
        m.base = p;
    }
    v->base = m.base;
    cr_diag d;
    cr_diag_init(&d);
    int rc = cr_image_load_owned_ex(&m, v->path, CR_IMAGE_NOLINT | CR_IMAGE_TRUSTED, &v->cfg, &d);
    cr_diag_free(&d);
    if (rc != CR_OK) {
        fprintf(stderr, "plan_pages: %s does not load\n", v->path);
        return -1;
    }
    return 0;
}

/* Whether every call decides the same from a as from b (the first difference printed). */
static bool same_decisions(const cr_config *a, const cr_config *b, const char *bname)
{
    static cr_decision da, db;
    uint32_t ca = 0, cb = 0;
    cr_runtime ra = {.ud = &ca, .spread = bench_spread_counter};
    cr_runtime rb = {.ud = &cb, .spread = bench_spread_counter};
    for (size_t i = 0; i < ncalls; i++) {
        cr_route_decide(a, from[i], dialed[i], &ra, &da, NULL);
        cr_route_decide(b, from[i], dialed[i], &rb, &db, NULL);
        if (da.kind != db.kind || da.nattempts != db.nattempts ||
            strcmp(da.normalized, db.normalized) != 0 ||
            (da.nattempts && strcmp(da.attempts[0].gateway->name, db.attempts[0].gateway->name))) {
            fprintf(stderr, "plan_pages: %s decides %s -> %s otherwise than the plan compiled\n",
                    bname, from[i], dialed[i]);
            return false;
        }
    }
    return true;
}

static int usage(void)
{
    fprintf(stderr, "usage: plan_pages PLAN.xml [--dir DIR]... [--seconds S] [--rounds R] "
                    "[--numbers N] [--json]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static variant vs[MAX_VARS];
    const char *plan = NULL, *dirs[MAX_DIRS];
    int ndirs = 0;
    bench_timing_opts o = {.seconds = 3, .rounds = 3, .want = 20000};
    for (int i = 1; i < argc; i++) {
        int t = bench_timing_opt(argc, argv, &i, &o);
        if (t < 0)
            return usage();
        if (t > 0)
            continue;
        if (!strcmp(argv[i], "--dir") && i + 1 < argc && ndirs < MAX_DIRS)
            dirs[ndirs++] = argv[++i];
        else if (argv[i][0] != '-' && !plan)
            plan = argv[i];
        else
            return usage();
    }
    double seconds = o.seconds;
    long rounds = o.rounds, want = o.want;
    bool json = o.json;
    if (!plan)
        return usage();
    if (!ndirs)
        dirs[ndirs++] = "/dev/shm";
    ncalls = bench_numbers_read("plan_pages", plan, (size_t)want, &from, &dialed);
    if (ncalls == (size_t)-1 || ncalls == 0) {
        fprintf(stderr, "plan_pages: no calls in %s.numbers\n", plan);
        return 1;
    }
    int nv = 0, rc = 0;
    pages before = pages_of(NULL);
    cr_diag d;
    cr_diag_init(&d);
    variant *model = &vs[nv++];
    snprintf(model->name, sizeof model->name, "in-process");
    if (cr_rules_load(plan, &model->cfg, &d) != CR_OK) {
        fprintf(stderr, "plan_pages: %s does not load\n", plan);
        cr_diag_free(&d);
        return 1;
    }
    cr_diag_free(&d);
    pages after = pages_of(NULL);
    model->pg.rss = after.rss - before.rss;
    model->pg.anon_huge = after.anon_huge - before.anon_huge;
    model->pg.huge_kb = model->pg.anon_huge;
    for (int k = 0; k < ndirs && rc == 0; k++)
        for (int way = k ? 1 : 2; way >= 0 && rc == 0; way--) { /* 2 copy, 1 plain, 0 library */
            variant *v = &vs[nv++];
            static const char *const ways[] = {"library", "plain", "private copy"};
            snprintf(v->name, sizeof v->name, "%s %s", dirs[k], ways[way]);
            snprintf(v->path, sizeof v->path, "%s/plan_pages-%d-%d.plan", dirs[k], (int)getpid(),
                     nv);
            if (image_variant(v, model->cfg, way == 1, way == 2) != 0 ||
                !same_decisions(model->cfg, v->cfg, v->name))
                rc = 1;
        }
    if (rc == 0) {
        for (int k = 0; k < nv; k++) /* every call once: warm caches, lazy fills, JIT stacks */
            for (size_t i = 0; i < ncalls; i += 256)
                block(&vs[k], 0, false);
        for (int k = 1; k < nv; k++)
            vs[k].pg = pages_of(vs[k].base);
        if (!json) {
            printf("%s: %zu routes, %zu calls; page sizes under each plan:\n", plan,
                   cr_config_route_count(model->cfg), ncalls);
            for (int k = 0; k < nv; k++)
                pages_print(vs[k].name, &vs[k].pg);
        }
        for (long r = 0; r < rounds; r++) {
            for (int k = 0; k < nv; k++) {
                memset(vs[k].hist, 0, sizeof vs[k].hist);
                vs[k].count = 0;
            }
            uint64_t end = bench_now_ns() + (uint64_t)(seconds * 1e9);
            while (bench_now_ns() < end)
                for (int k = 0; k < nv; k++)
                    block(&vs[k], BLOCK_NS, true);
            if (!json)
                printf("round %ld of %ld: p50", r + 1, rounds);
            for (int k = 0; k < nv; k++) {
                double p = (double)bench_hist_pct(vs[k].hist, BUCKETS, vs[k].count, 1, 2);
                double p0 = (double)bench_hist_pct(vs[0].hist, BUCKETS, vs[0].count, 1, 2);
                double q = p0 > 0 ? p / p0 : 0;
                if (r == 0 || p < vs[k].p50[0])
                    vs[k].p50[0] = p;
                if (r == 0 || p > vs[k].p50[1])
                    vs[k].p50[1] = p;
                if (r == 0 || q < vs[k].ratio[0])
                    vs[k].ratio[0] = q;
                if (r == 0 || q > vs[k].ratio[1])
                    vs[k].ratio[1] = q;
                if (!json)
                    printf("%s %s %.0f ns", k ? "," : "", vs[k].name, p);
            }
            if (!json)
                printf("\n");
            fflush(stdout);
        }
        if (json) {
            printf("{\"plan\": \"%s\", \"routes\": %zu, \"calls\": %zu, \"variants\": [", plan,
                   cr_config_route_count(model->cfg), ncalls);
            for (int k = 0; k < nv; k++)
                printf("%s{\"name\": \"%s\", \"advised\": %s, \"aligned\": %s, "
                       "\"rss_kb\": %ld, \"huge_kb\": %ld, "
                       "\"anon_huge_kb\": %ld, \"shmem_pmd_kb\": %ld, \"file_pmd_kb\": %ld, "
                       "\"p50_ns\": [%.0f, %.0f], \"ratio\": [%.3f, %.3f]}",
                       k ? ", " : "", vs[k].name, vs[k].pg.advised ? "true" : "false",
                       vs[k].base && (uintptr_t)vs[k].base % (2u << 20) == 0 ? "true" : "false",
                       vs[k].pg.rss, vs[k].pg.huge_kb, vs[k].pg.anon_huge, vs[k].pg.shmem_pmd,
                       vs[k].pg.file_pmd, vs[k].p50[0], vs[k].p50[1], vs[k].ratio[0],
                       vs[k].ratio[1]);
            printf("]}\n");
        } else {
            for (int k = 0; k < nv; k++)
                printf("%-28s p50 %.0f-%.0f ns, %.2f-%.2fx the in-process plan's p50 of the "
                       "same round\n",
                       vs[k].name, vs[k].p50[0], vs[k].p50[1], vs[k].ratio[0], vs[k].ratio[1]);
            printf("(%ld rounds of %g s, alternating 20 ms blocks)\n", rounds, seconds);
        }
    }
    for (int k = 0; k < nv; k++) {
        cr_config_free(vs[k].cfg);
        if (vs[k].path[0])
            unlink(vs[k].path);
    }
    bench_numbers_free(from, dialed, ncalls);
    return rc;
}

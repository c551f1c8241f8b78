/*
 * `callroute bench`: the options become the bench's arguments. The bench runs in
 * libcallroute-bench.so (plugin-api/bench/), not in the libcallroute.so loaded for the other
 * subcommands: that one has no bench (cr_plugin.bench is NULL).
 */
#include "bench.h"
#include "cli.h"
#include "opts.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cr_optspec bench_spec[] = {
    {"config", true},    {"generate", true}, {"numbers", true}, {"seconds", true},
    {"reload-ms", true}, {"reloads", true},  {"threads", true}, {"save", true},
    {"seed", true},      {"json", false},    {"help", false},   {"baseline", true},
    {"runs", true},      {NULL, false},
};

static void usage(FILE *f)
{
    fputs("usage: callroute bench (--config FILE | --generate routes=N,rules=M,users=U)\n"
          "         [--numbers FILE] [--seconds S] [--reload-ms MS] [--reloads K]\n"
          "         [--threads T] [--save FILE] [--seed X] [--json]\n"
          "         [--baseline OLD/libcallroute-bench.so [--runs N]]\n"
          "       callroute bench --rgs ...   (response groups: callroute bench --rgs --help)\n"
          "Times routing decisions inside the library: the compiled index and the naive scan\n"
          "in the same run, load time and memory; with --reload-ms, reloads while T threads\n"
          "decide (blocked, failed or mixed decisions are counted; exit status 1 if any).\n"
          "With --baseline, the same plan and numbers on an older bench library and this one,\n"
          "N runs each (3), alternated, then the ratios of each pair.\n",
          f);
}

/* The bench table of the library at `path`, or NULL with *why set. */
static const cr_plugin *open_bench(const char *path, const char **why)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        *why = dlerror();
        return NULL;
    }
    crb_plugin_fn entry = (crb_plugin_fn)dlsym(dl, CRB_PLUGIN_SYMBOL);
    if (entry)
        return entry();
    *why = "no " CRB_PLUGIN_SYMBOL " symbol (not a libcallroute-bench.so)";
    dlclose(dl);
    return NULL;
}

/* libcallroute-bench.so from CALLROUTE_BENCH_LIBRARY, beside this program, the build tree or
 * the installed library directory (the first that loads); NULL after printing why not. */
static const cr_plugin *load_bench(void)
{
    char self[PATH_MAX], beside[PATH_MAX + 32];
    const char *candidates[4];
    size_t n = 0;
    const char *env = getenv("CALLROUTE_BENCH_LIBRARY");
    if (env && *env)
        candidates[n++] = env;
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    self[l > 0 ? l : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash) {
        *slash = 0;
        snprintf(beside, sizeof beside, "%s/libcallroute-bench.so", self);
        candidates[n++] = beside;
    }
    candidates[n++] = CR_DEFAULT_BENCH_LIBRARY;
    candidates[n++] = CR_INSTALLED_BENCH_LIBRARY;
    const char *last = "no candidate";
    for (size_t i = 0; i < n; i++) {
        const cr_plugin *p = open_bench(candidates[i], &last);
        if (p)
            return p;
    }
    fprintf(stderr, "callroute bench: cannot load libcallroute-bench.so: %s\n", last);
    return NULL;
}

static const char *get(const cr_plugin *p, const cr_result *r, const char *k)
{
    const char *v = p->result_get(r, k);
    return v ? v : "-";
}

static double num(const cr_plugin *p, const cr_result *r, const char *k)
{
    const char *v = p->result_get(r, k);
    return v ? strtod(v, NULL) : 0;
}

static void print_text(const cr_plugin *p, const cr_result *r)
{
    printf("configuration   %s: %s routes, %s rules, %s users\n", get(p, r, "config"),
           get(p, r, "routes"), get(p, r, "rules"), get(p, r, "users"));
    printf("load            %s ms (%s ms CPU), %.1f MB resident (peak %.1f MB), index %.1f MB\n",
           get(p, r, "load_ms"), get(p, r, "load_cpu_ms"), num(p, r, "rss_bytes") / 1048576.0,
           num(p, r, "peak_rss_bytes") / 1048576.0, num(p, r, "index_bytes") / 1048576.0);
    printf("index           %s routes indexed, %s scanned always; %s rules indexed, %s always\n",
           get(p, r, "routes_indexed"), get(p, r, "routes_fallback"), get(p, r, "rules_indexed"),
           get(p, r, "rules_fallback"));
    printf("numbers         %s (%s outbound, %s internal, %s blocked); indexed = naive on %s, "
           "%s mismatches\n",
           get(p, r, "numbers"), get(p, r, "outbound"), get(p, r, "internal"), get(p, r, "blocked"),
           get(p, r, "verified"), get(p, r, "mismatches"));
    printf("decisions       %.0f/s on one thread; p50 %s ns, p99 %s ns (each with the clock read "
           "twice: p50 %s ns alone)\n",
           num(p, r, "decisions_per_sec"), get(p, r, "p50_ns"), get(p, r, "p99_ns"),
           get(p, r, "timer_p50_ns"));
    printf("naive scan      p50 %s ns, p99 %s ns: index %sx faster\n", get(p, r, "naive_p50_ns"),
           get(p, r, "naive_p99_ns"), get(p, r, "speedup"));
    if (p->result_get(r, "reloads")) {
        printf("reloads         %s (%s refused), %s ms average, %s ms longest\n",
               get(p, r, "reloads"), get(p, r, "reloads_failed"), get(p, r, "reload_ms_avg"),
               get(p, r, "reload_ms_max"));
        printf("under reload    %s decisions on %s threads: p50 %s ns, p99 %s ns, max %.3f ms, "
               "%s over 1 ms\n",
               get(p, r, "reload_decisions"), get(p, r, "reload_threads"),
               get(p, r, "reload_p50_ns"), get(p, r, "reload_p99_ns"),
               num(p, r, "reload_max_ns") / 1e6, get(p, r, "reload_slow_over_1ms"));
        printf("without reloads %s decisions before the first reload: max %.3f ms, %s over 1 ms\n",
               get(p, r, "baseline_decisions"), num(p, r, "baseline_max_ns") / 1e6,
               get(p, r, "baseline_slow_over_1ms"));
        printf("                %s failed, %s mixed two configurations\n",
               get(p, r, "reload_failures"), get(p, r, "reload_mixes"));
        printf("memory          %.1f MB after the first reload, %.1f MB after the 100th, %.1f MB "
               "after the last (%+.1f MB since the 100th)\n",
               num(p, r, "rss_after_first_reload_bytes") / 1048576.0,
               num(p, r, "rss_after_100_reloads_bytes") / 1048576.0,
               num(p, r, "rss_after_last_reload_bytes") / 1048576.0,
               num(p, r, "rss_growth_bytes") / 1048576.0);
    }
}

/* One run's figures, for --baseline. */
typedef struct run_fig {
    double p50, p99, dps, mismatches;
} run_fig;

/* p's bench on args[0..n): its result, or NULL after printing why not. */
static cr_result *run_bench(const cr_plugin *p, const char *const *args, size_t n)
{
    char err[4096] = "";
    cr_result *r = NULL;
    int rc = p->bench(args, n, &r, err, sizeof err);
    if (rc != 0 || !r) {
        fprintf(stderr, "callroute bench: %s\n", err[0] ? err : p->strerror(rc));
        return NULL;
    }
    return r;
}

static int bench_run(const cr_plugin *p, const char *const *args, size_t n, run_fig *f)
{
    cr_result *r = run_bench(p, args, n);
    if (!r)
        return 2;
    *f = (run_fig){num(p, r, "p50_ns"), num(p, r, "p99_ns"), num(p, r, "decisions_per_sec"),
                   num(p, r, "mismatches")};
    p->result_free(r);
    return 0;
}

/* The lowest and highest of v[0..n) (lo, hi). */
static void span(const double *v, size_t n, double *lo, double *hi)
{
    *lo = *hi = v[0];
    for (size_t i = 1; i < n; i++) {
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
}

/* Removes directory `dir` and the files in it (a saved plan: its XML, the files it includes,
 * its numbers). */
static void remove_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[PATH_MAX];
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                int l = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                if (l > 0 && (size_t)l < sizeof path)
                    unlink(path);
            }
        closedir(d);
    }
    rmdir(dir);
}

#define MAX_RUNS 100

/*
 * --baseline: the same bench on an older libcallroute-bench.so (before) and this one (after),
 * `runs` pairs, before then after in each pair, then the ratios per pair (> 1: after is
 * faster). A generated plan is generated once, by the first run, and saved (--save, or a
 * temporary file): every run then loads the same plan and numbers, whichever generator each
 * library has. Each run checks its own index against the naive scan (mismatches: exit 1).
 */
static int compare(const cr_plugin *p, const char *baseline, size_t runs, const char **args,
                   size_t n, const char *generate, const char *save, const char *numbers, bool json)
{
    const char *why = "";
    const cr_plugin *base = open_bench(baseline, &why);
    if (!base) {
        fprintf(stderr, "callroute bench: --baseline %s: %s\n", baseline, why);
        return 2;
    }
    char dir[PATH_MAX], plan[PATH_MAX] = "", cfg[PATH_MAX + 16], nums[PATH_MAX + 16];
    if (strlen(save ? save : "") + 16 > PATH_MAX ||
        strlen(numbers ? numbers : "") + 16 > PATH_MAX) {
        fprintf(stderr, "callroute bench: --save or --numbers: path too long\n");
        return 2;
    }
    const char *tmpdir = getenv("TMPDIR");
    int l = snprintf(dir, sizeof dir, "%s/callroute-bench-ab-XXXXXX",
                     tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (generate && !save) {
        if (l < 0 || (size_t)l + 16 > sizeof dir || !mkdtemp(dir)) {
            fprintf(stderr, "callroute bench: cannot make a directory for the plan: %s\n", dir);
            return 2;
        }
        memcpy(plan, dir, (size_t)l);
        memcpy(plan + l, "/plan.xml", sizeof "/plan.xml");
        save = plan;
    }
    run_fig before[MAX_RUNS], after[MAX_RUNS];
    int status = 0;
    for (size_t i = 0; i < runs && status == 0; i++) {
        if (i == 0 && generate) { /* the first run generates and saves the plan */
            char sv[PATH_MAX + 16];
            const char *a0[16];
            size_t m = 0;
            for (size_t k = 0; k < n; k++)
                if (strncmp(args[k], "save=", 5) != 0)
                    a0[m++] = args[k];
            snprintf(sv, sizeof sv, "save=%s", save);
            a0[m++] = sv;
            status = bench_run(base, a0, m, &before[i]);
            /* from now on: the saved plan and its numbers, not generated again */
            size_t w = 0;
            for (size_t k = 0; k < n; k++)
                if (strncmp(args[k], "generate=", 9) != 0 && strncmp(args[k], "save=", 5) != 0 &&
                    strncmp(args[k], "seed=", 5) != 0 && strncmp(args[k], "numbers=", 8) != 0)
                    args[w++] = args[k];
            snprintf(cfg, sizeof cfg, "config=%s", save);
            args[w++] = cfg;
            snprintf(nums, sizeof nums, "numbers=%s%s", numbers ? numbers : save,
                     numbers ? "" : ".numbers");
            args[w++] = nums;
            n = w;
        } else {
            status = bench_run(base, args, n, &before[i]);
        }
        if (status == 0)
            status = bench_run(p, args, n, &after[i]);
        if (status == 0 && !json)
            fprintf(stderr, "run %zu of %zu: before p50 %.0f ns, after p50 %.0f ns\n", i + 1, runs,
                    before[i].p50, after[i].p50);
    }
    if (plan[0])
        remove_flat(dir);
    if (status != 0)
        return status;
    double v[6][MAX_RUNS], lo[6], hi[6], mism = 0;
    for (size_t i = 0; i < runs; i++) {
        v[0][i] = before[i].p50, v[1][i] = after[i].p50;
        v[2][i] = before[i].p99, v[3][i] = after[i].p99;
        v[4][i] = after[i].p50 > 0 ? before[i].p50 / after[i].p50 : 0;
        v[5][i] = after[i].p99 > 0 ? before[i].p99 / after[i].p99 : 0;
        mism += before[i].mismatches + after[i].mismatches;
    }
    for (int k = 0; k < 6; k++)
        span(v[k], runs, &lo[k], &hi[k]);
    if (json) {
        printf("{\"baseline\":\"%s\",\"runs\":%zu,\"before_p50_ns\":[%.0f,%.0f],"
               "\"after_p50_ns\":[%.0f,%.0f],\"before_p99_ns\":[%.0f,%.0f],"
               "\"after_p99_ns\":[%.0f,%.0f],\"p50_ratio\":[%.2f,%.2f],\"p99_ratio\":[%.2f,%.2f],"
               "\"mismatches\":%.0f}\n",
               baseline, runs, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], lo[3], hi[3], lo[4], hi[4],
               lo[5], hi[5], mism);
    } else {
        printf("before/after, %zu run%s each, alternated (before = %s):\n", runs,
               runs == 1 ? "" : "s", baseline);
        for (size_t i = 0; i < runs; i++)
            printf("  run %zu  before p50 %5.0f ns p99 %6.0f ns %9.0f/s | after p50 %5.0f ns p99 "
                   "%6.0f ns %9.0f/s | p50 %.2fx\n",
                   i + 1, before[i].p50, before[i].p99, before[i].dps, after[i].p50, after[i].p99,
                   after[i].dps, v[4][i]);
        printf("before       p50 %.0f-%.0f ns, p99 %.0f-%.0f ns\n", lo[0], hi[0], lo[2], hi[2]);
        printf("after        p50 %.0f-%.0f ns, p99 %.0f-%.0f ns\n", lo[1], hi[1], lo[3], hi[3]);
        printf("ratio        p50 x%.2f-%.2f, p99 x%.2f-%.2f (per pair; > 1 = after is faster)\n",
               lo[4], hi[4], lo[5], hi[5]);
        printf("index        %s\n",
               mism == 0 ? "= naive scan in every run" : "MISMATCHES with the naive scan");
    }
    return mism == 0 ? 0 : 1;
}

int cr_cmd_bench(const cr_plugin *loaded, int argc, char **argv)
{
    (void)loaded;
    cr_opts o;
    if (!cr_opts_parse(argc, argv, bench_spec, &o))
        return 2;
    if (cr_flag(&o, "help")) {
        usage(stdout);
        return 0;
    }
    if (o.npos || !cr_opt(&o, "config") == !cr_opt(&o, "generate")) {
        usage(stderr);
        return 2;
    }
    const cr_plugin *p = load_bench();
    if (!p)
        return 2;
    static const struct {
        const char *opt, *key;
    } map[] = {{"config", "config"},   {"generate", "generate"},   {"numbers", "numbers"},
               {"seconds", "seconds"}, {"reload-ms", "reload_ms"}, {"reloads", "reloads"},
               {"threads", "threads"}, {"save", "save"},           {"seed", "seed"}};
    char bufs[sizeof map / sizeof *map][1100];
    const char *args[sizeof map / sizeof *map + 2]; /* + config and numbers (compare) */
    size_t n = 0;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        const char *v = cr_opt(&o, map[i].opt);
        if (!v)
            continue;
        snprintf(bufs[n], sizeof bufs[n], "%s=%s", map[i].key, v);
        args[n] = bufs[n];
        n++;
    }
    const char *baseline = cr_opt(&o, "baseline");
    if (baseline) {
        const char *rs = cr_opt(&o, "runs");
        char *end = NULL;
        long runs = rs ? strtol(rs, &end, 10) : 3;
        if (rs && (*end || runs < 1 || runs > MAX_RUNS)) {
            fprintf(stderr, "callroute bench: --runs: 1 to %d\n", MAX_RUNS);
            return 2;
        }
        if (cr_opt(&o, "reload-ms") || cr_opt(&o, "reloads")) {
            fprintf(stderr, "callroute bench: --baseline compares decisions, not reloads\n");
            return 2;
        }
        return compare(p, baseline, (size_t)runs, args, n, cr_opt(&o, "generate"),
                       cr_opt(&o, "save"), cr_opt(&o, "numbers"), cr_flag(&o, "json"));
    }
    if (cr_opt(&o, "runs")) {
        fprintf(stderr, "callroute bench: --runs goes with --baseline\n");
        return 2;
    }
    cr_result *r = run_bench(p, args, n);
    if (!r)
        return 2;
    if (cr_flag(&o, "json"))
        cr_cli_print(p, r, 1);
    else
        print_text(p, r);
    const char *fails = p->result_get(r, "reload_failures");
    const char *mixes = p->result_get(r, "reload_mixes");
    const char *mism = p->result_get(r, "mismatches");
    int status = (fails && strcmp(fails, "0") != 0) || (mixes && strcmp(mixes, "0") != 0) ||
                         (mism && strcmp(mism, "0") != 0)
                     ? 1
                     : 0;
    p->result_free(r);
    return status;
}

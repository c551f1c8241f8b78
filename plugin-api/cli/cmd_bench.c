/*
 * `callroute bench`: the options become the bench's arguments. The bench runs in
 * libcallroute-bench.so (plugin-api/bench/), not in the libcallroute.so loaded for the other
 * subcommands: that one has no bench (cr_plugin.bench is NULL).
 */
#include "bench.h"
#include "cli.h"
#include "opts.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cr_optspec bench_spec[] = {
    {"config", true},    {"generate", true}, {"numbers", true}, {"seconds", true},
    {"reload-ms", true}, {"reloads", true},  {"threads", true}, {"save", true},
    {"seed", true},      {"json", false},    {"help", false},   {NULL, false},
};

static void usage(FILE *f)
{
    fputs("usage: callroute bench (--config FILE | --generate routes=N,rules=M,users=U)\n"
          "         [--numbers FILE] [--seconds S] [--reload-ms MS] [--reloads K]\n"
          "         [--threads T] [--save FILE] [--seed X] [--json]\n"
          "Times routing decisions inside the library: the compiled index and the naive scan\n"
          "in the same run, load time and memory; with --reload-ms, reloads while T threads\n"
          "decide (blocked, failed or mixed decisions are counted; exit status 1 if any).\n",
          f);
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
        void *dl = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
            last = dlerror();
            continue;
        }
        crb_plugin_fn entry = (crb_plugin_fn)dlsym(dl, CRB_PLUGIN_SYMBOL);
        if (entry)
            return entry();
        last = "no " CRB_PLUGIN_SYMBOL " symbol";
        dlclose(dl);
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
    printf("decisions       %.0f/s on one thread; p50 %s ns, p99 %s ns\n",
           num(p, r, "decisions_per_sec"), get(p, r, "p50_ns"), get(p, r, "p99_ns"));
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
    const char *args[sizeof map / sizeof *map];
    size_t n = 0;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        const char *v = cr_opt(&o, map[i].opt);
        if (!v)
            continue;
        snprintf(bufs[n], sizeof bufs[n], "%s=%s", map[i].key, v);
        args[n] = bufs[n];
        n++;
    }
    char err[4096] = "";
    cr_result *r = NULL;
    int rc = p->bench(args, n, &r, err, sizeof err);
    if (rc != 0 || !r) {
        fprintf(stderr, "callroute bench: %s\n", err[0] ? err : p->strerror(rc));
        return 2;
    }
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

/*
 * callroute bench --rgs: the response-group engine under a simulated call centre, driven
 * through the plugin ABI as a SIP host drives it.
 *
 * Two workloads:
 *   synthetic (default)  --agents N --groups G --waiting W (100,000 / 10,000 / 50,000): one
 *                        queue and hunt-group workflow per group; groups g % 7 == 3 formal;
 *                        routing by g % 10 (4 parallel, 4 longest idle, 1 serial, 1 round
 *                        robin; g % 100 == 99 attendant); 20% of agents in a second group, 10%
 *                        of queues with a second group; about W callers kept waiting (a
 *                        closed population: each call that leaves is replaced, one more or
 *                        one fewer while the count of waiting calls is off W); 10% of the
 *                        calls go to 5% of the workflows.
 *   --model ocs2007r2    the RGS user model of the OCS 2007 R2 planning guide (450 response
 *                        groups, 800 formal and 5,000 informal agents in two groups each,
 *                        routing 40% parallel / 40% longest idle / 10% serial / 10% round
 *                        robin, 10% of queues with two groups, 480 simultaneous calls of
 *                        30 s IVR and hold plus 3 min with an agent, 4 sign-in/out cycles a
 *                        day per formal agent), Poisson arrivals, --scale K times the load
 *                        on a deployment --config-scale C (default K) times the size. The
 *                        model's "10 agents per group" does not fit its other figures (5,800
 *                        agents in two groups each over 495 groups): groups hold ~23 agents.
 * Both: queues q % 4 == 0 time out after 900 s to voicemail, q % 10 == 5 overflow (forward);
 * half the workflows play a welcome prompt (the IVR part of the model: hunt groups only, the
 * Lua IVR is not exercised), some have business hours and a holiday set.
 *
 * The simulated people are in rgs_bench_sim.c. The first simulated minutes (--warmup, default
 * 300 s / 900 s: filling the queues) are reported apart; call figures are those of the
 * measured part. "preempted" counts the involuntary context switches meanwhile (another
 * process took the core: the tail then measures the machine). "actions_digest" hashes every
 * action emitted: two engine builds that print the same digest for the same options behaved
 * identically. --trace-slow NS prints the events slower than NS to stderr; --keep FILE keeps
 * the generated XML.
 *
 * Events go through the typed ABI (rgs_event_typed: handles, no text), as the Kamailio module
 * feeds them, each call's handle given by the engine (rgs_call_typed) when the library has ABI
 * 1.13 or later, else by the bench (--host-handles: by the bench always); --text feeds event
 * lines (rgs_event) instead. The actions, and so the digest, are the same either way (the
 * digest names calls by the bench's numbers). --baseline LIB runs the same
 * workload on another libcallroute.so (e.g. a build of an earlier commit) and on this one,
 * alternated --runs times (default 3), and prints both side by side with the ratios: the
 * before/after of a change measured in one process on the same machine state.
 */
#define _GNU_SOURCE
#include "cli_rgs_bench.h"
#include "cli.h"
#include "opts.h"
#include "rgs_bench.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long rss_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            kb = strtol(line + fl + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)rgsb_ns_between(t0, &t1) / 1e6;
}

static const cr_optspec spec[] = {{"rgs", false},       {"agents", true},        {"groups", true},
                                  {"waiting", true},    {"events", true},        {"model", true},
                                  {"scale", true},      {"config-scale", true},  {"seed", true},
                                  {"json", false},      {"keep", true},          {"warmup", true},
                                  {"trace-slow", true}, {"text", false},         {"runs", true},
                                  {"baseline", true},   {"host-handles", false}, {NULL, false}};

static bool opt_num(const cr_opts *o, const char *name, double lo, double hi, double *out)
{
    const char *v = cr_opt(o, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || *end || end == v || d < lo || d > hi) {
        fprintf(stderr, "callroute bench: --%s '%s' must be a number in [%g, %g]\n", name, v, lo,
                hi);
        return false;
    }
    *out = d;
    return true;
}

/* The options, with their defaults. */
typedef struct bench_opts {
    double agents, groups, waiting, events, scale, cscale, seed, warmup, slow, runs;
    const char *model, *keep, *baseline;
    bool json, text, host_handles;
} bench_opts;

/* false (after printing the usage) on a usage error. */
static bool parse(int argc, char **argv, bench_opts *b)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, spec, &o))
        return false;
    *b = (bench_opts){.agents = 100000,
                      .groups = 10000,
                      .waiting = 50000,
                      .events = 1000000,
                      .scale = 1,
                      .cscale = -1,
                      .seed = 1,
                      .warmup = -1,
                      .slow = 0,
                      .runs = 0};
    b->model = cr_opt(&o, "model");
    b->keep = cr_opt(&o, "keep");
    b->json = cr_flag(&o, "json");
    b->text = cr_flag(&o, "text");
    b->host_handles = cr_flag(&o, "host-handles");
    b->baseline = cr_opt(&o, "baseline");
    if (o.npos || !opt_num(&o, "agents", 1, 1e8, &b->agents) ||
        !opt_num(&o, "groups", 2, 1e7, &b->groups) ||
        !opt_num(&o, "waiting", 0, 1e8, &b->waiting) ||
        !opt_num(&o, "events", 1, 1e9, &b->events) || !opt_num(&o, "scale", 0.01, 1e4, &b->scale) ||
        !opt_num(&o, "config-scale", 0.01, 1e4, &b->cscale) ||
        !opt_num(&o, "seed", 0, 1e18, &b->seed) || !opt_num(&o, "warmup", 0, 1e7, &b->warmup) ||
        !opt_num(&o, "trace-slow", 0, 1e12, &b->slow) || !opt_num(&o, "runs", 1, 100, &b->runs) ||
        (b->model && strcmp(b->model, "ocs2007r2") != 0)) {
        fprintf(stderr, "usage: callroute bench --rgs [--agents N --groups G --waiting W | --model "
                        "ocs2007r2 --scale K [--config-scale C]] [--events E] [--warmup SECONDS] "
                        "[--seed S] [--keep FILE] [--trace-slow NS] [--text] [--host-handles] "
                        "[--baseline LIB [--runs N]] [--json]\n");
        return false;
    }
    if (b->model && b->cscale < 0)
        b->cscale = b->scale;
    return true;
}

/* The OCS 2007 R2 model: the deployment times cscale, the load times scale. */
static int workload_model(const bench_opts *b, rgsb_plan *pl, rgsb_params *pr)
{
    pl->nagents = (size_t)(5800 * b->cscale + 0.5);
    pl->nformal = (size_t)(800 * b->cscale + 0.5);
    pl->nqueues = (size_t)(450 * b->cscale + 0.5);
    pl->ngroups = pl->nqueues + (pl->nqueues + 9) / 10;
    pl->overflow_calls = 20;
    if (rgsb_plan_build(pl, 100, false) < 0)
        return -1;
    /* 480 simultaneous calls of 30 s (IVR and hold) + 180 s (agent): Little's law */
    pr->arrival_per_s = 480.0 * b->scale / 210.0;
    pr->patience_ms = 120000;
    pr->presence_per_s = (double)pl->nagents / 3600.0; /* each agent away once an hour */
    pr->presence_back_ms = 600000;
    pr->sign_per_s = (double)pl->nformal * 4 / 28800.0; /* 4 cycles in an 8-hour day */
    pr->sign_back_ms = 1800000;
    pr->warmup_ms = 900000;
    return 0;
}

/* The synthetic workload: a closed population kept around `waiting` waiting calls. */
static int workload_synthetic(const bench_opts *b, rgsb_plan *pl, rgsb_params *pr)
{
    pl->nagents = (size_t)b->agents;
    pl->ngroups = (size_t)b->groups;
    pl->nqueues = pl->ngroups;
    size_t nfg = 0;
    for (size_t g = 0; g < pl->ngroups; g++)
        nfg += g % 7 == 3;
    pl->nformal = pl->nagents * nfg / pl->ngroups;
    pl->overflow_calls = (int)(b->waiting / (double)pl->nqueues * 3) + 20;
    pl->nhot = pl->nqueues / 20;
    pl->hot_pct = 10;
    if (rgsb_plan_build(pl, 20, true) < 0)
        return -1;
    pr->closed = true;
    pr->waiting = (size_t)b->waiting;
    pr->patience_ms = 900000;
    pr->presence_per_s = (double)pl->nagents / 1200.0;
    pr->presence_back_ms = 300000;
    pr->sign_per_s = (double)pl->nformal / 3600.0;
    pr->sign_back_ms = 900000;
    pr->warmup_ms = 300000;
    return 0;
}

/* Writes the configuration at --keep FILE or into a temporary file (named in `path`);
 * times it and sizes it into run. 0, or 2 after printing the error. */
static int config_write(const rgsb_plan *pl, const char *keep, char *path, size_t len,
                        rgsb_run *run)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (keep) {
        snprintf(path, len, "%s", keep);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, len, "%s/callroute-bench-rgs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0) {
            fprintf(stderr, "callroute bench: %s: %s\n", path, strerror(errno));
            return 2;
        }
        close(fd);
    }
    if (rgsb_plan_write(pl, path) < 0) {
        fprintf(stderr, "callroute bench: %s: cannot write the configuration\n", path);
        if (!keep)
            unlink(path);
        return 2;
    }
    run->gen_ms = ms_since(&t0);
    FILE *cf = fopen(path, "r");
    run->config_bytes = -1;
    if (cf && fseek(cf, 0, SEEK_END) == 0)
        run->config_bytes = ftell(cf);
    if (cf)
        fclose(cf);
    return 0;
}

/* Opens the configuration and the engine through the plugin, timed; removes the file unless
 * kept. 0, or 2 after printing the error. */
static int engine_open(const cr_plugin *p, const char *path, bool keep, cr_handle **h, cr_rgs **e,
                       rgsb_run *run)
{
    struct timespec t0;
    run->rss0_kb = rss_kb("VmRSS");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *h = cr_cli_open(p, path, NULL);
    run->open_ms = ms_since(&t0);
    *e = NULL;
    char err[4096] = "";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = *h ? p->rgs_open(*h, 1798448400000LL /* Monday 2026-12-28 09:00 UTC */, NULL, e, err,
                              sizeof err)
                : -1;
    run->rgs_open_ms = ms_since(&t0);
    if (!keep)
        unlink(path);
    if (rc != 0) {
        if (*h) {
            fprintf(stderr, "%s\n", err[0] ? err : "callroute bench: cannot start the engine");
            p->close(*h);
            *h = NULL;
        }
        return 2;
    }
    run->rss_loaded_kb = rss_kb("VmRSS");
    return 0;
}

/* Warm-up, then the measured part; wall time, preemptions and memory into run. */
static void simulate(rgsb_sim *s, rgsb_run *run)
{
    struct timespec w0, m0, m1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    rgsb_sim_warm_up(s);
    run->warm_wall_ms = ms_since(&w0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    clock_gettime(CLOCK_MONOTONIC, &m0);
    rgsb_sim_measure(s);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    getrusage(RUSAGE_SELF, &ru1);
    /* other processes taking the core: each such switch stalls the event in progress */
    run->preempted = ru1.ru_nivcsw - ru0.ru_nivcsw;
    run->wall_s = (double)rgsb_ns_between(&m0, &m1) / 1e9;
    run->rss_end_kb = rss_kb("VmRSS");
    run->rss_peak_kb = rss_kb("VmHWM");
}

static void quiet_log(void *ud, int level, const char *msg)
{
    (void)ud;
    if (level <= CR_LOG_ERROR)
        fprintf(stderr, "%s\n", msg);
}

/* The plugin table of the library at `path` (--baseline), or NULL after printing why not. */
static const cr_plugin *load_baseline(const char *path)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "callroute bench: --baseline: %s\n", dlerror());
        return NULL;
    }
    cr_plugin_entry_fn entry = (cr_plugin_entry_fn)dlsym(dl, CR_PLUGIN_ENTRY_SYMBOL);
    static cr_host host = {CR_ABI_MAJOR, sizeof(cr_host), NULL, quiet_log, NULL, NULL, NULL};
    const char *err = NULL;
    const cr_plugin *p = entry ? entry(&host, &err) : NULL;
    if (!p || p->abi_major != CR_ABI_MAJOR) {
        fprintf(stderr, "callroute bench: --baseline %s: %s\n", path,
                entry ? (err ? err : "ABI refused") : "no entry symbol");
        return NULL;
    }
    return p;
}

/* One run of the workload on library p: the full report (sum NULL) or its summary. */
static int run_once(const cr_plugin *p, const bench_opts *b, const rgsb_plan *pl,
                    const rgsb_params *pr, rgsb_summary *sum)
{
    if (!CR_HAS(cr_plugin, p, rgs_close) || !p->rgs_open || !p->rgs_event || !p->rgs_advance) {
        fprintf(stderr, "callroute bench: this library has no response groups\n");
        return 2;
    }
    rgsb_run run = {.model = b->model,
                    .scale = b->scale,
                    .cscale = b->cscale,
                    .waiting_target = pr->closed ? pr->waiting : 0};
    char path[256];
    cr_handle *h = NULL;
    cr_rgs *e = NULL;
    int status = config_write(pl, b->keep, path, sizeof path, &run);
    if (status == 0)
        status = engine_open(p, path, b->keep != NULL, &h, &e, &run);
    rgsb_sim *s =
        status == 0 ? rgsb_sim_new(p, e, pl, pr, (uint64_t)b->seed, (uint64_t)b->slow) : NULL;
    if (status == 0 && !s) {
        fprintf(stderr, "callroute bench: out of memory\n");
        status = 2;
    }
    if (s)
        s->host_handles = b->host_handles;
    if (status == 0 && !b->text && rgsb_sim_typed(s) < 0) {
        fprintf(stderr, "callroute bench: the typed form is not available (library without "
                        "rgs_event_typed, or out of memory); try --text\n");
        status = 2;
    }
    if (status == 0) {
        simulate(s, &run);
        if (sum)
            rgsb_summarize(s, &run, sum);
        else
            rgsb_report(s, &run, b->json);
        status = s->errors ? 1 : 0;
    }
    rgsb_sim_free(s);
    if (e)
        p->rgs_close(e);
    if (h)
        p->close(h);
    return status;
}

/* --baseline: runs before (baseline) and after (this library) alternated, then the ratios. */
static int compare(const cr_plugin *p, const bench_opts *b, const rgsb_plan *pl,
                   const rgsb_params *pr)
{
    const cr_plugin *base = load_baseline(b->baseline);
    if (!base)
        return 2;
    size_t n = b->runs > 0 ? (size_t)b->runs : 3;
    rgsb_summary before[100], after[100];
    int status = 0;
    for (size_t i = 0; i < n && status != 2; i++) {
        int r1 = run_once(base, b, pl, pr, &before[i]);
        int r2 = r1 == 2 ? 2 : run_once(p, b, pl, pr, &after[i]);
        status = r1 > status ? r1 : status;
        status = r2 > status ? r2 : status;
        if (!b->json && status != 2)
            fprintf(stderr, "run %zu of %zu: before %.0f events/s, after %.0f events/s\n", i + 1, n,
                    before[i].eps, after[i].eps);
    }
    if (status != 2)
        rgsb_compare_print(before, after, n, b->baseline, b->json);
    return status;
}

int cr_cmd_bench_rgs(const cr_plugin *p, int argc, char **argv)
{
    bench_opts b;
    if (!parse(argc, argv, &b))
        return 2;
    rgsb_plan pl = {0};
    rgsb_params pr = {.events = (size_t)b.events, .talk_ms = 180000};
    if ((b.model ? workload_model(&b, &pl, &pr) : workload_synthetic(&b, &pl, &pr)) < 0) {
        rgsb_plan_free(&pl);
        fprintf(stderr, "callroute bench: out of memory\n");
        return 2;
    }
    if (b.warmup >= 0)
        pr.warmup_ms = (int64_t)(b.warmup * 1000);
    int status = 0;
    if (b.baseline) {
        status = compare(p, &b, &pl, &pr);
    } else {
        for (size_t i = 0; i < (b.runs > 0 ? (size_t)b.runs : 1) && status != 2; i++) {
            int rc = run_once(p, &b, &pl, &pr, NULL);
            status = rc > status ? rc : status;
        }
    }
    rgsb_plan_free(&pl);
    return status;
}

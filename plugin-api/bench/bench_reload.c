/*
 * `callroute bench --reload-ms MS | --reloads K`: reloads while threads decide through the
 * handle's snapshots, as a host's workers do. Each decision is checked: it succeeds with the
 * kind phase 1 found, and (on the generated twins a and b) names objects of one
 * configuration only. A baseline without reloads comes first, on the same threads.
 */
#include "bench_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct phase2 {
    cr_handle *h;
    const crb_calls *cl;
    const signed char *kinds; /* expected decision kind per call (from phase 1) */
    _Atomic bool stop;
    _Atomic bool reloading; /* false during the baseline (same threads, no reloads) */
    bool check_mix;
} phase2;

typedef struct worker {
    phase2 *ph;
    pthread_t tid;
    size_t first;
    crb_samples lat;
    size_t decisions, failures, mixes, slow; /* slow: over 1 ms */
    uint64_t base_max;                       /* longest decision before reloads started */
    size_t base_decisions, base_slow;
} worker;

static char name_tag(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 2 && name[n - 2] == '#' ? name[n - 1] : 0;
}

/* True when the decision names objects of two configurations (tags a and b). */
static bool mixed(const cr_decision *d)
{
    char tag = d->rule ? name_tag(d->rule->name) : 0;
    for (size_t i = 0; i < d->nattempts; i++) {
        char t1 = name_tag(d->attempts[i].route->name), t2 = name_tag(d->attempts[i].gateway->name);
        if (!tag)
            tag = t1;
        if (t1 != tag || t2 != tag)
            return true;
    }
    return false;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    phase2 *ph = w->ph;
    cr_decision *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    size_t i = w->first;
    while (!atomic_load_explicit(&ph->stop, memory_order_relaxed)) {
        const crb_call *c = &ph->cl->v[i % ph->cl->n];
        uint64_t t0 = crb_now_ns();
        crp_runtime_ud ud = {.h = ph->h};
        cr_runtime rt;
        crp_runtime_init(&rt, &ud);
        int token;
        const crp_snapshot *s = crp_snapshot_acquire(ph->h, &token);
        int rc = cr_route_decide(s->cfg, c->from, c->dialed, &rt, d, NULL);
        bool fail = rc != CR_OK || (signed char)d->kind != ph->kinds[i % ph->cl->n];
        bool mix = ph->check_mix && mixed(d);
        crp_snapshot_release(ph->h, token);
        uint64_t ns = crb_now_ns() - t0;
        if (!atomic_load_explicit(&ph->reloading, memory_order_relaxed)) {
            w->base_decisions++;
            w->base_slow += ns > 1000000;
            if (ns > w->base_max)
                w->base_max = ns;
            i++;
            continue;
        }
        crb_samples_add(&w->lat, ns);
        w->decisions++;
        w->failures += fail;
        w->mixes += mix;
        w->slow += ns > 1000000;
        i++;
    }
    free(d);
    return NULL;
}

typedef struct reload_stats {
    size_t reloads, failed;
    uint64_t total_ns, max_ns;
    size_t rss_first, rss_warm, rss_last; /* warm: after the 100th reload */
} reload_stats;

/* Starts the deciding threads; returns how many started (their samples are allocated). */
static size_t workers_start(worker *ws, size_t nt, phase2 *ph)
{
    size_t started = 0;
    for (size_t i = 0; ws && i < nt; i++) {
        ws[i].ph = ph;
        ws[i].first = i * 7919;
        if (!crb_samples_init(&ws[i].lat, 1u << 20, 10 + i) ||
            pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            free(ws[i].lat.v);
            break;
        }
        started++;
    }
    return started;
}

/* Reloads every reload_ms (back to back when 0) for `seconds`, or `reloads` times;
 * alternating the twins a and b when there are two. */
static void reload_loop(const crb_reload_setup *su, const crb_opts *o, reload_stats *rs)
{
    uint64_t end = crb_now_ns() + (uint64_t)(o->seconds * 1e9);
    char rerr[2048];
    while (o->reloads ? rs->reloads < (size_t)o->reloads : crb_now_ns() < end) {
        if (o->reload_ms) {
            struct timespec ts = {o->reload_ms / 1000, (o->reload_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        const char *next = su->path_b && rs->reloads % 2 == 0 ? su->path_b : su->path_a;
        uint64_t s = crb_now_ns();
        int rrc = crp_handle_reload(su->h, next, rerr, sizeof rerr);
        uint64_t ns = crb_now_ns() - s;
        rs->reloads++;
        rs->failed += rrc != CR_OK;
        rs->total_ns += ns;
        if (ns > rs->max_ns)
            rs->max_ns = ns;
        size_t pk;
        if (rs->reloads == 1)
            crb_rss(&rs->rss_first, &pk);
        if (rs->reloads <= 100)
            crb_rss(&rs->rss_warm, &pk);
        crb_rss(&rs->rss_last, &pk);
    }
}

/* The deciding threads' figures, summed (latencies pooled). */
typedef struct worker_totals {
    crb_samples all;
    bool have_all;
    size_t dec, fails, mixes, slow, bdec, bslow;
    uint64_t bmax;
} worker_totals;

/* Joins the threads and pools their figures into `t` (t->all.v freed by the caller). */
static void workers_join(worker *ws, size_t started, size_t nt, worker_totals *t)
{
    memset(t, 0, sizeof *t);
    t->have_all = crb_samples_init(&t->all, (1u << 20) * (nt + 1), 99);
    for (size_t i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        t->dec += ws[i].decisions;
        t->fails += ws[i].failures;
        t->mixes += ws[i].mixes;
        t->slow += ws[i].slow;
        t->bdec += ws[i].base_decisions;
        t->bslow += ws[i].base_slow;
        if (ws[i].base_max > t->bmax)
            t->bmax = ws[i].base_max;
        if (t->have_all) {
            for (size_t k = 0; k < ws[i].lat.n; k++)
                t->all.v[t->all.n++] = ws[i].lat.v[k];
            if (ws[i].lat.max > t->all.max)
                t->all.max = ws[i].lat.max;
        }
        free(ws[i].lat.v);
    }
    if (t->have_all)
        crb_samples_sort(&t->all);
}

static void report(cr_result *res, size_t started, const worker_totals *t, const reload_stats *rs)
{
    crp_set_num(res, NULL, "reload_threads", (double)started);
    crp_set_num(res, NULL, "baseline_decisions", (double)t->bdec);
    crp_set_num(res, NULL, "baseline_max_ns", (double)t->bmax);
    crp_set_num(res, NULL, "baseline_slow_over_1ms", (double)t->bslow);
    crp_set_num(res, NULL, "reloads", (double)rs->reloads);
    crp_set_num(res, NULL, "reloads_failed", (double)rs->failed);
    crp_set_num(res, NULL, "reload_ms_avg",
                rs->reloads
                    ? (double)(long long)((double)rs->total_ns / (double)rs->reloads / 1e5) / 10
                    : 0);
    crp_set_num(res, NULL, "reload_ms_max", (double)(long long)((double)rs->max_ns / 1e5) / 10);
    crp_set_num(res, NULL, "reload_decisions", (double)t->dec);
    crp_set_num(res, NULL, "reload_failures", (double)t->fails);
    crp_set_num(res, NULL, "reload_mixes", (double)t->mixes);
    crp_set_num(res, NULL, "reload_slow_over_1ms", (double)t->slow);
    crp_set_num(res, NULL, "reload_p50_ns", t->have_all ? crb_samples_pct(&t->all, 50) : 0);
    crp_set_num(res, NULL, "reload_p99_ns", t->have_all ? crb_samples_pct(&t->all, 99) : 0);
    crp_set_num(res, NULL, "reload_max_ns", t->have_all ? (double)t->all.max : 0);
    crb_report_size(res, "rss_after_first_reload_bytes", rs->rss_first);
    crb_report_size(res, "rss_after_last_reload_bytes", rs->rss_last);
    crb_report_size(res, "rss_after_100_reloads_bytes", rs->rss_warm);
    /* growth after the allocator's high-water mark is reached (the first ~100 reloads) */
    crp_set_num(res, NULL, "rss_growth_bytes", (double)rs->rss_last - (double)rs->rss_warm);
}

int crb_reload_run(const crb_reload_setup *su, const crb_opts *o, cr_result *res, char *err,
                   size_t errlen)
{
    phase2 ph2 = {.h = su->h, .cl = su->cl, .kinds = su->kinds, .check_mix = su->check_mix};
    atomic_store(&ph2.stop, false);
    atomic_store(&ph2.reloading, false);
    size_t nt = (size_t)o->threads;
    worker *ws = calloc(nt, sizeof *ws);
    reload_stats rs = {0};
    size_t started = workers_start(ws, nt, &ph2);
    /* a baseline first: the same threads for a third of the time, without reloads */
    struct timespec base = {(time_t)(o->seconds / 3), (long)(fmod(o->seconds / 3, 1) * 1e9)};
    nanosleep(&base, NULL);
    atomic_store(&ph2.reloading, true);
    if (started == nt)
        reload_loop(su, o, &rs);
    atomic_store(&ph2.stop, true);
    worker_totals t;
    workers_join(ws, started, nt, &t);
    free(ws);
    report(res, started, &t, &rs);
    free(t.all.v);
    if (started == nt)
        return CR_OK;
    snprintf(err, errlen, "could start only %zu of %zu deciding threads", started, nt);
    return CR_ENOMEM;
}

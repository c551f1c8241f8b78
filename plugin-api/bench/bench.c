/*
 * `callroute bench` (see bench.h): the run from the arguments to the result. The plan
 * (generated, or a configuration given) is loaded through the library's handle, phase 1
 * times decisions on one thread (bench_measure.c), the optional phase 2 reloads while threads
 * decide (bench_reload.c).
 */
#include "bench.h"
#include "bench_int.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The configuration files of a run: the plan, and its twin for reloads (generated only). */
typedef struct plan_files {
    char a[512], b[520];
    bool remove_a, remove_b;
} plan_files;

/* Writes the generated plan (and its twin when the run reloads) or names the given file. */
static int plan_files_make(const crb_opts *o, const crb_plan *p, plan_files *pf, char *err,
                           size_t errlen)
{
    memset(pf, 0, sizeof *pf);
    if (!o->generate) {
        snprintf(pf->a, sizeof pf->a, "%s", o->config);
        return CR_OK;
    }
    if (o->save) {
        snprintf(pf->a, sizeof pf->a, "%s", o->save);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(pf->a, sizeof pf->a, "%s/callroute-bench-%d-a.xml", tmp ? tmp : "/tmp",
                 (int)getpid());
        pf->remove_a = true;
    }
    if (crb_plan_write(p, pf->a, 'a') != CR_OK) {
        snprintf(err, errlen, "cannot write %s", pf->a);
        return CR_EIO;
    }
    if (o->reload_ms || o->reloads) {
        snprintf(pf->b, sizeof pf->b, "%s.b.xml", pf->a);
        pf->remove_b = true;
        if (crb_plan_write(p, pf->b, 'b') != CR_OK) {
            snprintf(err, errlen, "cannot write %s", pf->b);
            return CR_EIO;
        }
    }
    return CR_OK;
}

static void plan_files_remove(const plan_files *pf)
{
    if (pf->remove_a)
        crb_plan_remove(pf->a);
    if (pf->remove_b)
        crb_plan_remove(pf->b);
}

/* Opens the handle on `path`, timing the load (wall and CPU) and measuring memory. */
static int load(const char *path, cr_handle **h, crb_load *ld, char *err, size_t errlen)
{
    memset(ld, 0, sizeof *ld);
    crb_rss(&ld->rss_start, &ld->peak);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    uint64_t t0 = crb_now_ns();
    int rc = crp_handle_open(path, NULL, h, err, errlen);
    ld->load_ms = (double)(crb_now_ns() - t0) / 1e6;
    /* CPU time too: on a shared machine wall time also counts other processes */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    ld->load_cpu_ms =
        (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
    if (rc != CR_OK)
        return rc;
    crb_rss(&ld->rss_loaded, &ld->peak);
    /* live heap (what the configuration holds, the loader's freed memory excluded) */
    /* (blocks malloc serves from mmap count too; free_heap is what malloc keeps unused) */
    struct mallinfo2 mi = mallinfo2();
    ld->heap_loaded = mi.uordblks + mi.hblkhd;
    ld->heap_free = mi.fordblks;
    return CR_OK;
}

/* The numbers to dial: read, generated for the plan, or derived from the configuration. */
static int calls_make(const crb_opts *o, const crb_plan *p, const cr_config *cfg, crb_calls *cl,
                      char *err, size_t errlen)
{
    crb_rng r = {o->seed * 0x9e3779b97f4a7c15ull + 7};
    int rc;
    if (o->numbers)
        rc = crb_calls_read(o->numbers, cfg, cl);
    else if (o->generate)
        rc = crb_calls_generate(p, 20000, &r, cl) ? CR_OK : CR_ENOMEM;
    else
        rc = crb_calls_derive(cfg, 20000, &r, cl) ? CR_OK : CR_ENOMEM;
    if (rc == CR_OK && cl->n == 0)
        rc = CR_EINVAL;
    if (rc == CR_OK && o->save && !o->numbers)
        crb_calls_save(cl, o->save);
    if (rc == CR_EIO)
        snprintf(err, errlen, "%s: cannot read the numbers: %s", o->numbers, strerror(errno));
    else if (rc != CR_OK)
        snprintf(err, errlen, "no numbers to dial (%s)", o->numbers ? o->numbers : "generated");
    return rc;
}

/* The kind of decision each call gets (what the reload phase expects); NULL when out of
 * memory, else freed by the caller. */
static signed char *kinds_of(cr_config *cfg, const crb_calls *cl)
{
    static cr_decision d; /* large: not on the stack */
    signed char *kinds = calloc(cl->n, 1);
    for (size_t i = 0; kinds && i < cl->n; i++) {
        cr_route_decide(cfg, cl->v[i].from, cl->v[i].dialed, NULL, &d, NULL);
        kinds[i] = (signed char)d.kind;
    }
    return kinds;
}

/* Phase 1 on the loaded handle, then the result; the reload phase when asked for. */
static int run(const crb_opts *o, const plan_files *pf, cr_handle *h, const crb_load *ld,
               const crb_calls *cl, cr_result **out, char *err, size_t errlen)
{
    int token, rc = CR_ENOMEM;
    cr_config *cfg = crp_snapshot_acquire(h, &token)->cfg;
    crb_phase1 ph1;
    memset(&ph1, 0, sizeof ph1);
    signed char *kinds = NULL;
    cr_result *res = NULL;
    if (!crb_samples_init(&ph1.idx, 1u << 21, 1) || !crb_samples_init(&ph1.naive, 1u << 20, 2) ||
        !crb_samples_init(&ph1.timer, 1u << 16, 3))
        goto release;
    crb_measure(cfg, cl, o->seconds, &ph1);
    kinds = kinds_of(cfg, cl);
    if (kinds) {
        const char *name = o->generate ? (o->save ? o->save : "generated") : o->config;
        res = crb_report_new(name, cfg, cl->n, ld, &ph1);
    }
release:
    crp_snapshot_release(h, token);
    if (res && (o->reload_ms || o->reloads)) {
        crb_reload_setup su = {
            h, cl, kinds, pf->a, o->generate ? pf->b : NULL, o->generate != NULL};
        rc = crb_reload_run(&su, o, res, err, errlen);
    } else if (res) {
        rc = CR_OK;
    }
    if (rc == CR_OK) {
        crb_report_end(res);
        *out = res;
    } else {
        crp_result_free(res);
    }
    free(kinds);
    free(ph1.idx.v);
    free(ph1.naive.v);
    free(ph1.timer.v);
    return rc;
}

/* The `bench` member of crb_plugin's table. */
static int bench(const char *const *args, size_t nargs, cr_result **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen)
        err = dummy, errlen = sizeof dummy;
    err[0] = 0;
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    crb_opts o;
    crb_plan p;
    int rc = crb_opts_parse(args, nargs, &o, &p, err, errlen);
    if (rc != CR_OK)
        return rc;
    plan_files pf;
    cr_handle *h = NULL;
    crb_load ld;
    crb_calls cl = {0};
    if ((rc = plan_files_make(&o, &p, &pf, err, errlen)) == CR_OK &&
        (rc = load(pf.a, &h, &ld, err, errlen)) == CR_OK) {
        int token;
        rc = calls_make(&o, &p, crp_snapshot_acquire(h, &token)->cfg, &cl, err, errlen);
        crp_snapshot_release(h, token);
        if (rc == CR_OK)
            rc = run(&o, &pf, h, &ld, &cl, out, err, errlen);
    }
    crp_handle_close(h);
    crb_calls_free(&cl);
    plan_files_remove(&pf);
    return rc;
}

const cr_plugin *crb_plugin(void)
{
    static cr_plugin table;
    if (!table.bench) {
        /* no host: the library logs warnings to stderr (quiet with CALLROUTE_QUIET) */
        table = *cr_plugin_entry(NULL, NULL);
        table.bench = bench;
    }
    return &table;
}

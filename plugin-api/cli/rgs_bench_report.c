/* `callroute bench --rgs`: the figures, as one line of JSON or as text. */
#include "rgs_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[NTYPES] = {"call",         "answer",      "decline",  "hangup",
                                               "agent_hangup", "prompt_done", "presence", "signin",
                                               "signout",      "timer"};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of n sorted values (0 when there are none). */
static uint32_t pct(const uint32_t *v, size_t n, double q)
{
    if (!n || !v)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Every engine call's latency pooled, and the totals. */
typedef struct figures {
    uint32_t *all; /* sorted; NULL when out of memory (percentiles then read 0) */
    size_t total;
    uint64_t engine_ns, maxns;
    double eps, sim_s;
} figures;

static void figures_make(rgsb_sim *s, figures *f)
{
    f->total = rgsb_sim_measured(s);
    f->all = malloc((f->total ? f->total : 1) * sizeof *f->all);
    f->engine_ns = s->poll_ns;
    f->maxns = 0;
    size_t k = 0;
    for (int t = 0; t < NTYPES; t++) {
        rgsb_lat *l = &s->lt[t];
        qsort(l->v, l->n, sizeof *l->v, cmp_u32);
        if (f->all)
            memcpy(f->all + k, l->v, l->n * sizeof *f->all);
        k += l->n;
        f->engine_ns += l->sum;
        if (l->max > f->maxns)
            f->maxns = l->max;
    }
    if (f->all)
        qsort(f->all, f->total, sizeof *f->all, cmp_u32);
    f->eps = f->engine_ns ? (double)f->total * 1e9 / (double)f->engine_ns : 0;
    f->sim_s = (double)(s->now - s->measure_start_ms) / 1000.0;
}

static void print_json(const rgsb_sim *s, const rgsb_run *run, const figures *f)
{
    const rgsb_plan *pl = s->pl;
    const char *wl = run->model ? "ocs2007r2" : "synthetic";
    printf("{\"workload\":\"%s\",\"scale\":%g,\"config_scale\":%g,\"agents\":%zu,"
           "\"formal_agents\":%zu,\"groups\":%zu,\"queues\":%zu,\"workflows\":%zu,"
           "\"memberships\":%zu,\"groups_parallel\":%zu,\"groups_longest_idle\":%zu,"
           "\"groups_serial\":%zu,\"groups_round_robin\":%zu,\"groups_attendant\":%zu,"
           "\"waiting_target\":%zu,\"config_bytes\":%ld,\"gen_ms\":%.1f,\"open_ms\":%.1f,"
           "\"rgs_open_ms\":%.1f,\"load_ms\":%.1f,",
           wl, run->model ? run->scale : 1, run->model ? run->cscale : 1, pl->nagents, pl->nformal,
           pl->ngroups, pl->nqueues, pl->nqueues, pl->memberships, pl->counts[M_PARALLEL],
           pl->counts[M_LONGEST_IDLE], pl->counts[M_SERIAL], pl->counts[M_ROUND_ROBIN],
           pl->counts[M_ATTENDANT], run->waiting_target, run->config_bytes, run->gen_ms,
           run->open_ms, run->rgs_open_ms, run->open_ms + run->rgs_open_ms);
    printf("\"events\":%zu,\"events_per_sec\":%.0f,\"wall_events_per_sec\":%.0f,"
           "\"p50_ns\":%u,\"p90_ns\":%u,\"p99_ns\":%u,\"p999_ns\":%u,\"max_ns\":%llu,"
           "\"mean_ns\":%.0f,\"deadline_polls\":%llu,\"poll_mean_ns\":%.0f,\"preempted\":%ld,",
           f->total, f->eps, run->wall_s > 0 ? (double)f->total / run->wall_s : 0,
           pct(f->all, f->total, 0.5), pct(f->all, f->total, 0.9), pct(f->all, f->total, 0.99),
           pct(f->all, f->total, 0.999), (unsigned long long)f->maxns,
           f->total ? (double)f->engine_ns / (double)f->total : 0, (unsigned long long)s->polls,
           s->polls ? (double)s->poll_ns / (double)s->polls : 0, run->preempted);
    printf("\"by_event\":{");
    for (int t = 0; t < NTYPES; t++) {
        const rgsb_lat *l = &s->lt[t];
        printf("%s\"%s\":{\"count\":%zu,\"p50_ns\":%u,\"p99_ns\":%u,\"max_ns\":%llu}", t ? "," : "",
               type_names[t], l->n, pct(l->v, l->n, 0.5), pct(l->v, l->n, 0.99),
               (unsigned long long)l->max);
    }
    printf("},\"rss_bytes\":%lld,\"rss_loaded_bytes\":%lld,\"rss_before_load_bytes\":%lld,"
           "\"rss_peak_bytes\":%lld,",
           run->rss_end_kb * 1024LL, run->rss_loaded_kb * 1024LL, run->rss0_kb * 1024LL,
           run->rss_peak_kb * 1024LL);
    printf("\"warmup_events\":%llu,\"warmup_sim_s\":%.0f,\"warmup_wall_ms\":%.0f,"
           "\"sim_seconds\":%.1f,\"calls_arrived\":%llu,\"calls_answered\":%llu,"
           "\"calls_per_sim_sec\":%.1f,\"offers\":%llu,\"declines\":%llu,\"rang_out\":%llu,"
           "\"abandoned\":%llu,\"agent_hangups\":%llu,\"caller_hangups\":%llu,"
           "\"timeouts_voicemail\":%llu,\"overflow_forwards\":%llu,\"other_hangups\":%llu,"
           "\"waiting_avg\":%.0f,\"waiting_min\":%zu,\"waiting_max\":%zu,\"connected\":%zu,"
           "\"average_wait_s\":%.1f,\"longest_wait_s\":%.1f,\"errors\":%llu,\"stuck\":%llu,"
           "\"actions_digest\":\"%016llx\"}\n",
           (unsigned long long)s->warm_events, (double)s->measure_start_ms / 1000.0,
           run->warm_wall_ms, f->sim_s, (unsigned long long)s->arrived,
           (unsigned long long)s->answered, f->sim_s > 0 ? (double)s->arrived / f->sim_s : 0,
           (unsigned long long)s->offers, (unsigned long long)s->declined,
           (unsigned long long)s->rang_out, (unsigned long long)s->abandoned,
           (unsigned long long)s->agent_hangups, (unsigned long long)s->caller_hangups,
           (unsigned long long)s->voicemails, (unsigned long long)s->transfers,
           (unsigned long long)s->other_hangups,
           s->samples ? s->queued_sum / (double)s->samples : 0, s->samples ? s->queued_min : 0,
           s->queued_max, s->connected,
           s->answered ? (double)s->wait_sum_ms / (double)s->answered / 1000.0 : 0,
           (double)s->wait_max_ms / 1000.0, (unsigned long long)s->errors,
           (unsigned long long)s->stuck, (unsigned long long)s->digest);
}

static void print_text(const rgsb_sim *s, const rgsb_run *run, const figures *f)
{
    const rgsb_plan *pl = s->pl;
    const char *wl = run->model ? "ocs2007r2" : "synthetic";
    printf("workload     %s%s", wl, run->model ? "" : "\n");
    if (run->model)
        printf(" at %gx load, deployment %gx\n", run->scale, run->cscale);
    printf("deployment   %zu agents (%zu formal) in %zu groups (%zu memberships: %zu "
           "parallel, %zu longest idle, %zu serial, %zu round robin, %zu attendant), %zu "
           "queues and workflows\n",
           pl->nagents, pl->nformal, pl->ngroups, pl->memberships, pl->counts[M_PARALLEL],
           pl->counts[M_LONGEST_IDLE], pl->counts[M_SERIAL], pl->counts[M_ROUND_ROBIN],
           pl->counts[M_ATTENDANT], pl->nqueues);
    printf("load         %.1f ms (open %.1f ms, rgs_open %.1f ms; %ld bytes of XML written "
           "in %.1f ms)\n",
           run->open_ms + run->rgs_open_ms, run->open_ms, run->rgs_open_ms, run->config_bytes,
           run->gen_ms);
    printf("memory       RSS %.1f MB after load (%.1f MB before), %.1f MB at the end, peak "
           "%.1f MB\n",
           run->rss_loaded_kb / 1024.0, run->rss0_kb / 1024.0, run->rss_end_kb / 1024.0,
           run->rss_peak_kb / 1024.0);
    printf("warm-up      %llu events over %.0f simulated s (%.0f ms)\n",
           (unsigned long long)s->warm_events, (double)s->measure_start_ms / 1000.0,
           run->warm_wall_ms);
    printf("events       %zu in the engine at %.0f events/s (%.0f/s with the simulation "
           "around it; preempted %ld times)\n",
           f->total, f->eps, run->wall_s > 0 ? (double)f->total / run->wall_s : 0, run->preempted);
    printf("latency      p50 %u ns, p90 %u ns, p99 %u ns, p99.9 %u ns, max %llu ns "
           "(deadline poll after each event: %.0f ns mean)\n",
           pct(f->all, f->total, 0.5), pct(f->all, f->total, 0.9), pct(f->all, f->total, 0.99),
           pct(f->all, f->total, 0.999), (unsigned long long)f->maxns,
           s->polls ? (double)s->poll_ns / (double)s->polls : 0);
    for (int t = 0; t < NTYPES; t++) {
        const rgsb_lat *l = &s->lt[t];
        printf("  %-13s %9zu  p50 %6u ns  p99 %7u ns  max %8llu ns\n", type_names[t], l->n,
               pct(l->v, l->n, 0.5), pct(l->v, l->n, 0.99), (unsigned long long)l->max);
    }
    printf("calls        %.0f simulated s: %llu arrived (%.1f/s), %llu answered, %llu "
           "offers (%llu declined, %llu rang out), %llu abandoned, %llu to voicemail on "
           "timeout, %llu forwarded on overflow, %llu other hang-ups\n",
           f->sim_s, (unsigned long long)s->arrived,
           f->sim_s > 0 ? (double)s->arrived / f->sim_s : 0, (unsigned long long)s->answered,
           (unsigned long long)s->offers, (unsigned long long)s->declined,
           (unsigned long long)s->rang_out, (unsigned long long)s->abandoned,
           (unsigned long long)s->voicemails, (unsigned long long)s->transfers,
           (unsigned long long)s->other_hangups);
    printf("queues       waiting avg %.0f (min %zu, max %zu), %zu connected at the end; "
           "average wait %.1f s, longest %.1f s\n",
           s->samples ? s->queued_sum / (double)s->samples : 0, s->samples ? s->queued_min : 0,
           s->queued_max, s->connected,
           s->answered ? (double)s->wait_sum_ms / (double)s->answered / 1000.0 : 0,
           (double)s->wait_max_ms / 1000.0);
    printf("digest       %016llx (FNV-1a of every action the engine emitted)\n",
           (unsigned long long)s->digest);
    if (s->errors || s->stuck)
        printf("errors       %llu rejected events (first: %s), %llu stuck deadlines\n",
               (unsigned long long)s->errors, s->first_err, (unsigned long long)s->stuck);
}

void rgsb_report(rgsb_sim *s, const rgsb_run *run, bool json)
{
    figures f;
    figures_make(s, &f);
    if (json)
        print_json(s, run, &f);
    else
        print_text(s, run, &f);
    free(f.all);
}

void rgsb_summarize(rgsb_sim *s, const rgsb_run *run, rgsb_summary *out)
{
    figures f;
    figures_make(s, &f);
    *out = (rgsb_summary){.eps = f.eps,
                          .p50 = pct(f.all, f.total, 0.5),
                          .p99 = pct(f.all, f.total, 0.99),
                          .digest = s->digest,
                          .errors = s->errors,
                          .load_ms = run->open_ms + run->rgs_open_ms,
                          .rss_mb = (double)run->rss_end_kb / 1024.0};
    free(f.all);
}

typedef struct range {
    double lo, hi;
} range;

static range range_of(const rgsb_summary *v, size_t n, int what)
{
    range r = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double x = what == 0 ? v[i].eps : what == 1 ? v[i].p50 : v[i].p99;
        if (i == 0 || x < r.lo)
            r.lo = x;
        if (i == 0 || x > r.hi)
            r.hi = x;
    }
    return r;
}

/* Per pair (before[i], after[i]): after / before of events/s, before / after of latencies
 * (> 1 = faster after either way). */
static range ratio_of(const rgsb_summary *b, const rgsb_summary *a, size_t n, int what)
{
    range r = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double x = what == 0   ? (b[i].eps > 0 ? a[i].eps / b[i].eps : 0)
                   : what == 1 ? (a[i].p50 ? (double)b[i].p50 / a[i].p50 : 0)
                               : (a[i].p99 ? (double)b[i].p99 / a[i].p99 : 0);
        if (i == 0 || x < r.lo)
            r.lo = x;
        if (i == 0 || x > r.hi)
            r.hi = x;
    }
    return r;
}

void rgsb_compare_print(const rgsb_summary *before, const rgsb_summary *after, size_t n,
                        const char *baseline, bool json)
{
    bool same = true;
    for (size_t i = 0; i < n; i++)
        same &= before[i].digest == after[i].digest && before[i].digest == before[0].digest;
    range be = range_of(before, n, 0), b50 = range_of(before, n, 1), b99 = range_of(before, n, 2);
    range ae = range_of(after, n, 0), a50 = range_of(after, n, 1), a99 = range_of(after, n, 2);
    range re = ratio_of(before, after, n, 0), r50 = ratio_of(before, after, n, 1),
          r99 = ratio_of(before, after, n, 2);
    if (json) {
        printf("{\"baseline\":\"%s\",\"runs\":%zu,\"before_eps_min\":%.0f,\"before_eps_max\":%.0f,"
               "\"after_eps_min\":%.0f,\"after_eps_max\":%.0f,\"before_p50_ns\":[%.0f,%.0f],"
               "\"after_p50_ns\":[%.0f,%.0f],\"before_p99_ns\":[%.0f,%.0f],"
               "\"after_p99_ns\":[%.0f,%.0f],\"eps_ratio\":[%.2f,%.2f],\"p50_ratio\":[%.2f,%.2f],"
               "\"p99_ratio\":[%.2f,%.2f],\"same_actions\":%s}\n",
               baseline, n, be.lo, be.hi, ae.lo, ae.hi, b50.lo, b50.hi, a50.lo, a50.hi, b99.lo,
               b99.hi, a99.lo, a99.hi, re.lo, re.hi, r50.lo, r50.hi, r99.lo, r99.hi,
               same ? "true" : "false");
        return;
    }
    printf("before/after, %zu runs each, alternated (before = %s):\n", n, baseline);
    for (size_t i = 0; i < n; i++)
        printf("  run %zu  before %8.0f events/s p50 %5u ns p99 %6u ns | after %8.0f events/s "
               "p50 %5u ns p99 %6u ns | %.2fx\n",
               i + 1, before[i].eps, before[i].p50, before[i].p99, after[i].eps, after[i].p50,
               after[i].p99, before[i].eps > 0 ? after[i].eps / before[i].eps : 0);
    printf("before       %.0f-%.0f events/s, p50 %.0f-%.0f ns, p99 %.0f-%.0f ns\n", be.lo, be.hi,
           b50.lo, b50.hi, b99.lo, b99.hi);
    printf("after        %.0f-%.0f events/s, p50 %.0f-%.0f ns, p99 %.0f-%.0f ns\n", ae.lo, ae.hi,
           a50.lo, a50.hi, a99.lo, a99.hi);
    printf("ratio        events/s x%.2f-%.2f, p50 x%.2f-%.2f, p99 x%.2f-%.2f (per pair; > 1 = "
           "after is faster)\n",
           re.lo, re.hi, r50.lo, r50.hi, r99.lo, r99.hi);
    printf("actions      %s (digest %016llx)\n",
           same ? "identical in every run" : "DIFFER between runs or libraries",
           (unsigned long long)after[0].digest);
}

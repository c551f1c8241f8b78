/* `callroute bench`: the figures of the load and of phase 1 as a "bench" result. */
#include "bench_int.h"
#include "cr_index.h"

void crb_report_size(cr_result *res, const char *key, size_t v)
{
    crp_set_num(res, NULL, key, (double)v);
}

/* Rounded down to one decimal. */
static double tenths(double v)
{
    return (double)(long long)(v * 10) / 10;
}

static void report_config(cr_result *res, const cr_config *cfg, size_t ncalls, const crb_load *ld)
{
    size_t nrules = 0;
    for (size_t i = 0; i < cr_config_profile_count(cfg); i++)
        nrules += cr_config_profile_at(cfg, i)->nrules;
    crp_set_num(res, NULL, "routes", (double)cr_config_route_count(cfg));
    crp_set_num(res, NULL, "rules", (double)nrules);
    crp_set_num(res, NULL, "users", (double)cr_config_user_count(cfg));
    crp_set_num(res, NULL, "numbers", (double)ncalls);
    crp_set_num(res, NULL, "load_ms", tenths(ld->load_ms));
    crp_set_num(res, NULL, "load_cpu_ms", tenths(ld->load_cpu_ms));
}

static void report_decisions(cr_result *res, const crb_phase1 *ph)
{
    double p50 = crb_samples_pct(&ph->idx, 50), naive50 = crb_samples_pct(&ph->naive, 50);
    crp_set_num(res, NULL, "decisions_per_sec",
                ph->idx.total_ns
                    ? (double)(long long)(1e9 * (double)ph->idx.seen / (double)ph->idx.total_ns)
                    : 0);
    crp_set_num(res, NULL, "p50_ns", p50);
    crp_set_num(res, NULL, "p99_ns", crb_samples_pct(&ph->idx, 99));
    crp_set_num(res, NULL, "naive_p50_ns", naive50);
    crp_set_num(res, NULL, "naive_p99_ns", crb_samples_pct(&ph->naive, 99));
    crp_set_num(res, NULL, "speedup", p50 > 0 ? tenths(naive50 / p50) : 0);
    crp_set_num(res, NULL, "decisions", (double)ph->idx.seen);
    crp_set_num(res, NULL, "naive_decisions", (double)ph->naive.seen);
    crp_set_num(res, NULL, "verified", (double)ph->verified);
    crp_set_num(res, NULL, "mismatches", (double)ph->mismatches);
    crp_set_num(res, NULL, "outbound", (double)ph->outbound);
    crp_set_num(res, NULL, "internal", (double)ph->internal);
    crp_set_num(res, NULL, "blocked", (double)ph->blocked);
    crp_set_num(res, NULL, "timer_p50_ns", crb_samples_pct(&ph->timer, 50));
}

static void report_index_and_memory(cr_result *res, const cr_config *cfg, const crb_load *ld)
{
    cr_index_stats st;
    cr_config_index_stats(cfg, &st);
    crp_set_num(res, NULL, "routes_indexed", (double)st.routes_indexed);
    crp_set_num(res, NULL, "routes_fallback", (double)st.routes_fallback);
    crp_set_num(res, NULL, "rules_indexed", (double)st.rules_indexed);
    crp_set_num(res, NULL, "rules_fallback", (double)st.rules_fallback);
    crp_set_num(res, NULL, "index_bytes", (double)st.bytes);
    crb_report_size(res, "rss_before_load_bytes", ld->rss_start);
    crb_report_size(res, "rss_bytes", ld->rss_loaded);
    crb_report_size(res, "heap_bytes", ld->heap_loaded);
    crb_report_size(res, "heap_free_bytes", ld->heap_free);
    crb_report_size(res, "peak_rss_bytes", ld->peak);
}

cr_result *crb_report_new(const char *config, const cr_config *cfg, size_t ncalls,
                          const crb_load *ld, crb_phase1 *ph)
{
    crb_samples_sort(&ph->idx);
    crb_samples_sort(&ph->naive);
    crb_samples_sort(&ph->timer);
    cr_result *res = crp_result_new("bench", 0);
    if (!res)
        return NULL;
    crp_set_str(res, NULL, "config", config);
    report_config(res, cfg, ncalls, ld);
    report_decisions(res, ph);
    report_index_and_memory(res, cfg, ld);
    return res;
}

void crb_report_end(cr_result *res)
{
    size_t cur, pk;
    crb_rss(&cur, &pk);
    crb_report_size(res, "rss_end_bytes", cur);
    crb_report_size(res, "peak_rss_bytes", pk);
}

/*
 * callroute.so: routing statistics as Kamailio counters (see crs_stats.h).
 *
 * Kamailio's counters are per process (no lock, no shared write): each worker increments its
 * own slot and stats.get_statistics sums them. The gauge gateways_down is computed when read,
 * from the library's gateway report.
 */
#include <string.h>
#include <time.h>

#include "core/counters.h"
#include "core/dprint.h"

#include "crl_library.h"
#include "crs_stats.h"

static const char *const crs_names[CRS_COUNTERS] = {
    [CRS_DECISIONS_OUTBOUND] = "decisions_outbound",
    [CRS_DECISIONS_INTERNAL] = "decisions_internal",
    [CRS_DECISIONS_BLOCKED] = "decisions_blocked",
    [CRS_DECISIONS_NOT_APPLICABLE] = "decisions_not_applicable",
    [CRS_DECISIONS_ERROR] = "decisions_error",
    [CRS_FAILOVERS] = "failovers",
    [CRS_GATEWAY_FAILURES] = "gateway_failures",
    [CRS_GATEWAYS_MARKED_DOWN] = "gateways_marked_down",
    [CRS_RELOADS_ACCEPTED] = "reloads_accepted",
    [CRS_RELOADS_REFUSED] = "reloads_refused"};

static const char *const crs_docs[CRS_COUNTERS] = {
    [CRS_DECISIONS_OUTBOUND] = "callroute_route() decisions: outbound",
    [CRS_DECISIONS_INTERNAL] = "callroute_route() decisions: internal",
    [CRS_DECISIONS_BLOCKED] = "callroute_route() decisions: blocked",
    [CRS_DECISIONS_NOT_APPLICABLE] = "callroute_route() decisions: not applicable",
    [CRS_DECISIONS_ERROR] = "callroute_route() calls that failed (no decision)",
    [CRS_FAILOVERS] = "calls moved to their next gateway by callroute_next()",
    [CRS_GATEWAY_FAILURES] = "gateway failures (408 or no answer, 5xx)",
    [CRS_GATEWAYS_MARKED_DOWN] = "gateway failures that held the gateway down",
    [CRS_RELOADS_ACCEPTED] = "callroute.reload accepted",
    [CRS_RELOADS_REFUSED] = "callroute.reload refused"};

/* Decision-time buckets (upper bounds in microseconds; the last one is +Inf). */
#define CRS_BUCKETS 8
static const int64_t crs_bucket_us[CRS_BUCKETS - 1] = {50, 100, 250, 500, 1000, 2500, 10000};
static const char *const crs_bucket_names[CRS_BUCKETS] = {
    "decision_time_le_50us",  "decision_time_le_100us", "decision_time_le_250us",
    "decision_time_le_500us", "decision_time_le_1ms",   "decision_time_le_2500us",
    "decision_time_le_10ms",  "decision_time_le_inf"};

static counter_handle_t crs_h[CRS_COUNTERS];
static counter_handle_t crs_bucket_h[CRS_BUCKETS];
static counter_handle_t crs_sum_h;
static int crs_ready;

/* gateways_down: counted from the library's report when read. */
static counter_val_t crs_gateways_down(counter_handle_t h, void *param)
{
    cr_handle *ch = crl_handle();
    cr_result *r = NULL;
    size_t i, n;
    counter_val_t down = 0;

    (void)h;
    (void)param;
    if (ch == NULL || crl_plugin->gateways == NULL || crl_plugin->gateways(ch, &r) < 0 || r == NULL)
        return 0;
    n = crl_plugin->result_count(r, "gateways");
    for (i = 0; i < n; i++) {
        const char *st = crl_plugin->result_item(r, "gateways", i, "state");
        if (st && strcmp(st, "down") == 0)
            down++;
    }
    crl_plugin->result_free(r);
    return down;
}

int crs_mod_init(void)
{
    counter_handle_t g;
    int i;

    for (i = 0; i < CRS_COUNTERS; i++) {
        if (counter_register(&crs_h[i], "callroute", crs_names[i], 0, 0, 0, crs_docs[i], 0) < 0) {
            LM_ERR("cannot register counter callroute:%s\n", crs_names[i]);
            return -1;
        }
    }
    for (i = 0; i < CRS_BUCKETS; i++) {
        if (counter_register(&crs_bucket_h[i], "callroute", crs_bucket_names[i], 0, 0, 0,
                             "decisions that took at most this long (cumulative)", 0) < 0) {
            LM_ERR("cannot register counter callroute:%s\n", crs_bucket_names[i]);
            return -1;
        }
    }
    if (counter_register(&crs_sum_h, "callroute", "decision_time_us_sum", 0, 0, 0,
                         "total time of the decisions, microseconds", 0) < 0 ||
        counter_register(&g, "callroute", "gateways_down", CNT_F_NO_RESET, crs_gateways_down, 0,
                         "gateways down now (failures, probes or by hand)", 0) < 0) {
        LM_ERR("cannot register the callroute decision-time and gateway counters\n");
        return -1;
    }
    crs_ready = 1;
    return 0;
}

void crs_inc(enum crs_counter c)
{
    if (crs_ready && c >= 0 && c < CRS_COUNTERS)
        counter_inc(crs_h[c]);
}

void crs_decision(int kind, int64_t us)
{
    int i;

    switch (kind) {
    case CR_DECISION_OUTBOUND:
        crs_inc(CRS_DECISIONS_OUTBOUND);
        break;
    case CR_DECISION_INTERNAL:
        crs_inc(CRS_DECISIONS_INTERNAL);
        break;
    case CR_DECISION_BLOCKED:
        crs_inc(CRS_DECISIONS_BLOCKED);
        break;
    case CR_DECISION_NOT_APPLICABLE:
        crs_inc(CRS_DECISIONS_NOT_APPLICABLE);
        break;
    default:
        crs_inc(CRS_DECISIONS_ERROR);
        return; /* no decision: no decision time */
    }
    if (!crs_ready)
        return;
    if (us < 0)
        us = 0;
    for (i = 0; i < CRS_BUCKETS - 1 && us > crs_bucket_us[i]; i++)
        ;
    for (; i < CRS_BUCKETS; i++)
        counter_inc(crs_bucket_h[i]);
    counter_add(crs_sum_h, us > 0x7fffffff ? 0x7fffffff : (int)us);
}

int64_t crs_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

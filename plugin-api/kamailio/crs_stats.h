/*
 * callroute.so: routing statistics as Kamailio counters (group "callroute").
 *
 * Read with `kamcmd stats.get_statistics callroute:` (or counters.get callroute NAME), and
 * exported by xhttp_prom like any Kamailio statistic. The counters (per process, summed by
 * Kamailio; reset with stats.reset_statistics except the gauge):
 *   decisions_outbound, decisions_internal, decisions_blocked, decisions_not_applicable,
 *   decisions_error          callroute_route() decisions by kind
 *   failovers                callroute_next() moved a call to its next gateway
 *   gateway_failures         gateway failures reported (408/no answer, 5xx)
 *   gateways_marked_down     of those, failures that held the gateway down
 *   gateways_down            gauge: gateways down now (failures, probes or by hand)
 *   reloads_accepted, reloads_refused   callroute.reload
 *   decision_time_le_50us ... decision_time_le_10ms, decision_time_le_inf
 *                            decision-time histogram: cumulative buckets (Prometheus
 *                            style: a decision of 80 us counts in le_100us and every
 *                            larger bucket); decision_time_us_sum: their total in us
 */
#ifndef CRS_STATS_H
#define CRS_STATS_H

#include <stdint.h>

enum crs_counter {
    CRS_DECISIONS_OUTBOUND,
    CRS_DECISIONS_INTERNAL,
    CRS_DECISIONS_BLOCKED,
    CRS_DECISIONS_NOT_APPLICABLE,
    CRS_DECISIONS_ERROR,
    CRS_FAILOVERS,
    CRS_GATEWAY_FAILURES,
    CRS_GATEWAYS_MARKED_DOWN,
    CRS_RELOADS_ACCEPTED,
    CRS_RELOADS_REFUSED,
    CRS_COUNTERS
};

/* Registers the counters (mod_init, before the fork). */
int crs_mod_init(void);

/* Counts one event. */
void crs_inc(enum crs_counter c);

/* Counts a decision of kind `kind` (CR_DECISION_*; anything else is an error) that took
 * `us` microseconds. */
void crs_decision(int kind, int64_t us);

/* A monotonic clock in microseconds, for decision times. */
int64_t crs_now_us(void);

#endif

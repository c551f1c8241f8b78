/*
 * `callroute bench`, phase 1: the engine's decision function (cr_route_decide) on one thread,
 * the compiled index against the naive scan of the same configuration in the same run.
 */
#include "bench_int.h"
#include "cr_index.h"

#include <string.h>

static uint32_t spread_counter(void *ud)
{
    return (*(uint32_t *)ud)++;
}

/* Two decisions of configuration c say the same thing (kind, rule, number, attempts and their
 * Request-URIs, reason). */
static bool same(const cr_config *c, const cr_decision *a, const cr_decision *b)
{
    if (a->kind != b->kind || a->rule != b->rule || a->callee != b->callee ||
        strcmp(a->normalized, b->normalized) != 0 || a->nattempts != b->nattempts)
        return false;
    char ta[CR_URI_SHORT > CR_REASON_MAX ? CR_URI_SHORT : CR_REASON_MAX], tb[sizeof ta];
    for (size_t i = 0; i < a->nattempts; i++) {
        if (a->attempts[i].route != b->attempts[i].route ||
            a->attempts[i].gateway != b->attempts[i].gateway)
            return false;
        cr_attempt_uri(c, a, i, ta, sizeof ta);
        cr_attempt_uri(c, b, i, tb, sizeof tb);
        if (strcmp(ta, tb) != 0)
            return false;
    }
    return strcmp(cr_decision_reason(a, ta, sizeof ta), cr_decision_reason(b, tb, sizeof tb)) == 0;
}

void crb_measure(cr_config *cfg, const crb_calls *cl, double seconds, crb_phase1 *ph)
{
    static cr_decision a, b; /* large: not on the stack */
    uint32_t c1 = 0, c2 = 0;
    cr_runtime rt1 = {.ud = &c1, .spread = spread_counter};
    cr_runtime rt2 = {.ud = &c2, .spread = spread_counter};
    /* Same answers both ways, for every number (and a warm cache for both). */
    uint64_t stop = crb_now_ns() + (uint64_t)(seconds * 1e9);
    for (size_t i = 0; i < cl->n && (i < 100 || crb_now_ns() < stop); i++) {
        cr_config_set_naive(cfg, false);
        cr_route_decide(cfg, cl->v[i].from, cl->v[i].dialed, &rt1, &a, NULL);
        cr_config_set_naive(cfg, true);
        cr_route_decide(cfg, cl->v[i].from, cl->v[i].dialed, &rt2, &b, NULL);
        ph->verified++;
        ph->mismatches += !same(cfg, &a, &b);
        if (a.kind == CR_OUTBOUND)
            ph->outbound++;
        else if (a.kind == CR_INTERNAL)
            ph->internal++;
        else if (a.kind == CR_BLOCKED)
            ph->blocked++;
        else
            ph->other++;
    }
    cr_config_set_naive(cfg, false);
    /* Alternating blocks of the same numbers, so that both see the same machine (other
     * tenants' load changes over seconds, not microseconds). A block lasts SLICE_NS: a naive
     * scan walks megabytes of patterns and evicts the caches the index decides from, which no
     * host pays between its decisions; in long blocks only the first decisions after a switch
     * see that (with blocks of 256 decisions, every decision did). */
    const uint64_t SLICE_NS = 20000000;
    uint64_t end = crb_now_ns() + (uint64_t)(seconds * 1e9);
    size_t pi = 0, pn = 0, block = 256;
    while (crb_now_ns() < end) {
        uint64_t t0 = crb_now_ns();
        while (crb_now_ns() - t0 < SLICE_NS)
            for (size_t k = 0; k < block; k++) {
                const crb_call *c = &cl->v[pi++ % cl->n];
                uint64_t s = crb_now_ns();
                cr_route_decide(cfg, c->from, c->dialed, &rt1, &a, NULL);
                crb_samples_add(&ph->idx, crb_now_ns() - s);
            }
        ph->idx_ns += crb_now_ns() - t0;
        /* What the bracket itself costs, in the same minutes: every decision's sample includes
         * one pair of clock reads (reported as timer_p50_ns, not subtracted). */
        for (size_t k = 0; k < 64; k++) {
            uint64_t s = crb_now_ns();
            crb_samples_add(&ph->timer, crb_now_ns() - s);
        }
        uint64_t t1 = crb_now_ns();
        cr_config_set_naive(cfg, true);
        /* give the naive scan about the same wall time, at least a few decisions */
        while (crb_now_ns() - t1 < t1 - t0 || crb_now_ns() == t1) {
            const crb_call *c = &cl->v[pn++ % cl->n];
            uint64_t s = crb_now_ns();
            cr_route_decide(cfg, c->from, c->dialed, &rt2, &b, NULL);
            crb_samples_add(&ph->naive, crb_now_ns() - s);
        }
        ph->naive_ns += crb_now_ns() - t1;
        cr_config_set_naive(cfg, false);
    }
}

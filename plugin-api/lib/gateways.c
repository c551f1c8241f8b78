/*
 * Gateway health, capacity and load spreading, in the block shared by the host's processes.
 *
 * State of a gateway (crp_gw_slot), from strongest to weakest:
 *   - an operator's manual state (gateway_set_state up/down; auto hands back to the rest);
 *   - the last OPTIONS probe (gateway_probe): a gateway that does not answer is down until
 *     it answers again;
 *   - a hold-off after failures (gateway_result), by failure class:
 *       408 or no answer in time (code 0): unreachable, held down for the hold-off;
 *       503 with Retry-After: held down for that long;
 *       503 without Retry-After, 504, other 5xx: this call fails over; the gateway is held
 *       down for the hold-off only after `fail_threshold` such failures in a row (any other
 *       answer resets the count).
 * Capacity: a gateway with ports="N" takes at most N calls at once. A call holds a port from
 * gateway_call() (relay) to gateway_call_end() (BYE, failure, CANCEL); a full gateway is
 * skipped by decisions (not marked down). The call table maps Call-ID hashes to the gateway
 * whose port they hold.
 * Load spreading: one counter per route (open-addressed table keyed by the route name's hash;
 * a route that finds no free slot shares one), so each route's first attempt rotates over its
 * usable gateways whatever the other routes' traffic.
 */
#include "cr_hash.h"
#include "handle.h"

#include <stdio.h>
#include <string.h>

#define CRP_DEFAULT_THRESHOLD 3
#define ROUTE_PROBES          16
#define CALL_PROBES           64
#define CALL_BUSY             1u /* a call slot being written */

static uint64_t name_hash(const char *s)
{
    uint64_t h = cr_fnv_str(CR_FNV_OFFSET, s);
    return h > CALL_BUSY ? h : h + 2;
}

int crp_gw_threshold(const cr_open_options *opts)
{
    if (opts && opts->size >= offsetof(cr_open_options, gateway_fail_threshold) + sizeof(int) &&
        opts->gateway_fail_threshold > 0)
        return opts->gateway_fail_threshold;
    return CRP_DEFAULT_THRESHOLD;
}

crp_gw_slot *crp_gw_slot_find(crp_shared *s, const char *name, bool create)
{
    uint64_t h = name_hash(name);
    for (size_t k = 0; k < CRP_GW_SLOTS; k++) {
        crp_gw_slot *g = &s->gw[(h + k) % CRP_GW_SLOTS];
        uint64_t cur = atomic_load(&g->hash);
        if (cur == h && strncmp(g->name, name, CRP_NAME_MAX - 1) == 0)
            return g;
        if (cur == 0) {
            if (!create)
                return NULL;
            uint64_t zero = 0;
            /* claim the slot; the name is written before anyone can match the hash only
             * approximately, so readers also compare the name */
            if (atomic_compare_exchange_strong(&g->hash, &zero, h)) {
                snprintf(g->name, CRP_NAME_MAX, "%s", name);
                return g;
            }
            if (atomic_load(&g->hash) == h && strncmp(g->name, name, CRP_NAME_MAX - 1) == 0)
                return g;
        }
    }
    return NULL;
}

static const char *reason_text(int r)
{
    switch (r) {
    case CRP_GW_R_TIMEOUT:
        return "unreachable (408 or no answer)";
    case CRP_GW_R_RETRY_AFTER:
        return "503 with Retry-After";
    case CRP_GW_R_THRESHOLD:
        return "failures in a row";
    default:
        return "failed";
    }
}

const char *crp_gw_state(const crp_gw_slot *g, const cr_gateway *gw, int64_t now,
                         const char **reason)
{
    *reason = "";
    if (!g)
        return "up";
    int manual = atomic_load(&g->manual);
    if (manual == CRP_GW_DOWN) {
        *reason = "manual";
        return "down";
    }
    if (manual != CRP_GW_UP) {
        if (atomic_load(&g->probe_down)) {
            *reason = "probe (no answer to OPTIONS)";
            return "down";
        }
        if (atomic_load(&g->down_until_ms) > now) {
            *reason = reason_text(atomic_load(&g->reason));
            return "down";
        }
    }
    if (gw && gw->ports > 0 && atomic_load(&g->calls) >= gw->ports) {
        *reason = "every port in use";
        return "full";
    }
    if (manual == CRP_GW_UP)
        *reason = "manual";
    return "up";
}

/* The failure's code as logged: "503", "408" for no answer in time (code 0), else "". */
static const char *code_text(int code, char *buf, size_t len)
{
    if (code < 0)
        return "";
    snprintf(buf, len, " (%d)", code ? code : 408);
    return buf;
}

/* Holds gateway g down for ms after a failure (code: SIP code, 0 = no answer, -1 = unknown)
 * and logs it: the one line each failure gets (the host logs none of its own). */
static void hold_down(crp_gw_slot *g, const char *name, int code, int64_t ms, int reason)
{
    char cb[16];
    int64_t now = crp_now_ms();
    if (atomic_load(&g->down_until_ms) <= now)
        atomic_store(&g->down_since_ms, now);
    atomic_store(&g->reason, reason);
    atomic_store(&g->down_until_ms, now + ms);
    crp_log(CR_LOG_WARNING, "callroute: gateway %s failed%s: marked down for %lld s (%s)", name,
            code_text(code, cb, sizeof cb), (long long)(ms / 1000), reason_text(reason));
}

int crp_gateway_failed(cr_handle *h, const char *name)
{
    if (!h || !name || !*name)
        return CR_EINVAL;
    crp_gw_slot *g = crp_gw_slot_find(h->shared, name, true);
    if (!g)
        return CR_ENOMEM;
    atomic_fetch_add(&g->failures, 1);
    atomic_fetch_add(&g->consecutive, 1);
    hold_down(g, name, -1, (int64_t)h->holdoff_s * 1000, CRP_GW_R_FAILED);
    return CR_OK;
}

/* The failure classes (see the top of this file), the one place that decides them (the
 * Kamailio module counts failures from this answer). Returns CR_GATEWAY_RESULT_FAILURE for a
 * failure, with CR_GATEWAY_RESULT_DOWN when the gateway is now held down; 0 for any other
 * answer. */
int crp_gateway_result_ex(cr_handle *h, const char *name, int code, int retry_after_s)
{
    if (!h || !name || !*name || code < 0 || code > 699)
        return CR_EINVAL;
    crp_gw_slot *g = crp_gw_slot_find(h->shared, name, true);
    if (!g)
        return CR_ENOMEM;
    bool failure = code == 0 || code == 408 || (code >= 500 && code < 600);
    if (!failure) {
        atomic_store(&g->consecutive, 0);
        return 0;
    }
    atomic_fetch_add(&g->failures, 1);
    uint32_t row = atomic_fetch_add(&g->consecutive, 1) + 1;
    int64_t holdoff = (int64_t)h->holdoff_s * 1000;
    if (code == 0 || code == 408) {
        hold_down(g, name, code, holdoff, CRP_GW_R_TIMEOUT);
    } else if (code == 503 && retry_after_s > 0) {
        hold_down(g, name, code, (int64_t)retry_after_s * 1000, CRP_GW_R_RETRY_AFTER);
    } else if (row >= (uint32_t)h->fail_threshold) {
        hold_down(g, name, code, holdoff, CRP_GW_R_THRESHOLD);
    } else {
        crp_log(CR_LOG_INFO, "callroute: gateway %s failed (%d): stays up (%u of %d in a row)",
                name, code, row, h->fail_threshold);
        return CR_GATEWAY_RESULT_FAILURE;
    }
    return CR_GATEWAY_RESULT_FAILURE | CR_GATEWAY_RESULT_DOWN;
}

/* ABI 1.6's form: 1 when the gateway is now held down, 0 when it stays up. */
int crp_gateway_result(cr_handle *h, const char *name, int code, int retry_after_s)
{
    int r = crp_gateway_result_ex(h, name, code, retry_after_s);
    return r < 0 ? r : (r & CR_GATEWAY_RESULT_DOWN) != 0;
}

/* The gateway named `name` of the current configuration (its ports), or NULL. */
static bool configured(cr_handle *h, const char *name, int *ports)
{
    int token;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    const cr_gateway *gw = cr_config_gateway_find(s->cfg, name);
    if (gw && ports)
        *ports = gw->ports;
    crp_snapshot_release(h, token);
    return gw != NULL;
}

int crp_gateway_set_state(cr_handle *h, const char *name, int state)
{
    if (!h || !name || !*name || state < CRP_GW_AUTO || state > CRP_GW_DOWN)
        return CR_EINVAL;
    if (!configured(h, name, NULL))
        return CR_ENOENT;
    crp_gw_slot *g = crp_gw_slot_find(h->shared, name, true);
    if (!g)
        return CR_ENOMEM;
    atomic_store(&g->manual, state);
    crp_log(CR_LOG_INFO, "callroute: gateway '%s' set %s by hand", name,
            state == CRP_GW_UP     ? "up"
            : state == CRP_GW_DOWN ? "down"
                                   : "to auto");
    return CR_OK;
}

int crp_gateway_probe(cr_handle *h, const char *name, int up)
{
    if (!h || !name || !*name)
        return CR_EINVAL;
    crp_gw_slot *g = crp_gw_slot_find(h->shared, name, true);
    if (!g)
        return CR_ENOMEM;
    int down = up ? 0 : 1;
    if (atomic_exchange(&g->probe_down, down) != down) {
        atomic_store(&g->probe_since_ms, crp_now_ms());
        crp_log(CR_LOG_WARNING, "callroute: gateway '%s' %s", name,
                down ? "does not answer OPTIONS: down" : "answers OPTIONS again: up");
    }
    if (up && atomic_load(&g->reason) == CRP_GW_R_TIMEOUT) {
        /* reachable again: an unreachable hold-off ends */
        atomic_store(&g->down_until_ms, 0);
        atomic_store(&g->consecutive, 0);
    }
    return CR_OK;
}

/* ---- capacity: calls holding ports ------------------------------------------------------- */

static crp_call_slot *call_find(crp_shared *s, uint64_t h)
{
    for (size_t k = 0; k < CALL_PROBES; k++) {
        crp_call_slot *c = &s->calls[(h + k) % CRP_CALL_SLOTS];
        if (atomic_load(&c->hash) == h)
            return c;
    }
    return NULL;
}

/* Frees the port call slot c holds (the slot must hold hash h). */
static bool call_release(crp_shared *s, crp_call_slot *c, uint64_t h)
{
    uint64_t expect = h;
    if (!atomic_compare_exchange_strong(&c->hash, &expect, CALL_BUSY))
        return false; /* ended by another process meanwhile */
    int32_t gi = atomic_load(&c->gw);
    if (gi >= 0 && gi < CRP_GW_SLOTS)
        atomic_fetch_sub(&s->gw[gi].calls, 1);
    atomic_store(&c->hash, 0);
    return true;
}

static bool take_port(crp_gw_slot *g, int ports)
{
    int32_t cur = atomic_load(&g->calls);
    do {
        if (ports > 0 && cur >= ports)
            return false;
    } while (!atomic_compare_exchange_weak(&g->calls, &cur, cur + 1));
    return true;
}

int crp_gateway_call(cr_handle *h, const char *name, const char *call_id)
{
    if (!h || !name || !*name || !call_id || !*call_id)
        return CR_EINVAL;
    int ports = 0;
    if (!configured(h, name, &ports))
        return CR_ENOENT;
    crp_gw_slot *g = crp_gw_slot_find(h->shared, name, true);
    if (!g)
        return CR_ENOMEM;
    int32_t gi = (int32_t)(g - h->shared->gw);
    uint64_t ch = name_hash(call_id);
    crp_call_slot *c = call_find(h->shared, ch);
    if (c && atomic_load(&c->gw) == gi)
        return CR_OK; /* holds a port of this gateway already */
    if (c)
        call_release(h->shared, c, ch); /* the call moves on to another gateway */
    if (!take_port(g, ports))
        return CR_ELIMIT;
    for (size_t k = 0; k < CALL_PROBES; k++) {
        c = &h->shared->calls[(ch + k) % CRP_CALL_SLOTS];
        uint64_t zero = 0;
        if (atomic_compare_exchange_strong(&c->hash, &zero, CALL_BUSY)) {
            atomic_store(&c->gw, gi);
            atomic_store(&c->hash, ch);
            return CR_OK;
        }
    }
    atomic_fetch_sub(&g->calls, 1);
    crp_log(CR_LOG_WARNING, "callroute: call table full: call %s to gateway '%s' not counted",
            call_id, name);
    return CR_ENOMEM;
}

int crp_gateway_call_end(cr_handle *h, const char *call_id)
{
    if (!h || !call_id || !*call_id)
        return CR_EINVAL;
    uint64_t ch = name_hash(call_id);
    crp_call_slot *c = call_find(h->shared, ch);
    return c && call_release(h->shared, c, ch) ? CR_OK : CR_ENOENT;
}

/* ---- decisions ----------------------------------------------------------------------------- */

static bool rt_gateway_down(void *ud, const cr_gateway *gw)
{
    crp_runtime_ud *u = ud;
    for (size_t i = 0; i < u->ndown; i++)
        if (u->down[i] && strcmp(u->down[i], gw->name) == 0)
            return true;
    crp_gw_slot *g = crp_gw_slot_find(u->h->shared, gw->name, false);
    if (!g)
        return false;
    if (!u->now)
        u->now = crp_now_ms();
    const char *why;
    return strcmp(crp_gw_state(g, NULL, u->now, &why), "down") == 0;
}

static bool rt_gateway_full(void *ud, const cr_gateway *gw)
{
    crp_runtime_ud *u = ud;
    crp_gw_slot *g = crp_gw_slot_find(u->h->shared, gw->name, false);
    return g && gw->ports > 0 && atomic_load(&g->calls) >= gw->ports;
}

/* A fresh decision's counter of the route with hash h (zero the first time). */
static uint32_t fresh_route_spread(crp_runtime_ud *u, uint64_t h)
{
    uint32_t i;
    for (i = 0; i < u->nfresh; i++)
        if (u->fresh_routes[i].hash == h)
            return u->fresh_routes[i].counter++;
    if (i == CRP_FRESH_ROUTES)
        i = (uint32_t)(h % CRP_FRESH_ROUTES); /* more routes than that: share (a rotation) */
    else
        u->nfresh++;
    u->fresh_routes[i].hash = h;
    u->fresh_routes[i].counter = 1;
    return 0;
}

static uint32_t rt_route_spread(void *ud, const cr_route *r)
{
    crp_runtime_ud *u = ud;
    crp_shared *s = u->h->shared;
    uint64_t h = name_hash(r->name);
    if (u->fresh)
        return fresh_route_spread(u, h);
    for (size_t k = 0; k < ROUTE_PROBES; k++) {
        crp_route_slot *sl = &s->routes[(h + k) % CRP_ROUTE_SLOTS];
        uint64_t cur = atomic_load(&sl->hash);
        if (cur == 0) {
            uint64_t zero = 0;
            if (atomic_compare_exchange_strong(&sl->hash, &zero, h))
                cur = h;
            else
                cur = atomic_load(&sl->hash);
        }
        if (cur == h)
            return atomic_fetch_add(&sl->counter, 1);
    }
    /* more routes than slots around here: share a counter (still a rotation) */
    return atomic_fetch_add(&s->routes[h % CRP_ROUTE_SLOTS].counter, 1);
}

static uint32_t rt_spread(void *ud)
{
    crp_runtime_ud *u = ud;
    if (u->fresh)
        return u->fresh_spread++;
    return atomic_fetch_add(&u->h->shared->spread, 1);
}

void crp_runtime_init(cr_runtime *rt, crp_runtime_ud *ud)
{
    rt->ud = ud;
    rt->gateway_down = rt_gateway_down;
    rt->spread = rt_spread;
    rt->users = NULL;
    rt->gateway_full = rt_gateway_full;
    rt->route_spread = rt_route_spread;
}

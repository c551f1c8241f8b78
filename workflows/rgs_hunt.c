/* Match making: queues, the routing methods, offers, and serving waiting calls when agents
 * become free. Costs are per group and per queue, never per agent of the deployment: each
 * group keeps a bitset of the agents who take calls now (rgs_agent_sync), so a hunt visits
 * those agents only, and whether a queue is staffed is a count per group. */
#define _GNU_SOURCE
#include "rgs_engine_int.h"
#include "cr_grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *agent_uri(const cr_rgs_engine *e, size_t a)
{
    return e->cfg->agents[a].uri;
}

static const char *qname(const cr_rgs_engine *e, const rgs_call *c)
{
    return e->cfg->queues[c->queue].name;
}

/* ---- queue membership ----------------------------------------------------------------------- */

RGS_HOT void rgs_queue_leave(cr_rgs_engine *e, rgs_call *c)
{
    rgs_queue *q = &e->queues[c->queue];
    rgs_queue_note_wait(q, e->now - c->enter_ms);
    if (c->qprev >= 0)
        e->calls[c->qprev].qnext = c->qnext;
    else
        q->head = c->qnext;
    if (c->qnext >= 0)
        e->calls[c->qnext].qprev = c->qprev;
    else
        q->tail = c->qprev;
    q->count--;
    c->qprev = c->qnext = -1;
    c->tok_timeout++;
    c->tok_ring++;
    rgs_timer_cancel(e, &c->th_timeout);
    rgs_timer_cancel(e, &c->th_ring);
    c->state = CS_PROMPT;
    rgs_mark_call(e, c);
}

static void queue_append(cr_rgs_engine *e, rgs_call *c)
{
    rgs_queue *q = &e->queues[c->queue];
    int32_t s = (int32_t)(c - e->calls);
    c->qprev = q->tail;
    c->qnext = -1;
    if (q->tail >= 0)
        e->calls[q->tail].qnext = s;
    else
        q->head = s;
    q->tail = s;
    q->count++;
}

void rgs_new_round(rgs_call *c)
{
    if (!c->round_set)
        return; /* at its start already (rgs_call_round_init) */
    c->gi = 0;
    c->round_offers = 0;
    c->tried.n = 0;
}

RGS_HOT void rgs_queue_enter(cr_rgs_engine *e, rgs_call *c, long qi)
{
    if (++c->hops > 16) {
        rgs_out_hangup_code(e, c, CR_RGS_HANGUP_LOOP);
        rgs_call_delete(e, c);
        return;
    }
    if (!c->answered) {
        rgs_out(e, c, CR_RGS_OUT_ANSWER, NULL);
        c->answered = true;
    }
    rgs_queue *q = &e->queues[qi];
    if (!q->has_agents) {
        rgs_logf(e, "no_agents call=%s queue=\"%s\"", c->id, e->cfg->queues[qi].name);
        rgs_out_hangup_code(e, c, CR_RGS_HANGUP_NO_AGENTS);
        rgs_call_delete(e, c);
        return;
    }
    /* the tail's line (linked below) and the first group's count and line (the hunt) */
    if (q->tail >= 0)
        __builtin_prefetch(&e->calls[q->tail], 1);
    if (q->ngroups) {
        __builtin_prefetch(&e->navail[rgs_queue_group(q, 0)]);
        __builtin_prefetch(&e->groups[rgs_queue_group(q, 0)], 1);
    }
    c->state = CS_QUEUED;
    c->queue = qi;
    c->enter_ms = e->now;
    c->seq = e->next_seq++;
    c->ring.n = 0;
    rgs_new_round(c);
    queue_append(e, c);
    if (++q->entered == 0)
        q->entered_hi += 1ULL << 32;
    rgs_mark_call(e, c);
    rgs_logf(e, "enter call=%s queue=\"%s\"", c->id, e->cfg->queues[qi].name);
    if (q->timeout_s > 0) {
        rgs_timer_cancel(e, &c->th_timeout);
        c->th_timeout = rgs_timer_add(e, e->now + q->timeout_s * 1000LL, (size_t)(c - e->calls),
                                      T_TIMEOUT, ++c->tok_timeout);
    }
    if (q->overflow_calls >= 0 && q->count > (uint32_t)q->overflow_calls) {
        const cr_rgs_queue *cq = &e->cfg->queues[qi];
        rgs_call *v = q->overflow_oldest ? &e->calls[q->head] : c;
        rgs_logf(e, "overflow call=%s queue=\"%s\"", v->id, cq->name);
        q->overflows++;
        e->wfstats[v->wf].overflowed++;
        rgs_ring_release(e, v, true);
        rgs_queue_leave(e, v);
        rgs_perform(e, v, &cq->overflow_action, "overflow");
        if (v == c)
            return;
    }
    if (!c->on_moh) {
        const char *moh = e->wfs[c->wf].moh;
        rgs_out(e, c, CR_RGS_OUT_MOH, moh ? moh : "default");
        c->on_moh = true;
    }
    rgs_hunt(e, c);
}

/* ---- eligibility and the routing methods -------------------------------------------------- */

static bool in_grace(const cr_rgs_engine *e, const rgs_call *c, size_t a)
{
    for (size_t i = 0; i < c->ndeclines; i++)
        if (c->declines[i].agent == a && c->declines[i].until > e->now)
            return true;
    return false;
}

bool rgs_takes_calls(const cr_rgs_engine *e, size_t g, size_t pos, size_t a)
{
    const cr_rgs_group *cg = &e->cfg->groups[g];
    if (cg->formal && !e->groups[g].signed_in[pos])
        return false;
    const rgs_agent *ag = &e->agents[a];
    if (cg->routing == CR_RGS_ATTENDANT)
        return ag->presence != P_DND && ag->presence != P_OFFLINE;
    return ag->presence == P_AVAILABLE && ag->ncalls == 0 && ag->ringing.n == 0;
}

RGS_HOT void rgs_agent_sync(cr_rgs_engine *e, size_t a)
{
    rgs_agent *ag = &e->agents[a];
    uint8_t st =
        (uint8_t)((ag->presence == P_AVAILABLE && ag->ncalls == 0 && ag->ringing.n == 0
                       ? RGS_TAKES_FREE
                       : 0) |
                  (ag->presence != P_DND && ag->presence != P_OFFLINE ? RGS_TAKES_ATTENDANT : 0));
    if (st == ag->takes)
        return;
    ag->takes = st;
    for (size_t i = 0; i < ag->ngroups; i++) {
        const rgs_member *m = &ag->groups[i];
        bool on = (st & m->need) != 0;
        uint64_t bit = 1ULL << (m->pos & 63), *word = rgs_member_word(e, m);
        if (on != ((*word & bit) != 0)) {
            *word ^= bit;
            if (on)
                e->navail[m->group]++;
            else
                e->navail[m->group]--;
        }
    }
}

void rgs_engine_set_naive(cr_rgs_engine *e, bool naive)
{
    e->naive = naive;
}

bool rgs_avail_consistent(const cr_rgs_engine *e)
{
    for (size_t g = 0; g < e->cfg->ngroups; g++) {
        const cr_rgs_group *cg = &e->cfg->groups[g];
        size_t n = 0;
        for (size_t p = 0; p < cg->nagents; p++) {
            bool bit = (e->groups[g].avail[p >> 6] >> (p & 63)) & 1;
            if (bit != rgs_takes_calls(e, g, p, cg->agents[p]))
                return false;
            n += bit;
        }
        if (n != e->navail[g])
            return false;
    }
    return true;
}

/* The first position in [from, limit) whose agent takes calls, or -1. */
static RGS_HOT long next_avail(const rgs_group *rg, size_t from, size_t limit)
{
    if (from >= limit)
        return -1;
    size_t i = from >> 6, last = (limit - 1) >> 6;
    uint64_t x = rg->avail[i] & (~0ULL << (from & 63));
    for (;;) {
        if (x) {
            size_t p = (i << 6) + (size_t)__builtin_ctzll(x);
            return p < limit ? (long)p : -1;
        }
        if (++i > last)
            return -1;
        x = rg->avail[i];
    }
}

/* Whether this call may be offered to agent a (who takes calls): not yet in this round, not
 * ringing for it, not in the grace period of a decline of it. */
static RGS_HOT bool call_may_offer(const cr_rgs_engine *e, const rgs_call *c, size_t a)
{
    return !rgs_svec_has(&c->tried, (uint32_t)a) && !rgs_svec_has(&c->ring, (uint32_t)a) &&
           !in_grace(e, c, a);
}

/* The first position in [from, limit) that may be offered call c, or -1. */
static RGS_HOT long next_eligible(const cr_rgs_engine *e, const rgs_call *c, size_t g, size_t from,
                                  size_t limit)
{
    const rgs_group *rg = &e->groups[g];
    const uint32_t *agents = rg->agents;
    long p = next_avail(rg, from, limit);
    while (p >= 0 && !call_may_offer(e, c, agents[p]))
        p = next_avail(rg, (size_t)p + 1, limit);
    if (p >= 0) /* an offer or a longest-idle comparison reads his record next */
        rgs_prefetch_lines(&e->agents[agents[p]], sizeof(rgs_agent) / 64);
    return p;
}

/* Every position of group g that may be offered call c, in order, written to out (room for
 * the group); returns how many. The avail words are walked once, each bit taken off as it is
 * visited (where next_eligible, once per agent, found its place in the words again). */
static RGS_HOT size_t all_eligible(const cr_rgs_engine *e, const rgs_call *c, size_t g, size_t *out)
{
    const rgs_group *rg = &e->groups[g];
    const uint32_t *agents = rg->agents;
    size_t n = rg->nagents, k = 0;
    for (size_t w = 0; w <= (n - 1) >> 6; w++)
        for (uint64_t x = rg->avail[w]; x; x &= x - 1) {
            size_t p = (w << 6) + (size_t)__builtin_ctzll(x);
            if (p >= n)
                return k;
            if (call_may_offer(e, c, agents[p])) {
                /* an offer or a longest-idle comparison reads his record next */
                rgs_prefetch_lines(&e->agents[agents[p]], sizeof(rgs_agent) / 64);
                out[k++] = p;
            }
        }
    return k;
}

/* The reference the indexed selection must equal (tests/unit/test_rgs_select.c): every member
 * of the group checked in turn, as the engine selected before the avail bits. */
static size_t select_naive(const cr_rgs_engine *e, const rgs_call *c, size_t g, size_t *out)
{
    const cr_rgs_group *cg = &e->cfg->groups[g];
    size_t n = cg->nagents, k = 0;
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        size_t p =
            cg->routing == CR_RGS_ROUND_ROBIN ? ((size_t)(e->groups[g].rr_last + 1) + i) % n : i;
        size_t a = cg->agents[p];
        if (!rgs_takes_calls(e, g, p, a) || !call_may_offer(e, c, a))
            continue;
        if (cg->routing == CR_RGS_SERIAL || cg->routing == CR_RGS_ROUND_ROBIN) {
            out[0] = p;
            return 1;
        }
        if (cg->routing == CR_RGS_LONGEST_IDLE) {
            if (best < 0 || e->agents[a].idle_since < e->agents[cg->agents[best]].idle_since)
                best = (long)p;
            continue;
        }
        out[k++] = p;
    }
    if (cg->routing == CR_RGS_LONGEST_IDLE && best >= 0)
        out[k++] = (size_t)best;
    return k;
}

/* Positions to offer in group g now (written to out, which has room for the group). Only the
 * agents who take calls (the group's avail bits) are visited, in position order, so every
 * method picks exactly as a scan of all members would. */
static size_t select_agents(cr_rgs_engine *e, const rgs_call *c, size_t g, size_t *out)
{
    const rgs_group *rg = &e->groups[g];
    size_t n = rg->nagents;
    long p;
    if (e->naive)
        return select_naive(e, c, g, out);
    if (!e->navail[g])
        return 0;
    switch (rg->routing) {
    case CR_RGS_SERIAL:
        p = next_eligible(e, c, g, 0, n);
        break;
    case CR_RGS_ROUND_ROBIN: {
        size_t start = (size_t)(rg->rr_last + 1) % n;
        p = next_eligible(e, c, g, start, n);
        if (p < 0)
            p = next_eligible(e, c, g, 0, start);
        break;
    }
    case CR_RGS_LONGEST_IDLE: {
        /* every eligible agent (their records all loading), then the first of the longest
         * idle among them, in position order as before */
        size_t m = all_eligible(e, c, g, out);
        long best = -1;
        for (size_t i = 0; i < m; i++)
            if (best < 0 ||
                e->agents[rg->agents[out[i]]].idle_since < e->agents[rg->agents[best]].idle_since)
                best = (long)out[i];
        p = best;
        break;
    }
    default: /* parallel, attendant */
        return all_eligible(e, c, g, out);
    }
    if (p < 0)
        return 0;
    out[0] = (size_t)p;
    return 1;
}

static void offer(cr_rgs_engine *e, rgs_call *c, size_t g, const size_t *pos, size_t n)
{
    rgs_group *rg = &e->groups[g];
    size_t slot = (size_t)(c - e->calls);
    for (size_t i = 0; i < n; i++) {
        size_t a = rg->agents[pos[i]];
        rgs_svec_push(&c->ring, (uint32_t)a);
        rgs_svec_push(&c->tried, (uint32_t)a);
        rgs_svec_push(&e->agents[a].ringing, (uint32_t)slot);
        rgs_agent_sync(e, a);
        rgs_logf(e, "offered call=%s queue=\"%s\" agent=%s", c->id, qname(e, c), agent_uri(e, a));
    }
    if (rg->routing == CR_RGS_ROUND_ROBIN) {
        rg->rr_last = (long)pos[n - 1];
        rgs_mark_group(e, g);
    }
    c->ring_group = (long)g;
    c->round_offers++;
    rgs_timer_cancel(e, &c->th_ring);
    c->th_ring = rgs_timer_add(e, e->now + rg->alert_time_s * 1000LL, slot, T_RING, ++c->tok_ring);
    rgs_out_agents(e, c, CR_RGS_OUT_RING, rgs_svec_items(&c->ring), c->ring.n);
}

/* Searches the queue's groups in order from the call's position in its round; a round that
 * made offers and is exhausted starts over; a round that found nobody leaves the call
 * waiting on hold until an agent becomes free. The call's round (its line 2) is set up when
 * a group has someone to offer it to: a call that waits from its arrival on, and is
 * hunted in vain meanwhile, does not touch that line before an agent is free for it. */
RGS_HOT void rgs_hunt(cr_rgs_engine *e, rgs_call *c)
{
    const rgs_queue *q = &e->queues[c->queue];
    const uint32_t ng = q->ngroups;
    const bool naive = e->naive;
    for (int pass = 0; pass < 2; pass++) {
        /* (a call whose round is not set has offered nobody: its round is at its start) */
        for (uint32_t gi = c->round_set ? c->gi : 0; gi < ng; gi++) {
            size_t g = rgs_queue_group(q, gi);
            if (!naive && !e->navail[g])
                continue; /* nobody to offer to (select_agents: 0), without reading the group */
            rgs_call_round_init(c);
            c->gi = gi;
            size_t n = e->groups[g].nagents;
            size_t stackpos[64], *pos = n <= 64 ? stackpos : malloc(n * sizeof *pos);
            if (!pos)
                return;
            size_t k = select_agents(e, c, g, pos);
            if (k)
                offer(e, c, g, pos, k);
            if (pos != stackpos)
                free(pos);
            if (k)
                return;
        }
        if (!c->round_set)
            return;
        c->gi = ng;
        if (c->round_offers == 0)
            return;
        rgs_new_round(c);
    }
}

/* Stops the call's ringing offers; freed agents are served at the end of the step. */
RGS_HOT void rgs_ring_release(cr_rgs_engine *e, rgs_call *c, bool cancel)
{
    if (!c->ring.n)
        return;
    const uint32_t *ring = rgs_svec_items(&c->ring);
    for (size_t i = 0; i < c->ring.n; i++) /* each one's record, all loading at once */
        rgs_prefetch_lines(&e->agents[ring[i]], sizeof(rgs_agent) / 64);
    if (cancel)
        rgs_out_agents(e, c, CR_RGS_OUT_CANCEL, ring, c->ring.n);
    uint32_t slot = (uint32_t)(c - e->calls);
    for (size_t i = 0; i < c->ring.n; i++) {
        rgs_svec_remove(&e->agents[ring[i]].ringing, slot);
        rgs_agent_sync(e, ring[i]);
        rgs_vec_push(&e->pending, ring[i]);
    }
    c->ring.n = 0;
    c->tok_ring++;
    rgs_timer_cancel(e, &c->th_ring);
}

RGS_HOT void rgs_on_ring_timeout(cr_rgs_engine *e, rgs_call *c)
{
    for (size_t i = 0; i < c->ring.n; i++)
        rgs_logf(e, "no_answer call=%s queue=\"%s\" agent=%s", c->id, qname(e, c),
                 agent_uri(e, rgs_svec_items(&c->ring)[i]));
    rgs_ring_release(e, c, true);
    rgs_hunt(e, c);
}

void rgs_on_queue_timeout(cr_rgs_engine *e, rgs_call *c)
{
    const cr_rgs_queue *cq = &e->cfg->queues[c->queue];
    rgs_ring_release(e, c, true);
    rgs_logf(e, "timeout call=%s queue=\"%s\" wait=%.3f", c->id, cq->name,
             (double)(e->now - c->enter_ms) / 1000.0);
    e->queues[c->queue].timeouts++;
    e->wfstats[c->wf].timed_out++;
    rgs_queue_leave(e, c);
    rgs_perform(e, c, &cq->timeout_action, "timeout");
}

RGS_HOT void rgs_on_grace(cr_rgs_engine *e, rgs_call *c)
{
    size_t k = 0;
    for (size_t i = 0; i < c->ndeclines; i++)
        if (c->declines[i].until > e->now)
            c->declines[k++] = c->declines[i];
    c->ndeclines = k;
    if (c->ring.n == 0) {
        rgs_new_round(c);
        rgs_hunt(e, c);
    }
}

RGS_HOT int rgs_answer(cr_rgs_engine *e, rgs_call *c, size_t a, char *err, size_t errlen)
{
    if (c->state != CS_QUEUED || !rgs_svec_has(&c->ring, (uint32_t)a)) {
        return rgs_fail(err, errlen, CR_ESTATE, "agent '%s' is not ringing for call '%s'",
                        agent_uri(e, a), c->id);
    }
    rgs_svec_remove(&c->ring, (uint32_t)a);
    rgs_svec_remove(&e->agents[a].ringing, (uint32_t)(c - e->calls));
    rgs_ring_release(e, c, true); /* no hunt before his ncalls++ below and its sync */
    uint32_t a32 = (uint32_t)a;
    rgs_out_agents(e, c, CR_RGS_OUT_BRIDGE, &a32, 1);
    int64_t wait = e->now - c->enter_ms;
    rgs_logf(e, "connected call=%s queue=\"%s\" agent=%s wait=%.3f", c->id, qname(e, c),
             agent_uri(e, a), (double)wait / 1000.0);
    rgs_queue_note_answer(&e->queues[c->queue], wait);
    e->wfstats[c->wf].answered++;
    if (++e->agents[a].answers == 0)
        e->agents[a].answered += 1ULL << 32;
    rgs_queue_leave(e, c);
    c->state = CS_CONNECTED;
    c->agent = (long)a;
    c->on_moh = false;
    rgs_agent *ag = &e->agents[a];
    ag->ncalls++;
    rgs_agent_sync(e, a);
    rgs_mark_agent(e, a);
    rgs_mark_call(e, c);
    /* Offers of other calls still ringing him are attendant offers, which ring agents on a
     * call too: they go on. */
    return CR_OK;
}

/* Agent a's offer of call c ends alone (declined, withdrawn, not answered): he is free for
 * other calls at the end of the step, and the call hunts on when nobody rings for it. He
 * stays in the round's tried list: not offered this call again in the round. */
static RGS_HOT void leave_offer(cr_rgs_engine *e, rgs_call *c, size_t a)
{
    rgs_svec_remove(&c->ring, (uint32_t)a);
    rgs_svec_remove(&e->agents[a].ringing, (uint32_t)(c - e->calls));
    rgs_agent_sync(e, a);
    rgs_vec_push(&e->pending, a);
    if (c->ring.n == 0) {
        c->tok_ring++;
        rgs_timer_cancel(e, &c->th_ring);
        rgs_hunt(e, c);
    }
}

RGS_HOT int rgs_decline(cr_rgs_engine *e, rgs_call *c, size_t a, char *err, size_t errlen)
{
    if (c->state != CS_QUEUED || !rgs_svec_has(&c->ring, (uint32_t)a)) {
        return rgs_fail(err, errlen, CR_ESTATE, "agent '%s' is not ringing for call '%s'",
                        agent_uri(e, a), c->id);
    }
    int grace = e->groups[c->ring_group].decline_grace_s;
    size_t capdec = c->capdeclines;
    if (c->ndeclines == UINT32_MAX || !CR_GROW(c->declines, c->ndeclines, capdec))
        return CR_ENOMEM;
    c->capdeclines = capdec < UINT32_MAX ? (uint32_t)capdec : UINT32_MAX;
    c->declines[c->ndeclines++] = (rgs_decline_entry){a, e->now + grace * 1000LL};
    if (grace > 0)
        rgs_timer_add(e, e->now + grace * 1000LL, (size_t)(c - e->calls), T_GRACE, 0);
    rgs_logf(e, "declined call=%s queue=\"%s\" agent=%s", c->id, qname(e, c), agent_uri(e, a));
    leave_offer(e, c, a);
    return CR_OK;
}

/* Stops agent a's offer for call c alone ("cancel <a>"). */
static RGS_HOT void withdraw(cr_rgs_engine *e, rgs_call *c, size_t a, const char *why)
{
    uint32_t a32 = (uint32_t)a;
    rgs_out_agents(e, c, CR_RGS_OUT_CANCEL, &a32, 1);
    rgs_logf(e, "withdrawn call=%s queue=\"%s\" agent=%s reason=%s", c->id, qname(e, c),
             agent_uri(e, a), why);
    leave_offer(e, c, a);
}

/*
 * Cancels the offers ringing agent a that he may no longer take: offers from a formal group
 * he is no longer signed in to, and, when `presence` (his presence left available), every
 * offer but an attendant group's; an attendant offer ends too when his presence becomes
 * do-not-disturb or offline (attendants are rung whatever their presence except those two,
 * SPEC §4 and issue 6, the rule rgs_takes_calls applies to new offers). Without this the
 * call would ring him until the alert time and bridge his answer.
 */
RGS_HOT void rgs_withdraw(cr_rgs_engine *e, size_t a, bool presence)
{
    rgs_agent *ag = &e->agents[a];
    for (size_t i = 0; i < ag->ringing.n;) {
        rgs_call *c = &e->calls[rgs_svec_items(&ag->ringing)[i]];
        size_t g = (size_t)c->ring_group;
        const rgs_group *rg = &e->groups[g]; /* (its line, not the configuration's record) */
        bool out = false;
        if (rg->formal)
            for (size_t k = 0; k < ag->ngroups; k++)
                if (ag->groups[k].group == g && !rg->signed_in[ag->groups[k].pos])
                    out = true;
        if (out)
            withdraw(e, c, a, "signout");
        else if (presence && (rg->routing != CR_RGS_ATTENDANT || ag->presence == P_DND ||
                              ag->presence == P_OFFLINE))
            withdraw(e, c, a, "presence");
        else
            i++;
    }
}

/* The host saw agent a's offer time out (its own timer, or the agent's phone gave up): he
 * leaves the offer without a cancel (the branch is gone) and without a decline grace. */
int rgs_no_answer(cr_rgs_engine *e, rgs_call *c, size_t a, char *err, size_t errlen)
{
    if (c->state != CS_QUEUED || !rgs_svec_has(&c->ring, (uint32_t)a)) {
        return rgs_fail(err, errlen, CR_ESTATE, "agent '%s' is not ringing for call '%s'",
                        agent_uri(e, a), c->id);
    }
    rgs_logf(e, "no_answer call=%s queue=\"%s\" agent=%s", c->id, qname(e, c), agent_uri(e, a));
    leave_offer(e, c, a);
    return CR_OK;
}

RGS_HOT void rgs_agent_free(cr_rgs_engine *e, size_t a)
{
    rgs_agent *ag = &e->agents[a];
    if (ag->ncalls > 0)
        ag->ncalls--;
    if (ag->ncalls == 0)
        ag->idle_since = e->now;
    /* his queues' lines, read when he is dispatched at the end of the step */
    for (size_t i = 0; i < ag->nqueues && i < 2; i++)
        __builtin_prefetch(&e->queues[ag->queues[i]]);
    rgs_agent_sync(e, a);
    rgs_mark_agent(e, a);
    rgs_vec_push(&e->pending, a);
}

/* Whether some group would offer a call to this agent now (ignoring per-call state). Inline:
 * asked of every agent freed in a step, most of them in one or two groups. */
static RGS_HOT inline bool offerable(const cr_rgs_engine *e, size_t a)
{
    const rgs_agent *ag = &e->agents[a];
    if (__builtin_expect(e->naive, 0)) {
        for (size_t i = 0; i < ag->ngroups; i++)
            if (rgs_takes_calls(e, ag->groups[i].group, ag->groups[i].pos, a))
                return true;
        return false;
    }
    for (size_t i = 0; i < ag->ngroups; i++)
        if (*rgs_member_word(e, &ag->groups[i]) & (1ULL << (ag->groups[i].pos & 63)))
            return true;
    return false;
}

/* Whether some agent of the queue's groups takes calls now. When none does, hunting any of
 * its waiting calls offers nothing. */
static bool staffed(const cr_rgs_engine *e, size_t q)
{
    const cr_rgs_queue *cq = &e->cfg->queues[q];
    const rgs_queue *rq = &e->queues[q];
    for (size_t j = 0; j < rq->ngroups; j++) {
        if (!e->naive) {
            if (e->navail[rgs_queue_group(rq, j)])
                return true;
            continue;
        }
        const cr_rgs_group *cg = &e->cfg->groups[cq->groups[j]];
        for (size_t p = 0; p < cg->nagents; p++)
            if (rgs_takes_calls(e, cq->groups[j], p, cg->agents[p]))
                return true;
    }
    return false;
}

static bool waiting(const rgs_call *c)
{
    return c->state == CS_QUEUED && c->ring.n == 0;
}

/*
 * Serves the waiting calls of the agent's queues, oldest first, while he can take one (the
 * caller checked that he can: offerable).
 *
 * Calls that are ringing (parallel or attendant offers to other agents included) are not
 * waiting: a freed agent is not added to an offer in progress. Lync's Response Group Service
 * is documented the same way: a parallel call rings "all idle agents" when it is routed, and
 * the alert time is how long it rings before it is routed again. The freed agent is offered
 * the oldest waiting call, whose caller has nobody ringing, and the ringing call reaches him
 * at its next routing attempt (tests/rgs/parallel_join.events).
 *
 * Each call is hunted anew (its whole queue, so an older call may go to another agent freed
 * in the same step). Queues where nobody takes calls are passed over (hunting their calls
 * would offer nothing): without that, an agent who takes calls in one queue only would hunt
 * every waiting call of his other queues in vain. A queue's staffing only shrinks while
 * offers are made, so it is checked again only after a hunt. What remains in vain is bounded
 * by the grace periods of declines, not by the number of waiting calls.
 */
static RGS_HOT __attribute__((noinline)) void dispatch_agent(cr_rgs_engine *e, size_t a)
{
    rgs_agent *ag = &e->agents[a];
    long cur[16], *cursor = ag->nqueues <= 16 ? cur : malloc(ag->nqueues * sizeof(long));
    uint64_t chk[16], *checked = ag->nqueues <= 16 ? chk : malloc(ag->nqueues * sizeof *chk);
    if (!cursor || !checked) {
        if (cursor != cur)
            free(cursor);
        if (checked != chk)
            free(checked);
        return;
    }
    uint64_t hunts = 1;
    for (size_t i = 0; i < ag->nqueues; i++) {
        const rgs_queue *q = &e->queues[ag->queues[i]];
        cursor[i] = q->head;
        checked[i] = 0;
        /* what staffed() and the hunt read, loading while the walk below reads calls */
        for (size_t j = 0; j < q->ngroups && j < 2; j++) {
            __builtin_prefetch(&e->navail[rgs_queue_group(q, j)]);
            __builtin_prefetch(&e->groups[rgs_queue_group(q, j)]);
        }
    }
    /* (the caller asked offerable: the first pass need not ask again, nothing changed since) */
    do {
        long best = -1;
        size_t bq = 0;
        for (size_t i = 0; i < ag->nqueues; i++) {
            while (cursor[i] >= 0 && !waiting(&e->calls[cursor[i]]))
                cursor[i] = e->calls[cursor[i]].qnext;
            if (cursor[i] < 0)
                continue;
            if (checked[i] != hunts) {
                checked[i] = hunts;
                if (!staffed(e, ag->queues[i])) {
                    cursor[i] = -1;
                    continue;
                }
            }
            if (best < 0 || e->calls[cursor[i]].seq < e->calls[best].seq)
                best = cursor[i], bq = i;
        }
        if (best < 0)
            break;
        cursor[bq] = e->calls[best].qnext;
        rgs_new_round(&e->calls[best]);
        rgs_hunt(e, &e->calls[best]);
        hunts++;
    } while (offerable(e, a));
    if (cursor != cur)
        free(cursor);
    if (checked != chk)
        free(checked);
}

RGS_HOT void rgs_dispatch_pending(cr_rgs_engine *e)
{
    /* (most events free nobody: called after each, this returns before any set-up, which is
     * why dispatch_agent is not inlined here) */
    if (!e->pending.n)
        return;
    /* each agent once, in the order they were freed */
    for (size_t i = 0; i < e->pending.n; i++) {
        size_t a = e->pending.v[i];
        if (e->agents[a].pending)
            continue;
        e->agents[a].pending = true;
        /* (asked here, not in dispatch_agent: the agents who take no call now, about half,
         * cost no call and none of its set-up) */
        if (offerable(e, a))
            dispatch_agent(e, a);
    }
    for (size_t i = 0; i < e->pending.n; i++)
        e->agents[e->pending.v[i]].pending = false;
    e->pending.n = 0;
}

static int by_seq(const void *x, const void *y, void *ud)
{
    const cr_rgs_engine *e = ud;
    uint64_t a = e->calls[*(const size_t *)x].seq, b = e->calls[*(const size_t *)y].seq;
    return a < b ? -1 : a > b;
}

/* After a restart: hunt every restored waiting call again, oldest first. */
void rgs_resume(cr_rgs_engine *e)
{
    rgs_vec v = {0};
    for (size_t s = 0; s < e->ncalls; s++)
        if (e->calls[s].state == CS_QUEUED)
            rgs_vec_push(&v, s);
    qsort_r(v.v, v.n, sizeof *v.v, by_seq, e);
    for (size_t i = 0; i < v.n; i++)
        if (waiting(&e->calls[v.v[i]])) {
            rgs_new_round(&e->calls[v.v[i]]);
            rgs_hunt(e, &e->calls[v.v[i]]);
        }
    free(v.v);
}

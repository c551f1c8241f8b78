/* The engine's one entry: typed events (cr_rgs_engine_input) and timers
 * (cr_rgs_engine_run). The text form (rgs_event.c) resolves names and calls these. */
#include "rgs_engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

RGS_HOT void rgs_call_arrives(cr_rgs_engine *e, rgs_call *c)
{
    rgs_wf *wf = &e->wfs[c->wf];
    cr_rgs_workflow_stats *st = &e->wfstats[c->wf];
    bool active = wf->active;
    if (++wf->offered == 0)
        st->offered += 1ULL << 32;
    if (!active) {
        rgs_out_hangup_code(e, c, CR_RGS_HANGUP_INACTIVE);
        rgs_call_delete(e, c);
        return;
    }
    switch (
        rgs_open_state(e->cfg, wf->tz, wf->holidays, wf->hours, e->opt.start_unix_ms + e->now)) {
    case CR_RGS_HOLIDAY:
        st->holiday++;
        rgs_perform(e, c, &e->cfg->workflows[c->wf].holiday_action, "holiday");
        return;
    case CR_RGS_AFTER_HOURS:
        st->after_hours++;
        rgs_perform(e, c, &e->cfg->workflows[c->wf].after_hours, "after_hours");
        return;
    default:
        break;
    }
    if (wf->type == CR_RGS_IVR) {
        rgs_ivr_start(e, c);
        return;
    }
    if (!wf->welcome && wf->queue >= 0) /* read by the queue entry, after the host's callback */
        __builtin_prefetch(&e->queues[wf->queue], 1);
    rgs_out(e, c, CR_RGS_OUT_ANSWER, NULL);
    c->answered = true;
    if (wf->welcome)
        rgs_play(e, c, wf->welcome, K_QUEUE, wf->queue, NULL);
    else
        rgs_queue_enter(e, c, wf->queue);
}

static int new_call(cr_rgs_engine *e, const cr_rgs_input *in, char *err, size_t errlen)
{
    if (!in->to) {
        return rgs_fail(err, errlen, CR_EINVAL, "call: no called URI");
    }
    /* The workflow's slot, the handle's and the id's in the call maps and the free slot
     * the call will take are found in four independent reads: each is started here, so
     * their misses overlap instead of following one another. */
    size_t nto = strlen(in->to);
    uint64_t wfh = rgs_kmap_hash(in->to, nto), idh = 0;
    rgs_workflow_prefetch(e->cfg, wfh);
    bool by_slot = in->slot_handle && !in->call;
    if (in->call && e->call_handles.count)
        rgs_imap_prefetch(&e->call_handles, rgs_imap_tag_u64(in->call));
    if (in->call_id)
        rgs_imap_prefetch(&e->call_ids, rgs_imap_tag_str(idh = rgs_map_hash(in->call_id)));
    if (e->free_calls >= 0)
        rgs_prefetch_lines(&e->calls[e->free_calls], sizeof(rgs_call) / 64);
    long wf = rgs_workflow_find_h(e->cfg, in->to, nto, wfh);
    if (wf >= 0)
        __builtin_prefetch(&e->wfs[wf], 1);
    long s = in->call_id || by_slot
                 ? rgs_call_new_h(e, in->call, by_slot, in->call_id, idh, in->from, in->to, wf)
                 : rgs_call_new(e, in->call, NULL, in->from, in->to, wf);
    if (s == -2) {
        if (in->call_id)
            return rgs_fail(err, errlen, CR_ESTATE, "call '%s' already exists", in->call_id);
        return rgs_fail(err, errlen, CR_ESTATE, "call handle %llu already exists",
                        (unsigned long long)in->call);
    }
    if (s < 0)
        return CR_ENOMEM;
    rgs_call *c = &e->calls[s];
    if (in->slot_handle)
        *in->slot_handle = c->handle;
    if (wf < 0) {
        rgs_out_hangup_code(e, c, CR_RGS_HANGUP_NOT_FOUND);
        rgs_call_delete(e, c);
        return CR_OK;
    }
    rgs_call_arrives(e, c);
    return CR_OK;
}

static int find_agent(cr_rgs_engine *e, uint32_t agent, size_t *out, char *err, size_t errlen)
{
    if (agent == 0 || agent > e->cfg->nagents) {
        return rgs_fail(err, errlen, CR_ENOENT, "unknown agent handle %u", (unsigned)agent);
    }
    *out = agent - 1;
    return CR_OK;
}

/* Signs agent a in or out of group g, or of every formal group of his when g < 0. */
static int sign(cr_rgs_engine *e, size_t a, long g, bool in, char *err, size_t errlen)
{
    rgs_agent *ag = &e->agents[a];
    bool found = false, changed = false;
    for (size_t i = 0; i < ag->ngroups; i++) {
        const cr_rgs_group *cg = &e->cfg->groups[ag->groups[i].group];
        if (g >= 0 && ag->groups[i].group != (size_t)g)
            continue;
        found = true;
        if (!cg->formal || ag->groups[i].signed_in == in)
            continue;
        rgs_set_signed_in(e, a, i, in);
        changed = true;
        ag->takes = RGS_TAKES_UNKNOWN;
        rgs_agent_sync(e, a);
        rgs_mark_group(e, ag->groups[i].group);
        rgs_logf(e, "%s agent=%s group=\"%s\"", in ? "signin" : "signout", e->cfg->agents[a].uri,
                 cg->name);
    }
    if (g >= 0 && !found) {
        return rgs_fail(err, errlen, CR_ENOENT, "agent '%s' is not in group '%s'",
                        e->cfg->agents[a].uri, e->cfg->groups[g].name);
    }
    if (changed && in && ag->ncalls == 0)
        ag->idle_since = e->now;
    if (changed && !in)
        rgs_withdraw(e, a, false);
    if (changed) {
        rgs_mark_agent(e, a);
        rgs_vec_push(&e->pending, a);
    }
    return CR_OK;
}

static int presence(cr_rgs_engine *e, size_t a, int p, char *err, size_t errlen)
{
    if (p < P_AVAILABLE || p > P_OFFLINE) {
        return rgs_fail(err, errlen, CR_EINVAL, "unknown presence %d", p);
    }
    rgs_agent *ag = &e->agents[a];
    if (p == ag->presence)
        return CR_OK;
    if (p == P_AVAILABLE && ag->ncalls == 0)
        ag->idle_since = e->now;
    ag->presence = (uint8_t)p;
    rgs_agent_sync(e, a);
    if (p != P_AVAILABLE)
        rgs_withdraw(e, a, true);
    rgs_mark_agent(e, a);
    rgs_vec_push(&e->pending, a);
    return CR_OK;
}

static int caller_hangup(cr_rgs_engine *e, rgs_call *c)
{
    if (c->state == CS_QUEUED) {
        rgs_ring_release(e, c, true);
        rgs_logf(e, "abandoned call=%s queue=\"%s\" wait=%.3f", c->id,
                 e->cfg->queues[c->queue].name, (double)(e->now - c->enter_ms) / 1000.0);
        e->queues[c->queue].abandoned++;
        e->wfstats[c->wf].abandoned++;
        rgs_queue_leave(e, c);
    } else if (c->state == CS_CONNECTED) {
        rgs_agent_free(e, (size_t)c->agent);
    }
    rgs_call_delete(e, c);
    return CR_OK;
}

static int prompt_done(cr_rgs_engine *e, rgs_call *c)
{
    if (c->state == CS_PROMPT) {
        rgs_finish(e, c, c->cont, c->cont_queue, c->cont_arg);
    } else if (c->state == CS_IVR && c->ivr_op == CR_RGS_IVR_PLAY) {
        rgs_ivr_input(e, c, CR_RGS_IVR_IN_PROMPT_DONE, NULL);
    } else if (c->state == CS_IVR && c->ivr_op == CR_RGS_IVR_COLLECT && c->ivr_after_prompt > 0) {
        rgs_timer_cancel(e, &c->th_ivr);
        c->th_ivr = rgs_timer_add(e, e->now + c->ivr_after_prompt, (size_t)(c - e->calls), T_IVR,
                                  c->tok_ivr);
        c->ivr_after_prompt = 0;
    }
    return CR_OK;
}

/* Events about one call. */
static int call_event(cr_rgs_engine *e, const cr_rgs_input *in, char *err, size_t errlen)
{
    long s = rgs_call_by_handle(e, in->call);
    if (s < 0) {
        return rgs_fail(err, errlen, CR_ENOENT, "unknown call handle %llu",
                        (unsigned long long)in->call);
    }
    rgs_call *c = &e->calls[s];
    /* the event reads its first line now and most of the others later: all start loading */
    rgs_prefetch_lines(c, sizeof(rgs_call) / 64);
    if (c->state == CS_CONNECTED)
        rgs_prefetch_lines(&e->agents[c->agent], sizeof(rgs_agent) / 64);
    /* then what its second line leads to: the timers an answer or a hang-up cancels, the
     * id's slot in call_ids (a hang-up deletes the call) */
    if (c->th_ring)
        __builtin_prefetch(&e->hpos[c->th_ring]);
    if (c->th_timeout)
        __builtin_prefetch(&e->hpos[c->th_timeout]);
    if (in->type == CR_RGS_EV_HANGUP || in->type == CR_RGS_EV_AGENT_HANGUP)
        rgs_imap_prefetch(&e->call_ids, c->idtag);
    /* and what its state leads to: a queued call's queue (its first line, and its second,
     * where `abandoned` is, for a hang-up), its workflow's counters and its neighbours in the
     * queue (an answer or a hang-up takes it out); the queue a prompt continues to */
    if (c->state == CS_QUEUED) {
        rgs_prefetch_lines(&e->queues[c->queue], in->type == CR_RGS_EV_HANGUP ? 2 : 1);
        __builtin_prefetch(&e->wfstats[c->wf], 1);
        if (c->qprev >= 0)
            __builtin_prefetch(&e->calls[c->qprev], 1);
        if (c->qnext >= 0)
            __builtin_prefetch(&e->calls[c->qnext], 1);
    } else if (c->state == CS_PROMPT && c->cont == K_QUEUE && c->cont_queue >= 0) {
        __builtin_prefetch(&e->queues[c->cont_queue], 1);
    }
    size_t a = 0;
    int rc;
    switch (in->type) {
    case CR_RGS_EV_DTMF:
    case CR_RGS_EV_SPEECH:
        if (c->state == CS_IVR)
            rgs_ivr_input(e, c,
                          in->type == CR_RGS_EV_DTMF ? CR_RGS_IVR_IN_DTMF : CR_RGS_IVR_IN_SPEECH,
                          in->text ? in->text : "");
        return CR_OK;
    case CR_RGS_EV_PROMPT_DONE:
        return prompt_done(e, c);
    case CR_RGS_EV_ANSWER:
    case CR_RGS_EV_DECLINE:
    case CR_RGS_EV_NO_ANSWER:
        if ((rc = find_agent(e, in->agent, &a, err, errlen)) < 0)
            return rc;
        if (in->type == CR_RGS_EV_ANSWER)
            return rgs_answer(e, c, a, err, errlen);
        if (in->type == CR_RGS_EV_DECLINE)
            return rgs_decline(e, c, a, err, errlen);
        return rgs_no_answer(e, c, a, err, errlen);
    case CR_RGS_EV_HANGUP:
        return caller_hangup(e, c);
    case CR_RGS_EV_AGENT_HANGUP:
        if (c->state != CS_CONNECTED) {
            return rgs_fail(err, errlen, CR_ESTATE, "call '%s' is not connected to an agent",
                            c->id);
        }
        rgs_out_hangup_code(e, c, CR_RGS_HANGUP_AGENT);
        rgs_agent_free(e, (size_t)c->agent);
        rgs_call_delete(e, c);
        return CR_OK;
    default:
        return rgs_fail(err, errlen, CR_EINVAL, "unknown event type %d", (int)in->type);
    }
}

static int handle(cr_rgs_engine *e, const cr_rgs_input *in, char *err, size_t errlen)
{
    size_t a = 0;
    int rc;
    switch (in->type) {
    case CR_RGS_EV_CALL:
        return new_call(e, in, err, errlen);
    case CR_RGS_EV_PRESENCE:
        if ((rc = find_agent(e, in->agent, &a, err, errlen)) < 0)
            return rc;
        return presence(e, a, in->presence, err, errlen);
    case CR_RGS_EV_SIGNIN:
    case CR_RGS_EV_SIGNOUT:
        if ((rc = find_agent(e, in->agent, &a, err, errlen)) < 0)
            return rc;
        if (in->group > e->cfg->ngroups) {
            return rgs_fail(err, errlen, CR_ENOENT, "unknown group handle %u", (unsigned)in->group);
        }
        return sign(e, a, (long)in->group - 1, in->type == CR_RGS_EV_SIGNIN, err, errlen);
    default:
        return call_event(e, in, err, errlen);
    }
}

static void fire(cr_rgs_engine *e, const rgs_timer *t)
{
    rgs_call *c = &e->calls[t->slot];
    switch (t->kind) {
    case T_RING:
        rgs_on_ring_timeout(e, c);
        break;
    case T_TIMEOUT:
        rgs_on_queue_timeout(e, c);
        break;
    case T_GRACE:
        rgs_on_grace(e, c);
        break;
    case T_IVR:
        rgs_ivr_input(e, c, CR_RGS_IVR_IN_TIMER, NULL);
        break;
    }
}

static RGS_HOT __attribute__((noinline)) void run_timers_(cr_rgs_engine *e, int64_t now_ms)
{
    while (rgs_timer_due(e, now_ms)) {
        e->top_live = false;
        rgs_timer t = rgs_timer_pop(e);
        if (!rgs_timer_live(e, &t))
            continue;
        if (t.when > e->now)
            e->now = t.when;
        fire(e, &t);
        rgs_dispatch_pending(e);
    }
    if (now_ms > e->now)
        e->now = now_ms;
    if (e->resume_pending) {
        e->top_live = false;
        e->resume_pending = false;
        rgs_resume(e);
        rgs_dispatch_pending(e);
    }
}

/* Runs the timers due at now_ms and moves the engine's time on. Inline: at nearly every event
 * and poll no timer is due and nothing waits to resume, and then only the time moves. */
static inline void run_timers(cr_rgs_engine *e, int64_t now_ms)
{
    if (rgs_timer_due(e, now_ms) || e->resume_pending)
        run_timers_(e, now_ms);
    else if (now_ms > e->now)
        e->now = now_ms;
}

RGS_HOT int64_t cr_rgs_engine_run(cr_rgs_engine *e, int64_t now_ms, cr_rgs_output_fn out, void *ud)
{
    e->out = out, e->out_ud = ud;
    run_timers(e, now_ms);
    if (e->store) /* (the flush is out of the hot code: an engine without a store skips it) */
        rgs_store_flush(e);
    /* drop dead timers at the top so the deadline is a real one (unless nothing ran since
     * the last drop: a host's poll right after an event, or at a deadline not yet due) */
    if (!e->top_live)
        rgs_timer_drop_dead(e);
    e->out = NULL;
    return cr_rgs_engine_next_deadline(e);
}

RGS_HOT int cr_rgs_engine_input(cr_rgs_engine *e, int64_t at_ms, const cr_rgs_input *in,
                                cr_rgs_output_fn out, void *ud, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen)
        err = dummy, errlen = sizeof dummy;
    err[0] = 0;
    if (!in)
        return CR_EINVAL;
    if (in->type != CR_RGS_EV_PRESENCE && in->type != CR_RGS_EV_SIGNIN &&
        in->type != CR_RGS_EV_SIGNOUT && in->type != CR_RGS_EV_CALL && in->call == 0) {
        return rgs_fail(err, errlen, CR_EINVAL, "call handle 0");
    }
    /* what the event reads first, independent of each other: the call's record when its
     * handle names its slot, else its slot in the handle map; the agent's record */
    if ((in->call & RGS_SLOT_BIT) && (in->call & RGS_SLOT_MASK) < e->ncalls)
        rgs_prefetch_lines(&e->calls[in->call & RGS_SLOT_MASK], sizeof(rgs_call) / 64);
    else if (in->call && e->call_handles.count)
        rgs_imap_prefetch(&e->call_handles, rgs_imap_tag_u64(in->call));
    if (in->agent && in->agent <= e->cfg->nagents)
        rgs_prefetch_lines(&e->agents[in->agent - 1], sizeof(rgs_agent) / 64);
    e->out = out, e->out_ud = ud;
    e->top_live = false; /* the event may change any call */
    run_timers(e, at_ms);
    int rc = handle(e, in, err, errlen);
    rgs_dispatch_pending(e);
    if (e->store && rgs_store_flush(e) < 0 && rc == CR_OK)
        rc = rgs_fail(err, errlen, CR_EIO, "could not write the state directory");
    rgs_timer_drop_dead(e);
    e->out = NULL;
    return rc;
}

/* Read-only views of a running engine: handles and names, per-workflow statistics, calls
 * and agents (for a host's status queries). Nothing here changes the engine's behaviour. */
#include "rgs_engine_int.h"

#include <string.h>

uint32_t cr_rgs_engine_agent_id(const cr_rgs_engine *e, const char *uri)
{
    long a = uri ? cr_rgs_config_agent_find(e->cfg, uri) : -1;
    return a < 0 ? 0 : (uint32_t)a + 1;
}

uint32_t cr_rgs_engine_group_id(const cr_rgs_engine *e, const char *name)
{
    long g = name ? cr_rgs_config_group_find(e->cfg, name) : -1;
    return g < 0 ? 0 : (uint32_t)g + 1;
}

const char *cr_rgs_engine_agent_uri(const cr_rgs_engine *e, uint32_t agent)
{
    return agent && agent <= e->cfg->nagents ? e->cfg->agents[agent - 1].uri : NULL;
}

const char *cr_rgs_engine_group_name(const cr_rgs_engine *e, uint32_t group)
{
    return group && group <= e->cfg->ngroups ? e->cfg->groups[group - 1].name : NULL;
}

uint64_t cr_rgs_engine_call_handle(const cr_rgs_engine *e, const char *call_id)
{
    long s = call_id ? rgs_call_by_id(e, call_id) : -1;
    return s < 0 ? 0 : e->calls[s].handle;
}

const char *cr_rgs_engine_call_id(const cr_rgs_engine *e, uint64_t call)
{
    long s = rgs_call_by_handle(e, call);
    return s < 0 ? NULL : e->calls[s].id;
}

bool cr_rgs_engine_signed_in(const cr_rgs_engine *e, size_t g, size_t pos)
{
    if (g >= e->cfg->ngroups || pos >= e->cfg->groups[g].nagents)
        return false;
    return !e->cfg->groups[g].formal || e->groups[g].signed_in[pos];
}

int cr_rgs_engine_workflow_stats(cr_rgs_engine *e, size_t wf, int64_t now_ms,
                                 cr_rgs_workflow_stats *out)
{
    if (wf >= e->cfg->nworkflows)
        return CR_ENOENT;
    *out = e->wfstats[wf];
    out->offered += e->wfs[wf].offered; /* (the wraps of the line's count are in wfstats) */
    out->waiting = 0;
    out->longest_wait_ms = 0;
    out->agents_signed_in = 0;
    for (size_t s = 0; s < e->ncalls; s++) {
        const rgs_call *c = &e->calls[s];
        if (c->state != CS_QUEUED || c->wf != (long)wf)
            continue;
        out->waiting++;
        if (now_ms - c->enter_ms > out->longest_wait_ms)
            out->longest_wait_ms = now_ms - c->enter_ms;
    }
    long q = e->cfg->workflows[wf].queue;
    if (q < 0)
        return CR_OK;
    /* distinct agents: each is stamped with this query's generation when counted */
    if (++e->seen_gen == 0) {
        memset(e->seen, 0, e->cfg->nagents * sizeof *e->seen);
        e->seen_gen = 1;
    }
    const cr_rgs_queue *cq = &e->cfg->queues[q];
    for (size_t j = 0; j < cq->ngroups; j++) {
        size_t g = cq->groups[j];
        for (size_t p = 0; p < e->cfg->groups[g].nagents; p++) {
            size_t a = e->cfg->groups[g].agents[p];
            if (e->seen[a] == e->seen_gen || !cr_rgs_engine_signed_in(e, g, p))
                continue;
            e->seen[a] = e->seen_gen;
            out->agents_signed_in++;
        }
    }
    return CR_OK;
}

static void call_info(const cr_rgs_engine *e, const rgs_call *c, int64_t now_ms,
                      cr_rgs_call_info *out)
{
    memset(out, 0, sizeof *out);
    out->call = c->handle;
    out->call_id = c->id, out->from = rgs_call_from(c), out->to = rgs_call_to(c);
    out->workflow = c->wf;
    out->queue = c->state == CS_QUEUED ? c->queue : -1;
    out->nringing = c->ring.n;
    switch (c->state) {
    case CS_IVR:
        out->state = CR_RGS_CALL_IVR;
        break;
    case CS_QUEUED:
        out->state = c->ring.n ? CR_RGS_CALL_RINGING : CR_RGS_CALL_WAITING;
        out->waited_ms = now_ms - c->enter_ms;
        break;
    case CS_CONNECTED:
        out->state = CR_RGS_CALL_CONNECTED;
        out->agent = (uint32_t)c->agent + 1;
        break;
    default:
        out->state = CR_RGS_CALL_PROMPT;
        break;
    }
}

void cr_rgs_engine_calls(const cr_rgs_engine *e, long queue, int64_t now_ms,
                         void (*fn)(void *ud, const cr_rgs_call_info *info), void *ud)
{
    cr_rgs_call_info info;
    if (queue >= (long)e->cfg->nqueues)
        return;
    if (queue >= 0) {
        for (long s = e->queues[queue].head; s >= 0; s = e->calls[s].qnext) {
            call_info(e, &e->calls[s], now_ms, &info);
            fn(ud, &info);
        }
        return;
    }
    for (size_t s = 0; s < e->ncalls; s++)
        if (e->calls[s].state != CS_FREE) {
            call_info(e, &e->calls[s], now_ms, &info);
            fn(ud, &info);
        }
}

int cr_rgs_engine_agent_info(const cr_rgs_engine *e, uint32_t agent, cr_rgs_agent_info *out)
{
    if (agent == 0 || agent > e->cfg->nagents)
        return CR_ENOENT;
    const rgs_agent *ag = &e->agents[agent - 1];
    memset(out, 0, sizeof *out);
    out->uri = e->cfg->agents[agent - 1].uri;
    out->presence = ag->presence;
    out->calls = ag->ncalls;
    out->ringing = ag->ringing.n;
    out->answered = ag->answered + ag->answers;
    out->idle_since_ms = ag->idle_since;
    return CR_OK;
}

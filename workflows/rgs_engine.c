/* The engine: lifecycle, timers, calls, workflows (hunt group and IVR) and events. The
 * match making (queues, offers) is in rgs_hunt.c, persistence in rgs_store.c. */
#include "rgs_engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------------------ */

int rgs_vec_push(rgs_vec *v, size_t x)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 4;
        size_t *p = realloc(v->v, ncap * sizeof *p);
        if (!p)
            return -1;
        v->v = p;
        v->cap = ncap;
    }
    v->v[v->n++] = x;
    return 0;
}

void rgs_vec_remove(rgs_vec *v, size_t x)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i] == x) {
            memmove(v->v + i, v->v + i + 1, (v->n - i - 1) * sizeof *v->v);
            v->n--;
            return;
        }
}

bool rgs_vec_has(const rgs_vec *v, size_t x)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i] == x)
            return true;
    return false;
}

/* Appends s[0..n) at buf + o, within len - 1 bytes; returns the new offset. */
static size_t put(char *buf, size_t len, size_t o, const char *s, size_t n)
{
    if (n > len - 1 - o)
        n = len - 1 - o;
    memcpy(buf + o, s, n);
    return o + n;
}

/*
 * Formats the engine's lines: only "%s" and "%.3f" (a double) occur in them, so they are
 * written here directly; anything else goes to vsnprintf. Same output as vsnprintf, at a
 * fraction of its cost (every event formats a few actions and log lines).
 */
static void fmt_line(char *buf, size_t len, const char *fmt, va_list ap)
{
    va_list ap0;
    va_copy(ap0, ap);
    size_t o = 0;
    for (const char *f = fmt; *f;) {
        const char *pc = strchr(f, '%');
        if (!pc) {
            o = put(buf, len, o, f, strlen(f));
            break;
        }
        o = put(buf, len, o, f, (size_t)(pc - f));
        if (pc[1] == 's') {
            const char *str = va_arg(ap, const char *);
            o = put(buf, len, o, str, strlen(str));
            f = pc + 2;
        } else if (pc[1] == '.' && pc[2] == '3' && pc[3] == 'f') {
            double v = va_arg(ap, double);
            bool neg = v < 0;
            /* milliseconds: the callers pass ms / 1000.0, which this recovers exactly */
            uint64_t m = (uint64_t)((neg ? -v : v) * 1000.0 + 0.5), w = m / 1000;
            char num[32], *d = num + sizeof num;
            for (int i = 0; i < 3; i++, m /= 10)
                *--d = (char)('0' + m % 10);
            *--d = '.';
            do
                *--d = (char)('0' + w % 10);
            while (w /= 10);
            if (neg)
                *--d = '-';
            o = put(buf, len, o, d, (size_t)(num + sizeof num - d));
            f = pc + 4;
        } else {
            vsnprintf(buf, len, fmt, ap0);
            va_end(ap0);
            return;
        }
    }
    buf[o] = 0;
    va_end(ap0);
}

void rgs_emitf(cr_rgs_engine *e, const rgs_call *c, const char *action, const char *fmt, ...)
{
    if (!e->emit)
        return;
    char buf[4096];
    const char *args = "";
    va_list ap;
    va_start(ap, fmt);
    if (!fmt)
        args = "";
    else if (!strchr(fmt, '%'))
        args = fmt;
    else if (strcmp(fmt, "%s") == 0)
        args = va_arg(ap, const char *);
    else
        fmt_line(buf, sizeof buf, fmt, ap), args = buf;
    va_end(ap);
    e->emit(e->emit_ud, e->now, c ? c->id : "-", action, args);
}

void cr_rgs_engine_set_log(cr_rgs_engine *e, cr_rgs_log_fn fn, void *ud)
{
    e->opt.log = fn;
    e->opt.log_ud = ud;
}

void rgs_logf(cr_rgs_engine *e, const char *fmt, ...)
{
    if (!e->opt.log)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    fmt_line(line, sizeof line, fmt, ap);
    va_end(ap);
    e->opt.log(e->opt.log_ud, e->now, line);
}

void rgs_mark_agent(cr_rgs_engine *e, size_t a)
{
    if (e->store && !e->agents[a].dirty) {
        e->agents[a].dirty = true;
        rgs_vec_push(&e->dirty_agents, a);
    }
}

void rgs_mark_group(cr_rgs_engine *e, size_t g)
{
    if (e->store && !e->groups[g].dirty) {
        e->groups[g].dirty = true;
        rgs_vec_push(&e->dirty_groups, g);
    }
}

void rgs_mark_call(cr_rgs_engine *e, const rgs_call *c)
{
    if (!e->store)
        return;
    if (e->ndirty_calls == e->capdirty_calls) {
        size_t ncap = e->capdirty_calls ? e->capdirty_calls * 2 : 16;
        char **p = realloc(e->dirty_calls, ncap * sizeof *p);
        if (!p)
            return;
        e->dirty_calls = p;
        e->capdirty_calls = ncap;
    }
    char *id = strdup(c->id);
    if (id)
        e->dirty_calls[e->ndirty_calls++] = id;
}

/*
 * Timers: a binary heap ordered by (when, insertion order). Each timer has a handle (its
 * position in the heap is hpos[handle]) so that a call's ring, queue-timeout and IVR timers
 * leave the heap as soon as they are superseded (rgs_timer_cancel): the heap then holds the
 * live timers only (plus grace timers, dropped when due), not every offer and queue entry of
 * the last timeout period, and stays small. A timer is still checked when it comes due
 * (timer_live), so a cancel that is missed costs memory, not behaviour.
 */

static bool timer_less(const rgs_timer *a, const rgs_timer *b)
{
    return a->when < b->when || (a->when == b->when && a->order < b->order);
}

static void heap_put(cr_rgs_engine *e, size_t i, const rgs_timer *t)
{
    e->heap[i] = *t;
    e->hpos[t->h] = (uint32_t)i;
}

static void sift_up(cr_rgs_engine *e, size_t i, rgs_timer t)
{
    while (i > 0 && timer_less(&t, &e->heap[(i - 1) / 2])) {
        heap_put(e, i, &e->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_put(e, i, &t);
}

static void sift_down(cr_rgs_engine *e, size_t i, rgs_timer t)
{
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= e->nheap)
            break;
        size_t m = (l + 1 < e->nheap && timer_less(&e->heap[l + 1], &e->heap[l])) ? l + 1 : l;
        if (!timer_less(&e->heap[m], &t))
            break;
        heap_put(e, i, &e->heap[m]);
        i = m;
    }
    heap_put(e, i, &t);
}

/* Takes the timer at heap position i out and frees its handle. */
static rgs_timer heap_remove(cr_rgs_engine *e, size_t i)
{
    rgs_timer t = e->heap[i], last = e->heap[--e->nheap];
    if (i < e->nheap) {
        if (i > 0 && timer_less(&last, &e->heap[(i - 1) / 2]))
            sift_up(e, i, last);
        else
            sift_down(e, i, last);
    }
    if (t.h && e->nhfree < e->caphfree)
        e->hfree[e->nhfree++] = t.h;
    return t;
}

/* A free handle, or 0 (untracked: hpos[0] is a sink) when out of memory. */
static uint32_t handle_new(cr_rgs_engine *e)
{
    if (e->nhfree)
        return e->hfree[--e->nhfree];
    if (e->nh == e->caph) {
        size_t ncap = e->caph ? e->caph * 2 : 64;
        uint32_t *p = realloc(e->hpos, ncap * sizeof *p);
        uint32_t *f = realloc(e->hfree, ncap * sizeof *f);
        if (p)
            e->hpos = p;
        if (f)
            e->hfree = f;
        if (!p || !f)
            return 0;
        e->caph = e->caphfree = ncap;
        if (e->nh == 0)
            e->nh = 1; /* handle 0: the sink */
    }
    return e->nh++;
}

uint32_t rgs_timer_add(cr_rgs_engine *e, int64_t when, size_t slot, int kind, uint32_t tok)
{
    if (e->nheap == e->capheap) {
        size_t ncap = e->capheap ? e->capheap * 2 : 64;
        rgs_timer *p = realloc(e->heap, ncap * sizeof *p);
        if (!p)
            return 0;
        e->heap = p;
        e->capheap = ncap;
    }
    uint32_t h = handle_new(e);
    if (!e->hpos)
        return 0;
    rgs_timer t = {when, e->timer_order++, slot, e->calls[slot].serial, kind, tok, h};
    e->nheap++;
    sift_up(e, e->nheap - 1, t);
    return h;
}

void rgs_timer_cancel(cr_rgs_engine *e, uint32_t *h)
{
    if (*h) {
        heap_remove(e, e->hpos[*h]);
        *h = 0;
    }
}

/* Pops the earliest timer; the call no longer refers to it. */
static rgs_timer timer_pop(cr_rgs_engine *e)
{
    rgs_timer t = heap_remove(e, 0);
    if (t.h) {
        rgs_call *c = &e->calls[t.slot];
        if (c->th_ring == t.h)
            c->th_ring = 0;
        if (c->th_timeout == t.h)
            c->th_timeout = 0;
        if (c->th_ivr == t.h)
            c->th_ivr = 0;
    }
    return t;
}

/* A timer whose call is gone or whose token changed is dropped. */
static bool timer_live(const cr_rgs_engine *e, const rgs_timer *t)
{
    const rgs_call *c = &e->calls[t->slot];
    if (c->state == CS_FREE || c->serial != t->serial)
        return false;
    switch (t->kind) {
    case T_RING:
        return c->state == CS_QUEUED && c->tok_ring == t->tok && c->ring.n > 0;
    case T_TIMEOUT:
        return c->state == CS_QUEUED && c->tok_timeout == t->tok;
    case T_IVR:
        return c->state == CS_IVR && c->tok_ivr == t->tok;
    default:
        return c->state == CS_QUEUED;
    }
}

int64_t cr_rgs_engine_next_deadline(const cr_rgs_engine *e)
{
    return e->nheap ? e->heap[0].when : -1;
}

/* ---- calls --------------------------------------------------------------------------------- */

long rgs_call_new(cr_rgs_engine *e, const char *id, const char *from, const char *to, long wf)
{
    long s = e->free_calls;
    if (s >= 0) {
        e->free_calls = e->calls[s].next_free;
    } else {
        if (e->ncalls == e->capcalls) {
            size_t ncap = e->capcalls ? e->capcalls * 2 : 64;
            rgs_call *p = realloc(e->calls, ncap * sizeof *p);
            if (!p)
                return -1;
            e->calls = p;
            e->capcalls = ncap;
        }
        s = (long)e->ncalls++;
        memset(&e->calls[s], 0, sizeof e->calls[s]);
    }
    rgs_call *c = &e->calls[s];
    rgs_vec tried = c->tried, ring = c->ring;
    rgs_decline_entry *dec = c->declines;
    size_t capdec = c->capdeclines;
    memset(c, 0, sizeof *c);
    tried.n = ring.n = 0;
    c->tried = tried, c->ring = ring, c->declines = dec, c->capdeclines = capdec;
    c->serial = ++e->next_serial;
    c->id = strdup(id);
    c->from = strdup(from ? from : "");
    c->to = strdup(to ? to : "");
    if (!c->id || !c->from || !c->to || rgs_map_put(&e->call_ids, c->id, s) < 0) {
        free(c->id), free(c->from), free(c->to);
        c->next_free = e->free_calls;
        e->free_calls = s;
        return -1;
    }
    c->state = CS_PROMPT;
    c->wf = wf;
    c->queue = c->ring_group = c->agent = c->cont_queue = -1;
    c->qprev = c->qnext = -1;
    return s;
}

static void ivr_end(cr_rgs_engine *e, rgs_call *c)
{
    if (c->ivr_live && e->opt.ivr && e->opt.ivr->end)
        e->opt.ivr->end(e->opt.ivr->ud, c->ivr_state);
    c->ivr_live = false;
}

void rgs_call_delete(cr_rgs_engine *e, rgs_call *c)
{
    ivr_end(e, c);
    rgs_mark_call(e, c);
    rgs_map_del(&e->call_ids, c->id);
    rgs_timer_cancel(e, &c->th_ring);
    rgs_timer_cancel(e, &c->th_timeout);
    rgs_timer_cancel(e, &c->th_ivr);
    free(c->id), free(c->from), free(c->to), free(c->cont_arg);
    c->id = c->from = c->to = c->cont_arg = NULL;
    c->state = CS_FREE;
    c->serial = ++e->next_serial;
    long s = c - e->calls;
    c->next_free = e->free_calls;
    e->free_calls = s;
}

static void play(cr_rgs_engine *e, rgs_call *c, const char *prompt, rgs_cont k, long q,
                 const char *arg)
{
    if (!c->answered) {
        rgs_emitf(e, c, "answer", NULL);
        c->answered = true;
    }
    rgs_emitf(e, c, "play", "%s", prompt);
    c->on_moh = false;
    c->state = CS_PROMPT;
    c->cont = k;
    c->cont_queue = q;
    free(c->cont_arg);
    c->cont_arg = arg ? strdup(arg) : NULL;
}

/* Runs what follows a prompt (or the action itself when there is no prompt). */
static void finish(cr_rgs_engine *e, rgs_call *c, rgs_cont k, long q, const char *arg)
{
    switch (k) {
    case K_QUEUE:
        rgs_queue_enter(e, c, q);
        return;
    case K_TRANSFER:
        rgs_emitf(e, c, "transfer", "%s", arg ? arg : "");
        break;
    case K_VOICEMAIL:
        rgs_emitf(e, c, "voicemail", "%s", arg ? arg : "");
        break;
    default:
        rgs_emitf(e, c, "hangup", "%s", arg ? arg : "disconnect");
        break;
    }
    rgs_call_delete(e, c);
}

/* Carries out a configured action (timeout, overflow, after hours, holiday) on a call that
 * is in no queue. `reason` is the hang-up reason of a disconnect. */
void rgs_perform(cr_rgs_engine *e, rgs_call *c, const cr_rgs_action *a, const char *reason)
{
    rgs_cont k;
    const char *arg = a->target;
    switch (a->kind) {
    case CR_RGS_ACT_FORWARD:
        k = K_TRANSFER;
        break;
    case CR_RGS_ACT_VOICEMAIL:
        k = K_VOICEMAIL;
        break;
    case CR_RGS_ACT_QUEUE:
        k = K_QUEUE;
        break;
    default:
        k = K_HANGUP;
        arg = reason;
        break;
    }
    if (a->prompt)
        play(e, c, a->prompt, k, a->queue, arg);
    else
        finish(e, c, k, a->queue, arg);
}

/* ---- IVR ----------------------------------------------------------------------------------- */

static void ivr_apply(cr_rgs_engine *e, rgs_call *c, int rc, const cr_rgs_ivr_step *st)
{
    if (rc < 0) {
        rgs_emitf(e, c, "hangup", "ivr_error");
        rgs_call_delete(e, c);
        return;
    }
    c->tok_ivr++;
    rgs_timer_cancel(e, &c->th_ivr);
    c->ivr_op = st->op;
    c->ivr_after_prompt = 0;
    size_t slot = (size_t)(c - e->calls);
    switch (st->op) {
    case CR_RGS_IVR_WAIT:
        if (st->timer_ms > 0)
            c->th_ivr = rgs_timer_add(e, e->now + st->timer_ms, slot, T_IVR, c->tok_ivr);
        return;
    case CR_RGS_IVR_PLAY:
        rgs_emitf(e, c, "play", "%s", st->arg);
        c->on_moh = false;
        return;
    case CR_RGS_IVR_COLLECT:
        if (st->arg[0]) {
            rgs_emitf(e, c, "play", "%s", st->arg);
            c->on_moh = false;
            c->ivr_after_prompt = st->timer_ms;
        } else if (st->timer_ms > 0) {
            c->th_ivr = rgs_timer_add(e, e->now + st->timer_ms, slot, T_IVR, c->tok_ivr);
        }
        rgs_emitf(e, c, "collect", "%s", st->choices);
        return;
    case CR_RGS_IVR_QUEUE: {
        ivr_end(e, c);
        long q = cr_rgs_config_queue_find(e->cfg, st->arg);
        if (q < 0) {
            rgs_emitf(e, c, "hangup", "no_queue");
            rgs_call_delete(e, c);
        } else {
            rgs_queue_enter(e, c, q);
        }
        return;
    }
    case CR_RGS_IVR_TRANSFER:
        rgs_emitf(e, c, "transfer", "%s", st->arg);
        break;
    case CR_RGS_IVR_VOICEMAIL:
        rgs_emitf(e, c, "voicemail", "%s", st->arg);
        break;
    default:
        rgs_emitf(e, c, "hangup", "%s", st->arg[0] ? st->arg : "ivr");
        break;
    }
    rgs_call_delete(e, c);
}

static void ivr_input(cr_rgs_engine *e, rgs_call *c, cr_rgs_ivr_input_kind kind, const char *text)
{
    cr_rgs_ivr_step st;
    memset(&st, 0, sizeof st);
    int rc = e->opt.ivr->input(e->opt.ivr->ud, c->ivr_state, kind, text, e->now,
                               e->opt.start_unix_ms + e->now, &st);
    ivr_apply(e, c, rc, &st);
}

static void ivr_start(cr_rgs_engine *e, rgs_call *c)
{
    const cr_rgs_ivr_driver *d = e->opt.ivr;
    if (!d || !d->start || !d->input) {
        rgs_emitf(e, c, "hangup", "no_ivr");
        rgs_call_delete(e, c);
        return;
    }
    rgs_emitf(e, c, "answer", NULL);
    c->answered = true;
    c->state = CS_IVR;
    cr_rgs_ivr_call info = {c->id,
                            c->from,
                            c->to,
                            e->cfg,
                            &e->cfg->workflows[c->wf],
                            e->now,
                            e->opt.start_unix_ms + e->now};
    cr_rgs_ivr_step st;
    memset(&st, 0, sizeof st);
    int rc = d->start(d->ud, &info, &c->ivr_state, &st);
    c->ivr_live = rc >= 0;
    ivr_apply(e, c, rc, &st);
}

/* ---- events -------------------------------------------------------------------------------- */

static void call_arrives(cr_rgs_engine *e, rgs_call *c)
{
    const cr_rgs_workflow *wf = &e->cfg->workflows[c->wf];
    if (!wf->active) {
        rgs_emitf(e, c, "hangup", "inactive");
        rgs_call_delete(e, c);
        return;
    }
    switch (cr_rgs_workflow_state(e->cfg, wf, e->opt.start_unix_ms + e->now)) {
    case CR_RGS_HOLIDAY:
        rgs_perform(e, c, &wf->holiday_action, "holiday");
        return;
    case CR_RGS_AFTER_HOURS:
        rgs_perform(e, c, &wf->after_hours, "after_hours");
        return;
    default:
        break;
    }
    if (wf->type == CR_RGS_IVR) {
        ivr_start(e, c);
        return;
    }
    rgs_emitf(e, c, "answer", NULL);
    c->answered = true;
    if (wf->welcome)
        play(e, c, wf->welcome, K_QUEUE, wf->queue, NULL);
    else
        rgs_queue_enter(e, c, wf->queue);
}

static int find_call(cr_rgs_engine *e, const char *id, rgs_call **out, char *err, size_t errlen)
{
    long s = rgs_map_get(&e->call_ids, id);
    if (s < 0) {
        snprintf(err, errlen, "unknown call '%s'", id);
        return CR_ENOENT;
    }
    *out = &e->calls[s];
    return CR_OK;
}

static int find_agent(cr_rgs_engine *e, const char *uri, size_t *out, char *err, size_t errlen)
{
    long a = cr_rgs_config_agent_find(e->cfg, uri);
    if (a < 0) {
        snprintf(err, errlen, "unknown agent '%s'", uri);
        return CR_ENOENT;
    }
    *out = (size_t)a;
    return CR_OK;
}

static int sign(cr_rgs_engine *e, size_t a, const char *group, bool in, char *err, size_t errlen)
{
    rgs_agent *ag = &e->agents[a];
    bool found = false, changed = false;
    for (size_t i = 0; i < ag->ngroups; i++) {
        const cr_rgs_group *g = &e->cfg->groups[ag->groups[i].group];
        if (group && strcmp(g->name, group) != 0)
            continue;
        found = true;
        bool *s = &e->groups[ag->groups[i].group].signed_in[ag->groups[i].pos];
        if (!g->formal || *s == in)
            continue;
        *s = in;
        changed = true;
        rgs_mark_group(e, ag->groups[i].group);
        rgs_logf(e, "%s agent=%s group=\"%s\"", in ? "signin" : "signout", e->cfg->agents[a].uri,
                 g->name);
    }
    if (group && !found) {
        snprintf(err, errlen, "agent '%s' is not in group '%s'", e->cfg->agents[a].uri, group);
        return CR_ENOENT;
    }
    if (changed && in && ag->ncalls == 0)
        ag->idle_since = e->now;
    if (changed && !in)
        rgs_withdraw(e, a, false);
    if (changed)
        rgs_mark_agent(e, a);
    if (changed)
        rgs_vec_push(&e->pending, a);
    return CR_OK;
}

static int presence(cr_rgs_engine *e, size_t a, const char *state)
{
    static const char *names[] = {"available", "busy", "away", "dnd", "offline"};
    int p = 0;
    while (p < 4 && strcmp(names[p], state) != 0)
        p++;
    rgs_agent *ag = &e->agents[a];
    if (p == ag->presence)
        return CR_OK;
    if (p == P_AVAILABLE && ag->ncalls == 0)
        ag->idle_since = e->now;
    ag->presence = p;
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
        rgs_queue_leave(e, c);
    } else if (c->state == CS_CONNECTED) {
        rgs_agent_free(e, (size_t)c->agent);
    }
    rgs_call_delete(e, c);
    return CR_OK;
}

static int handle(cr_rgs_engine *e, const cr_rgs_event *ev, char *err, size_t errlen)
{
    rgs_call *c = NULL;
    size_t a = 0;
    int rc;
    switch (ev->type) {
    case CR_RGS_EV_CALL: {
        if (rgs_map_get(&e->call_ids, ev->a) >= 0) {
            snprintf(err, errlen, "call '%s' already exists", ev->a);
            return CR_ESTATE;
        }
        long wf = cr_rgs_config_workflow_find(e->cfg, ev->c);
        if (wf < 0) {
            rgs_call tmp = {.id = (char *)ev->a};
            rgs_emitf(e, &tmp, "hangup", "not_found");
            return CR_OK;
        }
        long s = rgs_call_new(e, ev->a, ev->b, ev->c, wf);
        if (s < 0)
            return CR_ENOMEM;
        call_arrives(e, &e->calls[s]);
        return CR_OK;
    }
    case CR_RGS_EV_PRESENCE:
        if ((rc = find_agent(e, ev->a, &a, err, errlen)) < 0)
            return rc;
        return presence(e, a, ev->b);
    case CR_RGS_EV_SIGNIN:
    case CR_RGS_EV_SIGNOUT:
        if ((rc = find_agent(e, ev->a, &a, err, errlen)) < 0)
            return rc;
        return sign(e, a, ev->b, ev->type == CR_RGS_EV_SIGNIN, err, errlen);
    default:
        break;
    }
    if ((rc = find_call(e, ev->a, &c, err, errlen)) < 0)
        return rc;
    switch (ev->type) {
    case CR_RGS_EV_DTMF:
    case CR_RGS_EV_SPEECH:
        if (c->state == CS_IVR)
            ivr_input(e, c, ev->type == CR_RGS_EV_DTMF ? CR_RGS_IVR_IN_DTMF : CR_RGS_IVR_IN_SPEECH,
                      ev->b);
        return CR_OK;
    case CR_RGS_EV_PROMPT_DONE:
        if (c->state == CS_PROMPT) {
            finish(e, c, c->cont, c->cont_queue, c->cont_arg);
        } else if (c->state == CS_IVR && c->ivr_op == CR_RGS_IVR_PLAY) {
            ivr_input(e, c, CR_RGS_IVR_IN_PROMPT_DONE, NULL);
        } else if (c->state == CS_IVR && c->ivr_op == CR_RGS_IVR_COLLECT &&
                   c->ivr_after_prompt > 0) {
            rgs_timer_cancel(e, &c->th_ivr);
            c->th_ivr = rgs_timer_add(e, e->now + c->ivr_after_prompt, (size_t)(c - e->calls),
                                      T_IVR, c->tok_ivr);
            c->ivr_after_prompt = 0;
        }
        return CR_OK;
    case CR_RGS_EV_ANSWER:
    case CR_RGS_EV_DECLINE:
        if ((rc = find_agent(e, ev->b, &a, err, errlen)) < 0)
            return rc;
        return ev->type == CR_RGS_EV_ANSWER ? rgs_answer(e, c, a, err, errlen)
                                            : rgs_decline(e, c, a, err, errlen);
    case CR_RGS_EV_HANGUP:
        return caller_hangup(e, c);
    case CR_RGS_EV_AGENT_HANGUP:
        if (c->state != CS_CONNECTED) {
            snprintf(err, errlen, "call '%s' is not connected to an agent", c->id);
            return CR_ESTATE;
        }
        rgs_emitf(e, c, "hangup", "agent");
        rgs_agent_free(e, (size_t)c->agent);
        rgs_call_delete(e, c);
        return CR_OK;
    default:
        return CR_EINVAL;
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
        ivr_input(e, c, CR_RGS_IVR_IN_TIMER, NULL);
        break;
    }
}

static void run_timers(cr_rgs_engine *e, int64_t now_ms)
{
    while (e->nheap && e->heap[0].when <= now_ms) {
        rgs_timer t = timer_pop(e);
        if (!timer_live(e, &t))
            continue;
        if (t.when > e->now)
            e->now = t.when;
        fire(e, &t);
        rgs_dispatch_pending(e);
    }
    if (now_ms > e->now)
        e->now = now_ms;
    if (e->resume_pending) {
        e->resume_pending = false;
        rgs_resume(e);
        rgs_dispatch_pending(e);
    }
}

int64_t cr_rgs_engine_advance(cr_rgs_engine *e, int64_t now_ms, cr_rgs_emit_fn emit, void *ud)
{
    e->emit = emit, e->emit_ud = ud;
    run_timers(e, now_ms);
    rgs_store_flush(e);
    /* drop dead timers at the top so the deadline is a real one */
    while (e->nheap && !timer_live(e, &e->heap[0]))
        timer_pop(e);
    return cr_rgs_engine_next_deadline(e);
}

int cr_rgs_engine_event(cr_rgs_engine *e, int64_t at_ms, const cr_rgs_event *ev,
                        cr_rgs_emit_fn emit, void *ud, char *err, size_t errlen)
{
    char dummy[8];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    err[0] = 0;
    e->emit = emit, e->emit_ud = ud;
    run_timers(e, at_ms);
    int rc = handle(e, ev, err, errlen);
    rgs_dispatch_pending(e);
    if (rgs_store_flush(e) < 0 && rc == CR_OK) {
        snprintf(err, errlen, "could not write the state directory");
        rc = CR_EIO;
    }
    while (e->nheap && !timer_live(e, &e->heap[0]))
        timer_pop(e);
    return rc;
}

/* ---- open / close / stats --------------------------------------------------------------- */

static int build(cr_rgs_engine *e)
{
    const cr_rgs_config *cfg = e->cfg;
    e->agents = calloc(cfg->nagents ? cfg->nagents : 1, sizeof *e->agents);
    e->groups = calloc(cfg->ngroups ? cfg->ngroups : 1, sizeof *e->groups);
    e->queues = calloc(cfg->nqueues ? cfg->nqueues : 1, sizeof *e->queues);
    if (!e->agents || !e->groups || !e->queues)
        return CR_ENOMEM;
    /* memberships: count, then fill */
    for (size_t g = 0; g < cfg->ngroups; g++) {
        e->groups[g].rr_last = -1;
        if (!(e->groups[g].signed_in = calloc(cfg->groups[g].nagents + 1, sizeof(bool))))
            return CR_ENOMEM;
        for (size_t i = 0; i < cfg->groups[g].nagents; i++)
            e->agents[cfg->groups[g].agents[i]].ngroups++;
    }
    for (size_t a = 0; a < cfg->nagents; a++) {
        e->agents[a].groups = calloc(e->agents[a].ngroups + 1, sizeof(rgs_member));
        if (!e->agents[a].groups)
            return CR_ENOMEM;
        e->agents[a].ngroups = 0;
    }
    for (size_t g = 0; g < cfg->ngroups; g++)
        for (size_t i = 0; i < cfg->groups[g].nagents; i++) {
            rgs_agent *ag = &e->agents[cfg->groups[g].agents[i]];
            ag->groups[ag->ngroups++] = (rgs_member){g, i};
            if (cfg->groups[g].routing == CR_RGS_ATTENDANT)
                ag->attendant = true;
        }
    /* queues reaching each agent (each queue once per agent, in queue order) */
    for (size_t q = 0; q < cfg->nqueues; q++) {
        e->queues[q].head = e->queues[q].tail = -1;
        for (size_t j = 0; j < cfg->queues[q].ngroups; j++) {
            const cr_rgs_group *g = &cfg->groups[cfg->queues[q].groups[j]];
            if (g->nagents)
                e->queues[q].has_agents = true;
            for (size_t i = 0; i < g->nagents; i++) {
                rgs_agent *ag = &e->agents[g->agents[i]];
                if (ag->nqueues && ag->queues[ag->nqueues - 1] == q)
                    continue;
                size_t *p = realloc(ag->queues, (ag->nqueues + 1) * sizeof *p);
                if (!p)
                    return CR_ENOMEM;
                ag->queues = p;
                ag->queues[ag->nqueues++] = q;
            }
        }
    }
    return CR_OK;
}

int cr_rgs_engine_open(const cr_rgs_config *cfg, const cr_rgs_engine_options *opts,
                       cr_rgs_engine **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->resolved) {
        snprintf(err, errlen, "configuration not resolved");
        return CR_EINVAL;
    }
    cr_rgs_engine *e = calloc(1, sizeof *e);
    if (!e)
        return CR_ENOMEM;
    e->cfg = cfg;
    if (opts)
        e->opt = *opts;
    e->free_calls = -1;
    int rc = build(e);
    if (rc == CR_OK && e->opt.state_dir)
        rc = rgs_store_open(e, e->opt.state_dir, err, errlen);
    if (rc < 0) {
        if (rc == CR_ENOMEM)
            snprintf(err, errlen, "out of memory");
        cr_rgs_engine_close(e);
        return rc;
    }
    *out = e;
    return CR_OK;
}

void cr_rgs_engine_close(cr_rgs_engine *e)
{
    if (!e)
        return;
    rgs_store_close(e);
    for (size_t s = 0; s < e->ncalls; s++) {
        rgs_call *c = &e->calls[s];
        if (c->state != CS_FREE) {
            ivr_end(e, c);
            free(c->id), free(c->from), free(c->to), free(c->cont_arg);
        }
        free(c->tried.v), free(c->ring.v), free(c->declines);
    }
    if (e->agents)
        for (size_t a = 0; a < e->cfg->nagents; a++) {
            free(e->agents[a].ringing.v);
            free(e->agents[a].groups);
            free(e->agents[a].queues);
        }
    if (e->groups)
        for (size_t g = 0; g < e->cfg->ngroups; g++)
            free(e->groups[g].signed_in);
    for (size_t i = 0; i < e->ndirty_calls; i++)
        free(e->dirty_calls[i]);
    free(e->dirty_calls), free(e->dirty_agents.v), free(e->dirty_groups.v);
    free(e->pending.v);
    free(e->agents), free(e->groups), free(e->queues), free(e->calls), free(e->heap);
    free(e->hpos), free(e->hfree);
    rgs_map_free(&e->call_ids);
    free(e);
}

int cr_rgs_engine_queue_stats(const cr_rgs_engine *e, size_t queue, int64_t now_ms,
                              cr_rgs_queue_stats *out)
{
    if (queue >= e->cfg->nqueues)
        return CR_ENOENT;
    const rgs_queue *q = &e->queues[queue];
    memset(out, 0, sizeof *out);
    out->entered = q->entered, out->answered = q->answered, out->abandoned = q->abandoned;
    out->timeouts = q->timeouts, out->overflows = q->overflows, out->waiting = q->count;
    out->longest_wait_ms = q->longest_wait;
    if (q->head >= 0 && now_ms - e->calls[q->head].enter_ms > out->longest_wait_ms)
        out->longest_wait_ms = now_ms - e->calls[q->head].enter_ms;
    out->average_wait_ms = q->answered ? q->answered_wait / (int64_t)q->answered : 0;
    return CR_OK;
}

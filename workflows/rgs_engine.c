/* The engine: lifecycle, timers, calls, workflows (hunt group and IVR) and events. The
 * match making (queues, offers) is in rgs_hunt.c, persistence in rgs_store.c. */
#include "rgs_engine_int.h"
#include "cr_grow.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------------------ */

int rgs_vec_push_grow(rgs_vec *v, size_t x)
{
    if (!CR_GROW(v->v, v->n, v->cap))
        return -1;
    v->v[v->n++] = x;
    return 0;
}

int rgs_svec_push_grow(rgs_svec *v, uint32_t x)
{
    bool inl = v->cap <= RGS_SVEC_INLINE;
    uint32_t cap = inl ? RGS_SVEC_INLINE : v->cap;
    if (v->n < cap) {
        rgs_svec_items(v)[v->n++] = x;
        return 0;
    }
    if (cap > UINT32_MAX / 2)
        return -1;
    uint32_t *p = inl ? malloc(2 * cap * sizeof *p) : realloc(v->u.heap, 2 * cap * sizeof *p);
    if (!p)
        return -1;
    if (inl)
        memcpy(p, v->u.in, v->n * sizeof *p);
    v->u.heap = p;
    v->cap = 2 * cap;
    p[v->n++] = x;
    return 0;
}

void rgs_svec_free(rgs_svec *v)
{
    if (v->cap > RGS_SVEC_INLINE)
        free(v->u.heap);
    memset(v, 0, sizeof *v);
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

static const char *const reasons[] = {
    "",          "not_found", "inactive", "holiday",    "after_hours",
    "no_agents", "timeout",   "overflow", "agent",      "no_ivr",
    "ivr_error", "no_queue",  "loop",     "disconnect", "",
};

const char *cr_rgs_reason_name(cr_rgs_reason reason)
{
    return (unsigned)reason < sizeof reasons / sizeof *reasons ? reasons[reason] : "";
}

static void out(cr_rgs_engine *e, const rgs_call *c, cr_rgs_output *o)
{
    o->call = c->handle;
    o->call_id = c->id;
    if (!o->arg)
        o->arg = "";
    e->out(e->out_ud, e->now, o);
}

RGS_HOT void rgs_out(cr_rgs_engine *e, const rgs_call *c, cr_rgs_out_type type, const char *arg)
{
    if (!e->out)
        return;
    cr_rgs_output o = {.type = type, .arg = arg};
    out(e, c, &o);
}

/* Emits the agents' handles (index + 1), written into h (room for n). */
static inline __attribute__((always_inline)) void out_handles(cr_rgs_engine *e, const rgs_call *c,
                                                              cr_rgs_out_type type,
                                                              const uint32_t *agents, size_t n,
                                                              uint32_t *h)
{
    for (size_t i = 0; i < n; i++)
        h[i] = agents[i] + 1;
    cr_rgs_output o = {.type = type, .agents = h, .nagents = n};
    out(e, c, &o);
}

/* rgs_out_agents for a long list (a parallel ring may name hundreds): the handles on the
 * heap. */
static __attribute__((noinline)) void out_agents_long(cr_rgs_engine *e, const rgs_call *c,
                                                      cr_rgs_out_type type, const uint32_t *agents,
                                                      size_t n)
{
    uint32_t *h = malloc(n * sizeof *h);
    if (!h)
        return;
    out_handles(e, c, type, agents, n, h);
    free(h);
}

RGS_HOT void rgs_out_agents(cr_rgs_engine *e, const rgs_call *c, cr_rgs_out_type type,
                            const uint32_t *agents, size_t n)
{
    if (!e->out)
        return;
    /* The usual list (one to a few agents) in a small buffer, and nothing to do after the
     * callback: the function then saves no registers (with a 1 KB buffer and its free, it
     * saved six and their restores cost as much as the copy). */
    enum { SHORT = 16 };
    if (n > SHORT) {
        out_agents_long(e, c, type, agents, n);
        return;
    }
    uint32_t h[SHORT];
    out_handles(e, c, type, agents, n, h);
}

RGS_HOT void rgs_out_hangup_code(cr_rgs_engine *e, const rgs_call *c, cr_rgs_reason reason)
{
    if (!e->out)
        return;
    cr_rgs_output o = {.type = CR_RGS_OUT_HANGUP, .arg = reasons[reason], .reason = reason};
    out(e, c, &o);
}

void rgs_out_hangup(cr_rgs_engine *e, const rgs_call *c, const char *reason)
{
    if (!e->out)
        return;
    cr_rgs_output o = {.type = CR_RGS_OUT_HANGUP, .arg = reason, .reason = CR_RGS_HANGUP_IVR};
    for (size_t i = 1; i + 1 < sizeof reasons / sizeof *reasons; i++)
        if (reasons[i][0] == reason[0] && strcmp(reasons[i], reason) == 0)
            o.reason = (cr_rgs_reason)i;
    out(e, c, &o);
}

void cr_rgs_engine_set_log(cr_rgs_engine *e, cr_rgs_log_fn fn, void *ud)
{
    e->opt.log = fn;
    e->opt.log_ud = ud;
}

int rgs_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

void rgs_logf_(cr_rgs_engine *e, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    fmt_line(line, sizeof line, fmt, ap);
    va_end(ap);
    e->opt.log(e->opt.log_ud, e->now, line);
}

/* (the rgs_mark_* wrappers, rgs_engine_int.h, call these only with a store) */
RGS_HOT void rgs_mark_agent_(cr_rgs_engine *e, size_t a)
{
    if (!e->agents[a].dirty) {
        e->agents[a].dirty = true;
        rgs_vec_push(&e->dirty_agents, a);
    }
}

RGS_HOT void rgs_mark_group_(cr_rgs_engine *e, size_t g)
{
    if (!e->groups[g].dirty) {
        e->groups[g].dirty = true;
        rgs_vec_push(&e->dirty_groups, g);
    }
}

RGS_HOT void rgs_mark_call_(cr_rgs_engine *e, const rgs_call *c)
{
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

RGS_HOT void rgs_set_signed_in(cr_rgs_engine *e, size_t a, size_t i, bool in)
{
    rgs_member *m = &e->agents[a].groups[i];
    m->signed_in = in;
    m->need = rgs_member_need(m);
    e->groups[m->group].signed_in[m->pos] = in;
}

/* ---- calls --------------------------------------------------------------------------------- */

/* A new chunk of the string pool, its pieces all free; false when out of memory. */
static RGS_COLD bool str_chunk_new(cr_rgs_engine *e)
{
    if (!CR_GROW(e->str_chunks, e->nstr_chunks, e->capstr_chunks))
        return false;
    char *k = malloc((size_t)RGS_STR_CHUNK * RGS_STR_PIECE);
    if (!k)
        return false;
    e->str_chunks[e->nstr_chunks++] = k;
    e->str_next = k;
    e->str_left = RGS_STR_CHUNK;
    return true;
}

/* Copies the call's id, from and to into its slot's buffer: a piece of the pool for a slot's
 * first call when they fit in one, else an allocation of its own (grown when too small; a
 * piece left for a larger buffer stays unused in its chunk). */
static int call_strings(cr_rgs_engine *e, rgs_call *c, const char *id, const char *from,
                        const char *to)
{
    from = from ? from : "";
    to = to ? to : "";
    size_t li = strlen(id) + 1, lf = strlen(from) + 1, lt = strlen(to) + 1;
    if (li + lf + lt > c->capstr) {
        char *p;
        size_t ncap;
        bool piece = !c->capstr && li + lf + lt <= RGS_STR_PIECE;
        if (piece) {
            if (!e->str_left && !str_chunk_new(e))
                return -1;
            p = e->str_next, ncap = RGS_STR_PIECE;
            e->str_next += RGS_STR_PIECE, e->str_left--;
        } else {
            ncap = li + lf + lt < RGS_STR_PIECE ? RGS_STR_PIECE : li + lf + lt;
            p = ncap > UINT32_MAX ? NULL : c->str_pooled ? malloc(ncap) : realloc(c->id, ncap);
            if (!p)
                return -1;
        }
        c->str_pooled = piece;
        c->id = p, c->capstr = (uint32_t)ncap;
    }
    /* from and to follow the id (rgs_call_from, rgs_call_to) */
    memcpy(c->id, id, li);
    memcpy(c->id + li, from, lf);
    memcpy(c->id + li + lf, to, lt);
    return 0;
}

/* Room for slot ncalls: the slot array doubles, its new slots left as they are (zero, as the
 * table allocator gives them; zeroing them again here would touch every new page at once,
 * tens of MB in one event for a large deployment). */
/* Call slots, 64-byte aligned so that each call's first line is one cache line, in a large
 * table (rgs_big_alloc: huge pages from 2 MB on). It grows with its pages moved, not copied
 * (32 MB at 100,000 agents, inside one event); slots not yet used are not touched. */
static bool calls_realloc(cr_rgs_engine *e, size_t n)
{
    if (n > SIZE_MAX / sizeof(rgs_call))
        return false;
    rgs_call *p = rgs_big_grow(e->calls, e->capcalls * sizeof(rgs_call), n * sizeof(rgs_call));
    if (!p)
        return false;
    e->calls = p;
    e->capcalls = n;
    return true;
}

static bool calls_grow(cr_rgs_engine *e)
{
    if (e->ncalls < e->capcalls)
        return true;
    /* slots are 32-bit in the ringing lists (rgs_svec) and the queue links (int32_t) */
    size_t ncap = e->capcalls * 2 <= INT32_MAX ? e->capcalls * 2 : INT32_MAX;
    return ncap > e->capcalls && calls_realloc(e, ncap);
}

/* The empty slot where a new handle goes in call_handles (room made first), -2 when a call
 * has that handle, -1 when out of memory: one probe checks and places it. */
static long handle_probe(cr_rgs_engine *e, uint64_t handle, uint32_t tag)
{
    if (rgs_imap_room(&e->call_handles) < 0)
        return -1;
    const rgs_imap *m = &e->call_handles;
    size_t j = rgs_imap_home(m, tag);
    for (; m->slots[j].ref; j = rgs_imap_next(m, j))
        if (m->slots[j].tag == tag && e->calls[m->slots[j].ref - 1].handle == handle)
            return -2;
    return (long)j;
}

/* The same for a new call id in call_ids. */
static long id_probe(cr_rgs_engine *e, const char *id, uint32_t tag)
{
    if (rgs_imap_room(&e->call_ids) < 0)
        return -1;
    const rgs_imap *m = &e->call_ids;
    size_t j = rgs_imap_home(m, tag);
    for (; m->slots[j].ref; j = rgs_imap_next(m, j))
        if (m->slots[j].tag == tag && strcmp(e->calls[m->slots[j].ref - 1].id, id) == 0)
            return -2;
    return (long)j;
}

long rgs_call_by_id(const cr_rgs_engine *e, const char *id)
{
    const rgs_imap *m = &e->call_ids;
    if (!m->cap)
        return -1;
    uint32_t tag = rgs_imap_tag_str(rgs_map_hash(id));
    for (size_t j = rgs_imap_home(m, tag); m->slots[j].ref; j = rgs_imap_next(m, j))
        if (m->slots[j].tag == tag && strcmp(e->calls[m->slots[j].ref - 1].id, id) == 0)
            return (long)m->slots[j].ref - 1;
    return -1;
}

long rgs_call_new(cr_rgs_engine *e, uint64_t handle, const char *id, const char *from,
                  const char *to, long wf)
{
    char num[24];
    if (!handle)
        do
            handle = ++e->next_handle;
        while (rgs_call_by_handle(e, handle) >= 0);
    if (!id) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)handle);
        id = num;
    }
    return rgs_call_new_h(e, handle, false, id, rgs_map_hash(id), from, to, wf);
}

RGS_HOT long rgs_call_new_h(cr_rgs_engine *e, uint64_t handle, bool by_slot, const char *id,
                            uint64_t idhash, const char *from, const char *to, long wf)
{
    if (!handle && !by_slot)
        do
            handle = ++e->next_handle;
        while (rgs_call_by_handle(e, handle) >= 0);
    /* a slot: the free list's head, or a new one at the end */
    long s = e->free_calls;
    if (s < 0 && !calls_grow(e))
        return !by_slot && rgs_call_by_handle(e, handle) >= 0 ? -2 : -1;
    size_t slot = s >= 0 ? (size_t)s : e->ncalls;
    uint64_t serial = e->calls[slot].serial + 1;
    if (by_slot) {
        /* (a host's handle in call_handles may equal it: the next generation then) */
        for (handle = rgs_slot_handle(e, slot, serial); rgs_call_by_mapped_handle(e, handle) >= 0;
             handle = rgs_slot_handle(e, slot, serial))
            serial += 2;
    } else if (rgs_call_by_slot_handle(e, handle) >= 0) {
        return -2; /* a live call's handle that names its slot (not in call_handles) */
    }
    /* a handle that names the slot stays out of call_handles (rgs_call_by_handle reads the
     * slot), once none there has it; any other's uniqueness is checked as it is added (one
     * probe). The slot is taken only once it is. */
    bool mapped = !rgs_handle_names(handle, slot);
    uint32_t htag = rgs_imap_tag_u64(handle);
    if (mapped) {
        long hj = handle_probe(e, handle, htag);
        if (hj < 0)
            return hj;
        rgs_imap_set_at(&e->call_handles, (size_t)hj, htag, (uint32_t)slot);
    } else if (!by_slot && rgs_call_by_mapped_handle(e, handle) >= 0) {
        return -2;
    }
    /* the slot's buffers are reused: no allocation for a call in the steady state. Lines 0
     * and 1 only: the hunt's line and the IVR's are set when the call first uses them
     * (rgs_call_round_init, rgs_call_ivr_init), a call without a queue or an IVR never
     * touches them. A slot never used is zero (rgs_big_grow), buffers included: it is only
     * written, its lines not read first. */
    rgs_svec ring = {0};
    uint32_t capstr = 0;
    char *str = NULL;
    bool pooled = false;
    if (s >= 0) {
        e->free_calls = e->calls[s].next_free;
        ring = e->calls[s].ring;
        capstr = e->calls[s].capstr;
        str = e->calls[s].id;
        pooled = e->calls[s].str_pooled;
    } else {
        s = (long)e->ncalls++;
    }
    rgs_call *c = &e->calls[s];
    memset(c, 0, offsetof(rgs_call, tried));
    ring.n = 0;
    c->ring = ring;
    c->id = str, c->capstr = capstr, c->str_pooled = pooled;
    c->serial = serial;
    c->handle = handle;
    char num[24];
    if (!id) { /* (by_slot: the handle in decimal, now that it is known) */
        snprintf(num, sizeof num, "%llu", (unsigned long long)handle);
        id = num;
        idhash = rgs_map_hash(num);
    }
    /* (the name's uniqueness is checked when it is added to call_ids: one probe) */
    long ij = -1;
    if (call_strings(e, c, id, from, to) < 0 ||
        (ij = id_probe(e, c->id, c->idtag = rgs_imap_tag_str(idhash))) < 0) {
        if (mapped)
            rgs_imap_del(&e->call_handles, htag, (uint32_t)s);
        c->next_free = (int32_t)e->free_calls;
        e->free_calls = s;
        return ij == -2 ? -2 : -1;
    }
    rgs_imap_set_at(&e->call_ids, (size_t)ij, c->idtag, (uint32_t)s);
    c->state = CS_PROMPT;
    c->wf = (int32_t)wf;
    c->queue = c->agent = c->cont_queue = -1;
    c->qprev = c->qnext = -1;
    return s;
}

static void ivr_end(cr_rgs_engine *e, rgs_call *c)
{
    if (c->ivr_live && e->opt.ivr && e->opt.ivr->end)
        e->opt.ivr->end(e->opt.ivr->ud, c->ivr_state);
    c->ivr_live = false;
}

RGS_HOT void rgs_call_delete(cr_rgs_engine *e, rgs_call *c)
{
    ivr_end(e, c);
    rgs_mark_call(e, c);
    rgs_imap_del(&e->call_ids, c->idtag, (uint32_t)(c - e->calls));
    if (!rgs_handle_names(c->handle, (size_t)(c - e->calls)))
        rgs_imap_del(&e->call_handles, rgs_imap_tag_u64(c->handle), (uint32_t)(c - e->calls));
    rgs_timer_cancel(e, &c->th_ring);
    rgs_timer_cancel(e, &c->th_timeout);
    if (c->ivr_seen)
        rgs_timer_cancel(e, &c->th_ivr);
    if (c->cont_arg) /* (rarely set: no call into the allocator for the usual call) */
        free(c->cont_arg), c->cont_arg = NULL;
    c->state = CS_FREE;
    c->serial++;
    long s = c - e->calls;
    c->next_free = (int32_t)e->free_calls;
    e->free_calls = s;
}

RGS_HOT void rgs_play(cr_rgs_engine *e, rgs_call *c, const char *prompt, rgs_cont k, long q,
                      const char *arg)
{
    if (!c->answered) {
        rgs_out(e, c, CR_RGS_OUT_ANSWER, NULL);
        c->answered = true;
    }
    rgs_out(e, c, CR_RGS_OUT_PLAY, prompt);
    c->on_moh = false;
    c->state = CS_PROMPT;
    c->cont = (uint8_t)k;
    c->cont_queue = (int32_t)q;
    if (c->cont_arg)
        free(c->cont_arg);
    c->cont_arg = arg ? strdup(arg) : NULL;
}

RGS_HOT void rgs_finish(cr_rgs_engine *e, rgs_call *c, rgs_cont k, long q, const char *arg)
{
    switch (k) {
    case K_QUEUE:
        rgs_queue_enter(e, c, q);
        return;
    case K_TRANSFER:
        rgs_out(e, c, CR_RGS_OUT_TRANSFER, arg);
        break;
    case K_VOICEMAIL:
        rgs_out(e, c, CR_RGS_OUT_VOICEMAIL, arg);
        break;
    default:
        rgs_out_hangup(e, c, arg ? arg : "disconnect");
        break;
    }
    rgs_call_delete(e, c);
}

/* Carries out a configured action (timeout, overflow, after hours, holiday) on a call that
 * is in no queue. `reason` is the hang-up reason of a disconnect. */
RGS_HOT void rgs_perform(cr_rgs_engine *e, rgs_call *c, const cr_rgs_action *a, const char *reason)
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
        rgs_play(e, c, a->prompt, k, a->queue, arg);
    else
        rgs_finish(e, c, k, a->queue, arg);
}

/* ---- IVR ----------------------------------------------------------------------------------- */

static void ivr_apply(cr_rgs_engine *e, rgs_call *c, int rc, const cr_rgs_ivr_step *st)
{
    if (rc < 0) {
        rgs_out_hangup_code(e, c, CR_RGS_HANGUP_IVR_ERROR);
        rgs_call_delete(e, c);
        return;
    }
    c->tok_ivr++;
    rgs_timer_cancel(e, &c->th_ivr);
    c->ivr_op = (uint8_t)st->op;
    c->ivr_after_prompt = 0;
    size_t slot = (size_t)(c - e->calls);
    switch (st->op) {
    case CR_RGS_IVR_WAIT:
        if (st->timer_ms > 0)
            c->th_ivr = rgs_timer_add(e, e->now + st->timer_ms, slot, T_IVR, c->tok_ivr);
        return;
    case CR_RGS_IVR_PLAY:
        rgs_out(e, c, CR_RGS_OUT_PLAY, st->arg);
        c->on_moh = false;
        return;
    case CR_RGS_IVR_COLLECT:
        if (st->arg[0]) {
            rgs_out(e, c, CR_RGS_OUT_PLAY, st->arg);
            c->on_moh = false;
            c->ivr_after_prompt = st->timer_ms;
        } else if (st->timer_ms > 0) {
            c->th_ivr = rgs_timer_add(e, e->now + st->timer_ms, slot, T_IVR, c->tok_ivr);
        }
        rgs_out(e, c, CR_RGS_OUT_COLLECT, st->choices);
        return;
    case CR_RGS_IVR_QUEUE: {
        ivr_end(e, c);
        long q = cr_rgs_config_queue_find(e->cfg, st->arg);
        if (q < 0) {
            rgs_out_hangup_code(e, c, CR_RGS_HANGUP_NO_QUEUE);
            rgs_call_delete(e, c);
        } else {
            rgs_queue_enter(e, c, q);
        }
        return;
    }
    case CR_RGS_IVR_TRANSFER:
        rgs_out(e, c, CR_RGS_OUT_TRANSFER, st->arg);
        break;
    case CR_RGS_IVR_VOICEMAIL:
        rgs_out(e, c, CR_RGS_OUT_VOICEMAIL, st->arg);
        break;
    default:
        if (e->out) {
            cr_rgs_output o = {.type = CR_RGS_OUT_HANGUP,
                               .arg = st->arg[0] ? st->arg : "ivr",
                               .reason = CR_RGS_HANGUP_IVR};
            out(e, c, &o);
        }
        break;
    }
    rgs_call_delete(e, c);
}

void rgs_ivr_input(cr_rgs_engine *e, rgs_call *c, cr_rgs_ivr_input_kind kind, const char *text)
{
    cr_rgs_ivr_step st;
    memset(&st, 0, sizeof st);
    int rc = e->opt.ivr->input(e->opt.ivr->ud, c->ivr_state, kind, text, e->now,
                               e->opt.start_unix_ms + e->now, &st);
    ivr_apply(e, c, rc, &st);
}

void rgs_ivr_start(cr_rgs_engine *e, rgs_call *c)
{
    const cr_rgs_ivr_driver *d = e->opt.ivr;
    if (!d || !d->start || !d->input) {
        rgs_out_hangup_code(e, c, CR_RGS_HANGUP_NO_IVR);
        rgs_call_delete(e, c);
        return;
    }
    rgs_out(e, c, CR_RGS_OUT_ANSWER, NULL);
    c->answered = true;
    c->state = CS_IVR;
    rgs_call_ivr_init(c);
    cr_rgs_ivr_call info = {c->id,
                            rgs_call_from(c),
                            rgs_call_to(c),
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

/* ---- open / close / stats --------------------------------------------------------------- */

/* Copies the prompt name *p into the workflow's line when it fits (at *used), and points *p
 * at the copy. */
static void wf_name(rgs_wf *wf, const char **p, size_t *used)
{
    size_t n = *p ? strlen(*p) + 1 : 0;
    if (!n || n > sizeof wf->names - *used)
        return;
    memcpy(wf->names + *used, *p, n);
    *p = wf->names + *used;
    *used += n;
}

/* Room for n items of z bytes at *off (64-byte aligned), *off moved past them; false when the
 * total overflows. */
static bool table_at(size_t *off, size_t n, size_t z, size_t *at)
{
    size_t o = (*off + 63) & ~(size_t)63;
    if (o < *off || (z && n > (SIZE_MAX - o) / z))
        return false;
    *at = o;
    *off = o + n * z;
    return true;
}

/* What hunts, dispatches, queue entries and arrivals read besides calls and agents (groups,
 * queues, workflows, their counters, the counts of avail bits, every group's member list, a
 * copy of the configuration's): one large table (rgs_map.h), so that its pages are huge pages
 * too, and the member lists one block where each was an allocation of its own. */
static bool hot_tables(cr_rgs_engine *e)
{
    const cr_rgs_config *cfg = e->cfg;
    size_t ng = cfg->ngroups ? cfg->ngroups : 1, nq = cfg->nqueues ? cfg->nqueues : 1,
           nw = cfg->nworkflows ? cfg->nworkflows : 1, nm = 0, off = 0;
    size_t og, oq, ow, os, on, om;
    for (size_t g = 0; g < cfg->ngroups; g++)
        if ((nm += cfg->groups[g].nagents) < cfg->groups[g].nagents)
            return false;
    if (!table_at(&off, ng, sizeof *e->groups, &og) ||
        !table_at(&off, nq, sizeof *e->queues, &oq) || !table_at(&off, nw, sizeof *e->wfs, &ow) ||
        !table_at(&off, nw, sizeof *e->wfstats, &os) ||
        !table_at(&off, ng, sizeof *e->navail, &on) ||
        !table_at(&off, nm ? nm : 1, sizeof *e->members, &om))
        return false;
    char *t = rgs_big_alloc(off);
    if (!t)
        return false;
    e->hot = t, e->hot_bytes = off;
    e->groups = (rgs_group *)(void *)(t + og);
    e->queues = (rgs_queue *)(void *)(t + oq);
    e->wfs = (rgs_wf *)(void *)(t + ow);
    e->wfstats = (cr_rgs_workflow_stats *)(void *)(t + os);
    e->navail = (uint32_t *)(void *)(t + on);
    e->members = (uint32_t *)(void *)(t + om);
    return true;
}

static int build(cr_rgs_engine *e)
{
    const cr_rgs_config *cfg = e->cfg;
    /* agents 64-byte aligned: each record's first line is what a sync reads; their indexes
     * are 32-bit in member lists (as their handles are) */
    size_t na = cfg->nagents ? cfg->nagents : 1;
    if (cfg->nagents >= UINT32_MAX)
        return CR_ENOMEM;
    e->agents = na <= SIZE_MAX / sizeof *e->agents ? rgs_big_alloc(na * sizeof *e->agents) : NULL;
    if (!hot_tables(e))
        return CR_ENOMEM;
    for (size_t w = 0; e->wfs && w < cfg->nworkflows; w++) {
        const cr_rgs_workflow *cw = &cfg->workflows[w];
        rgs_wf *wf = &e->wfs[w];
        *wf = (rgs_wf){.welcome = cw->welcome,
                       .moh = cw->moh,
                       .queue = (int32_t)cw->queue,
                       .hours = (int32_t)cw->hours,
                       .holidays = (int32_t)cw->holidays,
                       .tz = (int32_t)cw->tz,
                       .type = (uint8_t)cw->type,
                       .active = cw->active};
        size_t used = 0;
        wf_name(wf, &wf->welcome, &used);
        wf_name(wf, &wf->moh, &used);
    }
    e->seen = calloc(cfg->nagents ? cfg->nagents : 1, sizeof *e->seen);
    /* call slots pre-sized for a call per agent (pages are touched when first used), so that
     * the array is not copied doubling by doubling while calls come in */
    if (!calls_realloc(e, cfg->nagents > 64 ? cfg->nagents : 64))
        return CR_ENOMEM;
    if (!e->agents || !e->groups || !e->queues || !e->navail || !e->wfstats || !e->wfs ||
        !e->seen || !e->calls)
        return CR_ENOMEM;
    /* the call maps too: no rehash of every call in one event until there are more calls */
    if (rgs_imap_reserve(&e->call_ids, e->capcalls) < 0 ||
        rgs_imap_reserve(&e->call_handles, e->capcalls) < 0)
        return CR_ENOMEM;
    /* memberships: count, then fill */
    size_t nm = 0;
    for (size_t g = 0; g < cfg->ngroups; g++) {
        rgs_group *rg = &e->groups[g];
        const cr_rgs_group *cg = &cfg->groups[g];
        if (cg->nagents > UINT32_MAX)
            return CR_ENOMEM;
        rg->rr_last = -1;
        for (size_t i = 0; i < cg->nagents; i++) /* (< nagents, checked above) */
            e->members[nm + i] = (uint32_t)cg->agents[i];
        rg->agents = e->members + nm;
        nm += cg->nagents;
        rg->nagents = (uint32_t)cg->nagents;
        rg->routing = (uint8_t)cg->routing;
        rg->formal = cg->formal;
        rg->alert_time_s = cg->alert_time_s;
        rg->decline_grace_s = cg->decline_grace_s;
        rg->avail =
            cg->nagents <= 64 ? &rg->one_word : calloc(cg->nagents / 64 + 1, sizeof(uint64_t));
        if (!(rg->signed_in = calloc(cg->nagents + 1, sizeof(bool))) || !rg->avail)
            return CR_ENOMEM;
        for (size_t i = 0; i < cfg->groups[g].nagents; i++)
            e->agents[cfg->groups[g].agents[i]].ngroups++;
    }
    for (size_t a = 0; a < cfg->nagents; a++) {
        rgs_agent *ag = &e->agents[a];
        ag->groups = ag->ngroups <= RGS_AGENT_INLINE_GROUPS
                         ? ag->in_groups
                         : calloc(ag->ngroups, sizeof(rgs_member));
        if (!ag->groups)
            return CR_ENOMEM;
        ag->ngroups = 0;
    }
    for (size_t g = 0; g < cfg->ngroups; g++)
        for (size_t i = 0; i < cfg->groups[g].nagents; i++) {
            rgs_agent *ag = &e->agents[cfg->groups[g].agents[i]];
            rgs_member *m = &ag->groups[ag->ngroups++];
            *m = (rgs_member){(uint32_t)g,
                              (uint32_t)i,
                              cfg->groups[g].formal,
                              cfg->groups[g].routing == CR_RGS_ATTENDANT,
                              false,
                              0};
            m->need = rgs_member_need(m);
            if (cfg->groups[g].routing == CR_RGS_ATTENDANT)
                ag->attendant = true;
        }
    /* queues reaching each agent (each queue once per agent, in queue order; 32-bit) */
    if (cfg->nqueues >= UINT32_MAX)
        return CR_ENOMEM;
    for (size_t q = 0; q < cfg->nqueues; q++) {
        rgs_queue *rq = &e->queues[q];
        const cr_rgs_queue *cq = &cfg->queues[q];
        if (cq->ngroups > UINT32_MAX)
            return CR_ENOMEM;
        rq->head = rq->tail = -1;
        rq->ngroups = (uint32_t)cq->ngroups;
        rq->groups = cq->groups;
        for (size_t j = 0; j < cq->ngroups && j < RGS_QUEUE_INLINE_GROUPS; j++)
            rq->g2[j] = (uint32_t)cq->groups[j]; /* (< ngroups, which is a size_t of groups) */
        rq->timeout_s = cq->timeout_s;
        rq->overflow_calls = cq->overflow_calls;
        rq->overflow_oldest = cq->overflow_oldest;
        for (size_t j = 0; j < cfg->queues[q].ngroups; j++) {
            const cr_rgs_group *g = &cfg->groups[cfg->queues[q].groups[j]];
            if (g->nagents)
                e->queues[q].has_agents = true;
            for (size_t i = 0; i < g->nagents; i++) {
                rgs_agent *ag = &e->agents[g->agents[i]];
                if (ag->nqueues && ag->queues[ag->nqueues - 1] == q)
                    continue;
                if (ag->nqueues == UINT32_MAX)
                    return CR_ENOMEM;
                if (ag->nqueues < RGS_AGENT_INLINE_QUEUES) {
                    ag->queues = ag->in_queues;
                } else {
                    uint32_t *old = ag->queues == ag->in_queues ? NULL : ag->queues;
                    uint32_t *p = realloc(old, (ag->nqueues + 1) * sizeof *p);
                    if (!p)
                        return CR_ENOMEM;
                    if (!old)
                        memcpy(p, ag->in_queues, sizeof ag->in_queues);
                    ag->queues = p;
                }
                ag->queues[ag->nqueues++] = (uint32_t)q; /* (< nqueues, checked above) */
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
    /* who takes calls, after the state directory restored presence, calls and sign-ins */
    for (size_t a = 0; rc == CR_OK && a < cfg->nagents; a++) {
        e->agents[a].takes = RGS_TAKES_UNKNOWN;
        rgs_agent_sync(e, a);
    }
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
            free(c->cont_arg);
        }
        if (!c->str_pooled)
            free(c->id);
        free(c->declines);
        rgs_svec_free(&c->tried), rgs_svec_free(&c->ring);
    }
    if (e->agents)
        for (size_t a = 0; a < e->cfg->nagents; a++) {
            rgs_agent *ag = &e->agents[a];
            rgs_svec_free(&ag->ringing);
            if (ag->groups != ag->in_groups)
                free(ag->groups);
            if (ag->queues != ag->in_queues)
                free(ag->queues);
        }
    if (e->groups)
        for (size_t g = 0; g < e->cfg->ngroups; g++) {
            free(e->groups[g].signed_in);
            if (e->groups[g].avail != &e->groups[g].one_word)
                free(e->groups[g].avail);
        }
    for (size_t i = 0; i < e->ndirty_calls; i++)
        free(e->dirty_calls[i]);
    free(e->dirty_calls), free(e->dirty_agents.v), free(e->dirty_groups.v);
    free(e->pending.v);
    for (size_t i = 0; i < e->nstr_chunks; i++)
        free(e->str_chunks[i]);
    free(e->str_chunks);
    rgs_big_free(e->agents, (e->cfg->nagents ? e->cfg->nagents : 1) * sizeof *e->agents);
    rgs_big_free(e->hot, e->hot_bytes);
    rgs_big_free(e->calls, e->capcalls * sizeof(rgs_call));
    rgs_timer_free(e);
    rgs_imap_free(&e->call_ids);
    rgs_imap_free(&e->call_handles);
    free(e->seen);
    free(e);
}

int cr_rgs_engine_queue_stats(const cr_rgs_engine *e, size_t queue, int64_t now_ms,
                              cr_rgs_queue_stats *out)
{
    if (queue >= e->cfg->nqueues)
        return CR_ENOENT;
    const rgs_queue *q = &e->queues[queue];
    memset(out, 0, sizeof *out);
    out->entered = rgs_queue_entered(q), out->answered = rgs_queue_answered(q);
    out->abandoned = q->abandoned, out->timeouts = q->timeouts, out->overflows = q->overflows;
    out->waiting = q->count;
    out->longest_wait_ms = rgs_queue_longest_wait(q);
    if (q->head >= 0 && now_ms - e->calls[q->head].enter_ms > out->longest_wait_ms)
        out->longest_wait_ms = now_ms - e->calls[q->head].enter_ms;
    out->average_wait_ms = out->answered ? rgs_queue_answered_wait(q) / (int64_t)out->answered : 0;
    return CR_OK;
}

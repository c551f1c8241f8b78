/*
 * The engine's timers: a 4-ary min-heap ordered by (deadline, insertion order).
 *
 * Each timer has a handle: hpos[handle] is its heap index, so a call's ring, queue-timeout and
 * IVR timers leave the heap as soon as they are superseded (rgs_timer_cancel). The heap then
 * holds the live timers only (plus grace timers, dropped when due) and stays small. A timer
 * is still checked when it comes due (rgs_timer_live), so a cancel that is missed costs
 * memory, not behaviour.
 *
 * Memory layout (issue 17: sifts were the engine's largest source of cache misses). A heap
 * entry is 16 bytes: the deadline, a 32-bit insertion order and the handle; the rest of a
 * timer (call slot, serial, kind, token) is kept by handle in `tim` and read only when the
 * timer is due or checked, never while sifting. The array is 64-byte aligned and the root
 * sits at index RGS_HEAP_ROOT (3), which puts the four children of index k at 4k - 8 .. 4k - 5:
 * one cache line per level, and a 4-ary heap has half the levels of a binary one.
 *
 * The insertion order only breaks ties between equal deadlines. When its 32-bit counter would
 * wrap, the live timers are renumbered by rank (the heap is sorted in place; an ascending array
 * is a heap), so equal deadlines still fire in insertion order, as with 64-bit counters.
 */
#include "rgs_engine_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROOT RGS_HEAP_ROOT

static inline bool hless(const rgs_hent *a, const rgs_hent *b)
{
    return a->when < b->when || (a->when == b->when && a->order < b->order);
}

/* Heap indexes: the root is ROOT; the children of k are first_child(k) + 0..3. */
static inline size_t parent(size_t k)
{
    return (k - 4) / 4 + ROOT;
}

static inline size_t first_child(size_t k)
{
    return 4 * k - 8;
}

static inline void put(cr_rgs_engine *e, size_t k, rgs_hent t)
{
    e->heap[k] = t;
    e->hpos[t.h] = (uint32_t)k;
}

static RGS_HOT void sift_up(cr_rgs_engine *e, size_t k, rgs_hent t)
{
    while (k > ROOT) {
        size_t p = parent(k);
        if (!hless(&t, &e->heap[p]))
            break;
        put(e, k, e->heap[p]);
        k = p;
    }
    put(e, k, t);
}

static RGS_HOT void sift_down(cr_rgs_engine *e, size_t k, rgs_hent t)
{
    size_t end = ROOT + e->nheap;
    for (;;) {
        size_t c = first_child(k);
        if (c >= end)
            break;
        size_t m = c;
        if (c + 4 <= end) {
            /* four children (all but the last node's): the least in a tournament of three
             * comparisons, without the loop's bookkeeping */
            const rgs_hent *h = e->heap;
            size_t m01 = hless(&h[c + 1], &h[c]) ? c + 1 : c;
            size_t m23 = hless(&h[c + 3], &h[c + 2]) ? c + 3 : c + 2;
            m = hless(&h[m23], &h[m01]) ? m23 : m01;
        } else {
            for (size_t j = c + 1; j < end; j++)
                if (hless(&e->heap[j], &e->heap[m]))
                    m = j;
        }
        if (!hless(&e->heap[m], &t))
            break;
        put(e, k, e->heap[m]);
        k = m;
    }
    put(e, k, t);
}

/* Takes the entry at heap index k out and frees its handle. */
static RGS_HOT rgs_hent heap_remove(cr_rgs_engine *e, size_t k)
{
    rgs_hent t = e->heap[k], last = e->heap[ROOT + --e->nheap];
    e->top_live = false;
    if (k < ROOT + e->nheap) {
        if (k > ROOT && hless(&last, &e->heap[parent(k)]))
            sift_up(e, k, last);
        else
            sift_down(e, k, last);
    }
    e->hfree[e->nhfree++] = t.h; /* hfree holds caph handles: always room */
    return t;
}

/* Room for one more entry; false when out of memory. */
static bool heap_reserve(cr_rgs_engine *e)
{
    if (ROOT + e->nheap < e->capheap)
        return true;
    size_t ncap = e->capheap ? e->capheap * 2 : 64;
    /* a large table (rgs_map.h): 64-byte aligned, huge pages from 2 MB on */
    rgs_hent *p = rgs_big_grow(e->heap, e->capheap * sizeof *p, ncap * sizeof *p);
    if (!p)
        return false;
    e->heap = p;
    e->capheap = ncap;
    return true;
}

/* A free handle (never 0), or 0 when out of memory. */
static uint32_t handle_new(cr_rgs_engine *e)
{
    if (e->nhfree)
        return e->hfree[--e->nhfree];
    if (e->nh == e->caph) {
        if (e->caph >= UINT32_MAX / 2)
            return 0;
        size_t ncap = e->caph ? e->caph * 2 : 64;
        uint32_t *p = realloc(e->hpos, ncap * sizeof *p);
        if (p)
            e->hpos = p;
        uint32_t *f = realloc(e->hfree, ncap * sizeof *f);
        if (f)
            e->hfree = f;
        if (!p || !f) /* (either may be larger than caph says: realloc needs no size) */
            return 0;
        /* last: a large table, whose size caph must say */
        rgs_timer *t = rgs_big_grow(e->tim, e->caph * sizeof *t, ncap * sizeof *t);
        if (!t)
            return 0;
        e->tim = t;
        e->caph = ncap;
        if (e->nh == 0)
            e->nh = 1; /* handle 0: none */
    }
    return (uint32_t)e->nh++;
}

/* Gives the live timers orders 0 .. nheap-1 by rank and restarts the counter after them. */
void rgs_timer_renumber(cr_rgs_engine *e)
{
    size_t n = e->nheap;
    /* heapsort in place: the earliest timer goes last, then the array is reversed */
    while (e->nheap > 1) {
        rgs_hent top = e->heap[ROOT], last = e->heap[ROOT + e->nheap - 1];
        e->heap[ROOT + --e->nheap] = top;
        sift_down(e, ROOT, last);
    }
    e->nheap = n;
    for (size_t i = 0; i < n / 2; i++) {
        rgs_hent t = e->heap[ROOT + i];
        e->heap[ROOT + i] = e->heap[ROOT + n - 1 - i];
        e->heap[ROOT + n - 1 - i] = t;
    }
    for (size_t i = 0; i < n; i++) {
        e->heap[ROOT + i].order = (uint32_t)i;
        e->hpos[e->heap[ROOT + i].h] = (uint32_t)(ROOT + i);
    }
    e->timer_order = (uint32_t)n;
}

RGS_HOT uint32_t rgs_timer_add(cr_rgs_engine *e, int64_t when, size_t slot, int kind, uint32_t tok)
{
    if (!heap_reserve(e))
        return 0;
    uint32_t h = handle_new(e);
    if (!h)
        return 0;
    if (e->timer_order == UINT32_MAX)
        rgs_timer_renumber(e);
    e->tim[h] = (rgs_timer){when, slot, e->calls[slot].serial, tok, kind};
    rgs_hent t = {when, e->timer_order++, h};
    e->nheap++;
    e->top_live = false;
    sift_up(e, ROOT + e->nheap - 1, t);
    return h;
}

/* (called by rgs_timer_cancel, rgs_engine_int.h, only with a timer: *h not 0) */
RGS_HOT void rgs_timer_cancel_(cr_rgs_engine *e, uint32_t *h)
{
    heap_remove(e, e->hpos[*h]);
    *h = 0;
}

RGS_HOT rgs_timer rgs_timer_pop(cr_rgs_engine *e)
{
    rgs_hent top = heap_remove(e, ROOT);
    rgs_timer t = e->tim[top.h];
    rgs_call *c = &e->calls[t.slot];
    /* (a timer's handle is only ever kept in the field of its kind: the IVR's, in the call's
     * IVR line, is read only for an IVR timer) */
    if (t.kind == T_IVR) {
        if (c->th_ivr == top.h)
            c->th_ivr = 0;
    } else {
        if (c->th_ring == top.h)
            c->th_ring = 0;
        if (c->th_timeout == top.h)
            c->th_timeout = 0;
    }
    return t;
}

RGS_HOT void rgs_timer_drop_dead_(cr_rgs_engine *e)
{
    while (e->nheap && !rgs_timer_live(e, &e->tim[e->heap[ROOT].h]))
        rgs_timer_pop(e);
    e->top_live = true;
}

void rgs_timer_free(cr_rgs_engine *e)
{
    rgs_big_free(e->heap, e->capheap * sizeof *e->heap);
    rgs_big_free(e->tim, e->caph * sizeof *e->tim);
    free(e->hpos), free(e->hfree);
    e->heap = NULL, e->tim = NULL, e->hpos = e->hfree = NULL;
    e->nheap = e->capheap = e->nh = e->caph = e->nhfree = 0;
}

RGS_HOT int64_t cr_rgs_engine_next_deadline(const cr_rgs_engine *e)
{
    return e->nheap ? e->heap[ROOT].when : -1;
}

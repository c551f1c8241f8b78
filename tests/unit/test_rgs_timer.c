/*
 * The response-group engine's timer heap (workflows/rgs_timer.c) against a model: random
 * adds, cancels and pops must come out in the order of (deadline, insertion order), as the
 * binary heap it replaced fired them; equal deadlines are frequent (short ranges) or rare
 * (long ranges); the 32-bit insertion order is renumbered before it wraps without changing
 * that order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rgs_engine_int.h"

enum { NSLOTS = 64 };

typedef struct mtimer {
    int64_t when;
    uint64_t seq; /* insertion order, 64 bits: the model never wraps */
    uint32_t tok; /* unique per timer: what the engine's pop is identified by */
    uint32_t h;
    size_t slot;
} mtimer;

typedef struct model {
    mtimer *v;
    size_t n, cap;
    uint64_t seq;
} model;

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

static cr_rgs_engine *engine_new(void)
{
    cr_rgs_engine *e = calloc(1, sizeof *e);
    assert_non_null(e);
    e->calls = calloc(NSLOTS, sizeof *e->calls);
    assert_non_null(e->calls);
    for (size_t s = 0; s < NSLOTS; s++)
        e->calls[s].serial = s + 1;
    return e;
}

static void engine_free(cr_rgs_engine *e)
{
    rgs_timer_free(e);
    free(e->calls);
    free(e);
}

static size_t model_min(const model *m)
{
    size_t b = 0;
    for (size_t i = 1; i < m->n; i++)
        if (m->v[i].when < m->v[b].when ||
            (m->v[i].when == m->v[b].when && m->v[i].seq < m->v[b].seq))
            b = i;
    return b;
}

static void model_del(model *m, size_t i)
{
    m->v[i] = m->v[--m->n];
}

static void check_pop(cr_rgs_engine *e, model *m)
{
    size_t b = model_min(m);
    assert_int_equal(cr_rgs_engine_next_deadline(e), m->v[b].when);
    rgs_timer t = rgs_timer_pop(e);
    assert_int_equal(t.tok, m->v[b].tok);
    assert_int_equal(t.when, m->v[b].when);
    assert_int_equal(t.slot, m->v[b].slot);
    assert_int_equal(t.serial, m->v[b].slot + 1);
    assert_int_equal(t.kind, T_RING);
    model_del(m, b);
}

/* ops random operations with deadlines in [now, now + range); the order counter starts at
 * `order0`; renumber_every > 0 also renumbers by hand that often. */
static void run(uint64_t seed, size_t ops, uint32_t range, uint32_t order0, size_t renumber_every)
{
    rng_state = seed;
    cr_rgs_engine *e = engine_new();
    e->timer_order = order0;
    model m = {0};
    int64_t now = 1000;
    uint32_t tok = 0;
    for (size_t i = 0; i < ops; i++) {
        uint32_t op = rnd(10);
        if (op < 6 || m.n == 0) {
            if (m.n == m.cap) {
                m.cap = m.cap ? 2 * m.cap : 64;
                m.v = realloc(m.v, m.cap * sizeof *m.v);
                assert_non_null(m.v);
            }
            mtimer t = {now + rnd(range), m.seq++, ++tok, 0, rnd(NSLOTS)};
            t.h = rgs_timer_add(e, t.when, t.slot, T_RING, t.tok);
            assert_int_not_equal(t.h, 0);
            m.v[m.n++] = t;
        } else if (op < 8) {
            size_t k = rnd((uint32_t)m.n);
            uint32_t h = m.v[k].h;
            rgs_timer_cancel(e, &h);
            assert_int_equal(h, 0);
            model_del(&m, k);
        } else {
            check_pop(e, &m);
        }
        assert_int_equal(e->nheap, m.n);
        if (rnd(4) == 0)
            now += rnd(range / 4 + 1);
        if (renumber_every && i % renumber_every == renumber_every - 1)
            rgs_timer_renumber(e);
    }
    while (m.n)
        check_pop(e, &m);
    assert_int_equal(cr_rgs_engine_next_deadline(e), -1);
    /* the children of the root share one cache line */
    assert_int_equal((uintptr_t)&e->heap[RGS_HEAP_ROOT + 1] % 64, 0);
    assert_int_equal((uintptr_t)e->tim % 64, 0);
    free(m.v);
    engine_free(e);
}

static void test_many_ties(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 10; seed++)
        run(seed, 20000, 8, 0, 0);
}

static void test_few_ties(void **state)
{
    (void)state;
    for (uint64_t seed = 100; seed <= 104; seed++)
        run(seed, 50000, 1000000, 0, 0);
}

/* The counter reaches UINT32_MAX in the middle of a run: the live timers are renumbered. */
static void test_order_wraps(void **state)
{
    (void)state;
    for (uint64_t seed = 200; seed <= 210; seed++)
        run(seed, 20000, 16, UINT32_MAX - 5000, 0);
}

/* Renumbering by hand now and then changes no firing order. */
static void test_renumber_keeps_order(void **state)
{
    (void)state;
    for (uint64_t seed = 300; seed <= 310; seed++)
        run(seed, 20000, 32, 0, 777);
}

/* A cancelled handle may be reused at once; the timer it named never fires. */
static void test_cancel_and_reuse(void **state)
{
    (void)state;
    cr_rgs_engine *e = engine_new();
    uint32_t a = rgs_timer_add(e, 50, 1, T_RING, 11);
    uint32_t b = rgs_timer_add(e, 50, 2, T_RING, 12);
    rgs_timer_cancel(e, &a);
    uint32_t c = rgs_timer_add(e, 40, 3, T_RING, 13);
    assert_int_not_equal(b, 0);
    assert_int_not_equal(c, 0);
    assert_int_equal(rgs_timer_pop(e).tok, 13);
    assert_int_equal(rgs_timer_pop(e).tok, 12);
    assert_int_equal(e->nheap, 0);
    rgs_timer_cancel(e, &a); /* already 0: nothing */
    engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_ties),        cmocka_unit_test(test_few_ties),
        cmocka_unit_test(test_order_wraps),      cmocka_unit_test(test_renumber_keeps_order),
        cmocka_unit_test(test_cancel_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Routes and users of a plan adopted from its image are filled on first use (plan_image_cx.c
 * ce_route_fill, ce_user_fill): each object once, whichever thread asks first, and a thread
 * that sees its bit in route_done / user_done (what ce_route and ce_user read on every use)
 * sees it filled. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cr_image.h"
#include "cr_plan_image.h"
#include "cr_rules.h"
#include "model.h"
#include "testutil.h"

enum { N = 333, THREADS = 4 }; /* N: not a multiple of 64 (the last word of each bit set) */

typedef struct job {
    const cr_config *cfg;
    size_t start, step;
    size_t bad; /* objects read unfilled or wrong */
} job;

/* Every route and user once, from `start` in steps of `step` (prime to N): its name. */
static void *run(void *arg)
{
    job *j = arg;
    char want[64];
    for (size_t k = 0, i = j->start; k < N; k++, i = (i + j->step) % N) {
        const cr_route *r = ce_route(j->cfg, i);
        snprintf(want, sizeof want, "route-%05zu", i);
        j->bad += !r->name || strcmp(r->name, want) != 0 || r->gateways.count != 1;
        const cr_user *u = ce_user(j->cfg, i);
        snprintf(want, sizeof want, "sip:u%zu@example.com", i);
        j->bad += !u->uri || strcmp(u->uri, want) != 0 || !u->enterprise_voice;
    }
    return NULL;
}

/* Each object's bit says what its state says: set when filled (2), clear otherwise. */
static size_t bits_agree(const cr_config *c)
{
    size_t filled = 0;
    for (size_t i = 0; i < N; i++) {
        bool rb = ce_fill_done(c->route_done, i), ub = ce_fill_done(c->user_done, i);
        assert_int_equal(rb, atomic_load(&c->route_state[i]) == 2);
        assert_int_equal(ub, atomic_load(&c->user_state[i]) == 2);
        assert_int_equal(rb, ce_route_filled(c, i));
        filled += rb + ub;
    }
    for (size_t i = N; i < (N / 64 + 1) * 64; i++) /* no bit past the last object */
        assert_false(ce_fill_done(c->route_done, i) || ce_fill_done(c->user_done, i));
    return filled;
}

static void test_fill_on_first_use_threads(void **state)
{
    (void)state;
    char *xml = cr_test_plan_xml(N, N);
    cr_config *src = cr_test_load_xml(xml), *cfg = NULL;
    free(xml);
    assert_non_null(src);
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(src, 1, &img, &len), CR_OK);
    cr_config_free(src);
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(
        cr_image_read_ex(img, len, "x.plan", CR_IMAGE_BORROW | CR_IMAGE_NOLINT, &cfg, &d),
        CR_OK); /* no lint: it reads every route and user */
    assert_int_equal(cr_config_compile(cfg, &d), CR_OK);
    cr_diag_free(&d);
    assert_int_equal(cfg->nroutes, N);
    assert_int_equal(cfg->nusers, N);
    assert_non_null(cfg->route_done);
    assert_non_null(cfg->user_done);
    assert_true(bits_agree(cfg) < N); /* adopting filled few if any */
    pthread_t t[THREADS];
    job jobs[THREADS];
    static const size_t steps[THREADS] = {1, 7, 13, 332};
    for (int k = 0; k < THREADS; k++) {
        jobs[k] = (job){cfg, (size_t)k * 61 % N, steps[k], 0};
        assert_int_equal(pthread_create(&t[k], NULL, run, &jobs[k]), 0);
    }
    for (int k = 0; k < THREADS; k++) {
        assert_int_equal(pthread_join(t[k], NULL), 0);
        assert_int_equal(jobs[k].bad, 0);
    }
    assert_int_equal(bits_agree(cfg), 2 * N); /* every one filled, its bit set */
    job again = {cfg, 5, 1, 0};
    run(&again); /* read again, filled: the same */
    assert_int_equal(again.bad, 0);
    cr_config_free(cfg);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_on_first_use_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

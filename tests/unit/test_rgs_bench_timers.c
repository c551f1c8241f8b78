/*
 * The engine's scaling properties that `callroute bench --rgs` relies on, checked by
 * counting (no timing): superseded ring and queue-timeout timers leave the timer heap at
 * once, so it holds about one timer per live call rather than one per offer made; and an
 * agent freed while many calls wait in a queue he cannot serve does not hunt them one by one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "rgs_engine_int.h"
#include "testutil.h"

static const char *const config =
    "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>"
    "<agentGroup name=\"Desk\" routingMethod=\"parallel\" alertTime=\"20\">"
    "<agent>sip:a1@x</agent><agent>sip:a2@x</agent><agent>sip:a3@x</agent>"
    "<agent>sip:a4@x</agent></agentGroup>"
    "<agentGroup name=\"Back\" routingMethod=\"serial\" participation=\"formal\">"
    "<agent>sip:a1@x</agent><agent>sip:b1@x</agent></agentGroup>"
    "<queue name=\"Desk\"><group>Desk</group>"
    "<timeout seconds=\"900\" action=\"voicemail\" target=\"sip:vm@x\"/></queue>"
    "<queue name=\"Back\"><group>Back</group></queue>"
    "<workflow name=\"Desk\" uri=\"sip:desk@x\" queue=\"Desk\"/>"
    "<workflow name=\"Back\" uri=\"sip:back@x\" queue=\"Back\"/>"
    "</responseGroups></callroute>";

typedef struct counter {
    size_t rings;
    char last[64]; /* call of the last ring */
} counter;

static void emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    (void)at, (void)args;
    counter *n = ud;
    if (strcmp(action, "ring") == 0) {
        n->rings++;
        snprintf(n->last, sizeof n->last, "%s", call);
    }
}

static void feed(cr_rgs_engine *e, int64_t at, const char *text, counter *n)
{
    cr_rgs_event ev;
    char err[256];
    assert_int_equal(cr_rgs_event_parse(text, &ev, err, sizeof err), CR_OK);
    int rc = cr_rgs_engine_event(e, at, &ev, emit, n, err, sizeof err);
    if (rc != CR_OK)
        fail_msg("%s: %s", text, err);
}

static int setup(void **state)
{
    cr_rgs_config *cfg = NULL;
    cr_diag diag;
    cr_diag_init(&diag);
    int rc = cr_rgs_xml_load(cr_test_tmpfile(config, ".xml"), &cfg, &diag);
    cr_diag_free(&diag);
    if (rc != CR_OK)
        return -1;
    *state = cfg;
    return 0;
}

static int teardown(void **state)
{
    cr_rgs_config_free(*state);
    return 0;
}

/* 5,000 calls, each rung and answered within its alert time, each leaving a ring timer and
 * a queue timeout behind it: none of them may stay in the heap. */
static void test_superseded_timers_leave_the_heap(void **state)
{
    cr_rgs_engine *e = NULL;
    char err[256], text[128];
    assert_int_equal(cr_rgs_engine_open(*state, NULL, &e, err, sizeof err), CR_OK);
    counter n = {0};
    int64_t t = 0;
    for (int i = 0; i < 5000; i++, t += 1000) {
        snprintf(text, sizeof text, "call c%d sip:caller@y sip:desk@x", i);
        feed(e, t, text, &n);
        snprintf(text, sizeof text, "answer c%d sip:a%d@x", i, 1 + i % 4);
        feed(e, t + 500, text, &n);
        snprintf(text, sizeof text, "agent_hangup c%d", i);
        feed(e, t + 900, text, &n);
        assert_true(e->nheap <= 2);
    }
    assert_int_equal(n.rings, 5000);
    assert_int_equal(e->nheap, 0);
    assert_int_equal(cr_rgs_engine_advance(e, t, emit, &n), -1);
    cr_rgs_engine_close(e);
}

/* Calls that ring out and re-ring keep one ring timer each; a caller who hangs up while
 * waiting takes his timers with him. */
static void test_reoffers_replace_their_timer(void **state)
{
    cr_rgs_engine *e = NULL;
    char err[256];
    assert_int_equal(cr_rgs_engine_open(*state, NULL, &e, err, sizeof err), CR_OK);
    counter n = {0};
    feed(e, 0, "call c1 sip:caller@y sip:desk@x", &n);
    /* nobody answers: a new round every 20 s for 10 minutes */
    assert_int_equal(cr_rgs_engine_advance(e, 600000, emit, &n), 620000);
    assert_int_equal(n.rings, 31);
    assert_true(e->nheap <= 2); /* its ring timer and its queue timeout */
    feed(e, 600500, "hangup c1", &n);
    assert_int_equal(e->nheap, 0);
    cr_rgs_engine_close(e);
}

/*
 * a1 is in Desk (parallel) and Back (formal, signed out). 2,000 callers wait in Back, where
 * nobody is signed in. Each time a1 comes back from a call he takes calls in Desk only: he
 * gets every Desk call and none of Back's (the dispatch passes over Back without hunting its
 * calls one by one); when b1 signs in to Back, the oldest of them rings him.
 */
static void test_freed_agent_skips_queues_nobody_serves(void **state)
{
    cr_rgs_engine *e = NULL;
    char err[256], text[128];
    assert_int_equal(cr_rgs_engine_open(*state, NULL, &e, err, sizeof err), CR_OK);
    counter n = {0};
    for (int i = 0; i < 2000; i++) {
        snprintf(text, sizeof text, "call w%d sip:caller@y sip:back@x", i);
        feed(e, i, text, &n);
    }
    assert_int_equal(n.rings, 0);
    for (int i = 0; i < 100; i++) {
        int64_t t = 10000 + i * 1000;
        snprintf(text, sizeof text, "call d%d sip:caller@y sip:desk@x", i);
        feed(e, t, text, &n);
        snprintf(text, sizeof text, "answer d%d sip:a1@x", i);
        feed(e, t + 100, text, &n);
        snprintf(text, sizeof text, "agent_hangup d%d", i);
        feed(e, t + 200, text, &n);
    }
    assert_int_equal(n.rings, 100);
    /* b1 signs in: the oldest waiting call rings him */
    feed(e, 200000, "signin sip:b1@x Back", &n);
    assert_int_equal(n.rings, 101);
    assert_string_equal(n.last, "w0");
    cr_rgs_engine_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_superseded_timers_leave_the_heap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reoffers_replace_their_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freed_agent_skips_queues_nobody_serves, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Gateway health through the real libcallroute.so (issue 15): load spreading per route
 * (interleaved routes, a down gateway's share), capacity (ports), failure classes, the
 * operator's state, probes and the gateways report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi_load.h"

static const cr_plugin *p;
static const char *const FROM = "sip:alice@contoso.com";

static int setup(void **state)
{
    (void)state;
    p = abi_load(NULL);
    return p && CR_HAS(cr_plugin, p, gateway_call_end) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    abi_unload();
    return 0;
}

/* A handle over a shared block of its own (as a multi-process host has), hold-off 60 s. */
static void *shared;
static cr_handle *open_gw(int threshold)
{
    cr_open_options o = {0};
    o.size = sizeof o;
    o.gateway_holdoff_s = 60;
    o.gateway_fail_threshold = threshold;
    o.shared_len = p->shared_size();
    shared = calloc(1, o.shared_len);
    o.shared = shared;
    char err[1024];
    cr_handle *h = NULL;
    assert_int_equal(p->open(getenv("CR_GW_CONFIG"), &o, &h, err, sizeof err), CR_ABI_OK);
    return h;
}

static void close_gw(cr_handle *h)
{
    p->close(h);
    free(shared);
}

static cr_route_answer ans;

/* The gateways of one decision, "GW1,GW2". */
static const char *attempts(cr_handle *h, const char *dialed)
{
    static char buf[256];
    ans.size = sizeof ans;
    assert_int_equal(p->route_answer(h, FROM, dialed, NULL, 0, &ans), CR_ABI_OK);
    size_t o = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < ans.nattempts; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? "," : "",
                              ans.attempts[i].gateway);
    return buf;
}

static int first_is(cr_handle *h, const char *dialed, const char *gw)
{
    attempts(h, dialed);
    return ans.nattempts > 0 && strcmp(ans.attempts[0].gateway, gw) == 0;
}

/* Two routes' calls alternating: each route's first attempt alternates over its gateways
 * (one counter for every decision sent every call of R-425 to GW1). */
static void test_spread_per_route_interleaved(void **state)
{
    (void)state;
    cr_handle *h = open_gw(0);
    int a1 = 0, b1 = 0;
    for (int i = 0; i < 100; i++) {
        a1 += first_is(h, "4255550123", "GW1");
        assert_int_equal(ans.nattempts, 2);
        b1 += first_is(h, "2065550123", "GW1");
        assert_int_equal(ans.nattempts, 2);
    }
    assert_int_equal(a1, 50);
    assert_int_equal(b1, 50);
    close_gw(h);
}

/* The first attempt's gateway of a route_ex decision with `flags`. */
static const char *first_ex(cr_handle *h, const char *dialed, unsigned flags)
{
    static char gw[CR_ANSWER_NAME];
    cr_result *r = NULL;
    assert_int_equal(p->route_ex(h, FROM, dialed, NULL, 0, flags, &r), CR_ABI_OK);
    assert_non_null(r);
    const char *g = p->result_item(r, "attempts", 0, "gateway");
    snprintf(gw, sizeof gw, "%s", g ? g : "");
    p->result_free(r);
    return gw;
}

/* CR_ROUTE_FRESH_SPREAD decides as right after open (what `route --batch`, `test` and `diff`
 * need for every number) and leaves the shared counters alone: the live rotation goes on
 * where it was. */
static void test_fresh_spread(void **state)
{
    (void)state;
    cr_handle *h = open_gw(0);
    char fresh[CR_ANSWER_NAME], live1[CR_ANSWER_NAME];
    snprintf(fresh, sizeof fresh, "%s", first_ex(h, "4255550123", CR_ROUTE_FRESH_SPREAD));
    for (int i = 0; i < 5; i++)
        assert_string_equal(first_ex(h, "4255550123", CR_ROUTE_FRESH_SPREAD), fresh);
    snprintf(live1, sizeof live1, "%s", first_ex(h, "4255550123", 0));
    assert_string_equal(live1, fresh); /* the shared counter was still at zero */
    assert_string_not_equal(first_ex(h, "4255550123", 0), live1); /* it rotates */
    assert_string_equal(first_ex(h, "4255550123", CR_ROUTE_FRESH_SPREAD), fresh);
    assert_string_equal(first_ex(h, "4255550123", 0), live1); /* on from where it was */
    close_gw(h);
}

/* A down gateway's share goes evenly to the others, not all to the next one in the list;
 * interleaved with another route's traffic. */
static void test_spread_down_gateway_share(void **state)
{
    (void)state;
    cr_handle *h = open_gw(0);
    assert_int_equal(p->gateway_set_state(h, "GW3", CR_GATEWAY_DOWN), CR_ABI_OK);
    int n1 = 0, n2 = 0;
    for (int i = 0; i < 100; i++) {
        const char *a = attempts(h, "2125550123");
        assert_true(strcmp(a, "GW1,GW2") == 0 || strcmp(a, "GW2,GW1") == 0);
        n1 += strcmp(ans.attempts[0].gateway, "GW1") == 0;
        n2 += strcmp(ans.attempts[0].gateway, "GW2") == 0;
        attempts(h, "4255550123");
    }
    assert_int_equal(n1, 50);
    assert_int_equal(n2, 50);
    /* all three up: a third each */
    assert_int_equal(p->gateway_set_state(h, "GW3", CR_GATEWAY_AUTO), CR_ABI_OK);
    int n[3] = {0, 0, 0};
    for (int i = 0; i < 99; i++) {
        attempts(h, "2125550123");
        assert_int_equal(ans.nattempts, 3);
        n[ans.attempts[0].gateway[2] - '1']++;
        attempts(h, "2065550123");
    }
    assert_int_equal(n[0], 33);
    assert_int_equal(n[1], 33);
    assert_int_equal(n[2], 33);
    close_gw(h);
}

/* ports="1": a call holds the port from gateway_call to gateway_call_end; meanwhile the
 * gateway is skipped (state "full", not down) and the call cannot take a second port. */
static void test_capacity(void **state)
{
    (void)state;
    cr_handle *h = open_gw(0);
    assert_int_equal(strlen(attempts(h, "3125550123")), strlen("GW-P,GW3"));
    assert_int_equal(p->gateway_call(h, "GW-P", "call-1"), CR_ABI_OK);
    assert_int_equal(p->gateway_call(h, "GW-P", "call-1"), CR_ABI_OK); /* same call: no-op */
    assert_int_equal(p->gateway_call(h, "GW-P", "call-2"), CR_ABI_ELIMIT);
    for (int i = 0; i < 4; i++)
        assert_string_equal(attempts(h, "3125550123"), "GW3");
    /* the trace says why */
    cr_result *t = NULL;
    assert_int_equal(p->route_ex(h, FROM, "3125550123", NULL, 0, 0, &t), CR_ABI_OK);
    int full = 0;
    for (size_t i = 0; i < p->result_count(t, "trace"); i++)
        full += strstr(p->result_item(t, "trace", i, "text"),
                       "gateway 'GW-P' is full (1 port in use): skipped") != NULL;
    assert_int_equal(full, 1);
    p->result_free(t);
    cr_result *r = NULL;
    assert_int_equal(p->gateways(h, &r), CR_ABI_OK);
    int seen = 0;
    for (size_t i = 0; i < p->result_count(r, "gateways"); i++)
        if (strcmp(p->result_item(r, "gateways", i, "name"), "GW-P") == 0) {
            assert_string_equal(p->result_item(r, "gateways", i, "state"), "full");
            assert_string_equal(p->result_item(r, "gateways", i, "calls"), "1");
            assert_string_equal(p->result_item(r, "gateways", i, "ports"), "1");
            seen = 1;
        }
    assert_true(seen);
    p->result_free(r);
    /* the call moves on to GW3: its GW-P port is free again */
    assert_int_equal(p->gateway_call(h, "GW3", "call-1"), CR_ABI_OK);
    attempts(h, "3125550123");
    assert_int_equal(ans.nattempts, 2); /* GW-P offered again (either order: spreading) */
    assert_int_equal(p->gateway_call(h, "GW-P", "call-2"), CR_ABI_OK);
    assert_int_equal(p->gateway_call_end(h, "call-2"), CR_ABI_OK);
    assert_int_equal(p->gateway_call_end(h, "call-2"), CR_ABI_ENOENT);
    assert_int_equal(p->gateway_call(h, "GW-X", "call-3"), CR_ABI_ENOENT);
    assert_int_equal(p->gateway_call_end(h, "call-1"), CR_ABI_OK);
    close_gw(h);
}

/* 503 without Retry-After fails over that call only, until `threshold` in a row; an answer
 * resets the count; 408 / no answer holds down at once; 503 with Retry-After too. */
static void test_failure_classes(void **state)
{
    (void)state;
    cr_handle *h = open_gw(3);
    assert_int_equal(p->gateway_result(h, "GW1", 503, 0), 0);
    assert_int_equal(p->gateway_result(h, "GW1", 503, 0), 0);
    assert_int_equal(p->gateway_result(h, "GW1", 200, 0), 0); /* an answer: count reset */
    assert_int_equal(p->gateway_result(h, "GW1", 503, 0), 0);
    assert_int_equal(p->gateway_result(h, "GW1", 504, 0), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(strstr(attempts(h, "4255550123"), "GW1") != NULL, 1);
    assert_int_equal(p->gateway_result(h, "GW1", 503, 0), 1); /* third in a row */
    for (int i = 0; i < 4; i++)
        assert_string_equal(attempts(h, "4255550123"), "GW2");
    assert_int_equal(p->gateway_result(h, "GW2", 408, 0), 1);
    assert_int_equal(p->gateway_result(h, "GW3", 0, 0), 1);
    assert_int_equal(p->gateway_result(h, "GW-P", 503, 120), 1);
    assert_int_equal(p->gateway_result(h, "GW-P", 700, 0), CR_ABI_EINVAL);
    cr_result *r = NULL;
    assert_int_equal(p->gateways(h, &r), CR_ABI_OK);
    for (size_t i = 0; i < p->result_count(r, "gateways"); i++) {
        const char *name = p->result_item(r, "gateways", i, "name");
        assert_string_equal(p->result_item(r, "gateways", i, "state"), "down");
        const char *why = p->result_item(r, "gateways", i, "reason");
        if (strcmp(name, "GW1") == 0)
            assert_string_equal(why, "failures in a row");
        else if (strcmp(name, "GW-P") == 0)
            assert_string_equal(why, "503 with Retry-After");
        else
            assert_string_equal(why, "unreachable (408 or no answer)");
    }
    p->result_free(r);
    /* a probe answered: the unreachable hold-off of GW2 ends, not GW1's */
    assert_int_equal(p->gateway_probe(h, "GW2", 1), CR_ABI_OK);
    assert_string_equal(attempts(h, "4255550123"), "GW2");
    close_gw(h);
}

/* ABI 1.9 gateway_result_ex: the same failure classes and hold-offs as gateway_result
 * (one count of failures in a row between them), answered as flags, so that a host counts
 * failures without classifying codes itself. */
static void test_failure_classes_ex(void **state)
{
    (void)state;
    const int F = CR_GATEWAY_RESULT_FAILURE, D = CR_GATEWAY_RESULT_DOWN;
    assert_true(p->abi_minor >= 9);
    assert_true(CR_HAS(cr_plugin, p, gateway_result_ex) && p->gateway_result_ex != NULL);
    cr_handle *h = open_gw(3);
    assert_int_equal(p->gateway_result_ex(h, "GW1", 200, 0), 0);
    assert_int_equal(p->gateway_result_ex(h, "GW1", 486, 0), 0); /* the callee, not the gateway */
    assert_int_equal(p->gateway_result_ex(h, "GW1", 404, 0), 0);
    assert_int_equal(p->gateway_result_ex(h, "GW1", 500, 0), F);     /* 1 in a row: stays up */
    assert_int_equal(p->gateway_result(h, "GW1", 503, 0), 0);        /* 2 */
    assert_int_equal(p->gateway_result_ex(h, "GW1", 504, 0), F | D); /* 3: held down */
    assert_string_equal(attempts(h, "4255550123"), "GW2");
    assert_int_equal(p->gateway_result_ex(h, "GW2", 180, 0), 0);
    assert_int_equal(p->gateway_result_ex(h, "GW2", 599, 0), F);
    assert_int_equal(p->gateway_result_ex(h, "GW2", 600, 0), 0); /* resets the count */
    assert_int_equal(p->gateway_result_ex(h, "GW2", 502, 0), F);
    assert_int_equal(p->gateway_result_ex(h, "GW2", 502, 0), F);
    assert_int_equal(p->gateway_result_ex(h, "GW3", 408, 0), F | D);
    assert_int_equal(p->gateway_result_ex(h, "GW-P", 0, 0), F | D);
    assert_int_equal(p->gateway_result_ex(h, "GW2", 503, 30), F | D); /* Retry-After */
    assert_int_equal(p->gateway_result_ex(h, "GW2", 700, 0), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result_ex(h, "GW2", -1, 0), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result_ex(h, "", 503, 0), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result_ex(NULL, "GW2", 503, 0), CR_ABI_EINVAL);
    close_gw(h);
}

/* Manual state beats probes and failures; auto hands back to them. */
static void test_manual_state_and_probe(void **state)
{
    (void)state;
    cr_handle *h = open_gw(0);
    assert_int_equal(p->gateway_probe(h, "GW1", 0), CR_ABI_OK);
    for (int i = 0; i < 3; i++)
        assert_string_equal(attempts(h, "4255550123"), "GW2");
    assert_int_equal(p->gateway_set_state(h, "GW1", CR_GATEWAY_UP), CR_ABI_OK);
    assert_non_null(strstr(attempts(h, "4255550123"), "GW1"));
    assert_int_equal(p->gateway_set_state(h, "GW1", CR_GATEWAY_AUTO), CR_ABI_OK);
    assert_string_equal(attempts(h, "4255550123"), "GW2");
    assert_int_equal(p->gateway_probe(h, "GW1", 1), CR_ABI_OK);
    assert_non_null(strstr(attempts(h, "4255550123"), "GW1"));
    assert_int_equal(p->gateway_set_state(h, "GW2", CR_GATEWAY_DOWN), CR_ABI_OK);
    for (int i = 0; i < 3; i++)
        assert_string_equal(attempts(h, "4255550123"), "GW1");
    cr_result *r = NULL;
    assert_int_equal(p->gateways(h, &r), CR_ABI_OK);
    for (size_t i = 0; i < p->result_count(r, "gateways"); i++)
        if (strcmp(p->result_item(r, "gateways", i, "name"), "GW2") == 0) {
            assert_string_equal(p->result_item(r, "gateways", i, "state"), "down");
            assert_string_equal(p->result_item(r, "gateways", i, "reason"), "manual");
            assert_string_equal(p->result_item(r, "gateways", i, "mode"), "down");
        }
    p->result_free(r);
    assert_int_equal(p->gateway_set_state(h, "nope", CR_GATEWAY_DOWN), CR_ABI_ENOENT);
    assert_int_equal(p->gateway_set_state(h, "GW1", 7), CR_ABI_EINVAL);
    close_gw(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spread_per_route_interleaved),
        cmocka_unit_test(test_fresh_spread),
        cmocka_unit_test(test_spread_down_gateway_share),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_failure_classes),
        cmocka_unit_test(test_failure_classes_ex),
        cmocka_unit_test(test_manual_state_and_probe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

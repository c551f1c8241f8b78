/*
 * The host's hot path through the real libcallroute.so: route_answer (the plain struct a
 * SIP server fills per call), its copy for hosts built against a shorter struct, and
 * gateway_failed's hold-off as later decisions see it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abi_load.h"

static const cr_plugin *p;

static const char *const FROM = "sip:alice@contoso.com";
static const char *const LOCAL = "+14255550199"; /* Redmond Local Route, then Universal */

static int setup(void **state)
{
    (void)state;
    p = abi_load(NULL);
    return p && CR_HAS(cr_plugin, p, route_answer) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    abi_unload();
    return 0;
}

static cr_handle *open_contoso(int holdoff_s)
{
    cr_open_options o = {0};
    o.size = sizeof o;
    o.gateway_holdoff_s = holdoff_s;
    char err[1024];
    cr_handle *h = NULL;
    assert_int_equal(p->open(getenv("CR_CONFIG"), &o, &h, err, sizeof err), CR_ABI_OK);
    return h;
}

/* Every member this minor version declares is there and set. */
static void test_table_complete(void **state)
{
    (void)state;
    assert_int_equal(p->abi_major, CR_ABI_MAJOR);
    assert_true(p->abi_minor >= CR_ABI_MINOR);
    assert_true(p->size >= sizeof(cr_plugin));
    void *const *fn = (void *const *)&p->strerror;
    void *const *end = (void *const *)((const char *)p + sizeof(cr_plugin));
    for (; fn < end; fn++)
        if (fn != (void *const *)&p->bench) /* a development entry, may be absent */
            assert_non_null(*fn);
}

/* Each error code has its own name. */
static void test_strerror_distinct(void **state)
{
    (void)state;
    const int codes[] = {CR_ABI_OK,     CR_ABI_EINVAL, CR_ABI_ENOMEM, CR_ABI_ECONFIG,
                         CR_ABI_ENOENT, CR_ABI_ERANGE, CR_ABI_EIO,    CR_ABI_EVERSION,
                         CR_ABI_ESTATE, CR_ABI_ELIMIT};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *a = p->strerror(codes[i]);
        assert_non_null(a);
        assert_true(a[0] != 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(a, p->strerror(codes[j]));
    }
    assert_non_null(p->strerror(-1000));
}

/* route_answer gives what route gives: the same kind, number and attempts, plus each
 * gateway's address. */
static void test_route_answer_matches_route(void **state)
{
    (void)state;
    cr_handle *h = open_contoso(0);
    for (int i = 0; i < 4; i++) { /* the spread changes the order between decisions */
        cr_route_answer a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        assert_int_equal(p->route_answer(h, FROM, LOCAL, NULL, 0, &a), CR_ABI_OK);
        /* route() right after takes the next spread position: compare sets, and the tail */
        cr_result *r = NULL;
        assert_int_equal(p->route(h, FROM, LOCAL, NULL, 0, &r), CR_ABI_OK);
        assert_int_equal(a.kind, CR_DECISION_OUTBOUND);
        assert_int_equal(p->result_kind(r), a.kind);
        assert_string_equal(a.normalized, p->result_get(r, "normalized"));
        assert_string_equal(a.profile, "Redmond.contoso.com");
        assert_int_equal(a.nattempts, 4);
        assert_int_equal(a.total_attempts, 4);
        assert_int_equal(p->result_count(r, "attempts"), 4);
        for (size_t k = 0; k < 4; k++) { /* the same gateway has the same URI in both */
            size_t j = 0;
            while (j < 4 &&
                   strcmp(a.attempts[k].gateway, p->result_item(r, "attempts", j, "gateway")) != 0)
                j++;
            assert_true(j < 4);
            assert_string_equal(a.attempts[k].uri, p->result_item(r, "attempts", j, "uri"));
            assert_string_equal(a.attempts[k].route, p->result_item(r, "attempts", j, "route"));
            assert_non_null(strstr(a.attempts[k].address, "127.0.0.1:507"));
            int ny = strcmp(a.attempts[k].gateway, "NY-GW1") == 0;
            assert_int_equal(a.attempts[k].remove_plus, ny); /* NY-GW1 strips '+' */
            if (ny)
                assert_string_equal(a.attempts[k].uri, "sip:14255550199@127.0.0.1:5074;user=phone");
        }
        /* the local route's two gateways first, then the universal route's */
        for (size_t k = 0; k < 2; k++) {
            assert_string_equal(a.attempts[k].route, "Redmond Local Route");
            assert_string_equal(a.attempts[k + 2].route, "Universal Route");
        }
        assert_string_not_equal(a.attempts[0].gateway, a.attempts[1].gateway);
        p->result_free(r);
    }
    cr_route_answer a = {.size = sizeof a};
    assert_int_equal(p->route_answer(h, FROM, "1900", NULL, 0, &a), CR_ABI_OK);
    assert_int_equal(a.kind, CR_DECISION_BLOCKED);
    assert_int_equal(a.nattempts, 0);
    assert_true(a.reason[0] != 0);
    p->close(h);
}

/* A host built against a shorter cr_route_answer (two attempts): the plugin writes nothing
 * past the size the host gave, and fills what fits. */
static void test_route_answer_short_struct(void **state)
{
    (void)state;
    cr_handle *h = open_contoso(0);
    size_t short_size = offsetof(cr_route_answer, attempts) + 2 * sizeof(cr_route_attempt);
    unsigned char *buf = malloc(sizeof(cr_route_answer));
    memset(buf, 0xA5, sizeof(cr_route_answer));
    cr_route_answer *a = (cr_route_answer *)buf;
    a->size = (uint32_t)short_size;
    assert_int_equal(p->route_answer(h, FROM, LOCAL, NULL, 0, a), CR_ABI_OK);
    assert_int_equal(a->kind, CR_DECISION_OUTBOUND);
    assert_int_equal(a->nattempts, 2);
    assert_int_equal(a->total_attempts, 4);
    assert_non_null(strstr(a->attempts[1].uri, "+14255550199@"));
    for (size_t i = short_size; i < sizeof(cr_route_answer); i++)
        assert_int_equal(buf[i], 0xA5);
    /* a size smaller than the fixed part is refused without writing */
    memset(buf, 0xA5, sizeof(cr_route_answer));
    a->size = 8;
    assert_int_not_equal(p->route_answer(h, FROM, LOCAL, NULL, 0, a), CR_ABI_OK);
    for (size_t i = sizeof a->size; i < sizeof(cr_route_answer); i++)
        assert_int_equal(buf[i], 0xA5);
    free(buf);
    p->close(h);
}

static int attempts_naming(cr_handle *h, const char *gw)
{
    cr_route_answer a = {.size = sizeof a};
    assert_int_equal(p->route_answer(h, FROM, LOCAL, NULL, 0, &a), CR_ABI_OK);
    int n = 0;
    for (uint32_t i = 0; i < a.nattempts; i++)
        n += strcmp(a.attempts[i].gateway, gw) == 0;
    return n;
}

/* gateway_failed holds the gateway down: no decision offers it until the hold-off ends,
 * then it is offered again; the gateways report says so. */
static void test_gateway_holdoff(void **state)
{
    (void)state;
    cr_handle *h = open_contoso(1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(attempts_naming(h, "Red-GW1"), 1);
    assert_int_equal(p->gateway_failed(h, "Red-GW1"), CR_ABI_OK);
    for (int i = 0; i < 8; i++)
        assert_int_equal(attempts_naming(h, "Red-GW1"), 0);
    cr_result *g = NULL;
    assert_int_equal(p->gateways(h, &g), CR_ABI_OK);
    int seen = 0;
    for (size_t i = 0; i < p->result_count(g, "gateways"); i++)
        if (strcmp(p->result_item(g, "gateways", i, "name"), "Red-GW1") == 0) {
            assert_string_equal(p->result_item(g, "gateways", i, "state"), "down");
            seen = 1;
        }
    assert_true(seen);
    p->result_free(g);
    /* the hold-off (1 s) ends: the gateway is offered again (bounded wait, no timing claim) */
    int back = 0;
    for (int i = 0; i < 40 && !back; i++) {
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
        back = attempts_naming(h, "Red-GW1") == 1;
    }
    assert_true(back);
    assert_int_equal(p->gateway_failed(h, ""), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_failed(h, NULL), CR_ABI_EINVAL);
    p->close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_strerror_distinct),
        cmocka_unit_test(test_route_answer_matches_route),
        cmocka_unit_test(test_route_answer_short_struct),
        cmocka_unit_test(test_gateway_holdoff),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

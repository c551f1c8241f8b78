/*
 * route_json (ABI 1.7) through the real libcallroute.so: the decision's JSON line written
 * straight from the decision is, byte for byte, result_json of route_ex's result, for every
 * kind of decision, with down gateways, escaped names and lines past its 8 KB stack buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi_load.h"

static const cr_plugin *p;
static cr_handle *contoso;

static int setup(void **state)
{
    (void)state;
    p = abi_load(NULL);
    if (!p || !CR_HAS(cr_plugin, p, route_json) || !p->route_json)
        return -1;
    cr_open_options o = {.size = sizeof o};
    char err[512];
    return p->open(getenv("CR_CONFIG"), &o, &contoso, err, sizeof err) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    p->close(contoso);
    abi_unload();
    return 0;
}

typedef struct line {
    char *s;
    size_t n;
    int calls;
} line;

static void put(void *ud, const char *json, size_t len)
{
    line *l = ud;
    l->calls++;
    free(l->s);
    l->s = malloc(len + 1);
    assert_non_null(l->s);
    memcpy(l->s, json, len);
    l->s[len] = 0;
    l->n = len;
}

/* route_json and route_ex + result_json give the same bytes and the same kind. */
static void same_as_result(cr_handle *h, const char *from, const char *number,
                           const char *const *down, size_t ndown, unsigned flags)
{
    cr_result *r = NULL;
    assert_int_equal(p->route_ex(h, from, number, down, ndown, flags, &r), CR_ABI_OK);
    size_t need = p->result_json(r, NULL, 0);
    char *want = malloc(need + 1);
    assert_non_null(want);
    p->result_json(r, want, need + 1);
    line got = {NULL, 0, 0};
    int kind = 12345;
    assert_int_equal(p->route_json(h, from, number, down, ndown, flags, put, &got, &kind),
                     CR_ABI_OK);
    assert_int_equal(got.calls, 1);
    assert_int_equal(got.n, need);
    assert_string_equal(got.s, want);
    assert_int_equal(kind, p->result_kind(r));
    free(got.s);
    free(want);
    p->result_free(r);
}

static void test_every_kind_of_decision(void **state)
{
    (void)state;
    static const char *const numbers[] = {
        "+14255550199",            /* outbound, Redmond */
        "+12145550100",            /* outbound, Universal Route */
        "50101",                   /* internal: bob's extension */
        "+19005551212",            /* blocked */
        "911",                     /* emergency */
        "hello",                   /* not applicable */
        "+1425555\xff\x01\"\\",    /* bytes JSON escapes */
        "tel:5550100;ext=1;ext=2", /* refused with a reason that quotes the input */
        "sips:+14255550199@contoso.com",
        "",
    };
    static const char *const from[] = {"sip:alice@contoso.com", "sip:carol@contoso.com",
                                       "sip:nobody@contoso.com", "\xc3("};
    for (size_t f = 0; f < sizeof from / sizeof *from; f++)
        for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
            same_as_result(contoso, from[f], numbers[i], NULL, 0, CR_ROUTE_FRESH_SPREAD);
            same_as_result(contoso, from[f], numbers[i], NULL, 0,
                           CR_ROUTE_FRESH_SPREAD | CR_ROUTE_NO_TRACE);
        }
}

static void test_down_gateways(void **state)
{
    (void)state;
    const char *down[] = {"Red-GW1", "Dallas-GW1"};
    same_as_result(contoso, "sip:alice@contoso.com", "+12145550100", down, 2,
                   CR_ROUTE_FRESH_SPREAD);
    same_as_result(contoso, "sip:alice@contoso.com", "+14255550199", down, 1,
                   CR_ROUTE_FRESH_SPREAD);
}

/* Without CR_ROUTE_FRESH_SPREAD both advance the shared counters alike. */
static void test_spread_counters_advance_alike(void **state)
{
    (void)state;
    cr_handle *a = NULL, *b = NULL;
    cr_open_options o = {.size = sizeof o};
    char err[512];
    assert_int_equal(p->open(getenv("CR_CONFIG"), &o, &a, err, sizeof err), 0);
    assert_int_equal(p->open(getenv("CR_CONFIG"), &o, &b, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        cr_result *r = NULL;
        assert_int_equal(p->route_ex(a, "sip:alice@contoso.com", "+14255550199", NULL, 0, 0, &r),
                         0);
        size_t need = p->result_json(r, NULL, 0);
        char *want = malloc(need + 1);
        assert_non_null(want);
        p->result_json(r, want, need + 1);
        line got = {NULL, 0, 0};
        assert_int_equal(
            p->route_json(b, "sip:alice@contoso.com", "+14255550199", NULL, 0, 0, put, &got, NULL),
            0);
        assert_string_equal(got.s, want);
        free(got.s);
        free(want);
        p->result_free(r);
    }
    p->close(a);
    p->close(b);
}

/* 40 gateways whose names hold '"', '\\' and UTF-8: a line of about 11 KB. */
static void test_line_longer_than_the_stack_buffer(void **state)
{
    (void)state;
    char path[] = "/tmp/cr_route_json_XXXXXX.xml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    char pad[101];
    memset(pad, 'x', 100);
    pad[100] = 0;
    fprintf(f, "<callroute xmlns=\"urn:callroute:config:1\"><domains><domain>example.com"
               "</domain></domains><phoneUsages><usage name=\"Any\"/></phoneUsages>"
               "<voicePolicies default=\"P\"><voicePolicy name=\"P\"><usage>Any</usage>"
               "</voicePolicy></voicePolicies><gateways>");
    for (int i = 0; i < 40; i++)
        fprintf(f,
                "<gateway name=\"gw%02d &quot;q&quot; \\ \xc3\xa9 %s\" address=\"sip:10.0.0.%d\"/>",
                i, pad, i);
    fprintf(f,
            "</gateways><routes><route name=\"all &quot;routes&quot; %s\" pattern=\"^\\+\\d+$\">"
            "<usage>Any</usage>",
            pad);
    for (int i = 0; i < 40; i++)
        fprintf(f, "<gateway>gw%02d &quot;q&quot; \\ \xc3\xa9 %s</gateway>", i, pad);
    fprintf(f, "</route></routes><users><user uri=\"sip:a@example.com\" line=\"tel:+14255550100\""
               " enterpriseVoice=\"true\"/></users></callroute>\n");
    fclose(f);
    cr_handle *h = NULL;
    cr_open_options o = {.size = sizeof o};
    char err[1024];
    int rc = p->open(path, &o, &h, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, 0);
    line got = {NULL, 0, 0};
    assert_int_equal(p->route_json(h, "sip:a@example.com", "+14255550199", NULL, 0,
                                   CR_ROUTE_FRESH_SPREAD, put, &got, NULL),
                     0);
    assert_true(got.n > 8192);
    free(got.s);
    same_as_result(h, "sip:a@example.com", "+14255550199", NULL, 0, CR_ROUTE_FRESH_SPREAD);
    p->close(h);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    line got = {NULL, 0, 0};
    int kind = 7;
    assert_int_equal(p->route_json(NULL, "sip:a@x", "1", NULL, 0, 0, put, &got, &kind),
                     CR_ABI_EINVAL);
    assert_int_equal(p->route_json(contoso, NULL, "1", NULL, 0, 0, put, &got, &kind),
                     CR_ABI_EINVAL);
    assert_int_equal(p->route_json(contoso, "sip:a@x", NULL, NULL, 0, 0, put, &got, &kind),
                     CR_ABI_EINVAL);
    assert_int_equal(p->route_json(contoso, "sip:a@x", "1", NULL, 0, 0, NULL, &got, &kind),
                     CR_ABI_EINVAL);
    assert_int_equal(got.calls, 0);
    assert_int_equal(kind, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_of_decision),
        cmocka_unit_test(test_down_gateways),
        cmocka_unit_test(test_spread_counters_advance_alike),
        cmocka_unit_test(test_line_longer_than_the_stack_buffer),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

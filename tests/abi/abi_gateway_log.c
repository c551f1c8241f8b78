/*
 * One log line per gateway failure (issue 16): the library logs each failure it is told of
 * (gateway_result) once, with the code and the outcome (held down, or stays up and how many
 * in a row); the module logs none of its own. Through the real libcallroute.so with a host
 * log callback that records the lines.
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
static char lines[16][512];
static int nlines;

static void record(void *ud, int level, const char *message)
{
    (void)ud;
    (void)level;
    if (strstr(message, "gateway") && nlines < 16)
        snprintf(lines[nlines++], sizeof lines[0], "%s", message);
}

static int setup(void **state)
{
    (void)state;
    p = abi_load(record);
    return p && CR_HAS(cr_plugin, p, gateway_result) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    abi_unload();
    return 0;
}

/* The lines logged by one gateway_result call (its return value in *down). */
static int result_lines(cr_handle *h, const char *gw, int code, int ra, int *down)
{
    nlines = 0;
    *down = p->gateway_result(h, gw, code, ra);
    return nlines;
}

static void test_one_line_per_failure(void **state)
{
    (void)state;
    cr_open_options o = {0};
    o.size = sizeof o;
    o.gateway_holdoff_s = 60;
    o.gateway_fail_threshold = 2;
    char err[1024];
    cr_handle *h = NULL;
    int down;
    assert_int_equal(p->open(getenv("CR_GW_CONFIG"), &o, &h, err, sizeof err), CR_ABI_OK);

    /* a 503 under the threshold: one line, the code, stays up, 1 of 2 */
    assert_int_equal(result_lines(h, "GW1", 503, 0, &down), 1);
    assert_int_equal(down, 0);
    assert_non_null(strstr(lines[0], "gateway GW1 failed (503): stays up (1 of 2 in a row)"));
    /* the second: one line, marked down */
    assert_int_equal(result_lines(h, "GW1", 504, 0, &down), 1);
    assert_int_equal(down, 1);
    assert_non_null(strstr(lines[0], "gateway GW1 failed (504): marked down for 60 s"));
    /* no answer in time (code 0) reads as 408 */
    assert_int_equal(result_lines(h, "GW2", 0, 0, &down), 1);
    assert_non_null(strstr(lines[0], "gateway GW2 failed (408): marked down for 60 s"));
    /* 503 with Retry-After: held down that long */
    assert_int_equal(result_lines(h, "GW3", 503, 120, &down), 1);
    assert_non_null(strstr(lines[0], "gateway GW3 failed (503): marked down for 120 s"));
    /* an answer is no failure: nothing logged */
    assert_int_equal(result_lines(h, "GW3", 486, 0, &down), 0);
    p->close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_line_per_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

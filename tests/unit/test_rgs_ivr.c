/* The IVR driver interface (cr_rgs_ivr_driver) with a scripted fake driver: steps become
 * actions, inputs come back, a queue step hands the call to the match making, and `end` is
 * called exactly once per call. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "testutil.h"

typedef struct fake {
    int started, ended;
    char script[256];
} fake;

static int start(void *ud, const cr_rgs_ivr_call *call, void **state, cr_rgs_ivr_step *st)
{
    fake *f = ud;
    f->started++;
    snprintf(f->script, sizeof f->script, "%s", call->workflow->script);
    *state = f;
    st->op = CR_RGS_IVR_PLAY;
    strcpy(st->arg, "menu.wav");
    return 0;
}

static int input(void *ud, void *state, cr_rgs_ivr_input_kind kind, const char *text, int64_t now,
                 int64_t unix_ms, cr_rgs_ivr_step *st)
{
    switch (kind) {
    case CR_RGS_IVR_IN_PROMPT_DONE:
        st->op = CR_RGS_IVR_COLLECT;
        strcpy(st->arg, "choose.wav");
        strcpy(st->choices, "1 2");
        st->timer_ms = 5000;
        return 0;
    case CR_RGS_IVR_IN_DTMF:
        if (strcmp(text, "1") == 0) {
            st->op = CR_RGS_IVR_QUEUE;
            strcpy(st->arg, "Serial");
        } else if (strcmp(text, "9") == 0) {
            return CR_EINVAL;
        } else {
            st->op = CR_RGS_IVR_TRANSFER;
            strcpy(st->arg, "sip:benefits-desk@contoso.com");
        }
        return 0;
    default:
        st->op = CR_RGS_IVR_HANGUP;
        strcpy(st->arg, "no_input");
        return 0;
    }
}

static void end(void *ud, void *state)
{
    ((fake *)ud)->ended++;
}

static char out[8192];

static void emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    size_t n = strlen(out);
    snprintf(out + n, sizeof out - n, "%lld %s %s%s%s\n", (long long)(at / 1000), call, action,
             args[0] ? " " : "", args);
}

static void feed(cr_rgs_engine *e, int64_t s, const char *text)
{
    cr_rgs_event ev;
    char err[256];
    assert_int_equal(cr_rgs_event_parse(text, &ev, err, sizeof err), CR_OK);
    cr_rgs_engine_advance(e, s * 1000, emit, NULL);
    assert_int_equal(cr_rgs_engine_event(e, s * 1000, &ev, emit, NULL, err, sizeof err), CR_OK);
}

static void test_ivr_driver(void **state)
{
    cr_rgs_config *cfg;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rgs_xml_load(cr_test_src("tests/rgs/rgs.xml"), &cfg, &d), CR_OK);
    cr_diag_free(&d);
    fake f = {0};
    cr_rgs_ivr_driver drv = {&f, start, input, end};
    cr_rgs_engine_options opt = {.start_unix_ms = 1799053200000LL, .ivr = &drv};
    cr_rgs_engine *e;
    char err[256];
    assert_int_equal(cr_rgs_engine_open(cfg, &opt, &e, err, sizeof err), CR_OK);
    out[0] = 0;
    feed(e, 0, "call i1 sip:a@fabrikam.com sip:benefits@contoso.com");
    feed(e, 2, "prompt_done i1");
    feed(e, 3, "dtmf i1 1"); /* to queue Serial */
    feed(e, 4, "call i2 sip:b@fabrikam.com sip:benefits@contoso.com");
    feed(e, 5, "prompt_done i2");
    feed(e, 6, "prompt_done i2"); /* the collect prompt ended: 5 s to answer */
    feed(e, 7, "answer i1 sip:s1@contoso.com");
    feed(e, 20, "call i3 sip:c@fabrikam.com sip:benefits@contoso.com");
    feed(e, 21, "dtmf i3 2");
    feed(e, 22, "call i4 sip:d@fabrikam.com sip:benefits@contoso.com");
    feed(e, 23, "hangup i4");
    feed(e, 24, "call i5 sip:e@fabrikam.com sip:benefits@contoso.com");
    feed(e, 25, "dtmf i5 9");
    cr_rgs_engine_advance(e, 60000, emit, NULL);
    assert_string_equal(out, "0 i1 answer\n"
                             "0 i1 play menu.wav\n"
                             "2 i1 play choose.wav\n"
                             "2 i1 collect 1 2\n"
                             "3 i1 moh default\n"
                             "3 i1 ring sip:s1@contoso.com\n"
                             "4 i2 answer\n"
                             "4 i2 play menu.wav\n"
                             "5 i2 play choose.wav\n"
                             "5 i2 collect 1 2\n"
                             "7 i1 bridge sip:s1@contoso.com\n"
                             "11 i2 hangup no_input\n"
                             "20 i3 answer\n"
                             "20 i3 play menu.wav\n"
                             "21 i3 transfer sip:benefits-desk@contoso.com\n"
                             "22 i4 answer\n"
                             "22 i4 play menu.wav\n"
                             "24 i5 answer\n"
                             "24 i5 play menu.wav\n"
                             "25 i5 hangup ivr_error\n");
    assert_int_equal(f.started, 5);
    assert_int_equal(f.ended, 5);
    assert_non_null(strstr(f.script, "tests/rgs/benefits.lua"));
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ivr_driver)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Hostile input to the engine (issue 10): route patterns the index cannot pre-select,
 * dialed-string parameters given twice or with unusable values, and sips: Request-URIs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_engine.h"
#include "cr_rules.h"
#include "testutil.h"

#define DOC_HEAD                                                                                   \
    "<callroute xmlns='urn:callroute:config:1'>"                                                   \
    "<domains><domain>contoso.com</domain></domains>"                                              \
    "<locationProfiles default='Redmond'><locationProfile name='Redmond'>"                         \
    "<rule name='7digit' pattern='^(\\d{7})$' translation='+1425$1'/>"                             \
    "</locationProfile><locationProfile name='Dallas'>"                                            \
    "<rule name='7digit' pattern='^(\\d{7})$' translation='+1214$1'/>"                             \
    "</locationProfile></locationProfiles>"                                                        \
    "<phoneUsages><usage name='Local'/></phoneUsages>"                                             \
    "<voicePolicies default='P'><voicePolicy name='P'><usage>Local</usage></voicePolicy>"          \
    "</voicePolicies>"                                                                             \
    "<gateways><gateway name='GW1' address='sip:192.0.2.10:5060'/></gateways>"

#define DOC_TAIL                                                                                   \
    "<users><user uri='sip:alice@contoso.com' line='tel:+14255550100' enterpriseVoice='true'/>"    \
    "</users></callroute>"

static cr_config *cfg;

static int setup(void **state)
{
    (void)state;
    cfg = cr_test_load_xml(DOC_HEAD
                           "<routes><route name='Any' pattern='^\\+\\d+$'>"
                           "<usage>Local</usage><gateway>GW1</gateway></route></routes>" DOC_TAIL);
    return cfg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cr_config_free(cfg);
    return 0;
}

static cr_decision dec;

static const cr_decision *decide(const char *dialed)
{
    assert_int_equal(cr_route_decide(cfg, "sip:alice@contoso.com", dialed, NULL, &dec, NULL),
                     CR_OK);
    return &dec;
}

/* fuzz_config found it: a route whose pattern gives the index no entries at all, while no
 * other route has any either, made the index build memcpy from a NULL array (UBSan abort in
 * sanitizer builds). Fails before the fix only in a -DCR_SANITIZE=undefined build. */
static void test_route_pattern_without_index_entries_loads(void **state)
{
    (void)state;
    cr_config *c = cr_test_load_xml(DOC_HEAD "<routes><route name='Odd' pattern='^\\+11\\{0(d})$'>"
                                             "<usage>Local</usage><gateway>GW1</gateway></route>"
                                             "</routes>" DOC_TAIL);
    assert_non_null(c);
    cr_decision d;
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", "+11{0d}", NULL, &d, NULL), CR_OK);
    assert_int_equal(d.kind, CR_NOT_APPLICABLE); /* not a phone number */
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", "+1100", NULL, &d, NULL), CR_OK);
    assert_int_equal(d.kind, CR_BLOCKED);
    cr_config_free(c);
}

static void test_sips_request_uri_keeps_sips_on_gateway_attempts(void **state)
{
    (void)state;
    const cr_decision *d = decide("sips:+12065550100@contoso.com;user=phone");
    assert_int_equal(d->kind, CR_OUTBOUND);
    assert_int_equal(d->nattempts, 1);
    assert_string_equal(cr_test_uri(cfg, d, 0), "sips:+12065550100@192.0.2.10:5060;user=phone");
    d = decide("SIPS:+12065550100@contoso.com;user=phone");
    assert_string_equal(cr_test_uri(cfg, d, 0), "sips:+12065550100@192.0.2.10:5060;user=phone");
    d = decide("sip:+12065550100@contoso.com;user=phone");
    assert_string_equal(cr_test_uri(cfg, d, 0), "sip:+12065550100@192.0.2.10:5060;user=phone");
    d = decide("+12065550100");
    assert_string_equal(cr_test_uri(cfg, d, 0), "sip:+12065550100@192.0.2.10:5060;user=phone");
}

static void test_phone_context_names_the_profile(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:5550100;phone-context=Dallas@contoso.com;user=phone");
    assert_int_equal(d->kind, CR_OUTBOUND);
    assert_string_equal(d->normalized, "+12145550100");
}

static void test_phone_context_percent_or_control_is_not_applicable(void **state)
{
    (void)state;
    static const char *bad[] = {
        "sip:5550100;phone-context=%00@contoso.com;user=phone",
        "sip:5550100;phone-context=Dal%6cas@contoso.com;user=phone",
        "tel:5550100;phone-context=Dallas\x01",
        "5550100;phone-context=\x7f",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const cr_decision *d = decide(bad[i]);
        assert_int_equal(d->kind, CR_NOT_APPLICABLE);
        assert_non_null(strstr(cr_test_reason(d), "phone-context= value has a control or percent"));
        assert_int_equal(d->nattempts, 0);
    }
    cr_number n;
    assert_int_equal(cr_number_parse("tel:+14255550100;ext=50%31", &n), CR_EINVAL);
    assert_non_null(strstr(n.invalid, ";ext= value"));
}

static void test_duplicate_ext_or_phone_context_is_an_error(void **state)
{
    (void)state;
    cr_number n;
    assert_int_equal(cr_number_parse("tel:+14255550100;ext=50100;ext=50101", &n), CR_EINVAL);
    assert_string_equal(n.invalid, "duplicate ;ext= parameter");
    assert_int_equal(cr_number_parse("tel:5550100;phone-context=Dallas;PHONE-CONTEXT=Redmond", &n),
                     CR_EINVAL);
    assert_string_equal(n.invalid, "duplicate ;phone-context= parameter");
    assert_int_equal(cr_number_parse("tel:5550100;phone-context=;phone-context=Dallas", &n),
                     CR_EINVAL);
    const cr_decision *d = decide("sip:5550100;phone-context=Dallas;phone-context=Redmond"
                                  "@contoso.com;user=phone");
    assert_int_equal(d->kind, CR_NOT_APPLICABLE);
    assert_non_null(strstr(cr_test_reason(d), "duplicate ;phone-context= parameter"));
    /* one of each is fine */
    assert_int_equal(cr_number_parse("tel:+14255550100;ext=50100;phone-context=Redmond", &n),
                     CR_OK);
    assert_null(n.invalid);
    assert_string_equal(n.ext, "50100");
    assert_string_equal(n.context, "Redmond");
}

/* "sip:+14255550100@" names no host: not a supported domain's URI, and not alice's line */
static void test_sip_uri_with_empty_host_is_an_error(void **state)
{
    (void)state;
    static const char *bad[] = {"sip:+14255550100@", "sip:+14255550100@;user=phone",
                                "sips:5550100@:5061", "sip:+14255550100@>"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_number n;
        assert_int_equal(cr_number_parse(bad[i], &n), CR_EINVAL);
        assert_non_null(strstr(n.invalid, "no host"));
        const cr_decision *d = decide(bad[i]);
        assert_int_equal(d->kind, CR_NOT_APPLICABLE);
        assert_non_null(strstr(cr_test_reason(d), "no host"));
        assert_int_equal(d->nattempts, 0);
    }
    cr_number n;
    assert_int_equal(cr_number_parse("sip:+14255550100@contoso.com", &n), CR_OK);
    assert_string_equal(n.host, "contoso.com");
}

static void test_overlong_parameter_is_an_error_not_truncated(void **state)
{
    (void)state;
    char in[400];
    snprintf(in, sizeof in, "tel:5550100;phone-context=%0200d", 0);
    cr_number n;
    assert_int_equal(cr_number_parse(in, &n), CR_EINVAL);
    assert_non_null(strstr(n.invalid, "too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_pattern_without_index_entries_loads),
        cmocka_unit_test(test_sips_request_uri_keeps_sips_on_gateway_attempts),
        cmocka_unit_test(test_phone_context_names_the_profile),
        cmocka_unit_test(test_phone_context_percent_or_control_is_not_applicable),
        cmocka_unit_test(test_duplicate_ext_or_phone_context_is_an_error),
        cmocka_unit_test(test_sip_uri_with_empty_host_is_an_error),
        cmocka_unit_test(test_overlong_parameter_is_an_error_not_truncated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

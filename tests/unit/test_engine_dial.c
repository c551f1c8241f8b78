/*
 * Device (off-hook) dialing and inbound normalization from gateways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cr_engine.h"
#include "cr_rules.h"
#include "testutil.h"

static cr_config *cfg;

static int setup(void **state)
{
    (void)state;
    const char *xml =
        "<callroute xmlns='urn:callroute:config:1'>\n"
        "<domains><domain>contoso.com</domain></domains>\n"
        "<locationProfiles default='R2007'>\n"
        /* the guide's OCS 2007 ambiguity: 9425... collides with a 5-digit rule */
        "<locationProfile name='R2007'>\n"
        "<rule name='9425' pattern='^9425(\\d{7})$' translation='+1425$1'/>\n"
        "<rule name='5digit' pattern='^(\\d{5})$' translation='+125355$1'/>\n"
        "</locationProfile>\n"
        /* the R2 fix: external access prefix 9, the 5-digit rule flagged internal */
        "<locationProfile name='R2' externalAccessPrefix='9'>\n"
        "<rule name='LD' pattern='^1(\\d{10})$' translation='+1$1'/>\n"
        "<rule name='10digit' pattern='^(425\\d{7})$' translation='+1$1'/>\n"
        "<rule name='5digit' pattern='^(\\d{5})$' translation='+125355$1' "
        "internalExtension='true'/>\n"
        "<rule name='clientOnly' pattern='^(\\d{7})$' translation='+1425$1' "
        "doNotDialFromDevice='true'/>\n"
        "<rule name='tollfree' pattern='^(800\\d{7})$' translation='+1$1'/>\n"
        "</locationProfile>\n"
        "<locationProfile name='Private'>\n"
        "<rule name='ext' pattern='^(\\d{4})$' translation='555$1'/>\n"
        "</locationProfile>\n"
        "</locationProfiles>\n"
        "<phoneUsages><usage name='U'/></phoneUsages>\n"
        "<voicePolicies><voicePolicy name='P'><usage>U</usage></voicePolicy></voicePolicies>\n"
        "<gateways><gateway name='PBX' address='sip:192.0.2.50:5060' "
        "locationProfile='Private'/>\n"
        "<gateway name='GW' address='sip:192.0.2.60'/></gateways>\n"
        "<routes><route name='All' pattern='.*'><usage>U</usage><gateway>PBX</gateway>"
        "<gateway>GW</gateway></route></routes>\n"
        "<users><user uri='sip:pat@contoso.com' line='tel:5550123' enterpriseVoice='true'/>\n"
        "<user uri='sip:eve@contoso.com' line='tel:+12535590101' enterpriseVoice='true'/>\n"
        "</users></callroute>\n";
    cfg = cr_test_load_xml(xml);
    return cfg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cr_config_free(cfg);
    return 0;
}

static cr_dial_answer dial(const char *profile, const char *digits, const char **rule)
{
    static char norm[CR_NUMBER_MAX + 1];
    const cr_rule *r = NULL;
    cr_dial_answer a =
        cr_profile_dial(cr_config_profile_find(cfg, profile), digits, &r, norm, sizeof norm, NULL);
    if (rule)
        *rule = r ? r->name : NULL;
    return a;
}

/* OCS 2007: a user dialing 94255550102 places the call as soon as the first five digits
 * ("94255") match the 5-digit rule: the ambiguity that R2's access prefix fixes. */
static void test_2007_premature_match(void **state)
{
    (void)state;
    const char *rule;
    assert_int_equal(dial("R2007", "9425", NULL), CR_DIAL_NEED_MORE_);
    assert_int_equal(dial("R2007", "94255", &rule), CR_DIAL_COMPLETE_);
    assert_string_equal(rule, "5digit");
}

/* R2: the access prefix is dropped and internal-extension rules are skipped, so the 5-digit
 * rule no longer fires while a user dials 9 + an external number. */
static void test_access_prefix_skips_internal_extensions(void **state)
{
    (void)state;
    const char *rule;
    assert_int_equal(dial("R2", "9", NULL), CR_DIAL_NEED_MORE_);
    assert_int_equal(dial("R2", "94255", NULL), CR_DIAL_NEED_MORE_);
    assert_int_equal(dial("R2", "94255550102", &rule), CR_DIAL_COMPLETE_);
    assert_string_equal(rule, "10digit");
    /* the guide's toll-free example: 9 then 8005551212 */
    assert_int_equal(dial("R2", "98005551212", &rule), CR_DIAL_COMPLETE_);
    assert_string_equal(rule, "tollfree");
    /* without the prefix the internal extension rule applies */
    assert_int_equal(dial("R2", "42555", &rule), CR_DIAL_COMPLETE_);
    assert_string_equal(rule, "5digit");
}

static void test_do_not_dial_from_device_rules_ignored(void **state)
{
    (void)state;
    const char *rule;
    /* 5550100 is 7 digits: only clientOnly would match it, and a device never uses it */
    assert_int_equal(dial("R2", "5550100", &rule), CR_DIAL_NO_MATCH_);
    assert_null(rule);
    /* the client (normalization) does use it */
    char out[64];
    const cr_rule *r;
    cr_profile_normalize(cr_config_profile_find(cfg, "R2"), "5550100", out, sizeof out, &r, NULL);
    assert_string_equal(out, "+14255550100");
    assert_string_equal(r->name, "clientOnly");
}

static void test_no_match_when_no_rule_can_match(void **state)
{
    (void)state;
    assert_int_equal(dial("R2", "*", NULL), CR_DIAL_NO_MATCH_);
    assert_int_equal(dial("R2", "9425555010299", NULL), CR_DIAL_NO_MATCH_);
    assert_int_equal(dial("R2007", "", NULL), CR_DIAL_NO_MATCH_);
}

/* Inbound from a PBX with a private numbering plan: called normalized with the gateway's
 * profile, From too, and a P-Asserted-Identity with phone-context=enterprise. */
static void test_inbound_private_numbers(void **state)
{
    (void)state;
    cr_inbound in;
    const cr_gateway *pbx = cr_config_gateway_match(cfg, "192.0.2.50:5060");
    assert_non_null(pbx);
    assert_string_equal(pbx->name, "PBX");
    assert_ptr_equal(cr_config_gateway_match(cfg, "192.0.2.50"), pbx);
    assert_ptr_equal(cr_config_gateway_match(cfg, "192.0.2.60:5060"),
                     cr_config_gateway_find(cfg, "GW"));
    assert_int_equal(cr_inbound_decide(cfg, pbx, "0123", "0999", &in, NULL), CR_OK);
    assert_string_equal(in.called, "5550123");
    assert_non_null(in.callee);
    assert_string_equal(in.callee->uri, "sip:pat@contoso.com");
    assert_string_equal(in.calling, "5550999");
    assert_string_equal(in.pai, "<sip:5550999;phone-context=enterprise@contoso.com;user=phone>");
}

static void test_inbound_e164_from_gets_no_pai(void **state)
{
    (void)state;
    cr_inbound in;
    assert_int_equal(cr_inbound_decide(cfg, cr_config_gateway_find(cfg, "GW"), "+12535590101",
                                       "+14255550100", &in, NULL),
                     CR_OK);
    assert_string_equal(in.callee->uri, "sip:eve@contoso.com");
    assert_string_equal(in.calling, "+14255550100");
    assert_string_equal(in.pai, "");
}

static void test_inbound_enterprise_context_not_renormalized(void **state)
{
    (void)state;
    cr_inbound in;
    assert_int_equal(cr_inbound_decide(cfg, cr_config_gateway_find(cfg, "PBX"), "0123",
                                       "tel:0999;phone-context=enterprise", &in, NULL),
                     CR_OK);
    assert_string_equal(in.calling, "0999");
    assert_string_equal(in.pai, "");
}

static void test_inbound_unknown_user_and_bad_number(void **state)
{
    (void)state;
    cr_inbound in;
    assert_int_equal(
        cr_inbound_decide(cfg, cr_config_gateway_find(cfg, "PBX"), "0777", "0999", &in, NULL),
        CR_OK);
    assert_null(in.callee);
    assert_int_equal(cr_inbound_decide(cfg, NULL, "no-number", "0999", &in, NULL), CR_EINVAL);
    assert_int_equal(cr_inbound_decide(cfg, NULL, "", NULL, &in, NULL), CR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_2007_premature_match),
        cmocka_unit_test(test_access_prefix_skips_internal_extensions),
        cmocka_unit_test(test_do_not_dial_from_device_rules_ignored),
        cmocka_unit_test(test_no_match_when_no_rule_can_match),
        cmocka_unit_test(test_inbound_private_numbers),
        cmocka_unit_test(test_inbound_e164_from_gets_no_pai),
        cmocka_unit_test(test_inbound_enterprise_context_not_renormalized),
        cmocka_unit_test(test_inbound_unknown_user_and_bad_number),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* The routing loader: the contoso example loads; each kind of broken configuration is refused
 * with a message naming the file, the line and the object. */
#include "test_rules_common.h"

#include "cr_model.h"

static void contoso_loads_without_errors_or_warnings(void **state)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    int rc = cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &cfg, &d);
    if (rc != CR_OK || d.count)
        print_diag(&d);
    assert_int_equal(rc, CR_OK);
    assert_non_null(cfg);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 0);

    assert_int_equal(cr_config_profile_count(cfg), 3);
    assert_string_equal(cr_config_default_profile(cfg)->name, "Redmond.contoso.com");
    assert_string_equal(cr_config_default_profile(cfg)->external_access_prefix, "9");
    assert_int_equal(cr_config_usage_count(cfg), 8);
    assert_int_equal(cr_config_policy_count(cfg), 5);
    assert_string_equal(cr_config_default_policy(cfg)->name, "Default Calling Policy");
    assert_int_equal(cr_config_gateway_count(cfg), 4);
    assert_true(cr_config_gateway_find(cfg, "NY-GW1")->remove_plus);
    assert_false(cr_config_gateway_find(cfg, "Red-GW1")->remove_plus);
    assert_string_equal(cr_config_gateway_find(cfg, "Dallas-GW1")->address, "sip:127.0.0.1:5073");
    assert_int_equal(cr_config_route_count(cfg), 9);
    assert_string_equal(cr_config_route_at(cfg, 3)->name, "Universal Route");
    assert_int_equal(cr_config_route_at(cfg, 3)->gateways.count, 4);
    assert_true(cr_config_domain_supported(cfg, "contoso.com"));

    const cr_user *alice = cr_config_user_find(cfg, "sip:alice@contoso.com");
    assert_non_null(alice);
    assert_true(alice->enterprise_voice);
    assert_null(alice->policy);
    assert_string_equal(alice->simultaneous_ring, "+14255550199");
    assert_int_equal(alice->forwarding.no_answer_after, 20);
    assert_int_equal(alice->team_call_delay, 10);
    assert_int_equal(alice->team_call.count, 1);
    assert_string_equal(alice->delegates.names[0], "sip:carol@contoso.com");
    /* users come from the include, and say so */
    size_t fl = strlen(alice->loc.file);
    assert_true(fl > 9 && strcmp(alice->loc.file + fl - 9, "users.xml") == 0);
    assert_true(alice->loc.line > 0);
    assert_false(cr_config_user_find(cfg, "sip:erin@contoso.com")->enterprise_voice);

    const cr_profile *red = cr_config_profile_find(cfg, "Redmond.contoso.com");
    assert_true(red->nrules >= 8);
    assert_true(red->rules[0].internal_extension);
    assert_true(red->rules[0].do_not_dial_from_device);
    cr_config_free(cfg);
    cr_diag_free(&d);
}

static void base_config_loads(void **state)
{
    expect_warning(base_with(13, "<phoneUsages><usage name=\"Spare\"/></phoneUsages>", 0), 13,
                   "phone usage 'Spare'", "unused");
}

static void refuses_xml_not_well_formed(void **state)
{
    const char *p = base_with(6, "</locationProfil>", 0);
    expect_error(p, base_name(p), 6, NULL, "Opening and ending tag mismatch");
}

static void refuses_unknown_usage_in_policy(void **state)
{
    const char *p = base_with(9,
                              "<voicePolicies default=\"Pol\"><voicePolicy name=\"Pol\">"
                              "<usage>Lokal</usage></voicePolicy></voicePolicies>",
                              0);
    expect_error(p, base_name(p), 9, "voice policy 'Pol'", "unknown phone usage 'Lokal'");
}

static void refuses_unknown_gateway_in_route(void **state)
{
    const char *p = base_with(11,
                              "<routes><route name=\"Universal Route\" pattern=\"^\\+?(\\d*)$\">"
                              "<usage>Local</usage><gateway>GW</gateway>"
                              "<gateway>Red-GW9</gateway></route></routes>",
                              0);
    expect_error(p, base_name(p), 11, "route 'Universal Route'", "unknown gateway 'Red-GW9'");
}

static void refuses_unknown_usage_in_route(void **state)
{
    const char *p = base_with(11,
                              "<routes><route name=\"Rt\" pattern=\"^1$\"><usage>Nope</usage>"
                              "<gateway>GW</gateway></route></routes>",
                              0);
    expect_error(p, base_name(p), 11, "route 'Rt'", "unknown phone usage 'Nope'");
}

static void refuses_unknown_policy_of_user(void **state)
{
    const char *p = base_with(12,
                              "<users><user uri=\"sip:a@contoso.com\" voicePolicy=\"Gold\"/>"
                              "</users>",
                              0);
    expect_error(p, base_name(p), 12, "user 'sip:a@contoso.com'", "unknown voice policy 'Gold'");
}

static void refuses_unknown_profile_of_user_and_gateway(void **state)
{
    const char *p = base_with(12,
                              "<users><user uri=\"sip:a@contoso.com\" "
                              "locationProfile=\"Paris.contoso.com\"/></users>",
                              0);
    expect_error(p, base_name(p), 12, "user 'sip:a@contoso.com'",
                 "unknown location profile 'Paris.contoso.com'");
    p = base_with(10,
                  "<gateways><gateway name=\"GW\" address=\"sip:127.0.0.1\" "
                  "locationProfile=\"Q\"/></gateways>",
                  0);
    expect_error(p, base_name(p), 10, "gateway 'GW'", "unknown location profile 'Q'");
}

static void refuses_duplicate_names(void **state)
{
    const char *p = base_with(13,
                              "<routes><route name=\"Rt\" pattern=\"^2$\"><usage>Local</usage>"
                              "<gateway>GW</gateway></route></routes>",
                              0);
    expect_error(p, base_name(p), 13, "route 'Rt'", "duplicate name");
    p = base_with(13, "<phoneUsages><usage name=\"Local\"/></phoneUsages>", 0);
    expect_error(p, base_name(p), 13, "phone usage 'Local'", "duplicate name");
    p = base_with(6, "<rule name=\"R\" pattern=\"^1$\" translation=\"+1\"/></locationProfile>", 0);
    expect_error(p, base_name(p), 6, "rule 'R' of location profile 'P'", "duplicate name");
    p = base_with(13, "<users><user uri=\"sip:a@contoso.com\"/></users>", 0);
    expect_error(p, base_name(p), 13, "user 'sip:a@contoso.com'", "duplicate");
}

static void refuses_bad_pattern_with_offset(void **state)
{
    const char *p = base_with(11,
                              "<routes><route name=\"Rt\" pattern=\"^\\+1(\\d{10}$\">"
                              "<usage>Local</usage><gateway>GW</gateway></route></routes>",
                              0);
    expect_error(p, base_name(p), 11, "route 'Rt'", "invalid at offset 12");
    p = base_with(5, "<rule name=\"R\" pattern=\"^[0-9$\" translation=\"$1\"/>", 0);
    expect_error(p, base_name(p), 5, "rule 'R' of location profile 'P'", "offset");
}

/* .NET reads a group the pattern lacks as literal text: a warning, not a refusal (issue 15) */
static void warns_on_translation_naming_missing_group(void **state)
{
    const char *p =
        base_with(5, "<rule name=\"R\" pattern=\"^(\\d{4})$\" translation=\"+1$2\"/>", 0);
    expect_warning(p, 5, "rule 'R' of location profile 'P'", "'$2' is literal text");
    p = base_with(5, "<rule name=\"R\" pattern=\"^(\\d{4})$\" translation=\"+1${ext}\"/>", 0);
    expect_warning(p, 5, "rule 'R' of location profile 'P'", "${ext}, which the pattern lacks");
}

/* .NET character-class subtraction is refused clearly, never silently misread (issue 15) */
static void refuses_class_subtraction(void **state)
{
    const char *p =
        base_with(5, "<rule name=\"R\" pattern=\"^([2-9-[5]]\\d{3})$\" translation=\"+1$1\"/>", 0);
    expect_error(p, base_name(p), 5, "rule 'R' of location profile 'P'",
                 "character-class subtraction at offset 6");
}

static void refuses_default_naming_nothing(void **state)
{
    const char *p = base_with(3, "<locationProfiles default=\"Nowhere\">", 0);
    expect_error(p, base_name(p), 3, NULL, "'Nowhere'");
    p = base_with(9,
                  "<voicePolicies default=\"Platinum\"><voicePolicy name=\"Pol\">"
                  "<usage>Local</usage></voicePolicy></voicePolicies>",
                  0);
    expect_error(p, base_name(p), 9, NULL, "'Platinum'");
}

static void refuses_second_default(void **state)
{
    const char *p = base_with(13, "<locationProfiles default=\"P\"/>", 0);
    expect_error(p, base_name(p), 13, NULL, "already declared");
}

static void refuses_bad_external_access_prefix(void **state)
{
    static const char *const bad[] = {"99999", "a", "9 ", "+"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char line[128];
        snprintf(line, sizeof line, "<locationProfile name=\"P\" externalAccessPrefix=\"%s\">",
                 bad[i]);
        const char *p = base_with(4, line, 0);
        expect_error(p, base_name(p), 4, "location profile 'P'", "externalAccessPrefix");
    }
}

static void refuses_unknown_elements_and_attributes(void **state)
{
    const char *p = base_with(13, "<rotues/>", 0);
    expect_error(p, base_name(p), 13, NULL, "unknown element <rotues> in <callroute>");
    p = base_with(11,
                  "<routes><route name=\"Rt\" patern=\"^1$\" pattern=\"^1$\"><usage>Local</usage>"
                  "<gateway>GW</gateway></route></routes>",
                  0);
    expect_error(p, base_name(p), 11, "route 'Rt'", "unknown attribute 'patern' on <route>");
    p = base_with(11,
                  "<routes><route name=\"Rt\" pattern=\"^1$\"><usages>Local</usages>"
                  "<gateway>GW</gateway></route></routes>",
                  0);
    expect_error(p, base_name(p), 11, "route 'Rt'", "unknown element <usages> in <route>");
    p = base_with(12, "<users><user uri=\"sip:a@contoso.com\"><forward/></user></users>", 0);
    expect_error(p, base_name(p), 12, "user 'sip:a@contoso.com'", "unknown element <forward>");
    p = base_with(2, "<domains>contoso.com</domains>", 0);
    expect_error(p, base_name(p), 2, NULL, "unexpected text in <domains>");
    p = base_with(13, "<x:routes xmlns:x=\"urn:other\"/>", 0);
    expect_error(p, base_name(p), 13, NULL, "namespace 'urn:other'");
}

static void refuses_bad_booleans_and_numbers(void **state)
{
    const char *p = base_with(12,
                              "<users><user uri=\"sip:a@contoso.com\" enterpriseVoice=\"yes\"/>"
                              "</users>",
                              0);
    expect_error(p, base_name(p), 12, "user 'sip:a@contoso.com'",
                 "attribute 'enterpriseVoice' is 'yes'");
    p = base_with(5,
                  "<rule name=\"R\" pattern=\"^(\\d{4})$\" translation=\"$1\" "
                  "internalExtension=\"TRUE\"/>",
                  0);
    expect_error(p, base_name(p), 5, "rule 'R' of location profile 'P'", "internalExtension");
    p = base_with(
        12, "<users><user uri=\"sip:a@contoso.com\"><teamCall delay=\"ten\"/></user></users>", 0);
    expect_error(p, base_name(p), 12, "user 'sip:a@contoso.com'", "attribute 'delay' is 'ten'");
    p = base_with(10, "<gateways><gateway name=\"GW\" address=\"sip:h\" ports=\"-1\"/></gateways>",
                  0);
    expect_error(p, base_name(p), 10, "gateway 'GW'", "ports");
}

static void refuses_missing_required_attributes(void **state)
{
    const char *p = base_with(11,
                              "<routes><route name=\"Rt\"><usage>Local</usage>"
                              "<gateway>GW</gateway></route></routes>",
                              0);
    expect_error(p, base_name(p), 11, "route 'Rt'", "missing required attribute 'pattern'");
    p = base_with(10, "<gateways><gateway name=\"GW\"/></gateways>", 0);
    expect_error(p, base_name(p), 10, "gateway 'GW'", "missing required attribute 'address'");
    p = base_with(12, "<users><user line=\"tel:+14255550100\"/></users>", 0);
    expect_error(p, base_name(p), 12, "user", "missing required attribute 'uri'");
    p = base_with(8, "<phoneUsages><usage/></phoneUsages>", 0);
    expect_error(p, base_name(p), 8, "phone usage", "missing required attribute 'name'");
    p = base_with(5, "<rule name=\"R\" pattern=\"^1$\"/>", 0);
    expect_error(p, base_name(p), 5, "rule 'R'", "missing required attribute 'translation'");
    p = base_with(4, "<locationProfile name=\"\">", 0);
    expect_error(p, base_name(p), 4, "location profile", "attribute 'name' is empty");
}

/* An element whose attributes span lines is reported where its start tag begins. */
static void reports_the_line_where_the_start_tag_begins(void **state)
{
    const char *p = base_with(5, "<rule name=\"R\"\n  pattern=\"(\"\n  translation=\"$1\"/>", 0);
    expect_error(p, base_name(p), 5, "rule 'R'", "offset");
}

static void reports_every_error_at_once(void **state)
{
    const char *p = base_with(12,
                              "<users><user uri=\"sip:a@contoso.com\" enterpriseVoice=\"maybe\"/>"
                              "</users>",
                              13, "<gateways><gateway name=\"X\" adress=\"sip:h\"/></gateways>", 0);
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    assert_int_equal(cr_rules_load(p, &cfg, &d), CR_ECONFIG);
    assert_true(find_diag(&d, CR_DIAG_ERROR, NULL, 12, "user", "enterpriseVoice") >= 0);
    assert_true(find_diag(&d, CR_DIAG_ERROR, NULL, 13, "gateway 'X'", "adress") >= 0);
    assert_true(find_diag(&d, CR_DIAG_ERROR, NULL, 13, "gateway 'X'", "'address'") >= 0);
    assert_null(cfg);
    cr_diag_free(&d);
}

static void ignores_response_groups_and_directory(void **state)
{
    const char *p = base_with(13,
                              "<responseGroups><agentGroup name=\"Helpdesk\" anything=\"1\">"
                              "<whatever/></agentGroup></responseGroups>",
                              0);
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    assert_int_equal(cr_rules_load(p, &cfg, &d), CR_OK);
    assert_int_equal(d.count, 0);
    cr_config_free(cfg);
    cr_diag_free(&d);
}

static void rejects_null_arguments(void **state)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = (cr_config *)1;
    assert_int_equal(cr_rules_load(NULL, &cfg, &d), CR_EINVAL);
    assert_null(cfg);
    assert_int_equal(cr_rules_load("x.xml", NULL, &d), CR_EINVAL);
    cr_diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(contoso_loads_without_errors_or_warnings),
        cmocka_unit_test(base_config_loads),
        cmocka_unit_test(refuses_xml_not_well_formed),
        cmocka_unit_test(refuses_unknown_usage_in_policy),
        cmocka_unit_test(refuses_unknown_gateway_in_route),
        cmocka_unit_test(refuses_unknown_usage_in_route),
        cmocka_unit_test(refuses_unknown_policy_of_user),
        cmocka_unit_test(refuses_unknown_profile_of_user_and_gateway),
        cmocka_unit_test(refuses_duplicate_names),
        cmocka_unit_test(refuses_bad_pattern_with_offset),
        cmocka_unit_test(warns_on_translation_naming_missing_group),
        cmocka_unit_test(refuses_class_subtraction),
        cmocka_unit_test(refuses_default_naming_nothing),
        cmocka_unit_test(refuses_second_default),
        cmocka_unit_test(refuses_bad_external_access_prefix),
        cmocka_unit_test(refuses_unknown_elements_and_attributes),
        cmocka_unit_test(refuses_bad_booleans_and_numbers),
        cmocka_unit_test(refuses_missing_required_attributes),
        cmocka_unit_test(reports_the_line_where_the_start_tag_begins),
        cmocka_unit_test(reports_every_error_at_once),
        cmocka_unit_test(ignores_response_groups_and_directory),
        cmocka_unit_test(rejects_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

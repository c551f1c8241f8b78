/* Lint findings reach the admin through the loader: the configuration loads, with warnings
 * that name the file, the line and the object. */
#include "test_rules_common.h"

static void warns_about_a_shadowed_rule(void **state)
{
    const char *p = base_with(
        6,
        "<rule name=\"Shadowed\" pattern=\"^1(\\d{3})$\" translation=\"+1$1\"/></locationProfile>",
        0);
    expect_warning(p, 6, "rule 'Shadowed' of location profile 'P'", "earlier rule 'R'");
}

static void warns_about_an_unreachable_route(void **state)
{
    const char *p =
        base_with(8, "<phoneUsages><usage name=\"Local\"/><usage name=\"Lab\"/></phoneUsages>", 13,
                  "<routes><route name=\"Lab Route\" pattern=\"^\\+1(\\d{10})$\">"
                  "<usage>Lab</usage><gateway>GW</gateway></route></routes>",
                  0);
    expect_warning(p, 13, "route 'Lab Route'", "unreachable");
}

static void warns_about_an_unused_usage(void **state)
{
    const char *p = base_with(13, "<phoneUsages><usage name=\"Spare\"/></phoneUsages>", 0);
    expect_warning(p, 13, "phone usage 'Spare'", "unused");
}

static void warns_about_an_unused_gateway(void **state)
{
    const char *p = base_with(
        13, "<gateways><gateway name=\"Spare-GW\" address=\"sip:127.0.0.1:5079\"/></gateways>", 0);
    expect_warning(p, 13, "gateway 'Spare-GW'", "unused");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(warns_about_a_shadowed_rule),
        cmocka_unit_test(warns_about_an_unreachable_route),
        cmocka_unit_test(warns_about_an_unused_usage),
        cmocka_unit_test(warns_about_an_unused_gateway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The contoso example does what examples/contoso/README.md says: the planning guide's
 * normalization table and routing scenarios, decided by the engine over the loaded XML.
 */
#include "test_rules_common.h"

#include "cr_engine.h"
#include "testutil.h"

static cr_config *cfg;

static int load(void **state)
{
    cr_diag d;
    cr_diag_init(&d);
    int rc = cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &cfg, &d);
    if (rc != CR_OK)
        print_diag(&d);
    cr_diag_free(&d);
    return rc == CR_OK ? 0 : -1;
}

static int unload(void **state)
{
    cr_config_free(cfg);
    return 0;
}

static void expect_normalized(const char *profile, const char *dialed, const char *rule,
                              const char *want)
{
    char out[CR_NUMBER_MAX + 1];
    const cr_rule *r = NULL;
    const cr_profile *p = cr_config_profile_find(cfg, profile);
    assert_non_null(p);
    assert_int_equal(cr_profile_normalize(p, dialed, out, sizeof out, &r, NULL), CR_OK);
    assert_string_equal(out, want);
    if (rule) {
        assert_non_null(r);
        assert_string_equal(r->name, rule);
    } else {
        assert_null(r);
    }
}

static void redmond_profile_follows_the_guide_tables(void **state)
{
    const char *red = "Redmond.contoso.com";
    expect_normalized(red, "0100", "4digitExtension", "+14255550100");
    expect_normalized(red, "50100", "5digitExtension", "+14255550100");
    expect_normalized(red, "5550100", "7digitcallingRedmond", "+14255550100");
    expect_normalized(red, "2065550100", "10digitcallingUS", "+12065550100");
    /* corrected LDCallingUS: the guide's "+$1" would give +2145550100 */
    expect_normalized(red, "12145550100", "LDCallingUS", "+12145550100");
    expect_normalized(red, "01191445550100", "IntlCallingUS", "+91445550100");
    expect_normalized(red, "0", "RedmondOperator", "+14255550100");
    expect_normalized(red, "62220100", "RedmondSitePrefix", "+14255550100");
    expect_normalized(red, "63330100", "NYSitePrefix", "+12025550100");
    expect_normalized(red, "64440100", "DallasSitePrefix", "+19725550100");
    expect_normalized(red, "911", NULL, "911");
    expect_normalized(red, "1411", NULL, "1411");
    expect_normalized("Dallas.contoso.com", "5550100", "7digitcallingDallas", "+19725550100");
    expect_normalized("NewYork.contoso.com", "5550199", "7digitcallingNY", "+12125550199");
}

static const char *down_gw;

static bool is_down(void *ud, const cr_gateway *gw)
{
    return down_gw && strcmp(gw->name, down_gw) == 0;
}

static cr_decision decide(const char *from, const char *dialed, const char *down)
{
    cr_runtime rt = {.gateway_down = is_down};
    cr_decision d;
    down_gw = down;
    char uri[128];
    snprintf(uri, sizeof uri, "sip:%s@contoso.com", from);
    assert_int_equal(cr_route_decide(cfg, uri, dialed, &rt, &d, NULL), CR_OK);
    return d;
}

static void expect_first(const cr_decision *d, const char *route, const char *gw1, const char *gw2)
{
    if (d->kind != CR_OUTBOUND)
        fprintf(stderr, "decision %d: %s\n", d->kind, cr_test_reason(d));
    assert_int_equal(d->kind, CR_OUTBOUND);
    assert_true(d->nattempts > 0);
    assert_string_equal(d->attempts[0].route->name, route);
    const char *g = d->attempts[0].gateway->name;
    assert_true(strcmp(g, gw1) == 0 || (gw2 && strcmp(g, gw2) == 0));
}

static bool uses_gateway(const cr_decision *d, const char *gw)
{
    for (size_t i = 0; i < d->nattempts; i++)
        if (strcmp(d->attempts[i].gateway->name, gw) == 0)
            return true;
    return false;
}

static void local_calls_use_the_local_gateway(void **state)
{
    cr_decision d = decide("alice", "+14255550199", NULL);
    expect_first(&d, "Redmond Local Route", "Red-GW1", "Red-GW2");
    d = decide("alice", "+12145550100", NULL);
    expect_first(&d, "Dallas Local Route", "Dallas-GW1", NULL);
    d = decide("alice", "+12035550100", NULL);
    assert_string_equal(d.attempts[0].route->name, "Universal Route");
    /* with Dallas-GW1 down, Dallas numbers leave by the Universal Route */
    d = decide("alice", "+12145550100", "Dallas-GW1");
    assert_int_equal(d.kind, CR_OUTBOUND);
    assert_string_equal(d.attempts[0].route->name, "Universal Route");
    assert_false(uses_gateway(&d, "Dallas-GW1"));
}

static void local_only_users_reach_only_redmond(void **state)
{
    cr_decision d = decide("carol", "5550199", NULL);
    expect_first(&d, "Redmond Local Route", "Red-GW1", "Red-GW2");
    d = decide("carol", "+12145550100", NULL);
    assert_int_equal(d.kind, CR_BLOCKED);
}

static void dallas_users_leave_by_dallas_with_failover(void **state)
{
    cr_decision d = decide("dave", "+14255550199", NULL);
    expect_first(&d, "Dallas Users Route", "Dallas-GW1", NULL);
    assert_true(d.nattempts > 1); /* GlobalPSTNHopoff is the failover */
    d = decide("dave", "+14255550199", "Dallas-GW1");
    expect_first(&d, "Universal Route", "Red-GW1", "Red-GW2");
}

static void emergency_calls_leave_from_the_callers_site(void **state)
{
    cr_decision d = decide("bob", "911", NULL);
    expect_first(&d, "Redmond 911 route", "Red-GW1", NULL);
    d = decide("carol", "911", NULL);
    expect_first(&d, "Redmond 911 route", "Red-GW1", NULL);
    d = decide("dave", "911", NULL);
    expect_first(&d, "Dallas 911 route", "Dallas-GW1", NULL);
    d = decide("nina", "911", NULL);
    expect_first(&d, "NY 911 route", "NY-GW1", NULL);
    /* the default policy has no 911 usage: the Universal Route carries it like any number */
    d = decide("alice", "911", NULL);
    assert_string_equal(d.attempts[0].route->name, "Universal Route");
}

static void international_calls_use_red_gw1(void **state)
{
    cr_decision d = decide("alice", "011442075550100", NULL);
    assert_string_equal(d.normalized, "+442075550100");
    expect_first(&d, "Intl Route", "Red-GW1", NULL);
}

static void new_york_gateway_gets_numbers_without_plus(void **state)
{
    cr_decision d = decide("alice", "+12125550199", NULL);
    expect_first(&d, "NY Local Route", "NY-GW1", NULL);
    assert_null(strchr(cr_test_uri(cfg, &d, 0), '+'));
    assert_non_null(strstr(cr_test_uri(cfg, &d, 0), "12125550199"));
}

static void premium_and_directory_numbers_are_blocked(void **state)
{
    static const char *const blocked[] = {"+19005550100", "19005550100", "1411", "+14115550100"};
    static const char *const callers[] = {"alice", "bob", "dave", "nina"};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) {
            cr_decision d = decide(callers[j], blocked[i], NULL);
            if (d.kind != CR_BLOCKED)
                fprintf(stderr, "%s dialing %s: %d\n", callers[j], blocked[i], d.kind);
            assert_int_equal(d.kind, CR_BLOCKED);
        }
}

static void internal_numbers_reach_users(void **state)
{
    cr_decision d = decide("alice", "50101", NULL);
    assert_int_equal(d.kind, CR_INTERNAL);
    assert_string_equal(d.callee->uri, "sip:bob@contoso.com");
    d = decide("bob", "63330100", NULL);
    assert_int_equal(d.kind, CR_INTERNAL);
    assert_string_equal(d.callee->uri, "sip:ned@contoso.com");
    d = decide("dave", "0", NULL);
    assert_int_equal(d.kind, CR_INTERNAL);
    assert_string_equal(d.callee->uri, "sip:dave@contoso.com");
}

static void users_without_enterprise_voice_are_not_routed(void **state)
{
    cr_decision d = decide("erin", "+14255550199", NULL);
    assert_int_equal(d.kind, CR_NOT_APPLICABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redmond_profile_follows_the_guide_tables),
        cmocka_unit_test(local_calls_use_the_local_gateway),
        cmocka_unit_test(local_only_users_reach_only_redmond),
        cmocka_unit_test(dallas_users_leave_by_dallas_with_failover),
        cmocka_unit_test(emergency_calls_leave_from_the_callers_site),
        cmocka_unit_test(international_calls_use_red_gw1),
        cmocka_unit_test(new_york_gateway_gets_numbers_without_plus),
        cmocka_unit_test(premium_and_directory_numbers_are_blocked),
        cmocka_unit_test(internal_numbers_reach_users),
        cmocka_unit_test(users_without_enterprise_voice_are_not_routed),
    };
    return cmocka_run_group_tests(tests, load, unload);
}

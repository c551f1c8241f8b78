/*
 * The planning guide's "Routing Configuration Examples", each with the guide's own tables
 * (gateways Red-GW1, Red-GW2, Dallas-GW1, NY-GW1), decided by the engine.
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

static const char *gateways = "<gateways>"
                              "<gateway name='Red-GW1' address='sip:192.0.2.10:5060'/>"
                              "<gateway name='Red-GW2' address='sip:192.0.2.11:5060'/>"
                              "<gateway name='Dallas-GW1' address='sip:192.0.2.20:5060'/>"
                              "<gateway name='NY-GW1' address='sip:192.0.2.30' removePlus='true'/>"
                              "</gateways>";

/* The guide's routes, the last versions of each (Universal Route with the 1900/1411
 * exclusion and NY-GW1, from "Blocking Calls to Certain Destination Numbers"). */
static const char *routes =
    "<routes>"
    "<route name='Redmond Local Route' pattern='^\\+1(425|206|253)(\\d{7})$'>"
    "<usage>Local</usage><usage>RedmondLocal</usage>"
    "<gateway>Red-GW1</gateway><gateway>Red-GW2</gateway></route>"
    "<route name='Dallas Local Route' pattern='^\\+1(972|214|469)(\\d{7})$'>"
    "<usage>Local</usage><gateway>Dallas-GW1</gateway></route>"
    "<route name='NY Local Route' pattern='^\\+1(212|646|917)(\\d{7})$'>"
    "<usage>Local</usage><gateway>NY-GW1</gateway></route>"
    "<route name='Universal Route' pattern='^\\+?(?!(1900|1411))(\\d*)$'>"
    "<usage>GlobalPSTNHopoff</usage><gateway>Red-GW1</gateway><gateway>Red-GW2</gateway>"
    "<gateway>Dallas-GW1</gateway><gateway>NY-GW1</gateway></route>"
    "<route name='Dallas Users Route' pattern='^\\+?(\\d*)$'>"
    "<usage>DallasUsers</usage><gateway>Dallas-GW1</gateway></route>"
    "<route name='Redmond 911 route' pattern='^911$'>"
    "<usage>Redmond911</usage><gateway>Red-GW1</gateway></route>"
    "<route name='Dallas 911 route' pattern='^911$'>"
    "<usage>Dallas911</usage><gateway>Dallas-GW1</gateway></route>"
    "<route name='Intl Route' pattern='^\\+([2-9])(\\d*)$'>"
    "<usage>International</usage><gateway>Red-GW1</gateway></route>"
    "</routes>";

static const char *policies =
    "<phoneUsages><usage name='Local'/><usage name='GlobalPSTNHopoff'/>"
    "<usage name='RedmondLocal'/><usage name='DallasUsers'/><usage name='Redmond911'/>"
    "<usage name='Dallas911'/><usage name='International'/></phoneUsages>"
    "<voicePolicies default='Default Calling Policy'>"
    "<voicePolicy name='Default Calling Policy'><usage>Local</usage>"
    "<usage>International</usage><usage>GlobalPSTNHopoff</usage></voicePolicy>"
    "<voicePolicy name='Basic Policy'><usage>GlobalPSTNHopoff</usage></voicePolicy>"
    "<voicePolicy name='Redmond Calling Policy'><usage>Redmond911</usage><usage>Local</usage>"
    "<usage>GlobalPSTNHopoff</usage></voicePolicy>"
    "<voicePolicy name='Redmond Local Policy'><usage>Redmond911</usage>"
    "<usage>RedmondLocal</usage></voicePolicy>"
    "<voicePolicy name='Dallas Source Policy'><usage>DallasUsers</usage></voicePolicy>"
    "<voicePolicy name='Dallas Calling Policy'><usage>Dallas911</usage>"
    "<usage>DallasUsers</usage><usage>GlobalPSTNHopoff</usage></voicePolicy>"
    "</voicePolicies>";

static const char *users =
    "<users>"
    "<user uri='sip:alice@contoso.com' line='tel:+14255550100' enterpriseVoice='true'/>"
    "<user uri='sip:basil@contoso.com' line='tel:+14255550110' enterpriseVoice='true' "
    "voicePolicy='Basic Policy'/>"
    "<user uri='sip:rita@contoso.com' line='tel:+14255550120' enterpriseVoice='true' "
    "voicePolicy='Redmond Calling Policy'/>"
    "<user uri='sip:lou@contoso.com' line='tel:+14255550130' enterpriseVoice='true' "
    "voicePolicy='Redmond Local Policy'/>"
    "<user uri='sip:sam@contoso.com' line='tel:+19725550140' enterpriseVoice='true' "
    "voicePolicy='Dallas Source Policy'/>"
    "<user uri='sip:dan@contoso.com' line='tel:+19725550150' enterpriseVoice='true' "
    "voicePolicy='Dallas Calling Policy'/>"
    "</users>";

static cr_config *cfg;

static int setup(void **state)
{
    (void)state;
    char xml[16384];
    snprintf(xml, sizeof xml,
             "<callroute xmlns='urn:callroute:config:1'>"
             "<domains><domain>contoso.com</domain></domains>"
             "<locationProfiles default='Redmond'><locationProfile name='Redmond'>"
             "<rule name='7digit' pattern='^(\\d{7})$' translation='+1425$1'/>"
             "<rule name='LD' pattern='^1(\\d{10})$' translation='+1$1'/>"
             "</locationProfile></locationProfiles>%s%s%s%s</callroute>",
             policies, gateways, routes, users);
    cfg = cr_test_load_xml(xml);
    return cfg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cr_config_free(cfg);
    return 0;
}

/* Gateways named in `down` (comma-separated) are down; spread counter from *ud. */
typedef struct rtstate {
    const char *down;
    uint32_t spread;
} rtstate;

static bool gw_down(void *ud, const cr_gateway *g)
{
    const rtstate *s = ud;
    if (!s->down)
        return false;
    const char *p = strstr(s->down, g->name);
    size_t n = strlen(g->name);
    return p && (p[n] == 0 || p[n] == ',') && (p == s->down || p[-1] == ',');
}

static uint32_t spread(void *ud)
{
    return ((rtstate *)ud)->spread++;
}

static cr_decision dec;

static const cr_decision *decide(const char *from, const char *number, const char *down)
{
    rtstate s = {down, 0};
    cr_runtime rt = {.ud = &s, .gateway_down = gw_down, .spread = spread};
    assert_int_equal(cr_route_decide(cfg, from, number, &rt, &dec, NULL), CR_OK);
    return &dec;
}

/* "gw/route/usage;gw/route/usage;..." of the attempts, for compact assertions. */
static const char *attempts(const cr_decision *d)
{
    static char buf[2048];
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < d->nattempts; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s/%s/%s", i ? ";" : "",
                              d->attempts[i].gateway->name, d->attempts[i].route->name,
                              d->attempts[i].usage->name);
    return buf;
}

/* Basic Routing Setup: every number by the Universal Route over its gateways. */
static void test_basic_routing_setup(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:basil@contoso.com", "+12035550100", NULL);
    assert_int_equal(d->kind, CR_OUTBOUND);
    assert_string_equal(attempts(d), "Red-GW1/Universal Route/GlobalPSTNHopoff;"
                                     "Red-GW2/Universal Route/GlobalPSTNHopoff;"
                                     "Dallas-GW1/Universal Route/GlobalPSTNHopoff;"
                                     "NY-GW1/Universal Route/GlobalPSTNHopoff");
}

/* Using the Correct Gateway for Local Calls: its four examples. */
static void test_local_gateway_examples(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:alice@contoso.com", "+1425555 0100", NULL);
    /* alice's own number would be internal: dial a neighbour */
    d = decide("sip:alice@contoso.com", "+1425555 0199", NULL);
    assert_int_equal(d->kind, CR_OUTBOUND);
    assert_string_equal(d->attempts[0].route->name, "Redmond Local Route");
    assert_true(strcmp(d->attempts[0].gateway->name, "Red-GW1") == 0 ||
                strcmp(d->attempts[0].gateway->name, "Red-GW2") == 0);
    assert_string_equal(d->attempts[1].route->name, "Redmond Local Route");

    d = decide("sip:alice@contoso.com", "+1214555 0100", NULL);
    assert_string_equal(d->attempts[0].gateway->name, "Dallas-GW1");
    assert_string_equal(d->attempts[0].route->name, "Dallas Local Route");

    d = decide("sip:alice@contoso.com", "+1203555 0100", NULL);
    assert_string_equal(d->attempts[0].route->name, "Universal Route");
    assert_int_equal(d->nattempts, 4);

    d = decide("sip:alice@contoso.com", "+1214555 0100", "Dallas-GW1");
    assert_int_equal(d->kind, CR_OUTBOUND);
    assert_string_equal(attempts(d), "Red-GW1/Universal Route/GlobalPSTNHopoff;"
                                     "Red-GW2/Universal Route/GlobalPSTNHopoff;"
                                     "NY-GW1/Universal Route/GlobalPSTNHopoff");
}

/* Limiting Certain Users to Local Numbers. */
static void test_redmond_local_policy_only_local(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:lou@contoso.com", "+12065550100", NULL);
    assert_int_equal(d->kind, CR_OUTBOUND);
    assert_string_equal(attempts(d), "Red-GW1/Redmond Local Route/RedmondLocal;"
                                     "Red-GW2/Redmond Local Route/RedmondLocal");
    d = decide("sip:lou@contoso.com", "+12145550100", NULL);
    assert_int_equal(d->kind, CR_BLOCKED);
    assert_int_equal(d->nattempts, 0);
    assert_non_null(strstr(cr_test_reason(d), "Redmond Local Policy"));
}

/* Source-Based Routing: Dallas users leave through Dallas-GW1 only. */
static void test_source_based_routing(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:sam@contoso.com", "+14255550199", NULL);
    assert_string_equal(attempts(d), "Dallas-GW1/Dallas Users Route/DallasUsers");
    d = decide("sip:sam@contoso.com", "+14255550199", "Dallas-GW1");
    assert_int_equal(d->kind, CR_BLOCKED);
    assert_non_null(strstr(cr_test_reason(d), "down"));
}

/* Configuring a Failover Route: GlobalPSTNHopoff after DallasUsers. */
static void test_failover_route(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:dan@contoso.com", "+14255550199", NULL);
    assert_string_equal(attempts(d), "Dallas-GW1/Dallas Users Route/DallasUsers;"
                                     "Red-GW1/Universal Route/GlobalPSTNHopoff;"
                                     "Red-GW2/Universal Route/GlobalPSTNHopoff;"
                                     "NY-GW1/Universal Route/GlobalPSTNHopoff");
    d = decide("sip:dan@contoso.com", "+14255550199", "Dallas-GW1");
    assert_string_equal(d->attempts[0].gateway->name, "Red-GW1");
    assert_string_equal(d->attempts[0].route->name, "Universal Route");
}

/* Setting Up Basic Routing for Emergency Telephone Numbers: 911 by each user's site. */
static void test_911_per_site(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:rita@contoso.com", "911", NULL);
    assert_string_equal(d->attempts[0].gateway->name, "Red-GW1");
    assert_string_equal(d->attempts[0].route->name, "Redmond 911 route");
    assert_string_equal(cr_test_uri(cfg, d, 0), "sip:911@192.0.2.10:5060;user=phone");
    d = decide("sip:lou@contoso.com", "911", NULL);
    assert_string_equal(attempts(d), "Red-GW1/Redmond 911 route/Redmond911");
    d = decide("sip:dan@contoso.com", "911", NULL);
    assert_string_equal(d->attempts[0].gateway->name, "Dallas-GW1");
    assert_string_equal(d->attempts[0].route->name, "Dallas 911 route");
}

/* Setting Up an International Gateway: International before GlobalPSTNHopoff. */
static void test_international_gateway(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:alice@contoso.com", "+441234567890", NULL);
    assert_string_equal(d->attempts[0].gateway->name, "Red-GW1");
    assert_string_equal(d->attempts[0].route->name, "Intl Route");
    assert_string_equal(d->attempts[0].usage->name, "International");
    /* Red-GW1 is listed once even though the Universal Route has it too */
    assert_int_equal(d->nattempts, 4);
}

/* Configuring a New Gateway: NY-GW1 for New York, removePlus honoured. */
static void test_new_york_gateway(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:alice@contoso.com", "+12125550100", NULL);
    assert_string_equal(d->attempts[0].gateway->name, "NY-GW1");
    assert_string_equal(d->attempts[0].route->name, "NY Local Route");
    assert_string_equal(cr_test_uri(cfg, d, 0), "sip:12125550100@192.0.2.30;user=phone");
    assert_string_equal(cr_test_uri(cfg, d, 1), "sip:+12125550100@192.0.2.10:5060;user=phone");
}

/* Blocking Calls to Certain Destination Numbers: 1900 and 1411, with or without +. */
static void test_blocking_1900_and_1411(void **state)
{
    (void)state;
    const char *blocked[] = {"+19005551212", "19005551212", "+14115551212", "14115551212"};
    for (size_t i = 0; i < 4; i++) {
        const cr_decision *d = decide("sip:basil@contoso.com", blocked[i], NULL);
        assert_int_equal(d->kind, CR_BLOCKED);
        assert_int_equal(d->nattempts, 0);
    }
    const cr_decision *d = decide("sip:basil@contoso.com", "+19015551212", NULL);
    assert_int_equal(d->kind, CR_OUTBOUND);
}

/* The failover list spreads load: the first attempt of a route moves on per decision. */
static void test_load_spread_across_route_gateways(void **state)
{
    (void)state;
    rtstate s = {NULL, 0};
    cr_runtime rt = {.ud = &s, .gateway_down = gw_down, .spread = spread};
    int first[2] = {0, 0};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(
            cr_route_decide(cfg, "sip:lou@contoso.com", "+14255550199", &rt, &dec, NULL), CR_OK);
        assert_int_equal(dec.nattempts, 2);
        first[strcmp(dec.attempts[0].gateway->name, "Red-GW1") == 0 ? 0 : 1]++;
        assert_string_not_equal(dec.attempts[0].gateway->name, dec.attempts[1].gateway->name);
    }
    assert_int_equal(first[0], 5);
    assert_int_equal(first[1], 5);
}

/* ---- a route of 300 gateways: the verdicts past the first 256 kept like the others --------- */

enum { LONG_GWS = 300 };

typedef struct long_rt {
    unsigned down_asked[LONG_GWS], full_asked[LONG_GWS], spread_asked;
    uint32_t spread;
} long_rt;

static unsigned long_gw_index(const cr_gateway *g)
{
    return (unsigned)strtoul(g->name + 2, NULL, 10); /* "gwN" */
}

static bool long_down(void *ud, const cr_gateway *g)
{
    unsigned i = long_gw_index(g);
    ((long_rt *)ud)->down_asked[i]++;
    return i % 7 == 3;
}

static bool long_full(void *ud, const cr_gateway *g)
{
    unsigned i = long_gw_index(g);
    ((long_rt *)ud)->full_asked[i]++;
    return i % 11 == 5;
}

static uint32_t long_spread(void *ud, const cr_route *r)
{
    (void)r;
    ((long_rt *)ud)->spread_asked++;
    return ((long_rt *)ud)->spread;
}

static cr_config *long_route_config(void)
{
    size_t cap = 64 * 1024, o = 0;
    char *xml = malloc(cap);
    assert_non_null(xml);
    o += (size_t)snprintf(xml + o, cap - o,
                          "<callroute xmlns='urn:callroute:config:1'>"
                          "<domains><domain>contoso.com</domain></domains>"
                          "<locationProfiles default='P'><locationProfile name='P'/>"
                          "</locationProfiles><phoneUsages><usage name='U'/></phoneUsages>"
                          "<voicePolicies default='V'><voicePolicy name='V'><usage>U</usage>"
                          "</voicePolicy></voicePolicies><gateways>");
    for (int i = 0; i < LONG_GWS; i++)
        o += (size_t)snprintf(xml + o, cap - o,
                              "<gateway name='gw%d' address='sip:192.0.2.%d:%d' ports='2'/>", i,
                              i % 250 + 1, 5060 + i);
    o += (size_t)snprintf(xml + o, cap - o,
                          "</gateways><routes><route name='Long' pattern='^\\+1555(\\d{7})$'>"
                          "<usage>U</usage>");
    for (int i = 0; i < LONG_GWS; i++)
        o += (size_t)snprintf(xml + o, cap - o, "<gateway>gw%d</gateway>", i);
    o += (size_t)snprintf(xml + o, cap - o,
                          "</route></routes><users><user uri='sip:ann@contoso.com' "
                          "enterpriseVoice='true'/></users></callroute>");
    assert_true(o < cap);
    cr_config *c = cr_test_load_xml(xml);
    free(xml);
    assert_non_null(c);
    return c;
}

/* Trace lines containing `what`. */
static size_t trace_count(const cr_trace *t, const char *what)
{
    char line[512];
    size_t n = 0;
    for (size_t i = 0; cr_trace_line(t, i, line, sizeof line); i++)
        n += strstr(line, what) != NULL;
    return n;
}

/*
 * A route of 300 gateways (past the 256 whose usable positions are kept on the stack), some
 * down and some full: the attempts are the usable gateways in the route's order rotated by
 * the route's counter, 32 of them, and the host is asked once per gateway and decision
 * whether it is down, once whether it is full (when not down), and once for the counter;
 * with a trace, the same attempts and one line per gateway.
 */
static void test_route_of_300_gateways(void **state)
{
    (void)state;
    cr_config *c = long_route_config();
    unsigned usable[LONG_GWS], nusable = 0, ndown = 0, nfull = 0;
    for (unsigned i = 0; i < LONG_GWS; i++) {
        if (i % 7 == 3)
            ndown++;
        else if (i % 11 == 5)
            nfull++;
        else
            usable[nusable++] = i;
    }
    /* rotations starting in the first gateways, past position 256, and wrapping around */
    const uint32_t spreads[] = {0, 1, 230, nusable - 3, nusable + 7, 1000003};
    for (size_t t = 0; t < sizeof spreads / sizeof spreads[0]; t++)
        for (int traced = 0; traced < 2; traced++) {
            long_rt lr;
            memset(&lr, 0, sizeof lr);
            lr.spread = spreads[t];
            cr_runtime rt = {.ud = &lr,
                             .gateway_down = long_down,
                             .gateway_full = long_full,
                             .route_spread = long_spread};
            cr_trace tr;
            cr_trace_init(&tr);
            cr_decision d;
            assert_int_equal(cr_route_decide(c, "sip:ann@contoso.com", "+15551234567", &rt, &d,
                                             traced ? &tr : NULL),
                             CR_OK);
            assert_int_equal(d.kind, CR_OUTBOUND);
            assert_int_equal(d.nattempts, CR_MAX_ATTEMPTS);
            unsigned first = spreads[t] % nusable;
            for (size_t j = 0; j < d.nattempts; j++) {
                char want[16];
                snprintf(want, sizeof want, "gw%u", usable[(first + j) % nusable]);
                assert_string_equal(d.attempts[j].gateway->name, want);
                assert_string_equal(d.attempts[j].route->name, "Long");
            }
            for (unsigned i = 0; i < LONG_GWS; i++) {
                assert_int_equal(lr.down_asked[i], 1);
                assert_int_equal(lr.full_asked[i], i % 7 == 3 ? 0 : 1);
            }
            assert_int_equal(lr.spread_asked, 1);
            if (traced) {
                assert_int_equal(trace_count(&tr, "is down: skipped"), ndown);
                assert_int_equal(trace_count(&tr, "is full (2 ports in use): skipped"), nfull);
                assert_int_equal(trace_count(&tr, "added as attempt"), CR_MAX_ATTEMPTS);
                assert_int_equal(trace_count(&tr, "attempts at most"), nusable - CR_MAX_ATTEMPTS);
            }
            cr_trace_free(&tr);
        }
    cr_config_free(c);
}

static void test_internal_and_not_applicable(void **state)
{
    (void)state;
    const cr_decision *d = decide("sip:rita@contoso.com", "5550100", NULL);
    assert_int_equal(d->kind, CR_INTERNAL);
    assert_string_equal(d->callee->uri, "sip:alice@contoso.com");
    assert_string_equal(d->rule->name, "7digit");
    d = decide("sip:nobody@contoso.com", "5550100", NULL);
    assert_int_equal(d->kind, CR_NOT_APPLICABLE);
    d = decide("sip:alice@contoso.com", "sip:+12065550100@fabrikam.com;user=phone", NULL);
    assert_int_equal(d->kind, CR_NOT_APPLICABLE);
    assert_non_null(strstr(cr_test_reason(d), "fabrikam.com"));
    d = decide("sip:alice@contoso.com", "sip:+12065550100@contoso.com;user=phone", NULL);
    assert_int_equal(d->kind, CR_OUTBOUND);
    d = decide("sip:alice@contoso.com", "", NULL);
    assert_int_equal(d->kind, CR_NOT_APPLICABLE);
    d = decide("sip:alice@contoso.com", "call-me-maybe", NULL);
    assert_int_equal(d->kind, CR_NOT_APPLICABLE);
}

static bool never_down(void *ud, const cr_gateway *g)
{
    (void)g;
    (void)ud;
    return false;
}

/* Verdicts that count their questions: the gateways named in `down` are down, those in `full`
 * full; route_spread counts per route. */
typedef struct asking_rt {
    const char *down, *full;
    unsigned down_asked[8], full_asked[8], route_asked;
    uint32_t route_counter;
} asking_rt;

static bool named_in(const char *list, const cr_gateway *g)
{
    return list && strchr(list, g->name[0]) != NULL; /* one-letter gateway names */
}

static bool asking_down(void *ud, const cr_gateway *g)
{
    asking_rt *a = ud;
    a->down_asked[(g->name[0] - 'A') & 7]++;
    return named_in(a->down, g);
}

static bool asking_full(void *ud, const cr_gateway *g)
{
    asking_rt *a = ud;
    a->full_asked[(g->name[0] - 'A') & 7]++;
    return named_in(a->full, g);
}

static uint32_t asking_route_spread(void *ud, const cr_route *r)
{
    (void)r;
    asking_rt *a = ud;
    a->route_asked++;
    return a->route_counter++;
}

/* Alice's decision for `number` (traced or not, the trace freed) as "kind attempts" in got. */
static void decide_text(const cr_config *c, const char *number, const cr_runtime *rt,
                        cr_decision *d, bool traced, char *got, size_t len)
{
    cr_trace trace;
    cr_trace_init(&trace);
    assert_int_equal(
        cr_route_decide(c, "sip:alice@contoso.com", number, rt, d, traced ? &trace : NULL), CR_OK);
    cr_trace_free(&trace);
    snprintf(got, len, "%d %s", (int)d->kind, attempts(d));
}
/* A route of two gateways is added without the rotation's loop unless a trace is kept: the
 * same attempts, in the same order, as the loop adds with a trace kept, whatever the spread:
 * a gateway already listed by an earlier route, a Request-URI too long for one of the two, a
 * gateway removing the '+'; and with verdicts to ask (one gateway down, or full, or both
 * gateways refused) and a route's own counter, the same questions asked as often. */
static void test_two_gateway_routes_as_the_loop_adds_them(void **state)
{
    (void)state;
    char host[241];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = 0;
    char xml[8192];
    snprintf(xml, sizeof xml,
             "<callroute xmlns='urn:callroute:config:1'>"
             "<domains><domain>contoso.com</domain></domains>"
             "<locationProfiles default='P'><locationProfile name='P'/></locationProfiles>"
             "<phoneUsages><usage name='U1'/><usage name='U2'/><usage name='U3'/>"
             "<usage name='U4'/></phoneUsages>"
             "<voicePolicies default='V'><voicePolicy name='V'><usage>U1</usage>"
             "<usage>U2</usage><usage>U3</usage><usage>U4</usage></voicePolicy></voicePolicies>"
             "<gateways><gateway name='A' address='sip:192.0.2.1'/>"
             "<gateway name='B' address='sip:192.0.2.2'/>"
             "<gateway name='C' address='sip:192.0.2.3' removePlus='true' ports='4'/>"
             "<gateway name='L' address='sip:%s'/></gateways>"
             "<routes>"
             "<route name='R1' pattern='^\\+1425555(\\d{4})$'><usage>U1</usage>"
             "<gateway>L</gateway><gateway>A</gateway></route>"
             "<route name='R2' pattern='^\\+1425(\\d{7})$'><usage>U2</usage>"
             "<gateway>A</gateway><gateway>B</gateway></route>"
             "<route name='R3' pattern='^\\+1206(\\d{7})$'><usage>U3</usage>"
             "<gateway>C</gateway><gateway>B</gateway></route>"
             "<route name='R4' pattern='^\\+?(\\d*)$'><usage>U4</usage>"
             "<gateway>B</gateway><gateway>C</gateway></route>"
             "</routes>"
             "<users><user uri='sip:alice@contoso.com' line='tel:+14255550100' "
             "enterpriseVoice='true'/></users></callroute>",
             host);
    cr_config *c = cr_test_load_xml(xml);
    assert_non_null(c);
    static const char *const numbers[] = {"+14255550199", "+14256660100", "+12065550100",
                                          "+33155550100", "5550100",      "14255550100"};
    size_t outbound = 0;
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        for (uint32_t from = 0; from < 4; from++) {
            static cr_decision d[3];
            char got[3][2048];
            for (int how = 0; how < 3; how++) {
                rtstate st = {NULL, from};
                cr_runtime rt = {.ud = &st, .spread = spread};
                if (how == 1)
                    rt.gateway_down = never_down;
                decide_text(c, numbers[i], &rt, &d[how], how == 2, got[how], sizeof got[how]);
            }
            assert_string_equal(got[0], got[1]);
            assert_string_equal(got[0], got[2]);
            outbound += d[0].kind == CR_OUTBOUND;
        }
    assert_int_equal(outbound, 4 * 6); /* R4 takes every number of digits */
    /* verdicts asked: without a trace (the two-gateway path) and with one (the loop) */
    static const char *const refused[][2] = {{NULL, NULL}, {"B", NULL}, {"A", NULL},
                                             {NULL, "C"},  {"B", "C"},  {"AB", NULL}};
    size_t some_refused = 0;
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        for (size_t v = 0; v < sizeof refused / sizeof refused[0]; v++)
            for (uint32_t from = 0; from < 4; from++) {
                static cr_decision d[2];
                char got[2][2048];
                asking_rt ar[2];
                for (int traced = 0; traced < 2; traced++) {
                    ar[traced] = (asking_rt){
                        .down = refused[v][0], .full = refused[v][1], .route_counter = from};
                    cr_runtime rt = {.ud = &ar[traced],
                                     .gateway_down = asking_down,
                                     .gateway_full = asking_full,
                                     .route_spread = asking_route_spread};
                    decide_text(c, numbers[i], &rt, &d[traced], traced, got[traced],
                                sizeof got[traced]);
                }
                assert_string_equal(got[0], got[1]);
                assert_memory_equal(ar[0].down_asked, ar[1].down_asked, sizeof ar[0].down_asked);
                assert_memory_equal(ar[0].full_asked, ar[1].full_asked, sizeof ar[0].full_asked);
                assert_int_equal(ar[0].route_asked, ar[1].route_asked);
                some_refused += d[0].kind == CR_OUTBOUND && d[0].nattempts == 1;
            }
    assert_true(some_refused > 0); /* a route of two gateways gave one attempt */
    cr_config_free(c);
}

/* A configuration's start: profile P, usages U1 and U2 in policy V, and gateway A. */
#define TWO_USAGES_HEAD                                                                            \
    "<callroute xmlns='urn:callroute:config:1'>"                                                   \
    "<domains><domain>contoso.com</domain></domains>"                                              \
    "<locationProfiles default='P'><locationProfile name='P'/></locationProfiles>"                 \
    "<phoneUsages><usage name='U1'/><usage name='U2'/></phoneUsages>"                              \
    "<voicePolicies default='V'><voicePolicy name='V'><usage>U1</usage>"                           \
    "<usage>U2</usage></voicePolicy></voicePolicies>"                                              \
    "<gateways><gateway name='A' address='sip:192.0.2.1'/>"

/* A decision blocked because no gateway of its matching routes can take it says why: every
 * gateway down keeps its reason; full ones, and Request-URIs too long, are named as causes.
 * Finding the causes leaves the routes' counters as they were. */
static void test_blocked_reason_names_the_causes(void **state)
{
    (void)state;
    char host[241], xml[4096];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = 0;
    snprintf(xml, sizeof xml,
             TWO_USAGES_HEAD "<gateway name='B' address='sip:192.0.2.2' ports='2'/>"
                             "<gateway name='L' address='sip:%s'/></gateways>"
                             "<routes>"
                             "<route name='R1' pattern='^\\+1425(\\d{7})$'><usage>U1</usage>"
                             "<gateway>A</gateway><gateway>B</gateway></route>"
                             "<route name='R2' pattern='^\\+1206(\\d{7})$'><usage>U2</usage>"
                             "<gateway>L</gateway><gateway>B</gateway></route>"
                             "</routes>"
                             "<users><user uri='sip:alice@contoso.com' line='tel:+18005550100' "
                             "enterpriseVoice='true'/></users></callroute>",
             host);
    cr_config *c = cr_test_load_xml(xml);
    assert_non_null(c);
    static const struct {
        const char *down, *full, *number, *reason;
    } cases[] = {
        {"AB", NULL, "+14255550199", "every gateway of the routes matching +14255550199 is down"},
        {"A", "B", "+14255550199",
         "no gateway of the routes matching +14255550199 can take the call (down or full)"},
        {NULL, "B", "+12065550199",
         "no gateway of the routes matching +12065550199 can take the call (full or a "
         "Request-URI over 255 characters)"},
        {"B", NULL, "+12065550199",
         "no gateway of the routes matching +12065550199 can take the call (down or a "
         "Request-URI over 255 characters)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int traced = 0; traced < 2; traced++) {
            asking_rt ar = {.down = cases[i].down, .full = cases[i].full};
            cr_runtime rt = {.ud = &ar,
                             .gateway_down = asking_down,
                             .gateway_full = asking_full,
                             .route_spread = asking_route_spread};
            static cr_decision d;
            cr_trace trace;
            cr_trace_init(&trace);
            assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", cases[i].number, &rt, &d,
                                             traced ? &trace : NULL),
                             CR_OK);
            char why[CR_REASON_MAX];
            assert_int_equal(d.kind, CR_BLOCKED);
            assert_string_equal(cr_decision_reason(&d, why, sizeof why), cases[i].reason);
            if (traced) {
                char line[400];
                snprintf(line, sizeof line, "blocked: %s", cases[i].reason);
                assert_int_equal(trace_count(&trace, line), 1);
            }
            assert_int_equal(ar.route_asked, 0); /* no route had two usable gateways */
            cr_trace_free(&trace);
        }
    cr_config_free(c);
}

/* A decision whose Request-URIs all fit under its longest gateway host adds a route's two
 * gateways without measuring them; at the bound (a URI of 255 characters fits, one of 256 does
 * not, a gateway removing the '+' one shorter) the same attempts as the loop that measures
 * each gateway, with a trace kept. */
static void test_two_gateway_routes_at_the_uri_bound(void **state)
{
    (void)state;
    char hostl[229], hostm[228], xml[8192];
    memset(hostl, 'l', sizeof hostl - 1);
    hostl[sizeof hostl - 1] = 0;
    memset(hostm, 'm', sizeof hostm - 1);
    hostm[sizeof hostm - 1] = 0;
    snprintf(xml, sizeof xml,
             TWO_USAGES_HEAD "<gateway name='B' address='sip:192.0.2.2'/>"
                             "<gateway name='L' address='sip:%s'/>"
                             "<gateway name='M' address='sip:%s' removePlus='true'/></gateways>"
                             "<routes>"
                             "<route name='R1' pattern='^\\+?(\\d*)$'><usage>U1</usage>"
                             "<gateway>L</gateway><gateway>A</gateway></route>"
                             "<route name='R2' pattern='^\\+?(\\d*)$'><usage>U2</usage>"
                             "<gateway>M</gateway><gateway>B</gateway></route>"
                             "</routes>"
                             "<users><user uri='sip:alice@contoso.com' line='tel:+18005550100' "
                             "enterpriseVoice='true'/></users></callroute>",
             hostl, hostm);
    cr_config *c = cr_test_load_xml(xml);
    assert_non_null(c);
    /* "sip:" + number + "@" + host + ";user=phone": L's fits up to 11 characters, M's up to 12
     * (13 with a '+' it removes) */
    static const struct {
        const char *number;
        size_t nattempts;
    } cases[] = {{"+1425555010", 4},    {"+14255550100", 3}, {"+142555501001", 3},
                 {"+1425555010012", 2}, {"14255550100", 4},  {"142555501001", 3},
                 {"1425555010012", 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (uint32_t from = 0; from < 2; from++) {
            static cr_decision d[2];
            char got[2][2048];
            for (int traced = 0; traced < 2; traced++) {
                rtstate st = {NULL, from};
                cr_runtime rt = {.ud = &st, .spread = spread};
                decide_text(c, cases[i].number, &rt, &d[traced], traced, got[traced],
                            sizeof got[traced]);
            }
            assert_string_equal(got[0], got[1]);
            assert_int_equal(d[0].kind, CR_OUTBOUND);
            assert_int_equal(d[0].nattempts, cases[i].nattempts);
            for (size_t a = 0; a < d[0].nattempts; a++)
                assert_true(strlen(cr_test_uri(c, &d[0], a)) < CR_URI_SHORT);
        }
    cr_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_routing_setup),
        cmocka_unit_test(test_local_gateway_examples),
        cmocka_unit_test(test_redmond_local_policy_only_local),
        cmocka_unit_test(test_source_based_routing),
        cmocka_unit_test(test_failover_route),
        cmocka_unit_test(test_911_per_site),
        cmocka_unit_test(test_international_gateway),
        cmocka_unit_test(test_new_york_gateway),
        cmocka_unit_test(test_blocking_1900_and_1411),
        cmocka_unit_test(test_load_spread_across_route_gateways),
        cmocka_unit_test(test_route_of_300_gateways),
        cmocka_unit_test(test_internal_and_not_applicable),
        cmocka_unit_test(test_two_gateway_routes_as_the_loop_adds_them),
        cmocka_unit_test(test_two_gateway_routes_at_the_uri_bound),
        cmocka_unit_test(test_blocked_reason_names_the_causes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

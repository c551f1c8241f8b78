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
#include <strings.h>

#include "cr_engine.h"
#include "cr_ringplan.h"
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

/* SPEC §2 step 2: the phone-context names a profile. Names are matched in any case (FQDNs),
 * but a profile of that exact name wins over one whose name differs only in case: with
 * profiles "dallas" (empty) and "Dallas", phone-context=Dallas is Dallas. Before the fix the
 * case-folded index answered "dallas", the first one put in. */
static void test_phone_context_exact_name_wins_over_case_folded(void **state)
{
    (void)state;
    cr_config *c = cr_test_load_xml(
        "<callroute xmlns='urn:callroute:config:1'>"
        "<domains><domain>contoso.com</domain></domains>"
        "<locationProfiles default='Redmond'><locationProfile name='Redmond'>"
        "<rule name='7digit' pattern='^(\\d{7})$' translation='+1425$1'/>"
        "</locationProfile><locationProfile name='dallas'/><locationProfile name='Dallas'>"
        "<rule name='7digit' pattern='^(\\d{7})$' translation='+1214$1'/>"
        "</locationProfile></locationProfiles>"
        "<phoneUsages><usage name='Local'/></phoneUsages>"
        "<voicePolicies default='P'><voicePolicy name='P'><usage>Local</usage></voicePolicy>"
        "</voicePolicies>"
        "<gateways><gateway name='GW1' address='sip:192.0.2.10:5060'/></gateways>"
        "<routes><route name='Any' pattern='^\\+\\d+$'>"
        "<usage>Local</usage><gateway>GW1</gateway></route></routes>" DOC_TAIL);
    assert_non_null(c);
    cr_decision d;
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com",
                                     "sip:5550100;phone-context=Dallas@contoso.com;user=phone",
                                     NULL, &d, NULL),
                     CR_OK);
    assert_string_equal(d.profile->name, "Dallas");
    assert_int_equal(d.kind, CR_OUTBOUND);
    assert_string_equal(d.normalized, "+12145550100");
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", "tel:5550100;phone-context=dallas",
                                     NULL, &d, NULL),
                     CR_OK);
    assert_string_equal(d.profile->name, "dallas");
    assert_string_equal(d.normalized, "5550100");
    /* another case of both names: one of them, by the case-folded index */
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", "tel:5550100;phone-context=DALLAS",
                                     NULL, &d, NULL),
                     CR_OK);
    assert_int_equal(strcasecmp(d.profile->name, "dallas"), 0);
    /* a name in another case still names its profile (FQDNs) */
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com",
                                     "tel:5550100;phone-context=REDMOND", NULL, &d, NULL),
                     CR_OK);
    assert_string_equal(d.profile->name, "Redmond");
    cr_config_free(c);
}

/* A translation that leaves nothing ("$1" of ^9(\d*)$ on "9", the access digit alone) is
 * no number: the call is blocked with the reason, not sent as "sip:@gateway" by a route that
 * matches the empty string (the guide's Universal Route ^\+?(?!(1900|1411))(\d*)$ does); a
 * calling number it empties stays as it came (no "<sip:;phone-context=enterprise@...>"), and
 * a forwarding target it empties is skipped. Before the fix: outbound to sip:@192.0.2.10. */
static void test_translation_to_an_empty_number(void **state)
{
    (void)state;
    cr_config *c = cr_test_load_xml(
        "<callroute xmlns='urn:callroute:config:1'>"
        "<domains><domain>contoso.com</domain></domains>"
        "<locationProfiles default='Redmond'><locationProfile name='Redmond'>"
        "<rule name='access' pattern='^9(\\d*)$' translation='$1'/>"
        "</locationProfile></locationProfiles>"
        "<phoneUsages><usage name='Local'/></phoneUsages>"
        "<voicePolicies default='P'><voicePolicy name='P'><usage>Local</usage></voicePolicy>"
        "</voicePolicies>"
        "<gateways><gateway name='GW1' address='sip:192.0.2.10:5060'/></gateways>"
        "<routes><route name='Universal Route' pattern='^\\+?(?!(1900|1411))(\\d*)$'>"
        "<usage>Local</usage><gateway>GW1</gateway></route></routes>"
        "<users><user uri='sip:alice@contoso.com' line='tel:+14255550100' enterpriseVoice='true'>"
        "<forwarding immediate='9'/></user></users></callroute>");
    assert_non_null(c);
    cr_decision d;
    cr_trace t;
    cr_trace_init(&t);
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", "9", NULL, &d, &t), CR_OK);
    assert_int_equal(d.kind, CR_BLOCKED);
    assert_int_equal(d.nattempts, 0);
    assert_string_equal(cr_test_reason(&d), "rule 'access' translates 9 to an empty number");
    assert_non_null(strstr(t.buf, "translates 9 to an empty number"));
    cr_trace_free(&t);
    /* without a trace (the decision started ahead with the likely profile) the same */
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", "9", NULL, &d, NULL), CR_OK);
    assert_int_equal(d.kind, CR_BLOCKED);
    assert_int_equal(d.nattempts, 0);
    /* a number the rule leaves digits of still routes */
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", "912065550100", NULL, &d, NULL),
                     CR_OK);
    assert_int_equal(d.kind, CR_OUTBOUND);
    assert_string_equal(d.normalized, "12065550100");
    /* inbound: the calling number stays as it came, and its PAI names it */
    cr_inbound in;
    assert_int_equal(
        cr_inbound_decide(c, cr_config_gateway_find(c, "GW1"), "+14255550100", "9", &in, NULL),
        CR_OK);
    assert_string_equal(in.calling, "9");
    assert_string_equal(in.pai, "<sip:9;phone-context=enterprise@contoso.com;user=phone>");
    /* a forwarding target it empties is skipped: the call rings as usual */
    cr_plan plan;
    const cr_user *alice = cr_config_user_find(c, "sip:alice@contoso.com");
    assert_int_equal(cr_plan_build(c, NULL, alice, NULL, 0, NULL, &plan, NULL), CR_OK);
    assert_false(plan.forwarded);
    assert_int_equal(plan.nlegs, 0);
    assert_int_equal(plan.branches[0].kind, CR_BRANCH_ENDPOINTS);
    cr_config_free(c);
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

/* Checks that cr_attempt_uri cuts attempt i's URI like snprintf for every buffer size, and
 * that cr_decision_reason does the same with its reason. */
static void expect_cut_like_snprintf(const cr_config *c, const cr_decision *d, size_t i)
{
    char full[CR_URI_SHORT], buf[CR_URI_SHORT + 32];
    size_t n = cr_attempt_uri(c, d, i, full, sizeof full);
    assert_int_equal(n, strlen(full));
    for (size_t cap = 0; cap <= n + 20 && cap <= sizeof buf; cap++) {
        memset(buf, 'Z', sizeof buf);
        assert_int_equal(cr_attempt_uri(c, d, i, buf, cap), n);
        if (!cap) {
            assert_int_equal(buf[0], 'Z');
            continue;
        }
        size_t k = n < cap - 1 ? n : cap - 1;
        assert_memory_equal(buf, full, k);
        assert_int_equal(buf[k], 0);
    }
    char why[CR_REASON_MAX];
    cr_decision_reason(d, why, sizeof why);
    size_t rn = strlen(why);
    for (size_t cap = 1; cap <= rn + 2 && cap <= sizeof buf; cap++) {
        const char *r = cr_decision_reason(d, buf, cap);
        size_t k = rn < cap - 1 ? rn : cap - 1;
        assert_ptr_equal(r, buf);
        assert_memory_equal(buf, why, k);
        assert_int_equal(buf[k], 0);
    }
    assert_string_equal(cr_decision_reason(d, buf, 0), "");
}

/* Attempts keep no URI: cr_attempt_uri writes it when asked, and a gateway whose URI would not
 * fit in CR_URI_SHORT bytes (255 characters) is no attempt, sip: or sips: (where the 's'
 * makes it one longer). The reason, cut at 255 characters, is written on demand too. */
static void test_request_uris_and_reasons_on_demand(void **state)
{
    (void)state;
    char host227[228], host228[229], name[251], xml[4096];
    memset(host227, 'h', 227);
    host227[227] = 0;
    memset(host228, 'h', 228);
    host228[228] = 0;
    memset(name, 'R', 250);
    name[250] = 0;
    snprintf(xml, sizeof xml,
             "<callroute xmlns='urn:callroute:config:1'><domains><domain>contoso.com</domain>"
             "</domains><locationProfiles default='Redmond'><locationProfile name='Redmond'/>"
             "</locationProfiles><phoneUsages><usage name='Local'/></phoneUsages>"
             "<voicePolicies default='P'><voicePolicy name='P'><usage>Local</usage>"
             "</voicePolicy></voicePolicies><gateways>"
             "<gateway name='GW1' address='sip:192.0.2.10:5060' removePlus='true'/>"
             "<gateway name='GWL' address='sip:%s'/><gateway name='GWX' address='sip:%s'/>"
             "</gateways><routes><route name='%s' pattern='^\\+\\d+$'><usage>Local</usage>"
             "<gateway>GW1</gateway><gateway>GWL</gateway><gateway>GWX</gateway></route>"
             "</routes>" DOC_TAIL,
             host227, host228, name);
    cr_config *c = cr_test_load_xml(xml);
    assert_non_null(c);
    static cr_decision d;
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com", "+14255550199", NULL, &d, NULL),
                     CR_OK);
    assert_int_equal(d.kind, CR_OUTBOUND);
    assert_int_equal(d.nattempts, 2); /* GWX's URI would be 256 characters */
    assert_string_equal(d.attempts[1].gateway->name, "GWL");
    char want[CR_URI_SHORT + 8];
    snprintf(want, sizeof want, "sip:+14255550199@%s;user=phone", host227);
    assert_int_equal(strlen(want), 255);
    assert_string_equal(cr_test_uri(c, &d, 1), want);
    assert_string_equal(cr_test_uri(c, &d, 0), "sip:14255550199@192.0.2.10:5060;user=phone");
    assert_string_equal(cr_test_uri(c, &d, 2), ""); /* past the attempts */
    char why[512];
    snprintf(why, sizeof why, "route '%s', usage 'Local'", name);
    why[CR_REASON_MAX - 1] = 0;
    assert_string_equal(cr_test_reason(&d), why);
    expect_cut_like_snprintf(c, &d, 0);
    expect_cut_like_snprintf(c, &d, 1);
    /* sips: GWL's would be 256 characters */
    assert_int_equal(cr_route_decide(c, "sip:alice@contoso.com",
                                     "sips:+14255550199@contoso.com;user=phone", NULL, &d, NULL),
                     CR_OK);
    assert_int_equal(d.nattempts, 1);
    assert_string_equal(cr_test_uri(c, &d, 0), "sips:14255550199@192.0.2.10:5060;user=phone");
    expect_cut_like_snprintf(c, &d, 0);
    cr_config_free(c);
    /* short reasons (copied whole when they fit), cut the same way */
    const cr_decision *s = decide("+12065550100");
    assert_string_equal(cr_test_reason(s), "route 'Any', usage 'Local'");
    expect_cut_like_snprintf(cfg, s, 0);
    s = decide("+14255550100");
    assert_int_equal(s->kind, CR_INTERNAL);
    assert_string_equal(cr_test_reason(s),
                        "+14255550100 is the line of user 'sip:alice@contoso.com'");
    expect_cut_like_snprintf(cfg, s, 0);
}

/* cr_uri_key as it was before keys were read eight bytes a step (session 14): the reference
 * the fast path must agree with, byte for byte. */
static size_t uri_key_ref(const char *uri, char *out, size_t len)
{
    const char *lt = strchr(uri, '<');
    if (lt)
        uri = lt + 1;
    while (*uri == ' ')
        uri++;
    if ((uri[0] | 0x20) != 's' || (uri[1] | 0x20) != 'i' || (uri[2] | 0x20) != 'p')
        return 0;
    const char *p;
    if (uri[3] == ':')
        p = uri + 4;
    else if ((uri[3] | 0x20) == 's' && uri[4] == ':')
        p = uri + 5;
    else
        return 0;
    if (len < 8)
        return 0;
    const char *q = p;
    while (*q && *q != '>' && *q != ';' && *q != '?' && *q != '@')
        q++;
    size_t ul = *q == '@' ? (size_t)(q - p) + 1 : 0, o = 0;
    if (4 + ul >= len && ul)
        return 0;
    memcpy(out, "sip:", 4);
    memcpy(out + 4, p, ul);
    o = 4 + ul;
    for (const char *h = p + ul; *h && !strchr(">;?:", *h); h++) {
        if (o + 1 >= len)
            return 0;
        out[o++] = (char)(*h >= 'A' && *h <= 'Z' ? *h - 'A' + 'a' : *h);
    }
    out[o] = 0;
    return o;
}

/* Random URIs over the bytes cr_uri_key stops or changes at (and their neighbours, '=' and
 * bytes over 0x7F) give the reference's key, for every length from 0 to 80 and every room
 * for the key from 1 to 100 bytes; the keys of the configuration's users find them. */
static void test_uri_key_words_agree_with_bytes(void **state)
{
    (void)state;
    static const char alpha[] = "sipSIP:@@@;<>?=9aZzAe.-_ %\x7f\x80\xc3\xbaX";
    static const char *heads[] = {"sip:",       "sips:", "SIP:",  "sip:u@",
                                  "sip:alice@", "<sip:", " sip:", ""};
    char uri[128], got[128], want[128];
    uint32_t r = 12345;
    for (int k = 0; k < 400000; k++) {
        r = r * 1103515245u + 12345u;
        const char *head = heads[(r >> 8) % 8];
        size_t hl = strlen(head), n = hl + (r >> 16) % 60;
        memcpy(uri, head, hl);
        for (size_t i = hl; i < n; i++) {
            r = r * 1103515245u + 12345u;
            /* mostly letters and digits, so that keys of several words occur */
            uri[i] = (r >> 24) % 4 ? "abcdefghij0123456789"[(r >> 16) % 20]
                                   : alpha[(r >> 16) % (sizeof alpha - 1)];
        }
        uri[n] = 0;
        size_t room = 1 + (r >> 4) % 100;
        memset(got, 'x', sizeof got);
        memset(want, 'y', sizeof want);
        size_t gn = cr_uri_key(uri, got, room), wn = uri_key_ref(uri, want, room);
        if (gn != wn || (gn && strcmp(got, want) != 0))
            fail_msg("cr_uri_key(\"%s\", %zu): %zu \"%s\", want %zu \"%s\"", uri, room, gn,
                     gn ? got : "", wn, wn ? want : "");
    }
    static const char *cases[][2] = {
        {"sip:alice@contoso.com", "sip:alice@contoso.com"},
        {"sip:Alice@Contoso.COM", "sip:Alice@contoso.com"},
        {"SIPS:alice@contoso.com:5061;transport=tls", "sip:alice@contoso.com"},
        {"\"Alice\" <sip:alice@contoso.com;user=phone>;tag=1", "sip:alice@contoso.com"},
        {"sip:+14255550100;phone-context=x@contoso.com", "sip:+14255550100"},
        {"sip:al%40ice@contoso.com?subject=x", "sip:al%40ice@contoso.com"},
        {"sip:contoso.com", "sip:contoso.com"},
        {"sip:CONTOSO.COM", "sip:contoso.com"},
        {"sip:a:pw@contoso.com", "sip:a:pw@contoso.com"},
        {"sip:a@b@Contoso.com", "sip:a@b@contoso.com"},
        {"sip:a=b@contoso.com", "sip:a=b@contoso.com"},
        {"sip:alice@contoso.com ", "sip:alice@contoso.com "},
        {"sip:very.long.user.name.of.forty.chars@sub.contoso.com",
         "sip:very.long.user.name.of.forty.chars@sub.contoso.com"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(cr_uri_key(cases[i][0], got, sizeof got), strlen(cases[i][1]));
        assert_string_equal(got, cases[i][1]);
    }
    assert_int_equal(cr_uri_key("sip:alice@contoso.com", got, 21), 0); /* no room for the NUL */
    assert_int_equal(cr_uri_key("sip:alice@contoso.com", got, 22), 21);
    assert_int_equal(cr_uri_key("tel:+14255550100", got, sizeof got), 0);
}

/* Users whose URIs are 7 to 60 characters long, in upper and lower case: the caller table (its
 * hashes computed in the key's one pass) finds each by its URI and by other forms of it. */
static void test_users_found_by_uri_of_every_length(void **state)
{
    (void)state;
    char doc[32768], *o = doc, uri[128];
    o += sprintf(o, "%s", DOC_HEAD "<routes/><users>");
    for (int len = 1; len <= 50; len++) {
        memset(uri, 0, sizeof uri);
        for (int i = 0; i < len; i++)
            uri[i] = (char)((i % 3 == 1 ? 'A' : 'a') + (len + i) % 26);
        o += sprintf(o, "<user uri='sip:%s@c.com' line='tel:+1425555%04d' enterpriseVoice='true'/>",
                     uri, len);
    }
    sprintf(o, "</users></callroute>");
    cr_config *c = cr_test_load_xml(doc);
    assert_non_null(c);
    for (int len = 1; len <= 50; len++) {
        char user[64] = {0}, want[128], form[160], number[32];
        for (int i = 0; i < len; i++)
            user[i] = (char)((i % 3 == 1 ? 'A' : 'a') + (len + i) % 26);
        snprintf(want, sizeof want, "sip:%s@c.com", user);
        static const char *forms[] = {"sip:%s@c.com", "sip:%s@C.COM", "<sip:%s@c.com>",
                                      "sips:%s@c.com;transport=tls", "sip:%s@c.com:5060"};
        for (size_t f = 0; f < 5; f++) {
            snprintf(form, sizeof form, forms[f], user);
            const cr_user *u = cr_config_user_find(c, form);
            if (!u || strcmp(u->uri, want) != 0)
                fail_msg("'%s' found %s, want %s", form, u ? u->uri : "no user", want);
        }
        want[4 + len] = 'X'; /* another user part of the same length: no one's */
        assert_null(cr_config_user_find(c, want));
        snprintf(number, sizeof number, "+1425555%04d", len);
        const cr_user *u = cr_user_by_number(c, NULL, number, NULL);
        assert_non_null(u);
        assert_true(strstr(u->uri, user) != NULL);
        number[5] = '9';
        assert_null(cr_user_by_number(c, NULL, number, NULL));
    }
    cr_config_free(c);
}

/* Lines of 1 to 24 digits, with and without '+' and extension, on both sides of the 16
 * characters a line slot holds packed: each found by its number (and extension), a number one
 * digit off, one digit shorter or longer, or with another extension is no one's. */
static void test_lines_of_every_length(void **state)
{
    (void)state;
    char doc[32768], *o = doc, num[40];
    o += sprintf(o, "%s", DOC_HEAD "<routes/><users>");
    for (int len = 1; len <= 24; len++)
        for (int kind = 0; kind < 3; kind++) { /* "+digits", "digits", "+digits;ext=len" */
            for (int i = 0; i < len; i++)
                num[i] = (char)('0' + (len * 7 + i * 3 + kind) % 10);
            num[len] = 0;
            o += sprintf(o, "<user uri='sip:u%d_%d@c.com' line='tel:%s%s", len, kind,
                         kind == 1 ? "" : "+", num);
            if (kind == 2)
                o += sprintf(o, ";ext=%d", len);
            o += sprintf(o, "' enterpriseVoice='true'/>");
        }
    sprintf(o, "</users></callroute>");
    cr_config *c = cr_test_load_xml(doc);
    assert_non_null(c);
    for (int len = 1; len <= 24; len++)
        for (int kind = 0; kind < 3; kind++) {
            char want[64], ext[8], number[48];
            snprintf(want, sizeof want, "sip:u%d_%d@c.com", len, kind);
            snprintf(ext, sizeof ext, "%d", len);
            for (int i = 0; i < len; i++)
                num[i] = (char)('0' + (len * 7 + i * 3 + kind) % 10);
            num[len] = 0;
            snprintf(number, sizeof number, "%s%s", kind == 1 ? "" : "+", num);
            const cr_user *u = cr_user_by_number(c, NULL, number, kind == 2 ? ext : NULL);
            if (!u || strcmp(u->uri, want) != 0)
                fail_msg("%s (ext %s) found %s, want %s", number, kind == 2 ? ext : "none",
                         u ? u->uri : "no user", want);
            if (kind == 2) /* the bare number finds its first user too */
                assert_ptr_equal(cr_user_by_number(c, NULL, number, NULL), u);
            if (kind == 2) /* another extension: the bare number's user */
                assert_ptr_equal(cr_user_by_number(c, NULL, number, "999"), u);
            size_t n = strlen(number);
            char off[sizeof number + 1]; /* the number and one more digit */
            memcpy(off, number, n + 1);
            off[n - 1] = off[n - 1] == '9' ? '0' : (char)(off[n - 1] + 1);
            const cr_user *x = cr_user_by_number(c, NULL, off, NULL);
            assert_true(x == NULL || strcmp(x->uri, want) != 0);
            snprintf(off, sizeof off, "%s5", number);
            x = cr_user_by_number(c, NULL, off, NULL);
            assert_true(x == NULL || strcmp(x->uri, want) != 0);
            if (n > 2) {
                memcpy(off, number, n - 1);
                off[n - 1] = 0;
                x = cr_user_by_number(c, NULL, off, NULL);
                assert_true(x == NULL || strcmp(x->uri, want) != 0);
            }
        }
    cr_config_free(c);
}

static const cr_user *host_line_user;
static const cr_user *host_by_number(void *ud, const char *number, const char *ext)
{
    (void)ud, (void)ext;
    return strcmp(number, "+14259990000") == 0 ? host_line_user : NULL;
}

/* The decision's caller and line lookups: callers whose URI is its own key (read in place) and
 * in other forms (copied into a key), of 50 lengths, each calling every fifth user's line; a
 * caller or number one character off is no one's; a number that is no line of the
 * configuration is still asked of the host's source, whose answer makes the call internal. */
static void test_callers_and_lines_through_decisions(void **state)
{
    (void)state;
    char doc[32768], *o = doc;
    o += sprintf(o, "%s",
                 DOC_HEAD "<routes><route name='Any' pattern='^\\+\\d+$'>"
                          "<usage>Local</usage><gateway>GW1</gateway></route></routes>"
                          "<users>");
    for (int len = 1; len <= 50; len++) {
        char user[64] = {0};
        for (int i = 0; i < len; i++)
            user[i] = (char)((i % 3 == 1 ? 'A' : 'a') + (len + i) % 26);
        o += sprintf(o,
                     "<user uri='sip:%s@contoso.com' line='tel:+1425555%04d' "
                     "enterpriseVoice='true'/>",
                     user, len);
    }
    sprintf(o, "</users></callroute>");
    cr_config *c = cr_test_load_xml(doc);
    assert_non_null(c);
    static const char *forms[] = {"sip:%s@contoso.com", "sip:%s@CONTOSO.com",
                                  "<sip:%s@contoso.com>", "sips:%s@contoso.com;transport=tls",
                                  "\"A\" <sip:%s@contoso.com:5060>"};
    cr_decision d;
    for (int len = 1; len <= 50; len++) {
        char user[64] = {0}, want[128], from[160], number[32];
        for (int i = 0; i < len; i++)
            user[i] = (char)((i % 3 == 1 ? 'A' : 'a') + (len + i) % 26);
        snprintf(want, sizeof want, "sip:%s@contoso.com", user);
        int callee = (len * 5) % 50 + 1;
        snprintf(number, sizeof number, "+1425555%04d", callee);
        for (size_t f = 0; f < 5; f++) {
            snprintf(from, sizeof from, forms[f], user);
            assert_int_equal(cr_route_decide(c, from, number, NULL, &d, NULL), CR_OK);
            if (!d.caller || strcmp(d.caller->uri, want) != 0)
                fail_msg("caller '%s' found %s, want %s", from, d.caller ? d.caller->uri : "none",
                         want);
            assert_int_equal(d.kind, CR_INTERNAL);
            assert_non_null(d.callee);
            char line[48];
            snprintf(line, sizeof line, "tel:%s", number);
            assert_string_equal(d.callee->line, line);
            number[4] = '9'; /* +1429...: no one's line, outbound */
            assert_int_equal(cr_route_decide(c, from, number, NULL, &d, NULL), CR_OK);
            assert_int_equal(d.kind, CR_OUTBOUND);
            assert_null(d.callee);
            snprintf(number, sizeof number, "+1425555%04d", callee);
        }
        want[4 + len - 1] ^= 0x01; /* another user part of the same length: no one's */
        assert_int_equal(cr_route_decide(c, want, number, NULL, &d, NULL), CR_OK);
        assert_null(d.caller);
        char why[CR_REASON_MAX];
        assert_non_null(strstr(cr_decision_reason(&d, why, sizeof why), "not a known user"));
    }
    /* a number that is no line of the configuration, which the host's source knows */
    host_line_user = cr_config_user_at(c, 7);
    cr_user_source src = {.by_number = host_by_number};
    cr_runtime rt = {.users = &src};
    const char *from = cr_config_user_at(c, 0)->uri;
    assert_int_equal(cr_route_decide(c, from, "+14259990000", &rt, &d, NULL), CR_OK);
    assert_int_equal(d.kind, CR_INTERNAL);
    assert_ptr_equal(d.callee, host_line_user);
    assert_int_equal(cr_route_decide(c, from, "+14259990000", NULL, &d, NULL), CR_OK);
    assert_int_equal(d.kind, CR_OUTBOUND);
    cr_config_free(c);
}

/* 3,000 callers in a caller table of 8,192 cells, each deciding a call: whichever cell its probe
 * starts at (the second half of a line, whose peek reads on into the next line, the table's
 * last line, whose next is its first), the caller found is the one whose URI it is. */
static void test_every_caller_of_a_full_table_found(void **state)
{
    (void)state;
    enum { N = 3000 };
    size_t cap = 64 + (size_t)N * 100;
    char *doc = malloc(cap), *o = doc;
    assert_non_null(doc);
    o += sprintf(o, "%s",
                 DOC_HEAD "<routes><route name='Any' pattern='^\\+\\d+$'>"
                          "<usage>Local</usage><gateway>GW1</gateway></route></routes>"
                          "<users>");
    for (int i = 0; i < N; i++)
        o += sprintf(o, "<user uri='sip:caller%d@contoso.com' enterpriseVoice='true'/>", i);
    sprintf(o, "</users></callroute>");
    cr_config *c = cr_test_load_xml(doc);
    free(doc);
    assert_non_null(c);
    cr_decision d;
    for (int i = 0; i < N; i++) {
        char from[64];
        snprintf(from, sizeof from, "sip:caller%d@contoso.com", i);
        assert_int_equal(cr_route_decide(c, from, "+14255550100", NULL, &d, NULL), CR_OK);
        if (!d.caller || strcmp(d.caller->uri, from) != 0)
            fail_msg("caller %s found %s", from, d.caller ? d.caller->uri : "none");
        assert_int_equal(d.kind, CR_OUTBOUND);
        snprintf(from, sizeof from, "sip:caller%d@contoso.com", N + i); /* no one */
        assert_int_equal(cr_route_decide(c, from, "+14255550100", NULL, &d, NULL), CR_OK);
        assert_null(d.caller);
    }
    cr_config_free(c);
}

/* Digits only, after an optional '+', from 0 to 140 of them: read by words from 1 up to
 * CR_NUMBER_MAX, refused past it; any other byte at any place leaves the number as the
 * general parse reads it (not dialable, or without its separators). */
static void test_number_digits_by_words(void **state)
{
    (void)state;
    char in[160], want[160];
    cr_number num;
    for (int plus = 0; plus < 2; plus++)
        for (size_t n = 0; n <= 140; n++) {
            size_t len = 0;
            if (plus)
                in[len++] = '+';
            for (size_t i = 0; i < n; i++)
                in[len++] = (char)('0' + (i * 7 + n) % 10);
            in[len] = 0;
            int rc = cr_number_parse(in, &num);
            if (len == 0 || len > CR_NUMBER_MAX) {
                assert_int_equal(rc, CR_EINVAL);
                continue;
            }
            assert_int_equal(rc, CR_OK);
            assert_string_equal(num.digits, in);
            assert_int_equal(num.ndigits, len);
            assert_int_equal(num.dialable, n > 0);
        }
    static const unsigned char odd[] = {'/', ':', 'A', 'a', 0x7f, 0x80, 0xb0, 0xb9, 0xff, '+'};
    for (size_t n = 2; n <= 40; n++) /* short codes (2, 3) too */
        for (size_t at = 1; at < n; at++)
            for (size_t k = 0; k < sizeof odd; k++) {
                for (size_t i = 0; i < n; i++)
                    in[i] = (char)('0' + i % 10);
                in[at] = (char)odd[k];
                in[n] = 0;
                assert_int_equal(cr_number_parse(in, &num), CR_OK);
                assert_string_equal(num.digits, in);
                assert_int_equal(num.ndigits, n);
                assert_false(num.dialable);
                in[at] = '-'; /* a separator: dropped */
                memcpy(want, in, at);
                memcpy(want + at, in + at + 1, n - at);
                assert_int_equal(cr_number_parse(in, &num), CR_OK);
                assert_string_equal(num.digits, want);
                assert_int_equal(num.ndigits, n - 1);
                assert_true(num.dialable);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_pattern_without_index_entries_loads),
        cmocka_unit_test(test_sips_request_uri_keeps_sips_on_gateway_attempts),
        cmocka_unit_test(test_phone_context_names_the_profile),
        cmocka_unit_test(test_phone_context_exact_name_wins_over_case_folded),
        cmocka_unit_test(test_translation_to_an_empty_number),
        cmocka_unit_test(test_phone_context_percent_or_control_is_not_applicable),
        cmocka_unit_test(test_duplicate_ext_or_phone_context_is_an_error),
        cmocka_unit_test(test_sip_uri_with_empty_host_is_an_error),
        cmocka_unit_test(test_overlong_parameter_is_an_error_not_truncated),
        cmocka_unit_test(test_request_uris_and_reasons_on_demand),
        cmocka_unit_test(test_uri_key_words_agree_with_bytes),
        cmocka_unit_test(test_users_found_by_uri_of_every_length),
        cmocka_unit_test(test_number_digits_by_words),
        cmocka_unit_test(test_lines_of_every_length),
        cmocka_unit_test(test_callers_and_lines_through_decisions),
        cmocka_unit_test(test_every_caller_of_a_full_table_found),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

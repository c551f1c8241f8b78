/* The response-group loader: errors name file:line and the object; references resolve. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "testutil.h"

#define HEAD                                                                                       \
    "<?xml version=\"1.0\"?>\n<callroute xmlns=\"urn:callroute:config:1\">\n<responseGroups>\n"
#define TAIL "</responseGroups>\n</callroute>\n"

/* Loads `body`; returns the rc and the first error (formatted) in msg. */
static int load(const char *body, cr_rgs_config **cfg, char *msg, size_t len)
{
    char xml[8192];
    snprintf(xml, sizeof xml, HEAD "%s" TAIL, body);
    const char *path = cr_test_tmpfile(xml, ".xml");
    cr_diag d;
    cr_diag_init(&d);
    int rc = cr_rgs_xml_load(path, cfg, &d);
    msg[0] = 0;
    if (d.count)
        cr_diag_format(&d, 0, msg, len);
    cr_diag_free(&d);
    return rc;
}

static void expect_error(const char *body, const char *needle)
{
    cr_rgs_config *cfg = NULL;
    char msg[1024];
    assert_int_equal(load(body, &cfg, msg, sizeof msg), CR_ECONFIG);
    assert_null(cfg);
    if (!strstr(msg, needle))
        fail_msg("error '%s' does not contain '%s'", msg, needle);
}

static void test_alert_time_out_of_range(void **s)
{
    expect_error("<agentGroup name=\"G\" alertTime=\"5\"/>", "agentGroup 'G'");
    expect_error("<agentGroup name=\"G\" alertTime=\"601\"/>", "alertTime");
}

static void test_unknown_references(void **s)
{
    expect_error("<queue name=\"Q\"><group>Nope</group></queue>",
                 "queue 'Q': agent group 'Nope' is not defined");
    expect_error("<workflow name=\"W\" uri=\"sip:w@x\" queue=\"Missing\"/>",
                 "workflow 'W': queue 'Missing' is not defined");
    expect_error("<agentGroup name=\"G\"/><queue name=\"Q\"><group>G</group>"
                 "<timeout seconds=\"10\" action=\"queue\" target=\"Other\"/></queue>",
                 "action queue 'Other' is not defined");
    expect_error("<agentGroup name=\"G\"/><queue name=\"Q\"><group>G</group></queue>"
                 "<workflow name=\"W\" uri=\"sip:w@x\" queue=\"Q\" hours=\"H\"/>",
                 "hoursSet 'H' is not defined");
}

static void test_error_names_file_and_line(void **s)
{
    cr_rgs_config *cfg = NULL;
    char msg[1024];
    assert_int_equal(
        load("<agentGroup name=\"A\"/>\n<agentGroup name=\"A\"/>", &cfg, msg, sizeof msg),
        CR_ECONFIG);
    assert_non_null(strstr(msg, ".xml:5:"));
    assert_non_null(strstr(msg, "duplicate agentGroup name"));
}

static void test_hours_rules(void **s)
{
    expect_error("<hoursSet name=\"H\" timeZone=\"Mars/Olympus\"/>", "unknown time zone");
    expect_error("<hoursSet name=\"H\" timeZone=\"../etc/passwd\"/>", "not an IANA zone");
    expect_error("<hoursSet name=\"H\"><range days=\"mon\" open=\"08:00\" close=\"10:00\"/>"
                 "<range days=\"mon\" open=\"11:00\" close=\"12:00\"/>"
                 "<range days=\"mon\" open=\"13:00\" close=\"14:00\"/></hoursSet>",
                 "more than two ranges on mon");
    expect_error("<hoursSet name=\"H\"><range days=\"mon\" open=\"08:00\" close=\"12:00\"/>"
                 "<range days=\"mon\" open=\"11:00\" close=\"14:00\"/></hoursSet>",
                 "ranges overlap");
    expect_error("<hoursSet name=\"H\"><range days=\"funday\" open=\"08:00\" close=\"12:00\"/>"
                 "</hoursSet>",
                 "days 'funday'");
}

/* The count of diagnostics whose message contains needle. */
static size_t count_msgs(const cr_diag *d, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < d->count; i++)
        n += strstr(d->items[i].message, needle) != NULL;
    return n;
}

/* A group's repeated agents are found in one pass however long the group is (a forged image
 * may list tens of thousands: the check compared every pair), one error per repeat; a day's
 * ranges past the first few are not compared pair by pair (only two are allowed). */
static void test_long_groups_and_hours_checked_in_linear_time(void **s)
{
    cr_rgs_config *cfg = cr_rgs_config_new();
    assert_non_null(cfg);
    cr_rgs_group *g = cr_rgs_config_add_group(cfg, "Big", (cr_srcloc){"big.xml", 3});
    assert_non_null(g);
    char uri[64];
    for (int i = 0; i < 30000; i++) {
        snprintf(uri, sizeof uri, "sip:agent%d@example.com", i);
        assert_int_equal(cr_rgs_group_add_agent(g, uri), 0);
    }
    assert_int_equal(cr_rgs_group_add_agent(g, "sip:agent17@example.com"), 0);
    assert_int_equal(cr_rgs_group_add_agent(g, "sip:agent17@example.com"), 0);
    assert_int_equal(cr_rgs_group_add_agent(g, "sip:agent29999@example.com"), 0);
    cr_rgs_group *other = cr_rgs_config_add_group(cfg, "Other", (cr_srcloc){"big.xml", 9});
    assert_int_equal(cr_rgs_group_add_agent(other, "sip:agent17@example.com"), 0);
    cr_rgs_hours *h = cr_rgs_config_add_hours(cfg, "H", (cr_srcloc){"big.xml", 12});
    assert_non_null(h);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(
            cr_rgs_hours_add_range(h, 1u << 1, 60 + i % 60, 180, (cr_srcloc){"big.xml", 13}), 0);
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rgs_config_resolve(cfg, &d), CR_ECONFIG);
    /* agent17 three times in Big (two repeats), agent29999 twice; once in Other is no repeat */
    assert_int_equal(count_msgs(&d, "listed twice"), 3);
    assert_int_equal(count_msgs(&d, "agent sip:agent17@example.com listed twice"), 2);
    assert_int_equal(count_msgs(&d, "agent sip:agent29999@example.com listed twice"), 1);
    assert_int_equal(count_msgs(&d, "more than two ranges on mon"), 1);
    assert_true(count_msgs(&d, "ranges overlap") > 0);
    assert_int_equal(cfg->nagents, 30000);
    cr_diag_free(&d);
    cr_rgs_config_free(cfg);
}

/* Values the XML reader refuses are refused by resolve too, whatever built the configuration
 * (a plan image's records): the image and the XML accept the same configurations. */
static void test_resolve_bounds_what_xml_bounds(void **s)
{
    cr_rgs_config *cfg = cr_rgs_config_new();
    assert_non_null(cfg);
    cr_rgs_group *g = cr_rgs_config_add_group(cfg, "G", (cr_srcloc){"img", 1});
    g->decline_grace_s = 86401;
    cr_rgs_queue *q = cr_rgs_config_add_queue(cfg, "Q", (cr_srcloc){"img", 2});
    assert_int_equal(cr_rgs_queue_add_group(q, "G"), 0);
    q->timeout_s = 86401;
    q->overflow_calls = -2;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rgs_config_resolve(cfg, &d), CR_ECONFIG);
    assert_int_equal(count_msgs(&d, "declineGrace 86401 is over 86400 seconds"), 1);
    assert_int_equal(count_msgs(&d, "timeout 86401 is over 86400 seconds"), 1);
    assert_int_equal(count_msgs(&d, "overflow calls -2 is outside 0-1000000"), 1);
    cr_diag_free(&d);
    cr_rgs_config_free(cfg);
}

static void test_actions_need_targets(void **s)
{
    expect_error("<agentGroup name=\"G\"/><queue name=\"Q\"><group>G</group>"
                 "<overflow calls=\"3\" action=\"forward\"/></queue>",
                 "needs a target");
    expect_error("<agentGroup name=\"G\"/><queue name=\"Q\"><group>G</group>"
                 "<overflow calls=\"3\" candidate=\"middle\" action=\"disconnect\"/></queue>",
                 "candidate 'middle'");
}

/* A queue's <timeout> or <overflow> given twice is refused (found by fuzz_rgs_xml: the second
 * one's strings replaced the first's, which leaked). */
static void test_queue_action_given_twice(void **s)
{
    expect_error("<agentGroup name=\"G\"/><queue name=\"Q\"><group>G</group>"
                 "<timeout seconds=\"300\" action=\"voicemail\" target=\"sip:vm@contoso.com\"/>"
                 "<timeout seconds=\"60\" action=\"forward\" target=\"tel:+12145550100\"/>"
                 "</queue>",
                 "<timeout> given twice");
    expect_error("<agentGroup name=\"G\"/><queue name=\"Q\"><group>G</group>"
                 "<overflow calls=\"3\" action=\"disconnect\" prompt=\"a.wav\"/>"
                 "<overflow calls=\"5\" action=\"disconnect\" prompt=\"b.wav\"/></queue>",
                 "<overflow> given twice");
    /* and a workflow's (the second used to replace the first silently) */
    expect_error("<workflow name=\"W\" uri=\"sip:w@x\">"
                 "<afterHours action=\"disconnect\" prompt=\"closed.wav\"/>"
                 "<afterHours action=\"disconnect\" prompt=\"closed2.wav\"/></workflow>",
                 "<afterHours> given twice");
}

static void test_loads_model(void **s)
{
    cr_rgs_config *cfg = NULL;
    char msg[1024];
    int rc = load("<agentGroup name=\"G\" routingMethod=\"longestIdle\" participation=\"formal\""
                  " declineGrace=\"15\"><agent>sip:a@x</agent><agent>sip:b@x</agent></agentGroup>"
                  "<queue name=\"Q\"><group>G</group>"
                  "<timeout seconds=\"300\" action=\"voicemail\" target=\"sip:vm@x\"/>"
                  "<overflow calls=\"20\" candidate=\"oldest\" action=\"queue\" target=\"Q\"/>"
                  "</queue>"
                  "<workflow name=\"IVR\" uri=\"sip:ivr@x\" type=\"ivr\" script=\"menu.lua\" "
                  "active=\"false\" language=\"fr-FR\"/>",
                  &cfg, msg, sizeof msg);
    if (rc)
        fail_msg("%s", msg);
    assert_int_equal(cfg->ngroups, 1);
    assert_int_equal(cfg->groups[0].routing, CR_RGS_LONGEST_IDLE);
    assert_true(cfg->groups[0].formal);
    assert_int_equal(cfg->groups[0].decline_grace_s, 15);
    assert_int_equal(cfg->groups[0].alert_time_s, 20);
    assert_int_equal(cfg->nagents, 2);
    assert_int_equal(cfg->queues[0].timeout_s, 300);
    assert_int_equal(cfg->queues[0].overflow_calls, 20);
    assert_true(cfg->queues[0].overflow_oldest);
    assert_int_equal(cfg->queues[0].overflow_action.queue, 0);
    const cr_rgs_workflow *w = &cfg->workflows[0];
    assert_int_equal(w->type, CR_RGS_IVR);
    assert_false(w->active);
    assert_string_equal(w->language, "fr-FR");
    assert_string_equal(w->script + strlen(w->script) - 9, "/menu.lua"); /* beside the XML */
    assert_int_equal(cr_rgs_config_workflow_find(cfg, "sip:ivr@x;user=phone"), 0);
    cr_rgs_config_free(cfg);
}

/* The element reader shared with the routing loader (xml/include/cr_xml_elem.h). */
static void test_element_reader(void **s)
{
    expect_error("<agentGroup name=\"G\" alertTime=\"5\"/>",
                 "attribute 'alertTime' is '5', expected a whole number from 10 to 600");
    expect_error("<workflow name=\"W\" uri=\"sip:w@x\" active=\"yes\"/>",
                 "workflow 'W': attribute 'active' is 'yes', expected true, false, 1 or 0");
    expect_error("<agentGroup name=\"G\"><agnet>sip:a@x</agnet></agentGroup>",
                 "agentGroup 'G': unknown element <agnet> in <agentGroup>");
    expect_error("<agentGroup name=\"\"/>", "attribute 'name' is empty");
    expect_error("<queue/>", "queue: missing required attribute 'name'");
    /* elements of other namespaces are extension points here */
    cr_rgs_config *cfg = NULL;
    char msg[1024];
    int rc = load("<agentGroup name=\"G\" xmlns:x=\"urn:x\"><x:note/><agent>sip:a@x</agent>"
                  "</agentGroup>",
                  &cfg, msg, sizeof msg);
    if (rc)
        fail_msg("%s", msg);
    assert_int_equal(cfg->nagents, 1);
    cr_rgs_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alert_time_out_of_range),
        cmocka_unit_test(test_unknown_references),
        cmocka_unit_test(test_error_names_file_and_line),
        cmocka_unit_test(test_hours_rules),
        cmocka_unit_test(test_actions_need_targets),
        cmocka_unit_test(test_queue_action_given_twice),
        cmocka_unit_test(test_loads_model),
        cmocka_unit_test(test_element_reader),
        cmocka_unit_test(test_long_groups_and_hours_checked_in_linear_time),
        cmocka_unit_test(test_resolve_bounds_what_xml_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Reverse number lookup of response-group workflows (issue 12): a workflow's line dialed by a
 * user (E.164, an extension through the caller's location profile), its contact URI, a call
 * from a gateway to its line, the same from a plan image, and what `check` refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_directory.h"
#include "cr_engine.h"
#include "cr_image.h"
#include "cr_ringplan.h"
#include "cr_rgs_check.h"
#include "cr_rgs_image.h"
#include "cr_rgs_xml.h"
#include "cr_rules.h"
#include "testutil.h"

#define HEAD                                                                                       \
    "<callroute xmlns='urn:callroute:config:1'>"                                                   \
    "<domains><domain>contoso.com</domain></domains>"                                              \
    "<locationProfiles default='Redmond'>"                                                         \
    "<locationProfile name='Redmond'>"                                                             \
    "<rule name='5digit' pattern='^5(\\d{4})$' translation='+1425555$1' "                          \
    "internalExtension='true'/>"                                                                   \
    "<rule name='10digit' pattern='^(\\d{10})$' translation='+1$1'/>"                              \
    "</locationProfile>"                                                                           \
    "<locationProfile name='Dallas'>"                                                              \
    "<rule name='10digit' pattern='^(\\d{10})$' translation='+1$1'/>"                              \
    "</locationProfile></locationProfiles>"                                                        \
    "<phoneUsages><usage name='Local'/></phoneUsages>"                                             \
    "<voicePolicies default='Default'><voicePolicy name='Default'><usage>Local</usage>"            \
    "</voicePolicy></voicePolicies>"                                                               \
    "<gateways><gateway name='GW' address='sip:192.0.2.10:5060' locationProfile='Redmond'/>"       \
    "</gateways>"                                                                                  \
    "<routes><route name='Local' pattern='^\\+1425\\d{7}$'><usage>Local</usage>"                   \
    "<gateway>GW</gateway></route></routes>"

#define USERS                                                                                      \
    "<users>"                                                                                      \
    "<user uri='sip:alice@contoso.com' line='tel:+14255550100' enterpriseVoice='true'/>"           \
    "<user uri='sip:dan@contoso.com' enterpriseVoice='true' locationProfile='Dallas'/>"            \
    "</users>"

#define GROUPS                                                                                     \
    "<agentGroup name='T1' routingMethod='serial'><agent>sip:bob@contoso.com</agent>"              \
    "</agentGroup><queue name='Q'><group>T1</group></queue>"

static const char *xml_ok = HEAD USERS
    "<responseGroups>" GROUPS
    "<workflow name='Helpdesk' uri='sip:helpdesk@contoso.com' line='tel:+14255550110'"
    " type='huntGroup' queue='Q'/>"
    "<workflow name='Sales' uri='sip:sales@contoso.com' line='tel:+14255550120;ext=50120'"
    " type='huntGroup' queue='Q'/>"
    "<workflow name='NoLine' uri='sip:noline@contoso.com' type='huntGroup' queue='Q'/>"
    "</responseGroups></callroute>";

static cr_config *load_ok(void)
{
    cr_config *cfg = cr_test_load_xml(xml_ok);
    assert_non_null(cfg);
    return cfg;
}

static void decide(const cr_config *cfg, const char *from, const char *dialed, cr_decision *d)
{
    assert_int_equal(cr_route_decide(cfg, from, dialed, NULL, d, NULL), CR_OK);
}

static void workflow_e164_line_dialed_is_internal(void **state)
{
    (void)state;
    cr_config *cfg = load_ok();
    cr_decision d;
    decide(cfg, "sip:alice@contoso.com", "+14255550110", &d);
    assert_int_equal(d.kind, CR_INTERNAL);
    assert_null(d.callee);
    assert_non_null(d.workflow);
    assert_string_equal(d.workflow->uri, "sip:helpdesk@contoso.com");
    assert_string_equal(d.normalized, "+14255550110");
    assert_int_equal(d.nattempts, 0);
    assert_non_null(strstr(cr_test_reason(&d), "workflow 'Helpdesk'"));
    /* a tel: URI and a sip: URI with user=phone are the same number */
    decide(cfg, "sip:alice@contoso.com", "tel:+14255550110", &d);
    assert_true(d.kind == CR_INTERNAL && d.workflow && !strcmp(d.workflow->name, "Helpdesk"));
    decide(cfg, "sip:alice@contoso.com", "sip:+14255550110@contoso.com;user=phone", &d);
    assert_true(d.kind == CR_INTERNAL && d.workflow && !strcmp(d.workflow->name, "Helpdesk"));
    cr_config_free(cfg);
}

static void workflow_extension_through_caller_profile(void **state)
{
    (void)state;
    cr_config *cfg = load_ok();
    cr_decision d;
    /* Redmond's 5-digit rule makes 50110 the workflow's line */
    decide(cfg, "sip:alice@contoso.com", "50110", &d);
    assert_int_equal(d.kind, CR_INTERNAL);
    assert_string_equal(d.rule->name, "5digit");
    assert_string_equal(d.workflow->uri, "sip:helpdesk@contoso.com");
    /* Dallas has no such rule: 50110 stays 50110, no line, no route */
    decide(cfg, "sip:dan@contoso.com", "50110", &d);
    assert_int_equal(d.kind, CR_BLOCKED);
    assert_null(d.workflow);
    /* the 10-digit form works for both */
    decide(cfg, "sip:dan@contoso.com", "4255550110", &d);
    assert_true(d.kind == CR_INTERNAL && d.workflow && !strcmp(d.workflow->name, "Helpdesk"));
    cr_config_free(cfg);
}

static void workflow_line_with_extension(void **state)
{
    (void)state;
    cr_config *cfg = load_ok();
    cr_decision d;
    decide(cfg, "sip:alice@contoso.com", "tel:+14255550120;ext=50120", &d);
    assert_true(d.kind == CR_INTERNAL && d.workflow && !strcmp(d.workflow->name, "Sales"));
    /* the bare number finds it too (as a user's line with an extension) */
    decide(cfg, "sip:alice@contoso.com", "+14255550120", &d);
    assert_true(d.kind == CR_INTERNAL && d.workflow && !strcmp(d.workflow->name, "Sales"));
    assert_ptr_equal(cr_config_workflow_by_number(cfg, "+14255550120", "50120"), d.workflow);
    assert_null(cr_config_workflow_by_number(cfg, "+14255550121", NULL));
    cr_config_free(cfg);
}

static void workflow_uri_dialed_is_internal(void **state)
{
    (void)state;
    cr_config *cfg = load_ok();
    cr_decision d;
    decide(cfg, "sip:alice@contoso.com", "sip:noline@CONTOSO.com", &d);
    assert_int_equal(d.kind, CR_INTERNAL);
    assert_string_equal(d.workflow->name, "NoLine");
    assert_ptr_equal(cr_config_workflow_find(cfg, "sip:noline@contoso.com;transport=udp"),
                     d.workflow);
    cr_config_free(cfg);
}

static void users_and_other_numbers_are_unchanged(void **state)
{
    (void)state;
    cr_config *cfg = load_ok();
    cr_decision d;
    decide(cfg, "sip:dan@contoso.com", "4255550100", &d);
    assert_int_equal(d.kind, CR_INTERNAL);
    assert_string_equal(d.callee->uri, "sip:alice@contoso.com");
    assert_null(d.workflow);
    decide(cfg, "sip:alice@contoso.com", "+14255550111", &d);
    assert_int_equal(d.kind, CR_OUTBOUND);
    assert_null(d.workflow);
    assert_int_equal(cr_config_workflow_count(cfg), 3);
    cr_config_free(cfg);
}

static void gateway_call_to_workflow_line(void **state)
{
    (void)state;
    cr_config *cfg = load_ok();
    const cr_gateway *gw = cr_config_gateway_match(cfg, "192.0.2.10:5060");
    assert_non_null(gw);
    cr_inbound in;
    /* the gateway's profile (Redmond) makes 50110 the line */
    assert_int_equal(cr_inbound_decide(cfg, gw, "50110", "2065550123", &in, NULL), CR_OK);
    assert_null(in.callee);
    assert_non_null(in.workflow);
    assert_string_equal(in.workflow->uri, "sip:helpdesk@contoso.com");
    assert_string_equal(in.called, "+14255550110");
    /* a user's number still reaches the user */
    assert_int_equal(cr_inbound_decide(cfg, gw, "+14255550100", NULL, &in, NULL), CR_OK);
    assert_non_null(in.callee);
    assert_null(in.workflow);
    cr_config_free(cfg);
}

/* A plan image holds the response groups compiled: the workflows come back from it, with no
 * XML parsed. */
static void plan_image_keeps_workflow_lines(void **state)
{
    (void)state;
    const char *xml = cr_test_tmpfile(xml_ok, ".xml");
    cr_diag diag;
    cr_diag_init(&diag);
    cr_config *cfg = NULL;
    const char *img = cr_test_tmpfile("", ".plan");
    char err[512];
    /* loaded without the response-group loader: no image is written, it would lose them */
    assert_int_equal(cr_rules_load_also(xml, NULL, NULL, NULL, &cfg, &diag), CR_OK);
    assert_int_equal(cr_image_write(img, cfg, 1, NULL, err, sizeof err), CR_EINVAL);
    assert_non_null(strstr(err, "response groups were not compiled"));
    cr_rgs_config *rgs = NULL;
    assert_int_equal(cr_rgs_xml_load(xml, &rgs, &diag), CR_OK);
    assert_int_equal(cr_rgs_image_attach(cfg, rgs), CR_OK);
    cr_rgs_config_free(rgs);
    assert_int_equal(cr_image_write(img, cfg, 1, NULL, err, sizeof err), CR_OK);
    cr_config_free(cfg);
    /* cr_rules_load compiles them itself: the same image */
    const char *img2 = cr_test_tmpfile("", ".plan");
    assert_int_equal(cr_rules_load(xml, &cfg, &diag), CR_OK);
    assert_int_equal(cr_image_write(img2, cfg, 1, NULL, err, sizeof err), CR_OK);
    cr_config_free(cfg);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", img, img2);
    assert_int_equal(system(cmd), 0);
    remove(img2);
    assert_int_equal(cr_image_load(img, &cfg, &diag), CR_OK);
    cr_diag_free(&diag);
    assert_int_equal(cr_config_workflow_count(cfg), 3);
    cr_decision d;
    decide(cfg, "sip:alice@contoso.com", "50110", &d);
    assert_true(d.kind == CR_INTERNAL && d.workflow && !strcmp(d.workflow->name, "Helpdesk"));
    assert_string_equal(d.workflow->loc.file, xml);
    assert_int_equal(d.workflow->loc.line, 1);
    cr_config_free(cfg);
    remove(img);
    remove(xml);
}

/* Errors of `check` for xml: the routing configuration's, then the response groups against
 * it (what the library does with a document). Returns the formatted diagnostics. */
static char *check(const char *xml, int *rc)
{
    const char *path = cr_test_tmpfile(xml, ".xml");
    cr_diag diag;
    cr_diag_init(&diag);
    cr_config *cfg = NULL;
    *rc = cr_rules_load(path, &cfg, &diag);
    if (*rc == CR_OK) {
        cr_rgs_config *rgs = NULL;
        *rc = cr_rgs_xml_load(path, &rgs, &diag);
        if (*rc == CR_OK)
            *rc = cr_rgs_check_against(cfg, rgs, &diag);
        cr_rgs_config_free(rgs);
    }
    cr_config_free(cfg);
    char *out = calloc(1, 8192), line[1600];
    for (size_t i = 0; i < diag.count; i++) {
        cr_diag_format(&diag, i, line, sizeof line);
        strncat(out, line, 8192 - strlen(out) - 2);
        strcat(out, "\n");
    }
    cr_diag_free(&diag);
    return out;
}

static void check_refuses_workflow_line_of_a_user(void **state)
{
    (void)state;
    int rc;
    char *out = check(HEAD USERS "<responseGroups>" GROUPS
                                 "\n<workflow name='Help' uri='sip:help@contoso.com'"
                                 " line='tel:+14255550100' queue='Q'/>"
                                 "</responseGroups></callroute>",
                      &rc);
    assert_int_equal(rc, CR_ECONFIG);
    /* file:line, the workflow and the user */
    assert_non_null(strstr(out, ".xml:2: error: workflow 'Help': its line tel:+14255550100 is "
                                "also the line of user 'sip:alice@contoso.com'"));
    free(out);
    out = check(HEAD USERS "<responseGroups>" GROUPS
                           "<workflow name='Help' uri='sip:alice@contoso.com' queue='Q'/>"
                           "</responseGroups></callroute>",
                &rc);
    assert_int_equal(rc, CR_ECONFIG);
    assert_non_null(strstr(out, "workflow 'Help': its URI sip:alice@contoso.com is also user "
                                "'sip:alice@contoso.com'"));
    free(out);
}

static void check_refuses_malformed_and_respelled_lines(void **state)
{
    (void)state;
    int rc;
    char *out = check(HEAD USERS "<responseGroups>" GROUPS
                                 "<workflow name='Bad' uri='helpdesk' line='+1425x' queue='Q'/>"
                                 "</responseGroups></callroute>",
                      &rc);
    assert_int_equal(rc, CR_ECONFIG);
    assert_non_null(strstr(out, "workflow 'Bad': uri 'helpdesk' is not a SIP URI"));
    assert_non_null(strstr(out, "workflow 'Bad': line '+1425x' is not a tel: URI"));
    free(out);
    /* the same number written two ways: one line for two workflows */
    out = check(HEAD USERS "<responseGroups>" GROUPS
                           "<workflow name='A' uri='sip:a@contoso.com' line='tel:+14255550130'"
                           " queue='Q'/><workflow name='B' uri='sip:b@contoso.com'"
                           " line='tel:+1-425-555-0130' queue='Q'/></responseGroups></callroute>",
                &rc);
    assert_int_equal(rc, CR_ECONFIG);
    assert_non_null(strstr(out, "workflow 'B': line tel:+1-425-555-0130 is also the line of "
                                "workflow 'A'"));
    free(out);
}

/* A workflow's line that a user of the LMDB directory the configuration names also has. */
static void check_refuses_workflow_line_of_a_directory_user(void **state)
{
    (void)state;
    char dir[] = "/tmp/cr_wf_dirXXXXXX";
    assert_non_null(mkdtemp(dir));
    cr_directory *db = NULL;
    assert_int_equal(cr_directory_open(dir, true, &db, NULL, 0), CR_OK);
    char csv[64];
    snprintf(csv, sizeof csv, "%s/users.csv", dir);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    /* zoe's line is Zed's; yan has a line at Yan's URI; xia, only at Xia's URI, is its
     * calling identity */
    fputs("uri,line,enterpriseVoice\nsip:zoe@contoso.com,tel:+14255550140,true\n"
          "sip:yan@contoso.com,tel:+14255550141,true\nsip:xia@contoso.com,,true\n",
          f);
    fclose(f);
    cr_diag diag;
    cr_diag_init(&diag);
    assert_int_equal(cr_directory_import(db, csv, false, NULL, &diag), CR_OK);
    cr_diag_free(&diag);
    cr_directory_close(db);
    char xml[4096];
    snprintf(xml, sizeof xml,
             HEAD "<directory path='%s'/>" USERS "<responseGroups>" GROUPS
                  "\n<workflow name='Zed' uri='sip:zed@contoso.com' line='tel:+14255550140'"
                  " queue='Q'/>\n<workflow name='Yan' uri='sip:yan@contoso.com' queue='Q'/>"
                  "\n<workflow name='Xia' uri='sip:xia@contoso.com' queue='Q'/>"
                  "</responseGroups></callroute>",
             dir);
    int rc;
    char *out = check(xml, &rc);
    assert_int_equal(rc, CR_ECONFIG);
    assert_non_null(strstr(out, ".xml:2: error: workflow 'Zed': its line tel:+14255550140 is also "
                                "the line of user 'sip:zoe@contoso.com' in the user directory"));
    assert_non_null(strstr(out, ".xml:3: error: workflow 'Yan': its URI sip:yan@contoso.com is "
                                "also user 'sip:yan@contoso.com' in the user directory"));
    assert_null(strstr(out, "workflow 'Xia'"));
    free(out);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* An agent who is a user of the directory must be enabled for Enterprise Voice, as one of
 * the configuration's own users must (issue 15); one who is nobody's user stays allowed. */
static void check_refuses_directory_agent_without_enterprise_voice(void **state)
{
    (void)state;
    char dir[] = "/tmp/cr_wf_agentXXXXXX";
    assert_non_null(mkdtemp(dir));
    cr_directory *db = NULL;
    assert_int_equal(cr_directory_open(dir, true, &db, NULL, 0), CR_OK);
    char csv[64];
    snprintf(csv, sizeof csv, "%s/users.csv", dir);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("uri,line,enterpriseVoice\nsip:bob@contoso.com,tel:+14255550150,false\n"
          "sip:cat@contoso.com,tel:+14255550151,true\n",
          f);
    fclose(f);
    cr_diag diag;
    cr_diag_init(&diag);
    assert_int_equal(cr_directory_import(db, csv, false, NULL, &diag), CR_OK);
    cr_diag_free(&diag);
    cr_directory_close(db);
    char xml[4096];
    snprintf(xml, sizeof xml,
             HEAD
             "<directory path='%s'/>" USERS "<responseGroups>"
             "\n<agentGroup name='T1' routingMethod='serial'><agent>sip:bob@contoso.com</agent>"
             "<agent>sip:cat@contoso.com</agent><agent>sip:nobody@contoso.com</agent>"
             "</agentGroup><queue name='Q'><group>T1</group></queue>"
             "<workflow name='W' uri='sip:w@contoso.com' queue='Q'/>"
             "</responseGroups></callroute>",
             dir);
    int rc;
    char *out = check(xml, &rc);
    assert_int_equal(rc, CR_ECONFIG);
    assert_non_null(strstr(out, ".xml:2: error: agent group 'T1': agent 'sip:bob@contoso.com' is "
                                "user 'sip:bob@contoso.com' of the user directory"));
    assert_null(strstr(out, "sip:cat@contoso.com'"));
    assert_null(strstr(out, "nobody"));
    free(out);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A user's call forwarding or simultaneous ring to a workflow's number rings the workflow's
 * URI (a SIP target), not a PSTN leg hairpinned through a gateway. */
static void ringing_plan_target_that_is_a_workflow_line(void **state)
{
    (void)state;
    const char *xml =
        HEAD "<users>"
             "<user uri='sip:alice@contoso.com' line='tel:+14255550100' enterpriseVoice='true'>"
             "<forwarding immediate='50110'/></user>"
             "<user uri='sip:erin@contoso.com' line='tel:+14255550101' enterpriseVoice='true'>"
             "<simultaneousRing target='+14255550120;ext=50120'/></user>"
             "</users><responseGroups>" GROUPS
             "<workflow name='Helpdesk' uri='sip:helpdesk@contoso.com' line='tel:+14255550110'"
             " type='huntGroup' queue='Q'/>"
             "<workflow name='Sales' uri='sip:sales@contoso.com' line='tel:+14255550120;ext=50120'"
             " type='huntGroup' queue='Q'/>"
             "</responseGroups></callroute>";
    cr_config *cfg = cr_test_load_xml(xml);
    assert_non_null(cfg);
    static cr_plan plan; /* large */
    cr_trace trace;
    cr_trace_init(&trace);
    const cr_user *alice = cr_config_user_find(cfg, "sip:alice@contoso.com");
    assert_int_equal(cr_plan_build(cfg, NULL, alice, NULL, 0, NULL, &plan, &trace), CR_OK);
    assert_true(plan.forwarded);
    assert_int_equal(plan.nbranches, 1);
    assert_int_equal(plan.branches[0].ntargets, 1);
    assert_int_equal(plan.branches[0].targets[0].kind, CR_TARGET_SIP);
    assert_string_equal(plan.branches[0].targets[0].uri, "sip:helpdesk@contoso.com");
    assert_null(plan.branches[0].targets[0].leg);
    assert_non_null(plan.branches[0].targets[0].workflow);
    assert_string_equal(plan.branches[0].targets[0].workflow->name, "Helpdesk");
    assert_int_equal(plan.nlegs, 0);
    assert_non_null(strstr(trace.buf, "+14255550110: the line of workflow 'Helpdesk'"));
    cr_trace_free(&trace);
    /* simultaneous ring to a workflow's line with an extension */
    const cr_user *erin = cr_config_user_find(cfg, "sip:erin@contoso.com");
    assert_int_equal(cr_plan_build(cfg, NULL, erin, NULL, 0, NULL, &plan, NULL), CR_OK);
    bool found = false;
    for (size_t i = 0; i < plan.nbranches; i++)
        for (size_t k = 0; k < plan.branches[i].ntargets; k++)
            if (plan.branches[i].kind == CR_BRANCH_SIMULTANEOUS_RING) {
                assert_int_equal(plan.branches[i].targets[k].kind, CR_TARGET_SIP);
                assert_string_equal(plan.branches[i].targets[k].uri, "sip:sales@contoso.com");
                assert_non_null(plan.branches[i].targets[k].workflow);
                found = true;
            }
    assert_true(found);
    assert_int_equal(plan.nlegs, 0);
    cr_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workflow_e164_line_dialed_is_internal),
        cmocka_unit_test(workflow_extension_through_caller_profile),
        cmocka_unit_test(workflow_line_with_extension),
        cmocka_unit_test(workflow_uri_dialed_is_internal),
        cmocka_unit_test(users_and_other_numbers_are_unchanged),
        cmocka_unit_test(gateway_call_to_workflow_line),
        cmocka_unit_test(plan_image_keeps_workflow_lines),
        cmocka_unit_test(check_refuses_workflow_line_of_a_user),
        cmocka_unit_test(check_refuses_malformed_and_respelled_lines),
        cmocka_unit_test(check_refuses_workflow_line_of_a_directory_user),
        cmocka_unit_test(ringing_plan_target_that_is_a_workflow_line),
        cmocka_unit_test(check_refuses_directory_agent_without_enterprise_voice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

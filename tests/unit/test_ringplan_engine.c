/*
 * The ringing plan (engine/include/cr_ringplan.h) over tests/users/plan.xml: one user per feature
 * and per voice-policy switch, decided by the engine alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cr_ringplan.h"
#include "cr_rules.h"
#include "testutil.h"

static cr_config *cfg;
static cr_plan plan;
static cr_trace trace;

static int load(void **state)
{
    cr_diag d;
    cr_diag_init(&d);
    int rc = cr_rules_load(cr_test_src("tests/users/plan.xml"), &cfg, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s:%d: %s\n", d.items[i].file, d.items[i].line, d.items[i].message);
    cr_diag_free(&d);
    return rc == CR_OK ? 0 : -1;
}

static int unload(void **state)
{
    cr_config_free(cfg);
    return 0;
}

static int trace_new(void **state)
{
    cr_trace_init(&trace);
    return 0;
}

static int trace_free(void **state)
{
    cr_trace_free(&trace);
    return 0;
}

static const cr_plan *plan_for(const char *from, const char *user, const cr_runtime *rt,
                               const char *const *endpoints, size_t n)
{
    const cr_user *u = cr_config_user_find(cfg, user);
    assert_non_null(u);
    cr_trace_free(&trace);
    cr_trace_init(&trace);
    assert_int_equal(cr_plan_build(cfg, from, u, endpoints, n, rt, &plan, &trace), CR_OK);
    return &plan;
}

static const cr_plan *plan_of(const char *user)
{
    return plan_for("sip:judy@contoso.com", user, NULL, NULL, 0);
}

static const cr_plan_branch *branch(const cr_plan *p, cr_branch_kind k)
{
    for (size_t i = 0; i < p->nbranches; i++)
        if (p->branches[i].kind == k)
            return &p->branches[i];
    return NULL;
}

static bool traced(const char *needle)
{
    return trace.buf && strstr(trace.buf, needle);
}

static void endpoints_default_to_the_users_sip_uri(void **state)
{
    const cr_plan *p = plan_of("sip:judy@contoso.com");
    assert_int_equal(p->nbranches, 1);
    assert_int_equal(p->branches[0].kind, CR_BRANCH_ENDPOINTS);
    assert_int_equal(p->branches[0].at, 0);
    assert_int_equal(p->branches[0].ntargets, 1);
    assert_string_equal(p->branches[0].targets[0].uri, "sip:judy@contoso.com");
    assert_int_equal(p->branches[0].targets[0].kind, CR_TARGET_USER);
}

static void registered_endpoints_ring_at_once_each_one(void **state)
{
    const char *eps[] = {"sip:judy@192.0.2.7:5060", "sip:judy@192.0.2.7:5062;transport=tcp"};
    const cr_plan *p = plan_for(NULL, "sip:judy@contoso.com", NULL, eps, 2);
    const cr_plan_branch *b = branch(p, CR_BRANCH_ENDPOINTS);
    assert_non_null(b);
    assert_int_equal(b->ntargets, 2);
    assert_string_equal(b->targets[1].uri, eps[1]);
    assert_int_equal(b->targets[0].kind, CR_TARGET_ENDPOINT);
}

static void simultaneous_ring_is_a_pstn_leg_routed_with_the_callees_policy(void **state)
{
    const cr_plan *p = plan_of("sip:alice@contoso.com");
    const cr_plan_branch *b = branch(p, CR_BRANCH_SIMULTANEOUS_RING);
    assert_non_null(b);
    assert_int_equal(b->at, 0);
    assert_int_equal(b->targets[0].kind, CR_TARGET_PSTN);
    assert_string_equal(b->targets[0].uri, "tel:+14255550199");
    const cr_decision *d = &b->targets[0].leg->route;
    assert_int_equal(d->kind, CR_OUTBOUND);
    assert_int_equal(d->nattempts, 2);
    assert_string_equal(d->attempts[0].gateway->name, "GW1");
    assert_string_equal(cr_test_uri(cfg, d, 0), "sip:+14255550199@127.0.0.1:5071;user=phone");
    assert_string_equal(d->attempts[1].gateway->name, "GW2");
}

static bool gw1_down(void *ud, const cr_gateway *gw)
{
    return strcmp(gw->name, "GW1") == 0;
}

static void simultaneous_ring_skips_gateways_that_are_down(void **state)
{
    cr_runtime rt = {.gateway_down = gw1_down};
    const cr_plan *p = plan_for(NULL, "sip:alice@contoso.com", &rt, NULL, 0);
    const cr_plan_branch *b = branch(p, CR_BRANCH_SIMULTANEOUS_RING);
    assert_non_null(b);
    assert_int_equal(b->targets[0].leg->route.nattempts, 1);
    assert_string_equal(b->targets[0].leg->route.attempts[0].gateway->name, "GW2");
}

static void simultaneous_ring_forbidden_by_the_policy_is_skipped(void **state)
{
    const cr_plan *p = plan_of("sip:grace@contoso.com");
    assert_null(branch(p, CR_BRANCH_SIMULTANEOUS_RING));
    assert_int_equal(p->nlegs, 0);
    assert_true(traced("voice policy 'NoSimRing' does not allow simultaneous ring"));
    assert_int_equal(p->nskipped, 1);
    assert_string_equal(p->skipped[0].feature, "simultaneous_ring");
    assert_non_null(strstr(p->skipped[0].reason, "does not allow simultaneous ring"));
}

static void simultaneous_ring_to_a_users_number_rings_that_user(void **state)
{
    const cr_plan *p = plan_of("sip:ken@contoso.com");
    const cr_plan_branch *b = branch(p, CR_BRANCH_SIMULTANEOUS_RING);
    assert_non_null(b);
    assert_int_equal(b->targets[0].kind, CR_TARGET_USER);
    assert_string_equal(b->targets[0].uri, "sip:bob@contoso.com");
    assert_int_equal(p->nlegs, 0);
}

static void simultaneous_ring_no_route_allows_is_dropped(void **state)
{
    const cr_plan *p = plan_of("sip:leo@contoso.com");
    assert_null(branch(p, CR_BRANCH_SIMULTANEOUS_RING));
    assert_true(traced("no route matches it under voice policy 'LocalOnly'"));
}

static void pstn_legs_need_enterprise_voice(void **state)
{
    const cr_plan *p = plan_of("sip:mallory@contoso.com");
    assert_null(branch(p, CR_BRANCH_SIMULTANEOUS_RING));
    assert_true(traced("is not enabled for Enterprise Voice"));
}

static void team_call_rings_after_the_users_delay(void **state)
{
    const cr_plan *p = plan_of("sip:alice@contoso.com");
    const cr_plan_branch *b = branch(p, CR_BRANCH_TEAM_CALL);
    assert_non_null(b);
    assert_int_equal(b->at, 10);
    assert_string_equal(b->targets[0].uri, "sip:bob@contoso.com");
    /* branches are in time order: the team call comes last */
    assert_ptr_equal(b, &p->branches[p->nbranches - 1]);
}

static void team_call_without_delay_rings_every_member_at_once(void **state)
{
    /* mallory as if enabled for Enterprise Voice (a team-call owner must be: issue 15) */
    cr_user u = *cr_config_user_find(cfg, "sip:mallory@contoso.com");
    u.enterprise_voice = true;
    assert_int_equal(cr_plan_build(cfg, "sip:judy@contoso.com", &u, NULL, 0, NULL, &plan, NULL),
                     CR_OK);
    const cr_plan *p = &plan;
    const cr_plan_branch *b = branch(p, CR_BRANCH_TEAM_CALL);
    assert_non_null(b);
    assert_int_equal(b->at, 0);
    assert_int_equal(b->ntargets, 2);
    assert_int_equal(p->nnotices, 1);
    assert_int_equal(p->notices[0].kind, CR_NOTICE_TEAM_CALL);
    assert_ptr_equal(p->notices[0].branch, b);
    assert_string_equal(p->notices[0].user, "sip:mallory@contoso.com");
}

static void team_call_forbidden_by_the_policy_is_skipped(void **state)
{
    const cr_plan *p = plan_of("sip:heidi@contoso.com");
    assert_null(branch(p, CR_BRANCH_TEAM_CALL));
    assert_int_equal(p->nnotices, 0);
    assert_true(traced("voice policy 'NoTeam' does not allow team call"));
    assert_string_equal(p->skipped[0].feature, "team_call");
}

static void team_call_delay_not_before_the_no_answer_step_is_dropped(void **state)
{
    const cr_plan *p = plan_of("sip:nina@contoso.com");
    assert_null(branch(p, CR_BRANCH_TEAM_CALL));
    assert_true(traced("delay (30 s) is not before the no-answer step (20 s)"));
}

static void delegates_ring_with_the_manager_who_is_told_who_answered(void **state)
{
    const cr_plan *p = plan_of("sip:alice@contoso.com");
    const cr_plan_branch *b = branch(p, CR_BRANCH_DELEGATES);
    assert_non_null(b);
    assert_int_equal(b->at, 0);
    assert_string_equal(b->targets[0].uri, "sip:carol@contoso.com");
    assert_int_equal(p->notices[0].kind, CR_NOTICE_DELEGATE_ANSWERED);
    assert_string_equal(p->notices[0].user, "sip:alice@contoso.com");
    assert_ptr_equal(p->notices[0].branch, b);
}

static void delegation_forbidden_by_the_policy_is_skipped(void **state)
{
    const cr_plan *p = plan_of("sip:ivan@contoso.com");
    assert_null(branch(p, CR_BRANCH_DELEGATES));
    assert_true(traced("voice policy 'NoDelegation' does not allow delegation"));
    assert_string_equal(p->skipped[0].feature, "delegates");
}

static void the_caller_is_not_rung_as_a_delegate(void **state)
{
    const cr_plan *p = plan_for("sip:carol@contoso.com", "sip:alice@contoso.com", NULL, NULL, 0);
    assert_null(branch(p, CR_BRANCH_DELEGATES));
    assert_true(traced("not rung, the caller"));
}

static void a_target_in_two_branches_rings_once_in_the_first(void **state)
{
    const cr_plan *p = plan_of("sip:peggy@contoso.com");
    assert_non_null(branch(p, CR_BRANCH_DELEGATES));
    assert_null(branch(p, CR_BRANCH_TEAM_CALL));
    assert_true(traced("sip:bob@contoso.com already rings earlier"));
}

static void immediate_forwarding_to_a_number_replaces_ringing(void **state)
{
    const cr_plan *p = plan_of("sip:dave@contoso.com");
    assert_true(p->forwarded);
    assert_int_equal(p->nbranches, 1);
    assert_int_equal(p->branches[0].kind, CR_BRANCH_FORWARD);
    const cr_plan_target *t = &p->branches[0].targets[0];
    assert_int_equal(t->kind, CR_TARGET_PSTN);
    assert_string_equal(t->uri, "tel:+12065550123");
    assert_int_equal(t->leg->route.nattempts, 1);
    assert_string_equal(t->leg->route.attempts[0].route->name, "LD");
    assert_false(p->has_no_answer);
}

static void immediate_forwarding_to_voicemail(void **state)
{
    const cr_plan *p = plan_of("sip:erin@contoso.com");
    assert_true(p->forwarded);
    assert_int_equal(p->branches[0].targets[0].kind, CR_TARGET_VOICEMAIL);
    assert_string_equal(p->branches[0].targets[0].uri, "sip:erin-vm@contoso.com");
}

static void immediate_forwarding_forbidden_rings_as_usual(void **state)
{
    const cr_plan *p = plan_of("sip:fay@contoso.com");
    assert_false(p->forwarded);
    assert_non_null(branch(p, CR_BRANCH_ENDPOINTS));
    assert_true(traced("voice policy 'NoForward' does not allow call forwarding"));
    assert_string_equal(p->skipped[0].feature, "forward");
}

static void immediate_forwarding_to_the_own_line_is_ignored(void **state)
{
    const cr_plan *p = plan_of("sip:oscar@contoso.com");
    assert_false(p->forwarded);
    assert_true(traced("that is the callee's own line"));
}

static void no_answer_goes_to_voicemail_after_20_s_by_default(void **state)
{
    const cr_plan *p = plan_of("sip:mallory@contoso.com");
    assert_true(p->has_no_answer);
    assert_int_equal(p->no_answer_after, CR_NO_ANSWER_DEFAULT_S);
    assert_int_equal(p->no_answer.kind, CR_TARGET_VOICEMAIL);
    assert_string_equal(p->no_answer.uri, "sip:mallory-vm@contoso.com");
}

static void no_answer_after_the_users_time(void **state)
{
    const cr_plan *p = plan_of("sip:alice@contoso.com");
    assert_true(p->has_no_answer);
    assert_int_equal(p->no_answer_after, 20);
    assert_string_equal(p->no_answer.uri, "sip:alice-vm@contoso.com");
}

static void no_answer_to_a_number_is_routed_with_the_callees_policy(void **state)
{
    const cr_plan *p = plan_of("sip:peggy@contoso.com");
    assert_true(p->has_no_answer);
    assert_int_equal(p->no_answer_after, 25);
    assert_int_equal(p->no_answer.kind, CR_TARGET_PSTN);
    assert_string_equal(p->no_answer.uri, "tel:+12065550111");
    assert_string_equal(p->no_answer.leg->route.attempts[0].gateway->name, "GW2");
}

static void no_answer_forwarding_forbidden_falls_back_to_voicemail(void **state)
{
    const cr_plan *p = plan_of("sip:frank@contoso.com");
    assert_true(p->has_no_answer);
    assert_int_equal(p->no_answer_after, 15);
    assert_int_equal(p->no_answer.kind, CR_TARGET_VOICEMAIL);
    assert_true(traced("no-answer forwarding to 5550177: skipped"));
    assert_string_equal(p->skipped[0].feature, "no_answer");
}

static void without_voicemail_there_is_no_no_answer_step(void **state)
{
    const cr_plan *p = plan_of("sip:judy@contoso.com");
    assert_false(p->has_no_answer);
    assert_true(traced("has no voicemail URI"));
}

/* A user source standing in for the LMDB directory. */
static cr_user dir_user;
static char *dir_names[] = {"sip:bob@contoso.com"};

static const cr_user *fake_find(void *ud, const char *uri)
{
    return strcmp(uri, dir_user.uri) == 0 ? &dir_user : NULL;
}

static const cr_user *fake_by_number(void *ud, const char *number, const char *ext)
{
    return strcmp(number, "+14255550300") == 0 ? &dir_user : NULL;
}

static void targets_that_are_directory_users_are_recognised(void **state)
{
    memset(&dir_user, 0, sizeof dir_user);
    dir_user.uri = "sip:quinn@contoso.com";
    dir_user.enterprise_voice = true;
    dir_user.policy_idx = dir_user.profile_idx = -1;
    cr_user_source src = {NULL, fake_find, fake_by_number};
    cr_runtime rt = {.users = &src};
    /* judy's simultaneous ring number would be a directory user's line */
    cr_user judy = *cr_config_user_find(cfg, "sip:judy@contoso.com");
    judy.simultaneous_ring = "+14255550300";
    cr_trace_free(&trace);
    cr_trace_init(&trace);
    assert_int_equal(cr_plan_build(cfg, NULL, &judy, NULL, 0, &rt, &plan, &trace), CR_OK);
    const cr_plan_branch *b = branch(&plan, CR_BRANCH_SIMULTANEOUS_RING);
    assert_non_null(b);
    assert_int_equal(b->targets[0].kind, CR_TARGET_USER);
    assert_string_equal(b->targets[0].uri, "sip:quinn@contoso.com");
    /* and a directory user is a callee like any other */
    dir_user.team_call.names = dir_names;
    dir_user.team_call.count = 1;
    assert_int_equal(cr_plan_build(cfg, NULL, &dir_user, NULL, 0, &rt, &plan, NULL), CR_OK);
    assert_non_null(branch(&plan, CR_BRANCH_TEAM_CALL));
}

/* Guide 9460: the default policy applies to a user whose policy is gone (issue 15). */
static void a_directory_user_with_an_unknown_policy_gets_the_default_policy(void **state)
{
    cr_user u = *cr_config_user_find(cfg, "sip:alice@contoso.com");
    u.policy = "Not Configured";
    u.policy_idx = -1;
    cr_trace_free(&trace);
    cr_trace_init(&trace);
    assert_int_equal(cr_plan_build(cfg, NULL, &u, NULL, 0, NULL, &plan, &trace), CR_OK);
    assert_ptr_equal(plan.policy, cr_config_default_policy(cfg));
    assert_non_null(branch(&plan, CR_BRANCH_TEAM_CALL));
    assert_true(traced("voice policy 'Not Configured' is not configured: the default policy"));
}

/* Team call and simultaneous ring need an owner enabled for Enterprise Voice (issue 15). */
static void an_owner_without_enterprise_voice_gets_no_team_call_or_simultaneous_ring(void **state)
{
    cr_trace_free(&trace);
    cr_trace_init(&trace);
    const cr_user *u = cr_config_user_find(cfg, "sip:mallory@contoso.com");
    assert_int_equal(cr_plan_build(cfg, NULL, u, NULL, 0, NULL, &plan, &trace), CR_OK);
    assert_null(branch(&plan, CR_BRANCH_TEAM_CALL));
    assert_null(branch(&plan, CR_BRANCH_SIMULTANEOUS_RING));
    assert_true(traced("team call: skipped, 'sip:mallory@contoso.com' is not enabled for "
                       "Enterprise Voice"));
}

/* Guide (voice policies): the simultaneous ringing feature is "not available if you are
 * enabling PBX integration": a PBX-integrated user's simultaneous ring is skipped with a trace
 * line (the PBX fork stays), and check warns. Before the fix the plan rang it. */
static void a_pbx_integrated_user_gets_no_simultaneous_ring(void **state)
{
    cr_config *c = NULL;
    cr_diag d;
    cr_diag_init(&d);
    const char *path = cr_test_tmpfile(
        "<callroute xmlns='urn:callroute:config:1'>"
        "<domains><domain>contoso.com</domain></domains>"
        "<locationProfiles default='R'><locationProfile name='R'/></locationProfiles>"
        "<phoneUsages><usage name='Local'/></phoneUsages>"
        "<voicePolicies default='P'><voicePolicy name='P' simultaneousRing='true'>"
        "<usage>Local</usage></voicePolicy></voicePolicies>"
        "<gateways><gateway name='PBX' address='sip:192.0.2.50'/>"
        "<gateway name='PSTN' address='sip:192.0.2.60'/></gateways>"
        "<routes><route name='Lines' pattern='^\\+1425555\\d{4}$'><usage>Local</usage>"
        "<gateway>PBX</gateway></route>"
        "<route name='Any' pattern='^\\+\\d+$'><usage>Local</usage><gateway>PSTN</gateway>"
        "</route></routes>"
        "<users><user uri='sip:pat@contoso.com' line='tel:+14255550100' enterpriseVoice='true' "
        "pbxIntegration='true'><simultaneousRing target='+12065550199'/></user>"
        "<user uri='sip:sue@contoso.com' line='tel:+14255550101' enterpriseVoice='true'>"
        "<simultaneousRing target='+12065550199'/></user></users></callroute>",
        ".xml");
    assert_int_equal(cr_rules_load(path, &c, &d), CR_OK);
    /* check says so, naming the user */
    bool warned = false;
    for (size_t i = 0; i < d.count; i++)
        warned |= d.items[i].object &&
                  strcmp(d.items[i].object, "user 'sip:pat@contoso.com'") == 0 &&
                  strstr(d.items[i].message, "PBX integration: its simultaneous ring is skipped");
    cr_diag_free(&d);
    assert_true(warned);
    cr_trace_free(&trace);
    cr_trace_init(&trace);
    const cr_user *u = cr_config_user_find(c, "sip:pat@contoso.com");
    assert_int_equal(cr_plan_build(c, "sip:sue@contoso.com", u, NULL, 0, NULL, &plan, &trace),
                     CR_OK);
    assert_null(branch(&plan, CR_BRANCH_SIMULTANEOUS_RING));
    assert_non_null(branch(&plan, CR_BRANCH_PBX));
    assert_true(traced("simultaneous ring +12065550199: skipped, 'sip:pat@contoso.com' is "
                       "enabled for PBX integration"));
    bool skipped = false;
    for (size_t i = 0; i < plan.nskipped; i++)
        skipped |= strcmp(plan.skipped[i].feature, "simultaneous_ring") == 0;
    assert_true(skipped);
    /* a user without PBX integration keeps it */
    u = cr_config_user_find(c, "sip:sue@contoso.com");
    assert_int_equal(cr_plan_build(c, "sip:pat@contoso.com", u, NULL, 0, NULL, &plan, &trace),
                     CR_OK);
    assert_non_null(branch(&plan, CR_BRANCH_SIMULTANEOUS_RING));
    cr_config_free(c);
}

static void a_missing_callee_is_refused(void **state)
{
    assert_int_equal(cr_plan_build(cfg, NULL, NULL, NULL, 0, NULL, &plan, NULL), CR_EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, trace_new, trace_free)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(endpoints_default_to_the_users_sip_uri),
        T(registered_endpoints_ring_at_once_each_one),
        T(simultaneous_ring_is_a_pstn_leg_routed_with_the_callees_policy),
        T(simultaneous_ring_skips_gateways_that_are_down),
        T(simultaneous_ring_forbidden_by_the_policy_is_skipped),
        T(simultaneous_ring_to_a_users_number_rings_that_user),
        T(simultaneous_ring_no_route_allows_is_dropped),
        T(pstn_legs_need_enterprise_voice),
        T(team_call_rings_after_the_users_delay),
        T(team_call_without_delay_rings_every_member_at_once),
        T(team_call_forbidden_by_the_policy_is_skipped),
        T(team_call_delay_not_before_the_no_answer_step_is_dropped),
        T(delegates_ring_with_the_manager_who_is_told_who_answered),
        T(delegation_forbidden_by_the_policy_is_skipped),
        T(the_caller_is_not_rung_as_a_delegate),
        T(a_target_in_two_branches_rings_once_in_the_first),
        T(immediate_forwarding_to_a_number_replaces_ringing),
        T(immediate_forwarding_to_voicemail),
        T(immediate_forwarding_forbidden_rings_as_usual),
        T(immediate_forwarding_to_the_own_line_is_ignored),
        T(no_answer_goes_to_voicemail_after_20_s_by_default),
        T(no_answer_after_the_users_time),
        T(no_answer_to_a_number_is_routed_with_the_callees_policy),
        T(no_answer_forwarding_forbidden_falls_back_to_voicemail),
        T(without_voicemail_there_is_no_no_answer_step),
        T(targets_that_are_directory_users_are_recognised),
        T(a_directory_user_with_an_unknown_policy_gets_the_default_policy),
        T(an_owner_without_enterprise_voice_gets_no_team_call_or_simultaneous_ring),
        T(a_pbx_integrated_user_gets_no_simultaneous_ring),
        T(a_missing_callee_is_refused),
    };
    return cmocka_run_group_tests(tests, load, unload);
}

/*
 * Inbound call handling and the user directory through the command line: the built
 * `callroute` binary ($CR_BIN/plugin-api/callroute) run on tests/users/plan.xml.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"

static char out[8192], err[16384];
static char tmp[64];

static int mktmp(void **state)
{
    snprintf(tmp, sizeof tmp, "/tmp/cr_cli_users_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int rmtmp(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs `callroute ARGS` (a shell fragment); stdout into out, stderr into err; exit status. */
static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192], errfile[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    const char *bin = getenv("CR_BIN");
    assert_non_null(bin);
    snprintf(errfile, sizeof errfile, "%s/stderr", tmp);
    snprintf(cmd, sizeof cmd, "cd %s && CALLROUTE_QUIET=1 %s/plugin-api/callroute %s 2>%s", tmp,
             bin, args, errfile);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    FILE *e = fopen(errfile, "r");
    n = e ? fread(err, 1, sizeof err - 1, e) : 0;
    err[n] = 0;
    if (e)
        fclose(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *plan_xml(void)
{
    return cr_test_src("tests/users/plan.xml");
}

static void has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        fprintf(stderr, "missing: %s\nin: %s\n", needle, hay);
        fail();
    }
}

static void lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle)) {
        fprintf(stderr, "unexpected: %s\nin: %s\n", needle, hay);
        fail();
    }
}

static int inbound(const char *to, const char *extra)
{
    return run("inbound --config %s --from sip:judy@contoso.com %s --json %s", plan_xml(), to,
               extra ? extra : "");
}

static void plan_of_a_user_with_every_feature(void **state)
{
    assert_int_equal(inbound("sip:alice@contoso.com", NULL), 0);
    has(out, "\"callee\": \"sip:alice@contoso.com\"");
    has(out, "{\"at\": 0, \"kind\": \"endpoints\", \"targets\": [\"sip:alice@contoso.com\"]}");
    has(out, "{\"at\": 0, \"kind\": \"delegates\", \"targets\": [\"sip:carol@contoso.com\"]}");
    has(out, "{\"at\": 0, \"kind\": \"simultaneous_ring\", \"targets\": [\"tel:+14255550199\"], "
             "\"attempts\": [{\"target\": \"tel:+14255550199\", \"gateway\": \"GW1\", \"route\": "
             "\"Local\", \"usage\": \"Local\", \"uri\": "
             "\"sip:+14255550199@127.0.0.1:5071;user=phone\"");
    has(out, "{\"at\": 10, \"kind\": \"team_call\", \"targets\": [\"sip:bob@contoso.com\"]}");
    has(out, "\"no_answer\": {\"after\": 20, \"kind\": \"voicemail\", \"target\": "
             "\"sip:alice-vm@contoso.com\", \"attempts\": []}");
    has(out, "{\"event\": \"delegate_answered\", \"to\": \"sip:alice@contoso.com\", "
             "\"answered_by\": [\"sip:carol@contoso.com\"]}");
    has(out, "{\"event\": \"team_call\", \"to\": [\"sip:bob@contoso.com\"], \"on_behalf_of\": "
             "\"sip:alice@contoso.com\"}");
    has(out, "\"reason\": ");
}

static void a_number_finds_the_user_by_its_line(void **state)
{
    assert_int_equal(inbound("50100", NULL), 0);
    has(out, "\"callee\": \"sip:alice@contoso.com\"");
    assert_int_equal(inbound("tel:+14255550101", NULL), 0);
    has(out, "\"callee\": \"sip:bob@contoso.com\"");
}

static void not_a_user_exits_1(void **state)
{
    assert_int_equal(inbound("sip:nobody@contoso.com", NULL), 1);
    has(out, "\"callee\": null");
    has(out, "\"branches\": []");
    has(out, "\"no_answer\": null");
    assert_int_equal(inbound("+12065550100", NULL), 1);
}

static void host_endpoints_replace_the_sip_uri(void **state)
{
    assert_int_equal(inbound("sip:judy@contoso.com",
                             "--endpoint sip:judy@192.0.2.7:5060 --endpoint sip:judy@192.0.2.8"),
                     0);
    has(out, "\"targets\": [\"sip:judy@192.0.2.7:5060\", \"sip:judy@192.0.2.8\"]");
    has(out, "\"no_answer\": null");
}

static void immediate_forwarding_through_the_cli(void **state)
{
    assert_int_equal(inbound("sip:dave@contoso.com", NULL), 0);
    has(out, "\"kind\": \"forward\", \"targets\": [\"tel:+12065550123\"], \"attempts\": "
             "[{\"target\": \"tel:+12065550123\", \"gateway\": \"GW2\", \"route\": \"LD\"");
    has(out, "\"forwarded\": true");
    assert_int_equal(inbound("sip:erin@contoso.com", NULL), 0);
    has(out, "{\"at\": 0, \"kind\": \"forward\", \"targets\": [\"sip:erin-vm@contoso.com\"]}");
}

static void no_answer_to_a_number_through_the_cli(void **state)
{
    assert_int_equal(inbound("sip:peggy@contoso.com", NULL), 0);
    has(out, "\"no_answer\": {\"after\": 25, \"kind\": \"pstn\", \"target\": "
             "\"tel:+12065550111\", \"attempts\": [{\"gateway\": \"GW2\"");
}

static void each_policy_switch_through_the_cli(void **state)
{
    assert_int_equal(inbound("sip:grace@contoso.com", NULL), 0);
    lacks(out, "\"kind\": \"simultaneous_ring\"");
    has(out, "\"skipped\": [{\"feature\": \"simultaneous_ring\", \"reason\": \"simultaneous "
             "ring +14255550188: skipped, voice policy 'NoSimRing' does not allow simultaneous "
             "ring\"}]");
    assert_int_equal(inbound("sip:heidi@contoso.com", NULL), 0);
    lacks(out, "\"kind\": \"team_call\"");
    has(out, "{\"feature\": \"team_call\", \"reason\": \"team call: skipped, voice policy "
             "'NoTeam' does not allow team call\"}");
    assert_int_equal(inbound("sip:ivan@contoso.com", NULL), 0);
    lacks(out, "\"kind\": \"delegates\"");
    has(out, "{\"feature\": \"delegates\", \"reason\": \"delegates: skipped, voice policy "
             "'NoDelegation' does not allow delegation\"}");
    assert_int_equal(inbound("sip:fay@contoso.com", NULL), 0);
    has(out, "\"forwarded\": false");
    has(out, "immediate forwarding to sip:bob@contoso.com: skipped, voice policy 'NoForward'");
    assert_int_equal(inbound("sip:frank@contoso.com", NULL), 0);
    has(out, "\"no_answer\": {\"after\": 15, \"kind\": \"voicemail\"");
    has(out, "{\"feature\": \"no_answer\", \"reason\": \"no-answer forwarding to 5550177: "
             "skipped, voice policy 'NoForward' does not allow call forwarding\"}");
}

static void human_text_is_a_timeline_with_the_trace(void **state)
{
    assert_int_equal(
        run("inbound --config %s --from sip:judy@contoso.com sip:alice@contoso.com", plan_xml()),
        0);
    has(out, "callee: sip:alice@contoso.com\n");
    has(out, "10 s  team_call         user      sip:bob@contoso.com\n");
    has(out, "20 s  no_answer         voicemail sip:alice-vm@contoso.com\n");
    has(out, "via GW1 sip:+14255550199@127.0.0.1:5071;user=phone");
    has(out, "trace:\n");
}

static void a_call_from_a_gateway_is_normalized_with_its_profile(void **state)
{
    assert_int_equal(
        run("inbound --config %s --from +12065550100 --gateway GW1 4255550101 --json", plan_xml()),
        0);
    has(out, "\"callee\": \"sip:bob@contoso.com\"");
}

static void usage_errors_exit_2(void **state)
{
    assert_int_equal(run("inbound --config %s sip:alice@contoso.com", plan_xml()), 2);
    assert_int_equal(run("inbound --config /nonexistent.xml --from sip:a@b sip:alice@contoso.com"),
                     2);
    assert_int_equal(run("users import --db db"), 2);
    assert_int_equal(run("users frobnicate --db db x"), 2);
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void directory_users_through_import_and_db(void **state)
{
    assert_int_equal(run("users import --db db %s", cr_test_src("tests/users/directory.csv")), 0);
    has(out, "5 users read (5 added, 0 replaced, 0 removed)");
    has(out, "data.mdb ");
    assert_int_equal(
        run("users import --db db %s --json", cr_test_src("tests/users/directory.csv")), 0);
    has(out, "\"replaced\": 5");
    has(out, "\"file_bytes\": ");
    assert_int_equal(
        run("inbound --config %s --db db --from sip:alice@contoso.com 50200 --json", plan_xml()),
        0);
    has(out, "\"callee\": \"sip:zoe@contoso.com\"");
    has(out, "{\"at\": 5, \"kind\": \"team_call\", \"targets\": [\"sip:bob@contoso.com\", "
             "\"sip:yann@contoso.com\"]}");
    has(out, "\"no_answer\": {\"after\": 30, \"kind\": \"voicemail\"");
    /* a directory user with a policy that forbids simultaneous ring */
    assert_int_equal(run("inbound --config %s --db db --from sip:alice@contoso.com "
                         "sip:yann@contoso.com --json",
                         plan_xml()),
                     0);
    lacks(out, "\"kind\": \"simultaneous_ring\"");
    has(out, "voice policy 'NoSimRing' does not allow simultaneous ring");
    /* the directory user's simultaneous-ring target is a directory user: found as a user */
    write_file("ring.csv", "uri,line,enterpriseVoice,simultaneousRing\n"
                           "sip:rita@contoso.com,tel:+14255550600,true,5550201\n");
    assert_int_equal(run("users import --db db ring.csv"), 0);
    assert_int_equal(run("inbound --config %s --db db --from sip:alice@contoso.com "
                         "sip:rita@contoso.com --json",
                         plan_xml()),
                     0);
    has(out, "\"kind\": \"simultaneous_ring\", \"targets\": [\"sip:yann@contoso.com\"]");
}

static void routing_names_the_directory_in_the_config(void **state)
{
    assert_int_equal(run("users import --db db %s", cr_test_src("tests/users/directory.csv")), 0);
    /* includes stay in the configuration's directory: the plan goes next to it */
    char *plan = cr_test_slurp(plan_xml());
    assert_non_null(plan);
    write_file("plan.xml", plan);
    free(plan);
    write_file("cfg.xml", "<callroute xmlns=\"urn:callroute:config:1\">\n"
                          "  <directory path=\"db\"/>\n"
                          "  <include href=\"plan.xml\"/>\n"
                          "</callroute>\n");
    assert_int_equal(run("route --config cfg.xml --from sip:alice@contoso.com 50201 --json"), 0);
    has(out, "\"decision\": \"internal\"");
    has(out, "\"target\": \"sip:yann@contoso.com\"");
    assert_int_equal(run("route --config cfg.xml --from sip:xena@contoso.com 2065550111 --json"),
                     1);
    has(out, "no route of voice policy 'LocalOnly' matches +12065550111");
    assert_int_equal(run("inbound --config cfg.xml --from sip:alice@contoso.com 50200 --json"), 0);
    has(out, "\"callee\": \"sip:zoe@contoso.com\"");
    /* a user both inline and in the directory: refused at load, naming both places */
    write_file("dup.csv", "uri\nsip:bob@contoso.com\n");
    assert_int_equal(run("users import --db db dup.csv"), 0);
    assert_int_equal(run("check --config cfg.xml"), 2);
    has(err, "plan.xml:38: error: user 'sip:bob@contoso.com': listed here");
    has(err, "and in the user directory");
    assert_int_equal(
        run("inbound --config %s --db db --from sip:a@b sip:bob@contoso.com", plan_xml()), 2);
    has(err, "plan.xml:38: error: user 'sip:bob@contoso.com'");
}

static void export_round_trips_through_the_cli(void **state)
{
    assert_int_equal(run("users import --db db %s", cr_test_src("tests/users/directory.csv")), 0);
    assert_int_equal(run("users export --db db out.xml"), 0);
    assert_int_equal(run("users export --db db --format csv"), 0);
    char first[8192];
    snprintf(first, sizeof first, "%s", out);
    has(first, "uri,line,enterpriseVoice,voicePolicy,locationProfile,voicemail");
    assert_int_equal(run("users import --db db2 out.xml"), 0);
    assert_int_equal(run("users export --db db2 --format csv"), 0);
    assert_string_equal(out, first);
    assert_int_equal(run("users export --db db2 - --format xml"), 0);
    has(out, "<users xmlns=\"urn:callroute:config:1\">");
}

static void a_bad_import_names_the_line_and_changes_nothing(void **state)
{
    write_file("bad.csv", "uri,line\nsip:ok@contoso.com,tel:+14255550700\nsip:bad,tel:+1\n");
    assert_int_equal(run("users import --db db bad.csv"), 1);
    has(err, "bad.csv:3: error: user 'sip:bad': uri must be a SIP URI");
    has(err, "nothing imported");
    assert_int_equal(run("users export --db db --format csv"), 0);
    lacks(out, "sip:ok@contoso.com");
}

#define T(f) cmocka_unit_test_setup_teardown(f, mktmp, rmtmp)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(plan_of_a_user_with_every_feature),
        T(a_number_finds_the_user_by_its_line),
        T(not_a_user_exits_1),
        T(host_endpoints_replace_the_sip_uri),
        T(immediate_forwarding_through_the_cli),
        T(no_answer_to_a_number_through_the_cli),
        T(each_policy_switch_through_the_cli),
        T(human_text_is_a_timeline_with_the_trace),
        T(a_call_from_a_gateway_is_normalized_with_its_profile),
        T(usage_errors_exit_2),
        T(directory_users_through_import_and_db),
        T(routing_names_the_directory_in_the_config),
        T(export_round_trips_through_the_cli),
        T(a_bad_import_names_the_line_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Lua IVR scenarios: every tests/lua/<name>.events is replayed through the engine with the
 * Lua driver (as `callroute simulate` does) and compared with tests/lua/<name>.expected.
 * Besides the engine's actions the output holds the IVR log lines, as
 * "<seconds> - log <line>", and call:set as "<seconds> <call> set <key> <value>".
 *
 * Directives in an events file (comment lines starting with "#!"):
 *   #! config FILE       the XML configuration, relative to tests/lua (required)
 *   #! start ISO-8601    wall-clock time of second 0 (default 2027-01-04T09:00:00Z, a Monday)
 * Event lines are those of simulate, plus "reload" and "reload force" (the scripts).
 * With CR_LUA_OUT=DIR each scenario's output is also written to DIR/<name>.out; an argument
 * runs that scenario only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_lua.h"
#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "testutil.h"

static void on_log(void *ud, int64_t at, const char *line)
{
    cr_test_emit(ud, at, "-", "log", line);
}

static void on_set(void *ud, int64_t at, const char *call, const char *key, const char *value)
{
    char args[1024];
    snprintf(args, sizeof args, "%s%s%s", key, value[0] ? " " : "", value);
    cr_test_emit(ud, at, call, "set", args);
}

static void check_scenario(const char *name)
{
    char rel[600], config[512] = "";
    snprintf(rel, sizeof rel, "tests/lua/%s.events", name);
    char *text = cr_test_slurp(cr_test_src(rel));
    assert_non_null(text);
    int64_t start = cr_test_parse_iso("2027-01-04T09:00:00Z");
    for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char arg[512];
        if (sscanf(l, "#! config %511s", arg) == 1)
            snprintf(config, sizeof config, "%s", arg);
        else if (sscanf(l, "#! start %511s", arg) == 1)
            start = cr_test_parse_iso(arg);
    }
    assert_true(config[0]);
    snprintf(rel, sizeof rel, "tests/lua/%s", config);
    cr_rgs_config *cfg;
    cr_diag diag;
    cr_diag_init(&diag);
    int rc = cr_rgs_xml_load(cr_test_src(rel), &cfg, &diag);
    for (size_t i = 0; i < diag.count; i++) {
        char buf[1024];
        cr_diag_format(&diag, i, buf, sizeof buf);
        print_error("%s\n", buf);
    }
    cr_diag_free(&diag);
    assert_int_equal(rc, CR_OK);

    cr_test_out o = {0};
    cr_test_append(&o, "");
    cr_lua_options lo = {.log = on_log, .log_ud = &o, .set = on_set, .set_ud = &o};
    cr_lua_ivr *ivr;
    char err[512];
    assert_int_equal(cr_lua_ivr_open(cfg, &lo, &ivr, err, sizeof err), CR_OK);
    cr_rgs_engine_options opt = {.start_unix_ms = start, .ivr = cr_lua_ivr_driver(ivr)};
    cr_rgs_engine *e;
    assert_int_equal(cr_rgs_engine_open(cfg, &opt, &e, err, sizeof err), CR_OK);

    int lineno = 0;
    for (char *save, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*l == ' ')
            l++;
        if (!*l || *l == '#')
            continue;
        char *end;
        double t = strtod(l, &end);
        assert_true(end != l);
        int64_t at = (int64_t)(t * 1000 + 0.5);
        end += strspn(end, " \t");
        cr_rgs_engine_advance(e, at, cr_test_emit, &o);
        if (strncmp(end, "reload", 6) == 0) {
            cr_lua_ivr_reload(ivr, strcmp(end, "reload force") == 0, at);
            continue;
        }
        cr_rgs_event ev;
        if (cr_rgs_event_parse(end, &ev, err, sizeof err) != CR_OK)
            fail_msg("%s.events:%d: %s", name, lineno, err);
        if (cr_rgs_engine_event(e, at, &ev, cr_test_emit, &o, err, sizeof err) != CR_OK) {
            char line[700];
            snprintf(line, sizeof line, "# line %d: %s\n", lineno, err);
            cr_test_append(&o, line);
        }
    }
    for (int i = 0; i < 100000; i++) {
        int64_t d = cr_rgs_engine_next_deadline(e);
        if (d < 0)
            break;
        cr_rgs_engine_advance(e, d, cr_test_emit, &o);
    }
    cr_lua_stats st;
    cr_lua_ivr_stats(ivr, &st);
    cr_rgs_engine_close(e);
    cr_lua_ivr_stats(ivr, &st);
    assert_int_equal(st.calls, 0); /* end was called for every call */
    cr_lua_ivr_close(ivr);

    const char *dump = getenv("CR_LUA_OUT"); /* a directory for <name>.out (to review) */
    if (dump) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.out", dump, name);
        FILE *f = fopen(path, "w");
        if (f)
            fputs(o.buf, f), fclose(f);
    }
    snprintf(rel, sizeof rel, "tests/lua/%s.expected", name);
    char *expected = cr_test_slurp(cr_test_src(rel));
    if (!expected || strcmp(o.buf, expected) != 0)
        print_error("scenario %s:\n--- expected\n%s--- got\n%s", name,
                    expected ? expected : "(no .expected file)\n", o.buf);
    assert_non_null(expected);
    assert_string_equal(o.buf, expected);
    free(o.buf);
    free(expected);
    free(text);
    cr_rgs_config_free(cfg);
}

static void test_scenario(void **state)
{
    check_scenario(*state);
}

int main(int argc, char **argv)
{
    static char names[256][CR_TEST_NAME_MAX];
    struct CMUnitTest tests[256];
    int n = cr_test_list_events("tests/lua", names, 256, argc > 1 ? argv[1] : NULL);
    if (n < 0) {
        fprintf(stderr, "no tests/lua directory (set CR_SRC)\n");
        return 1;
    }
    for (int i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){names[i], test_scenario, NULL, NULL, names[i]};
    return _cmocka_run_group_tests("lua_scenarios", tests, (size_t)n, NULL, NULL);
}

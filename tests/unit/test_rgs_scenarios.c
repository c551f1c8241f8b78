/*
 * Response-group scenarios: every tests/rgs/<name>.events is replayed through the engine
 * (as `callroute simulate` does) and its actions compared with tests/rgs/<name>.expected.
 *
 * Directives in an events file (comment lines starting with "#!"):
 *   #! config FILE       the XML configuration, relative to tests/rgs (required)
 *   #! start ISO-8601    wall-clock time of second 0 (default 2027-01-04T09:00:00Z, a Monday)
 *   #! split SECONDS     also run the timeline in two engines sharing an LMDB state
 *                        directory (events before SECONDS, then the rest), which must print
 *                        exactly the same actions
 *
 * Each scenario runs twice: on the response groups read from the XML, and on those read back
 * from the plan image the configuration compiles to (rules/rgs_image.c, issue 14).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cr_rgs.h"
#include "cr_image.h"
#include "cr_lua.h"
#include "cr_rgs_xml.h"
#include "cr_rules.h"
#include "testutil.h"

typedef struct ev {
    int64_t at;
    int line;
    char text[1024];
} ev;

typedef struct scenario {
    char config[512];
    int64_t start;
    int64_t split; /* -1 = none */
    ev *evs;
    size_t n;
} scenario;

static void load_scenario(const char *path, scenario *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->start = cr_test_parse_iso("2027-01-04T09:00:00Z");
    sc->split = -1;
    char *text = cr_test_slurp(path);
    assert_non_null(text);
    int lineno = 0;
    for (char *save, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char arg[512];
        if (sscanf(l, "#! config %511s", arg) == 1)
            snprintf(sc->config, sizeof sc->config, "%s", arg);
        else if (sscanf(l, "#! start %511s", arg) == 1)
            sc->start = cr_test_parse_iso(arg);
        else if (sscanf(l, "#! split %511s", arg) == 1)
            sc->split = (int64_t)(atof(arg) * 1000 + 0.5);
        while (*l == ' ')
            l++;
        if (!*l || *l == '#')
            continue;
        char *end;
        double t = strtod(l, &end);
        assert_true(end != l);
        sc->evs = realloc(sc->evs, (sc->n + 1) * sizeof *sc->evs);
        ev *e = &sc->evs[sc->n++];
        e->at = (int64_t)(t * 1000 + 0.5);
        e->line = lineno;
        snprintf(e->text, sizeof e->text, "%s", end);
    }
    free(text);
    assert_true(sc->config[0]);
}

/* Runs events [from, to) through an engine; drains timers at the end when `drain`. */
static void run(const cr_rgs_config *cfg, const scenario *sc, const char *state, size_t from,
                size_t to, bool drain, cr_test_out *o)
{
    cr_rgs_engine_options opt = {.start_unix_ms = sc->start, .state_dir = state};
    cr_rgs_engine *e;
    char err[512];
    /* IVR workflows get the Lua driver, as every host's engine does (rgs_open) */
    cr_lua_ivr *lua = NULL;
    for (size_t w = 0; w < cfg->nworkflows && !lua; w++)
        if (cfg->workflows[w].type == CR_RGS_IVR) {
            assert_int_equal(cr_lua_ivr_open(cfg, NULL, &lua, err, sizeof err), CR_OK);
            opt.ivr = cr_lua_ivr_driver(lua);
        }
    assert_int_equal(cr_rgs_engine_open(cfg, &opt, &e, err, sizeof err), CR_OK);
    for (size_t i = from; i < to; i++) {
        cr_rgs_event ev;
        int rc = cr_rgs_event_parse(sc->evs[i].text, &ev, err, sizeof err);
        if (rc != CR_OK)
            fail_msg("line %d: %s", sc->evs[i].line, err);
        cr_rgs_engine_advance(e, sc->evs[i].at, cr_test_emit, o);
        rc = cr_rgs_engine_event(e, sc->evs[i].at, &ev, cr_test_emit, o, err, sizeof err);
        if (rc != CR_OK) {
            char line[600];
            snprintf(line, sizeof line, "# line %d: %s\n", sc->evs[i].line, err);
            cr_test_append(o, line);
        }
    }
    for (int i = 0; drain && i < 100000; i++) {
        int64_t d = cr_rgs_engine_next_deadline(e);
        if (d < 0)
            break;
        cr_rgs_engine_advance(e, d, cr_test_emit, o);
    }
    cr_rgs_engine_close(e);
    cr_lua_ivr_close(lua);
}

/* The response groups of `xml` as a host reading its compiled plan image gets them. */
static cr_rgs_config *from_image(const char *xml)
{
    cr_diag diag;
    cr_diag_init(&diag);
    cr_config *routing = NULL;
    assert_int_equal(cr_rules_load(xml, &routing, &diag), CR_OK);
    const char *img = cr_test_tmpfile("", ".plan");
    char err[512];
    assert_int_equal(cr_image_write(img, routing, 1, NULL, err, sizeof err), CR_OK);
    cr_config_free(routing);
    cr_rgs_config *cfg = NULL;
    assert_int_equal(cr_rgs_xml_load_ex(img, NULL, &cfg, &diag), CR_OK);
    cr_diag_free(&diag);
    remove(img);
    return cfg;
}

static void check_scenario_with(const char *name, bool image);

static void check_scenario(const char *name)
{
    check_scenario_with(name, false);
    check_scenario_with(name, true);
}

static void check_scenario_with(const char *name, bool image)
{
    char path[1024], rel[600];
    snprintf(rel, sizeof rel, "tests/rgs/%s.events", name);
    snprintf(path, sizeof path, "%s", cr_test_src(rel));
    scenario sc;
    load_scenario(path, &sc);
    snprintf(rel, sizeof rel, "tests/rgs/%s", sc.config);
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
    if (image) {
        cr_rgs_config_free(cfg);
        cfg = from_image(cr_test_src(rel));
    }

    snprintf(rel, sizeof rel, "tests/rgs/%s.expected", name);
    char *expected = cr_test_slurp(cr_test_src(rel));
    assert_non_null(expected);
    cr_test_out whole = {0};
    cr_test_append(&whole, "");
    run(cfg, &sc, NULL, 0, sc.n, true, &whole);
    if (strcmp(whole.buf, expected) != 0)
        print_error("scenario %s (%s):\n--- expected\n%s--- got\n%s", name, image ? "image" : "xml",
                    expected, whole.buf);
    assert_string_equal(whole.buf, expected);

    if (sc.split >= 0) {
        char dir[] = "/tmp/crrgsXXXXXX";
        assert_non_null(mkdtemp(dir));
        size_t k = 0;
        while (k < sc.n && sc.evs[k].at < sc.split)
            k++;
        cr_test_out two = {0};
        cr_test_append(&two, "");
        run(cfg, &sc, dir, 0, k, false, &two);
        run(cfg, &sc, dir, k, sc.n, true, &two);
        if (strcmp(two.buf, expected) != 0)
            print_error("scenario %s split at %lld ms:\n--- expected\n%s--- got\n%s", name,
                        (long long)sc.split, expected, two.buf);
        assert_string_equal(two.buf, expected);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        free(two.buf);
    }
    free(whole.buf);
    free(expected);
    free(sc.evs);
    cr_rgs_config_free(cfg);
}

static void test_scenario(void **state)
{
    check_scenario(*state);
}

int main(void)
{
    static char names[256][CR_TEST_NAME_MAX];
    struct CMUnitTest tests[256];
    int n = cr_test_list_events("tests/rgs", names, 256, NULL);
    if (n < 0) {
        fprintf(stderr, "no tests/rgs directory (set CR_SRC)\n");
        return 1;
    }
    for (int i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){names[i], test_scenario, NULL, NULL, names[i]};
    return _cmocka_run_group_tests("rgs_scenarios", tests, (size_t)n, NULL, NULL);
}

/*
 * Property: the indexed agent selection (each group's bitset of agents who take calls) picks
 * exactly what scanning every member picks. Random deployments (every routing method, formal
 * and informal groups, agents in several groups, queues over several groups, timeouts,
 * welcome prompts) get the same random stream of typed events and timer runs in two engines,
 * one selecting by the bits and one by the member scan (rgs_engine_set_naive): every action
 * must be the same, in the same order, and after every step the bits must equal
 * rgs_takes_calls for every membership.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "rgs_engine_int.h"
#include "testutil.h"

enum { NAGENTS = 12, NGROUPS = 8, MAXCALLS = 64 };

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
    return (size_t)(rnd(s) % n);
}

static void append(cr_test_out *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cr_test_append(o, line);
}

/* A random deployment as XML. */
static void make_config(uint64_t *rng, cr_test_out *x)
{
    static const char *const methods[] = {"serial", "parallel", "roundRobin", "longestIdle",
                                          "attendant"};
    append(x, "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>");
    for (int g = 0; g < NGROUPS; g++) {
        append(x, "<agentGroup name=\"G%d\" routingMethod=\"%s\" alertTime=\"%d\"%s>", g,
               methods[below(rng, 5)], 10 + (int)below(rng, 3) * 10,
               below(rng, 3) == 0 ? " participation=\"formal\"" : "");
        bool used[NAGENTS] = {false};
        size_t n = 2 + below(rng, 6);
        for (size_t i = 0; i < n; i++) {
            size_t a = below(rng, NAGENTS);
            if (used[a])
                continue;
            used[a] = true;
            append(x, "<agent>sip:a%zu@x</agent>", a);
        }
        append(x, "</agentGroup>");
    }
    for (int q = 0; q < NGROUPS; q++) {
        append(x, "<queue name=\"Q%d\"><group>G%d</group>", q, q);
        if (below(rng, 3) == 0)
            append(x, "<group>G%d</group>", (q + 1 + (int)below(rng, NGROUPS - 1)) % NGROUPS);
        if (below(rng, 3) == 0)
            append(x, "<timeout seconds=\"%d\" action=\"voicemail\" target=\"sip:vm@x\"/>",
                   30 + (int)below(rng, 4) * 30);
        append(x, "</queue>");
    }
    for (int q = 0; q < NGROUPS; q++)
        append(x, "<workflow name=\"W%d\" uri=\"sip:w%d@x\" queue=\"Q%d\"%s/>", q, q, q,
               below(rng, 2) ? " welcome=\"hello.wav\"" : "");
    append(x, "</responseGroups></callroute>");
}

/* What the simulated host knows of a call: alive, and the agents ringing for it. */
typedef struct hcall {
    bool alive;
    uint32_t ring[NAGENTS];
    size_t nring;
} hcall;

static size_t total_rings, total_bridges, total_errors;

typedef struct sink {
    cr_test_out out;
    hcall *calls; /* NULL: not tracked (the naive engine's sink) */
} sink;

static void on_out(void *ud, int64_t at, const cr_rgs_output *o)
{
    sink *k = ud;
    append(&k->out, "%lld %d %llu r%d [%s]", (long long)at, (int)o->type,
           (unsigned long long)o->call, (int)o->reason, o->arg);
    for (size_t i = 0; i < o->nagents; i++)
        append(&k->out, " %u", o->agents[i]);
    cr_test_append(&k->out, "\n");
    if (!k->calls || o->call == 0 || o->call > MAXCALLS)
        return;
    hcall *c = &k->calls[o->call - 1];
    total_rings += o->type == CR_RGS_OUT_RING;
    total_bridges += o->type == CR_RGS_OUT_BRIDGE;
    switch (o->type) {
    case CR_RGS_OUT_RING:
        c->nring = o->nagents < NAGENTS ? o->nagents : NAGENTS;
        memcpy(c->ring, o->agents, c->nring * sizeof *c->ring);
        break;
    case CR_RGS_OUT_CANCEL:
    case CR_RGS_OUT_BRIDGE:
        c->nring = 0;
        break;
    case CR_RGS_OUT_HANGUP:
    case CR_RGS_OUT_TRANSFER:
    case CR_RGS_OUT_VOICEMAIL:
        c->alive = false;
        c->nring = 0;
        break;
    default:
        break;
    }
}

/* From a random start, the first call that rings agents (ring) or is alive, else n. */
static size_t pick_call(hcall *calls, size_t n, bool ring)
{
    for (size_t i = 0; i < MAXCALLS; i++) {
        const hcall *c = &calls[(n + i) % MAXCALLS];
        if (ring ? c->nring > 0 : c->alive)
            return (n + i) % MAXCALLS;
    }
    return n;
}

/* One random event. */
static void make_event(uint64_t *rng, hcall *calls, cr_rgs_input *in, char *to)
{
    memset(in, 0, sizeof *in);
    size_t k = below(rng, 100), n = below(rng, MAXCALLS);
    in->call = n + 1;
    in->agent = (uint32_t)below(rng, NAGENTS) + 1;
    if (k < 20) {
        if (calls[n].alive) {
            in->type = CR_RGS_EV_HANGUP;
            return;
        }
        in->type = CR_RGS_EV_CALL;
        calls[n] = (hcall){.alive = true};
        snprintf(to, 32, "sip:w%zu@x", below(rng, NGROUPS));
        in->to = to;
        in->from = "sip:caller@y";
    } else if (k < 50) {
        n = pick_call(calls, n, true);
        in->call = n + 1;
        in->type = k < 38 ? CR_RGS_EV_ANSWER : k < 44 ? CR_RGS_EV_DECLINE : CR_RGS_EV_NO_ANSWER;
        if (calls[n].nring && below(rng, 10) < 9)
            in->agent = calls[n].ring[below(rng, calls[n].nring)];
    } else if (k < 65) {
        in->type = CR_RGS_EV_PRESENCE;
        in->presence = below(rng, 2) ? CR_RGS_PRES_AVAILABLE : (int)below(rng, 5);
    } else if (k < 75) {
        in->type = below(rng, 2) ? CR_RGS_EV_SIGNIN : CR_RGS_EV_SIGNOUT;
        in->group = below(rng, 2) ? (uint32_t)below(rng, NGROUPS) + 1 : 0;
    } else if (k < 85) {
        in->call = pick_call(calls, n, false) + 1;
        in->type = CR_RGS_EV_PROMPT_DONE;
    } else if (k < 92) {
        in->call = pick_call(calls, n, false) + 1;
        in->type = CR_RGS_EV_AGENT_HANGUP;
    } else {
        in->type = CR_RGS_EV_HANGUP;
    }
}

static cr_rgs_engine *open_engine(const cr_rgs_config *cfg, bool naive)
{
    cr_rgs_engine *e = NULL;
    char err[256];
    cr_rgs_engine_options opt = {.start_unix_ms = 1798448400000LL};
    assert_int_equal(cr_rgs_engine_open(cfg, &opt, &e, err, sizeof err), CR_OK);
    rgs_engine_set_naive(e, naive);
    return e;
}

/* The response groups of the XML text, which must load. */
static cr_rgs_config *load_config(const char *xml)
{
    cr_rgs_config *cfg = NULL;
    cr_diag diag;
    cr_diag_init(&diag);
    int rc = cr_rgs_xml_load(cr_test_tmpfile(xml, ".xml"), &cfg, &diag);
    cr_diag_free(&diag);
    assert_int_equal(rc, CR_OK);
    return cfg;
}

static void run_seed(uint64_t seed, int steps)
{
    uint64_t rng = seed;
    cr_test_out xml = {0};
    make_config(&rng, &xml);
    cr_rgs_config *cfg = load_config(xml.buf);
    free(xml.buf);
    cr_rgs_engine *fast = open_engine(cfg, false), *naive = open_engine(cfg, true);
    hcall calls[MAXCALLS] = {0};
    sink kf = {.calls = calls}, kn = {0};
    int64_t now = 0;
    for (int i = 0; i < steps; i++) {
        cr_rgs_input in;
        char to[32], ef[256], en[256];
        make_event(&rng, calls, &in, to);
        now += (int64_t)below(&rng, 4) * (int64_t)below(&rng, 6000);
        kf.out.len = kn.out.len = 0;
        int rf = cr_rgs_engine_input(fast, now, &in, on_out, &kf, ef, sizeof ef);
        int rn = cr_rgs_engine_input(naive, now, &in, on_out, &kn, en, sizeof en);
        if (below(&rng, 4) == 0) {
            int64_t t = now + (int64_t)below(&rng, 30000);
            cr_rgs_engine_run(fast, t, on_out, &kf);
            cr_rgs_engine_run(naive, t, on_out, &kn);
            now = t;
        }
        if (rf != rn || strcmp(kf.out.buf ? kf.out.buf : "", kn.out.buf ? kn.out.buf : ""))
            fail_msg("seed %llu step %d (event %d): indexed rc %d\n%s\nnaive rc %d\n%s",
                     (unsigned long long)seed, i, (int)in.type, rf, kf.out.buf ? kf.out.buf : "",
                     rn, kn.out.buf ? kn.out.buf : "");
        total_errors += rf != CR_OK;
        if (!rgs_avail_consistent(fast))
            fail_msg("seed %llu step %d: avail bits differ from rgs_takes_calls",
                     (unsigned long long)seed, i);
    }
    free(kf.out.buf), free(kn.out.buf);
    cr_rgs_engine_close(fast);
    cr_rgs_engine_close(naive);
    cr_rgs_config_free(cfg);
}

static void test_indexed_equals_naive(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 150; seed++)
        run_seed(seed, 3000);
    /* not vacuous: offers were made and answered, and most events were taken */
    fprintf(stderr, "%zu rings, %zu bridges, %zu rejected events of %d\n", total_rings,
            total_bridges, total_errors, 150 * 3000);
    assert_true(total_rings > 20000);
    assert_true(total_bridges > 5000);
}

/* The bits after a restart from the state directory: presence, sign-ins and connected calls
 * restored before they are computed. */
static void test_bits_after_restore(void **state)
{
    (void)state;
    const char *xml =
        "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>"
        "<agentGroup name=\"F\" routingMethod=\"serial\" participation=\"formal\">"
        "<agent>sip:a@x</agent><agent>sip:b@x</agent><agent>sip:c@x</agent></agentGroup>"
        "<queue name=\"Q\"><group>F</group></queue>"
        "<workflow name=\"W\" uri=\"sip:w@x\" queue=\"Q\"/></responseGroups></callroute>";
    cr_rgs_config *cfg = load_config(xml);
    char dir[] = "/tmp/cr-rgs-select-XXXXXX", err[256];
    assert_non_null(mkdtemp(dir));
    cr_rgs_engine_options opt = {.state_dir = dir};
    cr_rgs_engine *e = NULL;
    assert_int_equal(cr_rgs_engine_open(cfg, &opt, &e, err, sizeof err), CR_OK);
    cr_rgs_input in = {.type = CR_RGS_EV_SIGNIN, .agent = 2};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_OK);
    in = (cr_rgs_input){.type = CR_RGS_EV_SIGNIN, .agent = 3};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_OK);
    in = (cr_rgs_input){.type = CR_RGS_EV_PRESENCE, .agent = 3, .presence = CR_RGS_PRES_AWAY};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_OK);
    assert_int_equal(e->navail[0], 1);
    cr_rgs_engine_close(e);
    assert_int_equal(cr_rgs_engine_open(cfg, &opt, &e, err, sizeof err), CR_OK);
    assert_true(rgs_avail_consistent(e));
    assert_int_equal(e->navail[0], 1); /* b: signed in and available */
    assert_int_equal(e->groups[0].avail[0], 2);
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void collect_log(void *ud, int64_t at_ms, const char *line)
{
    (void)at_ms;
    cr_test_append(ud, line);
    cr_test_append(ud, "\n");
}

/* The log lines and error messages, formatted out of line in cold code (rgs_logf_, rgs_fail),
 * reach the host as before: every line while a log is set, each message in full, truncated to
 * a short buffer, with its code. */
static void test_log_and_errors_from_cold_code(void **state)
{
    (void)state;
    const char *xml =
        "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>"
        "<agentGroup name=\"F\" routingMethod=\"serial\" participation=\"formal\">"
        "<agent>sip:a@x</agent><agent>sip:b@x</agent></agentGroup>"
        "<queue name=\"Q\"><group>F</group></queue>"
        "<workflow name=\"W\" uri=\"sip:w@x\" queue=\"Q\"/></responseGroups></callroute>";
    cr_rgs_config *cfg = load_config(xml);
    cr_test_out log = {0};
    cr_rgs_engine *e = NULL;
    char err[256], small[5];
    cr_rgs_engine_options opt = {.log = collect_log, .log_ud = &log};
    assert_int_equal(cr_rgs_engine_open(cfg, &opt, &e, err, sizeof err), CR_OK);
    cr_rgs_input in = {.type = CR_RGS_EV_SIGNIN, .agent = 1};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_OK);
    in = (cr_rgs_input){.type = CR_RGS_EV_CALL, .call = 7, .call_id = "c1", .to = "sip:w@x"};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_OK);
    assert_non_null(log.buf);
    assert_non_null(strstr(log.buf, "signin agent=sip:a@x group=\"F\"\n"));
    assert_non_null(strstr(log.buf, "enter call=c1 queue=\"Q\"\n"));
    assert_non_null(strstr(log.buf, "offered call=c1 queue=\"Q\" agent=sip:a@x\n"));
    /* errors: code and message */
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_ESTATE);
    assert_string_equal(err, "call 'c1' already exists");
    in = (cr_rgs_input){.type = CR_RGS_EV_ANSWER, .call = 7, .agent = 2};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_ESTATE);
    assert_string_equal(err, "agent 'sip:b@x' is not ringing for call 'c1'");
    in = (cr_rgs_input){.type = CR_RGS_EV_ANSWER, .call = 99, .agent = 1};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_ENOENT);
    assert_string_equal(err, "unknown call handle 99");
    in = (cr_rgs_input){.type = CR_RGS_EV_CALL, .call = 8};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, small, sizeof small), CR_EINVAL);
    assert_string_equal(small, "call");
    /* no log set: nothing more is written, the event still runs */
    cr_rgs_engine_set_log(e, NULL, NULL);
    size_t len = log.len;
    in = (cr_rgs_input){.type = CR_RGS_EV_ANSWER, .call = 7, .agent = 1};
    assert_int_equal(cr_rgs_engine_input(e, 0, &in, NULL, NULL, err, sizeof err), CR_OK);
    assert_int_equal(log.len, len);
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
    free(log.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indexed_equals_naive),
        cmocka_unit_test(test_bits_after_restore),
        cmocka_unit_test(test_log_and_errors_from_cold_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

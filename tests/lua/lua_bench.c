/*
 * Figures of the Lua IVR driver (built as lua_bench, not a test):
 *   1. a resume->yield step: the driver's input() resuming a call's coroutine until its next
 *      blocking call (call:play in a loop; call:ask in a loop), and the same through the
 *      engine (event parse, engine, driver);
 *   2. memory per waiting IVR call (Lua state bytes, and process RSS with the engine's);
 *   3. N concurrent IVR calls in one engine (default 10,000): start them all, answer them
 *      all, check that every call ended.
 *   lua_bench [CALLS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cr_lua.h"
#include "cr_rgs.h"
#include "cr_rgs_xml.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0)
        exit(1);
    fclose(f);
}

static size_t nactions;
static void count(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    nactions++;
}

static void feed(cr_rgs_engine *e, int64_t at, const char *text)
{
    cr_rgs_event ev;
    char err[256];
    if (cr_rgs_event_parse(text, &ev, err, sizeof err) != CR_OK ||
        cr_rgs_engine_event(e, at, &ev, count, NULL, err, sizeof err) != CR_OK) {
        fprintf(stderr, "%s: %s\n", text, err);
        exit(1);
    }
}

/* Steps of one call straight through the driver: start, then `n` inputs of `kind`. */
static double driver_steps(cr_rgs_config *cfg, const char *uri, cr_rgs_ivr_input_kind kind,
                           const char *text, int n)
{
    cr_lua_ivr *ivr;
    char err[256];
    cr_lua_options lo = {.budget = UINT64_MAX / 2}; /* one call, a million steps */
    if (cr_lua_ivr_open(cfg, &lo, &ivr, err, sizeof err) != CR_OK)
        exit(1);
    const cr_rgs_ivr_driver *d = cr_lua_ivr_driver(ivr);
    long wf = cr_rgs_config_workflow_find(cfg, uri);
    cr_rgs_ivr_call call = {"b1", "sip:a@test", uri, cfg, &cfg->workflows[wf], 0, 0};
    void *state;
    cr_rgs_ivr_step st;
    memset(&st, 0, sizeof st);
    if (d->start(d->ud, &call, &state, &st) != 0)
        exit(1);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (d->input(d->ud, state, kind, text, i, i, &st) != 0 || st.op == CR_RGS_IVR_HANGUP) {
            fprintf(stderr, "step %d failed\n", i);
            exit(1);
        }
    double dt = now_s() - t0;
    d->end(d->ud, state);
    cr_lua_ivr_close(ivr);
    return dt / n * 1e9;
}

int main(int argc, char **argv)
{
    int ncalls = argc > 1 ? atoi(argv[1]) : 10000;
    char dir[] = "/tmp/crluabenchXXXXXX";
    if (!mkdtemp(dir))
        return 1;
    put(dir, "rg.xml",
        "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>\n"
        "<agentGroup name=\"G\"><agent>sip:agent@test</agent></agentGroup>\n"
        "<queue name=\"Q\"><group>G</group></queue>\n"
        "<workflow name=\"Play\" uri=\"sip:play@test\" type=\"ivr\" script=\"play.lua\"/>\n"
        "<workflow name=\"Ask\" uri=\"sip:ask@test\" type=\"ivr\" script=\"ask.lua\"/>\n"
        "<workflow name=\"Menu\" uri=\"sip:menu@test\" type=\"ivr\" script=\"menu.lua\"/>\n"
        "</responseGroups></callroute>\n");
    put(dir, "play.lua", "while true do call:play('x.wav') end\n");
    put(dir, "ask.lua",
        "while true do\n"
        "  call:ask{prompt = 'menu.wav', choices = {['1'] = 'a', ['2'] = 'b'}}\n"
        "end\n");
    put(dir, "menu.lua",
        "local v = call:ask{prompt = 'menu.wav', timeout = 30, invalid = 'invalid.wav',\n"
        "  choices = {['1'] = 'sales', ['2'] = 'support'},\n"
        "  speech = {sales = {'buy', 'sales'}, support = {'help'}}}\n"
        "call:set('topic', v)\n"
        "if v == 'sales' then call:transfer('sip:sales@test') else call:queue('Q') end\n");
    char path[256];
    snprintf(path, sizeof path, "%s/rg.xml", dir);
    cr_rgs_config *cfg;
    cr_diag diag;
    cr_diag_init(&diag);
    if (cr_rgs_xml_load(path, &cfg, &diag) != CR_OK)
        return 1;
    cr_diag_free(&diag);

    int n = 1000000;
    printf("resume->yield step, driver only (call:play loop):  %.0f ns\n",
           driver_steps(cfg, "sip:play@test", CR_RGS_IVR_IN_PROMPT_DONE, NULL, n));
    printf("resume->yield step, driver only (call:ask loop):   %.0f ns\n",
           driver_steps(cfg, "sip:ask@test", CR_RGS_IVR_IN_DTMF, "1", n / 4));

    /* through the engine: parse + engine + driver, prompt_done on a call:play loop */
    cr_lua_ivr *ivr;
    cr_rgs_engine *e;
    char err[256];
    cr_lua_options lo = {.budget = UINT64_MAX / 2};
    if (cr_lua_ivr_open(cfg, &lo, &ivr, err, sizeof err) != CR_OK)
        return 1;
    cr_rgs_engine_options eo = {.start_unix_ms = 1799053200000LL, .ivr = cr_lua_ivr_driver(ivr)};
    if (cr_rgs_engine_open(cfg, &eo, &e, err, sizeof err) != CR_OK)
        return 1;
    feed(e, 0, "call p1 sip:a@test sip:play@test");
    double t0 = now_s();
    for (int i = 0; i < n / 4; i++)
        feed(e, 0, "prompt_done p1");
    printf("prompt_done event through the engine:             %.0f ns\n",
           (now_s() - t0) / (n / 4) * 1e9);
    feed(e, 0, "hangup p1");

    /* many waiting calls */
    cr_lua_stats s0, s1, s2;
    cr_lua_ivr_stats(ivr, &s0);
    long rss0 = rss_kb();
    char ev[128];
    t0 = now_s();
    for (int i = 0; i < ncalls; i++) {
        snprintf(ev, sizeof ev, "call m%d sip:a@test sip:menu@test", i);
        feed(e, 1, ev);
    }
    double tstart = now_s() - t0;
    cr_lua_ivr_stats(ivr, &s1);
    long rss1 = rss_kb();
    printf("%d concurrent IVR calls waiting in call:ask: started in %.3f s (%.1f us/call)\n",
           ncalls, tstart, tstart / ncalls * 1e6);
    printf("  Lua state: %zu calls, %.1f MiB, %.0f bytes per waiting call\n", s1.calls,
           (double)s1.memory / 1048576.0, (double)(s1.memory - s0.memory) / ncalls);
    printf("  process RSS (Lua, engine, call records): +%.1f MiB, %.0f bytes per call\n",
           (double)(rss1 - rss0) / 1024.0, (double)(rss1 - rss0) * 1024.0 / ncalls);
    t0 = now_s();
    for (int i = 0; i < ncalls; i++) {
        snprintf(ev, sizeof ev, "%s m%d %s", i % 2 ? "dtmf" : "speech", i,
                 i % 2 ? "1" : "I need help");
        feed(e, 2, ev);
    }
    double tans = now_s() - t0;
    cr_lua_ivr_stats(ivr, &s2);
    printf("  answered all (DTMF or speech, then transfer or queue): %.3f s (%.1f us/call), "
           "%zu IVR calls left, %llu steps, %llu errors\n",
           tans, tans / ncalls * 1e6, s2.calls, (unsigned long long)s2.steps,
           (unsigned long long)s2.errors);
    printf("  peak Lua memory %.1f MiB; %zu actions emitted\n", (double)s2.memory_peak / 1048576.0,
           nactions);
    cr_rgs_engine_close(e);
    cr_lua_ivr_close(ivr);
    cr_rgs_config_free(cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0 || s2.calls != 0 || s2.errors != 0;
}

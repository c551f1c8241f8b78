/*
 * Figures of the Lua IVR driver (built as lua_bench, not a test), each printed beside the
 * floor measured in the same process:
 *   0. lua_yield: a bare coroutine resumed from C until it yields again (the same program as
 *      tests/bench/floor.c's lua_yield row: the cheapest IVR step Lua allows);
 *   1. a resume->yield step: the driver's input() resuming a call's coroutine until its next
 *      blocking call (call:play in a loop; call:ask in a loop, answered by DTMF, and a
 *      menu with a speech table answered by speech, a phrase of one value), and a
 *      prompt_done event through the engine (event parse, engine, driver);
 *   2. memory per waiting IVR call (Lua state bytes from the driver's allocator counters,
 *      and process RSS with the engine's records);
 *   3. N concurrent IVR calls in one engine (default 10,000): start them all, answer them
 *      all, check that every call ended.
 * Step figures are the median of 101 batches (most of them run unpreempted on a loaded
 * machine). Only the public API (cr_lua.h) is used, so the same file builds against an older
 * tree for a before/after comparison.
 *
 *   lua_bench [--only play|ask|speech|engine|calls] [--steps N] [CALLS]
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cr_lua.h"
#include "cr_rgs.h"
#include "cr_rgs_xml.h"

#define BATCHES 101

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs fn(ctx, n) BATCHES times after a warm-up; the median nanoseconds per operation. */
typedef void (*batch_fn)(void *ctx, int n);
static double measure(batch_fn fn, void *ctx, int n)
{
    double per[BATCHES];
    fn(ctx, n / 4 + 1);
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_s();
        fn(ctx, n);
        per[b] = (now_s() - t0) / n * 1e9;
    }
    qsort(per, BATCHES, sizeof per[0], cmp_double);
    return per[BATCHES / 2];
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

/* ---- the floor: tests/bench/floor.c's lua_yield ------------------------------------------ */

typedef struct {
    lua_State *L, *co;
} yield_ctx;

static int yield_step(lua_State *L)
{
    return lua_yield(L, 0);
}

static void yield_steps(void *ctx, int n)
{
    yield_ctx *c = ctx;
    int nres;
    for (int i = 0; i < n; i++)
        if (lua_resume(c->co, c->L, 0, &nres) != LUA_YIELD)
            abort();
}

static double floor_yield(void)
{
    yield_ctx c;
    if (!(c.L = luaL_newstate()))
        exit(1);
    lua_register(c.L, "step", yield_step);
    if (luaL_loadstring(c.L, "while true do step() end") != LUA_OK)
        exit(1);
    c.co = lua_newthread(c.L);
    lua_insert(c.L, -2);
    lua_xmove(c.L, c.co, 1);
    double ns = measure(yield_steps, &c, 1 << 12);
    lua_close(c.L);
    return ns;
}

/* ---- driver steps ------------------------------------------------------------------------ */

typedef struct {
    const cr_rgs_ivr_driver *d;
    void *state;
    cr_rgs_ivr_input_kind kind;
    const char *text;
    int64_t at;
} step_ctx;

static void driver_batch(void *ctx, int n)
{
    step_ctx *s = ctx;
    cr_rgs_ivr_step st;
    for (int i = 0; i < n; i++, s->at++)
        if (s->d->input(s->d->ud, s->state, s->kind, s->text, s->at, s->at, &st) != 0 ||
            st.op == CR_RGS_IVR_HANGUP || st.op == CR_RGS_IVR_QUEUE) {
            fprintf(stderr, "step %lld failed\n", (long long)s->at);
            exit(1);
        }
}

/* Steps of one call straight through the driver: start, then inputs of `kind`; `units`: the
 * budget units (VM instructions and library work) one step charged. */
static double driver_steps(cr_rgs_config *cfg, const char *uri, cr_rgs_ivr_input_kind kind,
                           const char *text, int batch, double *units)
{
    cr_lua_ivr *ivr;
    char err[256];
    cr_lua_options lo = {.budget = UINT64_MAX / 2}; /* one call, a million steps */
    if (cr_lua_ivr_open(cfg, &lo, &ivr, err, sizeof err) != CR_OK)
        exit(1);
    const cr_rgs_ivr_driver *d = cr_lua_ivr_driver(ivr);
    long wf = cr_rgs_config_workflow_find(cfg, uri);
    cr_rgs_ivr_call call = {"b1", "sip:a@test", uri, cfg, &cfg->workflows[wf], 0, 0};
    step_ctx s = {d, NULL, kind, text, 0};
    cr_rgs_ivr_step st;
    memset(&st, 0, sizeof st);
    if (d->start(d->ud, &call, &s.state, &st) != 0)
        exit(1);
    cr_lua_stats s0, s1;
    cr_lua_ivr_stats(ivr, &s0);
    double ns = measure(driver_batch, &s, batch);
    cr_lua_ivr_stats(ivr, &s1);
    *units = (double)(s1.work - s0.work) / (double)(s1.steps - s0.steps);
    d->end(d->ud, s.state);
    cr_lua_ivr_close(ivr);
    return ns;
}

/* ---- through the engine -------------------------------------------------------------------- */

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

static void prompt_done_batch(void *ctx, int n)
{
    for (int i = 0; i < n; i++)
        feed(ctx, 0, "prompt_done p1");
}

/* Starts `ncalls` calls of menu.lua (each waits in call:ask), then answers them all. Returns
 * nonzero when a call was left or ended in an error. */
static int many_calls(cr_rgs_engine *e, cr_lua_ivr *ivr, int ncalls)
{
    cr_lua_stats s0, s1, s2;
    cr_lua_ivr_stats(ivr, &s0);
    long rss0 = rss_kb();
    char ev[128];
    double t0 = now_s();
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
    return s2.calls != 0 || s2.errors != 0;
}

static cr_rgs_config *load_config(const char *dir)
{
    put(dir, "rg.xml",
        "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>\n"
        "<agentGroup name=\"G\"><agent>sip:agent@test</agent></agentGroup>\n"
        "<queue name=\"Q\"><group>G</group></queue>\n"
        "<workflow name=\"Play\" uri=\"sip:play@test\" type=\"ivr\" script=\"play.lua\"/>\n"
        "<workflow name=\"Ask\" uri=\"sip:ask@test\" type=\"ivr\" script=\"ask.lua\"/>\n"
        "<workflow name=\"Menu\" uri=\"sip:menu@test\" type=\"ivr\" script=\"menu.lua\"/>\n"
        "<workflow name=\"Speech\" uri=\"sip:speech@test\" type=\"ivr\" "
        "script=\"speech.lua\"/>\n"
        "</responseGroups></callroute>\n");
    put(dir, "play.lua", "while true do call:play('x.wav') end\n");
    put(dir, "ask.lua",
        "while true do\n"
        "  call:ask{prompt = 'menu.wav', choices = {['1'] = 'a', ['2'] = 'b'}}\n"
        "end\n");
    put(dir, "speech.lua",
        "while true do\n"
        "  call:ask{prompt = 'menu.wav', timeout = 30, invalid = 'invalid.wav',\n"
        "    choices = {['1'] = 'sales', ['2'] = 'support'},\n"
        "    speech = {sales = {'buy', 'sales'}, support = {'help', 'broken'}}}\n"
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
        exit(1);
    cr_diag_free(&diag);
    return cfg;
}

static void row(const char *what, double ns, double floor_ns)
{
    printf("%-52s %7.0f ns  %6.1f x lua_yield\n", what, ns, ns / floor_ns);
}

int main(int argc, char **argv)
{
    int ncalls = 10000, batch = 0;
    const char *only = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (argv[i][0] != '-')
            ncalls = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: lua_bench [--only play|ask|speech|engine|calls] [--steps N] "
                            "[CALLS]\n");
            return 2;
        }
    }
    bool all = !*only;
    char dir[] = "/tmp/crluabenchXXXXXX";
    if (!mkdtemp(dir))
        return 1;
    cr_rgs_config *cfg = load_config(dir);

    double fl = floor_yield();
    printf("%-52s %7.1f ns  (floor, same process)\n", "lua_yield: bare coroutine resume->yield",
           fl);
    double units;
    if (all || strcmp(only, "play") == 0) {
        double ns = driver_steps(cfg, "sip:play@test", CR_RGS_IVR_IN_PROMPT_DONE, NULL,
                                 batch ? batch : 4000, &units);
        row("resume->yield step, driver only (call:play loop)", ns, fl);
        printf("  %.0f budget units (VM instructions, library work) per step\n", units);
    }
    if (all || strcmp(only, "ask") == 0) {
        double ns = driver_steps(cfg, "sip:ask@test", CR_RGS_IVR_IN_DTMF, "1", batch ? batch : 1000,
                                 &units);
        row("resume->yield step, driver only (call:ask loop)", ns, fl);
        printf("  %.0f budget units (VM instructions, library work) per step\n", units);
    }

    if (all || strcmp(only, "speech") == 0) {
        double ns = driver_steps(cfg, "sip:speech@test", CR_RGS_IVR_IN_SPEECH,
                                 "I would like to buy a phone", batch ? batch : 1000, &units);
        row("resume->yield step, call:ask loop, speech answer", ns, fl);
        printf("  %.0f budget units (VM instructions, library work) per step\n", units);
    }

    int rc = 0;
    if (all || strcmp(only, "engine") == 0 || strcmp(only, "calls") == 0) {
        cr_lua_ivr *ivr;
        cr_rgs_engine *e;
        char err[256];
        cr_lua_options lo = {.budget = UINT64_MAX / 2};
        if (cr_lua_ivr_open(cfg, &lo, &ivr, err, sizeof err) != CR_OK)
            return 1;
        cr_rgs_engine_options eo = {.start_unix_ms = 1799053200000LL,
                                    .ivr = cr_lua_ivr_driver(ivr)};
        if (cr_rgs_engine_open(cfg, &eo, &e, err, sizeof err) != CR_OK)
            return 1;
        if (all || strcmp(only, "engine") == 0) {
            feed(e, 0, "call p1 sip:a@test sip:play@test");
            row("prompt_done event through the engine (call:play)",
                measure(prompt_done_batch, e, batch ? batch : 2000), fl);
            feed(e, 0, "hangup p1");
        }
        if (all || strcmp(only, "calls") == 0)
            rc = many_calls(e, ivr, ncalls);
        cr_rgs_engine_close(e);
        cr_lua_ivr_close(ivr);
    }
    cr_rgs_config_free(cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0 || rc;
}

/* The Lua IVR driver beyond single scenarios: reloads while calls run, limits (budget,
 * memory caps) as options, memory given back after an abusive call, `end` on engine close,
 * and coroutines a script may use for itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cr_lua.h"
#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "testutil.h"

typedef struct fixture {
    char dir[64];
    cr_rgs_config *cfg;
    cr_lua_ivr *ivr;
    cr_rgs_engine *e;
    char out[16384];
} fixture;

static void put(fixture *f, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* A new mtime for `name`, one second later than its last, so a reload sees the change even
 * within the same second. */
static void bump(fixture *f, const char *name, int n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    struct timespec ts[2] = {{time(NULL) + n, 0}, {time(NULL) + n, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    fixture *f = ud;
    size_t n = strlen(f->out);
    snprintf(f->out + n, sizeof f->out - n, "%lld %s %s%s%s\n", (long long)(at / 1000), call,
             action, args[0] ? " " : "", args);
}

static void on_log(void *ud, int64_t at, const char *line)
{
    emit(ud, at, "-", "log", line);
}

static void on_set(void *ud, int64_t at, const char *call, const char *key, const char *value)
{
    char args[600];
    snprintf(args, sizeof args, "%s %s", key, value);
    emit(ud, at, call, "set", args);
}

static const char xml[] =
    "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>\n"
    "<workflow name=\"A\" uri=\"sip:a@test\" type=\"ivr\" script=\"a.lua\"/>\n"
    "<workflow name=\"B\" uri=\"sip:b@test\" type=\"ivr\" script=\"b.lua\"/>\n"
    "</responseGroups></callroute>\n";

static void open_all(fixture *f, const cr_lua_options *o)
{
    char path[256];
    snprintf(path, sizeof path, "%s/rg.xml", f->dir);
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rgs_xml_load(path, &f->cfg, &d), CR_OK);
    cr_diag_free(&d);
    cr_lua_options lo = o ? *o : (cr_lua_options){0};
    lo.log = on_log, lo.log_ud = f, lo.set = on_set, lo.set_ud = f;
    char err[256];
    assert_int_equal(cr_lua_ivr_open(f->cfg, &lo, &f->ivr, err, sizeof err), CR_OK);
    cr_rgs_engine_options eo = {.start_unix_ms = 1799053200000LL, .ivr = cr_lua_ivr_driver(f->ivr)};
    assert_int_equal(cr_rgs_engine_open(f->cfg, &eo, &f->e, err, sizeof err), CR_OK);
}

static void feed(fixture *f, int64_t s, const char *text)
{
    cr_rgs_event ev;
    char err[256];
    assert_int_equal(cr_rgs_event_parse(text, &ev, err, sizeof err), CR_OK);
    cr_rgs_engine_advance(f->e, s * 1000, emit, f);
    assert_int_equal(cr_rgs_engine_event(f->e, s * 1000, &ev, emit, f, err, sizeof err), CR_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/crluaXXXXXX");
    assert_non_null(mkdtemp(f->dir));
    put(f, "rg.xml", xml);
    put(f, "b.lua", "call:hangup('b')\n");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cr_rgs_engine_close(f->e);
    cr_lua_ivr_close(f->ivr);
    cr_rgs_config_free(f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Calls in progress finish on the script they started with; new calls take the new one; a
 * version that does not compile keeps the previous one. */
static void test_reload_affects_new_calls_only(void **state)
{
    fixture *f = *state;
    put(f, "a.lua", "call:play('v1-a.wav')\ncall:play('v1-b.wav')\ncall:hangup('v1')\n");
    open_all(f, NULL);
    feed(f, 0, "call c1 sip:x@test sip:a@test");
    put(f, "a.lua", "call:play('v2.wav')\ncall:hangup('v2')\n");
    bump(f, "a.lua", 1);
    assert_int_equal(cr_lua_ivr_reload(f->ivr, false, 1000), 0);
    feed(f, 2, "call c2 sip:x@test sip:a@test");
    feed(f, 3, "prompt_done c1");
    feed(f, 4, "prompt_done c1");
    feed(f, 5, "prompt_done c2");
    put(f, "a.lua", "call:play('v3.wav'\n");
    bump(f, "a.lua", 2);
    assert_int_equal(cr_lua_ivr_reload(f->ivr, false, 6000), 1);
    feed(f, 7, "call c3 sip:x@test sip:a@test");
    assert_string_equal(f->out, "0 c1 answer\n"
                                "0 c1 play v1-a.wav\n"
                                "1 - log ivr_reload script=a.lua\n"
                                "2 c2 answer\n"
                                "2 c2 play v2.wav\n"
                                "3 c1 play v1-b.wav\n"
                                "4 c1 hangup v1\n"
                                "5 c2 hangup v2\n"
                                "6 - log ivr_load_error script=a.lua line=2 error=\"')' expected "
                                "(to close '(' at line 1) near <eof>\" kept=previous\n"
                                "7 c3 answer\n"
                                "7 c3 play v2.wav\n");
}

/* With check_mtime a changed file is picked up by the next new call without a reload. */
static void test_changed_file_is_picked_up(void **state)
{
    fixture *f = *state;
    put(f, "a.lua", "call:hangup('v1')\n");
    cr_lua_options o = {.check_mtime = true};
    open_all(f, &o);
    feed(f, 0, "call c1 sip:x@test sip:a@test");
    put(f, "a.lua", "call:hangup('v2')\n");
    bump(f, "a.lua", 1);
    feed(f, 1, "call c2 sip:x@test sip:a@test");
    assert_string_equal(f->out, "0 c1 answer\n0 c1 hangup v1\n"
                                "1 c2 answer\n1 - log ivr_reload script=a.lua\n1 c2 hangup v2\n");
}

/* The budget counts every instruction of a call, across its resumes. */
static void test_budget_is_per_call(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "for i = 1, 30000 do end\ncall:play('x.wav')\n"
        "for i = 1, 30000 do end\ncall:hangup('done')\n");
    cr_lua_options o = {.budget = 100000};
    open_all(f, &o);
    feed(f, 0, "call c1 sip:x@test sip:a@test"); /* ~60,000 instructions in all */
    feed(f, 1, "prompt_done c1");
    cr_rgs_engine_close(f->e), cr_lua_ivr_close(f->ivr), cr_rgs_config_free(f->cfg);
    f->out[0] = 0;
    o.budget = 50000;
    open_all(f, &o);
    feed(f, 0, "call c2 sip:x@test sip:a@test");
    feed(f, 1, "prompt_done c2");
    assert_non_null(strstr(f->out, "1 - log ivr_error call=c2 workflow=\"A\" script=a.lua "
                                   "line=3 error=\"instruction budget exceeded (50000 "
                                   "instructions)\" fallback=\"hangup ivr_error\"\n"));
}

/* A memory bomb fails in its own call; its memory is given back; other calls go on. */
static void test_memory_bomb_is_contained(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "if call.from == 'sip:bomb@test' then\n"
        "  local t = {}\n"
        "  for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end\n"
        "end\n"
        "call:play('x.wav')\ncall:hangup('ok')\n");
    /* a budget and time large enough for the memory limit to come first (allocations are
     * charged to the budget; a loaded machine is slow) */
    cr_lua_options o = {.memory_limit = 8u << 20,
                        .call_memory_limit = 4u << 20,
                        .budget = 100000000,
                        .time_limit_ms = 600000};
    open_all(f, &o);
    feed(f, 0, "call c1 sip:x@test sip:a@test");
    cr_lua_stats before, after;
    cr_lua_ivr_stats(f->ivr, &before);
    feed(f, 1, "call c2 sip:bomb@test sip:a@test");
    feed(f, 2, "prompt_done c1");
    cr_lua_ivr_stats(f->ivr, &after);
    assert_true(after.memory_peak >= (4u << 20));
    assert_true(after.memory_peak <= (8u << 20));
    assert_true(after.memory < before.memory + (256u << 10)); /* collected */
    assert_non_null(strstr(f->out, "1 c2 hangup ivr_error\n"));
    assert_non_null(strstr(f->out, "error=\"memory limit exceeded (4194304 bytes per resume"));
    assert_non_null(strstr(f->out, "2 c1 hangup ok\n"));
}

/* A state too small for more calls refuses new ones cleanly (fallback), never crashes. */
static void test_state_cap_refuses_new_calls(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "local keep = {}\nfor i = 1, 100 do keep[i] = {i} end\n"
        "call:play('x.wav')\ncall:hangup('ok')\n");
    cr_lua_options o = {.memory_limit = 256u << 10};
    open_all(f, &o);
    char ev[64];
    for (int i = 0; i < 200; i++) {
        snprintf(ev, sizeof ev, "call c%d sip:x@test sip:a@test", i);
        feed(f, 0, ev);
    }
    cr_lua_stats st;
    cr_lua_ivr_stats(f->ivr, &st);
    assert_true(st.errors > 0 && st.errors < 200);
    assert_true(st.memory_peak <= (256u << 10));
    assert_non_null(strstr(f->out, "memory limit exceeded"));
}

/* A call's script ends exactly once: a caller's hang-up ends c2's coroutine (no resume, no
 * action for c2 afterwards, later events for c2 refused), and closing the engine ends c1's
 * without running it again. */
static void test_close_ends_waiting_calls(void **state)
{
    fixture *f = *state;
    put(f, "a.lua", "call:ask{prompt = 'menu.wav', choices = {['1'] = 'x'}}\n");
    open_all(f, NULL);
    feed(f, 0, "call c1 sip:x@test sip:a@test");
    feed(f, 0, "call c2 sip:x@test sip:a@test");
    cr_lua_stats st;
    cr_lua_ivr_stats(f->ivr, &st);
    assert_int_equal(st.calls, 2);
    uint64_t steps = st.steps;
    feed(f, 1, "hangup c2");
    cr_lua_ivr_stats(f->ivr, &st);
    assert_int_equal(st.calls, 1);
    assert_int_equal(st.steps, steps); /* c2's coroutine was closed, not resumed */
    size_t before = strlen(f->out);
    /* later events for c2 change nothing */
    cr_rgs_event ev;
    char err[256];
    const char *late[] = {"hangup c2", "dtmf c2 1", "prompt_done c2"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(cr_rgs_event_parse(late[i], &ev, err, sizeof err), CR_OK);
        assert_int_not_equal(cr_rgs_engine_event(f->e, 2000, &ev, emit, f, err, sizeof err), CR_OK);
    }
    assert_int_equal(strlen(f->out), before);
    assert_null(strstr(f->out + before, " c2 "));
    cr_lua_ivr_stats(f->ivr, &st);
    assert_int_equal(st.steps, steps);
    assert_int_equal(st.errors, 0);
    cr_rgs_engine_close(f->e);
    f->e = NULL;
    cr_lua_ivr_stats(f->ivr, &st);
    assert_int_equal(st.calls, 0);
    assert_int_equal(st.steps, steps); /* c1 ended without running again */
    assert_int_equal(st.errors, 0);
}

/* Blocks that change size class (tables grown past and shrunk below the allocator's small
 * blocks, strings of every small length) keep their contents. The script's sums are
 * computed again here. */
static void test_blocks_keep_contents_across_sizes(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "local sum = 0\n"
        "for round = 1, 20 do\n"
        "  local n = 13 * round\n"
        "  local t = {}\n"
        "  for i = 1, n do t[i] = i * 7; t['k' .. i] = string.rep('x', i % 300) .. i end\n"
        "  for i = 1, n do sum = sum + t[i] + #t['k' .. i] end\n"
        "  for i = 1, n do if i % 5 ~= 0 then t[i] = nil; t['k' .. i] = nil end end\n"
        "  for j = 1, 50 do t['z' .. j] = j end\n"
        "  for i = 5, n, 5 do sum = sum + t[i] + #t['k' .. i] end\n"
        "  for j = 1, 50 do sum = sum + t['z' .. j] end\n"
        "  call:play('r' .. round .. '.wav')\n"
        "end\n"
        "call:hangup('sum-' .. sum)\n");
    long sum = 0;
    for (long round = 1; round <= 20; round++) {
        long n = 13 * round;
        for (long i = 1; i <= n; i++)
            sum += i * 7 + i % 300 + snprintf(NULL, 0, "%ld", i);
        for (long i = 5; i <= n; i += 5)
            sum += i * 7 + i % 300 + snprintf(NULL, 0, "%ld", i);
        sum += 50 * 51 / 2;
    }
    char want[64];
    open_all(f, NULL);
    cr_lua_stats before, after;
    cr_lua_ivr_stats(f->ivr, &before);
    for (int c = 1; c <= 3; c++) {
        char ev[64];
        snprintf(ev, sizeof ev, "call c%d sip:x@test sip:a@test", c);
        feed(f, 0, ev);
    }
    for (int s = 1; s <= 20; s++)
        for (int c = 1; c <= 3; c++) {
            char ev[64];
            snprintf(ev, sizeof ev, "prompt_done c%d", c);
            feed(f, s, ev);
        }
    for (int c = 1; c <= 3; c++) {
        snprintf(want, sizeof want, "20 c%d hangup sum-%ld\n", c, sum);
        assert_non_null(strstr(f->out, want));
    }
    cr_lua_ivr_stats(f->ivr, &after);
    assert_int_equal(after.calls, 0);
    assert_int_equal(after.errors, 0);
    assert_true(after.memory_peak > before.memory + (64u << 10));
}

/* Coroutines of the script's own are fine as long as the call API stays outside them. */
static void test_script_coroutines_work(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "local gen = coroutine.wrap(function()\n"
        "  for _, p in ipairs{'one.wav', 'two.wav'} do coroutine.yield(p) end\n"
        "end)\n"
        "call:play(gen())\ncall:play(gen())\n"
        "local ok = pcall(call.ask, call, {choices = {['1'] = 'x'}, timeout = 5})\n"
        "call:set('pcall', tostring(ok))\ncall:hangup('done')\n");
    open_all(f, NULL);
    feed(f, 0, "call c1 sip:x@test sip:a@test");
    feed(f, 1, "prompt_done c1");
    feed(f, 2, "prompt_done c1");
    feed(f, 3, "dtmf c1 1");
    assert_string_equal(f->out, "0 c1 answer\n0 c1 play one.wav\n1 c1 play two.wav\n"
                                "2 c1 collect keys=1\n3 c1 set pcall true\n3 c1 hangup done\n");
}

/* The checked library functions still raise Lua's errors, naming the function and the
 * script's line. */
static void test_checked_functions_keep_lua_errors(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "local function e(f) local _, m = pcall(f) return m end\n"
        "call:set('e', e(function() return ('x'):rep({}) end) .. ' / ' ..\n"
        "  e(function() return utf8.len('x', 100) end) .. ' / ' ..\n"
        "  e(function() return table.sort({3, 1}, 5) end) .. ' / ' ..\n"
        "  e(function() return coroutine.resume(5) end) .. ' / ' ..\n"
        "  e(function() for _ in utf8.codes('a\\xff') do end end))\n"
        "call:hangup('x')\n");
    open_all(f, NULL);
    feed(f, 0, "call c1 sip:x@test sip:a@test");
    assert_string_equal(f->out,
                        "0 c1 answer\n0 c1 set e a.lua:2: bad argument #1 to 'rep' (number "
                        "expected, got table) / a.lua:3: bad argument #2 to 'len' (initial "
                        "position out of bounds) / a.lua:4: bad argument #2 to 'sort' (function "
                        "expected, got number) / a.lua:5: bad argument #1 to 'resume' (thread "
                        "expected, got number) / a.lua:6: invalid UTF-8 code\n0 c1 hangup x\n");
}

/* coroutine.wrap is wrapped (to note the running coroutine): an error inside still names
 * the line of the call and of the error, as Lua's wrap does. */
static void test_wrapped_coroutine_error_keeps_position(void **state)
{
    fixture *f = *state;
    put(f, "a.lua", "local f = coroutine.wrap(function() error('boom') end)\nf()\n");
    open_all(f, NULL);
    feed(f, 0, "call c1 sip:x@test sip:a@test");
    assert_non_null(strstr(f->out, "script=a.lua line=2 error=\"a.lua:1: boom\""));
}

/* Library functions pay for their work: string.rep("", n) copies nothing yet is charged n
 * units, so the budget (not a clock) ends it. Units are counted, nothing is timed. */
static void test_library_work_is_charged(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "if call.from == 'sip:rep@test' then string.rep('', 50000) end\n"
        "if call.from == 'sip:huge@test' then string.rep('', math.maxinteger) end\n"
        "call:hangup('ok')\n");
    cr_lua_options o = {.budget = 100000, .time_limit_ms = 600000};
    open_all(f, &o);
    cr_lua_stats s0, s1, s2, s3;
    cr_lua_ivr_stats(f->ivr, &s0);
    feed(f, 0, "call c1 sip:x@test sip:a@test");
    cr_lua_ivr_stats(f->ivr, &s1);
    feed(f, 1, "call c2 sip:rep@test sip:a@test");
    cr_lua_ivr_stats(f->ivr, &s2);
    feed(f, 2, "call c3 sip:huge@test sip:a@test");
    cr_lua_ivr_stats(f->ivr, &s3);
    uint64_t plain = s1.work - s0.work, rep = s2.work - s1.work, huge = s3.work - s2.work;
    /* the hook counts instructions by the thousand: the rest of a call's may go uncounted */
    assert_true(rep >= 50000 && rep <= plain + 50000 + 2 * 1000);
    assert_true(huge <= o.budget); /* refused before the work: never more than the budget */
    assert_int_equal(s3.errors, 1);
    assert_non_null(strstr(f->out, "0 c1 hangup ok\n"));
    assert_non_null(strstr(f->out, "1 c2 hangup ok\n"));
    assert_non_null(strstr(f->out, "2 - log ivr_error call=c3 workflow=\"A\" script=a.lua line=2 "
                                   "error=\"instruction budget exceeded (100000 instructions)\""));
}

/* The abuse cases and more, each in its own call: every one ends in the fallback,
 * and all of them together are charged no more than their budgets; a call after them runs
 * as usual. */
static void test_abuse_ends_within_budget(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "local case = call.from:match('^sip:(%d+)@')\n"
        "local function big(n) local s = 'a' for _ = 1, n do s = s .. s end return s end\n"
        "local cases = {\n"
        "  function() string.rep('', math.maxinteger) end,\n"
        "  function() string.rep('', 1 << 40, '') end,\n"
        "  function() table.move({}, 1, math.maxinteger - 1, 2) end,\n"
        "  function() big(5):match(string.rep('a?', 40) .. string.rep('a', 40)) end,\n"
        "  function() big(14):find(big(13) .. 'b') end,\n"
        "  function() big(14):match(big(13) .. 'b') end,\n"
        "  function() local t = {} for i = 1, 3000 do t[i] = -i end\n"
        "    while true do table.sort(t) end end,\n"
        "  function() while true do pcall(string.rep, '', 1 << 40) end end,\n"
        "  function() local s = big(14) while true do utf8.len(s) end end,\n"
        "}\n"
        "if case then cases[tonumber(case)]() end\n"
        "call:play('after.wav')\ncall:hangup('ok')\n");
    cr_lua_options o = {.budget = 200000, .time_limit_ms = 600000};
    open_all(f, &o);
    char ev[64];
    int n = 9;
    for (int i = 1; i <= n; i++) {
        snprintf(ev, sizeof ev, "call c%d sip:%d@test sip:a@test", i, i);
        feed(f, i, ev);
    }
    cr_lua_stats st;
    cr_lua_ivr_stats(f->ivr, &st);
    assert_int_equal(st.errors, n);
    assert_true(st.work <= (uint64_t)n * o.budget);
    for (int i = 1; i <= n; i++) {
        char want[128];
        snprintf(want, sizeof want, "%d c%d hangup ivr_error\n", i, i);
        assert_non_null(strstr(f->out, want));
    }
    assert_null(strstr(f->out, "time limit"));
    feed(f, 20, "call ok sip:x@test sip:a@test");
    feed(f, 21, "prompt_done ok");
    assert_non_null(strstr(f->out, "20 ok play after.wav\n21 ok hangup ok\n"));
}

/* Work the count hook sees as one instruction is bounded or charged (issue 17): a string
 * may not exceed LIVR_STRING_MAX (16 KiB), which bounds a comparison, and `next` pays for the
 * slots it may scan unless it goes on from the key it returned last. So loops of those end
 * at the budget, well before the default time limit; traversing a big table stays cheap. */
static void test_c_work_ends_at_budget(void **state)
{
    fixture *f = *state;
    put(f, "a.lua",
        "local case = tonumber(call.from:match('^sip:(%d+)@'))\n"
        "local function big(n) local s = 'a' for _ = 1, n do s = s .. s end return s end\n"
        "local function emptied() local t = {} for i = 1, 60000 do t[i] = true end\n"
        "  for i = 1, 60000 do t[i] = nil end return t end\n"
        "local cases = {\n"
        "  function() local a = big(14) local b = a:sub(1, -2) .. 'b' while a ~= b do end end,\n"
        "  function() local a = big(14) local b = a:sub(1, -2) .. 'b' while a < b do end end,\n"
        "  function() local t = emptied() while true do next(t) end end,\n"
        "  function() local t = emptied() t[60000] = 1 while true do next(t) end end,\n"
        "  function() local t = emptied() while true do for _ in pairs(t) do end end end,\n"
        "  function() local t = {} for i = 1, 30000 do t['k' .. i] = i end\n"
        "    local k = {} for x in pairs(t) do k[#k + 1] = x end\n"
        "    for i = 2, #k - 1 do t[k[i]] = nil end while true do next(t, k[1]) end end,\n"
        "  function() local s = string.rep('x', 16384) call:set('len', #s)\n"
        "    s = s .. 'y' end,\n"
        "  function() local t = {} for i = 1, 20000 do t[i] = i t['k' .. i] = i end\n"
        "    local n = 0 for _ = 1, 5 do for _ in pairs(t) do n = n + 1 end end\n"
        "    call:set('n', n) end,\n"
        "}\n"
        "cases[case]()\n"
        "call:hangup('ok')\n");
    cr_lua_options o = {.budget = 1000000};
    open_all(f, &o);
    char ev[64];
    for (int i = 1; i <= 8; i++) {
        snprintf(ev, sizeof ev, "call c%d sip:%d@test sip:a@test", i, i);
        feed(f, i, ev);
    }
    for (int i = 1; i <= 6; i++) {
        char want[160];
        snprintf(want, sizeof want,
                 "call=c%d workflow=\"A\" script=a.lua line=%d error=\"instruction budget "
                 "exceeded (1000000 instructions)\"",
                 i,
                 i < 3    ? 5 + i
                 : i == 6 ? 13
                          : 5 + i);
        assert_non_null(strstr(f->out, want));
    }
    assert_non_null(strstr(f->out, "7 c7 set len 16384\n"));
    assert_non_null(strstr(f->out,
                           "call=c7 workflow=\"A\" script=a.lua line=15 "
                           "error=\"memory limit exceeded (one string over 16384 bytes)\""));
    assert_non_null(strstr(f->out, "8 c8 set n 200000\n8 c8 hangup ok\n"));
    assert_null(strstr(f->out, "time limit"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_affects_new_calls_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_file_is_picked_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_is_per_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bomb_is_contained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_cap_refuses_new_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_ends_waiting_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocks_keep_contents_across_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_coroutines_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checked_functions_keep_lua_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrapped_coroutine_error_keeps_position, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_library_work_is_charged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abuse_ends_within_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c_work_ends_at_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

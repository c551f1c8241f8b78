/* call:ask's C fast path (lua/lua_ask.c) against the Lua version it stands for: the same
 * scripts, with options generated from a seed (plain and odd ones: errors, metatables,
 * type-ahead, speech lists, long texts; tables with array and hash parts, nil holes, keys of
 * other types, big tables), driven by the same generated inputs, must give the same steps,
 * values, type-ahead left and log lines with the fast path, reading the option tables in
 * place or through the API, as with every ask taking the Lua version. And the fast path
 * does take the plain questions, reading them in place. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_lua.h"
#include "cr_rgs.h"
#include "cr_rgs_xml.h"

extern bool livr_ask_lua_only; /* lua/lua_int.h */
extern int livr_layout_ok;

/* Options from a seed (a Lua LCG, so both runs see the same), then three questions. A table
 * has one bad key at most, and a key given twice (7 and '7') the same value both times: which
 * of two bad keys the Lua version names first, and which value of a key wins, follow the
 * order of `pairs`, which the string hash seed of each state decides. */
static const char script[] =
    "local seed = tonumber(call.from:match('^sip:(%d+)@'))\n"
    "local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648\n"
    "  return seed // 65536 % n + 1 end\n"
    "local function pick(t) return t[rnd(#t)] end\n"
    "local function one(...) local t = table.pack(...) return t[rnd(t.n)] end\n"
    "local PHRASES = {'buy', 'sales', 'help', 'broken', 'one', 'two', 'sales team', 'a|b',\n"
    "  'x\\ny', 'Help!', 'star', 'support'}\n"
    "local SKEYS = {'sales', 'support', 'other', 'Zed', 'a b', 'help'}\n"
    "local KEYS = {'1', '3', '*', '#', '0', 2, 9, '5', 4, '6'}\n"
    "local BAD = {10, '12', 'a', -1, 1.5, true}\n"
    "local function value()\n"
    "  return one('sales', 'support', 'two words', 'a\\tb', '', false, 0, 'one', 'help', {},\n"
    "    string.rep('v', 300), 'buy') end\n"
    "local function choices()\n"
    "  local r = rnd(20)\n"
    "  if r == 1 then return nil elseif r == 2 then return 'x' end\n"
    "  if r == 3 then return setmetatable({}, {__index = function() return 'm' end}) end\n"
    "  local t = {}\n"
    "  for _ = 1, rnd(6) - 1 do t[pick(KEYS)] = value() end\n"
    "  if r == 4 then t = {} for k = 0, 9 do t[tostring(k)] = 'k' .. k end t['*'] = 's' end\n"
    "  if r == 5 then t[pick(BAD)] = 'bad' end\n"
    "  if r == 6 then t[7] = 'same'; t['7'] = 'same' end\n"
    "  if r == 7 then t = {} for i = 1, rnd(10) do t[i] = value() end end\n"
    "  if r == 8 then t = {value(), value(), [rnd(3)] = 'dup', ['*'] = value()} end\n"
    "  if r == 9 then t = {} for k = 1, rnd(40) do t['x' .. k] = k end\n"
    "    for k = 1, 40 do t['x' .. k] = nil end t['1'] = value() t[2] = value() end\n"
    "  if r == 10 then t = {} for i = 1, rnd(300) do t[i] = 'v' .. i end\n"
    "    for i = 4, 300 do t[i] = nil end end\n"
    "  if r == 11 then t[pick({true, 2.5, 2.0, 0, false, 1e100, -0.0, 'ab', '\\0'})] = 'odd' end\n"
    "  if r == 12 then t = {'a', nil, 'c', nil, ['#'] = 'h'} end\n"
    "  if r == 13 then t = setmetatable({['1'] = 'a', [2] = 'b'}, {__pairs = function()\n"
    "    return next, {['3'] = 'p'}, nil end}) end\n"
    "  if r == 14 then t = {['1'] = 'a', [pick({10, 12, -1, 9, 0})] = 'b'} end\n"
    "  return t end\n"
    "local function speech()\n"
    "  local r = rnd(12)\n"
    "  if r <= 3 then return nil elseif r == 4 then return 'str' end\n"
    "  if r == 5 then local t = {} for i = 1, 40 do t['v' .. i] = 'p' .. i end return t end\n"
    "  if r == 6 then return {[1] = {'a'}} elseif r == 7 then return {x = {''}, y = 'ok'} end\n"
    "  if r == 8 then return {x = {1}} end\n"
    "  if r == 9 then return {x = setmetatable({}, {__index = function(_, i)\n"
    "    if i < 3 then return 'mt' .. i end end})} end\n"
    "  local t = {}\n"
    "  for _ = 1, rnd(4) do\n"
    "    local ws = {}\n"
    "    for _ = 1, rnd(4) - 1 do ws[#ws + 1] = pick(PHRASES) end\n"
    "    t[pick(SKEYS)] = rnd(4) == 1 and pick(PHRASES) or ws\n"
    "  end\n"
    "  return t end\n"
    "local function options()\n"
    "  local o = {\n"
    "    prompt = one(nil, nil, '', 'a b.wav', 'bad\\nname', 12, string.rep('p', 600),\n"
    "      'menu.wav', 'menu.wav'),\n"
    "    choices = choices(), speech = speech(),\n"
    "    timeout = one(nil, nil, 1, 0, -1, 3600, 3601, 0.0004, 2.5, 'x', 0/0, math.maxinteger),\n"
    "    retries = one(nil, nil, 0, 1, 10, 11, 1.5, -0.0, 2.0, '2', 3),\n"
    "    invalid = one(nil, 'inv.wav', '', 'bad\\1', 5, 'no answer.wav', 'inv.wav'),\n"
    "    noanswer = one(nil, 'na.wav', '', 'na.wav')}\n"
    "  local r = rnd(20)\n"
    "  if r == 1 then o.timout = 3 elseif r == 2 then o[1] = 'x' end\n"
    "  if r == 6 then o[pick({true, 2.5, 0, false, string.rep('prompt', 8)})] = 1 end\n"
    "  if r == 7 or r == 8 then for k = 1, rnd(20) do o['x' .. k] = k end\n"
    "    for k = 1, 20 do o['x' .. k] = nil end end\n"
    "  if r == 9 then o.prompt = pick({{}, true, 'menu.wav'})\n"
    "    o.choices = pick({5, {}, {prompt = 1}}) end\n"
    "  if r == 10 then local t = {} for k, v in pairs(o) do t[k] = v end o = t end\n"
    "  if r == 11 then setmetatable(o, {__index = function(_, k)\n"
    "    if k == 'timeout' then return 9 elseif k == 'invalid' then return 'mt.wav' end\n"
    "    end}) end\n"
    "  if r == 3 then return 'menu.wav' elseif r == 4 then return nil end\n"
    "  if r == 5 then return setmetatable({}, {__index = function(_, k)\n"
    "    if k == 'choices' then return {['1'] = 'mt'} end end}) end\n"
    "  return o end\n"
    "local function show(x) return type(x) == 'table' and 'table' or tostring(x) end\n"
    "for i = 1, 3 do\n"
    "  if rnd(4) == 1 then call:play('pre.wav') end\n"
    "  local o, v = options()\n"
    "  if rnd(3) == 1 then\n"
    "    local ok, r = pcall(call.ask, call, o)\n"
    "    v = tostring(ok) .. ':' .. show(r)\n"
    "  elseif rnd(8) == 1 then\n"
    "    v = show(call.ask(o))\n"
    "  else\n"
    "    v = show(call:ask(o))\n"
    "  end\n"
    "  call:set('v' .. i, v)\n"
    "end\n"
    "call:set('rest', tostring(call:collect{max = 4, timeout = 1, terminator = false}))\n"
    "call:hangup('done')\n";

typedef struct transcript {
    char *s;
    size_t len, cap;
} transcript;

static void add(transcript *t, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
    memcpy(t->s + t->len, line, (size_t)n + 1);
    t->len += (size_t)n;
}

static void on_log(void *ud, int64_t at, const char *line)
{
    add(ud, "log %s\n", line);
}

static void on_set(void *ud, int64_t at, const char *call, const char *key, const char *value)
{
    add(ud, "set %s %s\n", key, value);
}

static const char *const dtmf_texts[] = {"1",   "2", "12", "*#", "7", "a",  "xyz", "",
                                         "1 2", "D", "0",  "9",  "#", "1d", "2a3"};
/* Speech answers: phrases of one value, of several, of none; case, punctuation, control
 * characters and runs of space that normalizing removes; key names; an empty text; and one
 * longer than the C matcher normalizes (it then asks the Lua version). */
static char long_text[700];
static const char *const speech_texts[] = {"buy",
                                           "I need help",
                                           "sales team",
                                           "one",
                                           "two",
                                           "nothing",
                                           "Help! broken",
                                           "a|b",
                                           "star",
                                           "STAR please",
                                           "support sales",
                                           "  BUY!!  ",
                                           "Sales\t\tTeam",
                                           "x y",
                                           "x\ny",
                                           "a b",
                                           "I said: help, broken",
                                           "two words",
                                           "a\tb",
                                           "one two",
                                           "pound",
                                           "hash",
                                           "",
                                           "ZED",
                                           "v",
                                           "sales-team",
                                           "mt1",
                                           "p7 please",
                                           "k3",
                                           "ok",
                                           "1",
                                           "#",
                                           "buy\x80sales",
                                           "buy\x01now",
                                           "help\x7f",
                                           long_text};
#define NSPEECH (sizeof speech_texts / sizeof speech_texts[0])

static uint32_t next(uint32_t *r)
{
    *r = *r * 1664525u + 1013904223u;
    return *r >> 8;
}

/* Runs calls seed .. seed + n - 1 through a fresh driver; everything they did, in order, and
 * in *in_place the questions whose options were read in place (cr_lua_stats). */
enum { FAST, FAST_API, LUA }; /* the fast path reading in place, through the API; Lua's */

static char *run(const char *dir, int how, unsigned seed, unsigned n, uint64_t *in_place)
{
    char path[256];
    snprintf(path, sizeof path, "%s/rg.xml", dir);
    cr_rgs_config *cfg;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rgs_xml_load(path, &cfg, &d), CR_OK);
    cr_diag_free(&d);
    for (size_t i = 0; i + 1 < sizeof long_text; i++)
        long_text[i] = "help buy "[i % 9];
    transcript t = {0};
    cr_lua_options lo = {.log = on_log, .log_ud = &t, .set = on_set, .set_ud = &t};
    cr_lua_ivr *ivr;
    char err[256];
    assert_int_equal(cr_lua_ivr_open(cfg, &lo, &ivr, err, sizeof err), CR_OK);
    const cr_rgs_ivr_driver *drv = cr_lua_ivr_driver(ivr);
    livr_ask_lua_only = how == LUA;
    int layout = livr_layout_ok;
    if (how == FAST_API) /* as with a Lua whose layout lua_limits.c does not know */
        livr_layout_ok = 0;
    for (unsigned k = seed; k < seed + n; k++) {
        char from[64];
        snprintf(from, sizeof from, "sip:%u@test", k);
        cr_rgs_ivr_call call = {"c1", from, "sip:a@test", cfg, &cfg->workflows[0], 0, 0};
        cr_rgs_ivr_step st;
        memset(&st, 0, sizeof st);
        void *state;
        add(&t, "call %u\n", k);
        if (drv->start(drv->ud, &call, &state, &st) != 0)
            continue;
        uint32_t r = k;
        for (int i = 0; i < 16; i++) {
            add(&t, "step %d [%s] [%s] %lld\n", (int)st.op, st.arg, st.choices,
                (long long)st.timer_ms);
            if (st.op != CR_RGS_IVR_PLAY && st.op != CR_RGS_IVR_COLLECT && st.op != CR_RGS_IVR_WAIT)
                break;
            cr_rgs_ivr_input_kind kind = (cr_rgs_ivr_input_kind)(next(&r) % 4);
            const char *text = kind == CR_RGS_IVR_IN_DTMF     ? dtmf_texts[next(&r) % 15]
                               : kind == CR_RGS_IVR_IN_SPEECH ? speech_texts[next(&r) % NSPEECH]
                                                              : NULL;
            memset(&st, 0, sizeof st);
            add(&t, "in %d %s\n", (int)kind, text ? text : "-");
            if (drv->input(drv->ud, state, kind, text, i, i, &st) != 0)
                break;
        }
        drv->end(drv->ud, state);
    }
    cr_lua_stats s;
    cr_lua_ivr_stats(ivr, &s);
    *in_place = s.asks_in_place;
    livr_ask_lua_only = false;
    livr_layout_ok = layout;
    cr_lua_ivr_close(ivr);
    cr_rgs_config_free(cfg);
    return t.s;
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int setup(void **state)
{
    static char dir[64];
    strcpy(dir, "/tmp/crluaaskXXXXXX");
    assert_non_null(mkdtemp(dir));
    put(dir, "rg.xml",
        "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>\n"
        "<workflow name=\"A\" uri=\"sip:a@test\" type=\"ivr\" script=\"a.lua\"/>\n"
        "</responseGroups></callroute>\n");
    put(dir, "a.lua", script);
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", (char *)*state);
    return system(cmd) != 0;
}

/* The first line where two transcripts differ, for the failure message. */
static void assert_same(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return;
    size_t i = 0, line = 0;
    while (a[i] && a[i] == b[i])
        i++;
    size_t from = i;
    while (from > 0 && a[from - 1] != '\n')
        from--;
    for (size_t k = 0; k < from; k++)
        line += a[k] == '\n';
    /* the call the line belongs to */
    const char *call = a + from;
    while (call > a && strncmp(call, "call ", 5) != 0)
        call--;
    fail_msg("transcripts differ at line %zu (in %.20s): fast [%.200s] lua [%.200s]", line + 1,
             call, a + from, b + from);
}

static void test_fast_path_matches_lua_version(void **state)
{
    const char *dir = *state;
    uint64_t in_place[3];
    char *fast = run(dir, FAST, 1, 3000, &in_place[FAST]);
    char *api = run(dir, FAST_API, 1, 3000, &in_place[FAST_API]);
    char *lua = run(dir, LUA, 1, 3000, &in_place[LUA]);
    assert_same(fast, lua);
    assert_same(api, lua);
    /* Debian's liblua5.4 has the layout lua_limits.c checks, so the tables were read in place
     * (most questions; the others went the API's way), and not with the layout unknown */
    assert_int_equal(livr_layout_ok, 1);
    assert_true(in_place[FAST] > 1000);
    assert_true(in_place[FAST_API] == 0 && in_place[LUA] == 0);
    /* every kind of outcome came up */
    assert_non_null(strstr(fast, "ivr_error"));
    assert_non_null(strstr(fast, "set v1 sales"));
    assert_non_null(strstr(fast, "set v3 nil"));
    assert_non_null(strstr(fast, "set v2 false:call:ask:"));
    assert_non_null(strstr(fast, "speech="));
    free(fast);
    free(api);
    free(lua);
}

/* A question in a loop, answered 1,000 times by `text` of `kind`, with and without the
 * fast path: the same steps, and the fast path's budget units fewer by more than `factor`.
 * The fast path read every question's tables in place, and charges the same units when it
 * reads them through the API (as when lua_limits.c does not know the Lua's layout). */
static void loop_both_ways(const char *dir, const char *lua, cr_rgs_ivr_input_kind kind,
                           const char *text, const char *want, uint64_t factor)
{
    put(dir, "a.lua", lua);
    uint64_t w[3];
    char *out[3];
    uint64_t scans[3];
    for (int how = FAST; how <= LUA; how++) {
        char path[256];
        snprintf(path, sizeof path, "%s/rg.xml", dir);
        cr_rgs_config *cfg;
        cr_diag d;
        cr_diag_init(&d);
        assert_int_equal(cr_rgs_xml_load(path, &cfg, &d), CR_OK);
        cr_diag_free(&d);
        cr_lua_ivr *ivr;
        char err[256];
        cr_lua_options lo = {.budget = UINT64_MAX / 2}; /* the Lua version's 1,000 answers */
        assert_int_equal(cr_lua_ivr_open(cfg, &lo, &ivr, err, sizeof err), CR_OK);
        const cr_rgs_ivr_driver *drv = cr_lua_ivr_driver(ivr);
        livr_ask_lua_only = how == LUA;
        int layout = livr_layout_ok;
        if (how == FAST_API)
            livr_layout_ok = 0;
        cr_rgs_ivr_call call = {"c1", "sip:1@test", "sip:a@test", cfg, &cfg->workflows[0], 0, 0};
        cr_rgs_ivr_step st;
        memset(&st, 0, sizeof st);
        void *cs;
        transcript t = {0};
        assert_int_equal(drv->start(drv->ud, &call, &cs, &st), 0);
        for (int i = 0; i < 1000; i++) {
            add(&t, "%d %s %s\n", (int)st.op, st.arg, st.choices);
            assert_int_equal(drv->input(drv->ud, cs, kind, text, i, i, &st), 0);
        }
        add(&t, "%d %s %s\n", (int)st.op, st.arg, st.choices);
        drv->end(drv->ud, cs);
        cr_lua_stats s;
        cr_lua_ivr_stats(ivr, &s);
        w[how] = s.work, out[how] = t.s;
        scans[how] = s.asks_in_place;
        livr_ask_lua_only = false;
        livr_layout_ok = layout;
        cr_lua_ivr_close(ivr);
        cr_rgs_config_free(cfg);
    }
    assert_string_equal(out[FAST], out[LUA]);
    assert_string_equal(out[FAST_API], out[LUA]);
    assert_non_null(strstr(out[FAST], want));
    assert_true(w[FAST] * factor < w[LUA]);
    assert_true(w[FAST] == w[FAST_API]);
    assert_true(scans[FAST] >= 1000 && scans[FAST_API] == 0 && scans[LUA] == 0);
    for (int how = FAST; how <= LUA; how++)
        free(out[how]);
}

/* A plain question in a loop takes the fast path: far fewer budget units than the Lua
 * version's few hundred VM instructions, and the same steps. */
static void test_plain_ask_takes_fast_path(void **state)
{
    loop_both_ways(
        *state,
        "while true do\n"
        "  local v = call:ask{prompt = 'menu.wav', choices = {['1'] = 'a', ['2'] = 'b'}}\n"
        "  if v ~= 'a' then call:hangup('wrong') end\n"
        "end\n",
        CR_RGS_IVR_IN_DTMF, "1", "2 menu.wav keys=1,2\n", 5);
}

/* A spoken answer is matched in C too (lua_ask.c's match_speech): no phrase list is built,
 * and the Lua version's normalizing and searching of every phrase is not run. */
static void test_speech_answer_takes_fast_path(void **state)
{
    loop_both_ways(*state,
                   "while true do\n"
                   "  local v = call:ask{prompt = 'menu.wav', invalid = 'inv.wav',\n"
                   "    choices = {['1'] = 'sales', ['2'] = 'support'},\n"
                   "    speech = {sales = {'buy', 'sales'}, support = {'help', 'broken'}}}\n"
                   "  if v ~= 'sales' then call:hangup('wrong') end\n"
                   "end\n",
                   CR_RGS_IVR_IN_SPEECH, "I'd like to BUY a phone, please.",
                   "2 menu.wav keys=1,2 speech=sales|support|buy|help|broken\n", 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fast_path_matches_lua_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_ask_takes_fast_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_speech_answer_takes_fast_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

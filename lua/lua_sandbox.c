/* The sandbox: the state's allocator (memory caps), the instruction budget hook, and the
 * read-only base environment scripts run over. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lualib.h>

#include "lua_int.h"

/* Takes the call's budget to zero and makes its running coroutine's hook fire at the next
 * instruction (the hook then raises at every one). Safe inside the allocator: it only sets
 * fields of the thread. */
static void exhaust(cr_lua_ivr *v, lcall *c, lua_State *L)
{
    v->work += c->budget;
    c->budget = 0;
    c->exhausted = true;
    lua_sethook(c->co, livr_hook, LUA_MASKCOUNT, 1);
    if (L && L != c->co)
        lua_sethook(L, livr_hook, LUA_MASKCOUNT, 1);
}

/* Charges from the allocator, which cannot raise: a spent budget is left to the hook. */
static void alloc_charge(cr_lua_ivr *v, lcall *c, uint64_t units)
{
    if (c->exhausted)
        return;
    if (units < c->budget) {
        c->budget -= units;
        v->work += units;
        return;
    }
    exhaust(v, c, v->running);
}

/* Small blocks. Every block is malloc's, of at least its class's size, so a list's block
 * may be handed to realloc or free at any size of its class. Under AddressSanitizer nothing is
 * kept, so a use after free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define SPARE_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPARE_MAX 0
#endif
#endif
#ifndef SPARE_MAX
#define SPARE_MAX LIVR_SPARE_MAX
#endif

static inline unsigned small_class(size_t n)
{
    unsigned k = (unsigned)((n + 7) >> 4); /* 1..24 bytes: class 0; 25..40: 1; 233..248: 14 */
    return k ? k - 1 : 0;
}

static inline size_t class_size(unsigned k)
{
    return (k + 1) * 16 + 8;
}

/* The first block of class k's list, taken off it; NULL when the list is empty. */
static inline void *spare_pop(cr_lua_ivr *v, unsigned k)
{
    void *p = v->spare[k];
    if (p)
        v->spare[k] = *(void **)p;
    return p;
}

static void *small_get(cr_lua_ivr *v, unsigned k)
{
    void *p = spare_pop(v, k);
    if (p) {
        v->spare_bytes -= class_size(k);
        return p;
    }
    return malloc(class_size(k));
}

static void small_put(cr_lua_ivr *v, void *p, unsigned k)
{
    if (v->spare_bytes + class_size(k) > SPARE_MAX) {
        free(p);
        return;
    }
    *(void **)p = v->spare[k];
    v->spare[k] = p;
    v->spare_bytes += class_size(k);
}

void livr_spare_free(cr_lua_ivr *v)
{
    void *p;
    for (unsigned k = 0; k < LIVR_SMALL_CLASSES; k++)
        while ((p = spare_pop(v, k)) != NULL)
            free(p);
    v->spare_bytes = 0;
}

/* A block of `size` bytes given back: a small one to its class's list, others to free. */
static inline void block_free(cr_lua_ivr *v, void *p, size_t size)
{
    if (size <= LIVR_SMALL_MAX)
        small_put(v, p, small_class(size));
    else
        free(p);
}

/* Block (re)allocation by size: small sizes by class, larger ones by realloc. */
static void *block_realloc(cr_lua_ivr *v, void *ptr, size_t old, size_t nsize)
{
    if (nsize > LIVR_SMALL_MAX)
        return realloc(ptr, nsize);
    unsigned k = small_class(nsize);
    if (old && old <= LIVR_SMALL_MAX && small_class(old) == k)
        return ptr; /* the block already has the class's size */
    void *p = small_get(v, k);
    if (p && ptr) {
        memcpy(p, ptr, old < nsize ? old : nsize);
        block_free(v, ptr, old);
    }
    return p;
}

/* Refuses growth past the state's cap, and past the running call's growth limit, object
 * size or string length. Lua never asks for more memory when shrinking, and handles a NULL by
 * collecting garbage and retrying, then raising a memory error in the coroutine that asked. While a
 * call runs, every byte it allocates is charged to its budget (string building, `..`,
 * table growth), and so is each refusal: the full collection Lua runs then is O(heap). */
static __attribute__((noinline)) void *alloc_block(cr_lua_ivr *v, void *ptr, size_t osize,
                                                   size_t nsize)
{
    size_t old = ptr ? osize : 0;
    if (nsize > old) {
        size_t grow = nsize - old;
        lcall *c = v->cur;
        bool too_long = !ptr && osize == LUA_TSTRING && nsize > LIVR_STRING_ALLOC;
        if (v->mem + grow > v->limit || (c && (too_long || nsize > LIVR_OBJECT_MAX ||
                                               v->mem + grow > v->mark + v->call_limit))) {
            if (c) {
                c->too_big = nsize > LIVR_OBJECT_MAX;
                c->too_long = too_long;
                alloc_charge(v, c, v->mem / LIVR_BYTES_PER_UNIT);
            }
            return NULL;
        }
        if (c)
            alloc_charge(v, c, grow / LIVR_BYTES_PER_UNIT);
    }
    void *p = block_realloc(v, ptr, old, nsize);
    if (!p)
        return nsize <= old ? ptr : NULL;
    v->mem = v->mem - old + nsize;
    if (v->mem > v->peak)
        v->peak = v->mem;
    return p;
}

void *livr_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    cr_lua_ivr *v = ud;
    if (nsize == 0) {
        if (ptr) { /* NULL: an empty array part, say */
            block_free(v, ptr, osize);
            v->mem -= osize;
        }
        return NULL;
    }
    lcall *c = v->cur;
    /* The usual case first: a new small object (a table, its parts, a short string) from
     * its class's list, within every limit (alloc_block's checks, for a block that can be
     * neither one object nor one string too many). */
    if (!ptr && nsize <= LIVR_SMALL_MAX && v->mem + nsize <= v->limit &&
        (!c || (v->mem + nsize <= v->mark + v->call_limit && !c->exhausted &&
                nsize / LIVR_BYTES_PER_UNIT < c->budget))) {
        unsigned k = small_class(nsize);
        void *p = v->spare[k];
        if (p) {
            v->spare[k] = *(void **)p;
            v->spare_bytes -= class_size(k);
            if (c) {
                c->budget -= nsize / LIVR_BYTES_PER_UNIT;
                v->work += nsize / LIVR_BYTES_PER_UNIT;
            }
            v->mem += nsize;
            if (v->mem > v->peak)
                v->peak = v->mem;
            return p;
        }
    }
    return alloc_block(v, ptr, osize, nsize);
}

int64_t livr_clock_ns(const cr_lua_ivr *v)
{
    struct timespec ts;
    clock_gettime(v->clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void livr_clock_pick(cr_lua_ivr *v)
{
    struct timespec res;
    v->clock = CLOCK_MONOTONIC;
#ifdef CLOCK_MONOTONIC_COARSE
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
        (int64_t)res.tv_nsec * 100 <= (int64_t)v->opt.time_limit_ms * 1000000)
        v->clock = CLOCK_MONOTONIC_COARSE;
#endif
}

int livr_budget_error(lua_State *L)
{
    cr_lua_ivr *v = livr_of(L);
    if (v->cur && v->cur->timed_out)
        lua_pushfstring(L, "time limit exceeded (%d ms)", (int)v->opt.time_limit_ms);
    else
        lua_pushfstring(L, "instruction budget exceeded (%I instructions)",
                        (lua_Integer)v->opt.budget);
    return lua_error(L);
}

/* The running resume's wall-clock time is past the limit. */
static bool out_of_time(cr_lua_ivr *v, lcall *c)
{
    return livr_clock_ns(v) - c->resumed_ns > (int64_t)v->opt.time_limit_ms * 1000000;
}

/* Every LIVR_HOOK_EVERY instructions of any coroutine of the state: charges the running
 * call. Once its budget is gone the hook fires at every instruction of the call's
 * coroutines and raises each time, so pcall cannot keep an endless loop alive. */
void livr_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    cr_lua_ivr *v = livr_of(L);
    lcall *c = v->cur;
    if (!c)
        return;
    if (!c->exhausted) {
        c->timed_out = out_of_time(v, c);
        if (!c->timed_out && c->budget > LIVR_HOOK_EVERY) {
            c->budget -= LIVR_HOOK_EVERY;
            v->work += LIVR_HOOK_EVERY;
            return;
        }
        exhaust(v, c, L);
    }
    lua_sethook(L, livr_hook, LUA_MASKCOUNT, 1);
    livr_budget_error(L);
}

void livr_charge(lua_State *L, uint64_t units)
{
    cr_lua_ivr *v = livr_of(L);
    lcall *c = v->cur;
    if (!c)
        return;
    if (!c->exhausted && units < c->budget) {
        c->budget -= units;
        v->work += units;
        return;
    }
    if (!c->exhausted)
        exhaust(v, c, L);
    livr_budget_error(L);
}

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table");
}

/* Replaces the table at the top by a read-only view of it: an empty table whose hidden,
 * locked metatable reads through to the original. */
static void make_proxy(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* load(chunk [, chunkname [, mode [, env]]]): text chunks only; the environment defaults to
 * the calling script's globals. */
static int sb_load(lua_State *L)
{
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    if (!s || lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "load: only string chunks are allowed");
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    livr_charge(L, n); /* the compiler runs in C: one unit per byte of text */
    if (strcmp(mode, "t") != 0) {
        lua_pushnil(L);
        lua_pushstring(L, "load: binary chunks are not allowed (mode must be \"t\")");
        return 2;
    }
    if (luaL_loadbufferx(L, s, n, name, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    cr_lua_ivr *v = livr_of(L);
    if (!lua_isnone(L, 4))
        lua_pushvalue(L, 4);
    else if (v->cur)
        lua_rawgeti(L, LUA_REGISTRYINDEX, v->cur->env_ref);
    else
        livr_env_new(L);
    lua_setupvalue(L, -2, 1);
    return 1;
}

/* setmetatable without finalizers: __gc runs with hooks off, outside any budget. */
static int sb_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc metamethods are not allowed");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* xpcall's message handler runs where the error is raised, before the stack unwinds. An
 * error raised by the budget's hook is raised inside the hook, where Lua runs the handler with
 * hooks off: a handler that loops would never end, and neither would the engine. So the
 * script's handler is called through sb_xpcall_handler, which skips it once the call's budget
 * is spent (or its time is up) and passes the error on unchanged. */
static int sb_xpcall_handler(lua_State *L)
{
    cr_lua_ivr *v = livr_of(L);
    if (v->cur && v->cur->exhausted)
        return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* As the base library's, and yieldable as it is (the call API may be used inside). */
static int sb_xpcall_done(lua_State *L, int status, lua_KContext extra)
{
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - (int)extra;
}

static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, sb_xpcall_handler, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2);
    int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, sb_xpcall_done);
    return sb_xpcall_done(L, status, 2);
}

/* collectgarbage: only "count" (the collector's settings belong to the engine). */
static int sb_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") != 0)
        return luaL_error(L, "collectgarbage: option '%s' is not allowed", opt);
    int k = lua_gc(L, LUA_GCCOUNT, 0), b = lua_gc(L, LUA_GCCOUNTB, 0);
    lua_pushnumber(L, (lua_Number)k + ((lua_Number)b / 1024));
    return 1;
}

/* print: one ivr_print log line per call, at most LIVR_PRINT_MAX per call. */
static int sb_print(lua_State *L)
{
    cr_lua_ivr *v = livr_of(L);
    lcall *c = v->cur;
    if (!c || c->prints >= LIVR_PRINT_MAX)
        return 0;
    c->prints++;
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    char msg[512];
    size_t k = 0;
    for (const char *s = lua_tostring(L, -1); *s && k + 1 < sizeof msg; s++)
        msg[k++] = *s == '"' ? '\'' : (unsigned char)*s < 0x20 ? ' ' : *s;
    msg[k] = 0;
    livr_logf(v, "ivr_print call=%s script=%s line=%d msg=\"%s\"", c->id,
              v->scripts[c->script].chunkname + 1, livr_script_line(c, L), msg);
    return 0;
}

/* os.time() and os.date(fmt) default to engine time, so a simulation replays exactly; os.date
 * takes a time with a fraction (rg.now()) as the second it falls in. */
static int sb_time(lua_State *L)
{
    cr_lua_ivr *v = livr_of(L);
    if (lua_isnoneornil(L, 1) && v->cur) {
        lua_pushinteger(L, (lua_Integer)(v->cur->unix_ms / 1000));
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_date(lua_State *L)
{
    cr_lua_ivr *v = livr_of(L);
    lua_settop(L, 2);
    if (lua_isnil(L, 2) && v->cur) {
        lua_pushinteger(L, (lua_Integer)(v->cur->unix_ms / 1000));
        lua_replace(L, 2);
    } else if (lua_type(L, 2) == LUA_TNUMBER && !lua_isinteger(L, 2)) {
        /* rg.now() has milliseconds: the second it falls in, as os.time() gives it */
        lua_Number t = floor(lua_tonumber(L, 2));
        if (!(t >= -9.2e18 && t <= 9.2e18))
            return luaL_argerror(L, 2, "time out of range");
        lua_pushinteger(L, (lua_Integer)t);
        lua_replace(L, 2);
    }
    if (lua_isnil(L, 1)) {
        lua_pushliteral(L, "%c");
        lua_replace(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static void copy_field(lua_State *L, int from, int to, const char *name)
{
    lua_getfield(L, from, name);
    lua_setfield(L, to, name);
}

/* Pushes a new table with the named fields of the table at `from`. */
static void pick(lua_State *L, int from, const char *const *names)
{
    lua_newtable(L);
    for (; *names; names++)
        copy_field(L, from, lua_gettop(L), *names);
}

int livr_sandbox_build(lua_State *L)
{
    luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
    int g = lua_gettop(L);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 0);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    int str = g + 1, tab = g + 2, mth = g + 3, utf = g + 4, co = g + 5, os = g + 6;

    static const char *const base_names[] = {
        "assert", "error",  "ipairs",   "next",     "pairs", "pcall",        "rawequal", "rawget",
        "rawlen", "select", "tonumber", "tostring", "type",  "getmetatable", "_VERSION", NULL};
    pick(L, g, base_names);
    int base = lua_gettop(L);
    lua_getfield(L, g, "setmetatable");
    lua_pushcclosure(L, sb_setmetatable, 1);
    lua_setfield(L, base, "setmetatable");
    lua_pushcfunction(L, sb_load);
    lua_setfield(L, base, "load");
    lua_pushcfunction(L, sb_xpcall);
    lua_setfield(L, base, "xpcall");
    lua_pushcfunction(L, sb_collectgarbage);
    lua_setfield(L, base, "collectgarbage");
    lua_pushcfunction(L, sb_print);
    lua_setfield(L, base, "print");

    static const char *const str_names[] = {
        "byte", "char",    "find", "format", "gmatch", "gsub",     "len",    "lower", "match",
        "rep",  "reverse", "sub",  "upper",  "pack",   "packsize", "unpack", NULL};
    pick(L, str, str_names);
    livr_pattern_install(L, lua_gettop(L));
    livr_limits_install(L, base, lua_gettop(L), tab, utf, co);
    make_proxy(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, base, "string");
    /* The string metatable: methods through the read-only view, and hidden. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_remove(L, -2);
    lua_insert(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    lua_pushvalue(L, tab);
    make_proxy(L);
    lua_setfield(L, base, "table");
    lua_pushvalue(L, mth);
    make_proxy(L);
    lua_setfield(L, base, "math");
    lua_pushvalue(L, utf);
    make_proxy(L);
    lua_setfield(L, base, "utf8");
    lua_pushvalue(L, co);
    make_proxy(L);
    lua_setfield(L, base, "coroutine");

    static const char *const os_names[] = {"clock", "difftime", NULL};
    pick(L, os, os_names);
    lua_getfield(L, os, "time");
    lua_pushcclosure(L, sb_time, 1);
    lua_setfield(L, -2, "time");
    lua_getfield(L, os, "date");
    lua_pushcclosure(L, sb_date, 1);
    lua_setfield(L, -2, "date");
    make_proxy(L);
    lua_setfield(L, base, "os");

    livr_api_register(L, base);

    /* Per-call environments read through to the base, behind a locked metatable. */
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, base);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setfield(L, LUA_REGISTRYINDEX, "cr.envmt");
    /* Nothing reaches the real globals: chunks loaded later get an environment. */
    lua_pushvalue(L, base);
    make_proxy(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    return 0;
}

void livr_env_new(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "cr.envmt");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
}

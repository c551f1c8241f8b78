/* Checked versions of the library functions a script reaches whose work the count hook
 * cannot see: they run in C, so each charges the call's budget for the work it is about
 * to do (by its arguments: string.rep's count, table.move's range, a format's length) or,
 * where only the result tells (utf8.codes), for the work it did, bounded by one object
 * (LIVR_OBJECT_MAX). Functions whose work is O(what they allocate) (string.sub, upper,
 * reverse, `..`) are paid by the allocator; the rest are O(1). The table functions are
 * ltablib.c's (Lua 5.4, Copyright (C) 1994-2022 Lua.org, PUC-Rio, MIT licence) with the
 * charge in their loops; table.sort gets a comparator that charges each comparison. */
#include <limits.h>
#include <string.h>

#include "lua_int.h"

static uint64_t bytes(size_t n)
{
    return n / LIVR_BYTES_PER_UNIT;
}

static lua_Integer opt_int(lua_State *L, int i, lua_Integer def)
{
    return lua_isnoneornil(L, i) ? def : lua_tointeger(L, i);
}

static size_t str_len(lua_State *L, int i)
{
    size_t n = 0;
    if (lua_type(L, i) == LUA_TSTRING)
        lua_tolstring(L, i, &n);
    return n;
}

/* Number of positions in [i, j] of a string of `len` bytes, as string.byte reads them. */
static uint64_t span(lua_Integer i, lua_Integer j, size_t len)
{
    size_t a = livr_posrelat(i, len);
    size_t b = j > (lua_Integer)len    ? len
               : j >= 0                ? (size_t)j
               : j < -(lua_Integer)len ? 0
                                       : len + (size_t)j + 1;
    return b >= a ? b - a + 1 : 0;
}

/* ---- costs of wrapped functions, from their arguments ---------------------------------- */

/* string.rep(s, n [, sep]): n iterations, even when they copy nothing. */
static uint64_t cost_rep(lua_State *L)
{
    lua_Integer n = lua_tointeger(L, 2);
    return n > 0 ? (uint64_t)n : 0;
}

static uint64_t cost_byte(lua_State *L)
{
    lua_Integer i = opt_int(L, 2, 1);
    return 1 + span(i, opt_int(L, 3, i), str_len(L, 1));
}

static uint64_t cost_args(lua_State *L)
{
    return 1 + (uint64_t)lua_gettop(L);
}

/* A format's items, and the strings it may measure (strlen for a width). */
static uint64_t cost_format(lua_State *L)
{
    uint64_t n = cost_args(L) + str_len(L, 1);
    for (int i = 2; i <= lua_gettop(L); i++)
        n += bytes(str_len(L, i));
    return n;
}

static uint64_t cost_pack(lua_State *L)
{
    return cost_format(L);
}

static uint64_t cost_packsize(lua_State *L)
{
    return 1 + str_len(L, 1);
}

static uint64_t cost_unpack(lua_State *L)
{
    return 1 + str_len(L, 1) + bytes(str_len(L, 2));
}

/* utf8.len(s, i, j) and utf8.codepoint(s, i, j): one unit per byte decoded. */
static uint64_t cost_utflen(lua_State *L)
{
    return 1 + span(opt_int(L, 2, 1), opt_int(L, 3, -1), str_len(L, 1));
}

static uint64_t cost_codepoint(lua_State *L)
{
    lua_Integer i = opt_int(L, 2, 1);
    return 1 + span(i, opt_int(L, 3, i), str_len(L, 1));
}

/* utf8.offset(s, n, i): scans forward to the end or back to the start. */
static uint64_t cost_offset(lua_State *L)
{
    size_t len = str_len(L, 1);
    lua_Integer n = lua_tointeger(L, 2);
    size_t i = livr_posrelat(opt_int(L, 3, n >= 0 ? 1 : (lua_Integer)len + 1), len);
    return 1 + (n > 0 ? (i <= len ? len - i + 1 : 0) : i);
}

/* tonumber(s [, base]): a conversion reads every byte. */
static uint64_t cost_tonumber(lua_State *L)
{
    return 1 + str_len(L, 1);
}

typedef struct costed {
    const char *name;
    uint64_t (*cost)(lua_State *L);
} costed;

static const costed string_costs[] = {{"rep", cost_rep},       {"byte", cost_byte},
                                      {"char", cost_args},     {"format", cost_format},
                                      {"pack", cost_pack},     {"packsize", cost_packsize},
                                      {"unpack", cost_unpack}, {NULL, NULL}};
static const costed utf8_costs[] = {{"len", cost_utflen},
                                    {"codepoint", cost_codepoint},
                                    {"offset", cost_offset},
                                    {"char", cost_args},
                                    {NULL, NULL}};
static const costed base_costs[] = {{"tonumber", cost_tonumber}, {NULL, NULL}};

/* Upvalue 1: the library function; 2: its cost (a light userdata of a costed entry). The
 * library function runs in this frame, so its errors name the function and the script's
 * line as they did (it has no upvalues of its own). */
static int charged(lua_State *L)
{
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    const costed *c = lua_touserdata(L, lua_upvalueindex(2));
    livr_charge(L, c->cost(L));
    return fn(L);
}

static void wrap_all(lua_State *L, int t, const costed *list)
{
    for (; list->name; list++) {
        lua_getfield(L, t, list->name);
        lua_pushlightuserdata(L, (void *)list);
        lua_pushcclosure(L, charged, 2);
        lua_setfield(L, t, list->name);
    }
}

/* ---- utf8.codes: the iterator's skip over continuation bytes, charged after it ----------- */

static int codes_step(lua_State *L)
{
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    size_t len = str_len(L, 1);
    lua_Integer from = lua_tointeger(L, 2);
    int top = lua_gettop(L), n = fn(L);
    lua_Integer to = n > 0 ? lua_tointeger(L, top + 1) : (lua_Integer)len;
    livr_charge(L, 1 + (to > from && from >= 0 ? (uint64_t)(to - from) : 0));
    return n;
}

/* utf8.codes(s [, lax]) -> the original's results, with its iterator wrapped. */
static int utf8_codes(lua_State *L)
{
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    int n = fn(L);
    lua_pushvalue(L, -n);
    lua_pushcclosure(L, codes_step, 1);
    lua_replace(L, -n - 1);
    return n;
}

/* ---- table ------------------------------------------------------------------------------ */

#define TAB_R  1
#define TAB_W  2
#define TAB_L  4
#define TAB_RW (TAB_R | TAB_W)

static int checkfield(lua_State *L, const char *key, int n)
{
    lua_pushstring(L, key);
    return (lua_rawget(L, -n) != LUA_TNIL);
}

static void checktab(lua_State *L, int arg, int what)
{
    if (lua_type(L, arg) != LUA_TTABLE) {
        int n = 1;
        if (lua_getmetatable(L, arg) && (!(what & TAB_R) || checkfield(L, "__index", ++n)) &&
            (!(what & TAB_W) || checkfield(L, "__newindex", ++n)) &&
            (!(what & TAB_L) || checkfield(L, "__len", ++n)))
            lua_pop(L, n);
        else
            luaL_checktype(L, arg, LUA_TTABLE);
    }
}

static lua_Integer aux_getn(lua_State *L, int n, int w)
{
    checktab(L, n, w | TAB_L);
    return luaL_len(L, n);
}

/* Charges the elements in [from, to] (none when empty; saturating). */
static void charge_range(lua_State *L, lua_Integer from, lua_Integer to)
{
    if (to >= from)
        livr_charge(L, (uint64_t)((lua_Unsigned)to - (lua_Unsigned)from) + 1);
}

static int tinsert(lua_State *L)
{
    lua_Integer pos;
    lua_Integer e = aux_getn(L, 1, TAB_RW);
    e = (lua_Integer)((lua_Unsigned)e + 1u);
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        charge_range(L, pos, e);
        for (lua_Integer i = e; i > pos; i--) {
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

static int tremove(lua_State *L)
{
    lua_Integer size = aux_getn(L, 1, TAB_RW);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 1, "position out of bounds");
    charge_range(L, pos, size);
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) {
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

static int tmove(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    checktab(L, 1, TAB_R);
    checktab(L, tt, TAB_W);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Integer n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
        charge_range(L, f, e);
        if (t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
            for (lua_Integer i = 0; i < n; i++) {
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
            }
        } else {
            for (lua_Integer i = n - 1; i >= 0; i--) {
                lua_geti(L, 1, f + i);
                lua_seti(L, tt, t + i);
            }
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

static void addfield(lua_State *L, luaL_Buffer *b, lua_Integer i)
{
    lua_geti(L, 1, i);
    if (!lua_isstring(L, -1))
        luaL_error(L, "invalid value (%s) at index %I in table for 'concat'", luaL_typename(L, -1),
                   (lua_Integer)i);
    luaL_addvalue(b);
}

static int tconcat(lua_State *L)
{
    luaL_Buffer b;
    lua_Integer last = aux_getn(L, 1, TAB_R);
    size_t lsep;
    const char *sep = luaL_optlstring(L, 2, "", &lsep);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    last = luaL_optinteger(L, 4, last);
    charge_range(L, i, last);
    luaL_buffinit(L, &b);
    for (; i < last; i++) {
        addfield(L, &b, i);
        luaL_addlstring(&b, sep, lsep);
    }
    if (i == last)
        addfield(L, &b, i);
    luaL_pushresult(&b);
    return 1;
}

static int tunpack(lua_State *L)
{
    lua_Integer i = luaL_optinteger(L, 2, 1);
    lua_Integer e = luaL_opt(L, luaL_checkinteger, 3, luaL_len(L, 1));
    if (i > e)
        return 0;
    lua_Unsigned n = (lua_Unsigned)e - i;
    if (n >= (unsigned int)INT_MAX || !lua_checkstack(L, (int)(++n)))
        return luaL_error(L, "too many results to unpack");
    livr_charge(L, n);
    for (; i < e; i++)
        lua_geti(L, 1, i);
    lua_geti(L, 1, e);
    return (int)n;
}

/* The comparator table.sort calls: one unit, then the script's function or `<`. */
static int sort_less(lua_State *L)
{
    livr_charge(L, 1);
    if (lua_isnil(L, lua_upvalueindex(1))) {
        lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* table.sort(t [, comp]) with sort_less as the comparator, run in this frame. */
static int tsort(lua_State *L)
{
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_pushcclosure(L, sort_less, 1);
    return fn(L);
}

/* ---- coroutine: which coroutine runs (the allocator stops it when the budget goes) ------ */

/* Resumes the coroutine `co` (upvalue 2) of a function coroutine.wrap made (upvalue 1, the
 * library's, kept for what co_wrap returns), noting it as the running one. It does what the
 * library's wrapper does, but for one thing: a coroutine whose error came from the budget's
 * hook is not closed. Lua raises that error inside the hook, with the coroutine's hooks off,
 * and closing it runs its to-be-closed variables' __close there, where a loop would never
 * end (the library's wrapper closes it at once). The call ends anyway; the coroutine is
 * left to the collector. The error gets its caller's position, as coroutine.wrap gives it. */
static int co_wrapped(lua_State *L)
{
    lua_State *co = lua_tothread(L, lua_upvalueindex(2));
    cr_lua_ivr *v = livr_of(L);
    livr_charge(L, 1);
    int narg = lua_gettop(L), nres = 0;
    if (!lua_checkstack(co, narg))
        return luaL_error(L, "too many arguments to resume");
    lua_State *prev = v->running;
    v->running = co;
    lua_xmove(L, co, narg);
    int rc = lua_resume(co, L, narg, &nres);
    v->running = prev;
    if (v->cur && v->cur->exhausted)
        return livr_budget_error(L);
    if (rc == LUA_OK || rc == LUA_YIELD) {
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            return luaL_error(L, "too many results to resume");
        }
        lua_xmove(co, L, nres);
        return nres;
    }
    lua_xmove(co, L, 1);
    int st = lua_status(co);
    if (st != LUA_OK && st != LUA_YIELD) { /* an error in the coroutine: close it */
        st = lua_resetthread(co);          /* lua_closethread(co, NULL) from 5.4.6 on */
        if (v->cur && v->cur->exhausted)
            return livr_budget_error(L);
        lua_xmove(co, L, 1);
    }
    if (st != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

/* coroutine.resume runs in this frame: it raises only for a non-coroutine (checked first),
 * so `running` is always restored. */
static int co_resume(lua_State *L)
{
    cr_lua_ivr *v = livr_of(L);
    lua_State *co = lua_tothread(L, 1);
    if (!co)
        return luaL_typeerror(L, 1, "thread");
    livr_charge(L, 1);
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    lua_State *prev = v->running;
    v->running = co;
    int n = fn(L);
    v->running = prev;
    if (v->cur && v->cur->exhausted)
        return livr_budget_error(L);
    return n;
}

static int co_wrap(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    lua_getupvalue(L, -1, 1); /* the wrapped function's coroutine */
    lua_pushcclosure(L, co_wrapped, 2);
    return 1;
}

/* ---- next and pairs: the slots lua_next scans, charged ---------------------------------- */

/* lua_next scans a table's slots (its array part, then its hash part) from the key it is
 * given to the next one in use: over a table emptied of most of its entries that is up to
 * the whole table, in one VM instruction. The API does not tell a table's size, so it is
 * read from Lua 5.4's Table (livr_table in lua_int.h), after check_layout. Were the check
 * to fail, `next` would charge one unit and the time limit would stay the only bound of such
 * a scan. */
int livr_layout_ok = -1;

size_t livr_table_slots(lua_State *L, int i)
{
    if (livr_layout_ok != 1)
        return 0;
    const livr_table *t = lua_topointer(L, i);
    size_t a = t->alimit;
    if ((t->flags & 0x80) && (a & (a - 1))) { /* alimit is not the size: the next power of 2 */
        a--;
        for (unsigned s = 1; s < sizeof a * 8; s <<= 1)
            a |= a >> s;
        a++;
    }
    return a + (t->lastfree ? (size_t)1 << t->lsizenode : 0);
}

#define LAYOUT_MAGIC 0x5eed1234abcdLL

/* Nodes of a 4-node table holding 4 keys, each with value LAYOUT_MAGIC + its number: each
 * is found once, its key and value tagged and placed as livr_node says. */
static bool check_nodes(const livr_table *t, const void *str, const void *lud)
{
    int seen = 0;
    if (!t->node || !t->lastfree || t->lsizenode != 2)
        return false;
    for (int i = 0; i < 4; i++) {
        const livr_node *n = &t->node[i];
        int k = n->key_tt == LIVR_TAG_SHRSTR && n->key.p == str      ? 0
                : n->key_tt == LIVR_TAG_INT && n->key.i == 100       ? 1
                : n->key_tt == LUA_TLIGHTUSERDATA && n->key.p == lud ? 2
                : n->key_tt == (LUA_TNUMBER | 16) && n->key.n == 2.5 ? 3
                                                                     : -1;
        if (k < 0 || (seen & 1 << k) || n->tt != LIVR_TAG_INT || n->v.i != LAYOUT_MAGIC + k)
            return false;
        seen |= 1 << k;
    }
    return seen == 15;
}

/* The layout check: a table made with 5 array slots and 9 hash ones has alimit 5, a real
 * array size, 16 nodes (lsizenode 4) and a free pointer; an empty one has none. Then what
 * call:ask reads in place (lua_ask.c): the array's values and a hole, the nodes of a
 * 4-node table (check_nodes), a metatable, and the thread's stack top, checked as a
 * pointer between the stack's bounds (compared, not read) before the two values just
 * pushed are read there. */
static void check_layout(lua_State *L)
{
    lua_createtable(L, 5, 9);
    lua_createtable(L, 0, 0);
    const livr_table *t = lua_topointer(L, -2), *e = lua_topointer(L, -1);
    bool ok = t->tt == LUA_TTABLE && t->alimit == 5 && !(t->flags & 0x80) && t->lsizenode == 4 &&
              t->array && t->node && t->lastfree && e->tt == LUA_TTABLE && e->alimit == 0 &&
              e->lsizenode == 0 && !e->lastfree && !e->array && !t->metatable && !e->metatable;
    if (ok) {
        for (int i = 1; i <= 4; i++) {
            lua_pushinteger(L, LAYOUT_MAGIC + i);
            lua_rawseti(L, -3, i);
        }
        for (int i = 0; ok && i < 5; i++)
            ok = i < 4 ? t->array[i].tt == LIVR_TAG_INT && t->array[i].v.i == LAYOUT_MAGIC + i + 1
                       : LIVR_TAG_EMPTY(t->array[i].tt);
        lua_pushvalue(L, -1); /* e as t's metatable */
        lua_setmetatable(L, -3);
        ok = ok && t->metatable == e;
    }
    lua_pop(L, 2);
    if (ok) {
        lua_createtable(L, 0, 4);
        const livr_table *h = lua_topointer(L, -1);
        lua_pushliteral(L, "prompt");
        const void *str = lua_topointer(L, -1);
        lua_pushinteger(L, LAYOUT_MAGIC);
        lua_rawset(L, -3);
        lua_pushinteger(L, LAYOUT_MAGIC + 1);
        lua_rawseti(L, -2, 100);
        lua_pushlightuserdata(L, &livr_layout_ok);
        lua_pushinteger(L, LAYOUT_MAGIC + 2);
        lua_rawset(L, -3);
        lua_pushnumber(L, 2.5);
        lua_pushinteger(L, LAYOUT_MAGIC + 3);
        lua_rawset(L, -3);
        ok = check_nodes(h, str, &livr_layout_ok);
        lua_pop(L, 1);
    }
    if (ok) {
        const livr_thread *th = (const void *)L;
        lua_pushinteger(L, LAYOUT_MAGIC);
        lua_pushlightuserdata(L, &livr_layout_ok);
        /* lua_State after `top`: l_G, ci, stack_last, stack (lstate.h) */
        livr_tv *const *after = (livr_tv *const *)(const void *)(&th->top + 1);
        uintptr_t top = (uintptr_t)th->top, last = (uintptr_t)after[2], stack = (uintptr_t)after[3];
        ok = th->tt == LUA_TTHREAD && stack + 2 * sizeof(livr_tv) <= top && top <= last &&
             (top - stack) % sizeof(livr_tv) == 0;
        ok = ok && th->top[-1].tt == LUA_TLIGHTUSERDATA && th->top[-1].v.p == &livr_layout_ok &&
             th->top[-2].tt == LIVR_TAG_INT && th->top[-2].v.i == LAYOUT_MAGIC;
        lua_pop(L, 2);
        ok = ok && (uintptr_t)th->top == top - 2 * sizeof(livr_tv);
    }
    livr_layout_ok = ok;
}

/* A value's identity for a mark: its address when collectable, else its bits. */
static uint64_t key_id(lua_State *L, int i)
{
    switch (lua_type(L, i)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, i))
            return (uint64_t)lua_tointeger(L, i);
        lua_Number n = lua_tonumber(L, i);
        uint64_t b;
        memcpy(&b, &n, sizeof b);
        return b ^ 0x8000000000000001u;
    case LUA_TBOOLEAN:
        return (uint64_t)lua_toboolean(L, i);
    case LUA_TLIGHTUSERDATA:
        return (uint64_t)(uintptr_t)lua_touserdata(L, i);
    default:
        return (uint64_t)(uintptr_t)lua_topointer(L, i);
    }
}

/* next(t [, k]), as the base library's, charged for the slots it may scan: from a key this
 * call's `next` returned for t, the scan goes on where that one stopped (a traversal scans
 * each slot once in all: 1 unit a step), while from nil or any other key it may cover the
 * whole table: 1 unit per LIVR_BYTES_PER_UNIT slots, before it runs. */
static int l_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    cr_lua_ivr *v = livr_of(L);
    lcall *c = v->cur;
    livr_next_mark *m = NULL;
    if (c) {
        const void *t = lua_topointer(L, 1);
        int kt = lua_type(L, 2);
        uint64_t id = kt == LUA_TNIL ? 0 : key_id(L, 2);
        for (int i = 0; kt != LUA_TNIL && i < LIVR_NEXT_MARKS; i++)
            if (c->next_at[i].t == t && c->next_at[i].ktype == kt && c->next_at[i].key == id)
                m = &c->next_at[i];
        livr_charge(L, m ? 1 : 1 + livr_table_slots(L, 1) / LIVR_BYTES_PER_UNIT);
        if (!m)
            m = &c->next_at[c->next_rr++ % LIVR_NEXT_MARKS];
        m->t = NULL;
    }
    if (!lua_next(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    if (m) {
        m->t = lua_topointer(L, 1);
        m->ktype = lua_type(L, -2);
        m->key = key_id(L, -2);
    }
    return 2;
}

static int pairs_k(lua_State *L, int status, lua_KContext k)
{
    (void)status, (void)k;
    return 3;
}

/* pairs(t): the base library's, with the charged `next` (upvalue 1) as its generator. */
static int l_pairs(lua_State *L)
{
    luaL_checkany(L, 1);
    if (luaL_getmetafield(L, 1, "__pairs") == LUA_TNIL) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_pushvalue(L, 1);
        lua_pushnil(L);
    } else {
        lua_pushvalue(L, 1);
        lua_callk(L, 1, 3, 0, pairs_k);
    }
    return 3;
}

/* ---- install ------------------------------------------------------------------------------ */

static void wrap_field(lua_State *L, int t, const char *name, lua_CFunction fn)
{
    lua_getfield(L, t, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, t, name);
}

void livr_limits_install(lua_State *L, int base, int str, int tab, int utf, int co)
{
    wrap_all(L, str, string_costs);
    wrap_all(L, utf, utf8_costs);
    wrap_all(L, base, base_costs);
    wrap_field(L, utf, "codes", utf8_codes);
    static const luaL_Reg tfns[] = {{"insert", tinsert}, {"remove", tremove}, {"move", tmove},
                                    {"concat", tconcat}, {"unpack", tunpack}, {NULL, NULL}};
    lua_pushvalue(L, tab);
    luaL_setfuncs(L, tfns, 0);
    lua_pop(L, 1);
    wrap_field(L, tab, "sort", tsort);
    wrap_field(L, co, "resume", co_resume);
    wrap_field(L, co, "wrap", co_wrap);
    if (livr_layout_ok < 0)
        check_layout(L);
    lua_pushcfunction(L, l_next);
    lua_pushvalue(L, -1);
    lua_setfield(L, base, "next");
    lua_pushcclosure(L, l_pairs, 1);
    lua_setfield(L, base, "pairs");
}

/* The call object and `rg`: fields, the final steps (queue, transfer, voicemail, hangup),
 * call:set, the primitives under the prelude (wait, priv) and the business-hours queries. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lua_int.h"

#define CALL_MT LIVR_CALL_MT

/* Raises a message without a position: the driver names the script line itself, and the
 * prelude's own lines mean nothing to a script's author. */
static int raise(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

/* The running call, when `self` (argument 1) is its call object; raises otherwise. */
static lcall *self_call(lua_State *L, const char *api)
{
    cr_lua_ivr *v = livr_of(L);
    void **box = luaL_testudata(L, 1, CALL_MT);
    if (!box || !*box || *box != v->cur)
        raise(L, "call:%s: use call:%s(...) on the script's own call", api, api);
    lcall *c = *box;
    if (L != c->co)
        raise(L, "call:%s: the call API cannot be used inside a coroutine of the script", api);
    return c;
}

/* Whether any of the 8 bytes of x is below 0x20, 0x7f, or (!spaces) a space: the word tests
 * of "Bit Twiddling Hacks" (hasless, haszero), exact for "any". */
static inline bool word_has_bad(uint64_t x, bool spaces)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t del = x ^ (ones * 0x7f), sp = x ^ (ones * ' ');
    uint64_t bad = ((x - ones * 0x20) & ~x) | ((del - ones) & ~del);
    if (!spaces)
        bad |= (sp - ones) & ~sp;
    return (bad & highs) != 0;
}

/* Copies a step argument; raises when it is empty (unless allowed), too long or holds
 * control characters or (when !spaces) white space. */
static void step_text(lua_State *L, char *dst, size_t cap, const char *src, const char *api,
                      const char *what, bool spaces)
{
    size_t n = strlen(src);
    if (n >= cap)
        raise(L, "call:%s: %s is too long (%d bytes at most)", api, what, (int)cap - 1);
    size_t i = 0;
    for (uint64_t w; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        if (word_has_bad(w, spaces))
            break;
    }
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch < 0x20 || ch == 0x7f || (!spaces && ch == ' '))
            raise(L, "call:%s: %s holds %s", api, what,
                  ch == ' ' ? "a space" : "a control character");
    }
    memcpy(dst, src, n + 1);
}

static void check_arg_string(lua_State *L, int i, const char *api, const char *what)
{
    if (lua_type(L, i) != LUA_TSTRING || lua_rawlen(L, i) == 0)
        raise(L, "call:%s: expects %s", api, what);
}

/* wait(op, arg, choices, timeout_ms) -> kind, text: hands a blocking step to the engine. */
static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    lcall *c = livr_of(L)->cur;
    lua_pushstring(L, c->in_kind);
    if (c->in_text)
        lua_pushstring(L, c->in_text);
    else
        lua_pushnil(L);
    return 2;
}

void livr_step_wait(lua_State *L, lcall *c, cr_rgs_ivr_op op, const char *api, const char *arg,
                    const char *choices, lua_Integer timer_ms)
{
    cr_rgs_ivr_step *st = c->step; /* the engine reads its texts up to their NUL */
    st->op = op;
    step_text(L, st->arg, sizeof st->arg, arg, api, "the prompt name", true);
    step_text(L, st->choices, sizeof st->choices, choices, api, "the choices", true);
    st->timer_ms = timer_ms;
    c->api_yield = true;
}

static int api_wait(lua_State *L)
{
    cr_lua_ivr *v = livr_of(L);
    lcall *c = v->cur;
    if (!c || L != c->co)
        return raise(L, "the call API cannot be used inside a coroutine of the script");
    const char *op = luaL_checkstring(L, 1), *arg = luaL_checkstring(L, 2);
    const char *choices = luaL_checkstring(L, 3);
    lua_Integer timer = luaL_checkinteger(L, 4);
    livr_step_wait(L, c,
                   strcmp(op, "play") == 0      ? CR_RGS_IVR_PLAY
                   : strcmp(op, "collect") == 0 ? CR_RGS_IVR_COLLECT
                                                : CR_RGS_IVR_WAIT,
                   op, arg, choices, timer);
    return lua_yieldk(L, 0, 0, wait_k);
}

static int api_priv(lua_State *L)
{
    lcall *c = self_call(L, luaL_checkstring(L, 2));
    c->ahead_none = c->spoken_none = false; /* the Lua API may change them */
    lua_getiuservalue(L, 1, 1);
    return 1;
}

/* Ends the script's part with a final step; the coroutine is never resumed. */
static int finish(lua_State *L, lcall *c, cr_rgs_ivr_op op, const char *arg, const char *api)
{
    cr_rgs_ivr_step *st = c->step;
    memset(st, 0, sizeof *st);
    st->op = op;
    step_text(L, st->arg, sizeof st->arg, arg, api, "the argument", op == CR_RGS_IVR_QUEUE);
    c->finished = true;
    c->api_yield = true;
    return lua_yield(L, 0);
}

static int api_queue(lua_State *L)
{
    lcall *c = self_call(L, "queue");
    const char *name = c->wf->queue_name;
    if (!lua_isnoneornil(L, 2)) {
        check_arg_string(L, 2, "queue", "a queue name");
        name = lua_tostring(L, 2);
    } else if (!name) {
        return raise(L, "call:queue: expects a queue name (the workflow has no queue)");
    }
    if (cr_rgs_config_queue_find(c->ivr->cfg, name) < 0)
        return raise(L, "call:queue: unknown queue '%s'", name);
    return finish(L, c, CR_RGS_IVR_QUEUE, name, "queue");
}

static int api_transfer(lua_State *L)
{
    lcall *c = self_call(L, "transfer");
    check_arg_string(L, 2, "transfer", "a SIP URI or a number");
    return finish(L, c, CR_RGS_IVR_TRANSFER, lua_tostring(L, 2), "transfer");
}

static int api_voicemail(lua_State *L)
{
    lcall *c = self_call(L, "voicemail");
    const char *uri = c->to;
    if (!lua_isnoneornil(L, 2)) {
        check_arg_string(L, 2, "voicemail", "a mailbox URI");
        uri = lua_tostring(L, 2);
    }
    return finish(L, c, CR_RGS_IVR_VOICEMAIL, uri, "voicemail");
}

static int api_hangup(lua_State *L)
{
    lcall *c = self_call(L, "hangup");
    const char *reason = "";
    if (!lua_isnoneornil(L, 2)) {
        check_arg_string(L, 2, "hangup", "a reason word");
        reason = lua_tostring(L, 2);
        for (const char *s = reason; *s; s++)
            if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
                !(*s >= '0' && *s <= '9') && *s != '_' && *s != '-' && *s != '.')
                return raise(L, "call:hangup: the reason must be one word (letters, "
                                "digits, _ - .)");
        if (strlen(reason) > 64)
            return raise(L, "call:hangup: the reason is too long");
    }
    return finish(L, c, CR_RGS_IVR_HANGUP, reason, "hangup");
}

/* call:set(key, value): context for the agent, passed to the host at once. */
static int api_set(lua_State *L)
{
    lcall *c = self_call(L, "set");
    size_t kl;
    const char *key = luaL_checklstring(L, 2, &kl);
    bool ok = kl > 0 && kl <= 64 && !(key[0] >= '0' && key[0] <= '9');
    for (size_t i = 0; ok && i < kl; i++)
        ok = (key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
             (key[i] >= '0' && key[i] <= '9') || key[i] == '_' || key[i] == '.' || key[i] == '-';
    if (!ok)
        return raise(L, "call:set: key '%s' is not a name (letters, digits, _ . -)", key);
    int t = lua_type(L, 3);
    if (t == LUA_TNONE)
        t = LUA_TNIL;
    if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN && t != LUA_TNIL)
        return raise(L, "call:set: the value must be a string, number, boolean or nil");
    char val[512];
    size_t n = 0;
    const char *s = t == LUA_TNIL ? "" : luaL_tolstring(L, 3, NULL);
    for (; *s; s++) {
        if (n + 1 >= sizeof val)
            return raise(L, "call:set: the value is too long (%d bytes at most)",
                         (int)sizeof val - 1);
        val[n++] = (unsigned char)*s < 0x20 ? ' ' : *s;
    }
    val[n] = 0;
    cr_lua_ivr *v = c->ivr;
    if (v->opt.set)
        v->opt.set(v->opt.set_ud, c->now_ms, c->id, key, val);
    return 0;
}

/* The call object's fields: the __index of its methods table (the object's __index), so a
 * method costs a table look-up, not a C call. A call object is only reached by its own
 * call's script (each call has its own environment), so the running call is its call. */
static int call_field(lua_State *L)
{
    lcall *c = livr_of(L)->cur;
    const char *k = lua_tostring(L, 2);
    if (c && k && lua_type(L, 2) == LUA_TSTRING) {
        const char *s = NULL;
        if (strcmp(k, "id") == 0)
            s = c->id;
        else if (strcmp(k, "from") == 0)
            s = c->from;
        else if (strcmp(k, "to") == 0)
            s = c->to;
        else if (strcmp(k, "language") == 0)
            s = c->wf->language;
        else if (strcmp(k, "workflow") == 0)
            s = c->wf->name;
        if (s || strcmp(k, "language") == 0) {
            lua_pushstring(L, s);
            return 1;
        }
    }
    return raise(L, "unknown call field or method '%s'", k ? k : luaL_typename(L, 2));
}

static int call_newindex(lua_State *L)
{
    return raise(L, "the call object is read-only (use call:set for agent context)");
}

static int call_tostring(lua_State *L)
{
    void **box = lua_touserdata(L, 1);
    lcall *c = box ? *box : NULL;
    lua_pushfstring(L, "call %s", c ? c->id : "(ended)");
    return 1;
}

void livr_call_push(lua_State *L, lcall *c)
{
    void **box = lua_newuserdatauv(L, sizeof *box, 1);
    *box = c;
    c->box = box;
    luaL_setmetatable(L, CALL_MT);
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "ahead");
    lua_setiuservalue(L, -2, 1);
    c->ahead_none = c->spoken_none = true;
}

/* ---- rg ------------------------------------------------------------------------------------ */

static lcall *rg_call(lua_State *L, const char *fn)
{
    lcall *c = livr_of(L)->cur;
    if (!c)
        raise(L, "rg.%s: only while a call runs", fn);
    return c;
}

/* rg.is_open([hours set]): the named set (in its own zone, else the workflow's, as the
 * engine reads a workflow's hours), or the workflow's hours. */
static int rg_is_open(lua_State *L)
{
    lcall *c = rg_call(L, "is_open");
    const cr_rgs_config *cfg = c->ivr->cfg;
    cr_rgs_workflow w = *c->wf;
    w.holidays = -1;
    if (!lua_isnoneornil(L, 1)) {
        const char *name = luaL_checkstring(L, 1);
        w.hours = -1;
        for (size_t i = 0; i < cfg->nhours; i++)
            if (strcmp(cfg->hours[i].name, name) == 0)
                w.hours = (long)i;
        if (w.hours < 0)
            return raise(L, "rg.is_open: unknown hours set '%s'", name);
    }
    lua_pushboolean(L, cr_rgs_workflow_state(cfg, &w, c->unix_ms) == CR_RGS_OPEN);
    return 1;
}

/* rg.is_holiday([holiday set]): in the workflow's zone; the workflow's set by default. */
static int rg_is_holiday(lua_State *L)
{
    lcall *c = rg_call(L, "is_holiday");
    const cr_rgs_config *cfg = c->ivr->cfg;
    cr_rgs_workflow w = *c->wf;
    w.hours = -1;
    if (!lua_isnoneornil(L, 1)) {
        const char *name = luaL_checkstring(L, 1);
        w.holidays = -1;
        for (size_t i = 0; i < cfg->nholidays; i++)
            if (strcmp(cfg->holidays[i].name, name) == 0)
                w.holidays = (long)i;
        if (w.holidays < 0)
            return raise(L, "rg.is_holiday: unknown holiday set '%s'", name);
    }
    lua_pushboolean(L, cr_rgs_workflow_state(cfg, &w, c->unix_ms) == CR_RGS_HOLIDAY);
    return 1;
}

/* rg.now(): engine wall-clock time in Unix seconds (with milliseconds). */
static int rg_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)rg_call(L, "now")->unix_ms / 1000.0);
    return 1;
}

static int rg_newindex(lua_State *L)
{
    return raise(L, "attempt to modify a read-only table");
}

static int rg_index(lua_State *L)
{
    return raise(L, "unknown rg function '%s'", luaL_tolstring(L, 2, NULL));
}

void livr_api_register(lua_State *L, int base)
{
    static const luaL_Reg cmethods[] = {
        {"queue", api_queue},   {"transfer", api_transfer}, {"voicemail", api_voicemail},
        {"hangup", api_hangup}, {"set", api_set},           {NULL, NULL}};
    lua_newtable(L);
    int methods = lua_gettop(L);
    luaL_setfuncs(L, cmethods, 0);
    if (luaL_loadbufferx(L, livr_prelude, livr_prelude_len, "=callapi", "t") != LUA_OK)
        lua_error(L);
    lua_pushvalue(L, base);
    lua_setupvalue(L, -2, 1);
    lua_pushcfunction(L, api_wait);
    lua_pushcfunction(L, api_priv);
    lua_call(L, 2, 2);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, methods);
    }
    livr_ask_register(L, methods, lua_gettop(L));
    lua_pop(L, 2);

    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, call_field);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, methods);
    luaL_newmetatable(L, CALL_MT);
    lua_pushvalue(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, call_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, call_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    /* rg: a table whose unknown names raise, behind a locked metatable. */
    static const luaL_Reg rg[] = {
        {"is_open", rg_is_open}, {"is_holiday", rg_is_holiday}, {"now", rg_now}, {NULL, NULL}};
    lua_newtable(L);
    lua_newtable(L);
    luaL_setfuncs(L, rg, 0);
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, rg_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, rg_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setmetatable(L, -2);
    lua_setfield(L, base, "rg");
}

/* The driver: scripts (compile, reload), one coroutine per call, resumes, and the fallback
 * of a call whose script failed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lua_int.h"

#define SCRIPT_MAX (1u << 20) /* bytes of one script file */

void livr_logf(cr_lua_ivr *v, const char *fmt, ...)
{
    if (!v->opt.log)
        return;
    char line[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    v->opt.log(v->opt.log_ud, v->now_ms, line);
}

int livr_script_line(lcall *c, lua_State *L)
{
    const char *chunk = c->ivr->scripts[c->script].chunkname;
    lua_Debug ar;
    for (int level = 0; lua_getstack(L, level, &ar); level++)
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 && strcmp(ar.source, chunk) == 0)
            return ar.currentline;
    return 0;
}

/* Splits "name:12: message" into 12 and "message" (line 0 when there is no such prefix),
 * and copies the message with quotes and control characters replaced. */
static int split_msg(const char *msg, char *out, size_t cap)
{
    int line = 0;
    const char *colon = strchr(msg, ':');
    if (colon && colon[1] >= '0' && colon[1] <= '9') {
        const char *p = colon + 1;
        int n = 0;
        while (*p >= '0' && *p <= '9')
            n = n * 10 + (*p++ - '0');
        if (p[0] == ':' && p[1] == ' ')
            line = n, msg = p + 2;
    }
    size_t k = 0;
    for (; *msg && k + 1 < cap; msg++)
        out[k++] = (*msg == '"' || (unsigned char)*msg < 0x20) ? '\'' : *msg;
    out[k] = 0;
    return line;
}

/* ---- scripts ------------------------------------------------------------------------------- */

typedef struct compile_job {
    lscript *s;
    const char *src;
    size_t len;
} compile_job;

/* The script becomes the body of a function of (_ENV, call): compiled once, it runs with a
 * fresh environment per call. The prefix adds no line, so line numbers stay the file's. */
static int compile_fn(lua_State *L)
{
    compile_job *j = lua_touserdata(L, 1);
    if (luaL_loadbufferx(L, j->src, j->len, j->s->chunkname, "t") != LUA_OK)
        return lua_error(L);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (j->s->ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, j->s->ref);
    j->s->ref = ref;
    return 0;
}

static char *read_script(const char *path, size_t *len, char *err, size_t errlen)
{
    static const char prefix[] = "local _ENV, call = ...; ";
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(sizeof prefix + 2 + SCRIPT_MAX + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t p = sizeof prefix - 1;
    memcpy(buf, prefix, p);
    size_t n = fread(buf + p + 2, 1, SCRIPT_MAX + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || n > SCRIPT_MAX) {
        snprintf(err, errlen, bad ? "cannot read" : "larger than %u bytes", SCRIPT_MAX);
        free(buf);
        return NULL;
    }
    /* As lua's own loader: a UTF-8 byte order mark is skipped (editors on Windows write
     * one), a "#!" first line becomes a comment, a precompiled chunk is refused. */
    char *text = buf + p + 2;
    if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, n -= 3;
    if (n && text[0] == LUA_SIGNATURE[0]) {
        snprintf(err, errlen, "a precompiled (binary) chunk: only Lua source text is allowed");
        free(buf);
        return NULL;
    }
    if (n && text[0] == '#')
        text -= 2, n += 2, memcpy(text, "--", 2);
    memmove(buf + p, text, n);
    *len = p + n;
    return buf;
}

/* (Re)compiles `s` when its file changed (always when `force`). 0 when it has a usable
 * chunk that is current, -1 on a read or compile error (logged; an older chunk is kept). */
static int script_load(cr_lua_ivr *v, lscript *s, bool force)
{
    const char *name = s->chunkname + 1;
    struct stat st;
    if (stat(s->path, &st) != 0) {
        char was[sizeof s->err];
        memcpy(was, s->err, sizeof was);
        snprintf(s->err, sizeof s->err, "cannot open: %s", strerror(errno));
        s->err_line = 0;
        if (!force && !s->stat_ok && strcmp(was, s->err) == 0)
            return -1; /* still missing: logged already */
        livr_logf(v, "ivr_load_error script=%s error=\"%s\"%s", name, s->err,
                  s->ref != LUA_NOREF ? " kept=previous" : "");
        s->stat_ok = false;
        return -1;
    }
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (!force && s->stat_ok && mt == s->mtime_ns && st.st_size == s->size && st.st_ino == s->ino)
        return s->ref != LUA_NOREF && !s->err[0] ? 0 : -1;
    s->stat_ok = true, s->mtime_ns = mt, s->size = st.st_size, s->ino = st.st_ino;
    bool reload = s->ref != LUA_NOREF;
    compile_job j = {s, NULL, 0};
    char err[480];
    if (!(j.src = read_script(s->path, &j.len, err, sizeof err))) {
        snprintf(s->err, sizeof s->err, "%s", err);
        s->err_line = 0;
        livr_logf(v, "ivr_load_error script=%s error=\"%s\"%s", name, s->err,
                  reload ? " kept=previous" : "");
        return -1;
    }
    lua_pushcfunction(v->L, compile_fn);
    lua_pushlightuserdata(v->L, &j);
    int rc = lua_pcall(v->L, 1, 0, 0);
    free((void *)j.src);
    if (rc != LUA_OK) {
        const char *m = lua_type(v->L, -1) == LUA_TSTRING ? lua_tostring(v->L, -1) : "?";
        int line = split_msg(m, err, sizeof err);
        snprintf(s->err, sizeof s->err, "%s", err);
        s->err_line = line;
        livr_logf(v, "ivr_load_error script=%s line=%d error=\"%s\"%s", name, line, err,
                  reload ? " kept=previous" : "");
        lua_pop(v->L, 1);
        return -1;
    }
    s->err[0] = 0;
    s->err_line = 0;
    if (reload)
        livr_logf(v, "ivr_reload script=%s", name);
    return 0;
}

static long script_add(cr_lua_ivr *v, const char *path)
{
    for (size_t i = 0; i < v->nscripts; i++)
        if (strcmp(v->scripts[i].path, path) == 0)
            return (long)i;
    lscript *p = realloc(v->scripts, (v->nscripts + 1) * sizeof *p);
    if (!p)
        return -1;
    v->scripts = p;
    lscript *s = &p[v->nscripts];
    memset(s, 0, sizeof *s);
    s->ref = LUA_NOREF;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    s->path = strdup(path);
    s->chunkname = malloc(strlen(base) + 2);
    if (!s->path || !s->chunkname) {
        free(s->path), free(s->chunkname);
        return -1;
    }
    s->chunkname[0] = '@';
    strcpy(s->chunkname + 1, base);
    return (long)v->nscripts++;
}

/* ---- calls --------------------------------------------------------------------------------- */

/* Ends the call in the workflow's fallback (its queue, else hangup ivr_error), logged. */
static int fallback(cr_lua_ivr *v, lcall *c, int line, const char *msg)
{
    cr_rgs_ivr_step *st = c->step;
    memset(st, 0, sizeof *st);
    const char *q = c->wf->queue_name;
    if (q && cr_rgs_config_queue_find(v->cfg, q) >= 0 && strlen(q) < sizeof st->arg) {
        st->op = CR_RGS_IVR_QUEUE;
        strcpy(st->arg, q);
    } else {
        st->op = CR_RGS_IVR_HANGUP;
        strcpy(st->arg, "ivr_error");
    }
    char clean[768], act[CR_URI_MAX + 16];
    int l2 = split_msg(msg, clean, sizeof clean);
    const char *script = c->script >= 0 ? v->scripts[c->script].chunkname + 1 : "-";
    snprintf(act, sizeof act, "%s %s", st->op == CR_RGS_IVR_QUEUE ? "queue" : "hangup", st->arg);
    livr_logf(v, "ivr_error call=%s workflow=\"%s\" script=%s line=%d error=\"%s\" fallback=\"%s\"",
              c->id, c->wf->name, script, line ? line : l2, clean, act);
    v->errors++;
    c->finished = true;
    return 0;
}

/* Resumes the call's coroutine and turns what it did into the engine's step. */
static int resume(cr_lua_ivr *v, lcall *c, int nargs)
{
    lua_State *co = c->co;
    v->cur = c;
    v->running = NULL;
    v->mark = v->mem;
    v->steps++;
    c->api_yield = false;
    int nres = 0;
    c->resumed_ns = livr_clock_ns(v);
    int st = lua_resume(co, v->L, nargs, &nres);
    v->cur = NULL;
    if (st == LUA_YIELD) {
        lua_pop(co, nres);
        if (c->api_yield)
            return 0;
        return fallback(v, c, livr_script_line(c, co),
                        "coroutine.yield outside the call API (the script's own coroutine "
                        "belongs to the engine)");
    }
    if (st == LUA_OK) { /* the script ended without a final step */
        memset(c->step, 0, sizeof *c->step);
        c->step->op = CR_RGS_IVR_HANGUP;
        c->finished = true;
        return 0;
    }
    char msg[640];
    c->collect = st == LUA_ERRMEM;
    if (c->timed_out)
        snprintf(msg, sizeof msg, "time limit exceeded (%u ms)", (unsigned)v->opt.time_limit_ms);
    else if (c->exhausted) /* whatever the error object, once the budget is gone */
        snprintf(msg, sizeof msg, "instruction budget exceeded (%llu instructions)",
                 (unsigned long long)v->opt.budget);
    else if (st == LUA_ERRMEM && c->too_long)
        snprintf(msg, sizeof msg, "memory limit exceeded (one string over %u bytes)",
                 LIVR_STRING_MAX);
    else if (st == LUA_ERRMEM && c->too_big)
        snprintf(msg, sizeof msg, "memory limit exceeded (one object over %u bytes)",
                 LIVR_OBJECT_MAX);
    else if (st == LUA_ERRMEM)
        snprintf(msg, sizeof msg, "memory limit exceeded (%zu bytes per resume, %zu per state)",
                 v->call_limit, v->limit);
    else if (lua_type(co, -1) == LUA_TSTRING)
        snprintf(msg, sizeof msg, "%s", lua_tostring(co, -1));
    else
        snprintf(msg, sizeof msg, "(error object is a %s value)", luaL_typename(co, -1));
    return fallback(v, c, livr_script_line(c, co), msg);
}

/* Creates the call's coroutine with the chunk, a fresh environment and the call object on
 * its stack (under lua_pcall: any of it may run out of memory). */
static int setup_fn(lua_State *L)
{
    lcall *c = lua_touserdata(L, 1);
    lua_State *co = lua_newthread(L);
    c->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    c->co = co;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ivr->scripts[c->script].ref);
    livr_env_new(L);
    lua_pushvalue(L, -1);
    c->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    livr_call_push(L, c);
    lua_xmove(L, co, 3);
    return 0;
}

static int drv_start(void *ud, const cr_rgs_ivr_call *call, void **state, cr_rgs_ivr_step *step)
{
    cr_lua_ivr *v = ud;
    lcall *c = calloc(1, sizeof *c);
    if (!c)
        return CR_ENOMEM;
    c->ivr = v;
    c->id = call->call_id, c->from = call->from, c->to = call->to;
    c->wf = call->workflow;
    c->now_ms = v->now_ms = call->now_ms;
    c->unix_ms = call->unix_ms;
    c->co_ref = c->env_ref = LUA_NOREF;
    c->budget = v->opt.budget;
    c->step = step;
    long wi = c->wf - v->cfg->workflows;
    c->script = wi >= 0 && (size_t)wi < v->cfg->nworkflows ? v->wf_script[wi] : -1;
    *state = c;
    v->calls++;
    if (c->script < 0)
        return fallback(v, c, 0, "the workflow has no script");
    lscript *s = &v->scripts[c->script];
    if (v->opt.check_mtime)
        script_load(v, s, false);
    if (s->ref == LUA_NOREF) {
        char msg[600];
        snprintf(msg, sizeof msg, "script not loaded: %s", s->err);
        return fallback(v, c, s->err_line, msg);
    }
    lua_pushcfunction(v->L, setup_fn);
    lua_pushlightuserdata(v->L, c);
    if (lua_pcall(v->L, 1, 0, 0) != LUA_OK) {
        lua_pop(v->L, 1);
        return fallback(v, c, 0, "memory limit exceeded while starting the call");
    }
    return resume(v, c, 2);
}

static const char *const input_kinds[] = {"prompt_done", "dtmf", "speech", "timer"};

static int drv_input(void *ud, void *state, cr_rgs_ivr_input_kind kind, const char *text,
                     int64_t now_ms, int64_t unix_ms, cr_rgs_ivr_step *step)
{
    cr_lua_ivr *v = ud;
    lcall *c = state;
    c->step = step;
    c->now_ms = v->now_ms = now_ms;
    c->unix_ms = unix_ms;
    if (c->finished || !c->co || (unsigned)kind > CR_RGS_IVR_IN_TIMER)
        return CR_ESTATE;
    c->in_kind = input_kinds[kind];
    c->in_text = text;
    return resume(v, c, 0);
}

static void drv_end(void *ud, void *state)
{
    cr_lua_ivr *v = ud;
    lcall *c = state;
    if (c->box)
        *c->box = NULL;
    luaL_unref(v->L, LUA_REGISTRYINDEX, c->co_ref);
    luaL_unref(v->L, LUA_REGISTRYINDEX, c->env_ref);
    if (c->collect) /* a memory bomb's garbage goes now, not at the next cycle */
        lua_gc(v->L, LUA_GCCOLLECT);
    v->calls--;
    free(c);
}

/* ---- the driver ---------------------------------------------------------------------------- */

/* An error outside every protected call (a bug of ours: the state cannot go on): said in the
 * host's log when it has one (a Kamailio worker's stderr may go nowhere), then abort. */
static int panic(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    cr_lua_ivr *v = ud;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    if (v && v->opt.log)
        livr_logf(v, "ivr_panic error=\"%.500s\"", msg);
    else
        fprintf(stderr, "callroute: unprotected Lua error: %s\n", msg);
    abort();
}

int cr_lua_ivr_open(const cr_rgs_config *cfg, const cr_lua_options *opt, cr_lua_ivr **out,
                    char *err, size_t errlen)
{
    char dummy[4];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    if (!out || !cfg || !cfg->resolved) {
        snprintf(err, errlen, "lua: the configuration is not resolved");
        return CR_EINVAL;
    }
    *out = NULL;
    cr_lua_ivr *v = calloc(1, sizeof *v);
    if (!v || !(v->wf_script = malloc((cfg->nworkflows + 1) * sizeof *v->wf_script))) {
        free(v);
        snprintf(err, errlen, "out of memory");
        return CR_ENOMEM;
    }
    v->cfg = cfg;
    if (opt)
        v->opt = *opt;
    v->limit = v->opt.memory_limit ? v->opt.memory_limit : CR_LUA_MEMORY_DEFAULT;
    v->call_limit =
        v->opt.call_memory_limit ? v->opt.call_memory_limit : CR_LUA_CALL_MEMORY_DEFAULT;
    if (!v->opt.budget)
        v->opt.budget = CR_LUA_BUDGET_DEFAULT;
    if (!v->opt.time_limit_ms)
        v->opt.time_limit_ms = CR_LUA_TIME_DEFAULT_MS;
    livr_clock_pick(v);
    v->drv = (cr_rgs_ivr_driver){v, drv_start, drv_input, drv_end};
    const char *why = NULL;
    if (cl_lua_load(&why) != 0) {
        cr_lua_ivr_close(v);
        snprintf(err, errlen, "Lua: %s", why);
        return CR_EIO;
    }
    if (!(v->L = lua_newstate(livr_alloc, v))) {
        cr_lua_ivr_close(v);
        snprintf(err, errlen, "out of memory");
        return CR_ENOMEM;
    }
    lua_atpanic(v->L, panic);
    lua_pushcfunction(v->L, livr_sandbox_build);
    if (lua_pcall(v->L, 0, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "lua: %s", lua_tostring(v->L, -1));
        cr_lua_ivr_close(v);
        return CR_ENOMEM;
    }
    lua_sethook(v->L, livr_hook, LUA_MASKCOUNT, LIVR_HOOK_EVERY);
    lua_gc(v->L, LUA_GCGEN, 0, 0);
    for (size_t i = 0; i < cfg->nworkflows; i++) {
        const cr_rgs_workflow *wf = &cfg->workflows[i];
        v->wf_script[i] = -1;
        if (wf->type != CR_RGS_IVR || !wf->script)
            continue;
        long s = script_add(v, wf->script);
        if (s < 0) {
            cr_lua_ivr_close(v);
            snprintf(err, errlen, "out of memory");
            return CR_ENOMEM;
        }
        v->wf_script[i] = s;
    }
    for (size_t i = 0; i < v->nscripts; i++)
        script_load(v, &v->scripts[i], true);
    *out = v;
    return CR_OK;
}

const cr_rgs_ivr_driver *cr_lua_ivr_driver(cr_lua_ivr *v)
{
    return v ? &v->drv : NULL;
}

int cr_lua_ivr_reload(cr_lua_ivr *v, bool force, int64_t now_ms)
{
    int failed = 0;
    v->now_ms = now_ms;
    for (size_t i = 0; i < v->nscripts; i++)
        failed += script_load(v, &v->scripts[i], force) < 0;
    return failed;
}

void cr_lua_ivr_stats(const cr_lua_ivr *v, cr_lua_stats *out)
{
    memset(out, 0, sizeof *out);
    out->scripts = v->nscripts;
    for (size_t i = 0; i < v->nscripts; i++)
        out->scripts_ok += v->scripts[i].ref != LUA_NOREF;
    out->calls = v->calls;
    out->memory = v->mem, out->memory_peak = v->peak;
    out->steps = v->steps, out->errors = v->errors;
    out->asks_in_place = v->asks_in_place;
    out->work = v->work;
}

void cr_lua_ivr_close(cr_lua_ivr *v)
{
    if (!v)
        return;
    if (v->L)
        lua_close(v->L);
    livr_spare_free(v);
    for (size_t i = 0; i < v->nscripts; i++)
        free(v->scripts[i].path), free(v->scripts[i].chunkname);
    free(v->scripts);
    free(v->wf_script);
    free(v);
}

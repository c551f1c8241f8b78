/* Internals of the Lua IVR driver, shared by the files of lua/. */
#ifndef CR_LUA_INT_H
#define CR_LUA_INT_H

#include <lauxlib.h>
#include <lua.h>
#include <sys/types.h>

#include "cr_lua.h"

#define LIVR_HOOK_EVERY 1000 /* instructions between two budget checks */
#define LIVR_PRINT_MAX  100  /* print lines logged per call */

/* One script file. Its compiled chunk stays in the registry at `ref`; a reload replaces the
 * ref, and calls in progress keep the old chunk alive on their coroutine's stack. */
typedef struct lscript {
    char *path;
    char *chunkname; /* "@" + file name: what error messages and tracebacks show */
    int ref;         /* LUA_NOREF when it never compiled */
    char err[512];   /* last read or compile error, "" when none */
    int err_line;    /* its line, 0 when none */
    bool stat_ok;
    int64_t mtime_ns;
    off_t size;
    ino_t ino;
} lscript;

/* What a call waits for after a blocking step, handed to the resumed coroutine. */
typedef struct lcall {
    cr_lua_ivr *ivr;
    lua_State *co;
    int co_ref, env_ref;
    void **box; /* the call object's userdata (points back here; NULLed at end) */
    const char *id, *from, *to;
    const cr_rgs_workflow *wf;
    long script;
    uint64_t budget; /* instructions left */
    bool exhausted;  /* budget gone: every hook raises again */
    bool api_yield;  /* the last yield came from the call API */
    bool finished;   /* a final step was given */
    bool collect;    /* ran out of memory: collect the garbage when it ends */
    int prints;
    cr_rgs_ivr_step *step; /* the engine's, during a resume */
    int64_t now_ms, unix_ms;
    const char *in_kind, *in_text; /* the input being delivered */
} lcall;

struct cr_lua_ivr {
    lua_State *L;
    const cr_rgs_config *cfg;
    cr_lua_options opt;
    cr_rgs_ivr_driver drv;
    size_t mem, peak, limit, call_limit, mark;
    lcall *cur; /* the call being resumed, or NULL */
    lscript *scripts;
    size_t nscripts;
    long *wf_script; /* per workflow: index into scripts, or -1 */
    size_t calls;
    uint64_t steps, errors;
    int64_t now_ms; /* engine time of the last driver call, for log lines */
};

/* lua_sandbox.c */
void *livr_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
void livr_hook(lua_State *L, lua_Debug *ar);
/* Builds the read-only base, the per-call environment metatable and the locked string
 * metatable (a lua_CFunction: run it under lua_pcall). */
int livr_sandbox_build(lua_State *L);
/* Pushes a new per-call environment (a table over the base). Raises on memory. */
void livr_env_new(lua_State *L);

/* lua_api.c */
/* Registers the call object's metatable and methods and the `rg` table into the base at
 * the top of the stack (a lua_CFunction's helper; raises on memory). */
void livr_api_register(lua_State *L, int base);
/* Pushes the call object of `c`. */
void livr_call_push(lua_State *L, lcall *c);
extern const char livr_prelude[];
extern const size_t livr_prelude_len;

/* lua_ivr.c */
static inline cr_lua_ivr *livr_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}
void livr_logf(cr_lua_ivr *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The script line a call is at (innermost frame of its own script), or 0. */
int livr_script_line(lcall *c, lua_State *L);

#endif

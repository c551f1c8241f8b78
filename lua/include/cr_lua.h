/*
 * Lua 5.4 IVR scripts for the Response Group engine: an implementation of cr_rgs_ivr_driver
 * (workflows/cr_rgs.h).
 *
 * One cr_lua_ivr owns one lua_State and serves one engine; every IVR call runs its
 * workflow's script in its own coroutine. A blocking call API (call:play, call:ask,
 * call:collect) yields to the engine with a step and resumes on the matching input or
 * timer; a final one (call:queue, call:transfer, call:voicemail, call:hangup) ends the
 * script's part. Scripts are compiled once, when the driver opens or reloads; a call keeps
 * the compiled chunk it started with until it ends.
 *
 * Sandbox: a script sees its own global table (per call) over a read-only base: the safe
 * parts of the base library, string (without dump), table, math, utf8, coroutine, os.time /
 * os.date / os.clock / os.difftime (os.time and os.date default to engine time), `load` for
 * text chunks only, `collectgarbage("count")`, `print` (to the log) and `rg`. Library tables
 * and the string metatable are locked; `__gc` metamethods are refused. Each call has an
 * instruction budget (a count hook), which library functions running in C are charged too,
 * per unit of their work (string.rep's count, table.move's range, each step of the pattern
 * matcher, the table slots `next` may scan, 1 per 16 bytes allocated); each resume has a
 * memory growth limit, one object (table part, stack) may not exceed 1 MiB and one string
 * 16 KiB (which bounds a string comparison); the whole state has a memory cap (its
 * allocator refuses past it). A wall-clock limit per resume backs the budget up. A script error, an
 * exhausted budget, memory, or a misuse of the API ends the call in the fallback: the workflow's
 * queue when it has one, else "hangup ivr_error"; a log line names the call, script, line and
 * error.
 *
 * Not thread-safe: like the engine, one driver is used by one thread at a time.
 */
#ifndef CR_LUA_H
#define CR_LUA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_rgs.h"

#define CR_LUA_MEMORY_DEFAULT      (128u << 20) /* bytes, whole state */
#define CR_LUA_CALL_MEMORY_DEFAULT (16u << 20)  /* bytes a call may grow by in one resume */
#define CR_LUA_BUDGET_DEFAULT      1000000u     /* VM instructions (or units of work) per call */
#define CR_LUA_TIME_DEFAULT_MS     3000u        /* wall-clock ms one resume may run */

/* A log line (no newline), "<event> key=value ...": ivr_error, ivr_print, ivr_reload,
 * ivr_load_error, ivr_panic (then the process aborts). Valid during the call only. */
typedef void (*cr_lua_log_fn)(void *ud, int64_t now_ms, const char *line);
/* call:set(key, value): context for the agent, passed on as it is set. */
typedef void (*cr_lua_set_fn)(void *ud, int64_t now_ms, const char *call_id, const char *key,
                              const char *value);

typedef struct cr_lua_options {
    size_t memory_limit;      /* 0 = CR_LUA_MEMORY_DEFAULT */
    size_t call_memory_limit; /* 0 = CR_LUA_CALL_MEMORY_DEFAULT */
    uint64_t budget;          /* instructions per call; 0 = CR_LUA_BUDGET_DEFAULT */
    bool check_mtime;         /* stat the script at each new call; recompile when changed */
    cr_lua_log_fn log;        /* may be NULL */
    void *log_ud;
    cr_lua_set_fn set; /* may be NULL (call:set is then a no-op) */
    void *set_ud;
    /* Wall-clock time one resume of a call's script may run (from the engine's event to the
     * script's next step; checked with the budget, every 1,000 instructions); 0 =
     * CR_LUA_TIME_DEFAULT_MS. A last resort behind the budget: of what one VM
     * instruction may cost beyond the hook's sight, `next`'s scans are charged and string
     * comparisons are bounded by the 16 KiB string cap, so no known script reaches it
     * first. */
    uint32_t time_limit_ms;
} cr_lua_options;

typedef struct cr_lua_ivr cr_lua_ivr;

/*
 * Creates the Lua state and compiles the script of every IVR workflow of `cfg` (resolved;
 * borrowed: it must outlive the driver). A script that cannot be read or compiled is logged
 * (ivr_load_error) and its workflow's calls go to the fallback; it does not fail the open.
 * Returns CR_OK, CR_EINVAL (config not resolved) or CR_ENOMEM (message in err). Free with
 * cr_lua_ivr_close, after the engine that uses it.
 */
int cr_lua_ivr_open(const cr_rgs_config *cfg, const cr_lua_options *opt, cr_lua_ivr **out,
                    char *err, size_t errlen);

/* The driver to put in cr_rgs_engine_options.ivr; owned by `ivr`. */
const cr_rgs_ivr_driver *cr_lua_ivr_driver(cr_lua_ivr *ivr);

/*
 * Recompiles every script whose file changed (all of them when `force`). New calls use the
 * new version; calls in progress finish on the one they started with. A script that no
 * longer compiles keeps its previous version (logged). Returns the number of scripts that
 * failed, or CR_ENOMEM.
 */
int cr_lua_ivr_reload(cr_lua_ivr *ivr, bool force, int64_t now_ms);

typedef struct cr_lua_stats {
    size_t scripts, scripts_ok; /* distinct scripts; those with a compiled chunk */
    size_t calls;               /* calls running a script now */
    size_t memory, memory_peak; /* bytes of the Lua state */
    uint64_t steps, errors;     /* resumes; calls that ended in the fallback */
    uint64_t work;              /* budget units charged to calls, all of them together */
    uint64_t asks_in_place;     /* call:ask questions whose options were read in place */
} cr_lua_stats;

void cr_lua_ivr_stats(const cr_lua_ivr *ivr, cr_lua_stats *out);

/* Ends every call's coroutine and frees the state. NULL is ignored. */
void cr_lua_ivr_close(cr_lua_ivr *ivr);

#endif

/*
 * `callroute bench`: decisions timed on the engine directly (no ABI or result overhead), the
 * compiled index against the naive scan in the same run, optional reloads while worker
 * threads decide (the hitless-reload check).
 *
 * Not part of libcallroute.so (its cr_plugin.bench is NULL): the bench is libcallroute-bench.so,
 * the library's own sources (plugin-api/lib) with its engine, rules, workflows and Lua
 * libraries built again with the code of this folder, a shared library like libcallroute.so,
 * which `callroute bench` loads with dlopen. It exports one symbol, crb_plugin. It measures
 * the same decision functions, compiled and linked the same way, as libcallroute.so runs.
 */
#ifndef CRB_BENCH_H
#define CRB_BENCH_H

#include "callroute.h"

#define CRB_PLUGIN_SYMBOL "crb_plugin"
typedef const cr_plugin *(*crb_plugin_fn)(void);

/*
 * The bench library, as a plugin table: the members of cr_plugin_entry's
 * table plus `bench`. Results of `bench` are read and freed through this table's result_*
 * members (never through another library's). The table is static: never NULL, never freed.
 * Call it from one thread first (it fills the table on the first call).
 *
 * bench(args, nargs, &out, err, errlen) takes "key=value" strings:
 *   config=FILE                 the configuration to load (XML), or
 *   generate=routes=N,rules=M,users=U   a synthetic plan written as XML and loaded;
 *   save=FILE                   where to write the generated plan (kept; default: a
 *                               temporary file, removed) and its numbers (FILE.numbers);
 *   numbers=FILE                dialed numbers, one a line ("NUMBER" or "FROM-URI NUMBER");
 *                               default: numbers generated for the plan;
 *   seconds=S                   length of each timed phase (default 2);
 *   reload_ms=MS                reload every MS milliseconds while `threads` threads decide
 *                               through the handle (snapshots), counting blocks, failures
 *                               and decisions that mix two configurations;
 *   reloads=K                   stop the reload phase after K reloads;
 *   threads=T                   threads of the reload phase (default 2);
 *   seed=X                      generator seed.
 * On success it returns 0 and a result (type "bench") with decisions_per_sec, p50_ns, p99_ns,
 * naive_p50_ns, speedup, load_ms, rss_bytes, routes, rules, users and more; the caller frees
 * it with result_free. On failure it returns a CR_E* code with a message in err (NUL-terminated
 * within errlen) and *out stays NULL.
 */
CR_API const cr_plugin *crb_plugin(void);

#endif

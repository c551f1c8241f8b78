/*
 * `callroute bench` inside the library: decisions timed on the engine directly (no ABI or
 * result overhead), the compiled index against the naive scan in the same run, optional
 * reloads while worker threads decide (the hitless-reload check).
 */
#ifndef CRP_BENCH_H
#define CRP_BENCH_H

#include "callroute.h"

/*
 * The cr_plugin.bench entry. `args` are "key=value" strings:
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
 * On success returns 0 and a result (type "bench") with decisions_per_sec, p50_ns, p99_ns,
 * naive_p50_ns, speedup, load_ms, rss_bytes, routes, rules, users and more; the caller frees
 * it with result_free. On failure returns a CR_E* code with a message in err.
 */
int crp_bench(const char *const *args, size_t nargs, cr_result **out, char *err, size_t errlen);

#endif

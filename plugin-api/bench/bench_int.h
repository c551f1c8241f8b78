/*
 * Internals of `callroute bench` shared by the files of plugin-api/bench/: the clock and
 * sample statistics (bench_stats.c), the synthetic plan (bench_plan.c), the dialed numbers
 * (bench_calls.c), the arguments (bench_opts.c), the measuring loop (bench_measure.c), the
 * reload phase (bench_reload.c) and the figures (bench_report.c).
 */
#ifndef CRB_INT_H
#define CRB_INT_H

#include "cr_engine.h"
#include "handle.h"
#include "result.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- bench_stats.c ------------------------------------------------------------------------ */

/* CLOCK_MONOTONIC in ns (inline: it brackets every timed decision, as it did in one file). */
static inline uint64_t crb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/* Resident and peak resident memory of the process, from /proc/self/status (0 if unknown). */
void crb_rss(size_t *cur, size_t *peak);

/* A small linear congruential generator: reproducible plans and numbers for a seed. */
typedef struct crb_rng {
    uint64_t s;
} crb_rng;
uint32_t crb_rnd(crb_rng *r);
/* Uniform in [0, n); 0 when n is 0. */
uint32_t crb_below(crb_rng *r, uint32_t n);

/* Latency samples: all of them up to `cap`, then a uniform reservoir. */
typedef struct crb_samples {
    uint32_t *v;
    size_t n, cap, seen;
    uint64_t max, total_ns;
    crb_rng r;
} crb_samples;

/* Allocates room for `cap` samples (s->v, freed by the caller); false when out of memory. */
bool crb_samples_init(crb_samples *s, size_t cap, uint64_t seed);
void crb_samples_add(crb_samples *s, uint64_t ns);
/* Sorts the samples; then crb_samples_pct gives percentiles (0 when there are none). */
void crb_samples_sort(crb_samples *s);
double crb_samples_pct(const crb_samples *s, double p);

/* ---- bench_plan.c: the synthetic plan ----------------------------------------------------- */

typedef struct crb_plan {
    size_t routes, rules, users;
    uint64_t seed;
    size_t nsites;                 /* sites with a site-code rule */
    size_t site_rules;             /* how many of the rules are site-code rules */
    size_t npa_routes, nxx_routes; /* area-code and exchange routes */
} crb_plan;

/* Derives the plan's make-up from routes, rules and users. */
void crb_plan_init(crb_plan *p);
/* Writes the plan as XML at `path` (and its included files beside it); every object name
 * ends in "#" and `tag` so that decisions over two twins tell them apart. CR_OK or CR_EIO. */
int crb_plan_write(const crb_plan *p, const char *path, char tag);
/* Removes a plan written at `path` and its included files. */
void crb_plan_remove(const char *path);

/* ---- bench_calls.c: the numbers dialed ---------------------------------------------------- */

typedef struct crb_call {
    char *from, *dialed;
} crb_call;

typedef struct crb_calls {
    crb_call *v;
    size_t n, cap;
} crb_calls;

/* Appends a copy of both strings; false when out of memory. */
bool crb_calls_add(crb_calls *c, const char *from, const char *dialed);
void crb_calls_free(crb_calls *c);
/* `count` calls of what users dial on a generated plan (bench_plan.c knows its numbering). */
bool crb_calls_generate(const crb_plan *p, size_t count, crb_rng *r, crb_calls *out);
/* `count` calls for a configuration the generator did not write. */
bool crb_calls_derive(const cr_config *cfg, size_t count, crb_rng *r, crb_calls *out);
/* Reads "NUMBER" or "FROM-URI NUMBER" lines; CR_OK, CR_EIO or CR_ENOMEM. */
int crb_calls_read(const char *path, const cr_config *cfg, crb_calls *out);
/* Writes the calls next to the saved plan (PLAN.numbers); best effort. */
void crb_calls_save(const crb_calls *cl, const char *plan_path);

/* ---- bench_opts.c: the arguments ---------------------------------------------------------- */

typedef struct crb_opts {
    const char *config, *generate, *numbers, *save;
    double seconds;
    long reload_ms, reloads, threads;
    uint64_t seed;
} crb_opts;

/* Parses the "key=value" arguments (see bench.h) into `o`, and with generate= the plan into
 * `p`; CR_EINVAL with a message in err on a bad argument. */
int crb_opts_parse(const char *const *args, size_t nargs, crb_opts *o, crb_plan *p, char *err,
                   size_t errlen);

/* ---- bench_measure.c: indexed against naive, one thread ----------------------------------- */

typedef struct crb_phase1 {
    crb_samples idx, naive;
    crb_samples timer; /* the clock's own pair of reads around nothing, in the same slices */
    uint64_t idx_ns, naive_ns; /* wall time of each kind of block */
    size_t verified, mismatches;
    size_t outbound, internal, blocked, other;
} crb_phase1;

/* Checks that the index and the naive scan agree on the calls, then times both in
 * alternating blocks for `seconds`. ph->idx and ph->naive must be initialised. */
void crb_measure(cr_config *cfg, const crb_calls *cl, double seconds, crb_phase1 *ph);

/* ---- bench_reload.c: reloads while threads decide ----------------------------------------- */

/* What the reload phase works on: the handle, the calls and the kind each one must get, and
 * the files to reload (alternating a and b when b is given, a only otherwise). */
typedef struct crb_reload_setup {
    cr_handle *h;
    const crb_calls *cl;
    const signed char *kinds;
    const char *path_a, *path_b;
    bool check_mix; /* the twins' object names carry tags a and b */
} crb_reload_setup;

/* Runs the reload phase as `o` says and adds its figures to `res`. CR_OK, or CR_ENOMEM when
 * the deciding threads could not all start (err says so). */
int crb_reload_run(const crb_reload_setup *su, const crb_opts *o, cr_result *res, char *err,
                   size_t errlen);

/* ---- bench_report.c: the figures ---------------------------------------------------------- */

/* The load: times and memory measured around crp_handle_open. */
typedef struct crb_load {
    double load_ms, load_cpu_ms;
    size_t rss_start, rss_loaded, peak;
    size_t heap_loaded, heap_free;
} crb_load;

/* A "bench" result with the configuration's size and index, the load and phase 1's figures
 * (samples sorted here); NULL when out of memory. The caller frees it with crp_result_free. */
cr_result *crb_report_new(const char *config, const cr_config *cfg, size_t ncalls,
                          const crb_load *ld, crb_phase1 *ph);
/* Adds the resident memory at the end and the peak of the whole run. */
void crb_report_end(cr_result *res);
/* Sets a size in bytes (or a count) as a number field. */
void crb_report_size(cr_result *res, const char *key, size_t v);

#endif

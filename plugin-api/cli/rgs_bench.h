/*
 * Internals of `callroute bench --rgs` (see cli_rgs_bench.h), shared by its files: the
 * generated deployment (rgs_bench_plan.c), the simulated callers and agents driving the
 * engine through the ABI (rgs_bench_sim.c), the figures (rgs_bench_report.c) and the
 * subcommand (cmd_bench_rgs.c).
 */
#ifndef CR_CLI_RGS_BENCH_INT_H
#define CR_CLI_RGS_BENCH_INT_H

#include "callroute.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- the generated deployment (rgs_bench_plan.c) ------------------------------------------ */

enum { M_SERIAL, M_PARALLEL, M_ROUND_ROBIN, M_LONGEST_IDLE, M_ATTENDANT };

typedef struct rgsb_plan {
    size_t nagents, ngroups, nqueues, nformal; /* agents [0, nformal) are the formal ones */
    uint8_t *routing, *formal;                 /* per group */
    size_t *gstart, *gagents; /* agents of group g: gagents[gstart[g] .. gstart[g + 1]) */
    uint32_t *primary;        /* each agent's first group */
    size_t memberships;
    size_t counts[5]; /* groups per routing method */
    int overflow_calls;
    size_t nhot; /* the first nhot workflows get hot_pct% of the calls */
    int hot_pct;
} rgsb_plan;

/*
 * Fills the groups of a plan whose nagents, ngroups, nqueues and nformal are set: groups
 * g % 7 == 3 are formal and hold the formal agents, the others the informal ones; every
 * agent is in one group, second_pct% of them in a second one; routing by g % 10 (0-3
 * parallel, 4-7 longest idle, 8 serial, 9 round robin; with `attendant`, g % 100 == 99
 * attendant). Returns 0, or -1 when out of memory or when a kind of agent has no group.
 */
int rgsb_plan_build(rgsb_plan *pl, int second_pct, bool attendant);
/* Frees what rgsb_plan_build allocated (also after it failed). */
void rgsb_plan_free(rgsb_plan *pl);
/* Writes the deployment as a callroute XML configuration; 0 or -1. */
int rgsb_plan_write(const rgsb_plan *pl, const char *path);
/* The SIP URI of agent `a`. */
void rgsb_agent_uri(char *buf, size_t len, size_t a);

/* ---- the simulation (rgs_bench_sim.c) ----------------------------------------------------- */

/* Kinds of engine calls timed (events by their verb, and timers). */
enum {
    T_CALL,
    T_ANSWER,
    T_DECLINE,
    T_HANGUP,
    T_AGENT_HANGUP,
    T_PROMPT_DONE,
    T_PRESENCE,
    T_SIGNIN,
    T_SIGNOUT,
    T_TIMER,
    NTYPES
};

/* A bench event (the people's side); the engine's own timers are its deadline. */
typedef struct rgsb_event {
    int64_t t;
    uint64_t seq;
    uint32_t kind, a, b, gen;
} rgsb_event;

/* A call as the simulated caller sees it. */
typedef struct rgsb_call {
    uint8_t state;
    uint32_t ring_gen;
    int64_t queued_at;
    uint64_t handle; /* the engine's (rgsb_sim.engine_handles), else unused (call number + 1) */
} rgsb_call;

/* Latencies of one kind of engine call (ns, all of them). */
typedef struct rgsb_lat {
    uint32_t *v;
    size_t n, cap;
    uint64_t sum, max;
} rgsb_lat;

typedef struct rgsb_params {
    bool closed;          /* closed population kept around `waiting` waiting calls */
    size_t waiting;       /* target (closed) */
    double arrival_per_s; /* open: Poisson arrivals */
    double talk_ms, patience_ms;
    double presence_per_s, presence_back_ms;
    double sign_per_s, sign_back_ms;
    int64_t warmup_ms; /* simulated time before measuring */
    size_t events;
} rgsb_params;

/* One event as the simulated people produce it, before it becomes an event line (text form)
 * or a cr_rgs_typed_event (typed form). */
typedef struct rgsb_in {
    int type;       /* CR_RGS_EVENT_* */
    uint32_t call;  /* the bench's call number (its handle is call + 1, its name "call<n>") */
    size_t agent;   /* the bench's agent number */
    uint32_t group; /* SIGNIN, SIGNOUT: group number + 1, 0 = every group */
    int presence;   /* CR_RGS_PRESENCE_* */
    size_t wf;      /* CALL: the workflow dialled */
} rgsb_in;

/* A typed action as copied by the emit callback (strings and agents into the sim's buffers). */
typedef struct rgsb_tact {
    uint64_t call; /* the call's handle, as the action gave it */
    int type;
    uint32_t agents, nagents; /* offset into tagents */
    uint32_t arg;             /* offset into tstr */
} rgsb_tact;

typedef struct rgsb_sim {
    const cr_plugin *p;
    bool typed; /* drive rgs_event_typed / rgs_advance_typed (else the text form) */
    /* typed: CALL events through rgs_call_typed (ABI 1.13), the engine giving the handles
     * (rgsb_call.handle); else the bench's, call number + 1. Set by rgsb_sim_typed when the
     * library has it, unless host_handles. */
    bool engine_handles, host_handles;
    /* engine_handles: the bench's call number of each handle the engine gave (open
     * addressing, key 0 empty; filled after the CALL returns, read as the bench reacts, both
     * outside the timed calls) */
    uint64_t *hkey;
    uint32_t *hnum;
    size_t hcap, hcount;
    uint32_t *agent_h, *group_h; /* typed: handles of the bench's agents and groups */
    rgsb_tact *tacts;
    size_t ntacts, captacts;
    uint32_t *tagents;
    size_t ntagents, captagents;
    char *tstr;
    size_t ntstr, captstr;
    cr_rgs *e;
    const rgsb_plan *pl;
    rgsb_params pr;
    uint64_t rng;
    int64_t now, deadline;
    rgsb_event *heap;
    size_t nheap, capheap;
    uint64_t seq;
    rgsb_call *calls;
    size_t ncalls, capcalls;
    uint8_t *away, *signed_out;
    /* actions of the ABI call in progress: "call\0action\0args\0" */
    char *abuf;
    size_t alen, acap, nacts;
    bool measuring;
    rgsb_lat lt[NTYPES];
    uint64_t poll_ns, polls, warm_events, warm_ns;
    uint64_t errors, stuck;
    uint64_t slow_ns; /* --trace-slow: events slower than this are printed to stderr */
    uint64_t digest;  /* FNV-1a of every action: equal runs emitted the same actions */
    char first_err[256];
    /* calls */
    size_t alive, queued, connected;
    uint64_t arrived, offers, answered, declined, rang_out, abandoned, agent_hangups,
        caller_hangups, voicemails, transfers, other_hangups;
    int64_t wait_sum_ms, wait_max_ms;
    /* samples of the waiting count while measuring */
    uint64_t samples;
    double queued_sum;
    size_t queued_min, queued_max;
    int64_t measure_start_ms;
} rgsb_sim;

/* A simulation of plan `pl` on engine `e` opened through `p`; NULL when out of memory.
 * Frees with rgsb_sim_free (which leaves p, e and pl alone). */
rgsb_sim *rgsb_sim_new(const cr_plugin *p, cr_rgs *e, const rgsb_plan *pl, const rgsb_params *pr,
                       uint64_t seed, uint64_t slow_ns);
/* Switches the simulation to the typed form (before the warm-up): resolves the handles of
 * every agent and group once; call handles are the engine's when the library has
 * rgs_call_typed (ABI 1.13) and host_handles is not set. 0, or -1 (out of memory, or the
 * library has no typed form or does not know an agent). */
int rgsb_sim_typed(rgsb_sim *s);
void rgsb_sim_free(rgsb_sim *s);
/* The warm-up: formal agents sign in, callers arrive and the queues fill until the simulated
 * clock reaches pr.warmup_ms. Then the call figures start from zero. */
void rgsb_sim_warm_up(rgsb_sim *s);
/* Runs until pr.events engine calls were measured (or nothing is left to happen). */
void rgsb_sim_measure(rgsb_sim *s);
/* Engine calls measured so far. */
size_t rgsb_sim_measured(const rgsb_sim *s);

static inline uint64_t rgsb_ns_between(const struct timespec *a, const struct timespec *b)
{
    return (uint64_t)((b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec));
}

/* ---- the figures (rgs_bench_report.c) ----------------------------------------------------- */

/* What the run measured outside the simulation. */
typedef struct rgsb_run {
    const char *model; /* NULL: the synthetic workload */
    double scale, cscale;
    size_t waiting_target;
    long config_bytes;
    double gen_ms, open_ms, rgs_open_ms;
    long rss0_kb, rss_loaded_kb, rss_end_kb, rss_peak_kb;
    double warm_wall_ms, wall_s;
    long preempted; /* involuntary context switches while measuring */
} rgsb_run;

/* Prints the figures as JSON (one line) or text to stdout. Sorts the latencies. */
void rgsb_report(rgsb_sim *s, const rgsb_run *run, bool json);

/* The headline figures of one run, for before/after comparisons (--baseline). */
typedef struct rgsb_summary {
    double eps;        /* events/s of engine time */
    uint32_t p50, p99; /* ns */
    uint64_t digest;   /* of every action */
    uint64_t errors;
    double load_ms, rss_mb;
} rgsb_summary;

/* The summary of a finished simulation (sorts the latencies). */
void rgsb_summarize(rgsb_sim *s, const rgsb_run *run, rgsb_summary *out);
/* Prints runs before[i] / after[i] (n each, alternated in that order) side by side with the
 * ratios, as text or one line of JSON. */
void rgsb_compare_print(const rgsb_summary *before, const rgsb_summary *after, size_t n,
                        const char *baseline, bool json);

#endif

/*
 * simulate --stats: figures computed from the queue event log of the run (enter, offered,
 * connected, abandoned, timeout, overflow, no_answer, declined): per queue, the average wait
 * of answered calls and of abandoned calls (never mixed) and the service level (answered
 * within N seconds over the calls that ended: answered, abandoned, timed out, overflowed);
 * per agent, offers, answers, no answers, declines and the average ring time of answers.
 */
#ifndef CR_SIM_STATS_H
#define CR_SIM_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_stats sim_stats;
typedef void (*sim_emit_fn)(void *ud, int64_t at, const char *call, const char *action,
                            const char *args);

/* NULL when out of memory. `service_level_s`: the N of "answered within N s". */
sim_stats *sim_stats_new(int64_t service_level_s);
void sim_stats_free(sim_stats *st);

/* One line of the queue event log ("enter call=c1 queue=\"Q\"" ...). */
void sim_stats_log(sim_stats *st, int64_t at_ms, const char *line);

/* The engine's per-queue counters (`args` of its "stats" action) completed with this
 * run's figures: average_wait (ambiguous) is replaced by average_answer_wait and
 * average_abandon_wait, and answered_within (calls answered within N s), service_level (their
 * percentage of the calls that ended, one decimal; "-" when none ended) and service_level_s
 * (N) follow. */
void sim_stats_queue_line(const sim_stats *st, const char *args, char *out, size_t len);

/* One "stats" action per agent that was offered a call, in order of first offer. */
void sim_stats_agents(const sim_stats *st, int64_t at, sim_emit_fn emit, void *ud);

#endif

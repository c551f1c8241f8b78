/* `callroute bench --rgs`: the response-group engine benchmark (cmd_bench_rgs.c). */
#ifndef CR_CLI_RGS_BENCH_H
#define CR_CLI_RGS_BENCH_H

#include "callroute.h"

/*
 * Generates a response-group configuration (agent groups of every routing method, formal and
 * informal agents, queues with timeouts and overflow, hunt-group workflows) into a temporary
 * XML file, opens it through the plugin (p->open, p->rgs_open) and drives the engine through
 * the ABI exactly as a SIP host does (p->rgs_event_typed with handles, p->rgs_advance_typed at
 * the engine's deadlines; with --text, p->rgs_event with event lines and p->rgs_advance), with
 * a simulated population of callers and agents. Prints throughput,
 * per-event latency percentiles, load time, memory and call figures (JSON with --json).
 *
 *   bench --rgs [--agents N --groups G --waiting W] [--model ocs2007r2 --scale K]
 *               [--config-scale C] [--events E] [--seed S] [--keep FILE] [--text]
 *               [--baseline LIB [--runs N]] [--runs N] [--json]
 *
 * --baseline LIB: the same workload on libcallroute.so LIB (before) and on p (after),
 * alternated N times (default 3), printed side by side with per-pair ratios.
 *
 * argv[0] is "bench"; "--rgs" may appear anywhere. Returns 0, or 2 on a usage or
 * configuration error, 1 when the engine rejected events it should have taken.
 */
int cr_cmd_bench_rgs(const cr_plugin *p, int argc, char **argv);

#endif

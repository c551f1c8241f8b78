/* The time field of a `callroute simulate` timeline line, shared with the events fuzz target
 * (tests/fuzz/fuzz_events.c), which reads timelines as the command line does. */
#ifndef CR_CLI_SIM_TIME_H
#define CR_CLI_SIM_TIME_H

#include <stdint.h>

/* "12", "12.5", "0.250" seconds (digits after the third decimal ignored) -> milliseconds;
 * -1 when malformed. It must end at the end of s or at a blank; *rest is then set after it. */
int64_t cr_sim_parse_seconds(const char *s, const char **rest);

#endif

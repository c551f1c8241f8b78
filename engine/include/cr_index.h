/*
 * The candidate indexes of routes and normalization rules (engine/route_index.h inside the
 * engine), as far as other layers see them: switching them off for comparisons, their
 * statistics, and the literal prefixes a pattern's matches begin with (`callroute bench`).
 */
#ifndef CR_INDEX_H
#define CR_INDEX_H

#include "cr_model.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Forces the straightforward scan (every route of the usage, every rule of the profile, in
 * order) instead of the index, for comparisons and tests. Not for use while decisions on
 * `cfg` run on other threads. Does nothing on a config without an index.
 */
void cr_config_set_naive(cr_config *cfg, bool naive);

/* Statistics of the built index (for `callroute bench`). */
typedef struct cr_index_stats {
    size_t routes_indexed, routes_fallback, routes_never; /* by pattern analysis */
    size_t rules_indexed, rules_fallback, rules_never;
    size_t bytes; /* memory of the tries */
} cr_index_stats;
void cr_config_index_stats(const cr_config *cfg, cr_index_stats *out);

#define CR_PATTERN_PREFIXES_MAX 64 /* literal prefixes kept per pattern */
#define CR_PATTERN_PREFIX_MAX   24 /* longest prefix kept, in symbols */

/* What the index reads out of a pattern: the literal prefixes every number it matches
 * begins with, and the shortest such number. */
typedef struct cr_pattern_prefixes {
    bool prefixed;   /* false: any number may match (or the pattern cannot be read) */
    size_t n;        /* prefixes in prefix[] when prefixed */
    unsigned minlen; /* shortest number the pattern can match */
    char prefix[CR_PATTERN_PREFIXES_MAX][CR_PATTERN_PREFIX_MAX + 1]; /* NUL-terminated */
} cr_pattern_prefixes;

/* Analyses a PCRE2 pattern as the index does. Never fails: a pattern it
 * cannot read, or no memory, gives !prefixed. */
void cr_pattern_prefixes_of(const char *pattern, cr_pattern_prefixes *out);

#endif

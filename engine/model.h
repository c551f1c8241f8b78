/* Inside of the engine: the cr_config struct and its indexes. Not for other layers. */
#ifndef CR_ENGINE_MODEL_H
#define CR_ENGINE_MODEL_H

#include "cr_engine.h"
#include "cr_model.h"

#include <stdint.h>

typedef struct cr_index_slot {
    char *key;
    uint64_t hash;
    size_t val;
} cr_index_slot;

/* String → index map, open addressing; `fold` makes keys case-insensitive (ASCII). */
typedef struct cr_index {
    cr_index_slot *slots;
    size_t cap;
    bool fold;
} cr_index;

int cr_index_init(cr_index *ix, size_t n, bool fold);
void cr_index_free(cr_index *ix);
size_t cr_index_put(cr_index *ix, const char *key, size_t val);
size_t cr_index_get(const cr_index *ix, const char *key, size_t n);
uint64_t cr_hash(const char *s, size_t n, bool fold);
size_t cr_uri_key(const char *uri, char *out, size_t len);

bool cr_grow(void **arr, size_t n, size_t *cap, size_t size);
#define CR_GROW(arr, n, cap) cr_grow((void **)&(arr), (n), &(cap), sizeof *(arr))

/* Routes of one usage, in configuration order (pre-selection by usage). */
typedef struct cr_usage_routes {
    size_t *routes;
    size_t count;
} cr_usage_routes;

struct cr_config {
    char **domains;
    size_t ndomains, capdomains;
    cr_profile *profiles;
    size_t nprofiles, capprofiles;
    cr_usage *usages;
    size_t nusages, capusages;
    cr_policy *policies;
    size_t npolicies, cappolicies;
    cr_gateway *gateways;
    size_t ngateways, capgateways;
    cr_route *routes;
    size_t nroutes, caproutes;
    cr_user *users;
    size_t nusers, capusers;
    char **interned;
    size_t ninterned, capinterned;

    char *default_profile_name, *default_policy_name;
    cr_srcloc default_profile_loc, default_policy_loc;
    char *directory; /* <directory path>, resolved; NULL when none */
    cr_srcloc directory_loc;

    /* set by compile */
    bool compiled;
    const cr_profile *default_profile;
    const cr_policy *default_policy;
    cr_index profile_ix, profile_fold_ix, usage_ix, policy_ix, gateway_ix, route_ix;
    cr_index user_uri_ix, user_line_ix;
    cr_usage_routes *usage_routes; /* [nusages] */
    struct cr_route_index *route_index;
};

/* Frees what compile built (patterns, indexes). */
void cr_compiled_free(cr_config *cfg);

/* ---- regex.c: PCRE2 with JIT and match limits ---- */

/* PCRE2 limits: a pattern that backtracks catastrophically stops here. */
#define CR_MATCH_LIMIT 200000
#define CR_DEPTH_LIMIT 10000

/* Compiles `pattern` (no JIT: see cr_re_jit). On error returns NULL with the PCRE2 message and
 * the offset. */
void *cr_re_compile(const char *pattern, char *err, size_t errlen, size_t *erroffset);
/* JIT-compiles a compiled pattern (before the config is shared between threads). */
void cr_re_jit(void *re);
void cr_re_free(void *re);
uint32_t cr_re_capture_count(const void *re);
/* Group number of a named group, or -1. */
int cr_re_group_number(const void *re, const char *name);
/* Names and numbers of named groups: calls fn for each. */
void cr_re_names(const void *re, void (*fn)(void *ud, const char *name, int num), void *ud);

#define CR_RE_PARTIAL 1u /* PCRE2_PARTIAL_HARD */
#define CR_RE_ANCHORED 2u

/*
 * Matches s[0..n) from `start`. Returns the number of groups + 1 on a match (ovector pairs in
 * *ov, unset groups as SIZE_MAX), 0 no match, CR_RE_PARTIAL_MATCH for a partial match (with
 * CR_RE_PARTIAL), CR_ELIMIT when a limit was hit. The ovector lives in thread-local storage
 * and is valid until the next match on the same thread.
 */
#define CR_RE_PARTIAL_MATCH (-100)
int cr_re_exec(const void *re, const char *s, size_t n, size_t start, unsigned flags,
               const size_t **ov);

/* ---- normalize.c ---- */

/* Parses a .NET replacement string against a compiled pattern. Returns the compiled form
 * (free with cr_xlat_free), or NULL with a message in err (a group the pattern lacks). */
void *cr_xlat_compile(const char *translation, const void *re, char *err, size_t errlen);
void cr_xlat_free(void *x);

#endif

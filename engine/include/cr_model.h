/*
 * The routing model: what an admin configured, as plain data.
 *
 * rules/ fills a cr_config with the cr_config_add_* functions (which copy every string),
 * then calls cr_config_compile(), which resolves names, compiles patterns, validates and
 * lints, and builds the lookup indexes. A compiled cr_config is immutable: decisions
 * (cr_decide.h) only read it, from any number of threads at once.
 *
 * Names are resolved at compile time, so objects may be added in any order; every object
 * remembers where it came from (file, line) so that errors can name it.
 */
#ifndef CR_MODEL_H
#define CR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CR_NUMBER_MAX 128 /* longest dialed/normalized number, without the NUL */
#define CR_URI_MAX    512 /* longest URI the engine produces, with the NUL */

/* Error codes shared by every layer (plugin-api re-exports them unchanged). */
enum {
    CR_OK = 0,
    CR_EINVAL = -1,   /* malformed argument or input */
    CR_ENOMEM = -2,   /* out of memory */
    CR_ECONFIG = -3,  /* configuration refused (details in cr_diag) */
    CR_ENOENT = -4,   /* named object not found */
    CR_ERANGE = -5,   /* output does not fit */
    CR_EIO = -6,      /* file could not be read or written */
    CR_EVERSION = -7, /* ABI version refused */
    CR_ESTATE = -8,   /* operation not valid in this state */
    CR_ELIMIT = -9,   /* a resource limit (match limit, budget) was hit */
};

const char *cr_strerror(int code);

/* Where an object was defined. `file` points into the config's interned strings. */
typedef struct cr_srcloc {
    const char *file;
    int line;
} cr_srcloc;

/*
 * Diagnostics: errors and lint warnings, in order. Each names the file, the line and the
 * object ("route 'Universal Route'"). Owned by the caller; cr_diag_free releases it.
 */
typedef enum { CR_DIAG_ERROR, CR_DIAG_WARNING } cr_diag_level;

typedef struct cr_diag_item {
    cr_diag_level level;
    char *file;
    int line;
    char *object; /* "kind 'name'", may be empty */
    char *message;
} cr_diag_item;

typedef struct cr_diag {
    cr_diag_item *items;
    size_t count, cap;
    size_t errors, warnings;
} cr_diag;

void cr_diag_init(cr_diag *d);
void cr_diag_free(cr_diag *d);
/* Adds one item; `object` may be NULL. printf-style message. */
void cr_diag_add(cr_diag *d, cr_diag_level level, cr_srcloc loc, const char *object,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Formats item i as "file:line: error: object: message" into buf. */
void cr_diag_format(const cr_diag *d, size_t i, char *buf, size_t len);

/* ---- the objects ---------------------------------------------------------------------- */

typedef struct cr_rule {
    char *name, *description, *pattern, *translation;
    bool internal_extension;
    bool do_not_dial_from_device;
    cr_srcloc loc;
    void *re;   /* pcre2_code *, set by compile */
    void *xlat; /* compiled translation, set by compile */
} cr_rule;

typedef struct cr_profile {
    char *name, *description;
    char *external_access_prefix; /* NULL when not set; 1-4 of 0-9#* */
    cr_rule *rules;
    size_t nrules, caprules;
    cr_srcloc loc;
    void *rule_index; /* candidate rules by number, set by compile (engine/rule_index.c) */
} cr_profile;

typedef struct cr_usage {
    char *name;
    cr_srcloc loc;
} cr_usage;

/* A list of names to resolve (usages of a policy, gateways of a route, ...). The names belong
 * to the configuration; after compile, the names of a resolved list are the named objects' own
 * names and lists with the same contents may share their arrays. */
typedef struct cr_namelist {
    char **names;
    uint32_t *idx; /* resolved indexes, set by compile (lists compile resolves only) */
    uint32_t count, cap;
} cr_namelist;

typedef struct cr_policy {
    char *name, *description;
    bool simultaneous_ring; /* default true */
    bool call_forwarding;   /* default true */
    bool team_call;         /* default true */
    bool delegation;        /* default true */
    cr_namelist usages;
    cr_srcloc loc;
} cr_policy;

typedef struct cr_gateway {
    char *name;
    char *address; /* "sip:host[:port][;params]" */
    bool remove_plus;
    char *profile;    /* location profile for inbound numbers, or NULL */
    long profile_idx; /* -1 if none */
    int ports;        /* capacity, 0 = unlimited */
    cr_srcloc loc;
} cr_gateway;

typedef struct cr_route {
    char *name, *description, *pattern;
    cr_namelist usages;
    cr_namelist gateways;
    cr_srcloc loc;
    void *re; /* pcre2_code *, set by compile */
} cr_route;

/* Call forwarding settings of a user (SPEC §3). Targets are numbers, SIP URIs or "voicemail". */
typedef struct cr_forwarding {
    char *immediate;        /* forward every call at once, or NULL */
    int no_answer_after;    /* seconds before the no-answer step, 0 = not set */
    char *no_answer_target; /* number, SIP URI or "voicemail"; NULL = voicemail */
} cr_forwarding;

typedef struct cr_user {
    /* first: what every outbound decision reads of its caller, in one cache line whatever
     * the array's alignment (the record is 192 bytes) */
    long policy_idx, profile_idx; /* set by compile; profile_idx -1 = default */
    bool enterprise_voice;
    bool pbx_integration;    /* keeps a desk phone on a PBX: calls fork there (guide 8427) */
    char *uri;               /* "sip:alice@contoso.com" */
    char *line;              /* as configured: "tel:+14255550100;ext=50100", or NULL */
    char *line_number;       /* "+14255550100" or private "5550100", set by compile */
    char *line_ext;          /* "50100" or NULL, set by compile */
    char *policy;            /* NULL = default policy */
    char *profile;           /* NULL = default profile */
    char *simultaneous_ring; /* target or NULL */
    cr_forwarding forwarding;
    int team_call_delay;   /* seconds */
    cr_namelist team_call; /* member URIs (not resolved) */
    cr_namelist delegates; /* delegate URIs (not resolved) */
    char *voicemail;       /* voicemail URI or NULL */
    cr_srcloc loc;
} cr_user;

/*
 * A response group's workflow as the routing model sees it (SPEC §4): a call target whose
 * contact URI and line the reverse number lookup finds after the users' (cr_route_decide,
 * cr_inbound_decide). Queues, agents and hours live in workflows/ (cr_rgs.h); rules/ adds
 * these from <responseGroups>.
 */
typedef struct cr_workflow {
    char *name;
    char *uri;         /* contact SIP URI: "sip:helpdesk@contoso.com" */
    char *line;        /* as configured: "tel:+14255550110", or NULL */
    char *line_number; /* "+14255550110", set by compile */
    char *line_ext;    /* extension or NULL, set by compile */
    char *uri_key;     /* cr_uri_key of uri, set by compile (NULL: not a SIP URI) */
    char *line_key;    /* "number" or "number;ext=ext", set by compile */
    cr_srcloc loc;
} cr_workflow;

typedef struct cr_config cr_config;

/* ---- building ---------------------------------------------------------------------- */

/* A new, empty configuration, or NULL when out of memory. Free with cr_config_free. */
cr_config *cr_config_new(void);
void cr_config_free(cr_config *cfg);
/* A configuration a forked process inherited and lets go of without freeing it: its memory is
 * the parent's pages shared copy-on-write, which freeing would copy (and the parent keeps
 * them), so only what it borrows is released (a plan image it maps is unmapped). Nothing of
 * cfg may be used afterwards. */
void cr_config_abandon(cr_config *cfg);
/* The bytes cfg reads in place and does not own (a mapped plan image: [*base, *base + *len)),
 * or false when it borrows none. */
bool cr_config_borrowed_span(const cr_config *cfg, const void **base, size_t *len);

/* Interns a string in the config (file names for cr_srcloc). Never NULL unless OOM. */
const char *cr_config_intern(cr_config *cfg, const char *s);

/*
 * The cr_config_add_* functions copy every string they are given and return the new,
 * zero-initialised object (defaults applied) for the caller to finish, or NULL when out of
 * memory. Pointers stay valid until the next add of the same kind (and compile may move the
 * objects): finish one object before adding the next. Strings set afterwards must come from
 * cr_config_strdup(). Every string lives in the config's arena and goes with cr_config_free:
 * never free() one.
 */
char *cr_config_strdup(cr_config *cfg, const char *s);
int cr_config_add_domain(cr_config *cfg, const char *domain, cr_srcloc loc);
cr_profile *cr_config_add_profile(cr_config *cfg, const char *name, cr_srcloc loc);
cr_rule *cr_profile_add_rule(cr_config *cfg, cr_profile *p, const char *name, cr_srcloc loc);
cr_usage *cr_config_add_usage(cr_config *cfg, const char *name, cr_srcloc loc);
cr_policy *cr_config_add_policy(cr_config *cfg, const char *name, cr_srcloc loc);
cr_gateway *cr_config_add_gateway(cr_config *cfg, const char *name, cr_srcloc loc);
cr_route *cr_config_add_route(cr_config *cfg, const char *name, cr_srcloc loc);
cr_user *cr_config_add_user(cr_config *cfg, const char *uri, cr_srcloc loc);
int cr_namelist_add(cr_config *cfg, cr_namelist *l, const char *name, cr_srcloc loc);
/* A workflow call target named `name` at loc; set its uri and line (cr_config_strdup) before
 * the next add. Compile refuses a uri that is not a SIP URI or a line that is not a tel: URI
 * with a number; it leaves duplicates as written to the response-group loader (exact ones)
 * and reports only those that differ in form. */
cr_workflow *cr_config_add_workflow(cr_config *cfg, const char *name, cr_srcloc loc);

/* Names of the default profile / policy (copied); loc is where the default was declared. */
int cr_config_set_default_profile(cr_config *cfg, const char *name, cr_srcloc loc);
int cr_config_set_default_policy(cr_config *cfg, const char *name, cr_srcloc loc);
/* The user directory (LMDB) the configuration names, as a path already resolved against the
 * naming file (copied); cr_config_directory returns it (NULL when none) and where it was
 * named. The engine only keeps the path: the library opens the directory. */
int cr_config_set_directory(cr_config *cfg, const char *path, cr_srcloc loc);
const char *cr_config_directory(const cr_config *cfg, cr_srcloc *loc);

/*
 * Validates and compiles the configuration: unique names, resolved references, PCRE2
 * patterns (JIT), translations, externalAccessPrefix, line URIs; then lint (warnings).
 * Errors and warnings go to `diag`. Returns CR_OK, or CR_ECONFIG when at least one error
 * was found (the config must then only be freed).
 */
int cr_config_compile(cr_config *cfg, cr_diag *diag);
/* Whether cr_config_compile was called (it may be once only). */
bool cr_config_is_compiled(const cr_config *cfg);

/* The loader saw a <responseGroups> section (so the document also needs the response-group
 * loader); a flag only, the engine does nothing with it. */
void cr_config_mark_response_groups(cr_config *cfg);
bool cr_config_has_response_groups(const cr_config *cfg);

/* ---- what the configuration was loaded from (plan images: cr_plan_image.h) ---------- */

/* A digest of the source files' bytes, set by the loader. */
void cr_config_set_source_digest(cr_config *cfg, uint64_t digest);
/* Marks a configuration, before it is filled, as one that is loaded to be written as a plan
 * image rather than decided from (`callroute compile`, a Kamailio process publishing its
 * plan): its strings and routes stay on small pages. Huge pages (cr_table_alloc) spare a
 * decision TLB misses, but the kernel clears each whole when it is first touched: 4-17 % of
 * a compile at 400,000 routes. It may still be decided from (from small pages). */
void cr_config_set_image_only(cr_config *cfg);
/* Attaches (copies) `len` bytes under `name`: a section another layer compiles (the response
 * groups, rules/rgs_image.c), opaque to the engine, which plan images carry and checksum and
 * a configuration read from an image holds again. A name attached again is replaced. Returns
 * CR_OK or CR_ENOMEM. */
int cr_config_attach(cr_config *cfg, const char *name, const void *bytes, size_t len);
/* The bytes attached under `name` (*len set), or NULL when none. */
const void *cr_config_attached(const cr_config *cfg, const char *name, size_t *len);

/* ---- reading a compiled config --------------------------------------------------------- */

size_t cr_config_profile_count(const cr_config *cfg);
const cr_profile *cr_config_profile_at(const cr_config *cfg, size_t i);
const cr_profile *cr_config_profile_find(const cr_config *cfg, const char *name);
/* The profile a dialed number's phone-context names (SPEC §2 step 2): the profile of that exact
 * name, else one whose name differs only in case; NULL for none, "user-default" or no context. */
const cr_profile *cr_config_profile_by_context(const cr_config *cfg, const char *context);
const cr_profile *cr_config_default_profile(const cr_config *cfg);
size_t cr_config_gateway_count(const cr_config *cfg);
const cr_gateway *cr_config_gateway_at(const cr_config *cfg, size_t i);
const cr_gateway *cr_config_gateway_find(const cr_config *cfg, const char *name);
size_t cr_config_route_count(const cr_config *cfg);
const cr_route *cr_config_route_at(const cr_config *cfg, size_t i);
size_t cr_config_usage_count(const cr_config *cfg);
size_t cr_config_policy_count(const cr_config *cfg);
const cr_policy *cr_config_policy_at(const cr_config *cfg, size_t i);
const cr_policy *cr_config_default_policy(const cr_config *cfg);
/* Numbers the configuration's patterns match, to compare two configurations (callroute
 * diff): up to `per` (64 at most) distinct ones for each normalization rule (as dialed; name
 * "profile/rule") and for each route (as normalized; its name), drawn from the pattern's
 * syntax tree with `seed` (the same numbers every time) and each checked by PCRE2. A pattern
 * the sampler does not model exactly (lookarounds, back-references...) gives none. */
typedef void (*cr_sample_fn)(void *ud, const char *number, const char *kind, const char *name);
void cr_config_sample_numbers(const cr_config *c, size_t per, uint32_t seed, cr_sample_fn emit,
                              void *ud);
size_t cr_config_user_count(const cr_config *cfg);
const cr_user *cr_config_user_at(const cr_config *cfg, size_t i);
const cr_user *cr_config_user_find(const cr_config *cfg, const char *sip_uri);
/* True when u has nothing but its URI, Enterprise Voice, a policy and a profile: no line and
 * no call management. Such an entry with a workflow's URI is the workflow's calling identity
 * (the voice policy and location profile that route its forwards to numbers), not a user
 * anyone rings. */
bool cr_user_identity_only(const cr_user *u);
bool cr_config_domain_supported(const cr_config *cfg, const char *domain);
size_t cr_config_workflow_count(const cr_config *cfg);
const cr_workflow *cr_config_workflow_at(const cr_config *cfg, size_t i);
/* The workflow whose contact URI is sip_uri (compared as cr_uri_key), or NULL. */
const cr_workflow *cr_config_workflow_find(const cr_config *cfg, const char *sip_uri);
/* The workflow whose line is number (with ext, else the bare number), or NULL. */
const cr_workflow *cr_config_workflow_by_number(const cr_config *cfg, const char *number,
                                                const char *ext);

#endif

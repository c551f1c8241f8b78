/*
 * Decisions over a compiled configuration (cr_model.h): number normalization, the
 * outbound routing decision, inbound normalization from a gateway, and device dialing.
 *
 * Every function here only reads the configuration and writes into caller-owned structs;
 * no I/O, no allocation on the decision path, safe from many threads at once. Mutable
 * runtime facts (which gateways are down, load-spreading counters) come from the caller
 * through cr_runtime.
 */
#ifndef CR_ENGINE_H
#define CR_ENGINE_H

#include "cr_model.h"

#define CR_MAX_ATTEMPTS 32  /* longest failover list a decision produces */
#define CR_URI_SHORT    256 /* Request-URIs of attempts */

/*
 * A trace: what a decision tried and why, one line per step. Optional everywhere (pass
 * NULL on the hot path). Init with cr_trace_init, free with cr_trace_free.
 */
typedef struct cr_trace {
    char *buf; /* lines separated by '\n' */
    size_t len, cap;
    size_t lines;
    /* gateways skipped by the decisions traced: down, full, Request-URI too long */
    size_t skipped_down, skipped_full, skipped_long;
} cr_trace;

void cr_trace_init(cr_trace *t);
void cr_trace_free(cr_trace *t);
void cr_trace_add(cr_trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Line i (0-based) copied into buf; returns false past the end. */
bool cr_trace_line(const cr_trace *t, size_t i, char *buf, size_t len);

/*
 * A dialed string taken apart: "tel:+14255550100;ext=50100", "sip:5550100;phone-context=
 * Redmond.contoso.com@contoso.com;user=phone", "+1 (425) 555-0100", "911".
 */
typedef struct cr_number {
    char digits[CR_NUMBER_MAX + 1]; /* visual separators removed */
    size_t ndigits;                 /* strlen(digits) */
    char context[128];              /* phone-context parameter, or "" */
    char ext[32];                   /* ;ext= parameter, or "" */
    char host[128];                 /* domain of a sip: URI, or "" */
    bool is_sip;                    /* given as a sip:/sips: URI */
    bool secure;                    /* given as a sips: URI (gateway attempts keep sips:) */
    bool dialable;                  /* digits is [+]?[0-9*#]+ */
    const char *invalid;            /* why CR_EINVAL, a static string, or NULL */
} cr_number;

/* Parses `in`; returns CR_OK, or CR_EINVAL when it is empty, too long or not a URI or number
 * (out->dialable tells whether the digits are a phone number). A ;phone-context= or ;ext=
 * parameter given twice, or whose value is too long or holds a control character or a
 * percent-encoding, is CR_EINVAL too; out->invalid then says which. */
int cr_number_parse(const char *in, cr_number *out);
/* Whether a line URI's ;ext= parameter, when it has one, is an extension: one digit or more
 * (RFC 3966; the guide's tel:+14255550100;ext=50100). cr_number_parse keeps any value, and an
 * empty or lettered extension would be a key no dialed number reaches. */
bool cr_line_ext_ok(const char *line);
/* Whether c is a visual separator (space - . ( )), which dialed strings lose first. */
static inline bool cr_is_visual_separator(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

/*
 * Normalizes `digits` with profile p: rules in order, the first whose pattern matches wins
 * and its translation is applied with .NET Regex.Replace semantics. Unmatched numbers are
 * copied unchanged. *rule is the winning rule or NULL. Returns CR_OK, CR_ERANGE (result too
 * long), CR_ELIMIT is never returned: a rule that hits the match limit counts as no match
 * and the trace says so.
 */
int cr_profile_normalize(const cr_profile *p, const char *digits, char *out, size_t outlen,
                         const cr_rule **rule, cr_trace *trace);

/*
 * Applies one rule's translation (.NET Regex.Replace: every match replaced, `$1`, `${1}`,
 * `${name}`, `$$`, `$&`, `` $` ``, `$'`, `$+`, `$_`). Returns 1 replaced, 0 no match,
 * CR_ERANGE, or CR_ELIMIT when the pattern hit the PCRE2 match limit.
 */
int cr_rule_apply(const cr_rule *r, const char *in, char *out, size_t outlen);

/*
 * Users kept outside the configuration (the LMDB directory), looked up through the host so
 * that the engine stays free of I/O. A returned user belongs to the source and stays valid
 * for as long as the source's owner says (the library keeps it for one decision); its
 * policy_idx / profile_idx refer to the configuration being decided on. NULL = not found.
 */
typedef struct cr_user_source {
    void *ud;
    const cr_user *(*find)(void *ud, const char *sip_uri);
    const cr_user *(*by_number)(void *ud, const char *number, const char *ext);
} cr_user_source;

/* Mutable runtime facts supplied by the host. Any member may be NULL. */
typedef struct cr_runtime {
    void *ud;
    /* True when the gateway is currently marked down. */
    bool (*gateway_down)(void *ud, const cr_gateway *gw);
    /* A counter that advances from one decision to the next (load spreading). */
    uint32_t (*spread)(void *ud);
    /* Users beyond the configuration's own, consulted after them (user directory). */
    const cr_user_source *users;
    /* True when every port of the gateway is held by a call in progress (capacity). */
    bool (*gateway_full)(void *ud, const cr_gateway *gw);
    /* A counter of route r that advances from one decision using r to the next: spreads
     * each route's first attempt over its gateways (preferred to `spread`). */
    uint32_t (*route_spread)(void *ud, const cr_route *r);
} cr_runtime;

/* A user by SIP URI / by line number: the configuration's users first, then rt->users
 * (rt may be NULL). */
const cr_user *cr_user_find(const cr_config *cfg, const cr_runtime *rt, const char *sip_uri);
const cr_user *cr_user_by_number(const cr_config *cfg, const cr_runtime *rt, const char *number,
                                 const char *ext);

/* The comparable form of a SIP URI for user lookups ("sip:user@host", host lower-cased, no
 * port or parameters). Returns its length, 0 when `uri` is not a sip: URI or does not fit. */
size_t cr_uri_key(const char *uri, char *out, size_t len);

typedef enum {
    CR_OUTBOUND = 1,
    CR_INTERNAL = 2,
    CR_BLOCKED = -1,
    CR_NOT_APPLICABLE = -2,
} cr_decision_kind;

typedef struct cr_attempt {
    const cr_gateway *gateway;
    const cr_route *route;
    const cr_usage *usage;
    /* the Request-URI for the gateway: cr_attempt_uri (built on demand) */
} cr_attempt;

/* What a decision's reason says (cr_decision_reason writes it out on demand). */
typedef enum {
    CR_REASON_NONE = 0,      /* "" */
    CR_REASON_TEXT,          /* d->text, written when decided (refusals and rare cases) */
    CR_REASON_ROUTE,         /* "route '<attempts[0].route>', usage '<attempts[0].usage>'" */
    CR_REASON_LINE_USER,     /* "<normalized> is the line of user '<callee's URI>'" */
    CR_REASON_LINE_WORKFLOW, /* "<normalized> is the line of workflow '<workflow's name>'" */
    CR_REASON_NO_ROUTE,      /* "no route of voice policy '<policy>' matches <normalized>" */
    CR_REASON_GATEWAYS_DOWN, /* "every gateway of the routes matching <normalized> is down" */
} cr_reason_code;

/* A decision records what it found; the texts (the reason, each attempt's Request-URI) are
 * written out by cr_decision_reason and cr_attempt_uri, only for a caller that reads them.
 * They read the configuration's objects and the callee the decision names, so they are valid
 * as long as those are (as `caller` and `callee` themselves). Only the fields a decision sets
 * are written: text[] only for CR_REASON_TEXT, attempts[0..nattempts) only. */
typedef struct cr_decision {
    cr_decision_kind kind;
    cr_reason_code reason_code;
    bool secure; /* attempts keep sips: (a sips: Request-URI was dialed) */
    const cr_user *caller;
    const cr_profile *profile;   /* profile used to normalize, or NULL */
    const cr_rule *rule;         /* winning rule, or NULL */
    const cr_policy *policy;     /* CR_REASON_NO_ROUTE: the voice policy routed with */
    const cr_user *callee;       /* internal: reverse lookup result (NULL for a workflow) */
    const cr_workflow *workflow; /* internal: the workflow whose line or URI it is, or NULL */
    size_t routes_matched;       /* routes whose pattern matched (with or without gateways up) */
    size_t nattempts;
    char normalized[CR_NUMBER_MAX + 1]; /* the attempts' Request-URIs carry this number */
    cr_attempt attempts[CR_MAX_ATTEMPTS];
    char text[256]; /* CR_REASON_TEXT's reason */
} cr_decision;

#define CR_REASON_MAX 256 /* bytes a reason takes at most, with the NUL */

/* The decision's reason (SPEC §2) into buf[0..cap), cut to fit and terminated like snprintf
 * (cap 0: nothing written); at most CR_REASON_MAX - 1 characters, as it always was. Returns
 * buf ("" for an empty cap). */
const char *cr_decision_reason(const cr_decision *d, char *buf, size_t cap);

/* Attempt i's Request-URI (i < d->nattempts) for gateway attempts[i].gateway of configuration
 * cfg (the one decided on) into buf[0..cap), cut and terminated like snprintf. Returns its full
 * length (below CR_URI_SHORT: a longer one is never an attempt). */
size_t cr_attempt_uri(const cr_config *cfg, const cr_decision *d, size_t i, char *buf, size_t cap);

/*
 * The outbound decision of SPEC §2 for a call from `from` (SIP URI) to `dialed`.
 * Always fills `out` (kind and reason); returns CR_OK, or CR_EINVAL with kind
 * CR_NOT_APPLICABLE when an argument is missing.
 */
int cr_route_decide(const cr_config *cfg, const char *from, const char *dialed,
                    const cr_runtime *rt, cr_decision *out, cr_trace *trace);

/* The same walk over routes for an already normalized number and a given policy, appending
 * to out->attempts (used for PSTN legs of forwarding / simultaneous ring too). out->normalized
 * becomes `normalized` (the attempts' Request-URIs are built from it). */
void cr_route_attempts(const cr_config *cfg, const cr_policy *policy, const char *normalized,
                       const cr_runtime *rt, cr_decision *out, cr_trace *trace);

/* The location profile that applies to a user (the default when unset). */
const cr_profile *cr_user_profile(const cr_config *cfg, const cr_user *u);

/* Looks up a user by line number (E.164 or private), optionally with an extension. */
const cr_user *cr_config_user_by_number(const cr_config *cfg, const char *number, const char *ext);

/* Inbound call from a gateway (SPEC §2 "Inbound from a gateway"). */
typedef struct cr_inbound {
    const cr_profile *profile;
    char called[CR_NUMBER_MAX + 1];  /* normalized called number */
    char calling[CR_NUMBER_MAX + 1]; /* normalized calling number */
    const cr_rule *called_rule, *calling_rule;
    const cr_user *callee;       /* NULL: no such user */
    char pai[CR_URI_MAX];        /* P-Asserted-Identity value for private numbers, or "" */
    const cr_workflow *workflow; /* no user: the workflow whose line it is, or NULL */
} cr_inbound;

/* gw may be NULL (default profile). Returns CR_OK or CR_EINVAL (malformed called number). */
int cr_inbound_decide(const cr_config *cfg, const cr_gateway *gw, const char *called,
                      const char *calling, cr_inbound *out, cr_trace *trace);
/* The same, looking the callee up through rt->users too (rt may be NULL). */
int cr_inbound_decide_ex(const cr_config *cfg, const cr_gateway *gw, const char *called,
                         const char *calling, const cr_runtime *rt, cr_inbound *out,
                         cr_trace *trace);

/* Finds a gateway by name or by the host[:port] of its address. */
const cr_gateway *cr_config_gateway_match(const cr_config *cfg, const char *name_or_hostport);

typedef enum {
    CR_DIAL_ERROR_ = -2, /* out of memory compiling a rule's pattern on first use */
    CR_DIAL_NO_MATCH_ = -1,
    CR_DIAL_NEED_MORE_ = 0,
    CR_DIAL_COMPLETE_ = 1
} cr_dial_answer;

/* Device (off-hook) dialing over profile p with the digits typed so far. On complete, *rule
 * and `normalized` are set. */
cr_dial_answer cr_profile_dial(const cr_profile *p, const char *digits, const cr_rule **rule,
                               char *normalized, size_t len, cr_trace *trace);

#endif

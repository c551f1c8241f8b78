/*
 * callroute plugin ABI — the only interface between libcallroute.so and its hosts
 * (the `callroute` command line, the Kamailio module, any other SIP server).
 *
 * C99. The library exports exactly one symbol, cr_plugin_entry. The host passes its own
 * table (cr_host: logging, clock, allocator) and receives the plugin's (cr_plugin). Each
 * table starts with the ABI major version and its own size in bytes and only ever grows at
 * the end: a reader checks `size` before touching a field beyond the ones it was built with,
 * and a NULL function pointer means "not supported". Another major version is refused.
 *
 * Handles are opaque. Strings passed in are borrowed for the duration of the call. Results
 * (cr_result) are owned by the caller and released with result_free. Every function that
 * can fail returns 0 or a negative CR_E* code, and writes a message into a caller-owned
 * buffer when one is given.
 */
#ifndef CALLROUTE_H
#define CALLROUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CR_ABI_MAJOR 1
#define CR_ABI_MINOR 5

#if defined(__GNUC__)
#define CR_API __attribute__((visibility("default")))
#else
#define CR_API
#endif

/* Error codes (same values as the engine's). */
#define CR_ABI_OK       0
#define CR_ABI_EINVAL   -1
#define CR_ABI_ENOMEM   -2
#define CR_ABI_ECONFIG  -3
#define CR_ABI_ENOENT   -4
#define CR_ABI_ERANGE   -5
#define CR_ABI_EIO      -6
#define CR_ABI_EVERSION -7
#define CR_ABI_ESTATE   -8
#define CR_ABI_ELIMIT   -9

/* Log levels the plugin uses when calling cr_host.log. */
#define CR_LOG_ERROR   0
#define CR_LOG_WARNING 1
#define CR_LOG_INFO    2
#define CR_LOG_DEBUG   3

/* Decision kinds, as returned by cr_plugin.route (and result_decision). */
#define CR_DECISION_OUTBOUND       1
#define CR_DECISION_INTERNAL       2
#define CR_DECISION_BLOCKED        -1
#define CR_DECISION_NOT_APPLICABLE -2

/* Device dialing answers. */
#define CR_DIAL_COMPLETE  1
#define CR_DIAL_NEED_MORE 0
#define CR_DIAL_NO_MATCH  -1

typedef struct cr_handle cr_handle; /* one loaded configuration and its runtime state */
typedef struct cr_result cr_result; /* one answer: decision, normalization, dial, ... */
typedef struct cr_rgs cr_rgs;       /* one response-group engine instance */

#define CR_ANSWER_NAME     128 /* bytes for a gateway, route, usage, profile or rule name */
#define CR_ANSWER_URI      256 /* bytes for a URI */
#define CR_ANSWER_ATTEMPTS 16  /* attempts a cr_route_answer holds (the first ones) */

/* One attempt of an outbound decision (cr_route_answer). */
typedef struct cr_route_attempt {
    char gateway[CR_ANSWER_NAME];
    char route[CR_ANSWER_NAME];
    char usage[CR_ANSWER_NAME];
    char uri[CR_ANSWER_URI];     /* Request-URI for the gateway */
    char address[CR_ANSWER_URI]; /* the gateway's SIP address (destination) */
    int remove_plus;             /* the gateway wants no '+' in To and From either */
} cr_route_attempt;

/* A routing decision as a versioned plain struct (cr_plugin.route_answer). Only grows at the
 * end; `size` tells the plugin how much of it the host knows. Strings are NUL-terminated,
 * "" when absent. */
typedef struct cr_route_answer {
    uint32_t size; /* set by the host: sizeof(cr_route_answer) */
    int kind;      /* CR_DECISION_* */
    char normalized[CR_ANSWER_URI];
    char target[CR_ANSWER_URI]; /* internal: the callee's SIP URI */
    char reason[CR_ANSWER_URI];
    char profile[CR_ANSWER_NAME];
    char rule[CR_ANSWER_NAME];
    uint32_t nattempts;      /* attempts filled (at most CR_ANSWER_ATTEMPTS) */
    uint32_t total_attempts; /* attempts the decision had */
    cr_route_attempt attempts[CR_ANSWER_ATTEMPTS];
} cr_route_answer;

/* What the host gives the plugin. Any function may be NULL (the plugin then uses stderr,
 * CLOCK_REALTIME and malloc/free). */
typedef struct cr_host {
    uint32_t abi_major; /* CR_ABI_MAJOR the host was built with */
    uint32_t size;      /* sizeof(cr_host) as the host knows it */
    void *ud;           /* passed back to every callback */
    void (*log)(void *ud, int level, const char *message);
    int64_t (*now_ms)(void *ud); /* wall clock, milliseconds since the Unix epoch */
    void *(*alloc)(void *ud, size_t size);
    void (*free)(void *ud, void *ptr);
} cr_host;

/* Options for open. Zero-initialise, set size = sizeof(cr_open_options). */
typedef struct cr_open_options {
    uint32_t size;
    /* Memory shared by every process of the host (e.g. Kamailio shm), at least
     * cr_plugin.shared_size() bytes, zeroed before first use; NULL = process-private. Gateway
     * up/down state, load-spreading counters and the reload generation live there. */
    void *shared;
    size_t shared_len;
    int gateway_holdoff_s; /* how long a failed gateway stays down; 0 = 30 s */
    const char *db_path;   /* user directory (LMDB) to open, or NULL */
    /* since ABI 1.5: directories, besides the configuration's own, that <include href> may
     * reach (NULL-terminated list, or NULL for none); borrowed for the call, kept (copied)
     * by the handle for its reloads. Includes anywhere else are refused. */
    const char *const *include_dirs;
} cr_open_options;

typedef struct cr_plugin {
    uint32_t abi_major; /* CR_ABI_MAJOR */
    uint32_t size;      /* sizeof(cr_plugin) as the plugin knows it */
    uint32_t abi_minor;
    const char *version; /* "0.1.0" */

    const char *(*strerror)(int code);
    size_t (*shared_size)(void);

    /* Loads and compiles the XML at `path`. On failure returns CR_ABI_ECONFIG (or another
     * code), *out stays NULL and `err` holds "file:line: error: object: message" lines. */
    int (*open)(const char *path, const cr_open_options *opts, cr_handle **out, char *err,
                size_t errlen);
    /* Rebuilds from the handle's path (or `path` when not NULL) and swaps atomically. A
     * configuration with errors is refused and the running one stays. Other processes sharing
     * the same `shared` memory follow on their next decision. */
    int (*reload)(cr_handle *h, const char *path, char *err, size_t errlen);
    void (*close)(cr_handle *h);

    /* Validates and lints a file without a handle. `*out` gets a result whose "diagnostics"
     * list holds every error and warning; returns 0 (maybe with warnings) or CR_ABI_ECONFIG. */
    int (*check)(const char *path, cr_result **out);

    /* Outbound decision for a call from `from` (SIP URI) to `dialed` (digits, tel: or sip:
     * URI, may carry ;phone-context= and ;ext=). Returns 0 and a result whose result_kind is
     * a CR_DECISION_*, or a CR_ABI_E* code and no result. `down` lists gateway names to treat
     * as down for this decision only (may be NULL). */
    int (*route)(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                 size_t ndown, cr_result **out);
    /* Normalizes `number` with the named profile (NULL = default profile). */
    int (*normalize)(cr_handle *h, const char *profile, const char *number, cr_result **out);
    /* Off-hook dialing: result_kind is a CR_DIAL_*; fields "answer", "rule", "normalized". */
    int (*dial)(cr_handle *h, const char *profile, const char *digits, cr_result **out);
    /* A call from gateway `gateway` (name or SIP address host[:port]; NULL = no gateway, the
     * default profile): returns CR_ABI_ENOENT and no result when `gateway` names no configured
     * gateway. Otherwise normalizes called and
     * calling numbers with its profile, looks up the callee. result_kind: 1 found, 0 no user;
     * fields "target", "called", "calling", "pai" (P-Asserted-Identity value or absent). */
    int (*inbound)(cr_handle *h, const char *gateway, const char *called, const char *calling,
                   cr_result **out);
    /* The gateway failed (503/504/408/timeout): mark it down for the hold-off time. */
    int (*gateway_failed)(cr_handle *h, const char *gateway);
    /* Gateway states as a result: list "gateways" with name, state ("up"/"down"), since. */
    int (*gateways)(cr_handle *h, cr_result **out);

    /* ---- results ---- */
    void (*result_free)(cr_result *r);
    /* The result's kind: CR_DECISION_* for route, CR_DIAL_* for dial, 1/0 for inbound,
     * 0 otherwise. */
    int (*result_kind)(const cr_result *r);
    /* A top-level string field ("decision", "profile", "rule", "normalized", "target",
     * "reason", "uri", ...) or NULL when absent. Valid until result_free. */
    const char *(*result_get)(const cr_result *r, const char *field);
    /* Number of items in a list ("attempts", "trace", "diagnostics", "gateways", ...). */
    size_t (*result_count)(const cr_result *r, const char *list);
    /* A field of item i of a list ("attempts", 0, "gateway"); the "trace" list's items have
     * the single field "text". NULL when absent. */
    const char *(*result_item)(const cr_result *r, const char *list, size_t i, const char *field);
    /* The result as one line of JSON (the contract of SPEC §5), NUL-terminated into buf.
     * Returns the length needed without the NUL (like snprintf). */
    size_t (*result_json)(const cr_result *r, char *buf, size_t len);
    /* The result as human text with its trace (several lines). Same convention. */
    size_t (*result_text)(const cr_result *r, char *buf, size_t len);

    /* ---- response groups (may be NULL in a build without them) ---- */
    /* Starts an engine over the handle's response groups. `start_unix_ms` is the wall-clock
     * time of engine second 0; `state_dir` (may be NULL) is an LMDB directory to persist to. */
    int (*rgs_open)(cr_handle *h, int64_t start_unix_ms, const char *state_dir, cr_rgs **out,
                    char *err, size_t errlen);
    /* Feeds one event, in the simulate format without the time ("call c1 sip:a@x sip:b@y",
     * "dtmf c1 5", ...), at engine time `at_ms`. Every action the engine emits is passed to
     * `emit` as (call id, action, args) strings, in order. Timers due up to at_ms fire first.
     * Returns 0 or CR_ABI_EINVAL (with err) for a malformed event. */
    int (*rgs_event)(cr_rgs *e, int64_t at_ms, const char *event,
                     void (*emit)(void *ud, int64_t at_ms, const char *call_id, const char *action,
                                  const char *args),
                     void *ud, char *err, size_t errlen);
    /* Runs timers due up to `now_ms`; returns the next deadline in ms or -1 if none. */
    int64_t (*rgs_advance)(cr_rgs *e, int64_t now_ms,
                           void (*emit)(void *ud, int64_t at_ms, const char *call_id,
                                        const char *action, const char *args),
                           void *ud);
    void (*rgs_close)(cr_rgs *e);

    /* ---- since ABI 1.1 (check `size` with CR_HAS before use) ---- */
    /* route with flags: CR_ROUTE_NO_TRACE leaves the "trace" list out (the hot path of a
     * SIP server). Same contract as route otherwise. */
    int (*route_ex)(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                    size_t ndown, unsigned flags, cr_result **out);
    /* Benchmarks decisions inside the library (see `callroute bench`). `args` holds the
     * command-line options as "key=value" strings (config=, generate=, numbers=, seconds=,
     * reload_ms=). The result carries decisions_per_sec, p50_ns, p99_ns, naive_p50_ns,
     * load_ms, rss_bytes and more. */
    int (*bench)(const char *const *args, size_t nargs, cr_result **out, char *err, size_t errlen);

    /* ---- since ABI 1.2: users and inbound call handling (SPEC §3) ---- */
    /* The ringing plan for a call from `from` to `to` (a user's SIP URI, tel: URI or number).
     * `endpoints` are the callee's registered contacts as known to the host (may be NULL).
     * result_kind 1 when `to` is a user, 0 otherwise; see the CLI `inbound` for the shape. */
    int (*user_plan)(cr_handle *h, const char *from, const char *to, const char *const *endpoints,
                     size_t nendpoints, cr_result **out);
    /* Imports users (XML with <users>, or CSV with the documented header) into the LMDB
     * directory at `db_dir` (created if missing). Result: counts, database size. */
    int (*users_import)(const char *db_dir, const char *file, cr_result **out, char *err,
                        size_t errlen);
    /* Exports every user of the directory to `file` ("-" = stdout) as "xml" or "csv". */
    int (*users_export)(const char *db_dir, const char *file, const char *format, char *err,
                        size_t errlen);

    /* ---- since ABI 1.3 ---- */
    /* users_import with flags: CR_IMPORT_REPLACE also removes the users the file does not
     * list (the directory then holds exactly the file's users). */
    int (*users_import_ex)(const char *db_dir, const char *file, unsigned flags, cr_result **out,
                           char *err, size_t errlen);

    /* ---- since ABI 1.4 ---- */
    /* The outbound decision into a caller-owned plain struct: no allocation, nothing to
     * free, no trace (the hot path of a SIP server). Set out->size = sizeof(cr_route_answer)
     * before the call; the plugin fills only what fits in that size. Returns 0 (decision in
     * out->kind) or a CR_ABI_E* code. Names longer than the fields are cut (see
     * CR_ANSWER_NAME). */
    int (*route_answer)(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                        size_t ndown, struct cr_route_answer *out);

    /* ---- since ABI 1.5 ---- */
    /* check with options: only opts->include_dirs is used (opts may be NULL, = check). */
    int (*check_ex)(const char *path, const cr_open_options *opts, cr_result **out);
} cr_plugin;

#define CR_IMPORT_REPLACE 1u

#define CR_ROUTE_NO_TRACE 1u

/*
 * The one exported symbol. `host` may be NULL. Returns the plugin's table, or NULL when the
 * host's major version differs (then `*err`, if given, holds a static message).
 */
typedef const cr_plugin *(*cr_plugin_entry_fn)(const cr_host *host, const char **err);
CR_API const cr_plugin *cr_plugin_entry(const cr_host *host, const char **err);

#define CR_PLUGIN_ENTRY_SYMBOL "cr_plugin_entry"

/* True when a table of `size` bytes contains the field `member` of struct `type`. */
#define CR_HAS(type, tbl, member)                                                                  \
    ((tbl)->size >= offsetof(type, member) + sizeof(((type *)0)->member))

#ifdef __cplusplus
}
#endif
#endif

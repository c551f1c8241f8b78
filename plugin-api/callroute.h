/*
 * callroute plugin ABI — the only interface between libcallroute.so and its hosts
 * (the `callroute` command line, the Kamailio module, any other SIP server).
 *
 * C99. This file is the contract: a host needs nothing else to use the library.
 *
 * Versioning
 * ----------
 * The library exports exactly one symbol, cr_plugin_entry(). The host passes its own table
 * (cr_host: logging and clock) and receives the plugin's (cr_plugin). Each table and each
 * size-prefixed struct starts with its own size in bytes (and the tables with the ABI major
 * version) and only ever grows at the end: a reader checks the size (CR_HAS) before touching
 * a member beyond the ones it was built with, and a NULL function pointer means "not
 * supported by this build". Another major version is refused by cr_plugin_entry(). Minor
 * versions (CR_ABI_MINOR, cr_plugin.abi_minor) only add members; each block of members below
 * says which minor added it. No build strings are compared.
 *
 * Threads
 * -------
 * - A cr_handle may be used by any number of threads at once for every decision call (route,
 *   route_ex, route_answer, normalize, dial, inbound, user_plan, gateway_failed, gateways).
 *   Decisions take no lock: they read an immutable snapshot of the configuration.
 * - reload() may run concurrently with decisions; reloads of one handle are serialized by a
 *   mutex inside the handle. A decision sees one whole configuration: the old or the new one.
 * - close() must not run concurrently with any other call on the same handle.
 * - Each deciding thread has its own working memory (about 30 KB of thread-local storage and
 *   one PCRE2 match block) so that route_answer allocates nothing.
 * - A cr_rgs (response-group engine) is not thread-safe: one thread at a time per engine.
 * - A cr_result belongs to the caller and may be read from any thread, one at a time.
 * - The library starts one thread of its own per process that decides with a handle opened
 *   with shared memory (cr_open_options.shared): the reload watcher. It sleeps on a short
 *   poll, follows reloads made by other processes off the decision path, and is joined by
 *   close(). It blocks all signals and calls no host callback other than cr_host.log.
 *
 * Processes and fork()
 * --------------------
 * - A handle opened before fork() may be used in the children (the Kamailio pattern: open in
 *   mod_init, decide in the forked workers). Each process that decides registers itself in a
 *   process slot of the shared memory on its first decision and starts its own watcher
 *   thread then; the parent's watcher is not inherited (fork copies only the calling thread).
 * - With cr_open_options.shared, every process sharing that memory agrees on gateway up/down
 *   state (gateway_failed in one process is seen by all), load-spreading counters, and the
 *   configuration generation. A reload in one process makes every other process decide with
 *   the new configuration: each re-reads the file in its watcher thread.
 * - Without shared memory the handle is private to the process.
 * - A cr_rgs and an LMDB user directory opened by the library must not be carried across
 *   fork() (LMDB's rule): open them in the process that uses them.
 *
 * How long a call may block
 * -------------------------
 * - Decisions never block on I/O or locks. With a user directory (db_path), a lookup is an
 *   LMDB read transaction (memory-mapped reads, no lock).
 * - open() and reload() read and compile the configuration: milliseconds to seconds (about
 *   2.5 s for 400,000 routes). reload() then waits until readers of the old snapshot in this
 *   process have left it (microseconds), and, with shared memory, until every other live
 *   process that decides has adopted the new generation: at most 30 s (then it logs a warning
 *   and returns 0; the late processes still follow on their own).
 * - users_import* write the LMDB directory: seconds per million users.
 *
 * Limits
 * ------
 * - Processes sharing one memory block: 512 (CRP_PROC_SLOTS); further ones decide correctly
 *   but are not waited for by reload(). Gateways with shared state: 4,096 names.
 * - A decision yields at most CR_ANSWER_ATTEMPTS attempts in a cr_route_answer (the total is
 *   in total_attempts) and at most 32 in a cr_result. Numbers: 128 characters; URIs 512 bytes.
 *
 * Ownership
 * ---------
 * - Every string passed to the library is borrowed for the duration of the call only; the
 *   library copies what it keeps.
 * - Every string the library passes to a host callback (cr_host.log's message, an rgs emit's
 *   call id, action and arguments) is valid only during that callback: copy it to keep it.
 * - A cr_result is owned by the caller and released with result_free(); every string returned
 *   by result_get/result_item points into it and is valid until then.
 * - Handles (cr_handle, cr_rgs) are released with close()/rgs_close().
 * - Error text goes into a buffer the caller owns (`err`, `errlen`): always NUL-terminated
 *   when errlen > 0, cut to fit.
 *
 * Errors
 * ------
 * Every function that can fail returns 0 (CR_ABI_OK) or one negative CR_ABI_E* code, the same
 * values the library uses internally (checked at compile time); strerror() names each.
 *
 * Results (cr_result)
 * -------------------
 * A result is an ordered set of fields (strings; numbers and booleans as text) and named lists
 * of items. result_json() renders it as one line of JSON in field order. The kinds, with their
 * top-level fields and lists, in order:
 * - route (route, route_ex): result_kind CR_DECISION_*; "decision" ("outbound", "internal",
 *   "blocked", "not_applicable"), "profile", "rule", "normalized", "target" (internal only),
 *   list "attempts" of {"gateway", "route", "usage", "uri"}, "reason"; list "trace" of {"text"}
 *   (not with CR_ROUTE_NO_TRACE).
 * - normalize: kind 1 when a rule matched, else 0; "input", "profile", "rule", "normalized";
 *   list "trace".
 * - dial: kind CR_DIAL_*; "input", "profile", "answer" ("complete", "need_more", "no_match"),
 *   "rule", "normalized" (complete only); list "trace".
 * - inbound: kind 1 when the called number is a user's, else 0; "gateway", "profile",
 *   "called", "calling", "target", "pai"; list "trace".
 * - gateways: kind 0; list "gateways" of {"name", "address", "state" ("up"/"down"), "since",
 *   "failures", "down_for_s"}.
 * - check: kind 0 when valid, 1 when refused; "config", "ok", "errors", "warnings",
 *   "profiles", "routes", "gateways", "users"; list "diagnostics" of {"level", "file", "line",
 *   "object", "message", "text"}.
 * - user_plan: kind 1 when `to` is a user, else 0; "from", "to", "callee", "reason",
 *   "branches", "no_answer", "notifications", "skipped" (JSON values: result_get returns
 *   their JSON text), "forwarded"; list "ring" of {"at", "branch", "kind", "target", "alt",
 *   "uri", "gateway", "address", "route", "usage", "remove_plus"}; list "trace".
 * - users_import: kind 0; "db", "file", "format", "replace", "read", "added", "replaced",
 *   "removed", "users", "lines", "file_bytes".
 * - bench: kind 0; see `callroute bench` (a development tool, see cr_plugin.bench).
 * A field that does not apply is JSON null and result_get() returns NULL for it.
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

/* Error codes: the one namespace of errors a host sees. The library's internal codes have the
 * same values (plugin-api/lib/plugin.c checks it with _Static_assert). */
#define CR_ABI_OK       0  /* success */
#define CR_ABI_EINVAL   -1 /* malformed argument or input (NULL handle, bad number or event) */
#define CR_ABI_ENOMEM   -2 /* out of memory */
#define CR_ABI_ECONFIG  -3 /* configuration refused: details in `err` or the diagnostics */
#define CR_ABI_ENOENT   -4 /* a named object (profile, gateway, user) does not exist */
#define CR_ABI_ERANGE   -5 /* output does not fit */
#define CR_ABI_EIO      -6 /* a file or directory could not be read or written */
#define CR_ABI_EVERSION -7 /* ABI version refused */
#define CR_ABI_ESTATE   -8 /* operation not valid in this state */
#define CR_ABI_ELIMIT   -9 /* a resource limit (match limit, budget, size) was hit */

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

/* What the host gives the plugin (to cr_plugin_entry; copied, so it may be a temporary).
 * Any function may be NULL: the plugin then logs to stderr and reads CLOCK_REALTIME. */
typedef struct cr_host {
    uint32_t abi_major; /* CR_ABI_MAJOR the host was built with */
    uint32_t size;      /* sizeof(cr_host) as the host knows it */
    void *ud;           /* passed back to every callback */
    /* One log line at a CR_LOG_* level, without a trailing newline. Called from any thread
     * that calls into the library, and from the reload watcher thread; must be thread-safe.
     * `message` is valid only during the call. */
    void (*log)(void *ud, int level, const char *message);
    /* Wall clock, milliseconds since the Unix epoch (gateway hold-off, business hours).
     * Called from deciding threads: must be cheap and thread-safe. */
    int64_t (*now_ms)(void *ud);
    /* Reserved: the library allocates with the C library's malloc/free in every build (its
     * memory is process-private; what processes share lives in cr_open_options.shared). Set
     * both to NULL; a non-NULL value is ignored. */
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
    /* User directory (LMDB, see users_import) opened read-only by each deciding process; or
     * NULL. Borrowed: the handle keeps a copy of the path. */
    const char *db_path;
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

    /* A static, human name for a CR_ABI_E* code ("invalid argument", ...); never NULL. */
    const char *(*strerror)(int code);
    /* Bytes of shared memory a host must give cr_open_options.shared (constant per build). */
    size_t (*shared_size)(void);

    /* Loads and compiles the XML at `path` (borrowed) into a new handle.
     * @param opts  may be NULL (defaults: process-private, 30 s hold-off, no directory).
     * @param out   receives the handle; close it with close(). NULL on failure.
     * @return 0; CR_ABI_ECONFIG with "file:line: error: object: message" lines in `err` for
     *         a refused configuration; CR_ABI_EINVAL (no path, bad options), CR_ABI_ENOMEM,
     *         CR_ABI_EIO (unreadable file or directory). */
    int (*open)(const char *path, const cr_open_options *opts, cr_handle **out, char *err,
                size_t errlen);
    /* Rebuilds from the handle's path (or `path` when not NULL, which becomes the handle's
     * path) and swaps atomically; see "How long a call may block". A configuration with
     * errors is refused (CR_ABI_ECONFIG, errors in `err`) and the running one stays, in this
     * process and in every other. On 0 every live process sharing `shared` decides with the
     * new configuration (or the 30 s bound passed, logged). */
    int (*reload)(cr_handle *h, const char *path, char *err, size_t errlen);
    /* Stops this process's watcher thread and frees the handle (NULL is ignored). Other
     * processes' handles over the same shared memory are not affected. */
    void (*close)(cr_handle *h);

    /* Validates and lints a file without a handle. `*out` gets a "check" result whose
     * "diagnostics" list holds every error and warning (also when refused); returns 0 (maybe
     * with warnings), CR_ABI_ECONFIG (errors), or CR_ABI_EINVAL/ENOMEM with *out NULL. */
    int (*check)(const char *path, cr_result **out);

    /* Outbound decision for a call from `from` (SIP URI) to `dialed` (digits, tel: or sip:
     * URI, may carry ;phone-context= and ;ext=). Returns 0 and a "route" result whose
     * result_kind is a CR_DECISION_* (a malformed number is a decision too: not_applicable
     * with a reason), or CR_ABI_EINVAL (NULL argument) / CR_ABI_ENOMEM and *out NULL. `down`
     * lists `ndown` gateway names to treat as down for this decision only (may be NULL). */
    int (*route)(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                 size_t ndown, cr_result **out);
    /* Normalizes `number` with the named profile (NULL = default profile): a "normalize"
     * result. CR_ABI_ENOENT: no such profile; CR_ABI_EINVAL: not a dialable number. */
    int (*normalize)(cr_handle *h, const char *profile, const char *number, cr_result **out);
    /* Off-hook dialing of `digits` (0-9 * # typed so far) with the named profile (NULL =
     * default): a "dial" result whose result_kind is a CR_DIAL_*. CR_ABI_ENOENT: no profile. */
    int (*dial)(cr_handle *h, const char *profile, const char *digits, cr_result **out);
    /* A call from gateway `gateway` (name or SIP address host[:port]; NULL = no gateway, the
     * default profile): returns CR_ABI_ENOENT and no result when `gateway` names no configured
     * gateway. Otherwise normalizes called and
     * calling numbers with its profile, looks up the callee. result_kind: 1 found, 0 no user;
     * fields "target", "called", "calling", "pai" (P-Asserted-Identity value or absent). */
    int (*inbound)(cr_handle *h, const char *gateway, const char *called, const char *calling,
                   cr_result **out);
    /* The gateway named `gateway` failed (503/504/408/timeout): mark it down for the
     * hold-off time in every process sharing the handle's memory; later decisions skip it.
     * Returns 0, CR_ABI_EINVAL (NULL/empty name) or CR_ABI_ENOMEM (no free gateway slot). */
    int (*gateway_failed)(cr_handle *h, const char *gateway);
    /* Gateway states as a "gateways" result (see Results). */
    int (*gateways)(cr_handle *h, cr_result **out);

    /* ---- results ---- */
    /* Frees a result and every string read from it (NULL is ignored). */
    void (*result_free)(cr_result *r);
    /* The result's kind (see Results): CR_DECISION_* for route, CR_DIAL_* for dial, ... */
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
    /* Starts an engine over the handle's response groups (the configuration current now; a
     * later reload does not change a running engine). `start_unix_ms` is the wall-clock time
     * of engine second 0 (business hours are computed from it); `state_dir` (may be NULL) is
     * an LMDB directory to persist sign-ins and waiting calls to, created if missing. *out is
     * closed with rgs_close(). Returns 0, CR_ABI_EINVAL, CR_ABI_EIO (state directory; message
     * in err) or CR_ABI_ENOMEM. */
    int (*rgs_open)(cr_handle *h, int64_t start_unix_ms, const char *state_dir, cr_rgs **out,
                    char *err, size_t errlen);
    /* Feeds one event, in the simulate format without the time ("call c1 sip:a@x sip:b@y",
     * "dtmf c1 5", ...), at engine time `at_ms`. Every action the engine emits is passed to
     * `emit` as (call id, action, args) strings, in order, before rgs_event returns (the
     * strings are valid during that emit call only). Timers due up to at_ms fire first.
     * Returns 0 or CR_ABI_EINVAL (with err) for a malformed event, which changes nothing. */
    int (*rgs_event)(cr_rgs *e, int64_t at_ms, const char *event,
                     void (*emit)(void *ud, int64_t at_ms, const char *call_id, const char *action,
                                  const char *args),
                     void *ud, char *err, size_t errlen);
    /* Runs timers due up to `now_ms` (engine time, ms), emitting as rgs_event does; returns
     * the next deadline in engine ms, or -1 if none. */
    int64_t (*rgs_advance)(cr_rgs *e, int64_t now_ms,
                           void (*emit)(void *ud, int64_t at_ms, const char *call_id,
                                        const char *action, const char *args),
                           void *ud);
    /* Flushes the state directory and frees the engine (NULL is ignored). */
    void (*rgs_close)(cr_rgs *e);

    /* ---- since ABI 1.1 (check `size` with CR_HAS before use) ---- */
    /* route with flags: CR_ROUTE_NO_TRACE leaves the "trace" list out (the hot path of a
     * SIP server). Same contract as route otherwise. */
    int (*route_ex)(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                    size_t ndown, unsigned flags, cr_result **out);
    /* Benchmarks decisions inside the library (see `callroute bench`). `args` holds the
     * command-line options as "key=value" strings (config=, generate=, numbers=, seconds=,
     * reload_ms=). The result carries decisions_per_sec, p50_ns, p99_ns, naive_p50_ns,
     * load_ms, rss_bytes and more. A development tool, not for production hosts. */
    int (*bench)(const char *const *args, size_t nargs, cr_result **out, char *err, size_t errlen);

    /* ---- since ABI 1.2: users and inbound call handling (SPEC §3) ---- */
    /* The ringing plan for a call from `from` to `to` (a user's SIP URI, tel: URI or number).
     * `endpoints` are the callee's registered contacts as known to the host (may be NULL).
     * result_kind 1 when `to` is a user, 0 otherwise; see the CLI `inbound` for the shape. */
    int (*user_plan)(cr_handle *h, const char *from, const char *to, const char *const *endpoints,
                     size_t nendpoints, cr_result **out);
    /* Imports users (XML with <users>, or CSV with the documented header) into the LMDB
     * directory at `db_dir` (created if missing) in one write transaction: readers in other
     * processes see the old users or the new ones. *out (may be NULL) gets a "users_import"
     * result. Returns 0, CR_ABI_ECONFIG (bad file: file:line in err), CR_ABI_EIO, ENOMEM. */
    int (*users_import)(const char *db_dir, const char *file, cr_result **out, char *err,
                        size_t errlen);
    /* Exports every user of the directory to `file` ("-" or NULL = stdout) as `format` "xml"
     * or "csv" (NULL: by the file's extension, else xml). Returns 0, CR_ABI_EINVAL (format),
     * CR_ABI_EIO (directory or file; message in err). */
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

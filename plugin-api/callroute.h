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
 *   route_ex, route_answer, normalize, dial, inbound, user_plan, gateway_failed, gateways,
 *   and since 1.6 user_plan_ex, gateway_result, gateway_set_state, gateway_probe,
 *   gateway_call, gateway_call_end, since 1.7 route_json, since 1.9 gateway_result_ex: the
 *   gateway members are lock-free atomics in the shared memory).
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
 *   A host that forks after open can keep it from starting until its last fork
 *   (hold_threads, since 1.12).
 *
 * Processes and fork()
 * --------------------
 * - A handle opened before fork() may be used in the children (the Kamailio pattern: open in
 *   mod_init, decide in the forked workers). Each process that decides registers itself in a
 *   process slot of the shared memory on its first decision and starts its own watcher
 *   thread then; the parent's watcher is not inherited (fork copies only the calling thread).
 * - With cr_open_options.shared, every process sharing that memory agrees on gateway up/down
 *   state (gateway_failed in one process is seen by all; likewise probes, the operator's
 *   state and the calls holding gateway ports), the load-spreading counter of each route,
 *   and the configuration generation. A reload in one process validates the file, compiles it
 *   into a plan image and publishes that image; every other process adopts exactly that image
 *   (its watcher thread, or its next decision if that comes first), never re-reading the file.
 * - Without shared memory the handle is private to the process.
 * - A cr_rgs and an LMDB user directory opened by the library must not be carried across
 *   fork() (LMDB's rule): open them in the process that uses them.
 *
 * How long a call may block
 * -------------------------
 * - Decisions never block on I/O or locks. With a user directory (db_path), a lookup is an
 *   LMDB read transaction (memory-mapped reads, no lock).
 * - open() and reload() read and compile the configuration: milliseconds to seconds (about
 *   1.5 s for 400,000 routes; a plan image is only mapped and verified). reload() then waits
 *   until readers of the old snapshot in this process have left it (microseconds). With shared
 *   memory it returns once the new plan is published, without waiting for the other
 *   processes: each one's next decision uses it (the decision adopts it inline when its
 *   watcher has not yet).
 * - users_import* write the LMDB directory: seconds per million users.
 *
 * Limits
 * ------
 * - Processes sharing one memory block: 512 (CRP_PROC_SLOTS) with a watcher of their own;
 *   further ones decide correctly and follow reloads at their next decision. Gateways with
 *   shared state: 4,096 names (gateway_failed/result/probe take a slot for any name given).
 * - A decision yields at most CR_ANSWER_ATTEMPTS attempts in a cr_route_answer (the total is
 *   in total_attempts) and at most 32 in a cr_result. Numbers: 128 characters; URIs 512 bytes.
 *
 * Ownership
 * ---------
 * - Every string passed to the library is borrowed for the duration of the call only; the
 *   library copies what it keeps.
 * - Every string the library passes to a host callback (cr_host.log's message, an rgs emit's
 *   call id, action and arguments, a cr_rgs_typed_action and all it points to) is valid only
 *   during that callback: copy it to keep it.
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
 * A NULL handle, a NULL out-pointer (`out`, a cr_route_answer, route_json's `put`) or a NULL
 * string the call needs is CR_ABI_EINVAL; on every failure `*out` (when given) is NULL. A
 * NULL result or engine given to a reader (result_*, rgs_* queries) gives NULL, 0 or -1,
 * and result_free/close/rgs_close(NULL) do nothing. A handle, engine or result must not be
 * used after it was closed or freed: the library cannot tell, as with free().
 *
 * Results (cr_result)
 * -------------------
 * A result is an ordered set of fields (strings; numbers and booleans as text) and named lists
 * of items. result_json() renders it as one line of JSON in field order. The kinds, with their
 * top-level fields and lists, in order:
 * - route (route, route_ex; route_json writes its JSON): result_kind CR_DECISION_*;
 *   "decision" ("outbound", "internal", "blocked", "not_applicable"), "profile", "rule",
 *   "normalized", "target" (internal only:
 *   the callee's SIP URI, or a response-group workflow's contact URI for its line),
 *   list "attempts" of {"gateway", "route", "usage", "uri"}, "reason"; list "trace" of {"text"}
 *   (not with CR_ROUTE_NO_TRACE).
 * - normalize: kind 1 when a rule matched, else 0; "input", "profile", "rule", "normalized";
 *   list "trace".
 * - dial: kind CR_DIAL_*; "input", "profile", "answer" ("complete", "need_more", "no_match"),
 *   "rule", "normalized" (complete only); list "trace".
 * - inbound: kind 1 when the called number is a user's or a workflow's line, else 0;
 *   "gateway", "profile", "called", "calling", "target" (the user's SIP URI or the workflow's
 *   contact URI), "workflow" (the workflow's name, null for a user), "pai"; list "trace".
 * - gateways: kind 0; list "gateways" of {"name", "address", "state" ("up"/"down"/"full"),
 *   "reason" (why down or full, "" when up), "mode" ("auto"/"up"/"down": gateway_set_state),
 *   "since", "failures", "calls" (holding a port now), "ports" (0 = unlimited),
 *   "down_for_s" (held down after failures only)}.
 * - check: kind 0 when valid, 1 when refused; "config", "ok", "errors", "warnings",
 *   "profiles", "routes", "gateways", "users"; list "diagnostics" of {"level", "file", "line",
 *   "object", "message", "text"}.
 * - user_plan: kind 1 when `to` is a user, else 0; "from", "to", "callee", "branches",
 *   "no_answer", "notifications" (JSON values: result_get returns their JSON text),
 *   "forwarded" (null when `to` is no user), "skipped" (JSON too), "reason"; list "ring" of
 *   {"at", "branch", "kind", "target", "alt", "uri", "gateway", "address", "workflow" (a "sip"
 *   row to a response group's URI: the workflow's name, which the host hands the branch to),
 *   and for a "pstn" row "route", "usage", "remove_plus"}; list "trace".
 * - users_import: kind 0; "db", "file", "format", "replace", "read", "added", "replaced",
 *   "removed", "warnings", "users", "lines", "file_bytes", "used_bytes", "seconds".
 * - bench: kind 0; see `callroute bench` (a development tool, see cr_plugin.bench).
 * - rgs_snapshot: kind 0; lists "queues", "calls", "agents", "memberships" (see
 *   cr_plugin.rgs_snapshot).
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
#define CR_ABI_MINOR 14

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
    char target[CR_ANSWER_URI]; /* internal: the callee's (or workflow's) SIP URI */
    char reason[CR_ANSWER_URI];
    char profile[CR_ANSWER_NAME];
    char rule[CR_ANSWER_NAME];
    uint32_t nattempts;      /* attempts filled (at most CR_ANSWER_ATTEMPTS) */
    uint32_t total_attempts; /* attempts the decision had */
    cr_route_attempt attempts[CR_ANSWER_ATTEMPTS];
} cr_route_answer;

/* ---- typed response groups (ABI 1.5) ----------------------------------------------------- */
/*
 * A host that runs a response-group engine (cr_rgs) for real calls feeds it typed events and
 * carries out typed actions; nothing is formatted or parsed on either side. The text form
 * (rgs_event, `callroute simulate`) is a layer over the same engine entry and gives the same
 * actions.
 *
 * Handles
 * - Agent: uint32, from rgs_agent_id(uri); group: uint32, from rgs_group_id(name). Both are
 *   fixed for the life of the engine (they number the configuration it was opened with); 0
 *   means none.
 * - Call: uint64, never 0, chosen by the host in its CALL event (e.g. a SIP transaction's
 *   hash index and label packed in 64 bits) and named by every later event and action of
 *   that call. A CALL with call == 0 lets the engine choose one; the host learns it from the
 *   call's first action. Since ABI 1.13, rgs_call_typed makes a call with a handle the
 *   engine gives, returned at once, which later events find faster than a host's. A handle
 *   is free again once the call's final action (BRIDGE is not final; HANGUP, TRANSFER,
 *   VOICEMAIL are) or the caller's HANGUP event has been handled. Each call also has a name
 *   (call_id): the host's, or the handle in decimal; it appears in the queue event log, IVR
 *   scripts and the text form.
 */

/* cr_rgs_typed_event.type: what happened. */
#define CR_RGS_EVENT_CALL         0  /* a call arrived: call, from, to (call_id optional) */
#define CR_RGS_EVENT_PRESENCE     1  /* agent's presence changed: agent, presence */
#define CR_RGS_EVENT_SIGNIN       2  /* agent signed in to group (0 = all his formal groups) */
#define CR_RGS_EVENT_SIGNOUT      3  /* agent signed out of group (0 = all) */
#define CR_RGS_EVENT_DTMF         4  /* call, text = digits */
#define CR_RGS_EVENT_SPEECH       5  /* call, text = recognized words */
#define CR_RGS_EVENT_PROMPT_DONE  6  /* call: the prompt being played ended */
#define CR_RGS_EVENT_ANSWER       7  /* call, agent: the agent answered his offer */
#define CR_RGS_EVENT_DECLINE      8  /* call, agent: the agent declined it */
#define CR_RGS_EVENT_HANGUP       9  /* call: the caller hung up (any state) */
#define CR_RGS_EVENT_AGENT_HANGUP 10 /* call: the agent ended the connected call */
#define CR_RGS_EVENT_NO_ANSWER                                                                     \
    11 /* call, agent: the offer timed out at the host (the                                        \
        * branch is gone: no CANCEL follows for it) */

/* Presence states (CR_RGS_EVENT_PRESENCE). Formal or not, an agent whose presence leaves
 * AVAILABLE while rung is cancelled at once, except by attendant groups, which ring agents
 * whatever their presence (SPEC §4); signing out of the ringing group cancels always. */
#define CR_RGS_PRESENCE_AVAILABLE 0
#define CR_RGS_PRESENCE_BUSY      1
#define CR_RGS_PRESENCE_AWAY      2
#define CR_RGS_PRESENCE_DND       3
#define CR_RGS_PRESENCE_OFFLINE   4

/* One event (rgs_event_typed). Zero-initialise, set size = sizeof(cr_rgs_typed_event).
 * Strings are borrowed for the duration of the call; members an event does not use are
 * ignored. */
typedef struct cr_rgs_typed_event {
    uint32_t size;
    int type;            /* CR_RGS_EVENT_* */
    uint64_t call;       /* the call (every event but PRESENCE, SIGNIN, SIGNOUT) */
    uint32_t agent;      /* PRESENCE, SIGNIN, SIGNOUT, ANSWER, DECLINE, NO_ANSWER */
    uint32_t group;      /* SIGNIN, SIGNOUT: group handle, 0 = every group of the agent */
    int presence;        /* PRESENCE: CR_RGS_PRESENCE_* */
    const char *from;    /* CALL: the caller's URI (may be NULL) */
    const char *to;      /* CALL: the called URI (the workflow's uri or line) */
    const char *text;    /* DTMF digits, SPEECH words */
    const char *call_id; /* CALL: the call's name (NULL = the handle in decimal) */
} cr_rgs_typed_event;

/* cr_rgs_typed_action.type: what the host must do now. */
#define CR_RGS_ACTION_ANSWER    0  /* answer the caller (200 OK / media) */
#define CR_RGS_ACTION_PLAY      1  /* play prompt `arg`; report PROMPT_DONE when it ends */
#define CR_RGS_ACTION_COLLECT   2  /* collect DTMF / speech; arg = choices (may be "") */
#define CR_RGS_ACTION_MOH       3  /* music on hold file `arg` ("default" when none) */
#define CR_RGS_ACTION_RING      4  /* ring agents[0..nagents) for the call */
#define CR_RGS_ACTION_CANCEL    5  /* stop ringing agents[0..nagents); answers are refused */
#define CR_RGS_ACTION_BRIDGE    6  /* connect the caller to agents[0] (who answered) */
#define CR_RGS_ACTION_TRANSFER  7  /* transfer to `arg` (SIP URI or number); final */
#define CR_RGS_ACTION_VOICEMAIL 8  /* send to voicemail `arg`; final */
#define CR_RGS_ACTION_HANGUP    9  /* hang up, `reason` (arg = its text); final */
#define CR_RGS_ACTION_SET       10 /* an IVR script's call:set(arg, value) */
#define CR_RGS_ACTION_LOG                                                                          \
    11 /* a queue or IVR event log line `arg` (call 0, call_id                                     \
        * "-"), only while the log is on (CR_RGS_OPEN_LOG) */

/* Hang-up reasons (CR_RGS_ACTION_HANGUP.reason). */
#define CR_RGS_REASON_NONE        0
#define CR_RGS_REASON_NOT_FOUND   1  /* no workflow at the called URI */
#define CR_RGS_REASON_INACTIVE    2  /* workflow inactive */
#define CR_RGS_REASON_HOLIDAY     3  /* holiday, action disconnect */
#define CR_RGS_REASON_AFTER_HOURS 4  /* after hours, action disconnect */
#define CR_RGS_REASON_NO_AGENTS   5  /* the queue has no agents at all */
#define CR_RGS_REASON_TIMEOUT     6  /* queue timeout, action disconnect */
#define CR_RGS_REASON_OVERFLOW    7  /* queue overflow, action disconnect */
#define CR_RGS_REASON_AGENT       8  /* the agent hung up (after AGENT_HANGUP) */
#define CR_RGS_REASON_NO_IVR      9  /* IVR workflow without a loadable script */
#define CR_RGS_REASON_IVR_ERROR   10 /* the IVR script failed */
#define CR_RGS_REASON_NO_QUEUE    11 /* the IVR named an unknown queue */
#define CR_RGS_REASON_LOOP        12 /* queue actions looped */
#define CR_RGS_REASON_DISCONNECT  13 /* a configured disconnect */
#define CR_RGS_REASON_IVR         14 /* the IVR script hung up: arg is its reason */

/* One action, valid during the callback only (every pointer in it too): copy what you keep.
 * `size` is sizeof(cr_rgs_typed_action) as the library knows it: check members added after
 * ABI 1.5 with CR_HAS. */
typedef struct cr_rgs_typed_action {
    uint32_t size;
    int type;               /* CR_RGS_ACTION_* */
    uint64_t call;          /* the call's handle (0 for LOG) */
    const char *call_id;    /* the call's name ("-" for LOG) */
    const uint32_t *agents; /* RING, CANCEL: the agents; BRIDGE: the one; else NULL */
    uint32_t nagents;
    int reason;        /* HANGUP: CR_RGS_REASON_*, else 0 */
    const char *arg;   /* see the types; never NULL ("" when none) */
    const char *value; /* SET: the value; else NULL */
} cr_rgs_typed_action;

/* Receives each action of rgs_event_typed / rgs_advance_typed, in order, at engine time
 * at_ms, on the calling thread, before the call into the library returns. It must not call
 * back into the same cr_rgs. */
typedef void (*cr_rgs_action_fn)(void *ud, int64_t at_ms, const cr_rgs_typed_action *action);

/* rgs_open_ex options: zero-initialise, set size = sizeof(cr_rgs_open_options). */
#define CR_RGS_OPEN_DROP_CALLS                                                                     \
    1u /* calls found in state_dir are dropped (waiting and connected                              \
        * alike, removed from it) and no agent is ever rung for them:                              \
        * for hosts whose calls die with the process (a SIP proxy).                                \
        * Sign-ins, presence, idle times, round-robin positions stay. */
#define CR_RGS_OPEN_LOG                                                                            \
    2u /* queue and IVR event log lines as LOG actions from the start                              \
        * (the text form's "log on") */
typedef struct cr_rgs_open_options {
    uint32_t size;
    int64_t start_unix_ms; /* wall clock of engine time 0 (business hours) */
    const char *state_dir; /* LMDB directory (created if missing) or NULL; borrowed */
    unsigned flags;        /* CR_RGS_OPEN_* */
} cr_rgs_open_options;

/* Counters of one workflow (rgs_stats) since the engine was opened, and its calls now. Set
 * size = sizeof(cr_rgs_stats); the library fills what fits. */
typedef struct cr_rgs_stats {
    uint32_t size;
    const char *workflow;      /* its name (valid until rgs_close) */
    const char *uri;           /* its contact URI (same) */
    uint64_t offered;          /* calls that reached it */
    uint64_t answered;         /* bridged to an agent */
    uint64_t abandoned;        /* the caller hung up while in a queue */
    uint64_t timed_out;        /* left a queue by its timeout */
    uint64_t overflowed;       /* left a queue by its overflow */
    uint64_t after_hours;      /* arrived after hours */
    uint64_t holiday;          /* arrived on a holiday */
    uint64_t waiting;          /* in a queue now (waiting or being rung) */
    int64_t longest_wait_ms;   /* longest wait among those, 0 when none */
    uint64_t agents_signed_in; /* distinct agents of its queue taking part now */
} cr_rgs_stats;

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
    /* Wall clock, milliseconds since the Unix epoch: gateway hold-offs (failures, Retry-After)
     * and the times of the gateways result run on it. Response groups do not read it: their
     * time is the engine time the host passes (rgs_open's start_unix_ms, then at_ms). Called
     * only from the host's threads that call into the library (never from the library's own
     * threads, which time their waits with the system's clocks): must be cheap and
     * thread-safe. */
    int64_t (*now_ms)(void *ud);
    /* Reserved: the library allocates with the C library's malloc/free in every build (its
     * memory is process-private; what processes share lives in cr_open_options.shared). Set
     * both to NULL; a non-NULL value is ignored. */
    void *(*alloc)(void *ud, size_t size);
    void (*free)(void *ud, void *ptr);
} cr_host;

/* Options for open. Zero-initialise, set size = sizeof(cr_open_options): open refuses a size
 * below the ABI 1.0 members (up to db_path) with CR_ABI_EINVAL. */
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
    /* since ABI 1.6: gateway failures in a row (503 without Retry-After, 504, other 5xx) that
     * hold a gateway down for the hold-off; 0 = 3. See gateway_result. */
    int gateway_fail_threshold;
    /* since ABI 1.8: the longest a caller may wait in a response group on this host, in
     * seconds (Kamailio: the module's rgs_max_wait); 0 = unknown. check_ex warns of every
     * queue whose <timeout> is longer (its callers are ended first and never reach the
     * timeout action), and open/reload log them with the configuration's other warnings
     * through cr_host.log. */
    int rgs_max_wait_s;
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
     *         a refused configuration (a missing or unreadable file too: "FILE: error: cannot
     *         read ..."); CR_ABI_EINVAL (no path or out, a shared block too small),
     *         CR_ABI_ENOMEM, CR_ABI_EIO (a plan image that cannot be read or mapped). */
    int (*open)(const char *path, const cr_open_options *opts, cr_handle **out, char *err,
                size_t errlen);
    /* Rebuilds from the handle's path (or `path` when not NULL, which becomes the handle's
     * path) and swaps atomically; see "How long a call may block". A configuration with
     * errors is refused (CR_ABI_ECONFIG, errors in `err`) and the running one stays, in this
     * process and in every other. On 0 the new plan is published: every later decision of
     * every process sharing `shared` uses it. CR_ABI_EINVAL for a NULL handle. */
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
     * lists `ndown` gateway names to treat as down for this decision only (may be NULL: no
     * gateway, whatever ndown; NULL entries are skipped). */
    int (*route)(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                 size_t ndown, cr_result **out);
    /* Normalizes `number` with the named profile (NULL = default profile; the exact name
     * first, else the one whose name differs only in case): a "normalize" result, whose
     * "profile" is the name as configured. CR_ABI_ENOENT: no such profile; CR_ABI_EINVAL: not
     * a dialable number. */
    int (*normalize)(cr_handle *h, const char *profile, const char *number, cr_result **out);
    /* Off-hook dialing of `digits` (0-9 * # typed so far; visual separators, space - . ( ),
     * are removed first) with the named profile (NULL = default; named as for normalize): a
     * "dial" result whose result_kind is a CR_DIAL_*. CR_ABI_ENOENT: no profile. */
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
     * "dtmf c1 5", "no_answer c1 sip:agent@x", ...), at engine time `at_ms`. The text form
     * for people and tests: the names are resolved to handles and the event goes through the
     * same engine entry as rgs_event_typed (ABI 1.5), which a SIP host should use instead. Every
     * action the engine emits is passed to `emit` as (call id, action, args) strings, in order,
     * before rgs_event returns (the strings are valid during that emit call only). Timers due up to
     * at_ms fire first. Returns 0; CR_ABI_EINVAL for a malformed event; and as rgs_event_typed
     * CR_ABI_ENOENT (unknown call, agent or group), CR_ABI_ESTATE (a call name in use, an answer
     * from an agent not ringing for the call, ...): with the message in err, and then nothing
     * was done but the timers that were due. */
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
     * SIP server); CR_ROUTE_FRESH_SPREAD decides from zeroed load-spreading counters without
     * advancing the shared ones (a library before 1.6 ignores it). Same contract as route
     * otherwise. */
    int (*route_ex)(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                    size_t ndown, unsigned flags, cr_result **out);
    /* Benchmarks decisions inside the library (see `callroute bench`). `args` holds the
     * command-line options as "key=value" strings (config=, generate=, numbers=, seconds=,
     * reload_ms=). The result carries decisions_per_sec, p50_ns, p99_ns, naive_p50_ns,
     * load_ms, rss_bytes and more. A development tool, not for production hosts: NULL in
     * libcallroute.so (`callroute bench` links its own build of the library). */
    int (*bench)(const char *const *args, size_t nargs, cr_result **out, char *err, size_t errlen);

    /* ---- since ABI 1.2: users and inbound call handling (SPEC §3) ---- */
    /* The ringing plan for a call from `from` to `to` (a user's SIP URI, tel: URI or number).
     * `endpoints` are the callee's registered contacts as known to the host (may be NULL:
     * none, whatever nendpoints; NULL or empty entries are skipped).
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
     * CR_ABI_ENOENT (no directory at db_dir), CR_ABI_EIO (directory or file unreadable or
     * unwritable); message in err. */
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
    /* check with options: opts->include_dirs, and opts->db_path (the users of that LMDB
     * directory are checked against the configuration too: duplicates are errors, undefined
     * voice policies and location profiles warnings); opts may be NULL (= check). */
    int (*check_ex)(const char *path, const cr_open_options *opts, cr_result **out);

    /* ---- also since ABI 1.5: typed response groups (see "typed response groups" above) ---- */
    /* rgs_open with options (NULL = as rgs_open with start 0 and no state directory). With
     * CR_RGS_OPEN_DROP_CALLS the engine never rings an agent for a call of a previous run.
     * Returns as rgs_open; CR_ABI_EINVAL for a NULL handle/out or a size too small. */
    int (*rgs_open_ex)(cr_handle *h, const cr_rgs_open_options *opts, cr_rgs **out, char *err,
                       size_t errlen);
    /* Feeds one typed event at engine time at_ms (never before the previous one; timers due
     * up to at_ms fire first). Every action goes to `emit` (may be NULL) before the return.
     * Returns 0; CR_ABI_EINVAL (NULL, size too small, unknown type or presence, call 0);
     * CR_ABI_ENOENT (unknown call, agent or group handle, agent not in that group);
     * CR_ABI_ESTATE (call handle or name in use; an answer/decline/no-answer from an agent
     * not ringing for the call, e.g. after a CANCEL; agent hang-up of a call not
     * connected); CR_ABI_EIO (state directory); CR_ABI_ENOMEM. On an error nothing was done
     * but the timers that were due. Message in err. */
    int (*rgs_event_typed)(cr_rgs *e, int64_t at_ms, const cr_rgs_typed_event *ev,
                           cr_rgs_action_fn emit, void *ud, char *err, size_t errlen);
    /* Runs timers due up to now_ms (actions to emit, may be NULL); returns the next deadline
     * in engine ms, or -1 when none. */
    int64_t (*rgs_advance_typed)(cr_rgs *e, int64_t now_ms, cr_rgs_action_fn emit, void *ud);
    /* The engine's next timer deadline (engine ms), or -1: when the host's timer must call
     * rgs_advance_typed. Changes after every event and advance. Cheap (no work done). */
    int64_t (*rgs_next_deadline)(cr_rgs *e);
    /* Handles of an agent URI / group name; 0 when the configuration has none. */
    uint32_t (*rgs_agent_id)(cr_rgs *e, const char *uri);
    uint32_t (*rgs_group_id)(cr_rgs *e, const char *name);
    /* The agent URI / group name of a handle, valid until rgs_close; NULL when unknown. */
    const char *(*rgs_agent_uri)(cr_rgs *e, uint32_t agent);
    const char *(*rgs_group_name)(cr_rgs *e, uint32_t group);
    /* The handle of the live call named call_id, 0 when none. */
    uint64_t (*rgs_call_handle)(cr_rgs *e, const char *call_id);
    /* The name of live call `call` into buf (NUL-terminated, cut to fit); returns its length
     * (like snprintf), or 0 when no such call. */
    size_t (*rgs_call_id)(cr_rgs *e, uint64_t call, char *buf, size_t len);
    /* Statistics of workflow number `workflow` (0, 1, ... in configuration order) at engine
     * time at_ms into *out (out->size set by the host). Returns 0, CR_ABI_ENOENT past the
     * last workflow (a host loops until then), CR_ABI_EINVAL. */
    int (*rgs_stats)(cr_rgs *e, int64_t at_ms, uint32_t workflow, cr_rgs_stats *out);
    /* The engine's state now as an "rgs_snapshot" result (for status RPCs): lists "queues"
     * {"queue", "waiting", "ringing", "longest_wait_s"}; "calls" (per queue, first in first)
     * {"queue", "call", "id", "caller", "waited_s", "state" ("waiting"|"ringing")}; "agents"
     * {"agent", "presence", "state" ("idle"|"ringing"|"on_call"), "calls", "answered"};
     * "memberships" {"agent", "group", "formal", "signed_in"}. Returns 0 or CR_ABI_ENOMEM;
     * free it with result_free. Costs the size of the configuration and of the queues. */
    int (*rgs_snapshot)(cr_rgs *e, int64_t at_ms, cr_result **out);

    /* ---- since ABI 1.6: gateway health and capacity ---- */
    /* The final answer `code` of gateway `gateway` to a call (0 = no answer in time), with
     * the seconds of its Retry-After (0 = none). Failure classes: 408 or 0 holds the gateway
     * down for the hold-off (unreachable); 503 with Retry-After holds it down that long; 503
     * without Retry-After, 504 and other 5xx hold it down only after
     * cr_open_options.gateway_fail_threshold of them in a row; any other code resets that
     * count. Returns 1 when the gateway is now held down, 0 when it stays up, CR_ABI_EINVAL,
     * CR_ABI_ENOMEM (no free gateway slot). */
    int (*gateway_result)(cr_handle *h, const char *gateway, int code, int retry_after_s);
    /* Operator state: CR_GATEWAY_AUTO (probes and failures decide), CR_GATEWAY_UP (always
     * offered), CR_GATEWAY_DOWN (never offered). Every process sharing the memory agrees.
     * Returns 0, CR_ABI_EINVAL, CR_ABI_ENOENT (no such gateway configured). */
    int (*gateway_set_state)(cr_handle *h, const char *gateway, int state);
    /* The outcome of a health probe (SIP OPTIONS): up = 0 marks the gateway down until a
     * probe with up = 1 (which also ends an "unreachable" hold-off). Returns 0 or
     * CR_ABI_EINVAL/ENOMEM. */
    int (*gateway_probe)(cr_handle *h, const char *gateway, int up);
    /* Call `call_id` takes a port of `gateway` (its ports="N" capacity, counted across the
     * processes sharing the memory) until gateway_call_end; a call that held a port of
     * another gateway releases it. Returns 0, CR_ABI_ELIMIT (every port in use: try the next
     * attempt), CR_ABI_ENOENT (no such gateway), CR_ABI_ENOMEM (call table full: the call is
     * not counted), CR_ABI_EINVAL. */
    int (*gateway_call)(cr_handle *h, const char *gateway, const char *call_id);
    /* Call `call_id` ended (BYE, failure, CANCEL): frees its port. 0 or CR_ABI_ENOENT (it
     * held none). */
    int (*gateway_call_end)(cr_handle *h, const char *call_id);
    /* plan images (also since ABI 1.6) */
    /* Loads and validates the configuration at `config` (XML or a plan image; only
     * opts->include_dirs is used, opts may be NULL) and writes its compiled plan image to
     * `out_path` (replaced atomically). open, check and reload accept such an image wherever
     * they accept a configuration file. Returns 0, CR_ABI_ECONFIG (errors in err, as
     * "file:line: error: ..." lines), CR_ABI_EIO (out_path not writable), CR_ABI_ENOMEM. */
    int (*compile)(const char *config, const cr_open_options *opts, const char *out_path, char *err,
                   size_t errlen);
    /* ---- since ABI 1.6 too: user_plan for a call that arrived from `gateway` (name or SIP
     * address host[:port]; NULL = not from a gateway). A callee enabled for PBX integration
     * gets a "pbx" branch forking to the PBX through the route for its own line, unless the
     * call came from one of that route's gateways. CR_ABI_ENOENT: no such gateway. */
    int (*user_plan_ex)(cr_handle *h, const char *from, const char *to, const char *gateway,
                        const char *const *endpoints, size_t nendpoints, cr_result **out);

    /* ---- since ABI 1.7 ---- */
    /* route_ex's decision as its one line of JSON, with no cr_result built: exactly the bytes
     * result_json gives for route_ex's result with the same arguments (flags: as route_ex;
     * no trace is built, JSON never shows it). `put` receives the whole line once (`len`
     * bytes, no NUL, valid during that call only), on the calling thread, before route_json
     * returns; *kind (may be NULL) gets the decision's CR_DECISION_*. Returns 0, or
     * CR_ABI_EINVAL (NULL handle, from, dialed or put) or CR_ABI_ENOMEM, and then `put` was
     * not called. Allocates nothing unless the line is longer than 8 KB. The batch path of
     * a test or reporting tool (`callroute route --batch`); a SIP server uses route_answer. */
    int (*route_json)(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                      size_t ndown, unsigned flags,
                      void (*put)(void *ud, const char *json, size_t len), void *ud, int *kind);

    /* ---- since ABI 1.9 ---- */
    /* gateway_result telling what it decided, so that a host counts gateway failures by the
     * library's failure classes instead of repeating them: the same effect and the same one
     * log line, returning flags: CR_GATEWAY_RESULT_FAILURE when `code` is in a failure class
     * (408 or 0, 5xx: the gateway's failure count went up), plus CR_GATEWAY_RESULT_DOWN when
     * the gateway is now held down; 0 for any other answer (its failures in a row reset).
     * Or CR_ABI_EINVAL, CR_ABI_ENOMEM (no free gateway slot) as gateway_result. */
    int (*gateway_result_ex)(cr_handle *h, const char *gateway, int code, int retry_after_s);

    /* ---- since ABI 1.10: reading a plan image ahead of open ---- */
    /* Starts reading the plan image at `path` as the first open() of it in a process sharing
     * memory with others reads it (a read lease, the checksum, the records checked unless the
     * image's stamp matches), and keeps the result for the next open() of the same path in
     * this process or in a process forked from it. What opens or closes a descriptor is done
     * before preload returns, in the calling thread, the lease held on a descriptor numbered
     * 32 or above (a host may close 3 to 31 afterwards, as Kamailio's daemonize() does); the
     * checksum and the records, memory only, are read on a thread of the library's meanwhile.
     * The library waits for that thread before any fork() (pthread_atfork) and at exit.
     * Nothing is published or logged: the open that takes the result does that. Only
     * rgs_max_wait_s of `opts` is read (may be NULL); an open with other options, of another
     * path or of one naming another file by then (the host changed its directory or root, a new
     * image was renamed over it), after a writer broke the lease, or after the read failed reads
     * the file again (and reports what it finds).
     * Kamailio's module calls it from its "config" parameter, before mod_init.
     * @return 0 (reading); CR_ABI_EINVAL when `path` is not a plan image (nothing to read
     *         ahead); CR_ABI_EIO when no lease can be taken there (the open copies the image
     *         instead, as always); CR_ABI_ECONFIG for an image refused by its header. */
    int (*preload)(const char *path, const cr_open_options *opts, char *err, size_t errlen);
    /* Drops what preload kept and no open took (the lease released, the mapping freed),
     * waiting for its thread. A host calls it once its first open() returned, whatever that
     * returned. */
    void (*preload_drop)(void);

    /* ---- since ABI 1.11: a forked process that decides later ---- */
    /* In a process forked from one that opened a handle with shared memory (a host's SIP
     * worker, before its first call): the plan it inherited stops mapping its image (the
     * mapping is replaced by an inaccessible reservation of the same addresses; the plan's
     * memory, the parent's pages shared copy-on-write, is kept), so that until it decides the
     * process holds no image, no thread and no process slot, and follows no reload or move.
     * Its first open() then takes the plan back without reading it (the published image mapped
     * at the same addresses) when it is still the published plan, else adopts the one
     * published, and starts its watcher. The inherited handle itself must not be used in this
     * process afterwards: open one. Nothing to park (nothing inherited, or taken here
     * already): does nothing. */
    void (*park)(void);

    /* ---- since ABI 1.12: a host that forks after open ---- */
    /* hold_threads(1): from now until hold_threads(0), the library starts no thread of its own
     * in the calling process (a handle's reload watcher, the mover that copies an admin's plan
     * image into the runtime directory); what they would start waits. hold_threads(0) starts
     * them. For a host that opens in one process and then forks many (Kamailio: mod_init, then
     * every worker): a fork of a process with threads costs more (glibc's fork handling, the
     * threads' stacks copied), and none of those threads is wanted in the children anyway.
     * Meanwhile a handle with no watcher follows a reload made elsewhere inline at its next
     * decision, and the admin's image stays leased. A process forked while held is not held.
     * Not counted: one hold_threads(0) ends any number of hold_threads(1). No close() may run
     * concurrently with hold_threads(0) in the same process (it starts the handles' watchers). */
    void (*hold_threads)(int hold);

    /* ---- since ABI 1.13: call handles given by the engine ---- */
    /* rgs_event_typed for a CALL event whose handle the engine gives: ev->type must be
     * CR_RGS_EVENT_CALL and ev->call 0, `call` not NULL (else CR_ABI_EINVAL, nothing done).
     * The handle names the call's place in the engine, so that every later event of the call
     * (rgs_event_typed with ev->call set to it) finds the call with one memory read, where a
     * handle the host chose is looked up in a table of handles first (a cache miss more per
     * event on a busy engine). *call receives it before the first action is emitted (the
     * call's actions carry it too, as always); it stays 0 when no call was made (an error).
     * Otherwise as rgs_event_typed: the same actions, errors and name (ev->call_id; NULL =
     * the handle in decimal). rgs_event_typed's own CALL with call 0 is unchanged (the engine
     * numbers those calls 1, 2, ...).
     * The handle is never 0 and has its top bit set: a host handle below 2^63 never equals
     * one. Handles stay unique among live calls, whoever chose them: a CALL through
     * rgs_event_typed naming a live call's handle, given by the engine or not, gets
     * CR_ABI_ESTATE as before, and the engine gives no handle a live call has. Once the call
     * has ended (its final action, or the caller's HANGUP event, handled), its handle names
     * no call (CR_ABI_ENOENT), and the engine does not give it again before it has given
     * 2^32 more handles naming the same place. Calls restored from a state directory keep
     * their handles (any kind), and the engine gives no new call a handle equal to a restored
     * call's (handles of calls that ended before the restart are not remembered). A host may
     * use both kinds of handles in one engine. */
    int (*rgs_call_typed)(cr_rgs *e, int64_t at_ms, const cr_rgs_typed_event *ev, uint64_t *call,
                          cr_rgs_action_fn emit, void *ud, char *err, size_t errlen);

    /* ---- since ABI 1.14: inputs for comparing two configurations (callroute diff) ---- */
    /* A "samples" result of the handle's plan. List "callers" (field "uri"): one user of the
     * configuration (not of its user directory) for each distinct voice policy, location
     * profile and Enterprise Voice flag, in configuration order. List "numbers" (fields
     * "number", "kind", "name"): up to per_pattern (64 at most) distinct numbers matched by
     * each normalization rule (kind "rule", name "profile/rule": numbers as dialed) and by
     * each route (kind "route", its name: numbers as normalized), drawn from the patterns
     * the same way every time; a pattern with lookarounds or back-references gives none. */
    int (*samples)(cr_handle *h, unsigned per_pattern, cr_result **out);
} cr_plugin;

/* gateway_result_ex flags (ABI 1.9) */
#define CR_GATEWAY_RESULT_FAILURE 1
#define CR_GATEWAY_RESULT_DOWN    2

#define CR_GATEWAY_AUTO 0
#define CR_GATEWAY_UP   1
#define CR_GATEWAY_DOWN 2

#define CR_IMPORT_REPLACE 1u

#define CR_ROUTE_NO_TRACE 1u
/* route_ex: decide from a fresh load-spreading state (every counter at zero, as right after
 * open) and leave the shared counters as they are: what a test tool wants for each number of
 * a batch (the same number gets the same gateway order wherever it stands). */
#define CR_ROUTE_FRESH_SPREAD 2u

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

/*
 * Response Group Service: the model (agent groups, queues, hours, holidays, workflows) and
 * the match-making engine that routes and queues calls to agents.
 *
 * The model is plain data. A loader (rules/rgs_xml.c) fills a cr_rgs_config with the
 * cr_rgs_config_add_* functions, hands it time-zone data with cr_rgs_config_add_tz (the
 * bytes of a TZif file: the loader does the file I/O) and calls cr_rgs_config_resolve,
 * which resolves names and validates. A resolved config is immutable and may be shared by
 * any number of engines.
 *
 * The engine is a deterministic state machine with no I/O except the optional LMDB state
 * directory (rgs_store.c). The host feeds events stamped with engine time in milliseconds
 * (0 = the wall-clock instant `start_unix_ms` given at open); the engine answers with
 * actions through a callback, in order, and tells the host its next timer deadline. Time
 * comes only from the host, so a timeline replays exactly.
 *
 * The engine's one entry is typed (cr_rgs_engine_input: integer handles, no text to parse;
 * actions as cr_rgs_output structs). The text form of `callroute simulate`
 * (cr_rgs_event_parse, cr_rgs_engine_event) is a layer over it that resolves names and
 * formats actions, so both give the same actions.
 *
 * Actions (the host carries them out), as (call id, action, args):
 *   answer | play <prompt> | collect [choices] | moh <file> | ring <agent-uri...>
 *   cancel <agent-uri...> | bridge <agent-uri> | transfer <uri> | voicemail <uri>
 *   hangup <reason>
 * Hang-up reasons: not_found (no workflow at that URI), inactive, holiday, after_hours,
 * no_agents (queue without agents), timeout, overflow (disconnect actions), agent (the
 * agent hung up), no_ivr (IVR workflow without a driver), ivr_error, no_queue, loop, or
 * the reason an IVR script gave.
 *
 * Not thread-safe: one engine is used by one thread at a time. Different engines over the
 * same config may run in parallel.
 */
#ifndef CR_RGS_H
#define CR_RGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_model.h"

/* ---- the model -------------------------------------------------------------------------- */

typedef enum {
    CR_RGS_SERIAL,       /* always starts from the first agent of the list */
    CR_RGS_PARALLEL,     /* rings every available agent at once */
    CR_RGS_ROUND_ROBIN,  /* starts after the agent offered last (per group, persisted) */
    CR_RGS_LONGEST_IDLE, /* the agent idle longest */
    CR_RGS_ATTENDANT,    /* every signed-in agent not dnd/offline, even when on a call */
} cr_rgs_routing;

#define CR_RGS_ALERT_DEFAULT 20 /* seconds an offer rings */
#define CR_RGS_ALERT_MIN     10
#define CR_RGS_ALERT_MAX     600
#define CR_RGS_GRACE_DEFAULT 60 /* seconds a declined call is not re-offered to that agent */

typedef struct cr_rgs_group {
    char *name;
    cr_rgs_routing routing;
    int alert_time_s;    /* 10-600 */
    int decline_grace_s; /* >= 0 */
    bool formal;         /* agents sign in and out (start signed out) */
    char **agent_uris;   /* as configured, in order */
    size_t nagents, capagents;
    size_t *agents; /* resolved: indexes into cr_rgs_config.agents, same order */
    cr_srcloc loc;
} cr_rgs_group;

/* An agent: one SIP URI, possibly in several groups. Built by resolve. */
typedef struct cr_rgs_agent {
    char *uri;
} cr_rgs_agent;

typedef enum {
    CR_RGS_ACT_NONE,       /* not configured (the engine disconnects) */
    CR_RGS_ACT_DISCONNECT, /* optional prompt, then hang up */
    CR_RGS_ACT_FORWARD,    /* transfer to `target` (SIP URI or number) */
    CR_RGS_ACT_VOICEMAIL,  /* voicemail `target` */
    CR_RGS_ACT_QUEUE,      /* into queue `target` */
} cr_rgs_action_kind;

typedef struct cr_rgs_action {
    cr_rgs_action_kind kind;
    char *target; /* URI, number or queue name; NULL for disconnect */
    char *prompt; /* played (after answering) before the action, or NULL */
    long queue;   /* resolved queue index for CR_RGS_ACT_QUEUE, else -1 */
    cr_srcloc loc;
} cr_rgs_action;

typedef struct cr_rgs_queue {
    char *name;
    char **group_names; /* in search order */
    size_t ngroups, capgroups;
    size_t *groups; /* resolved indexes into cr_rgs_config.groups */
    int timeout_s;  /* 0 = no timeout */
    cr_rgs_action timeout_action;
    int overflow_calls; /* -1 = no overflow; else max waiting calls */
    bool overflow_oldest;
    cr_rgs_action overflow_action;
    cr_srcloc loc;
} cr_rgs_queue;

/* One end of a POSIX TZ rule's daylight-saving period (RFC 8536 §3.3). */
typedef struct cr_rgs_tzdate {
    char kind;      /* 'J' = Jn (1..365, no Feb 29), 'D' = n (0..365), 'M' = Mm.w.d */
    int n, m, w, d; /* day number, or month / week (5 = last) / weekday */
    int32_t secs;   /* local time of day of the change, -167h..167h */
} cr_rgs_tzdate;

/* The TZif footer's rule: in force after the last explicit transition. */
typedef struct cr_rgs_tzrule {
    bool valid;               /* a footer rule was read */
    bool dst;                 /* the rule has a daylight-saving period */
    int32_t std_off, dst_off; /* UTC offsets (s, east positive) */
    cr_rgs_tzdate start, end; /* DST starts (in standard time) and ends (in DST) */
} cr_rgs_tzrule;

/* A time zone: UTC offsets by transition, from a TZif file, then the footer's rule. */
typedef struct cr_rgs_tz {
    char *name;
    int64_t *at;  /* transition instants, Unix seconds, ascending */
    int32_t *off; /* UTC offset (s) in force from at[i] */
    size_t n;
    int32_t off0; /* offset before the first transition */
    cr_rgs_tzrule rule;
} cr_rgs_tz;

/* One weekly range: days bit 0 = Sunday ... bit 6 = Saturday; minutes of the local day. */
typedef struct cr_rgs_range {
    uint8_t days;
    int open_min, close_min; /* 0 <= open < close <= 1440 */
    cr_srcloc loc;
} cr_rgs_range;

typedef struct cr_rgs_hours {
    char *name;
    char *tz_name;
    long tz; /* resolved index into cr_rgs_config.tzs */
    cr_rgs_range *ranges;
    size_t nranges, capranges;
    cr_srcloc loc;
} cr_rgs_hours;

/* A holiday: [start, end) in local civil time, as seconds since 1970-01-01T00:00 local. */
typedef struct cr_rgs_holiday {
    char *name;
    int64_t start_local, end_local;
    cr_srcloc loc;
} cr_rgs_holiday;

/* Days since 1970-01-01 of a civil date (proleptic Gregorian, H. Hinnant's algorithm): month
 * 1-12, day 1-31. */
int64_t cr_rgs_days_from_civil(int64_t y, int m, int d);

typedef struct cr_rgs_holidays {
    char *name;
    cr_rgs_holiday *days;
    size_t ndays, capdays;
    cr_srcloc loc;
} cr_rgs_holidays;

typedef enum { CR_RGS_HUNT_GROUP, CR_RGS_IVR } cr_rgs_workflow_type;

typedef struct cr_rgs_workflow {
    char *name;
    char *uri;  /* contact SIP URI */
    char *line; /* line URI or NULL */
    cr_rgs_workflow_type type;
    char *queue_name; /* hunt group: its queue (IVRs may have one too), or NULL */
    long queue;       /* resolved, -1 if none */
    char *welcome;    /* prompt or NULL */
    char *moh;        /* music on hold file or NULL ("default" is played) */
    char *hours_name, *holidays_name;
    long hours, holidays; /* resolved, -1 if none */
    char *tz_name;        /* optional own zone (else the hours set's, else UTC) */
    long tz;              /* resolved zone for hours and holidays, -1 = UTC */
    char *language;       /* "en-US" or NULL */
    bool active;
    cr_rgs_action after_hours, holiday_action;
    char *script; /* IVR: absolute path of the Lua script (resolved by the loader) */
    cr_srcloc loc;
} cr_rgs_workflow;

/* A set of response groups. Fields are readable; change it only through the functions. */
typedef struct cr_rgs_config {
    cr_rgs_group *groups;
    size_t ngroups, capgroups;
    cr_rgs_agent *agents; /* built by resolve */
    size_t nagents, capagents;
    cr_rgs_queue *queues;
    size_t nqueues, capqueues;
    cr_rgs_hours *hours;
    size_t nhours, caphours;
    cr_rgs_holidays *holidays;
    size_t nholidays, capholidays;
    cr_rgs_workflow *workflows;
    size_t nworkflows, capworkflows;
    cr_rgs_tz *tzs;
    size_t ntzs, captzs;
    char **strings; /* interned (file names of source locations) */
    size_t nstrings, capstrings;
    bool resolved;
    void *index; /* name indexes, built by resolve */
} cr_rgs_config;

/* A new empty config, or NULL when out of memory. Free with cr_rgs_config_free. */
cr_rgs_config *cr_rgs_config_new(void);
void cr_rgs_config_free(cr_rgs_config *cfg);

/* A copy of `s` owned by the config (for cr_srcloc.file), equal strings shared; NULL when
 * out of memory. */
const char *cr_rgs_config_intern(cr_rgs_config *cfg, const char *s);
/* The same without looking for an equal string first (constant time: a plan image's list of
 * file names, distinct when its writer wrote it, rules/rgs_image.c). */
const char *cr_rgs_config_keep(cr_rgs_config *cfg, const char *s);

/*
 * Adders copy `name` and return the new object with defaults applied (alertTime 20, grace
 * 60, informal, serial; queue without timeout/overflow; workflow active hunt group), or
 * NULL when out of memory. The pointer is valid until the next add of the same kind.
 * Strings assigned to fields afterwards must be malloc'ed: the config frees them.
 */
cr_rgs_group *cr_rgs_config_add_group(cr_rgs_config *cfg, const char *name, cr_srcloc loc);
int cr_rgs_group_add_agent(cr_rgs_group *g, const char *uri);
cr_rgs_queue *cr_rgs_config_add_queue(cr_rgs_config *cfg, const char *name, cr_srcloc loc);
int cr_rgs_queue_add_group(cr_rgs_queue *q, const char *group);
cr_rgs_hours *cr_rgs_config_add_hours(cr_rgs_config *cfg, const char *name, cr_srcloc loc);
int cr_rgs_hours_add_range(cr_rgs_hours *h, uint8_t days, int open_min, int close_min,
                           cr_srcloc loc);
cr_rgs_holidays *cr_rgs_config_add_holidays(cr_rgs_config *cfg, const char *name, cr_srcloc loc);
int cr_rgs_holidays_add(cr_rgs_holidays *s, const char *name, int64_t start_local,
                        int64_t end_local, cr_srcloc loc);
cr_rgs_workflow *cr_rgs_config_add_workflow(cr_rgs_config *cfg, const char *name, cr_srcloc loc);
/*
 * Parses a TZif (v1/v2/v3) image of zone `name` (the bytes of /usr/share/zoneinfo/<name>)
 * and adds it; a zone already added is kept. Returns CR_OK, CR_EINVAL (not TZif) or
 * CR_ENOMEM. The bytes are borrowed.
 */
int cr_rgs_config_add_tz(cr_rgs_config *cfg, const char *name, const void *tzif, size_t len);
/* Adds zone `name` as cr_rgs_config_add_tz parsed it (a plan image's copy, rules/rgs_image.c):
 * n transitions at[] (ascending) with offsets off[], off0 before them, the footer's rule;
 * the arrays are copied. A zone already added is kept. CR_OK, CR_EINVAL (at[] not ascending,
 * n too large) or CR_ENOMEM. */
int cr_rgs_config_add_tz_table(cr_rgs_config *cfg, const char *name, const int64_t *at,
                               const int32_t *off, size_t n, int32_t off0,
                               const cr_rgs_tzrule *rule);
/* True when a zone of that name was added. */
bool cr_rgs_config_has_tz(const cr_rgs_config *cfg, const char *name);

/*
 * Resolves names (queue -> groups, workflow -> queue/hours/holidays, action queue -> queue,
 * hours -> zone), builds the agent list and indexes, and validates (unique names and URIs,
 * alertTime range, ranges at most two per day and not overlapping). Errors go to `diag`
 * naming the object and its file:line. Returns CR_OK or CR_ECONFIG (then only free it).
 */
int cr_rgs_config_resolve(cr_rgs_config *cfg, cr_diag *diag);

/* Lookups on a resolved config: index or -1. */
long cr_rgs_config_group_find(const cr_rgs_config *cfg, const char *name);
long cr_rgs_config_queue_find(const cr_rgs_config *cfg, const char *name);
long cr_rgs_config_agent_find(const cr_rgs_config *cfg, const char *uri);
/* The workflow whose uri or line equals `to` (URI parameters after ';' are ignored when
 * there is no exact match), or -1. */
long cr_rgs_config_workflow_find(const cr_rgs_config *cfg, const char *to);

/* ---- time, hours and holidays (pure) ------------------------------------------------------- */

/* UTC offset in seconds of `tz` (NULL = UTC) at Unix time `unix_s`. */
int32_t cr_rgs_tz_offset(const cr_rgs_tz *tz, int64_t unix_s);
/* Parses a POSIX TZ string (RFC 8536 §3.3, hours up to 167): 0 or -1. */
int cr_rgs_tzrule_parse(const char *s, size_t len, cr_rgs_tzrule *r);
/* UTC offset under `r` at Unix time `unix_s`. */
int32_t cr_rgs_tzrule_offset(const cr_rgs_tzrule *r, int64_t unix_s);

typedef enum { CR_RGS_OPEN, CR_RGS_AFTER_HOURS, CR_RGS_HOLIDAY } cr_rgs_open_state;

/* Whether the workflow is open at `unix_ms`: holidays first (they take precedence over
 * after-hours), then business hours. No hours set = always open. */
cr_rgs_open_state cr_rgs_workflow_state(const cr_rgs_config *cfg, const cr_rgs_workflow *wf,
                                        int64_t unix_ms);

/* ---- events ------------------------------------------------------------------------------ */

typedef enum {
    CR_RGS_EV_CALL,         /* a = call id, b = from URI, c = to URI */
    CR_RGS_EV_PRESENCE,     /* a = agent URI, b = available|busy|away|dnd|offline */
    CR_RGS_EV_SIGNIN,       /* a = agent URI, b = group name (NULL: all its formal groups) */
    CR_RGS_EV_SIGNOUT,      /* same */
    CR_RGS_EV_DTMF,         /* a = call id, b = digits */
    CR_RGS_EV_SPEECH,       /* a = call id, b = recognized text */
    CR_RGS_EV_PROMPT_DONE,  /* a = call id */
    CR_RGS_EV_ANSWER,       /* a = call id, b = agent URI */
    CR_RGS_EV_DECLINE,      /* a = call id, b = agent URI */
    CR_RGS_EV_HANGUP,       /* a = call id: the caller hung up */
    CR_RGS_EV_AGENT_HANGUP, /* a = call id: the agent ended a connected call */
    CR_RGS_EV_NO_ANSWER,    /* a = call id, b = agent URI: his offer timed out at the host */
} cr_rgs_event_type;

/* One event. a/b/c point into buf (or are NULL). */
typedef struct cr_rgs_event {
    cr_rgs_event_type type;
    const char *a, *b, *c;
    char buf[1024];
} cr_rgs_event;

/*
 * Parses one event in the simulate format without the time ("call c1 sip:a@x sip:b@y",
 * "signin sip:bob@x Helpdesk Tier 1"). The last argument runs to the end of the line.
 * Returns CR_OK, or CR_EINVAL with a message in err.
 */
int cr_rgs_event_parse(const char *text, cr_rgs_event *ev, char *err, size_t errlen);

/* ---- the typed form ------------------------------------------------------------------------ */

/* Presence states (cr_rgs_input.presence), in the order of the text form's names. */
enum {
    CR_RGS_PRES_AVAILABLE,
    CR_RGS_PRES_BUSY,
    CR_RGS_PRES_AWAY,
    CR_RGS_PRES_DND,
    CR_RGS_PRES_OFFLINE,
};

/*
 * A typed event. Agents and groups are handles: index in the config + 1 (0 = none), from
 * cr_rgs_engine_agent_id / cr_rgs_engine_group_id. Calls are uint64 handles (never 0) chosen
 * by the host on CALL, or by the engine when call is 0 there (the first action of the call
 * carries it). Strings are borrowed for the duration of the call into the engine.
 */
typedef struct cr_rgs_input {
    cr_rgs_event_type type;
    uint64_t call;         /* every event but PRESENCE, SIGNIN, SIGNOUT */
    const char *call_id;   /* CALL: the call's name in logs, IVR and the text form; NULL = the
                            * handle in decimal */
    const char *from, *to; /* CALL: caller and called URIs */
    uint32_t agent;        /* PRESENCE, SIGNIN, SIGNOUT, ANSWER, DECLINE, NO_ANSWER */
    uint32_t group;        /* SIGNIN, SIGNOUT: the group; 0 = every group of the agent */
    int presence;          /* PRESENCE: CR_RGS_PRES_* */
    const char *text;      /* DTMF digits, SPEECH words */
    /* CALL with call 0: when not NULL, the engine gives the call a handle that names its slot
     * (rgs_slot_handle in rgs_engine_int.h: later events find the call with one read, not
     * through the handle map) instead of the next number, and stores it here before the first
     * action. */
    uint64_t *slot_handle;
} cr_rgs_input;

typedef enum {
    CR_RGS_OUT_ANSWER,
    CR_RGS_OUT_PLAY,      /* arg = prompt */
    CR_RGS_OUT_COLLECT,   /* arg = choices (may be "") */
    CR_RGS_OUT_MOH,       /* arg = music-on-hold file ("default" when none is configured) */
    CR_RGS_OUT_RING,      /* agents = the agents to ring now */
    CR_RGS_OUT_CANCEL,    /* agents = the agents whose ringing stops */
    CR_RGS_OUT_BRIDGE,    /* agents = the one agent to connect the caller to */
    CR_RGS_OUT_TRANSFER,  /* arg = target URI or number */
    CR_RGS_OUT_VOICEMAIL, /* arg = voicemail URI */
    CR_RGS_OUT_HANGUP,    /* reason; arg = the reason as text (the script's for REASON_IVR) */
} cr_rgs_out_type;

/* Hang-up reasons (see the list at the top); the numbering is part of the plugin ABI. */
typedef enum {
    CR_RGS_HANGUP_NONE,
    CR_RGS_HANGUP_NOT_FOUND,
    CR_RGS_HANGUP_INACTIVE,
    CR_RGS_HANGUP_HOLIDAY,
    CR_RGS_HANGUP_AFTER_HOURS,
    CR_RGS_HANGUP_NO_AGENTS,
    CR_RGS_HANGUP_TIMEOUT,
    CR_RGS_HANGUP_OVERFLOW,
    CR_RGS_HANGUP_AGENT,
    CR_RGS_HANGUP_NO_IVR,
    CR_RGS_HANGUP_IVR_ERROR,
    CR_RGS_HANGUP_NO_QUEUE,
    CR_RGS_HANGUP_LOOP,
    CR_RGS_HANGUP_DISCONNECT,
    CR_RGS_HANGUP_IVR, /* the IVR script hung up; arg is its reason */
} cr_rgs_reason;

/* A typed action. Every pointer is valid during the output callback only. */
typedef struct cr_rgs_output {
    cr_rgs_out_type type;
    uint64_t call;          /* the call's handle */
    const char *call_id;    /* its name */
    const uint32_t *agents; /* RING, CANCEL, BRIDGE: agent handles; else NULL */
    size_t nagents;
    const char *arg; /* never NULL ("" when none) */
    cr_rgs_reason reason;
} cr_rgs_output;

/* The name of an action in the text form ("ring", "hangup", ...). */
const char *cr_rgs_out_name(cr_rgs_out_type type);
/* The text of a hang-up reason ("timeout", ...); "" for NONE and IVR. */
const char *cr_rgs_reason_name(cr_rgs_reason reason);

/* ---- the IVR driver (implemented by the Lua layer) -------------------------------------- */

/*
 * For workflows of type ivr, the engine hands the call to a driver once the workflow is
 * open (active, not holiday, in hours) and the call is answered. The driver runs the
 * workflow's script (cr_rgs_workflow.script) and tells the engine its next step; the engine
 * emits the matching actions and calls the driver back with what happened. Without a driver
 * an IVR call is hung up with reason "no_ivr".
 *
 * Steps:
 *   WAIT     nothing to emit; the driver is called back on input, or on_timer after
 *            timer_ms when > 0.
 *   PLAY     emits "play <arg>"; the driver gets PROMPT_DONE when the host reports it.
 *   COLLECT  emits "play <arg>" (when arg is not empty) and "collect <choices>"; the driver
 *            gets DTMF or SPEECH, or TIMER timer_ms (> 0) after the prompt ended (or after
 *            the step when there is no prompt).
 *   QUEUE    the call enters queue <arg> (music on hold, agents); the driver's part ends.
 *   TRANSFER emits "transfer <arg>"; ends.      VOICEMAIL emits "voicemail <arg>"; ends.
 *   HANGUP   emits "hangup <arg or ivr>"; ends.
 * Every step replaces the previous step's timer. DTMF and speech are passed on in any step
 * (barge-in is the driver's decision). When the call ends for any reason (a final step, the
 * caller hanging up, engine close), `end` is called exactly once with the call's state.
 */
typedef enum {
    CR_RGS_IVR_WAIT,
    CR_RGS_IVR_PLAY,
    CR_RGS_IVR_COLLECT,
    CR_RGS_IVR_QUEUE,
    CR_RGS_IVR_TRANSFER,
    CR_RGS_IVR_VOICEMAIL,
    CR_RGS_IVR_HANGUP,
} cr_rgs_ivr_op;

typedef struct cr_rgs_ivr_step {
    cr_rgs_ivr_op op;
    char arg[CR_URI_MAX]; /* prompt, queue name, URI or reason */
    char choices[256];    /* COLLECT: printed after "collect" (may be empty) */
    int64_t timer_ms;     /* > 0: a TIMER input after that long (see above) */
} cr_rgs_ivr_step;

typedef enum {
    CR_RGS_IVR_IN_PROMPT_DONE,
    CR_RGS_IVR_IN_DTMF,   /* text = digits */
    CR_RGS_IVR_IN_SPEECH, /* text = recognized words */
    CR_RGS_IVR_IN_TIMER,
} cr_rgs_ivr_input_kind;

/* What the driver gets at start. All pointers are borrowed for the duration of the call. */
typedef struct cr_rgs_ivr_call {
    const char *call_id, *from, *to;
    const cr_rgs_config *config; /* for queue names, hours and holiday queries */
    const cr_rgs_workflow *workflow;
    int64_t now_ms;  /* engine time */
    int64_t unix_ms; /* wall-clock time (for cr_rgs_workflow_state) */
} cr_rgs_ivr_call;

typedef struct cr_rgs_ivr_driver {
    void *ud; /* passed back to every function */
    /* A new call: set *state (the driver's, passed back below) and fill *step (zeroed by
     * the engine). Return 0, or a negative CR_E* code: the call is hung up "ivr_error" and
     * end is not called. */
    int (*start)(void *ud, const cr_rgs_ivr_call *call, void **state, cr_rgs_ivr_step *step);
    /* Something happened: fill *step (zeroed) with the next step. `text` is the digits or
     * speech, else NULL. Return 0 or negative (hung up "ivr_error"; end follows). */
    int (*input)(void *ud, void *state, cr_rgs_ivr_input_kind kind, const char *text,
                 int64_t now_ms, int64_t unix_ms, cr_rgs_ivr_step *step);
    /* The call left the driver (final step, caller hung up, error, engine closed). */
    void (*end)(void *ud, void *state);
} cr_rgs_ivr_driver;

/* ---- the engine ------------------------------------------------------------------------- */

typedef struct cr_rgs_engine cr_rgs_engine;

/* Receives each action: `call_id` ("-" never occurs today: every action has a call). The
 * strings are valid during the call only. */
typedef void (*cr_rgs_emit_fn)(void *ud, int64_t at_ms, const char *call_id, const char *action,
                               const char *args);
/* Receives each queue event log line (see README of simulate: "<event> key=value ..."). */
typedef void (*cr_rgs_log_fn)(void *ud, int64_t at_ms, const char *line);

/* Receives each typed action at engine time `at_ms`. */
typedef void (*cr_rgs_output_fn)(void *ud, int64_t at_ms, const cr_rgs_output *out);

/* cr_rgs_engine_options.flags: calls found in the state directory are dropped (removed from
 * it), waiting and connected alike, and never hunted: for hosts whose calls die with the
 * process (a SIP proxy's transactions). Sign-ins, presence, idle times and round-robin
 * positions are kept. */
#define CR_RGS_ENGINE_DROP_CALLS 1u

typedef struct cr_rgs_engine_options {
    int64_t start_unix_ms;        /* wall clock of engine time 0 */
    unsigned flags;               /* CR_RGS_ENGINE_* */
    const char *state_dir;        /* LMDB directory (created if missing), or NULL */
    const cr_rgs_ivr_driver *ivr; /* borrowed, may be NULL */
    cr_rgs_log_fn log;            /* queue event log, may be NULL */
    void *log_ud;
} cr_rgs_engine_options;

/*
 * Creates an engine over a resolved config (borrowed: it must outlive the engine). With a
 * state directory, sign-ins, presence, idle times, round-robin positions, waiting and
 * connected calls are loaded from it and every change is written back after each call
 * into the engine. Restored waiting calls wait on hold and are hunted again at the first
 * event or advance; offers that were ringing are not restored (re-evaluated then). With
 * CR_RGS_ENGINE_DROP_CALLS no call is restored.
 * Returns CR_OK, CR_EINVAL (config not resolved), CR_EIO (state directory; message in
 * err) or CR_ENOMEM. Free with cr_rgs_engine_close.
 */
int cr_rgs_engine_open(const cr_rgs_config *cfg, const cr_rgs_engine_options *opts,
                       cr_rgs_engine **out, char *err, size_t errlen);
void cr_rgs_engine_close(cr_rgs_engine *e);

/*
 * The engine's one entry: feeds one typed event at engine time `at_ms` (not before the
 * previous one). Timers due up to at_ms fire first. Every action goes to `out` (may be
 * NULL), in order, before the return. Returns CR_OK; CR_EINVAL (unknown event type or
 * presence, call handle 0 where one is needed), CR_ENOENT (unknown call, agent or group
 * handle, or the agent is not in the group: nothing done, message in err), CR_ESTATE (call
 * handle or name already in use, event not valid in the call's state), CR_ENOMEM or CR_EIO
 * (state could not be written).
 */
int cr_rgs_engine_input(cr_rgs_engine *e, int64_t at_ms, const cr_rgs_input *in,
                        cr_rgs_output_fn out, void *ud, char *err, size_t errlen);

/* Runs timers due up to now_ms, actions to `out`. Returns the next deadline (ms) or -1. */
int64_t cr_rgs_engine_run(cr_rgs_engine *e, int64_t now_ms, cr_rgs_output_fn out, void *ud);

/*
 * The text form over cr_rgs_engine_input: resolves the event's call name, agent URI and
 * group name (CR_ENOENT "unknown call 'c1'", ...; CR_ESTATE for a call name in use) and
 * formats each action as (call id, action, args) for `emit`. Timers due up to at_ms fire
 * first. Returns as cr_rgs_engine_input.
 */
int cr_rgs_engine_event(cr_rgs_engine *e, int64_t at_ms, const cr_rgs_event *ev,
                        cr_rgs_emit_fn emit, void *ud, char *err, size_t errlen);

/* cr_rgs_engine_run with actions in the text form. */
int64_t cr_rgs_engine_advance(cr_rgs_engine *e, int64_t now_ms, cr_rgs_emit_fn emit, void *ud);

/* The args of an action in the text form into buf (agents' URIs space-separated); returns
 * buf, or out->arg when the action has no agents. Long lists are cut to fit `len`. */
const char *cr_rgs_out_args(const cr_rgs_engine *e, const cr_rgs_output *out, char *buf,
                            size_t len);

/* Handles: agent / group handle (index + 1) of a URI / name, 0 when unknown. */
uint32_t cr_rgs_engine_agent_id(const cr_rgs_engine *e, const char *uri);
uint32_t cr_rgs_engine_group_id(const cr_rgs_engine *e, const char *name);
/* The URI / name of a handle (owned by the config), NULL when out of range. */
const char *cr_rgs_engine_agent_uri(const cr_rgs_engine *e, uint32_t agent);
const char *cr_rgs_engine_group_name(const cr_rgs_engine *e, uint32_t group);
/* The handle of the live call named `call_id`, 0 when none. */
uint64_t cr_rgs_engine_call_handle(const cr_rgs_engine *e, const char *call_id);
/* The name of a live call (valid until the call ends), NULL when none. */
const char *cr_rgs_engine_call_id(const cr_rgs_engine *e, uint64_t call);

/* The next timer deadline in ms, or -1. */
int64_t cr_rgs_engine_next_deadline(const cr_rgs_engine *e);

/* Turns the queue event log on (fn) or off (NULL): lines are only formatted while it is on. */
void cr_rgs_engine_set_log(cr_rgs_engine *e, cr_rgs_log_fn fn, void *ud);

/* Counters of one queue at `now_ms`. Waits are in ms. */
typedef struct cr_rgs_queue_stats {
    uint64_t entered, answered, abandoned, timeouts, overflows;
    uint64_t waiting;        /* calls in the queue now (waiting or ringing) */
    int64_t longest_wait_ms; /* longest wait of any call, finished or still waiting */
    int64_t average_wait_ms; /* average wait of the answered calls (0 when none) */
} cr_rgs_queue_stats;

int cr_rgs_engine_queue_stats(const cr_rgs_engine *e, size_t queue, int64_t now_ms,
                              cr_rgs_queue_stats *out);

/* Counters of one workflow since the engine was opened, and its calls now. */
typedef struct cr_rgs_workflow_stats {
    uint64_t offered;          /* calls that reached the workflow */
    uint64_t answered;         /* bridged to an agent */
    uint64_t abandoned;        /* the caller hung up while waiting in a queue (or being rung) */
    uint64_t timed_out;        /* left a queue by its timeout */
    uint64_t overflowed;       /* left a queue by its overflow */
    uint64_t after_hours;      /* arrived outside business hours */
    uint64_t holiday;          /* arrived on a holiday */
    uint64_t waiting;          /* in a queue now (waiting or being rung) */
    int64_t longest_wait_ms;   /* longest current wait among them, 0 when none */
    uint64_t agents_signed_in; /* distinct agents of its queue's groups taking part now
                                * (informal agents always; formal ones when signed in) */
} cr_rgs_workflow_stats;

/* Stats of workflow index `wf` at `now_ms`. CR_ENOENT when out of range. Costs the size of
 * the workflow's waiting calls and of its queue's groups. */
int cr_rgs_engine_workflow_stats(cr_rgs_engine *e, size_t wf, int64_t now_ms,
                                 cr_rgs_workflow_stats *out);

typedef enum {
    CR_RGS_CALL_PROMPT,    /* a prompt is playing (welcome, before an action) */
    CR_RGS_CALL_IVR,       /* in its IVR script */
    CR_RGS_CALL_WAITING,   /* in a queue, nobody ringing */
    CR_RGS_CALL_RINGING,   /* in a queue, agents ringing */
    CR_RGS_CALL_CONNECTED, /* bridged to an agent */
} cr_rgs_call_state;

/* One live call as queries see it. Strings are valid during the callback only. */
typedef struct cr_rgs_call_info {
    uint64_t call;
    const char *call_id, *from, *to;
    long workflow, queue; /* indexes, -1 when none */
    cr_rgs_call_state state;
    int64_t waited_ms; /* in its queue (WAITING, RINGING), else 0 */
    uint32_t agent;    /* CONNECTED: the agent's handle, else 0 */
    size_t nringing;   /* agents ringing for it */
} cr_rgs_call_info;

/* Calls `fn` for each call of queue index `queue` in first-in first-out order, or, when
 * queue < 0, for every live call. */
void cr_rgs_engine_calls(const cr_rgs_engine *e, long queue, int64_t now_ms,
                         void (*fn)(void *ud, const cr_rgs_call_info *info), void *ud);

/* One agent now. */
typedef struct cr_rgs_agent_info {
    const char *uri;       /* owned by the config */
    int presence;          /* CR_RGS_PRES_* */
    int calls;             /* connected calls */
    size_t ringing;        /* calls ringing him */
    uint64_t answered;     /* calls he answered since the engine opened */
    int64_t idle_since_ms; /* engine time */
} cr_rgs_agent_info;

/* Agent handle `agent`: CR_OK or CR_ENOENT. */
int cr_rgs_engine_agent_info(const cr_rgs_engine *e, uint32_t agent, cr_rgs_agent_info *out);
/* Whether the agent at position `pos` of group index `g` takes part (informal groups:
 * always; formal: signed in). */
bool cr_rgs_engine_signed_in(const cr_rgs_engine *e, size_t g, size_t pos);

#endif

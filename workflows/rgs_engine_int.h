/* The engine's runtime state, shared by the files of the engine (not public). */
#ifndef CR_RGS_ENGINE_INT_H
#define CR_RGS_ENGINE_INT_H

#include "cr_rgs.h"

#include <stddef.h>
#include "rgs_map.h"

enum { P_AVAILABLE, P_BUSY, P_AWAY, P_DND, P_OFFLINE };

/* What rgs_agent_sync reads of a membership, in the agent's record when he has two or fewer
 * (no read of the configuration); his bit is in the group's line (rgs_member_word). 12 bytes:
 * two fit where one with a pointer to its avail word did, so that an agent in two groups
 * (a fifth of the bench's) has no array apart, a miss at every sync. */
typedef struct rgs_member {
    uint32_t group, pos;    /* the agent is cfg->groups[group].agents[pos] */
    bool formal, attendant; /* of the group (copied) */
    bool signed_in;         /* copy of groups[group].signed_in[pos] (rgs_set_signed_in) */
    /* what the agent's `takes` must have for his bit to be set: RGS_TAKES_ATTENDANT or _FREE
     * by the group's method, 0 while a formal group's member is signed out (kept with
     * signed_in): a sync tests one byte per membership */
    uint8_t need;
} rgs_member;
_Static_assert(sizeof(rgs_member) == 12, "two memberships in 24 bytes");

/* rgs_agent.takes: what rgs_agent_sync last saw of the agent. */
enum {
    RGS_TAKES_FREE = 1,      /* available, on no call, rung for no call */
    RGS_TAKES_ATTENDANT = 2, /* not dnd or offline */
    RGS_TAKES_UNKNOWN = 0xff /* recompute every bit (sign-ins changed, engine opened) */
};

/* rgs_member.need from the membership's other fields. */
static inline uint8_t rgs_member_need(const rgs_member *m)
{
    return !m->formal || m->signed_in ? (m->attendant ? RGS_TAKES_ATTENDANT : RGS_TAKES_FREE) : 0;
}

/* A growable array of indexes. */
typedef struct rgs_vec {
    size_t *v;
    size_t n, cap;
} rgs_vec;

/* A short list of 32-bit indexes (agents ringing for a call, calls ringing an agent, agents
 * tried in a round), kept inside the record that owns it while it holds RGS_SVEC_INLINE
 * items or fewer: most hold 0 to 2, and reading them then costs no miss beyond the record's
 * own line (as a separate allocation, every check and removal did). 24 bytes, as rgs_vec. */
#define RGS_SVEC_INLINE 4
typedef struct rgs_svec {
    uint32_t n, cap; /* cap <= RGS_SVEC_INLINE: the items are in `in` */
    union {
        uint32_t in[RGS_SVEC_INLINE];
        uint32_t *heap;
    } u;
} rgs_svec;
_Static_assert(sizeof(rgs_svec) == 24, "rgs_svec: as large as rgs_vec");

static inline uint32_t *rgs_svec_items(rgs_svec *v)
{
    return v->cap > RGS_SVEC_INLINE ? v->u.heap : v->u.in;
}

static inline const uint32_t *rgs_svec_citems(const rgs_svec *v)
{
    return v->cap > RGS_SVEC_INLINE ? v->u.heap : v->u.in;
}

/* 128 bytes, 64-byte aligned. The first line holds what rgs_agent_sync and the checks of
 * who takes calls read: his state, his memberships (inside the record when he has
 * RGS_AGENT_INLINE_GROUPS or fewer, as nearly all agents do: a separate array cost a miss
 * at every sync) and how many calls ring him. The second: the rest of his ringing list, idle
 * time and queues (inside the record when he has RGS_AGENT_INLINE_QUEUES or fewer, as nearly
 * all do: dispatching him then reads no other array; an agent in two groups of different
 * queues had his list apart, a miss at every dispatch). */
#define RGS_AGENT_INLINE_QUEUES 2
#define RGS_AGENT_INLINE_GROUPS 2
typedef struct rgs_agent {
    _Alignas(64) int ncalls; /* connected calls (attendants may take several) */
    uint8_t presence;        /* P_* */
    uint8_t takes;           /* RGS_TAKES_* as last synced */
    bool attendant : 1;      /* member of an attendant group */
    bool dirty : 1;
    bool pending : 1;   /* being dispatched (rgs_dispatch_pending) */
    uint32_t ngroups;   /* memberships */
    uint32_t answers;   /* calls answered since open, modulo 2^32 (each wrap adds 2^32 to
                         * `answered`): counted in the line an answer reads, where `answered`
                         * in the second was a write miss per answer */
    rgs_member *groups; /* in_groups when he has RGS_AGENT_INLINE_GROUPS or fewer */
    rgs_member in_groups[RGS_AGENT_INLINE_GROUPS];
    rgs_svec ringing;   /* call slots ringing this agent */
    int64_t idle_since; /* engine ms: last call ended, signed in or became available */
    uint32_t *queues;   /* queues that reach this agent: in_queues when they fit */
    uint32_t nqueues;
    uint32_t in_queues[RGS_AGENT_INLINE_QUEUES];
    uint64_t answered; /* the wraps of `answers` */
} rgs_agent;
_Static_assert(sizeof(rgs_agent) == 128 && offsetof(rgs_agent, ringing) + 8 <= 64,
               "an agent's record is two lines, what a sync reads in the first");

/* One cache line (64-byte aligned): what a hunt reads of a group, copied from its
 * configuration, with its avail bits inside when it has 64 members or fewer (most groups):
 * a hunt then reads this line and the member list, and a sync the same line, where they read
 * the configuration's record and a separate bitset before. */
typedef struct rgs_group {
    /* Bit per position: the agent there takes calls now (rgs_takes_calls), kept by
     * rgs_agent_sync at every change of what it depends on. Hunts visit these agents only. */
    _Alignas(64) uint64_t *avail; /* &one_word, or an array (bits set: cr_rgs_engine.navail) */
    uint64_t one_word;
    const uint32_t *agents; /* cfg->groups[g].agents (32-bit: a 16-member list is a line) */
    uint32_t nagents;       /* cfg->groups[g].nagents */
    uint8_t routing;        /* cr_rgs_routing */
    bool formal;
    bool dirty;
    long rr_last;     /* position offered last (round robin), -1 */
    bool *signed_in;  /* per position (formal groups) */
    int alert_time_s; /* cfg->groups[g].alert_time_s */
    /* cfg->groups[g].decline_grace_s: a decline reads it here, in the line the sync of the
     * agent who declines reads, not in the configuration's record (a miss a decline) */
    int decline_grace_s;
} rgs_group;
_Static_assert(sizeof(rgs_group) == 64, "a group's hot record is one cache line");

/* 128 bytes, 64-byte aligned. The first line is what entering the queue, hunting its calls,
 * dispatching to it and answering its calls read and write: its FIFO, copied from the
 * configuration its groups (the first two inside the record), timeout and overflow limit, and
 * the counters an entry and an answer move, 32-bit (the second line holds what they carry past
 * 32 bits, and the rarer counters): an answer, which left the queue's first line and wrote
 * the second, writes the first only. */
#define RGS_QUEUE_INLINE_GROUPS 2
typedef struct rgs_queue {
    _Alignas(64) int32_t head; /* FIFO of call slots in the queue (waiting or ringing) */
    int32_t tail;
    uint32_t count;
    uint32_t ngroups; /* cfg->queues[q].ngroups */
    bool has_agents;
    bool overflow_oldest;                 /* cfg->queues[q].overflow_oldest */
    int timeout_s;                        /* cfg->queues[q].timeout_s */
    int overflow_calls;                   /* cfg->queues[q].overflow_calls */
    uint32_t g2[RGS_QUEUE_INLINE_GROUPS]; /* its groups, when it has this many or fewer */
    const size_t *groups;                 /* cfg->queues[q].groups (when it has more) */
    uint32_t entered;                     /* modulo 2^32: each wrap adds 2^32 to entered_hi */
    uint32_t answered;                    /* the same, into answered_hi */
    uint32_t answered_wait; /* ms, modulo 2^32: what it carries is added to answered_wait_hi */
    uint32_t longest_wait;  /* ms, up to UINT32_MAX - 1; UINT32_MAX: in longest_wait_hi */
    /* line 2 */
    uint64_t entered_hi, answered_hi; /* multiples of 2^32 */
    uint64_t abandoned, timeouts, overflows;
    int64_t answered_wait_hi; /* a multiple of 2^32 (the total: this + answered_wait) */
    int64_t longest_wait_hi;  /* the longest wait of UINT32_MAX ms or more */
} rgs_queue;
_Static_assert(sizeof(rgs_queue) == 128 && offsetof(rgs_queue, entered_hi) == 64,
               "a queue's hot fields fill its first line");

/* A queue's counters as the stats report them (the hot line's and what they carried). */
static inline uint64_t rgs_queue_entered(const rgs_queue *q)
{
    return q->entered_hi + q->entered;
}
static inline uint64_t rgs_queue_answered(const rgs_queue *q)
{
    return q->answered_hi + q->answered;
}
static inline int64_t rgs_queue_answered_wait(const rgs_queue *q)
{
    return q->answered_wait_hi + (int64_t)q->answered_wait;
}
static inline int64_t rgs_queue_longest_wait(const rgs_queue *q)
{
    return q->longest_wait < UINT32_MAX ? (int64_t)q->longest_wait : q->longest_wait_hi;
}
/* Counts a call that leaves the queue after waiting `wait` ms (>= 0). */
static inline void rgs_queue_note_wait(rgs_queue *q, int64_t wait)
{
    if (wait <= (int64_t)q->longest_wait)
        return;
    if (wait < UINT32_MAX) {
        q->longest_wait = (uint32_t)wait;
    } else {
        q->longest_wait = UINT32_MAX;
        if (wait > q->longest_wait_hi)
            q->longest_wait_hi = wait;
    }
}
/* Counts an answer after `wait` ms. */
static inline void rgs_queue_note_answer(rgs_queue *q, int64_t wait)
{
    if (++q->answered == 0)
        q->answered_hi += 1ULL << 32;
    int64_t sum = (int64_t)q->answered_wait + wait;
    q->answered_wait = (uint32_t)sum;
    if (sum != (int64_t)q->answered_wait) /* (carried, or below 0) */
        q->answered_wait_hi += sum - (int64_t)q->answered_wait;
}

/* The j-th group of queue q (in search order). */
static inline size_t rgs_queue_group(const rgs_queue *q, size_t j)
{
    return q->ngroups <= RGS_QUEUE_INLINE_GROUPS ? q->g2[j] : q->groups[j];
}

typedef enum { CS_FREE, CS_PROMPT, CS_IVR, CS_QUEUED, CS_CONNECTED } rgs_call_state;
/* What happens when the prompt being played is done. */
typedef enum { K_NONE, K_QUEUE, K_HANGUP, K_TRANSFER, K_VOICEMAIL } rgs_cont;

typedef struct rgs_decline_entry {
    size_t agent;
    int64_t until;
} rgs_decline_entry;

/* A call slot's first string buffer: a piece of RGS_STR_PIECE bytes (most calls' id, from and
 * to fit) from the engine's pool, whose chunks hold RGS_STR_CHUNK pieces each. */
#define RGS_STR_PIECE 96
#define RGS_STR_CHUNK 1024

/* 256 bytes, 64-byte aligned, laid out by what events read (callgrind: each line an event
 * touches is a miss at scale). Line 0: the handle (a lookup compares it: rgs_call_by_handle), what
 * walks along a queue read (state, ringing, next, seq) and the timers an event cancels. Line
 * 1: the rest of what a new call, an answer, a hang-up, a prompt's end and the outputs read
 * (id, tokens, queue, workflow, agent). Line 2: the hunt's round (tried, declines, group),
 * set when a hunt of the call first finds someone to offer it to (round_set:
 * rgs_call_round_init; a call that waits touches it when an agent is free). Line 3: the IVR's
 * state, set when the call starts one (ivr_seen: rgs_call_ivr_init). Each is left as it is until
 * then, so a call never touches the lines it does not use: a new call, an answer or a hang-up reads
 * and writes lines 0 and 1 only. */
typedef struct rgs_call {
    _Alignas(64) uint8_t state; /* rgs_call_state (the slots are 64-byte aligned: rgs_engine.c) */
    uint8_t hops;               /* queue entries, to stop action loops */
    uint8_t cont;               /* rgs_cont */
    bool answered : 1, on_moh : 1, ivr_live : 1;
    bool ivr_seen : 1;   /* the IVR fields (line 3) are in use: rgs_call_ivr_init */
    bool round_set : 1;  /* the hunt's fields (line 2) are: rgs_call_round_init */
    bool str_pooled : 1; /* id is a piece of the engine's string pool (kept with the slot) */
    int32_t cont_queue;
    uint64_t handle; /* the host's (or engine's) handle */
    int32_t qprev, qnext;
    uint64_t seq;
    rgs_svec ring;                /* agents ringing now */
    uint32_t th_ring, th_timeout; /* handles of those timers in the heap, 0 = none */
    /* line 1 */
    char *id;        /* "id\0from\0to\0", capstr bytes: kept with the slot when it is freed */
    uint64_t serial; /* the slot's incarnations (+1 as a call takes it, +1 as it leaves): for
                      * timers (which read the tokens beside it) and slot handles */
    int64_t enter_ms;
    char *cont_arg;
    uint32_t tok_ring, tok_timeout;
    uint32_t idtag; /* rgs_imap_tag_str(rgs_map_hash(id)): to leave call_ids without hashing */
    int32_t wf;
    int32_t queue; /* in a queue */
    int32_t agent; /* connected */
    int32_t next_free;
    uint32_t capstr;
    /* line 2 (valid while round_set) */
    rgs_svec tried;              /* agents offered in this round */
    rgs_decline_entry *declines; /* (its buffer kept with the slot) */
    uint32_t ndeclines, capdeclines;
    uint32_t gi;      /* group of the queue being searched in this round */
    int round_offers; /* offers made in this round */
    int32_t ring_group;
    /* line 3: IVR (valid while ivr_seen) */
    _Alignas(64) uint32_t th_ivr;
    uint32_t tok_ivr;
    void *ivr_state;
    int64_t ivr_after_prompt; /* COLLECT: timer to start when its prompt is done */
    uint8_t ivr_op;           /* cr_rgs_ivr_op */
} rgs_call;
_Static_assert(sizeof(rgs_call) == 256 && offsetof(rgs_call, id) == 64 &&
                   offsetof(rgs_call, tried) == 128 && offsetof(rgs_call, th_ivr) == 192,
               "a call's lines hold what their comment says");

/* Sets the hunt's fields of a call the first time a hunt of it finds someone to offer it to
 * (or when it is restored to a queue); they keep their values through later queue entries.
 * Until then the call's round is at its start (rgs_hunt, rgs_new_round). */
static inline void rgs_call_round_init(rgs_call *c)
{
    if (c->round_set)
        return;
    c->round_set = true;
    c->tried.n = c->ndeclines = c->gi = 0;
    c->round_offers = 0;
    c->ring_group = -1;
}

/* Sets the IVR's fields of a call that starts an IVR for the first time (no timer, no
 * state, no operation); they keep their values through later IVR starts. */
static inline void rgs_call_ivr_init(rgs_call *c)
{
    if (c->ivr_seen)
        return;
    c->ivr_seen = true;
    c->th_ivr = c->tok_ivr = 0;
    c->ivr_state = NULL;
    c->ivr_after_prompt = 0;
    c->ivr_op = 0;
}

/* The caller's and the called URI of a live call (after its id in its buffer). */
static inline const char *rgs_call_from(const rgs_call *c)
{
    return c->id + __builtin_strlen(c->id) + 1;
}
static inline const char *rgs_call_to(const rgs_call *c)
{
    const char *f = rgs_call_from(c);
    return f + __builtin_strlen(f) + 1;
}

enum { T_RING, T_TIMEOUT, T_GRACE, T_IVR };

/* A timer, kept by handle in cr_rgs_engine.tim (rgs_timer.c). */
typedef struct rgs_timer {
    int64_t when;
    size_t slot;
    uint64_t serial;
    uint32_t tok;
    int kind;
} rgs_timer; /* 32 bytes: two a cache line */

/* A timer heap entry: 16 bytes, so that a node's four children fill one cache line. */
typedef struct rgs_hent {
    int64_t when;
    uint32_t order; /* insertion order, for equal deadlines */
    uint32_t h;
} rgs_hent;

/* Heap index of the root (the entries before it are unused; see rgs_timer.c). */
#define RGS_HEAP_ROOT 3

/* What a call's arrival and its queue entry read of its workflow, copied from the
 * configuration (whose record spans three cache lines) into one line beside its counters.
 * The prompts' names are copied into the line too when they fit (as most file names do):
 * the host reads the name of each prompt it is told to play right after the engine read this
 * line, where the configuration's copy was a line of its own, cold, for every call. */
#define RGS_WF_NAMES 26
typedef struct rgs_wf {
    /* the welcome's and the music's names (NUL ended), if they fit: first in the line, so that
     * a 32-byte load from either (a vector strlen's) stays inside it */
    _Alignas(64) char names[RGS_WF_NAMES];
    uint8_t type; /* cr_rgs_workflow_type */
    bool active;
    /* calls that reached it, modulo 2^32 (each wrap adds 2^32 to its wfstats' offered): counted
     * in the line every arrival reads, where the counters' line was a write miss per call */
    uint32_t offered;
    const char *welcome; /* NULL when none; into names or the configuration */
    const char *moh;     /* the same */
    int32_t queue, hours, holidays, tz;
} rgs_wf;
_Static_assert(sizeof(rgs_wf) == 64 && offsetof(rgs_wf, welcome) == 32,
               "a workflow's hot record is one cache line");

typedef struct rgs_store rgs_store;

struct cr_rgs_engine {
    const cr_rgs_config *cfg;
    cr_rgs_engine_options opt;
    rgs_agent *agents;
    rgs_group *groups;
    rgs_queue *queues;
    uint32_t *navail;  /* per group: bits set in its avail (dense: hunts and syncs read it) */
    uint32_t *members; /* every group's member list (rgs_group.agents points into it) */
    void *hot;         /* groups, queues, wfs, wfstats, navail and members: one large table */
    size_t hot_bytes;
    rgs_call *calls; /* 64-byte aligned, from rgs_big_alloc (capcalls slots) */
    size_t ncalls, capcalls;
    long free_calls;
    /* The strings of a call slot used for the first time: RGS_STR_PIECE bytes cut from a chunk
     * of the pool, not one allocation each (a piece stays with its slot, as a buffer does). */
    char *str_next; /* the next free piece, str_left of them */
    size_t str_left;
    char **str_chunks; /* the chunks, freed by cr_rgs_engine_close */
    size_t nstr_chunks, capstr_chunks;
    rgs_imap call_ids;              /* call slot by id (tag rgs_imap_tag_str of idhash) */
    rgs_imap call_handles;          /* call slot by handle (tag rgs_imap_tag_u64) */
    uint64_t next_handle;           /* for calls the host gives no handle */
    cr_rgs_workflow_stats *wfstats; /* counters (waiting fields unused) per workflow, each a
                                       line (64-byte aligned); offered: rgs_wf.offered's wraps */
    rgs_wf *wfs;                    /* per workflow */
    uint32_t *seen, seen_gen;       /* per agent, for counting distinct agents */
    rgs_hent *heap;                 /* 64-byte aligned, root at RGS_HEAP_ROOT */
    size_t nheap, capheap;          /* entries in the heap; capacity of the array */
    rgs_timer *tim;                 /* timers by handle */
    uint32_t *hpos, *hfree;         /* heap index by timer handle; free handles */
    size_t nh, caph, nhfree;        /* handles used (0 is none); capacity of tim, hpos, hfree */
    uint32_t timer_order;           /* renumbered before it wraps (rgs_timer.c) */
    /* rgs_timer_drop_dead found the earliest timer live, and no event, timer or heap change
     * came since: a deadline poll that runs nothing need not check it again (rgs_input.c) */
    bool top_live;
    uint64_t next_seq;
    uint32_t gen_base; /* added to the generation of slot handles (rgs_store.c: above every
                        * restored call's) */
    int64_t now;
    cr_rgs_output_fn out;
    void *out_ud;
    rgs_vec pending; /* agents freed during the current step, to dispatch at its end */
    bool resume_pending;
    rgs_store *store;
    rgs_vec dirty_agents, dirty_groups;
    bool naive; /* select by scanning every member (the reference for tests), not the bits */
    char **dirty_calls;
    size_t ndirty_calls, capdirty_calls;
};

/* The word of the group's avail bits that holds membership m's bit (inside the group's line
 * when it has 64 members or fewer). */
static inline uint64_t *rgs_member_word(const cr_rgs_engine *e, const rgs_member *m)
{
    return &e->groups[m->group].avail[m->pos >> 6];
}

/* Handles that name their call's slot (cr_rgs_input.slot_handle): the top bit set, a
 * generation in bits 31-62, the slot (below INT32_MAX: calls_grow) in bits 0-30. A call whose
 * handle names its own slot, whoever chose it, is not in call_handles: a lookup reads the
 * slot's record and compares its handle (one read, of the record the event needs anyway);
 * every other call is in call_handles, which a lookup reads when the record does not match.
 * The generation is the slot's serial (which counts its calls) over two, plus gen_base: a
 * handle of an ended call is not given again until its slot has had 2^32 more calls. */
#define RGS_SLOT_BIT  (1ULL << 63)
#define RGS_SLOT_MASK 0x7fffffffULL
static inline uint64_t rgs_slot_handle(const cr_rgs_engine *e, size_t s, uint64_t serial)
{
    uint32_t gen = (uint32_t)(serial >> 1) + e->gen_base;
    return RGS_SLOT_BIT | (uint64_t)gen << 31 | (uint64_t)s;
}
/* Whether handle h names slot s (so that the call in s with handle h is not in call_handles). */
static inline bool rgs_handle_names(uint64_t h, size_t s)
{
    return (h & RGS_SLOT_BIT) && (h & RGS_SLOT_MASK) == s;
}
/* The live call whose handle names its own slot and is h, or -1. */
static inline long rgs_call_by_slot_handle(const cr_rgs_engine *e, uint64_t h)
{
    size_t s = (size_t)(h & RGS_SLOT_MASK);
    if ((h & RGS_SLOT_BIT) && s < e->ncalls && e->calls[s].handle == h &&
        e->calls[s].state != CS_FREE)
        return (long)s;
    return -1;
}

/* The call slot of a handle in call_handles, or -1: the key is compared against the call it
 * names. */
static inline long rgs_call_by_mapped_handle(const cr_rgs_engine *e, uint64_t handle)
{
    const rgs_imap *m = &e->call_handles;
    if (!m->count || !handle)
        return -1;
    uint32_t tag = rgs_imap_tag_u64(handle);
    for (size_t j = rgs_imap_home(m, tag); m->slots[j].ref; j = rgs_imap_next(m, j))
        if (m->slots[j].tag == tag && e->calls[m->slots[j].ref - 1].handle == handle)
            return (long)m->slots[j].ref - 1;
    return -1;
}

/* The call slot of a handle, or -1. */
static inline long rgs_call_by_handle(const cr_rgs_engine *e, uint64_t handle)
{
    long s = rgs_call_by_slot_handle(e, handle);
    return s >= 0 ? s : rgs_call_by_mapped_handle(e, handle);
}

/* The call slot of a call id, or -1. */
long rgs_call_by_id(const cr_rgs_engine *e, const char *id);

/* rgs_engine.c */
/* Actions: `arg` may be NULL (""); agents are indexes, passed as handles. */
void rgs_out(cr_rgs_engine *e, const rgs_call *c, cr_rgs_out_type type, const char *arg);
void rgs_out_agents(cr_rgs_engine *e, const rgs_call *c, cr_rgs_out_type type,
                    const uint32_t *agents, size_t n);
/* Hang-up with a reason given as text (mapped to its code; unknown text = IVR). */
void rgs_out_hangup(cr_rgs_engine *e, const rgs_call *c, const char *reason);
/* Hang-up with a reason code (not CR_RGS_HANGUP_IVR): its name is the text. */
void rgs_out_hangup_code(cr_rgs_engine *e, const rgs_call *c, cr_rgs_reason reason);
/* A queue event log line: formatted (and its arguments evaluated) only while the log is on. */
#define rgs_logf(e, ...)                                                                           \
    do {                                                                                           \
        if ((e)->opt.log)                                                                          \
            rgs_logf_((e), __VA_ARGS__);                                                           \
    } while (0)
RGS_COLD void rgs_logf_(cr_rgs_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Formats an event's error into err (errlen bytes, truncated) and returns code: out of line
 * and cold, so that the blocks reporting errors leave the event path's code. */
RGS_COLD int rgs_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Runs what follows a prompt (or the action itself when there is no prompt). */
void rgs_finish(cr_rgs_engine *e, rgs_call *c, rgs_cont k, long q, const char *arg);
/* Answers if needed and plays `prompt`; `k` (queue q, or arg) follows when it is done. */
void rgs_play(cr_rgs_engine *e, rgs_call *c, const char *prompt, rgs_cont k, long q,
              const char *arg);
void rgs_ivr_start(cr_rgs_engine *e, rgs_call *c);
void rgs_ivr_input(cr_rgs_engine *e, rgs_call *c, cr_rgs_ivr_input_kind kind, const char *text);
void rgs_call_delete(cr_rgs_engine *e, rgs_call *c);
/* A new call slot (state CS_PROMPT); handle 0 = the engine picks one (the next number), id
 * NULL = the handle in decimal. Returns the slot, -1 when out of memory, -2 when the handle or
 * id is in use. */
long rgs_call_new(cr_rgs_engine *e, uint64_t handle, const char *id, const char *from,
                  const char *to, long wf);
/* The same with the id given and its rgs_map_hash computed by the caller; with by_slot (and
 * handle 0) the handle is one that names the slot (rgs_slot_handle), and id may be NULL. */
long rgs_call_new_h(cr_rgs_engine *e, uint64_t handle, bool by_slot, const char *id,
                    uint64_t idhash, const char *from, const char *to, long wf);
void rgs_perform(cr_rgs_engine *e, rgs_call *c, const cr_rgs_action *a, const char *reason);
/* Notes agent a, group g or call c for the state directory. Inline: called at nearly every
 * step, and an engine without a store (most) then makes no call. */
void rgs_mark_agent_(cr_rgs_engine *e, size_t a);
static inline void rgs_mark_agent(cr_rgs_engine *e, size_t a)
{
    if (e->store)
        rgs_mark_agent_(e, a);
}
/* Whether the agent at `pos` of group g (agent a) may be offered a call now, the call's own
 * state (round, ringing, grace) aside: signed in (formal groups), and available, on no call
 * and rung for no call (attendant groups: not dnd or offline). */
bool rgs_takes_calls(const cr_rgs_engine *e, size_t g, size_t pos, size_t a);
/* Brings agent a's bits in his groups' avail sets up to date: call after every change of his
 * presence, calls or ringing offers, before anything hunts; after a change of his sign-ins,
 * set his `takes` to RGS_TAKES_UNKNOWN first. Costs nothing when what the bits depend on did
 * not change. */
void rgs_agent_sync(cr_rgs_engine *e, size_t a);
void rgs_mark_group_(cr_rgs_engine *e, size_t g);
static inline void rgs_mark_group(cr_rgs_engine *e, size_t g)
{
    if (e->store)
        rgs_mark_group_(e, g);
}
/* Signs agent a in or out of his i-th group (the group's flag and the membership's copy). */
void rgs_set_signed_in(cr_rgs_engine *e, size_t a, size_t i, bool in);
void rgs_mark_call_(cr_rgs_engine *e, const rgs_call *c);
static inline void rgs_mark_call(cr_rgs_engine *e, const rgs_call *c)
{
    if (e->store)
        rgs_mark_call_(e, c);
}
/* Appends x; -1 when out of memory. The common case (room left) is inline: hot paths push
 * several times per event. */
int rgs_vec_push_grow(rgs_vec *v, size_t x);
static inline int rgs_vec_push(rgs_vec *v, size_t x)
{
    if (v->n < v->cap) {
        v->v[v->n++] = x;
        return 0;
    }
    return rgs_vec_push_grow(v, x);
}
/* Appends x; -1 when out of memory. */
int rgs_svec_push_grow(rgs_svec *v, uint32_t x);
static inline int rgs_svec_push(rgs_svec *v, uint32_t x)
{
    if (v->n < (v->cap > RGS_SVEC_INLINE ? v->cap : RGS_SVEC_INLINE)) {
        rgs_svec_items(v)[v->n++] = x;
        return 0;
    }
    return rgs_svec_push_grow(v, x);
}
/* Removes the first x (order kept). */
static inline void rgs_svec_remove(rgs_svec *v, uint32_t x)
{
    uint32_t *it = rgs_svec_items(v);
    for (uint32_t i = 0; i < v->n; i++)
        if (it[i] == x) {
            for (uint32_t j = i + 1; j < v->n; j++)
                it[j - 1] = it[j];
            v->n--;
            return;
        }
}
static inline bool rgs_svec_has(const rgs_svec *v, uint32_t x)
{
    const uint32_t *it = rgs_svec_citems(v);
    for (uint32_t i = 0; i < v->n; i++)
        if (it[i] == x)
            return true;
    return false;
}
/* Frees a heap array (the list is then empty, inline). */
void rgs_svec_free(rgs_svec *v);

/* rgs_hunt.c */
/* Tests: selection by scanning every member (as before the avail bits) when `naive`. */
void rgs_engine_set_naive(cr_rgs_engine *e, bool naive);
/* Tests: whether every group's avail bits and counts equal rgs_takes_calls now. */
bool rgs_avail_consistent(const cr_rgs_engine *e);
void rgs_queue_enter(cr_rgs_engine *e, rgs_call *c, long q);
void rgs_queue_leave(cr_rgs_engine *e, rgs_call *c);
void rgs_hunt(cr_rgs_engine *e, rgs_call *c);
void rgs_new_round(rgs_call *c);
void rgs_ring_release(cr_rgs_engine *e, rgs_call *c, bool cancel);
void rgs_dispatch_pending(cr_rgs_engine *e);
void rgs_on_ring_timeout(cr_rgs_engine *e, rgs_call *c);
void rgs_on_queue_timeout(cr_rgs_engine *e, rgs_call *c);
void rgs_on_grace(cr_rgs_engine *e, rgs_call *c);
int rgs_answer(cr_rgs_engine *e, rgs_call *c, size_t a, char *err, size_t errlen);
int rgs_decline(cr_rgs_engine *e, rgs_call *c, size_t a, char *err, size_t errlen);
int rgs_no_answer(cr_rgs_engine *e, rgs_call *c, size_t a, char *err, size_t errlen);
void rgs_agent_free(cr_rgs_engine *e, size_t a);
void rgs_withdraw(cr_rgs_engine *e, size_t a, bool presence);
void rgs_resume(cr_rgs_engine *e);

/* rgs_timer.c */
/* Adds a timer; returns its handle for rgs_timer_cancel (0 when out of memory: no timer). */
uint32_t rgs_timer_add(cr_rgs_engine *e, int64_t when, size_t slot, int kind, uint32_t tok);
/* Takes the timer *h out of the heap (if any) and sets *h to 0. */
void rgs_timer_cancel_(cr_rgs_engine *e, uint32_t *h);
/* (inline: most calls find no timer, *h 0, and then make no call) */
static inline void rgs_timer_cancel(cr_rgs_engine *e, uint32_t *h)
{
    if (*h)
        rgs_timer_cancel_(e, h);
}
/* Pops the earliest timer (the call no longer refers to it). */
rgs_timer rgs_timer_pop(cr_rgs_engine *e);
/* False for a timer whose call is gone or whose token changed (inline: checked after every
 * event, at the top of the heap). */
static inline bool rgs_timer_live(const cr_rgs_engine *e, const rgs_timer *t)
{
    const rgs_call *c = &e->calls[t->slot];
    if (c->state == CS_FREE || c->serial != t->serial)
        return false;
    switch (t->kind) {
    case T_RING:
        return c->state == CS_QUEUED && c->tok_ring == t->tok && c->ring.n > 0;
    case T_TIMEOUT:
        return c->state == CS_QUEUED && c->tok_timeout == t->tok;
    case T_IVR:
        return c->state == CS_IVR && c->tok_ivr == t->tok;
    default:
        return c->state == CS_QUEUED;
    }
}

/* Whether the earliest timer is due at `now`. */
static inline bool rgs_timer_due(const cr_rgs_engine *e, int64_t now)
{
    return e->nheap && e->heap[RGS_HEAP_ROOT].when <= now;
}
/* Pops the timers at the top that are no longer live, so the next deadline is a real one;
 * sets top_live. */
void rgs_timer_drop_dead_(cr_rgs_engine *e);
/* (inline: after nearly every event the earliest timer is live, and then it makes no call) */
static inline void rgs_timer_drop_dead(cr_rgs_engine *e)
{
    if (e->nheap && !rgs_timer_live(e, &e->tim[e->heap[RGS_HEAP_ROOT].h]))
        rgs_timer_drop_dead_(e);
    else
        e->top_live = true;
}
/* Tests: gives the live timers orders by rank (done before the 32-bit order wraps). */
void rgs_timer_renumber(cr_rgs_engine *e);
void rgs_timer_free(cr_rgs_engine *e);

/* rgs_tz.c: cr_rgs_workflow_state from the workflow's zone, holidays and hours indexes. */
cr_rgs_open_state rgs_open_state(const cr_rgs_config *cfg, long tz, long holidays, long hours,
                                 int64_t unix_ms);

/* rgs_config.c: cr_rgs_config_workflow_find with the hash of `to` (its n bytes) computed by
 * the caller (rgs_kmap_hash), which may start loading its slot first. */
void rgs_workflow_prefetch(const cr_rgs_config *cfg, uint64_t h);
long rgs_workflow_find_h(const cr_rgs_config *cfg, const char *to, size_t n, uint64_t h);

/* Starts loading the n cache lines from p (what an event is about to read or write). */
static inline void rgs_prefetch_lines(const void *p, size_t n)
{
#pragma GCC unroll 8
    for (size_t i = 0; i < n; i++)
        __builtin_prefetch((const char *)p + 64 * i, 1);
}

/* rgs_input.c */
void rgs_call_arrives(cr_rgs_engine *e, rgs_call *c);

/* rgs_store.c */
int rgs_store_open(cr_rgs_engine *e, const char *dir, char *err, size_t errlen);
int rgs_store_flush(cr_rgs_engine *e);
void rgs_store_close(cr_rgs_engine *e);

#endif

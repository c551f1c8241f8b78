/*
 * callroute.so: response groups (callroute_rgs(), the match maker process, the rgs RPCs and
 * statistics). Internal. One process, the match maker (crg_mm.c), owns the engine; workers
 * (crg_rgs.c) and RPC processes (crg_rpc.c) hand it fixed-size binary messages through one
 * pipe and read what it publishes in shared memory (the call table, snapshots, statistics).
 */
#ifndef CRG_RGS_H
#define CRG_RGS_H

#include <stdint.h>

#include "core/locking.h"
#include "core/parser/msg_parser.h"
#include "core/str.h"
#include "modules/tm/h_table.h"

#include "callroute.h"

#define CRG_URI          256
#define CRG_CALLID       128
#define CRG_TAG          64
#define CRG_MAX_BRANCHES 32
#define CRG_BUCKETS      512
#define CRG_SNAP_MAX     (256 * 1024)
#define CRG_MAX_WF       64
#define CRG_HO_BUCKETS   299

extern char *crg_state_dir;  /* modparam rgs_state: LMDB directory of the engine */
extern char *crg_log_path;   /* modparam rgs_log: queue event log (simulate --log format) */
extern char *crg_event_path; /* modparam rgs_events: the engine's input timeline */
extern int crg_max_wait;     /* modparam rgs_max_wait: seconds a caller may stay queued */

/* ---- the hand-over: one message per event, written atomically (< PIPE_BUF) ---- */
enum crg_kind { CRG_M_EVENT = 1, CRG_M_SNAPSHOT = 2, CRG_M_FWD_FAILED = 3, CRG_M_PING = 4 };
typedef struct crg_msg {
    int kind;        /* CRG_M_* */
    int type;        /* CR_RGS_EVENT_* (CRG_M_EVENT) */
    uint64_t call;   /* call handle (hash_index << 32 | label) */
    uint32_t agent;  /* agent handle (CRG_M_FWD_FAILED: the 503's Retry-After, s) */
    uint32_t group;  /* group handle (0 = every group) */
    int presence;    /* CR_RGS_PRESENCE_* */
    uint32_t seq;    /* CRG_M_SNAPSHOT: the request's number; CRG_M_FWD_FAILED: the code */
    int64_t sent_ns; /* CLOCK_MONOTONIC when written (hand-over latency) */
    char from[CRG_URI];
    char to[CRG_URI];
    char call_id[CRG_CALLID];
} crg_msg;

/* Writes one message to the match maker; -1 when the pipe is gone or full for 100 ms. */
int crg_send(crg_msg *m);
/* The read end (the match maker). */
int crg_pipe_rd(void);

/* ---- calls: one shared-memory record per queued call, keyed by handle and Call-ID ---- */
enum crg_state { CRG_QUEUED = 0, CRG_ANSWERED, CRG_FINAL };
#define CRG_B_CANCELLED 1 /* the engine cancelled this branch: no report */
#define CRG_B_REPORTED  2 /* answer/decline/no answer already handed over */
#define CRG_B_HUNG_UP   4 /* a 2xx after the caller's final reply: the proxy sent BYE */

typedef struct crg_call {
    struct crg_call *next_h, *next_c;
    uint64_t handle;
    unsigned int hash_index, label;
    int state;       /* enum crg_state */
    int dead;        /* tm freed the transaction */
    int ended;       /* a BYE was seen (connected calls) */
    int hangup_sent; /* the caller's HANGUP was handed over */
    int media;       /* an rtpengine session exists (crm_media.c), until crg_media_end */
    int connected;   /* a branch's 2xx reached the caller (the session is the call's now) */
    int64_t born_ms;
    uint32_t agent[CRG_MAX_BRANCHES]; /* branch -> agent handle (0: none, e.g. the blind UAC) */
    unsigned char bflags[CRG_MAX_BRANCHES];
    volatile branch_bm_t rang; /* branches that sent a provisional reply (crm_note_ringing) */
    branch_bm_t want;          /* branches the match maker cancelled (crm_cancel_wanted) */
    int callid_len, ftag_len;
    char callid[CRG_CALLID];
    char ftag[CRG_TAG];
    char to[CRG_URI];        /* the called URI as the engine got it */
    int fwd_branch;          /* the branch of a forward to a number, -1 none */
    int fwd_next, fwd_n;     /* its attempts: the next one to try, how many */
    struct crg_attempt *fwd; /* shm, freed with the record */
} crg_call;

/* One gateway attempt of a forward to a number (the outbound decision's). */
typedef struct crg_attempt {
    char uri[CR_ANSWER_URI];
    char address[CR_ANSWER_URI];
    char gateway[CR_ANSWER_NAME];
} crg_attempt;

typedef struct crg_shared {
    gen_lock_t lock; /* the call table */
    crg_call *by_handle[CRG_BUCKETS];
    crg_call *by_callid[CRG_BUCKETS];
    volatile int ncalls; /* records in the table (a BYE with none skips the table) */
    /* snapshot exchange with RPC processes (one request at a time: snap_lock) */
    gen_lock_t snap_lock;
    volatile uint32_t snap_req, snap_done;
    int snap_len;
    char snap[CRG_SNAP_MAX];
    /* statistics published by the match maker */
    int nwf;
    cr_rgs_stats wf[CRG_MAX_WF];
    char wf_name[CRG_MAX_WF][64];
    /* hand-over latency (match maker): events, and a histogram (CRG_HO_BUCKETS: 10 us
     * buckets up to 2 ms, then 1 ms buckets up to 100 ms, then one for the rest); pings
     * (callroute.rgs.bench) are counted apart */
    uint64_t pings;
    uint64_t ho_events, ho_hist[CRG_HO_BUCKETS];
    volatile int mm_ready;
} crg_shared;

extern crg_shared *crg_sh;

/* tm's t_reply_with_body() on t. That function drops a reference to t when it sends the
 * reply (t_reply.c: "ugly hack ... I unref"): crg_reply takes one for it first, so that the
 * caller's own reference (t_lookup_ident's, or the script's T) stays balanced. Without it
 * the cell's count reached 0 while it was still in tm's hash table ("removed cell ... still
 * linked in hash table") and the cell was freed under tm's feet. */
int crg_reply(struct cell *t, int code, str *text, str *hdr, str *totag);

/* The hand-over histogram's bucket of a latency in ns, and a bucket's upper bound in us
 * (1,000,000 for the last one, 100 ms and more). */
int crg_ho_bucket(int64_t ns);
int crg_ho_bucket_us(int b);

/* Under crg_sh->lock. */
crg_call *crg_find(uint64_t handle);
/* The call whose Call-ID and caller's From tag these are (a DTMF event); 0 none. */
uint64_t crg_find_media(const char *callid, const char *ftag);
/* Deletes the call's rtpengine session, once (any process). */
void crg_media_end(crg_call *c);
/* Kamailio stops (mod_destroy): every session still open is deleted. */
void crg_media_shutdown(void);
/* Frees the records of calls that are over (match maker, periodically). */
void crg_sweep(int64_t now_ms);
int64_t crg_mono_ms(void);
int64_t crg_mono_ns(void);

/* A private engine of this process, over its own handle, for what the configuration alone
 * answers (is a URI a workflow, agent and group handles); NULL when unavailable. */
cr_rgs *crg_private_engine(void);
/* Set in mod_init when the plan Kamailio starts with declares no response groups (the main
 * process's engine has no workflow, agent or agent group). A reload does not change response
 * groups (restart for that), so until Kamailio stops no call is a workflow's and nobody is an
 * agent: callroute_rgs() and callroute_rgs_presence() answer so without an engine, the SIP
 * workers open none in child_init (RPC processes still open theirs when asked), no match
 * maker is forked and nothing is handed over (crg_send fails); callroute.rgs.queues and
 * .agents answer empty lists. */
extern int crg_no_rgs;

/* Life cycle and script function (callroute_mod.c). */
int crg_mod_init(void);
int crg_child_init(int rank);
int crg_rgs(struct sip_msg *msg);

/* The match maker process's main loop (crg_mm.c); never returns. */
void crg_mm_main(void);
/* mod_init: binds registrar for ringing agents. */
int crg_mm_bind(void);
/* callroute_rgs_presence(agent, state) (crg_rpc.c): state is a name (available, busy, away,
 * dnd, offline) or a PIDF document (an agent's PUBLISH body). 1 handed over; -1 not an agent,
 * an empty or unknown state (nothing changed); -3 error. */
int crg_presence(struct sip_msg *msg, str *agent, str *state);
/* A PIDF document as CR_RGS_PRESENCE_*; -1 without a <basic> status. */
int crg_presence_from_pidf(const char *doc, int len);
/* RPCs and counters (crg_rpc.c). */
int crg_rpc_init(void);
int crg_counters_init(void);

/* Return codes of callroute_rgs(). */
#define CRG_OWNED   1
#define CRG_NOT_WF  -1
#define CRG_REFUSED -2

#endif

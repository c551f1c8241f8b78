/*
 * callroute.so: response groups, the worker side (callroute_rgs() and tm's callbacks).
 *
 * One process of its own, the match maker (crg_mm.c), runs the response-group engine and
 * takes every decision about a call. Workers only report what happened to it, as fixed-size
 * binary messages (struct crg_msg) written to one pipe created before fork: a write smaller
 * than PIPE_BUF is atomic, so any number of workers write to it without a lock.
 *
 *   callroute_rgs()        an initial INVITE to a workflow: creates the transaction, answers
 *                          182 Queued, adds tm's blind branch (t_suspend, left at once) (the
 * transaction then never completes on its own while agents decline: the engine decides when the
 * caller gets a final reply) and hands over CALL. TMCB_RESPONSE_IN       an agent's 2xx: ANSWER
 * (the agent of the branch, from the table) TMCB_ON_BRANCH_FAILURE an agent's 486/603/480...:
 * DECLINE; tm's timeout (408): NO_ANSWER TMCB_E2ECANCEL_IN      the caller's CANCEL: HANGUP release
 * of the cell    the transaction died while queued (max wait): HANGUP pre-script (BYE)       the
 * end of a connected call: HANGUP (caller) or AGENT_HANGUP
 *
 * The call table in shared memory maps each call's branches to agents (the match maker fills
 * it when it adds branches) and its Call-ID to the call, for BYEs.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg/cfg_struct.h"
#include "core/dprint.h"
#include "core/hashes.h"
#include "core/mem/shm_mem.h"
#include "core/parser/parse_cseq.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_rr.h"
#include "core/parser/parse_uri.h"
#include "core/forward.h"
#include "core/ut.h"
#include "core/pt.h"
#include "core/script_cb.h"
#include "core/timer.h"
#include "core/timer_ticks.h"
#include "core/sr_module.h"

#include "callroute_mod.h"
#include "crg_rgs.h"
#include "crh_health.h"
#include "crl_library.h"
#include "crm_media.h"
#include "cr_hash.h"

char *crg_state_dir = NULL;
char *crg_log_path = NULL;
char *crg_event_path = NULL;
int crg_max_wait = 600;
/* the caller's transaction outlives rgs_max_wait by this much: tm's final-response timer
 * (set to rgs_max_wait) ends the wait, not the lifetime */
#define CRG_LIFETIME_SLACK_S 10
/* the longest rgs_max_wait tm's timers hold: MS_TO_TICKS(ms) must not overflow 32 bits */
#define CRG_MAX_WAIT_S ((unsigned)((UINT32_MAX - 999U) / TIMER_TICKS_HZ / 1000U))

crg_shared *crg_sh;
static int crg_pipe[2] = {-1, -1};

int64_t crg_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t crg_mono_ms(void)
{
    return crg_mono_ns() / 1000000;
}

int crg_pipe_rd(void)
{
    return crg_pipe[0];
}

int crg_send(crg_msg *m)
{
    int tries = 0;
    ssize_t w;

    if (crg_pipe[1] < 0)
        return -1;
    m->sent_ns = crg_mono_ns();
    for (;;) {
        w = write(crg_pipe[1], m, sizeof(*m));
        if (w == (ssize_t)sizeof(*m))
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN && ++tries < 100) {
            poll(NULL, 0, 1); /* the match maker is behind: wait a little, bounded */
            continue;
        }
        LM_ERR("response groups: cannot hand event %d over to the match maker: %s\n", m->type,
               w < 0 ? strerror(errno) : "short write");
        return -1;
    }
}

static int crg_event(int type, uint64_t call, uint32_t agent)
{
    crg_msg m;

    memset(&m, 0, sizeof(m));
    m.kind = CRG_M_EVENT;
    m.type = type;
    m.call = call;
    m.agent = agent;
    return crg_send(&m);
}

/* Buckets 0..199: 10 us each (0..2 ms); 200..297: 1 ms each (2..100 ms); 298: the rest. */
int crg_ho_bucket(int64_t ns)
{
    if (ns < 2000000)
        return ns < 0 ? 0 : (int)(ns / 10000);
    if (ns < 100000000)
        return 200 + (int)(ns / 1000000) - 2;
    return CRG_HO_BUCKETS - 1;
}

int crg_ho_bucket_us(int b)
{
    if (b < 200)
        return (b + 1) * 10;
    if (b < CRG_HO_BUCKETS - 1)
        return (b - 200 + 3) * 1000;
    return 1000000; /* 100 ms and more: "below 1 s" */
}

int crg_reply(struct cell *t, int code, str *text, str *hdr, str *totag)
{
    atomic_inc(&t->ref_count); /* t_reply_with_body drops one (see crg_rgs.h) */
    return crm_tmb.t_reply_with_body(t, (unsigned)code, text, NULL, hdr, totag);
}

/* ---- the call table ---- */

static unsigned int crg_hash_str(const char *s, int len)
{
    uint64_t h = cr_fnv(CR_FNV_OFFSET, s, (size_t)len);

    return (unsigned int)(h ^ (h >> 32));
}

crg_call *crg_find(uint64_t handle)
{
    crg_call *c;

    for (c = crg_sh->by_handle[handle % CRG_BUCKETS]; c; c = c->next_h)
        if (c->handle == handle)
            return c;
    return NULL;
}

/* Under the lock: the call whose Call-ID is callid (the newest first). */
static crg_call *crg_find_callid(const str *callid)
{
    crg_call *c;

    for (c = crg_sh->by_callid[crg_hash_str(callid->s, callid->len) % CRG_BUCKETS]; c;
         c = c->next_c)
        if (c->callid_len == callid->len && memcmp(c->callid, callid->s, callid->len) == 0)
            return c;
    return NULL;
}

static void crg_insert(crg_call *c)
{
    unsigned int hc = crg_hash_str(c->callid, c->callid_len) % CRG_BUCKETS;

    lock_get(&crg_sh->lock);
    c->next_h = crg_sh->by_handle[c->handle % CRG_BUCKETS];
    crg_sh->by_handle[c->handle % CRG_BUCKETS] = c;
    c->next_c = crg_sh->by_callid[hc];
    crg_sh->by_callid[hc] = c;
    crg_sh->ncalls++;
    lock_release(&crg_sh->lock);
}

/* ---- the call's rtpengine session ---- */

uint64_t crg_find_media(const char *callid, const char *ftag)
{
    str cid;
    crg_call *c;
    uint64_t h = 0;
    size_t fl = strlen(ftag);

    cid.s = (char *)callid;
    cid.len = (int)strlen(callid);
    lock_get(&crg_sh->lock);
    for (c = crg_find_callid(&cid); c; c = c->next_c)
        if (c->callid_len == cid.len && memcmp(c->callid, callid, cid.len) == 0 && c->media &&
            (size_t)c->ftag_len == fl && memcmp(c->ftag, ftag, fl) == 0) {
            h = c->handle;
            break;
        }
    lock_release(&crg_sh->lock);
    return h;
}

void crg_media_end(crg_call *c)
{
    char callid[CRG_CALLID], ftag[CRG_TAG];
    int had;

    lock_get(&crg_sh->lock);
    had = c->media;
    c->media = 0;
    memcpy(callid, c->callid, sizeof(callid));
    memcpy(ftag, c->ftag, sizeof(ftag));
    lock_release(&crg_sh->lock);
    if (had)
        crm_media_delete(callid, ftag);
}

void crg_media_shutdown(void)
{
    crg_call *c;
    int b;

    if (crg_sh == NULL || !crm_media_on())
        return;
    for (b = 0; b < CRG_BUCKETS; b++)
        for (c = crg_sh->by_handle[b]; c; c = c->next_h)
            crg_media_end(c);
}

/* An initial INVITE with SDP when rtpengine is configured: 183 Session Progress with
 * rtpengine's SDP (the proxy answers the caller's offer itself: early media). -1 when there
 * is no media for this call (the caller then gets 182 Queued). */
static int crg_early_media(struct sip_msg *msg, struct cell *t, crg_call *c)
{
    static char sdp[8192];
    str text = str_init("Session Progress"), body, tag;
    str hdr = str_init("Content-Type: application/sdp\r\n");

    if (!crm_media_on() || c->callid_len >= CRG_CALLID - 1 || c->ftag_len >= CRG_TAG - 1 ||
        c->ftag_len == 0)
        return -1;
    tag.s = NULL;
    tag.len = 0;
    if (crm_tmb.t_get_reply_totag(msg, &tag) < 0 || tag.len <= 0 ||
        crm_media_early(msg, &tag, sdp, sizeof(sdp)) < 0)
        return -1;
    c->media = 1;
    body.s = sdp;
    body.len = (int)strlen(sdp);
    atomic_inc(&t->ref_count); /* t_reply_with_body drops one (see crg_rgs.h) */
    crm_tmb.t_reply_with_body(t, 183, &text, &body, &hdr, &tag);
    return 0;
}

/* A record goes once its transaction is gone and, for a connected call (an agent's, or a
 * transfer's with an rtpengine session to delete), its BYE was seen (or after 12 hours). */
static int crg_done(const crg_call *c, int64_t now_ms)
{
    int open = c->state == CRG_ANSWERED || (c->media && c->connected);

    return c->dead && (!open || c->ended || now_ms - c->born_ms > 43200000);
}

void crg_sweep(int64_t now_ms)
{
    crg_call **pp, *c;
    int b;

    lock_get(&crg_sh->lock);
    for (b = 0; b < CRG_BUCKETS; b++)
        for (pp = &crg_sh->by_callid[b]; (c = *pp) != NULL;) {
            if (crg_done(c, now_ms)) {
                *pp = c->next_c;
                continue;
            }
            pp = &c->next_c;
        }
    for (b = 0; b < CRG_BUCKETS; b++)
        for (pp = &crg_sh->by_handle[b]; (c = *pp) != NULL;) {
            if (crg_done(c, now_ms)) {
                *pp = c->next_h;
                if (c->fwd)
                    shm_free(c->fwd);
                shm_free(c);
                crg_sh->ncalls--;
                continue;
            }
            pp = &c->next_h;
        }
    lock_release(&crg_sh->lock);
}

/* ---- tm's callbacks (any worker) ---- */

/* The dialog's route set starts with this proxy's own Record-Route: the ACK and the BYE
 * would go out to this proxy and be relayed by two workers, in either order. Without that
 * first hop they leave from here in order. */
static int crg_route_not_self(dlg_t *d)
{
    rr_t *first = d->route_set;
    struct sip_uri u;

    if (first == NULL || parse_uri(first->nameaddr.uri.s, first->nameaddr.uri.len, &u) < 0 ||
        !check_self(&u.host, u.port_no ? u.port_no : SIP_PORT, 0))
        return 0;
    d->route_set = first->next;
    first->next = NULL;
    shm_free_rr(&first);
    return crm_tmb.calculate_hooks(d);
}

/* A 2xx on a branch after the caller got a negative final reply (487 after the caller's
 * CANCEL, 480 at a timeout...): nobody takes that call, so the proxy hangs the answering
 * leg up itself: ACK, then BYE (bye = 0: a retransmitted 2xx, ACK only), built from the
 * caller's INVITE (Call-ID, From, CSeq) and the 2xx (To tag, Contact, Record-Route) and sent
 * through tm's UAC straight to the agent (or its next proxy). tm relays the 2xx
 * upstream all the same (a proxy must): a caller still there ACKs and BYEs it too, and the
 * agent answers that second BYE 481. */
static void crg_hangup_late(struct cell *t, struct sip_msg *rpl, int bye)
{
    struct sip_msg *req = t->uas.request;
    str ack = str_init("ACK"), byem = str_init("BYE"), callid, ltag;
    unsigned int seq;
    uac_req_t uac;
    dlg_t *d = NULL;

    if (req == NULL || req->callid == NULL || req->from == NULL || req->from->parsed == NULL ||
        req->to == NULL || req->to->parsed == NULL || req->cseq == NULL ||
        str2int(&get_cseq(req)->number, &seq) < 0)
        return;
    callid = req->callid->body;
    ltag = get_from(req)->tag_value;
    if (crm_tmb.new_dlg_uac(&callid, &ltag, seq, &get_from(req)->uri, &get_to(req)->uri, &d) < 0)
        return;
    if (crm_tmb.dlg_response_uac(d, rpl, IS_TARGET_REFRESH) < 0 || crg_route_not_self(d) < 0) {
        LM_WARN("response groups: cannot hang up the late answer [%u:%u]\n", t->hash_index,
                t->label);
    } else {
        LM_INFO("response groups: call [%u:%u]: answer after the caller's final reply (%d): "
                "%s\n",
                t->hash_index, t->label, t->uas.status, bye ? "ACK and BYE" : "ACK");
        set_uac_req(&uac, &ack, NULL, NULL, d, 0, NULL, NULL);
        crm_tmb.t_request_within(&uac);
        if (bye) {
            set_uac_req(&uac, &byem, NULL, NULL, d, 0, NULL, NULL);
            crm_tmb.t_request_within(&uac);
        }
    }
    crm_tmb.free_dlg(d);
}

/* An agent's reply (before tm decides on it). A 1xx is recorded (the branch rings); a 2xx on
 * an agent's branch is the agent's answer. */
static void crg_response_in(struct cell *t, int type, struct tmcb_params *ps)
{
    crg_call *c = ps->param ? (crg_call *)*ps->param : NULL;
    int b = crm_tmb.t_gett_branch();
    uint32_t agent = 0;
    int bye;

    if (c)
        crm_note_ringing(&c->rang, ps->code);
    if (c == NULL || ps->code < 200 || ps->code >= 300 || b < 0 || b >= CRG_MAX_BRANCHES)
        return;
    /* the 200 of tm's CANCEL comes here too */
    if (ps->rpl == NULL || ps->rpl == FAKED_REPLY || ps->rpl->cseq == NULL ||
        get_cseq(ps->rpl)->method_id != METHOD_INVITE)
        return;
    if (t->uas.status >= 300) {
        lock_get(&crg_sh->lock);
        bye = !(c->bflags[b] & CRG_B_HUNG_UP);
        c->bflags[b] |= CRG_B_HUNG_UP;
        lock_release(&crg_sh->lock);
        crg_hangup_late(t, ps->rpl, bye);
        return; /* not an answer: the engine let the call go already */
    }
    /* the caller talks to whoever answered through rtpengine: stop the music, answer */
    if (c->media)
        crm_media_bridge(ps->rpl, c->callid, c->ftag);
    lock_get(&crg_sh->lock);
    c->connected = 1;
    lock_release(&crg_sh->lock);
    /* Also an answer that crossed the engine's CANCEL, or came after the caller's final
     * reply: tm relays every 2xx (a proxy must), the engine refuses the answer and the match
     * maker takes the call out of the queue (crg_answer_refused). */
    lock_get(&crg_sh->lock);
    if (c->agent[b] && !(c->bflags[b] & CRG_B_REPORTED) && c->state != CRG_ANSWERED) {
        agent = c->agent[b];
        c->bflags[b] |= CRG_B_REPORTED;
        if (c->state == CRG_QUEUED)
            c->state = CRG_ANSWERED;
    }
    lock_release(&crg_sh->lock);
    if (agent)
        crg_event(CR_RGS_EVENT_ANSWER, c->handle, agent);
}

/* An agent's branch failed: declined (486, 603, 480...) or tm's timer (408: no answer). */
static void crg_branch_failure(struct cell *t, int type, struct tmcb_params *ps)
{
    crg_call *c = ps->param ? (crg_call *)*ps->param : NULL;
    int b = crm_tmb.t_get_picked_branch();
    uint32_t agent = 0;

    if (c == NULL || b < 0 || b >= CRG_MAX_BRANCHES)
        return;
    if (t->uas.status >= 200 || (t->flags & T_CANCELED))
        return;               /* the call is over: tm cancelled the other agents */
    if (b == c->fwd_branch) { /* the forward to a number: the match maker fails over */
        crg_msg m;
        memset(&m, 0, sizeof(m));
        m.kind = CRG_M_FWD_FAILED;
        m.call = c->handle;
        m.seq = (uint32_t)ps->code;
        if (ps->code == 503 && ps->rpl && ps->rpl != FAKED_REPLY)
            m.agent = (uint32_t)crh_retry_after(ps->rpl->buf, (int)ps->rpl->len);
        crg_send(&m);
        return;
    }
    lock_get(&crg_sh->lock);
    if (c->agent[b] && !(c->bflags[b] & (CRG_B_REPORTED | CRG_B_CANCELLED)) &&
        c->state == CRG_QUEUED) {
        agent = c->agent[b];
        c->bflags[b] |= CRG_B_REPORTED;
    }
    lock_release(&crg_sh->lock);
    if (agent)
        crg_event(ps->code == 408 ? CR_RGS_EVENT_NO_ANSWER : CR_RGS_EVENT_DECLINE, c->handle,
                  agent);
}

static void crg_caller_hangup(crg_call *c)
{
    int send = 0;

    lock_get(&crg_sh->lock);
    if (c->state == CRG_QUEUED && !c->hangup_sent) {
        c->hangup_sent = 1;
        send = 1;
    }
    lock_release(&crg_sh->lock);
    if (send)
        crg_event(CR_RGS_EVENT_HANGUP, c->handle, 0);
}

static void crg_cancel_in(struct cell *t, int type, struct tmcb_params *ps)
{
    crg_call *c = ps->param ? (crg_call *)*ps->param : NULL;

    if (c) {
        crg_caller_hangup(c);
        crg_media_end(c);
    }
}

/* A final failure reaches the caller (tm's own 408 at rgs_max_wait, a 5xx of its own): a call
 * still queued leaves the engine now, not when tm frees the transaction (its wait timer,
 * about 5 s later), so that no agent is rung for a caller who is gone; and its rtpengine
 * session (prompt, music on hold) ends now too, as at the caller's CANCEL. crg_media_end
 * deletes it once: the later crg_release (or the match maker's own end of the call) finds
 * c->media cleared. A call connected already (a 2xx went first) keeps its media until the
 * BYE, as in crg_release. */
static void crg_reply_out(struct cell *t, int type, struct tmcb_params *ps)
{
    crg_call *c = ps->param ? (crg_call *)*ps->param : NULL;
    int connected;

    if (c == NULL || ps->code < 300)
        return;
    crg_caller_hangup(c);
    lock_get(&crg_sh->lock);
    connected = c->connected;
    lock_release(&crg_sh->lock);
    if (!connected)
        crg_media_end(c);
}

/* tm frees the transaction: a call still queued leaves the engine; the match maker frees
 * the record. */
static void crg_release(void *param)
{
    crg_call *c = param;

    if (c == NULL)
        return;
    crg_caller_hangup(c);
    if (!c->connected)
        crg_media_end(c); /* the call ended unanswered: 4xx-6xx, the caller's CANCEL, timeout */
    lock_get(&crg_sh->lock);
    c->dead = 1;
    lock_release(&crg_sh->lock);
}

/* Every request, before the script: a BYE of a connected response-group call ends it. */
static int crg_bye_cb(struct sip_msg *msg, unsigned int flags, void *param)
{
    crg_call *c;
    str ftag;
    int type = 0, media = 0;
    uint64_t handle = 0;
    char callid[CRG_CALLID], mtag[CRG_TAG];

    if (msg->first_line.type != SIP_REQUEST || msg->REQ_METHOD != METHOD_BYE || crg_sh == NULL)
        return 1;
    /* No response-group call at all (most BYEs of a proxy that also routes plain calls):
     * nothing to parse or look up. Read without the lock: a record is inserted when its call
     * is offered, long before any BYE of it. */
    if (crg_sh->ncalls == 0)
        return 1;
    if (parse_headers(msg, HDR_CALLID_F | HDR_FROM_F, 0) < 0 || msg->callid == NULL ||
        parse_from_header(msg) < 0)
        return 1;
    ftag = get_from(msg)->tag_value;
    lock_get(&crg_sh->lock);
    c = crg_find_callid(&msg->callid->body);
    if (c && c->state == CRG_ANSWERED && !c->ended) {
        c->ended = 1;
        handle = c->handle;
        type = (ftag.len == c->ftag_len && memcmp(ftag.s, c->ftag, ftag.len) == 0)
                   ? CR_RGS_EVENT_HANGUP
                   : CR_RGS_EVENT_AGENT_HANGUP;
    }
    if (c && c->media && c->connected) { /* agent, transfer or voicemail: the call ends */
        c->ended = 1;
        c->media = 0;
        media = 1;
        memcpy(callid, c->callid, sizeof(callid));
        memcpy(mtag, c->ftag, sizeof(mtag));
    }
    lock_release(&crg_sh->lock);
    if (media)
        crm_media_delete(callid, mtag);
    if (handle)
        crg_event(type, handle, 0);
    return 1;
}

/* ---- the private engine (what the configuration alone answers) ---- */

static cr_rgs *crg_pe;
static pid_t crg_pe_pid;
int crg_no_rgs;

cr_rgs *crg_private_engine(void)
{
    char err[256];

    static pid_t failed_pid;

    if (crg_pe && crg_pe_pid == getpid())
        return crg_pe;
    crg_pe = NULL;
    if (failed_pid == getpid())
        return NULL; /* tried once in this process */
    if (crl_handle() == NULL || crl_plugin->rgs_open_ex == NULL)
        return NULL;
    if (crl_plugin->rgs_open_ex(crl_handle(), NULL, &crg_pe, err, sizeof(err)) < 0) {
        LM_ERR("response groups unavailable in this process: %s\n", err);
        failed_pid = getpid();
        crg_pe = NULL;
        return NULL;
    }
    crg_pe_pid = getpid();
    return crg_pe;
}

typedef struct crg_probe {
    int first_type, first_reason, seen, collect;
} crg_probe;

static void crg_probe_emit(void *ud, int64_t at_ms, const cr_rgs_typed_action *a)
{
    crg_probe *p = ud;

    if (a->type == CR_RGS_ACTION_COLLECT)
        p->collect = 1; /* an IVR waiting for keys */

    if (p->seen++ == 0) {
        p->first_type = a->type;
        p->first_reason = a->reason;
    }
}

/* What the configuration says of a call to `to`: 0 a workflow that takes calls, else the
 * hang-up reason the engine gives at once (CR_RGS_REASON_NOT_FOUND, _INACTIVE...). */
static int crg_classify(const char *from, const char *to)
{
    static uint64_t probe_no;
    cr_rgs *pe;
    cr_rgs_typed_event ev;
    crg_probe p;
    char err[256];

    if (crg_no_rgs)
        return CR_RGS_REASON_NOT_FOUND; /* what the engine would say: no workflow at all */
    pe = crg_private_engine();
    if (pe == NULL)
        return CR_RGS_REASON_NOT_FOUND; /* logged when it failed to open */
    memset(&ev, 0, sizeof(ev));
    memset(&p, 0, sizeof(p));
    ev.size = sizeof(ev);
    ev.type = CR_RGS_EVENT_CALL;
    ev.call = ++probe_no;
    ev.from = from;
    ev.to = to;
    if (crl_plugin->rgs_event_typed(pe, 0, &ev, crg_probe_emit, &p, err, sizeof(err)) < 0)
        return -1;
    if (p.seen && p.first_type == CR_RGS_ACTION_HANGUP)
        return p.first_reason > 0 ? p.first_reason : CR_RGS_REASON_DISCONNECT;
    ev.type = CR_RGS_EVENT_HANGUP; /* leave the private engine as it was */
    crl_plugin->rgs_event_typed(pe, 0, &ev, NULL, NULL, err, sizeof(err));
    return p.collect && !crm_media_on() ? CR_RGS_REASON_NO_IVR : 0;
}

/* A user part of '+' and decimal digits only. */
static int crg_plus_digits(const str *u)
{
    int i;

    for (i = 1; i < u->len; i++)
        if (u->s[i] < '0' || u->s[i] > '9')
            return 0;
    return u->len > 1 && u->s[0] == '+';
}

/* The URI the engine knows the called workflow by: the Request-URI, or for a user part that
 * is a number with user parameters (+digits;ext=1), the line tel:+digits;ext=1. Returns the
 * classification of crg_classify. */
static int crg_target(struct sip_msg *msg, const char *from, char *to, size_t len)
{
    struct sip_uri *u;
    int r, n;

    if (crl_cstr(GET_RURI(msg), to, len) < 0) {
        /* longer than any workflow URI the module holds: without its parameters (which a
         * workflow's URI ignores), or no workflow at all; routing goes on (-1), not 500 */
        if (parse_sip_msg_uri(msg) < 0)
            return CR_RGS_REASON_NOT_FOUND;
        u = &msg->parsed_uri;
        if (u->type != SIP_URI_T && u->type != SIPS_URI_T)
            return CR_RGS_REASON_NOT_FOUND;
        n = snprintf(to, len, "%s:%.*s%s%.*s", u->type == SIPS_URI_T ? "sips" : "sip", u->user.len,
                     u->user.s, u->user.len ? "@" : "", u->host.len, u->host.s);
        if (n < 0 || (size_t)n >= len)
            return CR_RGS_REASON_NOT_FOUND;
    }
    r = crg_classify(from, to);
    if (r != CR_RGS_REASON_NOT_FOUND || parse_sip_msg_uri(msg) < 0)
        return r;
    /* the library already looked up tel:+digits for a user part of only +digits (SIP's
     * comparison of a called URI); the line is tried here for one with more (";ext=1") */
    if (msg->parsed_uri.user.len > 1 && msg->parsed_uri.user.s[0] == '+' &&
        !crg_plus_digits(&msg->parsed_uri.user) && msg->parsed_uri.user.len + 5 < (int)len) {
        snprintf(to, len, "tel:%.*s", msg->parsed_uri.user.len, msg->parsed_uri.user.s);
        r = crg_classify(from, to);
    }
    return r;
}

/* A final reply from the worker (the call refused at once): 480 with a Reason header. */
static int crg_refuse(struct sip_msg *msg, int reason)
{
    static const char *const names[] = {"none",        "not_found",  "inactive",  "holiday",
                                        "after_hours", "no_agents",  "timeout",   "overflow",
                                        "agent",       "no_ivr",     "ivr_error", "no_queue",
                                        "loop",        "disconnect", "ivr"};
    char hdr[128];
    str h, text = str_init("Temporarily Unavailable"), tag;
    struct cell *t;
    int rc = crm_tmb.t_newtran(msg);

    if (rc == 0)
        return 0;
    t = crm_tmb.t_gett();
    if (rc < 0 || t == NULL || t == T_UNDEFINED)
        return CRM_ERROR;
    h.len = snprintf(hdr, sizeof(hdr), "Reason: SIP;cause=480;text=\"%s\"\r\n",
                     reason >= 0 && reason < 15 ? names[reason] : "disconnect");
    h.s = hdr;
    tag.s = NULL;
    tag.len = 0;
    crm_tmb.t_get_reply_totag(msg, &tag);
    crg_reply(t, 480, &text, &h, &tag);
    return CRG_REFUSED;
}

static crg_call *crg_new_call(struct sip_msg *msg, struct cell *t)
{
    crg_call *c = shm_malloc(sizeof(*c));
    str ftag = get_from(msg)->tag_value;

    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->hash_index = t->hash_index;
    c->label = t->label;
    c->handle = ((uint64_t)t->hash_index << 32) | t->label;
    c->born_ms = crg_mono_ms();
    c->callid_len = msg->callid->body.len < CRG_CALLID ? msg->callid->body.len : CRG_CALLID - 1;
    memcpy(c->callid, msg->callid->body.s, c->callid_len);
    c->ftag_len = ftag.len < CRG_TAG ? ftag.len : CRG_TAG - 1;
    memcpy(c->ftag, ftag.s, c->ftag_len);
    c->fwd_branch = -1;
    return c;
}

int crg_rgs(struct sip_msg *msg)
{
    char from[CRG_URI], to[CRG_URI];
    struct cell *t;
    crg_call *c;
    crg_msg m;
    unsigned int hi, lb;
    ticks_t eol;
    int rc, from_ok;

    if (crg_sh == NULL || (crg_pipe[1] < 0 && !crg_no_rgs)) {
        LM_ERR("callroute_rgs(): the library has no typed response groups (ABI 1.5)\n");
        return CRM_ERROR;
    }
    if (msg->first_line.type != SIP_REQUEST || msg->REQ_METHOD != METHOD_INVITE ||
        parse_headers(msg, HDR_CALLID_F | HDR_TO_F, 0) < 0 || msg->callid == NULL ||
        parse_from_header(msg) < 0) {
        LM_ERR("callroute_rgs() handles initial INVITEs with From and Call-ID\n");
        return CRM_ERROR;
    }
    /* a From URI too long for a response-group call matters only if the call is one */
    from_ok = crl_cstr(&get_from(msg)->uri, from, sizeof(from)) == 0;
    if (!from_ok)
        from[0] = '\0';
    if (get_to(msg)->tag_value.len > 0)
        return CRG_NOT_WF; /* in dialog */
    rc = crg_target(msg, from, to, sizeof(to));
    if (rc < 0)
        return CRM_ERROR;
    if (rc == CR_RGS_REASON_NOT_FOUND)
        return CRG_NOT_WF;
    if (!from_ok) {
        LM_ERR("response groups: call to %s: its From URI is longer than %d bytes\n", to,
               CRG_URI - 1);
        return CRM_ERROR;
    }
    /* Only what the configuration alone decides is refused here (an inactive workflow);
     * the private engine's clock is not the match maker's: business hours, holidays and
     * agents are the match maker's decisions. */
    if (rc == CR_RGS_REASON_INACTIVE) {
        LM_INFO("response groups: call %s -> %s refused at once (reason %d)\n", from, to, rc);
        return crg_refuse(msg, rc);
    }
    if (rc == CR_RGS_REASON_NO_IVR) {
        LM_ERR("response groups: call %s -> %s refused: the workflow is an IVR that waits for "
               "keys and no rtpengine is configured (modparam rtpengine_sock)\n",
               from, to);
        return crg_refuse(msg, rc);
    }

    rc = crm_tmb.t_newtran(msg);
    if (rc == 0)
        return 0; /* a retransmission, absorbed */
    t = crm_tmb.t_gett();
    if (rc < 0 || t == NULL || t == T_UNDEFINED) {
        LM_ERR("response groups: cannot create the transaction for %s\n", to);
        return CRM_ERROR;
    }
    c = crg_new_call(msg, t);
    if (c == NULL) {
        LM_ERR("response groups: no shared memory\n");
        return CRM_ERROR;
    }
    /* the caller waits up to rgs_max_wait; an agent's 603 must not end the hunt */
    crm_tmb.set_fr(msg, (unsigned)crg_max_wait * 1000, (unsigned)crg_max_wait * 1000);
    /* ... and tm's max_inv_lifetime (180 s unless configured) must not end the wait first:
     * the transaction lives a little longer than rgs_max_wait, never shorter than tm's */
    eol = get_ticks_raw() + S_TO_TICKS(crg_max_wait + CRG_LIFETIME_SLACK_S);
    if ((s_ticks_t)(t->end_of_life - eol) < 0)
        t->end_of_life = eol;
    t->flags |= T_DISABLE_6xx;
    if (crm_tmb.register_tmcb(msg, t, TMCB_RESPONSE_IN, crg_response_in, c, crg_release) <= 0 ||
        crm_tmb.register_tmcb(msg, t, TMCB_ON_BRANCH_FAILURE, crg_branch_failure, c, 0) <= 0 ||
        crm_tmb.register_tmcb(msg, t, TMCB_E2ECANCEL_IN, crg_cancel_in, c, 0) <= 0 ||
        crm_tmb.register_tmcb(msg, t, TMCB_RESPONSE_OUT, crg_reply_out, c, 0) <= 0) {
        LM_ERR("response groups: cannot watch the transaction of %s\n", to);
        shm_free(c);
        return CRM_ERROR;
    }
    memcpy(c->to, to, strlen(to) + 1);
    if (crg_early_media(msg, t, c) < 0)
        crm_tmb.t_reply(msg, 182, "Queued");
    crg_insert(c);
    /* tm's suspend keeps the request's lumps (Record-Route) for the branches added later and
     * adds the blind branch; the transaction is not left suspended (replies of suspended
     * transactions are not relayed): only the blind branch stays. */
    if (crm_tmb.t_suspend(msg, &hi, &lb) != 0) {
        LM_ERR("response groups: cannot hold the transaction of %s\n", to);
        return CRM_ERROR;
    }
    t->flags &= ~T_ASYNC_SUSPENDED;
    memset(&m, 0, sizeof(m));
    m.kind = CRG_M_EVENT;
    m.type = CR_RGS_EVENT_CALL;
    m.call = c->handle;
    memcpy(m.from, from, strlen(from) + 1);
    memcpy(m.to, to, strlen(to) + 1);
    memcpy(m.call_id, c->callid, c->callid_len);
    m.call_id[c->callid_len] = '\0';
    LM_INFO("response groups: call %s -> %s queued [%u:%u]\n", from, to, t->hash_index, t->label);
    if (crg_send(&m) < 0)
        crg_caller_hangup(c);
    return CRG_OWNED;
}

/* ---- life cycle ---- */

/* Without rtpengine, an IVR workflow that waits for keys is refused at each call (480,
 * no_ivr): say so once at start, per workflow, where the configuration shows it now (a
 * workflow closed at this hour starts with its after-hours action and is not seen). */
static void crg_warn_ivr_without_media(void)
{
    cr_rgs_stats st;
    uint32_t w;

    if (crm_media_on() || crg_pe == NULL || crl_plugin->rgs_stats == NULL)
        return;
    for (w = 0; w < CRG_MAX_WF; w++) {
        memset(&st, 0, sizeof(st));
        st.size = sizeof(st);
        if (crl_plugin->rgs_stats(crg_pe, 0, w, &st) < 0)
            break;
        if (st.uri && crg_classify("sip:callroute@localhost", st.uri) == CR_RGS_REASON_NO_IVR)
            LM_WARN("response groups: workflow '%s' (%s) is an IVR that waits for keys and no "
                    "rtpengine is configured (modparam rtpengine_sock): its calls are refused "
                    "(480, no_ivr)\n",
                    st.workflow ? st.workflow : "?", st.uri);
    }
}

int crg_mod_init(void)
{
    int fl;

    if (!CR_HAS(cr_plugin, crl_plugin, rgs_snapshot) || crl_plugin->rgs_open_ex == NULL ||
        crl_plugin->rgs_event_typed == NULL) {
        LM_INFO("%s has no typed response groups: callroute_rgs() is unavailable\n", crl_path);
        return 0;
    }
    if (crg_max_wait < 10) {
        LM_ERR("rgs_max_wait must be >= 10 seconds\n");
        return -1;
    }
    /* tm's final-response timer (t_set_fr: milliseconds, turned into 1/16 s ticks in 32 bits)
     * would wrap above this and end callers' waits at some shorter, unrelated time */
    if (crg_max_wait > (int)CRG_MAX_WAIT_S) {
        LM_ERR("rgs_max_wait must be <= %u seconds, the longest timer tm keeps (not %d)\n",
               CRG_MAX_WAIT_S, crg_max_wait);
        return -1;
    }
    /* zeroed, its pages untouched until used (the snapshot buffer alone is 256 kB) */
    crg_sh = crl_shared_zalloc(sizeof(*crg_sh), "response groups");
    if (crg_sh == NULL)
        return -1;
    if (lock_init(&crg_sh->lock) == NULL || lock_init(&crg_sh->snap_lock) == NULL)
        return -1;
    crg_mm_bind();
    if (register_script_cb(crg_bye_cb, PRE_SCRIPT_CB | REQUEST_CB, 0) < 0)
        return -1;
    if (crg_rpc_init() < 0 || crg_counters_init() < 0)
        return -1;
    crg_no_rgs = crg_pe != NULL && crg_sh->nwf == 0 &&
                 crl_plugin->rgs_agent_uri(crg_pe, 1) == NULL &&
                 crl_plugin->rgs_group_name(crg_pe, 1) == NULL;
    if (crg_no_rgs) {
        /* nothing for a match maker to do until Kamailio restarts: none is forked, and
         * nothing is handed over (crg_send fails: no pipe) */
        LM_INFO("response groups: %s declares none: no match maker (a reload does not add "
                "response groups: restart for that)\n",
                crl_config);
        return 0;
    }
    crg_warn_ivr_without_media();
    if (pipe(crg_pipe) < 0) {
        LM_ERR("response groups: pipe: %s\n", strerror(errno));
        return -1;
    }
    fcntl(crg_pipe[1], F_SETPIPE_SZ, 1 << 20);
    fl = fcntl(crg_pipe[1], F_GETFL);
    fcntl(crg_pipe[1], F_SETFL, fl | O_NONBLOCK);
    register_procs(1);
    cfg_register_child(1);
    return 0;
}

int crg_child_init(int rank)
{
    int pid;

    if (crg_sh == NULL)
        return 0;
    if (rank != PROC_MAIN) {
        /* SIP workers: the configuration as it is at startup, like the match maker's engine
         * (a reload does not change a running engine; a broken file on disk must not
         * matter). Processes that do not route SIP (timers, ctl) hold no plan: they open
         * the engine, from the published plan, the first time they need it. */
        if (crm_routes_sip(rank) && !crg_no_rgs)
            crg_private_engine();
        return 0;
    }
    if (crg_no_rgs)
        return 0;
    pid = fork_process(PROC_NOCHLDINIT, "callroute rgs match maker", 1);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (cfg_child_init())
            return -1;
        crg_mm_main(); /* never returns */
    }
    return 0;
}

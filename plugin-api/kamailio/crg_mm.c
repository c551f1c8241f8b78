/*
 * callroute.so: the response-group match maker, one process of its own.
 *
 * It owns the engine (cr_rgs, opened in this process with the LMDB state directory of
 * modparam rgs_state and CR_RGS_OPEN_DROP_CALLS: calls of a previous run died with their
 * transactions and no agent is ever rung for them), its timers (the loop sleeps in poll()
 * on the hand-over pipe until the engine's next deadline) and the queue event log (modparam
 * rgs_log). Each event a worker hands over is fed to rgs_event_typed(); the typed actions are
 * carried out on the caller's INVITE transaction through tm's API:
 *   RING        the agent's registered contacts become new branches (t_append_branches);
 *               an agent without a contact is reported back as NO_ANSWER
 *   CANCEL      those agents' branches are cancelled (prepare_to_cancel + cancel_uacs)
 *   BRIDGE      tm relayed the agent's 2xx; other agents' branches still ringing are cancelled
 *               (swept until each has a final reply: tm 5.6 can miss one)
 *   TRANSFER, VOICEMAIL  a new branch to the target (a SIP URI relayed; a number routed with
 *               the outbound decision), the others cancelled
 *   HANGUP      480 with a Reason header naming the cause, the branches cancelled
 *   PLAY, MOH   with rtpengine (crm_media_mm.c) played to the caller, PROMPT_DONE at the
 *               prompt's end; without, the prompt counts as played at once
 *   LOG         a line of the queue event log
 * Optionally (modparam rgs_events) every event fed to the engine is written in the
 * `callroute simulate` events format, so a run can be replayed and compared.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg/cfg_struct.h"
#include "core/dprint.h"
#include "core/dset.h"
#include "core/mem/shm_mem.h"
#include "core/sr_module.h"
#include "modules/registrar/api.h"

#include "callroute_mod.h"
#include "crg_rgs.h"
#include "crl_library.h"
#include "crm_media_mm.h"
#include "cru_user.h"

#define CRG_PENDING_MAX 256

typedef struct crg_pending {
    int type;
    uint64_t call;
    uint32_t agent;
} crg_pending;

static cr_rgs *crg_e;
static int64_t crg_t0; /* monotonic ms of engine time 0 */
static FILE *crg_logf, *crg_evf;
static crg_pending crg_pend[CRG_PENDING_MAX];
static int crg_npend;
static registrar_api_t crg_reg;
static int crg_reg_ok;

/* Agents on a call the engine does not know of: the engine ended the call (its queue timed
 * out, ...) while the agent's 2xx was on its way, and tm connected the caller to the agent
 * all the same (crg_answer_refused). Until that call's BYE such an agent is not rung: an
 * offer to it is answered NO_ANSWER at once (and recorded so in the timeline). */
#define CRG_UNTRACKED_MAX 256
static struct {
    uint64_t call;
    uint32_t agent;
} crg_untracked[CRG_UNTRACKED_MAX];
static int crg_nuntracked;

static int crg_untracked_busy(uint32_t agent)
{
    int i = 0, busy = 0;

    lock_get(&crg_sh->lock);
    while (i < crg_nuntracked) {
        if (crg_find(crg_untracked[i].call) == NULL) { /* the record went (12 h at most) */
            crg_untracked[i] = crg_untracked[--crg_nuntracked];
            continue;
        }
        if (crg_untracked[i].agent == agent)
            busy = 1;
        i++;
    }
    lock_release(&crg_sh->lock);
    return busy;
}

/* The call ended (its BYE): its agent may be rung again. */
static void crg_untracked_end(uint64_t call)
{
    int i = 0;

    while (i < crg_nuntracked) {
        if (crg_untracked[i].call == call)
            crg_untracked[i] = crg_untracked[--crg_nuntracked];
        else
            i++;
    }
}

static int64_t crg_now(void)
{
    return crg_mono_ms() - crg_t0;
}

static void crg_defer(int type, uint64_t call, uint32_t agent)
{
    if (crg_npend >= CRG_PENDING_MAX) {
        LM_ERR("response groups: too many deferred events; dropped\n");
        return;
    }
    crg_pend[crg_npend].type = type;
    crg_pend[crg_npend].call = call;
    crg_pend[crg_npend++].agent = agent;
}

/* ---- the transaction of a call ---- */

static struct cell *crg_trans(uint64_t call, struct cell **orig)
{
    struct cell *t = NULL;

    *orig = crm_tmb.t_gett();
    if (crm_tmb.t_lookup_ident(&t, (unsigned int)(call >> 32), (unsigned int)call) < 0 ||
        t == NULL) {
        crm_tmb.t_sett(*orig, T_BR_UNDEFINED);
        return NULL;
    }
    return t;
}

static void crg_trans_done(struct cell *t, struct cell *orig)
{
    crm_tmb.unref_cell(t);
    crm_tmb.t_sett(orig, T_BR_UNDEFINED);
}

/* Calls whose cancelled branches may still ring: swept on every loop turn (crg_sweeps). A
 * branch still open CRG_OPEN_CANCEL_MS after the last cancel was wanted gets its CANCEL
 * whatever tm saw (crm_cancel_open_branches). */
#define CRG_SWEEPS         1024
#define CRG_OPEN_CANCEL_MS 1000
static struct {
    uint64_t call;
    int64_t until;
    int64_t late; /* when to cancel what is still open whatever tm saw; 0 = done */
} crg_sw[CRG_SWEEPS];
static int crg_nsw;

static void crg_sweep_add(uint64_t call)
{
    int i;

    for (i = 0; i < crg_nsw && crg_sw[i].call != call; i++)
        ;
    if (i == CRG_SWEEPS) {
        LM_WARN("response groups: too many calls with cancelled branches still ringing\n");
        return;
    }
    crg_sw[i].call = call;
    crg_sw[i].until = crg_mono_ms() + 40000; /* past any fr_inv_timer */
    crg_sw[i].late = crg_mono_ms() + CRG_OPEN_CANCEL_MS;
    if (i == crg_nsw)
        crg_nsw++;
}

/* Cancels the open branches of t in `want` (added to the call's) and sweeps the call while
 * one may still ring (see crm_cancel_wanted). */
static void crg_cancel_want(struct cell *t, branch_bm_t want)
{
    uint64_t call = ((uint64_t)t->hash_index << 32) | t->label;
    branch_bm_t rang = 0;
    crg_call *c;

    lock_get(&crg_sh->lock);
    c = crg_find(call);
    if (c) {
        c->want |= want;
        want = c->want;
        rang = c->rang;
    }
    lock_release(&crg_sh->lock);
    if (crm_cancel_wanted(t, want, rang, 1, "response groups") > 0 && c)
        crg_sweep_add(call);
}

/* Cancels the open branches of t except those in skip. */
static void crg_cancel_branches(struct cell *t, branch_bm_t skip)
{
    branch_bm_t live = 0;
    int b;

    for (b = 0; b < (int)t->nr_of_outgoings && b < (int)(sizeof(branch_bm_t) * 8); b++)
        live |= (branch_bm_t)1 << b;
    crg_cancel_want(t, live & ~skip);
}

/* Runs the sweeps still open (each loop turn). */
static void crg_sweeps(void)
{
    struct cell *orig, *t;
    branch_bm_t want = 0, rang = 0;
    int64_t now = crg_mono_ms();
    crg_call *c;
    int i = 0, open;

    while (i < crg_nsw) {
        open = 0;
        if (now <= crg_sw[i].until && (t = crg_trans(crg_sw[i].call, &orig)) != NULL) {
            lock_get(&crg_sh->lock);
            c = crg_find(crg_sw[i].call);
            if (c) {
                want = c->want;
                rang = c->rang;
            }
            lock_release(&crg_sh->lock);
            if (c)
                open = crm_cancel_wanted(t, want, rang, 0, "response groups");
            if (open && crg_sw[i].late && now >= crg_sw[i].late) {
                crm_cancel_open_branches(t, want, rang,
                                         (long)(now - crg_sw[i].late + CRG_OPEN_CANCEL_MS),
                                         "response groups");
                crg_sw[i].late = 0;
            }
            crg_trans_done(t, orig);
        }
        if (open)
            i++;
        else
            crg_sw[i] = crg_sw[--crg_nsw];
    }
}

/* Sends the destination set as new branches of t (tm reads contact->s: never NULL). */
static int crg_append(struct cell *t)
{
    str none = {NULL, 0};

    crm_tmb.t_sett(t, T_BR_UNDEFINED);
    return crm_tmb.t_append_branches(&none);
}

/* Rings one agent at its registered contacts: 1 when at least one branch went out. */
static int crg_ring_one(struct cell *t, crg_call *c, uint32_t agent)
{
    const char *uri = crl_plugin->rgs_agent_uri(crg_e, agent);
    str table, suri;
    int old, n, k, rc;

    if (uri == NULL || !crg_reg_ok)
        return 0;
    table.s = cru_location_table;
    table.len = strlen(cru_location_table);
    suri.s = (char *)uri;
    suri.len = strlen(uri);
    clear_branches();
    crg_reg.lookup_to_dset(t->uas.request, &table, &suri);
    n = (int)nr_branches;
    if (n == 0) {
        LM_INFO("response groups: agent %s has no registered contact\n", uri);
        return 0;
    }
    lock_get(&crg_sh->lock);
    old = t->nr_of_outgoings;
    for (k = 0; k < n && old + k < CRG_MAX_BRANCHES; k++) {
        c->agent[old + k] = agent;
        c->bflags[old + k] = 0;
    }
    lock_release(&crg_sh->lock);
    crm_tmb.t_sett(t, T_BR_UNDEFINED);
    rc = crg_append(t);
    clear_branches();
    if (rc <= 0) {
        LM_INFO("response groups: agent %s: no branch added (%d)\n", uri, rc);
        return 0;
    }
    LM_INFO("response groups: ringing agent %s [%u:%u]\n", uri, c->hash_index, c->label);
    return 1;
}

static void crg_ring(const cr_rgs_typed_action *a)
{
    struct cell *orig, *t = crg_trans(a->call, &orig);
    crg_call *c;
    uint32_t i;

    lock_get(&crg_sh->lock);
    c = crg_find(a->call);
    lock_release(&crg_sh->lock);
    for (i = 0; i < a->nagents; i++) {
        if (t == NULL || c == NULL || t->uas.status >= 200 || (t->flags & T_CANCELED) ||
            crg_untracked_busy(a->agents[i]) || !crg_ring_one(t, c, a->agents[i]))
            crg_defer(CR_RGS_EVENT_NO_ANSWER, a->call, a->agents[i]);
    }
    if (t)
        crg_trans_done(t, orig);
}

static void crg_cancel(const cr_rgs_typed_action *a)
{
    struct cell *orig, *t = crg_trans(a->call, &orig);
    branch_bm_t skip = 0;
    crg_call *c;
    uint32_t i;
    int b, hit;

    if (t == NULL)
        return;
    lock_get(&crg_sh->lock);
    c = crg_find(a->call);
    for (b = 0; b < (int)t->nr_of_outgoings; b++) {
        hit = 0;
        for (i = 0; c && b < CRG_MAX_BRANCHES && i < a->nagents; i++)
            if (c->agent[b] == a->agents[i])
                hit = 1;
        if (hit && t->uac[b].last_received < 200)
            c->bflags[b] |= CRG_B_CANCELLED;
        else
            skip |= (branch_bm_t)1 << b;
    }
    lock_release(&crg_sh->lock);
    crg_cancel_branches(t, skip);
    crg_trans_done(t, orig);
}

/* BRIDGE: tm relayed the agent's 2xx and cancelled every other branch, but tm 5.6 can lose one
 * (see crm_cancel_wanted): every other agent's branch is wanted cancelled, at once and then
 * on every loop turn until each has a final reply or its CANCEL. */
static void crg_bridge(const cr_rgs_typed_action *a)
{
    struct cell *orig, *t;
    branch_bm_t want = 0;
    crg_call *c;
    int b;

    if (a->nagents == 0 || (t = crg_trans(a->call, &orig)) == NULL)
        return;
    lock_get(&crg_sh->lock);
    c = crg_find(a->call);
    for (b = 0; c && b < (int)t->nr_of_outgoings && b < CRG_MAX_BRANCHES &&
                b < (int)(sizeof(branch_bm_t) * 8);
         b++) {
        if (c->agent[b] && c->agent[b] != a->agents[0] && t->uac[b].last_received < 200) {
            c->bflags[b] |= CRG_B_CANCELLED;
            want |= (branch_bm_t)1 << b;
        }
    }
    lock_release(&crg_sh->lock);
    if (want)
        crg_cancel_want(t, want);
    crg_trans_done(t, orig);
}

/* Marks the call final; 0 when it was not queued any more (answered, or already final). */
static int crg_finalize(uint64_t call)
{
    crg_call *c;
    int ok = 0;

    lock_get(&crg_sh->lock);
    c = crg_find(call);
    if (c && c->state == CRG_QUEUED) {
        c->state = CRG_FINAL;
        ok = 1;
    }
    lock_release(&crg_sh->lock);
    return ok;
}

static void crg_hangup(const cr_rgs_typed_action *a)
{
    struct cell *orig, *t;
    char hdr[160];
    str h, text = str_init("Temporarily Unavailable"), tag;
    crg_call *c;

    if (!crg_finalize(a->call) || (t = crg_trans(a->call, &orig)) == NULL)
        return;
    h.len = snprintf(hdr, sizeof(hdr), "Reason: SIP;cause=480;text=\"%s\"\r\n",
                     a->arg && a->arg[0] ? a->arg : "disconnect");
    h.s = hdr;
    tag.s = NULL;
    tag.len = 0;
    crm_tmb.t_get_reply_totag(t->uas.request, &tag);
    if (t->uas.status < 200) {
        LM_INFO("response groups: call [%u:%u] refused: 480 (%s)\n", t->hash_index, t->label,
                a->arg);
        crg_reply(t, 480, &text, &h, &tag);
    }
    crg_cancel_branches(t, 0);
    crg_trans_done(t, orig);
    lock_get(&crg_sh->lock);
    c = crg_find(a->call);
    lock_release(&crg_sh->lock);
    if (c)
        crg_media_end(c);
}

/* The contact URI of the workflow a call was made to (`to` without parameters when it is
 * one): the caller of the outbound decision when the call is forwarded to a number. */
static void crg_workflow_uri(const char *to, char *out, size_t len)
{
    cr_rgs_stats st;
    size_t n = strcspn(to, ";");
    int w;

    for (w = 0; w < CRG_MAX_WF; w++) {
        memset(&st, 0, sizeof(st));
        st.size = sizeof(st);
        if (crl_plugin->rgs_stats(crg_e, crg_now(), (uint32_t)w, &st) < 0)
            break;
        if (st.uri && strlen(st.uri) == n && strncmp(st.uri, to, n) == 0) {
            snprintf(out, len, "%s", st.uri);
            return;
        }
    }
    snprintf(out, len, "%.*s", (int)n, to);
}

/* A number: the outbound decision's attempts (gateways in order) into c->fwd. */
static int crg_fwd_plan(crg_call *c, const char *target)
{
    cr_route_answer ans;
    cr_handle *h = crl_handle();
    char from[CRG_URI];
    crg_attempt *a;
    uint32_t i, n;

    if (h == NULL || crl_plugin->route_answer == NULL)
        return 0;
    crg_workflow_uri(c->to, from, sizeof(from));
    memset(&ans, 0, sizeof(ans));
    ans.size = sizeof(ans);
    if (crl_plugin->route_answer(h, from, target, NULL, 0, &ans) < 0 ||
        ans.kind != CR_DECISION_OUTBOUND || ans.nattempts == 0) {
        LM_WARN("response groups: no outbound route from %s to %s (%s)\n", from, target,
                ans.reason);
        return 0;
    }
    n = ans.nattempts > 8 ? 8 : ans.nattempts;
    a = shm_malloc(n * sizeof(*a));
    if (a == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        snprintf(a[i].uri, sizeof(a[i].uri), "%s", ans.attempts[i].uri);
        snprintf(a[i].address, sizeof(a[i].address), "%s", ans.attempts[i].address);
        snprintf(a[i].gateway, sizeof(a[i].gateway), "%s", ans.attempts[i].gateway);
    }
    lock_get(&crg_sh->lock);
    if (c->fwd)
        shm_free(c->fwd);
    c->fwd = a;
    c->fwd_n = (int)n;
    c->fwd_next = 0;
    lock_release(&crg_sh->lock);
    return (int)n;
}

/* One branch to uri (through dst when not empty); its index, or -1. When fwd, the branch is
 * the forward to a number (its failures come back as CRG_M_FWD_FAILED). */
static int crg_add_branch(struct cell *t, crg_call *c, const char *u, const char *d, int fwd)
{
    str uri, dst;
    int old = t->nr_of_outgoings;

    uri.s = (char *)u;
    uri.len = strlen(u);
    dst.s = (char *)d;
    dst.len = d ? strlen(d) : 0;
    if (fwd) {
        lock_get(&crg_sh->lock);
        c->fwd_branch = old;
        lock_release(&crg_sh->lock);
    }
    clear_branches();
    append_branch(t->uas.request, &uri, dst.len ? &dst : NULL, NULL, Q_UNSPECIFIED, 0, NULL, NULL,
                  0, NULL, NULL);
    if (crg_append(t) > 0 && (int)t->nr_of_outgoings > old)
        return old;
    clear_branches();
    if (fwd) {
        lock_get(&crg_sh->lock);
        c->fwd_branch = -1;
        lock_release(&crg_sh->lock);
    }
    return -1;
}

/* The next gateway attempt of the forward to a number; its branch or -1 (none left). */
static int crg_fwd_next(struct cell *t, crg_call *c)
{
    int b;

    while (c->fwd && c->fwd_next < c->fwd_n) {
        crg_attempt *a = &c->fwd[c->fwd_next++];
        b = crg_add_branch(t, c, a->uri, a->address, 1);
        if (b >= 0) {
            LM_INFO("response groups: call [%u:%u] forwarded to %s via %s\n", t->hash_index,
                    t->label, a->uri, a->gateway);
            return b;
        }
    }
    return -1;
}

/* TRANSFER and VOICEMAIL: relay the call to the target. A SIP URI is relayed; a number goes
 * out through the outbound decision's gateways, failing over (crg_fwd_failed) while the
 * blind branch keeps the transaction from completing. */
static void crg_relay(const cr_rgs_typed_action *a)
{
    struct cell *orig, *t;
    branch_bm_t keep = 0;
    crg_call *c;
    int b = -1, number;

    if (!crg_finalize(a->call) || (t = crg_trans(a->call, &orig)) == NULL)
        return;
    lock_get(&crg_sh->lock);
    c = crg_find(a->call);
    lock_release(&crg_sh->lock);
    number = strncmp(a->arg, "sip:", 4) != 0 && strncmp(a->arg, "sips:", 5) != 0;
    if (c && t->uas.status < 200) {
        if (!number)
            b = crg_add_branch(t, c, a->arg, NULL, 0);
        else if (crg_fwd_plan(c, a->arg) > 0)
            b = crg_fwd_next(t, c);
    }
    if (b >= 0) {
        LM_INFO("response groups: call [%u:%u] %s to %s\n", t->hash_index, t->label,
                a->type == CR_RGS_ACTION_VOICEMAIL ? "voicemail" : "transferred", a->arg);
        keep = (branch_bm_t)1 << b;
        if (number) /* the blind branch holds the call while gateways fail over */
            keep |= (branch_bm_t)1 << t->async_backup.blind_uac;
    } else if (t->uas.status < 200) { /* nothing could be relayed */
        str text = str_init("Temporarily Unavailable");
        LM_WARN("response groups: call [%u:%u]: cannot reach %s\n", t->hash_index, t->label,
                a->arg);
        crg_reply(t, 480, &text, NULL, NULL);
    }
    crg_cancel_branches(t, keep);
    crg_trans_done(t, orig);
}

/* The forward to a number failed with `code` (`retry_after` s from a 503): the gateway's
 * outcome goes to the library's failure classes (crm_gateway_outcome); a gateway failure
 * (503, 504, 408) tries the next attempt; otherwise, or with none left, the blind branch goes
 * and tm relays the best reply. */
static void crg_fwd_failed(uint64_t call, int code, int retry_after)
{
    struct cell *orig, *t = crg_trans(call, &orig);
    crg_call *c;
    int gw_failure = code == 503 || code == 504 || code == 408;

    if (t == NULL)
        return;
    lock_get(&crg_sh->lock);
    c = crg_find(call);
    lock_release(&crg_sh->lock);
    if (c && c->fwd && t->uas.status < 200 && !(t->flags & T_CANCELED)) {
        if (c->fwd_next > 0)
            crm_gateway_outcome("response groups", c->fwd[c->fwd_next - 1].gateway, code,
                                retry_after);
        if (!gw_failure || crg_fwd_next(t, c) < 0)
            crg_cancel_branches(t, 0);
    }
    crg_trans_done(t, orig);
}

/* Timers that acted (rgs_advance_typed emitted something): the timeline says until when a
 * replay must run ("# advance SECONDS"). */
static int64_t crg_adv_at = -1;

static void crg_emit(void *ud, int64_t at_ms, const cr_rgs_typed_action *a)
{
    if (ud == &crg_adv_at)
        crg_adv_at = at_ms;
    switch (a->type) {
    case CR_RGS_ACTION_RING:
        crg_ring(a);
        break;
    case CR_RGS_ACTION_CANCEL:
        crg_cancel(a);
        break;
    case CR_RGS_ACTION_BRIDGE:
        crg_bridge(a);
        break;
    case CR_RGS_ACTION_HANGUP:
        crg_hangup(a);
        break;
    case CR_RGS_ACTION_TRANSFER:
    case CR_RGS_ACTION_VOICEMAIL:
        crm_mm_stop(a->call); /* the caller hears the target, not a prompt */
        crg_relay(a);
        break;
    case CR_RGS_ACTION_PLAY:
    case CR_RGS_ACTION_MOH:
        if (!crm_mm_play(a) && a->type == CR_RGS_ACTION_PLAY)
            crg_defer(CR_RGS_EVENT_PROMPT_DONE, a->call, 0);
        break;
    case CR_RGS_ACTION_LOG:
        if (crg_logf) {
            fprintf(crg_logf, "%lld.%03lld %s\n", (long long)(at_ms / 1000),
                    (long long)(at_ms % 1000), a->arg);
            fflush(crg_logf);
        }
        break;
    default: /* ANSWER (the 183 went at once), COLLECT (DTMF come as they are pressed), SET */
        break;
    }
}

/* ---- feeding the engine ---- */

static const char *crg_presence_name(int p)
{
    static const char *const n[] = {"available", "busy", "away", "dnd", "offline"};
    return p >= 0 && p < 5 ? n[p] : "available";
}

/* The event in the simulate events format (modparam rgs_events). */
static void crg_timeline(int64_t at, const cr_rgs_typed_event *ev, const char *name)
{
    const char *agent = ev->agent ? crl_plugin->rgs_agent_uri(crg_e, ev->agent) : NULL;
    const char *group = ev->group ? crl_plugin->rgs_group_name(crg_e, ev->group) : NULL;
    static const char *const verbs[] = {"call",    "presence", "signin",       "signout",
                                        "dtmf",    "speech",   "prompt_done",  "answer",
                                        "decline", "hangup",   "agent_hangup", "no_answer"};

    if (crg_evf == NULL || ev->type < 0 || ev->type > CR_RGS_EVENT_NO_ANSWER)
        return;
    fprintf(crg_evf, "%lld.%03lld %s", (long long)(at / 1000), (long long)(at % 1000),
            verbs[ev->type]);
    switch (ev->type) {
    case CR_RGS_EVENT_CALL:
        fprintf(crg_evf, " %s %s %s\n", name, ev->from ? ev->from : "-", ev->to);
        break;
    case CR_RGS_EVENT_PRESENCE:
        fprintf(crg_evf, " %s %s\n", agent ? agent : "-", crg_presence_name(ev->presence));
        break;
    case CR_RGS_EVENT_SIGNIN:
    case CR_RGS_EVENT_SIGNOUT:
        fprintf(crg_evf, " %s %s\n", agent ? agent : "-", group ? group : "");
        break;
    case CR_RGS_EVENT_DTMF:
        fprintf(crg_evf, " %s %s\n", name, ev->text ? ev->text : "");
        break;
    case CR_RGS_EVENT_ANSWER:
    case CR_RGS_EVENT_DECLINE:
    case CR_RGS_EVENT_NO_ANSWER:
        fprintf(crg_evf, " %s %s\n", name, agent ? agent : "-");
        break;
    default:
        fprintf(crg_evf, " %s\n", name);
        break;
    }
    fflush(crg_evf);
}

static void crg_feed(cr_rgs_typed_event *ev);

/* The engine refused an agent's answer (the offer was cancelled: sign-out, presence, the
 * caller's final reply). tm relayed the 2xx all the same (a proxy relays every 2xx): when
 * the caller got it, the call left the queue for good and the engine must not ring anyone
 * for it any more, so it gets the caller's HANGUP; and the agent, on that call, is not rung
 * until its BYE (crg_untracked). */
static void crg_answer_refused(uint64_t call, uint32_t agent, const char *why)
{
    struct cell *orig, *t = crg_trans(call, &orig);
    const char *uri = crl_plugin->rgs_agent_uri(crg_e, agent);
    cr_rgs_typed_event ev;
    int connected;

    if (t == NULL)
        return;
    connected = t->uas.status >= 200 && t->uas.status < 300;
    crg_trans_done(t, orig);
    LM_WARN("response groups: call [%u:%u]: answer of %s after its offer ended (%s)%s\n",
            (unsigned)(call >> 32), (unsigned)call, uri ? uri : "?", why,
            connected ? ": connected by tm, the call leaves the queue" : "");
    if (!connected)
        return;
    if (crg_nuntracked < CRG_UNTRACKED_MAX && !crg_untracked_busy(agent)) {
        crg_untracked[crg_nuntracked].call = call;
        crg_untracked[crg_nuntracked++].agent = agent;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = CR_RGS_EVENT_HANGUP;
    ev.call = call;
    crg_feed(&ev);
}

/* Runs the engine's timers due by `at` (their actions first), and writes until when a replay
 * must run when one acted. */
static void crg_advance(int64_t at)
{
    crg_adv_at = -1;
    crl_plugin->rgs_advance_typed(crg_e, at, crg_emit, &crg_adv_at);
    if (crg_adv_at >= 0 && crg_evf) {
        fprintf(crg_evf, "# advance %lld.%03lld\n", (long long)(crg_adv_at / 1000),
                (long long)(crg_adv_at % 1000));
        fflush(crg_evf);
    }
}

static void crg_feed(cr_rgs_typed_event *ev)
{
    char err[256], name[CRG_CALLID];
    int64_t at = crg_now();
    int rc;

    /* a timer that fell due before the event acts first, as in a replay (`simulate`
     * advances to each event's time before it): a late match maker (a loaded machine) must
     * not let a caller's hangup at 9.05 s overtake the queue timeout due at 9.01 s */
    crg_advance(at);

    name[0] = '\0';
    if (ev->type == CR_RGS_EVENT_CALL)
        snprintf(name, sizeof(name), "%s", ev->call_id ? ev->call_id : "-");
    else if (ev->call)
        crl_plugin->rgs_call_id(crg_e, ev->call, name, sizeof(name));
    ev->size = sizeof(*ev);
    err[0] = '\0';
    rc = crl_plugin->rgs_event_typed(crg_e, at, ev, crg_emit, NULL, err, sizeof(err));
    if (rc < 0)
        LM_DBG("response groups: event %d not taken: %s\n", ev->type, err);
    else
        crg_timeline(at, ev, name);
    if (rc < 0 && ev->type == CR_RGS_EVENT_ANSWER)
        crg_answer_refused(ev->call, ev->agent, err);
}

static void crg_run_pending(void)
{
    cr_rgs_typed_event ev;
    int guard = 0, i, n;
    crg_pending batch[CRG_PENDING_MAX];

    while (crg_npend > 0 && guard++ < 64) {
        n = crg_npend;
        memcpy(batch, crg_pend, n * sizeof(batch[0]));
        crg_npend = 0;
        for (i = 0; i < n; i++) {
            memset(&ev, 0, sizeof(ev));
            ev.type = batch[i].type;
            ev.call = batch[i].call;
            ev.agent = batch[i].agent;
            crg_feed(&ev);
        }
    }
    crg_npend = 0;
}

/* ---- snapshots for RPC processes ---- */

static int crg_put(int *len, const char *s)
{
    size_t l = strlen(s ? s : "") + 1;

    if (*len + (int)l > CRG_SNAP_MAX)
        return -1;
    memcpy(crg_sh->snap + *len, s ? s : "", l);
    *len += (int)l;
    return 0;
}

/* Items as: list, then key, value pairs, then "" (and the whole ends with ""). */
static void crg_snapshot(uint32_t seq)
{
    static const char *const lists[] = {"queues", "calls", "agents", "memberships"};
    static const char *const fields[] = {"queue",    "waiting", "ringing",  "longest_wait_s",
                                         "call",     "id",      "caller",   "waited_s",
                                         "state",    "agent",   "presence", "calls",
                                         "answered", "group",   "formal",   "signed_in"};
    cr_result *r = NULL;
    int len = 0, ok = 0;
    size_t l, i, f;

    if (crl_plugin->rgs_snapshot(crg_e, crg_now(), &r) == 0 && r) {
        ok = 1;
        for (l = 0; l < 4 && ok; l++)
            for (i = 0; i < crl_plugin->result_count(r, lists[l]) && ok; i++) {
                ok = crg_put(&len, lists[l]) == 0;
                for (f = 0; f < sizeof(fields) / sizeof(fields[0]) && ok; f++) {
                    const char *v = crl_plugin->result_item(r, lists[l], i, fields[f]);
                    if (v)
                        ok = crg_put(&len, fields[f]) == 0 && crg_put(&len, v) == 0;
                }
                ok = ok && crg_put(&len, "") == 0;
            }
        crl_plugin->result_free(r);
    }
    if (!ok || crg_put(&len, "") < 0)
        len = 0;
    crg_sh->snap_len = len;
    __sync_synchronize();
    crg_sh->snap_done = seq;
}

static void crg_publish_stats(void)
{
    cr_rgs_stats st;
    int w;

    for (w = 0; w < crg_sh->nwf; w++) {
        memset(&st, 0, sizeof(st));
        st.size = sizeof(st);
        if (crl_plugin->rgs_stats(crg_e, crg_now(), (uint32_t)w, &st) < 0)
            break;
        st.workflow = NULL;
        st.uri = NULL;
        crg_sh->wf[w] = st;
    }
}

/* The caller cancelled: tm answers 487 once every branch ended, but the blind branch (the
 * one that keeps the call queued) is not always among those tm's e2e CANCEL cancels: the
 * match maker answers 487 itself and cancels what is left. */
static void crg_caller_gone(uint64_t call)
{
    struct cell *orig, *t = crg_trans(call, &orig);
    str text = str_init("Request Terminated"), tag;

    if (t == NULL)
        return;
    if ((t->flags & T_CANCELED) && t->uas.status < 200) {
        tag.s = NULL;
        tag.len = 0;
        crm_tmb.t_get_reply_totag(t->uas.request, &tag);
        crg_reply(t, 487, &text, NULL, &tag);
    }
    if (t->flags & T_CANCELED)
        crg_cancel_branches(t, 0);
    crg_trans_done(t, orig);
}

/* Media events: prompts that ended, keys pressed (crm_media_mm.c). */
static void crg_media_events(int dtmf_ready)
{
    cr_rgs_typed_event ev;
    uint64_t call;
    char key[2] = {0, 0};

    while (crm_mm_prompt_done(&call))
        crg_defer(CR_RGS_EVENT_PROMPT_DONE, call, 0);
    crg_run_pending();
    while (dtmf_ready && crm_mm_dtmf(&call, &key[0])) {
        memset(&ev, 0, sizeof(ev));
        ev.type = CR_RGS_EVENT_DTMF;
        ev.call = call;
        ev.text = key;
        crg_feed(&ev);
        crg_run_pending();
    }
}

static void crg_handle(const crg_msg *m)
{
    cr_rgs_typed_event ev;
    int64_t d = crg_mono_ns() - m->sent_ns;

    crg_sh->ho_events++;
    crg_sh->ho_hist[crg_ho_bucket(d)]++;
    if (m->kind == CRG_M_SNAPSHOT) {
        crg_snapshot(m->seq);
        return;
    }
    if (m->kind == CRG_M_FWD_FAILED) {
        crg_fwd_failed(m->call, (int)m->seq, (int)m->agent);
        return;
    }
    if (m->kind == CRG_M_PING) {
        crg_sh->pings++;
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = m->type;
    ev.call = m->call;
    ev.agent = m->agent;
    ev.group = m->group;
    ev.presence = m->presence;
    if (m->type == CR_RGS_EVENT_CALL) {
        ev.from = m->from;
        ev.to = m->to;
        ev.call_id = m->call_id[0] ? m->call_id : NULL;
    }
    crg_feed(&ev);
    crg_run_pending();
    if (m->type == CR_RGS_EVENT_HANGUP || m->type == CR_RGS_EVENT_AGENT_HANGUP)
        crg_untracked_end(m->call);
    if (m->type == CR_RGS_EVENT_HANGUP)
        crg_caller_gone(m->call);
}

static int crg_mm_open(void)
{
    cr_rgs_open_options o;
    struct timespec rt;
    char err[512];

    clock_gettime(CLOCK_REALTIME, &rt);
    /* engine time 0 falls on a whole wall-clock second (replays use --start in seconds) */
    crg_t0 = crg_mono_ms() - rt.tv_nsec / 1000000;
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.start_unix_ms = (int64_t)rt.tv_sec * 1000;
    o.state_dir = crg_state_dir && *crg_state_dir ? crg_state_dir : NULL;
    o.flags = CR_RGS_OPEN_DROP_CALLS | (crg_log_path && *crg_log_path ? CR_RGS_OPEN_LOG : 0);
    if (crl_handle() == NULL ||
        crl_plugin->rgs_open_ex(crl_handle(), &o, &crg_e, err, sizeof(err)) < 0) {
        LM_CRIT("response groups: cannot start the engine (rgs_state %s): %s\n",
                o.state_dir ? o.state_dir : "none", err);
        return -1;
    }
    if (crg_log_path && *crg_log_path && (crg_logf = fopen(crg_log_path, "a")) == NULL)
        LM_ERR("response groups: cannot open rgs_log %s: %s\n", crg_log_path, strerror(errno));
    if (crg_event_path && *crg_event_path) {
        if ((crg_evf = fopen(crg_event_path, "a")) == NULL)
            LM_ERR("response groups: cannot open rgs_events %s\n", crg_event_path);
        else {
            fprintf(crg_evf, "# start %lld\n", (long long)rt.tv_sec);
            fflush(crg_evf);
        }
    }
    LM_INFO("response groups: match maker started (state %s)\n",
            o.state_dir ? o.state_dir : "none");
    return 0;
}

int crg_mm_bind(void)
{
    bind_registrar_f bind = (bind_registrar_f)(void (*)(void))find_export("bind_registrar", 0, 0);

    crg_reg_ok = bind && bind(&crg_reg) == 0;
    if (!crg_reg_ok)
        LM_INFO("registrar not loaded: response-group agents cannot be rung\n");
    return 0;
}

void crg_mm_main(void)
{
    static char buf[64 * sizeof(crg_msg)];
    size_t have = 0, off;
    int64_t now, next, last_pub = 0, last_sweep = 0;
    struct pollfd pfd[2];
    ssize_t n;
    int timeout;

    if (crg_mm_open() < 0)
        exit(-1);
    crg_sh->mm_ready = 1;
    pfd[0].fd = crg_pipe_rd();
    pfd[0].events = POLLIN;
    pfd[1].fd = crm_mm_dtmf_fd(); /* -1 (ignored by poll) without rtpengine_dtmf */
    pfd[1].events = POLLIN;
    for (;;) {
        cfg_update();
        now = crg_now();
        next = crl_plugin->rgs_next_deadline(crg_e);
        timeout = next < 0 ? 200 : (next <= now ? 0 : (int)(next - now < 200 ? next - now : 200));
        pfd[0].revents = pfd[1].revents = 0;
        if (poll(pfd, 2, crm_mm_timeout(timeout)) > 0 && (pfd[0].revents & POLLIN)) {
            n = read(pfd[0].fd, buf + have, sizeof(buf) - have);
            if (n > 0)
                have += (size_t)n;
            for (off = 0; have - off >= sizeof(crg_msg); off += sizeof(crg_msg)) {
                crg_msg m;
                memcpy(&m, buf + off, sizeof(m));
                crg_handle(&m);
            }
            memmove(buf, buf + off, have - off);
            have -= off;
        }
        crg_media_events(pfd[1].revents & POLLIN);
        crg_advance(crg_now());
        crg_run_pending();
        crg_sweeps();
        now = crg_mono_ms();
        if (now - last_pub >= 200) {
            crg_publish_stats();
            last_pub = now;
        }
        if (now - last_sweep >= 1000) {
            crg_sweep(now);
            last_sweep = now;
        }
    }
}

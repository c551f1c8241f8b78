/*
 * callroute.so: response-group RPCs and statistics.
 *
 *   callroute.rgs.signin AGENT GROUP     callroute.rgs.signout AGENT GROUP
 *   callroute.rgs.presence AGENT STATE   (available, busy, away, dnd, offline)
 *   callroute_rgs_presence(agent, state)  the script function: a state name or a PIDF body
 *   callroute.rgs.queues                 per queue: counts and its calls
 *   callroute.rgs.agents                 per agent: presence, state, answered, memberships
 *   callroute.rgs.handover               messages handed to the match maker, latency
 *   callroute.rgs.bench RATE SECONDS     hand-over benchmark (no-op messages)
 * Names are resolved to handles with this process's private engine (the configuration's
 * numbering, the same in every process), then handed over like any event: the match maker
 * alone changes the engine. Status RPCs ask it for a snapshot through shared memory.
 *
 * Counters (group "callroute", one set per workflow, the workflow's name in lower case with
 * '_' for anything not alphanumeric): <wf>_offered, _answered, _abandoned, _timed_out,
 * _overflowed, _after_hours, _holiday, _agents_signed_in, _waiting, _longest_wait_ms; read
 * from what the match maker publishes (every 200 ms).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/counters.h"
#include "core/dprint.h"
#include "core/rpc.h"
#include "core/rpc_lookup.h"

#include "callroute_mod.h"
#include "crg_rgs.h"
#include "crl_library.h"

static void crg_rpc_member(rpc_t *rpc, void *ctx, int type)
{
    char *agent = NULL, *group = NULL;
    cr_rgs *pe = crg_private_engine();
    crg_msg m;

    if (pe == NULL || crg_sh == NULL) {
        rpc->fault(ctx, 500, "response groups are not running");
        return;
    }
    if (rpc->scan(ctx, "s", &agent) < 1) {
        rpc->fault(ctx, 400, "usage: AGENT GROUP");
        return;
    }
    if (rpc->scan(ctx, "*s", &group) < 1)
        group = NULL;
    memset(&m, 0, sizeof(m));
    m.kind = CRG_M_EVENT;
    m.type = type;
    m.agent = crl_plugin->rgs_agent_id(pe, agent);
    if (m.agent == 0) {
        rpc->fault(ctx, 404, "no agent %s", agent);
        return;
    }
    if (group && *group && strcmp(group, "all") != 0) {
        m.group = crl_plugin->rgs_group_id(pe, group);
        if (m.group == 0) {
            rpc->fault(ctx, 404, "no agent group %s", group);
            return;
        }
    }
    if (crg_send(&m) < 0) {
        rpc->fault(ctx, 500, "the match maker does not take events");
        return;
    }
    rpc->rpl_printf(ctx, "ok");
}

static const char *crg_signin_doc[] = {"Sign an agent in to a group: AGENT GROUP", 0};
static void crg_rpc_signin(rpc_t *rpc, void *ctx)
{
    crg_rpc_member(rpc, ctx, CR_RGS_EVENT_SIGNIN);
}

static const char *crg_signout_doc[] = {"Sign an agent out of a group: AGENT GROUP", 0};
static void crg_rpc_signout(rpc_t *rpc, void *ctx)
{
    crg_rpc_member(rpc, ctx, CR_RGS_EVENT_SIGNOUT);
}

static const char *const crg_presence_names[] = {"available", "busy", "away", "dnd", "offline"};

/* A presence state by name (any case): CR_RGS_PRESENCE_*, or -1. */
static int crg_presence_by_name(const char *s, int len)
{
    int i;

    for (i = 0; i < 5; i++)
        if ((int)strlen(crg_presence_names[i]) == len &&
            strncasecmp(s, crg_presence_names[i], len) == 0)
            return i;
    return -1;
}

/* Hands a presence change over to the match maker: 0, or -1 (no such agent: -2). */
static int crg_presence_send(cr_rgs *pe, const char *agent, int presence)
{
    crg_msg m;

    memset(&m, 0, sizeof(m));
    m.kind = CRG_M_EVENT;
    m.type = CR_RGS_EVENT_PRESENCE;
    m.presence = presence;
    m.agent = crl_plugin->rgs_agent_id(pe, agent);
    if (m.agent == 0)
        return -2;
    return crg_send(&m);
}

static const char *crg_presence_doc[] = {
    "Set an agent's presence: AGENT available|busy|away|dnd|offline", 0};
static void crg_rpc_presence(rpc_t *rpc, void *ctx)
{
    char *agent = NULL, *state = NULL;
    cr_rgs *pe = crg_private_engine();
    int p, rc;

    if (pe == NULL || crg_sh == NULL) {
        rpc->fault(ctx, 500, "response groups are not running");
        return;
    }
    if (rpc->scan(ctx, "ss", &agent, &state) < 2) {
        rpc->fault(ctx, 400, "usage: AGENT STATE");
        return;
    }
    p = crg_presence_by_name(state, (int)strlen(state));
    if (p < 0) {
        rpc->fault(ctx, 400, "presence %s: one of available, busy, away, dnd, offline", state);
        return;
    }
    rc = crg_presence_send(pe, agent, p);
    if (rc == -2) {
        rpc->fault(ctx, 404, "no agent %s", agent);
        return;
    }
    if (rc < 0) {
        rpc->fault(ctx, 500, "the match maker does not take events");
        return;
    }
    rpc->rpl_printf(ctx, "ok");
}

/* Does the PIDF document (len bytes) contain one of the words (case-insensitive)? */
static int crg_pidf_has(const char *doc, int len, const char *const *words)
{
    int i, w, n;

    for (w = 0; words[w]; w++) {
        n = (int)strlen(words[w]);
        for (i = 0; i + n <= len; i++)
            if (strncasecmp(doc + i, words[w], n) == 0)
                return 1;
    }
    return 0;
}

/* A PIDF document (RFC 3863, with RPID activities, RFC 4480) as a presence state:
 * <basic>closed</basic> offline; an activity or note saying do-not-disturb dnd; busy,
 * on-the-phone, meeting busy; away, vacation, permanent-absence, appointment, sleeping away;
 * else <basic>open</basic> available. -1 when it has no <basic> status. */
int crg_presence_from_pidf(const char *doc, int len)
{
    static const char *const closed[] = {">closed<", 0};
    static const char *const open[] = {">open<", 0};
    static const char *const dnd[] = {"dnd", "do-not-disturb", "do not disturb", 0};
    static const char *const busy[] = {
        ":busy", "<busy", ":on-the-phone", "<on-the-phone", ":meeting", "<meeting", 0};
    static const char *const away[] = {
        ":away",        "<away",        ":vacation", "<vacation", "permanent-absence",
        ":appointment", "<appointment", ":sleeping", "<sleeping", 0};

    if (crg_pidf_has(doc, len, closed))
        return CR_RGS_PRESENCE_OFFLINE;
    if (!crg_pidf_has(doc, len, open))
        return -1;
    if (crg_pidf_has(doc, len, dnd))
        return CR_RGS_PRESENCE_DND;
    if (crg_pidf_has(doc, len, busy))
        return CR_RGS_PRESENCE_BUSY;
    if (crg_pidf_has(doc, len, away))
        return CR_RGS_PRESENCE_AWAY;
    return CR_RGS_PRESENCE_AVAILABLE;
}

int crg_presence(struct sip_msg *msg, str *agent, str *state)
{
    char a[CRG_URI];
    cr_rgs *pe = crg_no_rgs ? NULL : crg_private_engine();
    int p, rc;

    if ((pe == NULL && !crg_no_rgs) || crg_sh == NULL) {
        LM_ERR("callroute_rgs_presence(): response groups are not running\n");
        return CRM_ERROR;
    }
    if (agent == NULL || agent->len <= 0 || agent->len >= (int)sizeof(a)) {
        LM_ERR("callroute_rgs_presence(): no agent URI\n");
        return CRM_ERROR;
    }
    memcpy(a, agent->s, agent->len);
    a[agent->len] = '\0';
    if (state == NULL || state->len <= 0)
        return -1; /* e.g. a PUBLISH refresh without a body: nothing changes */
    if (state->s[0] == '<')
        p = crg_presence_from_pidf(state->s, state->len);
    else
        p = crg_presence_by_name(state->s, state->len);
    if (p < 0) {
        LM_WARN("callroute_rgs_presence(): %s: state not understood (a name: available, busy, "
                "away, dnd, offline; or a PIDF document)\n",
                a);
        return -1;
    }
    rc = crg_no_rgs ? -2 : crg_presence_send(pe, a, p);
    if (rc == -2) {
        LM_DBG("callroute_rgs_presence(): %s is not an agent\n", a);
        return -1;
    }
    if (rc < 0)
        return CRM_ERROR;
    LM_INFO("response groups: agent %s presence %s\n", a, crg_presence_names[p]);
    return 1;
}

/* ---- snapshots ---- */

#define CRG_SNAP_ITEMS 4096
typedef struct crg_item {
    const char *list;
    const char *kv[40]; /* key, value, ... NULL */
} crg_item;

static const char *crg_get(const crg_item *it, const char *key)
{
    int k;

    for (k = 0; it->kv[k]; k += 2)
        if (strcmp(it->kv[k], key) == 0)
            return it->kv[k + 1];
    return NULL;
}

/* Asks the match maker for a snapshot; items into *out (pkg memory, the strings in buf). */
static int crg_fetch(char **buf, crg_item **out, int *nitems)
{
    static uint32_t seq;
    crg_msg m;
    int i, n = 0, len, k;
    char *p, *end;
    crg_item *items;

    lock_get(&crg_sh->snap_lock);
    memset(&m, 0, sizeof(m));
    m.kind = CRG_M_SNAPSHOT;
    m.seq = ++crg_sh->snap_req;
    seq = m.seq;
    if (crg_send(&m) < 0) {
        lock_release(&crg_sh->snap_lock);
        return -1;
    }
    for (i = 0; i < 2000 && crg_sh->snap_done != seq; i++)
        usleep(1000);
    __sync_synchronize();
    if (crg_sh->snap_done != seq) {
        lock_release(&crg_sh->snap_lock);
        return -1;
    }
    len = crg_sh->snap_len;
    *buf = malloc(len + 1);
    items = calloc(CRG_SNAP_ITEMS, sizeof(*items));
    if (*buf == NULL || items == NULL) {
        lock_release(&crg_sh->snap_lock);
        free(*buf);
        free(items);
        return -1;
    }
    memcpy(*buf, crg_sh->snap, len);
    (*buf)[len] = '\0';
    lock_release(&crg_sh->snap_lock);
    p = *buf;
    end = *buf + len;
    while (p < end && *p && n < CRG_SNAP_ITEMS) {
        items[n].list = p;
        p += strlen(p) + 1;
        for (k = 0; p < end && *p && k < 38; k += 2) {
            items[n].kv[k] = p;
            p += strlen(p) + 1;
            items[n].kv[k + 1] = p;
            p += strlen(p) + 1;
        }
        items[n].kv[k] = NULL;
        p++; /* the item's "" */
        n++;
    }
    *out = items;
    *nitems = n;
    return 0;
}

static void crg_add_fields(rpc_t *rpc, void *st, const crg_item *it, const char *const *keys)
{
    const char *v;

    for (; *keys; keys++)
        if ((v = crg_get(it, *keys)) != NULL)
            rpc->struct_add(st, "s", *keys, v);
}

/*
 * One RPC answer from a snapshot: a struct of `outer_keys` for each item of list `outer`, each
 * with an array `inner_name` of the items of list `inner` whose field `key` equals the outer
 * item's (their `inner_keys`): queues with their calls, agents with their groups.
 */
static void crg_rpc_nested(rpc_t *rpc, void *ctx, const char *outer, const char *key,
                           const char *const *outer_keys, const char *inner, const char *inner_name,
                           const char *const *inner_keys)
{
    crg_item *items = NULL;
    char *buf = NULL;
    void *os, *arr, *is;
    const char *want;
    int n, i, j;

    if (crg_no_rgs)
        return; /* none: the plan Kamailio started with declares none, and has no match maker */
    if (crg_sh == NULL || crg_fetch(&buf, &items, &n) < 0) {
        rpc->fault(ctx, 500, "the match maker did not answer");
        return;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(items[i].list, outer) != 0 || rpc->add(ctx, "{", &os) < 0)
            continue;
        crg_add_fields(rpc, os, &items[i], outer_keys);
        if (rpc->struct_add(os, "[", inner_name, &arr) < 0 ||
            (want = crg_get(&items[i], key)) == NULL)
            continue;
        for (j = 0; j < n; j++) {
            const char *v = crg_get(&items[j], key);
            if (strcmp(items[j].list, inner) != 0 || v == NULL || strcmp(v, want) != 0)
                continue;
            if (rpc->array_add(arr, "{", &is) == 0)
                crg_add_fields(rpc, is, &items[j], inner_keys);
        }
    }
    free(items);
    free(buf);
}

static const char *crg_queues_doc[] = {"Response-group queues and their calls", 0};
static void crg_rpc_queues(rpc_t *rpc, void *ctx)
{
    static const char *const qk[] = {"queue", "waiting", "ringing", "longest_wait_s", 0};
    static const char *const ck[] = {"id", "caller", "waited_s", "state", 0};

    crg_rpc_nested(rpc, ctx, "queues", "queue", qk, "calls", "calls", ck);
}

static const char *crg_agents_doc[] = {"Response-group agents: presence, state, groups", 0};
static void crg_rpc_agents(rpc_t *rpc, void *ctx)
{
    static const char *const ak[] = {"agent", "presence", "state", "calls", "answered", 0};
    static const char *const mk[] = {"group", "formal", "signed_in", 0};

    crg_rpc_nested(rpc, ctx, "agents", "agent", ak, "memberships", "groups", mk);
}

/* Percentiles of the hand-over histogram (crg_ho_bucket: 10 us steps up to 2 ms, 1 ms steps
 * up to 100 ms; 1,000,000 for 100 ms and more). */
static void crg_latency(rpc_t *rpc, void *st)
{
    uint64_t total = 0, acc = 0;
    int b, p50 = -1, p99 = -1, max = 0;

    for (b = 0; b < CRG_HO_BUCKETS; b++)
        total += crg_sh->ho_hist[b];
    for (b = 0; b < CRG_HO_BUCKETS; b++) {
        acc += crg_sh->ho_hist[b];
        if (crg_sh->ho_hist[b])
            max = b;
        if (p50 < 0 && total && acc * 2 >= total)
            p50 = b;
        if (p99 < 0 && total && acc * 100 >= total * 99)
            p99 = b;
    }
    rpc->struct_add(st, "dddd", "handed_over", (int)total, "p50_us_below",
                    crg_ho_bucket_us(p50 < 0 ? 0 : p50), "p99_us_below",
                    crg_ho_bucket_us(p99 < 0 ? 0 : p99), "max_us_below", crg_ho_bucket_us(max));
}

static const char *crg_handover_doc[] = {
    "Messages handed over to the match maker and the hand-over latency (us, 10 us steps)", 0};
static void crg_rpc_handover(rpc_t *rpc, void *ctx)
{
    void *st;

    if (crg_sh == NULL) {
        rpc->fault(ctx, 500, "response groups are not running");
        return;
    }
    if (rpc->add(ctx, "{", &st) == 0)
        crg_latency(rpc, st);
}

static const char *crg_bench_doc[] = {
    "Hand-over benchmark: RATE messages/s for SECONDS from this process to the match maker "
    "(no-op messages; the latency histogram is reset first)",
    0};
static void crg_rpc_bench(rpc_t *rpc, void *ctx)
{
    int rate = 0, seconds = 0, i;
    int64_t t0, now, tend, sent = 0, due, base;
    crg_msg m;
    void *st;

    if (crg_no_rgs) {
        rpc->fault(ctx, 500, "response groups are not running: the plan declares none");
        return;
    }
    if (crg_sh == NULL || rpc->scan(ctx, "dd", &rate, &seconds) < 2 || rate <= 0 || rate > 200000 ||
        seconds <= 0 || seconds > 30) {
        rpc->fault(ctx, 400, "usage: callroute.rgs.bench RATE(1..200000) SECONDS(1..30)");
        return;
    }
    memset(crg_sh->ho_hist, 0, sizeof(crg_sh->ho_hist));
    base = (int64_t)crg_sh->pings;
    memset(&m, 0, sizeof(m));
    m.kind = CRG_M_PING;
    t0 = crg_mono_ns();
    for (;;) {
        now = crg_mono_ns();
        if (now - t0 >= (int64_t)seconds * 1000000000)
            break;
        due = (now - t0) * rate / 1000000000;
        while (sent < due && crg_send(&m) == 0)
            sent++;
        usleep(500);
    }
    tend = crg_mono_ns();
    for (i = 0; i < 2000 && (int64_t)crg_sh->pings - base < sent; i++)
        usleep(1000);
    if (rpc->add(ctx, "{", &st) < 0)
        return;
    rpc->struct_add(st, "ddd", "sent", (int)sent, "received", (int)((int64_t)crg_sh->pings - base),
                    "per_second", (int)(sent * 1000000000 / (tend - t0)));
    crg_latency(rpc, st);
}

/* clang-format off */
static rpc_export_t crg_rpc_cmds[] = {
    {"callroute.rgs.signin", crg_rpc_signin, crg_signin_doc, 0},
    {"callroute.rgs.signout", crg_rpc_signout, crg_signout_doc, 0},
    {"callroute.rgs.presence", crg_rpc_presence, crg_presence_doc, 0},
    {"callroute.rgs.queues", crg_rpc_queues, crg_queues_doc, RET_ARRAY},
    {"callroute.rgs.agents", crg_rpc_agents, crg_agents_doc, RET_ARRAY},
    {"callroute.rgs.handover", crg_rpc_handover, crg_handover_doc, 0},
    {"callroute.rgs.bench", crg_rpc_bench, crg_bench_doc, 0},
    {0, 0, 0, 0}
};
/* clang-format on */

int crg_rpc_init(void)
{
    if (rpc_register_array(crg_rpc_cmds) != 0) {
        LM_ERR("cannot register the response-group RPCs\n");
        return -1;
    }
    return 0;
}

/* ---- counters ---- */

enum {
    CRG_C_OFFERED,
    CRG_C_ANSWERED,
    CRG_C_ABANDONED,
    CRG_C_TIMED_OUT,
    CRG_C_OVERFLOWED,
    CRG_C_AFTER_HOURS,
    CRG_C_HOLIDAY,
    CRG_C_AGENTS,
    CRG_C_WAITING,
    CRG_C_LONGEST,
    CRG_C_N
};
static const char *const crg_cnames[CRG_C_N] = {
    "offered",     "answered", "abandoned",        "timed_out", "overflowed",
    "after_hours", "holiday",  "agents_signed_in", "waiting",   "longest_wait_ms"};

static counter_val_t crg_counter(counter_handle_t h, void *param)
{
    long v = (long)param;
    int w = (int)(v / CRG_C_N), f = (int)(v % CRG_C_N);
    const cr_rgs_stats *s;

    if (crg_sh == NULL || w >= crg_sh->nwf)
        return 0;
    s = &crg_sh->wf[w];
    switch (f) {
    case CRG_C_OFFERED:
        return (counter_val_t)s->offered;
    case CRG_C_ANSWERED:
        return (counter_val_t)s->answered;
    case CRG_C_ABANDONED:
        return (counter_val_t)s->abandoned;
    case CRG_C_TIMED_OUT:
        return (counter_val_t)s->timed_out;
    case CRG_C_OVERFLOWED:
        return (counter_val_t)s->overflowed;
    case CRG_C_AFTER_HOURS:
        return (counter_val_t)s->after_hours;
    case CRG_C_HOLIDAY:
        return (counter_val_t)s->holiday;
    case CRG_C_AGENTS:
        return (counter_val_t)s->agents_signed_in;
    case CRG_C_WAITING:
        return (counter_val_t)s->waiting;
    default:
        return (counter_val_t)s->longest_wait_ms;
    }
}

int crg_counters_init(void)
{
    cr_rgs *pe = crg_private_engine();
    cr_rgs_stats st;
    counter_handle_t h;
    char name[128], *dup;
    int w, f, i;

    if (pe == NULL)
        return 0;
    for (w = 0; w < CRG_MAX_WF; w++) {
        memset(&st, 0, sizeof(st));
        st.size = sizeof(st);
        if (crl_plugin->rgs_stats(pe, 0, (uint32_t)w, &st) < 0)
            break;
        snprintf(crg_sh->wf_name[w], sizeof(crg_sh->wf_name[w]), "%s",
                 st.workflow ? st.workflow : "workflow");
        for (i = 0; crg_sh->wf_name[w][i]; i++) {
            char c = crg_sh->wf_name[w][i];
            crg_sh->wf_name[w][i] =
                isalnum((unsigned char)c) ? (char)tolower((unsigned char)c) : '_';
        }
        for (f = 0; f < CRG_C_N; f++) {
            snprintf(name, sizeof(name), "%s_%s", crg_sh->wf_name[w], crg_cnames[f]);
            dup = strdup(name);
            if (dup == NULL || counter_register(&h, "callroute", dup, 0, crg_counter,
                                                (void *)(long)(w * CRG_C_N + f),
                                                "response-group statistic", 0) < 0) {
                LM_ERR("cannot register counter callroute:%s\n", name);
                return -1;
            }
        }
    }
    crg_sh->nwf = w;
    return 0;
}

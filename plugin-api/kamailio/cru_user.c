/*
 * callroute.so: calls to users (callroute_user(), callroute_user_next()).
 *
 *
 * The library gives the ringing plan as a flat list of rows ("ring": at, branch, kind,
 * target, alt, uri, gateway, address). The module keeps the rows of each call in shared
 * memory (struct cru_call, one block per call, keyed by tm's transaction identifier) and
 * carries them out on tm's transaction:
 *   - at 0 s (callroute_user(), request route): the rows due at once become the destination
 *     set; the script relays it with t_relay().
 *   - later rows (a team call after its delay) and the no-answer step are started by the
 *     module's timer (cru_timer: every tick, 62.5 ms, of Kamailio's slow timer process, "the
 *     timer process" below): it finds the transaction again (t_lookup_ident) and adds
 *     branches to it with tm's t_append_branches(), the branches already ringing go on
 *     ringing. The no-answer step adds its target, then cancels every
 *     other branch (prepare_to_cancel + cancel_uacs).
 *   - a PSTN row that fails with 503, 504 or 408 (tm's branch-failure callback) marks its
 *     gateway down and asks for the next alternative of the same target (alt + 1): the timer
 *     process adds it, or callroute_user_next() when that was the last open branch.
 *   - when every branch failed before the next step is due (busy, not registered), tm runs
 *     the script's failure_route, where callroute_user_next() starts the next step at once.
 * The block goes when tm frees the transaction (the callback's release function marks it,
 * the timer process frees it). Users among the targets (team members, delegates, a user
 * the call forwards to) ring at their registered contacts (registrar's lookup_to_dset). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dprint.h"
#include "core/dset.h"
#include "core/ip_addr.h"
#include "core/locking.h"
#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_cseq.h"
#include "core/sr_module.h"
#include "core/timer.h"
#include "core/timer_ticks.h"
#include "modules/registrar/api.h"
#include "modules/usrloc/usrloc.h"
#include "modules/tm/tm_load.h"

#include "callroute_mod.h"
#include "crh_health.h"
#include "crl_library.h"
#include "cru_user.h"

enum cru_state { CRU_PENDING, CRU_WANTED, CRU_CLAIMED, CRU_SENT, CRU_FAILED, CRU_SKIPPED };
enum cru_kind { CRU_K_ENDPOINT, CRU_K_USER, CRU_K_SIP, CRU_K_PSTN, CRU_K_VOICEMAIL };

#define CRU_BUCKETS       256
#define CRU_TICKS         1 /* Kamailio's timer ticks (62.5 ms) between two looks */
#define CRU_MAX_ROWS      256
#define CRU_MAX_ENDPOINTS 32
#define CRU_OPEN_WARN_MS                                                                           \
    1000 /* a branch still open this long after its call ended, or after the no-answer step        \
          * cancelled it: said and cancelled (crm_cancel_open_branches) */
#define CRU_MAX_DUE 256 /* calls handled per timer tick (the rest next tick) */

/* For tests (e2e user_timer_race, CALLROUTE_TEST_USER_PAUSE_MS): a worker waits this long
 * after a call enters the table, longer than a timer tick, so that the timer process always
 * looks at the call before the worker starts its first step. */
static int cru_test_pause_ms;
/* For tests (e2e user_failover_race, CALLROUTE_TEST_FAILOVER_PAUSE_MS): the timer process
 * waits this long between filling a failover's branch and adding it to the transaction. */
static int cru_test_failover_pause_ms;

typedef struct cru_row {
    int at_ms;
    unsigned char kind, no_answer, state;
    unsigned char workflow; /* a response group's URI: the branch comes back to this proxy */
    short group, alt;
    str branch, target, uri, gateway, address; /* into the call's block; len 0 = absent */
} cru_row;

typedef struct cru_call {
    struct cru_call *next;
    unsigned int hash_index, label;
    int64_t start_ms;
    int dead;          /* tm freed the transaction */
    int finished;      /* answered, cancelled or nothing left to start */
    int settled;       /* finished, and no branch left ringing (see cru_settle) */
    int sweeping;      /* not finished, and a cancelled branch may still ring (timer only) */
    int64_t wanted_ms; /* when a cancel was last wanted (the no-answer step, the call
                        * over); 0 none, or once crm_cancel_open_branches ran for it */
    volatile branch_bm_t rang; /* branches that sent a provisional reply (crm_note_ringing) */
    branch_bm_t want;          /* branches to cancel (the timer process only) */
    int no_answer_started;
    str callee;
    int nrows;
    cru_row rows[]; /* then the strings */
} cru_call;

typedef struct cru_table {
    gen_lock_t lock;
    cru_call *bucket[CRU_BUCKETS];
} cru_table;

static cru_table *cru_tab;
static registrar_api_t cru_reg;
static int cru_reg_loaded;
char *cru_location_table = "location";

static int64_t cru_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cru_kind_of(const char *k)
{
    if (k == NULL)
        return -1;
    if (strcmp(k, "endpoint") == 0)
        return CRU_K_ENDPOINT;
    if (strcmp(k, "user") == 0)
        return CRU_K_USER;
    if (strcmp(k, "sip") == 0)
        return CRU_K_SIP;
    if (strcmp(k, "pstn") == 0)
        return CRU_K_PSTN;
    if (strcmp(k, "voicemail") == 0)
        return CRU_K_VOICEMAIL;
    return -1;
}

/* Copies v into the block's string area at *pool. */
static void cru_put(str *dst, const char *v, char **pool)
{
    size_t l = v ? strlen(v) : 0;

    dst->s = *pool;
    dst->len = (int)l;
    if (l)
        memcpy(*pool, v, l);
    (*pool)[l] = '\0';
    *pool += l + 1;
}

/* The plan's "ring" rows of result r in one shared-memory block. */
static cru_call *cru_build(const cr_result *r, const char *callee)
{
    static const char *const sfields[] = {"branch", "target", "uri", "gateway", "address"};
    size_t n = crl_plugin->result_count(r, "ring"), i, k, strings = strlen(callee) + 1;
    cru_call *c;
    char *pool;

    if (n > CRU_MAX_ROWS) {
        LM_WARN("plan for %s has %zu rows: only the first %d are used\n", callee, n, CRU_MAX_ROWS);
        n = CRU_MAX_ROWS;
    }
    for (i = 0; i < n; i++)
        for (k = 0; k < sizeof(sfields) / sizeof(sfields[0]); k++) {
            const char *v = crl_plugin->result_item(r, "ring", i, sfields[k]);
            strings += (v ? strlen(v) : 0) + 1;
        }
    c = shm_malloc(sizeof(*c) + n * sizeof(cru_row) + strings);
    if (c == NULL) {
        LM_ERR("no shared memory for the plan of %s\n", callee);
        return NULL;
    }
    memset(c, 0, sizeof(*c) + n * sizeof(cru_row));
    pool = (char *)&c->rows[n];
    cru_put(&c->callee, callee, &pool);
    for (i = 0; i < n; i++) {
        cru_row *row = &c->rows[c->nrows];
        const char *at = crl_plugin->result_item(r, "ring", i, "at");
        const char *alt = crl_plugin->result_item(r, "ring", i, "alt");
        int kind = cru_kind_of(crl_plugin->result_item(r, "ring", i, "kind"));

        if (kind < 0 || crl_plugin->result_item(r, "ring", i, "uri") == NULL) {
            LM_WARN("plan for %s: row %zu has no known kind or no uri: skipped\n", callee, i);
            continue;
        }
        row->kind = (unsigned char)kind;
        row->at_ms = at ? atoi(at) * 1000 : 0;
        row->alt = (short)(alt ? atoi(alt) : 0);
        row->state = CRU_PENDING;
        cru_put(&row->branch, crl_plugin->result_item(r, "ring", i, "branch"), &pool);
        cru_put(&row->target, crl_plugin->result_item(r, "ring", i, "target"), &pool);
        cru_put(&row->uri, crl_plugin->result_item(r, "ring", i, "uri"), &pool);
        cru_put(&row->gateway, crl_plugin->result_item(r, "ring", i, "gateway"), &pool);
        cru_put(&row->address, crl_plugin->result_item(r, "ring", i, "address"), &pool);
        row->no_answer = row->branch.len == 9 && memcmp(row->branch.s, "no_answer", 9) == 0;
        row->workflow = crl_plugin->result_item(r, "ring", i, "workflow") != NULL;
        /* the alternatives of one target follow its alt 0 */
        if (row->alt > 0 && c->nrows > 0 && c->rows[c->nrows - 1].alt == row->alt - 1 &&
            STR_EQ(c->rows[c->nrows - 1].target, row->target))
            row->group = c->rows[c->nrows - 1].group;
        else
            row->group = (short)c->nrows, row->alt = 0;
        c->nrows++;
    }
    return c;
}

/* Under the lock. */
static cru_call *cru_find(unsigned int hash_index, unsigned int label)
{
    cru_call *c;

    for (c = cru_tab->bucket[hash_index % CRU_BUCKETS]; c; c = c->next)
        if (c->hash_index == hash_index && c->label == label && !c->dead)
            return c;
    return NULL;
}

/* Under the lock: the no-answer step replaces every ringing row that has not started. */
static void cru_start_no_answer(cru_call *c)
{
    int i;

    c->no_answer_started = 1;
    for (i = 0; i < c->nrows; i++)
        if (!c->rows[i].no_answer &&
            (c->rows[i].state == CRU_PENDING || c->rows[i].state == CRU_WANTED))
            c->rows[i].state = CRU_SKIPPED;
}

#define CRU_DUE(c, r, elapsed)                                                                     \
    ((r)->state == CRU_PENDING && (r)->alt == 0 && (r)->at_ms <= (elapsed) &&                      \
     ((r)->no_answer || !(c)->no_answer_started))

/* Under the lock: what the timer process has to start now (rows become CLAIMED). Sets
 * *cancel when the no-answer step starts (the other branches are to be cancelled). */
static int cru_claim_due(cru_call *c, int64_t elapsed, int *cancel)
{
    int i, n = 0, na = 0;

    *cancel = 0;
    if (c->finished)
        return 0;
    if (!c->no_answer_started) {
        for (i = 0; i < c->nrows; i++)
            if (c->rows[i].no_answer && CRU_DUE(c, &c->rows[i], elapsed))
                na = 1;
        if (na) {
            cru_start_no_answer(c);
            *cancel = 1;
        }
    }
    for (i = 0; i < c->nrows; i++) {
        cru_row *r = &c->rows[i];
        if (r->state == CRU_WANTED || CRU_DUE(c, r, elapsed)) {
            r->state = CRU_CLAIMED;
            n++;
        }
    }
    return n;
}

/* Under the lock: what to start at once, with nothing ringing (the start of the call, or a
 * failure_route): failovers asked for, rows the timer claimed but may not have added yet,
 * else every row of the next step in time. */
static int cru_claim_now(cru_call *c)
{
    int i, n = 0, next = -1;

    if (c->finished)
        return 0;
    for (i = 0; i < c->nrows; i++) {
        cru_row *r = &c->rows[i];
        if (r->state == CRU_WANTED)
            r->state = CRU_CLAIMED;
        if (r->state == CRU_CLAIMED)
            n++;
    }
    if (n)
        return n;
    for (i = 0; i < c->nrows; i++) {
        cru_row *r = &c->rows[i];
        if (CRU_DUE(c, r, INT32_MAX) && (next < 0 || r->at_ms < next))
            next = r->at_ms;
    }
    if (next < 0)
        return 0;
    for (i = 0; i < c->nrows; i++)
        if (CRU_DUE(c, &c->rows[i], INT32_MAX) && c->rows[i].at_ms == next &&
            c->rows[i].no_answer && !c->no_answer_started)
            cru_start_no_answer(c);
    for (i = 0; i < c->nrows; i++) {
        cru_row *r = &c->rows[i];
        if (CRU_DUE(c, r, INT32_MAX) && r->at_ms == next) {
            r->state = CRU_CLAIMED;
            n++;
        }
    }
    return n;
}

/* "sip:ADDRESS:PORT" of the socket msg arrived on, into buf: a branch sent there comes back
 * to this proxy as a new request (a spiral), which the script hands to callroute_rgs(). */
static int cru_self_dst(struct sip_msg *msg, char *buf, int len, str *dst)
{
    struct socket_info *si = msg->rcv.bind_address;
    int v6, n;

    if (si == NULL)
        return -1;
    v6 = memchr(si->address_str.s, ':', si->address_str.len) != NULL;
    n = snprintf(buf, len, "sip:%s%.*s%s:%.*s", v6 ? "[" : "", si->address_str.len,
                 si->address_str.s, v6 ? "]" : "", si->port_no_str.len, si->port_no_str.s);
    if (n <= 0 || n >= len)
        return -1;
    dst->s = buf;
    dst->len = n;
    return 0;
}

/* Under the lock: the rows cru_fill filled (result[i]: 1 a branch, 2 none) become SENT, or
 * FAILED when they gave no branch (a user without registered contacts), unless another
 * process took them meanwhile. */
static void cru_mark_filled(cru_call *c, const unsigned char *result)
{
    int i;

    lock_get(&cru_tab->lock);
    for (i = 0; i < c->nrows; i++)
        if (result[i] && c->rows[i].state == CRU_CLAIMED)
            c->rows[i].state = result[i] == 1 ? CRU_SENT : CRU_FAILED;
    lock_release(&cru_tab->lock);
}

/* The destination set for the CLAIMED rows of c (not under the lock: the rows' strings do
 * not change and the block outlives the transaction), each row's outcome in result. The
 * caller marks the rows (cru_mark_filled): a worker at once, the timer process only once its
 * branches are in the transaction: until then they stay CLAIMED, and a failure_route that runs
 * meanwhile (every branch failed) starts them itself instead of finding nothing left to ring.
 * Returns the number of branches. */
static int cru_fill(struct sip_msg *msg, cru_call *c, unsigned char *result)
{
    str table;
    int i, before, endpoints_done = 0, ok, self_ok;
    char self[128];
    str self_dst;

    table.s = cru_location_table;
    table.len = strlen(cru_location_table);
    clear_branches();
    for (i = 0; i < c->nrows; i++) {
        cru_row *r = &c->rows[i];
        result[i] = 0;
        if (r->state != CRU_CLAIMED)
            continue;
        before = nr_branches;
        switch (r->kind) {
        case CRU_K_ENDPOINT:
            /* every registered contact of the callee, with its path, received and socket */
            if (!endpoints_done) {
                endpoints_done = 1;
                cru_reg.lookup_to_dset(msg, &table, &c->callee);
                endpoints_done = nr_branches > (unsigned)before ? 2 : 1;
            }
            ok = endpoints_done == 2;
            break;
        case CRU_K_USER:
            cru_reg.lookup_to_dset(msg, &table, &r->uri);
            ok = nr_branches > (unsigned)before;
            break;
        default:
            self_ok = r->workflow && cru_self_dst(msg, self, sizeof(self), &self_dst) == 0;
            ok = append_branch(msg, &r->uri,
                               self_ok          ? &self_dst
                               : r->address.len ? &r->address
                                                : NULL,
                               NULL, Q_UNSPECIFIED, 0, NULL, NULL, 0, NULL, NULL) == 1;
            break;
        }
        result[i] = ok ? 1 : 2;
        LM_INFO("user %.*s: %s %.*s %.*s%s%.*s%s\n", c->callee.len, c->callee.s,
                ok ? "ringing" : "cannot ring", r->branch.len, r->branch.s, r->uri.len, r->uri.s,
                r->gateway.len ? " via " : "", r->gateway.len, r->gateway.s,
                ok ? ""
                   : (r->kind == CRU_K_USER || r->kind == CRU_K_ENDPOINT ? " (not registered)"
                                                                         : " (error)"));
    }
    ruri_mark_consumed(); /* the destination set only */
    return (int)nr_branches;
}

/* Starts what can start at once; returns the number of branches in the destination set. */
static int cru_start_now(struct sip_msg *msg, cru_call *c)
{
    unsigned char result[CRU_MAX_ROWS];
    int n, b;

    for (;;) {
        lock_get(&cru_tab->lock);
        n = cru_claim_now(c);
        if (n == 0)
            c->finished = 1;
        lock_release(&cru_tab->lock);
        if (n == 0) {
            clear_branches();
            return 0;
        }
        b = cru_fill(msg, c, result);
        cru_mark_filled(c, result);
        if (b > 0)
            return b;
    }
}

/* tm: a branch failed. A PSTN row whose gateway answered 503/504/408 (or timed out) marks
 * the gateway down and asks for the target's next alternative, if the row is still wanted. */
static void cru_branch_failure(struct cell *t, int type, struct tmcb_params *ps)
{
    cru_call *c = ps->param ? (cru_call *)*ps->param : NULL;
    int branch = crm_tmb.t_get_picked_branch();
    int code = ps->code, i, ra = 0, gw_failure = code == 503 || code == 504 || code == 408;
    char gw[CRM_FIELD_MAX];
    const char *next = NULL; /* what became of the next alternative (logged) */
    const cru_row *alt = NULL;
    str uri;

    if (c == NULL || branch < 0 || branch >= (int)t->nr_of_outgoings)
        return;
    uri = t->uac[branch].uri;
    gw[0] = '\0';
    lock_get(&cru_tab->lock);
    for (i = 0; i < c->nrows; i++) {
        cru_row *r = &c->rows[i];
        /* CLAIMED: a row of the timer's whose branch failed before the timer marked it sent */
        if (r->kind != CRU_K_PSTN || (r->state != CRU_SENT && r->state != CRU_CLAIMED) ||
            !STR_EQ(r->uri, uri))
            continue;
        r->state = CRU_FAILED;
        if (r->gateway.len > 0 && r->gateway.len < (int)sizeof(gw)) {
            memcpy(gw, r->gateway.s, r->gateway.len);
            gw[r->gateway.len] = '\0';
        }
        if (!gw_failure)
            break;
        alt = i + 1 < c->nrows && c->rows[i + 1].group == r->group ? &c->rows[i + 1] : NULL;
        if (alt == NULL)
            next = "none left";
        else if (alt->state != CRU_PENDING)
            next = "already started";
        else if (t->flags & T_CANCELED)
            next = "not started: the call is cancelled";
        else if (!r->no_answer && c->no_answer_started)
            next = "not started: the no-answer step has begun";
        else if (c->finished)
            next = "not started: the call is over";
        else
            c->rows[i + 1].state = CRU_WANTED, next = "wanted";
        break;
    }
    lock_release(&cru_tab->lock);
    if (code == 503 && ps->rpl && ps->rpl != FAKED_REPLY)
        ra = crh_retry_after(ps->rpl->buf, (int)ps->rpl->len);
    if (gw[0]) /* only a gateway failure (above) asks for the row's next alternative */
        crm_gateway_outcome("user plan", gw, code, ra);
    /* the rows' strings do not change (cru_fill reads them unlocked too) */
    if (next && alt)
        LM_INFO("user %.*s: %.*s failed (%d) via %s: next alternative via %.*s %s\n", c->callee.len,
                c->callee.s, uri.len, uri.s, code, gw[0] ? gw : "?", alt->gateway.len,
                alt->gateway.s, next);
    else if (next)
        LM_INFO("user %.*s: %.*s failed (%d) via %s: next alternative %s\n", c->callee.len,
                c->callee.s, uri.len, uri.s, code, gw[0] ? gw : "?", next);
}

static void cru_mark_finished(cru_call *c)
{
    lock_get(&cru_tab->lock);
    c->finished = 1;
    lock_release(&cru_tab->lock);
}

/* tm: a reply came in (before tm decides on it): remember the branches that ring. A 2xx to
 * the INVITE answers the call (tm relays every one): the call is finished, and the timer
 * settles it, cancelling what still rings. Without this mark a call whose branches all
 * started at once has no step due and the timer never looked at it again. */
static void cru_response_in(struct cell *t, int type, struct tmcb_params *ps)
{
    cru_call *c = ps->param ? (cru_call *)*ps->param : NULL;

    if (c == NULL)
        return;
    crm_note_ringing(&c->rang, ps->code);
    if (ps->code >= 200 && ps->code < 300 && ps->rpl && ps->rpl != FAKED_REPLY && ps->rpl->cseq &&
        get_cseq(ps->rpl)->method_id == METHOD_INVITE)
        cru_mark_finished(c);
}

/* tm: the caller cancelled: tm cancels the branches; the timer settles the call after. */
static void cru_cancel_in(struct cell *t, int type, struct tmcb_params *ps)
{
    cru_call *c = ps->param ? (cru_call *)*ps->param : NULL;

    if (c)
        cru_mark_finished(c);
}

/* tm freed the transaction: the timer process frees the block. */
static void cru_release(void *param)
{
    cru_call *c = param;

    if (c == NULL)
        return;
    lock_get(&cru_tab->lock);
    c->dead = 1;
    lock_release(&cru_tab->lock);
}

int cru_user(struct sip_msg *msg)
{
    char from[MAX_URI_SIZE], callee[MAX_URI_SIZE];
    char *eps[CRU_MAX_ENDPOINTS];
    unsigned char result[CRU_MAX_ROWS];
    const char *reason;
    cr_handle *h = crl_handle();
    cr_result *r = NULL;
    cru_call *c;
    struct cell *t;
    str table, scallee;
    unsigned int i, neps = 0;
    int rc, len, b, n;

    if (h == NULL)
        return CRM_ERROR;
    if (cru_tab == NULL || !cru_reg_loaded) {
        LM_ERR("callroute_user() needs a library with user plans (ABI 1.2) and the registrar "
               "module\n");
        return CRM_ERROR;
    }
    if (msg->first_line.type != SIP_REQUEST || msg->REQ_METHOD != METHOD_INVITE) {
        LM_ERR("callroute_user() handles INVITEs\n");
        return CRM_ERROR;
    }
    if (parse_from_header(msg) < 0 || crl_cstr(&get_from(msg)->uri, from, sizeof(from)) < 0 ||
        crl_cstr(GET_RURI(msg), callee, sizeof(callee)) < 0) {
        LM_ERR("cannot read From or Request-URI\n");
        return CRM_ERROR;
    }

    /* the callee's registered contacts, for the plan */
    table.s = cru_location_table;
    table.len = strlen(cru_location_table);
    scallee.s = callee;
    scallee.len = strlen(callee);
    clear_branches();
    cru_reg.lookup_to_dset(msg, &table, &scallee);
    for (i = 0; i < nr_branches && neps < CRU_MAX_ENDPOINTS; i++) {
        qvalue_t q;
        char *u = get_branch(i, &len, &q, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        if (u && (eps[neps] = pkg_malloc(len + 1)) != NULL) {
            memcpy(eps[neps], u, len);
            eps[neps++][len] = '\0';
        }
    }
    clear_branches();

    /* PBX coexistence: a call that came from a gateway says so, so that a callee enabled for
     * PBX integration is not forked back to the PBX it came from (ENOENT: no gateway) */
    rc = CR_ABI_ENOENT;
    if (CR_HAS(cr_plugin, crl_plugin, user_plan_ex) && crl_plugin->user_plan_ex) {
        char src[IP_ADDR_MAX_STR_SIZE + 16];
        snprintf(src, sizeof(src), "%s:%u", ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port);
        rc = crl_plugin->user_plan_ex(h, from, callee, src, (const char *const *)eps, neps, &r);
    }
    if (rc == CR_ABI_ENOENT)
        rc = crl_plugin->user_plan(h, from, callee, (const char *const *)eps, neps, &r);
    for (i = 0; i < neps; i++)
        pkg_free(eps[i]);
    if (rc < 0 || r == NULL) {
        LM_ERR("user plan %s -> %s failed: %s\n", from, callee,
               crl_plugin->strerror ? crl_plugin->strerror(rc) : "error");
        return CRM_ERROR;
    }
    if (crl_plugin->result_kind(r) != 1) {
        LM_DBG("%s is not a user\n", callee);
        crl_plugin->result_free(r);
        return CRM_NO_USER;
    }
    reason = crl_plugin->result_get(r, "reason");
    LM_INFO("call %s -> %s: %s\n", from, callee, reason ? reason : "plan");
    c = cru_build(r, crl_plugin->result_get(r, "callee") ? crl_plugin->result_get(r, "callee")
                                                         : callee);
    crl_plugin->result_free(r);
    if (c == NULL)
        return CRM_ERROR;

    /* the transaction the plan runs on */
    rc = crm_tmb.t_newtran(msg);
    if (rc == 0) { /* a retransmission, absorbed */
        shm_free(c);
        return 0;
    }
    t = crm_tmb.t_gett();
    if (rc < 0 || t == NULL || t == T_UNDEFINED) {
        LM_ERR("cannot create the transaction for %s\n", callee);
        shm_free(c);
        return CRM_ERROR;
    }
    c->hash_index = t->hash_index;
    c->label = t->label;
    c->start_ms = cru_now_ms();
    if (crm_tmb.register_tmcb(msg, t, TMCB_ON_BRANCH_FAILURE, cru_branch_failure, c, cru_release) <=
        0) {
        LM_ERR("cannot watch the branches of the call to %s\n", callee);
        shm_free(c);
        return CRM_ERROR;
    }
    /* from here tm owns c (cru_release) */
    if (crm_tmb.register_tmcb(msg, t, TMCB_RESPONSE_IN, cru_response_in, c, NULL) <= 0 ||
        crm_tmb.register_tmcb(msg, t, TMCB_E2ECANCEL_IN, cru_cancel_in, c, NULL) <= 0)
        LM_ERR("cannot watch the replies of the call to %s: a branch may ring on after the "
               "answer\n",
               callee);
    /* The first step is claimed before the call enters the table. The timer process starts
     * what is due of every call in the table; with the rows still pending it could start
     * them itself between the insertion and this worker's claim, and the worker, finding
     * nothing left to start, refused the call (480) while the timer's branches rang. */
    lock_get(&cru_tab->lock);
    n = cru_claim_now(c);
    if (n == 0)
        c->finished = 1;
    c->next = cru_tab->bucket[c->hash_index % CRU_BUCKETS];
    cru_tab->bucket[c->hash_index % CRU_BUCKETS] = c;
    lock_release(&cru_tab->lock);
    if (cru_test_pause_ms > 0)
        usleep((useconds_t)cru_test_pause_ms * 1000);

    b = 0;
    if (n > 0) {
        b = cru_fill(msg, c, result);
        cru_mark_filled(c, result);
    }
    if (b == 0 && n > 0) /* those rows gave no branch: their alternatives, the next step */
        b = cru_start_now(msg, c);
    if (b == 0) {
        clear_branches();
        LM_INFO("user %s: nobody to ring\n", callee);
        return CRM_NOTHING_TO_RING;
    }
    return 1;
}

int cru_user_next(struct sip_msg *msg)
{
    struct cell *t = crm_tmb.t_gett();
    cru_call *c;

    if (cru_tab == NULL || t == NULL || t == T_UNDEFINED) {
        LM_ERR("callroute_user_next() needs the transaction of callroute_user()\n");
        return CRM_ERROR;
    }
    if (t->flags & T_CANCELED)
        return CRM_NO_ATTEMPT;
    lock_get(&cru_tab->lock);
    c = cru_find(t->hash_index, t->label);
    lock_release(&cru_tab->lock);
    if (c == NULL)
        return CRM_NO_ATTEMPT;
    return cru_start_now(msg, c) > 0 ? 1 : CRM_NO_ATTEMPT;
}

/* When a call is answered or cancelled, tm cancels the branches that ring, but tm 5.6 can
 * lose one (see crm_cancel_wanted), and a branch the timer added while the 2xx was relayed
 * (t_append_branches checks the status before its lock) is not cancelled by tm at all. On a
 * finished transaction every branch is wanted cancelled; the timer calls this each tick
 * until none is left open. Returns 1 when none is. */
static int cru_settle(struct cell *t, cru_call *c, int first, int64_t now)
{
    if (first)
        c->wanted_ms = now;
    c->want = ~(branch_bm_t)0;
    return crm_cancel_wanted(t, c->want, c->rang, first, "user plan") == 0;
}

/* The transaction is answered or cancelled: nothing more starts on it. */
static inline int cru_over(struct cell *t)
{
    return (t->flags & T_CANCELED) || t->uas.status >= 200;
}

/* One call whose next step is due (or that is over and may have a branch left ringing):
 * add its branches to the transaction, or settle it. */
static void cru_run_due(unsigned int hash_index, unsigned int label, int64_t now)
{
    struct cell *t = NULL, *orig = crm_tmb.t_gett();
    str none = {NULL, 0};
    cru_call *c;
    unsigned char result[CRU_MAX_ROWS];
    int n, cancel = 0, b, rc, old, i, over, open = 0;

    if (crm_tmb.t_lookup_ident(&t, hash_index, label) < 0 || t == NULL) {
        crm_tmb.t_sett(orig, T_BR_UNDEFINED);
        return;
    }
    lock_get(&cru_tab->lock);
    c = cru_find(hash_index, label);
    over = c && cru_over(t);
    if (over)
        c->finished = 1; /* answered or over: nothing more to start */
    n = c && !over ? cru_claim_due(c, now - c->start_ms, &cancel) : 0;
    lock_release(&cru_tab->lock);
    /* only this process frees blocks and writes `settled`, `sweeping` and `want` */
    if (over && !c->settled) {
        if (cru_settle(t, c, c->want != ~(branch_bm_t)0, now))
            c->settled = 1;
        else
            open = 1;
    }
    if (c && !over && c->sweeping) /* cancelled by the no-answer step, still open */
        open = c->sweeping = crm_cancel_wanted(t, c->want, c->rang, 0, "user plan") > 0;
    /* tm holds the CANCEL of a branch with no 1xx back and stopped its INVITE's
     * retransmissions (the call was answered, or the no-answer step cancelled it while the
     * call rings on): one whose 1xx was lost would ring on. A second after the cancel was
     * wanted, its CANCEL goes out all the same. */
    if (open && c->wanted_ms > 0 && now - c->wanted_ms >= CRU_OPEN_WARN_MS) {
        crm_cancel_open_branches(t, c->want, c->rang, (long)(now - c->wanted_ms),
                                 over ? "user plan" : "user plan, no answer");
        c->wanted_ms = 0;
    }
    if (n > 0) {
        b = cru_fill(t->uas.request, c, result);
        if (b > 0 && cru_test_failover_pause_ms > 0)
            for (i = 0; i < c->nrows; i++)
                if (result[i] && c->rows[i].alt) { /* a failover */
                    usleep((useconds_t)cru_test_failover_pause_ms * 1000);
                    break;
                }
        if (b > 0) {
            old = t->nr_of_outgoings;
            crm_tmb.t_sett(t, T_BR_UNDEFINED);
            rc = crm_tmb.t_append_branches(&none);
            if (rc <= 0)
                LM_INFO("user %.*s: no branch added (%d)\n", c->callee.len, c->callee.s, rc);
            if (rc > 0 && cru_over(t)) /* answered while the branches were added */
                cru_settle(t, c, 1, now);
            if (rc > 0 && cancel) {
                for (i = 0; i < old && i < (int)(sizeof(branch_bm_t) * 8); i++)
                    c->want |= (branch_bm_t)1 << i;
                LM_INFO("user %.*s: no answer: cancelling the other branches\n", c->callee.len,
                        c->callee.s);
                c->sweeping = crm_cancel_wanted(t, c->want, c->rang, 1, "user plan") > 0;
                c->wanted_ms = now;
            }
        } else if (cancel) {
            LM_WARN("user %.*s: no-answer target unreachable: the call keeps ringing\n",
                    c->callee.len, c->callee.s);
        }
        cru_mark_filled(c, result);
        clear_branches();
    }
    crm_tmb.unref_cell(t);
    crm_tmb.t_sett(orig, T_BR_UNDEFINED);
}

/* Kamailio's slow timer process, every tick: frees the blocks of freed transactions, runs
 * the steps that are due. */
static ticks_t cru_timer(ticks_t ticks, struct timer_ln *tl, void *param)
{
    static struct {
        unsigned int hi, lb;
    } due[CRU_MAX_DUE];
    int64_t now = cru_now_ms();
    int b, i, ndue = 0;
    cru_call **pp, *c;

    lock_get(&cru_tab->lock);
    for (b = 0; b < CRU_BUCKETS; b++) {
        for (pp = &cru_tab->bucket[b]; (c = *pp) != NULL;) {
            if (c->dead) {
                *pp = c->next;
                LM_DBG("plan for %.*s done\n", c->callee.len, c->callee.s);
                shm_free(c);
                continue;
            }
            pp = &c->next;
            if (ndue >= CRU_MAX_DUE || (c->finished && c->settled))
                continue;
            if (c->finished || c->sweeping) { /* cancelled branches may still ring */
                due[ndue].hi = c->hash_index;
                due[ndue++].lb = c->label;
                continue;
            }
            for (i = 0; i < c->nrows; i++) {
                cru_row *r = &c->rows[i];
                if (r->state == CRU_WANTED || CRU_DUE(c, r, now - c->start_ms)) {
                    due[ndue].hi = c->hash_index;
                    due[ndue++].lb = c->label;
                    break;
                }
            }
        }
    }
    lock_release(&cru_tab->lock);
    for (i = 0; i < ndue; i++)
        cru_run_due(due[i].hi, due[i].lb, now);
    return (ticks_t)-1; /* again in CRU_TICKS */
}

/* usrloc creates a table when a script function names it at startup (the native script's
 * save()/lookup() fixups); a KEMI script names it only at run time, after fork, where
 * usrloc refuses. The module registers location_table itself, whatever the script. */
static int cru_location_register(void)
{
    bind_usrloc_t bind = (bind_usrloc_t)(void (*)(void))find_export("ul_bind_usrloc", 1, 0);
    usrloc_api_t ul;
    udomain_t *d;

    if (bind == NULL || bind(&ul) < 0 || ul.register_udomain(cru_location_table, &d) < 0) {
        LM_ERR("cannot register usrloc table %s\n", cru_location_table);
        return -1;
    }
    return 0;
}

int cru_mod_init(void)
{
    bind_registrar_f bind;
    const char *pause = getenv("CALLROUTE_TEST_USER_PAUSE_MS");
    const char *failover_pause = getenv("CALLROUTE_TEST_FAILOVER_PAUSE_MS");

    cru_test_pause_ms = pause ? atoi(pause) : 0;
    cru_test_failover_pause_ms = failover_pause ? atoi(failover_pause) : 0;

    if (!CR_HAS(cr_plugin, crl_plugin, user_plan) || crl_plugin->user_plan == NULL) {
        LM_INFO("%s has no user plans: callroute_user() is unavailable\n", crl_path);
        return 0;
    }
    bind = (bind_registrar_f)(void (*)(void))find_export("bind_registrar", 0, 0);
    if (bind && bind(&cru_reg) == 0 && cru_location_register() == 0)
        cru_reg_loaded = 1;
    else
        LM_INFO("registrar not loaded: callroute_user() is unavailable\n");
    if (!crm_tmb.t_append_branches || !crm_tmb.prepare_to_cancel || !crm_tmb.cancel_uacs ||
        !crm_tmb.t_lookup_ident) {
        LM_ERR("tm lacks t_append_branches or cancel_uacs\n");
        return -1;
    }
    cru_tab = shm_malloc(sizeof(*cru_tab));
    if (cru_tab == NULL) {
        LM_ERR("no shared memory for calls to users\n");
        return -1;
    }
    memset(cru_tab, 0, sizeof(*cru_tab));
    if (lock_init(&cru_tab->lock) == NULL) {
        LM_ERR("cannot init the lock of calls to users\n");
        return -1;
    }
    /* On Kamailio's slow timer (no F_TIMER_FAST: not the process that retransmits), where
     * tm's final-response timers run too: no process of the module's own to fork at start.
     * A tick finds nothing due in microseconds; one that is due adds branches as tm's own
     * timers do. The timer keeps its shared-memory record; nothing else needs it. */
    struct timer_ln *tl = timer_alloc();
    if (tl == NULL) {
        LM_ERR("no shared memory for the timer of calls to users\n");
        return -1;
    }
    timer_init(tl, cru_timer, NULL, 0);
    if (timer_add(tl, CRU_TICKS) < 0) {
        LM_ERR("cannot start the timer of calls to users\n");
        return -1;
    }
    return 0;
}

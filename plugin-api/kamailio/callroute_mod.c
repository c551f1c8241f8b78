/*
 * callroute.so — Kamailio module that routes calls with libcallroute.so.
 *
 * This file holds what Kamailio sees of the module: its exports (script functions,
 * parameters, RPC, pseudo-variables), the life cycle (mod_init, child_init, mod_destroy), the
 * script wrappers and the KEMI table, so that Lua, Python or JavaScript routing scripts call
 * the same functions (KSR.callroute.callroute_route() ...). The work is done by one file per
 * concern (see callroute_mod.h): the library (crl_), outbound decisions (cro_), calls from
 * gateways (cri_), calls to users and their timer process (cru_), $callroute and RPC (crv_).
 */
#include <string.h>
#include <time.h>

#include "core/dprint.h"
#include "core/kemi.h"
#include "core/mod_fix.h"
#include "core/route.h"
#include "core/sr_module.h"
#include "core/str.h"
#include "modules/tm/h_table.h"
#include "modules/tm/t_cancel.h"

#include "callroute_mod.h"
#include "crh_health.h"
#include "cri_inbound.h"
#include "crl_library.h"
#include "cro_outbound.h"
#include "crg_rgs.h"
#include "crm_media.h"
#include "cru_user.h"
#include "crs_stats.h"
#include "crv_pv_rpc.h"

/* Only the symbols Kamailio's loader looks up are visible (the build hides the rest). */
#pragma GCC visibility push(default)
MODULE_VERSION
#pragma GCC visibility pop

struct tm_binds crm_tmb;

/* Logs, at most once a second per process, a branch that rings (1xx) while tm holds its
 * cancel buffer busy with no CANCEL built: prepare_to_cancel never selects it again. */
static void crm_log_stuck_branches(struct cell *t, const char *who)
{
    static time_t last;
    time_t now = time(NULL);
    int i, lr;

    if (now == last)
        return;
    for (i = 0; i < (int)t->nr_of_outgoings; i++) {
        lr = t->uac[i].last_received;
        if (lr >= 100 && lr < 200 && t->uac[i].local_cancel.buffer == BUSY_BUFFER) {
            last = now;
            LM_WARN("%s: branch %d rings (%d) but tm holds its cancel buffer busy (request "
                    "flags %x): no CANCEL can be built for it\n",
                    who, i, lr, (unsigned)t->uac[i].request.flags);
        }
    }
}

/*
 * Gateway health: the library's failure classes (plugin-api/lib/gateways.c) decide whether
 * `code` is a failure of the gateway and whether it is now held down; the counters follow
 * that answer. Not the failover question (cro_gateway_failure, cru_branch_failure: only
 * 408/503/504/no answer try the next gateway, the OCS rule), which is another one: a 500
 * counts against the gateway's health but ends the call without failover.
 */
void crm_gateway_outcome(const char *who, const char *gw, int code, int retry_after)
{
    cr_handle *h = crl_handle();
    int r, down;

    if (h == NULL || gw == NULL || *gw == '\0')
        return;
    if (CR_HAS(cr_plugin, crl_plugin, gateway_result_ex) && crl_plugin->gateway_result_ex) {
        /* ABI 1.9: the library classifies, and logs each failure, once, with its outcome */
        r = crl_plugin->gateway_result_ex(h, gw, code, retry_after);
    } else if (CR_HAS(cr_plugin, crl_plugin, gateway_result) && crl_plugin->gateway_result) {
        /* ABI 1.6 to 1.8 answer only "held down"; their failure classes (which those
         * libraries keep) are 408, no answer and 5xx */
        down = crl_plugin->gateway_result(h, gw, code, retry_after);
        r = down < 0 ? down
            : code == 0 || code == 408 || (code >= 500 && code < 600)
                ? CR_GATEWAY_RESULT_FAILURE | (down > 0 ? CR_GATEWAY_RESULT_DOWN : 0)
                : 0;
    } else {
        if (code == 0 || code == 408 || code == 503 || code == 504) { /* ABI < 1.6 */
            crs_inc(CRS_GATEWAY_FAILURES);
            LM_INFO("%s: gateway %s failed (%d): marked down for %d s\n", who, gw,
                    code ? code : 408, crl_opts.gateway_holdoff_s);
            if (crl_plugin->gateway_failed && crl_plugin->gateway_failed(h, gw) < 0)
                LM_WARN("library did not accept the failure of gateway %s\n", gw);
            else
                crs_inc(CRS_GATEWAYS_MARKED_DOWN);
        }
        return;
    }
    if (r < 0) {
        LM_WARN("%s: library did not accept the outcome %d of gateway %s (%d)\n", who, code, gw, r);
        return;
    }
    if (r & CR_GATEWAY_RESULT_FAILURE) {
        crs_inc(CRS_GATEWAY_FAILURES);
        if (r & CR_GATEWAY_RESULT_DOWN)
            crs_inc(CRS_GATEWAYS_MARKED_DOWN);
    }
}

void crm_note_ringing(volatile branch_bm_t *rang, int code)
{
    int b = crm_tmb.t_gett_branch();

    if (code >= 100 && code < 200 && b >= 0 && b < (int)(sizeof(branch_bm_t) * 8))
        __atomic_fetch_or(rang, (branch_bm_t)1 << b, __ATOMIC_SEQ_CST);
}

/* Branch i is still to be cancelled: wanted, no final reply, no CANCEL out, and its request
 * was sent. */
static int crm_branch_open(struct cell *t, int i, branch_bm_t want)
{
    return (want & ((branch_bm_t)1 << i)) && t->uac[i].last_received < 200 &&
           t->uac[i].local_cancel.buffer_len <= 0 && t->uac[i].request.buffer != NULL;
}

int crm_cancel_wanted(struct cell *t, branch_bm_t want, branch_bm_t rang, int first,
                      const char *who)
{
    struct cancel_info ci;
    branch_bm_t skip = 0, force = 0, bit, picked;
    int i, lr, open = 0;

    for (i = 0; i < (int)t->nr_of_outgoings && i < (int)(sizeof(branch_bm_t) * 8); i++) {
        bit = (branch_bm_t)1 << i;
        lr = t->uac[i].last_received;
        LM_DBG("%s: call [%u:%u] branch %d: last reply %d, rang %d, wanted %d, cancel %s, "
               "request flags %x\n",
               who, t->hash_index, t->label, i, lr, !!(rang & bit), !!(want & bit),
               t->uac[i].local_cancel.buffer_len > 0          ? "sent"
               : t->uac[i].local_cancel.buffer == BUSY_BUFFER ? "busy"
                                                              : "none",
               (unsigned)t->uac[i].request.flags);
        if (!crm_branch_open(t, i, want)) {
            skip |= bit; /* not wanted, over, its CANCEL is out, or nothing was sent */
            continue;
        }
        open++;
        if (lr < 100 && (rang & bit))
            force |= bit; /* it rang: tm saw no reply (the race), we did */
        else if (lr < 100 && !first)
            skip |= bit; /* no provisional reply yet: no CANCEL (RFC 3261 9.1) */
    }
    for (; i < (int)(sizeof(branch_bm_t) * 8); i++)
        skip |= (branch_bm_t)1 << i;
    if (open) {
        init_cancel_info(&ci);
        crm_tmb.prepare_to_cancel(t, &picked, skip);
        ci.cancel_bitmap = picked & ~force;
        if (ci.cancel_bitmap)
            crm_tmb.cancel_uacs(t, &ci, 0);
        init_cancel_info(&ci);
        ci.cancel_bitmap = picked & force;
        if (ci.cancel_bitmap) {
            LM_INFO("%s: call [%u:%u]: cancelling branches %x, which rang while the call "
                    "ended\n",
                    who, t->hash_index, t->label, (unsigned)ci.cancel_bitmap);
            crm_tmb.cancel_uacs(t, &ci, F_CANCEL_B_FORCE_C);
        }
        crm_log_stuck_branches(t, who);
    }
    return open;
}
int crm_cancel_open_branches(struct cell *t, branch_bm_t want, branch_bm_t rang, long ms,
                             const char *who)
{
    struct cancel_info ci;
    branch_bm_t force = 0, picked = 0;
    int i;

    for (i = 0; i < (int)t->nr_of_outgoings && i < (int)(sizeof(branch_bm_t) * 8); i++) {
        branch_bm_t bit = (branch_bm_t)1 << i;
        if (!crm_branch_open(t, i, want))
            continue;
        if (t->uac[i].local_cancel.buffer == NULL)
            force |= bit;
        LM_WARN("%s: call [%u:%u]: branch %d (%.*s) is still open %ld ms after it was to be "
                "cancelled: last reply %d, provisional reply seen by the module %s, cancel %s, "
                "request flags %x%s\n",
                who, t->hash_index, t->label, i, t->uac[i].uri.len, t->uac[i].uri.s, ms,
                t->uac[i].last_received, (rang & bit) ? "yes" : "no",
                t->uac[i].local_cancel.buffer == BUSY_BUFFER ? "busy" : "none",
                (unsigned)t->uac[i].request.flags, (force & bit) ? ": sending its CANCEL now" : "");
    }
    if (!force)
        return 0;
    crm_tmb.prepare_to_cancel(t, &picked, ~force);
    init_cancel_info(&ci);
    ci.cancel_bitmap = picked & force;
    if (ci.cancel_bitmap)
        crm_tmb.cancel_uacs(t, &ci, F_CANCEL_B_FORCE_C);
    return __builtin_popcountll((unsigned long long)ci.cancel_bitmap);
}

static int crm_gateway_holdoff = 30;
static char *crm_log_level = "debug";

static int mod_init(void)
{
    crl_ahead_finish(); /* the library's lines from the "config" parameter, whatever fails next */
    if (crl_config == NULL || *crl_config == '\0') {
        LM_ERR("modparam(\"callroute\", \"config\", PATH) is required\n");
        return -1;
    }
    if (crm_gateway_holdoff < 0) {
        LM_ERR("gateway_holdoff must be >= 0 seconds, not %d\n", crm_gateway_holdoff);
        return -1;
    }
    if (crm_gateway_holdoff == 0) /* the ABI's 0: the library's default (cr_open_options) */
        LM_WARN("gateway_holdoff 0: a failed gateway is held down for the default, 30 s\n");
    cro_log_level = cro_log_level_parse(crm_log_level);
    if (cro_log_level == CRO_LOG_UNKNOWN) {
        LM_ERR("log_level must be debug, info or notice (not \"%s\")\n", crm_log_level);
        return -1;
    }
    if (load_tm_api(&crm_tmb) < 0) {
        LM_ERR("cannot bind to tm (loadmodule \"tm.so\" is needed for failover)\n");
        return -1;
    }
    ksr_module_set_flag(KSRMOD_FLAG_POSTCHILDINIT); /* child_init(PROC_POSTCHILDINIT) */
    if (crl_init(crm_gateway_holdoff, crg_max_wait) < 0)
        return -1;
    if (crs_mod_init() < 0 || cru_mod_init() < 0 || crh_mod_init() < 0 || crm_media_init() < 0)
        return -1;
    return crg_mod_init();
}

static int child_init(int rank)
{
    if (rank == PROC_POSTCHILDINIT) { /* the main process, every child forked */
        crl_release_threads();
        return 0;
    }
    if (rank == PROC_INIT || rank == PROC_TCP_MAIN)
        return 0;
    if (crg_child_init(rank) < 0 || crh_child_init(rank) < 0)
        return -1;
    /* Processes that do not route SIP (timers, ctl, the probe, the match maker) hold no
     * plan: the copy of the main process's they were forked with is closed
     * (else its image stays mapped after every reload), and crl_handle() adopts the published
     * one the first time such a process needs it (an RPC, a timed-out leg). SIP workers park
     * the plan they inherited: until their first call they map no image and start no thread
     * (each worker's share of Kamailio's start-up), and that call's crl_handle() takes the
     * plan back, mapping the published image where it was (reading and compiling nothing;
     * the open costs what it cost here, tests/bench/plan_park), or adopts the one published
     * since. */
    if (!crm_routes_sip(rank) && rank != PROC_MAIN) {
        crl_forget_inherited();
        return 0;
    }
    if (rank != PROC_MAIN && crl_park())
        return 0;
    return crl_handle() == NULL ? -1 : 0;
}

static void mod_destroy(void)
{
    crg_media_shutdown();
    crl_close();
}

/* ---- the functions, for the native script and for KEMI ---- */

static int ki_callroute_route(struct sip_msg *msg)
{
    return cro_route(msg, NULL, NULL);
}

/* An empty caller or dialed means the default (From URI, Request-URI). */
static int ki_callroute_route_params(struct sip_msg *msg, str *caller, str *dialed)
{
    return cro_route(msg, caller && caller->len > 0 ? caller : NULL,
                     dialed && dialed->len > 0 ? dialed : NULL);
}

/* KEMI scripts (and route blocks a native script calls from another route type) are not
 * checked by Kamailio against a function's route types: in a request or branch route, where
 * no gateway has answered yet, callroute_next() would count "no answer" against the
 * gateway (held down) and move the call on, and callroute_user_next() would start the
 * plan's next step before its time. Both answer -3 there. */
static const char *crm_route_name(int type)
{
    return type & REQUEST_ROUTE          ? "request_route"
           : type & BRANCH_ROUTE         ? "branch_route"
           : type & ONREPLY_ROUTE        ? "onreply_route"
           : type & BRANCH_FAILURE_ROUTE ? "event_route[tm:branch-failure]"
           : type & LOCAL_ROUTE          ? "local route"
           : type & ONSEND_ROUTE         ? "onsend_route"
           : type & EVENT_ROUTE          ? "event_route"
                                         : "another route";
}

static int crm_in_failure_route(const char *fn)
{
    if (is_route_type(FAILURE_ROUTE))
        return 1;
    LM_ERR("%s() belongs in a failure_route, not in a %s: nothing done\n", fn,
           crm_route_name(get_route_type()));
    return 0;
}

/* callroute_user() and callroute_rgs() create the call's transaction: in a failure route
 * (a route block called from one, or KEMI) there is one already, and they could only fail
 * after the work of a plan. */
static int crm_in_request_route(const char *fn)
{
    if (is_route_type(REQUEST_ROUTE))
        return 1;
    LM_ERR("%s() belongs in a request_route (it creates the call's transaction), not in a %s: "
           "nothing done\n",
           fn, is_route_type(FAILURE_ROUTE) ? "failure_route" : crm_route_name(get_route_type()));
    return 0;
}

static int ki_callroute_next(struct sip_msg *msg)
{
    if (!crm_in_failure_route("callroute_next"))
        return CRM_ERROR;
    return cro_next(msg);
}

static int ki_callroute_inbound(struct sip_msg *msg)
{
    return cri_inbound(msg);
}

static int ki_callroute_user(struct sip_msg *msg)
{
    if (!crm_in_request_route("callroute_user"))
        return CRM_ERROR;
    return cru_user(msg);
}

static int ki_callroute_user_next(struct sip_msg *msg)
{
    if (!crm_in_failure_route("callroute_user_next"))
        return CRM_ERROR;
    return cru_user_next(msg);
}

static int ki_callroute_rgs(struct sip_msg *msg)
{
    if (!crm_in_request_route("callroute_rgs"))
        return CRM_ERROR;
    return crg_rgs(msg);
}

static int w_callroute_rgs(struct sip_msg *msg, char *p1, char *p2)
{
    return ki_callroute_rgs(msg);
}

static int ki_callroute_rgs_presence(struct sip_msg *msg, str *agent, str *state)
{
    return crg_presence(msg, agent, state);
}

/* callroute_rgs_presence(agent, state): both may hold pseudo-variables ("$tu", "$rb"). */
static int w_callroute_rgs_presence(struct sip_msg *msg, char *p1, char *p2)
{
    str agent = STR_NULL, state = STR_NULL;

    if (fixup_get_svalue(msg, (gparam_t *)p1, &agent) < 0 ||
        fixup_get_svalue(msg, (gparam_t *)p2, &state) < 0) {
        LM_ERR("callroute_rgs_presence(): cannot evaluate agent or state\n");
        return CRM_ERROR;
    }
    return ki_callroute_rgs_presence(msg, &agent, &state);
}

static int w_callroute_route(struct sip_msg *msg, char *p1, char *p2)
{
    return ki_callroute_route(msg);
}

/* callroute_route(caller, dialed): both strings may hold pseudo-variables ("$fu", "$rU"). */
static int w_callroute_route2(struct sip_msg *msg, char *p1, char *p2)
{
    str caller = STR_NULL, dialed = STR_NULL;

    if (fixup_get_svalue(msg, (gparam_t *)p1, &caller) < 0 ||
        fixup_get_svalue(msg, (gparam_t *)p2, &dialed) < 0) {
        LM_ERR("callroute_route(): cannot evaluate caller or dialed\n");
        return CRM_ERROR;
    }
    return ki_callroute_route_params(msg, &caller, &dialed);
}

static int w_callroute_next(struct sip_msg *msg, char *p1, char *p2)
{
    return ki_callroute_next(msg);
}

static int w_callroute_inbound(struct sip_msg *msg, char *p1, char *p2)
{
    return ki_callroute_inbound(msg);
}

static int w_callroute_user(struct sip_msg *msg, char *p1, char *p2)
{
    return ki_callroute_user(msg);
}

static int w_callroute_user_next(struct sip_msg *msg, char *p1, char *p2)
{
    return ki_callroute_user_next(msg);
}

/* clang-format off */
static cmd_export_t cmds[] = {
    {"callroute_route", (cmd_function)w_callroute_route, 0, 0, 0,
        REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
    {"callroute_route", (cmd_function)w_callroute_route2, 2, fixup_spve_spve,
        fixup_free_spve_spve, REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
    {"callroute_next", (cmd_function)w_callroute_next, 0, 0, 0, FAILURE_ROUTE},
    {"callroute_inbound", (cmd_function)w_callroute_inbound, 0, 0, 0, REQUEST_ROUTE},
    {"callroute_user", (cmd_function)w_callroute_user, 0, 0, 0, REQUEST_ROUTE},
    {"callroute_user_next", (cmd_function)w_callroute_user_next, 0, 0, 0, FAILURE_ROUTE},
    {"callroute_rgs", (cmd_function)w_callroute_rgs, 0, 0, 0, REQUEST_ROUTE},
    {"callroute_rgs_presence", (cmd_function)w_callroute_rgs_presence, 2, fixup_spve_spve,
        fixup_free_spve_spve, REQUEST_ROUTE | ONREPLY_ROUTE},
    {0, 0, 0, 0, 0, 0}
};

static param_export_t params[] = {
    {"library", PARAM_STRING, &crl_path},
    {"config", PARAM_STRING | PARAM_USE_FUNC, (void *)crl_config_param},
    {"gateway_holdoff", PARAM_INT, &crm_gateway_holdoff},
    {"log_level", PARAM_STRING, &crm_log_level},
    {"gateway_fail_threshold", PARAM_INT, &crl_fail_threshold},
    {"gateway_probe_interval", PARAM_INT, &crh_probe_interval},
    {"gateway_probe_from", PARAM_STRING, &crh_probe_from},
    {"location_table", PARAM_STRING, &cru_location_table},
    {"include_dir", PARAM_STRING | PARAM_USE_FUNC, (void *)crl_include_dir_param},
    {"rgs_state", PARAM_STRING, &crg_state_dir},
    {"rgs_log", PARAM_STRING, &crg_log_path},
    {"rgs_events", PARAM_STRING, &crg_event_path},
    {"rgs_max_wait", PARAM_INT, &crg_max_wait},
    {"rtpengine_sock", PARAM_STRING, &crm_rtp_sock},
    {"rtpengine_dtmf", PARAM_STRING, &crm_rtp_dtmf},
    {"media_dir", PARAM_STRING, &crm_media_dir},
    {0, 0, 0}
};

#pragma GCC visibility push(default)
struct module_exports exports = {
    "callroute",     /* module name */
    DEFAULT_DLFLAGS, /* dlopen flags */
    cmds,            /* script functions */
    params,          /* module parameters */
    crv_rpc_cmds,    /* RPC methods */
    crv_pvs,         /* pseudo-variables */
    0,               /* response handling function */
    mod_init,        /* module init, before fork */
    child_init,      /* per-process init, after fork */
    mod_destroy      /* destroy, main process */
};
#pragma GCC visibility pop

static sr_kemi_t crm_kemi_exports[] = {
    { str_init("callroute"), str_init("callroute_route"),
        SR_KEMIP_INT, ki_callroute_route,
        { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
            SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
    },
    { str_init("callroute"), str_init("callroute_route_params"),
        SR_KEMIP_INT, ki_callroute_route_params,
        { SR_KEMIP_STR, SR_KEMIP_STR, SR_KEMIP_NONE,
            SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
    },
    { str_init("callroute"), str_init("callroute_next"),
        SR_KEMIP_INT, ki_callroute_next,
        { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
            SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
    },
    { str_init("callroute"), str_init("callroute_inbound"),
        SR_KEMIP_INT, ki_callroute_inbound,
        { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
            SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
    },
    { str_init("callroute"), str_init("callroute_user"),
        SR_KEMIP_INT, ki_callroute_user,
        { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
            SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
    },
    { str_init("callroute"), str_init("callroute_user_next"),
        SR_KEMIP_INT, ki_callroute_user_next,
        { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
            SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
    },
    { str_init("callroute"), str_init("callroute_rgs"),
        SR_KEMIP_INT, ki_callroute_rgs,
        { SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
            SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
    },
    { str_init("callroute"), str_init("callroute_rgs_presence"),
        SR_KEMIP_INT, ki_callroute_rgs_presence,
        { SR_KEMIP_STR, SR_KEMIP_STR, SR_KEMIP_NONE,
            SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
    },
    { {0, 0}, {0, 0}, 0, NULL, { 0, 0, 0, 0, 0, 0 } }
};
/* clang-format on */

#pragma GCC visibility push(default)
/* Called by Kamailio when it loads the module, before the configuration is parsed. */
int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
    sr_kemi_modules_add(crm_kemi_exports);
    return 0;
}
#pragma GCC visibility pop

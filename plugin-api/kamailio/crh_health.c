/*
 * callroute.so: gateway health.
 *
 * Capacity, without the dialog module: a call takes a port of its gateway when
 * callroute_route() / callroute_next() applies the attempt (crh_take_port, keyed by the
 * Call-ID, counted in the library's shared block across every process). tm tells the module
 * when it ends: a global TMCB_REQUEST_IN callback sees every new transaction: for an INVITE
 * carrying a callroute decision it registers TMCB_RESPONSE_OUT on the transaction (a final
 * reply >= 300 sent to the caller — every attempt failed, or the caller cancelled (487) —
 * frees the port; a 2xx keeps it); a BYE (in either direction: the example configuration
 * record-routes, so in-dialog requests come through) frees the port of its Call-ID, seen by
 * a pre-script callback however the script relays it (t_relay() or stateless forward()).
 *
 * Probing: with gateway_probe_interval > 0 a timer process sends SIP OPTIONS to every
 * configured gateway (tm's t_request) each interval; any answer but 408 (tm's own timeout
 * included) marks the gateway up, none marks it down, through the library's gateway_probe.
 *
 * The operator: RPC callroute.gateway_state NAME up|down|auto.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/dprint.h"
#include "core/script_cb.h"
#include "core/mem/shm_mem.h"
#include "core/parser/msg_parser.h"
#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "core/timer_proc.h"
#include "core/ut.h"

#include "callroute_mod.h"
#include "crh_health.h"
#include "crl_library.h"
#include "cro_outbound.h"

int crh_probe_interval = 0;
char *crh_probe_from = "sip:callroute@localhost";

#define CRH_CALLID_MAX 256
#define CRH_PROBES_MAX 1024

/* The gateways of the current probe round, for the replies (any process gets them). */
typedef struct crh_probe_tab {
    unsigned int round;
    unsigned int n;
    char name[CRH_PROBES_MAX][CR_ANSWER_NAME];
} crh_probe_tab;
static crh_probe_tab *crh_probes;

static int crh_has(void)
{
    return crl_plugin && CR_HAS(cr_plugin, crl_plugin, gateway_call_end) &&
           crl_plugin->gateway_call_end;
}

static int crh_callid(struct sip_msg *msg, char *buf, size_t len)
{
    if (msg->callid == NULL && (parse_headers(msg, HDR_CALLID_F, 0) < 0 || msg->callid == NULL))
        return -1;
    return crl_cstr(&msg->callid->body, buf, len);
}

int crh_take_port(struct sip_msg *msg, const char *gw)
{
    char cid[CRH_CALLID_MAX];
    cr_handle *h = crl_handle();
    int rc;

    if (!crh_has() || h == NULL || gw == NULL || crh_callid(msg, cid, sizeof(cid)) < 0)
        return 0;
    rc = crl_plugin->gateway_call(h, gw, cid);
    if (rc == CR_ABI_ELIMIT) {
        LM_INFO("gateway %s is full (every port in use): skipped for call %s\n", gw, cid);
        return -1;
    }
    if (rc < 0)
        LM_DBG("call %s to gateway %s not counted (%d)\n", cid, gw, rc);
    return 0;
}

int crh_retry_after(const char *buf, int len)
{
    static const char name[] = "\nRetry-After:";
    int i, n = (int)sizeof(name) - 1;

    for (i = 0; buf && i + n < len; i++) {
        if (buf[i] == '\n' && strncasecmp(buf + i, name, n) == 0) {
            const char *p = buf + i + n;
            while (p < buf + len && (*p == ' ' || *p == '\t'))
                p++;
            return p < buf + len ? atoi(p) : 0;
        }
    }
    return 0;
}

/* A final reply went to the caller: >= 300 ends the call's hold on its port; 2xx: the
 * gateway answered (its failures in a row start again). The Call-ID is the transaction's own
 * request's (tm's copy in shared memory, its Call-ID parsed before the transaction was
 * made), so nothing is copied per call when the callback is registered. */
static void crh_reply_out(struct cell *t, int type, struct tmcb_params *ps)
{
    cr_handle *h = crl_handle();
    struct sip_msg *req = t ? t->uas.request : NULL;
    char cid[CRH_CALLID_MAX];

    (void)type;
    if (ps->code < 200 || h == NULL)
        return;
    if (ps->code >= 300) {
        /* never parse here: the request is tm's shared copy */
        if (req != NULL && req->callid != NULL &&
            crl_cstr(&req->callid->body, cid, sizeof(cid)) == 0)
            crl_plugin->gateway_call_end(h, cid);
        return;
    }
    {
        char gw[CR_ANSWER_NAME];
        if (cro_transaction_gateway(t, gw, sizeof(gw)) == 0)
            crl_plugin->gateway_result(h, gw, ps->code, 0);
    }
}

static void crh_request_in(struct cell *t, int type, struct tmcb_params *ps)
{
    struct sip_msg *msg = ps->req;

    (void)type;
    /* (BYEs: crh_pre_script sees every one, however the script relays it) */
    if (msg == NULL || msg->first_line.type != SIP_REQUEST || msg->REQ_METHOD != METHOD_INVITE ||
        !crh_has() || !cro_has_outbound_decision())
        return;
    /* (tm copies the request into the transaction after this callback: the reply's
     * callback reads the Call-ID from that copy) */
    if (crm_tmb.register_tmcb(msg, t, TMCB_RESPONSE_OUT, crh_reply_out, NULL, NULL) <= 0)
        LM_WARN("cannot follow call %.*s: its gateway port is freed by its BYE only\n",
                msg->callid ? msg->callid->body.len : 0, msg->callid ? msg->callid->body.s : "");
}

/* Every request, before the script: a BYE ends its call's hold on a gateway port however the
 * script relays it (t_relay(), or forward() without a transaction, which tm never sees). */
static int crh_pre_script(struct sip_msg *msg, unsigned int flags, void *param)
{
    char cid[CRH_CALLID_MAX];
    cr_handle *h;

    (void)flags;
    (void)param;
    if (msg->first_line.type == SIP_REQUEST && msg->REQ_METHOD == METHOD_BYE && crh_has() &&
        crh_callid(msg, cid, sizeof(cid)) == 0 && (h = crl_handle()) != NULL)
        crl_plugin->gateway_call_end(h, cid);
    return 1;
}

/* ---- probes ---- */

static void crh_probe_reply(struct cell *t, int type, struct tmcb_params *ps)
{
    unsigned long v = (unsigned long)(ps->param ? *ps->param : NULL);
    unsigned int round = (unsigned int)(v >> 16), i = (unsigned int)(v & 0xffff);
    cr_handle *h = crl_handle();
    char name[CR_ANSWER_NAME];

    if (h == NULL || crh_probes == NULL || i >= CRH_PROBES_MAX)
        return;
    memcpy(name, crh_probes->name[i], sizeof(name));
    name[sizeof(name) - 1] = '\0';
    if ((crh_probes->round & 0xffff) != (round & 0xffff) || name[0] == '\0')
        return; /* a reply of an earlier round, after a reload reordered the gateways */
    crl_plugin->gateway_probe(h, name, ps->code != 408 && ps->code > 0);
}

static void crh_probe_timer(unsigned int ticks, void *param)
{
    static str method = str_init("OPTIONS");
    static str hdrs = str_init("Max-Forwards: 10\r\n");
    cr_handle *h = crl_handle();
    cr_result *r = NULL;
    size_t i, n;
    str from;

    if (h == NULL || crl_plugin->gateways(h, &r) < 0 || r == NULL)
        return;
    from.s = crh_probe_from;
    from.len = strlen(crh_probe_from);
    n = crl_plugin->result_count(r, "gateways");
    if (n > CRH_PROBES_MAX)
        n = CRH_PROBES_MAX;
    crh_probes->round = (crh_probes->round + 1) & 0xffff;
    for (i = 0; i < n; i++) {
        const char *name = crl_plugin->result_item(r, "gateways", i, "name");
        const char *addr = crl_plugin->result_item(r, "gateways", i, "address");
        uac_req_t uac;
        str ruri;
        if (name == NULL || addr == NULL)
            continue;
        snprintf(crh_probes->name[i], CR_ANSWER_NAME, "%s", name);
        ruri.s = (char *)addr;
        ruri.len = strlen(addr);
        set_uac_req(&uac, &method, &hdrs, NULL, NULL, TMCB_LOCAL_COMPLETED, crh_probe_reply,
                    (void *)(unsigned long)(((unsigned long)crh_probes->round << 16) | i));
        if (crm_tmb.t_request(&uac, &ruri, &ruri, &from, NULL) < 0)
            LM_WARN("cannot send OPTIONS to gateway %s (%s)\n", name, addr);
    }
    crl_plugin->result_free(r);
}

/* ---- RPC ---- */

static const char *crh_rpc_state_doc[] = {
    "Set a gateway's state by hand: callroute.gateway_state NAME up|down|auto (auto: probes "
    "and failures decide again).",
    0};

static void crh_rpc_state(rpc_t *rpc, void *ctx)
{
    str name = STR_NULL, st = STR_NULL;
    char gw[CR_ANSWER_NAME];
    cr_handle *h = crl_handle();
    int state, rc;

    if (rpc->scan(ctx, "SS", &name, &st) < 2) {
        rpc->fault(ctx, 400, "usage: callroute.gateway_state NAME up|down|auto");
        return;
    }
    /* in any case, as operators type them (dispatcher's flags are not case-sensitive either) */
    if (st.len == 2 && strncasecmp(st.s, "up", 2) == 0)
        state = CR_GATEWAY_UP;
    else if (st.len == 4 && strncasecmp(st.s, "down", 4) == 0)
        state = CR_GATEWAY_DOWN;
    else if (st.len == 4 && strncasecmp(st.s, "auto", 4) == 0)
        state = CR_GATEWAY_AUTO;
    else {
        rpc->fault(ctx, 400, "state must be up, down or auto");
        return;
    }
    if (h == NULL || !crh_has() || crl_cstr(&name, gw, sizeof(gw)) < 0) {
        rpc->fault(ctx, 500, h == NULL || !crh_has() ? "callroute is not loaded" : "bad name");
        return;
    }
    rc = crl_plugin->gateway_set_state(h, gw, state);
    if (rc == CR_ABI_ENOENT) {
        rpc->fault(ctx, 404, "no such gateway");
        return;
    }
    if (rc < 0) {
        rpc->fault(ctx, 500, "%s", crl_plugin->strerror(rc));
        return;
    }
    rpc->rpl_printf(ctx, "gateway %s: %.*s", gw, st.len, st.s);
}

/* clang-format off */
static rpc_export_t crh_rpc_cmds[] = {
    {"callroute.gateway_state", crh_rpc_state, crh_rpc_state_doc, 0},
    {0, 0, 0, 0}
};
/* clang-format on */

int crh_mod_init(void)
{
    if (crh_probe_interval < 0) {
        LM_ERR("gateway_probe_interval must be >= 0 seconds (0 = no probes), not %d\n",
               crh_probe_interval);
        return -1;
    }
    if (crl_fail_threshold < 1) {
        LM_ERR("gateway_fail_threshold must be >= 1, not %d\n", crl_fail_threshold);
        return -1;
    }
    if (rpc_register_array(crh_rpc_cmds) != 0) {
        LM_ERR("cannot register the gateway RPC\n");
        return -1;
    }
    if (!crh_has()) {
        LM_WARN("the library predates ABI 1.6: no gateway capacity, probes or manual state\n");
        return 0;
    }
    if (register_script_cb(crh_pre_script, PRE_SCRIPT_CB | REQUEST_CB, 0) < 0) {
        LM_ERR("cannot register the pre-script callback that sees BYEs (gateway ports)\n");
        return -1;
    }
    if (crm_tmb.register_tmcb(0, 0, TMCB_REQUEST_IN, crh_request_in, 0, 0) <= 0) {
        LM_ERR("cannot register the tm callback that follows calls (gateway ports)\n");
        return -1;
    }
    if (crh_probe_interval > 0) {
        crh_probes = shm_malloc(sizeof(*crh_probes));
        if (crh_probes == NULL) {
            LM_ERR("no shared memory for gateway probes\n");
            return -1;
        }
        memset(crh_probes, 0, sizeof(*crh_probes));
        register_basic_timers(1);
    }
    return 0;
}

int crh_child_init(int rank)
{
    if (rank != PROC_MAIN || crh_probes == NULL)
        return 0;
    if (fork_basic_timer(PROC_TIMER, "callroute gateway probe", 1, crh_probe_timer, NULL,
                         (unsigned int)crh_probe_interval) < 0) {
        LM_ERR("cannot start the gateway probe process\n");
        return -1;
    }
    return 0;
}

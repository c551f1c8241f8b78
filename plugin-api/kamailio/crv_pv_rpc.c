/*
 * callroute.so: $callroute(decision|normalized|route|usage|gateway|reason|target|profile|
 * rule|next_gateway) and the RPC commands callroute.reload, callroute.route and
 * callroute.gateways.
 */
#include <string.h>
#include <strings.h>

#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/pvar.h"
#include "core/rpc.h"
#include "core/rpc_lookup.h"

#include "callroute_mod.h"
#include "crl_library.h"
#include "crs_stats.h"
#include "cro_outbound.h"
#include "crv_pv_rpc.h"

static const char *const crv_field_names[CRO_F_COUNT] = {
    "decision", "normalized", "route",   "usage", "gateway",
    "reason",   "target",     "profile", "rule",  "next_gateway",
};

static int crv_pv_parse(pv_spec_p sp, str *in)
{
    int i;

    if (sp == NULL || in == NULL || in->len <= 0)
        return -1;
    for (i = 0; i < CRO_F_COUNT; i++) {
        if ((int)strlen(crv_field_names[i]) == in->len &&
            strncasecmp(in->s, crv_field_names[i], in->len) == 0) {
            sp->pvp.pvn.type = PV_NAME_INTSTR;
            sp->pvp.pvn.u.isname.type = 0;
            sp->pvp.pvn.u.isname.name.n = i;
            return 0;
        }
    }
    LM_ERR("unknown $callroute(%.*s)\n", in->len, in->s);
    return -1;
}

/* The message's (or its transaction's) decision when there is one, else the last decision
 * of this process (cro_field). */
static int crv_pv_get(struct sip_msg *msg, pv_param_t *param, pv_value_t *res)
{
    str s;

    cro_field(param->pvn.u.isname.name.n, &s);
    if (s.len <= 0)
        return pv_get_null(msg, param, res);
    return pv_get_strval(msg, param, res, &s);
}

static const char *rpc_reload_doc[] = {
    "Reload the routing configuration (atomic: a broken file is refused and the running "
    "configuration stays).",
    0};

/* A refused reload's reply: the first error (every path in it by its base name) and how many
 * there were, within `len` bytes. Kamailio's binrpc drops a fault text of 255 bytes or more
 * (kamcmd then prints nothing and exits 0, as if the reload had worked); the full list is
 * logged. "/long/path/file.xml:12: error: ..." -> "file.xml:12: error: ...", and the
 * library's "error: /long/path/plan: plan image refused: truncated ..." -> "error: plan: ...",
 * so that a long directory never pushes the reason out of the reply. */
static void crv_reload_summary(const char *err, char *out, size_t len)
{
    char first[CRM_ERR_MAX];
    size_t nerr = 0, first_len, i, n = 0;
    const char *p;

    for (p = err; (p = strstr(p, ": error: ")) != NULL; p++)
        nerr++;
    first_len = strcspn(err, "\n");
    for (i = 0; i < first_len && n + 1 < sizeof(first); i++) {
        if (err[i] == '/' && (i == 0 || err[i - 1] == ' ' || err[i - 1] == '\'')) {
            size_t j = i, base = i;
            /* a path runs to the next ':', space or quote; keep what follows its last '/' */
            for (; j < first_len && err[j] != ':' && err[j] != ' ' && err[j] != '\''; j++)
                if (err[j] == '/')
                    base = j + 1;
            i = base - 1;
            continue;
        }
        first[n++] = err[i];
    }
    first[n] = '\0';
    if (nerr > 1)
        snprintf(out, len, "reload refused (%zu errors, all in the log): %.*s", nerr,
                 (int)(n < 150 ? n : 150), first);
    else
        snprintf(out, len, "reload refused: %.*s", (int)(n < 180 ? n : 180), first);
}

static void crv_rpc_reload(rpc_t *rpc, void *ctx)
{
    char err[CRM_ERR_MAX], reply[240];
    cr_handle *h = crl_handle();
    int rc;

    if (h == NULL) {
        rpc->fault(ctx, 500, "callroute is not loaded");
        return;
    }
    err[0] = '\0';
    rc = crl_plugin->reload(h, NULL, err, sizeof(err));
    if (rc < 0) {
        LM_ERR("reload of %s refused: %s\n", crl_config, err);
        if (err[0] == '\0')
            snprintf(err, sizeof(err), "%s",
                     crl_plugin->strerror ? crl_plugin->strerror(rc) : "error");
        crs_inc(CRS_RELOADS_REFUSED);
        crv_reload_summary(err, reply, sizeof(reply));
        rpc->fault(ctx, 500, "%s", reply);
        return;
    }
    crs_inc(CRS_RELOADS_ACCEPTED);
    LM_INFO("reloaded %s\n", crl_config);
    rpc->rpl_printf(ctx, "reloaded %s", crl_config);
}

static const char *rpc_route_doc[] = {
    "Route a call: FROM (SIP URI) NUMBER (a string: digits, tel: or sip: URI; with kamcmd "
    "write s:0114255550199); returns the decision as a structure (decision, profile, rule, "
    "normalized, target, reason, attempts: gateway, route, usage, uri).",
    0};

static const char *const route_fields[] = {"decision",   "profile", "rule",
                                           "normalized", "target",  "reason"};
static const char *const attempt_fields[] = {"gateway", "route", "usage", "uri"};

/* The decision as an RPC structure; -1 when the reply cannot be built. */
static int route_reply(rpc_t *rpc, void *ctx, const cr_result *r)
{
    void *th, *ah, *one;
    size_t i, k, n;
    const char *v;

    if (rpc->add(ctx, "{", &th) < 0)
        return -1;
    for (k = 0; k < sizeof(route_fields) / sizeof(route_fields[0]); k++) {
        v = crl_plugin->result_get(r, route_fields[k]);
        if (v && rpc->struct_add(th, "s", route_fields[k], v) < 0)
            return -1;
    }
    if (rpc->struct_add(th, "[", "attempts", &ah) < 0)
        return -1;
    n = crl_plugin->result_count(r, "attempts");
    for (i = 0; i < n; i++) {
        if (rpc->array_add(ah, "{", &one) < 0)
            return -1;
        for (k = 0; k < sizeof(attempt_fields) / sizeof(attempt_fields[0]); k++) {
            v = crl_plugin->result_item(r, "attempts", i, attempt_fields[k]);
            if (v && rpc->struct_add(one, "s", attempt_fields[k], v) < 0)
                return -1;
        }
    }
    return 0;
}

static void crv_rpc_route(rpc_t *rpc, void *ctx)
{
    char *from = NULL, *number = NULL;
    cr_handle *h = crl_handle();
    cr_result *r = NULL;
    int rc;

    if (h == NULL) {
        rpc->fault(ctx, 500, "callroute is not loaded");
        return;
    }
    /* NUMBER without auto-conversion: kamcmd sends 0114255550199 as the integer
     * 114255550199 (the leading 0 or + is lost), which would be routed as another number */
    if (rpc->scan(ctx, ".s", &from) < 1 || rpc->scan(ctx, "s", &number) < 1) {
        rpc->fault(ctx, 400,
                   "usage: callroute.route FROM NUMBER, NUMBER as a string: an integer loses "
                   "its leading 0 and +; with kamcmd prefix it with s: "
                   "(callroute.route sip:alice@example.com s:0114255550199)");
        return;
    }
    rc = crl_plugin->route(h, from, number, NULL, 0, &r);
    if (rc < 0 || r == NULL) {
        rpc->fault(ctx, 500, "route failed: %s",
                   crl_plugin->strerror ? crl_plugin->strerror(rc) : "error");
        return;
    }
    if (route_reply(rpc, ctx, r) < 0)
        rpc->fault(ctx, 500, "cannot build the reply");
    crl_plugin->result_free(r);
}

static const char *rpc_gateways_doc[] = {
    "List the gateways: state (up/down/full), reason, mode (auto/up/down), since when, "
    "failures, calls in progress, ports.",
    0};

static void crv_rpc_gateways(rpc_t *rpc, void *ctx)
{
    cr_handle *h = crl_handle();
    cr_result *r = NULL;
    void *th;
    size_t i, n;

    if (h == NULL || crl_plugin->gateways == NULL) {
        rpc->fault(ctx, 500, "callroute is not loaded");
        return;
    }
    if (crl_plugin->gateways(h, &r) < 0 || r == NULL) {
        rpc->fault(ctx, 500, "cannot list gateways");
        return;
    }
    n = crl_plugin->result_count(r, "gateways");
    for (i = 0; i < n; i++) {
        static const char *const keys[] = {"name",  "address",  "state", "reason", "mode",
                                           "since", "failures", "calls", "ports",  "down_for_s"};
        size_t k;
        if (rpc->add(ctx, "{", &th) < 0) {
            rpc->fault(ctx, 500, "cannot build the reply");
            break;
        }
        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            const char *v = crl_plugin->result_item(r, "gateways", i, keys[k]);
            if (v && rpc->struct_add(th, "s", keys[k], v) < 0)
                break;
        }
    }
    crl_plugin->result_free(r);
}

/* clang-format off */
rpc_export_t crv_rpc_cmds[] = {
    {"callroute.reload", crv_rpc_reload, rpc_reload_doc, 0},
    {"callroute.route", crv_rpc_route, rpc_route_doc, 0},
    {"callroute.gateways", crv_rpc_gateways, rpc_gateways_doc, RET_ARRAY},
    {0, 0, 0, 0}
};

pv_export_t crv_pvs[] = {
    {{"callroute", sizeof("callroute") - 1}, PVT_OTHER, crv_pv_get, 0,
        crv_pv_parse, 0, 0, 0},
    {{0, 0}, 0, 0, 0, 0, 0, 0, 0}
};
/* clang-format on */

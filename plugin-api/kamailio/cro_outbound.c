/*
 * callroute.so: outbound decisions.
 *
 * callroute_route() stores the decision and its ordered attempts in ONE XAVP record
 * ("callroute": one shm allocation per call, see cro_rec). tm moves the message's XAVPs into
 * the transaction, so callroute_next() in a failure_route finds it there, whichever process
 * runs it, and advances the record's current attempt in place.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/data_lump.h"
#include "core/dprint.h"
#include "core/dset.h"
#include "core/forward.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_uri.h"
#include "core/xavp.h"

#include "callroute_mod.h"
#include "crh_health.h"
#include "cro_outbound.h"
#include "crl_library.h"
#include "crs_stats.h"

/* A decision travels with the message, then its transaction, as ONE XAVP record ("callroute",
 * a string value: one shm allocation per call, Kamailio's shm allocator being the hot spot
 * under load). The string is a cro_rec: a small header of (offset, length) spans, the
 * attempts' headers, then every string NUL-terminated, so that readers take pointers into
 * the record (no copies, no parsing). callroute_next() advances `cur` in place (the failure
 * route runs under the transaction's reply lock). The header sits at an odd address inside
 * the XAVP: the structs are packed. */
enum cro_dfield {
    CRO_D_NORMALIZED,
    CRO_D_REASON,
    CRO_D_TARGET,
    CRO_D_PROFILE,
    CRO_D_RULE,
    CRO_D_COUNT
};
enum cro_afield { CRO_A_GATEWAY, CRO_A_ROUTE, CRO_A_USAGE, CRO_A_URI, CRO_A_ADDRESS, CRO_A_COUNT };

typedef struct __attribute__((packed)) cro_span {
    uint16_t off, len; /* from the start of the record; len 0 = absent */
} cro_span;

typedef struct __attribute__((packed)) cro_att {
    cro_span f[CRO_A_COUNT];
    uint8_t remove_plus;
} cro_att;

#define CRO_REC_MAGIC 0xc5
typedef struct __attribute__((packed)) cro_rec {
    uint8_t magic;
    int8_t kind;  /* CR_DECISION_*, 0 = error */
    uint8_t natt; /* attempts stored */
    uint8_t cur;  /* the current attempt; natt = none left */
    cro_span f[CRO_D_COUNT];
    cro_att att[]; /* natt of them, then the strings */
} cro_rec;

#define CRO_REC_MAX                                                                                \
    (sizeof(cro_rec) + CR_ANSWER_ATTEMPTS * sizeof(cro_att) + 3 * CR_ANSWER_URI +                  \
     2 * CR_ANSWER_NAME + CR_ANSWER_ATTEMPTS * (3 * CR_ANSWER_NAME + 2 * CR_ANSWER_URI))

static str cro_xavp_decision = str_init("callroute");

int cro_log_level = L_DBG;

int cro_log_level_parse(const char *s)
{
    if (s == NULL || strcasecmp(s, "debug") == 0)
        return L_DBG;
    if (strcasecmp(s, "info") == 0)
        return L_INFO;
    if (strcasecmp(s, "notice") == 0)
        return L_NOTICE;
    return CRO_LOG_UNKNOWN;
}

/* The last decision this process made, for $callroute() outside a transaction: the record
 * the process built last (it is built here, then copied into the XAVP), and the attempt it
 * applied last (route, usage, gateway: into cro_buf, or copies after callroute_next()). */
static union {
    cro_rec rec;
    char b[CRO_REC_MAX];
} cro_buf;
static str cro_last_att[3]; /* gateway, route, usage */
static char cro_last_copy[3][CR_ANSWER_NAME];
static const char *cro_decision_text(int kind)
{
    switch (kind) {
    case CR_DECISION_OUTBOUND:
        return "outbound";
    case CR_DECISION_INTERNAL:
        return "internal";
    case CR_DECISION_BLOCKED:
        return "blocked";
    case CR_DECISION_NOT_APPLICABLE:
        return "not_applicable";
    default:
        return "error";
    }
}

/* Appends string v (at most max - 1 bytes) to the record being built at *p; sets its span. */
static inline void cro_put(cro_span *sp, char **p, const char *v, size_t max)
{
    size_t l = v[0] ? strnlen(v, max - 1) : 0;

    sp->off = (uint16_t)(*p - cro_buf.b);
    sp->len = (uint16_t)l;
    memcpy(*p, v, l);
    (*p)[l] = '\0';
    *p += l + 1;
}

/* Builds the record of decision `a` with its first `natt` attempts in cro_buf (which then
 * holds this process's last decision); returns its length. */
static int cro_build(const cr_route_answer *a, uint32_t natt)
{
    cro_rec *r = &cro_buf.rec;
    char *p;
    uint32_t i;

    if (natt > CR_ANSWER_ATTEMPTS)
        natt = CR_ANSWER_ATTEMPTS;
    r->magic = CRO_REC_MAGIC;
    r->kind = (int8_t)a->kind;
    r->natt = (uint8_t)natt;
    r->cur = 0;
    p = (char *)&r->att[natt];
    cro_put(&r->f[CRO_D_NORMALIZED], &p, a->normalized, sizeof(a->normalized));
    cro_put(&r->f[CRO_D_REASON], &p, a->reason, sizeof(a->reason));
    cro_put(&r->f[CRO_D_TARGET], &p, a->target, sizeof(a->target));
    cro_put(&r->f[CRO_D_PROFILE], &p, a->profile, sizeof(a->profile));
    cro_put(&r->f[CRO_D_RULE], &p, a->rule, sizeof(a->rule));
    for (i = 0; i < natt; i++) {
        const cr_route_attempt *at = &a->attempts[i];
        cro_att *ra = &r->att[i];
        cro_put(&ra->f[CRO_A_GATEWAY], &p, at->gateway, sizeof(at->gateway));
        cro_put(&ra->f[CRO_A_ROUTE], &p, at->route, sizeof(at->route));
        cro_put(&ra->f[CRO_A_USAGE], &p, at->usage, sizeof(at->usage));
        cro_put(&ra->f[CRO_A_URI], &p, at->uri, sizeof(at->uri));
        cro_put(&ra->f[CRO_A_ADDRESS], &p, at->address, sizeof(at->address));
        ra->remove_plus = at->remove_plus != 0;
    }
    cro_last_att[0].len = cro_last_att[1].len = cro_last_att[2].len = 0;
    return (int)(p - cro_buf.b);
}

/* The record of XAVP `x` (checked: a script may use the name too), or NULL. */
static cro_rec *cro_rec_of(sr_xavp_t *x)
{
    cro_rec *r;

    if (x == NULL || x->val.type != SR_XTYPE_STR || x->val.v.s.len < (int)sizeof(cro_rec))
        return NULL;
    r = (cro_rec *)x->val.v.s.s;
    if (r->magic != CRO_REC_MAGIC ||
        (size_t)x->val.v.s.len < sizeof(cro_rec) + r->natt * sizeof(cro_att))
        return NULL;
    return r;
}

/* The message's (or, in a failure_route, its transaction's) decision record, or NULL. */
static inline cro_rec *cro_rec_get(void)
{
    return cro_rec_of(xavp_get(&cro_xavp_decision, NULL));
}

/* Span `sp` of record `r` as a str (s = NULL when absent). */
static inline str cro_str(const cro_rec *r, const cro_span *sp)
{
    str s;

    s.len = sp->len;
    s.s = s.len ? (char *)r + sp->off : NULL;
    return s;
}

int cro_has_outbound_decision(void)
{
    cro_rec *r = cro_rec_get();

    return r != NULL && r->kind == CR_DECISION_OUTBOUND && r->cur < r->natt;
}

int cro_transaction_gateway(struct cell *t, char *buf, size_t len)
{
    cro_rec *r = t ? cro_rec_of(xavp_get(&cro_xavp_decision, t->xavps_list)) : NULL;
    str gw;

    if (r == NULL || r->cur >= r->natt)
        return -1;
    gw = cro_str(r, &r->att[r->cur].f[CRO_A_GATEWAY]);
    return gw.len ? crl_cstr(&gw, buf, len) : -1;
}

/* Moves r->cur to the first attempt from r->cur on whose gateway has a free port for this
 * call (capacity: the port is taken); r->cur = r->natt when none has. */
static void cro_take_port(struct sip_msg *msg, cro_rec *r)
{
    for (; r->cur < r->natt; r->cur++) {
        str gw = cro_str(r, &r->att[r->cur].f[CRO_A_GATEWAY]);
        if (gw.len == 0 || crh_take_port(msg, gw.s) == 0)
            return;
    }
}

/* Deletes the '+' that starts the user part of a From/To URI (gateway removePlus). */
static void cro_strip_plus(struct sip_msg *msg, struct to_body *body)
{
    char *colon;

    if (body == NULL || body->uri.s == NULL)
        return;
    colon = memchr(body->uri.s, ':', body->uri.len);
    if (colon == NULL || colon + 1 >= body->uri.s + body->uri.len || colon[1] != '+')
        return;
    if (del_lump(msg, (int)(colon + 1 - msg->buf), 1, 0) == NULL)
        LM_ERR("cannot remove '+' from %.*s\n", body->uri.len, body->uri.s);
}

/* removePlus applies to To and From as well as the Request-URI (SPEC §2): a PBX that refuses
 * '+' refuses it everywhere. Done once per message: a later attempt keeps the headers. */
static void cro_remove_plus_headers(struct sip_msg *msg)
{
    static unsigned int done_id;
    static int done_pid;

    if (done_id == msg->id && done_pid == msg->pid)
        return;
    done_id = msg->id;
    done_pid = msg->pid;
    if (parse_from_header(msg) == 0)
        cro_strip_plus(msg, get_from(msg));
    if (parse_headers(msg, HDR_TO_F, 0) == 0 && msg->to != NULL)
        cro_strip_plus(msg, get_to(msg));
}

/* Makes attempt r->cur of record `r` the current one: Request-URI and destination. `own`:
 * r is cro_buf (this process's last decision), else the transaction's record. */
static int cro_apply_attempt(struct sip_msg *msg, cro_rec *r, int own)
{
    const cro_att *at = &r->att[r->cur];
    str s = cro_str(r, &at->f[CRO_A_URI]);
    int i;

    if (s.len == 0) {
        LM_ERR("attempt without a Request-URI\n");
        return -1;
    }
    if (rewrite_uri(msg, &s) < 0) {
        LM_ERR("cannot set Request-URI %.*s\n", s.len, s.s);
        return -1;
    }
    s = cro_str(r, &at->f[CRO_A_ADDRESS]);
    if (s.len) {
        if (set_dst_uri(msg, &s) < 0) {
            LM_ERR("cannot set destination %.*s\n", s.len, s.s);
            return -1;
        }
    } else {
        reset_dst_uri(msg);
    }
    ruri_mark_new();
    if (at->remove_plus)
        cro_remove_plus_headers(msg);
    /* this process's last attempt: gateway, route, usage */
    for (i = 0; i < 3; i++) {
        s = cro_str(r, &at->f[CRO_A_GATEWAY + i]);
        if (!own && s.len) {
            if (s.len >= CR_ANSWER_NAME)
                s.len = CR_ANSWER_NAME - 1;
            memcpy(cro_last_copy[i], s.s, s.len);
            cro_last_copy[i][s.len] = '\0';
            s.s = cro_last_copy[i];
        }
        cro_last_att[i] = s;
    }
    return 0;
}

/* Records the decision of answer `a` with its first `natt` attempts: XAVP "callroute"
 * (replacing the message's previous one) and this process's last decision (cro_buf). */
int cro_store_decision(const cr_route_answer *a, uint32_t natt)
{
    sr_xval_t xv;

    xv.type = SR_XTYPE_STR;
    xv.v.s.len = cro_build(a, natt);
    xv.v.s.s = cro_buf.b;
    xavp_rm_by_name(&cro_xavp_decision, 1, NULL);
    if (xavp_add_value(&cro_xavp_decision, &xv, NULL) == NULL) {
        LM_WARN("cannot keep the decision with the transaction\n");
        return -1;
    }
    return 0;
}

/* A library without route_answer (ABI < 1.4): its named-field result, copied into an answer. */
static int cro_route_by_result(cr_handle *h, const char *from, const char *dialed,
                               cr_route_answer *a)
{
    static const char *const names[] = {"gateway", "route",   "usage",
                                        "uri",     "address", "remove_plus"};
    cr_result *r = NULL;
    int rc;
    uint32_t i;

    if (CR_HAS(cr_plugin, crl_plugin, route_ex) && crl_plugin->route_ex)
        rc = crl_plugin->route_ex(h, from, dialed, NULL, 0, CR_ROUTE_NO_TRACE, &r);
    else
        rc = crl_plugin->route(h, from, dialed, NULL, 0, &r);
    if (rc < 0 || r == NULL)
        return rc < 0 ? rc : -1;
    memset(a, 0, sizeof(*a));
    a->size = sizeof(*a);
    a->kind = crl_plugin->result_kind(r);
#define CRO_COPY(dst, v) snprintf(dst, sizeof(dst), "%s", (v) ? (v) : "")
    CRO_COPY(a->normalized, crl_plugin->result_get(r, "normalized"));
    CRO_COPY(a->target, crl_plugin->result_get(r, "target"));
    CRO_COPY(a->reason, crl_plugin->result_get(r, "reason"));
    CRO_COPY(a->profile, crl_plugin->result_get(r, "profile"));
    CRO_COPY(a->rule, crl_plugin->result_get(r, "rule"));
    a->total_attempts = (uint32_t)crl_plugin->result_count(r, "attempts");
    a->nattempts = a->total_attempts < CR_ANSWER_ATTEMPTS ? a->total_attempts : CR_ANSWER_ATTEMPTS;
    for (i = 0; i < a->nattempts; i++) {
        cr_route_attempt *at = &a->attempts[i];
        const char *rp = crl_plugin->result_item(r, "attempts", i, names[5]);
        CRO_COPY(at->gateway, crl_plugin->result_item(r, "attempts", i, names[0]));
        CRO_COPY(at->route, crl_plugin->result_item(r, "attempts", i, names[1]));
        CRO_COPY(at->usage, crl_plugin->result_item(r, "attempts", i, names[2]));
        CRO_COPY(at->uri, crl_plugin->result_item(r, "attempts", i, names[3]));
        CRO_COPY(at->address, crl_plugin->result_item(r, "attempts", i, names[4]));
        at->remove_plus = rp && strcmp(rp, "true") == 0;
    }
#undef CRO_COPY
    crl_plugin->result_free(r);
    return 0;
}

/* The dialed string for the library: `in` as is, except a sip:/sips: URI whose host is one of
 * Kamailio's own addresses or aliases (phones configured with the proxy's IP address): the
 * library checks a sip: URI's domain against the supported domains, so it gets the URI's
 * user part, with its parameters (phone-context, ext), as a tel: URI instead. */
static int cro_dialed(const str *in, char *out, size_t len)
{
    struct sip_uri u;

    if (in->len > 4 &&
        (strncasecmp(in->s, "sip:", 4) == 0 || strncasecmp(in->s, "sips:", 5) == 0) &&
        parse_uri(in->s, in->len, &u) == 0 && u.user.len > 0 &&
        check_self(&u.host, u.port_no, u.proto) == 1) {
        if (snprintf(out, len, "tel:%.*s", u.user.len, u.user.s) >= (int)len)
            return -1;
        return 0;
    }
    return crl_cstr(in, out, len);
}

/* Caller and dialed of callroute_route(): the given values, else the From URI and the whole
 * Request-URI (the library checks the domain and reads the user part with its parameters). */
static int cro_inputs(struct sip_msg *msg, const str *caller, const str *dialed, char *from,
                      char *dial, size_t len)
{
    if (caller == NULL) {
        if (parse_from_header(msg) < 0 || get_from(msg) == NULL) {
            LM_ERR("cannot read the From URI\n");
            return -1;
        }
        caller = &get_from(msg)->uri;
    }
    if (crl_cstr(caller, from, len) < 0) {
        if (caller->len > 0)
            return -2; /* too long: no user's URI */
        LM_ERR("callroute_route(): an empty caller\n");
        return -1;
    }
    if (dialed == NULL)
        dialed = GET_RURI(msg);
    if (cro_dialed(dialed, dial, len) < 0) {
        if (dialed->len > 0)
            return -3; /* too long: no phone number */
        LM_ERR("callroute_route(): an empty dialed number\n");
        return -1;
    }
    return 0;
}

/* A caller or dialed too long for the module's buffers is no user and no number: a
 * not_applicable decision (as the library answers a 5,000-digit number), not an error. */
static int cro_not_applicable(int which, size_t len)
{
    static cr_route_answer a;

    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.kind = CR_DECISION_NOT_APPLICABLE;
    snprintf(a.reason, sizeof(a.reason),
             which == -2 ? "the caller's URI is longer than %zu bytes: not a known user"
                         : "the dialed number is longer than %zu bytes: not a phone number or URI",
             len - 1);
    cro_store_decision(&a, 0);
    crs_decision(CR_DECISION_NOT_APPLICABLE, 0);
    LOG(cro_log_level, "callroute_route(): not_applicable (%s)\n", a.reason);
    return CRM_NOT_APPLICABLE;
}

int cro_route(struct sip_msg *msg, const str *caller, const str *dialed_in)
{
    /* one per process (Kamailio workers are single-threaded): 10 KB kept off the stack */
    static cr_route_answer answer;
    cr_route_answer *a = &answer;
    char from[MAX_URI_SIZE], dialed[MAX_URI_SIZE];
    cr_handle *h = crl_handle();
    int rc, kind, ret;
    int64_t t0;

    if (h == NULL) {
        crs_decision(0, 0);
        return CRM_ERROR;
    }
    if (msg->first_line.type != SIP_REQUEST) {
        LM_ERR("callroute_route() needs a request\n");
        crs_decision(0, 0);
        return CRM_ERROR;
    }
    rc = cro_inputs(msg, caller, dialed_in, from, dialed, sizeof(dialed));
    if (rc < -1)
        return cro_not_applicable(rc, sizeof(dialed));
    if (rc < 0) {
        crs_decision(0, 0);
        return CRM_ERROR;
    }

    /* the hot path: a plain struct from the library, nothing allocated or freed */
    a->size = sizeof(*a);
    t0 = crs_now_us();
    if (CR_HAS(cr_plugin, crl_plugin, route_answer) && crl_plugin->route_answer)
        rc = crl_plugin->route_answer(h, from, dialed, NULL, 0, a);
    else
        rc = cro_route_by_result(h, from, dialed, a);
    crs_decision(rc < 0 ? 0 : a->kind, crs_now_us() - t0);
    if (rc < 0) {
        LM_ERR("route %s -> %s failed: %s\n", from, dialed,
               crl_plugin->strerror ? crl_plugin->strerror(rc) : "error");
        /* the last decision is an error; its other fields stay */
        if (cro_buf.rec.magic != CRO_REC_MAGIC)
            memset(&cro_buf.rec, 0, sizeof(cro_buf.rec));
        cro_buf.rec.magic = CRO_REC_MAGIC;
        cro_buf.rec.kind = 0;
        return CRM_ERROR;
    }
    kind = a->kind;
    switch (kind) {
    case CR_DECISION_OUTBOUND:
        ret = CRM_OUTBOUND;
        if (a->nattempts == 0) {
            cro_store_decision(a, 0);
            LM_ERR("outbound decision without attempts\n");
            ret = CRM_ERROR;
        } else if (cro_store_decision(a, a->nattempts) < 0) {
            LM_ERR("cannot store the attempts\n");
            ret = CRM_ERROR;
        } else {
            /* a gateway filled up since the decision: the next attempt (the transaction's
             * copy of the record moves along) */
            cro_rec *r = cro_rec_get();
            if (r == NULL)
                r = &cro_buf.rec;
            cro_take_port(msg, r);
            cro_buf.rec.cur = r->cur;
            if (r->cur >= r->natt) {
                LM_ERR("every gateway of the decision is full\n");
                ret = CRM_ERROR;
            } else if (cro_apply_attempt(msg, r, r == &cro_buf.rec) < 0) {
                ret = CRM_ERROR;
            }
        }
        break;
    case CR_DECISION_INTERNAL: {
        str s;
        cro_store_decision(a, 0);
        ret = CRM_INTERNAL;
        s = cro_str(&cro_buf.rec, &cro_buf.rec.f[CRO_D_TARGET]);
        if (s.len == 0) {
            LM_ERR("internal decision without a target\n");
            ret = CRM_ERROR;
            break;
        }
        if (rewrite_uri(msg, &s) < 0) {
            LM_ERR("cannot set Request-URI %s\n", a->target);
            ret = CRM_ERROR;
        }
        break;
    }
    case CR_DECISION_BLOCKED:
        cro_store_decision(a, 0);
        ret = CRM_BLOCKED;
        break;
    case CR_DECISION_NOT_APPLICABLE:
        cro_store_decision(a, 0);
        ret = CRM_NOT_APPLICABLE;
        break;
    default:
        cro_store_decision(a, 0);
        LM_ERR("unknown decision kind %d\n", kind);
        ret = CRM_ERROR;
        break;
    }
    LOG(cro_log_level, "%s -> %s: %s%s%s (%s)\n", from, dialed, cro_decision_text(kind),
        kind == CR_DECISION_OUTBOUND && a->nattempts ? " via " : "",
        kind == CR_DECISION_OUTBOUND && a->nattempts ? a->attempts[0].gateway : "", a->reason);
    return ret;
}

/* True when the final outcome of the picked branch calls for failover (the OCS rule): 503,
 * 504, 408 from the gateway, or tm's local timeout before the gateway sent anything beyond
 * 100. A timeout after 18x is the callee not answering, not a failed gateway. Whether the
 * gateway's health suffers is another question, which the library's failure classes answer
 * (crm_gateway_outcome: every 5xx counts there, a 500 without failover too). */
static int cro_gateway_failure(struct cell *t, int *code)
{
    int branch = crm_tmb.t_get_picked_branch();

    *code = branch >= 0 ? t->uac[branch].last_received : 0;
    return *code == 503 || *code == 504 || *code == 408 || *code < 180;
}

/*
 * Tells the library how the current attempt's gateway answered (failure classes, see
 * plugin-api/lib/gateways.c): 408 or no answer in time holds it down; 503 with Retry-After
 * holds it down that long; 503 without, 504 and other 5xx fail over this call only until
 * gateway_fail_threshold of them in a row; any other answer resets that count. A library
 * without gateway_result (ABI < 1.6) holds down on every failure.
 */
static void cro_gateway_result(struct cell *t, cro_rec *r, int code)
{
    /* NUL-terminated inside the record */
    str gw = cro_str(r, &r->att[r->cur].f[CRO_A_GATEWAY]);
    int branch = crm_tmb.t_get_picked_branch(), ra = 0;
    struct sip_msg *rpl = branch >= 0 ? t->uac[branch].reply : NULL;

    if (gw.len == 0)
        return;
    if (code < 180)
        code = 0; /* no answer beyond 100 within the timer */
    if (code == 503 && rpl != NULL && rpl != FAKED_REPLY)
        ra = crh_retry_after(rpl->buf, (int)rpl->len);
    crm_gateway_outcome("outbound", gw.s, code, ra);
}

int cro_next(struct sip_msg *msg)
{
    struct cell *t;
    cro_rec *r;
    cr_handle *h = crl_handle();
    int code;

    if (h == NULL)
        return CRM_ERROR;
    t = crm_tmb.t_gett();
    if (t == NULL || t == T_UNDEFINED) {
        LM_ERR("callroute_next() needs a transaction (use it in a failure_route)\n");
        return CRM_ERROR;
    }
    if (t->flags & T_CANCELED)
        return CRM_NO_ATTEMPT;
    r = cro_rec_get();
    if (r == NULL || r->cur >= r->natt)
        return CRM_NO_ATTEMPT;
    if (!cro_gateway_failure(t, &code)) {
        LM_DBG("final reply %d: no failover\n", code);
        cro_gateway_result(t, r, code);
        return CRM_NO_ATTEMPT;
    }
    cro_gateway_result(t, r, code);
    for (r->cur++; r->cur < r->natt; r->cur++) {
        cro_take_port(msg, r); /* skips full gateways */
        if (r->cur >= r->natt)
            break;
        if (cro_apply_attempt(msg, r, 0) == 0) {
            crs_inc(CRS_FAILOVERS);
            return 1;
        }
    }
    return CRM_NO_ATTEMPT;
}

void cro_field(int f, str *out)
{
    static const enum cro_dfield dfield[CRO_F_COUNT] = {[CRO_F_NORMALIZED] = CRO_D_NORMALIZED,
                                                        [CRO_F_REASON] = CRO_D_REASON,
                                                        [CRO_F_TARGET] = CRO_D_TARGET,
                                                        [CRO_F_PROFILE] = CRO_D_PROFILE,
                                                        [CRO_F_RULE] = CRO_D_RULE};
    cro_rec *r;
    str s;

    out->s = NULL;
    out->len = 0;
    if (f < 0 || f >= CRO_F_COUNT)
        return;
    r = cro_rec_get();
    s.s = NULL;
    s.len = 0;
    switch (f) {
    case CRO_F_ROUTE:
    case CRO_F_USAGE:
    case CRO_F_GATEWAY: {
        int a = f == CRO_F_GATEWAY ? CRO_A_GATEWAY : f == CRO_F_ROUTE ? CRO_A_ROUTE : CRO_A_USAGE;
        if (r) {
            if (r->cur < r->natt)
                s = cro_str(r, &r->att[r->cur].f[a]);
        } else {
            s = cro_last_att[a - CRO_A_GATEWAY];
        }
        break;
    }
    case CRO_F_NEXT_GATEWAY:
        if (r && r->cur + 1 < r->natt)
            s = cro_str(r, &r->att[r->cur + 1].f[CRO_A_GATEWAY]);
        break;
    case CRO_F_DECISION:
        if (r == NULL && cro_buf.rec.magic == CRO_REC_MAGIC)
            r = &cro_buf.rec;
        if (r) {
            s.s = (char *)cro_decision_text(r->kind);
            s.len = strlen(s.s);
        }
        break;
    default:
        if (r == NULL && cro_buf.rec.magic == CRO_REC_MAGIC)
            r = &cro_buf.rec;
        if (r)
            s = cro_str(r, &r->f[dfield[f]]);
        break;
    }
    if (s.len > 0)
        *out = s;
}

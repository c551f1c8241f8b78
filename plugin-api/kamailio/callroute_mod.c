/*
 * callroute.so — Kamailio module that routes calls with libcallroute.so.
 *
 * The module links nothing of callroute: it dlopen()s the library named by the "library"
 * parameter, asks cr_plugin_entry() for the plugin table and uses only that table
 * (plugin-api/callroute.h). It gives the library Kamailio's logging, the wall clock and,
 * optionally, pkg memory.
 *
 * Process model. mod_init (main process, before fork) loads the library, allocates the
 * block of shared memory the library keeps gateway state, load-spreading counters and the
 * reload generation in, and opens the configuration once to refuse startup when it is
 * broken. Every child then opens its own handle over the same shared block; a reload in
 * one process bumps the shared generation and the others reload before their next decision.
 *
 * Per call. callroute_route() stores the decision and its ordered attempts in ONE XAVP record
 * ("callroute": one shm allocation per call, see crk_rec). tm moves the message's XAVPs into
 * the transaction, so callroute_next() in a failure_route finds it there, whichever process
 * runs it, and advances the record's current attempt in place.
 *
 * Calls to users. callroute_user() asks the library for the callee's ringing plan and runs
 * it on the INVITE transaction: what rings at once goes out with the script's t_relay(); a
 * timer process of this module adds the delayed branches and the no-answer step later with
 * tm's t_append_branches() (see "calls to users" below and README.md).
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/data_lump.h"
#include "core/dprint.h"
#include "core/dset.h"
#include "core/ip_addr.h"
#include "core/locking.h"
#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_uri.h"
#include "core/pvar.h"
#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "core/sr_module.h"
#include "core/str.h"
#include "core/timer_proc.h"
#include "core/xavp.h"
#include "modules/registrar/api.h"
#include "modules/tm/tm_load.h"

#include "callroute.h"

MODULE_VERSION

/* Return codes of the script functions (0 would stop the script, so never 0). */
#define CRK_OUTBOUND        1
#define CRK_INTERNAL        2
#define CRK_FOUND           1
#define CRK_BLOCKED         -1
#define CRK_NO_USER         -1
#define CRK_NO_ATTEMPT      -1
#define CRK_NOT_APPLICABLE  -2
#define CRK_NOT_GATEWAY     -2
#define CRK_NOTHING_TO_RING -2
#define CRK_ERROR           -3

#define CRK_FIELD_MAX 256
#define CRK_ERR_MAX   4096

/* ---- module parameters ---- */
static char *crk_library = NULL;
static char *crk_config = NULL;
static int crk_gateway_holdoff = 30;
static int crk_pkg_memory = 0;

static const char *const crk_default_libraries[] = {
    "/usr/lib/x86_64-linux-gnu/libcallroute.so.1",
    "/usr/local/lib/libcallroute.so.1",
    "libcallroute.so.1",
};

/* ---- per-process state ---- */
static void *crk_dl;
static const cr_plugin *crp;
static cr_host crk_host;
static cr_open_options crk_opts;
static cr_handle *crk_handle; /* valid only in the process that opened it */
static pid_t crk_handle_pid;
static struct tm_binds crk_tmb;

/* $callroute(name) fields. */
enum crk_field {
    CRK_F_DECISION,
    CRK_F_NORMALIZED,
    CRK_F_ROUTE,
    CRK_F_USAGE,
    CRK_F_GATEWAY,
    CRK_F_REASON,
    CRK_F_TARGET,
    CRK_F_PROFILE,
    CRK_F_RULE,
    CRK_F_NEXT_GATEWAY,
    CRK_F_COUNT
};
static const char *const crk_field_names[CRK_F_COUNT] = {
    "decision", "normalized", "route",   "usage", "gateway",
    "reason",   "target",     "profile", "rule",  "next_gateway",
};

/* A decision travels with the message, then its transaction, as ONE XAVP record ("callroute",
 * a string value: one shm allocation per call, Kamailio's shm allocator being the hot spot
 * under load). The string is a crk_rec: a small header of (offset, length) spans, the
 * attempts' headers, then every string NUL-terminated, so that readers take pointers into
 * the record (no copies, no parsing). callroute_next() advances `cur` in place (the failure
 * route runs under the transaction's reply lock). The header sits at an odd address inside
 * the XAVP: the structs are packed. */
enum crk_dfield {
    CRK_D_NORMALIZED,
    CRK_D_REASON,
    CRK_D_TARGET,
    CRK_D_PROFILE,
    CRK_D_RULE,
    CRK_D_COUNT
};
enum crk_afield { CRK_A_GATEWAY, CRK_A_ROUTE, CRK_A_USAGE, CRK_A_URI, CRK_A_ADDRESS, CRK_A_COUNT };

typedef struct __attribute__((packed)) crk_span {
    uint16_t off, len; /* from the start of the record; len 0 = absent */
} crk_span;

typedef struct __attribute__((packed)) crk_att {
    crk_span f[CRK_A_COUNT];
    uint8_t remove_plus;
} crk_att;

#define CRK_REC_MAGIC 0xc5
typedef struct __attribute__((packed)) crk_rec {
    uint8_t magic;
    int8_t kind;  /* CR_DECISION_*, 0 = error */
    uint8_t natt; /* attempts stored */
    uint8_t cur;  /* the current attempt; natt = none left */
    crk_span f[CRK_D_COUNT];
    crk_att att[]; /* natt of them, then the strings */
} crk_rec;

#define CRK_REC_MAX                                                                                \
    (sizeof(crk_rec) + CR_ANSWER_ATTEMPTS * sizeof(crk_att) + 3 * CR_ANSWER_URI +                  \
     2 * CR_ANSWER_NAME + CR_ANSWER_ATTEMPTS * (3 * CR_ANSWER_NAME + 2 * CR_ANSWER_URI))

static str crk_xavp_decision = str_init("callroute");

/* The last decision this process made, for $callroute() outside a transaction: the record
 * the process built last (it is built here, then copied into the XAVP), and the attempt it
 * applied last (route, usage, gateway: into crk_buf, or copies after callroute_next()). */
static union {
    crk_rec rec;
    char b[CRK_REC_MAX];
} crk_buf;
static str crk_last_att[3]; /* gateway, route, usage */
static char crk_last_copy[3][CR_ANSWER_NAME];

/* ---- host callbacks given to the library ---- */

static void crk_log(void *ud, int level, const char *message)
{
    switch (level) {
    case CR_LOG_ERROR:
        LM_ERR("%s\n", message);
        break;
    case CR_LOG_WARNING:
        LM_WARN("%s\n", message);
        break;
    case CR_LOG_INFO:
        LM_INFO("%s\n", message);
        break;
    default:
        LM_DBG("%s\n", message);
        break;
    }
}

static int64_t crk_now_ms(void *ud)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *crk_pkg_alloc(void *ud, size_t size)
{
    return pkg_malloc(size);
}

static void crk_pkg_free(void *ud, void *ptr)
{
    if (ptr)
        pkg_free(ptr);
}

/* ---- small helpers ---- */

/* Copies a Kamailio str into a NUL-terminated buffer; -1 when it does not fit. */
static int crk_cstr(const str *s, char *buf, size_t len)
{
    if (s == NULL || s->s == NULL || s->len < 0 || (size_t)s->len >= len)
        return -1;
    memcpy(buf, s->s, s->len);
    buf[s->len] = '\0';
    return 0;
}

static const char *crk_decision_text(int kind)
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
static inline void crk_put(crk_span *sp, char **p, const char *v, size_t max)
{
    size_t l = v[0] ? strnlen(v, max - 1) : 0;

    sp->off = (uint16_t)(*p - crk_buf.b);
    sp->len = (uint16_t)l;
    memcpy(*p, v, l);
    (*p)[l] = '\0';
    *p += l + 1;
}

/* Builds the record of decision `a` with its first `natt` attempts in crk_buf (which then
 * holds this process's last decision); returns its length. */
static int crk_build(const cr_route_answer *a, uint32_t natt)
{
    crk_rec *r = &crk_buf.rec;
    char *p;
    uint32_t i;

    if (natt > CR_ANSWER_ATTEMPTS)
        natt = CR_ANSWER_ATTEMPTS;
    r->magic = CRK_REC_MAGIC;
    r->kind = (int8_t)a->kind;
    r->natt = (uint8_t)natt;
    r->cur = 0;
    p = (char *)&r->att[natt];
    crk_put(&r->f[CRK_D_NORMALIZED], &p, a->normalized, sizeof(a->normalized));
    crk_put(&r->f[CRK_D_REASON], &p, a->reason, sizeof(a->reason));
    crk_put(&r->f[CRK_D_TARGET], &p, a->target, sizeof(a->target));
    crk_put(&r->f[CRK_D_PROFILE], &p, a->profile, sizeof(a->profile));
    crk_put(&r->f[CRK_D_RULE], &p, a->rule, sizeof(a->rule));
    for (i = 0; i < natt; i++) {
        const cr_route_attempt *at = &a->attempts[i];
        crk_att *ra = &r->att[i];
        crk_put(&ra->f[CRK_A_GATEWAY], &p, at->gateway, sizeof(at->gateway));
        crk_put(&ra->f[CRK_A_ROUTE], &p, at->route, sizeof(at->route));
        crk_put(&ra->f[CRK_A_USAGE], &p, at->usage, sizeof(at->usage));
        crk_put(&ra->f[CRK_A_URI], &p, at->uri, sizeof(at->uri));
        crk_put(&ra->f[CRK_A_ADDRESS], &p, at->address, sizeof(at->address));
        ra->remove_plus = at->remove_plus != 0;
    }
    crk_last_att[0].len = crk_last_att[1].len = crk_last_att[2].len = 0;
    return (int)(p - crk_buf.b);
}

/* The record of XAVP `x` (checked: a script may use the name too), or NULL. */
static crk_rec *crk_rec_of(sr_xavp_t *x)
{
    crk_rec *r;

    if (x == NULL || x->val.type != SR_XTYPE_STR || x->val.v.s.len < (int)sizeof(crk_rec))
        return NULL;
    r = (crk_rec *)x->val.v.s.s;
    if (r->magic != CRK_REC_MAGIC ||
        (size_t)x->val.v.s.len < sizeof(crk_rec) + r->natt * sizeof(crk_att))
        return NULL;
    return r;
}

/* The message's (or, in a failure_route, its transaction's) decision record, or NULL. */
static inline crk_rec *crk_rec_get(void)
{
    return crk_rec_of(xavp_get(&crk_xavp_decision, NULL));
}

/* Span `sp` of record `r` as a str (s = NULL when absent). */
static inline str crk_str(const crk_rec *r, const crk_span *sp)
{
    str s;

    s.len = sp->len;
    s.s = s.len ? (char *)r + sp->off : NULL;
    return s;
}

/* ---- library and handles ---- */

static int crk_load_library(void)
{
    const char *err = NULL;
    cr_plugin_entry_fn entry;
    size_t i;

    if (crk_library && *crk_library) {
        crk_dl = dlopen(crk_library, RTLD_NOW | RTLD_LOCAL);
        if (crk_dl == NULL) {
            LM_ERR("cannot load library %s: %s\n", crk_library, dlerror());
            return -1;
        }
    } else {
        for (i = 0; i < sizeof(crk_default_libraries) / sizeof(crk_default_libraries[0]); i++) {
            crk_dl = dlopen(crk_default_libraries[i], RTLD_NOW | RTLD_LOCAL);
            if (crk_dl) {
                crk_library = (char *)crk_default_libraries[i];
                break;
            }
        }
        if (crk_dl == NULL) {
            LM_ERR("libcallroute.so.1 not found; set modparam(\"callroute\", \"library\", "
                   "PATH)\n");
            return -1;
        }
    }
    entry = (cr_plugin_entry_fn)dlsym(crk_dl, CR_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        LM_ERR("%s has no %s: %s\n", crk_library, CR_PLUGIN_ENTRY_SYMBOL, dlerror());
        return -1;
    }

    memset(&crk_host, 0, sizeof(crk_host));
    crk_host.abi_major = CR_ABI_MAJOR;
    crk_host.size = sizeof(crk_host);
    crk_host.log = crk_log;
    crk_host.now_ms = crk_now_ms;
    if (crk_pkg_memory) {
        crk_host.alloc = crk_pkg_alloc;
        crk_host.free = crk_pkg_free;
    }
    crp = entry(&crk_host, &err);
    if (crp == NULL) {
        LM_ERR("%s refused ABI %d: %s\n", crk_library, CR_ABI_MAJOR, err ? err : "?");
        return -1;
    }
    if (crp->abi_major != CR_ABI_MAJOR || !CR_HAS(cr_plugin, crp, gateways) || !crp->open ||
        !crp->route || !crp->reload || !crp->result_get || !crp->result_item) {
        LM_ERR("%s: plugin table (ABI %u, %u bytes) lacks what this module needs\n", crk_library,
               crp->abi_major, crp->size);
        crp = NULL;
        return -1;
    }
    LM_INFO("loaded %s (callroute %s, ABI %u.%u)\n", crk_library, crp->version ? crp->version : "?",
            crp->abi_major, crp->abi_minor);
    return 0;
}

/* Opens a handle for this process; logs and returns -1 on failure. */
static int crk_open_handle(void)
{
    char err[CRK_ERR_MAX];
    cr_handle *h = NULL;
    int rc;

    err[0] = '\0';
    rc = crp->open(crk_config, &crk_opts, &h, err, sizeof(err));
    if (rc < 0 || h == NULL) {
        LM_ERR("cannot load %s: %s%s%s\n", crk_config, crp->strerror ? crp->strerror(rc) : "error",
               err[0] ? "\n" : "", err);
        return -1;
    }
    crk_handle = h;
    crk_handle_pid = getpid();
    return 0;
}

/* This process's handle. A handle inherited through fork() belongs to the parent: it is
 * left alone (not closed, the parent still uses its memory through copy-on-write) and a
 * new one is opened. */
static cr_handle *crk_get_handle(void)
{
    if (crp == NULL)
        return NULL;
    if (crk_handle && crk_handle_pid == getpid())
        return crk_handle;
    crk_handle = NULL;
    if (crk_open_handle() < 0)
        return NULL;
    return crk_handle;
}

/* ---- module life cycle ---- */

static int cru_mod_init(void);
static int cru_child_init(int rank);

static int mod_init(void)
{
    size_t shared_len;
    void *shared = NULL;

    if (crk_config == NULL || *crk_config == '\0') {
        LM_ERR("modparam(\"callroute\", \"config\", PATH) is required\n");
        return -1;
    }
    if (crk_gateway_holdoff < 0) {
        LM_ERR("gateway_holdoff must be >= 0 seconds\n");
        return -1;
    }
    if (load_tm_api(&crk_tmb) < 0) {
        LM_ERR("cannot bind to tm (loadmodule \"tm.so\" is needed for failover)\n");
        return -1;
    }
    if (crk_load_library() < 0)
        return -1;

    shared_len = crp->shared_size ? crp->shared_size() : 0;
    if (shared_len > 0) {
        shared = shm_malloc(shared_len);
        if (shared == NULL) {
            LM_ERR("no shared memory for %zu bytes of gateway state\n", shared_len);
            return -1;
        }
        memset(shared, 0, shared_len);
    }
    memset(&crk_opts, 0, sizeof(crk_opts));
    crk_opts.size = sizeof(crk_opts);
    crk_opts.shared = shared;
    crk_opts.shared_len = shared_len;
    crk_opts.gateway_holdoff_s = crk_gateway_holdoff > 0 ? crk_gateway_holdoff : 30;

    /* Refuse to start on a broken configuration; the handle serves the main process. */
    if (crk_open_handle() < 0)
        return -1;
    if (cru_mod_init() < 0)
        return -1;
    LM_INFO("routing with %s (gateway hold-off %d s, %zu bytes shared)\n", crk_config,
            crk_opts.gateway_holdoff_s, shared_len);
    return 0;
}

static int child_init(int rank)
{
    if (rank == PROC_INIT || rank == PROC_TCP_MAIN)
        return 0;
    if (cru_child_init(rank) < 0)
        return -1;
    if (crk_get_handle() == NULL) {
        /* SIP workers cannot route without it; helper processes retry when used. */
        return (rank >= PROC_SIPINIT || rank == PROC_MAIN) ? -1 : 0;
    }
    return 0;
}

static void mod_destroy(void)
{
    if (crp && crk_handle && crk_handle_pid == getpid())
        crp->close(crk_handle);
    crk_handle = NULL;
    /* The shared block goes with Kamailio's shm pool; the library stays mapped because
     * other modules' destroy functions may still log through it. */
}

/* ---- outbound routing ---- */

/* Deletes the '+' that starts the user part of a From/To URI (gateway removePlus). */
static void crk_strip_plus(struct sip_msg *msg, struct to_body *body)
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
static void crk_remove_plus_headers(struct sip_msg *msg)
{
    static unsigned int done_id;
    static int done_pid;

    if (done_id == msg->id && done_pid == msg->pid)
        return;
    done_id = msg->id;
    done_pid = msg->pid;
    if (parse_from_header(msg) == 0)
        crk_strip_plus(msg, get_from(msg));
    if (parse_headers(msg, HDR_TO_F, 0) == 0 && msg->to != NULL)
        crk_strip_plus(msg, get_to(msg));
}

/* Makes attempt r->cur of record `r` the current one: Request-URI and destination. `own`:
 * r is crk_buf (this process's last decision), else the transaction's record. */
static int crk_apply_attempt(struct sip_msg *msg, crk_rec *r, int own)
{
    const crk_att *at = &r->att[r->cur];
    str s = crk_str(r, &at->f[CRK_A_URI]);
    int i;

    if (s.len == 0) {
        LM_ERR("attempt without a Request-URI\n");
        return -1;
    }
    if (rewrite_uri(msg, &s) < 0) {
        LM_ERR("cannot set Request-URI %.*s\n", s.len, s.s);
        return -1;
    }
    s = crk_str(r, &at->f[CRK_A_ADDRESS]);
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
        crk_remove_plus_headers(msg);
    /* this process's last attempt: gateway, route, usage */
    for (i = 0; i < 3; i++) {
        s = crk_str(r, &at->f[CRK_A_GATEWAY + i]);
        if (!own && s.len) {
            if (s.len >= CR_ANSWER_NAME)
                s.len = CR_ANSWER_NAME - 1;
            memcpy(crk_last_copy[i], s.s, s.len);
            crk_last_copy[i][s.len] = '\0';
            s.s = crk_last_copy[i];
        }
        crk_last_att[i] = s;
    }
    return 0;
}

/* Records the decision of answer `a` with its first `natt` attempts: XAVP "callroute"
 * (replacing the message's previous one) and this process's last decision (crk_buf). */
static int crk_store_decision(const cr_route_answer *a, uint32_t natt)
{
    sr_xval_t xv;

    xv.type = SR_XTYPE_STR;
    xv.v.s.len = crk_build(a, natt);
    xv.v.s.s = crk_buf.b;
    xavp_rm_by_name(&crk_xavp_decision, 1, NULL);
    if (xavp_add_value(&crk_xavp_decision, &xv, NULL) == NULL) {
        LM_WARN("cannot keep the decision with the transaction\n");
        return -1;
    }
    return 0;
}

/* A library without route_answer (ABI < 1.4): its named-field result, copied into an answer. */
static int crk_route_by_result(cr_handle *h, const char *from, const char *dialed,
                               cr_route_answer *a)
{
    static const char *const names[] = {"gateway", "route",   "usage",
                                        "uri",     "address", "remove_plus"};
    cr_result *r = NULL;
    int rc;
    uint32_t i;

    if (CR_HAS(cr_plugin, crp, route_ex) && crp->route_ex)
        rc = crp->route_ex(h, from, dialed, NULL, 0, CR_ROUTE_NO_TRACE, &r);
    else
        rc = crp->route(h, from, dialed, NULL, 0, &r);
    if (rc < 0 || r == NULL)
        return rc < 0 ? rc : -1;
    memset(a, 0, sizeof(*a));
    a->size = sizeof(*a);
    a->kind = crp->result_kind(r);
#define CRK_COPY(dst, v) snprintf(dst, sizeof(dst), "%s", (v) ? (v) : "")
    CRK_COPY(a->normalized, crp->result_get(r, "normalized"));
    CRK_COPY(a->target, crp->result_get(r, "target"));
    CRK_COPY(a->reason, crp->result_get(r, "reason"));
    CRK_COPY(a->profile, crp->result_get(r, "profile"));
    CRK_COPY(a->rule, crp->result_get(r, "rule"));
    a->total_attempts = (uint32_t)crp->result_count(r, "attempts");
    a->nattempts = a->total_attempts < CR_ANSWER_ATTEMPTS ? a->total_attempts : CR_ANSWER_ATTEMPTS;
    for (i = 0; i < a->nattempts; i++) {
        cr_route_attempt *at = &a->attempts[i];
        const char *rp = crp->result_item(r, "attempts", i, names[5]);
        CRK_COPY(at->gateway, crp->result_item(r, "attempts", i, names[0]));
        CRK_COPY(at->route, crp->result_item(r, "attempts", i, names[1]));
        CRK_COPY(at->usage, crp->result_item(r, "attempts", i, names[2]));
        CRK_COPY(at->uri, crp->result_item(r, "attempts", i, names[3]));
        CRK_COPY(at->address, crp->result_item(r, "attempts", i, names[4]));
        at->remove_plus = rp && strcmp(rp, "true") == 0;
    }
#undef CRK_COPY
    crp->result_free(r);
    return 0;
}

/* callroute_route(): the outbound decision for an INVITE. */
static int w_callroute_route(struct sip_msg *msg, char *p1, char *p2)
{
    /* one per process (Kamailio workers are single-threaded): 10 KB kept off the stack */
    static cr_route_answer answer;
    cr_route_answer *a = &answer;
    char from[MAX_URI_SIZE], dialed[MAX_URI_SIZE];
    cr_handle *h = crk_get_handle();
    int rc, kind, ret;

    if (h == NULL)
        return CRK_ERROR;
    if (msg->first_line.type != SIP_REQUEST) {
        LM_ERR("callroute_route() needs a request\n");
        return CRK_ERROR;
    }
    if (parse_from_header(msg) < 0 || crk_cstr(&get_from(msg)->uri, from, sizeof(from)) < 0) {
        LM_ERR("cannot read the From URI\n");
        return CRK_ERROR;
    }
    /* The whole Request-URI: the library checks the domain and reads the user part with its
     * parameters (phone-context, ext). */
    if (crk_cstr(GET_RURI(msg), dialed, sizeof(dialed)) < 0) {
        LM_ERR("cannot read the Request-URI\n");
        return CRK_ERROR;
    }

    /* the hot path: a plain struct from the library, nothing allocated or freed */
    a->size = sizeof(*a);
    if (CR_HAS(cr_plugin, crp, route_answer) && crp->route_answer)
        rc = crp->route_answer(h, from, dialed, NULL, 0, a);
    else
        rc = crk_route_by_result(h, from, dialed, a);
    if (rc < 0) {
        LM_ERR("route %s -> %s failed: %s\n", from, dialed,
               crp->strerror ? crp->strerror(rc) : "error");
        /* the last decision is an error; its other fields stay */
        if (crk_buf.rec.magic != CRK_REC_MAGIC)
            memset(&crk_buf.rec, 0, sizeof(crk_buf.rec));
        crk_buf.rec.magic = CRK_REC_MAGIC;
        crk_buf.rec.kind = 0;
        return CRK_ERROR;
    }
    kind = a->kind;
    switch (kind) {
    case CR_DECISION_OUTBOUND:
        ret = CRK_OUTBOUND;
        if (a->nattempts == 0) {
            crk_store_decision(a, 0);
            LM_ERR("outbound decision without attempts\n");
            ret = CRK_ERROR;
        } else if (crk_store_decision(a, a->nattempts) < 0) {
            LM_ERR("cannot store the attempts\n");
            ret = CRK_ERROR;
        } else if (crk_apply_attempt(msg, &crk_buf.rec, 1) < 0) {
            ret = CRK_ERROR;
        }
        break;
    case CR_DECISION_INTERNAL: {
        str s;
        crk_store_decision(a, 0);
        ret = CRK_INTERNAL;
        s = crk_str(&crk_buf.rec, &crk_buf.rec.f[CRK_D_TARGET]);
        if (s.len == 0) {
            LM_ERR("internal decision without a target\n");
            ret = CRK_ERROR;
            break;
        }
        if (rewrite_uri(msg, &s) < 0) {
            LM_ERR("cannot set Request-URI %s\n", a->target);
            ret = CRK_ERROR;
        }
        break;
    }
    case CR_DECISION_BLOCKED:
        crk_store_decision(a, 0);
        ret = CRK_BLOCKED;
        break;
    case CR_DECISION_NOT_APPLICABLE:
        crk_store_decision(a, 0);
        ret = CRK_NOT_APPLICABLE;
        break;
    default:
        crk_store_decision(a, 0);
        LM_ERR("unknown decision kind %d\n", kind);
        ret = CRK_ERROR;
        break;
    }
    LM_DBG("%s -> %s: %s (%s)\n", from, dialed, crk_decision_text(kind), a->reason);
    return ret;
}

/* True when the final outcome of the picked branch is a gateway failure: 503, 504, 408
 * from the gateway, or tm's local timeout before the gateway sent anything beyond 100.
 * A timeout after 18x is the callee not answering, not a failed gateway. */
static int crk_gateway_failure(struct cell *t, int *code)
{
    int branch = crk_tmb.t_get_picked_branch();

    *code = branch >= 0 ? t->uac[branch].last_received : 0;
    return *code == 503 || *code == 504 || *code == 408 || *code < 180;
}

/* callroute_next(): in a failure_route, fail over to the next attempt. */
static int w_callroute_next(struct sip_msg *msg, char *p1, char *p2)
{
    struct cell *t;
    crk_rec *r;
    cr_handle *h = crk_get_handle();
    int code;

    if (h == NULL)
        return CRK_ERROR;
    t = crk_tmb.t_gett();
    if (t == NULL || t == T_UNDEFINED) {
        LM_ERR("callroute_next() needs a transaction (use it in a failure_route)\n");
        return CRK_ERROR;
    }
    if (t->flags & T_CANCELED)
        return CRK_NO_ATTEMPT;
    r = crk_rec_get();
    if (r == NULL || r->cur >= r->natt)
        return CRK_NO_ATTEMPT;
    if (!crk_gateway_failure(t, &code)) {
        LM_DBG("final reply %d: no failover\n", code);
        return CRK_NO_ATTEMPT;
    }
    {
        /* NUL-terminated inside the record */
        str gw = crk_str(r, &r->att[r->cur].f[CRK_A_GATEWAY]);
        if (gw.len) {
            LM_INFO("gateway %s failed (%d): marked down for %d s\n", gw.s, code ? code : 408,
                    crk_opts.gateway_holdoff_s);
            if (crp->gateway_failed && crp->gateway_failed(h, gw.s) < 0)
                LM_WARN("library did not accept the failure of gateway %s\n", gw.s);
        }
    }
    for (r->cur++; r->cur < r->natt; r->cur++) {
        if (crk_apply_attempt(msg, r, 0) == 0)
            return 1;
    }
    return CRK_NO_ATTEMPT;
}

/* ---- inbound from a gateway ---- */

/* Replaces any P-Asserted-Identity with ours. */
static int crk_set_pai(struct sip_msg *msg, const char *pai)
{
    struct hdr_field *hf;
    struct lump *anchor;
    char *hdr;
    int len;
    int angle = strchr(pai, '<') != NULL;

    if (parse_headers(msg, HDR_EOH_F, 0) < 0)
        return -1;
    for (hf = msg->headers; hf; hf = hf->next) {
        if (hf->type == HDR_PAI_T && del_lump(msg, hf->name.s - msg->buf, hf->len, 0) == 0)
            return -1;
    }
    len = strlen("P-Asserted-Identity: ") + strlen(pai) + (angle ? 0 : 2) + 2;
    hdr = pkg_malloc(len + 1);
    if (hdr == NULL)
        return -1;
    snprintf(hdr, len + 1, "P-Asserted-Identity: %s%s%s\r\n", angle ? "" : "<", pai,
             angle ? "" : ">");
    anchor = anchor_lump(msg, msg->unparsed - msg->buf, 0, 0);
    if (anchor == NULL || insert_new_lump_before(anchor, hdr, len, 0) == NULL) {
        pkg_free(hdr);
        return -1;
    }
    return 0;
}

/* True when "ip:port" `src` is the address of a configured gateway. Asked only when the
 * library refused an inbound decision (a Request-URI user that is not a number): whether
 * the call comes from a gateway then decides between "not from a gateway" and "no such
 * user". A gateway's address without a port means 5060. */
static int crk_is_gateway(cr_handle *h, const char *src)
{
    cr_result *r = NULL;
    size_t i, n, hl, sl = strlen(src);
    const char *a, *at;
    int found = 0;

    if (crp->gateways == NULL || crp->gateways(h, &r) < 0 || r == NULL)
        return 0;
    n = crp->result_count(r, "gateways");
    for (i = 0; i < n && !found; i++) {
        a = crp->result_item(r, "gateways", i, "address");
        if (a == NULL)
            continue;
        if (strncasecmp(a, "sip:", 4) == 0)
            a += 4;
        if ((at = strchr(a, '@')) != NULL)
            a = at + 1;
        hl = strcspn(a, ";?>");
        if (hl == sl && strncasecmp(a, src, sl) == 0)
            found = 1;
        else if (!memchr(a, ':', hl) && hl + 5 == sl && strncasecmp(a, src, hl) == 0 &&
                 strcmp(src + hl, ":5060") == 0)
            found = 1;
    }
    crp->result_free(r);
    return found;
}

/* callroute_inbound(): a call arriving from a gateway, identified by its source address. */
static int w_callroute_inbound(struct sip_msg *msg, char *p1, char *p2)
{
    char gw[IP_ADDR_MAX_STR_SIZE + 16], called[MAX_URI_SIZE], calling[MAX_URI_SIZE];
    struct sip_uri furi;
    const char *target, *pai;
    cr_handle *h = crk_get_handle();
    cr_result *r = NULL;
    str s;
    int rc, ret;

    if (h == NULL)
        return CRK_ERROR;
    if (crp->inbound == NULL) {
        LM_ERR("the library has no inbound decisions\n");
        return CRK_ERROR;
    }
    if (msg->first_line.type != SIP_REQUEST || parse_sip_msg_uri(msg) < 0 ||
        crk_cstr(&msg->parsed_uri.user, called, sizeof(called)) < 0) {
        LM_ERR("cannot read the Request-URI user\n");
        return CRK_ERROR;
    }
    calling[0] = '\0';
    if (parse_from_header(msg) == 0 &&
        parse_uri(get_from(msg)->uri.s, get_from(msg)->uri.len, &furi) == 0)
        crk_cstr(&furi.user, calling, sizeof(calling));
    snprintf(gw, sizeof(gw), "%s:%u", ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port);

    rc = crp->inbound(h, gw, called, calling, &r);
    /* Not from a gateway: the library says so with ENOENT or by naming no gateway. */
    if (rc == CR_ABI_ENOENT || (rc == 0 && r && crp->result_get(r, "gateway") == NULL)) {
        LM_DBG("%s is not a gateway\n", gw);
        if (r)
            crp->result_free(r);
        return CRK_NOT_GATEWAY;
    }
    if (rc == CR_ABI_EINVAL) {
        /* the library reads only numbers: a user name (sip:bob@...) is no error */
        if (!crk_is_gateway(h, gw)) {
            LM_DBG("%s is not a gateway\n", gw);
            return CRK_NOT_GATEWAY;
        }
        LM_INFO("inbound from gateway %s: '%s' is not a number of any user\n", gw, called);
        return CRK_NO_USER;
    }
    if (rc < 0 || r == NULL) {
        LM_ERR("inbound %s -> %s from %s failed: %s\n", calling, called, gw,
               crp->strerror ? crp->strerror(rc) : "error");
        return CRK_ERROR;
    }
    target = crp->result_get(r, "target");
    {
        /* $callroute(...) after an inbound call: the callee, the normalized called number */
        static cr_route_answer a;
        const char *v;
        a.kind = crp->result_kind(r) == 1 ? CR_DECISION_INTERNAL : CR_DECISION_NOT_APPLICABLE;
        snprintf(a.target, sizeof(a.target), "%s", target ? target : "");
        v = crp->result_get(r, "called");
        snprintf(a.normalized, sizeof(a.normalized), "%s", v ? v : "");
        v = crp->result_get(r, "profile");
        snprintf(a.profile, sizeof(a.profile), "%s", v ? v : "");
        snprintf(a.reason, sizeof(a.reason), "%s",
                 target ? "inbound call to a user" : "inbound call to no user");
        a.rule[0] = '\0';
        crk_store_decision(&a, 0);
    }
    if (crp->result_kind(r) != 1 || target == NULL) {
        crp->result_free(r);
        return CRK_NO_USER;
    }
    ret = CRK_FOUND;
    s.s = (char *)target;
    s.len = strlen(target);
    if (rewrite_uri(msg, &s) < 0) {
        LM_ERR("cannot set Request-URI %s\n", target);
        ret = CRK_ERROR;
    }
    pai = crp->result_get(r, "pai");
    if (ret == CRK_FOUND && pai && *pai && crk_set_pai(msg, pai) < 0) {
        LM_ERR("cannot add P-Asserted-Identity\n");
        ret = CRK_ERROR;
    }
    crp->result_free(r);
    return ret;
}

/* ---- calls to users: callroute_user() ----
 *
 * The library gives the ringing plan as a flat list of rows ("ring": at, branch, kind,
 * target, alt, uri, gateway, address). The module keeps the rows of each call in shared
 * memory (struct cru_call, one block per call, keyed by tm's transaction identifier) and
 * carries them out on tm's transaction:
 *   - at 0 s (callroute_user(), request route): the rows due at once become the destination
 *     set; the script relays it with t_relay().
 *   - later rows (a team call after its delay) and the no-answer step are started by the
 *     module's timer process (every CRU_TICK_MS): it finds the transaction again
 *     (t_lookup_ident) and adds branches to it with tm's t_append_branches(), the branches
 *     already ringing go on ringing. The no-answer step adds its target, then cancels every
 *     other branch (prepare_to_cancel + cancel_uacs).
 *   - a PSTN row that fails with 503, 504 or 408 (tm's branch-failure callback) marks its
 *     gateway down and asks for the next alternative of the same target (alt + 1): the timer
 *     process adds it, or callroute_user_next() when that was the last open branch.
 *   - when every branch failed before the next step is due (busy, not registered), tm runs
 *     the script's failure_route, where callroute_user_next() starts the next step at once.
 * The block goes when tm frees the transaction (the callback's release function marks it,
 * the timer process frees it). Users among the targets (team members, delegates, a user
 * the call forwards to) ring at their registered contacts (registrar's lookup_to_dset). */

enum cru_state { CRU_PENDING, CRU_WANTED, CRU_CLAIMED, CRU_SENT, CRU_FAILED, CRU_SKIPPED };
enum cru_kind { CRU_K_ENDPOINT, CRU_K_USER, CRU_K_SIP, CRU_K_PSTN, CRU_K_VOICEMAIL };

#define CRU_BUCKETS       256
#define CRU_TICK_MS       100
#define CRU_MAX_ROWS      256
#define CRU_MAX_ENDPOINTS 32
#define CRU_MAX_DUE       256 /* calls handled per timer tick (the rest next tick) */

typedef struct cru_row {
    int at_ms;
    unsigned char kind, no_answer, state;
    short group, alt;
    str branch, target, uri, gateway, address; /* into the call's block; len 0 = absent */
} cru_row;

typedef struct cru_call {
    struct cru_call *next;
    unsigned int hash_index, label;
    int64_t start_ms;
    int dead;     /* tm freed the transaction */
    int finished; /* answered, cancelled or nothing left to start */
    int settled;  /* finished, and no branch left ringing (see cru_settle) */
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
static registrar_api_t crk_reg;
static int crk_reg_loaded;
static char *crk_location_table = "location";

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
    size_t n = crp->result_count(r, "ring"), i, k, strings = strlen(callee) + 1;
    cru_call *c;
    char *pool;

    if (n > CRU_MAX_ROWS) {
        LM_WARN("plan for %s has %zu rows: only the first %d are used\n", callee, n, CRU_MAX_ROWS);
        n = CRU_MAX_ROWS;
    }
    for (i = 0; i < n; i++)
        for (k = 0; k < sizeof(sfields) / sizeof(sfields[0]); k++) {
            const char *v = crp->result_item(r, "ring", i, sfields[k]);
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
        const char *at = crp->result_item(r, "ring", i, "at");
        const char *alt = crp->result_item(r, "ring", i, "alt");
        int kind = cru_kind_of(crp->result_item(r, "ring", i, "kind"));

        if (kind < 0 || crp->result_item(r, "ring", i, "uri") == NULL) {
            LM_WARN("plan for %s: row %zu has no known kind or no uri: skipped\n", callee, i);
            continue;
        }
        row->kind = (unsigned char)kind;
        row->at_ms = at ? atoi(at) * 1000 : 0;
        row->alt = (short)(alt ? atoi(alt) : 0);
        row->state = CRU_PENDING;
        cru_put(&row->branch, crp->result_item(r, "ring", i, "branch"), &pool);
        cru_put(&row->target, crp->result_item(r, "ring", i, "target"), &pool);
        cru_put(&row->uri, crp->result_item(r, "ring", i, "uri"), &pool);
        cru_put(&row->gateway, crp->result_item(r, "ring", i, "gateway"), &pool);
        cru_put(&row->address, crp->result_item(r, "ring", i, "address"), &pool);
        row->no_answer = row->branch.len == 9 && memcmp(row->branch.s, "no_answer", 9) == 0;
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

/* The destination set for the CLAIMED rows of c (not under the lock: the rows' strings do
 * not change and the block outlives the transaction). Rows become SENT, or FAILED when they
 * give no branch (a user without registered contacts). Returns the number of branches. */
static int cru_fill(struct sip_msg *msg, cru_call *c)
{
    str table;
    int i, before, endpoints_done = 0, ok;
    unsigned char result[CRU_MAX_ROWS];

    table.s = crk_location_table;
    table.len = strlen(crk_location_table);
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
                crk_reg.lookup_to_dset(msg, &table, &c->callee);
                endpoints_done = nr_branches > (unsigned)before ? 2 : 1;
            }
            ok = endpoints_done == 2;
            break;
        case CRU_K_USER:
            crk_reg.lookup_to_dset(msg, &table, &r->uri);
            ok = nr_branches > (unsigned)before;
            break;
        default:
            ok = append_branch(msg, &r->uri, r->address.len ? &r->address : NULL, NULL,
                               Q_UNSPECIFIED, 0, NULL, NULL, 0, NULL, NULL) == 1;
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
    lock_get(&cru_tab->lock);
    for (i = 0; i < c->nrows; i++)
        if (result[i] && c->rows[i].state == CRU_CLAIMED)
            c->rows[i].state = result[i] == 1 ? CRU_SENT : CRU_FAILED;
    lock_release(&cru_tab->lock);
    ruri_mark_consumed(); /* the destination set only */
    return (int)nr_branches;
}

/* Starts what can start at once; returns the number of branches in the destination set. */
static int cru_start_now(struct sip_msg *msg, cru_call *c)
{
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
        b = cru_fill(msg, c);
        if (b > 0)
            return b;
    }
}

/* tm: a branch failed. A PSTN row whose gateway answered 503/504/408 (or timed out) marks
 * the gateway down and asks for the target's next alternative, if the row is still wanted. */
static void cru_branch_failure(struct cell *t, int type, struct tmcb_params *ps)
{
    cru_call *c = ps->param ? (cru_call *)*ps->param : NULL;
    int branch = crk_tmb.t_get_picked_branch();
    int code = ps->code, i, gw_failure = code == 503 || code == 504 || code == 408;
    char gw[CRK_FIELD_MAX];
    cr_handle *h;
    str uri;

    if (c == NULL || branch < 0 || branch >= (int)t->nr_of_outgoings)
        return;
    uri = t->uac[branch].uri;
    gw[0] = '\0';
    lock_get(&cru_tab->lock);
    for (i = 0; i < c->nrows; i++) {
        cru_row *r = &c->rows[i];
        if (r->kind != CRU_K_PSTN || r->state != CRU_SENT || !STR_EQ(r->uri, uri))
            continue;
        r->state = CRU_FAILED;
        if (!gw_failure)
            break;
        if (r->gateway.len > 0 && r->gateway.len < (int)sizeof(gw)) {
            memcpy(gw, r->gateway.s, r->gateway.len);
            gw[r->gateway.len] = '\0';
        }
        if (i + 1 < c->nrows && c->rows[i + 1].group == r->group &&
            c->rows[i + 1].state == CRU_PENDING && !(t->flags & T_CANCELED) &&
            (r->no_answer || !c->no_answer_started) && !c->finished)
            c->rows[i + 1].state = CRU_WANTED;
        break;
    }
    lock_release(&cru_tab->lock);
    if (gw[0] && (h = crk_get_handle()) != NULL) {
        LM_INFO("gateway %s failed (%d): marked down for %d s\n", gw, code,
                crk_opts.gateway_holdoff_s);
        if (crp->gateway_failed && crp->gateway_failed(h, gw) < 0)
            LM_WARN("library did not accept the failure of gateway %s\n", gw);
    }
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

/* callroute_user(): an INVITE whose Request-URI is a user's SIP URI. */
static int w_callroute_user(struct sip_msg *msg, char *p1, char *p2)
{
    char from[MAX_URI_SIZE], callee[MAX_URI_SIZE];
    char *eps[CRU_MAX_ENDPOINTS];
    const char *reason;
    cr_handle *h = crk_get_handle();
    cr_result *r = NULL;
    cru_call *c;
    struct cell *t;
    str table, scallee;
    unsigned int i, neps = 0;
    int rc, len, b;

    if (h == NULL)
        return CRK_ERROR;
    if (cru_tab == NULL || !crk_reg_loaded) {
        LM_ERR("callroute_user() needs a library with user plans (ABI 1.2) and the registrar "
               "module\n");
        return CRK_ERROR;
    }
    if (msg->first_line.type != SIP_REQUEST || msg->REQ_METHOD != METHOD_INVITE) {
        LM_ERR("callroute_user() handles INVITEs\n");
        return CRK_ERROR;
    }
    if (parse_from_header(msg) < 0 || crk_cstr(&get_from(msg)->uri, from, sizeof(from)) < 0 ||
        crk_cstr(GET_RURI(msg), callee, sizeof(callee)) < 0) {
        LM_ERR("cannot read From or Request-URI\n");
        return CRK_ERROR;
    }

    /* the callee's registered contacts, for the plan */
    table.s = crk_location_table;
    table.len = strlen(crk_location_table);
    scallee.s = callee;
    scallee.len = strlen(callee);
    clear_branches();
    crk_reg.lookup_to_dset(msg, &table, &scallee);
    for (i = 0; i < nr_branches && neps < CRU_MAX_ENDPOINTS; i++) {
        qvalue_t q;
        char *u = get_branch(i, &len, &q, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        if (u && (eps[neps] = pkg_malloc(len + 1)) != NULL) {
            memcpy(eps[neps], u, len);
            eps[neps++][len] = '\0';
        }
    }
    clear_branches();

    rc = crp->user_plan(h, from, callee, (const char *const *)eps, neps, &r);
    for (i = 0; i < neps; i++)
        pkg_free(eps[i]);
    if (rc < 0 || r == NULL) {
        LM_ERR("user plan %s -> %s failed: %s\n", from, callee,
               crp->strerror ? crp->strerror(rc) : "error");
        return CRK_ERROR;
    }
    if (crp->result_kind(r) != 1) {
        LM_DBG("%s is not a user\n", callee);
        crp->result_free(r);
        return CRK_NO_USER;
    }
    reason = crp->result_get(r, "reason");
    LM_INFO("call %s -> %s: %s\n", from, callee, reason ? reason : "plan");
    c = cru_build(r, crp->result_get(r, "callee") ? crp->result_get(r, "callee") : callee);
    crp->result_free(r);
    if (c == NULL)
        return CRK_ERROR;

    /* the transaction the plan runs on */
    rc = crk_tmb.t_newtran(msg);
    if (rc == 0) { /* a retransmission, absorbed */
        shm_free(c);
        return 0;
    }
    t = crk_tmb.t_gett();
    if (rc < 0 || t == NULL || t == T_UNDEFINED) {
        LM_ERR("cannot create the transaction for %s\n", callee);
        shm_free(c);
        return CRK_ERROR;
    }
    c->hash_index = t->hash_index;
    c->label = t->label;
    c->start_ms = cru_now_ms();
    if (crk_tmb.register_tmcb(msg, t, TMCB_ON_BRANCH_FAILURE, cru_branch_failure, c, cru_release) <=
        0) {
        LM_ERR("cannot watch the branches of the call to %s\n", callee);
        shm_free(c);
        return CRK_ERROR;
    }
    lock_get(&cru_tab->lock);
    c->next = cru_tab->bucket[c->hash_index % CRU_BUCKETS];
    cru_tab->bucket[c->hash_index % CRU_BUCKETS] = c;
    lock_release(&cru_tab->lock);

    b = cru_start_now(msg, c);
    if (b == 0) {
        LM_INFO("user %s: nobody to ring\n", callee);
        return CRK_NOTHING_TO_RING;
    }
    return 1;
}

/* callroute_user_next(): in the failure_route of a call started by callroute_user(), when
 * every branch failed: the next step of the plan at once (a gateway's next alternative, the
 * delayed branches, the no-answer step). 1: relay with t_relay(); -1: nothing left. */
static int w_callroute_user_next(struct sip_msg *msg, char *p1, char *p2)
{
    struct cell *t = crk_tmb.t_gett();
    cru_call *c;

    if (cru_tab == NULL || t == NULL || t == T_UNDEFINED) {
        LM_ERR("callroute_user_next() needs the transaction of callroute_user()\n");
        return CRK_ERROR;
    }
    if (t->flags & T_CANCELED)
        return CRK_NO_ATTEMPT;
    lock_get(&cru_tab->lock);
    c = cru_find(t->hash_index, t->label);
    lock_release(&cru_tab->lock);
    if (c == NULL)
        return CRK_NO_ATTEMPT;
    return cru_start_now(msg, c) > 0 ? 1 : CRK_NO_ATTEMPT;
}

/* When a call is answered or cancelled, tm cancels the branches that ring. A branch whose
 * first provisional reply is read by one worker while another relays the 2xx (or the
 * caller's CANCEL) can escape: tm reads the branch as unreplied and gives up on it, and the
 * worker with the 180 had checked for a pending cancel before tm marked one (sam's phone
 * went on ringing after the simultaneous-ring gateway answered). So can a branch the timer
 * added while the 2xx was relayed (t_append_branches checks the status before its lock).
 * This cancels every branch that rings (1xx received, no CANCEL built) on a finished
 * transaction; the timer calls it each tick until no branch waits for a final reply.
 * Returns 1 when every branch has its final reply. */
static int cru_settle(struct cell *t, const str *callee)
{
    struct cancel_info ci;
    branch_bm_t skip = 0;
    int i, open = 0, lr;

    for (i = 0; i < (int)t->nr_of_outgoings; i++) {
        lr = t->uac[i].last_received;
        if (lr < 200)
            open = 1;
        if (lr < 100 || lr >= 200)
            skip |= (branch_bm_t)1 << i;
    }
    if (open) {
        init_cancel_info(&ci);
        crk_tmb.prepare_to_cancel(t, &ci.cancel_bitmap, skip);
        if (ci.cancel_bitmap) {
            LM_INFO("user %.*s: call over: cancelling a branch still ringing\n", callee->len,
                    callee->s);
            crk_tmb.cancel_uacs(t, &ci, 0);
        }
    }
    return !open;
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
    struct cell *t = NULL, *orig = crk_tmb.t_gett();
    struct cancel_info ci;
    str none = {NULL, 0};
    cru_call *c;
    int n, cancel = 0, b, rc, old, i, over;
    branch_bm_t skip = 0;

    if (crk_tmb.t_lookup_ident(&t, hash_index, label) < 0 || t == NULL) {
        crk_tmb.t_sett(orig, T_BR_UNDEFINED);
        return;
    }
    lock_get(&cru_tab->lock);
    c = cru_find(hash_index, label);
    over = c && cru_over(t);
    if (over)
        c->finished = 1; /* answered or over: nothing more to start */
    n = c && !over ? cru_claim_due(c, now - c->start_ms, &cancel) : 0;
    lock_release(&cru_tab->lock);
    /* only this process frees blocks and writes `settled` */
    if (over && !c->settled && cru_settle(t, &c->callee))
        c->settled = 1;
    if (n > 0) {
        b = cru_fill(t->uas.request, c);
        if (b > 0) {
            old = t->nr_of_outgoings;
            crk_tmb.t_sett(t, T_BR_UNDEFINED);
            rc = crk_tmb.t_append_branches(&none);
            if (rc <= 0)
                LM_INFO("user %.*s: no branch added (%d)\n", c->callee.len, c->callee.s, rc);
            if (rc > 0 && cru_over(t)) /* answered while the branches were added */
                cru_settle(t, &c->callee);
            if (rc > 0 && cancel) {
                for (i = old; i < (int)t->nr_of_outgoings; i++)
                    skip |= (branch_bm_t)1 << i;
                init_cancel_info(&ci);
                crk_tmb.prepare_to_cancel(t, &ci.cancel_bitmap, skip);
                if (ci.cancel_bitmap) {
                    LM_INFO("user %.*s: no answer: cancelling the other branches\n", c->callee.len,
                            c->callee.s);
                    crk_tmb.cancel_uacs(t, &ci, 0);
                }
            }
        } else if (cancel) {
            LM_WARN("user %.*s: no-answer target unreachable: the call keeps ringing\n",
                    c->callee.len, c->callee.s);
        }
        clear_branches();
    }
    crk_tmb.unref_cell(t);
    crk_tmb.t_sett(orig, T_BR_UNDEFINED);
}

/* The timer process: frees the blocks of freed transactions, runs the steps that are due. */
static void cru_timer(unsigned int ticks, void *param)
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
            if (c->finished) { /* over: settle its branches (cru_settle) */
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
}

static int cru_mod_init(void)
{
    bind_registrar_f bind;

    if (!CR_HAS(cr_plugin, crp, user_plan) || crp->user_plan == NULL) {
        LM_INFO("%s has no user plans: callroute_user() is unavailable\n", crk_library);
        return 0;
    }
    bind = (bind_registrar_f)(void (*)(void))find_export("bind_registrar", 0, 0);
    if (bind && bind(&crk_reg) == 0)
        crk_reg_loaded = 1;
    else
        LM_INFO("registrar not loaded: callroute_user() is unavailable\n");
    if (!crk_tmb.t_append_branches || !crk_tmb.prepare_to_cancel || !crk_tmb.cancel_uacs ||
        !crk_tmb.t_lookup_ident) {
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
    register_basic_timers(1); /* counts utimer processes too (the header's
                               * register_basic_utimers is a self-referencing macro) */
    return 0;
}

static int cru_child_init(int rank)
{
    if (rank != PROC_MAIN || cru_tab == NULL)
        return 0;
    /* fork_basic_utimer() takes its interval in microseconds */
    if (fork_basic_utimer(PROC_TIMER, "callroute user timer", 1, cru_timer, NULL,
                          CRU_TICK_MS * 1000) < 0) {
        LM_ERR("cannot start the timer process of calls to users\n");
        return -1;
    }
    return 0;
}

/* ---- $callroute(name) ---- */

static int pv_parse_callroute(pv_spec_p sp, str *in)
{
    int i;

    if (sp == NULL || in == NULL || in->len <= 0)
        return -1;
    for (i = 0; i < CRK_F_COUNT; i++) {
        if ((int)strlen(crk_field_names[i]) == in->len &&
            strncasecmp(in->s, crk_field_names[i], in->len) == 0) {
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
 * of this process. Values point into the record (or this process's copy): nothing copied. */
static int pv_get_callroute(struct sip_msg *msg, pv_param_t *param, pv_value_t *res)
{
    static const enum crk_dfield dfield[CRK_F_COUNT] = {[CRK_F_NORMALIZED] = CRK_D_NORMALIZED,
                                                        [CRK_F_REASON] = CRK_D_REASON,
                                                        [CRK_F_TARGET] = CRK_D_TARGET,
                                                        [CRK_F_PROFILE] = CRK_D_PROFILE,
                                                        [CRK_F_RULE] = CRK_D_RULE};
    int f = param->pvn.u.isname.name.n;
    crk_rec *r;
    str s;

    if (f < 0 || f >= CRK_F_COUNT)
        return pv_get_null(msg, param, res);
    r = crk_rec_get();
    s.s = NULL;
    s.len = 0;
    switch (f) {
    case CRK_F_ROUTE:
    case CRK_F_USAGE:
    case CRK_F_GATEWAY: {
        int a = f == CRK_F_GATEWAY ? CRK_A_GATEWAY : f == CRK_F_ROUTE ? CRK_A_ROUTE : CRK_A_USAGE;
        if (r) {
            if (r->cur < r->natt)
                s = crk_str(r, &r->att[r->cur].f[a]);
        } else {
            s = crk_last_att[a - CRK_A_GATEWAY];
        }
        break;
    }
    case CRK_F_NEXT_GATEWAY:
        if (r && r->cur + 1 < r->natt)
            s = crk_str(r, &r->att[r->cur + 1].f[CRK_A_GATEWAY]);
        break;
    case CRK_F_DECISION:
        if (r == NULL && crk_buf.rec.magic == CRK_REC_MAGIC)
            r = &crk_buf.rec;
        if (r) {
            s.s = (char *)crk_decision_text(r->kind);
            s.len = strlen(s.s);
        }
        break;
    default:
        if (r == NULL && crk_buf.rec.magic == CRK_REC_MAGIC)
            r = &crk_buf.rec;
        if (r)
            s = crk_str(r, &r->f[dfield[f]]);
        break;
    }
    if (s.len <= 0)
        return pv_get_null(msg, param, res);
    return pv_get_strval(msg, param, res, &s);
}

/* ---- RPC ---- */

static const char *rpc_reload_doc[] = {
    "Reload the routing configuration (atomic: a broken file is refused and the running "
    "configuration stays).",
    0};

static void rpc_reload(rpc_t *rpc, void *ctx)
{
    char err[CRK_ERR_MAX];
    cr_handle *h = crk_get_handle();
    int rc;

    if (h == NULL) {
        rpc->fault(ctx, 500, "callroute is not loaded");
        return;
    }
    err[0] = '\0';
    rc = crp->reload(h, NULL, err, sizeof(err));
    if (rc < 0) {
        LM_ERR("reload of %s refused: %s\n", crk_config, err);
        rpc->fault(ctx, 500, "reload refused: %s",
                   err[0]          ? err
                   : crp->strerror ? crp->strerror(rc)
                                   : "error");
        return;
    }
    LM_INFO("reloaded %s\n", crk_config);
    rpc->rpl_printf(ctx, "reloaded %s", crk_config);
}

static const char *rpc_route_doc[] = {
    "Route a call: FROM (SIP URI) NUMBER (digits, tel: or sip: URI); returns the decision "
    "as JSON.",
    0};

static void rpc_route(rpc_t *rpc, void *ctx)
{
    char *from = NULL, *number = NULL, small[1024], *json = small;
    cr_handle *h = crk_get_handle();
    cr_result *r = NULL;
    size_t need;
    int rc;

    if (h == NULL) {
        rpc->fault(ctx, 500, "callroute is not loaded");
        return;
    }
    if (rpc->scan(ctx, ".s.s", &from, &number) < 2) {
        rpc->fault(ctx, 400, "usage: callroute.route FROM NUMBER");
        return;
    }
    rc = crp->route(h, from, number, NULL, 0, &r);
    if (rc < 0 || r == NULL) {
        rpc->fault(ctx, 500, "route failed: %s", crp->strerror ? crp->strerror(rc) : "error");
        return;
    }
    need = crp->result_json(r, small, sizeof(small));
    if (need >= sizeof(small)) {
        json = pkg_malloc(need + 1);
        if (json == NULL) {
            crp->result_free(r);
            rpc->fault(ctx, 500, "no memory");
            return;
        }
        crp->result_json(r, json, need + 1);
    }
    rpc->add(ctx, "s", json);
    if (json != small)
        pkg_free(json);
    crp->result_free(r);
}

static const char *rpc_gateways_doc[] = {
    "List the gateways with their state (up/down) and since when.", 0};

static void rpc_gateways(rpc_t *rpc, void *ctx)
{
    cr_handle *h = crk_get_handle();
    cr_result *r = NULL;
    void *th;
    size_t i, n;

    if (h == NULL || crp->gateways == NULL) {
        rpc->fault(ctx, 500, "callroute is not loaded");
        return;
    }
    if (crp->gateways(h, &r) < 0 || r == NULL) {
        rpc->fault(ctx, 500, "cannot list gateways");
        return;
    }
    n = crp->result_count(r, "gateways");
    for (i = 0; i < n; i++) {
        static const char *const keys[] = {"name",  "address",  "state",
                                           "since", "failures", "down_for_s"};
        size_t k;
        if (rpc->add(ctx, "{", &th) < 0) {
            rpc->fault(ctx, 500, "cannot build the reply");
            break;
        }
        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            const char *v = crp->result_item(r, "gateways", i, keys[k]);
            if (v && rpc->struct_add(th, "s", keys[k], v) < 0)
                break;
        }
    }
    crp->result_free(r);
}

/* clang-format off */
static rpc_export_t rpc_cmds[] = {
    {"callroute.reload", rpc_reload, rpc_reload_doc, 0},
    {"callroute.route", rpc_route, rpc_route_doc, 0},
    {"callroute.gateways", rpc_gateways, rpc_gateways_doc, RET_ARRAY},
    {0, 0, 0, 0}
};

static cmd_export_t cmds[] = {
    {"callroute_route", (cmd_function)w_callroute_route, 0, 0, 0,
        REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
    {"callroute_next", (cmd_function)w_callroute_next, 0, 0, 0, FAILURE_ROUTE},
    {"callroute_inbound", (cmd_function)w_callroute_inbound, 0, 0, 0, REQUEST_ROUTE},
    {"callroute_user", (cmd_function)w_callroute_user, 0, 0, 0, REQUEST_ROUTE},
    {"callroute_user_next", (cmd_function)w_callroute_user_next, 0, 0, 0, FAILURE_ROUTE},
    {0, 0, 0, 0, 0, 0}
};

static param_export_t params[] = {
    {"library", PARAM_STRING, &crk_library},
    {"config", PARAM_STRING, &crk_config},
    {"gateway_holdoff", PARAM_INT, &crk_gateway_holdoff},
    {"pkg_memory", PARAM_INT, &crk_pkg_memory},
    {"location_table", PARAM_STRING, &crk_location_table},
    {0, 0, 0}
};

static pv_export_t mod_pvs[] = {
    {{"callroute", sizeof("callroute") - 1}, PVT_OTHER, pv_get_callroute, 0,
        pv_parse_callroute, 0, 0, 0},
    {{0, 0}, 0, 0, 0, 0, 0, 0, 0}
};

struct module_exports exports = {
    "callroute",     /* module name */
    DEFAULT_DLFLAGS, /* dlopen flags */
    cmds,            /* script functions */
    params,          /* module parameters */
    rpc_cmds,        /* RPC methods */
    mod_pvs,         /* pseudo-variables */
    0,               /* response handling function */
    mod_init,        /* module init, before fork */
    child_init,      /* per-process init, after fork */
    mod_destroy      /* destroy, main process */
};
/* clang-format on */

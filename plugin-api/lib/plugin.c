/* The plugin table: libcallroute.so's one entry point and the operations behind it. */
#include "callroute.h"
#include "handle.h"
#include "json_esc.h"
#include "result.h"
#include "cr_lua.h"
#include "cr_rgs_xml.h"
#include "cr_schema.h"
#include "rgs_abi.h"
#include "users_abi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- host services ------------------------------------------------------------------------ */

static cr_host host_copy;
static bool have_host;

const cr_host *crp_host(void)
{
    return have_host ? &host_copy : NULL;
}

int64_t crp_now_ms(void)
{
    if (have_host && CR_HAS(cr_host, &host_copy, now_ms) && host_copy.now_ms)
        return host_copy.now_ms(host_copy.ud);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void crp_log(int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (have_host && CR_HAS(cr_host, &host_copy, log) && host_copy.log) {
        host_copy.log(host_copy.ud, level, msg);
        return;
    }
    if (level <= CR_LOG_WARNING && !getenv("CALLROUTE_QUIET"))
        fprintf(stderr, "%s\n", msg);
}

/* ---- results ------------------------------------------------------------------------------ */

static const char *kind_name(cr_decision_kind k)
{
    switch (k) {
    case CR_OUTBOUND:
        return "outbound";
    case CR_INTERNAL:
        return "internal";
    case CR_BLOCKED:
        return "blocked";
    default:
        return "not_applicable";
    }
}

/* An internal decision's target: the callee's SIP URI, or the workflow's contact URI. */
static const char *decision_target(const cr_decision *d)
{
    if (d->callee)
        return d->callee->uri;
    return d->workflow ? d->workflow->uri : NULL;
}

/* The JSON shape of SPEC §5 "route" for decision d over configuration c. */
cr_result *crp_decision_result(const cr_config *c, const cr_decision *d, const cr_trace *t)
{
    char text[CR_URI_SHORT > CR_REASON_MAX ? CR_URI_SHORT : CR_REASON_MAX];
    cr_result *r = crp_result_new("route", (int)d->kind);
    if (!r)
        return NULL;
    crp_set_str(r, NULL, "decision", kind_name(d->kind));
    crp_set_str(r, NULL, "profile", d->profile ? d->profile->name : NULL);
    crp_set_str(r, NULL, "rule", d->rule ? d->rule->name : NULL);
    crp_set_str(r, NULL, "normalized", d->normalized[0] ? d->normalized : NULL);
    if (d->kind == CR_INTERNAL && decision_target(d))
        crp_set_str(r, NULL, "target", decision_target(d));
    crp_list(r, "attempts");
    for (size_t i = 0; i < d->nattempts; i++) {
        ritem *it = crp_add_item(r, "attempts");
        if (!it)
            break;
        crp_set_str(r, it, "gateway", d->attempts[i].gateway->name);
        crp_set_str(r, it, "route", d->attempts[i].route->name);
        crp_set_str(r, it, "usage", d->attempts[i].usage->name);
        cr_attempt_uri(c, d, i, text, sizeof text);
        crp_set_str(r, it, "uri", text);
    }
    crp_set_str(r, NULL, "reason", cr_decision_reason(d, text, sizeof text));
    if (t)
        crp_result_trace(r, t);
    return r;
}

/* Copies s into a fixed field, cut to fit; "" for NULL. */
static void put(char *dst, size_t len, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= len)
        n = len - 1;
    memcpy(dst, s ? s : "", n);
    dst[n] = 0;
}

static void answer_fill(cr_route_answer *a, const cr_config *c, const cr_decision *d)
{
    a->kind = (int)d->kind;
    put(a->normalized, sizeof a->normalized, d->normalized);
    put(a->target, sizeof a->target, d->kind == CR_INTERNAL ? decision_target(d) : NULL);
    cr_decision_reason(d, a->reason, sizeof a->reason);
    put(a->profile, sizeof a->profile, d->profile ? d->profile->name : NULL);
    put(a->rule, sizeof a->rule, d->rule ? d->rule->name : NULL);
    a->total_attempts = (uint32_t)d->nattempts;
    a->nattempts =
        (uint32_t)(d->nattempts < CR_ANSWER_ATTEMPTS ? d->nattempts : CR_ANSWER_ATTEMPTS);
    for (uint32_t i = 0; i < a->nattempts; i++) {
        const cr_attempt *at = &d->attempts[i];
        cr_route_attempt *o = &a->attempts[i];
        put(o->gateway, sizeof o->gateway, at->gateway->name);
        put(o->route, sizeof o->route, at->route->name);
        put(o->usage, sizeof o->usage, at->usage->name);
        cr_attempt_uri(c, d, i, o->uri, sizeof o->uri);
        put(o->address, sizeof o->address, at->gateway->address);
        o->remove_plus = at->gateway->remove_plus;
    }
}

/* The decision's working memory: one per thread, so the hot path allocates nothing. */
static __thread cr_decision tls_decision;

/*
 * One outbound decision over the handle's current snapshot, into this thread's decision
 * buffer (the hot path allocates nothing). `fill` turns it into what the caller returns while
 * the snapshot is still pinned (the decision points at its objects).
 */
static void route_pinned(cr_handle *h, const char *from, const char *dialed,
                         const char *const *down, size_t ndown, bool fresh, cr_trace *t,
                         void (*fill)(void *ud, const cr_config *c, const cr_decision *d,
                                      const cr_trace *t),
                         void *ud)
{
    crp_runtime_ud rud; /* not zeroed whole: fresh_routes is read only below nfresh */
    rud.h = h;
    rud.down = down;
    rud.ndown = down ? ndown : 0; /* callroute.h: `down` may be NULL, whatever ndown says */
    rud.now = 0;
    rud.fresh = fresh;
    rud.fresh_spread = rud.nfresh = 0;
    cr_runtime rt;
    crp_runtime_init(&rt, &rud);
    int token;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    crp_users_scope us; /* callers and callees in the user directory */
    crp_users_attach(h, s->cfg, &rt, &us);
    cr_route_decide(s->cfg, from, dialed, &rt, &tls_decision, t);
    fill(ud, s->cfg, &tls_decision, t);
    crp_users_detach(&us);
    crp_snapshot_release(h, token);
}

static void fill_result(void *ud, const cr_config *c, const cr_decision *d, const cr_trace *t)
{
    *(cr_result **)ud = crp_decision_result(c, d, t);
}

static int p_route_ex(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                      size_t ndown, unsigned flags, cr_result **out)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!h || !from || !dialed)
        return CR_EINVAL;
    cr_trace t;
    cr_trace_init(&t);
    route_pinned(h, from, dialed, down, ndown, (flags & CR_ROUTE_FRESH_SPREAD) != 0,
                 flags & CR_ROUTE_NO_TRACE ? NULL : &t, fill_result, out);
    cr_trace_free(&t);
    return *out ? CR_OK : CR_ENOMEM;
}

static void fill_answer(void *ud, const cr_config *c, const cr_decision *d, const cr_trace *t)
{
    (void)t;
    cr_route_answer *out = ud;
    if (out->size >= sizeof(cr_route_answer)) {
        answer_fill(out, c, d);
        return;
    }
    /* an older host knows a shorter struct: fill a full one, hand over what fits */
    static __thread cr_route_answer full;
    uint32_t size = out->size;
    answer_fill(&full, c, d);
    memcpy((char *)out + sizeof size, (char *)&full + sizeof size, size - sizeof size);
    if (size < offsetof(cr_route_answer, attempts) + sizeof(cr_route_attempt) * full.nattempts)
        out->nattempts =
            (uint32_t)((size - offsetof(cr_route_answer, attempts)) / sizeof(cr_route_attempt));
}

static int p_route_answer(cr_handle *h, const char *from, const char *dialed,
                          const char *const *down, size_t ndown, cr_route_answer *out)
{
    if (!h || !from || !dialed || !out || out->size < offsetof(cr_route_answer, attempts))
        return CR_EINVAL;
    route_pinned(h, from, dialed, down, ndown, false, NULL, fill_answer, out);
    return CR_OK;
}

/* ---- route_json: the decision's JSON line with no result built --------------------------- */

/* A growing output: a stack buffer first, the heap for longer lines. */
typedef struct jline {
    char *p;
    size_t used, cap;
    char *heap;
    bool failed;
} jline;

static bool jl_grow(jline *b, size_t n)
{
    if (b->failed)
        return false;
    size_t cap = b->cap * 2 > b->used + n ? b->cap * 2 : b->used + n;
    char *q = realloc(b->heap, cap);
    if (!q) {
        b->failed = true;
        return false;
    }
    if (!b->heap)
        memcpy(q, b->p, b->used);
    b->p = b->heap = q;
    b->cap = cap;
    return true;
}

static inline bool jl_reserve(jline *b, size_t n)
{
    return b->used + n <= b->cap || jl_grow(b, n);
}

static inline void jl_lit(jline *b, const char *s, size_t n)
{
    if (jl_reserve(b, n)) {
        memcpy(b->p + b->used, s, n);
        b->used += n;
    }
}

#define JL_LIT(b, s) jl_lit(b, s, sizeof s - 1)

/* `"key": value` with the separator before it, the value the JSON string of the len bytes
 * at v (v[len] its NUL), or null when v is NULL. */
static inline void jl_field_n(jline *b, const char *sep_key, size_t n, const char *v, size_t len)
{
    if (!jl_reserve(b, n + CRP_JSON_ESCAPED_MAX(len)))
        return;
    memcpy(b->p + b->used, sep_key, n);
    b->used += n;
    b->used +=
        v ? crp_json_escape_n(b->p + b->used, v, len) : crp_json_escape_to(b->p + b->used, v);
}

/* The same for a NUL-terminated value (or NULL). */
static inline void jl_field(jline *b, const char *sep_key, size_t n, const char *v)
{
    jl_field_n(b, sep_key, n, v, v ? strlen(v) : 0);
}

#define JL_FIELD(b, sep_key, v)        jl_field(b, sep_key, sizeof sep_key - 1, v)
#define JL_FIELD_N(b, sep_key, v, len) jl_field_n(b, sep_key, sizeof sep_key - 1, v, len)

/* The bytes result_json gives for crp_decision_result(c, d, ...): same fields, same order. */
static void decision_json(jline *b, const cr_config *c, const cr_decision *d)
{
    char text[CR_URI_SHORT > CR_REASON_MAX ? CR_URI_SHORT : CR_REASON_MAX];
    JL_FIELD(b, "{\"decision\": ", kind_name(d->kind));
    JL_FIELD(b, ", \"profile\": ", d->profile ? d->profile->name : NULL);
    JL_FIELD(b, ", \"rule\": ", d->rule ? d->rule->name : NULL);
    JL_FIELD(b, ", \"normalized\": ", d->normalized[0] ? d->normalized : NULL);
    if (d->kind == CR_INTERNAL && decision_target(d))
        JL_FIELD(b, ", \"target\": ", decision_target(d));
    JL_LIT(b, ", \"attempts\": [");
    for (size_t i = 0; i < d->nattempts; i++) {
        const cr_attempt *a = &d->attempts[i];
        if (i)
            JL_LIT(b, ", ");
        JL_FIELD(b, "{\"gateway\": ", a->gateway->name);
        JL_FIELD(b, ", \"route\": ", a->route->name);
        JL_FIELD(b, ", \"usage\": ", a->usage->name);
        /* its full length, of which snprintf-like it wrote what fits */
        size_t ulen = cr_attempt_uri(c, d, i, text, sizeof text);
        JL_FIELD_N(b, ", \"uri\": ", text, ulen < sizeof text ? ulen : sizeof text - 1);
        JL_LIT(b, "}");
    }
    JL_FIELD(b, "], \"reason\": ", cr_decision_reason(d, text, sizeof text));
    JL_LIT(b, "}");
}

typedef struct json_out {
    void (*put)(void *ud, const char *json, size_t len);
    void *ud;
    int kind;
    int rc;
} json_out;

static void fill_json(void *ud, const cr_config *c, const cr_decision *d, const cr_trace *t)
{
    (void)t;
    json_out *o = ud;
    char stack[8192];
    jline b = {stack, 0, sizeof stack, NULL, false};
    decision_json(&b, c, d);
    o->kind = (int)d->kind;
    if (b.failed)
        o->rc = CR_ENOMEM;
    else
        o->put(o->ud, b.p, b.used);
    free(b.heap);
}

static int p_route_json(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                        size_t ndown, unsigned flags,
                        void (*put)(void *ud, const char *json, size_t len), void *ud, int *kind)
{
    if (!h || !from || !dialed || !put)
        return CR_EINVAL;
    json_out o = {put, ud, 0, CR_OK};
    route_pinned(h, from, dialed, down, ndown, (flags & CR_ROUTE_FRESH_SPREAD) != 0, NULL,
                 fill_json, &o);
    if (kind && o.rc == CR_OK)
        *kind = o.kind;
    return o.rc;
}

static int p_route(cr_handle *h, const char *from, const char *dialed, const char *const *down,
                   size_t ndown, cr_result **out)
{
    return p_route_ex(h, from, dialed, down, ndown, 0, out);
}

/* The location profile an admin names: that exact name first, else the one whose name
 * differs only in case (names are FQDNs), as a phone-context is read. */
static const cr_profile *profile_named(const cr_config *cfg, const char *name)
{
    const cr_profile *p = cr_config_profile_find(cfg, name);
    return p ? p : cr_config_profile_by_context(cfg, name);
}

static int p_normalize(cr_handle *h, const char *profile, const char *number, cr_result **out)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!h || !number)
        return CR_EINVAL;
    int token, rc = CR_OK;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    const cr_profile *p =
        profile ? profile_named(s->cfg, profile) : cr_config_default_profile(s->cfg);
    cr_number num;
    cr_trace t;
    cr_trace_init(&t);
    if (!p) {
        rc = CR_ENOENT;
    } else if (cr_number_parse(number, &num) != CR_OK || !num.dialable) {
        rc = CR_EINVAL;
    } else {
        char norm[CR_NUMBER_MAX + 1];
        const cr_rule *rule = NULL;
        rc = cr_profile_normalize(p, num.digits, norm, sizeof norm, &rule, &t);
        if (rc == CR_OK && (*out = crp_result_new("normalize", rule ? 1 : 0))) {
            crp_set_str(*out, NULL, "input", number);
            crp_set_str(*out, NULL, "profile", p->name);
            crp_set_str(*out, NULL, "rule", rule ? rule->name : NULL);
            crp_set_str(*out, NULL, "normalized", norm);
            crp_result_trace(*out, &t);
        }
    }
    crp_snapshot_release(h, token);
    cr_trace_free(&t);
    return rc;
}

static int p_dial(cr_handle *h, const char *profile, const char *digits, cr_result **out)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!h || !digits)
        return CR_EINVAL;
    int token, rc = CR_OK;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    const cr_profile *p =
        profile ? profile_named(s->cfg, profile) : cr_config_default_profile(s->cfg);
    if (!p) {
        rc = CR_ENOENT;
    } else {
        cr_trace t;
        cr_trace_init(&t);
        char norm[CR_NUMBER_MAX + 1];
        const cr_rule *rule = NULL;
        /* device digits: 0-9 * # only, once the visual separators (space - . ( )) are
         * removed, as from every dialed string (SPEC §2) */
        char typed[CR_NUMBER_MAX + 1];
        size_t n = 0;
        bool ok = true;
        for (const char *c = digits; *c && ok; c++) {
            if (cr_is_visual_separator(*c))
                continue;
            ok = n < CR_NUMBER_MAX && ((*c >= '0' && *c <= '9') || *c == '*' || *c == '#');
            typed[n++] = *c;
        }
        typed[ok ? n : 0] = 0;
        ok &= n > 0;
        cr_dial_answer a =
            ok ? cr_profile_dial(p, typed, &rule, norm, sizeof norm, &t) : CR_DIAL_NO_MATCH_;
        if (!ok)
            cr_trace_add(&t, "'%.100s' is not a sequence of keypad digits", digits);
        int kind = a == CR_DIAL_COMPLETE_    ? CR_DIAL_COMPLETE
                   : a == CR_DIAL_NEED_MORE_ ? CR_DIAL_NEED_MORE
                                             : CR_DIAL_NO_MATCH;
        if (a == CR_DIAL_ERROR_)
            rc = CR_ENOMEM;
        else if ((*out = crp_result_new("dial", kind))) {
            crp_set_str(*out, NULL, "input", digits);
            crp_set_str(*out, NULL, "profile", p->name);
            crp_set_str(*out, NULL, "answer",
                        kind == CR_DIAL_COMPLETE    ? "complete"
                        : kind == CR_DIAL_NEED_MORE ? "need_more"
                                                    : "no_match");
            crp_set_str(*out, NULL, "rule", rule ? rule->name : NULL);
            crp_set_str(*out, NULL, "normalized", a == CR_DIAL_COMPLETE_ ? norm : NULL);
            crp_result_trace(*out, &t);
        }
        cr_trace_free(&t);
    }
    crp_snapshot_release(h, token);
    return rc;
}

static int p_inbound(cr_handle *h, const char *gateway, const char *called, const char *calling,
                     cr_result **out)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!h || !called)
        return CR_EINVAL;
    int token, rc;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    const cr_gateway *gw = gateway ? cr_config_gateway_match(s->cfg, gateway) : NULL;
    cr_inbound in;
    cr_trace t;
    cr_trace_init(&t);
    if (gateway && !gw) { /* callroute.h: ENOENT, no result */
        crp_snapshot_release(h, token);
        cr_trace_free(&t);
        return CR_ENOENT;
    }
    crp_runtime_ud ud = {.h = h};
    cr_runtime rt;
    crp_runtime_init(&rt, &ud);
    crp_users_scope us; /* callees in the user directory */
    crp_users_attach(h, s->cfg, &rt, &us);
    rc = cr_inbound_decide_ex(s->cfg, gw, called, calling, &rt, &in, &t);
    const char *target = in.callee ? in.callee->uri : in.workflow ? in.workflow->uri : NULL;
    if (rc == CR_OK && (*out = crp_result_new("inbound", target ? 1 : 0))) {
        crp_set_str(*out, NULL, "gateway", gw ? gw->name : NULL);
        crp_set_str(*out, NULL, "profile", in.profile ? in.profile->name : NULL);
        crp_set_str(*out, NULL, "called", in.called);
        crp_set_str(*out, NULL, "calling", in.calling[0] ? in.calling : NULL);
        crp_set_str(*out, NULL, "target", target);
        crp_set_str(*out, NULL, "workflow", in.workflow ? in.workflow->name : NULL);
        crp_set_str(*out, NULL, "pai", in.pai[0] ? in.pai : NULL);
        crp_result_trace(*out, &t);
    }
    crp_users_detach(&us);
    crp_snapshot_release(h, token);
    cr_trace_free(&t);
    return rc;
}

static int p_gateways(cr_handle *h, cr_result **out)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!h)
        return CR_EINVAL;
    int token;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    cr_result *r = crp_result_new("gateways", 0);
    int64_t now = crp_now_ms();
    if (r) {
        crp_list(r, "gateways");
        for (size_t i = 0; i < cr_config_gateway_count(s->cfg); i++) {
            const cr_gateway *g = cr_config_gateway_at(s->cfg, i);
            crp_gw_slot *slot = crp_gw_slot_find(h->shared, g->name, false);
            int64_t until = slot ? atomic_load(&slot->down_until_ms) : 0;
            const char *reason;
            const char *state = crp_gw_state(slot, g, now, &reason);
            bool down = strcmp(state, "down") == 0;
            bool held = down && until > now && !atomic_load(&slot->probe_down) &&
                        atomic_load(&slot->manual) != CRP_GW_DOWN;
            int64_t since = held ? atomic_load(&slot->down_since_ms)
                                 : (until ? until : atomic_load(&h->shared->started_ms));
            if (slot && down && !held && atomic_load(&slot->probe_down))
                since = atomic_load(&slot->probe_since_ms);
            ritem *it = crp_add_item(r, "gateways");
            if (!it)
                break;
            char ts[40];
            time_t secs = (time_t)(since / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
            int manual = slot ? atomic_load(&slot->manual) : CRP_GW_AUTO;
            crp_set_str(r, it, "name", g->name);
            crp_set_str(r, it, "address", g->address);
            crp_set_str(r, it, "state", state);
            crp_set_str(r, it, "reason", reason);
            crp_set_str(r, it, "mode",
                        manual == CRP_GW_UP     ? "up"
                        : manual == CRP_GW_DOWN ? "down"
                                                : "auto");
            crp_set_str(r, it, "since", ts);
            crp_set_num(r, it, "failures", slot ? atomic_load(&slot->failures) : 0);
            crp_set_num(r, it, "calls", slot ? atomic_load(&slot->calls) : 0);
            crp_set_num(r, it, "ports", g->ports);
            if (held)
                crp_set_num(r, it, "down_for_s", (double)((until - now + 999) / 1000));
        }
    }
    crp_snapshot_release(h, token);
    *out = r;
    return r ? CR_OK : CR_ENOMEM;
}

typedef struct script_check {
    cr_diag *d;
    const cr_rgs_config *rgs;
} script_check;

/* The path of the script the driver's log names `name` (its base name): the first workflow's
 * whose script has that base name, else `name`. */
static const char *script_path(const cr_rgs_config *rgs, const char *name)
{
    for (size_t i = 0; i < rgs->nworkflows; i++) {
        const char *p = rgs->workflows[i].script;
        if (!p)
            continue;
        const char *base = strrchr(p, '/');
        if (strcmp(base ? base + 1 : p, name) == 0)
            return p;
    }
    return name;
}

/* check also compiles every IVR script: a script that does not compile is an error for
 * the admin, even though a running server keeps its previous version or the fallback. The
 * error is located in the script's file by its path, named by its base name as the log is. */
static void script_error(void *ud, int64_t now_ms, const char *line)
{
    (void)now_ms;
    if (strncmp(line, "ivr_load_error ", 15) != 0)
        return;
    script_check *sc = ud;
    cr_diag *d = sc->d;
    const char *script = strstr(line, "script=");
    const char *ln = strstr(line, " line="), *msg = strstr(line, " error=\"");
    if (ln && msg && ln > msg)
        ln = NULL; /* in the message, not the script's line */
    char name[512] = "";
    if (script) { /* the name runs to " line=" or " error=": it may hold spaces */
        const char *end = ln && ln > script ? ln : msg && msg > script ? msg : NULL;
        size_t len = end ? (size_t)(end - script - 7) : strlen(script + 7);
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1),
                 script + 7);
    }
    if (msg)
        msg++; /* past the space */
    char text[512];
    snprintf(text, sizeof text, "%s", msg ? msg + 7 : line + 15);
    size_t n = strlen(text);
    if (msg && n && text[n - 1] == '"')
        text[n - 1] = 0;
    char obj[600];
    snprintf(obj, sizeof obj, "IVR script '%s'", name);
    cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){script_path(sc->rgs, name), ln ? atoi(ln + 6) : 0},
                obj, "cannot be loaded: %s", text);
}

/* The IVR scripts of the response groups the load read (rgs, may be NULL). */
static void check_scripts(const cr_rgs_config *rgs, cr_diag *d)
{
    if (!rgs)
        return;
    script_check sc = {d, rgs};
    cr_lua_options lo = {.log = script_error, .log_ud = &sc};
    cr_lua_ivr *ivr = NULL;
    char err[256];
    if (cr_lua_ivr_open(rgs, &lo, &ivr, err, sizeof err) == CR_OK)
        cr_lua_ivr_close(ivr);
}

static int p_check_ex(const char *path, const cr_open_options *opts, cr_result **out)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!path)
        return CR_EINVAL;
    cr_load_options lo = crp_open_load_options(opts);
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    /* structure first: each file against the RELAX NG schema, then the semantic checks */
    cr_load_options checked = lo;
    cr_schema *schema = cr_schema_new();
    checked.check_doc = schema ? cr_schema_check_doc : NULL;
    checked.check_ud = schema;
    cr_rgs_config *rgs = NULL;
    int rc = crp_load_keep(path, &checked, &cfg, &rgs, &d);
    cr_schema_free(schema);
    const char *db = opts && opts->size >= offsetof(cr_open_options, db_path) + sizeof(char *)
                         ? opts->db_path
                         : NULL;
    /* the directory against the configuration, then its users' policies and profiles */
    if (rc == CR_OK && db && crp_users_check_names(db, cfg, &d) != CR_OK)
        rc = CR_ECONFIG;
    if (rc == CR_OK) {
        size_t before = d.errors;
        check_scripts(rgs, &d);
        if (d.errors > before)
            rc = CR_ECONFIG;
    }
    cr_result *r = crp_result_new("check", rc == CR_OK ? 0 : 1);
    if (r) {
        crp_set_str(r, NULL, "config", path);
        crp_set_bool(r, NULL, "ok", rc == CR_OK);
        crp_set_num(r, NULL, "errors", (double)d.errors);
        crp_set_num(r, NULL, "warnings", (double)d.warnings);
        if (cfg) {
            crp_set_num(r, NULL, "profiles", (double)cr_config_profile_count(cfg));
            crp_set_num(r, NULL, "routes", (double)cr_config_route_count(cfg));
            crp_set_num(r, NULL, "gateways", (double)cr_config_gateway_count(cfg));
            crp_set_num(r, NULL, "users", (double)cr_config_user_count(cfg));
        }
        crp_list(r, "diagnostics");
        for (size_t i = 0; i < d.count; i++) {
            const cr_diag_item *di = &d.items[i];
            ritem *it = crp_add_item(r, "diagnostics");
            if (!it)
                break;
            char line[1600];
            cr_diag_format(&d, i, line, sizeof line);
            crp_set_str(r, it, "level", di->level == CR_DIAG_ERROR ? "error" : "warning");
            crp_set_str(r, it, "file", di->file);
            crp_set_num(r, it, "line", di->line);
            crp_set_str(r, it, "object", di->object);
            crp_set_str(r, it, "message", di->message);
            crp_set_str(r, it, "text", line);
        }
    }
    cr_config_free(cfg);
    cr_rgs_config_free(rgs);
    cr_diag_free(&d);
    *out = r;
    if (!r)
        return CR_ENOMEM;
    return rc == CR_OK ? CR_OK : CR_ECONFIG;
}

static int p_check(const char *path, cr_result **out)
{
    return p_check_ex(path, NULL, out);
}

static int p_open(const char *path, const cr_open_options *opts, cr_handle **out, char *err,
                  size_t errlen)
{
    if (!out) {
        if (err && errlen)
            snprintf(err, errlen, "open: no place for the handle (out is NULL)");
        return CR_EINVAL;
    }
    return crp_handle_open(path, opts, out, err, errlen);
}

static size_t p_shared_size(void)
{
    return sizeof(crp_shared);
}

static int p_result_kind(const cr_result *r)
{
    return r ? r->kind : 0;
}

static size_t p_result_json(const cr_result *r, char *buf, size_t len)
{
    return r ? crp_json(r, buf, len) : 0;
}

static size_t p_result_text(const cr_result *r, char *buf, size_t len)
{
    return r ? crp_text(r, buf, len) : 0;
}

static const char *p_result_get(const cr_result *r, const char *f)
{
    return r && f ? crp_get(r, f) : NULL;
}

static size_t p_result_count(const cr_result *r, const char *l)
{
    return r && l ? crp_count(r, l) : 0;
}

static const char *p_result_item(const cr_result *r, const char *l, size_t i, const char *f)
{
    return r && l && f ? crp_item(r, l, i, f) : NULL;
}

/* ---- samples: inputs for comparing two configurations (ABI 1.14) ------------------------ */

static void sample_number(void *ud, const char *number, const char *kind, const char *name)
{
    cr_result *r = ud;
    ritem *it = crp_add_item(r, "numbers");
    crp_set_str(r, it, "number", number);
    crp_set_str(r, it, "kind", kind);
    crp_set_str(r, it, "name", name);
}

static bool same_name(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int p_samples(cr_handle *h, unsigned per_pattern, cr_result **out)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!h)
        return CR_EINVAL;
    int token;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    cr_result *r = crp_result_new("samples", 0);
    if (r) {
        /* one caller for each distinct voice policy, location profile and Enterprise Voice
         * flag: what a decision reads of its caller */
        crp_list(r, "callers");
        size_t nu = cr_config_user_count(s->cfg), kept = 0;
        const cr_user **seen = nu ? malloc(nu * sizeof *seen) : NULL;
        if (nu && !seen) {
            crp_result_free(r);
            r = NULL;
        }
        for (size_t i = 0; seen && i < nu; i++) {
            const cr_user *u = cr_config_user_at(s->cfg, i);
            bool dup = false;
            for (size_t k = 0; k < kept && !dup; k++)
                dup = seen[k]->enterprise_voice == u->enterprise_voice &&
                      same_name(seen[k]->policy, u->policy) &&
                      same_name(seen[k]->profile, u->profile);
            if (dup)
                continue;
            seen[kept++] = u;
            crp_set_str(r, crp_add_item(r, "callers"), "uri", u->uri);
        }
        free(seen);
        if (r) {
            crp_list(r, "numbers");
            cr_config_sample_numbers(s->cfg, per_pattern, 0x5eed1234u, sample_number, r);
        }
    }
    crp_snapshot_release(h, token);
    *out = r;
    return r ? CR_OK : CR_ENOMEM;
}

static const cr_plugin plugin = {
    .abi_major = CR_ABI_MAJOR,
    .size = sizeof(cr_plugin),
    .abi_minor = CR_ABI_MINOR,
    .version = "0.1.0",
    .strerror = cr_strerror,
    .shared_size = p_shared_size,
    .open = p_open,
    .reload = crp_handle_reload,
    .close = crp_handle_close,
    .check = p_check,
    .route = p_route,
    .normalize = p_normalize,
    .dial = p_dial,
    .inbound = p_inbound,
    .gateway_failed = crp_gateway_failed,
    .gateways = p_gateways,
    .result_free = crp_result_free,
    .result_kind = p_result_kind,
    .result_get = p_result_get,
    .result_count = p_result_count,
    .result_item = p_result_item,
    .result_json = p_result_json,
    .result_text = p_result_text,
    .rgs_open = crp_rgs_open,
    .rgs_event = crp_rgs_event,
    .rgs_advance = crp_rgs_advance,
    .rgs_close = crp_rgs_close,
    .route_ex = p_route_ex,
    .bench = NULL, /* `callroute bench` links its own build (plugin-api/bench/) */
    .user_plan = crp_user_plan,
    .users_import = crp_users_import,
    .users_export = crp_users_export,
    .users_import_ex = crp_users_import_ex,
    .route_answer = p_route_answer,
    .check_ex = p_check_ex,
    .rgs_open_ex = crp_rgs_open_ex,
    .rgs_event_typed = crp_rgs_event_typed,
    .rgs_advance_typed = crp_rgs_advance_typed,
    .rgs_next_deadline = crp_rgs_next_deadline,
    .rgs_agent_id = crp_rgs_agent_id,
    .rgs_group_id = crp_rgs_group_id,
    .rgs_agent_uri = crp_rgs_agent_uri,
    .rgs_group_name = crp_rgs_group_name,
    .rgs_call_handle = crp_rgs_call_handle,
    .rgs_call_id = crp_rgs_call_id,
    .rgs_stats = crp_rgs_stats,
    .rgs_snapshot = crp_rgs_snapshot,
    .gateway_result = crp_gateway_result,
    .gateway_set_state = crp_gateway_set_state,
    .gateway_probe = crp_gateway_probe,
    .gateway_call = crp_gateway_call,
    .gateway_call_end = crp_gateway_call_end,
    .compile = crp_compile,
    .user_plan_ex = crp_user_plan_ex,
    .route_json = p_route_json,
    .gateway_result_ex = crp_gateway_result_ex,
    .preload = crp_handle_preload,
    .preload_drop = crp_handle_preload_drop,
    .park = crp_handle_park,
    .hold_threads = crp_handle_hold_threads,
    .rgs_call_typed = crp_rgs_call_typed,
    .samples = p_samples,
};

/* The ABI's error codes are the library's own (one namespace; see callroute.h). */
_Static_assert(CR_ABI_OK == CR_OK && CR_ABI_EINVAL == CR_EINVAL && CR_ABI_ENOMEM == CR_ENOMEM &&
                   CR_ABI_ECONFIG == CR_ECONFIG && CR_ABI_ENOENT == CR_ENOENT &&
                   CR_ABI_ERANGE == CR_ERANGE && CR_ABI_EIO == CR_EIO &&
                   CR_ABI_EVERSION == CR_EVERSION && CR_ABI_ESTATE == CR_ESTATE &&
                   CR_ABI_ELIMIT == CR_ELIMIT,
               "callroute.h error codes differ from the engine's");

CR_API const cr_plugin *cr_plugin_entry(const cr_host *host, const char **err)
{
    if (host) {
        if (host->abi_major != CR_ABI_MAJOR) {
            if (err)
                *err = "callroute: host ABI major version differs from the library's (1)";
            return NULL;
        }
        if (host->size < offsetof(cr_host, ud) + sizeof(void *)) {
            if (err)
                *err = "callroute: host table too small";
            return NULL;
        }
        /* copy what the host knows; fields it does not know stay NULL */
        memset(&host_copy, 0, sizeof host_copy);
        memcpy(&host_copy, host, host->size < sizeof host_copy ? host->size : sizeof host_copy);
        host_copy.size = host->size < sizeof host_copy ? host->size : sizeof host_copy;
        have_host = true;
    }
    return &plugin;
}

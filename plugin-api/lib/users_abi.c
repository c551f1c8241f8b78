/*
 * Users and inbound call handling behind the ABI: finds the callee (configuration, then the
 * LMDB directory), builds the ringing plan (engine/include/cr_ringplan.h) and renders it; imports
 * and exports the directory.
 */
#include "users_abi.h"
#include "cr_ringplan.h"
#include "json_esc.h"
#include "result.h"

#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- the directory of a handle ------------------------------------------------------------ */

/* Directories stay open for the life of the process once used (per process: after fork()
 * the child opens its own). */
typedef struct pin {
    struct pin *next;
    long pid;
    char *path;
    cr_directory *dir; /* NULL: could not be opened (logged once) */
} pin;

static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
static pin *pins;

/* When the directory is not accessible to this process: who it runs as and what it needs
 * (an import as root leaves files a server running as another user cannot open). */
static const char *access_hint(const char *path, const char *err)
{
    static __thread char hint[512];
    char lock[PATH_MAX];
    snprintf(lock, sizeof lock, "%s/lock.mdb", path);
    if (!strstr(err, "denied") && access(path, R_OK | X_OK) == 0 &&
        (access(lock, F_OK) != 0 || access(lock, R_OK | W_OK) == 0))
        return "";
    struct passwd *pw = getpwuid(geteuid());
    snprintf(hint, sizeof hint,
             "; this process runs as user '%s' (uid %ld), which needs to read and enter %s, "
             "read data.mdb and read and write lock.mdb (callroute users import --owner "
             "USER[:GROUP] gives them to that user)",
             pw ? pw->pw_name : "?", (long)geteuid(), path);
    return hint;
}

static cr_directory *dir_get(const char *path)
{
    long pid = (long)getpid();
    pthread_mutex_lock(&pin_lock);
    pin *p = pins;
    while (p && (p->pid != pid || strcmp(p->path, path) != 0))
        p = p->next;
    if (!p && (p = calloc(1, sizeof *p)) && (p->path = strdup(path))) {
        char err[512];
        p->pid = pid;
        if (cr_directory_open(path, false, &p->dir, err, sizeof err) != CR_OK)
            crp_log(CR_LOG_ERROR, "callroute: user directory unavailable: %s%s", err,
                    access_hint(path, err));
        p->next = pins;
        pins = p;
    } else if (p && !p->path) {
        free(p);
        p = NULL;
    }
    cr_directory *d = p ? p->dir : NULL;
    pthread_mutex_unlock(&pin_lock);
    return d;
}

void crp_users_attach(cr_handle *h, const cr_config *cfg, cr_runtime *rt, crp_users_scope *s)
{
    s->active = false;
    const char *path = h && h->db_path ? h->db_path : cr_config_directory(cfg, NULL);
    cr_directory *d = path ? dir_get(path) : NULL;
    if (!d || cr_dir_reader_begin(d, cfg, &s->reader) != CR_OK)
        return;
    s->active = true;
    rt->users = &s->reader.source;
}

void crp_users_detach(crp_users_scope *s)
{
    if (s->active)
        cr_dir_reader_end(&s->reader);
    s->active = false;
}

int crp_users_check(const char *db_path, const cr_config *cfg, cr_diag *diag)
{
    if (!db_path)
        return CR_OK;
    cr_directory *d = dir_get(db_path);
    if (!d) {
        char err[512] = "";
        if (cr_directory_open(db_path, false, &d, err, sizeof err) == CR_OK)
            cr_directory_close(d);
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){db_path, 0}, "directory",
                    "cannot open the user directory: %s%s", err, access_hint(db_path, err));
        return CR_ECONFIG;
    }
    return cr_directory_check_config(d, cfg, diag);
}

int crp_users_check_names(const char *db_path, const cr_config *cfg, cr_diag *diag)
{
    int rc = crp_users_check(db_path, cfg, diag);
    cr_directory *d = rc == CR_OK ? dir_get(db_path) : NULL;
    return d ? cr_directory_check_names(d, cfg, diag) : rc;
}

/* ---- JSON text for the nested parts of a plan ---------------------------------------------- */

typedef struct jbuf {
    char *s;
    size_t len, cap;
    bool oom;
} jbuf;

static void jb_put(jbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void jb_raw(jbuf *b, const char *s)
{
    jb_put(b, s, strlen(s));
}

static void jb_fmt(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_fmt(jbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    jb_raw(b, tmp);
}

static void jb_put_cb(void *ud, const char *s, size_t n)
{
    jb_put(ud, s, n);
}

/* s as a JSON string (NULL as null) */
static void jb_str(jbuf *b, const char *s)
{
    crp_json_escape(s, jb_put_cb, b);
}

static void jb_reset(jbuf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = 0;
}

/* Attempts of a PSTN target as a JSON array (the shape of the route command's). */
static void jb_attempts(jbuf *b, const cr_config *c, const cr_plan_target *t, bool with_target)
{
    const cr_decision *d = t->leg ? &t->leg->route : NULL;
    char uri[CR_URI_SHORT];
    for (size_t i = 0; d && i < d->nattempts; i++) {
        const cr_attempt *a = &d->attempts[i];
        if (b->len > 1)
            jb_raw(b, ", ");
        jb_raw(b, "{");
        if (with_target) {
            jb_raw(b, "\"target\": ");
            jb_str(b, t->uri);
            jb_raw(b, ", ");
        }
        jb_raw(b, "\"gateway\": ");
        jb_str(b, a->gateway->name);
        jb_raw(b, ", \"route\": ");
        jb_str(b, a->route->name);
        jb_raw(b, ", \"usage\": ");
        jb_str(b, a->usage->name);
        jb_raw(b, ", \"uri\": ");
        cr_attempt_uri(c, d, i, uri, sizeof uri);
        jb_str(b, uri);
        jb_raw(b, ", \"address\": ");
        jb_str(b, a->gateway->address);
        jb_raw(b, "}");
    }
}

static void jb_targets(jbuf *b, const cr_plan_branch *br)
{
    jb_raw(b, "[");
    for (size_t i = 0; i < br->ntargets; i++) {
        if (i)
            jb_raw(b, ", ");
        jb_str(b, br->targets[i].uri);
    }
    jb_raw(b, "]");
}

/* One row per thing the host rings: a PSTN target has one row per attempt (alt 0, 1, ...:
 * failover order, tried one after the other). */
static void ring_rows(cr_result *r, const cr_config *c, int at, const char *branch,
                      const cr_plan_target *t)
{
    const cr_decision *d = t->leg ? &t->leg->route : NULL;
    char uri[CR_URI_SHORT];
    size_t n = d ? d->nattempts : 1;
    for (size_t i = 0; i < n; i++) {
        ritem *it = crp_add_item(r, "ring");
        if (!it)
            return;
        crp_set_num(r, it, "at", at);
        crp_set_str(r, it, "branch", branch);
        crp_set_str(r, it, "kind", cr_target_kind_name(t->kind));
        crp_set_str(r, it, "target", t->uri);
        crp_set_num(r, it, "alt", (double)i);
        if (d)
            cr_attempt_uri(c, d, i, uri, sizeof uri);
        crp_set_str(r, it, "uri", d ? uri : t->uri);
        crp_set_str(r, it, "gateway", d ? d->attempts[i].gateway->name : NULL);
        crp_set_str(r, it, "address", d ? d->attempts[i].gateway->address : NULL);
        crp_set_str(r, it, "workflow", t->workflow ? t->workflow->name : NULL);
        if (d) {
            crp_set_str(r, it, "route", d->attempts[i].route->name);
            crp_set_str(r, it, "usage", d->attempts[i].usage->name);
            crp_set_bool(r, it, "remove_plus", d->attempts[i].gateway->remove_plus);
        }
    }
}

static void render_plan(cr_result *r, const cr_config *c, const cr_plan *p)
{
    jbuf b = {0}, a = {0};
    jb_raw(&b, "[");
    for (size_t i = 0; i < p->nbranches; i++) {
        const cr_plan_branch *br = &p->branches[i];
        const char *kind = cr_branch_kind_name(br->kind);
        jb_fmt(&b, "%s{\"at\": %d, \"kind\": ", i ? ", " : "", br->at);
        jb_str(&b, kind);
        jb_raw(&b, ", \"targets\": ");
        jb_targets(&b, br);
        jb_reset(&a);
        jb_raw(&a, "[");
        for (size_t k = 0; k < br->ntargets; k++)
            jb_attempts(&a, c, &br->targets[k], true);
        jb_raw(&a, "]");
        if (a.len > 2) {
            jb_raw(&b, ", \"attempts\": ");
            jb_raw(&b, a.s);
        }
        jb_raw(&b, "}");
    }
    jb_raw(&b, "]");
    crp_set_json(r, NULL, "branches", b.oom ? "[]" : b.s);
    if (p->has_no_answer) {
        jb_reset(&b);
        jb_fmt(&b, "{\"after\": %d, \"kind\": ", p->no_answer_after);
        jb_str(&b, cr_target_kind_name(p->no_answer.kind));
        jb_raw(&b, ", \"target\": ");
        jb_str(&b, p->no_answer.uri);
        jb_reset(&a);
        jb_raw(&a, "[");
        jb_attempts(&a, c, &p->no_answer, false);
        jb_raw(&a, "]");
        jb_raw(&b, ", \"attempts\": ");
        jb_raw(&b, a.s);
        jb_raw(&b, "}");
        crp_set_json(r, NULL, "no_answer", b.oom ? NULL : b.s);
    } else {
        crp_set_json(r, NULL, "no_answer", NULL);
    }
    jb_reset(&b);
    jb_raw(&b, "[");
    for (size_t i = 0; i < p->nnotices; i++) {
        const cr_plan_notice *n = &p->notices[i];
        jb_raw(&b, i ? ", {\"event\": " : "{\"event\": ");
        jb_str(&b, cr_notice_kind_name(n->kind));
        if (n->kind == CR_NOTICE_DELEGATE_ANSWERED) {
            jb_raw(&b, ", \"to\": ");
            jb_str(&b, n->user);
            jb_raw(&b, ", \"answered_by\": ");
            jb_targets(&b, n->branch);
        } else {
            jb_raw(&b, ", \"to\": ");
            jb_targets(&b, n->branch);
            jb_raw(&b, ", \"on_behalf_of\": ");
            jb_str(&b, n->user);
        }
        jb_raw(&b, "}");
    }
    jb_raw(&b, "]");
    crp_set_json(r, NULL, "notifications", b.oom ? "[]" : b.s);
    crp_set_bool(r, NULL, "forwarded", p->forwarded);
    jb_reset(&b);
    jb_raw(&b, "[");
    for (size_t i = 0; i < p->nskipped; i++) {
        jb_raw(&b, i ? ", {\"feature\": " : "{\"feature\": ");
        jb_str(&b, p->skipped[i].feature);
        jb_raw(&b, ", \"reason\": ");
        jb_str(&b, p->skipped[i].reason);
        jb_raw(&b, "}");
    }
    jb_raw(&b, "]");
    crp_set_json(r, NULL, "skipped", b.oom ? "[]" : b.s);
    free(b.s);
    free(a.s);
}

/* The flat timeline for hosts reading results field by field (result_item). */
static void render_ring(cr_result *r, const cr_config *c, const cr_plan *p)
{
    crp_list(r, "ring");
    for (size_t i = 0; p && i < p->nbranches; i++)
        for (size_t k = 0; k < p->branches[i].ntargets; k++)
            ring_rows(r, c, p->branches[i].at, cr_branch_kind_name(p->branches[i].kind),
                      &p->branches[i].targets[k]);
    if (p && p->has_no_answer)
        ring_rows(r, c, p->no_answer_after, "no_answer", &p->no_answer);
}

/* ---- the plan ----------------------------------------------------------------------------- */

/*
 * The user a call to `to` is for: a SIP URI naming a user, or a number (tel: URI, digits,
 * sip:+1...;user=phone) normalized with its phone-context profile, else the caller's, else
 * the default profile, then looked up as a line.
 */
static const cr_user *find_callee(const cr_config *cfg, const cr_runtime *rt, const char *from,
                                  const char *to, cr_trace *t)
{
    cr_number num;
    if (cr_number_parse(to, &num) != CR_OK) {
        cr_trace_add(t, "'%.100s' is not a URI or number", to);
        return NULL;
    }
    if (num.is_sip && !num.dialable) {
        const cr_user *u = cr_user_find(cfg, rt, to);
        cr_trace_add(t, "%s: %s", to, u ? "a user" : "no such user");
        return u;
    }
    if (!num.dialable) {
        cr_trace_add(t, "'%.100s' is not a phone number", to);
        return NULL;
    }
    const cr_profile *p = cr_config_profile_by_context(cfg, num.context);
    if (!p)
        p = cr_user_profile(cfg, from ? cr_user_find(cfg, rt, from) : NULL);
    char norm[CR_NUMBER_MAX + 1];
    const cr_rule *rule = NULL;
    if (!p)
        snprintf(norm, sizeof norm, "%s", num.digits);
    else if (cr_profile_normalize(p, num.digits, norm, sizeof norm, &rule, t) != CR_OK)
        return NULL;
    const cr_user *u = cr_user_by_number(cfg, rt, norm, num.ext);
    cr_trace_add(t, "reverse number lookup: %s%s%s is %s%s", norm, num.ext[0] ? ";ext=" : "",
                 num.ext, u ? "the line of " : "no user's line", u ? u->uri : "");
    return u;
}

int crp_user_plan(cr_handle *h, const char *from, const char *to, const char *const *endpoints,
                  size_t nendpoints, cr_result **out)
{
    return crp_user_plan_ex(h, from, to, NULL, endpoints, nendpoints, out);
}

int crp_user_plan_ex(cr_handle *h, const char *from, const char *to, const char *gateway,
                     const char *const *endpoints, size_t nendpoints, cr_result **out)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!h || !to)
        return CR_EINVAL;
    if (!endpoints) /* callroute.h: may be NULL, whatever nendpoints says */
        nendpoints = 0;
    cr_plan *plan = malloc(sizeof *plan);
    if (!plan)
        return CR_ENOMEM;
    int token;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    crp_runtime_ud ud = {.h = h};
    cr_runtime rt;
    crp_runtime_init(&rt, &ud);
    rt.users = NULL;
    crp_users_scope scope;
    crp_users_attach(h, s->cfg, &rt, &scope);
    cr_trace t;
    cr_trace_init(&t);
    const cr_gateway *gw = gateway ? cr_config_gateway_match(s->cfg, gateway) : NULL;
    if (gateway && !gw) {
        crp_users_detach(&scope);
        crp_snapshot_release(h, token);
        cr_trace_free(&t);
        free(plan);
        return CR_ENOENT;
    }
    const cr_user *callee = find_callee(s->cfg, &rt, from, to, &t);
    cr_result *r = crp_result_new("user_plan", callee ? 1 : 0);
    if (r) {
        crp_set_str(r, NULL, "from", from);
        crp_set_str(r, NULL, "to", to);
        crp_set_str(r, NULL, "callee", callee ? callee->uri : NULL);
        if (callee) {
            cr_plan_build_ex(s->cfg, from, gw, callee, endpoints, nendpoints, &rt, plan, &t);
            render_plan(r, s->cfg, plan);
            crp_set_str(r, NULL, "reason", plan->reason);
            render_ring(r, s->cfg, plan);
        } else {
            crp_set_json(r, NULL, "branches", "[]");
            crp_set_json(r, NULL, "no_answer", NULL);
            crp_set_json(r, NULL, "notifications", "[]");
            crp_set_json(r, NULL, "forwarded", NULL); /* does not apply: null (callroute.h) */
            crp_set_json(r, NULL, "skipped", "[]");
            char reason[CR_URI_MAX + 32];
            snprintf(reason, sizeof reason, "'%.400s' is not a user", to);
            crp_set_str(r, NULL, "reason", reason);
            render_ring(r, s->cfg, NULL);
        }
        crp_result_trace(r, &t);
    }
    crp_users_detach(&scope);
    crp_snapshot_release(h, token);
    cr_trace_free(&t);
    free(plan);
    *out = r;
    return r ? CR_OK : CR_ENOMEM;
}

/* ---- import / export ---------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int crp_users_import_ex(const char *db_dir, const char *file, unsigned flags, cr_result **out,
                        char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!db_dir || !file)
        return CR_EINVAL;
    cr_directory *d;
    int rc = cr_directory_open(db_dir, true, &d, err, errlen);
    if (rc != CR_OK)
        return rc;
    bool replace = (flags & CR_IMPORT_REPLACE) != 0;
    cr_diag diag;
    cr_diag_init(&diag);
    cr_import_report rep;
    double t0 = now_s();
    rc = cr_directory_import(d, file, replace, &rep, &diag);
    double secs = now_s() - t0;
    if (rc != CR_OK) {
        crp_diag_to_text(&diag, err, errlen, true);
        cr_diag_free(&diag);
        cr_directory_close(d);
        return rc;
    }
    size_t warnings = diag.warnings;
    for (size_t i = 0; i < diag.count; i++) { /* warnings of an accepted import */
        char line[1600];
        cr_diag_format(&diag, i, line, sizeof line);
        crp_log(CR_LOG_WARNING, "%s", line);
    }
    cr_diag_free(&diag);
    cr_directory_stats st;
    cr_directory_stat(d, &st);
    cr_result *r = out ? crp_result_new("users_import", 0) : NULL;
    if (r) {
        crp_set_str(r, NULL, "db", db_dir);
        crp_set_str(r, NULL, "file", file);
        crp_set_str(r, NULL, "format", rep.format);
        crp_set_bool(r, NULL, "replace", replace);
        crp_set_num(r, NULL, "read", (double)rep.read);
        crp_set_num(r, NULL, "added", (double)rep.added);
        crp_set_num(r, NULL, "replaced", (double)rep.replaced);
        crp_set_num(r, NULL, "removed", (double)rep.removed);
        crp_set_num(r, NULL, "warnings", (double)warnings);
        crp_set_num(r, NULL, "users", (double)st.users);
        crp_set_num(r, NULL, "lines", (double)st.lines);
        crp_set_num(r, NULL, "file_bytes", (double)st.file_bytes);
        crp_set_num(r, NULL, "used_bytes", (double)st.used_bytes);
        crp_set_num(r, NULL, "seconds", (double)(long long)(secs * 1000) / 1000.0);
        *out = r;
    }
    cr_directory_close(d);
    return out && !r ? CR_ENOMEM : CR_OK;
}

int crp_users_export(const char *db_dir, const char *file, const char *format, char *err,
                     size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!db_dir)
        return CR_EINVAL;
    bool to_stdout = !file || strcmp(file, "-") == 0;
    const char *dot = to_stdout ? NULL : strrchr(file, '.');
    cr_dir_format fmt = CR_DIR_XML;
    if (format ? strcasecmp(format, "csv") == 0 : dot && strcasecmp(dot, ".csv") == 0)
        fmt = CR_DIR_CSV;
    else if (format && strcasecmp(format, "xml") != 0) {
        snprintf(err, errlen, "unknown format '%s' (xml or csv)", format);
        return CR_EINVAL;
    }
    cr_directory *d;
    int rc = cr_directory_open(db_dir, false, &d, err, errlen);
    if (rc != CR_OK)
        return rc;
    FILE *f = to_stdout ? stdout : fopen(file, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write", file);
        cr_directory_close(d);
        return CR_EIO;
    }
    rc = cr_directory_export(d, f, fmt, err, errlen);
    if (!to_stdout && fclose(f) != 0 && rc == CR_OK) {
        snprintf(err, errlen, "%s: write error", file);
        rc = CR_EIO;
    }
    cr_directory_close(d);
    return rc;
}

int crp_users_import(const char *db_dir, const char *file, cr_result **out, char *err,
                     size_t errlen)
{
    return crp_users_import_ex(db_dir, file, 0, out, err, errlen);
}

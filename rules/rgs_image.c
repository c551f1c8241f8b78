/*
 * The response groups compiled into a plan image (cr_rgs_image.h).
 *
 * Layout (native byte order: an image is read by the architecture that wrote it): "CRRGS001",
 * then the file names of source locations, the time zones, agent groups, queues, hours sets,
 * holiday sets and workflows, each list a u32 count then its records. A string is a u32
 * length (NONE: NULL) then its bytes; a source location a u32 file index (NONE: no file) and
 * a u32 line. Every count, length and index is checked against what is left before use.
 */
#include "rgs_image.h"
#include "cr_image.h"
#include "cr_grow.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC   "CRRGS001"
#define NONE32  UINT32_MAX
#define MAX_TZN 100000

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct wbuf {
    char *p;
    size_t n, cap;
    const char **files; /* source files, in first-seen order */
    size_t nfiles, capfiles;
    bool oom;
} wbuf;

static void put(wbuf *w, const void *p, size_t n)
{
    if (w->oom || !n)
        return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->n + n)
            cap *= 2;
        char *q = realloc(w->p, cap);
        if (!q) {
            w->oom = true;
            return;
        }
        w->p = q;
        w->cap = cap;
    }
    memcpy(w->p + w->n, p, n);
    w->n += n;
}

static void put32(wbuf *w, uint32_t v)
{
    put(w, &v, sizeof v);
}

static void puti(wbuf *w, int v)
{
    int32_t x = v;
    put(w, &x, sizeof x);
}

static void put64(wbuf *w, int64_t v)
{
    put(w, &v, sizeof v);
}

static void putstr(wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (s && n >= NONE32) {
        w->oom = true;
        return;
    }
    put32(w, s ? (uint32_t)n : NONE32);
    put(w, s, n);
}

/* The index of a source file (listed in the first pass), NONE32 for none. */
static uint32_t file_ix(wbuf *w, const char *f, bool add)
{
    if (!f)
        return NONE32;
    for (size_t i = 0; i < w->nfiles; i++)
        if (w->files[i] == f || strcmp(w->files[i], f) == 0)
            return (uint32_t)i;
    if (!add || !CR_GROW(w->files, w->nfiles, w->capfiles)) {
        w->oom = true;
        return NONE32;
    }
    w->files[w->nfiles] = f;
    return (uint32_t)w->nfiles++;
}

static void putloc(wbuf *w, cr_srcloc loc)
{
    put32(w, file_ix(w, loc.file, false));
    put32(w, loc.line < 0 ? 0 : (uint32_t)loc.line);
}

static void putaction(wbuf *w, const cr_rgs_action *a)
{
    put32(w, (uint32_t)a->kind);
    putstr(w, a->target);
    putstr(w, a->prompt);
    putloc(w, a->loc);
}

static void put_tzdate(wbuf *w, const cr_rgs_tzdate *d)
{
    puti(w, d->kind), puti(w, d->n), puti(w, d->m), puti(w, d->w), puti(w, d->d);
    puti(w, d->secs);
}

static void put_tzs(wbuf *w, const cr_rgs_config *c)
{
    put32(w, (uint32_t)c->ntzs);
    for (size_t i = 0; i < c->ntzs; i++) {
        const cr_rgs_tz *z = &c->tzs[i];
        putstr(w, z->name);
        put32(w, (uint32_t)z->n);
        puti(w, z->off0);
        for (size_t k = 0; k < z->n; k++)
            put64(w, z->at[k]), puti(w, z->off[k]);
        put32(w, (z->rule.valid ? 1u : 0u) | (z->rule.dst ? 2u : 0u));
        puti(w, z->rule.std_off), puti(w, z->rule.dst_off);
        put_tzdate(w, &z->rule.start), put_tzdate(w, &z->rule.end);
    }
}

static void put_groups(wbuf *w, const cr_rgs_config *c)
{
    put32(w, (uint32_t)c->ngroups);
    for (size_t i = 0; i < c->ngroups; i++) {
        const cr_rgs_group *g = &c->groups[i];
        putstr(w, g->name);
        putloc(w, g->loc);
        put32(w, (uint32_t)g->routing);
        puti(w, g->alert_time_s), puti(w, g->decline_grace_s);
        put32(w, g->formal ? 1u : 0u);
        put32(w, (uint32_t)g->nagents);
        for (size_t k = 0; k < g->nagents; k++)
            putstr(w, g->agent_uris[k]);
    }
    put32(w, (uint32_t)c->nqueues);
    for (size_t i = 0; i < c->nqueues; i++) {
        const cr_rgs_queue *q = &c->queues[i];
        putstr(w, q->name);
        putloc(w, q->loc);
        put32(w, (uint32_t)q->ngroups);
        for (size_t k = 0; k < q->ngroups; k++)
            putstr(w, q->group_names[k]);
        puti(w, q->timeout_s);
        putaction(w, &q->timeout_action);
        puti(w, q->overflow_calls);
        put32(w, q->overflow_oldest ? 1u : 0u);
        putaction(w, &q->overflow_action);
    }
}

static void put_calendars(wbuf *w, const cr_rgs_config *c)
{
    put32(w, (uint32_t)c->nhours);
    for (size_t i = 0; i < c->nhours; i++) {
        const cr_rgs_hours *h = &c->hours[i];
        putstr(w, h->name);
        putloc(w, h->loc);
        putstr(w, h->tz_name);
        put32(w, (uint32_t)h->nranges);
        for (size_t k = 0; k < h->nranges; k++) {
            const cr_rgs_range *r = &h->ranges[k];
            put32(w, r->days), puti(w, r->open_min), puti(w, r->close_min);
            putloc(w, r->loc);
        }
    }
    put32(w, (uint32_t)c->nholidays);
    for (size_t i = 0; i < c->nholidays; i++) {
        const cr_rgs_holidays *s = &c->holidays[i];
        putstr(w, s->name);
        putloc(w, s->loc);
        put32(w, (uint32_t)s->ndays);
        for (size_t k = 0; k < s->ndays; k++) {
            const cr_rgs_holiday *d = &s->days[k];
            putstr(w, d->name);
            put64(w, d->start_local), put64(w, d->end_local);
            putloc(w, d->loc);
        }
    }
}

static void put_workflows(wbuf *w, const cr_rgs_config *c)
{
    put32(w, (uint32_t)c->nworkflows);
    for (size_t i = 0; i < c->nworkflows; i++) {
        const cr_rgs_workflow *f = &c->workflows[i];
        putstr(w, f->name);
        putloc(w, f->loc);
        putstr(w, f->uri), putstr(w, f->line);
        put32(w, (uint32_t)f->type);
        putstr(w, f->queue_name), putstr(w, f->welcome), putstr(w, f->moh);
        putstr(w, f->hours_name), putstr(w, f->holidays_name), putstr(w, f->tz_name);
        putstr(w, f->language), putstr(w, f->script);
        put32(w, f->active ? 1u : 0u);
        putaction(w, &f->after_hours);
        putaction(w, &f->holiday_action);
    }
}

/* Every source file named by a location, listed before the records that refer to them. */
static void list_files(wbuf *w, const cr_rgs_config *c)
{
#define FILE_OF(loc) (void)file_ix(w, (loc).file, true)
    for (size_t i = 0; i < c->ngroups; i++)
        FILE_OF(c->groups[i].loc);
    for (size_t i = 0; i < c->nqueues; i++) {
        FILE_OF(c->queues[i].loc);
        FILE_OF(c->queues[i].timeout_action.loc);
        FILE_OF(c->queues[i].overflow_action.loc);
    }
    for (size_t i = 0; i < c->nhours; i++) {
        FILE_OF(c->hours[i].loc);
        for (size_t k = 0; k < c->hours[i].nranges; k++)
            FILE_OF(c->hours[i].ranges[k].loc);
    }
    for (size_t i = 0; i < c->nholidays; i++) {
        FILE_OF(c->holidays[i].loc);
        for (size_t k = 0; k < c->holidays[i].ndays; k++)
            FILE_OF(c->holidays[i].days[k].loc);
    }
    for (size_t i = 0; i < c->nworkflows; i++) {
        FILE_OF(c->workflows[i].loc);
        FILE_OF(c->workflows[i].after_hours.loc);
        FILE_OF(c->workflows[i].holiday_action.loc);
    }
#undef FILE_OF
}

int cu_rgs_image_encode(const cr_rgs_config *rgs, void **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    wbuf w = {0};
    list_files(&w, rgs);
    put(&w, MAGIC, 8);
    put32(&w, (uint32_t)w.nfiles);
    for (size_t i = 0; i < w.nfiles; i++)
        putstr(&w, w.files[i]);
    put_tzs(&w, rgs);
    put_groups(&w, rgs);
    put_calendars(&w, rgs);
    put_workflows(&w, rgs);
    free(w.files);
    if (w.oom) {
        free(w.p);
        return CR_ENOMEM;
    }
    *out = w.p;
    *len = w.n;
    return CR_OK;
}

int cr_rgs_image_attach(cr_config *routing, const cr_rgs_config *rgs)
{
    void *p;
    size_t n;
    int rc = cu_rgs_image_encode(rgs, &p, &n);
    if (rc == CR_OK)
        rc = cr_config_attach(routing, CR_RGS_IMAGE_NAME, p, n);
    free(p);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------- */

typedef struct rbuf {
    const unsigned char *p;
    size_t at, n;
    cr_rgs_config *cfg;
    const char **files; /* interned in cfg */
    uint32_t nfiles;
    const char *kind; /* the record being read, for errors */
    size_t index;
    const char *why; /* set on the first fault */
    bool oom;
} rbuf;

static bool failed(const rbuf *r)
{
    return r->why || r->oom;
}

static void fault(rbuf *r, const char *why)
{
    if (!failed(r))
        r->why = why;
}

static bool take(rbuf *r, void *out, size_t n)
{
    if (failed(r) || n > r->n - r->at) {
        fault(r, "cut short");
        memset(out, 0, n);
        return false;
    }
    memcpy(out, r->p + r->at, n);
    r->at += n;
    return true;
}

static uint32_t get32(rbuf *r)
{
    uint32_t v;
    take(r, &v, sizeof v);
    return v;
}

static int geti(rbuf *r)
{
    int32_t v;
    take(r, &v, sizeof v);
    return v;
}

static int64_t get64(rbuf *r)
{
    int64_t v;
    take(r, &v, sizeof v);
    return v;
}

/* A count of records each at least `min` bytes long: never more than the bytes left allow. */
static size_t getcount(rbuf *r, size_t min)
{
    uint32_t n = get32(r);
    if (!failed(r) && n > (r->n - r->at) / min)
        fault(r, "count out of bounds");
    return failed(r) ? 0 : n;
}

/* A malloc'ed copy of a string (NULL for none, and on a fault). */
static char *getstr(rbuf *r)
{
    uint32_t n = get32(r);
    if (failed(r) || n == NONE32)
        return NULL;
    if (n > r->n - r->at || memchr(r->p + r->at, 0, n)) {
        fault(r, "string out of bounds");
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->oom = true;
        return NULL;
    }
    memcpy(s, r->p + r->at, n);
    s[n] = 0;
    r->at += n;
    return s;
}

/* A string that must be there (a name). */
static char *needstr(rbuf *r)
{
    char *s = getstr(r);
    if (!s)
        fault(r, "name missing");
    return s;
}

static cr_srcloc getloc(rbuf *r)
{
    uint32_t f = get32(r), line = get32(r);
    cr_srcloc loc = {NULL, 0};
    if ((f != NONE32 && f >= r->nfiles) || line > (uint32_t)INT_MAX)
        fault(r, "source location out of bounds");
    else if (f != NONE32)
        loc.file = r->files[f];
    loc.line = failed(r) ? 0 : (int)line;
    return loc;
}

static void getaction(rbuf *r, cr_rgs_action *a)
{
    uint32_t kind = get32(r);
    if (kind > CR_RGS_ACT_QUEUE)
        fault(r, "action out of range");
    a->kind = failed(r) ? CR_RGS_ACT_NONE : (cr_rgs_action_kind)kind;
    a->target = getstr(r);
    a->prompt = getstr(r);
    a->loc = getloc(r);
}

static void at_record(rbuf *r, const char *kind, size_t i)
{
    if (!failed(r))
        r->kind = kind, r->index = i;
}

static void get_files(rbuf *r)
{
    at_record(r, "file name", 0);
    size_t n = getcount(r, 4);
    if (failed(r))
        return;
    r->files = calloc(n ? n : 1, sizeof *r->files);
    if (!r->files) {
        r->oom = true;
        return;
    }
    for (size_t i = 0; i < n && !failed(r); i++) {
        at_record(r, "file name", i);
        char *s = needstr(r);
        /* kept as they are, not interned: interning looks through every name kept before,
         * quadratic in a forged list of distinct names (6 s for 80,000, 650 KB) */
        if (s && !(r->files[i] = cr_rgs_config_keep(r->cfg, s)))
            r->oom = true;
        free(s);
        r->nfiles = (uint32_t)i + (failed(r) ? 0 : 1);
    }
}

static void get_tzdate(rbuf *r, cr_rgs_tzdate *d)
{
    int kind = geti(r);
    d->kind = (char)kind;
    d->n = geti(r), d->m = geti(r), d->w = geti(r), d->d = geti(r);
    d->secs = geti(r);
}

static void get_tz(rbuf *r)
{
    char *name = needstr(r);
    size_t n = getcount(r, 12);
    int32_t off0 = geti(r);
    int64_t *at = calloc(n ? n : 1, sizeof *at);
    int32_t *off = calloc(n ? n : 1, sizeof *off);
    if (!at || !off)
        r->oom = true;
    for (size_t k = 0; k < n && !failed(r); k++)
        at[k] = get64(r), off[k] = geti(r);
    cr_rgs_tzrule rule = {0};
    uint32_t flags = get32(r);
    rule.valid = flags & 1u;
    rule.dst = (flags & 2u) != 0;
    rule.std_off = geti(r), rule.dst_off = geti(r);
    get_tzdate(r, &rule.start), get_tzdate(r, &rule.end);
    if (flags > 3u || (!failed(r) && n > MAX_TZN))
        fault(r, "time zone out of range");
    if (!failed(r)) {
        int rc = cr_rgs_config_add_tz_table(r->cfg, name, at, off, n, off0, &rule);
        if (rc == CR_ENOMEM)
            r->oom = true;
        else if (rc != CR_OK)
            fault(r, "time zone out of range");
    }
    free(name), free(at), free(off);
}

/* What a record's adder returned (its name freed): false when nothing was added, the bytes having
 * failed or, when they had not, the adder having run out of memory (noted). */
static bool added(rbuf *r, const void *obj, char *name)
{
    free(name);
    if (!obj)
        r->oom = r->oom || !failed(r);
    return obj != NULL;
}

static void get_group(rbuf *r)
{
    char *name = needstr(r);
    cr_srcloc loc = getloc(r);
    cr_rgs_group *g = failed(r) ? NULL : cr_rgs_config_add_group(r->cfg, name, loc);
    if (!added(r, g, name))
        return;
    uint32_t routing = get32(r);
    if (routing > CR_RGS_ATTENDANT)
        fault(r, "routing method out of range");
    g->routing = failed(r) ? CR_RGS_SERIAL : (cr_rgs_routing)routing;
    g->alert_time_s = geti(r);
    g->decline_grace_s = geti(r);
    g->formal = get32(r) != 0;
    size_t n = getcount(r, 4);
    for (size_t k = 0; k < n && !failed(r); k++) {
        char *uri = needstr(r);
        if (uri && cr_rgs_group_add_agent(g, uri) != CR_OK)
            r->oom = true;
        free(uri);
    }
}

static void get_queue(rbuf *r)
{
    char *name = needstr(r);
    cr_srcloc loc = getloc(r);
    cr_rgs_queue *q = failed(r) ? NULL : cr_rgs_config_add_queue(r->cfg, name, loc);
    if (!added(r, q, name))
        return;
    size_t n = getcount(r, 4);
    for (size_t k = 0; k < n && !failed(r); k++) {
        char *g = needstr(r);
        if (g && cr_rgs_queue_add_group(q, g) != CR_OK)
            r->oom = true;
        free(g);
    }
    q->timeout_s = geti(r);
    getaction(r, &q->timeout_action);
    q->overflow_calls = geti(r);
    q->overflow_oldest = get32(r) != 0;
    getaction(r, &q->overflow_action);
}

static void get_hours(rbuf *r)
{
    char *name = needstr(r);
    cr_srcloc loc = getloc(r);
    cr_rgs_hours *h = failed(r) ? NULL : cr_rgs_config_add_hours(r->cfg, name, loc);
    if (!added(r, h, name))
        return;
    h->tz_name = getstr(r);
    size_t n = getcount(r, 20);
    for (size_t k = 0; k < n && !failed(r); k++) {
        uint32_t days = get32(r);
        int open = geti(r), close = geti(r);
        cr_srcloc rl = getloc(r);
        if (days > 0x7f)
            fault(r, "days out of range");
        if (!failed(r) && cr_rgs_hours_add_range(h, (uint8_t)days, open, close, rl) != CR_OK)
            r->oom = true;
    }
}

static void get_holidays(rbuf *r)
{
    char *name = needstr(r);
    cr_srcloc loc = getloc(r);
    cr_rgs_holidays *s = failed(r) ? NULL : cr_rgs_config_add_holidays(r->cfg, name, loc);
    if (!added(r, s, name))
        return;
    size_t n = getcount(r, 28);
    for (size_t k = 0; k < n && !failed(r); k++) {
        char *dn = getstr(r);
        int64_t a = get64(r), b = get64(r);
        cr_srcloc dl = getloc(r);
        if (!failed(r) && cr_rgs_holidays_add(s, dn, a, b, dl) != CR_OK)
            r->oom = true;
        free(dn);
    }
}

static void get_workflow(rbuf *r)
{
    char *name = needstr(r);
    cr_srcloc loc = getloc(r);
    cr_rgs_workflow *w = failed(r) ? NULL : cr_rgs_config_add_workflow(r->cfg, name, loc);
    if (!added(r, w, name))
        return;
    w->uri = getstr(r), w->line = getstr(r);
    uint32_t type = get32(r);
    if (type > CR_RGS_IVR)
        fault(r, "type out of range");
    w->type = failed(r) ? CR_RGS_HUNT_GROUP : (cr_rgs_workflow_type)type;
    w->queue_name = getstr(r), w->welcome = getstr(r), w->moh = getstr(r);
    w->hours_name = getstr(r), w->holidays_name = getstr(r), w->tz_name = getstr(r);
    w->language = getstr(r), w->script = getstr(r);
    w->active = get32(r) != 0;
    getaction(r, &w->after_hours);
    getaction(r, &w->holiday_action);
}

/* Each list: its count, then a record at a time (errors name the record). */
static void get_list(rbuf *r, const char *kind, size_t min, void (*get)(rbuf *))
{
    at_record(r, kind, 0);
    size_t n = getcount(r, min);
    for (size_t i = 0; i < n && !failed(r); i++) {
        at_record(r, kind, i);
        get(r);
    }
}

int cu_rgs_image_decode(const void *bytes, size_t len, const char *name, cr_rgs_config **out,
                        cr_diag *diag)
{
    *out = NULL;
    rbuf r = {.p = bytes, .n = len, .kind = "header"};
    if (!(r.cfg = cr_rgs_config_new()))
        return CR_ENOMEM;
    char magic[8];
    if (take(&r, magic, sizeof magic) && memcmp(magic, MAGIC, sizeof magic) != 0)
        fault(&r, "not compiled response groups of this version");
    get_files(&r);
    get_list(&r, "time zone", 48, get_tz);
    get_list(&r, "agent group", 32, get_group);
    get_list(&r, "queue", 60, get_queue);
    get_list(&r, "hours set", 20, get_hours);
    get_list(&r, "holiday set", 16, get_holidays);
    get_list(&r, "workflow", 84, get_workflow);
    if (!failed(&r) && r.at != r.n) {
        at_record(&r, "end", 0);
        fault(&r, "trailing bytes");
    }
    free(r.files);
    if (failed(&r)) {
        if (r.why)
            cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){name, 0}, "plan image",
                        "damaged response groups: %s %zu: %s", r.kind, r.index, r.why);
        cr_rgs_config_free(r.cfg);
        return r.why ? CR_ECONFIG : CR_ENOMEM;
    }
    *out = r.cfg;
    return CR_OK;
}

/* Decodes and resolves the records at bytes[0, len). */
static int load_bytes(const void *bytes, size_t len, const char *name, cr_rgs_config **out,
                      cr_diag *diag)
{
    int rc = cu_rgs_image_decode(bytes, len, name, out, diag);
    if (rc == CR_OK && (rc = cr_rgs_config_resolve(*out, diag)) != CR_OK) {
        cr_rgs_config_free(*out);
        *out = NULL;
    }
    return rc;
}

/* An empty, resolved configuration: a plan without response groups. */
static int load_empty(cr_rgs_config **out, cr_diag *diag)
{
    *out = cr_rgs_config_new();
    int rc = *out ? cr_rgs_config_resolve(*out, diag) : CR_ENOMEM;
    if (rc != CR_OK) {
        cr_rgs_config_free(*out);
        *out = NULL;
    }
    return rc;
}

int cr_rgs_image_load_config(const cr_config *routing, const char *name, cr_rgs_config **out,
                             cr_diag *diag)
{
    if (!out || !routing || !diag)
        return CR_EINVAL;
    *out = NULL;
    size_t len;
    const void *bytes = cr_config_attached(routing, CR_RGS_IMAGE_NAME, &len);
    if (bytes)
        return load_bytes(bytes, len, name, out, diag);
    if (!cr_config_has_response_groups(routing))
        return load_empty(out, diag);
    cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){name, 0}, NULL,
                "the plan declares response groups but holds none compiled");
    return CR_ECONFIG;
}

int cu_rgs_image_load_file(const char *path, cr_rgs_config **out, cr_diag *diag)
{
    if (!out || !path || !diag)
        return CR_EINVAL;
    *out = NULL;
    cr_image_map m;
    char err[400];
    if (cr_image_map_file(path, &m, err, sizeof err) != CR_OK) {
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){NULL, 0}, NULL, "%s", err);
        return CR_ECONFIG;
    }
    const void *bytes;
    size_t len;
    int rc = cr_image_attachment(m.base, CR_RGS_IMAGE_NAME, &bytes, &len)
                 ? load_bytes(bytes, len, path, out, diag)
                 : load_empty(out, diag);
    cr_image_unmap(&m);
    return rc;
}

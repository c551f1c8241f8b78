/* The response-group loader: <responseGroups> elements -> cr_rgs_config (see cr_rgs_xml.h). */
#include "cr_rgs_xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "cr_xml.h"

typedef struct rloader {
    cr_rgs_config *cfg;
    cr_diag *diag;
    const char *file; /* interned in cfg */
    bool oom;
} rloader;

typedef struct relem {
    rloader *L;
    xmlNodePtr node;
    cr_srcloc loc;
    char object[320];
} relem;

static void fail(relem *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(relem *e, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cr_diag_add(e->L->diag, CR_DIAG_ERROR, e->loc, e->object[0] ? e->object : NULL, "%s", msg);
}

/* Starts an element: location, object name (kind 'name attribute'), attribute check. */
static void begin(relem *e, rloader *L, xmlNodePtr node, const char *kind,
                  const char *const *allowed, bool text_ok)
{
    memset(e, 0, sizeof *e);
    e->L = L;
    e->node = node;
    e->loc.file = L->file;
    e->loc.line = cr_xml_line(node);
    char *name = cr_xml_attr(node, "name");
    if (name)
        snprintf(e->object, sizeof e->object, "%s '%s'", kind, name);
    else
        snprintf(e->object, sizeof e->object, "%s", kind);
    free(name);
    cr_xml_check(node, allowed, text_ok, L->file, e->object, L->diag);
}

static char *need(relem *e, const char *attr)
{
    char *v = cr_xml_attr(e->node, attr);
    if (!v)
        fail(e, "missing required attribute '%s'", attr);
    return v;
}

static void get_int(relem *e, const char *attr, long min, long max, int *out)
{
    char *v = cr_xml_attr(e->node, attr);
    long n;
    if (!v)
        return;
    if (cr_xml_parse_int(v, min, max, &n) < 0)
        fail(e, "%s='%s' must be an integer in %ld-%ld", attr, v, min, max);
    else
        *out = (int)n;
    free(v);
}

static void get_bool(relem *e, const char *attr, bool *out)
{
    char *v = cr_xml_attr(e->node, attr);
    if (v && cr_xml_parse_bool(v, out) < 0)
        fail(e, "%s='%s' must be true or false", attr, v);
    free(v);
}

/* Element children of `node` in the callroute namespace. */
#define FOR_CHILDREN(c, node)                                                                      \
    for (xmlNodePtr c = ((xmlNodePtr)(node))->children; c; c = c->next)                            \
        if (c->type == XML_ELEMENT_NODE)

static void unknown_child(relem *e, xmlNodePtr c)
{
    const char *n = cr_xml_name(c);
    if (n) {
        cr_srcloc loc = {e->L->file, cr_xml_line(c)};
        cr_diag_add(e->L->diag, CR_DIAG_ERROR, loc, e->object, "unknown element <%s>", n);
    }
}

/* ---- agent groups, queues, actions ------------------------------------------------------- */

static void load_group(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {
        "name", "routingMethod", "alertTime", "participation", "declineGrace", "description", NULL};
    static const char *const methods[] = {"serial", "parallel", "roundRobin", "longestIdle",
                                          "attendant"};
    relem e;
    begin(&e, L, node, "agentGroup", attrs, false);
    char *name = need(&e, "name");
    if (!name)
        return;
    cr_rgs_group *g = cr_rgs_config_add_group(L->cfg, name, e.loc);
    free(name);
    if (!g) {
        L->oom = true;
        return;
    }
    char *m = cr_xml_attr(node, "routingMethod");
    if (m) {
        size_t i = 0;
        while (i < 5 && strcmp(methods[i], m) != 0)
            i++;
        if (i == 5)
            fail(&e,
                 "routingMethod '%s' is not serial, parallel, roundRobin, longestIdle or "
                 "attendant",
                 m);
        else
            g->routing = (cr_rgs_routing)i;
        free(m);
    }
    char *alert = cr_xml_attr(node, "alertTime");
    long n;
    if (alert) {
        if (cr_xml_parse_int(alert, CR_RGS_ALERT_MIN, CR_RGS_ALERT_MAX, &n) < 0)
            fail(&e, "alertTime '%s' must be %d-%d seconds", alert, CR_RGS_ALERT_MIN,
                 CR_RGS_ALERT_MAX);
        else
            g->alert_time_s = (int)n;
        free(alert);
    }
    get_int(&e, "declineGrace", 0, 86400, &g->decline_grace_s);
    char *p = cr_xml_attr(node, "participation");
    if (p) {
        if (strcmp(p, "formal") == 0)
            g->formal = true;
        else if (strcmp(p, "informal") != 0)
            fail(&e, "participation '%s' is not formal or informal", p);
        free(p);
    }
    FOR_CHILDREN(c, node)
    {
        const char *cn = cr_xml_name(c);
        if (!cn || strcmp(cn, "agent") != 0) {
            unknown_child(&e, c);
            continue;
        }
        char *uri = cr_xml_text(c);
        if (!uri || !uri[0]) {
            cr_srcloc loc = {L->file, cr_xml_line(c)};
            cr_diag_add(L->diag, CR_DIAG_ERROR, loc, e.object, "empty <agent>");
        } else if (cr_rgs_group_add_agent(g, uri) < 0) {
            L->oom = true;
        }
        free(uri);
    }
}

/* action/target/prompt attributes of <timeout>, <overflow>, <afterHours>, <holidayAction>. */
static void load_action(relem *e, cr_rgs_action *a)
{
    char *act = need(e, "action");
    a->loc = e->loc;
    a->prompt = cr_xml_attr(e->node, "prompt");
    a->target = cr_xml_attr(e->node, "target");
    if (!act)
        return;
    if (strcmp(act, "disconnect") == 0)
        a->kind = CR_RGS_ACT_DISCONNECT;
    else if (strcmp(act, "forward") == 0)
        a->kind = CR_RGS_ACT_FORWARD;
    else if (strcmp(act, "voicemail") == 0)
        a->kind = CR_RGS_ACT_VOICEMAIL;
    else if (strcmp(act, "queue") == 0)
        a->kind = CR_RGS_ACT_QUEUE;
    else
        fail(e, "action '%s' is not disconnect, forward, voicemail or queue", act);
    if (a->kind > CR_RGS_ACT_DISCONNECT && (!a->target || !a->target[0]))
        fail(e, "action '%s' needs a target", act);
    free(act);
}

static void load_queue(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "description", NULL};
    static const char *const tattrs[] = {"seconds", "action", "target", "prompt", NULL};
    static const char *const oattrs[] = {"calls", "candidate", "action", "target", "prompt", NULL};
    relem e;
    begin(&e, L, node, "queue", attrs, false);
    char *name = need(&e, "name");
    if (!name)
        return;
    cr_rgs_queue *q = cr_rgs_config_add_queue(L->cfg, name, e.loc);
    free(name);
    if (!q) {
        L->oom = true;
        return;
    }
    FOR_CHILDREN(c, node)
    {
        const char *cn = cr_xml_name(c);
        relem ce;
        if (cn && strcmp(cn, "group") == 0) {
            char *g = cr_xml_text(c);
            if (g && g[0] && cr_rgs_queue_add_group(q, g) < 0)
                L->oom = true;
            free(g);
        } else if (cn && strcmp(cn, "timeout") == 0) {
            begin(&ce, L, c, "timeout", tattrs, false);
            snprintf(ce.object, sizeof ce.object, "queue '%s'", q->name);
            char *s = need(&ce, "seconds");
            free(s);
            get_int(&ce, "seconds", 1, 86400, &q->timeout_s);
            load_action(&ce, &q->timeout_action);
        } else if (cn && strcmp(cn, "overflow") == 0) {
            begin(&ce, L, c, "overflow", oattrs, false);
            snprintf(ce.object, sizeof ce.object, "queue '%s'", q->name);
            char *s = need(&ce, "calls");
            free(s);
            get_int(&ce, "calls", 0, 1000000, &q->overflow_calls);
            char *cand = cr_xml_attr(c, "candidate");
            if (cand && strcmp(cand, "oldest") == 0)
                q->overflow_oldest = true;
            else if (cand && strcmp(cand, "newest") != 0)
                fail(&ce, "candidate '%s' is not newest or oldest", cand);
            free(cand);
            load_action(&ce, &q->overflow_action);
        } else {
            unknown_child(&e, c);
        }
    }
}

/* ---- hours, holidays, time zones ---------------------------------------------------------- */

static int parse_hhmm(const char *s)
{
    int h, m;
    char extra;
    if (!s || sscanf(s, "%2d:%2d%c", &h, &m, &extra) != 2 || h < 0 || m < 0 || m > 59 ||
        h * 60 + m > 1440)
        return -1;
    return h * 60 + m;
}

static int day_index(const char *s, size_t n)
{
    static const char *const names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    for (int i = 0; i < 7; i++)
        if (n == 3 && strncmp(names[i], s, 3) == 0)
            return i;
    return -1;
}

/* "mon tue", "mon-fri", "weekdays", "weekend", "daily" (space or comma separated). */
static int parse_days(const char *s, uint8_t *out)
{
    *out = 0;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        size_t n = strcspn(s, " ,\t");
        if (!n)
            break;
        const char *dash = memchr(s, '-', n);
        if (n == 8 && strncmp(s, "weekdays", 8) == 0) {
            *out |= 0x3e;
        } else if (n == 7 && strncmp(s, "weekend", 7) == 0) {
            *out |= 0x41;
        } else if (n == 5 && strncmp(s, "daily", 5) == 0) {
            *out |= 0x7f;
        } else if (dash) {
            int a = day_index(s, (size_t)(dash - s)),
                b = day_index(dash + 1, n - (size_t)(dash - s) - 1);
            if (a < 0 || b < 0)
                return -1;
            for (int d = a;; d = (d + 1) % 7) {
                *out |= (uint8_t)(1u << d);
                if (d == b)
                    break;
            }
        } else {
            int d = day_index(s, n);
            if (d < 0)
                return -1;
            *out |= (uint8_t)(1u << d);
        }
        s += n;
    }
    return *out ? 0 : -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "2027-01-01T00:00[:00]" or "2027-01-01" -> local seconds since 1970. */
static int parse_local(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    char extra;
    int n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &extra);
    if (n != 3 && n != 5 && n != 6)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 24 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 59)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}

/* Reads the TZif file of `zone` into the config; errors name the element. */
static void load_zone(relem *e, const char *zone)
{
    if (cr_rgs_config_has_tz(e->L->cfg, zone))
        return;
    bool ok = zone[0] && zone[0] != '/' && !strstr(zone, "..");
    for (const char *p = zone; ok && *p; p++)
        ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
             strchr("/_+-", *p);
    if (!ok) {
        fail(e, "time zone '%s' is not an IANA zone name", zone);
        return;
    }
    const char *dir = getenv("TZDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", zone);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(e, "unknown time zone '%s' (no %s)", zone, path);
        return;
    }
    unsigned char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf) {
        e->L->oom = true;
        return;
    }
    int rc = cr_rgs_config_add_tz(e->L->cfg, zone, buf, n);
    free(buf);
    if (rc == CR_ENOMEM)
        e->L->oom = true;
    else if (rc < 0)
        fail(e, "%s is not a TZif time zone file", path);
}

static void load_hours(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "timeZone", "description", NULL};
    static const char *const rattrs[] = {"days", "open", "close", NULL};
    relem e;
    begin(&e, L, node, "hoursSet", attrs, false);
    char *name = need(&e, "name");
    if (!name)
        return;
    cr_rgs_hours *h = cr_rgs_config_add_hours(L->cfg, name, e.loc);
    free(name);
    if (!h) {
        L->oom = true;
        return;
    }
    h->tz_name = cr_xml_attr(node, "timeZone");
    if (h->tz_name)
        load_zone(&e, h->tz_name);
    FOR_CHILDREN(c, node)
    {
        const char *cn = cr_xml_name(c);
        if (!cn || strcmp(cn, "range") != 0) {
            unknown_child(&e, c);
            continue;
        }
        relem re;
        begin(&re, L, c, "range", rattrs, false);
        snprintf(re.object, sizeof re.object, "%s", e.object);
        char *days = need(&re, "days"), *open = need(&re, "open"), *close = need(&re, "close");
        uint8_t mask = 0;
        int o = parse_hhmm(open), cl = parse_hhmm(close);
        if (days && parse_days(days, &mask) < 0)
            fail(&re, "days '%s' must list sun mon tue wed thu fri sat (or mon-fri)", days);
        else if (open && o < 0)
            fail(&re, "open '%s' must be HH:MM", open);
        else if (close && cl < 0)
            fail(&re, "close '%s' must be HH:MM (24:00 allowed)", close);
        else if (days && open && close && cr_rgs_hours_add_range(h, mask, o, cl, re.loc) < 0)
            L->oom = true;
        free(days), free(open), free(close);
    }
}

static void load_holidays(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "description", NULL};
    static const char *const hattrs[] = {"name", "start", "end", NULL};
    relem e;
    begin(&e, L, node, "holidaySet", attrs, false);
    char *name = need(&e, "name");
    if (!name)
        return;
    cr_rgs_holidays *s = cr_rgs_config_add_holidays(L->cfg, name, e.loc);
    free(name);
    if (!s) {
        L->oom = true;
        return;
    }
    FOR_CHILDREN(c, node)
    {
        const char *cn = cr_xml_name(c);
        if (!cn || strcmp(cn, "holiday") != 0) {
            unknown_child(&e, c);
            continue;
        }
        relem he;
        begin(&he, L, c, "holiday", hattrs, false);
        snprintf(he.object, sizeof he.object, "%s", e.object);
        char *hn = cr_xml_attr(c, "name"), *start = need(&he, "start"), *end = need(&he, "end");
        int64_t a = 0, b = 0;
        if (start && parse_local(start, &a) < 0)
            fail(&he, "start '%s' must be YYYY-MM-DDTHH:MM (local time)", start);
        else if (end && parse_local(end, &b) < 0)
            fail(&he, "end '%s' must be YYYY-MM-DDTHH:MM (local time)", end);
        else if (start && end && cr_rgs_holidays_add(s, hn, a, b, he.loc) < 0)
            L->oom = true;
        free(hn), free(start), free(end);
    }
}

/* ---- workflows ------------------------------------------------------------------------------ */

/* `rel` resolved against the directory of `file` (absolute paths stay). Caller frees. */
static char *resolve_path(const char *file, const char *rel)
{
    if (rel[0] == '/')
        return strdup(rel);
    const char *slash = strrchr(file, '/');
    size_t dl = slash ? (size_t)(slash - file) + 1 : 0;
    char *p = malloc(dl + strlen(rel) + 1);
    if (p) {
        memcpy(p, file, dl);
        strcpy(p + dl, rel);
    }
    return p;
}

static void load_workflow(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name",     "uri",         "line",        "type",
                                        "queue",    "welcome",     "musicOnHold", "hours",
                                        "holidays", "language",    "script",      "active",
                                        "timeZone", "description", NULL};
    static const char *const aattrs[] = {"action", "target", "prompt", NULL};
    relem e;
    begin(&e, L, node, "workflow", attrs, false);
    char *name = need(&e, "name");
    if (!name)
        return;
    cr_rgs_workflow *w = cr_rgs_config_add_workflow(L->cfg, name, e.loc);
    free(name);
    if (!w) {
        L->oom = true;
        return;
    }
    w->uri = need(&e, "uri");
    w->line = cr_xml_attr(node, "line");
    char *type = cr_xml_attr(node, "type");
    if (type && strcmp(type, "ivr") == 0)
        w->type = CR_RGS_IVR;
    else if (type && strcmp(type, "huntGroup") != 0)
        fail(&e, "type '%s' is not huntGroup or ivr", type);
    free(type);
    w->queue_name = cr_xml_attr(node, "queue");
    w->welcome = cr_xml_attr(node, "welcome");
    w->moh = cr_xml_attr(node, "musicOnHold");
    w->hours_name = cr_xml_attr(node, "hours");
    w->holidays_name = cr_xml_attr(node, "holidays");
    w->language = cr_xml_attr(node, "language");
    w->tz_name = cr_xml_attr(node, "timeZone");
    if (w->tz_name)
        load_zone(&e, w->tz_name);
    get_bool(&e, "active", &w->active);
    char *script = cr_xml_attr(node, "script");
    if (script) {
        w->script = resolve_path(L->file, script);
        free(script);
    }
    FOR_CHILDREN(c, node)
    {
        const char *cn = cr_xml_name(c);
        cr_rgs_action *a = NULL;
        if (cn && strcmp(cn, "afterHours") == 0)
            a = &w->after_hours;
        else if (cn && strcmp(cn, "holidayAction") == 0)
            a = &w->holiday_action;
        if (!a) {
            unknown_child(&e, c);
            continue;
        }
        relem ae;
        begin(&ae, L, c, cn, aattrs, false);
        snprintf(ae.object, sizeof ae.object, "%s", e.object);
        free(a->target), free(a->prompt);
        load_action(&ae, a);
    }
}

static int on_element(void *ud, void *node, const char *file, cr_diag *diag)
{
    rloader *L = ud;
    const char *name = cr_xml_name(node);
    if (!name || strcmp(name, "responseGroups") != 0)
        return 0;
    L->file = cr_rgs_config_intern(L->cfg, file);
    if (!L->file)
        return CR_ENOMEM;
    static const char *const attrs[] = {NULL};
    cr_xml_check(node, attrs, false, L->file, "responseGroups", diag);
    FOR_CHILDREN(c, node)
    {
        const char *cn = cr_xml_name(c);
        if (!cn)
            continue;
        if (strcmp(cn, "agentGroup") == 0)
            load_group(L, c);
        else if (strcmp(cn, "queue") == 0)
            load_queue(L, c);
        else if (strcmp(cn, "hoursSet") == 0)
            load_hours(L, c);
        else if (strcmp(cn, "holidaySet") == 0)
            load_holidays(L, c);
        else if (strcmp(cn, "workflow") == 0)
            load_workflow(L, c);
        else {
            cr_srcloc loc = {L->file, cr_xml_line(c)};
            cr_diag_add(diag, CR_DIAG_ERROR, loc, "responseGroups", "unknown element <%s>", cn);
        }
        if (L->oom)
            return CR_ENOMEM;
    }
    return 0;
}

int cr_rgs_xml_load(const char *path, cr_rgs_config **out, cr_diag *diag)
{
    return cr_rgs_xml_load_ex(path, NULL, out, diag);
}

int cr_rgs_xml_load_ex(const char *path, const cr_load_options *opts, cr_rgs_config **out,
                       cr_diag *diag)
{
    if (!out || !path || !diag)
        return CR_EINVAL;
    *out = NULL;
    rloader L = {.diag = diag};
    if (!(L.cfg = cr_rgs_config_new()))
        return CR_ENOMEM;
    size_t errors0 = diag->errors;
    int rc = cr_xml_walk(path, opts, on_element, &L, diag);
    if (rc == CR_OK && diag->errors > errors0)
        rc = CR_ECONFIG;
    if (rc == CR_OK)
        rc = cr_rgs_config_resolve(L.cfg, diag);
    if (rc != CR_OK) {
        cr_rgs_config_free(L.cfg);
        return rc < 0 ? rc : CR_ECONFIG;
    }
    *out = L.cfg;
    return CR_OK;
}

/* The response groups of the sources a routing configuration kept (plan images, issue 14). */
int cr_rgs_xml_load_config(const cr_config *routing, cr_rgs_config **out, cr_diag *diag)
{
    if (!out || !routing || !diag)
        return CR_EINVAL;
    *out = NULL;
    rloader L = {.diag = diag};
    if (!(L.cfg = cr_rgs_config_new()))
        return CR_ENOMEM;
    size_t errors0 = diag->errors;
    int rc = cr_xml_walk_sources(routing, on_element, &L, diag);
    if (rc == CR_OK && diag->errors > errors0)
        rc = CR_ECONFIG;
    if (rc == CR_OK)
        rc = cr_rgs_config_resolve(L.cfg, diag);
    if (rc != CR_OK) {
        cr_rgs_config_free(L.cfg);
        return rc < 0 ? rc : CR_ECONFIG;
    }
    *out = L.cfg;
    return CR_OK;
}

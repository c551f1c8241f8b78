/* The response-group loader: <responseGroups> elements -> cr_rgs_config (see cr_rgs_xml.h). */
#include "cr_rgs_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_libxml.h"

#include "cr_engine.h"
#include "cr_image.h"
#include "rgs_image.h"
#include "cr_xml.h"
#include "cr_xml_elem.h"

typedef struct rloader {
    cr_rgs_config *cfg;
    cr_diag *diag;
    const char *file; /* interned in cfg */
    bool oom;
} rloader;

/* Starts an element: errors name the object as kind 'name attribute'. */
static void begin(cr_xml_elem *e, rloader *L, xmlNodePtr node, const char *kind,
                  const char *const *allowed)
{
    cr_xml_elem_init(e, L->file, L->diag, NULL);
    cr_xml_begin_object(e, node, kind, "name", NULL, allowed);
}

/* Starts a part of `parent`'s object (a <range> of an hoursSet, a <timeout> of a queue): its
 * attributes are checked in the part's name, what it says is wrong after that in the parent's. */
static void begin_part(cr_xml_elem *e, const cr_xml_elem *parent, rloader *L, xmlNodePtr node,
                       const char *kind, const char *const *allowed)
{
    begin(e, L, node, kind, allowed);
    snprintf(e->object, sizeof e->object, "%s", parent->object);
}

#define FOR_CHILDREN(c, node) CR_XML_FOR_ELEMENTS(c, node)

/* A SIP URI with a user part (sip:user@host, sips: too): what an agent is (SPEC §4). */
static bool sip_user_uri(const char *uri)
{
    char key[1024];
    return cr_uri_key(uri, key, sizeof key) > 0 && strchr(key, '@') != NULL;
}

/* Where a forward or a voicemail action can send a call: a SIP URI or a phone number
 * (SPEC §4: "forward to a SIP URI or number"). */
static bool call_target_ok(const char *t)
{
    char key[1024];
    cr_number num;
    return cr_uri_key(t, key, sizeof key) > 0 ||
           (cr_number_parse(t, &num) == CR_OK && num.dialable);
}

/* Elements of foreign namespaces are extension points here: only callroute ones are errors. */
static void unknown_child(cr_xml_elem *e, xmlNodePtr c)
{
    if (cr_xml_name(c))
        cr_xml_unknown_child(e, c);
}

/* ---- agent groups, queues, actions ------------------------------------------------------- */

static void load_group(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {
        "name", "routingMethod", "alertTime", "participation", "declineGrace", "description", NULL};
    static const char *const methods[] = {"serial", "parallel", "roundRobin", "longestIdle",
                                          "attendant"};
    cr_xml_elem e;
    begin(&e, L, node, "agentGroup", attrs);
    char *name = cr_xml_need(&e, "name");
    cr_rgs_group *g =
        cr_xml_made(name, name ? cr_rgs_config_add_group(L->cfg, name, e.loc) : NULL, &L->oom);
    if (!g)
        return;
    char *m = cr_xml_attr(node, "routingMethod");
    if (m) {
        size_t i = 0;
        while (i < 5 && strcmp(methods[i], m) != 0)
            i++;
        if (i == 5)
            cr_xml_fail(&e,
                        "routingMethod '%s' is not serial, parallel, roundRobin, longestIdle or "
                        "attendant",
                        m);
        else
            g->routing = (cr_rgs_routing)i;
        free(m);
    }
    cr_xml_get_int(&e, "alertTime", CR_RGS_ALERT_MIN, CR_RGS_ALERT_MAX, &g->alert_time_s);
    cr_xml_get_int(&e, "declineGrace", 0, 86400, &g->decline_grace_s);
    char *p = cr_xml_attr(node, "participation");
    if (p) {
        if (strcmp(p, "formal") == 0)
            g->formal = true;
        else if (strcmp(p, "informal") != 0)
            cr_xml_fail(&e, "participation '%s' is not formal or informal", p);
        free(p);
    }
    FOR_CHILDREN(c, node)
    {
        if (!cr_xml_is(c, "agent")) {
            unknown_child(&e, c);
            continue;
        }
        char *uri = cr_xml_text(c);
        if (!uri || !uri[0])
            cr_xml_fail_at(&e, c, "empty <agent>");
        else if (!sip_user_uri(uri))
            cr_xml_fail_at(&e, c, "agent '%s' is not a SIP URI (sip:user@domain)", uri);
        else if (cr_rgs_group_add_agent(g, uri) < 0)
            L->oom = true;
        free(uri);
    }
}

/* action/target/prompt attributes of <timeout>, <overflow>, <afterHours>, <holidayAction>. */
static void load_action(cr_xml_elem *e, cr_rgs_action *a)
{
    char *act = cr_xml_need(e, "action");
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
        cr_xml_fail(e, "action '%s' is not disconnect, forward, voicemail or queue", act);
    if (a->kind > CR_RGS_ACT_DISCONNECT && (!a->target || !a->target[0]))
        cr_xml_fail(e, "action '%s' needs a target", act);
    else if ((a->kind == CR_RGS_ACT_FORWARD || a->kind == CR_RGS_ACT_VOICEMAIL) &&
             !call_target_ok(a->target))
        cr_xml_fail(e, "action '%s': target '%s' is not a SIP URI or a phone number", act,
                    a->target);
    free(act);
}

static void load_queue(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "description", NULL};
    static const char *const tattrs[] = {"seconds", "action", "target", "prompt", NULL};
    static const char *const oattrs[] = {"calls", "candidate", "action", "target", "prompt", NULL};
    cr_xml_elem e;
    begin(&e, L, node, "queue", attrs);
    char *name = cr_xml_need(&e, "name");
    cr_rgs_queue *q =
        cr_xml_made(name, name ? cr_rgs_config_add_queue(L->cfg, name, e.loc) : NULL, &L->oom);
    if (!q)
        return;
    bool seen_timeout = false, seen_overflow = false;
    FOR_CHILDREN(c, node)
    {
        cr_xml_elem ce;
        if ((cr_xml_is(c, "timeout") && seen_timeout) ||
            (cr_xml_is(c, "overflow") && seen_overflow)) {
            cr_xml_fail_at(&e, c, "<%s> given twice", cr_xml_name(c));
            continue;
        }
        if (cr_xml_is(c, "group")) {
            char *g = cr_xml_text(c);
            if (!g || !g[0])
                cr_xml_fail_at(&e, c, "empty <group>");
            else if (cr_rgs_queue_add_group(q, g) < 0)
                L->oom = true;
            free(g);
        } else if (cr_xml_is(c, "timeout")) {
            seen_timeout = true;
            begin_part(&ce, &e, L, c, "timeout", tattrs);
            char *s = cr_xml_need(&ce, "seconds");
            free(s);
            cr_xml_get_int(&ce, "seconds", 1, 86400, &q->timeout_s);
            load_action(&ce, &q->timeout_action);
        } else if (cr_xml_is(c, "overflow")) {
            seen_overflow = true;
            begin_part(&ce, &e, L, c, "overflow", oattrs);
            char *s = cr_xml_need(&ce, "calls");
            free(s);
            cr_xml_get_int(&ce, "calls", 0, 1000000, &q->overflow_calls);
            char *cand = cr_xml_attr(c, "candidate");
            if (cand && strcmp(cand, "oldest") == 0)
                q->overflow_oldest = true;
            else if (cand && strcmp(cand, "newest") != 0)
                cr_xml_fail(&ce, "candidate '%s' is not newest or oldest", cand);
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

/* "2027-01-01T00:00[:00]" or "2027-01-01" -> local seconds since 1970. */
static int parse_local(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    char extra;
    int n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &extra);
    if (n != 3 && n != 5 && n != 6)
        return -1;
    /* a date of the calendar (no 30 February), 24:00 only as the end of a day */
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h < 0 ||
        h > 24 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || (h == 24 && (mi || sec)))
        return -1;
    *out = cr_rgs_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}

/* Reads the TZif file of `zone` into the config; errors name the element. */
static void load_zone(rloader *L, cr_xml_elem *e, const char *zone)
{
    if (cr_rgs_config_has_tz(L->cfg, zone))
        return;
    bool ok = zone[0] && zone[0] != '/' && !strstr(zone, "..");
    for (const char *p = zone; ok && *p; p++)
        ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
             strchr("/_+-", *p);
    if (!ok) {
        cr_xml_fail(e, "time zone '%s' is not an IANA zone name", zone);
        return;
    }
    const char *dir = getenv("TZDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", zone);
    FILE *f = fopen(path, "rb");
    if (!f) {
        cr_xml_fail(e, "unknown time zone '%s' (no %s)", zone, path);
        return;
    }
    unsigned char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf) {
        L->oom = true;
        return;
    }
    int rc = cr_rgs_config_add_tz(L->cfg, zone, buf, n);
    free(buf);
    if (rc == CR_ENOMEM)
        L->oom = true;
    else if (rc < 0)
        cr_xml_fail(e, "%s is not a TZif time zone file", path);
}

static void load_hours(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "timeZone", "description", NULL};
    static const char *const rattrs[] = {"days", "open", "close", NULL};
    cr_xml_elem e;
    begin(&e, L, node, "hoursSet", attrs);
    char *name = cr_xml_need(&e, "name");
    cr_rgs_hours *h =
        cr_xml_made(name, name ? cr_rgs_config_add_hours(L->cfg, name, e.loc) : NULL, &L->oom);
    if (!h)
        return;
    h->tz_name = cr_xml_attr(node, "timeZone");
    if (h->tz_name)
        load_zone(L, &e, h->tz_name);
    FOR_CHILDREN(c, node)
    {
        if (!cr_xml_is(c, "range")) {
            unknown_child(&e, c);
            continue;
        }
        cr_xml_elem re;
        begin_part(&re, &e, L, c, "range", rattrs);
        char *days = cr_xml_need(&re, "days"), *open = cr_xml_need(&re, "open"),
             *close = cr_xml_need(&re, "close");
        uint8_t mask = 0;
        int o = parse_hhmm(open), cl = parse_hhmm(close);
        if (days && parse_days(days, &mask) < 0)
            cr_xml_fail(&re, "days '%s' must list sun mon tue wed thu fri sat (or mon-fri)", days);
        else if (open && o < 0)
            cr_xml_fail(&re, "open '%s' must be HH:MM", open);
        else if (close && cl < 0)
            cr_xml_fail(&re, "close '%s' must be HH:MM (24:00 allowed)", close);
        else if (days && open && close && cr_rgs_hours_add_range(h, mask, o, cl, re.loc) < 0)
            L->oom = true;
        free(days), free(open), free(close);
    }
}

static void load_holidays(rloader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "description", NULL};
    static const char *const hattrs[] = {"name", "start", "end", NULL};
    cr_xml_elem e;
    begin(&e, L, node, "holidaySet", attrs);
    char *name = cr_xml_need(&e, "name");
    cr_rgs_holidays *s =
        cr_xml_made(name, name ? cr_rgs_config_add_holidays(L->cfg, name, e.loc) : NULL, &L->oom);
    if (!s)
        return;
    FOR_CHILDREN(c, node)
    {
        if (!cr_xml_is(c, "holiday")) {
            unknown_child(&e, c);
            continue;
        }
        cr_xml_elem he;
        begin_part(&he, &e, L, c, "holiday", hattrs);
        char *hn = cr_xml_attr(c, "name"), *start = cr_xml_need(&he, "start"),
             *end = cr_xml_need(&he, "end");
        int64_t a = 0, b = 0;
        if (start && parse_local(start, &a) < 0)
            cr_xml_fail(&he, "start '%s' must be YYYY-MM-DDTHH:MM (local time)", start);
        else if (end && parse_local(end, &b) < 0)
            cr_xml_fail(&he, "end '%s' must be YYYY-MM-DDTHH:MM (local time)", end);
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
    cr_xml_elem e;
    begin(&e, L, node, "workflow", attrs);
    char *name = cr_xml_need(&e, "name");
    cr_rgs_workflow *w =
        cr_xml_made(name, name ? cr_rgs_config_add_workflow(L->cfg, name, e.loc) : NULL, &L->oom);
    if (!w)
        return;
    w->uri = cr_xml_need(&e, "uri");
    w->line = cr_xml_attr(node, "line");
    char *type = cr_xml_attr(node, "type");
    if (type && strcmp(type, "ivr") == 0)
        w->type = CR_RGS_IVR;
    else if (type && strcmp(type, "huntGroup") != 0)
        cr_xml_fail(&e, "type '%s' is not huntGroup or ivr", type);
    free(type);
    w->queue_name = cr_xml_attr(node, "queue");
    w->welcome = cr_xml_attr(node, "welcome");
    w->moh = cr_xml_attr(node, "musicOnHold");
    w->hours_name = cr_xml_attr(node, "hours");
    w->holidays_name = cr_xml_attr(node, "holidays");
    w->language = cr_xml_attr(node, "language");
    w->tz_name = cr_xml_attr(node, "timeZone");
    if (w->tz_name)
        load_zone(L, &e, w->tz_name);
    cr_xml_get_bool(&e, "active", &w->active);
    char *script = cr_xml_attr(node, "script");
    if (script) {
        w->script = resolve_path(L->file, script);
        free(script);
    }
    bool seen[2] = {false, false}; /* afterHours, holidayAction */
    FOR_CHILDREN(c, node)
    {
        const char *cn = cr_xml_name(c);
        cr_rgs_action *a = NULL;
        int k = cr_xml_is(c, "afterHours") ? 0 : cr_xml_is(c, "holidayAction") ? 1 : -1;
        if (k < 0) {
            unknown_child(&e, c);
            continue;
        }
        if (seen[k]) {
            cr_xml_fail_at(&e, c, "<%s> given twice", cn);
            continue;
        }
        seen[k] = true;
        a = k == 0 ? &w->after_hours : &w->holiday_action;
        cr_xml_elem ae;
        begin_part(&ae, &e, L, c, cn, aattrs);
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
    cr_xml_elem e;
    cr_xml_elem_init(&e, L->file, diag, NULL);
    cr_xml_name_object(&e, "responseGroups", NULL, NULL);
    cr_xml_begin(&e, node, attrs, false);
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
        else
            unknown_child(&e, c);
        if (L->oom)
            return CR_ENOMEM;
    }
    return 0;
}

/* Only <responseGroups> is read: the rest of the document is not even built. */
static int on_open(void *ud, void *node, const char *file, cr_diag *diag, cr_xml_take *take)
{
    const char *name = cr_xml_name(node);
    *take = name && strcmp(name, "responseGroups") == 0 ? CR_XML_TAKE_WHOLE : CR_XML_TAKE_SKIP;
    return 0;
}

static const cr_xml_stream rgs_stream = {.open = on_open, .whole = on_element};

/* Reads the response groups of the document at `path` and resolves their references. */
static int load(const char *path, const cr_load_options *opts, cr_rgs_config **out, cr_diag *diag)
{
    *out = NULL;
    rloader L = {.diag = diag};
    if (!(L.cfg = cr_rgs_config_new()))
        return CR_ENOMEM;
    size_t errors0 = diag->errors;
    int rc = cr_xml_walk_stream(path, opts, &rgs_stream, &L, diag, NULL);
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

struct cr_rgs_xml_loader {
    rloader L;
    cr_diag diag; /* kept aside until finish */
};

cr_rgs_xml_loader *cr_rgs_xml_loader_new(void)
{
    cr_rgs_xml_loader *l = calloc(1, sizeof *l);
    if (l && !(l->L.cfg = cr_rgs_config_new())) {
        free(l);
        return NULL;
    }
    if (l) {
        cr_diag_init(&l->diag);
        l->L.diag = &l->diag;
    }
    return l;
}

int cr_rgs_xml_loader_element(void *loader, void *node, const char *file, cr_diag *diag)
{
    (void)diag;
    cr_rgs_xml_loader *l = loader;
    int rc = on_element(&l->L, node, file, &l->diag);
    return rc == 0 && l->L.oom ? CR_ENOMEM : rc;
}

void cr_rgs_xml_loader_free(cr_rgs_xml_loader *l)
{
    if (!l)
        return;
    cr_rgs_config_free(l->L.cfg);
    cr_diag_free(&l->diag);
    free(l);
}

int cr_rgs_xml_loader_finish(cr_rgs_xml_loader *l, cr_rgs_config **out, cr_diag *diag)
{
    *out = NULL;
    for (size_t i = 0; i < l->diag.count; i++) {
        const cr_diag_item *it = &l->diag.items[i];
        cr_diag_add(diag, it->level, (cr_srcloc){it->file, it->line},
                    it->object[0] ? it->object : NULL, "%s", it->message);
    }
    int rc = l->L.oom ? CR_ENOMEM : l->diag.errors ? CR_ECONFIG : CR_OK;
    if (rc == CR_OK)
        rc = cr_rgs_config_resolve(l->L.cfg, diag);
    if (rc == CR_OK) {
        *out = l->L.cfg;
        l->L.cfg = NULL;
    }
    cr_rgs_xml_loader_free(l);
    return rc;
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
    if (cr_image_file_is(path)) /* compiled: read back without XML (issue 14) */
        return cu_rgs_image_load_file(path, out, diag);
    return load(path, opts, out, diag);
}

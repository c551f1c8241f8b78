/* Building, resolving and looking up a response-group configuration. */
#include "cr_grow.h"
#include "cr_rgs.h"
#include "rgs_engine_int.h"
#include "rgs_map.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bounds the XML reader (rules/rgs_xml.c) puts on these, checked again here for what comes
 * from elsewhere (a plan image's records) */
#define CR_RGS_SECONDS_MAX  86400
#define CR_RGS_OVERFLOW_MAX 1000000

typedef struct rgs_index {
    rgs_map groups, queues, agents, hours, holidays, tzs;
    rgs_kmap workflows; /* by uri and by line: the keys inside the table (one line a lookup) */
} rgs_index;

static rgs_index *idx_of(const cr_rgs_config *cfg)
{
    return cfg->index;
}

cr_rgs_config *cr_rgs_config_new(void)
{
    cr_rgs_config *cfg = calloc(1, sizeof *cfg);
    if (cfg && !(cfg->index = calloc(1, sizeof(rgs_index)))) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

static void action_free(cr_rgs_action *a)
{
    free(a->target);
    free(a->prompt);
}

void cr_rgs_config_free(cr_rgs_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ngroups; i++) {
        cr_rgs_group *g = &cfg->groups[i];
        for (size_t j = 0; j < g->nagents; j++)
            free(g->agent_uris[j]);
        free(g->agent_uris);
        free(g->agents);
        free(g->name);
    }
    for (size_t i = 0; i < cfg->nagents; i++)
        free(cfg->agents[i].uri);
    for (size_t i = 0; i < cfg->nqueues; i++) {
        cr_rgs_queue *q = &cfg->queues[i];
        for (size_t j = 0; j < q->ngroups; j++)
            free(q->group_names[j]);
        free(q->group_names);
        free(q->groups);
        free(q->name);
        action_free(&q->timeout_action);
        action_free(&q->overflow_action);
    }
    for (size_t i = 0; i < cfg->nhours; i++) {
        free(cfg->hours[i].name);
        free(cfg->hours[i].tz_name);
        free(cfg->hours[i].ranges);
    }
    for (size_t i = 0; i < cfg->nholidays; i++) {
        cr_rgs_holidays *s = &cfg->holidays[i];
        for (size_t j = 0; j < s->ndays; j++)
            free(s->days[j].name);
        free(s->days);
        free(s->name);
    }
    for (size_t i = 0; i < cfg->nworkflows; i++) {
        cr_rgs_workflow *w = &cfg->workflows[i];
        free(w->name), free(w->uri), free(w->line), free(w->queue_name), free(w->welcome);
        free(w->moh), free(w->hours_name), free(w->holidays_name), free(w->tz_name);
        free(w->language), free(w->script);
        action_free(&w->after_hours);
        action_free(&w->holiday_action);
    }
    for (size_t i = 0; i < cfg->ntzs; i++) {
        free(cfg->tzs[i].name);
        free(cfg->tzs[i].at);
        free(cfg->tzs[i].off);
    }
    for (size_t i = 0; i < cfg->nstrings; i++)
        free(cfg->strings[i]);
    free(cfg->strings);
    free(cfg->groups), free(cfg->agents), free(cfg->queues), free(cfg->hours);
    free(cfg->holidays), free(cfg->workflows), free(cfg->tzs);
    rgs_index *x = idx_of(cfg);
    if (x) {
        rgs_map_free(&x->groups), rgs_map_free(&x->queues), rgs_map_free(&x->agents);
        rgs_kmap_free(&x->workflows), rgs_map_free(&x->hours), rgs_map_free(&x->holidays);
        rgs_map_free(&x->tzs);
        free(x);
    }
    free(cfg);
}

const char *cr_rgs_config_intern(cr_rgs_config *cfg, const char *s)
{
    for (size_t i = 0; i < cfg->nstrings; i++)
        if (strcmp(cfg->strings[i], s) == 0)
            return cfg->strings[i];
    return cr_rgs_config_keep(cfg, s);
}

const char *cr_rgs_config_keep(cr_rgs_config *cfg, const char *s)
{
    if (!CR_GROW(cfg->strings, cfg->nstrings, cfg->capstrings))
        return NULL;
    char *c = strdup(s);
    if (c)
        cfg->strings[cfg->nstrings++] = c;
    return c;
}

cr_rgs_group *cr_rgs_config_add_group(cr_rgs_config *cfg, const char *name, cr_srcloc loc)
{
    if (!CR_GROW(cfg->groups, cfg->ngroups, cfg->capgroups))
        return NULL;
    cr_rgs_group *g = &cfg->groups[cfg->ngroups];
    memset(g, 0, sizeof *g);
    if (!(g->name = strdup(name)))
        return NULL;
    g->routing = CR_RGS_SERIAL;
    g->alert_time_s = CR_RGS_ALERT_DEFAULT;
    g->decline_grace_s = CR_RGS_GRACE_DEFAULT;
    g->loc = loc;
    cfg->ngroups++;
    return g;
}

int cr_rgs_group_add_agent(cr_rgs_group *g, const char *uri)
{
    if (!CR_GROW(g->agent_uris, g->nagents, g->capagents))
        return CR_ENOMEM;
    if (!(g->agent_uris[g->nagents] = strdup(uri)))
        return CR_ENOMEM;
    g->nagents++;
    return CR_OK;
}

static void action_init(cr_rgs_action *a)
{
    memset(a, 0, sizeof *a);
    a->queue = -1;
}

cr_rgs_queue *cr_rgs_config_add_queue(cr_rgs_config *cfg, const char *name, cr_srcloc loc)
{
    if (!CR_GROW(cfg->queues, cfg->nqueues, cfg->capqueues))
        return NULL;
    cr_rgs_queue *q = &cfg->queues[cfg->nqueues];
    memset(q, 0, sizeof *q);
    if (!(q->name = strdup(name)))
        return NULL;
    q->overflow_calls = -1;
    action_init(&q->timeout_action);
    action_init(&q->overflow_action);
    q->loc = loc;
    cfg->nqueues++;
    return q;
}

int cr_rgs_queue_add_group(cr_rgs_queue *q, const char *group)
{
    if (!CR_GROW(q->group_names, q->ngroups, q->capgroups))
        return CR_ENOMEM;
    if (!(q->group_names[q->ngroups] = strdup(group)))
        return CR_ENOMEM;
    q->ngroups++;
    return CR_OK;
}

cr_rgs_hours *cr_rgs_config_add_hours(cr_rgs_config *cfg, const char *name, cr_srcloc loc)
{
    if (!CR_GROW(cfg->hours, cfg->nhours, cfg->caphours))
        return NULL;
    cr_rgs_hours *h = &cfg->hours[cfg->nhours];
    memset(h, 0, sizeof *h);
    if (!(h->name = strdup(name)))
        return NULL;
    h->tz = -1;
    h->loc = loc;
    cfg->nhours++;
    return h;
}

int cr_rgs_hours_add_range(cr_rgs_hours *h, uint8_t days, int open_min, int close_min,
                           cr_srcloc loc)
{
    if (!CR_GROW(h->ranges, h->nranges, h->capranges))
        return CR_ENOMEM;
    h->ranges[h->nranges++] = (cr_rgs_range){days, open_min, close_min, loc};
    return CR_OK;
}

cr_rgs_holidays *cr_rgs_config_add_holidays(cr_rgs_config *cfg, const char *name, cr_srcloc loc)
{
    if (!CR_GROW(cfg->holidays, cfg->nholidays, cfg->capholidays))
        return NULL;
    cr_rgs_holidays *s = &cfg->holidays[cfg->nholidays];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name)))
        return NULL;
    s->loc = loc;
    cfg->nholidays++;
    return s;
}

int cr_rgs_holidays_add(cr_rgs_holidays *s, const char *name, int64_t start_local,
                        int64_t end_local, cr_srcloc loc)
{
    if (!CR_GROW(s->days, s->ndays, s->capdays))
        return CR_ENOMEM;
    char *n = strdup(name ? name : "");
    if (!n)
        return CR_ENOMEM;
    s->days[s->ndays++] = (cr_rgs_holiday){n, start_local, end_local, loc};
    return CR_OK;
}

cr_rgs_workflow *cr_rgs_config_add_workflow(cr_rgs_config *cfg, const char *name, cr_srcloc loc)
{
    if (!CR_GROW(cfg->workflows, cfg->nworkflows, cfg->capworkflows))
        return NULL;
    cr_rgs_workflow *w = &cfg->workflows[cfg->nworkflows];
    memset(w, 0, sizeof *w);
    if (!(w->name = strdup(name)))
        return NULL;
    w->type = CR_RGS_HUNT_GROUP;
    w->queue = w->hours = w->holidays = w->tz = -1;
    w->active = true;
    action_init(&w->after_hours);
    action_init(&w->holiday_action);
    w->loc = loc;
    cfg->nworkflows++;
    return w;
}

/* ---- resolution ------------------------------------------------------------------------ */

static char *object(char *buf, size_t len, const char *kind, const char *name)
{
    snprintf(buf, len, "%s '%s'", kind, name);
    return buf;
}

/* Adds each object's name to its index, reporting duplicates. */
#define INDEX_NAMES(map, arr, n, kind)                                                             \
    for (size_t i = 0; i < (n); i++) {                                                             \
        char ob[300];                                                                              \
        if (rgs_map_get(&(map), (arr)[i].name) >= 0)                                               \
            cr_diag_add(diag, CR_DIAG_ERROR, (arr)[i].loc,                                         \
                        object(ob, sizeof ob, kind, (arr)[i].name), "duplicate %s name", kind);    \
        else if (rgs_map_put(&(map), (arr)[i].name, (long)i) < 0)                                  \
            return CR_ENOMEM;                                                                      \
    }

static int resolve_action(cr_rgs_config *cfg, cr_rgs_action *a, const char *obj, cr_diag *diag)
{
    if (a->kind != CR_RGS_ACT_QUEUE)
        return 0;
    a->queue = a->target ? rgs_map_get(&idx_of(cfg)->queues, a->target) : -1;
    if (a->queue < 0)
        cr_diag_add(diag, CR_DIAG_ERROR, a->loc, obj, "action queue '%s' is not defined",
                    a->target ? a->target : "");
    return 0;
}

/* Group i's agent j: its index among all agents (added on first sight); an error when the group
 * listed it before (seen[agent] == i + 1). */
static int resolve_agent(cr_rgs_config *cfg, rgs_index *x, cr_rgs_group *g, size_t i, size_t j,
                         size_t *seen, const char *ob, cr_diag *diag)
{
    const char *uri = g->agent_uris[j];
    long a = rgs_map_get(&x->agents, uri);
    if (a < 0) {
        if (!CR_GROW(cfg->agents, cfg->nagents, cfg->capagents))
            return CR_ENOMEM;
        if (!(cfg->agents[cfg->nagents].uri = strdup(uri)))
            return CR_ENOMEM;
        a = (long)cfg->nagents++;
    }
    if (seen[a] == i + 1)
        cr_diag_add(diag, CR_DIAG_ERROR, g->loc, ob, "agent %s listed twice", uri);
    seen[a] = i + 1;
    g->agents[j] = (size_t)a;
    return rgs_map_put(&x->agents, cfg->agents[a].uri, a) < 0 ? CR_ENOMEM : CR_OK;
}

static int resolve_groups(cr_rgs_config *cfg, cr_diag *diag)
{
    rgs_index *x = idx_of(cfg);
    /* an agent's index -> the last group (1-based) that listed it: a repeat found in one step,
     * however long the group (a forged image may list tens of thousands) */
    size_t total = cfg->nagents;
    for (size_t i = 0; i < cfg->ngroups; i++)
        total += cfg->groups[i].nagents;
    size_t *seen = total ? calloc(total, sizeof *seen) : NULL;
    if (total && !seen)
        return CR_ENOMEM;
    int rc = CR_OK;
    for (size_t i = 0; i < cfg->ngroups && rc == CR_OK; i++) {
        cr_rgs_group *g = &cfg->groups[i];
        char ob[300];
        object(ob, sizeof ob, "agentGroup", g->name);
        if (g->alert_time_s < CR_RGS_ALERT_MIN || g->alert_time_s > CR_RGS_ALERT_MAX)
            cr_diag_add(diag, CR_DIAG_ERROR, g->loc, ob, "alertTime %d is outside %d-%d seconds",
                        g->alert_time_s, CR_RGS_ALERT_MIN, CR_RGS_ALERT_MAX);
        if (g->decline_grace_s < 0)
            cr_diag_add(diag, CR_DIAG_ERROR, g->loc, ob, "declineGrace must not be negative");
        else if (g->decline_grace_s > CR_RGS_SECONDS_MAX) /* what the XML reader allows */
            cr_diag_add(diag, CR_DIAG_ERROR, g->loc, ob, "declineGrace %d is over %d seconds",
                        g->decline_grace_s, CR_RGS_SECONDS_MAX);
        if (g->nagents && !(g->agents = calloc(g->nagents, sizeof *g->agents)))
            rc = CR_ENOMEM;
        for (size_t j = 0; j < g->nagents && rc == CR_OK; j++)
            rc = resolve_agent(cfg, x, g, i, j, seen, ob, diag);
    }
    free(seen);
    return rc;
}

static int resolve_queues(cr_rgs_config *cfg, cr_diag *diag)
{
    rgs_index *x = idx_of(cfg);
    for (size_t i = 0; i < cfg->nqueues; i++) {
        cr_rgs_queue *q = &cfg->queues[i];
        char ob[300];
        object(ob, sizeof ob, "queue", q->name);
        if (q->ngroups && !(q->groups = calloc(q->ngroups, sizeof *q->groups)))
            return CR_ENOMEM;
        for (size_t j = 0; j < q->ngroups; j++) {
            long g = rgs_map_get(&x->groups, q->group_names[j]);
            if (g < 0)
                cr_diag_add(diag, CR_DIAG_ERROR, q->loc, ob, "agent group '%s' is not defined",
                            q->group_names[j]);
            /* as an agent listed twice in a group (a few groups a queue: compared in turn,
             * up to 64 of them) */
            for (size_t k = 0; g >= 0 && k < j && k < 64; k++)
                if (strcmp(q->group_names[k], q->group_names[j]) == 0) {
                    cr_diag_add(diag, CR_DIAG_ERROR, q->loc, ob, "agent group '%s' listed twice",
                                q->group_names[j]);
                    break;
                }
            q->groups[j] = g < 0 ? 0 : (size_t)g;
        }
        if (q->timeout_s < 0)
            cr_diag_add(diag, CR_DIAG_ERROR, q->loc, ob, "timeout must not be negative");
        else if (q->timeout_s > CR_RGS_SECONDS_MAX)
            cr_diag_add(diag, CR_DIAG_ERROR, q->loc, ob, "timeout %d is over %d seconds",
                        q->timeout_s, CR_RGS_SECONDS_MAX);
        if (q->overflow_calls < -1 || q->overflow_calls > CR_RGS_OVERFLOW_MAX)
            cr_diag_add(diag, CR_DIAG_ERROR, q->loc, ob, "overflow calls %d is outside 0-%d",
                        q->overflow_calls, CR_RGS_OVERFLOW_MAX);
        resolve_action(cfg, &q->timeout_action, ob, diag);
        resolve_action(cfg, &q->overflow_action, ob, diag);
    }
    return CR_OK;
}

#define CR_RGS_OVERLAP_CHECKED 8

static int check_hours(cr_rgs_config *cfg, cr_diag *diag)
{
    rgs_index *x = idx_of(cfg);
    for (size_t i = 0; i < cfg->nhours; i++) {
        cr_rgs_hours *h = &cfg->hours[i];
        char ob[300];
        object(ob, sizeof ob, "hoursSet", h->name);
        if (h->tz_name) {
            h->tz = rgs_map_get(&x->tzs, h->tz_name);
            if (h->tz < 0)
                cr_diag_add(diag, CR_DIAG_ERROR, h->loc, ob, "unknown time zone '%s'", h->tz_name);
        }
        for (size_t r = 0; r < h->nranges; r++) {
            cr_rgs_range *a = &h->ranges[r];
            if (a->open_min < 0 || a->close_min > 1440 || a->open_min >= a->close_min)
                cr_diag_add(diag, CR_DIAG_ERROR, a->loc, ob,
                            "range must open before it closes (00:00-24:00)");
        }
        for (int d = 0; d < 7; d++) {
            int n = 0;
            for (size_t r = 0; r < h->nranges; r++) {
                cr_rgs_range *a = &h->ranges[r];
                if (!(a->days & (1u << d)))
                    continue;
                /* past a few ranges on a day (two are allowed: refused below) the pairs are
                 * not compared: a forged image may hold thousands */
                if (++n > CR_RGS_OVERLAP_CHECKED)
                    continue;
                for (size_t s = r + 1; s < h->nranges; s++) {
                    cr_rgs_range *b = &h->ranges[s];
                    if ((b->days & (1u << d)) && a->open_min < b->close_min &&
                        b->open_min < a->close_min)
                        cr_diag_add(diag, CR_DIAG_ERROR, b->loc, ob, "ranges overlap");
                }
            }
            if (n > 2) {
                static const char *names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
                cr_diag_add(diag, CR_DIAG_ERROR, h->loc, ob, "more than two ranges on %s",
                            names[d]);
            }
        }
    }
    for (size_t i = 0; i < cfg->nholidays; i++)
        for (size_t j = 0; j < cfg->holidays[i].ndays; j++) {
            cr_rgs_holiday *d = &cfg->holidays[i].days[j];
            char ob[300];
            if (d->end_local <= d->start_local)
                cr_diag_add(diag, CR_DIAG_ERROR, d->loc,
                            object(ob, sizeof ob, "holidaySet", cfg->holidays[i].name),
                            "holiday '%s' ends before it starts", d->name);
        }
    return CR_OK;
}

/* The form of a workflow's URI that find_canonical looks up for a called URI: without
 * parameters or headers, the scheme and (sip:, sips:) the host in lower case. Written to
 * buf (cap bytes); false when it is the URI as written, or does not fit. */
static bool canonical_uri(const char *uri, char *buf, size_t cap)
{
    size_t end = strcspn(uri, ";?");
    const char *colon = memchr(uri, ':', end);
    if (!colon || end >= cap)
        return false;
    size_t sl = (size_t)(colon - uri);
    memcpy(buf, uri, end);
    buf[end] = 0;
    for (size_t i = 0; i < sl; i++)
        buf[i] = (char)tolower((unsigned char)buf[i]);
    bool sip = (sl == 3 && memcmp(buf, "sip", 3) == 0) || (sl == 4 && memcmp(buf, "sips", 4) == 0);
    char *at = sip ? strchr(buf + sl + 1, '@') : NULL;
    for (char *c = at; c && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return strcmp(buf, uri) != 0;
}

static int resolve_workflows(cr_rgs_config *cfg, cr_diag *diag)
{
    rgs_index *x = idx_of(cfg);
    for (size_t i = 0; i < cfg->nworkflows; i++) {
        cr_rgs_workflow *w = &cfg->workflows[i];
        char ob[300];
        object(ob, sizeof ob, "workflow", w->name);
        if (!w->uri) {
            cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "missing uri");
        } else {
            int rc = rgs_kmap_add(&x->workflows, w->uri, (long)i);
            if (rc == 1)
                cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "uri %s used by another workflow",
                            w->uri);
            else if (rc < 0)
                return CR_ENOMEM;
            /* and as a called URI is compared (find_canonical): sip:line@Contoso.COM is found
             * by a call to sip:line@contoso.com. A URI another workflow has this form of
             * keeps its own; the alias is kept with the configuration's strings. */
            char canon[1024];
            const char *alias;
            if (rc == 0 && canonical_uri(w->uri, canon, sizeof canon) &&
                rgs_kmap_get(&x->workflows, canon) < 0 &&
                (!(alias = cr_rgs_config_keep(cfg, canon)) ||
                 rgs_kmap_add(&x->workflows, alias, (long)i) < 0))
                return CR_ENOMEM;
        }
        if (w->line) {
            int rc = rgs_kmap_add(&x->workflows, w->line, (long)i);
            if (rc == 1)
                cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "line %s used by another workflow",
                            w->line);
            else if (rc < 0)
                return CR_ENOMEM;
        }
        if (w->queue_name) {
            w->queue = rgs_map_get(&x->queues, w->queue_name);
            if (w->queue < 0)
                cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "queue '%s' is not defined",
                            w->queue_name);
        } else if (w->type == CR_RGS_HUNT_GROUP) {
            cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "a hunt group needs a queue");
        }
        if (w->type == CR_RGS_IVR && !w->script)
            cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "an ivr workflow needs a script");
        if (w->hours_name) {
            w->hours = rgs_map_get(&x->hours, w->hours_name);
            if (w->hours < 0)
                cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "hoursSet '%s' is not defined",
                            w->hours_name);
        }
        if (w->holidays_name) {
            w->holidays = rgs_map_get(&x->holidays, w->holidays_name);
            if (w->holidays < 0)
                cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "holidaySet '%s' is not defined",
                            w->holidays_name);
        }
        if (w->tz_name) {
            w->tz = rgs_map_get(&x->tzs, w->tz_name);
            if (w->tz < 0)
                cr_diag_add(diag, CR_DIAG_ERROR, w->loc, ob, "unknown time zone '%s'", w->tz_name);
        } else if (w->hours >= 0) {
            w->tz = cfg->hours[w->hours].tz;
        }
        resolve_action(cfg, &w->after_hours, ob, diag);
        resolve_action(cfg, &w->holiday_action, ob, diag);
    }
    return CR_OK;
}

int cr_rgs_config_resolve(cr_rgs_config *cfg, cr_diag *diag)
{
    rgs_index *x = idx_of(cfg);
    size_t errors0 = diag->errors;
    int rc;
    INDEX_NAMES(x->groups, cfg->groups, cfg->ngroups, "agentGroup");
    INDEX_NAMES(x->queues, cfg->queues, cfg->nqueues, "queue");
    INDEX_NAMES(x->hours, cfg->hours, cfg->nhours, "hoursSet");
    INDEX_NAMES(x->holidays, cfg->holidays, cfg->nholidays, "holidaySet");
    if ((rc = resolve_groups(cfg, diag)) < 0 || (rc = resolve_queues(cfg, diag)) < 0 ||
        (rc = check_hours(cfg, diag)) < 0 || (rc = resolve_workflows(cfg, diag)) < 0)
        return rc;
    if (diag->errors > errors0)
        return CR_ECONFIG;
    cfg->resolved = true;
    return CR_OK;
}

long cr_rgs_config_group_find(const cr_rgs_config *cfg, const char *name)
{
    return rgs_map_get(&idx_of(cfg)->groups, name);
}

long cr_rgs_config_queue_find(const cr_rgs_config *cfg, const char *name)
{
    return rgs_map_get(&idx_of(cfg)->queues, name);
}

long cr_rgs_config_agent_find(const cr_rgs_config *cfg, const char *uri)
{
    return rgs_map_get(&idx_of(cfg)->agents, uri);
}

RGS_HOT void rgs_workflow_prefetch(const cr_rgs_config *cfg, uint64_t h)
{
    rgs_kmap_prefetch(&idx_of(cfg)->workflows, h);
}

/*
 * The called URI as RFC 3261 compares it, when it is not found as written: scheme and host
 * in lower case, without parameters or headers, then also without a port; and for a SIP URI
 * whose user part is a number (+digits, as a call to the line arrives from a gateway:
 * sip:+14255550110@contoso.com;user=phone), the line tel:+digits, as the Kamailio host
 * looks it up (crg_target). Cold: only calls to no workflow as written come here.
 */
static __attribute__((noinline)) long find_canonical(const rgs_kmap *m, const char *to, size_t n)
{
    char buf[1024];
    size_t end = 0;
    while (end < n && to[end] != ';' && to[end] != '?')
        end++;
    const char *colon = memchr(to, ':', end);
    if (!colon || end >= sizeof buf)
        return -1;
    size_t sl = (size_t)(colon - to);
    for (size_t i = 0; i < end; i++)
        buf[i] = i < sl ? (char)tolower((unsigned char)to[i]) : to[i];
    buf[end] = 0;
    bool sip = (sl == 3 && memcmp(buf, "sip", 3) == 0) || (sl == 4 && memcmp(buf, "sips", 4) == 0);
    if (!sip)
        return rgs_kmap_get_n(m, buf, end);
    char *user = buf + sl + 1, *at = memchr(user, '@', end - sl - 1);
    if (at) {
        for (char *c = at + 1; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        long w = rgs_kmap_get_n(m, buf, end);
        char *port = strchr(at + 1, ':');
        if (w < 0 && port)
            w = rgs_kmap_get_n(m, buf, (size_t)(port - buf));
        if (w >= 0)
            return w;
        size_t ul = (size_t)(at - user);
        bool number = ul > 1 && user[0] == '+';
        for (size_t i = 1; number && i < ul; i++)
            number = user[i] >= '0' && user[i] <= '9';
        if (!number)
            return -1;
        char tel[sizeof buf + 4];
        int tl = snprintf(tel, sizeof tel, "tel:%.*s", (int)ul, user);
        return rgs_kmap_get_n(m, tel, (size_t)tl);
    }
    return rgs_kmap_get_n(m, buf, end);
}

RGS_HOT long rgs_workflow_find_h(const cr_rgs_config *cfg, const char *to, size_t n, uint64_t h)
{
    long w = rgs_kmap_get_h(&idx_of(cfg)->workflows, to, n, h);
    if (w >= 0)
        return w;
    /* without its parameters (what precedes the first ';', under 1024 bytes) */
    const char *semi = memchr(to, ';', n);
    if (semi && semi - to < 1024 &&
        (w = rgs_kmap_get_n(&idx_of(cfg)->workflows, to, (size_t)(semi - to))) >= 0)
        return w;
    return find_canonical(&idx_of(cfg)->workflows, to, n);
}

long cr_rgs_config_workflow_find(const cr_rgs_config *cfg, const char *to)
{
    size_t n = strlen(to);
    return rgs_workflow_find_h(cfg, to, n, rgs_kmap_hash(to, n));
}
/* Registers a parsed zone in the index (called by rgs_tz.c). */
int rgs_config_index_tz(cr_rgs_config *cfg, size_t i)
{
    return rgs_map_put(&idx_of(cfg)->tzs, cfg->tzs[i].name, (long)i) < 0 ? CR_ENOMEM : CR_OK;
}

bool cr_rgs_config_has_tz(const cr_rgs_config *cfg, const char *name)
{
    return rgs_map_get(&idx_of(cfg)->tzs, name) >= 0;
}

/* Makes room for one more zone (called by rgs_tz.c). */
cr_rgs_tz *rgs_config_new_tz(cr_rgs_config *cfg)
{
    if (!CR_GROW(cfg->tzs, cfg->ntzs, cfg->captzs))
        return NULL;
    cr_rgs_tz *z = &cfg->tzs[cfg->ntzs];
    memset(z, 0, sizeof *z);
    return z;
}

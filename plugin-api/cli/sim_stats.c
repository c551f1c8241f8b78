/* simulate --stats: queue and agent figures from the queue event log (see sim_stats.h). */
#include "sim_stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct qfig {
    char name[256];
    uint64_t answered, abandoned, timeouts, overflows, within;
    int64_t answer_wait_ms, abandon_wait_ms;
} qfig;

typedef struct afig {
    char uri[256];
    uint64_t offered, answered, no_answer, declined;
    int64_t ring_ms; /* of the answered offers */
} afig;

typedef struct offer {
    char call[128], agent[256];
    int64_t at_ms;
} offer;

struct sim_stats {
    int64_t level_ms;
    qfig *q;
    size_t nq, capq;
    afig *a;
    size_t na, capa;
    offer *o; /* open offers: ringing, not yet answered or ended */
    size_t no, capo;
};

sim_stats *sim_stats_new(int64_t service_level_s)
{
    sim_stats *st = calloc(1, sizeof *st);
    if (st)
        st->level_ms = service_level_s * 1000;
    return st;
}

void sim_stats_free(sim_stats *st)
{
    if (!st)
        return;
    free(st->q);
    free(st->a);
    free(st->o);
    free(st);
}

/* Grows *v (of *cap elements of `size`) to hold n + 1; false when out of memory. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, c * size);
    if (!p)
        return 0;
    *v = p;
    *cap = c;
    return 1;
}

/* The value of key `k` in a log line (key=value or key="value"), into out; 0 if absent. */
static int field(const char *line, const char *k, char *out, size_t len)
{
    size_t kl = strlen(k);
    for (const char *p = line; (p = strstr(p, k)) != NULL; p += kl) {
        if ((p != line && p[-1] != ' ') || p[kl] != '=')
            continue;
        const char *v = p + kl + 1;
        size_t n = *v == '"' ? strcspn(++v, "\"") : strcspn(v, " ");
        if (n >= len)
            n = len - 1;
        memcpy(out, v, n);
        out[n] = '\0';
        return 1;
    }
    return 0;
}

static qfig *queue_of(sim_stats *st, const char *name)
{
    for (size_t i = 0; i < st->nq; i++)
        if (strcmp(st->q[i].name, name) == 0)
            return &st->q[i];
    if (!grow((void **)&st->q, &st->capq, st->nq, sizeof *st->q))
        return NULL;
    qfig *q = &st->q[st->nq++];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    return q;
}

static afig *agent_of(sim_stats *st, const char *uri)
{
    for (size_t i = 0; i < st->na; i++)
        if (strcmp(st->a[i].uri, uri) == 0)
            return &st->a[i];
    if (!grow((void **)&st->a, &st->capa, st->na, sizeof *st->a))
        return NULL;
    afig *a = &st->a[st->na++];
    memset(a, 0, sizeof *a);
    snprintf(a->uri, sizeof a->uri, "%s", uri);
    return a;
}

/* Closes the open offer of `call` to `agent`; its start in *at (or -1 when none). */
static int64_t close_offer(sim_stats *st, const char *call, const char *agent)
{
    for (size_t i = 0; i < st->no; i++) {
        if (strcmp(st->o[i].call, call) == 0 && strcmp(st->o[i].agent, agent) == 0) {
            int64_t at = st->o[i].at_ms;
            st->o[i] = st->o[--st->no];
            return at;
        }
    }
    return -1;
}

static int64_t wait_ms(const char *line)
{
    char w[32];
    return field(line, "wait", w, sizeof w) ? (int64_t)(strtod(w, NULL) * 1000.0 + 0.5) : 0;
}

static void agent_event(sim_stats *st, int64_t at_ms, const char *ev, const char *line,
                        const char *call)
{
    char uri[256];
    afig *a;
    if (!field(line, "agent", uri, sizeof uri) || !(a = agent_of(st, uri)))
        return;
    if (strcmp(ev, "offered") == 0) {
        a->offered++;
        close_offer(st, call, uri);
        if (grow((void **)&st->o, &st->capo, st->no, sizeof *st->o)) {
            offer *o = &st->o[st->no++];
            snprintf(o->call, sizeof o->call, "%s", call);
            snprintf(o->agent, sizeof o->agent, "%s", uri);
            o->at_ms = at_ms;
        }
    } else if (strcmp(ev, "connected") == 0) {
        int64_t since = close_offer(st, call, uri);
        a->answered++;
        a->ring_ms += since >= 0 ? at_ms - since : 0;
    } else if (strcmp(ev, "no_answer") == 0) {
        a->no_answer++;
        close_offer(st, call, uri);
    } else if (strcmp(ev, "declined") == 0) {
        a->declined++;
        close_offer(st, call, uri);
    }
}

void sim_stats_log(sim_stats *st, int64_t at_ms, const char *line)
{
    char ev[32], call[128] = "", qname[256];
    size_t n = strcspn(line, " ");
    if (!st || n == 0 || n >= sizeof ev)
        return;
    memcpy(ev, line, n);
    ev[n] = '\0';
    field(line, "call", call, sizeof call);
    agent_event(st, at_ms, ev, line, call);
    if (!field(line, "queue", qname, sizeof qname))
        return;
    qfig *q = queue_of(st, qname);
    if (!q)
        return;
    if (strcmp(ev, "connected") == 0) {
        int64_t w = wait_ms(line);
        q->answered++;
        q->answer_wait_ms += w;
        q->within += w <= st->level_ms;
    } else if (strcmp(ev, "abandoned") == 0) {
        q->abandoned++;
        q->abandon_wait_ms += wait_ms(line);
    } else if (strcmp(ev, "timeout") == 0) {
        q->timeouts++;
    } else if (strcmp(ev, "overflow") == 0) {
        q->overflows++;
    }
}

static double avg_s(int64_t total_ms, uint64_t n)
{
    return n ? (double)total_ms / 1000.0 / (double)n : 0.0;
}

void sim_stats_queue_line(const sim_stats *st, const char *args, char *out, size_t len)
{
    char qname[256];
    const qfig *q = NULL;
    static const qfig none;
    /* the engine's counters up to its average_wait, which is replaced */
    const char *avg = strstr(args, " average_wait=");
    int keep = avg ? (int)(avg - args) : (int)strlen(args);
    if (field(args, "queue", qname, sizeof qname))
        for (size_t i = 0; i < st->nq; i++)
            if (strcmp(st->q[i].name, qname) == 0)
                q = &st->q[i];
    if (!q)
        q = &none;
    uint64_t ended = q->answered + q->abandoned + q->timeouts + q->overflows;
    char level[32];
    if (ended)
        snprintf(level, sizeof level, "%.1f", 100.0 * (double)q->within / (double)ended);
    else
        snprintf(level, sizeof level, "-");
    snprintf(out, len,
             "%.*s average_answer_wait=%.3f average_abandon_wait=%.3f answered_within=%" PRIu64
             " service_level=%s service_level_s=%" PRId64,
             keep, args, avg_s(q->answer_wait_ms, q->answered),
             avg_s(q->abandon_wait_ms, q->abandoned), q->within, level, st->level_ms / 1000);
}

void sim_stats_agents(const sim_stats *st, int64_t at, sim_emit_fn emit, void *ud)
{
    char line[512];
    for (size_t i = 0; i < st->na; i++) {
        const afig *a = &st->a[i];
        snprintf(line, sizeof line,
                 "agent=%s offered=%" PRIu64 " answered=%" PRIu64 " no_answer=%" PRIu64
                 " declined=%" PRIu64 " average_ring=%.3f",
                 a->uri, a->offered, a->answered, a->no_answer, a->declined,
                 avg_s(a->ring_ms, a->answered));
        emit(ud, at, "-", "stats", line);
    }
}

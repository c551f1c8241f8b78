/*
 * callroute bench --rgs: the response-group engine under a simulated call centre, driven
 * through the plugin ABI as a SIP host drives it.
 *
 * Two workloads:
 *   synthetic (default)  --agents N --groups G --waiting W (100,000 / 10,000 / 50,000): one
 *                        queue and hunt-group workflow per group; groups g % 7 == 3 formal;
 *                        routing by g % 10 (4 parallel, 4 longest idle, 1 serial, 1 round
 *                        robin; g % 100 == 99 attendant); 20% of agents in a second group, 10%
 *                        of queues with a second group; about W callers kept waiting (a
 *                        closed population: each call that leaves is replaced, one more or
 *                        one fewer while the count of waiting calls is off W); 10% of the
 *                        calls go to 5% of the workflows.
 *   --model ocs2007r2    the RGS user model of the OCS 2007 R2 planning guide (450 response
 *                        groups, 800 formal and 5,000 informal agents in two groups each,
 *                        routing 40% parallel / 40% longest idle / 10% serial / 10% round
 *                        robin, 10% of queues with two groups, 480 simultaneous calls of
 *                        30 s IVR and hold plus 3 min with an agent, 4 sign-in/out cycles a
 *                        day per formal agent), Poisson arrivals, --scale K times the load
 *                        on a deployment --config-scale C (default K) times the size. The
 *                        model's "10 agents per group" does not fit its other figures (5,800
 *                        agents in two groups each over 495 groups): groups hold ~23 agents.
 * Both: queues q % 4 == 0 time out after 900 s to voicemail, q % 10 == 5 overflow (forward);
 * half the workflows play a welcome prompt (the IVR part of the model: hunt groups only, the
 * Lua IVR is not exercised), some have business hours and a holiday set.
 *
 * The simulated people: an offer is answered (85%, after 2-8 s) or declined (7%, after 1-5 s)
 * by one of the agents rung, or rings out (8%); talks last 3 min on average (exponential) and
 * end on the agent's side (80%) or the caller's; callers on hold give up after an exponential
 * patience; agents go away/busy/dnd/offline and come back; formal agents sign out and in
 * again. The engine's timers run through rgs_advance at the deadline it returns (the bench
 * asks for it after every event, as a host re-arms its timer; those polls are timed apart).
 *
 * Latency is clock_gettime around each rgs_event (and each rgs_advance that is due), the
 * emit callback included (it only copies the actions; the bench reacts to them afterwards).
 * The first simulated minutes (--warmup, default 300 s / 900 s: filling the queues) are
 * reported apart; call figures are those of the measured part. "preempted" counts the
 * involuntary context switches meanwhile (another process took the core: the tail then
 * measures the machine). "actions_digest" hashes every action emitted: two engine builds
 * that print the same digest for the same options behaved identically. --trace-slow NS
 * prints the events slower than NS to stderr; --keep FILE keeps the generated XML.
 */
#define _GNU_SOURCE
#include "cli_rgs_bench.h"
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- random numbers ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return n ? (size_t)(rng_next(s) % n) : 0;
}

/* Natural logarithm of x in (0, 1] (no libm in the command line). */
static double ln01(double x)
{
    int e = 0;
    while (x < 0.5)
        x *= 2, e--;
    double y = (x - 1) / (x + 1), y2 = y * y, t = y, sum = 0;
    for (int k = 1; k < 30; k += 2, t *= y2)
        sum += t / k;
    return 2 * sum + e * 0.6931471805599453;
}

/* An exponential delay in whole ms, rounded (so that the mean holds for short means). */
static int64_t rng_exp(uint64_t *s, double mean_ms)
{
    return (int64_t)(-mean_ms * ln01(1.0 - rng_unit(s)) + 0.5);
}

static int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below(s, (size_t)(hi - lo + 1));
}

/* ---- the generated deployment -------------------------------------------------------------- */

static const char *const methods[] = {"serial", "parallel", "roundRobin", "longestIdle",
                                      "attendant"};
enum { M_SERIAL, M_PARALLEL, M_ROUND_ROBIN, M_LONGEST_IDLE, M_ATTENDANT };

typedef struct plan {
    size_t nagents, ngroups, nqueues, nformal; /* agents [0, nformal) are the formal ones */
    uint8_t *routing, *formal;                 /* per group */
    size_t *gstart, *gagents; /* agents of group g: gagents[gstart[g] .. gstart[g + 1]) */
    uint32_t *primary;        /* each agent's first group */
    size_t memberships;
    size_t counts[5]; /* groups per routing method */
    int overflow_calls;
    size_t nhot; /* the first nhot workflows get hot_pct% of the calls */
    int hot_pct;
} plan;

static void plan_free(plan *pl)
{
    free(pl->routing), free(pl->formal), free(pl->gstart), free(pl->gagents), free(pl->primary);
}

/* Group of agent j (0-based in its set of n groups `set`), membership k (0 or 1). */
static size_t member_group(const size_t *set, size_t n, size_t j, int k)
{
    size_t first = j % n;
    if (k == 0 || n < 2)
        return set[first];
    return set[(first + 1 + (j / n) % (n - 1)) % n];
}

/*
 * Groups g with g % 7 == 3 are formal and hold the formal agents; the others hold the
 * informal ones. Every agent is in one group, second_pct% of them in a second one. Routing
 * by g % 10: 0-3 parallel, 4-7 longest idle, 8 serial, 9 round robin (and, with attendant,
 * g % 100 == 99 attendant).
 */
static int plan_build(plan *pl, int second_pct, bool attendant)
{
    size_t G = pl->ngroups, N = pl->nagents;
    pl->routing = calloc(G, 1);
    pl->formal = calloc(G, 1);
    pl->gstart = calloc(G + 1, sizeof *pl->gstart);
    pl->primary = calloc(N ? N : 1, sizeof *pl->primary);
    size_t *fset = calloc(G, sizeof *fset), *iset = calloc(G, sizeof *iset), nf = 0, ni = 0;
    if (!pl->routing || !pl->formal || !pl->gstart || !pl->primary || !fset || !iset) {
        free(fset), free(iset);
        return -1;
    }
    for (size_t g = 0; g < G; g++) {
        static const uint8_t mix[10] = {
            M_PARALLEL,     M_PARALLEL,     M_PARALLEL,     M_PARALLEL, M_LONGEST_IDLE,
            M_LONGEST_IDLE, M_LONGEST_IDLE, M_LONGEST_IDLE, M_SERIAL,   M_ROUND_ROBIN};
        pl->routing[g] = attendant && g % 100 == 99 ? M_ATTENDANT : mix[g % 10];
        pl->counts[pl->routing[g]]++;
        pl->formal[g] = pl->nformal && g % 7 == 3;
        if (pl->formal[g])
            fset[nf++] = g;
        else
            iset[ni++] = g;
    }
    if ((pl->nformal && !nf) || (pl->nformal < N && !ni)) {
        free(fset), free(iset);
        return -1;
    }
    size_t *cnt = pl->gstart + 1;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t a = 0; a < N; a++) {
            bool f = a < pl->nformal;
            size_t j = f ? a : a - pl->nformal, n = f ? nf : ni;
            const size_t *set = f ? fset : iset;
            int k = second_pct >= 100 || (second_pct > 0 && j % (100 / second_pct) == 0) ? 2 : 1;
            for (int m = 0; m < k && (m == 0 || n > 1); m++) {
                size_t g = member_group(set, n, j, m);
                if (m == 0)
                    pl->primary[a] = (uint32_t)g;
                if (pass == 0)
                    cnt[g]++;
                else
                    pl->gagents[pl->gstart[g] + cnt[g]++] = a;
            }
        }
        if (pass == 0) {
            for (size_t g = 0; g < G; g++)
                pl->gstart[g + 1] += pl->gstart[g];
            pl->memberships = pl->gstart[G];
            if (!(pl->gagents =
                      malloc((pl->memberships ? pl->memberships : 1) * sizeof *pl->gagents))) {
                free(fset), free(iset);
                return -1;
            }
            /* pass 1 fills each group from its start, counting again from 0 */
            cnt = calloc(G, sizeof *cnt);
            if (!cnt) {
                free(fset), free(iset);
                return -1;
            }
        }
    }
    free(cnt);
    free(fset), free(iset);
    return 0;
}

/* The second group of queue q, or -1. */
static long queue_second_group(const plan *pl, size_t q)
{
    if (q % 10 != 9 || pl->ngroups < 2)
        return -1;
    size_t extra = pl->nqueues + q / 10;
    return (long)(extra < pl->ngroups ? extra : (q + 1) % pl->ngroups);
}

static void agent_uri(char *buf, size_t len, size_t a)
{
    snprintf(buf, len, "sip:agent%06zu@contoso.com", a);
}

static int plan_write(const plan *pl, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static char iobuf[1 << 20];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    fputs("<?xml version=\"1.0\"?>\n<callroute xmlns=\"urn:callroute:config:1\">\n"
          "  <responseGroups>\n",
          f);
    static const int alerts[] = {10, 15, 20, 30};
    for (size_t g = 0; g < pl->ngroups; g++) {
        fprintf(f, "    <agentGroup name=\"Group %zu\" routingMethod=\"%s\" alertTime=\"%d\"%s>", g,
                methods[pl->routing[g]], alerts[g % 4],
                pl->formal[g] ? " participation=\"formal\"" : "");
        for (size_t i = pl->gstart[g]; i < pl->gstart[g + 1]; i++)
            fprintf(f, "<agent>sip:agent%06zu@contoso.com</agent>", pl->gagents[i]);
        fputs("</agentGroup>\n", f);
    }
    for (size_t q = 0; q < pl->nqueues; q++) {
        fprintf(f, "    <queue name=\"Queue %zu\"><group>Group %zu</group>", q, q);
        long second = queue_second_group(pl, q);
        if (second >= 0)
            fprintf(f, "<group>Group %ld</group>", second);
        if (q % 4 == 0)
            fputs("<timeout seconds=\"900\" action=\"voicemail\" target=\"sip:vm@contoso.com\"/>",
                  f);
        if (q % 10 == 5)
            fprintf(f,
                    "<overflow calls=\"%d\" candidate=\"%s\" action=\"forward\" "
                    "target=\"tel:+1425555%04zu\"/>",
                    pl->overflow_calls, q % 20 == 5 ? "oldest" : "newest", q % 10000);
        fputs("</queue>\n", f);
    }
    fputs("    <hoursSet name=\"Always\" timeZone=\"Europe/Paris\">"
          "<range days=\"sun-sat\" open=\"00:00\" close=\"24:00\"/></hoursSet>\n"
          "    <holidaySet name=\"Holidays\"><holiday name=\"New Year\" start=\"2030-01-01T00:00\" "
          "end=\"2030-01-02T00:00\"/></holidaySet>\n",
          f);
    for (size_t q = 0; q < pl->nqueues; q++) {
        fprintf(f,
                "    <workflow name=\"RG %zu\" uri=\"sip:rg%zu@contoso.com\" queue=\"Queue %zu\" "
                "musicOnHold=\"moh.wav\"%s%s%s/>\n",
                q, q, q, q % 2 == 0 ? " welcome=\"welcome.wav\"" : "",
                q % 20 == 7 ? " hours=\"Always\"" : "",
                q % 50 == 13 ? " holidays=\"Holidays\"" : "");
    }
    fputs("  </responseGroups>\n</callroute>\n", f);
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* ---- the simulation -------------------------------------------------------------------------- */

enum {
    T_CALL,
    T_ANSWER,
    T_DECLINE,
    T_HANGUP,
    T_AGENT_HANGUP,
    T_PROMPT_DONE,
    T_PRESENCE,
    T_SIGNIN,
    T_SIGNOUT,
    T_TIMER,
    NTYPES
};
static const char *const type_names[NTYPES] = {"call",         "answer",      "decline",  "hangup",
                                               "agent_hangup", "prompt_done", "presence", "signin",
                                               "signout",      "timer"};

/* Bench events (the people's side); the engine's own timers are its deadline. */
enum { K_ARRIVE, K_PROMPT, K_RING, K_END, K_ABANDON, K_PRESENCE, K_BACK, K_SIGNOUT, K_SIGNIN };

typedef struct bev {
    int64_t t;
    uint64_t seq;
    uint32_t kind, a, b, gen;
} bev;

enum { C_FREE, C_ALIVE, C_QUEUED, C_CONNECTED, C_ENDED };

typedef struct bcall {
    uint8_t state;
    uint32_t ring_gen;
    int64_t queued_at;
} bcall;

typedef struct lat {
    uint32_t *v;
    size_t n, cap;
    uint64_t sum, max;
} lat;

typedef struct params {
    bool closed;          /* closed population kept around `waiting` waiting calls */
    size_t waiting;       /* target (closed) */
    double arrival_per_s; /* open: Poisson arrivals */
    double talk_ms, patience_ms;
    double presence_per_s, presence_back_ms;
    double sign_per_s, sign_back_ms;
    int64_t warmup_ms; /* simulated time before measuring */
    size_t events;
} params;

typedef struct sim {
    const cr_plugin *p;
    cr_rgs *e;
    const plan *pl;
    params pr;
    uint64_t rng;
    int64_t now, deadline;
    bev *heap;
    size_t nheap, capheap;
    uint64_t seq;
    bcall *calls;
    size_t ncalls, capcalls;
    uint8_t *away, *signed_out;
    /* actions of the ABI call in progress: "call\0action\0args\0" */
    char *abuf;
    size_t alen, acap, nacts;
    bool measuring;
    lat lt[NTYPES];
    uint64_t poll_ns, polls, warm_events, warm_ns;
    uint64_t errors, stuck;
    uint64_t slow_ns; /* --trace-slow: events slower than this are printed to stderr */
    uint64_t digest;  /* FNV-1a of every action: equal runs emitted the same actions */
    char first_err[256];
    /* calls */
    size_t alive, queued, connected;
    uint64_t arrived, offers, answered, declined, rang_out, abandoned, agent_hangups,
        caller_hangups, voicemails, transfers, other_hangups;
    int64_t wait_sum_ms, wait_max_ms;
    /* samples of the waiting count while measuring */
    uint64_t samples;
    double queued_sum;
    size_t queued_min, queued_max;
    int64_t measure_start_ms;
} sim;

static bool bev_less(const bev *a, const bev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(sim *s, int64_t t, uint32_t kind, uint32_t a, uint32_t b, uint32_t gen)
{
    if (s->nheap == s->capheap) {
        size_t ncap = s->capheap ? s->capheap * 2 : 1024;
        bev *h = realloc(s->heap, ncap * sizeof *h);
        if (!h) {
            fprintf(stderr, "callroute bench: out of memory\n");
            exit(2);
        }
        s->heap = h, s->capheap = ncap;
    }
    bev x = {t, s->seq++, kind, a, b, gen};
    size_t i = s->nheap++;
    while (i > 0 && bev_less(&x, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = x;
}

static bev pop(sim *s)
{
    bev top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= s->nheap)
            break;
        size_t m = l + 1 < s->nheap && bev_less(&s->heap[l + 1], &s->heap[l]) ? l + 1 : l;
        if (!bev_less(&s->heap[m], &last))
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->nheap)
        s->heap[i] = last;
    return top;
}

static void on_emit(void *ud, int64_t at_ms, const char *call, const char *action, const char *args)
{
    (void)at_ms;
    sim *s = ud;
    size_t lc = strlen(call) + 1, la = strlen(action) + 1, lg = strlen(args) + 1;
    if (s->alen + lc + la + lg > s->acap) {
        size_t ncap = (s->alen + lc + la + lg) * 2;
        char *b = realloc(s->abuf, ncap);
        if (!b)
            return;
        s->abuf = b, s->acap = ncap;
    }
    memcpy(s->abuf + s->alen, call, lc);
    memcpy(s->abuf + s->alen + lc, action, la);
    memcpy(s->abuf + s->alen + lc + la, args, lg);
    s->alen += lc + la + lg;
    s->nacts++;
}

static uint64_t ns_between(const struct timespec *a, const struct timespec *b)
{
    return (uint64_t)((b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec));
}

static void record(sim *s, int type, uint64_t ns)
{
    if (!s->measuring) {
        s->warm_events++;
        s->warm_ns += ns;
        return;
    }
    lat *l = &s->lt[type];
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 4096;
        uint32_t *v = realloc(l->v, ncap * sizeof *v);
        if (!v)
            return;
        l->v = v, l->cap = ncap;
    }
    l->v[l->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    l->sum += ns;
    if (ns > l->max)
        l->max = ns;
    s->samples++;
    s->queued_sum += (double)s->queued;
    if (s->queued < s->queued_min)
        s->queued_min = s->queued;
    if (s->queued > s->queued_max)
        s->queued_max = s->queued;
}

static uint32_t call_number(const char *id)
{
    return strncmp(id, "call", 4) == 0 ? (uint32_t)strtoul(id + 4, NULL, 10) : UINT32_MAX;
}

static void spawn(sim *s, int64_t after_ms)
{
    push(s, s->now + after_ms, K_ARRIVE, 0, 0, 0);
}

/* The call left the engine (or is about to: the bench hangs it up). */
static void end_call(sim *s, uint32_t n)
{
    bcall *c = &s->calls[n];
    if (c->state == C_QUEUED)
        s->queued--;
    else if (c->state == C_CONNECTED)
        s->connected--;
    if (c->state != C_ENDED && c->state != C_FREE)
        s->alive--;
    c->state = C_ENDED;
    if (s->pr.closed) {
        /* keep the population: one new call, one more or none while the waiting count is
         * off its target */
        int k = s->queued < s->pr.waiting                        ? 2
                : s->queued > s->pr.waiting + s->pr.waiting / 50 ? 0
                                                                 : 1;
        for (int i = 0; i < k; i++)
            spawn(s, rng_range(&s->rng, 0, 2000));
    }
}

/* One agent out of a "ring" list, at random. */
static uint32_t pick_rung(sim *s, const char *list)
{
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ' ';
    size_t k = rng_below(&s->rng, n);
    const char *p = list;
    while (k--)
        p = strchr(p, ' ') + 1;
    const char *d = strstr(p, "agent");
    return d ? (uint32_t)strtoul(d + 5, NULL, 10) : 0;
}

static void react(sim *s)
{
    const char *p = s->abuf;
    for (size_t i = 0; i < s->nacts; i++) {
        const char *call = p, *action = call + strlen(call) + 1,
                   *args = action + strlen(action) + 1;
        p = args + strlen(args) + 1;
        for (const char *q = call; q < p; q++)
            s->digest = (s->digest ^ (unsigned char)*q) * 1099511628211ULL;
        uint32_t n = call_number(call);
        if (n >= s->ncalls)
            continue;
        bcall *c = &s->calls[n];
        if (c->state == C_ENDED || c->state == C_FREE)
            continue;
        if (strcmp(action, "play") == 0) {
            push(s, s->now + rng_range(&s->rng, 5000, 15000), K_PROMPT, n, 0, 0);
        } else if (strcmp(action, "moh") == 0) {
            if (c->state == C_ALIVE) {
                c->state = C_QUEUED;
                c->queued_at = s->now;
                s->queued++;
                push(s, s->now + rng_exp(&s->rng, s->pr.patience_ms), K_ABANDON, n, 0, 0);
            }
        } else if (strcmp(action, "ring") == 0) {
            c->ring_gen++;
            s->offers++;
            uint32_t a = pick_rung(s, args);
            double u = rng_unit(&s->rng);
            if (u < 0.85)
                push(s, s->now + rng_range(&s->rng, 2000, 8000), K_RING, n, a, c->ring_gen);
            else if (u < 0.92)
                push(s, s->now + rng_range(&s->rng, 1000, 5000), K_RING, n, a | 0x80000000u,
                     c->ring_gen);
            else
                s->rang_out++;
        } else if (strcmp(action, "cancel") == 0) {
            c->ring_gen++;
        } else if (strcmp(action, "bridge") == 0) {
            c->ring_gen++;
            if (c->state == C_QUEUED) {
                s->queued--;
                int64_t w = s->now - c->queued_at;
                s->wait_sum_ms += w;
                if (w > s->wait_max_ms)
                    s->wait_max_ms = w;
            }
            c->state = C_CONNECTED;
            s->connected++;
            s->answered++;
            push(s, s->now + rng_exp(&s->rng, s->pr.talk_ms), K_END, n,
                 rng_unit(&s->rng) < 0.8 ? 1 : 0, 0);
        } else if (strcmp(action, "hangup") == 0) {
            s->other_hangups++;
            end_call(s, n);
        } else if (strcmp(action, "transfer") == 0) {
            s->transfers++;
            end_call(s, n);
        } else if (strcmp(action, "voicemail") == 0) {
            s->voicemails++;
            end_call(s, n);
        }
    }
    s->alen = s->nacts = 0;
}

/* Feeds one event line at s->now, timed; then asks for the deadline (as a host re-arms its
 * timer). */
static void feed(sim *s, int type, const char *text)
{
    char err[256];
    struct timespec t0, t1, t2;
    s->alen = s->nacts = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = s->p->rgs_event(s->e, s->now, text, on_emit, s, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    record(s, type, ns_between(&t0, &t1));
    if (s->slow_ns && s->measuring && ns_between(&t0, &t1) >= s->slow_ns)
        fprintf(stderr, "slow %llu ns at %lld ms: %s (%zu actions)\n",
                (unsigned long long)ns_between(&t0, &t1), (long long)s->now, text, s->nacts);
    if (rc != 0 && s->errors++ == 0)
        snprintf(s->first_err, sizeof s->first_err, "%.120s: %.120s", text, err);
    react(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s->deadline = s->p->rgs_advance(s->e, s->now, on_emit, s);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    if (s->measuring)
        s->poll_ns += ns_between(&t1, &t2), s->polls++;
    react(s);
}

/* The engine's deadline came: run its timers. */
static void fire_timers(sim *s)
{
    struct timespec t0, t1;
    if (s->deadline > s->now)
        s->now = s->deadline;
    s->alen = s->nacts = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t next = s->p->rgs_advance(s->e, s->now, on_emit, s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    record(s, T_TIMER, ns_between(&t0, &t1));
    if (s->slow_ns && s->measuring && ns_between(&t0, &t1) >= s->slow_ns)
        fprintf(stderr, "slow %llu ns at %lld ms: timers (%zu actions)\n",
                (unsigned long long)ns_between(&t0, &t1), (long long)s->now, s->nacts);
    react(s);
    if (next >= 0 && next <= s->now) {
        s->stuck++;
        next = s->now + 1;
    }
    s->deadline = next;
}

static void handle(sim *s, const bev *ev)
{
    char text[512], uri[64];
    const plan *pl = s->pl;
    switch (ev->kind) {
    case K_ARRIVE: {
        if (s->ncalls == s->capcalls) {
            size_t ncap = s->capcalls ? s->capcalls * 2 : 65536;
            bcall *c = realloc(s->calls, ncap * sizeof *c);
            if (!c) {
                fprintf(stderr, "callroute bench: out of memory\n");
                exit(2);
            }
            s->calls = c, s->capcalls = ncap;
        }
        uint32_t n = (uint32_t)s->ncalls++;
        s->calls[n] = (bcall){C_ALIVE, 0, 0};
        s->alive++;
        s->arrived++;
        size_t wf = pl->nhot && rng_below(&s->rng, 100) < (size_t)pl->hot_pct
                        ? rng_below(&s->rng, pl->nhot)
                        : rng_below(&s->rng, pl->nqueues);
        snprintf(text, sizeof text, "call call%u sip:+1425%07u@fabrikam.com sip:rg%zu@contoso.com",
                 n, n % 10000000, wf);
        if (!s->pr.closed)
            push(s, s->now + rng_exp(&s->rng, 1000.0 / s->pr.arrival_per_s), K_ARRIVE, 0, 0, 0);
        feed(s, T_CALL, text);
        return;
    }
    case K_PROMPT:
        if (s->calls[ev->a].state != C_ALIVE)
            return;
        snprintf(text, sizeof text, "prompt_done call%u", ev->a);
        feed(s, T_PROMPT_DONE, text);
        return;
    case K_RING: {
        bcall *c = &s->calls[ev->a];
        if (c->state != C_QUEUED || c->ring_gen != ev->gen)
            return;
        bool decline = ev->b & 0x80000000u;
        agent_uri(uri, sizeof uri, ev->b & 0x7fffffffu);
        snprintf(text, sizeof text, "%s call%u %s", decline ? "decline" : "answer", ev->a, uri);
        if (decline)
            s->declined++;
        feed(s, decline ? T_DECLINE : T_ANSWER, text);
        return;
    }
    case K_END: {
        if (s->calls[ev->a].state != C_CONNECTED)
            return;
        end_call(s, ev->a);
        bool agent = ev->b;
        snprintf(text, sizeof text, "%s call%u", agent ? "agent_hangup" : "hangup", ev->a);
        if (agent)
            s->agent_hangups++;
        else
            s->caller_hangups++;
        feed(s, agent ? T_AGENT_HANGUP : T_HANGUP, text);
        return;
    }
    case K_ABANDON:
        if (s->calls[ev->a].state != C_QUEUED)
            return;
        end_call(s, ev->a);
        s->abandoned++;
        snprintf(text, sizeof text, "hangup call%u", ev->a);
        feed(s, T_HANGUP, text);
        return;
    case K_PRESENCE: {
        static const char *const states[] = {"away", "away", "away", "away", "away",   "busy",
                                             "busy", "busy", "dnd",  "dnd",  "offline"};
        push(s, s->now + rng_exp(&s->rng, 1000.0 / s->pr.presence_per_s), K_PRESENCE, 0, 0, 0);
        for (int tries = 0; tries < 8; tries++) {
            size_t a = rng_below(&s->rng, pl->nagents);
            if (s->away[a])
                continue;
            s->away[a] = 1;
            agent_uri(uri, sizeof uri, a);
            snprintf(text, sizeof text, "presence %s %s", uri,
                     states[rng_below(&s->rng, sizeof states / sizeof *states)]);
            push(s, s->now + rng_exp(&s->rng, s->pr.presence_back_ms), K_BACK, (uint32_t)a, 0, 0);
            feed(s, T_PRESENCE, text);
            return;
        }
        return;
    }
    case K_BACK:
        s->away[ev->a] = 0;
        agent_uri(uri, sizeof uri, ev->a);
        snprintf(text, sizeof text, "presence %s available", uri);
        feed(s, T_PRESENCE, text);
        return;
    case K_SIGNOUT: {
        push(s, s->now + rng_exp(&s->rng, 1000.0 / s->pr.sign_per_s), K_SIGNOUT, 0, 0, 0);
        for (int tries = 0; tries < 8; tries++) {
            size_t a = rng_below(&s->rng, pl->nformal);
            if (s->signed_out[a])
                continue;
            s->signed_out[a] = 1;
            agent_uri(uri, sizeof uri, a);
            /* half sign out of everything, half of their first group only */
            uint32_t g = rng_below(&s->rng, 2) ? pl->primary[a] + 1 : 0;
            if (g)
                snprintf(text, sizeof text, "signout %s Group %u", uri, g - 1);
            else
                snprintf(text, sizeof text, "signout %s", uri);
            push(s, s->now + rng_exp(&s->rng, s->pr.sign_back_ms), K_SIGNIN, (uint32_t)a, g, 0);
            feed(s, T_SIGNOUT, text);
            return;
        }
        return;
    }
    case K_SIGNIN:
        s->signed_out[ev->a] = 0;
        agent_uri(uri, sizeof uri, ev->a);
        if (ev->b)
            snprintf(text, sizeof text, "signin %s Group %u", uri, ev->b - 1);
        else
            snprintf(text, sizeof text, "signin %s", uri);
        feed(s, T_SIGNIN, text);
        return;
    }
}

/* One step: the engine's deadline or the next bench event, whichever is first. */
static bool step(sim *s)
{
    int64_t tb = s->nheap ? s->heap[0].t : INT64_MAX;
    if (s->deadline >= 0 && s->deadline <= tb) {
        fire_timers(s);
        return true;
    }
    if (!s->nheap)
        return false;
    bev ev = pop(s);
    if (ev.t > s->now)
        s->now = ev.t;
    handle(s, &ev);
    return true;
}

static size_t measured(const sim *s)
{
    size_t n = 0;
    for (int t = 0; t < NTYPES; t++)
        n += s->lt[t].n;
    return n;
}

/* ---- figures ------------------------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, size_t n, double q)
{
    if (!n)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static long rss_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            kb = strtol(line + fl + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)ns_between(t0, &t1) / 1e6;
}

static const cr_optspec spec[] = {
    {"rgs", false},  {"agents", true}, {"groups", true},       {"waiting", true}, {"events", true},
    {"model", true}, {"scale", true},  {"config-scale", true}, {"seed", true},    {"json", false},
    {"keep", true},  {"warmup", true}, {"trace-slow", true},   {NULL, false}};

static bool opt_num(const cr_opts *o, const char *name, double lo, double hi, double *out)
{
    const char *v = cr_opt(o, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || *end || end == v || d < lo || d > hi) {
        fprintf(stderr, "callroute bench: --%s '%s' must be a number in [%g, %g]\n", name, v, lo,
                hi);
        return false;
    }
    *out = d;
    return true;
}

int cr_cmd_bench_rgs(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, spec, &o))
        return 2;
    double agents = 100000, groups = 10000, waiting = 50000, events = 1000000, scale = 1,
           cscale = -1, seed = 1, warmup = -1, slow = 0;
    const char *model = cr_opt(&o, "model");
    if (o.npos || !opt_num(&o, "agents", 1, 1e8, &agents) ||
        !opt_num(&o, "groups", 2, 1e7, &groups) || !opt_num(&o, "waiting", 0, 1e8, &waiting) ||
        !opt_num(&o, "events", 1, 1e9, &events) || !opt_num(&o, "scale", 0.01, 1e4, &scale) ||
        !opt_num(&o, "config-scale", 0.01, 1e4, &cscale) || !opt_num(&o, "seed", 0, 1e18, &seed) ||
        !opt_num(&o, "warmup", 0, 1e7, &warmup) || !opt_num(&o, "trace-slow", 0, 1e12, &slow) ||
        (model && strcmp(model, "ocs2007r2") != 0)) {
        fprintf(stderr, "usage: callroute bench --rgs [--agents N --groups G --waiting W | --model "
                        "ocs2007r2 --scale K [--config-scale C]] [--events E] [--warmup SECONDS] "
                        "[--seed S] [--keep FILE] [--trace-slow NS] [--json]\n");
        return 2;
    }
    if (!CR_HAS(cr_plugin, p, rgs_close) || !p->rgs_open || !p->rgs_event || !p->rgs_advance) {
        fprintf(stderr, "callroute bench: this library has no response groups\n");
        return 2;
    }
    plan pl = {0};
    params pr = {0};
    pr.events = (size_t)events;
    pr.talk_ms = 180000;
    if (model) {
        if (cscale < 0)
            cscale = scale;
        pl.nagents = (size_t)(5800 * cscale + 0.5);
        pl.nformal = (size_t)(800 * cscale + 0.5);
        pl.nqueues = (size_t)(450 * cscale + 0.5);
        pl.ngroups = pl.nqueues + (pl.nqueues + 9) / 10;
        pl.overflow_calls = 20;
        if (plan_build(&pl, 100, false) < 0)
            goto nomem;
        /* 480 simultaneous calls of 30 s (IVR and hold) + 180 s (agent): Little's law */
        pr.arrival_per_s = 480.0 * scale / 210.0;
        pr.patience_ms = 120000;
        pr.presence_per_s = (double)pl.nagents / 3600.0; /* each agent away once an hour */
        pr.presence_back_ms = 600000;
        pr.sign_per_s = (double)pl.nformal * 4 / 28800.0; /* 4 cycles in an 8-hour day */
        pr.sign_back_ms = 1800000;
        pr.warmup_ms = 900000;
    } else {
        pl.nagents = (size_t)agents;
        pl.ngroups = (size_t)groups;
        pl.nqueues = pl.ngroups;
        size_t nfg = 0;
        for (size_t g = 0; g < pl.ngroups; g++)
            nfg += g % 7 == 3;
        pl.nformal = pl.nagents * nfg / pl.ngroups;
        pl.overflow_calls = (int)(waiting / (double)pl.nqueues * 3) + 20;
        pl.nhot = pl.nqueues / 20;
        pl.hot_pct = 10;
        if (plan_build(&pl, 20, true) < 0)
            goto nomem;
        pr.closed = true;
        pr.waiting = (size_t)waiting;
        pr.patience_ms = 900000;
        pr.presence_per_s = (double)pl.nagents / 1200.0;
        pr.presence_back_ms = 300000;
        pr.sign_per_s = (double)pl.nformal / 3600.0;
        pr.sign_back_ms = 900000;
        pr.warmup_ms = 300000;
    }
    if (warmup >= 0)
        pr.warmup_ms = (int64_t)(warmup * 1000);

    /* the configuration file */
    char path[256];
    const char *keep = cr_opt(&o, "keep");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (keep) {
        snprintf(path, sizeof path, "%s", keep);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/callroute-bench-rgs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0) {
            fprintf(stderr, "callroute bench: %s: %s\n", path, strerror(errno));
            plan_free(&pl);
            return 2;
        }
        close(fd);
    }
    if (plan_write(&pl, path) < 0) {
        fprintf(stderr, "callroute bench: %s: cannot write the configuration\n", path);
        if (!keep)
            unlink(path);
        plan_free(&pl);
        return 2;
    }
    double gen_ms = ms_since(&t0);
    FILE *cf = fopen(path, "r");
    long config_bytes = -1;
    if (cf && fseek(cf, 0, SEEK_END) == 0)
        config_bytes = ftell(cf);
    if (cf)
        fclose(cf);

    long rss0 = rss_kb("VmRSS");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_handle *h = cr_cli_open(p, path, NULL);
    double open_ms = ms_since(&t0);
    cr_rgs *e = NULL;
    char err[4096] = "";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = h ? p->rgs_open(h, 1798448400000LL /* Monday 2026-12-28 09:00 UTC */, NULL, &e, err,
                             sizeof err)
               : -1;
    double rgs_open_ms = ms_since(&t0);
    if (!keep)
        unlink(path);
    if (rc != 0) {
        if (h)
            fprintf(stderr, "%s\n", err[0] ? err : "callroute bench: cannot start the engine");
        if (h)
            p->close(h);
        plan_free(&pl);
        return 2;
    }
    long rss_loaded = rss_kb("VmRSS");

    sim *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->p = p, s->e = e, s->pl = &pl, s->pr = pr;
    s->rng = (uint64_t)seed * 0x2545f4914f6cdd1dULL + 1;
    s->deadline = -1;
    s->digest = 1469598103934665603ULL;
    s->slow_ns = (uint64_t)slow;
    s->queued_min = SIZE_MAX;
    s->away = calloc(pl.nagents + 1, 1);
    s->signed_out = calloc(pl.nagents + 1, 1);
    if (!s->away || !s->signed_out)
        goto nomem;

    /* warm-up: formal agents sign in, the first callers arrive */
    struct timespec w0, m0, m1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    char text[128], uri[64];
    for (size_t a = 0; a < pl.nformal; a++) {
        agent_uri(uri, sizeof uri, a);
        snprintf(text, sizeof text, "signin %s", uri);
        feed(s, T_SIGNIN, text);
    }
    if (pr.closed) {
        size_t pop = pl.nagents + pr.waiting;
        for (size_t i = 0; i < pop; i++)
            push(s, (int64_t)rng_below(&s->rng, 60000), K_ARRIVE, 0, 0, 0);
    } else {
        push(s, 0, K_ARRIVE, 0, 0, 0);
    }
    if (pr.presence_per_s > 0)
        push(s, 1000, K_PRESENCE, 0, 0, 0);
    if (pr.sign_per_s > 0 && pl.nformal)
        push(s, 1000, K_SIGNOUT, 0, 0, 0);
    while (s->now < pr.warmup_ms && step(s))
        ;
    double warm_wall_ms = ms_since(&w0);
    s->measuring = true;
    s->measure_start_ms = s->now;
    /* the call figures are those of the measured part */
    s->arrived = s->offers = s->answered = s->declined = s->rang_out = s->abandoned = 0;
    s->agent_hangups = s->caller_hangups = s->voicemails = s->transfers = 0;
    s->other_hangups = 0;
    s->wait_sum_ms = s->wait_max_ms = 0;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    clock_gettime(CLOCK_MONOTONIC, &m0);
    while (measured(s) < pr.events && step(s))
        ;
    clock_gettime(CLOCK_MONOTONIC, &m1);
    getrusage(RUSAGE_SELF, &ru1);
    /* other processes taking the core: each such switch stalls the event in progress */
    long preempted = ru1.ru_nivcsw - ru0.ru_nivcsw;
    double wall_s = (double)ns_between(&m0, &m1) / 1e9;
    long rss_end = rss_kb("VmRSS"), rss_peak = rss_kb("VmHWM");

    /* figures */
    size_t total = measured(s);
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    uint64_t engine_ns = s->poll_ns, maxns = 0;
    size_t k = 0;
    for (int t = 0; t < NTYPES; t++) {
        lat *l = &s->lt[t];
        qsort(l->v, l->n, sizeof *l->v, cmp_u32);
        if (all)
            memcpy(all + k, l->v, l->n * sizeof *all);
        k += l->n;
        engine_ns += l->sum;
        if (l->max > maxns)
            maxns = l->max;
    }
    if (all)
        qsort(all, total, sizeof *all, cmp_u32);
    double eps = engine_ns ? (double)total * 1e9 / (double)engine_ns : 0;
    double sim_s = (double)(s->now - s->measure_start_ms) / 1000.0;
    uint64_t answered = s->answered, arrived = s->arrived;
    bool json = cr_flag(&o, "json");
    const char *wl = model ? "ocs2007r2" : "synthetic";
    if (json) {
        printf("{\"workload\":\"%s\",\"scale\":%g,\"config_scale\":%g,\"agents\":%zu,"
               "\"formal_agents\":%zu,\"groups\":%zu,\"queues\":%zu,\"workflows\":%zu,"
               "\"memberships\":%zu,\"groups_parallel\":%zu,\"groups_longest_idle\":%zu,"
               "\"groups_serial\":%zu,\"groups_round_robin\":%zu,\"groups_attendant\":%zu,"
               "\"waiting_target\":%zu,\"config_bytes\":%ld,\"gen_ms\":%.1f,\"open_ms\":%.1f,"
               "\"rgs_open_ms\":%.1f,\"load_ms\":%.1f,",
               wl, model ? scale : 1, model ? cscale : 1, pl.nagents, pl.nformal, pl.ngroups,
               pl.nqueues, pl.nqueues, pl.memberships, pl.counts[M_PARALLEL],
               pl.counts[M_LONGEST_IDLE], pl.counts[M_SERIAL], pl.counts[M_ROUND_ROBIN],
               pl.counts[M_ATTENDANT], pr.closed ? pr.waiting : 0, config_bytes, gen_ms, open_ms,
               rgs_open_ms, open_ms + rgs_open_ms);
        printf("\"events\":%zu,\"events_per_sec\":%.0f,\"wall_events_per_sec\":%.0f,"
               "\"p50_ns\":%u,\"p90_ns\":%u,\"p99_ns\":%u,\"p999_ns\":%u,\"max_ns\":%llu,"
               "\"mean_ns\":%.0f,\"deadline_polls\":%llu,\"poll_mean_ns\":%.0f,\"preempted\":%ld,",
               total, eps, wall_s > 0 ? (double)total / wall_s : 0, pct(all, total, 0.5),
               pct(all, total, 0.9), pct(all, total, 0.99), pct(all, total, 0.999),
               (unsigned long long)maxns, total ? (double)engine_ns / (double)total : 0,
               (unsigned long long)s->polls, s->polls ? (double)s->poll_ns / (double)s->polls : 0,
               preempted);
        printf("\"by_event\":{");
        for (int t = 0; t < NTYPES; t++) {
            const lat *l = &s->lt[t];
            printf("%s\"%s\":{\"count\":%zu,\"p50_ns\":%u,\"p99_ns\":%u,\"max_ns\":%llu}",
                   t ? "," : "", type_names[t], l->n, pct(l->v, l->n, 0.5), pct(l->v, l->n, 0.99),
                   (unsigned long long)l->max);
        }
        printf("},\"rss_bytes\":%lld,\"rss_loaded_bytes\":%lld,\"rss_before_load_bytes\":%lld,"
               "\"rss_peak_bytes\":%lld,",
               rss_end * 1024LL, rss_loaded * 1024LL, rss0 * 1024LL, rss_peak * 1024LL);
        printf("\"warmup_events\":%llu,\"warmup_sim_s\":%.0f,\"warmup_wall_ms\":%.0f,"
               "\"sim_seconds\":%.1f,\"calls_arrived\":%llu,\"calls_answered\":%llu,"
               "\"calls_per_sim_sec\":%.1f,\"offers\":%llu,\"declines\":%llu,\"rang_out\":%llu,"
               "\"abandoned\":%llu,\"agent_hangups\":%llu,\"caller_hangups\":%llu,"
               "\"timeouts_voicemail\":%llu,\"overflow_forwards\":%llu,\"other_hangups\":%llu,"
               "\"waiting_avg\":%.0f,\"waiting_min\":%zu,\"waiting_max\":%zu,\"connected\":%zu,"
               "\"average_wait_s\":%.1f,\"longest_wait_s\":%.1f,\"errors\":%llu,\"stuck\":%llu,"
               "\"actions_digest\":\"%016llx\"}\n",
               (unsigned long long)s->warm_events, (double)s->measure_start_ms / 1000.0,
               warm_wall_ms, sim_s, (unsigned long long)arrived, (unsigned long long)answered,
               sim_s > 0 ? (double)arrived / sim_s : 0, (unsigned long long)s->offers,
               (unsigned long long)s->declined, (unsigned long long)s->rang_out,
               (unsigned long long)s->abandoned, (unsigned long long)s->agent_hangups,
               (unsigned long long)s->caller_hangups, (unsigned long long)s->voicemails,
               (unsigned long long)s->transfers, (unsigned long long)s->other_hangups,
               s->samples ? s->queued_sum / (double)s->samples : 0, s->samples ? s->queued_min : 0,
               s->queued_max, s->connected,
               s->answered ? (double)s->wait_sum_ms / (double)s->answered / 1000.0 : 0,
               (double)s->wait_max_ms / 1000.0, (unsigned long long)s->errors,
               (unsigned long long)s->stuck, (unsigned long long)s->digest);
    } else {
        printf("workload     %s%s", wl, model ? "" : "\n");
        if (model)
            printf(" at %gx load, deployment %gx\n", scale, cscale);
        printf("deployment   %zu agents (%zu formal) in %zu groups (%zu memberships: %zu "
               "parallel, %zu longest idle, %zu serial, %zu round robin, %zu attendant), %zu "
               "queues and workflows\n",
               pl.nagents, pl.nformal, pl.ngroups, pl.memberships, pl.counts[M_PARALLEL],
               pl.counts[M_LONGEST_IDLE], pl.counts[M_SERIAL], pl.counts[M_ROUND_ROBIN],
               pl.counts[M_ATTENDANT], pl.nqueues);
        printf("load         %.1f ms (open %.1f ms, rgs_open %.1f ms; %ld bytes of XML written "
               "in %.1f ms)\n",
               open_ms + rgs_open_ms, open_ms, rgs_open_ms, config_bytes, gen_ms);
        printf("memory       RSS %.1f MB after load (%.1f MB before), %.1f MB at the end, peak "
               "%.1f MB\n",
               rss_loaded / 1024.0, rss0 / 1024.0, rss_end / 1024.0, rss_peak / 1024.0);
        printf("warm-up      %llu events over %.0f simulated s (%.0f ms)\n",
               (unsigned long long)s->warm_events, (double)s->measure_start_ms / 1000.0,
               warm_wall_ms);
        printf("events       %zu in the engine at %.0f events/s (%.0f/s with the simulation "
               "around it; preempted %ld times)\n",
               total, eps, wall_s > 0 ? (double)total / wall_s : 0, preempted);
        printf("latency      p50 %u ns, p90 %u ns, p99 %u ns, p99.9 %u ns, max %llu ns "
               "(deadline poll after each event: %.0f ns mean)\n",
               pct(all, total, 0.5), pct(all, total, 0.9), pct(all, total, 0.99),
               pct(all, total, 0.999), (unsigned long long)maxns,
               s->polls ? (double)s->poll_ns / (double)s->polls : 0);
        for (int t = 0; t < NTYPES; t++) {
            const lat *l = &s->lt[t];
            printf("  %-13s %9zu  p50 %6u ns  p99 %7u ns  max %8llu ns\n", type_names[t], l->n,
                   pct(l->v, l->n, 0.5), pct(l->v, l->n, 0.99), (unsigned long long)l->max);
        }
        printf("calls        %.0f simulated s: %llu arrived (%.1f/s), %llu answered, %llu "
               "offers (%llu declined, %llu rang out), %llu abandoned, %llu to voicemail on "
               "timeout, %llu forwarded on overflow, %llu other hang-ups\n",
               sim_s, (unsigned long long)arrived, sim_s > 0 ? (double)arrived / sim_s : 0,
               (unsigned long long)answered, (unsigned long long)s->offers,
               (unsigned long long)s->declined, (unsigned long long)s->rang_out,
               (unsigned long long)s->abandoned, (unsigned long long)s->voicemails,
               (unsigned long long)s->transfers, (unsigned long long)s->other_hangups);
        printf("queues       waiting avg %.0f (min %zu, max %zu), %zu connected at the end; "
               "average wait %.1f s, longest %.1f s\n",
               s->samples ? s->queued_sum / (double)s->samples : 0, s->samples ? s->queued_min : 0,
               s->queued_max, s->connected,
               s->answered ? (double)s->wait_sum_ms / (double)s->answered / 1000.0 : 0,
               (double)s->wait_max_ms / 1000.0);
        printf("digest       %016llx (FNV-1a of every action the engine emitted)\n",
               (unsigned long long)s->digest);
        if (s->errors || s->stuck)
            printf("errors       %llu rejected events (first: %s), %llu stuck deadlines\n",
                   (unsigned long long)s->errors, s->first_err, (unsigned long long)s->stuck);
    }
    int status = s->errors ? 1 : 0;
    p->rgs_close(e);
    p->close(h);
    for (int t = 0; t < NTYPES; t++)
        free(s->lt[t].v);
    free(all);
    free(s->heap), free(s->calls), free(s->away), free(s->signed_out), free(s->abuf);
    free(s);
    plan_free(&pl);
    return status;
nomem:
    fprintf(stderr, "callroute bench: out of memory\n");
    exit(2);
}

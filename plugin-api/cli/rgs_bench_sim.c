/*
 * `callroute bench --rgs`: the simulated people around the engine, which the bench drives
 * through the ABI as a SIP host does: typed events (rgs_event_typed with agent and group
 * handles resolved once, call handles given by the engine (rgs_call_typed, ABI 1.13) or, with
 * an older library or --host-handles, chosen by the bench; the call's name passed as a SIP
 * host passes its Call-ID) and rgs_advance_typed at the engine's deadlines; or, with --text,
 * event lines (rgs_event, rgs_advance). Both forms feed the same events and see the same
 * actions (the digest hashes the actions in the text form either way).
 *
 * An offer is answered (85%, after 2-8 s) or declined (7%, after 1-5 s) by one of the agents
 * rung, or rings out (8%); talks last 3 min on average (exponential) and end on the agent's
 * side (80%) or the caller's; callers on hold give up after an exponential patience; agents
 * go away/busy/dnd/offline and come back; formal agents sign out and in again. The engine's
 * timers run through rgs_advance at the deadline it returns (the bench asks for it after
 * every event, as a host re-arms its timer; those polls are timed apart).
 *
 * Latency is clock_gettime around each rgs_event (and each rgs_advance that is due), the
 * emit callback included (it only copies the actions; the bench reacts to them afterwards).
 * Events are built (lines formatted) before the clock starts.
 */
#include "cr_hash.h"
#include "rgs_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bench events (the people's side); the engine's own timers are its deadline. */
enum { K_ARRIVE, K_PROMPT, K_RING, K_END, K_ABANDON, K_PRESENCE, K_BACK, K_SIGNOUT, K_SIGNIN };

/* States of a call. */
enum { C_FREE, C_ALIVE, C_QUEUED, C_CONNECTED, C_ENDED };

/* ---- random numbers ---- */

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

static bool bev_less(const rgsb_event *a, const rgsb_event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(rgsb_sim *s, int64_t t, uint32_t kind, uint32_t a, uint32_t b, uint32_t gen)
{
    if (s->nheap == s->capheap) {
        size_t ncap = s->capheap ? s->capheap * 2 : 1024;
        rgsb_event *h = realloc(s->heap, ncap * sizeof *h);
        if (!h) {
            fprintf(stderr, "callroute bench: out of memory\n");
            exit(2);
        }
        s->heap = h, s->capheap = ncap;
    }
    rgsb_event x = {t, s->seq++, kind, a, b, gen};
    size_t i = s->nheap++;
    while (i > 0 && bev_less(&x, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = x;
}

static rgsb_event pop(rgsb_sim *s)
{
    rgsb_event top = s->heap[0], last = s->heap[--s->nheap];
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
    rgsb_sim *s = ud;
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

/* Room for n more of what *v (of element size sz) holds; false when out of memory. */
static bool grow(void **v, size_t *cap, size_t used, size_t n, size_t sz)
{
    if (used + n <= *cap)
        return true;
    size_t ncap = (used + n) * 2;
    void *p = realloc(*v, ncap * sz);
    if (!p)
        return false;
    *v = p, *cap = ncap;
    return true;
}

/* Copies a non-empty action argument; NO_ARG for "". */
#define NO_ARG UINT32_MAX
static uint32_t tstr_put(rgsb_sim *s, const char *str)
{
    if (!str || !*str)
        return NO_ARG;
    size_t l = strlen(str) + 1;
    if (!grow((void **)&s->tstr, &s->captstr, s->ntstr, l, 1))
        return NO_ARG;
    memcpy(s->tstr + s->ntstr, str, l);
    s->ntstr += l;
    return (uint32_t)(s->ntstr - l);
}

/* The typed form's callback: copies the action (as on_emit does in the text form); the call
 * is its handle, which the bench turns into its call number as it reacts (handle - 1 when
 * the bench chose it, else through hkey), as a SIP host keys its calls. Inside the timed
 * call: it only copies. */
static void on_action(void *ud, int64_t at_ms, const cr_rgs_typed_action *a)
{
    (void)at_ms;
    rgsb_sim *s = ud;
    if ((s->ntacts == s->captacts &&
         !grow((void **)&s->tacts, &s->captacts, s->ntacts, 1, sizeof *s->tacts)) ||
        !grow((void **)&s->tagents, &s->captagents, s->ntagents, a->nagents, sizeof *s->tagents))
        return;
    rgsb_tact *t = &s->tacts[s->ntacts++];
    t->call = a->call;
    t->type = a->type;
    t->agents = (uint32_t)s->ntagents;
    t->nagents = a->nagents;
    if (a->nagents)
        memcpy(s->tagents + s->ntagents, a->agents, a->nagents * sizeof *a->agents);
    s->ntagents += a->nagents;
    t->arg = tstr_put(s, a->arg);
}

static void record(rgsb_sim *s, int type, uint64_t ns)
{
    if (!s->measuring) {
        s->warm_events++;
        s->warm_ns += ns;
        return;
    }
    rgsb_lat *l = &s->lt[type];
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

static void spawn(rgsb_sim *s, int64_t after_ms)
{
    push(s, s->now + after_ms, K_ARRIVE, 0, 0, 0);
}

/* The call left the engine (or is about to: the bench hangs it up). */
static void end_call(rgsb_sim *s, uint32_t n)
{
    rgsb_call *c = &s->calls[n];
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
static uint32_t pick_rung(rgsb_sim *s, const char *list)
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

/* What the simulated people do about one action (call, action, args: the text form). */
static void react_one(rgsb_sim *s, const char *call, const char *action, const char *args)
{
    /* each string ends with a fold of 0, so "ab"+"c" and "a"+"bc" differ */
    s->digest = cr_fnv_str(s->digest, call) * CR_FNV_PRIME;
    s->digest = cr_fnv_str(s->digest, action) * CR_FNV_PRIME;
    s->digest = cr_fnv_str(s->digest, args) * CR_FNV_PRIME;
    uint32_t n = call_number(call);
    if (n >= s->ncalls)
        return;
    rgsb_call *c = &s->calls[n];
    if (c->state == C_ENDED || c->state == C_FREE)
        return;
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
        push(s, s->now + rng_exp(&s->rng, s->pr.talk_ms), K_END, n, rng_unit(&s->rng) < 0.8 ? 1 : 0,
             0);
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

static const char *const action_names[] = {"answer",    "play",   "collect", "moh",
                                           "ring",      "cancel", "bridge",  "transfer",
                                           "voicemail", "hangup", "set",     "log"};

/* A typed action in the text form: agents' URIs space-separated, else its arg. */
static const char *typed_args(rgsb_sim *s, const rgsb_tact *t, char **buf, size_t *cap)
{
    if (!t->nagents)
        return t->arg == NO_ARG ? "" : s->tstr + t->arg;
    size_t off = 0;
    for (uint32_t i = 0; i < t->nagents; i++) {
        const char *u = s->p->rgs_agent_uri(s->e, s->tagents[t->agents + i]);
        size_t l = strlen(u ? u : "");
        if (!grow((void **)buf, cap, off, l + 2, 1))
            return "";
        if (i)
            (*buf)[off++] = ' ';
        memcpy(*buf + off, u ? u : "", l);
        off += l;
    }
    (*buf)[off] = 0;
    return *buf;
}

static size_t hslot(const rgsb_sim *s, uint64_t h)
{
    size_t j = (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 20) & (s->hcap - 1);
    while (s->hkey[j] && s->hkey[j] != h)
        j = (j + 1) & (s->hcap - 1);
    return j;
}

/* Notes that the engine gave call n handle h (no entry is removed: the engine gives a handle
 * again only to a later call, whose number then replaces the old one). */
static void handle_note(rgsb_sim *s, uint64_t h, uint32_t n)
{
    if ((s->hcount + 1) * 2 > s->hcap) {
        size_t ocap = s->hcap, ncap = ocap ? ocap * 2 : 65536;
        uint64_t *ok = s->hkey;
        uint32_t *on = s->hnum;
        s->hkey = calloc(ncap, sizeof *s->hkey);
        s->hnum = calloc(ncap, sizeof *s->hnum);
        if (!s->hkey || !s->hnum) {
            fprintf(stderr, "callroute bench: out of memory\n");
            exit(2);
        }
        s->hcap = ncap;
        for (size_t i = 0; i < ocap; i++)
            if (ok[i]) {
                size_t j = hslot(s, ok[i]);
                s->hkey[j] = ok[i], s->hnum[j] = on[i];
            }
        free(ok), free(on);
    }
    size_t j = hslot(s, h);
    s->hcount += !s->hkey[j];
    s->hkey[j] = h, s->hnum[j] = n;
}

/* The bench's number of the call of handle h (as the text form names it "call<n>"). */
static uint64_t call_of(const rgsb_sim *s, uint64_t h)
{
    if (!s->engine_handles)
        return h - 1;
    if (!h || !s->hcap)
        return UINT64_MAX;
    size_t j = hslot(s, h);
    return s->hkey[j] ? s->hnum[j] : UINT64_MAX;
}

static void react(rgsb_sim *s)
{
    if (s->typed) {
        static char *buf;
        static size_t cap;
        char call[32];
        for (size_t i = 0; i < s->ntacts; i++) {
            const rgsb_tact *t = &s->tacts[i];
            snprintf(call, sizeof call, "call%llu", (unsigned long long)call_of(s, t->call));
            const char *name = (unsigned)t->type < sizeof action_names / sizeof *action_names
                                   ? action_names[t->type]
                                   : "?";
            react_one(s, call, name, typed_args(s, t, &buf, &cap));
        }
        s->ntacts = s->ntagents = s->ntstr = 0;
        return;
    }
    const char *p = s->abuf;
    for (size_t i = 0; i < s->nacts; i++) {
        const char *call = p, *action = call + strlen(call) + 1,
                   *args = action + strlen(action) + 1;
        p = args + strlen(args) + 1;
        react_one(s, call, action, args);
    }
    s->alen = s->nacts = 0;
}

static const char *const presence_names[] = {"available", "busy", "away", "dnd", "offline"};
static const char *const event_names[] = {"call",    "presence", "signin",       "signout",
                                          "dtmf",    "speech",   "prompt_done",  "answer",
                                          "decline", "hangup",   "agent_hangup", "no_answer"};

/* The caller of call n and the workflow's URI. */
static void call_uris(const rgsb_in *in, char *from, char *to)
{
    snprintf(from, 64, "sip:+1425%07u@fabrikam.com", in->call % 10000000);
    snprintf(to, 64, "sip:rg%zu@contoso.com", in->wf);
}

/* The event line of `in`. */
static void to_text(const rgsb_in *in, char *text, size_t len)
{
    char uri[64], from[64], to[64];
    const char *name = event_names[in->type];
    rgsb_agent_uri(uri, sizeof uri, in->agent);
    switch (in->type) {
    case CR_RGS_EVENT_CALL:
        call_uris(in, from, to);
        snprintf(text, len, "call call%u %s %s", in->call, from, to);
        break;
    case CR_RGS_EVENT_PRESENCE:
        snprintf(text, len, "presence %s %s", uri, presence_names[in->presence]);
        break;
    case CR_RGS_EVENT_SIGNIN:
    case CR_RGS_EVENT_SIGNOUT:
        if (in->group)
            snprintf(text, len, "%s %s Group %u", name, uri, in->group - 1);
        else
            snprintf(text, len, "%s %s", name, uri);
        break;
    case CR_RGS_EVENT_ANSWER:
    case CR_RGS_EVENT_DECLINE:
        snprintf(text, len, "%s call%u %s", name, in->call, uri);
        break;
    default:
        snprintf(text, len, "%s call%u", name, in->call);
        break;
    }
}

/* Feeds one event at s->now, timed; then asks for the deadline (as a host re-arms its
 * timer). The event line or the typed event is built before the clock starts. */
static void feed(rgsb_sim *s, int type, const rgsb_in *in)
{
    char err[256], text[512], from[64], to[64], id[24];
    struct timespec t0, t1, t2;
    cr_rgs_typed_event ev = {.size = sizeof ev, .type = in->type};
    if (s->typed) {
        bool about_call = in->type != CR_RGS_EVENT_PRESENCE && in->type != CR_RGS_EVENT_SIGNIN &&
                          in->type != CR_RGS_EVENT_SIGNOUT;
        ev.call = !s->engine_handles                            ? (uint64_t)in->call + 1
                  : about_call && in->type != CR_RGS_EVENT_CALL ? s->calls[in->call].handle
                                                                : 0;
        ev.agent = s->agent_h[in->agent];
        ev.group = in->group ? s->group_h[in->group - 1] : 0;
        ev.presence = in->presence;
        if (in->type == CR_RGS_EVENT_CALL) {
            call_uris(in, from, to);
            snprintf(id, sizeof id, "call%u", in->call);
            ev.from = from, ev.to = to, ev.call_id = id;
        }
    } else {
        to_text(in, text, sizeof text);
    }
    s->alen = s->nacts = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = !s->typed ? s->p->rgs_event(s->e, s->now, text, on_emit, s, err, sizeof err)
             : s->engine_handles && in->type == CR_RGS_EVENT_CALL
                 ? s->p->rgs_call_typed(s->e, s->now, &ev, &s->calls[in->call].handle, on_action, s,
                                        err, sizeof err)
                 : s->p->rgs_event_typed(s->e, s->now, &ev, on_action, s, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    record(s, type, rgsb_ns_between(&t0, &t1));
    if (s->engine_handles && in->type == CR_RGS_EVENT_CALL && s->calls[in->call].handle)
        handle_note(s, s->calls[in->call].handle, in->call);
    if ((rc != 0 && s->errors == 0) ||
        (s->slow_ns && s->measuring && rgsb_ns_between(&t0, &t1) >= s->slow_ns))
        to_text(in, text, sizeof text);
    if (s->slow_ns && s->measuring && rgsb_ns_between(&t0, &t1) >= s->slow_ns)
        fprintf(stderr, "slow %llu ns at %lld ms: %s (%zu actions)\n",
                (unsigned long long)rgsb_ns_between(&t0, &t1), (long long)s->now, text,
                s->typed ? s->ntacts : s->nacts);
    if (rc != 0 && s->errors++ == 0)
        snprintf(s->first_err, sizeof s->first_err, "%.120s: %.120s", text, err);
    react(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s->deadline = s->typed ? s->p->rgs_advance_typed(s->e, s->now, on_action, s)
                           : s->p->rgs_advance(s->e, s->now, on_emit, s);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    if (s->measuring)
        s->poll_ns += rgsb_ns_between(&t1, &t2), s->polls++;
    react(s);
}

/* The engine's deadline came: run its timers. */
static void fire_timers(rgsb_sim *s)
{
    struct timespec t0, t1;
    if (s->deadline > s->now)
        s->now = s->deadline;
    s->alen = s->nacts = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t next = s->typed ? s->p->rgs_advance_typed(s->e, s->now, on_action, s)
                            : s->p->rgs_advance(s->e, s->now, on_emit, s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    record(s, T_TIMER, rgsb_ns_between(&t0, &t1));
    if (s->slow_ns && s->measuring && rgsb_ns_between(&t0, &t1) >= s->slow_ns)
        fprintf(stderr, "slow %llu ns at %lld ms: timers (%zu actions)\n",
                (unsigned long long)rgsb_ns_between(&t0, &t1), (long long)s->now,
                s->typed ? s->ntacts : s->nacts);
    react(s);
    if (next >= 0 && next <= s->now) {
        s->stuck++;
        next = s->now + 1;
    }
    s->deadline = next;
}

/* A caller dials a workflow (10% of the calls go to the hot ones when there are some). */
static void arrive(rgsb_sim *s)
{
    const rgsb_plan *pl = s->pl;
    if (s->ncalls == s->capcalls) {
        size_t ncap = s->capcalls ? s->capcalls * 2 : 65536;
        rgsb_call *c = realloc(s->calls, ncap * sizeof *c);
        if (!c) {
            fprintf(stderr, "callroute bench: out of memory\n");
            exit(2);
        }
        s->calls = c, s->capcalls = ncap;
    }
    uint32_t n = (uint32_t)s->ncalls++;
    s->calls[n] = (rgsb_call){C_ALIVE, 0, 0, 0};
    s->alive++;
    s->arrived++;
    size_t wf = pl->nhot && rng_below(&s->rng, 100) < (size_t)pl->hot_pct
                    ? rng_below(&s->rng, pl->nhot)
                    : rng_below(&s->rng, pl->nqueues);
    if (!s->pr.closed)
        push(s, s->now + rng_exp(&s->rng, 1000.0 / s->pr.arrival_per_s), K_ARRIVE, 0, 0, 0);
    rgsb_in in = {.type = CR_RGS_EVENT_CALL, .call = n, .wf = wf};
    feed(s, T_CALL, &in);
}

/* The agent rung answers or declines (b: the agent, with the top bit for a decline), unless
 * the offer was withdrawn meanwhile (another generation of ringing). */
static void ring_reply(rgsb_sim *s, const rgsb_event *ev)
{
    rgsb_call *c = &s->calls[ev->a];
    if (c->state != C_QUEUED || c->ring_gen != ev->gen)
        return;
    bool decline = ev->b & 0x80000000u;
    rgsb_in in = {.type = decline ? CR_RGS_EVENT_DECLINE : CR_RGS_EVENT_ANSWER,
                  .call = ev->a,
                  .agent = ev->b & 0x7fffffffu};
    if (decline)
        s->declined++;
    feed(s, decline ? T_DECLINE : T_ANSWER, &in);
}

/* A connected call ends on the agent's side (b) or the caller's. */
static void talk_end(rgsb_sim *s, const rgsb_event *ev)
{
    if (s->calls[ev->a].state != C_CONNECTED)
        return;
    end_call(s, ev->a);
    bool agent = ev->b;
    rgsb_in in = {.type = agent ? CR_RGS_EVENT_AGENT_HANGUP : CR_RGS_EVENT_HANGUP, .call = ev->a};
    if (agent)
        s->agent_hangups++;
    else
        s->caller_hangups++;
    feed(s, agent ? T_AGENT_HANGUP : T_HANGUP, &in);
}

/* An available agent goes away, busy, dnd or offline for a while (8 tries to find one). */
static void presence_change(rgsb_sim *s)
{
    static const int states[] = {CR_RGS_PRESENCE_AWAY, CR_RGS_PRESENCE_AWAY,   CR_RGS_PRESENCE_AWAY,
                                 CR_RGS_PRESENCE_AWAY, CR_RGS_PRESENCE_AWAY,   CR_RGS_PRESENCE_BUSY,
                                 CR_RGS_PRESENCE_BUSY, CR_RGS_PRESENCE_BUSY,   CR_RGS_PRESENCE_DND,
                                 CR_RGS_PRESENCE_DND,  CR_RGS_PRESENCE_OFFLINE};
    push(s, s->now + rng_exp(&s->rng, 1000.0 / s->pr.presence_per_s), K_PRESENCE, 0, 0, 0);
    for (int tries = 0; tries < 8; tries++) {
        size_t a = rng_below(&s->rng, s->pl->nagents);
        if (s->away[a])
            continue;
        s->away[a] = 1;
        rgsb_in in = {.type = CR_RGS_EVENT_PRESENCE,
                      .agent = a,
                      .presence = states[rng_below(&s->rng, sizeof states / sizeof *states)]};
        push(s, s->now + rng_exp(&s->rng, s->pr.presence_back_ms), K_BACK, (uint32_t)a, 0, 0);
        feed(s, T_PRESENCE, &in);
        return;
    }
}

/* A formal agent signs out, of everything or of his first group (8 tries to find one). */
static void sign_out(rgsb_sim *s)
{
    push(s, s->now + rng_exp(&s->rng, 1000.0 / s->pr.sign_per_s), K_SIGNOUT, 0, 0, 0);
    for (int tries = 0; tries < 8; tries++) {
        size_t a = rng_below(&s->rng, s->pl->nformal);
        if (s->signed_out[a])
            continue;
        s->signed_out[a] = 1;
        /* half sign out of everything, half of their first group only */
        uint32_t g = rng_below(&s->rng, 2) ? s->pl->primary[a] + 1 : 0;
        rgsb_in in = {.type = CR_RGS_EVENT_SIGNOUT, .agent = a, .group = g};
        push(s, s->now + rng_exp(&s->rng, s->pr.sign_back_ms), K_SIGNIN, (uint32_t)a, g, 0);
        feed(s, T_SIGNOUT, &in);
        return;
    }
}

static void handle(rgsb_sim *s, const rgsb_event *ev)
{
    rgsb_in in = {0};
    switch (ev->kind) {
    case K_ARRIVE:
        arrive(s);
        return;
    case K_PROMPT:
        if (s->calls[ev->a].state != C_ALIVE)
            return;
        in = (rgsb_in){.type = CR_RGS_EVENT_PROMPT_DONE, .call = ev->a};
        feed(s, T_PROMPT_DONE, &in);
        return;
    case K_RING:
        ring_reply(s, ev);
        return;
    case K_END:
        talk_end(s, ev);
        return;
    case K_ABANDON:
        if (s->calls[ev->a].state != C_QUEUED)
            return;
        end_call(s, ev->a);
        s->abandoned++;
        in = (rgsb_in){.type = CR_RGS_EVENT_HANGUP, .call = ev->a};
        feed(s, T_HANGUP, &in);
        return;
    case K_PRESENCE:
        presence_change(s);
        return;
    case K_BACK:
        s->away[ev->a] = 0;
        in = (rgsb_in){
            .type = CR_RGS_EVENT_PRESENCE, .agent = ev->a, .presence = CR_RGS_PRESENCE_AVAILABLE};
        feed(s, T_PRESENCE, &in);
        return;
    case K_SIGNOUT:
        sign_out(s);
        return;
    case K_SIGNIN:
        s->signed_out[ev->a] = 0;
        in = (rgsb_in){.type = CR_RGS_EVENT_SIGNIN, .agent = ev->a, .group = ev->b};
        feed(s, T_SIGNIN, &in);
        return;
    }
}

/* One step: the engine's deadline or the next bench event, whichever is first. */
static bool step(rgsb_sim *s)
{
    int64_t tb = s->nheap ? s->heap[0].t : INT64_MAX;
    if (s->deadline >= 0 && s->deadline <= tb) {
        fire_timers(s);
        return true;
    }
    if (!s->nheap)
        return false;
    rgsb_event ev = pop(s);
    if (ev.t > s->now)
        s->now = ev.t;
    handle(s, &ev);
    return true;
}

size_t rgsb_sim_measured(const rgsb_sim *s)
{
    size_t n = 0;
    for (int t = 0; t < NTYPES; t++)
        n += s->lt[t].n;
    return n;
}

rgsb_sim *rgsb_sim_new(const cr_plugin *p, cr_rgs *e, const rgsb_plan *pl, const rgsb_params *pr,
                       uint64_t seed, uint64_t slow_ns)
{
    rgsb_sim *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = p, s->e = e, s->pl = pl, s->pr = *pr;
    s->rng = seed * 0x2545f4914f6cdd1dULL + 1;
    s->deadline = -1;
    s->digest = CR_FNV_OFFSET;
    s->slow_ns = slow_ns;
    s->queued_min = SIZE_MAX;
    s->away = calloc(pl->nagents + 1, 1);
    s->signed_out = calloc(pl->nagents + 1, 1);
    if (!s->away || !s->signed_out) {
        rgsb_sim_free(s);
        return NULL;
    }
    return s;
}

void rgsb_sim_free(rgsb_sim *s)
{
    if (!s)
        return;
    for (int t = 0; t < NTYPES; t++)
        free(s->lt[t].v);
    free(s->heap), free(s->calls), free(s->away), free(s->signed_out), free(s->abuf);
    free(s->agent_h), free(s->group_h);
    free(s->tacts), free(s->tagents), free(s->tstr);
    free(s->hkey), free(s->hnum);
    free(s);
}

int rgsb_sim_typed(rgsb_sim *s)
{
    const cr_plugin *p = s->p;
    if (!CR_HAS(cr_plugin, p, rgs_group_id) || !p->rgs_event_typed || !p->rgs_advance_typed ||
        !p->rgs_agent_id || !p->rgs_group_id || !p->rgs_agent_uri)
        return -1;
    const rgsb_plan *pl = s->pl;
    s->agent_h = calloc(pl->nagents + 1, sizeof *s->agent_h);
    s->group_h = calloc(pl->ngroups + 1, sizeof *s->group_h);
    if (!s->agent_h || !s->group_h)
        return -1;
    char name[64];
    for (size_t a = 0; a < pl->nagents; a++) {
        rgsb_agent_uri(name, sizeof name, a);
        uint32_t h = p->rgs_agent_id(s->e, name);
        if (!h)
            return -1;
        s->agent_h[a] = h;
    }
    for (size_t g = 0; g < pl->ngroups; g++) {
        snprintf(name, sizeof name, "Group %zu", g);
        if (!(s->group_h[g] = p->rgs_group_id(s->e, name)))
            return -1;
    }
    s->typed = true;
    s->engine_handles = !s->host_handles && p->abi_minor >= 13 &&
                        CR_HAS(cr_plugin, p, rgs_call_typed) && p->rgs_call_typed;
    return 0;
}

void rgsb_sim_warm_up(rgsb_sim *s)
{
    for (size_t a = 0; a < s->pl->nformal; a++) {
        rgsb_in in = {.type = CR_RGS_EVENT_SIGNIN, .agent = a};
        feed(s, T_SIGNIN, &in);
    }
    if (s->pr.closed) {
        size_t pop = s->pl->nagents + s->pr.waiting;
        for (size_t i = 0; i < pop; i++)
            push(s, (int64_t)rng_below(&s->rng, 60000), K_ARRIVE, 0, 0, 0);
    } else {
        push(s, 0, K_ARRIVE, 0, 0, 0);
    }
    if (s->pr.presence_per_s > 0)
        push(s, 1000, K_PRESENCE, 0, 0, 0);
    if (s->pr.sign_per_s > 0 && s->pl->nformal)
        push(s, 1000, K_SIGNOUT, 0, 0, 0);
    while (s->now < s->pr.warmup_ms && step(s))
        ;
    s->measuring = true;
    s->measure_start_ms = s->now;
    /* the call figures are those of the measured part */
    s->arrived = s->offers = s->answered = s->declined = s->rang_out = s->abandoned = 0;
    s->agent_hangups = s->caller_hangups = s->voicemails = s->transfers = 0;
    s->other_hangups = 0;
    s->wait_sum_ms = s->wait_max_ms = 0;
}

void rgsb_sim_measure(rgsb_sim *s)
{
    while (rgsb_sim_measured(s) < s->pr.events && step(s))
        ;
}

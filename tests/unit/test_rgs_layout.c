/*
 * The engine's compact records past their inline room (white-box): ringing lists longer
 * than RGS_SVEC_INLINE (rgs_svec, against an array), a group of more than 64 members (its
 * avail bits in an array, not inside its record), a queue over more than
 * RGS_QUEUE_INLINE_GROUPS groups and an agent in several groups and queues (their arrays,
 * not the record's own slot). Each step's actions are checked, equal to those of the naive
 * engine (selection by scanning every member), and the avail bits against rgs_takes_calls.
 * The call maps, whose keys are the calls' own handle and id, against a model of live calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "rgs_engine_int.h"
#include "testutil.h"

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Random pushes and removals (values repeat, so removals of absent and repeated values
 * occur) against a plain array, growing well past the inline room and back. */
static void svec_matches_an_array(void **state)
{
    (void)state;
    enum { OPS = 20000, MAXN = 300 };
    uint32_t model[MAXN];
    size_t n = 0;
    rgs_svec v = {0};
    uint64_t rng = 17;
    size_t spilled = 0;
    for (int op = 0; op < OPS; op++) {
        uint32_t x = (uint32_t)(rnd(&rng) % 40);
        bool push = n == 0 || (n < MAXN && rnd(&rng) % (op < OPS / 2 ? 3 : 5) != 0);
        if (push) {
            assert_int_equal(rgs_svec_push(&v, x), 0);
            model[n++] = x;
        } else {
            rgs_svec_remove(&v, x);
            for (size_t i = 0; i < n; i++)
                if (model[i] == x) {
                    memmove(model + i, model + i + 1, (n - i - 1) * sizeof *model);
                    n--;
                    break;
                }
        }
        spilled += v.cap > RGS_SVEC_INLINE;
        assert_int_equal(v.n, n);
        const uint32_t *it = rgs_svec_citems(&v);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(it[i], model[i]);
        uint32_t probe = (uint32_t)(rnd(&rng) % 45);
        bool has = false;
        for (size_t i = 0; i < n; i++)
            has |= model[i] == probe;
        assert_int_equal(rgs_svec_has(&v, probe), has);
    }
    assert_true(spilled > 0);
    rgs_svec_free(&v);
    assert_int_equal(v.n, 0);
    /* a list that never left its record */
    assert_int_equal(rgs_svec_push(&v, 7), 0);
    assert_int_equal(v.cap, 0);
    assert_true(rgs_svec_has(&v, 7));
    rgs_svec_free(&v);
}

typedef struct sink {
    cr_test_out out;
    cr_rgs_out_type last_type;
    size_t last_nagents;
    uint32_t last_first;
} sink;

static void on_out(void *ud, int64_t at, const cr_rgs_output *o)
{
    sink *k = ud;
    char line[128];
    snprintf(line, sizeof line, "%lld %d %llu r%d [%s]", (long long)at, (int)o->type,
             (unsigned long long)o->call, (int)o->reason, o->arg);
    cr_test_append(&k->out, line);
    for (size_t i = 0; i < o->nagents; i++) {
        snprintf(line, sizeof line, " %u", o->agents[i]);
        cr_test_append(&k->out, line);
    }
    cr_test_append(&k->out, "\n");
    k->last_type = o->type;
    k->last_nagents = o->nagents;
    k->last_first = o->nagents ? o->agents[0] : 0;
}

/* Big: parallel over a0..a99; S1: serial a100, a0; S2: serial a101, a0.
 * Q: S1, S2, Big (three groups: past the queue's inline room); Q2: S1; Q3: S2 (no workflow).
 * Agent a0 is in all three groups and queues (past his inline room), a100 and a101 in two
 * queues each (at it). S3: serial a102, a103; S4: serial a103; Q4: S3, S4: a103 in two
 * groups (at his inline room). */
static const char *wide_xml(cr_test_out *x)
{
    cr_test_append(x, "<callroute xmlns=\"urn:callroute:config:1\"><responseGroups>"
                      "<agentGroup name=\"Big\" routingMethod=\"parallel\" alertTime=\"20\">");
    for (int a = 0; a < 100; a++) {
        char line[64];
        snprintf(line, sizeof line, "<agent>sip:a%d@x</agent>", a);
        cr_test_append(x, line);
    }
    cr_test_append(x, "</agentGroup>"
                      "<agentGroup name=\"S1\" routingMethod=\"serial\" alertTime=\"20\">"
                      "<agent>sip:a100@x</agent><agent>sip:a0@x</agent></agentGroup>"
                      "<agentGroup name=\"S2\" routingMethod=\"serial\" alertTime=\"20\">"
                      "<agent>sip:a101@x</agent><agent>sip:a0@x</agent></agentGroup>"
                      "<queue name=\"Q\"><group>S1</group><group>S2</group><group>Big</group>"
                      "</queue><queue name=\"Q2\"><group>S1</group></queue>"
                      "<queue name=\"Q3\"><group>S2</group></queue>"
                      "<agentGroup name=\"S3\" routingMethod=\"serial\" alertTime=\"20\">"
                      "<agent>sip:a102@x</agent><agent>sip:a103@x</agent></agentGroup>"
                      "<agentGroup name=\"S4\" routingMethod=\"serial\" alertTime=\"20\">"
                      "<agent>sip:a103@x</agent></agentGroup>"
                      "<queue name=\"Q4\"><group>S3</group><group>S4</group></queue>"
                      "<workflow name=\"W4\" uri=\"sip:w4@x\" queue=\"Q4\"/>"
                      "<workflow name=\"W\" uri=\"sip:w@x\" queue=\"Q\"/>"
                      "<workflow name=\"W2\" uri=\"sip:w2@x\" queue=\"Q2\"/>"
                      "</responseGroups></callroute>");
    return x->buf;
}

/* The configuration of wide_xml, loaded. */
static cr_rgs_config *wide_config(void)
{
    cr_test_out x = {0};
    cr_rgs_config *cfg = NULL;
    cr_diag diag;
    cr_diag_init(&diag);
    assert_int_equal(cr_rgs_xml_load(cr_test_tmpfile(wide_xml(&x), ".xml"), &cfg, &diag), CR_OK);
    cr_diag_free(&diag);
    free(x.buf);
    return cfg;
}

/* An engine over cfg (opened or the test fails). */
static cr_rgs_engine *open_one(const cr_rgs_config *cfg)
{
    cr_rgs_engine *e = NULL;
    char err[256];
    assert_int_equal(cr_rgs_engine_open(cfg, NULL, &e, err, sizeof err), CR_OK);
    return e;
}

/* Two engines on cfg, e[0] indexed and e[1] naive, their sinks k[] empty (both, below). */
static void open_pair(const cr_rgs_config *cfg, cr_rgs_engine *e[2], sink k[2])
{
    memset(k, 0, 2 * sizeof *k);
    for (int i = 0; i < 2; i++)
        e[i] = open_one(cfg);
    rgs_engine_set_naive(e[1], true);
}

static void close_pair(cr_rgs_engine *e[2], sink k[2], cr_rgs_config *cfg)
{
    for (int i = 0; i < 2; i++) {
        cr_rgs_engine_close(e[i]);
        free(k[i].out.buf);
    }
    cr_rgs_config_free(cfg);
}

/* The same event to both engines: the same result and actions, and consistent bits. */
static void both(cr_rgs_engine *e[2], sink k[2], const cr_rgs_input *in)
{
    char err[2][256];
    int rc[2];
    for (int i = 0; i < 2; i++) {
        rc[i] = cr_rgs_engine_input(e[i], 1000, in, on_out, &k[i], err[i], sizeof err[i]);
        assert_true(rgs_avail_consistent(e[i]));
    }
    assert_int_equal(rc[0], rc[1]);
    assert_int_equal(rc[0], CR_OK);
    assert_string_equal(k[0].out.buf ? k[0].out.buf : "", k[1].out.buf ? k[1].out.buf : "");
}

static uint32_t agent_h(const cr_rgs_engine *e, int a)
{
    char uri[32];
    snprintf(uri, sizeof uri, "sip:a%d@x", a);
    return cr_rgs_engine_agent_id(e, uri);
}

static void wide_groups_and_queues(void **state)
{
    (void)state;
    cr_rgs_config *cfg = wide_config();
    cr_rgs_engine *e[2];
    sink k[2];
    open_pair(cfg, e, k);
    size_t big = (size_t)cr_rgs_config_group_find(cfg, "Big");
    uint32_t a0 = agent_h(e[0], 0), a50 = agent_h(e[0], 50);
    /* the records past their inline room: the layout under test */
    assert_true(e[0]->groups[big].avail != &e[0]->groups[big].one_word);
    assert_int_equal(e[0]->agents[a0 - 1].ngroups, 3);
    assert_true(e[0]->agents[a0 - 1].groups != e[0]->agents[a0 - 1].in_groups);
    assert_int_equal(e[0]->agents[a0 - 1].nqueues, 3);
    assert_true(e[0]->agents[a0 - 1].queues != e[0]->agents[a0 - 1].in_queues);
    /* his queues in queue order; a100's and a101's two in their records, a50's one */
    long qq[3] = {cr_rgs_config_queue_find(cfg, "Q"), cr_rgs_config_queue_find(cfg, "Q2"),
                  cr_rgs_config_queue_find(cfg, "Q3")};
    for (int i = 0; i < 3; i++)
        assert_int_equal(e[0]->agents[a0 - 1].queues[i], qq[i]);
    const rgs_agent *a100r = &e[0]->agents[agent_h(e[0], 100) - 1],
                    *a101r = &e[0]->agents[agent_h(e[0], 101) - 1], *a50r = &e[0]->agents[a50 - 1];
    assert_true(a100r->nqueues == 2 && a100r->queues == a100r->in_queues);
    assert_true(a100r->queues[0] == qq[0] && a100r->queues[1] == qq[1]);
    assert_true(a101r->nqueues == 2 && a101r->queues == a101r->in_queues);
    assert_true(a101r->queues[0] == qq[0] && a101r->queues[1] == qq[2]);
    assert_true(a50r->nqueues == 1 && a50r->queues == a50r->in_queues && a50r->queues[0] == qq[0]);
    assert_int_equal(e[0]->navail[big], 100);

    /* a100, a101 and a0 busy: call 1 passes S1 and S2 and rings Big's 99 others */
    int busy[] = {100, 101, 0};
    for (size_t i = 0; i < 3; i++) {
        cr_rgs_input in = {.type = CR_RGS_EV_PRESENCE,
                           .agent = agent_h(e[0], busy[i]),
                           .presence = CR_RGS_PRES_BUSY};
        both(e, k, &in);
    }
    cr_rgs_input call = {.type = CR_RGS_EV_CALL, .call = 1, .from = "sip:c@y", .to = "sip:w@x"};
    both(e, k, &call);
    assert_int_equal(k[0].last_type, CR_RGS_OUT_RING);
    assert_int_equal(k[0].last_nagents, 99);
    assert_int_equal(k[0].last_first, agent_h(e[0], 1));
    assert_int_equal(e[0]->navail[big], 0);

    /* a50 answers: bridged, the 98 others cancelled and free again */
    cr_rgs_input ans = {.type = CR_RGS_EV_ANSWER, .call = 1, .agent = a50};
    both(e, k, &ans);
    assert_int_equal(e[0]->navail[big], 98);
    assert_int_equal(e[0]->agents[a50 - 1].ncalls, 1);

    /* a0 available again: in all three groups at once */
    cr_rgs_input av = {.type = CR_RGS_EV_PRESENCE, .agent = a0, .presence = CR_RGS_PRES_AVAILABLE};
    both(e, k, &av);
    assert_int_equal(e[0]->navail[big], 99);

    /* call 2 to Q2 (S1: a100 busy) rings a0; hanging up cancels him */
    cr_rgs_input call2 = {.type = CR_RGS_EV_CALL, .call = 2, .from = "sip:d@y", .to = "sip:w2@x"};
    both(e, k, &call2);
    assert_int_equal(k[0].last_type, CR_RGS_OUT_RING);
    assert_int_equal(k[0].last_nagents, 1);
    assert_int_equal(k[0].last_first, a0);
    assert_int_equal(e[0]->agents[a0 - 1].ringing.n, 1);
    cr_rgs_input hang = {.type = CR_RGS_EV_HANGUP, .call = 2};
    both(e, k, &hang);
    assert_int_equal(k[0].last_type, CR_RGS_OUT_CANCEL);
    assert_int_equal(e[0]->agents[a0 - 1].ringing.n, 0);
    assert_int_equal(e[0]->navail[big], 99);

    /* a103, in S3 and S4, his memberships in his record: a102 busy, a call to Q4 rings him
     * (S3), he answers and hangs up; his bits in both groups follow (both: consistent) */
    uint32_t a102 = agent_h(e[0], 102), a103 = agent_h(e[0], 103);
    const rgs_agent *r103 = &e[0]->agents[a103 - 1];
    long s3 = cr_rgs_config_group_find(cfg, "S3"), s4 = cr_rgs_config_group_find(cfg, "S4");
    assert_true(r103->ngroups == 2 && r103->groups == r103->in_groups);
    assert_true(r103->groups[0].group == s3 && r103->groups[0].pos == 1);
    assert_true(r103->groups[1].group == s4 && r103->groups[1].pos == 0);
    assert_int_equal(e[0]->navail[s3], 2);
    assert_int_equal(e[0]->navail[s4], 1);
    cr_rgs_input b102 = {.type = CR_RGS_EV_PRESENCE, .agent = a102, .presence = CR_RGS_PRES_BUSY};
    both(e, k, &b102);
    cr_rgs_input call5 = {.type = CR_RGS_EV_CALL, .call = 5, .from = "sip:f@y", .to = "sip:w4@x"};
    both(e, k, &call5);
    assert_int_equal(k[0].last_type, CR_RGS_OUT_RING);
    assert_int_equal(k[0].last_first, a103);
    assert_true(e[0]->navail[s3] == 0 && e[0]->navail[s4] == 0);
    cr_rgs_input ans5 = {.type = CR_RGS_EV_ANSWER, .call = 5, .agent = a103};
    both(e, k, &ans5);
    cr_rgs_input end5 = {.type = CR_RGS_EV_AGENT_HANGUP, .call = 5};
    both(e, k, &end5);
    assert_true(e[0]->navail[s3] == 1 && e[0]->navail[s4] == 1);

    close_pair(e, k, cfg);
}

/* The call maps (index maps whose keys are the calls' own handle and id): calls added and
 * deleted at random, past the slots reserved at open (the call array and both maps grow),
 * some with handles the engine numbers, the slots 64-byte aligned after growing; every live call
 * found by handle and by id, the dead ones not, a live call's handle or id refused to a new call,
 * the maps' counts the live calls'. */
static void call_maps_follow_the_calls(void **state)
{
    (void)state;
    enum { N = 700 };
    cr_rgs_config *cfg = wide_config();
    cr_rgs_engine *e = open_one(cfg);
    char id[32];
    size_t cap0 = e->call_handles.cap;
    static long slot[N]; /* call k's slot, -1 when dead */
    static uint64_t handle[N];
    size_t nlive = 0, peak = 0;
    uint64_t rng = 5;
    for (int k = 0; k < N; k++)
        slot[k] = -1;
    for (int step = 0; step < 20000; step++) {
        int k = (int)(rnd(&rng) % N);
        snprintf(id, sizeof id, "call-%d@host", k);
        /* mostly adds in the first half (up to ~600 live), mostly deletes in the second */
        bool add = rnd(&rng) % 4 < (step < 10000 ? 3u : 1u);
        if (add && slot[k] < 0) {
            uint64_t h = k % 5 ? (uint64_t)k * 1000003 + 11 : 0; /* 0: the engine numbers it */
            long s = rgs_call_new(e, h, id, "sip:c@y", "sip:w@x", 0);
            assert_true(s >= 0);
            slot[k] = s, handle[k] = e->calls[s].handle, nlive++;
            assert_true(handle[k] != 0);
        } else if (add) {
            /* its id, then its handle, taken by a live call: refused, nothing changed */
            assert_int_equal(rgs_call_new(e, 999999999999ULL, id, "f", "t", 0), -2);
            assert_int_equal(rgs_call_new(e, handle[k], "fresh@x", "f", "t", 0), -2);
        } else if (slot[k] >= 0) {
            rgs_call_delete(e, &e->calls[slot[k]]);
            slot[k] = -1, nlive--;
        }
        peak = nlive > peak ? nlive : peak;
        assert_int_equal(rgs_call_by_id(e, id), slot[k]);
        if (handle[k])
            assert_int_equal(rgs_call_by_handle(e, handle[k]), slot[k]);
        assert_int_equal(e->call_ids.count, nlive);
        assert_int_equal(e->call_handles.count, nlive);
    }
    for (int k = 0; k < N; k++) {
        snprintf(id, sizeof id, "call-%d@host", k);
        assert_int_equal(rgs_call_by_id(e, id), slot[k]);
        if (slot[k] >= 0) {
            assert_int_equal(rgs_call_by_handle(e, handle[k]), slot[k]);
            assert_int_equal(cr_rgs_engine_call_handle(e, id), handle[k]);
            assert_string_equal(cr_rgs_engine_call_id(e, handle[k]), id);
        }
    }
    assert_int_equal(rgs_call_by_handle(e, 0), -1);
    assert_int_equal(rgs_call_by_id(e, "nobody@x"), -1);
    assert_true(peak > cap0 * 3 / 4); /* the maps grew while calls were live */
    assert_true(e->call_handles.cap > cap0);
    /* the call slots grew and stayed aligned: each call's first line is one line */
    assert_true(e->capcalls > 102);
    assert_int_equal((uintptr_t)e->calls % 64, 0);
    assert_int_equal(sizeof(rgs_call) % 64, 0);
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
}

/* One of the hot table's arrays: inside the table, 64-byte aligned. */
typedef struct span {
    const char *lo, *hi;
} span;

static span in_hot(const cr_rgs_engine *e, const void *p, size_t bytes)
{
    const char *t = e->hot, *c = p;
    assert_true(c >= t && c + bytes <= t + e->hot_bytes);
    assert_int_equal((uintptr_t)c % 64, 0);
    return (span){c, c + bytes};
}

static int by_lo(const void *x, const void *y)
{
    const span *a = x, *b = y;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Every live call reads back its own id, from and to, fitting its buffer (a piece for calls
 * of the first kind, whose strings fill most of one), and no two buffers overlap. */
static void check_call_strings(const cr_rgs_engine *e, const long *slot, char (*from)[160], int n)
{
    static span bufs[2 * RGS_STR_CHUNK + 300];
    char id[32];
    size_t pooled = 0;
    for (int k = 0; k < n; k++) {
        const rgs_call *c = &e->calls[slot[k]];
        bool piece = from[k][4] == 'c';
        snprintf(id, sizeof id, piece ? "s-%d@h" : "l-%d@h", k);
        assert_string_equal(c->id, id);
        assert_string_equal(rgs_call_from(c), from[k]);
        assert_string_equal(rgs_call_to(c), "sip:w@x");
        assert_true(strlen(c->id) + strlen(from[k]) + strlen("sip:w@x") + 3 <= c->capstr);
        assert_int_equal(c->str_pooled, piece);
        if (piece)
            assert_int_equal(c->capstr, RGS_STR_PIECE);
        pooled += piece;
        bufs[k] = (span){c->id, c->id + c->capstr};
    }
    assert_true(pooled > 0);
    qsort(bufs, (size_t)n, sizeof *bufs, by_lo);
    for (int k = 1; k < n; k++)
        assert_true(bufs[k - 1].hi <= bufs[k].lo);
}

/* A call slot's strings: a piece of the pool for its first call (RGS_STR_PIECE bytes, cut
 * from chunks of RGS_STR_CHUNK), an allocation of its own once they do not fit. Over more than
 * two chunks' worth of slots, then with every other call deleted and its slot reused by longer
 * strings, the strings stay whole (closing the engine frees the allocations, not the pieces: a
 * piece freed would abort the test). */
static void call_strings_from_the_pool(void **state)
{
    (void)state;
    enum { N = 2 * RGS_STR_CHUNK + 300 };
    cr_rgs_config *cfg = wide_config();
    cr_rgs_engine *e = open_one(cfg);
    static long slot[N];
    static char from[N][160];
    char id[32];
    for (int k = 0; k < N; k++) {
        snprintf(id, sizeof id, "s-%d@h", k);
        snprintf(from[k], sizeof from[k], "sip:c%060d@y", k); /* a piece's 96 bytes, nearly */
        slot[k] = rgs_call_new(e, (uint64_t)k + 1, id, from[k], "sip:w@x", 0);
        assert_true(slot[k] >= 0);
    }
    check_call_strings(e, slot, from, N);
    for (int k = 0; k < N; k += 2) {
        rgs_call_delete(e, &e->calls[slot[k]]);
        snprintf(id, sizeof id, "l-%d@h", k);
        snprintf(from[k], sizeof from[k], "sip:l%0120d@y", k);
        slot[k] = rgs_call_new(e, (uint64_t)k + 1 + N, id, from[k], "sip:w@x", 0);
        assert_true(slot[k] >= 0);
    }
    assert_true(e->nstr_chunks >= 3);
    check_call_strings(e, slot, from, N);
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
}

/* Groups, queues, workflows, their counters, the avail counts and the member lists share one
 * large table without overlapping; each group's members are a copy of its configuration's. */
static void hot_tables_hold_the_records(void **state)
{
    (void)state;
    cr_rgs_config *cfg = wide_config();
    cr_rgs_engine *e = open_one(cfg);
    size_t nm = 0;
    for (size_t g = 0; g < cfg->ngroups; g++)
        nm += cfg->groups[g].nagents;
    span s[6] = {
        in_hot(e, e->groups, cfg->ngroups * sizeof *e->groups),
        in_hot(e, e->queues, cfg->nqueues * sizeof *e->queues),
        in_hot(e, e->wfs, cfg->nworkflows * sizeof *e->wfs),
        in_hot(e, e->wfstats, cfg->nworkflows * sizeof *e->wfstats),
        in_hot(e, e->navail, cfg->ngroups * sizeof *e->navail),
        in_hot(e, e->members, nm * sizeof *e->members),
    };
    qsort(s, 6, sizeof *s, by_lo);
    for (int i = 0; i + 1 < 6; i++)
        assert_true(s[i].hi <= s[i + 1].lo);
    for (size_t g = 0; g < cfg->ngroups; g++) {
        const rgs_group *rg = &e->groups[g];
        assert_int_equal(rg->nagents, cfg->groups[g].nagents);
        assert_int_equal(rg->routing, cfg->groups[g].routing);
        assert_int_equal(rg->formal, cfg->groups[g].formal);
        assert_int_equal(rg->alert_time_s, cfg->groups[g].alert_time_s);
        assert_int_equal(rg->decline_grace_s, cfg->groups[g].decline_grace_s);
        assert_true(rg->agents >= e->members && rg->agents + rg->nagents <= e->members + nm);
        for (size_t i = 0; i < rg->nagents; i++)
            assert_int_equal(rg->agents[i], cfg->groups[g].agents[i]);
    }
    for (size_t q = 0; q < cfg->nqueues; q++)
        assert_int_equal(e->queues[q].head, -1);
    for (size_t w = 0; w < cfg->nworkflows; w++)
        assert_int_equal(e->wfs[w].queue, cfg->workflows[w].queue);
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
}

/* A workflow's offered count is kept modulo 2^32 in its hot line (rgs_wf.offered), each wrap
 * carried into its counters' line: the stats see every call, past the wrap too. */
static void workflow_offered_carries_past_32_bits(void **state)
{
    (void)state;
    cr_rgs_config *cfg = wide_config();
    cr_rgs_engine *e = open_one(cfg);
    char err[256];
    long w = cr_rgs_config_workflow_find(cfg, "sip:w@x"),
         w2 = cr_rgs_config_workflow_find(cfg, "sip:w2@x");
    assert_true(w >= 0 && w2 >= 0 && w != w2);
    e->wfs[w].offered = UINT32_MAX - 1;
    sink k = {0};
    for (uint64_t h = 1; h <= 3; h++) {
        cr_rgs_input call = {.type = CR_RGS_EV_CALL, .call = h, .from = "sip:c@y", .to = "sip:w@x"};
        assert_int_equal(cr_rgs_engine_input(e, 1000, &call, on_out, &k, err, sizeof err), CR_OK);
    }
    assert_int_equal(e->wfs[w].offered, 1);
    cr_rgs_workflow_stats st;
    assert_int_equal(cr_rgs_engine_workflow_stats(e, (size_t)w, 1000, &st), CR_OK);
    assert_true(st.offered == (1ULL << 32) + 1);
    assert_int_equal(cr_rgs_engine_workflow_stats(e, (size_t)w2, 1000, &st), CR_OK);
    assert_true(st.offered == 0);
    free(k.out.buf);
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
}

/* A call that waits from its arrival on leaves its line 2 (the hunt's round) as the slot's last
 * call left it until an agent is free for it; then its round starts empty: the earlier call's
 * tried list and declines (a100's, still in its grace) do not hold it back. */
static void waiting_call_sets_its_round_when_offered(void **state)
{
    (void)state;
    cr_rgs_config *cfg = wide_config();
    cr_rgs_engine *e[2];
    sink k[2];
    open_pair(cfg, e, k);
    uint32_t a0 = agent_h(e[0], 0), a100 = agent_h(e[0], 100);

    /* call 1 to Q2 (S1: a100, a0): a100 declines, a0 rings; the caller hangs up */
    cr_rgs_input call = {.type = CR_RGS_EV_CALL, .call = 1, .from = "sip:c@y", .to = "sip:w2@x"};
    both(e, k, &call);
    assert_int_equal(k[0].last_first, a100);
    long s = rgs_call_by_handle(e[0], 1);
    assert_true(s >= 0);
    cr_rgs_input dec = {.type = CR_RGS_EV_DECLINE, .call = 1, .agent = a100};
    both(e, k, &dec);
    assert_int_equal(k[0].last_type, CR_RGS_OUT_RING);
    assert_int_equal(k[0].last_first, a0);
    cr_rgs_input hang = {.type = CR_RGS_EV_HANGUP, .call = 1};
    both(e, k, &hang);

    /* both busy: call 2 takes the slot and waits, its round not set */
    uint32_t busy[] = {a100, a0};
    for (size_t i = 0; i < 2; i++) {
        cr_rgs_input in = {
            .type = CR_RGS_EV_PRESENCE, .agent = busy[i], .presence = CR_RGS_PRES_BUSY};
        both(e, k, &in);
    }
    cr_rgs_input call2 = {.type = CR_RGS_EV_CALL, .call = 2, .from = "sip:d@y", .to = "sip:w2@x"};
    both(e, k, &call2);
    assert_int_equal(k[0].last_type, CR_RGS_OUT_MOH);
    assert_int_equal(rgs_call_by_handle(e[0], 2), s);
    const rgs_call *c = &e[0]->calls[s];
    assert_false(c->round_set);
    assert_int_equal(c->ndeclines, 1); /* call 1's, untouched */
    assert_int_equal(c->tried.n, 2);

    /* a100 back: offered call 2 at once (call 1's decline of him is not call 2's) */
    cr_rgs_input av = {
        .type = CR_RGS_EV_PRESENCE, .agent = a100, .presence = CR_RGS_PRES_AVAILABLE};
    both(e, k, &av);
    assert_int_equal(k[0].last_type, CR_RGS_OUT_RING);
    assert_int_equal(k[0].last_first, a100);
    assert_true(c->round_set);
    assert_int_equal(c->ndeclines, 0);
    assert_int_equal(c->tried.n, 1);
    assert_int_equal(c->ring_group, cr_rgs_config_group_find(cfg, "S1"));

    close_pair(e, k, cfg);
}

/* An agent's answered count is kept modulo 2^32 in his first line (rgs_agent.answers), each
 * wrap carried into `answered`: his info sees every answer, past the wrap too. */
static void agent_answers_carry_past_32_bits(void **state)
{
    (void)state;
    cr_rgs_config *cfg = wide_config();
    cr_rgs_engine *e = open_one(cfg);
    char err[256];
    uint32_t a100 = agent_h(e, 100);
    e->agents[a100 - 1].answers = UINT32_MAX;
    sink k = {0};
    /* W2's queue rings a100 first (S1, serial): he answers, the call ends, twice */
    for (uint64_t h = 1; h <= 2; h++) {
        cr_rgs_input in[] = {
            {.type = CR_RGS_EV_CALL, .call = h, .from = "sip:c@y", .to = "sip:w2@x"},
            {.type = CR_RGS_EV_ANSWER, .call = h, .agent = a100},
            {.type = CR_RGS_EV_AGENT_HANGUP, .call = h},
        };
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(cr_rgs_engine_input(e, 1000, &in[i], on_out, &k, err, sizeof err),
                             CR_OK);
    }
    assert_int_equal(e->agents[a100 - 1].answers, 1);
    cr_rgs_agent_info info;
    assert_int_equal(cr_rgs_engine_agent_info(e, a100, &info), CR_OK);
    assert_true(info.answered == (1ULL << 32) + 1);
    assert_int_equal(cr_rgs_engine_agent_info(e, agent_h(e, 0), &info), CR_OK);
    assert_true(info.answered == 0);
    free(k.out.buf);
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
}

/* A call of W2 (queue Q2, rung a100 first) arrives at `at`, is answered by a100 at `answer`
 * (its entry time first set to `entered` when not 0) and ends. */
static void q2_call(cr_rgs_engine *e, uint64_t h, int64_t at, int64_t entered, int64_t answer)
{
    char err[256];
    sink k = {0};
    uint32_t a100 = agent_h(e, 100);
    cr_rgs_input call = {.type = CR_RGS_EV_CALL, .call = h, .from = "sip:c@y", .to = "sip:w2@x"};
    assert_int_equal(cr_rgs_engine_input(e, at, &call, on_out, &k, err, sizeof err), CR_OK);
    assert_int_equal(k.last_type, CR_RGS_OUT_RING);
    assert_int_equal(k.last_first, a100);
    if (entered)
        e->calls[rgs_call_by_handle(e, h)].enter_ms = entered;
    cr_rgs_input in[] = {{.type = CR_RGS_EV_ANSWER, .call = h, .agent = a100},
                         {.type = CR_RGS_EV_AGENT_HANGUP, .call = h}};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(cr_rgs_engine_input(e, answer, &in[i], on_out, &k, err, sizeof err),
                         CR_OK);
    free(k.out.buf);
}

/* A queue's entered and answered counts and its answered calls' total wait are kept modulo
 * 2^32 in its first line, what they carry in its second; its longest wait in its first line
 * up to 2^32 - 2 ms, beyond in its second: the stats see the exact figures past every wrap. */
static void queue_counters_carry_past_32_bits(void **state)
{
    (void)state;
    cr_rgs_config *cfg = wide_config();
    cr_rgs_engine *e = open_one(cfg);
    long qi = cr_rgs_config_queue_find(cfg, "Q2");
    assert_true(qi >= 0);
    rgs_queue *q = &e->queues[qi];
    q->entered = UINT32_MAX;
    q->answered = 3;
    q->answered_wait = UINT32_MAX - 500;
    q2_call(e, 1, 1000, 0, 3000); /* waits 2,000 ms */
    cr_rgs_queue_stats st;
    assert_int_equal(cr_rgs_engine_queue_stats(e, (size_t)qi, 3000, &st), CR_OK);
    assert_true(st.entered == 1ULL << 32);
    assert_int_equal(q->entered, 0);
    assert_true(st.answered == 4);
    assert_true(st.average_wait_ms == ((1LL << 32) + 1499) / 4);
    assert_int_equal(st.longest_wait_ms, 2000);

    /* a wait past 2^32 ms, then a shorter one: the longest is the first, exactly */
    int64_t long_wait = (5LL << 32) + 7;
    q2_call(e, 2, 4000, 5000 - long_wait, 5000);
    assert_int_equal(q->longest_wait, UINT32_MAX);
    q->answered = UINT32_MAX;
    q2_call(e, 3, 6000, 0, 9000);
    assert_int_equal(cr_rgs_engine_queue_stats(e, (size_t)qi, 9000, &st), CR_OK);
    assert_true(st.longest_wait_ms == long_wait);
    assert_true(st.answered == 1ULL << 32);
    assert_true(st.entered == (1ULL << 32) + 2);
    assert_true(rgs_queue_answered_wait(q) == (1LL << 32) + 1499 + long_wait + 3000);
    cr_rgs_engine_close(e);
    cr_rgs_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(svec_matches_an_array),
        cmocka_unit_test(wide_groups_and_queues),
        cmocka_unit_test(call_maps_follow_the_calls),
        cmocka_unit_test(call_strings_from_the_pool),
        cmocka_unit_test(hot_tables_hold_the_records),
        cmocka_unit_test(workflow_offered_carries_past_32_bits),
        cmocka_unit_test(waiting_call_sets_its_round_when_offered),
        cmocka_unit_test(agent_answers_carry_past_32_bits),
        cmocka_unit_test(queue_counters_carry_past_32_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

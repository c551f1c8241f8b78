/*
 * The typed response-group ABI (callroute.h, ABI 1.5) as a host sees it, through the real
 * libcallroute.so:
 * - every tests/rgs and tests/lua scenario replayed through the text path (rgs_event) and
 *   through the typed path (rgs_event_typed, events built by the host from handles, actions
 *   formatted back with the lookups) prints the same lines, and the rgs ones their .expected;
 * - handles, errors, deadlines, agents who may no longer be rung, statistics, the snapshot,
 *   and restarts with and without CR_RGS_OPEN_DROP_CALLS.
 * Environment: CR_LIB (the library), CR_SRC (the source tree).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "abi_load.h"

static const cr_plugin *P;

/* ---- output ---------------------------------------------------------------------------------- */

typedef struct out {
    char *buf;
    size_t len, cap;
    cr_rgs *e;          /* for agent URIs */
    uint64_t calls[64]; /* handles seen in actions (order of first appearance) */
    size_t ncalls;
} out;

static void put(out *o, const char *s)
{
    size_t n = strlen(s);
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->buf = realloc(o->buf, o->cap);
        assert_non_null(o->buf);
    }
    memcpy(o->buf + o->len, s, n + 1);
    o->len += n;
}

static void line(out *o, int64_t at, const char *call, const char *action, const char *args)
{
    char l[8192];
    snprintf(l, sizeof l, "%lld.%03lld %s %s%s%s\n", (long long)(at / 1000), (long long)(at % 1000),
             call, action, args[0] ? " " : "", args);
    put(o, l);
}

static void text_emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    line(ud, at, call, action, args);
}

static const char *const action_names[] = {"answer",    "play",   "collect", "moh",
                                           "ring",      "cancel", "bridge",  "transfer",
                                           "voicemail", "hangup", "set",     "log"};

static void typed_emit(void *ud, int64_t at, const cr_rgs_typed_action *a)
{
    out *o = ud;
    assert_true(a->size >= sizeof *a);
    assert_true(a->type >= 0 && a->type <= CR_RGS_ACTION_LOG);
    assert_non_null(a->arg);
    char args[8192] = "";
    size_t off = 0;
    if (a->type == CR_RGS_ACTION_RING || a->type == CR_RGS_ACTION_CANCEL ||
        a->type == CR_RGS_ACTION_BRIDGE) {
        assert_true(a->nagents > 0);
        for (uint32_t i = 0; i < a->nagents; i++) {
            const char *uri = P->rgs_agent_uri(o->e, a->agents[i]);
            assert_non_null(uri);
            off += (size_t)snprintf(args + off, sizeof args - off, "%s%s", i ? " " : "", uri);
        }
    } else if (a->type == CR_RGS_ACTION_SET) {
        snprintf(args, sizeof args, "%s%s%s", a->arg, a->value[0] ? " " : "", a->value);
    } else {
        snprintf(args, sizeof args, "%s", a->arg);
    }
    if (a->type == CR_RGS_ACTION_HANGUP)
        assert_true(a->reason > CR_RGS_REASON_NONE && a->reason <= CR_RGS_REASON_IVR);
    if (a->type == CR_RGS_ACTION_LOG) {
        assert_true(a->call == 0);
    } else {
        assert_true(a->call != 0);
        size_t i = 0;
        while (i < o->ncalls && o->calls[i] != a->call)
            i++;
        if (i == o->ncalls && o->ncalls < 64)
            o->calls[o->ncalls++] = a->call;
    }
    line(o, at, a->call_id, action_names[a->type], args);
}

/* ---- scenarios through both paths --------------------------------------------------------------
 */

typedef struct labels {
    char name[64][32];
    uint64_t handle[64];
    size_t n;
    uint64_t next;
} labels;

static uint64_t label_find(const labels *l, const char *name)
{
    for (size_t i = l->n; i-- > 0;)
        if (strcmp(l->name[i], name) == 0)
            return l->handle[i];
    return 0;
}

/* Splits "event a b rest..." into at most `max` arguments, the last to the end of line. */
static int split(char *s, char *argv[], int max)
{
    int n = 0;
    while (*s && n < max) {
        s += strspn(s, " \t");
        if (!*s)
            break;
        argv[n++] = s;
        if (n == max)
            break;
        s += strcspn(s, " \t");
        if (*s)
            *s++ = 0;
    }
    return n;
}

static const char *const presences[] = {"available", "busy", "away", "dnd", "offline"};

/* The typed event a host would send for a text event; returns 0 or the error the host
 * itself finds (an unknown name it cannot turn into a handle). */
static int build_event(cr_rgs *e, labels *lb, char *text, cr_rgs_typed_event *ev, char *err)
{
    static const struct {
        const char *name;
        int type, nargs;
    } kinds[] = {{"call", CR_RGS_EVENT_CALL, 3},
                 {"presence", CR_RGS_EVENT_PRESENCE, 2},
                 {"signin", CR_RGS_EVENT_SIGNIN, 2},
                 {"signout", CR_RGS_EVENT_SIGNOUT, 2},
                 {"dtmf", CR_RGS_EVENT_DTMF, 2},
                 {"speech", CR_RGS_EVENT_SPEECH, 2},
                 {"prompt_done", CR_RGS_EVENT_PROMPT_DONE, 1},
                 {"answer", CR_RGS_EVENT_ANSWER, 2},
                 {"decline", CR_RGS_EVENT_DECLINE, 2},
                 {"hangup", CR_RGS_EVENT_HANGUP, 1},
                 {"agent_hangup", CR_RGS_EVENT_AGENT_HANGUP, 1},
                 {"no_answer", CR_RGS_EVENT_NO_ANSWER, 2}};
    char *argv[4] = {0};
    char *word = text + strspn(text, " \t");
    char *rest = word + strcspn(word, " \t");
    if (*rest)
        *rest++ = 0;
    size_t k = 0;
    while (k < sizeof kinds / sizeof *kinds && strcmp(kinds[k].name, word) != 0)
        k++;
    assert_true(k < sizeof kinds / sizeof *kinds);
    int n = split(rest, argv, kinds[k].nargs);
    memset(ev, 0, sizeof *ev);
    ev->size = sizeof *ev;
    ev->type = kinds[k].type;
    switch (ev->type) {
    case CR_RGS_EVENT_CALL:
        assert_int_equal(n, 3);
        assert_true(lb->n < 64);
        snprintf(lb->name[lb->n], sizeof lb->name[0], "%s", argv[0]);
        ev->call = lb->handle[lb->n++] = lb->next++;
        ev->call_id = argv[0], ev->from = argv[1], ev->to = argv[2];
        return 0;
    case CR_RGS_EVENT_PRESENCE:
        ev->agent = P->rgs_agent_id(e, argv[0]);
        while (ev->presence < 4 && strcmp(presences[ev->presence], argv[1]) != 0)
            ev->presence++;
        return 0;
    case CR_RGS_EVENT_SIGNIN:
    case CR_RGS_EVENT_SIGNOUT:
        ev->agent = P->rgs_agent_id(e, argv[0]);
        if (n > 1 && !(ev->group = P->rgs_group_id(e, argv[1]))) {
            snprintf(err, 64, "no group");
            return CR_ABI_ENOENT;
        }
        return 0;
    default:
        ev->call = label_find(lb, argv[0]);
        if (!ev->call)
            return CR_ABI_ENOENT;
        if (ev->type == CR_RGS_EVENT_ANSWER || ev->type == CR_RGS_EVENT_DECLINE ||
            ev->type == CR_RGS_EVENT_NO_ANSWER)
            ev->agent = P->rgs_agent_id(e, argv[1]);
        else
            ev->text = argv[1];
        return 0;
    }
}

typedef struct scen {
    char config[1024];
    int64_t start;
    char *text;
} scen;

static int64_t iso(const char *s)
{
    struct tm tm = {0};
    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
           &tm.tm_min, &tm.tm_sec);
    tm.tm_year -= 1900, tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

/* Replays a scenario; typed = the typed path. Error lines carry the code only (the texts of
 * the two paths name calls and agents differently). Returns NULL when the engine cannot be
 * opened (a configuration both paths refuse). */
static char *replay(const char *dir, const char *name, bool typed, bool log)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/%s.events", getenv("CR_SRC"), dir, name);
    char *text = slurp(path);
    assert_non_null(text);
    char config[512] = "";
    int64_t start = iso("2027-01-04T09:00:00");
    for (char *l = text; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char arg[512];
        if (sscanf(l, "#! config %511s", arg) == 1)
            snprintf(config, sizeof config, "%s", arg);
        else if (sscanf(l, "#! start %511s", arg) == 1)
            start = iso(arg);
    }
    snprintf(path, sizeof path, "%s/%s/%s", getenv("CR_SRC"), dir, config);
    cr_handle *h = NULL;
    char err[4096];
    if (P->open(path, NULL, &h, err, sizeof err) != 0) {
        free(text);
        return NULL;
    }
    cr_rgs *e = NULL;
    cr_rgs_open_options oo = {sizeof oo, start, NULL, log ? CR_RGS_OPEN_LOG : 0};
    if (P->rgs_open_ex(h, &oo, &e, err, sizeof err) != 0) {
        P->close(h);
        free(text);
        return NULL;
    }
    out o = {.e = e};
    put(&o, "");
    labels lb = {.next = 1000};
    int lineno = 0;
    int64_t last = 0;
    for (char *save, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        l += strspn(l, " ");
        if (!*l || *l == '#')
            continue;
        char *end;
        int64_t at = (int64_t)(strtod(l, &end) * 1000 + 0.5);
        end += strspn(end, " \t");
        last = at;
        int rc;
        if (strncmp(end, "reload", 6) == 0) {
            rc = P->rgs_event(e, at, end, text_emit, &o, err, sizeof err);
        } else if (typed) {
            P->rgs_advance_typed(e, at, typed_emit, &o);
            cr_rgs_typed_event ev;
            rc = build_event(e, &lb, end, &ev, err);
            if (rc == 0)
                rc = P->rgs_event_typed(e, at, &ev, typed_emit, &o, err, sizeof err);
        } else {
            P->rgs_advance(e, at, text_emit, &o);
            rc = P->rgs_event(e, at, end, text_emit, &o, err, sizeof err);
        }
        if (rc != 0) {
            char m[64];
            snprintf(m, sizeof m, "# line %d: %d\n", lineno, rc);
            put(&o, m);
        }
    }
    for (int i = 0; i < 100000; i++) {
        int64_t next = typed ? P->rgs_advance_typed(e, last, typed_emit, &o)
                             : P->rgs_advance(e, last, text_emit, &o);
        if (next < 0)
            break;
        last = next > last ? next : last;
    }
    P->rgs_close(e);
    P->close(h);
    free(text);
    return o.buf;
}

static char *without_errors(const char *s)
{
    char *r = malloc(strlen(s) + 1);
    size_t k = 0;
    for (const char *l = s; *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) + 1 : strlen(l);
        if (strncmp(l, "# line", 6) != 0)
            memcpy(r + k, l, n), k += n;
        l += n;
    }
    r[k] = 0;
    return r;
}

static void both_paths(const char *dir, bool log)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", getenv("CR_SRC"), dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len < 8 || strcmp(de->d_name + len - 7, ".events") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len - 7), de->d_name);
        char *text = replay(dir, name, false, log), *typed = replay(dir, name, true, log);
        assert_true((text == NULL) == (typed == NULL));
        if (!text)
            continue;
        if (strcmp(text, typed) != 0)
            print_error("%s/%s:\n--- text\n%s--- typed\n%s", dir, name, text, typed);
        assert_string_equal(text, typed);
        if (!log) { /* and what the scenario expects */
            snprintf(path, sizeof path, "%s/%s/%s.expected", getenv("CR_SRC"), dir, name);
            char *expected = slurp(path), *actions = without_errors(text);
            assert_non_null(expected);
            if (strcmp(actions, expected) != 0)
                print_error("%s/%s differs from .expected:\n%s", dir, name, actions);
            assert_string_equal(actions, expected);
            free(expected), free(actions);
        }
        free(text), free(typed);
        n++;
    }
    closedir(d);
    assert_true(n > 5);
}

static void test_rgs_scenarios_both_paths(void **state)
{
    (void)state;
    both_paths("tests/rgs", false);
}

static void test_lua_scenarios_both_paths(void **state)
{
    (void)state;
    both_paths("tests/lua", true);
}

/* ---- typed behaviour ------------------------------------------------------------------------- */

typedef struct fx {
    cr_handle *h;
    cr_rgs *e;
    out o;
    char dir[64];
} fx;

static fx *fx_open(const char *state_dir, unsigned flags)
{
    fx *f = calloc(1, sizeof *f);
    char path[2048], err[4096];
    snprintf(path, sizeof path, "%s/tests/rgs/rgs.xml", getenv("CR_SRC"));
    assert_int_equal(P->open(path, NULL, &f->h, err, sizeof err), 0);
    cr_rgs_open_options oo = {sizeof oo, iso("2027-01-04T09:00:00"), state_dir, flags};
    int rc = P->rgs_open_ex(f->h, &oo, &f->e, err, sizeof err);
    if (rc != 0)
        fail_msg("rgs_open_ex: %s", err);
    f->o.e = f->e;
    put(&f->o, "");
    return f;
}

static void fx_close(fx *f)
{
    P->rgs_close(f->e);
    P->close(f->h);
    free(f->o.buf);
    free(f);
}

static uint32_t agent(fx *f, const char *user)
{
    char uri[128];
    snprintf(uri, sizeof uri, "sip:%s@contoso.com", user);
    uint32_t a = P->rgs_agent_id(f->e, uri);
    assert_true(a != 0);
    return a;
}

static int ev(fx *f, int64_t at_s, int type, uint64_t call, uint32_t ag, const char *to)
{
    cr_rgs_typed_event e = {.size = sizeof e, .type = type, .call = call, .agent = ag, .to = to};
    if (type == CR_RGS_EVENT_CALL)
        e.from = "sip:caller@fabrikam.com";
    char err[512];
    f->o.len = 0;
    f->o.buf[0] = 0;
    return P->rgs_event_typed(f->e, at_s * 1000, &e, typed_emit, &f->o, err, sizeof err);
}

static int presence(fx *f, int64_t at_s, uint32_t ag, int p)
{
    cr_rgs_typed_event e = {
        .size = sizeof e, .type = CR_RGS_EVENT_PRESENCE, .agent = ag, .presence = p};
    f->o.len = 0;
    f->o.buf[0] = 0;
    return P->rgs_event_typed(f->e, at_s * 1000, &e, typed_emit, &f->o, NULL, 0);
}

static int sign(fx *f, int64_t at_s, int type, uint32_t ag, const char *group)
{
    cr_rgs_typed_event e = {.size = sizeof e,
                            .type = type,
                            .agent = ag,
                            .group = group ? P->rgs_group_id(f->e, group) : 0};
    f->o.len = 0;
    f->o.buf[0] = 0;
    return P->rgs_event_typed(f->e, at_s * 1000, &e, typed_emit, &f->o, NULL, 0);
}

static void test_table_has_typed_members(void **state)
{
    (void)state;
    assert_true(P->abi_minor >= 5);
    assert_true(CR_HAS(cr_plugin, P, rgs_snapshot));
    assert_non_null(P->rgs_open_ex);
    assert_non_null(P->rgs_event_typed);
    assert_non_null(P->rgs_advance_typed);
    assert_non_null(P->rgs_next_deadline);
    assert_non_null(P->rgs_stats);
    assert_non_null(P->rgs_snapshot);
}

/* The host's handle names the call in every action; the engine picks one for call 0. */
static void test_call_handles(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    uint64_t big = 0xfedcba9876543210ULL;
    assert_int_equal(ev(f, 0, CR_RGS_EVENT_CALL, big, 0, "sip:serial@contoso.com"), 0);
    assert_int_equal(f->o.ncalls, 1);
    assert_true(f->o.calls[0] == big);
    assert_string_equal(f->o.buf, "0.000 18364758544493064720 answer\n"
                                  "0.000 18364758544493064720 moh default\n"
                                  "0.000 18364758544493064720 ring sip:s1@contoso.com\n");
    char id[32];
    assert_int_equal(P->rgs_call_id(f->e, big, id, sizeof id), 20);
    assert_string_equal(id, "18364758544493064720");
    assert_true(P->rgs_call_handle(f->e, id) == big);
    /* the same handle again: refused, nothing emitted */
    assert_int_equal(ev(f, 1, CR_RGS_EVENT_CALL, big, 0, "sip:serial@contoso.com"), CR_ABI_ESTATE);
    assert_string_equal(f->o.buf, "");
    /* call 0: the engine's handle comes with the first action */
    assert_int_equal(ev(f, 2, CR_RGS_EVENT_CALL, 0, 0, "sip:nowhere@contoso.com"), 0);
    assert_int_equal(f->o.ncalls, 2);
    assert_true(f->o.calls[1] != 0 && f->o.calls[1] != big);
    assert_non_null(strstr(f->o.buf, " hangup not_found\n"));
    /* after its final action a handle is unknown */
    assert_int_equal(ev(f, 3, CR_RGS_EVENT_HANGUP, f->o.calls[1], 0, NULL), CR_ABI_ENOENT);
    assert_int_equal(ev(f, 4, CR_RGS_EVENT_HANGUP, big, 0, NULL), 0);
    assert_string_equal(f->o.buf, "4.000 18364758544493064720 cancel sip:s1@contoso.com\n");
    assert_int_equal(P->rgs_call_id(f->e, big, id, sizeof id), 0);
    fx_close(f);
}

/* ---- handles given by the engine (ABI 1.13 rgs_call_typed) ---------------------------------- */

static const uint64_t *expect_handle; /* what every action of the call in progress carries */

static void handle_emit(void *ud, int64_t at, const cr_rgs_typed_action *a)
{
    /* *call is set before the first action: the host keys its call by it in its callback */
    assert_true(a->call == *expect_handle);
    typed_emit(ud, at, a);
}

/* A CALL through rgs_call_typed (call_id NULL = the handle in decimal). */
static int ecall(fx *f, int64_t at_s, const char *to, const char *id, uint64_t *h)
{
    cr_rgs_typed_event e = {.size = sizeof e,
                            .type = CR_RGS_EVENT_CALL,
                            .from = "sip:caller@fabrikam.com",
                            .to = to,
                            .call_id = id};
    char err[512];
    f->o.len = 0;
    f->o.buf[0] = 0;
    *h = 0;
    expect_handle = h;
    return P->rgs_call_typed(f->e, at_s * 1000, &e, h, handle_emit, &f->o, err, sizeof err);
}

/* The slot a handle of the engine names (its low 31 bits: rgs_slot_handle). The tests below
 * check with it that a slot was reused, which is what makes them meaningful. */
static uint64_t slot_of(uint64_t h)
{
    return h & 0x7fffffffULL;
}

/* Engine handles: the top bit set, distinct, in every action of their call, and every later
 * event goes to the call its handle names. */
static void test_engine_handles_route_events(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    assert_true(P->abi_minor >= 13 && CR_HAS(cr_plugin, P, rgs_call_typed));
    assert_non_null(P->rgs_call_typed);
    uint64_t a, b, c;
    assert_int_equal(ecall(f, 0, "sip:serial@contoso.com", "A", &a), 0);
    assert_true(a >> 63);
    assert_string_equal(f->o.buf, "0.000 A answer\n"
                                  "0.000 A moh default\n"
                                  "0.000 A ring sip:s1@contoso.com\n");
    assert_int_equal(ecall(f, 1, "sip:serial@contoso.com", "B", &b), 0);
    assert_true(b >> 63 && b != a);
    assert_non_null(strstr(f->o.buf, "1.000 B ring sip:s2@contoso.com\n"));
    char id[32];
    assert_int_equal(P->rgs_call_id(f->e, a, id, sizeof id), 1);
    assert_string_equal(id, "A");
    assert_true(P->rgs_call_handle(f->e, "B") == b);
    assert_int_equal(ev(f, 2, CR_RGS_EVENT_ANSWER, b, agent(f, "s2"), NULL), 0);
    assert_string_equal(f->o.buf, "2.000 B bridge sip:s2@contoso.com\n");
    assert_int_equal(ev(f, 3, CR_RGS_EVENT_ANSWER, a, agent(f, "s2"), NULL), CR_ABI_ESTATE);
    assert_int_equal(ev(f, 3, CR_RGS_EVENT_HANGUP, a, 0, NULL), 0);
    assert_string_equal(f->o.buf, "3.000 A cancel sip:s1@contoso.com\n");
    assert_int_equal(ev(f, 4, CR_RGS_EVENT_AGENT_HANGUP, b, 0, NULL), 0);
    assert_string_equal(f->o.buf, "4.000 B hangup agent\n");
    /* no name: the handle in decimal; the call ends in the event, its handle with it */
    assert_int_equal(ecall(f, 5, "sip:nowhere@contoso.com", NULL, &c), 0);
    char want[64];
    snprintf(want, sizeof want, "5.000 %llu hangup not_found\n", (unsigned long long)c);
    assert_string_equal(f->o.buf, want);
    assert_int_equal(ev(f, 6, CR_RGS_EVENT_HANGUP, c, 0, NULL), CR_ABI_ENOENT);
    assert_int_equal(ev(f, 6, CR_RGS_EVENT_HANGUP, b, 0, NULL), CR_ABI_ENOENT);
    /* the contract: a CALL with call 0, a place for the handle */
    cr_rgs_typed_event e = {.size = sizeof e, .type = CR_RGS_EVENT_CALL, .call = 9, .to = "sip:x"};
    uint64_t h = 1;
    assert_int_equal(P->rgs_call_typed(f->e, 7000, &e, &h, typed_emit, &f->o, NULL, 0),
                     CR_ABI_EINVAL);
    assert_true(h == 0);
    e.call = 0, e.type = CR_RGS_EVENT_HANGUP;
    assert_int_equal(P->rgs_call_typed(f->e, 7000, &e, &h, typed_emit, &f->o, NULL, 0),
                     CR_ABI_EINVAL);
    e.type = CR_RGS_EVENT_CALL;
    assert_int_equal(P->rgs_call_typed(f->e, 7000, &e, NULL, typed_emit, &f->o, NULL, 0),
                     CR_ABI_EINVAL);
    fx_close(f);
}

/* The handle of an ended call names no call once its slot holds another: not the new one. */
static void test_stale_engine_handle(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    uint64_t a, b;
    assert_int_equal(ecall(f, 0, "sip:serial@contoso.com", "A", &a), 0);
    assert_int_equal(ev(f, 1, CR_RGS_EVENT_HANGUP, a, 0, NULL), 0);
    assert_int_equal(ecall(f, 2, "sip:serial@contoso.com", "B", &b), 0);
    assert_true(slot_of(b) == slot_of(a)); /* the slot A left */
    assert_true(b != a);
    assert_int_equal(ev(f, 3, CR_RGS_EVENT_HANGUP, a, 0, NULL), CR_ABI_ENOENT);
    assert_string_equal(f->o.buf, "");
    assert_int_equal(ev(f, 3, CR_RGS_EVENT_ANSWER, a, agent(f, "s1"), NULL), CR_ABI_ENOENT);
    char id[32];
    assert_int_equal(P->rgs_call_id(f->e, a, id, sizeof id), 0);
    assert_int_equal(P->rgs_call_id(f->e, b, id, sizeof id), 1);
    assert_int_equal(ev(f, 4, CR_RGS_EVENT_ANSWER, b, agent(f, "s1"), NULL), 0);
    assert_string_equal(f->o.buf, "4.000 B bridge sip:s1@contoso.com\n");
    fx_close(f);
}

/* Host handles and engine handles in one engine: each event goes to its own call; a host
 * handle equal to a live engine handle is in use; the engine never gives a handle a host's
 * call has, even the one it would have given next. */
static void test_host_and_engine_handles_mixed(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    uint64_t e1, e2, e3;
    char want[128];
    assert_int_equal(ev(f, 0, CR_RGS_EVENT_CALL, 5, 0, "sip:serial@contoso.com"), 0);
    assert_int_equal(ecall(f, 1, "sip:serial@contoso.com", "E1", &e1), 0);
    assert_int_equal(ev(f, 2, CR_RGS_EVENT_CALL, e1, 0, "sip:serial@contoso.com"), CR_ABI_ESTATE);
    assert_string_equal(f->o.buf, "");
    /* a host handle naming E1's slot with another generation: the host's own call */
    uint64_t x = e1 + (1ULL << 31);
    assert_int_equal(ev(f, 3, CR_RGS_EVENT_CALL, x, 0, "sip:serial@contoso.com"), 0);
    assert_int_equal(ev(f, 4, CR_RGS_EVENT_HANGUP, e1, 0, NULL), 0);
    assert_string_equal(f->o.buf, "4.000 E1 cancel sip:s2@contoso.com\n");
    assert_int_equal(ev(f, 5, CR_RGS_EVENT_HANGUP, 5, 0, NULL), 0);
    assert_string_equal(f->o.buf, "5.000 5 cancel sip:s1@contoso.com\n");
    snprintf(want, sizeof want, "6.000 %llu cancel sip:s3@contoso.com\n", (unsigned long long)x);
    assert_int_equal(ev(f, 6, CR_RGS_EVENT_HANGUP, x, 0, NULL), 0);
    assert_string_equal(f->o.buf, want);
    /* E2 and E3 in two slots; E2 ends, then E3: E3's slot is taken next, then E2's. The host
     * takes the handle the engine would give next in E2's slot, and its call E3's slot. */
    assert_int_equal(ecall(f, 7, "sip:serial@contoso.com", "E2", &e2), 0);
    assert_int_equal(ecall(f, 7, "sip:serial@contoso.com", "E3", &e3), 0);
    assert_true(slot_of(e2) != slot_of(e3));
    assert_int_equal(ev(f, 8, CR_RGS_EVENT_HANGUP, e2, 0, NULL), 0);
    assert_int_equal(ev(f, 8, CR_RGS_EVENT_HANGUP, e3, 0, NULL), 0);
    uint64_t h = e2 + (1ULL << 31), e4;
    assert_int_equal(ev(f, 9, CR_RGS_EVENT_CALL, h, 0, "sip:serial@contoso.com"), 0);
    assert_int_equal(ecall(f, 10, "sip:serial@contoso.com", "E4", &e4), 0);
    assert_true(slot_of(e4) == slot_of(e2));
    assert_true(e4 != h && e4 != e2);
    assert_int_equal(ev(f, 11, CR_RGS_EVENT_HANGUP, e4, 0, NULL), 0);
    assert_string_equal(f->o.buf, "11.000 E4 cancel sip:s2@contoso.com\n");
    snprintf(want, sizeof want, "12.000 %llu cancel sip:s1@contoso.com\n", (unsigned long long)h);
    assert_int_equal(ev(f, 12, CR_RGS_EVENT_HANGUP, h, 0, NULL), 0);
    assert_string_equal(f->o.buf, want);
    fx_close(f);
}

/* Calls restored from the state directory keep their handles, engine-given or not, in other
 * slots than before; the handles given after the restart differ from every restored one,
 * also once those calls ended. */
static void test_restart_keeps_engine_handles(void **state)
{
    (void)state;
    char dir[] = "/tmp/crrgstypedXXXXXX";
    assert_non_null(mkdtemp(dir));
    fx *f = fx_open(dir, 0);
    presence(f, 0, agent(f, "o1"), CR_RGS_PRESENCE_AWAY);
    uint64_t t, z, a;
    for (int i = 0; i < 3; i++) { /* slot 0 through three calls: Z has a later generation */
        assert_int_equal(ecall(f, 1, "sip:timeout@contoso.com", "T", &t), 0);
        assert_int_equal(ev(f, 1, CR_RGS_EVENT_HANGUP, t, 0, NULL), 0);
    }
    assert_int_equal(ecall(f, 2, "sip:timeout@contoso.com", "Z", &z), 0);
    assert_int_equal(ecall(f, 2, "sip:timeout@contoso.com", "A", &a), 0);
    assert_int_equal(ev(f, 2, CR_RGS_EVENT_CALL, 77, 0, "sip:timeout@contoso.com"), 0);
    assert_true(slot_of(z) == slot_of(t) && slot_of(a) != slot_of(z));
    fx_close(f);
    /* restored in the order of their names: 77, A, Z, each in another slot than before */
    f = fx_open(dir, 0);
    char id[32];
    assert_int_equal(P->rgs_call_id(f->e, z, id, sizeof id), 1);
    assert_string_equal(id, "Z");
    assert_int_equal(P->rgs_call_id(f->e, a, id, sizeof id), 1);
    assert_string_equal(id, "A");
    assert_int_equal(P->rgs_call_id(f->e, 77, id, sizeof id), 2);
    assert_true(P->rgs_call_handle(f->e, "Z") == z);
    /* every one takes events: o1 comes back and is rung for the first in the queue, Z */
    assert_int_equal(presence(f, 3, agent(f, "o1"), CR_RGS_PRESENCE_AVAILABLE), 0);
    assert_string_equal(f->o.buf, "3.000 Z ring sip:o1@contoso.com\n");
    assert_int_equal(ev(f, 4, CR_RGS_EVENT_ANSWER, z, agent(f, "o1"), NULL), 0);
    assert_string_equal(f->o.buf, "4.000 Z bridge sip:o1@contoso.com\n");
    assert_int_equal(ev(f, 5, CR_RGS_EVENT_HANGUP, z, 0, NULL), 0);
    assert_int_equal(ev(f, 5, CR_RGS_EVENT_HANGUP, a, 0, NULL), 0);
    assert_int_equal(ev(f, 5, CR_RGS_EVENT_HANGUP, 77, 0, NULL), 0);
    /* new calls through the slot 77 left, slot 0, which Z's handle names: never a restored
     * handle (the slot's own count of calls restarted with the engine) */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(ecall(f, 6, "sip:timeout@contoso.com", "N", &t), 0);
        assert_true(t != z && t != a && t != 77);
        assert_int_equal(ev(f, 6, CR_RGS_EVENT_HANGUP, z, 0, NULL), CR_ABI_ENOENT);
        assert_int_equal(ev(f, 6, CR_RGS_EVENT_HANGUP, a, 0, NULL), CR_ABI_ENOENT);
        assert_int_equal(ev(f, 6, CR_RGS_EVENT_HANGUP, t, 0, NULL), 0);
    }
    fx_close(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_events_change_nothing(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    char err[256];
    cr_rgs_typed_event e = {.size = 8, .type = CR_RGS_EVENT_CALL, .call = 1, .to = "sip:x"};
    assert_int_equal(P->rgs_event_typed(f->e, 0, &e, typed_emit, &f->o, err, sizeof err),
                     CR_ABI_EINVAL);
    assert_non_null(strstr(err, "size"));
    e.size = sizeof e;
    e.type = 42;
    assert_int_equal(P->rgs_event_typed(f->e, 0, &e, typed_emit, &f->o, err, sizeof err),
                     CR_ABI_EINVAL);
    assert_int_equal(P->rgs_event_typed(f->e, 0, NULL, typed_emit, &f->o, err, sizeof err),
                     CR_ABI_EINVAL);
    assert_int_equal(ev(f, 0, CR_RGS_EVENT_HANGUP, 0, 0, NULL), CR_ABI_EINVAL);
    assert_int_equal(ev(f, 0, CR_RGS_EVENT_HANGUP, 77, 0, NULL), CR_ABI_ENOENT);
    assert_int_equal(presence(f, 0, 100000, CR_RGS_PRESENCE_BUSY), CR_ABI_ENOENT);
    assert_int_equal(presence(f, 0, agent(f, "s1"), 9), CR_ABI_EINVAL);
    assert_int_equal(sign(f, 0, CR_RGS_EVENT_SIGNIN, agent(f, "f1"), "Serial"), CR_ABI_ENOENT);
    cr_rgs_typed_event g = {
        .size = sizeof g, .type = CR_RGS_EVENT_SIGNIN, .agent = agent(f, "f1"), .group = 100000};
    assert_int_equal(P->rgs_event_typed(f->e, 0, &g, typed_emit, &f->o, err, sizeof err),
                     CR_ABI_ENOENT);
    assert_int_equal(ev(f, 0, CR_RGS_EVENT_CALL, 5, 0, NULL), CR_ABI_EINVAL);
    assert_int_equal(f->o.ncalls, 0);
    assert_null(P->rgs_agent_uri(f->e, 0));
    assert_null(P->rgs_agent_uri(f->e, 100000));
    assert_int_equal(P->rgs_agent_id(f->e, "sip:nobody@x"), 0);
    assert_string_equal(P->rgs_group_name(f->e, P->rgs_group_id(f->e, "Tier 1")), "Tier 1");
    fx_close(f);
}

/* Signing out of the ringing group, or presence leaving available, cancels that agent at
 * once; his answer afterwards is refused and the call is not bridged to him. */
static void test_withdrawn_agent_is_not_bridged(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    uint32_t f1 = agent(f, "f1"), f2 = agent(f, "f2");
    assert_int_equal(sign(f, 0, CR_RGS_EVENT_SIGNIN, f1, "Formal"), 0);
    assert_int_equal(sign(f, 0, CR_RGS_EVENT_SIGNIN, f2, "Formal"), 0);
    assert_int_equal(ev(f, 1, CR_RGS_EVENT_CALL, 7, 0, "sip:formal@contoso.com"), 0);
    assert_non_null(strstr(f->o.buf, "7 ring sip:f1@contoso.com\n"));
    assert_int_equal(sign(f, 3, CR_RGS_EVENT_SIGNOUT, f1, NULL), 0);
    assert_string_equal(f->o.buf, "3.000 7 cancel sip:f1@contoso.com\n"
                                  "3.000 7 ring sip:f2@contoso.com\n");
    assert_int_equal(ev(f, 4, CR_RGS_EVENT_ANSWER, 7, f1, NULL), CR_ABI_ESTATE);
    assert_string_equal(f->o.buf, "");
    /* presence: f2 goes away while rung; nobody is left, the call waits on hold */
    assert_int_equal(presence(f, 5, f2, CR_RGS_PRESENCE_AWAY), 0);
    assert_string_equal(f->o.buf, "5.000 7 cancel sip:f2@contoso.com\n");
    assert_int_equal(ev(f, 6, CR_RGS_EVENT_ANSWER, 7, f2, NULL), CR_ABI_ESTATE);
    assert_int_equal(P->rgs_next_deadline(f->e), -1);
    /* back: rung again, and now his answer bridges */
    assert_int_equal(presence(f, 8, f2, CR_RGS_PRESENCE_AVAILABLE), 0);
    assert_string_equal(f->o.buf, "8.000 7 ring sip:f2@contoso.com\n");
    assert_int_equal(ev(f, 9, CR_RGS_EVENT_ANSWER, 7, f2, NULL), 0);
    assert_string_equal(f->o.buf, "9.000 7 bridge sip:f2@contoso.com\n");
    fx_close(f);
}

/* The next deadline is the ring timer (alertTime 10 s); NO_ANSWER moves on at once. */
static void test_deadline_and_no_answer(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    assert_int_equal(P->rgs_next_deadline(f->e), -1);
    assert_int_equal(ev(f, 0, CR_RGS_EVENT_CALL, 1, 0, "sip:serial@contoso.com"), 0);
    assert_int_equal(P->rgs_next_deadline(f->e), 10000);
    assert_int_equal(ev(f, 4, CR_RGS_EVENT_NO_ANSWER, 1, agent(f, "s1"), NULL), 0);
    /* no cancel for the branch the host saw end: the next agent is rung */
    assert_string_equal(f->o.buf, "4.000 1 ring sip:s2@contoso.com\n");
    assert_int_equal(P->rgs_next_deadline(f->e), 14000);
    assert_int_equal(ev(f, 5, CR_RGS_EVENT_NO_ANSWER, 1, agent(f, "s1"), NULL), CR_ABI_ESTATE);
    f->o.len = 0;
    assert_int_equal(P->rgs_advance_typed(f->e, 14000, typed_emit, &f->o), 24000);
    assert_string_equal(f->o.buf, "14.000 1 cancel sip:s2@contoso.com\n"
                                  "14.000 1 ring sip:s3@contoso.com\n");
    fx_close(f);
}

/* A host's poll right after an event (or before the deadline) returns the same deadline as
 * the event did, a live one: the grace timer a decline leaves is dropped when its call ends. */
static void test_poll_returns_the_live_deadline(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    assert_int_equal(ev(f, 0, CR_RGS_EVENT_CALL, 1, 0, "sip:decl@contoso.com"), 0);
    assert_int_equal(P->rgs_advance_typed(f->e, 0, typed_emit, &f->o), 10000);
    assert_int_equal(P->rgs_advance_typed(f->e, 1000, typed_emit, &f->o), 10000);
    /* d1 declines: d2 rung until 12 s; d1's grace (30 s) is a timer of its own */
    assert_int_equal(ev(f, 2, CR_RGS_EVENT_DECLINE, 1, agent(f, "d1"), NULL), 0);
    assert_string_equal(f->o.buf, "2.000 1 ring sip:d2@contoso.com\n");
    assert_int_equal(P->rgs_next_deadline(f->e), 12000);
    assert_int_equal(P->rgs_advance_typed(f->e, 2000, typed_emit, &f->o), 12000);
    /* the caller hangs up: the ring timer is cancelled, the grace timer is dead */
    assert_int_equal(ev(f, 3, CR_RGS_EVENT_HANGUP, 1, 0, NULL), 0);
    assert_int_equal(P->rgs_next_deadline(f->e), -1);
    assert_int_equal(P->rgs_advance_typed(f->e, 3000, typed_emit, &f->o), -1);
    assert_int_equal(P->rgs_advance_typed(f->e, 40000, typed_emit, &f->o), -1);
    fx_close(f);
}

static void test_workflow_stats(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    /* Serial: answered one, abandoned one, one waiting */
    ev(f, 0, CR_RGS_EVENT_CALL, 1, 0, "sip:serial@contoso.com");
    ev(f, 1, CR_RGS_EVENT_ANSWER, 1, agent(f, "s1"), NULL);
    ev(f, 2, CR_RGS_EVENT_CALL, 2, 0, "sip:serial@contoso.com");
    ev(f, 3, CR_RGS_EVENT_HANGUP, 2, 0, NULL);
    presence(f, 4, agent(f, "s2"), CR_RGS_PRESENCE_AWAY);
    presence(f, 4, agent(f, "s3"), CR_RGS_PRESENCE_AWAY);
    ev(f, 5, CR_RGS_EVENT_CALL, 3, 0, "sip:serial@contoso.com");
    /* Timeout: times out after 30 s; Overflow Newest: the second call overflows */
    presence(f, 5, agent(f, "o1"), CR_RGS_PRESENCE_AWAY);
    ev(f, 6, CR_RGS_EVENT_CALL, 4, 0, "sip:timeout@contoso.com");
    ev(f, 7, CR_RGS_EVENT_CALL, 5, 0, "sip:ovn@contoso.com");
    ev(f, 8, CR_RGS_EVENT_CALL, 6, 0, "sip:ovn@contoso.com");
    P->rgs_advance_typed(f->e, 40000, typed_emit, &f->o);

    cr_rgs_stats st = {.size = sizeof st};
    int found = 0;
    for (uint32_t w = 0; P->rgs_stats(f->e, 40000, w, &st) == 0; w++) {
        assert_int_equal(st.size, sizeof st);
        if (strcmp(st.workflow, "Serial") == 0) {
            found++;
            assert_string_equal(st.uri, "sip:serial@contoso.com");
            assert_int_equal(st.offered, 3);
            assert_int_equal(st.answered, 1);
            assert_int_equal(st.abandoned, 1);
            assert_int_equal(st.waiting, 1);
            assert_int_equal(st.longest_wait_ms, 35000);
            assert_int_equal(st.agents_signed_in, 3); /* informal: always */
        } else if (strcmp(st.workflow, "Timeout") == 0) {
            found++;
            assert_int_equal(st.offered, 1);
            assert_int_equal(st.timed_out, 1);
            assert_int_equal(st.waiting, 0);
        } else if (strcmp(st.workflow, "Overflow Newest") == 0) {
            found++;
            assert_int_equal(st.offered, 2);
            assert_int_equal(st.overflowed, 1);
            assert_int_equal(st.waiting, 1);
        } else if (strcmp(st.workflow, "Formal") == 0) {
            found++;
            assert_int_equal(st.agents_signed_in, 0);
        }
    }
    assert_int_equal(found, 4);
    assert_int_equal(P->rgs_stats(f->e, 0, 100000, &st), CR_ABI_ENOENT);
    /* a host built with a shorter struct: nothing written past its size */
    unsigned char raw[sizeof(cr_rgs_stats) + 16];
    memset(raw, 0xAB, sizeof raw);
    cr_rgs_stats *shorter = (cr_rgs_stats *)raw;
    shorter->size = (uint32_t)offsetof(cr_rgs_stats, after_hours);
    assert_int_equal(P->rgs_stats(f->e, 40000, 0, shorter), 0);
    for (size_t i = offsetof(cr_rgs_stats, after_hours); i < sizeof raw; i++)
        assert_int_equal(raw[i], 0xAB);
    shorter->size = 4;
    assert_int_equal(P->rgs_stats(f->e, 40000, 0, shorter), CR_ABI_EINVAL);
    fx_close(f);
}

static void test_after_hours_counted(void **state)
{
    (void)state;
    char path[2048], err[4096];
    snprintf(path, sizeof path, "%s/tests/rgs/hours.xml", getenv("CR_SRC"));
    cr_handle *h;
    assert_int_equal(P->open(path, NULL, &h, err, sizeof err), 0);
    cr_rgs *e;
    /* a Sunday at 03:00 UTC: closed everywhere hours apply */
    cr_rgs_open_options oo = {sizeof oo, iso("2027-01-03T03:00:00"), NULL, 0};
    assert_int_equal(P->rgs_open_ex(h, &oo, &e, err, sizeof err), 0);
    uint64_t after = 0, offered = 0;
    cr_rgs_stats st = {.size = sizeof st};
    for (uint32_t w = 0; P->rgs_stats(e, 0, w, &st) == 0; w++) {
        cr_rgs_typed_event c = {
            .size = sizeof c, .type = CR_RGS_EVENT_CALL, .call = w + 1, .to = st.uri};
        assert_int_equal(P->rgs_event_typed(e, 0, &c, NULL, NULL, err, sizeof err), 0);
    }
    for (uint32_t w = 0; P->rgs_stats(e, 0, w, &st) == 0; w++)
        after += st.after_hours + st.holiday, offered += st.offered;
    assert_true(offered > 0);
    assert_true(after > 0);
    P->rgs_close(e);
    P->close(h);
}

static void test_snapshot(void **state)
{
    (void)state;
    fx *f = fx_open(NULL, 0);
    uint32_t f1 = agent(f, "f1");
    sign(f, 0, CR_RGS_EVENT_SIGNIN, f1, "Formal");
    ev(f, 1, CR_RGS_EVENT_CALL, 11, 0, "sip:serial@contoso.com");
    ev(f, 2, CR_RGS_EVENT_ANSWER, 11, agent(f, "s1"), NULL);
    ev(f, 3, CR_RGS_EVENT_CALL, 12, 0, "sip:serial@contoso.com");
    cr_result *r = NULL;
    assert_int_equal(P->rgs_snapshot(f->e, 5500, &r), 0);
    char json[65536];
    P->result_json(r, json, sizeof json);
    assert_non_null(strstr(json, "{\"queue\": \"Serial\", \"call\": 12, \"id\": \"12\", "
                                 "\"caller\": \"sip:caller@fabrikam.com\", \"waited_s\": 2.5, "
                                 "\"state\": \"ringing\"}"));
    assert_non_null(strstr(json, "{\"queue\": \"Serial\", \"waiting\": 0, \"ringing\": 1, "
                                 "\"longest_wait_s\": 2.5}"));
    assert_non_null(strstr(json, "{\"agent\": \"sip:s1@contoso.com\", \"presence\": \"available\", "
                                 "\"state\": \"on_call\", \"calls\": 1, \"answered\": 1}"));
    assert_non_null(strstr(json, "{\"agent\": \"sip:s2@contoso.com\", \"presence\": \"available\", "
                                 "\"state\": \"ringing\", \"calls\": 0, \"answered\": 0}"));
    assert_non_null(strstr(json, "{\"agent\": \"sip:f1@contoso.com\", \"group\": \"Formal\", "
                                 "\"formal\": true, \"signed_in\": true}"));
    assert_non_null(strstr(json, "{\"agent\": \"sip:f2@contoso.com\", \"group\": \"Formal\", "
                                 "\"formal\": true, \"signed_in\": false}"));
    P->result_free(r);
    fx_close(f);
}

/* A run that stops with a call waiting (o1 away) and f1 signed in. */
static void first_run(const char *dir)
{
    fx *f = fx_open(dir, 0);
    sign(f, 0, CR_RGS_EVENT_SIGNIN, agent(f, "f1"), "Formal");
    presence(f, 0, agent(f, "o1"), CR_RGS_PRESENCE_AWAY);
    assert_int_equal(ev(f, 1, CR_RGS_EVENT_CALL, 21, 0, "sip:timeout@contoso.com"), 0);
    assert_null(strstr(f->o.buf, "ring"));
    fx_close(f);
}

/* After the restart o1 becomes available: is he rung for the call of the first run? And f1
 * still signed in takes a new call. Returns the output of the presence event. */
static char *second_run(const char *dir, unsigned flags)
{
    fx *f = fx_open(dir, flags);
    assert_int_equal(presence(f, 5, agent(f, "o1"), CR_RGS_PRESENCE_AVAILABLE), 0);
    char *got = strdup(f->o.buf);
    assert_int_equal(ev(f, 6, CR_RGS_EVENT_CALL, 22, 0, "sip:formal@contoso.com"), 0);
    assert_non_null(strstr(f->o.buf, "22 ring sip:f1@contoso.com\n"));
    assert_int_equal(ev(f, 7, CR_RGS_EVENT_HANGUP, 22, 0, NULL), 0); /* nothing left behind */
    fx_close(f);
    return got;
}

static void test_restart_keeps_calls_by_default(void **state)
{
    (void)state;
    char dir[] = "/tmp/crrgstypedXXXXXX";
    assert_non_null(mkdtemp(dir));
    first_run(dir);
    char *got = second_run(dir, 0);
    assert_string_equal(got, "5.000 21 ring sip:o1@contoso.com\n");
    free(got);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_restart_drop_calls(void **state)
{
    (void)state;
    char dir[] = "/tmp/crrgstypedXXXXXX";
    assert_non_null(mkdtemp(dir));
    first_run(dir);
    char *got = second_run(dir, CR_RGS_OPEN_DROP_CALLS);
    assert_string_equal(got, ""); /* never rung for a call of the previous run */
    free(got);
    /* and the call is gone from the directory: a third open without the flag has none */
    got = second_run(dir, 0);
    assert_string_equal(got, "");
    free(got);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    if (!getenv("CR_SRC")) {
        fprintf(stderr, "set CR_SRC\n");
        return 1;
    }
    P = abi_load(NULL);
    if (!P)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_has_typed_members),
        cmocka_unit_test(test_call_handles),
        cmocka_unit_test(test_engine_handles_route_events),
        cmocka_unit_test(test_stale_engine_handle),
        cmocka_unit_test(test_host_and_engine_handles_mixed),
        cmocka_unit_test(test_restart_keeps_engine_handles),
        cmocka_unit_test(test_bad_events_change_nothing),
        cmocka_unit_test(test_withdrawn_agent_is_not_bridged),
        cmocka_unit_test(test_deadline_and_no_answer),
        cmocka_unit_test(test_poll_returns_the_live_deadline),
        cmocka_unit_test(test_workflow_stats),
        cmocka_unit_test(test_after_hours_counted),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_restart_keeps_calls_by_default),
        cmocka_unit_test(test_restart_drop_calls),
        cmocka_unit_test(test_rgs_scenarios_both_paths),
        cmocka_unit_test(test_lua_scenarios_both_paths),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    abi_unload();
    return rc;
}

/*
 * callroute simulate: replays a timeline of response-group events through the plugin's
 * engine and prints every action as "<seconds.mmm> <call-id> <action> <args...>".
 *
 *   callroute simulate --config FILE [--start ISO-8601-UTC] [--state DIR] [--until SECONDS]
 *                      [--log FILE] [--stats] [--json] EVENTS
 *
 * EVENTS: one "<seconds> <event> <args...>" per line, '#' comments, blank lines ignored;
 * times may have decimals and never go backwards. Header comments "#! config FILE" (relative
 * to EVENTS' directory) and "#! start ISO-8601-UTC" stand for --config and --start when those
 * are not given ("#! split" is for the test suite and ignored; any other "#!" is an error).
 * --start is the wall-clock time of second 0 (default Monday 2027-01-04T09:00:00Z). After
 * the last event the timers run until nothing is pending, or until only periodic re-offers
 * to agents are left (a queue without timeout re-rings forever): the run then stops after
 * one repetition and says so on stderr. With --state they do not run (the run stops at the
 * last event and the rest is left in the state directory for the next run), and --until
 * SECONDS runs them up to that time instead. --log FILE writes the queue event log ("<seconds>
 * <event> key=value..."),
 * --stats prints per-queue counters at the end ("<seconds> - stats queue=... ...": the
 * engine's counters, the average wait of answered and of abandoned calls, the service level
 * over --service-level N seconds, default 20; see sim_stats.h), then per-agent figures
 * ("<seconds> - stats agent=... ..."); --json prints actions as JSON objects, one per line.
 */
#include "cli.h"
#include "cr_hash.h"
#include "lib/json_esc.h"
#include "opts.h"
#include "sim_stats.h"
#include "sim_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sim {
    FILE *log;
    sim_stats *stats; /* --stats: figures from the queue event log */
    bool json;
    /* While draining timers after the last event, output is held until it is known whether
     * only re-offers come (see drain). */
    bool hold;
    char *held;
    size_t nheld, capheld;
    /* The queue event log held with it (for --log and --stats), so that what is dropped of a
     * run stopped early is neither logged nor counted. */
    struct held_log {
        int64_t at;
        char *line;
    } * heldlog;
    size_t nlog, caplog;
    bool step_other;    /* the current step emitted something besides ring/cancel */
    size_t step_lines;  /* lines the current step emitted */
    uint64_t step_hash; /* its actions without their times */
} sim;

static void put(void *ud, const char *str, size_t n)
{
    sim *s = ud;
    if (!s->hold) {
        fwrite(str, 1, n, stdout);
        return;
    }
    if (s->nheld + n > s->capheld) {
        size_t cap = (s->capheld ? s->capheld * 2 : 65536) + n;
        char *grown = realloc(s->held, cap);
        if (!grown) { /* print rather than lose it */
            fwrite(s->held, 1, s->nheld, stdout);
            fwrite(str, 1, n, stdout);
            s->nheld = 0;
            return;
        }
        s->held = grown;
        s->capheld = cap;
    }
    memcpy(s->held + s->nheld, str, n);
    s->nheld += n;
}

static void putf(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sim *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        put(s, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    put(s, big, (size_t)n);
    free(big);
}

static void json_str(sim *s, const char *str)
{
    crp_json_escape(str, put, s);
}

static uint64_t fnv(uint64_t h, const char *str)
{
    return (cr_fnv_str(h, str) ^ 0xff) * CR_FNV_PRIME;
}

/* One line of the queue event log, to --log and --stats. */
static void log_line(sim *s, int64_t at, const char *args)
{
    if (s->log)
        fprintf(s->log, "%lld.%03lld %s\n", (long long)(at / 1000), (long long)(at % 1000), args);
    if (s->stats)
        sim_stats_log(s->stats, at, args);
}

/* Holds a log line while output is held; false when it cannot (then it is logged now). */
static bool hold_log(sim *s, int64_t at, const char *args)
{
    if (s->nlog == s->caplog) {
        size_t cap = s->caplog ? s->caplog * 2 : 256;
        struct held_log *grown = realloc(s->heldlog, cap * sizeof *grown);
        if (!grown)
            return false;
        s->heldlog = grown;
        s->caplog = cap;
    }
    char *line = strdup(args);
    if (!line)
        return false;
    s->heldlog[s->nlog++] = (struct held_log){at, line};
    return true;
}

static void emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    sim *s = ud;
    char t[32];
    snprintf(t, sizeof t, "%lld.%03lld", (long long)(at / 1000), (long long)(at % 1000));
    if (strcmp(call, "-") == 0 && strcmp(action, "log") == 0) {
        if (s->hold && hold_log(s, at, args))
            return;
        log_line(s, at, args);
        return;
    }
    s->step_lines++;
    s->step_other |= strcmp(action, "ring") != 0 && strcmp(action, "cancel") != 0;
    s->step_hash = fnv(fnv(fnv(s->step_hash, call), action), args);
    if (s->json) {
        putf(s, "{\"t\":%s,\"call\":", t);
        json_str(s, call);
        putf(s, ",\"action\":");
        json_str(s, action);
        putf(s, ",\"args\":");
        json_str(s, args);
        putf(s, "}\n");
    } else {
        putf(s, "%s %s %s%s", t, call, action, args[0] ? " " : "");
        put(s, args, strlen(args));
        put(s, "\n", 1);
    }
}

/* "2027-01-04T09:00:00Z" (or without the Z) -> Unix ms; -1 when malformed, not a real date
 * and time, or before 1970. */
static int64_t parse_iso(const char *s)
{
    struct tm tm = {0};
    int end = -1;
    int n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &end);
    if (n != 6 || end < 0 || (s[end] && strcmp(s + end, "Z") != 0) || tm.tm_mon < 1 ||
        tm.tm_mon > 12)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    struct tm want = tm, back;
    time_t t = timegm(&tm);
    if (t < 0)
        return -1;
    /* timegm normalizes Feb 31 or 25:61 into another date: only a real date comes back */
    if (!gmtime_r(&t, &back) || back.tm_year != want.tm_year || back.tm_mon != want.tm_mon ||
        back.tm_mday != want.tm_mday || back.tm_hour != want.tm_hour ||
        back.tm_min != want.tm_min || back.tm_sec != want.tm_sec)
        return -1;
    return (int64_t)t * 1000;
}

/* Prints the held output up to `upto` bytes, logs the first `uplog` held log lines, and
 * forgets the rest. */
static void release(sim *s, size_t upto, size_t uplog)
{
    if (s->held && upto)
        fwrite(s->held, 1, upto < s->nheld ? upto : s->nheld, stdout);
    s->nheld = 0;
    for (size_t i = 0; i < s->nlog; i++) {
        if (i < uplog)
            log_line(s, s->heldlog[i].at, s->heldlog[i].line);
        free(s->heldlog[i].line);
    }
    s->nlog = 0;
}

/* The longest queue timeout a configuration may set: a re-offer streak longer than this has
 * no timeout ahead of it. */
#define DRAIN_HORIZON_MS (86400 * 1000LL + 1000)
#define DRAIN_STEPS_MAX  1000000

/* The steps of a re-offer streak seen so far, by hash: an open-addressed set that grows (a
 * serial group of N agents repeats after N steps, however large N is). */
typedef struct step_set {
    uint64_t *v; /* 0 = empty */
    size_t cap, n;
} step_set;

/* 1 when h was in the set, 0 when added, -1 when out of memory. */
static int step_seen(step_set *set, uint64_t h)
{
    h = h ? h : 1;
    if (2 * (set->n + 1) > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 1024;
        uint64_t *v = calloc(cap, sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < set->cap; i++)
            for (size_t k = set->v[i] & (cap - 1); set->v[i]; k = (k + 1) & (cap - 1))
                if (!v[k]) {
                    v[k] = set->v[i];
                    break;
                }
        free(set->v);
        set->v = v;
        set->cap = cap;
    }
    size_t k = h & (set->cap - 1);
    for (; set->v[k]; k = (k + 1) & (set->cap - 1))
        if (set->v[k] == h)
            return 1;
    set->v[k] = h;
    set->n++;
    return 0;
}

static void step_set_clear(step_set *set)
{
    if (set->v)
        memset(set->v, 0, set->cap * sizeof *set->v);
    set->n = 0;
}

/*
 * Runs the timers left after the last event (at `last`) until none is pending. A queue
 * without timeout re-offers a waiting call forever: when for longer than any queue timeout
 * every step only rang or cancelled agents, the run stops after the first step that repeats
 * an earlier one (what was printed shows one whole cycle) and stderr says so. Returns the
 * engine time reached.
 */
static int64_t drain(const cr_plugin *p, cr_rgs *e, sim *s, int64_t last)
{
    step_set seen = {NULL, 0, 0};
    size_t keep = 0, keeplog = 0;
    int64_t streak = -1, repeat_at = -1;
    int64_t next = p->rgs_advance(e, last, emit, s);
    s->hold = true;
    for (int i = 0; next >= 0 && i < DRAIN_STEPS_MAX; i++) {
        s->step_other = false;
        s->step_lines = 0;
        s->step_hash = CR_FNV_OFFSET;
        int64_t after = p->rgs_advance(e, next, emit, s);
        last = next;
        next = after >= 0 && after < last ? last : after;
        if (!s->step_lines)
            continue;
        int dup = s->step_other || repeat_at >= 0 ? 0 : step_seen(&seen, s->step_hash);
        if (s->step_other || dup < 0) {
            release(s, s->nheld, s->nlog); /* something happened: all of it is printed */
            step_set_clear(&seen);
            streak = -1, repeat_at = -1;
            continue;
        }
        if (streak < 0)
            streak = last - 1;
        if (dup && repeat_at < 0)
            repeat_at = last, keep = s->nheld, keeplog = s->nlog;
        if (repeat_at >= 0 && last - streak > DRAIN_HORIZON_MS) {
            release(s, keep, keeplog);
            fprintf(stderr,
                    "callroute simulate: stopped at %lld.%03lld s: only periodic re-offers "
                    "to agents remain and no event is ahead (a queue without timeout?); "
                    "--until SECONDS runs further\n",
                    (long long)(repeat_at / 1000), (long long)(repeat_at % 1000));
            s->hold = false;
            free(seen.v);
            return repeat_at;
        }
    }
    release(s, s->nheld, s->nlog);
    s->hold = false;
    free(seen.v);
    return last;
}

/* The length of a UTF-8 byte order mark at the start of `line` (an editor's, on line 1): 3 or 0. */
static size_t bom(const char *line)
{
    return strncmp(line, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

/* Reads the "#! name value" headers of the events file into config/start (config resolved
 * against the file's directory); false after printing an error naming file:line. */
static bool read_headers(FILE *in, const char *path, char *config, size_t clen, char *start,
                         size_t slen)
{
    char *line = NULL;
    size_t cap = 0;
    bool ok = true;
    for (int lineno = 1; ok && getline(&line, &cap, in) >= 0; lineno++) {
        char *h = line + (lineno == 1 ? bom(line) : 0);
        if (strncmp(h, "#!", 2) != 0)
            continue;
        char *name = h + 2 + strspn(h + 2, " \t");
        size_t nl = strcspn(name, " \t\r\n");
        char *val = name + nl + strspn(name + nl, " \t");
        val[strcspn(val, "\r\n")] = 0;
        for (size_t n = strlen(val); n && (val[n - 1] == ' ' || val[n - 1] == '\t');)
            val[--n] = 0;
        const char *slash = strrchr(path, '/');
        if (nl == 6 && strncmp(name, "config", 6) == 0 && *val) {
            if (*val == '/' || !slash)
                snprintf(config, clen, "%s", val);
            else
                snprintf(config, clen, "%.*s/%s", (int)(slash - path), path, val);
        } else if (nl == 5 && strncmp(name, "start", 5) == 0 && *val) {
            snprintf(start, slen, "%s", val);
            if (parse_iso(val) < 0) {
                fprintf(stderr,
                        "%s:%d: error: '#! start %s' is not a UTC date and time "
                        "YYYY-MM-DDTHH:MM:SSZ\n",
                        path, lineno, val);
                ok = false;
            }
        } else if ((nl == 6 && strncmp(name, "config", 6) == 0) ||
                   (nl == 5 && strncmp(name, "start", 5) == 0)) {
            fprintf(stderr, "%s:%d: error: '#! %.*s' without a value\n", path, lineno, (int)nl,
                    name);
            ok = false;
        } else if (!(nl == 5 && strncmp(name, "split", 5) == 0)) {
            fprintf(stderr,
                    "%s:%d: error: unknown header '#! %.*s' (known: '#! config FILE', "
                    "'#! start ISO-8601-UTC', '#! split SECONDS')\n",
                    path, lineno, (int)nl, name);
            ok = false;
        }
    }
    if (ok && ferror(in)) { /* a directory, or a read error */
        fprintf(stderr, "callroute simulate: %s: %s\n", path, strerror(errno));
        ok = false;
    }
    free(line);
    rewind(in);
    return ok;
}

/* Feeds every event of `in` to the engine; returns the exit status (0 or 2) and the time of
 * the last event in *last. */
static int run_events(const cr_plugin *p, cr_rgs *e, sim *s, FILE *in, const char *path,
                      int64_t *last)
{
    char *line = NULL; /* whole lines, however long (the engine refuses what is too long) */
    size_t cap = 0;
    ssize_t got;
    int status = 0;
    char err[4096] = "";
    const char *rest;
    for (int lineno = 1; (got = getline(&line, &cap, in)) >= 0; lineno++) {
        if (memchr(line, 0, (size_t)got)) {
            fprintf(stderr, "%s:%d: error: the line holds a NUL byte\n", path, lineno);
            status = 2;
            break;
        }
        const char *q = line + (lineno == 1 ? bom(line) : 0);
        q += strspn(q, " \t");
        if (*q == '#' || *q == '\n' || *q == '\r' || !*q)
            continue;
        int64_t at = cr_sim_parse_seconds(q, &rest);
        if (at < 0 || at < *last) {
            fprintf(stderr, "%s:%d: error: %s\n", path, lineno,
                    at < 0 ? "a line must start with a time in seconds" : "time goes backwards");
            status = 2;
            break;
        }
        *last = at;
        p->rgs_advance(e, at, emit, s);
        int rc = p->rgs_event(e, at, rest + strspn(rest, " \t"), emit, s, err, sizeof err);
        if (rc == CR_ABI_EINVAL) {
            fprintf(stderr, "%s:%d: error: %s\n", path, lineno, err);
            status = 2;
            break;
        }
        if (rc != 0)
            fprintf(stderr, "%s:%d: warning: %s\n", path, lineno, err);
    }
    free(line);
    return status;
}

static const cr_optspec spec[] = {{"config", true}, {"start", true},         {"state", true},
                                  {"until", true},  {"log", true},           {"stats", false},
                                  {"json", false},  {"service-level", true}, {NULL, false}};

/* The engine's per-queue "stats" actions, completed with the run's figures. */
static void emit_queue_stats(void *ud, int64_t at, const char *call, const char *action,
                             const char *args)
{
    sim *s = ud;
    char line[2048];
    if (s->stats && strcmp(action, "stats") == 0) {
        sim_stats_queue_line(s->stats, args, line, sizeof line);
        args = line;
    }
    emit(ud, at, call, action, args);
}

/* The run over an open engine: events, then timers, then --stats. */
static int simulate(const cr_plugin *p, cr_rgs *e, sim *s, const cr_opts *o, FILE *in,
                    const char *path, int64_t until)
{
    char err[1024];
    if (s->log || s->stats)
        p->rgs_event(e, 0, "log on", emit, s, err, sizeof err);
    int64_t last = 0;
    int status = run_events(p, e, s, in, path, &last);
    if (status != 0)
        return status;
    if (until >= 0) {
        p->rgs_advance(e, until, emit, s);
        last = until > last ? until : last;
    } else if (!cr_opt(o, "state")) {
        last = drain(p, e, s, last);
    }
    if (s->stats) {
        p->rgs_event(e, last, "stats", emit_queue_stats, s, err, sizeof err);
        sim_stats_agents(s->stats, last, emit, s);
    }
    return 0;
}

/* --stats [--service-level N]: false (with a message) when N is not a whole number of
 * seconds from 1 to 86400, or --service-level comes without --stats. */
static bool stats_option(const cr_opts *o, sim *s)
{
    const char *v = cr_opt(o, "service-level");
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : 20;
    if (v && (!*v || *end || n < 1 || n > 86400)) {
        fprintf(stderr,
                "callroute simulate: --service-level '%s' is not a number of seconds "
                "(1 to 86400)\n",
                v);
        return false;
    }
    if (v && !cr_flag(o, "stats")) {
        fprintf(stderr, "callroute simulate: --service-level needs --stats\n");
        return false;
    }
    if (cr_flag(o, "stats") && !(s->stats = sim_stats_new(n))) {
        fprintf(stderr, "callroute simulate: out of memory\n");
        return false;
    }
    return true;
}

int cr_cmd_simulate(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, spec, &o))
        return 2;
    if (o.npos != 1) {
        cr_cli_help("simulate", stderr);
        return 2;
    }
    if (!CR_HAS(cr_plugin, p, rgs_close) || !p->rgs_open || !p->rgs_event || !p->rgs_advance) {
        fprintf(stderr, "callroute simulate: this library has no response groups\n");
        return 2;
    }
    const char *path = o.pos[0];
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "callroute simulate: %s: %s\n", path, strerror(errno));
        return 2;
    }
    char hconfig[4096] = "", hstart[64] = "";
    if (!read_headers(in, path, hconfig, sizeof hconfig, hstart, sizeof hstart)) {
        fclose(in);
        return 2;
    }
    const char *config = cr_opt(&o, "config") ? cr_opt(&o, "config") : hconfig;
    const char *start_s = cr_opt(&o, "start") ? cr_opt(&o, "start") : hstart, *rest;
    int64_t start = parse_iso(*start_s ? start_s : "2027-01-04T09:00:00Z");
    int64_t until = -1;
    const char *until_s = cr_opt(&o, "until");
    int status = 2;
    sim s = {.json = cr_flag(&o, "json")};
    cr_handle *h = NULL;
    cr_rgs *e = NULL;
    char err[4096] = "";
    if (!*config)
        fprintf(stderr, "callroute simulate: no --config FILE and no '#! config FILE' in %s\n",
                path);
    else if (start < 0)
        fprintf(stderr,
                "callroute simulate: --start '%s' is not a UTC date and time "
                "YYYY-MM-DDTHH:MM:SSZ\n",
                start_s);
    else if (until_s && (until = cr_sim_parse_seconds(until_s, &rest)) < 0)
        fprintf(stderr, "callroute simulate: --until '%s' is not a number of seconds\n", until_s);
    else if (!stats_option(&o, &s))
        ;
    else if (cr_opt(&o, "log") &&
             !(s.log =
                   strcmp(cr_opt(&o, "log"), "-") == 0 ? stderr : fopen(cr_opt(&o, "log"), "w")))
        fprintf(stderr, "callroute simulate: %s: %s\n", cr_opt(&o, "log"), strerror(errno));
    else if (!(h = cr_cli_open(p, config, NULL)))
        ;
    else if (p->rgs_open(h, start, cr_opt(&o, "state"), &e, err, sizeof err) != 0)
        fprintf(stderr, "%s\n", err[0] ? err : "callroute simulate: cannot start the engine");
    else
        status = simulate(p, e, &s, &o, in, path, until);
    if (e)
        p->rgs_close(e);
    if (h)
        p->close(h);
    if (s.log && s.log != stderr)
        fclose(s.log);
    free(s.held);
    free(s.heldlog);
    sim_stats_free(s.stats);
    fclose(in);
    fflush(stdout);
    return status;
}

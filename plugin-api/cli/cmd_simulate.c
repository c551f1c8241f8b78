/*
 * callroute simulate: replays a timeline of response-group events through the plugin's
 * engine and prints every action as "<seconds.mmm> <call-id> <action> <args...>".
 *
 *   callroute simulate --config FILE [--start ISO-8601-UTC] [--state DIR] [--until SECONDS]
 *                      [--log FILE] [--stats] [--json] EVENTS
 *
 * EVENTS: one "<seconds> <event> <args...>" per line, '#' comments, blank lines ignored;
 * times may have decimals and never go backwards. --start is the wall-clock time of second 0
 * (default Monday 2027-01-04T09:00:00Z). After the last event the timers run until nothing
 * is pending (bounded); with --state they do not (the run stops at the last event and the
 * rest is left in the state directory for the next run), and --until SECONDS runs them up to
 * that time instead. --log FILE writes the queue event log ("<seconds> <event> key=value..."),
 * --stats prints per-queue counters at the end ("<seconds> - stats queue=... ..."), --json
 * prints actions as JSON objects, one per line.
 */
#include "cli.h"
#include "lib/json_esc.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sim {
    FILE *log;
    bool json;
} sim;

static void put_stdout(void *ud, const char *s, size_t n)
{
    (void)ud;
    fwrite(s, 1, n, stdout);
}

static void json_str(const char *s)
{
    crp_json_escape(s, put_stdout, NULL);
}

static void emit(void *ud, int64_t at, const char *call, const char *action, const char *args)
{
    sim *s = ud;
    char t[32];
    snprintf(t, sizeof t, "%lld.%03lld", (long long)(at / 1000), (long long)(at % 1000));
    if (strcmp(call, "-") == 0 && strcmp(action, "log") == 0) {
        if (s->log)
            fprintf(s->log, "%s %s\n", t, args);
        return;
    }
    if (s->json) {
        printf("{\"t\":%s,\"call\":", t);
        json_str(call);
        printf(",\"action\":");
        json_str(action);
        printf(",\"args\":");
        json_str(args);
        printf("}\n");
    } else {
        printf("%s %s %s%s%s\n", t, call, action, args[0] ? " " : "", args);
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

/* "12", "12.5", "0.250" -> ms; -1 when malformed. Sets *rest after the number. */
static int64_t parse_seconds(const char *s, const char **rest)
{
    int64_t whole = 0, frac = 0;
    int digits = 0, fd = 0;
    for (; *s >= '0' && *s <= '9' && whole < 100000000000LL; s++, digits++)
        whole = whole * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            if (fd < 3)
                frac = frac * 10 + (*s - '0'), fd++;
    if (!digits || (*s && *s != ' ' && *s != '\t'))
        return -1;
    while (fd < 3)
        frac *= 10, fd++;
    *rest = s;
    return whole * 1000 + frac;
}

static const cr_optspec spec[] = {{"config", true}, {"start", true}, {"state", true},
                                  {"until", true},  {"log", true},   {"stats", false},
                                  {"json", false},  {NULL, false}};

int cr_cmd_simulate(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, spec, &o))
        return 2;
    const char *config = cr_opt(&o, "config");
    if (!config || o.npos != 1) {
        fprintf(stderr, "usage: callroute simulate --config FILE [--start ISO-8601-UTC] "
                        "[--state DIR] [--until SECONDS] [--log FILE] [--stats] [--json] "
                        "EVENTS\n");
        return 2;
    }
    if (!CR_HAS(cr_plugin, p, rgs_close) || !p->rgs_open || !p->rgs_event || !p->rgs_advance) {
        fprintf(stderr, "callroute simulate: this library has no response groups\n");
        return 2;
    }
    const char *start_s = cr_opt(&o, "start"), *until_s = cr_opt(&o, "until"), *rest;
    int64_t start = parse_iso(start_s ? start_s : "2027-01-04T09:00:00Z");
    int64_t until = -1;
    if (start < 0) {
        fprintf(stderr,
                "callroute simulate: --start '%s' is not a UTC date and time "
                "YYYY-MM-DDTHH:MM:SSZ\n",
                start_s);
        return 2;
    }
    if (until_s && (until = parse_seconds(until_s, &rest)) < 0) {
        fprintf(stderr, "callroute simulate: --until '%s' is not a number of seconds\n", until_s);
        return 2;
    }
    const char *path = o.pos[0];
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "callroute simulate: %s: %s\n", path, strerror(errno));
        return 2;
    }
    sim s = {.json = cr_flag(&o, "json")};
    const char *log_path = cr_opt(&o, "log");
    if (log_path && !(s.log = strcmp(log_path, "-") == 0 ? stderr : fopen(log_path, "w"))) {
        fprintf(stderr, "callroute simulate: %s: %s\n", log_path, strerror(errno));
        fclose(in);
        return 2;
    }
    cr_handle *h = cr_cli_open(p, config, NULL);
    cr_rgs *e = NULL;
    char err[4096] = "";
    int status = 0;
    if (!h) {
        status = 2;
        goto out;
    }
    if (p->rgs_open(h, start, cr_opt(&o, "state"), &e, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err[0] ? err : "callroute simulate: cannot start the engine");
        status = 2;
        goto out;
    }
    if (s.log)
        p->rgs_event(e, 0, "log on", emit, &s, err, sizeof err);
    char *line = NULL; /* whole lines, however long (the engine refuses what is too long) */
    size_t cap = 0;
    ssize_t got;
    int64_t last = 0;
    for (int lineno = 1; (got = getline(&line, &cap, in)) >= 0; lineno++) {
        if (memchr(line, 0, (size_t)got)) {
            fprintf(stderr, "%s:%d: error: the line holds a NUL byte\n", path, lineno);
            status = 2;
            break;
        }
        const char *q = line + strspn(line, " \t");
        if (*q == '#' || *q == '\n' || *q == '\r' || !*q)
            continue;
        int64_t at = parse_seconds(q, &rest);
        if (at < 0 || at < last) {
            fprintf(stderr, "%s:%d: error: %s\n", path, lineno,
                    at < 0 ? "a line must start with a time in seconds" : "time goes backwards");
            status = 2;
            break;
        }
        last = at;
        p->rgs_advance(e, at, emit, &s);
        int rc = p->rgs_event(e, at, rest + strspn(rest, " \t"), emit, &s, err, sizeof err);
        if (rc == CR_ABI_EINVAL) {
            fprintf(stderr, "%s:%d: error: %s\n", path, lineno, err);
            status = 2;
            break;
        }
        if (rc != 0)
            fprintf(stderr, "%s:%d: warning: %s\n", path, lineno, err);
    }
    if (status == 0) {
        if (until >= 0) {
            p->rgs_advance(e, until, emit, &s);
            last = until > last ? until : last;
        } else if (!cr_opt(&o, "state")) {
            for (int i = 0; i < 1000000; i++) {
                int64_t next = p->rgs_advance(e, last, emit, &s);
                if (next < 0)
                    break;
                last = next > last ? next : last;
                p->rgs_advance(e, last, emit, &s);
            }
        }
        if (cr_flag(&o, "stats"))
            p->rgs_event(e, last, "stats", emit, &s, err, sizeof err);
    }
    free(line);
out:
    if (e)
        p->rgs_close(e);
    if (h)
        p->close(h);
    if (s.log && s.log != stderr)
        fclose(s.log);
    fclose(in);
    fflush(stdout);
    return status;
}

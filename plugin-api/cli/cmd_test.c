/*
 * callroute test: runs a number plan's test cases and prints a pass/fail table (the
 * equivalent of Test-CsVoiceTestConfiguration, for CI of number plans).
 *
 *   callroute test [--config FILE] [--db DIR] [--verbose] CASES...
 *
 * A CASES file holds one case a line ('#' comments, blank lines ignored), a command, its
 * arguments, "=>" and what is expected; values with spaces go in double quotes:
 *
 *   route FROM NUMBER [down=GW,...] => DECISION [key=value]...
 *       DECISION outbound|internal|blocked|not_applicable; keys: normalized, profile, rule,
 *       target, reason (a part of it), gateways (the whole attempt order, A,B,C), first (the
 *       first gateway), route and usage (of the first attempt)
 *   normalize PROFILE NUMBER => NORMALIZED
 *   dial PROFILE DIGITS => complete|need_more|no_match
 *   simulate EVENTS [EXPECTED]
 *       replays EVENTS (its "#! config" header, else --config) and compares every printed
 *       line with EXPECTED, by default EVENTS' .expected file or else its "#expect LINE"
 *       comments
 *
 * A CASES argument ending in .events is one simulate case. Paths are relative to the CASES
 * file. Each route case starts from a fresh load-spreading state. Exit status: 0 every case
 * passed, 1 one failed, 2 usage, configuration or CASES syntax error.
 */
#define _GNU_SOURCE /* dladdr */
#include "cli.h"
#include "opts.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKENS_MAX 32

typedef struct tester {
    const cr_plugin *p;
    cr_handle *h; /* NULL without --config */
    const char *config;
    bool verbose;
    int passed, failed, errors;
} tester;

/* Splits a line into tokens in place: spaces separate, double quotes group (also inside a
 * key="a value"). Returns the count, or -1 for an unclosed quote. */
static int tokenize(char *s, char **tok, int max)
{
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
            s++;
        if (!*s)
            break;
        if (n == max)
            return -1;
        tok[n++] = s;
        char *w = s;
        bool quoted = false;
        for (; *s && (quoted || (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')); s++) {
            if (*s == '"')
                quoted = !quoted;
            else
                *w++ = *s;
        }
        if (quoted)
            return -1;
        if (*s)
            s++;
        *w = 0;
    }
    return n;
}

static void report(tester *t, const char *where, const char *what, const char *why)
{
    if (why) {
        t->failed++;
        printf("FAIL  %-24s %s\n      %s\n", where, what, why);
    } else {
        t->passed++;
        if (t->verbose)
            printf("pass  %-24s %s\n", where, what);
    }
}

/* The attempt order of a route result as "A,B,C" into buf. */
static void gateway_order(const cr_plugin *p, const cr_result *r, char *buf, size_t len)
{
    size_t n = p->result_count(r, "attempts"), used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                 p->result_item(r, "attempts", i, "gateway"));
}

/* Checks one key=value expectation of a route result; NULL when met, else why (in why). */
static const char *route_expect(const cr_plugin *p, const cr_result *r, const char *key,
                                const char *want, char *why, size_t len)
{
    char order[2048];
    const char *got = NULL;
    bool part = false;
    if (strcmp(key, "gateways") == 0) {
        gateway_order(p, r, order, sizeof order);
        got = order;
    } else if (strcmp(key, "first") == 0) {
        got = p->result_item(r, "attempts", 0, "gateway");
    } else if (strcmp(key, "route") == 0 || strcmp(key, "usage") == 0) {
        got = p->result_item(r, "attempts", 0, key);
    } else if (strcmp(key, "normalized") == 0 || strcmp(key, "profile") == 0 ||
               strcmp(key, "rule") == 0 || strcmp(key, "target") == 0 ||
               strcmp(key, "reason") == 0) {
        got = p->result_get(r, key);
        part = strcmp(key, "reason") == 0;
    } else {
        snprintf(why, len,
                 "unknown expectation '%s' (known: normalized, profile, rule, target, "
                 "reason, gateways, first, route, usage)",
                 key);
        return why;
    }
    if (got && (part ? strstr(got, want) != NULL : strcmp(got, want) == 0))
        return NULL;
    snprintf(why, len, "%s: want %s'%s', got '%s'", key, part ? "a reason with " : "", want,
             got ? got : "(none)");
    return why;
}

static void case_route(tester *t, const char *where, const char *what, char **arg, int nargs,
                       char **exp, int nexp)
{
    const cr_plugin *p = t->p;
    const char *down[64];
    size_t ndown = 0;
    char why[2600];
    for (int i = 2; i < nargs; i++)
        if (strncmp(arg[i], "down=", 5) == 0)
            for (char *g = strtok(arg[i] + 5, ","); g && ndown < 64; g = strtok(NULL, ","))
                down[ndown++] = g;
    cr_result *r = NULL; /* from a fresh load-spreading state */
    int rc = p->route_ex(t->h, arg[0], arg[1], down, ndown, CR_ROUTE_FRESH_SPREAD, &r);
    if (rc != 0 || !r) {
        snprintf(why, sizeof why, "route failed: %s", p->strerror(rc));
        report(t, where, what, why);
        return;
    }
    const char *res = NULL, *decision = p->result_get(r, "decision");
    if (!decision || strcmp(decision, exp[0]) != 0) {
        snprintf(why, sizeof why, "decision: want '%s', got '%s' (%s)", exp[0],
                 decision ? decision : "?", p->result_get(r, "reason"));
        res = why;
    }
    for (int i = 1; i < nexp && !res; i++) {
        char *eq = strchr(exp[i], '=');
        if (!eq) {
            snprintf(why, sizeof why, "'%s' is not key=value", exp[i]);
            res = why;
            break;
        }
        *eq = 0;
        res = route_expect(p, r, exp[i], eq + 1, why, sizeof why);
    }
    report(t, where, what, res);
    p->result_free(r);
}

/* False (after an error naming the line) when the profile does not exist: a typo in the
 * CASES file, as `callroute normalize` and `dial` refuse it (exit 2). */
static bool case_normalize_dial(tester *t, bool dial, const char *where, const char *what,
                                char **arg, char **exp)
{
    const cr_plugin *p = t->p;
    cr_result *r = NULL;
    char why[1200];
    int rc = dial ? p->dial(t->h, arg[0], arg[1], &r) : p->normalize(t->h, arg[0], arg[1], &r);
    if (rc == CR_ABI_ENOENT) {
        fprintf(stderr, "%s: error: no location profile '%s'\n", where, arg[0]);
        p->result_free(r);
        return false;
    }
    const char *got = rc != 0 || !r ? (dial ? "(error)" : "(not a number)")
                                    : p->result_get(r, dial ? "answer" : "normalized");
    if (got && strcmp(got, exp[0]) == 0)
        report(t, where, what, NULL);
    else {
        snprintf(why, sizeof why, "want '%s', got '%s'", exp[0], got ? got : "(none)");
        report(t, where, what, why);
    }
    p->result_free(r);
    return true;
}

/* The whole of a file (NUL-terminated, *len bytes), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    FILE *m = open_memstream(&buf, &cap);
    char chunk[65536];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    if (!m)
        return NULL;
    fclose(m);
    *len = cap;
    return buf;
}

/* What a scenario must print: EXPECTED, EVENTS' .expected, or its "#expect " lines. */
static char *expected_of(const char *events, const char *expected, char *why, size_t len)
{
    char path[4096];
    size_t n;
    const char *dot = strrchr(events, '.');
    if (!expected && dot && strcmp(dot, ".events") == 0) {
        snprintf(path, sizeof path, "%.*s.expected", (int)(dot - events), events);
        if (access(path, F_OK) == 0)
            expected = path;
    }
    if (expected) {
        char *text = slurp(expected, &n);
        if (!text)
            snprintf(why, len, "%.900s: %s", expected, strerror(errno));
        return text;
    }
    char *src = slurp(events, &n), *out = NULL;
    size_t cap = 0;
    FILE *m = src ? open_memstream(&out, &cap) : NULL;
    for (char *l = src ? strtok(src, "\n") : NULL; m && l; l = strtok(NULL, "\n"))
        if (strncmp(l, "#expect ", 8) == 0)
            fprintf(m, "%s\n", l + 8);
    if (m)
        fclose(m);
    free(src);
    if (!out || !*out) {
        snprintf(why, len, "%s: no .expected file and no '#expect' lines", events);
        free(out);
        return NULL;
    }
    return out;
}

/* Whether an events file names its configuration in a "#! config FILE" header, read as
 * `callroute simulate` reads it (a UTF-8 BOM on line 1, blanks after "#!"). */
static bool config_header(const char *events)
{
    FILE *f = fopen(events, "r");
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    for (int lineno = 1; f && !found && getline(&line, &cap, f) >= 0; lineno++) {
        const char *h = line + (lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0 ? 3 : 0);
        if (strncmp(h, "#!", 2) != 0)
            continue;
        h += 2 + strspn(h + 2, " \t");
        found = strncmp(h, "config", 6) == 0 && (h[6] == ' ' || h[6] == '\t');
    }
    free(line);
    if (f)
        fclose(f);
    return found;
}

/* Runs `callroute simulate` (this program, this library) on events; its stdout or NULL. */
static char *run_simulate(tester *t, const char *events, char *why, size_t len)
{
    char self[4096], lib[4096] = "";
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    Dl_info info;
    if (sl <= 0) {
        snprintf(why, len, "cannot find this program");
        return NULL;
    }
    self[sl] = 0;
    if (dladdr((const void *)t->p, &info) && info.dli_fname)
        snprintf(lib, sizeof lib, "%s", info.dli_fname);
    bool header = config_header(events);
    const char *argv[8] = {self, "simulate", events};
    int argc = 3;
    if (!header && t->config)
        argv[argc++] = "--config", argv[argc++] = t->config;
    if (*lib)
        argv[argc++] = "--library", argv[argc++] = lib;
    argv[argc] = NULL;
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(why, len, "pipe: %s", strerror(errno));
        return NULL;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(self, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    char *out = NULL, chunk[65536];
    size_t cap = 0;
    FILE *m = open_memstream(&out, &cap);
    ssize_t got;
    while ((got = read(fd[0], chunk, sizeof chunk)) > 0)
        if (m)
            fwrite(chunk, 1, (size_t)got, m);
    close(fd[0]);
    if (m)
        fclose(m);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, len, "callroute simulate %s failed (exit status %d)", events,
                 pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        free(out);
        return NULL;
    }
    return out;
}

/* NULL when equal, else the first differing line into why. */
static const char *compare(const char *want, const char *got, char *why, size_t len)
{
    for (int line = 1; *want || *got; line++) {
        int wl = (int)strcspn(want, "\n"), gl = (int)strcspn(got, "\n");
        if (!*want || !*got || wl != gl || strncmp(want, got, (size_t)wl) != 0) {
            snprintf(why, len, "line %d: want %s%.*s%s, got %s%.*s%s", line, *want ? "'" : "",
                     !*want     ? 7
                     : wl > 300 ? 300
                                : wl,
                     *want ? want : "the end", *want ? "'" : "", *got ? "'" : "",
                     !*got      ? 7
                     : gl > 300 ? 300
                                : gl,
                     *got ? got : "the end", *got ? "'" : "");
            return why;
        }
        want += wl + (want[wl] == '\n');
        got += gl + (got[gl] == '\n');
    }
    return NULL;
}

static void case_simulate(tester *t, const char *where, const char *events, const char *expected)
{
    char why[1024], what[4200];
    snprintf(what, sizeof what, "simulate %s", events);
    char *want = expected_of(events, expected, why, sizeof why);
    char *got = want ? run_simulate(t, events, why, sizeof why) : NULL;
    report(t, where, what, want && got ? compare(want, got, why, sizeof why) : why);
    free(want);
    free(got);
}

/* Whether a file can be read (not a directory); false with errno set. */
static bool readable(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgetc(f) != EOF || !ferror(f);
    int e = errno;
    fclose(f);
    errno = e;
    return ok;
}

/* A path of a CASES file relative to that file's directory, into buf. */
static const char *relative(const char *cases, const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(cases, '/');
    if (*path == '/' || !slash)
        return path;
    snprintf(buf, len, "%.*s/%s", (int)(slash - cases), cases, path);
    return buf;
}

/* Whether the configuration has a gateway named `name`. */
static bool is_gateway(const cr_plugin *p, cr_handle *h, const char *name)
{
    cr_result *g = NULL;
    if (!p->gateways || p->gateways(h, &g) != 0 || !g)
        return true; /* cannot tell: the library decides */
    bool known = false;
    for (size_t k = 0, n = p->result_count(g, "gateways"); k < n && !known; k++)
        known = strcmp(name, p->result_item(g, "gateways", k, "name")) == 0;
    p->result_free(g);
    return known;
}

/* A route case's words after FROM NUMBER are down= lists of configured gateways, and its
 * DECISION is one of the four: else false after an error naming the line (a typo must not
 * pass unnoticed, as `route --down` refuses an unknown gateway). */
static bool route_case_ok(tester *t, const char *where, char **arg, int nargs, char **exp, int nexp)
{
    static const char *const keys[] = {"normalized", "profile", "rule",  "target", "reason",
                                       "gateways",   "first",   "route", "usage"};
    const char *decision = exp[0];
    for (int i = 1; i < nexp; i++) {
        size_t kl = strcspn(exp[i], "=");
        bool known = false;
        for (size_t k = 0; k < sizeof keys / sizeof *keys && exp[i][kl]; k++)
            known |= strlen(keys[k]) == kl && strncmp(exp[i], keys[k], kl) == 0;
        if (!known) {
            fprintf(stderr,
                    "%s: error: '%s' is not key=value with a known key (normalized, profile, "
                    "rule, target, reason, gateways, first, route, usage)\n",
                    where, exp[i]);
            return false;
        }
    }
    static const char *const decisions[] = {"outbound", "internal", "blocked", "not_applicable"};
    bool known = false;
    for (size_t i = 0; i < sizeof decisions / sizeof *decisions; i++)
        known |= strcmp(decision, decisions[i]) == 0;
    if (!known) {
        fprintf(stderr,
                "%s: error: unknown decision '%s' (outbound, internal, blocked or "
                "not_applicable)\n",
                where, decision);
        return false;
    }
    for (int i = 2; i < nargs; i++) {
        if (strncmp(arg[i], "down=", 5) != 0) {
            fprintf(stderr,
                    "%s: error: '%s' after the number: only down=GW,... may come before =>\n",
                    where, arg[i]);
            return false;
        }
        char names[4096];
        snprintf(names, sizeof names, "%s", arg[i] + 5);
        char *save = NULL;
        for (char *g = strtok_r(names, ",", &save); g; g = strtok_r(NULL, ",", &save))
            if (!is_gateway(t->p, t->h, g)) {
                fprintf(stderr, "%s: error: down=: no gateway '%s' in the configuration\n", where,
                        g);
                return false;
            }
    }
    return true;
}

/* One line of a CASES file; false on a syntax error (printed). */
static bool run_line(tester *t, const char *cases, int lineno, char *line)
{
    char where[600], what[2048], p1[4096], p2[4096];
    snprintf(where, sizeof where, "%s:%d", cases, lineno);
    line[strcspn(line, "\r\n")] = 0;
    snprintf(what, sizeof what, "%s", line + strspn(line, " \t"));
    char *tok[TOKENS_MAX];
    int n = tokenize(line, tok, TOKENS_MAX), arrow = -1;
    if (n < 0) {
        fprintf(stderr, "%s: error: an unclosed quote or more than %d words\n", where, TOKENS_MAX);
        return false;
    }
    if (n == 0 || tok[0][0] == '#')
        return true;
    for (int i = 1; i < n && arrow < 0; i++)
        if (strcmp(tok[i], "=>") == 0)
            arrow = i;
    int nargs = (arrow < 0 ? n : arrow) - 1, nexp = arrow < 0 ? 0 : n - arrow - 1;
    char **arg = tok + 1, **exp = tok + arrow + 1;
    bool sim = strcmp(tok[0], "simulate") == 0;
    bool route = strcmp(tok[0], "route") == 0;
    bool dial = strcmp(tok[0], "dial") == 0;
    if (sim && arrow < 0 && (nargs == 1 || nargs == 2)) {
        const char *events = relative(cases, arg[0], p1, sizeof p1);
        const char *expected = nargs == 2 ? relative(cases, arg[1], p2, sizeof p2) : NULL;
        for (int i = 0; i < nargs; i++) /* a missing file is the CASES file's error */
            if (!readable(i ? expected : events)) {
                fprintf(stderr, "%s: error: %s: %s\n", where, i ? expected : events,
                        strerror(errno));
                return false;
            }
        if (!t->config && !config_header(events)) {
            fprintf(stderr,
                    "%s: error: a simulate case needs --config FILE or a '#! config FILE' "
                    "header in %s\n",
                    where, events);
            return false;
        }
        case_simulate(t, where, events, expected);
        return true;
    }
    if ((route && nargs >= 2 && nexp >= 1) ||
        ((dial || strcmp(tok[0], "normalize") == 0) && nargs == 2 && nexp == 1)) {
        if (!t->h) {
            fprintf(stderr, "%s: error: a %s case needs --config FILE\n", where, tok[0]);
            return false;
        }
        if (route && !route_case_ok(t, where, arg, nargs, exp, nexp))
            return false;
        if (dial && strcmp(exp[0], "complete") != 0 && strcmp(exp[0], "need_more") != 0 &&
            strcmp(exp[0], "no_match") != 0) {
            fprintf(stderr, "%s: error: unknown answer '%s' (complete, need_more or no_match)\n",
                    where, exp[0]);
            return false;
        }
        if (route)
            case_route(t, where, what, arg, nargs, exp, nexp);
        else
            return case_normalize_dial(t, dial, where, what, arg, exp);
        return true;
    }
    fprintf(stderr,
            "%s: error: expected 'route FROM NUMBER [down=GW,...] => DECISION [key=value]...', "
            "'normalize PROFILE NUMBER => NUMBER', 'dial PROFILE DIGITS => ANSWER' or "
            "'simulate EVENTS [EXPECTED]'\n",
            where);
    return false;
}

static bool run_file(tester *t, const char *cases)
{
    const char *dot = strrchr(cases, '.');
    if (dot && strcmp(dot, ".events") == 0) {
        if (!readable(cases)) {
            fprintf(stderr, "callroute test: %s: %s\n", cases, strerror(errno));
            return false;
        }
        if (!t->config && !config_header(cases)) {
            fprintf(stderr,
                    "callroute test: %s: a simulate case needs --config FILE or a '#! config "
                    "FILE' header\n",
                    cases);
            return false;
        }
        case_simulate(t, cases, cases, NULL);
        return true;
    }
    FILE *f = fopen(cases, "r");
    if (!f) {
        fprintf(stderr, "callroute test: %s: %s\n", cases, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    bool ok = true;
    for (int lineno = 1; getline(&line, &cap, f) >= 0; lineno++) /* an editor's BOM on line 1 */
        ok &= run_line(t, cases, lineno,
                       line + (lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0 ? 3 : 0));
    if (ferror(f)) { /* a directory, or a read error: no case must pass unread */
        fprintf(stderr, "callroute test: %s: %s\n", cases, strerror(errno));
        ok = false;
    }
    free(line);
    fclose(f);
    return ok;
}

static const cr_optspec test_spec[] = {
    {"config", true},
    {"db", true},
    {"verbose", false},
    {NULL, false},
};

int cr_cmd_test(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, test_spec, &o))
        return 2;
    if (o.npos < 1) {
        cr_cli_help("test", stderr);
        return 2;
    }
    if (cr_opt(&o, "db") && !cr_opt(&o, "config")) { /* refused, not ignored (issue 16) */
        fprintf(stderr, "callroute test: --db goes with --config (the users of that "
                        "configuration)\nTry 'callroute test --help'.\n");
        return 2;
    }
    tester t = {.p = p, .config = cr_opt(&o, "config"), .verbose = cr_flag(&o, "verbose")};
    if (t.config) {
        cr_open_options opts = {.size = sizeof opts, .db_path = cr_opt(&o, "db")};
        t.h = cr_cli_open(p, t.config, &opts);
    }
    bool ok = !t.config || t.h;
    for (size_t i = 0; ok && i < o.npos; i++)
        ok = run_file(&t, o.pos[i]);
    if (t.h)
        p->close(t.h);
    printf("%d cases: %d passed, %d failed\n", t.passed + t.failed, t.passed, t.failed);
    return !ok ? 2 : t.failed ? 1 : 0;
}

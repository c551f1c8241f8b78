/* check, normalize, route, dial: the Route Helper of callroute. */
#include "cli.h"
#include "lib/json_esc.h"
#include "opts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One option table per subcommand: an option another subcommand takes is an error here. */
static const cr_optspec check_spec[] = {
    {"config", true},      {"json", false},    {"db", true},
    {"include-dir", true}, {"max-wait", true}, {NULL, false},
};
static const cr_optspec normalize_spec[] = {
    {"config", true}, {"profile", true}, {"json", false}, {"include-dir", true}, {NULL, false},
};
static const cr_optspec route_spec[] = {
    {"config", true},  {"json", false},  {"from", true}, {"down", true},        {"batch", true},
    {"spread", false}, {"trace", false}, {"db", true},   {"include-dir", true}, {NULL, false},
};
static const cr_optspec dial_spec[] = {
    {"config", true}, {"profile", true},     {"json", false},
    {"trace", false}, {"include-dir", true}, {NULL, false},
};

#define INCLUDE_DIRS_MAX 32

/* Open options with --include-dir DIR (repeatable): where includes may reach besides the
 * configuration's directory. `dirs` and `buf` hold the list. */
static cr_open_options open_options(const cr_opts *o, const char **dirs, char *buf, size_t len)
{
    size_t n = cr_opt_all(o, "include-dir", dirs, INCLUDE_DIRS_MAX - 1, buf, len);
    dirs[n] = NULL;
    return (cr_open_options){.size = sizeof(cr_open_options),
                             .db_path = cr_opt(o, "db"),
                             .include_dirs = n ? dirs : NULL};
}

int cr_cmd_check(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, check_spec, &o))
        return 2;
    const char *config = cr_opt(&o, "config");
    if (!config && o.npos == 1)
        config = o.pos[0];
    if (!config) {
        fprintf(stderr, "usage: callroute check --config FILE [--json]\n");
        return 2;
    }
    const char *dirs[INCLUDE_DIRS_MAX];
    char buf[4096];
    cr_open_options opts = open_options(&o, dirs, buf, sizeof buf);
    /* the Kamailio module's default rgs_max_wait unless the proxy's own is given */
    const char *mw = cr_opt(&o, "max-wait");
    char *end = NULL;
    long max_wait = mw ? strtol(mw, &end, 10) : 600;
    if (mw && (!*mw || *end || max_wait < 0 || max_wait > 86400)) {
        fprintf(stderr,
                "callroute check: --max-wait '%s' is not a number of seconds (0 to 86400)\n", mw);
        return 2;
    }
    opts.rgs_max_wait_s = (int)max_wait;
    cr_result *r = NULL;
    bool ex = opts.include_dirs || opts.db_path || mw;
    if (ex && (p->size < offsetof(cr_plugin, check_ex) + sizeof(void *) || !p->check_ex)) {
        fprintf(stderr,
                "callroute check: --include-dir, --db and --max-wait need a newer libcallroute\n");
        return 2;
    }
    bool has_ex = p->size >= offsetof(cr_plugin, check_ex) + sizeof(void *) && p->check_ex;
    int rc = has_ex ? p->check_ex(config, &opts, &r) : p->check(config, &r);
    if (!r) {
        fprintf(stderr, "callroute check: %s\n", p->strerror(rc));
        return 2;
    }
    if (cr_flag(&o, "json")) {
        cr_cli_print(p, r, 1);
    } else {
        size_t n = p->result_count(r, "diagnostics");
        for (size_t i = 0; i < n; i++) {
            const char *level = p->result_item(r, "diagnostics", i, "level");
            FILE *f = level && strcmp(level, "error") == 0 ? stderr : stdout;
            fprintf(f, "%s\n", p->result_item(r, "diagnostics", i, "text"));
        }
        if (rc == 0)
            printf("%s: ok (%s profiles, %s routes, %s gateways, %s users; %s warnings)\n", config,
                   p->result_get(r, "profiles"), p->result_get(r, "routes"),
                   p->result_get(r, "gateways"), p->result_get(r, "users"),
                   p->result_get(r, "warnings"));
        else
            fprintf(stderr, "%s: refused (%s errors)\n", config, p->result_get(r, "errors"));
    }
    p->result_free(r);
    return rc == 0 ? 0 : 2;
}

/* normalize --json on a string that is not a phone number: the result's fields, null where
 * there is nothing, and the reason (route and dial answer such a string with JSON too). */
static void normalize_refused_json(const char *number, const char *profile, const char *why)
{
    fputs("{\"input\": ", stdout);
    cr_cli_json_str(number);
    fputs(", \"profile\": ", stdout);
    cr_cli_json_str(profile);
    fputs(", \"rule\": null, \"normalized\": null, \"error\": ", stdout);
    cr_cli_json_str(why);
    fputs("}\n", stdout);
}

int cr_cmd_normalize(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, normalize_spec, &o))
        return 2;
    if (o.npos != 1) {
        fprintf(stderr,
                "usage: callroute normalize --config FILE --profile NAME NUMBER [--json]\n");
        return 2;
    }
    const char *dirs[INCLUDE_DIRS_MAX];
    char buf[4096];
    cr_open_options opts = open_options(&o, dirs, buf, sizeof buf);
    cr_handle *h = cr_cli_open(p, cr_opt(&o, "config"), &opts);
    if (!h)
        return 2;
    cr_result *r = NULL;
    const char *profile = cr_opt(&o, "profile");
    int rc = p->normalize(h, profile, o.pos[0], &r);
    int status = 0;
    if (rc == CR_ABI_ENOENT) {
        fprintf(stderr, "callroute normalize: no location profile '%s'\n", profile);
        status = 2;
    } else if (rc != 0) {
        char why[320];
        snprintf(why, sizeof why, "'%s' is not a phone number", o.pos[0]);
        fprintf(stderr, "callroute normalize: %s\n", why);
        if (cr_flag(&o, "json"))
            normalize_refused_json(o.pos[0], profile, why);
        status = 1;
    } else {
        cr_cli_print(p, r, cr_flag(&o, "json"));
    }
    p->result_free(r);
    p->close(h);
    return status;
}

static bool has_route_json(const cr_plugin *p)
{
    return CR_HAS(cr_plugin, p, route_json) && p->route_json;
}

static void put_line(void *ud, const char *json, size_t len)
{
    (void)ud;
    fwrite(json, 1, len, stdout);
    fputc('\n', stdout);
}

/* A result as JSON with its trace as one more member, "trace": ["line", ...] (--json
 * --trace: the contract's members first, unchanged). */
static void print_json_trace(const cr_plugin *p, const cr_result *r)
{
    char one[1];
    size_t need = p->result_json(r, one, sizeof one);
    char *j = malloc(need + 1);
    if (!j)
        return;
    p->result_json(r, j, need + 1);
    char *end = strrchr(j, '}');
    if (!end) {
        fputs(j, stdout);
        fputc('\n', stdout);
        free(j);
        return;
    }
    fwrite(j, 1, (size_t)(end - j), stdout);
    fputs(end > j + 1 ? ", \"trace\": [" : "\"trace\": [", stdout);
    size_t n = p->result_count(r, "trace");
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", stdout);
        cr_cli_json_str(p->result_item(r, "trace", i, "text"));
    }
    fputs("]}\n", stdout);
    free(j);
}

/* One decision: JSON straight from the library when it can (no result, no trace built),
 * else the result printed as JSON (with its trace when `json` is 2) or as text with its
 * trace. */
static int route_one(const cr_plugin *p, cr_handle *h, const char *from, const char *number,
                     const char *const *down, size_t ndown, int json)
{
    cr_result *r = NULL;
    int kind = 0;
    bool direct = json == 1 && has_route_json(p);
    int rc = direct ? p->route_json(h, from, number, down, ndown, 0, put_line, NULL, &kind)
                    : p->route(h, from, number, down, ndown, &r);
    if (rc != 0 || (!direct && !r)) {
        fprintf(stderr, "callroute route: %s\n", p->strerror(rc));
        return 2;
    }
    if (r) {
        if (json == 2)
            print_json_trace(p, r);
        else
            cr_cli_print(p, r, json);
        kind = p->result_kind(r);
        p->result_free(r);
    }
    return kind == CR_DECISION_OUTBOUND || kind == CR_DECISION_INTERNAL ? 0 : 1;
}

/* "--down GW1 GW2 NUMBER": extra positionals that name a configured gateway are down
 * gateways too, so both "--down A --down B" and "--down A B" work. Then every --down name
 * must be a configured gateway: false (after saying which) when one is not. */
static bool more_down(const cr_plugin *p, cr_handle *h, cr_opts *o, const char **down,
                      size_t *ndown, size_t max)
{
    cr_result *g = NULL;
    if (*ndown == 0)
        return true;
    if (!p->gateways || p->gateways(h, &g) != 0)
        return true; /* a library that cannot list them: take the names as given */
    size_t w = 0, ng = p->result_count(g, "gateways");
    for (size_t i = 0; i < o->npos; i++) {
        bool is_gw = false;
        for (size_t k = 0; k < ng && !is_gw && o->npos > 1; k++)
            is_gw = strcmp(o->pos[i], p->result_item(g, "gateways", k, "name")) == 0;
        if (is_gw && *ndown < max)
            down[(*ndown)++] = o->pos[i];
        else
            o->pos[w++] = o->pos[i];
    }
    o->npos = w;
    bool ok = true;
    for (size_t i = 0; i < *ndown && ok; i++) {
        bool known = false;
        for (size_t k = 0; k < ng && !known; k++)
            known = strcmp(down[i], p->result_item(g, "gateways", k, "name")) == 0;
        if (!known) {
            fprintf(stderr, "callroute route: --down '%s': no such gateway; gateways:", down[i]);
            for (size_t k = 0; k < ng; k++)
                fprintf(stderr, "%s %s", k ? "," : "", p->result_item(g, "gateways", k, "name"));
            fputc('\n', stderr);
            ok = false;
        }
    }
    /* names point into argv, not into the result */
    p->result_free(g);
    return ok;
}

/* ---- route --batch ------------------------------------------------------------------------ */

/*
 * The batch's one output: lines gathered in one buffer and written with fwrite when it holds
 * BATCH_FLUSH bytes, before a read that may block (so that a program feeding numbers through
 * a pipe gets each answer before it sends the next), before a message to stderr, and at the
 * end.
 */
typedef struct batch_out {
    char *buf;
    size_t used, cap;
} batch_out;

#define BATCH_FLUSH (64 * 1024)

static void out_flush(batch_out *o)
{
    if (o->used)
        fwrite(o->buf, 1, o->used, stdout);
    o->used = 0;
    fflush(stdout);
}

/* Room for n more bytes; false when out of memory. */
static bool out_reserve(batch_out *o, size_t n)
{
    if (o->used + n <= o->cap)
        return true;
    size_t cap = o->cap ? o->cap : BATCH_FLUSH * 2;
    while (cap < o->used + n)
        cap *= 2;
    char *b = realloc(o->buf, cap);
    if (!b)
        return false;
    o->buf = b;
    o->cap = cap;
    return true;
}

static void out_put(batch_out *o, const char *s, size_t n)
{
    if (out_reserve(o, n)) {
        memcpy(o->buf + o->used, s, n);
        o->used += n;
    }
}

/* The batch's input, read with read(2) in large blocks: whole lines of any length. */
typedef struct batch_in {
    int fd;
    char *buf;
    size_t cap, start, end; /* unread bytes: buf[start, end) */
    bool eof;
    int err; /* errno of a failed read, 0 */
} batch_in;

/* Moves the partial line to the front and reads more (growing the buffer when the line fills
 * it); `o` is flushed first, as the read may block. */
static void in_fill(batch_in *in, batch_out *o)
{
    memmove(in->buf, in->buf + in->start, in->end - in->start);
    in->end -= in->start;
    in->start = 0;
    if (in->cap - in->end < 4096) {
        char *b = realloc(in->buf, in->cap * 2);
        if (!b) {
            in->err = ENOMEM, in->eof = true;
            return;
        }
        in->buf = b;
        in->cap *= 2;
    }
    out_flush(o);
    ssize_t got;
    do
        got = read(in->fd, in->buf + in->end, in->cap - in->end - 1);
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        in->err = got < 0 ? errno : 0;
        in->eof = true;
        return;
    }
    in->end += (size_t)got;
}

/* The next line, NUL-terminated in place without its '\n' (it may hold NULs of its own: its
 * length is in *n); NULL at the end of the input. */
static char *in_line(batch_in *in, batch_out *o, size_t *n)
{
    size_t scanned = 0; /* bytes of the partial line already searched for '\n' */
    for (;;) {
        char *line = in->buf + in->start;
        char *nl = memchr(line + scanned, '\n', in->end - in->start - scanned);
        if (nl || (in->eof && in->start < in->end)) {
            *n = nl ? (size_t)(nl - line) : in->end - in->start;
            line[*n] = 0; /* the '\n', or the byte kept free past the end */
            in->start += *n + (nl != NULL);
            return line;
        }
        if (in->eof)
            return NULL;
        scanned = in->end - in->start;
        in_fill(in, o);
    }
}

/* Writes the decision's JSON after "input": `{"input":"…",` then its fields and the line's
 * end, in one piece. */
static void put_decision(void *ud, const char *json, size_t len)
{
    batch_out *o = ud;
    bool fields = len > 1 && json[0] == '{' && json[1] != '}';
    size_t n = fields ? len : 1; /* ',' and the fields after the '{', or '}' */
    if (!out_reserve(o, n + 1))
        return;
    char *w = o->buf + o->used;
    if (fields)
        memcpy(w + 1, json + 1, len - 1);
    w[0] = fields ? ',' : '}';
    w[n] = '\n';
    o->used += n + 1;
}

/* One batch line: the decision's JSON with "input" (the line as read) first. */
static int route_line(const cr_plugin *p, cr_handle *h, const char *from, const char *number,
                      size_t len, const char *const *down, size_t ndown, unsigned flags,
                      batch_out *o)
{
    size_t mark = o->used;
    if (!out_reserve(o, CRP_JSON_ESCAPED_MAX(len) + 16)) {
        out_flush(o);
        fprintf(stderr, "callroute route: %s\n", p->strerror(CR_ABI_ENOMEM));
        return 2;
    }
    memcpy(o->buf + o->used, "{\"input\":", 9);
    o->used += 9;
    o->used += crp_json_escape_n(o->buf + o->used, number, len);
    int kind = 0, rc;
    if (has_route_json(p)) {
        rc = p->route_json(h, from, number, down, ndown, flags, put_decision, o, &kind);
    } else { /* an older library: through a result */
        cr_result *r = NULL;
        rc = p->route_ex(h, from, number, down, ndown, flags, &r);
        size_t need = rc == 0 && r ? p->result_json(r, NULL, 0) : 0;
        char *j = need ? malloc(need + 1) : NULL;
        if (j)
            p->result_json(r, j, need + 1);
        if (rc == 0 && r)
            put_decision(o, j ? j : "", j ? need : 0);
        rc = rc == 0 && !r ? CR_ABI_ENOMEM : rc;
        kind = r ? p->result_kind(r) : 0;
        free(j);
        p->result_free(r);
    }
    if (rc != 0) {
        o->used = mark; /* nothing of this line is printed */
        out_flush(o);
        fprintf(stderr, "callroute route: %s\n", p->strerror(rc));
        return 2;
    }
    return kind == CR_DECISION_OUTBOUND || kind == CR_DECISION_INTERNAL ? 0 : 1;
}

/*
 * `route --batch FILE`: one JSON line per number, blank and '#' lines printed back (without
 * their trailing blanks). The decisions go straight from the library into one output buffer:
 * no result and no trace built per line (JSON does not show the trace).
 */
static int route_batch(const cr_plugin *p, cr_handle *h, const char *from, const char *batch,
                       const char *const *down, size_t ndown, unsigned flags)
{
    bool own = strcmp(batch, "-") != 0;
    batch_in in = {.fd = own ? open(batch, O_RDONLY | O_CLOEXEC) : 0, .cap = BATCH_FLUSH};
    if (in.fd < 0) {
        fprintf(stderr, "callroute route: cannot open %s: %s\n", batch, strerror(errno));
        return 2;
    }
    batch_out o = {NULL, 0, 0};
    in.buf = malloc(in.cap);
    int status = 0;
    size_t got;
    char *line;
    if (!in.buf)
        in.err = ENOMEM, in.eof = true;
    for (int lineno = 1; (line = in_line(&in, &o, &got)); lineno++) {
        /* whole lines, however long: a long line is one (refused) number, not several */
        if (memchr(line, 0, got)) {
            out_flush(&o);
            fprintf(stderr, "callroute route: %s:%d: the line holds a NUL byte: skipped\n", batch,
                    lineno);
            status = status > 1 ? status : 1;
            continue;
        }
        char *s = line;
        size_t n = got;
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = 0;
        size_t lead = lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        while (s[lead] == ' ' || s[lead] == '\t') /* after an editor's BOM on line 1 */
            lead++;
        if (!s[lead] || s[lead] == '#') {
            out_put(&o, line, n); /* kept as it is, so output lines match input lines */
            out_put(&o, "\n", 1);
            continue;
        }
        int rc = route_line(p, h, from, s + lead, n - lead, down, ndown, flags, &o);
        if (rc > status)
            status = rc;
        if (o.used >= BATCH_FLUSH)
            out_flush(&o);
    }
    out_flush(&o);
    if (in.err) {
        fprintf(stderr, "callroute route: cannot read %s: %s\n", batch, strerror(in.err));
        status = 2;
    }
    free(o.buf);
    free(in.buf);
    if (own)
        close(in.fd);
    return status;
}

int cr_cmd_route(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, route_spec, &o))
        return 2;
    const char *from = cr_opt(&o, "from"), *batch = cr_opt(&o, "batch");
    const char *down[64];
    char downbuf[4096];
    size_t ndown = cr_opt_all(&o, "down", down, 64, downbuf, sizeof downbuf);
    /* --db: the LMDB user directory (callers and reverse number lookup) */
    const char *dirs[INCLUDE_DIRS_MAX];
    char buf[4096];
    cr_open_options opts = open_options(&o, dirs, buf, sizeof buf);
    cr_handle *h = from ? cr_cli_open(p, cr_opt(&o, "config"), &opts) : NULL;
    int status = 2;
    if (h && !more_down(p, h, &o, down, &ndown, 64))
        goto out;
    if (!from || (batch ? o.npos != 0 : o.npos != 1)) {
        cr_cli_help("route", stderr);
        goto out;
    }
    /* an option that would change nothing is refused, not ignored (issue 16) */
    if ((cr_flag(&o, "spread") && !batch) || (cr_flag(&o, "trace") && batch)) {
        fprintf(stderr, "callroute route: %s\nTry 'callroute route --help'.\n",
                cr_flag(&o, "spread") && !batch
                    ? "--spread goes with --batch (one decision has no line before it)"
                    : "--trace is for one decision: --batch lines carry no trace");
        goto out;
    }
    if (!h)
        goto out;
    if (!batch) /* --json --trace: the JSON with a "trace" member */
        status = route_one(p, h, from, o.pos[0], down, ndown,
                           cr_flag(&o, "json") ? 1 + cr_flag(&o, "trace") : 0);
    else
        /* each line from a fresh load-spreading state unless --spread */
        status = route_batch(p, h, from, batch, down, ndown,
                             cr_flag(&o, "spread") ? 0 : CR_ROUTE_FRESH_SPREAD);
out:
    if (h)
        p->close(h);
    return status;
}

int cr_cmd_dial(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, dial_spec, &o))
        return 2;
    if (o.npos != 1) {
        fprintf(stderr, "usage: callroute dial --config FILE --profile NAME DIGITS [--json]\n");
        return 2;
    }
    const char *dirs[INCLUDE_DIRS_MAX];
    char buf[4096];
    cr_open_options opts = open_options(&o, dirs, buf, sizeof buf);
    cr_handle *h = cr_cli_open(p, cr_opt(&o, "config"), &opts);
    if (!h)
        return 2;
    cr_result *r = NULL;
    const char *profile = cr_opt(&o, "profile");
    int rc = p->dial(h, profile, o.pos[0], &r);
    int status;
    if (rc == CR_ABI_ENOENT) {
        fprintf(stderr, "callroute dial: no location profile '%s'\n", profile);
        status = 2;
    } else if (rc != 0 || !r) {
        fprintf(stderr, "callroute dial: %s\n", p->strerror(rc));
        status = 2;
    } else {
        if (cr_flag(&o, "json") && cr_flag(&o, "trace"))
            print_json_trace(p, r);
        else if (cr_flag(&o, "json"))
            cr_cli_print(p, r, 1);
        else if (cr_flag(&o, "trace"))
            cr_cli_print(p, r, 0);
        else
            puts(p->result_get(r, "answer"));
        status = p->result_kind(r) == CR_DIAL_NO_MATCH ? 1 : 0;
    }
    p->result_free(r);
    p->close(h);
    return status;
}

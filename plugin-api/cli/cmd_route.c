/* check, normalize, route, dial: the Route Helper of callroute. */
#include "cli.h"
#include "lib/json_esc.h"
#include "opts.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One option table per subcommand: an option another subcommand takes is an error here. */
static const cr_optspec check_spec[] = {
    {"config", true}, {"json", false}, {"db", true}, {"include-dir", true}, {NULL, false},
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
    cr_result *r = NULL;
    bool ex = opts.include_dirs || opts.db_path;
    if (ex && (p->size < offsetof(cr_plugin, check_ex) + sizeof(void *) || !p->check_ex)) {
        fprintf(stderr, "callroute check: --include-dir and --db need a newer libcallroute\n");
        return 2;
    }
    int rc = ex ? p->check_ex(config, &opts, &r) : p->check(config, &r);
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
        fprintf(stderr, "callroute normalize: '%s' is not a phone number\n", o.pos[0]);
        status = 1;
    } else {
        cr_cli_print(p, r, cr_flag(&o, "json"));
    }
    p->result_free(r);
    p->close(h);
    return status;
}

static int route_one(const cr_plugin *p, cr_handle *h, const char *from, const char *number,
                     const char *const *down, size_t ndown, int json)
{
    cr_result *r = NULL;
    int rc = p->route(h, from, number, down, ndown, &r);
    if (rc != 0 || !r) {
        fprintf(stderr, "callroute route: %s\n", p->strerror(rc));
        return 2;
    }
    cr_cli_print(p, r, json);
    int kind = p->result_kind(r);
    p->result_free(r);
    return kind == CR_DECISION_OUTBOUND || kind == CR_DECISION_INTERNAL ? 0 : 1;
}

static void put_stdout(void *ud, const char *s, size_t n)
{
    (void)ud;
    fwrite(s, 1, n, stdout);
}

/* One batch line: the decision's JSON with "input" (the line as read) first. */
static int route_line(const cr_plugin *p, cr_handle *h, const char *from, const char *number,
                      const char *const *down, size_t ndown, unsigned flags)
{
    cr_result *r = NULL;
    int rc = p->route_ex(h, from, number, down, ndown, flags, &r);
    if (rc != 0 || !r) {
        fprintf(stderr, "callroute route: %s\n", p->strerror(rc));
        return 2;
    }
    size_t need = p->result_json(r, NULL, 0);
    char *j = malloc(need + 1);
    if (j)
        p->result_json(r, j, need + 1);
    fputs("{\"input\":", stdout);
    crp_json_escape(number, put_stdout, NULL);
    if (j && j[0] == '{' && j[1] != '}')
        printf(",%s\n", j + 1);
    else
        fputs("}\n", stdout);
    free(j);
    int kind = p->result_kind(r);
    p->result_free(r);
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

/* `route --batch FILE`: one JSON line per number, blank and '#' lines printed back. */
static int route_batch(const cr_plugin *p, cr_handle *h, const char *from, const char *batch,
                       const char *const *down, size_t ndown, unsigned flags)
{
    FILE *f = strcmp(batch, "-") == 0 ? stdin : fopen(batch, "r");
    if (!f) {
        fprintf(stderr, "callroute route: cannot open %s: %s\n", batch, strerror(errno));
        return 2;
    }
    /* whole lines, however long: a long line is one (refused) number, not several */
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int status = 0;
    for (int lineno = 1; (got = getline(&line, &cap, f)) >= 0; lineno++) {
        char *s = line;
        if (memchr(line, 0, (size_t)got)) {
            fprintf(stderr, "callroute route: %s:%d: the line holds a NUL byte: skipped\n", batch,
                    lineno);
            status = status > 1 ? status : 1;
            continue;
        }
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = 0;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#') {
            puts(line); /* kept as it is, so output lines match input lines */
            continue;
        }
        int rc = route_line(p, h, from, s, down, ndown, flags);
        if (rc > status)
            status = rc;
    }
    free(line);
    if (f != stdin)
        fclose(f);
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
    if (!h)
        goto out;
    if (!batch)
        status = route_one(p, h, from, o.pos[0], down, ndown, cr_flag(&o, "json"));
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
        if (cr_flag(&o, "json"))
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

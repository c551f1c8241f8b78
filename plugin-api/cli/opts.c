#include "opts.h"

#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Builds getopt_long's table from the subcommand's; "help" (-h) is always known. */
static size_t long_table(const cr_optspec *spec, struct option *lo, size_t max, bool *own_help)
{
    size_t n = 0;
    *own_help = false;
    for (; spec->name && n + 2 < max; spec++) {
        if (strcmp(spec->name, "help") == 0)
            *own_help = true;
        lo[n] = (struct option){spec->name, spec->has_value ? required_argument : no_argument, NULL,
                                (int)n + 1000};
        n++;
    }
    if (!*own_help)
        lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n] = (struct option){0};
    return n;
}

/* Records option `name` (value may be NULL); false when the table is full. */
static bool add_opt(cr_opts *o, const char *cmd, const char *name, const char *value)
{
    if (o->n == CR_OPTS_MAX) {
        fprintf(stderr, "callroute %s: too many options (at most %d)\n", cmd, CR_OPTS_MAX);
        return false;
    }
    o->names[o->n] = name;
    o->values[o->n++] = value;
    return true;
}

static bool add_pos(cr_opts *o, const char *cmd, const char *a)
{
    if (o->npos == CR_OPTS_MAX) {
        fprintf(stderr, "callroute %s: too many arguments (at most %d)\n", cmd, CR_OPTS_MAX);
        return false;
    }
    o->pos[o->npos++] = a;
    return true;
}

static void bad_option(const char *cmd, char **argv, int c)
{
    const char *a = argv[optind - 1];
    if (c == ':')
        fprintf(stderr, "callroute %s: option '%s' needs a value\n", cmd, a);
    else if (optopt && optopt < 1000 && !(a[0] == '-' && a[1] == '-'))
        fprintf(stderr, "callroute %s: unknown option '-%c'\n", cmd, optopt);
    else if (optopt >= 1000)
        fprintf(stderr, "callroute %s: option '%s' takes no value\n", cmd, a);
    else
        fprintf(stderr, "callroute %s: unknown option '%s'\n", cmd, a);
    fprintf(stderr, "Try 'callroute %s --help'.\n", cmd);
}

bool cr_opts_parse(int argc, char **argv, const cr_optspec *spec, cr_opts *o)
{
    memset(o, 0, sizeof *o);
    struct option lo[CR_OPTS_MAX + 2];
    bool own_help;
    size_t nlo = long_table(spec, lo, sizeof lo / sizeof *lo, &own_help);
    const char *cmd = argv[0];
    /* "-": positionals come back in order (as 1); ":": a missing value comes back as ':' */
    optind = 1;
    opterr = 0;
    for (;;) {
        int idx = -1;
        optopt = 0;
        int c = getopt_long(argc, argv, "-:h", lo, &idx);
        if (c == -1)
            break;
        if (c == 1) { /* a positional argument, in order ("-" first in optstring) */
            if (!add_pos(o, cmd, optarg))
                return false;
            continue;
        }
        if (c == 'h' && !own_help) {
            cr_cli_help(cmd, stdout);
            exit(0);
        }
        if (c == 'h') {
            if (!add_opt(o, cmd, "help", NULL))
                return false;
            continue;
        }
        if (c == '?' || c == ':') {
            bad_option(cmd, argv, c);
            return false;
        }
        size_t k = (size_t)(c - 1000);
        if (k >= nlo || !add_opt(o, cmd, lo[k].name, lo[k].has_arg ? optarg : NULL))
            return false;
    }
    for (int i = optind; i < argc; i++) /* after "--" */
        if (!add_pos(o, cmd, argv[i]))
            return false;
    return true;
}

const char *cr_opt(const cr_opts *o, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->names[i], name) == 0)
            v = o->values[i];
    return v;
}

bool cr_flag(const cr_opts *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->names[i], name) == 0)
            return true;
    return false;
}

size_t cr_opt_all(const cr_opts *o, const char *name, const char **out, size_t max, char *buf,
                  size_t buflen)
{
    size_t n = 0, used = 0;
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->names[i], name) != 0 || !o->values[i])
            continue;
        const char *v = o->values[i];
        size_t vl = strlen(v);
        if (used + vl + 1 > buflen)
            break;
        char *copy = buf + used;
        memcpy(copy, v, vl + 1);
        used += vl + 1;
        for (char *tok = strtok(copy, ","); tok && n < max; tok = strtok(NULL, ","))
            out[n++] = tok;
    }
    return n;
}

/* "USER[:GROUP]" (names or numbers) into uid/gid; without GROUP the user's own group. */
bool cr_parse_owner(const char *cmd, const char *s, uid_t *uid, gid_t *gid)
{
    char user[256];
    const char *colon = strchr(s, ':');
    snprintf(user, sizeof user, "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
    struct passwd *pw = getpwnam(user);
    char *end;
    long n = strtol(user, &end, 10);
    if (!pw && (!*user || *end || n < 0 || !(pw = getpwuid((uid_t)n)))) {
        fprintf(stderr, "%s: --owner '%s': no user '%s'\n", cmd, s, user);
        return false;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (colon && colon[1]) {
        struct group *gr = getgrnam(colon + 1);
        n = strtol(colon + 1, &end, 10);
        if (!gr && (*end || n < 0 || !(gr = getgrgid((gid_t)n)))) {
            fprintf(stderr, "%s: --owner '%s': no group '%s'\n", cmd, s, colon + 1);
            return false;
        }
        *gid = gr->gr_gid;
    }
    return true;
}

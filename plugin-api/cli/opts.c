#include "opts.h"

#include <stdio.h>
#include <string.h>

static const cr_optspec *find(const cr_optspec *spec, const char *name, size_t n)
{
    for (; spec->name; spec++)
        if (strlen(spec->name) == n && strncmp(spec->name, name, n) == 0)
            return spec;
    return NULL;
}

bool cr_opts_parse(int argc, char **argv, const cr_optspec *spec, cr_opts *o)
{
    memset(o, 0, sizeof *o);
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (!only_pos && strcmp(a, "--") == 0) {
                only_pos = true;
                continue;
            }
            if (o->npos == CR_OPTS_MAX) {
                fprintf(stderr, "callroute %s: too many arguments (at most %d)\n", argv[0],
                        CR_OPTS_MAX);
                return false;
            }
            o->pos[o->npos++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const cr_optspec *s = find(spec, name, nl);
        if (!s) {
            fprintf(stderr, "callroute %s: unknown option '%s'\n", argv[0], a);
            return false;
        }
        if (o->n == CR_OPTS_MAX) {
            fprintf(stderr, "callroute %s: too many options (at most %d)\n", argv[0], CR_OPTS_MAX);
            return false;
        }
        o->names[o->n] = s->name;
        if (s->has_value) {
            if (eq)
                o->values[o->n] = eq + 1;
            else if (i + 1 < argc)
                o->values[o->n] = argv[++i];
            else {
                fprintf(stderr, "callroute %s: option '--%s' needs a value\n", argv[0], s->name);
                return false;
            }
        } else if (eq) {
            fprintf(stderr, "callroute %s: option '--%s' takes no value\n", argv[0], s->name);
            return false;
        }
        o->n++;
    }
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

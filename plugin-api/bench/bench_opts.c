/* `callroute bench`: the "key=value" arguments (see bench.h), checked and defaulted. */
#include "bench_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *arg_value(const char *a, const char *key)
{
    size_t n = strlen(key);
    return strncmp(a, key, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

/* generate=routes=N,rules=M,users=U into the plan (defaults 1000, 100, 1000). */
static int parse_generate(const char *spec, crb_plan *p, char *err, size_t errlen)
{
    p->routes = 1000, p->rules = 100, p->users = 1000;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        long long n = eq ? strtoll(eq + 1, NULL, 10) : -1;
        if (!eq || n < 0 || n > 10000000) {
            snprintf(err, errlen, "generate: '%s' is not key=N", t);
            return CR_EINVAL;
        }
        *eq = 0;
        if (strcmp(t, "routes") == 0)
            p->routes = (size_t)n;
        else if (strcmp(t, "rules") == 0)
            p->rules = (size_t)n;
        else if (strcmp(t, "users") == 0)
            p->users = (size_t)n;
        else {
            snprintf(err, errlen, "generate: unknown key '%s' (routes, rules, users)", t);
            return CR_EINVAL;
        }
    }
    if (p->users < 1)
        p->users = 1;
    if (p->users > 10000000)
        p->users = 10000000;
    crb_plan_init(p);
    return CR_OK;
}

/* One argument into `o`; false when its key is unknown. */
static bool parse_arg(const char *a, crb_opts *o)
{
    const char *v;
    if ((v = arg_value(a, "config")))
        o->config = v;
    else if ((v = arg_value(a, "generate")))
        o->generate = v;
    else if ((v = arg_value(a, "numbers")))
        o->numbers = v;
    else if ((v = arg_value(a, "save")))
        o->save = v;
    else if ((v = arg_value(a, "seconds")))
        o->seconds = strtod(v, NULL);
    else if ((v = arg_value(a, "reload_ms")))
        o->reload_ms = strtol(v, NULL, 10);
    else if ((v = arg_value(a, "reloads")))
        o->reloads = strtol(v, NULL, 10);
    else if ((v = arg_value(a, "threads")))
        o->threads = strtol(v, NULL, 10);
    else if ((v = arg_value(a, "seed")))
        o->seed = strtoull(v, NULL, 10);
    else
        return false;
    return true;
}

int crb_opts_parse(const char *const *args, size_t nargs, crb_opts *o, crb_plan *p, char *err,
                   size_t errlen)
{
    memset(o, 0, sizeof *o);
    memset(p, 0, sizeof *p);
    o->seconds = 2;
    o->threads = 2;
    o->seed = 1;
    for (size_t i = 0; i < nargs; i++)
        if (!parse_arg(args[i], o)) {
            snprintf(err, errlen, "unknown bench argument '%s'", args[i]);
            return CR_EINVAL;
        }
    if (!o->config == !o->generate) {
        snprintf(err, errlen, "give either config=FILE or generate=routes=N,rules=M,users=U");
        return CR_EINVAL;
    }
    if (o->seconds <= 0 || o->seconds > 3600 || o->threads < 1 || o->threads > 64 ||
        o->reload_ms < 0 || o->reloads < 0) {
        snprintf(err, errlen, "seconds, threads, reload_ms or reloads out of range");
        return CR_EINVAL;
    }
    p->seed = o->seed;
    return o->generate ? parse_generate(o->generate, p, err, errlen) : CR_OK;
}

/* `callroute bench`: the "key=value" arguments (see bench.h), checked and defaulted. */
#include "bench_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *arg_value(const char *a, const char *key)
{
    size_t n = strlen(key);
    return strncmp(a, key, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

/* A whole decimal number (no sign, nothing after it) into *out; false otherwise. */
static bool whole_number(const char *v, unsigned long long *out)
{
    char *end;
    errno = 0;
    *out = strtoull(v, &end, 10);
    return *v >= '0' && *v <= '9' && !*end && !errno;
}

/* A number with an optional fraction ("0.5", "2"), no sign, nothing after it. */
static bool real_number(const char *v, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    return ((*v >= '0' && *v <= '9') || *v == '.') && !*end && !errno;
}

/* A whole number into a long, capped at LONG_MAX (the range checks come later). */
static bool long_number(const char *v, long *out)
{
    unsigned long long n;
    if (!whole_number(v, &n))
        return false;
    *out = n > LONG_MAX ? LONG_MAX : (long)n;
    return true;
}

/* generate=routes=N,rules=M,users=U into the plan (defaults 1000, 100, 1000). */
static int parse_generate(const char *spec, crb_plan *p, char *err, size_t errlen)
{
    p->routes = 1000, p->rules = 100, p->users = 1000;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        unsigned long long n;
        if (!eq || !whole_number(eq + 1, &n) || n > 10000000) {
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

/* How an argument parsed. */
enum { ARG_OK, ARG_UNKNOWN, ARG_NOT_A_NUMBER };

/* One argument into `o`. */
static int parse_arg(const char *a, crb_opts *o)
{
    const char *v;
    unsigned long long seed;
    bool num = true;
    if ((v = arg_value(a, "config")))
        o->config = v;
    else if ((v = arg_value(a, "generate")))
        o->generate = v;
    else if ((v = arg_value(a, "numbers")))
        o->numbers = v;
    else if ((v = arg_value(a, "save")))
        o->save = v;
    else if ((v = arg_value(a, "seconds")))
        num = real_number(v, &o->seconds);
    else if ((v = arg_value(a, "reload_ms")))
        num = long_number(v, &o->reload_ms);
    else if ((v = arg_value(a, "reloads")))
        num = long_number(v, &o->reloads);
    else if ((v = arg_value(a, "threads")))
        num = long_number(v, &o->threads);
    else if ((v = arg_value(a, "seed")) && (num = whole_number(v, &seed)))
        o->seed = seed;
    else if (!v)
        return ARG_UNKNOWN;
    return num ? ARG_OK : ARG_NOT_A_NUMBER;
}

int crb_opts_parse(const char *const *args, size_t nargs, crb_opts *o, crb_plan *p, char *err,
                   size_t errlen)
{
    memset(o, 0, sizeof *o);
    memset(p, 0, sizeof *p);
    o->seconds = 2;
    o->threads = 2;
    o->seed = 1;
    for (size_t i = 0; i < nargs; i++) {
        int how = parse_arg(args[i], o);
        if (how != ARG_OK) {
            snprintf(err, errlen,
                     how == ARG_UNKNOWN ? "unknown bench argument '%s'" : "'%s': not a number",
                     args[i]);
            return CR_EINVAL;
        }
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

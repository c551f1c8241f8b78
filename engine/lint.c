/*
 * Lint: findings that do not stop a configuration from loading but that an admin wants to
 * know about. A rule that an earlier rule of the same profile always shadows is found by
 * sampling: numbers are generated from the later rule's pattern (digits, classes, groups,
 * alternations, quantifiers; patterns with lookarounds are not sampled) and if every sample
 * the later rule matches is matched by one earlier rule, that rule wins first every time.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sampler {
    char *out;
    size_t o, cap;
    uint32_t rng;
    bool bad;
    int depth;
} sampler;

static uint32_t rnd(sampler *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 17;
    s->rng ^= s->rng << 5;
    return s->rng;
}

static void put(sampler *s, char c)
{
    if (s->o + 1 < s->cap)
        s->out[s->o++] = c;
    else
        s->bad = true;
}

/* End of the atom starting at p (one past it). */
static const char *atom_end(const char *p)
{
    if (*p == '\\')
        return p[1] ? p + 2 : p + 1;
    if (*p == '[') {
        const char *q = p + 1;
        if (*q == '^')
            q++;
        if (*q == ']')
            q++;
        while (*q && *q != ']')
            q += (*q == '\\' && q[1]) ? 2 : 1;
        return *q ? q + 1 : q;
    }
    if (*p == '(') {
        int level = 0;
        const char *q = p;
        while (*q) {
            if (*q == '\\' && q[1]) {
                q += 2;
                continue;
            }
            if (*q == '[') {
                q = atom_end(q);
                continue;
            }
            if (*q == '(')
                level++;
            else if (*q == ')' && --level == 0)
                return q + 1;
            q++;
        }
        return q;
    }
    return p + 1;
}

static const char alphabet[] = "0123456789+*#";

static void gen_class(sampler *s, const char *p, const char *end)
{
    bool neg = false, allowed[128] = {false};
    p++;   /* '[' */
    end--; /* ']' */
    if (*p == '^')
        neg = true, p++;
    while (p < end) {
        char c = *p;
        if (c == '\\' && p + 1 < end) {
            if (p[1] == 'd')
                for (char d = '0'; d <= '9'; d++)
                    allowed[(int)d] = true;
            else if ((unsigned char)p[1] < 128)
                allowed[(int)p[1]] = true;
            p += 2;
            continue;
        }
        if (p + 2 < end && p[1] == '-') {
            for (int d = (unsigned char)c; d <= (unsigned char)p[2] && d < 128; d++)
                allowed[d] = true;
            p += 3;
            continue;
        }
        if ((unsigned char)c < 128)
            allowed[(int)c] = true;
        p++;
    }
    char pick[16];
    int n = 0;
    for (const char *a = alphabet; *a; a++)
        if (allowed[(int)*a] != neg)
            pick[n++] = *a;
    if (!n) {
        s->bad = true;
        return;
    }
    put(s, pick[rnd(s) % (unsigned)n]);
}

static const char *gen_alt(sampler *s, const char *p);

static void gen_atom(sampler *s, const char *p, const char *end)
{
    switch (*p) {
    case '(': {
        const char *q = p + 1;
        if (*q == '?') {
            if (q[1] == ':')
                q += 2;
            else if ((q[1] == '<' && q[2] != '=' && q[2] != '!') || q[1] == 'P') {
                q = strchr(q, '>');
                if (!q || q >= end) {
                    s->bad = true;
                    return;
                }
                q++;
            } else if (q[1] == '\'') {
                q = strchr(q + 2, '\'');
                if (!q || q >= end) {
                    s->bad = true;
                    return;
                }
                q++;
            } else {
                s->bad = true; /* lookaround, inline options, ... */
                return;
            }
        }
        if (++s->depth > 32) {
            s->bad = true;
            return;
        }
        gen_alt(s, q);
        s->depth--;
        return;
    }
    case '[':
        gen_class(s, p, end);
        return;
    case '\\':
        if (p[1] == 'd')
            put(s, (char)('0' + rnd(s) % 10));
        else if (p[1] && strchr("+*#.()\\-[]{}?|^$", p[1]))
            put(s, p[1]);
        else
            s->bad = true;
        return;
    case '.':
        put(s, (char)('0' + rnd(s) % 10));
        return;
    case '^':
    case '$':
        return;
    default:
        put(s, *p);
    }
}

static const char *gen_seq(sampler *s, const char *p)
{
    while (*p && *p != '|' && *p != ')' && !s->bad) {
        const char *e = atom_end(p);
        unsigned lo = 1, hi = 1;
        const char *q = e;
        if (*q == '?')
            lo = 0, hi = 1, q++;
        else if (*q == '*')
            lo = 0, hi = 4, q++;
        else if (*q == '+')
            lo = 1, hi = 5, q++;
        else if (*q == '{') {
            char *x;
            unsigned long a = strtoul(q + 1, &x, 10), b = a;
            if (*x == ',') {
                b = (x[1] == '}') ? a + 4 : strtoul(x + 1, &x, 10);
                if (*x == '}')
                    ;
                else
                    x = strchr(x, '}');
            }
            if (!x || *x != '}' || b < a || b > 64) {
                s->bad = true;
                return p;
            }
            lo = (unsigned)a, hi = (unsigned)b, q = x + 1;
        }
        if (q != e && (*q == '?' || *q == '+'))
            q++;
        unsigned reps = lo + (hi > lo ? rnd(s) % (hi - lo + 1) : 0);
        for (unsigned r = 0; r < reps && !s->bad; r++)
            gen_atom(s, p, e);
        p = q;
    }
    return p;
}

static const char *gen_alt(sampler *s, const char *p)
{
    const char *starts[64];
    int n = 0;
    starts[n++] = p;
    const char *q = p;
    while (*q && *q != ')') {
        if (*q == '|') {
            if (n < 64)
                starts[n++] = q + 1;
            q++;
            continue;
        }
        q = atom_end(q);
    }
    gen_seq(s, starts[rnd(s) % (unsigned)n]);
    return *q ? q + 1 : q;
}

/* Generates up to `want` numbers that `r` matches; returns how many. */
static size_t sample_rule(const cr_rule *r, char (*out)[CR_NUMBER_MAX + 1], size_t want,
                          uint32_t seed)
{
    size_t got = 0;
    sampler s = {0};
    s.rng = seed ? seed : 0x9e3779b9u;
    for (size_t attempt = 0; attempt < want * 4 && got < want; attempt++) {
        s.out = out[got];
        s.o = 0;
        s.cap = CR_NUMBER_MAX + 1;
        s.bad = false;
        s.depth = 0;
        gen_alt(&s, r->pattern);
        if (s.bad)
            return 0; /* the pattern uses something the sampler does not model */
        s.out[s.o] = 0;
        if (s.o && cr_re_exec(r->re, s.out, s.o, 0, 0, NULL) > 0)
            got++;
    }
    return got;
}

static void lint_shadowed(const cr_profile *p, cr_diag *d)
{
    enum { WANT = 48 };
    static __thread char samples[WANT][CR_NUMBER_MAX + 1];
    for (size_t j = 1; j < p->nrules; j++) {
        const cr_rule *rj = &p->rules[j];
        size_t n = sample_rule(rj, samples, WANT, (uint32_t)(j * 2654435761u));
        if (n < WANT / 3)
            continue;
        for (size_t i = 0; i < j; i++) {
            const cr_rule *ri = &p->rules[i];
            size_t k = 0;
            while (k < n && cr_re_exec(ri->re, samples[k], strlen(samples[k]), 0, 0, NULL) > 0)
                k++;
            if (k == n || strcmp(ri->pattern, rj->pattern) == 0) {
                char obj[600];
                snprintf(obj, sizeof obj, "rule '%s' of location profile '%s'", rj->name, p->name);
                cr_diag_add(d, CR_DIAG_WARNING, rj->loc, obj,
                            "never used: earlier rule '%s' (%s) matches every number it matches "
                            "(%zu sampled, e.g. %s)",
                            ri->name, ri->pattern, n, samples[0]);
                break;
            }
        }
    }
}

/* Who may take part (guide: team call and simultaneous ring need Enterprise Voice, for the
 * owner and for team-call members who are users) and a PBX-integrated user's line. */
static void lint_people(const cr_config *c, cr_diag *d)
{
    char obj[CR_URI_MAX + 16];
    for (size_t i = 0; i < c->nusers; i++) {
        const cr_user *u = &c->users[i];
        snprintf(obj, sizeof obj, "user '%s'", u->uri);
        if (!u->enterprise_voice && u->team_call.count)
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "not enabled for Enterprise Voice: its team call is skipped");
        if (!u->enterprise_voice && u->simultaneous_ring)
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "not enabled for Enterprise Voice: its simultaneous ring is skipped");
        if (u->pbx_integration && (!u->enterprise_voice || !u->line))
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "pbxIntegration needs Enterprise Voice and a line: no PBX fork");
        for (size_t k = 0; k < u->team_call.count; k++) {
            const cr_user *m = cr_config_user_find(c, u->team_call.names[k]);
            if (m && !m->enterprise_voice)
                cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                            "team-call member '%s' (%s:%d) is not enabled for Enterprise Voice: "
                            "it is skipped",
                            m->uri, m->loc.file ? m->loc.file : "", m->loc.line);
        }
    }
}

void cr_lint(const cr_config *c, cr_diag *d)
{
    if (c->ndomains == 0) {
        cr_srcloc loc = c->nprofiles ? c->profiles[0].loc
                        : c->nusers  ? c->users[0].loc
                        : c->nroutes ? c->routes[0].loc
                                     : (cr_srcloc){c->ninterned ? c->interned[0] : "", 0};
        cr_diag_add(d, CR_DIAG_WARNING, loc, "domains",
                    "no <domains>: no call addressed to a SIP URI of this deployment can route");
    }
    lint_people(c, d);
    char obj[300];
    for (size_t i = 0; i < c->nprofiles; i++)
        lint_shadowed(&c->profiles[i], d);
    if (!c->default_profile_name && c->nprofiles > 1)
        cr_diag_add(d, CR_DIAG_WARNING, c->profiles[0].loc, "locationProfiles",
                    "no default location profile named; '%s' (the first) is used",
                    c->profiles[0].name);
    if (!c->default_policy_name && c->npolicies > 1)
        cr_diag_add(d, CR_DIAG_WARNING, c->policies[0].loc, "voicePolicies",
                    "no default voice policy named; '%s' (the first) is used", c->policies[0].name);

    bool *in_policy = calloc(c->nusages + 1, sizeof *in_policy);
    bool *in_route = calloc(c->nusages + 1, sizeof *in_route);
    bool *gw_used = calloc(c->ngateways + 1, sizeof *gw_used);
    if (!in_policy || !in_route || !gw_used)
        goto out;
    for (size_t i = 0; i < c->npolicies; i++)
        for (size_t k = 0; k < c->policies[i].usages.count; k++)
            in_policy[c->policies[i].usages.idx[k]] = true;
    for (size_t i = 0; i < c->nroutes; i++) {
        const cr_route *r = &c->routes[i];
        bool reachable = false;
        for (size_t k = 0; k < r->usages.count; k++) {
            in_route[r->usages.idx[k]] = true;
            reachable |= in_policy[r->usages.idx[k]];
        }
        for (size_t k = 0; k < r->gateways.count; k++)
            gw_used[r->gateways.idx[k]] = true;
        if (!reachable)
            cr_diag_add(d, CR_DIAG_WARNING, r->loc,
                        (snprintf(obj, sizeof obj, "route '%s'", r->name), obj),
                        r->usages.count ? "unreachable: no voice policy has any of its phone usages"
                                        : "unreachable: it has no phone usage");
    }
    for (size_t u = 0; u < c->nusages; u++) {
        snprintf(obj, sizeof obj, "phone usage '%s'", c->usages[u].name);
        if (!in_policy[u] && !in_route[u])
            cr_diag_add(d, CR_DIAG_WARNING, c->usages[u].loc, obj,
                        "unused: no voice policy and no route has it");
        else if (in_policy[u] && !in_route[u])
            cr_diag_add(d, CR_DIAG_WARNING, c->usages[u].loc, obj,
                        "no route has it: it authorizes no call");
    }
    for (size_t g = 0; g < c->ngateways; g++)
        if (!gw_used[g]) {
            snprintf(obj, sizeof obj, "gateway '%s'", c->gateways[g].name);
            cr_diag_add(d, CR_DIAG_WARNING, c->gateways[g].loc, obj, "unused: no route has it");
        }
out:
    free(in_policy);
    free(in_route);
    free(gw_used);
}

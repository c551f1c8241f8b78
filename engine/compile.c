/*
 * Compiling a configuration: names made unique and resolved, patterns and translations
 * compiled, line URIs parsed, lookup indexes built. Errors name file, line and object; the
 * lint that follows (lint.c) only warns.
 */
#include "model.h"
#include "route_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OBJ(buf, kind, name) (snprintf(buf, sizeof buf, "%s '%s'", kind, name), buf)

void cr_lint(const cr_config *cfg, cr_diag *diag);

static void index_names(cr_diag *d, cr_index *ix, const char *kind, size_t n, bool fold,
                        const char *(*name_at)(const cr_config *, size_t),
                        cr_srcloc (*loc_at)(const cr_config *, size_t), const cr_config *cfg)
{
    char obj[300];
    if (cr_index_init(ix, n, fold) != CR_OK) {
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = name_at(cfg, i);
        cr_srcloc loc = loc_at(cfg, i);
        if (!name || !*name) {
            cr_diag_add(d, CR_DIAG_ERROR, loc, kind, "has no name");
            continue;
        }
        size_t prev = cr_index_put(ix, name, i);
        if (prev != SIZE_MAX && !fold) {
            cr_srcloc ploc = loc_at(cfg, prev);
            cr_diag_add(d, CR_DIAG_ERROR, loc, OBJ(obj, kind, name),
                        "duplicate name (first defined at %s:%d)", ploc.file ? ploc.file : "",
                        ploc.line);
        }
    }
}

#define ACCESSORS(kind, arr)                                                                \
    static const char *kind##_name(const cr_config *c, size_t i)                            \
    {                                                                                       \
        return c->arr[i].name;                                                              \
    }                                                                                       \
    static cr_srcloc kind##_loc(const cr_config *c, size_t i)                               \
    {                                                                                       \
        return c->arr[i].loc;                                                               \
    }
ACCESSORS(profile, profiles)
ACCESSORS(usage, usages)
ACCESSORS(policy, policies)
ACCESSORS(gateway, gateways)
ACCESSORS(route, routes)

/* Resolves every name of l through ix; unknown names are errors on `obj`. */
static void resolve(cr_diag *d, const cr_index *ix, cr_namelist *l, const char *obj,
                    const char *kind)
{
    for (size_t i = 0; i < l->count; i++) {
        size_t v = cr_index_get(ix, l->names[i], strlen(l->names[i]));
        if (v == SIZE_MAX)
            cr_diag_add(d, CR_DIAG_ERROR, l->locs[i], obj, "unknown %s '%s'", kind,
                        l->names[i]);
        l->idx[i] = v;
    }
}

static void *compile_pattern(cr_diag *d, const char *pattern, cr_srcloc loc, const char *obj)
{
    char msg[256];
    size_t off = 0;
    if (!pattern) {
        cr_diag_add(d, CR_DIAG_ERROR, loc, obj, "has no pattern");
        return NULL;
    }
    void *re = cr_re_compile(pattern, msg, sizeof msg, &off);
    if (!re)
        cr_diag_add(d, CR_DIAG_ERROR, loc, obj, "pattern '%s' is invalid at offset %zu: %s",
                    pattern, off, msg);
    return re;
}

static bool access_prefix_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 4)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789#*", s[i]))
            return false;
    return true;
}

/* Parses a line URI ("tel:+14255550100;ext=50100", "tel:5550100") into number and ext. */
static bool parse_line(cr_user *u)
{
    cr_number num;
    if (strncasecmp(u->line, "tel:", 4) != 0)
        return false;
    if (cr_number_parse(u->line, &num) != CR_OK || !num.dialable)
        return false;
    u->line_number = strdup(num.digits);
    u->line_ext = num.ext[0] ? strdup(num.ext) : NULL;
    return u->line_number != NULL;
}

static bool address_ok(const char *a)
{
    if (!a || strncasecmp(a, "sip:", 4) != 0 || !a[4])
        return false;
    for (const char *p = a; *p; p++)
        if (*p == ' ' || *p == '<' || *p == '>' || *p == '"')
            return false;
    return true;
}

static void compile_profiles(cr_config *c, cr_diag *d)
{
    char obj[300], msg[512];
    for (size_t i = 0; i < c->nprofiles; i++) {
        cr_profile *p = &c->profiles[i];
        /* phone-context lookups are case-insensitive (profile names are FQDNs) */
        cr_index_put(&c->profile_fold_ix, p->name, i);
        if (p->external_access_prefix && !access_prefix_ok(p->external_access_prefix))
            cr_diag_add(d, CR_DIAG_ERROR, p->loc, OBJ(obj, "location profile", p->name),
                        "externalAccessPrefix '%s' must be 1 to 4 of 0-9, # and *",
                        p->external_access_prefix);
        cr_index rules;
        cr_index_init(&rules, p->nrules, false);
        for (size_t j = 0; j < p->nrules; j++) {
            cr_rule *r = &p->rules[j];
            char robj[600];
            snprintf(robj, sizeof robj, "rule '%s' of location profile '%s'", r->name, p->name);
            if (!*r->name)
                cr_diag_add(d, CR_DIAG_ERROR, r->loc, robj, "has no name");
            size_t prev = cr_index_put(&rules, r->name, j);
            if (prev != SIZE_MAX && *r->name)
                cr_diag_add(d, CR_DIAG_ERROR, r->loc, robj,
                            "duplicate name (first defined at %s:%d)", p->rules[prev].loc.file,
                            p->rules[prev].loc.line);
            r->re = compile_pattern(d, r->pattern, r->loc, robj);
            if (!r->re)
                continue;
            if (!r->translation) {
                cr_diag_add(d, CR_DIAG_ERROR, r->loc, robj, "has no translation");
                continue;
            }
            r->xlat = cr_xlat_compile(r->translation, r->re, msg, sizeof msg);
            if (!r->xlat)
                cr_diag_add(d, CR_DIAG_ERROR, r->loc, robj, "%s", msg);
        }
        cr_index_free(&rules);
    }
}

static void compile_routing(cr_config *c, cr_diag *d)
{
    char obj[300];
    for (size_t i = 0; i < c->npolicies; i++) {
        cr_policy *p = &c->policies[i];
        resolve(d, &c->usage_ix, &p->usages, OBJ(obj, "voice policy", p->name), "phone usage");
    }
    for (size_t i = 0; i < c->ngateways; i++) {
        cr_gateway *g = &c->gateways[i];
        OBJ(obj, "gateway", g->name);
        if (!address_ok(g->address))
            cr_diag_add(d, CR_DIAG_ERROR, g->loc, obj,
                        "address '%s' is not a SIP URI (sip:host[:port])",
                        g->address ? g->address : "");
        if (g->profile) {
            size_t v = cr_index_get(&c->profile_ix, g->profile, strlen(g->profile));
            if (v == SIZE_MAX)
                cr_diag_add(d, CR_DIAG_ERROR, g->loc, obj, "unknown location profile '%s'",
                            g->profile);
            g->profile_idx = v == SIZE_MAX ? -1 : (long)v;
        }
        if (g->ports < 0)
            cr_diag_add(d, CR_DIAG_ERROR, g->loc, obj, "ports must not be negative");
    }
    for (size_t i = 0; i < c->nroutes; i++) {
        cr_route *r = &c->routes[i];
        OBJ(obj, "route", r->name);
        r->re = compile_pattern(d, r->pattern, r->loc, obj);
        resolve(d, &c->usage_ix, &r->usages, obj, "phone usage");
        resolve(d, &c->gateway_ix, &r->gateways, obj, "gateway");
        if (r->gateways.count == 0)
            cr_diag_add(d, CR_DIAG_ERROR, r->loc, obj, "has no gateway");
    }
}

static void compile_users(cr_config *c, cr_diag *d)
{
    char obj[600], key[CR_URI_MAX];
    cr_index_init(&c->user_uri_ix, c->nusers, false);
    cr_index_init(&c->user_line_ix, c->nusers * 2, false);
    for (size_t i = 0; i < c->nusers; i++) {
        cr_user *u = &c->users[i];
        OBJ(obj, "user", u->uri);
        size_t kn = cr_uri_key(u->uri, key, sizeof key);
        if (!kn || !strchr(key, '@')) {
            cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "uri must be a SIP URI (sip:user@domain)");
        } else {
            size_t prev = cr_index_put(&c->user_uri_ix, key, i);
            if (prev != SIZE_MAX)
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "duplicate user (first at %s:%d)",
                            c->users[prev].loc.file, c->users[prev].loc.line);
        }
        if (u->line) {
            if (!parse_line(u)) {
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj,
                            "line '%s' is not a tel: URI with a phone number", u->line);
            } else {
                char lk[CR_NUMBER_MAX + 40];
                if (u->line_ext)
                    snprintf(lk, sizeof lk, "%s;ext=%s", u->line_number, u->line_ext);
                else
                    snprintf(lk, sizeof lk, "%s", u->line_number);
                size_t prev = cr_index_put(&c->user_line_ix, lk, i);
                if (prev != SIZE_MAX)
                    cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj,
                                "line '%s' is already the line of user '%s' (%s:%d)", u->line,
                                c->users[prev].uri, c->users[prev].loc.file,
                                c->users[prev].loc.line);
                /* the bare number also finds the first user with that number */
                if (u->line_ext)
                    cr_index_put(&c->user_line_ix, u->line_number, i);
            }
        }
        if (u->policy) {
            size_t v = cr_index_get(&c->policy_ix, u->policy, strlen(u->policy));
            if (v == SIZE_MAX)
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "unknown voice policy '%s'",
                            u->policy);
            u->policy_idx = v == SIZE_MAX ? -1 : (long)v;
        }
        if (u->profile) {
            size_t v = cr_index_get(&c->profile_ix, u->profile, strlen(u->profile));
            if (v == SIZE_MAX)
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "unknown location profile '%s'",
                            u->profile);
            u->profile_idx = v == SIZE_MAX ? -1 : (long)v;
        }
        if (u->forwarding.no_answer_after < 0 || u->team_call_delay < 0)
            cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "delays must not be negative");
    }
}

static void compile_defaults(cr_config *c, cr_diag *d)
{
    if (c->default_profile_name) {
        size_t v = cr_index_get(&c->profile_ix, c->default_profile_name,
                                strlen(c->default_profile_name));
        if (v == SIZE_MAX)
            cr_diag_add(d, CR_DIAG_ERROR, c->default_profile_loc, "locationProfiles",
                        "default location profile '%s' is not defined",
                        c->default_profile_name);
        else
            c->default_profile = &c->profiles[v];
    } else if (c->nprofiles) {
        c->default_profile = &c->profiles[0];
    }
    if (c->default_policy_name) {
        size_t v = cr_index_get(&c->policy_ix, c->default_policy_name,
                                strlen(c->default_policy_name));
        if (v == SIZE_MAX)
            cr_diag_add(d, CR_DIAG_ERROR, c->default_policy_loc, "voicePolicies",
                        "default voice policy '%s' is not defined", c->default_policy_name);
        else
            c->default_policy = &c->policies[v];
    } else if (c->npolicies) {
        c->default_policy = &c->policies[0];
    }
}

/* usage → routes carrying it, in configuration order */
static int build_usage_routes(cr_config *c)
{
    c->usage_routes = calloc(c->nusages ? c->nusages : 1, sizeof *c->usage_routes);
    if (!c->usage_routes)
        return CR_ENOMEM;
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < c->nroutes; i++) {
            const cr_namelist *l = &c->routes[i].usages;
            for (size_t k = 0; k < l->count; k++) {
                bool dup = false;
                for (size_t m = 0; m < k; m++)
                    dup |= l->idx[m] == l->idx[k];
                if (dup || l->idx[k] == SIZE_MAX)
                    continue;
                cr_usage_routes *ur = &c->usage_routes[l->idx[k]];
                if (pass == 1)
                    ur->routes[ur->count] = i;
                ur->count++;
            }
        }
        if (pass == 0) {
            for (size_t u = 0; u < c->nusages; u++) {
                cr_usage_routes *ur = &c->usage_routes[u];
                ur->routes = calloc(ur->count ? ur->count : 1, sizeof *ur->routes);
                if (!ur->routes)
                    return CR_ENOMEM;
                ur->count = 0;
            }
        }
    }
    return CR_OK;
}

int cr_config_compile(cr_config *c, cr_diag *d)
{
    cr_diag local;
    if (!d) {
        cr_diag_init(&local);
        d = &local;
    }
    size_t before = d->errors;
    if (c->compiled)
        return CR_ESTATE;
    c->compiled = true;
    index_names(d, &c->profile_ix, "location profile", c->nprofiles, false, profile_name,
                profile_loc, c);
    cr_index_init(&c->profile_fold_ix, c->nprofiles, true);
    index_names(d, &c->usage_ix, "phone usage", c->nusages, false, usage_name, usage_loc, c);
    index_names(d, &c->policy_ix, "voice policy", c->npolicies, false, policy_name, policy_loc,
                c);
    index_names(d, &c->gateway_ix, "gateway", c->ngateways, false, gateway_name, gateway_loc,
                c);
    index_names(d, &c->route_ix, "route", c->nroutes, false, route_name, route_loc, c);
    compile_defaults(c, d);
    compile_profiles(c, d);
    compile_routing(c, d);
    compile_users(c, d);
    if (d->errors == before) {
        if (build_usage_routes(c) != CR_OK || cr_route_index_build(c) != CR_OK)
            cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
    }
    if (d->errors == before)
        cr_lint(c, d);
    int rc = d->errors == before ? CR_OK : CR_ECONFIG;
    if (d == &local)
        cr_diag_free(&local);
    return rc;
}

void cr_compiled_free(cr_config *c)
{
    for (size_t i = 0; i < c->nprofiles; i++)
        for (size_t j = 0; j < c->profiles[i].nrules; j++) {
            cr_re_free(c->profiles[i].rules[j].re);
            cr_xlat_free(c->profiles[i].rules[j].xlat);
        }
    for (size_t i = 0; i < c->nroutes; i++)
        cr_re_free(c->routes[i].re);
    cr_index_free(&c->profile_ix);
    cr_index_free(&c->profile_fold_ix);
    cr_index_free(&c->usage_ix);
    cr_index_free(&c->policy_ix);
    cr_index_free(&c->gateway_ix);
    cr_index_free(&c->route_ix);
    cr_index_free(&c->user_uri_ix);
    cr_index_free(&c->user_line_ix);
    if (c->usage_routes)
        for (size_t u = 0; u < c->nusages; u++)
            free(c->usage_routes[u].routes);
    free(c->usage_routes);
    cr_route_index_free(c->route_index);
}

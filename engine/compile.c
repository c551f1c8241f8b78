/*
 * Compiling a configuration: names made unique and resolved, patterns and translations
 * compiled, line URIs parsed, lookup indexes built. Errors name file, line and object; the
 * lint that follows (lint.c) only warns.
 */
#include "model.h"
#include "route_index.h"

#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OBJ(buf, kind, name) (snprintf(buf, sizeof buf, "%s '%s'", kind, name), buf)

/* Keys of the name indexes are the objects' own names (cr_index_eq). */
#define NAME_EQ(kind, arr)                                                                         \
    static bool kind##_eq(const void *ud, uint32_t v, const char *key, size_t n)                   \
    {                                                                                              \
        const char *name = ((const cr_config *)ud)->arr[v].name;                                   \
        return strncmp(name, key, n) == 0 && name[n] == 0;                                         \
    }
NAME_EQ(profile, profiles)
NAME_EQ(usage, usages)
NAME_EQ(policy, policies)
NAME_EQ(gateway, gateways)
NAME_EQ(route, routes)

static bool profile_fold_eq(const void *ud, uint32_t v, const char *key, size_t n)
{
    const char *name = ((const cr_config *)ud)->profiles[v].name;
    return strncasecmp(name, key, n) == 0 && name[n] == 0;
}

static void index_names(cr_diag *d, cr_index *ix, const char *kind, size_t n, cr_index_eq eq,
                        const char *(*name_at)(const cr_config *, size_t),
                        cr_srcloc (*loc_at)(const cr_config *, size_t), const cr_config *cfg)
{
    char obj[300];
    if (ce_index_init(ix, n, false, eq, cfg) != CR_OK) {
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
        uint32_t prev = ce_index_put(ix, name, strlen(name), (uint32_t)i);
        if (prev != CR_INDEX_NONE) {
            cr_srcloc ploc = loc_at(cfg, prev);
            cr_diag_add(d, CR_DIAG_ERROR, loc, OBJ(obj, kind, name),
                        "duplicate name (first defined at %s:%d)", ploc.file ? ploc.file : "",
                        ploc.line);
        }
    }
}

#define ACCESSORS(kind, arr)                                                                       \
    static const char *kind##_name(const cr_config *c, size_t i)                                   \
    {                                                                                              \
        return c->arr[i].name;                                                                     \
    }                                                                                              \
    static cr_srcloc kind##_loc(const cr_config *c, size_t i)                                      \
    {                                                                                              \
        return c->arr[i].loc;                                                                      \
    }
ACCESSORS(profile, profiles)
ACCESSORS(usage, usages)
ACCESSORS(policy, policies)
ACCESSORS(gateway, gateways)
ACCESSORS(route, routes)

/* Resolves every name of l through ix into indexes kept in the arena; unknown names are
 * errors on the object `okind` 'oname' (named only then: formatting the name of each of
 * 400,000 routes cost 3 % of a compile). A list resolving like `last` shares its indexes
 * (routes of a plan mostly repeat their usages and often their gateways). */
/* The index of each name already looked up, by the name's address: list names are interned
 * (cr_namelist_add), so a dial plan's 400,000 routes look each gateway name up once, not once a
 * route. An address seen again always holds the same text: the names live until compile ends. */
#define NAME_CACHE 1024
typedef struct name_cache {
    const char *key[NAME_CACHE];
    uint32_t v[NAME_CACHE];
} name_cache;

static uint32_t lookup(const cr_index *ix, name_cache *nc, const char *name)
{
    size_t slot = (size_t)(((uintptr_t)name * 0x9E3779B97F4A7C15u) >> 54) % NAME_CACHE;
    if (nc && nc->key[slot] == name)
        return nc->v[slot];
    uint32_t v = ce_index_get(ix, name, strlen(name));
    if (nc && v != CR_INDEX_NONE) {
        nc->key[slot] = name;
        nc->v[slot] = v;
    }
    return v;
}

/* A name a list gives twice (a route's gateway, a route's or a voice policy's phone usage): the
 * repeat is dropped with a warning, so every gateway of a route gets an equal share of its
 * load and is tried once (a repeated gateway took two shares of the route's calls). Cold:
 * compile only; lists are short, so the scan is quadratic only in a list's length. */
static void drop_repeats(cr_diag *d, cr_namelist *l, uint32_t *v, const char *okind,
                         const char *oname, const char *kind)
{
    char obj[300];
    cr_srcloc *locs = ce_namelist_locs(l);
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++) {
        bool seen = false;
        for (size_t k = 0; v[i] != CR_INDEX_NONE && k < n && !seen; k++)
            seen = v[k] == v[i];
        if (seen) {
            cr_diag_add(d, CR_DIAG_WARNING, locs[i], OBJ(obj, okind, oname),
                        "%s '%s' is listed more than once: the repeat is ignored", kind,
                        l->names[i]);
            continue;
        }
        v[n] = v[i];
        l->names[n] = l->names[i];
        locs[n] = locs[i];
        n++;
    }
    l->count = (uint32_t)n;
}

static void resolve(cr_config *c, cr_diag *d, const cr_index *ix, name_cache *nc, cr_namelist *l,
                    const cr_namelist *last, const char *okind, const char *oname, const char *kind)
{
    char obj[300];
    uint32_t buf[64], *v = l->count <= 64 ? buf : ce_arena_alloc(c, l->count * sizeof *v);
    if (!l->count)
        return;
    if (!v) {
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < l->count; i++) {
        v[i] = lookup(ix, nc, l->names[i]);
        if (v[i] == CR_INDEX_NONE)
            cr_diag_add(d, CR_DIAG_ERROR, ce_namelist_locs(l)[i], OBJ(obj, okind, oname),
                        "unknown %s '%s'", kind, l->names[i]);
    }
    drop_repeats(d, l, v, okind, oname, kind);
    if (last && last->idx && last->count == l->count &&
        memcmp(last->idx, v, l->count * sizeof *v) == 0) {
        l->idx = last->idx;
        return;
    }
    if (v == buf && !(v = ce_arena_alloc(c, l->count * sizeof *v))) {
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
        return;
    }
    if (v != buf && l->count <= 64)
        memcpy(v, buf, l->count * sizeof *v);
    l->idx = v;
}

/* How a message names an object ("rule 'A' of location profile 'B'"), formatted only when a
 * message is written: a plan read from an image has no errors, and formatting the name of each
 * of its rules and gateways was an eighth of reading it. */
typedef struct objname {
    const char *kind, *name, *of_kind, *of_name; /* of_kind NULL: no owner */
    char buf[600];
} objname;

static const char *obj_of(objname *o)
{
    if (!o->buf[0] && o->of_kind)
        snprintf(o->buf, sizeof o->buf, "%s '%s' of %s '%s'", o->kind, o->name, o->of_kind,
                 o->of_name);
    else if (!o->buf[0])
        snprintf(o->buf, sizeof o->buf, "%s '%s'", o->kind, o->name);
    return o->buf;
}

static void *compile_pattern(cr_diag *d, const char *pattern, cr_srcloc loc, objname *on)
{
    char msg[256];
    size_t off = 0;
    if (!pattern) {
        cr_diag_add(d, CR_DIAG_ERROR, loc, obj_of(on), "has no pattern");
        return NULL;
    }
    size_t sub = ce_re_class_subtraction(pattern);
    if (sub) {
        cr_diag_add(d, CR_DIAG_ERROR, loc, obj_of(on),
                    "pattern '%s' uses .NET character-class subtraction at offset %zu, which "
                    "PCRE2 reads differently: write [2-9-[5]] as (?![5])[2-9]",
                    pattern, sub - 1);
        return NULL;
    }
    void *re = ce_re_compile(pattern, msg, sizeof msg, &off);
    if (!re)
        cr_diag_add(d, CR_DIAG_ERROR, loc, obj_of(on), "pattern '%s' is invalid at offset %zu: %s",
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
static bool parse_line(cr_config *c, cr_user *u)
{
    cr_number num;
    if (strncasecmp(u->line, "tel:", 4) != 0)
        return false;
    if (cr_number_parse(u->line, &num) != CR_OK || !num.dialable)
        return false;
    /* "tel:+14255550100" holds the number as it is: no copy */
    if (strcmp(u->line + 4, num.digits) == 0)
        u->line_number = u->line + 4;
    else
        u->line_number = cr_config_strdup(c, num.digits);
    u->line_ext = num.ext[0] ? cr_config_strdup(c, num.ext) : NULL;
    return u->line_number != NULL && (!num.ext[0] || u->line_ext);
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

static bool rule_eq(const void *ud, uint32_t v, const char *key, size_t n)
{
    const char *name = ((const cr_profile *)ud)->rules[v].name;
    return strncmp(name, key, n) == 0 && name[n] == 0;
}

/* The first character of a translation's literal text (outside $ substitutions) no Request-URI
 * can carry in a number, plus one; 0 when none: white space, control characters and '@' (which
 * would end the Request-URI's user part). A space in "+1 425$1" reached the gateway as
 * "sip:+1 4251@...". */
static size_t translation_bad_char(const char *t)
{
    for (size_t i = 0; t[i]; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch == '$' && t[i + 1]) {
            i++; /* $$, $1, ${name}: the character after '$' is not literal text */
            if (t[i] == '{')
                while (t[i + 1] && t[i] != '}')
                    i++;
            continue;
        }
        if (ch <= ' ' || ch == 0x7f || ch == '@')
            return i + 1;
    }
    return 0;
}

static const char *bad_char_name(char ch, char buf[32])
{
    if (ch == ' ')
        return "a space";
    if ((unsigned char)ch < ' ' || ch == 0x7f) {
        snprintf(buf, 32, "control character 0x%02x", (unsigned char)ch);
        return buf;
    }
    snprintf(buf, 32, "'%c'", ch);
    return buf;
}

/* How compile_profiles compiles each rule's translation. */
typedef enum {
    XL_NOW,   /* the XML: pattern and translation compiled, errors said */
    XL_SHAPE, /* a plan image, whose patterns its writer compiled: a rule whose translation is
               * decided without PCRE2 gets its code on first use (ce_rule_re): PCRE2's compile
               * was 40 % of a restart's read of an image */
    XL_USE,   /* a trusted read of an image (its records checked whole by this very build
               * before): each translation compiled on first use (ce_xlat_lazy), the pattern's
               * shape read then too: reading 1,000 shapes was two thirds of that read */
} xlat_when;

static void compile_profiles(cr_config *c, cr_diag *d, xlat_when when)
{
    bool lazy = when != XL_NOW;
    char obj[300], msg[512];
    for (size_t i = 0; i < c->nprofiles; i++) {
        cr_profile *p = &c->profiles[i];
        /* phone-context lookups are case-insensitive (profile names are FQDNs) */
        ce_index_put(&c->profile_fold_ix, p->name, strlen(p->name), (uint32_t)i);
        if (p->external_access_prefix && !access_prefix_ok(p->external_access_prefix))
            cr_diag_add(d, CR_DIAG_ERROR, p->loc, OBJ(obj, "location profile", p->name),
                        "externalAccessPrefix '%s' must be 1 to 4 of 0-9, # and *",
                        p->external_access_prefix);
        cr_index rules;
        ce_index_init(&rules, p->nrules, false, rule_eq, p);
        for (size_t j = 0; j < p->nrules; j++) {
            cr_rule *r = &p->rules[j];
            objname on = {"rule", r->name, "location profile", p->name, ""};
            if (!*r->name)
                cr_diag_add(d, CR_DIAG_ERROR, r->loc, obj_of(&on), "has no name");
            uint32_t prev = ce_index_put(&rules, r->name, strlen(r->name), (uint32_t)j);
            if (prev != CR_INDEX_NONE && *r->name)
                cr_diag_add(d, CR_DIAG_ERROR, r->loc, obj_of(&on),
                            "duplicate name (first defined at %s:%d)", p->rules[prev].loc.file,
                            p->rules[prev].loc.line);
            if (when == XL_USE && r->pattern && r->translation) {
                if (!(r->xlat = ce_xlat_lazy(r)))
                    cr_diag_add(d, CR_DIAG_ERROR, r->loc, obj_of(&on), "out of memory");
                continue;
            }
            /* the translation from the pattern's shape (its code on first use), or compiled */
            bool shaped =
                lazy && r->pattern && r->translation &&
                ((r->xlat = ce_xlat_compile_shape(r->translation, r->pattern, msg, sizeof msg)) ||
                 msg[0]);
            if (!shaped) {
                r->re = compile_pattern(d, r->pattern, r->loc, &on);
                if (!r->re)
                    continue;
                if (!r->translation) {
                    cr_diag_add(d, CR_DIAG_ERROR, r->loc, obj_of(&on), "has no translation");
                    continue;
                }
                r->xlat = ce_xlat_compile(r->translation, r->pattern, r->re, msg, sizeof msg);
            }
            size_t bad = r->translation && !lazy ? translation_bad_char(r->translation) : 0;
            char cb[32];
            if (bad)
                cr_diag_add(d, CR_DIAG_ERROR, r->loc, obj_of(&on),
                            "translation '%s' has %s at offset %zu: a normalized number cannot "
                            "hold it (it would be sent in the Request-URI)",
                            r->translation, bad_char_name(r->translation[bad - 1], cb), bad - 1);
            if (!r->xlat)
                cr_diag_add(d, CR_DIAG_ERROR, r->loc, obj_of(&on), "%s", msg);
            else if (msg[0]) /* a group the pattern lacks: literal text, as in .NET */
                cr_diag_add(d, CR_DIAG_WARNING, r->loc, obj_of(&on), "%s", msg);
        }
        ce_index_free(&rules);
    }
}

/* Gateways: address, location profile and the host their Request-URIs end with. */
static void compile_gateways(cr_config *c, cr_diag *d)
{
    for (size_t i = 0; i < c->ngateways; i++) {
        cr_gateway *g = &c->gateways[i];
        objname on = {"gateway", g->name, NULL, NULL, ""};
        if (!address_ok(g->address))
            cr_diag_add(d, CR_DIAG_ERROR, g->loc, obj_of(&on),
                        "address '%s' is not a SIP URI (sip:host[:port])",
                        g->address ? g->address : "");
        if (g->profile) {
            uint32_t v = ce_index_get(&c->profile_ix, g->profile, strlen(g->profile));
            if (v == CR_INDEX_NONE)
                cr_diag_add(d, CR_DIAG_ERROR, g->loc, obj_of(&on), "unknown location profile '%s'",
                            g->profile);
            g->profile_idx = v == CR_INDEX_NONE ? -1 : (long)v;
        }
        if (g->ports < 0)
            cr_diag_add(d, CR_DIAG_ERROR, g->loc, obj_of(&on), "ports must not be negative");
    }
    c->gateway_hosts =
        ce_arena_alloc(c, (c->ngateways ? c->ngateways : 1) * sizeof *c->gateway_hosts);
    if (!c->gateway_hosts)
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
    c->gateway_host_max = 0;
    for (size_t i = 0; c->gateway_hosts && i < c->ngateways; i++) {
        const char *a = c->gateways[i].address, *h = a && strlen(a) >= 4 ? a + 4 : "";
        const char *at = strchr(h, '@');
        if (at)
            h = at + 1;
        size_t hl = strlen(h);
        c->gateway_hosts[i] = (cr_gateway_host){h, hl > UINT32_MAX ? UINT32_MAX : (uint32_t)hl,
                                                c->gateways[i].remove_plus};
        if (c->gateway_hosts[i].len > c->gateway_host_max)
            c->gateway_host_max = c->gateway_hosts[i].len;
    }
}

static void compile_routing(cr_config *c, cr_diag *d)
{
    char obj[300];
    for (size_t i = 0; i < c->npolicies; i++) {
        cr_policy *p = &c->policies[i];
        resolve(c, d, &c->usage_ix, NULL, &p->usages, NULL, "voice policy", p->name, "phone usage");
    }
    compile_gateways(c, d);
    name_cache *nc = calloc(2, sizeof *nc); /* usages, gateways; none: every name looked up */
    for (size_t i = 0; i < c->nroutes; i++) {
        cr_route *r = &c->routes[i];
        /* a pattern the index decides exactly is compiled on first use only (ce_route_re):
         * PCRE2 code is ~200 bytes and a few microseconds a pattern */
        int ex = r->pattern ? ce_route_analysis_add(c->analysis, c, i) : 0;
        if (ex < 0)
            cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
        if (ex <= 0)
            r->re = compile_pattern(d, r->pattern, r->loc,
                                    &(objname){"route", r->name, NULL, NULL, ""});
        resolve(c, d, &c->usage_ix, nc ? &nc[0] : NULL, &r->usages,
                i ? &c->routes[i - 1].usages : NULL, "route", r->name, "phone usage");
        resolve(c, d, &c->gateway_ix, nc ? &nc[1] : NULL, &r->gateways,
                i ? &c->routes[i - 1].gateways : NULL, "route", r->name, "gateway");
        if (r->gateways.count == 0)
            cr_diag_add(d, CR_DIAG_ERROR, r->loc, OBJ(obj, "route", r->name), "has no gateway");
    }
    free(nc);
}

/* User keys are not stored in the line index: it compares with the line number and extension
 * (flagged for the bare number of a line with an extension). The URI index is the caller table
 * (users.c). */
static bool user_line_eq(const void *ud, uint32_t v, const char *key, size_t n)
{
    const cr_config *c = ud;
    uint32_t i = v & CR_USER_IX_MASK;
    const cr_key_cell *cell = c->user_keys ? &c->user_keys[i].line : NULL;
    size_t nl;
    bool ext;
    const cr_user *u = NULL; /* read (and filled) only when the cell cannot answer */
    if (cell && cell->len != CR_KEY_LONG) {
        /* a match names the callee by its URI key (cr_route_decide's reason): on this line */
        nl = cell->len;
        if (nl > n || memcmp(cell->s, key, nl) != 0)
            return false;
        ext = cell->flags & CR_KEY_EXT;
    } else {
        u = ce_user(c, i);
        nl = strlen(u->line_number);
        if (nl > n || memcmp(u->line_number, key, nl) != 0)
            return false;
        ext = u->line_ext != NULL;
    }
    if ((v & CR_USER_IX_FLAG) || !ext)
        return nl == n;
    const char *e = (u ? u : ce_user(c, i))->line_ext;
    size_t el = strlen(e);
    return n == nl + 5 + el && memcmp(key + nl, ";ext=", 5) == 0 &&
           memcmp(key + nl + 5, e, el) == 0;
}

/* The location profile at least half of the users have, or NULL (cr_route_decide normalizes
 * with it while it looks the caller up). Users of a directory are not counted: with no user
 * in the configuration, the default profile. */
static const cr_profile *likely_profile(const cr_config *c)
{
    if (!c->nusers)
        return c->default_profile;
    size_t *count = calloc(c->nprofiles + 1, sizeof *count), best = c->nprofiles;
    if (!count)
        return NULL;
    for (size_t i = 0; i < c->nusers; i++) {
        long p = c->users[i].profile_idx;
        count[p >= 0 && (size_t)p < c->nprofiles ? (size_t)p : c->nprofiles]++;
    }
    for (size_t p = 0; p < c->nprofiles; p++)
        if (count[p] > count[best])
            best = p;
    const cr_profile *prof = best == c->nprofiles ? c->default_profile : &c->profiles[best];
    if (count[best] * 2 < c->nusers)
        prof = NULL;
    free(count);
    return prof;
}

/* The voice policy at least half of the users get (their own, else the default: as
 * ce_user_policy), or NULL (cr_route_decide walks its merged trie while it looks the caller
 * up). Users of a directory are not counted. */
static const cr_policy *likely_policy(const cr_config *c)
{
    if (!c->nusers || !c->npolicies)
        return NULL;
    size_t *count = calloc(c->npolicies, sizeof *count), best = 0;
    if (!count)
        return NULL;
    for (size_t i = 0; i < c->nusers; i++) {
        const cr_policy *p = ce_user_policy(c, &c->users[i]);
        if (p)
            count[p - c->policies]++;
    }
    for (size_t p = 1; p < c->npolicies; p++)
        if (count[p] > count[best])
            best = p;
    const cr_policy *pol = count[best] * 2 >= c->nusers ? &c->policies[best] : NULL;
    free(count);
    return pol;
}

static void compile_users(cr_config *c, cr_diag *d)
{
    char obj[600], key[CR_URI_MAX];
    size_t lines = 0;
    for (size_t i = 0; i < c->nusers; i++) /* a line with an extension has two keys */
        lines += c->users[i].line ? 1 + (strchr(c->users[i].line, ';') != NULL) : 0;
    /* cells on cache-line boundaries: a key is one line */
    size_t cells = (c->nusers * sizeof(cr_user_keys) + 63) / 64 * 64;
    c->user_keys = cr_table_alloc(cells);
    c->user_keys_bytes = cells;
    if (!c->user_keys || ce_user_table_init(&c->user_uri_tab, c->nusers) != CR_OK ||
        ce_line_table_init(&c->user_line_ix, lines, user_line_eq, c) != CR_OK) {
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < c->nusers; i++) /* no key: compared with the user's strings */
        c->user_keys[i].uri = c->user_keys[i].line = (cr_key_cell){CR_KEY_LONG, 0, {0}};
    for (size_t i = 0; i < c->nusers; i++) {
        cr_user *u = &c->users[i];
        OBJ(obj, "user", u->uri);
        size_t kn = cr_uri_key(u->uri, key, sizeof key);
        if (!kn || !strchr(key, '@')) {
            cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "uri must be a SIP URI (sip:user@domain)");
        } else {
            bool same = strcmp(key, u->uri) == 0;
            uint32_t v = (uint32_t)i | (same ? 0 : CR_USER_IX_FLAG);
            ce_key_cell_set(&c->user_keys[i].uri, key, kn, same ? CR_KEY_SAME : 0);
            uint32_t prev = ce_user_table_put(c, key, kn, v);
            if (prev != CR_INDEX_NONE) {
                prev &= CR_USER_IX_MASK;
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "duplicate user (first at %s:%d)",
                            c->users[prev].loc.file, c->users[prev].loc.line);
            }
        }
        if (u->line) {
            if (!parse_line(c, u)) {
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj,
                            "line '%s' is not a tel: URI with a phone number", u->line);
            } else if (!cr_line_ext_ok(u->line)) {
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj,
                            "line '%s': ;ext= must be followed by digits", u->line);
            } else {
                ce_key_cell_set(&c->user_keys[i].line, u->line_number, strlen(u->line_number),
                                u->line_ext ? CR_KEY_EXT : 0);
                char lk[CR_NUMBER_MAX + 40];
                int kl;
                if (u->line_ext)
                    kl = snprintf(lk, sizeof lk, "%s;ext=%s", u->line_number, u->line_ext);
                else
                    kl = snprintf(lk, sizeof lk, "%s", u->line_number);
                if (kl < 0 || (size_t)kl >= sizeof lk)
                    kl = 0;
                uint32_t prev = ce_line_table_put(&c->user_line_ix, lk, (size_t)kl, (uint32_t)i);
                if (prev != CR_INDEX_NONE) {
                    prev &= CR_USER_IX_MASK;
                    cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj,
                                "line '%s' is already the line of user '%s' (%s:%d)", u->line,
                                c->users[prev].uri, c->users[prev].loc.file,
                                c->users[prev].loc.line);
                }
                /* the bare number also finds the first user with that number */
                if (u->line_ext)
                    ce_line_table_put(&c->user_line_ix, u->line_number, strlen(u->line_number),
                                      (uint32_t)i | CR_USER_IX_FLAG);
            }
        }
        if (u->policy) {
            uint32_t v = ce_index_get(&c->policy_ix, u->policy, strlen(u->policy));
            if (v == CR_INDEX_NONE)
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "unknown voice policy '%s'", u->policy);
            u->policy_idx = v == CR_INDEX_NONE ? -1 : (long)v;
        }
        if (u->profile) {
            uint32_t v = ce_index_get(&c->profile_ix, u->profile, strlen(u->profile));
            if (v == CR_INDEX_NONE)
                cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "unknown location profile '%s'",
                            u->profile);
            u->profile_idx = v == CR_INDEX_NONE ? -1 : (long)v;
        }
        if (u->forwarding.no_answer_after < 0 || u->team_call_delay < 0)
            cr_diag_add(d, CR_DIAG_ERROR, u->loc, obj, "delays must not be negative");
    }
    ce_user_table_set_hot(c);
    c->likely_profile = likely_profile(c);
    c->likely_policy = likely_policy(c);
}

static void compile_defaults(cr_config *c, cr_diag *d)
{
    if (c->default_profile_name) {
        uint32_t v =
            ce_index_get(&c->profile_ix, c->default_profile_name, strlen(c->default_profile_name));
        if (v == CR_INDEX_NONE)
            cr_diag_add(d, CR_DIAG_ERROR, c->default_profile_loc, "locationProfiles",
                        "default location profile '%s' is not defined", c->default_profile_name);
        else
            c->default_profile = &c->profiles[v];
    } else if (c->nprofiles) {
        c->default_profile = &c->profiles[0];
    }
    if (c->default_policy_name) {
        uint32_t v =
            ce_index_get(&c->policy_ix, c->default_policy_name, strlen(c->default_policy_name));
        if (v == CR_INDEX_NONE)
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
                if (dup || l->idx[k] == CR_INDEX_NONE)
                    continue;
                cr_usage_routes *ur = &c->usage_routes[l->idx[k]];
                if (pass == 1)
                    ur->routes[ur->count] = (uint32_t)i;
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

/* Gives back what doubling over-allocated in the large object arrays (objects move: this
 * runs before compile hands out pointers). */
#define SHRINK(arr, n, cap)                                                                        \
    do {                                                                                           \
        if ((cap) > (n) + 64 && (cap) * sizeof *(arr) > (1u << 20)) {                              \
            typeof(arr) p_ = realloc((arr), ((n) ? (n) : 1) * sizeof *(arr));                      \
            if (p_) {                                                                              \
                (arr) = p_;                                                                        \
                (cap) = (n) ? (n) : 1;                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Moves a list into the arena: `names` become the resolved objects' names (or stay the
 * interned ones), the load-time block is freed. Lists equal to the previous one of the same
 * kind share its arrays (routes of a plan mostly repeat their usages). */
static bool settle_list(cr_config *c, cr_namelist *l, char **(*name_of)(cr_config *, uint32_t),
                        const cr_namelist *last)
{
    char **block = l->names;
    if (!l->count) {
        free(block);
        l->names = NULL;
        l->cap = 0;
        return true;
    }
    l->cap = l->count;
    if (last && l->idx && last->idx == l->idx) {
        l->names = last->names;
        free(block);
        return true;
    }
    char **names = ce_arena_alloc(c, l->count * sizeof *names);
    if (!names)
        return false;
    for (size_t i = 0; i < l->count; i++)
        names[i] = l->idx && name_of ? *name_of(c, l->idx[i]) : block[i];
    l->names = names;
    free(block);
    return true;
}

static char **usage_name_of(cr_config *c, uint32_t v)
{
    return &c->usages[v].name;
}

static char **gateway_name_of(cr_config *c, uint32_t v)
{
    return &c->gateways[v].name;
}

static bool settle_lists(cr_config *c)
{
    bool ok = true;
    const cr_namelist *lu = NULL, *lg = NULL;
    for (size_t i = 0; i < c->npolicies; i++)
        ok &= settle_list(c, &c->policies[i].usages, usage_name_of, NULL);
    for (size_t i = 0; i < c->nroutes; i++) {
        ok &= settle_list(c, &c->routes[i].usages, usage_name_of, lu);
        ok &= settle_list(c, &c->routes[i].gateways, gateway_name_of, lg);
        lu = &c->routes[i].usages;
        lg = &c->routes[i].gateways;
    }
    for (size_t i = 0; i < c->nusers; i++) {
        ok &= settle_list(c, &c->users[i].team_call, NULL, NULL);
        ok &= settle_list(c, &c->users[i].delegates, NULL, NULL);
    }
    c->lists_in_arena = true;
    return ok;
}

/* The first route from i on whose kind byte lacks CR_RK_EXACT (n when none): an image's routes
 * are mostly exact, so their kinds are skipped 32 at a time. */
static size_t next_inexact(const uint8_t *kinds, size_t i, size_t n)
{
    const uint64_t exact = 0x0101010101010101u * CR_RK_EXACT;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, kinds + i, sizeof w);
        if ((w[0] & w[1] & w[2] & w[3] & exact) != exact)
            break;
    }
    while (i < n && (kinds[i] & CR_RK_EXACT))
        i++;
    return i;
}

/*
 * A configuration read in place from a plan image (c->cx): the image was validated and
 * compiled by the process that wrote it, so what it holds compiled is adopted as it is (the
 * tries, the user indexes and key cells, the routes of each usage, the resolved lists and user
 * fields the reader already set). Built here, per process: the name indexes of profiles,
 * policies and gateways (small), the PCRE2 code of the rules and of the route patterns the
 * index does not decide exactly, and the workflows; then lint, as for the XML.
 */
static void compile_adopted(cr_config *c, cr_diag *d)
{
    ce_image_cx *x = c->cx;
    size_t before = d->errors;
    c->lists_in_arena = true; /* the reader put the lists in the arena */
    index_names(d, &c->profile_ix, "location profile", c->nprofiles, profile_eq, profile_name,
                profile_loc, c);
    ce_index_init(&c->profile_fold_ix, c->nprofiles, true, profile_fold_eq, c);
    index_names(d, &c->policy_ix, "voice policy", c->npolicies, policy_eq, policy_name, policy_loc,
                c);
    index_names(d, &c->gateway_ix, "gateway", c->ngateways, gateway_eq, gateway_name, gateway_loc,
                c);
    compile_defaults(c, d);
    compile_profiles(c, d, x->trusted ? XL_USE : XL_SHAPE);
    compile_gateways(c, d);
    ce_index_free(&c->policy_ix);
    /* the others are compiled on first use, if ever (ce_route_re) */
    for (size_t i = next_inexact(x->route_kinds, 0, c->nroutes); i < c->nroutes;
         i = next_inexact(x->route_kinds, i + 1, c->nroutes)) {
        cr_route *r = (cr_route *)(uintptr_t)ce_route(c, i);
        if (r->pattern)
            r->re = compile_pattern(d, r->pattern, r->loc,
                                    &(objname){"route", r->name, NULL, NULL, ""});
    }
    c->user_uri_tab = (cr_user_table){x->uri_cells, x->uri_keys, x->uri_cap, true};
    c->user_line_ix = (cr_line_table){x->line_slots, x->line_cap, true, user_line_eq, c};
    c->user_keys = x->user_keys;
    c->cells_borrowed = true;
    c->likely_profile = x->likely_profile < c->nprofiles ? &c->profiles[x->likely_profile] : NULL;
    c->likely_policy = x->likely_policy < c->npolicies ? &c->policies[x->likely_policy] : NULL;
    ce_workflows_compile(c, d);
    c->usage_routes = calloc(c->nusages ? c->nusages : 1, sizeof *c->usage_routes);
    c->usage_routes_borrowed = true;
    if (!c->usage_routes) {
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
        return;
    }
    for (size_t u = 0; u < c->nusages; u++)
        c->usage_routes[u] = (cr_usage_routes){
            (uint32_t *)(uintptr_t)(x->route_ids + x->usage_head[2 * u]), x->usage_head[2 * u + 1]};
    if (d->errors == before &&
        (ce_route_index_adopt(c, x->usage_tries, x->rule_tries, x->route_kinds, &x->stats) !=
             CR_OK ||
         ce_route_index_adopt_walks(c, x->walks, x->nwalks, x->policy_walk) != CR_OK))
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
    if (d->errors == before && x->lint) /* `check` of an image says what `check` of its XML says */
        ce_lint(c, d);
}

/* The shadowed-rule lint (ce_lint_rules) on a second thread: it reads only the profiles'
 * compiled rules, which nothing changes between compile_profiles and the rule index (whose
 * JIT compiling of the rules' code waits for it: lint_join). */
typedef struct lint_job {
    const cr_config *c;
    cr_diag rules;
    pthread_t thread;
    bool started;
} lint_job;

static void *lint_run(void *arg)
{
    lint_job *j = arg;
    ce_lint_rules(j->c, &j->rules);
    return NULL;
}

static void lint_start(lint_job *j, const cr_config *c)
{
    j->c = c;
    cr_diag_init(&j->rules);
    j->started = c->nprofiles && cr_thread_start(&j->thread, lint_run, j) == 0;
}

static void lint_join(lint_job *j)
{
    if (j->started)
        pthread_join(j->thread, NULL);
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
    if (c->cx) {
        compile_adopted(c, d);
        ce_image_cx_free(c->cx);
        c->cx = NULL;
        int rc = d->errors == before ? CR_OK : CR_ECONFIG;
        if (d == &local)
            cr_diag_free(&local);
        return rc;
    }
    SHRINK(c->routes, c->nroutes, c->caproutes);
    ce_routes_to_table(c);
    SHRINK(c->users, c->nusers, c->capusers);
    index_names(d, &c->profile_ix, "location profile", c->nprofiles, profile_eq, profile_name,
                profile_loc, c);
    ce_index_init(&c->profile_fold_ix, c->nprofiles, true, profile_fold_eq, c);
    index_names(d, &c->usage_ix, "phone usage", c->nusages, usage_eq, usage_name, usage_loc, c);
    index_names(d, &c->policy_ix, "voice policy", c->npolicies, policy_eq, policy_name, policy_loc,
                c);
    index_names(d, &c->gateway_ix, "gateway", c->ngateways, gateway_eq, gateway_name, gateway_loc,
                c);
    index_names(d, &c->route_ix, "route", c->nroutes, route_eq, route_name, route_loc, c);
    ce_index_free(&c->route_ix); /* only for duplicates */
    c->analysis = ce_route_analysis_new(c->nroutes);
    if (!c->analysis)
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
    compile_defaults(c, d);
    compile_profiles(c, d, XL_NOW);
    lint_job lint = {0};
    if (d->errors == before)
        lint_start(&lint, c);
    if (c->analysis)
        compile_routing(c, d);
    compile_users(c, d);
    ce_workflows_compile(c, d);
    ce_index_free(&c->usage_ix);
    ce_index_free(&c->policy_ix);
    lint_join(&lint);
    if (d->errors == before) {
        if (build_usage_routes(c) != CR_OK || ce_route_index_build(c, c->analysis) != CR_OK)
            cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
    }
    ce_route_analysis_free(c->analysis);
    c->analysis = NULL;
    if (d->errors == before)
        ce_lint_with(c, d, lint.started ? &lint.rules : NULL);
    cr_diag_free(&lint.rules);
    if (d->errors == before && !settle_lists(c))
        cr_diag_add(d, CR_DIAG_ERROR, (cr_srcloc){0}, NULL, "out of memory");
    free(c->names_set);
    c->names_set = NULL;
    c->names_n = c->names_cap = 0;
    int rc = d->errors == before ? CR_OK : CR_ECONFIG;
    if (d == &local)
        cr_diag_free(&local);
    return rc;
}

void ce_compiled_free(cr_config *c)
{
    for (size_t i = 0; i < c->nprofiles; i++)
        for (size_t j = 0; j < c->profiles[i].nrules; j++) {
            ce_re_free(c->profiles[i].rules[j].re);
            ce_xlat_free(c->profiles[i].rules[j].xlat);
        }
    for (size_t i = 0; i < c->nroutes; i++) {
        if (!ce_route_filled(c, i))
            continue;
        ce_re_free(c->routes[i].re);
        c->routes[i].re = NULL;
    }
    ce_index_free(&c->profile_ix);
    ce_index_free(&c->profile_fold_ix);
    ce_index_free(&c->usage_ix);
    ce_index_free(&c->policy_ix);
    ce_index_free(&c->gateway_ix);
    ce_index_free(&c->route_ix);
    ce_route_analysis_free(c->analysis);
    c->analysis = NULL;
    ce_user_table_free(&c->user_uri_tab);
    ce_line_table_free(&c->user_line_ix);
    if (!c->cells_borrowed) {
        cr_table_free(c->user_keys, c->user_keys_bytes);
    }
    c->user_keys = NULL;
    if (c->usage_routes && !c->usage_routes_borrowed)
        for (size_t u = 0; u < c->nusages; u++)
            free(c->usage_routes[u].routes);
    free(c->usage_routes);
    c->usage_routes = NULL;
    ce_route_index_free(c->route_index);
    c->route_index = NULL;
    c->route_dfa = NULL;
    c->route_dfa_mask = 0;
    c->route_dfa1_route = 0;
    c->route_dfa1 = NULL;
    ce_image_cx_free(c->cx);
    c->cx = NULL;
}

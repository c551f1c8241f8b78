/* The routing model: building a cr_config, reading it back, diagnostics. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *cr_strerror(int code)
{
    switch (code) {
    case CR_OK:
        return "success";
    case CR_EINVAL:
        return "invalid argument";
    case CR_ENOMEM:
        return "out of memory";
    case CR_ECONFIG:
        return "configuration refused";
    case CR_ENOENT:
        return "not found";
    case CR_ERANGE:
        return "result too long";
    case CR_EIO:
        return "input/output error";
    case CR_EVERSION:
        return "ABI version refused";
    case CR_ESTATE:
        return "invalid state";
    case CR_ELIMIT:
        return "resource limit reached";
    }
    return "unknown error";
}

/* ---- diagnostics ------------------------------------------------------------------------ */

void cr_diag_init(cr_diag *d)
{
    memset(d, 0, sizeof *d);
}

void cr_diag_free(cr_diag *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].object);
        free(d->items[i].message);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}

void cr_diag_add(cr_diag *d, cr_diag_level level, cr_srcloc loc, const char *object,
                 const char *fmt, ...)
{
    if (!d)
        return;
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        cr_diag_item *n = realloc(d->items, cap * sizeof *n);
        if (!n)
            return;
        d->items = n;
        d->cap = cap;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cr_diag_item *it = &d->items[d->count++];
    it->level = level;
    it->file = strdup(loc.file ? loc.file : "");
    it->line = loc.line;
    it->object = strdup(object ? object : "");
    it->message = strdup(msg);
    if (level == CR_DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
}

void cr_diag_format(const cr_diag *d, size_t i, char *buf, size_t len)
{
    const cr_diag_item *it = &d->items[i];
    const char *lvl = it->level == CR_DIAG_ERROR ? "error" : "warning";
    char where[600];
    if (it->file && *it->file && it->line > 0)
        snprintf(where, sizeof where, "%s:%d: ", it->file, it->line);
    else if (it->file && *it->file)
        snprintf(where, sizeof where, "%s: ", it->file);
    else
        where[0] = 0;
    if (it->object && *it->object)
        snprintf(buf, len, "%s%s: %s: %s", where, lvl, it->object, it->message);
    else
        snprintf(buf, len, "%s%s: %s", where, lvl, it->message);
}

/* ---- building ----------------------------------------------------------------------------- */

cr_config *cr_config_new(void)
{
    cr_config *c = calloc(1, sizeof *c);
    return c;
}

char *cr_config_strdup(cr_config *cfg, const char *s)
{
    (void)cfg;
    return s ? strdup(s) : NULL;
}

const char *cr_config_intern(cr_config *cfg, const char *s)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < cfg->ninterned; i++)
        if (strcmp(cfg->interned[i], s) == 0)
            return cfg->interned[i];
    if (!CR_GROW(cfg->interned, cfg->ninterned, cfg->capinterned))
        return NULL;
    char *d = strdup(s);
    if (!d)
        return NULL;
    cfg->interned[cfg->ninterned++] = d;
    return d;
}

/* Grows *arr (of n items, cap capacity) by one zeroed slot; returns false on OOM. */
bool cr_grow(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return false;
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    *arr = p;
    *cap = ncap;
    return true;
}

int cr_config_add_domain(cr_config *cfg, const char *domain, cr_srcloc loc)
{
    (void)loc;
    if (!CR_GROW(cfg->domains, cfg->ndomains, cfg->capdomains))
        return CR_ENOMEM;
    cfg->domains[cfg->ndomains] = strdup(domain);
    if (!cfg->domains[cfg->ndomains])
        return CR_ENOMEM;
    cfg->ndomains++;
    return CR_OK;
}

#define ADD_NAMED(arr, n, cap, field, value, loc_)                                          \
    do {                                                                                    \
        if (!CR_GROW(arr, n, cap))                                                          \
            return NULL;                                                                    \
        typeof(&(arr)[0]) o_ = &(arr)[(n)];                                                 \
        memset(o_, 0, sizeof *o_);                                                          \
        o_->field = strdup(value ? value : "");                                             \
        if (!o_->field)                                                                     \
            return NULL;                                                                    \
        o_->loc = (loc_);                                                                   \
        (n)++;                                                                              \
        return o_;                                                                          \
    } while (0)

cr_profile *cr_config_add_profile(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->profiles, cfg->nprofiles, cfg->capprofiles, name, name, loc);
}

cr_rule *cr_profile_add_rule(cr_config *cfg, cr_profile *p, const char *name, cr_srcloc loc)
{
    (void)cfg;
    ADD_NAMED(p->rules, p->nrules, p->caprules, name, name, loc);
}

cr_usage *cr_config_add_usage(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->usages, cfg->nusages, cfg->capusages, name, name, loc);
}

static cr_policy *add_policy(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->policies, cfg->npolicies, cfg->cappolicies, name, name, loc);
}

cr_policy *cr_config_add_policy(cr_config *cfg, const char *name, cr_srcloc loc)
{
    cr_policy *p = add_policy(cfg, name, loc);
    if (p)
        p->simultaneous_ring = p->call_forwarding = p->team_call = p->delegation = true;
    return p;
}

static cr_gateway *add_gateway(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->gateways, cfg->ngateways, cfg->capgateways, name, name, loc);
}

cr_gateway *cr_config_add_gateway(cr_config *cfg, const char *name, cr_srcloc loc)
{
    cr_gateway *g = add_gateway(cfg, name, loc);
    if (g)
        g->profile_idx = -1;
    return g;
}

cr_route *cr_config_add_route(cr_config *cfg, const char *name, cr_srcloc loc)
{
    ADD_NAMED(cfg->routes, cfg->nroutes, cfg->caproutes, name, name, loc);
}

static cr_user *add_user(cr_config *cfg, const char *uri, cr_srcloc loc)
{
    ADD_NAMED(cfg->users, cfg->nusers, cfg->capusers, uri, uri, loc);
}

cr_user *cr_config_add_user(cr_config *cfg, const char *uri, cr_srcloc loc)
{
    cr_user *u = add_user(cfg, uri, loc);
    if (u) {
        u->policy_idx = -1;
        u->profile_idx = -1;
    }
    return u;
}

int cr_namelist_add(cr_config *cfg, cr_namelist *l, const char *name, cr_srcloc loc)
{
    (void)cfg;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        char **n = realloc(l->names, cap * sizeof *n);
        if (!n)
            return CR_ENOMEM;
        l->names = n;
        cr_srcloc *ls = realloc(l->locs, cap * sizeof *ls);
        if (!ls)
            return CR_ENOMEM;
        l->locs = ls;
        size_t *ix = realloc(l->idx, cap * sizeof *ix);
        if (!ix)
            return CR_ENOMEM;
        l->idx = ix;
        l->cap = cap;
    }
    l->names[l->count] = strdup(name ? name : "");
    if (!l->names[l->count])
        return CR_ENOMEM;
    l->locs[l->count] = loc;
    l->idx[l->count] = 0;
    l->count++;
    return CR_OK;
}

int cr_config_set_default_profile(cr_config *cfg, const char *name, cr_srcloc loc)
{
    free(cfg->default_profile_name);
    cfg->default_profile_name = strdup(name);
    cfg->default_profile_loc = loc;
    return cfg->default_profile_name ? CR_OK : CR_ENOMEM;
}

int cr_config_set_default_policy(cr_config *cfg, const char *name, cr_srcloc loc)
{
    free(cfg->default_policy_name);
    cfg->default_policy_name = strdup(name);
    cfg->default_policy_loc = loc;
    return cfg->default_policy_name ? CR_OK : CR_ENOMEM;
}

int cr_config_set_directory(cr_config *cfg, const char *path, cr_srcloc loc)
{
    free(cfg->directory);
    cfg->directory = strdup(path);
    cfg->directory_loc = loc;
    return cfg->directory ? CR_OK : CR_ENOMEM;
}

const char *cr_config_directory(const cr_config *cfg, cr_srcloc *loc)
{
    if (loc)
        *loc = cfg->directory_loc;
    return cfg->directory;
}

static void namelist_free(cr_namelist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    free(l->locs);
    free(l->idx);
}

void cr_config_free(cr_config *c)
{
    if (!c)
        return;
    cr_compiled_free(c);
    for (size_t i = 0; i < c->ndomains; i++)
        free(c->domains[i]);
    free(c->domains);
    for (size_t i = 0; i < c->nprofiles; i++) {
        cr_profile *p = &c->profiles[i];
        for (size_t j = 0; j < p->nrules; j++) {
            cr_rule *r = &p->rules[j];
            free(r->name);
            free(r->description);
            free(r->pattern);
            free(r->translation);
        }
        free(p->rules);
        free(p->name);
        free(p->description);
        free(p->external_access_prefix);
    }
    free(c->profiles);
    for (size_t i = 0; i < c->nusages; i++)
        free(c->usages[i].name);
    free(c->usages);
    for (size_t i = 0; i < c->npolicies; i++) {
        free(c->policies[i].name);
        free(c->policies[i].description);
        namelist_free(&c->policies[i].usages);
    }
    free(c->policies);
    for (size_t i = 0; i < c->ngateways; i++) {
        free(c->gateways[i].name);
        free(c->gateways[i].address);
        free(c->gateways[i].profile);
    }
    free(c->gateways);
    for (size_t i = 0; i < c->nroutes; i++) {
        cr_route *r = &c->routes[i];
        free(r->name);
        free(r->description);
        free(r->pattern);
        namelist_free(&r->usages);
        namelist_free(&r->gateways);
    }
    free(c->routes);
    for (size_t i = 0; i < c->nusers; i++) {
        cr_user *u = &c->users[i];
        free(u->uri);
        free(u->line);
        free(u->line_number);
        free(u->line_ext);
        free(u->policy);
        free(u->profile);
        free(u->simultaneous_ring);
        free(u->forwarding.immediate);
        free(u->forwarding.no_answer_target);
        namelist_free(&u->team_call);
        namelist_free(&u->delegates);
        free(u->voicemail);
    }
    free(c->users);
    free(c->default_profile_name);
    free(c->default_policy_name);
    free(c->directory);
    for (size_t i = 0; i < c->ninterned; i++)
        free(c->interned[i]);
    free(c->interned);
    free(c);
}

/* ---- hash index (open addressing, string keys → index) ----------------------------------- */

uint64_t cr_hash(const char *s, size_t n, bool fold)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (fold && ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch - 'A' + 'a');
        h = (h ^ ch) * 1099511628211ULL;
    }
    return h;
}

int cr_index_init(cr_index *ix, size_t n, bool fold)
{
    size_t cap = 16;
    while (cap < n * 2 + 1)
        cap <<= 1;
    ix->slots = calloc(cap, sizeof *ix->slots);
    if (!ix->slots)
        return CR_ENOMEM;
    ix->cap = cap;
    ix->fold = fold;
    return CR_OK;
}

void cr_index_free(cr_index *ix)
{
    for (size_t i = 0; i < ix->cap; i++)
        free(ix->slots[i].key);
    free(ix->slots);
    memset(ix, 0, sizeof *ix);
}

static bool key_eq(const cr_index *ix, const char *a, const char *b, size_t bn)
{
    if (ix->fold)
        return strncasecmp(a, b, bn) == 0 && a[bn] == 0;
    return strncmp(a, b, bn) == 0 && a[bn] == 0;
}

/* Inserts key → val; returns the existing value (and does not replace) when present, or
 * SIZE_MAX when inserted (or on OOM). */
size_t cr_index_put(cr_index *ix, const char *key, size_t val)
{
    size_t n = strlen(key);
    uint64_t h = cr_hash(key, n, ix->fold);
    for (size_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        cr_index_slot *s = &ix->slots[i];
        if (!s->key) {
            s->key = strdup(key);
            s->hash = h;
            s->val = val;
            return SIZE_MAX;
        }
        if (s->hash == h && key_eq(ix, s->key, key, n))
            return s->val;
    }
}

size_t cr_index_get(const cr_index *ix, const char *key, size_t n)
{
    if (!ix->cap)
        return SIZE_MAX;
    uint64_t h = cr_hash(key, n, ix->fold);
    for (size_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        const cr_index_slot *s = &ix->slots[i];
        if (!s->key)
            return SIZE_MAX;
        if (s->hash == h && key_eq(ix, s->key, key, n))
            return s->val;
    }
}

/* ---- reading ------------------------------------------------------------------------------- */

size_t cr_config_profile_count(const cr_config *c)
{
    return c->nprofiles;
}
const cr_profile *cr_config_profile_at(const cr_config *c, size_t i)
{
    return i < c->nprofiles ? &c->profiles[i] : NULL;
}
const cr_profile *cr_config_profile_find(const cr_config *c, const char *name)
{
    size_t i = name ? cr_index_get(&c->profile_ix, name, strlen(name)) : SIZE_MAX;
    return i == SIZE_MAX ? NULL : &c->profiles[i];
}
const cr_profile *cr_config_default_profile(const cr_config *c)
{
    return c->default_profile;
}
size_t cr_config_gateway_count(const cr_config *c)
{
    return c->ngateways;
}
const cr_gateway *cr_config_gateway_at(const cr_config *c, size_t i)
{
    return i < c->ngateways ? &c->gateways[i] : NULL;
}
const cr_gateway *cr_config_gateway_find(const cr_config *c, const char *name)
{
    size_t i = name ? cr_index_get(&c->gateway_ix, name, strlen(name)) : SIZE_MAX;
    return i == SIZE_MAX ? NULL : &c->gateways[i];
}
size_t cr_config_route_count(const cr_config *c)
{
    return c->nroutes;
}
const cr_route *cr_config_route_at(const cr_config *c, size_t i)
{
    return i < c->nroutes ? &c->routes[i] : NULL;
}
size_t cr_config_usage_count(const cr_config *c)
{
    return c->nusages;
}
const cr_usage *cr_config_usage_at(const cr_config *c, size_t i)
{
    return i < c->nusages ? &c->usages[i] : NULL;
}
size_t cr_config_policy_count(const cr_config *c)
{
    return c->npolicies;
}
const cr_policy *cr_config_policy_at(const cr_config *c, size_t i)
{
    return i < c->npolicies ? &c->policies[i] : NULL;
}
const cr_policy *cr_config_default_policy(const cr_config *c)
{
    return c->default_policy;
}
size_t cr_config_user_count(const cr_config *c)
{
    return c->nusers;
}
const cr_user *cr_config_user_at(const cr_config *c, size_t i)
{
    return i < c->nusers ? &c->users[i] : NULL;
}

const cr_user *cr_config_user_find(const cr_config *c, const char *uri)
{
    if (!uri)
        return NULL;
    char key[CR_URI_MAX];
    size_t n = cr_uri_key(uri, key, sizeof key);
    if (!n)
        return NULL;
    size_t i = cr_index_get(&c->user_uri_ix, key, n);
    return i == SIZE_MAX ? NULL : &c->users[i];
}

const cr_user *cr_config_user_by_number(const cr_config *c, const char *number, const char *ext)
{
    char key[CR_NUMBER_MAX + 40];
    size_t i = SIZE_MAX;
    if (ext && *ext) {
        int n = snprintf(key, sizeof key, "%s;ext=%s", number, ext);
        if (n > 0 && (size_t)n < sizeof key)
            i = cr_index_get(&c->user_line_ix, key, (size_t)n);
    }
    if (i == SIZE_MAX)
        i = cr_index_get(&c->user_line_ix, number, strlen(number));
    return i == SIZE_MAX ? NULL : &c->users[i];
}

bool cr_config_domain_supported(const cr_config *c, const char *domain)
{
    if (!domain)
        return false;
    for (size_t i = 0; i < c->ndomains; i++)
        if (strcasecmp(c->domains[i], domain) == 0)
            return true;
    return false;
}

/*
 * The comparable form of a SIP URI for user lookups: scheme "sip:" (sips folded to sip),
 * user part as is, host lower-cased, no port, parameters or headers; angle brackets and a
 * display name are dropped. Returns the key length, 0 when `uri` is not a sip URI.
 */
size_t cr_uri_key(const char *uri, char *out, size_t len)
{
    const char *lt = strchr(uri, '<');
    if (lt)
        uri = lt + 1;
    while (*uri == ' ')
        uri++;
    const char *p;
    if (strncasecmp(uri, "sip:", 4) == 0)
        p = uri + 4;
    else if (strncasecmp(uri, "sips:", 5) == 0)
        p = uri + 5;
    else
        return 0;
    size_t o = 0;
    if (len < 8)
        return 0;
    memcpy(out, "sip:", 4);
    o = 4;
    const char *at = NULL;
    for (const char *q = p; *q && *q != '>' && *q != ';' && *q != '?'; q++)
        if (*q == '@') {
            at = q;
            break;
        }
    const char *h = p;
    if (at) {
        for (const char *q = p; q < at; q++) {
            if (o + 1 >= len)
                return 0;
            out[o++] = *q;
        }
        out[o++] = '@';
        h = at + 1;
    }
    for (; *h && *h != '>' && *h != ';' && *h != '?' && *h != ':'; h++) {
        if (o + 1 >= len)
            return 0;
        char ch = *h;
        out[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[o] = 0;
    return o;
}

/*
 * The routing loader: <callroute> XML (SPEC §2.1) → cr_config_add_* calls → compile.
 *
 * The loader only checks the shape of the document (known elements and attributes, required
 * attributes, booleans and integers); names, patterns and translations are the engine's to
 * check in cr_config_compile(). Errors do not stop the walk, so an admin sees every mistake
 * at once; compile only runs on a document whose shape is right.
 */
#include "cr_rules.h"

#include <stdarg.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "cr_directory.h"
#include "cr_xml.h"
#include "cr_image.h"
#include "rgs_targets.h"

typedef struct loader {
    cr_config *cfg;
    cr_diag *diag;
    const char *file; /* of the section being loaded, interned in cfg */
    size_t errors;
    bool oom;
    cr_srcloc default_profile_at, default_policy_at; /* .file NULL until declared */
} loader;

/* One element being loaded: where it is and how messages name it ("route 'X'"). */
typedef struct elem {
    loader *L;
    xmlNodePtr node;
    cr_srcloc loc;
    char object[320];
} elem;

static const char *const no_attrs[] = {NULL};

static void fail(elem *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(elem *e, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cr_diag_add(e->L->diag, CR_DIAG_ERROR, e->loc, e->object[0] ? e->object : NULL, "%s", msg);
    e->L->errors++;
}

/* Starts loading `node`: sets where it is and its object name, checks its attributes. */
static bool begin(elem *e, loader *L, xmlNodePtr node, const char *const *allowed, bool text_ok)
{
    e->L = L;
    e->node = node;
    e->loc.file = L->file;
    e->loc.line = cr_xml_line(node);
    int bad =
        cr_xml_check(node, allowed, text_ok, L->file, e->object[0] ? e->object : NULL, L->diag);
    L->errors += (size_t)bad;
    return bad == 0;
}

static void name_object(elem *e, const char *kind, const char *name, const char *owner)
{
    if (name && owner)
        snprintf(e->object, sizeof e->object, "%s '%s' of %s", kind, name, owner);
    else if (name)
        snprintf(e->object, sizeof e->object, "%s '%s'", kind, name);
    else
        snprintf(e->object, sizeof e->object, "%s", kind);
}

/* A required attribute: its value (caller frees), or NULL after an error. */
static char *need(elem *e, const char *attr)
{
    char *v = cr_xml_attr(e->node, attr);
    if (!v)
        fail(e, "missing required attribute '%s'", attr);
    else if (!v[0]) {
        fail(e, "attribute '%s' is empty", attr);
        free(v);
        v = NULL;
    }
    return v;
}

/* Copies an optional attribute into a field of a config object (unchanged when absent). */
static void set_str(elem *e, char **field, const char *attr)
{
    char *v = cr_xml_attr(e->node, attr);
    if (!v)
        return;
    *field = cr_config_strdup(e->L->cfg, v);
    if (!*field)
        e->L->oom = true;
    free(v);
}

static void set_bool(elem *e, bool *field, const char *attr)
{
    char *v = cr_xml_attr(e->node, attr);
    if (v && cr_xml_parse_bool(v, field) != 0)
        fail(e, "attribute '%s' is '%s', expected true, false, 1 or 0", attr, v);
    free(v);
}

static void set_int(elem *e, int *field, const char *attr, long min, long max)
{
    char *v = cr_xml_attr(e->node, attr);
    long n;
    if (v && cr_xml_parse_int(v, min, max, &n) != 0)
        fail(e, "attribute '%s' is '%s', expected a whole number from %ld to %ld", attr, v, min,
             max);
    else if (v)
        *field = (int)n;
    free(v);
}

static void unknown_child(elem *parent, xmlNodePtr c)
{
    elem e = *parent;
    e.loc.line = cr_xml_line(c);
    if (c->ns && !cr_xml_name(c))
        fail(&e, "element <%s> of namespace '%s' is not allowed in <%s>", (const char *)c->name,
             (const char *)c->ns->href, (const char *)parent->node->name);
    else
        fail(&e, "unknown element <%s> in <%s>", (const char *)c->name,
             (const char *)parent->node->name);
}

/* The child elements of e's node, in order (comments and white space skipped). */
#define FOR_CHILDREN(c, e)                                                                         \
    for (xmlNodePtr c = (e)->node->children; c; c = c->next)                                       \
        if (c->type == XML_ELEMENT_NODE)

static bool is(xmlNodePtr c, const char *name)
{
    const char *n = cr_xml_name(c);
    return n && strcmp(n, name) == 0;
}

/* The text of a name-only element (<usage>Local</usage>); NULL after an error. */
static char *text_of(elem *parent, xmlNodePtr c, cr_srcloc *loc)
{
    elem e = *parent;
    if (!begin(&e, parent->L, c, no_attrs, true))
        return NULL;
    *loc = e.loc;
    FOR_CHILDREN(x, &e)
    {
        fail(&e, "unexpected element <%s> in <%s>", (const char *)x->name, (const char *)c->name);
        return NULL;
    }
    char *t = cr_xml_text(c);
    if (!t) {
        e.L->oom = true;
        return NULL;
    }
    if (!t[0]) {
        fail(&e, "<%s> is empty", (const char *)c->name);
        free(t);
        return NULL;
    }
    return t;
}

/* Appends the text of `c` to a name list (usages of a policy, gateways of a route, ...). */
static void add_name(elem *parent, xmlNodePtr c, cr_namelist *l)
{
    cr_srcloc loc;
    char *t = text_of(parent, c, &loc);
    if (t && cr_namelist_add(parent->L->cfg, l, t, loc) != CR_OK)
        parent->L->oom = true;
    free(t);
}

/* Records a section's default="..." once for the whole document. */
static void set_default(elem *e, cr_srcloc *seen, const char *what,
                        int (*set)(cr_config *, const char *, cr_srcloc))
{
    char *v = cr_xml_attr(e->node, "default");
    if (!v)
        return;
    if (seen->file)
        fail(e, "default %s already declared at %s:%d", what, seen->file, seen->line);
    else if (!v[0])
        fail(e, "attribute 'default' is empty");
    else if (set(e->L->cfg, v, e->loc) != CR_OK)
        e->L->oom = true;
    else
        *seen = e->loc;
    free(v);
}

/* ---- sections --------------------------------------------------------------------------- */

static void load_domains(loader *L, xmlNodePtr node)
{
    elem e = {0};
    begin(&e, L, node, no_attrs, false);
    FOR_CHILDREN(c, &e)
    {
        if (!is(c, "domain")) {
            unknown_child(&e, c);
            continue;
        }
        cr_srcloc loc;
        char *d = text_of(&e, c, &loc);
        if (d && cr_config_add_domain(L->cfg, d, loc) != CR_OK)
            L->oom = true;
        free(d);
    }
}

static void load_rule(loader *L, xmlNodePtr node, cr_profile *p)
{
    static const char *const attrs[] = {"name",        "description",       "pattern",
                                        "translation", "internalExtension", "doNotDialFromDevice",
                                        NULL};
    char owner[300];
    elem e = {0};
    char *name = cr_xml_attr(node, "name");
    snprintf(owner, sizeof owner, "location profile '%s'", p->name);
    name_object(&e, "rule", name && name[0] ? name : NULL, owner);
    free(name);
    begin(&e, L, node, attrs, false);
    name = need(&e, "name");
    char *pattern = need(&e, "pattern");
    char *translation = need(&e, "translation");
    if (name && pattern && translation) {
        cr_rule *r = cr_profile_add_rule(L->cfg, p, name, e.loc);
        if (!r) {
            L->oom = true;
        } else {
            r->pattern = cr_config_strdup(L->cfg, pattern);
            r->translation = cr_config_strdup(L->cfg, translation);
            set_str(&e, &r->description, "description");
            set_bool(&e, &r->internal_extension, "internalExtension");
            set_bool(&e, &r->do_not_dial_from_device, "doNotDialFromDevice");
            if (!r->pattern || !r->translation)
                L->oom = true;
        }
    }
    FOR_CHILDREN(c, &e) unknown_child(&e, c);
    free(name);
    free(pattern);
    free(translation);
}

static void load_profile(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "description", "externalAccessPrefix", NULL};
    elem e = {0};
    char *name = cr_xml_attr(node, "name");
    name_object(&e, "location profile", name && name[0] ? name : NULL, NULL);
    free(name);
    begin(&e, L, node, attrs, false);
    name = need(&e, "name");
    cr_profile *p = name ? cr_config_add_profile(L->cfg, name, e.loc) : NULL;
    if (name && !p)
        L->oom = true;
    free(name);
    if (!p)
        return;
    set_str(&e, &p->description, "description");
    set_str(&e, &p->external_access_prefix, "externalAccessPrefix");
    FOR_CHILDREN(c, &e)
    {
        if (is(c, "rule"))
            load_rule(L, c, p);
        else
            unknown_child(&e, c);
    }
}

static void load_usages(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", NULL};
    elem e = {0};
    begin(&e, L, node, no_attrs, false);
    FOR_CHILDREN(c, &e)
    {
        if (!is(c, "usage")) {
            unknown_child(&e, c);
            continue;
        }
        elem u = {0};
        name_object(&u, "phone usage", NULL, NULL);
        begin(&u, L, c, attrs, false);
        char *name = need(&u, "name");
        if (name && !cr_config_add_usage(L->cfg, name, u.loc))
            L->oom = true;
        FOR_CHILDREN(x, &u) unknown_child(&u, x);
        free(name);
    }
}

static void load_policy(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {
        "name",       "description", "simultaneousRing", "callForwarding", "teamCall",
        "delegation", NULL};
    elem e = {0};
    char *name = cr_xml_attr(node, "name");
    name_object(&e, "voice policy", name && name[0] ? name : NULL, NULL);
    free(name);
    begin(&e, L, node, attrs, false);
    name = need(&e, "name");
    cr_policy *p = name ? cr_config_add_policy(L->cfg, name, e.loc) : NULL;
    if (name && !p)
        L->oom = true;
    free(name);
    if (!p)
        return;
    set_str(&e, &p->description, "description");
    set_bool(&e, &p->simultaneous_ring, "simultaneousRing");
    set_bool(&e, &p->call_forwarding, "callForwarding");
    set_bool(&e, &p->team_call, "teamCall");
    set_bool(&e, &p->delegation, "delegation");
    FOR_CHILDREN(c, &e)
    {
        if (is(c, "usage"))
            add_name(&e, c, &p->usages);
        else
            unknown_child(&e, c);
    }
}

static void load_gateway(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name",  "address", "removePlus", "locationProfile",
                                        "ports", NULL};
    elem e = {0};
    char *name = cr_xml_attr(node, "name");
    name_object(&e, "gateway", name && name[0] ? name : NULL, NULL);
    free(name);
    begin(&e, L, node, attrs, false);
    name = need(&e, "name");
    char *address = need(&e, "address");
    if (name && address) {
        cr_gateway *g = cr_config_add_gateway(L->cfg, name, e.loc);
        if (!g || !(g->address = cr_config_strdup(L->cfg, address))) {
            L->oom = true;
        } else {
            set_bool(&e, &g->remove_plus, "removePlus");
            set_str(&e, &g->profile, "locationProfile");
            set_int(&e, &g->ports, "ports", 0, 1000000);
        }
    }
    FOR_CHILDREN(c, &e) unknown_child(&e, c);
    free(name);
    free(address);
}

static void load_route(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "description", "pattern", NULL};
    elem e = {0};
    char *name = cr_xml_attr(node, "name");
    name_object(&e, "route", name && name[0] ? name : NULL, NULL);
    free(name);
    begin(&e, L, node, attrs, false);
    name = need(&e, "name");
    char *pattern = need(&e, "pattern");
    cr_route *r = NULL;
    if (name && pattern) {
        r = cr_config_add_route(L->cfg, name, e.loc);
        if (!r || !(r->pattern = cr_config_strdup(L->cfg, pattern))) {
            L->oom = true;
            r = NULL;
        } else {
            set_str(&e, &r->description, "description");
        }
    }
    free(name);
    free(pattern);
    FOR_CHILDREN(c, &e)
    {
        if (is(c, "usage") && r)
            add_name(&e, c, &r->usages);
        else if (is(c, "gateway") && r)
            add_name(&e, c, &r->gateways);
        else if (!is(c, "usage") && !is(c, "gateway"))
            unknown_child(&e, c);
    }
}

/* One section of gateways or routes: <gateways><gateway .../>...</gateways>. */
/* A section of `child` elements, each loaded by `load`. With `seen`, the section may name the
 * document's default (default="...", once per document: `what` in messages, `set` records it). */
static void load_section(loader *L, xmlNodePtr node, const char *child,
                         void (*load)(loader *, xmlNodePtr), cr_srcloc *seen, const char *what,
                         int (*set)(cr_config *, const char *, cr_srcloc))
{
    static const char *const default_attrs[] = {"default", NULL};
    elem e = {0};
    begin(&e, L, node, seen ? default_attrs : no_attrs, false);
    if (seen)
        set_default(&e, seen, what, set);
    FOR_CHILDREN(c, &e)
    {
        if (is(c, child))
            load(L, c);
        else
            unknown_child(&e, c);
    }
}

static void load_user_child(elem *e, xmlNodePtr c, cr_user *u, bool *seen)
{
    static const char *const ring[] = {"target", NULL};
    static const char *const fwd[] = {"immediate", "noAnswerAfter", "noAnswerTarget", NULL};
    static const char *const team[] = {"delay", NULL};
    static const char *const kids[] = {"simultaneousRing", "forwarding", "teamCall"};
    elem x = *e;
    for (int i = 0; i < 3; i++) {
        if (!is(c, kids[i]))
            continue;
        if (seen[i]) {
            x.loc.line = cr_xml_line(c);
            fail(&x, "<%s> given twice", kids[i]);
            return;
        }
        seen[i] = true;
    }
    if (is(c, "simultaneousRing")) {
        begin(&x, e->L, c, ring, false);
        char *t = need(&x, "target");
        if (t && !(u->simultaneous_ring = cr_config_strdup(e->L->cfg, t)))
            e->L->oom = true;
        free(t);
        FOR_CHILDREN(y, &x) unknown_child(&x, y);
    } else if (is(c, "forwarding")) {
        begin(&x, e->L, c, fwd, false);
        set_str(&x, &u->forwarding.immediate, "immediate");
        set_int(&x, &u->forwarding.no_answer_after, "noAnswerAfter", 1, 3600);
        set_str(&x, &u->forwarding.no_answer_target, "noAnswerTarget");
        FOR_CHILDREN(y, &x) unknown_child(&x, y);
    } else if (is(c, "teamCall")) {
        begin(&x, e->L, c, team, false);
        set_int(&x, &u->team_call_delay, "delay", 0, 3600);
        FOR_CHILDREN(y, &x)
        {
            if (is(y, "member"))
                add_name(&x, y, &u->team_call);
            else
                unknown_child(&x, y);
        }
    } else if (is(c, "delegate")) {
        add_name(e, c, &u->delegates);
    } else {
        unknown_child(e, c);
    }
}

static void load_user(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"uri",
                                        "line",
                                        "enterpriseVoice",
                                        "voicePolicy",
                                        "locationProfile",
                                        "voicemail",
                                        "pbxIntegration",
                                        NULL};
    elem e = {0};
    char *uri = cr_xml_attr(node, "uri");
    name_object(&e, "user", uri && uri[0] ? uri : NULL, NULL);
    free(uri);
    begin(&e, L, node, attrs, false);
    uri = need(&e, "uri");
    cr_user *u = uri ? cr_config_add_user(L->cfg, uri, e.loc) : NULL;
    if (uri && !u)
        L->oom = true;
    free(uri);
    if (!u)
        return;
    set_str(&e, &u->line, "line");
    set_bool(&e, &u->enterprise_voice, "enterpriseVoice");
    set_bool(&e, &u->pbx_integration, "pbxIntegration");
    set_str(&e, &u->policy, "voicePolicy");
    set_str(&e, &u->profile, "locationProfile");
    set_str(&e, &u->voicemail, "voicemail");
    bool seen[3] = {false, false, false};
    FOR_CHILDREN(c, &e) load_user_child(&e, c, u, seen);
}

/* <directory path="..."/>: the LMDB user directory, relative to the naming file. */
static void load_directory(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"path", NULL};
    elem e = {0};
    name_object(&e, "directory", NULL, NULL);
    begin(&e, L, node, attrs, false);
    FOR_CHILDREN(c, &e) unknown_child(&e, c);
    cr_srcloc prev;
    if (cr_config_directory(L->cfg, &prev)) {
        fail(&e, "a user directory is already named at %s:%d", prev.file, prev.line);
        return;
    }
    char *path = need(&e, "path");
    if (!path)
        return;
    const char *slash = path[0] == '/' ? NULL : strrchr(L->file, '/');
    size_t dl = slash ? (size_t)(slash - L->file) + 1 : 0;
    char *full = malloc(dl + strlen(path) + 1);
    if (!full || (memcpy(full, L->file, dl), strcpy(full + dl, path),
                  cr_config_set_directory(L->cfg, full, e.loc) != CR_OK))
        L->oom = true;
    free(full);
    free(path);
}

/* ---- the document ----------------------------------------------------------------------- */

static int on_section(void *ud, void *node, const char *file, cr_diag *diag)
{
    loader *L = ud;
    xmlNodePtr n = node;
    L->file = cr_config_intern(L->cfg, file);
    if (!L->file)
        return CR_ENOMEM;
    const char *name = cr_xml_name(n);
    if (!name)
        name = "";
    if (strcmp(name, "domains") == 0)
        load_domains(L, n);
    else if (strcmp(name, "locationProfiles") == 0)
        load_section(L, n, "locationProfile", load_profile, &L->default_profile_at,
                     "location profile", cr_config_set_default_profile);
    else if (strcmp(name, "phoneUsages") == 0)
        load_usages(L, n);
    else if (strcmp(name, "voicePolicies") == 0)
        load_section(L, n, "voicePolicy", load_policy, &L->default_policy_at, "voice policy",
                     cr_config_set_default_policy);
    else if (strcmp(name, "gateways") == 0)
        load_section(L, n, "gateway", load_gateway, NULL, NULL, NULL);
    else if (strcmp(name, "routes") == 0)
        load_section(L, n, "route", load_route, NULL, NULL, NULL);
    else if (strcmp(name, "users") == 0)
        load_section(L, n, "user", load_user, NULL, NULL, NULL);
    else if (strcmp(name, "directory") == 0)
        load_directory(L, n);
    else if (strcmp(name, "responseGroups") == 0) {
        cr_config_mark_response_groups(L->cfg);
        /* plan images carry the files that declare response groups as they are */
        const char *text;
        size_t len;
        if (cr_xml_source(n, &text, &len) &&
            cr_config_add_source(L->cfg, L->file, text, len) != CR_OK)
            L->oom = true;
        /* workflows' URIs and lines are call targets of the routing model */
        if (cr_rgs_targets_add(L->cfg, n, L->file) != CR_OK)
            L->oom = true;
    } else {
        elem e = {.L = L, .node = n->parent, .loc = {L->file, 0}};
        unknown_child(&e, n);
    }
    return L->oom ? CR_ENOMEM : 0;
}

int cr_rules_load(const char *path, cr_config **out, cr_diag *diag)
{
    return cr_rules_load_ex(path, NULL, out, diag);
}

int cr_rules_load_ex(const char *path, const cr_load_options *opts, cr_config **out, cr_diag *diag)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!path || !diag)
        return CR_EINVAL;
    if (cr_image_file_is(path))
        return cr_image_load(path, out, diag);
    loader L = {.diag = diag};
    L.cfg = cr_config_new();
    if (!L.cfg)
        return CR_ENOMEM;
    uint64_t digest = 0;
    int rc = cr_xml_walk_ex(path, opts, on_section, &L, diag, &digest);
    cr_config_set_source_digest(L.cfg, digest);
    if (rc == CR_OK && (L.errors || L.oom))
        rc = L.oom ? CR_ENOMEM : CR_ECONFIG;
    if (rc == CR_OK)
        rc = cr_config_compile(L.cfg, diag);
    if (rc == CR_OK && cr_config_directory(L.cfg, NULL))
        rc = cr_directory_check_named(L.cfg, diag);
    if (rc != CR_OK) {
        cr_config_free(L.cfg);
        return rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
    }
    *out = L.cfg;
#ifdef __GLIBC__
    /* the documents' nodes and the load-time lists are freed by now: give their pages back
     * (glibc keeps freed heap pages resident otherwise) */
    malloc_trim(0);
#endif
    return CR_OK;
}

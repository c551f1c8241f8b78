/*
 * The routing loader: <callroute> XML (SPEC §2.1) → cr_config_add_* calls → compile.
 *
 * The loader only checks the shape of the document (known elements and attributes, required
 * attributes, booleans and integers); names, patterns and translations are the engine's to
 * check in cr_config_compile(). Errors do not stop the walk, so an admin sees every mistake
 * at once; compile only runs on a document whose shape is right.
 */
#include "cr_rules.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_libxml.h"

#include "cr_directory.h"
#include "cr_xml.h"
#include "cr_xml_elem.h"
#include "cr_image.h"
#include "rgs_targets.h"
#include "cr_rgs_image.h"
#include "cr_rgs_xml.h"

typedef struct loader loader;
typedef void (*load_fn)(loader *, xmlNodePtr);

/* What one file's elements may declare once for the whole document (.file NULL: not yet):
 * a file refused as a whole after some of it was loaded takes its declarations back. */
typedef struct declared {
    cr_srcloc default_profile, default_policy, directory;
} declared;

struct loader {
    cr_config *cfg;
    cr_diag *diag;
    const char *file; /* of the section being loaded, interned in cfg */
    size_t errors;
    bool oom;
    declared at;
    declared saved[CR_XML_INCLUDE_MAX + 1]; /* at the start of each file being read */
    int nsaved;
    /* the section whose objects are being loaded one by one (on_open .. on_close) */
    const char *child; /* the objects' element */
    load_fn load;
    size_t text_slot; /* where an error about the section's text goes (cr_xml_unexpected_text) */
    cr_xml_element_fn also; /* given each <responseGroups> too (cr_rules_load_also), or NULL */
    void *also_ud;
};

/* An element being loaded: errors go to the loader's diagnostics and count as its errors. */
static void start(cr_xml_elem *e, loader *L)
{
    cr_xml_elem_init(e, L->file, L->diag, &L->errors);
}

static const char *const no_attrs[] = {NULL};

/* Copies an optional attribute into a field of a config object (unchanged when absent). */
static void set_str(loader *L, cr_xml_elem *e, char **field, const char *attr)
{
    char *v = cr_xml_attr(e->node, attr);
    if (!v)
        return;
    *field = cr_config_strdup(L->cfg, v);
    if (!*field)
        L->oom = true;
    free(v);
}

#define FOR_CHILDREN(c, e) CR_XML_FOR_ELEMENTS(c, (e)->node)

/* Appends the text of `c` to a name list (usages of a policy, gateways of a route, ...). */
static void add_name(loader *L, cr_xml_elem *parent, xmlNodePtr c, cr_namelist *l)
{
    cr_srcloc loc;
    char *t = cr_xml_text_of(parent, c, &loc, &L->oom);
    if (t && cr_namelist_add(L->cfg, l, t, loc) != CR_OK)
        L->oom = true;
    free(t);
}

/* Records a section's default="..." once for the whole document. */
static void set_default(loader *L, cr_xml_elem *e, cr_srcloc *seen, const char *what,
                        int (*set)(cr_config *, const char *, cr_srcloc))
{
    char *v = cr_xml_attr(e->node, "default");
    if (!v)
        return;
    if (seen->file)
        cr_xml_fail(e, "default %s already declared at %s:%d", what, seen->file, seen->line);
    else if (!v[0])
        cr_xml_fail(e, "attribute 'default' is empty");
    else if (set(L->cfg, v, e->loc) != CR_OK)
        L->oom = true;
    else
        *seen = e->loc;
    free(v);
}

/* ---- sections --------------------------------------------------------------------------- */

static void load_domains(loader *L, xmlNodePtr node)
{
    cr_xml_elem e;
    start(&e, L);
    cr_xml_begin(&e, node, no_attrs, false);
    FOR_CHILDREN(c, &e)
    {
        if (!cr_xml_is(c, "domain")) {
            cr_xml_unknown_child(&e, c);
            continue;
        }
        cr_srcloc loc;
        char *d = cr_xml_text_of(&e, c, &loc, &L->oom);
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
    cr_xml_elem e;
    start(&e, L);
    snprintf(owner, sizeof owner, "location profile '%s'", p->name);
    cr_xml_begin_object(&e, node, "rule", "name", owner, attrs);
    char *name = cr_xml_need(&e, "name");
    char *pattern = cr_xml_need(&e, "pattern");
    char *translation = cr_xml_need(&e, "translation");
    if (name && pattern && translation) {
        cr_rule *r = cr_profile_add_rule(L->cfg, p, name, e.loc);
        if (!r) {
            L->oom = true;
        } else {
            r->pattern = cr_config_strdup(L->cfg, pattern);
            r->translation = cr_config_strdup(L->cfg, translation);
            set_str(L, &e, &r->description, "description");
            cr_xml_get_bool(&e, "internalExtension", &r->internal_extension);
            cr_xml_get_bool(&e, "doNotDialFromDevice", &r->do_not_dial_from_device);
            if (!r->pattern || !r->translation)
                L->oom = true;
        }
    }
    FOR_CHILDREN(c, &e) cr_xml_unknown_child(&e, c);
    free(name);
    free(pattern);
    free(translation);
}

static void load_profile(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "description", "externalAccessPrefix", NULL};
    cr_xml_elem e;
    start(&e, L);
    cr_xml_begin_object(&e, node, "location profile", "name", NULL, attrs);
    char *name = cr_xml_need(&e, "name");
    cr_profile *p =
        cr_xml_made(name, name ? cr_config_add_profile(L->cfg, name, e.loc) : NULL, &L->oom);
    if (!p)
        return;
    set_str(L, &e, &p->description, "description");
    set_str(L, &e, &p->external_access_prefix, "externalAccessPrefix");
    FOR_CHILDREN(c, &e)
    {
        if (cr_xml_is(c, "rule"))
            load_rule(L, c, p);
        else
            cr_xml_unknown_child(&e, c);
    }
}

static void load_usages(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", NULL};
    cr_xml_elem e;
    start(&e, L);
    cr_xml_begin(&e, node, no_attrs, false);
    FOR_CHILDREN(c, &e)
    {
        if (!cr_xml_is(c, "usage")) {
            cr_xml_unknown_child(&e, c);
            continue;
        }
        cr_xml_elem u;
        start(&u, L);
        cr_xml_name_object(&u, "phone usage", NULL, NULL);
        cr_xml_begin(&u, c, attrs, false);
        char *name = cr_xml_need(&u, "name");
        if (name && !cr_config_add_usage(L->cfg, name, u.loc))
            L->oom = true;
        FOR_CHILDREN(x, &u) cr_xml_unknown_child(&u, x);
        free(name);
    }
}

static void load_policy(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {
        "name",       "description", "simultaneousRing", "callForwarding", "teamCall",
        "delegation", NULL};
    cr_xml_elem e;
    start(&e, L);
    cr_xml_begin_object(&e, node, "voice policy", "name", NULL, attrs);
    char *name = cr_xml_need(&e, "name");
    cr_policy *p =
        cr_xml_made(name, name ? cr_config_add_policy(L->cfg, name, e.loc) : NULL, &L->oom);
    if (!p)
        return;
    set_str(L, &e, &p->description, "description");
    cr_xml_get_bool(&e, "simultaneousRing", &p->simultaneous_ring);
    cr_xml_get_bool(&e, "callForwarding", &p->call_forwarding);
    cr_xml_get_bool(&e, "teamCall", &p->team_call);
    cr_xml_get_bool(&e, "delegation", &p->delegation);
    FOR_CHILDREN(c, &e)
    {
        if (cr_xml_is(c, "usage"))
            add_name(L, &e, c, &p->usages);
        else
            cr_xml_unknown_child(&e, c);
    }
}

static void load_gateway(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name",  "address", "removePlus", "locationProfile",
                                        "ports", NULL};
    cr_xml_elem e;
    start(&e, L);
    cr_xml_begin_object(&e, node, "gateway", "name", NULL, attrs);
    char *name = cr_xml_need(&e, "name");
    char *address = cr_xml_need(&e, "address");
    if (name && address) {
        cr_gateway *g = cr_config_add_gateway(L->cfg, name, e.loc);
        if (!g || !(g->address = cr_config_strdup(L->cfg, address))) {
            L->oom = true;
        } else {
            cr_xml_get_bool(&e, "removePlus", &g->remove_plus);
            set_str(L, &e, &g->profile, "locationProfile");
            cr_xml_get_int(&e, "ports", 0, 1000000, &g->ports);
        }
    }
    FOR_CHILDREN(c, &e) cr_xml_unknown_child(&e, c);
    free(name);
    free(address);
}

/* The route `name` with its pattern (load_route and load_flat_route); NULL when out of memory. */
static cr_route *add_route(loader *L, const char *name, const char *pattern, cr_srcloc loc)
{
    cr_route *r = cr_config_add_route(L->cfg, name, loc);
    if (!r || !(r->pattern = cr_config_strdup(L->cfg, pattern))) {
        L->oom = true;
        return NULL;
    }
    return r;
}

static void load_route(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"name", "description", "pattern", NULL};
    cr_xml_elem e;
    start(&e, L);
    cr_xml_begin_object(&e, node, "route", "name", NULL, attrs);
    char *name = cr_xml_need(&e, "name");
    char *pattern = cr_xml_need(&e, "pattern");
    cr_route *r = name && pattern ? add_route(L, name, pattern, e.loc) : NULL;
    if (r)
        set_str(L, &e, &r->description, "description");
    free(name);
    free(pattern);
    FOR_CHILDREN(c, &e)
    {
        if (cr_xml_is(c, "usage") && r)
            add_name(L, &e, c, &r->usages);
        else if (cr_xml_is(c, "gateway") && r)
            add_name(L, &e, c, &r->gateways);
        else if (!cr_xml_is(c, "usage") && !cr_xml_is(c, "gateway"))
            cr_xml_unknown_child(&e, c);
    }
}

/* A flat route's attributes, and whether load_route would load it without a message: every
 * attribute known, name and pattern given and not empty, every child a <usage> or <gateway>
 * with text. Then load_flat_route does what load_route does (the usual shape of a dial plan's
 * 400,000 routes, read without building nodes). */
typedef struct flat_route {
    const char *name, *pattern, *description;
} flat_route;

static bool flat_route_ok(const cr_xml_flat *o, flat_route *r)
{
    *r = (flat_route){NULL, NULL, NULL};
    for (size_t i = 0; i < o->nattrs; i++) {
        const char *a = o->attr[i];
        const char **to = strcmp(a, "name") == 0          ? &r->name
                          : strcmp(a, "pattern") == 0     ? &r->pattern
                          : strcmp(a, "description") == 0 ? &r->description
                                                          : NULL;
        if (!to)
            return false;
        *to = o->value[i];
    }
    if (!r->name || !r->name[0] || !r->pattern || !r->pattern[0])
        return false;
    for (size_t i = 0; i < o->nkids; i++)
        if (!o->kid[i].text[0] ||
            (strcmp(o->kid[i].name, "usage") != 0 && strcmp(o->kid[i].name, "gateway") != 0))
            return false;
    return true;
}

static void load_flat_route(loader *L, const cr_xml_flat *o, const flat_route *f)
{
    cr_route *r = add_route(L, f->name, f->pattern, (cr_srcloc){L->file, o->line});
    if (!r)
        return;
    if (f->description && !(r->description = cr_config_strdup(L->cfg, f->description))) {
        L->oom = true;
        return;
    }
    for (size_t i = 0; i < o->nkids; i++) {
        cr_namelist *l = o->kid[i].name[0] == 'u' ? &r->usages : &r->gateways;
        if (cr_namelist_add(L->cfg, l, o->kid[i].text, (cr_srcloc){L->file, o->kid[i].line}) !=
            CR_OK)
            L->oom = true;
    }
}

/*
 * A section of `child` elements, each loaded by `load` as the walk hands it over (on_object).
 * With `seen`, the section may name the document's default (default="...", once per document:
 * `what` in messages, `set` records it). Its text is checked at its end (on_close).
 */
static void open_section(loader *L, xmlNodePtr node, const char *child, load_fn load,
                         cr_srcloc *seen, const char *what,
                         int (*set)(cr_config *, const char *, cr_srcloc))
{
    static const char *const default_attrs[] = {"default", NULL};
    cr_xml_elem e;
    start(&e, L);
    cr_xml_begin(&e, node, seen ? default_attrs : no_attrs, true);
    L->text_slot = L->diag->count;
    L->child = child;
    L->load = load;
    if (seen)
        set_default(L, &e, seen, what, set);
}

static void load_user_child(loader *L, cr_xml_elem *e, xmlNodePtr c, cr_user *u, bool *seen)
{
    static const char *const kids[] = {"simultaneousRing", "forwarding", "teamCall"};
    cr_xml_elem x = *e;
    for (int i = 0; i < 3; i++) {
        if (!cr_xml_is(c, kids[i]))
            continue;
        if (seen[i]) {
            cr_xml_fail_at(&x, c, "<%s> given twice", kids[i]);
            return;
        }
        seen[i] = true;
    }
    if (cr_xml_is(c, "simultaneousRing")) {
        cr_xml_begin(&x, c, cr_xml_ring_attrs, false);
        char *t = cr_xml_need(&x, "target");
        if (t && !(u->simultaneous_ring = cr_config_strdup(L->cfg, t)))
            L->oom = true;
        free(t);
        FOR_CHILDREN(y, &x) cr_xml_unknown_child(&x, y);
    } else if (cr_xml_is(c, "forwarding")) {
        cr_xml_begin(&x, c, cr_xml_forwarding_attrs, false);
        set_str(L, &x, &u->forwarding.immediate, "immediate");
        cr_xml_get_int(&x, "noAnswerAfter", 1, 3600, &u->forwarding.no_answer_after);
        set_str(L, &x, &u->forwarding.no_answer_target, "noAnswerTarget");
        FOR_CHILDREN(y, &x) cr_xml_unknown_child(&x, y);
    } else if (cr_xml_is(c, "teamCall")) {
        cr_xml_begin(&x, c, cr_xml_team_attrs, false);
        cr_xml_get_int(&x, "delay", 0, 3600, &u->team_call_delay);
        FOR_CHILDREN(y, &x)
        {
            if (cr_xml_is(y, "member"))
                add_name(L, &x, y, &u->team_call);
            else
                cr_xml_unknown_child(&x, y);
        }
    } else if (cr_xml_is(c, "delegate")) {
        add_name(L, e, c, &u->delegates);
    } else {
        cr_xml_unknown_child(e, c);
    }
}

static void load_user(loader *L, xmlNodePtr node)
{
    cr_xml_elem e;
    start(&e, L);
    cr_xml_begin_object(&e, node, "user", "uri", NULL, cr_xml_user_attrs);
    char *uri = cr_xml_need(&e, "uri");
    cr_user *u = cr_xml_made(uri, uri ? cr_config_add_user(L->cfg, uri, e.loc) : NULL, &L->oom);
    if (!u)
        return;
    set_str(L, &e, &u->line, "line");
    cr_xml_get_bool(&e, "enterpriseVoice", &u->enterprise_voice);
    cr_xml_get_bool(&e, "pbxIntegration", &u->pbx_integration);
    set_str(L, &e, &u->policy, "voicePolicy");
    set_str(L, &e, &u->profile, "locationProfile");
    set_str(L, &e, &u->voicemail, "voicemail");
    bool seen[3] = {false, false, false};
    FOR_CHILDREN(c, &e) load_user_child(L, &e, c, u, seen);
}

/* <directory path="..."/>: the LMDB user directory, relative to the naming file. */
static void load_directory(loader *L, xmlNodePtr node)
{
    static const char *const attrs[] = {"path", NULL};
    cr_xml_elem e;
    start(&e, L);
    cr_xml_name_object(&e, "directory", NULL, NULL);
    cr_xml_begin(&e, node, attrs, false);
    FOR_CHILDREN(c, &e) cr_xml_unknown_child(&e, c);
    const cr_srcloc prev = L->at.directory;
    if (prev.file) {
        cr_xml_fail(&e, "a user directory is already named at %s:%d", prev.file, prev.line);
        return;
    }
    char *path = cr_xml_need(&e, "path");
    if (!path)
        return;
    const char *slash = path[0] == '/' ? NULL : strrchr(L->file, '/');
    size_t dl = slash ? (size_t)(slash - L->file) + 1 : 0;
    char *full = malloc(dl + strlen(path) + 1);
    if (!full || (memcpy(full, L->file, dl), strcpy(full + dl, path),
                  cr_config_set_directory(L->cfg, full, e.loc) != CR_OK))
        L->oom = true;
    else
        L->at.directory = e.loc;
    free(full);
    free(path);
}

/* ---- the document ----------------------------------------------------------------------- */

/* A section's start tag: the sections of many objects are loaded one object at a time. */
static int on_open(void *ud, void *node, const char *file, cr_diag *diag, cr_xml_take *take)
{
    loader *L = ud;
    L->file = cr_config_intern(L->cfg, file);
    if (!L->file)
        return CR_ENOMEM;
    const char *name = cr_xml_name(node);
    *take = CR_XML_TAKE_OBJECTS;
    if (!name)
        *take = CR_XML_TAKE_WHOLE;
    else if (strcmp(name, "routes") == 0) {
        open_section(L, node, "route", load_route, NULL, NULL, NULL);
        *take = CR_XML_TAKE_FLAT;
    } else if (strcmp(name, "users") == 0)
        open_section(L, node, "user", load_user, NULL, NULL, NULL);
    else if (strcmp(name, "gateways") == 0)
        open_section(L, node, "gateway", load_gateway, NULL, NULL, NULL);
    else if (strcmp(name, "locationProfiles") == 0)
        open_section(L, node, "locationProfile", load_profile, &L->at.default_profile,
                     "location profile", cr_config_set_default_profile);
    else if (strcmp(name, "voicePolicies") == 0)
        open_section(L, node, "voicePolicy", load_policy, &L->at.default_policy, "voice policy",
                     cr_config_set_default_policy);
    else
        *take = CR_XML_TAKE_WHOLE;
    return L->oom ? CR_ENOMEM : 0;
}

/* The section's element, as errors about it name it. */
static void section_elem(cr_xml_elem *e, loader *L, xmlNodePtr section)
{
    start(e, L);
    e->node = section;
    e->loc.line = cr_xml_line(section);
}

static int on_object(void *ud, void *section, void *node, const char *file, cr_diag *diag)
{
    loader *L = ud;
    if (cr_xml_is(node, L->child)) {
        L->load(L, node);
    } else {
        cr_xml_elem e;
        section_elem(&e, L, section);
        cr_xml_unknown_child(&e, node);
    }
    return L->oom ? CR_ENOMEM : 0;
}

/* An object offered without nodes (cr_xml_flat): taken only when it loads without a message,
 * exactly as on_object would load its nodes. */
static int on_flat(void *ud, void *section, const cr_xml_flat *o, const char *file, cr_diag *diag,
                   bool *taken)
{
    loader *L = ud;
    flat_route f;
    *taken = L->load == load_route && strcmp(o->name, L->child) == 0 && flat_route_ok(o, &f);
    if (*taken)
        load_flat_route(L, o, &f);
    return L->oom ? CR_ENOMEM : 0;
}

static int on_close(void *ud, void *section, int text_line, const char *file, cr_diag *diag)
{
    loader *L = ud;
    if (text_line) {
        cr_xml_elem e;
        section_elem(&e, L, section);
        cr_xml_unexpected_text(&e, L->text_slot, text_line);
    }
    return 0;
}

/* The other top-level elements, each whole at its end tag. */
static int on_whole(void *ud, void *node, const char *file, cr_diag *diag)
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
    else if (strcmp(name, "phoneUsages") == 0)
        load_usages(L, n);
    else if (strcmp(name, "directory") == 0)
        load_directory(L, n);
    else if (strcmp(name, "responseGroups") == 0) {
        cr_config_mark_response_groups(L->cfg);
        /* workflows' URIs and lines are call targets of the routing model */
        if (cu_rgs_targets_add(L->cfg, n, L->file) != CR_OK)
            L->oom = true;
        int rc = L->also ? L->also(L->also_ud, n, file, diag) : 0;
        if (rc != 0)
            return rc;
    } else {
        cr_xml_elem e;
        start(&e, L);
        e.node = n->parent;
        cr_xml_unknown_child(&e, n);
    }
    return L->oom ? CR_ENOMEM : 0;
}

static void on_file_begin(void *ud)
{
    loader *L = ud;
    if (L->nsaved <= CR_XML_INCLUDE_MAX)
        L->saved[L->nsaved] = L->at;
    L->nsaved++;
}

static void on_file_end(void *ud, bool kept)
{
    loader *L = ud;
    if (--L->nsaved <= CR_XML_INCLUDE_MAX && !kept)
        L->at = L->saved[L->nsaved];
}

static const cr_xml_stream loader_stream = {.open = on_open,
                                            .whole = on_whole,
                                            .object = on_object,
                                            .close = on_close,
                                            .file_begin = on_file_begin,
                                            .file_end = on_file_end,
                                            .flat = on_flat};

int cr_rules_load(const char *path, cr_config **out, cr_diag *diag)
{
    return cr_rules_load_ex(path, NULL, out, diag);
}

/* The routing configuration with its response groups compiled in (cr_rgs_image.h), for its plan
 * image: read during the same walk. Response groups that do not load are not compiled, and
 * their errors are not this load's to report (crp_load_ex refuses such a document; an image of
 * it is refused by cr_image_write). */
int cr_rules_load_ex(const char *path, const cr_load_options *opts, cr_config **out, cr_diag *diag)
{
    if (cr_image_file_is(path))
        return cr_rules_load_also(path, opts, NULL, NULL, out, diag);
    cr_rgs_xml_loader *rl = cr_rgs_xml_loader_new();
    if (!rl)
        return CR_ENOMEM;
    int rc = cr_rules_load_also(path, opts, cr_rgs_xml_loader_element, rl, out, diag);
    if (rc != CR_OK || !cr_config_has_response_groups(*out)) {
        cr_rgs_xml_loader_free(rl);
        return rc;
    }
    cr_diag aside;
    cr_diag_init(&aside);
    cr_rgs_config *rgs = NULL;
    rc = cr_rgs_xml_loader_finish(rl, &rgs, &aside);
    cr_diag_free(&aside);
    if (rc == CR_OK)
        rc = cr_rgs_image_attach(*out, rgs);
    cr_rgs_config_free(rgs);
    if (rc == CR_ENOMEM) {
        cr_config_free(*out);
        *out = NULL;
        return rc;
    }
    return CR_OK;
}

int cr_rules_load_also(const char *path, const cr_load_options *opts, cr_xml_element_fn also,
                       void *also_ud, cr_config **out, cr_diag *diag)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    if (!path || !diag)
        return CR_EINVAL;
    if (cr_image_file_is(path))
        return cr_image_load_ex(path, opts && opts->image_no_lint ? CR_IMAGE_NOLINT : 0, out, diag);
    loader L = {.diag = diag, .also = also, .also_ud = also_ud};
    L.cfg = cr_config_new();
    if (!L.cfg)
        return CR_ENOMEM;
    if (opts && opts->image_only)
        cr_config_set_image_only(L.cfg);
    uint64_t digest = 0;
    int rc = cr_xml_walk_stream(path, opts, &loader_stream, &L, diag, &digest);
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

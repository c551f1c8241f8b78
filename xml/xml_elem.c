/* Reading one element of a callroute document (cr_xml_elem.h). */
#include "cr_xml_elem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_libxml.h"

void *cr_xml_next_element(const void *node)
{
    xmlNodePtr n = node ? ((const xmlNode *)node)->next : NULL;
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

void *cr_xml_first_element(const void *node)
{
    xmlNodePtr n = node ? ((const xmlNode *)node)->children : NULL;
    return n && n->type != XML_ELEMENT_NODE ? cr_xml_next_element(n) : n;
}

void cr_xml_elem_init(cr_xml_elem *e, const char *file, cr_diag *diag, size_t *errors)
{
    /* field by field: once per object, and the name buffer only needs its terminator */
    e->node = NULL;
    e->loc = (cr_srcloc){file, 0};
    e->diag = diag;
    e->errors = errors;
    e->object[0] = '\0';
}

/* Appends `s` to e->object at *o, truncated as snprintf would (once per object: no printf). */
static void put(cr_xml_elem *e, size_t *o, const char *s)
{
    size_t room = sizeof e->object - 1 - *o, n = strlen(s);
    if (n > room)
        n = room;
    memcpy(e->object + *o, s, n);
    *o += n;
    e->object[*o] = '\0';
}

void cr_xml_name_object(cr_xml_elem *e, const char *kind, const char *name, const char *owner)
{
    size_t o = 0;
    e->object[0] = '\0';
    put(e, &o, kind);
    if (!name)
        return;
    put(e, &o, " '");
    put(e, &o, name);
    put(e, &o, "'");
    if (owner) {
        put(e, &o, " of ");
        put(e, &o, owner);
    }
}

static void count(const cr_xml_elem *e, size_t n)
{
    if (e->errors)
        *e->errors += n;
}

bool cr_xml_begin(cr_xml_elem *e, void *node, const char *const *allowed, bool text_ok)
{
    e->node = node;
    e->loc.line = cr_xml_line(node);
    int bad =
        cr_xml_check(node, allowed, text_ok, e->loc.file, e->object[0] ? e->object : NULL, e->diag);
    count(e, (size_t)bad);
    return bad == 0;
}

bool cr_xml_begin_object(cr_xml_elem *e, void *node, const char *kind, const char *attr,
                         const char *owner, const char *const *allowed)
{
    char *v = cr_xml_attr(node, attr);
    cr_xml_name_object(e, kind, v && v[0] ? v : NULL, owner);
    free(v);
    return cr_xml_begin(e, node, allowed, false);
}

void *cr_xml_made(char *name, void *obj, bool *oom)
{
    if (name && !obj)
        *oom = true;
    free(name);
    return obj;
}

static void vfail(cr_xml_elem *e, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vfail(cr_xml_elem *e, int line, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cr_srcloc loc = {e->loc.file, line};
    cr_diag_add(e->diag, CR_DIAG_ERROR, loc, e->object[0] ? e->object : NULL, "%s", msg);
    count(e, 1);
}

void cr_xml_fail(cr_xml_elem *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(e, e->loc.line, fmt, ap);
    va_end(ap);
}

static void fail_line(cr_xml_elem *e, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_line(cr_xml_elem *e, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(e, line, fmt, ap);
    va_end(ap);
}

void cr_xml_fail_at(cr_xml_elem *e, const void *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(e, cr_xml_line(node), fmt, ap);
    va_end(ap);
}

char *cr_xml_need(cr_xml_elem *e, const char *attr)
{
    char *v = cr_xml_attr(e->node, attr);
    if (!v) {
        cr_xml_fail(e, "missing required attribute '%s'", attr);
    } else if (!v[0]) {
        cr_xml_fail(e, "attribute '%s' is empty", attr);
        free(v);
        v = NULL;
    }
    return v;
}

bool cr_xml_get_bool(cr_xml_elem *e, const char *attr, bool *out)
{
    char *v = cr_xml_attr(e->node, attr);
    bool ok = !v || cr_xml_parse_bool(v, out) == 0;
    if (!ok)
        cr_xml_fail(e, "attribute '%s' is '%s', expected true, false, 1 or 0", attr, v);
    free(v);
    return ok;
}

bool cr_xml_get_int(cr_xml_elem *e, const char *attr, long min, long max, int *out)
{
    char *v = cr_xml_attr(e->node, attr);
    long n = 0;
    bool ok = !v || cr_xml_parse_int(v, min, max, &n) == 0;
    if (!ok)
        cr_xml_fail(e, "attribute '%s' is '%s', expected a whole number from %ld to %ld", attr, v,
                    min, max);
    else if (v)
        *out = (int)n;
    free(v);
    return ok;
}

void cr_xml_unknown_child(cr_xml_elem *e, const void *c)
{
    const xmlNode *n = c, *parent = e->node;
    const char *pname = parent ? (const char *)parent->name : "?";
    if (n->ns && !cr_xml_name(n))
        cr_xml_fail_at(e, n, "element <%s> of namespace '%s' is not allowed in <%s>",
                       (const char *)n->name, (const char *)n->ns->href, pname);
    else
        cr_xml_fail_at(e, n, "unknown element <%s> in <%s>", (const char *)n->name, pname);
}

void cr_xml_unexpected_text(cr_xml_elem *e, size_t slot, int line)
{
    cr_diag *d = e->diag;
    size_t before = d ? d->count : 0;
    fail_line(e, line, "unexpected text in <%s>", (const char *)((xmlNode *)e->node)->name);
    if (!d || d->count != before + 1 || slot >= before)
        return;
    cr_diag_item it = d->items[before];
    memmove(&d->items[slot + 1], &d->items[slot], (before - slot) * sizeof it);
    d->items[slot] = it;
}

bool cr_xml_is(const void *node, const char *name)
{
    /* the local name first: most calls are a mismatch, decided without the namespace */
    const xmlNode *n = node;
    if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name) != 0)
        return false;
    return cr_xml_name(node) != NULL;
}

char *cr_xml_text_of(const cr_xml_elem *parent, void *c, cr_srcloc *loc, bool *oom)
{
    static const char *const no_attrs[] = {NULL};
    const xmlNode *n = c;
    /* what cr_xml_begin on a copy of the parent would do, without the copy (one per name) */
    cr_srcloc at = {parent->loc.file, cr_xml_line(c)};
    int bad = cr_xml_check(c, no_attrs, true, at.file, parent->object[0] ? parent->object : NULL,
                           parent->diag);
    count(parent, (size_t)bad);
    if (bad)
        return NULL;
    if (loc)
        *loc = at;
    const xmlNode *x = cr_xml_first_element(c);
    char *t = x ? NULL : cr_xml_text(c);
    if (!x && !t) {
        *oom = true;
        return NULL;
    }
    if (t && t[0])
        return t;
    free(t);
    cr_xml_elem e = *parent;
    e.node = c;
    e.loc = at;
    if (x)
        cr_xml_fail(&e, "unexpected element <%s> in <%s>", (const char *)x->name,
                    (const char *)n->name);
    else
        cr_xml_fail(&e, "<%s> is empty", (const char *)n->name);
    return NULL;
}

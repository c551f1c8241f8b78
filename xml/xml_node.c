/* Reading the elements of a callroute document (cr_xml_node.h): libxml2 nodes to C values. */
#include "cr_xml_node.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_libxml.h"

const char *const cr_xml_user_attrs[] = {"uri",
                                         "line",
                                         "enterpriseVoice",
                                         "voicePolicy",
                                         "locationProfile",
                                         "voicemail",
                                         "pbxIntegration",
                                         NULL};
const char *const cr_xml_ring_attrs[] = {"target", NULL};
const char *const cr_xml_forwarding_attrs[] = {"immediate", "noAnswerAfter", "noAnswerTarget",
                                               NULL};
const char *const cr_xml_team_attrs[] = {"delay", NULL};

int cr_xml_line(const void *node)
{
    const xmlNode *n = node;
    if (n && n->type == XML_ELEMENT_NODE && n->_private)
        return (int)(intptr_t)n->_private;
    long line = node ? sym_xmlGetLineNo((xmlNodePtr)node) : 0;
    return line > 0 && line <= INT_MAX ? (int)line : 0;
}

const char *cr_xml_name(const void *node)
{
    const xmlNode *n = node;
    if (!n || n->type != XML_ELEMENT_NODE)
        return NULL;
    if (n->ns && n->ns->href && strcmp((const char *)n->ns->href, CR_XML_NS) != 0)
        return NULL;
    return (const char *)n->name;
}

/* The text of `n`'s children when it is one text node (an attribute's value, an element's
 * text as the parser usually builds them), borrowed; NULL otherwise. */
static const char *single_text(const xmlNode *n)
{
    const xmlNode *c = n->children;
    if (c && !c->next && c->type == XML_TEXT_NODE)
        return c->content ? (const char *)c->content : "";
    return NULL;
}

char *cr_xml_attr(const void *node, const char *name)
{
    const xmlNode *n = node;
    if (!n || n->type != XML_ELEMENT_NODE)
        return NULL;
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (a->ns || strcmp((const char *)a->name, name) != 0)
            continue;
        /* the common case without libxml2's copy of the value */
        const char *t = single_text((const xmlNode *)a);
        if (t)
            return strdup(t);
        if (!a->children)
            return strdup("");
        break;
    }
    xmlChar *v = sym_xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = strdup((const char *)v);
    cr_libxml_free(v);
    return s;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char *cr_xml_text(const void *node)
{
    const xmlNode *e = node;
    const char *t = e && e->type == XML_ELEMENT_NODE ? single_text(e) : NULL;
    xmlChar *v = t ? NULL : sym_xmlNodeGetContent(e);
    const char *s = t ? t : v ? (const char *)v : "";
    while (is_space((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    char *out = strndup(s, n);
    cr_libxml_free(v);
    return out;
}

static bool blank(const xmlChar *s)
{
    for (; s && *s; s++)
        if (!is_space(*s))
            return false;
    return true;
}

int cr_xml_check(const void *node, const char *const *allowed, bool text_ok, const char *file,
                 const char *object, cr_diag *diag)
{
    const xmlNode *n = node;
    int errors = 0;
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (a->ns)
            continue;
        bool known = false;
        for (size_t i = 0; allowed && allowed[i] && !known; i++)
            known = strcmp((const char *)a->name, allowed[i]) == 0;
        if (!known) {
            cr_srcloc loc = {file, cr_xml_line(n)};
            cr_diag_add(diag, CR_DIAG_ERROR, loc, object, "unknown attribute '%s' on <%s>",
                        (const char *)a->name, (const char *)n->name);
            errors++;
        }
    }
    if (text_ok)
        return errors;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && !blank(c->content)) {
            cr_srcloc loc = {file, cr_xml_line(c) ? cr_xml_line(c) : cr_xml_line(n)};
            cr_diag_add(diag, CR_DIAG_ERROR, loc, object, "unexpected text in <%s>",
                        (const char *)n->name);
            errors++;
            break;
        }
    }
    return errors;
}

int cr_xml_parse_bool(const char *s, bool *out)
{
    if (!s)
        return CR_EINVAL;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return CR_EINVAL;
    return 0;
}

int cr_xml_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s || is_space((unsigned char)*s))
        return CR_EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return CR_EINVAL;
    *out = v;
    return 0;
}

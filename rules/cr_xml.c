/*
 * The document walk shared by the configuration loaders: hardened libxml2 parsing, root
 * check, and <include href> expansion with cycle detection.
 */
#include "cr_xml.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>

/* What one parse learned through its SAX hooks and error handler. */
typedef struct parse_state {
    int depth;
    bool failed; /* our own error (depth, DOCTYPE) */
    bool have_err;
    int err_line;
    char err_msg[512];
} parse_state;

typedef struct walk {
    cr_xml_element_fn fn;
    void *ud;
    cr_diag *diag;
    char *real[CR_XML_INCLUDE_MAX + 1]; /* canonical paths of the files being walked */
    char *shown[CR_XML_INCLUDE_MAX + 1];
    int depth;
    char **files; /* every file name handed to callbacks, freed at the end */
    size_t nfiles, capfiles;
    int errors;
} walk;

static void set_error(parse_state *st, int line, const char *msg)
{
    if (st->have_err)
        return;
    st->have_err = true;
    st->err_line = line;
    snprintf(st->err_msg, sizeof st->err_msg, "%s", msg);
    /* libxml2 messages end with a newline and may span lines ("Bytes: 0x.."). */
    for (char *p = st->err_msg; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    size_t n = strlen(st->err_msg);
    while (n > 0 && st->err_msg[n - 1] == ' ')
        st->err_msg[--n] = '\0';
}

static parse_state *state_of(void *ctx)
{
    return ((xmlParserCtxtPtr)ctx)->_private;
}

static int ctxt_line(xmlParserCtxtPtr ctxt)
{
    return ctxt->input ? ctxt->input->line : 0;
}

static void on_error(void *ctx, xmlErrorPtr err)
{
    xmlParserCtxtPtr ctxt = ctx;
    if (!ctxt || !err || err->level < XML_ERR_ERROR)
        return;
    set_error(ctxt->_private, err->line, err->message ? err->message : "parse error");
}

/*
 * The line where the start tag being reported begins. libxml2 records the line where the tag
 * ends, which for an element whose attributes span several lines is not where an admin looks.
 * Attribute values cannot hold a raw '<', so the nearest one before the cursor opens the tag.
 */
static int start_line(xmlParserCtxtPtr ctxt)
{
    xmlParserInputPtr in = ctxt->input;
    if (!in || !in->cur || !in->base)
        return 0;
    int nl = 0;
    for (const xmlChar *p = in->cur; p > in->base;) {
        p--;
        if (*p == '<')
            return in->line - nl;
        if (*p == '\n')
            nl++;
    }
    return 0;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_ns, const xmlChar **ns, int nb_attr, int nb_def, const xmlChar **attrs)
{
    parse_state *st = state_of(ctx);
    if (++st->depth > CR_XML_DEPTH_MAX) {
        char msg[128];
        snprintf(msg, sizeof msg, "elements nested deeper than %d levels", CR_XML_DEPTH_MAX);
        set_error(st, ctxt_line(ctx), msg);
        st->failed = true;
        xmlStopParser(ctx);
        return;
    }
    xmlParserCtxtPtr ctxt = ctx;
    int line = start_line(ctxt);
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_ns, ns, nb_attr, nb_def, attrs);
    /* node->line saturates at 65535; _private (the application's) keeps the exact line. */
    if (ctxt->node && line > 0)
        ctxt->node->_private = (void *)(intptr_t)line;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    parse_state *st = state_of(ctx);
    st->depth--;
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/* A DOCTYPE is where entities would be declared: refuse it before any is. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id, const xmlChar *sys_id)
{
    parse_state *st = state_of(ctx);
    set_error(st, ctxt_line(ctx), "DOCTYPE declarations are not allowed in a configuration");
    st->failed = true;
    xmlStopParser(ctx);
}

static void add_error(walk *w, const char *file, int line, const char *object, const char *fmt,
                      const char *a, const char *b)
{
    cr_srcloc loc = {file, line};
    cr_diag_add(w->diag, CR_DIAG_ERROR, loc, object, fmt, a, b);
    w->errors++;
}

/* Reads a whole file; NULL with errno set on failure. */
static char *read_file(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
        int e = S_ISDIR(sb.st_mode) ? EISDIR : errno;
        fclose(f);
        errno = e;
        return NULL;
    }
    if (sb.st_size > CR_XML_FILE_MAX) {
        fclose(f);
        errno = EFBIG;
        return NULL;
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    size_t n = fread(buf, 1, (size_t)sb.st_size, f);
    int e = ferror(f) ? errno : 0;
    fclose(f);
    if (e) {
        free(buf);
        errno = e;
        return NULL;
    }
    buf[n] = '\0';
    *len = (long)n;
    return buf;
}

/*
 * Parses one file. On failure adds the error (at `shown`:line, or at the includer's line
 * `from_file:from_line` when the file cannot be read) and returns NULL.
 */
static xmlDocPtr parse_file(walk *w, const char *path, const char *shown, const char *from_file,
                            int from_line)
{
    long len = 0;
    char *buf = read_file(path, &len);
    if (!buf) {
        const char *why = strerror(errno);
        if (from_file)
            add_error(w, from_file, from_line, NULL, "include '%s': %s", shown, why);
        else
            add_error(w, shown, 0, NULL, "cannot read '%s': %s", shown, why);
        return NULL;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        free(buf);
        add_error(w, shown, 0, NULL, "%s%s", "out of memory", "");
        return NULL;
    }
    parse_state st = {0};
    ctxt->_private = &st;
    ctxt->sax->serror = on_error;
    ctxt->sax->startElementNs = on_start;
    ctxt->sax->endElementNs = on_end;
    ctxt->sax->internalSubset = on_doctype;
    /* Deliberately not XML_PARSE_NOENT, DTDLOAD, HUGE or XINCLUDE. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES;
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, buf, (int)len, shown, NULL, opts);
    bool ok = doc && ctxt->wellFormed && !st.failed && !st.have_err;
    free(buf);
    if (!ok) {
        if (st.have_err)
            add_error(w, shown, st.err_line, NULL, "%s%s", st.err_msg, "");
        else
            add_error(w, shown, ctxt_line(ctxt), NULL, "%s%s", "not well-formed XML", "");
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

static const char *intern_file(walk *w, const char *s)
{
    if (w->nfiles == w->capfiles) {
        size_t cap = w->capfiles ? w->capfiles * 2 : 8;
        char **p = realloc(w->files, cap * sizeof *p);
        if (!p)
            return NULL;
        w->files = p;
        w->capfiles = cap;
    }
    char *c = strdup(s);
    if (c)
        w->files[w->nfiles++] = c;
    return c;
}

/* Resolves `href` against the directory of `base`. The caller frees the result. */
static char *resolve_href(const char *base, const char *href)
{
    if (href[0] == '/')
        return strdup(href);
    const char *slash = strrchr(base, '/');
    size_t dirlen = slash ? (size_t)(slash - base) + 1 : 0;
    size_t n = dirlen + strlen(href) + 1;
    char *p = malloc(n);
    if (p) {
        memcpy(p, base, dirlen);
        strcpy(p + dirlen, href);
    }
    return p;
}

static int walk_file(walk *w, const char *path, const char *from_file, int from_line);

static int walk_include(walk *w, xmlNodePtr node, const char *file)
{
    static const char *const allowed[] = {"href", NULL};
    int line = cr_xml_line(node);
    int bad = cr_xml_check(node, allowed, false, file, "include", w->diag);
    if (bad > 0) {
        w->errors += bad;
        return 0;
    }
    char *href = cr_xml_attr(node, "href");
    if (!href || !href[0]) {
        add_error(w, file, line, "include", "%s%s", "missing attribute 'href'", "");
        free(href);
        return 0;
    }
    char *path = resolve_href(file, href);
    free(href);
    if (!path)
        return CR_ENOMEM;
    int rc = walk_file(w, path, file, line);
    free(path);
    return rc;
}

static int walk_root(walk *w, xmlDocPtr doc, const char *file)
{
    static const char *const none[] = {NULL};
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "callroute") != 0) {
        add_error(w, file, root ? cr_xml_line(root) : 0, NULL,
                  "root element is <%s>, expected <callroute xmlns=\"%s\">",
                  root ? (const char *)root->name : "", CR_XML_NS);
        return 0;
    }
    if (root->ns && strcmp((const char *)root->ns->href, CR_XML_NS) != 0) {
        add_error(w, file, cr_xml_line(root), NULL,
                  "root element <callroute> is in namespace '%s', expected '%s' (or none)",
                  (const char *)root->ns->href, CR_XML_NS);
        return 0;
    }
    w->errors += cr_xml_check(root, none, false, file, NULL, w->diag);
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *name = cr_xml_name(n);
        int rc = name && strcmp(name, "include") == 0 ? walk_include(w, n, file)
                                                      : w->fn(w->ud, n, file, w->diag);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int walk_file(walk *w, const char *path, const char *from_file, int from_line)
{
    const char *file = intern_file(w, path);
    if (!file)
        return CR_ENOMEM;
    if (w->depth >= CR_XML_INCLUDE_MAX) {
        add_error(w, from_file, from_line, NULL, "include '%s': includes nested deeper than %s",
                  file, "16");
        return 0;
    }
    char *real = realpath(path, NULL);
    if (!real) {
        const char *why = strerror(errno);
        if (from_file)
            add_error(w, from_file, from_line, NULL, "include '%s': %s", file, why);
        else
            add_error(w, file, 0, NULL, "cannot read '%s': %s", file, why);
        return 0;
    }
    for (int i = 0; i < w->depth; i++) {
        if (strcmp(w->real[i], real) == 0) {
            add_error(w, from_file, from_line, NULL, "include '%s': include cycle back to '%s'",
                      file, w->shown[i]);
            free(real);
            return 0;
        }
    }
    xmlDocPtr doc = parse_file(w, path, file, from_file, from_line);
    if (!doc) {
        free(real);
        return 0;
    }
    w->real[w->depth] = real;
    w->shown[w->depth] = (char *)file;
    w->depth++;
    int rc = walk_root(w, doc, file);
    w->depth--;
    free(real);
    xmlFreeDoc(doc);
    return rc;
}

int cr_xml_walk(const char *path, cr_xml_element_fn fn, void *ud, cr_diag *diag)
{
    if (!path || !fn || !diag)
        return CR_EINVAL;
    xmlInitParser();
    walk w = {.fn = fn, .ud = ud, .diag = diag};
    int rc = walk_file(&w, path, NULL, 0);
    for (size_t i = 0; i < w.nfiles; i++)
        free(w.files[i]);
    free(w.files);
    if (rc != 0)
        return rc;
    return w.errors ? CR_ECONFIG : CR_OK;
}

/* ---- helpers ------------------------------------------------------------------------- */

int cr_xml_line(const void *node)
{
    const xmlNode *n = node;
    if (n && n->type == XML_ELEMENT_NODE && n->_private)
        return (int)(intptr_t)n->_private;
    long line = node ? xmlGetLineNo((xmlNodePtr)node) : 0;
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

char *cr_xml_attr(const void *node, const char *name)
{
    xmlChar *v = xmlGetNoNsProp((const xmlNode *)node, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char *cr_xml_text(const void *node)
{
    xmlChar *v = xmlNodeGetContent((const xmlNode *)node);
    const char *s = v ? (const char *)v : "";
    while (is_space((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    char *out = strndup(s, n);
    xmlFree(v);
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

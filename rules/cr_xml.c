/*
 * The document walk shared by the configuration loaders: hardened libxml2 parsing, root
 * check, and <include href> expansion: confined to the allowed directories, each file read
 * once (cycles and repeated includes are errors), within a budget of files and bytes.
 */
#include "cr_xml.h"
#include "cr_grow.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>

#include "xml_scan.h"
#include "cr_image.h"

/* What one parse learned through its SAX hooks and error handler. */
typedef struct parse_state {
    int depth;
    bool failed; /* our own error (depth, DOCTYPE) */
    bool have_err;
    int err_line;
    char err_msg[512];
} parse_state;

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

/* A file the walk has opened: its identity, and where it was included from (NULL: the top). */
typedef struct seen_file {
    dev_t dev;
    ino_t ino;
    const char *shown;
    const char *from_file;
    int from_line;
} seen_file;

typedef struct walk {
    cr_xml_element_fn fn;
    void *ud;
    cr_diag *diag;
    seen_file *stack[CR_XML_INCLUDE_MAX + 1]; /* the files being walked, top first */
    int depth;
    seen_file *seen; /* every file opened, each once */
    size_t nseen, capseen;
    uint64_t bytes; /* read so far, all files */
    char **roots;   /* canonical directories includes may reach */
    size_t nroots;
    const char *const *extra; /* the caller's include directories */
    const cr_load_options *opts;
    char **files; /* every file name handed to callbacks, freed at the end */
    size_t nfiles, capfiles;
    int errors;
    uint64_t digest; /* of every file's bytes, in walk order */
    bool image;      /* walking the sources a plan image holds: includes are expanded */
} walk;

/* What a parsed document's _private points to while it is walked (cr_xml_source). */
typedef struct doc_source {
    const char *text;
    size_t len;
} doc_source;

static void add_error(walk *w, const char *file, int line, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add_error(walk *w, const char *file, int line, const char *object, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cr_srcloc loc = {file, line};
    cr_diag_add(w->diag, CR_DIAG_ERROR, loc, object, "%s", msg);
    w->errors++;
}

/* An error about the file being opened: at the include site, or at the top file itself. */
static void open_error(walk *w, const char *shown, const char *from_file, int from_line,
                       const char *why)
{
    if (from_file)
        add_error(w, from_file, from_line, NULL, "include '%s': %s", shown, why);
    else
        add_error(w, shown, 0, NULL, "cannot read '%s': %s", shown, why);
}

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "Is a directory"
           : S_ISFIFO(m) ? "not a regular file (a FIFO)"
           : S_ISSOCK(m) ? "not a regular file (a socket)"
           : S_ISCHR(m)  ? "not a regular file (a character device)"
           : S_ISBLK(m)  ? "not a regular file (a block device)"
                         : "not a regular file";
}

/* Whether canonical path `real` is `root` or below it. */
static bool under(const char *real, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return true;
    return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

static bool confined(const walk *w, const char *real)
{
    for (size_t i = 0; i < w->nroots; i++)
        if (under(real, w->roots[i]))
            return true;
    return false;
}

static int add_root(walk *w, const char *dir)
{
    char **p = realloc(w->roots, (w->nroots + 1) * sizeof *p);
    if (!p)
        return CR_ENOMEM;
    w->roots = p;
    if (!(w->roots[w->nroots] = strdup(dir)))
        return CR_ENOMEM;
    w->nroots++;
    return CR_OK;
}

/* The roots: the directory of the top file (canonical `top_real`) and the caller's. */
static int set_roots(walk *w, const char *top_real)
{
    char *dir = strdup(top_real);
    if (!dir)
        return CR_ENOMEM;
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    int rc = add_root(w, dir);
    free(dir);
    for (size_t i = 0; rc == CR_OK && w->extra && w->extra[i]; i++) {
        char *real = realpath(w->extra[i], NULL);
        struct stat sb;
        if (!real || stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode))
            add_error(w, w->extra[i], 0, NULL, "include directory '%s': %s", w->extra[i],
                      real ? "not a directory" : strerror(errno));
        else
            rc = add_root(w, real);
        free(real);
    }
    return rc;
}

/*
 * Opens a file of the walk without blocking and without leaving the allowed directories:
 * canonical path first (an include outside every root is refused before it is opened), then
 * only a regular file, opened non-blocking so that a FIFO swapped in meanwhile cannot hang
 * us; the opened file must still be the one the path named. Returns the fd, or -1 after an
 * error at the include site.
 */
static int open_file(walk *w, const char *shown, const char *from_file, int from_line,
                     struct stat *sb)
{
    char *real = realpath(shown, NULL);
    if (!real) {
        open_error(w, shown, from_file, from_line, strerror(errno));
        return -1;
    }
    int fd = -1;
    struct stat before;
    if (from_file && !confined(w, real))
        open_error(w, shown, from_file, from_line,
                   "outside the configuration's directory (allow it with an include "
                   "directory)");
    else if (stat(real, &before) != 0)
        open_error(w, shown, from_file, from_line, strerror(errno));
    else if (!S_ISREG(before.st_mode))
        open_error(w, shown, from_file, from_line, file_kind(before.st_mode));
    else if ((fd = open(real, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC)) < 0)
        open_error(w, shown, from_file, from_line, strerror(errno));
    else if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode) || sb->st_dev != before.st_dev ||
             sb->st_ino != before.st_ino) {
        open_error(w, shown, from_file, from_line, "the file changed while it was opened");
        close(fd);
        fd = -1;
    }
    if (fd >= 0 && !from_file && set_roots(w, real) != CR_OK) {
        close(fd);
        fd = -2;
    }
    free(real);
    return fd;
}

/* Reads the whole of an opened file; NULL after an error (at the include site). */
static char *read_fd(walk *w, int fd, const struct stat *sb, const char *shown,
                     const char *from_file, int from_line, size_t *len)
{
    if (sb->st_size > CR_XML_FILE_MAX) {
        open_error(w, shown, from_file, from_line, strerror(EFBIG));
        return NULL;
    }
    if (w->bytes + (uint64_t)sb->st_size > CR_XML_TOTAL_MAX) {
        open_error(w, shown, from_file, from_line,
                   "the configuration's files add up to more than 256 MB");
        return NULL;
    }
    char *buf = malloc((size_t)sb->st_size + 1);
    if (!buf) {
        open_error(w, shown, from_file, from_line, strerror(ENOMEM));
        return NULL;
    }
    size_t n = 0;
    while (n < (size_t)sb->st_size) {
        ssize_t r = read(fd, buf + n, (size_t)sb->st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            open_error(w, shown, from_file, from_line, strerror(errno));
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    w->bytes += n;
    *len = n;
    return buf;
}

/*
 * Parses one file's bytes. On failure adds the error at `shown`:line and returns NULL.
 * The bytes are scanned first: libxml2 is never handed an element with more attributes or
 * deeper nesting than we accept (it would take quadratic time on the attributes).
 */
static xmlDocPtr parse_buffer(walk *w, const char *buf, size_t len, const char *shown)
{
    xml_scan scan;
    xml_scan_init(&scan, CR_XML_DEPTH_MAX);
    if (xml_scan_feed(&scan, buf, len) != 0) {
        add_error(w, shown, scan.err_line, NULL, "%s", scan.err);
        return NULL;
    }
    if (len > INT_MAX) {
        add_error(w, shown, 0, NULL, "%s", strerror(EFBIG));
        return NULL;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        add_error(w, shown, 0, NULL, "out of memory");
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
    if (!ok) {
        if (st.have_err)
            add_error(w, shown, st.err_line, NULL, "%s", st.err_msg);
        else
            add_error(w, shown, ctxt_line(ctxt), NULL, "not well-formed XML");
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
        add_error(w, file, line, "include", "missing attribute 'href'");
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
    int bad = 0; /* the file's structure is wrong: its includes only */
    if (!w->image && w->opts && w->opts->check_doc)
        bad = w->opts->check_doc(w->opts->check_ud, doc, file, w->diag);
    w->errors += bad;
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *name = cr_xml_name(n);
        bool include = name && strcmp(name, "include") == 0;
        if ((include && w->image) || (bad && !include))
            continue; /* the image holds the included files themselves */
        int rc = include ? walk_include(w, n, file) : w->fn(w->ud, n, file, w->diag);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * Each file is read once: an include of a file on the stack is a cycle, of a file already
 * read elsewhere a repeated include (its objects would be declared twice). Both are errors
 * naming the earlier site, so a fan-out of includes costs one parse per file, never more.
 */
static bool already_seen(walk *w, const struct stat *sb, const char *file, const char *from_file,
                         int from_line)
{
    for (int i = 0; i < w->depth; i++) {
        if (w->stack[i]->dev == sb->st_dev && w->stack[i]->ino == sb->st_ino) {
            add_error(w, from_file, from_line, NULL, "include '%s': include cycle back to '%s'",
                      file, w->stack[i]->shown);
            return true;
        }
    }
    for (size_t i = 0; i < w->nseen; i++) {
        const seen_file *s = &w->seen[i];
        if (s->dev != sb->st_dev || s->ino != sb->st_ino)
            continue;
        add_error(w, from_file, from_line, NULL,
                  "include '%s': the file is already included at %s:%d", file,
                  s->from_file ? s->from_file : s->shown, s->from_line);
        return true;
    }
    return false;
}

static seen_file *remember(walk *w, const struct stat *sb, const char *file, const char *from_file,
                           int from_line)
{
    if (!CR_GROW(w->seen, w->nseen, w->capseen))
        return NULL;
    seen_file *s = &w->seen[w->nseen++];
    *s = (seen_file){sb->st_dev, sb->st_ino, file, from_file, from_line};
    return s;
}

static int walk_file(walk *w, const char *path, const char *from_file, int from_line)
{
    const char *file = intern_file(w, path);
    if (!file)
        return CR_ENOMEM;
    if (w->depth >= CR_XML_INCLUDE_MAX) {
        add_error(w, from_file, from_line, NULL, "include '%s': includes nested deeper than %d",
                  file, CR_XML_INCLUDE_MAX);
        return 0;
    }
    if (w->nseen >= CR_XML_FILES_MAX) {
        add_error(w, from_file, from_line, NULL,
                  "include '%s': the configuration includes more than %d files", file,
                  CR_XML_FILES_MAX);
        return 0;
    }
    struct stat sb;
    int fd = open_file(w, file, from_file, from_line, &sb);
    if (fd < 0)
        return fd == -2 ? CR_ENOMEM : 0;
    size_t len = 0;
    char *buf = already_seen(w, &sb, file, from_file, from_line)
                    ? NULL
                    : read_fd(w, fd, &sb, file, from_file, from_line, &len);
    close(fd);
    if (!buf)
        return 0;
    seen_file *self = remember(w, &sb, file, from_file, from_line);
    w->digest = cr_image_hash64(buf, len, w->digest ^ (uint64_t)len);
    xmlDocPtr doc = self ? parse_buffer(w, buf, len, file) : NULL;
    if (!self || !doc) {
        free(buf);
        return self ? 0 : CR_ENOMEM;
    }
    /* w->seen moves as it grows: the stack holds a copy */
    seen_file me = *self;
    w->stack[w->depth++] = &me;
    doc_source src = {buf, len};
    doc->_private = &src;
    int rc = walk_root(w, doc, file);
    w->depth--;
    xmlFreeDoc(doc);
    free(buf);
    return rc;
}

/* The walk over a plan image: the response-group sources it holds, each parsed on its own.
 * (Only those: the routing model is read from the image itself, cr_image_load.) */
static int walk_image(walk *w, const char *path)
{
    cr_image_map m;
    char err[300];
    if (cr_image_map_file(path, &m, err, sizeof err) != CR_OK) {
        add_error(w, path, 0, "plan image", "%s", err);
        return 0;
    }
    w->digest = m.info.digest;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cr_image_source_count(m.base); i++) {
        const char *file, *text;
        size_t len;
        if (!cr_image_source_at(m.base, i, &file, &text, &len)) {
            add_error(w, path, 0, "plan image", "damaged: source %zu out of bounds", i);
            break;
        }
        const char *shown = intern_file(w, file);
        if (!shown) {
            rc = CR_ENOMEM;
            break;
        }
        xmlDocPtr doc = parse_buffer(w, text, len, shown);
        if (!doc)
            continue;
        doc_source src = {text, len};
        doc->_private = &src;
        rc = walk_root(w, doc, shown);
        xmlFreeDoc(doc);
    }
    cr_image_unmap(&m);
    return rc;
}

static void walk_free(walk *w)
{
    for (size_t i = 0; i < w->nfiles; i++)
        free(w->files[i]);
    free(w->files);
    for (size_t i = 0; i < w->nroots; i++)
        free(w->roots[i]);
    free(w->roots);
    free(w->seen);
}

int cr_xml_walk_sources(const cr_config *cfg, cr_xml_element_fn fn, void *ud, cr_diag *diag)
{
    if (!cfg || !fn || !diag)
        return CR_EINVAL;
    xmlInitParser();
    walk w = {.fn = fn, .ud = ud, .diag = diag, .image = true};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cr_config_source_count(cfg); i++) {
        const char *file, *text;
        size_t len;
        cr_config_source_at(cfg, i, &file, &text, &len);
        const char *shown = intern_file(&w, file);
        xmlDocPtr doc = shown ? parse_buffer(&w, text, len, shown) : NULL;
        if (!shown)
            rc = CR_ENOMEM;
        if (!doc)
            continue;
        doc_source src = {text, len};
        doc->_private = &src;
        rc = walk_root(&w, doc, shown);
        xmlFreeDoc(doc);
    }
    walk_free(&w);
    if (rc != 0)
        return rc;
    return w.errors ? CR_ECONFIG : CR_OK;
}

int cr_xml_walk(const char *path, const cr_load_options *opts, cr_xml_element_fn fn, void *ud,
                cr_diag *diag)
{
    return cr_xml_walk_ex(path, opts, fn, ud, diag, NULL);
}

int cr_xml_walk_ex(const char *path, const cr_load_options *opts, cr_xml_element_fn fn, void *ud,
                   cr_diag *diag, uint64_t *digest)
{
    if (!path || !fn || !diag)
        return CR_EINVAL;
    xmlInitParser();
    walk w = {
        .fn = fn, .ud = ud, .diag = diag, .extra = opts ? opts->include_dirs : NULL, .opts = opts};
    w.image = cr_image_file_is(path);
    int rc = w.image ? walk_image(&w, path) : walk_file(&w, path, NULL, 0);
    if (digest)
        *digest = w.digest;
    walk_free(&w);
    if (rc != 0)
        return rc;
    return w.errors ? CR_ECONFIG : CR_OK;
}

/* ---- helpers ------------------------------------------------------------------------- */

bool cr_xml_source(const void *node, const char **text, size_t *len)
{
    const xmlNode *n = node;
    const doc_source *src = n && n->doc ? n->doc->_private : NULL;
    if (!src)
        return false;
    *text = src->text;
    *len = src->len;
    return true;
}

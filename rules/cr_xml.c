/*
 * The document walk shared by the configuration loaders: hardened libxml2 parsing, root
 * check, and <include href> expansion: confined to the allowed directories, each file read
 * once (cycles and repeated includes are errors), within a budget of files and bytes.
 *
 * A file is streamed (cr_xml_stream): libxml2's SAX2 handlers build the nodes as usual, but
 * each top-level element (or, for a section taken object by object, each of its children) is
 * handed over at its end tag and freed, so the document never holds more than one object.
 * With check_doc (the schema needs the whole document), plan images and kept sources, a file
 * is parsed whole first and handed over from the document the same way.
 */
#define _GNU_SOURCE /* memrchr */
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

#include "cr_libxml.h"

#include "cr_xml_elem.h"
#include "xml_scan.h"
#include "cr_image.h"

typedef struct walk walk;

/* What a parsed document's _private points to while it is walked (cr_xml_source). */
typedef struct doc_source {
    const char *text;
    size_t len;
} doc_source;

/* <include>, taken by the walk itself (beside the cr_xml_take values). */
#define TAKE_INCLUDE 3

/*
 * An object being read without its nodes (cr_xml_flat): the SAX events it has had so far,
 * kept so that the nodes can be built after all, exactly as they would have been (replay),
 * when something it holds is not for the flat hook.
 */
enum { EV_START, EV_TEXT, EV_END };
#define CAP_EVENTS (4 * CR_XML_FLAT_KIDS + 8)
#define CAP_BYTES  4096
typedef struct cap_event {
    int type;
    const xmlChar *localname, *prefix, *uri; /* the parser's dictionary strings */
    int line_at;                             /* the parser's line then (node->line) */
    int start_line;                          /* of a start tag: start_line() */
    int nattrs, attr0;                       /* of a start tag: its attributes in cap.attrs */
    size_t off, len;                         /* of text: in cap.bytes */
} cap_event;

typedef struct capture {
    bool on;
    int depth; /* 0: directly in the object, 1: in one of its children */
    size_t nev, nkids, nattrs, used;
    /* white space directly in the section, not built (yet): defer_blank */
    size_t blank_len;
    int blank_line;
    char blank[256];
    cap_event ev[CAP_EVENTS];
    struct {
        const xmlChar *localname;
        size_t off, len; /* the value, in bytes */
    } attrs[CR_XML_FLAT_ATTRS];
    char bytes[CAP_BYTES];
} capture;

/* What one parse learned through its SAX hooks and error handler. */
typedef struct parse_state {
    int depth;
    bool failed; /* our own error (depth, DOCTYPE) */
    bool have_err;
    int err_line;
    char err_msg[512];
    /* Streaming (w not NULL): top-level elements are handed over as they end, then freed. */
    walk *w;
    const char *file;
    doc_source *src;
    int rc;           /* a hook's non-zero code: the walk stops with it */
    bool refused;     /* the root was refused: nothing of the file is handed over */
    int take;         /* how the top-level element being read is taken (cr_xml_take) */
    int root_text;    /* line of the first text directly in the root, 0: none yet */
    int sec_text;     /* the same in the section being streamed */
    size_t root_slot; /* where an error about the root's text goes in the diagnostics */
    capture *cap;     /* the object read without nodes, when the consumer has a flat hook */
    bool flat;        /* the section being streamed is taken flat (CR_XML_TAKE_FLAT) */
} parse_state;

static void stream_start(parse_state *st, xmlParserCtxtPtr ctxt);
static void stream_end(parse_state *st, xmlParserCtxtPtr ctxt, int depth);

/* Whether an element at `depth` (or text directly in one at depth - 1) is built: not when
 * streaming inside a refused root or a skipped section. */
static bool built(const parse_state *st, int depth)
{
    if (!st->w)
        return true;
    return !(depth >= 2 && st->refused) && !(depth >= 3 && st->take == CR_XML_TAKE_SKIP);
}

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
    if (!in || !in->cur || !in->base || in->cur <= in->base)
        return 0;
    const char *base = (const char *)in->base, *cur = (const char *)in->cur;
    const char *lt = memrchr(base, '<', (size_t)(cur - base));
    if (!lt)
        return 0;
    int nl = 0;
    for (const char *p = lt; (p = memchr(p, '\n', (size_t)(cur - p))) != NULL; p++)
        nl++;
    return in->line - nl;
}

/* ---- objects read without nodes (cr_xml_flat) ------------------------------------------ */

static bool live(const parse_state *st);
static int hand_flat(walk *w, void *section, const cr_xml_flat *f, const char *file, bool *taken);

/* Builds the nodes of the events captured so far, as the parser would have (same lines), and
 * stops capturing: the object's remaining events are built as they come. */
static void replay(parse_state *st, xmlParserCtxtPtr ctxt)
{
    capture *c = st->cap;
    c->on = false;
    xmlParserInputPtr in = ctxt->input;
    int saved = in ? in->line : 0;
    for (size_t i = 0; i < c->nev; i++) {
        const cap_event *e = &c->ev[i];
        if (in)
            in->line = e->line_at;
        if (e->type == EV_START) {
            const xmlChar *a[5 * CR_XML_FLAT_ATTRS];
            for (int k = 0; k < e->nattrs; k++) {
                const char *v = c->bytes + c->attrs[e->attr0 + k].off;
                a[5 * k] = c->attrs[e->attr0 + k].localname;
                a[5 * k + 1] = a[5 * k + 2] = NULL;
                a[5 * k + 3] = (const xmlChar *)v;
                a[5 * k + 4] = (const xmlChar *)v + c->attrs[e->attr0 + k].len;
            }
            sym_xmlSAX2StartElementNs(ctxt, e->localname, e->prefix, e->uri, 0, NULL, e->nattrs, 0,
                                      a);
            if (ctxt->node && e->start_line > 0)
                ctxt->node->_private = (void *)(intptr_t)e->start_line;
        } else if (e->type == EV_TEXT) {
            sym_xmlSAX2Characters(ctxt, (const xmlChar *)c->bytes + e->off, (int)e->len);
        } else {
            sym_xmlSAX2EndElementNs(ctxt, e->localname, e->prefix, e->uri);
        }
    }
    if (in)
        in->line = saved;
}

static bool cap_room(const capture *c, size_t bytes)
{
    return c->nev < CAP_EVENTS && c->used + bytes + 1 <= CAP_BYTES;
}

/* Records a start tag with at most `max_attrs` attributes; false (nothing recorded) when it
 * has what cr_xml_flat leaves out. */
static bool cap_start(capture *c, xmlParserCtxtPtr ctxt, int line, const xmlChar *const *tag,
                      int nb_ns, int nb_attr, int nb_def, const xmlChar **attrs, int max_attrs)
{
    const xmlChar *uri = tag[2];
    if (line <= 0 || nb_ns || nb_def || nb_attr > max_attrs || !cap_room(c, 0) ||
        (uri && strcmp((const char *)uri, CR_XML_NS) != 0))
        return false;
    size_t used = c->used, first = c->nattrs;
    for (int i = 0; i < nb_attr; i++) {
        const xmlChar **a = attrs + 5 * i;
        size_t n = (size_t)(a[4] - a[3]);
        if (a[1] || a[2] || memchr(a[3], '&', n) || used + n + 1 > CAP_BYTES)
            return false;
        memcpy(c->bytes + used, a[3], n);
        c->bytes[used + n] = '\0';
        c->attrs[first + (size_t)i].localname = a[0];
        c->attrs[first + (size_t)i].off = used;
        c->attrs[first + (size_t)i].len = n;
        used += n + 1;
    }
    c->ev[c->nev++] = (cap_event){.type = EV_START,
                                  .localname = tag[0],
                                  .prefix = tag[1],
                                  .uri = uri,
                                  .line_at = ctxt->input ? ctxt->input->line : 0,
                                  .start_line = line,
                                  .nattrs = nb_attr,
                                  .attr0 = (int)first};
    c->nattrs = first + (size_t)nb_attr;
    c->used = used;
    return true;
}

/* A start tag while objects may be captured: true when captured (no node built). */
static bool capture_start(parse_state *st, xmlParserCtxtPtr ctxt, int line,
                          const xmlChar *const *tag, int nb_ns, int nb_attr, int nb_def,
                          const xmlChar **attrs)
{
    capture *c = st->cap;
    if (!c->on) {
        if (st->depth != 3 || st->take != CR_XML_TAKE_OBJECTS || !st->flat || !live(st))
            return false;
        c->nev = c->nkids = c->nattrs = c->used = 0;
        c->depth = 0;
        c->on = cap_start(c, ctxt, line, tag, nb_ns, nb_attr, nb_def, attrs, CR_XML_FLAT_ATTRS);
        return c->on;
    }
    if (c->depth == 0 && c->nkids < CR_XML_FLAT_KIDS &&
        cap_start(c, ctxt, line, tag, nb_ns, nb_attr, nb_def, attrs, 0)) {
        c->depth = 1;
        c->nkids++;
        return true;
    }
    replay(st, ctxt);
    return false;
}

static bool is_blank_n(const xmlChar *s, int len)
{
    for (int i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

/* Text while capturing: true when captured. */
static bool capture_text(parse_state *st, xmlParserCtxtPtr ctxt, const xmlChar *ch, int len)
{
    capture *c = st->cap;
    if ((c->depth == 0 && !is_blank_n(ch, len)) || len < 0 || !cap_room(c, (size_t)len)) {
        replay(st, ctxt);
        return false;
    }
    int line = ctxt->input ? ctxt->input->line : 0;
    memcpy(c->bytes + c->used, ch, (size_t)len);
    c->ev[c->nev++] =
        (cap_event){.type = EV_TEXT, .line_at = line, .off = c->used, .len = (size_t)len};
    c->used += (size_t)len;
    return true;
}

/* The end tag of a child of the object: its text, trimmed as cr_xml_text trims it, is kept
 * after the bytes the replay reads. True when captured. */
static bool capture_kid_end(parse_state *st, xmlParserCtxtPtr ctxt, const xmlChar *const *tag)
{
    capture *c = st->cap;
    size_t k = c->nev;
    while (k > 0 && c->ev[k - 1].type == EV_TEXT)
        k--;
    size_t from = k < c->nev ? c->ev[k].off : c->used, to = c->used;
    while (from < to && strchr(" \t\n\r", c->bytes[from]))
        from++;
    while (to > from && strchr(" \t\n\r", c->bytes[to - 1]))
        to--;
    if (!cap_room(c, to - from)) {
        replay(st, ctxt);
        return false;
    }
    memmove(c->bytes + c->used, c->bytes + from, to - from);
    c->bytes[c->used + (to - from)] = '\0';
    c->ev[c->nev++] = (cap_event){.type = EV_END,
                                  .localname = tag[0],
                                  .prefix = tag[1],
                                  .uri = tag[2],
                                  .off = c->used,
                                  .len = to - from};
    c->used += to - from + 1;
    c->depth = 0;
    return true;
}

static void flat_of(const capture *c, cr_xml_flat *f)
{
    const cap_event *o = &c->ev[0];
    f->name = (const char *)o->localname;
    f->line = o->start_line;
    f->nattrs = (size_t)o->nattrs;
    for (size_t k = 0; k < f->nattrs; k++) {
        f->attr[k] = (const char *)c->attrs[k].localname;
        f->value[k] = c->bytes + c->attrs[k].off;
    }
    f->nkids = 0;
    for (size_t i = 1; i < c->nev; i++) {
        if (c->ev[i].type == EV_START) {
            f->kid[f->nkids].name = (const char *)c->ev[i].localname;
            f->kid[f->nkids].line = c->ev[i].start_line;
        } else if (c->ev[i].type == EV_END) {
            f->kid[f->nkids++].text = c->bytes + c->ev[i].off;
        }
    }
}

static void sweep(xmlNodePtr parent, xmlNodePtr upto, int *text);

/* The object's end tag: offered to the flat hook; true when it took it (or nothing would
 * have been handed over), false when its nodes were built for the object hook instead. */
static bool capture_end(parse_state *st, xmlParserCtxtPtr ctxt)
{
    bool taken = false;
    if (live(st)) {
        cr_xml_flat f;
        flat_of(st->cap, &f);
        st->rc = hand_flat(st->w, ctxt->node, &f, st->file, &taken);
        if (!taken && !st->rc) {
            replay(st, ctxt);
            return false;
        }
    }
    st->cap->on = false;
    /* what stream_end does around an object handed over: its text before it, then stop */
    sweep(ctxt->node, NULL, &st->sec_text);
    if (st->rc)
        sym_xmlStopParser(ctxt);
    return true;
}

/* Anything but text ends a run of text: white space kept from it (defer_blank) is dropped. */
static void end_run(parse_state *st)
{
    if (st->cap)
        st->cap->blank_len = 0;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_ns, const xmlChar **ns, int nb_attr, int nb_def, const xmlChar **attrs)
{
    parse_state *st = state_of(ctx);
    end_run(st);
    if (++st->depth > CR_XML_DEPTH_MAX) {
        char msg[128];
        snprintf(msg, sizeof msg, "elements nested deeper than %d levels", CR_XML_DEPTH_MAX);
        set_error(st, ctxt_line(ctx), msg);
        st->failed = true;
        sym_xmlStopParser(ctx);
        return;
    }
    if (!built(st, st->depth))
        return;
    xmlParserCtxtPtr ctxt = ctx;
    int line = start_line(ctxt);
    const xmlChar *tag[3] = {localname, prefix, uri};
    if (st->cap && capture_start(st, ctxt, line, tag, nb_ns, nb_attr, nb_def, attrs))
        return;
    sym_xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_ns, ns, nb_attr, nb_def, attrs);
    /* node->line saturates at 65535; _private (the application's) keeps the exact line. */
    if (ctxt->node && line > 0)
        ctxt->node->_private = (void *)(intptr_t)line;
    if (st->w && st->depth <= 2)
        stream_start(st, ctxt);
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    parse_state *st = state_of(ctx);
    end_run(st);
    int depth = st->depth--;
    if (!built(st, depth))
        return;
    if (st->cap && st->cap->on) {
        const xmlChar *tag[3] = {localname, prefix, uri};
        if (depth == 4 ? capture_kid_end(st, ctx, tag) : capture_end(st, ctx))
            return;
    }
    sym_xmlSAX2EndElementNs(ctx, localname, prefix, uri);
    if (st->w && depth <= 3)
        stream_end(st, ctx, depth);
}

/* Text, comments and processing instructions: not kept where elements are not built. */
/*
 * White space directly in a section taken object by object (the indentation before each of
 * 400,000 routes) is not built while it may stay white space: nobody reads it (sweep notes only
 * other text) and it cost a node each. It is dropped when the run of text ends, or built after
 * all, with its line, as soon as other text follows in the same run.
 */
static bool defer_blank(parse_state *st, xmlParserCtxtPtr ctxt, const xmlChar *ch, int len)
{
    capture *c = st->cap;
    xmlNodePtr last = ctxt->node ? ctxt->node->last : NULL;
    if (st->depth != 2 || st->take != CR_XML_TAKE_OBJECTS || len <= 0 ||
        c->blank_len + (size_t)len > sizeof c->blank || !is_blank_n(ch, len) ||
        (!c->blank_len && last && last->type == XML_TEXT_NODE))
        return false;
    if (!c->blank_len)
        c->blank_line = ctxt->input ? ctxt->input->line : 0;
    memcpy(c->blank + c->blank_len, ch, (size_t)len);
    c->blank_len += (size_t)len;
    return true;
}

/* Builds the white space defer_blank kept, as the parser would have built it. */
static void flush_blank(parse_state *st, xmlParserCtxtPtr ctxt)
{
    capture *c = st->cap;
    if (!c->blank_len)
        return;
    xmlParserInputPtr in = ctxt->input;
    int saved = in ? in->line : 0;
    if (in)
        in->line = c->blank_line;
    int n = (int)c->blank_len;
    c->blank_len = 0;
    sym_xmlSAX2Characters(ctxt, (const xmlChar *)c->blank, n);
    if (in)
        in->line = saved;
}

static void on_chars(void *ctx, const xmlChar *ch, int len)
{
    parse_state *st = state_of(ctx);
    if (!built(st, st->depth + 1))
        return;
    if (st->cap && st->cap->on && capture_text(st, ctx, ch, len))
        return;
    if (st->cap && !st->cap->on) {
        if (defer_blank(st, ctx, ch, len))
            return;
        flush_blank(st, ctx);
    }
    sym_xmlSAX2Characters(ctx, ch, len);
}

/* Anything but text and simple elements in an object being captured: its nodes are built. */
static bool built_now(void *ctx)
{
    parse_state *st = state_of(ctx);
    end_run(st);
    if (!built(st, st->depth + 1))
        return false;
    if (st->cap && st->cap->on)
        replay(st, ctx);
    return true;
}

static void on_cdata(void *ctx, const xmlChar *ch, int len)
{
    if (built_now(ctx))
        sym_xmlSAX2CDataBlock(ctx, ch, len);
}

static void on_comment(void *ctx, const xmlChar *value)
{
    if (built_now(ctx))
        sym_xmlSAX2Comment(ctx, value);
}

static void on_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
    if (built_now(ctx))
        sym_xmlSAX2ProcessingInstruction(ctx, target, data);
}

static void on_reference(void *ctx, const xmlChar *name)
{
    built_now(ctx); /* as before: the reference is libxml2's to place, built or not */
    sym_xmlSAX2Reference(ctx, name);
}

/* A DOCTYPE is where entities would be declared: refuse it before any is. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id, const xmlChar *sys_id)
{
    parse_state *st = state_of(ctx);
    set_error(st, ctxt_line(ctx), "DOCTYPE declarations are not allowed in a configuration");
    st->failed = true;
    sym_xmlStopParser(ctx);
}

/* A file the walk has opened: its identity, and where it was included from (NULL: the top). */
typedef struct seen_file {
    dev_t dev;
    ino_t ino;
    const char *shown;
    const char *from_file;
    int from_line;
} seen_file;

struct walk {
    const cr_xml_stream *s;
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
};

/* What the walk had before a file began: what a file refused as a whole rolls back to. */
typedef struct walk_mark {
    size_t diag, nseen;
    int errors;
    uint64_t bytes, digest;
} walk_mark;

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
 * Scans one file's bytes before libxml2 sees them: libxml2 is never handed an element with
 * more attributes or deeper nesting than we accept (it would take quadratic time on the
 * attributes). False after an error at `shown`:line.
 */
static bool scan_ok(walk *w, const char *buf, size_t len, const char *shown)
{
    xml_scan scan;
    xml_scan_init(&scan, CR_XML_DEPTH_MAX);
    if (xml_scan_feed(&scan, buf, len) != 0) {
        add_error(w, shown, scan.err_line, NULL, "%s", scan.err);
        return false;
    }
    if (len > INT_MAX) {
        add_error(w, shown, 0, NULL, "%s", strerror(EFBIG));
        return false;
    }
    return true;
}

/*
 * Parses one file's bytes with our hooks (streaming when st->w is set). Returns the document
 * (NULL when none) and sets *ok when the file is well-formed and within our limits; otherwise
 * st->err_line and st->err_msg say why.
 */
static xmlDocPtr run_parser(const char *buf, size_t len, const char *shown, parse_state *st,
                            bool *ok)
{
    *ok = false;
    xmlParserCtxtPtr ctxt = sym_xmlNewParserCtxt();
    if (!ctxt) {
        set_error(st, 0, "out of memory");
        return NULL;
    }
    ctxt->_private = st;
    ctxt->sax->serror = on_error;
    ctxt->sax->startElementNs = on_start;
    ctxt->sax->endElementNs = on_end;
    ctxt->sax->internalSubset = on_doctype;
    if (st->w) {
        if (ctxt->sax->ignorableWhitespace == sym_xmlSAX2Characters)
            ctxt->sax->ignorableWhitespace = on_chars;
        ctxt->sax->characters = on_chars;
        ctxt->sax->cdataBlock = on_cdata;
        ctxt->sax->comment = on_comment;
        ctxt->sax->processingInstruction = on_pi;
        ctxt->sax->reference = on_reference;
    }
    /* Deliberately not XML_PARSE_NOENT, DTDLOAD, HUGE or XINCLUDE. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES;
    if (st->w) /* short text inside its node, not malloc'd: nobody edits a streamed node */
        opts |= XML_PARSE_COMPACT;
    xmlDocPtr doc = sym_xmlCtxtReadMemory(ctxt, buf, (int)len, shown, NULL, opts);
    *ok = doc && ctxt->wellFormed && !st->failed && !st->have_err;
    if (!*ok)
        set_error(st, ctxt_line(ctxt), "not well-formed XML");
    sym_xmlFreeParserCtxt(ctxt);
    return doc;
}

/* Parses one file's bytes whole. On failure adds the error at `shown`:line and returns NULL. */
static xmlDocPtr parse_buffer(walk *w, const char *buf, size_t len, const char *shown)
{
    if (!scan_ok(w, buf, len, shown))
        return NULL;
    parse_state st = {0};
    bool ok;
    xmlDocPtr doc = run_parser(buf, len, shown, &st, &ok);
    if (!ok) {
        add_error(w, shown, st.err_line, NULL, "%s", st.err_msg);
        sym_xmlFreeDoc(doc);
        doc = NULL;
    }
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

/* Whether `root` is <callroute> in our namespace or none; adds the error otherwise. */
static bool root_ok(walk *w, xmlNodePtr root, const char *file)
{
    if (!root || strcmp((const char *)root->name, "callroute") != 0) {
        add_error(w, file, root ? cr_xml_line(root) : 0, NULL,
                  "root element is <%s>, expected <callroute xmlns=\"%s\">",
                  root ? (const char *)root->name : "", CR_XML_NS);
        return false;
    }
    if (root->ns && strcmp((const char *)root->ns->href, CR_XML_NS) != 0) {
        add_error(w, file, cr_xml_line(root), NULL,
                  "root element <callroute> is in namespace '%s', expected '%s' (or none)",
                  (const char *)root->ns->href, CR_XML_NS);
        return false;
    }
    return true;
}

static bool is_blank(const xmlChar *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* Notes in *line the line of `c`, a child of `parent`, when it is the first text other than
 * white space (cr_xml_check's "unexpected text" names that line). */
static void note_text(const xmlNode *parent, const xmlNode *c, int *line)
{
    if (*line || (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) ||
        is_blank(c->content))
        return;
    *line = cr_xml_line(c) ? cr_xml_line(c) : cr_xml_line(parent);
}

static bool is_include(const xmlNode *n)
{
    const char *name = cr_xml_name(n);
    return name && strcmp(name, "include") == 0;
}

/* How a top-level element is taken; *flat: its objects are offered flat first (may be NULL). */
static int open_element(walk *w, xmlNodePtr n, const char *file, int *take, bool *flat)
{
    cr_xml_take t = CR_XML_TAKE_WHOLE;
    int rc = w->s->open ? w->s->open(w->ud, n, file, w->diag, &t) : 0;
    if (flat)
        *flat = t == CR_XML_TAKE_FLAT && w->s->flat;
    if (t == CR_XML_TAKE_FLAT)
        t = CR_XML_TAKE_OBJECTS;
    *take = t == CR_XML_TAKE_OBJECTS && !w->s->object ? CR_XML_TAKE_SKIP : (int)t;
    return rc;
}

static int hand_whole(walk *w, xmlNodePtr n, const char *file)
{
    return w->s->whole ? w->s->whole(w->ud, n, file, w->diag) : 0;
}

static int hand_flat(walk *w, void *section, const cr_xml_flat *f, const char *file, bool *taken)
{
    return w->s->flat(w->ud, section, f, file, w->diag, taken);
}

static int hand_close(walk *w, xmlNodePtr n, int text_line, const char *file)
{
    return w->s->close ? w->s->close(w->ud, n, text_line, file, w->diag) : 0;
}

/* Hands over the top-level element `n` of a document parsed whole, as the stream would. */
static int hand_element(walk *w, xmlNodePtr n, const char *file)
{
    int take, rc = open_element(w, n, file, &take, NULL);
    if (rc != 0 || take == CR_XML_TAKE_SKIP)
        return rc;
    if (take == CR_XML_TAKE_WHOLE)
        return hand_whole(w, n, file);
    int text = 0;
    for (xmlNodePtr c = n->children; c && rc == 0; c = c->next) {
        note_text(n, c, &text);
        if (c->type == XML_ELEMENT_NODE)
            rc = w->s->object(w->ud, n, c, file, w->diag);
    }
    return rc == 0 ? hand_close(w, n, text, file) : rc;
}

static void file_begin(walk *w)
{
    if (w->s->file_begin)
        w->s->file_begin(w->ud);
}

static void file_end(walk *w, bool kept)
{
    if (w->s->file_end)
        w->s->file_end(w->ud, kept);
}

/* Walks a document parsed whole. */
static int walk_root(walk *w, xmlDocPtr doc, const char *file)
{
    static const char *const none[] = {NULL};
    xmlNodePtr root = sym_xmlDocGetRootElement(doc);
    if (!root_ok(w, root, file))
        return 0;
    w->errors += cr_xml_check(root, none, false, file, NULL, w->diag);
    int bad = 0; /* the file's structure is wrong: its includes only */
    if (!w->image && w->opts && w->opts->check_doc)
        bad = w->opts->check_doc(w->opts->check_ud, doc, file, w->diag);
    w->errors += bad;
    file_begin(w);
    int rc = 0;
    for (xmlNodePtr n = root->children; n && rc == 0; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        bool include = is_include(n);
        if ((include && w->image) || (bad && !include))
            continue; /* the image holds the included files themselves */
        rc = include ? walk_include(w, n, file) : hand_element(w, n, file);
    }
    file_end(w, true);
    return rc;
}

/* ---- streaming ------------------------------------------------------------------------ */

static bool live(const parse_state *st)
{
    return !st->rc && !st->have_err && !st->failed && !st->refused;
}

/* Frees the children of `parent` before `upto` (all of them when NULL), noting text. */
static void sweep(xmlNodePtr parent, xmlNodePtr upto, int *text)
{
    xmlNodePtr c = parent->children;
    while (c && c != upto) {
        xmlNodePtr next = c->next;
        note_text(parent, c, text);
        sym_xmlUnlinkNode(c);
        sym_xmlFreeNode(c);
        c = next;
    }
}

/* The root's start tag: the checks walk_root makes, but for its text (known at its end). */
static void stream_root(parse_state *st, xmlParserCtxtPtr ctxt, xmlNodePtr root)
{
    static const char *const none[] = {NULL};
    if (ctxt->myDoc)
        ctxt->myDoc->_private = st->src;
    st->refused = !root_ok(st->w, root, st->file);
    if (st->refused)
        return;
    st->w->errors += cr_xml_check(root, none, true, st->file, NULL, st->w->diag);
    st->root_slot = st->w->diag->count;
}

/* A start tag at depth 1 or 2 (the root, a top-level element): how it will be taken. */
static void stream_start(parse_state *st, xmlParserCtxtPtr ctxt)
{
    xmlNodePtr n = ctxt->node;
    if (!n || st->rc)
        return;
    if (st->depth == 1) {
        stream_root(st, ctxt, n);
        return;
    }
    st->take = CR_XML_TAKE_SKIP;
    st->sec_text = 0;
    if (!live(st))
        return;
    if (is_include(n))
        st->take = TAKE_INCLUDE;
    else if ((st->rc = open_element(st->w, n, st->file, &st->take, &st->flat)) != 0)
        sym_xmlStopParser(ctxt);
}

/* The root's end tag: text directly in it is an error, in its place among the diagnostics. */
static void stream_root_end(parse_state *st, xmlParserCtxtPtr ctxt)
{
    xmlNodePtr root = ctxt->myDoc ? sym_xmlDocGetRootElement(ctxt->myDoc) : NULL;
    if (!root)
        return;
    sweep(root, NULL, &st->root_text);
    if (!st->root_text || !live(st))
        return;
    cr_xml_elem e;
    cr_xml_elem_init(&e, st->file, st->w->diag, NULL);
    e.node = root;
    cr_xml_unexpected_text(&e, st->root_slot, st->root_text);
    st->w->errors++;
}

/* A top-level element's end tag: it is handed over as it was opened. */
static int stream_section_end(parse_state *st, xmlNodePtr n)
{
    switch (st->take) {
    case TAKE_INCLUDE:
        return walk_include(st->w, n, st->file);
    case CR_XML_TAKE_WHOLE:
        return hand_whole(st->w, n, st->file);
    case CR_XML_TAKE_OBJECTS:
        sweep(n, NULL, &st->sec_text);
        return hand_close(st->w, n, st->sec_text, st->file);
    }
    return 0;
}

/*
 * An end tag at depth 1 to 3. A top-level element (depth 2), or an object of a section taken
 * object by object (depth 3), is handed over and freed with the text and comments before it:
 * the document never holds more than the element being read.
 */
static void stream_end(parse_state *st, xmlParserCtxtPtr ctxt, int depth)
{
    if (depth == 1) {
        stream_root_end(st, ctxt);
        return;
    }
    xmlNodePtr parent = ctxt->node;
    xmlNodePtr n = parent ? parent->last : NULL;
    if (!n || n->type != XML_ELEMENT_NODE)
        return;
    if (depth == 2) {
        sweep(parent, n, &st->root_text);
        if (live(st))
            st->rc = stream_section_end(st, n);
        st->take = CR_XML_TAKE_SKIP;
    } else if (st->take == CR_XML_TAKE_OBJECTS) {
        sweep(parent, n, &st->sec_text);
        if (live(st))
            st->rc = st->w->s->object(st->w->ud, parent, n, st->file, st->w->diag);
    } else {
        return;
    }
    sym_xmlUnlinkNode(n);
    sym_xmlFreeNode(n);
    if (st->rc)
        sym_xmlStopParser(ctxt);
}

/* Drops the diagnostics added after the first `count`. */
static void diag_truncate(cr_diag *d, size_t count)
{
    while (d->count > count) {
        cr_diag_item *it = &d->items[--d->count];
        if (it->level == CR_DIAG_ERROR)
            d->errors--;
        else
            d->warnings--;
        free(it->file);
        free(it->object);
        free(it->message);
    }
}

/*
 * Streams one file's bytes to the consumer. A file found broken after some of it was handed
 * over is refused as a whole: what it added (diagnostics, included files, bytes) is rolled
 * back and the consumer told (file_end) before the parse error is reported.
 */
static int stream_file(walk *w, const char *buf, size_t len, const char *file, doc_source *src)
{
    if (!scan_ok(w, buf, len, file))
        return 0;
    parse_state st = {.w = w, .file = file, .src = src, .take = CR_XML_TAKE_SKIP};
    if (w->s->flat && w->s->object && !(st.cap = calloc(1, sizeof *st.cap)))
        return CR_ENOMEM;
    walk_mark m = {w->diag->count, w->nseen, w->errors, w->bytes, w->digest};
    file_begin(w);
    bool ok;
    xmlDocPtr doc = run_parser(buf, len, file, &st, &ok);
    sym_xmlFreeDoc(doc);
    free(st.cap);
    if (st.rc)
        return st.rc;
    if (!ok) {
        diag_truncate(w->diag, m.diag);
        w->nseen = m.nseen;
        w->errors = m.errors;
        w->bytes = m.bytes;
        w->digest = m.digest;
    }
    file_end(w, ok);
    if (!ok)
        add_error(w, file, st.err_line, NULL, "%s", st.err_msg);
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
    /* the schema check needs the whole document */
    bool whole = w->opts && w->opts->check_doc;
    xmlDocPtr doc = self && whole ? parse_buffer(w, buf, len, file) : NULL;
    if (!self || (whole && !doc)) {
        free(buf);
        return self ? 0 : CR_ENOMEM;
    }
    /* w->seen moves as it grows: the stack holds a copy */
    seen_file me = *self;
    w->stack[w->depth++] = &me;
    doc_source src = {buf, len};
    int rc;
    if (doc) {
        doc->_private = &src;
        rc = walk_root(w, doc, file);
        sym_xmlFreeDoc(doc);
    } else {
        rc = stream_file(w, buf, len, file, &src);
    }
    w->depth--;
    free(buf);
    return rc;
}

/* The walk over a plan image: nothing to parse (its routing model is read from the image itself,
 * cr_image_load, and its response groups are compiled into it, cr_rgs_image.h); the image is
 * checked and its digest taken. */
static int walk_image(walk *w, const char *path)
{
    cr_image_map m;
    char err[300];
    if (cr_image_map_file(path, &m, err, sizeof err) != CR_OK) {
        add_error(w, path, 0, "plan image", "%s", err);
        return 0;
    }
    w->digest = m.info.digest;
    cr_image_unmap(&m);
    return 0;
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

/* libxml2, loaded the first time XML is read (cr_libxml.h); an error naming `file` if not. */
static bool xml_loaded(cr_diag *diag, const char *file)
{
    const char *why;
    if (cr_libxml_load(&why) == 0)
        return true;
    cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){.file = file}, NULL, "%s", why);
    return false;
}

int cr_xml_walk(const char *path, const cr_load_options *opts, cr_xml_element_fn fn, void *ud,
                cr_diag *diag)
{
    return cr_xml_walk_ex(path, opts, fn, ud, diag, NULL);
}

int cr_xml_walk_ex(const char *path, const cr_load_options *opts, cr_xml_element_fn fn, void *ud,
                   cr_diag *diag, uint64_t *digest)
{
    cr_xml_stream s = {.whole = fn};
    return fn ? cr_xml_walk_stream(path, opts, &s, ud, diag, digest) : CR_EINVAL;
}

int cr_xml_walk_stream(const char *path, const cr_load_options *opts, const cr_xml_stream *s,
                       void *ud, cr_diag *diag, uint64_t *digest)
{
    if (!path || !s || !diag)
        return CR_EINVAL;
    if (!xml_loaded(diag, path))
        return CR_EIO;
    walk w = {
        .s = s, .ud = ud, .diag = diag, .extra = opts ? opts->include_dirs : NULL, .opts = opts};
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

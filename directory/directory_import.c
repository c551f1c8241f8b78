/*
 * Filling the user directory from XML (streamed: a million users never sit in memory as a
 * tree) or CSV, in one LMDB write transaction; and writing it back out as XML or CSV.
 */
#include "directory_int.h"
#include "cr_xml_elem.h"
#include "xml_scan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cr_libxml.h"

#define IMPORT_MAX_ERRORS 50

/* One user being read: a cr_user whose strings the record owns. */
typedef struct rec {
    cr_user u;
    char **owned;
    size_t nowned, capowned;
    cr_srcloc loc;
} rec;

typedef struct importer {
    cr_directory *d;
    MDB_txn *txn;
    bool replace;
    const char *file;
    cr_import_report *rep;
    cr_diag *diag;
    size_t errors;
    bool oom;
    dir_batch batch; /* the users read, written once the file is read */
    dir_buf buf;
    int no_ev_line; /* the CSV header's line when it has no enterpriseVoice column */
    FILE *xml;      /* the XML being read, through the scan */
    xml_scan scan;  /* limits libxml2 enforces only slowly (xml_scan.h) */
} importer;

static void fail(importer *im, int line, const char *uri, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(importer *im, int line, const char *uri, const char *fmt, ...)
{
    char msg[1024], obj[CR_URI_MAX + 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (uri)
        snprintf(obj, sizeof obj, "user '%.500s'", uri);
    cr_diag_add(im->diag, CR_DIAG_ERROR, (cr_srcloc){im->file, line}, uri ? obj : NULL, "%s", msg);
    im->errors++;
}

/* ---- records ------------------------------------------------------------------------------ */

static char *rec_keep(importer *im, rec *r, char *s)
{
    if (!s)
        return NULL;
    if (r->nowned == r->capowned) {
        size_t cap = r->capowned ? r->capowned * 2 : 16;
        char **o = realloc(r->owned, cap * sizeof *o);
        if (!o) {
            free(s);
            im->oom = true;
            return NULL;
        }
        r->owned = o;
        r->capowned = cap;
    }
    return r->owned[r->nowned++] = s;
}

static void name_add(importer *im, cr_namelist *l, char *s)
{
    if (!s)
        return;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **n = realloc(l->names, cap * sizeof *n);
        if (!n) {
            im->oom = true;
            return;
        }
        l->names = n;
        l->cap = cap;
    }
    l->names[l->count++] = s;
}

/* Clears r for the next user, keeping its buffers. */
static void rec_reset(rec *r)
{
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    r->nowned = 0;
    cr_namelist team = r->u.team_call, del = r->u.delegates;
    memset(&r->u, 0, sizeof r->u);
    team.count = del.count = 0;
    r->u.team_call = team;
    r->u.delegates = del;
}

static void rec_free(rec *r)
{
    rec_reset(r);
    free(r->owned);
    free(r->u.team_call.names);
    free(r->u.delegates.names);
}

/* Checks one user and adds it to the batch. */
static void import_user(importer *im, rec *r)
{
    cr_user *u = &r->u;
    int line = r->loc.line;
    char key[CR_URI_MAX];
    if (!u->uri || !u->uri[0]) {
        fail(im, line, NULL, "user without a uri");
        return;
    }
    size_t kn = cr_uri_key(u->uri, key, sizeof key);
    if (!kn || !strchr(key, '@')) {
        fail(im, line, u->uri, "uri must be a SIP URI (sip:user@domain)");
        return;
    }
    cr_number num; /* the line's parts point into it until the user is encoded */
    if (u->line) {
        if (strncasecmp(u->line, "tel:", 4) != 0 || cr_number_parse(u->line, &num) != CR_OK ||
            !num.dialable) {
            fail(im, line, u->uri, "line '%s' is not a tel: URI with a phone number", u->line);
            return;
        }
        if (!cr_line_ext_ok(u->line)) {
            fail(im, line, u->uri, "line '%s': ;ext= must be followed by digits", u->line);
            return;
        }
        u->line_number = num.digits;
        u->line_ext = num.ext[0] ? num.ext : NULL;
    }
    if (dir_encode(u, &im->buf) != CR_OK) {
        fail(im, line, u->uri, "a field is longer than 65534 bytes");
        return;
    }
    u->line_number = u->line_ext = NULL;
    if (dir_batch_add(&im->batch, key, kn, im->buf.p, im->buf.len, line) != CR_OK)
        im->oom = true;
}

/* ---- XML ---------------------------------------------------------------------------------- */

static char *xattr(importer *im, rec *r, xmlNodePtr n, const char *name)
{
    return rec_keep(im, r, cr_xml_attr(n, name));
}

/* A name-only child (<member>, <delegate>) added to a list of the user's. */
static void xml_name(importer *im, rec *r, cr_xml_elem *parent, xmlNodePtr c, cr_namelist *l)
{
    char *t = cr_xml_text_of(parent, c, NULL, &im->oom);
    if (t)
        name_add(im, l, rec_keep(im, r, t));
}

static void xml_child(importer *im, rec *r, cr_xml_elem *user, xmlNodePtr c, bool *seen)
{
    cr_user *u = &r->u;
    cr_xml_elem x = *user;
    static const char *const once[] = {"simultaneousRing", "forwarding", "teamCall"};
    for (int i = 0; i < 3; i++) /* as the configuration's loader: a second one would replace */
        if (cr_xml_is(c, once[i])) {
            if (seen[i]) {
                cr_xml_fail_at(&x, c, "<%s> given twice", once[i]);
                return;
            }
            seen[i] = true;
        }
    if (cr_xml_is(c, "simultaneousRing")) {
        if (cr_xml_begin(&x, c, cr_xml_ring_attrs, false))
            u->simultaneous_ring = xattr(im, r, c, "target");
        CR_XML_FOR_ELEMENTS(y, c) cr_xml_unknown_child(&x, y);
    } else if (cr_xml_is(c, "forwarding")) {
        cr_xml_begin(&x, c, cr_xml_forwarding_attrs, false);
        u->forwarding.immediate = xattr(im, r, c, "immediate");
        u->forwarding.no_answer_target = xattr(im, r, c, "noAnswerTarget");
        cr_xml_get_int(&x, "noAnswerAfter", 1, 3600, &u->forwarding.no_answer_after);
        CR_XML_FOR_ELEMENTS(y, c) cr_xml_unknown_child(&x, y);
    } else if (cr_xml_is(c, "teamCall")) {
        cr_xml_begin(&x, c, cr_xml_team_attrs, false);
        cr_xml_get_int(&x, "delay", 0, 3600, &u->team_call_delay);
        CR_XML_FOR_ELEMENTS(m, c)
        {
            if (cr_xml_is(m, "member"))
                xml_name(im, r, &x, m, &u->team_call);
            else
                cr_xml_unknown_child(&x, m);
        }
    } else if (cr_xml_is(c, "delegate")) {
        xml_name(im, r, user, c, &u->delegates);
    } else {
        cr_xml_unknown_child(user, c);
    }
}

static void xml_user(importer *im, rec *r, xmlNodePtr n)
{
    rec_reset(r);
    cr_user *u = &r->u;
    u->uri = xattr(im, r, n, "uri");
    size_t before = im->errors;
    cr_xml_elem e;
    cr_xml_elem_init(&e, im->file, im->diag, &im->errors);
    cr_xml_begin_object(&e, n, "user", "uri", NULL, cr_xml_user_attrs);
    r->loc.line = e.loc.line;
    u->line = xattr(im, r, n, "line");
    u->policy = xattr(im, r, n, "voicePolicy");
    u->profile = xattr(im, r, n, "locationProfile");
    u->voicemail = xattr(im, r, n, "voicemail");
    cr_xml_get_bool(&e, "enterpriseVoice", &u->enterprise_voice);
    cr_xml_get_bool(&e, "pbxIntegration", &u->pbx_integration);
    bool seen[3] = {false};
    CR_XML_FOR_ELEMENTS(c, n) xml_child(im, r, &e, c, seen);
    if (im->errors == before && !im->oom)
        import_user(im, r);
}

/* libxml2 never prints: the first error of the file is kept for the report (the scan's,
 * when it stopped the input). */
static void xml_error(void *ud, xmlErrorPtr e)
{
    importer *im = ud;
    if (im->scan.failed && im->errors == 0) {
        fail(im, im->scan.err_line, NULL, "%s", im->scan.err);
    } else if (e && e->level >= XML_ERR_ERROR && im->errors == 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", e->message ? e->message : "parse error");
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = 0;
        fail(im, e->line, NULL, "not well-formed XML: %s", msg);
    }
}

/* The reader's input: the file's bytes, each scanned before libxml2 gets it. */
static int xml_read(void *ud, char *buf, int len)
{
    importer *im = ud;
    size_t n = fread(buf, 1, (size_t)len, im->xml);
    if (n == 0 && ferror(im->xml))
        return -1;
    return xml_scan_feed(&im->scan, buf, n) == 0 ? (int)n : -1;
}

static int xml_close(void *ud)
{
    (void)ud;
    return 0;
}

static int import_xml(importer *im, FILE *f)
{
    im->rep->format = "xml";
    const char *why;
    if (cr_libxml_load(&why) < 0) {
        fail(im, 0, NULL, "%s", why);
        return CR_EIO;
    }
    im->xml = f;
    xml_scan_init(&im->scan, CR_XML_DEPTH_MAX);
    xmlTextReaderPtr rd =
        sym_xmlReaderForIO(xml_read, xml_close, im, im->file, NULL,
                           XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA |
                               XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!rd) {
        fail(im, 0, NULL, "cannot read: %s", strerror(errno));
        return CR_EIO;
    }
    sym_xmlTextReaderSetStructuredErrorHandler(rd, xml_error, im);
    rec r = {0};
    int root = 0, root_line = 0;
    bool saw_users = false;
    int rc = sym_xmlTextReaderRead(rd);
    while (rc == 1 && im->errors < IMPORT_MAX_ERRORS && !im->oom) {
        int type = sym_xmlTextReaderNodeType(rd);
        if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
            fail(im, sym_xmlTextReaderGetParserLineNumber(rd), NULL, "a DOCTYPE is not accepted");
            break;
        }
        xmlNodePtr n = type == XML_READER_TYPE_ELEMENT ? sym_xmlTextReaderCurrentNode(rd) : NULL;
        const char *name = n ? cr_xml_name(n) : NULL;
        if (n && !root++ && (!name || (strcmp(name, "users") && strcmp(name, "callroute")))) {
            fail(im, cr_xml_line(n), NULL,
                 "the root element must be <users> or <callroute> (namespace %s or none)",
                 CR_XML_NS);
            break;
        }
        const char *parent = n && n->parent ? cr_xml_name(n->parent) : NULL;
        if (root == 1 && n)
            root_line = cr_xml_line(n);
        if (name && strcmp(name, "users") == 0)
            saw_users = true;
        if (name && strcmp(name, "include") == 0) {
            /* not followed: the users of the included file would be left out without a word
             * (and a --replace import would remove them from the directory) */
            char *href = cr_xml_attr(n, "href");
            fail(im, cr_xml_line(n), NULL,
                 "<include href=\"%.500s\"> is not followed by users import: import the "
                 "file with the <users> itself",
                 href ? href : "");
            free(href);
            break;
        }
        if (name && parent && strcmp(parent, "users") == 0 && strcmp(name, "user") != 0) {
            fail(im, cr_xml_line(n), NULL, "unknown element <%s> in <users> (expected <user>)",
                 name);
            rc = sym_xmlTextReaderNext(rd);
            continue;
        }
        if (name && parent && strcmp(name, "user") == 0 && strcmp(parent, "users") == 0) {
            if ((n = sym_xmlTextReaderExpand(rd)))
                xml_user(im, &r, n);
            rc = sym_xmlTextReaderNext(rd); /* past the user's subtree */
            continue;
        }
        rc = sym_xmlTextReaderRead(rd);
    }
    if (rc < 0 && im->errors == 0 && im->scan.failed)
        fail(im, im->scan.err_line, NULL, "%s", im->scan.err);
    if (rc < 0 && im->errors == 0)
        fail(im, sym_xmlTextReaderGetParserLineNumber(rd), NULL, "not well-formed XML");
    if (!root && im->errors == 0)
        fail(im, 0, NULL, "no XML element");
    else if (!saw_users && im->errors == 0) /* a configuration without users: not an empty list */
        fail(im, root_line, NULL,
             "no <users> element: nothing to import (an empty <users/> "
             "imports no users)");
    rec_free(&r);
    sym_xmlFreeTextReader(rd);
    return CR_OK;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

enum {
    COL_URI,
    COL_LINE,
    COL_EV,
    COL_POLICY,
    COL_PROFILE,
    COL_VOICEMAIL,
    COL_SIMRING,
    COL_FWD_NOW,
    COL_NOANSWER_AFTER,
    COL_NOANSWER_TARGET,
    COL_TEAM_DELAY,
    COL_TEAM,
    COL_DELEGATES,
    COL_PBX,
    NCOLS
};

static const char *const col_names[NCOLS] = {"uri",
                                             "line",
                                             "enterpriseVoice",
                                             "voicePolicy",
                                             "locationProfile",
                                             "voicemail",
                                             "simultaneousRing",
                                             "forwardImmediate",
                                             "noAnswerAfter",
                                             "noAnswerTarget",
                                             "teamCallDelay",
                                             "teamCall",
                                             "delegates",
                                             "pbxIntegration"};

/* Splits one CSV record (RFC 4180 quoting) in place; a quoted field may span lines, so the
 * caller passes a reader to get more. Returns the field count, CSV_UNCLOSED when a quoted field
 * runs to the end of the file, CSV_TOO_MANY when the record has more than `max` fields. */
enum { CSV_UNCLOSED = -1, CSV_TOO_MANY = -2, CSV_NOMEM = -3, CSV_NUL = -4 };
typedef struct csv_in {
    bool plain; /* the last record's lines hold printable ASCII, tabs and line breaks only */
    FILE *f;
    char *line;
    size_t cap;
    int lineno;
} csv_in;

/* Whether s[0..n) holds printable ASCII, tabs and line breaks only: eight bytes a step (a
 * word with a byte at or above 0x7f or below 0x20 is read again byte by byte), so that the
 * usual record skips csv_text_bad's per-field checks. */
static bool plain_text(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, x;
        memcpy(&w, s + i, sizeof w);
        x = w ^ (0x7f * ones); /* a 0x7f byte becomes 0 */
        if ((w & high) | ((w - 0x20 * ones) & ~w & high) | ((x - ones) & ~x & high))
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
            return false;
    }
    return true;
}

static int csv_record(csv_in *in, char **fields, int max, int *first_line)
{
    ssize_t n = getline(&in->line, &in->cap, in->f);
    if (n < 0)
        return 0;
    in->lineno++;
    *first_line = in->lineno;
    if (memchr(in->line, 0, (size_t)n)) /* the fields end at a NUL: what follows would be lost */
        return CSV_NUL;
    in->plain = plain_text(in->line, (size_t)n);
    /* a spreadsheet's UTF-8 byte order mark is not part of the first field, quoted or not */
    if (in->lineno == 1 && n >= 3 && memcmp(in->line, "\xEF\xBB\xBF", 3) == 0)
        memmove(in->line, in->line + 3, (size_t)n - 2);
    char *src = in->line, *out = in->line;
    int nf = 0;
    fields[nf++] = out;
    bool quoted = false;
    for (;;) {
        char c = *src;
        if (quoted) {
            if (c == 0) {
                /* the quoted field goes on: append the next line */
                size_t off_out = (size_t)(out - in->line), off_fields[64];
                for (int i = 0; i < nf && i < 64; i++)
                    off_fields[i] = (size_t)(fields[i] - in->line);
                char *more = NULL;
                size_t mcap = 0;
                ssize_t m = getline(&more, &mcap, in->f);
                if (m < 0) {
                    free(more);
                    return CSV_UNCLOSED;
                }
                in->lineno++;
                if (memchr(more, 0, (size_t)m)) {
                    free(more);
                    return CSV_NUL;
                }
                in->plain &= plain_text(more, (size_t)m);
                size_t need = off_out + (size_t)m + 1;
                if (need > in->cap) {
                    char *b = realloc(in->line, need);
                    if (!b) {
                        free(more);
                        return CSV_NOMEM;
                    }
                    in->line = b;
                    in->cap = need;
                }
                memcpy(in->line + off_out, more, (size_t)m + 1);
                free(more);
                for (int i = 0; i < nf && i < 64; i++)
                    fields[i] = in->line + off_fields[i];
                out = src = in->line + off_out;
                continue;
            }
            if (c == '"' && src[1] == '"') {
                *out++ = '"';
                src += 2;
            } else if (c == '"') {
                quoted = false;
                src++;
            } else {
                *out++ = c;
                src++;
            }
            continue;
        }
        if (c == 0 || c == '\n' || (c == '\r' && (src[1] == '\n' || !src[1]))) {
            *out = 0;
            return nf;
        }
        if (c == '"' && out == fields[nf - 1]) {
            quoted = true;
            src++;
        } else if (c == ',') {
            *out++ = 0;
            src++;
            if (nf == max)
                return CSV_TOO_MANY;
            fields[nf++] = out;
        } else {
            *out++ = c;
            src++;
        }
    }
}

/* A field of the record being read: it stays in the reader's line buffer until the next
 * record, and the user is encoded before that, so it is not copied. */
static char *csv_str(char *s)
{
    return s && *s ? s : NULL;
}

/* Names separated by blanks, cut in place (the field is the reader's). */
static void csv_list(importer *im, cr_namelist *l, char *s)
{
    while (s && *s) {
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strcspn(s, " \t");
        char *next = s + n;
        if (*next)
            *next++ = 0;
        if (n)
            name_add(im, l, s);
        s = next;
    }
}

static void csv_int(importer *im, rec *r, const char *s, const char *col, long min, long max,
                    int *out)
{
    long v;
    if (!s || !*s)
        return;
    if (cr_xml_parse_int(s, min, max, &v) != 0)
        fail(im, r->loc.line, r->u.uri, "%s is '%s', expected a whole number from %ld to %ld", col,
             s, min, max);
    else
        *out = (int)v;
}

/* true/false/1/0 in any case (spreadsheets write TRUE and FALSE), spaces around allowed. */
static bool csv_bool(const char *s, bool *out)
{
    s += strspn(s, " \t");
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 1 && *s == '1'))
        *out = true;
    else if ((n == 5 && strncasecmp(s, "false", 5) == 0) || (n == 1 && *s == '0'))
        *out = false;
    else
        return false;
    return true;
}

/* Why a CSV field cannot be imported as text, NULL when it can: its bytes must be UTF-8 (the
 * XML export declares UTF-8) without control characters other than tab and line breaks
 * (which XML 1.0 cannot carry either), so that every user exports and imports again. */
static const char *csv_text_bad(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p - 0x20u < 0x5fu) /* the usual bytes, printable ASCII, in a tight loop */
        p++;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                return "a control character";
            p++;
            continue;
        }
        size_t n = c >= 0xC2 && c <= 0xDF   ? 1
                   : c >= 0xE0 && c <= 0xEF ? 2
                   : c >= 0xF0 && c <= 0xF4 ? 3
                                            : 0;
        if (!n)
            return "bytes that are not UTF-8";
        unsigned lo = 0x80, hi = 0xBF; /* the second byte's range: no overlong forms, surrogates,
                                          or code points above U+10FFFF */
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        else if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (p[1] < lo || p[1] > hi)
            return "bytes that are not UTF-8";
        for (size_t i = 2; i <= n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return "bytes that are not UTF-8";
        p += n + 1;
    }
    return NULL;
}

static int import_csv(importer *im, FILE *f)
{
    im->rep->format = "csv";
    csv_in in = {.f = f};
    char *fields[64];
    int map[64], line, nf;
    /* the header: blank and '#' lines before it are skipped */
    do
        nf = csv_record(&in, fields, 64, &line);
    while (nf == 1 && (!fields[0][0] || fields[0][0] == '#'));
    if (nf <= 0) {
        if (nf == CSV_NOMEM)
            im->oom = true;
        else if (nf == CSV_NUL)
            fail(im, in.lineno, NULL, "a NUL byte: not a text file");
        else if (nf == CSV_TOO_MANY)
            fail(im, line, NULL, "the header has more than 64 columns (known: %s)",
                 CR_DIRECTORY_CSV_HEADER);
        else
            fail(im, in.lineno, NULL, "no header line (expected: %s)", CR_DIRECTORY_CSV_HEADER);
        free(in.line);
        return CR_OK;
    }
    bool have[NCOLS] = {false};
    size_t header_errors = im->errors;
    for (int i = 0; i < nf; i++) {
        map[i] = -1;
        for (int c = 0; c < NCOLS; c++)
            if (strcmp(fields[i], col_names[c]) == 0)
                map[i] = c;
        const char *why = csv_text_bad(fields[i]);
        if (map[i] < 0 && why) /* not echoed: a binary file's bytes are no column name */
            fail(im, line, NULL, "column %d of the header has %s: not a CSV header (known: %s)",
                 i + 1, why, CR_DIRECTORY_CSV_HEADER);
        else if (map[i] < 0)
            fail(im, line, NULL, "unknown column '%s' (known: %s)", fields[i],
                 CR_DIRECTORY_CSV_HEADER);
        else if (have[map[i]])
            fail(im, line, NULL, "column '%s' given twice", fields[i]);
        else
            have[map[i]] = true;
    }
    if (!have[COL_URI])
        fail(im, line, NULL, "the header has no 'uri' column");
    im->no_ev_line = have[COL_EV] ? 0 : line; /* warned about if the import is accepted */
    if (im->errors > header_errors) {         /* no record can be read against a broken header */
        free(in.line);
        return CR_OK;
    }
    int ncols = nf;
    rec r = {0};
    while (im->errors < IMPORT_MAX_ERRORS && !im->oom &&
           (nf = csv_record(&in, fields, 64, &line)) != 0) {
        if (nf == 1 && (!fields[0][0] || fields[0][0] == '#'))
            continue;
        if (nf == CSV_NOMEM) {
            im->oom = true;
            break;
        }
        if (nf == CSV_NUL) {
            fail(im, in.lineno, NULL, "a NUL byte: not a text file");
            continue;
        }
        if (nf == CSV_UNCLOSED) {
            fail(im, line, NULL, "a quoted field is not closed (it runs to the end of the file)");
            continue;
        }
        if (nf != ncols) {
            if (nf == CSV_TOO_MANY)
                fail(im, line, NULL, "more than 64 fields, the header has %d", ncols);
            else
                fail(im, line, NULL, "%d fields, the header has %d", nf, ncols);
            continue;
        }
        rec_reset(&r);
        r.loc.line = line;
        char *v[NCOLS] = {NULL};
        for (int i = 0; i < nf; i++)
            v[map[i]] = fields[i];
        const char *why[64];
        bool text_ok = true;
        for (int i = 0; !in.plain && i < nf; i++) /* UTF-8 or control characters: each field */
            text_ok &= (why[i] = csv_text_bad(fields[i])) == NULL;
        if (!text_ok) { /* the user named only by a URI that can be printed */
            const char *uri_ok = NULL;
            for (int i = 0; i < nf; i++)
                if (map[i] == COL_URI && !why[i])
                    uri_ok = csv_str(fields[i]);
            for (int i = 0; i < nf; i++)
                if (why[i])
                    fail(im, line, uri_ok, "column '%s' has %s", col_names[map[i]], why[i]);
            continue;
        }
        cr_user *u = &r.u;
        u->uri = csv_str(v[COL_URI]);
        u->line = csv_str(v[COL_LINE]);
        u->policy = csv_str(v[COL_POLICY]);
        u->profile = csv_str(v[COL_PROFILE]);
        u->voicemail = csv_str(v[COL_VOICEMAIL]);
        u->simultaneous_ring = csv_str(v[COL_SIMRING]);
        u->forwarding.immediate = csv_str(v[COL_FWD_NOW]);
        u->forwarding.no_answer_target = csv_str(v[COL_NOANSWER_TARGET]);
        size_t before = im->errors;
        if (v[COL_EV] && *v[COL_EV] && !csv_bool(v[COL_EV], &u->enterprise_voice))
            fail(im, line, u->uri, "enterpriseVoice is '%s', expected true, false, 1 or 0",
                 v[COL_EV]);
        if (v[COL_PBX] && *v[COL_PBX] && !csv_bool(v[COL_PBX], &u->pbx_integration))
            fail(im, line, u->uri, "pbxIntegration is '%s', expected true, false, 1 or 0",
                 v[COL_PBX]);
        csv_int(im, &r, v[COL_NOANSWER_AFTER], "noAnswerAfter", 1, 3600,
                &u->forwarding.no_answer_after);
        csv_int(im, &r, v[COL_TEAM_DELAY], "teamCallDelay", 0, 3600, &u->team_call_delay);
        csv_list(im, &u->team_call, v[COL_TEAM]);
        csv_list(im, &u->delegates, v[COL_DELEGATES]);
        if (im->errors == before && !im->oom)
            import_user(im, &r);
    }
    rec_free(&r);
    free(in.line);
    return CR_OK;
}

/* ---- the transaction ---------------------------------------------------------------------- */

/* Writes the batch: the directory made of it alone when empty or with `replace`, else merged
 * with the directory's users. */
static void write_batch(importer *im)
{
    size_t users = 0, lines;
    char why[768] = "";
    int rc = dir_counts(im->d, im->txn, &users, &lines, why, sizeof why);
    if (rc != 0 && !im->replace && *why) { /* a damaged index: its message asks for --replace */
        fail(im, 0, NULL, "%s", why);
        return;
    }
    if (im->replace) /* a damaged index is replaced too (dir_batch_write_fresh) */
        rc = 0;
    if (rc == 0 && (im->replace || users == 0))
        rc = dir_batch_write_fresh(im->d, im->txn, &im->batch, im->rep, im->file, im->diag,
                                   &im->errors);
    else if (rc == 0)
        rc = dir_batch_write_merge(im->d, im->txn, &im->batch, im->rep, im->file, im->diag,
                                   &im->errors);
    if (rc == CR_ENOMEM)
        im->oom = true;
    else if (rc != CR_OK && !im->errors)
        fail(im, 0, NULL, "%s: cannot write the users and their lookup index", im->d->path);
}

int cr_directory_import(cr_directory *d, const char *file, bool replace, cr_import_report *rep,
                        cr_diag *diag)
{
    cr_import_report dummy;
    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof *rep);
    if (!d || !file || !diag)
        return CR_EINVAL;
    importer im = {.d = d, .replace = replace, .file = file, .rep = rep, .diag = diag};
    FILE *f = fopen(file, "r");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        f = NULL;
        errno = EISDIR;
    }
    if (!f) {
        fail(&im, 0, NULL, "cannot open: %s", strerror(errno));
        return CR_EIO;
    }
    if (fseek(f, 0, SEEK_CUR) != 0) {
        /* a pipe (/dev/stdin): copied into a temporary file first, since the format is told
         * from the first bytes, which the reader must then read again */
        FILE *copy = tmpfile();
        char buf[65536];
        size_t n;
        while (copy && (n = fread(buf, 1, sizeof buf, f)) > 0)
            if (fwrite(buf, 1, n, copy) != n) {
                fclose(copy);
                copy = NULL;
            }
        if (!copy || ferror(f) || fflush(copy) != 0) {
            fail(&im, 0, NULL, "cannot read: %s", strerror(errno ? errno : EIO));
            if (copy)
                fclose(copy);
            fclose(f);
            return CR_EIO;
        }
        fclose(f);
        f = copy;
        rewind(f);
    }
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xEF || c == 0xBB ||
           c == 0xBF)
        ;
    rewind(f);
    int rc = mdb_txn_begin(d->env, NULL, 0, &im.txn);
    if (rc != 0) {
        fclose(f);
        fail(&im, 0, NULL, "%s: cannot write: %s", d->path, mdb_strerror(rc));
        return CR_EIO;
    }
    if (c == '<') {
        import_xml(&im, f);
    } else {
        import_csv(&im, f);
    }
    if (f)
        fclose(f);
    if (!im.oom && im.errors < IMPORT_MAX_ERRORS)
        im.errors += dir_batch_sort(&im.batch, file, diag);
    if (!im.oom && im.errors < IMPORT_MAX_ERRORS) /* into the transaction for its errors too */
        write_batch(&im);
    rep->read = rep->added + rep->replaced;
    rc = CR_OK;
    if (im.errors || im.oom) {
        mdb_txn_abort(im.txn);
        rc = im.oom && !im.errors ? CR_ENOMEM : CR_ECONFIG;
        if (im.errors >= IMPORT_MAX_ERRORS)
            cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){file, 0}, NULL,
                        "too many errors, import stopped");
        rep->added = rep->replaced = rep->removed = 0;
    } else if ((c = mdb_txn_commit(im.txn)) != 0) {
        char why[256];
        fail(&im, 0, NULL, "%s: commit failed: %s", d->path,
             dir_write_error(d, c, why, sizeof why));
        rc = CR_EIO;
    } else if (im.no_ev_line) {
        cr_diag_add(diag, CR_DIAG_WARNING, (cr_srcloc){file, im.no_ev_line}, NULL,
                    "the header has no 'enterpriseVoice' column: every user is imported as not "
                    "enabled for Enterprise Voice");
    }
    dir_batch_free(&im.batch);
    free(im.buf.p);
    return rc;
}

/* ---- export ------------------------------------------------------------------------------- */

static void xml_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\n': /* as character references: an attribute value's line breaks and tabs would
                      be read back as spaces (XML's attribute-value normalization) */
            fputs("&#10;", out);
            break;
        case '\r':
            fputs("&#13;", out);
            break;
        case '\t':
            fputs("&#9;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void xml_attr_out(FILE *out, const char *name, const char *v)
{
    if (!v)
        return;
    fprintf(out, " %s=\"", name);
    xml_escaped(out, v);
    fputc('"', out);
}

static void export_xml_user(FILE *out, const cr_user *u)
{
    fputs("  <user", out);
    xml_attr_out(out, "uri", u->uri);
    xml_attr_out(out, "line", u->line);
    fprintf(out, " enterpriseVoice=\"%s\"", u->enterprise_voice ? "true" : "false");
    if (u->pbx_integration)
        fputs(" pbxIntegration=\"true\"", out);
    xml_attr_out(out, "voicePolicy", u->policy);
    xml_attr_out(out, "locationProfile", u->profile);
    xml_attr_out(out, "voicemail", u->voicemail);
    const cr_forwarding *f = &u->forwarding;
    bool kids = u->simultaneous_ring || f->immediate || f->no_answer_after || f->no_answer_target ||
                u->team_call.count || u->team_call_delay || u->delegates.count;
    fputs(kids ? ">\n" : "/>\n", out);
    if (!kids)
        return;
    if (u->simultaneous_ring) {
        fputs("    <simultaneousRing", out);
        xml_attr_out(out, "target", u->simultaneous_ring);
        fputs("/>\n", out);
    }
    if (f->immediate || f->no_answer_after || f->no_answer_target) {
        fputs("    <forwarding", out);
        xml_attr_out(out, "immediate", f->immediate);
        if (f->no_answer_after)
            fprintf(out, " noAnswerAfter=\"%d\"", f->no_answer_after);
        xml_attr_out(out, "noAnswerTarget", f->no_answer_target);
        fputs("/>\n", out);
    }
    if (!u->team_call.count && u->team_call_delay) /* the delay kept, as the CSV export does */
        fprintf(out, "    <teamCall delay=\"%d\"/>\n", u->team_call_delay);
    if (u->team_call.count) {
        fprintf(out, "    <teamCall delay=\"%d\">", u->team_call_delay);
        for (size_t i = 0; i < u->team_call.count; i++) {
            fputs("<member>", out);
            xml_escaped(out, u->team_call.names[i]);
            fputs("</member>", out);
        }
        fputs("</teamCall>\n", out);
    }
    for (size_t i = 0; i < u->delegates.count; i++) {
        fputs("    <delegate>", out);
        xml_escaped(out, u->delegates.names[i]);
        fputs("</delegate>\n", out);
    }
    fputs("  </user>\n", out);
}

static void csv_field(FILE *out, const char *s, bool last)
{
    if (s && strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else if (s) {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

static void csv_list_out(FILE *out, const cr_namelist *l, bool last)
{
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        n += strlen(l->names[i]) + 1;
    char *s = malloc(n + 1), *p = s;
    if (!s)
        return;
    *p = 0;
    for (size_t i = 0; i < l->count; i++)
        p += sprintf(p, "%s%s", i ? " " : "", l->names[i]);
    csv_field(out, s, last);
    free(s);
}

static void export_csv_user(FILE *out, const cr_user *u)
{
    char num[16], delay[16];
    snprintf(num, sizeof num, "%d", u->forwarding.no_answer_after);
    snprintf(delay, sizeof delay, "%d", u->team_call_delay);
    csv_field(out, u->uri, false);
    csv_field(out, u->line, false);
    csv_field(out, u->enterprise_voice ? "true" : "false", false);
    csv_field(out, u->policy, false);
    csv_field(out, u->profile, false);
    csv_field(out, u->voicemail, false);
    csv_field(out, u->simultaneous_ring, false);
    csv_field(out, u->forwarding.immediate, false);
    csv_field(out, u->forwarding.no_answer_after ? num : NULL, false);
    csv_field(out, u->forwarding.no_answer_target, false);
    csv_field(out, u->team_call.count || u->team_call_delay ? delay : NULL, false);
    csv_list_out(out, &u->team_call, false);
    csv_list_out(out, &u->delegates, false);
    csv_field(out, u->pbx_integration ? "true" : NULL, true);
}

int cr_directory_export(cr_directory *d, FILE *out, cr_dir_format fmt, char *err, size_t errlen)
{
    MDB_txn *txn;
    dir_walk w;
    int rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        dir_err(err, errlen, d->path, rc);
        return CR_EIO;
    }
    if (dir_walk_begin(d, txn, &w) != CR_OK) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "%s: cannot read the users", d->path);
        return CR_EIO;
    }
    if (fmt == CR_DIR_XML)
        fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<users xmlns=\"%s\">\n",
                CR_XML_NS);
    else
        fprintf(out, "%s\n", CR_DIRECTORY_CSV_HEADER);
    MDB_val k, v;
    int status = CR_OK;
    while ((rc = dir_walk_next(&w, &k, &v, NULL)) == 1) {
        cr_user u;
        char *names[CR_DIR_SLOT_NAMES], **heap;
        if (!dir_decode(v.mv_data, v.mv_size, &u, names, CR_DIR_SLOT_NAMES, &heap)) {
            snprintf(err, errlen, "%s: damaged record '%.*s'", d->path, (int)k.mv_size,
                     (const char *)k.mv_data);
            status = CR_EIO;
            break;
        }
        if (fmt == CR_DIR_XML)
            export_xml_user(out, &u);
        else
            export_csv_user(out, &u);
        free(heap);
    }
    if (rc < 0 && status == CR_OK) {
        snprintf(err, errlen, "%s: damaged lookup index", d->path);
        status = CR_EIO;
    }
    if (fmt == CR_DIR_XML)
        fputs("</users>\n", out);
    dir_walk_end(&w);
    mdb_txn_abort(txn);
    if (status == CR_OK && (fflush(out) != 0 || ferror(out))) {
        snprintf(err, errlen, "write error: %s", strerror(errno));
        status = CR_EIO;
    }
    return status;
}

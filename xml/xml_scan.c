/* The pre-scan of XML bytes for limits libxml2 would only enforce slowly (see xml_scan.h). */
#include "xml_scan.h"
#include "cr_xml_node.h"

#include <stdio.h>
#include <string.h>

enum {
    S_TEXT,
    S_LT,      /* after '<' */
    S_NAME,    /* the name of a start tag */
    S_TAG,     /* the attributes of a start tag */
    S_QUOTE,   /* a quoted attribute value */
    S_END,     /* an end tag */
    S_PI,      /* <? ... ?> */
    S_BANG,    /* after "<!" */
    S_BANG2,   /* after "<!-" */
    S_COMMENT, /* <!-- ... --> */
    S_CDATA,   /* <![CDATA[ ... ]]> */
    S_DECL,    /* <!DOCTYPE ...> and other declarations */
    S_DECL_Q,  /* a quoted string in a declaration */
    S_SUBSET,  /* [ ... ] of a DOCTYPE (refused later by the parsers anyway) */
};

void xml_scan_init(xml_scan *s, int max_depth)
{
    memset(s, 0, sizeof *s);
    s->max_depth = max_depth;
    s->line = 1;
}

/* The newlines among n bytes at p. */
static int lines_in(const char *p, size_t n)
{
    int lines = 0;
    for (const char *q = p, *end = p + n; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
        lines++;
    return lines;
}

static void fail(xml_scan *s, const char *what, int limit)
{
    s->failed = true;
    s->err_line = s->tag_here ? s->line + lines_in(s->chunk, s->tag_off) : s->tag_line;
    if (what)
        snprintf(s->err, sizeof s->err, "element <%s> has more than %d attributes", s->name, limit);
    else
        snprintf(s->err, sizeof s->err, "elements nested deeper than %d levels", limit);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The '>' of a start tag. */
static void close_tag(xml_scan *s)
{
    s->state = S_TEXT;
    if (s->prev != '/' && ++s->depth > s->max_depth)
        fail(s, NULL, s->max_depth);
}

/* A terminator of `len` characters ending in '>' whose other characters are all `c`
 * ("-->", "]]>", "?>"): tracks the run of `c` and returns true on its '>'. */
static bool terminator(xml_scan *s, char ch, char c, int len)
{
    if (ch == '>' && s->run >= len - 1)
        return true;
    s->run = ch == c ? s->run + 1 : 0;
    return false;
}

static void start_tag_char(xml_scan *s, char c)
{
    if (s->state == S_NAME) {
        if (!is_space(c) && c != '/' && c != '>') {
            if (s->namelen + 1 < sizeof s->name)
                s->name[s->namelen++] = c;
            return;
        }
        s->name[s->namelen] = '\0';
        s->state = S_TAG;
    }
    if (c == '"' || c == '\'') {
        s->quote = c;
        s->state = S_QUOTE;
    } else if (c == '=') {
        if (++s->attrs > CR_XML_ATTRS_MAX)
            fail(s, "attributes", CR_XML_ATTRS_MAX);
    } else if (c == '>') {
        close_tag(s);
        return;
    }
    if (!is_space(c))
        s->prev = c;
}

static void lt_char(xml_scan *s, char c)
{
    s->run = 0;
    if (c == '/') {
        s->state = S_END;
    } else if (c == '?') {
        s->state = S_PI;
    } else if (c == '!') {
        s->state = S_BANG;
    } else {
        s->state = S_NAME;
        s->namelen = 0;
        s->attrs = 0;
        s->prev = 0;
        start_tag_char(s, c);
    }
}

static void step(xml_scan *s, char c)
{
    switch (s->state) {
    case S_TEXT:
        if (c == '<') {
            s->state = S_LT;
            s->tag_off = s->pos;
            s->tag_here = true;
        }
        break;
    case S_LT:
        lt_char(s, c);
        break;
    case S_NAME:
    case S_TAG:
        start_tag_char(s, c);
        break;
    case S_QUOTE:
        if (c == s->quote) {
            s->state = S_TAG;
            s->prev = c;
        }
        break;
    case S_END:
        if (c == '>') {
            s->state = S_TEXT;
            if (s->depth > 0)
                s->depth--;
        }
        break;
    case S_PI:
        if (terminator(s, c, '?', 2))
            s->state = S_TEXT;
        break;
    case S_BANG:
        s->state = c == '-' ? S_BANG2 : c == '[' ? S_CDATA : S_DECL;
        s->run = 0;
        break;
    case S_BANG2:
        s->state = c == '-' ? S_COMMENT : S_DECL;
        break;
    case S_COMMENT:
        if (terminator(s, c, '-', 3))
            s->state = S_TEXT;
        break;
    case S_CDATA:
        if (terminator(s, c, ']', 3))
            s->state = S_TEXT;
        break;
    case S_DECL:
        if (c == '"' || c == '\'') {
            s->quote = c;
            s->state = S_DECL_Q;
        } else if (c == '[') {
            s->state = S_SUBSET;
        } else if (c == '>') {
            s->state = S_TEXT;
        }
        break;
    case S_DECL_Q:
        if (c == s->quote)
            s->state = S_DECL;
        break;
    case S_SUBSET:
        if (c == ']')
            s->state = S_DECL;
        break;
    }
}

/* Text, attribute values and end tags end at one byte: skips to it, or to the end. */
static size_t skip_to(const char *p, size_t i, size_t n, char stop)
{
    const char *q = memchr(p + i, stop, n - i);
    return q ? (size_t)(q - p) : n;
}

/* A byte of a start tag that only becomes the tag's last character (start_tag_char): not
 * white space, a quote, '=' or '>'. */
static bool plain_in_tag(char c)
{
    return !is_space(c) && c != '"' && c != '\'' && c != '=' && c != '>';
}

/* Skips the run of plain bytes of a start tag (attribute names) at i; returns where it ends. */
static size_t skip_plain(xml_scan *s, const char *p, size_t i, size_t n)
{
    size_t k = i;
    while (k < n && plain_in_tag(p[k]))
        k++;
    if (k > i)
        s->prev = p[k - 1];
    return k;
}

/* The name of a start tag: copied (as far as it fits) up to white space, '/' or '>'. */
static size_t skip_name(xml_scan *s, const char *p, size_t i, size_t n)
{
    while (i < n && !is_space(p[i]) && p[i] != '/' && p[i] != '>') {
        if (s->namelen + 1 < sizeof s->name)
            s->name[s->namelen++] = p[i];
        i++;
    }
    return i;
}

int xml_scan_feed(xml_scan *s, const char *p, size_t n)
{
    size_t i = 0;
    s->chunk = p;
    while (i < n && !s->failed) {
        switch (s->state) {
        case S_TEXT:
            i = skip_to(p, i, n, '<');
            break;
        case S_QUOTE:
            i = skip_to(p, i, n, s->quote);
            break;
        case S_END:
            i = skip_to(p, i, n, '>');
            break;
        case S_TAG:
            i = skip_plain(s, p, i, n);
            break;
        case S_NAME:
            i = skip_name(s, p, i, n);
            break;
        }
        if (i == n)
            break;
        s->pos = i;
        step(s, p[i]);
        i++;
    }
    /* lines are counted here, once, not byte by byte: a limit's error counts them itself */
    if (!s->failed && s->tag_here)
        s->tag_line = s->line + lines_in(p, s->tag_off);
    s->tag_here = false;
    s->line += lines_in(p, n);
    return s->failed ? -1 : 0;
}

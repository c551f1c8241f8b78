/*
 * A linear pre-scan of XML bytes, run before libxml2 sees them (rules/cr_xml.c,
 * directory_import.c).
 *
 * libxml2 2.9 spends time quadratic in the number of attributes of one element (its duplicate
 * check compares each attribute with every earlier one, namespace declarations likewise):
 * 200,000 attributes take minutes. The scan counts attributes per start tag and the element
 * depth in one pass over the bytes, fed in chunks of any size, and stops at the first start
 * tag over a limit with the line where that tag begins. It only tokenizes what matters for
 * counting (tags, quoted values, comments, CDATA, processing instructions, declarations);
 * whether the document is well formed is still libxml2's to say.
 */
#ifndef CR_XML_SCAN_H
#define CR_XML_SCAN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct xml_scan {
    int max_depth;
    int state, run; /* tokenizer state; length of a terminator ("-->", "]]>", "?>") seen */
    char quote, prev;
    int line;     /* the line the current chunk starts on (lines are counted once a chunk) */
    int tag_line; /* where the open start tag began, when it began in an earlier chunk */
    int depth, attrs;
    const char *chunk; /* the chunk being scanned, and where in it the open start tag began */
    size_t pos, tag_off;
    bool tag_here;
    char name[48];
    size_t namelen;
    bool failed;
    int err_line;
    char err[160];
} xml_scan;

/* Starts a scan allowing elements nested `max_depth` deep, each with at most
 * CR_XML_ATTRS_MAX attributes (cr_xml_node.h; namespace declarations count). */
void xml_scan_init(xml_scan *s, int max_depth);

/*
 * Scans the next `n` bytes. Returns 0, or -1 once a start tag breaks a limit: then s->err
 * holds the message ("element <user> has more than 256 attributes") and s->err_line the
 * line where the tag begins; every later call returns -1 too.
 */
int xml_scan_feed(xml_scan *s, const char *p, size_t n);

#endif

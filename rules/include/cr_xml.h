/*
 * Walking a callroute XML document with its <include href="..."/> files.
 *
 * Both the routing loader (cr_rules.h) and the response-group loader use this walk, so a
 * deployment is one document tree however it is split into files. Includes are resolved
 * relative to the including file, may nest (depth limit 16) and may not form a cycle; each
 * file may be included once. An include must name a regular file inside the directory of the
 * top file or of an include directory the operator allows (cr_load_options): absolute paths,
 * "../" and symbolic links are followed only as far as those directories. At most
 * CR_XML_FILES_MAX files and CR_XML_TOTAL_MAX bytes in all.
 *
 * Parsing is hardened: no network, no DTD (a <!DOCTYPE> is refused, so no entity can be
 * declared or expanded), elements nested at most CR_XML_DEPTH_MAX deep with at most
 * CR_XML_ATTRS_MAX attributes each (refused by a linear scan before libxml2 parses, whose
 * attribute handling is quadratic), files at most CR_XML_FILE_MAX bytes. libxml2 never
 * prints: its messages go into the cr_diag.
 */
#ifndef CR_XML_H
#define CR_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cr_model.h"
#include "cr_xml_node.h"

#define CR_XML_INCLUDE_MAX 16           /* deepest include nesting accepted */
#define CR_XML_FILE_MAX    (64L << 20)  /* largest file accepted, in bytes */
#define CR_XML_FILES_MAX   1000         /* files in one configuration, includes counted */
#define CR_XML_TOTAL_MAX   (256L << 20) /* bytes of all the files of one configuration */

/* How a configuration is loaded (cr_rules_load_ex, cr_rgs_xml_load_ex, cr_xml_walk). */
typedef struct cr_load_options {
    /* Directories, besides the top file's own, that includes may reach: a NULL-terminated
     * list, or NULL for none. Borrowed for the call. A directory that does not exist is an
     * error. */
    const char *const *include_dirs;
    /* When not NULL: called with each file's parsed document (an xmlDocPtr whose root is
     * <callroute>) before its sections are handed on; returns how many errors it added to
     * `diag`. A file with errors has its sections skipped (its includes are still walked).
     * `callroute check` validates each file against the RELAX NG schema this way
     * (cr_schema.h). */
    int (*check_doc)(void *ud, void *doc, const char *file, cr_diag *diag);
    void *check_ud;
    /* Not read by the loader: the checks that follow a load (plugin-api's crp_load_ex) warn
     * of queue timeouts longer than this many seconds (cr_rgs_check_wait); 0 = none. */
    unsigned rgs_max_wait_s;
    /* A plan image is adopted without lint (CR_IMAGE_NOLINT): its warnings were reported when
     * it was compiled. Set by the library's handles (open, reload), not by `check`. */
    bool image_no_lint;
    /* The configuration is loaded to be written as a plan image (cr_config_set_image_only):
     * `callroute compile`, a Kamailio process publishing the plan it validated. */
    bool image_only;
} cr_load_options;

/*
 * Called once for each child element of the <callroute> root (in document order, includes
 * expanded in place; an included file's root is also <callroute>). `node` is an xmlNodePtr
 * (libxml2), `file` the path of the file it came from (interned, valid for the walk). Return
 * 0 to continue, non-zero to stop the walk with that code. The element is handed over at its
 * end tag, before the rest of its file is read, and freed afterwards (cr_xml_stream).
 */
typedef int (*cr_xml_element_fn)(void *ud, void *node, const char *file, cr_diag *diag);

/*
 * A consumer that takes the document as it is read (cr_xml_walk_stream), so that it is never
 * built whole: each top-level element is announced at its start tag (open: the node has its
 * attributes, no children yet) and then handed over as the consumer asked:
 *   CR_XML_TAKE_WHOLE    at its end tag, with all it contains (whole, like cr_xml_element_fn);
 *   CR_XML_TAKE_OBJECTS  each of its child elements at that child's end tag (object: `section`
 *                        is the top-level element, attributes only), then the end of the
 *                        section (close: `text_line` is the line of the first text other than
 *                        white space directly in the section, 0 when there is none);
 *   CR_XML_TAKE_SKIP     not at all (its content is not even built);
 *   CR_XML_TAKE_FLAT     as CR_XML_TAKE_OBJECTS, each object first offered to the flat hook
 *                        without its nodes when it has the shape cr_xml_flat describes.
 * A NULL open takes every element whole. <include> elements are the walk's own and never
 * handed over. Each node is freed once it has been handed over: keep nothing of it.
 *
 * A file that turns out broken after some of its elements were handed over (not well-formed
 * further on) is refused as a whole, as if nothing of it had been read: the diagnostics added
 * since it began (its elements', its includes') are dropped for the parse error, the files it
 * included are forgotten, and file_end(ud, false) tells the consumer to forget what it kept of
 * the file that later files' errors would depend on (the walk then returns CR_ECONFIG).
 * file_begin and file_end (either may be NULL) bracket each file, includes nested inside.
 * Every hook returns 0 to continue or a non-zero code that stops the walk with it.
 *
 * With cr_load_options.check_doc, each file is parsed
 * whole first and handed over the same way from the document (never flat).
 */
typedef enum {
    CR_XML_TAKE_WHOLE,
    CR_XML_TAKE_OBJECTS,
    CR_XML_TAKE_SKIP,
    CR_XML_TAKE_FLAT
} cr_xml_take;

/*
 * An object of a CR_XML_TAKE_FLAT section read without building its nodes (the `flat`
 * hook): only an element in the callroute namespace (or none) whose attributes carry no
 * namespace and no entity or character reference, whose children are elements without
 * attributes holding only text, and with no text other than white space, comment, processing
 * instruction or CDATA anywhere in it. Strings are borrowed for the call; values are as
 * cr_xml_attr gives them, texts as cr_xml_text does (white space trimmed). Lines are those
 * cr_xml_line gives for the nodes.
 */
#define CR_XML_FLAT_ATTRS 8
#define CR_XML_FLAT_KIDS  16
typedef struct cr_xml_flat {
    const char *name;
    int line;
    size_t nattrs;
    const char *attr[CR_XML_FLAT_ATTRS], *value[CR_XML_FLAT_ATTRS];
    size_t nkids;
    struct {
        const char *name, *text;
        int line;
    } kid[CR_XML_FLAT_KIDS];
} cr_xml_flat;

typedef struct cr_xml_stream {
    int (*open)(void *ud, void *node, const char *file, cr_diag *diag, cr_xml_take *take);
    int (*whole)(void *ud, void *node, const char *file, cr_diag *diag);
    int (*object)(void *ud, void *section, void *node, const char *file, cr_diag *diag);
    int (*close)(void *ud, void *section, int text_line, const char *file, cr_diag *diag);
    void (*file_begin)(void *ud);
    void (*file_end)(void *ud, bool kept);
    /* Optional, beside `object`: an object of a section taken object by object, offered
     * without nodes when it has the shape cr_xml_flat describes. Sets *taken and loads it
     * exactly as `object` would load its nodes, or leaves *taken false having done nothing:
     * the walk then builds the nodes and hands them to `object`. */
    int (*flat)(void *ud, void *section, const cr_xml_flat *obj, const char *file, cr_diag *diag,
                bool *taken);
} cr_xml_stream;

/*
 * Parses `path` (no network, no external entities, no DTD loading, depth-limited), checks
 * the root element and namespace, and calls `fn` for each top-level element. Errors (not well
 * formed, wrong root, include not found, outside the allowed directories, not a regular
 * file, cycle, repeated, over budget) go to `diag` with file and line (of the include).
 * `opts` may be NULL (includes stay in the top file's directory).
 * Returns CR_OK, CR_ECONFIG (diag has the error) or the callback's non-zero code.
 *
 * The root must be <callroute> in the namespace CR_XML_NS or in no namespace; any other
 * namespace is refused. Paths in messages are the include paths as resolved (the including
 * file's directory joined with href), not canonical paths.
 */
int cr_xml_walk(const char *path, const cr_load_options *opts, cr_xml_element_fn fn, void *ud,
                cr_diag *diag);

/*
 * cr_xml_walk that also gives a digest of the bytes of every file read (*digest, may be NULL).
 * A plan image (engine/plan_image.h) holds no XML (its response groups are compiled,
 * cr_rgs_image.h): it is checked and nothing is walked; the digest is then the image's.
 */
int cr_xml_walk_ex(const char *path, const cr_load_options *opts, cr_xml_element_fn fn, void *ud,
                   cr_diag *diag, uint64_t *digest);

/* cr_xml_walk_ex for a streaming consumer (cr_xml_stream, borrowed for the call). */
int cr_xml_walk_stream(const char *path, const cr_load_options *opts, const cr_xml_stream *s,
                       void *ud, cr_diag *diag, uint64_t *digest);

/* The whole text of the file `node` was parsed from (valid during the walk). */
bool cr_xml_source(const void *node, const char **text, size_t *len);

#endif

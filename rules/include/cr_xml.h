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
} cr_load_options;

/*
 * Called once for each child element of the <callroute> root (in document order, includes
 * expanded in place; an included file's root is also <callroute>). `node` is an xmlNodePtr
 * (libxml2), `file` the path of the file it came from (interned, valid for the walk). Return
 * 0 to continue, non-zero to stop the walk with that code.
 */
typedef int (*cr_xml_element_fn)(void *ud, void *node, const char *file, cr_diag *diag);

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
 * A plan image (engine/plan_image.h) is walked too: the files of the response-group sources it
 * holds, each with its original name and lines (includes are already expanded); the digest is
 * then the image's.
 */
int cr_xml_walk_ex(const char *path, const cr_load_options *opts, cr_xml_element_fn fn, void *ud,
                   cr_diag *diag, uint64_t *digest);

/* The walk over the source files a configuration kept (cr_config_add_source: the files that
 * declare response groups, from the XML or from a plan image), parsed from memory. */
int cr_xml_walk_sources(const cr_config *cfg, cr_xml_element_fn fn, void *ud, cr_diag *diag);

/* The whole text of the file `node` was parsed from (valid during the walk). */
bool cr_xml_source(const void *node, const char **text, size_t *len);

#endif

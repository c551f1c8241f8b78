/*
 * Walking a callroute XML document with its <include href="..."/> files.
 *
 * Both the routing loader (cr_rules.h) and the response-group loader use this walk, so a
 * deployment is one document tree however it is split into files. Includes are resolved
 * relative to the including file, may nest (depth limit 16) and may not form a cycle.
 */
#ifndef CR_XML_H
#define CR_XML_H

#include "cr_model.h"

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
 * formed, wrong root, include not found, include cycle) go to `diag` with file and line.
 * Returns CR_OK, CR_ECONFIG (diag has the error) or the callback's non-zero code.
 */
int cr_xml_walk(const char *path, cr_xml_element_fn fn, void *ud, cr_diag *diag);

#endif

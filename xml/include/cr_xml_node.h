/*
 * Reading the elements of a callroute document: the namespace, the limits every parse of it
 * keeps (the configuration walk, cr_xml.h, and the user directory's import alike), and the
 * helpers that turn libxml2 nodes into C values and diagnostics.
 */
#ifndef CR_XML_NODE_H
#define CR_XML_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "cr_model.h"

#define CR_XML_NS        "urn:callroute:config:1"
#define CR_XML_DEPTH_MAX 64  /* deepest element nesting accepted */
#define CR_XML_ATTRS_MAX 256 /* attributes of one element (xml_scan.h) */

/* The attributes of <user> and of its children <simultaneousRing>, <forwarding> and <teamCall>
 * (NULL-terminated): the routing loader and the directory's XML import read the same element. */
extern const char *const cr_xml_user_attrs[];
extern const char *const cr_xml_ring_attrs[];
extern const char *const cr_xml_forwarding_attrs[];
extern const char *const cr_xml_team_attrs[];

/* ---- helpers for the element callbacks (node is an xmlNodePtr) ------------------------- */

/*
 * Line of `node` in its file, 0 if unknown. For an element, the line where its start tag
 * begins, exact beyond line 65535 too: the walk keeps it in the element's `_private`, which
 * callbacks must leave alone.
 */
int cr_xml_line(const void *node);

/*
 * The local name of `node` if it is an element in the callroute namespace (or in no
 * namespace), else NULL (text, comments, elements of foreign namespaces). Borrowed.
 */
const char *cr_xml_name(const void *node);

/*
 * The value of attribute `name` (no namespace) of `node`, or NULL when absent. The caller
 * frees it with free().
 */
char *cr_xml_attr(const void *node, const char *name);

/*
 * The text content of an element, leading and trailing white space removed, or NULL when
 * out of memory. The caller frees it with free().
 */
char *cr_xml_text(const void *node);

/*
 * Checks that every attribute of `node` without a namespace is one of `allowed` (a
 * NULL-terminated list) and that every child is an element or white space (or, when
 * `text_ok`, text); attributes in a namespace are extension points and ignored. Errors
 * name `object` (may be NULL) and go to `diag`. Returns the number of errors added.
 */
int cr_xml_check(const void *node, const char *const *allowed, bool text_ok, const char *file,
                 const char *object, cr_diag *diag);

/*
 * Parses a boolean attribute value: "true"/"1" and "false"/"0". Returns 0 and sets *out,
 * or CR_EINVAL for anything else.
 */
int cr_xml_parse_bool(const char *s, bool *out);

/* Parses a decimal integer in [min, max]. Returns 0 and sets *out, or CR_EINVAL. */
int cr_xml_parse_int(const char *s, long min, long max, long *out);

#endif

/*
 * Reading one element of a callroute document, the way every reader of it does (the routing
 * loader, the response-group loader, the user directory's XML import): which attributes it
 * may have, required attributes, boolean and integer attributes with their range, unknown
 * children, name-only text elements (<usage>Local</usage>). Every error names the file, the
 * line and the object being read ("route 'X'"), goes to a cr_diag and is counted.
 *
 * Use: cr_xml_elem_init (where errors go), cr_xml_name_object (how they name the object),
 * cr_xml_begin (the element: its line, its attributes checked). A child read in the name of
 * its parent starts as a copy of the parent's cr_xml_elem.
 */
#ifndef CR_XML_ELEM_H
#define CR_XML_ELEM_H

#include <stdbool.h>
#include <stddef.h>

#include "cr_model.h"
#include "cr_xml_node.h"

typedef struct cr_xml_elem {
    void *node;       /* the element (an xmlNodePtr) */
    cr_srcloc loc;    /* the file errors name, and the element's line */
    cr_diag *diag;    /* where errors go */
    size_t *errors;   /* counts each error reported through this element; may be NULL */
    char object[640]; /* how errors name the object ("user 'sip:a@b'"); "" for none */
} cr_xml_elem;

/* The element children of `node` (an xmlNodePtr), in order, any namespace, for files that
 * include <libxml/tree.h>. */
#define CR_XML_FOR_ELEMENTS(c, node)                                                               \
    for (xmlNodePtr c = cr_xml_first_element(node); c; c = cr_xml_next_element(c))

/* The first element child of `node` and the element after `node`, or NULL. */
void *cr_xml_first_element(const void *node);
void *cr_xml_next_element(const void *node);

/* Starts `e`: errors name `file`, go to `diag` and are added to *errors (when not NULL). No
 * node and no object yet. */
void cr_xml_elem_init(cr_xml_elem *e, const char *file, cr_diag *diag, size_t *errors);

/* Names the object errors are about: "kind 'name' of owner", "kind 'name'" or "kind" (a NULL
 * name or owner is left out). */
void cr_xml_name_object(cr_xml_elem *e, const char *kind, const char *name, const char *owner);

/* Reads `node`: sets e->node and the line, checks its attributes against `allowed` and its
 * text (cr_xml_check) in the name of e->object. Returns false after an error. */
bool cr_xml_begin(cr_xml_elem *e, void *node, const char *const *allowed, bool text_ok);

/* cr_xml_begin for an object named by its attribute `attr`: "kind 'value' of owner" ("rule 'R'
 * of location profile 'P'", the owner may be NULL), just the kind when the attribute is absent
 * or empty. */
bool cr_xml_begin_object(cr_xml_elem *e, void *node, const char *kind, const char *attr,
                         const char *owner, const char *const *allowed);

/* The object a loader made of a required name: frees `name` and returns `obj`, setting *oom
 * when there was a name but no object (out of memory). NULL after an error or out of memory. */
void *cr_xml_made(char *name, void *obj, bool *oom);

/* An error about the element (at its line), or at the line of `node`. */
void cr_xml_fail(cr_xml_elem *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cr_xml_fail_at(cr_xml_elem *e, const void *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A required attribute: its value (the caller frees it), or NULL after an error (missing,
 * or empty). */
char *cr_xml_need(cr_xml_elem *e, const char *attr);

/* An optional boolean attribute (true, false, 1, 0): sets *out when present and valid;
 * *out is unchanged when absent. Returns false after an error. */
bool cr_xml_get_bool(cr_xml_elem *e, const char *attr, bool *out);

/* An optional whole-number attribute in [min, max], like cr_xml_get_bool. */
bool cr_xml_get_int(cr_xml_elem *e, const char *attr, long min, long max, int *out);

/* Reports the child element `c` of e's element as not allowed there: "unknown element <c> in
 * <parent>", or, for an element of a foreign namespace, that it is not allowed. */
void cr_xml_unknown_child(cr_xml_elem *e, const void *c);

/* cr_xml_check's "unexpected text in <element>" for text found at `line` in e's element after
 * the element was begun with text allowed (cr_xml_begin with text_ok: a streamed section sees
 * its text only at its end). The error is placed at index `slot` of the diagnostics (their
 * count when the element was begun), where a check of the whole element would have put it. */
void cr_xml_unexpected_text(cr_xml_elem *e, size_t slot, int line);

/* True when `node` is the callroute element `name` (cr_xml_name). */
bool cr_xml_is(const void *node, const char *name);

/*
 * The text of a name-only child element `c` of `parent`'s (<usage>Local</usage>), read in
 * the parent's name: no attributes, no child elements, not empty. Returns the text (the caller
 * frees it) and sets *loc (when not NULL) to its place, or NULL after an error or, setting
 * *oom, when out of memory.
 */
char *cr_xml_text_of(const cr_xml_elem *parent, void *c, cr_srcloc *loc, bool *oom);

#endif

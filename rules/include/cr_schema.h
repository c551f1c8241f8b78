/*
 * The RELAX NG schema of the configuration XML (schema/callroute.rng, compiled into the
 * library): `callroute check` validates each file's structure with it before the loader's
 * semantic checks (cr_load_options.check_doc).
 */
#ifndef CR_SCHEMA_H
#define CR_SCHEMA_H

#include "cr_model.h"

typedef struct cr_schema cr_schema;

/* The compiled schema, or NULL (out of memory). */
cr_schema *cr_schema_new(void);
void cr_schema_free(cr_schema *s);

/* A cr_load_options.check_doc: validates document `doc` (an xmlDocPtr) of `file` against
 * schema `ud`; each violation is an error at file:line ("schema" object) in `diag`. A
 * document without a namespace is validated as if its elements were in the configuration's
 * namespace. Returns the number of errors added. */
int cr_schema_check_doc(void *ud, void *doc, const char *file, cr_diag *diag);

/* The schema's text (NUL-terminated) and length. */
const char *cr_schema_text(size_t *len);

#endif

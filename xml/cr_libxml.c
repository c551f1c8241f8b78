/* libxml2 loaded on first use (cr_libxml.h). */
#include "cr_libxml.h"

#include "cr_dl.h"

#define CR_LIBXML_DEFINE(name) __typeof__(name) *sym_##name;
CR_LIBXML_FUNCTIONS(CR_LIBXML_DEFINE)
#undef CR_LIBXML_DEFINE

static xmlFreeFunc *free_fn; /* libxml2's variable xmlFree */

#define CR_LIBXML_SYMBOL(name) {#name, (void **)&sym_##name},
static const cr_dl_symbol symbols[] = {
    CR_LIBXML_FUNCTIONS(CR_LIBXML_SYMBOL){"xmlFree", (void **)&free_fn},
};
#undef CR_LIBXML_SYMBOL

static void init_parser(void)
{
    sym_xmlInitParser();
}

static cr_dl_library libxml2 = CR_DL_LIBRARY(CR_LIBXML2_SONAME, symbols, init_parser);

int cr_libxml_load(const char **why)
{
    return cr_dl_load(&libxml2, why);
}

void cr_libxml_free(void *p)
{
    (*free_fn)(p);
}

/* libxml2 loaded on first use (cr_libxml.h). */
#include "cr_libxml.h"

#include "cr_dl.h"

CR_LIBXML_FUNCTIONS(CR_DL_POINTER)

static xmlFreeFunc *free_fn; /* libxml2's variable xmlFree */

static const cr_dl_symbol symbols[] = {
    CR_LIBXML_FUNCTIONS(CR_DL_SYMBOL){"xmlFree", (void **)&free_fn},
};

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

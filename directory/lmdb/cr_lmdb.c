/* LMDB loaded on first use (cr_lmdb.h). */
#define CR_LMDB_NO_REDIRECT
#include "cr_lmdb.h"

#include "cr_dl.h"

CR_LMDB_FUNCTIONS(CR_DL_POINTER)

static const cr_dl_symbol symbols[] = {CR_LMDB_FUNCTIONS(CR_DL_SYMBOL)};

static cr_dl_library liblmdb = CR_DL_LIBRARY(CR_LMDB_SONAME, symbols, NULL);

int cr_lmdb_load(const char **why)
{
    return cr_dl_load(&liblmdb, why);
}

/* Lua 5.4 loaded on first use (lua_dl.h). */
#define CR_LUA_NO_REDIRECT
#include "lua_dl.h"

#include "cr_dl.h"

CR_LUA_FUNCTIONS(CR_DL_POINTER)

static const cr_dl_symbol symbols[] = {CR_LUA_FUNCTIONS(CR_DL_SYMBOL)};

static cr_dl_library liblua = CR_DL_LIBRARY(CR_LUA_SONAME, symbols, NULL);

int cl_lua_load(const char **why)
{
    return cr_dl_load(&liblua, why);
}

/*
 * Lua 5.4, loaded the first time a process creates a Lua state (cl_lua_load), not when
 * libcallroute is loaded: a host that never runs an IVR (a Kamailio restart that only maps a
 * compiled plan) does not map liblua at start. Every Lua function callroute calls is reached
 * through a pointer named sym_<function> (systemd's dlopen pattern, as cr_libxml.h does for
 * libxml2), and this header redirects each name to its pointer after including Lua's headers,
 * so the code (and Lua's own macros, lua_pop and the like) reads as plain Lua C API.
 *
 * Include this header (lua_int.h does) instead of Lua's own. A function missing from the list
 * is an undefined symbol of libcallroute.so, which tests/abi/symbols.sh refuses.
 */
#ifndef CR_LUA_DL_H
#define CR_LUA_DL_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* Every Lua function callroute calls. */
#define CR_LUA_FUNCTIONS(X)                                                                        \
    X(luaL_addlstring)                                                                             \
    X(luaL_addvalue)                                                                               \
    X(luaL_argerror)                                                                               \
    X(luaL_buffinit)                                                                               \
    X(luaL_buffinitsize)                                                                           \
    X(luaL_checkany)                                                                               \
    X(luaL_checkinteger)                                                                           \
    X(luaL_checklstring)                                                                           \
    X(luaL_checkstack)                                                                             \
    X(luaL_checktype)                                                                              \
    X(luaL_error)                                                                                  \
    X(luaL_getmetafield)                                                                           \
    X(luaL_len)                                                                                    \
    X(luaL_loadbufferx)                                                                            \
    X(luaL_newmetatable)                                                                           \
    X(luaL_optinteger)                                                                             \
    X(luaL_optlstring)                                                                             \
    X(luaL_prepbuffsize)                                                                           \
    X(luaL_pushresult)                                                                             \
    X(luaL_pushresultsize)                                                                         \
    X(luaL_ref)                                                                                    \
    X(luaL_requiref)                                                                               \
    X(luaL_setfuncs)                                                                               \
    X(luaL_setmetatable)                                                                           \
    X(luaL_testudata)                                                                              \
    X(luaL_tolstring)                                                                              \
    X(luaL_typeerror)                                                                              \
    X(luaL_unref)                                                                                  \
    X(luaL_where)                                                                                  \
    X(lua_atpanic)                                                                                 \
    X(lua_callk)                                                                                   \
    X(lua_checkstack)                                                                              \
    X(lua_close)                                                                                   \
    X(lua_compare)                                                                                 \
    X(lua_concat)                                                                                  \
    X(lua_copy)                                                                                    \
    X(lua_createtable)                                                                             \
    X(lua_error)                                                                                   \
    X(lua_gc)                                                                                      \
    X(lua_getallocf)                                                                               \
    X(lua_getfield)                                                                                \
    X(lua_geti)                                                                                    \
    X(lua_getinfo)                                                                                 \
    X(lua_getiuservalue)                                                                           \
    X(lua_getmetatable)                                                                            \
    X(lua_getstack)                                                                                \
    X(lua_gettable)                                                                                \
    X(lua_gettop)                                                                                  \
    X(lua_getupvalue)                                                                              \
    X(lua_isinteger)                                                                               \
    X(lua_isstring)                                                                                \
    X(lua_newstate)                                                                                \
    X(lua_newthread)                                                                               \
    X(lua_newuserdatauv)                                                                           \
    X(lua_next)                                                                                    \
    X(lua_pcallk)                                                                                  \
    X(lua_pushboolean)                                                                             \
    X(lua_pushcclosure)                                                                            \
    X(lua_pushfstring)                                                                             \
    X(lua_pushinteger)                                                                             \
    X(lua_pushlightuserdata)                                                                       \
    X(lua_pushlstring)                                                                             \
    X(lua_pushnil)                                                                                 \
    X(lua_pushnumber)                                                                              \
    X(lua_pushstring)                                                                              \
    X(lua_pushvalue)                                                                               \
    X(lua_pushvfstring)                                                                            \
    X(lua_rawequal)                                                                                \
    X(lua_rawget)                                                                                  \
    X(lua_rawgeti)                                                                                 \
    X(lua_rawlen)                                                                                  \
    X(lua_rawset)                                                                                  \
    X(lua_rawseti)                                                                                 \
    X(lua_resetthread)                                                                             \
    X(lua_resume)                                                                                  \
    X(lua_rotate)                                                                                  \
    X(lua_setfield)                                                                                \
    X(lua_sethook)                                                                                 \
    X(lua_seti)                                                                                    \
    X(lua_setiuservalue)                                                                           \
    X(lua_setmetatable)                                                                            \
    X(lua_settop)                                                                                  \
    X(lua_status)                                                                                  \
    X(lua_setupvalue)                                                                              \
    X(lua_toboolean)                                                                               \
    X(lua_tocfunction)                                                                             \
    X(lua_tointegerx)                                                                              \
    X(lua_tolstring)                                                                               \
    X(lua_tonumberx)                                                                               \
    X(lua_topointer)                                                                               \
    X(lua_tothread)                                                                                \
    X(lua_touserdata)                                                                              \
    X(lua_type)                                                                                    \
    X(lua_typename)                                                                                \
    X(lua_xmove)                                                                                   \
    X(lua_yieldk)                                                                                  \
    X(luaopen_base)                                                                                \
    X(luaopen_coroutine)                                                                           \
    X(luaopen_math)                                                                                \
    X(luaopen_os)                                                                                  \
    X(luaopen_string)                                                                              \
    X(luaopen_table)                                                                               \
    X(luaopen_utf8)

#define CR_LUA_DECLARE(name) extern __typeof__(name) *sym_##name;
CR_LUA_FUNCTIONS(CR_LUA_DECLARE)
#undef CR_LUA_DECLARE

/* Loads liblua and finds every function above, once per process (thread-safe). Returns 0, or
 * -1 with *why (when not NULL) set to a static message naming the library and what failed; a
 * later call returns the same answer. */
int cl_lua_load(const char **why);

#ifndef CR_LUA_NO_REDIRECT /* (the loader itself names the functions) */
/* From here on every Lua name above is its pointer. */
#define luaL_addlstring       sym_luaL_addlstring
#define luaL_addvalue         sym_luaL_addvalue
#define luaL_argerror         sym_luaL_argerror
#define luaL_buffinit         sym_luaL_buffinit
#define luaL_buffinitsize     sym_luaL_buffinitsize
#define luaL_checkany         sym_luaL_checkany
#define luaL_checkinteger     sym_luaL_checkinteger
#define luaL_checklstring     sym_luaL_checklstring
#define luaL_checkstack       sym_luaL_checkstack
#define luaL_checktype        sym_luaL_checktype
#define luaL_error            sym_luaL_error
#define luaL_getmetafield     sym_luaL_getmetafield
#define luaL_len              sym_luaL_len
#define luaL_loadbufferx      sym_luaL_loadbufferx
#define luaL_newmetatable     sym_luaL_newmetatable
#define luaL_optinteger       sym_luaL_optinteger
#define luaL_optlstring       sym_luaL_optlstring
#define luaL_prepbuffsize     sym_luaL_prepbuffsize
#define luaL_pushresult       sym_luaL_pushresult
#define luaL_pushresultsize   sym_luaL_pushresultsize
#define luaL_ref              sym_luaL_ref
#define luaL_requiref         sym_luaL_requiref
#define luaL_setfuncs         sym_luaL_setfuncs
#define luaL_setmetatable     sym_luaL_setmetatable
#define luaL_testudata        sym_luaL_testudata
#define luaL_tolstring        sym_luaL_tolstring
#define luaL_typeerror        sym_luaL_typeerror
#define luaL_unref            sym_luaL_unref
#define luaL_where            sym_luaL_where
#define lua_atpanic           sym_lua_atpanic
#define lua_callk             sym_lua_callk
#define lua_checkstack        sym_lua_checkstack
#define lua_close             sym_lua_close
#define lua_compare           sym_lua_compare
#define lua_concat            sym_lua_concat
#define lua_copy              sym_lua_copy
#define lua_createtable       sym_lua_createtable
#define lua_error             sym_lua_error
#define lua_gc                sym_lua_gc
#define lua_getallocf         sym_lua_getallocf
#define lua_getfield          sym_lua_getfield
#define lua_geti              sym_lua_geti
#define lua_getinfo           sym_lua_getinfo
#define lua_getiuservalue     sym_lua_getiuservalue
#define lua_getmetatable      sym_lua_getmetatable
#define lua_getstack          sym_lua_getstack
#define lua_gettable          sym_lua_gettable
#define lua_gettop            sym_lua_gettop
#define lua_getupvalue        sym_lua_getupvalue
#define lua_isinteger         sym_lua_isinteger
#define lua_isstring          sym_lua_isstring
#define lua_newstate          sym_lua_newstate
#define lua_newthread         sym_lua_newthread
#define lua_newuserdatauv     sym_lua_newuserdatauv
#define lua_next              sym_lua_next
#define lua_pcallk            sym_lua_pcallk
#define lua_pushboolean       sym_lua_pushboolean
#define lua_pushcclosure      sym_lua_pushcclosure
#define lua_pushfstring       sym_lua_pushfstring
#define lua_pushinteger       sym_lua_pushinteger
#define lua_pushlightuserdata sym_lua_pushlightuserdata
#define lua_pushlstring       sym_lua_pushlstring
#define lua_pushnil           sym_lua_pushnil
#define lua_pushnumber        sym_lua_pushnumber
#define lua_pushstring        sym_lua_pushstring
#define lua_pushvalue         sym_lua_pushvalue
#define lua_pushvfstring      sym_lua_pushvfstring
#define lua_rawequal          sym_lua_rawequal
#define lua_rawget            sym_lua_rawget
#define lua_rawgeti           sym_lua_rawgeti
#define lua_rawlen            sym_lua_rawlen
#define lua_rawset            sym_lua_rawset
#define lua_rawseti           sym_lua_rawseti
#define lua_resetthread       sym_lua_resetthread
#define lua_resume            sym_lua_resume
#define lua_rotate            sym_lua_rotate
#define lua_setfield          sym_lua_setfield
#define lua_sethook           sym_lua_sethook
#define lua_seti              sym_lua_seti
#define lua_setiuservalue     sym_lua_setiuservalue
#define lua_setmetatable      sym_lua_setmetatable
#define lua_settop            sym_lua_settop
#define lua_status            sym_lua_status
#define lua_setupvalue        sym_lua_setupvalue
#define lua_toboolean         sym_lua_toboolean
#define lua_tocfunction       sym_lua_tocfunction
#define lua_tointegerx        sym_lua_tointegerx
#define lua_tolstring         sym_lua_tolstring
#define lua_tonumberx         sym_lua_tonumberx
#define lua_topointer         sym_lua_topointer
#define lua_tothread          sym_lua_tothread
#define lua_touserdata        sym_lua_touserdata
#define lua_type              sym_lua_type
#define lua_typename          sym_lua_typename
#define lua_xmove             sym_lua_xmove
#define lua_yieldk            sym_lua_yieldk
#define luaopen_base          sym_luaopen_base
#define luaopen_coroutine     sym_luaopen_coroutine
#define luaopen_math          sym_luaopen_math
#define luaopen_os            sym_luaopen_os
#define luaopen_string        sym_luaopen_string
#define luaopen_table         sym_luaopen_table
#define luaopen_utf8          sym_luaopen_utf8
#endif

#endif

/*
 * A Debian library loaded on first use instead of linked. libxml2 (xml/cr_libxml.h), liblua
 * (lua/lua_dl.h) and liblmdb (directory/lmdb/cr_lmdb.h) each list the functions callroute calls
 * and reach them through pointers named sym_<function>, which cr_dl_load fills the first time a
 * process needs the library (systemd's dlopen pattern). libcallroute.so then needs none of the
 * three, and a Kamailio that maps a compiled plan loads none of them.
 */
#ifndef CR_DL_H
#define CR_DL_H

#include <pthread.h>
#include <stddef.h>

/* A name to find in the library and the place its address goes: a function pointer's (the
 * sym_ pointers) or a variable's (libxml2's xmlFree). */
typedef struct cr_dl_symbol {
    const char *name;
    void **slot;
} cr_dl_symbol;

/* One library: what to load (CR_DL_LIBRARY), then what came of it. */
typedef struct cr_dl_library {
    const char *soname; /* the name the linker would have recorded (CMake's cr_soname) */
    const cr_dl_symbol *symbols;
    size_t nsymbols;
    void (*loaded)(void); /* NULL, or run once when every symbol is found (xmlInitParser) */
    pthread_mutex_t lock;
    int state; /* 0 not tried yet, 1 loaded, -1 failed (why says what) */
    char why[512];
} cr_dl_library;

#define CR_DL_LIBRARY(soname_, symbols_, loaded_)                                                  \
    {                                                                                              \
        .soname = (soname_), .symbols = (symbols_),                                                \
        .nsymbols = sizeof(symbols_) / sizeof((symbols_)[0]), .loaded = (loaded_),                 \
        .lock = PTHREAD_MUTEX_INITIALIZER                                                          \
    }

/* For a loader's list of functions, X(name) each (e.g. CR_LMDB_FUNCTIONS): CR_DL_POINTER defines
 * the pointer sym_<name> a header declared, CR_DL_SYMBOL makes its entry of the symbol table. */
#define CR_DL_POINTER(name) __typeof__(name) *sym_##name;
#define CR_DL_SYMBOL(name)  {#name, (void **)&sym_##name},

/* Loads the library and finds every one of its symbols, once per process (thread-safe): returns
 * 0, or -1 with *why (when not NULL) set to a message naming the library and what failed
 * ("cannot load SONAME: ...", "SONAME has no symbol NAME"). Later calls give the same answer
 * without trying again. A library that loaded stays loaded for the life of the process; one
 * that did not is closed and leaves every slot NULL. */
int cr_dl_load(cr_dl_library *lib, const char **why);

#endif

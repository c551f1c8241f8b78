/* LMDB loaded on first use (cr_lmdb.h). */
#define CR_LMDB_NO_REDIRECT
#include "cr_lmdb.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define CR_LMDB_DEFINE(name) __typeof__(name) *sym_##name;
CR_LMDB_FUNCTIONS(CR_LMDB_DEFINE)
#undef CR_LMDB_DEFINE

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc = -1;
static char load_why[512];

static void load(void)
{
    void *lib = dlopen(CR_LMDB_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_why, sizeof load_why, "cannot load %s: %s", CR_LMDB_SONAME, dlerror());
        return;
    }
    /* dlsym of a function gives a data pointer: C leaves the conversion to POSIX */
#define CR_LMDB_FIND(name)                                                                         \
    if (!(*(void **)&sym_##name = dlsym(lib, #name))) {                                            \
        snprintf(load_why, sizeof load_why, "%s has no function %s", CR_LMDB_SONAME, #name);       \
        dlclose(lib);                                                                              \
        return;                                                                                    \
    }
    CR_LMDB_FUNCTIONS(CR_LMDB_FIND)
#undef CR_LMDB_FIND
    load_rc = 0; /* the library stays loaded for the life of the process */
}

int cr_lmdb_load(const char **why)
{
    pthread_once(&once, load);
    if (load_rc < 0 && why)
        *why = load_why;
    return load_rc;
}

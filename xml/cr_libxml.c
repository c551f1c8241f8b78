/* libxml2 loaded on first use (cr_libxml.h). */
#include "cr_libxml.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define CR_LIBXML_DEFINE(name) __typeof__(name) *sym_##name;
CR_LIBXML_FUNCTIONS(CR_LIBXML_DEFINE)
#undef CR_LIBXML_DEFINE

static xmlFreeFunc *free_fn; /* libxml2's variable xmlFree */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc = -1;
static char load_why[512];

static void load(void)
{
    void *lib = dlopen(CR_LIBXML2_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_why, sizeof load_why, "cannot load %s: %s", CR_LIBXML2_SONAME, dlerror());
        return;
    }
    /* dlsym of a function gives a data pointer: C leaves the conversion to POSIX */
#define CR_LIBXML_FIND(name)                                                                       \
    if (!(*(void **)&sym_##name = dlsym(lib, #name))) {                                            \
        snprintf(load_why, sizeof load_why, "%s has no function %s", CR_LIBXML2_SONAME, #name);    \
        goto fail;                                                                                 \
    }
    CR_LIBXML_FUNCTIONS(CR_LIBXML_FIND)
#undef CR_LIBXML_FIND
    if (!(free_fn = dlsym(lib, "xmlFree"))) {
        snprintf(load_why, sizeof load_why, "%s has no variable xmlFree", CR_LIBXML2_SONAME);
        goto fail;
    }
    sym_xmlInitParser();
    load_rc = 0; /* the library stays loaded for the life of the process */
    return;
fail:
    dlclose(lib);
}

int cr_libxml_load(const char **why)
{
    pthread_once(&once, load);
    if (load_rc < 0 && why)
        *why = load_why;
    return load_rc;
}

void cr_libxml_free(void *p)
{
    (*free_fn)(p);
}

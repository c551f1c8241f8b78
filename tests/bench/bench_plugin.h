/*
 * The library a bench program is given (LIB, its first argument) loaded as a host loads it:
 * dlopen, the entry point, a host of no callbacks. NULL, said on stderr as "PROG: LIB: why",
 * when it cannot be.
 */
#ifndef CR_BENCH_PLUGIN_H
#define CR_BENCH_PLUGIN_H

#include <dlfcn.h>
#include <stdio.h>

#include "callroute.h"

static inline const cr_plugin *bench_plugin_open(const char *prog, const char *lib)
{
    static cr_host host = {CR_ABI_MAJOR, sizeof host, NULL, NULL, NULL, NULL, NULL};
    void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    cr_plugin_entry_fn entry = dl ? (cr_plugin_entry_fn)dlsym(dl, CR_PLUGIN_ENTRY_SYMBOL) : NULL;
    const char *why = NULL;
    const cr_plugin *p = entry ? entry(&host, &why) : NULL;
    if (!p)
        fprintf(stderr, "%s: %s: %s\n", prog, lib, why ? why : dl ? "no entry point" : dlerror());
    return p;
}

#endif

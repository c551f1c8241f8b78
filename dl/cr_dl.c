/* Debian libraries loaded on first use (cr_dl.h). */
#include "cr_dl.h"

#include <dlfcn.h>
#include <stdio.h>

static int load(cr_dl_library *l)
{
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(l->why, sizeof l->why, "cannot load %s: %s", l->soname, dlerror());
        return -1;
    }
    for (size_t i = 0; i < l->nsymbols; i++) {
        /* dlsym gives a data pointer, stored here in a function pointer's place: C leaves that
         * to POSIX, which defines it */
        *l->symbols[i].slot = dlsym(h, l->symbols[i].name);
        if (!*l->symbols[i].slot) {
            snprintf(l->why, sizeof l->why, "%s has no symbol %s", l->soname, l->symbols[i].name);
            for (size_t j = 0; j < i; j++)
                *l->symbols[j].slot = NULL;
            dlclose(h);
            return -1;
        }
    }
    if (l->loaded)
        l->loaded();
    return 0;
}

int cr_dl_load(cr_dl_library *l, const char **why)
{
    int state = __atomic_load_n(&l->state, __ATOMIC_ACQUIRE);
    if (state == 0) {
        pthread_mutex_lock(&l->lock);
        state = l->state;
        if (state == 0) {
            state = load(l) == 0 ? 1 : -1;
            __atomic_store_n(&l->state, state, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&l->lock);
    }
    if (state < 0 && why)
        *why = l->why;
    return state > 0 ? 0 : -1;
}

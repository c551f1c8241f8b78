/* Loading the library as a host does, for the ABI host tests (abi_load.h). */
#include "abi_load.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *dl;

const cr_plugin *abi_load(void (*log)(void *ud, int level, const char *message))
{
    cr_host h = {CR_ABI_MAJOR, sizeof h, NULL, log, NULL, NULL, NULL};
    return abi_load_host(&h);
}

const cr_plugin *abi_load_host(const cr_host *h)
{
    const char *path = getenv("CR_LIB");
    dl = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!dl) {
        fprintf(stderr, "cannot load CR_LIB=%s: %s\n", path ? path : "(unset)",
                path ? dlerror() : "set it to libcallroute.so");
        return NULL;
    }
    cr_plugin_entry_fn entry = (cr_plugin_entry_fn)dlsym(dl, CR_PLUGIN_ENTRY_SYMBOL);
    const char *why = NULL;
    const cr_plugin *p = entry ? entry(h, &why) : NULL;
    if (!p)
        fprintf(stderr, "%s refused the host: %s\n", path, why ? why : "no entry point");
    return p;
}

void abi_unload(void)
{
    if (dl)
        dlclose(dl);
    dl = NULL;
}

bool abi_maps_file(int pid, const char *part)
{
    char name[64], line[1024];
    if (pid)
        snprintf(name, sizeof name, "/proc/%d/maps", pid);
    else
        snprintf(name, sizeof name, "/proc/self/maps");
    FILE *f = fopen(name, "r");
    bool found = false;
    while (f && fgets(line, sizeof line, f))
        found |= strstr(line, part) != NULL;
    if (f)
        fclose(f);
    return found;
}

const char *abi_first_gateway(const cr_plugin *p, cr_handle *hd, char *buf, size_t len)
{
    cr_result *r = NULL;
    p->route(hd, "sip:alice@contoso.com", "+12065550100", NULL, 0, &r);
    const char *g = r ? p->result_item(r, "attempts", 0, "gateway") : NULL;
    snprintf(buf, len, "%s", g ? g : "");
    p->result_free(r);
    return buf;
}

int abi_system(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof cmd ? -1 : system(cmd);
}

size_t abi_files_named(const char *dir, const char *part)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, part) != NULL;
    if (d)
        closedir(d);
    return n;
}

/*
 * What every ABI host test does first: load the real libcallroute.so named by $CR_LIB the way
 * a host does (dlopen, the entry point, version negotiation) and, at the end, unload it.
 */
#ifndef CR_ABI_LOAD_H
#define CR_ABI_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "callroute.h"

/* The plugin table for a host with `log` (NULL: the library logs to stderr), or NULL when the
 * library cannot be loaded or refuses the host (the reason on stderr). */
const cr_plugin *abi_load(void (*log)(void *ud, int level, const char *message));
/* abi_load with a whole host table (its clock too). */
const cr_plugin *abi_load_host(const cr_host *host);
/* dlclose of what abi_load opened (nothing when it opened nothing). */
void abi_unload(void);
/* The first gateway of the route p's handle hd picks for alice@contoso.com calling
 * +12065550100 (the fixtures' 10-digit call), into buf; "" when there is no decision. */
const char *abi_first_gateway(const cr_plugin *p, cr_handle *hd, char *buf, size_t len);
/* Whether process pid (0: this one) maps a file whose path contains `part` (/proc/PID/maps). */
bool abi_maps_file(int pid, const char *part);
/* How many entries of directory dir have `part` in their name (0 when it cannot be read). */
size_t abi_files_named(const char *dir, const char *part);
/* system() of the printf-formatted command (at most 4 KB): its status, -1 when too long. */
int abi_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

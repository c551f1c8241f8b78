/*
 * callroute.so: loading libcallroute.so through its plugin ABI (plugin-api/callroute.h) and
 * the host callbacks given to it (Kamailio's logging, the wall clock). Internal.
 */
#ifndef CRL_LIBRARY_H
#define CRL_LIBRARY_H

#include <stddef.h>

#include "core/str.h"
#include "core/sr_module.h"

#include "callroute.h"

extern char *crl_path;   /* modparam "library"; NULL = the default paths */
extern char *crl_config; /* modparam "config" */
/* modparam "config": sets crl_config and starts reading the plan ahead of mod_init. */
int crl_config_param(modparam_t type, void *val);
/* modparam "include_dir" (repeatable): a directory <include href> may reach. */
int crl_include_dir_param(modparam_t type, void *val);

/* mod_init, before anything can fail and before crl_init: logs the library's lines from reading
 * the plan ahead (the "config" parameter), and keeps or unloads what was loaded then. Called
 * once. */
void crl_ahead_finish(void);

/* The library's table once crl_init() succeeded, else NULL. */
extern const cr_plugin *crl_plugin;
/* The options every process opens its handle with (shared block, hold-off). */
extern cr_open_options crl_opts;
/* modparam "gateway_fail_threshold": failures in a row that hold a gateway down. */
extern int crl_fail_threshold;

/* Zeroed shared memory for a block set up before fork and kept for Kamailio's life (an
 * anonymous shared mapping: no page is touched until used). NULL, logged, on failure. */
void *crl_shared_zalloc(size_t len, const char *what);

/* Main process, before fork: loads the library, maps its shared block (crl_shared_zalloc)
 * and opens the configuration once (a broken file stops startup). Logs and
 * returns -1 on failure. rgs_max_wait_s (modparam rgs_max_wait) lets the library warn of
 * queue timeouts longer than a caller may wait. */
int crl_init(int gateway_holdoff_s, int rgs_max_wait_s);

/* This process's handle, opened on first use after fork (a handle inherited from the parent
 * is left to it). NULL when the library is not loaded or the configuration does not open. */
cr_handle *crl_handle(void);

/* Closes this process's handle if it opened one (mod_destroy). */
void crl_close(void);
/* In a process forked from the one that opened the handle (Kamailio's main process): closes
 * this process's copy of that handle, its plan and the image it maps. For processes that do
 * not route: they then hold no plan (one they need later is adopted by crl_handle()). */
/* A SIP worker before its first call: the plan inherited from the main process is parked (no
 * image mapped, no thread of the library's, until crl_handle() opens at its first need). 0 when
 * the library cannot (ABI < 1.11): the worker then opens now. */
int crl_park(void);
/* Main process, after Kamailio's last fork (PROC_POSTCHILDINIT): the library's threads, held
 * since crl_init (its watcher, its mover), start. */
void crl_release_threads(void);
void crl_forget_inherited(void);

/* Copies a Kamailio str into a NUL-terminated buffer; -1 when it does not fit. */
int crl_cstr(const str *s, char *buf, size_t len);

#endif

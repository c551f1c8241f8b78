/*
 * callroute.so: loading libcallroute.so and the host side of the plugin ABI.
 *
 * The module links nothing of callroute: it dlopen()s the library named by the "library"
 * parameter, asks cr_plugin_entry() for the plugin table and uses only that table. It gives
 * the library Kamailio's logging and the wall clock (the library allocates with malloc: the
 * ABI's allocator slot is not used by the library, so the module offers none).
 *
 * Process model. crl_init() (main process, before fork) loads the library, maps the block
 * of shared memory the library keeps gateway state, load-spreading counters and the reload
 * generation in (crl_shared_zalloc), and opens the configuration once to refuse startup when
 * it is broken. Every child then opens its own handle over the same shared block; a reload in one
 * process bumps the shared generation and the others reload before their next decision.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdatomic.h>
#include <syslog.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "core/dprint.h"
#include "core/pt.h"

#include "callroute_mod.h"
#include "crg_rgs.h"
#include "crl_library.h"

char *crl_path = NULL;
char *crl_config = NULL;

/* modparam "include_dir" (repeatable): directories <include href> may reach besides the
 * configuration's own; NULL-terminated for cr_open_options.include_dirs. */
#define CRL_INCLUDE_DIRS_MAX 16
static const char *crl_include_dirs[CRL_INCLUDE_DIRS_MAX + 1];
static int crl_ninclude_dirs;

int crl_include_dir_param(modparam_t type, void *val)
{
    if (val == NULL || *(char *)val == '\0') {
        LM_ERR("include_dir: an empty directory\n");
        return -1;
    }
    if (crl_ninclude_dirs >= CRL_INCLUDE_DIRS_MAX) {
        LM_ERR("include_dir: at most %d directories\n", CRL_INCLUDE_DIRS_MAX);
        return -1;
    }
    crl_include_dirs[crl_ninclude_dirs++] = (const char *)val;
    return 0;
}

static const char *const crl_default_paths[] = {
    "/usr/lib/x86_64-linux-gnu/libcallroute.so.1",
    "/usr/local/lib/libcallroute.so.1",
    "libcallroute.so.1",
};
/* per-process state */
static void *crl_dl;
const cr_plugin *crl_plugin;
static cr_host crl_host;
cr_open_options crl_opts;
int crl_fail_threshold = 3; /* modparam "gateway_fail_threshold" (crh_health.c) */
static cr_handle *crl_own;  /* valid only in the process that opened it */
static pid_t crl_own_pid;

/* ---- host callbacks given to the library ---- */

/* Set while the "config" parameter loads the library and reads the plan ahead (below): the
 * log lines are kept and logged in mod_init, in order, where the load is completed (a failed
 * load is tried again there and says why once). */
static int crl_in_ahead;
#define CRL_AHEAD_LOGS 16
static struct {
    int level;
    char text[512];
} crl_ahead_log[CRL_AHEAD_LOGS];
static int crl_ahead_nlog, crl_ahead_lost;

/*
 * Kamailio's LM_* are for the process's own thread only: they guard against re-entry (a signal
 * handler logging) with a per-process counter, dprint_crit, that is neither atomic nor per
 * thread. A line the library logs from one of its threads (a worker's watcher adopting a
 * reload, the main process's mover) while the process's own thread logs was dropped (seen: one
 * worker's "adopted generation" missing from Kamailio's log in about one reload of twenty at
 * 500 calls/s, its calls on the new plan), and the two updating the counter at once can leave it
 * non-zero, which silences that process's log for good. Such a line is written here instead,
 * in Kamailio's shape, to stderr or to syslog (both thread-safe) as Kamailio logs; the level is
 * the one the process's own thread last saw (crl_log_level_refresh).
 */
static _Atomic int crl_log_level = L_INFO;

static void crl_log_level_refresh(void)
{
    atomic_store_explicit(&crl_log_level, get_debug_level(LOG_MNAME, LOG_MNAME_LEN),
                          memory_order_relaxed);
}

static void crl_log_thread(int level, const char *message)
{
    static const struct {
        int klevel, prio;
        const char *name;
    } lv[] = {{L_ERR, LOG_ERR, "ERROR"},
              {L_WARN, LOG_WARNING, "WARNING"},
              {L_INFO, LOG_INFO, "INFO"},
              {L_DBG, LOG_DEBUG, "DEBUG"}};
    int i = level == CR_LOG_ERROR ? 0 : level == CR_LOG_WARNING ? 1 : level == CR_LOG_INFO ? 2 : 3;
    if (atomic_load_explicit(&crl_log_level, memory_order_relaxed) < lv[i].klevel)
        return;
    if (log_stderr)
        fprintf(stderr, "%2d(%d) %s: callroute [thread]: %s\n", process_no, (int)getpid(),
                lv[i].name, message);
    else
        syslog(lv[i].prio, "%s: callroute [thread]: %s", lv[i].name, message);
}

static void crl_log(void *ud, int level, const char *message)
{
    if ((pid_t)syscall(SYS_gettid) != getpid()) { /* not the process's own thread */
        crl_log_thread(level, message);
        return;
    }
    crl_log_level_refresh();
    if (crl_in_ahead) {
        if (crl_ahead_nlog < CRL_AHEAD_LOGS) {
            crl_ahead_log[crl_ahead_nlog].level = level;
            /* a longer line is kept cut (the precision says so to the compiler too) */
            snprintf(crl_ahead_log[crl_ahead_nlog].text, sizeof crl_ahead_log[0].text, "%.*s",
                     (int)sizeof crl_ahead_log[0].text - 1, message);
            crl_ahead_nlog++;
        } else {
            crl_ahead_lost++;
        }
        return;
    }
    switch (level) {
    case CR_LOG_ERROR:
        LM_ERR("%s\n", message);
        break;
    case CR_LOG_WARNING:
        LM_WARN("%s\n", message);
        break;
    case CR_LOG_INFO:
        LM_INFO("%s\n", message);
        break;
    default:
        LM_DBG("%s\n", message);
        break;
    }
}

static int64_t crl_now_ms(void *ud)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
int crl_cstr(const str *s, char *buf, size_t len)
{
    if (s == NULL || s->s == NULL || s->len < 0 || (size_t)s->len >= len)
        return -1;
    memcpy(buf, s->s, s->len);
    buf[s->len] = '\0';
    return 0;
}

/* Logs through crl_log (kept while reading ahead). */
static void crl_say(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void crl_say(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    crl_log(NULL, level, line);
}

/* Loads the library (`want`, or the first of the default paths when NULL or empty) into
 * crl_dl / crl_plugin, crl_loaded naming it. Logs and returns -1 on failure. */
static const char *crl_loaded;

static int crl_load_from(const char *want)
{
    const char *err = NULL;
    cr_plugin_entry_fn entry;
    size_t i;

    if (want && *want) {
        crl_dl = dlopen(want, RTLD_NOW | RTLD_LOCAL);
        if (crl_dl == NULL) {
            crl_say(CR_LOG_ERROR, "cannot load library %s: %s", want, dlerror());
            return -1;
        }
        crl_loaded = want;
    } else {
        for (i = 0; i < sizeof(crl_default_paths) / sizeof(crl_default_paths[0]); i++) {
            crl_dl = dlopen(crl_default_paths[i], RTLD_NOW | RTLD_LOCAL);
            if (crl_dl) {
                crl_loaded = crl_default_paths[i];
                break;
            }
        }
        if (crl_dl == NULL) {
            crl_say(CR_LOG_ERROR, "libcallroute.so.1 not found; set modparam(\"callroute\", "
                                  "\"library\", PATH)");
            return -1;
        }
    }
    entry = (cr_plugin_entry_fn)dlsym(crl_dl, CR_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        crl_say(CR_LOG_ERROR, "%s has no %s: %s", crl_loaded, CR_PLUGIN_ENTRY_SYMBOL, dlerror());
        return -1;
    }

    memset(&crl_host, 0, sizeof(crl_host));
    crl_host.abi_major = CR_ABI_MAJOR;
    crl_host.size = sizeof(crl_host);
    crl_host.log = crl_log;
    crl_host.now_ms = crl_now_ms;
    crl_plugin = entry(&crl_host, &err);
    if (crl_plugin == NULL) {
        crl_say(CR_LOG_ERROR, "%s refused ABI %d: %s", crl_loaded, CR_ABI_MAJOR, err ? err : "?");
        return -1;
    }
    if (crl_plugin->abi_major != CR_ABI_MAJOR || !CR_HAS(cr_plugin, crl_plugin, gateways) ||
        !crl_plugin->open || !crl_plugin->route || !crl_plugin->reload || !crl_plugin->result_get ||
        !crl_plugin->result_item) {
        crl_say(CR_LOG_ERROR, "%s: plugin table (ABI %u, %u bytes) lacks what this module needs",
                crl_loaded, crl_plugin->abi_major, crl_plugin->size);
        crl_plugin = NULL;
        return -1;
    }
    crl_say(CR_LOG_INFO, "loaded %s (callroute %s, ABI %u.%u)", crl_loaded,
            crl_plugin->version ? crl_plugin->version : "?", crl_plugin->abi_major,
            crl_plugin->abi_minor);
    return 0;
}

static int crl_load(void)
{
    if (crl_load_from(crl_path) < 0)
        return -1;
    crl_path = (char *)crl_loaded;
    return 0;
}

/*
 * Reading the plan ahead. Kamailio sets the module's parameters while it reads its
 * configuration, then daemonizes (which closes descriptors 3 to 31, even in the foreground,
 * and forks unless -DD) and initialises every module loaded before this one (tm, sl, usrloc,
 * ...) before it calls mod_init: milliseconds in which the second core is idle. When the
 * "config" parameter is set, the module loads the library and asks it to read the plan image
 * ahead (ABI 1.10 preload): the library takes the lease and maps the file there and then, its
 * descriptor numbered from 32, and verifies the checksum and reads the records on a thread of
 * its own while Kamailio goes on; mod_init's open takes the result instead of reading the file
 * again (the library waits for its thread before any fork, and at exit). Nothing is published
 * before mod_init. What was read ahead is used only when the library, the file and
 * rgs_max_wait are the same at mod_init (set "config" after "library" and "rgs_max_wait");
 * otherwise it is dropped and mod_init loads as before. Log lines of the library's until
 * mod_init are kept and logged there, in order.
 */
static char crl_ahead_lib[4096];
static int crl_ahead_loaded; /* the library was loaded from crl_ahead_lib (crl_dl, crl_plugin) */

int crl_config_param(modparam_t type, void *val)
{
    char err[1024];
    cr_open_options o;

    crl_config = (char *)val;
    if (crl_config == NULL || *crl_config == '\0' || crl_plugin)
        return 0; /* mod_init says what is wrong; a second "config" is not read ahead */
    if (snprintf(crl_ahead_lib, sizeof(crl_ahead_lib), "%s", crl_path ? crl_path : "") >=
        (int)sizeof(crl_ahead_lib))
        return 0;
    if (crl_dl) { /* a load of an earlier "config" that failed half-way */
        dlclose(crl_dl);
        crl_dl = NULL;
    }
    crl_in_ahead = 1;
    if (crl_load_from(crl_ahead_lib) == 0) {
        crl_ahead_loaded = 1;
        if (CR_HAS(cr_plugin, crl_plugin, preload_drop) && crl_plugin->preload) {
            memset(&o, 0, sizeof(o));
            o.size = sizeof(o);
            o.rgs_max_wait_s = crg_max_wait;
            /* a failure keeps nothing: mod_init's open meets it again and reports it */
            crl_plugin->preload(crl_config, &o, err, sizeof(err));
        }
    }
    crl_in_ahead = 0;
    return 0;
}

/* mod_init, first thing (before crl_init): logs what the library said while the plan was read
 * ahead, even when mod_init then fails on another parameter, and keeps the library loaded if it
 * is the one to use; else unloads it (and what it read ahead). */
void crl_ahead_finish(void)
{
    int i, loaded = crl_ahead_loaded;

    crl_ahead_loaded = 0;
    if (!loaded) { /* mod_init loads it, and says why it cannot */
        if (crl_dl)
            dlclose(crl_dl);
        crl_dl = NULL;
        crl_plugin = NULL;
        crl_ahead_nlog = crl_ahead_lost = 0;
        return;
    }
    for (i = 0; i < crl_ahead_nlog; i++)
        crl_log(NULL, crl_ahead_log[i].level, crl_ahead_log[i].text);
    if (crl_ahead_lost)
        LM_WARN("%d more lines of the library's were not kept while the plan was read ahead\n",
                crl_ahead_lost);
    crl_ahead_nlog = crl_ahead_lost = 0;
    if (crl_plugin && strcmp(crl_ahead_lib, crl_path ? crl_path : "") == 0) {
        crl_path = (char *)crl_loaded;
        return;
    }
    if (crl_plugin && CR_HAS(cr_plugin, crl_plugin, preload_drop) && crl_plugin->preload_drop)
        crl_plugin->preload_drop();
    crl_plugin = NULL;
    if (crl_dl)
        dlclose(crl_dl);
    crl_dl = NULL;
}

/* Opens a handle for this process; logs and returns -1 on failure. */
static int crl_open(void)
{
    char err[CRM_ERR_MAX];
    cr_handle *h = NULL;
    int rc;

    err[0] = '\0';
    rc = crl_plugin->open(crl_config, &crl_opts, &h, err, sizeof(err));
    if (rc < 0 || h == NULL) {
        LM_ERR("cannot load %s: %s%s%s\n", crl_config,
               crl_plugin->strerror ? crl_plugin->strerror(rc) : "error", err[0] ? "\n" : "", err);
        return -1;
    }
    crl_own = h;
    /* my_pid() is getpid() here too: at mod_init Kamailio has no process table yet (my_pid()
     * falls back to getpid()); fork_process() sets a child's entry before its child_init;
     * mod_destroy runs before the table is freed. One function for every owner check. */
    crl_own_pid = my_pid();
    return 0;
}

/* A handle inherited through fork() belongs to the parent: it is left alone (not closed, the
 * parent still uses its memory through copy-on-write) and a new one is opened. */
cr_handle *crl_handle(void)
{
    if (crl_plugin == NULL)
        return NULL;
    /* Kamailio's my_pid(): the process table's entry, no system call on every call */
    if (crl_own && crl_own_pid == my_pid()) {
        crl_log_level_refresh(); /* for the lines of the library's threads (crl_log) */
        return crl_own;
    }
    crl_own = NULL;
    if (crl_open() < 0)
        return NULL;
    return crl_own;
}

/*
 * Shared memory, zeroed, for a block set up before fork and never freed (it lives as long as
 * Kamailio): an anonymous shared mapping rather than Kamailio's shm pool. A block from the
 * pool had to be cleared with memset, which faulted in and wrote every page of it in the main
 * process on the start-up path (1.3 MB for the library's block, mostly gateway, route and
 * call slots few of which are ever used, 0.28 MB for the response groups'); the kernel gives
 * a new mapping's pages zeroed, each when some process first touches it, and every process
 * forked afterwards shares them as it shares the pool. Not counted in Kamailio's shm
 * statistics (core.shmmem); NULL (logged) when the mapping fails.
 */
void *crl_shared_zalloc(size_t len, const char *what)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        LM_ERR("no shared memory for %zu bytes of %s: %s\n", len, what, strerror(errno));
        return NULL;
    }
    return p;
}

int crl_init(int gateway_holdoff_s, int rgs_max_wait_s)
{
    size_t shared_len;
    void *shared = NULL;

    if (crl_plugin == NULL && crl_load() < 0) /* (crl_ahead_finish kept it, or dropped it) */
        return -1;
    /* No thread of the library's in this process while Kamailio forks its children (each fork
     * of a multi-threaded process costs more): they start at PROC_POSTCHILDINIT
     * (crl_release_threads). After daemonize(), which forks. */
    if (CR_HAS(cr_plugin, crl_plugin, hold_threads) && crl_plugin->hold_threads)
        crl_plugin->hold_threads(1);
    shared_len = crl_plugin->shared_size ? crl_plugin->shared_size() : 0;
    if (shared_len > 0 && (shared = crl_shared_zalloc(shared_len, "gateway state")) == NULL)
        return -1;
    memset(&crl_opts, 0, sizeof(crl_opts));
    crl_opts.size = sizeof(crl_opts);
    crl_opts.shared = shared;
    crl_opts.shared_len = shared_len;
    crl_opts.gateway_holdoff_s = gateway_holdoff_s > 0 ? gateway_holdoff_s : 30;
    crl_opts.include_dirs = crl_ninclude_dirs > 0 ? crl_include_dirs : NULL;
    crl_opts.gateway_fail_threshold = crl_fail_threshold;
    /* the library warns of queue timeouts the proxy would cut short */
    crl_opts.rgs_max_wait_s = rgs_max_wait_s;

    /* Refuse to start on a broken configuration; the handle serves the main process. It
     * takes the plan read ahead, if it is this one; anything else read ahead goes. */
    int rc = crl_open();
    if (CR_HAS(cr_plugin, crl_plugin, preload_drop) && crl_plugin->preload_drop)
        crl_plugin->preload_drop();
    if (rc < 0)
        return -1;
    LM_INFO("routing with %s (gateway hold-off %d s, %zu bytes shared)\n", crl_config,
            crl_opts.gateway_holdoff_s, shared_len);
    return 0;
}

void crl_release_threads(void)
{
    if (crl_plugin && CR_HAS(cr_plugin, crl_plugin, hold_threads) && crl_plugin->hold_threads)
        crl_plugin->hold_threads(0);
}

int crl_park(void)
{
    if (crl_plugin == NULL || !CR_HAS(cr_plugin, crl_plugin, park) || crl_plugin->park == NULL)
        return 0;
    crl_plugin->park();
    return 1;
}

void crl_forget_inherited(void)
{
    if (crl_plugin && crl_own && crl_own_pid != my_pid())
        crl_plugin->close(crl_own);
    if (crl_own_pid != my_pid())
        crl_own = NULL;
}

void crl_close(void)
{
    if (crl_plugin && crl_own && crl_own_pid == my_pid())
        crl_plugin->close(crl_own);
    crl_own = NULL;
    /* The shared block stays mapped until the process exits; the library stays mapped
     * because other modules' destroy functions may still log through it. */
}

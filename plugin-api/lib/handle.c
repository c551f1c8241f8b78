/*
 * Handles, snapshots and shared runtime state.
 *
 * Reload without blocking calls: a reload compiles a new cr_config off the decision path
 * (under a mutex that only reloads take), publishes it with one atomic pointer store, then
 * waits for the readers that may still hold the old one and frees it. Readers take no lock:
 * a reader adds itself to the counter of the current epoch, then loads the pointer; the
 * reloader flips the epoch after publishing and waits for the old epoch's counter to drain.
 * A reader that loaded the old pointer incremented the old counter before that load, so it
 * is waited for; one that raced the flip loads the new pointer. (All atomics are seq_cst.)
 */
#include "cr_rgs_check.h"
#include "handle.h"
#include "cr_rgs_xml.h"
#include "cr_rules.h"
#if __has_include("users_abi.h")
#include "users_abi.h"
#endif

#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void crp_diag_to_text(const cr_diag *d, char *err, size_t errlen, bool errors_only)
{
    if (!err || !errlen)
        return;
    size_t o = 0;
    err[0] = 0;
    for (size_t i = 0; i < d->count; i++) {
        if (errors_only && d->items[i].level != CR_DIAG_ERROR)
            continue;
        char line[1600];
        cr_diag_format(d, i, line, sizeof line);
        int n = snprintf(err + o, errlen - o, "%s%s", o ? "\n" : "", line);
        if (n < 0 || (size_t)n >= errlen - o)
            break;
        o += (size_t)n;
    }
}

/* The routing configuration, with the response groups of the same document validated
 * alongside: a file whose <responseGroups> is broken is refused as a whole. */
int crp_load(const char *path, cr_config **out, cr_diag *diag)
{
    return crp_load_ex(path, NULL, out, diag);
}

int crp_load_ex(const char *path, const cr_load_options *opts, cr_config **out, cr_diag *diag)
{
    int rc = cr_rules_load_ex(path, opts, out, diag);
    if (rc == CR_OK && cr_config_has_response_groups(*out)) {
        cr_rgs_config *rgs = NULL;
        rc = cr_rgs_xml_load_ex(path, opts, &rgs, diag);
        if (rc == CR_OK) /* agents, workflow URIs and lines against the users */
            rc = cr_rgs_check_against(*out, rgs, diag);
        cr_rgs_config_free(rgs);
        if (rc != CR_OK) {
            cr_config_free(*out);
            *out = NULL;
        }
    }
    /* the parsers' freed nodes go back to the system, not into the resident set */
    malloc_trim(0);
    return rc;
}

/* crp_load, then the users inline in the configuration against the handle's directory
 * (cr_open_options.db_path): a user in both is refused. */
cr_load_options crp_handle_load_options(const cr_handle *h)
{
    return (cr_load_options){.include_dirs = (const char *const *)h->include_dirs};
}

/* A NULL-terminated copy of a list of strings; false when out of memory. */
static bool copy_list(const char *const *in, char ***out)
{
    size_t n = 0;
    while (in && in[n])
        n++;
    *out = NULL;
    if (!in)
        return true;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(in[i]))) {
            for (size_t k = 0; k < i; k++)
                free(c[k]);
            free(c);
            c = NULL;
        }
    *out = c;
    return c != NULL;
}

static int load_for(const cr_handle *h, const char *path, cr_config **out, cr_diag *diag)
{
    cr_load_options lo = crp_handle_load_options(h);
    int rc = crp_load_ex(path, &lo, out, diag);
    if (rc == CR_OK && h->db_path && crp_users_check(h->db_path, *out, diag) != CR_OK) {
        cr_config_free(*out);
        *out = NULL;
        rc = CR_ECONFIG;
    }
    return rc;
}

static void wait_followers(cr_handle *h, uint64_t gen);
static void watcher_stop(cr_handle *h);

static void snapshot_free(crp_snapshot *s)
{
    if (!s)
        return;
    cr_config_free(s->cfg);
    free(s);
}

static crp_shared *shared_init(void *mem, size_t len)
{
    if (!mem || len < sizeof(crp_shared))
        return NULL;
    crp_shared *s = mem;
    uint32_t expect = 0;
    if (atomic_compare_exchange_strong(&s->magic, &expect, CRP_SHARED_MAGIC))
        atomic_store(&s->started_ms, crp_now_ms());
    return atomic_load(&s->magic) == CRP_SHARED_MAGIC ? s : NULL;
}

int crp_handle_open(const char *path, const cr_open_options *opts, cr_handle **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (!path) {
        snprintf(err, errlen, "no configuration file given");
        return CR_EINVAL;
    }
    cr_handle *h = calloc(1, sizeof *h);
    if (!h)
        return CR_ENOMEM;
    pthread_mutex_init(&h->reload_lock, NULL);
    h->path = strdup(path);
    h->holdoff_s = 30;
    if (opts && opts->size >= offsetof(cr_open_options, gateway_holdoff_s) + sizeof(int) &&
        opts->gateway_holdoff_s > 0)
        h->holdoff_s = opts->gateway_holdoff_s;
    if (opts && opts->size >= offsetof(cr_open_options, db_path) + sizeof(char *) && opts->db_path)
        h->db_path = strdup(opts->db_path);
    if (opts && opts->size >= offsetof(cr_open_options, include_dirs) + sizeof(void *) &&
        !copy_list(opts->include_dirs, &h->include_dirs)) {
        crp_handle_close(h);
        return CR_ENOMEM;
    }
    if (opts && opts->shared)
        h->shared = shared_init(opts->shared, opts->shared_len);
    if (opts && opts->shared && !h->shared) {
        snprintf(err, errlen, "shared memory block too small (%zu bytes, need %zu)",
                 opts->shared_len, sizeof(crp_shared));
        crp_handle_close(h);
        return CR_EINVAL;
    }
    if (!h->shared) {
        h->shared = calloc(1, sizeof(crp_shared));
        h->own_shared = true;
        if (!h->shared || !shared_init(h->shared, sizeof(crp_shared))) {
            crp_handle_close(h);
            return CR_ENOMEM;
        }
    }
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    int rc = load_for(h, path, &cfg, &d);
    if (rc != CR_OK) {
        crp_diag_to_text(&d, err, errlen, true);
        if (err && !err[0])
            snprintf(err, errlen, "%s: %s", path, cr_strerror(rc));
        cr_diag_free(&d);
        crp_handle_close(h);
        return rc;
    }
    for (size_t i = 0; i < d.count; i++) {
        char line[1600];
        cr_diag_format(&d, i, line, sizeof line);
        crp_log(CR_LOG_WARNING, "%s", line);
    }
    cr_diag_free(&d);
    crp_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        cr_config_free(cfg);
        crp_handle_close(h);
        return CR_ENOMEM;
    }
    s->cfg = cfg;
    atomic_store(&h->generation, atomic_load(&h->shared->generation));
    h->follow = !h->own_shared;
    atomic_store(&h->cur, s);
    *out = h;
    return CR_OK;
}

static void wait_readers(cr_handle *h)
{
    uint64_t old = atomic_fetch_add(&h->epoch, 1);
    struct timespec ts = {0, 50000};
    while (atomic_load(&h->readers[old & 1]) != 0)
        nanosleep(&ts, NULL);
}

/* Builds the new snapshot and swaps it in. `bump` publishes the reload to other processes. */
static int reload_locked(cr_handle *h, const char *path, char *err, size_t errlen, bool bump)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    int rc = load_for(h, path, &cfg, &d);
    if (rc != CR_OK) {
        crp_diag_to_text(&d, err, errlen, true);
        if (err && errlen && !err[0])
            snprintf(err, errlen, "%s: %s", path, cr_strerror(rc));
        cr_diag_free(&d);
        return rc;
    }
    cr_diag_free(&d);
    crp_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        cr_config_free(cfg);
        return CR_ENOMEM;
    }
    s->cfg = cfg;
    uint64_t gen = bump ? atomic_fetch_add(&h->shared->generation, 1) + 1
                        : atomic_load(&h->shared->generation);
    crp_snapshot *old = atomic_exchange(&h->cur, s);
    atomic_store(&h->generation, gen);
    if (h->slot)
        atomic_store(&h->slot->generation, gen);
    wait_readers(h);
    snapshot_free(old);
    if (path != h->path && strcmp(path, h->path) != 0) {
        char *np = strdup(path);
        if (np) {
            free(h->path);
            h->path = np;
        }
    }
    return CR_OK;
}

int crp_handle_reload(cr_handle *h, const char *path, char *err, size_t errlen)
{
    if (!h)
        return CR_EINVAL;
    if (err && errlen)
        err[0] = 0;
    pthread_mutex_lock(&h->reload_lock);
    int rc = reload_locked(h, path ? path : h->path, err, errlen, true);
    pthread_mutex_unlock(&h->reload_lock);
    if (rc == CR_OK && h->follow)
        wait_followers(h, atomic_load(&h->generation));
    if (rc == CR_OK)
        crp_log(CR_LOG_INFO, "callroute: reloaded %s (generation %llu)", h->path,
                (unsigned long long)atomic_load(&h->shared->generation));
    else
        crp_log(CR_LOG_ERROR, "callroute: reload of %s refused, running configuration kept: %s",
                path ? path : h->path, err ? err : "");
    return rc;
}

void crp_handle_close(cr_handle *h)
{
    if (!h)
        return;
    watcher_stop(h);
    snapshot_free(atomic_load(&h->cur));
    if (h->own_shared)
        free(h->shared);
    pthread_mutex_destroy(&h->reload_lock);
    free(h->path);
    free(h->db_path);
    for (size_t i = 0; h->include_dirs && h->include_dirs[i]; i++)
        free(h->include_dirs[i]);
    free(h->include_dirs);
    free(h);
}

const char *crp_handle_path(const cr_handle *h)
{
    return h ? h->path : NULL;
}

/* Announces a reader in the counter of the current epoch. The epoch is read again after the
 * increment: a reader that read it just before a flip (and could then load the pointer a later
 * reload replaces) would otherwise sit in the counter the next reloader does not wait for. */
/* ---- following reloads of other processes ------------------------------------------------ */

/*
 * In a multi-process host each process has its own handle over the same shared block. The
 * process that reloads bumps the shared generation; every other deciding process has a
 * watcher thread that notices within CRP_FOLLOW_MS, rebuilds its snapshot off the decision
 * path and reports the generation it now decides with in its slot. The reloading process
 * waits (bounded) until every live follower reports the new generation, so when a reload
 * returns, the next call in any process uses the new configuration. */
#define CRP_FOLLOW_MS      20
#define CRP_FOLLOW_WAIT_MS 30000

static void follow_now(cr_handle *h)
{
    pthread_mutex_lock(&h->reload_lock);
    if (atomic_load(&h->generation) != atomic_load(&h->shared->generation)) {
        char err[1024];
        if (reload_locked(h, h->path, err, sizeof err, false) != CR_OK) {
            /* the file changed again and is broken now: keep deciding with what runs */
            crp_log(CR_LOG_ERROR,
                    "callroute: following a reload failed, running "
                    "configuration kept: %s",
                    err);
            uint64_t gen = atomic_load(&h->shared->generation);
            atomic_store(&h->generation, gen);
            if (h->slot)
                atomic_store(&h->slot->generation, gen);
        }
    }
    pthread_mutex_unlock(&h->reload_lock);
}

static void *watcher_main(void *arg)
{
    cr_handle *h = arg;
    struct timespec ts = {0, CRP_FOLLOW_MS * 1000000L};
    while (!atomic_load(&h->stop)) {
        if (atomic_load(&h->generation) != atomic_load(&h->shared->generation))
            follow_now(h);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* getpid() is a system call: the deciding process's pid is cached and forgotten in a forked
 * child. */
static _Atomic int32_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
    atomic_store(&cached_pid, 0);
}

static void pid_init(void)
{
    pthread_atfork(NULL, NULL, pid_forget);
}

static int32_t my_pid(void)
{
    int32_t p = atomic_load_explicit(&cached_pid, memory_order_relaxed);
    if (!p) {
        pthread_once(&pid_once, pid_init);
        p = (int32_t)getpid();
        atomic_store(&cached_pid, p);
    }
    return p;
}

static bool pid_alive(int32_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

static void watcher_start(cr_handle *h)
{
    int32_t me = my_pid();
    /* claim a slot: a free one, or one whose process is gone */
    h->slot = NULL;
    for (size_t i = 0; i < CRP_PROC_SLOTS && !h->slot; i++) {
        crp_proc_slot *sl = &h->shared->procs[i];
        int32_t cur = atomic_load(&sl->pid);
        if (cur == me ||
            ((cur == 0 || !pid_alive(cur)) && atomic_compare_exchange_strong(&sl->pid, &cur, me)))
            h->slot = sl;
    }
    if (h->slot)
        atomic_store(&h->slot->generation, atomic_load(&h->generation));
    atomic_store(&h->stop, false);
    /* the watcher takes no signal: the host's signal handling stays with its own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&h->watcher, NULL, watcher_main, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        crp_log(CR_LOG_WARNING, "callroute: no watcher thread: reloads are followed inline");
        h->follow = false;
        return;
    }
    atomic_store(&h->watcher_pid, me);
}

static void watcher_stop(cr_handle *h)
{
    if (atomic_load(&h->watcher_pid) != my_pid())
        return; /* none, or it belongs to the process this handle was copied from */
    atomic_store(&h->stop, true);
    pthread_join(h->watcher, NULL);
    atomic_store(&h->watcher_pid, 0);
    if (h->slot)
        atomic_store(&h->slot->pid, 0);
}

/* Waits until every live follower decides with generation `gen` (bounded). */
static void wait_followers(cr_handle *h, uint64_t gen)
{
    int32_t me = my_pid();
    struct timespec ts = {0, 5 * 1000000L};
    for (int waited = 0; waited < CRP_FOLLOW_WAIT_MS; waited += 5) {
        size_t behind = 0;
        for (size_t i = 0; i < CRP_PROC_SLOTS; i++) {
            crp_proc_slot *sl = &h->shared->procs[i];
            int32_t pid = atomic_load(&sl->pid);
            if (pid && pid != me && atomic_load(&sl->generation) < gen && pid_alive(pid))
                behind++;
        }
        if (!behind)
            return;
        nanosleep(&ts, NULL);
    }
    crp_log(CR_LOG_WARNING, "callroute: some processes had not followed reload %llu after %d s",
            (unsigned long long)gen, CRP_FOLLOW_WAIT_MS / 1000);
}

static int reader_enter(cr_handle *h)
{
    for (;;) {
        int e = (int)(atomic_load(&h->epoch) & 1);
        atomic_fetch_add(&h->readers[e], 1);
        if ((int)(atomic_load(&h->epoch) & 1) == e)
            return e;
        atomic_fetch_sub(&h->readers[e], 1);
    }
}

const crp_snapshot *crp_snapshot_acquire(cr_handle *h, int *token)
{
    if (h->follow && atomic_load_explicit(&h->watcher_pid, memory_order_relaxed) != my_pid()) {
        /* First decision in this process: catch up once inline if a reload happened since
         * the handle was opened, then let the watcher follow from now on. */
        if (atomic_load(&h->generation) != atomic_load(&h->shared->generation))
            follow_now(h);
        watcher_start(h);
    }
    *token = reader_enter(h);
    return atomic_load(&h->cur);
}

void crp_snapshot_release(cr_handle *h, int token)
{
    atomic_fetch_sub(&h->readers[token], 1);
}

/* ---- gateways ----------------------------------------------------------------------------- */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

crp_gw_slot *crp_gw_slot_find(crp_shared *s, const char *name, bool create)
{
    uint64_t h = name_hash(name);
    for (size_t k = 0; k < CRP_GW_SLOTS; k++) {
        crp_gw_slot *g = &s->gw[(h + k) % CRP_GW_SLOTS];
        uint64_t cur = atomic_load(&g->hash);
        if (cur == h && strncmp(g->name, name, CRP_NAME_MAX - 1) == 0)
            return g;
        if (cur == 0) {
            if (!create)
                return NULL;
            uint64_t zero = 0;
            /* claim the slot; the name is written before anyone can match the hash only
             * approximately, so readers also compare the name */
            if (atomic_compare_exchange_strong(&g->hash, &zero, h)) {
                snprintf(g->name, CRP_NAME_MAX, "%s", name);
                return g;
            }
            if (atomic_load(&g->hash) == h && strncmp(g->name, name, CRP_NAME_MAX - 1) == 0)
                return g;
        }
    }
    return NULL;
}

int crp_gateway_failed(cr_handle *h, const char *name)
{
    if (!h || !name || !*name)
        return CR_EINVAL;
    crp_gw_slot *g = crp_gw_slot_find(h->shared, name, true);
    if (!g)
        return CR_ENOMEM;
    int64_t now = crp_now_ms();
    if (atomic_load(&g->down_until_ms) <= now)
        atomic_store(&g->down_since_ms, now);
    atomic_store(&g->down_until_ms, now + (int64_t)h->holdoff_s * 1000);
    atomic_fetch_add(&g->failures, 1);
    crp_log(CR_LOG_WARNING, "callroute: gateway '%s' marked down for %d s", name, h->holdoff_s);
    return CR_OK;
}

static bool rt_gateway_down(void *ud, const cr_gateway *gw)
{
    crp_runtime_ud *u = ud;
    for (size_t i = 0; i < u->ndown; i++)
        if (u->down[i] && strcmp(u->down[i], gw->name) == 0)
            return true;
    crp_gw_slot *g = crp_gw_slot_find(u->h->shared, gw->name, false);
    if (!g)
        return false;
    if (!u->now)
        u->now = crp_now_ms();
    return atomic_load(&g->down_until_ms) > u->now;
}

static uint32_t rt_spread(void *ud)
{
    crp_runtime_ud *u = ud;
    return atomic_fetch_add(&u->h->shared->spread, 1);
}

void crp_runtime_init(cr_runtime *rt, crp_runtime_ud *ud)
{
    rt->ud = ud;
    rt->gateway_down = rt_gateway_down;
    rt->spread = rt_spread;
    rt->users = NULL;
}

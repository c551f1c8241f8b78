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
#define _GNU_SOURCE 1 /* F_SETOWN_EX, F_GETLEASE, mremap */
#include "cr_rgs_check.h"
#include "handle.h"
#include "cr_rgs_xml.h"
#include "cr_rgs_image.h"
#include "cr_rules.h"
#include "cr_image.h"
#include "cr_grow.h"
#if __has_include("users_abi.h")
#include "users_abi.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* What every load checks after the routing model is read (rc: how that went): the response
 * groups against the users, read by `rl` during the routing walk (freed here), or from the
 * sources a plan image holds (rl NULL). *out is freed and cleared when the load fails. */
static int load_finish(const cr_load_options *opts, const char *path, cr_config **out,
                       cr_diag *diag, cr_rgs_xml_loader *rl, int rc, cr_rgs_config **keep)
{
    if (rc == CR_OK && cr_config_has_response_groups(*out)) {
        cr_rgs_config *rgs = NULL;
        bool from_xml = rl != NULL; /* compiled into the plan, for its image (issue 14) */
        rc = rl ? cr_rgs_xml_loader_finish(rl, &rgs, diag)
                : cr_rgs_image_load_config(*out, path, &rgs, diag);
        rl = NULL;
        if (rc == CR_OK && from_xml)
            rc = cr_rgs_image_attach(*out, rgs);
        if (rc == CR_OK) /* agents, workflow URIs and lines against the users */
            rc = cr_rgs_check_against(*out, rgs, diag);
        if (rc == CR_OK && opts) /* queue timeouts the host would cut short */
            cr_rgs_check_wait(rgs, opts->rgs_max_wait_s, diag);
        if (keep && rc == CR_OK)
            *keep = rgs;
        else
            cr_rgs_config_free(rgs);
        if (rc != CR_OK) {
            cr_config_free(*out);
            *out = NULL;
        }
    }
    cr_rgs_xml_loader_free(rl);
    /* the parsers' freed nodes go back to the system, not into the resident set */
    malloc_trim(0);
    return rc;
}

/* One walk over the XML: the routing model and the response groups read from the same nodes
 * (a plan image: its model, then the response groups compiled into it). */
int crp_load_keep(const char *path, const cr_load_options *opts, cr_config **out,
                  cr_rgs_config **rgs, cr_diag *diag)
{
    if (rgs)
        *rgs = NULL;
    if (cr_image_file_is(path))
        return load_finish(opts, path, out, diag, NULL, cr_rules_load_ex(path, opts, out, diag),
                           rgs);
    cr_rgs_xml_loader *rl = cr_rgs_xml_loader_new();
    if (!rl)
        return CR_ENOMEM;
    int rc = cr_rules_load_also(path, opts, cr_rgs_xml_loader_element, rl, out, diag);
    return load_finish(opts, path, out, diag, rl, rc, rgs);
}

int crp_load_ex(const char *path, const cr_load_options *opts, cr_config **out, cr_diag *diag)
{
    return crp_load_keep(path, opts, out, NULL, diag);
}

/* The response groups of the plan the handle decides with now: those compiled into it (the
 * image this process adopted, or what it validated; none when the plan declares none). The file is
 * never read again: it may have changed since, and an image would be checked whole once more in
 * every process. */
int crp_handle_rgs_load(cr_handle *h, const cr_load_options *lo, struct cr_rgs_config **out,
                        cr_diag *diag)
{
    /* through the snapshot as a decision does: a process that opens its response groups (the
     * host's main process too) follows reloads from then on, so the image it adopted at the
     * start is let go once a reload has published the next one */
    int token, rc;
    const crp_snapshot *s = crp_snapshot_acquire(h, &token);
    /* compiled into the plan (none when it declares none): no XML, libxml2 not loaded */
    rc = s ? cr_rgs_image_load_config(s->cfg, h->path, out, diag)
           : cr_rgs_xml_load_ex(h->path, lo, out, diag);
    crp_snapshot_release(h, token);
    return rc;
}

int crp_compile(const char *config, const cr_open_options *opts, const char *out_path, char *err,
                size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!config || !out_path)
        return CR_EINVAL;
    cr_load_options lo = crp_open_load_options(opts);
    lo.image_only = true; /* written, not decided from */
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    int rc = crp_load_ex(config, &lo, &cfg, &d);
    if (rc != CR_OK) {
        crp_diag_to_text(&d, err, errlen, true);
        if (err && errlen && !err[0])
            snprintf(err, errlen, "%s: %s", config, cr_strerror(rc));
    } else {
        rc = cr_image_write(out_path, cfg, 0, NULL, err, errlen);
    }
    cr_diag_free(&d);
    cr_config_free(cfg);
    return rc;
}

/* crp_load, then the users inline in the configuration against the handle's directory
 * (cr_open_options.db_path): a user in both is refused. */
cr_load_options crp_open_load_options(const cr_open_options *opts)
{
    cr_load_options lo = {0};
    if (opts && opts->size >= offsetof(cr_open_options, include_dirs) + sizeof(void *))
        lo.include_dirs = opts->include_dirs;
    lo.rgs_max_wait_s = crp_rgs_max_wait(opts);
    return lo;
}

unsigned crp_rgs_max_wait(const cr_open_options *opts)
{
    if (opts && opts->size >= offsetof(cr_open_options, rgs_max_wait_s) + sizeof(int) &&
        opts->rgs_max_wait_s > 0)
        return (unsigned)opts->rgs_max_wait_s;
    return 0;
}

cr_load_options crp_handle_load_options(const cr_handle *h)
{
    return (cr_load_options){.include_dirs = (const char *const *)h->include_dirs,
                             .rgs_max_wait_s = h->rgs_max_wait_s,
                             .image_no_lint = true};
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

/*
 * A plan image the admin names, loaded by a process that publishes it: the file is copied once
 * (by the kernel) into a new file of the runtime directory, which is verified and read in
 * place. Publishing it is then a rename (plan_commit): no second copy, checksum or reading,
 * and the publisher decides from the very pages every other process maps. The admin's file
 * may be rewritten afterwards: the copy is the plan's own. At the host's start the copy is made
 * later instead, off the start-up path, while a read lease keeps the file from being rewritten
 * (load_leased, and "an admin's image in place" at the end of this file).
 */
typedef struct staged {
    char path[CRP_PLAN_PATH_MAX]; /* "" when nothing is staged (an XML configuration) */
    void *base;                   /* the copy, mapped shared, read-only */
    size_t len;
    cr_image_info info;
    uint64_t *sums; /* its checksum chunks' sums (a restamp hashes the first alone), or NULL */
    size_t chunks;
    /* A publisher's first open (the host starting): the admin's file is read in place under a
     * read lease instead of being copied (load_leased), and copied off the start-up path. */
    bool may_lease;
    uint64_t want_gen; /* the generation it is published as */
    bool leased;       /* base..len is the admin's file itself, the lease held */
    cr_image_leased lease;
    char admin[CRP_PLAN_PATH_MAX];
} staged;

static const char *runtime_dir(void);
static int32_t my_pid(void);
static void fork_handlers(void);

static void staged_drop(staged *st)
{
    if (st && st->path[0])
        unlink(st->path);
    if (st && st->leased)
        cr_image_lease_release(&st->lease);
    if (st) {
        st->path[0] = 0;
        st->leased = false;
        free(st->sums);
        st->sums = NULL;
    }
}

static _Atomic unsigned stage_seq; /* staged copies' names: one name, one copy */

/* A new staged copy's name in the runtime directory; false when it does not fit. */
static bool stage_name(char name[CRP_PLAN_PATH_MAX])
{
    int n = snprintf(name, CRP_PLAN_PATH_MAX, "%s/callroute-%d-%u.stage", runtime_dir(),
                     (int)my_pid(), atomic_fetch_add(&stage_seq, 1));
    return n > 0 && n < CRP_PLAN_PATH_MAX;
}

/* st records the copy staged at name (m: cr_image_stage's), kept for publishing; its chunk sums
 * taken from m for the restamp. */
static void stage_keep(staged *st, const char *name, cr_image_map *m)
{
    snprintf(st->path, sizeof st->path, "%s", name);
    st->base = (void *)(uintptr_t)m->base;
    st->len = m->len;
    st->info = m->info;
    st->sums = m->chunk_sums;
    st->chunks = m->chunks;
    m->chunk_sums = NULL;
}

/* No copy could be made (the runtime directory full or not writable, the file unreadable, err
 * says): the file is read as any process reads it, and publishing says what fails, if anything. */
static int load_uncopied(const char *path, const cr_load_options *lo, const char *err,
                         cr_config **out, cr_diag *diag)
{
    crp_log(CR_LOG_WARNING, "callroute: %s; reading the image into memory instead", err);
    return crp_load_ex(path, lo, out, diag);
}

static int load_staged(const char *path, const cr_load_options *lo, staged *st, cr_config **out,
                       cr_diag *diag)
{
    char err[CRP_PLAN_PATH_MAX + 600], name[CRP_PLAN_PATH_MAX];
    cr_image_map m;
    int rc = CR_EIO;
    if (!stage_name(name))
        snprintf(err, sizeof err, "runtime directory name too long: %s", runtime_dir());
    else
        rc = cr_image_stage(path, name, &m, err, sizeof err);
    if (rc == CR_EIO)
        return load_uncopied(path, lo, err, out, diag);
    if (rc != CR_OK) { /* refused: the image itself is damaged or foreign */
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){NULL, 0}, NULL, "%s", err);
        return rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
    }
    stage_keep(st, name, &m);
    rc = cr_image_load_owned_ex(&m, path, lo->image_no_lint ? CR_IMAGE_NOLINT : 0, out, diag);
    return load_finish(lo, path, out, diag, NULL, rc, NULL);
}

/* A reload's copy of the admin's image, made on a thread of its own from the leased descriptor. */
typedef struct copy_job {
    int fd;
    const char *path;
    char name[CRP_PLAN_PATH_MAX];
    cr_image_map m;
    int rc;
    char err[CRP_PLAN_PATH_MAX + 600];
} copy_job;

static void *copy_run(void *arg)
{
    copy_job *j = arg;
    j->rc = cr_image_stage_fd(j->fd, j->path, j->name, &j->m, j->err, sizeof j->err);
    return NULL;
}

/*
 * A reload of an admin's image (load_staged's work, two cores at it): under a read lease, so that
 * nobody rewrites the file meanwhile, its records are checked in place on this thread while
 * another copies the file into the runtime directory and sums the copy. The two are the same
 * bytes (the lease), so the copy, whose checksum matched, holds records that were checked: it is
 * then read trusted, as a published image is, and staged for publishing as load_staged stages
 * it. Without a lease or a thread, load_staged.
 */
static int load_staged_leased(const char *path, const cr_load_options *lo, staged *st,
                              cr_config **out, cr_diag *diag)
{
    char err[CRP_PLAN_PATH_MAX + 600];
    cr_image_leased l;
    copy_job *j = calloc(1, sizeof *j);
    if (!j || !stage_name(j->name)) {
        free(j);
        return load_staged(path, lo, st, out, diag);
    }
    int rc = cr_image_lease_ex(path, NULL, CR_LEASE_NO_SUM, &l, err, sizeof err);
    if (rc != CR_OK && !l.fallback) { /* refused: damaged or foreign (its header) */
        free(j);
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){NULL, 0}, NULL, "%s", err);
        return rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
    }
    pthread_t t;
    j->fd = l.fd;
    j->path = path;
    if (rc != CR_OK || cr_thread_start(&t, copy_run, j) != 0) {
        if (rc == CR_OK) {
            cr_image_unmap(&l.map);
            cr_image_lease_release(&l);
        }
        free(j);
        return load_staged(path, lo, st, out, diag);
    }
    cr_image_map m = l.map;
    l.map.base = NULL;
    unsigned nolint = lo->image_no_lint ? CR_IMAGE_NOLINT : 0;
    cr_config *checked = NULL;
    rc = cr_image_load_owned_ex(&m, path, nolint | CR_IMAGE_NO_FINISH, &checked, diag);
    pthread_join(t, NULL);
    cr_config_free(checked); /* its mapping of the admin's file with it */
    cr_image_lease_release(&l);
    /* the copy is not the bytes checked: a writer the lease did not stop */
    if (j->rc == CR_OK && (j->m.info.checksum != l.map.info.checksum || j->m.len != m.len)) {
        snprintf(j->err, sizeof j->err, "%s: changed while it was read", path);
        j->rc = CR_ECONFIG;
    }
    if (j->rc != CR_OK) {
        cr_image_unmap(&j->m);
        unlink(j->name);
        if (j->rc == CR_EIO && rc == CR_OK) { /* no copy could be made: as load_staged does */
            cr_diag_free(diag);
            cr_diag_init(diag);
            rc = load_uncopied(path, lo, j->err, out, diag);
            free(j);
            return rc;
        }
        /* damaged bytes: said so even when a record was refused first */
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){NULL, 0}, NULL, "%s", j->err);
        rc = j->rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
        free(j);
        return rc;
    }
    if (rc != CR_OK) {
        cr_image_unmap(&j->m);
        unlink(j->name);
        free(j);
        return rc;
    }
    stage_keep(st, j->name, &j->m);
    rc = cr_image_load_owned_ex(&j->m, path, nolint | CR_IMAGE_TRUSTED, out, diag);
    free(j);
    return load_finish(lo, path, out, diag, NULL, rc, NULL);
}

/* Said once per process: why the admin's image is copied at start rather than read in place. */
static void lease_note_once(const char *why)
{
    static atomic_bool said;
    if (!atomic_exchange(&said, true))
        crp_log(CR_LOG_WARNING, "callroute: %s; copying the image at start instead", why);
}

/*
 * The publisher's first open of an admin's image (the host starting): the file is mapped in
 * place under a read lease (cr_image_lease: nobody can rewrite it while the lease is held), its
 * checksum verified, its records checked unless its stamp says this very file passed that check
 * before (then it is read as a published image is, CR_IMAGE_TRUSTED). It is copied into the
 * runtime directory later, off the start-up path (the mover thread, "an admin's image in
 * place" below). Without a lease, today's staged copy. In three steps, so that a host may have
 * the middle one (memory only) done ahead on a thread of its own (crp_handle_preload).
 */

/* The lease taken and the file mapped (lflags: cr_image_lease_ex's); *err says why not. CR_OK,
 * or an error with st->lease.fallback (copy it instead) or without (refused). */
static int leased_begin(const char *path, staged *st, unsigned lflags, char *err, size_t errlen)
{
    cr_image_leased *l = &st->lease;
    int rc = CR_EIO;
    if (strlen(path) >= sizeof st->admin)
        snprintf(err, errlen, "%s: name too long to publish", path);
    else if (access(runtime_dir(), W_OK) != 0) /* no copy could be made before a writer comes */
        snprintf(err, errlen, "runtime directory %s: %s", runtime_dir(), strerror(errno));
    else
        rc = cr_image_lease_ex(path, runtime_dir(), lflags, l, err, errlen);
    if (rc == CR_OK && l->map.info.generation != st->want_gen) {
        snprintf(err, errlen, "%s: carries generation %llu, not %llu", path,
                 (unsigned long long)l->map.info.generation, (unsigned long long)st->want_gen);
        cr_image_unmap(&l->map);
        cr_image_lease_release(l);
        rc = CR_EIO;
    }
    return rc;
}

/* The checksum (before anything is read when the records are read trusted) and the records
 * read, nothing else: no descriptor opened or closed, nothing logged. *out is not finished
 * (cr_image_finish). */
static int leased_read(const char *path, const cr_load_options *lo, staged *st, cr_config **out,
                       cr_diag *diag)
{
    char err[CRP_PLAN_PATH_MAX + 600];
    cr_image_leased *l = &st->lease;
    st->base = (void *)(uintptr_t)l->map.base;
    st->len = l->map.len;
    st->info = l->map.info;
    if (l->stamped && cr_image_lease_sum(l, path, err, sizeof err) != CR_OK) {
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){NULL, 0}, NULL, "%s", err);
        cr_image_unmap(&l->map);
        return CR_ECONFIG;
    }
    cr_image_map m = l->map;
    l->map.base = NULL; /* the configuration owns the mapping now */
    unsigned flags = (lo->image_no_lint ? CR_IMAGE_NOLINT : 0) |
                     (l->stamped ? CR_IMAGE_TRUSTED : 0) | CR_IMAGE_NO_FINISH;
    /* not stamped: the records are checked while another core computes the checksum */
    int rc = cr_image_load_owned_ex(&m, path, flags, out, diag);
    if (cr_image_lease_sum(l, path, err, sizeof err) != CR_OK) {
        /* damaged bytes: said so even when a record was refused first */
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){NULL, 0}, NULL, "%s", err);
        cr_config_free(*out);
        *out = NULL;
        rc = CR_ECONFIG;
    }
    return rc;
}

static void lease_said(const char *path, bool stamped, const char *when)
{
    crp_log(CR_LOG_INFO, "callroute: %s read in place under a lease (%s%s)", path,
            stamped ? "stamp matched: records not checked again" : "checked whole, stamped", when);
}

/* What the configuration read (rc: how that went) needs before it decides, its response groups
 * checked, its stamp written when it was checked whole; the lease kept in st. */
static int leased_finish(const char *path, const cr_load_options *lo, staged *st, int rc,
                         cr_config **out, cr_diag *diag, const char *when)
{
    cr_image_leased *l = &st->lease;
    if (rc == CR_OK && (rc = cr_image_finish(*out, path, diag)) != CR_OK) {
        cr_config_free(*out);
        *out = NULL;
        rc = rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
    }
    rc = load_finish(lo, path, out, diag, NULL, rc, NULL);
    if (rc != CR_OK) {
        cr_image_lease_release(l);
        return rc;
    }
    if (!l->stamped) /* checked whole: the next start with this very file need not */
        cr_image_stamp_write(runtime_dir(), path, l);
    lease_said(path, l->stamped, when);
    memcpy(st->admin, path, strlen(path) + 1);
    st->leased = true;
    return CR_OK;
}

static int load_leased(const char *path, const cr_load_options *lo, staged *st, cr_config **out,
                       cr_diag *diag)
{
    char err[CRP_PLAN_PATH_MAX + 600];
    int rc = leased_begin(path, st, 0, err, sizeof err);
    if (rc != CR_OK && (st->lease.fallback || rc == CR_EIO)) {
        lease_note_once(err);
        return load_staged(path, lo, st, out, diag);
    }
    if (rc != CR_OK) { /* refused: damaged or foreign */
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){NULL, 0}, NULL, "%s", err);
        return rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
    }
    rc = leased_read(path, lo, st, out, diag);
    return leased_finish(path, lo, st, rc, out, diag, "");
}

/*
 * Reading ahead (ABI 1.10 preload). A host that knows the image it will open long before it can
 * open it (Kamailio sets the module's parameters, then initialises every module loaded before
 * this one) has it read meanwhile. What opens or closes a descriptor is done in the caller's
 * thread before preload returns (the lease, the mapping, the stamp), the lease held on a
 * descriptor numbered from CR_LEASE_FD_MIN (Kamailio's daemonize() closes 3 to 31 after the
 * parameters are set); the checksum and the read of the records, memory only, on a thread of
 * the library's. The first open of that path in this process, or in a process forked from it (a
 * daemonizing host: every fork waits for the thread first), takes the result, finishes it
 * (cr_image_finish, the response groups' checks, the stamp) and publishes it as always. A read
 * that fails or cannot lease the file keeps nothing: the open then reads the file as it always
 * did and reports what it always reported.
 */
static struct {
    pthread_mutex_t lock;
    bool held;            /* begun, not taken or dropped */
    _Atomic bool running; /* its thread not joined yet: one joiner takes it */
    pthread_t thread;
    pid_t pid; /* the process the thread runs in */
    char path[CRP_PLAN_PATH_MAX];
    cr_load_options lo;
    staged st;
    int rc;
    cr_config *cfg;
    cr_diag diag;
    int64_t t_begun, t_read; /* ns: preload returned, the read ended */
} ahead = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The wall clock for the library's own timing and log stamps, never the host's now_ms: the
 * watcher and mover threads call no host callback but log (callroute.h), and a host's clock
 * may be simulated (it decides hold-offs, not how long the library's threads sleep). */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *ahead_run(void *arg)
{
    (void)arg;
    ahead.rc = leased_read(ahead.path, &ahead.lo, &ahead.st, &ahead.cfg, &ahead.diag);
    /* its response groups' targets and its indexes too (memory only); the user directory's
     * check, which opens files, is left to the open (cr_image_finish) */
    if (ahead.rc == CR_OK)
        ahead.rc = cr_image_finish_memory(ahead.cfg, ahead.path, &ahead.diag);
    ahead.t_read = mono_ns();
    return NULL;
}

/* Waits for the read, if its thread runs in this process (before a fork, at exit, at the
 * open). Not under ahead.lock when called from the fork handler: the thread never takes it. */
static void ahead_join(void)
{
    if (ahead.pid == getpid() && atomic_exchange(&ahead.running, false))
        pthread_join(ahead.thread, NULL);
}

static void ahead_drop_locked(void)
{
    ahead_join();
    if (!ahead.held)
        return;
    cr_config_free(ahead.cfg); /* it owns the mapping once read */
    ahead.cfg = NULL;
    cr_image_unmap(&ahead.st.lease.map); /* when the read never took it */
    cr_image_lease_release(&ahead.st.lease);
    cr_diag_free(&ahead.diag);
    ahead.held = false;
}

void crp_handle_preload_drop(void)
{
    pthread_mutex_lock(&ahead.lock);
    ahead_drop_locked();
    pthread_mutex_unlock(&ahead.lock);
}

static void ahead_at_exit(void)
{
    ahead_join();
}

static void ahead_at_exit_register(void)
{
    atexit(ahead_at_exit);
}

int crp_handle_preload(const char *path, const cr_open_options *opts, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    char why[CRP_PLAN_PATH_MAX + 600];
    if (err && errlen)
        err[0] = 0;
    crp_handle_preload_drop();
    if (!path || strlen(path) >= sizeof ahead.path || !cr_image_file_is(path)) {
        snprintf(err, errlen, "%s: not a plan image: nothing to read ahead", path ? path : "");
        return CR_EINVAL;
    }
    fork_handlers(); /* before any fork, the read is waited for */
    pthread_mutex_lock(&ahead.lock);
    memset(&ahead.st, 0, sizeof ahead.st);
    ahead.st.may_lease = true;
    ahead.st.want_gen = 0;
    int rc = leased_begin(path, &ahead.st, CR_LEASE_DEFER_SUM | CR_LEASE_FD_HIGH, why, sizeof why);
    if (rc != CR_OK) {
        pthread_mutex_unlock(&ahead.lock);
        snprintf(err, errlen, "%s", why);
        return rc;
    }
    memcpy(ahead.path, path, strlen(path) + 1);
    ahead.lo = (cr_load_options){
        .rgs_max_wait_s = crp_rgs_max_wait(opts), .image_no_lint = true, .image_only = true};
    ahead.cfg = NULL;
    cr_diag_init(&ahead.diag);
    ahead.held = true;
    ahead.pid = getpid();
    ahead.t_begun = mono_ns();
    bool started = cr_thread_start(&ahead.thread, ahead_run, NULL) == 0;
    atomic_store(&ahead.running, started);
    if (started)
        pthread_once(&once, ahead_at_exit_register);
    else
        ahead_run(NULL);
    pthread_mutex_unlock(&ahead.lock);
    return CR_OK;
}

/* Whether `path` names the very file read ahead now, its lease unbroken. The same string may not
 * name it: a host may change its directory or root between preload and open (Kamailio's
 * daemonize() does chdir to its working directory, "/" by default, and chroot with -t), and a
 * new image may have been renamed over the old one (a read lease keeps writers out, not
 * renames). A writer that came meanwhile broke the lease (F_GETLEASE says F_UNLCK as soon as
 * the break starts): the kernel lets it in lease-break-time later, and the bytes verified once
 * may change under the mapping. */
static bool ahead_same_file(const char *path)
{
    struct stat sb;
    return strcmp(ahead.path, path) == 0 && stat(path, &sb) == 0 &&
           (uint64_t)sb.st_dev == ahead.st.lease.dev && (uint64_t)sb.st_ino == ahead.st.lease.ino &&
           fcntl(ahead.st.lease.fd, F_GETLEASE) == F_RDLCK;
}

/* The image read ahead for this very load, when there is one (*taken): finished and kept in
 * *out and st as load_leased leaves them; its rc. Anything read ahead for another load, or
 * whose read failed (the caller reads the file again and reports), is dropped. */
static int ahead_take(const char *path, const cr_load_options *lo, staged *st, cr_config **out,
                      cr_diag *diag, bool *taken)
{
    pthread_mutex_lock(&ahead.lock);
    bool same = ahead.held && ahead_same_file(path) &&
                ahead.lo.rgs_max_wait_s == lo->rgs_max_wait_s &&
                st->want_gen == ahead.st.want_gen && !diag->count;
    int64_t t_open = mono_ns();
    if (same)
        ahead_join();
    int64_t t_joined = mono_ns();
    *taken = same && ahead.rc == CR_OK;
    if (!*taken) {
        ahead_drop_locked();
        pthread_mutex_unlock(&ahead.lock);
        return CR_OK;
    }
    *out = ahead.cfg;
    ahead.cfg = NULL;
    bool may_lease = st->may_lease;
    *st = ahead.st;
    st->may_lease = may_lease;
    memset(&ahead.st, 0, sizeof ahead.st);
    ahead.st.lease.fd = -1;
    cr_diag_free(diag);
    *diag = ahead.diag;
    cr_diag_init(&ahead.diag);
    ahead.held = false;
    char when[160];
    snprintf(when, sizeof when,
             "; read while the host started: on the library's thread in %.1f ms, from %.1f ms "
             "before this open, which waited %.1f ms",
             (ahead.t_read - ahead.t_begun) / 1e6, (t_open - ahead.t_begun) / 1e6,
             (t_joined - t_open) / 1e6);
    pthread_mutex_unlock(&ahead.lock);
    return leased_finish(path, lo, st, CR_OK, out, diag, when);
}

/* Loads path for the handle; st (NULL: never) stages a plan image for publishing. */
static int load_for(const cr_handle *h, const char *path, cr_config **out, cr_diag *diag,
                    staged *st)
{
    cr_load_options lo = crp_handle_load_options(h);
    lo.image_only = st != NULL; /* published, then decided from the image (adopt_own) */
    bool taken = false;
    int rc = !st || !cr_image_file_is(path) ? crp_load_ex(path, &lo, out, diag)
             : !st->may_lease               ? load_staged_leased(path, &lo, st, out, diag)
                                            : ahead_take(path, &lo, st, out, diag, &taken);
    if (st && st->may_lease && cr_image_file_is(path) && !taken)
        rc = load_leased(path, &lo, st, out, diag);
    if (rc == CR_OK && h->db_path && crp_users_check(h->db_path, *out, diag) != CR_OK) {
        cr_config_free(*out);
        *out = NULL;
        rc = CR_ECONFIG;
    }
    if (rc != CR_OK)
        staged_drop(st);
    return rc;
}

/* load_for, the errors as text in err when it fails (`d` is then freed). */
static int load_or_say(const cr_handle *h, const char *path, cr_config **out, cr_diag *d,
                       staged *st, char *err, size_t errlen)
{
    int rc = load_for(h, path, out, d, st);
    if (rc != CR_OK) {
        crp_diag_to_text(d, err, errlen, true);
        if (err && errlen && !err[0])
            snprintf(err, errlen, "%s: %s", path, cr_strerror(rc));
        cr_diag_free(d);
    }
    return rc;
}

static void watcher_stop(cr_handle *h);
static void watcher_start(cr_handle *h);
static void plan_sweep_stale(void);
static int plan_publish(cr_handle *h, const cr_config *cfg, bool bump, uint64_t *gen, char *err,
                        size_t errlen);
static int plan_commit(cr_handle *h, staged *st, cr_config *cfg, bool bump, uint64_t *gen,
                       bool *mine, char *err, size_t errlen);
static int plan_adopt(cr_handle *h, cr_config **out, uint64_t *gen, char *err, size_t errlen);
static void plan_withdraw(cr_handle *h);

static void inherit_note(cr_handle *h, cr_config *cfg, uint64_t gen);
static cr_config *inherit_take(cr_handle *h, uint64_t gen, uint64_t sum, bool *parked);
static int unpark(crp_shared *s, const cr_config *cfg, const char *path, uint64_t g, uint64_t sum,
                  bool borrowed, char *err, size_t errlen);
static int map_published_at(const char *path, void *base, size_t len, uint64_t g, uint64_t sum,
                            unsigned flags, const char *what, char *err, size_t errlen);
static void inherit_drop(const cr_config *cfg);
static void inplace_forget(const cr_config *cfg);
static void inplace_note(crp_shared *s, const cr_config *cfg, void *base, size_t len, uint64_t gen,
                         uint64_t sum);
static bool inplace_move(crp_shared *s);
static void mover_start(cr_handle *h, staged *st);
static void mover_stop(void);
static void shared_wake(crp_shared *s);

/* Frees a plan this process decided with (or could have). */
static void plan_free(cr_config *cfg)
{
    inplace_forget(cfg);
    cr_config_free(cfg);
}

static void snapshot_free(crp_snapshot *s)
{
    if (!s)
        return;
    inherit_drop(s->cfg);
    plan_free(s->cfg);
    free(s);
}

static crp_shared *shared_init(void *mem, size_t len)
{
    if (!mem || len < sizeof(crp_shared))
        return NULL;
    crp_shared *s = mem;
    uint32_t expect = 0;
    if (atomic_compare_exchange_strong(&s->magic, &expect, CRP_SHARED_MAGIC)) {
        atomic_store(&s->started_ms, crp_now_ms());
        atomic_store(&s->plan_owner, my_pid());
        plan_sweep_stale();
    }
    return atomic_load(&s->magic) == CRP_SHARED_MAGIC ? s : NULL;
}

/* Loads and validates path (warnings to the host's log). */
static int open_load(cr_handle *h, const char *path, cr_config **cfg, staged *st, char *err,
                     size_t errlen)
{
    cr_diag d;
    cr_diag_init(&d);
    int rc = load_or_say(h, path, cfg, &d, st, err, errlen);
    if (rc != CR_OK)
        return rc;
    for (size_t i = 0; i < d.count; i++) {
        char line[1600];
        cr_diag_format(&d, i, line, sizeof line);
        crp_log(CR_LOG_WARNING, "%s", line);
    }
    cr_diag_free(&d);
    return CR_OK;
}

/* The plan this process just published, adopted in place instead of cfg (the configuration it
 * validated, freed): every process then decides from the same mapped image, this one too, and
 * the processes forked from it inherit a plan of a few pages rather than the compiled model.
 * cfg itself when the image cannot be adopted (logged). */
static cr_config *adopt_own(cr_handle *h, cr_config *cfg, uint64_t gen)
{
    char err[1024] = "";
    cr_config *mine = NULL;
    uint64_t g = 0;
    int rc = plan_adopt(h, &mine, &g, err, sizeof err);
    if (rc != CR_OK || g != gen) {
        if (rc != CR_OK)
            crp_log(CR_LOG_WARNING, "callroute: deciding with the plan as loaded: %s", err);
        plan_free(mine);
        return cfg;
    }
    plan_free(cfg);
    return mine;
}

/* Publishes the plan this process just validated (*cfg; staged by load_for, or not) and decides
 * from the published image itself. */
static int publish_loaded(cr_handle *h, cr_config **cfg, staged *st, bool bump, uint64_t *gen,
                          char *err, size_t errlen)
{
    bool mine = false; /* *cfg reads the published image already */
    int rc = st->path[0] || st->leased ? plan_commit(h, st, *cfg, bump, gen, &mine, err, errlen)
                                       : plan_publish(h, *cfg, bump, gen, err, errlen);
    if (rc == CR_OK && !mine)
        *cfg = adopt_own(h, *cfg, *gen);
    return rc;
}

/* A multi-process host: adopt the plan another process published (*adopted), or load path,
 * validate it and publish it for the others. */
static int open_shared(cr_handle *h, const char *path, cr_config **cfg, uint64_t *gen,
                       bool *adopted, char *err, size_t errlen)
{
    int rc = plan_adopt(h, cfg, gen, err, errlen);
    *adopted = rc == CR_OK;
    if (rc == CR_OK)
        return CR_OK;
    if (rc != CR_ENOENT) /* published but not adoptable: decide with the file rather than not */
        crp_log(CR_LOG_WARNING, "callroute: %s; loading %s instead", err, path);
    if (err && errlen)
        err[0] = 0;
    staged st = {.may_lease = true, .want_gen = atomic_load(&h->shared->generation)};
    rc = open_load(h, path, cfg, &st, err, errlen);
    if (rc == CR_OK && publish_loaded(h, cfg, &st, false, gen, err, errlen) != CR_OK) {
        crp_log(CR_LOG_WARNING, "callroute: plan not published (%s): other processes load %s", err,
                path);
        *gen = atomic_load(&h->shared->generation);
        if (err && errlen)
            err[0] = 0;
    }
    return rc;
}

int crp_handle_open(const char *path, const cr_open_options *opts, cr_handle **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (!path) {
        snprintf(err, errlen, "no configuration file given");
        return CR_EINVAL;
    }
    /* the members of ABI 1.0 (up to db_path) are read without a size check: a smaller size is
     * a host's mistake (size not set), refused rather than read past */
    if (opts && opts->size < offsetof(cr_open_options, db_path) + sizeof opts->db_path) {
        snprintf(err, errlen, "open: options size %u too small (at least %zu)",
                 (unsigned)opts->size, offsetof(cr_open_options, db_path) + sizeof opts->db_path);
        return CR_EINVAL;
    }
    cr_handle *h = calloc(1, sizeof *h);
    if (!h)
        return CR_ENOMEM;
    pthread_mutex_init(&h->reload_lock, NULL);
    h->path = strdup(path);
    h->opener = my_pid();
    h->holdoff_s = 30;
    h->fail_threshold = crp_gw_threshold(opts);
    h->rgs_max_wait_s = crp_rgs_max_wait(opts);
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
    cr_config *cfg = NULL;
    uint64_t gen = 0;
    bool adopted = false;
    int rc = h->own_shared ? open_load(h, path, &cfg, NULL, err, errlen)
                           : open_shared(h, path, &cfg, &gen, &adopted, err, errlen);
    if (rc != CR_OK) {
        crp_handle_close(h);
        return rc;
    }
    crp_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        plan_free(cfg);
        crp_handle_close(h);
        return CR_ENOMEM;
    }
    s->cfg = cfg;
    atomic_store(&h->generation, h->own_shared ? atomic_load(&h->shared->generation) : gen);
    h->follow = !h->own_shared;
    atomic_store(&h->cur, s);
    if (!h->own_shared)
        inherit_note(h, cfg, gen);
    /* A process that found the plan published (a worker forked by the process that published
     * it) follows reloads from its open on, with its watcher. A host opens in a worker at its
     * first call (Kamailio's SIP workers park the plan they inherited until then:
     * crp_handle_park), or at start to have it ready. The publisher itself (the host's main
     * process) starts no watcher here: its first decision does (crp_snapshot_acquire), after
     * hold_threads(0) in a host that holds its threads until its last fork. */
    if (adopted) {
        /* when this process began to decide with the published plan (a SIP worker: at its
         * first call), for whoever reads the log against reloads */
        crp_log(CR_LOG_INFO, "callroute: pid %d opened generation %llu (at %lld)", (int)my_pid(),
                (unsigned long long)gen, (long long)wall_ms());
        watcher_start(h);
    }
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

/* Swaps a new snapshot of cfg (generation gen) in and frees the old one once no reader
 * holds it. Takes cfg (freed on failure). *swapped (may be NULL): when the swap was made
 * (wall_ms), from which every decision of this handle is the new plan's. */
static int install(cr_handle *h, cr_config *cfg, uint64_t gen, int64_t *swapped)
{
    crp_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        plan_free(cfg);
        return CR_ENOMEM;
    }
    s->cfg = cfg;
    if (!h->own_shared)
        inherit_note(h, cfg, gen);
    crp_snapshot *old = atomic_exchange(&h->cur, s);
    atomic_store(&h->generation, gen);
    if (swapped)
        *swapped = wall_ms();
    wait_readers(h);
    snapshot_free(old);
    return CR_OK;
}

/* Builds the new snapshot and swaps it in. `bump` publishes the reload to other processes. */
/* When the reload's plan was published (and adopted here), and what installing it here took
 * (mono_ns: the swap, then the plan before freed once no reader holds it), for its log line. */
typedef struct reload_times {
    int64_t published, install_ns;
} reload_times;

static int reload_locked(cr_handle *h, const char *path, char *err, size_t errlen, bool bump,
                         reload_times *rt)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    staged st = {0};
    int rc = load_or_say(h, path, &cfg, &d, h->own_shared ? NULL : &st, err, errlen);
    if (rc != CR_OK)
        return rc;
    cr_diag_free(&d);
    uint64_t gen;
    if (!h->own_shared) {
        /* the other processes adopt the image of exactly what was validated here */
        rc = publish_loaded(h, &cfg, &st, bump, &gen, err, errlen);
        if (rc != CR_OK) {
            cr_config_free(cfg);
            return rc;
        }
        if (rt)
            rt->published = mono_ns();
    } else {
        gen = bump ? atomic_fetch_add(&h->shared->generation, 1) + 1
                   : atomic_load(&h->shared->generation);
        if (bump)
            shared_wake(h->shared);
    }
    int64_t t_install = mono_ns();
    rc = install(h, cfg, gen, NULL);
    if (rc != CR_OK)
        return rc;
    if (rt)
        rt->install_ns = mono_ns() - t_install;
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
    if (err && errlen)
        err[0] = 0;
    if (!h) {
        if (err && errlen)
            snprintf(err, errlen, "reload: no handle");
        return CR_EINVAL;
    }
    reload_times rt = {0};
    int64_t t0 = mono_ns();
    pthread_mutex_lock(&h->reload_lock);
    int rc = reload_locked(h, path ? path : h->path, err, errlen, true, &rt);
    pthread_mutex_unlock(&h->reload_lock);
    /* Returns once published: every process's next decision uses the new plan (its watcher
     * follows at once, woken by the publication; a decision that comes first waits for the
     * swap: crp_snapshot_acquire). */
    if (rc == CR_OK)
        crp_log(CR_LOG_INFO,
                "callroute: reloaded %s (generation %llu) in %.1f ms: published and adopted "
                "here after %.1f ms, installed here (the plan before freed) in %.1f ms",
                h->path, (unsigned long long)atomic_load(&h->shared->generation),
                (double)(mono_ns() - t0) / 1e6,
                rt.published ? (double)(rt.published - t0) / 1e6 : 0.0,
                (double)rt.install_ns / 1e6);
    else
        crp_log(CR_LOG_ERROR, "callroute: reload of %s refused, running configuration kept: %s",
                path ? path : h->path, err ? err : "");
    return rc;
}

/* The handle's own fields and the handle (its plan is let go of first). */
static void handle_free(cr_handle *h)
{
    if (h->own_shared)
        free(h->shared);
    free(h->path);
    free(h->db_path);
    for (size_t i = 0; h->include_dirs && h->include_dirs[i]; i++)
        free(h->include_dirs[i]);
    free(h->include_dirs);
    free(h);
}

/* A handle inherited through fork(), let go of by a process that does not route (Kamailio's
 * timers, ctl): its plan's memory is the parent's pages, shared copy-on-write, which freeing
 * would copy into this process for nothing; only the image it maps is unmapped, so that the
 * process holds no plan (the parent's own handle is untouched). */
static void handle_abandon(cr_handle *h)
{
    crp_snapshot *s = atomic_load(&h->cur);
    if (s) {
        inherit_drop(s->cfg);
        inplace_forget(s->cfg);
        cr_config_abandon(s->cfg);
        free(s);
    }
    handle_free(h);
}

void crp_handle_close(cr_handle *h)
{
    if (!h)
        return;
    if (h->opener && h->opener != my_pid()) {
        handle_abandon(h);
        return;
    }
    watcher_stop(h);
    if (!h->own_shared && h->shared) {
        mover_stop();
        plan_withdraw(h);
    }
    snapshot_free(atomic_load(&h->cur));
    pthread_mutex_destroy(&h->reload_lock);
    handle_free(h);
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
 * watcher thread that notices within CRP_FOLLOW_MS and rebuilds its snapshot off the decision
 * path (its slot says which move of the admin's image it acknowledged). The reloading process
 * returns once the plan is published: a decision that begins in a process whose watcher has
 * not swapped the new plan in yet waits for that swap (catch_up), so when a reload returns,
 * the next call in any process uses the new configuration, whatever the number of processes. */
#define CRP_FOLLOW_MS      20
#define CRP_FOLLOW_WAIT_MS 30000
#define CRP_WATCH_IDLE_MS  1000 /* a watcher's sleep when nothing wakes it (a safety net) */

/* The watchers sleep on the shared block's wake word instead of polling: every change they
 * follow (a published generation, a move, a stop) bumps it and wakes them, so a worker
 * follows a reload at once and costs nothing while nothing changes. FUTEX_WAIT without
 * FUTEX_PRIVATE_FLAG: the word is in memory every process of the host shares. */
static void shared_wake(crp_shared *s)
{
    atomic_fetch_add(&s->wake, 1);
    syscall(SYS_futex, (void *)&s->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Until woken, ms passed, or the word no longer holds seen (then at once). */
static void shared_sleep(crp_shared *s, uint32_t seen, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    syscall(SYS_futex, (void *)&s->wake, FUTEX_WAIT, seen, &ts, NULL, 0);
}

/* Follows the published generation if this handle is behind it; h->reload_lock held. */
static void follow_locked(cr_handle *h)
{
    if (atomic_load(&h->generation) != atomic_load(&h->shared->generation)) {
        char err[1024] = "";
        cr_config *cfg = NULL;
        uint64_t gen = 0;
        int64_t t0 = wall_ms(), ts = 0;
        int rc = plan_adopt(h, &cfg, &gen, err, sizeof err);
        if (rc == CR_OK)
            rc = install(h, cfg, gen, &ts);
        int64_t t1 = wall_ms();
        /* the time until the new plan decides and when that was (epoch ms), then what freeing
         * the plan before took (its image unmapped, its memory returned) */
        if (rc == CR_OK)
            crp_log(CR_LOG_INFO,
                    "callroute: pid %d adopted generation %llu in %lld ms (at %lld), the plan "
                    "before freed in %lld ms",
                    (int)my_pid(), (unsigned long long)gen, (long long)(ts - t0), (long long)ts,
                    (long long)(t1 - ts));
        if (rc != CR_OK) {
            /* the published image is gone or damaged: keep deciding with what runs */
            crp_log(CR_LOG_ERROR,
                    "callroute: following a reload failed, running configuration kept: %s",
                    err[0] ? err : cr_strerror(rc));
            atomic_store(&h->generation, atomic_load(&h->shared->generation));
        }
    }
}

static void follow_now(cr_handle *h)
{
    pthread_mutex_lock(&h->reload_lock);
    follow_locked(h);
    pthread_mutex_unlock(&h->reload_lock);
}

/* A decision about to begin in a process behind the published generation: its watcher was
 * woken at the publication and is following it, or is about to. The decision waits for the
 * swap, not for the old plan to be freed: it follows itself when nothing else does, and
 * otherwise waits only until whoever holds the lock has swapped the new plan in (install
 * stores the generation right after the swap). So no decision begun after a publication uses
 * the plan before, and the reload need not wait for the other processes. */
static void catch_up(cr_handle *h)
{
    struct timespec ts = {0, 50000};
    while (atomic_load(&h->generation) != atomic_load(&h->shared->generation)) {
        if (pthread_mutex_trylock(&h->reload_lock) == 0) {
            follow_locked(h);
            pthread_mutex_unlock(&h->reload_lock);
            return;
        }
        nanosleep(&ts, NULL);
    }
}

static void *watcher_main(void *arg)
{
    cr_handle *h = arg;
    while (!atomic_load(&h->stop)) {
        uint32_t seen = atomic_load(&h->shared->wake); /* before looking: no change is missed */
        if (atomic_load(&h->generation) != atomic_load(&h->shared->generation))
            follow_now(h);
        uint64_t mv = atomic_load(&h->shared->plan_move);
        /* acknowledged once this process no longer maps the admin's image (a reload it has
         * yet to follow may be what lets it go: tried again soon) */
        bool pending = false;
        if (h->slot && atomic_load(&h->slot->moved) != mv) {
            if (inplace_move(h->shared))
                atomic_store(&h->slot->moved, mv);
            else
                pending = true;
        }
        if (atomic_load(&h->stop))
            break;
        shared_sleep(h->shared, seen, pending ? CRP_FOLLOW_MS : CRP_WATCH_IDLE_MS);
    }
    return NULL;
}

/* getpid() is a system call: the deciding process's pid is cached and forgotten in a forked
 * child. */
static _Atomic int32_t cached_pid;
static void fork_handlers(void);

static void pid_forget(void)
{
    atomic_store(&cached_pid, 0);
}

static int32_t my_pid(void)
{
    int32_t p = atomic_load_explicit(&cached_pid, memory_order_relaxed);
    if (!p) {
        fork_handlers();
        p = (int32_t)getpid();
        atomic_store(&cached_pid, p);
    }
    return p;
}

static bool pid_alive(int32_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

static bool hold_watcher(cr_handle *h);
static void hold_forget(cr_handle *h);

static void watcher_start(cr_handle *h)
{
    if (hold_watcher(h))
        return; /* started by hold_threads(0) */
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
        atomic_store(&h->slot->moved, 0); /* the watcher acknowledges any move since */
    atomic_store(&h->stop, false);
    /* the watcher takes no signal: the host's signal handling stays with its own threads */
    int rc = cr_thread_start(&h->watcher, watcher_main, h);
    if (rc != 0) {
        crp_log(CR_LOG_WARNING, "callroute: no watcher thread: reloads are followed inline");
        h->follow = false;
        return;
    }
    atomic_store(&h->watcher_pid, me);
}

static void watcher_stop(cr_handle *h)
{
    hold_forget(h);
    if (atomic_load(&h->watcher_pid) != my_pid())
        return; /* none, or it belongs to the process this handle was copied from */
    atomic_store(&h->stop, true);
    shared_wake(h->shared); /* the other processes' watchers look, find nothing, sleep again */
    pthread_join(h->watcher, NULL);
    atomic_store(&h->watcher_pid, 0);
    if (h->slot)
        atomic_store(&h->slot->pid, 0);
}

/* ---- publishing plans ---------------------------------------------------------------------- */

/*
 * In a multi-process host (a shared block given) the process that opens first or reloads
 * loads and validates the configuration, writes its plan image (engine/include/cr_plan_image.h)
 * into the runtime directory and records the image's name, generation and checksum in the shared
 * block; every other process adopts exactly that image (maps it read-only, checks it is the one
 * recorded, reads the plan from it) and never reads the configuration file: a file changed
 * after validation changes nothing. An adopted plan keeps the image mapped for its whole life
 * and its strings (names, patterns, URIs, numbers) are the image's own bytes, not copies: the
 * page cache holds them once for every process.
 *
 * Files in /dev/shm rather than a sealed memfd: tmpfs is memory, never disk; a name there is
 * reachable from every process of the host whatever its credentials or dumpable flag
 * (/proc/PID/fd/N of a memfd is not once the publisher has dropped privileges, and not at all
 * once it has exited), and a name can be logged and inspected with `callroute check`. Each
 * image is written under a new name (callroute-<owner pid>-<generation>.plan, renamed into
 * place) so that a name always means one image; the previous one is unlinked as soon as the
 * next is published: a process that has it mapped keeps its pages until it unmaps (when it
 * frees that plan, once it has followed the next reload), one that comes late finds the new
 * record and adopts that. The directory
 * is CALLROUTE_RUNTIME_DIR when set, else /dev/shm, else /tmp.
 */
static const char *runtime_dir(void)
{
    const char *d = getenv("CALLROUTE_RUNTIME_DIR");
    if (d && *d)
        return d;
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void plan_lock(crp_shared *s)
{
    int32_t me = my_pid();
    struct timespec ts = {0, 100000};
    for (;;) {
        int32_t cur = 0;
        if (atomic_compare_exchange_strong(&s->plan_lock, &cur, me))
            return;
        /* a holder that died (killed while publishing) does not hold it forever */
        if (cur != me && !pid_alive(cur) && atomic_compare_exchange_strong(&s->plan_lock, &cur, me))
            return;
        nanosleep(&ts, NULL);
    }
}

static void plan_unlock(crp_shared *s)
{
    atomic_store(&s->plan_lock, 0);
}

/* Images (published or staged) of processes that are gone (a host killed before it could clean
 * up). */
static void plan_sweep_stale(void)
{
    const char *dir = runtime_dir();
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        int pid = 0, end = 0;
        unsigned long long gen;
        if (sscanf(e->d_name, "callroute-%d-%llu.%n", &pid, &gen, &end) != 2 || !end ||
            (strcmp(e->d_name + end, "plan") != 0 && strcmp(e->d_name + end, "stage") != 0) ||
            pid_alive(pid))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* The name generation g is published under (a name always means one image). */
static int plan_name(crp_shared *s, uint64_t g, char path[CRP_PLAN_PATH_MAX], char *err,
                     size_t errlen)
{
    int n = snprintf(path, CRP_PLAN_PATH_MAX, "%s/callroute-%d-%llu.plan", runtime_dir(),
                     (int)atomic_load(&s->plan_owner), (unsigned long long)g);
    if (n >= 0 && n < CRP_PLAN_PATH_MAX)
        return CR_OK;
    snprintf(err, errlen, "runtime directory name too long: %s", runtime_dir());
    return CR_ERANGE;
}

/* Records path as the published plan (the plan lock held); the previous image is unlinked. */
static void plan_record(crp_shared *s, const char *path, uint64_t g, uint64_t sum)
{
    char old[CRP_PLAN_PATH_MAX];
    memcpy(old, s->plan_path, sizeof old);
    snprintf(s->plan_path, sizeof s->plan_path, "%s", path);
    atomic_store(&s->plan_checksum, sum);
    atomic_store(&s->plan_gen, g);
    atomic_store(&s->generation, g);
    shared_wake(s);
    if (old[0] && strcmp(old, path) != 0 && !atomic_load(&s->plan_borrowed))
        unlink(old); /* never the admin's own file */
    atomic_store(&s->plan_borrowed, 0);
}

/* Writes the image of cfg and records it as the published plan (generation bumped when
 * `bump`; on the first open the current one, and nothing is done when another process has
 * published first). The generation published goes to *gen. */
static int plan_publish(cr_handle *h, const cr_config *cfg, bool bump, uint64_t *gen, char *err,
                        size_t errlen)
{
    crp_shared *s = h->shared;
    plan_lock(s);
    uint64_t g = atomic_load(&s->generation) + (bump ? 1 : 0);
    *gen = g;
    if (!bump && s->plan_path[0]) {
        plan_unlock(s);
        return CR_OK;
    }
    char path[CRP_PLAN_PATH_MAX];
    uint64_t sum = 0;
    int rc = plan_name(s, g, path, err, errlen);
    if (rc == CR_OK)
        rc = cr_image_write(path, cfg, g, &sum, err, errlen);
    if (rc == CR_OK)
        plan_record(s, path, g, sum);
    plan_unlock(s);
    return rc;
}

/* Publishes a staged image (load_staged) as generation *gen: its header rewritten when it
 * carries another generation, then renamed into place. *mine: the staged copy is now the
 * published image (false when another process had published first, on the first open). */
static int plan_commit(cr_handle *h, staged *st, cr_config *cfg, bool bump, uint64_t *gen,
                       bool *mine, char *err, size_t errlen)
{
    crp_shared *s = h->shared;
    *mine = false;
    plan_lock(s);
    uint64_t g = atomic_load(&s->generation) + (bump ? 1 : 0), sum = st->info.checksum;
    *gen = g;
    int rc = CR_OK;
    char path[CRP_PLAN_PATH_MAX];
    if (!bump && s->plan_path[0])
        goto out;
    if (st->leased) {
        /* the admin's file itself is published, in place, until the mover copies it */
        if (st->info.generation != g) {
            snprintf(err, errlen, "%s: carries generation %llu, not %llu", st->admin,
                     (unsigned long long)st->info.generation, (unsigned long long)g);
            rc = CR_ESTATE;
            goto out;
        }
        plan_record(s, st->admin, g, sum);
        atomic_store(&s->plan_borrowed, 1);
        plan_unlock(s);
        inplace_note(s, cfg, st->base, st->len, g, sum);
        *mine = true;
        mover_start(h, st); /* takes the lease */
        staged_drop(st);
        return CR_OK;
    }
    if (plan_name(s, g, path, err, errlen) != CR_OK) {
        rc = CR_ERANGE;
        goto out;
    }
    if (st->info.generation != g) {
        if (mprotect(st->base, st->len, PROT_READ | PROT_WRITE) != 0) {
            snprintf(err, errlen, "%s: %s", st->path, strerror(errno));
            rc = CR_EIO;
            goto out;
        }
        sum = st->sums ? cr_image_restamp_sums(st->base, st->len, g, st->sums, st->chunks)
                       : cr_image_restamp(st->base, st->len, g);
        mprotect(st->base, st->len, PROT_READ);
    }
    if (rename(st->path, path) != 0) {
        snprintf(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
        rc = CR_EIO;
        goto out;
    }
    st->path[0] = 0;
    plan_record(s, path, g, sum);
    *mine = true;
out:
    plan_unlock(s);
    staged_drop(st);
    return rc;
}

/*
 * Adopts the published plan: CR_ENOENT when none is published.
 *
 * The image is read CR_IMAGE_TRUSTED: the process that published it validated it whole (it
 * compiled the configuration and wrote the image, or verified and read the admin's image) and
 * checked its users against the directory; what is checked here is that the file is the one
 * recorded (its header's generation and checksum) and its header. Nobody rewrites a published
 * image: it is a new file under a new name, renamed into place, in a directory of the host's
 * own. Checking it again in every process would be the same check on the same bytes, ten
 * times over on two cores at each reload (at 400,000 routes, most of a follower's 10-20 ms).
 */
static int plan_adopt(cr_handle *h, cr_config **out, uint64_t *gen, char *err, size_t errlen)
{
    crp_shared *s = h->shared;
    *out = NULL;
    int rc = CR_ENOENT;
    /* a reload may publish (and unlink the image read here) meanwhile: read the record again */
    for (int attempt = 0; attempt < 8; attempt++) {
        char path[CRP_PLAN_PATH_MAX];
        plan_lock(s);
        memcpy(path, s->plan_path, sizeof path);
        uint64_t g = atomic_load(&s->plan_gen), sum = atomic_load(&s->plan_checksum);
        bool borrowed = atomic_load(&s->plan_borrowed) != 0;
        plan_unlock(s);
        if (!path[0])
            return CR_ENOENT;
        bool parked;
        *out = inherit_take(h, g, sum, &parked);
        if (*out && parked &&
            (rc = unpark(s, *out, path, g, sum, borrowed, err, errlen)) != CR_OK) {
            crp_log(CR_LOG_WARNING,
                    "callroute: pid %d: the plan inherited cannot be taken back "
                    "(%s): reading the published image",
                    (int)my_pid(), err);
            inherit_drop(*out);
            cr_config_abandon(*out);
            *out = NULL;
            if (err && errlen)
                err[0] = 0;
        }
        if (*out) {
            *gen = g;
            return CR_OK;
        }
        cr_image_map m;
        rc = cr_image_map_file_ex(path, CR_IMAGE_TRUSTED, &m, err, errlen);
        if (rc == CR_OK && (m.info.checksum != sum || m.info.generation != g)) {
            snprintf(err, errlen, "%s: not the image published (generation %llu, checksum %016llx)",
                     path, (unsigned long long)g, (unsigned long long)sum);
            rc = CR_ECONFIG;
        }
        if (rc == CR_OK) {
            cr_diag d;
            cr_diag_init(&d);
            void *base = (void *)(uintptr_t)m.base;
            size_t len = m.len;
            /* the plan keeps the image mapped and decides from its strings: every process
             * that adopted it shares those pages (unmapped when the plan is freed) */
            rc = cr_image_load_owned_ex(&m, path, CR_IMAGE_NOLINT | CR_IMAGE_TRUSTED, out, &d);
            crp_diag_to_text(&d, err, errlen, true);
            cr_diag_free(&d);
            if (rc == CR_OK && borrowed) /* the admin's file: moved to its copy later */
                inplace_note(s, *out, base, len, g, sum);
        }
        if (rc == CR_OK) {
            /* compile frees the lists read out of the image and its own scratch (a third of
             * what it touched at 100,000 routes): back to the system, not kept resident */
            malloc_trim(0);
            *gen = g;
            return CR_OK;
        }
        if (atomic_load(&s->plan_gen) == g)
            return rc;
    }
    return rc;
}

/* ---- a plan inherited through fork() ------------------------------------------------------ */

/*
 * The plan this process installed last, with the published generation and checksum it stands
 * for. A process forked after that (Kamailio forks its workers after mod_init) finds it in its
 * copy of memory and adopts it when it is still the published plan, without mapping and
 * compiling the image: its pages stay shared with the parent's (copy-on-write) until written,
 * so the plan is counted once however many processes fork, and no worker compiles at start.
 * Lazy caches inside (a route's compiled regex) are written per process like any private page.
 * The taker becomes the owner in its own memory (the parent's handle there is never used or
 * freed: threads do not survive fork, and hosts leave an inherited handle alone).
 * The lock is held across fork(), so a child never sees a record half written.
 */
static struct {
    pthread_mutex_t lock;
    const crp_shared *shared;
    cr_config *cfg;
    uint64_t gen, sum;
    int32_t pid;
    /* in this process (and the ones it forks), cfg's image is not mapped: an inaccessible
     * reservation holds its address until plan_adopt maps the published image there again
     * (crp_handle_park) */
    bool parked;
} inherit = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void inherit_note(cr_handle *h, cr_config *cfg, uint64_t gen)
{
    crp_shared *s = h->shared;
    fork_handlers();
    plan_lock(s);
    bool published = s->plan_path[0] && atomic_load(&s->plan_gen) == gen;
    uint64_t sum = atomic_load(&s->plan_checksum);
    plan_unlock(s);
    pthread_mutex_lock(&inherit.lock);
    if (published) {
        inherit.shared = s;
        inherit.cfg = cfg;
        inherit.gen = gen;
        inherit.sum = sum;
        inherit.pid = my_pid();
        inherit.parked = false;
    }
    pthread_mutex_unlock(&inherit.lock);
}

static cr_config *inherit_take(cr_handle *h, uint64_t gen, uint64_t sum, bool *parked)
{
    cr_config *cfg = NULL;
    *parked = false;
    pthread_mutex_lock(&inherit.lock);
    if (inherit.cfg && inherit.shared == h->shared && inherit.pid != my_pid() &&
        inherit.gen == gen && inherit.sum == sum) {
        cfg = inherit.cfg;
        *parked = inherit.parked;
        inherit.pid = my_pid();
        inherit.parked = false;
    } else if (inherit.cfg && inherit.parked && inherit.pid != my_pid()) {
        /* parked, and no longer the published plan: its reservation goes (its memory is the
         * parent's pages, left alone) */
        cr_config_abandon(inherit.cfg);
        inherit.cfg = NULL;
        inherit.parked = false;
    }
    pthread_mutex_unlock(&inherit.lock);
    return cfg;
}

/*
 * A process forked from the one that published the plan, which will decide later (Kamailio's
 * SIP workers, until their first call): the plan it inherited stops mapping the image, its
 * mapping replaced by an inaccessible reservation of the same addresses (no file, no page), so
 * that until this process decides it holds no image however many reloads and moves happen,
 * and neither a thread nor a process slot of its own; its memory stays the parent's pages,
 * shared copy-on-write. The first open() then takes it back without reading the image
 * (plan_adopt: the published image mapped at the same addresses, when it is still the one
 * inherited) and starts the process's watcher. Nothing to park (no plan inherited, one already
 * taken here, or a plan that maps no image): nothing done.
 */
void crp_handle_park(void)
{
    fork_handlers();
    pthread_mutex_lock(&inherit.lock);
    const void *base = NULL;
    size_t len = 0;
    long page = sysconf(_SC_PAGESIZE);
    bool park = inherit.cfg && !inherit.parked && inherit.pid != my_pid() &&
                cr_config_borrowed_span(inherit.cfg, &base, &len) && page > 0 &&
                (uintptr_t)base % (uintptr_t)page == 0;
    if (park) {
        /* in one step: the range is never free for another mapping to take meanwhile */
        void *r = mmap((void *)(uintptr_t)base, len, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
        if (r == MAP_FAILED) /* the old mapping may be gone: never read without plan_adopt */
            crp_log(CR_LOG_WARNING, "callroute: pid %d: cannot park the plan inherited: %s",
                    (int)my_pid(), strerror(errno));
        inherit.parked = true;
    }
    const cr_config *cfg = inherit.cfg;
    pthread_mutex_unlock(&inherit.lock);
    if (park) /* this process no longer maps the admin's file: nothing of it to move */
        inplace_forget(cfg);
}

/* Maps the published image at path over [base, base + len), replacing what is mapped there in
 * one step, when it is the one recorded: generation g, checksum sum, length len (the header
 * checked, CR_IMAGE_TRUSTED; `flags` more of cr_image_map_file_ex's). Nothing changes at base
 * on failure; err says why ("path: not `what`"). */
static int map_published_at(const char *path, void *base, size_t len, uint64_t g, uint64_t sum,
                            unsigned flags, const char *what, char *err, size_t errlen)
{
    cr_image_map m;
    int rc = cr_image_map_file_ex(path, CR_IMAGE_TRUSTED | flags, &m, err, errlen);
    if (rc == CR_OK && (m.len != len || m.info.generation != g || m.info.checksum != sum)) {
        snprintf(err, errlen, "%s: not %s", path, what);
        cr_image_unmap(&m);
        rc = CR_ECONFIG;
    }
    if (rc == CR_OK && mremap((void *)(uintptr_t)m.base, m.len, m.len,
                              MREMAP_MAYMOVE | MREMAP_FIXED, base) == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map in place: %s", path, strerror(errno));
        cr_image_unmap(&m);
        rc = CR_EIO;
    }
    return rc;
}

/* Maps the published image at path (generation g, checksum sum) over the reservation of the
 * parked plan cfg, which then reads it as it read the inherited mapping: the same bytes (the
 * same generation and checksum, the same length). The pages come as decisions touch them, as
 * they would have through the inherited mapping. On failure the reservation stays. */
static int unpark(crp_shared *s, const cr_config *cfg, const char *path, uint64_t g, uint64_t sum,
                  bool borrowed, char *err, size_t errlen)
{
    const void *base = NULL;
    size_t len = 0;
    if (!cr_config_borrowed_span(cfg, &base, &len)) {
        snprintf(err, errlen, "the plan inherited maps no image");
        return CR_EINVAL;
    }
    int rc = map_published_at(path, (void *)(uintptr_t)base, len, g, sum, CR_IMAGE_LAZY_PAGES,
                              "the image inherited", err, errlen);
    /* the admin's file: moved to its copy later, like any mapping of it */
    if (rc == CR_OK && borrowed)
        inplace_note(s, cfg, (void *)(uintptr_t)base, len, g, sum);
    return rc;
}

/* Before this process frees cfg: a plan freed is no longer offered to later children, nor to
 * a handle this process opens later (a process closing the handle it was forked with). */
static void inherit_drop(const cr_config *cfg)
{
    pthread_mutex_lock(&inherit.lock);
    if (inherit.cfg == cfg)
        inherit.cfg = NULL;
    pthread_mutex_unlock(&inherit.lock);
}

/* The owner (the block's first opener: Kamailio's main process) removes the image when it
 * closes: the host is shutting down. */
static void plan_withdraw(cr_handle *h)
{
    crp_shared *s = h->shared;
    if (atomic_load(&s->plan_owner) != my_pid())
        return;
    plan_lock(s);
    if (s->plan_path[0] && !atomic_load(&s->plan_borrowed))
        unlink(s->plan_path);
    s->plan_path[0] = 0;
    atomic_store(&s->plan_borrowed, 0);
    plan_unlock(s);
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

/* Snapshots this thread holds: a nested acquire (a host's callback asking the handle during a
 * decision) keeps the plan of the decision around it, and must not wait for a swap, which
 * waits for this very thread's reader to leave. */
static __thread int held;

const crp_snapshot *crp_snapshot_acquire(cr_handle *h, int *token)
{
    if (h->follow && !held) {
        if (atomic_load_explicit(&h->watcher_pid, memory_order_relaxed) != my_pid()) {
            /* First decision in a process with no watcher of its own (the one that published
             * the plan at open, or one forked from a process that had opened): catch up
             * inline if a reload happened since, then let the watcher follow from now on. */
            if (atomic_load(&h->generation) != atomic_load(&h->shared->generation))
                follow_now(h);
            watcher_start(h);
        } else if (atomic_load(&h->generation) != atomic_load(&h->shared->generation)) {
            catch_up(h);
        }
    }
    held++;
    *token = reader_enter(h);
    return atomic_load(&h->cur);
}

void crp_snapshot_release(cr_handle *h, int token)
{
    atomic_fetch_sub(&h->readers[token], 1);
    held--;
}

/* ---- an admin's image in place ------------------------------------------------------------ */

/*
 * At start the publisher maps the admin's image in place under a read lease (load_leased) and
 * publishes that very file: the workers it forks inherit the plan, and nothing is copied on the
 * start-up path. The lease keeps writers out only while it is held (a writer waits at most
 * /proc/sys/fs/lease-break-time for it), so the publisher's mover thread then copies the file
 * into the runtime directory from the leased descriptor (the copy hashed as it is made and
 * compared with the checksum verified at start), publishes the copy under the same generation
 * and checksum, and bumps plan_move. Each process that maps the admin's file replaces that
 * mapping by one of the copy at the same address (mremap): the same bytes, so no decision sees
 * a change and no plan is rebuilt. Once every following process has acknowledged the move, the
 * lease is released. The mover does this CRP_MOVE_DELAY_MS after the start (the host has
 * forked its workers by then), or at once when a writer comes (the kernel signals the lease
 * break to the mover's thread; it is also polled with F_GETLEASE).
 */
#define CRP_MOVE_DELAY_MS 1000

static struct {
    pthread_mutex_t lock;
    /* this process's plan reading the admin's file in place (cfg NULL: none) */
    const crp_shared *shared;
    const cr_config *cfg;
    void *base;
    size_t len;
    uint64_t gen, sum;
    /* the publisher's lease and its mover thread */
    bool leased;
    cr_image_leased lease;
    char admin[CRP_PLAN_PATH_MAX];
    crp_shared *mover_shared;
    cr_handle *mover_h; /* the publisher's handle (the mover is stopped before it is closed) */
    int32_t mover_pid;
    pthread_t mover;
    _Atomic bool stop;
} inplace = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * What fork() must not cut in half: the records of the plan a child may inherit and of the
 * admin's image in place are each written under their lock, and both locks are held across
 * fork(), always in this order (no code holds one while it takes the other). The child then
 * forgets its parent's pid and lease: the lease is the publisher's, and a forked process does
 * not keep the admin's file open (its copy of the mapping is moved like the publisher's, by
 * its watcher, or freed). One set of handlers, registered before any of them is needed.
 */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/*
 * Threads held (ABI 1.12 hold_threads): the process that holds starts none of its threads
 * until it lets them go; the handles whose watcher waits and the mover (its lease taken, in
 * inplace) are recorded here. Under inplace.lock, but for the pid, which is read without it
 * first (a process that holds nothing pays one load).
 */
#define CRP_HELD_MAX 16
static struct {
    _Atomic int32_t pid;
    cr_handle *watch[CRP_HELD_MAX];
    size_t nwatch;
    bool mover;
} hold;

/* A child holds nothing: its parent's handles start their threads in the parent. */
static void hold_child(void)
{
    atomic_store(&hold.pid, 0);
    hold.nwatch = 0;
    hold.mover = false;
}

static void ahead_join(void);

static void fork_prepare(void)
{
    ahead_join(); /* a read ahead (crp_handle_preload) is not cut in half either */
    pthread_mutex_lock(&inherit.lock);
    pthread_mutex_lock(&inplace.lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&inplace.lock);
    pthread_mutex_unlock(&inherit.lock);
}

static void fork_child(void)
{
    pid_forget();
    if (inplace.leased)
        close(inplace.lease.fd);
    inplace.leased = false;
    hold_child();
    fork_parent();
}

static void fork_register(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void fork_handlers(void)
{
    pthread_once(&fork_once, fork_register);
}

/* cfg decides from the admin's image mapped at base..len (published as gen, sum). */
static void inplace_note(crp_shared *s, const cr_config *cfg, void *base, size_t len, uint64_t gen,
                         uint64_t sum)
{
    fork_handlers();
    pthread_mutex_lock(&inplace.lock);
    inplace.shared = s;
    inplace.cfg = cfg;
    inplace.base = base;
    inplace.len = len;
    inplace.gen = gen;
    inplace.sum = sum;
    pthread_mutex_unlock(&inplace.lock);
}

/* Before cfg is freed (its mapping goes with it: nothing may be mapped over it afterwards). */
static void inplace_forget(const cr_config *cfg)
{
    if (!cfg)
        return;
    fork_handlers();
    pthread_mutex_lock(&inplace.lock);
    if (inplace.cfg == cfg)
        inplace.cfg = NULL;
    pthread_mutex_unlock(&inplace.lock);
}

/*
 * Moves this process's mapping of the admin's image onto the published copy, at the same
 * address, when the copy is published (same generation, checksum and length). True when this
 * process no longer maps the admin's file (moved now, before, or never did).
 */
static bool inplace_move(crp_shared *s)
{
    fork_handlers();
    pthread_mutex_lock(&inplace.lock);
    bool done = !inplace.cfg || inplace.shared != s, borrowed = true;
    char path[CRP_PLAN_PATH_MAX] = "", err[CRP_PLAN_PATH_MAX + 400];
    uint64_t g = 0, sum = 0;
    if (!done) {
        plan_lock(s);
        memcpy(path, s->plan_path, sizeof path);
        g = atomic_load(&s->plan_gen);
        sum = atomic_load(&s->plan_checksum);
        borrowed = atomic_load(&s->plan_borrowed) != 0;
        plan_unlock(s);
    }
    if (!done && !borrowed && path[0] && g == inplace.gen && sum == inplace.sum) {
        /* the copy's mapping replaces the original's in one step: a decision reading it
         * meanwhile sees the same bytes either way */
        int rc = map_published_at(path, inplace.base, inplace.len, g, sum, 0,
                                  "the copy of the image published", err, sizeof err);
        if (rc == CR_OK) {
            inplace.cfg = NULL;
            done = true;
        } else {
            crp_log(CR_LOG_ERROR, "callroute: pid %d still maps the admin's image: %s",
                    (int)my_pid(), err);
        }
    }
    pthread_mutex_unlock(&inplace.lock);
    return done;
}

/* Copies the admin's file (the leased descriptor) into the runtime directory and publishes the
 * copy in its place (when the admin's file is still what is published: a reload may have
 * replaced it), then bumps plan_move into *mv. False (logged) when no copy could be made. */
static bool mover_publish(crp_shared *s, uint64_t *mv)
{
    plan_lock(s);
    bool borrowed = atomic_load(&s->plan_borrowed) != 0;
    uint64_t g = atomic_load(&s->plan_gen), sum = atomic_load(&s->plan_checksum);
    plan_unlock(s);
    char stage[CRP_PLAN_PATH_MAX], path[CRP_PLAN_PATH_MAX], err[2 * CRP_PLAN_PATH_MAX + 400];
    int rc = CR_OK;
    if (borrowed) {
        cr_image_map m = {0};
        rc = stage_name(stage) ? plan_name(s, g, path, err, sizeof err) : CR_ERANGE;
        if (rc == CR_OK)
            rc = cr_image_stage_fd(inplace.lease.fd, inplace.admin, stage, &m, err, sizeof err);
        if (rc == CR_OK && (m.info.checksum != sum || m.info.generation != g)) {
            snprintf(err, sizeof err, "%s: changed since it was verified (checksum %016llx)",
                     inplace.admin, (unsigned long long)m.info.checksum);
            unlink(stage);
            rc = CR_ECONFIG;
        }
        cr_image_unmap(&m);
        if (rc != CR_OK) {
            static atomic_bool said; /* tried again every second: said once */
            if (!atomic_exchange(&said, true))
                crp_log(CR_LOG_ERROR, "callroute: the image read in place is not copied yet: %s",
                        err);
            return false;
        }
    }
    plan_lock(s);
    if (borrowed && atomic_load(&s->plan_borrowed) && atomic_load(&s->plan_gen) == g) {
        if (rename(stage, path) == 0)
            plan_record(s, path, g, sum); /* leaves the admin's file alone */
        else
            rc = CR_EIO;
    } else if (borrowed) {
        unlink(stage); /* a reload published another image meanwhile */
    }
    *mv = atomic_fetch_add(&s->plan_move, 1) + 1;
    shared_wake(s);
    plan_unlock(s);
    if (rc != CR_OK) {
        crp_log(CR_LOG_ERROR, "callroute: %s: cannot rename into place: %s", path, strerror(errno));
        unlink(stage);
        return false;
    }
    return true;
}

/* Waits (bounded) until this process and every following one no longer map the admin's file. */
static void mover_wait_moved(crp_shared *s, uint64_t mv)
{
    int32_t me = my_pid();
    struct timespec ts = {0, 5 * 1000000L};
    for (int waited = 0; waited < CRP_FOLLOW_WAIT_MS && !atomic_load(&inplace.stop); waited += 5) {
        /* a reload published before the copy: the publisher lets the admin's file go by
         * following it (it may have no watcher of its own) */
        if (!inplace_move(s) &&
            atomic_load(&inplace.mover_h->generation) != atomic_load(&s->generation))
            follow_now(inplace.mover_h);
        bool behind = !inplace_move(s);
        for (size_t i = 0; i < CRP_PROC_SLOTS && !behind; i++) {
            crp_proc_slot *sl = &s->procs[i];
            int32_t pid = atomic_load(&sl->pid);
            behind = pid && pid != me && atomic_load(&sl->moved) < mv && pid_alive(pid);
        }
        if (!behind)
            return;
        nanosleep(&ts, NULL);
    }
    if (!atomic_load(&inplace.stop))
        crp_log(CR_LOG_WARNING, "callroute: processes still mapped %s after %d s; lease released",
                inplace.admin, CRP_FOLLOW_WAIT_MS / 1000);
}

/* Waits up to ms for a writer (the lease break) or a stop; true when a writer waits. */
static bool mover_sleep(int ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, CR_IMAGE_LEASE_SIGNAL);
    int64_t until = mono_ns() + (int64_t)ms * 1000000;
    while (!atomic_load(&inplace.stop) && mono_ns() < until) {
        /* the break is signalled to this thread; the lease itself is looked at too, for a
         * break that came before this thread was its owner (then signalled to nobody) */
        if (fcntl(inplace.lease.fd, F_GETLEASE) == F_UNLCK)
            return true;
        struct timespec ts = {0, 50 * 1000000L};
        if (sigtimedwait(&set, NULL, &ts) == CR_IMAGE_LEASE_SIGNAL)
            return true;
    }
    return false;
}

static void *mover_main(void *arg)
{
    (void)arg;
    crp_shared *s = inplace.mover_shared;
    /* the lease break is told to this thread, which waits for it (all signals blocked) */
    struct f_owner_ex own = {F_OWNER_TID, (pid_t)syscall(SYS_gettid)};
    fcntl(inplace.lease.fd, F_SETOWN_EX, &own);
    uint64_t mv = 0;
    bool writer = mover_sleep(CRP_MOVE_DELAY_MS), published = false;
    while (!atomic_load(&inplace.stop) && !(published = mover_publish(s, &mv)))
        writer = mover_sleep(1000); /* the runtime directory full, say: tried again */
    if (published) {
        mover_wait_moved(s, mv);
        crp_log(CR_LOG_INFO, "callroute: %s copied into the runtime directory%s; lease released",
                inplace.admin, writer ? " (a writer was waiting)" : "");
    }
    pthread_mutex_lock(&inplace.lock);
    if (inplace.leased)
        cr_image_lease_release(&inplace.lease);
    inplace.leased = false;
    pthread_mutex_unlock(&inplace.lock);
    return NULL;
}

static int mover_thread_locked(void);
static void mover_inline(void);

/* Takes the lease of st (the publisher's first open) and starts the mover (while this process
 * holds its threads: hold_threads(0) does). */
static void mover_start(cr_handle *h, staged *st)
{
    fork_handlers();
    pthread_mutex_lock(&inplace.lock);
    if (inplace.leased || inplace.mover_pid == my_pid()) { /* one per process */
        pthread_mutex_unlock(&inplace.lock);
        return; /* st keeps its lease: released by staged_drop */
    }
    inplace.lease = st->lease;
    inplace.leased = true;
    st->leased = false;
    memcpy(inplace.admin, st->admin, sizeof inplace.admin);
    inplace.mover_shared = h->shared;
    inplace.mover_h = h;
    atomic_store(&inplace.stop, false);
    hold.mover = atomic_load(&hold.pid) == my_pid(); /* started by hold_threads(0) */
    int rc = hold.mover ? 0 : mover_thread_locked();
    pthread_mutex_unlock(&inplace.lock);
    if (rc != 0)
        mover_inline();
}

/* Under inplace.lock, the lease taken: the mover's thread. */
static int mover_thread_locked(void)
{
    int rc = cr_thread_start(&inplace.mover, mover_main, NULL);
    if (rc == 0)
        inplace.mover_pid = my_pid();
    return rc;
}

/* No thread: the image is copied now, on the start-up path. */
static void mover_inline(void)
{
    crp_log(CR_LOG_WARNING, "callroute: no mover thread: the image is copied at start");
    uint64_t mv;
    atomic_store(&inplace.stop, false);
    if (mover_publish(inplace.mover_shared, &mv))
        inplace_move(inplace.mover_shared);
    pthread_mutex_lock(&inplace.lock);
    cr_image_lease_release(&inplace.lease);
    inplace.leased = false;
    pthread_mutex_unlock(&inplace.lock);
}

static void mover_stop(void)
{
    fork_handlers();
    pthread_mutex_lock(&inplace.lock);
    bool mine = inplace.mover_pid && inplace.mover_pid == my_pid();
    if (hold.mover && atomic_load(&hold.pid) == my_pid()) { /* never started: the lease goes */
        hold.mover = false;
        if (inplace.leased)
            cr_image_lease_release(&inplace.lease);
        inplace.leased = false;
    }
    pthread_mutex_unlock(&inplace.lock);
    if (!mine)
        return;
    atomic_store(&inplace.stop, true);
    pthread_join(inplace.mover, NULL);
    inplace.mover_pid = 0;
}

/* ---- holding the threads (ABI 1.12) -------------------------------------------------------- */

/* True when h's watcher waits for hold_threads(0) (recorded now, once). */
static bool hold_watcher(cr_handle *h)
{
    if (atomic_load(&hold.pid) != my_pid())
        return false;
    fork_handlers();
    pthread_mutex_lock(&inplace.lock);
    bool kept = atomic_load(&hold.pid) == my_pid(), known = false;
    for (size_t i = 0; kept && i < hold.nwatch; i++)
        known = known || hold.watch[i] == h;
    kept = kept && (known || hold.nwatch < CRP_HELD_MAX); /* else started now */
    if (kept && !known)
        hold.watch[hold.nwatch++] = h;
    pthread_mutex_unlock(&inplace.lock);
    return kept;
}

/* h is closed: its watcher no longer waits. */
static void hold_forget(cr_handle *h)
{
    if (atomic_load(&hold.pid) != my_pid())
        return;
    fork_handlers();
    pthread_mutex_lock(&inplace.lock);
    for (size_t i = 0; i < hold.nwatch; i++)
        if (hold.watch[i] == h)
            hold.watch[i--] = hold.watch[--hold.nwatch];
    pthread_mutex_unlock(&inplace.lock);
}

void crp_handle_hold_threads(int on)
{
    int32_t me = my_pid();
    fork_handlers();
    pthread_mutex_lock(&inplace.lock);
    if (on) {
        atomic_store(&hold.pid, me);
        pthread_mutex_unlock(&inplace.lock);
        return;
    }
    if (atomic_load(&hold.pid) != me) {
        pthread_mutex_unlock(&inplace.lock);
        return;
    }
    atomic_store(&hold.pid, 0);
    cr_handle *watch[CRP_HELD_MAX];
    size_t n = hold.nwatch;
    memcpy(watch, hold.watch, n * sizeof watch[0]);
    hold.nwatch = 0;
    bool mover = hold.mover && inplace.leased;
    hold.mover = false;
    int rc = mover ? mover_thread_locked() : 0;
    pthread_mutex_unlock(&inplace.lock);
    if (rc != 0)
        mover_inline();
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&watch[i]->watcher_pid) != me)
            watcher_start(watch[i]);
}

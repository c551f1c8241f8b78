/*
 * The user directory over LMDB: environments per process, user records, line keys, read
 * snapshots for the engine, and the check against a configuration's inline users.
 * Import and export are in directory_import.c.
 */
#include "cr_grow.h"
#include "directory_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define DIR_MAPSIZE_DEFAULT (16ULL << 30) /* address space only: the file grows as used */
#define DIR_MAXREADERS      1022

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static cr_directory *open_list;

/*
 * One reset read transaction kept per thread, renewed by the next reader of the same
 * directory: a snapshot then costs a renew instead of a begin (no allocation, no reader-slot
 * search). A transaction cached for a directory since closed is dropped, never touched.
 */
static __thread struct {
    uint64_t dir_id;
    long pid; /* a slot inherited through fork() is the parent's: forgotten, never used */
    MDB_txn *txn;
    size_t snap;      /* the snapshot the transaction last read: mdb_txn_id */
    dir_index *index; /* that snapshot's lookup index (the map stays put; owned), or NULL */
} cached;

/*
 * This process's id without a system call per snapshot (getpid() is one in glibc, and costs
 * microseconds in a virtual machine): read once, then refreshed in a child by an atfork
 * handler, which also forgets the forking thread's cached transaction (the parent's).
 */
static long self_pid;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_after_fork(void)
{
    self_pid = (long)getpid();
    cached.txn = NULL; /* the parent's reader slot: never used here */
    dir_index_free(cached.index);
    cached.index = NULL;
    dir_hot_reset(); /* the parent's directories' ids may be reused here */
}

static void self_init(void)
{
    self_pid = (long)getpid();
    pthread_atfork(NULL, NULL, self_after_fork);
}

long dir_self_pid(void)
{
    pthread_once(&self_once, self_init);
    return self_pid;
}

static bool cached_here(void)
{
    if (cached.txn && cached.pid != dir_self_pid())
        cached.txn = NULL;
    return cached.txn != NULL;
}

void dir_err(char *err, size_t errlen, const char *what, int rc)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
}

/*
 * LMDB reports a short write as EIO: on a full file system that is "no space left", which is
 * what the operator needs to read. A file system with less than 64 KB left (what this user may
 * use) counts as full.
 */
const char *dir_write_error(const cr_directory *d, int rc, char *buf, size_t len)
{
    struct statvfs vfs;
    if ((rc == EIO || rc == ENOSPC) && statvfs(d->path, &vfs) == 0) {
        uint64_t blocks = geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail;
        uint64_t left = blocks * (uint64_t)vfs.f_frsize;
        if (rc == ENOSPC || left < (64u << 10)) {
            snprintf(buf, len, "%s (%llu bytes left on the file system)", strerror(ENOSPC),
                     (unsigned long long)left);
            return buf;
        }
    }
    if (rc == MDB_MAP_FULL) {
        snprintf(buf, len, "%s (raise CALLROUTE_DB_MAPSIZE_MB)", mdb_strerror(rc));
        return buf;
    }
    return mdb_strerror(rc);
}

/*
 * data.mdb and lock.mdb must be regular files, never symbolic links: LMDB creates, resizes
 * and writes them, so a link planted by someone who can write into the directory would make
 * us write wherever it points. `when` says whether this is the check before or after opening.
 */
static int check_files(cr_directory *d, const char *when, char *err, size_t errlen)
{
    static const char *const names[] = {"data.mdb", "lock.mdb"};
    for (int i = 0; i < 2; i++) {
        char p[PATH_MAX + 16];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", d->path, names[i]);
        if (lstat(p, &st) != 0)
            continue;
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "%s: %s is not a regular file%s%s: refused", d->path, names[i],
                     S_ISLNK(st.st_mode) ? " (a symbolic link)" : "", when);
            return CR_EIO;
        }
    }
    return CR_OK;
}

/* The directory itself: made when `create`, else it must exist. */
static int check_dir(cr_directory *d, bool create, char *err, size_t errlen)
{
    struct stat st;
    if (stat(d->path, &st) != 0) {
        if (!create) {
            snprintf(err, errlen, "%s: no such directory", d->path);
            return CR_ENOENT;
        }
        if (mkdir(d->path, 0775) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", d->path, strerror(errno));
            return CR_EIO;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", d->path);
        return CR_EIO;
    }
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/data.mdb", d->path);
    if (!create && lstat(p, &st) != 0 && errno == ENOENT) {
        /* refused before LMDB would create data.mdb and lock.mdb in it for a reader */
        snprintf(err, errlen, "%s: not a user directory (run 'callroute users import')", d->path);
        return CR_ENOENT;
    }
    return check_files(d, "", err, errlen);
}

/* One attempt at opening the environment with `flags`; an LMDB error code. */
static int env_try(cr_directory *d, unsigned flags)
{
    uint64_t mapsize = DIR_MAPSIZE_DEFAULT;
    const char *env = getenv("CALLROUTE_DB_MAPSIZE_MB");
    if (env && atol(env) > 0)
        mapsize = (uint64_t)atol(env) << 20;
    int rc = mdb_env_create(&d->env);
    if (rc != 0) {
        d->env = NULL;
        return rc;
    }
    rc = mdb_env_set_mapsize(d->env, (size_t)mapsize);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(d->env, 4);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(d->env, DIR_MAXREADERS);
    if (rc == 0)
        rc = mdb_env_open(d->env, d->path, flags, 0664);
    if (rc != 0) { /* a failed open leaves an environment that may only be closed */
        mdb_env_close(d->env);
        d->env = NULL;
    }
    return rc;
}

/* Whether the operator declared the directory immutable (nothing writes it while read). */
static bool immutable(void)
{
    const char *v = getenv("CALLROUTE_DB_IMMUTABLE");
    return v && *v && strcmp(v, "0") != 0;
}

/*
 * Opens the environment. A reader that may not write the directory (a read-only mount, files
 * of another user) opens it read-only: on a read-only file system LMDB then does without the
 * lock file; elsewhere a reader needs lock.mdb writable unless the operator declares the
 * directory immutable (CALLROUTE_DB_IMMUTABLE=1: no lock file at all).
 */
static int env_open_flags(cr_directory *d, bool create, char *err, size_t errlen)
{
    const char *why = NULL;
    if (cr_lmdb_load(&why) != 0) {
        snprintf(err, errlen, "%s: %s", d->path, why);
        return CR_EIO;
    }
    bool ro = !create && immutable();
    int rc = env_try(d, MDB_NOTLS | (ro ? MDB_RDONLY | MDB_NOLOCK : 0));
    if (rc == EACCES || rc == EROFS) {
        if (!create)
            rc = env_try(d, MDB_NOTLS | MDB_RDONLY);
        if (rc == EACCES && !create) {
            snprintf(err, errlen,
                     "%s: %s (a reader needs to write lock.mdb; if nothing writes this "
                     "directory while it is read, set CALLROUTE_DB_IMMUTABLE=1)",
                     d->path, mdb_strerror(rc));
            return CR_EIO;
        }
    }
    if (rc != 0) {
        dir_err(err, errlen, d->path, rc);
        return CR_EIO;
    }
    /* the file LMDB opened must be the one checked: no link swapped in meanwhile */
    int fd;
    struct stat by_fd, by_path;
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/data.mdb", d->path);
    if (check_files(d, " (changed while opening)", err, errlen) != CR_OK)
        return CR_EIO;
    if (mdb_env_get_fd(d->env, &fd) == 0 &&
        (fstat(fd, &by_fd) != 0 || lstat(p, &by_path) != 0 || by_fd.st_dev != by_path.st_dev ||
         by_fd.st_ino != by_path.st_ino)) {
        snprintf(err, errlen, "%s: data.mdb changed while it was opened: refused", d->path);
        return CR_EIO;
    }
    return CR_OK;
}

/*
 * Asks for the map in huge pages. A directory read after its page cache was dropped (a
 * restart after a reboot) is faulted in at random, by lookups: without the advice the kernel
 * then caches data.mdb in 4 KB folios and maps it with 4 KB pages, and a lookup's bucket read
 * pays a TLB miss more (measured: 16 prefetched lines of a random 1 KB block, p50 387 ns on 4
 * KB pages, 292 ns on 2 MB ones). An import's writes and a sequential read get large folios
 * without it; the advice makes the cold case what they are. A kernel that refuses it (no
 * THP, "never") maps as before: nothing depends on it. Once per environment, which all readers
 * of the directory in this process share; LMDB does not move the map of an open environment.
 *
 * mdb_env_info's me_mapaddr is the fixed address of an MDB_FIXEDMAP environment only (NULL
 * here), so the map is found in /proc/self/maps as the mapping of data.mdb's file (its device
 * and inode, through LMDB's descriptor) that is me_mapsize long. Nothing found (no /proc): no
 * advice.
 */
static void advise_huge(cr_directory *d)
{
#ifdef MADV_HUGEPAGE
    MDB_envinfo info;
    int fd;
    struct stat st;
    if (mdb_env_info(d->env, &info) != 0 || mdb_env_get_fd(d->env, &fd) != 0 || fstat(fd, &st) != 0)
        return;
    FILE *f = fopen("/proc/self/maps", "re");
    char line[PATH_MAX + 128];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, major, minor, ino;
        if (sscanf(line, "%lx-%lx %*s %*s %lx:%lx %lu", &lo, &hi, &major, &minor, &ino) == 5 &&
            ino == (unsigned long)st.st_ino && major == (unsigned long)major(st.st_dev) &&
            minor == (unsigned long)minor(st.st_dev) && hi - lo == info.me_mapsize)
            (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
    if (f)
        fclose(f);
#else
    (void)d;
#endif
}

static int env_open(cr_directory *d, bool create, char *err, size_t errlen)
{
    int rc = check_dir(d, create, err, errlen);
    if (rc == CR_OK)
        rc = env_open_flags(d, create, err, errlen);
    if (rc != CR_OK)
        return rc;
    advise_huge(d);
    unsigned envflags = 0;
    mdb_env_get_flags(d->env, &envflags);
    MDB_txn *txn = NULL;
    rc = (envflags & MDB_RDONLY) ? EACCES : mdb_txn_begin(d->env, NULL, 0, &txn);
    if (rc == EACCES) { /* read-only files: open the tables that exist */
        rc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
        create = false;
    }
    if (rc != 0) { /* no transaction to abort */
        dir_err(err, errlen, d->path, rc);
        return CR_EIO;
    }
    unsigned flags = create ? MDB_CREATE : 0;
    rc = mdb_dbi_open(txn, "users", flags, &d->users);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "lines", flags, &d->lines);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", flags, &d->meta);
    MDB_val k = {6, "format"}, v;
    int found = rc == 0 ? mdb_get(txn, d->meta, &k, &v) : rc;
    if (found == 0 && (v.mv_size != 1 || (memcmp(v.mv_data, CR_DIR_FORMAT, 1) != 0 &&
                                          memcmp(v.mv_data, CR_DIR_FORMAT_2, 1) != 0 &&
                                          memcmp(v.mv_data, CR_DIR_FORMAT_OLD, 1) != 0))) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "%s: directory format %.*s is not supported", d->path,
                 (int)(v.mv_size > 16 ? 16 : v.mv_size), (const char *)v.mv_data);
        return CR_EIO;
    }
    if (rc == 0 && create && found == MDB_NOTFOUND) {
        /* empty: an import writes format 2; until then older builds may read it too */
        v.mv_size = 1;
        v.mv_data = CR_DIR_FORMAT_OLD;
        rc = mdb_put(txn, d->meta, &k, &v, 0);
    }
    /* A damaged index: refused at open, never read as empty; but opened to be written (an
     * import: the damage's message asks for one with --replace, which rewrites the index; a
     * merging import refuses it then with the same message), it is left to the import. */
    dir_index *ix = NULL;
    if (rc == 0 && !create && dir_index_open(txn, d, &ix, err, errlen) != CR_OK) {
        mdb_txn_abort(txn);
        return CR_EIO;
    }
    dir_index_free(ix);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) {
        snprintf(err, errlen, "%s: not a user directory (run 'callroute users import')", d->path);
        return CR_ENOENT;
    }
    if (rc != 0) {
        dir_err(err, errlen, d->path, rc);
        return CR_EIO;
    }
    return CR_OK;
}

static void dir_free(cr_directory *d)
{
    if (d->env)
        mdb_env_close(d->env);
    free(d->path);
    free(d->real);
    free(d);
}

int cr_directory_open(const char *dir, bool create, cr_directory **out, char *err, size_t errlen)
{
    char scratch[8];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = 0;
    if (!out || !dir || !*dir)
        return CR_EINVAL;
    *out = NULL;
    long pid = (long)getpid();
    pthread_mutex_lock(&open_lock);
    /* the same path string first (no system call), then the same file */
    char real[PATH_MAX];
    bool have_real = false;
    for (int pass = 0; pass < 2 && !*out; pass++) {
        if (pass == 1)
            have_real = realpath(dir, real) != NULL;
        for (cr_directory *d = open_list; d && !*out; d = d->next)
            if (d->pid == pid &&
                (pass == 0 ? strcmp(d->path, dir) == 0 : have_real && strcmp(d->real, real) == 0))
                *out = d;
    }
    if (*out) {
        (*out)->refs++;
        pthread_mutex_unlock(&open_lock);
        return CR_OK;
    }
    cr_directory *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(dir))) {
        free(d);
        pthread_mutex_unlock(&open_lock);
        return CR_ENOMEM;
    }
    d->pid = pid;
    d->refs = 1;
    static uint64_t next_id;
    d->id = ++next_id; /* under open_lock */
    int rc = env_open(d, create, err, errlen);
    if (rc == CR_OK && !have_real && realpath(dir, real))
        have_real = true;
    d->real = strdup(have_real ? real : dir);
    if (rc != CR_OK || !d->real) {
        dir_free(d);
        pthread_mutex_unlock(&open_lock);
        return rc != CR_OK ? rc : CR_ENOMEM;
    }
    d->next = open_list;
    open_list = d;
    pthread_mutex_unlock(&open_lock);
    *out = d;
    return CR_OK;
}

void cr_directory_close(cr_directory *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&open_lock);
    if (d->refs == 1 && cached_here() && cached.dir_id == d->id) {
        mdb_txn_abort(cached.txn);
        cached.txn = NULL;
        dir_index_free(cached.index);
        cached.index = NULL;
    }
    if (--d->refs == 0) {
        for (cr_directory **p = &open_list; *p; p = &(*p)->next)
            if (*p == d) {
                *p = d->next;
                break;
            }
        /* an environment inherited through fork() is the parent's: left alone */
        if (d->pid == (long)getpid())
            dir_free(d);
    }
    pthread_mutex_unlock(&open_lock);
}

const char *cr_directory_path(const cr_directory *d)
{
    return d ? d->path : NULL;
}

int dir_counts(cr_directory *d, MDB_txn *txn, size_t *users, size_t *lines, char *err,
               size_t errlen)
{
    MDB_stat s;
    dir_index *ix;
    if (dir_index_open(txn, d, &ix, err, errlen) != CR_OK)
        return CR_EIO;
    bool counted = dir_index_counts(ix, users, lines);
    dir_index_free(ix);
    if (counted)
        return CR_OK;
    if (mdb_stat(txn, d->users, &s) != 0) /* format 1: the trees */
        return CR_EIO;
    *users = s.ms_entries;
    if (mdb_stat(txn, d->lines, &s) != 0)
        return CR_EIO;
    *lines = s.ms_entries;
    return CR_OK;
}

int cr_directory_stat(cr_directory *d, cr_directory_stats *st)
{
    memset(st, 0, sizeof *st);
    MDB_txn *txn;
    if (mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn) != 0)
        return CR_EIO;
    dir_counts(d, txn, &st->users, &st->lines, NULL, 0);
    MDB_envinfo info;
    MDB_stat es;
    if (mdb_env_info(d->env, &info) == 0 && mdb_env_stat(d->env, &es) == 0)
        st->used_bytes = (uint64_t)(info.me_last_pgno + 1) * es.ms_psize;
    mdb_txn_abort(txn);
    char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/data.mdb", d->path);
    struct stat fs;
    if (stat(file, &fs) == 0)
        st->file_bytes = (uint64_t)fs.st_size;
    return CR_OK;
}

/* ---- records ------------------------------------------------------------------------------ */

#define REC_MAGIC   'U'
#define REC_VERSION 1
#define REC_HEADER  12
#define REC_NULL    0xFFFFu

static bool buf_reserve(dir_buf *b, size_t n)
{
    return cr_grow_bytes(&b->p, b->len, n, &b->cap, 512);
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xFF);
    p[1] = (unsigned char)(v >> 8);
}

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static bool put_str(dir_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= REC_NULL || !buf_reserve(b, n + 3))
        return false;
    put16(b->p + b->len, s ? (unsigned)n : REC_NULL);
    b->len += 2;
    if (s) {
        memcpy(b->p + b->len, s, n + 1);
        b->len += n + 1;
    }
    return true;
}

int dir_encode(const cr_user *u, dir_buf *b)
{
    b->len = 0;
    if (!buf_reserve(b, REC_HEADER))
        return CR_ENOMEM;
    unsigned char *h = b->p;
    h[0] = REC_MAGIC;
    h[1] = REC_VERSION;
    /* flags: bit 0 Enterprise Voice, bit 1 PBX integration (older records have it clear) */
    h[2] = (unsigned char)((u->enterprise_voice ? 1 : 0) | (u->pbx_integration ? 2 : 0));
    h[3] = 0;
    put16(h + 4, (unsigned)u->forwarding.no_answer_after);
    put16(h + 6, (unsigned)u->team_call_delay);
    put16(h + 8, (unsigned)u->team_call.count);
    put16(h + 10, (unsigned)u->delegates.count);
    b->len = REC_HEADER;
    char **s[DIR_USER_STRINGS];
    dir_user_strings((cr_user *)u, s);
    for (size_t i = 0; i < DIR_USER_STRINGS; i++)
        if (!put_str(b, *s[i]))
            return CR_ENOMEM;
    for (size_t i = 0; i < u->team_call.count; i++)
        if (!put_str(b, u->team_call.names[i]))
            return CR_ENOMEM;
    for (size_t i = 0; i < u->delegates.count; i++)
        if (!put_str(b, u->delegates.names[i]))
            return CR_ENOMEM;
    return CR_OK;
}

/* The string at p (before end): its start in *out (NULL for an absent one) and the place after
 * it, or NULL when the record ends early or the string lacks its NUL. An absent string is its
 * length REC_NULL alone (bytes 0xFF 0xFF), a present one its length, bytes and NUL. The absent
 * one needs no test beyond its two bytes (the branch was there before, on `step`: no new
 * misprediction). Inlined: a lookup decodes ten or more of them. */
static inline __attribute__((always_inline)) const unsigned char *
next_str(const unsigned char *p, const unsigned char *end, char **out)
{
    if (end - p < 2)
        return NULL;
    unsigned n = get16(p);
    if (n == REC_NULL) {
        *out = NULL;
        return p + 2;
    }
    size_t step = (size_t)n + 3;
    if ((size_t)(end - p) < step || p[step - 1] != 0)
        return NULL;
    /* the map is read-only; the engine never writes users */
    *out = (char *)(p + 2);
    return p + step;
}

bool dir_record_str(const void *rec, size_t len, int idx, const char **s, size_t *n)
{
    const unsigned char *r = rec, *p = r + REC_HEADER, *end = r + len;
    if (len < REC_HEADER || r[0] != REC_MAGIC || r[1] != REC_VERSION)
        return false;
    for (int i = 0;; i++) {
        char *str;
        if (!(p = next_str(p, end, &str)))
            return false;
        if (i == idx) {
            *s = str;
            *n = str ? strlen(str) : 0;
            return true;
        }
    }
}

/* Every field of u is written once (no memset of the whole user first, which compiles to a
 * slow `rep stos`); a damaged record leaves u unspecified. */
_Static_assert(sizeof(void *) != 8 || sizeof(cr_user) == 184,
               "cr_user changed: dir_decode must write its new fields");
_Static_assert(DIR_USER_STRINGS == 10, "dir_decode names the ten strings of a record");
bool dir_decode(const void *rec, size_t len, cr_user *u, char **names, size_t n, char ***heap)
{
    const unsigned char *r = rec, *p = r + REC_HEADER, *end = r + len;
    *heap = NULL;
    if (len < REC_HEADER || r[0] != REC_MAGIC || r[1] != REC_VERSION)
        return false;
    /* the strings straight into their fields (a damaged record leaves u unspecified): no copy
     * through the stack (20 instructions of a lookup's 676) */
    char **f[DIR_USER_STRINGS];
    dir_user_strings(u, f);
#pragma GCC unroll 10
    for (size_t i = 0; i < DIR_USER_STRINGS; i++)
        if (!(p = next_str(p, end, f[i])))
            return false;
    if (!u->uri)
        return false; /* no URI */
    size_t nteam = get16(r + 8), ndel = get16(r + 10);
    char **arr = names;
    if (nteam + ndel > n) {
        arr = *heap = malloc((nteam + ndel) * sizeof *arr);
        if (!arr)
            return false;
    }
    for (size_t i = 0; i < nteam + ndel; i++)
        if (!(p = next_str(p, end, &arr[i])) || !arr[i]) {
            free(*heap); /* a damaged record leaves nothing to free */
            *heap = NULL;
            return false;
        }
    /* every other field, one store each (what a record does not hold is zero) */
    u->policy_idx = u->profile_idx = -1;
    u->enterprise_voice = r[2] & 1;
    u->pbx_integration = (r[2] & 2) != 0;
    u->forwarding.no_answer_after = (int)get16(r + 4);
    u->team_call_delay = (int)get16(r + 6);
    u->team_call = (cr_namelist){arr, NULL, (uint32_t)nteam, (uint32_t)nteam};
    u->delegates = (cr_namelist){arr + nteam, NULL, (uint32_t)ndel, (uint32_t)ndel};
    u->loc = (cr_srcloc){NULL, 0};
    return true;
}

/* ---- line keys ---------------------------------------------------------------------------- */

int dir_line_key(const cr_user *u, char *out, size_t len)
{
    int n = u->line_ext ? snprintf(out, len, "%s;ext=%s", u->line_number, u->line_ext)
                        : snprintf(out, len, "%s", u->line_number);
    return n > 0 && (size_t)n < len ? n : 0;
}

size_t dir_record_line(const void *rec, size_t rlen, bool bare, char *out, size_t len)
{
    const char *num, *ext;
    size_t nn, en;
    if (!dir_record_str(rec, rlen, DIR_STR_LINE_NUMBER, &num, &nn) || !num ||
        !dir_record_str(rec, rlen, DIR_STR_LINE_EXT, &ext, &en) || (bare && !ext))
        return 0;
    int n =
        bare || !ext ? snprintf(out, len, "%s", num) : snprintf(out, len, "%s;ext=%s", num, ext);
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* ---- reading ------------------------------------------------------------------------------ */

struct cr_dir_more {
    struct cr_dir_more *next;
    cr_dir_slot slots[16];
    size_t used;
};

static const cr_user *src_find(void *ud, const char *uri)
{
    return cr_dir_reader_find(ud, uri);
}

static const cr_user *src_by_number(void *ud, const char *number, const char *ext)
{
    return cr_dir_reader_by_number(ud, number, ext);
}

int cr_dir_reader_begin(cr_directory *d, const cr_config *cfg, cr_dir_reader *r)
{
    r->dir = d;
    r->cfg = cfg;
    r->used = 0;
    r->more = NULL;
    r->txn = NULL;
    r->source = (cr_user_source){r, src_find, src_by_number};
    r->index = NULL;
    r->snap = 0;
    r->uncached = false;
    MDB_txn *txn = NULL;
    if (!d)
        return CR_EIO;
    bool taken = false;
    if (cached_here() && cached.dir_id == d->id && d->pid == dir_self_pid()) {
        taken = true;
        txn = cached.txn;
        cached.txn = NULL;
        if (mdb_txn_renew(txn) != 0) {
            mdb_txn_abort(txn);
            txn = NULL;
        }
    }
    if (txn && mdb_txn_id(txn) == cached.snap && cached.index) {
        r->txn = txn; /* the same snapshot as last time: the same index, found again for free */
        r->snap = cached.snap;
        r->index = cached.index;
        cached.index = NULL;
        return CR_OK;
    }
    if (taken) { /* another snapshot's index */
        dir_index_free(cached.index);
        cached.index = NULL;
    }
    if (!txn && mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn) != 0)
        return CR_EIO;
    r->txn = txn;
    r->snap = mdb_txn_id(txn);
    if (dir_index_open(txn, d, &r->index, NULL, 0) != CR_OK) {
        mdb_txn_abort(txn); /* damaged since the directory was opened */
        r->txn = NULL;
        return CR_EIO;
    }
    return CR_OK;
}

static cr_dir_slot *next_slot(cr_dir_reader *r)
{
    if (r->used < CR_DIR_SLOTS)
        return &r->slots[r->used++];
    struct cr_dir_more *m = r->more;
    if (!m || m->used == sizeof m->slots / sizeof m->slots[0]) {
        m = calloc(1, sizeof *m);
        if (!m)
            return NULL;
        m->next = r->more;
        r->more = m;
    }
    return &m->slots[m->used++];
}

static long resolve_profile(const cr_config *cfg, const char *name)
{
    const cr_profile *p = name ? cr_config_profile_find(cfg, name) : NULL;
    return p ? (long)(p - cr_config_profile_at(cfg, 0)) : -1;
}

static long resolve_policy(const cr_config *cfg, const char *name)
{
    for (size_t i = 0; name && i < cr_config_policy_count(cfg); i++)
        if (strcmp(cr_config_policy_at(cfg, i)->name, name) == 0)
            return (long)i;
    return -1;
}

/* A user decoded into slot s: where it comes from, its policy and profile resolved. Inlined,
 * as load_record is: a call each was 30 of a reverse lookup's instructions. */
static inline __attribute__((always_inline)) const cr_user *finish_user(cr_dir_reader *r,
                                                                        cr_dir_slot *s)
{
    s->user.loc.file = r->dir->path;
    if (r->cfg) {
        s->user.policy_idx = resolve_policy(r->cfg, s->user.policy);
        s->user.profile_idx = resolve_profile(r->cfg, s->user.profile);
    }
    return &s->user;
}

static inline __attribute__((always_inline)) const cr_user *load_record(cr_dir_reader *r,
                                                                        const MDB_val *v)
{
    cr_dir_slot *s = next_slot(r);
    if (!s || !dir_decode(v->mv_data, v->mv_size, &s->user, s->names, CR_DIR_SLOT_NAMES, &s->heap))
        return NULL;
    return finish_user(r, s);
}

static const cr_user *load_user(cr_dir_reader *r, const MDB_val *key)
{
    MDB_val v;
    if (r->index) {
        v.mv_data = (void *)dir_index_uri(r->index, key->mv_data, key->mv_size, &v.mv_size);
        return v.mv_data ? load_record(r, &v) : NULL;
    }
    if (!r->txn || mdb_get(r->txn, r->dir->users, (MDB_val *)key, &v) != 0)
        return NULL;
    return load_record(r, &v);
}

const cr_user *cr_dir_reader_find(cr_dir_reader *r, const char *uri)
{
    char key[CR_URI_MAX];
    size_t n = uri ? cr_uri_key(uri, key, sizeof key) : 0;
    if (!n)
        return NULL;
    MDB_val k = {n, key};
    return load_user(r, &k);
}

/* A line through the index: exact first, then the bare number; a number looked up before in
 * this snapshot from the thread's cache (directory_hot.c), its record expanded and copied
 * into a slot of the reader. */
static const cr_user *indexed_number(cr_dir_reader *r, const char *number, const char *ext)
{
    size_t nlen = strlen(number), elen = ext ? strlen(ext) : 0;
    dir_hot_key k;
    bool hot = !r->uncached && dir_hot_key_of(number, nlen, ext, elen, &k);
    const void *e = hot ? dir_hot_find(r, &k) : NULL;
    if (e) { /* a slot whose decoding fails (never expected: checked when kept) stays unused */
        cr_dir_slot *s = next_slot(r);
        if (!s)
            return NULL;
        if (dir_hot_decode(e, number, nlen, ext, elen, s))
            return finish_user(r, s);
    }
    MDB_val v = {0, NULL};
    const uint64_t *packed = hot ? &k.num : NULL; /* packed once, for the cache and the index */
    if (elen)
        v.mv_data = (void *)dir_index_line(r->index, number, nlen, packed, ext, elen, &v.mv_size);
    if (!v.mv_data)
        v.mv_data = (void *)dir_index_line(r->index, number, nlen, packed, NULL, 0, &v.mv_size);
    if (!v.mv_data)
        return NULL;
    if (hot)
        dir_hot_keep(r, &k, number, nlen, ext, elen, v.mv_data, v.mv_size);
    return load_record(r, &v);
}

const cr_user *cr_dir_reader_by_number(cr_dir_reader *r, const char *number, const char *ext)
{
    if (!r->txn || !number || !*number)
        return NULL;
    if (r->index)
        return indexed_number(r, number, ext);
    char key[CR_NUMBER_MAX + 48];
    MDB_val k, v;
    int rc = MDB_NOTFOUND;
    if (ext && *ext) {
        int n = snprintf(key, sizeof key, "%s;ext=%s", number, ext);
        if (n > 0 && (size_t)n < sizeof key) {
            k = (MDB_val){(size_t)n, key};
            rc = mdb_get(r->txn, r->dir->lines, &k, &v);
        }
    }
    if (rc != 0) {
        k = (MDB_val){strlen(number), (void *)number};
        rc = mdb_get(r->txn, r->dir->lines, &k, &v);
    }
    if (rc != 0 || v.mv_size < 2)
        return NULL;
    MDB_val uk = {v.mv_size - 1, (char *)v.mv_data + 1};
    return load_user(r, &uk);
}

void cr_dir_reader_forget(cr_dir_reader *r)
{
    for (size_t i = 0; i < r->used; i++)
        free(r->slots[i].heap);
    r->used = 0;
    while (r->more) {
        struct cr_dir_more *m = r->more;
        for (size_t i = 0; i < m->used; i++)
            free(m->slots[i].heap);
        r->more = m->next;
        free(m);
    }
}

void cr_dir_reader_end(cr_dir_reader *r)
{
    cr_dir_reader_forget(r);
    if (r->txn && !cached_here() && r->dir->pid == dir_self_pid()) {
        cached.snap = mdb_txn_id(r->txn);
        dir_index_free(cached.index);
        cached.index = r->index;
        mdb_txn_reset(r->txn);
        cached.txn = r->txn;
        cached.dir_id = r->dir->id;
        cached.pid = r->dir->pid;
    } else if (r->txn) {
        mdb_txn_abort(r->txn);
        dir_index_free(r->index);
    }
    r->index = NULL;
    r->txn = NULL;
    r->used = 0;
}

/* ---- a configuration's inline users against the directory ---------------------------------- */

/* A workflow's line or URI that is a directory user's: a call to it cannot reach both (the
 * configuration's own users are checked against workflows by rgs_check.c). A directory user
 * with only the workflow's URI, Enterprise Voice, policy and profile is its calling identity. */
static void check_workflow_lines(cr_directory *d, cr_dir_reader *r, const cr_config *cfg,
                                 cr_diag *diag)
{
    for (size_t i = 0; i < cr_config_workflow_count(cfg); i++) {
        const cr_workflow *w = cr_config_workflow_at(cfg, i);
        char obj[300];
        snprintf(obj, sizeof obj, "workflow '%.250s'", w->name);
        const cr_user *o =
            w->line_number ? cr_dir_reader_by_number(r, w->line_number, w->line_ext) : NULL;
        if (o)
            cr_diag_add(diag, CR_DIAG_ERROR, w->loc, obj,
                        "its line %s is also the line of user '%s' in the user directory %s",
                        w->line, o->uri, d->path);
        o = w->uri ? cr_dir_reader_find(r, w->uri) : NULL;
        if (o && !cr_user_identity_only(o))
            cr_diag_add(diag, CR_DIAG_ERROR, w->loc, obj,
                        "its URI %s is also user '%s' in the user directory %s, who has a line "
                        "or call management: a call to it cannot reach both",
                        w->uri, o->uri, d->path);
        cr_dir_reader_forget(r);
    }
}

int cr_directory_check_config(cr_directory *d, const cr_config *cfg, cr_diag *diag)
{
    cr_dir_reader r;
    if (cr_dir_reader_begin(d, NULL, &r) != CR_OK)
        return CR_EIO;
    size_t before = diag->errors;
    for (size_t i = 0; i < cr_config_user_count(cfg); i++) {
        const cr_user *u = cr_config_user_at(cfg, i);
        char obj[CR_URI_MAX + 16];
        snprintf(obj, sizeof obj, "user '%s'", u->uri);
        if (cr_dir_reader_find(&r, u->uri)) {
            cr_diag_add(diag, CR_DIAG_ERROR, u->loc, obj,
                        "listed here (%s:%d) and in the user directory %s: keep one", u->loc.file,
                        u->loc.line, d->path);
        } else if (u->line_number) {
            const cr_user *o = cr_dir_reader_by_number(&r, u->line_number, u->line_ext);
            char mine[CR_NUMBER_MAX + 48], theirs[CR_NUMBER_MAX + 48];
            if (o && o->line_number && dir_line_key(u, mine, sizeof mine) &&
                dir_line_key(o, theirs, sizeof theirs) && strcmp(mine, theirs) == 0)
                cr_diag_add(diag, CR_DIAG_ERROR, u->loc, obj,
                            "line '%s' (%s:%d) is also the line of '%s' in the user "
                            "directory %s",
                            u->line, u->loc.file, u->loc.line, o->uri, d->path);
        }
        cr_dir_reader_forget(&r); /* only whether they exist matters */
    }
    check_workflow_lines(d, &r, cfg, diag);
    cr_dir_reader_end(&r);
    return diag->errors > before ? CR_ECONFIG : CR_OK;
}

int cr_directory_check_named(const cr_config *cfg, cr_diag *diag)
{
    cr_srcloc loc;
    const char *path = cr_config_directory(cfg, &loc);
    if (!path)
        return CR_OK;
    cr_directory *d;
    char err[512];
    int rc = cr_directory_open(path, false, &d, err, sizeof err);
    if (rc != CR_OK) {
        cr_diag_add(diag, CR_DIAG_ERROR, loc, "directory", "cannot open the user directory: %s",
                    err[0] ? err : cr_strerror(rc));
        return CR_ECONFIG;
    }
    rc = cr_directory_check_config(d, cfg, diag);
    cr_directory_close(d);
    return rc == CR_OK ? CR_OK : CR_ECONFIG;
}

/*
 * Plan image files: the I/O around engine/plan_image.c.
 */
#define _GNU_SOURCE 1 /* F_SETLEASE, F_SETSIG, dl_iterate_phdr */
#include "cr_image.h"
#include "cr_grow.h"
#include "cr_directory.h"
#include "rgs_targets.h"
#include "cr_rgs_image.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

bool cr_image_file_is(const char *path)
{
    if (!path)
        return false;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char magic[CR_PLAN_MAGIC_LEN];
    struct stat sb;
    bool is = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
              read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              cr_image_has_magic(magic, sizeof magic);
    close(fd);
    return is;
}

/* Reads fd's n bytes into a private, anonymous mapping made read-only: a copy nobody else can
 * change under the configuration that borrows from it. MAP_FAILED on failure (errno set). From
 * CR_TABLE_HUGE bytes on, it is on huge pages where the kernel allows (cr_map_huge), as the
 * compiled plan's tables are (cr_table_alloc): a decision reads the merged tries borrowed from
 * it at random. */
static void *read_private(int fd, size_t n)
{
    void *p = n >= CR_TABLE_HUGE ? cr_map_huge(n) : NULL;
    if (!p)
        p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r == 0 ? EIO : errno;
            munmap(p, n);
            errno = e;
            return MAP_FAILED;
        }
        got += (size_t)r;
    }
    if (mprotect(p, n, PROT_READ) != 0) {
        int e = errno;
        munmap(p, n);
        errno = e;
        return MAP_FAILED;
    }
    return p;
}

/* The status of the image file open as fd in *sb: CR_OK when it is a regular file of a size a
 * plan image can have, else CR_EIO with err said. */
static int image_stat(int fd, const char *path, struct stat *sb, char *err, size_t errlen)
{
    if (fstat(fd, sb) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CR_EIO;
    }
    if (!S_ISREG(sb->st_mode) || sb->st_size <= 0 || (uint64_t)sb->st_size > CR_PLAN_MAX) {
        snprintf(err, errlen, "%s: not a regular file of a plan image's size", path);
        return CR_EIO;
    }
    return CR_OK;
}

/* Half of an image's chunks summed on a thread of its own (cr_image_checksum_mt). */
typedef struct sum_job {
    const void *p;
    size_t n, first, count;
    uint64_t *sums;
} sum_job;

static void *sum_half(void *arg)
{
    sum_job *j = arg;
    cr_image_sum_chunks(j->p, j->n, j->first, j->count, j->sums);
    return NULL;
}

uint64_t cr_image_checksum_mt(const void *p, size_t n)
{
    size_t chunks = (n + CR_IMAGE_SUM_CHUNK - 1) / CR_IMAGE_SUM_CHUNK;
    uint64_t *sums = chunks >= 4 ? malloc(chunks * sizeof *sums) : NULL;
    if (!sums)
        return cr_image_checksum(p, n);
    sum_job half = {p, n, chunks / 2, chunks - chunks / 2, sums};
    pthread_t t;
    bool two = cr_thread_start(&t, sum_half, &half) == 0;
    cr_image_sum_chunks(p, n, 0, two ? chunks / 2 : chunks, sums);
    if (two)
        pthread_join(t, NULL);
    uint64_t sum = cr_image_sum_combine(sums, chunks, n);
    free(sums);
    return sum;
}

/* cr_image_verify with the checksum computed on two cores. */
static int verify_mt(const void *p, size_t n, cr_image_info *info, char *err, size_t errlen)
{
    uint64_t sum = n > 16 ? cr_image_checksum_mt((const char *)p + 16, n - 16) : 0;
    return cr_image_verify_sum(p, n, sum, info, err, errlen);
}

static int map_file(const char *path, bool copy, unsigned flags, cr_image_map *m, char *err,
                    size_t errlen)
{
    bool trusted = (flags & CR_IMAGE_TRUSTED) != 0;
    bool populate = !(flags & CR_IMAGE_LAZY_PAGES);
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CR_EIO;
    }
    struct stat sb;
    if (image_stat(fd, path, &sb, err, errlen) != CR_OK) {
        close(fd);
        return CR_EIO;
    }
    /* shared: on 2 MB pages where the page cache has them (cr_map_file), as a plan compiled in
     * process is on anonymous ones (cr_map_huge): a decision reads the image's tries and
     * strings at random, and on this project's virtual machines a read that misses the TLB
     * waits for a page walk (tests/bench/plan_pages.c measures both) */
    void *p = copy ? read_private(fd, (size_t)sb.st_size)
                   : cr_map_file(fd, (size_t)sb.st_size, PROT_READ, populate);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot %s: %s", path, copy ? "read" : "map", strerror(errno));
        return CR_EIO;
    }
    char why[240];
    int rc = trusted ? cr_image_verify_header(p, (size_t)sb.st_size, &m->info, why, sizeof why)
                     : verify_mt(p, (size_t)sb.st_size, &m->info, why, sizeof why);
    if (rc != CR_OK) {
        snprintf(err, errlen, "%s: plan image refused: %s", path, why);
        munmap(p, (size_t)sb.st_size);
        return rc;
    }
    m->base = p;
    m->len = (size_t)sb.st_size;
    return CR_OK;
}

int cr_image_map_file(const char *path, cr_image_map *m, char *err, size_t errlen)
{
    return map_file(path, false, 0, m, err, errlen);
}

int cr_image_map_file_ex(const char *path, unsigned flags, cr_image_map *m, char *err,
                         size_t errlen)
{
    return map_file(path, false, flags, m, err, errlen);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

#define STAGE_PIECE ((size_t)8 << 20) /* copied a piece at a time */

static bool lease_sum_read(int fd, size_t n, uint64_t *sum, uint64_t **sums, size_t *chunks);

/* Copies n bytes of `in` into `out` (n bytes long, mapped shared at p: a copy sendfile cannot
 * make is read into the mapping), then computes the copy's checksum (of everything after the
 * checksum field, as cr_image_verify computes it) into *sum by reading the copy back a
 * checksum chunk at a time into a buffer (lease_sum_read), not through p: where every first
 * touch of a page of a fresh mapping is a guest exit (this project's virtual machines), hashing
 * through the mapping as the copy was made took about a third of a 400,000-route reload. Each
 * chunk's sum is kept in *sums (*chunks of them) for a restamp (NULL when not). When no buffer
 * can be had, hashed through p. -1 with errno on failure. */
static int copy_then_sum(int in, int out, char *p, size_t n, uint64_t *sum, uint64_t **sums,
                         size_t *chunks)
{
    bool by_read = false;
    for (size_t at = 0; at < n;) {
        size_t piece = n - at < STAGE_PIECE ? n - at : STAGE_PIECE;
        ssize_t got;
        if (!by_read) {
            off_t off = (off_t)at;
            got = sendfile(out, in, &off, piece);
            if (got < 0 && (errno == EINVAL || errno == ENOSYS) && at == 0) {
                by_read = true; /* not between these files: read into the mapping (sized) */
                continue;
            }
        } else {
            got = pread(in, p + at, piece, (off_t)at);
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0)
                errno = EIO;
            return -1;
        }
        at += (size_t)got;
    }
    if (!lease_sum_read(out, n, sum, sums, chunks))
        *sum = n > 16 ? cr_image_checksum(p + 16, n - 16) : 0;
    return 0;
}

int cr_image_stage(const char *path, const char *staged, cr_image_map *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    int in = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CR_EIO;
    }
    int rc = cr_image_stage_fd(in, path, staged, m, err, errlen);
    close(in);
    return rc;
}

int cr_image_stage_fd(int in, const char *path, const char *staged, cr_image_map *m, char *err,
                      size_t errlen)
{
    memset(m, 0, sizeof *m);
    struct stat sb;
    if (image_stat(in, path, &sb, err, errlen) != CR_OK)
        return CR_EIO;
    size_t n = (size_t)sb.st_size;
    int out = open(staged, O_RDWR | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, 0640);
    void *p = MAP_FAILED;
    uint64_t sum = 0;
    /* mapped before the copy (a copy sendfile cannot make is read into it). Sized first: the
     * copy's pages are then wholly inside the file, which a tmpfs mounted huge=within_size
     * asks before it gives a 2 MB page (sendfile's writes into an empty file, a piece at a
     * time, got 4 KB ones); the mapping is cr_map_file's, on 2 MB pages where there are some,
     * as every image's. */
    if (out < 0 || ftruncate(out, (off_t)n) != 0 ||
        (p = cr_map_file(out, n, PROT_READ | PROT_WRITE, false)) == MAP_FAILED ||
        copy_then_sum(in, out, p, n, &sum, &m->chunk_sums, &m->chunks) != 0) {
        snprintf(err, errlen, "%s: cannot copy to %s: %s", path, staged, strerror(errno));
        if (p != MAP_FAILED)
            munmap(p, n);
        if (out >= 0) {
            close(out);
            unlink(staged);
        }
        return CR_EIO;
    }
    close(out);
    char why[240];
    int rc = cr_image_verify_sum(p, n, sum, &m->info, why, sizeof why);
    if (rc == CR_OK && mprotect(p, n, PROT_READ) != 0) {
        snprintf(why, sizeof why, "cannot make the copy read-only: %s", strerror(errno));
        rc = CR_EIO;
    }
    if (rc != CR_OK) {
        snprintf(err, errlen, "%s: plan image refused: %s", path, why);
        munmap(p, n);
        unlink(staged);
        free(m->chunk_sums);
        m->chunk_sums = NULL;
        return rc;
    }
    m->base = p;
    m->len = n;
    return CR_OK;
}

/* ---- an admin's image in place, under a read lease ---------------------------------------- */

/* The GNU build id of the object this code is linked into (the library, or a program linking
 * the static libraries), found once through its program headers. */
static struct {
    pthread_once_t once;
    unsigned char id[64];
    size_t len;
} build = {.once = PTHREAD_ONCE_INIT};

static int build_note(struct dl_phdr_info *info, size_t size, void *ud)
{
    (void)size;
    uintptr_t me = (uintptr_t)ud;
    bool mine = false;
    for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t at = info->dlpi_addr + ph->p_vaddr;
        mine = ph->p_type == PT_LOAD && me >= at && me - at < ph->p_memsz;
    }
    if (!mine)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            size_t name = (nh->n_namesz + 3) & ~(size_t)3, desc = (nh->n_descsz + 3) & ~(size_t)3;
            const char *d = p + sizeof *nh + name;
            if (d + desc > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz <= sizeof build.id) {
                memcpy(build.id, d, nh->n_descsz);
                build.len = nh->n_descsz;
                return 1;
            }
            p = d + desc;
        }
    }
    return 1;
}

static void build_find(void)
{
    dl_iterate_phdr(build_note, (void *)(uintptr_t)&build_find);
}

bool cr_image_stamp_path(const char *dir, const char *path, char *out, size_t cap)
{
    if (!dir || !*dir)
        return false;
    int n = snprintf(out, cap, "%s/callroute-stamp-%u-%016llx", dir, (unsigned)geteuid(),
                     (unsigned long long)cr_image_hash64(path, strlen(path), 0));
    return n > 0 && (size_t)n < cap;
}

/* The stamp the leased image (identity in sb, verified header in info) would have. False when
 * this build has no id: then no stamp is trusted or written. */
static bool stamp_of(const struct stat *sb, const cr_image_info *info, cr_image_stamp *r)
{
    pthread_once(&build.once, build_find);
    if (!build.len)
        return false;
    memset(r, 0, sizeof *r); /* padding too: stamps are compared whole */
    memcpy(r->magic, "CRSTAMP1", 8);
    r->dev = (uint64_t)sb->st_dev;
    r->ino = (uint64_t)sb->st_ino;
    r->size = (uint64_t)sb->st_size;
    r->mtime_s = (int64_t)sb->st_mtim.tv_sec;
    r->mtime_ns = (int64_t)sb->st_mtim.tv_nsec;
    r->ctime_s = (int64_t)sb->st_ctim.tv_sec;
    r->ctime_ns = (int64_t)sb->st_ctim.tv_nsec;
    r->checksum = info->checksum;
    r->version = info->version;
    r->arch = info->arch;
    r->build_len = (uint32_t)build.len;
    memcpy(r->build, build.id, build.len);
    return true;
}

/* Whether the stamp for path records exactly `want`: its own regular file (a link is not
 * followed), owned by the effective user, writable by nobody else. */
static bool stamp_matches(const char *dir, const char *path, const cr_image_stamp *want)
{
    char sp[PATH_MAX];
    if (!cr_image_stamp_path(dir, path, sp, sizeof sp))
        return false;
    int fd = open(sp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat sb;
    cr_image_stamp got;
    bool ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() &&
              !(sb.st_mode & (S_IWGRP | S_IWOTH)) && sb.st_size == (off_t)sizeof got &&
              pread(fd, &got, sizeof got, 0) == (ssize_t)sizeof got &&
              memcmp(&got, want, sizeof got) == 0;
    close(fd);
    return ok;
}

int cr_image_stamp_write(const char *dir, const char *path, const cr_image_leased *l)
{
    struct stat sb;
    cr_image_stamp r;
    char sp[PATH_MAX], tmp[PATH_MAX + 16];
    if (fstat(l->fd, &sb) != 0)
        return CR_EIO;
    if (!stamp_of(&sb, &l->map.info, &r) || !cr_image_stamp_path(dir, path, sp, sizeof sp))
        return CR_ENOENT;
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", sp);
    int fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0)
        return CR_EIO;
    int rc =
        fchmod(fd, 0600) == 0 && write_all(fd, (const char *)&r, sizeof r) == 0 ? CR_OK : CR_EIO;
    if (close(fd) != 0 || (rc == CR_OK && rename(tmp, sp) != 0))
        rc = CR_EIO;
    if (rc != CR_OK)
        unlink(tmp);
    return rc;
}

/* Why a read lease could not be taken, for the log. */
static const char *lease_why(int e)
{
    switch (e) {
    case EAGAIN:
        return "the file is open for writing";
    case EACCES:
        return "not the file's owner (leases need CAP_LEASE then)";
    case EINVAL:
        return "leases not supported there";
    default:
        return strerror(e);
    }
}

/* The buffer lease_sum_read reads into: one checksum chunk (each read then hashed whole, with
 * AVX2 where the processor has it, instead of streamed), in a 2 MiB-aligned anonymous mapping
 * the kernel may back with one huge page: one page fault for the buffer instead of 256 (each a
 * guest exit on a virtual machine with shadow paging; on session 17's, 256 KiB of buffer cost
 * 64 of them at about 12 us). *len is what to unmap; NULL when no memory. */
#define SUM_PIECE CR_IMAGE_SUM_CHUNK
#define SUM_ALIGN ((size_t)2 << 20)
static unsigned char *sum_buffer(size_t *len)
{
    size_t want = 2 * SUM_ALIGN;
    unsigned char *m = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    unsigned char *b =
        (unsigned char *)(((uintptr_t)m + SUM_ALIGN - 1) & ~(uintptr_t)(SUM_ALIGN - 1));
    if (b > m)
        munmap(m, (size_t)(b - m));
    munmap(b + SUM_ALIGN, (size_t)(m + want - (b + SUM_ALIGN)));
#ifdef MADV_HUGEPAGE
    (void)madvise(b, SUM_ALIGN, MADV_HUGEPAGE); /* advice: 4 KiB pages otherwise */
#endif
    *len = SUM_ALIGN;
    return b;
}

/* The checksum of the leased file's n bytes after the checksum field, read with pread a chunk
 * at a time into a buffer (sum_buffer) rather than through a mapping: the kernel
 * copies from the page cache through its own mapping of memory, where the first pass through a
 * fresh mapping of the file costs the process a page-table fill per page. On session 16's
 * virtual machine (every page's first touch an exit of the guest) that pass took 25 ms for
 * 36 MB, read this way 8 ms; elsewhere it is a copy more, on a thread beside the host's start.
 * False when the buffer cannot be had or a read fails: the caller hashes a mapping instead (the
 * same bytes: the lease keeps writers out). */
static bool lease_sum_read(int fd, size_t n, uint64_t *sum, uint64_t **sums, size_t *chunks)
{
    if (sums)
        *sums = NULL;
    if (n <= 16) {
        *sum = 0;
        return true;
    }
    size_t buflen = 0, count = (n - 16 + CR_IMAGE_SUM_CHUNK - 1) / CR_IMAGE_SUM_CHUNK;
    uint64_t *each = malloc(count * sizeof *each);
    unsigned char *buf = each ? sum_buffer(&buflen) : NULL;
    if (!buf) {
        free(each);
        return false;
    }
    /* a chunk a read (SUM_PIECE is the chunk), each hashed whole, then combined */
    size_t at = 16, i = 0; /* after the magic and the checksum field */
    while (at < n) {
        size_t piece = n - at < SUM_PIECE ? n - at : SUM_PIECE, got = 0;
        while (got < piece) {
            ssize_t r = pread(fd, buf + got, piece - got, (off_t)(at + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got < piece)
            break;
        cr_image_sum_chunks(buf, piece, 0, 1, &each[i++]);
        at += piece;
    }
    munmap(buf, buflen);
    if (at != n) {
        free(each);
        return false;
    }
    *sum = cr_image_sum_combine(each, count, n - 16);
    if (sums) {
        *sums = each;
        *chunks = count;
    } else {
        free(each);
    }
    return true;
}

static void *lease_summer(void *arg)
{
    cr_image_leased *l = arg;
    if (!lease_sum_read(l->fd, l->sum_len, &l->sum, NULL, NULL))
        l->sum = cr_image_checksum((const char *)l->sum_base + 16, l->sum_len - 16);
    return NULL;
}

/* Starts the checksum on a thread, reading the leased file (its descriptor stays open until the
 * thread is joined: cr_image_lease_release joins first), with a second mapping of the file for
 * a read that fails (the caller's may be unmapped meanwhile, when the records are refused);
 * computed at once when no thread can be had. */
static void lease_sum_start(cr_image_leased *l)
{
    size_t n = l->map.len;
    void *p = mmap(NULL, n, PROT_READ, MAP_SHARED, l->fd, 0);
    l->sum_base = p;
    l->sum_len = n;
    if (p != MAP_FAILED) {
        l->summing = cr_thread_start(&l->summer, lease_summer, l) == 0;
        if (l->summing)
            return;
        munmap(p, n);
    }
    l->sum_base = NULL;
    l->sum = cr_image_checksum((const char *)l->map.base + 16, n - 16);
}

static void lease_sum_join(cr_image_leased *l)
{
    if (!l->summing)
        return;
    pthread_join(l->summer, NULL);
    munmap((void *)(uintptr_t)l->sum_base, l->sum_len);
    l->summing = false;
    l->sum_base = NULL;
}

int cr_image_lease_sum(cr_image_leased *l, const char *path, char *err, size_t errlen)
{
    if (l->stamped && l->sum_deferred) {
        /* on this thread alone: a read ahead runs beside the host's own start-up, which has
         * the other core */
        char why[240];
        const char *p = l->map.base;
        size_t n = l->map.len;
        uint64_t sum;
        if (!lease_sum_read(l->fd, n, &sum, NULL, NULL))
            sum = cr_image_checksum(p + 16, n - 16);
        int rc = cr_image_verify_sum(p, n, sum, &l->map.info, why, sizeof why);
        if (rc != CR_OK) {
            snprintf(err, errlen, "%s: plan image refused: %s", path, why);
            return rc;
        }
        l->sum_deferred = false;
        return CR_OK;
    }
    if (l->stamped)
        return CR_OK; /* verified by cr_image_lease */
    lease_sum_join(l);
    if (l->sum == l->map.info.checksum)
        return CR_OK;
    snprintf(err, errlen,
             "%s: plan image refused: checksum mismatch (%016llx, header says %016llx)", path,
             (unsigned long long)l->sum, (unsigned long long)l->map.info.checksum);
    return CR_EINVAL;
}

int cr_image_lease(const char *path, const char *stamp_dir, cr_image_leased *l, char *err,
                   size_t errlen)
{
    return cr_image_lease_ex(path, stamp_dir, 0, l, err, errlen);
}

int cr_image_lease_ex(const char *path, const char *stamp_dir, unsigned flags, cr_image_leased *l,
                      char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    l->fallback = true;
    int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0 && (flags & CR_LEASE_FD_HIGH) && fd < CR_LEASE_FD_MIN) {
        int high = fcntl(fd, F_DUPFD_CLOEXEC, CR_LEASE_FD_MIN);
        close(fd);
        fd = high;
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CR_EIO;
    }
    /* the signal first: the lease makes this process the one told when a writer comes */
    if (fcntl(fd, F_SETSIG, CR_IMAGE_LEASE_SIGNAL) != 0 || fcntl(fd, F_SETLEASE, F_RDLCK) != 0) {
        snprintf(err, errlen, "%s: no read lease: %s", path, lease_why(errno));
        close(fd);
        return CR_EIO;
    }
    l->fd = fd;
    struct stat sb;
    if (image_stat(fd, path, &sb, err, errlen) != CR_OK) {
        cr_image_lease_release(l);
        return CR_EIO;
    }
    size_t n = (size_t)sb.st_size;
    /* read ahead (DEFER_SUM): the pages are faulted in by the threads that read them, not
     * here, in the caller's thread */
    bool populate = !(flags & (CR_LEASE_DEFER_SUM | CR_LEASE_NO_SUM));
    /* decided from in place: on 2 MB pages where the file's folios are (as map_file) */
    void *p = cr_map_file(fd, n, PROT_READ, populate);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        cr_image_lease_release(l);
        return CR_EIO;
    }
    char why[240];
    int rc = cr_image_verify_header(p, n, &l->map.info, why, sizeof why);
    cr_image_stamp want;
    l->stamped = rc == CR_OK && stamp_dir && !(flags & CR_LEASE_NO_SUM) &&
                 stamp_of(&sb, &l->map.info, &want) && stamp_matches(stamp_dir, path, &want);
    l->sum_deferred = l->stamped && (flags & CR_LEASE_DEFER_SUM);
    if (rc == CR_OK && l->stamped && !l->sum_deferred) /* read trusted next: the checksum first */
        rc = verify_mt(p, n, &l->map.info, why, sizeof why);
    if (rc != CR_OK) {
        snprintf(err, errlen, "%s: plan image refused: %s", path, why);
        munmap(p, n);
        cr_image_lease_release(l);
        l->fallback = false;
        l->stamped = l->sum_deferred = false;
        return rc;
    }
    l->map.base = p;
    l->map.len = n;
    l->dev = (uint64_t)sb.st_dev;
    l->ino = (uint64_t)sb.st_ino;
    if (!l->stamped && !(flags & CR_LEASE_NO_SUM))
        lease_sum_start(l);
    return CR_OK;
}

void cr_image_lease_release(cr_image_leased *l)
{
    if (l)
        lease_sum_join(l);
    if (!l || l->fd < 0)
        return;
    fcntl(l->fd, F_SETLEASE, F_UNLCK);
    close(l->fd);
    l->fd = -1;
}

void cr_image_unmap(cr_image_map *m)
{
    if (m && m->base)
        munmap((void *)m->base, m->len);
    if (m) {
        m->base = NULL;
        free(m->chunk_sums);
        m->chunk_sums = NULL;
    }
}

int cr_image_write(const char *path, const cr_config *cfg, uint64_t generation, uint64_t *checksum,
                   char *err, size_t errlen)
{
    void *img = NULL;
    size_t len = 0;
    size_t rgs_len;
    if (cr_config_has_response_groups(cfg) &&
        !cr_config_attached(cfg, CR_RGS_IMAGE_NAME, &rgs_len)) {
        /* loaded without the response-group loader: its image would lose them */
        snprintf(err, errlen, "%s: the configuration's response groups were not compiled", path);
        return CR_EINVAL;
    }
    int rc = cr_image_build(cfg, generation, &img, &len);
    if (rc != CR_OK) {
        snprintf(err, errlen, "%s: cannot build the image: %s", path, cr_strerror(rc));
        return rc;
    }
    if (checksum)
        memcpy(checksum, (char *)img + 8, 8);
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) {
        free(img);
        return CR_ENOMEM;
    }
    snprintf(tmp, pl + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    rc = CR_OK;
    if (fd < 0 || write_all(fd, img, len) != 0 || fchmod(fd, 0640) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", fd < 0 ? path : tmp, strerror(errno));
        rc = CR_EIO;
    }
    if (fd >= 0 && close(fd) != 0 && rc == CR_OK) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        rc = CR_EIO;
    }
    if (rc == CR_OK && rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
        rc = CR_EIO;
    }
    if (rc != CR_OK && fd >= 0)
        unlink(tmp);
    free(tmp);
    free(img);
    return rc;
}

/* What a configuration read from an image needs before it decides: the workflows of the
 * response groups compiled into it, its compiled indexes, the directory's names checked. */
int cr_image_finish_memory(cr_config *cfg, const char *path, cr_diag *diag)
{
    if (cr_config_is_compiled(cfg)) /* done ahead (crp_handle_preload) */
        return CR_OK;
    int rc = cu_rgs_targets_from_image(cfg, path, diag);
    if (rc == CR_OK)
        rc = cr_config_compile(cfg, diag);
    return rc;
}

int cr_image_finish(cr_config *cfg, const char *path, cr_diag *diag)
{
    int rc = cr_image_finish_memory(cfg, path, diag);
    if (rc == CR_OK && cr_config_directory(cfg, NULL))
        rc = cr_directory_check_named(cfg, diag);
    return rc;
}

int cr_image_load_mapped(const cr_image_map *m, const char *path, cr_config **out, cr_diag *diag)
{
    cr_config *cfg = NULL;
    int rc = cr_image_read(m->base, m->len, path, &cfg, diag);
    if (rc == CR_OK)
        rc = cr_image_finish(cfg, path, diag);
    if (rc != CR_OK) {
        cr_config_free(cfg);
        return rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
    }
    *out = cfg;
    return CR_OK;
}

static void map_release(void *ud)
{
    cr_image_unmap(ud);
    free(ud);
}

int cr_image_load_owned(cr_image_map *m, const char *path, cr_config **out, cr_diag *diag)
{
    return cr_image_load_owned_ex(m, path, 0, out, diag);
}

int cr_image_load_owned_ex(cr_image_map *m, const char *path, unsigned flags, cr_config **out,
                           cr_diag *diag)
{
    *out = NULL;
    cr_image_map *keep = malloc(sizeof *keep);
    if (!keep) {
        cr_image_unmap(m);
        return CR_ENOMEM;
    }
    free(m->chunk_sums); /* a restamp's, not the configuration's */
    m->chunk_sums = NULL;
    *keep = *m;
    m->base = NULL;
    cr_config *cfg = NULL;
    int rc = cr_image_read_ex(keep->base, keep->len, path,
                              (flags & ~CR_IMAGE_NO_FINISH) | CR_IMAGE_BORROW | CR_IMAGE_VERIFIED,
                              &cfg, diag);
    if (rc != CR_OK) {
        map_release(keep);
        return rc;
    }
    cr_image_config_release(cfg, map_release, keep);
    if (!(flags & CR_IMAGE_NO_FINISH))
        rc = cr_image_finish(cfg, path, diag);
    if (rc != CR_OK) {
        cr_config_free(cfg); /* unmaps */
        return rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
    }
    *out = cfg;
    return CR_OK;
}

/* A file named by the admin may be rewritten in place while the configuration lives: its
 * bytes are read into a private copy, which the configuration borrows from. */
int cr_image_load(const char *path, cr_config **out, cr_diag *diag)
{
    return cr_image_load_ex(path, 0, out, diag);
}

int cr_image_load_ex(const char *path, unsigned flags, cr_config **out, cr_diag *diag)
{
    if (!out)
        return CR_EINVAL;
    *out = NULL;
    cr_image_map m;
    char err[400];
    int rc = map_file(path, true, 0, &m, err, sizeof err);
    if (rc != CR_OK) {
        /* err names the file already */
        cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){NULL, 0}, NULL, "%s", err);
        return rc == CR_ENOMEM ? CR_ENOMEM : CR_ECONFIG;
    }
    return cr_image_load_owned_ex(&m, path, flags, out, diag);
}

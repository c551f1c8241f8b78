/*
 * Plan image files (engine/include/cr_plan_image.h): writing one, mapping one read-only, loading
 * the configuration it holds.
 */
#ifndef CR_IMAGE_H
#define CR_IMAGE_H

#include "cr_model.h"
#include "cr_plan_image.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the file at path starts with the plan image magic (false when unreadable). */
bool cr_image_file_is(const char *path);

/* A verified image mapped read-only (PROT_READ, MAP_SHARED). */
typedef struct cr_image_map {
    const void *base;
    size_t len;
    cr_image_info info;
    /* cr_image_stage only: the sum of each of the copy's checksum chunks (chunks of them), with
     * which cr_image_restamp_sums restamps the copy hashing its first chunk alone; NULL
     * otherwise. cr_image_unmap frees it; a caller may take it (and set it NULL). */
    uint64_t *chunk_sums;
    size_t chunks;
} cr_image_map;

/* Maps and verifies the image at path; errors as "path: what is wrong" into err. */
int cr_image_map_file(const char *path, cr_image_map *m, char *err, size_t errlen);
/* The same with CR_IMAGE_TRUSTED: the checksum is not computed (the header is checked). */
int cr_image_map_file_ex(const char *path, unsigned flags, cr_image_map *m, char *err,
                         size_t errlen);
/* A cr_image_map_file_ex flag: the mapping is not populated; its pages come as they are read
 * (a process taking back the plan it parked reads few of them at a time). */
#define CR_IMAGE_LAZY_PAGES (1u << 17)
void cr_image_unmap(cr_image_map *m);

/* Copies the image at path into a new file `staged` (mode 0640; the kernel copies), maps the
 * copy shared, verifies it and makes the mapping read-only: a copy the admin's later rewrites of
 * path cannot touch, which a publisher reads in place and then publishes by renaming it
 * (plugin-api/lib/handle.c). On failure nothing is left at `staged`. The mapping stays writable
 * through mprotect for cr_image_restamp_sums (the file was opened for writing; m->chunk_sums
 * holds the copy's chunk sums when they could be kept). */
int cr_image_stage(const char *path, const char *staged, cr_image_map *m, char *err, size_t errlen);
/* The same from an open file (in, read from offset 0 with pread/sendfile; not closed): a
 * publisher holding a lease on the admin's file copies exactly that file, whatever its name
 * names by now. `name` is for the messages. */
int cr_image_stage_fd(int in, const char *name, const char *staged, cr_image_map *m, char *err,
                      size_t errlen);

/* An image's checksum (cr_image_checksum) computed on two cores: half its chunks on a thread. */
uint64_t cr_image_checksum_mt(const void *p, size_t n);

/*
 * An admin's image read in place, under a read lease (fcntl F_SETLEASE, F_RDLCK): while the
 * lease is held nobody can open the file for writing or truncate it (the kernel makes such an
 * open wait, up to /proc/sys/fs/lease-break-time, and tells the holder with
 * CR_IMAGE_LEASE_SIGNAL, a signal ignored by default, so a host that does not wait for it is
 * not killed by it), so its bytes cannot change under a process that maps them.
 */
#define CR_IMAGE_LEASE_SIGNAL SIGURG
typedef struct cr_image_leased {
    int fd;           /* O_RDONLY, the lease held on it */
    cr_image_map map; /* the file mapped shared, read-only, its checksum verified */
    uint64_t dev, ino;
    /* a stamp in the stamp directory recorded that this very file (same identity, size,
     * times, checksum, format and library build) passed the full check of its records */
    bool stamped;
    /* on failure: true when the lease could not be taken or the file not mapped (the caller
     * copies it instead, as today), false when the image itself is refused */
    bool fallback;
    /* Not stamped: the checksum is being computed by a thread over a mapping of its own while
     * the caller checks the records (on another core); cr_image_lease_sum waits for it. */
    bool summing;
    pthread_t summer;
    const void *sum_base;
    size_t sum_len;
    uint64_t sum;
    /* stamped, CR_LEASE_DEFER_SUM: the checksum not verified yet (cr_image_lease_sum does) */
    bool sum_deferred;
} cr_image_leased;

/* cr_image_lease_ex flags. DEFER_SUM: a stamped image's checksum is left to cr_image_lease_sum
 * (memory only: it may run on another thread; on that thread alone), which must accept it
 * before any record is read; the file is mapped without populating its pages.
 * FD_HIGH: the descriptor the lease is held on is numbered CR_LEASE_FD_MIN or above (a host
 * that closes every lower descriptor between this call and its use, as Kamailio's daemonize()
 * closes 3 to 31, leaves it alone). */
#define CR_LEASE_DEFER_SUM 1u
#define CR_LEASE_FD_HIGH   2u
/* NO_SUM: no checksum is computed (nor a stamp looked for): the caller verifies these very bytes
 * another way while it holds the lease (a reload sums its copy of them: cr_image_stage_fd from
 * l->fd), and cr_image_lease_sum must not be called. The file is mapped without populating. */
#define CR_LEASE_NO_SUM 4u
#define CR_LEASE_FD_MIN 32

/* Opens path, takes the read lease, maps the file and checks its header and section table;
 * looks for its stamp in stamp_dir (NULL: none). Stamped, the checksum is verified before it
 * returns (the records are then read trusted: nothing may be read before); otherwise it is
 * computed meanwhile and cr_image_lease_sum must accept it before the image is used (the
 * records' full check is safe on any bytes). Errors as "path: what" into err. */
int cr_image_lease(const char *path, const char *stamp_dir, cr_image_leased *l, char *err,
                   size_t errlen);
int cr_image_lease_ex(const char *path, const char *stamp_dir, unsigned flags, cr_image_leased *l,
                      char *err, size_t errlen);
/* Waits for the checksum cr_image_lease computes and verifies it (CR_OK at once when it was
 * verified already; computed here when deferred); errors as cr_image_lease's. */
int cr_image_lease_sum(cr_image_leased *l, const char *path, char *err, size_t errlen);
/* Releases the lease and closes the file (the mapping, l->map, is left alone); waits for a
 * checksum still being computed. */
void cr_image_lease_release(cr_image_leased *l);

/*
 * The stamp of an image whose records passed the full check: a file of its own in stamp_dir
 * (callroute-stamp-<euid>-<hash of path>, mode 0600) recording the file's device, inode, size,
 * modification and change times (ns), its checksum, format version and architecture and the
 * build id of the library that checked it. A later cr_image_lease of the same path trusts it
 * only when it is a regular file (not followed when a link) owned by the effective user, not
 * writable by group or others, and every field matches: any write to the file changes its
 * change time. The checksum is still computed on every start.
 */
typedef struct cr_image_stamp {
    char magic[8]; /* "CRSTAMP1" */
    uint64_t dev, ino, size;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
    uint64_t checksum;
    uint32_t version, arch;
    uint32_t build_len;
    unsigned char build[64];
} cr_image_stamp;

/* Writes the stamp of a leased, fully checked image (l). CR_ENOENT when this library has no
 * build id (stamps are then never written nor trusted). */
int cr_image_stamp_write(const char *stamp_dir, const char *path, const cr_image_leased *l);
/* The stamp's file name for path (false when it does not fit). */
bool cr_image_stamp_path(const char *stamp_dir, const char *path, char *out, size_t cap);

/* Builds the image of a compiled configuration and writes it to path (a new file, then
 * renamed over path, mode 0640). The image's checksum goes to *checksum (may be
 * NULL). Errors into err. */
int cr_image_write(const char *path, const cr_config *cfg, uint64_t generation, uint64_t *checksum,
                   char *err, size_t errlen);

/* Loads the configuration an image holds and compiles it: what cr_rules_load does for XML.
 * The file is read into a private read-only copy the configuration borrows its strings from
 * (cr_image_load_owned). Errors (damaged, foreign image) go to diag naming path. */
int cr_image_load(const char *path, cr_config **out, cr_diag *diag);
/* The same with cr_image_read_ex's flags (CR_IMAGE_NOLINT). */
int cr_image_load_ex(const char *path, unsigned flags, cr_config **out, cr_diag *diag);

/* cr_image_load from a mapped, verified image: the configuration copies what it needs (the
 * image may be unmapped at once). */
int cr_image_load_mapped(const cr_image_map *m, const char *path, cr_config **out, cr_diag *diag);

/* The same without copying: the configuration's strings stay in the image, which the
 * configuration now owns (m->base is cleared; the image is unmapped when the configuration is
 * freed, or at once on failure). Every process that loads the same published image file this
 * way shares its pages. */
int cr_image_load_owned(cr_image_map *m, const char *path, cr_config **out, cr_diag *diag);
/* A cr_image_load_owned_ex flag: the records are read (memory only: another thread may) and
 * cr_image_finish is left to the caller, before the configuration decides. */
#define CR_IMAGE_NO_FINISH (1u << 16)
/* What a configuration read from an image (path: for messages) needs before it decides: the
 * workflows of the response groups compiled into it, its compiled indexes (these two read
 * memory only: cr_image_finish_memory, which another thread may do first), the user
 * directory's names checked (opens the directory). */
int cr_image_finish(cr_config *cfg, const char *path, cr_diag *diag);
int cr_image_finish_memory(cr_config *cfg, const char *path, cr_diag *diag);
/* The same with cr_image_read_ex's flags (CR_IMAGE_NOLINT: a process adopting a published plan
 * repeats no lint). The mapping was verified when it was made: its checksum is not computed
 * again. */
int cr_image_load_owned_ex(cr_image_map *m, const char *path, unsigned flags, cr_config **out,
                           cr_diag *diag);

#endif

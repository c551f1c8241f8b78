/* Inside of the user directory (directory.c, directory_import.c). Not for other layers. */
#ifndef CR_DIRECTORY_INT_H
#define CR_DIRECTORY_INT_H

#include "cr_directory.h"

#include <lmdb.h>

#define CR_DIR_FORMAT "1"

struct cr_directory {
    struct cr_directory *next; /* the process's list of open directories */
    char *path, *real;
    long pid;
    int refs;
    uint64_t id; /* unique in the process: a cached read transaction names its directory */
    MDB_env *env;
    MDB_dbi users, lines, meta;
};

/* A user record is built from and decoded into a cr_user (strings borrowed either way). */
typedef struct dir_buf {
    unsigned char *p;
    size_t len, cap;
} dir_buf;

/* Encodes u (line_number / line_ext must be set when u->line is). Returns CR_OK/CR_ENOMEM. */
int dir_encode(const cr_user *u, dir_buf *b);
/* Decodes a record into *u; names point into `rec` and into names[] (n slots) or a
 * malloc'ed array stored in *heap. Returns false for a damaged record. */
bool dir_decode(const void *rec, size_t len, cr_user *u, char **names, size_t n, char ***heap);

/* The string field `idx` of a record (DIR_STR_*) without decoding the rest: *s NULL for an
 * absent field. Returns false for a damaged record. */
#define DIR_STR_URI         0
#define DIR_STR_LINE        1
#define DIR_STR_LINE_NUMBER 2
#define DIR_STR_LINE_EXT    3
bool dir_record_str(const void *rec, size_t len, int idx, const char **s, size_t *n);

/* Line keys of a user: the exact key and, with an extension, the bare number. */
int dir_line_key(const cr_user *u, char *out, size_t len);

/* Line value prefixes: an exact line, or a bare number standing for a line with ext. */
#define DIR_LINE_EXACT 'L'
#define DIR_LINE_ALIAS 'A'

/* Removes the line keys of the user whose record is `old` (when they point to `ukey`). */
int dir_unlink_lines(cr_directory *d, MDB_txn *txn, const MDB_val *old, const char *ukey);
/* Adds the line keys of u (URI key ukey). CR_ECONFIG with *owner set (the URI key holding
 * the line, pointing into the map) on a conflict. */
int dir_link_lines(cr_directory *d, MDB_txn *txn, const cr_user *u, const char *ukey,
                   const char **owner);

/* getpid() without a system call (refreshed after fork() by an atfork handler). */
long dir_self_pid(void);

void dir_err(char *err, size_t errlen, const char *what, int rc);
/* The message for a failed write or commit (rc an LMDB or errno code), "no space left on
 * device" when the file system is full; in `buf` or a static string. */
const char *dir_write_error(const cr_directory *d, int rc, char *buf, size_t len);

/* An import's users before they are written (directory_batch.c): URI key, NUL, record, in
 * one arena. */
typedef struct dir_entry {
    uint64_t prefix[2]; /* the key's first 16 bytes, big-endian: most comparisons end here */
    size_t off;         /* in the arena */
    uint32_t klen;
    uint32_t rlen : 31;
    uint32_t dup : 1; /* listed before in the file: not written */
    int line;         /* in the file */
    uint32_t seq;     /* place in the file */
} dir_entry;

typedef struct dir_batch {
    dir_entry *e;
    size_t n, cap;
    unsigned char *arena;
    size_t len, acap;
} dir_batch;

/* Copies a user in. Returns CR_OK or CR_ENOMEM. */
int dir_batch_add(dir_batch *b, const char *key, size_t klen, const void *rec, size_t rlen,
                  int line);
void dir_batch_free(dir_batch *b);
/* Sorts the users in LMDB's key order; a user listed twice is an error (into diag, naming
 * file:line) at each later place, which is then skipped. Returns the number of errors. */
size_t dir_batch_sort(dir_batch *b, const char *file, cr_diag *diag);
/* Writes a sorted batch in `txn`: _fresh replaces every user and line (MDB_APPEND), _merge
 * keeps the users the batch does not name; both rebuild the lookup index when there was no
 * error. Counts go into rep, errors into diag and *errors. Return CR_OK, CR_EIO or
 * CR_ENOMEM. */
int dir_batch_write_fresh(cr_directory *d, MDB_txn *txn, const dir_batch *b, cr_import_report *rep,
                          const char *file, cr_diag *diag, size_t *errors);
int dir_batch_write_merge(cr_directory *d, MDB_txn *txn, const dir_batch *b, cr_import_report *rep,
                          const char *file, cr_diag *diag, size_t *errors);

/* The lookup index (directory_index.c): rebuilt by every import, in its transaction (from
 * the batch when the import rewrote the trees, else from the trees); read through the
 * snapshot of a reader. */
int dir_index_build(cr_directory *d, MDB_txn *txn);
bool dir_index_get(MDB_txn *txn, cr_directory *d, const void **p, size_t *len);
/* The record of the user with URI key `ukey` / line `number` (with `ext`, elen 0 for none:
 * an exact line without extension or a bare number standing for one; with an extension and
 * no such line, the bare number), or NULL. */
const void *dir_index_uri(const void *p, size_t len, const char *ukey, size_t n, size_t *rlen);
const void *dir_index_line(const void *p, size_t len, const char *number, size_t nlen,
                           const char *ext, size_t elen, size_t *rlen);

/*
 * Building the index in three steps over the same users 0..n-1 (any order, the same each
 * time): dir_ix_plan_init, then dir_ix_plan_user (its sizes) and dir_ix_plan_line (each line
 * key the lines tree gives it: "+1425...;ext=E" or a number, `bare` for an alias) for every
 * user; dir_ix_reserve lays the index out and reserves it (0, or an LMDB or errno code);
 * dir_ix_fill copies user i in; dir_ix_plan_free at the end, whatever happened.
 */
typedef struct dir_ix_plan {
    struct dir_ix_user *u;
    size_t n;
    uint64_t nbuck, nuri, heap;
    unsigned char *base, *uri, *heapp;
} dir_ix_plan;
int dir_ix_plan_init(dir_ix_plan *p, size_t users);
void dir_ix_plan_user(dir_ix_plan *p, size_t i, size_t klen, size_t rlen);
void dir_ix_plan_line(dir_ix_plan *p, size_t i, const char *lk, size_t n, bool bare);
int dir_ix_reserve(cr_directory *d, MDB_txn *txn, dir_ix_plan *p);
void dir_ix_fill(dir_ix_plan *p, size_t i, const void *key, size_t klen, const void *rec,
                 size_t rlen);
void dir_ix_plan_free(dir_ix_plan *p);

#endif

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

void dir_err(char *err, size_t errlen, const char *what, int rc);
/* The message for a failed write or commit (rc an LMDB or errno code), "no space left on
 * device" when the file system is full; in `buf` or a static string. */
const char *dir_write_error(const cr_directory *d, int rc, char *buf, size_t len);

/* The lookup index (directory_index.c): rebuilt from the trees by every import, in its
 * transaction; read through the snapshot of a reader. */
int dir_index_build(cr_directory *d, MDB_txn *txn);
bool dir_index_get(MDB_txn *txn, cr_directory *d, const void **p, size_t *len);
/* The record of the user with URI key `ukey` / line key `lk`, or NULL. */
const void *dir_index_uri(const void *p, size_t len, const char *ukey, size_t n, size_t *rlen);
const void *dir_index_line(const void *p, size_t len, const char *lk, size_t n, size_t *rlen);

#endif

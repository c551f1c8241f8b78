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

#endif

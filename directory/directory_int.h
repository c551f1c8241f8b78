/* Inside of the user directory (directory.c, directory_import.c). Not for other layers. */
#ifndef CR_DIRECTORY_INT_H
#define CR_DIRECTORY_INT_H

#include "cr_directory.h"

#include "cr_lmdb.h" /* lmdb.h; liblmdb loaded on first use */

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The directory's format ("format" in "meta"): 1 (users and lines trees, and a lookup index
 * of version 3 or older beside them) and 2 (the index of version 4, one LMDB value, is the
 * only copy of the users, the trees are empty) are read; imports write 3 (the index of
 * version 5, in parts), which older builds refuse to open. */
#define CR_DIR_FORMAT     "3"
#define CR_DIR_FORMAT_2   "2"
#define CR_DIR_FORMAT_OLD "1"

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
/* The same from a record: its exact line key, or with `bare` the number of its line with an
 * extension; 0 when there is none (or it does not fit in len). */
size_t dir_record_line(const void *rec, size_t rlen, bool bare, char *out, size_t len);

/* Line value prefixes of a format 1 directory's lines tree: an exact line, or a bare
 * number standing for a line with ext. */
#define DIR_LINE_EXACT 'L'
#define DIR_LINE_ALIAS 'A'

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
/* Writes a sorted batch in `txn`: _fresh replaces every user, _merge keeps the users the
 * batch does not name (and the lines they hold). Counts go into rep, errors into diag and
 * *errors. Return CR_OK, CR_EIO or CR_ENOMEM. */
int dir_batch_write_fresh(cr_directory *d, MDB_txn *txn, const dir_batch *b, cr_import_report *rep,
                          const char *file, cr_diag *diag, size_t *errors);
int dir_batch_write_merge(cr_directory *d, MDB_txn *txn, const dir_batch *b, cr_import_report *rep,
                          const char *file, cr_diag *diag, size_t *errors);

/* A user of the directory an import writes: URI key and record, and whether the bare number
 * of its line (with an extension) stands for it. */
typedef struct dir_user_ref {
    const unsigned char *key, *rec;
    uint32_t klen, rlen;
    bool alias;
} dir_user_ref;
/* Writes the directory anew in `txn`: the users u[0..n-1] (in URI-key order, each line
 * exact key its user's alone) as the lookup index, the trees emptied, format 3. Errors go
 * into diag and *errors. Returns CR_OK, CR_EIO or CR_ENOMEM. */
int dir_write_users(cr_directory *d, MDB_txn *txn, const dir_user_ref *u, size_t n,
                    const char *file, cr_diag *diag, size_t *errors);
/* An error at `line` of the import's file about the user `uri` (urilen bytes). */
void dir_fail(const char *file, cr_diag *diag, size_t *errors, int line, const char *uri,
              size_t urilen, const char *msg);

/*
 * A number (or an extension) s[0..n) packed 4 bits a character, the first character the most
 * significant: '0'-'9' 1-10, '+' 11, '*' 12, '#' 13 (none packs to 0, so the length is
 * implied). False when n > max (max at most 16) or a character does not pack. The index's
 * number keys and the cache of hot numbers both use it; on x86-64 the 16 characters are
 * mapped at once (SSE2), not one a step through a table.
 */
static inline bool dir_pack_number(const char *s, size_t n, size_t max, uint64_t *out)
{
    if (n > max || n > 16)
        return false;
    if (!n) { /* no extension */
        *out = 0;
        return true;
    }
#if defined(__SSE2__)
    unsigned char buf[16] = {0}; /* right-aligned: the lanes before it pack to 0 */
    /* two overlapping copies of fixed size (no call to memcpy for n bytes) */
    if (n >= 8) {
        memcpy(buf + 16 - n, s, 8);
        memcpy(buf + 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(buf + 16 - n, s, 4);
        memcpy(buf + 12, s + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            buf[16 - n + i] = (unsigned char)s[i];
    }
    __m128i c = _mm_loadu_si128((const __m128i *)buf);
    __m128i d = _mm_sub_epi8(c, _mm_set1_epi8('0'));
    __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d); /* d <= 9 */
    __m128i v = _mm_and_si128(digit, _mm_add_epi8(d, _mm_set1_epi8(1)));
    v = _mm_or_si128(v, _mm_and_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('+')), _mm_set1_epi8(11)));
    v = _mm_or_si128(v, _mm_and_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('*')), _mm_set1_epi8(12)));
    v = _mm_or_si128(v, _mm_and_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('#')), _mm_set1_epi8(13)));
    unsigned zero = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
    if (zero >> (16 - n))
        return false; /* a character of s that does not pack */
    /* each pair of lanes (a, b) into the byte a << 4 | b, then the 8 bytes, first most
     * significant */
    __m128i w = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0xFF)), 4),
                             _mm_srli_epi16(v, 8));
    uint64_t k = (uint64_t)_mm_cvtsi128_si64(_mm_packus_epi16(w, w));
    *out = __builtin_bswap64(k);
    return true;
#else
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        unsigned v = ch >= '0' && ch <= '9' ? ch - '0' + 1u
                     : ch == '+'            ? 11u
                     : ch == '*'            ? 12u
                     : ch == '#'            ? 13u
                                            : 0u;
        if (!v)
            return false;
        k = k << 4 | v;
    }
    *out = k;
    return true;
#endif
}

/* The cache of hot numbers (directory_hot.c): a number and extension's exact key, or false
 * when they are not cached (a number of more than 16 characters, an extension of more than 8,
 * a character other than 0-9 + * #). */
typedef struct dir_hot_key {
    uint64_t num, hash;
    uint32_t ext;
} dir_hot_key;
bool dir_hot_key_of(const char *number, size_t nlen, const char *ext, size_t elen, dir_hot_key *k);
/* The entry kept for the key in the reader's snapshot, or NULL; dir_hot_decode decodes it
 * into a slot of the reader (false: damaged), before the thread's next lookup. */
const void *dir_hot_find(const cr_dir_reader *r, const dir_hot_key *k);
bool dir_hot_decode(const void *entry, const char *number, size_t nlen, const char *ext,
                    size_t elen, cr_dir_slot *s);
/* Offers the record the index gave for the key (kept the second time it is offered). */
void dir_hot_keep(const cr_dir_reader *r, const dir_hot_key *k, const char *number, size_t nlen,
                  const char *ext, size_t elen, const void *rec, size_t rlen);
/* Empties the thread's table (after fork(): directory ids may be reused). */
void dir_hot_reset(void);

/* The lookup index of a snapshot (directory_index.c): rebuilt by every import, in its
 * transaction; versions 3, 4 and 5 are read. */
typedef struct dir_index dir_index;
/* Finds the snapshot's index: *out (freed with dir_index_free, valid while `txn` reads this
 * snapshot) or NULL when the directory has none (format 1: its trees). An index that is
 * damaged, or missing from a directory of format 2 or 3, is CR_EIO with a message naming the
 * directory and the damage in err (may be NULL). Returns CR_OK, CR_EIO or CR_ENOMEM. */
int dir_index_open(MDB_txn *txn, cr_directory *d, dir_index **out, char *err, size_t errlen);
void dir_index_free(dir_index *ix);
/* The users and line keys of the snapshot (from the index of format 2 or 3, else the trees).
 * Returns CR_OK or CR_EIO; a damaged index's message goes into err (may be NULL), as
 * dir_index_open writes it. */
int dir_counts(cr_directory *d, MDB_txn *txn, size_t *users, size_t *lines, char *err,
               size_t errlen);
/* The counts of an index of version 4 or later (false for another version). */
bool dir_index_counts(const dir_index *ix, size_t *users, size_t *lines);
/* The record of the user with URI key `ukey` / line `number` (with `ext`, elen 0 for none:
 * an exact line without extension or a bare number standing for one; with an extension and
 * no such line, the bare number), or NULL (a damaged bucket answers NULL). `packed_number`
 * is the number as dir_pack_number(number, nlen, 16) packed it when the caller has it (the
 * hot cache's key), else NULL: the index packs it. */
const void *dir_index_uri(const dir_index *ix, const char *ukey, size_t n, size_t *rlen);
const void *dir_index_line(const dir_index *ix, const char *number, size_t nlen,
                           const uint64_t *packed_number, const char *ext, size_t elen,
                           size_t *rlen);

/*
 * Every user of a snapshot in URI-key order: from the index of version 4 or later (format 2
 * or 3), else from the users tree (format 1). dir_walk_begin returns CR_OK, or CR_EIO /
 * CR_ENOMEM (a damaged index). dir_walk_next returns 1 with the next user (key and record
 * pointing into the map; *alias, when asked, whether its bare number stands for it), 0 at
 * the end, -1 for a damaged directory. dir_walk_end whatever happened.
 */
typedef struct dir_walk {
    cr_directory *d;
    MDB_txn *txn;
    MDB_cursor *c;    /* the users tree, without an index of version 4 or later */
    dir_index *index; /* owned */
    size_t next;
} dir_walk;
int dir_walk_begin(cr_directory *d, MDB_txn *txn, dir_walk *w);
int dir_walk_next(dir_walk *w, MDB_val *key, MDB_val *rec, bool *alias);
void dir_walk_end(dir_walk *w);

/*
 * Building the index over the same users 0..n-1 (in URI-key order): dir_ix_plan_init, then
 * dir_ix_plan_user (its key and sizes) and dir_ix_plan_line (its line: number and extension,
 * elen 0 for none; `alias` when its bare number stands for it too) for every user;
 * dir_ix_layout places every entry and builds the tables (0, ENOMEM, EFBIG when heap
 * offsets would not fit in 32 bits of 8 bytes: 34 GB of records, E2BIG when an entry is
 * larger than a part); then for each part
 * k < nparts in turn, dir_ix_part_put reserves it (0 or an LMDB or errno code) and
 * dir_ix_fill copies into it what of user i lies there (every i, every part: a reserved
 * value is only valid until the next write); dir_ix_finish writes the header and removes
 * the parts of a larger index before; dir_ix_plan_free at the end, whatever happened.
 */
typedef struct dir_ix_plan {
    struct dir_ix_user *u;
    size_t n;
    uint64_t nbuck, ntotal, nuri, heap, entries, users, lines;
    uint64_t bytes; /* the index's (after dir_ix_layout, or the estimate for EFBIG) */
    uint32_t shift; /* parts of 1 << shift bytes */
    uint64_t heapoff, total, nparts;
    uint64_t *uri;
    uint32_t *order;
    uint16_t *used;      /* each bucket's bytes used */
    uint16_t *own;       /* each bucket's first entry of its own home (offset; used: none) */
    unsigned char *part; /* the part being written: [lo, hi) of the index */
    uint64_t lo, hi;
} dir_ix_plan;
int dir_ix_plan_init(dir_ix_plan *p, size_t users);
void dir_ix_plan_user(dir_ix_plan *p, size_t i, const void *key, size_t klen, size_t rlen);
void dir_ix_plan_line(dir_ix_plan *p, size_t i, const char *num, size_t nlen, const char *ext,
                      size_t elen, bool alias);
int dir_ix_layout(dir_ix_plan *p);
int dir_ix_part_put(cr_directory *d, MDB_txn *txn, dir_ix_plan *p, uint64_t k);
void dir_ix_fill(dir_ix_plan *p, size_t i, const void *key, size_t klen, const void *rec,
                 size_t rlen);
int dir_ix_finish(cr_directory *d, MDB_txn *txn, dir_ix_plan *p);
void dir_ix_plan_free(dir_ix_plan *p);

/* A user's ten strings in the order a record holds them (the writer, the reader and the hot
 * cache's copy all follow it): their fields' addresses into f. */
#define DIR_USER_STRINGS 10
static inline void dir_user_strings(cr_user *u, char **f[DIR_USER_STRINGS])
{
    f[0] = &u->uri;
    f[1] = &u->line;
    f[2] = &u->line_number;
    f[3] = &u->line_ext;
    f[4] = &u->policy;
    f[5] = &u->profile;
    f[6] = &u->voicemail;
    f[7] = &u->simultaneous_ring;
    f[8] = &u->forwarding.immediate;
    f[9] = &u->forwarding.no_answer_target;
}

#endif

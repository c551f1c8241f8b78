/*
 * The user directory: every SPEC §2 user field in an LMDB environment, for deployments with
 * hundreds of thousands of users.
 *
 * Layout (one environment, a directory holding data.mdb and lock.mdb), format 2:
 *   "meta"   "format" → "2"; "index" → the lookup index (directory_index.c), which holds
 *            every user's record once: found by SIP URI (cr_uri_key), by line
 *            ("+14255550100;ext=50100" or "5550100", private), and walked in URI order. A
 *            line with an extension also answers for its bare number, unless another user's
 *            line is exactly that number (as with users listed in the XML);
 *   "users", "lines"  empty. Format 1 (written before) kept the users there ("users": URI key
 *            → record, "lines": line key → URI key); it is still read, and the next import
 *            rewrites it as format 2, which older builds refuse to open.
 * Readers (any number of threads and processes) see a consistent snapshot while an import
 * writes (LMDB MVCC); an import is one write transaction: all of the file, or nothing.
 *
 * Thread safety: a cr_directory may be shared by threads; a cr_dir_reader belongs to one
 * thread. Across fork(), a child must open the directory again (cr_directory_open does this
 * by itself: handles are per process).
 */
#ifndef CR_DIRECTORY_H
#define CR_DIRECTORY_H

#include "cr_engine.h"
#include "cr_model.h"

#include <stdio.h>

typedef struct cr_directory cr_directory;

/*
 * Opens the directory environment at `dir` (a directory path), creating it when `create`.
 * Opening a directory this process already has open returns the same environment (LMDB
 * forbids two on one file in a process); each open needs its cr_directory_close.
 * @return CR_OK; CR_ENOENT (no directory and !create), CR_EIO (with err), CR_ENOMEM.
 */
int cr_directory_open(const char *dir, bool create, cr_directory **out, char *err, size_t errlen);
void cr_directory_close(cr_directory *d);
/* The path as given to the first open. */
const char *cr_directory_path(const cr_directory *d);

typedef struct cr_directory_stats {
    size_t users;        /* users */
    size_t lines;        /* line keys (lines and bare-number aliases) */
    uint64_t file_bytes; /* size of data.mdb on disk */
    uint64_t used_bytes; /* pages in use × page size */
} cr_directory_stats;

int cr_directory_stat(cr_directory *d, cr_directory_stats *st);

typedef struct cr_import_report {
    size_t read;        /* users in the file */
    size_t added;       /* new in the directory */
    size_t replaced;    /* already there, overwritten */
    size_t removed;     /* dropped by `replace` */
    const char *format; /* "xml" or "csv" */
} cr_import_report;

/*
 * Imports the users of `file`: XML (a <users> element of <user> as in SPEC §2.1, at the top
 * or inside <callroute>) or CSV (first line the header, see CR_DIRECTORY_CSV_HEADER), told
 * apart by the first non-blank character ('<' is XML). A user already in the directory is
 * replaced; with `replace` the directory ends up holding exactly the file's users.
 * All or nothing: on any error nothing changes. Errors (file:line, the user) go to `diag`.
 * @return CR_OK, CR_ECONFIG (errors in diag), CR_EIO, CR_ENOMEM.
 */
int cr_directory_import(cr_directory *d, const char *file, bool replace, cr_import_report *rep,
                        cr_diag *diag);

/*
 * The CSV header, in this order on export; on import the columns may come in any order and
 * only `uri` is required. Lists (teamCall, delegates) are separated by spaces; a field with
 * a comma or a quote is quoted ("a ""b"""), RFC 4180.
 */
#define CR_DIRECTORY_CSV_HEADER                                                                    \
    "uri,line,enterpriseVoice,voicePolicy,locationProfile,voicemail,simultaneousRing,"             \
    "forwardImmediate,noAnswerAfter,noAnswerTarget,teamCallDelay,teamCall,delegates,"              \
    "pbxIntegration"

typedef enum { CR_DIR_XML = 1, CR_DIR_CSV = 2 } cr_dir_format;

/* Writes every user, in URI order, as XML (<users> of SPEC §2.1) or CSV, to `out`. */
int cr_directory_export(cr_directory *d, FILE *out, cr_dir_format fmt, char *err, size_t errlen);

/*
 * Errors for users that a configuration lists inline and the directory holds too (by URI
 * or by line), naming both places ("file:line" and the directory path). Returns CR_OK or
 * CR_ECONFIG.
 */
int cr_directory_check_config(cr_directory *d, const cr_config *cfg, cr_diag *diag);
/* Warns (into diag, naming the directory and the user) about every user of the directory
 * whose voice policy or location profile `cfg` does not define: such a user's calls would
 * be refused. Reads the whole directory: for `check --db`, not for every open. Returns
 * CR_OK or CR_EIO (unreadable directory, as an error in diag). */
int cr_directory_check_names(cr_directory *d, const cr_config *cfg, cr_diag *diag);

/* For the loader: opens the directory the configuration names (cr_config_directory) and
 * runs cr_directory_check_config; a directory that cannot be opened is an error at the
 * <directory> element. Returns CR_OK or CR_ECONFIG. */
int cr_directory_check_named(const cr_config *cfg, cr_diag *diag);

/* ---- reading ------------------------------------------------------------------------------ */

#define CR_DIR_SLOTS      8  /* users decoded without allocating */
#define CR_DIR_SLOT_NAMES 16 /* team members + delegates per user without allocating */

#define CR_DIR_HOT_RECORD 192 /* record bytes the cache of hot numbers keeps (below) */

typedef struct cr_dir_slot {
    cr_user user;
    char *names[CR_DIR_SLOT_NAMES];
    char **heap;                          /* when a user has more names */
    unsigned char rec[CR_DIR_HOT_RECORD]; /* a record copied from the cache of hot numbers */
} cr_dir_slot;

/*
 * A read snapshot with the users decoded from it. Users returned by the lookups point into
 * the snapshot (their strings are in LMDB's map) and stay valid until cr_dir_reader_end.
 * Their policy_idx / profile_idx are resolved against `cfg` (-1 and the name kept when the
 * configuration lacks it). Caller-allocated (on the stack is fine); one thread.
 */
typedef struct cr_dir_reader {
    cr_directory *dir;
    const cr_config *cfg;
    void *txn;
    size_t used;
    cr_dir_slot slots[CR_DIR_SLOTS];
    struct cr_dir_more *more; /* further slots, allocated past CR_DIR_SLOTS */
    cr_user_source source;    /* the reader as the engine's user source */
    struct dir_index *index;  /* the snapshot's lookup index (owned), or NULL */
    size_t snap;              /* the snapshot's id */
    bool uncached;            /* set after begin: reverse lookups skip the cache (below) */
} cr_dir_reader;

/* Starts a snapshot. Returns CR_OK or CR_EIO. */
int cr_dir_reader_begin(cr_directory *d, const cr_config *cfg, cr_dir_reader *r);
/* A user by SIP URI (any form cr_uri_key accepts), or NULL. */
const cr_user *cr_dir_reader_find(cr_dir_reader *r, const char *sip_uri);
/* A user by line number ("+14255550100", "5550100"), with an extension or NULL.
 * Repeated numbers are answered from a cache of the thread's (32,768 ways of 128 bytes in
 * sets of four, 4 MB of anonymous memory in two 2 MB pages, and a 64 KB doorkeeper, made at
 * its first lookup): a compact copy of the record found for the number and extension (one
 * way, or two for a larger record), kept for the snapshot it was read from; another snapshot
 * (an import committed since) never sees it. A number is kept when it is found the second
 * time (one looked up once does not push a hot one out). Numbers not found, records larger
 * than CR_DIR_HOT_RECORD, numbers of more than 16 characters or extensions of more than 8 (or
 * with characters other than 0-9 + * #) and directories without a lookup index are not
 * cached. */
const cr_user *cr_dir_reader_by_number(cr_dir_reader *r, const char *number, const char *ext);
/* The calling thread's lookups that went through the cache of hot numbers so far, and those
 * it answered (for benchmarks and tests). */
#define CR_DIR_HOT_COUNT 1
typedef struct cr_dir_hot_stats {
    size_t lookups, hits;
} cr_dir_hot_stats;
cr_dir_hot_stats cr_dir_hot_count(void);
/* Frees the users decoded so far (every one the reader returned becomes invalid) and keeps
 * the snapshot: for walks that look at one user at a time. */
void cr_dir_reader_forget(cr_dir_reader *r);
/* Ends the snapshot; every user it returned becomes invalid. */
void cr_dir_reader_end(cr_dir_reader *r);

#endif

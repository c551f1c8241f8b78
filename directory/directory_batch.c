/*
 * Writing an import's users (directory_import.c reads them into a batch).
 *
 * Users are kept in memory (URI key and encoded record in one arena) and sorted in LMDB's key
 * order, then written once, as the lookup index (dir_write_users, directory_index.c). An
 * import into an empty directory, or with `replace`, decides who holds each line from the
 * batch alone; one that merges into a non-empty directory (directory_merge.c) applies its
 * users one by one in file order to the directory's, as the first to come keeps a shared
 * line there.
 */
#include "directory_int.h"
#include "cr_grow.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX_ERRORS 50

void dir_fail(const char *file, cr_diag *diag, size_t *errors, int line, const char *uri,
              size_t urilen, const char *msg)
{
    char obj[CR_URI_MAX + 16];
    if (uri)
        snprintf(obj, sizeof obj, "user '%.*s'", (int)(urilen > 500 ? 500 : urilen), uri);
    cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){file, line}, uri ? obj : NULL, "%s", msg);
    (*errors)++;
}

static uint64_t key_prefix(const char *k, size_t n, size_t from)
{
    uint64_t p = 0;
    for (size_t i = from; i < from + 8; i++)
        p = p << 8 | (i < n ? (unsigned char)k[i] : 0);
    return p;
}

int dir_batch_add(dir_batch *b, const char *key, size_t klen, const void *rec, size_t rlen,
                  int line)
{
    if (!CR_GROW(b->e, b->n, b->cap))
        return CR_ENOMEM;
    size_t need = klen + 1 + rlen;
    if (!cr_grow_bytes(&b->arena, b->len, need, &b->acap, 1 << 16))
        return CR_ENOMEM;
    unsigned char *p = b->arena + b->len;
    memcpy(p, key, klen);
    p[klen] = 0;
    memcpy(p + klen + 1, rec, rlen);
    b->e[b->n] = (dir_entry){{key_prefix(key, klen, 0), key_prefix(key, klen, 8)},
                             b->len,
                             (uint32_t)klen,
                             (uint32_t)rlen,
                             0,
                             line,
                             (uint32_t)b->n};
    b->n++;
    b->len += need;
    return CR_OK;
}

void dir_batch_free(dir_batch *b)
{
    free(b->e);
    free(b->arena);
    memset(b, 0, sizeof *b);
}

static const unsigned char *arena; /* for the comparison functions (imports are serialized) */

/* LMDB's default order: bytes, then the shorter first. */
static int cmp_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int cmp_entry(const void *pa, const void *pb)
{
    const dir_entry *a = pa, *b = pb;
    for (int i = 0; i < 2; i++)
        if (a->prefix[i] != b->prefix[i])
            return a->prefix[i] < b->prefix[i] ? -1 : 1;
    int c = cmp_bytes(arena + a->off, a->klen, arena + b->off, b->klen);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

static const unsigned char *rec_of(const dir_batch *b, const dir_entry *e)
{
    return b->arena + e->off + e->klen + 1;
}

static void entry_uri(const dir_batch *b, const dir_entry *e, const char **s, size_t *n)
{
    if (!dir_record_str(rec_of(b, e), e->rlen, DIR_STR_URI, s, n) || !*s) {
        *s = (const char *)b->arena + e->off;
        *n = e->klen;
    }
}

size_t dir_batch_sort(dir_batch *b, const char *file, cr_diag *diag)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    arena = b->arena;
    if (b->n > 1) /* an empty batch has no array at all */
        qsort(b->e, b->n, sizeof *b->e, cmp_entry);
    pthread_mutex_unlock(&lock);
    size_t errors = 0;
    for (size_t i = 1, first = 0; i < b->n; i++) {
        const dir_entry *f = &b->e[first];
        dir_entry *e = &b->e[i];
        if (e->klen != f->klen || memcmp(b->arena + e->off, b->arena + f->off, e->klen) != 0) {
            first = i;
            continue;
        }
        e->dup = 1;
        if (errors >= BATCH_MAX_ERRORS)
            continue;
        const char *uri;
        size_t n;
        char msg[PATH_MAX + 64];
        entry_uri(b, e, &uri, &n);
        snprintf(msg, sizeof msg, "listed twice (first at %s:%d)", file, f->line);
        dir_fail(file, diag, &errors, e->line, uri, n, msg);
    }
    return errors;
}

/* ---- writing the directory anew ----------------------------------------------------------- */

/* Writes the index's parts one after the other (a reserved value is valid until the next
 * write), each from every user, then its header. Returns 0 or an LMDB or errno code. */
static int write_index(cr_directory *d, MDB_txn *txn, dir_ix_plan *ix, const dir_user_ref *u,
                       size_t n)
{
    for (uint64_t k = 0; k < ix->nparts; k++) {
        int rc = dir_ix_part_put(d, txn, ix, k);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < n; i++)
            dir_ix_fill(ix, i, u[i].key, u[i].klen, u[i].rec, u[i].rlen);
    }
    return dir_ix_finish(d, txn, ix);
}

int dir_write_users(cr_directory *d, MDB_txn *txn, const dir_user_ref *u, size_t n,
                    const char *file, cr_diag *diag, size_t *errors)
{
    dir_ix_plan ix;
    if (dir_ix_plan_init(&ix, n) != CR_OK)
        return CR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *num, *ext;
        size_t nn, en;
        dir_ix_plan_user(&ix, i, u[i].key, u[i].klen, u[i].rlen);
        if (dir_record_str(u[i].rec, u[i].rlen, DIR_STR_LINE_NUMBER, &num, &nn) && num &&
            dir_record_str(u[i].rec, u[i].rlen, DIR_STR_LINE_EXT, &ext, &en))
            dir_ix_plan_line(&ix, i, num, nn, ext, ext ? en : 0, u[i].alias);
    }
    /* the trees of format 1 go */
    MDB_val fk = {6, "format"}, fv = {1, CR_DIR_FORMAT};
    int rc = dir_ix_layout(&ix);
    if (rc == 0)
        rc = mdb_drop(txn, d->users, 0);
    if (rc == 0)
        rc = mdb_drop(txn, d->lines, 0);
    if (rc == 0)
        rc = mdb_put(txn, d->meta, &fk, &fv, 0);
    if (rc == 0)
        rc = write_index(d, txn, &ix, u, n);
    if (rc == EFBIG || rc == E2BIG) {
        char why[256];
        double most = (double)UINT32_MAX * 8;
        if (rc == EFBIG)
            snprintf(why, sizeof why,
                     "the lookup index would take %.2f GB, more than the %.1f GB its offsets "
                     "reach: about %.0f users of this size fit",
                     (double)ix.bytes / 1e9, most / 1e9, (double)n * most / (double)ix.bytes);
        else
            snprintf(why, sizeof why,
                     "a user's record is larger than a part of the index (%llu "
                     "bytes: CALLROUTE_DIR_PART)",
                     1ULL << ix.shift);
        dir_fail(file, diag, errors, 0, NULL, 0, why);
        dir_ix_plan_free(&ix);
        return CR_EIO;
    }
    if (rc != 0) {
        char why[256], msg[400];
        snprintf(msg, sizeof msg, "%s: cannot store the users: %s", d->path,
                 dir_write_error(d, rc, why, sizeof why));
        dir_fail(file, diag, errors, 0, NULL, 0, msg);
        dir_ix_plan_free(&ix);
        return rc == ENOMEM ? CR_ENOMEM : CR_EIO;
    }
    dir_ix_plan_free(&ix);
    return CR_OK;
}

/* One line key of the file: a user's exact line, or the bare number of a line with ext. */
typedef struct line_entry {
    const char *key;
    uint32_t klen;
    uint32_t user; /* index in the sorted batch */
    uint32_t seq;  /* the user's place in the file */
    char kind;     /* DIR_LINE_EXACT or DIR_LINE_ALIAS */
} line_entry;

static int cmp_line(const void *pa, const void *pb)
{
    const line_entry *a = pa, *b = pb;
    int c = cmp_bytes(a->key, a->klen, b->key, b->klen);
    if (c)
        return c;
    if (a->kind != b->kind) /* an exact line before the aliases of the same number */
        return a->kind == DIR_LINE_EXACT ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* The line keys of every user, in a sorted array whose keys live in *keys. */
static line_entry *collect_lines(const dir_batch *b, size_t *count, char **keys)
{
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < b->n; i++) {
        const char *num, *ext;
        size_t nn, en;
        const unsigned char *r = rec_of(b, &b->e[i]);
        if (!b->e[i].dup && dir_record_str(r, b->e[i].rlen, DIR_STR_LINE_NUMBER, &num, &nn) &&
            num && dir_record_str(r, b->e[i].rlen, DIR_STR_LINE_EXT, &ext, &en)) {
            n += ext ? 2 : 1;
            bytes += ext ? nn * 2 + 5 + en : nn;
        }
    }
    line_entry *l = malloc((n ? n : 1) * sizeof *l);
    char *k = malloc(bytes ? bytes : 1);
    if (!l || !k) {
        free(l);
        free(k);
        return NULL;
    }
    size_t j = 0, off = 0;
    for (size_t i = 0; i < b->n; i++) {
        const char *num, *ext;
        size_t nn, en;
        const unsigned char *r = rec_of(b, &b->e[i]);
        if (b->e[i].dup || !dir_record_str(r, b->e[i].rlen, DIR_STR_LINE_NUMBER, &num, &nn) ||
            !num || !dir_record_str(r, b->e[i].rlen, DIR_STR_LINE_EXT, &ext, &en))
            continue;
        line_entry *e = &l[j++];
        *e = (line_entry){k + off, (uint32_t)nn, (uint32_t)i, b->e[i].seq, DIR_LINE_EXACT};
        memcpy(k + off, num, nn);
        off += nn;
        if (!ext)
            continue;
        memcpy(k + off, ";ext=", 5);
        memcpy(k + off + 5, ext, en);
        e->klen += 5 + (uint32_t)en;
        off += 5 + en;
        l[j] = (line_entry){k + off, (uint32_t)nn, (uint32_t)i, b->e[i].seq, DIR_LINE_ALIAS};
        memcpy(k + off, num, nn);
        off += nn;
        j++;
    }
    qsort(l, j, sizeof *l, cmp_line);
    *count = j;
    *keys = k;
    return l;
}

/* Who holds each line key: the first exact line, else the first alias in the file; an exact
 * line given twice is an error at the later user. Sets alias[user] for the users whose bare
 * number stands for them. */
static void resolve_lines(const dir_batch *b, const line_entry *l, size_t n, bool *alias,
                          const char *file, cr_diag *diag, size_t *errors)
{
    for (size_t i = 0; i < n && *errors < BATCH_MAX_ERRORS;) {
        size_t j = i + 1;
        for (; j < n && l[j].klen == l[i].klen && memcmp(l[j].key, l[i].key, l[i].klen) == 0; j++)
            if (l[j].kind == DIR_LINE_EXACT) {
                const dir_entry *e = &b->e[l[j].user], *owner = &b->e[l[i].user];
                const char *uri, *line;
                size_t un, ln;
                char msg[CR_URI_MAX + 600];
                entry_uri(b, e, &uri, &un);
                if (!dir_record_str(rec_of(b, e), e->rlen, DIR_STR_LINE, &line, &ln) || !line)
                    line = "?";
                snprintf(msg, sizeof msg, "line '%.500s' is already the line of user '%s' (%s:%d)",
                         line, (const char *)b->arena + owner->off, file, owner->line);
                dir_fail(file, diag, errors, e->line, uri, un, msg);
            }
        if (l[i].kind == DIR_LINE_ALIAS)
            alias[l[i].user] = true;
        i = j;
    }
}

/* How many users the snapshot holds, and how many of them the sorted batch names (a merge of
 * two sorted lists). */
static int count_existing(cr_directory *d, MDB_txn *txn, const dir_batch *b, size_t *existing,
                          size_t *found)
{
    dir_walk w;
    MDB_val k, v;
    *existing = *found = 0;
    if (dir_walk_begin(d, txn, &w) != CR_OK)
        return CR_EIO;
    size_t i = 0;
    int rc;
    while ((rc = dir_walk_next(&w, &k, &v, NULL)) == 1) {
        (*existing)++;
        int cmp = -1;
        while (i < b->n &&
               (cmp = cmp_bytes(b->arena + b->e[i].off, b->e[i].klen, k.mv_data, k.mv_size)) < 0)
            i++;
        if (i < b->n && cmp == 0)
            (*found)++; /* a user listed twice is not in the batch twice: dup marks later ones */
    }
    dir_walk_end(&w);
    return rc == 0 ? CR_OK : CR_EIO;
}

int dir_batch_write_fresh(cr_directory *d, MDB_txn *txn, const dir_batch *b, cr_import_report *rep,
                          const char *file, cr_diag *diag, size_t *errors)
{
    size_t existing, found;
    if (count_existing(d, txn, b, &existing, &found) != CR_OK) {
        /* the users there cannot be read (a damaged index): they are replaced all the same, as
         * the damage's message asks, but how many were replaced or removed is not known */
        existing = found = 0;
        cr_diag_add(diag, CR_DIAG_WARNING, (cr_srcloc){file, 0}, NULL,
                    "%s: the directory's lookup index was damaged: every user is written anew "
                    "from this file; the users it replaced or removed cannot be counted",
                    d->path);
    }
    size_t dups = 0;
    for (size_t i = 0; i < b->n; i++)
        dups += b->e[i].dup;
    rep->replaced = found;
    rep->added = b->n - dups - found;
    rep->removed = existing - found;
    size_t nl = 0;
    char *keys = NULL;
    line_entry *l = collect_lines(b, &nl, &keys);
    bool *alias = calloc(b->n ? b->n : 1, sizeof *alias);
    dir_user_ref *u = malloc((b->n ? b->n : 1) * sizeof *u);
    int rc = l && alias && u ? CR_OK : CR_ENOMEM;
    if (rc == CR_OK)
        resolve_lines(b, l, nl, alias, file, diag, errors);
    free(l);
    free(keys);
    size_t n = 0;
    for (size_t i = 0; rc == CR_OK && i < b->n; i++)
        if (!b->e[i].dup)
            u[n++] = (dir_user_ref){b->arena + b->e[i].off, rec_of(b, &b->e[i]), b->e[i].klen,
                                    b->e[i].rlen, alias[i]};
    if (rc == CR_OK && !*errors)
        rc = dir_write_users(d, txn, u, n, file, diag, errors);
    free(alias);
    free(u);
    return rc;
}

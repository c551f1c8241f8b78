/*
 * An import that merges into a non-empty directory: the directory's users are read (the
 * index of format 2, or the trees of format 1), the file's users applied to them one by one
 * in file order as the directory's own lines tree once was (a replaced user gives up its
 * lines before any is applied; an exact line another user holds is an error; the first user
 * with an extension on a number no one holds keeps the bare number), and the whole is written
 * anew.
 */
#include "cr_grow.h"
#include "cr_hash.h"
#include "directory_int.h"

#include <stdlib.h>
#include <string.h>

#define MERGE_MAX_ERRORS 50

/* Who holds a line key: users 0..nold-1 are the directory's, nold.. the batch's. */
typedef struct line_slot {
    uint64_t hash; /* 0: never used */
    uint32_t owner;
    char kind; /* DIR_LINE_EXACT, DIR_LINE_ALIAS, 0 given up */
} line_slot;

typedef struct merge {
    const dir_batch *old, *b;
    size_t nold;
    line_slot *slot;
    size_t mask;
} merge;

static const dir_entry *user_at(const merge *m, uint32_t who)
{
    return who < m->nold ? &m->old->e[who] : &m->b->e[who - m->nold];
}

static const unsigned char *rec_at(const merge *m, uint32_t who, uint32_t *rlen)
{
    const dir_batch *b = who < m->nold ? m->old : m->b;
    const dir_entry *e = user_at(m, who);
    *rlen = e->rlen;
    return b->arena + e->off + e->klen + 1;
}

static const char *key_at(const merge *m, uint32_t who)
{
    const dir_batch *b = who < m->nold ? m->old : m->b;
    return (const char *)b->arena + user_at(m, who)->off;
}

static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = cr_fnv(CR_FNV_OFFSET, k, n);
    return h ? h : 1;
}

/* The slot of line key k: its holder's, or where it would go. */
static line_slot *find(merge *m, const char *k, size_t n)
{
    uint64_t h = key_hash(k, n);
    line_slot *free_slot = NULL;
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        line_slot *s = &m->slot[i];
        if (!s->hash)
            return free_slot ? free_slot : s;
        if (!s->kind) {
            if (!free_slot)
                free_slot = s;
            continue;
        }
        if (s->hash != h)
            continue;
        char held[CR_NUMBER_MAX + 48];
        uint32_t rlen;
        const unsigned char *r = rec_at(m, s->owner, &rlen);
        size_t hn = dir_record_line(r, rlen, s->kind == DIR_LINE_ALIAS, held, sizeof held);
        if (hn == n && memcmp(held, k, n) == 0)
            return s;
    }
}

static void hold(merge *m, line_slot *s, const char *k, size_t n, uint32_t who, char kind)
{
    s->hash = key_hash(k, n);
    s->owner = who;
    s->kind = kind;
}

/* Gives up the lines user `who` holds. */
static void unlink_lines(merge *m, uint32_t who)
{
    char k[CR_NUMBER_MAX + 48];
    uint32_t rlen;
    const unsigned char *r = rec_at(m, who, &rlen);
    for (int bare = 0; bare < 2; bare++) {
        size_t n = dir_record_line(r, rlen, bare, k, sizeof k);
        line_slot *s = n ? find(m, k, n) : NULL;
        if (s && s->kind && s->owner == who)
            s->kind = 0;
    }
}

/* Takes the lines of user `who`: false (and the holder in *other) when another user holds
 * its exact line. */
static bool link_user(merge *m, uint32_t who, uint32_t *other)
{
    char k[CR_NUMBER_MAX + 48];
    uint32_t rlen;
    const unsigned char *r = rec_at(m, who, &rlen);
    size_t n = dir_record_line(r, rlen, false, k, sizeof k);
    if (!n)
        return true;
    line_slot *s = find(m, k, n);
    if (s->kind == DIR_LINE_EXACT && s->owner != who) {
        *other = s->owner;
        return false;
    }
    hold(m, s, k, n, who, DIR_LINE_EXACT); /* an exact line wins over another's bare number */
    n = dir_record_line(r, rlen, true, k, sizeof k);
    if (n && !(s = find(m, k, n))->kind)
        hold(m, s, k, n, who, DIR_LINE_ALIAS); /* the first with that number keeps it */
    return true;
}

/* The directory's users (copied: the index they are read from is replaced) and which of
 * them hold their bare number. */
static int load_existing(cr_directory *d, MDB_txn *txn, dir_batch *old, bool **alias)
{
    dir_walk w;
    MDB_val k, v;
    bool a;
    int rc;
    size_t cap = 0;
    *alias = NULL;
    if (dir_walk_begin(d, txn, &w) != CR_OK)
        return CR_EIO;
    while ((rc = dir_walk_next(&w, &k, &v, &a)) == 1) {
        if (dir_batch_add(old, k.mv_data, k.mv_size, v.mv_data, v.mv_size, 0) != CR_OK ||
            !CR_GROW(*alias, old->n - 1, cap)) {
            rc = -2;
            break;
        }
        (*alias)[old->n - 1] = a;
    }
    dir_walk_end(&w);
    return rc == 0 ? CR_OK : rc == -2 ? CR_ENOMEM : CR_EIO;
}

static int cmp_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* The directory's user with the URI key of batch user e, or -1. */
static long existing(const merge *m, const dir_entry *e)
{
    const char *k = (const char *)m->b->arena + e->off;
    size_t lo = 0, hi = m->nold;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const dir_entry *o = &m->old->e[mid];
        if (cmp_bytes(m->old->arena + o->off, o->klen, k, e->klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const dir_entry *o = lo < m->nold ? &m->old->e[lo] : NULL;
    return o && cmp_bytes(m->old->arena + o->off, o->klen, k, e->klen) == 0 ? (long)lo : -1;
}

/* The file's users, in file order, applied to the directory's (gone[] marks those
 * replaced). The directory's users the file replaces give up their lines before any is
 * applied: the file's users may take each other's numbers (two users swapping lines), as the
 * same file imported with --replace may, and a bare number the replaced users held goes to
 * the first user in the file with an extension on it (it was left to no one when that user
 * came before the one who gave it up). */
static void apply(merge *m, bool *gone, cr_import_report *rep, const char *file, cr_diag *diag,
                  size_t *errors, const uint32_t *order)
{
    const dir_batch *b = m->b;
    for (size_t s = 0; s < b->n; s++) {
        long j = b->e[s].dup ? -1 : existing(m, &b->e[s]);
        if (j >= 0)
            unlink_lines(m, (uint32_t)j);
    }
    for (size_t s = 0; s < b->n && *errors < MERGE_MAX_ERRORS; s++) {
        const dir_entry *e = &b->e[order[s]];
        if (e->dup)
            continue;
        long j = existing(m, e);
        if (j >= 0) {
            rep->replaced++;
            gone[j] = true;
        } else {
            rep->added++;
        }
        uint32_t who = (uint32_t)(m->nold + order[s]), other, rlen;
        if (link_user(m, who, &other))
            continue;
        const unsigned char *r = rec_at(m, who, &rlen);
        const char *uri, *line;
        size_t un, ln;
        if (!dir_record_str(r, rlen, DIR_STR_URI, &uri, &un) || !uri) {
            uri = key_at(m, who);
            un = e->klen;
        }
        if (!dir_record_str(r, rlen, DIR_STR_LINE, &line, &ln) || !line)
            line = "?";
        char msg[CR_URI_MAX + 600];
        if (other >= m->nold) /* a user of the file, imported earlier in it */
            snprintf(msg, sizeof msg, "line '%.500s' is already the line of user '%s' (%s:%d)",
                     line, key_at(m, other), file, user_at(m, other)->line);
        else
            snprintf(msg, sizeof msg,
                     "line '%.500s' is already the line of user '%s' (in the directory)", line,
                     key_at(m, other));
        dir_fail(file, diag, errors, e->line, uri, un, msg);
    }
}

/* The users after the merge, in URI-key order: the directory's not replaced, and the file's. */
static dir_user_ref *result(const merge *m, const bool *gone, size_t *count)
{
    size_t total = m->nold + m->b->n, n = 0;
    dir_user_ref *u = malloc((total ? total : 1) * sizeof *u);
    bool *alias = calloc(total ? total : 1, sizeof *alias);
    if (!u || !alias) {
        free(u);
        free(alias);
        return NULL;
    }
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slot[i].kind == DIR_LINE_ALIAS)
            alias[m->slot[i].owner] = true;
    size_t i = 0, j = 0;
    const dir_batch *b = m->b;
    while (i < m->nold || j < b->n) {
        if (i < m->nold && gone[i]) {
            i++;
            continue;
        }
        if (j < b->n && b->e[j].dup) {
            j++;
            continue;
        }
        const dir_entry *o = i < m->nold ? &m->old->e[i] : NULL, *e = j < b->n ? &b->e[j] : NULL;
        bool take_old =
            o && (!e || cmp_bytes(m->old->arena + o->off, o->klen, b->arena + e->off, e->klen) < 0);
        uint32_t who = take_old ? (uint32_t)i++ : (uint32_t)(m->nold + j++);
        const dir_entry *x = user_at(m, who);
        uint32_t rlen;
        const unsigned char *r = rec_at(m, who, &rlen);
        u[n++] =
            (dir_user_ref){(const unsigned char *)key_at(m, who), r, x->klen, rlen, alias[who]};
    }
    free(alias);
    *count = n;
    return u;
}

/* The line slots of the directory's users. */
static int hold_existing(merge *m, const bool *alias_old)
{
    size_t want = 16;
    while (want < 2 * (m->nold * 2 + m->b->n * 2))
        want <<= 1;
    m->slot = calloc(want, sizeof *m->slot);
    if (!m->slot)
        return CR_ENOMEM;
    m->mask = want - 1;
    char k[CR_NUMBER_MAX + 48];
    for (uint32_t i = 0; i < m->nold; i++) {
        uint32_t rlen;
        const unsigned char *r = rec_at(m, i, &rlen);
        for (int bare = 0; bare < 2; bare++) {
            size_t n = bare && !alias_old[i] ? 0 : dir_record_line(r, rlen, bare, k, sizeof k);
            line_slot *s = n ? find(m, k, n) : NULL;
            if (s && !s->kind)
                hold(m, s, k, n, i, bare ? DIR_LINE_ALIAS : DIR_LINE_EXACT);
        }
    }
    return CR_OK;
}

int dir_batch_write_merge(cr_directory *d, MDB_txn *txn, const dir_batch *b, cr_import_report *rep,
                          const char *file, cr_diag *diag, size_t *errors)
{
    dir_batch old = {0};
    bool *alias_old = NULL, *gone = NULL;
    uint32_t *order = malloc((b->n ? b->n : 1) * sizeof *order);
    merge m = {.old = &old, .b = b};
    dir_user_ref *u = NULL;
    int rc = order ? load_existing(d, txn, &old, &alias_old) : CR_ENOMEM;
    m.nold = old.n;
    if (rc == CR_OK && (m.nold + b->n >= UINT32_MAX || !(gone = calloc(old.n + 1, 1))))
        rc = CR_ENOMEM;
    if (rc == CR_OK)
        rc = hold_existing(&m, alias_old);
    if (rc == CR_OK) {
        for (size_t i = 0; i < b->n; i++)
            order[b->e[i].seq] = (uint32_t)i;
        apply(&m, gone, rep, file, diag, errors, order);
    }
    size_t n = 0;
    if (rc == CR_OK && !*errors && !(u = result(&m, gone, &n)))
        rc = CR_ENOMEM;
    if (rc == CR_OK && !*errors)
        rc = dir_write_users(d, txn, u, n, file, diag, errors);
    free(u);
    free(m.slot);
    free(gone);
    free(alias_old);
    free(order);
    dir_batch_free(&old);
    return rc;
}

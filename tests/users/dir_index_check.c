/*
 * dir_index_check: the directory's lookup index against a model of what each lookup must
 * answer. Generates users whose lines collide on purpose (thousands of extensions on one
 * number, a number held exactly and as extensions, numbers too long to pack, stars and
 * hashes, users without a line, records larger than an index bucket), imports them, and
 * checks every reverse lookup (with the extension, the bare number, an unknown extension),
 * every URI lookup and the export; then the same after merging imports (the directory's
 * users and the file's applied in file order), with `replace`, and for a directory an older
 * build wrote (format 1, tests/users/fixtures: its version 3 index, then its trees alone,
 * then merged into, which rewrites it as format 3; format 2, read, then merged into); and
 * that the cache of hot numbers never answers from another snapshot than the reader's (more
 * snapshots than it remembers generations for, too) and answers every field as the map holds
 * it (each kind of record it copies compactly, and those it does not keep).
 * With CALLROUTE_DIR_PART=4096 the index is written in parts of 4 KB (over a hundred).
 *
 *   CR_SOURCE_DIR=SRC dir_index_check [--users N]      exit status 0 when every answer is right
 */
#include "cr_directory.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct user {
    char uri[48], number[40], ext[24], team[1600];
} user;

static user *users;
/* tests/users/fixtures/format1-index3.mdb.gz: `dir_index_check --make-fixture DIR 600` linked
 * with main at 803e883 (directory format 1, index version 3), copied with mdb_copy -c */
#define FIXTURE_SALT  3
#define FIXTURE_USERS 600
static size_t nusers;
static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond) && failures++ < 20) {                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static user *add(const char *number, const char *ext)
{
    user *u = &users[nusers];
    memset(u, 0, sizeof *u);
    snprintf(u->uri, sizeof u->uri, "sip:user%zu@contoso.com", nusers);
    snprintf(u->number, sizeof u->number, "%s", number ? number : "");
    snprintf(u->ext, sizeof u->ext, "%s", ext ? ext : "");
    nusers++;
    return u;
}

/* Users 0..n-1 of the model; `salt` changes the numbers of the plain ones. */
static void generate(size_t n, unsigned salt)
{
    users = calloc(n + 64, sizeof *users);
    nusers = 0;
    char num[40], ext[24];
    uint64_t x = 0x9E3779B97F4A7C15ULL ^ salt;
    for (size_t i = 0; nusers < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        switch (i % 10) {
        case 0: /* a company number with thousands of extensions */
            snprintf(ext, sizeof ext, "%zu", i / 10);
            add("+14255550100", ext);
            break;
        case 1: /* a number held exactly by one user and with extensions by others */
            snprintf(num, sizeof num, "+1206%07zu", (i / 10) % 500 + salt);
            snprintf(ext, sizeof ext, "%zu", i);
            add(num, (i / 10) % 3 == 0 ? NULL : ext);
            break;
        case 2: /* too long to pack: hashed keys */
            snprintf(num, sizeof num, "+4930%015llu",
                     (unsigned long long)(x % 1000000000000000ULL));
            add(num, i % 4 == 2 ? "77" : NULL);
            break;
        case 3: /* stars and hashes */
            snprintf(num, sizeof num, "*%zu#", i);
            add(num, NULL);
            break;
        case 4: /* no line */
            add(NULL, NULL);
            break;
        case 5: /* larger than an index bucket */
            if (i % 200 == 5) {
                snprintf(num, sizeof num, "+1425%07zu", i + salt * 7);
                user *u = add(num, i % 400 == 5 ? "5" : NULL);
                for (int m = 0; m < 60; m++) {
                    char member[32];
                    snprintf(member, sizeof member, "%ssip:team%d@contoso.com", m ? " " : "", m);
                    strcat(u->team, member);
                }
                break;
            }
            /* fall through */
        default: /* plain numbers, some with an extension */
            snprintf(num, sizeof num, "+1%010llu", (unsigned long long)(x % 10000000000ULL));
            snprintf(ext, sizeof ext, "%llu", (unsigned long long)(x >> 50));
            add(num, i % 3 == 0 ? ext : NULL);
            break;
        }
    }
}

/* The model drops a later user whose exact line is taken: the import would refuse it. */
static void dedup(void)
{
    size_t k = 0;
    for (size_t i = 0; i < nusers; i++) {
        bool taken = false;
        for (size_t j = 0; j < k && users[i].number[0] && !taken; j++)
            taken = strcmp(users[j].number, users[i].number) == 0 &&
                    strcmp(users[j].ext, users[i].ext) == 0;
        if (!taken)
            users[k++] = users[i];
    }
    nusers = k;
}

static void write_csv(const char *path, size_t from, size_t to)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs("uri,line,enterpriseVoice,teamCall\n", f);
    for (size_t i = from; i < to; i++) {
        const user *u = &users[i];
        if (!u->number[0])
            fprintf(f, "%s,,true,%s\n", u->uri, u->team);
        else if (u->ext[0])
            fprintf(f, "%s,tel:%s;ext=%s,true,%s\n", u->uri, u->number, u->ext, u->team);
        else
            fprintf(f, "%s,tel:%s,true,%s\n", u->uri, u->number, u->team);
    }
    fclose(f);
}

/* Who a bare number reaches: the user holding it exactly, else the first in the file with
 * an extension on it. */
static const user *bare_owner(const char *number, size_t upto)
{
    const user *first = NULL;
    for (size_t i = 0; i < upto; i++)
        if (strcmp(users[i].number, number) == 0) {
            if (!users[i].ext[0])
                return &users[i];
            if (!first)
                first = &users[i];
        }
    return first;
}

static int import(cr_directory *d, const char *file, bool replace)
{
    cr_diag diag;
    cr_diag_init(&diag);
    int rc = cr_directory_import(d, file, replace, NULL, &diag);
    for (size_t i = 0; i < diag.count && i < 5; i++)
        fprintf(stderr, "%s:%d: %s\n", diag.items[i].file, diag.items[i].line,
                diag.items[i].message);
    cr_diag_free(&diag);
    return rc;
}

/* By number, then the user holding it exactly, then file order. */
static int cmp_owner(const void *pa, const void *pb)
{
    const user *a = &users[*(const size_t *)pa], *b = &users[*(const size_t *)pb];
    int c = strcmp(a->number, b->number);
    if (c)
        return c;
    if (!a->ext[0] != !b->ext[0])
        return a->ext[0] ? 1 : -1;
    return a < b ? -1 : a > b;
}

static const char *uri_of(const cr_user *u)
{
    return u ? u->uri : "(none)";
}

static void verify(cr_directory *d, const char *when)
{
    cr_dir_reader r;
    CHECK(cr_dir_reader_begin(d, NULL, &r) == CR_OK, "%s: no snapshot", when);
    /* bare owners: users sorted by number, the owner first in each run */
    const user **owner = calloc(nusers, sizeof *owner);
    size_t *by = malloc(nusers * sizeof *by);
    for (size_t i = 0; i < nusers; i++)
        by[i] = i;
    qsort(by, nusers, sizeof *by, cmp_owner);
    for (size_t i = 0, run = 0; i < nusers; i++) {
        if (i && strcmp(users[by[i]].number, users[by[run]].number) != 0)
            run = i;
        owner[by[i]] = &users[by[run]];
    }
    free(by);
    for (size_t i = 0; i < nusers; i++) {
        const user *u = &users[i];
        const cr_user *got = cr_dir_reader_find(&r, u->uri);
        CHECK(got && strcmp(got->uri, u->uri) == 0, "%s: %s by URI: %s", when, u->uri, uri_of(got));
        if (u->number[0]) {
            const char *ext = u->ext[0] ? u->ext : NULL;
            got = cr_dir_reader_by_number(&r, u->number, ext);
            CHECK(got && strcmp(got->uri, u->uri) == 0, "%s: %s;ext=%s: %s, expected %s", when,
                  u->number, u->ext, uri_of(got), u->uri);
            got = cr_dir_reader_by_number(&r, u->number, NULL);
            CHECK(got && strcmp(got->uri, owner[i]->uri) == 0, "%s: bare %s: %s, expected %s", when,
                  u->number, uri_of(got), owner[i]->uri);
            got = cr_dir_reader_by_number(&r, u->number, "999999999");
            CHECK(got && strcmp(got->uri, owner[i]->uri) == 0,
                  "%s: %s;ext=999999999 (unknown): %s, expected %s", when, u->number, uri_of(got),
                  owner[i]->uri);
            if (i % 50 == 0) { /* a number one digit longer or shorter: whoever has it */
                char near[48];
                snprintf(near, sizeof near, "%s%zu", u->number, i % 10);
                const user *want = bare_owner(near, nusers);
                got = cr_dir_reader_by_number(&r, near, NULL);
                CHECK(want ? got && strcmp(got->uri, want->uri) == 0 : !got,
                      "%s: %s: %s, expected %s", when, near, uri_of(got),
                      want ? want->uri : "(none)");
                snprintf(near, sizeof near, "%.*s", (int)strlen(u->number) - 1, u->number);
                want = bare_owner(near, nusers);
                got = cr_dir_reader_by_number(&r, near, NULL);
                CHECK(want ? got && strcmp(got->uri, want->uri) == 0 : !got,
                      "%s: %s: %s, expected %s", when, near, uri_of(got),
                      want ? want->uri : "(none)");
            }
        }
        if (i % 64 == 63)
            cr_dir_reader_forget(&r);
    }
    cr_dir_reader_end(&r);
    free(owner);
}

/* The directory's meta table in a write transaction of an environment of its own (the test's
 * handle on the directory is closed before): false when it cannot be opened. meta_end commits
 * and closes (false when the commit fails). */
static bool meta_begin(const char *path, MDB_env **env, MDB_txn **txn, MDB_dbi *meta)
{
    if (mdb_env_create(env) != 0)
        return false;
    mdb_env_set_maxdbs(*env, 4);
    mdb_env_set_mapsize(*env, 1ULL << 34);
    if (mdb_env_open(*env, path, MDB_NOTLS, 0664) != 0 || mdb_txn_begin(*env, NULL, 0, txn) != 0) {
        mdb_env_close(*env);
        return false;
    }
    if (mdb_dbi_open(*txn, "meta", 0, meta) != 0) {
        mdb_txn_abort(*txn);
        mdb_env_close(*env);
        return false;
    }
    return true;
}

static bool meta_end(MDB_env *env, MDB_txn *txn)
{
    bool ok = mdb_txn_commit(txn) == 0;
    mdb_env_close(env);
    return ok;
}

/* The 32-bit word `word` of the directory's index header (0 the magic, 1 the version; -1:
 * no index), and with `set` >= 0 it set to that. */
static long index_word(const char *path, int word, long set)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_val k = {5, "index"}, v;
    long was = -1;
    if (!meta_begin(path, &env, &txn, &meta))
        return -2;
    if (mdb_get(txn, meta, &k, &v) == 0 && v.mv_size >= 8) {
        uint32_t h[2];
        memcpy(h, v.mv_data, 8);
        was = h[word];
        if (set >= 0) { /* a copy whose header says `set` there */
            unsigned char *copy = malloc(v.mv_size);
            memcpy(copy, v.mv_data, v.mv_size);
            h[word] = (uint32_t)set;
            memcpy(copy + 4 * word, &h[word], 4);
            MDB_val nv = {v.mv_size, copy};
            if (mdb_put(txn, meta, &k, &nv, 0) != 0)
                was = -2;
            free(copy);
        }
    }
    return meta_end(env, txn) ? was : -2;
}

/* The version field of the directory's index (-1: none), and with `set` >= 0 it set to that
 * (what an older import left). */
static long index_version(const char *path, long set)
{
    return index_word(path, 1, set);
}

/* Calls fix(bucket, b, arg) for every bucket b of the directory's version 5 index, on a copy of
 * its part, and writes the parts back: false when the index or a part could not be read or
 * written. */
typedef void bucket_fix(unsigned char *bk, uint64_t b, void *arg);
static bool rewrite_buckets(const char *path, bucket_fix *fix, void *arg)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_val k = {5, "index"}, v;
    if (!meta_begin(path, &env, &txn, &meta))
        return false;
    bool ok = mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 104;
    uint64_t h[12] = {0};
    if (ok)
        memcpy(h, (const char *)v.mv_data + 8, sizeof h);
    uint64_t ntotal = h[1], shift = h[7], nparts = h[8], heap = h[9], pad = h[11];
    for (uint64_t part = 0; ok && part < nparts; part++) {
        char key[32];
        MDB_val pk = {(size_t)snprintf(key, sizeof key, "index.%llu", (unsigned long long)part),
                      key};
        unsigned char *copy = NULL;
        ok = mdb_get(txn, meta, &pk, &v) == 0 && (copy = malloc(v.mv_size)) != NULL;
        if (!ok)
            break;
        memcpy(copy, v.mv_data, v.mv_size);
        for (uint64_t b = 0; b < ntotal; b++) {
            uint64_t at = heap + b * 1024;
            if (at >> shift == part)
                fix(copy + pad + (at & ((1ULL << shift) - 1)), b, arg);
        }
        MDB_val nv = {v.mv_size, copy};
        ok = mdb_put(txn, meta, &pk, &nv, 0) == 0;
        free(copy);
    }
    return meta_end(env, txn) && ok;
}

/* The fixture of an older build's directory: the model's users imported by the build this
 * program is linked with (nine tenths fresh, the rest merged) into DIR/db. */
static int make_fixture(const char *dir, size_t n)
{
    char db[512], file[512], err[256];
    snprintf(db, sizeof db, "%s/db", dir);
    snprintf(file, sizeof file, "%s/users.csv", dir);
    generate(n, FIXTURE_SALT);
    dedup();
    size_t all = nusers, first = all - all / 10;
    cr_directory *d;
    if (cr_directory_open(db, true, &d, err, sizeof err) != CR_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    write_csv(file, 0, first);
    int rc = import(d, file, true);
    write_csv(file, first, all);
    if (rc == CR_OK)
        rc = import(d, file, false);
    cr_directory_close(d);
    unlink(file);
    free(users);
    return rc == CR_OK ? 0 : 1;
}

/* The directory's format ("format" in "meta"): '1', '2', or '?' when unreadable. */
static char dir_format(const char *path)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_val k = {6, "format"}, v;
    char f = '?';
    if (mdb_env_create(&env) != 0)
        return f;
    mdb_env_set_maxdbs(env, 4);
    if (mdb_env_open(env, path, MDB_NOTLS | MDB_RDONLY, 0664) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_dbi_open(txn, "meta", 0, &meta) == 0 && mdb_get(txn, meta, &k, &v) == 0 &&
            v.mv_size == 1)
            f = *(const char *)v.mv_data;
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return f;
}

/* The users export lists: one line each, none lost, in URI order (the CSV's lines). */
static void verify_export(cr_directory *d, const char *when)
{
    char *buf = NULL;
    size_t len = 0, lines = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(cr_directory_export(d, f, CR_DIR_CSV, NULL, 0) == CR_OK, "%s: export", when);
    fclose(f);
    const char *prev = NULL;
    for (char *p = buf ? strchr(buf, '\n') : NULL; p && p[1]; p = strchr(p + 1, '\n')) {
        lines++;
        CHECK(!prev || strncmp(prev, p + 1, 24) <= 0, "%s: export out of order at %.40s", when,
              p + 1);
        prev = p + 1;
    }
    CHECK(lines == nusers, "%s: export lists %zu users, expected %zu", when, lines, nusers);
    cr_directory_stats st;
    CHECK(cr_directory_stat(d, &st) == CR_OK && st.users == nusers, "%s: stat says %zu users", when,
          st.users);
    free(buf);
}

/* An older build's directory, unpacked from tests/users/fixtures/NAME into BASE/DB. */
static bool unpack(const char *base, const char *src, const char *name, char *db, size_t dblen)
{
    char cmd[2200];
    snprintf(db, dblen, "%s/%.8s", base, name);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && gzip -dc '%s/tests/users/fixtures/%s' > '%s/data.mdb'", db, src,
             name, db);
    if (system(cmd) != 0) {
        CHECK(false, "cannot unpack the fixture: %s", cmd);
        return false;
    }
    free(users);
    generate(FIXTURE_USERS, FIXTURE_SALT);
    dedup();
    return true;
}

/* A merging import into an older build's directory rewrites it in this build's format. */
static void merge_into_older(cr_directory *d, const char *db, const char *base, const char *when)
{
    char file[512], what[96];
    snprintf(file, sizeof file, "%s/more.csv", base);
    size_t nfix = nusers;
    free(users);
    generate(FIXTURE_USERS + 200, FIXTURE_SALT); /* the same users first, then more */
    dedup();
    write_csv(file, nfix, nusers);
    snprintf(what, sizeof what, "%s merged into", when);
    CHECK(import(d, file, false) == CR_OK, "merging import into %s", when);
    verify(d, what);
    verify_export(d, what);
    cr_directory_close(d);
    CHECK(dir_format(db) == '3' && index_version(db, -1) == 5,
          "after the merge: format %c, index %ld", dir_format(db), index_version(db, -1));
}

/* An older build's directory of format 1 (trees and a version 3 index) read as it is, then
 * through its trees alone (an index of a version this build does not know), then merged
 * into (format 3). */
static void older_directory(const char *base, const char *src)
{
    char db[512], err[256];
    if (!unpack(base, src, "format1-index3.mdb.gz", db, sizeof db))
        return;
    CHECK(dir_format(db) == '1' && index_version(db, -1) == 3,
          "the fixture is format %c, index %ld", dir_format(db), index_version(db, -1));
    cr_directory *d;
    CHECK(cr_directory_open(db, false, &d, err, sizeof err) == CR_OK, "open the fixture: %s", err);
    verify(d, "format 1, index 3");
    verify_export(d, "format 1, index 3");
    cr_directory_close(d);
    CHECK(index_version(db, 2) == 3, "index version");
    CHECK(cr_directory_open(db, false, &d, err, sizeof err) == CR_OK, "reopen: %s", err);
    verify(d, "format 1, trees");
    verify_export(d, "format 1, trees");
    merge_into_older(d, db, base, "format 1");
}

/* A directory of format 2 (tests/users/fixtures/format2-index4.mdb.gz: `dir_index_check
 * --make-fixture DIR 600` linked with main at 23ab698, copied with mdb_copy -c: the whole
 * index in one value) read as it is, then merged into (format 3); with an index of a version
 * this build does not know it is refused, naming the damage, never read as empty. */
static void format2_directory(const char *base, const char *src)
{
    char db[512], err[256];
    if (!unpack(base, src, "format2-index4.mdb.gz", db, sizeof db))
        return;
    CHECK(dir_format(db) == '2' && index_version(db, -1) == 4,
          "the fixture is format %c, index %ld", dir_format(db), index_version(db, -1));
    cr_directory *d;
    CHECK(cr_directory_open(db, false, &d, err, sizeof err) == CR_OK, "open the fixture: %s", err);
    verify(d, "format 2, index 4");
    verify_export(d, "format 2, index 4");
    merge_into_older(d, db, base, "format 2");
    if (!unpack(base, src, "format2-index4.mdb.gz", db, sizeof db))
        return;
    CHECK(index_version(db, 9) == 4, "index version");
    err[0] = 0;
    CHECK(cr_directory_open(db, false, &d, err, sizeof err) == CR_EIO &&
              strstr(err, "the lookup index is damaged (its header)"),
          "format 2 with an unknown index: %s", err);
}

/* The parts of the directory's index: the header's count, and -1 unless "index.0" .. up
 * to that count are there and no more. */
static long index_parts(const char *path)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_val k = {5, "index"}, v;
    long parts = -1;
    if (mdb_env_create(&env) != 0)
        return -1;
    mdb_env_set_maxdbs(env, 4);
    if (mdb_env_open(env, path, MDB_NOTLS | MDB_RDONLY, 0664) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        uint64_t n;
        if (mdb_dbi_open(txn, "meta", 0, &meta) == 0 && mdb_get(txn, meta, &k, &v) == 0 &&
            v.mv_size == 104) {
            memcpy(&n, (const char *)v.mv_data + 8 + 8 * 8, 8);
            parts = (long)n;
            for (uint64_t i = 0; i <= n; i++) {
                char key[32];
                MDB_val pk = {
                    (size_t)snprintf(key, sizeof key, "index.%llu", (unsigned long long)i), key};
                if ((mdb_get(txn, meta, &pk, &v) == 0) != (i < n))
                    parts = -1;
            }
        }
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return parts;
}

/* Sets the `own` field of every bucket of the directory's index (bytes 2-3 of each: the offset
 * of its first entry whose home it is) as `how` says: 0 zeroes it (what builds before it wrote),
 * 1 makes it what a damaged bucket may hold (odd, below the header, past the bucket's end),
 * 2 points it at a place inside an entry (8-byte aligned, below the bytes used). Returns the
 * buckets rewritten, -1 on failure; *set the buckets whose field was not 0 before. */
typedef struct own_fix {
    int how;
    long done, set;
} own_fix;

static void fix_own(unsigned char *bk, uint64_t b, void *arg)
{
    own_fix *f = arg;
    unsigned used = (unsigned)bk[0] | (unsigned)bk[1] << 8, own;
    f->set += bk[2] || bk[3];
    if (f->how == 0)
        own = 0;
    else if (f->how == 1)
        own = b % 3 == 0   ? 8 + 1 + (unsigned)(b % 7) * 2
              : b % 3 == 1 ? (unsigned)(b % 8)
                           : used + 8 + (unsigned)(b % 64) * 8;
    else
        own = used > 16 ? (8 + (unsigned)(b * 40) % (used - 8)) & ~7u : used;
    bk[2] = (unsigned char)(own & 0xFF);
    bk[3] = (unsigned char)(own >> 8);
    f->done++;
}

static long rewrite_own(const char *path, int how, long *set)
{
    own_fix f = {how, 0, 0};
    bool ok = rewrite_buckets(path, fix_own, &f);
    *set = f.set;
    return ok ? f.done : -1;
}

/* Every lookup of the model's users in a directory whose buckets are damaged: answers may be
 * wrong, but none crashes, reads outside the map or leaks (the sanitizer build). */
static void lookup_all(cr_directory *d)
{
    cr_dir_reader r;
    CHECK(cr_dir_reader_begin(d, NULL, &r) == CR_OK, "damaged buckets: no snapshot");
    r.uncached = true;
    for (size_t i = 0; i < nusers; i++) {
        const user *u = &users[i];
        if (u->number[0]) {
            (void)cr_dir_reader_by_number(&r, u->number, u->ext[0] ? u->ext : NULL);
            (void)cr_dir_reader_by_number(&r, u->number, NULL);
        }
        (void)cr_dir_reader_find(&r, u->uri);
        if (i % 64 == 63)
            cr_dir_reader_forget(&r);
    }
    cr_dir_reader_end(&r);
}

/* The buckets' `own` offsets: damaged ones are never trusted past the bucket (lookups do not
 * crash), and an index whose buckets lack them (zero: an import of a build before them) is
 * read right by scanning each bucket from its first entry. */
static void bucket_own(const char *db)
{
    char err[256];
    static const int hows[] = {1, 2, 0};
    for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
        int how = hows[i];
        long set, n = rewrite_own(db, how, &set);
        CHECK(n > 0, "rewriting the buckets' own offsets (%d): %ld", how, n);
        CHECK(i || set * 2 > n, "an import wrote the own offsets of %ld buckets of %ld", set, n);
        cr_directory *d;
        if (cr_directory_open(db, false, &d, err, sizeof err) != CR_OK) {
            CHECK(0, "open after rewriting the buckets (%d): %s", how, err);
            return;
        }
        if (how)
            lookup_all(d);
        else
            verify(d, "buckets without own offsets");
        cr_directory_close(d);
    }
}

static void fix_first_entry(unsigned char *bk, uint64_t b, void *arg)
{
    (void)b, (void)arg;
    if ((bk[0] | bk[1] << 8) > 8)
        memset(bk + 8 + 8, 0xFF, 4); /* the first entry's record length */
}

/* Damages the directory's index: `how` 0 its header (the magic), 1 the first entry of every
 * bucket (its record's length past the bucket: the users cannot be read in order). Returns
 * false when the directory could not be rewritten. */
static bool damage_index(const char *path, int how)
{
    if (how == 1)
        return rewrite_buckets(path, fix_first_entry, NULL);
    long magic = index_word(path, 0, -1);
    return magic >= 0 && index_word(path, 0, magic ^ 0xFF) == magic;
}

/* A directory whose index is damaged: a merging import fails with the damage's message (which
 * names the directory and asks for an import with --replace), and an import with --replace,
 * what it asks for, writes every user anew with a warning that the users it replaced could not
 * be counted. */
static void replace_damaged(const char *db, const char *file)
{
    for (int how = 0; how < 2; how++) {
        CHECK(damage_index(db, how), "damaging the index (%d)", how);
        cr_directory *d;
        char err[256];
        CHECK(how == 1 || cr_directory_open(db, false, &d, err, sizeof err) == CR_EIO,
              "a damaged index's header is refused when the directory is opened to be read");
        if (cr_directory_open(db, true, &d, err, sizeof err) != CR_OK) { /* as an import does */
            CHECK(0, "open of a damaged directory to import into it (%d): %s", how, err);
            return;
        }
        cr_diag diag;
        cr_diag_init(&diag);
        int rc = cr_directory_import(d, file, false, NULL, &diag);
        bool named = false;
        for (size_t i = 0; i < diag.count; i++)
            named |= diag.items[i].level == CR_DIAG_ERROR &&
                     strstr(diag.items[i].message, "damaged") != NULL &&
                     strstr(diag.items[i].message, "--replace") != NULL;
        CHECK(rc != CR_OK && (how == 1 || named),
              "a merging import into a damaged directory (%d): rc %d, the damage %s", how, rc,
              named ? "named" : "not named");
        cr_diag_free(&diag);
        cr_diag_init(&diag);
        cr_import_report rep;
        rc = cr_directory_import(d, file, true, &rep, &diag);
        bool warned = false;
        for (size_t i = 0; i < diag.count; i++) {
            if (diag.items[i].level == CR_DIAG_ERROR)
                fprintf(stderr, "%s:%d: %s\n", diag.items[i].file, diag.items[i].line,
                        diag.items[i].message);
            warned |= diag.items[i].level == CR_DIAG_WARNING &&
                      strstr(diag.items[i].message, "damaged") != NULL;
        }
        CHECK(rc == CR_OK && warned && rep.added == nusers,
              "an import with --replace over a damaged index (%d): rc %d, %s, %zu added", how, rc,
              warned ? "warned" : "no warning", rep.added);
        cr_diag_free(&diag);
        verify(d, how ? "replaced over damaged buckets" : "replaced over a damaged header");
        cr_directory_close(d);
    }
}

/* The voicemail of the user `number` reaches through reader r, looked up three times (found
 * once, kept the second time, answered from the cache of hot numbers the third); "-" for no
 * user, "?" when the three answers differ. */
static const char *voicemail_of(cr_dir_reader *r, const char *number)
{
    static char out[3][64];
    for (int i = 0; i < 3; i++) {
        const cr_user *u = cr_dir_reader_by_number(r, number, NULL);
        snprintf(out[i], sizeof out[i], "%s", !u ? "-" : u->voicemail ? u->voicemail : "(none)");
    }
    return strcmp(out[0], out[1]) || strcmp(out[1], out[2]) ? "?" : out[2];
}

static void import_text(cr_directory *d, const char *file, const char *text, bool replace)
{
    FILE *f = fopen(file, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    CHECK(f && import(d, file, replace) == CR_OK, "import of %s", text);
}

/* The cache of hot numbers never answers from another snapshot: a changed record, a number
 * moved to another user, a number removed; a reader begun before an import keeps its own
 * snapshot's answers, interleaved with one begun after. */
static void cache_never_stale(const char *base)
{
    char db[512], file[512], err[256];
    snprintf(db, sizeof db, "%s/hot", base);
    snprintf(file, sizeof file, "%s/hot.csv", base);
    cr_directory *d;
    CHECK(cr_directory_open(db, true, &d, err, sizeof err) == CR_OK, "open: %s", err);
    const char *n = "+14255550177";
    import_text(
        d, file,
        "uri,line,enterpriseVoice,voicemail\nsip:a@x.com,tel:+14255550177,true,sip:v1@x.com\n",
        true);
    cr_dir_reader before, after;
    CHECK(cr_dir_reader_begin(d, NULL, &before) == CR_OK, "snapshot");
    CHECK(strcmp(voicemail_of(&before, n), "sip:v1@x.com") == 0, "first: %s",
          voicemail_of(&before, n));
    import_text(
        d, file,
        "uri,line,enterpriseVoice,voicemail\nsip:a@x.com,tel:+14255550177,true,sip:v2@x.com\n",
        false);
    for (int round = 0; round < 2; round++) {
        CHECK(cr_dir_reader_begin(d, NULL, &after) == CR_OK, "snapshot");
        CHECK(strcmp(voicemail_of(&after, n), "sip:v2@x.com") == 0, "after the import: %s",
              voicemail_of(&after, n));
        CHECK(strcmp(voicemail_of(&before, n), "sip:v1@x.com") == 0, "the older snapshot: %s",
              voicemail_of(&before, n));
        cr_dir_reader_end(&after);
    }
    cr_dir_reader_end(&before);
    import_text(
        d, file,
        "uri,line,enterpriseVoice,voicemail\nsip:b@x.com,tel:+14255550177,true,sip:v3@x.com\n",
        true);
    CHECK(cr_dir_reader_begin(d, NULL, &after) == CR_OK, "snapshot");
    CHECK(strcmp(voicemail_of(&after, n), "sip:v3@x.com") == 0, "moved: %s",
          voicemail_of(&after, n));
    cr_dir_reader_end(&after);
    import_text(d, file, "uri,line,enterpriseVoice\nsip:c@x.com,tel:+14255550178,true\n", true);
    CHECK(cr_dir_reader_begin(d, NULL, &after) == CR_OK, "snapshot");
    CHECK(strcmp(voicemail_of(&after, n), "-") == 0, "removed: %s", voicemail_of(&after, n));
    after.uncached = true;
    CHECK(strcmp(voicemail_of(&after, "+14255550178"), "(none)") == 0, "uncached: %s",
          voicemail_of(&after, "+14255550178"));
    cr_dir_reader_end(&after);
    cr_directory_close(d);
}

/* Whether two users are the same in every field a lookup returns. */
static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_names(const cr_namelist *a, const cr_namelist *b)
{
    if (a->count != b->count)
        return false;
    for (uint32_t i = 0; i < a->count; i++)
        if (!same_str(a->names[i], b->names[i]))
            return false;
    return true;
}

static bool same_user(const cr_user *a, const cr_user *b)
{
    if (!a || !b)
        return a == b;
    return same_str(a->uri, b->uri) && same_str(a->line, b->line) &&
           same_str(a->line_number, b->line_number) && same_str(a->line_ext, b->line_ext) &&
           a->enterprise_voice == b->enterprise_voice && same_str(a->policy, b->policy) &&
           same_str(a->profile, b->profile) && a->policy_idx == b->policy_idx &&
           a->profile_idx == b->profile_idx &&
           same_str(a->simultaneous_ring, b->simultaneous_ring) &&
           same_str(a->forwarding.immediate, b->forwarding.immediate) &&
           a->forwarding.no_answer_after == b->forwarding.no_answer_after &&
           same_str(a->forwarding.no_answer_target, b->forwarding.no_answer_target) &&
           a->team_call_delay == b->team_call_delay && same_names(&a->team_call, &b->team_call) &&
           same_names(&a->delegates, &b->delegates) && same_str(a->voicemail, b->voicemail) &&
           same_str(a->loc.file, b->loc.file) && a->pbx_integration == b->pbx_integration;
}

/* The users of cache_exact: every field set and none, lines with and without an extension
 * (the cache copies a record without its line, number and extension when the key says them),
 * two users with an extension on one number (the bare number answers the first), and what the
 * cache does not keep: an extension or a number too long to pack, a record larger than
 * CR_DIR_HOT_RECORD, more team members than a reader's slot holds. */
static const struct {
    const char *number, *ext;
    bool kept; /* answered from the cache the third time */
} exact_lookups[] = {
    {"+14255550101", NULL, true},
    {"+14255550102", "7", true},
    {"+14255550102", NULL, true},
    {"+14255550102", "8", true},
    {"+14255550103", "123456789", false},
    {"+14255550103", NULL, true},
    {"+142555501041234567", NULL, false},
    {"+14255550105", NULL, false},
    {"+14255550106", NULL, false},
    {"5550107", NULL, true},
    {"+14255550108", "1", true},
    {"+14255550108", "2", true},
    {"+14255550108", NULL, true},
    {"+14255550108", "3", true},
    {"*88#", NULL, true},
    {"+14255550109", NULL, true},
};

static void write_exact_users(const char *file)
{
    FILE *f = fopen(file, "w");
    CHECK(f != NULL, "%s", file);
    if (!f)
        return;
    fputs("uri,line,enterpriseVoice,voicePolicy,locationProfile,voicemail,simultaneousRing,"
          "forwardImmediate,noAnswerAfter,noAnswerTarget,teamCallDelay,teamCall,delegates,"
          "pbxIntegration\n",
          f);
    fputs("sip:all@x,tel:+14255550101,true,PA,PB,sip:v@x,+12065550101,sip:f@x,25,sip:n@x,9,"
          "sip:t1@x sip:t2@x,sip:d1@x,true\n",
          f); /* every field, in one way of the cache */
    fputs("sip:none@x.com,tel:+14255550102;ext=7,false,,,,,,,,,,,\n", f);
    fputs("sip:longext@x.com,tel:+14255550103;ext=123456789,true,,,,,,,,,,,\n", f);
    fputs("sip:longnum@x.com,tel:+142555501041234567,true,,,,,,,,,,,\n", f);
    fprintf(f, "sip:big@x.com,tel:+14255550105,true,,,sip:%0200d@x.com,,,,,,,,\n", 5);
    fputs("sip:team@x.com,tel:+14255550106,true,,,,,,,,10,", f);
    for (int i = 0; i < 20; i++)
        fprintf(f, "%ssip:m%d@x.com", i ? " " : "", i);
    fputs(",,\n", f);
    fputs("sip:private@x.com,tel:5550107,true,Policy A,,,,,,,,,,\n", f);
    fputs("sip:ext1@x.com,tel:+14255550108;ext=1,true,,,sip:e1-vm@x.com,,,,,,,,\n", f);
    fputs("sip:ext2@x.com,tel:+14255550108;ext=2,true,,,sip:e2-vm@x.com,,,,,,,,\n", f);
    fputs("sip:star@x.com,tel:*88#,true,,,,,,,,,,,\n", f);
    fputs("sip:wide@x.com,tel:+14255550109,true,A policy with a long name,,sip:wide-vm@x.com,"
          "+12065550109,,,,5,sip:member-one@x.com sip:member-two@x.com,,\n",
          f); /* in two ways */
    fclose(f);
}

/* Every field of what the cache answers is what the map holds: each lookup of
 * exact_lookups three times through the cache (found, kept, answered) against a reader
 * without it, and the cache's count of answers says which were kept. */
static void cache_exact(const char *base)
{
    char db[512], file[512], err[256];
    snprintf(db, sizeof db, "%s/exact", base);
    snprintf(file, sizeof file, "%s/exact.csv", base);
    cr_directory *d;
    CHECK(cr_directory_open(db, true, &d, err, sizeof err) == CR_OK, "open: %s", err);
    write_exact_users(file);
    CHECK(import(d, file, true) == CR_OK, "import of the users for cache_exact");
    cr_dir_reader plain, hot;
    CHECK(cr_dir_reader_begin(d, NULL, &plain) == CR_OK, "snapshot");
    plain.uncached = true;
    for (size_t i = 0; i < sizeof exact_lookups / sizeof exact_lookups[0]; i++) {
        const char *num = exact_lookups[i].number, *ext = exact_lookups[i].ext;
        const cr_user *want = cr_dir_reader_by_number(&plain, num, ext);
        CHECK(want != NULL, "%s;ext=%s: no user", num, ext ? ext : "");
        CHECK(cr_dir_reader_begin(d, NULL, &hot) == CR_OK, "snapshot");
        size_t hits = cr_dir_hot_count().hits;
        for (int round = 0; round < 3; round++) {
            const cr_user *got = cr_dir_reader_by_number(&hot, num, ext);
            CHECK(same_user(got, want), "%s;ext=%s, lookup %d: %s differs from %s", num,
                  ext ? ext : "", round + 1, uri_of(got), uri_of(want));
        }
        size_t answered = cr_dir_hot_count().hits - hits;
        CHECK(answered == (exact_lookups[i].kept ? 1u : 0u),
              "%s;ext=%s: %zu answers from the cache", num, ext ? ext : "", answered);
        cr_dir_reader_end(&hot);
    }
    cr_dir_reader_end(&plain);
    cr_directory_close(d);
}

/* Readers of more snapshots than the cache remembers generations for, interleaved: each
 * answers from its own snapshot; then again in a thread of its own whose cache runs out of
 * generations every five snapshots (CALLROUTE_DIR_HOT_GENS, read when a thread's cache is
 * made: the table is emptied and they start again). */
static void *many_snapshots(void *arg);

static void cache_many_snapshots(const char *base)
{
    many_snapshots((void *)base);
    setenv("CALLROUTE_DIR_HOT_GENS", "5", 1);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, many_snapshots, (void *)base) == 0, "thread");
    pthread_join(th, NULL);
    unsetenv("CALLROUTE_DIR_HOT_GENS");
}

static void *many_snapshots(void *arg)
{
    const char *base = arg;
    char db[512], file[512], err[256], text[256];
    snprintf(db, sizeof db, "%s/snaps", base);
    snprintf(file, sizeof file, "%s/snaps.csv", base);
    cr_directory *d;
    CHECK(cr_directory_open(db, true, &d, err, sizeof err) == CR_OK, "open: %s", err);
    enum { SNAPS = 12 };
    cr_dir_reader r[SNAPS];
    for (int i = 0; i < SNAPS; i++) {
        snprintf(text, sizeof text,
                 "uri,line,enterpriseVoice,voicemail\nsip:a@x.com,tel:+14255550177,true,"
                 "sip:v%d@x.com\n",
                 i);
        import_text(d, file, text, true);
        CHECK(cr_dir_reader_begin(d, NULL, &r[i]) == CR_OK, "snapshot %d", i);
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < SNAPS; i++) {
            char want[32];
            snprintf(want, sizeof want, "sip:v%d@x.com", (i * 5 + round) % SNAPS);
            int k = (i * 5 + round) % SNAPS;
            CHECK(strcmp(voicemail_of(&r[k], "+14255550177"), want) == 0,
                  "snapshot %d of %d, round %d: %s", k, SNAPS, round,
                  voicemail_of(&r[k], "+14255550177"));
        }
    for (int i = 0; i < SNAPS; i++)
        cr_dir_reader_end(&r[i]);
    cr_directory_close(d);
    return NULL;
}

int main(int argc, char **argv)
{
    size_t n = 20000;
    const char *src = getenv("CR_SOURCE_DIR");
    if (argc == 4 && strcmp(argv[1], "--make-fixture") == 0)
        return make_fixture(argv[2], strtoul(argv[3], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "--users") == 0)
        n = strtoul(argv[2], NULL, 10);
    if (n < 100 || !src)
        return 2;
    char base[] = "/tmp/cr_dirindex_XXXXXX", db[64], file[64];
    if (!mkdtemp(base))
        return 2;
    snprintf(db, sizeof db, "%s/db", base);
    snprintf(file, sizeof file, "%s/users.csv", base);
    generate(n, 0);
    dedup();
    size_t all = nusers, first = all - all / 10; /* the last tenth comes by a merging import */
    cr_directory *d;
    char err[256];
    if (cr_directory_open(db, true, &d, err, sizeof err) != CR_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    write_csv(file, 0, first);
    CHECK(import(d, file, true) == CR_OK, "fresh import");
    nusers = first;
    verify(d, "fresh import");
    verify(d, "fresh import, from the cache of hot numbers"); /* every number found before */
    verify_export(d, "fresh import");
    write_csv(file, first, all);
    CHECK(import(d, file, false) == CR_OK, "merging import");
    nusers = all;
    verify(d, "merged");
    verify_export(d, "merged");
    /* the same file again: every user replaced, the lines they held taken again */
    CHECK(import(d, file, false) == CR_OK, "merging import again");
    verify(d, "merged again");
    write_csv(file, 0, all);
    CHECK(import(d, file, true) == CR_OK, "import with replace");
    verify(d, "replaced");
    long parts = index_parts(db);
    /* fewer users: the larger index's last parts go */
    write_csv(file, 0, all / 2);
    CHECK(import(d, file, true) == CR_OK, "import with replace, half");
    long half = index_parts(db);
    CHECK(half > 0 && (half < parts || parts == 1), "parts: %ld, then %ld", parts, half);
    write_csv(file, 0, all);
    CHECK(import(d, file, true) == CR_OK, "import with replace, all");
    verify(d, "replaced after half");
    const char *part = getenv("CALLROUTE_DIR_PART");
    CHECK(!part || !*part || index_parts(db) > 100, "%ld parts of %s bytes", index_parts(db), part);
    printf("%ld parts\n", index_parts(db));
    cr_directory_close(d);
    long was = index_version(db, -1);
    CHECK(was == 5 && dir_format(db) == '3', "index version %ld, format %c after an import", was,
          dir_format(db));

    bucket_own(db);
    replace_damaged(db, file);
    older_directory(base, src);
    format2_directory(base, src);
    cache_never_stale(base);
    cache_exact(base);
    cache_many_snapshots(base);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    printf("%zu users, %d failures\n", all, failures);
    free(users);
    return failures ? 1 : 0;
}

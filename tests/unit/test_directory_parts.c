/*
 * The directory's lookup index in parts (directory format 3, index version 5): an index of
 * many parts answers every user, a re-import with fewer users leaves no part behind, and a
 * damaged index is refused at open with a message naming the damage (a part missing or of
 * the wrong length, a header that does not add up), or, when only the bytes inside buckets
 * are damaged, answers nothing wrong and never crashes. Parts of 4 KB (CALLROUTE_DIR_PART)
 * give a part boundary every four buckets from a few thousand users.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lmdb.h>

#include "cr_directory.h"
#include "testutil.h"

#define USERS 3000

static char dir[64];
static cr_directory *db;

/* User i: a line for most (an extension on every fifth), none for every 50th; every 97th
 * has a record larger than a bucket (a long team call list: its entry is in the tail). */
static void number_of(int i, char *num, size_t len, char *ext, size_t elen)
{
    snprintf(num, len, "+1425%07d", i * 7);
    snprintf(ext, elen, "%s", i % 5 == 4 ? "42" : "");
}

static void write_users(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("uri,line,enterpriseVoice,teamCall\n", f);
    for (int i = 0; i < n; i++) {
        char num[32], ext[8];
        number_of(i, num, sizeof num, ext, sizeof ext);
        fprintf(f, "sip:u%d@contoso.com,", i);
        if (i % 50 != 49)
            fprintf(f, "tel:%s%s%s", num, *ext ? ";ext=" : "", ext);
        fputs(",true,", f);
        for (int t = 0; i % 97 == 0 && t < 60; t++)
            fprintf(f, "%ssip:member%d-of-a-long-team@contoso.com", t ? " " : "", t);
        fputc('\n', f);
    }
    fclose(f);
}

static int import_users(int n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/users.csv", dir);
    write_users(path, n);
    cr_diag d;
    cr_diag_init(&d);
    int rc = cr_directory_import(db, path, true, NULL, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s:%d: %s\n", d.items[i].file, d.items[i].line, d.items[i].message);
    cr_diag_free(&d);
    return rc;
}

static int small_parts(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cr_dir_parts_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    setenv("CALLROUTE_DIR_PART", "4096", 1);
    if (cr_directory_open(dir, true, &db, NULL, 0) != CR_OK)
        return -1;
    return import_users(USERS) == CR_OK ? 0 : -1;
}

static int drop(void **state)
{
    (void)state;
    unsetenv("CALLROUTE_DIR_PART");
    cr_directory_close(db);
    db = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the meta table, edited behind the directory's back (closed meanwhile) --------------- */

typedef struct meta_edit {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
} meta_edit;

static void edit_begin(meta_edit *m)
{
    cr_directory_close(db);
    db = NULL;
    assert_int_equal(mdb_env_create(&m->env), 0);
    mdb_env_set_maxdbs(m->env, 4);
    mdb_env_set_mapsize(m->env, 1ULL << 30);
    assert_int_equal(mdb_env_open(m->env, dir, MDB_NOTLS, 0664), 0);
    assert_int_equal(mdb_txn_begin(m->env, NULL, 0, &m->txn), 0);
    assert_int_equal(mdb_dbi_open(m->txn, "meta", 0, &m->meta), 0);
}

static void edit_end(meta_edit *m)
{
    assert_int_equal(mdb_txn_commit(m->txn), 0);
    mdb_env_close(m->env);
}

static MDB_val part_key(char *buf, size_t len, uint64_t k)
{
    return (MDB_val){(size_t)snprintf(buf, len, "index.%llu", (unsigned long long)k), buf};
}

/* The header's field i (uint64, after magic and version). */
static uint64_t header_field(meta_edit *m, int i)
{
    MDB_val k = {5, "index"}, v;
    assert_int_equal(mdb_get(m->txn, m->meta, &k, &v), 0);
    assert_int_equal(v.mv_size, 104);
    uint64_t f;
    memcpy(&f, (const char *)v.mv_data + 8 + 8 * i, 8);
    return f;
}

#define H_NPARTS 8
#define H_HEAP   9

static char *reopen_error(void)
{
    static char err[512];
    err[0] = 0;
    cr_directory *d = NULL;
    if (cr_directory_open(dir, false, &d, err, sizeof err) == CR_OK) {
        db = d;
        return NULL;
    }
    return err;
}

/* How many parts the header names, each checked to be there, and none after; the directory
 * open again. */
static uint64_t parts_now(void)
{
    meta_edit m;
    edit_begin(&m);
    uint64_t n = header_field(&m, H_NPARTS);
    char key[32];
    MDB_val v;
    for (uint64_t k = 0; k <= n; k++) {
        MDB_val pk = part_key(key, sizeof key, k);
        assert_int_equal(mdb_get(m.txn, m.meta, &pk, &v) == 0, k < n);
    }
    mdb_txn_abort(m.txn);
    mdb_env_close(m.env);
    assert_null(reopen_error());
    return n;
}

/* ---- lookups ------------------------------------------------------------------------------- */

/* Every user by number (with its extension, and the bare number for an extension) and by
 * URI; with `damaged`, an answer may be missing but never another user's. Returns how many
 * were found. */
static int look_up_all(bool damaged)
{
    cr_dir_reader r;
    assert_int_equal(cr_dir_reader_begin(db, NULL, &r), CR_OK);
    r.uncached = true;
    int found = 0;
    for (int i = 0; i < USERS; i++) {
        char num[32], ext[8], uri[64];
        number_of(i, num, sizeof num, ext, sizeof ext);
        snprintf(uri, sizeof uri, "sip:u%d@contoso.com", i);
        const cr_user *byuri = cr_dir_reader_find(&r, uri);
        const cr_user *bynum = cr_dir_reader_by_number(&r, num, *ext ? ext : NULL);
        bool lined = i % 50 != 49;
        if (!damaged) {
            assert_non_null(byuri);
            assert_true(lined ? bynum != NULL : bynum == NULL);
        }
        if (byuri)
            assert_string_equal(byuri->uri, uri);
        if (bynum) {
            assert_true(lined);
            assert_string_equal(bynum->uri, uri);
        }
        found += (byuri != NULL) + (bynum != NULL);
        if (i % 64 == 63)
            cr_dir_reader_forget(&r);
    }
    cr_dir_reader_end(&r);
    return found;
}

static void an_index_of_many_parts_answers_every_user(void **state)
{
    (void)state;
    assert_true(parts_now() > 50);
    look_up_all(false);
    cr_directory_stats st;
    assert_int_equal(cr_directory_stat(db, &st), CR_OK);
    assert_int_equal(st.users, USERS);
    /* the export walks every user in URI order through the parts */
    char path[128];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(cr_directory_export(db, f, CR_DIR_CSV, NULL, 0), CR_OK);
    long size = ftell(f);
    fclose(f);
    assert_true(size > USERS * 20);
}

static void a_smaller_import_leaves_no_part_behind(void **state)
{
    (void)state;
    uint64_t before = parts_now();
    assert_int_equal(import_users(USERS / 3), CR_OK);
    assert_true(parts_now() < before);
    assert_int_equal(import_users(USERS), CR_OK);
    assert_int_equal(parts_now(), before);
    look_up_all(false);
}

static void a_missing_part_is_refused_naming_it(void **state)
{
    (void)state;
    meta_edit m;
    edit_begin(&m);
    uint64_t n = header_field(&m, H_NPARTS);
    char key[32];
    MDB_val pk = part_key(key, sizeof key, n / 2);
    assert_int_equal(mdb_del(m.txn, m.meta, &pk, NULL), 0);
    edit_end(&m);
    char *err = reopen_error();
    assert_non_null(err);
    char want[96];
    snprintf(want, sizeof want, "the lookup index is damaged (part %llu of %llu is missing)",
             (unsigned long long)(n / 2 + 1), (unsigned long long)n);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "callroute users import"));
}

static void a_part_of_the_wrong_length_is_refused(void **state)
{
    (void)state;
    meta_edit m;
    edit_begin(&m);
    char key[32], half[2048];
    memset(half, 0, sizeof half);
    MDB_val pk = part_key(key, sizeof key, 3), v = {sizeof half, half};
    assert_int_equal(mdb_put(m.txn, m.meta, &pk, &v, 0), 0);
    edit_end(&m);
    char *err = reopen_error();
    assert_non_null(err);
    assert_non_null(strstr(err, "part 4 of"));
    assert_non_null(strstr(err, "has the wrong length"));
}

static void a_header_that_does_not_add_up_is_refused(void **state)
{
    (void)state;
    meta_edit m;
    edit_begin(&m);
    MDB_val k = {5, "index"}, v;
    assert_int_equal(mdb_get(m.txn, m.meta, &k, &v), 0);
    unsigned char head[104];
    memcpy(head, v.mv_data, sizeof head);
    uint64_t heap = header_field(&m, H_HEAP) + 1024; /* the heap said to start a bucket later */
    memcpy(head + 8 + 8 * H_HEAP, &heap, 8);
    MDB_val nv = {sizeof head, head};
    assert_int_equal(mdb_put(m.txn, m.meta, &k, &nv, 0), 0);
    edit_end(&m);
    char *err = reopen_error();
    assert_non_null(err);
    assert_non_null(strstr(err, "the lookup index is damaged (its header)"));
}

/* Parts [from, to) overwritten with `byte` (or random bytes when byte < 0). */
static void scribble(uint64_t from, uint64_t to, int byte)
{
    meta_edit m;
    edit_begin(&m);
    srand(17);
    for (uint64_t p = from; p < to && p < header_field(&m, H_NPARTS); p++) {
        char key[32];
        MDB_val pk = part_key(key, sizeof key, p), v;
        assert_int_equal(mdb_get(m.txn, m.meta, &pk, &v), 0);
        unsigned char *copy = malloc(v.mv_size);
        assert_non_null(copy);
        for (size_t i = 0; i < v.mv_size; i++)
            copy[i] = (unsigned char)(byte < 0 ? rand() : byte);
        MDB_val nv = {v.mv_size, copy};
        assert_int_equal(mdb_put(m.txn, m.meta, &pk, &nv, 0), 0);
        free(copy);
    }
    edit_end(&m);
}

static void damaged_buckets_answer_nothing_wrong_and_never_crash(void **state)
{
    (void)state;
    uint64_t n = parts_now();
    int all = look_up_all(false);
    for (int byte = -1; byte < 256; byte += 128) { /* random, 0x7f, 0xff */
        scribble(n / 2, n / 2 + 3, byte);
        assert_null(reopen_error()); /* lengths and header intact: opened */
        int found = look_up_all(true);
        assert_true(found < all);
        assert_true(found > all / 2);
        char path[128];
        snprintf(path, sizeof path, "%s/out.csv", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        cr_directory_export(db, f, CR_DIR_CSV, NULL, 0); /* an error or not: no crash */
        fclose(f);
    }
    /* the URI table and the order (the first parts) damaged too */
    scribble(0, 2, -1);
    assert_null(reopen_error());
    look_up_all(true);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, small_parts, drop)
    const struct CMUnitTest tests[] = {
        T(an_index_of_many_parts_answers_every_user),
        T(a_smaller_import_leaves_no_part_behind),
        T(a_missing_part_is_refused_naming_it),
        T(a_part_of_the_wrong_length_is_refused),
        T(a_header_that_does_not_add_up_is_refused),
        T(damaged_buckets_answer_nothing_wrong_and_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

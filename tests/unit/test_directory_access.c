/*
 * The user directory where it may not write: read-only mounts, files of another user, a full
 * file system, and links planted in the directory. Tests that need root (to mount a small
 * tmpfs or to become another user) skip themselves where that is not permitted.
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cr_directory.h"
#include "testutil.h"

#define NOBODY 65534

static char dir[64];
static bool mounted;

static int make_dir(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cr_dir_access_XXXXXX");
    mounted = false;
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    if (mounted)
        umount2(dir, MNT_DETACH);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A tmpfs of `kb` KB on dir, or the test is skipped. */
static void mount_small(int kb)
{
    char opts[32];
    snprintf(opts, sizeof opts, "size=%dk,mode=0755", kb);
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
        fprintf(stderr, "cannot mount a tmpfs (%s): skipped\n", strerror(errno));
        skip();
    }
    mounted = true;
}

static const char *write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int import(cr_directory *d, const char *file, cr_diag *diag)
{
    cr_diag_init(diag);
    int rc = cr_directory_import(d, file, false, NULL, diag);
    for (size_t i = 0; i < diag->count; i++)
        fprintf(stderr, "  diag: %s:%d: %s\n", diag->items[i].file, diag->items[i].line,
                diag->items[i].message);
    return rc;
}

/* A directory holding one user, closed again. */
static void make_db(const char *db)
{
    char csv[160];
    snprintf(csv, sizeof csv, "%s.csv", db);
    write_file(csv, "uri,line\nsip:alice@contoso.com,tel:+14255550100\n");
    cr_directory *d = NULL;
    assert_int_equal(cr_directory_open(db, true, &d, NULL, 0), CR_OK);
    cr_diag diag;
    assert_int_equal(import(d, csv, &diag), CR_OK);
    cr_diag_free(&diag);
    cr_directory_close(d);
}

/* Opens db for reading and finds alice; 0 when both worked, else the open's code; the error
 * text in err. */
static int read_alice(const char *db, char *err, size_t errlen)
{
    cr_directory *d = NULL;
    int rc = cr_directory_open(db, false, &d, err, errlen);
    if (rc != CR_OK)
        return rc;
    cr_dir_reader r;
    rc = cr_dir_reader_begin(d, NULL, &r);
    if (rc == CR_OK) {
        rc = cr_dir_reader_find(&r, "sip:alice@contoso.com") ? CR_OK : CR_ENOENT;
        cr_dir_reader_end(&r);
    }
    cr_directory_close(d);
    return rc;
}

static void a_read_only_mount_is_read(void **state)
{
    mount_small(1024);
    char db[96], err[512] = "";
    snprintf(db, sizeof db, "%s/db", dir);
    make_db(db);
    if (mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0) {
        fprintf(stderr, "cannot remount read-only (%s): skipped\n", strerror(errno));
        skip();
    }
    int rc = read_alice(db, err, sizeof err);
    if (rc != CR_OK)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, CR_OK);
}

/* In a child that became `nobody`: the directory of root's files is readable, not writable. */
static int read_as_nobody(const char *db, bool immutable, char *err, size_t errlen)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(77);
        if (immutable)
            setenv("CALLROUTE_DB_IMMUTABLE", "1", 1);
        char e[512] = "";
        int rc = read_alice(db, e, sizeof e);
        if (write(fds[1], e, strlen(e) + 1) < 0)
            _exit(78);
        _exit(rc == CR_OK ? 0 : -rc);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], err, errlen - 1);
    err[n > 0 ? n : 0] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        fprintf(stderr, "cannot become nobody: skipped\n");
        skip();
    }
    return WIFEXITED(st) ? -WEXITSTATUS(st) : -100;
}

static void a_reader_without_write_access_is_told_why_or_reads_an_immutable_directory(void **s)
{
    if (geteuid() != 0)
        skip();
    char db[96], err[512];
    snprintf(db, sizeof db, "%s/db", dir);
    make_db(db);
    chmod(dir, 0755);
    chmod(db, 0755);
    /* lock.mdb is root's 0644: LMDB needs it writable for its reader table */
    int rc = read_as_nobody(db, false, err, sizeof err);
    fprintf(stderr, "as nobody: %s\n", err);
    assert_int_equal(rc, CR_EIO);
    assert_non_null(strstr(err, "Permission denied"));
    assert_non_null(strstr(err, "CALLROUTE_DB_IMMUTABLE=1"));
    /* declared immutable: read-only, without the lock file */
    rc = read_as_nobody(db, true, err, sizeof err);
    if (rc != CR_OK)
        fprintf(stderr, "as nobody, immutable: %s\n", err);
    assert_int_equal(rc, CR_OK);
}

static void a_full_file_system_is_reported_as_no_space(void **state)
{
    mount_small(512);
    char db[96], csv[96];
    snprintf(db, sizeof db, "%s/db", dir);
    snprintf(csv, sizeof csv, "/tmp/cr_dir_full_%d.csv", (int)getpid());
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("uri,line\n", f);
    for (int i = 0; i < 20000; i++)
        fprintf(f, "sip:user%d@contoso.com,tel:+1425%07d\n", i, i);
    fclose(f);
    cr_directory *d = NULL;
    assert_int_equal(cr_directory_open(db, true, &d, NULL, 0), CR_OK);
    cr_diag diag;
    int rc = import(d, csv, &diag);
    unlink(csv);
    assert_int_equal(rc, CR_EIO);
    assert_int_equal(diag.errors, 1);
    assert_non_null(strstr(diag.items[0].message, "No space left on device"));
    cr_diag_free(&diag);
    cr_directory_close(d);
}

/* Someone who can write into the directory plants data.mdb (or lock.mdb) as a link to a file
 * of ours: the directory is refused, the file untouched. */
static void a_planted_link_is_refused(void **state)
{
    static const char *const names[] = {"data.mdb", "lock.mdb"};
    for (int i = 0; i < 2; i++) {
        char db[96], victim[96], link[128], err[512] = "";
        snprintf(db, sizeof db, "%s/db%d", dir, i);
        snprintf(victim, sizeof victim, "%s/victim%d", dir, i);
        snprintf(link, sizeof link, "%s/%s", db, names[i]);
        assert_int_equal(mkdir(db, 0755), 0);
        write_file(victim, "precious\n");
        assert_int_equal(symlink(victim, link), 0);
        cr_directory *d = NULL;
        assert_int_equal(cr_directory_open(db, true, &d, err, sizeof err), CR_EIO);
        assert_non_null(strstr(err, names[i]));
        assert_non_null(strstr(err, "is not a regular file (a symbolic link): refused"));
        char *text = cr_test_slurp(victim);
        assert_string_equal(text, "precious\n");
        free(text);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_read_only_mount_is_read),
        T(a_reader_without_write_access_is_told_why_or_reads_an_immutable_directory),
        T(a_full_file_system_is_reported_as_no_space),
        T(a_planted_link_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * An admin's plan image read in place under a read lease (rules/plan_file.c, cr_image_lease),
 * and the stamp that lets a later start skip the check of its records: trusted only for the
 * very file it was written for (identity, size, times, checksum, format, library build),
 * written by the effective user and writable by nobody else. The checksum is computed on every
 * lease, so damaged bytes are refused whatever the stamp says.
 */
#define _GNU_SOURCE /* F_GETLEASE */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cr_image.h"
#include "cr_rules.h"
#include "testutil.h"

typedef struct lease_env {
    char dir[32]; /* the runtime directory: the stamps */
    char img[96]; /* the admin's image */
    char stamp[512];
} lease_env;

static void env_open(lease_env *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/crleaseXXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->img, sizeof e->img, "%s/contoso.plan", e->dir);
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    assert_int_equal(cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &cfg, &d), CR_OK);
    char err[512];
    assert_int_equal(cr_image_write(e->img, cfg, 0, NULL, err, sizeof err), CR_OK);
    cr_config_free(cfg);
    cr_diag_free(&d);
    assert_true(cr_image_stamp_path(e->dir, e->img, e->stamp, sizeof e->stamp));
}

static void env_close(lease_env *e)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    assert_int_equal(system(cmd), 0);
}

/* Leases e->img; returns the code, *stamped whether the stamp was trusted. */
static int lease(lease_env *e, bool *stamped, bool write_stamp)
{
    cr_image_leased l;
    char err[1024];
    int rc = cr_image_lease(e->img, e->dir, &l, err, sizeof err);
    if (rc == CR_OK && !l.stamped) /* computed meanwhile: accepted before anything trusts it */
        assert_int_equal(cr_image_lease_sum(&l, e->img, err, sizeof err), CR_OK);
    *stamped = rc == CR_OK && l.stamped;
    if (rc == CR_OK && write_stamp)
        assert_int_equal(cr_image_stamp_write(e->dir, e->img, &l), CR_OK);
    if (rc != CR_OK)
        assert_false(l.fallback); /* the image refused, not the lease */
    cr_image_unmap(&l.map);
    cr_image_lease_release(&l);
    return rc;
}

static void read_stamp(const lease_env *e, cr_image_stamp *s)
{
    FILE *f = fopen(e->stamp, "rb");
    assert_non_null(f);
    assert_int_equal(fread(s, sizeof *s, 1, f), 1);
    fclose(f);
}

static void write_stamp(const lease_env *e, const cr_image_stamp *s)
{
    unlink(e->stamp);
    int fd = open(e->stamp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, sizeof *s), (ssize_t)sizeof *s);
    close(fd);
}

/* Flips one byte of the image at path (in a record, past the header). */
static void flip_byte(const char *path)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    char c;
    assert_int_equal(pread(fd, &c, 1, 4000), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(fd, &c, 1, 4000), 1);
    close(fd);
}

/* Flips a byte of the stamped image and forges its stamp to match the file's new times: only
 * the checksum can then refuse it. */
static void flip_byte_under_forged_stamp(const lease_env *e)
{
    cr_image_stamp s;
    read_stamp(e, &s);
    flip_byte(e->img);
    struct stat sb;
    assert_int_equal(stat(e->img, &sb), 0);
    s.mtime_s = sb.st_mtim.tv_sec;
    s.mtime_ns = sb.st_mtim.tv_nsec;
    s.ctime_s = sb.st_ctim.tv_sec;
    s.ctime_ns = sb.st_ctim.tv_nsec;
    write_stamp(e, &s);
}

/* The first lease checks everything and finds no stamp; once stamped, the same file is
 * trusted; a stamp written as a link is not followed. */
static void test_stamp_trusted_for_the_same_file(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    bool stamped;
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    assert_int_equal(lease(&e, &stamped, true), CR_OK);
    assert_false(stamped);
    struct stat sb;
    assert_int_equal(stat(e.stamp, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_true(stamped);
    /* a link to a good stamp is not followed */
    char real[600];
    snprintf(real, sizeof real, "%s.real", e.stamp);
    assert_int_equal(rename(e.stamp, real), 0);
    assert_int_equal(symlink(real, e.stamp), 0);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    env_close(&e);
}

/* Any write to the file changes its change time: the stamp no longer matches, even when the
 * bytes written are the same. */
static void test_changed_file_ignores_stamp(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    bool stamped;
    assert_int_equal(lease(&e, &stamped, true), CR_OK);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_true(stamped);
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s %s.x && cat %s.x > %s", e.img, e.img, e.img, e.img);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    /* a chmod changes the change time too */
    assert_int_equal(lease(&e, &stamped, true), CR_OK);
    nanosleep(&ts, NULL);
    assert_int_equal(chmod(e.img, 0640), 0);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    env_close(&e);
}

/* A stamp owned by someone else, or writable by group or others, is not trusted. */
static void test_foreign_or_writable_stamp_ignored(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    bool stamped;
    assert_int_equal(lease(&e, &stamped, true), CR_OK);
    assert_int_equal(chmod(e.stamp, 0620), 0);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    assert_int_equal(chmod(e.stamp, 0602), 0);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    assert_int_equal(chmod(e.stamp, 0600), 0);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_true(stamped);
    if (geteuid() == 0) { /* only root can give a file away */
        assert_int_equal(chown(e.stamp, 65534, 65534), 0);
        assert_int_equal(lease(&e, &stamped, false), CR_OK);
        assert_false(stamped);
    }
    env_close(&e);
}

/* A flipped byte whose stamp was made to match the file's new identity and times is refused by
 * the checksum, which every lease computes. */
static void test_flipped_byte_refused_despite_stamp(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    bool stamped;
    assert_int_equal(lease(&e, &stamped, true), CR_OK);
    flip_byte_under_forged_stamp(&e);
    cr_image_leased l;
    char err[1024];
    assert_int_not_equal(cr_image_lease(e.img, e.dir, &l, err, sizeof err), CR_OK);
    assert_false(l.fallback);
    assert_non_null(strstr(err, "checksum"));
    assert_non_null(strstr(err, e.img));
    env_close(&e);
}

/* Without a stamp the checksum is computed while the records are checked: a flipped byte is
 * refused by cr_image_lease_sum, naming the file and the checksum. */
static void test_flipped_byte_refused_without_stamp(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    flip_byte(e.img);
    cr_image_leased l;
    char err[1024];
    assert_int_equal(cr_image_lease(e.img, e.dir, &l, err, sizeof err), CR_OK);
    assert_false(l.stamped);
    assert_int_not_equal(cr_image_lease_sum(&l, e.img, err, sizeof err), CR_OK);
    assert_non_null(strstr(err, "checksum"));
    assert_non_null(strstr(err, e.img));
    cr_image_unmap(&l.map);
    cr_image_lease_release(&l);
    env_close(&e);
}

/* A stamp of another format version (or another build, architecture, checksum) is ignored. */
static void test_other_version_stamp_ignored(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    bool stamped;
    assert_int_equal(lease(&e, &stamped, true), CR_OK);
    cr_image_stamp s, good;
    read_stamp(&e, &good);
    s = good;
    s.version += 1;
    write_stamp(&e, &s);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    s = good;
    s.build[0] ^= 1;
    write_stamp(&e, &s);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    s = good;
    s.checksum ^= 1;
    write_stamp(&e, &s);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_false(stamped);
    write_stamp(&e, &good);
    assert_int_equal(lease(&e, &stamped, false), CR_OK);
    assert_true(stamped);
    env_close(&e);
}

/* A read ahead (CR_LEASE_DEFER_SUM | CR_LEASE_FD_HIGH): the lease is held on a descriptor
 * numbered from CR_LEASE_FD_MIN, so closing every lower one (Kamailio's daemonize()) leaves it;
 * a stamped image's checksum is left to cr_image_lease_sum, which refuses a flipped byte under
 * a stamp forged to match as the lease itself does, and accepts the image as it is. */
static void test_deferred_sum_and_high_descriptor(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    bool stamped;
    assert_int_equal(lease(&e, &stamped, true), CR_OK);
    cr_image_leased l;
    char err[1024];
    unsigned f = CR_LEASE_DEFER_SUM | CR_LEASE_FD_HIGH;
    assert_int_equal(cr_image_lease_ex(e.img, e.dir, f, &l, err, sizeof err), CR_OK);
    assert_true(l.stamped && l.sum_deferred);
    assert_true(l.fd >= CR_LEASE_FD_MIN);
    for (int fd = 3; fd < CR_LEASE_FD_MIN; fd++)
        close(fd);
    assert_int_equal(fcntl(l.fd, F_GETLEASE), F_RDLCK);
    int w = open(e.img, O_WRONLY | O_NONBLOCK);
    assert_int_equal(w, -1); /* a writer would wait for the lease */
    assert_int_equal(cr_image_lease_sum(&l, e.img, err, sizeof err), CR_OK);
    assert_false(l.sum_deferred);
    cr_image_unmap(&l.map);
    cr_image_lease_release(&l);

    /* a flipped byte under a forged stamp: refused when the deferred sum is computed */
    flip_byte_under_forged_stamp(&e);
    assert_int_equal(cr_image_lease_ex(e.img, e.dir, f, &l, err, sizeof err), CR_OK);
    assert_true(l.stamped && l.sum_deferred);
    err[0] = 0;
    assert_int_not_equal(cr_image_lease_sum(&l, e.img, err, sizeof err), CR_OK);
    assert_non_null(strstr(err, "checksum"));
    assert_non_null(strstr(err, e.img));
    cr_image_unmap(&l.map);
    cr_image_lease_release(&l);
    env_close(&e);
}

/* Flips the byte at `at` of the file at path. */
static void flip_byte_at(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

/* A staged copy (a reload's, the mover's) is hashed a whole checksum chunk at a time as the copy
 * holds it, the tail apart: an image of two whole chunks and a part (30,000 routes, 2.7 MB) is
 * copied byte for byte and accepted, and a byte flipped in the second chunk or in the tail is
 * refused, naming the file and the checksum. */
static void test_stage_hashes_whole_chunks(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    char xml[128], img[128], staged[128], err[1024];
    snprintf(xml, sizeof xml, "%s/big.xml", e.dir);
    snprintf(img, sizeof img, "%s/big.plan", e.dir);
    snprintf(staged, sizeof staged, "%s/big.stage", e.dir);
    FILE *f = fopen(xml, "w");
    assert_non_null(f);
    fputs("<callroute xmlns=\"urn:callroute:config:1\"><domains><domain>example.com</domain>"
          "</domains><phoneUsages><usage name=\"U\"/></phoneUsages><voicePolicies default=\"P\">"
          "<voicePolicy name=\"P\"><usage>U</usage></voicePolicy></voicePolicies><gateways>"
          "<gateway name=\"G\" address=\"sip:127.0.0.1:5071\"/></gateways><routes>",
          f);
    for (int i = 0; i < 30000; i++)
        fprintf(f,
                "<route name=\"r%d\" pattern=\"^\\+1555%07d$\"><usage>U</usage>"
                "<gateway>G</gateway></route>",
                i, i);
    fputs("</routes></callroute>", f);
    assert_int_equal(fclose(f), 0);
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    assert_int_equal(cr_rules_load(xml, &cfg, &d), CR_OK);
    assert_int_equal(cr_image_write(img, cfg, 0, NULL, err, sizeof err), CR_OK);
    cr_config_free(cfg);
    cr_diag_free(&d);
    struct stat sb;
    assert_int_equal(stat(img, &sb), 0);
    size_t n = (size_t)sb.st_size;
    assert_true(n > 16 + 2 * (size_t)CR_IMAGE_SUM_CHUNK && n < 16 + 3 * (size_t)CR_IMAGE_SUM_CHUNK);

    cr_image_map m;
    assert_int_equal(cr_image_stage(img, staged, &m, err, sizeof err), CR_OK);
    assert_int_equal(m.len, n);
    char *orig = malloc(n);
    assert_non_null(orig);
    int fd = open(img, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, orig, n, 0), (ssize_t)n);
    close(fd);
    assert_memory_equal(m.base, orig, n);
    free(orig);
    /* restamped from its chunk sums (the first chunk hashed again, not the image): the same
     * checksum as hashing the restamped image whole, and it verifies */
    assert_non_null(m.chunk_sums);
    assert_int_equal(m.chunks, 3);
    assert_int_equal(mprotect((void *)m.base, n, PROT_READ | PROT_WRITE), 0);
    uint64_t sum = cr_image_restamp_sums((void *)m.base, n, 7, m.chunk_sums, m.chunks);
    assert_true(sum == cr_image_checksum((const char *)m.base + 16, n - 16));
    cr_image_info info;
    assert_int_equal(cr_image_verify(m.base, n, &info, err, sizeof err), CR_OK);
    assert_true(info.generation == 7 && info.checksum == sum);
    /* a count that does not fit the image: restamped whole */
    sum = cr_image_restamp_sums((void *)m.base, n, 8, m.chunk_sums, 2);
    assert_true(sum == cr_image_checksum((const char *)m.base + 16, n - 16));
    cr_image_unmap(&m);
    assert_null(m.chunk_sums);
    assert_int_equal(unlink(staged), 0);

    const off_t where[] = {16 + CR_IMAGE_SUM_CHUNK + 4096, (off_t)n - 100};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        flip_byte_at(img, where[i]);
        err[0] = 0;
        assert_int_not_equal(cr_image_stage(img, staged, &m, err, sizeof err), CR_OK);
        assert_non_null(strstr(err, "checksum"));
        assert_non_null(strstr(err, img));
        assert_int_equal(access(staged, F_OK), -1); /* nothing left at staged */
        flip_byte_at(img, where[i]);                /* whole again */
    }
    assert_int_equal(cr_image_stage(img, staged, &m, err, sizeof err), CR_OK);
    cr_image_unmap(&m);
    env_close(&e);
}

/* No lease while the file is open for writing: the caller falls back to a copy. */
static void test_no_lease_while_open_for_writing(void **state)
{
    (void)state;
    lease_env e;
    env_open(&e);
    int w = open(e.img, O_WRONLY);
    assert_true(w >= 0);
    cr_image_leased l;
    char err[1024];
    assert_int_equal(cr_image_lease(e.img, e.dir, &l, err, sizeof err), CR_EIO);
    assert_true(l.fallback);
    assert_non_null(strstr(err, "open for writing"));
    close(w);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp_trusted_for_the_same_file),
        cmocka_unit_test(test_changed_file_ignores_stamp),
        cmocka_unit_test(test_foreign_or_writable_stamp_ignored),
        cmocka_unit_test(test_flipped_byte_refused_despite_stamp),
        cmocka_unit_test(test_flipped_byte_refused_without_stamp),
        cmocka_unit_test(test_other_version_stamp_ignored),
        cmocka_unit_test(test_no_lease_while_open_for_writing),
        cmocka_unit_test(test_deferred_sum_and_high_descriptor),
        cmocka_unit_test(test_stage_hashes_whole_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

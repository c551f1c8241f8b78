/*
 * Reading a plan image ahead of open (ABI 1.10 preload / preload_drop), as Kamailio's module
 * does between its "config" parameter and mod_init: the first open of that very image takes
 * what was read (said in its log line) instead of reading the file again; anything else read
 * ahead is dropped, its lease released and its mapping gone; a read that fails keeps nothing
 * and the open reports the same refusal it always did.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi_load.h"

static const cr_plugin *p;
static char logged[8192]; /* every line the library logged since the last clear */

static void host_log(void *ud, int level, const char *message)
{
    (void)ud;
    (void)level;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", message);
}

static int setup(void **state)
{
    (void)state;
    p = abi_load(host_log);
    return p && CR_HAS(cr_plugin, p, preload_drop) && p->preload && p->preload_drop ? 0 : -1;
}

/* A shell command that must succeed (abi_system). */
#define run(...) assert_int_equal(abi_system(__VA_ARGS__), 0)

/* A scratch directory (also the runtime directory) with the fixture compiled as a.img and, with
 * GW-A changed to GW-B, b.img; the fixture itself as config.xml; a shared block. */
typedef struct env {
    char dir[32], xml[96], a[96], b[96];
    void *shm;
    size_t len;
    cr_open_options o;
} env;

static void env_open(env *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/crpreXXXXXX");
    assert_non_null(mkdtemp(e->dir));
    setenv("CALLROUTE_RUNTIME_DIR", e->dir, 1);
    snprintf(e->xml, sizeof e->xml, "%s/config.xml", e->dir);
    snprintf(e->a, sizeof e->a, "%s/a.img", e->dir);
    snprintf(e->b, sizeof e->b, "%s/b.img", e->dir);
    const char *cli = getenv("CR_CLI");
    assert_non_null(cli);
    run("cp %s %s", getenv("CR_FOLLOW_FIXTURE"), e->xml);
    run("%s compile --config %s -o %s >/dev/null", cli, e->xml, e->a);
    run("sed 's#<gateway>GW-A</gateway>#<gateway>GW-B</gateway>#' %s > %s.b.xml", e->xml, e->xml);
    run("%s compile --config %s.b.xml -o %s >/dev/null", cli, e->xml, e->b);
    e->len = p->shared_size();
    e->shm = mmap(NULL, e->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(e->shm != MAP_FAILED);
    e->o = (cr_open_options){.size = sizeof e->o, .shared = e->shm, .shared_len = e->len};
    logged[0] = 0;
}

static void env_close(env *e)
{
    p->preload_drop();
    run("rm -rf %s", e->dir);
    munmap(e->shm, e->len);
}

static const char *first_gateway(cr_handle *hd, char *buf, size_t len)
{
    return abi_first_gateway(p, hd, buf, len);
}

/* Whether a writer may open path now: no read lease held on it (a lease makes such an open
 * fail at once with O_NONBLOCK, EWOULDBLOCK, instead of waiting for the holder). */
static bool writable_now(const char *path)
{
    int fd = open(path, O_WRONLY | O_NONBLOCK);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    assert_int_equal(errno, EWOULDBLOCK);
    return false;
}

/* Whether a read lease is held on path now, as /proc/locks lists it (writable_now, an open for
 * writing, would start breaking it). */
static bool leased_now(const char *path)
{
    struct stat sb;
    char line[256], ino[32];
    bool found = false;
    assert_int_equal(stat(path, &sb), 0);
    snprintf(ino, sizeof ino, ":%llu ", (unsigned long long)sb.st_ino);
    FILE *f = fopen("/proc/locks", "r");
    assert_non_null(f);
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "LEASE") && strstr(line, "ACTIVE") && strstr(line, "READ") &&
                strstr(line, ino);
    fclose(f);
    return found;
}

/* Opens path (the host's first open), asserts the decision, and reports whether the open took
 * the image read ahead (its log line says so). */
static bool open_took_it(env *e, const char *path, const char *want)
{
    char msg[2048], gw[64];
    cr_handle *hd = NULL;
    logged[0] = 0;
    memset(e->shm, 0, e->len);
    int rc = p->open(path, &e->o, &hd, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "open said: %s\n", msg);
    assert_int_equal(rc, 0);
    p->preload_drop(); /* what a host does after its first open */
    assert_string_equal(first_gateway(hd, gw, sizeof gw), want);
    p->close(hd);
    return strstr(logged, "read while the host started") != NULL;
}

/* Read ahead, then opened: the open takes it. Until then the image is mapped and leased. */
static void test_open_takes_the_image_read_ahead(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    char err[1024];
    for (int start = 0; start < 2; start++) { /* a first start (checked, stamped), a restart */
        logged[0] = 0;
        assert_int_equal(p->preload(e.a, &e.o, err, sizeof err), 0);
        assert_true(abi_maps_file(0, e.a));
        assert_true(leased_now(e.a));
        assert_string_equal(logged, ""); /* nothing said before the open */
        assert_true(open_took_it(&e, e.a, "GW-A"));
        assert_non_null(strstr(logged, start ? "stamp matched" : "checked whole, stamped"));
    }
    /* once taken, a second open reads the file again */
    assert_false(open_took_it(&e, e.a, "GW-A"));
    env_close(&e);
}

/* Read ahead for one file, another opened: the first is dropped (unmapped, lease released). */
static void test_other_image_drops_what_was_read(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    char err[1024];
    assert_int_equal(p->preload(e.a, &e.o, err, sizeof err), 0);
    assert_false(open_took_it(&e, e.b, "GW-B"));
    assert_false(abi_maps_file(0, e.a));
    assert_true(writable_now(e.a));
    /* other options (rgs_max_wait) than the read's: read again, the same answers */
    cr_open_options o = e.o;
    o.rgs_max_wait_s = 60;
    assert_int_equal(p->preload(e.a, &o, err, sizeof err), 0);
    assert_false(open_took_it(&e, e.a, "GW-A"));
    /* dropped without an open */
    assert_int_equal(p->preload(e.a, &e.o, err, sizeof err), 0);
    p->preload_drop();
    assert_false(abi_maps_file(0, e.a));
    assert_true(writable_now(e.a));
    assert_false(open_took_it(&e, e.a, "GW-A"));
    env_close(&e);
}

/* A damaged image: the read ahead keeps nothing (its checksum is found wrong on the library's
 * thread); the open reads the file again and refuses it as it always did, naming it; nothing
 * is left mapped or leased. The same for a file that is not an image at all. */
static void test_damaged_image_read_ahead_keeps_nothing(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    char err[1024], msg[2048];
    run("printf 'XXXX' | dd of=%s bs=1 seek=1000 conv=notrunc 2>/dev/null", e.a);
    assert_int_equal(p->preload(e.a, &e.o, err, sizeof err), 0); /* found on the thread */
    cr_handle *hd = NULL;
    msg[0] = 0;
    assert_int_not_equal(p->open(e.a, &e.o, &hd, msg, sizeof msg), 0);
    assert_null(hd);
    p->preload_drop();
    assert_non_null(strstr(msg, "checksum"));
    assert_non_null(strstr(msg, e.a));
    assert_null(strstr(logged, "read while the host started"));
    assert_false(abi_maps_file(0, e.a));
    assert_true(writable_now(e.a));
    /* not an image: refused by preload itself, nothing kept */
    run("head -c 4096 /dev/urandom > %s", e.b);
    assert_int_equal(p->preload(e.b, &e.o, err, sizeof err), CR_ABI_EINVAL);
    assert_false(abi_maps_file(0, e.b));
    /* an XML configuration is not read ahead */
    assert_int_equal(p->preload(e.xml, &e.o, err, sizeof err), CR_ABI_EINVAL);
    assert_non_null(strstr(err, "not a plan image"));
    env_close(&e);
}

/* A process forked once preload returned takes it in its open, after closing every
 * descriptor from 3 to 31 as Kamailio's daemonize() does (fork, then close): the lease is held
 * on a descriptor above those, and the checksum and read went on while it forked. */
static void test_forked_process_takes_it(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    char err[1024];
    assert_int_equal(p->preload(e.a, &e.o, err, sizeof err), 0);
    pid_t pid = fork();
    if (pid == 0) {
        for (int fd = 3; fd < 32; fd++)
            close(fd);
        bool still_leased = leased_now(e.a);
        bool took = still_leased && open_took_it(&e, e.a, "GW-A");
        _exit(took ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    env_close(&e);
}

/* The open takes what was read ahead only when its path names that very file: a host may change
 * its directory (Kamailio's daemonize() does chdir to its working directory, "/" by default, and
 * chroot with -t) between the "config" parameter and mod_init, and an admin may rename a new image
 * over the old one meanwhile (a read lease keeps writers out, not renames). Either way the open
 * reads the file its path names now, as without a read ahead. */
static void test_path_naming_another_file_reads_that_file(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    char err[1024], cwd[4096], other[160];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(other, sizeof other, "%s/other", e.dir);
    run("mkdir %s && cp %s %s/a.img", other, e.b, other);
    /* a relative path, the directory changed before the open */
    assert_int_equal(chdir(e.dir), 0);
    assert_int_equal(p->preload("a.img", &e.o, err, sizeof err), 0);
    assert_int_equal(chdir(other), 0);
    bool took = open_took_it(&e, "a.img", "GW-B");
    assert_int_equal(chdir(cwd), 0);
    assert_false(took);
    assert_false(abi_maps_file(0, e.a));
    assert_true(writable_now(e.a));
    /* the same path, another file renamed over it */
    assert_int_equal(p->preload(e.a, &e.o, err, sizeof err), 0);
    run("cp %s %s.new && mv %s.new %s", e.b, e.a, e.a, e.a);
    assert_false(open_took_it(&e, e.a, "GW-B"));
    env_close(&e);
}

/* A writer came between preload and open (the lease broken, or being broken: the kernel lets the
 * writer in lease-break-time later, and the file may then change under a mapping whose checksum
 * was verified once): the open does not take what was read, it reads the file again. */
static void test_writer_since_preload_reads_again(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    char err[1024];
    assert_int_equal(p->preload(e.a, &e.o, err, sizeof err), 0);
    assert_false(writable_now(e.a)); /* a writer's open: refused now, the lease breaking */
    assert_false(open_took_it(&e, e.a, "GW-A"));
    assert_false(abi_maps_file(0, e.a));
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_takes_the_image_read_ahead),
        cmocka_unit_test(test_other_image_drops_what_was_read),
        cmocka_unit_test(test_damaged_image_read_ahead_keeps_nothing),
        cmocka_unit_test(test_forked_process_takes_it),
        cmocka_unit_test(test_path_naming_another_file_reads_that_file),
        cmocka_unit_test(test_writer_since_preload_reads_again),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

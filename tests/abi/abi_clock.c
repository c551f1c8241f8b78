/*
 * The host supplies the clock (SPEC §6; callroute.h cr_host.now_ms): a gateway's hold-off and
 * the gateways result run on the host's time, and the host's clock is called only from the
 * host's own threads ("Called from deciding threads"; the library's threads call "no host
 * callback other than cr_host.log"). A host clock that stands still (a simulation, a test
 * harness) therefore never stalls the library's own threads.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi_load.h"

static const cr_plugin *p;
static _Atomic int64_t host_now = 1700000000000; /* 2023-11-14T22:13:20Z */
static _Atomic int foreign_calls;                /* now_ms from a thread not the host's */
static _Atomic pid_t host_tid;                   /* the thread that calls into the library */

static int64_t fake_now(void *ud)
{
    (void)ud;
    if ((pid_t)syscall(SYS_gettid) != atomic_load(&host_tid))
        atomic_fetch_add(&foreign_calls, 1);
    return atomic_load(&host_now);
}

static int setup(void **state)
{
    (void)state;
    atomic_store(&host_tid, (pid_t)syscall(SYS_gettid));
    cr_host h = {CR_ABI_MAJOR, sizeof h, NULL, NULL, fake_now, NULL, NULL};
    p = abi_load_host(&h);
    return p ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    abi_unload();
    return 0;
}

static const char *gw_field(const cr_result *r, const char *gw, const char *field)
{
    for (size_t i = 0; i < p->result_count(r, "gateways"); i++)
        if (strcmp(p->result_item(r, "gateways", i, "name"), gw) == 0)
            return p->result_item(r, "gateways", i, field);
    return NULL;
}

static bool offered(cr_handle *h, const char *gw)
{
    cr_route_answer a = {.size = sizeof a};
    assert_int_equal(p->route_answer(h, "sip:alice@contoso.com", "+14255550199", NULL, 0, &a),
                     CR_ABI_OK);
    for (uint32_t i = 0; i < a.nattempts; i++)
        if (strcmp(a.attempts[i].gateway, gw) == 0)
            return true;
    return false;
}

/* gateway_failed holds the gateway down for the hold-off of the host's clock: moving that clock
 * (no real time passing) ends it; the gateways result says when, in the host's time. */
static void test_holdoff_runs_on_the_host_clock(void **state)
{
    (void)state;
    cr_open_options o = {.size = sizeof o, .gateway_holdoff_s = 30};
    char err[1024];
    cr_handle *h = NULL;
    assert_int_equal(p->open(getenv("CR_CONFIG"), &o, &h, err, sizeof err), CR_ABI_OK);
    assert_true(offered(h, "Red-GW1"));
    assert_int_equal(p->gateway_failed(h, "Red-GW1"), CR_ABI_OK);
    assert_false(offered(h, "Red-GW1"));
    cr_result *r = NULL;
    assert_int_equal(p->gateways(h, &r), CR_ABI_OK);
    assert_string_equal(gw_field(r, "Red-GW1", "state"), "down");
    assert_string_equal(gw_field(r, "Red-GW1", "since"), "2023-11-14T22:13:20Z");
    assert_string_equal(gw_field(r, "Red-GW1", "down_for_s"), "30");
    p->result_free(r);
    atomic_fetch_add(&host_now, 29000);
    assert_false(offered(h, "Red-GW1"));
    atomic_fetch_add(&host_now, 1001);
    assert_true(offered(h, "Red-GW1"));
    assert_int_equal(p->gateways(h, &r), CR_ABI_OK);
    assert_string_equal(gw_field(r, "Red-GW1", "state"), "up");
    assert_null(gw_field(r, "Red-GW1", "down_for_s"));
    p->result_free(r);
    /* 503 with Retry-After: that long in the host's time */
    assert_int_equal(p->gateway_result(h, "Red-GW2", 503, 120), 1);
    atomic_fetch_add(&host_now, 119000);
    assert_false(offered(h, "Red-GW2"));
    atomic_fetch_add(&host_now, 1000);
    assert_true(offered(h, "Red-GW2"));
    p->close(h);
    assert_int_equal(atomic_load(&foreign_calls), 0);
}

/* A shell command that must succeed (abi_system). */
#define run(...) assert_int_equal(abi_system(__VA_ARGS__), 0)

/*
 * A process's reload watcher follows a reload made by another process over the same shared
 * block, off the host's threads: it must not call the host's clock (callroute.h: the watcher
 * "calls no host callback other than cr_host.log"; now_ms is "called from deciding threads").
 */
static void test_watcher_calls_no_host_clock(void **state)
{
    (void)state;
    char dir[] = "/tmp/crclockXXXXXX", path[600];
    assert_non_null(mkdtemp(dir));
    setenv("CALLROUTE_RUNTIME_DIR", dir, 1);
    snprintf(path, sizeof path, "%s/config.xml", dir);
    run("cp %s %s", getenv("CR_FOLLOW_FIXTURE"), path);
    size_t len = p->shared_size();
    void *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    cr_open_options o = {.size = sizeof o, .shared = shm, .shared_len = len};
    char err[1024], gw[64];
    cr_handle *h = NULL;
    assert_int_equal(p->open(path, &o, &h, err, sizeof err), CR_ABI_OK);
    assert_string_equal(abi_first_gateway(p, h, gw, sizeof gw), "GW-A"); /* starts the watcher */
    atomic_store(&foreign_calls, 0);
    run("sed -i 's#<gateway>GW-A</gateway>#<gateway>GW-B</gateway>#' %s", path);
    pid_t child = fork();
    if (child == 0) {
        atomic_store(&host_tid, (pid_t)syscall(SYS_gettid));
        cr_handle *c = NULL;
        if (p->open(path, &o, &c, err, sizeof err) != 0 || p->reload(c, NULL, err, sizeof err))
            _exit(1);
        p->close(c);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* the watcher is woken by the publication: give it time to follow, then look */
    usleep(500 * 1000);
    int foreign = atomic_load(&foreign_calls);
    assert_string_equal(abi_first_gateway(p, h, gw, sizeof gw), "GW-B");
    p->close(h);
    if (foreign)
        fprintf(stderr, "the host's clock was called %d times from a library thread\n", foreign);
    assert_int_equal(foreign, 0);
    munmap(shm, len);
    run("rm -rf %s", dir);
}

/*
 * An admin's plan image opened in place is copied into the runtime directory by the library's
 * mover thread a second after the start: with the host's clock standing still (a simulated
 * clock), the move still happens, and the host's clock is not called from that thread.
 */
static void test_mover_runs_with_a_frozen_host_clock(void **state)
{
    (void)state;
    char dir[] = "/tmp/crclockXXXXXX", admin[] = "/tmp/cradminXXXXXX", img[600];
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(admin));
    setenv("CALLROUTE_RUNTIME_DIR", dir, 1);
    snprintf(img, sizeof img, "%s/plan.img", admin);
    run("%s compile --config %s -o %s >/dev/null", getenv("CR_CLI"), getenv("CR_FOLLOW_FIXTURE"),
        img);
    size_t len = p->shared_size();
    void *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    cr_open_options o = {.size = sizeof o, .shared = shm, .shared_len = len};
    char err[1024], gw[64];
    cr_handle *h = NULL;
    atomic_store(&foreign_calls, 0);
    assert_int_equal(p->open(img, &o, &h, err, sizeof err), CR_ABI_OK);
    assert_string_equal(abi_first_gateway(p, h, gw, sizeof gw), "GW-A");
    /* the clock stands still from here on; the mover waits its second in real time */
    bool moved = false;
    for (int i = 0; i < 1000 && !moved; i++) {
        usleep(10000);
        moved = abi_files_named(dir, ".plan") == 1 && !abi_maps_file(0, img);
    }
    int foreign = atomic_load(&foreign_calls);
    p->close(h);
    if (!moved)
        fprintf(stderr, "the admin's image was not moved within 10 s with the host clock frozen\n");
    assert_true(moved);
    assert_int_equal(foreign, 0);
    munmap(shm, len);
    run("rm -rf %s %s", dir, admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holdoff_runs_on_the_host_clock),
        cmocka_unit_test(test_watcher_calls_no_host_clock),
        cmocka_unit_test(test_mover_runs_with_a_frozen_host_clock),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * A tiny host that loads the real libcallroute.so through its one entry symbol and checks
 * version negotiation: same major with a smaller or larger host table works, another major
 * is refused cleanly, and the plugin's table can be read by size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "callroute.h"

static cr_plugin_entry_fn entry;
static void *dl;
static int logged;

static int setup(void **state)
{
    (void)state;
    const char *lib = getenv("CR_LIB");
    dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        return -1;
    entry = (cr_plugin_entry_fn)dlsym(dl, CR_PLUGIN_ENTRY_SYMBOL);
    return entry ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dlclose(dl);
    return 0;
}

static void count_log(void *ud, int level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
    logged++;
}

static void test_same_major_same_size(void **state)
{
    (void)state;
    cr_host h = {CR_ABI_MAJOR, sizeof h, NULL, count_log, NULL, NULL, NULL};
    const char *err = NULL;
    const cr_plugin *p = entry(&h, &err);
    assert_non_null(p);
    assert_int_equal(p->abi_major, CR_ABI_MAJOR);
    assert_true(p->size >= offsetof(cr_plugin, rgs_close) + sizeof(void *));
    assert_true(CR_HAS(cr_plugin, p, route_ex));
    assert_non_null(p->strerror(CR_ABI_ECONFIG));
}

/* A host built against an older, shorter cr_host (only up to `log`). */
static void test_smaller_host_table(void **state)
{
    (void)state;
    struct old_host {
        uint32_t abi_major, size;
        void *ud;
        void (*log)(void *, int, const char *);
    } h = {CR_ABI_MAJOR, sizeof h, NULL, count_log};
    const char *err = NULL;
    const cr_plugin *p = entry((const cr_host *)&h, &err);
    assert_non_null(p);
    /* the plugin must not read now_ms/alloc past the host's size: route works */
    char msg[512];
    cr_handle *hd = NULL;
    assert_int_equal(p->open(getenv("CR_CONFIG"), NULL, &hd, msg, sizeof msg), 0);
    cr_result *r = NULL;
    assert_int_equal(p->route(hd, "sip:alice@contoso.com", "+14255550199", NULL, 0, &r), 0);
    assert_int_equal(p->result_kind(r), CR_DECISION_OUTBOUND);
    p->result_free(r);
    assert_int_equal(p->gateway_failed(hd, "Red-GW1"), 0);
    assert_true(logged > 0); /* the warning went to the host's log */
    p->close(hd);
}

/* A host built against a newer, longer cr_host with fields this plugin does not know. */
static void test_larger_host_table(void **state)
{
    (void)state;
    struct new_host {
        cr_host base;
        void *future[8];
    } h;
    memset(&h, 0xAB, sizeof h);
    h.base = (cr_host){CR_ABI_MAJOR, sizeof h, NULL, count_log, NULL, NULL, NULL};
    const char *err = NULL;
    assert_non_null(entry(&h.base, &err));
}

static void test_other_major_refused(void **state)
{
    (void)state;
    cr_host h = {CR_ABI_MAJOR + 1, sizeof h, NULL, NULL, NULL, NULL, NULL};
    const char *err = NULL;
    assert_null(entry(&h, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "major"));
    h.abi_major = 0;
    assert_null(entry(&h, &err));
}

static void test_null_host_and_errors(void **state)
{
    (void)state;
    const cr_plugin *p = entry(NULL, NULL);
    assert_non_null(p);
    char msg[2048];
    cr_handle *hd = (cr_handle *)1;
    assert_int_equal(p->open("/nonexistent/config.xml", NULL, &hd, msg, sizeof msg),
                     CR_ABI_ECONFIG);
    assert_null(hd);
    assert_non_null(strstr(msg, "/nonexistent/config.xml"));
    cr_result *r = NULL;
    assert_int_equal(p->route(NULL, "a", "b", NULL, 0, &r), CR_ABI_EINVAL);
    assert_null(r);
}

/* Reload: a broken file is refused and the running configuration stays. */
static void test_reload_is_atomic(void **state)
{
    (void)state;
    const cr_plugin *p = entry(NULL, NULL);
    char msg[2048];
    cr_handle *hd = NULL;
    assert_int_equal(p->open(getenv("CR_CONFIG"), NULL, &hd, msg, sizeof msg), 0);
    assert_int_equal(p->reload(hd, getenv("CR_BROKEN"), msg, sizeof msg), CR_ABI_ECONFIG);
    assert_non_null(strstr(msg, "error"));
    cr_result *r = NULL;
    assert_int_equal(p->route(hd, "sip:alice@contoso.com", "+14255550199", NULL, 0, &r), 0);
    assert_int_equal(p->result_kind(r), CR_DECISION_OUTBOUND);
    p->result_free(r);
    assert_int_equal(p->reload(hd, NULL, msg, sizeof msg), 0);
    p->close(hd);
}

/* Two processes over one shared block (as Kamailio's workers): when the reload in one
 * returns, the other already decides with the new configuration (its watcher followed). */
static void test_reload_followed_by_other_process(void **state)
{
    (void)state;
    const cr_plugin *p = entry(NULL, NULL);
    size_t len = p->shared_size();
    void *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    char path[] = "/tmp/crabiXXXXXX.xml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sed 's#CR_FIXTURE_DIR#%s#' %s > %s", getenv("CR_SRC_EXAMPLES"),
             getenv("CR_FOLLOW_FIXTURE"), path);
    assert_int_equal(system(cmd), 0);
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t child = fork();
    if (child == 0) {
        cr_open_options o = {.size = sizeof o, .shared = shm, .shared_len = len};
        char msg[1024], c = 0;
        cr_handle *hd = NULL;
        if (p->open(path, &o, &hd, msg, sizeof msg) != 0)
            _exit(10);
        cr_result *r = NULL;
        p->route(hd, "sip:alice@contoso.com", "+12065550100", NULL, 0, &r);
        int first_ok = r && strcmp(p->result_item(r, "attempts", 0, "gateway"), "GW-A") == 0;
        p->result_free(r);
        if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(11);
        p->route(hd, "sip:alice@contoso.com", "+12065550100", NULL, 0, &r);
        int second_ok = r && strcmp(p->result_item(r, "attempts", 0, "gateway"), "GW-B") == 0;
        p->result_free(r);
        p->close(hd);
        _exit(first_ok ? (second_ok ? 0 : 13) : 12);
    }
    cr_open_options o = {.size = sizeof o, .shared = shm, .shared_len = len};
    char msg[1024], c;
    cr_handle *hd = NULL;
    assert_int_equal(p->open(path, &o, &hd, msg, sizeof msg), 0);
    assert_int_equal(read(ready[0], &c, 1), 1);
    snprintf(cmd, sizeof cmd, "sed -i 's#<gateway>GW-A</gateway>#<gateway>GW-B</gateway>#' %s",
             path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(p->reload(hd, NULL, msg, sizeof msg), 0);
    assert_int_equal(write(go[1], "g", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    p->close(hd);
    remove(path);
    munmap(shm, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_major_same_size),
        cmocka_unit_test(test_smaller_host_table),
        cmocka_unit_test(test_larger_host_table),
        cmocka_unit_test(test_other_major_refused),
        cmocka_unit_test(test_null_host_and_errors),
        cmocka_unit_test(test_reload_is_atomic),
        cmocka_unit_test(test_reload_followed_by_other_process),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

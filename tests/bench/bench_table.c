/*
 * The benchmark is not in the production library (issue 11): libcallroute.so's table keeps
 * the ABI 1.1 `bench` slot (tables only grow) but leaves it NULL ("not supported"), while
 * libcallroute-bench.so, which `callroute bench` loads, fills it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdlib.h>

#include "bench.h"
#include "callroute.h"

static void production_table_has_no_bench(void **state)
{
    (void)state;
    void *dl = dlopen(getenv("CR_LIB"), RTLD_NOW | RTLD_LOCAL);
    assert_non_null(dl);
    cr_plugin_entry_fn entry = (cr_plugin_entry_fn)dlsym(dl, CR_PLUGIN_ENTRY_SYMBOL);
    assert_non_null(entry);
    cr_host h = {CR_ABI_MAJOR, sizeof h, NULL, NULL, NULL, NULL, NULL};
    const cr_plugin *p = entry(&h, NULL);
    assert_non_null(p);
    assert_true(CR_HAS(cr_plugin, p, bench));
    assert_null(p->bench);
    assert_true(CR_HAS(cr_plugin, p, route_answer)); /* the members after it are still there */
    assert_non_null(p->route_answer);
    dlclose(dl);
}

static void bench_build_has_bench(void **state)
{
    (void)state;
    void *dl = dlopen(getenv("CR_BENCH_LIB"), RTLD_NOW | RTLD_LOCAL);
    assert_non_null(dl);
    crb_plugin_fn entry = (crb_plugin_fn)dlsym(dl, CRB_PLUGIN_SYMBOL);
    assert_non_null(entry);
    const cr_plugin *b = entry();
    assert_non_null(b->bench);
    assert_int_equal(b->abi_major, CR_ABI_MAJOR);
    assert_int_equal(b->size, sizeof(cr_plugin));
    const char *const args[] = {"generate=routes=0", "seconds=abc"};
    cr_result *r = NULL;
    char err[256];
    assert_int_equal(b->bench(args, 2, &r, err, sizeof err), CR_ABI_EINVAL);
    assert_null(r);
    assert_string_equal(err, "'seconds=abc': not a number");
    dlclose(dl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(production_table_has_no_bench),
        cmocka_unit_test(bench_build_has_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

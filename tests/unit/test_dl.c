/* Libraries loaded on first use (dl/include/cr_dl.h), with libm standing in for libxml2, liblua
 * and liblmdb: found symbols, a missing symbol, a missing library, and one load however many
 * threads ask at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "cr_dl.h"

static double (*sym_cos)(double);
static double (*sym_sqrt)(double);
static void *sym_none;
static int loaded_calls;

static void count_loaded(void)
{
    __atomic_add_fetch(&loaded_calls, 1, __ATOMIC_RELAXED);
}

static const cr_dl_symbol libm_symbols[] = {
    {"cos", (void **)&sym_cos},
    {"sqrt", (void **)&sym_sqrt},
};

/* Every symbol found, the hook run once, and a second call answers without loading again. */
static void loads_once_and_finds_every_symbol(void **state)
{
    static cr_dl_library lib = CR_DL_LIBRARY("libm.so.6", libm_symbols, count_loaded);
    const char *why = "untouched";
    loaded_calls = 0;
    assert_int_equal(lib.nsymbols, 2);
    assert_int_equal(cr_dl_load(&lib, &why), 0);
    assert_string_equal(why, "untouched");
    assert_non_null(sym_cos);
    assert_true(sym_cos(0.0) == 1.0);
    assert_true(sym_sqrt(49.0) == 7.0);
    assert_int_equal(loaded_calls, 1);
    assert_int_equal(cr_dl_load(&lib, NULL), 0);
    assert_int_equal(loaded_calls, 1);
}

/* A symbol the library lacks: -1 naming the library and the symbol, every slot left NULL (the
 * ones found before it too), no hook, and the same answer again. */
static void missing_symbol_names_it_and_clears_the_slots(void **state)
{
    static const cr_dl_symbol symbols[] = {
        {"cos", (void **)&sym_cos},
        {"cr_no_such_function", &sym_none},
    };
    static cr_dl_library lib = CR_DL_LIBRARY("libm.so.6", symbols, count_loaded);
    const char *why = NULL;
    sym_cos = NULL;
    loaded_calls = 0;
    assert_int_equal(cr_dl_load(&lib, &why), -1);
    assert_string_equal(why, "libm.so.6 has no symbol cr_no_such_function");
    assert_null(sym_cos);
    assert_null(sym_none);
    assert_int_equal(loaded_calls, 0);
    why = NULL;
    assert_int_equal(cr_dl_load(&lib, &why), -1);
    assert_string_equal(why, "libm.so.6 has no symbol cr_no_such_function");
    assert_int_equal(cr_dl_load(&lib, NULL), -1);
}

/* A library that is not there: -1 with "cannot load NAME: " and dlerror's reason. */
static void missing_library_is_named(void **state)
{
    static cr_dl_library lib = CR_DL_LIBRARY("libcallroute-no-such.so.0", libm_symbols, NULL);
    const char *why = NULL;
    assert_int_equal(cr_dl_load(&lib, &why), -1);
    assert_non_null(why);
    static const char want[] = "cannot load libcallroute-no-such.so.0: ";
    assert_true(strncmp(why, want, sizeof want - 1) == 0);
    assert_non_null(strstr(why, "libcallroute-no-such.so.0: cannot open shared object file"));
}

static cr_dl_library raced = CR_DL_LIBRARY("libm.so.6", libm_symbols, count_loaded);

static void *load_in_thread(void *arg)
{
    *(int *)arg = cr_dl_load(&raced, NULL);
    return NULL;
}

/* Eight threads asking at once: all get 0, the library is loaded (its hook run) once. */
static void threads_asking_at_once_load_it_once(void **state)
{
    pthread_t t[8];
    int rc[8];
    loaded_calls = 0;
    for (int i = 0; i < 8; i++) {
        rc[i] = -2;
        assert_int_equal(pthread_create(&t[i], NULL, load_in_thread, &rc[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(rc[i], 0);
    }
    assert_int_equal(loaded_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_once_and_finds_every_symbol),
        cmocka_unit_test(missing_symbol_names_it_and_clears_the_slots),
        cmocka_unit_test(missing_library_is_named),
        cmocka_unit_test(threads_asking_at_once_load_it_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

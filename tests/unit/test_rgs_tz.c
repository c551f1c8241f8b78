/* Time zones beyond the last explicit transition: the TZif footer's POSIX rule (RFC 8536
 * §3.3). tests/rgs/tz/zones.zi is built with zic into "fat" files (transitions up to 2037)
 * and "slim" ones (almost none); both must give the same offsets in 2027, 2038 and 2040. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_rgs.h"
#include "testutil.h"

static char g_dir[64];

static void build(const char *mode)
{
    const char *zic = access("/usr/sbin/zic", X_OK) == 0 ? "/usr/sbin/zic" : "zic";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -b %s -d %s/%s %s", zic, mode, g_dir, mode,
             cr_test_src("tests/rgs/tz/zones.zi"));
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    strcpy(g_dir, "/tmp/cr_tz_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    build("fat");
    build("slim");
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Loads zone `name` built in `mode` into `cfg` and returns it. */
static const cr_rgs_tz *load(cr_rgs_config *cfg, const char *mode, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s/%s", g_dir, mode, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(cr_rgs_config_add_tz(cfg, name, buf, n), CR_OK);
    for (size_t i = 0; i < cfg->ntzs; i++)
        if (strcmp(cfg->tzs[i].name, name) == 0)
            return &cfg->tzs[i];
    fail();
    return NULL;
}

typedef struct probe {
    int64_t at;
    int32_t off;
} probe;

static void check(const char *name, const probe *p, size_t n)
{
    static const char *modes[] = {"fat", "slim"};
    for (size_t m = 0; m < 2; m++) {
        cr_rgs_config *cfg = cr_rgs_config_new();
        assert_non_null(cfg);
        const cr_rgs_tz *tz = load(cfg, modes[m], name);
        for (size_t i = 0; i < n; i++) {
            int32_t got = cr_rgs_tz_offset(tz, p[i].at);
            if (got != p[i].off)
                print_error("%s (%s) at %lld: offset %d, want %d\n", name, modes[m],
                            (long long)p[i].at, got, p[i].off);
            assert_int_equal(got, p[i].off);
        }
        cr_rgs_config_free(cfg);
    }
}

#define MST (-7 * 3600)
#define MDT (-6 * 3600)

/* DST starts 2027-03-14 09:00Z, ends 2027-11-07 08:00Z; 2038-03-14 09:00Z / 2038-11-07
 * 08:00Z (after the fat files' last transition); 2040-03-11 09:00Z / 2040-11-04 08:00Z. */
static void test_denver(void **state)
{
    const probe p[] = {
        {1805014799, MST},     {1805014800, MDT}, {1825574399, MDT},     {1825574400, MST},
        {2152170000 - 1, MST}, {2152170000, MDT}, {2172729600 - 1, MDT}, {2172729600, MST},
        {2178286200, MST}, /* 2039-01-10 08:30 MST: a winter morning */
        {2215069200 - 1, MST}, {2215069200, MDT}, {2224852200, MDT}, /* 2040-07-02 08:30 MDT */
        {2235628800 - 1, MDT}, {2235628800, MST},
    };
    check("Test/Denver", p, sizeof p / sizeof *p);
}

/* Southern hemisphere: DST spans the new year; changes at 02:00 standard time. */
static void test_sydney(void **state)
{
    const probe p[] = {
        {2153923200 - 1, 11 * 3600}, {2153923200, 10 * 3600}, /* 2038-04-03 16:00Z */
        {2169648000 - 1, 10 * 3600}, {2169648000, 11 * 3600}, /* 2038-10-02 16:00Z */
        {2209032000, 11 * 3600},                              /* 2040-01-01 */
        {2216822400 - 1, 11 * 3600}, {2216822400, 10 * 3600}, /* 2040-03-31 16:00Z */
        {2233152000 - 1, 10 * 3600}, {2233152000, 11 * 3600}, /* 2040-10-06 16:00Z */
    };
    check("Test/Sydney", p, sizeof p / sizeof *p);
}

/* Zones without DST keep their one offset in every year. */
static void test_no_dst(void **state)
{
    const probe phx[] = {{0, MST}, {1805014800, MST}, {2224852200, MST}, {4102444800, MST}};
    check("Test/Phoenix", phx, sizeof phx / sizeof *phx);
    const probe dxb[] = {{1805014800, 4 * 3600}, {2224852200, 4 * 3600}};
    check("Test/Dubai", dxb, sizeof dxb / sizeof *dxb);
}

/* The POSIX TZ strings themselves, including the forms zic writes for unusual zones. */
static void test_rule_strings(void **state)
{
    cr_rgs_tzrule r;
    assert_int_equal(cr_rgs_tzrule_parse("MST7MDT,M3.2.0,M11.1.0", 22, &r), 0);
    assert_int_equal(r.std_off, MST);
    assert_int_equal(r.dst_off, MDT);
    assert_int_equal(cr_rgs_tzrule_offset(&r, 2224852200), MDT);
    const char *ok[] = {"<+04>-4",
                        "AEST-10AEDT,M10.1.0,M4.1.0/3",
                        "IST-2IDT,M3.4.4/26,M10.5.0",
                        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
                        "EST5EDT,0/0,J365/25",
                        "NZST-12NZDT-13,M9.5.0,M4.1.0/3"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_int_equal(cr_rgs_tzrule_parse(ok[i], strlen(ok[i]), &r), 0);
    /* All year DST ("EST5EDT,0/0,J365/25") is EDT in July and in January. */
    assert_int_equal(cr_rgs_tzrule_parse(ok[4], strlen(ok[4]), &r), 0);
    assert_int_equal(cr_rgs_tzrule_offset(&r, 2209032000), -4 * 3600);
    const char *bad[] = {"",
                         "M7",
                         "MST",
                         "MST7MDT,M3.2.0",
                         "MST7MDT,M13.2.0,M11.1.0",
                         "MST7MDT,M3.2.0,M11.1.0/200",
                         "<+04-4",
                         "MST7 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(cr_rgs_tzrule_parse(bad[i], strlen(bad[i]), &r), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_denver),
        cmocka_unit_test(test_sydney),
        cmocka_unit_test(test_no_dst),
        cmocka_unit_test(test_rule_strings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

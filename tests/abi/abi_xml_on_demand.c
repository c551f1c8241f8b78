/*
 * libxml2 is loaded the first time the library reads XML, not with the library (xml/cr_libxml.h):
 * a host that opens a compiled plan image never maps libxml2 (nor ICU and libstdc++ that come
 * with it), and decides as from the XML it was compiled from. Its own process: every other
 * test has read XML by the time it could run. Nor does opening the response groups of a plan
 * that declares none, nor those of a plan that declares some: they are compiled into its image
 * (rules/rgs_image.c, issue 14) and read back without XML.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi_load.h"

static const cr_plugin *p;

enum { CALLS = 50 };
static char from[CALLS][128], dialed[CALLS][64];

static int setup(void **state)
{
    (void)state;
    p = abi_load(NULL);
    return p ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    abi_unload();
    return 0;
}

static cr_handle *open_config(const char *path)
{
    cr_open_options o = {0};
    o.size = sizeof o;
    char err[1024];
    cr_handle *h = NULL;
    int rc = p->open(path, &o, &h, err, sizeof err);
    if (rc != CR_ABI_OK)
        print_error("open %s: %s\n", path, err);
    assert_int_equal(rc, CR_ABI_OK);
    return h;
}

/* The decision's kind, number and first attempt's gateway, as one line. */
static void answer_of(cr_handle *h, size_t i, char *out, size_t len)
{
    cr_route_answer a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    assert_int_equal(p->route_answer(h, from[i], dialed[i], NULL, 0, &a), CR_ABI_OK);
    snprintf(out, len, "%d %s %zu %s", (int)a.kind, a.normalized, (size_t)a.nattempts,
             a.nattempts ? a.attempts[0].gateway : "-");
}

/* A generated plan (routes, rules, users: what a large Kamailio deployment starts from) and the
 * calls the generator wrote beside it. */
static void generate(const char *dir, char *xml, char *img)
{
    char cmd[2048];
    snprintf(xml, 64, "%s/plan.xml", dir);
    snprintf(img, 64, "%s/plan.plan", dir);
    snprintf(cmd, sizeof cmd,
             "%s bench --generate routes=2000,rules=100,users=2000 --seconds 0.01 --save %s "
             ">/dev/null && %s compile --config %s -o %s >/dev/null",
             getenv("CR_CLI"), xml, getenv("CR_CLI"), xml, img);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.numbers", xml);
    FILE *f = fopen(cmd, "r");
    assert_non_null(f);
    for (size_t i = 0; i < CALLS; i++)
        assert_int_equal(fscanf(f, "%127s %63s", from[i], dialed[i]), 2);
    fclose(f);
}

static void test_image_opened_without_libxml2(void **state)
{
    (void)state;
    char dir[] = "/tmp/crxmlXXXXXX", xml[64], img[64], cmd[128];
    assert_non_null(mkdtemp(dir));
    generate(dir, xml, img);

    assert_false(abi_maps_file(0, "libxml2")); /* loading the library did not load it */
    cr_handle *hi = open_config(img);
    static char from_image[CALLS][512];
    char from_xml[512];
    for (size_t i = 0; i < CALLS; i++)
        answer_of(hi, i, from_image[i], sizeof from_image[i]);
    assert_false(abi_maps_file(0, "libxml2")); /* nor opening an image and deciding from it */
    /* nor opening its response groups, which it declares none of (Kamailio's main process
     * does in mod_init): an engine with no workflow, agent or group */
    cr_rgs *r = NULL;
    char err[256];
    assert_int_equal(p->rgs_open_ex(hi, NULL, &r, err, sizeof err), CR_ABI_OK);
    cr_rgs_stats st = {.size = sizeof st};
    assert_true(p->rgs_stats(r, 0, 0, &st) < 0);
    assert_null(p->rgs_agent_uri(r, 1));
    assert_null(p->rgs_group_name(r, 1));
    p->rgs_close(r);
    assert_false(abi_maps_file(0, "libxml2"));

    /* a plan with response groups (Kamailio's hunt groups), compiled: opening it and its
     * response groups reads no XML either; they are the XML's, as a host sees them */
    char rgs_xml[512], rgs_img[64];
    snprintf(rgs_xml, sizeof rgs_xml, "%s/examples/workflows/kamailio-huntgroups.xml",
             getenv("CR_SRC"));
    snprintf(rgs_img, sizeof rgs_img, "%s/hunt.plan", dir);
    char compile[1400];
    snprintf(compile, sizeof compile, "%s compile --config %s -o %s >/dev/null", getenv("CR_CLI"),
             rgs_xml, rgs_img);
    assert_int_equal(system(compile), 0);
    cr_handle *hr = open_config(rgs_img);
    cr_rgs *ri = NULL;
    assert_int_equal(p->rgs_open_ex(hr, NULL, &ri, err, sizeof err), CR_ABI_OK);
    assert_true(p->rgs_stats(ri, 0, 0, &st) >= 0);
    assert_false(abi_maps_file(0, "libxml2"));

    cr_handle *hx = open_config(xml);
    assert_true(abi_maps_file(0, "libxml2")); /* reading XML did */
    cr_handle *hrx = open_config(rgs_xml);
    cr_rgs *rx = NULL;
    assert_int_equal(p->rgs_open_ex(hrx, NULL, &rx, err, sizeof err), CR_ABI_OK);
    size_t agents = 0;
    for (uint32_t a = 1; p->rgs_agent_uri(rx, a); a++, agents++)
        assert_string_equal(p->rgs_agent_uri(ri, a), p->rgs_agent_uri(rx, a));
    assert_null(p->rgs_agent_uri(ri, (uint32_t)agents + 1));
    assert_int_equal(agents, 3);
    for (uint32_t g = 1; p->rgs_group_name(rx, g); g++)
        assert_string_equal(p->rgs_group_name(ri, g), p->rgs_group_name(rx, g));
    p->rgs_close(rx);
    p->rgs_close(ri);
    p->close(hrx);
    p->close(hr);
    for (size_t i = 0; i < CALLS; i++) {
        answer_of(hx, i, from_xml, sizeof from_xml);
        assert_string_equal(from_image[i], from_xml);
    }
    p->close(hx);
    p->close(hi);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_opened_without_libxml2),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

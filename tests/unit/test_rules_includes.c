/*
 * Includes as an attacker or a careless admin would write them: fan-out, diamonds, budgets,
 * paths out of the configuration's directory, symbolic links, FIFOs and devices. Each is
 * refused with an error at the include site, without blocking and without reading a file
 * twice.
 */
#include "test_rules_common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>

#include "cr_rgs_xml.h"

static char dir[64], outside[64];

static int make_dirs(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/crtest-incsXXXXXX");
    snprintf(outside, sizeof outside, "/tmp/crtest-outXXXXXX");
    return mkdtemp(dir) && mkdtemp(outside) ? 0 : -1;
}

static int remove_dirs(void **state)
{
    char cmd[192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, outside);
    return system(cmd) == 0 ? 0 : -1;
}

/* Walks `path` with `include_dirs` (NULL-terminated or NULL); returns the code and leaves the
 * diagnostics in *d (caller frees). */
static int load(const char *path, const char *const *include_dirs, cr_diag *d)
{
    cr_diag_init(d);
    cr_load_options opts = {.include_dirs = include_dirs};
    cr_config *cfg = NULL;
    int rc = cr_rules_load_ex(path, &opts, &cfg, d);
    if (rc != CR_OK)
        print_diag(d);
    cr_config_free(cfg);
    return rc;
}

static void expect_load_error(const char *path, const char *const *include_dirs, const char *file,
                              int line, const char *msg)
{
    cr_diag d;
    assert_int_equal(load(path, include_dirs, &d), CR_ECONFIG);
    assert_true(find_diag(&d, CR_DIAG_ERROR, file, line, NULL, msg) >= 0);
    cr_diag_free(&d);
}

static void a_diamond_include_is_an_error_naming_both_sites(void **state)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/diamond", dir);
    write_in(sub, "d.xml", "<callroute><phoneUsages><usage name=\"X\"/></phoneUsages></callroute>");
    write_in(sub, "b.xml", "<callroute>\n<include href=\"d.xml\"/>\n</callroute>");
    write_in(sub, "c.xml", "<callroute>\n\n<include href=\"d.xml\"/>\n</callroute>");
    const char *a = write_in(sub, "a.xml",
                             "<callroute>\n<include href=\"b.xml\"/>\n<include href=\"c.xml\"/>\n"
                             "</callroute>");
    cr_diag d;
    assert_int_equal(load(a, NULL, &d), CR_ECONFIG);
    long i = find_diag(&d, CR_DIAG_ERROR, "/c.xml", 3, NULL, "already included at ");
    assert_true(i >= 0);
    assert_non_null(strstr(d.items[i].message, "/diamond/b.xml:2"));
    /* reported once, not also as duplicate objects */
    assert_int_equal(d.errors, 1);
    cr_diag_free(&d);
}

/* Eight levels, each file including the next level's file eight times: 8^8 parses for a walk
 * that only remembers its stack; one parse per file (and 7 errors per level) with a visited
 * set. */
static void include_fan_out_reads_each_file_once(void **state)
{
    char sub[128], name[32], text[512];
    snprintf(sub, sizeof sub, "%s/fan", dir);
    for (int level = 0; level < 8; level++) {
        size_t o = (size_t)snprintf(text, sizeof text, "<callroute>\n");
        for (int k = 0; k < 8 && level < 7; k++)
            o += (size_t)snprintf(text + o, sizeof text - o, "<include href=\"f%d.xml\"/>\n",
                                  level + 1);
        snprintf(text + o, sizeof text - o, "</callroute>\n");
        snprintf(name, sizeof name, "f%d.xml", level);
        write_in(sub, name, text);
    }
    char top[160];
    snprintf(top, sizeof top, "%s/f0.xml", sub);
    cr_diag d;
    assert_int_equal(load(top, NULL, &d), CR_ECONFIG);
    assert_int_equal(d.errors, 7 * 7);
    /* f3.xml includes f4.xml on lines 2 to 9: the last seven name the first */
    assert_true(find_diag(&d, CR_DIAG_ERROR, "/f3.xml", 3, NULL, "f4.xml': the file is") >= 0);
    assert_true(find_diag(&d, CR_DIAG_ERROR, "/f3.xml", 9, NULL, "f3.xml:2") >= 0);
    cr_diag_free(&d);
}

static void more_than_1000_files_is_an_error_at_the_include(void **state)
{
    char sub[128], name[32];
    snprintf(sub, sizeof sub, "%s/many", dir);
    size_t cap = 1100 * 40 + 64, o = 0;
    char *top = malloc(cap);
    assert_non_null(top);
    o += (size_t)snprintf(top + o, cap - o, "<callroute>\n");
    for (int i = 0; i < 1001; i++) {
        snprintf(name, sizeof name, "m%d.xml", i);
        write_in(sub, name, "<callroute/>");
        o += (size_t)snprintf(top + o, cap - o, "<include href=\"%s\"/>\n", name);
    }
    snprintf(top + o, cap - o, "</callroute>\n");
    const char *p = write_in(sub, "top.xml", top);
    free(top);
    /* the top file is the first of the 1000: the 1000th include is one too many */
    expect_load_error(p, NULL, "/top.xml", 1001, "includes more than 1000 files");
}

/* Files that fail to parse still count: sparse files of NULs, 60 MB each (no disk used). */
static void more_than_256_mb_in_all_is_an_error_at_the_include(void **state)
{
    char sub[128], name[32], path[192];
    snprintf(sub, sizeof sub, "%s/big", dir);
    mkdir(sub, 0700);
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/big%d.xml", sub, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 60L << 20), 0);
        close(fd);
    }
    char text[512];
    size_t o = (size_t)snprintf(text, sizeof text, "<callroute>\n");
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "big%d.xml", i);
        o += (size_t)snprintf(text + o, sizeof text - o, "<include href=\"%s\"/>\n", name);
    }
    snprintf(text + o, sizeof text - o, "</callroute>\n");
    const char *p = write_in(sub, "top.xml", text);
    expect_load_error(p, NULL, "/top.xml", 6, "add up to more than 256 MB");
}

static void includes_out_of_the_directory_are_refused(void **state)
{
    write_in(outside, "secret.xml", "<callroute><domains><domain>x</domain></domains></callroute>");
    char sub[128], text[512], up[256];
    snprintf(sub, sizeof sub, "%s/conf", dir);
    /* ../ out of the directory */
    snprintf(text, sizeof text,
             "<callroute>\n<include href=\"../../%s/secret.xml\"/>\n</callroute>",
             strchr(outside + 1, '/') + 1);
    const char *p = write_in(sub, "up.xml", text);
    snprintf(up, sizeof up, "%s", p);
    expect_load_error(up, NULL, "/up.xml", 2, "outside the configuration's directory");
    /* an absolute path */
    p = write_in(sub, "abs.xml", "<callroute>\n\n<include href=\"/etc/passwd\"/>\n</callroute>");
    expect_load_error(p, NULL, "/abs.xml", 3, "include '/etc/passwd': outside the configuration");
    /* a symbolic link inside the directory to a file outside */
    char link[192], target[192];
    snprintf(link, sizeof link, "%s/link.xml", sub);
    snprintf(target, sizeof target, "%s/secret.xml", outside);
    unlink(link);
    assert_int_equal(symlink(target, link), 0);
    p = write_in(sub, "vialink.xml", "<callroute>\n<include href=\"link.xml\"/>\n</callroute>");
    expect_load_error(p, NULL, "/vialink.xml", 2, "outside the configuration's directory");
    /* each is fine where the operator allows the other directory */
    const char *const allow[] = {outside, NULL};
    cr_diag d;
    assert_int_equal(load(p, allow, &d), CR_OK);
    cr_diag_free(&d);
    assert_int_equal(load(up, allow, &d), CR_OK);
    cr_diag_free(&d);
}

static void a_link_inside_the_directory_is_followed(void **state)
{
    char sub[128], link[192];
    snprintf(sub, sizeof sub, "%s/inner", dir);
    write_in(sub, "real.xml",
             "<callroute><phoneUsages><usage name=\"L\"/></phoneUsages></callroute>");
    snprintf(link, sizeof link, "%s/alias.xml", sub);
    unlink(link);
    assert_int_equal(symlink("real.xml", link), 0);
    const char *p =
        write_in(sub, "top.xml", "<callroute><include href=\"alias.xml\"/></callroute>");
    cr_diag d;
    assert_int_equal(load(p, NULL, &d), CR_OK);
    cr_diag_free(&d);
}

static void an_include_directory_that_does_not_exist_is_an_error(void **state)
{
    const char *p = write_in(dir, "plain.xml", "<callroute/>");
    const char *const dirs[] = {"/nonexistent/callroute-includes", NULL};
    expect_load_error(p, dirs, "/nonexistent/callroute-includes", 0,
                      "include directory '/nonexistent/callroute-includes': No such file");
}

/* A FIFO would block a reader forever (nobody writes to it); a device is no configuration. */
static void a_fifo_or_device_is_refused_without_blocking(void **state)
{
    char sub[128], fifo[192];
    snprintf(sub, sizeof sub, "%s/fifo", dir);
    mkdir(sub, 0700);
    snprintf(fifo, sizeof fifo, "%s/pipe.xml", sub);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *p =
        write_in(sub, "top.xml", "<callroute>\n<include href=\"pipe.xml\"/>\n</callroute>");
    expect_load_error(p, NULL, "/top.xml", 2, "include '");
    expect_load_error(p, NULL, "/top.xml", 2, "pipe.xml': not a regular file (a FIFO)");
    /* as the top file too */
    expect_load_error(fifo, NULL, "/pipe.xml", 0, "not a regular file (a FIFO)");
    /* a device allowed by an include directory is still not a file */
    const char *const dev[] = {"/dev", NULL};
    p = write_in(sub, "null.xml", "<callroute>\n<include href=\"/dev/null\"/>\n</callroute>");
    expect_load_error(p, dev, "/null.xml", 2, "not a regular file (a character device)");
}

/* The response-group loader walks the same way, with the same options. */
static void the_response_group_loader_is_confined_too(void **state)
{
    char sub[128], text[512];
    snprintf(sub, sizeof sub, "%s/rgs", dir);
    write_in(outside, "groups.xml", "<callroute><responseGroups/></callroute>");
    snprintf(text, sizeof text, "<callroute>\n<include href=\"%s/groups.xml\"/>\n</callroute>",
             outside);
    const char *p = write_in(sub, "top.xml", text);
    cr_rgs_config *rgs = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rgs_xml_load(p, &rgs, &d), CR_ECONFIG);
    assert_true(find_diag(&d, CR_DIAG_ERROR, "/top.xml", 2, NULL, "outside") >= 0);
    cr_diag_free(&d);
    const char *const dirs[] = {outside, NULL};
    cr_load_options opts = {.include_dirs = dirs};
    cr_diag_init(&d);
    assert_int_equal(cr_rgs_xml_load_ex(p, &opts, &rgs, &d), CR_OK);
    cr_rgs_config_free(rgs);
    cr_diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_diamond_include_is_an_error_naming_both_sites),
        cmocka_unit_test(include_fan_out_reads_each_file_once),
        cmocka_unit_test(more_than_1000_files_is_an_error_at_the_include),
        cmocka_unit_test(more_than_256_mb_in_all_is_an_error_at_the_include),
        cmocka_unit_test(includes_out_of_the_directory_are_refused),
        cmocka_unit_test(a_link_inside_the_directory_is_followed),
        cmocka_unit_test(an_include_directory_that_does_not_exist_is_an_error),
        cmocka_unit_test(a_fifo_or_device_is_refused_without_blocking),
        cmocka_unit_test(the_response_group_loader_is_confined_too),
    };
    return cmocka_run_group_tests(tests, make_dirs, remove_dirs);
}

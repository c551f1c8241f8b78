/*
 * The document walk (cr_xml.h): includes, cycles, roots and namespaces, and hostile input
 * (empty, random bytes, deep nesting, entity expansion) refused cleanly and quickly.
 */
#include "test_rules_common.h"

#include <time.h>

#include <libxml/tree.h>

#include "cr_plan_image.h"
#include "cr_xml.h"
#include "cr_xml_elem.h"
#include "xml_scan.h"

static char dir[64];

static int make_dir(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/crtest-incXXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Records the walk: element names and the file each came from. */
typedef struct seen {
    char log[1024];
    int stop_at; /* element index to stop at with code 42, or -1 */
    int n;
} seen;

static int record(void *ud, void *node, const char *file, cr_diag *diag)
{
    seen *s = ud;
    const char *slash = strrchr(file, '/');
    size_t o = strlen(s->log);
    snprintf(s->log + o, sizeof s->log - o, "%s@%s:%d ", cr_xml_name(node), slash + 1,
             cr_xml_line(node));
    return s->n++ == s->stop_at ? 42 : 0;
}

static void includes_expand_in_place_relative_to_the_includer(void **state)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    write_in(sub, "c.xml", "<callroute>\n<users/>\n</callroute>\n");
    write_in(sub, "b.xml",
             "<callroute xmlns=\"urn:callroute:config:1\">\n<gateways/>\n"
             "<include href=\"c.xml\"/>\n</callroute>\n");
    const char *a = write_in(dir, "a.xml",
                             "<callroute>\n<domains/>\n<include href=\"sub/b.xml\"/>\n"
                             "<routes/>\n</callroute>\n");
    seen s = {.stop_at = -1};
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_xml_walk(a, NULL, record, &s, &d), CR_OK);
    assert_string_equal(s.log, "domains@a.xml:2 gateways@b.xml:2 users@c.xml:2 routes@a.xml:4 ");
    assert_int_equal(d.count, 0);
    cr_diag_free(&d);
}

static void callback_code_stops_the_walk(void **state)
{
    const char *a = write_in(dir, "stop.xml", "<callroute><a/><b/><c/></callroute>");
    seen s = {.stop_at = 1};
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_xml_walk(a, NULL, record, &s, &d), 42);
    assert_int_equal(s.n, 2);
    cr_diag_free(&d);
}

static void include_not_found_names_the_including_line(void **state)
{
    const char *a = write_in(dir, "main.xml",
                             "<callroute>\n<domains/>\n<include href=\"missing.xml\"/>\n"
                             "</callroute>\n");
    expect_error(a, "/main.xml", 3, NULL, "include '");
    expect_error(a, "/main.xml", 3, NULL, "missing.xml': No such file or directory");
}

static void include_cycle_is_refused(void **state)
{
    write_in(dir, "x.xml", "<callroute>\n<include href=\"y.xml\"/>\n</callroute>\n");
    write_in(dir, "y.xml", "<callroute>\n\n<include href=\"./x.xml\"/>\n</callroute>\n");
    char path[128];
    snprintf(path, sizeof path, "%s/x.xml", dir);
    expect_error(path, "/y.xml", 3, NULL, "include cycle back to");
    write_in(dir, "self.xml", "<callroute><include href=\"self.xml\"/></callroute>");
    snprintf(path, sizeof path, "%s/self.xml", dir);
    expect_error(path, "/self.xml", 1, NULL, "include cycle");
}

static void include_errors_are_reported_in_the_included_file(void **state)
{
    write_in(dir, "bad.xml", "<callroute>\n<routes>\n</callroute>\n");
    write_in(dir, "wrongroot.xml", "<config/>\n");
    char path[128];
    snprintf(path, sizeof path, "%s/inc-bad.xml", dir);
    write_in(dir, "inc-bad.xml", "<callroute><include href=\"bad.xml\"/></callroute>");
    expect_error(path, "/bad.xml", 3, NULL, "mismatch");
    write_in(dir, "inc-bad.xml", "<callroute><include href=\"wrongroot.xml\"/></callroute>");
    expect_error(path, "/wrongroot.xml", 1, NULL, "root element is <config>");
    write_in(dir, "inc-bad.xml", "<callroute><include/></callroute>");
    expect_error(path, "/inc-bad.xml", 1, "include", "missing attribute 'href'");
}

static void includes_nest_at_most_16_deep(void **state)
{
    char name[32], text[128];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "chain%d.xml", i);
        snprintf(text, sizeof text, "<callroute>\n<include href=\"chain%d.xml\"/>\n</callroute>",
                 i + 1);
        write_in(dir, name, i < 19 ? text : "<callroute/>");
    }
    char path[128];
    snprintf(path, sizeof path, "%s/chain0.xml", dir);
    expect_error(path, "/chain15.xml", 2, NULL, "includes nested deeper than 16");
}

static void root_and_namespace_are_checked(void **state)
{
    const char *p = cr_test_tmpfile("<callroute xmlns=\"urn:callroute:config:2\"/>", ".xml");
    expect_error(p, base_name(p), 1, NULL, "namespace 'urn:callroute:config:2'");
    p = cr_test_tmpfile("<routes/>", ".xml");
    expect_error(p, base_name(p), 1, NULL, "root element is <routes>");
    p = cr_test_tmpfile("<callroute version=\"1\"/>", ".xml");
    expect_error(p, base_name(p), 1, NULL, "unknown attribute 'version'");
}

static void missing_or_unreadable_file_is_an_error(void **state)
{
    expect_error("/nonexistent/callroute.xml", "/nonexistent/callroute.xml", 0, NULL,
                 "No such file");
    expect_error(dir, dir, 0, NULL, "Is a directory");
}

static void empty_file_is_refused(void **state)
{
    const char *p = cr_test_tmpfile("", ".xml");
    expect_error(p, base_name(p), 0, NULL, "Document is empty");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void random_bytes_file_is_refused_quickly(void **state)
{
    size_t n = 10u << 20;
    char *buf = malloc(n);
    assert_non_null(buf);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char)(x | 1); /* no NUL: cr_test_tmpfile writes a C string */
    }
    buf[n - 1] = '\0';
    const char *p = cr_test_tmpfile(buf, ".xml");
    free(buf);
    double t = now();
    expect_error(p, base_name(p), 0, NULL, NULL);
    assert_true(now() - t < 10.0);
}

/* `<callroute>` then `levels` nested elements; whole document in one malloc'd string. */
static char *nested(size_t levels, const char *open, const char *close)
{
    size_t lo = strlen(open), lc = strlen(close);
    char *s = malloc(levels * (lo + lc) + 64);
    size_t o = (size_t)sprintf(s, "<callroute>");
    for (size_t i = 0; i < levels; i++, o += lo)
        memcpy(s + o, open, lo);
    for (size_t i = 0; i < levels; i++, o += lc)
        memcpy(s + o, close, lc);
    strcpy(s + o, "</callroute>");
    return s;
}

static void deep_nesting_is_refused_quickly(void **state)
{
    char *doc = nested(100000, "<a>", "</a>");
    const char *p = cr_test_tmpfile(doc, ".xml");
    free(doc);
    double t = now();
    expect_error(p, base_name(p), 1, NULL, "nested deeper than 64");
    assert_true(now() - t < 5.0);
    /* just inside the limit is fine for the walk (the loader then names the element) */
    doc = nested(60, "<responseGroups>", "</responseGroups>");
    p = cr_test_tmpfile(doc, ".xml");
    free(doc);
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    assert_int_equal(cr_rules_load(p, &cfg, &d), CR_OK);
    cr_config_free(cfg);
    cr_diag_free(&d);
    unlink(p);
}

static void entities_are_never_expanded(void **state)
{
    const char *laughs = "<?xml version=\"1.0\"?>\n"
                         "<!DOCTYPE callroute [\n"
                         " <!ENTITY lol \"lol\">\n"
                         " <!ENTITY l1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                         " <!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">\n"
                         " <!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">\n"
                         " <!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">\n"
                         " <!ENTITY l5 \"&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;\">\n"
                         " <!ENTITY l6 \"&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;\">\n"
                         " <!ENTITY l7 \"&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;\">\n"
                         " <!ENTITY l8 \"&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;\">\n"
                         " <!ENTITY l9 \"&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;\">\n"
                         "]>\n"
                         "<callroute><domains><domain>&l9;</domain></domains>"
                         "<phoneUsages><usage name=\"&l9;\"/></phoneUsages></callroute>\n";
    const char *p = cr_test_tmpfile(laughs, ".xml");
    double t = now();
    expect_error(p, base_name(p), 2, NULL, "DOCTYPE declarations are not allowed");
    assert_true(now() - t < 2.0);
    /* external entities (XXE) never get a chance either */
    p = cr_test_tmpfile("<!DOCTYPE callroute [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
                        "<callroute><domains><domain>&x;</domain></domains></callroute>",
                        ".xml");
    expect_error(p, base_name(p), 1, NULL, "DOCTYPE");
    p = cr_test_tmpfile("<callroute><domains><domain>&x;</domain></domains></callroute>", ".xml");
    expect_error(p, base_name(p), 1, NULL, "Entity 'x' not defined");
}

/* <callroute> with one <gateways><gateway> carrying `n` attributes (or namespace
 * declarations), on line 3. */
static char *gateway_with(size_t n, const char *fmt)
{
    char *s = malloc(n * 32 + 256);
    assert_non_null(s);
    size_t o = (size_t)sprintf(s, "<callroute>\n<gateways>\n<gateway name=\"g\"");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, fmt, i, i);
    strcpy(s + o, "\n address=\"sip:x\"/>\n</gateways>\n</callroute>\n");
    return s;
}

/* libxml2 2.9 takes minutes over one element with 200,000 attributes (its duplicate checks
 * are quadratic): the scan refuses it first, naming the line where the tag begins. */
static void an_element_with_200000_attributes_is_refused(void **state)
{
    const char *fmts[] = {" a%zu=\"%zu\"", "\n xmlns:p%zu=\"urn:x:%zu\""};
    for (int i = 0; i < 2; i++) {
        char *doc = gateway_with(200000, fmts[i]);
        const char *p = cr_test_tmpfile(doc, ".xml");
        free(doc);
        expect_error(p, base_name(p), 3, NULL, "element <gateway> has more than 256 attributes");
    }
    /* 256 with name and address: the scan lets it through, the loader names the unknown */
    char *doc = gateway_with(254, " a%zu=\"%zu\"");
    const char *p = cr_test_tmpfile(doc, ".xml");
    free(doc);
    expect_error(p, base_name(p), 3, "gateway 'g'", "unknown attribute 'a253'");
}

/* What only looks like attributes (in comments, CDATA, processing instructions and attribute
 * values) does not count; nor do end tags and empty elements count as nesting. */
static void the_scan_counts_only_real_attributes_and_nesting(void **state)
{
    size_t n = 300 * 8 + 65 * 16 + 1024;
    char *s = malloc(n * 2);
    assert_non_null(s);
    size_t o = (size_t)sprintf(s, "<callroute>\n<!-- ");
    for (int i = 0; i < 300; i++)
        o += (size_t)sprintf(s + o, "a%d=\"\" ", i);
    o += (size_t)sprintf(s + o, "-> ]]> -->\n<?pi ");
    for (int i = 0; i < 300; i++)
        o += (size_t)sprintf(s + o, "b=1 ");
    o += (size_t)sprintf(s + o, "? ?>\n<domains>");
    for (int i = 0; i < 100; i++)
        o += (size_t)sprintf(s + o, "<domain>d%d.example</domain><!----><x/>", i);
    o += (size_t)sprintf(s + o, "</domains>\n<phoneUsages><usage name=\"");
    for (int i = 0; i < 300; i++)
        o += (size_t)sprintf(s + o, "=");
    sprintf(s + o, "\"/></phoneUsages>\n</callroute>\n");
    const char *p = cr_test_tmpfile(s, ".xml");
    free(s);
    /* refused by the loader (<x> is unknown), not by the scan */
    expect_error(p, base_name(p), 4, NULL, "unknown element <x> in <domains>");
}

/* A big configuration of ordinary elements loads: the scan and the walk are linear. */
static void a_configuration_with_many_elements_loads(void **state)
{
    size_t n = 20000;
    char *s = malloc(n * 160 + 1024);
    assert_non_null(s);
    size_t o = (size_t)sprintf(s, "<callroute>\n<phoneUsages>");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "<usage name=\"U%zu\"/>", i);
    o += (size_t)sprintf(s + o, "</phoneUsages>\n<users>\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "<user uri=\"sip:u%zu@example.com\"/>\n", i);
    sprintf(s + o, "</users>\n</callroute>\n");
    const char *p = cr_test_tmpfile(s, ".xml");
    free(s);
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    int rc = cr_rules_load(p, &cfg, &d);
    if (rc != CR_OK)
        print_diag(&d);
    assert_int_equal(rc, CR_OK);
    assert_int_equal(cr_config_user_count(cfg), n);
    cr_config_free(cfg);
    cr_diag_free(&d);
    unlink(p);
}

/* ---- streaming (issue 14) ------------------------------------------------------------ */

/* The diagnostics of a routing load, one "file:line: error: object: message" a line, with
 * file names stripped of their directory. */
static char *load_diags(const char *path, int *rc)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = (cr_config *)1;
    *rc = cr_rules_load(path, &cfg, &d);
    assert_true(*rc == CR_OK ? cfg != NULL : cfg == NULL);
    cr_config_free(*rc == CR_OK ? cfg : NULL);
    static char out[8192];
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d.count; i++) {
        char b[2048];
        cr_diag_format(&d, i, b, sizeof b);
        const char *slash = strrchr(b, '/');
        const char *colon = strchr(b, ':');
        const char *t = slash && colon && slash < colon ? slash + 1 : b;
        o += (size_t)snprintf(out + o, sizeof out - o, "%s\n", t);
    }
    cr_diag_free(&d);
    return out;
}

/* Errors found while a section is streamed name file:line:object as before, and text found
 * late in the root or a section is reported where the whole document's check put it. */
static void streamed_errors_keep_their_place_and_name_file_line_object(void **state)
{
    const char *a = write_in(
        dir, "order.xml",
        "<callroute xmlns=\"urn:callroute:config:1\">\n<routes>\n"
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage><gateway>G</gateway></route>\njunk\n"
        "<route name=\"B\" pattern=\"^2$\" colour=\"red\"><usage>U</usage><gateway>G</gateway>"
        "</route>\n<routeX/>\n<route name=\"C\"><usage>U</usage></route>\n</routes>\n"
        "more junk\n<users><user uri=\"sip:a@x\" enterpriseVoice=\"maybe\"/></users>\n"
        "<voicePolicies default=\"\">text<voicePolicy name=\"V\"><usage></usage></voicePolicy>"
        "</voicePolicies>\n</callroute>\n");
    int rc;
    const char *got = load_diags(a, &rc);
    assert_int_equal(rc, CR_ECONFIG);
    assert_string_equal(
        got, "order.xml:10: error: unexpected text in <callroute>\n"
             "order.xml:5: error: unexpected text in <routes>\n"
             "order.xml:5: error: route 'B': unknown attribute 'colour' on <route>\n"
             "order.xml:6: error: unknown element <routeX> in <routes>\n"
             "order.xml:7: error: route 'C': missing required attribute 'pattern'\n"
             "order.xml:10: error: user 'sip:a@x': attribute 'enterpriseVoice' is 'maybe', "
             "expected true, false, 1 or 0\n"
             "order.xml:11: error: unexpected text in <voicePolicies>\n"
             "order.xml:11: error: attribute 'default' is empty\n"
             "order.xml:11: error: voice policy 'V': <usage> is empty\n");
}

/* A file found broken after objects of it were handed over is refused as a whole: only its
 * parse error remains, and nothing it declared or included is kept (the top file's default,
 * its directory and its include of c.xml are not "already" anything). */
static void a_file_broken_after_objects_were_handed_over_is_refused_whole(void **state)
{
    const char *one = write_in(dir, "late.xml",
                               "<callroute>\n<routes>\n<route name=\"x\"/>\n"
                               "<route name=\"y\" pattern=\"1\" bad=\"1\"/>\n</routes>\n"
                               "<users><user/></users>\n<routes>\n</callroute>\n");
    int rc;
    assert_string_equal(load_diags(one, &rc),
                        "late.xml:8: error: Opening and ending tag mismatch: routes line 7 and "
                        "callroute\n");
    assert_int_equal(rc, CR_ECONFIG);

    const char *a = write_in(dir, "ta.xml",
                             "<callroute>\n<include href=\"tb.xml\"/>\n"
                             "<locationProfiles default=\"P\"><locationProfile name=\"P\"/>"
                             "</locationProfiles>\n<include href=\"tc.xml\"/>\n"
                             "<directory path=\"d\"/>\n</callroute>\n");
    write_in(dir, "tb.xml",
             "<callroute>\n<locationProfiles default=\"X\"><locationProfile name=\"X\"/>"
             "</locationProfiles>\n<directory path=\"e\"/>\n<include href=\"tc.xml\"/>\n"
             "<routes><route name=\"bad\"/></routes>\n<routes>\n</callroute>\n");
    write_in(dir, "tc.xml", "<callroute><gateways><gateway name=\"G\"/></gateways></callroute>\n");
    assert_string_equal(load_diags(a, &rc),
                        "tb.xml:7: error: Opening and ending tag mismatch: routes line 6 and "
                        "callroute\n"
                        "tc.xml:1: error: gateway 'G': missing required attribute 'address'\n");
    assert_int_equal(rc, CR_ECONFIG);
}

static int no_schema_errors(void *ud, void *doc, const char *file, cr_diag *diag);

/* A routing load's diagnostics and, when it loads, its plan image: what a load gives. */
static char *load_result(const char *path, bool whole, void **image, size_t *len)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    cr_load_options opts = {.check_doc = no_schema_errors};
    int rc = cr_rules_load_ex(path, whole ? &opts : NULL, &cfg, &d);
    *image = NULL;
    *len = 0;
    if (rc == CR_OK)
        assert_int_equal(cr_image_build(cfg, 1, image, len), CR_OK);
    cr_config_free(cfg);
    size_t cap = 1 << 16, o = 0;
    char *out = calloc(1, cap);
    assert_non_null(out);
    o += (size_t)snprintf(out, cap, "rc %d\n", rc);
    for (size_t i = 0; i < d.count && o < cap; i++) {
        char b[2048];
        cr_diag_format(&d, i, b, sizeof b);
        o += (size_t)snprintf(out + o, cap - o, "%s\n", b);
    }
    cr_diag_free(&d);
    return out;
}

/* Routes are read without building their nodes when they have the usual shape (cr_xml_flat):
 * whatever a route holds, the load gives the same messages (file, line, object) and the same
 * plan as the document parsed whole, the nodes being built after all (replayed, same lines)
 * as soon as a route holds anything else, wherever that comes in it. */
static void routes_read_without_nodes_load_as_the_document(void **state)
{
    static const char *const routes[] = {
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\" description=\"d e\">\n <usage> U </usage>\n"
        " <gateway>\nG\n</gateway>\n</route>",
        "<route name=\"A\"\n pattern=\"^1$\"\n><usage>U</usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\" colour=\"red\"><usage>U</usage><gateway>G</gateway>"
        "</route>",
        "<route name=\"A\"><usage>U</usage><gateway>G</gateway></route>",
        "<route pattern=\"^1$\"><usage>U</usage><gateway>G</gateway></route>",
        "<route name=\"\" pattern=\"^1$\"><usage>U</usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage>\ntext<gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage><gateway>G</gateway>\nlate</route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage><!-- c --><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U<!-- c --></usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage><![CDATA[U]]></usage><gateway>G</gateway>"
        "</route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage><?pi x?><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>&#85;</usage><gateway>&#71;</gateway></route>",
        "<route name=\"A&amp;B\" pattern=\"^1$\"><usage>U</usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage x=\"1\">U</usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage><b>U</b></usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage></usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage/><gateway> </gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage><colour>G</colour></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>Nope</usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^(1$\"><usage>U</usage><gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\" xmlns:o=\"urn:other\" o:x=\"1\"><usage>U</usage>"
        "<gateway>G</gateway></route>",
        "<route name=\"A\" pattern=\"^1$\"><o:usage xmlns:o=\"urn:other\">U</o:usage>"
        "<gateway>G</gateway></route>",
        "<o:route xmlns:o=\"urn:other\" name=\"A\" pattern=\"^1$\"><usage>U</usage></o:route>",
        "<route name=\"A\" pattern=\"^1$\" name=\"B\"><usage>U</usage></route>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage><gateway>G</gateway>",
        "<user uri=\"sip:a@x\"/>",
        "<route name=\"A\" pattern=\"^1$\"><usage>U</usage><gateway>G</gateway></route>\n"
        "<route name=\"A\" pattern=\"^2$\"><usage>U</usage><gateway>G</gateway></route>",
        /* text in the section after white space in the same run: named at the run's line */
        "  \n\n  &amp;x\n",
        "<!-- c -->\n  \n&#120;",
        "\n                                                                                "
        "                                                                                "
        "                                                                                "
        "                                                                                "
        "\n x",
    };
    /* 20 children (more than a flat object holds) and values longer than its buffer */
    char many[4096], big[12000];
    int o = snprintf(many, sizeof many, "<route name=\"M\" pattern=\"^1$\">");
    for (int i = 0; i < 20; i++)
        o += snprintf(many + o, sizeof many - (size_t)o, "<gateway>G</gateway><usage>U</usage>");
    snprintf(many + o, sizeof many - (size_t)o, "</route>");
    o = snprintf(big, sizeof big, "<route name=\"");
    for (int i = 0; i < 5000; i++)
        big[o++] = 'n';
    o += snprintf(big + o, sizeof big - (size_t)o, "\" pattern=\"^1$\"><usage>");
    for (int i = 0; i < 5000; i++)
        big[o++] = 'u';
    snprintf(big + o, sizeof big - (size_t)o, "</usage><gateway>G</gateway></route>");
    size_t n = sizeof routes / sizeof *routes;
    const char *valid = "abcjklmnox"; /* of routes[], 'a' + index: those that load */
    for (size_t i = 0; i < n + 2; i++) {
        const char *r = i < n ? routes[i] : i == n ? many : big;
        size_t cap = strlen(r) + 1024;
        char *doc = malloc(cap);
        assert_non_null(doc);
        snprintf(doc, cap,
                 "<callroute xmlns=\"urn:callroute:config:1\">\n"
                 "<phoneUsages><usage name=\"U\"/></phoneUsages>\n"
                 "<gateways><gateway name=\"G\" address=\"sip:10.0.0.1\"/></gateways>\n"
                 "<voicePolicies><voicePolicy name=\"V\"><usage>U</usage></voicePolicy>"
                 "</voicePolicies>\n<routes>\n"
                 "<route name=\"before\" pattern=\"^9$\"><usage>U</usage><gateway>G</gateway>"
                 "</route>\n%s\n"
                 "<route name=\"after\" pattern=\"^8$\"><usage>U</usage><gateway>G</gateway>"
                 "</route>\n</routes>\n</callroute>\n",
                 r);
        const char *path = write_in(dir, "flat.xml", doc);
        void *a, *b;
        size_t alen, blen;
        char *streamed = load_result(path, false, &a, &alen);
        char *whole = load_result(path, true, &b, &blen);
        if (strcmp(streamed, whole) != 0)
            fail_msg("route %zu: streamed\n%s\nwhole\n%s", i, streamed, whole);
        assert_int_equal(alen, blen);
        assert_true(alen == 0 || memcmp(a, b, alen) == 0);
        /* the usual shape loads; the others are refused */
        bool loads = strncmp(streamed, "rc 0\n", 5) == 0;
        if (i < n && loads != (strchr(valid, (int)('a' + i)) != NULL))
            fail_msg("route %zu: %s", i, streamed);
        free(streamed);
        free(whole);
        free(a);
        free(b);
        free(doc);
    }
}

/* Records what a streaming consumer is handed. */
typedef struct stream_log {
    char log[2048];
    bool streamed; /* expect one object at a time in the document */
    int stop_at;   /* object index to stop at with code 7, or -1 */
    int objects, files;
} stream_log;

static void logf_(stream_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(stream_log *l, const char *fmt, ...)
{
    size_t o = strlen(l->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->log + o, sizeof l->log - o, fmt, ap);
    va_end(ap);
}

static int s_open(void *ud, void *node, const char *file, cr_diag *diag, cr_xml_take *take)
{
    const char *name = cr_xml_name(node);
    *take = strcmp(name, "skip") == 0    ? CR_XML_TAKE_SKIP
            : strcmp(name, "whole") == 0 ? CR_XML_TAKE_WHOLE
            : strcmp(name, "flat") == 0  ? CR_XML_TAKE_FLAT
                                         : CR_XML_TAKE_OBJECTS;
    logf_(ud, "open %s@%s:%d ", name, strrchr(file, '/') + 1, cr_xml_line(node));
    return 0;
}

static int s_whole(void *ud, void *node, const char *file, cr_diag *diag)
{
    int n = 0;
    CR_XML_FOR_ELEMENTS(c, node) n++;
    logf_(ud, "whole %s(%d) ", cr_xml_name(node), n);
    return 0;
}

static int s_object(void *ud, void *section, void *node, const char *file, cr_diag *diag)
{
    stream_log *l = ud;
    xmlNodePtr n = node, s = section;
    if (l->streamed) { /* the document holds this object and nothing else */
        assert_ptr_equal(s->children, n);
        assert_null(n->next);
        assert_ptr_equal(cr_xml_first_element(s->parent), s);
        assert_null(cr_xml_next_element(s));
    }
    char *id = cr_xml_attr(node, "id");
    logf_(l, "%s:%s@%d ", cr_xml_name(node), id ? id : "", cr_xml_line(node));
    free(id);
    return l->objects++ == l->stop_at ? 7 : 0;
}

static int s_close(void *ud, void *section, int text_line, const char *file, cr_diag *diag)
{
    logf_(ud, "close %s text@%d ", cr_xml_name(section), text_line);
    return 0;
}

static void s_begin(void *ud)
{
    logf_(ud, "[ ");
}

static void s_end(void *ud, bool kept)
{
    logf_(ud, kept ? "] " : "]x ");
}

static int no_schema_errors(void *ud, void *doc, const char *file, cr_diag *diag)
{
    return 0;
}

static int s_flat(void *ud, void *section, const cr_xml_flat *o, const char *file, cr_diag *diag,
                  bool *taken)
{
    const char *id = "";
    for (size_t i = 0; i < o->nattrs; i++)
        if (strcmp(o->attr[i], "id") == 0)
            id = o->value[i];
    *taken = id[0] == 't';
    if (!*taken)
        return 0;
    logf_(ud, "flat %s:%s@%d(", o->name, id, o->line);
    for (size_t i = 0; i < o->nkids; i++)
        logf_(ud, "%s=%s@%d,", o->kid[i].name, o->kid[i].text, o->kid[i].line);
    logf_(ud, ") ");
    return strcmp(id, "tstop") == 0 ? 9 : 0;
}

/* With a flat hook, an object of the usual shape is offered without nodes (its attributes,
 * its children's trimmed text, the lines of each); one the hook declines, or that holds
 * anything else (a child's attribute, a comment), is handed over as nodes as before. */
static void objects_of_the_usual_shape_are_offered_flat(void **state)
{
    const char *a = write_in(dir, "fa.xml",
                             "<callroute>\n<flat><o id=\"t1\"/>\n<o id=\"t2\"><k>a</k>\n<k> b "
                             "</k></o>  text\n<o id=\"n3\"><k>c</k></o>\n<o id=\"t4\"><k x=\"1\">"
                             "d</k></o>\n<o\nid=\"t5\"><k>e<!--c--></k></o>\n</flat>\n"
                             "<list><o id=\"t6\"/></list>\n<flat><o id=\"tstop\"/>"
                             "<o id=\"t7\"/></flat>\n</callroute>\n");
    static const cr_xml_stream s = {.open = s_open,
                                    .whole = s_whole,
                                    .object = s_object,
                                    .close = s_close,
                                    .file_begin = s_begin,
                                    .file_end = s_end,
                                    .flat = s_flat};
    cr_diag d;
    cr_diag_init(&d);
    stream_log l = {.streamed = true, .stop_at = -1};
    assert_int_equal(cr_xml_walk_stream(a, NULL, &s, &l, &d, NULL), 9);
    assert_string_equal(l.log, "[ open flat@fa.xml:2 flat o:t1@2() flat o:t2@3(k=a@3,k=b@4,) "
                               "o:n3@5 o:t4@6 o:t5@7 close flat text@5 open list@fa.xml:10 o:t6@10 "
                               "close list text@0 open flat@fa.xml:11 flat o:tstop@11() ");
    assert_int_equal(d.count, 0);
    cr_diag_free(&d);
}

/* A consumer is handed sections whole, object by object or not at all, in document order
 * with includes in place; streamed, the document holds one object at a time; parsed whole
 * (check_doc) it is handed over the same things. A hook's code stops the walk. */
static void the_stream_hands_over_one_object_at_a_time(void **state)
{
    const char *a = write_in(
        dir, "sa.xml",
        "<callroute>\n<list><o id=\"1\"/>\n<o id=\"2\"><x/></o>  text\n<p id=\"3\"/></list>\n"
        "<skip><o id=\"no\"/></skip>\n<include href=\"sb.xml\"/>\n"
        "<whole><o/><o/></whole>\n</callroute>\n");
    write_in(dir, "sb.xml", "<callroute><list><o id=\"4\"/></list></callroute>");
    static const cr_xml_stream s = {.open = s_open,
                                    .whole = s_whole,
                                    .object = s_object,
                                    .close = s_close,
                                    .file_begin = s_begin,
                                    .file_end = s_end};
    const char *want =
        "[ open list@sa.xml:2 o:1@2 o:2@3 p:3@4 close list text@4 open skip@sa.xml:5 "
        "[ open list@sb.xml:1 o:4@1 close list text@0 ] open whole@sa.xml:7 "
        "whole whole(2) ] ";
    cr_diag d;
    cr_diag_init(&d);
    stream_log l = {.streamed = true, .stop_at = -1};
    assert_int_equal(cr_xml_walk_stream(a, NULL, &s, &l, &d, NULL), CR_OK);
    assert_string_equal(l.log, want);
    stream_log w = {.stop_at = -1};
    cr_load_options opts = {.check_doc = no_schema_errors};
    assert_int_equal(cr_xml_walk_stream(a, &opts, &s, &w, &d, NULL), CR_OK);
    assert_string_equal(w.log, want);
    assert_int_equal(d.count, 0);
    stream_log stop = {.streamed = true, .stop_at = 1};
    assert_int_equal(cr_xml_walk_stream(a, NULL, &s, &stop, &d, NULL), 7);
    assert_int_equal(stop.objects, 2);
    assert_null(strstr(stop.log, "close"));
    /* broken after the objects: the consumer is told to forget the file */
    write_in(dir, "sb.xml", "<callroute><list><o id=\"4\"/></list><list></callroute>");
    stream_log broken = {.streamed = true, .stop_at = -1};
    assert_int_equal(cr_xml_walk_stream(a, NULL, &s, &broken, &d, NULL), CR_ECONFIG);
    assert_non_null(strstr(broken.log, "[ open list@sb.xml:1 o:4@1 close list text@0 open "
                                       "list@sb.xml:1 ]x open whole"));
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].file, "sb.xml"));
    cr_diag_free(&d);
    assert_int_equal(cr_xml_walk_stream(a, NULL, NULL, NULL, &d, NULL), CR_EINVAL);
}

/* The pre-scan counts lines once a chunk: a start tag over the limit is named at the line it
 * begins on however the bytes are cut, also when the tag spans chunks. */
static void the_scan_names_the_line_of_the_tag_in_any_chunking(void **state)
{
    size_t cap = 20000, o = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    o += (size_t)snprintf(doc + o, cap - o,
                          "<callroute>\n<!-- a\ncomment -->\n<a b=\"x\ny\"/>\n"
                          "<users>\n<user\n");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(doc + o, cap - o, " a%d=\"%s\"", i, i % 50 ? "v" : "v\n");
    o += (size_t)snprintf(doc + o, cap - o, "/>\n</users></callroute>\n");
    static const size_t chunks[] = {1, 2, 7, 64, 4096, 20000};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        xml_scan s;
        xml_scan_init(&s, 64);
        int rc = 0;
        for (size_t i = 0; i < o && rc == 0; i += chunks[c])
            rc = xml_scan_feed(&s, doc + i, o - i < chunks[c] ? o - i : chunks[c]);
        assert_int_equal(rc, -1);
        assert_int_equal(s.err_line, 7);
        assert_string_equal(s.err, "element <user> has more than 256 attributes");
    }
    /* a good document: every line counted, nothing refused */
    xml_scan s;
    xml_scan_init(&s, 64);
    const char *ok = "<a>\n<b c=\"1\n2\"/>\n<!-- x\n-->\n</a>\n";
    for (const char *p = ok; *p; p++)
        assert_int_equal(xml_scan_feed(&s, p, 1), 0);
    assert_int_equal(s.line, 7);
    free(doc);
}

static void helpers_parse_strictly(void **state)
{
    bool b = false;
    assert_int_equal(cr_xml_parse_bool("true", &b), 0);
    assert_true(b);
    assert_int_equal(cr_xml_parse_bool("0", &b), 0);
    assert_false(b);
    assert_int_equal(cr_xml_parse_bool("True", &b), CR_EINVAL);
    assert_int_equal(cr_xml_parse_bool("", &b), CR_EINVAL);
    assert_int_equal(cr_xml_parse_bool(NULL, &b), CR_EINVAL);
    long n = 0;
    assert_int_equal(cr_xml_parse_int("20", 0, 60, &n), 0);
    assert_int_equal(n, 20);
    assert_int_equal(cr_xml_parse_int("61", 0, 60, &n), CR_EINVAL);
    assert_int_equal(cr_xml_parse_int(" 1", 0, 60, &n), CR_EINVAL);
    assert_int_equal(cr_xml_parse_int("1s", 0, 60, &n), CR_EINVAL);
    assert_int_equal(cr_xml_parse_int("99999999999999999999", 0, 60, &n), CR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(includes_expand_in_place_relative_to_the_includer),
        cmocka_unit_test(callback_code_stops_the_walk),
        cmocka_unit_test(include_not_found_names_the_including_line),
        cmocka_unit_test(include_cycle_is_refused),
        cmocka_unit_test(include_errors_are_reported_in_the_included_file),
        cmocka_unit_test(includes_nest_at_most_16_deep),
        cmocka_unit_test(root_and_namespace_are_checked),
        cmocka_unit_test(missing_or_unreadable_file_is_an_error),
        cmocka_unit_test(empty_file_is_refused),
        cmocka_unit_test(random_bytes_file_is_refused_quickly),
        cmocka_unit_test(deep_nesting_is_refused_quickly),
        cmocka_unit_test(entities_are_never_expanded),
        cmocka_unit_test(an_element_with_200000_attributes_is_refused),
        cmocka_unit_test(the_scan_counts_only_real_attributes_and_nesting),
        cmocka_unit_test(a_configuration_with_many_elements_loads),
        cmocka_unit_test(helpers_parse_strictly),
        cmocka_unit_test(streamed_errors_keep_their_place_and_name_file_line_object),
        cmocka_unit_test(a_file_broken_after_objects_were_handed_over_is_refused_whole),
        cmocka_unit_test(the_stream_hands_over_one_object_at_a_time),
        cmocka_unit_test(routes_read_without_nodes_load_as_the_document),
        cmocka_unit_test(objects_of_the_usual_shape_are_offered_flat),
        cmocka_unit_test(the_scan_names_the_line_of_the_tag_in_any_chunking),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}

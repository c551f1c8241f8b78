/*
 * Response groups compiled into plan images (rules/rgs_image.c, issue 14): for every example
 * and fixture that declares response groups, those read back from the image equal those read
 * from the XML, field by field (resolved indexes, agents, time zones and source locations
 * included), and give the same actions on the RGS scenarios. Damaged or cut-short records are
 * refused with an error naming the image and the record, never a crash or a leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_image.h"
#include "cr_rgs.h"
#include "rgs_image.h"
#include "cr_rgs_xml.h"
#include "cr_rules.h"
#include "testutil.h"

/* Every configuration of the tree that declares response groups (whole documents). */
static const char *const configs[] = {
    "examples/workflows/helpdesk.xml",
    "examples/workflows/ivr.xml",
    "examples/workflows/kamailio-huntgroups.xml",
    "examples/contoso/responsegroups.xml",
    "examples/contoso/contoso.xml",
    "tests/rgs/rgs.xml",
    "tests/rgs/hours.xml",
    "tests/lua/lua.xml",
    "tests/cli/semantics/rgs.xml",
    "tests/cli/workflow/lines.xml",
};

#define SAME_STR(a, b, what)                                                                       \
    do {                                                                                           \
        if (((a) == NULL) != ((b) == NULL) || ((a) && strcmp((a), (b)) != 0))                      \
            fail_msg("%s: '%s' != '%s'", what, (a) ? (a) : "(null)", (b) ? (b) : "(null)");        \
    } while (0)
#define SAME(a, b, what)                                                                           \
    do {                                                                                           \
        if ((a) != (b))                                                                            \
            fail_msg("%s: %lld != %lld", what, (long long)(a), (long long)(b));                    \
    } while (0)

static void same_loc(cr_srcloc a, cr_srcloc b, const char *what)
{
    SAME_STR(a.file, b.file, what);
    SAME(a.line, b.line, what);
}

static void same_action(const cr_rgs_action *a, const cr_rgs_action *b)
{
    SAME(a->kind, b->kind, "action kind");
    SAME_STR(a->target, b->target, "action target");
    SAME_STR(a->prompt, b->prompt, "action prompt");
    SAME(a->queue, b->queue, "action queue");
    same_loc(a->loc, b->loc, "action loc");
}

static void same_tzdate(const cr_rgs_tzdate *a, const cr_rgs_tzdate *b)
{
    SAME(a->kind, b->kind, "tz date");
    SAME(a->n, b->n, "tz date n");
    SAME(a->m, b->m, "tz date m");
    SAME(a->w, b->w, "tz date w");
    SAME(a->d, b->d, "tz date d");
    SAME(a->secs, b->secs, "tz date secs");
}

static void same_zones(const cr_rgs_config *a, const cr_rgs_config *b)
{
    SAME(a->ntzs, b->ntzs, "zones");
    for (size_t i = 0; i < a->ntzs; i++) {
        const cr_rgs_tz *x = &a->tzs[i], *y = &b->tzs[i];
        SAME_STR(x->name, y->name, "zone name");
        SAME(x->n, y->n, "transitions");
        SAME(x->off0, y->off0, "off0");
        if (x->n) {
            assert_memory_equal(x->at, y->at, x->n * sizeof *x->at);
            assert_memory_equal(x->off, y->off, x->n * sizeof *x->off);
        }
        SAME(x->rule.valid, y->rule.valid, "rule");
        SAME(x->rule.dst, y->rule.dst, "rule dst");
        SAME(x->rule.std_off, y->rule.std_off, "rule std");
        SAME(x->rule.dst_off, y->rule.dst_off, "rule dst off");
        same_tzdate(&x->rule.start, &y->rule.start);
        same_tzdate(&x->rule.end, &y->rule.end);
    }
}

static void same_groups(const cr_rgs_config *a, const cr_rgs_config *b)
{
    SAME(a->ngroups, b->ngroups, "groups");
    for (size_t i = 0; i < a->ngroups; i++) {
        const cr_rgs_group *x = &a->groups[i], *y = &b->groups[i];
        SAME_STR(x->name, y->name, "group name");
        SAME(x->routing, y->routing, "routing");
        SAME(x->alert_time_s, y->alert_time_s, "alert");
        SAME(x->decline_grace_s, y->decline_grace_s, "grace");
        SAME(x->formal, y->formal, "formal");
        SAME(x->nagents, y->nagents, "group agents");
        for (size_t k = 0; k < x->nagents; k++) {
            SAME_STR(x->agent_uris[k], y->agent_uris[k], "agent uri");
            SAME(x->agents[k], y->agents[k], "agent index");
        }
        same_loc(x->loc, y->loc, "group loc");
    }
    SAME(a->nagents, b->nagents, "agents");
    for (size_t i = 0; i < a->nagents; i++)
        SAME_STR(a->agents[i].uri, b->agents[i].uri, "agent");
    SAME(a->nqueues, b->nqueues, "queues");
    for (size_t i = 0; i < a->nqueues; i++) {
        const cr_rgs_queue *x = &a->queues[i], *y = &b->queues[i];
        SAME_STR(x->name, y->name, "queue name");
        SAME(x->ngroups, y->ngroups, "queue groups");
        for (size_t k = 0; k < x->ngroups; k++) {
            SAME_STR(x->group_names[k], y->group_names[k], "queue group");
            SAME(x->groups[k], y->groups[k], "queue group index");
        }
        SAME(x->timeout_s, y->timeout_s, "timeout");
        same_action(&x->timeout_action, &y->timeout_action);
        SAME(x->overflow_calls, y->overflow_calls, "overflow");
        SAME(x->overflow_oldest, y->overflow_oldest, "oldest");
        same_action(&x->overflow_action, &y->overflow_action);
        same_loc(x->loc, y->loc, "queue loc");
    }
}

static void same_calendars(const cr_rgs_config *a, const cr_rgs_config *b)
{
    SAME(a->nhours, b->nhours, "hours");
    for (size_t i = 0; i < a->nhours; i++) {
        const cr_rgs_hours *x = &a->hours[i], *y = &b->hours[i];
        SAME_STR(x->name, y->name, "hours name");
        SAME_STR(x->tz_name, y->tz_name, "hours zone");
        SAME(x->tz, y->tz, "hours zone index");
        SAME(x->nranges, y->nranges, "ranges");
        for (size_t k = 0; k < x->nranges; k++) {
            SAME(x->ranges[k].days, y->ranges[k].days, "days");
            SAME(x->ranges[k].open_min, y->ranges[k].open_min, "open");
            SAME(x->ranges[k].close_min, y->ranges[k].close_min, "close");
            same_loc(x->ranges[k].loc, y->ranges[k].loc, "range loc");
        }
        same_loc(x->loc, y->loc, "hours loc");
    }
    SAME(a->nholidays, b->nholidays, "holiday sets");
    for (size_t i = 0; i < a->nholidays; i++) {
        const cr_rgs_holidays *x = &a->holidays[i], *y = &b->holidays[i];
        SAME_STR(x->name, y->name, "holiday set name");
        SAME(x->ndays, y->ndays, "holidays");
        for (size_t k = 0; k < x->ndays; k++) {
            SAME_STR(x->days[k].name, y->days[k].name, "holiday");
            SAME(x->days[k].start_local, y->days[k].start_local, "start");
            SAME(x->days[k].end_local, y->days[k].end_local, "end");
            same_loc(x->days[k].loc, y->days[k].loc, "holiday loc");
        }
        same_loc(x->loc, y->loc, "holiday set loc");
    }
}

static void same_workflows(const cr_rgs_config *a, const cr_rgs_config *b)
{
    SAME(a->nworkflows, b->nworkflows, "workflows");
    for (size_t i = 0; i < a->nworkflows; i++) {
        const cr_rgs_workflow *x = &a->workflows[i], *y = &b->workflows[i];
        SAME_STR(x->name, y->name, "workflow name");
        SAME_STR(x->uri, y->uri, "uri");
        SAME_STR(x->line, y->line, "line");
        SAME(x->type, y->type, "type");
        SAME_STR(x->queue_name, y->queue_name, "queue");
        SAME(x->queue, y->queue, "queue index");
        SAME_STR(x->welcome, y->welcome, "welcome");
        SAME_STR(x->moh, y->moh, "moh");
        SAME_STR(x->hours_name, y->hours_name, "hours");
        SAME_STR(x->holidays_name, y->holidays_name, "holidays");
        SAME(x->hours, y->hours, "hours index");
        SAME(x->holidays, y->holidays, "holidays index");
        SAME_STR(x->tz_name, y->tz_name, "zone");
        SAME(x->tz, y->tz, "zone index");
        SAME_STR(x->language, y->language, "language");
        SAME(x->active, y->active, "active");
        same_action(&x->after_hours, &y->after_hours);
        same_action(&x->holiday_action, &y->holiday_action);
        SAME_STR(x->script, y->script, "script");
        same_loc(x->loc, y->loc, "workflow loc");
    }
}

static void same_config(const cr_rgs_config *a, const cr_rgs_config *b)
{
    SAME(a->resolved, b->resolved, "resolved");
    same_zones(a, b);
    same_groups(a, b);
    same_calendars(a, b);
    same_workflows(a, b);
}

static void print_diag(const cr_diag *d)
{
    for (size_t i = 0; i < d->count; i++) {
        char buf[1024];
        cr_diag_format(d, i, buf, sizeof buf);
        print_error("%s\n", buf);
    }
}

static cr_rgs_config *from_xml(const char *path)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_rgs_config *rgs = NULL;
    int rc = cr_rgs_xml_load(path, &rgs, &d);
    print_diag(&d);
    cr_diag_free(&d);
    assert_int_equal(rc, CR_OK);
    return rgs;
}

/* The configuration compiled into a plan image file, then its response groups read back two
 * ways: from the image file, and from the routing configuration read from it. */
static void compare_through_image(const char *path, const cr_rgs_config *xml)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    int rc = cr_rules_load(path, &cfg, &d);
    print_diag(&d);
    assert_int_equal(rc, CR_OK);
    const char *img = cr_test_tmpfile("", ".plan");
    char err[512];
    assert_int_equal(cr_image_write(img, cfg, 1, NULL, err, sizeof err), CR_OK);
    cr_config_free(cfg);

    cr_rgs_config *a = NULL, *b = NULL;
    assert_int_equal(cr_rgs_xml_load_ex(img, NULL, &a, &d), CR_OK);
    same_config(xml, a);
    assert_int_equal(cr_image_load(img, &cfg, &d), CR_OK);
    assert_int_equal(cr_rgs_image_load_config(cfg, img, &b, &d), CR_OK);
    same_config(xml, b);
    /* the routing model's workflow targets, from the records */
    assert_int_equal(cr_config_workflow_count(cfg), xml->nworkflows);
    cr_rgs_config_free(a);
    cr_rgs_config_free(b);
    cr_config_free(cfg);
    cr_diag_free(&d);
    remove(img);
}

static void test_examples_same_as_xml(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
        const char *path = cr_test_src(configs[i]);
        cr_rgs_config *xml = from_xml(path);
        assert_true(xml->nworkflows > 0);
        /* in memory */
        void *bytes;
        size_t len;
        assert_int_equal(cu_rgs_image_encode(xml, &bytes, &len), CR_OK);
        cr_diag d;
        cr_diag_init(&d);
        cr_rgs_config *back = NULL;
        assert_int_equal(cu_rgs_image_decode(bytes, len, "x.plan", &back, &d), CR_OK);
        assert_false(back->resolved);
        assert_int_equal(cr_rgs_config_resolve(back, &d), CR_OK);
        same_config(xml, back);
        cr_rgs_config_free(back);
        cr_diag_free(&d);
        free(bytes);
        compare_through_image(path, xml);
        cr_rgs_config_free(xml);
    }
}

/* Every length short of the whole is refused, naming the image and a record. */
static void test_cut_short_refused(void **state)
{
    (void)state;
    cr_rgs_config *xml = from_xml(cr_test_src("tests/rgs/hours.xml"));
    void *bytes;
    size_t len;
    assert_int_equal(cu_rgs_image_encode(xml, &bytes, &len), CR_OK);
    cr_rgs_config_free(xml);
    for (size_t n = 0; n < len; n++) {
        void *copy = malloc(n ? n : 1);
        memcpy(copy, bytes, n);
        cr_diag d;
        cr_diag_init(&d);
        cr_rgs_config *back = (cr_rgs_config *)1;
        assert_int_equal(cu_rgs_image_decode(copy, n, "cut.plan", &back, &d), CR_ECONFIG);
        assert_null(back);
        assert_int_equal(d.errors, 1);
        assert_string_equal(d.items[0].file, "cut.plan");
        if (!strstr(d.items[0].message, "damaged response groups: "))
            fail_msg("at %zu: %s", n, d.items[0].message);
        cr_diag_free(&d);
        free(copy);
    }
    /* a byte more is refused too */
    unsigned char *more = malloc(len + 1);
    memcpy(more, bytes, len);
    more[len] = 0;
    cr_diag d;
    cr_diag_init(&d);
    cr_rgs_config *back = NULL;
    assert_int_equal(cu_rgs_image_decode(more, len + 1, "x.plan", &back, &d), CR_ECONFIG);
    assert_non_null(strstr(d.items[0].message, "end 0: trailing bytes"));
    cr_diag_free(&d);
    free(more);
    free(bytes);
}

/* A field out of range names its record: the second workflow's type, a zone's rule. */
static void test_damage_names_record(void **state)
{
    (void)state;
    cr_rgs_config *xml = from_xml(cr_test_src("examples/workflows/helpdesk.xml"));
    assert_true(xml->nworkflows >= 2);
    xml->workflows[1].type = (cr_rgs_workflow_type)7;
    void *bytes;
    size_t len;
    assert_int_equal(cu_rgs_image_encode(xml, &bytes, &len), CR_OK);
    cr_diag d;
    cr_diag_init(&d);
    cr_rgs_config *back = NULL;
    assert_int_equal(cu_rgs_image_decode(bytes, len, "bad.plan", &back, &d), CR_ECONFIG);
    assert_string_equal(d.items[0].file, "bad.plan");
    assert_non_null(strstr(d.items[0].message, "workflow 1: type out of range"));
    cr_diag_free(&d);
    free(bytes);
    xml->workflows[1].type = CR_RGS_HUNT_GROUP;
    if (xml->ntzs) {
        xml->tzs[0].rule.valid = xml->tzs[0].rule.dst = true;
        xml->tzs[0].rule.start.kind = 'M';
        xml->tzs[0].rule.start.m = 13;
        assert_int_equal(cu_rgs_image_encode(xml, &bytes, &len), CR_OK);
        cr_diag_init(&d);
        assert_int_equal(cu_rgs_image_decode(bytes, len, "bad.plan", &back, &d), CR_ECONFIG);
        assert_non_null(strstr(d.items[0].message, "time zone 0: time zone out of range"));
        cr_diag_free(&d);
        free(bytes);
    }
    cr_rgs_config_free(xml);
}

/* Every byte flipped: decoded and resolved, or refused with an error; never a crash. */
static void test_flipped_bytes(void **state)
{
    (void)state;
    cr_rgs_config *xml = from_xml(cr_test_src("tests/rgs/hours.xml"));
    void *bytes;
    size_t len;
    assert_int_equal(cu_rgs_image_encode(xml, &bytes, &len), CR_OK);
    cr_rgs_config_free(xml);
    unsigned char *p = bytes;
    for (size_t at = 0; at < len; at++) {
        for (int bit = 0; bit < 8; bit += 3) {
            p[at] ^= (unsigned char)(1u << bit);
            cr_diag d;
            cr_diag_init(&d);
            cr_rgs_config *back = NULL;
            int rc = cu_rgs_image_decode(bytes, len, "x.plan", &back, &d);
            if (rc == CR_OK)
                rc = cr_rgs_config_resolve(back, &d);
            assert_true(rc == CR_OK || (rc == CR_ECONFIG && d.errors > 0));
            cr_rgs_config_free(back);
            cr_diag_free(&d);
            p[at] ^= (unsigned char)(1u << bit);
        }
    }
    free(bytes);
}

/* A plan without response groups gives an empty set; one that declares them but carries none
 * compiled is refused. */
static void test_none_and_missing(void **state)
{
    (void)state;
    cr_config *cfg = cr_config_new();
    cr_diag d;
    cr_diag_init(&d);
    cr_rgs_config *rgs = NULL;
    assert_int_equal(cr_rgs_image_load_config(cfg, "x.plan", &rgs, &d), CR_OK);
    assert_int_equal(rgs->nworkflows, 0);
    assert_true(rgs->resolved);
    cr_rgs_config_free(rgs);
    cr_config_mark_response_groups(cfg);
    assert_int_equal(cr_rgs_image_load_config(cfg, "x.plan", &rgs, &d), CR_ECONFIG);
    assert_null(rgs);
    assert_non_null(strstr(d.items[0].message, "holds none compiled"));
    cr_diag_free(&d);
    cr_config_free(cfg);
}

/* A list of 100,000 distinct file names (a forged image's: 1.3 MB) is read in one pass: the names
 * are kept, not interned one by one against all kept before (quadratic: 6 s for 80,000 before),
 * and a location names the last of them. */
static void test_many_file_names(void **state)
{
    (void)state;
    const uint32_t n = 100000;
    size_t cap = 64 + (size_t)n * 16, at = 0; /* a name: its length, up to 10 bytes */
    unsigned char *b = malloc(cap);
    assert_non_null(b);
#define PUT(p, len) (memcpy(b + at, (p), (len)), at += (len))
#define PUT32(v)    (u = (v), PUT(&u, 4))
    uint32_t u;
    PUT("CRRGS001", 8);
    PUT32(n);
    char s[16];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)snprintf(s, sizeof s, "f%x.xml", i);
        PUT32(l);
        PUT(s, l);
    }
    PUT32(0); /* time zones */
    PUT32(0); /* agent groups */
    PUT32(0); /* queues */
    PUT32(1); /* one hours set: its name, its location (the last file, line 7), no zone */
    PUT32(1);
    PUT("h", 1);
    PUT32(n - 1);
    PUT32(7);
    PUT32(UINT32_MAX);
    PUT32(0);
    PUT32(0); /* holiday sets */
    PUT32(0); /* workflows */
#undef PUT32
#undef PUT
    cr_diag d;
    cr_diag_init(&d);
    cr_rgs_config *back = NULL;
    assert_int_equal(cu_rgs_image_decode(b, at, "many.plan", &back, &d), CR_OK);
    assert_int_equal(back->nstrings, n);
    assert_int_equal(back->nhours, 1);
    snprintf(s, sizeof s, "f%x.xml", n - 1);
    assert_string_equal(back->hours[0].loc.file, s);
    assert_int_equal(back->hours[0].loc.line, 7);
    cr_rgs_config_free(back);
    cr_diag_free(&d);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_same_as_xml), cmocka_unit_test(test_cut_short_refused),
        cmocka_unit_test(test_damage_names_record),  cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_none_and_missing),     cmocka_unit_test(test_many_file_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

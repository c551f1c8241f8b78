/*
 * Every member of the plugin table against a careless or hostile host (callroute.h, "Errors";
 * SPEC §6): NULL handles, NULL out-pointers, NULL, empty and 100 KB strings, invalid UTF-8,
 * control characters, quotes and backslashes, NULL results and engines. Each call returns the
 * code callroute.h documents and never crashes; every JSON line the library gives is valid
 * JSON (checked by python3's json.loads). Run under ASan+UBSan it also shows no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi_load.h"

static const cr_plugin *p;
static cr_handle *hd;
static char *big;   /* 100 KB of digits */
static char *bigx;  /* 100 KB of hostile bytes */
static FILE *jsonl; /* every JSON line, for json.loads */
static char jsonl_path[] = "/tmp/crhostileXXXXXX";

static const char *const FROM = "sip:alice@contoso.com";

/* Strings a host might pass by mistake or an attacker on purpose. */
static const char *hostile[] = {
    "",
    " ",
    "\"\\\"\\\\",
    "+1425555\"0199",
    "tel:+14255550199;phone-context=\"x\\y\"",
    "sip:\x01\x02\x1f\x7f@contoso.com",
    "sip:\xff\xfe\xc0\xaf@contoso.com",
    ("+1425\xed\xa0\x80"
     "5550199"),
    "\xe2\x82",
    "sip:alice@contoso.com\r\nVia: x",
    "tel:+14255550199;ext=\t\n",
    "sip:+14255550199@contoso.com;user=phone",
    "sip:@",
    "tel:",
    ";;;;",
    "%00%22",
    "+1 (425) 555-0199",
    "*#*#",
};
#define NHOSTILE (sizeof hostile / sizeof *hostile)
/* hostile[], then big and bigx (filled by setup) */
static const char *all[NHOSTILE + 2];

static int setup(void **state)
{
    (void)state;
    p = abi_load(NULL);
    if (!p)
        return -1;
    char err[2048];
    if (p->open(getenv("CR_CONFIG"), NULL, &hd, err, sizeof err) != CR_ABI_OK) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    size_t n = 100 * 1024;
    big = malloc(n + 1);
    bigx = malloc(n + 1);
    if (!big || !bigx)
        return -1;
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)('0' + i % 10);
        bigx[i] = (char)("\"\\\x01\xff\xc3\xa9"
                         "a;=@\x7f"[i % 11]);
    }
    big[0] = '+';
    big[n] = bigx[n] = 0;
    memcpy(all, hostile, sizeof hostile);
    all[NHOSTILE] = big;
    all[NHOSTILE + 1] = bigx;
    int fd = mkstemp(jsonl_path);
    jsonl = fd >= 0 ? fdopen(fd, "w") : NULL;
    return jsonl ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    p->close(hd);
    free(big);
    free(bigx);
    if (jsonl)
        fclose(jsonl);
    remove(jsonl_path);
    abi_unload();
    return 0;
}

/* Writes r's JSON (its whole length, as result_json says it needs) to the lines json.loads
 * reads at the end. */
static void keep_json(const cr_result *r)
{
    assert_non_null(r);
    size_t need = p->result_json(r, NULL, 0);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    assert_int_equal(p->result_json(r, buf, need + 1), need);
    assert_int_equal(strlen(buf), need);
    assert_null(strchr(buf, '\n'));
    fprintf(jsonl, "%s\n", buf);
    free(buf);
    /* the text form, cut short and in full, never overruns */
    char small[8];
    size_t tneed = p->result_text(r, small, sizeof small);
    assert_true(strlen(small) < sizeof small);
    char *t = malloc(tneed + 1);
    assert_non_null(t);
    assert_int_equal(p->result_text(r, t, tneed + 1), tneed);
    free(t);
}

static void put_line(void *ud, const char *json, size_t len)
{
    (void)ud;
    assert_null(memchr(json, '\n', len));
    fwrite(json, 1, len, jsonl);
    fputc('\n', jsonl);
}

/* NULL handle: every call that takes a handle says CR_ABI_EINVAL (or does nothing). */
static void test_null_handle(void **state)
{
    (void)state;
    cr_result *r = (cr_result *)&r;
    char err[256];
    assert_int_equal(p->reload(NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    p->close(NULL);
    assert_int_equal(p->route(NULL, FROM, "+14255550199", NULL, 0, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->route_ex(NULL, FROM, "+14255550199", NULL, 0, 0, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->normalize(NULL, NULL, "+14255550199", &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->dial(NULL, NULL, "123", &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->inbound(NULL, NULL, "+14255550100", NULL, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->gateways(NULL, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->samples(NULL, 4, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->user_plan(NULL, FROM, "sip:bob@contoso.com", NULL, 0, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->user_plan_ex(NULL, FROM, "sip:bob@contoso.com", NULL, NULL, 0, &r),
                     CR_ABI_EINVAL);
    assert_null(r);
    assert_int_equal(p->gateway_failed(NULL, "Red-GW1"), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result(NULL, "Red-GW1", 503, 0), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result_ex(NULL, "Red-GW1", 503, 0), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_set_state(NULL, "Red-GW1", CR_GATEWAY_UP), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_probe(NULL, "Red-GW1", 1), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_call(NULL, "Red-GW1", "c1"), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_call_end(NULL, "c1"), CR_ABI_EINVAL);
    cr_route_answer a = {.size = sizeof a};
    assert_int_equal(p->route_answer(NULL, FROM, "+14255550199", NULL, 0, &a), CR_ABI_EINVAL);
    int kind = 77;
    assert_int_equal(p->route_json(NULL, FROM, "+1", NULL, 0, 0, put_line, NULL, &kind),
                     CR_ABI_EINVAL);
    cr_rgs *e = (cr_rgs *)&e;
    assert_int_equal(p->rgs_open(NULL, 0, NULL, &e, err, sizeof err), CR_ABI_EINVAL);
    assert_null(e);
    e = (cr_rgs *)&e;
    cr_rgs_open_options ro = {.size = sizeof ro};
    assert_int_equal(p->rgs_open_ex(NULL, &ro, &e, err, sizeof err), CR_ABI_EINVAL);
    assert_null(e);
}

/* NULL out-pointers: CR_ABI_EINVAL, nothing written, no crash. */
static void test_null_out(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(p->open(getenv("CR_CONFIG"), NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    assert_int_equal(p->route(hd, FROM, "+14255550199", NULL, 0, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->route_ex(hd, FROM, "+14255550199", NULL, 0, 0, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->normalize(hd, NULL, "+14255550199", NULL), CR_ABI_EINVAL);
    assert_int_equal(p->dial(hd, NULL, "123", NULL), CR_ABI_EINVAL);
    assert_int_equal(p->inbound(hd, NULL, "+14255550100", NULL, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->gateways(hd, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->samples(hd, 4, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->check(getenv("CR_CONFIG"), NULL), CR_ABI_EINVAL);
    assert_int_equal(p->check_ex(getenv("CR_CONFIG"), NULL, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->user_plan(hd, FROM, "sip:bob@contoso.com", NULL, 0, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->user_plan_ex(hd, FROM, "sip:bob@contoso.com", NULL, NULL, 0, NULL),
                     CR_ABI_EINVAL);
    assert_int_equal(p->route_answer(hd, FROM, "+14255550199", NULL, 0, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->route_json(hd, FROM, "+14255550199", NULL, 0, 0, NULL, NULL, NULL),
                     CR_ABI_EINVAL);
    assert_int_equal(p->rgs_open(hd, 0, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    assert_int_equal(p->rgs_open_ex(hd, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    assert_int_equal(p->rgs_snapshot(NULL, 0, NULL), CR_ABI_EINVAL);
    /* route_json's kind may be NULL */
    assert_int_equal(p->route_json(hd, FROM, "+14255550199", NULL, 0, 0, put_line, NULL, NULL),
                     CR_ABI_OK);
}

/* NULL strings where the contract needs one: CR_ABI_EINVAL and no result. */
static void test_null_strings(void **state)
{
    (void)state;
    cr_result *r = (cr_result *)&r;
    char err[256];
    cr_handle *h2 = (cr_handle *)&h2;
    assert_int_equal(p->open(NULL, NULL, &h2, err, sizeof err), CR_ABI_EINVAL);
    assert_null(h2);
    assert_int_equal(p->route(hd, NULL, "+14255550199", NULL, 0, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->route(hd, FROM, NULL, NULL, 0, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->normalize(hd, NULL, NULL, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->dial(hd, NULL, NULL, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->inbound(hd, NULL, NULL, NULL, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->check(NULL, &r), CR_ABI_EINVAL);
    assert_null(r);
    r = (cr_result *)&r;
    assert_int_equal(p->user_plan(hd, FROM, NULL, NULL, 0, &r), CR_ABI_EINVAL);
    assert_null(r);
    assert_int_equal(p->gateway_failed(hd, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_failed(hd, ""), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result_ex(hd, NULL, 503, 0), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_set_state(hd, NULL, CR_GATEWAY_UP), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_probe(hd, NULL, 1), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_call(hd, "Red-GW1", NULL), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_call(hd, NULL, "c1"), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_call_end(hd, NULL), CR_ABI_EINVAL);
    assert_int_equal(p->compile(NULL, NULL, "/tmp/x.plan", err, sizeof err), CR_ABI_EINVAL);
    assert_int_equal(p->compile(getenv("CR_CONFIG"), NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    assert_int_equal(p->users_import(NULL, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    assert_int_equal(p->users_import_ex(NULL, NULL, 0, NULL, err, sizeof err), CR_ABI_EINVAL);
    cr_route_answer a = {.size = sizeof a};
    assert_int_equal(p->route_answer(hd, NULL, "+1", NULL, 0, &a), CR_ABI_EINVAL);
    assert_int_equal(p->route_answer(hd, FROM, NULL, NULL, 0, &a), CR_ABI_EINVAL);
    assert_int_equal(p->route_json(hd, FROM, NULL, NULL, 0, 0, put_line, NULL, NULL),
                     CR_ABI_EINVAL);
    /* NULL entries of `down` are skipped */
    const char *down[] = {NULL, "Red-GW1", NULL};
    r = NULL;
    assert_int_equal(p->route(hd, FROM, "+14255550199", down, 3, &r), CR_ABI_OK);
    keep_json(r);
    p->result_free(r);
}

/* Options and lists a host got wrong: a cr_open_options whose size does not cover the ABI 1.0
 * members is refused, never read past (its `shared` is not touched); a NULL list with a
 * non-zero count is an empty list. */
static void test_bad_sizes_and_lists(void **state)
{
    (void)state;
    char err[256];
    cr_handle *h = (cr_handle *)&h;
    cr_open_options o;
    memset(&o, 0xA5, sizeof o); /* what lies past the size the host claims */
    o.size = 4;
    o.shared = (void *)16;
    err[0] = 0;
    assert_int_equal(p->open(getenv("CR_CONFIG"), &o, &h, err, sizeof err), CR_ABI_EINVAL);
    assert_null(h);
    assert_non_null(strstr(err, "size"));
    o.size = 0;
    assert_int_equal(p->open(getenv("CR_CONFIG"), &o, &h, err, sizeof err), CR_ABI_EINVAL);
    /* the ABI 1.0 struct (up to db_path) is accepted; later members are not read */
    o.size = (uint32_t)(offsetof(cr_open_options, db_path) + sizeof o.db_path);
    o.shared = NULL;
    o.shared_len = 0;
    o.gateway_holdoff_s = 0;
    o.db_path = NULL;
    assert_int_equal(p->open(getenv("CR_CONFIG"), &o, &h, err, sizeof err), CR_ABI_OK);
    p->close(h);
    cr_result *r = NULL;
    assert_int_equal(p->route(hd, FROM, "+14255550199", NULL, 3, &r), CR_ABI_OK);
    assert_int_equal(p->result_kind(r), CR_DECISION_OUTBOUND);
    p->result_free(r);
    r = NULL;
    assert_int_equal(p->user_plan(hd, FROM, "sip:bob@contoso.com", NULL, 4, &r), CR_ABI_OK);
    keep_json(r);
    p->result_free(r);
    const char *eps[] = {NULL, "sip:bob@10.0.0.1", NULL};
    r = NULL;
    assert_int_equal(p->user_plan(hd, FROM, "sip:bob@contoso.com", eps, 3, &r), CR_ABI_OK);
    keep_json(r);
    p->result_free(r);
    cr_route_answer a = {.size = sizeof a};
    assert_int_equal(p->route_answer(hd, FROM, "+14255550199", NULL, 2, &a), CR_ABI_OK);
    assert_int_equal(p->route_json(hd, FROM, "+14255550199", NULL, 2, 0, put_line, NULL, NULL),
                     CR_ABI_OK);
    /* emit may be NULL: the actions are dropped */
    cr_rgs *e = NULL;
    assert_int_equal(p->rgs_open_ex(hd, NULL, &e, err, sizeof err), CR_ABI_OK);
    assert_int_equal(p->rgs_event(e, 1000, "call c1 sip:x@fabrikam.com sip:main@contoso.com", NULL,
                                  NULL, err, sizeof err),
                     CR_ABI_OK);
    assert_int_equal(p->rgs_event(e, 2000, "dtmf c1 1", NULL, NULL, err, sizeof err), CR_ABI_OK);
    assert_true(p->rgs_advance(e, 600000, NULL, NULL) >= -1);
    p->rgs_close(e);
}

/* The result readers and result_free with NULL: NULL, 0, nothing done. */
static void test_null_results(void **state)
{
    (void)state;
    p->result_free(NULL);
    assert_int_equal(p->result_kind(NULL), 0);
    assert_null(p->result_get(NULL, "decision"));
    assert_int_equal(p->result_count(NULL, "attempts"), 0);
    assert_null(p->result_item(NULL, "attempts", 0, "gateway"));
    char buf[16] = "x";
    assert_int_equal(p->result_json(NULL, buf, sizeof buf), 0);
    assert_int_equal(p->result_text(NULL, buf, sizeof buf), 0);
    cr_result *r = NULL;
    assert_int_equal(p->route(hd, FROM, "+14255550199", NULL, 0, &r), CR_ABI_OK);
    assert_null(p->result_get(r, NULL));
    assert_null(p->result_get(r, "no such field"));
    assert_int_equal(p->result_count(r, NULL), 0);
    assert_null(p->result_item(r, "attempts", 0, NULL));
    assert_null(p->result_item(r, NULL, 0, "gateway"));
    assert_null(p->result_item(r, "attempts", SIZE_MAX, "gateway"));
    assert_null(p->result_get(r, "attempts")); /* a list is not a string field */
    /* a buffer of 0 bytes is not written; 1 byte gets the NUL */
    assert_true(p->result_json(r, NULL, 0) > 0);
    buf[0] = 'x';
    p->result_json(r, buf, 1);
    assert_int_equal(buf[0], 0);
    p->result_free(r);
    /* the engine side */
    p->rgs_close(NULL);
    assert_int_equal(p->rgs_advance(NULL, 0, NULL, NULL), -1);
    assert_int_equal(p->rgs_advance_typed(NULL, 0, NULL, NULL), -1);
    assert_int_equal(p->rgs_next_deadline(NULL), -1);
    assert_int_equal(p->rgs_agent_id(NULL, "sip:a@x"), 0);
    assert_int_equal(p->rgs_group_id(NULL, "g"), 0);
    assert_null(p->rgs_agent_uri(NULL, 1));
    assert_null(p->rgs_group_name(NULL, 1));
    assert_int_equal(p->rgs_call_handle(NULL, "c1"), 0);
    assert_int_equal(p->rgs_call_id(NULL, 1, buf, sizeof buf), 0);
    cr_rgs_stats st = {.size = sizeof st};
    assert_int_equal(p->rgs_stats(NULL, 0, 0, &st), CR_ABI_EINVAL);
    char err[64];
    assert_int_equal(p->rgs_event(NULL, 0, "call c1 sip:a@x sip:b@y", NULL, NULL, err, sizeof err),
                     CR_ABI_EINVAL);
    cr_rgs_typed_event ev = {.size = sizeof ev, .type = CR_RGS_EVENT_CALL};
    assert_int_equal(p->rgs_event_typed(NULL, 0, &ev, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    uint64_t call = 5;
    assert_int_equal(p->rgs_call_typed(NULL, 0, &ev, &call, NULL, NULL, err, sizeof err),
                     CR_ABI_EINVAL);
    assert_int_equal(call, 0);
}

/* strerror names every code, and any other integer too. */
static void test_strerror_total(void **state)
{
    (void)state;
    const int codes[] = {0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, 1, 2, 100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        const char *s = p->strerror(codes[i]);
        assert_non_null(s);
        assert_true(s[0] != 0);
    }
}

/* Hostile and over-long strings into every decision: a documented code, never a crash, and
 * each result's JSON is kept for json.loads. */
static void test_hostile_strings_decide(void **state)
{
    (void)state;
    for (size_t i = 0; i < NHOSTILE + 2; i++) {
        const char *s = all[i];
        cr_result *r = NULL;
        /* route: always a decision */
        assert_int_equal(p->route(hd, FROM, s, NULL, 0, &r), CR_ABI_OK);
        keep_json(r);
        p->result_free(r);
        r = NULL;
        assert_int_equal(p->route(hd, s, "+14255550199", NULL, 0, &r), CR_ABI_OK);
        keep_json(r);
        p->result_free(r);
        r = NULL;
        assert_int_equal(p->route_ex(hd, s, s, &s, 1, CR_ROUTE_FRESH_SPREAD, &r), CR_ABI_OK);
        keep_json(r);
        p->result_free(r);
        assert_int_equal(p->route_json(hd, s, s, NULL, 0, 0, put_line, NULL, NULL), CR_ABI_OK);
        assert_int_equal(p->route_json(hd, FROM, s, NULL, 0, 0, put_line, NULL, NULL), CR_ABI_OK);
        cr_route_answer a = {.size = sizeof a};
        assert_int_equal(p->route_answer(hd, s, s, &s, 1, &a), CR_ABI_OK);
        assert_true(a.kind == CR_DECISION_NOT_APPLICABLE || a.kind == CR_DECISION_BLOCKED ||
                    a.kind == CR_DECISION_OUTBOUND || a.kind == CR_DECISION_INTERNAL);
        assert_true(strlen(a.reason) < sizeof a.reason);
        /* normalize: a result, or not a dialable number / no such profile */
        r = NULL;
        int rc = p->normalize(hd, NULL, s, &r);
        assert_true(rc == CR_ABI_OK || rc == CR_ABI_EINVAL);
        assert_true((rc == CR_ABI_OK) == (r != NULL));
        if (r)
            keep_json(r);
        p->result_free(r);
        r = NULL;
        assert_int_equal(p->normalize(hd, s, "+14255550199", &r), CR_ABI_ENOENT);
        assert_null(r);
        /* dial: a result whose kind is a CR_DIAL_* */
        assert_int_equal(p->dial(hd, NULL, s, &r), CR_ABI_OK);
        assert_true(p->result_kind(r) >= CR_DIAL_NO_MATCH && p->result_kind(r) <= CR_DIAL_COMPLETE);
        keep_json(r);
        p->result_free(r);
        r = NULL;
        assert_int_equal(p->dial(hd, s, "5", &r), CR_ABI_ENOENT);
        assert_null(r);
        /* inbound: an unknown gateway is ENOENT, any called/calling number a result */
        if (s[0]) {
            assert_int_equal(p->inbound(hd, s, "+14255550100", NULL, &r), CR_ABI_ENOENT);
            assert_null(r);
        }
        rc = p->inbound(hd, NULL, s, s, &r);
        assert_true(rc == CR_ABI_OK || rc == CR_ABI_EINVAL);
        assert_true((rc == CR_ABI_OK) == (r != NULL));
        if (r)
            keep_json(r);
        p->result_free(r);
        r = NULL;
        rc = p->inbound(hd, "Red-GW1", s, s, &r);
        assert_true(rc == CR_ABI_OK || rc == CR_ABI_EINVAL);
        if (r)
            keep_json(r);
        p->result_free(r);
        r = NULL;
        /* user_plan: kind 0 or 1 */
        rc = p->user_plan(hd, s, s, &s, 1, &r);
        assert_true(rc == CR_ABI_OK || rc == CR_ABI_EINVAL);
        assert_true((rc == CR_ABI_OK) == (r != NULL));
        if (r)
            keep_json(r);
        p->result_free(r);
        r = NULL;
        rc = p->user_plan(hd, s, "sip:bob@contoso.com", &s, 1, &r);
        assert_int_equal(rc, CR_ABI_OK);
        keep_json(r);
        p->result_free(r);
        r = NULL;
        if (s[0]) {
            rc = p->user_plan_ex(hd, FROM, "sip:bob@contoso.com", s, NULL, 0, &r);
            assert_int_equal(rc, CR_ABI_ENOENT);
            assert_null(r);
        }
    }
}

/* Hostile gateway names and call ids: documented codes; the gateways result stays valid. */
static void test_hostile_gateway_names(void **state)
{
    (void)state;
    cr_open_options o = {.size = sizeof o};
    char err[1024];
    cr_handle *h = NULL;
    assert_int_equal(p->open(getenv("CR_CONFIG"), &o, &h, err, sizeof err), CR_ABI_OK);
    for (size_t i = 0; i < NHOSTILE + 2; i++) {
        const char *s = all[i];
        int empty = s[0] == 0;
        assert_int_equal(p->gateway_set_state(h, s, CR_GATEWAY_DOWN),
                         empty ? CR_ABI_EINVAL : CR_ABI_ENOENT);
        assert_int_equal(p->gateway_call(h, s, "c1"), empty ? CR_ABI_EINVAL : CR_ABI_ENOENT);
        int rc = p->gateway_call(h, "Red-GW1", s);
        assert_int_equal(rc, empty ? CR_ABI_EINVAL : CR_ABI_OK);
        assert_int_equal(p->gateway_call_end(h, s), empty ? CR_ABI_EINVAL : CR_ABI_OK);
        assert_int_equal(p->gateway_call_end(h, s), empty ? CR_ABI_EINVAL : CR_ABI_ENOENT);
    }
    assert_int_equal(p->gateway_set_state(h, "Red-GW1", 99), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_set_state(h, "Red-GW1", -1), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result_ex(h, "Red-GW1", -5, 0), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result_ex(h, "Red-GW1", 700, 0), CR_ABI_EINVAL);
    assert_int_equal(p->gateway_result_ex(h, "Red-GW1", 200, -5), 0);
    /* the hold-off of a negative or enormous Retry-After does not overflow into the past */
    assert_int_equal(p->gateway_result_ex(h, "Red-GW2", 503, INT_MAX),
                     CR_GATEWAY_RESULT_FAILURE | CR_GATEWAY_RESULT_DOWN);
    cr_result *r = NULL;
    assert_int_equal(p->gateways(h, &r), CR_ABI_OK);
    for (size_t i = 0; i < p->result_count(r, "gateways"); i++)
        if (strcmp(p->result_item(r, "gateways", i, "name"), "Red-GW2") == 0)
            assert_string_equal(p->result_item(r, "gateways", i, "state"), "down");
    keep_json(r);
    p->result_free(r);
    p->close(h);
}

/* route_answer never writes past the size the host gave, whatever that size. */
static void test_route_answer_sizes(void **state)
{
    (void)state;
    size_t full = sizeof(cr_route_answer);
    unsigned char *mem = malloc(full + 64);
    assert_non_null(mem);
    for (size_t size = 0; size <= full; size += 7) {
        memset(mem, 0xA5, full + 64);
        cr_route_answer *a = (cr_route_answer *)(void *)mem;
        uint32_t sz = (uint32_t)size;
        memcpy(mem, &sz, sizeof sz);
        int rc = p->route_answer(hd, FROM, "+14255550199", NULL, 0, a);
        if (size < offsetof(cr_route_answer, attempts)) {
            assert_int_equal(rc, CR_ABI_EINVAL);
            for (size_t i = sizeof sz; i < full + 64; i++)
                assert_int_equal(mem[i], 0xA5);
            continue;
        }
        assert_int_equal(rc, CR_ABI_OK);
        for (size_t i = size; i < full + 64; i++)
            assert_int_equal(mem[i], 0xA5);
        assert_int_equal(a->kind, CR_DECISION_OUTBOUND);
        assert_true(offsetof(cr_route_answer, attempts) + a->nattempts * sizeof(cr_route_attempt) <=
                    size);
    }
    free(mem);
}

/* err after a refusal for a NULL argument: a NUL-terminated message ("always NUL-terminated when
 * errlen > 0"), never the caller's old bytes. */
static void test_error_text_on_null_arguments(void **state)
{
    (void)state;
    char err[64];
#define FILLED()     memset(err, 'x', sizeof err)
#define TERMINATED() assert_true(memchr(err, 0, sizeof err) != NULL)
    FILLED();
    assert_int_equal(p->open(getenv("CR_CONFIG"), NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    cr_handle *h = NULL;
    assert_int_equal(p->open(NULL, NULL, &h, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    assert_int_equal(p->reload(NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    assert_int_equal(p->compile(NULL, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    assert_int_equal(p->users_import_ex(NULL, NULL, 0, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    assert_int_equal(p->users_export(NULL, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    assert_int_equal(p->rgs_open_ex(NULL, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    assert_int_equal(p->rgs_event(NULL, 0, NULL, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    assert_int_equal(p->rgs_event_typed(NULL, 0, NULL, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
    FILLED();
    assert_int_equal(p->preload(NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    TERMINATED();
#undef FILLED
#undef TERMINATED
}

/* Text errors: err NULL or errlen 0 is allowed and never written; a small buffer is cut and
 * NUL-terminated. */
static void test_error_buffers(void **state)
{
    (void)state;
    cr_handle *h = (cr_handle *)&h;
    assert_int_equal(p->open("/nonexistent/x.xml", NULL, &h, NULL, 0), CR_ABI_ECONFIG);
    assert_null(h);
    char err[8];
    memset(err, 'x', sizeof err);
    assert_int_equal(p->open("/nonexistent/x.xml", NULL, &h, err, 0), CR_ABI_ECONFIG);
    assert_int_equal(err[0], 'x');
    assert_int_equal(p->open("/nonexistent/x.xml", NULL, &h, err, sizeof err), CR_ABI_ECONFIG);
    assert_true(strlen(err) < sizeof err);
    assert_int_equal(p->open(NULL, NULL, &h, NULL, 0), CR_ABI_EINVAL);
    assert_int_equal(p->reload(hd, "/nonexistent/x.xml", NULL, 0), CR_ABI_ECONFIG);
    assert_int_equal(p->reload(hd, "/nonexistent/x.xml", err, sizeof err), CR_ABI_ECONFIG);
    assert_true(strlen(err) < sizeof err);
    assert_int_equal(p->compile("/nonexistent/x.xml", NULL, "/tmp/crhostile.plan", NULL, 0),
                     CR_ABI_ECONFIG);
    assert_int_equal(p->users_export("/nonexistent/db", "-", NULL, err, sizeof err), CR_ABI_ENOENT);
    assert_true(strlen(err) < sizeof err);
    assert_int_equal(p->users_export("/tmp", "-", "json", err, sizeof err), CR_ABI_EINVAL);
    cr_rgs *e = NULL;
    assert_int_equal(p->rgs_open_ex(hd, NULL, &e, NULL, 0), CR_ABI_OK);
    assert_int_equal(p->rgs_event(e, 0, "no such event", NULL, NULL, NULL, 0), CR_ABI_EINVAL);
    assert_int_equal(p->rgs_event(e, 0, "no such event", NULL, NULL, err, sizeof err),
                     CR_ABI_EINVAL);
    assert_true(strlen(err) < sizeof err);
    p->rgs_close(e);
}

static void count_action(void *ud, int64_t at_ms, const cr_rgs_typed_action *a)
{
    (void)at_ms;
    assert_non_null(a->arg);
    (*(int *)ud)++;
}

static void count_text(void *ud, int64_t at_ms, const char *call_id, const char *action,
                       const char *args)
{
    (void)at_ms;
    assert_non_null(call_id);
    assert_non_null(action);
    assert_non_null(args);
    (*(int *)ud)++;
}

/* The response-group engine against hostile events: each is refused or handled, never a crash;
 * its snapshot stays valid JSON. */
static void test_hostile_rgs(void **state)
{
    (void)state;
    char err[512];
    cr_rgs *e = NULL;
    assert_int_equal(p->rgs_open_ex(hd, NULL, &e, err, sizeof err), CR_ABI_OK);
    int n = 0;
    int64_t t = 0;
    cr_rgs_open_options small = {.size = 4};
    cr_rgs *e2 = (cr_rgs *)&e2;
    assert_int_equal(p->rgs_open_ex(hd, &small, &e2, err, sizeof err), CR_ABI_EINVAL);
    assert_null(e2);
    for (size_t i = 0; i < NHOSTILE + 2; i++) {
        const char *s = all[i];
        t += 1000;
        int rc = p->rgs_event(e, t, s, count_text, &n, err, sizeof err);
        assert_true(rc == CR_ABI_OK || rc == CR_ABI_EINVAL || rc == CR_ABI_ENOENT ||
                    rc == CR_ABI_ESTATE);
        cr_rgs_typed_event ev = {.size = sizeof ev, .type = CR_RGS_EVENT_CALL};
        ev.from = s;
        ev.to = s;
        ev.call_id = s[0] ? s : NULL;
        uint64_t call = 0;
        rc = p->rgs_call_typed(e, t, &ev, &call, count_action, &n, err, sizeof err);
        assert_true(rc == CR_ABI_OK || rc == CR_ABI_EINVAL || rc == CR_ABI_ESTATE);
        ev.to = "sip:main@contoso.com";
        rc = p->rgs_call_typed(e, t, &ev, &call, count_action, &n, err, sizeof err);
        assert_true(rc == CR_ABI_OK || rc == CR_ABI_ESTATE);
        /* the call (waiting in the IVR) is found by its name, whatever its bytes */
        if (rc == CR_ABI_OK && s[0])
            assert_int_equal(p->rgs_call_handle(e, s), call);
        if (rc == CR_ABI_OK) {
            cr_rgs_typed_event d = {.size = sizeof d, .type = CR_RGS_EVENT_DTMF, .call = call};
            d.text = s;
            rc = p->rgs_event_typed(e, t, &d, count_action, &n, err, sizeof err);
            assert_true(rc == CR_ABI_OK || rc == CR_ABI_EINVAL || rc == CR_ABI_ESTATE);
            d.type = CR_RGS_EVENT_SPEECH;
            rc = p->rgs_event_typed(e, t, &d, count_action, &n, err, sizeof err);
            assert_true(rc == CR_ABI_OK || rc == CR_ABI_EINVAL || rc == CR_ABI_ESTATE);
        }
        assert_int_equal(p->rgs_agent_id(e, s), 0);
        assert_int_equal(p->rgs_group_id(e, s), 0);
        if (!s[0])
            assert_int_equal(p->rgs_call_handle(e, s), 0);
        char id[4];
        p->rgs_call_id(e, call, id, sizeof id);
        assert_true(strlen(id) < sizeof id);
    }
    assert_int_equal(p->rgs_agent_id(e, NULL), 0);
    assert_int_equal(p->rgs_group_id(e, NULL), 0);
    assert_int_equal(p->rgs_call_handle(e, NULL), 0);
    assert_int_equal(p->rgs_event(e, t, NULL, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    assert_int_equal(p->rgs_event_typed(e, t, NULL, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    cr_rgs_typed_event bad = {.size = 4};
    assert_int_equal(p->rgs_event_typed(e, t, &bad, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    bad.size = sizeof bad;
    bad.type = 99;
    assert_int_equal(p->rgs_event_typed(e, t, &bad, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    bad.type = CR_RGS_EVENT_PRESENCE;
    bad.agent = 1;
    bad.presence = 77;
    assert_int_equal(p->rgs_event_typed(e, t, &bad, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    bad.type = CR_RGS_EVENT_DTMF;
    bad.call = 0;
    assert_int_equal(p->rgs_event_typed(e, t, &bad, NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    bad.call = 0x7777777;
    assert_int_equal(p->rgs_event_typed(e, t, &bad, NULL, NULL, err, sizeof err), CR_ABI_ENOENT);
    cr_rgs_stats st = {.size = 4};
    assert_int_equal(p->rgs_stats(e, t, 0, &st), CR_ABI_EINVAL);
    assert_int_equal(p->rgs_stats(e, t, 0, NULL), CR_ABI_EINVAL);
    st.size = sizeof st;
    assert_int_equal(p->rgs_stats(e, t, UINT32_MAX, &st), CR_ABI_ENOENT);
    cr_result *r = NULL;
    assert_int_equal(p->rgs_snapshot(e, t, &r), CR_ABI_OK);
    keep_json(r);
    p->result_free(r);
    assert_true(p->rgs_advance_typed(e, t + 3600000, NULL, NULL) >= -1);
    p->rgs_close(e);
}

/* rgs_event's codes (callroute.h): malformed EINVAL, unknown call or agent ENOENT, a call
 * name in use ESTATE, each with its message. */
static void test_rgs_event_codes(void **state)
{
    (void)state;
    char err[256];
    cr_rgs *e = NULL;
    assert_int_equal(p->rgs_open_ex(hd, NULL, &e, err, sizeof err), CR_ABI_OK);
    assert_int_equal(p->rgs_event(e, 1000, "bogus", NULL, NULL, err, sizeof err), CR_ABI_EINVAL);
    assert_true(err[0] != 0);
    assert_int_equal(p->rgs_event(e, 1000, "dtmf nosuch 1", NULL, NULL, err, sizeof err),
                     CR_ABI_ENOENT);
    assert_non_null(strstr(err, "nosuch"));
    assert_int_equal(
        p->rgs_event(e, 1000, "presence sip:nobody@x away", NULL, NULL, err, sizeof err),
        CR_ABI_ENOENT);
    assert_int_equal(
        p->rgs_event(e, 1000, "call c1 sip:a@x sip:main@contoso.com", NULL, NULL, err, sizeof err),
        CR_ABI_OK);
    assert_int_equal(
        p->rgs_event(e, 1000, "call c1 sip:a@x sip:main@contoso.com", NULL, NULL, err, sizeof err),
        CR_ABI_ESTATE);
    assert_non_null(strstr(err, "c1"));
    p->rgs_close(e);
}

/* check and check_ex on hostile paths: a "check" result (refused) or EINVAL; valid JSON. */
static void test_hostile_check_paths(void **state)
{
    (void)state;
    const char *paths[] = {"", "/", "/nonexistent/\"q\\\x01\xff.xml", "/dev/null", "/proc"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        cr_result *r = NULL;
        int rc = p->check(paths[i], &r);
        assert_int_equal(rc, CR_ABI_ECONFIG);
        assert_non_null(r);
        assert_int_equal(p->result_kind(r), 1);
        keep_json(r);
        p->result_free(r);
    }
    cr_result *r = NULL;
    assert_int_equal(p->check(big, &r), CR_ABI_ECONFIG);
    keep_json(r);
    p->result_free(r);
}

typedef struct line_copy {
    char *s;
    size_t len;
} line_copy;

static void copy_line(void *ud, const char *json, size_t len)
{
    line_copy *c = ud;
    c->s = malloc(len + 1);
    assert_non_null(c->s);
    memcpy(c->s, json, len);
    c->s[len] = 0;
    c->len = len;
}

/* route_json gives "exactly the bytes result_json gives for route_ex's result with the same
 * arguments", for hostile numbers and callers too (fresh spreading on both sides: the same
 * gateway order). */
static void test_route_json_equals_result_json(void **state)
{
    (void)state;
    const char *numbers[] = {"+14255550199", "5550100", "+12065550100", "911", "19005550199"};
    for (size_t i = 0; i < NHOSTILE + 2 + 5; i++) {
        const char *s = i < NHOSTILE + 2 ? all[i] : numbers[i - NHOSTILE - 2];
        const char *pairs[3][2] = {{FROM, s}, {s, "+14255550199"}, {s, s}};
        for (int k = 0; k < 3; k++) {
            cr_result *r = NULL;
            assert_int_equal(p->route_ex(hd, pairs[k][0], pairs[k][1], NULL, 0,
                                         CR_ROUTE_FRESH_SPREAD | CR_ROUTE_NO_TRACE, &r),
                             CR_ABI_OK);
            size_t need = p->result_json(r, NULL, 0);
            char *want = malloc(need + 1);
            assert_non_null(want);
            p->result_json(r, want, need + 1);
            line_copy got = {0};
            int kind = 99;
            assert_int_equal(p->route_json(hd, pairs[k][0], pairs[k][1], NULL, 0,
                                           CR_ROUTE_FRESH_SPREAD, copy_line, &got, &kind),
                             CR_ABI_OK);
            assert_int_equal(kind, p->result_kind(r));
            assert_int_equal(got.len, need);
            assert_string_equal(got.s, want);
            free(got.s);
            free(want);
            p->result_free(r);
        }
    }
}

static _Atomic int stop_threads;
static _Atomic long bad_answers, answers;

static void count_json(void *ud, const char *json, size_t len)
{
    (void)ud;
    if (len < 2 || json[0] != '{' || json[len - 1] != '}')
        atomic_fetch_add(&bad_answers, 1);
}

/* One deciding thread: every decision member in turn; each answer must be whole. */
static void *decider(void *arg)
{
    cr_handle *h = arg;
    unsigned n = 0;
    while (!atomic_load(&stop_threads)) {
        cr_result *r = NULL;
        const char *num = n % 3 == 0   ? "+14255550199"
                          : n % 3 == 1 ? "+12125550199"
                                       : "+12065550100";
        if (p->route(h, FROM, num, NULL, 0, &r) != CR_ABI_OK ||
            p->result_kind(r) != CR_DECISION_OUTBOUND || !p->result_get(r, "normalized"))
            atomic_fetch_add(&bad_answers, 1);
        p->result_free(r);
        cr_route_answer a = {.size = sizeof a};
        if (p->route_answer(h, FROM, num, NULL, 0, &a) != CR_ABI_OK ||
            a.kind != CR_DECISION_OUTBOUND || a.nattempts == 0)
            atomic_fetch_add(&bad_answers, 1);
        r = NULL;
        if (p->dial(h, NULL, "5550", &r) != CR_ABI_OK)
            atomic_fetch_add(&bad_answers, 1);
        p->result_free(r);
        r = NULL;
        if (p->inbound(h, "Red-GW1", "+14255550100", num, &r) != CR_ABI_OK)
            atomic_fetch_add(&bad_answers, 1);
        p->result_free(r);
        if (p->route_json(h, FROM, num, NULL, 0, 0, count_json, NULL, NULL) != CR_ABI_OK)
            atomic_fetch_add(&bad_answers, 1);
        r = NULL;
        if (p->user_plan_ex(h, "+12065550100", "sip:alice@contoso.com", "Red-GW1", NULL, 0, &r) !=
                CR_ABI_OK ||
            p->result_kind(r) != 1)
            atomic_fetch_add(&bad_answers, 1);
        p->result_free(r);
        if (n % 64 == 0) {
            p->gateway_result_ex(h, "NY-GW1", 200, 0);
            r = NULL;
            if (p->gateways(h, &r) != CR_ABI_OK)
                atomic_fetch_add(&bad_answers, 1);
            p->result_free(r);
        }
        atomic_fetch_add(&answers, 1);
        n++;
    }
    return NULL;
}

/* callroute.h "Threads": any number of threads decide on one handle at once while reload()
 * swaps the configuration (refused reloads too): every answer is whole and of one plan. */
static void test_threads_decide_during_reloads(void **state)
{
    (void)state;
    char err[1024];
    cr_handle *h = NULL;
    assert_int_equal(p->open(getenv("CR_CONFIG"), NULL, &h, err, sizeof err), CR_ABI_OK);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, decider, h), 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(p->reload(h, NULL, err, sizeof err), CR_ABI_OK);
        assert_int_equal(p->reload(h, "/nonexistent/x.xml", err, sizeof err), CR_ABI_ECONFIG);
    }
    atomic_store(&stop_threads, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    p->close(h);
    assert_true(atomic_load(&answers) > 0);
    assert_int_equal(atomic_load(&bad_answers), 0);
}

/* r's JSON as a line "label<TAB>json" into f. */
static void label_json(FILE *f, const char *label, cr_result *r)
{
    assert_non_null(r);
    size_t need = p->result_json(r, NULL, 0);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    p->result_json(r, buf, need + 1);
    fprintf(f, "%s\t%s\n", label, buf);
    free(buf);
    p->result_free(r);
}

/* Each result kind has the top-level fields callroute.h lists ("Results"), in that order, a
 * field that does not apply being present as null. */
static void test_result_fields_as_documented(void **state)
{
    (void)state;
    char path[] = "/tmp/crfieldsXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_result *r = NULL;
    assert_int_equal(p->route(hd, FROM, "+14255550199", NULL, 0, &r), CR_ABI_OK);
    label_json(f, "route", r);
    assert_int_equal(p->route(hd, FROM, "+14255550101", NULL, 0, &r), CR_ABI_OK);
    label_json(f, "route_internal", r);
    assert_int_equal(p->normalize(hd, NULL, "5550199", &r), CR_ABI_OK);
    label_json(f, "normalize", r);
    assert_int_equal(p->dial(hd, NULL, "5550199", &r), CR_ABI_OK);
    label_json(f, "dial", r);
    assert_int_equal(p->inbound(hd, "Red-GW1", "+14255550100", "+12065550100", &r), CR_ABI_OK);
    label_json(f, "inbound", r);
    assert_int_equal(p->inbound(hd, "Red-GW1", "+14255559999", NULL, &r), CR_ABI_OK);
    label_json(f, "inbound", r);
    assert_int_equal(p->gateways(hd, &r), CR_ABI_OK);
    label_json(f, "gateways", r);
    /* samples: per_pattern past 64 is 64; each list's items have the documented fields */
    assert_int_equal(p->samples(hd, 1000, &r), CR_ABI_OK);
    assert_true(p->result_count(r, "callers") > 0 && p->result_count(r, "numbers") > 0);
    for (size_t i = 0; i < p->result_count(r, "numbers"); i++) {
        assert_non_null(p->result_item(r, "numbers", i, "number"));
        const char *kind = p->result_item(r, "numbers", i, "kind");
        assert_true(strcmp(kind, "rule") == 0 || strcmp(kind, "route") == 0);
        assert_non_null(p->result_item(r, "numbers", i, "name"));
    }
    assert_non_null(p->result_item(r, "callers", 0, "uri"));
    label_json(f, "samples", r);
    assert_int_equal(p->check(getenv("CR_CONFIG"), &r), CR_ABI_OK);
    label_json(f, "check", r);
    assert_int_equal(p->user_plan(hd, "+12065550100", "sip:alice@contoso.com", NULL, 0, &r),
                     CR_ABI_OK);
    label_json(f, "user_plan", r);
    assert_int_equal(p->user_plan(hd, "+12065550100", "+14255559999", NULL, 0, &r), CR_ABI_OK);
    assert_int_equal(p->result_kind(r), 0);
    label_json(f, "user_plan", r);
    fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "python3 - %s <<'EOF'\n"
             "import json, sys\n"
             "want = {\n"
             " 'route': ['decision','profile','rule','normalized','attempts','reason'],\n"
             " 'route_internal': "
             "['decision','profile','rule','normalized','target','attempts','reason'],\n"
             " 'normalize': ['input','profile','rule','normalized'],\n"
             " 'dial': ['input','profile','answer','rule','normalized'],\n"
             " 'inbound': "
             "['gateway','profile','called','calling','target','workflow','pai'],\n"
             " 'gateways': ['gateways'],\n"
             " 'samples': ['callers','numbers'],\n"
             " 'check': ['config','ok','errors','warnings','profiles','routes','gateways',"
             "'users','diagnostics'],\n"
             " 'user_plan': ['from','to','callee','branches','no_answer','notifications',"
             "'forwarded','skipped','reason','ring'],\n"
             "}\n"
             "bad = 0\n"
             "for line in open(sys.argv[1]):\n"
             "    label, js = line.rstrip('\\n').split('\\t', 1)\n"
             "    keys = [k for k, v in json.loads(js, object_pairs_hook=lambda kv: kv)]\n"
             "    if keys != want[label]:\n"
             "        print(label, 'has', keys, 'documented', want[label]); bad += 1\n"
             "sys.exit(bad)\n"
             "EOF",
             path);
    int rc = system(cmd);
    remove(path);
    assert_int_equal(rc, 0);
}

/* Last: python3 reads every JSON line the cases above collected. */
static void test_all_json_valid(void **state)
{
    (void)state;
    fflush(jsonl);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys\n"
             "n=0\n"
             "for line in open(sys.argv[1], encoding=\"utf-8\", errors=\"strict\"):\n"
             "    json.loads(line); n+=1\n"
             "print(n, \"JSON lines valid\")\n"
             "assert n > 150' %s",
             jsonl_path);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_handle),
        cmocka_unit_test(test_null_out),
        cmocka_unit_test(test_null_strings),
        cmocka_unit_test(test_null_results),
        cmocka_unit_test(test_bad_sizes_and_lists),
        cmocka_unit_test(test_strerror_total),
        cmocka_unit_test(test_hostile_strings_decide),
        cmocka_unit_test(test_hostile_gateway_names),
        cmocka_unit_test(test_route_answer_sizes),
        cmocka_unit_test(test_error_buffers),
        cmocka_unit_test(test_error_text_on_null_arguments),
        cmocka_unit_test(test_hostile_rgs),
        cmocka_unit_test(test_rgs_event_codes),
        cmocka_unit_test(test_hostile_check_paths),
        cmocka_unit_test(test_route_json_equals_result_json),
        cmocka_unit_test(test_threads_decide_during_reloads),
        cmocka_unit_test(test_result_fields_as_documented),
        cmocka_unit_test(test_all_json_valid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

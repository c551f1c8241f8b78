/*
 * Plan images (engine/plan_image.h): the checksum is XXH3 over XXH3s of 1 MiB chunks (XXH64
 * remains the hash of sources and names), an image reads back into the same
 * configuration, and every kind of damage is refused with a message saying what is wrong.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#define XXH_INLINE_ALL
#include <xxhash.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cr_rules.h"
#include "cr_plan_image.h"
#include "cr_image.h"
#include "cr_rgs_image.h"
#include "plan_image_int.h"
#include "route_index.h"
#include "testutil.h"

/* Published XXH64 test vectors (seed 0). */
static void test_hash_is_xxh64(void **state)
{
    (void)state;
    assert_true(cr_image_hash64("", 0, 0) == 0xEF46DB3751D8E999ULL);
    assert_true(cr_image_hash64("abc", 3, 0) == 0x44BC2CF5AD770999ULL);
    const char *s = "Nobody inspects the spammish repetition";
    assert_true(cr_image_hash64(s, strlen(s), 0) == 0xFBCEA83C8A378BF1ULL);
}

/* In pieces of every size (a copy hashed as it is made) it gives the one-shot hash. */
static void test_hash_in_pieces(void **state)
{
    (void)state;
    unsigned char data[1000];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof data; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    for (size_t n = 0; n <= sizeof data; n += n < 70 ? 1 : 37)
        for (size_t piece = 1; piece <= 67; piece += 5) {
            cr_hash64 h;
            cr_hash64_init(&h, 7);
            for (size_t at = 0; at < n; at += piece)
                cr_hash64_update(&h, data + at, n - at < piece ? n - at : piece);
            assert_true(cr_hash64_final(&h) == cr_image_hash64(data, n, 7));
        }
}

/* An image's checksum is the XXH3-64 of its 1 MiB chunks' XXH3-64s and its length, each as 8
 * little-endian bytes (computed here by xxhash.h built for this file, without AVX2: the
 * library's AVX2 chunks must agree); in pieces of any size, chunk by chunk and on two threads
 * it is the same. */
static void test_checksum_in_chunks(void **state)
{
    (void)state;
    const size_t C = CR_IMAGE_SUM_CHUNK, max = 5 * C + 17;
    unsigned char *data = malloc(max);
    assert_non_null(data);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < max; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    /* the definition, spelled out for two chunks, the second short */
    unsigned char words[24];
    assert_true(XXH3_64bits("", 0) == 0x2D06800538D394C2ULL); /* XXH3's published value */
    uint64_t w[3] = {XXH3_64bits(data, C), XXH3_64bits(data + C, 5), C + 5};
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 8; b++)
            words[8 * k + b] = (unsigned char)(w[k] >> (8 * b));
    assert_true(cr_image_checksum(data, C + 5) == XXH3_64bits(words, sizeof words));
    const size_t sizes[] = {0, 1, 31, 32, C - 1, C, C + 1, 4 * C, max};
    const size_t pieces[] = {1, 4099, 300000, C, C + 7};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        uint64_t want = cr_image_checksum(data, n);
        assert_true(cr_image_checksum_mt(data, n) == want);
        size_t chunks = (n + C - 1) / C;
        uint64_t sums[8];
        cr_image_sum_chunks(data, n, 0, chunks, sums);
        assert_true(cr_image_sum_combine(sums, chunks, n) == want);
        for (size_t j = 0; j < sizeof pieces / sizeof *pieces; j++) {
            if (pieces[j] == 1 && n > 4096)
                continue;
            cr_image_sum h;
            cr_image_sum_init(&h);
            for (size_t at = 0; at < n; at += pieces[j])
                cr_image_sum_update(&h, data + at, n - at < pieces[j] ? n - at : pieces[j]);
            assert_true(cr_image_sum_final(&h) == want);
        }
    }
    uint64_t whole = cr_image_checksum(data, max);
    data[3 * C + 1] ^= 1; /* one bit in a later chunk changes it, on one thread or two */
    assert_true(cr_image_checksum(data, max) != whole);
    assert_true(cr_image_checksum_mt(data, max) == cr_image_checksum(data, max));
    free(data);
}

static void *image_of(const char *rel, size_t *len)
{
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cr_test_src(rel), &cfg, &d), CR_OK);
    void *img = NULL;
    assert_int_equal(cr_image_build(cfg, 42, &img, len), CR_OK);
    cr_config_free(cfg);
    cr_diag_free(&d);
    return img;
}

/* An image reads back into a configuration that compiles and writes the same image again. */
static void test_round_trip(void **state)
{
    (void)state;
    size_t len = 0;
    void *img = image_of("examples/contoso/contoso.xml", &len);
    cr_image_info info;
    assert_int_equal(cr_image_verify(img, len, &info, NULL, 0), CR_OK);
    assert_int_equal(info.generation, 42);
    assert_int_equal(info.total_len, len);
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_image_read(img, len, "x.plan", &cfg, &d), CR_OK);
    assert_int_equal(cr_config_compile(cfg, &d), CR_OK);
    assert_int_equal(d.errors, 0);
    assert_true(cr_config_route_count(cfg) > 0);
    assert_non_null(cr_config_user_find(cfg, "sip:alice@contoso.com"));
    void *again = NULL;
    size_t n2 = 0;
    assert_int_equal(cr_image_build(cfg, 42, &again, &n2), CR_OK);
    assert_int_equal(n2, len);
    assert_memory_equal(img, again, len);
    free(again);
    cr_config_free(cfg);
    cr_diag_free(&d);
    free(img);
}

static void expect_refused(const void *img, size_t len, int rc, const char *what)
{
    char err[256] = "";
    assert_int_equal(cr_image_verify(img, len, NULL, err, sizeof err), rc);
    if (!strstr(err, what))
        fail_msg("'%s' does not say '%s'", err, what);
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_image_read(img, len, "bad.plan", &cfg, &d), CR_ECONFIG);
    assert_null(cfg);
    assert_int_equal(d.errors, 1);
    assert_string_equal(d.items[0].file, "bad.plan");
    cr_diag_free(&d);
}

static void test_damage_refused(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/workflows/helpdesk.xml", &len);
    expect_refused(img, len - 1, CR_EINVAL, "truncated");
    expect_refused(img, 30, CR_EINVAL, "truncated");
    expect_refused(img, 4, CR_EINVAL, "magic");
    for (size_t at = 16; at < len; at += len / 7) {
        img[at] ^= 0x10;
        expect_refused(img, len, at < 24 ? CR_EVERSION : CR_EINVAL,
                       at < 20   ? "version"
                       : at < 24 ? "architecture"
                                 : "");
        img[at] ^= 0x10;
    }
    img[len / 2] ^= 1;
    expect_refused(img, len, CR_EINVAL, "checksum");
    img[len / 2] ^= 1;
    /* a section table pointing outside, with a checksum that matches it */
    uint64_t off = len + 8;
    memcpy(img + 56 + 24 * 3, &off, 8);
    uint64_t sum = cr_image_checksum(img + 16, len - 16);
    memcpy(img + 8, &sum, 8);
    expect_refused(img, len, CR_EINVAL, "out of bounds");
    free(img);
}

/* Reads img the way a process adopting a published plan does (in place, compiled sections
 * adopted); CR_OK or the diag's first error in why. */
static int adopt(const void *img, size_t len, cr_config **cfg, char *why, size_t n)
{
    cr_diag d;
    cr_diag_init(&d);
    *cfg = NULL;
    int rc = cr_image_read_ex(img, len, "x.plan", CR_IMAGE_BORROW, cfg, &d);
    if (rc == CR_OK)
        rc = cr_config_compile(*cfg, &d);
    if (why && n)
        why[0] = 0;
    if (d.count && why)
        cr_diag_format(&d, 0, why, n);
    cr_diag_free(&d);
    return rc;
}

static void rechecksum(unsigned char *img, size_t len)
{
    uint64_t sum = cr_image_checksum(img + 16, len - 16);
    memcpy(img + 8, &sum, 8);
}

static plan_section section(const unsigned char *img, int s)
{
    plan_section x;
    memcpy(&x, img + offsetof(plan_header, sec) + s * sizeof x, sizeof x);
    return x;
}

/* The response groups an image carries (S_ATTACHED): an attachment record out of the blob is
 * refused by the image reader; records cut short inside it by the load, which reads them for the
 * workflows' lines; each error names the image and the record. */
static void test_rgs_section_damage_refused(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/workflows/kamailio-huntgroups.xml", &len);
    plan_section at = section(img, S_ATTACHED), blob = section(img, S_BLOB);
    assert_int_equal(at.count, 1); /* one attachment: name, offset, length */
    assert_true(blob.count > 100);
    uint32_t rec[3];
    memcpy(rec, img + at.off, sizeof rec);
    assert_int_equal(rec[AT_LEN], blob.count);
    const void *bytes;
    size_t n;
    assert_true(cr_image_attachment(img, CR_RGS_IMAGE_NAME, &bytes, &n));
    assert_int_equal(n, blob.count);

    /* one byte past the blob */
    uint32_t bad = rec[AT_LEN] + 1;
    memcpy(img + at.off + 4 * AT_LEN, &bad, 4);
    rechecksum(img, len);
    assert_false(cr_image_attachment(img, CR_RGS_IMAGE_NAME, &bytes, &n));
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_image_read(img, len, "bad.plan", &cfg, &d), CR_ECONFIG);
    assert_null(cfg);
    assert_string_equal(d.items[0].file, "bad.plan");
    assert_non_null(strstr(d.items[0].message, "damaged: attachment of record 0 out of range"));
    cr_diag_free(&d);

    /* cut short by 9 bytes: the image reads, its response groups are refused at load */
    bad = rec[AT_LEN] - 9;
    memcpy(img + at.off + 4 * AT_LEN, &bad, 4);
    rechecksum(img, len);
    const char *path = cr_test_tmpfile("", ".plan");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, len, f), len);
    fclose(f);
    cr_diag_init(&d);
    assert_int_equal(cr_image_load(path, &cfg, &d), CR_ECONFIG);
    assert_null(cfg);
    assert_string_equal(d.items[0].file, path);
    assert_non_null(strstr(d.items[0].message, "damaged response groups: workflow "));
    assert_non_null(strstr(d.items[0].message, "cut short"));
    cr_diag_free(&d);
    remove(path);
    free(img);
}

/* Contoso's calls decide the same with both configurations (kind, reason, attempts, trace). */
static void expect_same_decisions(const cr_config *x, const cr_config *y)
{
    static const char *const calls[][2] = {
        {"sip:alice@contoso.com", "2065550123"},  {"sip:alice@contoso.com", "+14255550100"},
        {"sip:alice@contoso.com", "5550123"},     {"sip:bob@contoso.com", "011441234567890"},
        {"sip:nobody@contoso.com", "2065550123"}, {"sip:alice@contoso.com", "911"}};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        cr_decision a, b;
        cr_route_decide(x, calls[i][0], calls[i][1], NULL, &a, NULL);
        cr_route_decide(y, calls[i][0], calls[i][1], NULL, &b, NULL);
        assert_int_equal(a.kind, b.kind);
        assert_string_equal(cr_test_reason(&a), cr_test_reason(&b));
        assert_int_equal(a.nattempts, b.nattempts);
        for (size_t k = 0; k < a.nattempts; k++) {
            assert_string_equal(cr_test_uri(x, &a, k), cr_test_uri(y, &b, k));
            assert_string_equal(a.attempts[k].route->name, b.attempts[k].route->name);
        }
        /* the trace too (an adopted plan walks the image's merged tries) */
        cr_trace ta, tb;
        cr_trace_init(&ta);
        cr_trace_init(&tb);
        cr_route_decide(x, calls[i][0], calls[i][1], NULL, &a, &ta);
        cr_route_decide(y, calls[i][0], calls[i][1], NULL, &b, &tb);
        assert_non_null(ta.buf);
        assert_non_null(tb.buf);
        assert_string_equal(ta.buf, tb.buf);
        cr_trace_free(&ta);
        cr_trace_free(&tb);
    }
}

/* A configuration adopted in place (routes filled on first use, indexes read from the image)
 * decides as the XML does and writes the very same image again. */
static void test_adopted_round_trip(void **state)
{
    (void)state;
    size_t len = 0;
    void *img = image_of("examples/contoso/contoso.xml", &len);
    cr_config *cfg = NULL, *xml = NULL;
    char why[512];
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &xml, &d), CR_OK);
    expect_same_decisions(cfg, xml);
    /* the merged tries are read in place: one per distinct usage list of the five policies */
    size_t nwalks = 0;
    const cr_px_walk *w = ce_route_index_walks(cfg, &nwalks);
    assert_int_equal(nwalks, 5);
    for (size_t k = 0; k < nwalks; k++) {
        const char *lo = img, *hi = lo + len;
        assert_true((const char *)w[k].nodes >= lo && (const char *)w[k].nodes < hi);
        assert_true((const char *)w[k].items >= lo && (const char *)w[k].items < hi);
    }
    void *again = NULL;
    size_t n2 = 0;
    assert_int_equal(cr_image_build(cfg, 42, &again, &n2), CR_OK); /* its image, copied */
    assert_int_equal(n2, len);
    assert_memory_equal(img, again, len);
    free(again);
    cfg->image_whole = false; /* written again from the adopted configuration itself */
    assert_int_equal(cr_image_build(cfg, 42, &again, &n2), CR_OK);
    assert_int_equal(n2, len);
    assert_memory_equal(img, again, len);
    free(again);
    cr_config_free(cfg);
    cr_config_free(xml);
    cr_diag_free(&d);
    free(img);
}

/* What a process following its host's publisher reads (CR_IMAGE_TRUSTED): the same plan as a
 * verified read; the header is still checked (another version, a truncated image: refused),
 * the checksum and the records are not (the publisher checked them). A restamped image (another
 * generation) verifies. */
static void test_trusted_read(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/contoso/contoso.xml", &len);
    cr_config *a = NULL, *b = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_image_read_ex(img, len, "x.plan", CR_IMAGE_BORROW, &a, &d), CR_OK);
    assert_int_equal(cr_config_compile(a, &d), CR_OK);
    assert_int_equal(
        cr_image_read_ex(img, len, "x.plan", CR_IMAGE_BORROW | CR_IMAGE_TRUSTED, &b, &d), CR_OK);
    assert_int_equal(cr_config_compile(b, &d), CR_OK);
    expect_same_decisions(a, b);
    cr_config_free(a);
    cr_config_free(b);

    unsigned char *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, img, len);
    bad[len - 1] ^= 0x5a; /* behind the checksum: a trusted read does not look */
    char err[200];
    assert_int_equal(cr_image_verify(bad, len, NULL, err, sizeof err), CR_EINVAL);
    assert_int_equal(cr_image_verify_header(bad, len, NULL, err, sizeof err), CR_OK);
    uint32_t version = 1; /* the header is checked */
    memcpy(bad, img, len);
    memcpy(bad + offsetof(plan_header, version), &version, sizeof version);
    assert_int_equal(cr_image_verify_header(bad, len, NULL, err, sizeof err), CR_EVERSION);
    assert_int_equal(
        cr_image_read_ex(bad, len, "x.plan", CR_IMAGE_BORROW | CR_IMAGE_TRUSTED, &a, &d),
        CR_ECONFIG);
    assert_int_equal(cr_image_verify_header(img, len - 64, NULL, err, sizeof err), CR_EINVAL);

    cr_image_info info;
    memcpy(bad, img, len);
    uint64_t sum = cr_image_restamp(bad, len, 7);
    assert_int_equal(cr_image_verify(bad, len, &info, err, sizeof err), CR_OK);
    assert_int_equal(info.generation, 7);
    assert_int_equal(info.checksum, sum);
    free(bad);
    cr_diag_free(&d);
    free(img);
}

/* A configuration read from an image leaves out PCRE2's code of the rules whose translation is
 * decided without it; they get it the first time it is asked for (device dialing here), with
 * the same answers as the XML's, which compiled them all. (Lint, which Kamailio's processes
 * leave out, samples every rule and compiles them.) */
static void test_image_rules_compiled_on_use(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/contoso/contoso.xml", &len);
    cr_config *a = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &a, &d), CR_OK);
    const unsigned reads[] = {CR_IMAGE_NOLINT, CR_IMAGE_TRUSTED | CR_IMAGE_NOLINT};
    for (size_t v = 0; v < 2; v++) {
        cr_config *b = NULL;
        assert_int_equal(cr_image_read_ex(img, len, "x.plan", CR_IMAGE_BORROW | reads[v], &b, &d),
                         CR_OK);
        assert_int_equal(cr_config_compile(b, &d), CR_OK);
        assert_int_equal(a->nprofiles, b->nprofiles);
        size_t lazy = 0, eager = 0;
        for (size_t i = 0; i < b->nprofiles; i++)
            for (size_t j = 0; j < b->profiles[i].nrules; j++) {
                const cr_rule *ra = &a->profiles[i].rules[j], *rb = &b->profiles[i].rules[j];
                assert_non_null(ra->re); /* the XML's compile compiles every rule */
                assert_int_equal(ce_xlat_is_simple(ra->xlat), ce_xlat_is_simple(rb->xlat));
                if (ce_xlat_is_simple(rb->xlat))
                    lazy += rb->re == NULL;
                else
                    eager += rb->re != NULL;
            }
        assert_true(lazy > 0);
        assert_true(eager > 0); /* contoso has rules PCRE2 decides, compiled at once */
        expect_same_decisions(a, b);
        static const char *const dialed[] = {"5550123",         "2065550123", "911",
                                             "011441234567890", "9",          "55501",
                                             "+14255550100",    "61234"};
        for (size_t i = 0; i < a->nprofiles; i++)
            for (size_t k = 0; k < sizeof dialed / sizeof *dialed; k++) {
                const cr_rule *rule_a, *rule_b;
                char na[64], nb[64];
                cr_dial_answer da =
                    cr_profile_dial(&a->profiles[i], dialed[k], &rule_a, na, sizeof na, NULL);
                cr_dial_answer db =
                    cr_profile_dial(&b->profiles[i], dialed[k], &rule_b, nb, sizeof nb, NULL);
                assert_int_equal(da, db);
                assert_string_equal(na, nb);
                assert_true((rule_a == NULL) == (rule_b == NULL));
            }
        for (size_t i = 0; i < b->nprofiles; i++) /* dialing ran every rule: all compiled now */
            for (size_t j = 0; j < b->profiles[i].nrules; j++)
                assert_non_null(b->profiles[i].rules[j].re);
        cr_config_free(b);
    }
    cr_config_free(a);
    cr_diag_free(&d);
    free(img);
}

/* What test_trusted_read_translations_on_use runs on each of its threads: every number
 * normalized and dialed with every profile of cfg, the answers written to out. */
enum { XT_NUMBERS = 10, XT_THREADS = 4 };
static const char *const xt_numbers[XT_NUMBERS] = {
    "5550123", "2065550123",   "911",   "011441234567890", "9",
    "55501",   "+14255550100", "61234", "4255550100",      "0"};

typedef struct xt_answer {
    int rc;
    long rule; /* the rule's index in its profile, -1: none */
    char out[64];
} xt_answer;

typedef struct xt_job {
    const cr_config *cfg;
    xt_answer *out; /* [nprofiles * XT_NUMBERS * 2] */
} xt_job;

static void *xt_run(void *arg)
{
    xt_job *j = arg;
    for (size_t i = 0; i < j->cfg->nprofiles; i++)
        for (size_t k = 0; k < XT_NUMBERS; k++) {
            const cr_profile *p = &j->cfg->profiles[i];
            const cr_rule *rule;
            xt_answer *o = &j->out[(i * XT_NUMBERS + k) * 2];
            o->rc = cr_profile_normalize(p, xt_numbers[k], o->out, sizeof o->out, &rule, NULL);
            o->rule = rule ? (long)(rule - p->rules) : -1;
            o++;
            o->rc = (int)cr_profile_dial(p, xt_numbers[k], &rule, o->out, sizeof o->out, NULL);
            o->rule = rule ? (long)(rule - p->rules) : -1;
        }
    return NULL;
}

/*
 * A trusted read (a restart whose stamp matched, a worker adopting a published image) leaves
 * every rule's translation to be compiled the first time it is used, in place; a checked read
 * compiles them as it reads. Threads that use the same fresh translations at once all get the
 * XML's answers, and the translations end filled, the PCRE2 code of the rules not of the
 * simple shape with them.
 */
static void test_trusted_read_translations_on_use(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/contoso/contoso.xml", &len);
    cr_config *a = NULL, *b = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &a, &d), CR_OK);
    size_t cells = a->nprofiles * XT_NUMBERS * 2;
    xt_answer *want = calloc(cells, sizeof *want), *got = calloc(cells * XT_THREADS, sizeof *got);
    assert_non_null(want);
    assert_non_null(got);
    xt_job ja = {a, want};
    xt_run(&ja);
    for (int trusted = 0; trusted <= 1; trusted++) {
        unsigned flags = CR_IMAGE_BORROW | CR_IMAGE_NOLINT | (trusted ? CR_IMAGE_TRUSTED : 0);
        assert_int_equal(cr_image_read_ex(img, len, "x.plan", flags, &b, &d), CR_OK);
        assert_int_equal(cr_config_compile(b, &d), CR_OK);
        size_t rules = 0, filled = 0;
        for (size_t i = 0; i < b->nprofiles; i++)
            for (size_t j = 0; j < b->profiles[i].nrules; j++, rules++)
                filled += ce_xlat_lazy_filled(b->profiles[i].rules[j].xlat);
        assert_true(rules > 0);
        assert_int_equal(filled, trusted ? 0 : rules);
        pthread_t t[XT_THREADS];
        xt_job jobs[XT_THREADS];
        for (size_t k = 0; k < XT_THREADS; k++) {
            jobs[k] = (xt_job){b, got + k * cells};
            assert_int_equal(pthread_create(&t[k], NULL, xt_run, &jobs[k]), 0);
        }
        for (size_t k = 0; k < XT_THREADS; k++)
            assert_int_equal(pthread_join(t[k], NULL), 0);
        for (size_t k = 0; k < XT_THREADS; k++)
            for (size_t c = 0; c < cells; c++) {
                assert_int_equal(got[k * cells + c].rc, want[c].rc);
                assert_int_equal(got[k * cells + c].rule, want[c].rule);
                assert_string_equal(got[k * cells + c].out, want[c].out);
            }
        size_t used = 0; /* the rules normalization reached, up to the first that matched */
        for (size_t i = 0; i < b->nprofiles; i++)
            for (size_t j = 0; j < b->profiles[i].nrules; j++)
                used += ce_xlat_lazy_filled(b->profiles[i].rules[j].xlat);
        assert_true(used > 0);
        for (size_t i = 0; i < b->nprofiles; i++)
            for (size_t j = 0; j < b->profiles[i].nrules; j++) {
                const cr_rule *r = &b->profiles[i].rules[j];
                assert_int_equal(ce_xlat_is_simple(r->xlat), /* filled by asking */
                                 ce_xlat_is_simple(a->profiles[i].rules[j].xlat));
                assert_true(ce_xlat_lazy_filled(r->xlat));
                assert_non_null(r->re); /* dialing ran every rule's code */
            }
        expect_same_decisions(a, b);
        cr_config_free(b);
        b = NULL;
    }
    free(want);
    free(got);
    cr_config_free(a);
    cr_diag_free(&d);
    free(img);
}

/* Dialing before any normalization on a trusted read: the rules PCRE2 decides get their code
 * with JIT all the same (ce_rule_re fills the lazy translation first), as adoption gives it. */
static void test_trusted_read_dial_first_keeps_jit(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/contoso/contoso.xml", &len);
    cr_config *a = NULL, *b = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &a, &d), CR_OK);
    assert_int_equal(cr_image_read_ex(img, len, "x.plan",
                                      CR_IMAGE_BORROW | CR_IMAGE_NOLINT | CR_IMAGE_TRUSTED, &b, &d),
                     CR_OK);
    assert_int_equal(cr_config_compile(b, &d), CR_OK);
    for (size_t i = 0; i < b->nprofiles; i++)
        for (size_t k = 0; k < XT_NUMBERS; k++) {
            const cr_rule *rule;
            char out[64];
            cr_profile_dial(&b->profiles[i], xt_numbers[k], &rule, out, sizeof out, NULL);
        }
    size_t pcre_decided = 0;
    for (size_t i = 0; i < b->nprofiles; i++)
        for (size_t j = 0; j < b->profiles[i].nrules; j++) {
            const cr_rule *r = &b->profiles[i].rules[j];
            if (!r->re || ce_xlat_is_simple(a->profiles[i].rules[j].xlat))
                continue; /* not reached by dialing, or decided without PCRE2 */
            size_t jit = 0;
            assert_int_equal(pcre2_pattern_info(r->re, PCRE2_INFO_JITSIZE, &jit), 0);
            assert_true(jit > 0);
            pcre_decided++;
        }
    assert_true(pcre_decided > 0);
    cr_config_free(b);
    cr_config_free(a);
    cr_diag_free(&d);
    free(img);
}

/* A translation that cannot be compiled on its first use (out of memory; here a pattern this
 * PCRE2 refuses, the image's bytes changed behind a trusted read) fails the normalization and
 * blocks the call, as a result too long does: skipping the rule could route the call as a
 * later rule says. */
static void test_lazy_translation_failure_is_visible(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/contoso/contoso.xml", &len);
    static const char good[] = "^(\\d{10})$", bad[] = "^(\\d{10}($";
    unsigned char *at = NULL;
    for (size_t i = 0; !at && i + sizeof good <= len; i++)
        if (memcmp(img + i, good, sizeof good) == 0)
            at = img + i;
    assert_non_null(at);
    memcpy(at, bad, sizeof bad);
    cr_config *b = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_image_read_ex(img, len, "x.plan",
                                      CR_IMAGE_BORROW | CR_IMAGE_NOLINT | CR_IMAGE_TRUSTED, &b, &d),
                     CR_OK);
    assert_int_equal(cr_config_compile(b, &d), CR_OK);
    size_t broken = 0;
    for (size_t i = 0; i < b->nprofiles; i++)
        for (size_t j = 0; j < b->profiles[i].nrules; j++) {
            const cr_rule *r = &b->profiles[i].rules[j], *rule = NULL;
            if (strcmp(r->pattern, bad) != 0)
                continue;
            char out[64];
            assert_int_equal(
                cr_profile_normalize(&b->profiles[i], "2065550123", out, sizeof out, &rule, NULL),
                CR_ENOMEM);
            assert_ptr_equal(rule, r);
            broken++;
        }
    assert_true(broken > 0);
    cr_decision dec;
    char why[CR_REASON_MAX];
    assert_int_equal(cr_route_decide(b, "sip:alice@contoso.com", "2065550123", NULL, &dec, NULL),
                     CR_OK);
    assert_int_equal(dec.kind, CR_BLOCKED);
    assert_non_null(strstr(cr_decision_reason(&dec, why, sizeof why), "could not be compiled"));
    cr_config_free(b);
    cr_diag_free(&d);
    free(img);
}

/* Damage behind a valid checksum in what a process reads in place is refused, naming it. */
/* Cells of the caller table whose user or hot fields are not the user's, or an empty cell
 * that is not all zero: refused. */
static void damage_caller_cells(const unsigned char *clean, unsigned char *img, size_t len)
{
    cr_config *cfg = NULL;
    char why[512];
    plan_section x = section(clean, S_USLOTS);
    size_t used = 0, empty = 0;
    cr_user_cell cell;
    while (used < x.count &&
           (memcpy(&cell, clean + x.off + used * sizeof cell, sizeof cell), !cell.val))
        used++;
    while (empty < x.count &&
           (memcpy(&cell, clean + x.off + empty * sizeof cell, sizeof cell), cell.val))
        empty++;
    assert_true(used < x.count && empty < x.count);
    memcpy(&cell, clean + x.off + used * sizeof cell, sizeof cell);
    assert_true(cell.hot & CR_CELL_HOT);
    cr_user_cell bad[] = {cell, cell, cell, cell, cell, cell};
    bad[0].policy = (uint16_t)(cell.policy == 0 ? 1 : 0);   /* another policy */
    bad[1].profile = (uint16_t)(cell.profile == 0 ? 1 : 0); /* another profile */
    bad[2].hot ^= CR_CELL_EV;                               /* Enterprise Voice flipped */
    bad[3].hot = 0;                                         /* hot fields said not to be */
    bad[4].pad[1] = 1;
    bad[5].val = 0x7FFFFFF0u; /* a user past the users */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] + 1; i++) {
        memcpy(img, clean, len);
        if (i < sizeof bad / sizeof bad[0]) {
            memcpy(img + x.off + used * sizeof cell, &bad[i], sizeof cell);
        } else { /* an empty cell with a tag */
            cr_user_cell e = {.tag = 7};
            memcpy(img + x.off + empty * sizeof e, &e, sizeof e);
        }
        rechecksum(img, len);
        assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
        assert_non_null(strstr(why, "caller table"));
    }
}

/* A merged trie's node that holds its children as items (CR_PX_LEAVES) refused when it also
 * names child nodes, has no children's symbols, has its leaves past its trie's items, or has a
 * mask bit that means nothing (image format 8). */
static void damage_leaves(const unsigned char *clean, unsigned char *img, size_t len)
{
    plan_section nodes = section(clean, S_NODES), wk = section(clean, S_WALKS);
    size_t nwalks = wk.count, at = SIZE_MAX;
    uint32_t rec[6], nitems = 0;
    cr_px_node n;
    for (size_t w = 0; w < nwalks && at == SIZE_MAX; w++) {
        memcpy(rec, clean + wk.off + w * 4 * sec_fields[S_WALKS], sizeof rec);
        for (size_t k = 0; k < rec[WK_NNODES] && at == SIZE_MAX; k++) {
            memcpy(&n, clean + nodes.off + (rec[WK_NODE] + k) * sizeof n, sizeof n);
            if (n.mask & CR_PX_LEAVES) {
                at = nodes.off + (rec[WK_NODE] + k) * sizeof n;
                nitems = rec[WK_NITEMS];
            }
        }
    }
    assert_true(at != SIZE_MAX); /* contoso's merged tries have such nodes */
    memcpy(&n, clean + at, sizeof n);
    unsigned kids = 0;
    for (unsigned m = n.mask & CR_PX_SYMS; m; m &= m - 1)
        kids++;
    cr_px_node bad[] = {n, n, n, n, n};
    bad[0].first_child = 1;                           /* child nodes as well */
    bad[1].mask = CR_PX_LEAVES;                       /* no children */
    bad[2].items_off = nitems - n.items_n - kids + 1; /* the last leaf past the items */
    bad[3].mask = (uint16_t)(n.mask | 0x4000u);       /* a bit that means nothing */
    bad[4].mask = (uint16_t)(n.mask & ~CR_PX_LEAVES); /* its leaves read as child nodes */
    bad[4].first_child = 0x7FFFFFF0u;
    cr_config *cfg = NULL;
    char why[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(img, clean, len);
        memcpy(img + at, &bad[i], sizeof bad[i]);
        rechecksum(img, len);
        assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
        assert_null(cfg);
        if (!strstr(why, "damaged") || !strstr(why, "trie node"))
            fail_msg("leaves case %zu: '%s'", i, why);
    }
    memcpy(img, clean, len); /* the node as written: adopted */
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    cr_config_free(cfg);
}

static void test_compiled_damage_refused(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *clean = image_of("examples/contoso/contoso.xml", &len);
    unsigned char *img = malloc(len);
    assert_non_null(img);
    cr_config *cfg = NULL;
    char why[512];
    struct {
        int sec;
        size_t at; /* byte offset in the section's first element */
        uint32_t value;
        const char *says;
    } cases[] = {
        {S_NODES, offsetof(cr_px_node, first_child), 0x7FFFFFF0u, "trie node"},
        {S_NODES, offsetof(cr_px_node, items_n), 0x10000u, "trie node"},
        {S_ITEMS, offsetof(cr_px_item, id), 0xFFFFu, "trie item"},
        {S_TRIES, 4 * TR_NNODES, 0xFFFFFFu, "trie"},
        {S_ROUTEIDS, 0, 0xFFFFu, "usage route"},
        {S_LISTS, 4 * LI_KIND, 7, "list"},
        {S_NAMEIX, 0, 0xFFFFu, "list name"},
        {S_USERCX, 4 * UC_POLICY, 999, "user"},
        {S_UKEYS, offsetof(cr_user_keys, uri), 200, "user keys"},
        {S_UKEYS, offsetof(cr_user_keys, line), 200, "user keys"}, /* the line's cell */
        {S_ROUTES, 4 * RO_NAME, 0xFFFFFFF0u, "route"},
        {S_ROUTES, 4 * RO_UCOUNT, 0xFFFFu, "route"},     /* no list of that many usages */
        {S_ROUTES, 4 * RO_GFIRST, 0xFFFFFFF0u, "route"}, /* its gateways' list out of range */
        {S_USERS, 4 * UR_DCOUNT, 0xFFFFu, "user"},       /* no list of that many delegates */
        {S_WALKS, 4 * WK_NCANDS, 0xFFFFFFu, "merged trie"},
        {S_WALKS, 4 * WK_NCANDS, 1, "merged trie"}, /* fewer than its usages hold */
        {S_WALKS, 4 * WK_POLICY, 999, "merged trie"},
        {S_WALKS, 4 * WK_NNODES, 0, "merged trie"},
        {S_WALKS, 4 * WK_NITEMS, 0xFFFFFFu, "merged trie"},
        {S_WITEMS, offsetof(cr_px_witem, px.id), 0xFFFFu, "merged items"},
        {S_WITEMS, offsetof(cr_px_witem, route), 0xFFFFu, "merged items"},
        {S_WITEMS, offsetof(cr_px_witem, rank), 0x00020001u, "merged items"},
        {S_WITEMS, offsetof(cr_px_witem, gw), 3, "merged items"},
        {S_POLWALK, 4, 77, "merged trie"}, /* every contoso policy owns its walk */
        {S_CXMETA, 4 * CX_LIKELY_POLICY, 5, "compiled section"}, /* contoso has 5 policies */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(img, clean, len);
        plan_section x = section(img, cases[i].sec);
        assert_true(x.count > 0);
        if (cases[i].sec == S_UKEYS)
            img[x.off + cases[i].at] = (unsigned char)cases[i].value; /* longer than its cell */
        else
            memcpy(img + x.off + cases[i].at, &cases[i].value, 4);
        rechecksum(img, len);
        assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
        assert_null(cfg);
        if (!strstr(why, "damaged") || !strstr(why, cases[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].says);
    }
    /* a merged trie's item naming no candidate of its walk (one past the last) */
    memcpy(img, clean, len);
    plan_section wk = section(img, S_WALKS), items = section(img, S_WITEMS);
    uint32_t first_item, nitems, ncands;
    memcpy(&first_item, img + wk.off + 4 * WK_ITEM, 4);
    memcpy(&nitems, img + wk.off + 4 * WK_NITEMS, 4);
    memcpy(&ncands, img + wk.off + 4 * WK_NCANDS, 4);
    unsigned char *witems = img + items.off + first_item * sizeof(cr_px_witem);
    memcpy(witems + offsetof(cr_px_witem, px.id), &ncands, 4);
    rechecksum(img, len);
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
    assert_non_null(strstr(why, "merged items"));
    /* an item carrying another candidate's data under its own id (the items of one walk that
     * name different routes: the first item's data replaced by a later one's) */
    memcpy(img, clean, len);
    cr_px_witem a, b;
    memcpy(&a, witems, sizeof a);
    size_t later = 1;
    for (; later < nitems; later++) {
        memcpy(&b, witems + later * sizeof b, sizeof b);
        if (b.route != a.route)
            break;
    }
    assert_true(later < nitems);
    b.px = a.px;
    memcpy(witems, &b, sizeof b);
    rechecksum(img, len);
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
    assert_non_null(strstr(why, "merged items"));
    /* a policy given the walk of a policy with other usages */
    memcpy(img, clean, len);
    plan_section pw = section(img, S_POLWALK);
    uint32_t other_walk;
    memcpy(&other_walk, img + pw.off, 4);
    memcpy(img + pw.off + 4 * 2, &other_walk, 4);
    rechecksum(img, len);
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
    assert_non_null(strstr(why, "merged trie") ? strstr(why, "merged trie")
                                               : strstr(why, "policy walk"));
    /* every contoso policy walks its merged trie: the usages' own tries are left out */
    {
        plan_section tr = section(clean, S_TRIES);
        uint32_t nn;
        memcpy(&nn, clean + tr.off + 4 * TR_NNODES, 4);
        assert_int_equal(nn, 0);
    }
    /* a caller table with no empty cell (every cell a copy of a used one, under another tag): a
     * lookup would never end */
    memcpy(img, clean, len);
    plan_section x = section(img, S_USLOTS);
    cr_user_cell used = {0};
    for (size_t k = 0; k < x.count && !used.val; k++)
        memcpy(&used, img + x.off + k * sizeof used, sizeof used);
    assert_true(used.val != 0);
    for (size_t k = 0; k < x.count; k++) {
        used.tag = (uint32_t)k;
        memcpy(img + x.off + k * sizeof used, &used, sizeof used);
    }
    rechecksum(img, len);
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
    assert_non_null(strstr(why, "caller table"));
    damage_caller_cells(clean, img, len);
    damage_leaves(clean, img, len);
    /* written with another hash function: read without its compiled sections, compiled again */
    memcpy(img, clean, len);
    x = section(img, S_CXMETA);
    uint32_t other = 12345;
    memcpy(img + x.off + 4 * CX_HASHCHECK, &other, 4);
    rechecksum(img, len);
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    assert_non_null(cr_config_user_find(cfg, "sip:alice@contoso.com"));
    cr_config_free(cfg);
    free(img);
    free(clean);
}

/* The line index's slots carry their numbers packed (format 12): read in place, every line of
 * contoso (with and without extension, E.164 and private) is found by its number as from the XML;
 * a slot whose packed number is not the one its user's line gives, or an empty slot with one, is
 * refused. */
static void test_line_slots_carry_their_numbers(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *clean = image_of("examples/contoso/contoso.xml", &len);
    unsigned char *img = malloc(len);
    assert_non_null(img);
    cr_config *cfg = NULL;
    char why[512];
    assert_int_equal(adopt(clean, len, &cfg, why, sizeof why), CR_OK);
    size_t lines = 0;
    for (size_t i = 0; i < cr_config_user_count(cfg); i++) {
        const cr_user *u = cr_config_user_at(cfg, i);
        if (!u->line_number)
            continue;
        lines++;
        assert_ptr_equal(cr_config_user_by_number(cfg, u->line_number, u->line_ext), u);
        if (!u->line_ext)
            assert_ptr_equal(cr_config_user_by_number(cfg, u->line_number, NULL), u);
        char off[64];
        snprintf(off, sizeof off, "%s1", u->line_number); /* one digit more: no one's */
        assert_null(cr_config_user_by_number(cfg, off, NULL));
    }
    assert_true(lines >= 4);
    cr_config_free(cfg);
    plan_section x = section(clean, S_LSLOTS);
    assert_int_equal(x.esize, sizeof(cr_line_slot));
    size_t packed = SIZE_MAX, empty = SIZE_MAX;
    for (size_t k = 0; k < x.count; k++) {
        cr_line_slot s;
        memcpy(&s, clean + x.off + k * sizeof s, sizeof s);
        if (s.val && s.num && packed == SIZE_MAX)
            packed = k;
        if (!s.val && empty == SIZE_MAX)
            empty = k;
    }
    assert_true(packed != SIZE_MAX && empty != SIZE_MAX);
    struct {
        size_t slot;
        uint64_t flip; /* XORed into its num */
    } cases[] = {{packed, 1}, {packed, 0xF0}, {empty, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(img, clean, len);
        cr_line_slot s;
        unsigned char *at = img + x.off + cases[i].slot * sizeof s;
        memcpy(&s, at, sizeof s);
        s.num ^= cases[i].flip;
        memcpy(at, &s, sizeof s);
        rechecksum(img, len);
        assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
        assert_null(cfg);
        if (!strstr(why, "damaged") || !strstr(why, "line index"))
            fail_msg("case %zu: '%s' does not say 'line index'", i, why);
    }
    free(img);
    free(clean);
}

/* The dense leaf blocks of an image (format 11) whose merged tries all have them (compiled with
 * ce_route_index_dense_min(0); CR_DENSE_IMAGE_OUT=PATH saves it, for the fuzz seeds): adopted
 * in place, deciding as the XML, and refused when a block is damaged or does not mirror its
 * node's children, or when a walk's record puts its blocks outside the section or its nodes. */
static void test_dense_blocks(void **state)
{
    (void)state;
    size_t before = ce_route_index_dense_min(0), len = 0;
    unsigned char *clean = image_of("examples/contoso/contoso.xml", &len);
    cr_config *xml = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &xml, &d), CR_OK);
    ce_route_index_dense_min(before);
    const char *out = getenv("CR_DENSE_IMAGE_OUT");
    if (out) {
        FILE *f = fopen(out, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(clean, 1, len, f), len);
        fclose(f);
    }
    plan_section ds = section(clean, S_DENSE), wk = section(clean, S_WALKS);
    assert_true(ds.count > 0);
    cr_config *cfg = NULL, *plain = NULL;
    char why[512];
    assert_int_equal(adopt(clean, len, &cfg, why, sizeof why), CR_OK);
    expect_same_decisions(cfg, xml);
    assert_int_equal(cr_rules_load(cr_test_src("examples/contoso/contoso.xml"), &plain, &d),
                     CR_OK); /* the default bound: contoso's tries are far below it */
    expect_same_decisions(cfg, plain);
    size_t nwalks = 0, blocks = 0;
    const cr_px_walk *w = ce_route_index_walks(cfg, &nwalks);
    for (size_t k = 0; k < nwalks; k++) {
        blocks += w[k].ndense;
        if (w[k].ndense)
            assert_true((const unsigned char *)w[k].dense >= clean + ds.off &&
                        (const unsigned char *)(w[k].dense + w[k].ndense) <=
                            clean + ds.off + ds.count * sizeof(cr_px_dblock));
    }
    assert_int_equal(blocks, ds.count);
    cr_config_free(cfg);
    assert_int_equal(ce_route_index_walks(plain, &nwalks)[0].ndense, 0);
    /* a walk with blocks, one of its blocks holding a leaf in one slot and none in another */
    size_t walk = 0, block = SIZE_MAX, node_at = 0;
    unsigned has = 0, hasnt = 0;
    uint32_t rec[9];
    cr_px_node x = {0};
    plan_section nodes = section(clean, S_NODES);
    for (; walk < wk.count && block == SIZE_MAX; walk++) {
        memcpy(rec, clean + wk.off + walk * 4 * sec_fields[S_WALKS], sizeof rec);
        for (size_t b = 0; b < rec[WK_NDENSE] && block == SIZE_MAX; b++) {
            cr_px_dblock blk;
            memcpy(&blk, clean + ds.off + (rec[WK_DENSE] + b) * sizeof blk, sizeof blk);
            node_at = nodes.off + (rec[WK_NODE] + rec[WK_DNODE] + b) * sizeof x;
            memcpy(&x, clean + node_at, sizeof x);
            has = hasnt = CR_PX_DENSE_SLOTS;
            for (unsigned s = 0; s < CR_PX_DENSE_SLOTS; s++) {
                bool full = blk.slot[s].item.px.maxlen != 0;
                if (full && has == CR_PX_DENSE_SLOTS)
                    has = s;
                if (!full && hasnt == CR_PX_DENSE_SLOTS)
                    hasnt = s;
            }
            if (has < CR_PX_DENSE_SLOTS && hasnt < CR_PX_DENSE_SLOTS)
                block = rec[WK_DENSE] + b;
        }
    }
    assert_true(block != SIZE_MAX);
    walk--;
    assert_true(x.dense_kids != 0);
    size_t slot_at = ds.off + block * sizeof(cr_px_dblock), rec_at = wk.off + walk * 4 * 9;
    size_t kids_at = node_at + offsetof(cr_px_node, mask); /* mask, dense_kids */
    size_t root_at = nodes.off + rec[WK_NODE] * sizeof x + offsetof(cr_px_node, mask);
    uint32_t root_mask;
    memcpy(&root_mask, clean + root_at, 4);
    unsigned char *img = malloc(len);
    assert_non_null(img);
    struct {
        size_t at;
        uint32_t value;
    } cases[] = {
        {slot_at + has * 32 + offsetof(cr_px_witem, route), 0},            /* another route */
        {slot_at + has * 32 + offsetof(cr_px_witem, px.id), 0x7FFFFFF0u},  /* no candidate */
        {slot_at + has * 32 + offsetof(cr_px_witem, gw), 3},               /* another gateway */
        {slot_at + has * 32 + 24, 1},                                      /* padding */
        {slot_at + hasnt * 32 + offsetof(cr_px_witem, route), 1},          /* a leaf it has not */
        {slot_at + hasnt * 32 + offsetof(cr_px_witem, px.minlen), 0x0C00}, /* one that matches */
        {kids_at, x.mask | (uint32_t)(x.dense_kids ^ 0x3FFu) << 16}, /* other children taken */
        {kids_at, x.mask},                                           /* none taken */
        {root_at, root_mask | 1u << 16}, /* a child taken outside the blocks' nodes */
        {rec_at + 4 * WK_NDENSE, (uint32_t)ds.count + 1}, /* past the section */
        {rec_at + 4 * WK_DENSE, (uint32_t)ds.count},
        {rec_at + 4 * WK_DNODE, rec[WK_NNODES]}, /* past the walk's nodes */
        {rec_at + 4 * WK_DNODE, 0},              /* blocks of other nodes */
        {rec_at + 4 * WK_NDENSE, 0},             /* none, with a first node and block */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(img, clean, len);
        uint32_t old;
        memcpy(&old, img + cases[i].at, 4);
        if (old == cases[i].value) /* already so: one more */
            cases[i].value = old + 1;
        memcpy(img + cases[i].at, &cases[i].value, 4);
        rechecksum(img, len);
        assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
        assert_null(cfg);
        if (!strstr(why, "damaged") ||
            (!strstr(why, "dense leaf blocks") && !strstr(why, "merged trie")))
            fail_msg("dense case %zu: '%s'", i, why);
    }
    /* the same image trusted (a publisher checked it): the records only */
    memcpy(img, clean, len);
    assert_int_equal(
        cr_image_read_ex(img, len, "x.plan", CR_IMAGE_BORROW | CR_IMAGE_TRUSTED, &cfg, &d), CR_OK);
    assert_int_equal(cr_config_compile(cfg, &d), CR_OK);
    expect_same_decisions(cfg, xml);
    cr_config_free(cfg);
    cr_config_free(plain);
    cr_config_free(xml);
    cr_diag_free(&d);
    free(img);
    free(clean);
}

/* Usages whose every policy walks a merged trie keep no trie of their own in the image; a
 * policy that lost its walk would need them: such an image is refused, not read as one whose
 * usages match nothing. Policies B and C share A's usages, hence A's walk. */
static void test_usage_tries_left_out(void **state)
{
    (void)state;
    static const char xml[] =
        "<callroute xmlns=\"urn:callroute:config:1\">\n"
        "<domains><domain>example.com</domain></domains>\n"
        "<locationProfiles default=\"HQ\"><locationProfile name=\"HQ\"/></locationProfiles>\n"
        "<phoneUsages><usage name=\"Local\"/><usage name=\"Intl\"/></phoneUsages>\n"
        "<voicePolicies default=\"A\">\n"
        "<voicePolicy name=\"A\"><usage>Local</usage><usage>Intl</usage></voicePolicy>\n"
        "<voicePolicy name=\"B\"><usage>Local</usage><usage>Intl</usage></voicePolicy>\n"
        "<voicePolicy name=\"C\"><usage>Local</usage><usage>Intl</usage></voicePolicy>\n"
        "</voicePolicies>\n"
        "<gateways><gateway name=\"gw\" address=\"sip:10.0.0.1\"/></gateways>\n"
        "<routes><route name=\"local\" pattern=\"^\\+1425\\d{7}$\"><usage>Local</usage>"
        "<gateway>gw</gateway></route>\n"
        "<route name=\"intl\" pattern=\"^\\+44\\d+$\"><usage>Intl</usage>"
        "<gateway>gw</gateway></route></routes>\n"
        "<users><user uri=\"sip:b@example.com\" line=\"tel:+14255550100\" "
        "enterpriseVoice=\"true\" voicePolicy=\"B\"/></users>\n"
        "</callroute>\n";
    cr_config *src = cr_test_load_xml(xml), *cfg = NULL;
    assert_non_null(src);
    void *vimg = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(src, 42, &vimg, &len), CR_OK);
    unsigned char *img = vimg;
    plan_section tr = section(img, S_TRIES), pws = section(img, S_POLWALK);
    for (size_t u = 0; u < 2; u++) {
        uint32_t nn;
        memcpy(&nn, img + tr.off + (u * sec_fields[S_TRIES] + TR_NNODES) * 4, 4);
        assert_int_equal(nn, 0);
    }
    char why[512];
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    static cr_decision a, b;
    cr_route_decide(src, "sip:b@example.com", "+14255550199", NULL, &a, NULL);
    cr_route_decide(cfg, "sip:b@example.com", "+14255550199", NULL, &b, NULL);
    assert_int_equal(a.kind, CR_OUTBOUND);
    assert_int_equal(b.kind, CR_OUTBOUND);
    assert_string_equal(a.attempts[0].route->name, "local");
    assert_string_equal(b.attempts[0].route->name, "local");
    cr_config_free(cfg);
    cfg = NULL;
    /* B (sharing A's walk) told to walk per usage: its usages' tries are not there */
    uint32_t none = NONE;
    memcpy(img + pws.off + 4, &none, 4);
    rechecksum(img, len);
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
    assert_null(cfg);
    if (!strstr(why, "damaged") || !strstr(why, "usage trie"))
        fail_msg("a walkless policy without its usages' tries: '%s'", why);
    free(img);
    cr_config_free(src);
}

/* JIT code size of the named route's pattern (0: interpreted or not compiled). */
static size_t route_jit_size(const cr_config *c, const char *name)
{
    for (size_t r = 0; r < c->nroutes; r++) {
        const cr_route *rt = ce_route(c, r);
        if (strcmp(rt->name, name) != 0)
            continue;
        const pcre2_code *re = ce_route_re(rt);
        size_t n = 0;
        if (re && pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &n) != 0)
            n = 0;
        return n;
    }
    fail_msg("no route '%s'", name);
    return 0;
}

/* Past CR_JIT_ALL_ROUTES routes, a pattern the index does not decide and that is a candidate
 * near a trie's root (here the planning guide's Universal Route, prefix "") runs on most
 * decisions: it is JIT-compiled, compiled and adopted from an image alike; one met deep in
 * the trie is not (it runs on few decisions). */
static void test_broad_routes_jit(void **state)
{
    (void)state;
    size_t cap = (CR_JIT_ALL_ROUTES + 16) * 160, n = 0;
    char *xml = malloc(cap);
    assert_non_null(xml);
    n +=
        (size_t)snprintf(xml + n, cap - n,
                         "<callroute xmlns=\"urn:callroute:config:1\">\n"
                         "<domains><domain>example.com</domain></domains>\n"
                         "<locationProfiles default=\"HQ\"><locationProfile name=\"HQ\"/>"
                         "</locationProfiles>\n"
                         "<phoneUsages><usage name=\"Local\"/></phoneUsages>\n"
                         "<voicePolicies default=\"A\"><voicePolicy name=\"A\"><usage>Local</usage>"
                         "</voicePolicy></voicePolicies>\n"
                         "<gateways><gateway name=\"gw\" address=\"sip:10.0.0.1\"/></gateways>\n"
                         "<routes>\n");
    /* routes the analysis cannot read (a back-reference) at the start, in the middle and at the
     * end: adoption JIT-compiles each (broad_routes, without a pass over every route) */
    static const char any_route[] = "<route name=\"any%u\" pattern=\"^\\+(\\d)\\1(\\d*)$\">"
                                    "<usage>Local</usage><gateway>gw</gateway></route>\n";
    for (unsigned i = 0; i <= CR_JIT_ALL_ROUTES; i++) {
        if (i == 0 || i == 30 || i == 31 || i == 32 || i == 100)
            n += (size_t)snprintf(xml + n, cap - n, any_route, i);
        n += (size_t)snprintf(
            xml + n, cap - n,
            "<route name=\"r%u\" pattern=\"^\\+1%07u(\\d{3})$\"><usage>Local</usage>"
            "<gateway>gw</gateway></route>\n",
            i, 2000000 + i);
    }
    n += (size_t)snprintf(xml + n, cap - n,
                          "<route name=\"universal\" pattern=\"^\\+?(?!(1900|1411))(\\d*)$\">"
                          "<usage>Local</usage><gateway>gw</gateway></route>\n"
                          "<route name=\"deep\" pattern=\"^\\+12000005(?!0)(\\d{3})$\">"
                          "<usage>Local</usage><gateway>gw</gateway></route>\n");
    n += (size_t)snprintf(xml + n, cap - n, any_route, 99999u);
    /* a prefix the index selects by, with a lookahead it does not read (not broad: deep in the
     * trie) */
    n += (size_t)snprintf(xml + n, cap - n,
                          "<route name=\"inexact\" pattern=\"^\\+1555(?=\\d)(\\d*)$\">"
                          "<usage>Local</usage><gateway>gw</gateway></route>\n");
    n += (size_t)snprintf(xml + n, cap - n, "</routes>\n</callroute>\n");
    assert_true(n < cap);
    cr_config *src = cr_test_load_xml(xml), *cfg = NULL;
    free(xml);
    assert_non_null(src);
    assert_true(src->nroutes > CR_JIT_ALL_ROUTES);
    assert_true(route_jit_size(src, "universal") > 0);
    assert_int_equal(route_jit_size(src, "deep"), 0);
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(src, 7, &img, &len), CR_OK);
    char why[512];
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    assert_true(route_jit_size(cfg, "universal") > 0);
    /* every route the index does not decide exactly has its code once read (the kinds skipped
     * 32 at a time) */
    size_t inexact = 0;
    for (size_t r = 0; r < cfg->nroutes; r++)
        if (!(ce_route_index_kind(cfg, r) & CR_RK_EXACT) && ce_route(cfg, r)->pattern) {
            inexact++;
            if (!ce_route(cfg, r)->re)
                fail_msg("route %s (%zu) has no code once read", ce_route(cfg, r)->name, r);
        }
    assert_true(inexact >= 7);
    size_t deep = cfg->nroutes - 1;
    assert_string_equal(ce_route(cfg, deep)->name, "inexact");
    assert_int_equal(ce_route_index_kind(cfg, deep) & (CR_RK_KIND | CR_RK_EXACT), CR_PX_SET + 1);
    static const char *const anys[] = {"any0", "any30", "any31", "any32", "any100", "any99999"};
    for (size_t k = 0; k < sizeof anys / sizeof *anys; k++) {
        size_t r = 0;
        while (r < cfg->nroutes && strcmp(ce_route(cfg, r)->name, anys[k]) != 0)
            r++;
        assert_true(r < cfg->nroutes);
        /* read as "any": a candidate for every number, met at the tries' roots */
        assert_int_equal(ce_route_index_kind(cfg, r) & (CR_RK_KIND | CR_RK_EXACT), CR_PX_ANY + 1);
        if (route_jit_size(src, anys[k]) == 0 || route_jit_size(cfg, anys[k]) == 0)
            fail_msg("route %s (%zu of %zu) has no JIT code", anys[k], r, cfg->nroutes);
    }
    static cr_decision a, b;
    cr_route_decide(src, "sip:x@example.com", "+19995550100", NULL, &a, NULL);
    cr_route_decide(cfg, "sip:x@example.com", "+19995550100", NULL, &b, NULL);
    assert_int_equal(a.kind, b.kind);
    cr_config_free(cfg);
    free(img);
    cr_config_free(src);
}

/* With CR_CELL_NONE (65,535) voice policies or more, a policy index may not fit a caller
 * table's cell: no cell is hot, and decisions read the caller's record, compiled and adopted
 * from an image alike, the same as with a trace (which never goes on from a cell). */
static void test_caller_cells_without_hot_fields(void **state)
{
    (void)state;
    size_t npol = CR_CELL_NONE + 1, cap = npol * 80 + 4096, n = 0;
    char *xml = malloc(cap);
    assert_non_null(xml);
    n += (size_t)snprintf(
        xml + n, cap - n,
        "<callroute xmlns=\"urn:callroute:config:1\">\n"
        "<domains><domain>example.com</domain></domains>\n"
        "<locationProfiles default=\"HQ\"><locationProfile name=\"HQ\"/>"
        "</locationProfiles>\n"
        "<phoneUsages><usage name=\"Local\"/><usage name=\"Intl\"/></phoneUsages>\n"
        "<voicePolicies default=\"P0\">\n");
    for (size_t i = 0; i < npol; i++)
        n += (size_t)snprintf(xml + n, cap - n,
                              "<voicePolicy name=\"P%zu\"><usage>%s</usage></voicePolicy>\n", i,
                              i + 1 == npol ? "Intl" : "Local");
    n += (size_t)snprintf(
        xml + n, cap - n,
        "</voicePolicies>\n"
        "<gateways><gateway name=\"gw\" address=\"sip:10.0.0.1\"/></gateways>\n"
        "<routes><route name=\"local\" pattern=\"^\\+1425\\d{7}$\"><usage>Local</usage>"
        "<gateway>gw</gateway></route>\n"
        "<route name=\"intl\" pattern=\"^\\+\\d+$\"><usage>Intl</usage>"
        "<gateway>gw</gateway></route></routes>\n"
        "<users><user uri=\"sip:last@example.com\" line=\"tel:+14255550100\" "
        "enterpriseVoice=\"true\" voicePolicy=\"P%zu\"/>\n"
        "<user uri=\"sip:first@example.com\" line=\"tel:+14255550101\" enterpriseVoice=\"true\" "
        "voicePolicy=\"P0\"/>\n"
        "<user uri=\"sip:off@example.com\" line=\"tel:+14255550102\"/></users>\n"
        "</callroute>\n",
        npol - 1);
    assert_true(n < cap);
    cr_config *src = cr_test_load_xml(xml), *cfg = NULL;
    free(xml);
    assert_non_null(src);
    assert_int_equal(src->npolicies, npol);
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(src, 9, &img, &len), CR_OK);
    char why[512];
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    const cr_config *both[2] = {src, cfg};
    for (int k = 0; k < 2; k++) {
        const cr_config *c = both[k];
        const cr_user_table *t = &c->user_uri_tab;
        for (size_t i = 0; i < t->cap; i++)
            if (t->cells[i].val)
                assert_int_equal(t->cells[i].hot, 0);
        static cr_decision d, traced;
        cr_trace trace, *tr = &trace;
        cr_trace_init(tr);
        /* the last policy lists Intl only: its caller reaches +44 through "intl" */
        cr_route_decide(c, "sip:last@example.com", "+442071234567", NULL, &d, NULL);
        cr_route_decide(c, "sip:last@example.com", "+442071234567", NULL, &traced, tr);
        assert_int_equal(d.kind, CR_OUTBOUND);
        assert_string_equal(d.attempts[0].route->name, "intl");
        assert_int_equal(traced.kind, CR_OUTBOUND);
        assert_string_equal(traced.attempts[0].route->name, "intl");
        /* P0 lists Local only: no route for +44 */
        cr_route_decide(c, "sip:first@example.com", "+442071234567", NULL, &d, NULL);
        assert_int_not_equal(d.kind, CR_OUTBOUND);
        cr_route_decide(c, "sip:first@example.com", "+14255550199", NULL, &d, NULL);
        assert_int_equal(d.kind, CR_OUTBOUND);
        assert_string_equal(d.attempts[0].route->name, "local");
        /* not enabled for Enterprise Voice: refused, from the record */
        cr_route_decide(c, "sip:off@example.com", "+14255550199", NULL, &d, NULL);
        assert_int_not_equal(d.kind, CR_OUTBOUND);
        cr_trace_free(tr);
    }
    cr_config_free(cfg);
    free(img);
    cr_config_free(src);
}

/* A caller whose cell's tag is another key's (a 32-bit tag collision, made here by writing a
 * copy of alice's cell under another URI's hash): the decision that went on from the cell is
 * dropped once the key is compared, and that URI is no user; alice is still alice. */
static void test_caller_tag_collision(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *img = image_of("examples/contoso/contoso.xml", &len);
    plan_section x = section(img, S_USLOTS);
    const char *alice = "sip:alice@contoso.com";
    uint64_t ha = ce_uri_hash(alice, strlen(alice));
    cr_user_cell cell;
    size_t k = ha & (x.count - 1);
    for (;; k = (k + 1) & (x.count - 1)) {
        memcpy(&cell, img + x.off + k * sizeof cell, sizeof cell);
        assert_true(cell.val != 0);
        if (cell.tag == (uint32_t)(ha >> 32))
            break;
    }
    char other[64];
    uint64_t ho = 0;
    size_t m = 0;
    for (int i = 0;; i++) { /* a URI whose home cell is empty */
        snprintf(other, sizeof other, "sip:mallory%d@contoso.com", i);
        ho = ce_uri_hash(other, strlen(other));
        m = ho & (x.count - 1);
        cr_user_cell e;
        memcpy(&e, img + x.off + m * sizeof e, sizeof e);
        if (!e.val)
            break;
    }
    cell.tag = (uint32_t)(ho >> 32);
    memcpy(img + x.off + m * sizeof cell, &cell, sizeof cell);
    /* and alice's key at that slot (image format 13: keys by slot), as a checked read wants */
    plan_section ks = section(img, S_UKSLOTS);
    assert_int_equal(ks.count, x.count);
    memcpy(img + ks.off + m * sizeof(cr_key_cell), img + ks.off + k * sizeof(cr_key_cell),
           sizeof(cr_key_cell));
    rechecksum(img, len);
    cr_config *cfg = NULL;
    char why[512];
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    cr_user_probe p;
    ce_user_probe_start(cfg, other, &p);
    ce_user_probe_peek(cfg, &p);
    assert_non_null(p.cell); /* the tag matches: a decision would go on from alice's cell */
    assert_false(ce_user_probe_confirm(cfg, &p));
    ce_user_probe_start(cfg, alice, &p);
    ce_user_probe_peek(cfg, &p);
    assert_non_null(p.cell);
    assert_true(ce_user_probe_confirm(cfg, &p));
    cr_decision d;
    assert_int_equal(cr_route_decide(cfg, other, "+14255550123", NULL, &d, NULL), CR_OK);
    assert_null(d.caller);
    assert_int_equal(d.kind, CR_NOT_APPLICABLE);
    assert_non_null(strstr(cr_test_reason(&d), "is not a known user"));
    assert_null(cr_config_user_find(cfg, other));
    assert_int_equal(cr_route_decide(cfg, alice, "+14255550123", NULL, &d, NULL), CR_OK);
    assert_non_null(d.caller);
    assert_string_equal(d.caller->uri, alice);
    assert_int_equal(d.kind, CR_OUTBOUND);
    cr_config_free(cfg);
    free(img);
}

/* Users of the keys-by-slot test: short keys, one whose uri is not its key (case), one too long
 * for a key cell (compared with the user's uri). */
static const char keys_by_slot_xml[] =
    "<callroute xmlns=\"urn:callroute:config:1\">\n"
    "<domains><domain>example.com</domain></domains>\n"
    "<locationProfiles default=\"HQ\"><locationProfile name=\"HQ\"/></locationProfiles>\n"
    "<phoneUsages><usage name=\"Local\"/></phoneUsages>\n"
    "<voicePolicies default=\"P\"><voicePolicy name=\"P\"><usage>Local</usage></voicePolicy>"
    "</voicePolicies>\n"
    "<gateways><gateway name=\"gw\" address=\"sip:10.0.0.1\"/></gateways>\n"
    "<routes><route name=\"local\" pattern=\"^\\+1425\\d{7}$\"><usage>Local</usage>"
    "<gateway>gw</gateway></route></routes>\n"
    "<users>"
    "<user uri=\"sip:a@example.com\" enterpriseVoice=\"true\"/>\n"
    "<user uri=\"sip:b@example.com\" enterpriseVoice=\"true\"/>\n"
    "<user uri=\"sip:Carol@EXAMPLE.com\" enterpriseVoice=\"true\"/>\n"
    "<user uri=\"sip:a.very.long.user.name.past.a.key.cell@example.com\" "
    "enterpriseVoice=\"true\"/>\n"
    "<user uri=\"sip:d@example.com\" line=\"tel:+14255550104\" enterpriseVoice=\"true\"/>\n"
    "</users>\n"
    "</callroute>\n";

/* Every user of c found by its uri, the cell found at its slot holding the user's key at that
 * slot (keys by slot, image format 13) and an empty slot's key all zero. */
static void expect_keys_by_slot(const cr_config *c)
{
    const cr_user_table *t = &c->user_uri_tab;
    assert_non_null(t->keys);
    for (size_t i = 0; i < t->cap; i++) {
        cr_key_cell zero;
        memset(&zero, 0, sizeof zero);
        if (!t->cells[i].val) {
            assert_memory_equal(&t->keys[i], &zero, sizeof zero);
            continue;
        }
        uint32_t u = (t->cells[i].val - 1) & CR_USER_IX_MASK;
        assert_memory_equal(&t->keys[i], &c->user_keys[u].uri, sizeof zero);
    }
    for (size_t u = 0; u < c->nusers; u++) {
        const cr_user *user = cr_config_user_at(c, u);
        assert_ptr_equal(cr_config_user_find(c, user->uri), user);
        cr_user_probe p;
        ce_user_probe_start(c, user->uri, &p);
        ce_user_probe_peek(c, &p);
        if (p.cell) { /* a decision's lookup: the cell's key compared at the cell's slot */
            assert_int_equal((p.cell->val - 1) & CR_USER_IX_MASK, u);
            assert_true(ce_user_probe_confirm(c, &p));
        }
        assert_ptr_equal(ce_user_probe_finish(c, NULL, &p), user);
    }
}

/* The caller table's keys by slot: every user found through them, compiled and from an image
 * (a key too long for a cell compared with the user); a lookup compares the key at the slot (a
 * compiled table's key changed in place: no one found, no decision goes on from the cell); a
 * checked read refuses a key cell that is not its user's (another user's, a byte changed, a key
 * at an empty slot), a trusted one does not look; an image of format 12 is refused. */
static void test_caller_keys_by_slot(void **state)
{
    (void)state;
    cr_config *src = cr_test_load_xml(keys_by_slot_xml), *cfg = NULL;
    assert_non_null(src);
    assert_int_equal(src->nusers, 5);
    expect_keys_by_slot(src);
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(src, 3, &img, &len), CR_OK);
    char why[512];
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    assert_true(cfg->user_uri_tab.borrowed);
    expect_keys_by_slot(cfg);
    cr_config_free(cfg);

    /* the lookup reads the key at the slot: b's changed there, b is no one */
    const char *b = "sip:b@example.com";
    cr_user_table *t = &src->user_uri_tab;
    size_t sb = ce_uri_hash(b, strlen(b)) & (t->cap - 1);
    while (t->keys[sb].len != strlen(b) || memcmp(t->keys[sb].s, b, strlen(b)) != 0)
        sb = (sb + 1) & (t->cap - 1);
    t->keys[sb].s[4] = 'x';
    assert_null(cr_config_user_find(src, b));
    cr_decision d;
    assert_int_equal(cr_route_decide(src, b, "+14255550123", NULL, &d, NULL), CR_OK);
    assert_null(d.caller);
    assert_int_equal(d.kind, CR_NOT_APPLICABLE);
    t->keys[sb].s[4] = 'b';
    assert_non_null(cr_config_user_find(src, b));
    assert_int_equal(cr_route_decide(src, b, "+14255550123", NULL, &d, NULL), CR_OK);
    assert_non_null(d.caller);
    assert_int_equal(d.kind, CR_OUTBOUND);

    /* damaged key cells, refused by a checked read */
    unsigned char *clean = img, *bad = malloc(len);
    assert_non_null(bad);
    plan_section ks = section(clean, S_UKSLOTS), cs = section(clean, S_USLOTS);
    assert_int_equal(ks.count, cs.count);
    assert_int_equal(ks.esize, sizeof(cr_key_cell));
    size_t used[2], nused = 0, empty = SIZE_MAX;
    for (size_t k = 0; k < cs.count; k++) {
        cr_user_cell cell;
        memcpy(&cell, clean + cs.off + k * sizeof cell, sizeof cell);
        if (cell.val && nused < 2)
            used[nused++] = k;
        else if (!cell.val && empty == SIZE_MAX)
            empty = k;
    }
    assert_int_equal(nused, 2);
    assert_true(empty != SIZE_MAX);
    for (int i = 0; i < 4; i++) {
        memcpy(bad, clean, len);
        unsigned char *k0 = bad + ks.off + used[0] * sizeof(cr_key_cell);
        if (i == 0) /* another user's key: that user's policies for a caller with this key */
            memcpy(k0, clean + ks.off + used[1] * sizeof(cr_key_cell), sizeof(cr_key_cell));
        else if (i == 1)
            k0[offsetof(cr_key_cell, s) + 5] ^= 1;
        else if (i == 2)
            k0[offsetof(cr_key_cell, len)] = CR_KEY_LONG; /* said not to fit: the user's uri */
        else
            bad[ks.off + empty * sizeof(cr_key_cell)] = 3;
        rechecksum(bad, len);
        cfg = NULL;
        assert_int_equal(adopt(bad, len, &cfg, why, sizeof why), CR_ECONFIG);
        assert_non_null(strstr(why, "damaged"));
        assert_non_null(strstr(why, "caller keys"));
        cr_config_free(cfg);
    }
    /* the same bytes read trusted: not looked at (the publisher checked them) */
    cr_diag dg;
    cr_diag_init(&dg);
    cfg = NULL;
    assert_int_equal(
        cr_image_read_ex(bad, len, "x.plan", CR_IMAGE_BORROW | CR_IMAGE_TRUSTED, &cfg, &dg), CR_OK);
    cr_config_free(cfg);
    cr_diag_free(&dg);

    /* an image of the format before keys by slot */
    memcpy(bad, clean, len);
    uint32_t version = 12;
    assert_int_equal(CR_PLAN_VERSION, 13);
    memcpy(bad + offsetof(plan_header, version), &version, sizeof version);
    rechecksum(bad, len);
    cfg = NULL;
    assert_int_equal(adopt(bad, len, &cfg, why, sizeof why), CR_ECONFIG);
    assert_non_null(strstr(why, "format version 12"));
    cr_config_free(cfg);
    free(bad);
    free(img);
    cr_config_free(src);
}

/* A table of n bytes from cr_table_alloc: 64-byte aligned, and from CR_TABLE_HUGE bytes on
 * 2 MB-aligned and advised for huge pages; `zero`: every byte zero. */
static void check_table(const void *p, size_t n, bool zero)
{
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    if (n >= CR_TABLE_HUGE) {
        assert_int_equal((uintptr_t)p % CR_TABLE_HUGE, 0);
        int hg = cr_test_advised_huge(p);
        if (hg >= 0)
            assert_int_equal(hg, 1);
    } else if (n) {
        assert_int_equal(cr_test_advised_huge(p) == 1, 0);
    }
    for (size_t i = 0; zero && i < n; i++)
        if (((const unsigned char *)p)[i])
            fail_msg("byte %zu of a fresh %zu-byte table is not zero", i, n);
}

/* Patterns whose groups the shape reads differently from PCRE2 ("()" has none to the shape,
 * "((...))" one) keep their code at once: an image translates as the XML does (found in review:
 * "^12()(\d+)$" -> "+$1" gave "+345" from the image, "+" from the XML). */
static void test_image_rules_with_odd_groups(void **state)
{
    (void)state;
    static const char xml[] =
        "<callroute xmlns=\"urn:callroute:config:1\">\n"
        "<domains><domain>example.com</domain></domains>\n"
        "<locationProfiles default=\"P\"><locationProfile name=\"P\">\n"
        "<rule name=\"empty\" pattern=\"^12()(\\d+)$\" translation=\"+$1\"/>\n"
        "<rule name=\"nested\" pattern=\"^9((\\d{4}))$\" translation=\"+$2\"/>\n"
        "<rule name=\"plain\" pattern=\"^8(\\d{4})$\" translation=\"+1425$1\"/>\n"
        "</locationProfile></locationProfiles>\n"
        "</callroute>\n";
    cr_config *a = cr_test_load_xml(xml), *b = NULL;
    assert_non_null(a);
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(a, 1, &img, &len), CR_OK);
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(
        cr_image_read_ex(img, len, "x.plan", CR_IMAGE_BORROW | CR_IMAGE_NOLINT, &b, &d), CR_OK);
    assert_int_equal(cr_config_compile(b, &d), CR_OK);
    assert_int_equal(d.count, 0); /* no warning either: the translations name groups that exist */
    cr_diag_free(&d);
    assert_non_null(b->profiles[0].rules[0].re); /* compiled at once */
    assert_non_null(b->profiles[0].rules[1].re);
    assert_null(b->profiles[0].rules[2].re); /* of the simple shape: on first use */
    static const char *const numbers[] = {"12345", "91234", "81234", "7"};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        char na[64], nb[64];
        const cr_rule *ra = NULL, *rb = NULL;
        int rca = cr_profile_normalize(&a->profiles[0], numbers[i], na, sizeof na, &ra, NULL);
        int rcb = cr_profile_normalize(&b->profiles[0], numbers[i], nb, sizeof nb, &rb, NULL);
        assert_int_equal(rca, rcb);
        if (rca >= 0 && ra)
            assert_string_equal(na, nb);
    }
    cr_config_free(a);
    cr_config_free(b);
    free(img);
}

/* A plan of 20,000 routes and 20,000 users: a checked read checks their records on two threads
 * (plan_image_cx.c check_split) and says what one pass in order says: the first damaged record,
 * in either half or both. */
static void test_large_image_checked_in_two_halves(void **state)
{
    (void)state;
    enum { N = 20000 };
    char *xml = cr_test_plan_xml(N, N);
    cr_config *src = cr_test_load_xml(xml), *cfg = NULL;
    free(xml);
    assert_non_null(src);
    size_t len = 0;
    unsigned char *clean = NULL, *img;
    assert_int_equal(cr_image_build(src, 1, (void **)&clean, &len), CR_OK);
    cr_config_free(src);
    char why[512];
    assert_int_equal(adopt(clean, len, &cfg, why, sizeof why), CR_OK);
    assert_int_equal(cfg->nroutes, N);
    assert_int_equal(cfg->nusers, N);
    cr_config_free(cfg);
    assert_non_null(img = malloc(len));
    struct {
        int sec, field;
        size_t at[2]; /* damaged records (SIZE_MAX: none) */
        const char *says;
    } cases[] = {
        {S_ROUTES, RO_NAME, {N - 7, SIZE_MAX}, "route of record 19993 "},
        {S_ROUTES, RO_NAME, {N - 7, 12}, "route of record 12 "},
        {S_USERS, UR_URI, {15000, SIZE_MAX}, "user of record 15000 "},
        {S_USERS, UR_URI, {15000, 9}, "user of record 9 "},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        memcpy(img, clean, len);
        plan_section x = section(img, cases[c].sec);
        assert_int_equal(x.count, N);
        uint32_t bad = 0xFFFFFFF0u;
        for (int k = 0; k < 2; k++)
            if (cases[c].at[k] != SIZE_MAX)
                memcpy(img + x.off +
                           4 * (cases[c].at[k] * sec_fields[cases[c].sec] + (size_t)cases[c].field),
                       &bad, 4);
        rechecksum(img, len);
        assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
        assert_null(cfg);
        if (!strstr(why, cases[c].says))
            fail_msg("case %zu: '%s' does not say '%s'", c, why, cases[c].says);
    }
    /* the merged walks are checked beside the user tables: a damaged walk item and a damaged
     * key cell name the walk, as one pass does; the cell alone names the cell */
    plan_section wi = section(clean, S_WITEMS), uk = section(clean, S_UKEYS);
    uint32_t route = 0xFFFFu;
    for (int both = 1; both >= 0; both--) {
        memcpy(img, clean, len);
        if (both)
            memcpy(img + wi.off + offsetof(cr_px_witem, route), &route, 4);
        img[uk.off + 19000 * sizeof(cr_user_keys) + offsetof(cr_user_keys, uri)] = 200;
        rechecksum(img, len);
        assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_ECONFIG);
        const char *says = both ? "merged items" : "user keys";
        if (!strstr(why, says))
            fail_msg("'%s' does not say '%s'", why, says);
    }
    free(img);
    free(clean);
}

/* The tables a decision reads at random: zeroed, aligned, on huge pages from 2 MB on (every
 * byte writable, freed by size); a compiled plan with 40,000 users has its key cells (2.5 MB)
 * there and its caller table (1 MB) on the heap, and decides the same compiled and adopted
 * (an adopted plan reads the image's pages in place). */
static void test_large_tables_on_huge_pages(void **state)
{
    (void)state;
    static const size_t sizes[] = {
        0, 1000, CR_TABLE_HUGE - 1, CR_TABLE_HUGE, CR_TABLE_HUGE + 1, (5 << 20) + 3};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = cr_table_alloc(sizes[i]);
        check_table(p, sizes[i], true);
        memset(p, 0xA5, sizes[i]);
        cr_table_free(p, sizes[i]);
    }
    assert_null(cr_table_alloc(SIZE_MAX - 1));
    cr_table_free(NULL, CR_TABLE_HUGE);

    size_t nusers = 40000;
    char *xml = cr_test_plan_xml(0, nusers);
    cr_config *src = cr_test_load_xml(xml), *cfg = NULL;
    free(xml);
    assert_non_null(src);
    assert_int_equal(src->nusers, nusers);
    check_table(src->user_keys, nusers * sizeof *src->user_keys, false);
    assert_true(nusers * sizeof *src->user_keys >= CR_TABLE_HUGE);
    check_table(src->user_uri_tab.cells, src->user_uri_tab.cap * sizeof(cr_user_cell), false);
    assert_true(src->user_uri_tab.cap * sizeof(cr_user_cell) < CR_TABLE_HUGE);
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(src, 11, &img, &len), CR_OK);
    char why[512];
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    assert_true((const char *)cfg->user_keys >= (const char *)img &&
                (const char *)cfg->user_keys < (const char *)img + len);
    const cr_config *both[2] = {src, cfg};
    for (int k = 0; k < 2; k++) {
        static cr_decision d;
        cr_route_decide(both[k], "sip:u39999@example.com", "+14250000007", NULL, &d, NULL);
        assert_int_equal(d.kind, CR_INTERNAL);
        assert_string_equal(d.callee->uri, "sip:u7@example.com");
        assert_string_equal(cr_test_reason(&d),
                            "+14250000007 is the line of user 'sip:u7@example.com'");
        cr_route_decide(both[k], "sip:u7@example.com", "+14259999999", NULL, &d, NULL);
        assert_int_equal(d.kind, CR_OUTBOUND);
        assert_string_equal(cr_test_reason(&d), "route 'local', usage 'Local'");
    }
    cr_config_free(cfg);
    free(img);
    cr_config_free(src);
}

/* A plan image loaded from a file (cr_image_load) is read into a private copy that the plan
 * borrows from: from CR_TABLE_HUGE bytes on the copy starts on a 2 MB boundary and is advised
 * onto huge pages (read_private, rules/plan_file.c), as the compiled plan's tables are; a smaller
 * image's copy is not; the copy is read-only; decisions are the compiled plan's. */
static void test_image_copy_on_huge_pages(void **state)
{
    (void)state;
    static const size_t users[] = {200, 40000};
    for (size_t k = 0; k < sizeof users / sizeof *users; k++) {
        char *xml = cr_test_plan_xml(0, users[k]);
        cr_config *src = cr_test_load_xml(xml), *cfg = NULL;
        free(xml);
        assert_non_null(src);
        const char *path = cr_test_tmpfile("", ".plan");
        assert_non_null(path);
        char err[400];
        assert_int_equal(cr_image_write(path, src, 7, NULL, err, sizeof err), CR_OK);
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        bool huge = (size_t)sb.st_size >= CR_TABLE_HUGE;
        assert_int_equal(huge,
                         k == 1); /* the small plan's image is under the bound, the large's over */
        cr_diag d;
        cr_diag_init(&d);
        assert_int_equal(cr_image_load(path, &cfg, &d), CR_OK);
        cr_diag_free(&d);
        remove(path); /* the copy outlives the file */
        const char *keys = (const char *)cfg->user_keys, *base = cfg->borrow_lo;
        assert_true(keys != (const char *)src->user_keys);
        assert_true(base && keys > base && keys < cfg->borrow_hi);
        assert_int_equal(cfg->borrow_hi - base, sb.st_size);
        assert_memory_equal(base, CR_PLAN_MAGIC, CR_PLAN_MAGIC_LEN);
        int hg = cr_test_advised_huge(keys);
        if (hg >= 0)
            assert_int_equal(hg, huge);
        if (huge)
            assert_int_equal((uintptr_t)base % CR_TABLE_HUGE, 0);
        assert_int_equal(cr_test_writable(keys), 0);
        const cr_config *both[2] = {src, cfg};
        for (int j = 0; j < 2; j++) {
            static cr_decision dd;
            cr_route_decide(both[j], "sip:u7@example.com", "+14250000099", NULL, &dd, NULL);
            assert_int_equal(dd.kind, CR_INTERNAL);
            assert_string_equal(dd.callee->uri, "sip:u99@example.com");
        }
        cr_config_free(cfg);
        cr_config_free(src);
    }
}

/* A compiled plan's route records (25,000 routes, 2.4 MB) and, once its strings pass the small
 * chunks (2 MB in all), its strings' arena chunks are on huge pages like the tables; a route cannot
 * be added to the compiled plan (its array is not grown in place); decisions name the same route,
 * compiled and adopted. */
static void test_routes_and_strings_on_huge_pages(void **state)
{
    (void)state;
    size_t nroutes = 25000, nusers = 60000;
    char *xml = cr_test_plan_xml(nroutes, nusers);
    /* loaded to be written as an image (`callroute compile`): strings and routes on small
     * pages, the same image */
    const char *path = cr_test_tmpfile(xml, ".xml");
    assert_non_null(path);
    cr_load_options lo = {.image_only = true};
    cr_config *src = NULL, *small = NULL, *cfg = NULL;
    cr_diag dg;
    cr_diag_init(&dg);
    assert_int_equal(cr_rules_load_ex(path, NULL, &src, &dg), CR_OK);
    assert_int_equal(cr_rules_load_ex(path, &lo, &small, &dg), CR_OK);
    cr_diag_free(&dg);
    free(xml);
    assert_non_null(src);
    assert_false(small->routes_table);
    int hs = cr_test_advised_huge(small->users[nusers - 1].uri);
    if (hs >= 0)
        assert_int_equal(hs, 0);
    void *img_a = NULL, *img_b = NULL;
    size_t len_a = 0, len_b = 0;
    assert_int_equal(cr_image_build(src, 5, &img_a, &len_a), CR_OK);
    assert_int_equal(cr_image_build(small, 5, &img_b, &len_b), CR_OK);
    assert_int_equal(len_a, len_b);
    assert_memory_equal(img_a, img_b, len_a);
    free(img_a);
    free(img_b);
    cr_config_free(small);
    assert_int_equal(src->nroutes, nroutes);
    assert_true(nroutes * sizeof *src->routes >= CR_TABLE_HUGE);
    assert_true(src->routes_table);
    check_table(src->routes, nroutes * sizeof *src->routes, false);
    int hg = cr_test_advised_huge(src->routes[0].name); /* in the first, small chunk */
    if (hg >= 0)
        assert_int_equal(hg, 0);
    hg = cr_test_advised_huge(src->users[nusers - 1].uri); /* past the small chunks */
    if (hg >= 0)
        assert_int_equal(hg, 1);
    assert_null(cr_config_add_route(src, "late", (cr_srcloc){0}));
    assert_int_equal(src->nroutes, nroutes);
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(src, 11, &img, &len), CR_OK);
    char why[512];
    assert_int_equal(adopt(img, len, &cfg, why, sizeof why), CR_OK);
    assert_false(cfg->routes_table);
    const cr_config *both[2] = {src, cfg};
    for (int k = 0; k < 2; k++) {
        static cr_decision d;
        cr_route_decide(both[k], "sip:u7@example.com", "+12062499917", NULL, &d, NULL);
        assert_int_equal(d.kind, CR_OUTBOUND);
        assert_string_equal(cr_test_reason(&d), "route 'route-24999', usage 'Local'");
        assert_string_equal(cr_test_uri(both[k], &d, 0), "sip:+12062499917@10.0.0.1;user=phone");
        cr_route_decide(both[k], "sip:u7@example.com", "+12060000099", NULL, &d, NULL);
        assert_string_equal(cr_test_reason(&d), "route 'route-00000', usage 'Local'");
    }
    cr_config_free(cfg);
    free(img);
    cr_config_free(src);
}

/* An image whose header says it has response groups but which holds none compiled (forged: no
 * compile writes one) is refused by the library's load, and the error names the file. */
static void test_forged_response_groups_named(void **state)
{
    (void)state;
    const char *bin = getenv("CR_BIN");
    assert_non_null(bin);
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cr_test_src("tests/abi/follow.xml"), &cfg, &d), CR_OK);
    size_t n = 0;
    assert_null(cr_config_attached(cfg, CR_RGS_IMAGE_NAME, &n)); /* no response groups */
    cr_config_mark_response_groups(cfg);
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(cfg, 3, &img, &len), CR_OK);
    char dir[] = "/tmp/cr-forged-XXXXXX", path[64], cmd[512], out[4096] = "";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/forged.plan", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "%s/plugin-api/callroute check --config %s 2>&1", bin, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    assert_int_not_equal(st, 0);
    assert_non_null(strstr(out, "holds none compiled"));
    char named[80];
    snprintf(named, sizeof named, "%s:", path); /* the file, as a location */
    assert_non_null(strstr(out, named));
    unlink(path);
    rmdir(dir);
    free(img);
    cr_config_free(cfg);
    cr_diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_xxh64),
        cmocka_unit_test(test_hash_in_pieces),
        cmocka_unit_test(test_checksum_in_chunks),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_damage_refused),
        cmocka_unit_test(test_rgs_section_damage_refused),
        cmocka_unit_test(test_adopted_round_trip),
        cmocka_unit_test(test_compiled_damage_refused),
        cmocka_unit_test(test_line_slots_carry_their_numbers),
        cmocka_unit_test(test_dense_blocks),
        cmocka_unit_test(test_trusted_read),
        cmocka_unit_test(test_image_rules_compiled_on_use),
        cmocka_unit_test(test_trusted_read_translations_on_use),
        cmocka_unit_test(test_trusted_read_dial_first_keeps_jit),
        cmocka_unit_test(test_lazy_translation_failure_is_visible),
        cmocka_unit_test(test_image_rules_with_odd_groups),
        cmocka_unit_test(test_usage_tries_left_out),
        cmocka_unit_test(test_broad_routes_jit),
        cmocka_unit_test(test_caller_cells_without_hot_fields),
        cmocka_unit_test(test_caller_tag_collision),
        cmocka_unit_test(test_caller_keys_by_slot),
        cmocka_unit_test(test_large_tables_on_huge_pages),
        cmocka_unit_test(test_image_copy_on_huge_pages),
        cmocka_unit_test(test_large_image_checked_in_two_halves),
        cmocka_unit_test(test_routes_and_strings_on_huge_pages),
        cmocka_unit_test(test_forged_response_groups_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

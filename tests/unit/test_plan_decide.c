/*
 * Deciding from a mapped plan image (issue 14 stage 3): the plan read out of an image borrows
 * its strings from the image, which stays mapped read-only (a write into it would fault), and
 * decides every call exactly as the model loaded from the XML. Corpus: every configuration of
 * examples/ and of the test fixtures that loads, each caller it declares (and one it does not),
 * numbers of every shape plus every line number it declares, outbound and inbound from each
 * gateway; each decision is written as JSON and the two JSON texts compared.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "cr_engine.h"
#include "cr_rules.h"
#include "model.h"
#include "cr_plan_image.h"
#include "testutil.h"

static const char *const fixed_numbers[] = {
    "911",
    "5550100",
    "50100",
    "4255550100",
    "14255550100",
    "+14255550100",
    "+12065550100",
    "2065550100",
    "912065550100",
    "011442071234567",
    "+442071234567",
    "18005551212",
    "+18005551212",
    "123",
    "0",
    "+1",
    "9911",
    "*72",
    "#",
    "tel:+14255550100;ext=50100",
    "sip:+14255550100@contoso.com;user=phone",
    "8000123",
    "80001234",
    "sip:bob@contoso.com",
};

typedef struct jbuf {
    char *s;
    size_t n, cap;
} jbuf;

static void jput(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jput(jbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        assert_true(k >= 0);
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
}

/* A JSON string (the corpus has no control characters; quotes and backslashes escaped). */
static void jstr(jbuf *b, const char *key, const char *v)
{
    jput(b, "\"%s\": ", key);
    if (!v) {
        jput(b, "null, ");
        return;
    }
    jput(b, "\"");
    for (; *v; v++)
        jput(b, *v == '"' || *v == '\\' ? "\\%c" : "%c", *v);
    jput(b, "\", ");
}

static void decision_json(jbuf *b, const cr_config *cfg, const char *from, const char *dialed,
                          int rc, const cr_decision *d)
{
    jput(b, "{");
    jstr(b, "from", from);
    jstr(b, "dialed", dialed);
    jput(b, "\"rc\": %d, \"kind\": %d, ", rc, (int)d->kind);
    jstr(b, "caller", d->caller ? d->caller->uri : NULL);
    jstr(b, "profile", d->profile ? d->profile->name : NULL);
    jstr(b, "rule", d->rule ? d->rule->name : NULL);
    jstr(b, "normalized", d->normalized);
    jstr(b, "callee", d->callee ? d->callee->uri : NULL);
    jput(b, "\"routes_matched\": %zu, \"attempts\": [", d->routes_matched);
    for (size_t i = 0; i < d->nattempts; i++) {
        const cr_attempt *a = &d->attempts[i];
        jput(b, "{");
        jstr(b, "gateway", a->gateway->name);
        jstr(b, "route", a->route ? a->route->name : NULL);
        jstr(b, "usage", a->usage ? a->usage->name : NULL);
        char uri[CR_URI_SHORT];
        cr_attempt_uri(cfg, d, i, uri, sizeof uri);
        jstr(b, "uri", uri);
        jput(b, "}, ");
    }
    jput(b, "], ");
    char reason[CR_REASON_MAX];
    jstr(b, "reason", cr_decision_reason(d, reason, sizeof reason));
    jput(b, "}\n");
}

static void inbound_json(jbuf *b, const cr_gateway *gw, const char *called, int rc,
                         const cr_inbound *in)
{
    jput(b, "{");
    jstr(b, "gateway", gw ? gw->name : NULL);
    jstr(b, "called", called);
    jput(b, "\"rc\": %d, ", rc);
    if (rc == CR_OK) {
        jstr(b, "profile", in->profile ? in->profile->name : NULL);
        jstr(b, "number", in->called);
        jstr(b, "calling", in->calling);
        jstr(b, "rule", in->called_rule ? in->called_rule->name : NULL);
        jstr(b, "callee", in->callee ? in->callee->uri : NULL);
        jstr(b, "pai", in->pai);
    }
    jput(b, "}\n");
}

/* Every decision of the corpus over cfg, as JSON lines. */
static char *decide_corpus(const cr_config *cfg, const cr_config *corpus_of)
{
    jbuf b = {0};
    const char *numbers[256];
    size_t nn = 0;
    for (size_t i = 0; i < sizeof fixed_numbers / sizeof *fixed_numbers; i++)
        numbers[nn++] = fixed_numbers[i];
    for (size_t i = 0; i < cr_config_user_count(corpus_of) && nn < 256; i++) {
        const cr_user *u = cr_config_user_at(corpus_of, i);
        if (u->line_number)
            numbers[nn++] = u->line_number;
        if (u->line && nn < 256)
            numbers[nn++] = u->line;
    }
    const char *froms[40] = {"sip:nobody@contoso.com"};
    size_t nf = 1;
    for (size_t i = 0; i < cr_config_user_count(corpus_of) && nf < 40; i++)
        froms[nf++] = cr_config_user_at(corpus_of, i)->uri;
    cr_runtime rt = {0};
    for (size_t f = 0; f < nf; f++)
        for (size_t k = 0; k < nn; k++) {
            cr_decision d;
            int rc = cr_route_decide(cfg, froms[f], numbers[k], &rt, &d, NULL);
            decision_json(&b, cfg, froms[f], numbers[k], rc, &d);
        }
    for (size_t g = 0; g <= cr_config_gateway_count(cfg); g++) {
        const cr_gateway *gw = g ? cr_config_gateway_at(cfg, g - 1) : NULL;
        for (size_t k = 0; k < nn; k++) {
            cr_inbound in;
            int rc = cr_inbound_decide_ex(cfg, gw, numbers[k], "+14255550111", &rt, &in, NULL);
            inbound_json(&b, gw, numbers[k], rc, &in);
        }
    }
    return b.s;
}

/* The image of cfg in a read-only mapping (writes into it fault), and its plan read back. */
static cr_config *plan_from_image(const cr_config *cfg, void **map, size_t *maplen)
{
    void *img = NULL;
    size_t len = 0;
    assert_int_equal(cr_image_build(cfg, 7, &img, &len), CR_OK);
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    memcpy(m, img, len);
    free(img);
    assert_int_equal(mprotect(m, len, PROT_READ), 0);
    cr_diag d;
    cr_diag_init(&d);
    cr_config *out = NULL;
    assert_int_equal(cr_image_read_ex(m, len, "x.plan", CR_IMAGE_BORROW, &out, &d), CR_OK);
    assert_int_equal(cr_config_compile(out, &d), CR_OK);
    cr_diag_free(&d);
    *map = m;
    *maplen = len;
    return out;
}

/* The plan's strings are the image's bytes, not copies. */
static void check_borrowed(const cr_config *p, const void *map, size_t len)
{
    const char *lo = map, *hi = lo + len;
#define IN_IMAGE(s) assert_true((s) == NULL || ((const char *)(s) >= lo && (const char *)(s) < hi))
    for (size_t i = 0; i < cr_config_route_count(p); i++) {
        IN_IMAGE(cr_config_route_at(p, i)->name);
        IN_IMAGE(cr_config_route_at(p, i)->pattern);
    }
    for (size_t i = 0; i < cr_config_user_count(p); i++) {
        IN_IMAGE(cr_config_user_at(p, i)->uri);
        IN_IMAGE(cr_config_user_at(p, i)->line);
    }
    for (size_t i = 0; i < cr_config_profile_count(p); i++)
        for (size_t k = 0; k < cr_config_profile_at(p, i)->nrules; k++)
            IN_IMAGE(cr_config_profile_at(p, i)->rules[k].pattern);
#undef IN_IMAGE
}

/* Compares one configuration's decisions both ways; false when it does not load. */
static bool same_decisions(const char *path)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *model = NULL;
    int rc = cr_rules_load(path, &model, &d);
    cr_diag_free(&d);
    if (rc != CR_OK)
        return false; /* an include fragment, a configuration meant to be refused, sipp's */
    print_message("%s\n", path);
    void *map = NULL;
    size_t len = 0;
    cr_config *plan = plan_from_image(model, &map, &len);
    check_borrowed(plan, map, len);
    char *a = decide_corpus(model, model), *b = decide_corpus(plan, model);
    if (strcmp(a, b) != 0) {
        size_t i = 0;
        while (a[i] == b[i])
            i++;
        while (i && a[i - 1] != '\n')
            i--;
        fail_msg("%s: decisions differ\n  model: %.300s\n  image: %.300s", path, a + i, b + i);
    }
    free(a);
    free(b);
    cr_config_free(plan);
    munmap(map, len);
    cr_config_free(model);
    return true;
}

static size_t walk(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".xml") == 0)
            n += same_decisions(path);
        else if (!strchr(e->d_name, '.') && strcmp(e->d_name, "fuzz") != 0)
            n += walk(path);
    }
    closedir(d);
    return n;
}

static void test_examples_and_fixtures(void **state)
{
    (void)state;
    char ex[4096];
    snprintf(ex, sizeof ex, "%s", cr_test_src("examples"));
    size_t n = walk(ex);
    assert_true(n >= 3);
    snprintf(ex, sizeof ex, "%s", cr_test_src("tests"));
    n += walk(ex);
    print_message("%zu configurations decided both ways\n", n);
    assert_true(n >= 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_and_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

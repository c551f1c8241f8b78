/*
 * Helpers for the rules/ tests: a small valid configuration whose lines a test replaces, and
 * assertions on the diagnostics the loader produced.
 */
#ifndef CR_TEST_RULES_COMMON_H
#define CR_TEST_RULES_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cr_rules.h"
#include "testutil.h"

/* One line per object, so that each test knows the line its error must name. */
static const char *const base_lines[] = {
    NULL, /* lines count from 1 */
    "<callroute xmlns=\"urn:callroute:config:1\">",
    "<domains><domain>contoso.com</domain></domains>",
    "<locationProfiles default=\"P\">",
    "<locationProfile name=\"P\" externalAccessPrefix=\"9\">",
    "<rule name=\"R\" pattern=\"^(\\d{4})$\" translation=\"+1425555$1\"/>",
    "</locationProfile>",
    "</locationProfiles>",
    "<phoneUsages><usage name=\"Local\"/></phoneUsages>",
    "<voicePolicies default=\"Pol\"><voicePolicy name=\"Pol\"><usage>Local</usage>"
    "</voicePolicy></voicePolicies>",
    "<gateways><gateway name=\"GW\" address=\"sip:127.0.0.1:5071\"/></gateways>",
    "<routes><route name=\"Rt\" pattern=\"^\\+1(\\d{10})$\"><usage>Local</usage>"
    "<gateway>GW</gateway></route></routes>",
    "<users><user uri=\"sip:a@contoso.com\" line=\"tel:+14255550100\" "
    "enterpriseVoice=\"true\"/></users>",
    "", /* line 13: free for additions */
    "</callroute>",
};
#define BASE_LINES 14

/*
 * The base document with some lines replaced: pairs (line, text) ending with 0. Returns the
 * path of a temporary file (see cr_test_tmpfile).
 */
static inline const char *base_with(int first, ...)
{
    const char *lines[BASE_LINES + 1];
    for (int i = 1; i <= BASE_LINES; i++)
        lines[i] = base_lines[i];
    va_list ap;
    va_start(ap, first);
    for (int n = first; n; n = va_arg(ap, int))
        lines[n] = va_arg(ap, const char *);
    va_end(ap);
    static char buf[8192];
    size_t o = 0;
    for (int i = 1; i <= BASE_LINES; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\n", lines[i]);
    return cr_test_tmpfile(buf, ".xml");
}

static inline void print_diag(const cr_diag *d)
{
    for (size_t i = 0; i < d->count; i++) {
        char b[2048];
        cr_diag_format(d, i, b, sizeof b);
        fprintf(stderr, "  diag: %s\n", b);
    }
}

/* Index of the first item of `level` whose file ends with `file`, at `line` (0: any), whose
 * object contains `object` and message contains `msg` (NULL: any); -1 if none. */
static inline long find_diag(const cr_diag *d, cr_diag_level level, const char *file, int line,
                             const char *object, const char *msg)
{
    for (size_t i = 0; i < d->count; i++) {
        const cr_diag_item *it = &d->items[i];
        size_t fl = strlen(it->file), el = file ? strlen(file) : 0;
        if (it->level != level || (file && (fl < el || strcmp(it->file + fl - el, file) != 0)))
            continue;
        if ((line && it->line != line) || (object && !strstr(it->object, object)) ||
            (msg && !strstr(it->message, msg)))
            continue;
        return (long)i;
    }
    return -1;
}

/* Loads `path`, which must be refused with an error matching (file, line, object, msg). */
static inline void expect_error(const char *path, const char *file, int line, const char *object,
                                const char *msg)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = (cr_config *)1;
    int rc = cr_rules_load(path, &cfg, &d);
    long i = find_diag(&d, CR_DIAG_ERROR, file, line, object, msg);
    if (rc != CR_ECONFIG || cfg != NULL || i < 0) {
        fprintf(stderr, "expected error %s:%d %s: %s; got rc %d\n", file ? file : "*", line,
                object ? object : "*", msg ? msg : "*", rc);
        print_diag(&d);
    }
    assert_int_equal(rc, CR_ECONFIG);
    assert_null(cfg);
    assert_true(i >= 0);
    cr_diag_free(&d);
    if (strncmp(path, "/tmp/crtest", 11) == 0 && !strchr(path + 5, '/'))
        unlink(path);
}

/* Loads `path`, which must succeed with a warning matching (line, object, msg). */
static inline void expect_warning(const char *path, int line, const char *object, const char *msg)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_config *cfg = NULL;
    int rc = cr_rules_load(path, &cfg, &d);
    long i = find_diag(&d, CR_DIAG_WARNING, NULL, line, object, msg);
    if (rc != CR_OK || i < 0) {
        fprintf(stderr, "expected warning :%d %s: %s; got rc %d\n", line, object ? object : "*",
                msg ? msg : "*", rc);
        print_diag(&d);
    }
    assert_int_equal(rc, CR_OK);
    assert_non_null(cfg);
    assert_int_equal(d.errors, 0);
    assert_true(i >= 0);
    cr_config_free(cfg);
    cr_diag_free(&d);
    if (strncmp(path, "/tmp/crtest", 11) == 0 && !strchr(path + 5, '/'))
        unlink(path);
}

/* The base name of a temporary file, for file expectations. */
static inline const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Writes `text` to dir/name (creating dir/ if needed); returns the static path. */
static inline const char *write_in(const char *dir, const char *name, const char *text)
{
    static char path[4][512];
    static int slot;
    char *p = path[slot++ % 4];
    mkdir(dir, 0700);
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

#endif

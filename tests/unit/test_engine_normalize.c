/*
 * Normalization: the planning guide's Table 1 rules, one by one with its own examples, and
 * the .NET Regex.Replace semantics of translations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cr_engine.h"
#include "model.h" /* white-box: the fast path of normalization, ce_rule_apply_simple */

static const cr_srcloc here = {"test", 1};

/* A compiled config with one profile holding one rule. */
static cr_config *one_rule(const char *pattern, const char *translation, cr_diag *d)
{
    cr_config *c = cr_config_new();
    cr_profile *p = cr_config_add_profile(c, "P", here);
    cr_rule *r = cr_profile_add_rule(c, p, "R", here);
    r->pattern = cr_config_strdup(c, pattern);
    r->translation = cr_config_strdup(c, translation);
    cr_diag_init(d);
    if (cr_config_compile(c, d) != CR_OK) {
        cr_config_free(c);
        return NULL;
    }
    return c;
}

/* Normalizes `in` with a one-rule profile; returns the result in a static buffer, or NULL
 * when the rule did not match. */
static const char *apply(const char *pattern, const char *translation, const char *in)
{
    static char out[CR_NUMBER_MAX + 1];
    cr_diag d;
    cr_config *c = one_rule(pattern, translation, &d);
    assert_non_null(c);
    const cr_rule *rule = NULL;
    assert_int_equal(
        cr_profile_normalize(cr_config_profile_at(c, 0), in, out, sizeof out, &rule, NULL), CR_OK);
    const char *res = rule ? out : NULL;
    cr_config_free(c);
    cr_diag_free(&d);
    return res;
}

/* Table 1 of "Normalization Rules", each with the guide's example. */
static void test_guide_table1_examples(void **state)
{
    (void)state;
    assert_string_equal(apply("^(\\d{4})$", "+1425555$1", "0100"), "+14255550100");
    assert_string_equal(apply("^5(\\d{4})$", "+1425555$1", "50100"), "+14255550100");
    assert_string_equal(apply("^(\\d{7})$", "+1425$1", "5550100"), "+14255550100");
    assert_string_equal(apply("^(\\d{7})$", "+1972$1", "5550100"), "+19725550100");
    assert_string_equal(apply("^(\\d{10})$", "+1$1", "2065550100"), "+12065550100");
    assert_string_equal(apply("^011(\\d*)$", "+$1", "01191445550100"), "+91445550100");
    assert_string_equal(apply("^0$", "+14255550100", "0"), "+14255550100");
    assert_string_equal(apply("^6222(\\d{4})$", "+1425555$1", "62220100"), "+14255550100");
    assert_string_equal(apply("^6333(\\d{4})$", "+1202555$1", "63330100"), "+12025550100");
    assert_string_equal(apply("^6444(\\d{4})$", "+1972555$1", "64440100"), "+19725550100");
}

/*
 * The guide's LDCallingUS row says ^1(\d{10})$ with +$1 turns 12145550100 into
 * +12145550100. It cannot: the group holds the ten digits after the leading 1, so the
 * translation yields +2145550100. The rule that does what the row means is +1$1.
 */
static void test_guide_ldcallingus_row_is_wrong(void **state)
{
    (void)state;
    assert_string_equal(apply("^1(\\d{10})$", "+$1", "12145550100"), "+2145550100");
    assert_string_equal(apply("^1(\\d{10})$", "+1$1", "12145550100"), "+12145550100");
}

static void test_unmatched_number_continues_unchanged(void **state)
{
    (void)state;
    assert_null(apply("^(\\d{4})$", "+1425555$1", "911"));
    static char out[64];
    cr_diag d;
    cr_config *c = one_rule("^(\\d{4})$", "+1425555$1", &d);
    const cr_rule *rule = (const cr_rule *)1;
    cr_profile_normalize(cr_config_profile_at(c, 0), "911", out, sizeof out, &rule, NULL);
    assert_null(rule);
    assert_string_equal(out, "911");
    cr_config_free(c);
    cr_diag_free(&d);
}

/* .NET numbers unnamed groups before named ones: in (?<area>\d{3})(\d{7}), $1 is the
 * seven digits and $2 (or ${area}) the area code. */
static void test_dotnet_named_groups_numbered_after_unnamed(void **state)
{
    (void)state;
    assert_string_equal(apply("^(?<area>\\d{3})(\\d{7})$", "+1${area}$1", "4255550100"),
                        "+14255550100");
    assert_string_equal(apply("^(?<area>\\d{3})(\\d{7})$", "$1-$2", "4255550100"), "5550100-425");
    assert_string_equal(apply("^(?'cc'\\d)(?<rest>\\d+)$", "+${cc}${rest}", "14255550100"),
                        "+14255550100");
}

/* So do back-references in the pattern: in ^(?<a>\d)(\d)\1$ the \1 is the unnamed group (.NET's
 * 1, PCRE2's 2): "122" matches and "121" does not (issue 15). \k<1> likewise; with only
 * unnamed or only named groups the numbers are the same in both. */
static void test_dotnet_pattern_backrefs_number_unnamed_first(void **state)
{
    (void)state;
    assert_string_equal(apply("^(?<a>\\d)(\\d)\\1$", "$1${a}", "122"), "21");
    assert_null(apply("^(?<a>\\d)(\\d)\\1$", "$1", "121"));
    assert_string_equal(apply("^(?<a>\\d)(\\d)\\k<1>\\k<a>$", "ok", "1221"), "ok");
    assert_null(apply("^(?<a>\\d)(\\d)\\k<1>\\k<a>$", "ok", "1211"));
    assert_string_equal(apply("^(\\d)(\\d)\\2$", "$1", "122"), "1");
    assert_string_equal(apply("^(?<x>\\d)(?<y>\\d)\\2$", "${y}", "344"), "4");
    assert_string_equal(apply("^(?<a>\\d)[\\d](\\d)\\1$", "$1", "1233"), "3");
}

static void test_dotnet_special_substitutions(void **state)
{
    (void)state;
    assert_string_equal(apply("^(\\d+)$", "$$$1", "123"), "$123");              /* $$ */
    assert_string_equal(apply("^\\d+$", "+1$&", "4255550100"), "+14255550100"); /* $& */
    assert_string_equal(apply("^(\\d+)$", "+${1}0", "42"), "+420");             /* ${1} */
    assert_string_equal(apply("^(\\d+)$", "x$0", "42"), "x42");                 /* $0 */
    assert_string_equal(apply("55", "[$`|$']", "1552"), "1[1|2]2");             /* $` and $' */
    assert_string_equal(apply("(1)(2)?", "<$+>", "1"), "<>");                   /* $+: last group */
    assert_string_equal(apply("(1)(2)", "<$+>", "12"), "<2>");
    assert_string_equal(apply("2", "[$_]", "123"), "1[123]3");  /* $_: input */
    assert_string_equal(apply("^(\\d)$", "$x$", "7"), "$x$");   /* lone $: literal */
    assert_string_equal(apply("^(\\d)$", "${ab", "7"), "${ab"); /* unclosed */
}

/* Regex.Replace replaces every match of an unanchored pattern and keeps the rest. */
static void test_dotnet_replaces_every_match(void **state)
{
    (void)state;
    assert_string_equal(apply("555", "666", "5551555"), "6661666");
    assert_string_equal(apply("(\\d{4})", "+1425555$1", "12345"), "+142555512345");
    assert_string_equal(apply("x*", "-", "ab"), "-a-b-");
    assert_string_equal(apply("a|", "X", "ab"), "XXbX");
}

static void test_unset_optional_group_is_empty(void **state)
{
    (void)state;
    assert_string_equal(apply("^(\\+)?(\\d+)$", "[$1]$2", "123"), "[]123");
}

/* .NET: "$10" with one group, "${name}" without such a group stay literal text; the
 * configuration loads with a warning (issue 15). */
static void test_translation_naming_missing_group_is_literal(void **state)
{
    (void)state;
    const char *tr[] = {"+$2", "+${2}", "+${name}", "+$10"};
    const char *want[] = {"+$2", "+${2}", "+${name}", "+$10"};
    for (size_t i = 0; i < sizeof tr / sizeof *tr; i++) {
        cr_diag d;
        cr_config *c = one_rule("^(\\d{4})$", tr[i], &d);
        assert_non_null(c);
        assert_int_equal(d.errors, 0);
        size_t k = 0; /* the one-rule configuration has no <domains> either: a warning too */
        while (k < d.count && !strstr(d.items[k].message, "literal text"))
            k++;
        assert_true(k < d.count);
        assert_int_equal(d.items[k].level, CR_DIAG_WARNING);
        assert_string_equal(d.items[k].object, "rule 'R' of location profile 'P'");
        cr_config_free(c);
        cr_diag_free(&d);
        assert_string_equal(apply("^(\\d{4})$", tr[i], "1234"), want[i]);
    }
}

/* A result longer than CR_NUMBER_MAX fails normalization (no raw number routed). */
static void test_too_long_result_fails_visibly(void **state)
{
    (void)state;
    cr_diag d;
    cr_config *c = one_rule(
        "^(\\d{4})$", "$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1$1", &d);
    assert_non_null(c);
    char out[CR_NUMBER_MAX + 1];
    const cr_rule *rule = NULL;
    cr_trace t;
    cr_trace_init(&t);
    assert_int_equal(
        cr_profile_normalize(cr_config_profile_at(c, 0), "1234", out, sizeof out, &rule, &t),
        CR_ERANGE);
    assert_non_null(rule);
    assert_non_null(strstr(t.buf, "the number cannot be normalized"));
    cr_trace_free(&t);
    cr_config_free(c);
    cr_diag_free(&d);
}

static void test_bad_pattern_reports_offset(void **state)
{
    (void)state;
    cr_diag d;
    cr_config *c = one_rule("^(\\d{4}$", "+$1", &d);
    assert_null(c);
    assert_int_equal(d.errors, 1);
    assert_non_null(strstr(d.items[0].message, "offset 8"));
    cr_diag_free(&d);
}

static void test_visual_separators_removed(void **state)
{
    (void)state;
    cr_number n;
    assert_int_equal(cr_number_parse("+1 (425) 555-0100", &n), CR_OK);
    assert_string_equal(n.digits, "+14255550100");
    assert_true(n.dialable);
    assert_int_equal(cr_number_parse("425.555.0100", &n), CR_OK);
    assert_string_equal(n.digits, "4255550100");
    assert_int_equal(cr_number_parse("tel:+14255550100;ext=50100", &n), CR_OK);
    assert_string_equal(n.digits, "+14255550100");
    assert_string_equal(n.ext, "50100");
    assert_int_equal(cr_number_parse("sip:5550100;phone-context=Redmond.contoso.com@contoso.com;"
                                     "user=phone",
                                     &n),
                     CR_OK);
    assert_string_equal(n.digits, "5550100");
    assert_string_equal(n.context, "Redmond.contoso.com");
    assert_string_equal(n.host, "contoso.com");
}

static void test_malformed_numbers_are_errors_not_crashes(void **state)
{
    (void)state;
    cr_number n;
    assert_int_equal(cr_number_parse("", &n), CR_EINVAL);
    assert_int_equal(cr_number_parse("   ", &n), CR_EINVAL);
    assert_int_equal(cr_number_parse(NULL, &n), CR_EINVAL);
    assert_int_equal(cr_number_parse("abc", &n), CR_OK);
    assert_false(n.dialable);
    assert_int_equal(cr_number_parse("+", &n), CR_OK);
    assert_false(n.dialable);
    assert_int_equal(cr_number_parse("12+3", &n), CR_OK);
    assert_false(n.dialable);
    char longnum[400];
    memset(longnum, '5', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = 0;
    assert_int_equal(cr_number_parse(longnum, &n), CR_EINVAL);
}

/* A pattern that backtracks catastrophically stops at the PCRE2 match limit: the rule is
 * skipped (no match), the call goes on, and it does not hang. */
static void test_catastrophic_backtracking_is_bounded(void **state)
{
    (void)state;
    const char *in = "1111111111111111111111111111111111111111111111111111x";
    assert_null(apply("^(\\d+)+$", "+$1", in));
    assert_null(apply("^(1|11)*$", "+", "1111111111111111111111111111111111111111111111111112"));
}

static void test_result_too_long_is_refused(void **state)
{
    (void)state;
    char out[16];
    cr_diag d;
    cr_config *c = one_rule("^(\\d+)$", "$1$1$1$1", &d);
    const cr_rule *r = &cr_config_profile_at(c, 0)->rules[0];
    assert_int_equal(cr_rule_apply(r, "12345", out, sizeof out), CR_ERANGE);
    cr_config_free(c);
    cr_diag_free(&d);
}

/* The fast path of normalization (rules of the simple shape, applied without PCRE2) gives
 * what PCRE2 gives on every number of the alphabet; and the shapes it is meant for take it. */
static void test_simple_shape_agrees_with_pcre2(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        bool simple;
    } cases[] = {
        {"^1$", true},
        {"^(\\d+)$", true},
        {"^1(\\d{10})$", true},
        {"^\\+1(\\d{10})$", true},
        {"^011(\\d*)$", true},
        {"^\\*67(\\d+)$", true},
        {"^#(\\d)$", true},
        {"^1\\d{3,5}$", true},
        {"^4(.+)$", true},
        {"^5([0-3#*]{2})$", true},
        {"^6(\\d?)$", true},
        {"^7(\\d+?)$", true},
        {"^(?:8)(\\d+)$", true},
        {"^9[1-3]{2,}$", true},
        {"^1(\\d)+$", false},
        {"^(1)(\\d+)$", false},
        {"^(1\\d+)$", false},
        {"1(\\d+)$", false},
        {"^1(\\d+)", false},
        {"^1|2$", false},
        {"^1(?=2)(\\d+)$", false},
        {"^[^1](\\d+)$", false},
        {"^1(\\d){2}$", false},
        {"^1()$", false},
        {"^[2-9]\\d{6}$", false},
    };
    static const char alphabet[] = "0123456789+*#";
    uint32_t x = 2027;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        bool group = strchr(cases[k].pattern, '(') != NULL;
        cr_diag d;
        cr_config *c = one_rule(cases[k].pattern, group ? "+1$1" : "+1", &d);
        assert_non_null(c);
        const cr_rule *r = &cr_config_profile_at(c, 0)->rules[0];
        char in[24], fast[CR_NUMBER_MAX + 1], slow[CR_NUMBER_MAX + 1];
        bool took = false;
        for (int round = 0; round < 4000; round++) {
            size_t n = 1 + (size_t)(round % 16);
            for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                /* mostly digits, with the pattern's own literal characters often first */
                in[i] = alphabet[(x >> 16) % ((x >> 8) % 4 ? 10 : 13)];
            }
            in[n] = 0;
            if (round % 3 == 0) /* starts with what the pattern starts with */
                for (size_t i = 0, j = 1; i < n && cases[k].pattern[j]; j++) {
                    char ch = cases[k].pattern[j];
                    if (ch == '\\')
                        ch = cases[k].pattern[++j];
                    if (!strchr(alphabet, ch))
                        break;
                    in[i++] = ch;
                }
            int rf = ce_rule_apply_simple(r, in, n, fast, sizeof fast);
            if (rf < 0)
                continue;
            took = true;
            int rs = cr_rule_apply(r, in, slow, sizeof slow);
            if (rf != (rs > 0))
                print_error("pattern %s on %s: fast %d, PCRE2 %d\n", cases[k].pattern, in, rf, rs);
            assert_int_equal(rf, rs > 0);
            if (rf)
                assert_string_equal(fast, slow);
        }
        if (took != cases[k].simple)
            print_error("pattern %s: fast path %s\n", cases[k].pattern,
                        took ? "taken" : "not taken");
        assert_int_equal(took, cases[k].simple);
        cr_config_free(c);
        cr_diag_free(&d);
    }
}

/* Translations of every token kind on patterns of the simple shape, through the fast path
 * (a literal then a tail written as two copies where the tokens reduce to that, the general
 * emitter otherwise), against PCRE2: the same verdict, text and CR_ERANGE for every buffer
 * size; and with `sure` (the index decided the pattern matches), the same text. */
static void test_simple_translations_every_token_shape(void **state)
{
    (void)state;
    static const char *patterns[] = {"^8000(\\d{4})$", "^\\+1(\\d{3,10})$", "^(\\d*)$",
                                     "^12\\d{2}$", "^#([0-9*]{1,3})$"};
    static const char *translations[] = {
        "+1425200$1", "$1", "+$&", "$0", "$&$&", "$_", "x$`y", "$'z", "${1}+", "$+", "$$1", "",
        "+14255", "$1$1", "1$2", "a$1b", "$&9", "$`$'", "+1${1}", "$_$1", "$", "1$", "$9", "${x}1",
        "$$$&", "+1$+0",
        /* literals of 3 to 17 characters before the tail (the fast form's short copies) */
        "+14$&", "+1425$1", "+142555$1", "+142555123$1", "+14255512345$1", "+1425551234567$1",
        "+14255512345678$1", "+142555123456789$1", "+1425551234567890$1",
        "0123456789012345678901234567890123456789012345678901234567890123456789$&"};
    static const char alphabet[] = "0123456789+*#";
    uint32_t x = 17;
    for (size_t pi = 0; pi < sizeof patterns / sizeof *patterns; pi++)
        for (size_t ti = 0; ti < sizeof translations / sizeof *translations; ti++) {
            cr_diag d;
            cr_config *c = one_rule(patterns[pi], translations[ti], &d);
            assert_non_null(c);
            const cr_rule *r = &cr_config_profile_at(c, 0)->rules[0];
            char in[24], fast[CR_NUMBER_MAX + 1], slow[CR_NUMBER_MAX + 1], full[CR_NUMBER_MAX + 1];
            for (int round = 0; round < 600; round++) {
                size_t n = 1 + (size_t)(round % 14);
                for (size_t i = 0; i < n; i++) {
                    x = x * 1103515245u + 12345u;
                    in[i] = alphabet[(x >> 16) % ((x >> 8) % 4 ? 10 : 13)];
                }
                in[n] = 0;
                if (round % 2 == 0) /* the pattern's literal first */
                    for (size_t i = 0, j = 1; i < n && patterns[pi][j]; j++) {
                        char ch = patterns[pi][j];
                        if (ch == '\\')
                            ch = patterns[pi][++j];
                        if (!strchr(alphabet, ch))
                            break;
                        in[i++] = ch;
                    }
                /* every buffer size up to one past the longest result, then the full one */
                size_t cap = 1 + (size_t)(round % 90);
                if (cap > sizeof fast)
                    cap = sizeof fast;
                int rf = ce_rule_apply_simple(r, in, n, fast, cap);
                assert_true(rf != -1); /* every pattern here has the simple shape */
                int rs = cr_rule_apply(r, in, slow, cap);
                /* PCRE2's path also copies a number no rule matches: CR_ERANGE when it does
                 * not fit, where the fast path only says "no match" */
                bool matches = cr_rule_apply(r, in, full, sizeof full) == 1;
                if (!matches && rs == CR_ERANGE && n >= cap)
                    rs = 0;
                if (rf != rs)
                    print_error("%s / %s on %s (cap %zu): fast %d, PCRE2 %d\n", patterns[pi],
                                translations[ti], in, cap, rf, rs);
                assert_int_equal(rf, rs);
                if (rf == 1)
                    assert_string_equal(fast, slow);
                if (matches) { /* what the index tells when it decides the pattern */
                    size_t o = 0;
                    memset(fast, 'z', sizeof fast);
                    int rt = ce_xlat_apply_simple(r->xlat, in, n, true, fast, cap, &o);
                    assert_int_equal(rt, rs);
                    if (rt == 1) {
                        assert_string_equal(fast, full);
                        assert_int_equal(o, strlen(full));
                    }
                }
            }
            cr_config_free(c);
            cr_diag_free(&d);
        }
}

/* ce_number_parse of "+C (AAA) BBB-CCCC" (ce_parse_nanp): read in line (plain: decimal digits
 * after '+'), the digits parse_plain keeps. Every one-character change of it (each place given
 * each of a set of bytes, one dropped or one added) parses as the general parse reads it
 * (ce_number_parse_any, ce_parse_digits skipped). Fails when the formatted number leaves the
 * fast path, or the fast path takes a string parse_plain reads otherwise. */
static void check_parse_as_general(const char *in, bool want_plain)
{
    cr_number a, b;
    bool plain;
    memset(&a, 0x55, sizeof a);
    memset(&b, 0x55, sizeof b);
    int ra = ce_number_parse(in, &a, &plain);
    b.digits[0] = b.context[0] = b.ext[0] = b.host[0] = 0;
    b.ndigits = 0;
    b.is_sip = b.secure = b.dialable = false;
    b.invalid = NULL;
    int rb = ce_number_parse_any(in, &b, true);
    if (ra != rb || strcmp(a.digits, b.digits) != 0 || a.ndigits != b.ndigits ||
        a.dialable != b.dialable || a.is_sip != b.is_sip || strcmp(a.ext, b.ext) != 0 ||
        strcmp(a.context, b.context) != 0)
        fail_msg("'%s': parsed '%s' (%d), the general parse '%s' (%d)", in, a.digits, ra, b.digits,
                 rb);
    if (want_plain && !plain)
        fail_msg("'%s': not read in line", in);
}

static void test_formatted_number_in_line(void **state)
{
    (void)state;
    static const char *const good[] = {"+1 (425) 555-0100", "+4 (000) 999-9999",
                                       "+9 (214) 917-5412"};
    for (size_t g = 0; g < sizeof good / sizeof *good; g++) {
        cr_number num;
        bool plain = false;
        assert_int_equal(ce_number_parse(good[g], &num, &plain), CR_OK);
        assert_true(plain);
        char want[16] = {good[g][0],
                         good[g][1],
                         good[g][4],
                         good[g][5],
                         good[g][6],
                         good[g][9],
                         good[g][10],
                         good[g][11],
                         good[g][13],
                         good[g][14],
                         good[g][15],
                         good[g][16],
                         0};
        assert_string_equal(num.digits, want);
        assert_int_equal(num.ndigits, 12);
        assert_true(num.dialable);
        check_parse_as_general(good[g], true);
    }
    static const char odd[] = {'0', '9', '+', ' ', '(', ')', '-',    '.',    '/',    ':',
                               'a', '*', '#', ';', '<', '>', '\x7f', '\x80', '\xb0', '\xff'};
    const char *base = good[0];
    size_t n = strlen(base);
    char in[32];
    for (size_t at = 0; at < n; at++) {
        for (size_t k = 0; k < sizeof odd; k++) {
            memcpy(in, base, n + 1);
            in[at] = odd[k];
            check_parse_as_general(in, false);
        }
        memcpy(in, base, at); /* one dropped */
        memcpy(in + at, base + at + 1, n - at);
        check_parse_as_general(in, false);
        for (size_t k = 0; k < sizeof odd; k++) { /* one added */
            memcpy(in, base, at);
            in[at] = odd[k];
            memcpy(in + at + 1, base + at, n - at + 1);
            check_parse_as_general(in, false);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guide_table1_examples),
        cmocka_unit_test(test_formatted_number_in_line),
        cmocka_unit_test(test_simple_translations_every_token_shape),
        cmocka_unit_test(test_guide_ldcallingus_row_is_wrong),
        cmocka_unit_test(test_unmatched_number_continues_unchanged),
        cmocka_unit_test(test_dotnet_named_groups_numbered_after_unnamed),
        cmocka_unit_test(test_dotnet_pattern_backrefs_number_unnamed_first),
        cmocka_unit_test(test_dotnet_special_substitutions),
        cmocka_unit_test(test_dotnet_replaces_every_match),
        cmocka_unit_test(test_unset_optional_group_is_empty),
        cmocka_unit_test(test_translation_naming_missing_group_is_literal),
        cmocka_unit_test(test_too_long_result_fails_visibly),
        cmocka_unit_test(test_bad_pattern_reports_offset),
        cmocka_unit_test(test_visual_separators_removed),
        cmocka_unit_test(test_malformed_numbers_are_errors_not_crashes),
        cmocka_unit_test(test_catastrophic_backtracking_is_bounded),
        cmocka_unit_test(test_result_too_long_is_refused),
        cmocka_unit_test(test_simple_shape_agrees_with_pcre2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

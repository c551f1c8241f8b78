/* "pattern\ntranslation\nnumber": compile a rule and apply it with .NET semantics; where the
 * rule takes normalization's fast path (no PCRE2), it must give what PCRE2 gives (abort
 * otherwise). White-box: model.h's ce_rule_apply_simple. The pattern's analysis through the
 * memo of literal runs' shapes (one analyser kept across inputs) must equal its whole
 * analysis, and the same with the pattern's run of literals changed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_engine.h"
#include "model.h"
#include "pattern_ast.h"

/* The fast path against PCRE2 on a number of the alphabet. */
static void differential(const cr_rule *r, const char *n)
{
    size_t len = strlen(n);
    if (!len || len > CR_NUMBER_MAX || strspn(n, "0123456789+*#") != len)
        return;
    char fast[CR_NUMBER_MAX + 1], slow[CR_NUMBER_MAX + 1];
    int rf = ce_rule_apply_simple(r, n, len, fast, sizeof fast);
    if (rf == -1)
        return; /* not of the simple shape */
    int rs = cr_rule_apply(r, n, slow, sizeof slow);
    bool same = rf < 0 ? rs == rf : rf == (rs > 0) && (!rf || strcmp(fast, slow) == 0);
    if (!same) {
        fprintf(stderr, "fast path %d '%s', PCRE2 %d '%s' on %s\n", rf, rf > 0 ? fast : "", rs,
                rs > 0 ? slow : "", n);
        abort();
    }
}

static bool same_info(const cr_pattern_info *a, const cr_pattern_info *b)
{
    if (a->kind != b->kind || a->strict != b->strict || a->minlen != b->minlen ||
        a->maxlen != b->maxlen || a->nprefixes != b->nprefixes)
        return false;
    for (size_t k = 0; k < a->nprefixes; k++)
        if (a->plen[k] != b->plen[k] || a->tail[k] != b->tail[k] ||
            strcmp(a->prefixes[k], b->prefixes[k]) != 0 ||
            ((a->tail[k] & CR_PX_EXACT) && (a->tmin[k] != b->tmin[k] || a->tmax[k] != b->tmax[k])))
            return false;
    return true;
}

/* The memo's analysis of pattern against the whole analysis (abort when they differ). */
static void memo_differential(const char *pattern)
{
    static cr_pattern_analyser *memo, *whole;
    static cr_pattern_info a, b;
    if (!memo)
        memo = ce_pattern_analyser_new();
    if (!whole)
        whole = ce_pattern_analyser_new();
    if (!memo || !whole)
        return;
    ce_pattern_analyse_with(memo, pattern, &a);
    ce_pattern_analyse_whole(whole, pattern, &b);
    if (!same_info(&a, &b)) {
        fprintf(stderr, "memo and whole analysis differ on '%s'\n", pattern);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    char *t = strchr(s, '\n');
    char *n = t ? strchr(t + 1, '\n') : NULL;
    if (!t || !n) {
        free(s);
        return 0;
    }
    *t++ = 0;
    *n++ = 0;
    memo_differential(s);
    /* the same shape with other digits: a hit in the memo */
    for (char *q = s + (s[0] == '^'); *q >= '0' && *q <= '9'; q++)
        *q = (char)('0' + (*q - '0' + 7) % 10);
    memo_differential(s);
    for (char *q = s + (s[0] == '^'); *q >= '0' && *q <= '9'; q++)
        *q = (char)('0' + (*q - '0' + 3) % 10);
    cr_srcloc loc = {"fuzz", 1};
    cr_config *c = cr_config_new();
    cr_profile *p = cr_config_add_profile(c, "P", loc);
    cr_rule *r = cr_profile_add_rule(c, p, "R", loc);
    r->pattern = cr_config_strdup(c, s);
    r->translation = cr_config_strdup(c, t);
    r->internal_extension = true;
    cr_diag d;
    cr_diag_init(&d);
    if (cr_config_compile(c, &d) == CR_OK) {
        char out[CR_NUMBER_MAX + 1];
        const cr_rule *rule;
        cr_profile_normalize(cr_config_profile_at(c, 0), n, out, sizeof out, &rule, NULL);
        cr_profile_dial(cr_config_profile_at(c, 0), n, &rule, out, sizeof out, NULL);
        differential(&cr_config_profile_at(c, 0)->rules[0], n);
    }
    cr_diag_free(&d);
    cr_config_free(c);
    free(s);
    return 0;
}

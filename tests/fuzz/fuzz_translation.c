/* "pattern\ntranslation\nnumber": compile a rule and apply it with .NET semantics; where the
 * rule takes normalization's fast path (no PCRE2), it must give what PCRE2 gives (abort
 * otherwise). White-box: model.h's ce_rule_apply_simple. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_engine.h"
#include "model.h"

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

/* "pattern\ntranslation\nnumber": compile a rule and apply it with .NET semantics. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cr_engine.h"

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
    }
    cr_diag_free(&d);
    cr_config_free(c);
    free(s);
    return 0;
}

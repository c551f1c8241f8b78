/*
 * Normalization with a location profile (the first matching rule, through the rule index)
 * and off-hook device dialing (cr_profile_dial).
 */
#include "model.h"
#include "route_index.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cr_profile_normalize(const cr_profile *p, const char *digits, char *out, size_t outlen,
                         const cr_rule **rule, cr_trace *trace)
{
    size_t outn;
    return ce_profile_normalize_n(p, digits, strlen(digits), false, out, outlen, &outn, rule,
                                  trace);
}

int ce_profile_normalize_n(const cr_profile *p, const char *digits, size_t n, bool plain, char *out,
                           size_t outlen, size_t *outn, const cr_rule **rule, cr_trace *trace)
{
    return ce_normalize_in_line(p, digits, n, plain, out, outlen, outn, rule, trace);
}

/* ---- device dialing ------------------------------------------------------------------------ */

cr_dial_answer cr_profile_dial(const cr_profile *p, const char *digits, const cr_rule **rule,
                               char *normalized, size_t len, cr_trace *trace)
{
    *rule = NULL;
    if (normalized && len)
        normalized[0] = 0;
    if (!p || !digits)
        return CR_DIAL_NO_MATCH_;
    const char *d = digits;
    bool external = false;
    const char *pre = p->external_access_prefix;
    if (pre && *pre && strncmp(d, pre, strlen(pre)) == 0) {
        d += strlen(pre);
        external = true;
        if (trace)
            cr_trace_add(trace,
                         "external access prefix '%s' dropped; internal-extension rules skipped",
                         pre);
    }
    size_t n = strlen(d);
    bool more = false;
    /* An external prefix alone, or the start of a longer one ("*8" of "*81"): more digits
     * must follow (prefixes of up to four characters, guide 9132). */
    if (external && n == 0)
        more = true;
    if (!external && pre && n && n < strlen(pre) && strncmp(pre, d, n) == 0) {
        more = true;
        if (trace)
            cr_trace_add(trace, "%s can still become the external access prefix '%s'", d, pre);
    }
    for (size_t i = 0; i < p->nrules && n; i++) {
        const cr_rule *r = &p->rules[i];
        if (r->do_not_dial_from_device || (external && r->internal_extension))
            continue;
        int rc = ce_re_exec(ce_rule_re(r), d, n, 0, 0, NULL);
        if (rc == CR_ENOMEM)
            return CR_DIAL_ERROR_;
        if (rc > 0) {
            *rule = r;
            if (normalized && cr_rule_apply(r, d, normalized, len) < 0 && len)
                normalized[0] = 0;
            if (trace)
                cr_trace_add(trace, "rule '%s' matches %s: complete", r->name, d);
            return CR_DIAL_COMPLETE_;
        }
    }
    for (size_t i = 0; i < p->nrules && n && !more; i++) {
        const cr_rule *r = &p->rules[i];
        if (r->do_not_dial_from_device || (external && r->internal_extension))
            continue;
        int rc = ce_re_exec(ce_rule_re(r), d, n, 0, CR_RE_PARTIAL, NULL);
        if (rc == CR_ENOMEM)
            return CR_DIAL_ERROR_;
        if (rc == CR_RE_PARTIAL_MATCH) {
            more = true;
            if (trace)
                cr_trace_add(trace, "rule '%s' can still match with more digits", r->name);
        }
    }
    if (trace && !more)
        cr_trace_add(trace, "no device rule can match %s", d);
    return more ? CR_DIAL_NEED_MORE_ : CR_DIAL_NO_MATCH_;
}

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
    *rule = NULL;
    /* Candidate rules only, in order (rule_index.c): the first match is the same. */
    cr_rule_iter it;
    ce_rule_index_begin(p, digits, n, plain, &it);
    /* the index walked the number: it is made of the alphabet and not too long, which is
     * what rules of the simple shape need to be decided without PCRE2 (and a rule the index
     * decided, it.px.match, is not checked again) */
    for (size_t i; (i = ce_rule_index_next(&it)) != SIZE_MAX;) {
        const cr_rule *r = &p->rules[i]; /* its record is read only when not of the simple shape */
        int rc = it.indexed && n
                     ? ce_xlat_apply_simple(it.xlat[i], digits, n, it.px.match, out, outlen, outn)
                     : -1;
        if (rc == -1 && (rc = cr_rule_apply(r, digits, out, outlen)) == 1)
            *outn = strlen(out);
        if (rc == 1) {
            *rule = r;
            if (trace)
                cr_trace_add(trace, "rule '%s' (%s) matched: %s -> %s", r->name, r->pattern, digits,
                             out);
            return CR_OK;
        }
        if (rc == CR_ERANGE) {
            /* the number matched this rule: routing it raw (or by a later rule) would be a
             * different call than the admin configured; the decision fails visibly */
            *rule = r;
            if (trace)
                cr_trace_add(trace,
                             "rule '%s' matched %s but its result is longer than %d characters: "
                             "the number cannot be normalized",
                             r->name, digits, CR_NUMBER_MAX);
            return CR_ERANGE;
        } else if (rc == CR_ENOMEM) {
            /* the rule's translation could not be compiled on first use (a trusted read of an
             * image, ce_xlat_lazy): skipping it could route the call as a later rule says */
            *rule = r;
            if (trace)
                cr_trace_add(trace, "rule '%s' could not be compiled on its first use", r->name);
            return CR_ENOMEM;
        } else if (rc == CR_ELIMIT) {
            if (trace)
                cr_trace_add(trace, "rule '%s' hit the PCRE2 match limit: skipped", r->name);
        } else if (trace) {
            cr_trace_add(trace, "rule '%s' (%s) does not match", r->name, r->pattern);
        }
    }
    if (n >= outlen)
        return CR_ERANGE;
    memcpy(out, digits, n + 1);
    *outn = n;
    if (trace)
        cr_trace_add(trace, "no rule of profile '%s' matches: %s continues unchanged",
                     p ? p->name : "(none)", digits);
    return CR_OK;
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

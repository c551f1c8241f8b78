/*
 * Lint: findings that do not stop a configuration from loading but that an admin wants to
 * know about. A rule that an earlier rule of the same profile always shadows is found by
 * sampling: numbers are generated from the later rule's pattern, read by the same parser as
 * the indexes (pattern.c; patterns with lookarounds are not sampled), and if every sample
 * the later rule matches is matched by one earlier rule, that rule wins first every time.
 */
#include "cr_ringplan.h"
#include "model.h"
#include "route_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Generates up to `want` numbers that `pattern` (compiled: re) matches; returns how many (0
 * when the pattern is outside what pattern.c models exactly). With `distinct`, no number twice. */
static size_t sample_pattern(const char *pattern, const void *re, char (*out)[CR_NUMBER_MAX + 1],
                             size_t want, uint32_t seed, bool distinct)
{
    cr_pattern_sampler *s = re ? ce_pattern_sampler_new(pattern) : NULL;
    if (!s)
        return 0;
    size_t got = 0;
    uint32_t rng = seed ? seed : 0x9e3779b9u;
    for (size_t attempt = 0; attempt < want * 4 && got < want; attempt++) {
        size_t n;
        if (!ce_pattern_sample(s, &rng, out[got], CR_NUMBER_MAX + 1) || !(n = strlen(out[got])) ||
            ce_re_exec(re, out[got], n, 0, 0, NULL) <= 0)
            continue;
        bool seen = false;
        for (size_t k = 0; distinct && k < got && !seen; k++)
            seen = strcmp(out[k], out[got]) == 0;
        got += !seen;
    }
    ce_pattern_sampler_free(s);
    return got;
}

static size_t sample_rule(const cr_rule *r, char (*out)[CR_NUMBER_MAX + 1], size_t want,
                          uint32_t seed)
{
    return sample_pattern(r->pattern, ce_rule_re(r), out, want, seed, false);
}

void cr_config_sample_numbers(const cr_config *c, size_t per, uint32_t seed, cr_sample_fn emit,
                              void *ud)
{
    enum { MAX = 64 };
    char out[MAX][CR_NUMBER_MAX + 1];
    char name[600];
    per = per > MAX ? MAX : per;
    uint32_t k = 0;
    for (size_t i = 0; i < c->nprofiles; i++)
        for (size_t j = 0; j < c->profiles[i].nrules; j++) {
            const cr_rule *r = &c->profiles[i].rules[j];
            size_t n = sample_pattern(r->pattern, ce_rule_re(r), out, per,
                                      seed ^ (++k * 2654435761u), true);
            snprintf(name, sizeof name, "%s/%s", c->profiles[i].name, r->name);
            for (size_t m = 0; m < n; m++)
                emit(ud, out[m], "rule", name);
        }
    for (size_t i = 0; i < c->nroutes; i++) {
        const cr_route *r = &c->routes[i];
        size_t n =
            sample_pattern(r->pattern, ce_route_re(r), out, per, seed ^ (++k * 2654435761u), true);
        for (size_t m = 0; m < n; m++)
            emit(ud, out[m], "route", r->name);
    }
}

static void lint_shadowed(const cr_profile *p, cr_diag *d)
{
    enum { WANT = 48 };
    static __thread char samples[WANT][CR_NUMBER_MAX + 1];
    for (size_t j = 1; j < p->nrules; j++) {
        const cr_rule *rj = &p->rules[j];
        size_t n = sample_rule(rj, samples, WANT, (uint32_t)(j * 2654435761u));
        if (n < WANT / 3)
            continue;
        for (size_t i = 0; i < j; i++) {
            const cr_rule *ri = &p->rules[i];
            size_t k = 0;
            while (k < n &&
                   ce_re_exec(ce_rule_re(ri), samples[k], strlen(samples[k]), 0, 0, NULL) > 0)
                k++;
            if (k == n || strcmp(ri->pattern, rj->pattern) == 0) {
                char obj[600];
                snprintf(obj, sizeof obj, "rule '%s' of location profile '%s'", rj->name, p->name);
                cr_diag_add(d, CR_DIAG_WARNING, rj->loc, obj,
                            "never used: earlier rule '%s' (%s) matches every number it matches "
                            "(%zu sampled, e.g. %s)",
                            ri->name, ri->pattern, n, samples[0]);
                break;
            }
        }
    }
}

/* Whether a call-management target can be rung: "voicemail", a SIP URI or a phone number
 * (what the ringing plan's resolve takes; anything else is skipped there at every call). */
static bool target_ok(const char *t)
{
    char key[CR_URI_MAX];
    cr_number num;
    return strcasecmp(t, "voicemail") == 0 || cr_uri_key(t, key, sizeof key) ||
           (cr_number_parse(t, &num) == CR_OK && num.dialable);
}

/* A user's call-management targets that no call can ring (each skipped at every call). */
static void lint_targets(const cr_user *u, const char *obj, cr_diag *d)
{
    const char *const what[3] = {"<simultaneousRing target>", "<forwarding immediate>",
                                 "<forwarding noAnswerTarget>"};
    const char *const target[3] = {u->simultaneous_ring, u->forwarding.immediate,
                                   u->forwarding.no_answer_target};
    for (int k = 0; k < 3; k++)
        if (target[k] && !target_ok(target[k]))
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "%s '%.100s' is not a phone number, a SIP URI or voicemail: it is "
                        "skipped at every call",
                        what[k], target[k]);
    const cr_namelist *lists[2] = {&u->team_call, &u->delegates};
    static const char *const list_what[2] = {"team-call member", "delegate"};
    for (int l = 0; l < 2; l++)
        for (size_t k = 0; k < lists[l]->count; k++)
            if (!target_ok(lists[l]->names[k])) /* resolved as the targets above */
                cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                            "%s '%.100s' is not a phone number, a SIP URI or voicemail: it is "
                            "skipped at every call",
                            list_what[l], lists[l]->names[k]);
    char key[CR_URI_MAX];
    if (u->voicemail && !cr_uri_key(u->voicemail, key, sizeof key))
        cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                    "voicemail '%.100s' is not a SIP URI: calls forwarded to voicemail are "
                    "skipped",
                    u->voicemail);
}

/* A team call whose delay is not before the user's no-answer step never rings the team (the
 * ringing plan skips it at every call: guide, Team Call "ring him or her first and then the
 * group after a specified interval"). The no-answer step is the one the plan builds: none for
 * a PBX-integrated user, none to voicemail without a voicemail URI. */
static void lint_team_delay(const cr_user *u, const char *obj, cr_diag *d)
{
    const cr_forwarding *f = &u->forwarding;
    if (!u->team_call.count || !u->enterprise_voice || u->pbx_integration)
        return;
    bool vm = !f->no_answer_target || strcasecmp(f->no_answer_target, "voicemail") == 0;
    if (vm && !u->voicemail)
        return;
    int after = f->no_answer_after > 0 ? f->no_answer_after : CR_NO_ANSWER_DEFAULT_S;
    int delay = u->team_call_delay > 0 ? u->team_call_delay : 0;
    if (delay >= after)
        cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                    "team-call delay (%d s) is not before the no-answer step (%d s): the team "
                    "is never rung",
                    delay, after);
}

/* Who may take part (guide: team call and simultaneous ring need Enterprise Voice, for the
 * owner and for team-call members who are users) and a PBX-integrated user's line. */
static void lint_people(const cr_config *c, cr_diag *d)
{
    char obj[CR_URI_MAX + 16];
    for (size_t i = 0; i < c->nusers; i++) {
        const cr_user *u = ce_user(c, i);
        snprintf(obj, sizeof obj, "user '%s'", u->uri);
        lint_targets(u, obj, d);
        if (!u->enterprise_voice && u->team_call.count)
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "not enabled for Enterprise Voice: its team call is skipped");
        if (!u->enterprise_voice && u->simultaneous_ring)
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "not enabled for Enterprise Voice: its simultaneous ring is skipped");
        else if (u->pbx_integration && u->simultaneous_ring)
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "enabled for PBX integration: its simultaneous ring is skipped (not "
                        "available with PBX integration)");
        lint_team_delay(u, obj, d);
        if (u->pbx_integration && (u->forwarding.no_answer_target || u->forwarding.no_answer_after))
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "enabled for PBX integration: its no-answer forwarding is skipped (the "
                        "PBX answers unanswered calls)");
        if (u->pbx_integration && (!u->enterprise_voice || !u->line))
            cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                        "pbxIntegration needs Enterprise Voice and a line: no PBX fork");
        for (size_t k = 0; k < u->team_call.count; k++) {
            const cr_user *m = cr_config_user_find(c, u->team_call.names[k]);
            if (m && !m->enterprise_voice)
                cr_diag_add(d, CR_DIAG_WARNING, u->loc, obj,
                            "team-call member '%s' (%s:%d) is not enabled for Enterprise Voice: "
                            "it is skipped",
                            m->uri, m->loc.file ? m->loc.file : "", m->loc.line);
        }
    }
}

/* Profiles whose names differ only in case: a phone-context names profiles in any case
 * (FQDNs), so one in the exact case of either picks it, and one in a third case the first. */
static void lint_profile_case(const cr_config *c, cr_diag *d)
{
    char obj[300];
    for (size_t j = 0; j < c->nprofiles; j++) {
        const cr_profile *p = &c->profiles[j];
        uint32_t v = ce_index_get(&c->profile_fold_ix, p->name, strlen(p->name));
        if (v == CR_INDEX_NONE || v == j)
            continue;
        const cr_profile *first = &c->profiles[v];
        snprintf(obj, sizeof obj, "location profile '%.250s'", p->name);
        cr_diag_add(d, CR_DIAG_WARNING, p->loc, obj,
                    "name differs only in case from location profile '%s' (%s:%d): a "
                    "phone-context in another case than either names '%s'",
                    first->name, first->loc.file ? first->loc.file : "", first->loc.line,
                    first->name);
    }
}

void ce_lint_rules(const cr_config *c, cr_diag *d)
{
    for (size_t i = 0; i < c->nprofiles; i++)
        lint_shadowed(&c->profiles[i], d);
}

void ce_lint(const cr_config *c, cr_diag *d)
{
    ce_lint_with(c, d, NULL);
}

void ce_lint_with(const cr_config *c, cr_diag *d, const cr_diag *rules)
{
    if (c->ndomains == 0) {
        cr_srcloc loc = c->nprofiles ? c->profiles[0].loc
                        : c->nusers  ? ce_user(c, 0)->loc
                        : c->nroutes ? ce_route(c, 0)->loc
                                     : (cr_srcloc){c->ninterned ? c->interned[0] : "", 0};
        cr_diag_add(d, CR_DIAG_WARNING, loc, "domains",
                    "no <domains>: no call addressed to a SIP URI of this deployment can route");
    }
    lint_people(c, d);
    lint_profile_case(c, d);
    char obj[300];
    if (!rules)
        ce_lint_rules(c, d);
    for (size_t i = 0; rules && i < rules->count; i++) {
        const cr_diag_item *it = &rules->items[i];
        cr_diag_add(d, it->level, (cr_srcloc){it->file, it->line}, it->object, "%s", it->message);
    }
    if (!c->default_profile_name && c->nprofiles > 1)
        cr_diag_add(d, CR_DIAG_WARNING, c->profiles[0].loc, "locationProfiles",
                    "no default location profile named; '%s' (the first) is used",
                    c->profiles[0].name);
    if (!c->default_policy_name && c->npolicies > 1)
        cr_diag_add(d, CR_DIAG_WARNING, c->policies[0].loc, "voicePolicies",
                    "no default voice policy named; '%s' (the first) is used", c->policies[0].name);

    bool *in_policy = calloc(c->nusages + 1, sizeof *in_policy);
    bool *in_route = calloc(c->nusages + 1, sizeof *in_route);
    bool *gw_used = calloc(c->ngateways + 1, sizeof *gw_used);
    if (!in_policy || !in_route || !gw_used)
        goto out;
    for (size_t i = 0; i < c->npolicies; i++)
        for (size_t k = 0; k < c->policies[i].usages.count; k++)
            in_policy[c->policies[i].usages.idx[k]] = true;
    for (size_t i = 0; i < c->nroutes; i++) {
        const cr_route *r = ce_route(c, i);
        bool reachable = false;
        for (size_t k = 0; k < r->usages.count; k++) {
            in_route[r->usages.idx[k]] = true;
            reachable |= in_policy[r->usages.idx[k]];
        }
        for (size_t k = 0; k < r->gateways.count; k++)
            gw_used[r->gateways.idx[k]] = true;
        if (!reachable)
            cr_diag_add(d, CR_DIAG_WARNING, r->loc,
                        (snprintf(obj, sizeof obj, "route '%s'", r->name), obj),
                        r->usages.count ? "unreachable: no voice policy has any of its phone usages"
                                        : "unreachable: it has no phone usage");
    }
    for (size_t u = 0; u < c->nusages; u++) {
        snprintf(obj, sizeof obj, "phone usage '%s'", c->usages[u].name);
        if (!in_policy[u] && !in_route[u])
            cr_diag_add(d, CR_DIAG_WARNING, c->usages[u].loc, obj,
                        "unused: no voice policy and no route has it");
        else if (in_policy[u] && !in_route[u])
            cr_diag_add(d, CR_DIAG_WARNING, c->usages[u].loc, obj,
                        "no route has it: it authorizes no call");
    }
    for (size_t g = 0; g < c->ngateways; g++)
        if (!gw_used[g]) {
            snprintf(obj, sizeof obj, "gateway '%s'", c->gateways[g].name);
            cr_diag_add(d, CR_DIAG_WARNING, c->gateways[g].loc, obj, "unused: no route has it");
        }
out:
    free(in_policy);
    free(in_route);
    free(gw_used);
}

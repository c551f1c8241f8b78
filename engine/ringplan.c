/*
 * The ringing plan of a call to a user (SPEC §3): who rings, from when, and what happens
 * when nobody answers. See cr_ringplan.h for the shape; the decisions an admin would ask
 * about are written next to the code that makes them.
 */
#include "cr_ringplan.h"
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *cr_branch_kind_name(cr_branch_kind k)
{
    switch (k) {
    case CR_BRANCH_ENDPOINTS:
        return "endpoints";
    case CR_BRANCH_DELEGATES:
        return "delegates";
    case CR_BRANCH_SIMULTANEOUS_RING:
        return "simultaneous_ring";
    case CR_BRANCH_TEAM_CALL:
        return "team_call";
    case CR_BRANCH_FORWARD:
        return "forward";
    case CR_BRANCH_PBX:
        return "pbx";
    }
    return "?";
}

const char *cr_target_kind_name(cr_target_kind k)
{
    switch (k) {
    case CR_TARGET_SIP:
        return "sip";
    case CR_TARGET_USER:
        return "user";
    case CR_TARGET_ENDPOINT:
        return "endpoint";
    case CR_TARGET_PSTN:
        return "pstn";
    case CR_TARGET_VOICEMAIL:
        return "voicemail";
    }
    return "?";
}

const char *cr_notice_kind_name(cr_notice_kind k)
{
    return k == CR_NOTICE_DELEGATE_ANSWERED ? "delegate_answered" : "team_call";
}

typedef struct planner {
    const cr_config *cfg;
    const cr_runtime *rt;
    cr_plan *plan;
    cr_trace *trace;
    char callee_key[CR_URI_MAX];
    char caller_key[CR_URI_MAX];                   /* "" when the caller is not a SIP URI */
    char why[sizeof(((cr_plan_skip *)0)->reason)]; /* the last note() */
} planner;

/* Says why something is left out: into the trace, and kept for skip(). */
static void note(planner *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(planner *P, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->why, sizeof P->why, fmt, ap);
    va_end(ap);
    cr_trace_add(P->trace, "%s", P->why);
}

/* Records that a feature the user configured is not in the plan, with the last note. */
static void skip(planner *P, const char *feature)
{
    cr_plan *p = P->plan;
    if (p->nskipped == CR_PLAN_MAX_SKIPPED)
        return;
    cr_plan_skip *k = &p->skipped[p->nskipped++];
    k->feature = feature;
    snprintf(k->reason, sizeof k->reason, "%s", P->why);
}

/* The policy switch as it applies: no policy at all forbids nothing. */
#define ALLOWED(P, field) (!(P)->plan->policy || (P)->plan->policy->field)

static bool same_uri(const char *key, const char *uri)
{
    char k[CR_URI_MAX];
    return key[0] && cr_uri_key(uri, k, sizeof k) && strcmp(k, key) == 0;
}

/* True when a branch already rings `t` (the first branch to name a target keeps it).
 * Registered contacts compare exactly (two phones may share a host); users, URIs and
 * numbers compare by their lookup key. */
static bool already_rings(const cr_plan *p, const cr_plan_target *t)
{
    char key[CR_URI_MAX];
    bool sip = t->kind != CR_TARGET_ENDPOINT && cr_uri_key(t->uri, key, sizeof key) != 0;
    for (size_t b = 0; b < p->nbranches; b++)
        for (size_t i = 0; i < p->branches[b].ntargets; i++) {
            const cr_plan_target *o = &p->branches[b].targets[i];
            bool by_key = sip && o->kind != CR_TARGET_ENDPOINT;
            if (by_key ? same_uri(key, o->uri) : strcmp(o->uri, t->uri) == 0)
                return true;
        }
    return false;
}

/* A PSTN leg for `normalized`, routed with the callee's policy. NULL (with the reason in the
 * trace) when the callee may not call it. */
static const cr_plan_leg *pstn_leg(planner *P, const char *dialed, const char *normalized,
                                   const cr_profile *profile, const cr_rule *rule, const char *what)
{
    cr_plan *p = P->plan;
    if (!p->callee->enterprise_voice) {
        note(P, "%s %s: skipped, '%s' is not enabled for Enterprise Voice", what, normalized,
             p->callee->uri);
        return NULL;
    }
    if (!p->policy) {
        note(P, "%s %s: skipped, '%s' has no usable voice policy", what, normalized,
             p->callee->uri);
        return NULL;
    }
    if (p->nlegs == CR_PLAN_MAX_LEGS) {
        note(P, "%s %s: skipped, %d PSTN legs per plan at most", what, normalized,
             CR_PLAN_MAX_LEGS);
        return NULL;
    }
    cr_plan_leg *leg = &p->legs[p->nlegs];
    memset(leg, 0, sizeof *leg);
    leg->dialed = dialed;
    snprintf(leg->tel, sizeof leg->tel, "tel:%s", normalized);
    cr_decision *d = &leg->route;
    d->caller = p->callee;
    d->profile = profile;
    d->rule = rule;
    snprintf(d->normalized, sizeof d->normalized, "%s", normalized);
    cr_trace_add(P->trace, "%s %s: routed with voice policy '%s'", what, normalized,
                 p->policy->name);
    cr_route_attempts(P->cfg, p->policy, normalized, P->rt, d, P->trace);
    if (d->nattempts == 0) {
        d->kind = CR_BLOCKED;
        snprintf(d->text, sizeof d->text, "no route of voice policy '%.80s' matches %s",
                 p->policy->name, normalized);
        d->reason_code = CR_REASON_TEXT;
        note(P, "%s %s: skipped, %s under voice policy '%s'", what, normalized,
             d->routes_matched ? "every gateway of its routes is down" : "no route matches it",
             p->policy->name);
        return NULL;
    }
    d->kind = CR_OUTBOUND;
    d->reason_code = CR_REASON_ROUTE; /* "route '%s', usage '%s'" (cr_decision_reason) */
    p->nlegs++;
    return leg;
}

/*
 * Resolves a configured target (a number, a SIP URI or "voicemail") into *t. Numbers are
 * normalized with the callee's profile; a number or URI that is a user rings that user
 * (its own call management is not expanded: one level, so forwarding cannot loop); the
 * callee itself is refused. Returns false, with the reason in the trace, when the target
 * cannot be used.
 */
static bool resolve(planner *P, const char *target, const char *what, cr_plan_target *t)
{
    cr_plan *p = P->plan;
    memset(t, 0, sizeof *t);
    if (strcasecmp(target, "voicemail") == 0) {
        if (!p->callee->voicemail) {
            note(P, "%s voicemail: skipped, '%s' has no voicemail URI", what, p->callee->uri);
            return false;
        }
        t->kind = CR_TARGET_VOICEMAIL;
        t->uri = p->callee->voicemail;
        return true;
    }
    char key[CR_URI_MAX];
    if (cr_uri_key(target, key, sizeof key)) {
        if (strcmp(key, P->callee_key) == 0) {
            note(P, "%s %s: skipped, that is the callee itself", what, target);
            return false;
        }
        const cr_user *u = cr_user_find(P->cfg, P->rt, target);
        const cr_workflow *w = u ? NULL : cr_config_workflow_find(P->cfg, target);
        t->kind = u ? CR_TARGET_USER : CR_TARGET_SIP;
        t->uri = u ? u->uri : w ? w->uri : target;
        t->workflow = w;
        if (w)
            cr_trace_add(P->trace, "%s %s: workflow '%s'", what, target, w->name);
        return true;
    }
    cr_number num;
    if (cr_number_parse(target, &num) != CR_OK || !num.dialable) {
        note(P, "%s '%.100s': skipped, not a number, SIP URI or voicemail", what, target);
        return false;
    }
    char norm[CR_NUMBER_MAX + 1];
    const cr_rule *rule = NULL;
    if (!p->profile) {
        snprintf(norm, sizeof norm, "%s", num.digits);
    } else if (cr_profile_normalize(p->profile, num.digits, norm, sizeof norm, &rule, P->trace) !=
               CR_OK) {
        note(P, "%s %s: skipped, normalized number too long", what, num.digits);
        return false;
    }
    if (!norm[0] || (norm[0] == '+' && !norm[1])) {
        note(P, "%s %s: skipped, rule '%s' translates it to %s", what, num.digits,
             rule ? rule->name : "", norm[0] ? "'+' and no digit" : "an empty number");
        return false;
    }
    const cr_user *u = cr_user_by_number(P->cfg, P->rt, norm, num.ext);
    if (u) {
        if (same_uri(P->callee_key, u->uri)) {
            note(P, "%s %s: skipped, that is the callee's own line", what, norm);
            return false;
        }
        cr_trace_add(P->trace, "%s %s: the line of user '%s'", what, norm, u->uri);
        t->kind = CR_TARGET_USER;
        t->uri = u->uri;
        return true;
    }
    const cr_workflow *w = cr_config_workflow_by_number(P->cfg, norm, num.ext);
    if (w) { /* a response group's line: its contact URI, not a hairpin through a gateway */
        cr_trace_add(P->trace, "%s %s: the line of workflow '%s' (%s)", what, norm, w->name,
                     w->uri);
        t->kind = CR_TARGET_SIP;
        t->uri = w->uri;
        t->workflow = w;
        return true;
    }
    const cr_plan_leg *leg = pstn_leg(P, target, norm, p->profile, rule, what);
    if (!leg)
        return false;
    t->kind = CR_TARGET_PSTN;
    t->uri = leg->tel;
    t->leg = leg;
    return true;
}

static cr_plan_branch *new_branch(planner *P, cr_branch_kind kind, int at)
{
    cr_plan *p = P->plan;
    if (p->nbranches == CR_PLAN_MAX_BRANCHES)
        return NULL;
    cr_plan_branch *b = &p->branches[p->nbranches];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->at = at;
    return b;
}

/* Adds a target to the branch being built unless a branch already rings it. */
static void add_target(planner *P, cr_plan_branch *b, const cr_plan_target *t)
{
    if (already_rings(P->plan, t)) {
        cr_trace_add(P->trace, "  %s already rings earlier in the plan: not repeated", t->uri);
        return;
    }
    for (size_t i = 0; i < b->ntargets; i++)
        if (strcmp(b->targets[i].uri, t->uri) == 0)
            return;
    if (b->ntargets == CR_PLAN_MAX_TARGETS) {
        cr_trace_add(P->trace, "  %s not rung: %d targets per branch at most", t->uri,
                     CR_PLAN_MAX_TARGETS);
        return;
    }
    b->targets[b->ntargets++] = *t;
}

/* Keeps the branch when it got targets. */
static const cr_plan_branch *commit_branch(planner *P, cr_plan_branch *b)
{
    if (!b || !b->ntargets)
        return NULL;
    cr_trace_add(P->trace, "branch %s at %d s: %zu target%s", cr_branch_kind_name(b->kind), b->at,
                 b->ntargets, b->ntargets == 1 ? "" : "s");
    P->plan->nbranches++;
    return b;
}

/* Members of a list of users (delegates, team): never the callee, never the caller. */
static void add_people(planner *P, cr_plan_branch *b, const cr_namelist *l, const char *what)
{
    for (size_t i = 0; i < l->count; i++) {
        const char *m = l->names[i];
        if (same_uri(P->caller_key, m)) {
            cr_trace_add(P->trace, "%s %s: not rung, the caller", what, m);
            continue;
        }
        cr_plan_target t;
        if (!resolve(P, m, what, &t))
            continue;
        if (b->kind == CR_BRANCH_TEAM_CALL && t.kind == CR_TARGET_USER) {
            const cr_user *mu = cr_user_find(P->cfg, P->rt, t.uri);
            if (mu && !mu->enterprise_voice) { /* guide: team-call members need EV */
                cr_trace_add(P->trace, "%s %s: skipped, not enabled for Enterprise Voice", what,
                             t.uri);
                continue;
            }
        }
        add_target(P, b, &t);
    }
}

static void add_notice(cr_plan *p, cr_notice_kind kind, const cr_plan_branch *b)
{
    if (b && p->nnotices < CR_PLAN_MAX_NOTICES)
        p->notices[p->nnotices++] = (cr_plan_notice){kind, p->callee->uri, b};
}

/* Immediate forwarding: true when it replaced ringing. */
static bool forward_now(planner *P)
{
    cr_plan *p = P->plan;
    const char *to = p->callee->forwarding.immediate;
    if (!to)
        return false;
    if (!ALLOWED(P, call_forwarding)) {
        note(P,
             "immediate forwarding to %s: skipped, voice policy '%s' does not "
             "allow call forwarding",
             to, p->policy->name);
        skip(P, "forward");
        return false;
    }
    cr_plan_target t;
    if (!resolve(P, to, "immediate forwarding to", &t)) {
        skip(P, "forward");
        cr_trace_add(P->trace, "immediate forwarding unusable: the call rings as usual");
        return false;
    }
    cr_plan_branch *b = new_branch(P, CR_BRANCH_FORWARD, 0);
    add_target(P, b, &t);
    commit_branch(P, b);
    p->forwarded = true;
    snprintf(p->reason, sizeof p->reason, "'%s' forwards every call to %s", p->callee->uri, t.uri);
    cr_trace_add(P->trace, "%s", p->reason);
    return true;
}

/*
 * The no-answer step: after the user's time (CR_NO_ANSWER_DEFAULT_S when unset) to the
 * user's target, voicemail by default. Forwarding to a number or URI needs the policy's
 * call forwarding; voicemail does not (it is not forwarding), so a forbidden forward falls
 * back to voicemail when the user has one. Without a voicemail URI there is no step: the
 * call rings until the caller gives up.
 */
static void plan_no_answer(planner *P)
{
    cr_plan *p = P->plan;
    const cr_forwarding *f = &p->callee->forwarding;
    const char *to = f->no_answer_target ? f->no_answer_target : "voicemail";
    int after = f->no_answer_after > 0 ? f->no_answer_after : CR_NO_ANSWER_DEFAULT_S;
    bool vm = strcasecmp(to, "voicemail") == 0;
    if (!vm && !ALLOWED(P, call_forwarding)) {
        note(P,
             "no-answer forwarding to %s: skipped, voice policy '%s' does not "
             "allow call forwarding",
             to, p->policy->name);
        skip(P, "no_answer");
        to = "voicemail";
        vm = true;
    }
    if (vm && !p->callee->voicemail) {
        note(P,
             "no no-answer step: '%s' has no voicemail URI, the call rings "
             "until the caller gives up",
             p->callee->uri);
        if (f->no_answer_target || f->no_answer_after)
            skip(P, "no_answer");
        return;
    }
    if (!resolve(P, to, "no-answer forwarding to", &p->no_answer)) {
        skip(P, "no_answer");
        if (vm || !p->callee->voicemail || !resolve(P, "voicemail", "no-answer", &p->no_answer))
            return;
        cr_trace_add(P->trace, "no-answer step falls back to voicemail");
    }
    p->has_no_answer = true;
    p->no_answer_after = after;
    cr_trace_add(P->trace, "no answer after %d s: %s %s", after,
                 cr_target_kind_name(p->no_answer.kind), p->no_answer.uri);
}

static void plan_ringing(planner *P, const char *const *endpoints, size_t nendpoints)
{
    cr_plan *p = P->plan;
    const cr_user *u = p->callee;
    cr_plan_branch *b = new_branch(P, CR_BRANCH_ENDPOINTS, 0);
    if (nendpoints == 0) {
        cr_plan_target t = {CR_TARGET_USER, u->uri, NULL, NULL};
        add_target(P, b, &t);
    }
    for (size_t i = 0; i < nendpoints; i++)
        if (endpoints[i] && endpoints[i][0]) {
            cr_plan_target t = {CR_TARGET_ENDPOINT, endpoints[i], NULL, NULL};
            add_target(P, b, &t);
        }
    commit_branch(P, b);

    if (u->delegates.count && !ALLOWED(P, delegation)) {
        note(P, "delegates: skipped, voice policy '%s' does not allow delegation", p->policy->name);
        skip(P, "delegates");
    } else if (u->delegates.count) {
        b = new_branch(P, CR_BRANCH_DELEGATES, 0);
        if (b)
            add_people(P, b, &u->delegates, "delegate");
        add_notice(p, CR_NOTICE_DELEGATE_ANSWERED, commit_branch(P, b));
    }

    if (u->simultaneous_ring && !u->enterprise_voice) {
        note(P, "simultaneous ring %s: skipped, '%s' is not enabled for Enterprise Voice",
             u->simultaneous_ring, u->uri);
        skip(P, "simultaneous_ring");
    } else if (u->simultaneous_ring && u->pbx_integration) {
        /* guide: the simultaneous ringing feature is "not available if you are enabling PBX
         * integration" (the PBX phone is the extra leg) */
        note(P,
             "simultaneous ring %s: skipped, '%s' is enabled for PBX integration (not "
             "available with it)",
             u->simultaneous_ring, u->uri);
        skip(P, "simultaneous_ring");
    } else if (u->simultaneous_ring && !ALLOWED(P, simultaneous_ring)) {
        note(P,
             "simultaneous ring %s: skipped, voice policy '%s' does not allow "
             "simultaneous ring",
             u->simultaneous_ring, p->policy->name);
        skip(P, "simultaneous_ring");
    } else if (u->simultaneous_ring) {
        cr_plan_target t;
        b = new_branch(P, CR_BRANCH_SIMULTANEOUS_RING, 0);
        if (b && resolve(P, u->simultaneous_ring, "simultaneous ring", &t))
            add_target(P, b, &t);
        else if (b)
            skip(P, "simultaneous_ring");
        commit_branch(P, b);
    }

    int delay = u->team_call_delay > 0 ? u->team_call_delay : 0;
    if (u->team_call.count && !u->enterprise_voice) {
        note(P, "team call: skipped, '%s' is not enabled for Enterprise Voice", u->uri);
        skip(P, "team_call");
    } else if (u->team_call.count && !ALLOWED(P, team_call)) {
        note(P, "team call: skipped, voice policy '%s' does not allow team call", p->policy->name);
        skip(P, "team_call");
    } else if (u->team_call.count && p->has_no_answer && delay >= p->no_answer_after) {
        note(P,
             "team call: skipped, its delay (%d s) is not before the no-answer "
             "step (%d s)",
             delay, p->no_answer_after);
        skip(P, "team_call");
    } else if (u->team_call.count) {
        b = new_branch(P, CR_BRANCH_TEAM_CALL, delay);
        if (b)
            add_people(P, b, &u->team_call, "team-call member");
        add_notice(p, CR_NOTICE_TEAM_CALL, commit_branch(P, b));
    }
}

/* PBX integration (guide 8427-8500): the call forks to the user's PBX phone through the route
 * for the user's own line; a call that came from one of those gateways is not sent back. */
static void plan_pbx(planner *P, const cr_gateway *from_gw)
{
    cr_plan *p = P->plan;
    const cr_user *u = p->callee;
    if (!u->line_number) {
        note(P, "PBX fork: skipped, '%s' has no line number", u->uri);
        skip(P, "pbx");
        return;
    }
    size_t nlegs = p->nlegs;
    const cr_plan_leg *leg = pstn_leg(P, u->line, u->line_number, NULL, NULL, "PBX fork to");
    if (!leg) {
        skip(P, "pbx");
        return;
    }
    /* the PBX: the gateways of the first route for the line (later ones are failover) */
    for (size_t i = 0; from_gw && i < leg->route.nattempts; i++)
        if (leg->route.attempts[i].route == leg->route.attempts[0].route &&
            leg->route.attempts[i].gateway == from_gw) {
            p->nlegs = nlegs;
            cr_trace_add(P->trace,
                         "PBX fork: not sent, the call came from gateway '%s' that serves "
                         "%s (no fork back)",
                         from_gw->name, u->line_number);
            return;
        }
    cr_plan_branch *b = new_branch(P, CR_BRANCH_PBX, 0);
    if (!b)
        return;
    cr_plan_target t = {CR_TARGET_PSTN, leg->tel, leg, NULL};
    add_target(P, b, &t);
    commit_branch(P, b);
}

/* Branches in order of `at` (stable: at equal times, in the order they were planned). */
static void sort_branches(cr_plan *p)
{
    for (size_t i = 1; i < p->nbranches; i++)
        for (size_t j = i; j > 0 && p->branches[j - 1].at > p->branches[j].at; j--) {
            cr_plan_branch tmp = p->branches[j];
            p->branches[j] = p->branches[j - 1];
            p->branches[j - 1] = tmp;
            for (size_t n = 0; n < p->nnotices; n++) {
                if (p->notices[n].branch == &p->branches[j])
                    p->notices[n].branch = &p->branches[j - 1];
                else if (p->notices[n].branch == &p->branches[j - 1])
                    p->notices[n].branch = &p->branches[j];
            }
        }
}

int cr_plan_build(const cr_config *cfg, const char *from, const cr_user *callee,
                  const char *const *endpoints, size_t nendpoints, const cr_runtime *rt,
                  cr_plan *out, cr_trace *trace)
{
    return cr_plan_build_ex(cfg, from, NULL, callee, endpoints, nendpoints, rt, out, trace);
}

int cr_plan_build_ex(const cr_config *cfg, const char *from, const cr_gateway *from_gw,
                     const cr_user *callee, const char *const *endpoints, size_t nendpoints,
                     const cr_runtime *rt, cr_plan *out, cr_trace *trace)
{
    if (!out)
        return CR_EINVAL;
    out->callee = NULL;
    out->nbranches = out->nnotices = out->nlegs = out->nskipped = 0;
    out->has_no_answer = out->forwarded = false;
    out->no_answer_after = 0;
    out->reason[0] = 0;
    if (!cfg || !callee) {
        snprintf(out->reason, sizeof out->reason, "no callee");
        return CR_EINVAL;
    }
    planner P = {cfg, rt, out, trace, "", "", ""};
    out->callee = callee;
    out->policy = ce_user_policy(cfg, callee);
    out->profile = cr_user_profile(cfg, callee);
    cr_uri_key(callee->uri, P.callee_key, sizeof P.callee_key);
    if (from)
        cr_uri_key(from, P.caller_key, sizeof P.caller_key);
    cr_trace_add(trace, "callee '%s' (voice policy '%s', location profile '%s')", callee->uri,
                 out->policy ? out->policy->name : "(none)",
                 out->profile ? out->profile->name : "(none)");
    if (callee->policy && callee->policy_idx < 0)
        cr_trace_add(trace, "voice policy '%s' is not configured: %s", callee->policy,
                     out->policy ? "the default policy applies"
                                 : "no default policy, PSTN legs are not allowed");
    if (forward_now(&P))
        return CR_OK;
    if (callee->pbx_integration &&
        (callee->forwarding.no_answer_target || callee->forwarding.no_answer_after)) {
        /* a no-answer step the user set is not in the plan: said, as a skipped simultaneous
         * ring is (check warns too) */
        note(&P,
             "no-answer forwarding to %s: skipped, '%s' is enabled for PBX integration (the "
             "PBX answers unanswered calls)",
             callee->forwarding.no_answer_target ? callee->forwarding.no_answer_target
                                                 : "voicemail",
             callee->uri);
        skip(&P, "no_answer");
    } else if (callee->pbx_integration)
        cr_trace_add(trace,
                     "'%s' is enabled for PBX integration: no no-answer step (the PBX "
                     "keeps the voicemail)",
                     callee->uri);
    else
        plan_no_answer(&P);
    plan_ringing(&P, endpoints, nendpoints);
    if (callee->pbx_integration)
        plan_pbx(&P, from_gw);
    sort_branches(out);
    size_t n = 0;
    for (size_t i = 0; i < out->nbranches; i++)
        n += out->branches[i].ntargets;
    int o = snprintf(out->reason, sizeof out->reason, "ringing '%s': %zu target%s in %zu branch%s",
                     callee->uri, n, n == 1 ? "" : "s", out->nbranches,
                     out->nbranches == 1 ? "" : "es");
    if (o > 0 && (size_t)o < sizeof out->reason) {
        if (out->has_no_answer)
            snprintf(out->reason + o, sizeof out->reason - (size_t)o, "; no answer after %d s: %s",
                     out->no_answer_after, cr_target_kind_name(out->no_answer.kind));
        else
            snprintf(out->reason + o, sizeof out->reason - (size_t)o, "; no no-answer step");
    }
    return CR_OK;
}

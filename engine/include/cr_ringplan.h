/*
 * Inbound call handling (SPEC §3): the ringing plan for a call to a user.
 *
 * A plan is a timeline of branches — each rings a set of targets from `at` seconds after
 * the call arrived until someone answers — plus an optional no-answer step that replaces
 * every branch still ringing after `after` seconds, and notifications for the host to send.
 * Immediate forwarding replaces ringing altogether (one branch of kind CR_BRANCH_FORWARD).
 * PSTN legs (simultaneous ring, forwarding to a number) are normalized with the callee's
 * location profile and authorized and routed with the callee's voice policy; their attempt
 * lists are in plan->legs. A feature the callee's policy forbids is left out and the trace
 * says so.
 *
 * Pure: no I/O and no allocation; safe from many threads over one compiled configuration.
 */
#ifndef CR_RINGPLAN_H
#define CR_RINGPLAN_H

#include "cr_engine.h"

#define CR_PLAN_MAX_BRANCHES   6
#define CR_PLAN_MAX_TARGETS    32 /* per branch; more are dropped (the trace says so) */
#define CR_PLAN_MAX_LEGS       4  /* PSTN legs: simultaneous ring, forwarding, members as numbers */
#define CR_PLAN_MAX_NOTICES    2
#define CR_PLAN_MAX_SKIPPED    6
#define CR_NO_ANSWER_DEFAULT_S 20 /* no-answer step when the user set no time */

typedef enum {
    CR_BRANCH_ENDPOINTS = 1,     /* the callee's registered endpoints (or its SIP URI) */
    CR_BRANCH_DELEGATES,         /* the callee's delegates, ringing with the callee */
    CR_BRANCH_SIMULTANEOUS_RING, /* the callee's extra phone */
    CR_BRANCH_TEAM_CALL,         /* team-call members, at once or after the delay */
    CR_BRANCH_FORWARD,           /* immediate forwarding: the only branch */
    CR_BRANCH_PBX,               /* PBX integration: the user's own line through its route */
} cr_branch_kind;

typedef enum {
    CR_TARGET_SIP = 1,   /* a SIP URI that is no user of this deployment */
    CR_TARGET_USER,      /* a user (by SIP URI, or a number that is a user's line) */
    CR_TARGET_ENDPOINT,  /* a registered contact of the callee, given by the host */
    CR_TARGET_PSTN,      /* a phone number: `leg` holds the attempts */
    CR_TARGET_VOICEMAIL, /* the callee's voicemail URI */
} cr_target_kind;

/* A PSTN leg: the configured number, normalized and routed with the callee's policy. */
typedef struct cr_plan_leg {
    const char *dialed;          /* as the user configured it (borrowed from the user) */
    char tel[CR_NUMBER_MAX + 8]; /* "tel:" + the normalized number */
    cr_decision route;           /* CR_OUTBOUND with attempts; CR_BLOCKED with a reason */
} cr_plan_leg;

typedef struct cr_plan_target {
    cr_target_kind kind;
    const char *uri;        /* SIP URI, or the leg's "tel:" URI for CR_TARGET_PSTN */
    const cr_plan_leg *leg; /* CR_TARGET_PSTN only */
    /* CR_TARGET_SIP to a response group's contact URI (configured as its URI or dialed as
     * its line), else NULL: the host hands that branch to its response groups */
    const cr_workflow *workflow;
} cr_plan_target;

typedef struct cr_plan_branch {
    cr_branch_kind kind;
    int at; /* seconds after the call arrived */
    size_t ntargets;
    cr_plan_target targets[CR_PLAN_MAX_TARGETS];
} cr_plan_branch;

typedef enum {
    CR_NOTICE_DELEGATE_ANSWERED = 1, /* tell `user` which of the branch's targets answered */
    CR_NOTICE_TEAM_CALL,             /* show the branch's targets the call is for `user` */
} cr_notice_kind;

typedef struct cr_plan_notice {
    cr_notice_kind kind;
    const char *user;             /* the callee's SIP URI */
    const cr_plan_branch *branch; /* the delegates' or the team's branch */
} cr_plan_notice;

/* A feature the user configured that the plan leaves out, and why ("simultaneous_ring",
 * "team_call", "delegates", "forward", "no_answer"). */
typedef struct cr_plan_skip {
    const char *feature;
    char reason[224];
} cr_plan_skip;

/* The callee's policy switches, as applied (policy NULL: everything allowed). */
typedef struct cr_plan {
    const cr_user *callee;
    const cr_policy *policy;   /* the callee's voice policy, or NULL */
    const cr_profile *profile; /* the callee's location profile, or NULL */
    bool forwarded;            /* immediate forwarding replaced ringing */
    size_t nbranches;          /* in order of `at`, then of kind */
    cr_plan_branch branches[CR_PLAN_MAX_BRANCHES];
    bool has_no_answer;
    int no_answer_after;      /* seconds */
    cr_plan_target no_answer; /* voicemail, a user, a SIP URI or a PSTN leg */
    size_t nnotices;
    cr_plan_notice notices[CR_PLAN_MAX_NOTICES];
    size_t nlegs;
    cr_plan_leg legs[CR_PLAN_MAX_LEGS];
    size_t nskipped;
    cr_plan_skip skipped[CR_PLAN_MAX_SKIPPED];
    char reason[256];
} cr_plan;

/*
 * Builds the ringing plan for a call from `from` (may be NULL) to `callee`.
 *
 * @param[in] endpoints  the callee's registered contacts as the host knows them (borrowed);
 *                       none (NULL / 0) rings the callee's SIP URI instead.
 * @param[in] rt         runtime facts (gateways down, load spreading, user directory) for the
 *                       PSTN legs and for recognising users among targets; may be NULL.
 * @param[out] out       caller-owned. Target URIs point into `callee`, `endpoints` or `out`
 *                       itself: valid while all three are.
 * @param[in,out] trace  optional: every step and every skipped feature, with the reason.
 * @return CR_OK, or CR_EINVAL when cfg or callee is NULL.
 */
int cr_plan_build(const cr_config *cfg, const char *from, const cr_user *callee,
                  const char *const *endpoints, size_t nendpoints, const cr_runtime *rt,
                  cr_plan *out, cr_trace *trace);

/*
 * cr_plan_build for a call that arrived from gateway `from_gw` (NULL: not from a gateway).
 * A callee enabled for PBX integration gets a branch forking the call to the PBX through the
 * route for the callee's own line, unless the call came from one of that route's gateways
 * (no fork back: no loop); such a callee never gets a no-answer step (the PBX keeps the
 * voicemail).
 */
int cr_plan_build_ex(const cr_config *cfg, const char *from, const cr_gateway *from_gw,
                     const cr_user *callee, const char *const *endpoints, size_t nendpoints,
                     const cr_runtime *rt, cr_plan *out, cr_trace *trace);

/* Names used in JSON and traces: "endpoints", "delegates", "simultaneous_ring", "team_call",
 * "forward", "pbx"; "sip", "user", "endpoint", "pstn", "voicemail"; "delegate_answered",
 * "team_call". */
const char *cr_branch_kind_name(cr_branch_kind k);
const char *cr_target_kind_name(cr_target_kind k);
const char *cr_notice_kind_name(cr_notice_kind k);

#endif

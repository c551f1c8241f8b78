/* Response groups against the routing configuration of the same document: agents who are
 * users, workflow URIs and lines that are users', queues without a timeout; queue timeouts
 * against the host's longest wait. */
#include "cr_rgs_check.h"

#include "cr_directory.h"
#include "cr_engine.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* An agent who is a user of the configuration or of its user directory must be enabled for
 * Enterprise Voice; agents that are not users at all stay allowed (SPEC §4). The directory is
 * read in one snapshot (a directory that cannot be opened is the loader's error). */
static void check_agents(const cr_config *cfg, const cr_rgs_config *rgs, cr_diag *diag)
{
    char obj[512];
    const char *path = cr_config_directory(cfg, NULL);
    cr_directory *db = NULL;
    cr_dir_reader r;
    bool dir = path && cr_directory_open(path, false, &db, NULL, 0) == CR_OK &&
               cr_dir_reader_begin(db, cfg, &r) == CR_OK;
    for (size_t i = 0; i < rgs->ngroups; i++) {
        const cr_rgs_group *g = &rgs->groups[i];
        snprintf(obj, sizeof obj, "agent group '%s'", g->name);
        for (size_t k = 0; k < g->nagents; k++) {
            const cr_user *u = cr_config_user_find(cfg, g->agent_uris[k]);
            if (u && !u->enterprise_voice)
                cr_diag_add(diag, CR_DIAG_ERROR, g->loc, obj,
                            "agent '%s' is user '%s' (%s:%d), not enabled for Enterprise Voice: "
                            "an agent who is a user must be enabled",
                            g->agent_uris[k], u->uri, u->loc.file ? u->loc.file : "", u->loc.line);
            if (u || !dir)
                continue;
            u = cr_dir_reader_find(&r, g->agent_uris[k]);
            if (u && !u->enterprise_voice)
                cr_diag_add(diag, CR_DIAG_ERROR, g->loc, obj,
                            "agent '%s' is user '%s' of the user directory %s, not enabled for "
                            "Enterprise Voice: an agent who is a user must be enabled",
                            g->agent_uris[k], u->uri, path);
            cr_dir_reader_forget(&r); /* only this user mattered */
        }
    }
    if (dir)
        cr_dir_reader_end(&r);
    cr_directory_close(db);
}

/* The first action of workflow w (its after-hours and holiday actions, its queue's timeout
 * and overflow actions, and those of the queues they lead to) that sends the call to a
 * number, and where it is ("queue 'Q' <timeout>"); NULL when none does. */
static const cr_rgs_action *number_action(const cr_rgs_config *rgs, const cr_rgs_workflow *w,
                                          char *where, size_t len)
{
    const cr_rgs_action *own[2] = {&w->after_hours, &w->holiday_action};
    static const char *const own_name[2] = {"<afterHours>", "<holidayAction>"};
    for (int k = 0; k < 2; k++) {
        const cr_rgs_action *a = own[k];
        if ((a->kind == CR_RGS_ACT_FORWARD || a->kind == CR_RGS_ACT_VOICEMAIL) && a->target &&
            strncmp(a->target, "sip:", 4) != 0 && strncmp(a->target, "sips:", 5) != 0) {
            snprintf(where, len, "%s", own_name[k]);
            return a;
        }
    }
    long q = w->queue;
    if (q < 0 && w->after_hours.kind == CR_RGS_ACT_QUEUE)
        q = w->after_hours.queue;
    /* a chain of queues, each visited once at most (rgs->nqueues steps) */
    for (size_t step = 0; q >= 0 && (size_t)q < rgs->nqueues && step < rgs->nqueues; step++) {
        const cr_rgs_queue *qu = &rgs->queues[q];
        const cr_rgs_action *qa[2] = {&qu->timeout_action, &qu->overflow_action};
        static const char *const qa_name[2] = {"<timeout>", "<overflow>"};
        long next = -1;
        for (int k = 0; k < 2; k++) {
            const cr_rgs_action *a = qa[k];
            if ((a->kind == CR_RGS_ACT_FORWARD || a->kind == CR_RGS_ACT_VOICEMAIL) && a->target &&
                strncmp(a->target, "sip:", 4) != 0 && strncmp(a->target, "sips:", 5) != 0) {
                snprintf(where, len, "queue '%s' %s", qu->name, qa_name[k]);
                return a;
            }
            if (a->kind == CR_RGS_ACT_QUEUE && next < 0)
                next = a->queue;
        }
        q = next;
    }
    return NULL;
}

static void check_workflows(const cr_config *cfg, const cr_rgs_config *rgs, cr_diag *diag)
{
    char obj[512];
    for (size_t i = 0; i < rgs->nworkflows; i++) {
        const cr_rgs_workflow *w = &rgs->workflows[i];
        snprintf(obj, sizeof obj, "workflow '%s'", w->name);
        if (w->type == CR_RGS_IVR && w->welcome)
            cr_diag_add(diag, CR_DIAG_WARNING, w->loc, obj,
                        "welcome=\"%s\" is not played: a welcome prompt belongs to hunt groups; "
                        "an IVR plays its prompts from its script (call:play)",
                        w->welcome);
        /* guide 2538: a workflow's business hours; a set without a range is never open */
        if (w->hours >= 0 && (size_t)w->hours < rgs->nhours && rgs->hours[w->hours].nranges == 0)
            cr_diag_add(diag, CR_DIAG_WARNING, w->loc, obj,
                        "hoursSet '%s' has no <range>: the workflow is always after hours (every "
                        "call gets its after-hours action)",
                        rgs->hours[w->hours].name);
        const cr_user *u = w->uri ? cr_config_user_find(cfg, w->uri) : NULL;
        /* an identity-only entry is the workflow's calling identity: nobody is rung at it,
         * so a call cannot "reach both" */
        if (u && !cr_user_identity_only(u))
            cr_diag_add(diag, CR_DIAG_ERROR, w->loc, obj,
                        "its URI %s is also user '%s' (%s:%d), who has a line or call "
                        "management: a call to it cannot reach both (a user entry with only "
                        "the URI, Enterprise Voice, policy and profile is the workflow's calling "
                        "identity)",
                        w->uri, u->uri, u->loc.file ? u->loc.file : "", u->loc.line);
        /* a forward to a number is routed with the workflow's URI as caller (the Kamailio
         * module's outbound decision): without a user there, every such forward is refused
         * ("caller ... is not a known user"). Said of a document that routes (it has routes);
         * a directory may hold the user (not read here) */
        char where[300];
        const cr_rgs_action *na;
        if (w->uri && (!u || !u->enterprise_voice) && cr_config_route_count(cfg) > 0 &&
            !cr_config_directory(cfg, NULL) &&
            (na = number_action(rgs, w, where, sizeof where)) != NULL)
            cr_diag_add(diag, CR_DIAG_WARNING, w->loc, obj,
                        "%s sends calls to the number %s, routed with the workflow's URI %s as "
                        "caller, which is %s: such calls are blocked (a user entry with only the "
                        "URI, enterpriseVoice=\"true\", a voice policy and a profile gives it one)",
                        where, na->target, w->uri,
                        u ? "a user not enabled for Enterprise Voice" : "no user");
        cr_number n;
        if (w->line && cr_number_parse(w->line, &n) == CR_OK && n.dialable) {
            u = cr_config_user_by_number(cfg, n.digits, n.ext[0] ? n.ext : NULL);
            if (u)
                cr_diag_add(diag, CR_DIAG_ERROR, w->loc, obj,
                            "its line %s is also the line of user '%s' (%s:%d)", w->line, u->uri,
                            u->loc.file ? u->loc.file : "", u->loc.line);
        }
    }
}

static void check_queues(const cr_rgs_config *rgs, cr_diag *diag)
{
    char obj[512];
    for (size_t i = 0; i < rgs->nqueues; i++) {
        const cr_rgs_queue *q = &rgs->queues[i];
        /* guide: "Queues hold callers until an agent becomes available"; one whose groups
         * list nobody never will: the engine disconnects its calls at once */
        size_t agents = 0;
        for (size_t j = 0; j < q->ngroups && q->groups; j++)
            agents += rgs->groups[q->groups[j]].nagents;
        if (!agents) {
            snprintf(obj, sizeof obj, "queue '%s'", q->name);
            cr_diag_add(diag, CR_DIAG_WARNING, q->loc, obj,
                        "%s: every call that reaches it is disconnected (hangup no_agents)",
                        q->ngroups ? "its agent groups list no agent" : "no agent group");
            continue; /* (so no call waits for its timeout) */
        }
        if (q->timeout_s > 0)
            continue;
        snprintf(obj, sizeof obj, "queue '%s'", q->name);
        cr_diag_add(diag, CR_DIAG_WARNING, q->loc, obj,
                    "no <timeout>: a call waits until an agent answers or the caller hangs up");
    }
}

size_t cr_rgs_check_wait(const cr_rgs_config *rgs, unsigned max_wait_s, cr_diag *diag)
{
    char obj[512];
    size_t n = 0;
    for (size_t i = 0; rgs && max_wait_s > 0 && i < rgs->nqueues; i++) {
        const cr_rgs_queue *q = &rgs->queues[i];
        if (q->timeout_s <= 0 || (unsigned)q->timeout_s <= max_wait_s)
            continue;
        snprintf(obj, sizeof obj, "queue '%s'", q->name);
        cr_diag_add(diag, CR_DIAG_WARNING, q->loc, obj,
                    "<timeout> of %d s is longer than a caller may wait on the proxy (%u s: "
                    "rgs_max_wait); callers are ended at %u s and never reach the timeout action",
                    q->timeout_s, max_wait_s, max_wait_s);
        n++;
    }
    return n;
}

int cr_rgs_check_against(const cr_config *cfg, const cr_rgs_config *rgs, cr_diag *diag)
{
    if (!cfg || !rgs)
        return CR_OK;
    size_t before = diag->errors;
    check_agents(cfg, rgs, diag);
    check_workflows(cfg, rgs, diag);
    check_queues(rgs, diag);
    return diag->errors > before ? CR_ECONFIG : CR_OK;
}

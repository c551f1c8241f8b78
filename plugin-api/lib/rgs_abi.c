/* The plugin table's response-group functions: an engine (workflows/include/cr_rgs.h) over the
 * response groups of the handle's configuration file, with a Lua IVR driver (lua/include/cr_lua.h,
 * one Lua state per engine) when the configuration has IVR scripts. */
#include "rgs_abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_lua.h"
#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "handle.h"
#include "result.h"

struct cr_rgs {
    cr_rgs_config *cfg;
    cr_rgs_engine *engine;
    cr_lua_ivr *lua;      /* NULL when no IVR script could be loaded */
    bool log;             /* queue event log lines are emitted as ("-", "log", line) */
    crp_rgs_emit_fn emit; /* of the call in progress (text form), for the log and set */
    cr_rgs_action_fn act; /* of the call in progress (typed form) */
    void *ud;
};

/* An action outside the engine's (log line, call:set) to whichever form is in progress. */
static void extra(cr_rgs *r, int64_t at_ms, int type, const char *call, const char *arg,
                  const char *value)
{
    if (r->act) {
        cr_rgs_typed_action a = {
            .size = sizeof a,
            .type = type,
            .call = type == CR_RGS_ACTION_LOG ? 0 : cr_rgs_engine_call_handle(r->engine, call),
            .call_id = call,
            .arg = arg,
            .value = value};
        r->act(r->ud, at_ms, &a);
    } else if (r->emit && type == CR_RGS_ACTION_LOG) {
        r->emit(r->ud, at_ms, call, "log", arg);
    } else if (r->emit) {
        char args[640];
        snprintf(args, sizeof args, "%s%s%s", arg, value[0] ? " " : "", value);
        r->emit(r->ud, at_ms, call, "set", args);
    }
}

static void on_log(void *ud, int64_t at_ms, const char *line)
{
    cr_rgs *r = ud;
    if (r->log)
        extra(r, at_ms, CR_RGS_ACTION_LOG, "-", line, NULL);
}

/* IVR script events (errors, reloads, prints): always to the host's log, and to the queue
 * event log when it is on. */
static void on_ivr_log(void *ud, int64_t at_ms, const char *line)
{
    crp_log(strncmp(line, "ivr_print", 9) == 0 ? CR_LOG_INFO : CR_LOG_WARNING, "callroute: %s",
            line);
    on_log(ud, at_ms, line);
}

/* call:set(key, value): a "set <key> <value>" action of the call. */
static void on_ivr_set(void *ud, int64_t at_ms, const char *call, const char *key,
                       const char *value)
{
    extra(ud, at_ms, CR_RGS_ACTION_SET, call, key, value);
}

/* The Lua driver, when some workflow is an IVR. A script that fails to load is logged, and
 * its calls end in their workflow's fallback (its queue, else hangup ivr_error) with a log
 * line naming the call and the script, even when every script failed (issue 7); a script
 * mended later is loaded by the next call (check_mtime). */
static int open_lua(cr_rgs *r, char *err, size_t errlen)
{
    bool ivr = false;
    for (size_t i = 0; i < r->cfg->nworkflows; i++)
        ivr |= r->cfg->workflows[i].type == CR_RGS_IVR;
    if (!ivr)
        return CR_OK;
    cr_lua_options lo = {
        .check_mtime = true, .log = on_ivr_log, .log_ud = r, .set = on_ivr_set, .set_ud = r};
    return cr_lua_ivr_open(r->cfg, &lo, &r->lua, err, errlen);
}

/* "stats": one ("-", "stats", "queue=\"Q\" waiting=...") action per queue. */
static void emit_stats(cr_rgs *r, int64_t at_ms, crp_rgs_emit_fn emit, void *ud)
{
    for (size_t q = 0; q < r->cfg->nqueues; q++) {
        cr_rgs_queue_stats st;
        if (cr_rgs_engine_queue_stats(r->engine, q, at_ms, &st) != CR_OK)
            continue;
        char line[1024];
        snprintf(line, sizeof line,
                 "queue=\"%s\" entered=%llu waiting=%llu answered=%llu abandoned=%llu "
                 "timeouts=%llu overflows=%llu longest_wait=%.3f average_wait=%.3f",
                 r->cfg->queues[q].name, (unsigned long long)st.entered,
                 (unsigned long long)st.waiting, (unsigned long long)st.answered,
                 (unsigned long long)st.abandoned, (unsigned long long)st.timeouts,
                 (unsigned long long)st.overflows, (double)st.longest_wait_ms / 1000.0,
                 (double)st.average_wait_ms / 1000.0);
        emit(ud, at_ms, "-", "stats", line);
    }
}

static void diag_to_err(const cr_diag *d, char *err, size_t errlen)
{
    size_t off = 0;
    if (!err || !errlen)
        return;
    err[0] = 0;
    for (size_t i = 0; i < d->count && off + 1 < errlen; i++) {
        if (d->items[i].level != CR_DIAG_ERROR)
            continue;
        char line[1024];
        cr_diag_format(d, i, line, sizeof line);
        off += (size_t)snprintf(err + off, errlen - off, "%s%s", off ? "\n" : "", line);
    }
}

int crp_rgs_open_ex(cr_handle *h, const cr_rgs_open_options *opts, cr_rgs **out, char *err,
                    size_t errlen)
{
    char dummy[4];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    if (out)
        *out = NULL;
    if (!h || !out) {
        snprintf(err, errlen, "rgs_open: NULL argument");
        return CR_ABI_EINVAL;
    }
    *out = NULL;
    cr_rgs_open_options o = {sizeof o, 0, NULL, 0};
    if (opts) {
        if (opts->size < offsetof(cr_rgs_open_options, flags) + sizeof opts->flags) {
            snprintf(err, errlen, "rgs_open_ex: options size %u too small", (unsigned)opts->size);
            return CR_ABI_EINVAL;
        }
        o = *opts;
    }
    cr_rgs *r = calloc(1, sizeof *r);
    if (!r)
        return CR_ABI_ENOMEM;
    cr_diag diag;
    cr_diag_init(&diag);
    cr_load_options lo = crp_handle_load_options(h);
    int rc = crp_handle_rgs_load(h, &lo, &r->cfg, &diag);
    if (rc != CR_OK) {
        diag_to_err(&diag, err, errlen);
        cr_diag_free(&diag);
        free(r);
        return rc;
    }
    cr_diag_free(&diag);
    if ((rc = open_lua(r, err, errlen)) != CR_OK) {
        cr_rgs_config_free(r->cfg);
        free(r);
        return rc;
    }
    cr_rgs_engine_options opt = {
        .start_unix_ms = o.start_unix_ms,
        .flags = (o.flags & CR_RGS_OPEN_DROP_CALLS) ? CR_RGS_ENGINE_DROP_CALLS : 0,
        .state_dir = o.state_dir,
        .ivr = cr_lua_ivr_driver(r->lua)};
    rc = cr_rgs_engine_open(r->cfg, &opt, &r->engine, err, errlen);
    if (rc != CR_OK) {
        cr_lua_ivr_close(r->lua);
        cr_rgs_config_free(r->cfg);
        free(r);
        return rc;
    }
    if (o.flags & CR_RGS_OPEN_LOG) {
        r->log = true;
        cr_rgs_engine_set_log(r->engine, on_log, r);
    }
    *out = r;
    return CR_ABI_OK;
}

int crp_rgs_open(cr_handle *h, int64_t start_unix_ms, const char *state_dir, cr_rgs **out,
                 char *err, size_t errlen)
{
    cr_rgs_open_options o = {sizeof o, start_unix_ms, state_dir, 0};
    return crp_rgs_open_ex(h, &o, out, err, errlen);
}

int crp_rgs_event(cr_rgs *r, int64_t at_ms, const char *event, crp_rgs_emit_fn emit, void *ud,
                  char *err, size_t errlen)
{
    char dummy[4];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    if (!r || !event) {
        snprintf(err, errlen, "rgs_event: NULL argument");
        return CR_ABI_EINVAL;
    }
    /* Control events beyond the simulate vocabulary (until the table has log/stats slots). */
    if (strcmp(event, "log on") == 0 || strcmp(event, "log off") == 0) {
        r->log = event[5] == 'n';
        /* the engine formats log lines only while someone reads them */
        cr_rgs_engine_set_log(r->engine, r->log ? on_log : NULL, r);
        return CR_ABI_OK;
    }
    size_t len = strcspn(event, "\r\n");
    if ((len == 6 || len == 12) && strncmp(event, "reload force", len) == 0) {
        /* IVR scripts: changed files are recompiled for new calls */
        if (r->lua) {
            r->emit = emit, r->ud = ud;
            cr_lua_ivr_reload(r->lua, len == 12, at_ms);
            r->emit = NULL;
        }
        return CR_ABI_OK;
    }
    if (strcmp(event, "stats") == 0) {
        if (emit)
            emit_stats(r, at_ms, emit, ud);
        return CR_ABI_OK;
    }
    cr_rgs_event ev;
    int rc = cr_rgs_event_parse(event, &ev, err, errlen);
    if (rc != CR_OK)
        return CR_ABI_EINVAL;
    r->emit = emit, r->ud = ud;
    rc = cr_rgs_engine_event(r->engine, at_ms, &ev, emit, ud, err, errlen);
    r->emit = NULL;
    return rc;
}

int64_t crp_rgs_advance(cr_rgs *r, int64_t now_ms, crp_rgs_emit_fn emit, void *ud)
{
    if (!r)
        return -1;
    r->emit = emit, r->ud = ud;
    int64_t next = cr_rgs_engine_advance(r->engine, now_ms, emit, ud);
    r->emit = NULL;
    return next;
}

void crp_rgs_close(cr_rgs *r)
{
    if (!r)
        return;
    cr_rgs_engine_close(r->engine);
    cr_lua_ivr_close(r->lua);
    cr_rgs_config_free(r->cfg);
    free(r);
}

/* ---- the typed form (ABI 1.5) ---------------------------------------------------------------- */

/* The ABI's numbers are the engine's (one numbering; the typed path copies, never maps). */
_Static_assert(CR_RGS_EVENT_CALL == CR_RGS_EV_CALL && CR_RGS_EVENT_PRESENCE == CR_RGS_EV_PRESENCE &&
                   CR_RGS_EVENT_SIGNIN == CR_RGS_EV_SIGNIN &&
                   CR_RGS_EVENT_SIGNOUT == CR_RGS_EV_SIGNOUT &&
                   CR_RGS_EVENT_DTMF == CR_RGS_EV_DTMF && CR_RGS_EVENT_SPEECH == CR_RGS_EV_SPEECH &&
                   CR_RGS_EVENT_PROMPT_DONE == CR_RGS_EV_PROMPT_DONE &&
                   CR_RGS_EVENT_ANSWER == CR_RGS_EV_ANSWER &&
                   CR_RGS_EVENT_DECLINE == CR_RGS_EV_DECLINE &&
                   CR_RGS_EVENT_HANGUP == CR_RGS_EV_HANGUP &&
                   CR_RGS_EVENT_AGENT_HANGUP == CR_RGS_EV_AGENT_HANGUP &&
                   CR_RGS_EVENT_NO_ANSWER == CR_RGS_EV_NO_ANSWER,
               "event types");
_Static_assert(CR_RGS_ACTION_ANSWER == CR_RGS_OUT_ANSWER && CR_RGS_ACTION_PLAY == CR_RGS_OUT_PLAY &&
                   CR_RGS_ACTION_COLLECT == CR_RGS_OUT_COLLECT &&
                   CR_RGS_ACTION_MOH == CR_RGS_OUT_MOH && CR_RGS_ACTION_RING == CR_RGS_OUT_RING &&
                   CR_RGS_ACTION_CANCEL == CR_RGS_OUT_CANCEL &&
                   CR_RGS_ACTION_BRIDGE == CR_RGS_OUT_BRIDGE &&
                   CR_RGS_ACTION_TRANSFER == CR_RGS_OUT_TRANSFER &&
                   CR_RGS_ACTION_VOICEMAIL == CR_RGS_OUT_VOICEMAIL &&
                   CR_RGS_ACTION_HANGUP == CR_RGS_OUT_HANGUP,
               "action types");
_Static_assert(CR_RGS_REASON_NOT_FOUND == CR_RGS_HANGUP_NOT_FOUND &&
                   CR_RGS_REASON_DISCONNECT == CR_RGS_HANGUP_DISCONNECT &&
                   CR_RGS_REASON_IVR == CR_RGS_HANGUP_IVR &&
                   CR_RGS_REASON_LOOP == CR_RGS_HANGUP_LOOP &&
                   CR_RGS_PRESENCE_AVAILABLE == CR_RGS_PRES_AVAILABLE &&
                   CR_RGS_PRESENCE_OFFLINE == CR_RGS_PRES_OFFLINE,
               "reasons and presence");

typedef struct typed_sink {
    cr_rgs_action_fn act;
    void *ud;
} typed_sink;

static void typed_out(void *ud, int64_t at_ms, const cr_rgs_output *o)
{
    const typed_sink *t = ud;
    if (!t->act)
        return;
    cr_rgs_typed_action a = {.size = sizeof a,
                             .type = (int)o->type,
                             .call = o->call,
                             .call_id = o->call_id,
                             .agents = o->agents,
                             .nagents = (uint32_t)o->nagents,
                             .reason = (int)o->reason,
                             .arg = o->arg};
    t->act(t->ud, at_ms, &a);
}

/* rgs_event_typed and rgs_call_typed (slot_handle: where the engine's handle goes). */
static int event_typed(cr_rgs *r, int64_t at_ms, const cr_rgs_typed_event *ev,
                       uint64_t *slot_handle, cr_rgs_action_fn emit, void *ud, char *err,
                       size_t errlen)
{
    if (!r || !ev) {
        snprintf(err, errlen, "rgs_event_typed: NULL argument");
        return CR_ABI_EINVAL;
    }
    if (ev->size < offsetof(cr_rgs_typed_event, call_id) + sizeof ev->call_id) {
        snprintf(err, errlen, "rgs_event_typed: event size %u too small", (unsigned)ev->size);
        return CR_ABI_EINVAL;
    }
    if (ev->type < CR_RGS_EVENT_CALL || ev->type > CR_RGS_EVENT_NO_ANSWER) {
        snprintf(err, errlen, "rgs_event_typed: unknown event type %d", ev->type);
        return CR_ABI_EINVAL;
    }
    cr_rgs_input in = {.type = (cr_rgs_event_type)ev->type,
                       .call = ev->call,
                       .call_id = ev->call_id,
                       .from = ev->from,
                       .to = ev->to,
                       .agent = ev->agent,
                       .group = ev->group,
                       .presence = ev->presence,
                       .text = ev->text,
                       .slot_handle = slot_handle};
    typed_sink t = {emit, ud};
    r->act = emit, r->ud = ud;
    int rc = cr_rgs_engine_input(r->engine, at_ms, &in, typed_out, &t, err, errlen);
    r->act = NULL;
    return rc;
}

int crp_rgs_event_typed(cr_rgs *r, int64_t at_ms, const cr_rgs_typed_event *ev,
                        cr_rgs_action_fn emit, void *ud, char *err, size_t errlen)
{
    char dummy[4];
    if (!err || !errlen)
        err = dummy, errlen = sizeof dummy;
    err[0] = 0;
    return event_typed(r, at_ms, ev, NULL, emit, ud, err, errlen);
}

int crp_rgs_call_typed(cr_rgs *r, int64_t at_ms, const cr_rgs_typed_event *ev, uint64_t *call,
                       cr_rgs_action_fn emit, void *ud, char *err, size_t errlen)
{
    char dummy[4];
    if (!err || !errlen)
        err = dummy, errlen = sizeof dummy;
    err[0] = 0;
    if (call)
        *call = 0;
    if (!call || (ev && ev->size >= offsetof(cr_rgs_typed_event, call) + sizeof ev->call &&
                  (ev->type != CR_RGS_EVENT_CALL || ev->call != 0))) {
        snprintf(err, errlen, "rgs_call_typed: %s",
                 !call ? "NULL argument" : "not a CALL event with call 0");
        return CR_ABI_EINVAL;
    }
    return event_typed(r, at_ms, ev, call, emit, ud, err, errlen);
}

int64_t crp_rgs_advance_typed(cr_rgs *r, int64_t now_ms, cr_rgs_action_fn emit, void *ud)
{
    if (!r)
        return -1;
    typed_sink t = {emit, ud};
    r->act = emit, r->ud = ud;
    int64_t next = cr_rgs_engine_run(r->engine, now_ms, typed_out, &t);
    r->act = NULL;
    return next;
}

int64_t crp_rgs_next_deadline(cr_rgs *r)
{
    return r ? cr_rgs_engine_next_deadline(r->engine) : -1;
}

uint32_t crp_rgs_agent_id(cr_rgs *r, const char *uri)
{
    return r ? cr_rgs_engine_agent_id(r->engine, uri) : 0;
}

uint32_t crp_rgs_group_id(cr_rgs *r, const char *name)
{
    return r ? cr_rgs_engine_group_id(r->engine, name) : 0;
}

const char *crp_rgs_agent_uri(cr_rgs *r, uint32_t agent)
{
    return r ? cr_rgs_engine_agent_uri(r->engine, agent) : NULL;
}

const char *crp_rgs_group_name(cr_rgs *r, uint32_t group)
{
    return r ? cr_rgs_engine_group_name(r->engine, group) : NULL;
}

uint64_t crp_rgs_call_handle(cr_rgs *r, const char *call_id)
{
    return r ? cr_rgs_engine_call_handle(r->engine, call_id) : 0;
}

size_t crp_rgs_call_id(cr_rgs *r, uint64_t call, char *buf, size_t len)
{
    const char *id = r ? cr_rgs_engine_call_id(r->engine, call) : NULL;
    if (!id) {
        if (buf && len)
            buf[0] = 0;
        return 0;
    }
    size_t n = strlen(id);
    if (buf && len) {
        size_t k = n < len - 1 ? n : len - 1;
        memcpy(buf, id, k);
        buf[k] = 0;
    }
    return n;
}

int crp_rgs_stats(cr_rgs *r, int64_t at_ms, uint32_t workflow, cr_rgs_stats *out)
{
    if (!r || !out || out->size < offsetof(cr_rgs_stats, workflow) + sizeof out->workflow)
        return CR_ABI_EINVAL;
    cr_rgs_workflow_stats st;
    int rc = cr_rgs_engine_workflow_stats(r->engine, workflow, at_ms, &st);
    if (rc != CR_OK)
        return rc;
    const cr_rgs_workflow *wf = &r->cfg->workflows[workflow];
    cr_rgs_stats full = {.size = out->size,
                         .workflow = wf->name,
                         .uri = wf->uri,
                         .offered = st.offered,
                         .answered = st.answered,
                         .abandoned = st.abandoned,
                         .timed_out = st.timed_out,
                         .overflowed = st.overflowed,
                         .after_hours = st.after_hours,
                         .holiday = st.holiday,
                         .waiting = st.waiting,
                         .longest_wait_ms = st.longest_wait_ms,
                         .agents_signed_in = st.agents_signed_in};
    /* only what the host's struct holds */
    memcpy(out, &full, out->size < sizeof full ? out->size : sizeof full);
    return CR_ABI_OK;
}

typedef struct snap {
    cr_result *res;
    const cr_rgs_config *cfg;
    bool oom;
    uint64_t waiting, ringing;
    int64_t longest;
} snap;

static void snap_call(void *ud, const cr_rgs_call_info *ci)
{
    snap *s = ud;
    ritem *it = crp_add_item(s->res, "calls");
    if (!it) {
        s->oom = true;
        return;
    }
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)ci->call);
    crp_set_str(s->res, it, "queue", s->cfg->queues[ci->queue].name);
    crp_set_json(s->res, it, "call", num); /* a uint64 does not fit a double */
    crp_set_str(s->res, it, "id", ci->call_id);
    crp_set_str(s->res, it, "caller", ci->from);
    crp_set_num(s->res, it, "waited_s", (double)ci->waited_ms / 1000.0);
    crp_set_str(s->res, it, "state", ci->state == CR_RGS_CALL_RINGING ? "ringing" : "waiting");
    *(ci->state == CR_RGS_CALL_RINGING ? &s->ringing : &s->waiting) += 1;
    if (ci->waited_ms > s->longest)
        s->longest = ci->waited_ms;
}

static void snap_agents(cr_rgs *r, snap *s)
{
    static const char *const presences[] = {"available", "busy", "away", "dnd", "offline"};
    for (uint32_t a = 1; a <= r->cfg->nagents && !s->oom; a++) {
        cr_rgs_agent_info ai;
        ritem *it = crp_add_item(s->res, "agents");
        if (!it || cr_rgs_engine_agent_info(r->engine, a, &ai) != CR_OK) {
            s->oom = true;
            break;
        }
        crp_set_str(s->res, it, "agent", ai.uri);
        crp_set_str(s->res, it, "presence", presences[ai.presence]);
        crp_set_str(s->res, it, "state", ai.calls ? "on_call" : ai.ringing ? "ringing" : "idle");
        crp_set_num(s->res, it, "calls", ai.calls);
        crp_set_num(s->res, it, "answered", (double)ai.answered);
    }
    for (size_t g = 0; g < r->cfg->ngroups && !s->oom; g++) {
        const cr_rgs_group *cg = &r->cfg->groups[g];
        for (size_t p = 0; p < cg->nagents; p++) {
            ritem *it = crp_add_item(s->res, "memberships");
            if (!it) {
                s->oom = true;
                break;
            }
            crp_set_str(s->res, it, "agent", r->cfg->agents[cg->agents[p]].uri);
            crp_set_str(s->res, it, "group", cg->name);
            crp_set_bool(s->res, it, "formal", cg->formal);
            crp_set_bool(s->res, it, "signed_in", cr_rgs_engine_signed_in(r->engine, g, p));
        }
    }
}

int crp_rgs_snapshot(cr_rgs *r, int64_t at_ms, cr_result **out)
{
    if (!out)
        return CR_ABI_EINVAL;
    *out = NULL;
    if (!r)
        return CR_ABI_EINVAL;
    snap s = {.res = crp_result_new("rgs_snapshot", 0), .cfg = r->cfg};
    if (!s.res)
        return CR_ABI_ENOMEM;
    crp_list(s.res, "queues");
    crp_list(s.res, "calls");
    crp_list(s.res, "agents");
    crp_list(s.res, "memberships");
    for (size_t q = 0; q < r->cfg->nqueues && !s.oom; q++) {
        s.waiting = s.ringing = 0;
        s.longest = 0;
        cr_rgs_engine_calls(r->engine, (long)q, at_ms, snap_call, &s);
        ritem *it = crp_add_item(s.res, "queues");
        if (!it) {
            s.oom = true;
            break;
        }
        crp_set_str(s.res, it, "queue", r->cfg->queues[q].name);
        crp_set_num(s.res, it, "waiting", (double)s.waiting);
        crp_set_num(s.res, it, "ringing", (double)s.ringing);
        crp_set_num(s.res, it, "longest_wait_s", (double)s.longest / 1000.0);
    }
    snap_agents(r, &s);
    if (s.oom) {
        crp_result_free(s.res);
        return CR_ABI_ENOMEM;
    }
    *out = s.res;
    return CR_ABI_OK;
}

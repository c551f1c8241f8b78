/* The plugin table's response-group functions: an engine (workflows/cr_rgs.h) over the
 * response groups of the handle's configuration file, with a Lua IVR driver (lua/cr_lua.h,
 * one Lua state per engine) when the configuration has IVR scripts. */
#include "rgs_abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_lua.h"
#include "cr_rgs.h"
#include "cr_rgs_xml.h"
#include "handle.h"

struct cr_rgs {
    cr_rgs_config *cfg;
    cr_rgs_engine *engine;
    cr_lua_ivr *lua;      /* NULL when no IVR script could be loaded */
    bool log;             /* queue event log lines are emitted as ("-", "log", line) */
    crp_rgs_emit_fn emit; /* of the call in progress, for the log */
    void *ud;
};

static void on_log(void *ud, int64_t at_ms, const char *line)
{
    cr_rgs *r = ud;
    if (r->log && r->emit)
        r->emit(r->ud, at_ms, "-", "log", line);
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
    cr_rgs *r = ud;
    if (!r->emit)
        return;
    char args[640];
    snprintf(args, sizeof args, "%s%s%s", key, value[0] ? " " : "", value);
    r->emit(r->ud, at_ms, call, "set", args);
}

/* The Lua driver, when some workflow is an IVR. A configuration whose IVR scripts all fail
 * to load keeps the engine's behaviour without a driver (hangup no_ivr); the failures are
 * logged. */
static int open_lua(cr_rgs *r, char *err, size_t errlen)
{
    bool ivr = false;
    for (size_t i = 0; i < r->cfg->nworkflows; i++)
        ivr |= r->cfg->workflows[i].type == CR_RGS_IVR;
    if (!ivr)
        return CR_OK;
    cr_lua_options lo = {
        .check_mtime = true, .log = on_ivr_log, .log_ud = r, .set = on_ivr_set, .set_ud = r};
    int rc = cr_lua_ivr_open(r->cfg, &lo, &r->lua, err, errlen);
    if (rc != CR_OK)
        return rc;
    cr_lua_stats st;
    cr_lua_ivr_stats(r->lua, &st);
    if (st.scripts_ok == 0) {
        cr_lua_ivr_close(r->lua);
        r->lua = NULL;
    }
    return CR_OK;
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

int crp_rgs_open(cr_handle *h, int64_t start_unix_ms, const char *state_dir, cr_rgs **out,
                 char *err, size_t errlen)
{
    char dummy[4];
    if (!err)
        err = dummy, errlen = sizeof dummy;
    if (!h || !out) {
        snprintf(err, errlen, "rgs_open: NULL argument");
        return CR_ABI_EINVAL;
    }
    *out = NULL;
    const char *path = crp_handle_path(h);
    cr_rgs *r = calloc(1, sizeof *r);
    if (!r)
        return CR_ABI_ENOMEM;
    cr_diag diag;
    cr_diag_init(&diag);
    cr_load_options lo = crp_handle_load_options(h);
    int rc = cr_rgs_xml_load_ex(path, &lo, &r->cfg, &diag);
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
        .start_unix_ms = start_unix_ms, .state_dir = state_dir, .ivr = cr_lua_ivr_driver(r->lua)};
    rc = cr_rgs_engine_open(r->cfg, &opt, &r->engine, err, errlen);
    if (rc != CR_OK) {
        cr_lua_ivr_close(r->lua);
        cr_rgs_config_free(r->cfg);
        free(r);
        return rc;
    }
    *out = r;
    return CR_ABI_OK;
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

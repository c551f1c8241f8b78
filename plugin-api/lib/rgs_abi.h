/* The response-group slots of the plugin table (callroute.h: rgs_open ... rgs_close). */
#ifndef CRP_RGS_ABI_H
#define CRP_RGS_ABI_H

#include "callroute.h"

typedef void (*crp_rgs_emit_fn)(void *ud, int64_t at_ms, const char *call_id, const char *action,
                                const char *args);

/* Loads the handle's <responseGroups> (cr_rgs_xml_load on its path) and starts an engine.
 * Errors (configuration, state directory) go to err as "file:line: error: ..." lines. */
int crp_rgs_open(cr_handle *h, int64_t start_unix_ms, const char *state_dir, cr_rgs **out,
                 char *err, size_t errlen);
/* Parses one event ("call c1 sip:a sip:b", ...) and feeds it at at_ms. Control events:
 * "log on" / "log off" (queue and IVR event log as ("-", "log", line) actions), "stats",
 * "reload" (recompile changed IVR scripts; calls in progress keep theirs), "reload force".
 * An IVR script's call:set(key, value) is emitted as (call id, "set", "key value"). CR_ABI_EINVAL
 * for a malformed event; CR_ABI_ENOENT / CR_ABI_ESTATE when it names an unknown call, agent or
 * group or does not fit the call's state (nothing done); CR_ABI_EIO if the state could not
 * be written. */
int crp_rgs_event(cr_rgs *r, int64_t at_ms, const char *event, crp_rgs_emit_fn emit, void *ud,
                  char *err, size_t errlen);
/* Runs timers due up to now_ms; returns the next deadline or -1. */
int64_t crp_rgs_advance(cr_rgs *r, int64_t now_ms, crp_rgs_emit_fn emit, void *ud);
void crp_rgs_close(cr_rgs *r);

/* ABI 1.5 (callroute.h "typed response groups"): rgs_open with options, the typed event
 * path (one cr_rgs_engine_input, no text), handles and names, stats and the snapshot. */
int crp_rgs_open_ex(cr_handle *h, const cr_rgs_open_options *opts, cr_rgs **out, char *err,
                    size_t errlen);
int crp_rgs_event_typed(cr_rgs *r, int64_t at_ms, const cr_rgs_typed_event *ev,
                        cr_rgs_action_fn emit, void *ud, char *err, size_t errlen);
int64_t crp_rgs_advance_typed(cr_rgs *r, int64_t now_ms, cr_rgs_action_fn emit, void *ud);
int64_t crp_rgs_next_deadline(cr_rgs *r);
uint32_t crp_rgs_agent_id(cr_rgs *r, const char *uri);
uint32_t crp_rgs_group_id(cr_rgs *r, const char *name);
const char *crp_rgs_agent_uri(cr_rgs *r, uint32_t agent);
const char *crp_rgs_group_name(cr_rgs *r, uint32_t group);
uint64_t crp_rgs_call_handle(cr_rgs *r, const char *call_id);
size_t crp_rgs_call_id(cr_rgs *r, uint64_t call, char *buf, size_t len);
int crp_rgs_stats(cr_rgs *r, int64_t at_ms, uint32_t workflow, cr_rgs_stats *out);
int crp_rgs_snapshot(cr_rgs *r, int64_t at_ms, cr_result **out);
/* ABI 1.13: a CALL event whose handle the engine gives (one that names the call's slot). */
int crp_rgs_call_typed(cr_rgs *r, int64_t at_ms, const cr_rgs_typed_event *ev, uint64_t *call,
                       cr_rgs_action_fn emit, void *ud, char *err, size_t errlen);

#endif

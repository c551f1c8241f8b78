/*
 * callroute.so: the match maker's side of media (issue 13): the engine's PLAY and MOH
 * actions become rtpengine "play media" on the caller's session; a prompt's end (its
 * duration as rtpengine reports it) comes back as PROMPT_DONE; rtpengine's DTMF events
 * (modparam rtpengine_dtmf) come back as DTMF. crg_mm.c feeds both to the engine.
 */
#include <string.h>

#include "core/dprint.h"

#include "callroute_mod.h"
#include "crg_rgs.h"
#include "crm_media.h"
#include "crm_media_mm.h"

#define CRM_PROMPTS 4096

static struct {
    uint64_t call;
    int64_t due;
} crm_pr[CRM_PROMPTS];
static int crm_npr;
static int crm_dtmf_fd = -1;

/* The call's session ids (under the table's lock); 0 when it has no media. */
static int crm_ids(uint64_t call, char *callid, char *ftag)
{
    crg_call *c;
    int media = 0;

    lock_get(&crg_sh->lock);
    c = crg_find(call);
    if (c && c->media && !c->connected) {
        media = 1;
        memcpy(callid, c->callid, CRG_CALLID);
        memcpy(ftag, c->ftag, CRG_TAG);
    }
    lock_release(&crg_sh->lock);
    return media;
}

static void crm_prompt_at(uint64_t call, int64_t due)
{
    int i;

    for (i = 0; i < crm_npr && crm_pr[i].call != call; i++)
        ;
    if (i == CRM_PROMPTS) {
        LM_WARN("response groups: too many prompts playing; this one ends at once\n");
        crm_pr[0].call = call; /* never lose a prompt's end: the oldest entry goes */
        crm_pr[0].due = due;
        return;
    }
    crm_pr[i].call = call;
    crm_pr[i].due = due;
    if (i == crm_npr)
        crm_npr++;
}

static void crm_prompt_forget(uint64_t call)
{
    int i;

    for (i = 0; i < crm_npr; i++)
        if (crm_pr[i].call == call) {
            crm_pr[i] = crm_pr[--crm_npr];
            return;
        }
}

void crm_mm_stop(uint64_t call)
{
    char callid[CRG_CALLID], ftag[CRG_TAG];

    crm_prompt_forget(call);
    if (crm_ids(call, callid, ftag))
        crm_media_stop(callid, ftag);
}

int crm_mm_play(const cr_rgs_typed_action *a)
{
    char callid[CRG_CALLID], ftag[CRG_TAG];
    const char *file = a->arg;
    int loop = a->type == CR_RGS_ACTION_MOH;
    int64_t dur;

    if (!crm_ids(a->call, callid, ftag))
        return 0;
    if (loop && (file == NULL || *file == '\0' || strcmp(file, "default") == 0))
        file = "default.wav";
    if (loop)
        crm_prompt_forget(a->call); /* music replaces whatever played */
    if (crm_media_play(callid, ftag, file, loop, &dur) < 0)
        return 0;
    LM_INFO("response groups: %s %s to %s (%lld ms)\n", loop ? "music on hold" : "prompt", file,
            callid, (long long)dur);
    if (loop)
        return 1;
    if (dur < 0)
        return 0; /* rtpengine did not say how long: the prompt counts as played */
    crm_prompt_at(a->call, crg_mono_ms() + dur);
    return 1;
}

int crm_mm_timeout(int timeout)
{
    int64_t now = crg_mono_ms(), d;
    int i;

    for (i = 0; i < crm_npr; i++) {
        d = crm_pr[i].due - now;
        if (d < 0)
            d = 0;
        if (d < timeout)
            timeout = (int)d;
    }
    return timeout;
}

int crm_mm_prompt_done(uint64_t *call)
{
    int64_t now = crg_mono_ms();
    int i;

    for (i = 0; i < crm_npr; i++)
        if (crm_pr[i].due <= now) {
            *call = crm_pr[i].call;
            crm_pr[i] = crm_pr[--crm_npr];
            return 1;
        }
    return 0;
}

int crm_mm_dtmf_fd(void)
{
    if (crm_dtmf_fd < 0)
        crm_dtmf_fd = crm_dtmf_open();
    return crm_dtmf_fd;
}

int crm_mm_dtmf(uint64_t *call, char *key)
{
    char callid[CRG_CALLID], tag[CRG_TAG];
    int r;

    while ((r = crm_dtmf_read(crm_dtmf_fd, callid, sizeof(callid), tag, sizeof(tag), key)) >= 0) {
        if (r == 0)
            continue;
        *call = crg_find_media(callid, tag);
        if (*call) {
            LM_INFO("response groups: DTMF %c from %s\n", *key, callid);
            return 1;
        }
        LM_DBG("DTMF %c of %s (tag %s): not a caller of a queued call\n", *key, callid, tag);
    }
    return 0;
}

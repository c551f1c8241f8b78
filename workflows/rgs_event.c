/* The text form of events and actions (`callroute simulate`): parsing one event line
 * (without its time), and the layer over the typed entry that resolves names and formats
 * actions. */
#include "rgs_engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    cr_rgs_event_type type;
    int min, max; /* argument count; the last runs to the end of the line */
    const char *usage;
} events[] = {
    {"call", CR_RGS_EV_CALL, 3, 3, "call <id> <from-uri> <to-uri>"},
    {"presence", CR_RGS_EV_PRESENCE, 2, 2, "presence <agent-uri> <state>"},
    {"signin", CR_RGS_EV_SIGNIN, 1, 2, "signin <agent-uri> [group]"},
    {"signout", CR_RGS_EV_SIGNOUT, 1, 2, "signout <agent-uri> [group]"},
    {"dtmf", CR_RGS_EV_DTMF, 2, 2, "dtmf <id> <digits>"},
    {"speech", CR_RGS_EV_SPEECH, 2, 2, "speech <id> <text>"},
    {"prompt_done", CR_RGS_EV_PROMPT_DONE, 1, 1, "prompt_done <id>"},
    {"answer", CR_RGS_EV_ANSWER, 2, 2, "answer <id> <agent-uri>"},
    {"decline", CR_RGS_EV_DECLINE, 2, 2, "decline <id> <agent-uri>"},
    {"hangup", CR_RGS_EV_HANGUP, 1, 1, "hangup <id>"},
    {"agent_hangup", CR_RGS_EV_AGENT_HANGUP, 1, 1, "agent_hangup <id>"},
    {"no_answer", CR_RGS_EV_NO_ANSWER, 2, 2, "no_answer <id> <agent-uri>"},
};

static const char *presences[] = {"available", "busy", "away", "dnd", "offline"};

static char *skip_ws(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int cr_rgs_event_parse(const char *text, cr_rgs_event *ev, char *err, size_t errlen)
{
    /* not memset: buf is 1 KB and only its first n + 1 bytes are used */
    ev->type = CR_RGS_EV_CALL;
    ev->a = ev->b = ev->c = NULL;
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ' ||
                 text[n - 1] == '\t'))
        n--;
    if (n >= sizeof ev->buf) {
        snprintf(err, errlen, "event too long");
        return CR_EINVAL;
    }
    memcpy(ev->buf, text, n);
    ev->buf[n] = 0;
    char *p = skip_ws(ev->buf), *word = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (*p)
        *p++ = 0;
    size_t k;
    for (k = 0; k < sizeof events / sizeof *events; k++)
        if (strcmp(events[k].name, word) == 0)
            break;
    if (k == sizeof events / sizeof *events) {
        snprintf(err, errlen, "unknown event '%s'", word);
        return CR_EINVAL;
    }
    ev->type = events[k].type;
    const char **args[3] = {&ev->a, &ev->b, &ev->c};
    int got = 0;
    for (p = skip_ws(p); *p && got < events[k].max; p = skip_ws(p)) {
        *args[got++] = p;
        if (got == events[k].max)
            break; /* the last argument runs to the end of the line */
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = 0;
    }
    if (got < events[k].min) {
        snprintf(err, errlen, "usage: %s", events[k].usage);
        return CR_EINVAL;
    }
    if (ev->type == CR_RGS_EV_PRESENCE) {
        size_t i;
        for (i = 0; i < sizeof presences / sizeof *presences; i++)
            if (strcmp(presences[i], ev->b) == 0)
                break;
        if (i == sizeof presences / sizeof *presences) {
            snprintf(err, errlen, "unknown presence '%s' (available|busy|away|dnd|offline)", ev->b);
            return CR_EINVAL;
        }
    }
    if (ev->type == CR_RGS_EV_CALL && (strchr(ev->c, ' ') || strchr(ev->c, '\t'))) {
        snprintf(err, errlen, "usage: %s", events[k].usage);
        return CR_EINVAL;
    }
    return CR_OK;
}

/* ---- the text layer over cr_rgs_engine_input ------------------------------------------------ */

static const char *const out_names[] = {"answer", "play",   "collect",  "moh",       "ring",
                                        "cancel", "bridge", "transfer", "voicemail", "hangup"};

const char *cr_rgs_out_name(cr_rgs_out_type type)
{
    return (unsigned)type < sizeof out_names / sizeof *out_names ? out_names[type] : "?";
}

const char *cr_rgs_out_args(const cr_rgs_engine *e, const cr_rgs_output *out, char *buf, size_t len)
{
    if (!out->nagents)
        return out->arg ? out->arg : "";
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < out->nagents; i++) {
        const char *u = cr_rgs_engine_agent_uri(e, out->agents[i]);
        size_t l = strlen(u ? u : "");
        if (off + l + 2 > len)
            break;
        if (i)
            buf[off++] = ' ';
        memcpy(buf + off, u, l);
        off += l;
        buf[off] = 0;
    }
    return buf;
}

typedef struct text_sink {
    const cr_rgs_engine *e;
    cr_rgs_emit_fn emit;
    void *ud;
} text_sink;

static void text_out(void *ud, int64_t at_ms, const cr_rgs_output *out)
{
    const text_sink *t = ud;
    if (!t->emit)
        return;
    char stackbuf[4096], *buf = stackbuf;
    size_t need = 1;
    for (size_t i = 0; i < out->nagents; i++) {
        const char *u = cr_rgs_engine_agent_uri(t->e, out->agents[i]);
        need += strlen(u ? u : "") + 1;
    }
    if (need > sizeof stackbuf && !(buf = malloc(need)))
        return;
    t->emit(t->ud, at_ms, out->call_id, cr_rgs_out_name(out->type),
            cr_rgs_out_args(t->e, out, buf, need > sizeof stackbuf ? need : sizeof stackbuf));
    if (buf != stackbuf)
        free(buf);
}

int64_t cr_rgs_engine_advance(cr_rgs_engine *e, int64_t now_ms, cr_rgs_emit_fn emit, void *ud)
{
    text_sink t = {e, emit, ud};
    return cr_rgs_engine_run(e, now_ms, text_out, &t);
}

/* The typed event of a parsed text event: names resolved to handles. */
static int resolve(cr_rgs_engine *e, const cr_rgs_event *ev, cr_rgs_input *in, char *err,
                   size_t errlen)
{
    memset(in, 0, sizeof *in);
    in->type = ev->type;
    const char *agent = NULL;
    switch (ev->type) {
    case CR_RGS_EV_CALL:
        in->call_id = ev->a, in->from = ev->b, in->to = ev->c;
        return CR_OK;
    case CR_RGS_EV_PRESENCE:
        agent = ev->a;
        while (in->presence < CR_RGS_PRES_OFFLINE && strcmp(presences[in->presence], ev->b))
            in->presence++;
        break;
    case CR_RGS_EV_SIGNIN:
    case CR_RGS_EV_SIGNOUT:
        agent = ev->a;
        break;
    default:
        if (!(in->call = cr_rgs_engine_call_handle(e, ev->a))) {
            snprintf(err, errlen, "unknown call '%s'", ev->a);
            return CR_ENOENT;
        }
        if (ev->type == CR_RGS_EV_ANSWER || ev->type == CR_RGS_EV_DECLINE ||
            ev->type == CR_RGS_EV_NO_ANSWER)
            agent = ev->b;
        else
            in->text = ev->b;
        break;
    }
    if (agent && !(in->agent = cr_rgs_engine_agent_id(e, agent))) {
        snprintf(err, errlen, "unknown agent '%s'", agent);
        return CR_ENOENT;
    }
    if ((ev->type == CR_RGS_EV_SIGNIN || ev->type == CR_RGS_EV_SIGNOUT) && ev->b &&
        !(in->group = cr_rgs_engine_group_id(e, ev->b))) {
        snprintf(err, errlen, "unknown group '%s'", ev->b);
        return CR_ENOENT;
    }
    return CR_OK;
}

int cr_rgs_engine_event(cr_rgs_engine *e, int64_t at_ms, const cr_rgs_event *ev,
                        cr_rgs_emit_fn emit, void *ud, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen)
        err = dummy, errlen = sizeof dummy;
    err[0] = 0;
    text_sink t = {e, emit, ud};
    /* timers first, as the engine does, so that names resolve against the calls after them */
    cr_rgs_engine_run(e, at_ms, text_out, &t);
    cr_rgs_input in;
    int rc = resolve(e, ev, &in, err, errlen);
    if (rc != CR_OK)
        return rc;
    return cr_rgs_engine_input(e, at_ms, &in, text_out, &t, err, errlen);
}

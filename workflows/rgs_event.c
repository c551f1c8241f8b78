/* Parsing one event line of the simulate format (without its time). */
#include "cr_rgs.h"

#include <stdio.h>
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

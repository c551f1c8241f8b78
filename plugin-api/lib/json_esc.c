/* JSON string escaping: quotes, backslashes, control characters and invalid UTF-8. */
#include "json_esc.h"

#include <stdio.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence starting at p (Unicode 15, table 3-7), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    /* a NUL ends the string and is no continuation byte, so this never reads past it */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

void crp_json_escape(const char *s, crp_json_put put, void *ud)
{
    if (!s) {
        put(ud, "null", 4);
        return;
    }
    put(ud, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *run = p;
    for (; *p; p++) {
        char e[8];
        const char *rep = NULL;
        size_t rl = 0;
        if (*p >= 0x80) {
            size_t n = utf8_len(p);
            if (n) {
                p += n - 1; /* stays in the run copied as is */
                continue;
            }
            rep = "\xef\xbf\xbd", rl = 3;
        } else if (*p == '"' || *p == '\\') {
            e[0] = '\\', e[1] = (char)*p, rep = e, rl = 2;
        } else if (*p == '\n') {
            rep = "\\n", rl = 2;
        } else if (*p == '\t') {
            rep = "\\t", rl = 2;
        } else if (*p == '\r') {
            rep = "\\r", rl = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            rl = (size_t)snprintf(e, sizeof e, "\\u%04x", *p), rep = e;
        } else {
            continue;
        }
        if (p > run)
            put(ud, (const char *)run, (size_t)(p - run));
        put(ud, rep, rl);
        run = p + 1;
    }
    if (p > run)
        put(ud, (const char *)run, (size_t)(p - run));
    put(ud, "\"", 1);
}

size_t crp_json_escape_to(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        memcpy(dst, "null", 4);
        return 4;
    }
    char *o = dst;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *o++ = (char)c, p++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_len(p);
            if (n) {
                memcpy(o, p, n), o += n, p += n;
            } else {
                memcpy(o, "\xef\xbf\xbd", 3), o += 3, p++;
            }
            continue;
        }
        *o++ = '\\';
        if (c == '"' || c == '\\')
            *o++ = (char)c;
        else if (c == '\n')
            *o++ = 'n';
        else if (c == '\t')
            *o++ = 't';
        else if (c == '\r')
            *o++ = 'r';
        else /* the other control characters and DEL, as snprintf's "\\u%04x" */
            *o++ = 'u', *o++ = '0', *o++ = '0', *o++ = hex[c >> 4], *o++ = hex[c & 15];
        p++;
    }
    *o++ = '"';
    return (size_t)(o - dst);
}

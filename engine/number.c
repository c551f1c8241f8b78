/*
 * Dialed strings taken apart (cr_number_parse): tel: and sip: URIs with their phone-context
 * and ext parameters, visual separators, E.164.
 */
#include "model.h"
#include "route_index.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool ce_is_e164(const char *s)
{
    if (!s || s[0] != '+')
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9')
            return false;
    return n >= 1 && n <= 15;
}

/* Checks and copies one ;name= parameter value; false (with *why) when it was given
 * before, is too long, or holds a control character or a percent-encoding. */
static bool param_copy(const char *v, size_t vl, bool *seen, char *out, size_t len, bool ext,
                       const char **why)
{
    if (*seen) {
        *why = ext ? "duplicate ;ext= parameter" : "duplicate ;phone-context= parameter";
        return false;
    }
    *seen = true;
    if (vl >= len) {
        *why = ext ? ";ext= value is too long" : ";phone-context= value is too long";
        return false;
    }
    for (size_t i = 0; i < vl; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f || c == '%') {
            *why = ext ? ";ext= value has a control or percent-encoded character"
                       : ";phone-context= value has a control or percent-encoded character";
            return false;
        }
    }
    memcpy(out, v, vl);
    out[vl] = 0;
    return true;
}

/* Reads ;phone-context= and ;ext= (names in any case) from a ';'-separated parameter list
 * [p, end); false (with out->invalid) for a duplicate or an unusable value. */
static bool parse_params(const char *p, const char *end, cr_number *out)
{
    bool have_context = false, have_ext = false;
    while (p && p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        size_t n = (size_t)(stop - p);
        bool ok = true;
        if (n >= 14 && strncasecmp(p, "phone-context=", 14) == 0)
            ok = param_copy(p + 14, n - 14, &have_context, out->context, sizeof out->context, false,
                            &out->invalid);
        else if (n >= 4 && strncasecmp(p, "ext=", 4) == 0)
            ok =
                param_copy(p + 4, n - 4, &have_ext, out->ext, sizeof out->ext, true, &out->invalid);
        if (!ok)
            return false;
        p = semi ? semi + 1 : NULL;
    }
    return true;
}

/* What parse_plain does with a character: keep it (the alphabet; '+' only first), skip it (a
 * visual separator; a space only before another character), stop (the NUL), or give up. */
enum { P_OTHER = 0, P_KEEP, P_PLUS, P_SEP, P_SPACE, P_END };
static const uint8_t plain_class[256] = {
    [0] = P_END,   ['0' ... '9'] = P_KEEP, ['*'] = P_KEEP, ['#'] = P_KEEP, ['+'] = P_PLUS,
    ['-'] = P_SEP, ['.'] = P_SEP,          ['('] = P_SEP,  [')'] = P_SEP,  [' '] = P_SPACE,
};

/* A bare number of the alphabet with visual separators only ("+1 (425) 555-0100", "911"):
 * one pass, no parameters. False when `in` needs the general parse (which then gives the
 * same answer from the start): parameters, a trailing space or '>', anything else, more than
 * CR_NUMBER_MAX characters kept, or 1,024 characters or more before the NUL (checked where a
 * position can reach it: at a separator and at the end, CR_NUMBER_MAX < 1,024 being kept). */
static bool parse_plain(const char *in, cr_number *out)
{
    size_t o = 0;
    for (const char *p = in;; p++) {
        unsigned k = plain_class[(unsigned char)*p];
        if (k == P_KEEP || (k == P_PLUS && o == 0)) {
            if (o >= CR_NUMBER_MAX)
                return false;
            out->digits[o++] = *p;
            continue;
        }
        if (p - in >= 1024)
            return false;
        if (k == P_END)
            break;
        if (k != P_SEP && !(k == P_SPACE && p[1]))
            return false;
    }
    if (o == 0)
        return false;
    out->digits[o] = 0;
    out->ndigits = o;
    out->dialable = !(o == 1 && out->digits[0] == '+');
    return true;
}

bool cr_line_ext_ok(const char *line)
{
    for (const char *p = strchr(line, ';'); p; p = strchr(p + 1, ';')) {
        if (strncasecmp(p + 1, "ext=", 4) != 0)
            continue;
        size_t n = strcspn(p + 5, ";");
        return n > 0 && strspn(p + 5, "0123456789") >= n;
    }
    return true;
}

int cr_number_parse(const char *in, cr_number *out)
{
    bool plain;
    return ce_number_parse(in, out, &plain);
}

int ce_number_parse(const char *in, cr_number *out, bool *plain)
{
    return ce_number_parse_in_line(in, out, plain);
}

/* cr_number_parse of anything else (its start already cleared; ce_parse_digits `tried` on `in`
 * already). */
__attribute__((noinline)) int ce_number_parse_any(const char *in, cr_number *out, bool tried)
{
    while (*in == ' ' || *in == '<')
        in++;
    if ((*in >= '0' && *in <= '9') || *in == '+' || *in == '*' || *in == '#') {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (!tried && ce_parse_digits(in, out))
            return CR_OK;
#endif
        if (parse_plain(in, out))
            return CR_OK;
    }
    size_t len = strlen(in);
    while (len &&
           (in[len - 1] == ' ' || in[len - 1] == '>' || in[len - 1] == '\n' || in[len - 1] == '\r'))
        len--;
    if (len == 0 || len > 1024)
        return CR_EINVAL;
    const char *user = in, *uend = in + len;
    const char *params = NULL, *pend = NULL;
    if (len > 4 && strncasecmp(in, "tel:", 4) == 0) {
        user = in + 4;
        const char *semi = memchr(user, ';', (size_t)(uend - user));
        if (semi) {
            params = semi + 1;
            pend = uend;
            uend = semi;
        }
    } else if ((len > 4 && strncasecmp(in, "sip:", 4) == 0) ||
               (len > 5 && strncasecmp(in, "sips:", 5) == 0)) {
        out->is_sip = true;
        out->secure = in[3] != ':';
        user = in + (in[3] == ':' ? 4 : 5);
        const char *at = memchr(user, '@', (size_t)(uend - user));
        if (at) {
            const char *h = at + 1, *hend = h;
            while (hend < in + len && *hend != ';' && *hend != ':' && *hend != '?' && *hend != '>')
                hend++;
            size_t hl = (size_t)(hend - h);
            if (hl == 0) {
                out->invalid = "a SIP URI with '@' and no host";
                return CR_EINVAL;
            }
            if (hl >= sizeof out->host)
                return CR_EINVAL;
            memcpy(out->host, h, hl);
            out->host[hl] = 0;
            uend = at;
        }
        const char *semi = memchr(user, ';', (size_t)(uend - user));
        if (semi) {
            params = semi + 1;
            pend = uend;
            uend = semi;
        }
    } else {
        /* bare digits, possibly with parameters: "5550100;phone-context=Redmond" */
        const char *semi = memchr(in, ';', len);
        if (semi) {
            params = semi + 1;
            pend = in + len;
            uend = semi;
        }
    }
    if (params && !parse_params(params, pend, out))
        return CR_EINVAL;
    size_t o = 0;
    for (const char *p = user; p < uend; p++) {
        if (cr_is_visual_separator(*p))
            continue;
        if (o >= CR_NUMBER_MAX) {
            out->digits[o] = 0;
            out->ndigits = o;
            return CR_EINVAL;
        }
        out->digits[o++] = *p;
    }
    out->digits[o] = 0;
    out->ndigits = o;
    if (o == 0)
        return CR_EINVAL;
    bool ok = true;
    for (size_t i = 0; i < o; i++) {
        char c = out->digits[i];
        if (!((c >= '0' && c <= '9') || c == '*' || c == '#' || (c == '+' && i == 0)))
            ok = false;
    }
    out->dialable = ok && !(o == 1 && out->digits[0] == '+');
    return CR_OK;
}

/* The POSIX TZ rule of a TZif footer (RFC 8536 §3.3): "std offset [dst [offset] [,start,end]]".
 * Offsets count west of UTC ("MST7" = UTC-7); rule times may reach 167 hours and be negative. */
#include "cr_rgs.h"

#include <ctype.h>

typedef struct cursor {
    const char *p, *end;
} cursor;

static int peek(const cursor *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int number(cursor *c, int max, int *out)
{
    int v = 0, digits = 0;
    while (peek(c) >= 0 && isdigit(peek(c))) {
        v = v * 10 + (*c->p++ - '0');
        if (++digits > 3 || v > max)
            return -1;
    }
    *out = v;
    return digits ? 0 : -1;
}

/* Zone abbreviation: three or more letters, or <...> of letters, digits, '+', '-'. */
static int abbrev(cursor *c)
{
    int n = 0;
    if (peek(c) == '<') {
        c->p++;
        while (peek(c) >= 0 && peek(c) != '>') {
            if (!isalnum(peek(c)) && peek(c) != '+' && peek(c) != '-')
                return -1;
            c->p++, n++;
        }
        if (peek(c) != '>')
            return -1;
        c->p++;
    } else {
        while (peek(c) >= 0 && isalpha(peek(c)))
            c->p++, n++;
    }
    return n >= 3 ? 0 : -1;
}

/* [+-]hh[:mm[:ss]] with hh up to `maxh`, in seconds (sign applied). */
static int hms(cursor *c, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (peek(c) == '+' || peek(c) == '-')
        sign = *c->p++ == '-' ? -1 : 1;
    if (number(c, maxh, &h) < 0)
        return -1;
    if (peek(c) == ':') {
        c->p++;
        if (number(c, 59, &m) < 0)
            return -1;
        if (peek(c) == ':') {
            c->p++;
            if (number(c, 59, &s) < 0)
                return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

static int date(cursor *c, cr_rgs_tzdate *d)
{
    d->secs = 2 * 3600;
    if (peek(c) == 'J') {
        c->p++;
        d->kind = 'J';
        if (number(c, 365, &d->n) < 0 || d->n < 1)
            return -1;
    } else if (peek(c) == 'M') {
        c->p++;
        d->kind = 'M';
        if (number(c, 12, &d->m) < 0 || d->m < 1 || peek(c) != '.')
            return -1;
        c->p++;
        if (number(c, 5, &d->w) < 0 || d->w < 1 || peek(c) != '.')
            return -1;
        c->p++;
        if (number(c, 6, &d->d) < 0)
            return -1;
    } else {
        d->kind = 'D';
        if (number(c, 365, &d->n) < 0)
            return -1;
    }
    if (peek(c) == '/') {
        c->p++;
        return hms(c, 167, &d->secs);
    }
    return 0;
}

int cr_rgs_tzrule_parse(const char *s, size_t len, cr_rgs_tzrule *r)
{
    cursor c = {s, s + len};
    cr_rgs_tzrule z = {0};
    int32_t off;
    if (len == 0 || abbrev(&c) < 0 || hms(&c, 24, &off) < 0)
        return -1;
    z.std_off = z.dst_off = -off;
    if (peek(&c) >= 0) {
        if (abbrev(&c) < 0)
            return -1;
        z.dst = true;
        z.dst_off = z.std_off + 3600;
        if (peek(&c) >= 0 && peek(&c) != ',') {
            if (hms(&c, 24, &off) < 0)
                return -1;
            z.dst_off = -off;
        }
        /* Without a rule POSIX leaves the dates to the implementation: the US rule. */
        z.start = (cr_rgs_tzdate){'M', 0, 3, 2, 0, 7200};
        z.end = (cr_rgs_tzdate){'M', 0, 11, 1, 0, 7200};
        if (peek(&c) == ',') {
            c.p++;
            if (date(&c, &z.start) < 0 || peek(&c) != ',')
                return -1;
            c.p++;
            if (date(&c, &z.end) < 0)
                return -1;
        }
    }
    if (c.p != c.end)
        return -1;
    z.valid = true;
    *r = z;
    return 0;
}

int64_t cr_rgs_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of_day(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int64_t y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return n[m - 1] + (m == 2 && leap(y));
}

/* Local seconds since the epoch (as if UTC) at which `d` falls in year `y`. */
static int64_t date_local(const cr_rgs_tzdate *d, int64_t y)
{
    int64_t day;
    if (d->kind == 'J')
        day = cr_rgs_days_from_civil(y, 1, 1) + d->n - 1 + (leap(y) && d->n >= 60);
    else if (d->kind == 'D')
        day = cr_rgs_days_from_civil(y, 1, 1) + d->n;
    else {
        int64_t first = cr_rgs_days_from_civil(y, d->m, 1);
        int wday = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        int dom = 1 + (d->d - wday + 7) % 7 + (d->w - 1) * 7;
        while (dom > mdays(y, d->m))
            dom -= 7;
        day = first + dom - 1;
    }
    return day * 86400 + d->secs;
}

static bool in_dst(const cr_rgs_tzrule *r, int64_t unix_s, int64_t y)
{
    int64_t start = date_local(&r->start, y) - r->std_off;
    int64_t end = date_local(&r->end, y) - r->dst_off;
    if (start <= end)
        return unix_s >= start && unix_s < end;
    return unix_s < end || unix_s >= start; /* southern hemisphere: DST spans new year */
}

int32_t cr_rgs_tzrule_offset(const cr_rgs_tzrule *r, int64_t unix_s)
{
    if (!r->dst)
        return r->std_off;
    int64_t local = unix_s + r->std_off;
    int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t y = year_of_day(day);
    return in_dst(r, unix_s, y) ? r->dst_off : r->std_off;
}

/* Time zones from TZif images (RFC 8536), business hours and holidays. Pure: the loader
 * reads the files and passes their bytes. */
#include "cr_rgs.h"
#include "rgs_engine_int.h"

#include <stdlib.h>
#include <string.h>

int rgs_config_index_tz(cr_rgs_config *cfg, size_t i);
cr_rgs_tz *rgs_config_new_tz(cr_rgs_config *cfg);

static int64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

typedef struct tzhead {
    size_t isut, isstd, leap, time, type, chars;
} tzhead;

static int read_head(const unsigned char *p, size_t len, tzhead *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->isut = (size_t)be(p + 20, 4), h->isstd = (size_t)be(p + 24, 4);
    h->leap = (size_t)be(p + 28, 4), h->time = (size_t)be(p + 32, 4);
    h->type = (size_t)be(p + 36, 4), h->chars = (size_t)be(p + 40, 4);
    if (h->type == 0 || h->type > 256 || h->time > 100000 || h->chars > 100000 ||
        h->leap > 100000 || h->isut > 256 || h->isstd > 256)
        return -1;
    return 0;
}

static size_t block_len(const tzhead *h, int tsize)
{
    return h->time * (size_t)tsize + h->time + h->type * 6 + h->chars +
           h->leap * (size_t)(tsize + 4) + h->isstd + h->isut;
}

/* The footer "\nTZ\n" after the v2+ data; an empty or unreadable one leaves no rule (the
 * last transition's offset then stays in force, as before RFC 8536). */
static void read_footer(const unsigned char *f, size_t len, cr_rgs_tzrule *r)
{
    if (!f || len < 2 || f[0] != '\n')
        return;
    const unsigned char *nl = memchr(f + 1, '\n', len - 1);
    if (!nl || nl == f + 1)
        return;
    if (cr_rgs_tzrule_parse((const char *)f + 1, (size_t)(nl - f - 1), r) < 0)
        r->valid = false;
}

int cr_rgs_config_add_tz(cr_rgs_config *cfg, const char *name, const void *tzif, size_t len)
{
    if (cr_rgs_config_has_tz(cfg, name))
        return CR_OK;
    const unsigned char *p = tzif;
    tzhead h;
    if (read_head(p, len, &h) < 0)
        return CR_EINVAL;
    int tsize = 4;
    const unsigned char *footer = NULL;
    size_t footer_len = 0;
    size_t need = 44 + block_len(&h, 4);
    if (need > len)
        return CR_EINVAL;
    if (p[4] >= '2') { /* skip the v1 block: use the 64-bit one */
        p += need;
        len -= need;
        if (read_head(p, len, &h) < 0)
            return CR_EINVAL;
        tsize = 8;
        size_t body = 44 + block_len(&h, 8);
        if (body > len)
            return CR_EINVAL;
        footer = p + body, footer_len = len - body;
    }
    const unsigned char *times = p + 44, *idx = times + h.time * (size_t)tsize;
    const unsigned char *types = idx + h.time;
    cr_rgs_tz *z = rgs_config_new_tz(cfg);
    if (!z)
        return CR_ENOMEM;
    z->name = strdup(name);
    z->at = calloc(h.time ? h.time : 1, sizeof *z->at);
    z->off = calloc(h.time ? h.time : 1, sizeof *z->off);
    if (!z->name || !z->at || !z->off) {
        free(z->name), free(z->at), free(z->off);
        return CR_ENOMEM;
    }
    for (size_t i = 0; i < h.time; i++) {
        size_t t = idx[i];
        if (t >= h.type) {
            free(z->name), free(z->at), free(z->off);
            return CR_EINVAL;
        }
        z->at[i] = be(times + i * (size_t)tsize, tsize);
        z->off[i] = (int32_t)be(types + t * 6, 4);
    }
    z->n = h.time;
    z->off0 = (int32_t)be(types, 4);
    read_footer(footer, footer_len, &z->rule);
    cfg->ntzs++;
    return rgs_config_index_tz(cfg, cfg->ntzs - 1);
}

/* Whether a rule holds only what cr_rgs_tzrule_parse can give. */
static bool date_ok(const cr_rgs_tzdate *d)
{
    bool day = d->kind == 'J'   ? d->n >= 1 && d->n <= 365
               : d->kind == 'D' ? d->n >= 0 && d->n <= 365
               : d->kind == 'M'
                   ? d->m >= 1 && d->m <= 12 && d->w >= 1 && d->w <= 5 && d->d >= 0 && d->d <= 6
                   : false;
    return day && d->secs >= -(167 * 3600 + 3599) && d->secs <= 167 * 3600 + 3599;
}

static bool rule_ok(const cr_rgs_tzrule *r)
{
    const int32_t max = 24 * 3600 + 3599;
    if (!r->valid)
        return true;
    return r->std_off >= -max && r->std_off <= max && r->dst_off >= -max &&
           r->dst_off <= max + 3600 && (!r->dst || (date_ok(&r->start) && date_ok(&r->end)));
}

int cr_rgs_config_add_tz_table(cr_rgs_config *cfg, const char *name, const int64_t *at,
                               const int32_t *off, size_t n, int32_t off0,
                               const cr_rgs_tzrule *rule)
{
    if (cr_rgs_config_has_tz(cfg, name))
        return CR_OK;
    if (n > 100000 || !rule_ok(rule))
        return CR_EINVAL;
    for (size_t i = 1; i < n; i++)
        if (at[i] < at[i - 1])
            return CR_EINVAL;
    cr_rgs_tz *z = rgs_config_new_tz(cfg);
    if (!z)
        return CR_ENOMEM;
    z->name = strdup(name);
    z->at = calloc(n ? n : 1, sizeof *z->at);
    z->off = calloc(n ? n : 1, sizeof *z->off);
    if (!z->name || !z->at || !z->off) {
        free(z->name), free(z->at), free(z->off);
        return CR_ENOMEM;
    }
    if (n) {
        memcpy(z->at, at, n * sizeof *at);
        memcpy(z->off, off, n * sizeof *off);
    }
    z->n = n;
    z->off0 = off0;
    z->rule = *rule;
    cfg->ntzs++;
    return rgs_config_index_tz(cfg, cfg->ntzs - 1);
}

/* Beyond the last transition the footer's POSIX rule applies (RFC 8536 §3.3): Debian's "fat"
 * TZif files list transitions up to 2037, "slim" ones almost none. Without a rule the last
 * offset stays in force. */
RGS_HOT int32_t cr_rgs_tz_offset(const cr_rgs_tz *tz, int64_t unix_s)
{
    if (!tz)
        return 0;
    if (tz->rule.valid && (tz->n == 0 || unix_s >= tz->at[tz->n - 1]))
        return cr_rgs_tzrule_offset(&tz->rule, unix_s);
    if (tz->n == 0 || unix_s < tz->at[0])
        return tz->off0;
    size_t lo = 0, hi = tz->n; /* last i with at[i] <= unix_s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= unix_s)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[lo];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

cr_rgs_open_state cr_rgs_workflow_state(const cr_rgs_config *cfg, const cr_rgs_workflow *wf,
                                        int64_t unix_ms)
{
    return rgs_open_state(cfg, wf->tz, wf->holidays, wf->hours, unix_ms);
}

RGS_HOT cr_rgs_open_state rgs_open_state(const cr_rgs_config *cfg, long wtz, long holidays,
                                         long hours, int64_t unix_ms)
{
    const cr_rgs_tz *tz = wtz >= 0 ? &cfg->tzs[wtz] : NULL;
    int64_t unix_s = floor_div(unix_ms, 1000);
    int64_t local = unix_s + cr_rgs_tz_offset(tz, unix_s);
    if (holidays >= 0) {
        const cr_rgs_holidays *s = &cfg->holidays[holidays];
        for (size_t i = 0; i < s->ndays; i++)
            if (local >= s->days[i].start_local && local < s->days[i].end_local)
                return CR_RGS_HOLIDAY;
    }
    if (hours < 0)
        return CR_RGS_OPEN;
    const cr_rgs_hours *h = &cfg->hours[hours];
    /* the hours set's own zone; one without a zone is read in the workflow's (UTC when
     * neither names one) */
    if (h->tz >= 0 && h->tz != wtz) {
        tz = &cfg->tzs[h->tz];
        local = unix_s + cr_rgs_tz_offset(tz, unix_s);
    }
    int64_t day = floor_div(local, 86400);
    int wday = (int)((day % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    int minute = (int)((local - day * 86400) / 60);
    for (size_t i = 0; i < h->nranges; i++) {
        const cr_rgs_range *r = &h->ranges[i];
        if ((r->days & (1u << wday)) && minute >= r->open_min && minute < r->close_min)
            return CR_RGS_OPEN;
    }
    return CR_RGS_AFTER_HOURS;
}

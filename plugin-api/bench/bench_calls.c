/* `callroute bench`: the numbers dialed, read from a file, derived from a configuration's
 * routes, or (bench_plan.c) generated for a synthetic plan. */
#include "bench_int.h"
#include "cr_grow.h"
#include "cr_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool crb_calls_add(crb_calls *c, const char *from, const char *dialed)
{
    if (!CR_GROW(c->v, c->n, c->cap))
        return false;
    char *f = strdup(from), *d = strdup(dialed);
    if (!f || !d) {
        free(f);
        free(d);
        return false;
    }
    c->v[c->n++] = (crb_call){f, d};
    return true;
}

void crb_calls_free(crb_calls *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].from);
        free(c->v[i].dialed);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Numbers for a configuration the generator did not write: the literal prefixes of its
 * routes padded with digits, dialed by its enterprise-voice users. */
bool crb_calls_derive(const cr_config *cfg, size_t count, crb_rng *r, crb_calls *out)
{
    cr_pattern_prefixes *info = malloc(sizeof *info);
    const char *froms[64];
    size_t nfrom = 0;
    for (size_t i = 0; i < cr_config_user_count(cfg) && nfrom < 64; i++)
        if (cr_config_user_at(cfg, i)->enterprise_voice)
            froms[nfrom++] = cr_config_user_at(cfg, i)->uri;
    size_t nroutes = cr_config_route_count(cfg);
    if (!info || !nfrom || !nroutes) {
        free(info);
        return nfrom && info;
    }
    char num[CR_NUMBER_MAX + 1];
    for (size_t i = 0; i < count; i++) {
        cr_pattern_prefixes_of(cr_config_route_at(cfg, crb_below(r, (uint32_t)nroutes))->pattern,
                               info);
        size_t o = 0;
        if (info->prefixed)
            o = (size_t)snprintf(num, sizeof num, "%s",
                                 info->prefix[crb_below(r, (uint32_t)info->n)]);
        size_t want = info->prefixed ? info->minlen : 11;
        if (want < o + 1)
            want = o + 1 + crb_below(r, 4);
        while (o < want && o < 16)
            num[o++] = (char)('0' + crb_below(r, 10));
        num[o] = 0;
        if (!crb_calls_add(out, froms[crb_below(r, (uint32_t)nfrom)], num)) {
            free(info);
            return false;
        }
    }
    free(info);
    return true;
}

int crb_calls_read(const char *path, const cr_config *cfg, crb_calls *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return CR_EIO;
    const char *deflt = NULL;
    for (size_t i = 0; i < cr_config_user_count(cfg) && !deflt; i++)
        if (cr_config_user_at(cfg, i)->enterprise_voice)
            deflt = cr_config_user_at(cfg, i)->uri;
    char line[1024];
    int rc = CR_OK;
    while (rc == CR_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *sp = strpbrk(p, " \t");
        if (sp && strncmp(p, "sip:", 4) == 0) {
            *sp++ = 0;
            while (*sp == ' ' || *sp == '\t')
                sp++;
            rc = crb_calls_add(out, p, sp) ? CR_OK : CR_ENOMEM;
        } else {
            rc = crb_calls_add(out, deflt ? deflt : "sip:nobody@invalid", p) ? CR_OK : CR_ENOMEM;
        }
    }
    fclose(f);
    return rc;
}

/* "FROM NUMBER" lines. */
void crb_calls_save(const crb_calls *cl, const char *plan_path)
{
    char path[1100];
    snprintf(path, sizeof path, "%s.numbers", plan_path);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (size_t i = 0; i < cl->n; i++)
        fprintf(f, "%s %s\n", cl->v[i].from, cl->v[i].dialed);
    fclose(f);
}

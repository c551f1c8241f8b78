/*
 * `callroute bench --rgs`: the generated deployment (agent groups of every routing method,
 * formal and informal agents, queues with timeouts and overflow, hunt-group workflows) and
 * its XML configuration.
 */
#include "rgs_bench.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const methods[] = {"serial", "parallel", "roundRobin", "longestIdle",
                                      "attendant"};

void rgsb_plan_free(rgsb_plan *pl)
{
    free(pl->routing), free(pl->formal), free(pl->gstart), free(pl->gagents), free(pl->primary);
}

/* Group of agent j (0-based in its set of n groups `set`), membership k (0 or 1). */
static size_t member_group(const size_t *set, size_t n, size_t j, int k)
{
    size_t first = j % n;
    if (k == 0 || n < 2)
        return set[first];
    return set[(first + 1 + (j / n) % (n - 1)) % n];
}

int rgsb_plan_build(rgsb_plan *pl, int second_pct, bool attendant)
{
    size_t G = pl->ngroups, N = pl->nagents;
    pl->routing = calloc(G, 1);
    pl->formal = calloc(G, 1);
    pl->gstart = calloc(G + 1, sizeof *pl->gstart);
    pl->primary = calloc(N ? N : 1, sizeof *pl->primary);
    size_t *fset = calloc(G, sizeof *fset), *iset = calloc(G, sizeof *iset), nf = 0, ni = 0;
    if (!pl->routing || !pl->formal || !pl->gstart || !pl->primary || !fset || !iset) {
        free(fset), free(iset);
        return -1;
    }
    for (size_t g = 0; g < G; g++) {
        static const uint8_t mix[10] = {
            M_PARALLEL,     M_PARALLEL,     M_PARALLEL,     M_PARALLEL, M_LONGEST_IDLE,
            M_LONGEST_IDLE, M_LONGEST_IDLE, M_LONGEST_IDLE, M_SERIAL,   M_ROUND_ROBIN};
        pl->routing[g] = attendant && g % 100 == 99 ? M_ATTENDANT : mix[g % 10];
        pl->counts[pl->routing[g]]++;
        pl->formal[g] = pl->nformal && g % 7 == 3;
        if (pl->formal[g])
            fset[nf++] = g;
        else
            iset[ni++] = g;
    }
    if ((pl->nformal && !nf) || (pl->nformal < N && !ni)) {
        free(fset), free(iset);
        return -1;
    }
    size_t *cnt = pl->gstart + 1;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t a = 0; a < N; a++) {
            bool f = a < pl->nformal;
            size_t j = f ? a : a - pl->nformal, n = f ? nf : ni;
            const size_t *set = f ? fset : iset;
            int k = second_pct >= 100 || (second_pct > 0 && j % (100 / second_pct) == 0) ? 2 : 1;
            for (int m = 0; m < k && (m == 0 || n > 1); m++) {
                size_t g = member_group(set, n, j, m);
                if (m == 0)
                    pl->primary[a] = (uint32_t)g;
                if (pass == 0)
                    cnt[g]++;
                else
                    pl->gagents[pl->gstart[g] + cnt[g]++] = a;
            }
        }
        if (pass == 0) {
            for (size_t g = 0; g < G; g++)
                pl->gstart[g + 1] += pl->gstart[g];
            pl->memberships = pl->gstart[G];
            if (!(pl->gagents =
                      malloc((pl->memberships ? pl->memberships : 1) * sizeof *pl->gagents))) {
                free(fset), free(iset);
                return -1;
            }
            /* pass 1 fills each group from its start, counting again from 0 */
            cnt = calloc(G, sizeof *cnt);
            if (!cnt) {
                free(fset), free(iset);
                return -1;
            }
        }
    }
    free(cnt);
    free(fset), free(iset);
    return 0;
}

/* The second group of queue q, or -1. */
static long queue_second_group(const rgsb_plan *pl, size_t q)
{
    if (q % 10 != 9 || pl->ngroups < 2)
        return -1;
    size_t extra = pl->nqueues + q / 10;
    return (long)(extra < pl->ngroups ? extra : (q + 1) % pl->ngroups);
}

void rgsb_agent_uri(char *buf, size_t len, size_t a)
{
    snprintf(buf, len, "sip:agent%06zu@contoso.com", a);
}

int rgsb_plan_write(const rgsb_plan *pl, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static char iobuf[1 << 20];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    fputs("<?xml version=\"1.0\"?>\n<callroute xmlns=\"urn:callroute:config:1\">\n"
          "  <responseGroups>\n",
          f);
    static const int alerts[] = {10, 15, 20, 30};
    for (size_t g = 0; g < pl->ngroups; g++) {
        fprintf(f, "    <agentGroup name=\"Group %zu\" routingMethod=\"%s\" alertTime=\"%d\"%s>", g,
                methods[pl->routing[g]], alerts[g % 4],
                pl->formal[g] ? " participation=\"formal\"" : "");
        for (size_t i = pl->gstart[g]; i < pl->gstart[g + 1]; i++)
            fprintf(f, "<agent>sip:agent%06zu@contoso.com</agent>", pl->gagents[i]);
        fputs("</agentGroup>\n", f);
    }
    for (size_t q = 0; q < pl->nqueues; q++) {
        fprintf(f, "    <queue name=\"Queue %zu\"><group>Group %zu</group>", q, q);
        long second = queue_second_group(pl, q);
        if (second >= 0)
            fprintf(f, "<group>Group %ld</group>", second);
        if (q % 4 == 0)
            fputs("<timeout seconds=\"900\" action=\"voicemail\" target=\"sip:vm@contoso.com\"/>",
                  f);
        if (q % 10 == 5)
            fprintf(f,
                    "<overflow calls=\"%d\" candidate=\"%s\" action=\"forward\" "
                    "target=\"tel:+1425555%04zu\"/>",
                    pl->overflow_calls, q % 20 == 5 ? "oldest" : "newest", q % 10000);
        fputs("</queue>\n", f);
    }
    fputs("    <hoursSet name=\"Always\" timeZone=\"Europe/Paris\">"
          "<range days=\"sun-sat\" open=\"00:00\" close=\"24:00\"/></hoursSet>\n"
          "    <holidaySet name=\"Holidays\"><holiday name=\"New Year\" start=\"2030-01-01T00:00\" "
          "end=\"2030-01-02T00:00\"/></holidaySet>\n",
          f);
    for (size_t q = 0; q < pl->nqueues; q++) {
        fprintf(f,
                "    <workflow name=\"RG %zu\" uri=\"sip:rg%zu@contoso.com\" queue=\"Queue %zu\" "
                "musicOnHold=\"moh.wav\"%s%s%s/>\n",
                q, q, q, q % 2 == 0 ? " welcome=\"welcome.wav\"" : "",
                q % 20 == 7 ? " hours=\"Always\"" : "",
                q % 50 == 13 ? " holidays=\"Holidays\"" : "");
    }
    fputs("  </responseGroups>\n</callroute>\n", f);
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

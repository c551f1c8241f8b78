/* Numbers a pattern can match, drawn at random from its syntax tree (lint's shadowed rules,
 * route_index.h cr_pattern_sampler). */
#include "pattern_ast.h"

#include <stdlib.h>
#include <string.h>

/* ---- sampling ------------------------------------------------------------------------------ */

struct cr_pattern_sampler {
    parser P;
    int root;
};

cr_pattern_sampler *ce_pattern_sampler_new(const char *pattern)
{
    if (!pattern)
        return NULL;
    cr_pattern_sampler *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    parser *P = &s->P;
    s->root = ce_pat_parse(P, pattern);
    if (P->bail || P->inexact || s->root < 0 || pattern[P->i] != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void ce_pattern_sampler_free(cr_pattern_sampler *s)
{
    free(s);
}

static uint32_t xorshift(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

typedef struct sample_out {
    char *out;
    size_t o, cap;
    bool full;
} sample_out;

static void gen(const parser *P, int k, uint32_t *rng, sample_out *so)
{
    const anode *a = &P->n[k];
    switch (a->kind) {
    case A_SET: {
        int n = 0, pick;
        for (int b = 0; b < SYM_COUNT; b++)
            n += (a->mask >> b) & 1;
        if (!n || so->o + 1 >= so->cap) {
            so->full = so->full || n;
            return;
        }
        pick = (int)(xorshift(rng) % (unsigned)n);
        for (int b = 0; b < SYM_COUNT; b++)
            if (((a->mask >> b) & 1) && pick-- == 0)
                so->out[so->o++] = ce_pat_sym_char[b];
        return;
    }
    case A_CAT:
        for (int c = a->child; c >= 0 && !so->full; c = P->n[c].next)
            gen(P, c, rng, so);
        return;
    case A_ALT: {
        int n = 0, c;
        for (c = a->child; c >= 0; c = P->n[c].next)
            n++;
        if (!n)
            return;
        int pick = (int)(xorshift(rng) % (unsigned)n);
        for (c = a->child; pick-- > 0; c = P->n[c].next)
            ;
        gen(P, c, rng, so);
        return;
    }
    case A_REP: {
        int hi = a->max == REP_INF ? a->min + 4 : a->max;
        int reps = a->min + (hi > a->min ? (int)(xorshift(rng) % (unsigned)(hi - a->min + 1)) : 0);
        for (int r = 0; r < reps && !so->full; r++)
            gen(P, a->child, rng, so);
        return;
    }
    default: /* empty, ^, $ */
        return;
    }
}

bool ce_pattern_sample(const cr_pattern_sampler *s, uint32_t *rng, char *out, size_t cap)
{
    sample_out so = {out, 0, cap, false};
    if (!cap)
        return false;
    gen(&s->P, s->root, rng, &so);
    out[so.o] = 0;
    return !so.full;
}

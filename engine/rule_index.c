/*
 * Candidate normalization rules of a location profile for a number: the same pattern
 * analysis and digit trie as routes (route_index.c), one trie per profile. The first rule
 * of the candidates that matches is the first rule of the profile that matches, because a
 * rule left out cannot match and candidates keep the profile's order.
 */
#include "route_index.h"

#include <stdlib.h>
#include <string.h>

/* Fills ix->xlat from p's rules; false when out of memory. */
static bool index_xlats(cr_rule_index *ix, const cr_profile *p)
{
    ix->xlat = malloc((p->nrules ? p->nrules : 1) * sizeof *ix->xlat);
    if (!ix->xlat)
        return false;
    for (size_t j = 0; j < p->nrules; j++)
        ix->xlat[j] = p->rules[j].xlat;
    ix->nrules = p->nrules;
    return true;
}

int ce_rule_index_build(cr_profile *p, const _Atomic bool *naive, cr_pattern_analyser *an,
                        cr_index_stats *stats)
{
    p->rule_index = NULL;
    cr_rule_index *ix = calloc(1, sizeof *ix);
    cr_pattern_info *info = malloc(sizeof *info);
    cr_px_builder b = {0};
    if (!ix || !info)
        goto oom;
    ix->naive = naive;
    for (size_t j = 0; j < p->nrules; j++) {
        /* rules run on every normalization, except those decided without PCRE2 */
        if (p->rules[j].re && !ce_xlat_is_simple(p->rules[j].xlat))
            ce_re_jit(p->rules[j].re);
        ce_pattern_analyse_with(an, p->rules[j].pattern, info);
        if (stats) {
            if (info->kind == CR_PX_SET)
                stats->rules_indexed++;
            else if (info->kind == CR_PX_NEVER)
                stats->rules_never++;
            else
                stats->rules_fallback++;
        }
        if (ce_px_builder_add(&b, info, (uint32_t)j) != CR_OK)
            goto oom;
    }
    if (!index_xlats(ix, p))
        goto oom;
    if (ce_px_builder_finish(&b, &ix->trie) != CR_OK)
        goto oom;
    ce_px_skip_fill(ix->trie.nodes, ix->trie.nnodes, ix->skip);
    free(info);
    p->rule_index = ix;
    return CR_OK;
oom:
    free(b.entries);
    free(info);
    if (ix)
        free(ix->xlat);
    free(ix);
    return CR_ENOMEM;
}

int ce_rule_index_adopt(cr_profile *p, const _Atomic bool *naive, const cr_px_trie *trie)
{
    p->rule_index = NULL;
    cr_rule_index *ix = calloc(1, sizeof *ix);
    if (!ix || !index_xlats(ix, p)) {
        free(ix);
        return CR_ENOMEM;
    }
    ix->naive = naive;
    ix->trie = *trie;
    ix->trie.borrowed = true;
    ce_px_skip_fill(ix->trie.nodes, ix->trie.nnodes, ix->skip);
    for (size_t j = 0; j < p->nrules; j++) /* as ce_rule_index_build does */
        if (p->rules[j].re && !ce_xlat_is_simple(p->rules[j].xlat))
            ce_re_jit(p->rules[j].re);
    p->rule_index = ix;
    return CR_OK;
}

const cr_px_trie *ce_rule_index_trie(const cr_profile *p)
{
    const cr_rule_index *ix = p ? p->rule_index : NULL;
    return ix ? &ix->trie : NULL;
}

void ce_rule_index_free(cr_rule_index *ix)
{
    if (!ix)
        return;
    ce_px_trie_free(&ix->trie);
    free(ix->xlat);
    free(ix);
}

size_t ce_rule_index_bytes(const cr_rule_index *ix)
{
    return ix ? sizeof *ix + ce_px_trie_bytes(&ix->trie) + ix->nrules * sizeof *ix->xlat : 0;
}

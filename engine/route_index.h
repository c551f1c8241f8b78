/*
 * Candidate routes for a usage and a number. The index pre-selects routes whose pattern can
 * possibly match; the full regex still decides. It never drops a route that could match, and
 * keeps configuration order.
 */
#ifndef CR_ROUTE_INDEX_H
#define CR_ROUTE_INDEX_H

#include "model.h"

typedef struct cr_route_index cr_route_index;

typedef struct cr_route_iter {
    const size_t *routes; /* candidate route indexes, ascending */
    size_t count, pos;
} cr_route_iter;

/* Builds cfg->route_index (may stay NULL: then every route of the usage is a candidate). */
int cr_route_index_build(cr_config *cfg);
void cr_route_index_free(cr_route_index *ix);

void cr_route_index_begin(const cr_config *cfg, size_t usage, const char *number, size_t n,
                          cr_route_iter *it);

static inline size_t cr_route_index_next(cr_route_iter *it)
{
    return it->pos < it->count ? it->routes[it->pos++] : SIZE_MAX;
}

#endif

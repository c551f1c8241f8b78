/* Route pre-selection. This first version selects by usage only (precomputed lists). */
#include "route_index.h"

int cr_route_index_build(cr_config *cfg)
{
    cfg->route_index = NULL;
    return CR_OK;
}

void cr_route_index_free(cr_route_index *ix)
{
    (void)ix;
}

void cr_route_index_begin(const cr_config *cfg, size_t usage, const char *number, size_t n,
                          cr_route_iter *it)
{
    (void)number;
    (void)n;
    it->routes = cfg->usage_routes[usage].routes;
    it->count = cfg->usage_routes[usage].count;
    it->pos = 0;
}

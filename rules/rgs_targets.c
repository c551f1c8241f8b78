/* Workflow call targets from <responseGroups> (rgs_targets.h). */
#include "rgs_targets.h"

#include "cr_xml.h"

#include "cr_libxml.h"
#include <stdlib.h>
#include <string.h>

int cu_rgs_targets_add(cr_config *cfg, const void *response_groups, const char *file)
{
    const xmlNode *rg = response_groups;
    for (xmlNodePtr c = rg ? rg->children : NULL; c; c = c->next) {
        const char *name = c->type == XML_ELEMENT_NODE ? cr_xml_name(c) : NULL;
        if (!name || strcmp(name, "workflow") != 0)
            continue;
        char *wname = cr_xml_attr(c, "name"), *uri = cr_xml_attr(c, "uri");
        char *line = cr_xml_attr(c, "line");
        int rc = CR_OK;
        cr_workflow *w =
            cr_config_add_workflow(cfg, wname ? wname : "", (cr_srcloc){file, cr_xml_line(c)});
        if (!w || (uri && !(w->uri = cr_config_strdup(cfg, uri))) ||
            (line && !(w->line = cr_config_strdup(cfg, line))))
            rc = CR_ENOMEM;
        free(wname), free(uri), free(line);
        if (rc != CR_OK)
            return rc;
    }
    return CR_OK;
}

typedef struct walk_ud {
    cr_config *cfg;
} walk_ud;

static int on_element(void *ud, void *node, const char *file, cr_diag *diag)
{
    (void)diag;
    walk_ud *w = ud;
    const char *name = cr_xml_name(node);
    if (!name || strcmp(name, "responseGroups") != 0)
        return 0;
    const char *f = cr_config_intern(w->cfg, file);
    if (!f)
        return CR_ENOMEM;
    return cu_rgs_targets_add(w->cfg, node, f);
}

int cu_rgs_targets_from_sources(cr_config *cfg, cr_diag *diag)
{
    if (!cfg || cr_config_source_count(cfg) == 0)
        return CR_OK;
    walk_ud w = {cfg};
    return cr_xml_walk_sources(cfg, on_element, &w, diag);
}

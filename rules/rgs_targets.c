/* Workflow call targets from <responseGroups> (rgs_targets.h). */
#include "rgs_targets.h"

#include "rgs_image.h"
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

int cu_rgs_targets_from_image(cr_config *cfg, const char *name, cr_diag *diag)
{
    size_t len;
    const void *bytes = cfg ? cr_config_attached(cfg, CR_RGS_IMAGE_NAME, &len) : NULL;
    if (!bytes)
        return CR_OK;
    cr_rgs_config *rgs = NULL;
    int rc = cu_rgs_image_decode(bytes, len, name, &rgs, diag);
    for (size_t i = 0; rc == CR_OK && i < rgs->nworkflows; i++) {
        const cr_rgs_workflow *rw = &rgs->workflows[i];
        cr_srcloc loc = {rw->loc.file ? cr_config_intern(cfg, rw->loc.file) : NULL, rw->loc.line};
        cr_workflow *w =
            (rw->loc.file && !loc.file) ? NULL : cr_config_add_workflow(cfg, rw->name, loc);
        if (!w || (rw->uri && !(w->uri = cr_config_strdup(cfg, rw->uri))) ||
            (rw->line && !(w->line = cr_config_strdup(cfg, rw->line))))
            rc = CR_ENOMEM;
    }
    cr_rgs_config_free(rgs);
    return rc;
}

/*
 * Loading an Enterprise Voice routing configuration from XML (SPEC §2.1).
 *
 * The loader turns the <callroute> document (with its includes, see cr_xml.h) into a
 * cr_config and compiles it: every error an admin can make is reported in the cr_diag with
 * the file, the line and the object ("route 'Universal Route'"), and lint findings are
 * added as warnings. <responseGroups> and <directory> sections are accepted and left to
 * their own loaders.
 */
#ifndef CR_RULES_H
#define CR_RULES_H

#include "cr_model.h"
#include "cr_xml.h"

/*
 * Loads and compiles the configuration at `path`.
 *
 * @param[in]  path  the top-level XML file; includes are resolved against its directory and
 *                   must stay inside it (cr_xml.h).
 * @param[out] out   on success the compiled configuration, owned by the caller and freed
 *                   with cr_config_free(); on failure set to NULL.
 * @param[in,out] diag caller-initialised (cr_diag_init); errors and warnings are appended.
 * @return CR_OK (possibly with warnings in diag), CR_ECONFIG when the configuration is
 *         refused (at least one error in diag), CR_ENOMEM, or CR_EINVAL for NULL arguments.
 */
int cr_rules_load(const char *path, cr_config **out, cr_diag *diag);

/* cr_rules_load with options (include directories); `opts` may be NULL. */
int cr_rules_load_ex(const char *path, const cr_load_options *opts, cr_config **out, cr_diag *diag);

/* cr_rules_load_ex that also hands each <responseGroups> element, whole, to also(also_ud, node,
 * file, diag) as the walk meets it (before it is freed): the response-group loader reads them
 * in the same walk (cr_rgs_xml_loader), so no file is parsed twice. A non-zero return stops
 * the load with that code. Plan images have no elements: `also` is never called for one. */
int cr_rules_load_also(const char *path, const cr_load_options *opts, cr_xml_element_fn also,
                       void *also_ud, cr_config **out, cr_diag *diag);

#endif

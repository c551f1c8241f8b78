/*
 * Loading the response groups (<responseGroups>, SPEC §2.1 and §4) of a callroute XML
 * document, with its includes, into a resolved cr_rgs_config (workflows/cr_rgs.h).
 *
 * Shape (attributes beyond SPEC §2.1 marked +):
 *   <agentGroup name routingMethod=serial|parallel|roundRobin|longestIdle|attendant
 *               alertTime=10..600 participation=formal|informal +declineGrace=seconds>
 *     <agent>sip:...</agent>...
 *   <queue name> <group>name</group>...
 *     <timeout seconds action target prompt/>
 *     <overflow calls candidate=newest|oldest action target prompt/>
 *   <hoursSet name timeZone> <range days="mon tue" | "mon-fri" open="08:00" close="17:00"/>
 *   <holidaySet name> <holiday name start="2027-01-01T00:00" end="2027-01-02T00:00"/>
 *   <workflow name uri line type=huntGroup|ivr queue welcome musicOnHold hours holidays
 *             language script +active=true|false +timeZone>
 *     <afterHours action target prompt/> <holidayAction action target prompt/>
 * Actions: disconnect (prompt optional), forward (target URI or number), voicemail
 * (target), queue (target = queue name). Holiday times are local to the workflow's zone
 * (its timeZone, else its hours set's, else UTC); an hours set without a timeZone of its own
 * is read in the zone of the workflow that uses it (else UTC). Time zones are read from the TZif
 * files under $TZDIR or /usr/share/zoneinfo at load time. Script paths are resolved against the
 * file that names them.
 */
#ifndef CR_RGS_XML_H
#define CR_RGS_XML_H

#include "cr_model.h"
#include "cr_rgs.h"
#include "cr_xml.h"

/*
 * Loads the response groups of the document at `path`.
 *
 * @param[out] out on success a resolved configuration owned by the caller (free it with
 *                 cr_rgs_config_free); NULL on failure. A document without response
 *                 groups gives an empty configuration.
 * @param[in,out] diag caller-initialised; errors name file:line and the object.
 * @return CR_OK, CR_ECONFIG (errors in diag), CR_ENOMEM or CR_EINVAL (NULL arguments).
 */
int cr_rgs_xml_load(const char *path, cr_rgs_config **out, cr_diag *diag);

/* cr_rgs_xml_load with options (include directories); `opts` may be NULL. A plan image at
 * `path` gives the response groups compiled into it (rules/rgs_image.c): no XML. */
int cr_rgs_xml_load_ex(const char *path, const cr_load_options *opts, cr_rgs_config **out,
                       cr_diag *diag);

/*
 * The response groups read during the routing load's own walk (cr_rules_load_also): give
 * cr_rgs_xml_loader_element and the loader as `also`; then cr_rgs_xml_loader_finish resolves
 * them (as cr_rgs_xml_load does) and frees the loader. Their diagnostics are kept aside until
 * then and added to finish's diag in document order, so a configuration whose routing is
 * refused reports the routing errors only, as when the groups were read afterwards.
 * cr_rgs_xml_loader_new returns NULL when out of memory; cr_rgs_xml_loader_free(NULL) is fine.
 */
typedef struct cr_rgs_xml_loader cr_rgs_xml_loader;
cr_rgs_xml_loader *cr_rgs_xml_loader_new(void);
int cr_rgs_xml_loader_element(void *loader, void *node, const char *file, cr_diag *diag);
int cr_rgs_xml_loader_finish(cr_rgs_xml_loader *l, cr_rgs_config **out, cr_diag *diag);
void cr_rgs_xml_loader_free(cr_rgs_xml_loader *l);

#endif

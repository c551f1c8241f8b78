/*
 * Users and inbound call handling behind the ABI (callroute.h, since 1.2): the ringing plan,
 * directory import and export, and the user directory as the engine's user source for every
 * decision of a handle.
 */
#ifndef CRP_USERS_ABI_H
#define CRP_USERS_ABI_H

#include "callroute.h"
#include "cr_directory.h"
#include "handle.h"

/* The cr_plugin slots user_plan, users_import, users_export (contracts in callroute.h). */
int crp_user_plan(cr_handle *h, const char *from, const char *to, const char *const *endpoints,
                  size_t nendpoints, cr_result **out);
/* crp_user_plan for a call that arrived from `gateway` (name or host[:port], NULL = none):
 * CR_ENOENT when it names no configured gateway. */
int crp_user_plan_ex(cr_handle *h, const char *from, const char *to, const char *gateway,
                     const char *const *endpoints, size_t nendpoints, cr_result **out);
int crp_users_import_ex(const char *db_dir, const char *file, unsigned flags, cr_result **out,
                        char *err, size_t errlen);
int crp_users_import(const char *db_dir, const char *file, cr_result **out, char *err,
                     size_t errlen);
int crp_users_export(const char *db_dir, const char *file, const char *format, char *err,
                     size_t errlen);

/*
 * The directory for one decision: the handle's db_path, else the configuration's
 * <directory>. attach sets rt->users (left NULL when there is no directory or it cannot be
 * opened, which is logged once); users it yields stay valid until detach. Scopes nest.
 */
typedef struct crp_users_scope {
    bool active;
    cr_dir_reader reader;
} crp_users_scope;

void crp_users_attach(cr_handle *h, const cr_config *cfg, cr_runtime *rt, crp_users_scope *s);
void crp_users_detach(crp_users_scope *s);

/* At load: errors for users both inline in cfg and in the directory at db_path (the handle's
 * --db). Returns CR_OK or CR_ECONFIG. */
int crp_users_check(const char *db_path, const cr_config *cfg, cr_diag *diag);
/* For check with --db: crp_users_check, then warnings for the directory's users whose voice
 * policy or location profile cfg does not define (cr_directory_check_names). */
int crp_users_check_names(const char *db_path, const cr_config *cfg, cr_diag *diag);

#endif

/*
 * Checks of an LMDB user directory's users against a configuration, for `check --db`.
 */
#include "directory_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool policy_known(const cr_config *cfg, const char *name)
{
    for (size_t i = 0; i < cr_config_policy_count(cfg); i++)
        if (strcmp(cr_config_policy_at(cfg, i)->name, name) == 0)
            return true;
    return false;
}

#define CHECK_NAMES_MAX 50 /* warnings named one by one; the rest are counted */

int cr_directory_check_names(cr_directory *d, const cr_config *cfg, cr_diag *diag)
{
    MDB_txn *txn;
    dir_walk w;
    if (mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn) != 0)
        goto unreadable;
    if (dir_walk_begin(d, txn, &w) != CR_OK) {
        mdb_txn_abort(txn);
        goto unreadable;
    }
    MDB_val k, v;
    size_t unknown = 0;
    while (dir_walk_next(&w, &k, &v, NULL) == 1) {
        cr_user u;
        char *names[CR_DIR_SLOT_NAMES], **heap;
        if (!dir_decode(v.mv_data, v.mv_size, &u, names, CR_DIR_SLOT_NAMES, &heap))
            continue; /* export and lookups report damaged records */
        bool bad_policy = u.policy && !policy_known(cfg, u.policy);
        bool bad_profile = u.profile && !cr_config_profile_find(cfg, u.profile);
        if ((bad_policy || bad_profile) && ++unknown <= CHECK_NAMES_MAX) {
            char obj[CR_URI_MAX + 16];
            snprintf(obj, sizeof obj, "user '%.500s'", u.uri);
            const cr_policy *def = cr_config_default_policy(cfg);
            if (bad_policy) /* guide 9460: the default policy applies to such a user */
                cr_diag_add(diag, CR_DIAG_WARNING, (cr_srcloc){d->path, 0}, obj,
                            "voice policy '%s' is not configured: %s", u.policy,
                            def ? "the default policy applies"
                                : "there is no default policy either, the user cannot call out");
            if (bad_profile)
                cr_diag_add(diag, CR_DIAG_WARNING, (cr_srcloc){d->path, 0}, obj,
                            "location profile '%s' is not defined in the configuration: the "
                            "default profile applies to the user's calls",
                            u.profile);
        }
        free(heap);
    }
    if (unknown > CHECK_NAMES_MAX)
        cr_diag_add(diag, CR_DIAG_WARNING, (cr_srcloc){d->path, 0}, NULL,
                    "%zu more users with an undefined voice policy or location profile",
                    unknown - CHECK_NAMES_MAX);
    dir_walk_end(&w);
    mdb_txn_abort(txn);
    return CR_OK;
unreadable:
    cr_diag_add(diag, CR_DIAG_ERROR, (cr_srcloc){d->path, 0}, "directory", "cannot read it");
    return CR_EIO;
}

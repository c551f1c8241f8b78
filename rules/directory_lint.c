/* `check --db`: every user of the directory against the configuration (warnings only). */
#include "directory_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lint_user(const cr_directory *d, const cr_config *cfg, const cr_user *u, cr_diag *diag)
{
    if (!u->policy)
        return;
    for (size_t i = 0; i < cr_config_policy_count(cfg); i++)
        if (strcmp(cr_config_policy_at(cfg, i)->name, u->policy) == 0)
            return;
    const cr_policy *def = cr_config_default_policy(cfg);
    char obj[CR_URI_MAX + 16];
    snprintf(obj, sizeof obj, "user '%s'", u->uri);
    cr_diag_add(diag, CR_DIAG_WARNING, (cr_srcloc){d->path, 0}, obj,
                "voice policy '%s' is not configured: %s", u->policy,
                def ? "the default policy applies (guide: a user whose policy is gone)"
                    : "there is no default policy either, the user cannot call out");
}

int cr_directory_lint(cr_directory *d, const cr_config *cfg, cr_diag *diag)
{
    MDB_txn *txn;
    MDB_cursor *c;
    if (mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn) != 0)
        return CR_EIO;
    if (mdb_cursor_open(txn, d->users, &c) != 0) {
        mdb_txn_abort(txn);
        return CR_EIO;
    }
    MDB_val k, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        cr_user u;
        char *names[CR_DIR_SLOT_NAMES], **heap = NULL;
        if (dir_decode(v.mv_data, v.mv_size, &u, names, CR_DIR_SLOT_NAMES, &heap))
            lint_user(d, cfg, &u, diag);
        free(heap);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return CR_OK;
}

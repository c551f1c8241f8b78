/*
 * The user import under fuzzing (fuzz_users_csv.c, fuzz_users_xml.c): one directory on a
 * tmpfs (/dev/shm when there is one), opened once; each input is imported with `replace`,
 * so the directory never grows past one input's users. An import is all or nothing: a
 * refused input must leave an error in the diagnostics.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_directory.h"

static cr_directory *fuzz_db;
static char fuzz_dir[64], fuzz_file[96];

static void users_fuzz_cleanup(void)
{
    char p[128];
    cr_directory_close(fuzz_db);
    unlink(fuzz_file);
    snprintf(p, sizeof p, "%s/db/data.mdb", fuzz_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/db/lock.mdb", fuzz_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/db", fuzz_dir);
    rmdir(p);
    rmdir(fuzz_dir);
}

static void users_fuzz_import(const uint8_t *data, size_t size, const char *suffix)
{
    if (!fuzz_db) {
        static char dir[] = "/dev/shm/crfuzz-usersXXXXXX";
        static char alt[] = "/tmp/crfuzz-usersXXXXXX";
        const char *d = mkdtemp(dir) ? dir : mkdtemp(alt);
        char db[96], err[256];
        if (!d)
            abort();
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s", d);
        snprintf(db, sizeof db, "%s/db", d);
        snprintf(fuzz_file, sizeof fuzz_file, "%s/users%s", d, suffix);
        setenv("CALLROUTE_DB_MAPSIZE_MB", "256", 0);
        if (cr_directory_open(db, true, &fuzz_db, err, sizeof err) != CR_OK) {
            fprintf(stderr, "%s\n", err);
            abort();
        }
        atexit(users_fuzz_cleanup);
    }
    FILE *f = fopen(fuzz_file, "wb");
    if (!f || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    cr_diag d;
    cr_diag_init(&d);
    cr_import_report rep;
    int rc = cr_directory_import(fuzz_db, fuzz_file, true, &rep, &d);
    if (rc == CR_ECONFIG && d.errors == 0)
        abort();
    cr_diag_free(&d);
}

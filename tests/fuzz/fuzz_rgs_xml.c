/*
 * Any bytes as a configuration with response groups, through the response-group loader (and
 * the walk it shares with the routing loader): a clean refusal or a resolved configuration,
 * never a crash, hang or leak. The input is written into a private directory, so includes
 * can only reach the input itself (a cycle) or nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cr_rgs_xml.h"

static char dir[] = "/tmp/crfuzz-rgsXXXXXX";
static char path[64];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof path, "%s/rgs.xml", dir);
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    cr_rgs_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    int rc = cr_rgs_xml_load(path, &cfg, &d);
    if ((rc == CR_OK) != (cfg != NULL) || (rc == CR_ECONFIG && d.errors == 0))
        abort();
    cr_rgs_config_free(cfg);
    cr_diag_free(&d);
    return 0;
}

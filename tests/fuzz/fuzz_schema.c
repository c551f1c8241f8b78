/* Any bytes as a configuration file checked as `callroute check` does: each file validated
 * against the RELAX NG schema (with or without the namespace) before the loader's semantic
 * checks. A clean refusal or a config, never a crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cr_rules.h"
#include "cr_schema.h"
#include "cr_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cr_schema *schema;
    if (!schema && !(schema = cr_schema_new()))
        abort();
    char path[] = "/tmp/crfuzzXXXXXX.xml";
    int fd = mkstemps(path, 4);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    cr_load_options lo = {.check_doc = cr_schema_check_doc, .check_ud = schema};
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    if (cr_rules_load_ex(path, &lo, &cfg, &d) == CR_OK && !cfg)
        abort();
    cr_config_free(cfg);
    cr_diag_free(&d);
    unlink(path);
    return 0;
}

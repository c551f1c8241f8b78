/* Any bytes as a configuration file: a clean refusal or a config, never a crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cr_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    if (cr_rules_load(path, &cfg, &d) == CR_OK && !cfg)
        abort();
    cr_config_free(cfg);
    cr_diag_free(&d);
    unlink(path);
    return 0;
}

#include "testutil.h"
#include "cr_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cr_test_src(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("CR_SRC");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

const char *cr_test_tmpfile(const char *text, const char *suffix)
{
    static char bufs[8][256];
    static int slot;
    char *p = bufs[slot++ % 8];
    snprintf(p, 256, "/tmp/crtestXXXXXX%s", suffix ? suffix : "");
    int fd = mkstemps(p, suffix ? (int)strlen(suffix) : 0);
    if (fd < 0)
        return NULL;
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) {
        close(fd);
        return NULL;
    }
    close(fd);
    return p;
}

struct cr_config *cr_test_load_xml(const char *xml)
{
    const char *path = cr_test_tmpfile(xml, ".xml");
    if (!path)
        return NULL;
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    cr_rules_load(path, &cfg, &d);
    for (size_t i = 0; i < d.count; i++) {
        char line[1024];
        cr_diag_format(&d, i, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    cr_diag_free(&d);
    remove(path);
    return cfg;
}

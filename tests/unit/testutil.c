#include "testutil.h"

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

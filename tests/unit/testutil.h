/* Helpers shared by the unit tests. */
#ifndef CR_TESTUTIL_H
#define CR_TESTUTIL_H
#include <stddef.h>

/* Absolute path of a file in the source tree ("examples/contoso/contoso.xml"). Static buffer. */
const char *cr_test_src(const char *rel);
/* Writes `text` to a fresh temporary file and returns its path (static buffer per call
 * slot; up to 8 live at once). The file name ends with `suffix`. */
const char *cr_test_tmpfile(const char *text, const char *suffix);
#endif

/* Helpers shared by the unit tests. */
#ifndef CR_TESTUTIL_H
#define CR_TESTUTIL_H
#include <stddef.h>

/* Absolute path of a file in the source tree ("examples/contoso/contoso.xml"). Static buffer. */
const char *cr_test_src(const char *rel);
/* Writes `text` to a fresh temporary file and returns its path (static buffer per call
 * slot; up to 8 live at once). The file name ends with `suffix`. */
const char *cr_test_tmpfile(const char *text, const char *suffix);
/* Loads a configuration given as XML text through the real loader (a temporary file);
 * prints every diagnostic to stderr. Returns the compiled config, or NULL when refused. */
struct cr_config *cr_test_load_xml(const char *xml);
#endif

/* Helpers shared by the unit tests. */
#ifndef CR_TESTUTIL_H
#define CR_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>

/* Absolute path of a file in the source tree ("examples/contoso/contoso.xml"). Static buffer. */
const char *cr_test_src(const char *rel);
/* Writes `text` to a fresh temporary file and returns its path (static buffer per call
 * slot; up to 8 live at once). The file name ends with `suffix`. */
const char *cr_test_tmpfile(const char *text, const char *suffix);
/* Loads a configuration given as XML text through the real loader (a temporary file);
 * prints every diagnostic to stderr. Returns the compiled config, or NULL when refused. */
struct cr_config *cr_test_load_xml(const char *xml);
/* A plan of one profile, usage, policy and gateway, with `nroutes` routes (route-NNNNN, each
 * +1206 and its own five digits, then two more), or with nroutes 0 one route "local" for every
 * +1425 number, and `nusers` users (sip:uN@example.com, line tel:+1425 and N in seven digits).
 * Free with free(). */
char *cr_test_plan_xml(size_t nroutes, size_t nusers);

/* Growable text buffer for the scenario runners (free .buf when done). */
typedef struct cr_test_out {
    char *buf;
    size_t len, cap;
} cr_test_out;
void cr_test_append(cr_test_out *o, const char *s);
/* An engine action as `callroute simulate` prints it, appended to the cr_test_out `ud`. */
void cr_test_emit(void *ud, int64_t at, const char *call, const char *action, const char *args);
/* "2027-01-04T09:00:00Z" as Unix milliseconds, -1 when malformed. */
int64_t cr_test_parse_iso(const char *s);
/* The whole file as a NUL-terminated string (free it), NULL when unreadable. */
char *cr_test_slurp(const char *path);
/* The scenario names (file names without ".events") in source directory `dir_rel`, sorted;
 * only `only` when it is not NULL. Returns how many, or -1 when the directory is missing. */
#define CR_TEST_NAME_MAX 128
int cr_test_list_events(const char *dir_rel, char (*names)[CR_TEST_NAME_MAX], size_t max,
                        const char *only);
/* Whether the mapping holding p is advised for huge pages ("hg" in its VmFlags); -1 when
 * /proc/self/smaps cannot tell or the kernel has no transparent huge pages to advise. */
int cr_test_advised_huge(const void *p);
/* 1 when the mapping holding p is writable, 0 when it is not, -1 when p is in none (or
 * /proc/self/maps cannot be read). */
int cr_test_writable(const void *p);

/* A decision's reason and attempt i's Request-URI as text (cr_decision_reason, cr_attempt_uri
 * of configuration c), each in the next of 8 static buffers: up to 8 live at once. */
struct cr_decision;
struct cr_config;
const char *cr_test_reason(const struct cr_decision *d);
const char *cr_test_uri(const struct cr_config *c, const struct cr_decision *d, size_t i);
#endif

/* Any bytes after '<' as an XML users file (`callroute users import`): refused cleanly or
 * imported. The '<' makes the import take the XML path. */
#include "users_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || data[0] != '<')
        return 0;
    users_fuzz_import(data, size, ".xml");
    return 0;
}

/* Any bytes as a CSV users file (`callroute users import`): refused cleanly or imported. */
#include "users_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i = 0;
    while (i < size && strchr(" \t\r\n\xEF\xBB\xBF", data[i]) && data[i])
        i++;
    if (i < size && data[i] == '<') /* XML: fuzz_users_xml's */
        return 0;
    users_fuzz_import(data, size, ".csv");
    return 0;
}

/* Links the installed libcallroute.so and asks for its table: prints the ABI version. */
#include <callroute.h>
#include <stdio.h>

int main(void)
{
    const char *err = NULL;
    const cr_plugin *p = cr_plugin_entry(NULL, &err);
    if (!p)
        return 1;
    printf("%u.%u\n", p->abi_major, p->abi_minor);
    return p->abi_major == CR_ABI_MAJOR ? 0 : 1;
}

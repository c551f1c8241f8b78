/* Any dialed string through parsing, normalization, the outbound decision, inbound and
 * device dialing on the contoso deployment: no crash, no hang, no leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cr_engine.h"
#include "cr_rules.h"

static cr_config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg) {
        const char *path = getenv("CR_FUZZ_CONFIG");
        cr_diag d;
        cr_diag_init(&d);
        cr_rules_load(path ? path : "examples/contoso/contoso.xml", &cfg, &d);
        cr_diag_free(&d);
        if (!cfg)
            abort();
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    /* the first line is the caller when it looks like a URI */
    const char *from = "sip:alice@contoso.com", *num = s;
    char *nl = strchr(s, '\n');
    if (nl && strncmp(s, "sip:", 4) == 0) {
        *nl = 0;
        from = s;
        num = nl + 1;
    }
    static cr_decision d;
    cr_trace t;
    cr_trace_init(&t);
    cr_route_decide(cfg, from, num, NULL, &d, &t);
    cr_trace_free(&t);
    cr_inbound in;
    cr_inbound_decide(cfg, cr_config_gateway_at(cfg, 0), num, num, &in, NULL);
    const cr_rule *r;
    char out[CR_NUMBER_MAX + 1];
    for (size_t i = 0; i < cr_config_profile_count(cfg); i++)
        cr_profile_dial(cr_config_profile_at(cfg, i), num, &r, out, sizeof out, NULL);
    free(s);
    return 0;
}

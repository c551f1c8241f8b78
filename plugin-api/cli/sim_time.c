/* The time field of a timeline line (sim_time.h). */
#include "sim_time.h"

int64_t cr_sim_parse_seconds(const char *s, const char **rest)
{
    int64_t whole = 0, frac = 0;
    int digits = 0, fd = 0;
    for (; *s >= '0' && *s <= '9' && whole < 100000000000LL; s++, digits++)
        whole = whole * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            if (fd < 3)
                frac = frac * 10 + (*s - '0'), fd++;
    if (!digits || (*s && *s != ' ' && *s != '\t'))
        return -1;
    while (fd < 3)
        frac *= 10, fd++;
    *rest = s;
    return whole * 1000 + frac;
}

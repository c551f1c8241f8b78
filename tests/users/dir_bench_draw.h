/* The uniform draws of the directory's lookup benchmarks (directory_bench, dir_cells_probe):
 * m user indexes below n, the same sequence in both programs, so that their figures are over
 * the same numbers. */
#ifndef CR_DIR_BENCH_DRAW_H
#define CR_DIR_BENCH_DRAW_H

#include <stdlib.h>

static inline void dir_bench_uniform(size_t *which, size_t m, size_t n)
{
    srand(42);
    for (size_t i = 0; i < m; i++)
        which[i] = ((size_t)rand() * 65536u + (size_t)rand()) % n;
}

#endif

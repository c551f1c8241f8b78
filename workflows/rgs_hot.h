/* Code placement for the event path (an internal header of workflows/).
 *
 * The functions an event runs are marked RGS_HOT: GCC puts them in .text.hot, which the linker
 * gathers in one run, so that the event path's code fits the L1 instruction cache instead of
 * being spread among the configuration, image and query code. Error and log formatting is
 * RGS_COLD: the blocks that call it move out of the hot functions (.text.unlikely). Neither
 * changes what the code does. */
#ifndef RGS_HOT_H
#define RGS_HOT_H

#define RGS_HOT  __attribute__((hot))
#define RGS_COLD __attribute__((cold))

#endif

/* Inside plan images (plan_image.c, plan_hash.c): the format's magic, version and the
 * architecture tag. What other layers use is in cr_plan_image.h. */
#ifndef CR_PLAN_IMAGE_H
#define CR_PLAN_IMAGE_H

#include "cr_plan_image.h"

#include <stdint.h>

#define CR_PLAN_MAGIC "CRPLAN\x1a\n" /* 8 bytes, no NUL */
/* 2: the compiled sections; 3: merged tries per policy; 4: their candidates inline in the items;
 * 5: the caller table's cells (S_USLOTS) carry the caller's hot fields, and each user's URI key
 * and line number share a cache line (S_UKEYS; the section of line numbers left empty); 6: the
 * checksum over 1 MiB chunks (cr_image_checksum), which a start computes on two cores, and the
 * empty section gone; 8: a trie node whose children are all leaves with one item each holds them as
 * items, after its own (CR_PX_LEAVES in its mask), and the leaves are no nodes; 9: the response
 * groups compiled (an attachment, S_ATTACHED), no longer the XML of the files declaring them;
 * 10: a large merged trie's nodes in breadth-first order and its leaves' items also in dense
 * blocks (S_DENSE, route_index.h); 11: the dense blocks one level up, for the parents of the nodes
 * holding leaves, one slot for every two digits (the child's own item range and the leaf's item);
 * 12: the line index's slots carry their number packed (cr_line_slot, 16 bytes) */
#define CR_PLAN_VERSION 13u

/* The architecture tag this build writes and accepts: pointer size, byte order, ABI. */
uint32_t ce_image_arch(void);

#endif

/* Inside plan images: the layout shared by plan_image.c (the model) and plan_image_cx.c (the
 * compiled sections). Not for other layers. */
#ifndef CR_PLAN_IMAGE_INT_H
#define CR_PLAN_IMAGE_INT_H

#include "plan_image.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NONE UINT32_MAX

enum {
    S_STR,
    S_FILES,
    S_DOMAINS,
    S_PROFILES,
    S_RULES,
    S_USAGES,
    S_POLICIES,
    S_GATEWAYS,
    S_ROUTES,
    S_USERS,
    S_NAMES,
    S_META,
    S_ATTACHED, /* [attachments]: name, offset and length of its bytes in S_BLOB (version 9;
                   the XML text of the files declaring response groups before) */
    S_BLOB,
    /* compiled (version 2, plan_image_cx.c): read in place by the processes adopting a plan */
    S_NAMEIX,   /* [names]: the resolved index of each name of a resolved list, NONE otherwise */
    S_USERCX,   /* [users]: line number, extension, policy and profile indexes */
    S_CXMETA,   /* one record: statistics, likely profile, table sizes, hash check */
    S_TRIES,    /* [usages + profiles]: first node, nodes, first item, items */
    S_NODES,    /* cr_px_node */
    S_ITEMS,    /* cr_px_item */
    S_KINDS,    /* [routes]: CR_RK_* bytes */
    S_ROUTEIDS, /* the routes of each usage, in order */
    S_UHEAD,    /* [usages]: first and count in S_ROUTEIDS */
    S_UKEYS,    /* [users] cr_user_keys: URI keys and line numbers (version 5; URI keys before,
                   the line numbers in a section of their own, gone in version 6) */
    S_USLOTS,   /* cr_user_cell: the caller table (version 5; cr_index_slot before) */
    S_LSLOTS,   /* cr_line_slot: the line index (version 12; cr_index_slot before) */
    S_LISTS,    /* every distinct list once: first and count in S_NAMES, kind (LK_*) */
    /* version 3: one merged trie per distinct usage list of the policies (route_index.h);
       version 4: the candidates inline in the merged tries' items (no slots) */
    S_WALKS,   /* [walks]: first node, nodes (in S_NODES), first item, items (in S_WITEMS),
                  candidates, first policy */
    S_WITEMS,  /* cr_px_witem: each walk's items, its candidate inline */
    S_POLWALK, /* [policies]: the policy's walk, NONE: one walk per usage */
    S_DENSE,   /* cr_px_dblock: the merged tries' dense leaf blocks (version 10; 100 slots a block
                  for the parents of the leaf holders, version 11) */
    S_UKSLOTS, /* cr_key_cell: the caller table's keys by slot, as many as its cells (version 13) */
    S_COUNT
};

/* uint32_t fields of each record section; 0 for the sections of bytes or of structs (their
 * element size is sec_esize) */
static const uint32_t sec_fields[S_COUNT] = {0,  1, 1, 7, 7, 3, 7, 7, 9, 17, 1, 10, 3, 0, 1, 4,
                                             16, 4, 0, 0, 0, 1, 2, 0, 0, 0,  3, 9,  0, 1, 0, 0};
static const uint32_t sec_esize[S_COUNT] = {1,  4,  4,  28, 28, 12, 28, 28, 36,   68, 4,
                                            40, 12, 1,  4,  16, 64, 16, 16, 8,    1,  4,
                                            8,  64, 16, 16, 12, 36, 24, 4,  3200, 32};
static const char *const sec_names[S_COUNT] = {
    "strings",      "files",      "domains",      "profiles",     "rules",         "usages",
    "policies",     "gateways",   "routes",       "users",        "names",         "meta",
    "attachments",  "blob",       "name indexes", "user lines",   "compiled meta", "tries",
    "trie nodes",   "trie items", "route kinds",  "usage routes", "usage heads",   "user keys",
    "caller table", "line index", "lists",        "merged tries", "merged items",  "policy walks",
    "dense blocks", "caller keys"};

typedef struct plan_section {
    uint64_t off, count;
    uint32_t esize, pad;
} plan_section;

typedef struct plan_header {
    char magic[CR_PLAN_MAGIC_LEN];
    uint64_t checksum; /* cr_image_checksum of bytes [16, total_len) */
    uint32_t version, arch;
    uint64_t total_len, generation, digest;
    uint32_t header_len, nsections;
    plan_section sec[S_COUNT];
} plan_header;

_Static_assert(sizeof(plan_header) == 56 + 24 * S_COUNT, "plan header layout");

/* record layouts (field indexes) */
enum { PR_NAME, PR_DESC, PR_EAP, PR_FIRST, PR_COUNT, PR_FILE, PR_LINE };
enum { RU_NAME, RU_DESC, RU_PATTERN, RU_XLAT, RU_FLAGS, RU_FILE, RU_LINE };
enum { US_NAME, US_FILE, US_LINE };
enum { PO_NAME, PO_DESC, PO_FLAGS, PO_FIRST, PO_COUNT, PO_FILE, PO_LINE };
enum { GW_NAME, GW_ADDR, GW_PROFILE, GW_FLAGS, GW_PORTS, GW_FILE, GW_LINE };
enum { RO_NAME, RO_DESC, RO_PATTERN, RO_UFIRST, RO_UCOUNT, RO_GFIRST, RO_GCOUNT, RO_FILE, RO_LINE };
enum {
    UR_URI,
    UR_LINEURI,
    UR_POLICY,
    UR_PROFILE,
    UR_SIMRING,
    UR_FWD_IMM,
    UR_FWD_AFTER,
    UR_FWD_TARGET,
    UR_TEAM_DELAY,
    UR_TFIRST,
    UR_TCOUNT,
    UR_DFIRST,
    UR_DCOUNT,
    UR_VOICEMAIL,
    UR_FLAGS,
    UR_FILE,
    UR_LINE
};
enum {
    ME_DPROFILE,
    ME_DPROFILE_FILE,
    ME_DPROFILE_LINE,
    ME_DPOLICY,
    ME_DPOLICY_FILE,
    ME_DPOLICY_LINE,
    ME_DIR,
    ME_DIR_FILE,
    ME_DIR_LINE,
    ME_FLAGS
};
enum { AT_NAME, AT_OFF, AT_LEN };
enum { UC_NUMBER, UC_EXT, UC_POLICY, UC_PROFILE };
enum {
    CX_HASHCHECK,
    CX_LIKELY,
    CX_RIX, /* routes: indexed, fallback, never */
    CX_RFB,
    CX_RNV,
    CX_UIX, /* rules: the same */
    CX_UFB,
    CX_UNV,
    CX_BYTES_LO,
    CX_BYTES_HI,
    CX_FLAGS,         /* CX_FLAG_* */
    CX_LIKELY_POLICY, /* the voice policy most users get, NONE: none (format 4) */
    CX_FIELDS = 16
};
enum { TR_NODE, TR_NNODES, TR_ITEM, TR_NITEMS };
/* WK_DNODE, WK_DENSE, WK_NDENSE (version 10): the walk's dense leaf blocks, blocks
 * [WK_DENSE, +WK_NDENSE) of S_DENSE for its nodes WK_DNODE.. (all 0: none) */
enum {
    WK_NODE,
    WK_NNODES,
    WK_ITEM,
    WK_NITEMS,
    WK_NCANDS,
    WK_POLICY,
    WK_DNODE,
    WK_DENSE,
    WK_NDENSE
};
enum { LI_FIRST, LI_COUNT, LI_KIND };
/* What a list's names name: phone usages, gateways, or nothing resolved (team, delegates). */
enum { LK_USAGES, LK_GATEWAYS, LK_PLAIN, LK_COUNT };

typedef struct u32vec {
    uint32_t *v;
    size_t n, cap;
} u32vec;

typedef struct builder {
    u32vec sec[S_COUNT];  /* records of each uint32_t section, bytes of the struct sections */
    size_t nraw[S_COUNT]; /* elements of the struct sections (S_NODES...) */
    uint32_t *lists;      /* S_LISTS record + 1 of each distinct list, open addressing (put_list) */
    size_t listcap, nlists;
    char *pool, *blob;
    size_t npool, cappool, nblob, capblob;
    uint32_t *set; /* string pool offsets + 1, open addressing */
    size_t setcap, setn;
    const cr_config *cfg;
    const char *last_file;
    uint32_t last_file_ix;
    bool oom;
} builder;

typedef struct reader {
    const char *base;
    const plan_header *h;
    const char *pool;
    uint64_t npool;
    const char **files; /* interned in the new config */
    size_t nfiles;
    cr_config *cfg;
    bool broken, oom;
    bool adopt;      /* lists final and compiled sections read in place (ce_pi_adoptable) */
    bool trusted;    /* CR_IMAGE_TRUSTED: records and compiled sections are not checked again */
    uint64_t *lined; /* users with a line number, a bit each (ce_pi_users_lazy, checking) */
    uint64_t *hot;   /* [users]: the caller table's hot fields each user's cell must hold (the
                      * cell's last 8 bytes, ce_pi_users_lazy, checking) */
    struct ce_list_table *lists; /* the distinct lists, built final (adopting) */
    char why[160];
} reader;

/* building (plan_image.c) */
void ce_pi_put(builder *b, int s, uint32_t v);
/* Appends n elements of struct section s (sec_esize[s] bytes each). */
void ce_pi_put_raw(builder *b, int s, const void *p, size_t n);
uint32_t ce_pi_str(builder *b, const char *s);
/* The compiled sections of b->cfg (plan_image_cx.c). */
void ce_pi_build_compiled(builder *b);

/* reading (plan_image.c) */
/* Section s's records and their count (inline: the checks call them per record). */
static inline const uint32_t *ce_pi_recs(const reader *r, int s)
{
    return (const uint32_t *)(const void *)(r->base + r->h->sec[s].off);
}
static inline size_t ce_pi_nrecs(const reader *r, int s)
{
    return (size_t)r->h->sec[s].count;
}
void ce_pi_broken(reader *r, const char *what, size_t i);
const char *ce_pi_rstr(reader *r, uint32_t off, size_t i);
/* True when the image holds its compiled sections and they can be read in place by this build
 * (same hash function): lists are then read final, and ce_pi_read_compiled attaches the rest. */
bool ce_pi_adoptable(const reader *r);
/* Builds every distinct list of S_LISTS final (adopting): the names in the arena, the resolved
 * indexes read in place from S_NAMEIX, each checked against what its kind names. */
void ce_pi_lists_build(reader *r);
/* The list at names[first, first+count) of kind LK_*, read final (shared with every equal one). */
void ce_pi_list_final(reader *r, cr_namelist *l, uint32_t first, uint32_t count, int kind,
                      size_t i);
/* Routes filled on first use (adopting, ce_route): every record is checked now. */
void ce_pi_routes_lazy(reader *r);
/* Users filled on first use (adopting, ce_user): every record is checked now. */
void ce_pi_users_lazy(reader *r);
/* Checks the compiled sections against the configuration read so far and attaches them to it
 * (cfg->cx), read in place; sets r->broken or r->oom (plan_image_cx.c). */
void ce_pi_read_compiled(reader *r);

#endif

/*
 * Plan images: a compiled configuration as one immutable, position-independent block.
 *
 * An image is a header followed by sections; everything inside refers to everything else by
 * offsets and indexes, never by pointers, so the block can be written to a file, mapped
 * read-only by any process at any address and shared. The header names the format version,
 * the architecture it was written on (pointer size, byte order, ABI), the generation it was
 * published as, a digest of the source files it was compiled from, its total length and a
 * checksum of everything after the checksum field (cr_image_checksum: XXH64 over 1 MiB chunks).
 *
 * The image holds the whole routing model (domains, location profiles and rules, usages,
 * policies, gateways, routes, users and their call management, defaults, the user directory's
 * path) and the response-group configuration compiled (an attachment: cr_config_attach).
 * cr_image_read turns an image back into a cr_config to compile: no XML is parsed.
 *
 * No I/O here: rules/plan_file.c maps files and writes them. The format's magic, version and
 * architecture tag are the engine's own (engine/plan_image.h).
 */
#ifndef CR_PLAN_IMAGE_PUB_H
#define CR_PLAN_IMAGE_PUB_H

#include "cr_model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CR_PLAN_MAGIC_LEN 8 /* bytes of the magic at the start of an image */
/* Largest image accepted: offsets inside are 32-bit. */
#define CR_PLAN_MAX ((uint64_t)UINT32_MAX)

/* XXH64 of p[0..n). */
uint64_t cr_image_hash64(const void *p, size_t n, uint64_t seed);

/* The same over bytes given in pieces (a copy hashed as it is made): init, update for each
 * piece in order, final gives what cr_image_hash64 gives over them all. */
typedef struct cr_hash64 {
    uint64_t v[4], total, seed;
    unsigned char buf[32];
    unsigned nbuf;
} cr_hash64;
void cr_hash64_init(cr_hash64 *s, uint64_t seed);
void cr_hash64_update(cr_hash64 *s, const void *p, size_t n);
uint64_t cr_hash64_final(const cr_hash64 *s);

/*
 * An image's checksum (format 7 on): the XXH3-64 of each CR_IMAGE_SUM_CHUNK piece of the bytes
 * in order (the last one shorter), then the XXH3-64 of those sums followed by the byte count,
 * each written as 8 little-endian bytes (format 6 used XXH64 in the same shape). Its pieces can
 * be hashed on several cores (cr_image_sum_chunks, then cr_image_sum_combine): a start verifies
 * an image on two (rules/plan_file.c cr_image_checksum_mt).
 */
#define CR_IMAGE_SUM_CHUNK ((size_t)1 << 20)
uint64_t cr_image_checksum(const void *p, size_t n);
/* The sums of chunks first .. first + count - 1 of p[0..n) into sums[first ..]. */
void cr_image_sum_chunks(const void *p, size_t n, size_t first, size_t count, uint64_t *sums);
/* The checksum of n bytes from the sums of its chunks (count of them). */
uint64_t cr_image_sum_combine(const uint64_t *sums, size_t count, uint64_t n);
/* The same over bytes given in pieces of any size (a copy hashed as it is made). The two
 * XXH3 states live in the struct (no allocation); plan_sum.c checks that they fit. */
typedef struct cr_image_sum {
    _Alignas(64) unsigned char chunk[640], outer[640];
    size_t in_chunk;
    uint64_t total;
} cr_image_sum;
void cr_image_sum_init(cr_image_sum *s);
void cr_image_sum_update(cr_image_sum *s, const void *p, size_t n);
uint64_t cr_image_sum_final(const cr_image_sum *s);

/* True when buf starts with the image magic (n >= CR_PLAN_MAGIC_LEN). */
bool cr_image_has_magic(const void *buf, size_t n);

typedef struct cr_image_info {
    uint32_t version, arch;
    uint64_t total_len, generation, digest, checksum;
} cr_image_info;

/*
 * Writes the image of a compiled configuration into a new malloc'd block (*out, *len).
 * Returns CR_OK, CR_ENOMEM, CR_ESTATE (not compiled) or CR_ERANGE (over CR_PLAN_MAX).
 */
int cr_image_build(const cr_config *cfg, uint64_t generation, void **out, size_t *len);

/*
 * Checks an image: magic, version, architecture, length, checksum and the section table.
 * On failure returns CR_EINVAL (damaged), CR_EVERSION (other version or architecture) with
 * what is wrong in err ("truncated: 100 bytes of 4096", ...). Fills *info when not NULL
 * (also on failure, as far as the header could be read).
 */
int cr_image_verify(const void *buf, size_t n, cr_image_info *info, char *err, size_t errlen);

/* cr_image_verify without the checksum (an image CR_IMAGE_TRUSTED reads). */
int cr_image_verify_header(const void *buf, size_t n, cr_image_info *info, char *err,
                           size_t errlen);

/* cr_image_verify with the checksum of everything after the checksum field computed by the
 * caller (cr_image_sum over a copy as it was made, or on several threads): compared with the
 * header's, not computed. */
int cr_image_verify_sum(const void *buf, size_t n, uint64_t sum, cr_image_info *info, char *err,
                        size_t errlen);

/* Rewrites the generation an image (n bytes, writable, verified) is published as and its
 * checksum; returns the new checksum. */
uint64_t cr_image_restamp(void *buf, size_t n, uint64_t generation);
/* The same given the sum of each of its checksum chunks (cr_image_sum_chunks over the bytes
 * after the checksum field: `chunks` of them, updated): only the first chunk, which holds the
 * generation, is hashed again. A count that does not fit n: cr_image_restamp. */
uint64_t cr_image_restamp_sums(void *buf, size_t n, uint64_t generation, uint64_t *sums,
                               size_t chunks);

/*
 * Verifies an image (cr_image_verify) and rebuilds the configuration it holds, not compiled:
 * the caller compiles it (cr_config_compile). Errors go to diag naming `name` (the image's
 * file). Returns CR_OK, CR_ECONFIG (refused: damaged, foreign or inconsistent) or CR_ENOMEM.
 */
int cr_image_read(const void *buf, size_t n, const char *name, cr_config **out, cr_diag *diag);

/*
 * cr_image_read with flags. CR_IMAGE_BORROW: the configuration's strings (names, patterns,
 * descriptions, URIs, numbers) stay in the image instead of being copied; the image must then
 * stay mapped, unchanged, until the configuration is freed (cr_image_config_release sets who
 * releases it). Every process deciding from the same mapped image shares those pages.
 */
#define CR_IMAGE_BORROW 1u
/* The bytes were accepted by cr_image_verify and cannot have changed since (a read-only
 * mapping of a file nobody rewrites in place): the checksum is not computed again (the header
 * and the section table are still checked). */
#define CR_IMAGE_VERIFIED 2u
/* With CR_IMAGE_BORROW: a configuration that adopts the image's compiled sections compiles
 * without lint (the process that wrote the image ran it and reported its warnings). */
#define CR_IMAGE_NOLINT 4u
/* The image was validated whole by the process of this host that published it (it built the
 * image from a configuration it compiled, or verified and read it) and is mapped from a file
 * nobody rewrites: neither the checksum nor the records are checked again, only the header and
 * the section table. A process following that publisher then adopts in a few milliseconds
 * whatever the plan's size. Never for a file an admin names (plugin-api/lib/handle.c). */
#define CR_IMAGE_TRUSTED 8u
int cr_image_read_ex(const void *buf, size_t n, const char *name, unsigned flags, cr_config **out,
                     cr_diag *diag);
/* Who releases the image a configuration read with CR_IMAGE_BORROW borrows from: release(ud)
 * is called when the configuration is freed. */
void cr_image_config_release(cr_config *cfg, void (*release)(void *ud), void *ud);

/* The bytes an image (one cr_image_verify accepted) carries under `name` (cr_config_attach),
 * borrowed from buf: false when it holds none, or when a record of its attachments is out of
 * bounds. */
bool cr_image_attachment(const void *buf, const char *name, const void **bytes, size_t *len);

#endif

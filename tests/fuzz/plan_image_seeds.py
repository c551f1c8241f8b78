#!/usr/bin/env python3
"""Seeds for fuzz_plan_image: damaged variants of valid plan images, aimed at the compiled
sections that a process adopting an image reads in place (engine/plan_image_cx.c).

fuzz_plan_image writes a valid header and checksum over every input before reading it, so
each variant here reaches the section checks: a byte flipped, a count or index pushed out of
range, a hash table with no empty slot, a caller table's cell whose hot fields are not its user's,
a key cell longer than its cell, a trie node whose
children lie outside its trie (child nodes, or leaves held as items), a merged trie's item naming another route or candidate, the response groups compiled into the
image (format 9) cut short or damaged, a merged trie's dense leaf blocks (format 11: one block of
100 slots for each parent of the nodes holding leaves, and the children each parent takes from its
block in its dense_kids) outside their section or nodes, or not mirroring them, a line slot's packed
number (format 12) changed, made up or cleared. The images: `callroute compile` of
examples/contoso/contoso.xml and examples/workflows/kamailio-huntgroups.xml, and the contoso image
with dense blocks in every merged trie (`CR_DENSE_IMAGE_OUT=PATH test_plan_image`, which compiles
it with ce_route_index_dense_min(0)). Section numbers
are read from engine/plan_image_int.h. Deterministic (seeded), so the corpus is the same each time.

  plan_image_seeds.py OUTDIR IMAGE...
"""
import hashlib
import os
import random
import re
import struct
import sys

HEADER = struct.Struct("<8sQIIQQQII")  # magic, checksum, version, arch, total, gen, digest, hlen, nsec
SECTION = struct.Struct("<QQII")  # off, count, esize, pad
INT_H = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "engine",
                     "plan_image_int.h")


def section_numbers(path=INT_H):
    """The section numbers, read from the enum in engine/plan_image_int.h (S_STR ... S_COUNT)."""
    text = open(path).read()
    body = text[text.index("S_STR,"):text.index("S_COUNT")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = [n.strip() for n in body.split(",") if n.strip()]
    return {name: i for i, name in enumerate(names)}


globals().update(section_numbers())

def sections(img):
    h = HEADER.unpack_from(img, 0)
    out = []
    for i in range(h[8]):
        off, count, esize, _ = SECTION.unpack_from(img, HEADER.size + i * SECTION.size)
        out.append((off, count, esize))
    return out


def put32(img, pos, v):
    if 0 <= pos and pos + 4 <= len(img):
        struct.pack_into("<I", img, pos, v & 0xFFFFFFFF)


def variants(img, rng):
    secs = sections(img)
    for s in range(S_NAMEIX, len(secs)):
        off, count, esize = secs[s]
        size = count * esize
        if size == 0:
            continue
        for _ in range(3):  # a flipped byte
            v = bytearray(img)
            v[off + rng.randrange(size)] ^= 1 << rng.randrange(8)
            yield v
        for val in (0xFFFFFFFF, 0x7FFFFFFF, count, count + 1, 0x80000000 | count):
            v = bytearray(img)
            put32(v, off + 4 * rng.randrange(max(1, size // 4)), val)
            yield v
        v = bytearray(img)  # the section one element shorter in the table
        SECTION.pack_into(v, HEADER.size + s * SECTION.size, off, count - 1, esize, 0)
        yield v
    off, count, esize = secs[S_ATTACHED]
    boff, bcount, _ = secs[S_BLOB]
    if count and bcount:
        # the response groups compiled (format 9, rules/rgs_image.c): an attachment past the blob,
        # cut short, or its records damaged (counts, string lengths, file indexes, kinds)
        _, aoff, alen = struct.unpack_from("<III", img, off)
        for val in (alen + 1, alen - 1, alen // 2, 0):
            v = bytearray(img)
            put32(v, off + 8, val)
            yield v
        for _ in range(12):
            v = bytearray(img)
            v[boff + aoff + 8 + rng.randrange(max(1, alen - 8))] ^= 1 << rng.randrange(8)
            yield v
        for _ in range(6):
            v = bytearray(img)
            put32(v, boff + aoff + 8 + 4 * rng.randrange(max(1, (alen - 8) // 4)),
                  rng.choice((0xFFFFFFFF, 0x7FFFFFFF, 0x10000, 7)))
            yield v
    off, count, esize = secs[S_USLOTS]
    used = next((k for k in range(count)
                 if struct.unpack_from("<I", img, off + esize * k + 4)[0]), None)
    if used is not None:
        # a caller table with no empty cell (every cell a used one's copy under another tag):
        # a probe would never end
        v = bytearray(img)
        cell = img[off + esize * used:off + esize * (used + 1)]
        for k in range(count):
            v[off + esize * k:off + esize * (k + 1)] = cell
            struct.pack_into("<I", v, off + esize * k, k * 2654435761 & 0xFFFFFFFF)
        yield v
        for pos, fmt, val in ((8, "<H", 0xFFFE), (10, "<H", 0xFFFE), (12, "<B", 0), (13, "<B", 1)):
            v = bytearray(img)  # a used cell's policy, profile, hot flags or padding damaged
            struct.pack_into(fmt, v, off + esize * used + pos, val)
            yield v
    off, count, esize = secs[S_LSLOTS]
    packed = [k for k in range(count) if struct.unpack_from("<IIQ", img, off + esize * k)[1]]
    for k in packed[:3]:
        # a line slot (format 12: hash, value + 1, the number packed) whose packed number is
        # another's (a nibble changed), made up for a key that does not pack, or cleared
        _, _, num = struct.unpack_from("<IIQ", img, off + esize * k)
        for new in (num ^ (1 << (4 * rng.randrange(16))), 0x0102030405060708, 0):
            if new != num:
                v = bytearray(img)
                struct.pack_into("<Q", v, off + esize * k + 8, new)
                yield v
    off, count, esize = secs[S_UKEYS]
    for pos in (0, 32):  # a URI key or a line number longer than its cell
        if count:
            v = bytearray(img)
            v[off + pos] = 31
            yield v
    off, count, esize = secs[S_WITEMS]
    if count:  # a merged item naming a candidate past its walk's, a route past the routes, a
        # usage rank past the policy's, and another candidate's data under its own id
        for pos, fmt, val in ((0, "<I", 0x7FFFFFFF), (8, "<I", 0x7FFFFFFF), (12, "<H", 0xFFFE)):
            v = bytearray(img)
            struct.pack_into(fmt, v, off + pos, val)
            yield v
        if count > 1:
            v = bytearray(img)
            v[off + 8:off + 24] = img[off + esize + 8:off + esize + 24]
            yield v
    off, count, esize = secs[S_NODES]
    if count:
        v = bytearray(img)  # the root's children past the trie
        struct.pack_into("<IIIH", v, off, 0x7FFFFFF0, 0, 0, 0x1FFF)
        yield v
        v = bytearray(img)  # a symbol outside the alphabet
        struct.pack_into("<H", v, off + 12, 0xE000)
        yield v
        leaves = next((k for k in range(count)
                       if struct.unpack_from("<H", img, off + esize * k + 12)[0] & 0x8000), None)
        if leaves is not None:
            # a node holding its children as items (CR_PX_LEAVES, format 8) that also names
            # child nodes, has no children's symbols, or has its leaves past the items
            at = off + esize * leaves
            for pos, fmt, val in ((0, "<I", 1), (12, "<H", 0x8000), (4, "<I", 0x7FFFFFF0)):
                v = bytearray(img)
                struct.pack_into(fmt, v, at + pos, val)
                yield v
    off, count, esize = secs[S_DENSE]
    woff, wcount, wesize = secs[S_WALKS]
    walk = next((w for w in range(wcount)
                 if struct.unpack_from("<9I", img, woff + w * wesize)[8]), None)
    if count and walk is not None:
        # dense leaf blocks (format 11): a walk's blocks past the section or its nodes, its first
        # node moved (the blocks then mirror other nodes), none named with a first block left; a
        # slot's leaf or padding damaged, an empty slot filled (or made to match); a block node's
        # dense_kids naming other children, none, or set on the root (outside the blocks)
        at = woff + walk * wesize
        rec = struct.unpack_from("<9I", img, at)
        for field, val in ((6, rec[1]), (6, rec[6] + 1), (7, count), (8, count + 1), (8, 0)):
            v = bytearray(img)
            put32(v, at + 4 * field, val)
            yield v
        slots = [off + 32 * k for k in range(count * esize // 32)]
        used = next((p for p in slots if any(img[p:p + 32])), None)
        unused = next((p for p in slots if not any(img[p:p + 32])), None)
        if used is not None:
            for pos, val in ((8, 0x7FFFFFFF), (0, 0x7FFFFFFF), (16, 3), (24, 1)):
                v = bytearray(img)
                put32(v, used + pos, val)
                yield v
        if unused is not None:
            for pos, val in ((8, 1), (4, 0x0C00)):
                v = bytearray(img)
                put32(v, unused + pos, val)
                yield v
        noff, _, nesize = secs[S_NODES]
        block_node = noff + (rec[0] + rec[6]) * nesize
        kids = struct.unpack_from("<H", img, block_node + 14)[0]
        for node, val in ((block_node, kids ^ 0x3FF), (block_node, 0), (noff + rec[0] * nesize, 1)):
            v = bytearray(img)
            struct.pack_into("<H", v, node + 14, val)
            yield v


def main():
    outdir, images = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(20261204)
    n = 0
    for path in images:
        img = open(path, "rb").read()
        for v in [bytearray(img)] + list(variants(img, rng)):
            name = hashlib.sha1(bytes(v)).hexdigest()
            with open(os.path.join(outdir, name), "wb") as f:
                f.write(v)
            n += 1
    print("%d seeds in %s" % (n, outdir))


if __name__ == "__main__":
    main()
